// SPDX-License-Identifier: GPL-2.0
/*
 * The request front: for every ioctl, the copy-in and checks of the
 * request, the security hook bpf() would run for the same operation, the
 * map, and then the run (here for a single element, in batch.c for the
 * chunked requests).  Everything a single request points to is copied in
 * and checked before any lock is taken.
 */
#include <linux/bpf.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "cmpdel.h"
#include "stats.h"

/*
 * The size-versioned copy-in every request shares: at least @min bytes,
 * at most a page (as bpf() caps its attr: the tail scan stays short).
 */
static int copy_struct(void *dst, size_t ksize, const void __user *src, u32 min)
{
	u32 usize;

	if (get_user(usize, (const u32 __user *)src))
		return -EFAULT;
	if (usize < min)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(dst, ksize, src, usize);
}

/*
 * bpf() asks the security modules about every command before anything
 * else, with the attr of that command: a policy must see the same map fd
 * and pointers here as it would for the syscall that does the same.
 */
static int lsm_single(const struct bpfcmpdel_req *req, bool swap)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = req->map_fd;
	attr.key = req->key;
	if (swap) {
		/* An update of an element that must exist, locked or not. */
		attr.value = req->value;
		attr.flags = BPF_EXIST;
		if (req->flags & BPFCMPDEL_F_LOCK)
			attr.flags |= BPF_F_LOCK;
	}
	return cmpdel_security_bpf(swap ? BPF_MAP_UPDATE_ELEM : BPF_MAP_DELETE_ELEM,
				   &attr, offsetofend(union bpf_attr, flags));
}

static int lsm_batch(int cmd, u32 map_fd, u64 keys, u64 values, u32 count)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.batch.map_fd = map_fd;
	attr.batch.keys = keys;
	attr.batch.values = values;
	attr.batch.count = count;
	return cmpdel_security_bpf(cmd, &attr, offsetofend(union bpf_attr, batch));
}

/*
 * A copy of user bytes: on the stack when small, which a GC's keys and
 * compared fields are, so the common request allocates nothing; otherwise
 * charged to the caller, as the syscall's own copies are.
 */
struct cmpdel_ubuf {
	u8 inline_buf[64];
	void *heap;
};

static void *copy_in(struct cmpdel_ubuf *b, const void __user *src, size_t len)
{
	b->heap = NULL;
	if (len <= sizeof(b->inline_buf))
		return copy_from_user(b->inline_buf, src, len) ?
		       ERR_PTR(-EFAULT) : b->inline_buf;
	b->heap = kvmalloc(len, GFP_USER | __GFP_NOWARN | __GFP_ACCOUNT);
	if (!b->heap)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(b->heap, src, len)) {
		kvfree(b->heap);
		b->heap = NULL;
		return ERR_PTR(-EFAULT);
	}
	return b->heap;
}

static void ubuf_free(struct cmpdel_ubuf *b)
{
	kvfree(b->heap);
}

/*
 * The expected bytes from the caller's buffer: the region, or with
 * F_SNAPSHOT the region cut from a lookup snapshot; for a compare of every
 * CPU's slot, the snapshot from the first CPU's region to the last's.
 */
static void *copy_expected(const struct bpf_map *map, struct cmpdel_op *op,
			   const u8 __user *uexp, struct cmpdel_ubuf *b)
{
	size_t len = op->size;

	if (op->flags & BPFCMPDEL_F_SNAPSHOT)
		uexp += op->offset;
	if (cmpdel_map_is_percpu(map) && !(op->flags & BPFCMPDEL_F_CPU)) {
		op->cpu_stride = round_up(map->value_size, 8);
		len += (size_t)(num_possible_cpus() - 1) * op->cpu_stride;
	}
	return copy_in(b, uexp, len);
}

static int copy_single(struct bpfcmpdel_req *req, void __user *ureq, bool swap)
{
	int ret;

	ret = copy_struct(req, sizeof(*req), ureq, BPFCMPDEL_REQ_SIZE_VER0);
	if (ret)
		return ret;
	if (req->reserved)
		return -EINVAL;
	ret = cmpdel_check_mode(req->flags, req->compare_size, req->cpu, req->tombstone);
	if (ret)
		return ret;
	/* New bytes are what a swap writes; a delete writes none. */
	if (swap != !!req->value)
		return -EINVAL;
	return 0;
}

