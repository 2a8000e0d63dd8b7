// SPDX-License-Identifier: GPL-2.0
/*
 * Compare-and-delete on a BPF hash table: the same steps as
 * kernel/bpf/hashtab.c:htab_map_delete_elem(), with the compare placed
 * between lookup and unlink under the bucket lock.  This is the only file
 * that touches the table's private structs, through cmpdel_layout.
 */
#include <linux/bpf.h>
#include <linux/compiler.h>
#include <linux/list_nulls.h>
#include <linux/moduleparam.h>
#include <linux/rculist_nulls.h>
#include <linux/percpu_counter.h>
#include <linux/poison.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <asm/cmpxchg.h>
#include <asm/spinlock.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "compat/bucket_lock.h"
#include "compat/fields.h"
#include "cmpdel.h"
#include "stats.h"

#define L cmpdel_layout

/*
 * Test hook: after this many more bucket-lock attempts succeed, every
 * attempt fails as the kernel's own lock may (the re-entrance guard, or
 * the resilient lock's deadlock and timeout reports), so that what each
 * request does then is tested on every kernel.  -1, the default: never.
 */
static int test_lock_fail_after = -1;
module_param(test_lock_fail_after, int, 0600);
MODULE_PARM_DESC(test_lock_fail_after,
		 "testing only: fail bucket locks after this many more succeed (-1: never)");

static bool lock_fails_for_test_count(int left)
{
	do {
		if (left < 0)
			return false;
		if (!left)
			return true;
	} while (!try_cmpxchg(&test_lock_fail_after, &left, left - 1));
	return false;
}

/* Inline, as every lock is asked: one load when no test is running. */
static inline bool lock_fails_for_test(void)
{
	int left = READ_ONCE(test_lock_fail_after);

	return unlikely(left >= 0) && lock_fails_for_test_count(left);
}

static void *field(void *base, u32 offset)
{
	return (char *)base + offset;
}

static u32 htab_u32(void *htab, u32 offset)
{
	return *(u32 *)field(htab, offset);
}

static void *htab_select_bucket(void *htab, u32 hash)
{
	void *buckets = *(void **)field(htab, L.htab_buckets);
	u32 n_buckets = htab_u32(htab, L.htab_n_buckets);

	return field(buckets, (hash & (n_buckets - 1)) * L.bucket_size);
}

static void *elem_value(void *l, u32 key_size)
{
	return field(l, L.elem_key + round_up(key_size, 8));
}

/* cmpdel_bucket_enter(), unless the test hook says the lock fails. */
static int bucket_enter(void *htab, u32 hash, void *lock,
			struct cmpdel_bucket_guard *guard)
{
	if (lock_fails_for_test())
		return -EAGAIN;
	return cmpdel_bucket_enter(htab, hash, lock, guard);
}

/*
 * memcmp() for equality, with the sizes a GC uses done in one load each:
 * x86's memcmp() is lib/string.c's loop, a call and a byte loop per
 * compare for a 4-byte key, and every element a batch or sweep frees has a
 * key and a region compared.
 */
static bool bytes_equal(const void *a, const void *b, u32 size)
{
	/* Constant-size copies: a load each, aligned or not. */
	if (size == sizeof(u32)) {
		u32 x, y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return x == y;
	}
	if (size == sizeof(u64)) {
		u64 x, y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return x == y;
	}
	return !memcmp(a, b, size);
}

/* Caller holds the bucket lock. */
static void *lookup_elem_raw(struct hlist_nulls_head *head, u32 hash,
			     const void *key, u32 key_size)
{
	struct hlist_nulls_node *n;
	void *l;

	for (n = rcu_dereference_raw(hlist_nulls_first_rcu(head));
	     !is_a_nulls(n); n = rcu_dereference_raw(hlist_nulls_next_rcu(n))) {
		l = (char *)n - L.elem_hash_node;
		if (htab_u32(l, L.elem_hash) == hash &&
		    bytes_equal(field(l, L.elem_key), key, key_size))
			return l;
	}
	return NULL;
}

