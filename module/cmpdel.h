/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interfaces between the parts of bpfcmpdel:
 *   main.c    the device and its ioctl
 *   request.c each request's copy-in, checks, security hook and run
 *   batch.c   the chunked runs of batches and sweeps
 *   map.c     fd -> map, permissions, supported types
 *   handle.c  map handles: a u32 naming a map to a kfunc
 *   stats.c   the counters operators read
 *   htab.c    bucket lock, compare, unlink, free: the only code that
 *             touches hash table internals
 *   btf.c     private struct layouts from the running kernel's BTF
 *   resolve.c internal symbols, and how each one may be called (IBT)
 *   selftest.c proof, at load, that the module and the kernel agree
 */
#ifndef _BPFCMPDEL_CMPDEL_H
#define _BPFCMPDEL_CMPDEL_H

#include <linux/bpf.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sysfs.h>

/*
 * Byte offsets into kernel/bpf/hashtab.c's private structs, read from
 * BTF.  Each is checked for the size and type the module relies on.
 */
struct cmpdel_htab_layout {
	/* struct bpf_htab */
	u32 htab_buckets;
	u32 htab_n_buckets;
	u32 htab_elems;
	u32 htab_elem_size;
	u32 htab_hashrnd;
	u32 htab_map_locked;
	u32 nr_map_locked;
	u32 htab_freelist;
	u32 htab_lru;
	u32 htab_ma;
	u32 htab_pcpu_ma;
	u32 htab_use_percpu_counter;
	u32 htab_pcount;
	u32 htab_count;
	/* struct bucket */
	u32 bucket_size;
	u32 bucket_head;
	u32 bucket_lock;
	/* struct htab_elem */
	u32 elem_hash_node;
	u32 elem_fnode;
	u32 elem_ptr_to_pptr;
	u32 elem_lru_node;
	u32 elem_hash;
	u32 elem_key;
};

extern struct cmpdel_htab_layout cmpdel_layout;

/* The hash map flavours served, each with its own bpf_map_ops. */
enum cmpdel_htab_kind {
	CMPDEL_HASH,
	CMPDEL_PERCPU_HASH,
	CMPDEL_LRU_HASH,
	CMPDEL_LRU_PERCPU_HASH,
	NR_CMPDEL_HTAB_KINDS,
};

/* Kernel data the module needs but no header exports. */
struct cmpdel_kernel_data {
	const struct file_operations *bpf_map_fops;
	const struct bpf_map_ops *htab_ops[NR_CMPDEL_HTAB_KINDS];
	int __percpu *bpf_prog_active;
	const void *btf_start;
	const void *btf_end;
};

extern struct cmpdel_kernel_data cmpdel_kdata;

/* resolve.c: every call into kernel text is a direct one (static calls). */
int cmpdel_resolve_symbols(void);
bool cmpdel_pretend_missing(const char *name);
void cmpdel_report_call_paths(void);
ssize_t cmpdel_call_targets_show(char *buf);

/* info.c: the read-only attributes of the device. */
extern const struct attribute_group *cmpdel_attr_groups[];

/*
 * kfunc.c: the BPF programs' front, built where the kernel keeps BTF for
 * modules (see Kbuild); otherwise the reason there is none.
 */
#ifdef CMPDEL_HAVE_KFUNCS
#include "compat/kfunc.h"

void cmpdel_kfuncs_register(void);
ssize_t cmpdel_kfuncs_show(char *buf);
/* Called by BPF programs only, as uapi/bpfcmpdel/kfuncs.bpf.h declares them. */
#ifdef CMPDEL_KFUNC_MAP_ARGS
int bpfcmpdel_delete(struct bpf_map *map__map, void *key, u32 key__sz,
		     void *req, u32 req__sz);
int bpfcmpdel_update(struct bpf_map *map__map, void *key, u32 key__sz,
		     void *req, u32 req__sz);
int bpfcmpdel_sweep(struct bpf_map *map__map, void *req, u32 req__sz,
		    void *keys, u32 keys__sz);
#endif
int bpfcmpdel_handle_delete(u32 handle, void *key, u32 key__sz, void *req,
			    u32 req__sz);
int bpfcmpdel_handle_update(u32 handle, void *key, u32 key__sz, void *req,
			    u32 req__sz);
int bpfcmpdel_handle_sweep(u32 handle, void *req, u32 req__sz, void *keys,
			   u32 keys__sz);
#ifdef CMPDEL_KFUNC_IDS_AT_LOAD
int cmpdel_btf_module_kfuncs(const void *blob, size_t size,
			     const char *const names[], u32 ids[], int n);
#endif
#else
static inline void cmpdel_kfuncs_register(void)
{
}

static inline ssize_t cmpdel_kfuncs_show(char *buf)
{
	return sysfs_emit(buf, "unavailable: the kernel keeps no BTF for modules\n");
}
#endif

