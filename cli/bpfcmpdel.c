// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bpfcmpdel: the operator's command for conditional deletes, compare-and-
 * swap and the expiry sweep on BPF hash maps, spelled as bpftool spells
 * maps and bytes.  See bpfcmpdel(8).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

/* Exit statuses: one per outcome a script may branch on (see the man page). */
enum {
	EXIT_DONE = 0,
	EXIT_CHANGED = 1,	/* -EBUSY: the region differs, nothing done */
	EXIT_ABSENT = 2,	/* -ENOENT */
	EXIT_UNSUPPORTED = 3,	/* -EOPNOTSUPP */
	EXIT_RETRY = 4,		/* -EAGAIN */
	EXIT_USAGE = 64,	/* bad arguments or bytes (sysexits' EX_USAGE) */
	EXIT_NOMAP = 66,	/* no such map (EX_NOINPUT) */
	EXIT_NOMODULE = 69,	/* module not loaded (EX_UNAVAILABLE) */
	EXIT_FAILED = 71,	/* any other failure (EX_OSERR) */
	EXIT_PERM = 77,		/* no permission (EX_NOPERM) */
};

#define MAX_BYTES 4096

static bool json, quiet;
static const char *prog = "bpfcmpdel";

/* One line on stderr, and the status to exit with. */
static int fail(int status, const char *fmt, ...)
{
	va_list ap;

	if (json) {
		char msg[512];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		printf("{\"error\":\"");
		for (const char *c = msg; *c; c++)
			printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
		printf("\",\"status\":%d}\n", status);
	}
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* --- arguments: maps and bytes, as bpftool spells them ------------------ */

static bool is_prefix(const char *arg, const char *word)
{
	return *arg && !strncmp(word, arg, strlen(arg));
}

/* Whether @arg is a keyword that ends a byte list. */
static bool is_keyword(const char *arg)
{
	static const char *const words[] = {
		"key", "expect", "value", "lock", "tombstone", "field",
		"older-than", "below", "batch", "dry-run", "--clock", "--unit",
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(arg, words[i]))
			return true;
	return false;
}

static int parse_byte(const char *s, bool hex, unsigned char *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, hex ? 16 : 0);
	if (errno || *end || end == s || v > 0xff)
		return -1;
	*out = (unsigned char)v;
	return 0;
}

/*
 * BYTES at argv[*i]: "hex" then hex bytes, or bytes in decimal (0x, 0
 * prefixes as C).  @want > 0: exactly that many; 0: up to the next
 * keyword.  Returns the count, or -1 after a message.
 */
static int parse_bytes(int argc, char **argv, int *i, const char *what,
		       unsigned char *out, int want)
{
	bool hex = false;
	int n = 0;

	if (*i < argc && !strcmp(argv[*i], "hex")) {
		hex = true;
		(*i)++;
	}
	while (*i < argc && (want ? n < want : !is_keyword(argv[*i]))) {
		if (n == MAX_BYTES || parse_byte(argv[*i], hex, &out[n])) {
			fail(EXIT_USAGE, "%s: '%s' is not a byte%s", what, argv[*i],
			     hex ? " in hex" : " (decimal, 0x.. or hex ..)");
			return -1;
		}
		n++;
		(*i)++;
	}
	if (!n || (want && n != want)) {
		fail(EXIT_USAGE, "%s: %d bytes given, %d expected", what, n, want ? want : 1);
		return -1;
	}
	return n;
}

static int parse_u32(const char *s, __u32 *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > UINT32_MAX)
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, __u64 *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s || *s == '-')
		return -1;
	*out = v;
	return 0;
}

struct map {
	int fd;
	struct bpf_map_info info;
};

static int map_status(int err)
{
	return err == EPERM || err == EACCES ? EXIT_PERM :
	       err == ENOENT ? EXIT_NOMAP : EXIT_FAILED;
}

static int map_by_name(const char *name, struct map *m)
{
	__u32 id = 0, len;
	int fd, found = -1;
	struct bpf_map_info info;

	while (!bpf_map_get_next_id(id, &id)) {
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strncmp(info.name, name, sizeof(info.name))) {
			if (found >= 0) {
				close(fd);
				close(found);
				return fail(EXIT_USAGE, "more than one map is named '%s': use id",
					    name);
			}
			found = fd;
			continue;
		}
		close(fd);
	}
	if (found < 0)
		return fail(errno == EPERM ? EXIT_PERM : EXIT_NOMAP,
			    "no map named '%s'", name);
	m->fd = found;
	return 0;
}

