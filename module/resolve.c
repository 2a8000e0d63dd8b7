// SPDX-License-Identifier: GPL-2.0
/*
 * Internal kernel symbols, found at load time.
 *
 * kallsyms_lookup_name() is not exported; a disabled kprobe on it makes
 * the kernel look it up for us, and kallsyms then tells where the function
 * really starts (a kprobe on an entry sits past ENDBR).  Every function the
 * module calls this way is checked for ENDBR and called through
 * compat/ibt.h, so a CPU that enforces IBT never faults on it.
 */
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat/compat.h"
#include "compat/ibt.h"
#include "cmpdel.h"

struct cmpdel_kernel_data cmpdel_kdata;

enum cmpdel_call_id {
	CALL_KALLSYMS_LOOKUP_NAME,
	CALL_PCPU_FREELIST_PUSH,
	CALL_BPF_MEM_CACHE_FREE,
	CALL_BPF_LRU_PUSH_FREE,
#if defined(CMPDEL_HAVE_BPF_OBJ_CANCEL_FIELDS)
	CALL_BPF_OBJ_CANCEL_FIELDS,
#elif defined(CMPDEL_HAVE_BPF_MAP_RECORD)
	CALL_BPF_OBJ_FREE_FIELDS,
#else
	CALL_BPF_TIMER_CANCEL_AND_FREE,
	CALL_BPF_MAP_FREE_KPTRS,
#endif
	CALL_KERN_SYS_BPF,
	NR_CALLS,
};

struct cmpdel_call_target {
	const char *name;
	void *addr;
	bool endbr;
	/* The IBT window runs with preemption off: no way in for these. */
	bool may_sleep;
};

static struct cmpdel_call_target calls[NR_CALLS] = {
	[CALL_KALLSYMS_LOOKUP_NAME]	= { .name = "kallsyms_lookup_name" },
	[CALL_PCPU_FREELIST_PUSH]	= { .name = "pcpu_freelist_push" },
	[CALL_BPF_MEM_CACHE_FREE]	= { .name = "bpf_mem_cache_free" },
	[CALL_BPF_LRU_PUSH_FREE]	= { .name = "bpf_lru_push_free" },
#if defined(CMPDEL_HAVE_BPF_OBJ_CANCEL_FIELDS)
	[CALL_BPF_OBJ_CANCEL_FIELDS]	= { .name = "bpf_obj_cancel_fields" },
#elif defined(CMPDEL_HAVE_BPF_MAP_RECORD)
	[CALL_BPF_OBJ_FREE_FIELDS]	= { .name = "bpf_obj_free_fields" },
#else
	[CALL_BPF_TIMER_CANCEL_AND_FREE] = { .name = "bpf_timer_cancel_and_free" },
	[CALL_BPF_MAP_FREE_KPTRS]	= { .name = "bpf_map_free_kptrs" },
#endif
	/* Exported, but into the BPF_INTERNAL namespace since 6.12/6.15. */
	[CALL_KERN_SYS_BPF]		= { .name = "kern_sys_bpf", .may_sleep = true },
};

/*
 * On a kernel built without IBT no function has ENDBR and no CPU enforces
 * it, so there is nothing to route around.
 */
static bool call_needs_window(const struct cmpdel_call_target *t)
{
	return CMPDEL_IBT_POSSIBLE && !t->endbr;
}

static unsigned long call_kallsyms_lookup_name(const char *name)
{
	const struct cmpdel_call_target *t = &calls[CALL_KALLSYMS_LOOKUP_NAME];
	unsigned long (*fn)(const char *name) = t->addr;
	struct cmpdel_ibt_window w;
	unsigned long addr;

	cmpdel_ibt_window_open(&w, t->endbr);
	addr = fn(name);
	cmpdel_ibt_window_close(&w);
	return addr;
}

/*
 * Calls target @id, a function of type @fn_type, with the arguments that
 * follow; through the IBT window when the target lacks ENDBR.
 */
#define call_target(id, fn_type, ...)					\
	do {								\
		const struct cmpdel_call_target *__t = &calls[id];	\
		struct cmpdel_ibt_window __w;				\
									\
		cmpdel_ibt_window_open(&__w, __t->endbr);		\
		((fn_type)__t->addr)(__VA_ARGS__);			\
		cmpdel_ibt_window_close(&__w);				\
	} while (0)

void cmpdel_pcpu_freelist_push(void *freelist, void *node)
{
	call_target(CALL_PCPU_FREELIST_PUSH, void (*)(void *, void *),
		    freelist, node);
}

void cmpdel_bpf_mem_cache_free(void *ma, void *ptr)
{
	call_target(CALL_BPF_MEM_CACHE_FREE, void (*)(void *, void *), ma, ptr);
}

void cmpdel_bpf_lru_push_free(void *lru, void *node)
{
	call_target(CALL_BPF_LRU_PUSH_FREE, void (*)(void *, void *), lru, node);
}

/*
 * How a deleted element's fields are released changed twice: 6.1 cancels
 * the timer and frees kptrs one by one, 6.2+ frees them all through the
 * btf_record, and 7.x only cancels timers and the like at delete, leaving
 * the rest to whoever reuses or frees the memory.
 */
void cmpdel_free_fields(struct bpf_map *map, void *value)
{
#if defined(CMPDEL_HAVE_BPF_OBJ_CANCEL_FIELDS)
	call_target(CALL_BPF_OBJ_CANCEL_FIELDS,
		    void (*)(struct bpf_map *, void *), map, value);
#elif defined(CMPDEL_HAVE_BPF_MAP_RECORD)
	call_target(CALL_BPF_OBJ_FREE_FIELDS,
		    void (*)(const struct btf_record *, void *), map->record, value);
#else
	if (map_value_has_timer(map))
		call_target(CALL_BPF_TIMER_CANCEL_AND_FREE, void (*)(void *),
			    value + map->timer_off);
	if (map_value_has_kptrs(map))
		call_target(CALL_BPF_MAP_FREE_KPTRS,
			    void (*)(struct bpf_map *, void *), map, value);
#endif
}

