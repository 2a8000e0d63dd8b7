#!/usr/bin/env bash
# Boot a real Debian kernel under QEMU (TCG: the host has no module support and
# KVM is not usable here), load the module, run one shell command inside the
# VM, and decide pass/fail from the command's status plus the guest's dmesg.
#
# Usage:
#   tests/vm/run.sh --kernel VMLINUZ [--ko PATH_TO_KO] [--bin FILE]...
#                   --cmd 'SHELL COMMAND' [--timeout SECS] [--log FILE]
#                   [--memory SIZE] [--append KERNEL_ARGS] [--tree DIR]
#                   [--uefi CODE.fd --uefi-vars VARS.fd] [--icount SHIFT]
#
# --tree DIR: DIR's files are copied into the guest's root as they are laid
# out there, for a tool that comes with its loader and libraries (perf).
# --icount SHIFT: the guest's clocks advance 2^SHIFT ns per instruction it
# executes, not with the host's: a time measured inside is an instruction
# count, the same run to run however busy the host (and the emulation runs
# one vCPU at a time, so nothing parallel can be timed this way).
#
# Exit status: the command's own status, or 1 when the VM never reported one
# (panic, Oops, timeout), the module failed to load, or dmesg shows a kernel
# warning/bug. Messages from this script are prefixed "vm:" on stderr.
set -euo pipefail

usage() {
	sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

die() {
	echo "vm: $*" >&2
	exit 2
}

kernel=""
ko=""
bins=()
cmd=""
cmd_set=0
timeout_secs=600
log=""
memory=2G
extra_append=""
trees=()
uefi_code=""
uefi_vars=""
icount=""

while (($#)); do
	case "$1" in
	--kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
	--ko) ko=${2:?--ko needs a value}; shift 2 ;;
	--bin) bins+=("${2:?--bin needs a value}"); shift 2 ;;
	--cmd) cmd=${2?--cmd needs a value}; cmd_set=1; shift 2 ;;
	--timeout) timeout_secs=${2:?--timeout needs a value}; shift 2 ;;
	--log) log=${2:?--log needs a value}; shift 2 ;;
	--memory) memory=${2:?--memory needs a value}; shift 2 ;;
	--append) extra_append=${2?--append needs a value}; shift 2 ;;
	--tree) trees+=("${2:?--tree needs a value}"); shift 2 ;;
	--uefi) uefi_code=${2:?--uefi needs a value}; shift 2 ;;
	--uefi-vars) uefi_vars=${2:?--uefi-vars needs a value}; shift 2 ;;
	--icount) icount=${2:?--icount needs a value}; shift 2 ;;
	-h | --help) usage ;;
	*) echo "vm: unknown argument: $1" >&2; usage ;;
	esac
done

