// SPDX-License-Identifier: GPL-2.0
/*
 * Before the device appears, prove on throwaway maps that the running
 * kernel and the module agree: the kernel inserts elements, the module
 * must find them through its own hash, bucket and layout, refuse a stale
 * compare, delete on a current one, and the kernel must then see the
 * element gone and its slot reusable.  Anything else means the module
 * guessed wrong about this kernel, so it refuses to load.
 */
#include <linux/bpf.h>
#include <linux/fdtable.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "cmpdel.h"

#define SELFTEST_VALUE_SIZE 12
#define SELFTEST_STRIDE round_up(SELFTEST_VALUE_SIZE, 8)
#define SELFTEST_OFFSET 1
#define SELFTEST_SIZE (SELFTEST_VALUE_SIZE - 2)

struct selftest_map {
	u32 map_type;
	u32 key_size;
	u32 map_flags;
};

/*
 * Every flavour, each free path (freelist, bpf_mem_alloc, LRU), and key
 * sizes on both sides of the jhash/jhash2 split.
 */
static const struct selftest_map selftest_maps[] = {
	{ BPF_MAP_TYPE_HASH, 8, 0 },
	{ BPF_MAP_TYPE_HASH, 6, 0 },
	{ BPF_MAP_TYPE_HASH, 12, BPF_F_NO_PREALLOC },
	{ BPF_MAP_TYPE_HASH, 5, BPF_F_NO_PREALLOC },
	{ BPF_MAP_TYPE_PERCPU_HASH, 4, 0 },
	{ BPF_MAP_TYPE_PERCPU_HASH, 7, BPF_F_NO_PREALLOC },
	{ BPF_MAP_TYPE_LRU_HASH, 16, 0 },
	{ BPF_MAP_TYPE_LRU_HASH, 3, BPF_F_NO_COMMON_LRU },
	{ BPF_MAP_TYPE_LRU_PERCPU_HASH, 8, 0 },
};

struct selftest_bufs {
	u8 key[16];
	u8 *value;	/* as BPF_MAP_UPDATE_ELEM takes it */
	u8 *fresh;	/* packed as cmpdel_htab_single() takes it */
	u8 *stale;
};

static bool selftest_percpu(const struct selftest_map *m)
{
	return m->map_type == BPF_MAP_TYPE_PERCPU_HASH ||
	       m->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int selftest_create(const struct selftest_map *m)
{
	union bpf_attr attr = {
		.map_type = m->map_type,
		.key_size = m->key_size,
		.value_size = SELFTEST_VALUE_SIZE,
		.max_entries = 1,
		.map_flags = m->map_flags,
	};

	return cmpdel_kern_sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
}

static int selftest_elem(int cmd, int fd, const void *key, void *value)
{
	union bpf_attr attr = {
		.map_fd = fd,
		.key = (u64)(unsigned long)key,
		.value = (u64)(unsigned long)value,
		.flags = cmd == BPF_MAP_UPDATE_ELEM ? BPF_NOEXIST : 0,
	};

	return cmpdel_kern_sys_bpf(cmd, &attr, sizeof(attr));
}

static int selftest_cmpdel(int fd, const void *key, const void *expected)
{
	const struct cmpdel_op op = {
		.flags = BPFCMPDEL_F_SNAPSHOT,
		.offset = SELFTEST_OFFSET,
		.size = SELFTEST_SIZE,
		.cpu_stride = SELFTEST_SIZE,	/* packed, one region per CPU */
		.expected = expected,
	};
	struct cmpdel_map_ref ref;
	int ret;

	ret = cmpdel_map_get(fd, &ref);
	if (ret)
		return ret;
	ret = cmpdel_htab_single(ref.map, key, &op, false);
	cmpdel_map_put(&ref);
	return ret;
}

static const char *selftest_type_name(u32 map_type)
{
	switch (map_type) {
	case BPF_MAP_TYPE_HASH:
		return "hash";
	case BPF_MAP_TYPE_PERCPU_HASH:
		return "percpu_hash";
	case BPF_MAP_TYPE_LRU_HASH:
		return "lru_hash";
	default:
		return "lru_percpu_hash";
	}
}

static bool selftest_expect(const struct selftest_map *m, const char *what,
			    int got, int want)
{
	if (got == want)
		return true;
	pr_err("self-test (%s, key size %u, flags %#x): %s returned %d, expected %d\n",
	       selftest_type_name(m->map_type), m->key_size, m->map_flags,
	       what, got, want);
	return false;
}

/*
 * Per-CPU values differ only in the last CPU's slot in the stale copy, so
 * a compare that looked at one CPU alone would delete.
 */
static int selftest_fill(const struct selftest_map *m, struct selftest_bufs *b)
{
	u32 slots = selftest_percpu(m) ? num_possible_cpus() : 1, i;

	b->value = kcalloc(slots, SELFTEST_STRIDE, GFP_KERNEL);
	b->fresh = kcalloc(slots, SELFTEST_SIZE, GFP_KERNEL);
	b->stale = kcalloc(slots, SELFTEST_SIZE, GFP_KERNEL);
	if (!b->value || !b->fresh || !b->stale)
		return -ENOMEM;

	memset(b->key, 0xa5, sizeof(b->key));
	b->key[0] = m->key_size;
	for (i = 0; i < slots; i++) {
		memset(b->value + i * SELFTEST_STRIDE, 0x3c + i, SELFTEST_VALUE_SIZE);
		memcpy(b->fresh + i * SELFTEST_SIZE,
		       b->value + i * SELFTEST_STRIDE + SELFTEST_OFFSET, SELFTEST_SIZE);
	}
	memcpy(b->stale, b->fresh, slots * SELFTEST_SIZE);
	b->stale[slots * SELFTEST_SIZE - 1] ^= 1;
	return 0;
}

static void selftest_free(struct selftest_bufs *b)
{
	kfree(b->value);
	kfree(b->fresh);
	kfree(b->stale);
}

static int selftest_one(const struct selftest_map *m)
{
	struct selftest_bufs b = {};
	int fd, ret;

	ret = selftest_fill(m, &b);
	if (ret)
		goto out_free;
	fd = selftest_create(m);
	if (fd < 0) {
		pr_err("self-test: cannot create a %s map: %d\n",
		       selftest_type_name(m->map_type), fd);
		ret = fd;
		goto out_free;
	}

	/* Only an element found through our hash and layout can differ. */
	if (selftest_expect(m, "insert",
			    selftest_elem(BPF_MAP_UPDATE_ELEM, fd, b.key, b.value), 0) &&
	    selftest_expect(m, "stale compare-delete",
			    selftest_cmpdel(fd, b.key, b.stale), -EBUSY) &&
	    selftest_expect(m, "current compare-delete",
			    selftest_cmpdel(fd, b.key, b.fresh), 0) &&
	    selftest_expect(m, "kernel delete after ours",
			    selftest_elem(BPF_MAP_DELETE_ELEM, fd, b.key, NULL), -ENOENT) &&
	    /* A one-entry map only takes this if the element was released. */
	    selftest_expect(m, "insert into the freed slot",
			    selftest_elem(BPF_MAP_UPDATE_ELEM, fd, b.key, b.value), 0))
		ret = 0;
	else
		ret = -ENODEV;
	close_fd(fd);
out_free:
	selftest_free(&b);
	return ret;
}

int cmpdel_htab_selftest(void)
{
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(selftest_maps); i++) {
		ret = selftest_one(&selftest_maps[i]);
		if (ret)
			return ret;
	}
	return 0;
}
