// SPDX-License-Identifier: GPL-2.0
/*
 * Who may delete: read-only, frozen and write-only maps and fds, the
 * device's own permissions, and BPF-LSM policies seeing each request.
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- permissions -------------------------------------------------------- */

TEST(read_only_fd_is_eperm)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, ro, .open_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 1, value = 7;
	int fd, ro_fd;

	REQUIRE_DEVICE();
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	ro_fd = bpf_map_get_fd_by_id_opts(info.id, &ro);
	ASSERT_GE(ro_fd, 0);
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(ro_fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &value));
	/* The same map through a writable fd: the permission was the fd's. */
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(ro_fd);
	close(fd);
}

TEST(syscall_read_only_map_is_eperm)
{
	LIBBPF_OPTS(bpf_map_create_opts, ro, .map_flags = BPF_F_RDONLY);
	__u32 key = 1, value = 7;
	int fd;

	REQUIRE_DEVICE();
	/* Read-only to syscalls, so it cannot be filled: key 1 is absent... */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_rdonly", 4, 4, 8, &ro);
	ASSERT_GE(fd, 0);
	/* ...but the permission check comes before any lookup. */
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(fd);
}

TEST(frozen_map_is_eperm)
{
	__u32 key = 1, value = 7;
	int fd;

	REQUIRE_DEVICE();
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_freeze(fd));
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &value));
	close(fd);
}

TEST(device_is_root_only)
{
	pid_t pid;
	int status;

	REQUIRE_DEVICE();
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open(BPFCMPDEL_DEVICE, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* --- security modules see the delete, as bpf() lets them ---------------- */

/*
 * The policy of tests/bpf/lsm.bpf.c, live for this process; NULL with
 * *@why set where BPF-LSM programs cannot run.
 */
static struct lsm_bpf *lsm_attach(const char **why)
{
	struct lsm_bpf *skel;

	skel = lsm_bpf__open_and_load();
	if (!skel) {
		/* The policy reads bpf_attr with bpf_probe_read_kernel(). */
		*why = lockdown_confidential() ? LOCKDOWN_CONFIDENTIAL_WHY :
		       "no BPF LSM on this kernel";
		return NULL;
	}
	skel->bss->target_pid = getpid();
	skel->bss->target_fd = -1;
	if (!lsm_bpf__attach(skel))
		return skel;
	/*
	 * An LSM program attaches through a trampoline patched over the
	 * hook's __fentry__ call, which a kernel built without function
	 * tracing (the debug kernels' defconfig base) does not have.
	 */
	*why = kallsyms_addr("__fentry__", "Tt", "") ? "attach failed" :
	       "BPF-LSM programs cannot attach: no __fentry__ (kernel built without CONFIG_FUNCTION_TRACER)";
	lsm_bpf__destroy(skel);
	return NULL;
}

#define LSM_ATTACH(skel)						\
	do {								\
		const char *why = NULL;					\
									\
		skel = lsm_attach(&why);				\
		if (!skel && why && strcmp(why, "attach failed"))	\
			SKIP(return, "%s", why);			\
		ASSERT_NE(NULL, skel) TH_LOG("%s", why);		\
	} while (0)

TEST(lsm_denial_applies)
{
	__u32 key = 1, value = 7;
	struct lsm_bpf *skel;
	int fd;

	REQUIRE_DEVICE();
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	LSM_ATTACH(skel);
	skel->bss->target_fd = fd;
	/* The policy is live: the syscall itself is refused... */
	EXPECT_EQ(-1, bpf_map_delete_elem(fd, &key));
	EXPECT_EQ(EPERM, errno);
	/* ...and so is the same delete through the device. */
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(2, skel->bss->denied);
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, &value));
	lsm_bpf__destroy(skel);
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	close(fd);
}

/*
 * The hook is asked with the attr of the command a request stands for: a
 * policy reading batch.map_fd denies batches and sweeps of that map and
 * of no other, and sees the pointers and counts the request carries.
 */
