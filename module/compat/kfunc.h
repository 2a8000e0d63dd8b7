/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a kfunc's definition and registration say on each kernel
 * generation: 6.1 (handles only), 6.12 and 7.x (map arguments too).
 */
#ifndef _BPFCMPDEL_COMPAT_KFUNC_H
#define _BPFCMPDEL_COMPAT_KFUNC_H

#include <linux/btf.h>
#include <linux/btf_ids.h>

#ifdef BTF_KFUNCS_START
/*
 * 6.9+: a kfunc may take a map (an argument named *__map), which the
 * verifier accepts only as a map it vouches for; the set says it holds
 * kfuncs.  6.1's verifier takes no map a program could safely pass: there
 * the kfuncs name maps by handle alone.
 */
#define CMPDEL_KFUNC_MAP_ARGS
#define CMPDEL_KFUNCS_START	BTF_KFUNCS_START
#define CMPDEL_KFUNCS_END	BTF_KFUNCS_END
#define CMPDEL_SET8_FLAGS	BTF_SET8_KFUNCS
#else
#define CMPDEL_KFUNCS_START	BTF_SET8_START
#define CMPDEL_KFUNCS_END	BTF_SET8_END
#define CMPDEL_SET8_FLAGS	0
#endif

#if defined(KF_TRUSTED_ARGS) && defined(KF_RCU)
/*
 * 6.2 .. 6.x: pointer arguments are trusted only if the kfunc asks, and
 * ours must be: the map must be one the verifier vouches for (&map, an
 * iterator's map), never a pointer a tracing program read somewhere.
 */
#define CMPDEL_KF_FLAGS KF_TRUSTED_ARGS
#else
/*
 * 7.x: every kfunc's pointer arguments are trusted; the flag is gone.
 * 6.1: the flag means "referenced", which no program's stack or map
 * value is; its kfuncs here take no kernel object (a handle, then memory).
 */
#define CMPDEL_KF_FLAGS 0
#endif

/*
 * 6.1 has neither: a kfunc is a global the compiler must keep whole, as
 * it keeps every global (no LTO in an out-of-tree module).
 */
#ifndef __bpf_kfunc
#define __bpf_kfunc noinline
#endif
#ifndef __bpf_kfunc_start_defs
#define __bpf_kfunc_start_defs()
#define __bpf_kfunc_end_defs()
#endif

#endif /* _BPFCMPDEL_COMPAT_KFUNC_H */
