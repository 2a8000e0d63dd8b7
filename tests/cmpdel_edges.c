// SPDX-License-Identifier: GPL-2.0
/*
 * Edges where nothing deleted may go unreported: outputs that cannot be
 * written, and bucket locks not taken (-EAGAIN, the module's test hook).
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- nothing deleted goes unreported: outputs that cannot be written ---- */

/* Past one chunk (256): a round that fails after one that worked. */
#define EDGE_N 300
/* Every element of batch_fill(EDGE_N) has its u64 at 8 below this. */
#define EDGE_ALL_EXPIRED (3ULL * EDGE_N)

FIXTURE(edges) {
	int fd;
	size_t page;
};

FIXTURE_VARIANT(edges) {
	enum bpf_map_type type;
	__u32 flags;
};

FIXTURE_VARIANT_ADD(edges, hash) { .type = BPF_MAP_TYPE_HASH };
FIXTURE_VARIANT_ADD(edges, hash_noprealloc) {
	.type = BPF_MAP_TYPE_HASH, .flags = BPF_F_NO_PREALLOC,
};
FIXTURE_VARIANT_ADD(edges, lru) { .type = BPF_MAP_TYPE_LRU_HASH };

FIXTURE_SETUP(edges)
{
	self->page = sysconf(_SC_PAGESIZE);
	/* LRU maps: one CPU's free lists, room enough to evict nothing. */
	ASSERT_EQ(0, pin_to_cpu(0));
	self->fd = batch_map(variant->type, variant->flags, 4 * EDGE_N);
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, batch_fill(self->fd, EDGE_N));
}

FIXTURE_TEARDOWN(edges)
{
	close(self->fd);
}

/* Elements in the map, by iteration. */
static __u32 map_count(int fd)
{
	unsigned char key[MAX_KEY], next[MAX_KEY];
	__u32 n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

/* @len bytes the caller may read but not write. */
static void *read_only_buf(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A buffer whose first @usable bytes are mapped and whose next page is
 * not: as a caller's buffer cut short.  Freed with hole_buf_free().
 */
static unsigned char *hole_buf(size_t page, size_t usable)
{
	size_t mapped = (usable + page - 1) / page * page;
	unsigned char *p;

	p = mmap(NULL, mapped + page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	munmap(p + mapped, page);
	return p + mapped - usable;
}

static void hole_buf_free(unsigned char *p, size_t page, size_t usable)
{
	size_t mapped = (usable + page - 1) / page * page;

	munmap(p + usable - mapped, mapped);
}

/* Each of @nr reported keys is gone, and no key was reported twice. */
static void edge_check_reported(struct __test_metadata *_metadata, int fd,
				unsigned char *seen, const unsigned char *keys,
				__u32 nr)
{
	unsigned char key[16];
	__u64 v[3];
	__u32 i, id;

	for (i = 0; i < nr; i++) {
		memcpy(&id, keys + 16 * i, sizeof(id));
		ASSERT_LT(id, EDGE_N);
		EXPECT_EQ(0, seen[id]++) TH_LOG("element %u reported twice", id);
		batch_key(key, id);
		EXPECT_NE(0, bpf_map_lookup_elem(fd, key, v)) TH_LOG("element %u", id);
	}
}

TEST_F(edges, sweep_into_read_only_keys_deletes_nothing)
{
	void *keys = read_only_buf(EDGE_N * 16);
	__u64 cursor = 0;
	__u32 nr = 1;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = EDGE_N);

	REQUIRE_DEVICE();
	ASSERT_NE(NULL, keys);
	EXPECT_EQ(-EFAULT, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, EDGE_ALL_EXPIRED,
					   &nr, &so));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(EDGE_N, map_count(self->fd));
	munmap(keys, EDGE_N * 16);
}

TEST_F(edges, sweep_into_read_only_values_deletes_nothing)
{
	unsigned char *keys = calloc(EDGE_N, 16);
	void *values = read_only_buf(EDGE_N * BK_VALUE);
	__u64 cursor = 0;
	__u32 nr = 1;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .values = values, .max_out = EDGE_N);

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && values);
	EXPECT_EQ(-EFAULT, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, EDGE_ALL_EXPIRED,
					   &nr, &so));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(EDGE_N, map_count(self->fd));
	munmap(values, EDGE_N * BK_VALUE);
	free(keys);
}

