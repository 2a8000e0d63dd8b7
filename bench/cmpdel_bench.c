// SPDX-License-Identifier: GPL-2.0
/*
 * cmpdel_bench [SIZES...]: what a conditional delete costs next to every
 * alternative, measured side by side in one boot, on the same maps.
 *
 * For each map (hash preallocated and not, LRU hash; of each size) the
 * same K expired elements, spread over the map, are deleted by each method
 * in turn; they are put back between methods, and the methods take turns
 * going first across trials.  Printed: the median ns per deleted element
 * over the trials, its spread (min-max), and its ratio to the plain
 * BPF_MAP_DELETE_ELEM of the same trial set.  Then a whole GC pass over a
 * large LRU map with a tenth expired: Cilium's way, Calico's, and this
 * project's sweep; with BENCH_GO naming the Go package's test binary, also
 * that package's pass and a Cilium-style pass on cilium/ebpf alone, each
 * run by that binary on this map (pinned) as one more method taking its
 * turn.  Output is markdown between @@BENCH-BEGIN/END@@.
 *
 * BENCH_ICOUNT set says the guest's clock counts instructions (QEMU
 * -icount), which the output then says.
 *
 * With two CPUs, also two GC threads against one on each map the element
 * walk serves, beside the kernel's own batch delete split in two and a
 * loop that shares nothing (what two vCPUs give on this host at all).
 * Rows 8 are the front doors alone: each interface's call on a closed fd.
 *
 * Then a sparsely filled map, walked in element order and in bucket order.
 *
 * cmpdel_bench --threads, --sparse: that table alone.
 *
 * cmpdel_bench --curve SIZES...: a GC pass (Cilium's, Calico's, the sweep,
 * the sweep's walk alone) on hash and LRU maps of each size, for the plot
 * of time against size, beside what one random read costs at that size.
 *
 * cmpdel_bench --gc PASS [ROUNDS]: one GC pass (cilium, calico, sweep, buckets,
 * walk) or 8192 deletes (delete: bpf(); cmpdel: this module, one a call;
 * batch: this module, 1024 a call) alone,
 * for a profiler (scripts/profile.sh).  With BENCH_PERF_CTL and BENCH_PERF_ACK
 * naming the fifos of `perf record --control`, only the passes themselves
 * are recorded, not the refills between them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "bench.h"
#include "bench.skel.h"

#define TRIALS		7
#define MAX_K		8192
#define EXPIRED		1ULL
#define LIVE		(1ULL << 40)
#define GC_N		(1U << 20)

struct config {
	const char *name;
	enum bpf_map_type type;
	__u32 flags;
	__u32 n;
	bool spin_lock;		/* value { lifetime, packets, bpf_spin_lock } */
	__u32 slots;		/* max_entries; 0: n and a quarter more */
};

struct ctx {
	const struct config *cfg;
	struct bench_bpf *skel;	/* NULL for the spin-lock map */
	int fd;
	__u32 k, vsize;
	__u32 expired;		/* how many fill() made expired */
	__u32 keys[MAX_K];
	__u64 expected[MAX_K];
	__s32 results[MAX_K];
	unsigned char vals[MAX_K][32];
};

typedef int (*method_fn)(struct ctx *c);

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* --- the methods: each deletes the K expired keys, 0 when all went ------- */

static int m_delete(struct ctx *c)
{
	for (__u32 i = 0; i < c->k; i++)
		if (bpf_map_delete_elem(c->fd, &c->keys[i]))
			return -errno;
	return 0;
}

static int m_lookup_delete(struct ctx *c)
{
	unsigned char v[32];

	for (__u32 i = 0; i < c->k; i++)
		if (bpf_map_lookup_elem(c->fd, &c->keys[i], v) ||
		    bpf_map_delete_elem(c->fd, &c->keys[i]))
			return -errno;
	return 0;
}

static int m_lookup_and_delete(struct ctx *c)
{
	unsigned char v[32];
	__u64 fl = c->cfg->spin_lock ? BPF_F_LOCK : 0;

	for (__u32 i = 0; i < c->k; i++)
		if (bpf_map_lookup_and_delete_elem_flags(c->fd, &c->keys[i], v, fl))
			return -errno;
	return 0;
}

static int m_prog_one(struct ctx *c)
{
	struct bench_one one = {};
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &one, .ctx_size_in = sizeof(one));
	int fd = bpf_program__fd(c->skel->progs.del_one);

	for (__u32 i = 0; i < c->k; i++) {
		one.key = c->keys[i];
		one.expected = c->expected[i];
		if (bpf_prog_test_run_opts(fd, &run) || run.retval)
			return -EIO;
	}
	return 0;
}

static int m_prog_batch(struct ctx *c)
{
	struct bench_batch *b = &c->skel->bss->batch;
	LIBBPF_OPTS(bpf_test_run_opts, run);
	int fd = bpf_program__fd(c->skel->progs.del_batch);
	__u32 i, n;

	for (i = 0; i < c->k; i += n) {
		n = c->k - i < BENCH_PROG_BATCH ? c->k - i : BENCH_PROG_BATCH;
		b->count = n;
		b->deleted = 0;
		memcpy(b->keys, c->keys + i, n * sizeof(__u32));
		memcpy(b->expected, c->expected + i, n * sizeof(__u64));
		if (bpf_prog_test_run_opts(fd, &run) || b->deleted != n)
			return -EIO;
	}
	return 0;
}

static int m_walk(struct ctx *c)
{
	LIBBPF_OPTS(bpf_test_run_opts, run);

	c->skel->bss->threshold = LIVE;
	c->skel->bss->walked_deleted = 0;
	if (bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.walk), &run))
		return -errno;
	return c->skel->bss->walked_deleted == c->k ? 0 : -EIO;
}

static int m_delete_batch(struct ctx *c)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 n = c->k;

	return bpf_map_delete_batch(c->fd, c->keys, &n, &o) ? -errno : 0;
}

