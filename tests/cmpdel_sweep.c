// SPDX-License-Identifier: GPL-2.0
/*
 * The expiry sweep, and the library's GC passes built on it.
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- the expiry sweep ---------------------------------------------------- */

FIXTURE(sweep) {
	int fd;
	__u32 n;
};

FIXTURE_VARIANT(sweep) {
	enum bpf_map_type type;
	__u32 flags;
	__u64 walk;	/* 0: by buckets; BPFCMPDEL_F_SWEEP_ELEMS */
};

FIXTURE_VARIANT_ADD(sweep, hash) { .type = BPF_MAP_TYPE_HASH };
FIXTURE_VARIANT_ADD(sweep, hash_noprealloc) {
	.type = BPF_MAP_TYPE_HASH, .flags = BPF_F_NO_PREALLOC,
};
FIXTURE_VARIANT_ADD(sweep, lru) { .type = BPF_MAP_TYPE_LRU_HASH };
FIXTURE_VARIANT_ADD(sweep, lru_nocommon) {
	.type = BPF_MAP_TYPE_LRU_HASH, .flags = BPF_F_NO_COMMON_LRU,
};
/* The preallocated ones again, walking the element array instead. */
FIXTURE_VARIANT_ADD(sweep, hash_elems) {
	.type = BPF_MAP_TYPE_HASH, .walk = BPFCMPDEL_F_SWEEP_ELEMS,
};
FIXTURE_VARIANT_ADD(sweep, lru_elems) {
	.type = BPF_MAP_TYPE_LRU_HASH, .walk = BPFCMPDEL_F_SWEEP_ELEMS,
};
FIXTURE_VARIANT_ADD(sweep, lru_nocommon_elems) {
	.type = BPF_MAP_TYPE_LRU_HASH, .flags = BPF_F_NO_COMMON_LRU,
	.walk = BPFCMPDEL_F_SWEEP_ELEMS,
};

/* Element i's u64 at offset 8: even ones expired (below 100), odd live. */
static __u64 sweep_life(__u32 i)
{
	return i % 2 ? 1000 + i : i % 97;
}

FIXTURE_SETUP(sweep)
{
	unsigned char key[16];
	__u64 v[3] = {};
	__u32 i;

	self->n = 2000;
	/* LRU maps: room enough that nothing is evicted on either CPU. */
	self->fd = batch_map(variant->type, variant->flags, 4 * self->n);
	ASSERT_GE(self->fd, 0);
	for (i = 0; i < self->n; i++) {
		batch_key(key, i);
		v[1] = sweep_life(i);
		ASSERT_EQ(0, map_insert(self->fd, key, v, BPF_NOEXIST));
	}
}

FIXTURE_TEARDOWN(sweep)
{
	close(self->fd);
}

struct sweep_updater {
	int fd;
	__u32 n;
	atomic_bool stop;
	unsigned long updates;
};

/* Refreshes the live elements and churns keys outside the set meanwhile. */
static void *sweep_updater(void *arg)
{
	struct sweep_updater *u = arg;
	unsigned char key[16];
	__u64 v[3] = {};
	__u32 i = 1, extra = 0;

	while (!atomic_load(&u->stop)) {
		batch_key(key, i);
		v[1] = sweep_life(i) + 1;
		bpf_map_update_elem(u->fd, key, v, BPF_EXIST);
		batch_key(key, u->n + 100000 + extra % 50);
		v[1] = 5000;
		if (extra % 2)
			bpf_map_delete_elem(u->fd, key);
		else
			bpf_map_update_elem(u->fd, key, v, BPF_ANY);
		i = (i + 2) % u->n;
		extra++;
		u->updates++;
	}
	return NULL;
}

/* Every expired element deleted once, every live one kept, keys reported. */
static void sweep_check_all(struct __test_metadata *_metadata, int fd, __u32 n,
			    const unsigned char *seen)
{
	unsigned char key[16];
	__u64 v[3];
	__u32 i;

	for (i = 0; i < n; i++) {
		batch_key(key, i);
		EXPECT_EQ(i % 2 == 0, seen[i]) TH_LOG("element %u reported %u times", i, seen[i]);
		EXPECT_EQ(i % 2 == 0, bpf_map_lookup_elem(fd, key, v) != 0)
			TH_LOG("element %u", i);
	}
}

