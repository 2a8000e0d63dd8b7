// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libbpfcmpdel: userspace side of the /dev/bpfcmpdel compare-and-delete
 * ioctl.  The only state is the device fd, opened once on first use.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

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
static int cmpdel_ioctl(struct bpfcmpdel_req *req)
{
	int fd = dev_get();

	if (fd < 0)
		return fd;
	if (ioctl(fd, BPFCMPDEL_IOC_DELETE, req) < 0)
		return -errno;
	return 0;
}

int bpfcmpdel_delete(int map_fd, const void *key, const void *expected,
		     __u32 offset, __u32 size, const struct bpfcmpdel_opts *opts)
{
	struct bpfcmpdel_req req;

	/*
	 * The kernel checks all of this again; catching it here gives a
	 * clear error even when the device is missing.
	 */
	if (map_fd < 0)
		return libbpf_err(-EBADF);
	if (!key || !expected || !size || offset > UINT32_MAX - size)
		return libbpf_err(-EINVAL);
	if (!OPTS_VALID(opts, bpfcmpdel_opts))
		return libbpf_err(-EINVAL);

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

	return libbpf_err(cmpdel_ioctl(&req));
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