static struct cmpdel_op single_op(const struct bpfcmpdel_req *req)
{
	return (struct cmpdel_op) {
		.flags = req->flags,
		.offset = req->compare_offset,
		.size = req->compare_size,
		.cpu = req->cpu,
		.tombstone = req->tombstone,
	};
}

static int run_single(const struct bpfcmpdel_req *req, bool swap)
{
	/*
	 * Written before they are read: spared the stack zeroing Debian's
	 * kernels are built with (INIT_STACK_ALL_ZERO), some 200 bytes on
	 * the path every request takes.
	 */
	struct cmpdel_ubuf kbuf __uninitialized, ebuf __uninitialized;
	struct cmpdel_ubuf vbuf __uninitialized;
	struct cmpdel_op op = single_op(req);
	struct cmpdel_map_ref ref;
	void *key, *expected;
	int ret;

	vbuf.heap = NULL;
	ret = lsm_single(req, swap) ?: cmpdel_map_get(req->map_fd, &ref);
	if (ret)
		return ret;
	ret = swap ? cmpdel_map_check_swap(ref.map, &op) :
		     cmpdel_map_check_op(ref.map, &op);
	if (ret)
		goto out_put_map;

	key = copy_in(&kbuf, u64_to_user_ptr(req->key), ref.map->key_size);
	if (IS_ERR(key)) {
		ret = PTR_ERR(key);
		goto out_put_map;
	}
	expected = copy_expected(ref.map, &op, u64_to_user_ptr(req->expected), &ebuf);
	if (IS_ERR(expected)) {
		ret = PTR_ERR(expected);
		goto out_free_key;
	}
	op.expected = expected;
	if (swap) {
		op.value = copy_in(&vbuf, u64_to_user_ptr(req->value), op.size);
		if (IS_ERR(op.value)) {
			ret = PTR_ERR(op.value);
			goto out_free_expected;
		}
	}
	ret = cmpdel_htab_single(ref.map, key, &op, swap);

	ubuf_free(&vbuf);
out_free_expected:
	ubuf_free(&ebuf);
out_free_key:
	ubuf_free(&kbuf);
out_put_map:
	cmpdel_map_put(&ref);
	return ret;
}

/* BPFCMPDEL_IOC_DELETE, and with @swap BPFCMPDEL_IOC_UPDATE. */
long cmpdel_request_single(void __user *ureq, bool swap)
{
	struct bpfcmpdel_req req __uninitialized;	/* copied in whole */
	int ret;

	cmpdel_stat_add(swap ? CMPDEL_STAT_REQ_UPDATE : CMPDEL_STAT_REQ_DELETE, 1);
	ret = copy_single(&req, ureq, swap);
	if (ret)
		return ret;
	ret = run_single(&req, swap);
	cmpdel_stat_single(ret, swap);
	return ret;
}

static int check_batch(const struct bpfcmpdel_batch_req *req)
{
	int ret = cmpdel_check_mode(req->flags, req->compare_size, req->cpu, req->tombstone);

	if (ret)
		return ret;
	return req->count > BPFCMPDEL_BATCH_MAX ? -E2BIG : 0;
}

long cmpdel_request_batch(void __user *arg)
{
	struct bpfcmpdel_batch_req req;
	struct bpfcmpdel_batch_req __user *ureq = arg;
	struct cmpdel_map_ref ref;
	u32 done = 0;
	int ret;

	cmpdel_stat_add(CMPDEL_STAT_REQ_BATCH, 1);
	ret = copy_struct(&req, sizeof(req), arg, BPFCMPDEL_BATCH_SIZE_VER0) ?:
	      check_batch(&req);
	if (ret)
		return ret;
	/*
	 * @count is written back when the call ends, whatever happened: a
	 * request it cannot be written to must fail before any delete.  The
	 * same value, so a refused request leaves the caller's struct as is.
	 */
	if (put_user(req.count, &ureq->count))
		return -EFAULT;
	ret = lsm_batch(BPF_MAP_DELETE_BATCH, req.map_fd, req.keys, 0, req.count) ?:
	      cmpdel_map_get(req.map_fd, &ref);
	if (ret) {
		cmpdel_stat_result(ret);
		return ret;
	}
	ret = cmpdel_batch_run(ref.map, &req, &done);
	cmpdel_map_put(&ref);
	if (put_user(done, &ureq->count))
		return -EFAULT;
	return ret;
}

