/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libbpfcmpdel: compare-and-delete for BPF hash map elements.
 *
 * Thin wrapper around the /dev/bpfcmpdel ioctl (see <bpfcmpdel/ioctl.h>),
 * following libbpf conventions: errors are returned as negative errno
 * values and also stored in errno; optional arguments travel in a
 * size-versioned opts struct so that old binaries keep working against
 * newer libraries and vice versa.
 */
#ifndef __BPFCMPDEL_BPFCMPDEL_H
#define __BPFCMPDEL_BPFCMPDEL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>
#include <bpfcmpdel/ioctl.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef BPFCMPDEL_API
#define BPFCMPDEL_API __attribute__((visibility("default")))
#endif

struct bpfcmpdel_opts {
	size_t sz;		/* size of this struct, for forward/backward compat */
	__u64 flags;		/* BPFCMPDEL_F_*, passed to the kernel as is */
	__u64 tombstone;	/* with BPFCMPDEL_F_TOMBSTONE */
	__u32 cpu;		/* with BPFCMPDEL_F_CPU */
	size_t :0;
};
#define bpfcmpdel_opts__last_field cpu

/*
 * Declare @NAME as a struct bpfcmpdel_opts with .sz filled in and all other
 * fields zero unless given, e.g. BPFCMPDEL_OPTS(opts, .flags = 0);
 * As in libbpf's LIBBPF_OPTS(), the memset is there to zero padding too
 * (best effort: the compiler may copy the literal's padding), because a
 * later library may turn padding into a field and read it.
 */
#define BPFCMPDEL_OPTS(NAME, ...)					\
	struct bpfcmpdel_opts NAME = ({					\
		memset(&NAME, 0, sizeof(struct bpfcmpdel_opts));	\
		(struct bpfcmpdel_opts) {				\
			.sz = sizeof(struct bpfcmpdel_opts),		\
			__VA_ARGS__					\
		};							\
	})

/*
 * bpfcmpdel_delete() - delete @key from the BPF hash map @map_fd only if
 * the @size bytes at byte @offset of its value equal @expected.  @opts
 * may be NULL; its flags choose the mode (default, BPFCMPDEL_F_LOCK,
 * BPFCMPDEL_F_TOMBSTONE with opts->tombstone) and the expected layout
 * (BPFCMPDEL_F_SNAPSHOT: @expected is a whole value as
 * bpf_map_lookup_elem() returned it; BPFCMPDEL_F_CPU: one CPU's slot of
 * a per-CPU map, opts->cpu).
 *
 * What each mode is atomic against, and every result, is documented once,
 * in <bpfcmpdel/ioctl.h>.  Returns 0 if the element was deleted, otherwise
 * a negative errno, also stored in errno (left untouched on success).
 * The library adds: -EINVAL for a NULL @key or @expected, @size 0,
 * @offset + @size overflowing, or malformed @opts (sz < sizeof(size_t), or
 * nonzero bytes this library does not know); -EBADF for a negative
 * @map_fd; -ENODEV when /dev/bpfcmpdel is missing (module not loaded:
 * ENOENT, ENXIO or ENODEV from opening it).  Other errors from opening the
 * device (e.g. -EACCES) are returned as is.
 */
BPFCMPDEL_API int bpfcmpdel_delete(int map_fd, const void *key,
				   const void *expected, __u32 offset,
				   __u32 size, const struct bpfcmpdel_opts *opts);

/*
 * bpfcmpdel_delete_snapshot() - the usual GC flow in one call: pass the
 * buffer bpf_map_lookup_elem() filled for @key as @snapshot, and the
 * element is deleted only if the @size bytes at @offset of its value are
 * still what the snapshot holds there.  Works for every hash flavour: for
 * per-CPU maps the snapshot holds a slot of round_up(value_size, 8) bytes
 * per possible CPU, and the region must be unchanged on every CPU.
 * Sets BPFCMPDEL_F_SNAPSHOT on top of @opts' flags; results as for
 * bpfcmpdel_delete().
 */
BPFCMPDEL_API int bpfcmpdel_delete_snapshot(int map_fd, const void *key,
					    const void *snapshot, __u32 offset,
					    __u32 size,
					    const struct bpfcmpdel_opts *opts);

/*
 * bpfcmpdel_update() - compare-and-swap: write the @size bytes at @value
 * over the region at @offset if it still equals @expected (one cmpxchg for
 * an aligned 4- or 8-byte region; any region under the value's spin lock
 * with BPFCMPDEL_F_LOCK; per-CPU maps: one CPU's slot, BPFCMPDEL_F_CPU).
 * 0 if swapped; otherwise as bpfcmpdel_delete().
 */
