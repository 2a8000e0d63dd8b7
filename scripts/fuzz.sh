#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make fuzz: the ioctl fuzzer's long run -- FUZZ_ITERATIONS (default one
# million) reproducible requests from FUZZ_SEED (default 1) -- in a VM per
# kernel line in KERNELS (default 6.1 and 7), with the kernel log checked
# for reports afterwards.  Ends with "N passed, N failed".
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$top/scripts/deps.sh"
mkdir -p "$build/logs"
build_lib
build_static "$build/fuzz" "$top/tests/fuzz.c"
iterations=${FUZZ_ITERATIONS:-1000000}
seed=${FUZZ_SEED:-1}
passed=0 failed=0
for line in ${KERNELS:-6.1 7}; do
	kver=$(kernel_provision "$line")
	ko=$(dkms_build_module "$kver" 2>"$build/logs/dkms-fuzz-$kver.log")
	log=$build/logs/fuzz-$kver.log
	echo "fuzz: $iterations requests (seed $seed) on $kver under QEMU (TCG)"
	if "$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
		--bin "$build/fuzz" --cmd "fuzz $iterations $seed" --timeout 5000 \
		--log "$log" >/dev/null 2>"$build/logs/fuzz-run-$kver.log" &&
		tr -d '\r' <"$log" | grep -q '^ok 2 sentinel'; then
		echo "ok - fuzz $kver: $iterations requests, contract kept, sentinel intact, kernel log clean"
		passed=$((passed + 1))
	else
		echo "not ok - fuzz $kver"
		sed 's/^/  /' "$build/logs/fuzz-run-$kver.log"
		failed=$((failed + 1))
	fi
	tr -d '\r' <"$log" | grep '^# results:' | sed "s/^# /fuzz $kver: /"
done
echo "$passed passed, $failed failed"
((failed == 0))