static int cmpdel_single(struct ctx *c, __u64 flags)
{
	BPFCMPDEL_OPTS(o, .flags = flags,
		       .tombstone = flags & BPFCMPDEL_F_TOMBSTONE ? ~0ULL : 0);

	for (__u32 i = 0; i < c->k; i++)
		if (bpfcmpdel_delete(c->fd, &c->keys[i], &c->expected[i], 0, 8, &o))
			return -errno;
	return 0;
}

static int m_cmpdel(struct ctx *c)
{
	return cmpdel_single(c, 0);
}

static int m_cmpdel_lock(struct ctx *c)
{
	return cmpdel_single(c, BPFCMPDEL_F_LOCK);
}

static int m_cmpdel_tombstone(struct ctx *c)
{
	return cmpdel_single(c, BPFCMPDEL_F_TOMBSTONE);
}

/*
 * The front doors alone: the same calls on a map fd that is not open,
 * which each side refuses (-EBADF) once it has done what every request
 * does first -- the syscall's entry, the request's copy-in and checks, the
 * security hook -- and before it touches a map.  The difference between
 * the two is what a device's ioctl costs over bpf() before any map work.
 */
#define CLOSED_FD 999

static int m_floor_bpf(struct ctx *c)
{
	for (__u32 i = 0; i < c->k; i++)
		if (!bpf_map_delete_elem(CLOSED_FD, &c->keys[i]) || errno != EBADF)
			return -EIO;
	return 0;
}

static int m_floor_cmpdel(struct ctx *c)
{
	for (__u32 i = 0; i < c->k; i++)
		if (!bpfcmpdel_delete(CLOSED_FD, &c->keys[i], &c->expected[i], 0, 8, NULL) ||
		    errno != EBADF)
			return -EIO;
	return 0;
}

static int cmpdel_batch(struct ctx *c, __u32 size)
{
	__u32 i, n;

	for (i = 0; i < c->k; i += n) {
		n = c->k - i < size ? c->k - i : size;
		if (bpfcmpdel_delete_batch(c->fd, c->keys + i, c->expected + i,
					   c->results + i, &n, 0, 8, NULL))
			return -errno;
	}
	for (i = 0; i < c->k; i++)
		if (c->results[i])
			return c->results[i];
	return 0;
}

static int m_batch64(struct ctx *c) { return cmpdel_batch(c, 64); }
static int m_batch1024(struct ctx *c) { return cmpdel_batch(c, 1024); }
static int m_batch4096(struct ctx *c) { return cmpdel_batch(c, 4096); }

/* The map swept in bucket order: how many went, or -errno. */
static long sweep_buckets(struct ctx *c)
{
	static __u32 out[4096];
	BPFCMPDEL_SWEEP_OPTS(so, .keys = out, .max_out = 4096,
			     .budget = BPFCMPDEL_SWEEP_BUDGET_MAX);
	__u64 cursor = 0;
	__u32 nr;
	long total = 0;

	while (cursor != BPFCMPDEL_SWEEP_END) {
		if (bpfcmpdel_sweep(c->fd, &cursor, 0, 8, LIVE, &nr, &so))
			return -errno;
		total += nr;
	}
	return total;
}

static int m_sweep(struct ctx *c)
{
	long n = sweep_buckets(c);

	return n < 0 ? n : n == c->k ? 0 : -EIO;
}

struct method {
	const char *name;
	method_fn fn;
	bool prog;		/* needs the BPF object's map */
	bool lock_map;		/* runs on the spin-lock map */
	bool plain_map;		/* runs on the others */
	bool uncounted;		/* with the module's counters off */
};

static const struct method methods[] = {
	{ "1. `BPF_MAP_DELETE_ELEM`", m_delete, false, true, true, false },
	{ "2. lookup, then `BPF_MAP_DELETE_ELEM`", m_lookup_delete, false, true, true, false },
	{ "3. `BPF_MAP_LOOKUP_AND_DELETE_ELEM`", m_lookup_and_delete, false, true, true, false },
	{ "4. `SYSCALL` program, a run per key", m_prog_one, true, false, true, false },
	{ "4. `SYSCALL` program, a run per 1024 keys", m_prog_batch, true, false, true, false },
	{ "5. `bpf_for_each_map_elem()` walk (Calico)", m_walk, true, false, true, false },
	{ "6. `BPF_MAP_DELETE_BATCH`", m_delete_batch, false, true, true, false },
	{ "7. bpfcmpdel delete", m_cmpdel, false, true, true, false },
	{ "7. bpfcmpdel delete, counters off", m_cmpdel, false, true, true, true },
	{ "7. bpfcmpdel delete, lock mode", m_cmpdel_lock, false, true, false, false },
	{ "7. bpfcmpdel delete, tombstone mode", m_cmpdel_tombstone, false, false, true, false },
	{ "7. bpfcmpdel batch of 64", m_batch64, false, true, true, false },
	{ "7. bpfcmpdel batch of 1024", m_batch1024, false, true, true, false },
	{ "7. bpfcmpdel batch of 1024, counters off", m_batch1024, false, true, true, true },
	{ "7. bpfcmpdel batch of 4096", m_batch4096, false, true, true, false },
	{ "7. bpfcmpdel sweep", m_sweep, false, true, true, false },
	{ "8. `BPF_MAP_DELETE_ELEM` on a closed fd: `bpf()`'s floor", m_floor_bpf, false, true, true,
	  false },
	{ "8. bpfcmpdel delete on a closed fd: the ioctl's floor", m_floor_cmpdel, false, true, true,
	  false },
};
#define NR_METHODS (sizeof(methods) / sizeof(methods[0]))

/* --- maps ---------------------------------------------------------------- */

