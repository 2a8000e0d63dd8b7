/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BTF-managed fields in map values (spin lock, timer, kptr, ...).  Until
 * 6.2 struct bpf_map kept one offset per kind; since then a btf_record
 * lists every field with its offset and size.  Field kinds are never
 * named here: only where they are and how long.
 */
#ifndef _BPFCMPDEL_COMPAT_FIELDS_H
#define _BPFCMPDEL_COMPAT_FIELDS_H

#include <linux/bpf.h>

static inline bool cmpdel_ranges_overlap(u32 a_off, u32 a_size,
					 u32 b_off, u32 b_size)
{
	return (u64)a_off < (u64)b_off + b_size &&
	       (u64)b_off < (u64)a_off + a_size;
}

#ifdef CMPDEL_HAVE_BPF_MAP_RECORD

static inline bool cmpdel_map_has_fields(const struct bpf_map *map)
{
	return !IS_ERR_OR_NULL(map->record);
}

static inline bool cmpdel_region_overlaps_fields(const struct bpf_map *map,
						 u32 off, u32 size)
{
	const struct btf_record *rec = map->record;
	u32 i;

	if (IS_ERR_OR_NULL(rec))
		return false;
	for (i = 0; i < rec->cnt; i++)
		if (cmpdel_ranges_overlap(off, size, rec->fields[i].offset,
					  rec->fields[i].size))
			return true;
	return false;
}

/* The value's bpf_spin_lock, or a negative number without one. */
static inline int cmpdel_spin_lock_off(const struct bpf_map *map)
{
	const struct btf_record *rec = map->record;

	return IS_ERR_OR_NULL(rec) ? -ENOENT : rec->spin_lock_off;
}

#else /* 6.1: one offset per field kind */

static inline bool cmpdel_map_has_fields(const struct bpf_map *map)
{
	return map_value_has_spin_lock(map) || map_value_has_timer(map) ||
	       map_value_has_kptrs(map);
}

static inline bool cmpdel_region_overlaps_fields(const struct bpf_map *map,
						 u32 off, u32 size)
{
	const struct bpf_map_value_off *tab = map->kptr_off_tab;
	u32 i;

	if (map_value_has_spin_lock(map) &&
	    cmpdel_ranges_overlap(off, size, map->spin_lock_off,
				  sizeof(struct bpf_spin_lock)))
		return true;
	if (map_value_has_timer(map) &&
	    cmpdel_ranges_overlap(off, size, map->timer_off,
				  sizeof(struct bpf_timer)))
		return true;
	if (!map_value_has_kptrs(map))
		return false;
	for (i = 0; i < tab->nr_off; i++)
		if (cmpdel_ranges_overlap(off, size, tab->off[i].offset, sizeof(u64)))
			return true;
	return false;
}

static inline int cmpdel_spin_lock_off(const struct bpf_map *map)
{
	return map_value_has_spin_lock(map) ? map->spin_lock_off : -ENOENT;
}

#endif /* CMPDEL_HAVE_BPF_MAP_RECORD */

#endif /* _BPFCMPDEL_COMPAT_FIELDS_H */
