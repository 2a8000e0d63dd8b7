// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libbpfcmpdel: userspace side of the /dev/bpfcmpdel compare-and-delete
 * ioctl.  The only state is the device fd, opened once on first use.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#define offsetofend(TYPE, FIELD) \
	(offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))

/* Same semantics as libbpf's OPTS_VALID()/OPTS_HAS()/OPTS_GET(). */
#define OPTS_VALID(opts, type)						\
	(!(opts) || validate_opts((const char *)(opts),			\
				  offsetofend(struct type,		\
					      type##__last_field),	\
				  (opts)->sz))
#define OPTS_HAS(opts, field) \
	((opts) && (opts)->sz >= offsetofend(typeof(*(opts)), field))
#define OPTS_GET(opts, field, fallback_value) \
	(OPTS_HAS(opts, field) ? (opts)->field : (fallback_value))

/*
 * The device fd once opened, else -1.  A failed open is retried on the
 * next call: a GC daemon started before the module is loaded must not
 * need a restart to use it.
 */
static int dev_fd = -1;
static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;

static int libbpf_err(int ret)
{
	if (ret < 0)
		errno = -ret;
	return ret;
}

static bool mem_is_zero(const char *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

static bool validate_opts(const char *opts, size_t known_sz, size_t user_sz)
{
	/* Anything shorter cannot even hold sz, so sz itself is garbage. */
	if (user_sz < sizeof(size_t))
		return false;
	/*
	 * A newer caller may pass fields we do not know.  Ignoring them is
	 * only safe while they hold their zero default; otherwise the caller
	 * asked for something this library cannot do.
	 */
	return user_sz <= known_sz ||
	       mem_is_zero(opts + known_sz, user_sz - known_sz);
}

static __u64 ptr_to_u64(const void *ptr)
{
	return (__u64)(unsigned long)ptr;
}

/*
 * The map's key size, and the size of one value as a lookup returns it
 * (per-CPU maps: a round_up(value_size, 8) slot per possible CPU).
 */
static int map_sizes(int map_fd, __u32 *key_size, __u32 *value_size)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int ncpus;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	*key_size = info.key_size;
	*value_size = info.value_size;
	if (info.type == BPF_MAP_TYPE_PERCPU_HASH ||
	    info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH) {
		ncpus = libbpf_num_possible_cpus();
		if (ncpus < 0)
			return ncpus;
		*value_size = ((info.value_size + 7) & ~7U) * ncpus;
	}
	return 0;
}

/* Returns the new fd, or -errno. */
static int dev_open(void)
{
	int fd = open(BPFCMPDEL_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:	/* no device node */
	case ENXIO:	/* node left behind, driver gone */
	case ENODEV:
		/* Give callers one code meaning "module not loaded". */
		return -ENODEV;
	default:
		return -errno;
	}
}

static int dev_get(void)
{
	int fd = __atomic_load_n(&dev_fd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&dev_lock);
	fd = dev_fd;
	if (fd < 0) {
		fd = dev_open();
		if (fd >= 0)
			__atomic_store_n(&dev_fd, fd, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&dev_lock);
	return fd;
}

int bpfcmpdel_device_fd(void)
{
	return libbpf_err(dev_get());
}

/* Every request to the kernel goes through here: returns 0 or -errno. */
static int cmpdel_ioctl(unsigned long cmd, void *req)
{
	int fd = dev_get();

	if (fd < 0)
		return fd;
	if (ioctl(fd, cmd, req) < 0)
		return -errno;
	return 0;
}

int bpfcmpdel_handle_new(int map_fd, __u32 *handle)
{
	struct bpfcmpdel_handle_req req = {
		.size = sizeof(req), .map_fd = map_fd,
	};
	int ret;

	if (map_fd < 0)
		return libbpf_err(-EBADF);
	if (!handle)
		return libbpf_err(-EINVAL);
	ret = cmpdel_ioctl(BPFCMPDEL_IOC_HANDLE_NEW, &req);
	if (ret)
		return libbpf_err(ret);
	*handle = req.handle;
	return 0;
}

int bpfcmpdel_handle_free(__u32 handle)
{
	struct bpfcmpdel_handle_req req = {
		.size = sizeof(req), .handle = handle,
	};

	return libbpf_err(cmpdel_ioctl(BPFCMPDEL_IOC_HANDLE_FREE, &req));
}

/* The single-element request both the delete and the swap send. */
static int single_req(unsigned long cmd, int map_fd, const void *key,
		      const void *expected, __u32 offset, __u32 size,
		      const void *value, const struct bpfcmpdel_opts *opts)
{
	struct bpfcmpdel_req req;

	/*
	 * The kernel checks all of this again; catching it here gives a
	 * clear error even when the device is missing.
	 */
	if (map_fd < 0)
		return -EBADF;
	if (!key || !expected || !size || offset > UINT32_MAX - size)
		return -EINVAL;
	if (!OPTS_VALID(opts, bpfcmpdel_opts))
		return -EINVAL;

	/* Zero everything so struct growth never sends stack garbage. */
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.map_fd = map_fd;
	/*
	 * Flags are not checked here so that a flag added to the kernel works
	 * without a library update; the kernel rejects ones it does not know.
	 */
	req.flags = OPTS_GET(opts, flags, 0);
	req.key = ptr_to_u64(key);
	req.expected = ptr_to_u64(expected);
	req.compare_offset = offset;
	req.compare_size = size;
	req.tombstone = OPTS_GET(opts, tombstone, 0);
	req.cpu = OPTS_GET(opts, cpu, 0);
	req.value = ptr_to_u64(value);
	return cmpdel_ioctl(cmd, &req);
}

int bpfcmpdel_delete(int map_fd, const void *key, const void *expected,
		     __u32 offset, __u32 size, const struct bpfcmpdel_opts *opts)
{
	return libbpf_err(single_req(BPFCMPDEL_IOC_DELETE, map_fd, key, expected,
				     offset, size, NULL, opts));
}

int bpfcmpdel_update(int map_fd, const void *key, const void *expected,
		     const void *value, __u32 offset, __u32 size,
		     const struct bpfcmpdel_opts *opts)
{
	if (!value)
		return libbpf_err(-EINVAL);
	return libbpf_err(single_req(BPFCMPDEL_IOC_UPDATE, map_fd, key, expected,
				     offset, size, value, opts));
}

int bpfcmpdel_delete_snapshot(int map_fd, const void *key, const void *snapshot,
			      __u32 offset, __u32 size,
			      const struct bpfcmpdel_opts *opts)
{
	BPFCMPDEL_OPTS(snap_opts);

	if (!OPTS_VALID(opts, bpfcmpdel_opts))
		return libbpf_err(-EINVAL);
	snap_opts.flags = OPTS_GET(opts, flags, 0) | BPFCMPDEL_F_SNAPSHOT;
	snap_opts.tombstone = OPTS_GET(opts, tombstone, 0);
	snap_opts.cpu = OPTS_GET(opts, cpu, 0);
	return bpfcmpdel_delete(map_fd, key, snapshot, offset, size, &snap_opts);
}

int bpfcmpdel_delete_batch(int map_fd, const void *keys, const void *expected,
			   __s32 *results, __u32 *count, __u32 offset, __u32 size,
			   const struct bpfcmpdel_opts *opts)
{
	struct bpfcmpdel_batch_req req;
	int ret;

	if (map_fd < 0)
		return libbpf_err(-EBADF);
	if (!count || (*count && (!keys || !expected || !results)) || !size ||
	    offset > UINT32_MAX - size || !OPTS_VALID(opts, bpfcmpdel_opts))
		return libbpf_err(-EINVAL);
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.map_fd = map_fd;
	req.flags = OPTS_GET(opts, flags, 0);
	req.keys = ptr_to_u64(keys);
	req.expected = ptr_to_u64(expected);
	req.results = ptr_to_u64(results);
	req.count = *count;
	req.compare_offset = offset;
	req.compare_size = size;
	req.cpu = OPTS_GET(opts, cpu, 0);
	req.tombstone = OPTS_GET(opts, tombstone, 0);
	ret = cmpdel_ioctl(BPFCMPDEL_IOC_DELETE_BATCH, &req);
	/*
	 * The kernel reports progress when it fails part-way (-EFAULT); any
	 * other failure processed nothing.
	 */
	*count = !ret || ret == -EFAULT ? req.count : 0;
	return libbpf_err(ret);
}

int bpfcmpdel_sweep(int map_fd, __u64 *cursor, __u32 field_offset,
		    __u32 field_size, __u64 threshold, __u32 *nr_deleted,
		    const struct bpfcmpdel_sweep_opts *opts)
{
	struct bpfcmpdel_sweep_req req;
	int ret;

	if (map_fd < 0)
		return libbpf_err(-EBADF);
	if (!cursor || !nr_deleted || !OPTS_VALID(opts, bpfcmpdel_sweep_opts) ||
	    !OPTS_GET(opts, keys, NULL) || !OPTS_GET(opts, max_out, 0))
		return libbpf_err(-EINVAL);
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.map_fd = map_fd;
	req.flags = OPTS_GET(opts, flags, 0);
	if (OPTS_GET(opts, values, NULL))
		req.flags |= BPFCMPDEL_F_SWEEP_VALUES;
	req.cursor = *cursor;
	req.threshold = threshold;
	req.tombstone = OPTS_GET(opts, tombstone, 0);
	req.keys = ptr_to_u64(OPTS_GET(opts, keys, NULL));
	req.values = ptr_to_u64(OPTS_GET(opts, values, NULL));
	req.field_offset = field_offset;
	req.field_size = field_size;
	req.max_out = OPTS_GET(opts, max_out, 0);
	req.budget = OPTS_GET(opts, budget, 0);
	ret = cmpdel_ioctl(BPFCMPDEL_IOC_SWEEP, &req);
	*nr_deleted = req.nr_deleted;
	if (!ret || req.nr_deleted)
		*cursor = req.cursor;
	if (OPTS_HAS(opts, nr_scanned) && opts->nr_scanned)
		*opts->nr_scanned += req.nr_scanned;
	return libbpf_err(ret);
}

/* Deletes, kept and gone, from per-element results. */
static void gc_tally(struct bpfcmpdel_gc_stats *st, const __s32 *res, __u32 n)
{
	__u32 i;

	for (i = 0; i < n; i++) {
		if (!res[i])
			st->deleted++;
		else if (res[i] == -EBUSY)
			st->changed++;
		else if (res[i] == -ENOENT)
			st->gone++;
		else
			st->failed++;
	}
}

#define GC_CHUNK 4096
/*
 * Calls in a row that may find a bucket lock not taken: the kernel's lock
 * fails only while another holder misbehaves (a deadlock or timeout
 * report), so a lock that keeps failing is reported, not spun on.
 */
#define GC_RETRIES 100

/* One thread's share of a GC sweep: buckets or elements [lo, hi). */
struct gc_range {
	int map_fd;
	__u32 field_offset, field_size, key_size;
	__u64 threshold, flags;
	const struct bpfcmpdel_gc_opts *opts;
	pthread_mutex_t *cb_lock;	/* the callbacks run one at a time */
	__u64 lo, hi;			/* hi: BPFCMPDEL_SWEEP_END for the last */
	pthread_t thread;
	__u64 deleted, scanned;
	int ret;
};

static void *gc_sweep_range(void *arg)
{
	struct gc_range *r = arg;
	const struct bpfcmpdel_gc_opts *opts = r->opts;
	void (*on_deleted)(const void *, __u32, void *) = OPTS_GET(opts, on_deleted, NULL);
	void (*on_progress)(__u64, void *) = OPTS_GET(opts, on_progress, NULL);
	__u32 budget = OPTS_GET(opts, budget, 0) ?: BPFCMPDEL_SWEEP_BUDGET, nr;
	void *ctx = OPTS_GET(opts, ctx, NULL);
	__u64 cursor = r->lo;
	unsigned int retries = 0;
	void *keys;
	int ret = 0;

	keys = calloc(GC_CHUNK, r->key_size);
	if (!keys) {
		r->ret = -ENOMEM;
		return NULL;
	}
	while (cursor < r->hi) {
		/* No call crosses into the next thread's range. */
		BPFCMPDEL_SWEEP_OPTS(so, .flags = r->flags,
				     .tombstone = OPTS_GET(opts, tombstone, 0),
				     .keys = keys, .max_out = GC_CHUNK,
				     .budget = r->hi - cursor < budget ? r->hi - cursor : budget,
				     .nr_scanned = &r->scanned);

		ret = bpfcmpdel_sweep(r->map_fd, &cursor, r->field_offset, r->field_size,
				      r->threshold, &nr, &so);
		/*
		 * Whatever the call returned, the keys it counts are gone:
		 * they are reported before anything else is looked at.
		 */
		r->deleted += nr;
		if (on_deleted && nr) {
			pthread_mutex_lock(r->cb_lock);
			on_deleted(keys, nr, ctx);
			pthread_mutex_unlock(r->cb_lock);
		}
		/* A bucket lock not taken: nothing changed, try that bucket again. */
		if (ret == -EAGAIN && ++retries <= GC_RETRIES) {
			sched_yield();
			continue;
		}
		if (ret)
			break;
		retries = 0;
		if (on_progress) {
			pthread_mutex_lock(r->cb_lock);
			on_progress(cursor, ctx);
			pthread_mutex_unlock(r->cb_lock);
		}
	}
	free(keys);
	r->ret = ret;
	return NULL;
}

/*
 * Where thread @i of @n starts: the map's elements split evenly, or its
 * buckets, counted as hashtab.c counts them (max_entries rounded up to a
 * power of two).  The count only balances the split: the last range runs
 * to the end (a hash map's extra elements, one per possible CPU).
 */
static __u64 gc_range_start(__u32 max_entries, bool elems, __u32 i, __u32 n)
{
	__u64 units = 1;

	if (elems)
		units = max_entries;
	while (units < max_entries)
		units <<= 1;
	return units * i / n;
}

/*
 * Whether the map keeps its elements in one array, which the sweep then
 * walks in memory order (BPFCMPDEL_F_SWEEP_ELEMS): the bucket order reads
 * each element of a large map at a random address.  Per-CPU maps are not
 * swept at all, so their refusal stays the kernel's.
 */
static bool gc_by_elems(const struct bpf_map_info *info)
{
	return (info->type == BPF_MAP_TYPE_HASH && !(info->map_flags & BPF_F_NO_PREALLOC)) ||
	       info->type == BPF_MAP_TYPE_LRU_HASH;
}

int bpfcmpdel_gc_sweep(int map_fd, __u32 field_offset, __u32 field_size,
		       __u64 threshold, struct bpfcmpdel_gc_stats *stats,
		       const struct bpfcmpdel_gc_opts *opts)
{
	__u32 nthreads = OPTS_GET(opts, threads, 0) ?: 1, key_size, value_size, i, started;
	pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct gc_range *r;
	__u64 flags;
	bool elems;
	int ret = 0;

	if (!stats || !OPTS_VALID(opts, bpfcmpdel_gc_opts) ||
	    nthreads > BPFCMPDEL_GC_THREADS_MAX)
		return libbpf_err(-EINVAL);
	memset(stats, 0, sizeof(*stats));
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return libbpf_err(-errno);
	ret = map_sizes(map_fd, &key_size, &value_size);
	if (ret)
		return libbpf_err(ret);
	flags = OPTS_GET(opts, flags, 0);
	elems = flags & BPFCMPDEL_F_SWEEP_ELEMS || gc_by_elems(&info);
	if (elems)
		flags |= BPFCMPDEL_F_SWEEP_ELEMS;
	r = calloc(nthreads, sizeof(*r));
	if (!r)
		return libbpf_err(-ENOMEM);
	for (i = 0; i < nthreads; i++)
		r[i] = (struct gc_range) {
			.map_fd = map_fd, .field_offset = field_offset,
			.field_size = field_size, .key_size = key_size,
			.threshold = threshold, .flags = flags, .opts = opts,
			.cb_lock = &cb_lock,
			.lo = gc_range_start(info.max_entries, elems, i, nthreads),
			.hi = i + 1 < nthreads ?
			      gc_range_start(info.max_entries, elems, i + 1, nthreads) :
			      BPFCMPDEL_SWEEP_END,
		};
	for (started = 1; started < nthreads; started++)
		if (pthread_create(&r[started].thread, NULL, gc_sweep_range, &r[started]))
			break;
	/* The caller's thread sweeps the first range, and any not started. */
	gc_sweep_range(&r[0]);
	for (i = started; i < nthreads; i++)
		gc_sweep_range(&r[i]);
	for (i = 1; i < started; i++)
		pthread_join(r[i].thread, NULL);
	for (i = 0; i < nthreads; i++) {
		stats->deleted += r[i].deleted;
		stats->scanned += r[i].scanned;
		ret = ret ?: r[i].ret;
	}
	free(r);
	return libbpf_err(ret);
}

int bpfcmpdel_gc_snapshot(int map_fd, __u32 offset, __u32 size,
			  bpfcmpdel_expired_fn expired,
			  struct bpfcmpdel_gc_stats *stats,
			  const struct bpfcmpdel_gc_opts *opts)
{
	__u32 key_size, value_size, count, n, i, nexp;
	char *keys = NULL, *vals = NULL, *ekeys = NULL, *evals = NULL;
	__u64 in_batch = 0, out_batch = 0;
	__s32 *results = NULL;
	bool first = true, last = false;
	BPFCMPDEL_OPTS(dopts);
	int ret;

	if (!stats || !expired || !OPTS_VALID(opts, bpfcmpdel_gc_opts))
		return libbpf_err(-EINVAL);
	memset(stats, 0, sizeof(*stats));
	ret = map_sizes(map_fd, &key_size, &value_size);
	if (ret)
		return libbpf_err(ret);
	dopts.flags = OPTS_GET(opts, flags, 0) | BPFCMPDEL_F_SNAPSHOT;
	dopts.tombstone = OPTS_GET(opts, tombstone, 0);
	keys = calloc(GC_CHUNK, key_size);
	vals = calloc(GC_CHUNK, value_size);
	ekeys = calloc(GC_CHUNK, key_size);
	evals = calloc(GC_CHUNK, value_size);
	results = calloc(GC_CHUNK, sizeof(*results));
	if (!keys || !vals || !ekeys || !evals || !results) {
		ret = -ENOMEM;
		goto out;
	}
	while (!last) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		count = GC_CHUNK;
		ret = bpf_map_lookup_batch(map_fd, first ? NULL : &in_batch,
					   &out_batch, keys, vals, &count, &bo);
		if (ret && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		last = ret != 0;
		ret = 0;
		first = false;
		in_batch = out_batch;
		stats->scanned += count;
		for (i = 0, nexp = 0; i < count; i++) {
			if (!expired(keys + (size_t)i * key_size,
				     vals + (size_t)i * value_size,
				     OPTS_GET(opts, ctx, NULL)))
				continue;
			memcpy(ekeys + (size_t)nexp * key_size, keys + (size_t)i * key_size,
			       key_size);
			memcpy(evals + (size_t)nexp * value_size,
			       vals + (size_t)i * value_size, value_size);
			nexp++;
		}
		if (!nexp)
			continue;
		n = nexp;
		ret = bpfcmpdel_delete_batch(map_fd, ekeys, evals, results, &n,
					     offset, size, &dopts);
		/* Elements processed before a failure have their results. */
		gc_tally(stats, results, n);
		if (ret)
			goto out;
	}
out:
	free(keys);
	free(vals);
	free(ekeys);
	free(evals);
	free(results);
	return libbpf_err(ret);
}