/* MAP at argv[*i]: "pinned PATH", "id N" or "name NAME". */
static int parse_map(int argc, char **argv, int *i, struct map *m)
{
	const char *how, *what;
	__u32 id, len = sizeof(m->info);
	int ret;

	if (*i + 1 >= argc)
		return fail(EXIT_USAGE, "MAP must be 'pinned PATH', 'id N' or 'name NAME'");
	how = argv[(*i)++];
	what = argv[(*i)++];
	if (!strcmp(how, "pinned")) {
		m->fd = bpf_obj_get(what);
		if (m->fd < 0)
			return fail(map_status(errno), "pinned %s: %s", what, strerror(errno));
	} else if (!strcmp(how, "id")) {
		if (parse_u32(what, &id))
			return fail(EXIT_USAGE, "id '%s' is not a number", what);
		m->fd = bpf_map_get_fd_by_id(id);
		if (m->fd < 0)
			return fail(map_status(errno), "map id %u: %s", id, strerror(errno));
	} else if (!strcmp(how, "name")) {
		ret = map_by_name(what, m);
		if (ret)
			return ret;
	} else {
		return fail(EXIT_USAGE, "MAP must be 'pinned PATH', 'id N' or 'name NAME', not '%s'",
			    how);
	}
	memset(&m->info, 0, sizeof(m->info));
	if (bpf_obj_get_info_by_fd(m->fd, &m->info, &len))
		return fail(EXIT_USAGE, "%s %s is not a BPF map", how, what);
	return 0;
}

static int expect_word(int argc, char **argv, int *i, const char *word)
{
	if (*i >= argc || strcmp(argv[*i], word))
		return fail(EXIT_USAGE, "expected '%s'%s%s", word,
			    *i < argc ? ", not " : " at the end", *i < argc ? argv[*i] : "");
	(*i)++;
	return 0;
}

/* --- results --------------------------------------------------------------- */

struct outcome {
	int err;		/* negative errno, or 0 */
	const char *word;	/* stable name for scripts and JSON */
	int status;
};

static struct outcome outcome_of(int err, const char *done)
{
	switch (-err) {
	case 0: return (struct outcome){ 0, done, EXIT_DONE };
	case EBUSY: return (struct outcome){ err, "changed", EXIT_CHANGED };
	case ENOENT: return (struct outcome){ err, "absent", EXIT_ABSENT };
	case EOPNOTSUPP: return (struct outcome){ err, "unsupported", EXIT_UNSUPPORTED };
	case EAGAIN: return (struct outcome){ err, "retry", EXIT_RETRY };
	case EINVAL: return (struct outcome){ err, "invalid", EXIT_USAGE };
	case ENODEV: return (struct outcome){ err, "no-module", EXIT_NOMODULE };
	case EPERM:
	case EACCES: return (struct outcome){ err, "permission", EXIT_PERM };
	default: return (struct outcome){ err, "failed", EXIT_FAILED };
	}
}

static int report(struct outcome o, const char *detail)
{
	if (json)
		printf("{\"result\":\"%s\",\"errno\":%d}\n", o.word, -o.err);
	else if (!quiet && !o.err)
		printf("%s\n", o.word);
	if (o.err && !json)
		fprintf(stderr, "%s: %s: %s (%s)\n", prog, o.word, detail, strerror(-o.err));
	return o.status;
}

/* --- delete and update ------------------------------------------------------ */

struct single {
	struct map map;
	unsigned char key[MAX_BYTES], expect[MAX_BYTES], value[MAX_BYTES];
	__u32 offset;
	int size;
	struct bpfcmpdel_opts opts;
};

static int usage_delete(FILE *f)
{
	fprintf(f, "Usage: %s delete MAP key BYTES expect OFFSET BYTES [lock | tombstone BYTES]\n"
		"  Delete the element under the key only if the bytes at OFFSET of its\n"
		"  value are still BYTES.  MAP := pinned PATH | id N | name NAME;\n"
		"  BYTES := [hex] BYTE...  Exit status: 0 deleted, 1 changed, 2 absent,\n"
		"  3 unsupported map, 4 retry, 64 bad input, 66 no map, 69 no module,\n"
		"  77 no permission.\n", prog);
	return f == stdout ? 0 : EXIT_USAGE;
}

static int usage_update(FILE *f)
{
	fprintf(f, "Usage: %s update MAP key BYTES expect OFFSET BYTES value BYTES [lock]\n"
		"  Compare-and-swap: write the value BYTES at OFFSET only if the bytes\n"
		"  there are still the expect BYTES (an aligned 4 or 8 bytes, or any\n"
		"  size with lock).  Exit status as for delete, 0 meaning swapped.\n", prog);
	return f == stdout ? 0 : EXIT_USAGE;
}

