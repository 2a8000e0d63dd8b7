// SPDX-License-Identifier: GPL-2.0
/*
 * The kfuncs: BPFCMPDEL_IOC_DELETE, BPFCMPDEL_IOC_UPDATE and
 * BPFCMPDEL_IOC_SWEEP called from a BPF program (bpfcmpdel/kfuncs.bpf.h),
 * the second front beside request.c, onto the same map checks and
 * hash-map operations.  The program names the map itself (6.9+: a map
 * argument the verifier vouches for) or by a handle (handle.c, every
 * kernel), so where the ioctl resolves an fd and asks the security
 * modules, a kfunc checks what the verifier's helper rules would (map.c);
 * and its request and output are in the program's memory, which the
 * verifier proved readable and writable for their sizes, so nothing is
 * copied.
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/cpumask.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include <bpfcmpdel/ioctl.h>

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

/* A map's kfunc call, once the map is named. */
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

/*
 * The map a handle names stays valid until the RCU read section ends; a
 * sleepable program is not in one of its own.
 */
static int handle_run(u32 handle, void *key, u32 key_sz, void *req,
		      u32 req_sz, bool swap)
{
	struct bpf_map *map;
	int ret;

	rcu_read_lock();
	map = cmpdel_handle_map(handle);
	ret = map ? kfunc_run(map, key, key_sz, req, req_sz, swap) : -EBADF;
	rcu_read_unlock();
	return ret;
}

static int handle_sweep_run(u32 handle, void *req, u32 req_sz, void *keys,
			    u32 keys_sz)
{
	struct bpf_map *map;
	int ret;

	rcu_read_lock();
	map = cmpdel_handle_map(handle);
	ret = map ? ksweep_run(map, req, req_sz, keys, keys_sz) : -EBADF;
	rcu_read_unlock();
	return ret;
}

/* What a kfunc counts: its call, then its result as the ioctl's would. */
static int kfunc_single_done(int ret, bool swap)
{
	cmpdel_stat_single(ret, swap);
	return ret;
}

static int kfunc_sweep_done(int ret)
{
	/* What went is counted already; a result counts only if refused. */
	if (ret)
		cmpdel_stat_result(ret);
	return ret;
}

__bpf_kfunc_start_defs();

#ifdef CMPDEL_KFUNC_MAP_ARGS
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
	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_DELETE, 1);
	return kfunc_single_done(kfunc_run(map__map, key, key__sz, req, req__sz,
					   false), false);
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
	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_UPDATE, 1);
	return kfunc_single_done(kfunc_run(map__map, key, key__sz, req, req__sz,
					   true), true);
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
	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_SWEEP, 1);
	return kfunc_sweep_done(ksweep_run(map__map, req, req__sz, keys,
					   keys__sz));
}
#endif

/**
 * bpfcmpdel_handle_delete() - bpfcmpdel_delete() on the map @handle names
 * @handle: from BPFCMPDEL_IOC_HANDLE_NEW
 * @key: as bpfcmpdel_delete()
 * @key__sz: as bpfcmpdel_delete()
 * @req: as bpfcmpdel_delete()
 * @req__sz: as bpfcmpdel_delete()
 *
 * Return: as bpfcmpdel_delete(), and -EBADF if @handle names no map.
 */
__bpf_kfunc int bpfcmpdel_handle_delete(u32 handle, void *key, u32 key__sz,
					void *req, u32 req__sz)
{
	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_DELETE, 1);
	return kfunc_single_done(handle_run(handle, key, key__sz, req, req__sz,
					    false), false);
}

/**
 * bpfcmpdel_handle_update() - bpfcmpdel_update() on the map @handle names
 * @handle: from BPFCMPDEL_IOC_HANDLE_NEW
 * @key: as bpfcmpdel_update()
 * @key__sz: as bpfcmpdel_update()
 * @req: as bpfcmpdel_update()
 * @req__sz: as bpfcmpdel_update()
 *
 * Return: as bpfcmpdel_update(), and -EBADF if @handle names no map.
 */
__bpf_kfunc int bpfcmpdel_handle_update(u32 handle, void *key, u32 key__sz,
					void *req, u32 req__sz)
{
	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_UPDATE, 1);
	return kfunc_single_done(handle_run(handle, key, key__sz, req, req__sz,
					    true), true);
}

/**
 * bpfcmpdel_handle_sweep() - bpfcmpdel_sweep() on the map @handle names
 * @handle: from BPFCMPDEL_IOC_HANDLE_NEW
 * @req: as bpfcmpdel_sweep()
 * @req__sz: as bpfcmpdel_sweep()
 * @keys: as bpfcmpdel_sweep()
 * @keys__sz: as bpfcmpdel_sweep()
 *
 * Return: as bpfcmpdel_sweep(), and -EBADF if @handle names no map.
 */
__bpf_kfunc int bpfcmpdel_handle_sweep(u32 handle, void *req, u32 req__sz,
				       void *keys, u32 keys__sz)
{
	cmpdel_stat_add(CMPDEL_STAT_REQ_KFUNC_SWEEP, 1);
	return kfunc_sweep_done(handle_sweep_run(handle, req, req__sz, keys,
						 keys__sz));
}

