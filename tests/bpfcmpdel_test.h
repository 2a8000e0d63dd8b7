/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the feature files of the /dev/bpfcmpdel regression tests share:
 * the includes, the device check, raw requests, and the map helpers
 * several features use.  Included once, first, by bpfcmpdel_test.c.
 */
#ifndef _BPFCMPDEL_TESTS_BPFCMPDEL_TEST_H
#define _BPFCMPDEL_TESTS_BPFCMPDEL_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "kselftest_harness.h"
#include "ct.h"
#include "ct.skel.h"
#include "ct_gc.skel.h"
#include "ctsim.h"
#include "kcore.h"
#include "kfunc.h"
#include "kfunc.skel.h"
#include "kfunc_bad.skel.h"
#include "kfunc_cross.skel.h"
#include "kfunc_reenter.skel.h"
#include "kfunc_timer.skel.h"
#include "lsm.h"
#include "lsm.skel.h"
#include "timer.skel.h"

#define MAX_KEY 64

static bool device_present(void)
{
	return access(BPFCMPDEL_DEVICE, F_OK) == 0;
}

#define REQUIRE_DEVICE()						\
	do {								\
		if (!device_present())					\
			SKIP(return, BPFCMPDEL_DEVICE " absent: module not loaded"); \
	} while (0)

static void fill_key(unsigned char *key, __u32 key_size, __u32 i)
{
	__u32 b;

	for (b = 0; b < key_size; b++)
		key[b] = (unsigned char)(i >> (8 * (b % 4))) ^ (unsigned char)(b * 31);
}

static int raw_ioctl(unsigned long cmd, void *req)
{
	int fd = bpfcmpdel_device_fd();

	if (fd < 0)
		return fd;
	return ioctl(fd, cmd, req) ? -errno : 0;
}

/*
 * An insert, waiting out a transient -ENOMEM.  A map without
 * preallocation takes its elements from bpf_mem_alloc's per-CPU caches,
 * prefilled with a handful and refilled by irq_work once below a low
 * watermark; PREEMPT_RT runs that irq_work in a thread (woken from the
 * tick), which a tight loop of inserts from one CPU can outrun, and the
 * kernel's own update then fails with -ENOMEM though memory is plenty --
 * seen on a fresh map before this module touched it.  A datapath or agent
 * retries; so does this, for up to 2 s.  -E2BIG (the map's count says it
 * is full) and a -ENOMEM that lasts are still reported.
 */
static unsigned int map_insert_waits;	/* -ENOMEM waited out, for the logs */

static int map_insert(int fd, const void *key, const void *value, __u64 flags)
{
	const struct timespec tick = { .tv_nsec = 1000000 };
	int tries;

	for (tries = 0; tries < 2000; tries++) {
		if (!bpf_map_update_elem(fd, key, value, flags))
			return 0;
		if (errno != ENOMEM)
			return -errno;
		map_insert_waits++;
		nanosleep(&tick, NULL);
	}
	return -ENOMEM;
}

/* Keeps LRU tests on one CPU: LRU free lists are per CPU. */
static int pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static int create_u32_hash(__u32 map_flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = map_flags);
	__u32 key = 1, value = 7;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_perm", 4, 4, 8, &opts);
	if (fd >= 0 && bpf_map_update_elem(fd, &key, &value, BPF_ANY)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A hash map whose value is { int counter; struct bpf_spin_lock lock; }. */
static int create_spin_lock_map(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	struct btf *btf;
	int btf_fd, fd, int_id, lock_id, value_id;

	btf = btf__new_empty();
	if (!btf)
		return -1;
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
	btf__add_field(btf, "val", int_id, 0, 0);
	value_id = btf__add_struct(btf, "value", 8);
	btf__add_field(btf, "counter", int_id, 0, 0);
	btf__add_field(btf, "lock", lock_id, 32, 0);
	if (btf__load_into_kernel(btf)) {
		btf__free(btf);
		return -1;
	}
	btf_fd = btf__fd(btf);
	opts.btf_fd = btf_fd;
	opts.btf_key_type_id = int_id;
	opts.btf_value_type_id = value_id;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_lock", 4, 8, 4, &opts);
	btf__free(btf);
	return fd;
}

static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

#define BK_VALUE 24	/* struct ts-like value: u64 at 0, 8, 16 */

static int batch_map(enum bpf_map_type type, __u32 flags, __u32 max)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);

	return bpf_map_create(type, "cmpdel_batch", 16, BK_VALUE, max, &opts);
}

static void batch_key(unsigned char *key, __u32 i)
{
	memset(key, 0, 16);
	memcpy(key, &i, sizeof(i));
	key[7] = 0x5a;
}

/* Inserts @n elements whose u64 at offset 8 is i * 3. */
static int batch_fill(int fd, __u32 n)
{
	unsigned char key[16];
	__u64 v[3];
	__u32 i;
	int ret;

	for (i = 0; i < n; i++) {
		batch_key(key, i);
		v[0] = i;
		v[1] = i * 3ULL;
		v[2] = ~(__u64)i;
		ret = map_insert(fd, key, v, BPF_NOEXIST);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Element i of a batch: a key, and what is expected of it -- current
 * (deleted), stale (kept), or absent (never inserted) -- chosen by @pick.
 */
enum { B_CURRENT, B_STALE, B_ABSENT };

static void batch_build(__u32 n, __u32 inserted, const unsigned char *pick,
			unsigned char *keys, __u64 *expected)
{
	__u32 i, id;

	for (i = 0; i < n; i++) {
		id = pick[i] == B_ABSENT ? inserted + i : i;
		batch_key(keys + 16 * i, id);
		expected[i] = id * 3ULL + (pick[i] == B_STALE);
	}
}

#define LOCK_FAIL_PARAM "/sys/module/bpfcmpdel/parameters/test_lock_fail_after"

/* After @n more bucket locks succeed, every one fails; -1: never. */
static int lock_fail_after(int n)
{
	FILE *f = fopen(LOCK_FAIL_PARAM, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fprintf(f, "%d\n", n) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : ret;
}

#endif /* _BPFCMPDEL_TESTS_BPFCMPDEL_TEST_H */
