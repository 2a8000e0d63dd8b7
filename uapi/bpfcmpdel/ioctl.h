/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bpfcmpdel: conditional delete for BPF hash maps, through /dev/bpfcmpdel.
 *
 * BPFCMPDEL_IOC_DELETE deletes the element stored under @key in the BPF
 * hash map @map_fd only if the @compare_size bytes at @compare_offset of
 * its value equal the expected bytes.  Lookup, compare and unlink run
 * under the map's bucket lock.  BPFCMPDEL_IOC_DELETE_BATCH does the same
 * for an array of keys, BPFCMPDEL_IOC_SWEEP decides and deletes under each
 * bucket's lock with no snapshot at all, and BPFCMPDEL_IOC_UPDATE is the
 * matching compare-and-swap of a region.  What a delete excludes depends
 * on the mode:
 *
 *   default      Atomic against every bucket-lock holder: syscall and
 *                BPF-helper updates that replace the element, deletes,
 *                LRU eviction, batch operations, other requests here.
 *                NOT against in-place writers, which take no bucket
 *                lock: BPF programs writing through a pointer from
 *                bpf_map_lookup_elem(), and BPF_F_LOCK updates (syscall
 *                or helper), which copy into the existing element under
 *                the value's bpf_spin_lock alone.  Such a write can land
 *                between the compare and the unlink (and is lost), or
 *                half-way through the compare (which then sees a torn
 *                value).
 *   F_LOCK       As default, and the value's bpf_spin_lock is held
 *                around the compare, as hashtab.c itself nests it inside
 *                the bucket lock: the compare sees a whole value, never
 *                one half-written by a spin-lock writer.  The spin lock is
 *                released after the compare, before the unlink.  A writer
 *                that takes it after the compare writes into an element
 *                that is about to be, or already is, unlinked, and its
 *                write is lost (a BPF_F_LOCK update returns 0 in that
 *                case).  Lock mode makes the compare consistent; only
 *                F_TOMBSTONE makes a refresh impossible to lose.
 *   F_TOMBSTONE  The region (4 or 8 bytes, naturally aligned) is swapped
 *                from the expected value to @tombstone with one atomic
 *                compare-and-exchange under the bucket lock, and the
 *                element is unlinked in the same critical section only if
 *                the swap succeeded.  A writer that refreshes the region
 *                with an atomic compare-and-exchange of its own and
 *                treats @tombstone as "gone" never loses a refresh: the
 *                two atomic operations on one word are totally ordered.
 *                Not for per-CPU maps (no atomic swap of every CPU's
 *                slot at once): -EINVAL.
 *
 * BPFCMPDEL_IOC_UPDATE writes @compare_size new bytes from @value over the
 * region if it still equals the expected bytes: with one cmpxchg for an
 * aligned 4- or 8-byte region, or under the value's bpf_spin_lock with
 * F_LOCK for any region.  A larger or unaligned region without F_LOCK is
 * refused (-EINVAL): a lockless reader must never see it half-written.
 * Per-CPU maps: one CPU's slot, with F_CPU.  0 means swapped; the other
 * results are the delete's.
 *
 * Results (the one list of them; the library and README point here):
 *   0            deleted
 *   -ENOENT      no element under @key
 *   -EBUSY       the region differs from the expected bytes: nothing
 *                was changed
 *   -EAGAIN      the bucket lock was not taken, nothing changed; retry
 *                (the per-CPU re-entrance guard on 6.1-6.14, or the
 *                resilient lock's deadlock or timeout report on 6.15+)
 *   -EOPNOTSUPP  the map is not a hash map this module serves
 *   -EINVAL      bad request: unknown or conflicting flags, nonzero
 *                reserved fields, compare_size 0, a region outside the
 *                value or overlapping a BTF-managed field (spin lock,
 *                timer, kptr, ...), a per-CPU map without F_SNAPSHOT or
 *                F_CPU, F_CPU on another map or naming no possible CPU,
 *                F_LOCK on a value without a bpf_spin_lock, F_TOMBSTONE
 *                on a per-CPU map or a region that is not an aligned 4 or
 *                8 bytes (or a tombstone wider than it, or equal to the
 *                expected value), @size below BPFCMPDEL_REQ_SIZE_VER0, an
 *                fd that is not a BPF map
 *   -EPERM       the map fd lacks read or write permission (every
 *                request compares or returns contents, and deletes or
 *                writes), or the map is frozen; or a security module
 *                denied the bpf() command the request stands for, asked
 *                through the same security_bpf() hook with that command's
 *                attr: BPF_MAP_DELETE_ELEM (map_fd, key) for a delete,
 *                BPF_MAP_UPDATE_ELEM (map_fd, key, value = the new bytes,
 *                flags = BPF_EXIST, | BPF_F_LOCK with F_LOCK) for a
 *                compare-and-swap, BPF_MAP_DELETE_BATCH (batch.map_fd,
 *                keys, count) for a batch, BPF_MAP_LOOKUP_AND_DELETE_BATCH
 *                (batch.map_fd, keys, values, count = @max_out) for a
 *                sweep
 *   -EBADF       @map_fd is not an open fd
 *   -EFAULT      the request, key or expected bytes are not readable,
 *                or an output (the request's own out fields, @results,
 *                @keys, @values) not writable: see each request for what
 *                was done then
 *   -E2BIG       @size above PAGE_SIZE, or above the struct the module
 *                knows with a nonzero tail; a batch or sweep beyond the
 *                module's per-call bounds
 *   -ENOTTY      unknown ioctl command
 *   -ENOSPC      BPFCMPDEL_IOC_HANDLE_NEW: every handle is taken
 * No request is ever turned into an unconditional delete.
 */
#ifndef _UAPI_BPFCMPDEL_IOCTL_H
#define _UAPI_BPFCMPDEL_IOCTL_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define BPFCMPDEL_DEVICE	"/dev/bpfcmpdel"

/*
 * Extensible request: @size is sizeof() as the caller knows it.  Shorter
 * structs (down to BPFCMPDEL_REQ_SIZE_VER0) are zero-extended; longer
 * ones must have a zero tail beyond what the module knows, or the call
 * fails with -E2BIG.
 */
struct bpfcmpdel_req {
	__u32 size;
	__u32 map_fd;
	__u64 flags;		/* BPFCMPDEL_F_* */
	__u64 key;		/* user pointer to map->key_size bytes */
	__u64 expected;		/* user pointer, see BPFCMPDEL_F_SNAPSHOT */
	__u32 compare_offset;	/* byte offset into the value */
	__u32 compare_size;	/* > 0; offset + size <= value_size */
	__u32 cpu;		/* BPFCMPDEL_F_CPU: the CPU compared; else 0 */
	__u32 reserved;		/* must be 0 */
	__u64 tombstone;	/* BPFCMPDEL_F_TOMBSTONE: see above; else 0 */
	__u64 value;		/* IOC_UPDATE: the new bytes; IOC_DELETE: 0 */
};

/*
 * Without this flag @expected points to the @compare_size bytes expected at
 * @compare_offset.  With it, @expected points to a whole value exactly as
 * BPF_MAP_LOOKUP_ELEM returned it, and the expected bytes are read from it
 * at @compare_offset: a GC passes its lookup snapshot as is.
 *
 * Per-CPU maps (PERCPU_HASH, LRU_PERCPU_HASH) need this flag or F_CPU:
 * their snapshot holds one slot of round_up(value_size, 8) bytes per
 * possible CPU, and the element is deleted only if the region is
 * unchanged on every CPU.
 */
#define BPFCMPDEL_F_SNAPSHOT	_BITULL(0)
/* Hold the value's bpf_spin_lock around the compare. */
#define BPFCMPDEL_F_LOCK	_BITULL(1)
/* Swap the region to @tombstone, then unlink: see above. */
#define BPFCMPDEL_F_TOMBSTONE	_BITULL(2)
/*
 * Per-CPU maps: compare CPU @cpu's slot alone, as a single-CPU lookup
 * (BPF_F_CPU on 7.x) returns it; @expected is one value (F_SNAPSHOT) or
 * the bare region.  The element, every CPU's slot, is still deleted.
 */
#define BPFCMPDEL_F_CPU		_BITULL(3)
/* Sweep: copy each deleted element's value out too. */
#define BPFCMPDEL_F_SWEEP_VALUES	_BITULL(4)
/*
 * Sweep: walk a preallocated map's element array in memory order, not its
 * buckets; @cursor and @budget count elements (see BPFCMPDEL_IOC_SWEEP).
 */
#define BPFCMPDEL_F_SWEEP_ELEMS	_BITULL(5)
#define BPFCMPDEL_F_ALL		(BPFCMPDEL_F_SNAPSHOT | BPFCMPDEL_F_LOCK | \
				 BPFCMPDEL_F_TOMBSTONE | BPFCMPDEL_F_CPU)
