// SPDX-License-Identifier: GPL-2.0
/*
 * The kfuncs (bpfcmpdel/kfuncs.bpf.h): the ioctls' results, modes and
 * checks through BPF programs of each type BPF_PROG_TEST_RUN runs, on the
 * kernels where the module has BTF of its own; elsewhere, the reason why
 * not.  #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- kfuncs ----------------------------------------------------------------- */

#define KFUNCS_FILE "/sys/class/misc/bpfcmpdel/kfuncs"
#define MODULE_BTF "/sys/kernel/btf/bpfcmpdel"

/* The module's word on its kfuncs: "available: ..." or "unavailable: why". */
static bool kfuncs_state(char *buf, size_t len)
{
	FILE *f = fopen(KFUNCS_FILE, "r");
	bool ok;

	buf[0] = '\0';
	if (!f)
		return false;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* Linux @major.@minor or later is running. */
static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &ma, &mi);
	return ma > major || (ma == major && mi >= minor);
}

/*
 * Present exactly when the kernel took the module's BTF: the handle
 * kfuncs on every kernel, and those taking a map where the verifier can
 * vouch for one (6.9+: __map arguments); else unavailable, saying why.
 * make check builds the module with BTF on every kernel it boots.
 */
TEST(kfuncs_registered_where_module_has_btf)
{
	char state[256];

	REQUIRE_DEVICE();
	ASSERT_TRUE(kfuncs_state(state, sizeof(state)));
	TH_LOG("kfuncs: %s", state);
	ASSERT_EQ(0, access(MODULE_BTF, F_OK)) TH_LOG("no module BTF: %s", state);
	if (kernel_at_least(6, 9)) {
		EXPECT_STREQ("available: delete update sweep handle_delete handle_update handle_sweep",
			     state);
	} else {
		EXPECT_STREQ("available: handle_delete handle_update handle_sweep", state);
	}
}

#define REQUIRE_KFUNCS()						\
	do {								\
		char state_[256];					\
		REQUIRE_DEVICE();					\
		if (!kfuncs_state(state_, sizeof(state_)) ||		\
		    strncmp(state_, "available", 9))			\
			SKIP(return, "kfuncs %s", state_);		\
	} while (0)

/* The kfuncs that take a map exist (6.9+), not only those taking handles. */
static bool kfuncs_take_maps(void)
{
	char state[256];

	return kfuncs_state(state, sizeof(state)) && strstr(state, " delete ");
}

/* One call's request, as a test writes it; see struct bpfcmpdel_kreq. */
struct kf_req {
	__u64 flags;
	__u32 offset, size, cpu, reserved;
	__u64 tombstone;
	const void *expected;
	__u32 expected_len;
	const void *value;	/* KF_UPDATE: @size new bytes */
	__u32 pad;		/* zero bytes after the data, or with @pad_byte */
	__u8 pad_byte;
};

static void kf_set(struct kfunc_bpf *skel, enum kf_map map, enum kf_cmd cmd,
		   __u32 key, const struct kf_req *r)
{
	struct kf_call *c = &skel->bss->call;
	struct bpfcmpdel_kreq *h = (void *)c->req;
	__u8 *data = (__u8 *)c->req + sizeof(*h);
	__u32 len = r->expected_len;

	memset(c, 0, sizeof(*c));
	c->map = map;
	c->cmd = cmd;
	c->key_size = sizeof(key);
	memcpy(c->key, &key, sizeof(key));
	h->flags = r->flags;
	h->compare_offset = r->offset;
	h->compare_size = r->size;
	h->cpu = r->cpu;
	h->reserved = r->reserved;
	h->tombstone = r->tombstone;
	memcpy(data, r->expected, len);
	if (cmd == KF_UPDATE) {
		memcpy(data + len, r->value, r->size);
		len += r->size;
	}
	memset(data + len, r->pad_byte, r->pad);
	c->req_size = sizeof(*h) + len + r->pad;
}

enum kf_prog { KF_SYSCALL, KF_XDP, KF_TC };

/* Run one program once on the call as set; its kfunc's result. */
static int kf_run(struct kfunc_bpf *skel, enum kf_prog which)
{
	struct bpf_program *progs[] = {
		skel->progs.kf_syscall, skel->progs.kf_xdp, skel->progs.kf_tc,
	};
	unsigned char pkt[64] = { 0 };	/* an Ethernet frame's worth */
	LIBBPF_OPTS(bpf_test_run_opts, packet, .data_in = pkt,
		    .data_size_in = sizeof(pkt), .repeat = 1);
	LIBBPF_OPTS(bpf_test_run_opts, plain);
	__u32 runs = skel->bss->call.runs;
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(progs[which]),
				     which == KF_SYSCALL ? &plain : &packet);
	if (err)
		return err;
	/* Not a kfunc result: the program did not run once. */
	if (skel->bss->call.runs != runs + 1)
		return 1000;
	return skel->bss->call.result;
}

static int kf_map_fd(struct kfunc_bpf *skel, enum kf_map map)
{
	struct bpf_map *maps[NR_KF_MAPS] = {
		skel->maps.kf_hash, skel->maps.kf_lru, skel->maps.kf_percpu,
		skel->maps.kf_locked, skel->maps.kf_array, skel->maps.kf_rdonly,
	};

	return bpf_map__fd(maps[map]);
}

static __u32 kf_map_id(struct kfunc_bpf *skel, enum kf_map map)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(kf_map_fd(skel, map), &info, &len))
		return 0;
	return info.id;
}

static int kf_put(struct kfunc_bpf *skel, enum kf_map map, __u32 key,
		  __u64 lifetime, __u64 created)
{
	struct kf_value v = { lifetime, created };

	return bpf_map_update_elem(kf_map_fd(skel, map), &key, &v, BPF_ANY);
}

static bool kf_has(struct kfunc_bpf *skel, enum kf_map map, __u32 key)
{
	__u64 v[64];	/* room for a per-CPU value */

	return !bpf_map_lookup_elem(kf_map_fd(skel, map), &key, v);
}

/* A sweep's call: @req, and room for @out_size bytes of keys. */
static void kf_sweep_set(struct kfunc_bpf *skel, enum kf_map map,
			 const struct bpfcmpdel_ksweep *req, __u32 out_size)
{
	struct kf_call *c = &skel->bss->call;

	memset(c, 0, sizeof(*c));
	c->map = map;
	c->cmd = KF_SWEEP;
	memcpy(c->req, req, sizeof(*req));
	c->req_size = sizeof(*req);
	c->out_size = out_size;
}

/* The request as the kfunc left it: the cursor and the counts. */
static const struct bpfcmpdel_ksweep *kf_swept(struct kfunc_bpf *skel)
{
	return (const void *)skel->bss->call.req;
}

