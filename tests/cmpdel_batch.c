// SPDX-License-Identifier: GPL-2.0
/*
 * Batch compare-and-delete: sizes past a chunk, faults part-way, the same
 * outcome as single requests, modes and snapshots, bad requests.
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- batch compare-and-delete -------------------------------------------- */

static int batch_want(unsigned char pick)
{
	return pick == B_CURRENT ? 0 : pick == B_STALE ? -EBUSY : -ENOENT;
}

static void batch_sizes(struct __test_metadata *_metadata, enum bpf_map_type type,
			__u32 flags, __u32 n)
{
	unsigned char *keys = calloc(n, 16), *pick = calloc(n, 1), k[16];
	__u64 *expected = calloc(n, 8), v[3];
	__s32 *results = calloc(n, 4);
	__u32 i, count = n;
	int fd;

	ASSERT_TRUE(keys && pick && expected && results);
	/* LRU maps evict before they are full: room, and one CPU's lists. */
	ASSERT_EQ(0, pin_to_cpu(0));
	fd = batch_map(type, flags, type == BPF_MAP_TYPE_LRU_HASH ? 4 * n + 1024 : n + 16);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, batch_fill(fd, n));
	for (i = 0; i < n; i++)
		pick[i] = i % 5 == 1 ? B_STALE : i % 7 == 3 ? B_ABSENT : B_CURRENT;
	batch_build(n, n, pick, keys, expected);
	ASSERT_EQ(0, bpfcmpdel_delete_batch(fd, keys, expected, results, &count,
					    8, 8, NULL));
	EXPECT_EQ(n, count);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(batch_want(pick[i]), results[i]) TH_LOG("element %u of %u", i, n);
		batch_key(k, i);
		/* Kept: stale ones, and those whose slot held an absent key. */
		EXPECT_EQ(pick[i] != B_CURRENT, !bpf_map_lookup_elem(fd, k, v))
			TH_LOG("element %u of %u", i, n);
	}
	close(fd);
	free(keys);
	free(pick);
	free(expected);
	free(results);
}

/* Fifteen maps' worth: a debug kernel needs more than the default 30 s. */
FIXTURE(batch_sizes) {
	int unused;
};

FIXTURE_SETUP(batch_sizes)
{
}

FIXTURE_TEARDOWN(batch_sizes)
{
}

TEST_F_TIMEOUT(batch_sizes, one_many_and_past_a_chunk, 600)
{
	static const __u32 sizes[] = { 1, 200, 256, 257, 3000 };
	__u32 i;

	REQUIRE_DEVICE();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		batch_sizes(_metadata, BPF_MAP_TYPE_HASH, 0, sizes[i]);
		batch_sizes(_metadata, BPF_MAP_TYPE_LRU_HASH, 0, sizes[i]);
		batch_sizes(_metadata, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, sizes[i]);
	}
}

/* Keys run into an unmapped page at element 256: the second chunk. */
TEST(batch_fault_part_way_reports_progress)
{
	long page = sysconf(_SC_PAGESIZE);
	__u32 n = 300, count = n, i;
	unsigned char *keys, k[16];
	__u64 *expected = calloc(n, 8), v[3];
	__s32 *results = calloc(n, 4);
	unsigned char pick[300] = {};
	int fd;

	REQUIRE_DEVICE();
	ASSERT_EQ(4096, page);
	keys = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, keys);
	fd = batch_map(BPF_MAP_TYPE_HASH, 0, 512);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, batch_fill(fd, n));
	batch_build(256, n, pick, keys, expected);
	for (i = 256; i < n; i++)
		expected[i] = i * 3ULL;
	ASSERT_EQ(0, munmap(keys + page, page));
	EXPECT_EQ(-EFAULT, bpfcmpdel_delete_batch(fd, keys, expected, results,
						  &count, 8, 8, NULL));
	EXPECT_EQ(256, count);
	for (i = 0; i < n; i++) {
		batch_key(k, i);
		EXPECT_EQ(i >= 256, !bpf_map_lookup_elem(fd, k, v)) TH_LOG("element %u", i);
		if (i < 256) {
			EXPECT_EQ(0, results[i]);
		}
	}
	munmap(keys, page);
	close(fd);
	free(expected);
	free(results);
}

