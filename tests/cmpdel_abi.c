// SPDX-License-Identifier: GPL-2.0
/*
 * The request contract: map types and kernel-managed fields (bpf_spin_lock,
 * bpf_timer) a request may not touch, wrong fds, and the ioctl ABI itself
 * (struct size, flags, reserved fields, pointers, errnos).
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- unsupported maps and wrong fds --------------------------------------- */

TEST(unsupported_map_types_are_eopnotsupp)
{
	const enum bpf_map_type types[] = {
		BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY,
	};
	__u32 key = 0, value = 0, i;
	int fd;

	REQUIRE_DEVICE();
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		fd = bpf_map_create(types[i], "cmpdel_unsup", 4, 4, 4, NULL);
		ASSERT_GE(fd, 0) TH_LOG("map type %d", types[i]);
		bpf_map_update_elem(fd, &key, &value, BPF_ANY);
		EXPECT_EQ(-EOPNOTSUPP, bpfcmpdel_delete(fd, &key, &value,
								   0, 4, NULL))
			TH_LOG("map type %d", types[i]);
		close(fd);
	}
}

/* Fields the kernel manages are not what userspace reads back. */
TEST(region_overlapping_spin_lock_is_einval)
{
	__u32 key = 0, value[2] = { 5, 0 };
	int fd;

	REQUIRE_DEVICE();
	fd = create_spin_lock_map();
	ASSERT_GE(fd, 0) TH_LOG("creating a map with a bpf_spin_lock: %s",
				strerror(errno));
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, value, BPF_ANY));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, value, 0, 8, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &value[1], 4, 4, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &value[1], 7, 1, NULL));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, value));
	/* The counter next to the lock is fair game. */
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(fd, &key, &(__u32){ 6 }, 0, 4, NULL));
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, value, 0, 4, NULL));
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, value));
	close(fd);
}

/* --- values with a bpf_timer: released with the element ------------------ */

FIXTURE(timer) {
	struct timer_bpf *skel;
	int map_fd;
};

FIXTURE_VARIANT(timer) {
	__u32 map_index;	/* the map arm_timer() uses, see timer.bpf.c */
};

FIXTURE_VARIANT_ADD(timer, hash) { .map_index = 0 };
FIXTURE_VARIANT_ADD(timer, hash_noprealloc) { .map_index = 1 };
FIXTURE_VARIANT_ADD(timer, lru_hash) { .map_index = 2 };

/* The verifier's log of the last failed load, for a kernel's own reasons. */
static char verifier_log[16384];

static int capture_libbpf_log(enum libbpf_print_level level, const char *fmt,
			      va_list args)
{
	size_t len = strlen(verifier_log);

	if (level != LIBBPF_DEBUG && len < sizeof(verifier_log) - 1)
		vsnprintf(verifier_log + len, sizeof(verifier_log) - len, fmt, args);
	return 0;
}

/* The kernel's words for why it refuses a feature outright, if it did. */
static const char *kernel_refusal(const char *log)
{
	static const char *const refusals[] = {
		"bpf_timer cannot be used for PREEMPT_RT",
	};
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strstr(log, refusals[i]))
			return refusals[i];
	return NULL;
}

FIXTURE_SETUP(timer)
{
	struct bpf_map *maps[] = { NULL, NULL, NULL };
	libbpf_print_fn_t old;
	const char *refusal;

	verifier_log[0] = '\0';
	old = libbpf_set_print(capture_libbpf_log);
	self->skel = timer_bpf__open_and_load();
	libbpf_set_print(old);
	refusal = kernel_refusal(verifier_log);
	if (!self->skel && refusal)
		SKIP(return, "the kernel refuses: %s", refusal);
	ASSERT_NE(NULL, self->skel) TH_LOG("loading timer.bpf.o: %s\n%s",
					   strerror(errno), verifier_log);
	maps[0] = self->skel->maps.prealloc;
	maps[1] = self->skel->maps.noprealloc;
	maps[2] = self->skel->maps.lru;
	self->map_fd = bpf_map__fd(maps[variant->map_index]);
	self->skel->bss->map_index = variant->map_index;
	self->skel->bss->delay_ns = 200 * 1000 * 1000;
}

FIXTURE_TEARDOWN(timer)
{
	if (self->skel)
		timer_bpf__destroy(self->skel);
}