static __u32 kf_out_key(struct kfunc_bpf *skel, __u32 i)
{
	__u32 key;

	memcpy(&key, skel->bss->call.out + i * sizeof(key), sizeof(key));
	return key;
}

/* The device fd that made the open skeleton's handles, if it has them. */
static int kf_dev = -1;
/* Each map's handle's making: 0, or the refusal of that map. */
static int kf_handle_err[NR_KF_MAPS];

/*
 * tests/bpf/kfunc.bpf.c loaded to name its maps @by_handle (with a
 * handle for each, where the module gives one) or as helpers do.
 */
static struct kfunc_bpf *kf_open_as(bool by_handle)
{
	struct bpfcmpdel_handle_req req;
	struct kfunc_bpf *skel;
	int i;

	skel = kfunc_bpf__open();
	if (!skel)
		return NULL;
	skel->rodata->kf_by_handle = by_handle;
	if (kfunc_bpf__load(skel))
		goto fail;
	if (!by_handle)
		return skel;
	kf_dev = open(BPFCMPDEL_DEVICE, O_RDWR | O_CLOEXEC);
	if (kf_dev < 0)
		goto fail;
	for (i = 0; i < NR_KF_MAPS; i++) {
		req = (struct bpfcmpdel_handle_req){
			.size = sizeof(req), .map_fd = kf_map_fd(skel, i),
		};
		kf_handle_err[i] = ioctl(kf_dev, BPFCMPDEL_IOC_HANDLE_NEW, &req) ? -errno : 0;
		skel->bss->kf_handles[i] = req.handle;
	}
	return skel;
fail:
	kfunc_bpf__destroy(skel);
	return NULL;
}

/* By map where the kfuncs take one, else by handle (6.1). */
static struct kfunc_bpf *kf_open(void)
{
	return kf_open_as(!kfuncs_take_maps());
}

/* Closing the device fd frees the handles. */
static void kf_destroy(struct kfunc_bpf *skel)
{
	if (kf_dev >= 0)
		close(kf_dev);
	kf_dev = -1;
	kfunc_bpf__destroy(skel);
}

/*
 * What a call on @map returns where the module refuses that map with
 * @err: @err from the kfunc; by handle, @err from the handle's making,
 * and then the call names no map (-EBADF).
 */
static int kf_refused(struct kfunc_bpf *skel, enum kf_map map, int err)
{
	if (!skel->rodata->kf_by_handle)
		return err;
	return kf_handle_err[map] == err ? -EBADF : kf_handle_err[map];
}

#define KF_WORD(w) .size = 8, .expected = &(__u64){ w }, .expected_len = 8

TEST(kfunc_delete_results_as_the_ioctl)
{
	struct kf_value snap = { 7, 3 };
	struct kfunc_bpf *skel;
	__u64 calls;

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	calls = stat_of("kfunc_delete");
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 1, 10, 0));

	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(9) });
	EXPECT_EQ(-EBUSY, kf_run(skel, KF_SYSCALL));
	EXPECT_TRUE(kf_has(skel, KF_HASH, 1));
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10) });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_FALSE(kf_has(skel, KF_HASH, 1));
	EXPECT_EQ(-ENOENT, kf_run(skel, KF_SYSCALL));

	/* F_SNAPSHOT: the region cut from a whole value image. */
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 3, 7, 3));
	kf_set(skel, KF_HASH, KF_DELETE, 3, &(struct kf_req){
		.flags = BPFCMPDEL_F_SNAPSHOT, .offset = 8, .size = 8,
		.expected = &snap, .expected_len = sizeof(snap) });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_FALSE(kf_has(skel, KF_HASH, 3));

	/* F_TOMBSTONE: never the expected word itself. */
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 2, 5, 0));
	kf_set(skel, KF_HASH, KF_DELETE, 2, &(struct kf_req){
		.flags = BPFCMPDEL_F_TOMBSTONE, .tombstone = 5, KF_WORD(5) });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	EXPECT_TRUE(kf_has(skel, KF_HASH, 2));
	kf_set(skel, KF_HASH, KF_DELETE, 2, &(struct kf_req){
		.flags = BPFCMPDEL_F_TOMBSTONE, .tombstone = ~0ULL, KF_WORD(5) });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_FALSE(kf_has(skel, KF_HASH, 2));

	/* Each delete above is counted, as an ioctl's would be. */
	EXPECT_EQ(calls + 6, stat_of("kfunc_delete"));
	kf_destroy(skel);
}

/* Every bad request is refused and changes nothing. */
TEST(kfunc_bad_requests_change_nothing)
{
	struct kfunc_bpf *skel;

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 1, 10, 0));

	/* The key must be the map's size. */
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10) });
	skel->bss->call.key_size = 3;
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	/* A request shorter than its header, or than its bytes. */
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10) });
	skel->bss->call.req_size = sizeof(struct bpfcmpdel_kreq) - 1;
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	skel->bss->call.req_size = sizeof(struct bpfcmpdel_kreq) + 7;
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	/* Padding after the bytes: zero is fine, anything else is not. */
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10),
		.pad = 8, .pad_byte = 1 });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	/* Reserved bits, unknown flags, a zero region, a region outside. */
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10),
		.reserved = 1 });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10),
		.flags = 1ULL << 40 });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10),
		.offset = 12 });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	/* F_SWEEP_VALUES is the sweep's, not a delete's. */
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10),
		.flags = BPFCMPDEL_F_SWEEP_VALUES });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	EXPECT_TRUE(kf_has(skel, KF_HASH, 1));

	/* Not a hash map; a map the program may not write. */
	kf_set(skel, KF_ARRAY, KF_DELETE, 1, &(struct kf_req){ KF_WORD(0) });
	EXPECT_EQ(kf_refused(skel, KF_ARRAY, -EOPNOTSUPP), kf_run(skel, KF_SYSCALL));
	ASSERT_EQ(0, kf_put(skel, KF_RDONLY, 1, 10, 0));
	kf_set(skel, KF_RDONLY, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10) });
	EXPECT_EQ(kf_refused(skel, KF_RDONLY, -EPERM), kf_run(skel, KF_SYSCALL));
	EXPECT_TRUE(kf_has(skel, KF_RDONLY, 1));

	/* Padding that is zero: the request as a C struct carries it. */
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10),
		.pad = 8 });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	kf_destroy(skel);
}

