/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by tests/bpf/lsm.bpf.c and the test that loads it. */
#ifndef _BPFCMPDEL_TEST_LSM_H
#define _BPFCMPDEL_TEST_LSM_H

#include <linux/types.h>

/* What the security_bpf() hook was shown of one command. */
struct lsm_seen {
	__u32 cmd;
	__u32 map_fd;	/* or batch.map_fd */
	__u64 key;	/* or batch.keys */
	__u64 value;	/* or batch.values */
	__u64 flags;
	__u32 count;	/* batch.count */
	__u32 pad;
};

#endif /* _BPFCMPDEL_TEST_LSM_H */
