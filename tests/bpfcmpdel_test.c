// SPDX-License-Identifier: GPL-2.0
/*
 * Regression tests for /dev/bpfcmpdel, run inside a VM with the module
 * loaded.  Each test skips when the device is absent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "kselftest_harness.h"
#include "ct.h"
#include "ct.skel.h"
#include "ctsim.h"
#include "kcore.h"
#include "lsm.h"
#include "lsm.skel.h"
#include "timer.skel.h"

#define MAX_KEY 64

static bool device_present(void)
{
	return access(BPFCMPDEL_DEVICE, F_OK) == 0;
}

#define REQUIRE_DEVICE()						\
	do {								\
		if (!device_present())					\
			SKIP(return, BPFCMPDEL_DEVICE " absent: module not loaded"); \
	} while (0)

static void fill_key(unsigned char *key, __u32 key_size, __u32 i)
{
	__u32 b;

	for (b = 0; b < key_size; b++)
		key[b] = (unsigned char)(i >> (8 * (b % 4))) ^ (unsigned char)(b * 31);
}

static int raw_ioctl(unsigned long cmd, void *req)
{
	int fd = bpfcmpdel_device_fd();

	if (fd < 0)
		return fd;
	return ioctl(fd, cmd, req) ? -errno : 0;
}

/*
 * An insert, waiting out a transient -ENOMEM.  A map without
 * preallocation takes its elements from bpf_mem_alloc's per-CPU caches,
 * prefilled with a handful and refilled by irq_work once below a low
 * watermark; PREEMPT_RT runs that irq_work in a thread (woken from the
 * tick), which a tight loop of inserts from one CPU can outrun, and the
 * kernel's own update then fails with -ENOMEM though memory is plenty --
 * seen on a fresh map before this module touched it.  A datapath or agent
 * retries; so does this, for up to 2 s.  -E2BIG (the map's count says it
 * is full) and a -ENOMEM that lasts are still reported.
 */
static unsigned int map_insert_waits;	/* -ENOMEM waited out, for the logs */

static int map_insert(int fd, const void *key, const void *value, __u64 flags)
{
	const struct timespec tick = { .tv_nsec = 1000000 };
	int tries;

	for (tries = 0; tries < 2000; tries++) {
		if (!bpf_map_update_elem(fd, key, value, flags))
			return 0;
		if (errno != ENOMEM)
			return -errno;
		map_insert_waits++;
		nanosleep(&tick, NULL);
	}
	return -ENOMEM;
}

/* Keeps LRU tests on one CPU: LRU free lists are per CPU. */
static int pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

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

/* --- permissions -------------------------------------------------------- */

static int create_u32_hash(__u32 map_flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = map_flags);
	__u32 key = 1, value = 7;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_perm", 4, 4, 8, &opts);
	if (fd >= 0 && bpf_map_update_elem(fd, &key, &value, BPF_ANY)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(read_only_fd_is_eperm)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, ro, .open_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 1, value = 7;
	int fd, ro_fd;

	REQUIRE_DEVICE();
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	ro_fd = bpf_map_get_fd_by_id_opts(info.id, &ro);
	ASSERT_GE(ro_fd, 0);
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(ro_fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &value));
	/* The same map through a writable fd: the permission was the fd's. */
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(ro_fd);
	close(fd);
}

TEST(syscall_read_only_map_is_eperm)
{
	LIBBPF_OPTS(bpf_map_create_opts, ro, .map_flags = BPF_F_RDONLY);
	__u32 key = 1, value = 7;
	int fd;

	REQUIRE_DEVICE();
	/* Read-only to syscalls, so it cannot be filled: key 1 is absent... */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_rdonly", 4, 4, 8, &ro);
	ASSERT_GE(fd, 0);
	/* ...but the permission check comes before any lookup. */
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(fd);
}

TEST(frozen_map_is_eperm)
{
	__u32 key = 1, value = 7;
	int fd;

	REQUIRE_DEVICE();
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_freeze(fd));
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &value));
	close(fd);
}

