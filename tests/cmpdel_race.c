// SPDX-License-Identifier: GPL-2.0
/*
 * The race the module exists to close: a datapath refreshing entries
 * while a GC compare-deletes them, and the conntrack GC race end to end
 * (demo/ctsim.c).
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- concurrency: the GC race the module exists to close ---------------- */

#define RACE_KEYS 4
#define RACE_SECONDS 3
/* A key gone without a delete (LRU eviction) is waited for this long. */
#define RACE_PUBLISH_WAIT_MS 5000

/* Per value slot (one per possible CPU on per-CPU maps). */
struct race_value {
	__u64 version;
	__u64 filler[3];
};

struct race {
	int map_fd;
	__u32 slots;
	atomic_bool stop;
	/* version the deleter removed, published for the updater: 0 = none */
	_Atomic __u64 deleted[RACE_KEYS];
	atomic_ulong deletes, stale, absent, unexpected;
	/* updater-only state */
	__u64 last[RACE_KEYS];
	unsigned long mismatches, observed, vanished;
};

static void *race_deleter(void *arg)
{
	struct race *r = arg;
	struct race_value *snap = calloc(r->slots, sizeof(*snap));
	__u32 key;
	int ret;

	while (snap && !atomic_load(&r->stop)) {
		for (key = 0; key < RACE_KEYS; key++) {
			if (bpf_map_lookup_elem(r->map_fd, &key, snap))
				continue;
			/* The snapshot a GC would judge expired... */
			ret = bpfcmpdel_delete_snapshot(r->map_fd, &key, snap, 0,
							      sizeof(snap->version), NULL);
			if (ret == 0) {
				atomic_store(&r->deleted[key], snap->version);
				atomic_fetch_add(&r->deletes, 1);
			} else if (ret == -EBUSY) {
				atomic_fetch_add(&r->stale, 1);
			} else if (ret == -ENOENT) {
				atomic_fetch_add(&r->absent, 1);
			} else {
				atomic_fetch_add(&r->unexpected, 1);
			}
		}
	}
	free(snap);
	return NULL;
}

/*
 * When a refresh finds the key gone, the deleter must have removed exactly
 * the last version written: anything else is a live entry deleted.
 */
static void race_check_deleted(struct race *r, __u32 key, __u64 gone)
{
	r->observed++;
	if (gone != r->last[key])
		r->mismatches++;
}

static __u64 race_wait_deleted(struct race *r, __u32 key)
{
	__u64 gone;
	int ms;

	for (ms = 0; ms < RACE_PUBLISH_WAIT_MS; ms++) {
		gone = atomic_exchange(&r->deleted[key], 0);
		if (gone)
			return gone;
		usleep(1000);
	}
	return 0;
}

static void race_set(struct race *r, struct race_value *v, __u64 version)
{
	__u32 slot;

	for (slot = 0; slot < r->slots; slot++)
		v[slot].version = version;
}

/* Refreshes each key with ever newer versions, as a datapath would. */
static void race_updater(struct race *r, struct race_value *v)
{
	__u64 next = 1, gone;
	__u32 key;

	for (key = 0; key < RACE_KEYS; key++) {
		race_set(r, v, r->last[key] = next++);
		map_insert(r->map_fd, &key, v, BPF_NOEXIST);
	}
	while (!atomic_load(&r->stop)) {
		for (key = 0; key < RACE_KEYS; key++) {
			race_set(r, v, next);
			if (!bpf_map_update_elem(r->map_fd, &key, v, BPF_EXIST)) {
				r->last[key] = next++;
				continue;
			}
			gone = race_wait_deleted(r, key);
			if (gone)
				race_check_deleted(r, key, gone);
			else
				r->vanished++;
			race_set(r, v, r->last[key] = next++);
			map_insert(r->map_fd, &key, v, BPF_NOEXIST);
		}
	}
}

/* Deletes after the updater's last pass, once the deleter has stopped. */
static void race_drain(struct race *r)
{
	__u64 gone;
	__u32 key;

	for (key = 0; key < RACE_KEYS; key++) {
		gone = atomic_exchange(&r->deleted[key], 0);
		if (gone)
			race_check_deleted(r, key, gone);
	}
}

static void *race_timer(void *arg)
{
	struct race *r = arg;

	sleep(RACE_SECONDS);
	atomic_store(&r->stop, true);
	return NULL;
}

FIXTURE(race) {
	struct race r;
	struct race_value *value;
};

FIXTURE_VARIANT(race) {
	enum bpf_map_type map_type;
	__u32 map_flags;
	__u32 max_entries;	/* LRU: room enough that nothing is evicted */
};

FIXTURE_VARIANT_ADD(race, hash) {
	.map_type = BPF_MAP_TYPE_HASH, .max_entries = RACE_KEYS,
};
FIXTURE_VARIANT_ADD(race, hash_noprealloc) {
	.map_type = BPF_MAP_TYPE_HASH, .map_flags = BPF_F_NO_PREALLOC,
	.max_entries = RACE_KEYS,
};
FIXTURE_VARIANT_ADD(race, percpu_hash) {
	.map_type = BPF_MAP_TYPE_PERCPU_HASH, .max_entries = RACE_KEYS,
};
FIXTURE_VARIANT_ADD(race, lru_hash) {
	.map_type = BPF_MAP_TYPE_LRU_HASH, .max_entries = 4096,
};

