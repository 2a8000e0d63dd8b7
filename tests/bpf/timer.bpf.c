// SPDX-License-Identifier: GPL-2.0
/*
 * Arms a bpf_timer inside a map element, so that tests can show that
 * compare-and-delete releases it as the kernel's own delete does: a timer
 * left behind in a freed element would still fire.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CLOCK_MONOTONIC 1

struct elem {
	__u64 generation;
	struct bpf_timer timer;
};

#define TIMER_MAP(name, map_type, flags)			\
	struct {						\
		__uint(type, map_type);				\
		__uint(map_flags, flags);			\
		__uint(max_entries, 4);				\
		__type(key, __u32);				\
		__type(value, struct elem);			\
	} name SEC(".maps")

TIMER_MAP(prealloc, BPF_MAP_TYPE_HASH, 0);
TIMER_MAP(noprealloc, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC);
TIMER_MAP(lru, BPF_MAP_TYPE_LRU_HASH, 0);

/* Inputs: which map, which key, when; output: how many timers fired. */
__u32 map_index;
__u32 key;
__u64 delay_ns;
__u64 fired;

static int timer_fired(void *map, __u32 *k, struct elem *e)
{
	__sync_fetch_and_add(&fired, 1);
	return 0;
}

#define ARM(map)							\
	({								\
		struct elem *e = bpf_map_lookup_elem(&map, &key);	\
		int err = 1;						\
									\
		if (e)							\
			err = bpf_timer_init(&e->timer, &map, CLOCK_MONOTONIC) ?: \
			      bpf_timer_set_callback(&e->timer, timer_fired) ?: \
			      bpf_timer_start(&e->timer, delay_ns, 0);	\
		err;							\
	})

SEC("tc")
int arm_timer(struct __sk_buff *skb)
{
	switch (map_index) {
	case 0:
		return ARM(prealloc);
	case 1:
		return ARM(noprealloc);
	default:
		return ARM(lru);
	}
}

char LICENSE[] SEC("license") = "GPL";
