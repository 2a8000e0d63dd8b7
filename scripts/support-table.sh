#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# support-table.sh [--readme FILE] KVER=VM_LOG...: the support table
# (docs/support.md), kernel x map type x flags, from the kselftest results
# of a test-matrix run; printed, or with --readme written between FILE's
# support-table markers.  `make support-table` runs it on the last full
# `make check` (--readme docs/support.md): the tests themselves never touch
# a tracked file.
set -euo pipefail

readme=""
if [[ ${1:-} == --readme ]]; then
	readme=${2:?--readme needs a file}
	shift 2
fi

rows=(
	"hash|HASH|preallocated"
	"hash_noprealloc|HASH|BPF_F_NO_PREALLOC"
	"percpu|PERCPU_HASH|preallocated"
	"percpu_noprealloc|PERCPU_HASH|BPF_F_NO_PREALLOC"
	"lru|LRU_HASH|common LRU"
	"lru_nocommon|LRU_HASH|BPF_F_NO_COMMON_LRU"
	"lru_percpu|LRU_PERCPU_HASH|common LRU"
	"lru_percpu_nocommon|LRU_PERCPU_HASH|BPF_F_NO_COMMON_LRU"
	"timer:hash|HASH + bpf_timer|preallocated"
	"timer:hash_noprealloc|HASH + bpf_timer|BPF_F_NO_PREALLOC"
	"timer:lru_hash|LRU_HASH + bpf_timer|common LRU"
	"global|ioctl ABI, lock/tombstone/one-CPU modes, permissions, LSM, GC race, library|-"
	"kfunc|kfuncs (delete, update, sweep; by map on 6.12+, by handle everywhere): syscall, XDP, tc, iterator, timer, fentry|-"
)

# "pass (N)" when every test of that group passed, "FAIL (k of N)"
# otherwise, "skip (N: why)" when none ran; ", skip (N)" for those that
# did not run beside some that did.
cell() {	# cell LOG GROUP
	local log=$1 group=$2 fixture=hash variant pass fail skip

	case $group in
	timer:*) fixture=timer variant=${group#timer:} ;;
	global | kfunc) fixture=$group variant="" ;;
	*) variant=$group ;;
	esac
	read -r pass fail skip < <(tr -d '\r' <"$log" | awk -v fx="$fixture" -v v="$variant" '
		/^@@BIN-BEGIN / { inbin = $2 ~ /^(bpfcmpdel_test|lib_test)@@$/ }
		# A skipped result line carries the reason, not the name.
		inbin && /^# +RUN +/ { run = $3 }
		inbin && /^(not )?ok [0-9]+ / {
			skipped = $0 ~ /# SKIP/
			name = $0; sub(/^(not )?ok [0-9]+ /, "", name); sub(/ .*/, "", name)
			if (skipped) name = run
			n = split(name, p, ".")
			if (p[1] != "hash" && p[1] != "timer") p[1] = "global"
			if (p[1] == "global" && p[2] ~ /^kfunc/) p[1] = "kfunc"
			if (p[1] != fx) next
			if (fx != "global" && fx != "kfunc") {
				var = p[2]
				if (fx == "hash") sub(/_key[0-9]+$/, "", var)
				if (var != v) next
			}
			if ($1 == "not") fail++; else if (skipped) skip++; else pass++
		}
		END { print pass + 0, fail + 0, skip + 0 }')
	if ((pass + fail + skip == 0)); then
		echo "not run"
	elif ((pass + fail == 0)); then
		echo "skip ($skip: kernel refuses)"
	elif ((fail == 0 && skip == 0)); then
		echo "pass ($pass)"
	elif ((fail == 0)); then
		echo "pass ($pass), skip ($skip)"
	else
		echo "**FAIL** ($fail of $((pass + fail)))"
	fi
}

header="| map type | flags |"
sep="|---|---|"
for arg; do
	kver=${arg%%=*}
	log=${arg#*=}
	release=$(tr -d '\r' <"$log" | sed -n 's/^# guest kernel: [^ ]* .*Debian \([^ ]*\) .*/\1/p' | head -n 1)
	header+=" $kver${release:+ ($release)} |"
	sep+="---|"
done
table() {
echo "$header"
echo "$sep"
for row in "${rows[@]}"; do
	IFS='|' read -r group type flags <<<"$row"
	# Map type names in backticks: HASH, LRU_HASH, bpf_timer, ...
	# shellcheck disable=SC2001,SC2016 # a regex, and literal backticks
	line="| $(sed 's/[A-Za-z_]*_[A-Za-z_]*\|HASH/`&`/g' <<<"$type") | $flags |"
	[[ $group != global ]] || line="| $type | $flags |"
	for arg; do
		line+=" $(cell "${arg#*=}" "$group") |"
	done
	echo "$line"
done
}

if [[ -z $readme ]]; then
	table "$@"
	exit 0
fi
grep -q '<!-- support-table:begin -->' "$readme" || {
	echo "support-table: no markers in $readme" >&2
	exit 1
}
table "$@" >"$readme.table"
awk -v table="$readme.table" '
	/<!-- support-table:end -->/ { skip = 0 }
	!skip { print }
	/<!-- support-table:begin -->/ {
		while ((getline l < table) > 0) print l
		skip = 1
	}' "$readme" >"$readme.new" && mv "$readme.new" "$readme"
rm -f "$readme.table"
