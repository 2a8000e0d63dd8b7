// SPDX-License-Identifier: GPL-2.0
/*
 * bpfcmpdel: compare-and-delete for BPF hash maps, as /dev/bpfcmpdel.
 *
 * The device: its registration, and the ioctl that hands each command to
 * its request (request.c).
 */
#include <linux/bpf.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "compat/bucket_lock.h"
#include "cmpdel.h"

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
		return cmpdel_request_single(uarg, false);
	case _IOC_NR(BPFCMPDEL_IOC_UPDATE):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_UPDATE))
			break;
		return cmpdel_request_single(uarg, true);
	case _IOC_NR(BPFCMPDEL_IOC_DELETE_BATCH):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_DELETE_BATCH))
			break;
		return cmpdel_request_batch(uarg);
	case _IOC_NR(BPFCMPDEL_IOC_SWEEP):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_SWEEP))
			break;
		return cmpdel_request_sweep(uarg);
	case _IOC_NR(BPFCMPDEL_IOC_HANDLE_NEW):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_HANDLE_NEW))
			break;
		return cmpdel_request_handle(file, uarg, false);
	case _IOC_NR(BPFCMPDEL_IOC_HANDLE_FREE):
		if (_IOC_DIR(cmd) != _IOC_DIR(BPFCMPDEL_IOC_HANDLE_FREE))
			break;
		return cmpdel_request_handle(file, uarg, true);
	}
	return -ENOTTY;
}

/* The map handles this file made go with it (handle.c). */
static int cmpdel_release(struct inode *inode, struct file *file)
{
	cmpdel_handles_release(file);
	return 0;
}

static const struct file_operations cmpdel_fops = {
	.owner		= THIS_MODULE,
	.release	= cmpdel_release,
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
	cmpdel_kfuncs_register();
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
