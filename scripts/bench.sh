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
bench_boot() {	# bench_boot NAME MORE [run.sh ARGS...]: NAME's tables on stdout
	local log=$build/logs/bench-$kver-$1.log env='' more=$2

	[[ $1 == wall ]] || env="BENCH_ICOUNT=1 "
	shift 2
	"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
		--memory 4G --bin "$build/cmpdel_bench" --bin "$build/go_test" \
		--cmd "${env}BENCH_GO=go_test cmpdel_bench ${BENCH_SIZES:-1024 65536 1048576} $more" \
		--timeout 5000 --log "$log" "$@" >/dev/null || return
	tr -d '\r' <"$log" | sed -n '/^@@BENCH-BEGIN@@$/,/^@@BENCH-END@@$/p' |
		sed '/^@@BENCH-\(BEGIN\|END\)@@$/d'
}

# The GC pass against the map's size, in the first boot (wall clock: the
# memory's cost is what grows with the map).
curve="cmpdel_bench --curve ${BENCH_CURVE_SIZES:-65536 262144 1048576 4194304}"

echo "bench: $kver under QEMU (TCG): ratios hold, absolute times do not"
{
	echo "### Wall clock: the host's time, 2 vCPUs"
	echo
	bench_boot wall "&& $curve"
	echo
	echo "### Instruction counts: QEMU's -icount clock, 1 vCPU"
	echo
	bench_boot icount "" --icount 0
} >"$build/bench-results.md.new"
[[ $(grep -c '^| GC |' "$build/bench-results.md.new") == 2 ]] || {
	echo "bench: a boot gave no results (logs in $build/logs/bench-$kver-*.log)" >&2
	exit 1
}
grep '^@@CURVE ' "$build/bench-results.md.new" | awk '
	{ ms[$2 " " $4] = ms[$2 " " $4] $3 " " $5 "\n" }
	END {	# blocks in the order bench/plots.gnuplot titles them
		n = split("lru cilium,lru calico,lru sweep,hash cilium,hash calico,hash sweep", s, ",")
		for (i = 1; i <= n; i++)
			printf "%s%s", ms[s[i]], i < n ? "\n\n" : ""
	}' >"$build/curve.dat"
sed -i '/^@@CURVE /d' "$build/bench-results.md.new"
# Per element over BPF_MAP_DELETE_ELEM, by map, from the instruction counts.
awk -F'|' '
	function flush() {
		if (label != "")
			printf "\"%s\" %s %s %s %s\n", label, r["7. bpfcmpdel delete"],
				r["7. bpfcmpdel batch of 1024"], r["6. `BPF_MAP_DELETE_BATCH`"],
				r["2. lookup, then `BPF_MAP_DELETE_ELEM`"]
		label = ""
		split("", r)
	}
	/^### Instruction counts/ { ic = 1 }
	ic && /^\*\*.* entries\*\*/ {
		flush()
		if ($0 ~ /spin_lock/)
			next
		n = $0; sub(/ entries\*\*.*/, "", n); sub(/.* /, "", n); n += 0
		size = n >= 1048576 ? n / 1048576 "M" : n >= 1024 ? n / 1024 "k" : n
		label = ($0 ~ /NO_PREALLOC/ ? "no-prealloc " : $0 ~ /LRU/ ? "LRU " : "hash ") size
	}
	ic && label != "" && NF >= 5 {
		m = $2; gsub(/^ +| +$/, "", m)
		v = $5; gsub(/[ x]/, "", v)
		r[m] = v
	}
	END { flush() }' "$build/bench-results.md.new" >"$build/ratio.dat"
mv "$build/bench-results.md.new" "$build/bench-results.md"
gnuplot -e "dir='$build'" "$top/bench/plots.gnuplot"
cat "$build/bench-results.md"
echo "bench: plots in $build/bench-gc-size.svg and $build/bench-ratio.svg"
