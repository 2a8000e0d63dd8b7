# SPDX-License-Identifier: GPL-2.0
# The throwaway suite chroots of make deb and of make check's package step:
# a pristine minbase chroot per suite under $KERNELS_CACHE/deb-build/,
# refreshed and copied for each use; only copies are ever changed.  Callers
# define msg() and, per suite, KERNELS_CACHE=$deb_cache, KERNELS_SUITE,
# KERNELS_CHROOT and debs (the suite's kept .deb downloads).
# shellcheck shell=bash
# shellcheck disable=SC2154 # debs: the caller's, per suite

deb_cache=$KERNELS_CACHE/deb-build
run_dirs=()

# Removes the build copies, once nothing is mounted in them any more.
deb_cleanup() {
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
deb_base_prepare() {
	local run=$1 want want_conf
	local src=$KERNELS_CHROOT/etc/apt/sources.list.d/bpfcmpdel.sources
	local conf=$KERNELS_CHROOT/etc/apt/apt.conf.d/99bpfcmpdel
	local log=$deb_cache/base-$KERNELS_SUITE.log
	local stamp=$deb_cache/base-$KERNELS_SUITE.refreshed

	_kernels_chroot_ensure || return 1
	want=$(_kernels_chroot_sources) || {
		msg "the host's apt has no Debian archive to take sources from"
		return 1
	}
	want_conf=$(_kernels_chroot_apt_conf)
	_kernels_put "$src" "$want" && _kernels_put "$conf" "$want_conf" || return 1
	# One refresh an hour is enough: make check builds, then installs.
	if [[ -n $(find "$stamp" -mmin -60 2>/dev/null) ]]; then
		cp -a "$KERNELS_CHROOT/." "$run/"
		return
	fi
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
	touch "$stamp"
	cp -a "$KERNELS_CHROOT/." "$run/"
}

# Runs CMD in $KERNELS_CHROOT with the apt archive cache mounted, in DIR.
deb_in_chroot() {
	local dir=$1

	shift
	# shellcheck disable=SC2016 # expanded by the inner sh
	_kernels_chroot --bind "$debs" -- sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$@"
}

