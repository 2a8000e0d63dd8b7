#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make demo: installs what is missing, builds the module with DKMS for
# Debian's kernel, boots that kernel under QEMU and runs tools/demo.c.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$top/scripts/deps.sh"
kver=$(kernel_provision "${KERNEL:-6.1}")
mkdir -p "$build"

echo "demo: building the module with dkms for $kver"
ko=$(dkms_build_module "$kver" 2>"$build/dkms.log") || {
	cat "$build/dkms.log" >&2
	exit 1
}
build_lib
build_static "$build/bpfcmpdel-demo" "$top/tools/demo.c"

echo "demo: booting $kver under QEMU (TCG), loading $(basename "$ko")"
"$top/tests/vm/run.sh" --kernel "$(kernel_image "$kver")" --ko "$ko" \
	--bin "$build/bpfcmpdel-demo" --cmd bpfcmpdel-demo --timeout 300 |
	tr -d '\r' | awk '/bpfcmpdel: ready/ && !seen++ { print; print "" }
			  /^bpfcmpdel demo on/, /^demo /'
