#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# cppcheck over the userspace code: library, command, demo programs, tests.  The
# kselftest harness (extracted into build/ksft) is not ours; its macros make
# cppcheck misjudge intmax_t formats on x86-64, so those two checks are off
# for the harness-based tests only.  What it says of the system's headers
# (sys/mount.h's 1 << 31) is glibc's business, not ours.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

ksft=$(ksft_headers)
common=(-q "--enable=warning,performance,portability" --error-exitcode=1
	--inline-suppr --suppress=missingIncludeSystem --suppress='*:/usr/include/*'
	-I "$top/lib/include"
	-I "$top/uapi" -I "$top/tests/bpf" -I "$top/demo" -I "$build" -I "$ksft"
	-I /usr/include -I /usr/include/x86_64-linux-gnu -D__x86_64__ -D__linux__)

cppcheck "${common[@]}" "$top/lib/bpfcmpdel.c" "$top/cli/bpfcmpdel.c" \
	"$top"/demo/*.c "$top/bench/cmpdel_bench.c" "$top/tests/fuzz.c" \
	"$top/tests/stress.c" "$top/tests/endbr_check.c"
cppcheck "${common[@]}" --suppress="*:$ksft/*" \
	--suppress=invalidPrintfArgType_uint --suppress=invalidPrintfArgType_sint \
	"$top/tests/bpfcmpdel_test.c" "$top/tests/bigvalues_test.c" "$top/tests/lib_test.c" \
	"$top/tests/cli_test.c" "$top/tests/btf_reader_test.c"