/* Only for the load-time self-test: it has no ENDBR-less path. */
int cmpdel_kern_sys_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
	int (*fn)(int cmd, union bpf_attr *attr, unsigned int size);

	fn = calls[CALL_KERN_SYS_BPF].addr;
	return fn(cmd, attr, size);
}

/* bpf_disable_instrumentation(), whose per-CPU counter is not exported. */
void cmpdel_disable_instrumentation(void)
{
	migrate_disable();
	this_cpu_inc(*cmpdel_kdata.bpf_prog_active);
}

void cmpdel_enable_instrumentation(void)
{
	this_cpu_dec(*cmpdel_kdata.bpf_prog_active);
	migrate_enable();
}

/* The start of @name, from kallsyms' answer for the address @addr. */
static void *symbol_start(const char *name, void *addr)
{
	char sym[KSYM_SYMBOL_LEN];
	size_t len = strlen(name);
	unsigned long offset;
	char *end;

	sprint_symbol(sym, (unsigned long)addr);
	if (strncmp(sym, name, len) || sym[len] != '+')
		return NULL;
	end = strchr(sym + len, '/');
	if (!end)
		return NULL;
	*end = '\0';
	if (kstrtoul(sym + len + 1, 0, &offset))
		return NULL;
	return (char *)addr - offset;
}

static int resolve_kallsyms_lookup_name(void)
{
	struct cmpdel_call_target *t = &calls[CALL_KALLSYMS_LOOKUP_NAME];
	struct kprobe kp = {
		.symbol_name = t->name,
		.flags = KPROBE_FLAG_DISABLED,
	};
	int ret;

	ret = register_kprobe(&kp);
	if (ret) {
		pr_err("cannot resolve %s through a kprobe: %d\n", t->name, ret);
		return ret;
	}
	unregister_kprobe(&kp);

	t->addr = symbol_start(t->name, kp.addr);
	if (!t->addr) {
		pr_err("kallsyms does not name the kprobe address of %s\n", t->name);
		return -ENOENT;
	}
	t->endbr = cmpdel_has_endbr(t->addr);
	return 0;
}

static void *lookup(const char *name)
{
	void *addr = (void *)call_kallsyms_lookup_name(name);

	if (!addr)
		pr_err("kernel symbol %s not found\n", name);
	return addr;
}

static int resolve_call_targets(void)
{
	struct cmpdel_call_target *t;
	int i;

	for (i = 0; i < NR_CALLS; i++) {
		t = &calls[i];
		/* kallsyms_lookup_name itself was found by its kprobe. */
		if (t->addr)
			continue;
		t->addr = lookup(t->name);
		if (!t->addr)
			return -ENOENT;
		t->endbr = cmpdel_has_endbr(t->addr);
		/* Refused on every CPU, so behaviour does not depend on which one. */
		if (t->may_sleep && call_needs_window(t)) {
			pr_err("%s has no ENDBR on an IBT kernel and may sleep: no safe way to call it\n",
			       t->name);
			return -ENOENT;
		}
	}
	return 0;
}

static int resolve_kernel_data(void)
{
	static const char *const ops_names[NR_CMPDEL_HTAB_KINDS] = {
		[CMPDEL_HASH]		 = "htab_map_ops",
		[CMPDEL_PERCPU_HASH]	 = "htab_percpu_map_ops",
		[CMPDEL_LRU_HASH]	 = "htab_lru_map_ops",
		[CMPDEL_LRU_PERCPU_HASH] = "htab_lru_percpu_map_ops",
	};
	struct cmpdel_kernel_data *d = &cmpdel_kdata;
	int i;

	for (i = 0; i < NR_CMPDEL_HTAB_KINDS; i++) {
		d->htab_ops[i] = lookup(ops_names[i]);
		if (!d->htab_ops[i])
			return -ENOENT;
	}
	d->bpf_map_fops = lookup("bpf_map_fops");
	/* kallsyms gives the per-CPU symbol's address as the compiler would. */
	d->bpf_prog_active = (int __percpu *)(unsigned long)lookup("bpf_prog_active");
	d->btf_start = lookup("__start_BTF");
	d->btf_end = lookup("__stop_BTF");

	if (!d->bpf_map_fops || !d->bpf_prog_active || !d->btf_start ||
	    !d->btf_end)
		return -ENOENT;
	return 0;
}

int cmpdel_resolve_symbols(void)
{
	int ret;

	ret = resolve_kallsyms_lookup_name();
	if (ret)
		return ret;
	ret = resolve_call_targets();
	if (ret)
		return ret;
	return resolve_kernel_data();
}

/*
 * One line per target, for admins and for the VM tests, which check each
 * claim against the kernel text itself.
 */
const char *cmpdel_ibt_state(void)
{
	if (!CMPDEL_IBT_POSSIBLE)
		return "not built into this kernel";
	return cmpdel_ibt_enforced() ? "enforced by this CPU" :
				       "built in, not enforced by this CPU";
}

void cmpdel_report_call_paths(void)
{
	const struct cmpdel_call_target *t;
	int i;

	for (i = 0; i < NR_CALLS; i++) {
		t = &calls[i];
		pr_info("call target %s: endbr=%s path=%s\n", t->name,
			t->endbr ? "yes" : "no",
			call_needs_window(t) ? "ibt-window" : "direct");
	}
}