#define BPFCMPDEL_F_SWEEP_ALL	(BPFCMPDEL_F_TOMBSTONE | BPFCMPDEL_F_SWEEP_VALUES | \
				 BPFCMPDEL_F_SWEEP_ELEMS)

#define BPFCMPDEL_REQ_SIZE_VER0	40	/* up to compare_size */

/*
 * bpfcmpdel_delete() and bpfcmpdel_update(), the kfuncs
 * (bpfcmpdel/kfuncs.bpf.h): the same two commands called from a BPF
 * program, with the same modes, checks and results, and the same lock
 * taken as bpf_map_delete_elem() takes on that kernel.  The map, the key
 * and the request are the kfunc's arguments; the request is this header
 * (the fields of struct bpfcmpdel_req that are neither the map nor a
 * pointer) followed by the bytes themselves:
 *
 *   bpfcmpdel_delete()  the expected bytes: @compare_size of them, or
 *                       with F_SNAPSHOT a whole value as a lookup returns
 *                       it (per-CPU maps: one round_up(value_size, 8)
 *                       slot per possible CPU; with F_CPU, one value)
 *   bpfcmpdel_update()  @compare_size expected bytes, then as many new ones
 *
 * The kfunc's @req__sz covers the header and those bytes; whatever follows
 * them (a struct's padding) must be zero.  Differences from the ioctls,
 * because a program is not a file descriptor's holder: no security hook
 * runs and a frozen map is not refused (programs write frozen maps), but
 * a map the program may not write (BPF_F_RDONLY_PROG) is refused with
 * -EPERM, as the verifier refuses bpf_map_delete_elem() on it.
 */