TEST(kfunc_update_swaps_as_the_ioctl)
{
	struct kf_value v;
	struct kfunc_bpf *skel;
	__u32 key = 1;
	struct {
		__u64 lifetime;
		__u32 lock, pad;
	} lv = { 4, 0, 0 };

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 1, 10, 0));

	kf_set(skel, KF_HASH, KF_UPDATE, 1, &(struct kf_req){ KF_WORD(9),
		.value = &(__u64){ 11 } });
	EXPECT_EQ(-EBUSY, kf_run(skel, KF_SYSCALL));
	kf_set(skel, KF_HASH, KF_UPDATE, 1, &(struct kf_req){ KF_WORD(10),
		.value = &(__u64){ 11 } });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	ASSERT_EQ(0, bpf_map_lookup_elem(kf_map_fd(skel, KF_HASH), &key, &v));
	EXPECT_EQ(11, v.lifetime);
	/* Two words at once are no single compare-and-swap. */
	kf_set(skel, KF_HASH, KF_UPDATE, 1, &(struct kf_req){ .size = 16,
		.expected = &v, .expected_len = 16, .value = &v });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	kf_set(skel, KF_HASH, KF_UPDATE, 2, &(struct kf_req){ KF_WORD(10),
		.value = &(__u64){ 11 } });
	EXPECT_EQ(-ENOENT, kf_run(skel, KF_SYSCALL));

	/*
	 * F_LOCK: under the value's bpf_spin_lock; from tc, as 6.1 lets no
	 * syscall program use such a map (tests/bpf/kfunc.bpf.c).
	 */
	ASSERT_EQ(0, bpf_map_update_elem(kf_map_fd(skel, KF_LOCKED), &key, &lv, BPF_ANY));
	kf_set(skel, KF_LOCKED, KF_UPDATE, 1, &(struct kf_req){
		.flags = BPFCMPDEL_F_LOCK, KF_WORD(4), .value = &(__u64){ 5 } });
	EXPECT_EQ(0, kf_run(skel, KF_TC));
	ASSERT_EQ(0, bpf_map_lookup_elem(kf_map_fd(skel, KF_LOCKED), &key, &lv));
	EXPECT_EQ(5, lv.lifetime);
	kf_set(skel, KF_LOCKED, KF_DELETE, 1, &(struct kf_req){
		.flags = BPFCMPDEL_F_LOCK, KF_WORD(5) });
	EXPECT_EQ(0, kf_run(skel, KF_TC));
	EXPECT_FALSE(kf_has(skel, KF_LOCKED, 1));
	kf_destroy(skel);
}

TEST(kfunc_lru_and_percpu_maps)
{
	int ncpus = libbpf_num_possible_cpus();
	struct kfunc_bpf *skel;
	struct kf_value *pv;
	__u32 key = 1;
	int cpu;

	REQUIRE_KFUNCS();
	ASSERT_LE(ncpus * sizeof(*pv), KF_REQ_MAX - sizeof(struct bpfcmpdel_kreq));
	skel = kf_open();
	ASSERT_NE(NULL, skel);

	ASSERT_EQ(0, kf_put(skel, KF_LRU, 1, 10, 0));
	kf_set(skel, KF_LRU, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10) });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_FALSE(kf_has(skel, KF_LRU, 1));

	/* Every CPU's slot from a lookup snapshot, then one CPU's. */
	pv = calloc(ncpus, sizeof(*pv));
	ASSERT_NE(NULL, pv);
	for (cpu = 0; cpu < ncpus; cpu++)
		pv[cpu].lifetime = 100 + cpu;
	ASSERT_EQ(0, bpf_map_update_elem(kf_map_fd(skel, KF_PERCPU), &key, pv, BPF_ANY));
	pv[ncpus - 1].lifetime++;
	kf_set(skel, KF_PERCPU, KF_DELETE, 1, &(struct kf_req){
		.flags = BPFCMPDEL_F_SNAPSHOT, .size = 8,
		.expected = pv, .expected_len = ncpus * sizeof(*pv) });
	EXPECT_EQ(-EBUSY, kf_run(skel, KF_SYSCALL));
	pv[ncpus - 1].lifetime--;
	kf_set(skel, KF_PERCPU, KF_DELETE, 1, &(struct kf_req){
		.flags = BPFCMPDEL_F_SNAPSHOT, .size = 8,
		.expected = pv, .expected_len = ncpus * sizeof(*pv) });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_FALSE(kf_has(skel, KF_PERCPU, 1));
	ASSERT_EQ(0, bpf_map_update_elem(kf_map_fd(skel, KF_PERCPU), &key, pv, BPF_ANY));
	/* Without F_SNAPSHOT or F_CPU there is no layout for every CPU. */
	kf_set(skel, KF_PERCPU, KF_DELETE, 1, &(struct kf_req){ KF_WORD(100) });
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	kf_set(skel, KF_PERCPU, KF_DELETE, 1, &(struct kf_req){
		.flags = BPFCMPDEL_F_CPU, .cpu = 0, KF_WORD(100) });
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_FALSE(kf_has(skel, KF_PERCPU, 1));
	free(pv);
	kf_destroy(skel);
}

/* The packet paths: XDP and tc programs call them as a syscall one does. */
TEST(kfunc_from_xdp_and_tc)
{
	struct kfunc_bpf *skel;

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, kf_put(skel, KF_LRU, 1, 10, 0));
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 2, 20, 0));

	kf_set(skel, KF_LRU, KF_DELETE, 1, &(struct kf_req){ KF_WORD(9) });
	EXPECT_EQ(-EBUSY, kf_run(skel, KF_XDP));
	kf_set(skel, KF_LRU, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10) });
	EXPECT_EQ(0, kf_run(skel, KF_XDP));
	kf_set(skel, KF_HASH, KF_UPDATE, 2, &(struct kf_req){ KF_WORD(20),
		.value = &(__u64){ 21 } });
	EXPECT_EQ(0, kf_run(skel, KF_TC));
	kf_set(skel, KF_HASH, KF_DELETE, 2, &(struct kf_req){ KF_WORD(21) });
	EXPECT_EQ(0, kf_run(skel, KF_TC));
	EXPECT_FALSE(kf_has(skel, KF_LRU, 1));
	EXPECT_FALSE(kf_has(skel, KF_HASH, 2));
	kf_destroy(skel);
}

