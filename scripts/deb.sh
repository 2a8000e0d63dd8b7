#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make deb: the Debian packages described in debian/, built for each suite
# in DEB_SUITES (default "bookworm trixie") with `dpkg-buildpackage -us -uc
# -b` in a clean chroot of that suite, then checked with that suite's
# lintian (no error, no warning that debian/*.lintian-overrides does not
# explain).  Results land in build/deb/SUITE/, with build.log and
# lintian.txt.
#
# Each suite has a pristine minbase chroot under $KERNELS_CACHE/deb-build/
# (debootstrapped once by kernels.sh's helpers, from the host apt's mirror,
# with the same apt sources as the kernel chroots); it is refreshed, then
# copied for every build, and only the copy ever gets the Build-Depends
# (`apt-get build-dep ./`) and, after the build, lintian.  The copy is
# removed afterwards; downloaded .debs are kept next to the base chroot.
# The source is the work tree as git sees it (tracked and untracked files,
# not ignored ones: no build products), uncommitted changes included.
# DEB_KEEP=1 keeps the build copies for inspection (remove them by hand).
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

suites=${DEB_SUITES:-bookworm trixie}
deb_cache=$KERNELS_CACHE/deb-build
run_dirs=()

msg() {
	echo "deb: $*" >&2
}

# Removes the build copies, once nothing is mounted in them any more.
cleanup() {
	local run

	for run in "${run_dirs[@]}"; do
		[[ -d $run ]] || continue
		if [[ ${DEB_KEEP:-0} == 1 ]]; then
			msg "DEB_KEEP=1: the build chroot $run is kept"
			continue
		fi
		_kernels_unmount_under "$run"
		if [[ -n $(findmnt -rn -o TARGET | awk -v p="$run/" 'index($0, p) == 1') ]]; then
			msg "something is still mounted under $run; not removing it"
			continue
		fi
		rm -rf --one-file-system "$run"
	done
}

# Under the lock: the suite's base chroot made (once) and brought up to
# date, then copied to RUN.  Acts on $KERNELS_CHROOT of $KERNELS_SUITE.
base_prepare() {
	local run=$1 want want_conf
	local src=$KERNELS_CHROOT/etc/apt/sources.list.d/bpfcmpdel.sources
	local conf=$KERNELS_CHROOT/etc/apt/apt.conf.d/99bpfcmpdel
	local log=$deb_cache/base-$KERNELS_SUITE.log

	_kernels_chroot_ensure || return 1
	want=$(_kernels_chroot_sources) || {
		msg "the host's apt has no Debian archive to take sources from"
		return 1
	}
	want_conf=$(_kernels_chroot_apt_conf)
	_kernels_put "$src" "$want" && _kernels_put "$conf" "$want_conf" || return 1
	msg "$KERNELS_SUITE: refreshing the base chroot $KERNELS_CHROOT (log: $log)"
	{
		_kernels_chroot apt-get -q update &&
			_kernels_chroot apt-get -q -y -o Dpkg::Use-Pty=0 dist-upgrade &&
			_kernels_chroot apt-get -q clean
	} >"$log" 2>&1 || {
		tail -n 20 "$log" | sed 's/^/deb: /' >&2
		msg "$KERNELS_SUITE: apt-get in the base chroot failed"
		return 1
	}
	cp -a "$KERNELS_CHROOT/." "$run/"
}

# The source tree, without build products, into DIR.
copy_source() {
	local dir=$1 f

	mkdir -p "$dir"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		if [[ -n $(git -C "$top" status --porcelain --untracked-files=normal) ]]; then
			msg "the work tree has uncommitted changes; building it as it is"
		fi
		(
			cd "$top"
			git ls-files -z --cached --others --exclude-standard |
				while IFS= read -r -d '' f; do
					# Deleted but not yet committed: not there.
					[[ -e $f || -L $f ]] && printf '%s\0' "$f"
				done |
				tar --null --no-recursion -T - -cf -
		) | tar -xf - -C "$dir"
	else
		tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$dir"
	fi
}

