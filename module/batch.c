// SPDX-License-Identifier: GPL-2.0
/*
 * The requests that work through many elements per call: batched
 * compare-and-deletes and the expiry sweep.  Both go in chunks, so the
 * memory a call takes is bounded whatever count it asks for, user memory
 * is touched only between chunks (never under a lock), and the CPU is
 * given up between them.
 */
#include <linux/bpf.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "cmpdel.h"

/* Elements per chunk of a batch, and deleted elements per sweep round. */
#define BATCH_CHUNK 256
#define SWEEP_CHUNK 256

static int batch_check(const struct bpfcmpdel_batch_req *req)
{
	int ret = cmpdel_check_mode(req->flags, req->compare_size, req->cpu,
				    req->tombstone);

	if (ret)
		return ret;
	return req->count > BPFCMPDEL_BATCH_MAX ? -E2BIG : 0;
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

struct batch_bufs {
	u8 *keys;
	u8 *expected;
	s32 results[BATCH_CHUNK];
};

/* One chunk: copied in whole, processed element by element, results out. */
static int batch_chunk(struct bpf_map *map, struct cmpdel_op *op,
		       const struct bpfcmpdel_batch_req *req, struct batch_bufs *b,
		       u32 first, u32 n, u32 stride, u32 skip)
{
	u32 ks = map->key_size;

	if (copy_from_user(b->keys, u64_to_user_ptr(req->keys) + (size_t)first * ks,
			   (size_t)n * ks) ||
	    copy_from_user(b->expected,
			   u64_to_user_ptr(req->expected) + (size_t)first * stride,
			   (size_t)n * stride))
		return -EFAULT;
	cmpdel_htab_compare_delete_batch(map, b->keys, b->expected + skip, stride,
					 n, op, b->results);
	if (copy_to_user(u64_to_user_ptr(req->results) + (size_t)first * sizeof(s32),
			 b->results, n * sizeof(s32)))
		return -EFAULT;
	return 0;
}

static int batch_run(struct bpf_map *map, const struct bpfcmpdel_batch_req *req,
		     u32 *done)
{
	struct cmpdel_op op = {
		.flags = req->flags, .offset = req->compare_offset,
		.size = req->compare_size, .cpu = req->cpu,
		.cpu_stride = round_up(map->value_size, 8),
		.tombstone = req->tombstone,
	};
	struct batch_bufs *b;
	u32 stride, skip, n;
	int ret;

	ret = cmpdel_map_check_op(map, &op);
	if (ret)
		return ret;
	stride = batch_stride(map, &op, &skip);
	b = kvzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->keys = kvmalloc_array(BATCH_CHUNK, map->key_size, GFP_KERNEL);
	b->expected = kvmalloc_array(BATCH_CHUNK, stride, GFP_KERNEL);
	if (!b->keys || !b->expected) {
		ret = -ENOMEM;
		goto out;
	}
	for (*done = 0; *done < req->count; *done += n) {
		n = min_t(u32, req->count - *done, BATCH_CHUNK);
		ret = batch_chunk(map, &op, req, b, *done, n, stride, skip);
		if (ret)
			break;
		cond_resched();
	}
out:
	kvfree(b->keys);
	kvfree(b->expected);
	kvfree(b);
	return ret;
}

long cmpdel_ioctl_delete_batch(void __user *arg)
{
	struct bpfcmpdel_batch_req req;
	struct bpfcmpdel_batch_req __user *ureq = arg;
	struct cmpdel_map_ref ref;
	u32 done = 0;
	int ret;

	ret = cmpdel_copy_struct(&req, sizeof(req), arg, BPFCMPDEL_BATCH_SIZE_VER0) ?:
	      batch_check(&req);
	if (ret)
		return ret;
	/* bpf()'s own batch delete asks the security modules this. */
	ret = cmpdel_security_bpf_map(BPF_MAP_DELETE_BATCH, req.map_fd, req.keys) ?:
	      cmpdel_map_get_writable(req.map_fd, &ref);
	if (ret)
		return ret;
	ret = batch_run(ref.map, &req, &done);
	cmpdel_map_put(&ref);
	if (put_user(done, &ureq->count))
		return -EFAULT;
	return ret;
}

static int sweep_check(const struct bpfcmpdel_sweep_req *req)
{
	if (req->flags & ~BPFCMPDEL_F_SWEEP_ALL || !req->max_out ||
	    req->nr_deleted || req->nr_scanned)
		return -EINVAL;
	if (!(req->flags & BPFCMPDEL_F_TOMBSTONE) && req->tombstone)
		return -EINVAL;
	if (!(req->flags & BPFCMPDEL_F_SWEEP_VALUES) && req->values)
		return -EINVAL;
	if (req->budget > BPFCMPDEL_SWEEP_BUDGET_MAX)
		return -E2BIG;
	return 0;
}

/* Rounds of at most SWEEP_CHUNK deletions, each copied out after it. */
static int sweep_run(struct bpf_map *map, struct bpfcmpdel_sweep_req *req)
{
	struct cmpdel_sweep sw = {
		.flags = req->flags, .offset = req->field_offset,
		.size = req->field_size, .threshold = req->threshold,
		.tombstone = req->tombstone, .cursor = req->cursor,
		.budget = req->budget ?: BPFCMPDEL_SWEEP_BUDGET,
	};
	u32 ks = map->key_size, vs = map->value_size;
	int ret;

	ret = cmpdel_map_check_sweep(map, &sw);
	if (ret)
		return ret;
	sw.keys = kvmalloc_array(SWEEP_CHUNK, ks, GFP_KERNEL);
	if (req->flags & BPFCMPDEL_F_SWEEP_VALUES)
		sw.values = kvmalloc_array(SWEEP_CHUNK, vs, GFP_KERNEL);
	if (!sw.keys || (req->flags & BPFCMPDEL_F_SWEEP_VALUES && !sw.values)) {
		ret = -ENOMEM;
		goto out;
	}
	while (sw.budget && sw.cursor != BPFCMPDEL_SWEEP_END &&
	       req->nr_deleted < req->max_out) {
		sw.deleted = 0;
		sw.room = min_t(u32, req->max_out - req->nr_deleted, SWEEP_CHUNK);
		ret = cmpdel_htab_sweep(map, &sw);
		req->cursor = sw.cursor;
		req->nr_scanned = sw.scanned;
		if (copy_to_user(u64_to_user_ptr(req->keys) + (size_t)req->nr_deleted * ks,
				 sw.keys, (size_t)sw.deleted * ks) ||
		    (sw.values &&
		     copy_to_user(u64_to_user_ptr(req->values) + (size_t)req->nr_deleted * vs,
				  sw.values, (size_t)sw.deleted * vs)))
			ret = ret ?: -EFAULT;
		req->nr_deleted += sw.deleted;
		if (ret)
			break;
	}
out:
	kvfree(sw.keys);
	kvfree(sw.values);
	return ret;
}

long cmpdel_ioctl_sweep(void __user *arg)
{
	struct bpfcmpdel_sweep_req req;
	struct bpfcmpdel_sweep_req __user *ureq = arg;
	struct cmpdel_map_ref ref;
	int ret;

	ret = cmpdel_copy_struct(&req, sizeof(req), arg, BPFCMPDEL_SWEEP_SIZE_VER0) ?:
	      sweep_check(&req);
	if (ret)
		return ret;
	ret = cmpdel_security_bpf_map(BPF_MAP_DELETE_BATCH, req.map_fd, 0) ?:
	      cmpdel_map_get_writable(req.map_fd, &ref);
	if (ret)
		return ret;
	ret = sweep_run(ref.map, &req);
	cmpdel_map_put(&ref);
	if (put_user(req.cursor, &ureq->cursor) ||
	    put_user(req.nr_deleted, &ureq->nr_deleted) ||
	    put_user(req.nr_scanned, &ureq->nr_scanned))
		return -EFAULT;
	return ret;
}