/* A bucket lock not taken: -EAGAIN, nothing changed, in every mode. */
TEST(kfunc_lock_not_taken_is_eagain)
{
	struct bpfcmpdel_ksweep sweep = { .threshold = 11, .field_size = 8 };
	struct kfunc_bpf *skel;
	int ret;

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 1, 10, 0));
	ASSERT_EQ(0, lock_fail_after(0));
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(10) });
	EXPECT_EQ(-EAGAIN, kf_run(skel, KF_SYSCALL));
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){
		.flags = BPFCMPDEL_F_TOMBSTONE, .tombstone = ~0ULL, KF_WORD(10) });
	EXPECT_EQ(-EAGAIN, kf_run(skel, KF_XDP));
	kf_set(skel, KF_HASH, KF_UPDATE, 1, &(struct kf_req){ KF_WORD(10),
		.value = &(__u64){ 11 } });
	EXPECT_EQ(-EAGAIN, kf_run(skel, KF_TC));
	/*
	 * A sweep stops at the bucket it could not lock: -EAGAIN if that was
	 * the first it came to, else 0 with its cursor there; nothing went.
	 */
	kf_sweep_set(skel, KF_HASH, &sweep, KF_OUT_MAX);
	ret = kf_run(skel, KF_SYSCALL);
	EXPECT_TRUE(ret == -EAGAIN ||
		    (!ret && kf_swept(skel)->cursor != BPFCMPDEL_SWEEP_END))
		TH_LOG("%d, cursor %llu", ret, kf_swept(skel)->cursor);
	EXPECT_EQ(0, kf_swept(skel)->nr_deleted);
	sweep.cursor = kf_swept(skel)->cursor;
	ASSERT_EQ(0, lock_fail_after(-1));
	EXPECT_TRUE(kf_has(skel, KF_HASH, 1));
	/* From there, with the lock free, it goes. */
	kf_sweep_set(skel, KF_HASH, &sweep, KF_OUT_MAX);
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_EQ(1, kf_swept(skel)->nr_deleted);
	EXPECT_FALSE(kf_has(skel, KF_HASH, 1));
	kf_destroy(skel);
}

/*
 * A whole map swept in calls of a few buckets and at most three keys,
 * from each program type in turn: every expired element goes, every key
 * that went is reported once, and nothing live is touched.
 */
TEST(kfunc_sweep_reports_every_key_it_deletes)
{
	const enum kf_prog progs[] = { KF_SYSCALL, KF_XDP, KF_TC };
	struct bpfcmpdel_ksweep req = {
		.threshold = 21, .field_size = 8, .budget = 4,
	};
	bool reported[41] = { false };
	__u64 calls, deleted;
	__u32 key, i, n = 0, rounds;
	struct kfunc_bpf *skel;

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	for (key = 1; key <= 40; key++)
		ASSERT_EQ(0, kf_put(skel, KF_HASH, key, key, 0));
	calls = stat_of("kfunc_sweep");
	deleted = stat_of("deleted");
	for (rounds = 0; req.cursor != BPFCMPDEL_SWEEP_END; rounds++) {
		ASSERT_GT(1000, rounds) TH_LOG("the cursor never reached the end");
		kf_sweep_set(skel, KF_HASH, &req, 3 * sizeof(key));
		ASSERT_EQ(0, kf_run(skel, progs[rounds % 3]));
		ASSERT_GE(3, kf_swept(skel)->nr_deleted);
		for (i = 0; i < kf_swept(skel)->nr_deleted; i++) {
			key = kf_out_key(skel, i);
			ASSERT_TRUE(key >= 1 && key <= 20) TH_LOG("key %u", key);
			ASSERT_FALSE(reported[key]) TH_LOG("key %u twice", key);
			reported[key] = true;
			EXPECT_FALSE(kf_has(skel, KF_HASH, key));
			n++;
		}
		req.cursor = kf_swept(skel)->cursor;
	}
	EXPECT_EQ(20, n);
	for (key = 21; key <= 40; key++)
		EXPECT_TRUE(kf_has(skel, KF_HASH, key)) TH_LOG("key %u", key);
	EXPECT_EQ(calls + rounds, stat_of("kfunc_sweep"));
	EXPECT_EQ(deleted + 20, stat_of("deleted"));
	kf_destroy(skel);
}

/*
 * Tombstone mode on an LRU map, the default budget: one call does it all,
 * walking buckets or (F_SWEEP_ELEMS) the element array.
 */
TEST(kfunc_sweep_tombstone_lru)
{
	const __u64 walks[] = { 0, BPFCMPDEL_F_SWEEP_ELEMS };
	struct bpfcmpdel_ksweep req = {
		.tombstone = ~0ULL, .threshold = 6, .field_size = 8,
	};
	struct kfunc_bpf *skel;
	__u32 key, i, w;

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	for (w = 0; w < ARRAY_SIZE(walks); w++) {
		for (key = 1; key <= 10; key++)
			ASSERT_EQ(0, kf_put(skel, KF_LRU, key, key, 0));
		req.flags = BPFCMPDEL_F_TOMBSTONE | walks[w];
		kf_sweep_set(skel, KF_LRU, &req, KF_OUT_MAX);
		ASSERT_EQ(0, kf_run(skel, KF_SYSCALL));
		EXPECT_EQ(BPFCMPDEL_SWEEP_END, kf_swept(skel)->cursor);
		ASSERT_EQ(5, kf_swept(skel)->nr_deleted);
		/* Elements, or every slot of the array. */
		EXPECT_EQ(walks[w] ? KF_MAX_ENTRIES : 10, kf_swept(skel)->nr_scanned);
		for (i = 0; i < 5; i++) {
			key = kf_out_key(skel, i);
			EXPECT_TRUE(key >= 1 && key <= 5) TH_LOG("key %u", key);
		}
		for (key = 1; key <= 10; key++)
			EXPECT_EQ(key > 5, kf_has(skel, KF_LRU, key)) TH_LOG("key %u", key);
	}
	kf_destroy(skel);
}