static bool wants_help(int argc, char **argv)
{
	return argc > 1 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
			    !strcmp(argv[1], "-h"));
}

/* MAP key BYTES expect OFFSET BYTES, shared by delete and update. */
static int parse_single(int argc, char **argv, int *i, struct single *s)
{
	int ret;

	ret = parse_map(argc, argv, i, &s->map);
	if (ret)
		return ret;
	if (expect_word(argc, argv, i, "key") ||
	    parse_bytes(argc, argv, i, "key", s->key, s->map.info.key_size) < 0 ||
	    expect_word(argc, argv, i, "expect"))
		return EXIT_USAGE;
	if (*i >= argc || parse_u32(argv[*i], &s->offset))
		return fail(EXIT_USAGE, "expect: OFFSET must be a number");
	(*i)++;
	s->size = parse_bytes(argc, argv, i, "expect", s->expect, 0);
	return s->size < 0 ? EXIT_USAGE : 0;
}

static int parse_tombstone(int argc, char **argv, int *i, struct single *s)
{
	unsigned char t[8] = {};
	int n;

	if (s->size != 4 && s->size != 8)
		return fail(EXIT_USAGE, "tombstone: the expect BYTES must be 4 or 8 bytes");
	n = parse_bytes(argc, argv, i, "tombstone", t, s->size);
	if (n < 0)
		return EXIT_USAGE;
	memcpy(&s->opts.tombstone, t, sizeof(t));	/* native byte order */
	s->opts.flags |= BPFCMPDEL_F_TOMBSTONE;
	return 0;
}

static int cmd_delete(int argc, char **argv)
{
	struct single s = { .opts = { .sz = sizeof(s.opts) } };
	int i = 1, ret;

	if (wants_help(argc, argv))
		return usage_delete(stdout);
	ret = parse_single(argc, argv, &i, &s);
	if (ret)
		return ret;
	if (i < argc && !strcmp(argv[i], "lock")) {
		s.opts.flags |= BPFCMPDEL_F_LOCK;
		i++;
	} else if (i < argc && !strcmp(argv[i], "tombstone")) {
		i++;
		ret = parse_tombstone(argc, argv, &i, &s);
		if (ret)
			return ret;
	}
	if (i < argc)
		return fail(EXIT_USAGE, "delete: unexpected '%s'", argv[i]);
	ret = bpfcmpdel_delete(s.map.fd, s.key, s.expect, s.offset, s.size, &s.opts);
	return report(outcome_of(ret, "deleted"), "delete");
}

static int cmd_update(int argc, char **argv)
{
	struct single s = { .opts = { .sz = sizeof(s.opts) } };
	int i = 1, ret;

	if (wants_help(argc, argv))
		return usage_update(stdout);
	ret = parse_single(argc, argv, &i, &s);
	if (ret)
		return ret;
	if (expect_word(argc, argv, &i, "value") ||
	    parse_bytes(argc, argv, &i, "value", s.value, s.size) < 0)
		return EXIT_USAGE;
	if (i < argc && !strcmp(argv[i], "lock")) {
		s.opts.flags |= BPFCMPDEL_F_LOCK;
		i++;
	}
	if (i < argc)
		return fail(EXIT_USAGE, "update: unexpected '%s'", argv[i]);
	ret = bpfcmpdel_update(s.map.fd, s.key, s.expect, s.value, s.offset, s.size,
			       &s.opts);
	return report(outcome_of(ret, "swapped"), "update");
}

/* --- gc ---------------------------------------------------------------------- */

static int usage_gc(FILE *f)
{
	fprintf(f, "Usage: %s gc MAP field OFFSET:SIZE below THRESHOLD [--clock CLOCK]\n"
		"          [--unit UNIT] [tombstone BYTES] [batch K] [dry-run]\n"
		"  Delete every element whose unsigned SIZE-byte (4 or 8) field at OFFSET\n"
		"  is below THRESHOLD, deciding under each bucket's lock (the in-kernel\n"
		"  sweep): no snapshot can go stale.  THRESHOLD is a number as the field\n"
		"  holds it, or now, now-DURATION (30s, 5m, 1h, 500ms, ...) in the\n"
		"  datapath's clock: --clock monotonic (bpf_ktime_get_ns(), the default)\n"
		"  or boottime (bpf_ktime_get_boot_ns()), --unit ns (the default) or s.\n"
		"  older-than is the same as below.  tombstone: swap the field to BYTES\n"
		"  first (datapaths refreshing by compare-and-swap lose nothing).  batch:\n"
		"  buckets per syscall.  dry-run: count what would go, delete nothing.\n",
		prog);
	return f == stdout ? 0 : EXIT_USAGE;
}