struct bpfcmpdel_kreq {
	__u64 flags;		/* BPFCMPDEL_F_*, as struct bpfcmpdel_req */
	__u32 compare_offset;
	__u32 compare_size;
	__u32 cpu;
	__u32 reserved;		/* must be 0 */
	__u64 tombstone;
};

/*
 * BPFCMPDEL_IOC_DELETE_BATCH: @count independent compare-and-deletes, each
 * as BPFCMPDEL_IOC_DELETE with the same flags, region, @cpu and @tombstone
 * (a GC judges one field, so one region for the batch keeps the arrays
 * plain and the checks done once).  @keys holds @count keys; @expected
 * holds @count entries of @compare_size bytes, or with F_SNAPSHOT of one
 * lookup snapshot each (value_size bytes; per-CPU maps: one
 * round_up(value_size, 8) slot per possible CPU; with F_CPU, one value).
 * @results receives one __s32 per element: 0 or the delete's negative
 * errno.  A missing key never stops the batch.  At most
 * BPFCMPDEL_BATCH_MAX elements per call (-E2BIG beyond).
 *
 * The elements go in chunks.  Before a chunk deletes anything its keys
 * and expected bytes are read and its part of @results is written (each
 * -EFAULT), and @count is proven writable before the first: an unreadable
 * or unwritable buffer fails the call with -EFAULT, and no element of that
 * chunk or after it was touched.  On return @count is the number of
 * elements processed, whose results are in @results, also when the call
 * failed part-way.  Only another thread unmapping or write-protecting
 * @results (or the request) during the call can leave a processed chunk's
 * results unwritten: the call then fails with -EFAULT, @count still counts
 * that chunk, and each result that did not arrive reads -EFAULT -- that
 * element may have been deleted, but no element reads 0 that was not.
 */
struct bpfcmpdel_batch_req {
	__u32 size;
	__u32 map_fd;
	__u64 flags;		/* as for BPFCMPDEL_IOC_DELETE */
	__u64 keys;		/* user pointer */
	__u64 expected;		/* user pointer */
	__u64 results;		/* user pointer to @count __s32, written */
	__u32 count;		/* in: elements; out: elements processed */
	__u32 compare_offset;
	__u32 compare_size;
	__u32 cpu;
	__u64 tombstone;
};

#define BPFCMPDEL_BATCH_SIZE_VER0	64
#define BPFCMPDEL_BATCH_MAX		_BITUL(20)

