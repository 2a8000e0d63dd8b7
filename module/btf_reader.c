// SPDX-License-Identifier: GPL-2.0
/*
 * See btf_reader.h.  Every index into the blob is checked against the
 * extent the header gave, and every chain of type links is bounded, so a
 * malformed blob is refused, never looped on or read past.
 */
#ifdef __KERNEL__
#include <linux/mm.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/string.h>
#endif

#include "btf_reader.h"

/* Split BTF goes on where its base ends, in strings as in type ids. */
const char *btf_str(const struct btf_reader *r, u32 off)
{
	if (r->base) {
		if (off < r->base->str_len)
			return btf_str(r->base, off);
		off -= r->base->str_len;
	}
	/* btf_reader_init() made sure the section ends with a NUL. */
	return off < r->str_len ? r->strs + off : "";
}

const struct btf_type *btf_type(const struct btf_reader *r, u32 id)
{
	if (r->base) {
		if (id < r->base->nr_types)
			return btf_type(r->base, id);
		id -= r->base->nr_types - 1;
	}
	return id && id < r->nr_types ? r->types[id] : NULL;
}

/* The id of the FUNC @name among @r's own types (not its base's), or 0. */
u32 btf_find_func(const struct btf_reader *r, const char *name)
{
	u32 first = r->base ? r->base->nr_types - 1 : 0;
	const struct btf_type *t;
	u32 i;

	for (i = 1; i < r->nr_types; i++) {
		t = r->types[i];
		if (BTF_INFO_KIND(t->info) == BTF_KIND_FUNC &&
		    !strcmp(btf_str(r, t->name_off), name))
			return first + i;
	}
	return 0;
}

bool btf_type_is_composite(const struct btf_type *t)
{
	u32 kind = BTF_INFO_KIND(t->info);

	return kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION;
}

/* Size of the kind-specific data following struct btf_type, or -1. */
static s64 btf_type_extra(const struct btf_type *t)
{
	u64 vlen = BTF_READER_VLEN(t->info);

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

/* Number of types in [types, types + len), or 0 if it is malformed. */
static u32 btf_count_types(const u8 *types, u32 len)
{
	u64 off = 0;
	u32 nr = 1;	/* id 0 is void */
	s64 extra;

	while (off < len) {
		if (off + sizeof(struct btf_type) > len) {
			pr_err("BTF: type %u is truncated\n", nr);
			return 0;
		}
		extra = btf_type_extra((const struct btf_type *)(types + off));
		if (extra < 0) {
			pr_err("BTF: type %u has a kind this module does not know\n", nr);
			return 0;
		}
		off += sizeof(struct btf_type) + extra;
		nr++;
	}
	if (off != len) {
		pr_err("BTF: type %u runs past the type section\n", nr - 1);
		return 0;
	}
	return nr;
}

static int btf_index_types(struct btf_reader *r, const u8 *types, u32 len)
{
	u32 off, id, nr;

	nr = btf_count_types(types, len);
	if (!nr)
		return -EINVAL;
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

static bool btf_section_ok(const struct btf_header *hdr, size_t size,
			   u32 off, u32 len)
{
	return (u64)hdr->hdr_len + off + len <= size;
}

int btf_reader_init(struct btf_reader *r, const void *blob, size_t size)
{
	const struct btf_header *hdr = blob;
	const char *strs;

	memset(r, 0, sizeof(*r));
	if (size < sizeof(*hdr) || hdr->magic != BTF_MAGIC ||
	    hdr->version != BTF_VERSION ||
	    hdr->hdr_len < offsetofend(struct btf_header, str_len) ||
	    hdr->hdr_len > size || hdr->type_off % sizeof(u32) ||
	    (hdr->hdr_len + hdr->type_off) % sizeof(u32) ||
	    !btf_section_ok(hdr, size, hdr->type_off, hdr->type_len) ||
	    !btf_section_ok(hdr, size, hdr->str_off, hdr->str_len)) {
		pr_err("BTF: unexpected header\n");
		return -EINVAL;
	}
	strs = (const char *)blob + hdr->hdr_len + hdr->str_off;
	/* Every offset below str_len must then name a terminated string. */
	if (!hdr->str_len || strs[hdr->str_len - 1]) {
		pr_err("BTF: string section is not NUL-terminated\n");
		return -EINVAL;
	}
	r->strs = strs;
	r->str_len = hdr->str_len;
	return btf_index_types(r, (const u8 *)blob + hdr->hdr_len + hdr->type_off,
			       hdr->type_len);
}

int btf_reader_init_split(struct btf_reader *r, const void *blob, size_t size,
			  const struct btf_reader *base)
{
	int ret = btf_reader_init(r, blob, size);

	if (!ret)
		r->base = base;
	return ret;
}

void btf_reader_free(struct btf_reader *r)
{
	kvfree(r->types);
	r->types = NULL;
	r->nr_types = 0;
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

/* NULL also for a chain longer than any real one: a loop, most likely. */
const struct btf_type *btf_skip_modifiers(const struct btf_reader *r, u32 id)
{
	const struct btf_type *t = btf_type(r, id);
	int depth;

	for (depth = 0; t && btf_is_modifier(t); depth++) {
		if (depth == BTF_READER_MAX_DEPTH)
			return NULL;
		t = btf_type(r, t->type);
	}
	return t;
}

static u32 btf_type_size_depth(const struct btf_reader *r, u32 id, int depth)
{
	const struct btf_type *t = btf_skip_modifiers(r, id);
	const struct btf_array *a;
	u64 size;

	if (!t || depth > BTF_READER_MAX_DEPTH)
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
		size = (u64)a->nelems * btf_type_size_depth(r, a->type, depth + 1);
		return size <= U32_MAX ? size : 0;
	default:
		return 0;
	}
}

/* Byte size of a type, or 0 if it has none the module could rely on. */
u32 btf_type_size(const struct btf_reader *r, u32 id)
{
	return btf_type_size_depth(r, id, 0);
}

const struct btf_type *btf_find_struct(const struct btf_reader *r,
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

static bool btf_find_member_depth(const struct btf_reader *r,
				  const struct btf_type *t, const char *name,
				  u32 base, struct btf_member_pos *f, int depth)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	bool kflag = BTF_INFO_KFLAG(t->info);
	u32 i, vlen = BTF_READER_VLEN(t->info);
	const struct btf_type *inner;
	u32 bit_off;

	if (depth > BTF_READER_MAX_DEPTH)
		return false;
	for (i = 0; i < vlen; i++, m++) {
		bit_off = kflag ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
		if (kflag && BTF_MEMBER_BITFIELD_SIZE(m->offset))
			continue;
		if (bit_off % 8)
			continue;
		if (!m->name_off) {
			inner = btf_skip_modifiers(r, m->type);
			if (inner && btf_type_is_composite(inner) &&
			    btf_find_member_depth(r, inner, name, base + bit_off / 8,
						  f, depth + 1))
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

/* Finds @name in @t, descending into anonymous structs and unions. */
bool btf_find_member(const struct btf_reader *r, const struct btf_type *t,
		     const char *name, struct btf_member_pos *f)
{
	return btf_find_member_depth(r, t, name, 0, f, 0);
}