/* The field's clock and unit, as the datapath writes it. */
struct gc_clock {
	clockid_t id;
	bool seconds;
};

/* DURATION: a whole number with a unit, in nanoseconds. */
static int parse_duration(const char *s, __u64 *ns)
{
	static const struct { const char *unit; __u64 ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ULL },
		{ "m", 60000000000ULL }, { "h", 3600000000000ULL },
		{ "d", 86400000000000ULL },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v > UINT64_MAX / units[i].ns)
			return -1;
		*ns = v * units[i].ns;
		return 0;
	}
	return -1;
}

/*
 * THRESHOLD: a number as the field holds it, or now[-DURATION] read from
 * @c's clock now, in its unit.  0, or the status to exit with after a
 * message.
 */
static int parse_threshold(const char *s, const struct gc_clock *c, __u64 *out)
{
	struct timespec ts;
	__u64 now_ns, ago = 0;

	if (strncmp(s, "now", 3))
		return parse_u64(s, out) ?
		       fail(EXIT_USAGE, "below: '%s' is neither a number nor now[-DURATION]", s) : 0;
	if (s[3] && (s[3] != '-' || parse_duration(s + 4, &ago)))
		return fail(EXIT_USAGE, "below: '%s': now or now-DURATION (30s, 5m, 1h, 500ms, ...)",
			    s);
	if (clock_gettime(c->id, &ts))
		return fail(EXIT_FAILED, "below: reading the clock: %s", strerror(errno));
	now_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	if (ago > now_ns)
		return fail(EXIT_USAGE, "below: %s is before the clock's zero", s);
	*out = c->seconds ? (now_ns - ago) / 1000000000ULL : now_ns - ago;
	return 0;
}

struct gc_progress {
	bool tty;
	__u64 units;	/* the map's elements or buckets, as the sweep walks it */
	double start;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void gc_progress(__u64 cursor, void *ctx)
{
	struct gc_progress *p = ctx;

	if (!p->tty || cursor == BPFCMPDEL_SWEEP_END)
		return;
	/* A hash map's extra elements (one per CPU) are past max_entries. */
	fprintf(stderr, "\r%s: gc: %3.0f%% of the map", prog,
		cursor >= p->units ? 100.0 : 100.0 * (double)cursor / (double)p->units);
}

struct dry_run {
	__u32 off, size;
	__u64 threshold;
	__u64 would_delete;
};

/* The sweep's rule, counted and never acted on: nothing is deleted. */
static bool dry_run_count(const void *key, const void *value, void *ctx)
{
	struct dry_run *d = ctx;
	__u64 field = 0;

	(void)key;	/* the rule looks at the value alone */
	memcpy(&field, (const char *)value + d->off, d->size);
	d->would_delete += field < d->threshold;
	return false;
}

/* Counts, without deleting, what a sweep with @threshold would take. */
static int gc_dry_run(const struct map *m, __u32 off, __u32 size, __u64 threshold,
		      struct bpfcmpdel_gc_stats *st)
{
	struct dry_run d = { .off = off, .size = size, .threshold = threshold };
	BPFCMPDEL_GC_OPTS(opts, .ctx = &d);
	int ret;

