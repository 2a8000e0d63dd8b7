// SPDX-License-Identifier: GPL-2.0
/*
 * The bpfcmpdel command, run as an operator would: parsing and every error
 * path (on the host too, no module needed), and each subcommand against
 * the real module in the VM.  $BPFCMPDEL_CLI names the binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

#include "kselftest_harness.h"

struct run {
	int status;
	char out[8192];
	char err[4096];
};

static void slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	buf[n] = '\0';
}

/* Runs the CLI with the NULL-terminated @args; -1 status if it crashed. */
static void cli(struct run *r, char *const *args)
{
	const char *bin = getenv("BPFCMPDEL_CLI") ?: "bpfcmpdel";
	char *argv[64];
	int out[2], err[2], n = 0, st;
	pid_t pid;

	argv[n++] = (char *)bin;
	while (n < 63 && (argv[n] = args[n - 1]))
		n++;
	argv[n] = NULL;
	if (pipe(out) || pipe(err)) {
		r->status = -2;
		return;
	}
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		execvp(bin, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	slurp(out[0], r->out, sizeof(r->out));
	slurp(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define CLI(r, ...) cli(r, (char *[]){ __VA_ARGS__, NULL })

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool device_present(void)
{
	return access(BPFCMPDEL_DEVICE, F_OK) == 0;
}

/* A map with an id to name: 4-byte keys, 16-byte values. */
static int make_map(enum bpf_map_type type, char *id, size_t len)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	int fd;

	fd = bpf_map_create(type, "cli_test", 4, 16, 64, NULL);
	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen)) {
		close(fd);
		return -1;
	}
	snprintf(id, len, "%u", info.id);
	return fd;
}

#define NEED_MAP(fd, id)						\
	do {								\
		fd = make_map(BPF_MAP_TYPE_HASH, id, sizeof(id));	\
		if (fd < 0)						\
			SKIP(return, "no BPF maps here: %s", strerror(errno)); \
	} while (0)

/* One clear line on stderr and the status, for each kind of bad input. */
#define EXPECT_FAILS(r, want)						\
	do {								\
		EXPECT_EQ(want, (r).status) TH_LOG("stderr: %s", (r).err); \
		EXPECT_EQ(1, lines((r).err)) TH_LOG("stderr: %s", (r).err); \
	} while (0)

TEST(help_everywhere)
{
	static char *const cmds[] = { "info", "delete", "update", "gc", "stats" };
	struct run r;
	size_t i;

	CLI(&r, "--help");
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "Usage:"));
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		CLI(&r, cmds[i], "help");
		EXPECT_EQ(0, r.status) TH_LOG("%s help", cmds[i]);
		EXPECT_NE(NULL, strstr(r.out, "Usage:")) TH_LOG("%s help", cmds[i]);
		CLI(&r, cmds[i], "--help");
		EXPECT_EQ(0, r.status) TH_LOG("%s --help", cmds[i]);
	}
}

TEST(bad_commands)
{
	struct run r;

	cli(&r, (char *[]){ NULL });
	EXPECT_EQ(64, r.status);
	CLI(&r, "frobnicate");
	EXPECT_FAILS(r, 64);
	CLI(&r, "--bogus");
	EXPECT_EQ(64, r.status);
	CLI(&r, "delete");
	EXPECT_FAILS(r, 64);
	CLI(&r, "delete", "byname", "x");
	EXPECT_FAILS(r, 64);
	CLI(&r, "delete", "id", "abc");
	EXPECT_FAILS(r, 64);
	CLI(&r, "info", "extra");
	EXPECT_FAILS(r, 64);
}

TEST(unknown_maps)
{
	struct run r;

	CLI(&r, "delete", "pinned", "/nonexistent/map", "key", "1");
	EXPECT_FAILS(r, 66);
	CLI(&r, "delete", "id", "4000000000", "key", "1");
	EXPECT_EQ(1, lines(r.err)) TH_LOG("stderr: %s", r.err);
	EXPECT_TRUE(r.status == 66 || r.status == 77) TH_LOG("status %d", r.status);
	CLI(&r, "delete", "name", "no_such_map_xyz", "key", "1");
	EXPECT_EQ(1, lines(r.err));
	EXPECT_TRUE(r.status == 66 || r.status == 77) TH_LOG("status %d", r.status);
	CLI(&r, "--json", "delete", "pinned", "/nonexistent/map", "key", "1");
	EXPECT_EQ(66, r.status);
	EXPECT_NE(NULL, strstr(r.out, "\"error\":")) TH_LOG("%s", r.out);
}

