// SPDX-License-Identifier: GPL-2.0
/*
 * Compare-and-swap (bpfcmpdel_update): plain, lock mode, one CPU's slot,
 * and racing a BPF program's atomic updates.
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- compare-and-swap ----------------------------------------------------- */

TEST(cas_swaps_only_the_expected)
{
	unsigned char key[16];
	__u64 v[3], want = 9, fresh = 77, stale = 1;
	__u32 w4 = 0, n4 = 5;
	int fd;

	REQUIRE_DEVICE();
	fd = batch_map(BPF_MAP_TYPE_HASH, 0, 8);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, batch_fill(fd, 4));
	batch_key(key, 3);
	EXPECT_EQ(-EBUSY, bpfcmpdel_update(fd, key, &stale, &fresh, 8, 8, NULL));
	EXPECT_EQ(0, bpfcmpdel_update(fd, key, &want, &fresh, 8, 8, NULL));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, key, v));
	EXPECT_EQ(77, v[1]);
	EXPECT_EQ(3, v[0]);
	EXPECT_EQ(~3ULL, v[2]);
	/* A 4-byte word: the low half of v[0] (3). */
	w4 = 3;
	EXPECT_EQ(0, bpfcmpdel_update(fd, key, &w4, &n4, 0, 4, NULL));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, key, v));
	EXPECT_EQ(5, v[0]);
	batch_key(key, 100);
	EXPECT_EQ(-ENOENT, bpfcmpdel_update(fd, key, &want, &fresh, 8, 8, NULL));
	/* Unaligned, wider than a word, or no new bytes: refused. */
	batch_key(key, 2);
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, key, &want, &fresh, 4, 8, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, key, v, v, 0, 16, NULL));
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, key, &want, NULL, 8, 8, NULL));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, key, v));
	EXPECT_EQ(6, v[1]);
	close(fd);
}

TEST(cas_lock_mode_and_percpu)
{
	BPFCMPDEL_OPTS(lock, .flags = BPFCMPDEL_F_LOCK);
	BPFCMPDEL_OPTS(cpu, .flags = BPFCMPDEL_F_CPU, .cpu = 0);
	__u32 key = 0, value[2] = { 5, 0 }, nv = 6, k = 1;
	__u64 *pc;
	int fd, ncpus = libbpf_num_possible_cpus();

	REQUIRE_DEVICE();
	fd = create_spin_lock_map();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, value, BPF_ANY));
	EXPECT_EQ(0, bpfcmpdel_update(fd, &key, &value[0], &nv, 0, 4, &lock));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &key, value));
	EXPECT_EQ(6, value[0]);
	close(fd);

	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "cmpdel_cpc", 4, 8, 4, NULL);
	ASSERT_GE(fd, 0);
	pc = calloc(ncpus, 8);
	ASSERT_NE(NULL, pc);
	pc[0] = 10;
	ASSERT_EQ(0, bpf_map_update_elem(fd, &k, pc, 0));
	EXPECT_EQ(-EINVAL, bpfcmpdel_update(fd, &k, &pc[0], &(__u64){ 11 }, 0, 8, NULL));
	EXPECT_EQ(0, bpfcmpdel_update(fd, &k, &pc[0], &(__u64){ 11 }, 0, 8, &cpu));
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &k, pc));
	EXPECT_EQ(11, pc[0]);
	free(pc);
	close(fd);
}

struct cas_race {
	struct ct_bpf *skel;
	struct ct_key key;
	__u32 rounds;
	int errors;
};

static void *cas_bpf_bumper(void *arg)
{
	struct cas_race *r = arg;
	struct ct_packet pkt = { .key = r->key };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &pkt,
		    .data_size_in = sizeof(pkt));
	__u32 i;

	for (i = 0; i < r->rounds; i++)
		if (bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.bump), &run) ||
		    run.retval != XDP_PASS)
			r->errors++;
	return NULL;
}

/* Userspace CAS increments racing a BPF program's atomic ones: none lost. */
TEST(cas_races_bpf_atomic_updates)
{
	struct cas_race r = { .rounds = 3000 };
	struct ct_entry e = { .lifetime = 1 };
	__u32 i, mine = 0, busy = 0;
	pthread_t t;
	__u64 cur;
	int fd, ret;

	REQUIRE_DEVICE();
	r.skel = ct_bpf__open_and_load();
	ASSERT_NE(NULL, r.skel);
	fd = bpf_map__fd(r.skel->maps.ct_lru);
	r.key.saddr = 1;
	ASSERT_EQ(0, bpf_map_update_elem(fd, &r.key, &e, BPF_NOEXIST));
	ASSERT_EQ(0, pthread_create(&t, NULL, cas_bpf_bumper, &r));
	for (i = 0; i < r.rounds; i++) {
		do {
			ASSERT_EQ(0, bpf_map_lookup_elem(fd, &r.key, &e));
			cur = e.packets;
			ret = bpfcmpdel_update(fd, &r.key, &cur, &(__u64){ cur + 1 },
					       offsetof(struct ct_entry, packets), 8, NULL);
			busy += ret == -EBUSY;
		} while (ret == -EBUSY);
		ASSERT_EQ(0, ret);
		mine++;
	}
	pthread_join(t, NULL);
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &r.key, &e));
	TH_LOG("%u CAS retries", busy);
	EXPECT_EQ(0, r.errors);
	EXPECT_EQ(2ULL * r.rounds, e.packets);
	EXPECT_EQ(r.rounds, mine);
	ct_bpf__destroy(r.skel);
}
