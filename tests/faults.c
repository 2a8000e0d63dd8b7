// SPDX-License-Identifier: GPL-2.0
/*
 * The fault-injection walk (make check-debug, on the kernel built with
 * FAILSLAB, FAIL_PAGE_ALLOC and FAULT_INJECTION_USERCOPY).  For each
 * command and hash flavour it fails the N-th allocation or user copy of
 * one request -- fail-nth counts every fault point the task reaches, of
 * all three kinds -- for N = 1, 2, ... until the request runs without
 * reaching an N-th point.  At every N, on a fresh map:
 *   - the result is 0 or what an injected failure may give (-ENOMEM,
 *     -EFAULT); with no failure injected the request must succeed;
 *   - nothing deleted goes unreported: the keys gone from the map are
 *     exactly those the call reported deleted (single request: returned
 *     0; batch: a 0 result among the processed; sweep: in @keys, counted
 *     by @nr_deleted), except the one case ioctl.h documents -- an output
 *     that turns unwritable mid-call (an injected copy_to_user failure
 *     is just that) fails the call with -EFAULT after a round deleted;
 *     then what was reported must still be gone;
 *   - an error from a single request or an -ENOMEM deleted nothing;
 *   - the map's accounting holds: with the survivors in place, exactly
 *     max_entries - survivors more elements fit (a lost free-list slot or
 *     count fails it);
 *   - a map handle request leaves a handle exactly when it succeeded.
 * Prints TAP, one line per command and flavour with the number of fault
 * points walked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <bpfcmpdel/ioctl.h>

#define NKEYS		300	/* past one batch chunk (256) */
#define MAX_ENTRIES	512
#define EXPIRED		1	/* even keys' stamp: below the threshold */
#define LIVE		100	/* odd keys' stamp */
#define THRESHOLD	50
#define MAX_N		2000	/* a walk longer than this is a bug */

struct value {
	__u64 stamp;
	__u64 pad;
};

static int dev, nth_fd;
static int tests;

static const struct flavour {
	const char *name;
	enum bpf_map_type type;
	__u32 flags;
} flavours[] = {
	{ "hash", BPF_MAP_TYPE_HASH, 0 },
	{ "hash_noprealloc", BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC },
	{ "lru", BPF_MAP_TYPE_LRU_HASH, 0 },
};

/* One request's outcome: its result and the keys it reported deleted. */
struct outcome {
	int err;
	bool reported[NKEYS];
	__u32 handle;	/* a handle the call made */
};

static int map_new(const struct flavour *f)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = f->flags);
	struct value v = { 0 };
	__u32 k;
	int fd;

	fd = bpf_map_create(f->type, "faults", sizeof(__u32), sizeof(v), MAX_ENTRIES, &opts);
	if (fd < 0)
		return -errno;
	for (k = 0; k < NKEYS; k++) {
		v.stamp = k % 2 ? LIVE : EXPIRED;
		if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST)) {
			close(fd);
			return -errno;
		}
	}
	return fd;
}

/* Arms fail-nth: the N-th fault point from now on fails. */
static int arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -errno;
}

/* Disarms fail-nth; true if the armed failure was injected. */
static bool injected(void)
{
	char buf[16] = "";
	ssize_t len = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	/* The read's own copy_to_user may be the armed point: not the ioctl's. */
	if (len < 0) {
		arm(0);
		return false;
	}
	arm(0);
	return atoi(buf) == 0;
}

static int req_delete(int map, struct outcome *o)
{
	__u32 key = 0;
	__u64 expected = EXPIRED;
	struct bpfcmpdel_req r = {
		.size = sizeof(r), .map_fd = map, .key = (__u64)(unsigned long)&key,
		.expected = (__u64)(unsigned long)&expected, .compare_size = sizeof(expected),
	};
	int ret = ioctl(dev, BPFCMPDEL_IOC_DELETE, &r);

	o->reported[0] = ret == 0;
	return ret ? -errno : 0;
}

/* Compare-and-swap deletes nothing: the survivors' check covers it. */
static int req_update(int map, struct outcome *o)
{
	__u32 key = 0;
	__u64 expected = EXPIRED;
	struct value v = { .stamp = LIVE };
	struct bpfcmpdel_req r = {
		.size = sizeof(r), .map_fd = map, .key = (__u64)(unsigned long)&key,
		.expected = (__u64)(unsigned long)&expected, .compare_size = sizeof(expected),
		.value = (__u64)(unsigned long)&v,
	};

	(void)o;
	return ioctl(dev, BPFCMPDEL_IOC_UPDATE, &r) ? -errno : 0;
}

