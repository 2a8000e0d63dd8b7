// SPDX-License-Identifier: GPL-2.0
/*
 * Single compare-and-delete and its modes: the map-type x allocation x
 * key-size matrix (expected bytes as a region or as a lookup snapshot,
 * per-CPU maps), the per-CPU element count left alone, one CPU's slot of
 * a per-CPU map, lock mode, tombstone mode, and lock mode against
 * BPF_F_LOCK writers.
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- the map-type x allocation x key-size matrix ------------------------ */

FIXTURE(hash) {
	int map_fd;
	__u32 key_size;
	__u32 value_size;
	bool percpu;
	bool lru;
	__u32 slots;		/* values per element: possible CPUs, or 1 */
	__u32 stride;		/* bytes per slot, as lookup lays them out */
	__u32 capacity;		/* elements one pinned CPU can insert */
	unsigned char *value;	/* scratch, slots * stride bytes */
};

FIXTURE_VARIANT(hash) {
	enum bpf_map_type map_type;
	__u32 map_flags;
	__u32 key_size;		/* multiples of 4 go through jhash2 on newer kernels */
	__u32 value_size;	/* odd, so regions end on unaligned bytes */
	__u32 max_entries;
};

#define HASH_VARIANT(name, type, flags, ks, vs, max)			\
	FIXTURE_VARIANT_ADD(hash, name) {				\
		.map_type = type, .map_flags = flags, .key_size = ks,	\
		.value_size = vs, .max_entries = max,			\
	}

HASH_VARIANT(hash_key4, BPF_MAP_TYPE_HASH, 0, 4, 13, 64);
HASH_VARIANT(hash_key6, BPF_MAP_TYPE_HASH, 0, 6, 37, 64);
HASH_VARIANT(hash_key16, BPF_MAP_TYPE_HASH, 0, 16, 101, 100);
HASH_VARIANT(hash_noprealloc_key4, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, 4, 13, 64);
HASH_VARIANT(hash_noprealloc_key7, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, 7, 37, 64);
HASH_VARIANT(hash_noprealloc_key40, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, 40, 255, 100);
HASH_VARIANT(percpu_key4, BPF_MAP_TYPE_PERCPU_HASH, 0, 4, 13, 64);
HASH_VARIANT(percpu_key6, BPF_MAP_TYPE_PERCPU_HASH, 0, 6, 37, 64);
HASH_VARIANT(percpu_noprealloc_key8, BPF_MAP_TYPE_PERCPU_HASH, BPF_F_NO_PREALLOC, 8, 21, 64);
HASH_VARIANT(percpu_noprealloc_key5, BPF_MAP_TYPE_PERCPU_HASH, BPF_F_NO_PREALLOC, 5, 37, 64);
HASH_VARIANT(lru_key4, BPF_MAP_TYPE_LRU_HASH, 0, 4, 13, 64);
HASH_VARIANT(lru_key6, BPF_MAP_TYPE_LRU_HASH, 0, 6, 37, 64);
HASH_VARIANT(lru_key16, BPF_MAP_TYPE_LRU_HASH, 0, 16, 101, 100);
HASH_VARIANT(lru_nocommon_key8, BPF_MAP_TYPE_LRU_HASH, BPF_F_NO_COMMON_LRU, 8, 21, 64);
HASH_VARIANT(lru_nocommon_key3, BPF_MAP_TYPE_LRU_HASH, BPF_F_NO_COMMON_LRU, 3, 37, 64);
HASH_VARIANT(lru_percpu_key4, BPF_MAP_TYPE_LRU_PERCPU_HASH, 0, 4, 13, 64);
HASH_VARIANT(lru_percpu_key6, BPF_MAP_TYPE_LRU_PERCPU_HASH, 0, 6, 37, 64);
HASH_VARIANT(lru_percpu_nocommon_key12, BPF_MAP_TYPE_LRU_PERCPU_HASH,
	     BPF_F_NO_COMMON_LRU, 12, 21, 64);
HASH_VARIANT(lru_percpu_nocommon_key5, BPF_MAP_TYPE_LRU_PERCPU_HASH,
	     BPF_F_NO_COMMON_LRU, 5, 37, 64);

