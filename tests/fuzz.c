// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz [ITERATIONS [SEED]]: random and mutated requests to /dev/bpfcmpdel,
 * reproducible from the seed: every command, sizes, flags, offsets, modes,
 * batch and sweep arguments; pointers to unmapped, read-only and partly
 * mapped memory and to kernel addresses; fds of maps of every kind, a
 * program, pipes, closed fds and the device itself.  Passes if every
 * answer is one the contract allows, and a sentinel map no request names
 * is unchanged afterwards.  The VM's kernel-log scan catches the rest.
 * Prints TAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/ioctl.h>

#define NFDS	32
#define SCRATCH	(64 * 1024)
#define SENTINEL_N 64

static unsigned int seed;
static int fds[NFDS], nfds, nmaps, dev;
static unsigned char *scratch, *ro_page, *edge;	/* edge: last bytes before a hole */
/* Keys the hash maps hold (key i: byte i, zeros), and values' likely bytes. */
static unsigned char *keys_area, *vals_area;
static void *unmapped;

static uint64_t rnd(void)
{
	return ((uint64_t)rand_r(&seed) << 33) ^ ((uint64_t)rand_r(&seed) << 11) ^
	       rand_r(&seed);
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rnd() % n];
}

#define PICK(...) ({ const uint64_t __v[] = { __VA_ARGS__ }; \
		     pick(__v, sizeof(__v) / sizeof(__v[0])); })

static uint64_t ptr(void)
{
	switch (rnd() % 8) {
	case 0: return 0;
	case 1: return (uint64_t)(uintptr_t)unmapped + rnd() % 4096;
	case 2: return (uint64_t)(uintptr_t)ro_page + rnd() % 4096;
	case 3: return (uint64_t)(uintptr_t)edge - rnd() % 64;
	case 4: return PICK(0xffffffff81000000ULL, 0xffff888000000000ULL, ~0ULL, 1);
	default: return (uint64_t)(uintptr_t)scratch + 5 * 4096 + rnd() % (SCRATCH - 8 * 4096);
	}
}

static uint32_t small(void)
{
	return PICK(0, 1, 2, 3, 4, 5, 7, 8, 12, 16, 24, 31, 32, 64, 255, 4095, 4096,
		    65536, 0x7fffffff, 0xffffffff, rnd() % 64);
}

static uint32_t an_fd(void)
{
	if (rnd() % 2)
		return fds[rnd() % nmaps];	/* the hash maps: requests get deep */
	return rnd() % 8 ? fds[rnd() % nfds] : (uint32_t)PICK(-1, 1000000, dev, 0);
}

/* Half the time a key or expected bytes likely to match: deletes happen. */
static uint64_t key_ptr(void)
{
	return rnd() % 2 ? (uint64_t)(uintptr_t)(keys_area + (rnd() % 48) * 64) : ptr();
}

static uint64_t expected_ptr(void)
{
	return rnd() % 2 ? (uint64_t)(uintptr_t)(vals_area + (rnd() % 4) * 4096) : ptr();
}

static uint32_t offset_in_value(void)
{
	return rnd() % 2 ? 0 : rnd() % 2 ? rnd() % 8 : small();
}

static uint64_t flags(uint64_t all)
{
	switch (rnd() % 8) {
	case 0: case 1: case 2: case 3: return 0;
	case 4: case 5: return all & (1ULL << (rnd() % 5));	/* one valid flag */
	case 6: return rnd() & all;
	default: return rnd() % 2 ? 1ULL << (rnd() % 64) : rnd();
	}
}

static uint32_t req_size(uint32_t known)
{
	return rnd() % 4 ? known : PICK(0, 4, 39, 40, 48, known - 8, known + 8,
					4096, 4097, 0xffffffff, rnd() % 200);
}

/* The request struct, then whatever is after it in scratch: random tails. */
static void *request(void)
{
	unsigned char *r = scratch + SCRATCH - 8192;
	size_t i;

	for (i = 0; i < 8192; i++)
		r[i] = rnd() % 3 ? 0 : (unsigned char)rnd();
	return r;
}

static unsigned long fuzz_single(bool update)
{
	struct bpfcmpdel_req *q = request();

	q->size = req_size(sizeof(*q));
	q->map_fd = an_fd();
	q->flags = flags(BPFCMPDEL_F_ALL);
	q->key = key_ptr();
	q->expected = expected_ptr();
	q->compare_offset = offset_in_value();
	q->compare_size = rnd() % 2 ? PICK(1, 2, 4, 8) : small();
	/* Mostly consistent with the flags, so most requests get past them. */
	q->cpu = q->flags & BPFCMPDEL_F_CPU || rnd() % 16 == 0 ? rnd() % 3 : 0;
	q->reserved = rnd() % 16 ? 0 : 1;
	q->tombstone = q->flags & BPFCMPDEL_F_TOMBSTONE || rnd() % 16 == 0 ?
		       PICK(~0ULL, 0xdead, rnd()) : 0;
	q->value = update || rnd() % 32 == 0 ? expected_ptr() : 0;
	return update ? BPFCMPDEL_IOC_UPDATE : BPFCMPDEL_IOC_DELETE;
}

