// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF-LSM policy denying BPF_MAP_DELETE_ELEM on one map fd of one
 * process: what /dev/bpfcmpdel must obey as bpf() does.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u32 target_pid;
__u32 target_fd;
__u64 denied;

SEC("lsm/bpf")
int BPF_PROG(deny_delete, int cmd, union bpf_attr *attr, unsigned int size)
{
	if (cmd != BPF_MAP_DELETE_ELEM ||
	    bpf_get_current_pid_tgid() >> 32 != target_pid ||
	    attr->map_fd != target_fd)
		return 0;
	__sync_fetch_and_add(&denied, 1);
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