TEST(device_is_root_only)
{
	pid_t pid;
	int status;

	REQUIRE_DEVICE();
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open(BPFCMPDEL_DEVICE, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* --- unsupported maps and wrong fds --------------------------------------- */

TEST(unsupported_map_types_are_eopnotsupp)
{
	const enum bpf_map_type types[] = {
		BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY,
	};
	__u32 key = 0, value = 0, i;
	int fd;

	REQUIRE_DEVICE();
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		fd = bpf_map_create(types[i], "cmpdel_unsup", 4, 4, 4, NULL);
		ASSERT_GE(fd, 0) TH_LOG("map type %d", types[i]);
		bpf_map_update_elem(fd, &key, &value, BPF_ANY);
		EXPECT_EQ(-EOPNOTSUPP, bpfcmpdel_delete(fd, &key, &value,
								   0, 4, NULL))
			TH_LOG("map type %d", types[i]);
		close(fd);
	}
}

/* A hash map whose value is { int counter; struct bpf_spin_lock lock; }. */
static int create_spin_lock_map(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	struct btf *btf;
	int btf_fd, fd, int_id, lock_id, value_id;

	btf = btf__new_empty();
	if (!btf)
		return -1;
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
	btf__add_field(btf, "val", int_id, 0, 0);
	value_id = btf__add_struct(btf, "value", 8);
	btf__add_field(btf, "counter", int_id, 0, 0);
	btf__add_field(btf, "lock", lock_id, 32, 0);
	if (btf__load_into_kernel(btf)) {
		btf__free(btf);
		return -1;
	}
	btf_fd = btf__fd(btf);
	opts.btf_fd = btf_fd;
	opts.btf_key_type_id = int_id;
	opts.btf_value_type_id = value_id;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_lock", 4, 8, 4, &opts);
	btf__free(btf);
	return fd;
}

/* Fields the kernel manages are not what userspace reads back. */
TEST(region_overlapping_spin_lock_is_einval)
{
	__u32 key = 0, value[2] = { 5, 0 };
	int fd;

	REQUIRE_DEVICE();
	fd = create_spin_lock_map();
	ASSERT_GE(fd, 0) TH_LOG("creating a map with a bpf_spin_lock: %s",
				strerror(errno));
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, value, BPF_ANY));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, value, 0, 8, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &value[1], 4, 4, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &value[1], 7, 1, NULL));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, value));
	/* The counter next to the lock is fair game. */
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(fd, &key, &(__u32){ 6 }, 0, 4, NULL));
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, value, 0, 4, NULL));
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, value));
	close(fd);
}

/* --- values with a bpf_timer: released with the element ------------------ */

FIXTURE(timer) {
	struct timer_bpf *skel;
	int map_fd;
};

FIXTURE_VARIANT(timer) {
	__u32 map_index;	/* the map arm_timer() uses, see timer.bpf.c */
};

FIXTURE_VARIANT_ADD(timer, hash) { .map_index = 0 };
FIXTURE_VARIANT_ADD(timer, hash_noprealloc) { .map_index = 1 };
FIXTURE_VARIANT_ADD(timer, lru_hash) { .map_index = 2 };

/* The verifier's log of the last failed load, for a kernel's own reasons. */
static char verifier_log[16384];

static int capture_libbpf_log(enum libbpf_print_level level, const char *fmt,
			      va_list args)
{
	size_t len = strlen(verifier_log);

	if (level != LIBBPF_DEBUG && len < sizeof(verifier_log) - 1)
		vsnprintf(verifier_log + len, sizeof(verifier_log) - len, fmt, args);
	return 0;
}

/* The kernel's words for why it refuses a feature outright, if it did. */
static const char *kernel_refusal(const char *log)
{
	static const char *const refusals[] = {
		"bpf_timer cannot be used for PREEMPT_RT",
	};
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strstr(log, refusals[i]))
			return refusals[i];
	return NULL;
}

FIXTURE_SETUP(timer)
{
	struct bpf_map *maps[] = { NULL, NULL, NULL };
	libbpf_print_fn_t old;
	const char *refusal;

	verifier_log[0] = '\0';
	old = libbpf_set_print(capture_libbpf_log);
	self->skel = timer_bpf__open_and_load();
	libbpf_set_print(old);
	refusal = kernel_refusal(verifier_log);
	if (!self->skel && refusal)
		SKIP(return, "the kernel refuses: %s", refusal);
	ASSERT_NE(NULL, self->skel) TH_LOG("loading timer.bpf.o: %s\n%s",
					   strerror(errno), verifier_log);
	maps[0] = self->skel->maps.prealloc;
	maps[1] = self->skel->maps.noprealloc;
	maps[2] = self->skel->maps.lru;
	self->map_fd = bpf_map__fd(maps[variant->map_index]);
	self->skel->bss->map_index = variant->map_index;
	self->skel->bss->delay_ns = 200 * 1000 * 1000;
}

FIXTURE_TEARDOWN(timer)
{
	if (self->skel)
		timer_bpf__destroy(self->skel);
}

static int arm_timer(struct timer_bpf *skel, __u32 key)
{
	char packet[64] = {};
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet,
		    .data_size_in = sizeof(packet));

	skel->bss->key = key;
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.arm_timer), &run))
		return -errno;
	return (int)run.retval;
}

/* Polls, since timers fire late under emulation. */
static __u64 fired_after(struct timer_bpf *skel, __u64 want, int max_ms)
{
	while (max_ms > 0 && __atomic_load_n(&skel->bss->fired, __ATOMIC_RELAXED) < want) {
		usleep(10 * 1000);
		max_ms -= 10;
	}
	return __atomic_load_n(&skel->bss->fired, __ATOMIC_RELAXED);
}

/*
 * Two elements with armed timers; one is compare-deleted.  Only the other
 * timer may fire: a timer left in the freed element would fire too.
 */