FIXTURE_SETUP(race)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = variant->map_flags);
	bool percpu = variant->map_type == BPF_MAP_TYPE_PERCPU_HASH;

	self->r.slots = percpu ? (__u32)libbpf_num_possible_cpus() : 1;
	self->value = calloc(self->r.slots, sizeof(*self->value));
	ASSERT_NE(NULL, self->value);
	self->r.map_fd = bpf_map_create(variant->map_type, "cmpdel_race",
					sizeof(__u32), sizeof(struct race_value),
					variant->max_entries, &opts);
	ASSERT_GE(self->r.map_fd, 0);
}

FIXTURE_TEARDOWN(race)
{
	close(self->r.map_fd);
	free(self->value);
}

/* A datapath refreshing entries while a GC compare-deletes the same keys. */
TEST_F(race, no_live_entry_is_deleted)
{
	struct race *r = &self->r;
	pthread_t deleter, timer;

	REQUIRE_DEVICE();
	ASSERT_EQ(0, pthread_create(&deleter, NULL, race_deleter, r));
	ASSERT_EQ(0, pthread_create(&timer, NULL, race_timer, r));
	race_updater(r, self->value);
	pthread_join(timer, NULL);
	pthread_join(deleter, NULL);
	race_drain(r);

	TH_LOG("deletes %lu stale %lu absent %lu vanished %lu",
	       atomic_load(&r->deletes), atomic_load(&r->stale),
	       atomic_load(&r->absent), r->vanished);
	EXPECT_EQ(0, r->mismatches) TH_LOG("live entries deleted");
	EXPECT_EQ(0, atomic_load(&r->unexpected));
	EXPECT_EQ(0, r->vanished) TH_LOG("keys gone without a delete");
	EXPECT_LT(0, atomic_load(&r->deletes));
	/* Every delete the module reported is one the updater saw happen. */
	EXPECT_EQ(atomic_load(&r->deletes), r->observed);
}

/* --- the conntrack GC race, end to end (demo/ctsim.c) ------------------- */

/*
 * Fixed seed, 20k flows, 5k revived during the GC pass: long enough that a
 * snapshot-then-delete GC destroys hundreds of revived flows.  Tombstone
 * mode with a CAS datapath must destroy none; compare-and-delete and lock
 * mode are shown, not held to zero (their windows are documented).
 */
FIXTURE(ct) {
	int unused;
};

FIXTURE_SETUP(ct)
{
}

FIXTURE_TEARDOWN(ct)
{
}

/* Seven full GC passes under emulation: more than the default 30 s. */
TEST_F_TIMEOUT(ct, tombstone_gc_loses_no_refresh, 600)
{
	const struct ctsim_config cfg = {
		.flows = 20000, .revive = 5000, .threads = 2, .seed = 7,
	};
	/* The GCs that must lose nothing, and what they delete exactly. */
	static const enum ctsim_gc closed[] = {
		CTSIM_GC_TOMBSTONE, CTSIM_GC_BPF_KFUNC, CTSIM_GC_BPF_SWEEP,
	};
	struct ctsim_result r[NR_CTSIM_GC];
	bool ran[NR_CTSIM_GC] = { false };
	int gc, ret, i;

	REQUIRE_DEVICE();
	for (gc = 0; gc < NR_CTSIM_GC; gc++) {
		ret = ctsim_run(gc, &cfg, &r[gc]);
		if (ret == -EOPNOTSUPP &&
		    (gc == CTSIM_GC_BPF_KFUNC || gc == CTSIM_GC_BPF_SWEEP)) {
			TH_LOG("%s: kfuncs %s", ctsim_gc_names[gc], ctsim_why);
			continue;
		}
		ran[gc] = true;
		ASSERT_EQ(0, ret) TH_LOG("%s", ctsim_gc_names[gc]);
		TH_LOG("%-36s expired %u deleted %u kept %u revived %u lost %u",
		       ctsim_gc_names[gc], r[gc].expired, r[gc].deleted, r[gc].kept,
		       r[gc].revived, r[gc].lost);
		EXPECT_EQ(0, r[gc].other);
		EXPECT_EQ(cfg.revive, r[gc].revived);
		EXPECT_EQ(cfg.flows / 2, r[gc].expired);
	}
	EXPECT_GE(r[CTSIM_GC_DELETE].lost, 100)
		TH_LOG("the race this module closes did not even show");
	EXPECT_GE(r[CTSIM_GC_BPF_DELETE].lost, 100)
		TH_LOG("nor from a BPF program");
	for (i = 0; i < ARRAY_SIZE(closed); i++) {
		gc = closed[i];
		if (!ran[gc])
			continue;
		EXPECT_EQ(0, r[gc].lost) TH_LOG("%s", ctsim_gc_names[gc]);
		/* Every expired flow was either deleted or kept as revived. */
		EXPECT_EQ(r[gc].expired, r[gc].deleted + r[gc].kept)
			TH_LOG("%s", ctsim_gc_names[gc]);
		/* And kept only flows the datapath revived: it missed none. */
		EXPECT_GE(cfg.revive, r[gc].kept) TH_LOG("%s", ctsim_gc_names[gc]);
	}
}