__bpf_kfunc_end_defs();

/* Their names, as sysfs lists them after the prefix, in the set's order. */
static const char *const cmpdel_kfunc_names[] = {
#ifdef CMPDEL_KFUNC_MAP_ARGS
	"bpfcmpdel_delete",
	"bpfcmpdel_update",
	"bpfcmpdel_sweep",
#endif
	"bpfcmpdel_handle_delete",
	"bpfcmpdel_handle_update",
	"bpfcmpdel_handle_sweep",
};

#define CMPDEL_NR_KFUNCS ARRAY_SIZE(cmpdel_kfunc_names)

/* Why the set is not there (ids at load only). */
static const char *cmpdel_kfuncs_why;

#ifndef CMPDEL_KFUNC_IDS_AT_LOAD
/* Kbuild's resolve_btfids fills in the ids (vmlinux beside the headers). */
CMPDEL_KFUNCS_START(cmpdel_kfunc_ids)
#ifdef CMPDEL_KFUNC_MAP_ARGS
BTF_ID_FLAGS(func, bpfcmpdel_delete, CMPDEL_KF_FLAGS)
BTF_ID_FLAGS(func, bpfcmpdel_update, CMPDEL_KF_FLAGS)
BTF_ID_FLAGS(func, bpfcmpdel_sweep, CMPDEL_KF_FLAGS)
#endif
BTF_ID_FLAGS(func, bpfcmpdel_handle_delete, CMPDEL_KF_FLAGS)
BTF_ID_FLAGS(func, bpfcmpdel_handle_update, CMPDEL_KF_FLAGS)
BTF_ID_FLAGS(func, bpfcmpdel_handle_sweep, CMPDEL_KF_FLAGS)
CMPDEL_KFUNCS_END(cmpdel_kfunc_ids)

static struct btf_id_set8 *cmpdel_kfunc_set8(void)
{
	return &cmpdel_kfunc_ids;
}
#else
/*
 * No resolve_btfids at build time (6.1's headers ship neither it nor
 * vmlinux; the module's BTF came from pahole against the kernel's): the
 * set is filled in at load from the module's own BTF, which the Makefile
 * has loaded with the module (else the kernel frees it before init), and
 * the kernel bsearches it as given, so it is sorted.  The words are a
 * struct btf_id_set8 with its pairs.
 */
static u32 cmpdel_kfunc_words[2 + 2 * CMPDEL_NR_KFUNCS] __aligned(8);

static int cmp_pair(const void *a, const void *b)
{
	const u32 *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static struct btf_id_set8 *cmpdel_kfunc_set8(void)
{
	struct btf_id_set8 *set = (void *)cmpdel_kfunc_words;
	u32 ids[CMPDEL_NR_KFUNCS];
	int i, ret;

	if (!THIS_MODULE->btf_data_size) {
		cmpdel_kfuncs_why = "built without BTF of its own (docs/kfuncs.md)";
		return NULL;
	}
	/* Not loaded with the module: the kernel has freed it already. */
	if (!within_module((unsigned long)THIS_MODULE->btf_data, THIS_MODULE) ||
	    !within_module((unsigned long)THIS_MODULE->btf_data +
			   THIS_MODULE->btf_data_size - 1, THIS_MODULE)) {
		cmpdel_kfuncs_why = "its BTF is not loaded with it (docs/kfuncs.md)";
		return NULL;
	}
	ret = cmpdel_btf_module_kfuncs(THIS_MODULE->btf_data,
				       THIS_MODULE->btf_data_size,
				       cmpdel_kfunc_names, ids, CMPDEL_NR_KFUNCS);
	if (ret) {
		cmpdel_kfuncs_why = "the module's BTF was not made against this kernel's";
		return NULL;
	}
	set->cnt = CMPDEL_NR_KFUNCS;
	set->flags = CMPDEL_SET8_FLAGS;
	for (i = 0; i < CMPDEL_NR_KFUNCS; i++) {
		set->pairs[i].id = ids[i];
		set->pairs[i].flags = CMPDEL_KF_FLAGS;
	}
	sort(set->pairs, set->cnt, sizeof(set->pairs[0]), cmp_pair, NULL);
	return set;
}
#endif

static struct btf_kfunc_id_set cmpdel_kfunc_set = {
	.owner	= THIS_MODULE,
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

	cmpdel_kfunc_set.set = cmpdel_kfunc_set8();
	if (!cmpdel_kfunc_set.set)
		return;
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
	ssize_t len;
	int i;

	if (!cmpdel_kfunc_set.set)
		return sysfs_emit(buf, "unavailable: %s\n", cmpdel_kfuncs_why);
	if (cmpdel_kfuncs_error)
		return sysfs_emit(buf, "unavailable: registration failed (%d)\n",
				  cmpdel_kfuncs_error);
	len = sysfs_emit(buf, "available:");
	for (i = 0; i < CMPDEL_NR_KFUNCS; i++)
		len += sysfs_emit_at(buf, len, " %s",
				     cmpdel_kfunc_names[i] + strlen("bpfcmpdel_"));
	return len + sysfs_emit_at(buf, len, "\n");
}