TEST_F(timer, delete_cancels_the_elements_timer)
{
	__u64 value[3] = { 1, 0, 0 };	/* generation, then the bpf_timer */
	__u32 kept = 1, deleted = 0;

	REQUIRE_DEVICE();
	/* Setup skipped: this harness runs the body after a SKIP there. */
	if (!self->skel)
		return;
	ASSERT_EQ(0, bpf_map_update_elem(self->map_fd, &deleted, value, BPF_NOEXIST));
	ASSERT_EQ(0, bpf_map_update_elem(self->map_fd, &kept, value, BPF_NOEXIST));
	ASSERT_EQ(0, arm_timer(self->skel, deleted));
	ASSERT_EQ(0, arm_timer(self->skel, kept));

	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(self->map_fd, &deleted,
						       &value[1], 8, 16, NULL));
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(self->map_fd, &kept,
						      &(__u64){ 2 }, 0, 8, NULL));
	EXPECT_EQ(0, bpfcmpdel_delete(self->map_fd, &deleted,
						 &value[0], 0, 8, NULL));

	EXPECT_EQ(1, fired_after(self->skel, 1, 5000));
	/* Time enough for a second timer due at the same moment. */
	EXPECT_EQ(1, fired_after(self->skel, 2, 500));
	/* The freed slot takes a new element, with a timer of its own. */
	EXPECT_EQ(0, bpf_map_update_elem(self->map_fd, &deleted, value, BPF_NOEXIST));
	EXPECT_EQ(0, arm_timer(self->skel, deleted));
	EXPECT_EQ(2, fired_after(self->skel, 2, 5000));
}

TEST(non_map_fd_is_einval)
{
	__u32 key = 0, value = 0;
	int fd;

	REQUIRE_DEVICE();
	fd = open("/dev/null", O_RDWR);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(fd);
}

TEST(bad_fd_is_ebadf)
{
	struct bpfcmpdel_req req = {
		.size = sizeof(req), .map_fd = 1000000, .compare_size = 4,
	};
	__u32 key = 0, value = 0;

	REQUIRE_DEVICE();
	req.key = (__u64)(uintptr_t)&key;
	req.expected = (__u64)(uintptr_t)&value;
	EXPECT_EQ(-EBADF, raw_ioctl(BPFCMPDEL_IOC_DELETE, &req));
	EXPECT_EQ(-EBADF, bpfcmpdel_delete(-1, &key, &value, 0, 4, NULL));
}

/* --- the ioctl ABI itself ------------------------------------------------ */

FIXTURE(abi) {
	int map_fd;
	__u32 key;
	__u32 value;
	struct bpfcmpdel_req req;
};

FIXTURE_SETUP(abi)
{
	self->map_fd = create_u32_hash(0);
	ASSERT_GE(self->map_fd, 0);
	self->key = 1;
	self->value = 7;
	self->req = (struct bpfcmpdel_req) {
		.size = sizeof(self->req),
		.map_fd = self->map_fd,
		.key = (__u64)(uintptr_t)&self->key,
		.expected = (__u64)(uintptr_t)&self->value,
		.compare_size = 4,
	};
}

FIXTURE_TEARDOWN(abi)
{
	close(self->map_fd);
}

static bool abi_key_present(struct _test_data_abi *self)
{
	__u32 v;

	return bpf_map_lookup_elem(self->map_fd, &self->key, &v) == 0;
}

TEST_F(abi, well_formed_request_deletes)
{
	REQUIRE_DEVICE();
	EXPECT_EQ(0, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_FALSE(abi_key_present(self));
}

TEST_F(abi, unknown_flags_are_einval)
{
	__u64 bit;

	REQUIRE_DEVICE();
	for (bit = 0; bit < 64; bit++) {
		if (BPFCMPDEL_F_ALL & (1ULL << bit))
			continue;
		self->req.flags = 1ULL << bit;
		EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req))
			TH_LOG("flag bit %llu", (unsigned long long)bit);
	}
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, zero_compare_size_is_einval)
{
	REQUIRE_DEVICE();
	self->req.compare_size = 0;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, offset_overflow_is_einval)
{
	REQUIRE_DEVICE();
	self->req.compare_offset = 0xffffffff;
	self->req.compare_size = 2;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, short_struct_is_einval)
{
	REQUIRE_DEVICE();
	self->req.size = BPFCMPDEL_REQ_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.size = 0;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

/* A caller built against a future, longer request struct. */
struct bigger_req {
	struct bpfcmpdel_req req;
	__u64 future[4];
};

TEST_F(abi, longer_struct_with_zero_tail_works)
{
	struct bigger_req big = { .req = self->req };

	REQUIRE_DEVICE();
	big.req.size = sizeof(big);
	EXPECT_EQ(0, raw_ioctl(BPFCMPDEL_IOC_DELETE, &big));
	EXPECT_FALSE(abi_key_present(self));
}

TEST_F(abi, longer_struct_with_nonzero_tail_is_e2big)
{
	struct bigger_req big = { .req = self->req };

	REQUIRE_DEVICE();
	big.req.size = sizeof(big);
	big.future[3] = 1;
	EXPECT_EQ(-E2BIG, raw_ioctl(BPFCMPDEL_IOC_DELETE, &big));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, unknown_command_is_enotty)
{
	REQUIRE_DEVICE();
	EXPECT_EQ(-ENOTTY, raw_ioctl(_IOW(BPFCMPDEL_IOC_MAGIC, 2, struct bpfcmpdel_req),
				     &self->req));
	EXPECT_EQ(-ENOTTY, raw_ioctl(_IOR(BPFCMPDEL_IOC_MAGIC, 1, struct bpfcmpdel_req),
				     &self->req));
	EXPECT_EQ(-ENOTTY, raw_ioctl(_IOW('X', 1, struct bpfcmpdel_req), &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, bad_pointers_are_efault)
{
	void *unmapped;

	REQUIRE_DEVICE();
	unmapped = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	ASSERT_EQ(0, munmap(unmapped, 4096));

	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, NULL));
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, unmapped));

	self->req.key = 0;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.key = (__u64)(uintptr_t)unmapped;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));

	self->req.key = (__u64)(uintptr_t)&self->key;
	self->req.expected = 0;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.expected = (__u64)(uintptr_t)unmapped;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, request_larger_than_a_page_is_e2big)
{
	size_t len = 2 * (size_t)sysconf(_SC_PAGESIZE);
	struct bpfcmpdel_req *big = calloc(1, len);

	REQUIRE_DEVICE();
	ASSERT_NE(NULL, big);
	*big = self->req;
	big->size = (__u32)sysconf(_SC_PAGESIZE) + 1;
	EXPECT_EQ(-E2BIG, raw_ioctl(BPFCMPDEL_IOC_DELETE, big));
	/* Far larger, and mostly unmapped: refused before any of it is read. */
	big->size = 0xffffffffu;
	EXPECT_EQ(-E2BIG, raw_ioctl(BPFCMPDEL_IOC_DELETE, big));
	EXPECT_TRUE(abi_key_present(self));
	free(big);
}

