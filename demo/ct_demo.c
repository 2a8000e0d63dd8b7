// SPDX-License-Identifier: GPL-2.0
/*
 * The conntrack GC race with numbers: the same scenario (demo/ctsim.h)
 * under each GC, side by side, in one boot.  Runs inside the VM started by
 * `make demo`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "ctsim.h"

int main(void)
{
	const struct ctsim_config cfg = {
		.flows = 20000, .revive = 5000, .threads = 2, .seed = 1,
	};
	struct ctsim_result r[NR_CTSIM_GC];
	struct utsname u;
	int gc, ret, failed = 0;

	uname(&u);
	printf("conntrack GC race on %s %s: %u flows (half idle), a BPF datapath\n"
	       "reviving %u idle flows from %u threads while the GC deletes what its\n"
	       "BPF_MAP_LOOKUP_BATCH snapshot showed expired\n\n",
	       u.release, u.version, cfg.flows, cfg.revive, cfg.threads);
	printf("%-36s %8s %8s %8s %8s %8s %12s\n", "GC", "scanned", "expired",
	       "deleted", "kept", "revived", "LIVE LOST");
	for (gc = 0; gc < NR_CTSIM_GC; gc++) {
		ret = ctsim_run(gc, &cfg, &r[gc]);
		if (ret == -EOPNOTSUPP) {
			printf("%-36s not on this kernel: kfuncs %s\n",
			       ctsim_gc_names[gc], ctsim_why);
			continue;
		}
		if (ret) {
			printf("%-36s failed: %s\n", ctsim_gc_names[gc], strerror(-ret));
			failed = 1;
			continue;
		}
		printf("%-36s %8u %8u %8u %8u %8u %12u\n", ctsim_gc_names[gc],
		       r[gc].scanned, r[gc].expired, r[gc].deleted, r[gc].kept,
		       r[gc].revived, r[gc].lost);
		failed |= r[gc].other != 0;
	}
	printf("\nmaps: LRU_HASH for all but (c), a HASH with a bpf_spin_lock (LRU maps\n"
	       "take no spin locks). kept = refused as changed (-EBUSY).\n"
	       "(e), (f): the GC's deletes made by a BPF program (BPF_PROG_RUN), as\n"
	       "Calico's cleaner makes them. (g): no snapshot; a BPF program sweeps\n"
	       "the map with the sweep kfunc; expired = idle at the start, kept = of\n"
	       "those, not deleted.\n%s\n",
	       ctsim_method);
	if (!failed && (r[CTSIM_GC_TOMBSTONE].lost || r[CTSIM_GC_BPF_KFUNC].lost ||
			r[CTSIM_GC_BPF_SWEEP].lost))
		failed = 1;
	printf("demo %s\n", failed ? "FAILED" : "done");
	return failed;
}