/*
 * BPFCMPDEL_IOC_SWEEP: walks buckets from @cursor and, under each bucket's
 * lock, deletes every element whose unsigned native-endian @field_size (4
 * or 8) byte field at @field_offset (naturally aligned) is below
 * @threshold.  With F_TOMBSTONE the field is first swapped from the value
 * just seen to @tombstone with one cmpxchg, and the element goes only if
 * that succeeded, in the same critical section (the tombstone protocol,
 * with no snapshot at all).  Deleted keys are copied to @keys, and with
 * BPFCMPDEL_F_SWEEP_VALUES their values to @values, up to @max_out; the
 * walk stops when @max_out elements went, @budget buckets were visited
 * (0: BPFCMPDEL_SWEEP_BUDGET; at most BPFCMPDEL_SWEEP_BUDGET_MAX), or the
 * map ended, and @cursor says where to go on (BPFCMPDEL_SWEEP_END: done).
 * One bucket's chain is the most any lock is held for; the walk sets no
 * LRU reference bits.  An element inserted into a bucket already passed is
 * not seen by this walk; one inserted ahead of the cursor may be.
 * Per-CPU maps and values with BTF-managed fields under F_SWEEP_VALUES are
 * refused (-EINVAL).
 *
 * With BPFCMPDEL_F_SWEEP_ELEMS the walk goes through a preallocated map's
 * element array in memory order instead (hash maps without
 * BPF_F_NO_PREALLOC, which hold max_entries + one per possible CPU
 * elements, and LRU maps, max_entries; any other map: -EINVAL): the
 * buckets of a large map are visited in an order that reads each element
 * at a random address, the array in one that reads them in turn.  An
 * element whose field is below @threshold when read without a lock is
 * looked for, by address, in the chain of the bucket its stored hash
 * names, under that bucket's lock: there, it is judged and deleted as
 * above; not there, it is free and skipped.  @cursor and @budget then
 * count elements (array slots, free ones too, as does @nr_scanned), and
 * a cursor from one kind of walk means nothing to the other.  What
 * changes during the walk: an element freed and reused for another key
 * after the cursor passed it is not seen; one reused ahead of it may be.
 *
 * Nothing deleted goes unreported.  The walk goes in rounds; before a
 * round deletes anything, the part of @keys (and @values) it may fill is
 * written (zeroed), as are the request's out fields before the first, and
 * every key a round deleted is in @keys when it ends.  A call that deleted
 * something returns 0, whatever stopped it (an output not writable, a
 * bucket lock not taken): @nr_deleted elements went, their keys are in
 * @keys, and @cursor says where to go on.  A call that returns an error
 * deleted nothing (@nr_deleted is 0), with one exception: another thread
 * unmapping or write-protecting @keys, @values or the request during the
 * call makes it fail with -EFAULT after a round deleted; @nr_deleted
 * still counts those elements, whose keys may not have arrived.
 */
struct bpfcmpdel_sweep_req {
	__u32 size;
	__u32 map_fd;
	__u64 flags;		/* F_TOMBSTONE, F_SWEEP_VALUES */
	__u64 cursor;		/* in/out: next bucket; 0 to start */
	__u64 threshold;
	__u64 tombstone;
	__u64 keys;		/* user pointer, room for @max_out keys */
	__u64 values;		/* user pointer, with F_SWEEP_VALUES */
	__u32 field_offset;
	__u32 field_size;
	__u32 max_out;		/* > 0 */
	__u32 budget;		/* buckets; 0: the default */
	__u32 nr_deleted;	/* out; 0 on input */
	__u32 nr_scanned;	/* out: elements looked at; 0 on input */
};

#define BPFCMPDEL_SWEEP_SIZE_VER0	80
#define BPFCMPDEL_SWEEP_END		(~0ULL)
#define BPFCMPDEL_SWEEP_BUDGET		1024
#define BPFCMPDEL_SWEEP_BUDGET_MAX	65536