TEST_F(abi, reserved_and_mode_fields_must_be_zero)
{
	REQUIRE_DEVICE();
	self->req.reserved = 1;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.reserved = 0;
	self->req.cpu = 1;	/* without BPFCMPDEL_F_CPU */
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.cpu = 0;
	self->req.tombstone = 1;	/* without BPFCMPDEL_F_TOMBSTONE */
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

/* --- the per-CPU element count (6.1 carries the field, never allocated) - */

static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

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

/* --- security modules see the delete, as bpf() lets them ---------------- */

/*
 * The policy of tests/bpf/lsm.bpf.c, live for this process; NULL with
 * *@why set where BPF-LSM programs cannot run.
 */
static struct lsm_bpf *lsm_attach(const char **why)
{
	struct lsm_bpf *skel;

	skel = lsm_bpf__open_and_load();
	if (!skel) {
		*why = "no BPF LSM on this kernel";
		return NULL;
	}
	skel->bss->target_pid = getpid();
	skel->bss->target_fd = -1;
	if (!lsm_bpf__attach(skel))
		return skel;
	/*
	 * An LSM program attaches through a trampoline patched over the
	 * hook's __fentry__ call, which a kernel built without function
	 * tracing (the debug kernels' defconfig base) does not have.
	 */
	*why = kallsyms_addr("__fentry__", "Tt", "") ? "attach failed" :
	       "BPF-LSM programs cannot attach: no __fentry__ (kernel built without CONFIG_FUNCTION_TRACER)";
	lsm_bpf__destroy(skel);
	return NULL;
}

#define LSM_ATTACH(skel)						\
	do {								\
		const char *why = NULL;					\
									\
		skel = lsm_attach(&why);				\
		if (!skel && why && strcmp(why, "attach failed"))	\
			SKIP(return, "%s", why);			\
		ASSERT_NE(NULL, skel) TH_LOG("%s", why);		\
	} while (0)

TEST(lsm_denial_applies)
{
	__u32 key = 1, value = 7;
	struct lsm_bpf *skel;
	int fd;

	REQUIRE_DEVICE();
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	LSM_ATTACH(skel);
	skel->bss->target_fd = fd;
	/* The policy is live: the syscall itself is refused... */
	EXPECT_EQ(-1, bpf_map_delete_elem(fd, &key));
	EXPECT_EQ(EPERM, errno);
	/* ...and so is the same delete through the device. */
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(2, skel->bss->denied);
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &value));
	lsm_bpf__destroy(skel);
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(fd);
}

/*
 * The hook is asked with the attr of the command a request stands for: a
 * policy reading batch.map_fd denies batches and sweeps of that map and
 * of no other, and sees the pointers and counts the request carries.
 */