/*
 * Keys cut short by an unmapped page: where not even the first round's
 * keys fit, nothing goes; where the first round's fit, the call reports
 * exactly what it deleted, and the next call goes on from there.
 */
TEST_F(edges, sweep_into_keys_cut_short_reports_all_it_deleted)
{
	unsigned char *seen = calloc(EDGE_N, 1), *keys;
	__u32 nr, total = 0, calls = 0;
	__u64 cursor = 0;
	/* One call walks the whole map: only the keys' room stops it. */
	BPFCMPDEL_SWEEP_OPTS(so, .max_out = EDGE_N, .budget = BPFCMPDEL_SWEEP_BUDGET_MAX);

	REQUIRE_DEVICE();
	ASSERT_NE(NULL, seen);
	keys = hole_buf(self->page, 100 * 16);
	ASSERT_NE(NULL, keys);
	so.keys = keys;
	EXPECT_EQ(-EFAULT, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, EDGE_ALL_EXPIRED,
					   &nr, &so));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(0, cursor);
	EXPECT_EQ(EDGE_N, map_count(self->fd));
	hole_buf_free(keys, self->page, 100 * 16);

	keys = hole_buf(self->page, 256 * 16);
	ASSERT_NE(NULL, keys);
	so.keys = keys;
	while (cursor != BPFCMPDEL_SWEEP_END) {
		ASSERT_EQ(0, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, EDGE_ALL_EXPIRED,
					     &nr, &so));
		/* The first round's 256 fit, the second's do not. */
		EXPECT_EQ(calls ? EDGE_N - 256 : 256, nr);
		edge_check_reported(_metadata, self->fd, seen, keys, nr);
		total += nr;
		EXPECT_EQ(EDGE_N - total, map_count(self->fd));
		ASSERT_LT(++calls, 100);
	}
	EXPECT_EQ(EDGE_N, total);
	EXPECT_EQ(2, calls);
	hole_buf_free(keys, self->page, 256 * 16);
	free(seen);
}

/* Element i's key, and its current u64 at 8 as the expected bytes. */
static void edge_batch(unsigned char *keys, __u64 *expected, __u32 n)
{
	unsigned char pick[EDGE_N] = {};	/* all B_CURRENT */

	batch_build(n, n, pick, keys, expected);
}

TEST_F(edges, batch_into_read_only_results_deletes_nothing)
{
	unsigned char *keys = calloc(EDGE_N, 16);
	__u64 *expected = calloc(EDGE_N, 8);
	__s32 *results = read_only_buf(EDGE_N * 4);
	__u32 count = EDGE_N;

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && expected && results);
	edge_batch(keys, expected, EDGE_N);
	EXPECT_EQ(-EFAULT, bpfcmpdel_delete_batch(self->fd, keys, expected, results,
						  &count, 8, 8, NULL));
	EXPECT_EQ(0, count);
	EXPECT_EQ(EDGE_N, map_count(self->fd));
	munmap(results, EDGE_N * 4);
	free(keys);
	free(expected);
}

