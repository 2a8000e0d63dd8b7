// SPDX-License-Identifier: GPL-2.0
/*
 * The kfuncs: BPFCMPDEL_IOC_DELETE, BPFCMPDEL_IOC_UPDATE and
 * BPFCMPDEL_IOC_SWEEP called from a BPF program (bpfcmpdel/kfuncs.bpf.h),
 * the second front beside request.c, onto the same map checks and
 * hash-map operations.  The program names the map itself, so where the
 * ioctl resolves an fd and asks the security modules, a kfunc checks what
 * the verifier's helper rules would (map.c); and its request and output
 * are in the program's memory, which the verifier proved readable and
 * writable for their sizes, so nothing is copied.
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/cpumask.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include <bpfcmpdel/ioctl.h>

#include "compat/kfunc.h"
#include "cmpdel.h"
#include "stats.h"

/* The bytes follow the header at once: its size is part of the ABI. */
static_assert(sizeof(struct bpfcmpdel_kreq) == 32);

/*
 * The bytes after the header: the expected ones (a whole value image for
 * F_SNAPSHOT, as copy_expected() reads it from a caller), and for a swap
 * the new ones.
 */
static size_t kreq_data_len(const struct bpf_map *map,
			    const struct cmpdel_op *op, bool swap)
{
	if (swap)
		return 2 * (size_t)op->size;
	if (!(op->flags & BPFCMPDEL_F_SNAPSHOT))
		return op->size;
	if (cmpdel_map_is_percpu(map) && !(op->flags & BPFCMPDEL_F_CPU))
		return (size_t)num_possible_cpus() * round_up(map->value_size, 8);
	return map->value_size;
}

/* @req as the op the ioctl would build from the same fields, checked. */
static int kreq_op(const struct bpf_map *map, const u8 *req, u32 req_sz,
		   bool swap, struct cmpdel_op *op)
{
	const struct bpfcmpdel_kreq *hdr = (const void *)req;
	const u8 *data;
	size_t len;
	int ret;

	if (!req || req_sz < sizeof(*hdr) || hdr->reserved)
		return -EINVAL;
	ret = cmpdel_check_mode(hdr->flags, hdr->compare_size, hdr->cpu,
				hdr->tombstone);
	if (ret)
		return ret;
	*op = (struct cmpdel_op) {
		.flags = hdr->flags,
		.offset = hdr->compare_offset,
		.size = hdr->compare_size,
		.cpu = hdr->cpu,
		.tombstone = hdr->tombstone,
	};
	ret = swap ? cmpdel_map_check_swap(map, op) : cmpdel_map_check_op(map, op);
	if (ret)
		return ret;

	/* Whatever follows the bytes is a struct's padding: zero, or wrong. */
	data = req + sizeof(*hdr);
	len = kreq_data_len(map, op, swap);
	if (req_sz - sizeof(*hdr) < len ||
	    memchr_inv(data + len, 0, req_sz - sizeof(*hdr) - len))
		return -EINVAL;
	if (cmpdel_map_is_percpu(map) && !(op->flags & BPFCMPDEL_F_CPU))
		op->cpu_stride = round_up(map->value_size, 8);
	op->expected = op->flags & BPFCMPDEL_F_SNAPSHOT ? data + op->offset : data;
	if (swap)
		op->value = data + op->size;
	return 0;
}

static int kfunc_run(struct bpf_map *map, void *key, u32 key_sz, void *req,
		     u32 req_sz, bool swap)
{
	struct cmpdel_op op;
	int ret;

	ret = cmpdel_map_prog_check(map);
	if (ret)
		return ret;
	if (!key || key_sz != map->key_size)
		return -EINVAL;
	ret = kreq_op(map, req, req_sz, swap, &op);
	if (ret)
		return ret;
	return cmpdel_htab_prog_single(map, key, &op, swap);
}

/*
 * @req as the sweep the ioctl would run on the same fields, checked, and
 * its output: the keys go straight into the program's @keys.
 */
