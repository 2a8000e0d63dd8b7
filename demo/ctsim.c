// SPDX-License-Identifier: GPL-2.0
/* See ctsim.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "ct.h"
#include "ct.skel.h"
#include "ct_gc.skel.h"
#include "ctsim.h"

#define NOW		1000000ULL
#define TOMBSTONE	(~0ULL)
#define BATCH		1024

const char *const ctsim_gc_names[NR_CTSIM_GC] = {
	[CTSIM_GC_DELETE]	= "(a) snapshot + BPF_MAP_DELETE_ELEM",
	[CTSIM_GC_CMPDEL]	= "(b) compare-and-delete",
	[CTSIM_GC_LOCK]		= "(c) lock mode, datapath locks",
	[CTSIM_GC_TOMBSTONE]	= "(d) tombstone mode, datapath CAS",
	[CTSIM_GC_BPF_DELETE]	= "(e) BPF prog: bpf_map_delete_elem()",
	[CTSIM_GC_BPF_KFUNC]	= "(f) BPF prog: kfunc, tombstone, CAS",
	[CTSIM_GC_BPF_SWEEP]	= "(g) BPF prog: sweep kfunc, tombstone",
};

char ctsim_why[256];

const char *const ctsim_method =
	"live flows wrongly deleted: flows whose revive the datapath completed\n"
	"(recorded by the BPF program in a map the GC never touches) and that are\n"
	"absent from the CT map after the run. A revive landing after the GC's\n"
	"delete re-creates the flow, so it is not counted; only refreshes the\n"
	"GC destroyed are.";

struct ctsim {
	struct ct_bpf *skel;
	struct ct_gc_bpf *gc_skel;	/* (e), (f), (g): the GC's program */
	int gc_prog;
	int map_fd;
	const struct ctsim_config *cfg;
	struct ct_key *revive;	/* the idle flows the datapath revives */
	pthread_barrier_t start;
	__u32 revived[64];
	int errors;
};

static struct ct_key flow_key(__u32 i)
{
	struct ct_key k = {
		.saddr = 0x0a000000 | i, .daddr = 0x0a800000 | (i * 7919),
		.sport = (__u16)(1024 + i), .dport = 443, .proto = 6,
	};
	return k;
}

/* Even flows are live, odd ones idle (expired a while ago). */
static __u64 initial_lifetime(__u32 i)
{
	return i % 2 ? NOW - 1 - i : NOW + CT_TTL;
}