	ret = bpfcmpdel_gc_snapshot(m->fd, off, size, dry_run_count, st, &opts);
	st->deleted = d.would_delete;
	return ret;
}

static int cmd_gc(int argc, char **argv)
{
	struct gc_progress prog_state = { .tty = isatty(STDERR_FILENO) && !quiet };
	BPFCMPDEL_GC_OPTS(opts, .on_progress = gc_progress, .ctx = &prog_state);
	struct bpfcmpdel_gc_stats st = {};
	__u32 off, size, batch = 0;
	struct gc_clock clock = { .id = CLOCK_MONOTONIC };
	unsigned char t[8] = {};
	bool dry = false;
	struct map m;
	__u64 threshold = 0;
	const char *below;
	char *colon;
	int i = 1, ret;
	double t0;

	if (wants_help(argc, argv))
		return usage_gc(stdout);
	ret = parse_map(argc, argv, &i, &m);
	if (ret)
		return ret;
	if (expect_word(argc, argv, &i, "field"))
		return EXIT_USAGE;
	colon = i < argc ? strchr(argv[i], ':') : NULL;
	if (!colon)
		return fail(EXIT_USAGE, "field: OFFSET:SIZE expected");
	*colon = '\0';
	if (parse_u32(argv[i], &off) || parse_u32(colon + 1, &size) ||
	    (size != 4 && size != 8))
		return fail(EXIT_USAGE, "field: OFFSET:SIZE with SIZE 4 or 8");
	if ((__u64)off + size > m.info.value_size)
		return fail(EXIT_USAGE, "field: %u:%u runs past the %u-byte value", off,
			    size, m.info.value_size);
	i++;
	if (i < argc && !strcmp(argv[i], "older-than"))
		i++;
	else if (expect_word(argc, argv, &i, "below"))
		return EXIT_USAGE;
	if (i >= argc)
		return fail(EXIT_USAGE, "below: THRESHOLD expected");
	below = argv[i++];
	while (i < argc) {
		if (!strcmp(argv[i], "tombstone")) {
			i++;
			if (parse_bytes(argc, argv, &i, "tombstone", t, size) < 0)
				return EXIT_USAGE;
			memcpy(&opts.tombstone, t, sizeof(t));
			opts.flags |= BPFCMPDEL_F_TOMBSTONE;
		} else if (!strcmp(argv[i], "batch")) {
			if (++i >= argc || parse_u32(argv[i], &batch) || !batch ||
			    batch > BPFCMPDEL_SWEEP_BUDGET_MAX)
				return fail(EXIT_USAGE, "batch: K must be 1..%u",
					    BPFCMPDEL_SWEEP_BUDGET_MAX);
			i++;
		} else if (!strcmp(argv[i], "dry-run")) {
			dry = true;
			i++;
		} else if (!strcmp(argv[i], "--clock") && i + 1 < argc &&
			   (!strcmp(argv[i + 1], "monotonic") || !strcmp(argv[i + 1], "boottime"))) {
			clock.id = strcmp(argv[i + 1], "monotonic") ? CLOCK_BOOTTIME :
								      CLOCK_MONOTONIC;
			i += 2;
		} else if (!strcmp(argv[i], "--unit") && i + 1 < argc &&
			   (!strcmp(argv[i + 1], "ns") || !strcmp(argv[i + 1], "s"))) {
			clock.seconds = !strcmp(argv[i + 1], "s");
			i += 2;
		} else if (!strcmp(argv[i], "--clock") || !strcmp(argv[i], "--unit")) {
			return fail(EXIT_USAGE, "%s: %s", argv[i],
				    strcmp(argv[i], "--unit") ? "monotonic or boottime" : "ns or s");
		} else {
			return fail(EXIT_USAGE, "gc: unexpected '%s'", argv[i]);
		}
	}
	/* Read last, so "now" is as close to the sweep as it can be. */
	ret = parse_threshold(below, &clock, &threshold);
	if (ret)
		return ret;
	if (size == 4 && threshold > (__u64)UINT32_MAX + 1)
		return fail(EXIT_USAGE, "below: %llu does not fit a 4-byte field",
			    (unsigned long long)threshold);
	opts.budget = batch;
	/*
	 * What the cursor counts: the elements of a preallocated map, whose
	 * array bpfcmpdel_gc_sweep() walks, else buckets (max_entries
	 * rounded up to a power of two).
	 */
	if ((m.info.type == BPF_MAP_TYPE_HASH && !(m.info.map_flags & BPF_F_NO_PREALLOC)) ||
	    m.info.type == BPF_MAP_TYPE_LRU_HASH) {
		prog_state.units = m.info.max_entries;
	} else {
		for (prog_state.units = 1; prog_state.units < m.info.max_entries;)
			prog_state.units <<= 1;
	}
	t0 = now();
	ret = dry ? gc_dry_run(&m, off, size, threshold, &st) :
		    bpfcmpdel_gc_sweep(m.fd, off, size, threshold, &st, &opts);
	if (prog_state.tty)
		fputc('\r', stderr);
	if (ret)
		return report(outcome_of(ret, ""), "gc");
	if (json)
		printf("{\"result\":\"%s\",\"threshold\":%llu,\"scanned\":%llu,"
		       "\"deleted\":%llu,\"changed\":%llu,\"gone\":%llu,\"elapsed_s\":%.3f}\n",
		       dry ? "dry-run" : "done", (unsigned long long)threshold,
		       (unsigned long long)st.scanned,
		       (unsigned long long)st.deleted, (unsigned long long)st.changed,
		       (unsigned long long)st.gone, now() - t0);
	else if (!quiet)
		printf("%s: scanned %llu, %s %llu, skipped as refreshed %llu, already gone %llu, %.3f s\n",
		       dry ? "dry run" : "gc", (unsigned long long)st.scanned,
		       dry ? "would delete" : "deleted", (unsigned long long)st.deleted,
		       (unsigned long long)st.changed, (unsigned long long)st.gone,
		       now() - t0);
	return EXIT_DONE;
}

/* --- info -------------------------------------------------------------------- */

#define SYSFS_DIR "/sys/class/misc/bpfcmpdel/"

static char *read_file(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return strdup(buf);
}

static void json_words(const char *name, const char *words)
{
	char *copy = strdup(words ? words : ""), *w, *save = NULL;
	bool first = true;

	printf("\"%s\":[", name);
	for (w = strtok_r(copy, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
		printf("%s\"%s\"", first ? "" : ",", w);
		first = false;
	}
	printf("]");
	free(copy);
}

/* The module file modprobe would load for the running kernel, as modinfo
 * reads it: it alone knows compressed modules and appended signatures. */
struct module_file {
	char filename[PATH_MAX], version[64], srcversion[64], signer[128];
};

/*
 * The "field: value" lines of `modinfo ARG`, into @m.  Run directly, not
 * through a shell: no quoting, and the modinfo found on PATH (a shell with
 * built-in applets would run its own, which knows no signatures).
 */
static bool modinfo(const char *arg, struct module_file *m)
{
	char line[PATH_MAX + 32], *v, *argv[] = { "modinfo", (char *)arg, NULL };
	posix_spawn_file_actions_t fa;
	int fds[2], status = -1;
	pid_t pid = -1;
	FILE *p;

	if (pipe2(fds, O_CLOEXEC))
		return false;
	if (!posix_spawn_file_actions_init(&fa)) {
		if (!posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO) &&
		    !posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0) &&
		    posix_spawnp(&pid, "modinfo", &fa, NULL, argv, environ))
			pid = -1;
		posix_spawn_file_actions_destroy(&fa);
	}
	close(fds[1]);
	p = fdopen(fds[0], "r");
	if (!p) {
		close(fds[0]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return false;
	}
	while (fgets(line, sizeof(line), p)) {
		v = strchr(line, ':');
		if (!v)
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		/* The first of each: a signature's fields come once. */
		if (!strcmp(line, "filename") && !m->filename[0])
			snprintf(m->filename, sizeof(m->filename), "%s", v);
		else if (!strcmp(line, "version") && !m->version[0])
			snprintf(m->version, sizeof(m->version), "%s", v);
		else if (!strcmp(line, "srcversion") && !m->srcversion[0])
			snprintf(m->srcversion, sizeof(m->srcversion), "%s", v);
		else if (!strcmp(line, "signer") && !m->signer[0])
			snprintf(m->signer, sizeof(m->signer), "%s", v);
	}
	fclose(p);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return pid > 0 && WIFEXITED(status) && !WEXITSTATUS(status) && m->filename[0];
}

static bool installed_module(struct module_file *m)
{
	char path[PATH_MAX];

	memset(m, 0, sizeof(*m));
	if (!modinfo("bpfcmpdel", m))
		return false;
	/*
	 * By name, kmod describes a loaded module without its signature:
	 * ask again by the file's path.
	 */
	snprintf(path, sizeof(path), "%s", m->filename);
	memset(m, 0, sizeof(*m));
	return modinfo(path, m);
}

/* The kernel's lockdown level ("none" when it has no lockdown LSM), and
 * whether it loads only modules signed by a key it trusts. */
static bool signatures_required(char *level, size_t len)
{
	char *lockdown = read_file("/sys/kernel/security/lockdown");
	char *enforce = read_file("/sys/module/module/parameters/sig_enforce");
	char *open = lockdown ? strchr(lockdown, '[') : NULL;
	bool required;

	snprintf(level, len, "none");
	if (open && strchr(open, ']'))
		snprintf(level, len, "%.*s", (int)(strchr(open, ']') - open - 1), open + 1);
	/* Lockdown at any level refuses modules without a trusted signature. */
	required = (enforce && enforce[0] == 'Y') || strcmp(level, "none");
	free(lockdown);
	free(enforce);
	return required;
}

/* Why the module is not serving, in the words an operator acts on. */
static const char *not_loaded_why(bool have_file, const struct module_file *m, bool required)
{
	if (!have_file)
		return "no bpfcmpdel module for this kernel: install bpfcmpdel-dkms and this "
		       "kernel's headers (linux-headers-$(uname -r)), then dkms autoinstall";
	if (!required)
		return "not loaded: modprobe bpfcmpdel";
	if (!m->signer[0])
		return "the kernel requires signed modules and the installed one is unsigned: "
		       "install openssl and rebuild (dkms autoinstall --force) so DKMS signs it "
		       "with /var/lib/dkms/mok.key, then enrol that key: mokutil --import "
		       "/var/lib/dkms/mok.pub, reboot, confirm in MokManager";
	return "the kernel requires signed modules: if modprobe bpfcmpdel fails with \"Key "
	       "was rejected by service\", the kernel does not trust the key that signed it; "
	       "enrol the DKMS key: mokutil --import /var/lib/dkms/mok.pub, reboot, confirm in "
	       "MokManager (mokutil --test-key /var/lib/dkms/mok.pub tells whether it is)";
}

static void print_call_targets_json(char *calls)
{
	char *line, *save = NULL;
	bool first = true;

	printf("[");
	for (line = strtok_r(calls ? calls : (char[]){ 0 }, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], endbr[8], path[32];

		if (sscanf(line, "%127s endbr=%7s path=%31s", name, endbr, path) != 3)
			continue;
		printf("%s{\"name\":\"%s\",\"endbr\":%s,\"path\":\"%s\"}", first ? "" : ",", name,
		       strcmp(endbr, "yes") ? "false" : "true", path);
		first = false;
	}
	printf("]");
}

/*
 * The module's word on its kfuncs; "available" only if the kernel also
 * kept the module's BTF, without which no program can find them (a kernel
 * that drops a module's BTF still lets it register).
 */
static void kfuncs_state(char *buf, size_t len)
{
	char *state = read_file(SYSFS_DIR "kfuncs");

	if (!state)
		snprintf(buf, len, "unavailable: this module version has none");
	else if (!strncmp(state, "available", 9) && access("/sys/kernel/btf/bpfcmpdel", F_OK))
		snprintf(buf, len, "unavailable: the kernel did not keep the module's BTF "
			 "(/sys/kernel/btf/bpfcmpdel is missing; see dmesg)");
	else
		snprintf(buf, len, "%s", state);
	free(state);
}

static int cmd_info(int argc, char **argv)
{
	char *version, *srcversion, *taint, *features, *types, *lock, *calls, *line;
	char level[32], kfuncs[320], *save = NULL;
	bool loaded, have_file, required, same, unsigned_taint;
	struct module_file m;
	struct utsname u;

	if (wants_help(argc, argv)) {
		printf("Usage: %s info\n  The module, its version, the running kernel, the map types,\n"
		       "  requests and modes it serves, and how it reaches each kernel\n"
		       "  function it resolved at load; the installed module (what\n"
		       "  modprobe would load), its signer, and whether the kernel\n"
		       "  requires signed modules.\n", prog);
		return 0;
	}
	if (argc > 1)
		return fail(EXIT_USAGE, "info: unexpected '%s'", argv[1]);
	uname(&u);
	version = read_file("/sys/module/bpfcmpdel/version");
	srcversion = read_file("/sys/module/bpfcmpdel/srcversion");
	taint = read_file("/sys/module/bpfcmpdel/taint");
	features = read_file(SYSFS_DIR "features");
	types = read_file(SYSFS_DIR "map_types");
	lock = read_file(SYSFS_DIR "bucket_lock");
	calls = read_file(SYSFS_DIR "call_targets");
	kfuncs_state(kfuncs, sizeof(kfuncs));
	loaded = version && features;
	have_file = installed_module(&m);
	required = signatures_required(level, sizeof(level));
	/* Same source and version: the upgrade, if any, is already running. */
	same = have_file && srcversion && !strcmp(m.srcversion, srcversion) &&
	       !strcmp(m.version, version ? version : "");
	/* 'E': loaded without a signature the kernel could verify. */
	unsigned_taint = taint && strchr(taint, 'E');
	if (json) {
		printf("{\"module_loaded\":%s,\"version\":\"%s\",\"srcversion\":\"%s\","
		       "\"signature_verified\":%s,\"kernel\":\"%s\",\"lockdown\":\"%s\","
		       "\"signatures_required\":%s,",
		       loaded ? "true" : "false", version ? version : "",
		       srcversion ? srcversion : "", loaded && !unsigned_taint ? "true" : "false",
		       u.release, level, required ? "true" : "false");
		printf("\"installed\":{\"file\":\"%s\",\"version\":\"%s\",\"srcversion\":\"%s\","
		       "\"signer\":\"%s\",\"is_loaded\":%s},",
		       m.filename, m.version, m.srcversion, m.signer, same ? "true" : "false");
		json_words("map_types", types);
		printf(",");
		json_words("features", features);
		printf(",\"kfuncs\":\"%s\",\"bucket_lock\":\"%s\",\"call_targets\":", kfuncs,
		       lock ? lock : "");
		print_call_targets_json(calls);
		printf("}\n");
	} else {
		if (loaded)
			printf("module:      loaded, version %s (srcversion %s), %s\n", version,
			       srcversion ? srcversion : "?",
			       unsigned_taint ? "no verified signature (taint E)" :
			       "signature verified or not checked");
		else
			printf("module:      not loaded\n");
		if (have_file)
			printf("installed:   version %s (srcversion %s), %s, %s%s%s\n", m.version,
			       m.srcversion, m.filename, m.signer[0] ? "signed by " : "unsigned",
			       m.signer, loaded && !same ? "\n             not the loaded module: "
			       "stop the programs using /dev/bpfcmpdel, then modprobe -r "
			       "bpfcmpdel && modprobe bpfcmpdel" : "");
		else
			printf("installed:   none for this kernel (modinfo bpfcmpdel finds nothing)\n");
		printf("signatures:  %s (lockdown: %s)\nkernel:      %s\n",
		       required ? "required" : "not required", level, u.release);
		if (!loaded)
			printf("why:         %s\n", not_loaded_why(have_file, &m, required));
		if (loaded) {
			printf("map types:   %s\nfeatures:    %s\nkfuncs:      %s\n"
			       "bucket lock: %s\ncall targets (all direct: static calls):\n",
			       types ? types : "?", features, kfuncs, lock ? lock : "?");
			for (line = strtok_r(calls ? calls : (char[]){ 0 }, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save))
				printf("  %s\n", line);
		}
	}
	free(version);
	free(srcversion);
	free(taint);
	free(features);
	free(types);
	free(lock);
	free(calls);
	return loaded ? EXIT_DONE : EXIT_NOMODULE;
}

/* --- stats ------------------------------------------------------------------- */

static int cmd_stats(int argc, char **argv)
{
	char *stats, *line, *save = NULL;
	bool first = true;

	if (wants_help(argc, argv)) {
		printf("Usage: %s stats [--json]\n  What the module did since it was loaded: requests per command,\n"
		       "  elements deleted, swapped, kept as changed (live entries saved),\n"
		       "  absent, retried, refused, scanned.  See bpfcmpdel(8).\n", prog);
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "--json") || !strcmp(argv[1], "-j"))) {
		json = true;
		argc--;
		argv++;
	}
	if (argc > 1)
		return fail(EXIT_USAGE, "stats: unexpected '%s'", argv[1]);
	stats = read_file(SYSFS_DIR "stats");
	if (!stats)
		return fail(EXIT_NOMODULE, "stats: %s: %s (is the module loaded? modprobe bpfcmpdel)",
			    SYSFS_DIR "stats", strerror(errno));
	if (json)
		printf("{");
	for (line = strtok_r(stats, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		unsigned long long v;

		if (sscanf(line, "%63s %llu", name, &v) != 2)
			continue;
		if (json)
			printf("%s\"%s\":%llu", first ? "" : ",", name, v);
		else
			printf("%-16s %llu\n", name, v);
		first = false;
	}
	if (json)
		printf("}\n");
	free(stats);
	return EXIT_DONE;
}

