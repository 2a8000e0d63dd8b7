#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM after insmod.  Every result is a TAP line the host
# counts; the exit status is left to the host's dmesg and marker checks.
# shellcheck disable=SC2317 # the checks are called through tap()

n=0
tap() {	# tap NAME COMMAND...
	name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $name"; else echo "not ok $n $name"; fi
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
# kernel text, and on a kernel built with IBT a target without a live ENDBR
# must never be called directly (on an IBT CPU that would fault; emulation
# cannot show it).
call_paths_are_ibt_safe() {
	ibt_kernel=yes
	dmesg | grep -q 'bpfcmpdel: ready:.*IBT not built' && ibt_kernel=no
	targets=$(dmesg | sed -n 's/.*bpfcmpdel: call target \([^:]*\): endbr=\([a-z]*\) path=\([a-z-]*\).*/\1 \2 \3/p' | sort -u)
	[ -n "$targets" ] || return 1
	echo "$targets" | while read -r name claim path; do
		actual=$(endbr_check "$name" | cut -d' ' -f2)
		echo "# call target $name: module says endbr=$claim path=$path, kernel text says endbr=$actual"
		[ "$actual" = "$claim" ] || exit 1
		[ "$ibt_kernel" = no ] || [ "$claim" = yes ] || [ "$path" = ibt-window ] || exit 1
	done
}

reloaded() {
	[ -c /dev/bpfcmpdel ] || insmod /bpfcmpdel.ko
	[ -c /dev/bpfcmpdel ] && [ "$(dmesg | grep -c 'bpfcmpdel: ready:')" -ge 2 ]
}

echo "# guest kernel: $(uname -r) $(uname -v)"
tap module_ready module_ready
dmesg | grep 'bpfcmpdel:'
tap call_paths_are_ibt_safe call_paths_are_ibt_safe

bpfcmpdel_test
lib_test

tap rmmod_refused_while_open rmmod_refused_while_open
tap rmmod_after_close rmmod_after_close
# With the module gone, the library's device-absent paths run for real,
# and one test loads it again under a running caller.
BPFCMPDEL_LOAD_CMD="insmod /bpfcmpdel.ko" lib_test
tap reloaded reloaded
exit 0