static int spin_lock_map(__u32 n)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct btf *btf = btf__new_empty();
	int u64_id, u32_id, lock_id, v_id, fd;

	if (!btf)
		return -1;
	u64_id = btf__add_int(btf, "u64", 8, 0);
	u32_id = btf__add_int(btf, "u32", 4, 0);
	lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
	btf__add_field(btf, "val", u32_id, 0, 0);
	v_id = btf__add_struct(btf, "value", 24);
	btf__add_field(btf, "lifetime", u64_id, 0, 0);
	btf__add_field(btf, "packets", u64_id, 64, 0);
	btf__add_field(btf, "lock", lock_id, 128, 0);
	if (btf__load_into_kernel(btf)) {
		btf__free(btf);
		return -1;
	}
	o.btf_fd = btf__fd(btf);
	o.btf_key_type_id = u32_id;
	o.btf_value_type_id = v_id;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_lock", 4, 24, n, &o);
	btf__free(btf);
	return fd;
}

/*
 * Without the common LRU, an element belongs to the LRU list of the CPU
 * that inserted it, and each CPU's list has its own share of the slots:
 * batch @nth of a fill goes from CPU @nth mod the CPUs there are, as a
 * datapath's inserts come from every CPU (-1: any CPU again).
 */
static void fill_cpu(const struct ctx *c, int nth)
{
	int cpus = libbpf_num_possible_cpus(), cpu;
	cpu_set_t set;

	if (!(c->cfg->flags & BPF_F_NO_COMMON_LRU) || cpus < 2)
		return;
	CPU_ZERO(&set);
	if (nth < 0) {
		for (cpu = 0; cpu < cpus; cpu++)
			CPU_SET(cpu, &set);
	} else {
		CPU_SET(nth % cpus, &set);
	}
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Inserts keys [0, n) in batches, @expired of them expired and spread
 * evenly; the first K of those are the ones the methods delete.
 */
static int fill(struct ctx *c, __u32 expired)
{
	static __u32 keys[4096];
	static unsigned char vals[4096 * 32];
	__u32 stride = c->cfg->n / expired, i, j, cnt;
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	c->expired = 0;
	for (i = 0; i < c->cfg->n; i += cnt) {
		cnt = c->cfg->n - i < 4096 ? c->cfg->n - i : 4096;
		memset(vals, 0, sizeof(vals));
		for (j = 0; j < cnt; j++) {
			__u64 life = (i + j) % stride ? LIVE : EXPIRED;

			c->expired += life == EXPIRED;
			keys[j] = i + j;
			memcpy(vals + (size_t)j * c->vsize, &life, sizeof(life));
		}
		fill_cpu(c, i / 4096);
		if (bpf_map_update_batch(c->fd, keys, vals, &cnt, &o))
			return -errno;
	}
	fill_cpu(c, -1);
	for (i = 0; i < c->k; i++) {
		c->keys[i] = i * stride;
		c->expected[i] = EXPIRED;
		memset(c->vals[i], 0, sizeof(c->vals[i]));
		memcpy(c->vals[i], &c->expected[i], sizeof(__u64));
	}
	return 0;
}

/* Puts the K expired keys back, whatever a method left. */
static int restore(struct ctx *c)
{
	for (__u32 i = 0; i < c->k; i++)
		if (bpf_map_update_elem(c->fd, &c->keys[i], c->vals[i], BPF_ANY))
			return -errno;
	return 0;
}

static int setup(struct ctx *c, const struct config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->k = cfg->n < MAX_K ? cfg->n : MAX_K;
	c->vsize = cfg->spin_lock ? 24 : sizeof(struct bench_value);
	if (cfg->spin_lock) {
		c->fd = spin_lock_map(cfg->n + cfg->n / 4);
		return c->fd < 0 ? -errno : fill(c, c->k);
	}
	c->skel = bench_bpf__open();
	if (!c->skel)
		return -errno;
	bpf_map__set_type(c->skel->maps.table, cfg->type);
	bpf_map__set_map_flags(c->skel->maps.table, cfg->flags);
	/* Room to spare: an LRU map evicts before it is quite full. */
	bpf_map__set_max_entries(c->skel->maps.table, cfg->slots ?: cfg->n + cfg->n / 4);
	if (bench_bpf__load(c->skel))
		return -errno;
	c->fd = bpf_map__fd(c->skel->maps.table);
	return fill(c, c->k);
}

static void teardown(struct ctx *c)
{
	if (c->skel)
		bench_bpf__destroy(c->skel);
	else
		close(c->fd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static bool applies(const struct method *m, const struct config *cfg)
{
	return cfg->spin_lock ? m->lock_map : m->plain_map;
}

/* The module's counters on or off (its `counting` parameter). */
static int set_counting(bool on)
{
	int fd = open("/sys/module/bpfcmpdel/parameters/counting", O_WRONLY);
	int ret = fd >= 0 && write(fd, on ? "Y" : "N", 1) == 1 ? 0 : -errno;

	if (fd >= 0)
		close(fd);
	return ret;
}

static int bench_config(const struct config *cfg)
{
	static struct ctx c;
	double t[NR_METHODS][TRIALS], r[NR_METHODS][TRIALS], t0;
	size_t m, s, j;
	int trial, ret;

	ret = setup(&c, cfg);
	if (ret) {
		printf("| %s | setup failed: %s | | |\n", cfg->name, strerror(-ret));
		teardown(&c);
		return ret;
	}
	for (trial = 0; trial < TRIALS; trial++) {
		for (s = 0; s < NR_METHODS; s++) {
			m = (s + trial) % NR_METHODS;	/* each goes first in turn */
			if (!applies(&methods[m], cfg))
				continue;
			if (methods[m].uncounted && set_counting(false)) {
				printf("| %s | counters cannot be turned off | | |\n", cfg->name);
				teardown(&c);
				return -EPERM;
			}
			t0 = now_ns();
			ret = methods[m].fn(&c);
			t[m][trial] = (now_ns() - t0) / c.k;
			if (methods[m].uncounted)
				set_counting(true);
			if (ret) {
				printf("| %s | %s failed: %s | | |\n", cfg->name,
				       methods[m].name, strerror(-ret));
				teardown(&c);
				return ret;
			}
			restore(&c);
		}
	}
	printf("\n**%s, %u entries** (%u expired deleted per trial)\n\n"
	       "| method | ns/element (median) | spread | vs 1 |\n|---|---|---|---|\n",
	       cfg->name, cfg->n, c.k);
	/* Ratios within a trial first: the host's noise drifts between trials. */
	for (m = 0; m < NR_METHODS; m++) {
		if (!applies(&methods[m], cfg))
			continue;
		for (trial = 0; trial < TRIALS; trial++)
			r[m][trial] = t[m][trial] / t[0][trial];
	}
	for (m = 0; m < NR_METHODS; m++) {
		if (!applies(&methods[m], cfg))
			continue;
		qsort(t[m], TRIALS, sizeof(double), cmp_double);
		qsort(r[m], TRIALS, sizeof(double), cmp_double);
	}
	for (j = 0; j < NR_METHODS; j++) {
		if (!applies(&methods[j], cfg))
			continue;
		printf("| %s | %.0f | %.0f-%.0f | %.2fx |\n", methods[j].name,
		       t[j][TRIALS / 2], t[j][0], t[j][TRIALS - 1], r[j][TRIALS / 2]);
	}
	teardown(&c);
	return 0;
}

/* --- a whole GC pass ----------------------------------------------------- */

enum { GC_CILIUM, GC_CALICO, GC_SWEEP, GC_WALK, GC_BUCKETS, GC_GO, GC_GO_CILIUM,
       NR_GC };

static const char *const gc_names[NR_GC] = {
	"Cilium-style: `BPF_MAP_LOOKUP_BATCH` + a delete per expired key",
	"Calico-style: `bpf_for_each_map_elem()` program",
	"bpfcmpdel_gc_sweep()",
	"the walk alone: bpfcmpdel_gc_sweep() with a threshold nothing is below",
	"the sweep in bucket order (without `BPFCMPDEL_F_SWEEP_ELEMS`)",
	"`bpfcmpdel.GC()`, Go (go/bpfcmpdel on cilium/ebpf)",
	"Cilium-style on cilium/ebpf alone: `BatchLookup` + `Delete` per expired key",
};

/* Where the GC map is pinned for the Go passes, and their sub-benchmarks. */
#define GC_PIN "/sys/fs/bpf/bpfcmpdel-bench-gc"
static const char *const gc_go_names[NR_GC] = {
	[GC_GO] = "gc", [GC_GO_CILIUM] = "cilium-style",
};

static int gc_cilium(struct ctx *c)
{
	static __u32 keys[4096];
	static struct bench_value vals[4096];
	__u64 in = 0, out = 0;
	bool first = true, last = false;
	__u32 cnt, i, deleted = 0;
	int ret;

	while (!last) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		cnt = 4096;
		ret = bpf_map_lookup_batch(c->fd, first ? NULL : &in, &out, keys, vals,
					   &cnt, &o);
		if (ret && errno != ENOENT)
			return -errno;
		last = ret != 0;
		first = false;
		in = out;
		for (i = 0; i < cnt; i++)
			if (vals[i].lifetime < LIVE && !bpf_map_delete_elem(c->fd, &keys[i]))
				deleted++;
	}
	return deleted == c->expired ? 0 : -EIO;
}

/*
 * A pass by the Go test binary @go (go/bpfcmpdel/bench_test.go's
 * BenchmarkGCPinned) on the pinned map: its own clock times the pass alone,
 * not the process's start; *ms is that.  The binary checks the count.
 */
static int gc_go(struct ctx *c, const char *go, int which, double *ms)
{
	char cmd[512], line[256];
	double ns = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "BPFCMPDEL_BENCH_MAP=%s BPFCMPDEL_BENCH_EXPIRED=%u %s -test.run '^$' "
		 "-test.bench '^BenchmarkGCPinned$/^%s$' -test.benchtime 1x",
		 GC_PIN, c->expired, go, gc_go_names[which]);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "BenchmarkGCPinned/%*s %*d %lf ns/op", &ns) != 1 &&
		    getenv("BENCH_VERBOSE"))
			fputs(line, stderr);
	if (pclose(p) != 0 || ns < 0)
		return -EIO;
	*ms = ns / 1e6;
	return 0;
}