FIXTURE_SETUP(hash)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = variant->map_flags);
	int ncpus = libbpf_num_possible_cpus();

	ASSERT_GT(ncpus, 0);
	self->key_size = variant->key_size;
	self->value_size = variant->value_size;
	self->percpu = variant->map_type == BPF_MAP_TYPE_PERCPU_HASH ||
		       variant->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	self->lru = variant->map_type == BPF_MAP_TYPE_LRU_HASH ||
		    variant->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	self->slots = self->percpu ? (__u32)ncpus : 1;
	self->stride = self->percpu ? (variant->value_size + 7) & ~7U
				    : variant->value_size;
	/* A CPU-local LRU list holds an equal share of the elements. */
	self->capacity = variant->map_flags & BPF_F_NO_COMMON_LRU ?
			 variant->max_entries / ncpus : variant->max_entries;
	self->value = calloc(self->slots, self->stride);
	ASSERT_NE(NULL, self->value);
	if (self->lru)
		ASSERT_EQ(0, pin_to_cpu0());
	self->map_fd = bpf_map_create(variant->map_type, "cmpdel_test",
				      variant->key_size, variant->value_size,
				      variant->max_entries, &opts);
	ASSERT_GE(self->map_fd, 0) TH_LOG("bpf_map_create: %s", strerror(errno));
}

FIXTURE_TEARDOWN(hash)
{
	close(self->map_fd);
	free(self->value);
}

/* Element @i's value; each CPU's slot differs, so slots cannot be mixed up. */
static void fill_value(struct _test_data_hash *self, __u32 i)
{
	__u32 slot, b;

	memset(self->value, 0, self->slots * self->stride);
	for (slot = 0; slot < self->slots; slot++)
		for (b = 0; b < self->value_size; b++)
			self->value[slot * self->stride + b] =
				(unsigned char)(i * 7 + b * 13 + slot * 101 + 1);
}

static int insert(struct _test_data_hash *self, __u32 i)
{
	unsigned char key[MAX_KEY];

	fill_key(key, self->key_size, i);
	fill_value(self, i);
	return map_insert(self->map_fd, key, self->value, BPF_NOEXIST);
}

/*
 * Compare-deletes element @i on [@off, @off + @size), expecting its value
 * changed at byte @flip (-1: unchanged) -- in the last CPU's slot for
 * per-CPU maps, which only a compare of every CPU notices.  Per-CPU maps
 * pass the lookup layout; the others the bare region.
 */
static int cmpdel_region(struct _test_data_hash *self, __u32 i, __u32 off,
			 __u32 size, int flip)
{
	unsigned char key[MAX_KEY];

	fill_key(key, self->key_size, i);
	fill_value(self, i);
	if (flip >= 0)
		self->value[(self->slots - 1) * self->stride + flip] ^= 0x80;
	if (self->percpu)
		return bpfcmpdel_delete_snapshot(self->map_fd, key, self->value,
						       off, size, NULL);
	return bpfcmpdel_delete(self->map_fd, key, self->value + off,
					   off, size, NULL);
}

static bool present(struct _test_data_hash *self, __u32 i)
{
	unsigned char key[MAX_KEY];

	fill_key(key, self->key_size, i);
	return bpf_map_lookup_elem(self->map_fd, key, self->value) == 0;
}

TEST_F(hash, current_region_deletes)
{
	REQUIRE_DEVICE();
	ASSERT_EQ(0, insert(self, 1));
	EXPECT_EQ(0, cmpdel_region(self, 1, 0, self->value_size, -1));
	EXPECT_FALSE(present(self, 1));
}

TEST_F(hash, stale_region_is_refused_and_kept)
{
	unsigned char key[MAX_KEY], *want;
	size_t len = self->slots * self->stride;

	REQUIRE_DEVICE();
	ASSERT_EQ(0, insert(self, 2));
	EXPECT_EQ(-EBUSY, cmpdel_region(self, 2, 0, self->value_size,
					(int)self->value_size - 1));
	EXPECT_EQ(EBUSY, errno);
	want = malloc(len);
	ASSERT_NE(NULL, want);
	fill_value(self, 2);
	memcpy(want, self->value, len);
	fill_key(key, self->key_size, 2);
	ASSERT_EQ(0, bpf_map_lookup_elem(self->map_fd, key, self->value));
	EXPECT_EQ(0, memcmp(self->value, want, len));
	free(want);
}

TEST_F(hash, absent_key_is_enoent)
{
	REQUIRE_DEVICE();
	ASSERT_EQ(0, insert(self, 3));
	EXPECT_EQ(-ENOENT, cmpdel_region(self, 4, 0, 1, -1));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_TRUE(present(self, 3));
}

