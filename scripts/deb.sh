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
# shellcheck source=scripts/deb-chroot.sh
. "$top/scripts/deb-chroot.sh"

msg() {
	echo "deb: $*" >&2
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
	_kernels_locked deb_base_prepare "$run" || return 1

	KERNELS_CHROOT=$run
	copy_source "$run$srcdir"
	# The downloads outlive the copy; root downloads into a root-owned cache.
	printf '%s\n' "Dir::Cache::Archives \"$debs/\";" 'APT::Sandbox::User "root";' \
		'APT::Install-Recommends "false";' >"$run/etc/apt/apt.conf.d/90deb-build"

	msg "$suite: installing the Build-Depends, building (log: $log)"
	{
		deb_in_chroot "$srcdir" apt-get -q -y -o Dpkg::Use-Pty=0 build-dep ./ &&
			deb_in_chroot "$srcdir" env DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" \
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
	deb_in_chroot /build apt-get -q -y -o Dpkg::Use-Pty=0 install lintian >>"$log" 2>&1 || {
		tail -n 20 "$log" | sed 's/^/deb: /' >&2
		msg "$suite: installing lintian failed"
		return 1
	}
	# Not as root, which lintian advises against.
	# shellcheck disable=SC2016 # expanded by the inner sh
	deb_in_chroot /build setpriv --reuid=nobody --regid=nogroup --clear-groups \
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
trap deb_cleanup EXIT
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
