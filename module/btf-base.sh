#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# btf-base.sh KVER DIR [IMAGE]: prints the BTF that pahole takes as base
# for a module of kernel KVER, or nothing if there is none: the running
# kernel's /sys/kernel/btf/vmlinux when KVER is running, else the vmlinux
# inside IMAGE (default /boot/vmlinuz-KVER), decompressed into DIR.  For
# a kernel installed but not yet booted, which is what DKMS builds for
# after an upgrade.  Needs the tool the image was packed with.
set -eu
kver=$1 dir=$2 image=${3:-/boot/vmlinuz-$1}

if [ $# -lt 3 ] && [ "$kver" = "$(uname -r)" ] && [ -r /sys/kernel/btf/vmlinux ]; then
	echo /sys/kernel/btf/vmlinux
	exit 0
fi
[ -r "$image" ] || exit 0
out=$dir/vmlinux-btf-base

# unpack MAGIC CMD...: the first payload behind MAGIC that CMD unpacks to ELF.
unpack() {
	magic=$1
	shift
	command -v "$1" >/dev/null || return 1
	LC_ALL=C grep -aboP "$magic" "$image" | cut -d: -f1 | {
		while read -r off; do
			tail -c "+$((off + 1))" "$image" | "$@" >"$out" 2>/dev/null || true
			if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				return 0
			fi
		done
		return 1
	}
}

# As the kernel packed it (CONFIG_KERNEL_*): Debian's 6.1 in xz, its cloud
# flavour in lz4 (the legacy frame), 6.12 and later in zstd.
if unpack '\xFD7zXZ\x00' xz -dc --single-stream ||
	unpack '\x28\xB5\x2F\xFD' zstd -dcq ||
	unpack '\x02\x21\x4C\x18' lz4 -dcq ||
	unpack '\x1F\x8B\x08' gzip -dcq; then
	echo "$out"
else
	rm -f "$out"
fi