# Runs CMD in $KERNELS_CHROOT with the apt archive cache mounted, in DIR.
in_chroot() {
	local dir=$1

	shift
	# shellcheck disable=SC2016 # expanded by the inner sh
	_kernels_chroot --bind "$debs" -- sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$@"
}

# Builds and lints one suite's packages in a copy of its base chroot.
build_suite() {
	local suite=$1 start=$SECONDS run out log changes counts
	local KERNELS_CACHE=$deb_cache KERNELS_SUITE=$suite KERNELS_CHROOT=$deb_cache/$suite
	local debs=$deb_cache/$suite-debs srcdir=/build/bpfcmpdel-$pkg_version

	out=$build/deb/$suite
	log=$out/build.log
	rm -rf "$out" && mkdir -p "$out" "$debs/partial"
	run=$(mktemp -d "$deb_cache/$suite-run.XXXXXX")
	run_dirs+=("$run")
	_kernels_locked base_prepare "$run" || return 1

	KERNELS_CHROOT=$run
	copy_source "$run$srcdir"
	# The downloads outlive the copy; root downloads into a root-owned cache.
	printf '%s\n' "Dir::Cache::Archives \"$debs/\";" 'APT::Sandbox::User "root";' \
		'APT::Install-Recommends "false";' >"$run/etc/apt/apt.conf.d/90deb-build"

	msg "$suite: installing the Build-Depends, building (log: $log)"
	{
		in_chroot "$srcdir" apt-get -q -y -o Dpkg::Use-Pty=0 build-dep ./ &&
			in_chroot "$srcdir" env DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" \
				dpkg-buildpackage -us -uc -b
	} >"$log" 2>&1 || {
		tail -n 40 "$log" | sed 's/^/deb: /' >&2
		msg "$suite: the build failed; see $log"
		return 1
	}
	find "$run/build" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' -o \
		-name '*.changes' -o -name '*.buildinfo' \) -exec cp -t "$out" {} +
	changes=$(cd "$out" && echo bpfcmpdel_*.changes)

	msg "$suite: lintian on $changes"
	in_chroot /build apt-get -q -y -o Dpkg::Use-Pty=0 install lintian >>"$log" 2>&1 || {
		tail -n 20 "$log" | sed 's/^/deb: /' >&2
		msg "$suite: installing lintian failed"
		return 1
	}
	# Not as root, which lintian advises against.
	# shellcheck disable=SC2016 # expanded by the inner sh
	in_chroot /build setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env HOME=/tmp sh -c 'lintian --version && exec lintian --fail-on error,warning \
		--display-info --show-overrides "$1"' sh "$changes" >"$out/lintian.txt" 2>&1 ||
		lintian_failed+=("$suite")
	sed 's/^/  /' "$out/lintian.txt" >&2
	counts=$(awk -F: '/^[EWIPXO]: / { n[$1]++ }
		END { printf "%d errors, %d warnings, %d info, %d overridden",
			n["E"], n["W"], n["I"], n["O"] }' "$out/lintian.txt")
	msg "$suite: lintian: $counts"
	msg "$suite: $(cd "$out" && find . -maxdepth 1 -name '*.deb' -printf '%f ')"
	msg "$suite: done in $((SECONDS - start))s, in $out"
}

_kernels_need_root "make deb" || exit 1
mkdir -p "$deb_cache"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

lintian_failed=()
for suite in $suites; do
	build_suite "$suite" || {
		msg "$suite: failed"
		exit 1
	}
done
if ((${#lintian_failed[@]})); then
	msg "lintian found errors or warnings for: ${lintian_failed[*]}"
	exit 1
fi
msg "all done in ${SECONDS}s: $(for s in $suites; do printf '%s ' "build/deb/$s"; done)"
