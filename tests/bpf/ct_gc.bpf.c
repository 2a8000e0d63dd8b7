// SPDX-License-Identifier: GPL-2.0
/*
 * Conntrack GCs in BPF programs.  gc_map_delete and gc_kfunc_tombstone
 * make a GC's delete as Calico's cleaner makes it (user space scans, a
 * program deletes): run with BPF_PROG_RUN on one flow the GC's snapshot
 * showed expired, on the datapath's own map (the loader reuses ct.bpf.c's
 * ct_lru).  Either with bpf_map_delete_elem(), as unconditional as the
 * syscall, or with bpfcmpdel's kfunc in tombstone mode against the
 * lifetime the snapshot showed.  gc_kfunc_sweep and ct_clean need no
 * snapshot: the sweep kfunc over a range of buckets a call, and a whole
 * cleaner in the kernel, a map-element iterator over any CT map.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpfcmpdel/kfuncs.bpf.h>

#include "ct.h"

CT_LRU_MAP(ct_lru);

/*
 * Set before load where no kfunc takes a map (6.1): the kfunc GCs name
 * ct_lru (ct_clean: the map it walks) by @ct_handle, which the loader
 * made for it.
 */
const volatile bool gc_by_handle;
__u32 ct_handle;

SEC("syscall")
int gc_map_delete(struct ct_gc_args *args)
{
	struct ct_key key = args->key;

	args->result = bpf_map_delete_elem(&ct_lru, &key);
	return 0;
}

SEC("syscall")
int gc_kfunc_tombstone(struct ct_gc_args *args)
{
	struct ct_key key = args->key;

	if (gc_by_handle)
		args->result = bpfcmpdel_handle_delete_u64(ct_handle, &key, sizeof(key), 0,
							   args->lifetime,
							   BPFCMPDEL_F_TOMBSTONE,
							   args->tombstone);
	else
		args->result = bpfcmpdel_delete_u64(&ct_lru, &key, sizeof(key), 0,
						    args->lifetime, BPFCMPDEL_F_TOMBSTONE,
						    args->tombstone);
	return 0;
}

/* gc_kfunc_sweep: the keys of what its last call deleted. */
struct ct_key sweep_keys[CT_SWEEP_KEYS];

/*
 * A GC with no snapshot at all: the sweep kfunc walks the buckets from the
 * cursor, and under each bucket's lock swaps each expired lifetime to the
 * tombstone and deletes the flow if that worked, handing back its key (a
 * cleaner would drop its NAT entries next).
 */
SEC("syscall")
int gc_kfunc_sweep(struct ct_sweep_args *args)
{
	struct bpfcmpdel_ksweep req = {
		.flags = BPFCMPDEL_F_TOMBSTONE,
		.cursor = args->cursor,
		.threshold = args->now,
		.tombstone = args->tombstone,
		.field_offset = 0,	/* struct ct_entry's lifetime */
		.field_size = sizeof(__u64),
		.budget = BPFCMPDEL_KSWEEP_BUDGET_MAX,
	};

	if (gc_by_handle)
		args->result = bpfcmpdel_handle_sweep(ct_handle, &req, sizeof(req),
						      sweep_keys, sizeof(sweep_keys));
	else
		args->result = bpfcmpdel_sweep((struct bpf_map *)&ct_lru, &req, sizeof(req),
					       sweep_keys, sizeof(sweep_keys));
	args->cursor = req.cursor;
	args->deleted = req.nr_deleted;
	args->scanned = req.nr_scanned;
	return 0;
}

/* The iterator's context, as the kernel lays it out (one pointer each). */
struct bpf_iter_meta;
struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
};

/* ct_clean: what expired means, and what it did. */
__u64 clean_now;
__u64 clean_tombstone;
__u32 clean_scanned, clean_deleted, clean_kept, clean_other;

/*
 * Each flow whose lifetime has passed is deleted if that lifetime is still
 * the one read: a datapath refresh in between (a compare-and-swap, which
 * the tombstone makes fail once the GC has won) keeps it.
 */
SEC("iter/bpf_map_elem")
int ct_clean(struct bpf_iter__bpf_map_elem *ctx)
{
	const struct ct_entry *entry = ctx->value;
	struct ct_key key;
	__u64 seen;
	int ret;

	if (!ctx->key || !entry)
		return 0;
	clean_scanned++;
	seen = entry->lifetime;
	/* A tombstone: another GC's delete of it is under way. */
	if (seen >= clean_now || seen == clean_tombstone)
		return 0;
	__builtin_memcpy(&key, ctx->key, sizeof(key));
	if (gc_by_handle)
		ret = bpfcmpdel_handle_delete_u64(ct_handle, &key, sizeof(key), 0, seen,
						  BPFCMPDEL_F_TOMBSTONE, clean_tombstone);
	else
		ret = bpfcmpdel_delete_u64(ctx->map, &key, sizeof(key), 0, seen,
					   BPFCMPDEL_F_TOMBSTONE, clean_tombstone);
	if (!ret)
		clean_deleted++;
	else if (ret == -EBUSY || ret == -ENOENT)
		clean_kept++;
	else
		clean_other++;
	return 0;
}

char _license[] SEC("license") = "GPL";