/*
 * The sweep as bpfcmpdel_gc_sweep() made it before it walked a
 * preallocated map's element array: bucket by bucket.
 */
static int gc_buckets(struct ctx *c)
{
	long n = sweep_buckets(c);

	return n < 0 ? n : n == c->expired ? 0 : -EIO;
}

static int gc_c(struct ctx *c, int which)
{
	struct bpfcmpdel_gc_stats st;
	BPFCMPDEL_GC_OPTS(o, .budget = BPFCMPDEL_SWEEP_BUDGET_MAX);
	LIBBPF_OPTS(bpf_test_run_opts, run);

	switch (which) {
	case GC_CILIUM:
		return gc_cilium(c);
	case GC_CALICO:
		c->skel->bss->threshold = LIVE;
		c->skel->bss->walked_deleted = 0;
		if (bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.walk), &run))
			return -errno;
		return c->skel->bss->walked_deleted == c->expired ? 0 : -EIO;
	case GC_BUCKETS:
		return gc_buckets(c);
	case GC_SWEEP:
		if (bpfcmpdel_gc_sweep(c->fd, 0, 8, LIVE, &st, &o))
			return -errno;
		return st.deleted == c->expired ? 0 : -EIO;
	case GC_WALK:
		/* Every GC that judges each entry reads each: this is its floor. */
		if (bpfcmpdel_gc_sweep(c->fd, 0, 8, EXPIRED, &st, &o))
			return -errno;
		/* Elements, or in element order every slot of the array. */
		return st.deleted == 0 && st.scanned >= c->cfg->n ? 0 : -EIO;
	default:
		return -EINVAL;
	}
}

/* One pass of GC @which; *ms is how long it took. */
static int gc_one(struct ctx *c, int which, double *ms)
{
	double t0 = now_ns();
	int ret;

	switch (which) {
	case GC_GO:
	case GC_GO_CILIUM:
		return gc_go(c, getenv("BENCH_GO"), which, ms);
	default:
		ret = gc_c(c, which);
		*ms = (now_ns() - t0) / 1e6;
		return ret;
	}
}