TEST(lsm_sees_each_command_s_attr)
{
	__u32 key = 1, value = 7, newer = 8, count = 1, nr;
	unsigned char keys[4 * 4];
	__u64 cursor = 0;
	__s32 result;
	struct lsm_bpf *skel;
	int denied_fd, fd;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = 4);

	REQUIRE_DEVICE();
	denied_fd = create_u32_hash(0);
	fd = create_u32_hash(0);
	ASSERT_GE(denied_fd, 0);
	ASSERT_GE(fd, 0);
	LSM_ATTACH(skel);
	skel->bss->batch_target_fd = denied_fd;
	skel->bss->deny_batch = 1;

	/* Live for the syscall's own batch delete... */
	EXPECT_EQ(-1, bpf_map_delete_batch(denied_fd, &key, &count, NULL));
	EXPECT_EQ(EPERM, errno);
	/* ...and for the device's batch and sweep on that map. */
	count = 1;
	EXPECT_EQ(-EPERM, bpfcmpdel_delete_batch(denied_fd, &key, &value, &result,
						 &count, 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_sweep(denied_fd, &cursor, 0, 4, 100, &nr, &so));
	EXPECT_EQ(3, skel->bss->batch_denied);
	EXPECT_EQ(0, bpf_map_lookup_elem(denied_fd, &key, &value));

	/* Another map: allowed, and the hook saw this request's fields. */
	EXPECT_EQ(0, bpfcmpdel_update(fd, &key, &value, &newer, 0, 4, NULL));
	EXPECT_EQ(fd, skel->bss->seen_update.map_fd);
	EXPECT_EQ((uintptr_t)&key, skel->bss->seen_update.key);
	EXPECT_EQ((uintptr_t)&newer, skel->bss->seen_update.value);
	EXPECT_EQ(BPF_EXIST, skel->bss->seen_update.flags);
	count = 1;
	EXPECT_EQ(0, bpfcmpdel_delete_batch(fd, &key, &value, &result, &count,
					    0, 4, NULL));
	EXPECT_EQ(-EBUSY, result);
	EXPECT_EQ(BPF_MAP_DELETE_BATCH, skel->bss->seen_delete_batch.cmd);
	EXPECT_EQ(fd, skel->bss->seen_delete_batch.map_fd);
	EXPECT_EQ((uintptr_t)&key, skel->bss->seen_delete_batch.key);
	EXPECT_EQ(1, skel->bss->seen_delete_batch.count);
	EXPECT_EQ(0, bpfcmpdel_sweep(fd, &cursor, 0, 4, 100, &nr, &so));
	EXPECT_EQ(1, nr);
	EXPECT_EQ(BPF_MAP_LOOKUP_AND_DELETE_BATCH,
		  skel->bss->seen_lookup_and_delete_batch.cmd);
	EXPECT_EQ(fd, skel->bss->seen_lookup_and_delete_batch.map_fd);
	EXPECT_EQ((uintptr_t)keys, skel->bss->seen_lookup_and_delete_batch.key);
	EXPECT_EQ(4, skel->bss->seen_lookup_and_delete_batch.count);
	EXPECT_EQ(3, skel->bss->batch_denied);
	lsm_bpf__destroy(skel);
	close(fd);
	close(denied_fd);
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

/* --- the conntrack GC race, end to end (tools/ctsim.c) ------------------- */

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

/* Four full GC passes under emulation: more than the default 30 s. */
TEST_F_TIMEOUT(ct, tombstone_gc_loses_no_refresh, 600)
{
	const struct ctsim_config cfg = {
		.flows = 20000, .revive = 5000, .threads = 2, .seed = 7,
	};
	struct ctsim_result r[NR_CTSIM_GC];
	int gc;

	REQUIRE_DEVICE();
	for (gc = 0; gc < NR_CTSIM_GC; gc++) {
		ASSERT_EQ(0, ctsim_run(gc, &cfg, &r[gc])) TH_LOG("%s", ctsim_gc_names[gc]);
		TH_LOG("%-36s expired %u deleted %u kept %u revived %u lost %u",
		       ctsim_gc_names[gc], r[gc].expired, r[gc].deleted, r[gc].kept,
		       r[gc].revived, r[gc].lost);
		EXPECT_EQ(0, r[gc].other);
		EXPECT_EQ(cfg.revive, r[gc].revived);
		EXPECT_EQ(cfg.flows / 2, r[gc].expired);
	}
	EXPECT_GE(r[CTSIM_GC_DELETE].lost, 100)
		TH_LOG("the race this module closes did not even show");
	EXPECT_EQ(0, r[CTSIM_GC_TOMBSTONE].lost);
	/* Every expired flow was either deleted or kept as revived. */
	EXPECT_EQ(r[CTSIM_GC_TOMBSTONE].expired,
		  r[CTSIM_GC_TOMBSTONE].deleted + r[CTSIM_GC_TOMBSTONE].kept);
}

/* --- batch compare-and-delete -------------------------------------------- */

#define BK_VALUE 24	/* struct ts-like value: u64 at 0, 8, 16 */

static int batch_map(enum bpf_map_type type, __u32 flags, __u32 max)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);

	return bpf_map_create(type, "cmpdel_batch", 16, BK_VALUE, max, &opts);
}

static void batch_key(unsigned char *key, __u32 i)
{
	memset(key, 0, 16);
	memcpy(key, &i, sizeof(i));
	key[7] = 0x5a;
}

