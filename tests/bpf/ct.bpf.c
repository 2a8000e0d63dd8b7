// SPDX-License-Identifier: GPL-2.0
/*
 * A conntrack datapath in miniature, run with BPF_PROG_TEST_RUN: a packet
 * names a flow and the current time; the program refreshes the flow's
 * lifetime in place, as Cilium's datapath does, or creates the flow if it
 * is missing.  How it refreshes is the protocol under test:
 *   CT_PLAIN      a plain store through the lookup pointer
 *   CT_LOCK       the store under the value's bpf_spin_lock (HASH map:
 *                 LRU maps take no spin locks)
 *   CT_CAS        a compare-and-swap of the lifetime word; a word holding
 *                 the GC's tombstone means "gone": the flow is created
 *                 afresh, as on a miss
 * Every completed refresh or creation is recorded in @refreshed, which the
 * GC never touches: the datapath's own account of what it kept alive.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ct.h"

CT_LRU_MAP(ct_lru);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CT_MAX_FLOWS);
	__type(key, struct ct_key);
	__type(value, struct ct_locked_entry);
} ct_locked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CT_MAX_FLOWS);
	__type(key, struct ct_key);
	__type(value, __u64);
} refreshed SEC(".maps");

__u32 mode;
__u64 tombstone;
__u64 created;

/* true: refreshed; false: the flow is gone (tombstone), create it. */
static bool refresh_plain(struct ct_key *key, __u64 life, bool *missing)
{
	struct ct_entry *e = bpf_map_lookup_elem(&ct_lru, key);
	__u64 old;
	int i;

	*missing = !e;
	if (!e)
		return false;
	if (mode == CT_PLAIN) {
		e->lifetime = life;
		return true;
	}
	/* Unrolled: no loop to prove bounded, on any kernel. */
#pragma clang loop unroll(full)
	for (i = 0; i < 4; i++) {
		old = *(volatile __u64 *)&e->lifetime;
		if (old == tombstone) {
			*missing = true;
			return false;
		}
		if (__sync_val_compare_and_swap(&e->lifetime, old, life) == old)
			return true;
	}
	return false;
}

static bool refresh_locked(struct ct_key *key, __u64 life, bool *missing)
{
	struct ct_locked_entry *e = bpf_map_lookup_elem(&ct_locked, key);

	*missing = !e;
	if (!e)
		return false;
	bpf_spin_lock(&e->lock);
	e->lifetime = life;
	bpf_spin_unlock(&e->lock);
	return true;
}

static int create(struct ct_key *key, __u64 life)
{
	struct ct_locked_entry le = { .lifetime = life };
	struct ct_entry e = { .lifetime = life };

	__sync_fetch_and_add(&created, 1);
	if (mode == CT_LOCK)
		return bpf_map_update_elem(&ct_locked, key, &le, BPF_NOEXIST);
	return bpf_map_update_elem(&ct_lru, key, &e, BPF_NOEXIST);
}

SEC("xdp")
int datapath(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ct_packet *p = data;
	struct ct_key key;
	bool done, missing;
	__u64 life;
	int i;

	if ((void *)(p + 1) > end)
		return XDP_ABORTED;
	key = p->key;
	life = p->now + CT_TTL;
#pragma clang loop unroll(full)
	for (i = 0; i < 3; i++) {
		if (mode == CT_LOCK)
			done = refresh_locked(&key, life, &missing);
		else
			done = refresh_plain(&key, life, &missing);
		if (done)
			break;
		/* A creation racing another one just looks again. */
		if (missing && !create(&key, life)) {
			done = true;
			break;
		}
	}
	if (!done)
		return XDP_DROP;
	bpf_map_update_elem(&refreshed, &key, &life, BPF_ANY);
	return XDP_PASS;
}

/* An in-place atomic writer for the compare-and-swap tests: packets++. */
SEC("xdp")
int bump(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ct_packet *p = data;
	struct ct_entry *e;

	if ((void *)(p + 1) > end)
		return XDP_ABORTED;
	e = bpf_map_lookup_elem(&ct_lru, &p->key);
	if (!e)
		return XDP_DROP;
	__sync_fetch_and_add(&e->packets, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
