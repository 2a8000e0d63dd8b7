/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by tests/bpf/kfunc.bpf.c and the tests that load it. */
#ifndef _BPFCMPDEL_TEST_KFUNC_H
#define _BPFCMPDEL_TEST_KFUNC_H

#include <linux/types.h>

/* The maps a call may name, each its own call site (the map is constant). */
enum kf_map {
	KF_HASH,
	KF_LRU,
	KF_PERCPU,
	KF_LOCKED,	/* HASH, values with a bpf_spin_lock */
	KF_ARRAY,	/* not a hash map */
	KF_RDONLY,	/* HASH created BPF_F_RDONLY_PROG */
	NR_KF_MAPS,
};

enum kf_cmd {
	KF_DELETE,
	KF_UPDATE,
	KF_SWEEP,	/* @req is a struct bpfcmpdel_ksweep, @out the keys */
};

#define KF_KEY_MAX	16
#define KF_REQ_MAX	512	/* the header and a per-CPU snapshot */
#define KF_MAX_ENTRIES	64
#define KF_OUT_MAX	(KF_MAX_ENTRIES * 4)	/* every __u32 key of a map */

struct kf_value {
	__u64 lifetime;
	__u64 created;
};

struct kf_locked_value {
	__u64 lifetime;
	struct bpf_spin_lock lock;
};

/*
 * One kfunc call, set up by the test in the program's .bss, made by
 * whichever program the test runs, and answered in @result.
 */
struct kf_call {
	__u32 map;		/* enum kf_map */
	__u32 cmd;		/* enum kf_cmd */
	__u32 key_size;		/* @key__sz */
	__u32 req_size;		/* @req__sz */
	__u8 key[KF_KEY_MAX];
	__u64 req[KF_REQ_MAX / 8];	/* struct bpfcmpdel_kreq and its bytes */
	__u32 out_size;		/* KF_SWEEP: @keys__sz */
	__u8 out[KF_OUT_MAX];	/* KF_SWEEP: the deleted keys */
	__s32 result;
	__u32 runs;
};

/*
 * bpfcmpdel_delete_u64() on @map, or by @handle where the loader set the
 * program's const volatile kf_by_handle (no kfunc takes a map on 6.1; the
 * other call is dead code the verifier drops).
 */
#define KF_DELETE_U64(map, handle, ...)					\
	(kf_by_handle ? bpfcmpdel_handle_delete_u64(handle, __VA_ARGS__) :	\
			bpfcmpdel_delete_u64(map, __VA_ARGS__))

/* Not a result any kfunc returns: the program did not call one. */
#define KF_NOT_CALLED	1

#endif /* _BPFCMPDEL_TEST_KFUNC_H */
