// SPDX-License-Identifier: GPL-2.0
/*
 * stress [SECONDS]: everything at once, for a fixed time -- the conntrack
 * scenario in tombstone mode (a BPF datapath refreshing by CAS while a GC
 * compare-deletes), sweeps and batched compare-deletes racing updaters on
 * shared maps, and maps created and closed while requests on them are in
 * flight (the last fd closed under a running ioctl).  Then the invariants:
 * no refresh lost in tombstone mode, and every shared map's element
 * accounting intact (emptied, it takes exactly max_entries again).
 * Prints TAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "ctsim.h"

#define SHARED_MAX 2048

static atomic_bool stop;
static atomic_ulong ct_runs, ct_lost, sweeps, batches, updates, churns, unexpected;

struct shared {
	int fd;
	enum bpf_map_type type;
	__u32 flags;
};

static struct shared shared[] = {
	{ .type = BPF_MAP_TYPE_HASH },
	{ .type = BPF_MAP_TYPE_HASH, .flags = BPF_F_NO_PREALLOC },
	{ .type = BPF_MAP_TYPE_LRU_HASH },
};
#define NSHARED (sizeof(shared) / sizeof(shared[0]))

/* Counts @ret if it is none of the answers allowed there; says the first few. */
static void note(const char *what, int ret, int ok1, int ok2, int ok3)
{
	if (!ret || ret == ok1 || ret == ok2 || ret == ok3)
		return;
	if (atomic_fetch_add(&unexpected, 1) < 5)
		printf("# unexpected: %s answered %d (%s)\n", what, ret, strerror(-ret));
}

static void *ct_thread(void *arg)
{
	const struct ctsim_config cfg = {
		.flows = 4000, .revive = 1000, .threads = 2, .seed = 11,
	};
	struct ctsim_result r;

	while (!atomic_load(&stop)) {
		if (ctsim_run(CTSIM_GC_TOMBSTONE, &cfg, &r) || r.other) {
			note("a conntrack run", -EIO, 0, 0, 0);
			continue;
		}
		atomic_fetch_add(&ct_lost, r.lost);
		atomic_fetch_add(&ct_runs, 1);
	}
	return NULL;
}

static void *updater_thread(void *arg)
{
	unsigned int seed = 3;
	__u64 v[2];
	__u32 key;
	size_t m;
	int ret;

	while (!atomic_load(&stop)) {
		m = rand_r(&seed) % NSHARED;
		key = rand_r(&seed) % (SHARED_MAX / 2);
		v[0] = rand_r(&seed) % 1000;
		v[1] = key;
		/*
		 * The kernel's own update, not this module's answer: the map
		 * full, its resilient bucket lock (6.15+) giving up under
		 * contention, or (no-prealloc maps, seen on PREEMPT_RT) its
		 * bpf_mem_alloc cache empty until its refill runs.
		 */
		ret = bpf_map_update_elem(shared[m].fd, &key, v, BPF_ANY) ? -errno : 0;
		if (ret != -EDEADLK && ret != -ETIMEDOUT)
			note("an update", ret, -E2BIG, -EBUSY, -ENOMEM);
		atomic_fetch_add(&updates, 1);
	}
	return NULL;
}

static void *gc_thread(void *arg)
{
	__u32 keys[256], nr, i, count;
	__u64 exp[256], cursor;
	__s32 res[256];
	unsigned int seed = 5;
	size_t m;

	while (!atomic_load(&stop)) {
		m = rand_r(&seed) % NSHARED;
		if (rand_r(&seed) % 2) {
			BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = 256,
					     .budget = 64);

			for (cursor = 0; cursor != BPFCMPDEL_SWEEP_END;) {
				int ret = bpfcmpdel_sweep(shared[m].fd, &cursor, 0, 8, 300,
							  &nr, &so);

				note("a sweep", ret, -EAGAIN, 0, 0);
				if (ret && ret != -EAGAIN)
					break;
			}
			atomic_fetch_add(&sweeps, 1);
			continue;
		}
		for (i = 0; i < 256; i++) {
			keys[i] = rand_r(&seed) % (SHARED_MAX / 2);
			exp[i] = rand_r(&seed) % 1000;
		}
		count = 256;
		note("a batch", bpfcmpdel_delete_batch(shared[m].fd, keys, exp, res, &count,
						       0, 8, NULL), 0, 0, 0);
		for (i = 0; i < count; i++)
			note("a batch element", res[i], -ENOENT, -EBUSY, -EAGAIN);
		atomic_fetch_add(&batches, 1);
	}
	return NULL;
}

