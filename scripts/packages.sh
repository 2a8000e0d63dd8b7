# SPDX-License-Identifier: GPL-2.0
# make check's package step (sourced by check.sh, which defines record,
# count_tap, vm_boot's helpers and $logs): the .debs `make deb` builds,
# installed the way a fleet installs them, in a fresh copy of each suite's
# minbase chroot (scripts/deb-chroot.sh):
#   - the packages go in beside the first line's linux-headers, with
#     openssl so DKMS makes its MOK key and signs what it builds; dkms
#     status says installed, the module is signed by that key, the udev rule,
#     modules-load.d entry, man page and pkg-config file are where they
#     belong, and a program builds against libbpfcmpdel-dev;
#   - the second line's headers come later: DKMS builds for that kernel too
#     (/etc/kernel/header_postinst.d, the kernel-upgrade path);
#   - a VM boots the first line on the module DKMS installed, with the
#     installed command and library (guest-tests.sh package);
#   - a VM boots Debian's *signed* image of the first line through OVMF with
#     Secure Boot on -- PK/KEK generated, Debian's kernel signer in db, the
#     DKMS key in MokListRT as shim would leave it -- so the kernel locks
#     itself down (integrity) and loads only modules its keyrings trust: the
#     DKMS-signed module loads and passes the suite, the same module
#     unsigned is refused (guest-tests.sh secureboot); once more with
#     lockdown=confidentiality, where only tests reading the kernel through
#     /proc/kcore or bpf_probe_read_kernel() skip;
#   - apt-get remove, then purge, leave no module, DKMS tree, source, rule
#     or file of any package behind.
# It covers the suites of the lines checked; PACKAGES="bookworm" names the
# suites instead, PACKAGES=0 skips the step.
# shellcheck shell=bash
# shellcheck disable=SC2154 # build, logs, pkg_version: check.sh's (common.sh)

# shellcheck source=scripts/deb-chroot.sh
. "$top/scripts/deb-chroot.sh"

msg() {
	echo "packages: $*" >&2
}

# The two lines each suite's packages meet: installed with the first's
# headers, the second's arriving later.
package_lines() {	# package_lines SUITE
	case $1 in
	bookworm) echo "6.1 6.12" ;;
	trixie) echo "7 7-cloud" ;;
	esac
}

# The suites whose lines are in LINES, in matrix order.
package_suites() {	# package_suites LINES...
	local line suite seen=" "

	for line in "$@"; do
		suite=$(_kernels_line_suite "$line") || continue
		[[ -n $(package_lines "$suite") && $seen != *" $suite "* ]] || continue
		seen+="$suite "
		echo "$suite"
	done
}

# Runs CMD in the package chroot $run, with the packages, the apt cache and
# the source tree (for a program to build) at their own paths.
in_pkg_chroot() {
	local KERNELS_CHROOT=$run

	_kernels_chroot --bind "$debs" --bind "$pkgs" --bind "$top" -- "$@"
}

apt_install() {
	in_pkg_chroot apt-get -q -y -o Dpkg::Use-Pty=0 install "$@"
}

# pkg_step NAME COMMAND...: one result; the command's output goes to $plog.
pkg_step() {
	local name=$1

	shift
	echo "== $name" >>"$plog"
	if "$@" >>"$plog" 2>&1; then
		record "$name" ok
	else
		record "$name" fail
		tail -n 30 "$plog" | sed "s/^/  /"
		return 1
	fi
}

# As on a host running that kernel, whose image DKMS reads the BTF from
# for the module's own (module/btf-base.sh; /sys is the chroot's host's).
installs_with_headers() {	# installs_with_headers KVER
	install -D -m 644 "$(KERNELS_CACHE=$kcache kernel_image "$1")" "$run/boot/vmlinuz-$1" &&
		apt_install openssl pkgconf "linux-headers-$1" &&
		apt_install "$pkgs"/bpfcmpdel-dkms_*_all.deb "$pkgs"/libbpfcmpdel0_*.deb \
			"$pkgs"/libbpfcmpdel-dev_*.deb "$pkgs"/bpfcmpdel_*_amd64.deb &&
		dkms_installed_for "$1"
}