static double uptime_seconds(void)
{
	FILE *f = fopen("/proc/uptime", "r");
	double up = 0;

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	return up;
}

TEST(malformed_bytes_and_lengths)
{
	static const struct { char *field, *threshold, *opt, *arg; } bad_below[] = {
		{ "0:8", "yesterday", NULL, NULL }, { "0:8", "now-30", NULL, NULL },
		{ "0:8", "now+30s", NULL, NULL }, { "0:8", "now-100000d", NULL, NULL },
		{ "0:8", "now", "--clock", "realtime" }, { "0:8", "now", "--unit", "ms" },
		{ "0:4", "now", NULL, NULL },
	};
	char id[16];
	struct run r;
	size_t i;
	int fd;

	NEED_MAP(fd, id);
	/* Key of the wrong length, not a byte, hex without hex digits. */
	CLI(&r, "delete", "id", id, "key", "1", "2", "3", "expect", "0", "1");
	EXPECT_FAILS(r, 64);
	CLI(&r, "delete", "id", id, "key", "1", "2", "3", "256", "expect", "0", "1");
	EXPECT_FAILS(r, 64);
	CLI(&r, "delete", "id", id, "key", "hex", "01", "02", "03", "zz",
	    "expect", "0", "1");
	EXPECT_FAILS(r, 64);
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "x", "1");
	EXPECT_FAILS(r, 64);
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "0");
	EXPECT_FAILS(r, 64);
	/* Tombstone of another size than the region, unknown trailing words. */
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "0",
	    "1", "0", "0", "0", "tombstone", "1");
	EXPECT_FAILS(r, 64);
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "0",
	    "1", "lock", "please");
	EXPECT_FAILS(r, 64);
	CLI(&r, "update", "id", id, "key", "1", "0", "0", "0", "expect", "0", "1",
	    "value", "1", "2");
	EXPECT_FAILS(r, 64);
	CLI(&r, "gc", "id", id, "field", "0-8", "older-than", "5");
	EXPECT_FAILS(r, 64);
	CLI(&r, "gc", "id", id, "field", "0:3", "older-than", "5");
	EXPECT_FAILS(r, 64);
	CLI(&r, "gc", "id", id, "field", "12:8", "older-than", "5");
	EXPECT_FAILS(r, 64);
	CLI(&r, "gc", "id", id, "field", "0:8", "older-than", "-5");
	EXPECT_FAILS(r, 64);
	CLI(&r, "gc", "id", id, "field", "0:8", "older-than", "5", "batch", "0");
	EXPECT_FAILS(r, 64);
	/*
	 * Thresholds in the datapath's clock: only what it can mean (the
	 * last: nanoseconds since boot overflow a 4-byte field, once the
	 * machine has been up 4.3 s -- a test run right after boot waits).
	 */
	while (uptime_seconds() < 5.0)
		usleep(100 * 1000);
	for (i = 0; i < sizeof(bad_below) / sizeof(bad_below[0]); i++) {
		CLI(&r, "gc", "id", id, "field", bad_below[i].field, "below",
		    bad_below[i].threshold, bad_below[i].opt, bad_below[i].arg);
		EXPECT_FAILS(r, 64);
	}
	CLI(&r, "stats", "please");
	EXPECT_FAILS(r, 64);
	close(fd);
}

TEST(module_missing)
{
	__u32 key = 1;
	__u64 v[2] = { 7, 0 };
	char id[16];
	struct run r;
	int fd;

	if (device_present())
		SKIP(return, "needs the module unloaded");
	NEED_MAP(fd, id);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, v, 0));
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "0",
	    "7", "0", "0", "0", "0", "0", "0", "0");
	EXPECT_FAILS(r, 69);
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, v));
	CLI(&r, "info");
	EXPECT_EQ(69, r.status);
	EXPECT_NE(NULL, strstr(r.out, "not loaded"));
	/* What to do about it, whatever the reason. */
	EXPECT_NE(NULL, strstr(r.out, "\nwhy:         "));
	CLI(&r, "stats");
	EXPECT_FAILS(r, 69);
	EXPECT_NE(NULL, strstr(r.err, "modprobe bpfcmpdel"));
	close(fd);
}