static int ksweep_prep(const struct bpf_map *map,
		       const struct bpfcmpdel_ksweep *req, u32 req_sz,
		       void *keys, u32 keys_sz, struct cmpdel_sweep *sw)
{
	/* A longer request is a newer one: what this module has not is zero. */
	if (!req || req_sz < sizeof(*req) || !keys ||
	    memchr_inv((const u8 *)req + sizeof(*req), 0, req_sz - sizeof(*req)))
		return -EINVAL;
	if (req->flags & ~(BPFCMPDEL_F_TOMBSTONE | BPFCMPDEL_F_SWEEP_ELEMS) ||
	    req->reserved ||
	    req->nr_deleted || req->nr_scanned)
		return -EINVAL;
	if (!(req->flags & BPFCMPDEL_F_TOMBSTONE) && req->tombstone)
		return -EINVAL;
	if (req->budget > BPFCMPDEL_KSWEEP_BUDGET_MAX)
		return -E2BIG;
	*sw = (struct cmpdel_sweep) {
		.flags = req->flags, .offset = req->field_offset,
		.size = req->field_size, .threshold = req->threshold,
		.tombstone = req->tombstone, .cursor = req->cursor,
		.budget = req->budget ?: BPFCMPDEL_KSWEEP_BUDGET,
		.room = keys_sz / map->key_size,
		.keys = keys,
	};
	if (!sw->room)
		return -EINVAL;
	return cmpdel_map_check_sweep(map, sw);
}

static int ksweep_run(struct bpf_map *map, struct bpfcmpdel_ksweep *req,
		      u32 req_sz, void *keys, u32 keys_sz)
{
	struct cmpdel_sweep sw;
	int ret;

	ret = cmpdel_map_prog_check(map) ?:
	      ksweep_prep(map, req, req_sz, keys, keys_sz, &sw);
	if (ret)
		return ret;
	/* A cursor at the end is the end: nothing to walk. */
	if (sw.cursor != BPFCMPDEL_SWEEP_END)
		ret = cmpdel_htab_prog_sweep(map, &sw);
	req->cursor = sw.cursor;
	req->nr_deleted = sw.deleted;
	req->nr_scanned = sw.scanned;
	cmpdel_stat_add(CMPDEL_STAT_DELETED, sw.deleted);
	cmpdel_stat_add(CMPDEL_STAT_SCANNED, sw.scanned);
	return ret;
}

__bpf_kfunc_start_defs();

/**
 * bpfcmpdel_delete() - delete @key's element if its value still matches
 * @map__map: a hash map of the program's (&map), or one the verifier
 *	      vouches for (an iterator's ctx->map)
 * @key: @key__sz bytes, the map's key size
 * @req: a struct bpfcmpdel_kreq and the expected bytes (bpfcmpdel/ioctl.h)
 * @req__sz: the size of @req
 *
 * Return: BPFCMPDEL_IOC_DELETE's result: 0 deleted, -ENOENT, -EBUSY
 * (changed: kept), -EAGAIN (lock not taken: nothing changed),
 * -EOPNOTSUPP, -EINVAL, -EPERM.
 */
__bpf_kfunc int bpfcmpdel_delete(struct bpf_map *map__map, void *key,
				 u32 key__sz, void *req, u32 req__sz)
{
	int ret;

	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_DELETE, 1);
	ret = kfunc_run(map__map, key, key__sz, req, req__sz, false);
	cmpdel_stat_single(ret, false);
	return ret;
}

/**
 * bpfcmpdel_update() - swap a region of @key's value if it still matches
 * @map__map: as bpfcmpdel_delete()
 * @key: as bpfcmpdel_delete()
 * @key__sz: as bpfcmpdel_delete()
 * @req: a struct bpfcmpdel_kreq, the expected bytes, then the new ones
 * @req__sz: the size of @req
 *
 * Return: BPFCMPDEL_IOC_UPDATE's result: 0 swapped, -ENOENT, -EBUSY,
 * -EAGAIN, -EOPNOTSUPP, -EINVAL, -EPERM.
 */
