/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small reader of the BTF format (include/uapi/linux/btf.h), enough to
 * find a struct's members, their offsets, sizes and type names, and a
 * module's functions in its split BTF.  It reads a blob nobody vouched
 * for, so it bounds everything: the header, every type's extent, string
 * offsets, type ids, and the depth of every chain it follows.  It calls
 * no kernel function but allocation and logging, so the host tests build
 * it as it is (tests/btf_reader_test.c).
 */
#ifndef _BPFCMPDEL_BTF_READER_H
#define _BPFCMPDEL_BTF_READER_H

#ifdef __KERNEL__
#include <linux/btf.h>
#include <linux/types.h>
#endif

/*
 * As the kernel's MAX_RESOLVE_DEPTH: no real type needs more links of
 * modifiers, arrays or anonymous members than this.
 */
#define BTF_READER_MAX_DEPTH 32

/* 24 bits since 6.x's wider vlen; older kernels left the bits zero. */
#define BTF_READER_VLEN(info) ((info) & 0xffffff)

struct btf_reader {
	const char *strs;
	u32 str_len;
	const struct btf_type **types;	/* by type id; [0] is void */
	u32 nr_types;
	/* Split BTF (a module's): the BTF its ids and strings go on from. */
	const struct btf_reader *base;
};

struct btf_member_pos {
	u32 offset;	/* bytes from the start of the outermost struct */
	u32 type_id;
};

int btf_reader_init(struct btf_reader *r, const void *blob, size_t size);
int btf_reader_init_split(struct btf_reader *r, const void *blob, size_t size,
			  const struct btf_reader *base);
void btf_reader_free(struct btf_reader *r);
const char *btf_str(const struct btf_reader *r, u32 off);
const struct btf_type *btf_type(const struct btf_reader *r, u32 id);
const struct btf_type *btf_skip_modifiers(const struct btf_reader *r, u32 id);
u32 btf_type_size(const struct btf_reader *r, u32 id);
const struct btf_type *btf_find_struct(const struct btf_reader *r,
				       const char *name);
bool btf_find_member(const struct btf_reader *r, const struct btf_type *t,
		     const char *name, struct btf_member_pos *f);
bool btf_type_is_composite(const struct btf_type *t);
u32 btf_find_func(const struct btf_reader *r, const char *name);

#endif /* _BPFCMPDEL_BTF_READER_H */
