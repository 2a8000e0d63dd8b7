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
#include <linux/string.h>

#include "compat/compat.h"
#include "cmpdel.h"

#define SELFTEST_VALUE_SIZE 12

struct selftest_map {
	u32 key_size;
	u32 map_flags;
};

/* Key sizes on both sides of the jhash/jhash2 split, both allocators. */
static const struct selftest_map selftest_maps[] = {
	{ .key_size = 8, .map_flags = 0 },
	{ .key_size = 6, .map_flags = 0 },
	{ .key_size = 12, .map_flags = BPF_F_NO_PREALLOC },
	{ .key_size = 5, .map_flags = BPF_F_NO_PREALLOC },
};

static int selftest_create(const struct selftest_map *m)
{
	union bpf_attr attr = {
		.map_type = BPF_MAP_TYPE_HASH,
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
	struct cmpdel_map_ref ref;
	int ret;

	ret = cmpdel_map_get_writable(fd, &ref);
	if (ret)
		return ret;
	ret = cmpdel_htab_compare_delete(ref.map, key, expected, 1,
					 SELFTEST_VALUE_SIZE - 2);
	cmpdel_map_put(&ref);
	return ret;
}

static bool selftest_expect(const struct selftest_map *m, const char *what,
			    int got, int want)
{
	if (got == want)
		return true;
	pr_err("self-test (key size %u%s): %s returned %d, expected %d\n",
	       m->key_size, m->map_flags ? ", no prealloc" : "", what, got, want);
	return false;
}

static int selftest_one(const struct selftest_map *m)
{
	u8 key[16], value[SELFTEST_VALUE_SIZE], stale[SELFTEST_VALUE_SIZE];
	int fd, ret;

	fd = selftest_create(m);
	if (fd < 0) {
		pr_err("self-test: cannot create a hash map: %d\n", fd);
		return fd;
	}
	memset(key, 0xa5, sizeof(key));
	key[0] = m->key_size;
	memset(value, 0x3c, sizeof(value));
	memcpy(stale, value, sizeof(stale));
	stale[SELFTEST_VALUE_SIZE / 2] ^= 1;

	/* Only an element found through our hash and layout can differ. */
	if (selftest_expect(m, "insert",
			    selftest_elem(BPF_MAP_UPDATE_ELEM, fd, key, value), 0) &&
	    selftest_expect(m, "stale compare-delete",
			    selftest_cmpdel(fd, key, stale + 1), -EBUSY) &&
	    selftest_expect(m, "current compare-delete",
			    selftest_cmpdel(fd, key, value + 1), 0) &&
	    selftest_expect(m, "kernel delete after ours",
			    selftest_elem(BPF_MAP_DELETE_ELEM, fd, key, NULL), -ENOENT) &&
	    /* A one-entry map only takes this if the element was released. */
	    selftest_expect(m, "insert into the freed slot",
			    selftest_elem(BPF_MAP_UPDATE_ELEM, fd, key, value), 0))
		ret = 0;
	else
		ret = -ENODEV;
	close_fd(fd);
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