static int arm_timer(struct timer_bpf *skel, __u32 key)
{
	char packet[64] = {};
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet,
		    .data_size_in = sizeof(packet));

	skel->bss->key = key;
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.arm_timer), &run))
		return -errno;
	return (int)run.retval;
}

/* Polls, since timers fire late under emulation. */
static __u64 fired_after(struct timer_bpf *skel, __u64 want, int max_ms)
{
	while (max_ms > 0 && __atomic_load_n(&skel->bss->fired, __ATOMIC_RELAXED) < want) {
		usleep(10 * 1000);
		max_ms -= 10;
	}
	return __atomic_load_n(&skel->bss->fired, __ATOMIC_RELAXED);
}

/*
 * Two elements with armed timers; one is compare-deleted.  Only the other
 * timer may fire: a timer left in the freed element would fire too.
 */
TEST_F(timer, delete_cancels_the_elements_timer)
{
	__u64 value[3] = { 1, 0, 0 };	/* generation, then the bpf_timer */
	__u32 kept = 1, deleted = 0;

	REQUIRE_DEVICE();
	/* Setup skipped: this harness runs the body after a SKIP there. */
	if (!self->skel)
		return;
	ASSERT_EQ(0, bpf_map_update_elem(self->map_fd, &deleted, value, BPF_NOEXIST));
	ASSERT_EQ(0, bpf_map_update_elem(self->map_fd, &kept, value, BPF_NOEXIST));
	ASSERT_EQ(0, arm_timer(self->skel, deleted));
	ASSERT_EQ(0, arm_timer(self->skel, kept));

	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(self->map_fd, &deleted,
						       &value[1], 8, 16, NULL));
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(self->map_fd, &kept,
						      &(__u64){ 2 }, 0, 8, NULL));
	EXPECT_EQ(0, bpfcmpdel_delete(self->map_fd, &deleted,
						 &value[0], 0, 8, NULL));

	EXPECT_EQ(1, fired_after(self->skel, 1, 5000));
	/* Time enough for a second timer due at the same moment. */
	EXPECT_EQ(1, fired_after(self->skel, 2, 500));
	/* The freed slot takes a new element, with a timer of its own. */
	EXPECT_EQ(0, bpf_map_update_elem(self->map_fd, &deleted, value, BPF_NOEXIST));
	EXPECT_EQ(0, arm_timer(self->skel, deleted));
	EXPECT_EQ(2, fired_after(self->skel, 2, 5000));
}

TEST(non_map_fd_is_einval)
{
	__u32 key = 0, value = 0;
	int fd;

	REQUIRE_DEVICE();
	fd = open("/dev/null", O_RDWR);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EINVAL, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(fd);
}

TEST(bad_fd_is_ebadf)
{
	struct bpfcmpdel_req req = {
		.size = sizeof(req), .map_fd = 1000000, .compare_size = 4,
	};
	__u32 key = 0, value = 0;

	REQUIRE_DEVICE();
	req.key = (__u64)(uintptr_t)&key;
	req.expected = (__u64)(uintptr_t)&value;
	EXPECT_EQ(-EBADF, raw_ioctl(BPFCMPDEL_IOC_DELETE, &req));
	EXPECT_EQ(-EBADF, bpfcmpdel_delete(-1, &key, &value, 0, 4, NULL));
}

/* --- the ioctl ABI itself ------------------------------------------------ */

FIXTURE(abi) {
	int map_fd;
	__u32 key;
	__u32 value;
	struct bpfcmpdel_req req;
};

FIXTURE_SETUP(abi)
{
	self->map_fd = create_u32_hash(0);
	ASSERT_GE(self->map_fd, 0);
	self->key = 1;
	self->value = 7;
	self->req = (struct bpfcmpdel_req) {
		.size = sizeof(self->req),
		.map_fd = self->map_fd,
		.key = (__u64)(uintptr_t)&self->key,
		.expected = (__u64)(uintptr_t)&self->value,
		.compare_size = 4,
	};
}

FIXTURE_TEARDOWN(abi)
{
	close(self->map_fd);
}

static bool abi_key_present(struct _test_data_abi *self)
{
	__u32 v;

	return bpf_map_lookup_elem(self->map_fd, &self->key, &v) == 0;
}