/* Inserts @n elements whose u64 at offset 8 is i * 3. */
static int batch_fill(int fd, __u32 n)
{
	unsigned char key[16];
	__u64 v[3];
	__u32 i;
	int ret;

	for (i = 0; i < n; i++) {
		batch_key(key, i);
		v[0] = i;
		v[1] = i * 3ULL;
		v[2] = ~(__u64)i;
		ret = map_insert(fd, key, v, BPF_NOEXIST);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Element i of a batch: a key, and what is expected of it -- current
 * (deleted), stale (kept), or absent (never inserted) -- chosen by @pick.
 */
enum { B_CURRENT, B_STALE, B_ABSENT };

static void batch_build(__u32 n, __u32 inserted, const unsigned char *pick,
			unsigned char *keys, __u64 *expected)
{
	__u32 i, id;

	for (i = 0; i < n; i++) {
		id = pick[i] == B_ABSENT ? inserted + i : i;
		batch_key(keys + 16 * i, id);
		expected[i] = id * 3ULL + (pick[i] == B_STALE);
	}
}

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

TEST(batch_of_one_many_and_past_a_chunk)
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

/* --- the expiry sweep ---------------------------------------------------- */

FIXTURE(sweep) {
	int fd;
	__u32 n;
};

FIXTURE_VARIANT(sweep) {
	enum bpf_map_type type;
	__u32 flags;
};

FIXTURE_VARIANT_ADD(sweep, hash) { .type = BPF_MAP_TYPE_HASH };
FIXTURE_VARIANT_ADD(sweep, hash_noprealloc) {
	.type = BPF_MAP_TYPE_HASH, .flags = BPF_F_NO_PREALLOC,
};
FIXTURE_VARIANT_ADD(sweep, lru) { .type = BPF_MAP_TYPE_LRU_HASH };
FIXTURE_VARIANT_ADD(sweep, lru_nocommon) {
	.type = BPF_MAP_TYPE_LRU_HASH, .flags = BPF_F_NO_COMMON_LRU,
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
		BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = self->n);

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
 * One bucket and @max_out keys a call: every element still visited once.
 * Returns the calls that left the cursor where it was (a bucket with more
 * expired than fit, visited again).
 */
static __u32 sweep_in_small_steps(struct __test_metadata *_metadata, int fd, __u32 n,
				  __u32 max_out)
{
	unsigned char keys[3 * 16], *seen = calloc(n, 1);
	__u64 cursor = 0, before, scanned = 0;
	__u32 nr, calls = 0, again = 0;

	ASSERT_NE(NULL, seen);
	while (cursor != BPFCMPDEL_SWEEP_END) {
		BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = max_out, .budget = 1,
				     .nr_scanned = &scanned);

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
	sweep_in_small_steps(_metadata, self->fd, self->n, 3);
}

/*
 * A key a call: of the ~55 buckets expected to hold two expired elements,
 * each is visited again rather than passed.
 */
TEST_F(sweep, revisits_a_bucket_with_more_than_fit)
{
	REQUIRE_DEVICE();
	EXPECT_GT(sweep_in_small_steps(_metadata, self->fd, self->n, 1), 0);
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
		BPFCMPDEL_SWEEP_OPTS(so, .flags = BPFCMPDEL_F_TOMBSTONE,
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
	close(fd);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_spc", 4, 8, 4, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, pc, 0));
	so.budget = 0;
	EXPECT_EQ(-EINVAL, bpfcmpdel_sweep(fd, &cursor, 0, 8, 1, &nr, &so));
	close(fd);
}

/* --- compare-and-swap ----------------------------------------------------- */

TEST(cas_swaps_only_the_expected)
{
	unsigned char key[16];
	__u64 v[3], want = 9, fresh = 77, stale = 1;
	__u32 w4 = 0, n4 = 5;
	int fd;

	REQUIRE_DEVICE();
	fd = batch_map(BPF_MAP_TYPE_HASH, 0, 8);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, batch_fill(fd, 4));
	batch_key(key, 3);
	EXPECT_EQ(-EBUSY, bpfcmpdel_update(fd, key, &stale, &fresh, 8, 8, NULL));
	EXPECT_EQ(0, bpfcmpdel_update(fd, key, &want, &fresh, 8, 8, NULL));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, key, v));
	EXPECT_EQ(77, v[1]);
	EXPECT_EQ(3, v[0]);
	EXPECT_EQ(~3ULL, v[2]);
	/* A 4-byte word: the low half of v[0] (3). */
	w4 = 3;
	EXPECT_EQ(0, bpfcmpdel_update(fd, key, &w4, &n4, 0, 4, NULL));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, key, v));
	EXPECT_EQ(5, v[0]);
	batch_key(key, 100);
	EXPECT_EQ(-ENOENT, bpfcmpdel_update(fd, key, &want, &fresh, 8, 8, NULL));
	/* Unaligned, wider than a word, or no new bytes: refused. */
	batch_key(key, 2);
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, key, &want, &fresh, 4, 8, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, key, v, v, 0, 16, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, key, &want, NULL, 8, 8, NULL));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, key, v));
	EXPECT_EQ(6, v[1]);
	close(fd);
}