/* Results cut short: the chunks whose results fit are done and reported. */
TEST_F(edges, batch_into_results_cut_short_reports_all_it_deleted)
{
	unsigned char *keys = calloc(EDGE_N, 16), key[16];
	__u64 *expected = calloc(EDGE_N, 8), v[3];
	__u32 count, i, fit;
	__s32 *results;

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && expected);
	edge_batch(keys, expected, EDGE_N);
	for (fit = 100; fit <= 256; fit += 156) {
		results = (__s32 *)hole_buf(self->page, fit * 4);
		ASSERT_NE(NULL, results);
		count = EDGE_N;
		EXPECT_EQ(-EFAULT, bpfcmpdel_delete_batch(self->fd, keys, expected,
							  results, &count, 8, 8, NULL));
		/* One chunk of 256, or none. */
		EXPECT_EQ(fit < 256 ? 0 : 256, count);
		for (i = 0; i < count; i++) {
			EXPECT_EQ(0, results[i]) TH_LOG("element %u", i);
		}
		EXPECT_EQ(EDGE_N - count, map_count(self->fd));
		for (i = 0; i < EDGE_N; i++) {
			batch_key(key, i);
			EXPECT_EQ(i >= count, !bpf_map_lookup_elem(self->fd, key, v))
				TH_LOG("element %u", i);
		}
		hole_buf_free((unsigned char *)results, self->page, fit * 4);
	}
	free(keys);
	free(expected);
}

/* The request's own out fields (@count, @cursor, ...) must be writable. */
TEST_F(edges, read_only_request_deletes_nothing)
{
	unsigned char *keys = calloc(EDGE_N, 16);
	__u64 *expected = calloc(EDGE_N, 8);
	__s32 *results = calloc(EDGE_N, 4);
	struct bpfcmpdel_batch_req *breq;
	struct bpfcmpdel_sweep_req *sreq;
	unsigned char *page;

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && expected && results);
	page = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	edge_batch(keys, expected, EDGE_N);
	breq = (void *)page;
	*breq = (struct bpfcmpdel_batch_req) {
		.size = sizeof(*breq), .map_fd = self->fd,
		.keys = (uintptr_t)keys, .expected = (uintptr_t)expected,
		.results = (uintptr_t)results, .count = EDGE_N,
		.compare_offset = 8, .compare_size = 8,
	};
	sreq = (void *)(page + 512);
	*sreq = (struct bpfcmpdel_sweep_req) {
		.size = sizeof(*sreq), .map_fd = self->fd,
		.threshold = EDGE_ALL_EXPIRED, .keys = (uintptr_t)keys,
		.field_offset = 8, .field_size = 8, .max_out = EDGE_N,
	};
	ASSERT_EQ(0, mprotect(page, self->page, PROT_READ));
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE_BATCH, breq));
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_SWEEP, sreq));
	EXPECT_EQ(EDGE_N, map_count(self->fd));
	munmap(page, self->page);
	free(keys);
	free(expected);
	free(results);
}

/* --- a bucket lock not taken (the module's test hook, any kernel) -------- */

FIXTURE(lockfail) {
	int fd;
};

FIXTURE_SETUP(lockfail)
{
	if (device_present())
		ASSERT_EQ(0, lock_fail_after(-1));
	ASSERT_EQ(0, pin_to_cpu(0));
	self->fd = batch_map(BPF_MAP_TYPE_LRU_HASH, 0, 4 * EDGE_N);
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, batch_fill(self->fd, EDGE_N));
}

FIXTURE_TEARDOWN(lockfail)
{
	/* Never leave the hook armed for the tests after this one. */
	if (device_present())
		lock_fail_after(-1);
	close(self->fd);
}

/*
 * The lock works for one bucket, then fails: the call that deleted that
 * bucket's elements succeeds and reports them; the next, which can delete
 * nothing, says -EAGAIN with nothing changed; once the lock works again
 * the sweep goes on from its cursor and every element is reported once.
 */
