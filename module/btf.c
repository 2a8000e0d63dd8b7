// SPDX-License-Identifier: GPL-2.0
/*
 * Private struct layouts of kernel/bpf/hashtab.c, read from the running
 * kernel's own BTF (the blob behind /sys/kernel/btf/vmlinux) with a small
 * reader of the UAPI format (btf_reader.c), so no kernel function is called
 * for it.
 * Every member the module uses must exist with the size and type the
 * module's code assumes; otherwise loading stops and says which.
 */
#include <linux/btf.h>
#include <linux/list_nulls.h>
#include <linux/mm.h>
#include <linux/percpu_counter.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat/compat.h"
#include "compat/bucket_lock.h"
#include "btf_reader.h"
#include "cmpdel.h"

struct cmpdel_htab_layout cmpdel_layout;

/*
 * @want_size: the size the module's code assumes (0: any);
 * @want_type: the type name it assumes, as written, typedef included.
 */
static int btf_member(const struct btf_reader *r, const struct btf_type *t,
		      const char *member, size_t want_size,
		      const char *want_type, u32 *offset)
{
	const char *sname = btf_str(r, t->name_off);
	char qualified[128];	/* STRUCT.MEMBER */
	const struct btf_type *mt;
	struct btf_member_pos f;
	u32 size;

	snprintf(qualified, sizeof(qualified), "%s.%s", sname, member);
	if (cmpdel_pretend_missing(qualified) || !btf_find_member(r, t, member, &f)) {
		pr_err("BTF: struct %s has no member %s\n", sname, member);
		return -ENOENT;
	}
	size = btf_type_size(r, f.type_id);
	if (want_size && size != want_size) {
		pr_err("BTF: %s.%s is %u bytes, the module expects %zu\n",
		       sname, member, size, want_size);
		return -EINVAL;
	}
	mt = btf_type(r, f.type_id);
	if (want_type && (!mt || strcmp(btf_str(r, mt->name_off), want_type))) {
		pr_err("BTF: %s.%s is not of type %s\n", sname, member, want_type);
		return -EINVAL;
	}
	*offset = f.offset;
	return 0;
}

static const struct btf_type *btf_pointee(const struct btf_reader *r,
					  const struct btf_type *t,
					  const char *member)
{
	struct btf_member_pos f;
	const struct btf_type *p;

	if (!btf_find_member(r, t, member, &f))
		return NULL;
	p = btf_skip_modifiers(r, f.type_id);
	if (!p || BTF_INFO_KIND(p->info) != BTF_KIND_PTR)
		return NULL;
	p = btf_skip_modifiers(r, p->type);
	return p && btf_type_is_composite(p) ? p : NULL;
}

#ifdef CMPDEL_BUCKET_MAP_LOCKED
static int btf_map_locked_slots(const struct btf_reader *r,
				const struct btf_type *htab, u32 *nr)
{
	const struct btf_type *t;
	struct btf_member_pos f;

	if (!btf_find_member(r, htab, "map_locked", &f))
		return -ENOENT;
	t = btf_skip_modifiers(r, f.type_id);
	if (!t || BTF_INFO_KIND(t->info) != BTF_KIND_ARRAY ||
	    !((const struct btf_array *)(t + 1))->nelems) {
		pr_err("BTF: bpf_htab.map_locked is not an array\n");
		return -EINVAL;
	}
	*nr = ((const struct btf_array *)(t + 1))->nelems;
	if (!is_power_of_2(*nr)) {
		pr_err("BTF: bpf_htab.map_locked has %u slots, not a power of 2\n", *nr);
		return -EINVAL;
	}
	return 0;
}

/* The raw_spinlock generation's per-CPU re-entrance counters. */
static int btf_read_map_locked(const struct btf_reader *r,
			       const struct btf_type *htab,
			       struct cmpdel_htab_layout *l)
{
	return btf_member(r, htab, "map_locked", 0, NULL, &l->htab_map_locked) ?:
	       btf_map_locked_slots(r, htab, &l->nr_map_locked);
}
#else
static int btf_read_map_locked(const struct btf_reader *r,
			       const struct btf_type *htab,
			       struct cmpdel_htab_layout *l)
{
	return 0;
}
#endif

static int btf_read_htab(const struct btf_reader *r, const struct btf_type *htab,
			 struct cmpdel_htab_layout *l)
{
	u32 map_off;
	int ret;

	/* The module uses struct bpf_map from the headers it was built with. */
	ret = btf_member(r, htab, "map", sizeof(struct bpf_map), "bpf_map", &map_off);
	if (ret)
		return ret;
	if (map_off) {
		pr_err("BTF: bpf_htab.map is not the first member\n");
		return -EINVAL;
	}
	ret = btf_member(r, htab, "buckets", sizeof(void *), NULL, &l->htab_buckets) ?:
	      btf_member(r, htab, "n_buckets", sizeof(u32), NULL, &l->htab_n_buckets) ?:
	      btf_member(r, htab, "elems", sizeof(void *), NULL, &l->htab_elems) ?:
	      btf_member(r, htab, "elem_size", sizeof(u32), NULL, &l->htab_elem_size) ?:
	      btf_member(r, htab, "hashrnd", sizeof(u32), NULL, &l->htab_hashrnd) ?:
	      btf_read_map_locked(r, htab, l) ?:
	      btf_member(r, htab, "freelist", 0, "pcpu_freelist", &l->htab_freelist) ?:
	      btf_member(r, htab, "lru", 0, "bpf_lru", &l->htab_lru) ?:
	      btf_member(r, htab, "ma", 0, "bpf_mem_alloc", &l->htab_ma) ?:
	      btf_member(r, htab, "pcpu_ma", 0, "bpf_mem_alloc", &l->htab_pcpu_ma) ?:
	      btf_member(r, htab, "use_percpu_counter", sizeof(bool), NULL,
			 &l->htab_use_percpu_counter) ?:
	      btf_member(r, htab, "pcount", sizeof(struct percpu_counter),
			 "percpu_counter", &l->htab_pcount) ?:
	      btf_member(r, htab, "count", sizeof(atomic_t), "atomic_t", &l->htab_count);
	return ret;
}

