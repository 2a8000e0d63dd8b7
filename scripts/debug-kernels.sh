#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check-debug: builds debug kernels from Debian's own linux-source
# packages, once -- they are cached under $KERNELS_CACHE/debug -- then boots
# each with the module and runs the suite as make check does, with a longer
# fuzz (DEBUG_FUZZ_ITERATIONS, default 100000) and stress (60 s) run, one
# guest running while the next kernel builds; ends with "N passed, N
# failed".  Two flavours (KASAN and KCSAN exclude each other):
#   faults  KASAN, PROVE_LOCKING, PROVE_RCU, DEBUG_ATOMIC_SLEEP, DEBUG_LIST,
#           fault injection (FAILSLAB, FAIL_PAGE_ALLOC, FAIL_USERCOPY) and
#           kmemleak: then also the fail-nth walk (tests/faults.c), a leak
#           scan after everything, and DEBUG_RELOADS (1000) loads and
#           unloads that must leak nothing (guest-tests.sh faults);
#   kcsan   KCSAN: any data race reported fails the run.
# Two lines each, one per bucket-lock generation: 6.1 (raw_spinlock_t,
# bookworm, gcc-12) and 7.x (rqspinlock_t, trixie, gcc-14).
# DEBUG_KERNELS="6.1:faults 7:kcsan" picks some (a bare line: faults).
# SOAK=SECONDS (make soak) runs the soak instead of the suite: the stress
# test for that long with the fuzzer beside it, then its invariants (no
# refresh lost, accounting intact), slab and module memory back to where
# they started, kmemleak clean, the log clean.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

# On top of x86_64_defconfig: what the module needs, then each flavour's
# debugging.  KCSAN and KASAN exclude each other, hence two kernels a line.
base_options=(
	BPF BPF_SYSCALL BPF_JIT DEBUG_INFO_DWARF5 DEBUG_INFO_BTF KPROBES KALLSYMS
	KALLSYMS_ALL MODULES MODULE_UNLOAD BPF_LSM SECURITY X86_KERNEL_IBT
	DEBUG_ATOMIC_SLEEP
)
# shellcheck disable=SC2034 # read through flavour_options' nameref
# faults: memory errors, locking, injected allocation and user-copy
# failures (fail-nth), leaks.
faults_options=(
	KASAN KASAN_GENERIC KASAN_INLINE PROVE_LOCKING PROVE_RCU DEBUG_LIST LOCKDEP
	DEBUG_LOCKDEP DEBUG_SPINLOCK FAULT_INJECTION FAILSLAB FAIL_PAGE_ALLOC
	FAULT_INJECTION_USERCOPY FAULT_INJECTION_DEBUG_FS DEBUG_KMEMLEAK
)
# kcsan: data races, reported however rare (no sampling skip of watchpoints
# is turned off: the default skip keeps TCG usable).
# shellcheck disable=SC2034 # as above
kcsan_options=(KCSAN KCSAN_INTERRUPT_WATCHER)
# Races in the kernel's own code that happen without the module, filtered
# by their top frame (KCSAN's debugfs filter list); any other report fails.
#   __percpu_counter_compare: 6.1's percpu_counter_read() is a plain read
#   of the count percpu_counter_add_batch() updates under its lock,
#   approximate by design; hashtab.c's element count (no-prealloc maps)
#   races there on every update beside a delete.  Reproduced on the 6.1
#   KCSAN kernel with no module loaded: two threads of bpf() update and
#   delete on a BPF_F_NO_PREALLOC hash, 90 s.
#   __htab_map_lookup_elem, alloc_htab_elem, memcmp: hashtab.c's lockless
#   lookup reads an element's hash and compares its key (memcmp, the top
#   frame) while the element is freed and reused for another key, which
#   its hlist_nulls walk is built to survive.  do_nanosleep: its plain
#   read of the sleeper's task, which hrtimer_wakeup() clears.  All four
#   reproduced on the 7.3 KCSAN kernel with no module loaded (2026-12-04):
#   bpf() lookups on a preallocated hash beside two threads updating and
#   deleting, and a thread in nanosleep(), 120 s.  The filter hides these
#   frames' races with the module too; the module's own racy reads are
#   data_race() or READ_ONCE() with their reasons.
kcsan_kernel_races=(__percpu_counter_compare __htab_map_lookup_elem alloc_htab_elem memcmp
	do_nanosleep)

# The options of FLAVOUR (faults or kcsan).
flavour_options() {
	local -n extra=${1}_options

	printf '%s\n' "${base_options[@]}" "${extra[@]}"
}

# Only what the build needs besides the chroot's compiler.
build_pkgs=(bc bison flex libelf-dev libssl-dev dwarves python3 cpio kmod rsync xz-utils)

debug_dir() {	# debug_dir LINE FLAVOUR
	echo "$KERNELS_CACHE/debug/$1-$2"
}

# The linux-source package of LINE's suite, e.g. linux-source-7.3.
source_pkg() {	# source_pkg KVER
	echo "linux-source-$(cut -d. -f1,2 <<<"$1")"
}