/* The same random input through the batch and one by one: same outcome. */
TEST(batch_matches_single_ops)
{
	__u32 n = 1000, count = n, i;
	unsigned char *keys = calloc(n, 16), *pick = calloc(n, 1), k[16];
	__u64 *expected = calloc(n, 8), v[3];
	__s32 *results = calloc(n, 4);
	unsigned int seed = 42;
	int fb, fs, single;

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && pick && expected && results);
	fb = batch_map(BPF_MAP_TYPE_HASH, 0, 2 * n);
	fs = batch_map(BPF_MAP_TYPE_HASH, 0, 2 * n);
	ASSERT_GE(fb, 0);
	ASSERT_GE(fs, 0);
	ASSERT_EQ(0, batch_fill(fb, n));
	ASSERT_EQ(0, batch_fill(fs, n));
	for (i = 0; i < n; i++)
		pick[i] = rand_r(&seed) % 3;
	batch_build(n, n, pick, keys, expected);
	ASSERT_EQ(0, bpfcmpdel_delete_batch(fb, keys, expected, results, &count,
					    8, 8, NULL));
	for (i = 0; i < n; i++) {
		single = bpfcmpdel_delete(fs, keys + 16 * i, &expected[i], 8, 8, NULL);
		EXPECT_EQ(single, results[i]) TH_LOG("element %u", i);
		batch_key(k, i);
		EXPECT_EQ(!bpf_map_lookup_elem(fb, k, v), !bpf_map_lookup_elem(fs, k, v));
	}
	close(fb);
	close(fs);
	free(keys);
	free(pick);
	free(expected);
	free(results);
}

TEST(batch_modes_and_snapshots)
{
	BPFCMPDEL_OPTS(ts, .flags = BPFCMPDEL_F_TOMBSTONE, .tombstone = ~0ULL);
	BPFCMPDEL_OPTS(snap, .flags = BPFCMPDEL_F_SNAPSHOT);
	__u32 n = 40, count, i;
	unsigned char keys[40 * 16], pick[40] = {};
	__u64 expected[40], snaps[40][3];
	__s32 results[40];
	__u64 *pc;
	int fd, ncpus = libbpf_num_possible_cpus();

	REQUIRE_DEVICE();
	fd = batch_map(BPF_MAP_TYPE_HASH, 0, 64);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, batch_fill(fd, n));
	batch_build(n, n, pick, keys, expected);
	expected[3] = ~0ULL;	/* equal to the tombstone: that element alone */
	count = n;
	ASSERT_EQ(0, bpfcmpdel_delete_batch(fd, keys, expected, results, &count,
					    8, 8, &ts));
	for (i = 0; i < n; i++)
		EXPECT_EQ(i == 3 ? -EINVAL : 0, results[i]) TH_LOG("element %u", i);
	close(fd);

	/* Lookup snapshots as the expected entries. */
	fd = batch_map(BPF_MAP_TYPE_LRU_HASH, 0, 64);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, batch_fill(fd, n));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, bpf_map_lookup_elem(fd, keys + 16 * i, snaps[i]));
	snaps[5][2] ^= 1;	/* outside the region: still deleted */
	snaps[6][1] ^= 1;	/* inside: kept */
	count = n;
	ASSERT_EQ(0, bpfcmpdel_delete_batch(fd, keys, snaps, results, &count, 8, 8,
					    &snap));
	for (i = 0; i < n; i++)
		EXPECT_EQ(i == 6 ? -EBUSY : 0, results[i]) TH_LOG("element %u", i);
	close(fd);

	/* Per-CPU snapshots: one slot per possible CPU each. */
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_bpc", 16, 8, 64, NULL);
	ASSERT_GE(fd, 0);
	pc = calloc((size_t)n * ncpus, 8);
	ASSERT_NE(NULL, pc);
	for (i = 0; i < n * ncpus; i++)
		pc[i] = i;
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, bpf_map_update_elem(fd, keys + 16 * i, pc + i * ncpus, 0));
	pc[7 * ncpus + ncpus - 1] ^= 1;	/* the last CPU of element 7 */
	count = n;
	ASSERT_EQ(0, bpfcmpdel_delete_batch(fd, keys, pc, results, &count, 0, 8,
					    &snap));
	for (i = 0; i < n; i++)
		EXPECT_EQ(i == 7 ? -EBUSY : 0, results[i]) TH_LOG("element %u", i);
	free(pc);
	close(fd);
}

TEST(batch_bad_requests)
{
	struct bpfcmpdel_batch_req req = { .size = sizeof(req) };
	unsigned char key[16];
	__u64 e = 0;
	__s32 r;
	int fd;

	REQUIRE_DEVICE();
	fd = batch_map(BPF_MAP_TYPE_HASH, 0, 8);
	ASSERT_GE(fd, 0);
	req.map_fd = fd;
	req.keys = (__u64)(uintptr_t)key;
	req.expected = (__u64)(uintptr_t)&e;
	req.results = (__u64)(uintptr_t)&r;
	req.count = 1;
	req.compare_size = 8;
	req.count = BPFCMPDEL_BATCH_MAX + 1;
	EXPECT_EQ(-E2BIG, raw_ioctl(BPFCMPDEL_IOC_DELETE_BATCH, &req));
	req.count = 1;
	req.compare_size = 0;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE_BATCH, &req));
	req.compare_size = 8;
	req.compare_offset = 20;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE_BATCH, &req));
	req.compare_offset = 0;
	req.flags = 1ULL << 40;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE_BATCH, &req));
	req.flags = 0;
	req.count = 0;
	EXPECT_EQ(0, raw_ioctl(BPFCMPDEL_IOC_DELETE_BATCH, &req));
	close(fd);
}