BPFCMPDEL_API int bpfcmpdel_update(int map_fd, const void *key,
				   const void *expected, const void *value,
				   __u32 offset, __u32 size,
				   const struct bpfcmpdel_opts *opts);

/*
 * bpfcmpdel_delete_batch() - *@count independent compare-and-deletes in
 * one call (any number: the kernel works in bounded chunks).  @keys holds
 * *@count keys back to back; @expected *@count regions of @size bytes, or
 * with BPFCMPDEL_F_SNAPSHOT *@count lookup snapshots; @results gets each
 * element's result (0, -ENOENT, -EBUSY, ...).  A missing key never stops
 * the batch.  On return *@count is the number processed, also when the
 * call fails part-way with -EFAULT (0 after any other failure); the
 * results of those are in @results.  Every mode of bpfcmpdel_delete().
 */
BPFCMPDEL_API int bpfcmpdel_delete_batch(int map_fd, const void *keys,
					 const void *expected, __s32 *results,
					 __u32 *count, __u32 offset, __u32 size,
					 const struct bpfcmpdel_opts *opts);

struct bpfcmpdel_sweep_opts {
	size_t sz;
	__u64 flags;		/* BPFCMPDEL_F_TOMBSTONE, BPFCMPDEL_F_SWEEP_ELEMS */
	__u64 tombstone;
	void *keys;		/* required: room for max_out keys */
	void *values;		/* optional: room for max_out values */
	__u32 max_out;		/* required */
	__u32 budget;		/* buckets (elements) per call; 0: the kernel's default */
	__u64 *nr_scanned;	/* optional: elements looked at, added to */
	size_t :0;
};
#define bpfcmpdel_sweep_opts__last_field nr_scanned

#define BPFCMPDEL_SWEEP_OPTS(NAME, ...)					\
	struct bpfcmpdel_sweep_opts NAME = ({				\
		memset(&NAME, 0, sizeof(struct bpfcmpdel_sweep_opts));	\
		(struct bpfcmpdel_sweep_opts) {				\
			.sz = sizeof(struct bpfcmpdel_sweep_opts),	\
			__VA_ARGS__					\
		};							\
	})

/*
 * bpfcmpdel_sweep() - one call of the in-kernel expiry sweep: from bucket
 * (or with BPFCMPDEL_F_SWEEP_ELEMS in flags, element) *@cursor (0 to
 * start), delete under each bucket's lock every element
 * whose unsigned @field_size (4 or 8) byte field at @field_offset is below
 * @threshold, copying their keys (and values) out.  *@nr_deleted says how
 * many; *@cursor where to go on, BPFCMPDEL_SWEEP_END when the map is done.
 * A call that deleted anything returns 0; read *@nr_deleted whatever the
 * return all the same (see BPFCMPDEL_IOC_SWEEP in <bpfcmpdel/ioctl.h> for
 * the one exception, what a concurrent insert may see, and the tombstone
 * mode).
 */
BPFCMPDEL_API int bpfcmpdel_sweep(int map_fd, __u64 *cursor, __u32 field_offset,
				  __u32 field_size, __u64 threshold,
				  __u32 *nr_deleted,
				  const struct bpfcmpdel_sweep_opts *opts);

/* What a GC pass did. */
struct bpfcmpdel_gc_stats {
	__u64 scanned;		/* elements looked at */
	__u64 deleted;
	__u64 changed;		/* kept: refreshed since the snapshot */
	__u64 gone;		/* already deleted by someone else */
	__u64 failed;		/* any other per-element result */
};

/* Whether a snapshot entry is expired, for bpfcmpdel_gc_snapshot(). */
typedef bool (*bpfcmpdel_expired_fn)(const void *key, const void *value,
				     void *ctx);

struct bpfcmpdel_gc_opts {
	size_t sz;
	__u64 flags;		/* BPFCMPDEL_F_TOMBSTONE, BPFCMPDEL_F_LOCK */
	__u64 tombstone;
	__u32 budget;		/* sweep: elements (or buckets) per call */
	/* sweep: called with each round's deleted keys (NAT, metrics, ...) */
	void (*on_deleted)(const void *keys, __u32 n, void *ctx);
	/* sweep: called after each round with the cursor reached */
	void (*on_progress)(__u64 cursor, void *ctx);
	void *ctx;
	/* sweep: threads sweeping disjoint ranges (0 or 1: the caller's) */
	__u32 threads;
	size_t :0;
};
#define bpfcmpdel_gc_opts__last_field threads
#define BPFCMPDEL_GC_THREADS_MAX 64

