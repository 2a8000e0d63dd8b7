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

/*
 * The counter of one element's or request's result, as the uapi header
 * lists them; NR_CMPDEL_STATS for a result no counter counts.
 */
static enum cmpdel_stat result_stat(int result)
{
	switch (result) {
	case 0:
		return CMPDEL_STAT_DELETED;
	case -EBUSY:
		return CMPDEL_STAT_CHANGED;
	case -ENOENT:
		return CMPDEL_STAT_ABSENT;
	case -EAGAIN:
		return CMPDEL_STAT_RETRIED;
	case -EPERM:
		return CMPDEL_STAT_REFUSED;
	default:
		return NR_CMPDEL_STATS;
	}
}

void cmpdel_stat_result(int result)
{
	enum cmpdel_stat item = result_stat(result);

	if (item < NR_CMPDEL_STATS)
		cmpdel_stat_add(item, 1);
}

/*
 * A batch chunk's results, tallied here and added once a kind: a call and
 * a per-CPU add per element cost more than the compare-and-delete's own
 * bookkeeping.
 */
void cmpdel_stat_results(const s32 *results, u32 n)
{
	u32 count[NR_CMPDEL_STATS + 1] = {}, i;	/* the last: uncounted */

	for (i = 0; i < n; i++)
		count[result_stat(results[i])]++;
	for (i = 0; i < NR_CMPDEL_STATS; i++)
		if (count[i])
			cmpdel_stat_add(i, count[i]);
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
