#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM after insmod.  Every test binary, and this script's
# own checks, run framed by @@BIN-BEGIN/@@BIN-END markers carrying the exit
# status; the host (tests/tap-check.awk) holds each to its TAP plan.
# shellcheck disable=SC2317 # the checks are called through tap()

# A hung binary is killed long before the VM's own timeout (a debug
# kernel's guest, whose suite runs for longer, sets more).
BIN_TIMEOUT=${BIN_TIMEOUT:-600}

n=0
tap() {	# tap NAME COMMAND...: status 77 and $skip_why make a skip
	name=$1
	shift
	n=$((n + 1))
	skip_why=""
	"$@"
	case $? in
	0) echo "ok $n $name" ;;
	77) echo "ok $n $name # SKIP $skip_why" ;;
	*) echo "not ok $n $name" ;;
	esac
}

mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
lockdown_confidential() {
	grep -q '\[confidentiality\]' /sys/kernel/security/lockdown 2>/dev/null
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
	if lockdown_confidential; then
		skip_why="lockdown=confidentiality closes /proc/kcore"
		return 77
	fi
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

# --- the faults debug kernel (make check-debug) ---------------------------
# kmemleak reports an object once two scans found no reference to it and it
# is older than 5 s; an address in the module area (0xffffffffc...) is
# where an unloaded module's frames end up.
module_leaks() {
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak && echo scan >/sys/kernel/debug/kmemleak || return 2
	cat /sys/kernel/debug/kmemleak >/tmp/leaks
	echo "# kmemleak: $(grep -c '^unreferenced object' /tmp/leaks) suspected leaks in all"
	if grep -q 'bpfcmpdel\|0xffffffffc' /tmp/leaks; then
		sed 's/^/# /' /tmp/leaks
		return 1
	fi
}

# After the suite, the fuzzer, the stress test and the fault walk.
kmemleak_finds_nothing_of_the_module() {
	module_leaks
}

# RELOADS loads and unloads (each with its load-time self-test) leave
# no new unreferenced object at all.
reloads_leak_nothing() {
	echo clear >/sys/kernel/debug/kmemleak || return 1
	i=0
	while [ "$i" -lt "${RELOADS:-1000}" ]; do
		rmmod bpfcmpdel && insmod /bpfcmpdel.ko || return 1
		i=$((i + 1))
	done
	echo "# $i loads and unloads"
	module_leaks || return 1
	[ "$(grep -c '^unreferenced object' /tmp/leaks)" = 0 ] || { sed 's/^/# /' /tmp/leaks; return 1; }
}

if [ "${1:-}" = faults ]; then
	[ -c /dev/bpfcmpdel ] || insmod /bpfcmpdel.ko
	run_bin faults faults
	checks guest-kmemleak kmemleak_finds_nothing_of_the_module reloads_leak_nothing
	exit 0
fi

# --- make soak, on the faults kernel -------------------------------------
slab_kb() {
	awk '/^Slab:/ { print $2 }' /proc/meminfo
}

module_size() {
	awk '$1 == "bpfcmpdel" { print $2 }' /proc/modules
}

# What the kernel can give back, given back, then measured: deferred frees
# (RCU, the map-free work) done, caches dropped, and every slab cache
# shrunk -- which is also what empties KASAN's quarantine of the cache's
# freed objects (kmem_cache_shrink() -> kasan_cache_shrink()); without it
# the quarantine, up to 1/32 of RAM, reads as growth.
settle() {
	sleep 5
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for shrink in /sys/kernel/slab/*/shrink; do
		echo 1 >"$shrink" 2>/dev/null || :
	done
}

# Slab back to within 2% + 1 MiB of where the soak started; the module's
# own size unchanged.
memory_back_to_start() {
	settle
	now=$(slab_kb)
	echo "# slab: $slab0 kB before, $now kB after; module: $mod0 -> $(module_size) bytes"
	[ "$now" -le $((slab0 + slab0 / 50 + 1024)) ] && [ "$(module_size)" = "$mod0" ]
}

if [ "${1:-}" = soak ]; then
	[ -c /dev/bpfcmpdel ] || insmod /bpfcmpdel.ko
	# The stress test runs for DURATION, then checks: a hang is still
	# caught, past that.
	BIN_TIMEOUT=$((${DURATION:-3600} + 600))
	settle
	slab0=$(slab_kb)
	mod0=$(module_size)
	# The fuzzer on the side, round after round, for as long as the stress
	# test runs (its verdicts are the stress test's and the log's).
	(while :; do fuzz 20000 >/dev/null 2>&1; done) &
	fuzzing=$!
	run_bin stress stress "${DURATION:-3600}"
	kill "$fuzzing"
	wait "$fuzzing" 2>/dev/null
	while pidof fuzz >/dev/null; do sleep 1; done
	checks guest-soak memory_back_to_start kmemleak_finds_nothing_of_the_module
	exit 0
fi

# --- the installed packages (make check's package step) -------------------
# The command and library as bpfcmpdel and libbpfcmpdel0 installed them
# (dynamically linked, with their libraries), the module DKMS built, and
# kmod's modinfo, in the layout a host has.
installed=/usr/sbin/bpfcmpdel

installed_command_runs() {
	$installed --version && $installed stats >/dev/null
}

# A program built against libbpfcmpdel-dev (demo/demo.c), on the shared
# library libbpfcmpdel0 installed: the race shown and closed.
installed_library_runs_the_demo() {
	ldd=$(/lib64/ld-linux-x86-64.so.2 --list /usr/local/bin/bpfcmpdel-demo) &&
		echo "$ldd" | grep -q 'libbpfcmpdel.so.0 => /' || return 1
	/usr/local/bin/bpfcmpdel-demo >/tmp/demo.out 2>&1
	status=$?
	sed 's/^/# /' /tmp/demo.out
	[ "$status" = 0 ]
}

# info names the file modprobe would load, its DKMS signature, and knows
# it is the module running.
info_names_the_installed_module() {
	out=$($installed info) || return 1
	echo "$out" | sed 's/^/# /'
	echo "$out" | grep -q "^installed:   version $(cat /sys/module/bpfcmpdel/version) " &&
		echo "$out" | grep -q "signed by DKMS module signing key" &&
		! echo "$out" | grep -q "not the loaded module" &&
		$installed --json info | grep -q '"is_loaded":true'
}

# A package upgrade while a GC holds the device: the new module file lands
# (here: the installed one with a newer version string, /newer.ko), the old
# module keeps serving and cannot be unloaded under its user, and info
# tells the two apart and says how to switch; the switch then works.
upgrade_while_held() {
	f=$(modinfo -F filename bpfcmpdel) && [ -f "$f" ] && cp "$f" /tmp/installed.ko || return 1
	exec 3<>/dev/bpfcmpdel
	cp /newer.ko "$f"
	ok=1
	$installed info | grep -q "installed:   version $(cat /newer.version) " || ok=0
	$installed info | grep -q "not the loaded module: stop the programs using" || ok=0
	$installed stats >/dev/null || ok=0
	rmmod bpfcmpdel 2>/dev/null && ok=0
	cp /tmp/installed.ko "$f"
	exec 3>&-
	[ "$ok" = 1 ] && rmmod bpfcmpdel && insmod /bpfcmpdel.ko && module_ready &&
		$installed --json info | grep -q '"is_loaded":true'
}

if [ "${1:-}" = package ]; then
	echo "# guest kernel: $(uname -r) $(uname -v)"
	checks guest-package module_ready installed_command_runs \
		installed_library_runs_the_demo info_names_the_installed_module \
		upgrade_while_held
	run_bin cli_test-installed env BPFCMPDEL_CLI=$installed cli_test
	run_bin bpfcmpdel_test bpfcmpdel_test
	exit 0
fi

# --- Secure Boot: firmware-verified kernel, lockdown, a DKMS-signed module -

secure_boot_locked_down() {
	dmesg | grep -q 'secureboot: Secure boot enabled' &&
		grep -q '\[integrity\]\|\[confidentiality\]' /sys/kernel/security/lockdown
}

# The module was accepted for its signature: the DKMS key came from the
# firmware's MOK list, and no unsigned-module taint.
signed_module_loaded() {
	dmesg | grep -q "Loaded X.509 cert 'DKMS module signing key" &&
		! grep -q E /sys/module/bpfcmpdel/taint
}

# The same module without its signature is refused, and info says why in
# an operator's words.
unsigned_module_refused() {
	rmmod bpfcmpdel || return 1
	ok=1
	if insmod /unsigned.ko 2>/dev/null; then
		rmmod bpfcmpdel
		ok=0
	fi
	dmesg | tail -n 3 | grep -q 'Loading of unsigned module is rejected' || ok=0
	out=$($installed info)
	echo "$out" | sed 's/^/# /'
	echo "$out" | grep -q '^signatures:  required (lockdown: ' || ok=0
	echo "$out" | grep -q 'signed by DKMS module signing key' || ok=0
	echo "$out" | grep -q 'enrol the DKMS key: mokutil --import /var/lib/dkms/mok.pub' || ok=0
	# The rest of the run needs the module back, whatever happened here.
	insmod /bpfcmpdel.ko && module_ready && [ "$ok" = 1 ]
}

if [ "${1:-}" = secureboot ]; then
	echo "# guest kernel: $(uname -r) $(uname -v); $(cat /sys/kernel/security/lockdown)"
	checks guest-secureboot secure_boot_locked_down signed_module_loaded \
		unsigned_module_refused
	run_bin bpfcmpdel_test bpfcmpdel_test
	run_bin lib_test lib_test
	run_bin cli_test-installed env BPFCMPDEL_CLI=$installed cli_test
	run_go go_test
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
