#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: installs what is missing, then runs every test -- style
# checks and host tests, the module's tests inside a VM booting each of
# Debian's kernels -- and ends with "N passed, N failed[, N skipped]".
# Every test binary is held to its TAP plan and exit status
# (tests/tap-check.awk): one that crashes, hangs or exits early fails by
# name.  Nothing outside build/ and the kernel cache is written.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

passed=0 failed=0 skipped=0
failures=()

record() {	# record NAME ok|fail|skip
	case $2 in
	ok) passed=$((passed + 1)); echo "ok - $1" ;;
	skip) skipped=$((skipped + 1)); echo "ok - $1 # SKIP" ;;
	*) failed=$((failed + 1)); failures+=("$1"); echo "not ok - $1" ;;
	esac
}

# Counts the results tap-check.awk normalized out of a framed log.
count_tap() {	# count_tap PREFIX FILE
	local line

	while IFS= read -r line; do
		case $line in
		"not ok - "*) record "${line#not ok - }" fail >/dev/null ;;
		"ok - "*"# SKIP"*) skipped=$((skipped + 1)) ;;
		"ok - "*) passed=$((passed + 1)) ;;
		esac
	done < <(awk -v prefix="$1" -f "$top/tests/tap-check.awk" "$2" || true)
}

# Runs a host test binary framed as the guest frames its own.
run_framed() {	# run_framed LOG NAME COMMAND...
	local log=$1 name=$2 rc=0

	shift 2
	{
		echo "@@BIN-BEGIN $name@@"
		timeout -s KILL 600 "$@" || rc=$?
		echo "@@BIN-END $name $rc@@"
	} >>"$log" 2>&1
}

# make install honours DESTDIR/PREFIX, and its pkg-config file links.
lib_install_works() {
	local dest=$build/install flags

	rm -rf "$dest"
	make -s -C "$top/lib" install DESTDIR="$dest" PREFIX=/usr || return
	# The installed .pc, and the system's for what it requires (libbpf).
	flags=$(PKG_CONFIG_SYSROOT_DIR=$dest \
		PKG_CONFIG_LIBDIR=$dest/usr/lib/pkgconfig:$(pkg-config --variable pc_path pkg-config) \
		pkg-config --cflags --libs libbpfcmpdel) || return
	[[ -f $dest/usr/include/bpfcmpdel/bpfcmpdel.h && -f $dest/usr/include/bpfcmpdel/ioctl.h ]] ||
		return
	# The command, its man page and completion, from the same install.
	make -s -C "$top/cli" install DESTDIR="$dest" PREFIX=/usr CFLAGS="-O2 -g -Werror" &&
		make -s -C "$top/cli" clean || return
	[[ -f $dest/usr/share/man/man8/bpfcmpdel.8 &&
		-f $dest/usr/share/bash-completion/completions/bpfcmpdel ]] || return
	"$dest/usr/sbin/bpfcmpdel" --version | grep -qx "bpfcmpdel $pkg_version" || return
	# shellcheck disable=SC2086 # pkg-config's flags are separate words
	cc -o "$build/pc-consumer" "$top/demo/demo.c" $flags -lbpf
}

run_step() {	# run_step NAME LOG COMMAND...: a step is one test
	local name=$1 log=$2

	shift 2
	if "$@" >"$log" 2>&1; then
		record "$name" ok
	else
		record "$name" fail
		tail -n 40 "$log" | sed "s/^/  $name: /"
	fi
}

# The guest log scan: reports fail a run, debug kernels' banners do not.
kernel_reports_are_told_from_banners() {
	local pats

	pats=$(grep -v -e '^#' -e '^$' "$top/tests/vm/kernel-reports")
	! grep -qF -e "$pats" <<<'[    0.1] rcu: RCU lockdep checking is enabled.
[    0.1] KernelAddressSanitizer initialized (generic)
[    0.2] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar' &&
		grep -qF -e "$pats" <<<'[   9.1] WARNING: possible circular locking dependency detected' &&
		grep -qF -e "$pats" <<<'[   9.1] BUG: KASAN: slab-out-of-bounds in htab_map_delete_elem' &&
		grep -qF -e "$pats" <<<'[   9.1] =============================
[   9.1] WARNING: suspicious RCU usage'
}