/* Every bad sweep is refused and deletes nothing; its request is left as is. */
TEST(kfunc_sweep_bad_requests_change_nothing)
{
	const struct bpfcmpdel_ksweep good = { .threshold = 100, .field_size = 8 };
	struct bpfcmpdel_ksweep r;
	struct kfunc_bpf *skel;
	__u32 key;

#define KF_BAD_SWEEP(map, want, out, ...)					\
	do {									\
		r = good;							\
		__VA_ARGS__;							\
		kf_sweep_set(skel, map, &r, out);				\
		EXPECT_EQ(want, kf_run(skel, KF_SYSCALL));			\
		EXPECT_EQ(0, memcmp(kf_swept(skel), &r, sizeof(r)));		\
	} while (0)

	REQUIRE_KFUNCS();
	skel = kf_open();
	ASSERT_NE(NULL, skel);
	for (key = 1; key <= 4; key++)
		ASSERT_EQ(0, kf_put(skel, KF_HASH, key, key, 0));

	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.reserved = 1);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.flags = BPFCMPDEL_F_SWEEP_VALUES);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.flags = 1ULL << 40);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.tombstone = 1);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.nr_deleted = 1);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.nr_scanned = 1);
	KF_BAD_SWEEP(KF_HASH, -E2BIG, KF_OUT_MAX,
		     r.budget = BPFCMPDEL_KSWEEP_BUDGET_MAX + 1);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.field_size = 2);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.field_offset = 4);
	KF_BAD_SWEEP(KF_HASH, -EINVAL, KF_OUT_MAX, r.field_offset = 16);
	/* Room for less than one key. */
	KF_BAD_SWEEP(KF_HASH, -EINVAL, sizeof(key) - 1);
	/* Per-CPU values; not a hash map; a map the program may not write. */
	KF_BAD_SWEEP(KF_PERCPU, -EINVAL, KF_OUT_MAX);
	KF_BAD_SWEEP(KF_ARRAY, kf_refused(skel, KF_ARRAY, -EOPNOTSUPP), KF_OUT_MAX);
	KF_BAD_SWEEP(KF_RDONLY, kf_refused(skel, KF_RDONLY, -EPERM), KF_OUT_MAX);
	/* A request shorter than the struct, or longer with more than zeros. */
	kf_sweep_set(skel, KF_HASH, &good, KF_OUT_MAX);
	skel->bss->call.req_size = sizeof(good) - 1;
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	kf_sweep_set(skel, KF_HASH, &good, KF_OUT_MAX);
	skel->bss->call.req_size = sizeof(good) + 8;
	((__u8 *)skel->bss->call.req)[sizeof(good) + 3] = 1;
	EXPECT_EQ(-EINVAL, kf_run(skel, KF_SYSCALL));
	for (key = 1; key <= 4; key++)
		EXPECT_TRUE(kf_has(skel, KF_HASH, key));

	/* A cursor at the end: nothing to do. */
	r = good;
	r.cursor = BPFCMPDEL_SWEEP_END;
	kf_sweep_set(skel, KF_HASH, &r, KF_OUT_MAX);
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_EQ(0, kf_swept(skel)->nr_deleted);
	EXPECT_TRUE(kf_has(skel, KF_HASH, 1));
	/* And the good one does it, zeros after it or not. */
	kf_sweep_set(skel, KF_HASH, &good, KF_OUT_MAX);
	skel->bss->call.req_size = sizeof(good) + 8;
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_EQ(4, kf_swept(skel)->nr_deleted);
	kf_destroy(skel);
#undef KF_BAD_SWEEP
}

/* BPFCMPDEL_IOC_HANDLE_NEW or _FREE on @dev: 0 or -errno; @handle in/out. */
static int handle_ioctl(int dev, unsigned long cmd, int map_fd, __u32 *handle,
			__u32 flags)
{
	struct bpfcmpdel_handle_req req = {
		.size = sizeof(req), .map_fd = map_fd, .handle = *handle,
		.flags = flags,
	};

	if (ioctl(dev, cmd, &req))
		return -errno;
	*handle = req.handle;
	return 0;
}

/*
 * On every kernel: a handle names its map to the kfuncs until it is
 * freed or its device fd is closed, and then names nothing, and never
 * the next map; only its maker frees it; making one checks the map as a
 * request does, and a bad request makes none.
 */
TEST(kfunc_handles_name_maps_until_freed)
{
	struct kfunc_bpf *skel;
	__u32 h, again, none = 0;
	int other, ro, i;

	REQUIRE_KFUNCS();
	skel = kf_open_as(true);
	ASSERT_NE(NULL, skel);
	h = skel->bss->kf_handles[KF_HASH];
	EXPECT_EQ(0, kf_handle_err[KF_HASH]);
	EXPECT_NE(0, h);
	EXPECT_NE(h, skel->bss->kf_handles[KF_LRU]);
	EXPECT_EQ(-EOPNOTSUPP, kf_handle_err[KF_ARRAY]);
	EXPECT_EQ(-EPERM, kf_handle_err[KF_RDONLY]);

	/* Each kfunc on the map its handle names, from each program. */
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 1, 10, 0));
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 2, 10, 0));
	kf_set(skel, KF_HASH, KF_UPDATE, 1, &(struct kf_req){ KF_WORD(10),
		.value = &(__u64){ 3 } });
	EXPECT_EQ(0, kf_run(skel, KF_XDP));
	kf_set(skel, KF_HASH, KF_DELETE, 1, &(struct kf_req){ KF_WORD(3) });
	EXPECT_EQ(0, kf_run(skel, KF_TC));
	EXPECT_FALSE(kf_has(skel, KF_HASH, 1));

	/* Another file cannot free it; its maker can, once. */
	other = open(BPFCMPDEL_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, other);
	EXPECT_EQ(-ENOENT, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_FREE, -1, &h, 0));
	EXPECT_EQ(0, handle_ioctl(kf_dev, BPFCMPDEL_IOC_HANDLE_FREE, -1, &h, 0));
	EXPECT_EQ(-ENOENT, handle_ioctl(kf_dev, BPFCMPDEL_IOC_HANDLE_FREE, -1, &h, 0));
	kf_set(skel, KF_HASH, KF_DELETE, 2, &(struct kf_req){ KF_WORD(10) });
	EXPECT_EQ(-EBADF, kf_run(skel, KF_SYSCALL));
	EXPECT_TRUE(kf_has(skel, KF_HASH, 2));
	/* The slot's next handle is another number: the old one stays dead. */
	again = 0;
	ASSERT_EQ(0, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW,
				  kf_map_fd(skel, KF_LRU), &again, 0));
	EXPECT_NE(h, again);
	EXPECT_EQ(h % BPFCMPDEL_HANDLES_MAX, again % BPFCMPDEL_HANDLES_MAX);
	EXPECT_EQ(-EBADF, kf_run(skel, KF_SYSCALL));

	/* Bad requests make nothing. */
	EXPECT_EQ(-EINVAL, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW,
					kf_map_fd(skel, KF_HASH), &none, 1));
	again = 1;
	EXPECT_EQ(-EINVAL, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW,
					kf_map_fd(skel, KF_HASH), &again, 0));
	EXPECT_EQ(-EINVAL, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW, other, &none, 0));
	EXPECT_EQ(-EBADF, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW, 999, &none, 0));
	ro = bpf_map_get_fd_by_id_opts(kf_map_id(skel, KF_HASH),
				       &(struct bpf_get_fd_by_id_opts){
					.sz = sizeof(struct bpf_get_fd_by_id_opts),
					.open_flags = BPF_F_RDONLY });
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EPERM, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW, ro, &none, 0));
	close(ro);
	EXPECT_EQ(0, none);

	/* The table is full at BPFCMPDEL_HANDLES_MAX, and empties on close. */
	for (i = 0; i < BPFCMPDEL_HANDLES_MAX; i++) {
		again = 0;
		if (handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW,
				 kf_map_fd(skel, KF_HASH), &again, 0))
			break;
	}
	EXPECT_EQ(-ENOSPC, handle_ioctl(other, BPFCMPDEL_IOC_HANDLE_NEW,
					kf_map_fd(skel, KF_HASH), &none, 0));
	close(other);
	h = 0;
	EXPECT_EQ(0, handle_ioctl(kf_dev, BPFCMPDEL_IOC_HANDLE_NEW,
				  kf_map_fd(skel, KF_HASH), &h, 0));
	skel->bss->kf_handles[KF_HASH] = h;
	EXPECT_EQ(0, kf_run(skel, KF_SYSCALL));
	EXPECT_FALSE(kf_has(skel, KF_HASH, 2));

	/* Closing the maker's fd frees its handles. */
	close(kf_dev);
	kf_dev = -1;
	ASSERT_EQ(0, kf_put(skel, KF_HASH, 2, 10, 0));
	EXPECT_EQ(-EBADF, kf_run(skel, KF_SYSCALL));
	EXPECT_TRUE(kf_has(skel, KF_HASH, 2));
	kf_destroy(skel);
}

