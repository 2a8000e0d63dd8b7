// SPDX-License-Identifier: GPL-2.0
/*
 * The kfuncs called from each program type they are registered for that
 * BPF_PROG_TEST_RUN can run (syscall, XDP, tc), with the call the test
 * wrote into @call: every map kind, mode and bad argument the ioctl tests
 * use, through the program's own front, and sweeps; the map named as
 * helpers name it, or by handle.
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
/*
 * Set before load: the calls name each map by the handle in @kf_handles,
 * and the map-taking kfuncs are dead code the verifier drops (6.1 has
 * none of them, and refuses a call it cannot resolve).
 */
const volatile bool kf_by_handle;
__u32 kf_handles[NR_KF_MAPS];

static __always_inline int kf_do(void *map, __u32 handle, __u32 ks, __u32 rs,
				 __u32 os)
{
	if (kf_by_handle) {
		if (call.cmd == KF_SWEEP)
			return bpfcmpdel_handle_sweep(handle, call.req, rs, call.out, os);
		if (call.cmd == KF_UPDATE)
			return bpfcmpdel_handle_update(handle, call.key, ks, call.req, rs);
		return bpfcmpdel_handle_delete(handle, call.key, ks, call.req, rs);
	}
	if (call.cmd == KF_SWEEP)
		return bpfcmpdel_sweep(map, call.req, rs, call.out, os);
	if (call.cmd == KF_UPDATE)
		return bpfcmpdel_update(map, call.key, ks, call.req, rs);
	return bpfcmpdel_delete(map, call.key, ks, call.req, rs);
}

/*
 * @spin_locks: the program may use a map whose values hold a bpf_spin_lock
 * (kf_locked), which 6.1 refuses a sleepable (syscall) program even in
 * dead code; a constant, so where false the map is not even named.
 */
static __always_inline void kf_run(bool spin_locks)
{
	__u32 ks = call.key_size, rs = call.req_size, os = call.out_size;
	int ret = KF_NOT_CALLED;

	if (ks > KF_KEY_MAX || rs > KF_REQ_MAX || os > KF_OUT_MAX)
		goto out;
	switch (call.map) {
	case KF_HASH:
		ret = kf_do(&kf_hash, kf_handles[KF_HASH], ks, rs, os);
		break;
	case KF_LRU:
		ret = kf_do(&kf_lru, kf_handles[KF_LRU], ks, rs, os);
		break;
	case KF_PERCPU:
		ret = kf_do(&kf_percpu, kf_handles[KF_PERCPU], ks, rs, os);
		break;
	case KF_LOCKED:
		if (spin_locks)
			ret = kf_do(&kf_locked, kf_handles[KF_LOCKED], ks, rs, os);
		break;
	case KF_ARRAY:
		ret = kf_do(&kf_array, kf_handles[KF_ARRAY], ks, rs, os);
		break;
	case KF_RDONLY:
		ret = kf_do(&kf_rdonly, kf_handles[KF_RDONLY], ks, rs, os);
		break;
	}
out:
	call.result = ret;
	call.runs++;
}

SEC("syscall")
int kf_syscall(void *ctx)
{
	kf_run(false);
	return 0;
}

SEC("xdp")
int kf_xdp(struct xdp_md *ctx)
{
	kf_run(true);
	return XDP_PASS;
}

SEC("tc")
int kf_tc(struct __sk_buff *skb)
{
	kf_run(true);
	return 0;
}

char _license[] SEC("license") = "GPL";
