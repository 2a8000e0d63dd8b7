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
			   struct bpfcmpdel_req __user *ureq)
{
	u32 usize;
	int ret;

	if (get_user(usize, &ureq->size))
		return -EFAULT;
	if (usize < BPFCMPDEL_REQ_SIZE_VER0)
		return -EINVAL;
	/* As bpf() caps its attr: the tail scan must stay short. */
	if (usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(req, sizeof(*req), ureq, usize);
	if (ret)
		return ret;
	if (req->flags & ~BPFCMPDEL_F_ALL || !req->compare_size || req->reserved)
		return -EINVAL;
	if (!(req->flags & BPFCMPDEL_F_CPU) && req->cpu)
		return -EINVAL;
	if (!(req->flags & BPFCMPDEL_F_TOMBSTONE) && req->tombstone)
		return -EINVAL;
	return 0;
}

/*
 * The expected bytes, packed: @size bytes, or for a compare of every CPU
 * @size bytes per possible CPU, cut out of the caller's snapshot slots.
 */
static void *cmpdel_copy_expected(const struct bpf_map *map,
				  const struct bpfcmpdel_req *req)
{
	const u8 __user *uexp = u64_to_user_ptr(req->expected);
	u32 size = req->compare_size, stride;
	u8 *expected, *dst;
	int cpu;

	if (req->flags & BPFCMPDEL_F_SNAPSHOT)
		uexp += req->compare_offset;
	if (!cmpdel_map_is_percpu(map) || req->flags & BPFCMPDEL_F_CPU)
		return vmemdup_user(uexp, size);

	stride = round_up(map->value_size, 8);
	expected = kvmalloc_array(num_possible_cpus(), size, GFP_USER);
	if (!expected)
		return ERR_PTR(-ENOMEM);
	dst = expected;
	for_each_possible_cpu(cpu) {
		if (copy_from_user(dst, uexp, size)) {
			kvfree(expected);
			return ERR_PTR(-EFAULT);
		}
		dst += size;
		uexp += stride;
	}
	return expected;
}

/*
 * bpf() asks the security modules about every command before anything
 * else; a policy denying BPF_MAP_DELETE_ELEM must deny this too.
 */
static int cmpdel_security_check(const struct bpfcmpdel_req *req)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = req->map_fd;
	attr.key = req->key;
	return cmpdel_security_bpf(BPF_MAP_DELETE_ELEM, &attr,
				   offsetofend(union bpf_attr, flags));
}

static int cmpdel_do_request(const struct bpfcmpdel_req *req)
{
	struct cmpdel_op op = {
		.flags = req->flags,
		.offset = req->compare_offset,
		.size = req->compare_size,
		.cpu = req->cpu,
		.tombstone = req->tombstone,
	};
	struct cmpdel_map_ref ref;
	void *key;
	int ret;

	ret = cmpdel_security_check(req);
	if (ret)
		return ret;
	ret = cmpdel_map_get_writable(req->map_fd, &ref);
	if (ret)
		return ret;
	ret = cmpdel_map_check_op(ref.map, &op);
	if (ret)
		goto out_put_map;

	/* As the syscall copies keys: large ones must not fail here alone. */
	key = vmemdup_user(u64_to_user_ptr(req->key), ref.map->key_size);
	if (IS_ERR(key)) {
		ret = PTR_ERR(key);
		goto out_put_map;
	}
	op.expected = cmpdel_copy_expected(ref.map, req);
	if (IS_ERR(op.expected)) {
		ret = PTR_ERR(op.expected);
		goto out_free_key;
	}

	ret = cmpdel_htab_compare_delete(ref.map, key, &op);

	kvfree(op.expected);
out_free_key:
	kvfree(key);
out_put_map:
	cmpdel_map_put(&ref);
	return ret;
}

static long cmpdel_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct bpfcmpdel_req req;
	int ret;

	/*
	 * The size bits of @cmd are not matched: the request carries its own
	 * size, and a caller built against a newer, longer struct must still
	 * reach copy_struct_from_user() to learn whether its tail matters.
	 */
	if (_IOC_TYPE(cmd) != _IOC_TYPE(BPFCMPDEL_IOC_DELETE) ||
	    _IOC_NR(cmd) != _IOC_NR(BPFCMPDEL_IOC_DELETE) ||
	    _IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_DELETE))
		return -ENOTTY;

	ret = cmpdel_copy_req(&req, (struct bpfcmpdel_req __user *)arg);
	if (ret)
		return ret;
	return cmpdel_do_request(&req);
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
