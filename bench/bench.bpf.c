// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel alternatives the benchmark measures, against the map
 * `table` (its type, flags and size are set before load):
 *   del_one      BPF_PROG_TYPE_SYSCALL: look up one key, compare the
 *                lifetime, delete -- upstream's second suggestion, run
 *                once per key
 *   del_batch    the same over an array of keys in one run
 *   walk         bpf_for_each_map_elem() deleting what expired, as
 *                Calico's in-kernel conntrack cleaner works
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bench.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_value);
} table SEC(".maps");

SEC("syscall")
int del_one(struct bench_one *ctx)
{
	__u32 key = ctx->key;	/* helpers take keys from the stack */
	struct bench_value *v = bpf_map_lookup_elem(&table, &key);

	if (!v || v->lifetime != ctx->expected)
		return 1;
	return bpf_map_delete_elem(&table, &key) ? 1 : 0;
}

/* The batch, written by userspace straight into the mmapped .bss. */
struct bench_batch batch;

static long del_batch_one(__u32 i, void *unused)
{
	struct bench_value *v;
	__u32 key;

	if (i >= BENCH_PROG_BATCH)
		return 1;
	key = batch.keys[i];
	v = bpf_map_lookup_elem(&table, &key);
	if (v && v->lifetime == batch.expected[i] && !bpf_map_delete_elem(&table, &key))
		batch.deleted++;
	return 0;
}

SEC("syscall")
int del_batch(void *ctx)
{
	__u32 n = batch.count < BENCH_PROG_BATCH ? batch.count : BENCH_PROG_BATCH;

	bpf_loop(n, del_batch_one, NULL, 0);
	return 0;
}

__u64 threshold;
__u64 walked_deleted;

static long walk_one(void *map, __u32 *key, struct bench_value *v, void *ctx)
{
	if (v->lifetime < threshold && !bpf_map_delete_elem(map, key))
		walked_deleted++;
	return 0;
}

SEC("syscall")
int walk(void *ctx)
{
	bpf_for_each_map_elem(&table, walk_one, NULL, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
