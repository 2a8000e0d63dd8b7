// SPDX-License-Identifier: GPL-2.0
/*
 * From a user's map fd to a map the caller may delete from, step by step
 * as kernel/bpf/syscall.c:map_delete_elem() does it, so that the same fd
 * gets the same answer from both.
 */
#include <linux/bpf.h>
#include <linux/file.h>
#include <linux/fs.h>

#include <linux/bpfcmpdel.h>

#include "compat/compat.h"
#include "compat/fields.h"
#include "cmpdel.h"

bool cmpdel_map_is_percpu(const struct bpf_map *map)
{
	return map->map_type == BPF_MAP_TYPE_PERCPU_HASH ||
	       map->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

bool cmpdel_map_is_lru(const struct bpf_map *map)
{
	return map->map_type == BPF_MAP_TYPE_LRU_HASH ||
	       map->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int cmpdel_htab_kind(const struct bpf_map *map)
{
	switch (map->map_type) {
	case BPF_MAP_TYPE_HASH:
		return CMPDEL_HASH;
	case BPF_MAP_TYPE_PERCPU_HASH:
		return CMPDEL_PERCPU_HASH;
	case BPF_MAP_TYPE_LRU_HASH:
		return CMPDEL_LRU_HASH;
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return CMPDEL_LRU_PERCPU_HASH;
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * The ops must be the type's own: an offloaded map of the same type has
 * bpf_map_offload_ops, and its elements live in the device.
 */
static bool cmpdel_map_supported(const struct bpf_map *map)
{
	int kind = cmpdel_htab_kind(map);

	return kind >= 0 && map->ops == cmpdel_kdata.htab_ops[kind];
}

int cmpdel_map_get_writable(int ufd, struct cmpdel_map_ref *ref)
{
	struct bpf_map *map;
	struct file *file;
	int err;

	ref->f = fdget(ufd);
	file = fd_file(ref->f);
	if (!file)
		return -EBADF;
	if (file->f_op != cmpdel_kdata.bpf_map_fops) {
		err = -EINVAL;
		goto err_put_fd;
	}
	map = file->private_data;

	/*
	 * Become a writer before looking at ->frozen, as the syscall does:
	 * map_freeze() refuses while writers are active, so either it sees
	 * us, or we see the map frozen.
	 */
	atomic64_inc(&map->writecnt);
	if (!(file->f_mode & FMODE_CAN_WRITE) || READ_ONCE(map->frozen)) {
		err = -EPERM;
		goto err_write_inactive;
	}
	if (!cmpdel_map_supported(map)) {
		err = -EOPNOTSUPP;
		goto err_write_inactive;
	}
	ref->map = map;
	return 0;

err_write_inactive:
	atomic64_dec(&map->writecnt);
err_put_fd:
	fdput(ref->f);
	return err;
}

void cmpdel_map_put(struct cmpdel_map_ref *ref)
{
	atomic64_dec(&ref->map->writecnt);
	fdput(ref->f);
}

int cmpdel_map_check_request(const struct bpf_map *map, u64 flags,
			     u32 offset, u32 size)
{
	/* A zero @size never gets here: cmpdel_copy_req() refuses it. */
	if ((u64)offset + size > map->value_size)
		return -EINVAL;
	/* Their expected bytes only have one layout: the lookup snapshot. */
	if (cmpdel_map_is_percpu(map) && !(flags & BPFCMPDEL_F_SNAPSHOT))
		return -EINVAL;
	/* Those bytes are not what userspace reads back (zeroed, or hidden). */
	if (cmpdel_region_overlaps_fields(map, offset, size))
		return -EINVAL;
	return 0;
}
