#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM after insmod.  Every test binary, and this script's
# own checks, run framed by @@BIN-BEGIN/@@BIN-END markers carrying the exit
# status; the host (tests/tap-check.awk) holds each to its TAP plan.
# shellcheck disable=SC2317 # the checks are called through tap()

# A hung binary is killed long before the VM's own timeout.
BIN_TIMEOUT=600

n=0
tap() {	# tap NAME COMMAND...
	name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $name"; else echo "not ok $n $name"; fi
}

# checks NAME FUNCTION...: a group of this script's own checks, as a binary.
checks() {
	group=$1
	shift
	echo "@@BIN-BEGIN $group@@"
	n=0
	for f in "$@"; do
		tap "$f" "$f"
	done
	echo "1..$n"
	echo "@@BIN-END $group 0@@"
}

run_bin() {	# run_bin NAME COMMAND...
	name=$1
	shift
	echo "@@BIN-BEGIN $name@@"
	timeout -s KILL "$BIN_TIMEOUT" "$@"
	echo "@@BIN-END $name $?@@"
}

# Go's test binary speaks go test -v: its verdicts go through go2tap.awk,
# and the frame carries its own exit status.
run_go() {	# run_go NAME ARGS...
	name=$1
	shift
	echo "@@BIN-BEGIN $name@@"
	BPFCMPDEL_CT_OBJ=/bin/ct.bpf.o timeout -s KILL "$BIN_TIMEOUT" go_test -test.v "$@" \
		>"/$name.out" 2>&1
	status=$?
	awk -f /bin/go2tap.awk "/$name.out"
	echo "@@BIN-END $name $status@@"
}

module_ready() {
	[ -c /dev/bpfcmpdel ] && dmesg | grep -q 'bpfcmpdel: ready:'
}

# An open device pins the module, so no ioctl can run into an unload.
rmmod_refused_while_open() {
	exec 3<>/dev/bpfcmpdel
	if rmmod bpfcmpdel 2>/dev/null; then
		exec 3>&-
		return 1
	fi
	exec 3>&-
	[ -c /dev/bpfcmpdel ]
}

rmmod_after_close() {
	rmmod bpfcmpdel && [ ! -e /dev/bpfcmpdel ]
}

# Each call target the module reported: its ENDBR claim must match the
# kernel text, and its static-call trampoline must be a direct JMP to the
# target's exact address (endbr_check reads both from /proc/kcore).
call_paths_are_direct() {
	targets=$(dmesg | sed -n 's/.*bpfcmpdel: call target \([^:]*\): endbr=\([a-z]*\) path=\([a-z-]*\).*/\1 \2 \3/p' | sort -u)
	[ -n "$targets" ] || return 1
	echo "$targets" | while read -r name claim path; do
		actual=$(endbr_check "$name") || { echo "# $actual"; exit 1; }
		echo "# call target $name: module says endbr=$claim path=$path; kernel text: $actual"
		[ "$path" = static-call ] || exit 1
		[ "$actual" = "$name endbr=$claim tramp=direct-jmp" ] || exit 1
	done
}

# Lifecycle: a hundred loads and unloads, each with its load-time proof.
reload_100_times() {
	i=0
	while [ "$i" -lt 100 ]; do
		rmmod bpfcmpdel && insmod /bpfcmpdel.ko && [ -c /dev/bpfcmpdel ] || return 1
		i=$((i + 1))
	done
	[ "$(dmesg | grep -c 'bpfcmpdel: ready:')" -ge 101 ]
}

# Requests in flight hold the device open: rmmod must fail cleanly, and
# work once they are done.
rmmod_with_requests_in_flight() {
	fuzz 100000000 >/dev/null 2>&1 &
	pid=$!
	sleep 2
	busy=0
	rmmod bpfcmpdel 2>/dev/null || busy=1
	kill "$pid"
	wait "$pid"
	[ "$busy" = 1 ] && [ -c /dev/bpfcmpdel ] && rmmod bpfcmpdel &&
		[ ! -e /dev/bpfcmpdel ] && insmod /bpfcmpdel.ko
}

# A load that cannot be served leaves nothing behind and names the cause.
failed_load() {	# failed_load WHAT MESSAGE
	rmmod bpfcmpdel || return 1
	if insmod /bpfcmpdel.ko test_pretend_missing="$1" 2>/dev/null; then
		rmmod bpfcmpdel
		return 1
	fi
	dmesg | tail -n 5 | grep -qF "$2" && [ ! -e /dev/bpfcmpdel ] &&
		! grep -q '^bpfcmpdel ' /proc/modules && insmod /bpfcmpdel.ko
}

failed_load_names_a_missing_symbol() {
	failed_load pcpu_freelist_push "kernel symbol pcpu_freelist_push not found"
}

failed_load_names_a_missing_btf_member() {
	failed_load bpf_htab.hashrnd "BTF: struct bpf_htab has no member hashrnd"
}

reloaded() {
	[ -c /dev/bpfcmpdel ] || insmod /bpfcmpdel.ko
	[ -c /dev/bpfcmpdel ] && [ "$(dmesg | grep -c 'bpfcmpdel: ready:')" -ge 2 ]
}

# A second boot with many possible CPUs (possible_cpus=256): the tests of
# buffers sized by per-CPU values, and the module's load-time proof.
if [ "${1:-}" = many-cpus ]; then
	echo "# possible CPUs: $(cat /sys/devices/system/cpu/possible)"
	checks guest-load-many-cpus module_ready
	run_bin bigvalues_test-many-cpus bigvalues_test
	exit 0
fi

echo "# guest kernel: $(uname -r) $(uname -v)"
dmesg | grep 'bpfcmpdel:'
checks guest-load module_ready call_paths_are_direct

run_bin bpfcmpdel_test bpfcmpdel_test
run_bin bigvalues_test bigvalues_test
run_bin lib_test lib_test
run_go go_test
run_bin cli_test env BPFCMPDEL_CLI=/bin/bpfcmpdel cli_test
run_bin fuzz fuzz "${FUZZ_ITERATIONS:-20000}"
run_bin stress stress "${STRESS_SECONDS:-15}"
checks guest-lifecycle reload_100_times rmmod_with_requests_in_flight \
	failed_load_names_a_missing_symbol failed_load_names_a_missing_btf_member

checks guest-unload rmmod_refused_while_open rmmod_after_close
# With the module gone, the library's, the command's and the Go package's
# device-absent paths run for real, and one library test loads it again
# under a caller.
run_bin cli_test-unloaded env BPFCMPDEL_CLI=/bin/bpfcmpdel cli_test
run_go go_test-unloaded -test.run ModuleMissing
run_bin lib_test-unloaded env BPFCMPDEL_LOAD_CMD="insmod /bpfcmpdel.ko" lib_test
checks guest-reload reloaded
exit 0
