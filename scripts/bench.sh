#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: every way to delete expired map entries, side by side in one
# VM boot (bench/cmpdel_bench.c), on KERNEL (default 6.1) for BENCH_SIZES
# (default "1024 65536 1048576" entries); twice: timed by the host's clock,
# and by QEMU's -icount clock, which counts instructions.  Prints the
# tables and keeps them in build/bench-results.md, which `make bench-table`
# puts in docs/benchmarks.md.
# The GC table has the Go package's pass too (go/bpfcmpdel/bench_test.go,
# run by cmpdel_bench on the same map in turn with the C library's), and a
# Cilium-style pass on cilium/ebpf alone.  Not a test: it asserts nothing.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

bench_build
# One boot with the host's clock (2 vCPUs, as the tests run), one with
# QEMU's -icount clock (an instruction count: 1 vCPU, deterministic).
bench_boot() {	# bench_boot NAME [run.sh ARGS...]: NAME's tables on stdout
	local log=$build/logs/bench-$kver-$1.log env=

	[[ $1 == wall ]] || env="BENCH_ICOUNT=1 "
	shift
	"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
		--memory 4G --bin "$build/cmpdel_bench" --bin "$build/go_test" \
		--cmd "${env}BENCH_GO=go_test cmpdel_bench ${BENCH_SIZES:-1024 65536 1048576}" \
		--timeout 5000 --log "$log" "$@" >/dev/null || return
	tr -d '\r' <"$log" | sed -n '/^@@BENCH-BEGIN@@$/,/^@@BENCH-END@@$/p' | sed '1d;$d'
}

echo "bench: $kver under QEMU (TCG): ratios hold, absolute times do not"
{
	echo "### Wall clock: the host's time, 2 vCPUs"
	echo
	bench_boot wall
	echo
	echo "### Instruction counts: QEMU's -icount clock, 1 vCPU"
	echo
	bench_boot icount --icount 0
} >"$build/bench-results.md.new"
[[ $(grep -c '^| GC |' "$build/bench-results.md.new") == 2 ]] || {
	echo "bench: a boot gave no results (logs in $build/logs/bench-$kver-*.log)" >&2
	exit 1
}
mv "$build/bench-results.md.new" "$build/bench-results.md"
cat "$build/bench-results.md"