/* A handle holds its map after every fd of it is closed, until freed. */
TEST(kfunc_handle_holds_its_map)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), h = 0;
	int dev, fd, i, still = -1;

	REQUIRE_KFUNCS();
	dev = open(BPFCMPDEL_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	fd = create_u32_hash(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	ASSERT_EQ(0, handle_ioctl(dev, BPFCMPDEL_IOC_HANDLE_NEW, fd, &h, 0));
	close(fd);
	fd = bpf_map_get_fd_by_id(info.id);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	close(dev);
	/* Dropped after a grace period, freed from a work item after that. */
	for (i = 0; i < 200; i++) {
		still = bpf_map_get_fd_by_id(info.id);
		if (still < 0)
			break;
		close(still);
		usleep(10000);
	}
	EXPECT_GT(0, still);
	EXPECT_EQ(ENOENT, errno);
}

static long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/bpfcmpdel/refcnt", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/*
 * The module's reference count once it stops moving: a program is freed
 * after an RCU grace period and a work item, so the earlier tests' may
 * still be letting go.  -1 if it never settles within 10 s.
 */
static long settled_refcnt(void)
{
	long last = module_refcnt(), now;
	int still = 0, i;

	for (i = 0; i < 100 && still < 10; i++) {
		usleep(100 * 1000);
		now = module_refcnt();
		still = now == last ? still + 1 : 0;
		last = now;
	}
	return still < 10 ? -1 : last;
}

/*
 * An fentry program attaches through a trampoline patched over the
 * function's __fentry__ call, which a kernel built without function
 * tracing (the debug kernels' defconfig base) does not have: there the
 * attach fails with -EBUSY, and the test cannot run.
 */
#define REQUIRE_FENTRY_ATTACH(err)						\
	do {									\
		if ((err) && !kallsyms_addr("__fentry__", "Tt", ""))		\
			SKIP(return, "fentry programs cannot attach: no __fentry__ " \
			     "(kernel built without CONFIG_FUNCTION_TRACER)");	\
	} while (0)

/*
 * A loaded program that calls a kfunc holds the module: unloading it is
 * refused while the program lives, and nothing holds it afterwards.
 */
TEST(kfunc_program_holds_the_module)
{
	struct kfunc_bpf *skel;
	long before, held;

	REQUIRE_KFUNCS();
	before = settled_refcnt();
	ASSERT_LE(0, before);
	/* Loaded alone: the device fd that makes handles holds it too. */
	skel = kfunc_bpf__open();
	ASSERT_NE(NULL, skel);
	skel->rodata->kf_by_handle = !kfuncs_take_maps();
	ASSERT_EQ(0, kfunc_bpf__load(skel));
	ASSERT_NE(NULL, skel);
	held = module_refcnt();
	EXPECT_LT(before, held);
	/* Only with the reference proven: otherwise this would unload it. */
	if (held > before) {
		EXPECT_EQ(-1, syscall(__NR_delete_module, "bpfcmpdel", O_NONBLOCK));
		EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY) TH_LOG("%s", strerror(errno));
	}
	kfunc_bpf__destroy(skel);
	EXPECT_EQ(before, settled_refcnt());
}

/*
 * Where an fentry program enters the hash-map code with a bucket lock
 * held: alloc_htab_elem(), as an element is inserted or replaced; before
 * 6.6, whose x86 trampolines take at most six arguments (it has eight),
 * check_and_free_fields(), as a replaced element's fields go.
 */
static void kf_fentry_targets(struct bpf_object *obj)
{
	const char *target = kernel_at_least(6, 6) ? "alloc_htab_elem" :
						     "check_and_free_fields";
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj)
		if (bpf_program__expected_attach_type(p) == BPF_TRACE_FENTRY)
			bpf_program__set_attach_target(p, 0, target);
}

/*
 * Opens and loads skeleton @name (a tests/bpf/kfunc_*.bpf.c) naming its
 * maps by handle (its const volatile kf_by_handle) where no kfunc takes a
 * map, its fentry programs where a bucket lock is held; NULL with
 * libbpf's errno if it does not load.
 */
#define KF_OPEN_AND_LOAD(name)						\
	({								\
		struct name *s_ = name##__open();			\
		int e_;							\
									\
		if (s_) {						\
			s_->rodata->kf_by_handle = !kfuncs_take_maps();	\
			kf_fentry_targets(s_->obj);			\
			if (name##__load(s_)) {				\
				e_ = errno;				\
				name##__destroy(s_);			\
				s_ = NULL;				\
				errno = e_;				\
			}						\
		}							\
		s_;							\
	})

/* With @by_handle, a handle for @map_fd in *@handle (kf_dev makes it). */
static int kf_handle_of(bool by_handle, int map_fd, __u32 *handle)
{
	if (!by_handle)
		return 0;
	if (kf_dev < 0)
		kf_dev = open(BPFCMPDEL_DEVICE, O_RDWR | O_CLOEXEC);
	if (kf_dev < 0)
		return -errno;
	return handle_ioctl(kf_dev, BPFCMPDEL_IOC_HANDLE_NEW, map_fd, handle, 0);
}

static void kf_handles_close(void)
{
	if (kf_dev >= 0)
		close(kf_dev);
	kf_dev = -1;
}

/* Runs @link's iterator to its end once; what read() returned last. */
static int iter_pass(struct bpf_link *link)
{
	char buf[64];
	int fd = bpf_iter_create(bpf_link__fd(link));
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0 ? -errno : 0;
}

