/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by tests/bpf/ct.bpf.c, ct_gc.bpf.c and their users (demo/ctsim.c). */
#ifndef _BPFCMPDEL_CT_H
#define _BPFCMPDEL_CT_H

#include <linux/types.h>

#define CT_MAX_FLOWS	65536
#define CT_TTL		1000

enum { CT_PLAIN, CT_LOCK, CT_CAS };

struct ct_key {			/* a 5-tuple */
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct ct_entry {
	__u64 lifetime;		/* what the GC judges, compares and swaps */
	__u64 packets;
};

struct ct_locked_entry {
	__u64 lifetime;
	struct bpf_spin_lock lock;
	__u32 flags;
	__u64 packets;
};

/* What a test run feeds the XDP program, after room for an Ethernet header. */
struct ct_packet {
	__u8 eth[16];
	struct ct_key key;
	__u64 now;
};

/*
 * The datapath's map, as ct.bpf.c creates it and ct_gc.bpf.c reuses it
 * (same definition, or libbpf refuses the reuse).
 */
#define CT_LRU_MAP(name)					\
	struct {						\
		__uint(type, BPF_MAP_TYPE_LRU_HASH);		\
		__uint(max_entries, CT_MAX_FLOWS);		\
		__type(key, struct ct_key);			\
		__type(value, struct ct_entry);			\
	} name SEC(".maps")

/* One delete a GC asks of ct_gc.bpf.c, and its result. */
struct ct_gc_args {
	struct ct_key key;
	__u64 lifetime;		/* as the GC's snapshot showed it */
	__u64 tombstone;
	__s32 result;
	__u32 pad;
};

/*
 * One call of ct_gc.bpf.c's sweep: from @cursor, the flows whose lifetime
 * is below @now go, their keys left in its sweep_keys[]; the call's
 * result, counts and where to go on come back.
 */
struct ct_sweep_args {
	__u64 now;
	__u64 tombstone;
	__u64 cursor;		/* in/out */
	__u32 deleted;		/* out: keys in sweep_keys[] */
	__u32 scanned;		/* out */
	__s32 result;
	__u32 pad;
};

#define CT_SWEEP_KEYS	128

#endif /* _BPFCMPDEL_CT_H */