static void sweep_mark(struct __test_metadata *_metadata, unsigned char *seen,
		       __u32 n, const unsigned char *keys, __u32 nr)
{
	__u32 i, id;

	for (i = 0; i < nr; i++) {
		memcpy(&id, keys + 16 * i, sizeof(id));
		ASSERT_LT(id, n) TH_LOG("a key outside the expired set went");
		seen[id]++;
	}
}

TEST_F(sweep, deletes_exactly_the_expired_under_updates)
{
	struct sweep_updater u = { .fd = self->fd, .n = self->n };
	unsigned char *keys = calloc(self->n, 16), *seen = calloc(self->n, 1);
	__u64 cursor = 0;
	__u32 nr, total = 0;
	pthread_t t;

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && seen);
	ASSERT_EQ(0, pthread_create(&t, NULL, sweep_updater, &u));
	while (cursor != BPFCMPDEL_SWEEP_END) {
		BPFCMPDEL_SWEEP_OPTS(so, .flags = variant->walk, .keys = keys,
				     .max_out = self->n);

		ASSERT_EQ(0, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, 100, &nr, &so));
		sweep_mark(_metadata, seen, self->n, keys, nr);
		total += nr;
	}
	atomic_store(&u.stop, true);
	pthread_join(t, NULL);
	TH_LOG("%u deleted with %lu concurrent updates", total, u.updates);
	EXPECT_EQ(self->n / 2, total);
	sweep_check_all(_metadata, self->fd, self->n, seen);
	free(keys);
	free(seen);
}

/*
 * One bucket (or element) and @max_out keys a call: every element still
 * visited once.  Returns the calls that left the cursor where it was (a
 * bucket with more expired than fit, visited again).
 */
static __u32 sweep_in_small_steps(struct __test_metadata *_metadata, int fd, __u32 n,
				  __u32 max_out, __u64 walk)
{
	unsigned char keys[3 * 16], *seen = calloc(n, 1);
	__u64 cursor = 0, before, scanned = 0;
	__u32 nr, calls = 0, again = 0;

	ASSERT_NE(NULL, seen);
	while (cursor != BPFCMPDEL_SWEEP_END) {
		BPFCMPDEL_SWEEP_OPTS(so, .flags = walk, .keys = keys, .max_out = max_out,
				     .budget = 1, .nr_scanned = &scanned);

		before = cursor;
		ASSERT_EQ(0, bpfcmpdel_sweep(fd, &cursor, 8, 8, 100, &nr, &so));
		ASSERT_LE(nr, max_out);
		sweep_mark(_metadata, seen, n, keys, nr);
		again += cursor == before;
		ASSERT_LT(++calls, 1000000);
	}
	TH_LOG("%u calls, %u again, %llu elements looked at", calls, again,
	       (unsigned long long)scanned);
	EXPECT_GE(scanned, n);
	sweep_check_all(_metadata, fd, n, seen);
	free(seen);
	return again;
}

TEST_F(sweep, resumes_across_many_calls)
{
	REQUIRE_DEVICE();
	sweep_in_small_steps(_metadata, self->fd, self->n, 3, variant->walk);
}

/*
 * A key a call: of the ~55 buckets expected to hold two expired elements,
 * each is visited again rather than passed.  The element walk takes one
 * at a time: it never needs to.
 */
TEST_F(sweep, revisits_a_bucket_with_more_than_fit)
{
	__u32 again;

	REQUIRE_DEVICE();
	again = sweep_in_small_steps(_metadata, self->fd, self->n, 1, variant->walk);
	if (variant->walk) {
		EXPECT_EQ(0, again);
	} else {
		EXPECT_GT(again, 0);
	}
}

