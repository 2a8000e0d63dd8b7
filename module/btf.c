// SPDX-License-Identifier: GPL-2.0
/*
 * Private struct layouts of kernel/bpf/hashtab.c, read from the running
 * kernel's own BTF (the blob behind /sys/kernel/btf/vmlinux) with a small
 * reader of the UAPI format, so no kernel function is called for it.
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
#include "cmpdel.h"

struct cmpdel_htab_layout cmpdel_layout;

struct btf_reader {
	const char *strs;
	u32 str_len;
	const struct btf_type **types;	/* by type id; [0] is void */
	u32 nr_types;
};

static const char *btf_str(const struct btf_reader *r, u32 off)
{
	return off < r->str_len ? r->strs + off : "";
}

static const struct btf_type *btf_type(const struct btf_reader *r, u32 id)
{
	return id && id < r->nr_types ? r->types[id] : NULL;
}

/* Size of the kind-specific data following struct btf_type, or -1. */
static int btf_type_extra(const struct btf_type *t)
{
	u16 vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return sizeof(u32);
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_ENUM64:
		return vlen * sizeof(struct btf_enum64);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	default:
		return -1;
	}
}

static int btf_index_types(struct btf_reader *r, const u8 *types, u32 len)
{
	u32 off, id, nr = 1;
	int extra;

	/* First pass counts, second records; vmlinux has ~100k types. */
	for (off = 0; off + sizeof(struct btf_type) <= len; nr++) {
		extra = btf_type_extra((const struct btf_type *)(types + off));
		if (extra < 0) {
			pr_err("BTF: type %u has a kind this module does not know\n", nr);
			return -EINVAL;
		}
		off += sizeof(struct btf_type) + extra;
	}
	if (off != len) {
		pr_err("BTF: type section is truncated\n");
		return -EINVAL;
	}
	r->types = kvcalloc(nr, sizeof(*r->types), GFP_KERNEL);
	if (!r->types)
		return -ENOMEM;
	r->nr_types = nr;
	for (off = 0, id = 1; id < nr; id++) {
		r->types[id] = (const struct btf_type *)(types + off);
		off += sizeof(struct btf_type) + btf_type_extra(r->types[id]);
	}
	return 0;
}

static int btf_reader_init(struct btf_reader *r, const void *blob, size_t size)
{
	const struct btf_header *hdr = blob;

	if (size < sizeof(*hdr) || hdr->magic != BTF_MAGIC ||
	    hdr->version != BTF_VERSION || hdr->hdr_len > size ||
	    (u64)hdr->hdr_len + hdr->type_off + hdr->type_len > size ||
	    (u64)hdr->hdr_len + hdr->str_off + hdr->str_len > size) {
		pr_err("BTF: vmlinux BTF has an unexpected header\n");
		return -EINVAL;
	}
	r->strs = (const char *)blob + hdr->hdr_len + hdr->str_off;
	r->str_len = hdr->str_len;
	return btf_index_types(r, (const u8 *)blob + hdr->hdr_len + hdr->type_off,
			       hdr->type_len);
}

static bool btf_is_modifier(const struct btf_type *t)
{
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		return true;
	default:
		return false;
	}
}

static const struct btf_type *btf_skip_modifiers(const struct btf_reader *r,
						 u32 id)
{
	const struct btf_type *t = btf_type(r, id);

	while (t && btf_is_modifier(t))
		t = btf_type(r, t->type);
	return t;
}

/* Byte size of a type, or 0 if it has none the module could rely on. */
static u32 btf_type_size(const struct btf_reader *r, u32 id)
{
	const struct btf_type *t = btf_skip_modifiers(r, id);
	const struct btf_array *a;

	if (!t)
		return 0;
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return t->size;
	case BTF_KIND_PTR:
		return sizeof(void *);
	case BTF_KIND_ARRAY:
		a = (const struct btf_array *)(t + 1);
		return a->nelems * btf_type_size(r, a->type);
	default:
		return 0;
	}
}

static const struct btf_type *btf_find_struct(const struct btf_reader *r,
					      const char *name)
{
	const struct btf_type *t, *found = NULL;
	u32 id;

	for (id = 1; id < r->nr_types; id++) {
		t = r->types[id];
		if (BTF_INFO_KIND(t->info) != BTF_KIND_STRUCT ||
		    strcmp(btf_str(r, t->name_off), name))
			continue;
		if (found) {
			pr_err("BTF: more than one struct %s\n", name);
			return NULL;
		}
		found = t;
	}
	if (!found)
		pr_err("BTF: no struct %s\n", name);
	return found;
}

struct btf_member_pos {
	u32 offset;	/* bytes from the start of the outermost struct */
	u32 type_id;
};

/* Finds @name in @t, descending into anonymous structs and unions. */
static bool btf_find_member(const struct btf_reader *r, const struct btf_type *t,
			    const char *name, u32 base, struct btf_member_pos *f)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	bool kflag = BTF_INFO_KFLAG(t->info);
	u16 i, vlen = BTF_INFO_VLEN(t->info);
	u32 bit_off;

	for (i = 0; i < vlen; i++, m++) {
		bit_off = kflag ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
		if (kflag && BTF_MEMBER_BITFIELD_SIZE(m->offset))
			continue;
		if (bit_off % 8)
			continue;
		if (!m->name_off) {
			const struct btf_type *inner = btf_skip_modifiers(r, m->type);

			if (inner && btf_is_composite(inner) &&
			    btf_find_member(r, inner, name, base + bit_off / 8, f))
				return true;
			continue;
		}
		if (!strcmp(btf_str(r, m->name_off), name)) {
			f->offset = base + bit_off / 8;
			f->type_id = m->type;
			return true;
		}
	}
	return false;
}

/*
 * @want_size: the size the module's code assumes (0: any);
 * @want_type: the type name it assumes, as written, typedef included.
 */
static int btf_member(const struct btf_reader *r, const struct btf_type *t,
		      const char *member, size_t want_size,
		      const char *want_type, u32 *offset)
{
	const char *sname = btf_str(r, t->name_off);
	const struct btf_type *mt;
	struct btf_member_pos f;
	u32 size;

	if (!btf_find_member(r, t, member, 0, &f)) {
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

	if (!btf_find_member(r, t, member, 0, &f))
		return NULL;
	p = btf_skip_modifiers(r, f.type_id);
	if (!p || BTF_INFO_KIND(p->info) != BTF_KIND_PTR)
		return NULL;
	p = btf_skip_modifiers(r, p->type);
	return p && btf_is_composite(p) ? p : NULL;
}

#ifdef CMPDEL_BUCKET_MAP_LOCKED
static int btf_map_locked_slots(const struct btf_reader *r,
				const struct btf_type *htab, u32 *nr)
{
	const struct btf_type *t;
	struct btf_member_pos f;

	if (!btf_find_member(r, htab, "map_locked", 0, &f))
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
	kvfree(r.types);
	return ret;
}
