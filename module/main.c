// SPDX-License-Identifier: GPL-2.0
/*
 * bpfcmpdel: compare-and-delete for BPF hash maps, as /dev/bpfcmpdel.
 *
 * The device, its ioctl and the copy-in of requests.  Everything a request
 * points to is copied in and checked before any lock is taken.
 */
#include <linux/bpf.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "compat/bucket_lock.h"
#include "cmpdel.h"

static int cmpdel_copy_req(struct bpfcmpdel_req *req,
			   struct bpfcmpdel_req __user *ureq, bool swap)
{
	int ret;

	ret = cmpdel_copy_struct(req, sizeof(*req), ureq, BPFCMPDEL_REQ_SIZE_VER0);
	if (ret)
		return ret;
	if (req->reserved)
		return -EINVAL;
	ret = cmpdel_check_mode(req->flags, req->compare_size, req->cpu,
				req->tombstone);
	if (ret)
		return ret;
	/* New bytes are what a swap writes; a delete writes none. */
	if (swap != !!req->value)
		return -EINVAL;
	return 0;
}

/*
 * The size-versioned copy-in every request shares: at least @min bytes,
 * at most a page (as bpf() caps its attr: the tail scan stays short).
 */
int cmpdel_copy_struct(void *dst, size_t ksize, const void __user *src,
		       u32 min)
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
 * A copy of user bytes: on the stack when small, which a GC's keys and
 * compared fields are, so the common request allocates nothing; otherwise
 * as the syscall copies keys (kvmalloc), so nothing fails here that would
 * not fail there.
 */
struct cmpdel_ubuf {
	u8 inline_buf[64];
	void *heap;
};

static void *cmpdel_copy_in(struct cmpdel_ubuf *b, const void __user *src,
			    size_t len)
{
	b->heap = NULL;
	if (len <= sizeof(b->inline_buf))
		return copy_from_user(b->inline_buf, src, len) ?
		       ERR_PTR(-EFAULT) : b->inline_buf;
	b->heap = vmemdup_user(src, len);
	return b->heap;
}

static void cmpdel_ubuf_free(struct cmpdel_ubuf *b)
{
	if (!IS_ERR_OR_NULL(b->heap))
		kvfree(b->heap);
}

/*
 * The expected bytes from the caller's buffer: the region, or with
 * F_SNAPSHOT the region cut from a lookup snapshot; for a compare of every
 * CPU's slot, the snapshot from the first CPU's region to the last's.
 */
static void *cmpdel_copy_expected(const struct bpf_map *map, struct cmpdel_op *op,
				  const u8 __user *uexp, struct cmpdel_ubuf *b)
{
	u32 len = op->size;

	if (op->flags & BPFCMPDEL_F_SNAPSHOT)
		uexp += op->offset;
	if (cmpdel_map_is_percpu(map) && !(op->flags & BPFCMPDEL_F_CPU)) {
		op->cpu_stride = round_up(map->value_size, 8);
		len += (num_possible_cpus() - 1) * op->cpu_stride;
	}
	return cmpdel_copy_in(b, uexp, len);
}

/*
 * The fields every compare request shares: known flags, a region, and the
 * mode arguments only with the flag that gives them a meaning.
 */
int cmpdel_check_mode(u64 flags, u32 compare_size, u32 cpu, u64 tombstone)
{
	if (flags & ~BPFCMPDEL_F_ALL || !compare_size)
		return -EINVAL;
	if (!(flags & BPFCMPDEL_F_CPU) && cpu)
		return -EINVAL;
	if (!(flags & BPFCMPDEL_F_TOMBSTONE) && tombstone)
		return -EINVAL;
	return 0;
}

static struct cmpdel_op cmpdel_req_op(const struct bpfcmpdel_req *req)
{
	return (struct cmpdel_op) {
		.flags = req->flags,
		.offset = req->compare_offset,
		.size = req->compare_size,
		.cpu = req->cpu,
		.tombstone = req->tombstone,
	};
}

