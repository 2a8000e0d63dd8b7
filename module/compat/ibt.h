/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Calling kernel functions that were never meant to be called indirectly.
 *
 * With CONFIG_X86_KERNEL_IBT, an indirect call must land on ENDBR64 or the
 * CPU raises #CP.  Functions the kernel never takes the address of have no
 * ENDBR, or have it overwritten at boot ("sealed").  The module reaches its
 * internal targets only through pointers, so for each target it checks the
 * first instruction at load and, where no live ENDBR64 is there, makes the
 * call inside a window with ENDBR tracking off on this CPU -- what the
 * kernel's own ibt_save()/ibt_restore() do around EFI runtime calls.  Like
 * that window it runs with preemption off, so the MSR is restored on the
 * CPU that changed it; interrupts stay on, because some targets wait for
 * work on other CPUs (a running timer callback) that could in turn wait
 * for this one.  An interrupt taken inside the window runs without ENDBR
 * tracking: weaker protection for a few instructions, never a fault.
 * Nothing that may sleep is called through it.
 */
#ifndef _BPFCMPDEL_COMPAT_IBT_H
#define _BPFCMPDEL_COMPAT_IBT_H

#include <linux/types.h>
#include <linux/preempt.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>

/*
 * kCFI (clang) checks a hash of the callee's prototype before each indirect
 * call; the module calls through pointers whose types only approximate the
 * targets' (void * for kernel-private structs), so every call would trap.
 * Debian builds its kernels with gcc and without kCFI.
 */
#if defined(CONFIG_CFI_CLANG) || defined(CONFIG_CFI)
#error "kernels built with kCFI are not supported: calls to resolved symbols would trap"
#endif

/* 6.16 renamed the 64-bit MSR accessors. */
#ifndef CMPDEL_HAVE_RDMSRQ
#define rdmsrq rdmsrl
#define wrmsrq wrmsrl
#endif

/* f3 0f 1e fa, read as a little-endian u32 */
#define CMPDEL_ENDBR64 0xfa1e0ff3U

/* Targets never go through the window unless the CPU enforces ENDBR. */
#if defined(CONFIG_X86_KERNEL_IBT) && defined(MSR_IA32_S_CET)
#define CMPDEL_IBT_POSSIBLE 1
#else
#define CMPDEL_IBT_POSSIBLE 0
#endif

struct cmpdel_ibt_window {
	u64 s_cet;
	bool open;
};

static inline bool cmpdel_has_endbr(const void *addr)
{
	u32 insn;

	if (copy_from_kernel_nofault(&insn, addr, sizeof(insn)))
		return false;
	return insn == CMPDEL_ENDBR64;
}

static inline bool cmpdel_ibt_enforced(void)
{
#if CMPDEL_IBT_POSSIBLE
	return cpu_feature_enabled(X86_FEATURE_IBT);
#else
	return false;
#endif
}

static inline void cmpdel_ibt_window_open(struct cmpdel_ibt_window *w,
					  bool target_has_endbr)
{
	w->open = false;
#if CMPDEL_IBT_POSSIBLE
	if (target_has_endbr || !cmpdel_ibt_enforced())
		return;
	preempt_disable();
	rdmsrq(MSR_IA32_S_CET, w->s_cet);
	wrmsrq(MSR_IA32_S_CET, w->s_cet & ~CET_ENDBR_EN);
	w->open = true;
#endif
}

static inline void cmpdel_ibt_window_close(struct cmpdel_ibt_window *w)
{
#if CMPDEL_IBT_POSSIBLE
	if (!w->open)
		return;
	wrmsrq(MSR_IA32_S_CET, w->s_cet);
	preempt_enable();
#endif
}

#endif /* _BPFCMPDEL_COMPAT_IBT_H */