void cmpdel_pcpu_freelist_push(void *freelist, void *node);
void cmpdel_bpf_mem_cache_free(void *ma, void *ptr);
void cmpdel_bpf_lru_push_free(void *lru, void *node);
void cmpdel_free_fields(struct bpf_map *map, void *value);
int cmpdel_kern_sys_bpf(int cmd, union bpf_attr *attr, unsigned int size);
int cmpdel_security_bpf(int cmd, union bpf_attr *attr, unsigned int size);
void cmpdel_disable_instrumentation(void);
void cmpdel_enable_instrumentation(void);

int cmpdel_btf_read_layout(void);

/*
 * One compare, checked and copied in.  @expected is in kernel memory: the
 * region's expected bytes, or for a compare of every CPU's slot the first
 * CPU's, each next CPU's @cpu_stride bytes further (the snapshot layout).
 */
struct cmpdel_op {
	u64 flags;		/* BPFCMPDEL_F_* */
	u32 offset;
	u32 size;
	u32 cpu;		/* BPFCMPDEL_F_CPU */
	u32 cpu_stride;
	u64 tombstone;		/* BPFCMPDEL_F_TOMBSTONE */
	const void *expected;
	const void *value;	/* compare-and-swap: the new bytes */
};

/* One sweep call's state, see BPFCMPDEL_IOC_SWEEP. */
struct cmpdel_sweep {
	u64 flags;
	u32 offset;
	u32 size;
	u64 threshold;
	u64 tombstone;
	u64 cursor;		/* in/out: next bucket */
	u32 budget;		/* buckets left to visit */
	u32 room;		/* elements that may still go this round */
	u32 scanned;
	u32 deleted;		/* this round: keys[] and values[] filled */
	u8 *keys;
	u8 *values;		/* or NULL */
};

struct cmpdel_map_ref {
	struct fd f;
	struct bpf_map *map;
};

int cmpdel_map_get(int ufd, struct cmpdel_map_ref *ref);
void cmpdel_map_put(struct cmpdel_map_ref *ref);
int cmpdel_check_mode(u64 flags, u32 compare_size, u32 cpu, u64 tombstone);
int cmpdel_map_prog_check(const struct bpf_map *map);
int cmpdel_map_check_op(const struct bpf_map *map, const struct cmpdel_op *op);
int cmpdel_map_check_swap(const struct bpf_map *map, const struct cmpdel_op *op);
int cmpdel_map_check_sweep(const struct bpf_map *map, const struct cmpdel_sweep *sw);

/* Inline: asked for every element a sweep or batch frees. */
static inline bool cmpdel_map_is_percpu(const struct bpf_map *map)
{
	return map->map_type == BPF_MAP_TYPE_PERCPU_HASH ||
	       map->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static inline bool cmpdel_map_is_lru(const struct bpf_map *map)
{
	return map->map_type == BPF_MAP_TYPE_LRU_HASH ||
	       map->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* One element's compare-and-swap (@swap) or compare-and-delete. */
int cmpdel_htab_single(struct bpf_map *map, const void *key,
		       const struct cmpdel_op *op, bool swap);
int cmpdel_htab_prog_single(struct bpf_map *map, const void *key,
			    const struct cmpdel_op *op, bool swap);
void cmpdel_htab_compare_delete_batch(struct bpf_map *map, const u8 *keys,
				      const u8 *expected, u32 stride, u32 n,
				      struct cmpdel_op *op, s32 *results);
int cmpdel_htab_sweep(struct bpf_map *map, struct cmpdel_sweep *sw);
int cmpdel_htab_prog_sweep(struct bpf_map *map, struct cmpdel_sweep *sw);

/* request.c: one entry per ioctl command, called by the device. */
long cmpdel_request_single(void __user *ureq, bool swap);
long cmpdel_request_batch(void __user *ureq);
long cmpdel_request_sweep(void __user *ureq);
long cmpdel_request_handle(struct file *file, void __user *ureq, bool free);

/* handle.c: map handles, for the kfuncs that take one. */
int cmpdel_handle_new(struct file *owner, struct bpf_map *map, u32 *id);
int cmpdel_handle_free(struct file *owner, u32 id);
void cmpdel_handles_release(struct file *owner);
struct bpf_map *cmpdel_handle_map(u32 id);

/* batch.c: the runs of checked batch and sweep requests. */
struct bpfcmpdel_batch_req;
struct bpfcmpdel_sweep_req;
int cmpdel_batch_run(struct bpf_map *map, const struct bpfcmpdel_batch_req *req,
		     u32 *done);
int cmpdel_sweep_run(struct bpf_map *map, struct bpfcmpdel_sweep_req *req);

/* selftest.c */
int cmpdel_htab_selftest(void);

#endif /* _BPFCMPDEL_CMPDEL_H */