static void __percpu *elem_pptr(void *l, u32 key_size)
{
	return *(void __percpu **)elem_value(l, key_size);
}

/*
 * The compare of one region.  It races, by contract, with in-place
 * writers -- programs storing through a lookup pointer, and BPF_F_LOCK
 * updates, which hold the value's spin lock alone: ioctl.h says default
 * mode may see a half-written value, and names the modes that exclude
 * those writers (F_LOCK, under which they hold the lock we hold;
 * F_TOMBSTONE, a cmpxchg).  So KCSAN is told the race is intended.
 */
static bool region_equal(const void *region, const void *expected, u32 size)
{
	/* Racing in-place writers, as documented: see above. */
	return data_race(bytes_equal(region, expected, size));
}

/*
 * Per-CPU maps: @op->expected holds the region of every possible CPU, in
 * for_each_possible_cpu() order, @op->cpu_stride bytes apart, as the lookup
 * snapshot lays them out; with BPFCMPDEL_F_CPU, that of CPU @op->cpu alone.
 */
static bool elem_region_equal(struct bpf_map *map, void *l,
			      const struct cmpdel_op *op)
{
	const void *expected = op->expected;
	void __percpu *pptr;
	int cpu;

	if (!cmpdel_map_is_percpu(map))
		return region_equal(field(elem_value(l, map->key_size), op->offset),
				    expected, op->size);

	pptr = elem_pptr(l, map->key_size);
	if (op->flags & BPFCMPDEL_F_CPU)
		return region_equal(field(per_cpu_ptr(pptr, op->cpu), op->offset),
				    expected, op->size);
	for_each_possible_cpu(cpu) {
		if (!region_equal(field(per_cpu_ptr(pptr, cpu), op->offset),
				  expected, op->size))
			return false;
		expected += op->cpu_stride;
	}
	return true;
}

/*
 * The value's bpf_spin_lock, taken as helpers.c's __bpf_spin_lock() takes
 * it: an arch spinlock word, with interrupts already off (bucket lock).
 */
static arch_spinlock_t *elem_spin_lock(struct bpf_map *map, void *l)
{
	return field(elem_value(l, map->key_size), cmpdel_spin_lock_off(map));
}

static bool elem_region_equal_locked(struct bpf_map *map, void *l,
				     const struct cmpdel_op *op)
{
	arch_spinlock_t *lock = elem_spin_lock(map, l);
	bool equal;

	arch_spin_lock(lock);
	equal = elem_region_equal(map, l, op);
	arch_spin_unlock(lock);
	return equal;
}

/* The one word a compare-and-swap acts on: this CPU's slot, or the value. */
static void *elem_word(struct bpf_map *map, void *l, const struct cmpdel_op *op)
{
	if (cmpdel_map_is_percpu(map))
		return field(per_cpu_ptr(elem_pptr(l, map->key_size), op->cpu),
			     op->offset);
	return field(elem_value(l, map->key_size), op->offset);
}

/* One atomic swap of the aligned word, @expected -> @new. */
static bool word_swap(void *word, u32 size, const void *expected, u64 new)
{
	if (size == sizeof(u64))
		return cmpxchg((u64 *)word, *(const u64 *)expected, new) ==
		       *(const u64 *)expected;
	return cmpxchg((u32 *)word, *(const u32 *)expected, (u32)new) ==
	       *(const u32 *)expected;
}

static bool elem_region_swap(struct bpf_map *map, void *l,
			     const struct cmpdel_op *op)
{
	return word_swap(elem_word(map, l, op), op->size, op->expected,
			 op->tombstone);
}

/* Whether @l may go, by the mode's rule; under the bucket lock. */
static bool elem_may_delete(struct bpf_map *map, void *l,
			    const struct cmpdel_op *op)
{
	if (op->flags & BPFCMPDEL_F_TOMBSTONE)
		return elem_region_swap(map, l, op);
	if (op->flags & BPFCMPDEL_F_LOCK)
		return elem_region_equal_locked(map, l, op);
	return elem_region_equal(map, l, op);
}

