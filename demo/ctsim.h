/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The conntrack GC race, run for real: a CT map of @flows flows, half of
 * them idle; a datapath (tests/bpf/ct.bpf.c, run from @threads threads
 * with BPF_PROG_TEST_RUN) reviving @revive of the idle ones once each;
 * and, at the same time, a GC that took a BPF_MAP_LOOKUP_BATCH snapshot
 * just before and now deletes what the snapshot shows expired -- itself,
 * or through a BPF program (tests/bpf/ct_gc.bpf.c), as Calico's does.
 */
#ifndef _BPFCMPDEL_CTSIM_H
#define _BPFCMPDEL_CTSIM_H

#include <linux/types.h>

enum ctsim_gc {
	CTSIM_GC_DELETE,	/* (a) snapshot, then BPF_MAP_DELETE_ELEM */
	CTSIM_GC_CMPDEL,	/* (b) compare-and-delete, plain stores */
	CTSIM_GC_LOCK,		/* (c) lock mode, refreshes under the spin lock */
	CTSIM_GC_TOMBSTONE,	/* (d) tombstone mode, refreshes by CAS */
	CTSIM_GC_BPF_DELETE,	/* (e) a BPF program deletes: bpf_map_delete_elem() */
	CTSIM_GC_BPF_KFUNC,	/* (f) a BPF program deletes: the kfunc, as (d) */
	CTSIM_GC_BPF_SWEEP,	/* (g) a BPF program sweeps: no snapshot, as (d) */
	NR_CTSIM_GC,
};

struct ctsim_config {
	__u32 flows;
	__u32 revive;
	__u32 threads;
	__u32 seed;
};

struct ctsim_result {
	__u32 scanned;		/* entries in the GC's snapshot, or swept */
	__u32 expired;		/* judged expired by it ((g): idle at the start) */
	__u32 deleted;		/* deletes that took effect */
	__u32 kept;		/* refused as changed (-EBUSY; (g): not deleted) */
	__u32 gone;		/* already gone (-ENOENT) */
	__u32 other;		/* any other result: a failure */
	__u32 revived;		/* refreshes the datapath completed */
	__u32 lost;		/* of those, flows the GC then destroyed */
	double seconds;
};

extern const char *const ctsim_gc_names[NR_CTSIM_GC];
extern const char *const ctsim_method;

/*
 * 0 and @res filled, or a negative errno (message on stderr);
 * -EOPNOTSUPP for (f) and (g) where the module has no kfuncs, @why
 * saying why.
 */
int ctsim_run(enum ctsim_gc gc, const struct ctsim_config *cfg,
	      struct ctsim_result *res);
extern char ctsim_why[256];

#endif /* _BPFCMPDEL_CTSIM_H */
