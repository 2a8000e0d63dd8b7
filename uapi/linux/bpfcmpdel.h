/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bpfcmpdel: compare-and-delete for BPF hash maps.
 *
 * BPFCMPDEL_IOC_CMPDEL deletes the element stored under @key in the BPF
 * hash map @map_fd only if the @compare_size bytes at @compare_offset of
 * its value equal the bytes at @expected.  Lookup, compare and unlink run
 * under the map's bucket lock, so no other bucket-lock holder (syscall or
 * BPF-helper update or delete of the same key) can interleave.  A BPF
 * program writing in place through a pointer returned by
 * bpf_map_lookup_elem() does not take that lock and is NOT excluded.
 *
 * Results: 0 deleted, -ENOENT no such key, -EBUSY region differs,
 * -EAGAIN bucket lock not taken, nothing changed (the per-CPU re-entrance
 * guard on 6.1-6.14, or the resilient lock's deadlock or timeout report on
 * 6.15+), retry; -EOPNOTSUPP map type
 * not supported, -EINVAL bad request (including a region that overlaps a
 * BTF-managed field such as a spin lock, timer or kptr), -EPERM fd lacks
 * write permission or map is frozen, -EBADF bad fd, -EFAULT bad pointer,
 * -E2BIG request struct larger than known with nonzero tail.
 */
#ifndef _UAPI_LINUX_BPFCMPDEL_H
#define _UAPI_LINUX_BPFCMPDEL_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define BPFCMPDEL_DEVICE	"/dev/bpfcmpdel"

/*
 * Extensible request: @size is sizeof() as the caller knows it.  Shorter
 * structs are zero-extended; longer ones must have a zero tail beyond what
 * the kernel knows, or the call fails with -E2BIG.
 */
struct bpfcmpdel_req {
	__u32 size;
	__u32 map_fd;
	__u64 flags;		/* BPFCMPDEL_F_*; unknown bits: -EINVAL */
	__u64 key;		/* user pointer to map->key_size bytes */
	__u64 expected;		/* user pointer, see BPFCMPDEL_F_SNAPSHOT */
	__u32 compare_offset;	/* byte offset into the value */
	__u32 compare_size;	/* > 0; offset + size <= value_size */
};

/*
 * Without this flag @expected points to the @compare_size bytes expected at
 * @compare_offset.  With it, @expected points to a whole value exactly as
 * BPF_MAP_LOOKUP_ELEM returned it, and the expected bytes are read from it
 * at @compare_offset: a GC passes its lookup snapshot as is.
 *
 * Per-CPU maps (PERCPU_HASH, LRU_PERCPU_HASH) require this flag: their
 * snapshot holds one slot of round_up(value_size, 8) bytes per possible CPU,
 * and the element is deleted only if the region is unchanged on every CPU.
 */
#define BPFCMPDEL_F_SNAPSHOT	_BITULL(0)
#define BPFCMPDEL_F_ALL		BPFCMPDEL_F_SNAPSHOT

#define BPFCMPDEL_REQ_SIZE_VER0	40	/* sizeof first published struct */

#define BPFCMPDEL_IOC_MAGIC	0xCD
#define BPFCMPDEL_IOC_CMPDEL	_IOW(BPFCMPDEL_IOC_MAGIC, 1, struct bpfcmpdel_req)

#endif /* _UAPI_LINUX_BPFCMPDEL_H */