static int check_sweep(const struct bpfcmpdel_sweep_req *req)
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

/*
 * The outputs a sweep writes back when it ends.  Written before it starts
 * too, with what they already hold (the cursor given, zero counts), so
 * that a request they cannot be written to fails having deleted nothing.
 */
static int sweep_put_outputs(struct bpfcmpdel_sweep_req __user *ureq,
			     const struct bpfcmpdel_sweep_req *req)
{
	if (put_user(req->cursor, &ureq->cursor) ||
	    put_user(req->nr_deleted, &ureq->nr_deleted) ||
	    put_user(req->nr_scanned, &ureq->nr_scanned))
		return -EFAULT;
	return 0;
}

long cmpdel_request_sweep(void __user *arg)
{
	struct bpfcmpdel_sweep_req req;
	struct bpfcmpdel_sweep_req __user *ureq = arg;
	struct cmpdel_map_ref ref;
	int ret;

	cmpdel_stat_add(CMPDEL_STAT_REQ_SWEEP, 1);
	ret = copy_struct(&req, sizeof(req), arg, BPFCMPDEL_SWEEP_SIZE_VER0) ?:
	      check_sweep(&req) ?:
	      sweep_put_outputs(ureq, &req);
	if (ret)
		return ret;
	/* It deletes and hands back keys (and values): a lookup-and-delete. */
	ret = lsm_batch(BPF_MAP_LOOKUP_AND_DELETE_BATCH, req.map_fd, req.keys,
			req.values, req.max_out) ?:
	      cmpdel_map_get(req.map_fd, &ref);
	if (ret) {
		cmpdel_stat_result(ret);
		return ret;
	}
	ret = cmpdel_sweep_run(ref.map, &req);
	cmpdel_map_put(&ref);
	cmpdel_stat_add(CMPDEL_STAT_DELETED, req.nr_deleted);
	cmpdel_stat_add(CMPDEL_STAT_SCANNED, req.nr_scanned);
	if (ret == -EAGAIN)
		cmpdel_stat_result(ret);
	return sweep_put_outputs(ureq, &req) ?: ret;
}

/*
 * BPFCMPDEL_IOC_HANDLE_NEW: the map checked as for a request that may
 * change any of its elements, then a handle owned by @file.  A handle the
 * caller cannot be told of is freed again: none is left behind unknown.
 */
static int request_handle_new(struct file *file,
			      struct bpfcmpdel_handle_req __user *ureq,
			      const struct bpfcmpdel_handle_req *req)
{
	/* What the security modules see: an update of an existing element. */
	const struct bpfcmpdel_req as_update = { .map_fd = req->map_fd };
	struct cmpdel_map_ref ref;
	u32 id;
	int ret;

	if (req->handle)
		return -EINVAL;
	ret = lsm_single(&as_update, true) ?: cmpdel_map_get(req->map_fd, &ref);
	if (ret)
		return ret;
	ret = cmpdel_map_prog_check(ref.map) ?:
	      cmpdel_handle_new(file, ref.map, &id);
	cmpdel_map_put(&ref);
	if (ret)
		return ret;
	if (put_user(id, &ureq->handle)) {
		cmpdel_handle_free(file, id);
		return -EFAULT;
	}
	return 0;
}

/* BPFCMPDEL_IOC_HANDLE_NEW, and with @free BPFCMPDEL_IOC_HANDLE_FREE. */
long cmpdel_request_handle(struct file *file, void __user *arg, bool free)
{
	struct bpfcmpdel_handle_req req;
	int ret;

	ret = copy_struct(&req, sizeof(req), arg, BPFCMPDEL_HANDLE_SIZE_VER0);
	if (ret)
		return ret;
	if (req.flags)
		return -EINVAL;
	if (free)
		return cmpdel_handle_free(file, req.handle);
	return request_handle_new(file, arg, &req);
}