TEST(cas_lock_mode_and_percpu)
{
	BPFCMPDEL_OPTS(lock, .flags = BPFCMPDEL_F_LOCK);
	BPFCMPDEL_OPTS(cpu, .flags = BPFCMPDEL_F_CPU, .cpu = 0);
	__u32 key = 0, value[2] = { 5, 0 }, nv = 6, k = 1;
	__u64 *pc;
	int fd, ncpus = libbpf_num_possible_cpus();

	REQUIRE_DEVICE();
	fd = create_spin_lock_map();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, value, BPF_ANY));
	EXPECT_EQ(0, bpfcmpdel_update(fd, &key, &value[0], &nv, 0, 4, &lock));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &key, value));
	EXPECT_EQ(6, value[0]);
	close(fd);

	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_cpc", 4, 8, 4, NULL);
	ASSERT_GE(fd, 0);
	pc = calloc(ncpus, 8);
	ASSERT_NE(NULL, pc);
	pc[0] = 10;
	ASSERT_EQ(0, bpf_map_update_elem(fd, &k, pc, 0));
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, &k, &pc[0], &(__u64){ 11 }, 0, 8, NULL));
	EXPECT_EQ(0, bpfcmpdel_update(fd, &k, &pc[0], &(__u64){ 11 }, 0, 8, &cpu));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &k, pc));
	EXPECT_EQ(11, pc[0]);
	free(pc);
	close(fd);
}

struct cas_race {
	struct ct_bpf *skel;
	struct ct_key key;
	__u32 rounds;
	int errors;
};

static void *cas_bpf_bumper(void *arg)
{
	struct cas_race *r = arg;
	struct ct_packet pkt = { .key = r->key };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &pkt,
		    .data_size_in = sizeof(pkt));
	__u32 i;

	for (i = 0; i < r->rounds; i++)
		if (bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.bump), &run) ||
		    run.retval != XDP_PASS)
			r->errors++;
	return NULL;
}

/* Userspace CAS increments racing a BPF program's atomic ones: none lost. */
TEST(cas_races_bpf_atomic_updates)
{
	struct cas_race r = { .rounds = 3000 };
	struct ct_entry e = { .lifetime = 1 };
	__u32 i, mine = 0, busy = 0;
	pthread_t t;
	__u64 cur;
	int fd, ret;

	REQUIRE_DEVICE();
	r.skel = ct_bpf__open_and_load();
	ASSERT_NE(NULL, r.skel);
	fd = bpf_map__fd(r.skel->maps.ct_lru);
	r.key.saddr = 1;
	ASSERT_EQ(0, bpf_map_update_elem(fd, &r.key, &e, BPF_NOEXIST));
	ASSERT_EQ(0, pthread_create(&t, NULL, cas_bpf_bumper, &r));
	for (i = 0; i < r.rounds; i++) {
		do {
			ASSERT_EQ(0, bpf_map_lookup_elem(fd, &r.key, &e));
			cur = e.packets;
			ret = bpfcmpdel_update(fd, &r.key, &cur, &(__u64){ cur + 1 },
					       offsetof(struct ct_entry, packets), 8, NULL);
			busy += ret == -EBUSY;
		} while (ret == -EBUSY);
		ASSERT_EQ(0, ret);
		mine++;
	}
	pthread_join(t, NULL);
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &r.key, &e));
	TH_LOG("%u CAS retries", busy);
	EXPECT_EQ(0, r.errors);
	EXPECT_EQ(2ULL * r.rounds, e.packets);
	EXPECT_EQ(r.rounds, mine);
	ct_bpf__destroy(r.skel);
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

#define LOCK_FAIL_PARAM "/sys/module/bpfcmpdel/parameters/test_lock_fail_after"

