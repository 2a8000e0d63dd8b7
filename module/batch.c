// SPDX-License-Identifier: GPL-2.0
/*
 * The runs of the requests that work through many elements per call:
 * batched compare-and-deletes and the expiry sweep.  Both go in chunks
 * bounded in elements and in bytes, so the memory a call takes is bounded
 * whatever count or value size it comes with; user memory is touched only
 * between chunks (never under a lock), and the CPU is given up between
 * them.
 *
 * Nothing deleted goes unreported: before a chunk deletes anything, the
 * output space it may fill is written (zeroed), so a buffer that cannot
 * take the chunk's output fails the call with that chunk's elements left
 * alone.  See BPFCMPDEL_IOC_DELETE_BATCH and BPFCMPDEL_IOC_SWEEP.
 */
#include <linux/bpf.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "cmpdel.h"
#include "stats.h"

/* Elements per chunk of a batch or round of a sweep, and their bytes. */
#define CHUNK_MAX	256
#define CHUNK_BYTES	SZ_256K
/* As the syscall's batch buffers: charged to the caller, no warning. */
#define CHUNK_GFP	(GFP_KERNEL | __GFP_NOWARN | __GFP_ACCOUNT)

/*
 * Elements per chunk when each takes @elem_bytes of the chunk's buffers:
 * at least one, however large, and never more than the @count asked for.
 */
static u32 chunk_elems(size_t elem_bytes, u32 count)
{
	size_t n = CHUNK_BYTES / max_t(size_t, elem_bytes, 1);

	return clamp_t(size_t, n, 1, min_t(u32, count, CHUNK_MAX));
}

/* Bytes per element in @expected, and where in them the region starts. */
static u32 batch_stride(const struct bpf_map *map, const struct cmpdel_op *op,
			u32 *skip)
{
	u32 slot = round_up(map->value_size, 8);

	*skip = 0;
	if (!(op->flags & BPFCMPDEL_F_SNAPSHOT))
		return op->size;
	*skip = op->offset;
	if (!cmpdel_map_is_percpu(map) || op->flags & BPFCMPDEL_F_CPU)
		return map->value_size;
	return slot * num_possible_cpus();
}

/* One batch call's buffers, each for a chunk, and the layout of @expected. */
struct batch_bufs {
	u8 *keys;
	u8 *expected;
	s32 *results;
	u32 chunk;	/* elements */
	u32 stride;	/* bytes per element in @expected */
	u32 skip;	/* where in them the region starts */
};

/*
 * Elements @first to @first + @n: keys and expected bytes copied in, and
 * their results' place proven writable, before anything is deleted.  The
 * results are written -EFAULT: should the real ones never arrive (another
 * thread unmapped @results), no element reads as deleted that was not.
 */
static int batch_chunk_in(const struct bpf_map *map,
			  const struct bpfcmpdel_batch_req *req, struct batch_bufs *b,
			  u32 first, u32 n)
{
	u32 ks = map->key_size, stride = b->stride, i;

	if (copy_from_user(b->keys, u64_to_user_ptr(req->keys) + (size_t)first * ks,
			   (size_t)n * ks) ||
	    copy_from_user(b->expected,
			   u64_to_user_ptr(req->expected) + (size_t)first * stride,
			   (size_t)n * stride))
		return -EFAULT;
	for (i = 0; i < n; i++)
		b->results[i] = -EFAULT;
	if (copy_to_user(u64_to_user_ptr(req->results) + (size_t)first * sizeof(s32),
			 b->results, (size_t)n * sizeof(s32)))
		return -EFAULT;
	return 0;
}

static int batch_chunks(struct bpf_map *map, struct cmpdel_op *op,
			const struct bpfcmpdel_batch_req *req, struct batch_bufs *b,
			u32 *done)
{
	u32 n;
	int ret;

	for (*done = 0; *done < req->count; *done += n) {
		n = min(req->count - *done, b->chunk);
		ret = batch_chunk_in(map, req, b, *done, n);
		if (ret)
			return ret;
		cmpdel_htab_compare_delete_batch(map, b->keys, b->expected + b->skip,
						 b->stride, n, op, b->results);
		cmpdel_stat_results(b->results, n);
		/* Only another thread unmapping @results can fail this. */
		if (copy_to_user(u64_to_user_ptr(req->results) +
				 (size_t)*done * sizeof(s32), b->results,
				 n * sizeof(s32))) {
			*done += n;
			return -EFAULT;
		}
		cond_resched();
	}
	return 0;
}

