/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module did, counted per CPU without a lock, for operators
 * (/sys/class/misc/bpfcmpdel/stats, `bpfcmpdel stats`).  The lowest layer:
 * every other file may count, this one imports none of them.
 */
#ifndef _BPFCMPDEL_STATS_H
#define _BPFCMPDEL_STATS_H

#include <linux/percpu.h>
#include <linux/types.h>

enum cmpdel_stat {
	CMPDEL_STAT_REQ_DELETE,		/* requests, by ioctl command */
	CMPDEL_STAT_REQ_UPDATE,
	CMPDEL_STAT_REQ_BATCH,
	CMPDEL_STAT_REQ_SWEEP,
	CMPDEL_STAT_REQ_KFUNC_DELETE,	/* calls, by kfunc */
	CMPDEL_STAT_REQ_KFUNC_UPDATE,
	CMPDEL_STAT_REQ_KFUNC_SWEEP,
	CMPDEL_STAT_DELETED,		/* elements deleted, by any request */
	CMPDEL_STAT_SWAPPED,		/* compare-and-swaps that wrote */
	CMPDEL_STAT_CHANGED,		/* found changed and kept: a live entry saved */
	CMPDEL_STAT_ABSENT,		/* keys not found */
	CMPDEL_STAT_RETRIED,		/* bucket locks not taken */
	CMPDEL_STAT_REFUSED,		/* requests refused: permission, frozen, LSM */
	CMPDEL_STAT_SCANNED,		/* elements a sweep looked at */
	NR_CMPDEL_STATS,
};

struct cmpdel_stats {
	u64 count[NR_CMPDEL_STATS];
};

DECLARE_PER_CPU(struct cmpdel_stats, cmpdel_stats);
extern bool cmpdel_counting;

static inline void cmpdel_stat_add(enum cmpdel_stat item, u64 n)
{
	/* A racy read of a flag only make bench flips: no ordering needed. */
	if (likely(READ_ONCE(cmpdel_counting)))
		this_cpu_add(cmpdel_stats.count[item], n);
}

void cmpdel_stat_result(int result);
void cmpdel_stat_results(const s32 *results, u32 n);
void cmpdel_stat_single(int result, bool swap);
ssize_t cmpdel_stats_show(char *buf);

#endif /* _BPFCMPDEL_STATS_H */
