#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check-debug: builds debug kernels (KASAN, PROVE_LOCKING, PROVE_RCU,
# DEBUG_ATOMIC_SLEEP, DEBUG_LIST) from Debian's own linux-source packages,
# once -- they are cached under $KERNELS_CACHE/debug -- then boots each with
# the module and runs the suite as make check does, with a longer fuzz
# (DEBUG_FUZZ_ITERATIONS, default 100000) and stress (60 s) run, a line's
# guest running while the next line builds; ends with "N passed, N failed".  Two lines, one per bucket-lock
# generation: 6.1 (raw_spinlock_t, bookworm, gcc-12) and 7.x
# (rqspinlock_t, trixie, gcc-14).  DEBUG_KERNELS="7" builds one.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

# On top of x86_64_defconfig: what the module needs, and the debugging.
options=(
	BPF BPF_SYSCALL BPF_JIT DEBUG_INFO_DWARF5 DEBUG_INFO_BTF KPROBES KALLSYMS
	KALLSYMS_ALL MODULES MODULE_UNLOAD BPF_LSM SECURITY X86_KERNEL_IBT
	KASAN KASAN_GENERIC KASAN_INLINE PROVE_LOCKING PROVE_RCU DEBUG_ATOMIC_SLEEP
	DEBUG_LIST LOCKDEP DEBUG_LOCKDEP DEBUG_SPINLOCK
)
# Only what the build needs besides the chroot's compiler.
build_pkgs=(bc bison flex libelf-dev libssl-dev dwarves python3 cpio kmod rsync xz-utils)

debug_dir() {
	echo "$KERNELS_CACHE/debug/$1"
}

# The linux-source package of LINE's suite, e.g. linux-source-7.3.
source_pkg() {	# source_pkg KVER
	echo "linux-source-$(cut -d. -f1,2 <<<"$1")"
}

# Builds LINE's debug kernel in its suite's chroot, unless cached; echoes
# the directory holding the built tree (src/) and kernel release (release).
build_debug_kernel() {
	local line=$1 kver dir pkg stamp cfg t0

	kver=$(kernel_provision "$line")
	dir=$(debug_dir "$line")
	pkg=$(source_pkg "$kver")
	cfg=$(printf '%s\n' "${options[@]}" | sha256sum | cut -c1-12)
	stamp=$dir/built-$pkg-$cfg
	if [[ -f $stamp ]]; then
		echo "$dir"
		return
	fi
	mkdir -p "$dir"
	echo "debug: building $pkg with ${options[*]} (once; cached in $dir)" >&2
	t0=$(date +%s)
	(cd "$dir" && kernel_chroot_run "$kver" "$dir" sh -ec "
		export DEBIAN_FRONTEND=noninteractive
		apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends install \
			${build_pkgs[*]} $pkg >/dev/null
		# An interrupted build of the same source and options goes on.
		if [ \"\$(cat configured 2>/dev/null)\" != $pkg-$cfg ]; then
			rm -rf src configured && mkdir src
			tar -xf /usr/src/$pkg.tar.xz -C src --strip-components=1
			cd src
			make -s x86_64_defconfig
			for o in ${options[*]}; do ./scripts/config -e \$o; done
			./scripts/config --set-str LOCALVERSION -bpfcmpdel-debug -d LOCALVERSION_AUTO
			make -s olddefconfig
			for o in ${options[*]}; do
				grep -q \"^CONFIG_\$o=y\" .config || { echo \"debug: CONFIG_\$o did not stick\"; exit 1; }
			done
			cd ..
			echo $pkg-$cfg > configured
		fi
		cd src
		nice make -s -j$(nproc) bzImage modules
		make -s kernelrelease > ../release
	") >&2 || return 1
	# A resumed build reports only its last part.
	echo "debug: $pkg built in $((($(date +%s) - t0) / 60)) minutes on $(nproc) CPUs" >&2
	touch "$stamp"
	echo "$dir"
}

# Boots LINE's debug kernel with the module; its TAP lines go to OUT.
run_debug_kernel() {	# run_debug_kernel LINE DIR OUT
	local line=$1 dir=$2 out=$3 release kver src log bins

	release=$(cat "$dir/release")
	kver=$(kernel_provision "$line")
	# Next to the kernel tree, so one bind shows both inside the chroot.
	src=$dir/module-src
	rm -rf "$src" && mkdir -p "$src"
	copy_module_source "$src"
	(cd "$src/module" &&
		kernel_chroot_run "$kver" "$dir" make -s -C "$dir/src" M="$src/module" modules) >&2 || {
		echo "not ok - debug $release: module build" >"$out"
		return
	}
	log=$build/logs/vm-debug-$release.log
	echo "debug: booting $release under QEMU (TCG)"
	# The suite as make check runs it, with a longer fuzz and stress run.
	mapfile -t bins < <(guest_bin_args)
	if "$top/tests/vm/run.sh" --kernel "$dir/src/arch/x86/boot/bzImage" \
		--ko "$src/module/bpfcmpdel.ko" --memory 4G "${bins[@]}" --timeout 7200 \
		--cmd "FUZZ_ITERATIONS=${DEBUG_FUZZ_ITERATIONS:-100000} STRESS_SECONDS=60 guest-tests.sh" \
		--log "$log" >/dev/null 2>"$build/logs/vm-run-debug-$release.log"; then
		echo "ok - debug $release: guest ran, kernel log clean" >"$out"
	else
		{
			echo "not ok - debug $release: guest ran, kernel log clean"
			sed 's/^/  /' "$build/logs/vm-run-debug-$release.log"
		} >"$out"
	fi
	awk -v prefix="debug $release" -f "$top/tests/tap-check.awk" "$log" >>"$out" || true
}

"$top/scripts/deps.sh"
mkdir -p "$build/logs"
# What make check's guests run, built as it builds them.
build_lib
build_bpf_skeletons
build_guest_bins

# Each line's guest runs (one emulated CPU busy) while the next line builds.
results=$(mktemp -d "${TMPDIR:-/tmp}/bpfcmpdel-debug.XXXXXX")
trap 'rm -rf -- "$results"' EXIT
for line in ${DEBUG_KERNELS:-6.1 7}; do
	if dir=$(build_debug_kernel "$line"); then
		run_debug_kernel "$line" "$dir" "$results/$line" &
	else
		echo "not ok - debug $line: kernel build" >"$results/$line"
	fi
done
wait

passed=0 failed=0 skipped=0
for line in ${DEBUG_KERNELS:-6.1 7}; do
	while IFS= read -r l; do
		case $l in
		"not ok - "*) failed=$((failed + 1)); echo "$l" ;;
		"ok - "*"# SKIP"*) skipped=$((skipped + 1)) ;;
		"ok - "*"kernel log clean") passed=$((passed + 1)); echo "$l" ;;
		"ok - "*) passed=$((passed + 1)) ;;
		"  "*) echo "$l" ;;
		esac
	done <"$results/$line"
done
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
