# SPDX-License-Identifier: GPL-2.0
# Reads a log of test binaries' TAP output, each framed by
#   @@BIN-BEGIN NAME@@ ... @@BIN-END NAME STATUS@@
# and prints one normalized line per result ("ok - P: NAME: TEST",
# "ok - P: ... # SKIP", "not ok - P: ..."), plus one per binary saying
# whether it ran its whole plan and exited 0.  A binary that crashed, hung
# or exited early fails here by name, whatever its lines said.  P is the
# -v prefix.
function fail(what) { print "not ok - " prefix ": " what; bad = 1 }
function finish_bin(status) {
	if (plan < 0)
		fail(bin ": no TAP plan (1..N)")
	else if (seen != plan)
		fail(bin ": planned " plan " tests, " seen " reported")
	else if (status != 0)
		fail(bin ": exited with status " status)
	else
		print "ok - " prefix ": " bin ": whole plan run, exit 0"
	inbin = 0
}
{ sub(/\r$/, "") }
/^@@BIN-BEGIN [^ ]+@@$/ {
	if (inbin)
		finish_bin("none (a new binary started)")
	bin = $2; sub(/@@$/, "", bin)
	inbin = 1; plan = -1; seen = 0; found = 1
	next
}
/^@@BIN-END [^ ]+ [0-9]+@@$/ {
	status = $3; sub(/@@$/, "", status)
	if (inbin)
		finish_bin(status + 0)
	next
}
inbin && /^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }
inbin && /^(not )?ok [0-9]+ / {
	seen++
	line = $0
	if (line ~ /^not ok /) {
		sub(/^not ok [0-9]+ /, "", line)
		fail(bin ": " line)
	} else {
		sub(/^ok [0-9]+ /, "", line)
		print "ok - " prefix ": " bin ": " line
	}
}
END {
	if (inbin)
		fail(bin ": did not finish (crashed, hung or killed)")
	if (!found)
		fail("no test binary ran")
	exit bad
}