static unsigned long fuzz_batch(void)
{
	struct bpfcmpdel_batch_req *q = request();

	q->size = req_size(sizeof(*q));
	q->map_fd = an_fd();
	q->flags = flags(BPFCMPDEL_F_ALL);
	q->keys = rnd() % 2 ? (uint64_t)(uintptr_t)keys_area : ptr();
	q->expected = expected_ptr();
	q->results = ptr();
	q->count = rnd() % 4 ? rnd() % 300 : small();
	q->compare_offset = offset_in_value();
	q->compare_size = rnd() % 2 ? PICK(1, 2, 4, 8) : small();
	q->cpu = q->flags & BPFCMPDEL_F_CPU || rnd() % 16 == 0 ? rnd() % 3 : 0;
	q->tombstone = q->flags & BPFCMPDEL_F_TOMBSTONE || rnd() % 16 == 0 ? rnd() : 0;
	return BPFCMPDEL_IOC_DELETE_BATCH;
}

static unsigned long fuzz_sweep(void)
{
	struct bpfcmpdel_sweep_req *q = request();

	q->size = req_size(sizeof(*q));
	q->map_fd = an_fd();
	q->flags = flags(BPFCMPDEL_F_SWEEP_ALL);
	q->cursor = rnd() % 2 ? 0 : PICK(BPFCMPDEL_SWEEP_END, rnd() % 512, rnd());
	q->threshold = rnd() % 2 ? rnd() % 1000 : rnd();
	q->tombstone = q->flags & BPFCMPDEL_F_TOMBSTONE || rnd() % 16 == 0 ? rnd() : 0;
	q->keys = ptr();
	q->values = rnd() % 2 ? 0 : ptr();
	q->field_offset = offset_in_value();
	q->field_size = PICK(4, 8, small());
	q->max_out = rnd() % 4 ? rnd() % 600 : small();
	q->budget = rnd() % 4 ? rnd() % 64 : small();
	q->nr_deleted = rnd() % 8 ? 0 : 1;
	q->nr_scanned = 0;
	return BPFCMPDEL_IOC_SWEEP;
}

/* Map handles: made on any fd, freed by any number; the table may fill. */
static unsigned long fuzz_handle(void)
{
	struct bpfcmpdel_handle_req *q = request();

	q->size = req_size(sizeof(*q));
	q->map_fd = an_fd();
	q->handle = rnd() % 4 ? 0 : PICK(rnd(), rnd() % 512, 0x100);
	q->flags = rnd() % 16 ? 0 : rnd();
	return rnd() % 2 ? BPFCMPDEL_IOC_HANDLE_NEW : BPFCMPDEL_IOC_HANDLE_FREE;
}

static bool allowed(int err)
{
	switch (err) {
	case 0: case ENOENT: case EBUSY: case EAGAIN: case EOPNOTSUPP:
	case EINVAL: case EPERM: case EBADF: case EFAULT: case E2BIG:
	case ENOTTY: case ENOMEM: case ENOSPC:
		return true;
	default:
		return false;
	}
}

static int make_map(enum bpf_map_type t, __u32 ks, __u32 vs, __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);

	return bpf_map_create(t, "fuzz", ks, vs, 64, &o);
}

/*
 * Keys 0..47 with values of one likely byte: something to delete.  Only the
 * bytes the map's values span are written (a per-CPU map's for every
 * possible CPU): refilling is not what the run should spend its time on.
 */
static void refill(int fd)
{
	static unsigned char val[4096 * 4];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), i;
	unsigned char key[64] = {};
	size_t span;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size > sizeof(key))
		return;
	span = info.value_size;
	if (info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	    info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		span = ((span + 7) & ~7UL) * (size_t)libbpf_num_possible_cpus();
	if (span > sizeof(val))
		span = sizeof(val);
	for (i = 0; i < 48; i++) {
		key[0] = (unsigned char)i;
		memset(val, (int)(rnd() % 4), span);
		bpf_map_update_elem(fd, key, val, BPF_ANY);
	}
}