dkms_installed_for() {	# dkms_installed_for KVER
	in_pkg_chroot dkms status -m bpfcmpdel -k "$1" | tee /dev/stderr |
		grep -q "^bpfcmpdel/$pkg_version, $1, x86_64: installed"
}

module_file() {	# module_file KVER: the installed module, as the chroot names it
	(cd "$run" && find "lib/modules/$1/updates/dkms" -name 'bpfcmpdel.ko*' | head -n1)
}

signed_by_dkms_key() {
	local f

	f=$(module_file "$kver1") && [[ -n $f ]] &&
		[[ -f $run/var/lib/dkms/mok.pub && -f $run/var/lib/dkms/mok.key ]] &&
		[[ $(in_pkg_chroot modinfo -F signer "/$f") == "DKMS module signing key" ]]
}

files_in_place() {
	local f

	for f in usr/lib/udev/rules.d/60-bpfcmpdel.rules usr/lib/modules-load.d/bpfcmpdel.conf \
		usr/share/man/man8/bpfcmpdel.8.gz usr/share/bash-completion/completions/bpfcmpdel \
		usr/src/bpfcmpdel-"$pkg_version"/dkms.conf usr/include/bpfcmpdel/ioctl.h \
		usr/include/bpfcmpdel/kfuncs.bpf.h \
		usr/lib/x86_64-linux-gnu/pkgconfig/libbpfcmpdel.pc; do
		[[ -e $run/$f ]] || { echo "missing: /$f"; return 1; }
	done
}

# A consumer of libbpfcmpdel-dev: pkg-config's flags, linked to the .so.
dev_package_builds_a_program() {
	apt_install gcc || return
	# shellcheck disable=SC2016 # expanded by the inner sh
	in_pkg_chroot sh -ec 'gcc -o /tmp/demo "$1" $(pkg-config --cflags --libs libbpfcmpdel) -lbpf
		ldd /tmp/demo | grep -q "libbpfcmpdel.so.0 => /"' sh "$top/demo/demo.c"
}

kernel_upgrade_builds() {	# kernel_upgrade_builds KVER
	apt_install "linux-headers-$1" && dkms_installed_for "$1"
}

# The module as the guest loads it: decompressed (busybox insmod reads
# plain ELF; the signature is inside), and the same bytes unsigned.
guest_modules() {
	local f=$run/$1 sig_len size newer

	case $f in
	*.xz) xz -dc "$f" ;;
	*.zst) zstd -qdc "$f" ;;
	*.gz) gzip -dc "$f" ;;
	*) cat "$f" ;;
	esac >"$out/bpfcmpdel.ko" || return
	# The appended signature: PKCS#7, struct module_signature (12 bytes,
	# its last 4 the big-endian length), then the 28-byte magic.
	size=$(stat -c %s "$out/bpfcmpdel.ko")
	[[ $(tail -c 28 "$out/bpfcmpdel.ko") == '~Module signature appended~' ]] || return
	sig_len=$(od -An -tu1 -j $((size - 32)) -N4 "$out/bpfcmpdel.ko" |
		awk '{ print ((($1 * 256 + $2) * 256 + $3) * 256 + $4) }')
	head -c $((size - 28 - 12 - sig_len)) "$out/bpfcmpdel.ko" >"$out/tree/unsigned.ko"
	# What a newer package would install: another version string, of the
	# same length so the file stays a valid module.
	newer=$(tr 0-8 1-9 <<<"$pkg_version")
	echo "$newer" >"$out/tree/newer.version"
	NEW=$newer OLD=$pkg_version perl -0777 -pe 's/version=\Q$ENV{OLD}\E\0/version=$ENV{NEW}\0/' \
		"$out/bpfcmpdel.ko" >"$out/tree/newer.ko"
	! cmp -s "$out/bpfcmpdel.ko" "$out/tree/newer.ko"
}