int cmpdel_batch_run(struct bpf_map *map, const struct bpfcmpdel_batch_req *req,
		     u32 *done)
{
	struct cmpdel_op op = {
		.flags = req->flags, .offset = req->compare_offset,
		.size = req->compare_size, .cpu = req->cpu,
		.cpu_stride = round_up(map->value_size, 8),
		.tombstone = req->tombstone,
	};
	struct batch_bufs b = {};
	int ret;

	*done = 0;
	ret = cmpdel_map_check_op(map, &op);
	if (ret || !req->count)
		return ret;
	b.stride = batch_stride(map, &op, &b.skip);
	b.chunk = chunk_elems((size_t)map->key_size + b.stride + sizeof(s32),
			      req->count);
	b.keys = kvmalloc_array(b.chunk, map->key_size, CHUNK_GFP);
	b.expected = kvmalloc_array(b.chunk, b.stride, CHUNK_GFP);
	b.results = kvmalloc_array(b.chunk, sizeof(s32), CHUNK_GFP);
	if (b.keys && b.expected && b.results)
		ret = batch_chunks(map, &op, req, &b, done);
	else
		ret = -ENOMEM;
	kvfree(b.keys);
	kvfree(b.expected);
	kvfree(b.results);
	return ret;
}

/*
 * Before a round deletes anything: the keys (and values) it may report
 * must have a place to go.
 */
static int sweep_round_writable(const struct bpfcmpdel_sweep_req *req,
				const struct cmpdel_sweep *sw, u32 ks, u32 vs)
{
	if (clear_user(u64_to_user_ptr(req->keys) + (size_t)req->nr_deleted * ks,
		       (size_t)sw->room * ks))
		return -EFAULT;
	if (sw->values &&
	    clear_user(u64_to_user_ptr(req->values) + (size_t)req->nr_deleted * vs,
		       (size_t)sw->room * vs))
		return -EFAULT;
	return 0;
}

/* The round's keys and values out; only a concurrent unmap can fail it. */
static int sweep_round_out(const struct bpfcmpdel_sweep_req *req,
			   const struct cmpdel_sweep *sw, u32 ks, u32 vs)
{
	if (copy_to_user(u64_to_user_ptr(req->keys) + (size_t)req->nr_deleted * ks,
			 sw->keys, (size_t)sw->deleted * ks))
		return -EFAULT;
	if (sw->values &&
	    copy_to_user(u64_to_user_ptr(req->values) + (size_t)req->nr_deleted * vs,
			 sw->values, (size_t)sw->deleted * vs))
		return -EFAULT;
	return 0;
}

/*
 * Rounds of at most @chunk deletions, each copied out after it.  A round
 * that cannot start (its output not writable, or not even its first
 * bucket lockable) ends the call; if earlier rounds deleted anything, the
 * call succeeds with what they did, and the cursor says where to go on.
 */
static int sweep_rounds(struct bpf_map *map, struct bpfcmpdel_sweep_req *req,
			struct cmpdel_sweep *sw, u32 chunk, u32 vs)
{
	u32 ks = map->key_size;
	int ret = 0;

	while (sw->budget && sw->cursor != BPFCMPDEL_SWEEP_END &&
	       req->nr_deleted < req->max_out) {
		sw->deleted = 0;
		sw->room = min(req->max_out - req->nr_deleted, chunk);
		ret = sweep_round_writable(req, sw, ks, vs);
		if (ret)
			break;
		ret = cmpdel_htab_sweep(map, sw);
		req->cursor = sw->cursor;
		req->nr_scanned = sw->scanned;
		if (sweep_round_out(req, sw, ks, vs)) {
			req->nr_deleted += sw->deleted;
			return -EFAULT;
		}
		req->nr_deleted += sw->deleted;
		if (ret)
			break;
		cond_resched();
	}
	return req->nr_deleted ? 0 : ret;
}

int cmpdel_sweep_run(struct bpf_map *map, struct bpfcmpdel_sweep_req *req)
{
	struct cmpdel_sweep sw = {
		.flags = req->flags, .offset = req->field_offset,
		.size = req->field_size, .threshold = req->threshold,
		.tombstone = req->tombstone, .cursor = req->cursor,
		.budget = req->budget ?: BPFCMPDEL_SWEEP_BUDGET,
	};
	bool values = req->flags & BPFCMPDEL_F_SWEEP_VALUES;
	u32 vs = values ? map->value_size : 0, chunk;
	int ret;

	ret = cmpdel_map_check_sweep(map, &sw);
	if (ret)
		return ret;
	chunk = chunk_elems((size_t)map->key_size + vs, req->max_out);
	sw.keys = kvmalloc_array(chunk, map->key_size, CHUNK_GFP);
	if (values)
		sw.values = kvmalloc_array(chunk, vs, CHUNK_GFP);
	if (sw.keys && (!values || sw.values))
		ret = sweep_rounds(map, req, &sw, chunk, vs);
	else
		ret = -ENOMEM;
	kvfree(sw.keys);
	kvfree(sw.values);
	return ret;
}
