# SPDX-License-Identifier: GPL-2.0
# The kernel matrix: which Debian kernel lines the module is built and tested
# against, and how each line's newest kernel image and headers are made
# available on this (bookworm) host.
#
#   6.1, 6.12  bookworm / bookworm-security, installed on the host with apt.
#   7          trixie-backports (+deb13 builds). Its headers need trixie's
#              gcc-14, binutils and libc, so they live in a debootstrapped
#              trixie chroot and the module is built there; the kernel image
#              is extracted from its .deb into a cache directory.
#
# Source this file; it only defines functions and variable defaults.
#
#   kernel_lines                      the default matrix: 6.1 6.12 7
#   kernel_provision LINE             install what is missing, echo the KVER
#   kernel_image KVER                 echo the path of that kernel's vmlinuz
#   kernel_dkms_build KVER SRC TREE   dkms add + build, echo the .ko's path
#
# Messages go to stderr prefixed "kernels:"; stdout carries only the result.
# Versions are resolved from the apt lists at hand; KERNELS_REFRESH=1 runs
# apt-get update first (host and chroot) to pick up newer kernels.
# shellcheck shell=bash

: "${KERNELS_CACHE:=/var/cache/bpfcmpdel}"
: "${KERNELS_SUITE:=trixie}"
: "${KERNELS_CHROOT:=$KERNELS_CACHE/$KERNELS_SUITE}"
: "${KERNELS_MIRROR:=http://deb.debian.org/debian}"
: "${KERNELS_REFRESH:=0}"

kernel_lines() {
	echo "6.1 6.12 7"
}

_kernels_msg() {
	echo "kernels: $*" >&2
}

# Host-side apt needs root; use sudo only when not already root.
_kernels_sudo() {
	if ((EUID == 0)); then
		"$@"
	else
		sudo "$@"
	fi
}

_kernels_need_root() {
	((EUID == 0)) && return 0
	_kernels_msg "$* needs root (mount, chroot)"
	return 1
}

# Provisioning steps run one at a time: apt and the chroot are shared state.
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

# --- host lines (6.1, 6.12) ---------------------------------------------

# The meta-package that tracks a host line's newest image.
_kernels_host_meta() {
	case $1 in
	6.1) echo linux-image-amd64 ;;
	6.12) echo linux-image-6.12-amd64 ;;
	*) return 1 ;;
	esac
}

