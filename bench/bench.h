/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bench/bench.bpf.c and bench/cmpdel_bench.c. */
#ifndef _BPFCMPDEL_BENCH_H
#define _BPFCMPDEL_BENCH_H

#include <linux/types.h>

#define BENCH_PROG_BATCH 1024

struct bench_value {
	__u64 lifetime;		/* what every GC judges and compares */
	__u64 packets;
};

struct bench_one {
	__u32 key;
	__u32 pad;
	__u64 expected;
};

struct bench_batch {
	__u32 count;
	__u32 deleted;
	__u32 keys[BENCH_PROG_BATCH];
	__u64 expected[BENCH_PROG_BATCH];
};

#endif /* _BPFCMPDEL_BENCH_H */
