// SPDX-License-Identifier: GPL-2.0
/*
 * Calls of the kfuncs the verifier must refuse at load: each program is
 * loaded alone (tests/cmpdel_kfunc.c), and only kf_good may load.  What it
 * cannot see -- the map's type, the key's size against the map's -- the
 * kfunc refuses when it runs (-EOPNOTSUPP, -EINVAL).
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpfcmpdel/kfuncs.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} kb_hash SEC(".maps");

/*
 * Buffers of a size the verifier knows exactly: a root program may read
 * its stack uninitialised, so a short stack buffer would not show it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u16);
} kb_short_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfcmpdel_kreq);
} kb_bare_req SEC(".maps");

__u64 not_a_map[8];
int result;

/* The control: the same call, right, loads. */
SEC("syscall")
int kf_good(void *ctx)
{
	struct bpfcmpdel_kreq_u64 req = {
		.hdr = { .compare_size = 8 },
	};
	__u32 key = 1;

	result = bpfcmpdel_delete((struct bpf_map *)&kb_hash, &key, sizeof(key),
				  &req, sizeof(req.hdr) + 8);
	return 0;
}

/* A map argument that is no map: memory of the program's. */
SEC("syscall")
int kf_bad_map(void *ctx)
{
	struct bpfcmpdel_kreq_u64 req = {
		.hdr = { .compare_size = 8 },
	};
	__u32 key = 1;

	result = bpfcmpdel_delete((struct bpf_map *)not_a_map, &key, sizeof(key),
				  &req, sizeof(req.hdr) + 8);
	return 0;
}

/* A key buffer shorter than the size claimed for it. */
SEC("syscall")
int kf_bad_key(void *ctx)
{
	struct bpfcmpdel_kreq_u64 req = {
		.hdr = { .compare_size = 8 },
	};
	__u32 zero = 0;
	__u16 *key = bpf_map_lookup_elem(&kb_short_key, &zero);

	if (!key)
		return 0;
	result = bpfcmpdel_delete((struct bpf_map *)&kb_hash, key, sizeof(__u32),
				  &req, sizeof(req.hdr) + 8);
	return 0;
}

/* A request buffer shorter than the size claimed for it. */
SEC("syscall")
int kf_bad_req(void *ctx)
{
	__u32 key = 1, zero = 0;
	struct bpfcmpdel_kreq *req = bpf_map_lookup_elem(&kb_bare_req, &zero);

	if (!req)
		return 0;
	result = bpfcmpdel_delete((struct bpf_map *)&kb_hash, &key, sizeof(key),
				  req, sizeof(*req) + 8);
	return 0;
}

/* The same by handle (every kernel), and a pointer where the handle goes. */
SEC("syscall")
int kf_good_handle(void *ctx)
{
	struct bpfcmpdel_kreq_u64 req = {
		.hdr = { .compare_size = 8 },
	};
	__u32 key = 1;

	result = bpfcmpdel_handle_delete(1, &key, sizeof(key), &req, sizeof(req.hdr) + 8);
	return 0;
}

SEC("syscall")
int kf_bad_handle(void *ctx)
{
	struct bpfcmpdel_kreq_u64 req = {
		.hdr = { .compare_size = 8 },
	};
	__u32 key = 1;

	result = bpfcmpdel_handle_delete((__u32)(unsigned long)&kb_hash, &key, sizeof(key),
					 &req, sizeof(req.hdr) + 8);
	return 0;
}

SEC("syscall")
int kf_bad_key_handle(void *ctx)
{
	struct bpfcmpdel_kreq_u64 req = {
		.hdr = { .compare_size = 8 },
	};
	__u32 zero = 0;
	__u16 *key = bpf_map_lookup_elem(&kb_short_key, &zero);

	if (!key)
		return 0;
	result = bpfcmpdel_handle_delete(1, key, sizeof(__u32), &req, sizeof(req.hdr) + 8);
	return 0;
}

SEC("syscall")
int kf_bad_req_handle(void *ctx)
{
	__u32 key = 1, zero = 0;
	struct bpfcmpdel_kreq *req = bpf_map_lookup_elem(&kb_bare_req, &zero);

	if (!req)
		return 0;
	result = bpfcmpdel_handle_delete(1, &key, sizeof(key), req, sizeof(*req) + 8);
	return 0;
}

char _license[] SEC("license") = "GPL";
