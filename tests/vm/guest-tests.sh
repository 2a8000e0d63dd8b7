#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM after insmod.  Every result is a TAP line the host
# counts; the exit status is left to the host's dmesg and marker checks.

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

reload() {
	insmod /bpfcmpdel.ko && [ -c /dev/bpfcmpdel ]
}

echo "# guest kernel: $(uname -r) $(uname -v)"
tap module_ready module_ready
dmesg | grep 'bpfcmpdel:'

bpfcmpdel_test
lib_test

tap rmmod_refused_while_open rmmod_refused_while_open
tap rmmod_after_close rmmod_after_close
# With the module gone, the library's device-absent paths run for real.
lib_test
tap reload reload
exit 0