__bpf_kfunc int bpfcmpdel_update(struct bpf_map *map__map, void *key,
				 u32 key__sz, void *req, u32 req__sz)
{
	int ret;

	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_UPDATE, 1);
	ret = kfunc_run(map__map, key, key__sz, req, req__sz, true);
	cmpdel_stat_single(ret, true);
	return ret;
}

/**
 * bpfcmpdel_sweep() - delete the expired elements of up to a budget of buckets
 * @map__map: as bpfcmpdel_delete()
 * @req: a struct bpfcmpdel_ksweep (bpfcmpdel/ioctl.h); its cursor and
 *	 counts are written back
 * @req__sz: the size of @req
 * @keys: where the deleted elements' keys go
 * @keys__sz: the size of @keys: it bounds how many go in one call
 *
 * Return: BPFCMPDEL_IOC_SWEEP's result: 0 (@req->nr_deleted went, their
 * keys lead @keys), -EAGAIN (not even the first bucket's lock was free:
 * nothing deleted), -E2BIG (a budget over BPFCMPDEL_KSWEEP_BUDGET_MAX),
 * -EOPNOTSUPP, -EINVAL, -EPERM.
 */
__bpf_kfunc int bpfcmpdel_sweep(struct bpf_map *map__map, void *req,
				u32 req__sz, void *keys, u32 keys__sz)
{
	int ret;

	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_SWEEP, 1);
	ret = ksweep_run(map__map, req, req__sz, keys, keys__sz);
	/* What went is counted already; a result counts only if refused. */
	if (ret)
		cmpdel_stat_result(ret);
	return ret;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(cmpdel_kfunc_ids)
BTF_ID_FLAGS(func, bpfcmpdel_delete, CMPDEL_KF_FLAGS)
BTF_ID_FLAGS(func, bpfcmpdel_update, CMPDEL_KF_FLAGS)
BTF_ID_FLAGS(func, bpfcmpdel_sweep, CMPDEL_KF_FLAGS)
BTF_KFUNCS_END(cmpdel_kfunc_ids)

static const struct btf_kfunc_id_set cmpdel_kfunc_set = {
	.owner	= THIS_MODULE,
	.set	= &cmpdel_kfunc_ids,
};

/*
 * Who may call them: programs run from a syscall (BPF_PROG_RUN), the
 * packet paths (tc, XDP), and tracing programs (iterators, fentry/fexit,
 * tp_btf, LSM); a bpf_timer callback counts as the program that armed it.
 * Each of these may be the one that interrupted a bucket-lock holder on
 * its CPU: the lock is taken as hashtab.c takes it, and refused rather
 * than waited for (-EAGAIN).
 */
static const enum bpf_prog_type cmpdel_kfunc_prog_types[] = {
	BPF_PROG_TYPE_SYSCALL,
	BPF_PROG_TYPE_SCHED_CLS,
	BPF_PROG_TYPE_XDP,
	BPF_PROG_TYPE_TRACING,
};

static int cmpdel_kfuncs_error;

/*
 * Once, at load: the kernel keeps the set with the module's BTF and
 * drops both when the module goes, so there is nothing to unregister.
 * A failure costs the kfuncs, not the device.
 */
void cmpdel_kfuncs_register(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(cmpdel_kfunc_prog_types); i++) {
		cmpdel_kfuncs_error = register_btf_kfunc_id_set(cmpdel_kfunc_prog_types[i],
								&cmpdel_kfunc_set);
		if (cmpdel_kfuncs_error) {
			pr_warn("kfuncs not registered (%d): only the device serves requests\n",
				cmpdel_kfuncs_error);
			return;
		}
	}
}

ssize_t cmpdel_kfuncs_show(char *buf)
{
	if (cmpdel_kfuncs_error)
		return sysfs_emit(buf, "unavailable: registration failed (%d)\n",
				  cmpdel_kfuncs_error);
	return sysfs_emit(buf, "available: delete update sweep\n");
}