/*
 * An in-kernel cleaner (tests/bpf/ct_gc.bpf.c's ct_clean): a map-element
 * iterator handing the kfunc the map it walks, deleting expired flows and
 * only those.  An element deleted under the walk may make it skip the
 * next one, as for bpf_map_delete_elem(): passes repeat until one deletes
 * nothing.
 */
TEST(kfunc_iterator_cleaner)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info linfo = { 0 };
	const __u64 now = 1000000;
	struct ct_gc_bpf *skel;
	struct bpf_link *link;
	struct ct_entry e = { 0 };
	struct ct_key k = { 0 };
	__u32 i, deleted = 0, pass;
	int fd;

	REQUIRE_KFUNCS();
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "cmpdel_ctit", sizeof(k),
			    sizeof(e), 4096, NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 1000; i++) {
		k.saddr = i;
		e.lifetime = i % 2 ? now - 1 - i : now + i;
		ASSERT_EQ(0, bpf_map_update_elem(fd, &k, &e, BPF_NOEXIST));
	}
	skel = ct_gc_bpf__open();
	ASSERT_NE(NULL, skel);
	bpf_program__set_autoload(skel->progs.gc_map_delete, false);
	bpf_program__set_autoload(skel->progs.gc_kfunc_tombstone, false);
	bpf_program__set_autoload(skel->progs.gc_kfunc_sweep, false);
	/* 6.1: by a handle for the map it walks, not ctx->map. */
	skel->rodata->gc_by_handle = !kfuncs_take_maps();
	ASSERT_EQ(0, ct_gc_bpf__load(skel));
	ASSERT_EQ(0, kf_handle_of(skel->rodata->gc_by_handle, fd, &skel->bss->ct_handle));
	skel->bss->clean_now = now;
	skel->bss->clean_tombstone = ~0ULL;
	linfo.map.map_fd = fd;
	opts.link_info = &linfo;
	opts.link_info_len = sizeof(linfo);
	link = bpf_program__attach_iter(skel->progs.ct_clean, &opts);
	ASSERT_NE(NULL, link);

	for (pass = 0; pass < 10; pass++) {
		__u32 before = skel->bss->clean_deleted;

		ASSERT_EQ(0, iter_pass(link));
		if (skel->bss->clean_deleted == before)
			break;
	}
	deleted = skel->bss->clean_deleted;
	TH_LOG("%u passes: scanned %u, deleted %u, kept %u", pass + 1,
	       skel->bss->clean_scanned, deleted, skel->bss->clean_kept);
	EXPECT_EQ(500, deleted);
	EXPECT_EQ(0, skel->bss->clean_other);
	for (i = 0; i < 1000; i++) {
		k.saddr = i;
		EXPECT_EQ(i % 2 == 0, bpf_map_lookup_elem(fd, &k, &e) == 0) TH_LOG("flow %u", i);
	}
	bpf_link__destroy(link);
	ct_gc_bpf__destroy(skel);
	kf_handles_close();
	close(fd);
}

/* Loads kfunc_bad.bpf.c's program @name alone: 0, or libbpf's error. */
static int kfunc_bad_load(const char *name, char *log, size_t len)
{
	struct kfunc_bad_bpf *skel = kfunc_bad_bpf__open();
	struct bpf_program *p;
	int err;

	if (!skel)
		return -errno;
	log[0] = '\0';
	bpf_object__for_each_program(p, skel->obj) {
		bool it = !strcmp(bpf_program__name(p), name);

		bpf_program__set_autoload(p, it);
		if (it) {
			bpf_program__set_log_buf(p, log, len);
			bpf_program__set_log_level(p, 1);
		}
	}
	err = kfunc_bad_bpf__load(skel);
	kfunc_bad_bpf__destroy(skel);
	return err;
}

/* The verifier's last words, where the reason is, on one line. */
static const char *log_tail(const char *log)
{
	static char line[320];
	size_t n = strlen(log), i;

	while (n && log[n - 1] == '\n')
		n--;
	snprintf(line, sizeof(line), "%.*s", (int)(n > 300 ? 300 : n),
		 log + (n > 300 ? n - 300 : 0));
	for (i = 0; line[i]; i++)
		if (line[i] == '\n')
			line[i] = '|';
	return line;
}

/* What the verifier can check, it refuses at load, not at run time. */
/* @good loads, and each of @bad is refused, at load. */
static void kfunc_bad_calls(struct __test_metadata *_metadata, const char *good,
			    const char *const bad[], size_t n)
{
	static char log[1 << 16];
	size_t i;

	EXPECT_EQ(0, kfunc_bad_load(good, log, sizeof(log))) TH_LOG("%s", log_tail(log));
	for (i = 0; i < n; i++) {
		EXPECT_NE(0, kfunc_bad_load(bad[i], log, sizeof(log))) TH_LOG("%s", bad[i]);
		TH_LOG("%s: %s", bad[i], log_tail(log));
	}
}

/*
 * What the verifier can check, it refuses at load, not at run time: for
 * the kfuncs by handle everywhere, and for those taking a map where they
 * exist.  A pointer to the map's bytes as a handle does not pass either.
 */
TEST(kfunc_verifier_refuses_bad_calls)
{
	static const char *const bad_map[] = { "kf_bad_map", "kf_bad_key", "kf_bad_req" };
	static const char *const bad_handle[] = {
		"kf_bad_handle", "kf_bad_key_handle", "kf_bad_req_handle",
	};

	REQUIRE_KFUNCS();
	kfunc_bad_calls(_metadata, "kf_good_handle", bad_handle, ARRAY_SIZE(bad_handle));
	if (kfuncs_take_maps())
		kfunc_bad_calls(_metadata, "kf_good", bad_map, ARRAY_SIZE(bad_map));
}

/*
 * Re-entered from inside the kernel's hash-map code, a bucket lock held
 * (tests/bpf/kfunc_reenter.bpf.c): on that lock, -EAGAIN at once, and the
 * kernel log stays clean; with another map's lock held, it works.
 */