# What the guest needs of the installed system: the command, the program
# built against libbpfcmpdel-dev and kmod's modinfo with their libraries,
# /lib/modules/KVER as DKMS left it, the DKMS certificate.
guest_tree() {
	local t=$out/tree f

	mkdir -p "$t/sbin" "$t/var/lib/dkms"
	# The program built against libbpfcmpdel-dev, if it was: it runs on
	# the installed shared library.
	[[ ! -x $run/tmp/demo ]] || install -D "$run/tmp/demo" "$t/usr/local/bin/bpfcmpdel-demo"
	# shellcheck disable=SC2016 # the inner sh's and awk's, not this shell's
	in_pkg_chroot sh -c 'ldd /usr/sbin/bpfcmpdel /usr/bin/kmod $(ls /tmp/demo 2>/dev/null) |
		awk "/=> \\// { print \$3 } /^\t\\// { print \$1 }"' >"$out/libs" || return
	for f in /usr/sbin/bpfcmpdel /usr/bin/kmod $(sort -u "$out/libs"); do
		(cd "$run" && cp -L --parents ".$f" "$t/") || return
	done
	ln -sf /usr/bin/kmod "$t/sbin/modinfo"
	# DKMS 3.2 leaves depmod to the kernel package when a kernel has no
	# modules.dep yet; this chroot has only the kernel's headers.
	in_pkg_chroot depmod -a "$kver1" || return
	(cd "$run" && cp -a --parents "./lib/modules/$kver1" "$t/") || return
	rm -f "$t/lib/modules/$kver1/build" "$t/lib/modules/$kver1/source"
	cp "$run/var/lib/dkms/mok.pub" "$t/var/lib/dkms/"
}

