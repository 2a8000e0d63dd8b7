// SPDX-License-Identifier: GPL-2.0
/*
 * The module's counters: one set per CPU, each bumped with a single
 * this_cpu_add() on the CPU that did the work, summed only when read.
 */
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/moduleparam.h>
#include <linux/sysfs.h>

#include "stats.h"

DEFINE_PER_CPU(struct cmpdel_stats, cmpdel_stats);

/* Off only to measure what counting costs (make bench, side by side). */
bool cmpdel_counting = true;
module_param_named(counting, cmpdel_counting, bool, 0644);
MODULE_PARM_DESC(counting, "keep the counters of /sys/class/misc/bpfcmpdel/stats (default: on)");

/* The names operators see, in the order of enum cmpdel_stat. */
static const char *const cmpdel_stat_names[NR_CMPDEL_STATS] = {
	[CMPDEL_STAT_REQ_DELETE]	= "requests_delete",
	[CMPDEL_STAT_REQ_UPDATE]	= "requests_update",
	[CMPDEL_STAT_REQ_BATCH]		= "requests_batch",
	[CMPDEL_STAT_REQ_SWEEP]		= "requests_sweep",
	[CMPDEL_STAT_REQ_KFUNC_DELETE]	= "kfunc_delete",
	[CMPDEL_STAT_REQ_KFUNC_UPDATE]	= "kfunc_update",
	[CMPDEL_STAT_REQ_KFUNC_SWEEP]	= "kfunc_sweep",
	[CMPDEL_STAT_DELETED]		= "deleted",
	[CMPDEL_STAT_SWAPPED]		= "swapped",
	[CMPDEL_STAT_CHANGED]		= "changed",
	[CMPDEL_STAT_ABSENT]		= "absent",
	[CMPDEL_STAT_RETRIED]		= "retried",
	[CMPDEL_STAT_REFUSED]		= "refused",
	[CMPDEL_STAT_SCANNED]		= "scanned",
};

/* One element's or request's result, as the uapi header lists them. */
void cmpdel_stat_result(int result)
{
	switch (result) {
	case 0:
		cmpdel_stat_add(CMPDEL_STAT_DELETED, 1);
		break;
	case -EBUSY:
		cmpdel_stat_add(CMPDEL_STAT_CHANGED, 1);
		break;
	case -ENOENT:
		cmpdel_stat_add(CMPDEL_STAT_ABSENT, 1);
		break;
	case -EAGAIN:
		cmpdel_stat_add(CMPDEL_STAT_RETRIED, 1);
		break;
	case -EPERM:
		cmpdel_stat_add(CMPDEL_STAT_REFUSED, 1);
		break;
	}
}

/*
 * A batch chunk's results, tallied here and added once a kind: a call and
 * a per-CPU add per element cost more than the compare-and-delete's own
 * bookkeeping.
 */
void cmpdel_stat_results(const s32 *results, u32 n)
{
	u32 deleted = 0, changed = 0, absent = 0, retried = 0, refused = 0, i;

	for (i = 0; i < n; i++) {
		switch (results[i]) {
		case 0:
			deleted++;
			break;
		case -EBUSY:
			changed++;
			break;
		case -ENOENT:
			absent++;
			break;
		case -EAGAIN:
			retried++;
			break;
		case -EPERM:
			refused++;
			break;
		}
	}
	cmpdel_stat_add(CMPDEL_STAT_DELETED, deleted);
	cmpdel_stat_add(CMPDEL_STAT_CHANGED, changed);
	cmpdel_stat_add(CMPDEL_STAT_ABSENT, absent);
	cmpdel_stat_add(CMPDEL_STAT_RETRIED, retried);
	cmpdel_stat_add(CMPDEL_STAT_REFUSED, refused);
}

/* A single request's result: a swap that wrote, or as above. */
void cmpdel_stat_single(int result, bool swap)
{
	if (swap && !result)
		cmpdel_stat_add(CMPDEL_STAT_SWAPPED, 1);
	else
		cmpdel_stat_result(result);
}

/* "name value" a line; a CPU's counts are read as they stand. */
ssize_t cmpdel_stats_show(char *buf)
{
	ssize_t len = 0;
	u64 sum;
	int i, cpu;

	for (i = 0; i < NR_CMPDEL_STATS; i++) {
		sum = 0;
		for_each_possible_cpu(cpu)
			sum += READ_ONCE(per_cpu(cmpdel_stats, cpu).count[i]);
		len += sysfs_emit_at(buf, len, "%s %llu\n", cmpdel_stat_names[i], sum);
	}
	return len;
}
