# SPDX-License-Identifier: GPL-2.0
# The kernel matrix: which Debian kernels the module is built and tested
# against, and how each one's image and headers are made available without
# touching the host's /boot, bootloader or installed kernel packages.
#
# A line is MAJOR[-FLAVOUR]: 6.1, 6.12 (bookworm, bookworm-security) and 7
# (trixie-backports), each also as -cloud and -rt.  sid, sid-cloud and
# sid-rt (unstable's newest kernel, whatever its major) are accepted too but
# left out of the default matrix: sid moves daily.  Every line is built in
# a debootstrapped chroot of its suite under $KERNELS_CACHE, with that
# suite's compiler and the line's linux-headers package installed there;
# the kernel image is extracted from its .deb into the cache, never
# installed.  The apt mirror is the one the host's own apt uses.
#
# Source this file; it only defines functions and variable defaults.
#
#   kernel_lines                      the default matrix
#   kernel_provision LINE             install what is missing, echo the KVER
#   kernel_image KVER                 echo the path of that kernel's vmlinuz
#   kernel_dkms_build KVER SRC TREE   dkms add + build, echo the .ko's path
#   kernel_chroot_run KVER DIR CMD... run CMD where KVER's headers are
#
# Messages go to stderr prefixed "kernels:"; stdout carries only the result.
# Versions are resolved from the apt lists at hand; KERNELS_REFRESH=1 runs
# apt-get update first to pick up newer kernels.
# shellcheck shell=bash

: "${KERNELS_CACHE:=/var/cache/bpfcmpdel}"
: "${KERNELS_REFRESH:=0}"

kernel_lines() {
	echo "6.1 6.1-cloud 6.1-rt 6.12 6.12-cloud 6.12-rt 7 7-cloud 7-rt"
}

# Lines kernel_provision takes that the default matrix leaves out.
_kernels_extra_lines() {
	echo "sid sid-cloud sid-rt"
}

_kernels_msg() {
	echo "kernels: $*" >&2
}

_kernels_need_root() {
	((EUID == 0)) && return 0
	_kernels_msg "$* needs root (debootstrap, mount, chroot)"
	return 1
}

# Provisioning steps run one at a time: the chroots are shared state.
_kernels_locked() {
	mkdir -p "$KERNELS_CACHE" || return 1
	(
		flock -w 7200 9 || {
			_kernels_msg "timed out waiting for $KERNELS_CACHE/.lock"
			exit 1
		}
		"$@"
	) 9>"$KERNELS_CACHE/.lock"
}

# LINE -> the suite whose chroot builds it, and its flavour's suffix.
_kernels_line_suite() {
	case ${1%%-*} in
	6.1 | 6.12) echo bookworm ;;
	7) echo trixie ;;
	sid) echo sid ;;
	*) return 1 ;;
	esac
}

_kernels_line_flavour() {
	case $1 in
	*-cloud) echo cloud-amd64 ;;
	*-rt) echo rt-amd64 ;;
	*-*) return 1 ;;
	*) echo amd64 ;;
	esac
}

_kernels_chroot_dir() {
	echo "$KERNELS_CACHE/$1"
}

# The host apt's URI for the archive holding SUITE ("debian" or
# "debian-security" style), so no mirror is named here.
_kernels_uri() {
	local want=$1

	apt-cache policy 2>/dev/null |
		awk -v want="$want" '$3 ~ "/main$" && $2 ~ "/" want "$" { print $2; exit }'
}

_kernels_mirror() {
	_kernels_uri debian
}

_kernels_security_mirror() {
	_kernels_uri debian-security
}

# --- the suite chroots ---------------------------------------------------
# The functions below act on the chroot $KERNELS_CHROOT of suite
# $KERNELS_SUITE, which kernel_provision and friends set (as locals, so
# bash's dynamic scope hands them down) from the line asked for.