# The harness itself: a binary that aborts half-way, exits early without
# failing a test, or never finishes must each count as a failure.
harness_catches_broken_binaries() {
	local dir=$build/harness-selftest out

	mkdir -p "$dir"
	printf '%s\n' '@@BIN-BEGIN aborts@@' '1..3' 'ok 1 a' '@@BIN-END aborts 134@@' \
		'@@BIN-BEGIN early@@' '1..3' 'ok 1 a' 'ok 2 b' '@@BIN-END early 0@@' \
		'@@BIN-BEGIN hangs@@' '1..2' 'ok 1 a' >"$dir/broken.log"
	out=$(awk -v prefix=t -f "$top/tests/tap-check.awk" "$dir/broken.log") && return 1
	kernel_reports_are_told_from_banners || return
	grep -q '^not ok - t: aborts: planned 3 tests, 1 reported' <<<"$out" &&
		grep -q '^not ok - t: early: planned 3 tests, 2 reported' <<<"$out" &&
		grep -q '^not ok - t: hangs: did not finish' <<<"$out" &&
		printf '%s\n' '@@BIN-BEGIN good@@' '1..1' 'ok 1 a' '@@BIN-END good 0@@' \
			>"$dir/good.log" &&
		awk -v prefix=t -f "$top/tests/tap-check.awk" "$dir/good.log" >/dev/null
}

"$top/scripts/deps.sh"
mkdir -p "$build/logs"
logs=$build/logs
start=$SECONDS
# KERNELS=6.1 (or "6.1 7-rt", ...) runs part of the matrix for quick runs,
# KERNELS=none no kernel line (the package step still runs, see PACKAGES).
lines=${KERNELS:-$(kernel_lines)}
[[ $lines != none ]] || lines=""
# sparse on both sides of the kfunc line (see scripts/sparse.sh).
style_kver="$(kernel_provision 6.1) $(kernel_provision 6.12)"

# --- host ---------------------------------------------------------------
run_step style "$logs/style.log" make -s -C "$top" style STYLE_KVER="$style_kver"
run_step harness-selftest "$logs/harness.log" harness_catches_broken_binaries
run_step lib-build "$logs/lib-build.log" build_lib
run_step lib-test-build "$logs/lib-test-build.log" \
	build_static "$build/lib_test" "$top/tests/lib_test.c"
run_step btf-reader-test-build "$logs/btf-reader-build.log" build_btf_reader_test
run_step cli-build "$logs/cli-build.log" \
	build_static "$build/bpfcmpdel" "$top/cli/bpfcmpdel.c"
run_step cli-test-build "$logs/cli-test-build.log" \
	build_static "$build/cli_test" "$top/tests/cli_test.c"
run_step lib-install "$logs/lib-install.log" lib_install_works
run_step go-test-build "$logs/go-test-build.log" build_go_test
: >"$logs/host.log"
[[ -x $build/lib_test ]] && run_framed "$logs/host.log" lib_test "$build/lib_test"
[[ -x $build/btf_reader_test ]] &&
	run_framed "$logs/host.log" btf_reader_test "$build/btf_reader_test"
[[ -x $build/cli_test && -x $build/bpfcmpdel ]] &&
	run_framed "$logs/host.log" cli_test env BPFCMPDEL_CLI="$build/bpfcmpdel" \
		"$build/cli_test"
