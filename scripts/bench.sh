#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: every way to delete expired map entries, side by side in one
# VM boot (bench/cmpdel_bench.c), on KERNEL (default 6.1) for BENCH_SIZES
# (default "1024 65536 1048576" entries).  Prints the tables and keeps them
# in build/bench-results.md, which `make bench-table` puts in docs/benchmarks.md.
# Then, in the same boot, the Go package's GC pass and a cilium/ebpf-only
# Cilium-style pass on the same map (go/bpfcmpdel/bench_test.go), set
# against the C library's.  Not a test: it asserts nothing.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

bench_build
echo "bench: $kver under QEMU (TCG): ratios hold, absolute times do not"
log=$build/logs/bench-$kver.log
"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
	--memory 4G --bin "$build/cmpdel_bench" --bin "$build/go_test" \
	--cmd "cmpdel_bench ${BENCH_SIZES:-1024 65536 1048576} &&
		echo @@GO-BEGIN@@ && go_test -test.run '^\$' -test.bench GCPass \
			-test.benchtime ${BENCH_GO_PASSES:-5}x && echo @@GO-END@@" \
	--timeout 5000 --log "$log" >/dev/null
tr -d '\r' <"$log" | sed -n '/^@@BENCH-BEGIN@@$/,/^@@BENCH-END@@$/p' |
	sed '1d;$d' >"$build/bench-results.md.new"
[[ -s $build/bench-results.md.new ]] || {
	echo "bench: no results in $log" >&2
	exit 1
}
# The Go rows, against the C library's pass of the table above.
c_ms=$(awk -F'|' '$2 ~ /^ bpfcmpdel_gc_sweep\(\) $/ { print $3 + 0 }' \
	"$build/bench-results.md.new")
tr -d '\r' <"$log" | sed -n '/^@@GO-BEGIN@@$/,/^@@GO-END@@$/p' | awk \
	-v c_ms="$c_ms" -v passes="${BENCH_GO_PASSES:-5}" '
	BEGIN {
		printf "\n**The same GC pass from Go** (go/bpfcmpdel on cilium/ebpf, same boot, same map; mean of %d passes)\n\n", passes
		print "| GC | ms | vs the C library'"'"'s `bpfcmpdel_gc_sweep()` above |"
		print "|---|---|---|"
	}
	$1 ~ /^BenchmarkGCPass\// && $4 == "ns/op" {
		name = $1; sub(/^BenchmarkGCPass\//, "", name); sub(/-[0-9]+$/, "", name)
		what = name == "bpfcmpdel.GC" ? "`bpfcmpdel.GC()`, Go" : \
			"Cilium-style on cilium/ebpf alone: `BatchLookup` + `Delete` per expired key"
		ms = $3 / 1e6
		# Parenthesised: a bare ">" in a print list redirects its output.
		printf "| %s | %.0f | %s |\n", what, ms, (c_ms > 0 ? sprintf("%.2fx", ms / c_ms) : "?")
	}' >>"$build/bench-results.md.new"
mv "$build/bench-results.md.new" "$build/bench-results.md"
cat "$build/bench-results.md"