TEST_F(sweep, tombstone_mode_and_values)
{
	unsigned char *keys = calloc(self->n, 16), *seen = calloc(self->n, 1);
	__u64 (*vals)[3] = calloc(self->n, sizeof(*vals));
	__u64 cursor = 0;
	__u32 nr, i, id;

	REQUIRE_DEVICE();
	ASSERT_TRUE(keys && seen && vals);
	while (cursor != BPFCMPDEL_SWEEP_END) {
		BPFCMPDEL_SWEEP_OPTS(so, .flags = BPFCMPDEL_F_TOMBSTONE | variant->walk,
				     .tombstone = ~0ULL, .keys = keys,
				     .values = vals, .max_out = self->n);

		ASSERT_EQ(0, bpfcmpdel_sweep(self->fd, &cursor, 8, 8, 100, &nr, &so));
		sweep_mark(_metadata, seen, self->n, keys, nr);
		/* The value as it was when the element went: the tombstone. */
		for (i = 0; i < nr; i++) {
			memcpy(&id, keys + 16 * i, sizeof(id));
			EXPECT_EQ(~0ULL, vals[i][1]) TH_LOG("element %u", id);
		}
	}
	sweep_check_all(_metadata, self->fd, self->n, seen);
	free(keys);
	free(seen);
	free(vals);
}

TEST(sweep_bad_requests)
{
	unsigned char keys[64];
	__u64 cursor = 0, pc[64] = {};
	__u32 nr, key = 1;
	int fd;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = 1);

	REQUIRE_DEVICE();
	fd = batch_map(BPF_MAP_TYPE_HASH, 0, 8);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EINVAL, bpfcmpdel_sweep(fd, &cursor, 4, 8, 1, &nr, &so));
	EXPECT_EQ(-EINVAL, bpfcmpdel_sweep(fd, &cursor, 8, 2, 1, &nr, &so));
	EXPECT_EQ(-EINVAL, bpfcmpdel_sweep(fd, &cursor, 24, 8, 1, &nr, &so));
	EXPECT_EQ(-EINVAL, bpfcmpdel_sweep(fd, &cursor, 0, 4, 1ULL << 40, &nr, &so));
	so.budget = BPFCMPDEL_SWEEP_BUDGET_MAX + 1;
	EXPECT_EQ(-E2BIG, bpfcmpdel_sweep(fd, &cursor, 8, 8, 1, &nr, &so));
	so.budget = 0;
	close(fd);
	/* The element walk needs the element array of a preallocated map. */
	fd = batch_map(BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, 8);
	ASSERT_GE(fd, 0);
	so.flags = BPFCMPDEL_F_SWEEP_ELEMS;
	EXPECT_EQ(-EINVAL, bpfcmpdel_sweep(fd, &cursor, 8, 8, 1, &nr, &so));
	so.flags = 0;
	close(fd);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_spc", 4, 8, 4, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, pc, 0));
	so.budget = 0;
	EXPECT_EQ(-EINVAL, bpfcmpdel_sweep(fd, &cursor, 0, 8, 1, &nr, &so));
	close(fd);
}

/* --- the library's GC passes ------------------------------------------------ */

static bool expired_even(const void *key, const void *value, void *ctx)
{
	return ((const __u64 *)value)[1] < 100;
}

TEST(gc_helpers_delete_exactly_the_expired)
{
	BPFCMPDEL_GC_OPTS(opts);
	struct bpfcmpdel_gc_stats st;
	unsigned char key[16];
	__u64 v[3] = {};
	__u32 i, n = 3000;
	int fd, pass;

	REQUIRE_DEVICE();
	for (pass = 0; pass < 2; pass++) {
		fd = batch_map(BPF_MAP_TYPE_LRU_HASH, 0, 4 * n);
		ASSERT_GE(fd, 0);
		for (i = 0; i < n; i++) {
			batch_key(key, i);
			v[1] = sweep_life(i);
			ASSERT_EQ(0, bpf_map_update_elem(fd, key, v, BPF_NOEXIST));
		}
		if (pass == 0) {
			ASSERT_EQ(0, bpfcmpdel_gc_sweep(fd, 8, 8, 100, &st, &opts));
		} else {
			ASSERT_EQ(0, bpfcmpdel_gc_snapshot(fd, 8, 8, expired_even, &st,
							   &opts));
		}
		EXPECT_EQ(n / 2, st.deleted);
		EXPECT_GE(st.scanned, n);
		EXPECT_EQ(0, st.failed);
		for (i = 0; i < n; i++) {
			batch_key(key, i);
			EXPECT_EQ(i % 2 == 0, bpf_map_lookup_elem(fd, key, v) != 0);
		}
		close(fd);
	}
}