/* Regions at the start, middle and end; a differing byte just inside each. */
TEST_F(hash, region_positions)
{
	const __u32 vs = self->value_size;
	const struct { __u32 off, size; } regions[] = {
		{ 0, 1 }, { 0, 3 }, { vs / 2 - 1, 3 }, { vs / 3, vs / 3 },
		{ vs - 1, 1 }, { vs - 5, 5 },
	};
	__u32 i, k;
	int outside;

	REQUIRE_DEVICE();
	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		__u32 off = regions[i].off, size = regions[i].size;

		k = 100 + i;
		ASSERT_EQ(0, insert(self, k));
		/* A region widened by one changed byte must differ. */
		if (off > 0)
			EXPECT_EQ(-EBUSY, cmpdel_region(self, k, off - 1, size + 1,
							off - 1));
		EXPECT_EQ(-EBUSY, cmpdel_region(self, k, off, size, off + size - 1));
		EXPECT_EQ(-EBUSY, cmpdel_region(self, k, off, size, off));
		EXPECT_TRUE(present(self, k));
		/* A change just outside the region must not matter. */
		outside = off > 0 ? (int)off - 1 : off + size < vs ? (int)(off + size) : -1;
		EXPECT_EQ(0, cmpdel_region(self, k, off, size, outside))
			TH_LOG("region %u+%u, byte %d changed", off, size, outside);
		EXPECT_FALSE(present(self, k));
	}
}

TEST_F(hash, region_outside_value_is_einval)
{
	const __u32 vs = self->value_size;

	REQUIRE_DEVICE();
	ASSERT_EQ(0, insert(self, 5));
	EXPECT_EQ(-EINVAL, cmpdel_region(self, 5, 0, vs + 1, -1));
	EXPECT_EQ(-EINVAL, cmpdel_region(self, 5, vs, 1, -1));
	EXPECT_EQ(-EINVAL, cmpdel_region(self, 5, 1, vs, -1));
	EXPECT_TRUE(present(self, 5));
}

/* Per-CPU maps have one expected layout, the snapshot's; others take both. */
TEST_F(hash, snapshot_layout)
{
	unsigned char key[MAX_KEY];

	REQUIRE_DEVICE();
	ASSERT_EQ(0, insert(self, 6));
	fill_key(key, self->key_size, 6);
	fill_value(self, 6);
	if (self->percpu) {
		EXPECT_EQ(-EINVAL, bpfcmpdel_delete(self->map_fd, key,
							       self->value, 0, 1, NULL));
		EXPECT_TRUE(present(self, 6));
	}
	ASSERT_EQ(0, bpf_map_lookup_elem(self->map_fd, key, self->value));
	EXPECT_EQ(0, bpfcmpdel_delete_snapshot(self->map_fd, key, self->value,
						     2, self->value_size - 2, NULL));
	EXPECT_FALSE(present(self, 6));
}

/*
 * Every element deleted, then the map takes its capacity again: nothing
 * leaked or freed twice.  LRU maps must take it without evicting any.
 */
TEST_F(hash, delete_all_then_refill)
{
	__u32 n = self->capacity, i, round;

	REQUIRE_DEVICE();
	for (round = 0; round < 3; round++) {
		for (i = 0; i < n; i++)
			ASSERT_EQ(0, insert(self, i))
				TH_LOG("round %u, element %u of %u", round, i, n);
		for (i = 0; i < n; i++)
			ASSERT_TRUE(present(self, i))
				TH_LOG("round %u: element %u evicted", round, i);
		/* Only LRU maps make room by evicting. */
		if (!self->lru)
			ASSERT_EQ(-E2BIG, insert(self, n));
		for (i = 0; i < n; i++)
			ASSERT_EQ(0, cmpdel_region(self, i, 0, self->value_size, -1))
				TH_LOG("round %u, element %u", round, i);
		for (i = 0; i < n; i++)
			ASSERT_FALSE(present(self, i));
	}
	if (map_insert_waits)
		TH_LOG("%u inserts waited for the allocator's refill", map_insert_waits);
}

/* --- the per-CPU element count (6.1 carries the field, never allocated) - */

