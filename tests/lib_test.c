// SPDX-License-Identifier: GPL-2.0
/*
 * libbpfcmpdel checks that need no kernel module: argument and opts
 * validation, errno reporting, and behaviour when /dev/bpfcmpdel is absent.
 *
 * Tests needing the device to be absent SKIP when it exists, so the program
 * can run both on a bare host and in a VM with the module loaded.  The
 * harness forks per test, so each test starts with the library's lazy
 * device open not yet done.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "kselftest_harness.h"

/* Validation must reject calls before this reaches the kernel. */
#define MAP_FD		0
#define NTHREADS	16

static const __u32 key = 1;
static const __u64 expected = 2;

static bool device_present(void)
{
	return access(BPFCMPDEL_DEVICE, F_OK) == 0;
}

/*
 * With the device present, a bad argument that slipped through to the
 * kernel could fail with the same errno for another reason (MAP_FD is no
 * map); the open fd shows whether the library talked to the kernel at all.
 */
static bool device_opened(void)
{
	char target[sizeof(BPFCMPDEL_DEVICE) + 1];
	struct dirent *de;
	bool found = false;
	DIR *dir;
	ssize_t n;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return true;	/* cannot tell: make the caller's check fail */
	while (!found && (de = readdir(dir))) {
		n = readlinkat(dirfd(dir), de->d_name, target, sizeof(target));
		found = n == sizeof(BPFCMPDEL_DEVICE) - 1 &&
			!memcmp(target, BPFCMPDEL_DEVICE, n);
	}
	closedir(dir);
	return found;
}

TEST(opts_macro)
{
	BPFCMPDEL_OPTS(def);
	BPFCMPDEL_OPTS(set, .flags = 3);

	ASSERT_EQ(sizeof(struct bpfcmpdel_opts), def.sz);
	ASSERT_EQ(0ULL, def.flags);
	ASSERT_EQ(sizeof(struct bpfcmpdel_opts), set.sz);
	ASSERT_EQ(3ULL, set.flags);
}

TEST(null_key)
{
	errno = 0;
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete(MAP_FD, NULL, &expected,
						       0, sizeof(expected), NULL));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_FALSE(device_opened());
}

TEST(null_expected)
{
	errno = 0;
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete(MAP_FD, &key, NULL,
						       0, sizeof(expected), NULL));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_FALSE(device_opened());
}

TEST(zero_size)
{
	errno = 0;
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, 0, NULL));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_FALSE(device_opened());
}

TEST(offset_size_overflow)
{
	static const struct { __u32 offset, size; } cases[] = {
		{ UINT32_MAX, 1 },
		{ 1, UINT32_MAX },
		{ UINT32_MAX, UINT32_MAX },
		{ 0x80000000u, 0x80000000u },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		errno = 0;
		EXPECT_EQ(-EINVAL, bpfcmpdel_delete(MAP_FD, &key,
							       &expected,
							       cases[i].offset,
							       cases[i].size,
							       NULL))
			TH_LOG("offset %u size %u", cases[i].offset,
			       cases[i].size);
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_FALSE(device_opened());
}

TEST(negative_fd)
{
	static const int fds[] = { -1, INT_MIN };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		errno = 0;
		EXPECT_EQ(-EBADF, bpfcmpdel_delete(fds[i], &key,
							      &expected, 0,
							      sizeof(expected),
							      NULL))
			TH_LOG("fd %d", fds[i]);
		EXPECT_EQ(EBADF, errno);
	}
	ASSERT_FALSE(device_opened());
}

/* Stands in for a caller built against a newer, larger opts struct. */
struct bigger_opts {
	struct bpfcmpdel_opts base;
	__u64 newer_field;
};

TEST(opts_nonzero_tail)
{
	struct bigger_opts opts = {
		.base.sz = sizeof(opts),
		.newer_field = 1,
	};

	errno = 0;
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, sizeof(expected),
						       &opts.base));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_FALSE(device_opened());
}

TEST(opts_sz_too_small)
{
	BPFCMPDEL_OPTS(opts);
	static const size_t sizes[] = { 0, sizeof(size_t) - 1 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		opts.sz = sizes[i];
		errno = 0;
		EXPECT_EQ(-EINVAL, bpfcmpdel_delete(MAP_FD, &key,
							       &expected, 0,
							       sizeof(expected),
							       &opts))
			TH_LOG("sz %zu", sizes[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_FALSE(device_opened());
}

/* The snapshot call validates like the plain one, opts included. */
TEST(snapshot_validation)
{
	struct bigger_opts opts = {
		.base.sz = sizeof(opts),
		.newer_field = 1,
	};

	errno = 0;
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete_snapshot(MAP_FD, NULL, &expected,
							   0, sizeof(expected), NULL));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete_snapshot(MAP_FD, &key, NULL,
							   0, sizeof(expected), NULL));
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete_snapshot(MAP_FD, &key, &expected,
							   0, 0, NULL));
	ASSERT_EQ(-EINVAL, bpfcmpdel_delete_snapshot(MAP_FD, &key, &expected,
							   0, sizeof(expected),
							   &opts.base));
	ASSERT_EQ(-EBADF, bpfcmpdel_delete_snapshot(-1, &key, &expected,
							  0, sizeof(expected), NULL));
	ASSERT_FALSE(device_opened());
}