#define GC_TRIALS 7

/* What a ratio line compares: @num's time over @den's, trial by trial. */
static void gc_ratio(double t[][GC_TRIALS], int num, int den, const char *what)
{
	double r[GC_TRIALS];
	int trial;

	for (trial = 0; trial < GC_TRIALS; trial++)
		r[trial] = t[num][trial] / t[den][trial];
	qsort(r, GC_TRIALS, sizeof(double), cmp_double);
	printf("\n%s: **%.2fx** the time (median of each trial's ratio; spread %.2f-%.2fx).\n",
	       what, r[GC_TRIALS / 2], r[0], r[GC_TRIALS - 1]);
}

static void bench_gc(void)
{
	static const struct config cfg = { "LRU hash", BPF_MAP_TYPE_LRU_HASH, 0, GC_N, false, 0 };
	static struct ctx c;
	double t[NR_GC][GC_TRIALS], r[NR_GC][GC_TRIALS], sorted[GC_TRIALS];
	bool on[NR_GC] = { true, true, true, true, true };
	int g, trial, s, n = 0, act[NR_GC], ret;

	/* A tenth expired. */
	if (setup(&c, &cfg) || fill(&c, GC_N / 10))
		return;
	if (getenv("BENCH_GO")) {
		unlink(GC_PIN);
		if (bpf_obj_pin(c.fd, GC_PIN))
			printf("| Go passes | failed: pin %s: %s | |\n", GC_PIN, strerror(errno));
		else
			on[GC_GO] = on[GC_GO_CILIUM] = true;
	}
	for (g = 0; g < NR_GC; g++)
		if (on[g])
			act[n++] = g;
	for (trial = 0; trial < GC_TRIALS; trial++) {
		for (s = 0; s < n; s++) {
			g = act[(s + trial) % n];
			ret = gc_one(&c, g, &t[g][trial]);
			if (ret)
				printf("| %s | failed: %s | |\n", gc_names[g], strerror(-ret));
			fill(&c, GC_N / 10);
		}
	}
	if (on[GC_GO])
		unlink(GC_PIN);
	printf("\n**A whole GC pass: LRU hash of %u entries, %u expired**\n\n"
	       "| GC | ms (median of %d) | spread | Cilium-style's time / this |\n"
	       "|---|---|---|---|\n", GC_N, c.expired, GC_TRIALS);
	for (s = 0; s < n; s++) {
		g = act[s];
		for (trial = 0; trial < GC_TRIALS; trial++)
			r[g][trial] = t[GC_CILIUM][trial] / t[g][trial];
		memcpy(sorted, t[g], sizeof(sorted));
		qsort(sorted, GC_TRIALS, sizeof(double), cmp_double);
		qsort(r[g], GC_TRIALS, sizeof(double), cmp_double);
		printf("| %s | %.0f | %.0f-%.0f | %.2fx |\n", gc_names[g],
		       sorted[GC_TRIALS / 2], sorted[0], sorted[GC_TRIALS - 1], r[g][GC_TRIALS / 2]);
	}
	gc_ratio(t, GC_SWEEP, GC_CALICO, "The sweep against Calico's walker");
	gc_ratio(t, GC_SWEEP, GC_BUCKETS, "The sweep in element order against bucket order");
	if (on[GC_GO])
		gc_ratio(t, GC_GO, GC_SWEEP,
			 "The Go package's pass against the C library's, same map, same trials");
	teardown(&c);
}

/*
 * Two GC threads against one, on each map the element walk serves, beside
 * a loop that shares nothing (no memory, no lock): that loop's speedup is
 * what the VM's two vCPUs give at all on this host, the ceiling the GC's
 * is read against.  Two rows of LRU maps tell apart what the LRU's one
 * free list costs (its lock is taken for every element freed) from what
 * the per-CPU lists of BPF_F_NO_COMMON_LRU do.
 */
static void *spin(void *arg)
{
	volatile unsigned long x = 0;	/* kept in memory: not folded away */
	unsigned long i;

	for (i = 0; i < (unsigned long)arg; i++)
		x += i * i;
	return NULL;
}

#define SPIN_N	(64UL << 20)

static int spin_threads(int nthreads)
{
	pthread_t t;

	if (nthreads == 1) {
		spin((void *)SPIN_N);
		return 0;
	}
	if (pthread_create(&t, NULL, spin, (void *)(SPIN_N / 2)))
		return -EAGAIN;
	spin((void *)(SPIN_N / 2));
	return -pthread_join(t, NULL);
}

/* Half of the expired keys, by the kernel's own batch delete. */
struct kdel_half {
	int fd;
	__u32 *keys, n;
	int ret;
};

static void *kdel_half(void *arg)
{
	struct kdel_half *h = arg;
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 i, cnt;

	for (i = 0; i < h->n && !h->ret; i += cnt) {
		cnt = h->n - i < 4096 ? h->n - i : 4096;
		if (bpf_map_delete_batch(h->fd, h->keys + i, &cnt, &o))
			h->ret = -errno;
	}
	return NULL;
}

/*
 * The same deletions made by the kernel's BPF_MAP_DELETE_BATCH, the
 * expired keys split in two: what the map's own free path lets two
 * threads do, whoever calls it.
 */
static int kdel_threads(struct ctx *c, int nthreads)
{
	static __u32 keys[GC_N / 10 + 1];
	__u32 stride = c->cfg->n / (GC_N / 10), i;
	struct kdel_half h[2];
	pthread_t t;

	for (i = 0; i < c->expired; i++)
		keys[i] = i * stride;
	h[0] = (struct kdel_half){ c->fd, keys, c->expired, 0 };
	if (nthreads == 1) {
		kdel_half(&h[0]);
		return h[0].ret;
	}
	h[0].n = c->expired / 2;
	h[1] = (struct kdel_half){ c->fd, keys + h[0].n, c->expired - h[0].n, 0 };
	if (pthread_create(&t, NULL, kdel_half, &h[1]))
		return -EAGAIN;
	kdel_half(&h[0]);
	pthread_join(t, NULL);
	return h[0].ret ?: h[1].ret;
}

