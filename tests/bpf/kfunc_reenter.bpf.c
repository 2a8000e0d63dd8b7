// SPDX-License-Identifier: GPL-2.0
/*
 * Re-entrance: a tracing program running inside the kernel's hash-map
 * code, with a bucket lock held, calls the kfunc.  alloc_htab_elem() (or,
 * where the test sets it, check_and_free_fields()) runs under the bucket
 * lock of the key bpf_map_update_elem() replaces; the program deletes
 * from kr_hash while the test thread updates kr_hash (the same lock:
 * -EAGAIN, never a deadlock) or kr_other (another map's lock: the delete
 * goes through).
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpfcmpdel/kfuncs.bpf.h>

#include "kfunc.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KF_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct kf_value);
} kr_hash SEC(".maps"), kr_other SEC(".maps");

const volatile bool kf_by_handle;
__u32 kr_hash_handle;
__u32 target_tid;
__u32 reenter_key;
__u64 reenter_expected;
bool armed;
int reenter_result = KF_NOT_CALLED;

SEC("fentry/alloc_htab_elem")
int kf_reenter(void *ctx)
{
	__u32 key = reenter_key;

	if (!armed || (__u32)bpf_get_current_pid_tgid() != target_tid)
		return 0;
	armed = false;
	reenter_result = KF_DELETE_U64(&kr_hash, kr_hash_handle, &key, sizeof(key), 0,
				       reenter_expected, 0, 0);
	return 0;
}

char _license[] SEC("license") = "GPL";