# Debian's signed image of KVER, and OVMF's Secure Boot firmware with a
# variable store trusting it and the DKMS key (tests/vm/secureboot-vars.py).
secure_boot_setup() {	# secure_boot_setup KVER
	local kver=$1 bpo=()

	[[ $suite == bookworm ]] && bpo=(-t bookworm-backports)
	apt_install ovmf && apt_install "${bpo[@]}" python3-virt-firmware || return
	mkdir -p "$run/tmp/signed"
	# The split packaging's signed image is linux-binary-KVER.
	# shellcheck disable=SC2016 # expanded by the inner sh
	in_pkg_chroot sh -ec 'cd /tmp/signed
		apt-get -q download "linux-binary-$1" 2>/dev/null || apt-get -q download "linux-image-$1"
		dpkg-deb -x ./*.deb x
		cp "$(find x -name "vmlinuz-$1" -o -name vmlinuz -path "*/$1/*" | head -n1)" "vmlinuz-$1"
		python3 "$2/tests/vm/secureboot-vars.py" "vmlinuz-$1" /var/lib/dkms/mok.pub \
			/usr/share/OVMF/OVMF_VARS_4M.fd vars.fd' sh "$kver" "$top" || return
	cp "$run/tmp/signed/vmlinuz-$kver" "$run/tmp/signed/vars.fd" \
		"$run/usr/share/OVMF/OVMF_CODE_4M.secboot.fd" "$out/"
}

# Secure Boot puts the kernel in lockdown=integrity by itself; LEVEL is
# asked for on the command line as well.
secure_boot_vm() {	# secure_boot_vm LEVEL
	KERNELS_CACHE=$kcache vm_boot "packages $suite: Secure Boot vm $kver1, lockdown=$1, DKMS-signed module" \
		"$kver1" "$out/bpfcmpdel.ko" "$logs/vm-secureboot-$1-$kver1.log" \
		'guest-tests.sh secureboot' --tree "$out/tree" --timeout 1500 \
		--kernel "$out/vmlinuz-$kver1" --uefi "$out/OVMF_CODE_4M.secboot.fd" \
		--uefi-vars "$out/vars.fd" --append "lockdown=$1"
}

removal_leaves_nothing() {
	local left

	in_pkg_chroot apt-get -q -y -o Dpkg::Use-Pty=0 remove bpfcmpdel-dkms || return
	left=$(cd "$run" && find lib/modules usr/src var/lib/dkms usr/lib/udev \
		usr/lib/modules-load.d -name '*bpfcmpdel*' 2>/dev/null)
	[[ -z $left ]] || { echo "left after remove: $left"; return 1; }
	in_pkg_chroot apt-get -q -y -o Dpkg::Use-Pty=0 purge bpfcmpdel-dkms bpfcmpdel \
		libbpfcmpdel-dev libbpfcmpdel0 || return
	# Not the packages': logs, and the apt sources this test chroot has.
	left=$(cd "$run" && find . -xdev \( -path "./proc" -o -path ".$debs" -o -path ".$pkgs" \
		-o -path ".$top" -o -path ./var/log -o -path ./etc/apt \) -prune -o \
		-name '*bpfcmpdel*' -print)
	[[ -z $left ]] || { echo "left after purge: $left"; return 1; }
	! in_pkg_chroot dpkg -l bpfcmpdel-dkms bpfcmpdel libbpfcmpdel-dev libbpfcmpdel0 2>/dev/null |
		grep -q '^[a-z]i'
}

# One suite: build, install, boot, remove.
package_suite() {	# package_suite SUITE KVER1 KVER2
	local suite=$1 kver1=$2 kver2=$3 f
	# The kernel images' cache, for the VMs: the chroot helpers below act
	# on the suite's throwaway chroots instead.
	local kcache=$KERNELS_CACHE
	local KERNELS_CACHE=$deb_cache KERNELS_SUITE=$1 KERNELS_CHROOT=$deb_cache/$1
	local debs=$deb_cache/$1-debs pkgs=$build/deb/$1 out=$build/pkg/$1
	local plog=$logs/packages-$1.log run

	: >"$plog"
	pkg_step "packages $suite: make deb builds them, lintian clean" \
		env DEB_SUITES="$suite" "$top/scripts/deb.sh" || return
	rm -rf "$out" && mkdir -p "$out/tree" "$debs/partial"
	run=$(mktemp -d "$deb_cache/$suite-pkg.XXXXXX")
	run_dirs+=("$run")
	_kernels_locked deb_base_prepare "$run" >>"$plog" 2>&1 || {
		record "packages $suite: a fresh $suite chroot" fail
		return
	}
	printf '%s\n' "Dir::Cache::Archives \"$debs/\";" 'APT::Sandbox::User "root";' \
		'APT::Install-Recommends "false";' >"$run/etc/apt/apt.conf.d/90deb-build"

	pkg_step "packages $suite: install beside linux-headers-$kver1, dkms status installed" \
		installs_with_headers "$kver1" || return
	# A failed step is recorded; only those the rest needs end the suite.
	pkg_step "packages $suite: DKMS signed the module with its MOK key" signed_by_dkms_key || :
	pkg_step "packages $suite: udev rule, modules-load.d, man page, completion, headers, .pc in place" \
		files_in_place || :
	pkg_step "packages $suite: a program builds against libbpfcmpdel-dev with pkg-config" \
		dev_package_builds_a_program || :
	pkg_step "packages $suite: kernel upgrade: linux-headers-$kver2 gets the module built" \
		kernel_upgrade_builds "$kver2" || :
	f=$(module_file "$kver1")
	# shellcheck disable=SC2016 # eval's
	if pkg_step "packages $suite: the installed module and command, ready for a VM" \
		eval 'guest_modules "$f" && guest_tree'; then
		KERNELS_CACHE=$kcache vm_boot "packages $suite: vm $kver1 on the DKMS-installed module" "$kver1" \
			"$out/bpfcmpdel.ko" "$logs/vm-packages-$kver1.log" 'guest-tests.sh package' \
			--tree "$out/tree" --timeout 1200
		if pkg_step "packages $suite: Debian's signed $kver1 and a Secure Boot OVMF" \
			secure_boot_setup "$kver1"; then
			secure_boot_vm integrity
			# The stricter level: the module works; the tests that read
			# the kernel through /proc/kcore or bpf_probe_read_kernel()
			# skip, saying so.
			secure_boot_vm confidentiality
		fi
	fi
	pkg_step "packages $suite: apt-get remove, then purge, leave nothing behind" \
		removal_leaves_nothing || :
}

package_tests() {	# package_tests LINES...
	local suite suite_lines kvers=() i suites

	case ${PACKAGES:-1} in
	0) return ;;
	1) suites=$(package_suites "$@") ;;
	*) suites=$PACKAGES ;;
	esac
	trap deb_cleanup EXIT
	for suite in $suites; do
		read -r -a suite_lines <<<"$(package_lines "$suite")"
		kvers=()
		for i in "${suite_lines[@]}"; do
			kvers+=("$(kernel_provision "$i" 2>>"$logs/packages-$suite.provision.log")") || {
				record "packages $suite: kernel $i" fail
				continue 2
			}
		done
		echo "check: packages on $suite (${kvers[*]})"
		package_suite "$suite" "${kvers[@]}"
	done
	deb_cleanup
}