static int populate(struct ctsim *s, enum ctsim_gc gc)
{
	struct ct_locked_entry le = {};
	struct ct_entry e = {};
	struct ct_key k;
	__u32 i;

	for (i = 0; i < s->cfg->flows; i++) {
		k = flow_key(i);
		e.lifetime = le.lifetime = initial_lifetime(i);
		if (bpf_map_update_elem(s->map_fd, &k,
					gc == CTSIM_GC_LOCK ? (void *)&le : (void *)&e,
					BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

/* @revive idle flows, in an order of their own (fixed by the seed). */
static int pick_revive(struct ctsim *s)
{
	__u32 n = s->cfg->revive, idle = s->cfg->flows / 2, i, j, t;
	unsigned int seed = s->cfg->seed;
	__u32 *order;

	if (n > idle)
		return -EINVAL;
	order = calloc(idle, sizeof(*order));
	s->revive = calloc(n, sizeof(*s->revive));
	if (!order || !s->revive) {
		free(order);
		return -ENOMEM;
	}
	for (i = 0; i < idle; i++)
		order[i] = 2 * i + 1;
	for (i = 0; i < n; i++) {
		j = i + rand_r(&seed) % (idle - i);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
		s->revive[i] = flow_key(order[i]);
	}
	free(order);
	return 0;
}

struct dp_arg {
	struct ctsim *s;
	__u32 id;
};

static void *datapath_thread(void *arg)
{
	struct dp_arg *a = arg;
	struct ctsim *s = a->s;
	struct ct_packet pkt = { .now = NOW };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &pkt,
		    .data_size_in = sizeof(pkt));
	int fd = bpf_program__fd(s->skel->progs.datapath);
	__u32 i;

	pthread_barrier_wait(&s->start);
	for (i = a->id; i < s->cfg->revive; i += s->cfg->threads) {
		pkt.key = s->revive[i];
		if (bpf_prog_test_run_opts(fd, &run) || run.retval != XDP_PASS)
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		else
			s->revived[a->id]++;
	}
	return NULL;
}

/* (e), (f): the GC's program deletes @k, the flow @life was seen with. */
static int gc_bpf_delete(struct ctsim *s, const struct ct_key *k, __u64 life)
{
	struct ct_gc_args args = { .key = *k, .lifetime = life, .tombstone = TOMBSTONE };
	/* A syscall program's context is copied back over ctx_in. */
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &args,
		    .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(s->gc_prog, &run))
		return -errno;
	return args.result;
}

static int gc_delete(struct ctsim *s, enum ctsim_gc gc, const struct ct_key *k,
		     const void *snap)
{
	const __u64 *life = snap;	/* lifetime leads both value types */
	BPFCMPDEL_OPTS(opts);

	switch (gc) {
	case CTSIM_GC_DELETE:
		return bpf_map_delete_elem(s->map_fd, k) ? -errno : 0;
	case CTSIM_GC_BPF_DELETE:
	case CTSIM_GC_BPF_KFUNC:
		return gc_bpf_delete(s, k, *life);
	case CTSIM_GC_LOCK:
		opts.flags = BPFCMPDEL_F_LOCK;
		break;
	case CTSIM_GC_TOMBSTONE:
		opts.flags = BPFCMPDEL_F_TOMBSTONE;
		opts.tombstone = TOMBSTONE;
		break;
	default:
		break;
	}
	return bpfcmpdel_delete(s->map_fd, k, life, 0, sizeof(*life), &opts);
}

/* "available: ..." in the module's kfuncs file, or why not in @ctsim_why. */
static bool kfuncs_available(void)
{
	FILE *f = fopen("/sys/class/misc/bpfcmpdel/kfuncs", "r");
	bool ok = false;

	snprintf(ctsim_why, sizeof(ctsim_why), "no module loaded");
	if (f) {
		if (fgets(ctsim_why, sizeof(ctsim_why), f))
			ctsim_why[strcspn(ctsim_why, "\n")] = '\0';
		ok = !strncmp(ctsim_why, "available", 9);
		fclose(f);
	}
	return ok;
}

/* (e), (f), (g): the GC's program, each its own. */
static struct bpf_program *gc_prog_of(struct ct_gc_bpf *skel, enum ctsim_gc gc)
{
	switch (gc) {
	case CTSIM_GC_BPF_KFUNC:
		return skel->progs.gc_kfunc_tombstone;
	case CTSIM_GC_BPF_SWEEP:
		return skel->progs.gc_kfunc_sweep;
	default:
		return skel->progs.gc_map_delete;
	}
}

/*
 * (e), (f), (g): the GC's program, on the datapath's map.  Only that one
 * is loaded: (e)'s calls no kfunc, so it runs where there are none.
 */
static int gc_prog_load(struct ctsim *s, enum ctsim_gc gc)
{
	struct bpf_program *prog, *mine;
	int err;

	s->gc_skel = ct_gc_bpf__open();
	if (!s->gc_skel)
		return -errno;
	mine = gc_prog_of(s->gc_skel, gc);
	bpf_object__for_each_program(prog, s->gc_skel->obj)
		bpf_program__set_autoload(prog, prog == mine);
	/* Where no kfunc takes a map (6.1), a handle names it. */
	s->gc_skel->rodata->gc_by_handle = gc != CTSIM_GC_BPF_DELETE &&
					   !strstr(ctsim_why, " delete ");
	err = bpf_map__reuse_fd(s->gc_skel->maps.ct_lru, s->map_fd) ?:
	      ct_gc_bpf__load(s->gc_skel);
	if (!err && s->gc_skel->rodata->gc_by_handle)
		err = bpfcmpdel_handle_new(s->map_fd, &s->gc_skel->bss->ct_handle);
	if (err) {
		fprintf(stderr, "ctsim: loading ct_gc.bpf.o: %s\n", strerror(-err));
		return err;
	}
	s->gc_prog = bpf_program__fd(mine);
	return 0;
}

static void tally(struct ctsim_result *res, int ret)
{
	if (!ret)
		res->deleted++;
	else if (ret == -EBUSY)
		res->kept++;
	else if (ret == -ENOENT)
		res->gone++;
	else
		res->other++;
}

/* The GC: a batch snapshot of the whole map, then deletes of the expired. */
static int gc_pass(struct ctsim *s, enum ctsim_gc gc, struct ctsim_result *res)
{
	size_t vsize = gc == CTSIM_GC_LOCK ? sizeof(struct ct_locked_entry) :
					     sizeof(struct ct_entry);
	__u32 cap = s->cfg->flows, n = 0, count, i;
	struct ct_key *keys = calloc(cap, sizeof(*keys));
	char *vals = calloc(cap, vsize);
	__u64 in_batch = 0, out_batch;
	void *in = NULL;
	int ret = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	do {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		count = cap - n < BATCH ? cap - n : BATCH;
		ret = bpf_map_lookup_batch(s->map_fd, in, &out_batch, keys + n,
					   vals + n * vsize, &count, &bo);
		n += count;
		in_batch = out_batch;
		in = &in_batch;
	} while (!ret && n < cap);
	if (ret && errno != ENOENT) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	res->scanned = n;

	/* The datapath starts reviving as the GC starts deleting. */
	pthread_barrier_wait(&s->start);
	for (i = 0; i < n; i++) {
		const void *snap = vals + i * vsize;
		int err;

		if (*(const __u64 *)snap >= NOW)
			continue;
		res->expired++;
		/* -EAGAIN: the bucket lock was not taken, nothing changed; retry. */
		do
			err = gc_delete(s, gc, &keys[i], snap);
		while (err == -EAGAIN);
		tally(res, err);
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/* Whether @k is one of the flows populate() made idle (odd numbers). */
static bool flow_was_idle(const struct ct_key *k)
{
	return k->saddr & 1;
}

/*
 * (g): no snapshot.  The sweep kfunc, from a program run until its cursor
 * says the map is done; the keys each run deleted are checked to be idle
 * flows, never a live one.  Every idle flow it did not delete, it kept:
 * revived before the sweep got to it, or as it did.
 */
static int gc_sweep_pass(struct ctsim *s, struct ctsim_result *res)
{
	struct ct_sweep_args args = { .now = NOW, .tombstone = TOMBSTONE };
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &args,
		    .ctx_size_in = sizeof(args));
	int err = 0;
	__u32 i;

	/* The datapath starts reviving as the GC starts; past this, 0. */
	pthread_barrier_wait(&s->start);
	while (args.cursor != BPFCMPDEL_SWEEP_END) {
		if (bpf_prog_test_run_opts(s->gc_prog, &run)) {
			err = -errno;
			break;
		}
		/* -EAGAIN: not even the first bucket's lock taken; again. */
		if (args.result && args.result != -EAGAIN) {
			err = args.result;
			break;
		}
		res->scanned += args.scanned;
		res->deleted += args.deleted;
		for (i = 0; i < args.deleted; i++)
			if (!flow_was_idle(&s->gc_skel->bss->sweep_keys[i]))
				res->other++;
	}
	if (err) {
		fprintf(stderr, "ctsim: the sweep failed: %s\n", strerror(-err));
		res->other++;
	}
	res->expired = s->cfg->flows / 2;
	res->kept = res->expired - res->deleted;
	return 0;
}

static void count_lost(struct ctsim *s, enum ctsim_gc gc, struct ctsim_result *res)
{
	int refreshed = bpf_map__fd(s->skel->maps.refreshed);
	struct ct_locked_entry v;
	__u64 life;
	__u32 i;

	for (i = 0; i < s->cfg->revive; i++) {
		if (bpf_map_lookup_elem(refreshed, &s->revive[i], &life))
			continue;
		if (bpf_map_lookup_elem(s->map_fd, &s->revive[i], &v))
			res->lost++;
	}
	for (i = 0; i < s->cfg->threads; i++)
		res->revived += s->revived[i];
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int ctsim_run(enum ctsim_gc gc, const struct ctsim_config *cfg,
	      struct ctsim_result *res)
{
	struct dp_arg args[64];
	pthread_t tids[64];
	struct ctsim s = { .cfg = cfg };
	double t0;
	__u32 i;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!cfg->threads || cfg->threads > 64 || cfg->flows > CT_MAX_FLOWS)
		return -EINVAL;
	if ((gc == CTSIM_GC_BPF_KFUNC || gc == CTSIM_GC_BPF_SWEEP) &&
	    !kfuncs_available())
		return -EOPNOTSUPP;
	s.skel = ct_bpf__open_and_load();
	if (!s.skel) {
		fprintf(stderr, "ctsim: loading ct.bpf.o: %s\n", strerror(errno));
		return -errno;
	}
	s.skel->bss->mode = gc == CTSIM_GC_LOCK ? CT_LOCK :
			    gc == CTSIM_GC_TOMBSTONE || gc == CTSIM_GC_BPF_KFUNC ||
			    gc == CTSIM_GC_BPF_SWEEP ? CT_CAS : CT_PLAIN;
	s.skel->bss->tombstone = TOMBSTONE;
	s.map_fd = gc == CTSIM_GC_LOCK ? bpf_map__fd(s.skel->maps.ct_locked) :
					 bpf_map__fd(s.skel->maps.ct_lru);
	ret = populate(&s, gc) ?: pick_revive(&s);
	if (!ret && gc >= CTSIM_GC_BPF_DELETE)
		ret = gc_prog_load(&s, gc);
	if (ret)
		goto out;
	ret = pthread_barrier_init(&s.start, NULL, cfg->threads + 1);
	if (ret) {
		ret = -ret;
		goto out;
	}
	for (i = 0; i < cfg->threads; i++) {
		args[i] = (struct dp_arg){ .s = &s, .id = i };
		pthread_create(&tids[i], NULL, datapath_thread, &args[i]);
	}
	t0 = now_seconds();
	ret = gc == CTSIM_GC_BPF_SWEEP ? gc_sweep_pass(&s, res) : gc_pass(&s, gc, res);
	if (ret)	/* the threads still wait for the GC to start */
		pthread_barrier_wait(&s.start);
	for (i = 0; i < cfg->threads; i++)
		pthread_join(tids[i], NULL);
	res->seconds = now_seconds() - t0;
	pthread_barrier_destroy(&s.start);
	count_lost(&s, gc, res);
	if (s.errors) {
		fprintf(stderr, "ctsim: %d datapath runs failed\n", s.errors);
		ret = ret ?: -EIO;
	}
out:
	free(s.revive);
	if (s.gc_skel && s.gc_skel->bss->ct_handle)
		bpfcmpdel_handle_free(s.gc_skel->bss->ct_handle);
	ct_gc_bpf__destroy(s.gc_skel);
	ct_bpf__destroy(s.skel);
	return ret;
}
