// SPDX-License-Identifier: GPL-2.0
/*
 * The largest values the kernel allows, through the requests that copy
 * many of them per call: hash values of nearly 4 MiB through a batch and a
 * value sweep, per-CPU values of 32 KiB (times every possible CPU) through
 * a batch.  The module must size its buffers by bytes, not by a fixed
 * count of elements: results right, and no allocator warning in the log
 * (the VM fails the run on one).  Run once more in a VM booted with
 * possible_cpus=256, where a per-CPU snapshot alone is 8 MiB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "kselftest_harness.h"

#define REQUIRE_DEVICE()						\
	do {								\
		if (access(BPFCMPDEL_DEVICE, F_OK))			\
			SKIP(return, BPFCMPDEL_DEVICE " absent: module not loaded"); \
	} while (0)

/* Elements per map; the values' u64 at offset 8 is the element's number. */
#define N 3
#define LIFE_OFF 8

/*
 * A hash map with the largest value size the kernel takes: hashtab.c
 * refuses values that would not fit a kmalloc with the key and element
 * header (KMALLOC_MAX_SIZE, 4 MiB here), a limit no header exports.
 */
static __u32 largest_hash_value;

static int largest_hash(void)
{
	__u32 vs;
	int fd;

	for (vs = (4U << 20) - 512; vs > (4U << 20) - 4096; vs -= 8) {
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_big", 4, vs, N, NULL);
		if (fd >= 0) {
			largest_hash_value = vs;
			return fd;
		}
		if (errno != E2BIG && errno != ENOMEM)
			return -1;
	}
	return -1;
}

static void fill(unsigned char *v, size_t len, __u32 id)
{
	size_t b;

	for (b = 0; b < len; b++)
		v[b] = (unsigned char)(id * 31 + b * 7);
	if (len >= LIFE_OFF + 8)
		memcpy(v + LIFE_OFF, &(__u64){ id }, 8);
}

static int insert_all(int fd, unsigned char *v, __u32 vs, __u32 slots, __u32 stride)
{
	__u32 id, s;

	for (id = 0; id < N; id++) {
		for (s = 0; s < slots; s++)
			fill(v + (size_t)s * stride, vs, id + s);
		if (bpf_map_update_elem(fd, &id, v, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

TEST(largest_hash_values_through_batch_and_sweep)
{
	int fd = largest_hash();
	const __u32 vs = largest_hash_value;
	unsigned char *snap, *vals, *want;
	__u32 id, keys[N], nr, count = N;
	__s32 results[N];
	__u64 cursor = 0;

	REQUIRE_DEVICE();
	ASSERT_GE(fd, 0) TH_LOG("no hash map with values near 4 MiB: %s", strerror(errno));
	TH_LOG("value size %u", vs);
	snap = malloc((size_t)N * vs);
	vals = malloc((size_t)N * vs);
	want = malloc(vs);
	ASSERT_TRUE(snap && vals && want);

	/* A batch of snapshots, as bpfcmpdel_gc_snapshot() passes them. */
	ASSERT_EQ(0, insert_all(fd, want, vs, 1, vs));
	for (id = 0; id < N; id++) {
		keys[id] = id;
		ASSERT_EQ(0, bpf_map_lookup_elem(fd, &id, snap + (size_t)id * vs));
	}
	BPFCMPDEL_OPTS(o, .flags = BPFCMPDEL_F_SNAPSHOT);
	ASSERT_EQ(0, bpfcmpdel_delete_batch(fd, keys, snap, results, &count, 0, vs, &o));
	EXPECT_EQ(N, count);
	for (id = 0; id < N; id++) {
		EXPECT_EQ(0, results[id]) TH_LOG("element %u", id);
		EXPECT_NE(0, bpf_map_lookup_elem(fd, &id, want)) TH_LOG("element %u", id);
	}

	/* A sweep handing every value back. */
	ASSERT_EQ(0, insert_all(fd, want, vs, 1, vs));
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .values = vals, .max_out = N);
	while (cursor != BPFCMPDEL_SWEEP_END) {
		ASSERT_EQ(0, bpfcmpdel_sweep(fd, &cursor, LIFE_OFF, 8, N, &nr, &so));
		for (id = 0; id < nr; id++) {
			ASSERT_LT(keys[id], N);
			fill(want, vs, keys[id]);
			EXPECT_EQ(0, memcmp(want, vals + (size_t)id * vs, vs))
				TH_LOG("element %u", keys[id]);
		}
		count -= nr;
	}
	EXPECT_EQ(0, count);
	close(fd);
	free(snap);
	free(vals);
	free(want);
}

/* 32 KiB is the most a per-CPU value may be (PCPU_MIN_UNIT_SIZE). */
#define PCPU_VALUE (32U << 10)

TEST(largest_percpu_values_through_batch)
{
	int ncpus = libbpf_num_possible_cpus(), fd;
	__u32 id, keys[N], count = N;
	size_t snap_size;
	__s32 results[N];
	unsigned char *snap;

	REQUIRE_DEVICE();
	ASSERT_GT(ncpus, 0);
	TH_LOG("%d possible CPUs: %zu bytes a snapshot", ncpus, (size_t)ncpus * PCPU_VALUE);
	snap_size = (size_t)ncpus * PCPU_VALUE;
	snap = malloc(N * snap_size);
	ASSERT_NE(NULL, snap);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_bigpc", 4, PCPU_VALUE, N,
			    NULL);
	ASSERT_GE(fd, 0) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, insert_all(fd, snap, PCPU_VALUE, ncpus, PCPU_VALUE));
	for (id = 0; id < N; id++) {
		keys[id] = id;
		ASSERT_EQ(0, bpf_map_lookup_elem(fd, &id, snap + id * snap_size));
	}
	/* The last CPU's slot of element 1 changed: only that one is kept. */
	snap[snap_size + snap_size - 1] ^= 1;
	BPFCMPDEL_OPTS(o, .flags = BPFCMPDEL_F_SNAPSHOT);
	ASSERT_EQ(0, bpfcmpdel_delete_batch(fd, keys, snap, results, &count, 0,
					    PCPU_VALUE, &o));
	EXPECT_EQ(N, count);
	for (id = 0; id < N; id++) {
		EXPECT_EQ(id == 1 ? -EBUSY : 0, results[id]) TH_LOG("element %u", id);
		EXPECT_EQ(id == 1, !bpf_map_lookup_elem(fd, &id, snap));
	}
	close(fd);
	free(snap);
}

TEST_HARNESS_MAIN
