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

/* One delete a GC asks of ct_gc.bpf.c, and its result. */
struct ct_gc_args {
	struct ct_key key;
	__u64 lifetime;		/* as the GC's snapshot showed it */
	__u64 tombstone;
	__s32 result;
	__u32 pad;
};

#endif /* _BPFCMPDEL_CT_H */