/* After @n more bucket locks succeed, every one fails; -1: never. */
static int lock_fail_after(int n)
{
	FILE *f = fopen(LOCK_FAIL_PARAM, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fprintf(f, "%d\n", n) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : ret;
}

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

/* --- reading needs the right to read --------------------------------------- */

/*
 * Every request through a write-only fd: -EPERM, nothing changed.  The
 * fd may write (the syscall's delete works through it), not read.
 */
static void write_only_refused(struct __test_metadata *_metadata, int wfd, int rfd)
{
	__u32 key = 1, value = 7, newer = 8, count = 1, nr = 5;
	__s32 result = 1;
	__u64 cursor = 0;
	unsigned char keys[4];
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = 1);

	EXPECT_EQ(-EPERM, bpfcmpdel_delete(wfd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_update(wfd, &key, &value, &newer, 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_delete_batch(wfd, &key, &value, &result, &count,
						 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_sweep(wfd, &cursor, 0, 4, 100, &nr, &so));
	EXPECT_EQ(0, nr);
	/* The map as it was, through a fd that may read it. */
	EXPECT_EQ(0, bpf_map_lookup_elem(rfd, &key, &value));
	EXPECT_EQ(7, value);
	/* The fd's right to write is real: the plain delete goes through. */
	EXPECT_EQ(0, bpf_map_delete_elem(wfd, &key));
	EXPECT_EQ(-1, bpf_map_lookup_elem(wfd, &key, &value));
	EXPECT_EQ(EPERM, errno);
}

TEST(write_only_fds_are_eperm)
{
	LIBBPF_OPTS(bpf_map_create_opts, wo, .map_flags = BPF_F_WRONLY);
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, wo_id, .open_flags = BPF_F_WRONLY);
	LIBBPF_OPTS(bpf_obj_get_opts, wo_get, .file_flags = BPF_F_WRONLY);
	char dir[] = "/cmpdel-bpffs-XXXXXX", pin[64];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 1, value = 7;
	int fd, wfd, rfd;

	REQUIRE_DEVICE();
	/* Created write-only: the creating fd is, the map is readable by id. */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_wronly", 4, 4, 8, &wo);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	rfd = bpf_map_get_fd_by_id(info.id);
	ASSERT_GE(rfd, 0);
	write_only_refused(_metadata, fd, rfd);
	close(rfd);
	close(fd);

	/* Opened write-only, by id and through a pin. */
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	wfd = bpf_map_get_fd_by_id_opts(info.id, &wo_id);
	ASSERT_GE(wfd, 0);
	write_only_refused(_metadata, wfd, fd);
	close(wfd);

	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, mount("bpf", dir, "bpf", 0, NULL)) TH_LOG("mount bpffs: %s",
							       strerror(errno));
	snprintf(pin, sizeof(pin), "%s/map", dir);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	ASSERT_EQ(0, bpf_obj_pin(fd, pin));
	wfd = bpf_obj_get_opts(pin, &wo_get);
	EXPECT_GE(wfd, 0);
	if (wfd >= 0) {
		write_only_refused(_metadata, wfd, fd);
		close(wfd);
	}
	unlink(pin);
	umount(dir);
	rmdir(dir);
	close(fd);
}

/* --- the counters operators read ------------------------------------------- */

#define STATS_FILE "/sys/class/misc/bpfcmpdel/stats"

/* Counter @name now, or ~0 when it cannot be read. */
static __u64 stat_of(const char *name)
{
	char line[128], got[64];
	unsigned long long v;
	__u64 ret = ~0ULL;
	FILE *f = fopen(STATS_FILE, "r");

	if (!f)
		return ret;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %llu", got, &v) == 2 && !strcmp(got, name))
			ret = v;
	fclose(f);
	return ret;
}

enum { ST_DEL, ST_UPD, ST_BATCH, ST_SWEEP, ST_DELETED, ST_SWAPPED, ST_CHANGED,
       ST_ABSENT, ST_RETRIED, ST_REFUSED, ST_SCANNED, NR_ST };

static const char *const stat_names[NR_ST] = {
	"requests_delete", "requests_update", "requests_batch", "requests_sweep",
	"deleted", "swapped", "changed", "absent", "retried", "refused", "scanned",
};

static void stats_read(struct __test_metadata *_metadata, __u64 *v)
{
	int i;

	for (i = 0; i < NR_ST; i++) {
		v[i] = stat_of(stat_names[i]);
		ASSERT_NE(~0ULL, v[i]) TH_LOG("%s", stat_names[i]);
	}
}

/*
 * Each request counted once, each element by its result: nothing else
 * uses the module while the suite runs, so the deltas are exact.
 */
TEST(stats_count_what_requests_did)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, wo, .open_flags = BPF_F_WRONLY);
	__u64 before[NR_ST], after[NR_ST], cursor = 0;
	__u32 keys[3] = { 1, 2, 9 }, vals[3] = { 7, 0, 0 }, key, value, newer = 9;
	__u32 count = 3, nr, len;
	struct bpf_map_info info = {};
	unsigned char out[4 * 8];
	__s32 results[3];
	int fd, wfd, i;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = out, .max_out = 8);

	REQUIRE_DEVICE();
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_stats", 4, 4, 16, NULL);
	ASSERT_GE(fd, 0);
	for (key = 1; key <= 6; key++) {
		value = key + 6;	/* 7..12 */
		ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	}
	len = sizeof(info);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	wfd = bpf_map_get_fd_by_id_opts(info.id, &wo);
	ASSERT_GE(wfd, 0);
	stats_read(_metadata, before);

	key = 3;
	value = 0;
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	value = 9;
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(-ENOENT, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	key = 4;
	value = 10;
	EXPECT_EQ(0, bpfcmpdel_update(fd, &key, &value, &newer, 0, 4, NULL));
	/* 1 deleted, 2 changed (it holds 8), 9 absent. */
	EXPECT_EQ(0, bpfcmpdel_delete_batch(fd, keys, vals, results, &count, 0, 4, NULL));
	/* The rest, below 13: 2, 4, 5, 6 go; all four looked at. */
	EXPECT_EQ(0, bpfcmpdel_sweep(fd, &cursor, 0, 4, 13, &nr, &so));
	EXPECT_EQ(4, nr);
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(wfd, &key, &value, 0, 4, NULL));
	key = 20;
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	ASSERT_EQ(0, lock_fail_after(0));
	EXPECT_EQ(-EAGAIN, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	ASSERT_EQ(0, lock_fail_after(-1));

	stats_read(_metadata, after);
	{
		const __u64 want[NR_ST] = {
			[ST_DEL] = 5, [ST_UPD] = 1, [ST_BATCH] = 1, [ST_SWEEP] = 1,
			[ST_DELETED] = 1 + 1 + 4, [ST_SWAPPED] = 1, [ST_CHANGED] = 1 + 1,
			[ST_ABSENT] = 1 + 1, [ST_RETRIED] = 1, [ST_REFUSED] = 1,
			[ST_SCANNED] = 4,
		};

		for (i = 0; i < NR_ST; i++) {
			EXPECT_EQ(want[i], after[i] - before[i])
				TH_LOG("%s", stat_names[i]);
		}
	}
	close(wfd);
	close(fd);
}

TEST_HARNESS_MAIN
