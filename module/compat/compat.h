/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where kernel generations differ, together with bucket_lock.h and
 * fields.h.  Choices are keyed on build-time probes of the target's
 * headers (see Kbuild), never on version numbers, which distro backports
 * make lie.  Where the difference lives in a .c file the headers do not
 * ship (the hash function), the choice is one that is exact for every
 * generation.  Either way the running kernel has the last word at load
 * time (btf.c, selftest.c).
 */
#ifndef _BPFCMPDEL_COMPAT_H
#define _BPFCMPDEL_COMPAT_H

#include <linux/file.h>
#include <linux/bpf.h>
#include <linux/jhash.h>

/* struct fd became a tagged word in 6.12 and grew fd_file() with it. */
#ifndef fd_file
#define fd_file(f) ((f).file)
#endif

/*
 * Since 6.6 hashtab.c allocates a per-CPU element count for every map
 * (bpf_map_sum_elem_count()) and its free path decrements it.  Some 6.1
 * stable kernels (Debian's 6.1.192 among them) carry the field and the
 * helpers in bpf.h while their hashtab.c never allocates it: the pointer
 * is NULL there, and only the running map can tell.
 */
static inline void cmpdel_map_dec_elem_count(struct bpf_map *map)
{
#ifdef CMPDEL_HAVE_MAP_ELEM_COUNT
	s64 __percpu *count = READ_ONCE(map->elem_count);

	if (count)
		this_cpu_dec(*count);
#endif
}

/*
 * kernel/bpf/hashtab.c: htab_map_hash().  6.1 hashes every key with
 * jhash(); later kernels use jhash2() for keys of whole 32-bit words.  On
 * a little-endian CPU both compute the same value for such keys (jhash()
 * reads the same words, and assembles tail bytes little-endian), so
 * jhash() is exact on every generation.  cmpdel_htab_selftest() proves it
 * at load on elements the running kernel inserted, for both kinds of key.
 */
#ifndef __LITTLE_ENDIAN
#error "htab hashing is only known to match on little-endian CPUs"
#endif
#define CMPDEL_HTAB_HASH_NAME "jhash (= jhash2 for word-sized keys)"

static inline u32 cmpdel_htab_hash(const void *key, u32 key_len, u32 hashrnd)
{
	return jhash(key, key_len, hashrnd);
}

#endif /* _BPFCMPDEL_COMPAT_H */