/* check_and_free_fields(): timers cancelled, kptrs released, ... */
static void htab_free_fields_all(struct bpf_map *map, void *l)
{
	void __percpu *pptr;
	int cpu;

	if (!cmpdel_map_is_percpu(map)) {
		cmpdel_free_fields(map, elem_value(l, map->key_size));
		return;
	}
	pptr = elem_pptr(l, map->key_size);
	for_each_possible_cpu(cpu)
		cmpdel_free_fields(map, per_cpu_ptr(pptr, cpu));
}

/* Most maps have no such fields: asked inline, for every element freed. */
static inline void htab_free_fields(struct bpf_map *map, void *l)
{
	if (cmpdel_map_has_fields(map))
		htab_free_fields_all(map, l);
}

/*
 * hashtab.c's private PERCPU_COUNTER_BATCH, 32 in 6.1, 6.12 and 7.3: with
 * the kernel's own batch the count drifts exactly as is_map_full() allows
 * for, and no decrement takes the counter's shared lock (a batch of 1
 * would, on every delete).
 */
#define CMPDEL_HTAB_COUNTER_BATCH 32

static void htab_dec_elem_count(void *htab)
{
	if (*(bool *)field(htab, L.htab_use_percpu_counter))
		percpu_counter_add_batch(field(htab, L.htab_pcount), -1,
					 CMPDEL_HTAB_COUNTER_BATCH);
	else
		atomic_dec(field(htab, L.htab_count));
}

/*
 * After the unlock, in the order of the kernel's own delete for the type:
 * htab_lru_push_free() for LRU maps, free_htab_elem() for the others.
 */
static void htab_free_elem(struct bpf_map *map, void *l)
{
	void *htab = map;

	if (cmpdel_map_is_lru(map)) {
		htab_free_fields(map, l);
		cmpdel_map_dec_elem_count(map);
		cmpdel_bpf_lru_push_free(field(htab, L.htab_lru),
					 field(l, L.elem_lru_node));
		return;
	}

	cmpdel_map_dec_elem_count(map);
	if (!(map->map_flags & BPF_F_NO_PREALLOC)) {
		htab_free_fields(map, l);
		cmpdel_pcpu_freelist_push(field(htab, L.htab_freelist),
					  field(l, L.elem_fnode));
		return;
	}
	htab_dec_elem_count(htab);
	htab_free_fields(map, l);
	/* Migration is off already: see cmpdel_htab_single(). */
	if (cmpdel_map_is_percpu(map))
		cmpdel_bpf_mem_cache_free(field(htab, L.htab_pcpu_ma),
					  *(void **)field(l, L.elem_ptr_to_pptr));
	cmpdel_bpf_mem_cache_free(field(htab, L.htab_ma), l);
}

/*
 * Under the bucket lock, so that a swap never writes into an element
 * already unlinked: one cmpxchg, or memcmp + memcpy under the spin lock.
 */
static bool elem_compare_swap(struct bpf_map *map, void *l,
			      const struct cmpdel_op *op)
{
	arch_spinlock_t *lock;
	u64 new = 0;
	bool equal;

	if (!(op->flags & BPFCMPDEL_F_LOCK)) {
		memcpy(&new, op->value, op->size);
		return word_swap(elem_word(map, l, op), op->size, op->expected, new);
	}
	lock = elem_spin_lock(map, l);
	arch_spin_lock(lock);
	equal = elem_region_equal(map, l, op);
	if (equal)
		memcpy(elem_word(map, l, op), op->value, op->size);
	arch_spin_unlock(lock);
	return equal;
}

/*
 * Under @key's bucket lock: find the element and apply @op -- a
 * compare-and-swap, or the mode's compare and then the unlink, leaving the
 * element in *@unlinked for the caller to free after the unlock.
 */