/* --- main ----------------------------------------------------------------------- */

static int usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] [-q|--quiet] COMMAND ARGS...\n"
		"       %s COMMAND help\n"
		"Commands:\n"
		"  info      the module and what it serves\n"
		"  delete    compare-and-delete one element\n"
		"  update    compare-and-swap a region of one element\n"
		"  gc        delete every element whose field is below a threshold\n"
		"  stats     what the module did since it was loaded\n"
		"See bpfcmpdel(8).\n", prog, prog);
	return f == stdout ? 0 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *cmd;
	int c;

	/* Stop at the command: its own arguments may look like options. */
	while ((c = getopt_long(argc, argv, "+jqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'q': quiet = true; break;
		case 'h': return usage(stdout);
		case 'V': printf("%s %s\n", prog, BPFCMPDEL_CLI_VERSION); return 0;
		default: return usage(stderr);
		}
	}
	if (optind >= argc)
		return usage(stderr);
	libbpf_set_print(NULL);
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (is_prefix(cmd, "info"))
		return cmd_info(argc, argv);
	if (is_prefix(cmd, "delete"))
		return cmd_delete(argc, argv);
	if (is_prefix(cmd, "update"))
		return cmd_update(argc, argv);
	if (!strcmp(cmd, "gc"))
		return cmd_gc(argc, argv);
	if (is_prefix(cmd, "stats"))
		return cmd_stats(argc, argv);
	if (!strcmp(cmd, "help"))
		return usage(stdout);
	return fail(EXIT_USAGE, "unknown command '%s' (try --help)", cmd);
}
