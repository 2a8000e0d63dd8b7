#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM after insmod.  Every result is a TAP line the host
# counts; the exit status is left to the host's dmesg and marker checks.

if [ -c /dev/bpfcmpdel ] && dmesg | grep -q 'bpfcmpdel: ready:'; then
	echo "ok 1 module_ready"
else
	echo "not ok 1 module_ready"
fi
dmesg | grep 'bpfcmpdel:'

bpfcmpdel_test
lib_test
exit 0
