// SPDX-License-Identifier: GPL-2.0
/*
 * From a user's map fd to a map the caller may read and delete from, step
 * by step as kernel/bpf/syscall.c:map_delete_elem() does it, so that the
 * same fd gets the same answer from both.
 */
#include <linux/bpf.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/cpumask.h>
#include <linux/stddef.h>
#include <linux/string.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/compat.h"
#include "compat/fields.h"
#include "cmpdel.h"

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

/*
 * Every request reads what it compares (a match answers "do these bytes
 * equal the map's"; a sweep hands keys and values back) and writes: the
 * fd must allow both, as lookup and delete each demand their half of it
 * in the syscall.
 */
int cmpdel_map_get(int ufd, struct cmpdel_map_ref *ref)
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
	if (!(file->f_mode & FMODE_CAN_READ) || !(file->f_mode & FMODE_CAN_WRITE) ||
	    READ_ONCE(map->frozen)) {
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

/*
 * The fields every compare request shares, an ioctl's or a kfunc's: known
 * flags, a region, and the mode arguments only with the flag that gives
 * them a meaning.
 */
int cmpdel_check_mode(u64 flags, u32 compare_size, u32 cpu, u64 tombstone)
{
	if (flags & ~BPFCMPDEL_F_ALL || !compare_size)
		return -EINVAL;
	if (!(flags & BPFCMPDEL_F_CPU) && cpu)
		return -EINVAL;
	if (!(flags & BPFCMPDEL_F_TOMBSTONE) && tombstone)
		return -EINVAL;
	return 0;
}

/*
 * A map a BPF program names to a kfunc: the verifier tied it to the
 * program, so there is no fd mode, freeze or security hook to ask -- the
 * program may write a frozen map -- only the helpers' rule that it may
 * not write a map created BPF_F_RDONLY_PROG.
 */
int cmpdel_map_prog_check(const struct bpf_map *map)
{
	if (!map || !cmpdel_map_supported(map))
		return map ? -EOPNOTSUPP : -EINVAL;
	return map->map_flags & BPF_F_RDONLY_PROG ? -EPERM : 0;
}

/* Per-CPU maps: one expected layout per CPU set compared. */
static int cmpdel_check_cpu(const struct bpf_map *map, const struct cmpdel_op *op)
{
	bool percpu = cmpdel_map_is_percpu(map);

	if (op->flags & BPFCMPDEL_F_CPU)
		return percpu && op->cpu < nr_cpu_ids && cpu_possible(op->cpu) ?
		       0 : -EINVAL;
	/* Every CPU's slot: only the lookup snapshot lays those out. */
	return percpu && !(op->flags & BPFCMPDEL_F_SNAPSHOT) ? -EINVAL : 0;
}

/*
 * A word both sides can swap atomically, and a tombstone that fits it and
 * differs from what it replaces.  The expected word is checked by the
 * delete itself (htab.c), which has it in kernel memory.
 */
static int cmpdel_check_tombstone(const struct bpf_map *map,
				  const struct cmpdel_op *op)
{
	if (cmpdel_map_is_percpu(map) || op->flags & BPFCMPDEL_F_LOCK)
		return -EINVAL;
	if (op->size != sizeof(u32) && op->size != sizeof(u64))
		return -EINVAL;
	/* Values start 8-byte aligned in every htab element. */
	if (op->offset % op->size)
		return -EINVAL;
	if (op->size == sizeof(u32) && op->tombstone > U32_MAX)
		return -EINVAL;
	return 0;
}

/*
 * Compare-and-swap: a word one cmpxchg covers, or any region under the
 * value's spin lock; every CPU's slot at once is no single write.
 */
int cmpdel_map_check_swap(const struct bpf_map *map, const struct cmpdel_op *op)
{
	int ret;

	if (op->flags & (BPFCMPDEL_F_TOMBSTONE | BPFCMPDEL_F_SNAPSHOT))
		return -EINVAL;
	if (cmpdel_map_is_percpu(map) && !(op->flags & BPFCMPDEL_F_CPU))
		return -EINVAL;
	ret = cmpdel_map_check_op(map, op);
	if (ret || op->flags & BPFCMPDEL_F_LOCK)
		return ret;
	if (op->size != sizeof(u32) && op->size != sizeof(u64))
		return -EINVAL;
	return op->offset % op->size ? -EINVAL : 0;
}

int cmpdel_map_check_sweep(const struct bpf_map *map, const struct cmpdel_sweep *sw)
{
	if (cmpdel_map_is_percpu(map))
		return -EINVAL;
	if (sw->size != sizeof(u32) && sw->size != sizeof(u64))
		return -EINVAL;
	if (sw->offset % sw->size || (u64)sw->offset + sw->size > map->value_size)
		return -EINVAL;
	if (cmpdel_region_overlaps_fields(map, sw->offset, sw->size))
		return -EINVAL;
	if (sw->size == sizeof(u32) &&
	    (sw->tombstone > U32_MAX || sw->threshold > (u64)U32_MAX + 1))
		return -EINVAL;
	/* Values with managed fields would need copy_map_value()'s care. */
	if (sw->flags & BPFCMPDEL_F_SWEEP_VALUES && cmpdel_map_has_fields(map))
		return -EINVAL;
	/* Only a preallocated map keeps its elements in one array. */
	if (sw->flags & BPFCMPDEL_F_SWEEP_ELEMS && map->map_flags & BPF_F_NO_PREALLOC)
		return -EINVAL;
	return 0;
}

int cmpdel_map_check_op(const struct bpf_map *map, const struct cmpdel_op *op)
{
	int ret;

	/* A zero @size never gets here: cmpdel_copy_req() refuses it. */
	if ((u64)op->offset + op->size > map->value_size)
		return -EINVAL;
	ret = cmpdel_check_cpu(map, op);
	if (ret)
		return ret;
	/* Those bytes are not what userspace reads back (zeroed, or hidden). */
	if (cmpdel_region_overlaps_fields(map, op->offset, op->size))
		return -EINVAL;
	if (op->flags & BPFCMPDEL_F_LOCK && cmpdel_spin_lock_off(map) < 0)
		return -EINVAL;
	if (op->flags & BPFCMPDEL_F_TOMBSTONE)
		return cmpdel_check_tombstone(map, op);
	return 0;
}
