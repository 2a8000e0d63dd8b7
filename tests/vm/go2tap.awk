# SPDX-License-Identifier: GPL-2.0
# A Go test binary's -test.v output as TAP: each top-level test's verdict
# one TAP line, everything else a comment, the plan last.  Whether the
# binary ran to the end is its exit status, which the caller frames.
/^--- (PASS|FAIL|SKIP): / {
	n++
	verdict = $2
	name = $3
	if (verdict == "FAIL:")
		print "not ok " n " " name
	else if (verdict == "SKIP:")
		print "ok " n " " name " # SKIP"
	else
		print "ok " n " " name
	next
}
{ print "# " $0 }
END { print "1.." n }