/* --- against the module ---------------------------------------------------- */

#define REQUIRE_DEVICE()						\
	do {								\
		if (!device_present())					\
			SKIP(return, BPFCMPDEL_DEVICE " absent: module not loaded"); \
	} while (0)

/* The kfuncs' state as the module gives it, if the kernel kept its BTF. */
static const char *kfuncs_line(void)
{
	static char want[300];
	char state[256] = "";
	FILE *f = fopen("/sys/class/misc/bpfcmpdel/kfuncs", "r");

	if (f) {
		if (!fgets(state, sizeof(state), f))
			state[0] = '\0';
		fclose(f);
	}
	if (!strncmp(state, "available", 9) && access("/sys/kernel/btf/bpfcmpdel", F_OK))
		snprintf(want, sizeof(want), "\nkfuncs:      unavailable: the kernel did not");
	else
		snprintf(want, sizeof(want), "\nkfuncs:      %s", state);
	return want;
}

TEST(info_names_the_module)
{
	struct run r;

	REQUIRE_DEVICE();
	CLI(&r, "info");
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "loaded, version"));
	EXPECT_NE(NULL, strstr(r.out, "tombstone"));
	EXPECT_NE(NULL, strstr(r.out, "security_bpf endbr="));
	EXPECT_NE(NULL, strstr(r.out, "\nsignatures:  "));
	EXPECT_NE(NULL, strstr(r.out, "\ninstalled:   "));
	EXPECT_NE(NULL, strstr(r.out, kfuncs_line())) TH_LOG("%s", r.out);
	CLI(&r, "-j", "info");
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "\"module_loaded\":true"));
	EXPECT_NE(NULL, strstr(r.out, "\"kfuncs\":\""));
	EXPECT_NE(NULL, strstr(r.out, "\"signatures_required\":"));
	EXPECT_NE(NULL, strstr(r.out, "\"path\":\"static-call\""));
}

TEST(delete_results_and_statuses)
{
	__u32 key = 1;
	__u64 v[2] = { 7, 9 };
	char id[16];
	struct run r;
	int fd;

	REQUIRE_DEVICE();
	NEED_MAP(fd, id);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, v, 0));
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "0",
	    "8", "0", "0", "0", "0", "0", "0", "0");
	EXPECT_FAILS(r, 1);
	EXPECT_NE(NULL, strstr(r.err, "changed"));
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &key, v));
	CLI(&r, "-j", "delete", "id", id, "key", "hex", "01", "00", "00", "00",
	    "expect", "0", "hex", "07", "00", "00", "00", "00", "00", "00", "00");
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("{\"result\":\"deleted\",\"errno\":0}\n", r.out);
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, v));
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "0", "7");
	EXPECT_FAILS(r, 2);
	close(fd);

	/* Tombstone mode, and an unsupported map. */
	NEED_MAP(fd, id);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, v, 0));
	CLI(&r, "-q", "delete", "id", id, "key", "1", "0", "0", "0", "expect", "8",
	    "9", "0", "0", "0", "0", "0", "0", "0", "tombstone", "0xff", "0xff",
	    "0xff", "0xff", "0xff", "0xff", "0xff", "0xff");
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &key, v));
	close(fd);
	fd = make_map(BPF_MAP_TYPE_ARRAY, id, sizeof(id));
	ASSERT_GE(fd, 0);
	CLI(&r, "delete", "id", id, "key", "1", "0", "0", "0", "expect", "0", "7");
	EXPECT_FAILS(r, 3);
	close(fd);
}

TEST(update_swaps)
{
	__u32 key = 2;
	__u64 v[2] = { 7, 9 };
	char id[16];
	struct run r;
	int fd;

	REQUIRE_DEVICE();
	NEED_MAP(fd, id);
	ASSERT_EQ(0, bpf_map_update_elem(fd, &key, v, 0));
	CLI(&r, "update", "id", id, "key", "2", "0", "0", "0", "expect", "8", "9",
	    "0", "0", "0", "value", "5", "0", "0", "0");
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("swapped\n", r.out);
	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &key, v));
	EXPECT_EQ(5, v[1]);
	CLI(&r, "update", "id", id, "key", "2", "0", "0", "0", "expect", "8", "9",
	    "0", "0", "0", "value", "6", "0", "0", "0");
	EXPECT_FAILS(r, 1);
	CLI(&r, "update", "id", id, "key", "2", "0", "0", "0", "expect", "8", "5",
	    "0", "0", "0", "value", "6", "0", "0", "0", "lock");
	EXPECT_FAILS(r, 64);	/* no spin lock in the value */
	close(fd);
}

