// SPDX-License-Identifier: GPL-2.0
/*
 * What the module tells operators, read-only, under
 * /sys/class/misc/bpfcmpdel/: the requests and modes it serves, the map
 * types, the bucket lock generation, how it reaches each kernel function
 * it resolved (the `bpfcmpdel info` command reads these), and its counters
 * (`bpfcmpdel stats`).
 */
#include <linux/device.h>
#include <linux/sysfs.h>

#include "compat/bucket_lock.h"
#include "cmpdel.h"
#include "stats.h"

static ssize_t features_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  "delete delete_batch sweep update snapshot lock tombstone cpu sweep_values");
}
static DEVICE_ATTR_RO(features);

/* Whether BPF programs can call the kfuncs, or why not. */
static ssize_t kfuncs_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return cmpdel_kfuncs_show(buf);
}
static DEVICE_ATTR_RO(kfuncs);

static ssize_t map_types_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "hash percpu_hash lru_hash lru_percpu_hash\n");
}
static DEVICE_ATTR_RO(map_types);

static ssize_t bucket_lock_show(struct device *dev, struct device_attribute *attr,
				char *buf)
{
	return sysfs_emit(buf, "%s\n", CMPDEL_BUCKET_LOCK_TYPE);
}
static DEVICE_ATTR_RO(bucket_lock);

static ssize_t call_targets_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return cmpdel_call_targets_show(buf);
}
static DEVICE_ATTR_RO(call_targets);

/* What the module did since it was loaded: see bpfcmpdel(8), "stats". */
static ssize_t stats_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return cmpdel_stats_show(buf);
}
static DEVICE_ATTR_RO(stats);

static struct attribute *cmpdel_attrs[] = {
	&dev_attr_features.attr,
	&dev_attr_kfuncs.attr,
	&dev_attr_map_types.attr,
	&dev_attr_bucket_lock.attr,
	&dev_attr_call_targets.attr,
	&dev_attr_stats.attr,
	NULL,
};

static const struct attribute_group cmpdel_group = {
	.attrs = cmpdel_attrs,
};

const struct attribute_group *cmpdel_attr_groups[] = {
	&cmpdel_group,
	NULL,
};
