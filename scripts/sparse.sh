#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# sparse.sh KVER...: builds the module with sparse (C=2) against each
# KVER's headers in the project's kernel cache, from a copy of the tree, and
# fails on any warning.  Two generations cover every file: 6.1 (its own
# compat branches) and a 6.12+ one, whose headers give the module BTF and
# so build kfunc.c.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

(($#)) || { echo "usage: sparse.sh KVER..." >&2; exit 2; }
for kver; do
	src=$build/sparse
	rm -rf "$src"
	mkdir -p "$src"
	copy_module_source "$src"
	(cd "$src/module" &&
		kernel_chroot_run "$kver" "$src" make -s KDIR="/lib/modules/$kver/build" sparse) \
		>"$build/sparse.log" 2>&1 || { cat "$build/sparse.log"; exit 1; }
	if grep -E 'warning|error' "$build/sparse.log"; then
		echo "sparse: $kver" >&2
		exit 1
	fi
done