/* Every key, expected EXPIRED: the even ones go, the odd ones are -EBUSY. */
static int req_batch(int map, struct outcome *o)
{
	static __u32 keys[NKEYS];
	static __u64 expected[NKEYS];
	static __s32 results[NKEYS];
	struct bpfcmpdel_batch_req r = {
		.size = sizeof(r), .map_fd = map, .keys = (__u64)(unsigned long)keys,
		.expected = (__u64)(unsigned long)expected,
		.results = (__u64)(unsigned long)results, .count = NKEYS,
		.compare_size = sizeof(__u64),
	};
	int ret;
	__u32 i;

	for (i = 0; i < NKEYS; i++) {
		keys[i] = i;
		expected[i] = EXPIRED;
		results[i] = -1;
	}
	ret = ioctl(dev, BPFCMPDEL_IOC_DELETE_BATCH, &r) ? -errno : 0;
	for (i = 0; i < r.count && i < NKEYS; i++)
		o->reported[keys[i]] = results[i] == 0;
	return ret;
}

/* One sweep over the whole map: the even keys are below the threshold. */
static int req_sweep(int map, struct outcome *o)
{
	static __u32 keys[NKEYS];
	struct bpfcmpdel_sweep_req r = {
		.size = sizeof(r), .map_fd = map, .threshold = THRESHOLD,
		.keys = (__u64)(unsigned long)keys, .field_size = sizeof(__u64),
		.max_out = NKEYS, .budget = BPFCMPDEL_SWEEP_BUDGET_MAX,
	};
	int ret;
	__u32 i;

	memset(keys, 0xff, sizeof(keys));
	ret = ioctl(dev, BPFCMPDEL_IOC_SWEEP, &r) ? -errno : 0;
	for (i = 0; i < r.nr_deleted && i < NKEYS; i++)
		if (keys[i] < NKEYS)
			o->reported[keys[i]] = true;
	return ret;
}

static int handle_ioctl(unsigned long cmd, int map, __u32 *handle)
{
	struct bpfcmpdel_handle_req r = {
		.size = sizeof(r), .map_fd = map, .handle = *handle,
	};

	if (ioctl(dev, cmd, &r))
		return -errno;
	*handle = r.handle;
	return 0;
}

static int req_handle(int map, struct outcome *o)
{
	return handle_ioctl(BPFCMPDEL_IOC_HANDLE_NEW, map, &o->handle);
}

/*
 * After a handle request, armed no longer: what it made is freed, and
 * nothing else was left made.  No other handle lives here, and the
 * lowest free slot goes first, so a new handle must take slot 0.
 */
static const char *handle_after(int map, const struct outcome *o)
{
	__u32 h = o->handle;

	if (!o->err && (!h || handle_ioctl(BPFCMPDEL_IOC_HANDLE_FREE, -1, &h)))
		return "the handle made cannot be freed";
	if (o->err && h)
		return "a failed call handed back a handle";
	h = 0;
	if (handle_ioctl(BPFCMPDEL_IOC_HANDLE_NEW, map, &h))
		return "no handle could be made after it";
	if (h % BPFCMPDEL_HANDLES_MAX) {
		handle_ioctl(BPFCMPDEL_IOC_HANDLE_FREE, -1, &h);
		return "a handle outlived the call that made it";
	}
	return handle_ioctl(BPFCMPDEL_IOC_HANDLE_FREE, -1, &h) ? "cannot free a handle" : NULL;
}

static bool only_key0(__u32 k) { return k == 0; }
static bool none(__u32 k) { return false; }
static bool expired(__u32 k) { return k % 2 == 0; }

static const struct command {
	const char *name;
	int (*run)(int map, struct outcome *o);
	bool (*may_delete)(__u32 key);	/* what the request may ever delete */
	bool outputs;	/* writes results after deleting (the -EFAULT case) */
	/*
	 * Its reports name only deleted keys even then: a batch's results
	 * that never arrived read -EFAULT.  A sweep's keys that never arrived
	 * are bytes that could be any key (ioctl.h: they "may not have
	 * arrived"), so there only the deletions themselves are held.
	 */
	bool exact_on_efault;
	/* Checks of its own once disarmed: 0 or a message. */
	const char *(*after)(int map, const struct outcome *o);
} commands[] = {
	{ "delete", req_delete, only_key0, false, true, NULL },
	{ "update", req_update, none, false, true, NULL },
	{ "delete_batch", req_batch, expired, true, true, NULL },
	{ "sweep", req_sweep, expired, true, false, NULL },
	{ "handle", req_handle, none, false, true, handle_after },
};

