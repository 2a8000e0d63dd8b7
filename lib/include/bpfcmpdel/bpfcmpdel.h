/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libbpfcmpdel: compare-and-delete for BPF hash map elements.
 *
 * Thin wrapper around the /dev/bpfcmpdel ioctl (see <bpfcmpdel/ioctl.h>),
 * following libbpf conventions: errors are returned as negative errno
 * values and also stored in errno; optional arguments travel in a
 * size-versioned opts struct so that old binaries keep working against
 * newer libraries and vice versa.
 */
#ifndef __BPFCMPDEL_BPFCMPDEL_H
#define __BPFCMPDEL_BPFCMPDEL_H

#include <stddef.h>
#include <string.h>
#include <linux/types.h>
#include <bpfcmpdel/ioctl.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef BPFCMPDEL_API
#define BPFCMPDEL_API __attribute__((visibility("default")))
#endif

struct bpfcmpdel_opts {
	size_t sz;		/* size of this struct, for forward/backward compat */
	__u64 flags;		/* BPFCMPDEL_F_*, passed to the kernel as is */
	__u64 tombstone;	/* with BPFCMPDEL_F_TOMBSTONE */
	__u32 cpu;		/* with BPFCMPDEL_F_CPU */
	size_t :0;
};
#define bpfcmpdel_opts__last_field cpu

/*
 * Declare @NAME as a struct bpfcmpdel_opts with .sz filled in and all other
 * fields zero unless given, e.g. BPFCMPDEL_OPTS(opts, .flags = 0);
 * As in libbpf's LIBBPF_OPTS(), the memset is there to zero padding too
 * (best effort: the compiler may copy the literal's padding), because a
 * later library may turn padding into a field and read it.
 */
#define BPFCMPDEL_OPTS(NAME, ...)					\
	struct bpfcmpdel_opts NAME = ({					\
		memset(&NAME, 0, sizeof(struct bpfcmpdel_opts));	\
		(struct bpfcmpdel_opts) {				\
			.sz = sizeof(struct bpfcmpdel_opts),		\
			__VA_ARGS__					\
		};							\
	})

/*
 * bpfcmpdel_delete() - delete @key from the BPF hash map @map_fd only if
 * the @size bytes at byte @offset of its value equal @expected.  @opts
 * may be NULL; its flags choose the mode (default, BPFCMPDEL_F_LOCK,
 * BPFCMPDEL_F_TOMBSTONE with opts->tombstone) and the expected layout
 * (BPFCMPDEL_F_SNAPSHOT: @expected is a whole value as
 * bpf_map_lookup_elem() returned it; BPFCMPDEL_F_CPU: one CPU's slot of
 * a per-CPU map, opts->cpu).
 *
 * What each mode is atomic against, and every result, is documented once,
 * in <bpfcmpdel/ioctl.h>.  Returns 0 if the element was deleted, otherwise
 * a negative errno, also stored in errno (left untouched on success).
 * The library adds: -EINVAL for a NULL @key or @expected, @size 0,
 * @offset + @size overflowing, or malformed @opts (sz < sizeof(size_t), or
 * nonzero bytes this library does not know); -EBADF for a negative
 * @map_fd; -ENODEV when /dev/bpfcmpdel is missing (module not loaded:
 * ENOENT, ENXIO or ENODEV from opening it).  Other errors from opening the
 * device (e.g. -EACCES) are returned as is.
 */
BPFCMPDEL_API int bpfcmpdel_delete(int map_fd, const void *key,
				   const void *expected, __u32 offset,
				   __u32 size, const struct bpfcmpdel_opts *opts);

/*
 * bpfcmpdel_delete_snapshot() - the usual GC flow in one call: pass the
 * buffer bpf_map_lookup_elem() filled for @key as @snapshot, and the
 * element is deleted only if the @size bytes at @offset of its value are
 * still what the snapshot holds there.  Works for every hash flavour: for
 * per-CPU maps the snapshot holds a slot of round_up(value_size, 8) bytes
 * per possible CPU, and the region must be unchanged on every CPU.
 * Sets BPFCMPDEL_F_SNAPSHOT on top of @opts' flags; results as for
 * bpfcmpdel_delete().
 */
BPFCMPDEL_API int bpfcmpdel_delete_snapshot(int map_fd, const void *key,
					    const void *snapshot, __u32 offset,
					    __u32 size,
					    const struct bpfcmpdel_opts *opts);

/*
 * bpfcmpdel_device_fd() - the library's fd for /dev/bpfcmpdel.
 *
 * Opens the device on first use (from any thread, O_CLOEXEC) and keeps it
 * open for the life of the process.  A failed open is tried again on the
 * next call, so loading the module later needs no restart of the caller.
 * Returns the fd, or a negative errno as described for
 * bpfcmpdel_delete() (also stored in errno).  The fd belongs to
 * the library: do not close it.
 */
BPFCMPDEL_API int bpfcmpdel_device_fd(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* __BPFCMPDEL_BPFCMPDEL_H */
