// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF-LSM policy of one process, what /dev/bpfcmpdel must obey as bpf()
 * does: deny BPF_MAP_DELETE_ELEM on one map fd, and the batch commands
 * (BPF_MAP_DELETE_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH) on another, read
 * from the attr as a policy reads them; and keep what the hook was shown
 * of the last update and batch commands, for the test to compare with the
 * request that caused them.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "lsm.h"

__u32 target_pid;
__u32 target_fd;
__u64 denied;
/* Batch commands on this fd are denied, when deny_batch is set. */
__u32 batch_target_fd;
__u32 deny_batch;
__u64 batch_denied;

struct lsm_seen seen_update, seen_delete_batch, seen_lookup_and_delete_batch;

static int see_batch(struct lsm_seen *s, int cmd, const union bpf_attr *attr)
{
	s->cmd = cmd;
	s->map_fd = attr->batch.map_fd;
	s->key = attr->batch.keys;
	s->value = attr->batch.values;
	s->count = attr->batch.count;
	if (!deny_batch || attr->batch.map_fd != batch_target_fd)
		return 0;
	__sync_fetch_and_add(&batch_denied, 1);
	return -EPERM;
}

SEC("lsm/bpf")
int BPF_PROG(policy, int cmd, union bpf_attr *uattr, unsigned int size)
{
	/*
	 * A copy: older verifiers type a direct load from the union by its
	 * first member (BPF_MAP_CREATE's), whatever member is named.
	 */
	union bpf_attr attr;

	if (bpf_get_current_pid_tgid() >> 32 != target_pid)
		return 0;
	if (bpf_probe_read_kernel(&attr, sizeof(attr), uattr))
		return 0;
	switch (cmd) {
	case BPF_MAP_DELETE_ELEM:
		if (attr.map_fd != target_fd)
			return 0;
		__sync_fetch_and_add(&denied, 1);
		return -EPERM;
	case BPF_MAP_UPDATE_ELEM:
		seen_update.cmd = cmd;
		seen_update.map_fd = attr.map_fd;
		seen_update.key = attr.key;
		seen_update.value = attr.value;
		seen_update.flags = attr.flags;
		return 0;
	case BPF_MAP_DELETE_BATCH:
		return see_batch(&seen_delete_batch, cmd, &attr);
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		return see_batch(&seen_lookup_and_delete_batch, cmd, &attr);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
