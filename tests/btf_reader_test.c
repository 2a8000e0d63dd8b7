// SPDX-License-Identifier: GPL-2.0
/*
 * The module's BTF reader (module/btf_reader.c), built as it is on the
 * host, fed well-formed blobs made by libbpf and malformed ones made from
 * them.  Run under AddressSanitizer: a malformed blob must be refused or
 * read within bounds, never looped on or read past.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/btf.h>

#include <bpf/btf.h>

#include "kselftest_harness.h"

/* What btf_reader.c takes from the kernel. */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef int64_t s64;
typedef uint64_t u64;
#define U32_MAX UINT32_MAX
#define GFP_KERNEL 0
#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))
#define pr_err(...) fprintf(stderr, "btf_reader: " __VA_ARGS__)
#define kvcalloc(n, size, gfp) calloc(n, size)
#define kvfree free
#define BTF_INFO_ENC(kind, kflag, vlen) \
	((!!(kflag) << 31) | ((kind) << 24) | ((vlen) & 0xffffff))

#include "../module/btf_reader.c"

struct blob {
	void *data;
	u32 size;
};

/* struct outer { int a; struct { int b; }; int *p; int arr[4]; } */
static struct blob make_blob(void)
{
	struct btf *btf = btf__new_empty();
	int int_id, ptr_id, arr_id, anon_id, outer_id;
	struct blob b = {};
	const void *raw;

	if (!btf)
		return b;
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	ptr_id = btf__add_ptr(btf, int_id);
	arr_id = btf__add_array(btf, int_id, int_id, 4);
	anon_id = btf__add_struct(btf, NULL, 4);
	btf__add_field(btf, "b", int_id, 0, 0);
	outer_id = btf__add_struct(btf, "outer", 32);
	btf__add_field(btf, "a", int_id, 0, 0);
	btf__add_field(btf, NULL, anon_id, 32, 0);
	btf__add_field(btf, "p", ptr_id, 64, 0);
	btf__add_field(btf, "arr", arr_id, 128, 0);
	raw = btf__raw_data(btf, &b.size);
	if (raw && outer_id > 0) {
		b.data = malloc(b.size);
		memcpy(b.data, raw, b.size);
	}
	btf__free(btf);
	return b;
}

static struct btf_header *hdr(struct blob *b)
{
	return b->data;
}

static struct btf_type *type_at(struct blob *b, u32 id)
{
	u8 *types = (u8 *)b->data + hdr(b)->hdr_len + hdr(b)->type_off;
	u32 off = 0;

	while (--id)
		off += sizeof(struct btf_type) +
		       btf_type_extra((struct btf_type *)(types + off));
	return (struct btf_type *)(types + off);
}

FIXTURE(reader) {
	struct blob b;
	struct btf_reader r;
};

FIXTURE_SETUP(reader)
{
	self->b = make_blob();
	ASSERT_NE(NULL, self->b.data);
	memset(&self->r, 0, sizeof(self->r));
}

FIXTURE_TEARDOWN(reader)
{
	btf_reader_free(&self->r);
	free(self->b.data);
}

TEST_F(reader, well_formed_blob_is_read)
{
	const struct btf_type *t;
	struct btf_member_pos f;

	ASSERT_EQ(0, btf_reader_init(&self->r, self->b.data, self->b.size));
	t = btf_find_struct(&self->r, "outer");
	ASSERT_NE(NULL, t);
	ASSERT_TRUE(btf_find_member(&self->r, t, "b", &f));
	EXPECT_EQ(4, f.offset);
	ASSERT_TRUE(btf_find_member(&self->r, t, "arr", &f));
	EXPECT_EQ(16, f.offset);
	EXPECT_EQ(16, btf_type_size(&self->r, f.type_id));
	EXPECT_FALSE(btf_find_member(&self->r, t, "nope", &f));
}

TEST_F(reader, short_header_is_refused)
{
	hdr(&self->b)->hdr_len = 8;
	EXPECT_EQ(-EINVAL, btf_reader_init(&self->r, self->b.data, self->b.size));
	EXPECT_EQ(-EINVAL, btf_reader_init(&self->r, self->b.data, 4));
}

TEST_F(reader, sections_past_the_blob_are_refused)
{
	hdr(&self->b)->str_len += 1;
	EXPECT_EQ(-EINVAL, btf_reader_init(&self->r, self->b.data, self->b.size));
	hdr(&self->b)->str_len -= 1;
	hdr(&self->b)->type_off = 2;
	EXPECT_EQ(-EINVAL, btf_reader_init(&self->r, self->b.data, self->b.size));
}

TEST_F(reader, unterminated_strings_are_refused)
{
	char *strs = (char *)self->b.data + hdr(&self->b)->hdr_len +
		     hdr(&self->b)->str_off;

	strs[hdr(&self->b)->str_len - 1] = 'x';
	EXPECT_EQ(-EINVAL, btf_reader_init(&self->r, self->b.data, self->b.size));
}

TEST_F(reader, string_offsets_outside_the_section_read_as_empty)
{
	const struct btf_type *t;

	type_at(&self->b, 5)->name_off = 0xfffffff0;	/* "outer" */
	ASSERT_EQ(0, btf_reader_init(&self->r, self->b.data, self->b.size));
	t = btf_find_struct(&self->r, "outer");
	EXPECT_EQ(NULL, t);
	EXPECT_STREQ("", btf_str(&self->r, 0xfffffff0));
}