TEST_F(lockfail, sweep_that_deleted_succeeds_and_reports)
{
	unsigned char *keys = calloc(EDGE_N, 16), *seen = calloc(EDGE_N, 1);
	__u32 nr, total;
	__u64 cursor = 0, at;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = EDGE_N);

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && seen);
	ASSERT_EQ(0, lock_fail_after(1));
	ASSERT_EQ(0, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, EDGE_ALL_EXPIRED, &nr, &so));
	EXPECT_GT(nr, 0);
	EXPECT_NE(0, cursor);
	edge_check_reported(_metadata, self->fd, seen, keys, nr);
	total = nr;
	EXPECT_EQ(EDGE_N - total, map_count(self->fd));

	at = cursor;
	EXPECT_EQ(-EAGAIN, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, EDGE_ALL_EXPIRED,
					   &nr, &so));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(at, cursor);
	EXPECT_EQ(EDGE_N - total, map_count(self->fd));

	ASSERT_EQ(0, lock_fail_after(-1));
	while (cursor != BPFCMPDEL_SWEEP_END) {
		ASSERT_EQ(0, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, EDGE_ALL_EXPIRED,
					     &nr, &so));
		edge_check_reported(_metadata, self->fd, seen, keys, nr);
		total += nr;
	}
	EXPECT_EQ(EDGE_N, total);
	EXPECT_EQ(0, map_count(self->fd));
	free(keys);
	free(seen);
}

/* Every other request: -EAGAIN for the element, and the element stays. */
TEST_F(lockfail, single_batch_and_swap_change_nothing)
{
	unsigned char keys[10 * 16];
	__u64 expected[10], newer = 1;
	__s32 results[10];
	__u32 count = 10, i;

	REQUIRE_DEVICE();
	edge_batch(keys, expected, 10);
	ASSERT_EQ(0, lock_fail_after(0));
	EXPECT_EQ(-EAGAIN, bpfcmpdel_delete(self->fd, keys, &expected[0], 8, 8, NULL));
	EXPECT_EQ(-EAGAIN, bpfcmpdel_update(self->fd, keys, &expected[0], &newer,
					    8, 8, NULL));
	EXPECT_EQ(0, bpfcmpdel_delete_batch(self->fd, keys, expected, results, &count,
					    8, 8, NULL));
	EXPECT_EQ(10, count);
	for (i = 0; i < 10; i++) {
		EXPECT_EQ(-EAGAIN, results[i]) TH_LOG("element %u", i);
	}
	ASSERT_EQ(0, lock_fail_after(-1));
	EXPECT_EQ(EDGE_N, map_count(self->fd));
	/* Unchanged, so the same expected bytes still match. */
	EXPECT_EQ(0, bpfcmpdel_delete(self->fd, keys, &expected[0], 8, 8, NULL));
}

struct gc_seen {
	unsigned char seen[EDGE_N];
	__u64 reported;
};

static void gc_on_deleted(const void *keys, __u32 n, void *ctx)
{
	struct gc_seen *g = ctx;
	__u32 i, id;

	for (i = 0; i < n; i++) {
		memcpy(&id, (const unsigned char *)keys + 16 * i, sizeof(id));
		if (id < EDGE_N)
			g->seen[id]++;
	}
	g->reported += n;
}

/*
 * A GC pass whose locks start failing part-way gives up with -EAGAIN, and
 * every key it deleted reached its callback; a second pass does the rest.
 */
TEST_F(lockfail, gc_reports_every_deleted_key)
{
	struct gc_seen g = {};
	struct bpfcmpdel_gc_stats st;
	BPFCMPDEL_GC_OPTS(opts, .on_deleted = gc_on_deleted, .ctx = &g);
	__u32 i;

	REQUIRE_DEVICE();
	ASSERT_EQ(0, lock_fail_after(5));
	EXPECT_EQ(-EAGAIN, bpfcmpdel_gc_sweep(self->fd, 8, 8, EDGE_ALL_EXPIRED, &st,
					      &opts));
	EXPECT_GT(st.deleted, 0);
	EXPECT_EQ(st.deleted, g.reported);
	EXPECT_EQ(EDGE_N - st.deleted, map_count(self->fd));
	ASSERT_EQ(0, lock_fail_after(-1));
	ASSERT_EQ(0, bpfcmpdel_gc_sweep(self->fd, 8, 8, EDGE_ALL_EXPIRED, &st, &opts));
	EXPECT_EQ(EDGE_N, g.reported);
	for (i = 0; i < EDGE_N; i++) {
		EXPECT_EQ(1, g.seen[i]) TH_LOG("element %u", i);
	}
	EXPECT_EQ(0, map_count(self->fd));
}
