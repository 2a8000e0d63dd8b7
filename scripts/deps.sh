#!/usr/bin/env bash
# Install everything a fresh Debian bookworm machine lacks to build the module,
# the library, and run the QEMU-based module tests, and the packages named
# as arguments (what one target needs alone) -- build tools only: kernel
# images and headers go into the project's cache (scripts/kernels.sh).
# Idempotent: when every package is already installed it touches nothing (no
# apt-get update either, so it is cheap to call from CI on every run).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

packages=(
	qemu-system-x86 busybox-static
	libbpf-dev libelf-dev zlib1g-dev
	clang llvm bpftool dkms debootstrap linux-source-6.1 sparse shellcheck cppcheck
	cpio gcc make pkg-config xz-utils
	# Not always on a minimal image: static libc for the VM's binaries,
	# modinfo for run.sh, full perl for checkpatch, keys for debootstrap.
	libc6-dev kmod perl binutils debian-archive-keyring
	# The Go package, built offline against Debian's Go packages.
	golang-go golang-github-cilium-ebpf-dev golang-golang-x-sys-dev
	# And what a caller needs besides (make bench: gnuplot-nox).
	"$@"
)

missing=()
for pkg in "${packages[@]}"; do
	# dpkg-query exits non-zero for never-seen packages; a removed-but-configured
	# package reports a status other than "install ok installed", so check both.
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "deps: installing: ${missing[*]}" >&2

# apt/dpkg need root; use sudo only when not already root so CI (root) works
# without sudo installed.
sudo=()
if ((EUID != 0)); then
	sudo=(sudo)
fi

"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