/*
 * The 8 bytes %gs:0 addresses on CPU 0: GSBASE is __per_cpu_offset[0].
 * -1 if that cannot be read; -2 if it is not mapped at all, as on kernels
 * whose per-CPU area is not zero-based (6.15+), where %gs:0 is no per-CPU
 * word and a stray decrement would fault rather than corrupt.
 */
static int percpu_word0(__u64 *word)
{
	uint64_t offsets = kallsyms_addr("__per_cpu_offset", "DdBbRr", "");
	__u64 base;

	if (!offsets || kcore_read(offsets, &base, sizeof(base)))
		return -1;
	return kcore_read(base, word, sizeof(*word)) ? -2 : 0;
}

/*
 * A decrement through a NULL map->elem_count lands on %gs:0.  Many
 * compare-deletes on CPU 0 must leave that word as they found it.
 */
TEST(deletes_leave_percpu_word0_alone)
{
	__u64 before, after, idle;
	__u32 key, value = 7, n = 256;
	int fd;

	REQUIRE_DEVICE();
	if (lockdown_confidential())
		SKIP(return, LOCKDOWN_CONFIDENTIAL_WHY);
	ASSERT_EQ(0, pin_to_cpu(0));
	if (percpu_word0(&before) == -2)
		SKIP(return, "%%gs:0 is unmapped here: the per-CPU area is not zero-based");
	ASSERT_EQ(0, percpu_word0(&before)) TH_LOG("reading /proc/kcore");
	usleep(100 * 1000);
	ASSERT_EQ(0, percpu_word0(&idle));
	if (idle != before)
		SKIP(return, "per-CPU word 0 changes by itself on this kernel");
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_count", 4, 4, 16, NULL);
	ASSERT_GE(fd, 0);
	for (key = 0; key < n; key++) {
		ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_NOEXIST));
		ASSERT_EQ(0, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	}
	close(fd);
	ASSERT_EQ(0, percpu_word0(&after));
	EXPECT_EQ(before, after) TH_LOG("moved by %lld over %u deletes",
					(long long)(after - before), n);
}

/* --- one CPU's slot of a per-CPU map (BPF_F_CPU lookups on 7.x) --------- */

FIXTURE(onecpu) {
	int map_fd;
	int ncpus;
	__u64 *values;		/* one __u64 per possible CPU: lookup layout */
};

FIXTURE_SETUP(onecpu)
{
	__u32 key = 1;
	int cpu;

	self->ncpus = libbpf_num_possible_cpus();
	ASSERT_GT(self->ncpus, 0);
	self->values = calloc(self->ncpus, sizeof(__u64));
	ASSERT_NE(NULL, self->values);
	for (cpu = 0; cpu < self->ncpus; cpu++)
		self->values[cpu] = 100 + cpu;
	self->map_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_onecpu",
				      4, 8, 4, NULL);
	ASSERT_GE(self->map_fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(self->map_fd, &key, self->values, 0));
}

FIXTURE_TEARDOWN(onecpu)
{
	close(self->map_fd);
	free(self->values);
}

TEST_F(onecpu, compares_that_cpu_alone)
{
	int last = self->ncpus - 1;
	__u64 stale = 100 + last + 1, current = 100 + last;
	BPFCMPDEL_OPTS(opts, .flags = BPFCMPDEL_F_CPU, .cpu = last);
	__u32 key = 1;

	REQUIRE_DEVICE();
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(self->map_fd, &key, &stale, 0, 8, &opts));
	/* CPU 0's value is not what CPU @last holds. */
	opts.cpu = 0;
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(self->map_fd, &key, &current, 0, 8, &opts));
	opts.cpu = last;
	EXPECT_EQ(0, bpfcmpdel_delete(self->map_fd, &key, &current, 0, 8, &opts));
	EXPECT_NE(0, bpf_map_lookup_elem(self->map_fd, &key, self->values));
}

TEST_F(onecpu, snapshot_of_one_value)
{
	BPFCMPDEL_OPTS(opts, .flags = BPFCMPDEL_F_CPU, .cpu = 0);
	__u64 one_value = 100;
	__u32 key = 1;

	REQUIRE_DEVICE();
	/* One value as a single-CPU lookup returns it, not ncpus slots. */
	EXPECT_EQ(0, bpfcmpdel_delete_snapshot(self->map_fd, &key, &one_value,
					       0, 8, &opts));
}

