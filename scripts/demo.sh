#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make demo: installs what is missing, builds the module with DKMS for
# Debian's kernel, boots that kernel under QEMU and runs the demos: the
# race in one flow (demo/demo.c), then the conntrack GC race with numbers
# from a real concurrent run under each GC (demo/ct_demo.c).
# KERNELS="6.1 7" (default 6.1) boots several lines in turn.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$top/scripts/deps.sh"
mkdir -p "$build"
build_lib
build_bpf_skeletons
build_static "$build/bpfcmpdel-demo" "$top/demo/demo.c"
build_static "$build/ct_demo" "$top/demo/ct_demo.c" "$top/demo/ctsim.c"

status=0
for line in ${KERNELS:-${KERNEL:-6.1}}; do
	kver=$(kernel_provision "$line")
	echo "demo: building the module with dkms for $kver"
	ko=$(dkms_build_module "$kver" 2>"$build/dkms.log") || {
		cat "$build/dkms.log" >&2
		exit 1
	}
	echo "demo: booting $kver under QEMU (TCG), loading $(basename "$ko")"
	"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
		--bin "$build/bpfcmpdel-demo" --bin "$build/ct_demo" \
		--cmd 'bpfcmpdel-demo && echo && ct_demo' --timeout 900 \
		--log "$build/demo-$kver.log" >/dev/null 2>"$build/demo-run-$kver.log" ||
		status=1
	tr -d '\r' <"$build/demo-$kver.log" |
		awk '/bpfcmpdel: ready/ && !seen++ { print; print "" }
		     /^bpfcmpdel demo on/, /^demo / { print }
		     /^conntrack GC race/, /^demo / { print }'
	if ((status)); then
		sed 's/^/  /' "$build/demo-run-$kver.log" >&2
	fi
done
exit "$status"