static int cmpdel_do_request(const struct bpfcmpdel_req *req, bool swap)
{
	/*
	 * Written before they are read: spared the stack zeroing Debian's
	 * kernels are built with (INIT_STACK_ALL_ZERO), some 200 bytes on
	 * the path every request takes.
	 */
	struct cmpdel_ubuf kbuf __uninitialized, ebuf __uninitialized;
	struct cmpdel_ubuf vbuf __uninitialized;
	struct cmpdel_op op = cmpdel_req_op(req);
	struct cmpdel_map_ref ref;
	void *key, *expected;
	int ret;

	vbuf.heap = NULL;
	ret = cmpdel_security_bpf_map(swap ? BPF_MAP_UPDATE_ELEM : BPF_MAP_DELETE_ELEM,
				      req->map_fd, req->key) ?:
	      cmpdel_map_get_writable(req->map_fd, &ref);
	if (ret)
		return ret;
	ret = swap ? cmpdel_map_check_swap(ref.map, &op) :
		     cmpdel_map_check_op(ref.map, &op);
	if (ret)
		goto out_put_map;

	key = cmpdel_copy_in(&kbuf, u64_to_user_ptr(req->key), ref.map->key_size);
	if (IS_ERR(key)) {
		ret = PTR_ERR(key);
		goto out_put_map;
	}
	expected = cmpdel_copy_expected(ref.map, &op, u64_to_user_ptr(req->expected),
					&ebuf);
	if (IS_ERR(expected)) {
		ret = PTR_ERR(expected);
		goto out_free_key;
	}
	op.expected = expected;
	if (swap) {
		op.value = cmpdel_copy_in(&vbuf, u64_to_user_ptr(req->value), op.size);
		if (IS_ERR(op.value)) {
			ret = PTR_ERR(op.value);
			goto out_free_expected;
		}
	}
	ret = swap ? cmpdel_htab_compare_swap(ref.map, key, &op) :
		     cmpdel_htab_compare_delete(ref.map, key, &op);

	cmpdel_ubuf_free(&vbuf);
out_free_expected:
	cmpdel_ubuf_free(&ebuf);
out_free_key:
	cmpdel_ubuf_free(&kbuf);
out_put_map:
	cmpdel_map_put(&ref);
	return ret;
}

static long cmpdel_ioctl_single(void __user *arg, bool swap)
{
	struct bpfcmpdel_req req __uninitialized;	/* copied in whole */
	int ret;

	ret = cmpdel_copy_req(&req, arg, swap);
	if (ret)
		return ret;
	return cmpdel_do_request(&req, swap);
}

/*
 * The size bits of @cmd are not matched: each request carries its own
 * size, and a caller built against a newer, longer struct must still reach
 * copy_struct_from_user() to learn whether its tail matters.
 */
static long cmpdel_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (_IOC_TYPE(cmd) != BPFCMPDEL_IOC_MAGIC)
		return -ENOTTY;
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(BPFCMPDEL_IOC_DELETE):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_DELETE))
			break;
		return cmpdel_ioctl_single(uarg, false);
	case _IOC_NR(BPFCMPDEL_IOC_UPDATE):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_UPDATE))
			break;
		return cmpdel_ioctl_single(uarg, true);
	case _IOC_NR(BPFCMPDEL_IOC_DELETE_BATCH):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_DELETE_BATCH))
			break;
		return cmpdel_ioctl_delete_batch(uarg);
	case _IOC_NR(BPFCMPDEL_IOC_SWEEP):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_SWEEP))
			break;
		return cmpdel_ioctl_sweep(uarg);
	}
	return -ENOTTY;
}

static const struct file_operations cmpdel_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= cmpdel_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice cmpdel_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "bpfcmpdel",
	.fops	= &cmpdel_fops,
	.groups	= cmpdel_attr_groups,
	.mode	= 0600,
};

static void cmpdel_log_ready(void)
{
	cmpdel_report_call_paths();
	pr_info("ready: version %s, htab layout from BTF (bucket %u bytes, lock %s at +%u, elem key at +%u), hash %s, self-test passed on every hash flavour\n",
		CMPDEL_VERSION, cmpdel_layout.bucket_size, CMPDEL_BUCKET_LOCK_TYPE,
		cmpdel_layout.bucket_lock, cmpdel_layout.elem_key,
		CMPDEL_HTAB_HASH_NAME);
}

static int __init cmpdel_init(void)
{
	int ret;

	ret = cmpdel_resolve_symbols() ?:
	      cmpdel_btf_read_layout() ?:
	      cmpdel_htab_selftest();
	if (ret) {
		pr_err("not loading: this kernel is not one the module can serve safely\n");
		return ret;
	}
	ret = misc_register(&cmpdel_misc);
	if (ret)
		return ret;
	cmpdel_log_ready();
	return 0;
}

static void __exit cmpdel_exit(void)
{
	misc_deregister(&cmpdel_misc);
}

module_init(cmpdel_init);
module_exit(cmpdel_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Compare-and-delete for BPF hash maps");
MODULE_VERSION(CMPDEL_VERSION);
