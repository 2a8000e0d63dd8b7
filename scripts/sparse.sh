#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# sparse.sh KVER: builds the module with sparse (C=2) against KVER's headers
# in the project's kernel cache, from a copy of the tree, and fails on any
# warning.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

kver=${1:?sparse.sh KVER}
src=$build/sparse
rm -rf "$src"
mkdir -p "$src"
copy_module_source "$src"
cd "$src/module"
kernel_chroot_run "$kver" "$src" make -s KDIR="/lib/modules/$kver/build" sparse \
	>"$build/sparse.log" 2>&1 || { cat "$build/sparse.log"; exit 1; }
if grep -E 'warning|error' "$build/sparse.log"; then
	exit 1
fi