/*
 * bpfcmpdel_sweep(), the kfunc: BPFCMPDEL_IOC_SWEEP from a BPF program,
 * with the same selection, tombstone protocol and lock, over at most
 * @budget buckets (or elements, F_SWEEP_ELEMS) a call (a program holds its CPU: 0 means
 * BPFCMPDEL_KSWEEP_BUDGET, at most BPFCMPDEL_KSWEEP_BUDGET_MAX; more is
 * -E2BIG).  The kfunc's arguments are the map, this request and the
 * program's buffer for the deleted keys, which sets the most a call
 * deletes (its size over the key size; a buffer smaller than one key is
 * -EINVAL).  No values are handed back (F_SWEEP_VALUES is -EINVAL), and
 * per-CPU maps are refused (-EINVAL) as by the ioctl.  The
 * keys are written into the program's memory as the elements go, so
 * nothing deleted goes unreported: on return @nr_deleted keys lead the
 * buffer, @nr_scanned elements were looked at and @cursor says where to
 * go on (BPFCMPDEL_SWEEP_END: done).  A @req__sz beyond the struct is
 * allowed if the bytes past it are zero.  0 once any bucket was visited;
 * -EAGAIN, with nothing deleted, if not even the first bucket's lock was
 * free; any other error leaves the map and the request unchanged.
 */
struct bpfcmpdel_ksweep {
	__u64 flags;		/* F_TOMBSTONE, F_SWEEP_ELEMS */
	__u64 cursor;		/* in/out: next bucket; 0 to start */
	__u64 threshold;
	__u64 tombstone;
	__u32 field_offset;
	__u32 field_size;
	__u32 budget;		/* buckets; 0: BPFCMPDEL_KSWEEP_BUDGET */
	__u32 nr_deleted;	/* out; 0 on input */
	__u32 nr_scanned;	/* out; 0 on input */
	__u32 reserved;		/* must be 0 */
};

#define BPFCMPDEL_KSWEEP_BUDGET		64
#define BPFCMPDEL_KSWEEP_BUDGET_MAX	1024

/*
 * BPFCMPDEL_IOC_HANDLE_NEW: a handle naming map @map_fd to the kfuncs that
 * take one (bpfcmpdel_handle_delete() and the rest, bpfcmpdel/kfuncs.bpf.h),
 * for kernels whose verifier cannot pass a map to a module's kfunc (6.1:
 * see docs/kfuncs.md) and for programs that run on every kernel.  The map
 * is checked as for a request (a hash map this module serves, an fd open
 * for reading and writing, not frozen, not BPF_F_RDONLY_PROG, and the
 * security modules asked as for BPF_MAP_UPDATE_ELEM with @map_fd and
 * BPF_EXIST) and held until the handle is freed: with
 * BPFCMPDEL_IOC_HANDLE_FREE, or when the /dev/bpfcmpdel file description
 * that made it is closed, whichever comes first.  After that the handle
 * names nothing (the kfuncs return -EBADF), and is not issued again
 * before 2^24 more handles were.
 * A handle is not tied to any program: every program allowed to call the
 * kfuncs may use every live one, so only those who may open the device
 * can make them.  At most BPFCMPDEL_HANDLES_MAX are live at once (-ENOSPC).
 * BPFCMPDEL_IOC_HANDLE_FREE frees @handle if this file description made
 * it (else -ENOENT); @map_fd is ignored.
 */
struct bpfcmpdel_handle_req {
	__u32 size;
	__u32 map_fd;
	__u32 handle;		/* NEW: out; FREE: in */
	__u32 flags;		/* must be 0 */
};

#define BPFCMPDEL_HANDLE_SIZE_VER0	16
#define BPFCMPDEL_HANDLES_MAX		256

/*
 * 0xB9 is unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst
 * of every kernel this module serves (checked for 6.1, 6.12 and 7.3).
 */
#define BPFCMPDEL_IOC_MAGIC	0xB9
#define BPFCMPDEL_IOC_DELETE	_IOW(BPFCMPDEL_IOC_MAGIC, 1, struct bpfcmpdel_req)
#define BPFCMPDEL_IOC_DELETE_BATCH _IOWR(BPFCMPDEL_IOC_MAGIC, 2, struct bpfcmpdel_batch_req)
#define BPFCMPDEL_IOC_SWEEP	_IOWR(BPFCMPDEL_IOC_MAGIC, 3, struct bpfcmpdel_sweep_req)
#define BPFCMPDEL_IOC_UPDATE	_IOW(BPFCMPDEL_IOC_MAGIC, 4, struct bpfcmpdel_req)
#define BPFCMPDEL_IOC_HANDLE_NEW _IOWR(BPFCMPDEL_IOC_MAGIC, 5, struct bpfcmpdel_handle_req)
#define BPFCMPDEL_IOC_HANDLE_FREE _IOW(BPFCMPDEL_IOC_MAGIC, 6, struct bpfcmpdel_handle_req)

#endif /* _UAPI_BPFCMPDEL_IOCTL_H */