static int gc_threads(struct ctx *c, bool kernel, int nthreads)
{
	struct bpfcmpdel_gc_stats st;
	BPFCMPDEL_GC_OPTS(o, .budget = BPFCMPDEL_SWEEP_BUDGET_MAX, .threads = nthreads);

	if (!c)
		return spin_threads(nthreads);
	if (kernel)
		return kdel_threads(c, nthreads);
	if (bpfcmpdel_gc_sweep(c->fd, 0, 8, LIVE, &st, &o))
		return -errno;
	return st.deleted == c->expired ? 0 : -EIO;
}

/* Milliseconds of one run of @c's GC (NULL: the loop) on @nthreads threads. */
static int threads_time(struct ctx *c, bool kernel, int nthreads, double *ms)
{
	double t0 = now_ns();
	int ret = gc_threads(c, kernel, nthreads);

	*ms = (now_ns() - t0) / 1e6;
	return ret ?: c ? fill(c, GC_N / 10) : 0;
}

/*
 * One row: @c's map by the kernel's deletes (@kernel) or the sweep, one
 * thread and two, each trial beside the loop's own one and two: the
 * second vCPU is not always the host's to give, and the loop in the same
 * trial says how much of it there was.
 */
static void threads_row(struct ctx *c, bool kernel, const char *name)
{
	double t[2][GC_TRIALS], loop[2], r[GC_TRIALS], rel[GC_TRIALS];
	int trial, s, n, ret = 0;

	for (trial = 0; trial < GC_TRIALS && !ret; trial++) {
		for (s = 0; s < 2 && !ret; s++) {
			n = (s + trial) % 2;	/* who goes first alternates */
			ret = threads_time(NULL, false, n + 1, &loop[n]) ?:
			      threads_time(c, kernel, n + 1, &t[n][trial]);
		}
		r[trial] = t[0][trial] / t[1][trial];
		rel[trial] = r[trial] / (loop[0] / loop[1]);
	}
	if (ret) {
		printf("| %s | failed: %s | | | | |\n", name, strerror(-ret));
		return;
	}
	qsort(t[0], GC_TRIALS, sizeof(double), cmp_double);
	qsort(t[1], GC_TRIALS, sizeof(double), cmp_double);
	qsort(r, GC_TRIALS, sizeof(double), cmp_double);
	qsort(rel, GC_TRIALS, sizeof(double), cmp_double);
	printf("| %s | %.0f | %.0f | **%.2fx** | %.2f-%.2fx | %.2f |\n", name,
	       t[0][GC_TRIALS / 2], t[1][GC_TRIALS / 2], r[GC_TRIALS / 2], r[0],
	       r[GC_TRIALS - 1], rel[GC_TRIALS / 2]);
}

static void bench_threads(void)
{
	static const struct config cfgs[] = {
		{ "hash", BPF_MAP_TYPE_HASH, 0, GC_N, false, 0 },
		{ "LRU hash", BPF_MAP_TYPE_LRU_HASH, 0, GC_N, false, 0 },
		{ "LRU hash, BPF_F_NO_COMMON_LRU", BPF_MAP_TYPE_LRU_HASH,
		  BPF_F_NO_COMMON_LRU, GC_N, false, 0 },
	};
	static struct ctx c;
	char name[128];
	size_t m;

	printf("\n**Two threads against one**, %u entries, a tenth expired: "
	       "`bpfcmpdel_gc_sweep()` with `.threads = 2`, and the same keys by the "
	       "kernel's `BPF_MAP_DELETE_BATCH` split in two; the first row shares "
	       "nothing, the ceiling of what two vCPUs give here\n\n"
	       "| what | 1 thread, ms | 2 threads, ms | speedup (median of each trial's) "
	       "| spread | of the loop's in the same trial |\n|---|---|---|---|---|---|\n",
	       GC_N);
	threads_row(NULL, false, "a loop sharing nothing (the ceiling)");
	for (m = 0; m < sizeof(cfgs) / sizeof(cfgs[0]); m++) {
		if (setup(&c, &cfgs[m]) || fill(&c, GC_N / 10)) {
			printf("| %s | setup failed | | | | |\n", cfgs[m].name);
			continue;
		}
		snprintf(name, sizeof(name), "%s: the sweep", cfgs[m].name);
		threads_row(&c, false, name);
		snprintf(name, sizeof(name), "%s: `BPF_MAP_DELETE_BATCH`", cfgs[m].name);
		threads_row(&c, true, name);
		teardown(&c);
	}
}

/*
 * A sparsely filled map: the element walk reads every slot of the array,
 * the bucket walk every bucket head and only the elements there are; the
 * library takes the element walk whatever the fill.  GC_N / 10 entries in
 * a map of GC_N and a quarter slots, a tenth of them expired.
 */