TEST(absent_device_fd)
{
	if (device_present())
		SKIP(return, BPFCMPDEL_DEVICE " exists");

	errno = 0;
	ASSERT_EQ(-ENODEV, bpfcmpdel_device_fd());
	ASSERT_EQ(ENODEV, errno);
	/* The failed open is remembered, not retried into a different answer. */
	errno = 0;
	ASSERT_EQ(-ENODEV, bpfcmpdel_device_fd());
	ASSERT_EQ(ENODEV, errno);
}

TEST(absent_call)
{
	if (device_present())
		SKIP(return, BPFCMPDEL_DEVICE " exists");

	errno = 0;
	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, sizeof(expected), NULL));
	ASSERT_EQ(ENODEV, errno);
	errno = 0;
	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, sizeof(expected), NULL));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(-ENODEV, bpfcmpdel_delete_snapshot(MAP_FD, &key, &expected,
							   0, sizeof(expected), NULL));
	ASSERT_EQ(-ENODEV, bpfcmpdel_device_fd());
}

/* Largest regions that do not overflow must pass library validation. */
TEST(absent_boundary_region)
{
	if (device_present())
		SKIP(return, BPFCMPDEL_DEVICE " exists");

	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       UINT32_MAX - 1, 1, NULL));
	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, UINT32_MAX, NULL));
}

/* Valid opts of every shape the library must accept. */
TEST(absent_opts_accepted)
{
	BPFCMPDEL_OPTS(current);
	struct bigger_opts bigger = { .base.sz = sizeof(bigger) };
	struct bpfcmpdel_opts older = { .sz = sizeof(size_t) };

	if (device_present())
		SKIP(return, BPFCMPDEL_DEVICE " exists");

	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, sizeof(expected),
						       &current));
	/* Zero tail beyond the known struct: nothing is being ignored. */
	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, sizeof(expected),
						       &bigger.base));
	/* A caller built before flags existed: shortest valid struct. */
	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, sizeof(expected),
						       &older));
}

/* Unknown flags are for the kernel to judge, so new flags need no new lib. */
TEST(absent_flags_passed_through)
{
	BPFCMPDEL_OPTS(opts, .flags = ~0ULL);

	if (device_present())
		SKIP(return, BPFCMPDEL_DEVICE " exists");

	errno = 0;
	ASSERT_EQ(-ENODEV, bpfcmpdel_delete(MAP_FD, &key, &expected,
						       0, sizeof(expected),
						       &opts));
	ASSERT_EQ(ENODEV, errno);
}

struct thread_result {
	pthread_barrier_t *barrier;
	int call_ret, call_errno;
	int fd_ret, fd_errno;
};

static void *absent_thread(void *arg)
{
	struct thread_result *res = arg;

	/* Release all threads together so they race for the first open. */
	pthread_barrier_wait(res->barrier);
	errno = 0;
	res->call_ret = bpfcmpdel_delete(MAP_FD, &key, &expected, 0,
						    sizeof(expected), NULL);
	res->call_errno = errno;
	errno = 0;
	res->fd_ret = bpfcmpdel_device_fd();
	res->fd_errno = errno;
	return NULL;
}

TEST(absent_threads)
{
	struct thread_result res[NTHREADS];
	pthread_t tids[NTHREADS];
	pthread_barrier_t barrier;
	int i;

	if (device_present())
		SKIP(return, BPFCMPDEL_DEVICE " exists");

	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, NTHREADS));
	for (i = 0; i < NTHREADS; i++) {
		res[i] = (struct thread_result){ .barrier = &barrier };
		ASSERT_EQ(0, pthread_create(&tids[i], NULL, absent_thread,
					    &res[i]));
	}
	for (i = 0; i < NTHREADS; i++)
		ASSERT_EQ(0, pthread_join(tids[i], NULL));
	pthread_barrier_destroy(&barrier);

	for (i = 0; i < NTHREADS; i++) {
		EXPECT_EQ(-ENODEV, res[i].call_ret) TH_LOG("thread %d", i);
		EXPECT_EQ(ENODEV, res[i].call_errno) TH_LOG("thread %d", i);
		EXPECT_EQ(-ENODEV, res[i].fd_ret) TH_LOG("thread %d", i);
		EXPECT_EQ(ENODEV, res[i].fd_errno) TH_LOG("thread %d", i);
	}
}

/*
 * A caller started before the module: once the module loads, the same
 * process gets the device.  Needs a way to load it, so only runs where
 * BPFCMPDEL_LOAD_CMD says how (the VM does).
 */
TEST(device_loaded_later_is_found)
{
	const char *load = getenv("BPFCMPDEL_LOAD_CMD");

	if (!load || device_present())
		SKIP(return, "needs BPFCMPDEL_LOAD_CMD and the module unloaded");
	ASSERT_EQ(-ENODEV, bpfcmpdel_device_fd());
	ASSERT_EQ(0, system(load));
	ASSERT_TRUE(device_present());
	EXPECT_LE(0, bpfcmpdel_device_fd());
	EXPECT_EQ(bpfcmpdel_device_fd(), bpfcmpdel_device_fd());
}

TEST_HARNESS_MAIN
