// SPDX-License-Identifier: GPL-2.0
/*
 * Regression tests for /dev/bpfcmpdel, run inside a VM with the module
 * loaded.  Each test skips when the device is absent.
 *
 * One translation unit: kselftest_harness.h keeps its list of tests in
 * static variables, so the feature files are #included here, after what
 * they share (bpfcmpdel_test.h), and never compiled on their own.
 */
#include "bpfcmpdel_test.h"

#include "cmpdel_modes.c"
#include "cmpdel_race.c"
#include "cmpdel_security.c"
#include "cmpdel_abi.c"
#include "cmpdel_batch.c"
#include "cmpdel_sweep.c"
#include "cmpdel_cas.c"
#include "cmpdel_edges.c"
#include "cmpdel_stats.c"
#include "cmpdel_kfunc.c"

TEST_HARNESS_MAIN