TEST_F(onecpu, bad_cpu_or_map_is_einval)
{
	BPFCMPDEL_OPTS(opts, .flags = BPFCMPDEL_F_CPU, .cpu = self->ncpus);
	__u32 key = 1, value = 7;
	__u64 v = 100;
	int fd;

	REQUIRE_DEVICE();
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(self->map_fd, &key, &v, 0, 8, &opts));
	opts.cpu = 0xffffffffu;
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(self->map_fd, &key, &v, 0, 8, &opts));
	opts.cpu = 0;
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &value, 0, 4, &opts));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &value));
	close(fd);
	EXPECT_EQ(0, bpf_map_lookup_elem(self->map_fd, &key, self->values));
}

/* --- lock mode ---------------------------------------------------------- */

TEST(lock_mode)
{
	BPFCMPDEL_OPTS(lock, .flags = BPFCMPDEL_F_LOCK);
	__u32 key = 0, value[2] = { 5, 0 }, plain;
	int fd;

	REQUIRE_DEVICE();
	fd = create_spin_lock_map();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, value, BPF_ANY));
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(fd, &key, &(__u32){ 6 }, 0, 4, &lock));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, value, 0, 8, &lock));
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, value, 0, 4, &lock));
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, value));
	close(fd);

	/* No bpf_spin_lock in the value: nothing to take. */
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	key = 1;
	plain = 7;
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &plain, 0, 4, &lock));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &plain));
	close(fd);
}

/* --- tombstone mode ------------------------------------------------------ */

struct ts_value {
	__u32 small;
	__u32 pad;
	__u64 lifetime;
	__u8 bytes[8];
};

static int create_ts_map(enum bpf_map_type type)
{
	struct ts_value v = { .small = 3, .lifetime = 1000 };
	__u32 key = 1;
	int fd;

	fd = bpf_map_create(type, "cmpdel_ts", 4, sizeof(v), 8, NULL);
	if (fd >= 0 && bpf_map_update_elem(fd, &key, &v, BPF_ANY)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(tombstone_mode_swaps_then_deletes)
{
	BPFCMPDEL_OPTS(ts, .flags = BPFCMPDEL_F_TOMBSTONE, .tombstone = ~0ULL);
	__u64 stale = 999, current = 1000;
	struct ts_value got;
	__u32 key = 1, small = 3;
	int fd;

	REQUIRE_DEVICE();
	fd = create_ts_map(BPF_MAP_TYPE_HASH);
	ASSERT_GE(fd, 0);
	/* A refused swap leaves no tombstone behind. */
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(fd, &key, &stale,
					   offsetof(struct ts_value, lifetime), 8, &ts));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &key, &got));
	EXPECT_EQ(1000, got.lifetime);
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &current,
				      offsetof(struct ts_value, lifetime), 8, &ts));
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, &got));
	close(fd);

	/* A 4-byte word, on an LRU map. */
	fd = create_ts_map(BPF_MAP_TYPE_LRU_HASH);
	ASSERT_GE(fd, 0);
	ts.tombstone = 0xdead;
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &small, 0, 4, &ts));
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, &got));
	close(fd);
}

TEST(tombstone_mode_rules)
{
	BPFCMPDEL_OPTS(ts, .flags = BPFCMPDEL_F_TOMBSTONE, .tombstone = ~0ULL);
	__u64 current = 1000, snap[64] = {};
	struct ts_value got;
	__u32 key = 1, small = 3;
	int fd;

	REQUIRE_DEVICE();
	fd = create_ts_map(BPF_MAP_TYPE_HASH);
	ASSERT_GE(fd, 0);
	/* Not a whole aligned word. */
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &current, 8, 2, &ts));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &current, 4, 8, &ts));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &current, 2, 4, &ts));
	/* A tombstone wider than the word, or equal to what it replaces. */
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &small, 0, 4, &ts));
	ts.tombstone = 1000;
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &current, 8, 8, &ts));
	/* Not with the lock mode. */
	ts.tombstone = 1;
	ts.flags |= BPFCMPDEL_F_LOCK;
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &current, 8, 8, &ts));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &key, &got));
	EXPECT_EQ(1000, got.lifetime);
	EXPECT_EQ(3, got.small);
	close(fd);

	/* Per-CPU maps: no single word to swap. */
	ts.flags = BPFCMPDEL_F_TOMBSTONE | BPFCMPDEL_F_SNAPSHOT;
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_ts_pc", 4, 8, 4, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, snap, BPF_ANY));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, snap, 0, 8, &ts));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, snap));
	close(fd);
}