static void bench_sparse(void)
{
	static const struct config cfgs[] = {
		{ "hash", BPF_MAP_TYPE_HASH, 0, GC_N / 10, false, GC_N + GC_N / 4 },
		{ "LRU hash", BPF_MAP_TYPE_LRU_HASH, 0, GC_N / 10, false, GC_N + GC_N / 4 },
	};
	static const int gcs[2] = { GC_SWEEP, GC_BUCKETS };
	double t[2][GC_TRIALS], r[GC_TRIALS];
	static struct ctx c;
	int trial, s, g, ret = 0;
	size_t m;

	printf("\n**A sparse map**: %u entries in %u slots, a tenth expired: "
	       "`bpfcmpdel_gc_sweep()` in element order against the bucket order\n\n"
	       "| map | element order, ms | bucket order, ms | element / bucket "
	       "(median of each trial's) | spread |\n|---|---|---|---|---|\n",
	       GC_N / 10, GC_N + GC_N / 4);
	for (m = 0; m < sizeof(cfgs) / sizeof(cfgs[0]); m++) {
		if (setup(&c, &cfgs[m]) || fill(&c, cfgs[m].n / 10)) {
			printf("| %s | setup failed | | | |\n", cfgs[m].name);
			continue;
		}
		for (trial = 0; trial < GC_TRIALS && !ret; trial++)
			for (s = 0; s < 2 && !ret; s++) {
				g = (s + trial) % 2;	/* who goes first alternates */
				ret = gc_one(&c, gcs[g], &t[g][trial]) ?:
				      fill(&c, cfgs[m].n / 10);
			}
		teardown(&c);
		if (ret) {
			printf("| %s | failed: %s | | | |\n", cfgs[m].name, strerror(-ret));
			ret = 0;
			continue;
		}
		for (trial = 0; trial < GC_TRIALS; trial++)
			r[trial] = t[0][trial] / t[1][trial];
		qsort(t[0], GC_TRIALS, sizeof(double), cmp_double);
		qsort(t[1], GC_TRIALS, sizeof(double), cmp_double);
		qsort(r, GC_TRIALS, sizeof(double), cmp_double);
		printf("| %s | %.1f | %.1f | **%.2fx** | %.2f-%.2fx |\n", cfgs[m].name,
		       t[0][GC_TRIALS / 2], t[1][GC_TRIALS / 2], r[GC_TRIALS / 2], r[0],
		       r[GC_TRIALS - 1]);
	}
}

/*
 * The GC pass against the map's size: Cilium's, Calico's and the sweep's
 * on hash and LRU maps of each size in @sizes, a tenth expired, median of
 * CURVE_TRIALS; one "@@CURVE map entries method ms" line per point, for
 * the plot, and a table of ns per entry.
 */
#define CURVE_TRIALS 3

/*
 * What the platform charges for one read at a random address in a buffer
 * the size of a map's bucket array (buckets of 16 bytes, as many as
 * hashtab.c makes for @n entries and a quarter to spare), mapped in 4 KiB
 * pages as the kernel's vmalloc() maps a map's memory (no huge pages:
 * under TCG every page missed costs a walk of the guest's page tables):
 * every deletion has to read (and lock) its bucket, so this, once per
 * deleted entry, is a floor under what a GC pass pays that grows with the
 * map.  Each read's address depends on the last read's value, so none
 * overlap; a first pass warms what it can (caches, QEMU's TLB).  ns per
 * read, of the second pass.
 */
static double random_read_ns(__u32 n)
{
	__u64 x = 88172645463325252ULL, v = 0, *buf;
	size_t words = 2, i, reads = 1U << 20, len;
	double t0 = 0, t1 = 0;
	int pass;

	while (words < 2 * (size_t)(n + n / 4))
		words <<= 1;
	len = words * sizeof(*buf);
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	madvise(buf, len, MADV_NOHUGEPAGE);
	memset(buf, 0, len);	/* real pages, not the zero page */
	for (pass = 0; pass < 2; pass++) {
		t0 = now_ns();
		for (i = 0; i < reads; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v = buf[(x + v) & (words - 1)];
		}
		t1 = now_ns();
	}
	munmap(buf, len);
	return v ? -1 : (t1 - t0) / reads;
}

static void bench_curve(const __u32 *sizes, __u32 nsizes)
{
	static const int methods[] = { GC_CILIUM, GC_CALICO, GC_SWEEP, GC_WALK };
	static const char *const names[] = { "cilium", "calico", "sweep", "walk" };
	static const struct {
		const char *name, *label;
		enum bpf_map_type type;
	} maps[] = {
		{ "hash", "hash", BPF_MAP_TYPE_HASH },
		{ "lru", "LRU hash", BPF_MAP_TYPE_LRU_HASH },
	};
	double t[CURVE_TRIALS], ms[2][8][4], rd[8];
	struct config cfg = {};
	static struct ctx c;
	__u32 m, i, g, trial;

	for (i = 0; i < nsizes; i++)
		rd[i] = random_read_ns(sizes[i]);
	for (m = 0; m < 2; m++) {
		cfg = (struct config){ maps[m].label, maps[m].type, 0, 0, false, 0 };
		for (i = 0; i < nsizes; i++) {
			cfg.n = sizes[i];
			if (setup(&c, &cfg) || fill(&c, cfg.n / 10)) {
				printf("@@CURVE %s %u setup failed@@\n", maps[m].name, cfg.n);
				return;
			}
			for (g = 0; g < 4; g++) {
				for (trial = 0; trial < CURVE_TRIALS; trial++) {
					if (gc_one(&c, methods[g], &t[trial]))
						t[trial] = -1;
					fill(&c, cfg.n / 10);
				}
				qsort(t, CURVE_TRIALS, sizeof(double), cmp_double);
				ms[m][i][g] = t[CURVE_TRIALS / 2];
				printf("@@CURVE %s %u %s %.1f\n", maps[m].name, cfg.n, names[g],
				       ms[m][i][g]);
			}
			teardown(&c);
		}
	}
	printf("\n**A GC pass against the map's size**, a tenth expired: ns per entry "
	       "(median of %d); the walk alone is the sweep with nothing expired; the "
	       "last column is one read at a random address in a buffer the size of "
	       "the map's bucket array, ns (a deletion's floor)\n\n"
	       "| map | entries | Cilium-style | Calico-style | bpfcmpdel_gc_sweep() "
	       "| the walk alone | a random read |\n|---|---|---|---|---|---|---|\n",
	       CURVE_TRIALS);
	for (m = 0; m < 2; m++)
		for (i = 0; i < nsizes; i++)
			printf("| %s | %u | %.0f | %.0f | %.0f | %.0f | %.0f |\n", maps[m].label,
			       sizes[i], ms[m][i][0] * 1e6 / sizes[i],
			       ms[m][i][1] * 1e6 / sizes[i], ms[m][i][2] * 1e6 / sizes[i],
			       ms[m][i][3] * 1e6 / sizes[i], rd[i]);
}

