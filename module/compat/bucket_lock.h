/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bucket lock generations of kernel/bpf/hashtab.c, each taken exactly as
 * that kernel's htab_lock_bucket() takes it, so that lockdep, the kernel's
 * re-entrance and deadlock detection, and every other bucket-lock holder
 * see the module as one of their own.
 *
 * Four steps, so that whatever can fail happens first and the part sparse
 * can track is taken and released unconditionally:
 *   cmpdel_bucket_enter()   may fail: nothing is held then
 *   cmpdel_bucket_lock()    cannot fail
 *   cmpdel_bucket_unlock()
 *   cmpdel_bucket_exit()    undoes enter
 *
 * A failure is -EAGAIN to our callers whatever the kernel calls it, since
 * -EBUSY already means "region differs": nothing was changed, retry.
 */
#ifndef _BPFCMPDEL_COMPAT_BUCKET_LOCK_H
#define _BPFCMPDEL_COMPAT_BUCKET_LOCK_H

#include <linux/minmax.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>

#include "../cmpdel.h"

#ifdef CMPDEL_HAVE_RQSPINLOCK
/*
 * 6.15+: rqspinlock_t, the resilient queued spinlock.  Acquisition records
 * the lock in the per-CPU rqspinlock_held_locks table (AA/ABBA detection)
 * and fails with -EDEADLK or -ETIMEDOUT instead of hanging; the header's
 * own raw_res_spin_lock_irqsave() does that bookkeeping for us.
 */
#include <asm/rqspinlock.h>

#define CMPDEL_BUCKET_LOCK_TYPE "rqspinlock_t"
#define CMPDEL_BUCKET_LOCK_SIZE sizeof(rqspinlock_t)

struct cmpdel_bucket_guard {
	unsigned long flags;
};

static __always_inline int cmpdel_bucket_enter(void *htab, u32 hash, void *lock,
					       struct cmpdel_bucket_guard *g)
{
	unsigned long flags;

	if (raw_res_spin_lock_irqsave((rqspinlock_t *)lock, flags))
		return -EAGAIN;
	g->flags = flags;
	return 0;
}

static inline void cmpdel_bucket_lock(void *lock, struct cmpdel_bucket_guard *g)
{
}

static inline void cmpdel_bucket_unlock(void *lock)
{
}

static inline void cmpdel_bucket_exit(void *lock, struct cmpdel_bucket_guard *g)
{
	raw_res_spin_unlock_irqrestore((rqspinlock_t *)lock, g->flags);
}

#else /* !CMPDEL_HAVE_RQSPINLOCK */
/*
 * 6.1 .. 6.14: raw_spinlock_t, guarded by per-CPU map_locked counters
 * that make a BPF program interrupting a holder on the same CPU fail
 * instead of deadlocking.  The counter slot is
 * hash & min(slots - 1, n_buckets - 1).
 *
 * The counters do not see another map's lock: a tracing program running
 * inside map A's bucket lock and calling a kfunc on map B, while another
 * CPU does the converse, would spin forever on each other's lock (ABBA),
 * where rqspinlock_t gives up.  Every bucket-lock holder runs with
 * interrupts off, so a caller that arrives with them off may hold one:
 * it only tries the lock, and a lock not free at once is -EAGAIN.
 * Callers with interrupts on (the ioctls, XDP, tc, timers, iterators)
 * hold none, and wait for it as hashtab.c does.
 */
#define CMPDEL_BUCKET_MAP_LOCKED 1
#define CMPDEL_BUCKET_LOCK_TYPE "raw_spinlock_t"
#define CMPDEL_BUCKET_LOCK_SIZE sizeof(raw_spinlock_t)

struct cmpdel_bucket_guard {
	int __percpu *map_locked;
	unsigned long flags;
	bool held;		/* taken by enter's trylock */
};

static inline int __percpu *cmpdel_map_locked_slot(void *htab, u32 hash)
{
	int __percpu **slots = (void *)((char *)htab + cmpdel_layout.htab_map_locked);
	u32 n_buckets = *(u32 *)((char *)htab + cmpdel_layout.htab_n_buckets);

	return slots[hash & min(cmpdel_layout.nr_map_locked - 1, n_buckets - 1)];
}

static __always_inline int cmpdel_bucket_enter(void *htab, u32 hash, void *lock,
					       struct cmpdel_bucket_guard *g)
{
	unsigned long flags;

	g->map_locked = cmpdel_map_locked_slot(htab, hash);
	preempt_disable();
	local_irq_save(flags);
	if (unlikely(__this_cpu_inc_return(*g->map_locked) != 1))
		goto fail;
	g->held = irqs_disabled_flags(flags);
	if (g->held) {
		if (!raw_spin_trylock(lock))
			goto fail;
		/* Held; sparse counts it where cmpdel_bucket_lock() is. */
		__release(lock);
	}
	g->flags = flags;
	return 0;

fail:
	__this_cpu_dec(*g->map_locked);
	local_irq_restore(flags);
	preempt_enable();
	return -EAGAIN;
}

static inline void cmpdel_bucket_lock(void *lock, struct cmpdel_bucket_guard *g)
{
	if (g->held)
		__acquire(lock);
	else
		raw_spin_lock(lock);
}

static inline void cmpdel_bucket_unlock(void *lock)
{
	raw_spin_unlock(lock);
}

static inline void cmpdel_bucket_exit(void *lock, struct cmpdel_bucket_guard *g)
{
	__this_cpu_dec(*g->map_locked);
	local_irq_restore(g->flags);
	preempt_enable();
}

#endif /* CMPDEL_HAVE_RQSPINLOCK */

#endif /* _BPFCMPDEL_COMPAT_BUCKET_LOCK_H */