#define BPFCMPDEL_GC_OPTS(NAME, ...)					\
	struct bpfcmpdel_gc_opts NAME = ({				\
		memset(&NAME, 0, sizeof(struct bpfcmpdel_gc_opts));	\
		(struct bpfcmpdel_gc_opts) {				\
			.sz = sizeof(struct bpfcmpdel_gc_opts),		\
			__VA_ARGS__					\
		};							\
	})

/*
 * bpfcmpdel_gc_sweep() - a whole GC pass with the in-kernel sweep: every
 * element whose field is below @threshold goes, decided under its bucket's
 * lock, so no snapshot can go stale.  A handful of syscalls per pass.
 * Every deleted key reaches on_deleted, also those of a call that failed
 * after deleting; a bucket lock not taken (-EAGAIN) is retried, up to
 * 100 calls in a row.  A preallocated map (hash without BPF_F_NO_PREALLOC,
 * LRU hash) is walked in the memory order of its element array
 * (BPFCMPDEL_F_SWEEP_ELEMS, added to @flags), any other by its buckets;
 * @budget then counts elements or buckets.
 *
 * With @threads > 1 (at most BPFCMPDEL_GC_THREADS_MAX), that many threads,
 * the caller's among them, sweep disjoint ranges of elements (or
 * buckets).  An element never changes its slot of the array or its bucket
 * (its key's hash picks it for the map's life), so each is judged by one
 * thread, as in a single-threaded pass.  The
 * callbacks are called one at a time, from any of the threads;
 * on_progress's cursor is the one reached in the calling thread's range.
 * The pass fails with the first error a thread met, after every thread
 * finished its range; the stats count all of them.  Threads help where
 * the map frees to per-CPU lists: a hash map, or an LRU map made with
 * BPF_F_NO_COMMON_LRU.  A common-LRU map frees every element under its
 * one LRU list lock, the kernel's own deletes too, so a second thread
 * there gains nothing and may lose (docs/benchmarks.md).
 */
BPFCMPDEL_API int bpfcmpdel_gc_sweep(int map_fd, __u32 field_offset,
				     __u32 field_size, __u64 threshold,
				     struct bpfcmpdel_gc_stats *stats,
				     const struct bpfcmpdel_gc_opts *opts);

/*
 * bpfcmpdel_gc_snapshot() - a GC pass for callers with a predicate of
 * their own: BPF_MAP_LOOKUP_BATCH snapshots, @expired judges each entry,
 * and the expired go in batched compare-and-deletes on the region at
 * @offset, @size of the snapshot (refreshed ones are kept and counted as
 * changed).
 */
BPFCMPDEL_API int bpfcmpdel_gc_snapshot(int map_fd, __u32 offset, __u32 size,
					bpfcmpdel_expired_fn expired,
					struct bpfcmpdel_gc_stats *stats,
					const struct bpfcmpdel_gc_opts *opts);

/*
 * bpfcmpdel_device_fd() - the library's fd for /dev/bpfcmpdel.
 *
 * Opens the device on first use (from any thread, O_CLOEXEC) and keeps it
 * open for the life of the process.  A failed open is tried again on the
 * next call, so loading the module later needs no restart of the caller.
 * Returns the fd, or a negative errno as described for
 * bpfcmpdel_delete() (also stored in errno).  The fd belongs to
 * the library: do not close it.
 */
BPFCMPDEL_API int bpfcmpdel_device_fd(void);

/*
 * bpfcmpdel_handle_new() - a handle naming the hash map @map_fd to the
 * kfuncs that take one (bpfcmpdel_handle_delete() and the rest, in
 * <bpfcmpdel/kfuncs.bpf.h>): the way a BPF program names a map to the
 * module on every kernel, and the only one on 6.1.  Pass it to the
 * program (a global, a map) before it runs.  The handle holds the map
 * until bpfcmpdel_handle_free() or the process's exit (it lives on the
 * library's device fd).  The map is checked as for a request
 * (BPFCMPDEL_IOC_HANDLE_NEW in <bpfcmpdel/ioctl.h>).  Returns 0 and
 * stores the handle in *@handle, or a negative errno (also in errno).
 */
BPFCMPDEL_API int bpfcmpdel_handle_new(int map_fd, __u32 *handle);

/*
 * bpfcmpdel_handle_free() - @handle names no map any more, and the map's
 * reference is dropped once no program can still be using it.  -ENOENT
 * if it is not a live handle of this process's library.
 */
BPFCMPDEL_API int bpfcmpdel_handle_free(__u32 handle);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* __BPFCMPDEL_BPFCMPDEL_H */
