#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: installs what is missing, then runs every test -- style
# checks and library tests on the host, the module's tests inside a VM
# booting Debian's kernel -- and ends with "N passed, N failed[, N skipped]".
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

# Counts kselftest TAP results ("ok N name", "not ok N name", "# SKIP").
count_tap() {	# count_tap PREFIX FILE
	local line name

	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"not ok "*) name=${line#not ok }; record "$1: ${name#* }" fail >/dev/null ;;
		"ok "*"# SKIP"*) skipped=$((skipped + 1)) ;;
		"ok "*) passed=$((passed + 1)) ;;
		esac
	done < <(grep -E '^(not )?ok [0-9]+ ' "$2" | tr -d '\r')
}

# make install honours DESTDIR/PREFIX, and its pkg-config file links.
lib_install_works() {
	local dest=$build/install flags

	rm -rf "$dest"
	make -s -C "$top/lib" install DESTDIR="$dest" PREFIX=/usr || return
	flags=$(PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest/usr/lib/pkgconfig \
		pkg-config --cflags --libs libbpfcmpdel) || return
	# shellcheck disable=SC2086 # pkg-config's flags are separate words
	cc -o "$build/pc-consumer" "$top/tools/demo.c" $flags -lbpf
}

# Replaces the README's table between its markers with @table.
update_readme_table() {
	local table=$1 readme=$top/README.md

	grep -q '<!-- support-table:begin -->' "$readme" || return 0
	awk -v table="$table" '
		/<!-- support-table:end -->/ { skip = 0 }
		!skip { print }
		/<!-- support-table:begin -->/ {
			while ((getline l < table) > 0) print l
			skip = 1
		}' "$readme" >"$readme.new" && mv "$readme.new" "$readme"
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

"$top/scripts/deps.sh"
mkdir -p "$build/logs"
logs=$build/logs
start=$SECONDS
# KERNELS=6.1 (or "6.1 7", ...) runs part of the matrix for quick local runs.
lines=${KERNELS:-$(kernel_lines)}
host_kver=$(kernel_provision 6.1)

# --- host ---------------------------------------------------------------
run_step style "$logs/style.log" make -s -C "$top" style KVER="$host_kver"
run_step lib-build "$logs/lib-build.log" build_lib
run_step lib-test-build "$logs/lib-test-build.log" \
	build_static "$build/lib_test" "$top/tests/lib_test.c"
run_step lib-install "$logs/lib-install.log" lib_install_works
if [[ -x $build/lib_test ]]; then
	"$build/lib_test" >"$logs/host-lib_test.log" 2>&1 || true
	count_tap host "$logs/host-lib_test.log"
fi
run_step bpf-skeletons "$logs/bpf-skeletons.log" build_bpf_skeletons
run_step vm-test-build "$logs/vm-test-build.log" \
	build_static "$build/bpfcmpdel_test" "$top/tests/bpfcmpdel_test.c"
run_step endbr-check-build "$logs/endbr-check-build.log" \
	cc -static -O2 -Wall -o "$build/endbr_check" "$top/tests/endbr_check.c"

# --- one VM per kernel line ---------------------------------------------
# Boots @kver with the DKMS-built module and counts the guest's results.
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
	[[ -x $build/bpfcmpdel_test && -x $build/lib_test && -x $build/endbr_check ]] || return

	vm_log=$logs/vm-$kver.log
	echo "check: booting $kver under QEMU (TCG)"
	if "$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
		--bin "$build/bpfcmpdel_test" --bin "$build/lib_test" \
		--bin "$build/endbr_check" --bin "$top/tests/vm/guest-tests.sh" \
		--timeout 900 --cmd 'guest-tests.sh' --log "$vm_log" \
		>/dev/null 2>"$logs/vm-run-$kver.log"; then
		record "vm $kver: module loaded, guest ran, kernel log clean" ok
	else
		record "vm $kver: module loaded, guest ran, kernel log clean" fail
		sed 's/^/  /' "$logs/vm-run-$kver.log"
	fi
	count_tap "vm $kver" "$vm_log"
	sed -n 's/^# guest kernel: /check: VM booted Linux /p' "$vm_log" | tr -d '\r' | head -n 1
	matrix+=("$kver=$vm_log")
}

matrix=()
for line in $lines; do
	vm_tests "$line"
done

# The README's support table comes from the full matrix, never by hand.
if ((${#matrix[@]})); then
	"$top/scripts/support-table.sh" "${matrix[@]}" >"$build/support-table.md"
	if [[ -z ${KERNELS:-} ]]; then
		update_readme_table "$build/support-table.md"
	fi
fi

echo "check: took $((SECONDS - start))s; logs in $logs"
for f in "${failures[@]}"; do
	echo "check: FAILED: $f"
done
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