# Builds LINE's FLAVOUR kernel in its suite's chroot, unless cached; echoes
# the directory holding the built tree (src/) and kernel release (release).
build_debug_kernel() {	# build_debug_kernel LINE FLAVOUR
	local line=$1 flavour=$2 kver dir pkg stamp cfg t0 options

	mapfile -t options < <(flavour_options "$flavour")
	kver=$(kernel_provision "$line")
	dir=$(debug_dir "$line" "$flavour")
	pkg=$(source_pkg "$kver")
	cfg=$(printf '%s\n' "${options[@]}" | sha256sum | cut -c1-12)
	stamp=$dir/built-$pkg-$cfg
	if [[ -f $stamp ]]; then
		echo "$dir"
		return
	fi
	mkdir -p "$dir"
	echo "debug: building $pkg $flavour with ${options[*]} (once; cached in $dir)" >&2
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
			./scripts/config --set-str LOCALVERSION -bpfcmpdel-$flavour -d LOCALVERSION_AUTO
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
	echo "debug: $pkg $flavour built in $((($(date +%s) - t0) / 60)) minutes on $(nproc) CPUs" >&2
	touch "$stamp"
	echo "$dir"
}

# The guest's command on each flavour: the suite as make check runs it,
# with a longer fuzz and stress run; on the faults kernel then the
# fault-injection walk and the leak checks.
guest_cmd() {	# guest_cmd FLAVOUR
	# KASAN, lockdep or KCSAN under TCG: the suite alone outruns 600 s.
	local cmd="BIN_TIMEOUT=3600 FUZZ_ITERATIONS=${DEBUG_FUZZ_ITERATIONS:-100000} STRESS_SECONDS=60 guest-tests.sh"

	if [[ -n ${SOAK:-} ]]; then
		echo "DURATION=$SOAK guest-tests.sh soak"
		return
	fi
	[[ $1 != faults ]] || cmd+="; RELOADS=${DEBUG_RELOADS:-1000} guest-tests.sh faults"
	if [[ $1 == kcsan ]]; then
		for f in "${kcsan_kernel_races[@]}"; do
			cmd="echo '!$f' >/sys/kernel/debug/kcsan; $cmd"
		done
	fi
	echo "$cmd"
}

# Boots LINE's FLAVOUR kernel with the module; its TAP lines go to OUT.
run_debug_kernel() {	# run_debug_kernel LINE FLAVOUR DIR OUT
	local line=$1 flavour=$2 dir=$3 out=$4 release kver src log bins t0

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
	mapfile -t bins < <(guest_bin_args)
	t0=$SECONDS
	if "$top/tests/vm/run.sh" --kernel "$dir/src/arch/x86/boot/bzImage" \
		--ko "$src/module/bpfcmpdel.ko" --memory 4G "${bins[@]}" \
		--timeout $((${SOAK:-0} + 10800)) \
		--cmd "$(guest_cmd "$flavour")" \
		--log "$log" >/dev/null 2>"$build/logs/vm-run-debug-$release.log"; then
		echo "ok - debug $release: guest ran, kernel log clean" >"$out"
	else
		{
			echo "not ok - debug $release: guest ran, kernel log clean"
			sed 's/^/  /' "$build/logs/vm-run-debug-$release.log"
		} >"$out"
	fi
	echo "debug: $release ran in $(((SECONDS - t0) / 60)) minutes"
	awk -v prefix="debug $release" -f "$top/tests/tap-check.awk" "$log" >>"$out" || true
}

"$top/scripts/deps.sh"
mkdir -p "$build/logs"
# What make check's guests run, built as it builds them.
build_lib
build_bpf_skeletons
build_guest_bins

# LINE:FLAVOUR; a bare LINE is its faults kernel.
specs=${DEBUG_KERNELS:-6.1:faults 7:faults 6.1:kcsan 7:kcsan}
# Each kernel's guest runs (one emulated CPU busy) while the next builds.
results=$(mktemp -d "${TMPDIR:-/tmp}/bpfcmpdel-debug.XXXXXX")
trap 'rm -rf -- "$results"' EXIT
for spec in $specs; do
	[[ $spec == *:* ]] || spec+=:faults
	line=${spec%%:*} flavour=${spec#*:}
	if ! declare -p "${flavour}_options" >/dev/null 2>&1; then
		echo "debug: unknown flavour '$flavour' (faults or kcsan)" >&2
		exit 2
	fi
	if dir=$(build_debug_kernel "$line" "$flavour"); then
		run_debug_kernel "$line" "$flavour" "$dir" "$results/$line-$flavour" &
	else
		echo "not ok - debug $line $flavour: kernel build" >"$results/$line-$flavour"
	fi
done
wait

passed=0 failed=0 skipped=0
for spec in $specs; do
	[[ $spec == *:* ]] || spec+=:faults
	while IFS= read -r l; do
		case $l in
		"not ok - "*) failed=$((failed + 1)); echo "$l" ;;
		"ok - "*"# SKIP"*) skipped=$((skipped + 1)) ;;
		"ok - "*"kernel log clean") passed=$((passed + 1)); echo "$l" ;;
		"ok - "*) passed=$((passed + 1)) ;;
		"  "*) echo "$l" ;;
		esac
	done <"$results/${spec%%:*}-${spec#*:}"
done
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