/* Tells `perf record --control` to "enable" or "disable", and waits. */
static void perf_control(const char *what)
{
	static int ctl = -2, ack = -1;
	char buf[8];

	if (ctl == -2) {
		const char *c = getenv("BENCH_PERF_CTL"), *a = getenv("BENCH_PERF_ACK");

		ctl = c ? open(c, O_WRONLY | O_CLOEXEC) : -1;
		ack = a ? open(a, O_RDONLY | O_CLOEXEC) : -1;
	}
	if (ctl < 0 || ack < 0)
		return;
	if (write(ctl, what, strlen(what)) < 0 || read(ack, buf, sizeof(buf)) < 0)
		fprintf(stderr, "bench: perf control: %s\n", strerror(errno));
}

/*
 * What the profiler can ask for: the GC passes, and 8192 single deletes
 * of expired keys by each interface (put back after each pass).
 */
static const struct {
	const char *name;
	int gc;			/* a GC pass, or -1 */
	method_fn single;
	const char *what;
} passes[] = {
	{ "cilium", GC_CILIUM, NULL, NULL }, { "calico", GC_CALICO, NULL, NULL },
	{ "sweep", GC_SWEEP, NULL, NULL }, { "walk", GC_WALK, NULL, NULL },
	{ "buckets", GC_BUCKETS, NULL, NULL },
	{ "delete", -1, m_delete, "8192 BPF_MAP_DELETE_ELEM" },
	{ "cmpdel", -1, m_cmpdel, "8192 bpfcmpdel_delete()" },
	{ "batch", -1, m_batch1024, "8192 by bpfcmpdel_delete_batch(), 1024 a call" },
};

static int profile_gc(const char *name, int rounds)
{
	static const struct config cfg = { "LRU hash", BPF_MAP_TYPE_LRU_HASH, 0, GC_N, false, 0 };
	static struct ctx c;
	size_t p, n = sizeof(passes) / sizeof(passes[0]);
	int r, ret = 0;

	for (p = 0; p < n && strcmp(name, passes[p].name); p++)
		;
	if (p == n || rounds < 1) {
		fprintf(stderr, "usage: cmpdel_bench --gc PASS [ROUNDS], PASS one of:");
		for (p = 0; p < n; p++)
			fprintf(stderr, " %s", passes[p].name);
		fprintf(stderr, "\n");
		return 2;
	}
	ret = setup(&c, &cfg) ?: fill(&c, GC_N / 10);
	for (r = 0; r < rounds && !ret; r++) {
		double t0 = now_ns(), t1;

		perf_control("enable\n");
		ret = passes[p].gc >= 0 ? gc_c(&c, passes[p].gc) : passes[p].single(&c);
		perf_control("disable\n");
		t1 = now_ns();
		printf("# %s pass %d: %.2f ms (%s)\n", name, r + 1, (t1 - t0) / 1e6,
		       passes[p].gc >= 0 ? gc_names[passes[p].gc] : passes[p].what);
		if (!ret)
			ret = passes[p].gc >= 0 ? fill(&c, GC_N / 10) : restore(&c);
	}
	if (ret)
		fprintf(stderr, "bench: %s: %s\n", name, strerror(-ret));
	teardown(&c);
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const __u32 default_sizes[] = { 1024, 65536, 1U << 20 };
	__u32 sizes[8], nsizes = 0, i;
	struct utsname u;

	if (argc > 1 && !strcmp(argv[1], "--gc"))
		return profile_gc(argc > 2 ? argv[2] : "", argc > 3 ? atoi(argv[3]) : 3);
	if (argc > 1 && !strcmp(argv[1], "--sparse")) {
		printf("@@BENCH-BEGIN@@\n");
		bench_sparse();
		printf("@@BENCH-END@@\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--threads")) {
		printf("@@BENCH-BEGIN@@\n");
		bench_threads();
		printf("@@BENCH-END@@\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--curve")) {
		for (i = 2; i < (__u32)argc && nsizes < 8; i++)
			sizes[nsizes++] = strtoul(argv[i], NULL, 0);
		if (!getenv("BENCH_VERBOSE"))
			libbpf_set_print(NULL);
		printf("@@BENCH-BEGIN@@\n");
		bench_curve(sizes, nsizes);
		printf("@@BENCH-END@@\n");
		return 0;
	}
	for (i = 1; i < (__u32)argc && nsizes < 8; i++)
		sizes[nsizes++] = strtoul(argv[i], NULL, 0);
	if (!nsizes) {
		memcpy(sizes, default_sizes, sizeof(default_sizes));
		nsizes = 3;
	}
	if (!getenv("BENCH_VERBOSE"))
		libbpf_set_print(NULL);
	uname(&u);
	printf("@@BENCH-BEGIN@@\nMeasured by `make bench` on Linux %s (%s), under QEMU's software\n"
	       "emulation (TCG): absolute times mean little, ratios within one table\n"
	       "are the result. Median of %d trials; methods take turns going first;\n"
	       "\"vs 1\" is the median of each trial's ratio to row 1 in that trial.\n%s",
	       u.release, u.version, TRIALS,
	       getenv("BENCH_ICOUNT") ?
	       "The guest's clock is QEMU's `-icount` (1 ns per instruction executed):\n"
	       "every time here is an instruction count, the same run to run however\n"
	       "busy the host, and blind to memory stalls.\n" : "");
	for (i = 0; i < nsizes; i++) {
		const struct config cfgs[] = {
			{ "hash", BPF_MAP_TYPE_HASH, 0, sizes[i], false, 0 },
			{ "hash, BPF_F_NO_PREALLOC", BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC,
			  sizes[i], false, 0 },
			{ "LRU hash", BPF_MAP_TYPE_LRU_HASH, 0, sizes[i], false, 0 },
		};

		for (size_t j = 0; j < sizeof(cfgs) / sizeof(cfgs[0]); j++)
			bench_config(&cfgs[j]);
	}
	bench_config(&(struct config){ "hash with a bpf_spin_lock (lock mode)",
				       BPF_MAP_TYPE_HASH, 0, 65536, true, 0 });
	bench_gc();
	bench_sparse();
	/* Two threads only where two CPUs can run them (not under -icount). */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		bench_threads();
	printf("@@BENCH-END@@\n");
	return 0;
}