# Runs a command in the chroot with nothing mounted: enough for dpkg-query
# and apt-cache, and nothing to clean up.
_kernels_chroot_q() {
	chroot "$KERNELS_CHROOT" /usr/bin/env -i LC_ALL=C \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# Unmounts the given mount points, last first.
_kernels_unmount_paths() {
	local i paths=("$@")

	for ((i = ${#paths[@]} - 1; i >= 0; i--)); do
		umount "${paths[i]}" 2>/dev/null ||
			umount -l "${paths[i]}" ||
			_kernels_msg "warning: could not unmount ${paths[i]}"
	done
}

# Removes the given directories, last first, as long as they are empty.
_kernels_rmdirs() {
	local i dirs=("$@")

	for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
		rmdir "${dirs[i]}" 2>/dev/null || true
	done
}

# _kernels_chroot [--bind DIR]... [--] CMD...: runs CMD in the chroot with
# /proc and each DIR (at the same path inside) mounted. The mounts live in a
# subshell whose EXIT trap takes them down again, however CMD ends.
_kernels_chroot() {
	local root=$KERNELS_CHROOT binds=()

	while (($#)); do
		case $1 in
		--bind) binds+=("$2"); shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	(
		mounted=() created=()
		trap '_kernels_unmount_paths "${mounted[@]}"; _kernels_rmdirs "${created[@]}"' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM HUP

		cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
		mount -t proc proc "$root/proc" || exit 1
		mounted+=("$root/proc")
		for dir in "${binds[@]}"; do
			# Remember the mount points made here, to remove them again.
			new=() d=$dir
			while [[ $d != / && ! -e $root$d ]]; do
				new=("$root$d" "${new[@]}")
				d=$(dirname "$d")
			done
			mkdir -p "$root$dir" || exit 1
			created+=("${new[@]}")
			# A symlink in the chroot must not lead the mount out of it.
			if [[ $(realpath -e "$root$dir") != "$(realpath -e "$root")$dir" ]]; then
				_kernels_msg "$root$dir leads outside the chroot; not mounting there"
				exit 1
			fi
			mount --bind "$dir" "$root$dir" || exit 1
			mounted+=("$root$dir")
		done
		chroot "$root" /usr/bin/env -i LC_ALL=C HOME=/root TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive "$@"
	)
}

# Unmounts whatever a killed debootstrap left under DIR.
_kernels_unmount_under() {
	local dir=$1 target

	findmnt -rn -o TARGET | awk -v p="$dir/" 'index($0, p) == 1' | sort -r |
		while read -r target; do
			umount "$target" 2>/dev/null || umount -l "$target" || true
		done
}

# Debootstraps into a .tmp directory and renames it only on success, so a
# half-made chroot is never used.
_kernels_chroot_ensure() {
	local root=$KERNELS_CHROOT tmp=$KERNELS_CHROOT.tmp mirror
	local log=$KERNELS_CACHE/debootstrap-$KERNELS_SUITE.log

	[[ -x $root/usr/bin/apt-get && -e $root/etc/debian_version ]] && return 0
	if [[ -e $root ]]; then
		_kernels_msg "$root exists but is not a usable chroot; remove it"
		return 1
	fi
	command -v debootstrap >/dev/null || {
		_kernels_msg "debootstrap missing (run scripts/deps.sh)"
		return 1
	}
	_kernels_unmount_under "$tmp"
	if [[ -n $(findmnt -rn -o TARGET | awk -v p="$tmp/" 'index($0, p) == 1') ]]; then
		_kernels_msg "something is still mounted under $tmp; not removing it"
		return 1
	fi
	rm -rf --one-file-system "$tmp" || return 1
	mirror=$(_kernels_mirror)
	if [[ -z $mirror ]]; then
		_kernels_msg "the host's apt has no Debian archive to debootstrap from"
		return 1
	fi
	_kernels_msg "debootstrapping $KERNELS_SUITE into $root (log: $log)"
	if ! debootstrap --variant=minbase "$KERNELS_SUITE" "$tmp" "$mirror" >"$log" 2>&1; then
		_kernels_unmount_under "$tmp"
		tail -n 20 "$log" | sed 's/^/kernels: debootstrap: /' >&2
		_kernels_msg "debootstrap failed; $tmp left for inspection"
		return 1
	fi
	mv "$tmp" "$root"
}

_kernels_chroot_update() {
	_kernels_msg "apt-get update (chroot $KERNELS_CHROOT)"
	_kernels_chroot apt-get -q update >&2
}

# LINE -> newest KVER of its flavour with a linux-headers package in the
# lists (a plain -amd64 name is neither -cloud-amd64 nor -rt-amd64).  A sid
# line names no major: any linux-headers-N.N.* of the flavour will do.
_kernels_chroot_newest() {
	local line=$1 major=${1%%-*} flavour
	local pat="^linux-headers-${major//./\\.}\\.[0-9]"

	[[ $major == sid ]] && pat="^linux-headers-[0-9]+\\.[0-9]"
	flavour=$(_kernels_line_flavour "$line") || return 0
	_kernels_chroot_q apt-cache search --names-only "$pat" 2>/dev/null |
		awk '{ print $1 }' | sed 's/^linux-headers-//' |
		awk -v f="$flavour" '
			f == "amd64" && /-(cloud|rt)-amd64$/ { next }
			substr($0, length($0) - length(f)) == "-" f' |
		sort -V | tail -n 1 || true
}

_kernels_chroot_installed() {
	local pkg status

	for pkg in "$@"; do
		# shellcheck disable=SC2016 # dpkg-query's own ${} format
		status=$(_kernels_chroot_q dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) ||
			return 1
		[[ $status == "install ok installed" ]] || return 1
	done
}

_kernels_image_dir() {
	echo "$KERNELS_CACHE/images/$1"
}

# Fetches the package holding boot/vmlinuz-KVER and extracts it (not
# installs it: no initramfs hooks, no modules) into the image cache.
# Older builds keep the vmlinuz in linux-image-KVER, and unsigned in
# linux-image-KVER-unsigned.  Debian's newer packaging splits the image:
# linux-image-KVER is an empty package depending on linux-binary-KVER (the
# signed vmlinuz), linux-modules-KVER and linux-base-KVER, and the unsigned
# vmlinuz is in linux-binary-unsigned-KVER as vmlinuz.unsigned.  Either
# layout's unsigned image is tried first: it comes from the same source
# package, at the same version, as the headers (the signed ones come from
# linux-signed-amd64, built later), and QEMU's -kernel needs no signature.
_kernels_chroot_fetch_image() {
	local kver=$1 dir tmp debs=/var/cache/bpfcmpdel-debs pkg deb version f

	dir=$(_kernels_image_dir "$kver")
	tmp=$dir.tmp
	# shellcheck disable=SC2016 # dpkg-query's own ${} format
	version=$(_kernels_chroot_q dpkg-query -W -f='${Version}' "linux-headers-$kver") ||
		return 1
	mkdir -p "$KERNELS_CHROOT$debs"
	for pkg in "linux-binary-unsigned-$kver" "linux-image-$kver-unsigned" \
		"linux-binary-$kver" "linux-image-$kver"; do
		_kernels_chroot_q apt-cache show "$pkg=$version" >/dev/null 2>&1 || continue
		rm -f "$KERNELS_CHROOT$debs/${pkg}_"*.deb
		_kernels_msg "downloading $pkg=$version"
		_kernels_chroot sh -c "cd $debs && apt-get -q download -o APT::Sandbox::User=root '$pkg=$version'" >&2 ||
			return 1
		deb=$(find "$KERNELS_CHROOT$debs" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1) || true
		[[ -n $deb ]] || return 1
		rm -rf "$tmp" && mkdir -p "$tmp" || return 1
		dpkg-deb -x "$deb" "$tmp" || {
			rm -f "$deb"
			return 1
		}
		rm -f "$deb"
		# Older packages ship /boot/vmlinuz-KVER, newer ones (7.x) only
		# /usr/lib/modules/KVER/vmlinuz, or vmlinuz.unsigned in the split
		# layout's unsigned package; the cache always has the first, the
		# name tests/vm/run.sh reads KVER from.  An empty linux-image-KVER
		# has none of them, and the next package is tried.
		for f in "$tmp/boot/vmlinuz-$kver" "$tmp/usr/lib/modules/$kver/vmlinuz.unsigned" \
			"$tmp/usr/lib/modules/$kver/vmlinuz" "$tmp/lib/modules/$kver/vmlinuz"; do
			[[ -f $f ]] || continue
			if [[ $f != "$tmp/boot/vmlinuz-$kver" ]]; then
				mkdir -p "$tmp/boot" && ln "$f" "$tmp/boot/vmlinuz-$kver" || return 1
			fi
			echo "$pkg=$version" >"$tmp/.package"
			rm -rf "$dir" && mv "$tmp" "$dir" || return 1
			_kernels_msg "kernel image for $kver from $pkg (${f#"$tmp"/})"
			return 0
		done
		rm -rf "$tmp"
	done
	_kernels_msg "no package in the chroot's apt holds vmlinuz-$kver"
	return 1
}

# The suite's apt sources beyond the main archive: updates and security for
# bookworm (6.12 and the newest 6.1 come from there), backports for trixie.
# sid has none of those suites, and debootstrap's sources.list names sid
# itself: nothing to add.  Written only inside the chroot, never on the host.
_kernels_chroot_sources() {
	local mirror security

	[[ $KERNELS_SUITE == sid ]] && return 0
	mirror=$(_kernels_mirror)
	security=$(_kernels_security_mirror)
	[[ -n $mirror ]] || return 1
	printf '%s\n' "Types: deb" "URIs: $mirror" \
		"Suites: $KERNELS_SUITE-updates $KERNELS_SUITE-backports" "Components: main" \
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	if [[ -n $security ]]; then
		printf '%s\n' "" "Types: deb" "URIs: $security" \
			"Suites: $KERNELS_SUITE-security" "Components: main" \
			"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	fi
}

# apt.conf lines for the chroot, none for a stable suite.  sid's Release
# carries a Valid-Until a week out and is re-signed daily; a mirror that
# lags serves it expired, and apt then refuses the whole suite.  The
# signature is still checked.  Written only inside the chroot.
_kernels_chroot_apt_conf() {
	[[ $KERNELS_SUITE == sid ]] || return 0
	echo 'Acquire::Check-Valid-Until "false";'
}

# Writes CONTENT to FILE, or removes FILE when CONTENT is empty: a suite
# that needs no sources or settings of its own gets no file for them.
_kernels_put() {
	if [[ -n $2 ]]; then
		echo "$2" >"$1"
	else
		rm -f "$1"
	fi
}

# Packages a build for KVER needs: the suite's default compiler (the one
# the headers were made with) and the headers themselves.
# pahole and the decompressors: the module's BTF where the headers ship no
# vmlinux (module/btf-base.sh), as bpfcmpdel-dkms depends on them.
_kernels_chroot_pkgs() {
	echo gcc make dkms kmod sparse dwarves xz-utils zstd lz4 "linux-headers-$1"
}

_kernels_chroot_provision() {
	local line=$1 kver updated=0 pkgs want want_conf
	local src=$KERNELS_CHROOT/etc/apt/sources.list.d/bpfcmpdel.sources
	local conf=$KERNELS_CHROOT/etc/apt/apt.conf.d/99bpfcmpdel

	_kernels_need_root "provisioning $line" || return 1
	_kernels_chroot_ensure || return 1

	want=$(_kernels_chroot_sources) || {
		_kernels_msg "the host's apt has no Debian archive to take sources from"
		return 1
	}
	want_conf=$(_kernels_chroot_apt_conf)
	if [[ $(cat "$src" 2>/dev/null) != "$want" ||
		$(cat "$conf" 2>/dev/null) != "$want_conf" ]]; then
		_kernels_put "$src" "$want" && _kernels_put "$conf" "$want_conf" || return 1
		_kernels_chroot_update || return 1
		updated=1
	elif [[ $KERNELS_REFRESH == 1 ]]; then
		_kernels_chroot_update || return 1
		updated=1
	fi

	kver=$(_kernels_chroot_newest "$line")
	# shellcheck disable=SC2207 # package names are single words
	pkgs=($(_kernels_chroot_pkgs "$kver"))
	if [[ -z $kver ]] || ! _kernels_chroot_installed "${pkgs[@]}"; then
		if ((!updated)); then
			_kernels_chroot_update || return 1
			kver=$(_kernels_chroot_newest "$line")
		fi
		if [[ -z $kver ]]; then
			_kernels_msg "no linux-headers package for $line in $KERNELS_SUITE's lists"
			return 1
		fi
		# shellcheck disable=SC2207
		pkgs=($(_kernels_chroot_pkgs "$kver"))
		if ! _kernels_chroot_installed "${pkgs[@]}"; then
			_kernels_msg "installing ${pkgs[*]} in the $KERNELS_SUITE chroot"
			_kernels_chroot apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends \
				install "${pkgs[@]}" >&2 || {
				_kernels_msg "apt-get install in the chroot failed"
				return 1
			}
		fi
	fi
	if [[ ! -f $(_kernels_image_dir "$kver")/boot/vmlinuz-$kver ]]; then
		_kernels_chroot_fetch_image "$kver" || return 1
	fi
	echo "$kver"
}

# --- public -------------------------------------------------------------

kernel_provision() {
	local line=${1:?kernel_provision LINE} KERNELS_SUITE KERNELS_CHROOT

	if ! KERNELS_SUITE=$(_kernels_line_suite "$line") ||
		! _kernels_line_flavour "$line" >/dev/null; then
		_kernels_msg "unknown kernel line '$line' (known: $(kernel_lines) $(_kernels_extra_lines))"
		return 1
	fi
	KERNELS_CHROOT=$(_kernels_chroot_dir "$KERNELS_SUITE")
	_kernels_locked _kernels_chroot_provision "$line"
}

kernel_image() {
	local kver=${1:?kernel_image KVER} f

	f=$(_kernels_image_dir "$kver")/boot/vmlinuz-$kver
	if [[ -r $f ]]; then
		echo "$f"
		return 0
	fi
	_kernels_msg "no vmlinuz for $kver (kernel_provision first)"
	return 1
}

# The chroot holding KVER's headers, or nothing (return 1).
_kernels_build_root() {
	local suite root

	for suite in bookworm trixie sid; do
		root=$(_kernels_chroot_dir "$suite")
		# build is an absolute link, meaningful inside the chroot only.
		if [[ -e $root/usr/src/linux-headers-$1/Makefile ]]; then
			echo "$suite"
			return 0
		fi
	done
	return 1
}

# Runs CMD inside the chroot with KVER's headers, with DIR bound at its
# own path there, in the current directory (which must be under DIR).
kernel_chroot_run() {
	local kver=${1:?kernel_chroot_run KVER DIR CMD...} top=${2:?kernel_chroot_run KVER DIR CMD...}
	local KERNELS_SUITE KERNELS_CHROOT dir

	shift 2
	KERNELS_SUITE=$(_kernels_build_root "$kver") || {
		_kernels_msg "no headers for $kver in $KERNELS_CACHE (kernel_provision first)"
		return 1
	}
	KERNELS_CHROOT=$(_kernels_chroot_dir "$KERNELS_SUITE")
	_kernels_need_root "building for $kver" || return 1
	dir=$(pwd -P)
	top=$(cd "$top" && pwd -P) || return 1
	# shellcheck disable=SC2016 # expanded by the inner sh
	_kernels_chroot --bind "$top" -- sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$@"
}

kernel_dkms_build() {
	local kver=${1:?kernel_dkms_build KVER SOURCETREE DKMSTREE}
	local src=${2:?kernel_dkms_build KVER SOURCETREE DKMSTREE}
	local tree=${3:?kernel_dkms_build KVER SOURCETREE DKMSTREE}
	local conf name ver link run=() rc=0 ko image KERNELS_SUITE KERNELS_CHROOT

	KERNELS_SUITE=$(_kernels_build_root "$kver") || {
		_kernels_msg "no headers for $kver in $KERNELS_CACHE (kernel_provision first)"
		return 1
	}
	KERNELS_CHROOT=$(_kernels_chroot_dir "$KERNELS_SUITE")
	src=$(cd "$src" && pwd -P) || return 1
	mkdir -p "$tree" && tree=$(cd "$tree" && pwd -P) || return 1
	conf=$(find "$src" -mindepth 2 -maxdepth 2 -name dkms.conf)
	if [[ -z $conf || $(wc -l <<<"$conf") -ne 1 ]]; then
		_kernels_msg "$src must hold exactly one NAME-VERSION/dkms.conf"
		return 1
	fi
	name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$conf")
	ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$conf")
	if [[ -z $name || -z $ver || $conf != "$src/$name-$ver/dkms.conf" ]]; then
		_kernels_msg "$conf does not name $name-$ver"
		return 1
	fi

	_kernels_need_root "building for $kver" || return 1
	# Both trees appear at their own paths inside the chroot, so the
	# links dkms writes into the tree resolve the same inside and out.
	if [[ $tree == "$src" || $tree == "$src"/* ]]; then
		run=(_kernels_chroot --bind "$src" --)
	elif [[ $src == "$tree"/* ]]; then
		run=(_kernels_chroot --bind "$tree" --)
	else
		run=(_kernels_chroot --bind "$src" --bind "$tree" --)
	fi
	_kernels_msg "building $name-$ver for $kver in $KERNELS_CHROOT"

	# Added once per tree; a tree that points at another source starts over.
	link=$tree/$name/$ver/source
	if [[ -e $link || -L $link ]] && [[ $(readlink -f "$link") != "$src/$name-$ver" ]]; then
		rm -rf "${tree:?}/$name/$ver"
	fi
	if [[ ! -e $link ]]; then
		"${run[@]}" dkms add -m "$name" -v "$ver" --sourcetree "$src" \
			--dkmstree "$tree" >&2 || {
			_kernels_msg "dkms add failed"
			return 1
		}
	fi
	# As on a host with that kernel installed: DKMS reads its BTF from
	# /boot/vmlinuz-KVER where the headers give none (module/btf-base.sh).
	image=$(_kernels_image_dir "$kver")/boot/vmlinuz-$kver
	if [[ -r $image && ! -e $KERNELS_CHROOT/boot/vmlinuz-$kver ]]; then
		install -D -m 644 "$image" "$KERNELS_CHROOT/boot/vmlinuz-$kver" || return 1
	fi
	# Always a fresh build: the sources may have changed since the last one.
	rm -rf "${tree:?}/$name/$ver/$kver" "${tree:?}/$name/$ver/build"
	"${run[@]}" dkms build -m "$name" -v "$ver" -k "$kver" --sourcetree "$src" \
		--dkmstree "$tree" >&2 || rc=$?
	if ((rc != 0)); then
		if [[ -f $tree/$name/$ver/build/make.log ]]; then
			cat "$tree/$name/$ver/build/make.log" >&2
		fi
		if ((rc == 77)); then
			_kernels_msg "dkms: $name-$ver does not apply to $kver (BUILD_EXCLUSIVE_* in dkms.conf)"
		else
			_kernels_msg "dkms build of $name-$ver for $kver failed"
		fi
		return 1
	fi
	ko=$(find "$tree/$name/$ver/$kver" -name "$name.ko*" 2>/dev/null | head -n 1) || true
	if [[ -z $ko ]]; then
		_kernels_msg "dkms build for $kver left no $name.ko in $tree/$name/$ver/$kver"
		return 1
	fi
	echo "$ko"
}
