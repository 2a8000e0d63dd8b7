// SPDX-License-Identifier: GPL-2.0
/*
 * What compare-and-delete costs a GC, next to what it does today: for each
 * map flavour, alternate rounds of lookup + BPF_MAP_DELETE_ELEM and lookup
 * + compare-delete over the same elements, and print the ratio of the
 * medians.  Absolute times under emulation mean little; the ratio is the
 * result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#define ELEMS 2000
#define ROUNDS 15

struct flavour {
	const char *name;
	enum bpf_map_type type;
	__u32 flags;
};

static const struct flavour flavours[] = {
	{ "hash", BPF_MAP_TYPE_HASH, 0 },
	{ "hash (no prealloc)", BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC },
	{ "lru_hash", BPF_MAP_TYPE_LRU_HASH, 0 },
	{ "percpu_hash", BPF_MAP_TYPE_PERCPU_HASH, 0 },
};

struct ct_entry {
	__u64 packets;
	__u64 last_seen;
	__u64 pad[2];
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int fill(int fd, struct ct_entry *v, __u32 slots)
{
	__u32 k, s;

	for (k = 0; k < ELEMS; k++) {
		for (s = 0; s < slots; s++)
			v[s].last_seen = k;
		if (bpf_map_update_elem(fd, &k, v, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

/* ns per element for one GC pass: snapshot, then delete by one means. */
static double gc_pass(int fd, struct ct_entry *snap, bool compare)
{
	double t0 = now_ns();
	__u32 k;
	int err;

	for (k = 0; k < ELEMS; k++) {
		if (bpf_map_lookup_elem(fd, &k, snap))
			return -1;
		err = compare ? bpfcmpdel_delete_snapshot(fd, &k, snap,
						offsetof(struct ct_entry, last_seen),
						sizeof(__u64), NULL)
			      : bpf_map_delete_elem(fd, &k);
		if (err)
			return -1;
	}
	return (now_ns() - t0) / ELEMS;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bench(const struct flavour *f, __u32 ncpus)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = f->flags);
	__u32 slots = f->type == BPF_MAP_TYPE_PERCPU_HASH ? ncpus : 1;
	double plain[ROUNDS], cmpdel[ROUNDS];
	struct ct_entry *v = calloc(slots, sizeof(*v));
	int fd, r;

	fd = bpf_map_create(f->type, "bench", sizeof(__u32), sizeof(*v),
			    ELEMS * 2, &opts);
	if (fd < 0 || !v)
		return -1;
	/* Side by side: each round runs both, in alternating order. */
	for (r = 0; r < ROUNDS; r++) {
		bool cmp_first = r & 1;

		double first, second;

		if (fill(fd, v, slots))
			return -1;
		first = gc_pass(fd, v, cmp_first);
		if (fill(fd, v, slots))
			return -1;
		second = gc_pass(fd, v, !cmp_first);
		plain[r] = cmp_first ? second : first;
		cmpdel[r] = cmp_first ? first : second;
		if (plain[r] < 0 || cmpdel[r] < 0)
			return -1;
	}
	qsort(plain, ROUNDS, sizeof(double), cmp_double);
	qsort(cmpdel, ROUNDS, sizeof(double), cmp_double);
	printf("%-20s %12.0f %14.0f %8.2fx\n", f->name, plain[ROUNDS / 2],
	       cmpdel[ROUNDS / 2], cmpdel[ROUNDS / 2] / plain[ROUNDS / 2]);
	close(fd);
	free(v);
	return 0;
}

int main(void)
{
	int ncpus = libbpf_num_possible_cpus();
	size_t i;

	printf("GC pass per element, median of %d rounds of %d elements\n",
	       ROUNDS, ELEMS);
	printf("%-20s %12s %14s %9s\n", "map", "lookup+delete", "lookup+cmpdel",
	       "ratio");
	for (i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++) {
		if (bench(&flavours[i], ncpus)) {
			fprintf(stderr, "bench %s: %s\n", flavours[i].name, strerror(errno));
			return 1;
		}
	}
	return 0;
}