[[ -n "$kernel" ]] || { echo "vm: --kernel is required" >&2; usage; }
((cmd_set)) || { echo "vm: --cmd is required" >&2; usage; }
[[ -r "$kernel" ]] || die "kernel not readable: $kernel"
[[ "$timeout_secs" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer"
if [[ -n "$ko" ]]; then
	[[ -r "$ko" ]] || die "module not readable: $ko"
fi
if [[ -n "$uefi_code" ]]; then
	[[ -r "$uefi_code" && -r "$uefi_vars" ]] || die "--uefi needs readable CODE.fd and --uefi-vars VARS.fd"
fi

busybox=/bin/busybox
[[ -x "$busybox" ]] || die "$busybox missing (install busybox-static)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (install qemu-system-x86)"
command -v cpio >/dev/null || die "cpio missing"

# Debian's image is always vmlinuz-$KVER, which the module's vermagic names.
kver=""
kbase=$(basename "$kernel")
if [[ "$kbase" == vmlinuz-* ]]; then
	kver=${kbase#vmlinuz-}
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpfcmpdel-vm.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,root,etc,usr/bin,usr/sbin}

cp "$busybox" "$root/bin/busybox"

# A dynamically linked binary would fail inside the VM with a confusing
# "not found"; catch it here where the message can be clear.
is_dynamic_elf() {
	local magic
	magic=$(head -c 4 "$1" | od -An -c | tr -d ' ')
	[[ "$magic" == '177ELF' ]] || return 1
	LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

for b in "${bins[@]}"; do
	[[ -f "$b" && -r "$b" ]] || die "--bin not a readable file: $b"
	if command -v readelf >/dev/null && is_dynamic_elf "$b"; then
		die "--bin $b is dynamically linked; build it with -static"
	fi
	install -m 0755 "$b" "$root/bin/$(basename "$b")"
done

for t in "${trees[@]}"; do
	[[ -d "$t" ]] || die "--tree not a directory: $t"
	cp -a "$t/." "$root/"
done

if [[ -n "$ko" ]]; then
	cp "$ko" "$root/bpfcmpdel.ko"

	if [[ -n "$kver" ]]; then
		vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || true)
		if [[ -n "$vermagic" && "${vermagic%% *}" != "$kver" ]]; then
			echo "vm: warning: $ko vermagic '${vermagic%% *}' != kernel '$kver'; insmod will likely fail" >&2
		fi
	fi

	# bpfcmpdel links against vmlinux alone; a module dependency would have
	# to be bundled, which this runner does not do.
	depends=$(modinfo -F depends "$ko" 2>/dev/null || true)
	[[ -z "$depends" ]] || die "$ko depends on modules ($depends); not supported"
fi

# Keep the command in a file so no quoting survives a trip through the kernel
# command line or the init script.
printf '%s\n' "$cmd" >"$root/etc/vm-cmd"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t bpf bpf /sys/fs/bpf || echo "vm: mounting bpffs failed"
cd /

# Uptime at this point is the boot cost every test pays; the host reports it.
echo "@@BOOTED $(cut -d' ' -f1 /proc/uptime)@@"

status=0
if [ -e /bpfcmpdel.ko ]; then
	t0=$(cut -d' ' -f1 /proc/uptime)
	insmod /bpfcmpdel.ko
	status=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "@@INSMOD $status ${t0}s..${t1}s@@"
	dmesg | tail -n 20
fi

if [ "$status" -eq 0 ]; then
	sh -c "$(cat /etc/vm-cmd)" </dev/null
	status=$?
else
	# The command is meaningless without the module; report the load failure
	# as the run's status instead.
	echo "vm: not running command because module loading failed"
fi

echo "@@DMESG-BEGIN@@"
dmesg
echo "@@DMESG-END@@"
echo "@@EXIT $status@@"
# Give the UART a moment to drain before the machine vanishes; the marker
# has always arrived without it, but a lost marker would fail a good run.
sleep 0.2
poweroff -f
INIT
chmod 0755 "$root/init"

initrd=$tmp/initrd.cpio
# Uncompressed: decompressing under TCG costs more than the copy it saves,
# and -R 0:0 makes the guest see root-owned files even for a non-root build.
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc -R 0:0) >"$initrd"

if [[ -z "$log" ]]; then
	log=$tmp/console.log
fi
: >"$log"

# panic=-1 reboots at once on panic and -no-reboot turns that into a QEMU
# exit, so an Oops (oops=panic) ends the run instead of hanging until the
# timeout. No nokaslr: the module must survive a randomized layout.
# log_buf_len: the default 128K ring could drop early warnings by the time the
# whole dmesg is dumped at the end of a long test.
# tsc=unstable: TCG's TSC is unstable anyway; deciding so at boot keeps the
# kernel from flipping the sched_clock static key while both vCPUs run, a
# text patch that TCG sometimes executes half-done (int3 Oops in
# sched_clock_cpu, seen on 6.12 and 7.3).
# noirqdebug: PREEMPT_RT threads the UART's interrupt; under emulation and a
# long console dump its thread can fall behind, the spurious-IRQ detector
# then disables IRQ 4 ("nobody cared") and the console goes silent before
# the exit marker (seen on 6.1-rt).
append="console=ttyS0 panic=-1 oops=panic quiet loglevel=4 log_buf_len=8M tsc=unstable noirqdebug"
append+=${extra_append:+ $extra_append}

qemu=(
	qemu-system-x86_64
	-machine q35 -accel tcg -cpu max -smp 2 -m "$memory"
	-display none -monitor none -serial stdio -no-reboot
	-kernel "$kernel" -initrd "$initrd" -append "$append"
)

# sleep=off: an idle guest's clock jumps to its next timer rather than
# following the host's, which would let host load back into the count.
[[ -z $icount ]] || qemu+=(-icount "shift=$icount,sleep=off" -smp 1)

if [[ -n "$uefi_code" ]]; then
	# The store is written at boot; the caller's copy stays as it was.
	cp "$uefi_vars" "$tmp/vars.fd"
	qemu[2]=q35,smm=on
	# shellcheck disable=SC2054 # QEMU's commas, not array separators
	qemu+=(
		-global driver=cfi.pflash01,property=secure,value=on
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$uefi_code"
		-drive "if=pflash,format=raw,unit=1,file=$tmp/vars.fd"
	)
fi

boot() {
	# QEMU writes straight to the log and tail streams it, rather than a
	# "| tee" pipeline, so that the QEMU pid is known: timeout runs it in its own
	# process group, out of reach of a Ctrl-C or a CI kill aimed at this script,
	# and an interrupted run must not leave a guest spinning a host core.
	# stdin from /dev/null: QEMU would otherwise put a terminal into raw mode and
	# leave it that way if timeout kills it.
	local from=$(($(stat -c %s "$log") + 1))

	timeout -k 10 "$timeout_secs" "${qemu[@]}" </dev/null >>"$log" 2>&1 &
	qemu_pid=$!
	trap 'echo "vm: interrupted, stopping QEMU" >&2; kill -TERM "$qemu_pid" 2>/dev/null; exit 130' INT
	trap 'echo "vm: terminated, stopping QEMU" >&2; kill -TERM "$qemu_pid" 2>/dev/null; exit 143' TERM
	tail -c +"$from" -f -s 0.2 --pid="$qemu_pid" "$log" &
	tail_pid=$!
	qemu_rc=0
	wait "$qemu_pid" || qemu_rc=$?
	wait "$tail_pid" || true
	trap - INT TERM
}

start=$(date +%s)
clean=$tmp/console.clean
# A guest that dies before init never ran any of this project's code: a
# boot-time emulation fault.  Boot once more, keeping the first attempt's
# console in the log, rather than report it as a test failure.
for attempt in 1 2; do
	boot
	# The serial console emits CRLF; strip CR so patterns and markers match.
	tr -d '\r' <"$log" >"$clean"
	if grep -q '@@BOOTED' "$clean" || ! grep -q 'Kernel panic' "$clean" ||
		((attempt == 2)); then
		break
	fi
	echo "vm: guest crashed before init (emulation), booting again" >&2
	echo "@@RETRY: guest crashed before init@@" >>"$log"
done
end=$(date +%s)

booted=$(sed -n 's/.*@@BOOTED \([0-9.]*\)@@.*/\1/p' "$clean" | head -n1)
echo "vm: qemu exited rc=$qemu_rc after $((end - start))s wall${booted:+ (guest reached init at ${booted}s uptime)}" >&2

# What counts as a kernel report, as fixed strings (banners excluded).
grep_args=()
while IFS= read -r p; do
	[[ -z $p || $p == \#* ]] || grep_args+=(-e "$p")
done <"$(dirname "$0")/kernel-reports"

exit_line=$(grep -o '@@EXIT [0-9]*@@' "$clean" | tail -n1 || true)
if [[ -z "$exit_line" ]]; then
	if ((qemu_rc == 124 || qemu_rc == 137)); then
		echo "vm: FAIL: timed out after ${timeout_secs}s with no exit marker" >&2
	else
		echo "vm: FAIL: VM ended without an exit marker (crash or panic?)" >&2
	fi
	# No dmesg section was dumped; the console itself is the best evidence.
	grep -F "${grep_args[@]}" "$clean" | sed 's/^/vm: console: /' >&2 || true
	exit 1
fi

bad=$(sed -n '/@@DMESG-BEGIN@@/,/@@DMESG-END@@/p' "$clean" | grep -F "${grep_args[@]}" || true)
if [[ -n "$bad" ]]; then
	while IFS= read -r l; do echo "vm: dmesg: $l"; done <<<"$bad" >&2
	echo "vm: FAIL: kernel reported problems in dmesg" >&2
	exit 1
fi

insmod_line=$(grep -o '@@INSMOD [0-9]*' "$clean" | head -n1 || true)
if [[ -n "$insmod_line" && "${insmod_line#@@INSMOD }" != 0 ]]; then
	echo "vm: FAIL: insmod of $ko failed with status ${insmod_line#@@INSMOD }" >&2
	exit 1
fi

status=${exit_line#@@EXIT }
status=${status%@@}
echo "vm: command exit status $status" >&2
exit "$status"
