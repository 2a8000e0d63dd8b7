// SPDX-License-Identifier: GPL-2.0
/*
 * Crosswise: two threads on two CPUs update maps A and B, each map one
 * bucket; a tracing program inside alloc_htab_elem() (or where the test
 * sets it), with the updated map's bucket lock held, calls the kfunc on the *other* map.  Each CPU
 * holds one lock and wants the other's (ABBA): the kfunc must answer
 * -EAGAIN, never spin forever.  The compares expect a lifetime no element
 * has, so nothing is deleted and both maps keep their element.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpfcmpdel/kfuncs.bpf.h>

#include "kfunc.h"

#define EAGAIN	11
#define EBUSY	16

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);		/* one bucket: one lock a map */
	__type(key, __u32);
	__type(value, struct kf_value);
} kc_a SEC(".maps"), kc_b SEC(".maps");

const volatile bool kf_by_handle;
__u32 kc_a_handle, kc_b_handle;
__u32 tid_a, tid_b;		/* the threads updating kc_a and kc_b */
__u64 calls_a, calls_b;		/* kfunc calls each thread's updates made */
__u64 refused;			/* -EAGAIN */
__u64 unexpected;		/* anything but -EAGAIN and -EBUSY */

SEC("fentry/alloc_htab_elem")
int kf_cross(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), key = 0;
	int ret;

	if (tid == tid_a) {
		ret = KF_DELETE_U64(&kc_b, kc_b_handle, &key, sizeof(key), 0, 0, 0, 0);
		__sync_fetch_and_add(&calls_a, 1);
	} else if (tid == tid_b) {
		ret = KF_DELETE_U64(&kc_a, kc_a_handle, &key, sizeof(key), 0, 0, 0, 0);
		__sync_fetch_and_add(&calls_b, 1);
	} else {
		return 0;
	}
	if (ret == -EAGAIN)
		__sync_fetch_and_add(&refused, 1);
	else if (ret != -EBUSY)
		__sync_fetch_and_add(&unexpected, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