static int htab_locked_op(struct bpf_map *map, const void *key,
			  const struct cmpdel_op *op, bool swap, void **unlinked)
{
	void *htab = map;	/* struct bpf_map is bpf_htab's first member */
	u32 key_size = map->key_size;
	struct cmpdel_bucket_guard guard;
	void *b, *l, *lock;
	u32 hash;
	int ret;

	hash = cmpdel_htab_hash(key, key_size, htab_u32(htab, L.htab_hashrnd));
	b = htab_select_bucket(htab, hash);
	lock = field(b, L.bucket_lock);

	ret = bucket_enter(htab, hash, lock, &guard);
	if (ret)
		return ret;
	cmpdel_bucket_lock(lock, &guard);

	l = lookup_elem_raw(field(b, L.bucket_head), hash, key, key_size);
	if (!l) {
		ret = -ENOENT;
	} else if (swap) {
		ret = elem_compare_swap(map, l, op) ? 0 : -EBUSY;
	} else if (!elem_may_delete(map, l, op)) {
		ret = -EBUSY;
	} else {
		hlist_nulls_del_rcu(field(l, L.elem_hash_node));
		*unlinked = l;
	}

	cmpdel_bucket_unlock(lock);
	cmpdel_bucket_exit(lock, &guard);
	return ret;
}

static int htab_compare_delete(struct bpf_map *map, const void *key,
			       const struct cmpdel_op *op)
{
	void *l = NULL;
	int ret;

	/* A swap that changes nothing would leave a live-looking tombstone. */
	if (op->flags & BPFCMPDEL_F_TOMBSTONE &&
	    bytes_equal(op->expected, &op->tombstone, op->size))
		return -EINVAL;
	ret = htab_locked_op(map, key, op, false, &l);
	if (!ret)
		htab_free_elem(map, l);
	return ret;
}

/*
 * One element's swap or delete, in an RCU read-side section: elements
 * unlinked by others stay valid until we leave it (a sleepable program
 * holds RCU tasks trace, not RCU).
 */
static int htab_single(struct bpf_map *map, const void *key,
		       const struct cmpdel_op *op, bool swap)
{
	int ret;

	rcu_read_lock();
	ret = swap ? htab_locked_op(map, key, op, true, NULL) :
		     htab_compare_delete(map, key, op);
	rcu_read_unlock();
	return ret;
}

/*
 * From the ioctls, like the syscall path around map->ops->map_delete_elem():
 * no BPF tracing program may run on this CPU meanwhile.
 */
int cmpdel_htab_single(struct bpf_map *map, const void *key,
		       const struct cmpdel_op *op, bool swap)
{
	int ret;

	cmpdel_disable_instrumentation();
	ret = htab_single(map, key, op, swap);
	cmpdel_enable_instrumentation();
	return ret;
}

/*
 * From a BPF program (kfunc.c), as bpf_map_delete_elem() from a program:
 * the runner already keeps the program on its CPU, and the instrumentation
 * the syscall path turns off is what called us.
 */
int cmpdel_htab_prog_single(struct bpf_map *map, const void *key,
			    const struct cmpdel_op *op, bool swap)
{
	return htab_single(map, key, op, swap);
}

/* Elements unlinked per hold of one bucket's lock. */
#define SWEEP_PER_LOCK 16
/* Buckets per RCU section: the CPU is given up between sections. */
#define SWEEP_PER_SECTION 256

/*
 * What one section of the walk works with, worked out once.  Most of a
 * large map's buckets are empty or all live, and the walk over them is
 * the sweep's cost: it must not reload the layout for each bucket, as the
 * compiler would after every store through @sw (which might alias it).
 */
struct sweep_walk {
	struct bpf_map *map;
	struct cmpdel_sweep *sw;
	u8 *buckets;
	u32 n_buckets;
	u32 bucket_size;
	u32 head;	/* a bucket's chain head */
	u32 field;	/* from an element's hash node to the swept field */
	u32 scanned;	/* elements looked at, not yet added to @sw */
	/*
	 * Here rather than on the stack per bucket: kernels built to zero
	 * the stack (INIT_STACK_ALL_ZERO, as Debian's are) would clear it
	 * for every bucket.
	 */
	void *out[SWEEP_PER_LOCK];
};

