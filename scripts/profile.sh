#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make profile: where a GC pass over a 1M-entry LRU map spends its time,
# or 8192 single deletes of its keys, by `perf record` (cpu-clock samples,
# every CPU) inside the VM, around the passes alone.  PROFILE (default
# "sweep calico walk") names the passes as `cmpdel_bench --gc` knows them
# (also cilium, delete, cmpdel); KERNEL (default 6.1) the line.  perf is
# Debian's linux-perf, installed in the line's build chroot and brought
# into the guest with its loader and libraries.  PROFILE_ICOUNT=1 runs the
# guest on QEMU's -icount clock: each sample then stands for the same
# number of instructions, a profile that repeats run to run (and does not
# see memory stalls).  The reports are kept in build/profile-KVER-PASS.txt.
# Not a test: it asserts nothing.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

bench_build

# perf and what it links, laid out as in the chroot, for run.sh --tree.
tree=$build/perf-tree-$kver
rm -rf "$tree"
mkdir -p "$tree"
# shellcheck disable=SC2016 # expanded by the chroot's sh
(cd "$tree" && kernel_chroot_run "$kver" "$tree" sh -ec '
	apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends install linux-perf >/dev/null
	# Older packages ship perf_VERSION behind a wrapper script.
	perf=$(ls /usr/bin/perf_* 2>/dev/null | sort -V | tail -n 1)
	perf=${perf:-/usr/bin/perf}
	for f in $perf $(ldd "$perf" | grep -o "/[^ ]*"); do
		mkdir -p "$1$(dirname "$f")"
		cp -L "$f" "$1$f"
	done
	[ "$perf" = /usr/bin/perf ] || mv "$1$perf" "$1/usr/bin/perf"
' sh "$tree")

# Expanded by the guest's shell, but for the list of passes.
# shellcheck disable=SC2016
cmd='mkfifo /tmp/ctl /tmp/ack
for pass in '"${PROFILE:-sweep calico walk}"'; do
	BENCH_PERF_CTL=/tmp/ctl BENCH_PERF_ACK=/tmp/ack \
	perf record -q -e cpu-clock -F 4000 -a -D -1 \
		--control fifo:/tmp/ctl,/tmp/ack -o /tmp/perf.data \
		-- cmpdel_bench --gc "$pass" 3 || exit 1
	echo "@@PROFILE-BEGIN $pass@@"
	perf report -i /tmp/perf.data --stdio --no-children --sort sym \
		--percent-limit 0.5 2>/dev/null | grep -v "^#" | grep -v "^$"
	echo "@@PROFILE-END@@"
done'
log=$build/logs/profile-$kver.log
echo "profile: $kver under QEMU (TCG), perf cpu-clock samples"
"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
	--memory 4G --bin "$build/cmpdel_bench" --tree "$tree" \
	${PROFILE_ICOUNT:+--icount 0} --cmd "$cmd" --timeout 3000 --log "$log" >/dev/null || {
	echo "profile: the VM run failed; see $log" >&2
	exit 1
}
for pass in ${PROFILE:-sweep calico walk}; do
	out=$build/profile-$kver-$pass.txt
	tr -d '\r' <"$log" | grep "^# $pass pass [0-9]*: " >"$out" || true
	tr -d '\r' <"$log" | sed -n "/^@@PROFILE-BEGIN $pass@@$/,/^@@PROFILE-END@@$/p" |
		sed '1d;$d' >>"$out"
	echo "== $pass ($out)"
	head -n 40 "$out"
done