struct gc_count {
	__u32 n;
	__u8 seen[4096];
	__u32 bad;		/* keys reported that were not expired */
};

static void gc_count_keys(const void *keys, __u32 n, void *ctx)
{
	struct gc_count *g = ctx;
	const unsigned char *k = keys;
	__u32 i, id;

	for (i = 0; i < n; i++, k += 16) {
		memcpy(&id, k, sizeof(id));
		if (id >= g->n || sweep_life(id) >= 100)
			g->bad++;
		else
			g->seen[id]++;
	}
}

/*
 * Threads sweeping ranges of the map: each expired element deleted and reported
 * once, whatever the split (more threads than buckets leaves ranges empty);
 * the live ones stay.  Too many threads is a bad request that deletes
 * nothing.
 */
TEST_F(sweep, gc_threads_split_the_map)
{
	static const __u32 threads[] = { 2, 3, 7, BPFCMPDEL_GC_THREADS_MAX };
	unsigned char key[16];
	struct bpfcmpdel_gc_stats st;
	struct gc_count *g;
	__u64 v[3] = {};
	__u32 i, t, expired = 0;

	REQUIRE_DEVICE();
	ASSERT_LE(self->n, sizeof(g->seen));
	g = calloc(1, sizeof(*g));
	ASSERT_NE(NULL, g);
	for (i = 0; i < self->n; i++)
		expired += sweep_life(i) < 100;
	for (t = 0; t < ARRAY_SIZE(threads); t++) {
		BPFCMPDEL_GC_OPTS(opts, .threads = threads[t], .on_deleted = gc_count_keys,
				  .ctx = g);

		memset(g, 0, sizeof(*g));
		g->n = self->n;
		if (t == 0) {
			opts.threads = BPFCMPDEL_GC_THREADS_MAX + 1;
			EXPECT_EQ(-EINVAL, bpfcmpdel_gc_sweep(self->fd, 8, 8, 100, &st, &opts));
			opts.threads = threads[t];
		}
		ASSERT_EQ(0, bpfcmpdel_gc_sweep(self->fd, 8, 8, 100, &st, &opts));
		EXPECT_EQ(expired, st.deleted) TH_LOG("%u threads", threads[t]);
		EXPECT_GE(st.scanned, self->n);
		EXPECT_EQ(0, g->bad);
		for (i = 0; i < self->n; i++) {
			batch_key(key, i);
			EXPECT_EQ(sweep_life(i) < 100, g->seen[i]) TH_LOG("element %u", i);
			EXPECT_EQ(sweep_life(i) < 100, bpf_map_lookup_elem(self->fd, key, v) != 0);
			/* Back for the next split. */
			v[1] = sweep_life(i);
			if (sweep_life(i) < 100)
				ASSERT_EQ(0, map_insert(self->fd, key, v, BPF_NOEXIST));
		}
	}
	free(g);
}

/*
 * Seven threads on a map of four buckets: three ranges are empty.  (Not
 * preallocated, so the pass walks buckets, not elements.)
 */
TEST(gc_threads_outnumber_the_buckets)
{
	BPFCMPDEL_GC_OPTS(opts, .threads = 7);
	struct bpfcmpdel_gc_stats st;
	unsigned char key[16];
	__u64 v[3] = {};
	__u32 i;
	int fd;

	REQUIRE_DEVICE();
	fd = batch_map(BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, 4);
	ASSERT_GE(fd, 0);
	for (i = 0; i < 4; i++) {
		batch_key(key, i);
		v[1] = i;
		ASSERT_EQ(0, bpf_map_update_elem(fd, key, v, BPF_NOEXIST));
	}
	ASSERT_EQ(0, bpfcmpdel_gc_sweep(fd, 8, 8, 3, &st, &opts));
	EXPECT_EQ(3, st.deleted);
	EXPECT_EQ(4, st.scanned);
	for (i = 0; i < 4; i++) {
		batch_key(key, i);
		EXPECT_EQ(i < 3, bpf_map_lookup_elem(fd, key, v) != 0);
	}
	close(fd);
}