static u64 sweep_field(const struct sweep_walk *w, struct hlist_nulls_node *n)
{
	void *word = field(n, w->field);

	return w->sw->size == sizeof(u64) ? READ_ONCE(*(u64 *)word) :
					    READ_ONCE(*(u32 *)word);
}

/* Whether @n goes: expired, and in tombstone mode swapped first. */
static bool sweep_take(const struct sweep_walk *w, struct hlist_nulls_node *n,
		       u64 seen)
{
	const struct cmpdel_sweep *sw = w->sw;

	if (!(sw->flags & BPFCMPDEL_F_TOMBSTONE))
		return true;
	if (word_swap(field(n, w->field), sw->size, &seen, sw->tombstone))
		return true;
	/* Refreshed since it was read: kept, as a compare that differs. */
	cmpdel_stat_add(CMPDEL_STAT_CHANGED, 1);
	return false;
}

/*
 * Under the lock of the bucket whose chain is @head: unlinks up to @max
 * expired elements into @w->out.  *@more says whether the chain may hold
 * more to take.
 */
static u32 sweep_bucket_locked(struct sweep_walk *w, struct hlist_nulls_head *head,
			       u32 max, bool *more)
{
	struct hlist_nulls_node *n, *next;
	u32 taken = 0;
	u64 seen;

	for (n = rcu_dereference_raw(hlist_nulls_first_rcu(head));
	     !is_a_nulls(n); n = next) {
		next = rcu_dereference_raw(hlist_nulls_next_rcu(n));
		w->scanned++;
		seen = sweep_field(w, n);
		if (seen >= w->sw->threshold)
			continue;
		if (taken == max) {
			*more = true;
			break;
		}
		if (!sweep_take(w, n, seen))
			continue;
		hlist_nulls_del_rcu(n);
		w->out[taken++] = (char *)n - L.elem_hash_node;
	}
	return taken;
}

/* After the unlock: copy out what went, then release it. */
static void sweep_release(struct sweep_walk *w, u32 taken)
{
	struct bpf_map *map = w->map;
	struct cmpdel_sweep *sw = w->sw;
	u32 i, d;

	for (i = 0; i < taken; i++) {
		d = sw->deleted++;
		memcpy(sw->keys + (size_t)d * map->key_size,
		       field(w->out[i], L.elem_key), map->key_size);
		if (sw->values)
			memcpy(sw->values + (size_t)d * map->value_size,
			       elem_value(w->out[i], map->key_size), map->value_size);
		htab_free_elem(map, w->out[i]);
	}
	sw->room -= taken;
}

/*
 * Under RCU, without the lock: whether bucket @idx, whose chain is @head,
 * may hold an element the sweep takes.  A chain that ends in another
 * bucket's nulls marker changed under us (an element was reused
 * elsewhere): look under the lock to be sure.  Whatever this misses was
 * inserted or refreshed after the walk passed, as the lock would see it.
 */
static bool sweep_worth_locking(struct sweep_walk *w, struct hlist_nulls_head *head,
				u32 idx)
{
	struct hlist_nulls_node *n;
	u64 threshold = w->sw->threshold;
	u32 seen = 0;

	for (n = rcu_dereference(hlist_nulls_first_rcu(head)); !is_a_nulls(n);
	     n = rcu_dereference(hlist_nulls_next_rcu(n)), seen++)
		if (sweep_field(w, n) < threshold)
			return true;
	if (get_nulls_value(n) != idx)
		return true;
	/* The locked walk counts what it looks at; this counts the rest. */
	w->scanned += seen;
	return false;
}

/* Bucket @b (number @idx), under its lock; the caller is in an RCU section. */
static int sweep_bucket(struct sweep_walk *w, void *b, u32 idx, bool *more)
{
	struct cmpdel_bucket_guard guard;
	void *lock = field(b, L.bucket_lock);
	u32 taken;
	int ret;

	ret = bucket_enter(w->map, idx, lock, &guard);
	if (ret)
		return ret;
	cmpdel_bucket_lock(lock, &guard);
	taken = sweep_bucket_locked(w, field(b, w->head),
				    min_t(u32, w->sw->room, SWEEP_PER_LOCK), more);
	cmpdel_bucket_unlock(lock);
	cmpdel_bucket_exit(lock, &guard);
	sweep_release(w, taken);
	return 0;
}

