// SPDX-License-Identifier: GPL-2.0
/*
 * The kfuncs called from each program type they are registered for that
 * BPF_PROG_TEST_RUN can run (syscall, XDP, tc), with the call the test
 * wrote into @call: every map kind, mode and bad argument the ioctl tests
 * use, through the program's own front, and sweeps.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpfcmpdel/kfuncs.bpf.h>

#include "kfunc.h"

#define KF_HASH_MAP(name, map_type, value_type, flags)		\
	struct {						\
		__uint(type, map_type);				\
		__uint(max_entries, KF_MAX_ENTRIES);		\
		__uint(map_flags, flags);			\
		__type(key, __u32);				\
		__type(value, value_type);			\
	} name SEC(".maps")

KF_HASH_MAP(kf_hash, BPF_MAP_TYPE_HASH, struct kf_value, 0);
KF_HASH_MAP(kf_lru, BPF_MAP_TYPE_LRU_HASH, struct kf_value, 0);
KF_HASH_MAP(kf_percpu, BPF_MAP_TYPE_PERCPU_HASH, struct kf_value, 0);
KF_HASH_MAP(kf_locked, BPF_MAP_TYPE_HASH, struct kf_locked_value, 0);
KF_HASH_MAP(kf_array, BPF_MAP_TYPE_ARRAY, struct kf_value, 0);
KF_HASH_MAP(kf_rdonly, BPF_MAP_TYPE_HASH, struct kf_value, BPF_F_RDONLY_PROG);

struct kf_call call;

static __always_inline int kf_do(void *map, __u32 ks, __u32 rs, __u32 os)
{
	if (call.cmd == KF_SWEEP)
		return bpfcmpdel_sweep(map, call.req, rs, call.out, os);
	if (call.cmd == KF_UPDATE)
		return bpfcmpdel_update(map, call.key, ks, call.req, rs);
	return bpfcmpdel_delete(map, call.key, ks, call.req, rs);
}

static __always_inline void kf_run(void)
{
	__u32 ks = call.key_size, rs = call.req_size, os = call.out_size;
	int ret = KF_NOT_CALLED;

	if (ks > KF_KEY_MAX || rs > KF_REQ_MAX || os > KF_OUT_MAX)
		goto out;
	switch (call.map) {
	case KF_HASH:
		ret = kf_do(&kf_hash, ks, rs, os);
		break;
	case KF_LRU:
		ret = kf_do(&kf_lru, ks, rs, os);
		break;
	case KF_PERCPU:
		ret = kf_do(&kf_percpu, ks, rs, os);
		break;
	case KF_LOCKED:
		ret = kf_do(&kf_locked, ks, rs, os);
		break;
	case KF_ARRAY:
		ret = kf_do(&kf_array, ks, rs, os);
		break;
	case KF_RDONLY:
		ret = kf_do(&kf_rdonly, ks, rs, os);
		break;
	}
out:
	call.result = ret;
	call.runs++;
}

SEC("syscall")
int kf_syscall(void *ctx)
{
	kf_run();
	return 0;
}

SEC("xdp")
int kf_xdp(struct xdp_md *ctx)
{
	kf_run();
	return XDP_PASS;
}

SEC("tc")
int kf_tc(struct __sk_buff *skb)
{
	kf_run();
	return 0;
}

char _license[] SEC("license") = "GPL";
