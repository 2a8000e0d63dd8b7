// SPDX-License-Identifier: GPL-2.0
/*
 * Internal kernel symbols, found at load time, and the only way the module
 * calls into kernel text: static calls.
 *
 * kallsyms_lookup_name() is not exported; a disabled kprobe on it makes
 * the kernel look it up for us, and kallsyms then tells where the function
 * really starts (a kprobe on an entry sits past ENDBR).
 *
 * With CONFIG_X86_KERNEL_IBT an indirect call must land on ENDBR64, and
 * functions the kernel never calls indirectly have none, or have it
 * sealed at boot.  So no call here goes through a pointer: each target
 * has a static call, which __static_call_update() patches to a direct
 * JMP in its trampoline (and a direct CALL at each inlined call site),
 * the way the kernel itself reaches, say, the KVM vendor ops.  A direct
 * branch is never checked for ENDBR, so the target's ENDBR does not
 * matter, and nothing in the module touches the CET MSRs.  (With call
 * depth tracking the kernel may aim a call site at the target's
 * accounting thunk instead; that is a direct branch too.)
 */
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/security.h>
#include <linux/static_call.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include "compat/compat.h"
#include "cmpdel.h"

#ifndef CONFIG_HAVE_STATIC_CALL
#error "static calls would fall back to indirect calls here, which IBT forbids"
#endif

struct cmpdel_kernel_data cmpdel_kdata;

/*
 * Test-only: a kernel symbol, or a BTF member as STRUCT.MEMBER, that the
 * module must behave as if the running kernel lacked, so the VM tests can
 * show that such a load fails cleanly and names what is missing.
 */
static char *test_pretend_missing;
module_param(test_pretend_missing, charp, 0400);
MODULE_PARM_DESC(test_pretend_missing,
		 "TESTING ONLY: refuse to load as if this symbol or STRUCT.MEMBER were missing");

bool cmpdel_pretend_missing(const char *name)
{
	return test_pretend_missing && !strcmp(test_pretend_missing, name);
}

/* Prototypes from kernel headers outside include/, or not in every one. */
typedef void (cmpdel_pcpu_freelist_push_t)(void *freelist, void *node);
typedef void (cmpdel_bpf_mem_cache_free_t)(void *ma, void *ptr);
typedef void (cmpdel_bpf_lru_push_free_t)(void *lru, void *node);
typedef int (cmpdel_kern_sys_bpf_t)(int cmd, union bpf_attr *attr,
				    unsigned int size);

DEFINE_STATIC_CALL_NULL(bpfcmpdel_kallsyms_lookup_name, kallsyms_lookup_name);
DEFINE_STATIC_CALL_NULL(bpfcmpdel_pcpu_freelist_push,
			*(cmpdel_pcpu_freelist_push_t *)NULL);
DEFINE_STATIC_CALL_NULL(bpfcmpdel_bpf_mem_cache_free,
			*(cmpdel_bpf_mem_cache_free_t *)NULL);
DEFINE_STATIC_CALL_NULL(bpfcmpdel_bpf_lru_push_free,
			*(cmpdel_bpf_lru_push_free_t *)NULL);
#if defined(CMPDEL_HAVE_BPF_OBJ_CANCEL_FIELDS)
DEFINE_STATIC_CALL_NULL(bpfcmpdel_bpf_obj_cancel_fields, bpf_obj_cancel_fields);
#elif defined(CMPDEL_HAVE_BPF_MAP_RECORD)
DEFINE_STATIC_CALL_NULL(bpfcmpdel_bpf_obj_free_fields, bpf_obj_free_fields);
#else
DEFINE_STATIC_CALL_NULL(bpfcmpdel_bpf_timer_cancel_and_free,
			bpf_timer_cancel_and_free);
DEFINE_STATIC_CALL_NULL(bpfcmpdel_bpf_map_free_kptrs, bpf_map_free_kptrs);
#endif
DEFINE_STATIC_CALL_NULL(bpfcmpdel_kern_sys_bpf, *(cmpdel_kern_sys_bpf_t *)NULL);
#ifdef CONFIG_SECURITY
DEFINE_STATIC_CALL_NULL(bpfcmpdel_security_bpf, security_bpf);
#endif

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
#ifdef CONFIG_SECURITY
	CALL_SECURITY_BPF,
#endif
	NR_CALLS,
};

struct cmpdel_call_target {
	const char *name;
	void *addr;
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
	[CALL_KERN_SYS_BPF]		= { .name = "kern_sys_bpf" },
#ifdef CONFIG_SECURITY
	[CALL_SECURITY_BPF]		= { .name = "security_bpf" },
#endif
};

void cmpdel_pcpu_freelist_push(void *freelist, void *node)
{
	static_call(bpfcmpdel_pcpu_freelist_push)(freelist, node);
}

void cmpdel_bpf_mem_cache_free(void *ma, void *ptr)
{
	static_call(bpfcmpdel_bpf_mem_cache_free)(ma, ptr);
}