TEST(lsm_sees_each_command_s_attr)
{
	__u32 key = 1, value = 7, newer = 8, count = 1, nr;
	unsigned char keys[4 * 4];
	__u64 cursor = 0;
	__s32 result;
	struct lsm_bpf *skel;
	int denied_fd, fd;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = 4);

	REQUIRE_DEVICE();
	denied_fd = create_u32_hash(0);
	fd = create_u32_hash(0);
	ASSERT_GE(denied_fd, 0);
	ASSERT_GE(fd, 0);
	LSM_ATTACH(skel);
	skel->bss->batch_target_fd = denied_fd;
	skel->bss->deny_batch = 1;

	/* Live for the syscall's own batch delete... */
	EXPECT_EQ(-1, bpf_map_delete_batch(denied_fd, &key, &count, NULL));
	EXPECT_EQ(EPERM, errno);
	/* ...and for the device's batch and sweep on that map. */
	count = 1;
	EXPECT_EQ(-EPERM, bpfcmpdel_delete_batch(denied_fd, &key, &value, &result,
						 &count, 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_sweep(denied_fd, &cursor, 0, 4, 100, &nr, &so));
	EXPECT_EQ(3, skel->bss->batch_denied);
	EXPECT_EQ(0, bpf_map_lookup_elem(denied_fd, &key, &value));

	/* Another map: allowed, and the hook saw this request's fields. */
	EXPECT_EQ(0, bpfcmpdel_update(fd, &key, &value, &newer, 0, 4, NULL));
	EXPECT_EQ(fd, skel->bss->seen_update.map_fd);
	EXPECT_EQ((uintptr_t)&key, skel->bss->seen_update.key);
	EXPECT_EQ((uintptr_t)&newer, skel->bss->seen_update.value);
	EXPECT_EQ(BPF_EXIST, skel->bss->seen_update.flags);
	count = 1;
	EXPECT_EQ(0, bpfcmpdel_delete_batch(fd, &key, &value, &result, &count,
					    0, 4, NULL));
	EXPECT_EQ(-EBUSY, result);
	EXPECT_EQ(BPF_MAP_DELETE_BATCH, skel->bss->seen_delete_batch.cmd);
	EXPECT_EQ(fd, skel->bss->seen_delete_batch.map_fd);
	EXPECT_EQ((uintptr_t)&key, skel->bss->seen_delete_batch.key);
	EXPECT_EQ(1, skel->bss->seen_delete_batch.count);
	EXPECT_EQ(0, bpfcmpdel_sweep(fd, &cursor, 0, 4, 100, &nr, &so));
	EXPECT_EQ(1, nr);
	EXPECT_EQ(BPF_MAP_LOOKUP_AND_DELETE_BATCH,
		  skel->bss->seen_lookup_and_delete_batch.cmd);
	EXPECT_EQ(fd, skel->bss->seen_lookup_and_delete_batch.map_fd);
	EXPECT_EQ((uintptr_t)keys, skel->bss->seen_lookup_and_delete_batch.key);
	EXPECT_EQ(4, skel->bss->seen_lookup_and_delete_batch.count);
	EXPECT_EQ(3, skel->bss->batch_denied);
	lsm_bpf__destroy(skel);
	close(fd);
	close(denied_fd);
}

/* --- reading needs the right to read --------------------------------------- */

/*
 * Every request through a write-only fd: -EPERM, nothing changed.  The
 * fd may write (the syscall's delete works through it), not read.
 */
static void write_only_refused(struct __test_metadata *_metadata, int wfd, int rfd)
{
	__u32 key = 1, value = 7, newer = 8, count = 1, nr = 5;
	__s32 result = 1;
	__u64 cursor = 0;
	unsigned char keys[4];
	BPFCMPDEL_SWEEP_OPTS(so, .keys = keys, .max_out = 1);

	EXPECT_EQ(-EPERM, bpfcmpdel_delete(wfd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_update(wfd, &key, &value, &newer, 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_delete_batch(wfd, &key, &value, &result, &count,
						 0, 4, NULL));
	EXPECT_EQ(-EPERM, bpfcmpdel_sweep(wfd, &cursor, 0, 4, 100, &nr, &so));
	EXPECT_EQ(0, nr);
	/* The map as it was, through a fd that may read it. */
	EXPECT_EQ(0, bpf_map_lookup_elem(rfd, &key, &value));
	EXPECT_EQ(7, value);
	/* The fd's right to write is real: the plain delete goes through. */
	EXPECT_EQ(0, bpf_map_delete_elem(wfd, &key));
	EXPECT_EQ(-1, bpf_map_lookup_elem(wfd, &key, &value));
	EXPECT_EQ(EPERM, errno);
}

TEST(write_only_fds_are_eperm)
{
	LIBBPF_OPTS(bpf_map_create_opts, wo, .map_flags = BPF_F_WRONLY);
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, wo_id, .open_flags = BPF_F_WRONLY);
	LIBBPF_OPTS(bpf_obj_get_opts, wo_get, .file_flags = BPF_F_WRONLY);
	char dir[] = "/cmpdel-bpffs-XXXXXX", pin[64];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 1, value = 7;
	int fd, wfd, rfd;

	REQUIRE_DEVICE();
	/* Created write-only: the creating fd is, the map is readable by id. */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_wronly", 4, 4, 8, &wo);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	rfd = bpf_map_get_fd_by_id(info.id);
	ASSERT_GE(rfd, 0);
	write_only_refused(_metadata, fd, rfd);
	close(rfd);
	close(fd);

	/* Opened write-only, by id and through a pin. */
	fd = create_u32_hash(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	wfd = bpf_map_get_fd_by_id_opts(info.id, &wo_id);
	ASSERT_GE(wfd, 0);
	write_only_refused(_metadata, wfd, fd);
	close(wfd);

	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, mount("bpf", dir, "bpf", 0, NULL)) TH_LOG("mount bpffs: %s",
							       strerror(errno));
	snprintf(pin, sizeof(pin), "%s/map", dir);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	ASSERT_EQ(0, bpf_obj_pin(fd, pin));
	wfd = bpf_obj_get_opts(pin, &wo_get);
	EXPECT_GE(wfd, 0);
	if (wfd >= 0) {
		write_only_refused(_metadata, wfd, fd);
		close(wfd);
	}
	unlink(pin);
	umount(dir);
	rmdir(dir);
	close(fd);
}