/* A vlen above 16 bits must count, not wrap: the members run past the end. */
TEST_F(reader, wide_vlen_is_not_truncated)
{
	struct btf_type *outer = type_at(&self->b, 5);

	outer->info = BTF_INFO_ENC(BTF_KIND_STRUCT, 0, 0x10004);
	EXPECT_EQ(-EINVAL, btf_reader_init(&self->r, self->b.data, self->b.size));
}

TEST_F(reader, truncated_type_section_is_refused)
{
	hdr(&self->b)->type_len -= 4;
	EXPECT_EQ(-EINVAL, btf_reader_init(&self->r, self->b.data, self->b.size));
}

/* Chains that loop must end: modifiers, arrays and anonymous members. */
TEST_F(reader, looping_type_chains_end)
{
	struct btf_type *ptr = type_at(&self->b, 2), *arr = type_at(&self->b, 3);
	const struct btf_type *outer;
	struct btf_member_pos f;
	struct btf_member *m;

	/* ptr (id 2) becomes a typedef of itself. */
	ptr->info = BTF_INFO_ENC(BTF_KIND_TYPEDEF, 0, 0);
	ptr->type = 2;
	/* The array (id 3) becomes an array of itself. */
	((struct btf_array *)(arr + 1))->type = 3;
	/* The anonymous member of outer becomes outer itself. */
	m = (struct btf_member *)(type_at(&self->b, 5) + 1) + 1;
	m->type = 5;

	ASSERT_EQ(0, btf_reader_init(&self->r, self->b.data, self->b.size));
	EXPECT_EQ(NULL, btf_skip_modifiers(&self->r, 2));
	EXPECT_EQ(0, btf_type_size(&self->r, 3));
	outer = btf_find_struct(&self->r, "outer");
	ASSERT_NE(NULL, outer);
	EXPECT_FALSE(btf_find_member(&self->r, outer, "nope", &f));
}

TEST_F(reader, type_ids_out_of_range_are_void)
{
	struct btf_member *m = (struct btf_member *)(type_at(&self->b, 5) + 1);
	const struct btf_type *outer;
	struct btf_member_pos f;

	m->type = 0x7fffffff;	/* member "a" */
	ASSERT_EQ(0, btf_reader_init(&self->r, self->b.data, self->b.size));
	outer = btf_find_struct(&self->r, "outer");
	ASSERT_NE(NULL, outer);
	ASSERT_TRUE(btf_find_member(&self->r, outer, "a", &f));
	EXPECT_EQ(0, btf_type_size(&self->r, f.type_id));
	EXPECT_EQ(NULL, btf_type(&self->r, f.type_id));
}

/*
 * A module's BTF: split on a base, its ids and strings going on from the
 * base's.  A FUNC found by name has the id libbpf gave it, and its
 * prototype's parameter names and types read across the split.
 */
TEST_F(reader, split_blob_finds_its_functions)
{
	struct btf *base = btf__new(self->b.data, self->b.size), *split;
	const struct btf_type *func, *proto, *t;
	const struct btf_param *p;
	struct btf_reader mod = {};
	int proto_id, func_id;
	const void *raw;
	u32 size;

	ASSERT_NE(NULL, base);
	ASSERT_EQ(0, btf_reader_init(&self->r, self->b.data, self->b.size));
	split = btf__new_empty_split(base);
	ASSERT_NE(NULL, split);
	proto_id = btf__add_func_proto(split, 1);	/* returns int */
	ASSERT_EQ(0, btf__add_func_param(split, "handle", 1));
	ASSERT_EQ(0, btf__add_func_param(split, "key", 2));	/* int * */
	func_id = btf__add_func(split, "kf", BTF_FUNC_GLOBAL, proto_id);
	ASSERT_LT(0, func_id);
	raw = btf__raw_data(split, &size);
	ASSERT_NE(NULL, raw);
	ASSERT_EQ(0, btf_reader_init_split(&mod, raw, size, &self->r));

	EXPECT_EQ(func_id, btf_find_func(&mod, "kf"));
	EXPECT_EQ(0, btf_find_func(&mod, "outer"));	/* a base struct, not a FUNC */
	EXPECT_EQ(0, btf_find_func(&mod, "nope"));
	func = btf_type(&mod, func_id);
	ASSERT_NE(NULL, func);
	EXPECT_STREQ("kf", btf_str(&mod, func->name_off));
	proto = btf_type(&mod, func->type);
	ASSERT_NE(NULL, proto);
	ASSERT_EQ(BTF_KIND_FUNC_PROTO, BTF_INFO_KIND(proto->info));
	p = (const struct btf_param *)(proto + 1);
	EXPECT_STREQ("handle", btf_str(&mod, p[0].name_off));
	t = btf_type(&mod, p[0].type);
	ASSERT_NE(NULL, t);
	EXPECT_STREQ("int", btf_str(&mod, t->name_off));
	t = btf_type(&mod, p[1].type);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(BTF_KIND_PTR, BTF_INFO_KIND(t->info));
	/* Past the split's last type: void. */
	EXPECT_EQ(NULL, btf_type(&mod, func_id + 1));
	btf_reader_free(&mod);
	btf__free(split);
	btf__free(base);
}

TEST_HARNESS_MAIN