/*
 * The first bucket from @idx, below @end, with a chain: in most maps, most
 * buckets have none (there are at least as many as elements), and this is
 * where a sweep of a large map spends its time.  A head is written only
 * under its own bucket's lock, so an empty one holds its own nulls marker.
 */
static u32 sweep_skip_empty(const struct sweep_walk *w, u32 idx, u32 end)
{
	u8 *head = w->buckets + (size_t)idx * w->bucket_size + w->head;

	for (; idx < end; idx++, head += w->bucket_size)
		if (!is_a_nulls(READ_ONCE(*(struct hlist_nulls_node **)head)))
			break;
	return idx;
}

/*
 * Up to SWEEP_PER_SECTION buckets from @w->sw->cursor, one bucket lock
 * held at a time and never across buckets.  *@progress is set once a
 * bucket was done; -EAGAIN when one could not be locked.
 */
static int sweep_section(struct sweep_walk *w, u32 n_buckets, bool *progress)
{
	struct cmpdel_sweep *sw = w->sw;
	u32 start = sw->cursor, idx = start;
	u32 end = min(start + min_t(u32, sw->budget, SWEEP_PER_SECTION), n_buckets);
	bool more, locked = false;
	void *b;
	int ret = 0;

	rcu_read_lock();
	while (sw->room) {
		idx = sweep_skip_empty(w, idx, end);
		if (idx == end)
			break;
		more = false;
		b = w->buckets + (size_t)idx * w->bucket_size;
		if (sweep_worth_locking(w, field(b, w->head), idx)) {
			ret = sweep_bucket(w, b, idx, &more);
			if (ret)
				break;
			locked = true;
		}
		/* A bucket with more to take than fit is visited again. */
		if (!more)
			idx++;
	}
	rcu_read_unlock();
	*progress |= locked || idx != start;
	sw->budget -= idx - start;
	sw->cursor = idx;
	sw->scanned += w->scanned;
	w->scanned = 0;
	return ret;
}

/*
 * F_SWEEP_ELEMS: the slots of the element array (prealloc_init()): a hash
 * map keeps one extra element per possible CPU there for its updates.
 */
static u32 sweep_nr_elems(const struct bpf_map *map)
{
	if (cmpdel_map_is_lru(map))
		return map->max_entries;
	return map->max_entries + num_possible_cpus();
}

/*
 * F_SWEEP_ELEMS, under RCU, without the lock: whether @node may be in the
 * chain of bucket @idx, whose head is @head.  A free slot is in no chain,
 * and a sparsely filled map's slots are mostly free, some with a stale
 * field below any threshold: this spares them the lock.  A walk that ends
 * in another bucket's nulls marker met an element moved meanwhile: look
 * under the lock to be sure.  One linked after the walk passed is one
 * inserted after the cursor passed, which the sweep may miss.
 */
static bool sweep_elem_maybe_linked(struct hlist_nulls_head *head,
				    struct hlist_nulls_node *node, u32 idx)
{
	struct hlist_nulls_node *n;

	for (n = rcu_dereference(hlist_nulls_first_rcu(head)); !is_a_nulls(n);
	     n = rcu_dereference(hlist_nulls_next_rcu(n)))
		if (n == node)
			return true;
	return get_nulls_value(n) != idx;
}

/*
 * F_SWEEP_ELEMS: whether slot @l of the array at @elems (@span bytes) is
 * in no chain for sure, by its own node alone, before the lookups and
 * stack set-up of sweep_elem().  An unlinked node's pprev is
 * LIST_POISON2, or NULL if it never was linked (the array starts zeroed,
 * and such a slot's field reads 0, below any threshold).  A preallocated
 * hash keeps its free list in that word instead (htab_elem's fnode
 * overlays pprev): a free slot's link is NULL or points at another
 * slot's fnode, where a linked node's pprev points at a bucket head or
 * at another slot's hash node, never there.  So a sparsely filled map's
 * free slots, whatever stale field they hold, cost no read of a chain.
 */
