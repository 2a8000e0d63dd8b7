/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a kfunc's registration says on each kernel generation that has
 * them here (6.12 and 7.x: the ones whose headers let Kbuild give the
 * module BTF, see Kbuild).
 */
#ifndef _BPFCMPDEL_COMPAT_KFUNC_H
#define _BPFCMPDEL_COMPAT_KFUNC_H

#include <linux/btf.h>

#ifdef KF_TRUSTED_ARGS
/*
 * 6.2 .. 6.x: pointer arguments are trusted only if the kfunc asks, and
 * ours must be: the map must be one the verifier vouches for (&map, an
 * iterator's map), never a pointer a tracing program read somewhere.
 */
#define CMPDEL_KF_FLAGS KF_TRUSTED_ARGS
#else
/* 7.x: every kfunc's pointer arguments are trusted; the flag is gone. */
#define CMPDEL_KF_FLAGS 0
#endif

#endif /* _BPFCMPDEL_COMPAT_KFUNC_H */
