// SPDX-License-Identifier: GPL-2.0
/*
 * The conntrack GC race on a real BPF hash map, and how compare-and-delete
 * closes it.  Runs inside the VM started by `make demo`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <bpfcmpdel/bpfcmpdel.h>

struct flow_key {
	__u32 saddr, daddr;
	__u16 sport, dport;
	__u8 proto;
} __attribute__((packed));

struct flow_entry {
	__u64 packets;
	__u64 last_seen;	/* what the GC compares */
};

#define TIMEOUT 60

static int failures;

static void expect(int got, int want, const char *what)
{
	printf("    -> %s: %d (%s)%s\n", what, got, got ? strerror(-got) : "deleted",
	       got == want ? "" : "   <-- UNEXPECTED");
	if (got != want)
		failures++;
}

static void show(int map_fd, const struct flow_key *key, const char *when)
{
	struct flow_entry e;

	if (bpf_map_lookup_elem(map_fd, key, &e))
		printf("    map %s: flow absent\n", when);
	else
		printf("    map %s: flow last_seen=%llu packets=%llu\n", when,
		       (unsigned long long)e.last_seen, (unsigned long long)e.packets);
}

/* The GC's view: a snapshot, judged later. */
static struct flow_entry gc_snapshot(int map_fd, const struct flow_key *key)
{
	struct flow_entry e = {};

	bpf_map_lookup_elem(map_fd, key, &e);
	printf("  GC snapshots the flow: last_seen=%llu\n", (unsigned long long)e.last_seen);
	return e;
}

static int gc_delete(int map_fd, const struct flow_key *key,
		     const struct flow_entry *snap)
{
	return bpfcmpdel_delete(map_fd, key, &snap->last_seen,
					   offsetof(struct flow_entry, last_seen),
					   sizeof(snap->last_seen), NULL);
}

int main(void)
{
	struct flow_key key = {
		.saddr = 0x0a000001, .daddr = 0x0a000002,
		.sport = 40000, .dport = 443, .proto = 6,
	};
	struct flow_entry e = { .packets = 1, .last_seen = 100 }, snap;
	struct utsname u;
	int map_fd;

	uname(&u);
	printf("bpfcmpdel demo on Linux %s\n\n", u.release);
	map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "conntrack", sizeof(key),
				sizeof(e), 1024, NULL);
	if (map_fd < 0) {
		perror("bpf_map_create");
		return 1;
	}
	printf("1. datapath creates a flow in a BPF_MAP_TYPE_HASH (fd %d)\n", map_fd);
	bpf_map_update_elem(map_fd, &key, &e, BPF_NOEXIST);
	show(map_fd, &key, "now");

	printf("\n2. at t=%d the GC walks the map; last_seen=100 is older than %ds\n",
	       100 + TIMEOUT + 1, TIMEOUT);
	snap = gc_snapshot(map_fd, &key);

	printf("\n3. before the GC deletes, a packet arrives: the datapath refreshes the flow\n");
	e.packets++;
	e.last_seen = 100 + TIMEOUT + 1;
	bpf_map_update_elem(map_fd, &key, &e, BPF_EXIST);
	show(map_fd, &key, "now");

	printf("\n4. the GC deletes by key, comparing last_seen with its snapshot\n");
	printf("   (a plain BPF_MAP_DELETE_ELEM would now delete a live flow)\n");
	expect(gc_delete(map_fd, &key, &snap), -EBUSY, "stale compare-delete");
	show(map_fd, &key, "after");

	printf("\n5. the flow goes idle; on the next pass the GC's snapshot is current\n");
	snap = gc_snapshot(map_fd, &key);
	expect(gc_delete(map_fd, &key, &snap), 0, "current compare-delete");
	show(map_fd, &key, "after");

	printf("\n6. deleting it again finds nothing\n");
	expect(gc_delete(map_fd, &key, &snap), -ENOENT, "compare-delete of a gone key");

	close(map_fd);
	printf("\n%s\n", failures ? "demo FAILED" : "demo OK: the live flow survived, the idle one was collected");
	return failures ? 1 : 0;
}