static bool sweep_elem_unlinked(void *l, const u8 *elems, size_t span,
				u32 elem_size)
{
	struct hlist_nulls_node *node = field(l, L.elem_hash_node);
	struct hlist_nulls_node **pprev;
	size_t off;

	/* A hint: the chain decides under the lock; linkers race this. */
	pprev = data_race(READ_ONCE(node->pprev));
	if (!pprev || pprev == LIST_POISON2)
		return true;
	off = (const u8 *)pprev - elems;
	return off < span && off % elem_size == L.elem_fnode;
}

/*
 * F_SWEEP_ELEMS: element @l, whose field read below the threshold without
 * the lock, is looked for in the chain of the bucket its hash names, under
 * that bucket's lock.  Linked, its hash cannot change and it cannot leave
 * while the lock is held, so it is judged there as the bucket walk judges
 * it; not linked, it is free (or in another bucket's chain under a hash
 * rewritten since, where the walk is not looking) and is skipped.
 */
static int sweep_elem(struct sweep_walk *w, void *l)
{
	struct hlist_nulls_node *node = field(l, L.elem_hash_node), *n;
	u32 hash = READ_ONCE(*(u32 *)field(l, L.elem_hash));
	u32 idx = hash & (w->n_buckets - 1);
	void *b = w->buckets + (size_t)idx * w->bucket_size;
	struct hlist_nulls_head *head = field(b, w->head);
	void *lock = field(b, L.bucket_lock);
	struct cmpdel_bucket_guard guard;
	u32 taken = 0;
	u64 seen;
	int ret;

	if (!sweep_elem_maybe_linked(head, node, idx))
		return 0;
	ret = bucket_enter(w->map, hash, lock, &guard);
	if (ret)
		return ret;
	cmpdel_bucket_lock(lock, &guard);
	for (n = rcu_dereference_raw(hlist_nulls_first_rcu(head));
	     !is_a_nulls(n) && n != node; n = rcu_dereference_raw(hlist_nulls_next_rcu(n)))
		;
	if (n == node) {
		seen = sweep_field(w, n);
		if (seen < w->sw->threshold && sweep_take(w, n, seen)) {
			hlist_nulls_del_rcu(n);
			w->out[taken++] = l;
		}
	}
	cmpdel_bucket_unlock(lock);
	cmpdel_bucket_exit(lock, &guard);
	sweep_release(w, taken);
	return 0;
}

/*
 * F_SWEEP_ELEMS: the first slot from @idx to @end whose field reads below
 * @threshold, or @end.  Nine in ten slots of a GC's map end here, so the
 * loop keeps all it needs in registers: nothing it reads can change under
 * it but the fields.  Each field is a hint, confirmed under the lock: a
 * free slot holds stale bytes, and one being reused is written as it is
 * read (an intended race, data_race() for KCSAN).
 */
static u32 sweep_elems_scan(const u8 *field0, u32 elem_size, bool wide,
			    u64 threshold, u32 idx, u32 end)
{
	const u8 *word = field0 + (size_t)idx * elem_size;

	if (wide) {
		for (; idx < end; idx++, word += elem_size)
			/* A hint, racing the field's writers: see above. */
			if (data_race(READ_ONCE(*(const u64 *)word)) < threshold)
				break;
		return idx;
	}
	for (; idx < end; idx++, word += elem_size)
		/* A hint, racing the field's writers: see above. */
		if (data_race(READ_ONCE(*(const u32 *)word)) < threshold)
			break;
	return idx;
}

/*
 * F_SWEEP_ELEMS: up to SWEEP_PER_SECTION * 4 slots from @w->sw->cursor, in
 * memory order; the field of most is read once, without a lock, and only
 * those below the threshold cost a bucket lock.  *@progress and -EAGAIN
 * as sweep_section().
 */