/* gc deletes exactly the elements whose field is below the threshold. */
TEST(gc_deletes_exactly_the_expired)
{
	__u64 v[2];
	char id[16];
	struct run r;
	__u32 key;
	int fd;

	REQUIRE_DEVICE();
	NEED_MAP(fd, id);
	for (key = 0; key < 50; key++) {
		v[0] = 0;
		v[1] = key;	/* field 8:8: 0..49 */
		ASSERT_EQ(0, bpf_map_update_elem(fd, &key, v, 0));
	}
	CLI(&r, "gc", "id", id, "field", "8:8", "older-than", "20", "dry-run");
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "would delete 20")) TH_LOG("%s", r.out);
	CLI(&r, "-j", "gc", "id", id, "field", "8:8", "older-than", "20", "batch", "2");
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\"deleted\":20,")) TH_LOG("%s", r.out);
	for (key = 0; key < 50; key++)
		EXPECT_EQ(key < 20, bpf_map_lookup_elem(fd, &key, v) != 0) TH_LOG("key %u", key);
	close(fd);
}

/* Field values in the datapath's clock, as bpf_ktime_get_ns() and friends. */
static __u64 clock_now(clockid_t id, bool seconds)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return seconds ? (__u64)ts.tv_sec : (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * below now-DURATION: entries last refreshed 5 s ago go, those the
 * datapath keeps fresh (an hour ahead) stay -- in each clock and unit.
 */
TEST(gc_below_now_in_the_datapath_s_clock)
{
	static const struct { char *clock, *unit; clockid_t id; bool s; } c[] = {
		{ "monotonic", "ns", CLOCK_MONOTONIC, false },
		{ "boottime", "ns", CLOCK_BOOTTIME, false },
		{ "monotonic", "s", CLOCK_MONOTONIC, true },
	};
	__u64 v[2], now, sec;
	char id[16];
	struct run r;
	__u32 key;
	size_t i;
	int fd;

	REQUIRE_DEVICE();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		NEED_MAP(fd, id);
		now = clock_now(c[i].id, c[i].s);
		sec = c[i].s ? 1 : 1000000000ULL;
		if (now < 10 * sec)
			SKIP(return, "the %s clock is younger than 10 s", c[i].clock);
		for (key = 0; key < 10; key++) {
			v[0] = 0;
			v[1] = key % 2 ? now + 3600 * sec : now - 5 * sec;
			ASSERT_EQ(0, bpf_map_update_elem(fd, &key, v, 0));
		}
		CLI(&r, "-j", "gc", "id", id, "field", "8:8", "below", "now-2s", "--clock",
		    c[i].clock, "--unit", c[i].unit);
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		EXPECT_NE(NULL, strstr(r.out, "\"deleted\":5,")) TH_LOG("%s %s: %s",
									 c[i].clock, c[i].unit, r.out);
		for (key = 0; key < 10; key++)
			EXPECT_EQ(key % 2 == 0, bpf_map_lookup_elem(fd, &key, v) != 0)
				TH_LOG("%s %s: key %u", c[i].clock, c[i].unit, key);
		close(fd);
	}
}

/* The module's counters, as lines and as JSON. */
TEST(stats_prints_the_counters)
{
	static const char *const names[] = {
		"requests_delete", "requests_update", "requests_batch", "requests_sweep",
		"kfunc_delete", "kfunc_update", "kfunc_sweep", "deleted", "swapped", "changed", "absent",
		"retried", "refused", "scanned",
	};
	char want[64];
	struct run r;
	size_t i;

	REQUIRE_DEVICE();
	CLI(&r, "stats");
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(sizeof(names) / sizeof(names[0]), lines(r.out));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(want, sizeof(want), "%s ", names[i]);
		EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", names[i]);
	}
	CLI(&r, "stats", "--json");
	EXPECT_EQ(0, r.status);
	EXPECT_EQ('{', r.out[0]);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(want, sizeof(want), "\"%s\":", names[i]);
		EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", names[i]);
	}
}

TEST_HARNESS_MAIN
