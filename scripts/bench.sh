#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: what compare-and-delete costs next to a plain delete, measured
# side by side in one VM run (KERNEL=6.12 or 7 picks another line).
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$top/scripts/deps.sh"
kver=$(kernel_provision "${KERNEL:-6.1}")
mkdir -p "$build"
ko=$(dkms_build_module "$kver" 2>"$build/dkms-bench.log") || {
	cat "$build/dkms-bench.log" >&2
	exit 1
}
build_lib
build_static "$build/cmpdel_bench" "$top/bench/cmpdel_bench.c"
echo "bench: $kver under QEMU (TCG): ratios hold, absolute times do not"
"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
	--bin "$build/cmpdel_bench" --cmd cmpdel_bench --timeout 900 |
	tr -d '\r' | sed -n '/^GC pass per element/,/^percpu_hash/p'