static void setup_fds(void)
{
	static const struct { enum bpf_map_type t; __u32 ks, vs, fl; } maps[] = {
		{ BPF_MAP_TYPE_HASH, 4, 8, 0 }, { BPF_MAP_TYPE_HASH, 1, 16, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_HASH, 8, 4, 0 }, { BPF_MAP_TYPE_HASH, 4, 8, 0 },
		{ BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 0 },
		{ BPF_MAP_TYPE_PERCPU_HASH, 4, 12, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 8, 0 }, { BPF_MAP_TYPE_LRU_HASH, 4, 8, BPF_F_NO_COMMON_LRU },
		{ BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 0 }, { BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 8, BPF_F_RDONLY }, { BPF_MAP_TYPE_HASH, 4, 8, BPF_F_WRONLY },
	};
	struct bpf_insn prog[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },	/* r0 = 0 */
		{ .code = 0x95 },				/* exit */
	};
	int p[2], fd;
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		fd = make_map(maps[i].t, maps[i].ks, maps[i].vs, maps[i].fl);
		if (fd >= 0)
			fds[nfds++] = fd;
		/* The writable hash maps come first: the fds most requests use. */
		if (maps[i].t != BPF_MAP_TYPE_ARRAY && maps[i].t != BPF_MAP_TYPE_PERCPU_ARRAY &&
		    !(maps[i].fl & (BPF_F_RDONLY | BPF_F_WRONLY)) && nmaps == nfds - 1)
			nmaps = nfds;
	}
	fd = make_map(BPF_MAP_TYPE_HASH, 4, 8, 0);
	if (fd >= 0 && !bpf_map_freeze(fd))
		fds[nfds++] = fd;
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "fuzz", "GPL", prog, 2, NULL);
	if (fd >= 0)
		fds[nfds++] = fd;
	if (!pipe(p)) {
		fds[nfds++] = p[0];
		fds[nfds++] = p[1];
	}
	fds[nfds++] = dev;
	fds[nfds++] = open("/dev/null", O_RDWR);
	fd = dup(0);
	close(fd);
	fds[nfds++] = fd;	/* closed */
}

static void setup_memory(void)
{
	unsigned char *m;
	size_t i;

	scratch = mmap(NULL, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < SCRATCH; i++)
		scratch[i] = (unsigned char)rnd();
	ro_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(m + 4096, 4096);
	unmapped = m + 4096;
	edge = m + 4096;	/* ptr() backs off from here into the mapped page */
	keys_area = scratch;
	vals_area = scratch + 48 * 64;
	memset(keys_area, 0, 48 * 64);
	for (i = 0; i < 48; i++)
		keys_area[i * 64] = (unsigned char)i;
	for (i = 0; i < 4; i++)
		memset(vals_area + i * 4096, (int)i, 4096);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000, i, cmd;
	unsigned long counts[6] = {}, bad = 0;
	__u32 key, sentinel;
	__u64 v, want;
	int ret, err;

	seed = argc > 2 ? strtoul(argv[2], NULL, 0) : 1;
	printf("TAP version 13\n1..2\n# fuzz: %lu requests, seed %u\n", n, seed);
	dev = open(BPFCMPDEL_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		printf("not ok 1 fuzz # cannot open " BPFCMPDEL_DEVICE ": %s\n", strerror(errno));
		printf("not ok 2 sentinel\n");
		return 1;
	}
	sentinel = make_map(BPF_MAP_TYPE_HASH, 4, 8, 0);
	for (key = 0; key < SENTINEL_N; key++) {
		v = key * 0x9e3779b97f4a7c15ULL;
		bpf_map_update_elem(sentinel, &key, &v, BPF_NOEXIST);
	}
	setup_memory();
	setup_fds();
	for (i = 0; i < n; i++) {
		if (i % 2000 == 0)
			for (key = 0; key < (unsigned int)nmaps; key++)
				refill(fds[key]);
		switch (rnd() % 8) {
		case 0: case 1: case 2: cmd = fuzz_single(false); break;
		case 3: cmd = fuzz_single(true); break;
		case 4: case 5: cmd = fuzz_batch(); break;
		case 6: cmd = fuzz_sweep(); break;
		case 7:
			if (rnd() % 2) {
				cmd = fuzz_handle();
				break;
			}
			/* fall through */
		default:
			cmd = _IOC(rnd() % 4, rnd() % 2 ? BPFCMPDEL_IOC_MAGIC : rnd() % 256,
				   rnd() % 8, rnd() % 256);
			request();
		}
		ret = ioctl(dev, cmd, rnd() % 16 ? (void *)(scratch + SCRATCH - 8192) :
						  (void *)(uintptr_t)ptr());
		err = ret ? errno : 0;
		counts[err == 0 ? 0 : err == ENOENT ? 1 : err == EBUSY ? 2 :
		       err == EINVAL ? 3 : err == EFAULT ? 4 : 5]++;
		if (!allowed(err) && bad++ < 10)
			printf("# request %lu: cmd %#lx answered %d (%s)\n", i, cmd, err,
			       strerror(err));
	}
	printf("# results: %lu done, %lu ENOENT, %lu EBUSY, %lu EINVAL, %lu EFAULT, %lu other\n",
	       counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
	printf("%s 1 fuzz: every answer within the contract (%lu outside)\n",
	       bad ? "not ok" : "ok", bad);
	for (key = 0, ret = 0; key < SENTINEL_N; key++) {
		want = key * 0x9e3779b97f4a7c15ULL;
		if (bpf_map_lookup_elem(sentinel, &key, &v) || v != want)
			ret = 1;
	}
	printf("%s 2 sentinel map unchanged\n", ret ? "not ok" : "ok");
	return bad || ret;
}