# LINE -> the KVER the line's meta-package currently depends on.
_kernels_host_resolve() {
	local line=$1 meta kver

	meta=$(_kernels_host_meta "$line") || return 1
	kver=$(apt-cache depends --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$meta" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)$/\1/p;T;q') || true
	kver=${kver%-unsigned}
	[[ $kver == "$line".* ]] || return 1
	echo "$kver"
}

_kernels_host_ready() {
	local kver=$1 pkg status

	[[ -r /boot/vmlinuz-$kver && -e /lib/modules/$kver/build/Makefile ]] ||
		return 1
	for pkg in "linux-image-$kver" "linux-headers-$kver"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || return 1
		[[ $status == "install ok installed" ]] || return 1
	done
}

# apt-get update on the host; a dead third-party source must not stop us as
# long as the Debian lists come through, so only warn.
_kernels_host_update() {
	_kernels_msg "apt-get update (host)"
	_kernels_sudo apt-get -q update >&2 ||
		_kernels_msg "warning: apt-get update failed; using the lists at hand"
}

_kernels_host_provision() {
	local line=$1 kver="" updated=0

	if [[ $KERNELS_REFRESH == 1 ]]; then
		_kernels_host_update
		updated=1
	fi
	kver=$(_kernels_host_resolve "$line") || kver=""
	if [[ -n $kver ]] && _kernels_host_ready "$kver"; then
		echo "$kver"
		return 0
	fi
	# Something must be installed: refresh first so it is the newest.
	if ((!updated)); then
		_kernels_host_update
		kver=$(_kernels_host_resolve "$line") || kver=""
	fi
	if [[ -z $kver ]]; then
		_kernels_msg "no $line kernel in apt (meta-package $(_kernels_host_meta "$line"))"
		return 1
	fi
	if ! _kernels_host_ready "$kver"; then
		_kernels_msg "installing linux-image-$kver linux-headers-$kver on the host"
		DEBIAN_FRONTEND=noninteractive _kernels_sudo apt-get install -q -y \
			--no-install-recommends "linux-image-$kver" "linux-headers-$kver" >&2 || {
			_kernels_msg "apt-get install of $kver failed"
			return 1
		}
		_kernels_host_ready "$kver" || {
			_kernels_msg "$kver installed but /boot/vmlinuz-$kver or its headers are missing"
			return 1
		}
	fi
	echo "$kver"
}

# --- the chroot (7) -----------------------------------------------------

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
	local root=$KERNELS_CHROOT tmp=$KERNELS_CHROOT.tmp log=$KERNELS_CACHE/debootstrap.log

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
	_kernels_msg "debootstrapping $KERNELS_SUITE into $root (log: $log)"
	if ! debootstrap --variant=minbase "$KERNELS_SUITE" "$tmp" "$KERNELS_MIRROR" >"$log" 2>&1; then
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

# LINE -> newest KVER with a plain -amd64 linux-headers package in the lists.
_kernels_chroot_newest() {
	local pat="^linux-headers-${1//./\\.}\\.[0-9]"

	_kernels_chroot_q apt-cache search --names-only "$pat" 2>/dev/null |
		awk '{ print $1 }' | grep -E -- '-amd64$' |
		grep -Ev -- '-(cloud|rt)-amd64$' | sed 's/^linux-headers-//' |
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
# Debian's newer packaging moved the vmlinuz from linux-image-KVER, now an
# empty dependency package, into linux-binary-KVER; older builds kept it in
# linux-image-KVER(-unsigned).
_kernels_chroot_fetch_image() {
	local kver=$1 dir tmp debs=/var/cache/bpfcmpdel-debs pkg deb version f

	dir=$(_kernels_image_dir "$kver")
	tmp=$dir.tmp
	# shellcheck disable=SC2016 # dpkg-query's own ${} format
	version=$(_kernels_chroot_q dpkg-query -W -f='${Version}' "linux-headers-$kver") ||
		return 1
	mkdir -p "$KERNELS_CHROOT$debs"
	for pkg in "linux-binary-$kver" "linux-image-$kver-unsigned" "linux-image-$kver"; do
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
		# /usr/lib/modules/KVER/vmlinuz; the cache always has the former, the
		# name tests/vm/run.sh reads KVER from.
		for f in "$tmp/boot/vmlinuz-$kver" "$tmp/usr/lib/modules/$kver/vmlinuz" \
			"$tmp/lib/modules/$kver/vmlinuz"; do
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

_kernels_chroot_provision() {
	local line=$1 kver updated=0 backports pkgs
	local src=$KERNELS_CHROOT/etc/apt/sources.list.d/bpfcmpdel-backports.sources

	_kernels_need_root "provisioning $line" || return 1
	_kernels_chroot_ensure || return 1

	# Backports only inside the chroot, never on the host.
	backports=$KERNELS_SUITE-backports
	if [[ ! -f $src ]]; then
		printf '%s\n' "Types: deb" "URIs: $KERNELS_MIRROR" "Suites: $backports" \
			"Components: main" \
			"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$src"
		_kernels_chroot_update || return 1
		updated=1
	elif [[ $KERNELS_REFRESH == 1 ]]; then
		_kernels_chroot_update || return 1
		updated=1
	fi

	kver=$(_kernels_chroot_newest "$line")
	pkgs=(gcc-14 make dkms kmod "linux-headers-$kver")
	if [[ -z $kver ]] || ! _kernels_chroot_installed "${pkgs[@]}"; then
		if ((!updated)); then
			_kernels_chroot_update || return 1
			kver=$(_kernels_chroot_newest "$line")
		fi
		if [[ -z $kver ]]; then
			_kernels_msg "no linux-headers-$line.*-amd64 in $backports"
			return 1
		fi
		pkgs=(gcc-14 make dkms kmod "linux-headers-$kver")
		if ! _kernels_chroot_installed "${pkgs[@]}"; then
			_kernels_msg "installing ${pkgs[*]} in the chroot"
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
	local line=${1:?kernel_provision LINE}

	case $line in
	6.1 | 6.12) _kernels_locked _kernels_host_provision "$line" ;;
	7) _kernels_locked _kernels_chroot_provision "$line" ;;
	*)
		_kernels_msg "unknown kernel line '$line' (known: $(kernel_lines))"
		return 1
		;;
	esac
}

kernel_image() {
	local kver=${1:?kernel_image KVER} f

	for f in "/boot/vmlinuz-$kver" \
		"$(_kernels_image_dir "$kver")/boot/vmlinuz-$kver" \
		"$KERNELS_CHROOT/boot/vmlinuz-$kver"; do
		if [[ -r $f ]]; then
			echo "$f"
			return 0
		fi
	done
	_kernels_msg "no vmlinuz for $kver (kernel_provision first)"
	return 1
}

# Where KVER's headers are: "host", "chroot", or nothing (return 1).
_kernels_build_env() {
	if [[ -e /lib/modules/$1/build/Makefile ]]; then
		echo host
	elif [[ -e $KERNELS_CHROOT/lib/modules/$1/build/Makefile ]]; then
		echo chroot
	else
		return 1
	fi
}

kernel_dkms_build() {
	local kver=${1:?kernel_dkms_build KVER SOURCETREE DKMSTREE}
	local src=${2:?kernel_dkms_build KVER SOURCETREE DKMSTREE}
	local tree=${3:?kernel_dkms_build KVER SOURCETREE DKMSTREE}
	local env conf name ver link run=() rc=0 ko

	env=$(_kernels_build_env "$kver") || {
		_kernels_msg "no headers for $kver on the host or in $KERNELS_CHROOT (kernel_provision first)"
		return 1
	}
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

	if [[ $env == chroot ]]; then
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
	fi

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
			_kernels_msg "dkms build of $name-$ver for $kver failed ($env)"
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