TEST(kfunc_reentered_under_a_bucket_lock)
{
	struct kf_value v = { 10, 0 };
	struct kfunc_reenter_bpf *skel;
	__u32 key = 1, other = 5;
	int fd, ret;

	REQUIRE_KFUNCS();
	skel = KF_OPEN_AND_LOAD(kfunc_reenter_bpf);
	/* libbpf's answer when the kernel has no such function to attach to. */
	if (!skel && errno == ESRCH)
		SKIP(return, "no such function in this kernel's BTF");
	ASSERT_NE(NULL, skel) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, kf_handle_of(skel->rodata->kf_by_handle, bpf_map__fd(skel->maps.kr_hash),
				  &skel->bss->kr_hash_handle));
	ret = kfunc_reenter_bpf__attach(skel);
	REQUIRE_FENTRY_ATTACH(ret);
	ASSERT_EQ(0, ret);
	fd = bpf_map__fd(skel->maps.kr_hash);
	skel->bss->target_tid = gettid();
	skel->bss->reenter_key = key;
	skel->bss->reenter_expected = v.lifetime;

	/* Replacing @key's element holds its bucket's lock: the same lock, refused. */
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &v, BPF_NOEXIST));
	skel->bss->armed = true;
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &v, BPF_EXIST));
	EXPECT_FALSE(skel->bss->armed);
	EXPECT_EQ(-EAGAIN, skel->data->reenter_result);
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &v));

	/* Replacing in another map: its lock, not ours; deleted. */
	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel->maps.kr_other), &other, &v,
					 BPF_NOEXIST));
	skel->data->reenter_result = KF_NOT_CALLED;
	skel->bss->armed = true;
	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel->maps.kr_other), &other, &v,
					 BPF_EXIST));
	EXPECT_EQ(0, skel->data->reenter_result);
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, &v));
	kfunc_reenter_bpf__destroy(skel);
	kf_handles_close();
}

struct cross_updater {
	int fd, cpu;
	__u32 tid;
	volatile bool *stop;
	__u64 updates;
	int err;
};

/* Replaces the map's one element until told to stop, on one CPU. */
static void *cross_update(void *arg)
{
	struct cross_updater *u = arg;
	struct kf_value v = { 10, 0 };
	__u32 key = 0;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(u->cpu, &set);
	u->err = sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
	u->tid = gettid();
	while (!u->err && !*u->stop) {
		if (bpf_map_update_elem(u->fd, &key, &v, BPF_ANY))
			u->err = -errno;
		u->updates++;
	}
	return NULL;
}

/*
 * Crosswise (tests/bpf/kfunc_cross.bpf.c): two CPUs each hold one map's
 * bucket lock and call the kfunc on the other's.  Every call answers
 * (-EAGAIN or -EBUSY), both threads go on for the whole run, and the
 * kernel log stays clean: no ABBA deadlock, on either lock generation.
 */
TEST(kfunc_crosswise_on_two_cpus)
{
	struct cross_updater u[2] = {};
	struct kfunc_cross_bpf *skel;
	volatile bool stop = false;
	struct kf_value v = { 10, 0 };
	pthread_t t[2];
	__u32 key = 0;
	int i, ret;

	REQUIRE_KFUNCS();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: nothing runs crosswise");
	skel = KF_OPEN_AND_LOAD(kfunc_cross_bpf);
	if (!skel && errno == ESRCH)
		SKIP(return, "no such function in this kernel's BTF");
	ASSERT_NE(NULL, skel) TH_LOG("%s", strerror(errno));
	u[0].fd = bpf_map__fd(skel->maps.kc_a);
	u[1].fd = bpf_map__fd(skel->maps.kc_b);
	ASSERT_EQ(0, kf_handle_of(skel->rodata->kf_by_handle, u[0].fd, &skel->bss->kc_a_handle));
	ASSERT_EQ(0, kf_handle_of(skel->rodata->kf_by_handle, u[1].fd, &skel->bss->kc_b_handle));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, bpf_map_update_elem(u[i].fd, &key, &v, BPF_NOEXIST));
		u[i].cpu = i;
		u[i].stop = &stop;
	}
	/*
	 * Attached before the threads run: patching alloc_htab_elem()'s entry
	 * while another vCPU executes it in a loop oopses TCG guests on an
	 * int3 that the patch had already replaced (QEMU ran a stale translation
	 * of it: the oops shows the new call in place), not this module's doing.
	 */
	ret = kfunc_cross_bpf__attach(skel);
	REQUIRE_FENTRY_ATTACH(ret);
	ASSERT_EQ(0, ret);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, cross_update, &u[i]));
	/* The threads name themselves; the program acts on those alone. */
	for (i = 0; i < 1000 && (!u[0].tid || !u[1].tid); i++)
		usleep(1000);
	skel->bss->tid_a = u[0].tid;
	skel->bss->tid_b = u[1].tid;
	sleep(3);
	stop = true;
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, u[i].err) TH_LOG("thread %d: %s", i, strerror(-u[i].err));
	}
	EXPECT_GT(skel->bss->calls_a, 0);
	EXPECT_GT(skel->bss->calls_b, 0);
	EXPECT_EQ(0, skel->bss->unexpected);
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, bpf_map_lookup_elem(u[i].fd, &key, &v));
	TH_LOG("%llu and %llu calls, %llu refused (-EAGAIN)",
	       (unsigned long long)skel->bss->calls_a,
	       (unsigned long long)skel->bss->calls_b,
	       (unsigned long long)skel->bss->refused);
	kfunc_cross_bpf__destroy(skel);
	kf_handles_close();
}

/*
 * From a bpf_timer callback (tests/bpf/kfunc_timer.bpf.c), in softirq
 * context: the GC a timer drives deletes with the kfunc.
 */
TEST(kfunc_from_a_timer_callback)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt));
	struct kf_value v = { 10, 0 };
	struct kfunc_timer_bpf *skel;
	libbpf_print_fn_t old;
	const char *refusal;
	__u32 key = 1;
	int i;

	REQUIRE_KFUNCS();
	verifier_log[0] = '\0';
	old = libbpf_set_print(capture_libbpf_log);
	skel = KF_OPEN_AND_LOAD(kfunc_timer_bpf);
	libbpf_set_print(old);
	refusal = kernel_refusal(verifier_log);
	if (!skel && refusal)
		SKIP(return, "the kernel refuses: %s", refusal);
	ASSERT_NE(NULL, skel) TH_LOG("%s\n%s", strerror(errno), verifier_log);
	ASSERT_EQ(0, kf_handle_of(skel->rodata->kf_by_handle, bpf_map__fd(skel->maps.kt_hash),
				  &skel->bss->kt_hash_handle));
	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(skel->maps.kt_hash), &key, &v, BPF_ANY));
	skel->bss->gc_key = key;
	skel->bss->gc_expected = v.lifetime;
	ASSERT_EQ(0, bpf_prog_test_run_opts(bpf_program__fd(skel->progs.arm_gc), &run));
	ASSERT_EQ(0, run.retval);
	for (i = 0; i < 200 && skel->data->gc_result == KF_NOT_CALLED; i++)
		usleep(10 * 1000);
	EXPECT_EQ(0, skel->data->gc_result);
	EXPECT_NE(0, bpf_map_lookup_elem(bpf_map__fd(skel->maps.kt_hash), &key, &v));
	kfunc_timer_bpf__destroy(skel);
	kf_handles_close();
}