TEST_F(abi, well_formed_request_deletes)
{
	REQUIRE_DEVICE();
	EXPECT_EQ(0, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_FALSE(abi_key_present(self));
}

TEST_F(abi, unknown_flags_are_einval)
{
	__u64 bit;

	REQUIRE_DEVICE();
	for (bit = 0; bit < 64; bit++) {
		if (BPFCMPDEL_F_ALL & (1ULL << bit))
			continue;
		self->req.flags = 1ULL << bit;
		EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req))
			TH_LOG("flag bit %llu", (unsigned long long)bit);
	}
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, zero_compare_size_is_einval)
{
	REQUIRE_DEVICE();
	self->req.compare_size = 0;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, offset_overflow_is_einval)
{
	REQUIRE_DEVICE();
	self->req.compare_offset = 0xffffffff;
	self->req.compare_size = 2;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, short_struct_is_einval)
{
	REQUIRE_DEVICE();
	self->req.size = BPFCMPDEL_REQ_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.size = 0;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

/* A caller built against a future, longer request struct. */
struct bigger_req {
	struct bpfcmpdel_req req;
	__u64 future[4];
};

TEST_F(abi, longer_struct_with_zero_tail_works)
{
	struct bigger_req big = { .req = self->req };

	REQUIRE_DEVICE();
	big.req.size = sizeof(big);
	EXPECT_EQ(0, raw_ioctl(BPFCMPDEL_IOC_DELETE, &big));
	EXPECT_FALSE(abi_key_present(self));
}

TEST_F(abi, longer_struct_with_nonzero_tail_is_e2big)
{
	struct bigger_req big = { .req = self->req };

	REQUIRE_DEVICE();
	big.req.size = sizeof(big);
	big.future[3] = 1;
	EXPECT_EQ(-E2BIG, raw_ioctl(BPFCMPDEL_IOC_DELETE, &big));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, unknown_command_is_enotty)
{
	REQUIRE_DEVICE();
	EXPECT_EQ(-ENOTTY, raw_ioctl(_IOW(BPFCMPDEL_IOC_MAGIC, 2, struct bpfcmpdel_req),
				     &self->req));
	EXPECT_EQ(-ENOTTY, raw_ioctl(_IOR(BPFCMPDEL_IOC_MAGIC, 1, struct bpfcmpdel_req),
				     &self->req));
	EXPECT_EQ(-ENOTTY, raw_ioctl(_IOW('X', 1, struct bpfcmpdel_req), &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, bad_pointers_are_efault)
{
	void *unmapped;

	REQUIRE_DEVICE();
	unmapped = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	ASSERT_EQ(0, munmap(unmapped, 4096));

	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, NULL));
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, unmapped));

	self->req.key = 0;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.key = (__u64)(uintptr_t)unmapped;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));

	self->req.key = (__u64)(uintptr_t)&self->key;
	self->req.expected = 0;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.expected = (__u64)(uintptr_t)unmapped;
	EXPECT_EQ(-EFAULT, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}

TEST_F(abi, request_larger_than_a_page_is_e2big)
{
	size_t len = 2 * (size_t)sysconf(_SC_PAGESIZE);
	struct bpfcmpdel_req *big = calloc(1, len);

	REQUIRE_DEVICE();
	ASSERT_NE(NULL, big);
	*big = self->req;
	big->size = (__u32)sysconf(_SC_PAGESIZE) + 1;
	EXPECT_EQ(-E2BIG, raw_ioctl(BPFCMPDEL_IOC_DELETE, big));
	/* Far larger, and mostly unmapped: refused before any of it is read. */
	big->size = 0xffffffffu;
	EXPECT_EQ(-E2BIG, raw_ioctl(BPFCMPDEL_IOC_DELETE, big));
	EXPECT_TRUE(abi_key_present(self));
	free(big);
}

TEST_F(abi, reserved_and_mode_fields_must_be_zero)
{
	REQUIRE_DEVICE();
	self->req.reserved = 1;
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.reserved = 0;
	self->req.cpu = 1;	/* without BPFCMPDEL_F_CPU */
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	self->req.cpu = 0;
	self->req.tombstone = 1;	/* without BPFCMPDEL_F_TOMBSTONE */
	EXPECT_EQ(-EINVAL, raw_ioctl(BPFCMPDEL_IOC_DELETE, &self->req));
	EXPECT_TRUE(abi_key_present(self));
}
