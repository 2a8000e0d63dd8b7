// SPDX-License-Identifier: GPL-2.0
/*
 * The counters operators read (/sys/class/misc/bpfcmpdel/stats).
 * #included by bpfcmpdel_test.c, not compiled on its own.
 */

/* --- the counters operators read ------------------------------------------- */

#define STATS_FILE "/sys/class/misc/bpfcmpdel/stats"

/* Counter @name now, or ~0 when it cannot be read. */
static __u64 stat_of(const char *name)
{
	char line[128], got[64];
	unsigned long long v;
	__u64 ret = ~0ULL;
	FILE *f = fopen(STATS_FILE, "r");

	if (!f)
		return ret;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %llu", got, &v) == 2 && !strcmp(got, name))
			ret = v;
	fclose(f);
	return ret;
}

enum { ST_DEL, ST_UPD, ST_BATCH, ST_SWEEP, ST_KDEL, ST_KUPD, ST_KSWEEP,
       ST_DELETED, ST_SWAPPED, ST_CHANGED, ST_ABSENT, ST_RETRIED, ST_REFUSED,
       ST_SCANNED, NR_ST };

static const char *const stat_names[NR_ST] = {
	"requests_delete", "requests_update", "requests_batch", "requests_sweep",
	"kfunc_delete", "kfunc_update", "kfunc_sweep", "deleted", "swapped",
	"changed", "absent", "retried", "refused", "scanned",
};

static void stats_read(struct __test_metadata *_metadata, __u64 *v)
{
	int i;

	for (i = 0; i < NR_ST; i++) {
		v[i] = stat_of(stat_names[i]);
		ASSERT_NE(~0ULL, v[i]) TH_LOG("%s", stat_names[i]);
	}
}

/*
 * Each request counted once, each element by its result: nothing else
 * uses the module while the suite runs, so the deltas are exact.
 */
TEST(stats_count_what_requests_did)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, wo, .open_flags = BPF_F_WRONLY);
	__u64 before[NR_ST], after[NR_ST], cursor = 0;
	__u32 keys[3] = { 1, 2, 9 }, vals[3] = { 7, 0, 0 }, key, value, newer = 9;
	__u32 count = 3, nr, len;
	struct bpf_map_info info = {};
	unsigned char out[4 * 8];
	__s32 results[3];
	int fd, wfd, i;
	BPFCMPDEL_SWEEP_OPTS(so, .keys = out, .max_out = 8);

	REQUIRE_DEVICE();
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cmpdel_stats", 4, 4, 16, NULL);
	ASSERT_GE(fd, 0);
	for (key = 1; key <= 6; key++) {
		value = key + 6;	/* 7..12 */
		ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	}
	len = sizeof(info);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	wfd = bpf_map_get_fd_by_id_opts(info.id, &wo);
	ASSERT_GE(wfd, 0);
	stats_read(_metadata, before);

	key = 3;
	value = 0;
	EXPECT_EQ(-EBUSY, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	value = 9;
	EXPECT_EQ(0, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	EXPECT_EQ(-ENOENT, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	key = 4;
	value = 10;
	EXPECT_EQ(0, bpfcmpdel_update(fd, &key, &value, &newer, 0, 4, NULL));
	/* 1 deleted, 2 changed (it holds 8), 9 absent. */
	EXPECT_EQ(0, bpfcmpdel_delete_batch(fd, keys, vals, results, &count, 0, 4, NULL));
	/* The rest, below 13: 2, 4, 5, 6 go; all four looked at. */
	EXPECT_EQ(0, bpfcmpdel_sweep(fd, &cursor, 0, 4, 13, &nr, &so));
	EXPECT_EQ(4, nr);
	EXPECT_EQ(-EPERM, bpfcmpdel_delete(wfd, &key, &value, 0, 4, NULL));
	key = 20;
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, &value, BPF_ANY));
	ASSERT_EQ(0, lock_fail_after(0));
	EXPECT_EQ(-EAGAIN, bpfcmpdel_delete(fd, &key, &value, 0, 4, NULL));
	ASSERT_EQ(0, lock_fail_after(-1));

	stats_read(_metadata, after);
	{
		const __u64 want[NR_ST] = {
			[ST_DEL] = 5, [ST_UPD] = 1, [ST_BATCH] = 1, [ST_SWEEP] = 1,
			[ST_DELETED] = 1 + 1 + 4, [ST_SWAPPED] = 1, [ST_CHANGED] = 1 + 1,
			[ST_ABSENT] = 1 + 1, [ST_RETRIED] = 1, [ST_REFUSED] = 1,
			[ST_SCANNED] = 4,
		};

		for (i = 0; i < NR_ST; i++) {
			EXPECT_EQ(want[i], after[i] - before[i])
				TH_LOG("%s", stat_names[i]);
		}
	}
	close(wfd);
	close(fd);
}