void cmpdel_bpf_lru_push_free(void *lru, void *node)
{
	static_call(bpfcmpdel_bpf_lru_push_free)(lru, node);
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
	static_call(bpfcmpdel_bpf_obj_cancel_fields)(map, value);
#elif defined(CMPDEL_HAVE_BPF_MAP_RECORD)
	static_call(bpfcmpdel_bpf_obj_free_fields)(map->record, value);
#else
	if (map_value_has_timer(map))
		static_call(bpfcmpdel_bpf_timer_cancel_and_free)(value + map->timer_off);
	if (map_value_has_kptrs(map))
		static_call(bpfcmpdel_bpf_map_free_kptrs)(map, value);
#endif
}

/* Only for the load-time self-test. */
int cmpdel_kern_sys_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
	return static_call(bpfcmpdel_kern_sys_bpf)(cmd, attr, size);
}

/* The hook bpf() runs first; 7.x added whether the caller is the kernel. */
int cmpdel_security_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
#if !defined(CONFIG_SECURITY)
	return 0;
#elif defined(CMPDEL_HAVE_SECURITY_BPF_KERNEL)
	return static_call(bpfcmpdel_security_bpf)(cmd, attr, size, false);
#else
	return static_call(bpfcmpdel_security_bpf)(cmd, attr, size);
#endif
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
	static_call_update(bpfcmpdel_kallsyms_lookup_name, calls[CALL_KALLSYMS_LOOKUP_NAME].addr);
	return 0;
}

static void *lookup(const char *name)
{
	void *addr = NULL;

	if (!cmpdel_pretend_missing(name))
		addr = (void *)static_call(bpfcmpdel_kallsyms_lookup_name)(name);

	if (!addr)
		pr_err("kernel symbol %s not found\n", name);
	return addr;
}

static void set_call_targets(void)
{
	static_call_update(bpfcmpdel_pcpu_freelist_push, calls[CALL_PCPU_FREELIST_PUSH].addr);
	static_call_update(bpfcmpdel_bpf_mem_cache_free, calls[CALL_BPF_MEM_CACHE_FREE].addr);
	static_call_update(bpfcmpdel_bpf_lru_push_free, calls[CALL_BPF_LRU_PUSH_FREE].addr);
#if defined(CMPDEL_HAVE_BPF_OBJ_CANCEL_FIELDS)
	static_call_update(bpfcmpdel_bpf_obj_cancel_fields, calls[CALL_BPF_OBJ_CANCEL_FIELDS].addr);
#elif defined(CMPDEL_HAVE_BPF_MAP_RECORD)
	static_call_update(bpfcmpdel_bpf_obj_free_fields, calls[CALL_BPF_OBJ_FREE_FIELDS].addr);
#else
	static_call_update(bpfcmpdel_bpf_timer_cancel_and_free,
			   calls[CALL_BPF_TIMER_CANCEL_AND_FREE].addr);
	static_call_update(bpfcmpdel_bpf_map_free_kptrs, calls[CALL_BPF_MAP_FREE_KPTRS].addr);
#endif
	static_call_update(bpfcmpdel_kern_sys_bpf, calls[CALL_KERN_SYS_BPF].addr);
#ifdef CONFIG_SECURITY
	static_call_update(bpfcmpdel_security_bpf, calls[CALL_SECURITY_BPF].addr);
#endif
}

/* Every target is found before any static call but the first is set. */
static int resolve_call_targets(void)
{
	int i;

	for (i = 0; i < NR_CALLS; i++) {
		/* kallsyms_lookup_name itself was found by its kprobe. */
		if (calls[i].addr)
			continue;
		calls[i].addr = lookup(calls[i].name);
		if (!calls[i].addr)
			return -ENOENT;
	}
	set_call_targets();
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
	return resolve_kallsyms_lookup_name() ?:
	       resolve_call_targets() ?:
	       resolve_kernel_data();
}

/* f3 0f 1e fa, read as a little-endian u32 */
#define CMPDEL_ENDBR64 0xfa1e0ff3U

static bool has_endbr(const void *addr)
{
	u32 insn;

	if (copy_from_kernel_nofault(&insn, addr, sizeof(insn)))
		return false;
	return insn == CMPDEL_ENDBR64;
}

/*
 * One line per target, for admins and for the VM tests, which read the
 * trampoline named here from the kernel text and check that it jumps
 * straight to the target.  ENDBR is reported for that check alone.
 */
void cmpdel_report_call_paths(void)
{
	int i;

	for (i = 0; i < NR_CALLS; i++)
		pr_info("call target %s: endbr=%s path=static-call tramp=__SCT__bpfcmpdel_%s\n",
			calls[i].name, has_endbr(calls[i].addr) ? "yes" : "no",
			calls[i].name);
}

/* The same, for sysfs: "NAME endbr=yes|no path=static-call" per line. */
ssize_t cmpdel_call_targets_show(char *buf)
{
	ssize_t len = 0;
	int i;

	for (i = 0; i < NR_CALLS; i++)
		len += sysfs_emit_at(buf, len, "%s endbr=%s path=static-call\n",
				     calls[i].name,
				     has_endbr(calls[i].addr) ? "yes" : "no");
	return len;
}
