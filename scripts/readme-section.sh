#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# readme-section.sh DOC NAME FILE: replaces what stands between DOC's
# <!-- NAME:begin --> and <!-- NAME:end --> markers with FILE.
# `make bench-table` fills docs/benchmarks.md's bench section.
set -euo pipefail

readme=${1:?readme-section.sh DOC NAME FILE} name=${2:?} file=${3:?}
grep -q "<!-- $name:begin -->" "$readme" || {
	echo "readme-section: no $name markers in $readme" >&2
	exit 1
}
awk -v begin="<!-- $name:begin -->" -v end="<!-- $name:end -->" -v file="$file" '
	$0 == end { skip = 0 }
	!skip { print }
	$0 == begin {
		while ((getline l < file) > 0) print l
		skip = 1
	}' "$readme" >"$readme.new"
mv "$readme.new" "$readme"
