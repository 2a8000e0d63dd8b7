// SPDX-License-Identifier: GPL-2.0
/*
 * A GC driven by a bpf_timer: the callback, run by the timer in softirq
 * context, deletes with the kfunc in tombstone mode.  The callback is
 * verified as part of the program that armed it (tc here), so it may call
 * what that program type may.  PREEMPT_RT kernels refuse bpf_timer.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpfcmpdel/kfuncs.bpf.h>

#include "kfunc.h"

#define CLOCK_MONOTONIC 1

struct tick {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tick);
} kt_timers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KF_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct kf_value);
} kt_hash SEC(".maps");

const volatile bool kf_by_handle;
__u32 kt_hash_handle;
__u32 gc_key;
__u64 gc_expected;
int gc_result = KF_NOT_CALLED;

static int gc_tick(void *map, __u32 *k, struct tick *t)
{
	__u32 key = gc_key;

	gc_result = KF_DELETE_U64(&kt_hash, kt_hash_handle, &key, sizeof(key), 0,
				  gc_expected, BPFCMPDEL_F_TOMBSTONE, ~0ULL);
	return 0;
}

SEC("tc")
int arm_gc(struct __sk_buff *skb)
{
	struct tick *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&kt_timers, &zero);
	if (!t)
		return 1;
	return bpf_timer_init(&t->timer, &kt_timers, CLOCK_MONOTONIC) ?:
	       bpf_timer_set_callback(&t->timer, gc_tick) ?:
	       bpf_timer_start(&t->timer, 0, 0);
}

char _license[] SEC("license") = "GPL";