struct churn {
	int fd;
	atomic_bool go;
};

/* Requests on a map whose last fd its owner closes meanwhile. */
static void *churn_requester(void *arg)
{
	struct churn *c = arg;
	__u32 keys[64], i, count;
	__u64 exp[64] = {};
	__s32 res[64];

	for (i = 0; i < 64; i++)
		keys[i] = i;
	while (!atomic_load(&c->go))
		;
	for (i = 0; i < 20; i++) {
		count = 64;
		/* EBADF, or a fd number reused meanwhile: anything but a crash. */
		bpfcmpdel_delete_batch(c->fd, keys, exp, res, &count, 0, 8, NULL);
	}
	return NULL;
}

static void *churn_thread(void *arg)
{
	__u64 v[2] = {};
	struct churn c;
	pthread_t t;
	__u32 key;

	while (!atomic_load(&stop)) {
		c.fd = bpf_map_create(BPF_MAP_TYPE_HASH, "churn", 4, 16, 128, NULL);
		if (c.fd < 0) {
			note("a map create", -errno, 0, 0, 0);
			continue;
		}
		for (key = 0; key < 64; key++)
			bpf_map_update_elem(c.fd, &key, v, BPF_ANY);
		atomic_store(&c.go, false);
		pthread_create(&t, NULL, churn_requester, &c);
		atomic_store(&c.go, true);
		usleep(rand() % 200);
		close(c.fd);
		pthread_join(t, NULL);
		atomic_fetch_add(&churns, 1);
	}
	return NULL;
}

/* Emptied, the map must take exactly max_entries elements again. */
static bool accounting_intact(struct shared *s)
{
	__u32 keys[256], nr, key;
	__u64 cursor = 0, v[2] = {};
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = 256);

	while (cursor != BPFCMPDEL_SWEEP_END)
		if (bpfcmpdel_sweep(s->fd, &cursor, 0, 8, ~0ULL, &nr, &so) &&
		    errno != EAGAIN)
			return false;
	if (!bpf_map_get_next_key(s->fd, NULL, &key))
		return false;	/* the sweep left an element behind */
	for (key = 0; key < SHARED_MAX; key++)
		if (bpf_map_update_elem(s->fd, &key, v, BPF_NOEXIST))
			return false;
	/* LRU maps evict to make room; the others must be full now. */
	key = SHARED_MAX;
	return s->type == BPF_MAP_TYPE_LRU_HASH ||
	       (bpf_map_update_elem(s->fd, &key, v, BPF_NOEXIST) && errno == E2BIG);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 20;
	pthread_t th[5];
	size_t i;
	bool ok;

	printf("TAP version 13\n1..3\n# stress: %d s\n", seconds);
	for (i = 0; i < NSHARED; i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = shared[i].flags);

		shared[i].fd = bpf_map_create(shared[i].type, "stress", 4, 16,
					      SHARED_MAX, &o);
		if (shared[i].fd < 0) {
			printf("Bail out! map create: %s\n", strerror(errno));
			return 1;
		}
	}
	pthread_create(&th[0], NULL, ct_thread, NULL);
	pthread_create(&th[1], NULL, updater_thread, NULL);
	pthread_create(&th[2], NULL, gc_thread, NULL);
	pthread_create(&th[3], NULL, gc_thread, NULL);
	pthread_create(&th[4], NULL, churn_thread, NULL);
	sleep(seconds);
	atomic_store(&stop, true);
	for (i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	printf("# %lu ct runs, %lu sweeps, %lu batches, %lu updates, %lu maps churned\n",
	       atomic_load(&ct_runs), atomic_load(&sweeps), atomic_load(&batches),
	       atomic_load(&updates), atomic_load(&churns));
	ok = atomic_load(&ct_runs) && !atomic_load(&ct_lost);
	printf("%s 1 tombstone mode lost no refresh (%lu lost over %lu runs)\n",
	       ok ? "ok" : "not ok", atomic_load(&ct_lost), atomic_load(&ct_runs));
	printf("%s 2 no result outside the contract (%lu)\n",
	       atomic_load(&unexpected) ? "not ok" : "ok", atomic_load(&unexpected));
	ok = ok && !atomic_load(&unexpected);
	for (i = 0; i < NSHARED && accounting_intact(&shared[i]); i++)
		;
	printf("%s 3 element accounting intact on every shared map\n",
	       i == NSHARED ? "ok" : "not ok");
	return !(ok && i == NSHARED);
}
