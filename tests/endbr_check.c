// SPDX-License-Identifier: GPL-2.0
/*
 * endbr_check SYMBOL...: for each kernel function the module calls, read
 * from the running kernel's text (/proc/kcore) whether it starts with a
 * live ENDBR64, and where the module's static-call trampoline for it,
 * __SCT__bpfcmpdel_SYMBOL, branches.  Prints
 *   SYMBOL endbr=yes|no tramp=direct-jmp|other
 * and exits non-zero unless every trampoline is a direct JMP to exactly
 * SYMBOL's address: then no path into the target depends on its ENDBR.
 */
#include <stdlib.h>

#include "kcore.h"

static const unsigned char endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* Whether the 5 bytes at @tramp are "jmp rel32" landing on @target. */
static int tramp_jumps_to(uint64_t tramp, uint64_t target)
{
	unsigned char insn[5];
	int32_t rel;

	if (kcore_read(tramp, insn, sizeof(insn)) || insn[0] != 0xe9)
		return 0;
	memcpy(&rel, insn + 1, sizeof(rel));
	return tramp + sizeof(insn) + rel == target;
}

int main(int argc, char **argv)
{
	char tramp_name[256];
	unsigned char insn[4];
	uint64_t addr, tramp;
	int i, ret = 0;

	for (i = 1; i < argc; i++) {
		addr = kallsyms_addr(argv[i], "Tt", "");
		snprintf(tramp_name, sizeof(tramp_name), "__SCT__bpfcmpdel_%s", argv[i]);
		tramp = kallsyms_addr(tramp_name, "Tt", "bpfcmpdel");
		if (!addr || !tramp || kcore_read(addr, insn, sizeof(insn))) {
			fprintf(stderr, "%s: cannot read it or its trampoline\n", argv[i]);
			ret = 2;
			continue;
		}
		printf("%s endbr=%s tramp=%s\n", argv[i],
		       memcmp(insn, endbr64, 4) ? "no" : "yes",
		       tramp_jumps_to(tramp, addr) ? "direct-jmp" : "other");
		if (!tramp_jumps_to(tramp, addr))
			ret = 1;
	}
	return ret;
}