static int sweep_elems_section(struct sweep_walk *w, u32 nr, bool *progress)
{
	struct cmpdel_sweep *sw = w->sw;
	u8 *elems = *(u8 **)field(w->map, L.htab_elems);
	u32 elem_size = htab_u32(w->map, L.htab_elem_size);
	const u8 *field0 = elems + L.elem_hash_node + w->field;
	size_t span = (size_t)nr * elem_size;
	bool wide = sw->size == sizeof(u64);
	u64 threshold = sw->threshold;
	u32 start = sw->cursor, idx = start;
	u32 end = min(start + min_t(u32, sw->budget, 4 * SWEEP_PER_SECTION), nr);
	void *l;
	int ret = 0;

	rcu_read_lock();
	while (sw->room) {
		idx = sweep_elems_scan(field0, elem_size, wide, threshold, idx, end);
		if (idx == end)
			break;
		l = elems + (size_t)idx * elem_size;
		ret = sweep_elem_unlinked(l, elems, span, elem_size) ? 0 :
		      sweep_elem(w, l);
		if (ret)
			break;
		idx++;
	}
	rcu_read_unlock();
	*progress |= idx != start;
	sw->budget -= idx - start;
	sw->scanned += idx - start;
	sw->cursor = idx;
	return ret;
}

/*
 * Bucket by bucket from @sw->cursor (or element by element,
 * F_SWEEP_ELEMS), section by section.  -EAGAIN only if not even the first
 * bucket could be locked; otherwise the progress made stands.  From the
 * ioctl, the CPU is given up between sections and the instrumentation
 * that could re-enter the bucket lock is off; from a program (@from_prog)
 * neither, as for cmpdel_htab_prog_single(), and the caller bounds
 * @sw->budget to what a program may hold its CPU for.
 */
static int sweep_walk_all(struct bpf_map *map, struct cmpdel_sweep *sw,
			  bool from_prog)
{
	bool elems = sw->flags & BPFCMPDEL_F_SWEEP_ELEMS;
	u32 n = elems ? sweep_nr_elems(map) : htab_u32(map, L.htab_n_buckets);
	int (*section)(struct sweep_walk *w, u32 n, bool *progress) =
		elems ? sweep_elems_section : sweep_section;
	struct sweep_walk w = {
		.map = map, .sw = sw,
		.buckets = *(u8 **)field(map, L.htab_buckets),
		.n_buckets = htab_u32(map, L.htab_n_buckets),
		.bucket_size = L.bucket_size, .head = L.bucket_head,
		.field = L.elem_key + round_up(map->key_size, 8) + sw->offset -
			 L.elem_hash_node,
	};
	bool progress = false;
	int ret;

	while (sw->budget && sw->room && sw->cursor < n) {
		if (from_prog) {
			ret = section(&w, n, &progress);
		} else {
			cmpdel_disable_instrumentation();
			ret = section(&w, n, &progress);
			cmpdel_enable_instrumentation();
		}
		if (ret)
			return progress ? 0 : ret;
		if (!from_prog)
			cond_resched();
	}
	if (sw->cursor >= n)
		sw->cursor = BPFCMPDEL_SWEEP_END;
	return 0;
}

int cmpdel_htab_sweep(struct bpf_map *map, struct cmpdel_sweep *sw)
{
	return sweep_walk_all(map, sw, false);
}

int cmpdel_htab_prog_sweep(struct bpf_map *map, struct cmpdel_sweep *sw)
{
	return sweep_walk_all(map, sw, true);
}

/*
 * @n requests in one such section rather than one each (the bucket lock
 * is still taken per element): key i at @keys + i * key_size, its expected
 * bytes at @expected + i * @stride, its result in @results[i].
 */
void cmpdel_htab_compare_delete_batch(struct bpf_map *map, const u8 *keys,
				      const u8 *expected, u32 stride, u32 n,
				      struct cmpdel_op *op, s32 *results)
{
	u32 i;

	cmpdel_disable_instrumentation();
	rcu_read_lock();
	for (i = 0; i < n; i++) {
		op->expected = expected + (size_t)i * stride;
		results[i] = htab_compare_delete(map, keys + (size_t)i * map->key_size, op);
	}
	rcu_read_unlock();
	cmpdel_enable_instrumentation();
}
