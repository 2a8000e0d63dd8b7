// SPDX-License-Identifier: GPL-2.0
/*
 * Map handles: a u32 that names a map to the kfuncs taking one
 * (BPFCMPDEL_IOC_HANDLE_NEW in bpfcmpdel/ioctl.h), for verifiers that
 * cannot pass a map to a module's kfunc.  Each live handle holds a
 * reference on its map and belongs to the device file that made it.
 *
 * A kfunc resolves a handle under RCU, lock-free, from any context a
 * program runs in; a handle is unpublished, then a grace period passes,
 * and only then is its map reference dropped, so a kfunc that found the
 * map uses it safely until its own RCU read section ends.
 */
#include <linux/bpf.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include <bpfcmpdel/ioctl.h>

#include "cmpdel.h"

/* A handle is (generation << 8) | slot: 8 bits cover the table. */
#define CMPDEL_HANDLE_SLOT_BITS	8
#define CMPDEL_HANDLE_GEN_MASK	GENMASK(31 - CMPDEL_HANDLE_SLOT_BITS, 0)
static_assert(BPFCMPDEL_HANDLES_MAX == 1 << CMPDEL_HANDLE_SLOT_BITS);

struct cmpdel_handle {
	struct bpf_map *map;
	struct file *owner;
	u32 id;
};

static struct cmpdel_handle __rcu *cmpdel_handles[BPFCMPDEL_HANDLES_MAX];
/* Serialises the writers; the generation only ever grows under it. */
static DEFINE_MUTEX(cmpdel_handles_lock);
static u32 cmpdel_handle_gen;

/*
 * The map @id names, or NULL; the caller is in an RCU read section, and
 * the map is valid until that ends.
 */
struct bpf_map *cmpdel_handle_map(u32 id)
{
	struct cmpdel_handle *h;

	h = rcu_dereference(cmpdel_handles[id % BPFCMPDEL_HANDLES_MAX]);
	return h && h->id == id ? h->map : NULL;
}

/* The next generation: 2^24 - 1 handles before one repeats, never 0. */
static u32 next_gen(void)
{
	cmpdel_handle_gen = (cmpdel_handle_gen + 1) & CMPDEL_HANDLE_GEN_MASK;
	if (!cmpdel_handle_gen)
		cmpdel_handle_gen = 1;
	return cmpdel_handle_gen;
}

/* A new handle for @map, owned by @owner, with a reference of its own. */
int cmpdel_handle_new(struct file *owner, struct bpf_map *map, u32 *id)
{
	struct cmpdel_handle *h;
	int slot, ret = -ENOSPC;

	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return -ENOMEM;
	mutex_lock(&cmpdel_handles_lock);
	for (slot = 0; slot < BPFCMPDEL_HANDLES_MAX; slot++) {
		if (rcu_access_pointer(cmpdel_handles[slot]))
			continue;
		h->id = next_gen() << CMPDEL_HANDLE_SLOT_BITS | slot;
		h->owner = owner;
		h->map = map;
		bpf_map_inc(map);
		rcu_assign_pointer(cmpdel_handles[slot], h);
		*id = h->id;
		ret = 0;
		break;
	}
	mutex_unlock(&cmpdel_handles_lock);
	if (ret)
		kfree(h);
	return ret;
}

/* Handles dropped per grace period when a file closes. */
#define CMPDEL_HANDLES_PER_DROP	16

/*
 * Unpublishes @owner's handle @id, or with @all up to
 * CMPDEL_HANDLES_PER_DROP of its handles, into @gone; returns how many.
 */
static int handles_unpublish(struct file *owner, u32 id, bool all,
			     struct cmpdel_handle **gone)
{
	struct cmpdel_handle *h;
	int slot, n = 0;

	mutex_lock(&cmpdel_handles_lock);
	for (slot = 0; slot < BPFCMPDEL_HANDLES_MAX; slot++) {
		h = rcu_dereference_protected(cmpdel_handles[slot],
					      lockdep_is_held(&cmpdel_handles_lock));
		if (!h || h->owner != owner || (!all && h->id != id))
			continue;
		RCU_INIT_POINTER(cmpdel_handles[slot], NULL);
		gone[n++] = h;
		if (!all || n == CMPDEL_HANDLES_PER_DROP)
			break;
	}
	mutex_unlock(&cmpdel_handles_lock);
	return n;
}

/* After a grace period, no kfunc still uses what was unpublished. */
static void handles_drop(struct cmpdel_handle **gone, int n)
{
	int i;

	if (!n)
		return;
	synchronize_rcu();
	for (i = 0; i < n; i++) {
		bpf_map_put(gone[i]->map);
		kfree(gone[i]);
	}
}

/* BPFCMPDEL_IOC_HANDLE_FREE: @id, if @owner made it. */
int cmpdel_handle_free(struct file *owner, u32 id)
{
	struct cmpdel_handle *gone[1];
	int n;

	n = handles_unpublish(owner, id, false, gone);
	handles_drop(gone, n);
	return n ? 0 : -ENOENT;
}

/*
 * The device file @owner is closed: its handles go with it.  A file that
 * made none costs one scan of the table, and no grace period.
 */
void cmpdel_handles_release(struct file *owner)
{
	struct cmpdel_handle *gone[CMPDEL_HANDLES_PER_DROP];
	int n;

	do {
		n = handles_unpublish(owner, 0, true, gone);
		handles_drop(gone, n);
	} while (n == CMPDEL_HANDLES_PER_DROP);
}
