/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bucket lock generations of kernel/bpf/hashtab.c.  Taken exactly as that
 * file's htab_lock_bucket() takes it on the same kernel, so that lockdep,
 * the per-CPU re-entrance guard and every other bucket-lock holder see the
 * module as one of their own.
 *
 * 6.1 .. 6.14: raw_spinlock_t, guarded by per-CPU map_locked counters that
 * make a BPF program interrupting a holder on the same CPU fail instead of
 * deadlocking.  The counter slot is hash & min(slots - 1, n_buckets - 1).
 *
 * A failed guard is -EBUSY inside the kernel; here it is -EAGAIN, because
 * -EBUSY already means "region differs" to our callers.
 */
#ifndef _BPFCMPDEL_COMPAT_BUCKET_LOCK_H
#define _BPFCMPDEL_COMPAT_BUCKET_LOCK_H

#include <linux/spinlock.h>
#include <linux/percpu.h>
#include <linux/minmax.h>

#define CMPDEL_BUCKET_LOCK_TYPE "raw_spinlock_t"
#define CMPDEL_BUCKET_LOCK_SIZE sizeof(raw_spinlock_t)

/* The bucket's lock is handed around as void *: its type is per generation. */
struct cmpdel_bucket_guard {
	int __percpu *map_locked;
	unsigned long flags;
};

static inline int __percpu *
cmpdel_map_locked_slot(int __percpu *const *slots, u32 nr_slots,
		       u32 n_buckets, u32 hash)
{
	return slots[hash & min(nr_slots - 1, n_buckets - 1)];
}

/*
 * htab_lock_bucket() in two steps, so that the lock itself is taken and
 * released unconditionally where sparse can pair them: first the
 * re-entrance guard, which may fail, then the lock, which cannot.
 */
static inline int cmpdel_bucket_enter(struct cmpdel_bucket_guard *g)
{
	unsigned long flags;

	preempt_disable();
	local_irq_save(flags);
	if (unlikely(__this_cpu_inc_return(*g->map_locked) != 1)) {
		__this_cpu_dec(*g->map_locked);
		local_irq_restore(flags);
		preempt_enable();
		return -EAGAIN;
	}
	g->flags = flags;
	return 0;
}

static inline void cmpdel_bucket_lock(void *lock)
{
	raw_spin_lock(lock);
}

static inline void cmpdel_bucket_unlock(void *lock)
{
	raw_spin_unlock(lock);
}

static inline void cmpdel_bucket_exit(struct cmpdel_bucket_guard *g)
{
	__this_cpu_dec(*g->map_locked);
	local_irq_restore(g->flags);
	preempt_enable();
}

#endif /* _BPFCMPDEL_COMPAT_BUCKET_LOCK_H */