# The Go package's structs and constants, held to the uapi header (and
# the limits it shares with the C library to the library's).
if [[ -x $build/go_test ]]; then
	rc=0
	BPFCMPDEL_UAPI=$top/uapi/bpfcmpdel/ioctl.h \
		BPFCMPDEL_LIB_HEADER=$top/lib/include/bpfcmpdel/bpfcmpdel.h \
		timeout -s KILL 600 "$build/go_test" \
		-test.v -test.run 'ABI|Constants' >"$logs/go-abi.out" 2>&1 || rc=$?
	{
		echo "@@BIN-BEGIN go_test-abi@@"
		awk -f "$top/tests/vm/go2tap.awk" "$logs/go-abi.out"
		echo "@@BIN-END go_test-abi $rc@@"
	} >>"$logs/host.log"
fi
count_tap host "$logs/host.log"
run_step bpf-skeletons "$logs/bpf-skeletons.log" build_bpf_skeletons
run_step guest-bins-build "$logs/guest-bins-build.log" build_guest_bins
# make bench is not a test, but its program must build: it did not once.
run_step bench-build "$logs/bench-build.log" \
	build_static "$build/cmpdel_bench" "$top/bench/cmpdel_bench.c"

# --- one VM per kernel line ---------------------------------------------
# Boots KVER with the module, runs CMD in the guest and counts its results
# under NAME; extra arguments go to tests/vm/run.sh.
vm_boot() {	# vm_boot NAME KVER KO LOG CMD [RUN.SH ARGS...]
	local name=$1 kver=$2 ko=$3 log=$4 cmd=$5 bins

	shift 5
	mapfile -t bins < <(guest_bin_args)
	if "$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
		"${bins[@]}" --cmd "$cmd" --log "$log" "$@" \
		>/dev/null 2>"$log.run"; then
		record "$name: module loaded, guest ran, kernel log clean" ok
	else
		record "$name: module loaded, guest ran, kernel log clean" fail
		sed 's/^/  /' "$log.run"
	fi
	count_tap "$name" "$log"
}

# Boots @kver with the DKMS-built module and counts the guest's results;
# then once more with 256 possible CPUs, for the tests of per-CPU sizes.
vm_tests() {	# vm_tests LINE
	local line=$1 kver ko vm_log

	if ! kver=$(kernel_provision "$line" 2>"$logs/provision-$line.log"); then
		record "kernel $line: provision" fail
		tail -n 20 "$logs/provision-$line.log"
		return
	fi
	if ko=$(dkms_build_module "$kver" 2>"$logs/dkms-$kver.log") && [[ -n $ko ]]; then
		record "dkms build for $kver" ok
	else
		record "dkms build for $kver" fail
		tail -n 40 "$logs/dkms-$kver.log"
		return
	fi
	[[ -x $build/endbr_check ]] || return

	vm_log=$logs/vm-$kver.log
	echo "check: booting $kver under QEMU (TCG)"
	vm_boot "vm $kver" "$kver" "$ko" "$vm_log" guest-tests.sh --timeout 1500
	sed -n 's/^# guest kernel: /check: VM booted Linux /p' "$vm_log" | tr -d '\r' | head -n 1
	echo "$kver=$vm_log" >>"$logs/matrix"
	vm_boot "vm $kver possible_cpus=256" "$kver" "$ko" "$logs/vm-$kver-many-cpus.log" \
		'guest-tests.sh many-cpus' --timeout 900 --append possible_cpus=256
}

: >"$logs/matrix"
for line in $lines; do
	vm_tests "$line"
done
# --- the Debian packages, as a fleet installs them (scripts/packages.sh) ---
# shellcheck source=scripts/packages.sh
. "$top/scripts/packages.sh"
# shellcheck disable=SC2086 # one word per line
package_tests $lines

# What `make support-table` writes docs/support.md's table from.
if [[ -z ${KERNELS:-} ]]; then
	cp "$logs/matrix" "$build/last-full-matrix"
fi

echo "check: took $((SECONDS - start))s; logs in $logs"
for f in "${failures[@]}"; do
	echo "check: FAILED: $f"
done
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
