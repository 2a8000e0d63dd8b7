# SPDX-License-Identifier: GPL-2.0
# Shared by check.sh and demo.sh: where things are built, which kernel the
# VM boots, and how the module, library and test binaries are built for it.
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$top/build}
pkg_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")

# shellcheck source=scripts/kernels.sh
. "$top/scripts/kernels.sh"

# kselftest_harness.h from Debian's kernel source, never from the repo.
ksft_headers() {
	local dir=$build/ksft

	if [[ ! -f $dir/kselftest_harness.h ]]; then
		mkdir -p "$dir"
		tar -xf /usr/src/linux-source-6.1.tar.xz -C "$dir" --strip-components=4 \
			--wildcards '*/tools/testing/selftests/kselftest_harness.h' \
			'*/tools/testing/selftests/kselftest.h'
	fi
	echo "$dir"
}

# Builds the module with real `dkms build` for @kver in a private DKMS
# tree, so the host's own DKMS state is left alone (for 7.x inside the
# trixie chroot); prints the path of the built .ko.
dkms_build_module() {
	local kver=$1 src=$build/dkms/source
	local dst=$src/bpfcmpdel-$pkg_version

	rm -rf "$src"
	mkdir -p "$dst"
	copy_module_source "$dst"
	kernel_dkms_build "$kver" "$src" "$build/dkms/tree-$kver"
}

# What DKMS ships: dkms.conf, module/ and uapi/, without a developer's build
# products (built for whatever kernel, they must not leak into another's).
copy_module_source() {
	cp -r "$top/dkms.conf" "$top/module" "$top/uapi" "$1/"
	find "$1/module" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o \
		-name '*.mod' -o -name '*.mod.c' -o -name 'modules.order' -o \
		-name 'Module.symvers' \) -delete
}

# BPF programs the tests load, as libbpf skeletons in $build.
build_bpf_skeletons() {
	local src obj name

	for src in "$top"/tests/bpf/*.bpf.c "$top"/bench/*.bpf.c; do
		name=$(basename "$src" .bpf.c)
		obj=$build/$name.bpf.o
		clang -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -O2 -g -Wall -I/usr/include/x86_64-linux-gnu -I"$top/uapi" \
			-c "$src" -o "$obj"
		bpftool gen skeleton "$obj" name "${name}_bpf" >"$build/$name.skel.h"
	done
}

# Static binaries: the VM has no libraries.  The kselftest harness
# compares int literals with unsigned results, hence -Wno-sign-compare.
build_static() {
	local out=$1 ksft

	shift
	ksft=$(ksft_headers)
	cc -static -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
		-DBPFCMPDEL_CLI_VERSION="\"$pkg_version\"" -I"$ksft" -I"$build" -I"$top/lib/include" -I"$top/tests/bpf" -I"$top/demo" -I"$top/bench" \
		-I"$top/uapi" -o "$out" "$@" "$top/lib/libbpfcmpdel.a" \
		-lbpf -lelf -lz -lpthread 2> >(grep -v 'statically linked applications' >&2)
}

# What every guest runs (tests/vm/guest-tests.sh), built as make check and
# make check-debug both boot it: one static binary per test program.
build_guest_bins() {
	build_static "$build/bpfcmpdel_test" "$top/tests/bpfcmpdel_test.c" "$top/demo/ctsim.c" &&
		build_static "$build/bigvalues_test" "$top/tests/bigvalues_test.c" &&
		build_static "$build/lib_test" "$top/tests/lib_test.c" &&
		build_static "$build/bpfcmpdel" "$top/cli/bpfcmpdel.c" &&
		build_static "$build/cli_test" "$top/tests/cli_test.c" &&
		build_static "$build/fuzz" "$top/tests/fuzz.c" &&
		build_static "$build/stress" "$top/tests/stress.c" "$top/demo/ctsim.c" &&
		build_static "$build/faults" "$top/tests/faults.c" &&
		cc -static -O2 -Wall -Wextra -Werror -o "$build/endbr_check" \
			"$top/tests/endbr_check.c" &&
		build_go_test
}

# The guest's files, as tests/vm/run.sh arguments.
guest_bin_args() {
	local f

	for f in bpfcmpdel_test bigvalues_test lib_test endbr_check cli_test \
		bpfcmpdel fuzz stress faults go_test ct.bpf.o; do
		printf '%s\n' --bin "$build/$f"
	done
	printf '%s\n' --bin "$top/tests/vm/guest-tests.sh" --bin "$top/tests/vm/go2tap.awk"
}

# Go, offline: Debian's golang-* packages in GOPATH mode, the package's
# import path laid out under $build/gopath by a link to go/.
go_env() {
	local gopath=$build/gopath dir=$build/gopath/src/github.com/bpfcmpdel/bpfcmpdel

	mkdir -p "$dir" && ln -sfn "$top/go" "$dir/go"
	env GO111MODULE=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" \
		GOCACHE="$build/gocache" GOTOOLCHAIN=local "$@"
}

# The Go package's directory, as the GOPATH sees it.
go_pkg_dir() {
	echo "$build/gopath/src/github.com/bpfcmpdel/bpfcmpdel/go/bpfcmpdel"
}

# The Go package's tests as one static binary (no cgo) for the guests.
build_go_test() {
	go_env true && (cd "$(go_pkg_dir)" && go_env CGO_ENABLED=0 go test -c -o "$build/go_test" .)
}

# go vet and gofmt, as make style runs them: no finding, no unformatted file.
go_style() {
	local unformatted

	go_env true && (cd "$(go_pkg_dir)" && go_env go vet .) || return
	unformatted=$(gofmt -l "$top/go")
	[[ -z $unformatted ]] || {
		echo "gofmt: not formatted: $unformatted" >&2
		return 1
	}
}

# Warnings are errors for the project's own builds, never for users'.
build_lib() {
	make -s -C "$top/lib" CFLAGS="-O2 -g -Werror" >&2
}

# The module's BTF reader on the host, under AddressSanitizer.
build_btf_reader_test() {
	local ksft

	ksft=$(ksft_headers)
	cc -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
		-fsanitize=address,undefined -fno-sanitize-recover=all -I"$ksft" \
		-o "$build/btf_reader_test" "$top/tests/btf_reader_test.c" -lbpf
}

# What make bench and make profile boot: the module for the line KERNEL
# (default 6.1) and cmpdel_bench, built; sets kver and ko.
bench_build() {
	"$top/scripts/deps.sh" gnuplot-nox
	kver=$(kernel_provision "${KERNEL:-6.1}")
	mkdir -p "$build/logs"
	ko=$(dkms_build_module "$kver" 2>"$build/logs/dkms-bench.log") || {
		cat "$build/logs/dkms-bench.log" >&2
		return 1
	}
	build_lib
	build_bpf_skeletons
	build_static "$build/cmpdel_bench" "$top/bench/cmpdel_bench.c"
	build_go_test
}
