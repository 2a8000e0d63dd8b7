/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bpfcmpdel's kfuncs, for BPF C programs: compare-and-delete and
 * compare-and-swap of one element, and the expiry sweep of a range of
 * buckets, the in-program twins of BPFCMPDEL_IOC_DELETE, _UPDATE and
 * _SWEEP.  The requests, the modes and the results are the ioctls'
 * (bpfcmpdel/ioctl.h, struct bpfcmpdel_kreq and struct bpfcmpdel_ksweep);
 * the lock is the bucket lock bpf_map_delete_elem() takes on that kernel,
 * so a kfunc re-entered on a CPU that holds it (a tracing program inside
 * the hash-map code) fails with -EAGAIN, never spins.
 *
 * The kfuncs exist when the module is loaded and was built with BTF of
 * its own (`bpfcmpdel info` and /sys/class/misc/bpfcmpdel/kfuncs say
 * which exist, or why none).  They are declared __weak, so a program that
 * can run without them loads either way and tests a flag its loader sets
 * from that file, or bpf_ksym_exists() (libbpf 1.2 and later; not on 6.1,
 * whose verifier refuses it).
 *
 * Two ways to name the map.  bpfcmpdel_delete(), _update() and _sweep()
 * take it as helpers do, (struct bpf_map *)&map, and exist on 6.9 and
 * later (Debian's 6.12 and 7.x), whose verifier vouches for the map.
 * bpfcmpdel_handle_delete(), _update() and _sweep() take a handle that
 * the loader got for the map with BPFCMPDEL_IOC_HANDLE_NEW (ioctl.h) and
 * exist on every kernel, 6.1 too; a handle that names no map is -EBADF.
 * The kernel checks the map's type when the call runs (-EOPNOTSUPP for a
 * map that is not a hash map).  @key__sz must be the map's key size;
 * the sweeps' @keys__sz, a multiple of it or not, says how many keys
 * @keys holds.
 */
#ifndef _BPFCMPDEL_KFUNCS_BPF_H
#define _BPFCMPDEL_KFUNCS_BPF_H

#include <bpfcmpdel/ioctl.h>

#ifndef __VMLINUX_H__
/*
 * Without vmlinux.h: libbpf matches a kfunc's parameters by kind, and the
 * kernel's struct bpf_map is a struct, not a forward declaration.
 */
struct bpf_map {
	int bpfcmpdel_opaque__;
};
#endif

extern int bpfcmpdel_delete(struct bpf_map *map__map, void *key, __u32 key__sz,
			    void *req, __u32 req__sz) __ksym __weak;
extern int bpfcmpdel_update(struct bpf_map *map__map, void *key, __u32 key__sz,
			    void *req, __u32 req__sz) __ksym __weak;
extern int bpfcmpdel_sweep(struct bpf_map *map__map, void *req, __u32 req__sz,
			   void *keys, __u32 keys__sz) __ksym __weak;
extern int bpfcmpdel_handle_delete(__u32 handle, void *key, __u32 key__sz,
				   void *req, __u32 req__sz) __ksym __weak;
extern int bpfcmpdel_handle_update(__u32 handle, void *key, __u32 key__sz,
				   void *req, __u32 req__sz) __ksym __weak;
extern int bpfcmpdel_handle_sweep(__u32 handle, void *req, __u32 req__sz,
				  void *keys, __u32 keys__sz) __ksym __weak;

/* A request on one 8-byte word, the conntrack GC's case. */
struct bpfcmpdel_kreq_u64 {
	struct bpfcmpdel_kreq hdr;
	__u64 expected;
	__u64 value;		/* bpfcmpdel_update(): the new word */
};

#define BPFCMPDEL_KREQ_U64(_flags, _offset, _expected, _value, _tombstone)	\
	((struct bpfcmpdel_kreq_u64) {						\
		.hdr = {							\
			.flags = (_flags),					\
			.compare_offset = (_offset),				\
			.compare_size = sizeof(__u64),				\
			.tombstone = (_tombstone),				\
		},								\
		.expected = (_expected),					\
		.value = (_value),						\
	})

/*
 * Delete the element under @key if the 8 bytes at @offset of its value
 * still hold @expected; with BPFCMPDEL_F_TOMBSTONE in @flags, swap them to
 * @tombstone first, so that a datapath refreshing with a compare-and-swap
 * never loses a refresh (see the tombstone protocol in ioctl.h).
 */
static __always_inline int
bpfcmpdel_delete_u64(void *map, void *key, __u32 key_size, __u32 offset,
		     __u64 expected, __u64 flags, __u64 tombstone)
{
	struct bpfcmpdel_kreq_u64 req = BPFCMPDEL_KREQ_U64(flags, offset, expected,
							   0, tombstone);

	return bpfcmpdel_delete((struct bpf_map *)map, key, key_size, &req,
				sizeof(req.hdr) + sizeof(req.expected));
}

/* Swap the 8 bytes at @offset from @expected to @value, or -EBUSY. */
static __always_inline int
bpfcmpdel_update_u64(void *map, void *key, __u32 key_size, __u32 offset,
		     __u64 expected, __u64 value, __u64 flags)
{
	struct bpfcmpdel_kreq_u64 req = BPFCMPDEL_KREQ_U64(flags, offset, expected,
							   value, 0);

	return bpfcmpdel_update((struct bpf_map *)map, key, key_size, &req,
				sizeof(req));
}

/* bpfcmpdel_delete_u64() on the map @handle names. */
static __always_inline int
bpfcmpdel_handle_delete_u64(__u32 handle, void *key, __u32 key_size,
			    __u32 offset, __u64 expected, __u64 flags,
			    __u64 tombstone)
{
	struct bpfcmpdel_kreq_u64 req = BPFCMPDEL_KREQ_U64(flags, offset, expected,
							   0, tombstone);

	return bpfcmpdel_handle_delete(handle, key, key_size, &req,
				       sizeof(req.hdr) + sizeof(req.expected));
}

/* bpfcmpdel_update_u64() on the map @handle names. */
static __always_inline int
bpfcmpdel_handle_update_u64(__u32 handle, void *key, __u32 key_size,
			    __u32 offset, __u64 expected, __u64 value,
			    __u64 flags)
{
	struct bpfcmpdel_kreq_u64 req = BPFCMPDEL_KREQ_U64(flags, offset, expected,
							   value, 0);

	return bpfcmpdel_handle_update(handle, key, key_size, &req, sizeof(req));
}

#endif /* _BPFCMPDEL_KFUNCS_BPF_H */