/* --- BPF_F_LOCK writers: what the default mode cannot exclude ----------- */

#define TORN_WORDS 16

struct torn_value {
	__u32 lock;		/* struct bpf_spin_lock */
	__u32 pad;
	__u64 data[TORN_WORDS];
};

/* A hash map whose value is { bpf_spin_lock; u32; u64 data[16]; }. */
static int create_torn_map(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int u32_id, u64_id, lock_id, arr_id, v_id, fd;
	struct btf *btf = btf__new_empty();

	if (!btf)
		return -1;
	u32_id = btf__add_int(btf, "u32", 4, 0);
	u64_id = btf__add_int(btf, "u64", 8, 0);
	lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
	btf__add_field(btf, "val", u32_id, 0, 0);
	arr_id = btf__add_array(btf, u32_id, u64_id, TORN_WORDS);
	v_id = btf__add_struct(btf, "value", sizeof(struct torn_value));
	btf__add_field(btf, "lock", lock_id, 0, 0);
	btf__add_field(btf, "pad", u32_id, 32, 0);
	btf__add_field(btf, "data", arr_id, 64, 0);
	if (btf__load_into_kernel(btf)) {
		btf__free(btf);
		return -1;
	}
	opts.btf_fd = btf__fd(btf);
	opts.btf_key_type_id = u32_id;
	opts.btf_value_type_id = v_id;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_torn", 4, sizeof(struct torn_value),
			    4, &opts);
	btf__free(btf);
	return fd;
}

struct torn {
	int fd;
	atomic_bool stop;
};

/* Rewrites the whole data array in place, under the spin lock, A or B. */
static void *torn_writer(void *arg)
{
	struct torn *t = arg;
	struct torn_value v = {};
	__u32 key = 1, i, n = 0;

	while (!atomic_load(&t->stop)) {
		for (i = 0; i < TORN_WORDS; i++)
			v.data[i] = n % 2 ? 0xbbbbbbbbbbbbbbbbULL : 0xaaaaaaaaaaaaaaaaULL;
		bpf_map_update_elem(t->fd, &key, &v, BPF_F_LOCK | BPF_EXIST);
		n++;
	}
	return NULL;
}

/*
 * Compare-deletes expecting half A, half B: a value no writer ever stored,
 * matched only by a compare that saw a BPF_F_LOCK update half done.
 */
static unsigned long torn_matches(struct __test_metadata *_metadata, int fd,
				  __u64 flags, double seconds)
{
	BPFCMPDEL_OPTS(opts, .flags = flags);
	struct torn t = { .fd = fd };
	struct torn_value v = {};
	__u64 mixed[TORN_WORDS];
	unsigned long hits = 0, tries = 0;
	struct timespec t0, t1;
	__u32 key = 1, i;
	pthread_t w;

	for (i = 0; i < TORN_WORDS; i++)
		mixed[i] = i < TORN_WORDS / 2 ? 0xbbbbbbbbbbbbbbbbULL : 0xaaaaaaaaaaaaaaaaULL;
	EXPECT_EQ(0, bpf_map_update_elem(fd, &key, &v, BPF_ANY));
	EXPECT_EQ(0, pthread_create(&w, NULL, torn_writer, &t));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (!bpfcmpdel_delete(fd, &key, mixed, offsetof(struct torn_value, data),
				      sizeof(mixed), &opts)) {
			hits++;
			bpf_map_update_elem(fd, &key, &v, BPF_ANY);
		}
		tries++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	atomic_store(&t.stop, true);
	pthread_join(w, NULL);
	TH_LOG("%s: %lu of %lu compares matched a half-written value",
	       flags ? "lock mode" : "default mode", hits, tries);
	return hits;
}

/*
 * BPF_F_LOCK updates write in place under the value's spin lock only: the
 * default mode's compare can see one half-done (logged: how often depends
 * on timing), lock mode's never can.
 */
TEST(lock_mode_never_sees_a_half_written_value)
{
	int fd;

	REQUIRE_DEVICE();
	fd = create_torn_map();
	ASSERT_GE(fd, 0);
	torn_matches(_metadata, fd, 0, 3);
	EXPECT_EQ(0, torn_matches(_metadata, fd, BPFCMPDEL_F_LOCK, 3));
	close(fd);
}