/* Reached through bpf_htab.buckets: other files have a struct bucket too. */
static int btf_read_bucket(const struct btf_reader *r, const struct btf_type *htab,
			   struct cmpdel_htab_layout *l)
{
	const struct btf_type *b;

	b = btf_pointee(r, htab, "buckets");
	if (!b) {
		pr_err("BTF: bpf_htab.buckets does not point to a struct\n");
		return -ENOENT;
	}
	l->bucket_size = b->size;
	return btf_member(r, b, "head", sizeof(struct hlist_nulls_head),
			  "hlist_nulls_head", &l->bucket_head) ?:
	       btf_member(r, b, "raw_lock", CMPDEL_BUCKET_LOCK_SIZE,
			  CMPDEL_BUCKET_LOCK_TYPE, &l->bucket_lock);
}

static int btf_read_elem(const struct btf_reader *r, struct cmpdel_htab_layout *l)
{
	const struct btf_type *e;

	e = btf_find_struct(r, "htab_elem");
	if (!e)
		return -ENOENT;
	return btf_member(r, e, "hash_node", sizeof(struct hlist_nulls_node),
			  "hlist_nulls_node", &l->elem_hash_node) ?:
	       btf_member(r, e, "fnode", 0, "pcpu_freelist_node", &l->elem_fnode) ?:
	       btf_member(r, e, "ptr_to_pptr", sizeof(void *), NULL, &l->elem_ptr_to_pptr) ?:
	       btf_member(r, e, "lru_node", 0, "bpf_lru_node", &l->elem_lru_node) ?:
	       btf_member(r, e, "hash", sizeof(u32), NULL, &l->elem_hash) ?:
	       btf_member(r, e, "key", 0, NULL, &l->elem_key);
}

int cmpdel_btf_read_layout(void)
{
	const struct btf_type *htab;
	struct btf_reader r = {};
	int ret;

	ret = btf_reader_init(&r, cmpdel_kdata.btf_start,
			      cmpdel_kdata.btf_end - cmpdel_kdata.btf_start);
	if (ret)
		goto out;
	htab = btf_find_struct(&r, "bpf_htab");
	if (!htab) {
		ret = -ENOENT;
		goto out;
	}
	ret = btf_read_htab(&r, htab, &cmpdel_layout) ?:
	      btf_read_bucket(&r, htab, &cmpdel_layout) ?:
	      btf_read_elem(&r, &cmpdel_layout);
out:
	btf_reader_free(&r);
	return ret;
}

#ifdef CMPDEL_KFUNC_IDS_AT_LOAD
static bool ends_with(const char *s, const char *suffix)
{
	size_t len = strlen(s), slen = strlen(suffix);

	return len >= slen && !strcmp(s + len - slen, suffix);
}

/*
 * A kfunc's BTF as the kernel reads it: five parameters, pointers but for
 * the sizes (__sz) and the handle, which are u32.  The ids of BTF made
 * against another kernel's vmlinux point at that kernel's types and fail.
 */
static bool btf_kfunc_proto_ok(const struct btf_reader *r, u32 id)
{
	const struct btf_type *func = btf_type(r, id), *proto, *t;
	const struct btf_param *p;
	const char *name;
	u32 i;

	proto = func ? btf_type(r, func->type) : NULL;
	if (!proto || BTF_INFO_KIND(proto->info) != BTF_KIND_FUNC_PROTO ||
	    BTF_READER_VLEN(proto->info) != 5)
		return false;
	p = (const struct btf_param *)(proto + 1);
	for (i = 0; i < 5; i++) {
		name = btf_str(r, p[i].name_off);
		t = btf_skip_modifiers(r, p[i].type);
		if (!t)
			return false;
		if (ends_with(name, "__sz") || !strcmp(name, "handle")) {
			if (BTF_INFO_KIND(t->info) != BTF_KIND_INT || t->size != sizeof(u32))
				return false;
		} else if (BTF_INFO_KIND(t->info) != BTF_KIND_PTR) {
			return false;
		}
	}
	return true;
}

/*
 * The BTF ids of the kfuncs @names in the module's own BTF (@blob, split
 * on the running kernel's), for kernels whose headers leave the module's
 * .BTF_ids unresolved: -ENOENT if one is missing, -EINVAL if one does
 * not read as a kfunc against this kernel's BTF.
 */
int cmpdel_btf_module_kfuncs(const void *blob, size_t size,
			     const char *const names[], u32 ids[], int n)
{
	struct btf_reader base = {}, mod = {};
	int i, ret;

	ret = btf_reader_init(&base, cmpdel_kdata.btf_start,
			      cmpdel_kdata.btf_end - cmpdel_kdata.btf_start) ?:
	      btf_reader_init_split(&mod, blob, size, &base);
	for (i = 0; !ret && i < n; i++) {
		ids[i] = btf_find_func(&mod, names[i]);
		if (!ids[i])
			ret = -ENOENT;
		else if (!btf_kfunc_proto_ok(&mod, ids[i]))
			ret = -EINVAL;
	}
	btf_reader_free(&mod);
	btf_reader_free(&base);
	return ret;
}
#endif
