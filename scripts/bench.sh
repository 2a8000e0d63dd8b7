#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: every way to delete expired map entries, side by side in one
# VM boot (bench/cmpdel_bench.c), on KERNEL (default 6.1) for BENCH_SIZES
# (default "1024 65536 1048576" entries).  Prints the tables and keeps them
# in build/bench-results.md, which `make bench-table` puts in the README.
# Not a test: it asserts nothing.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

bench_build
echo "bench: $kver under QEMU (TCG): ratios hold, absolute times do not"
log=$build/logs/bench-$kver.log
"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
	--memory 4G --bin "$build/cmpdel_bench" \
	--cmd "cmpdel_bench ${BENCH_SIZES:-1024 65536 1048576}" --timeout 5000 \
	--log "$log" >/dev/null
tr -d '\r' <"$log" | sed -n '/^@@BENCH-BEGIN@@$/,/^@@BENCH-END@@$/p' |
	sed '1d;$d' >"$build/bench-results.md.new"
[[ -s $build/bench-results.md.new ]] || {
	echo "bench: no results in $log" >&2
	exit 1
}
mv "$build/bench-results.md.new" "$build/bench-results.md"
cat "$build/bench-results.md"