/* The map after one request, held to the contract; 0 or a message. */
static const char *verify(int map, const struct flavour *f, const struct command *c,
			  const struct outcome *o, bool fault)
{
	static char msg[160];
	struct value v;
	int survivors = 0, fitted = 0, err = o->err;
	__u32 k;

	if (err && err != -ENOMEM && err != -EFAULT)
		return snprintf(msg, sizeof(msg), "result %d outside the contract", err), msg;
	if (err && !fault)
		return snprintf(msg, sizeof(msg), "failed (%d) with nothing injected", err), msg;
	for (k = 0; k < NKEYS; k++) {
		bool present = !bpf_map_lookup_elem(map, &k, &v);

		survivors += present;
		/* Never an unconditional delete, however the call failed. */
		if (!present && !c->may_delete(k))
			return snprintf(msg, sizeof(msg), "key %u deleted, never allowed (result %d)",
					k, err), msg;
		if (o->reported[k] && present && (err != -EFAULT || c->exact_on_efault))
			return snprintf(msg, sizeof(msg), "key %u reported deleted, still there", k), msg;
		/* The one documented hole: an output unwritable mid-call. */
		if (!o->reported[k] && !present && !(c->outputs && err == -EFAULT))
			return snprintf(msg, sizeof(msg), "key %u deleted, not reported (result %d)",
					k, err), msg;
	}
	/* A compare-and-swap either happened whole or not at all. */
	k = 0;
	if (c->run == req_update &&
	    (bpf_map_lookup_elem(map, &k, &v) || v.stamp != (err ? EXPIRED : LIVE)))
		return snprintf(msg, sizeof(msg), "key 0 holds %llu after result %d",
				(unsigned long long)v.stamp, err), msg;
	/* LRU maps evict rather than refuse: their accounting is not a count. */
	if (f->type == BPF_MAP_TYPE_LRU_HASH)
		return NULL;
	for (k = NKEYS; k < NKEYS + MAX_ENTRIES; k++) {
		v.stamp = LIVE;
		if (bpf_map_update_elem(map, &k, &v, BPF_NOEXIST))
			break;
		fitted++;
	}
	if (survivors + fitted != MAX_ENTRIES)
		return snprintf(msg, sizeof(msg), "%d survivors + %d fitted != %d entries (errno %d)",
				survivors, fitted, MAX_ENTRIES, errno), msg;
	return NULL;
}

static void walk(const struct flavour *f, const struct command *c)
{
	static struct outcome o;
	unsigned int n, faults = 0, efault_holes = 0;
	const char *bad = NULL;
	int map;

	for (n = 1; n <= MAX_N && !bad; n++) {
		bool fault;

		map = map_new(f);
		if (map < 0) {
			bad = "map setup failed";
			break;
		}
		memset(&o, 0, sizeof(o));
		if (arm(n)) {
			close(map);
			bad = "cannot arm /proc/thread-self/fail-nth";
			break;
		}
		o.err = c->run(map, &o);
		fault = injected();
		bad = c->after ? c->after(map, &o) : NULL;
		if (!bad)
			bad = verify(map, f, c, &o, fault);
		close(map);
		if (!fault)
			break;
		faults++;
		efault_holes += o.err == -EFAULT && c->outputs;
	}
	if (!bad && n > MAX_N)
		bad = "the request never ran clean";
	tests++;
	if (bad)
		printf("not ok %d %s %s: fault point %u: %s\n", tests, f->name, c->name, n, bad);
	else
		printf("ok %d %s %s: %u fault points walked, each held to the contract (%u -EFAULT mid-output)\n",
		       tests, f->name, c->name, faults, efault_holes);
	fflush(stdout);
}

/* Each fault kind counts every point fail-nth reaches, GFP_KERNEL ones too,
 * quietly (no stack dump per injected failure). */
static int configure(void)
{
	static const char *const knobs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
		{ "fail_usercopy/verbose", "0" },
	};
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		int fd;

		snprintf(path, sizeof(path), "/sys/kernel/debug/%s", knobs[i][0]);
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, knobs[i][1], strlen(knobs[i][1])) < 0) {
			printf("Bail out! %s: %s\n", path, strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

int main(void)
{
	size_t i, j;

	printf("1..%zu\n", sizeof(flavours) / sizeof(flavours[0]) *
	       (sizeof(commands) / sizeof(commands[0])));
	if (configure())
		return 1;
	dev = open(BPFCMPDEL_DEVICE, O_RDWR);
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (dev < 0 || nth_fd < 0) {
		printf("Bail out! %s: %s\n", dev < 0 ? BPFCMPDEL_DEVICE : "fail-nth",
		       strerror(errno));
		return 1;
	}
	for (i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++)
		for (j = 0; j < sizeof(commands) / sizeof(commands[0]); j++)
			walk(&flavours[i], &commands[j]);
	return 0;
}
