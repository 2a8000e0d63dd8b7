// SPDX-License-Identifier: GPL-2.0
/*
 * endbr_check SYMBOL...: prints "SYMBOL yes|no" for whether the running
 * kernel's text starts SYMBOL with a live ENDBR64, read from /proc/kcore.
 * The VM tests hold the module's own per-target claims against this.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const unsigned char endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

static uint64_t symbol_address(const char *name)
{
	char line[512], sym[256], type;
	unsigned long long addr;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 &&
		    (type == 'T' || type == 't') && !strcmp(sym, name) &&
		    !strchr(line, '[')) {
			fclose(f);
			return addr;
		}
	}
	fclose(f);
	return 0;
}

/* Reads @len bytes of kernel memory at @addr through /proc/kcore's segments. */
static int kcore_read(int fd, uint64_t addr, void *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int i;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		return -1;
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) != sizeof(ph))
			return -1;
		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr ||
		    addr + len > ph.p_vaddr + ph.p_memsz)
			continue;
		return pread(fd, buf, len, ph.p_offset + addr - ph.p_vaddr) == (ssize_t)len ? 0 : -1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	unsigned char insn[4];
	uint64_t addr;
	int fd, i, ret = 0;

	fd = open("/proc/kcore", O_RDONLY);
	if (fd < 0) {
		perror("/proc/kcore");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		addr = symbol_address(argv[i]);
		if (!addr || kcore_read(fd, addr, insn, sizeof(insn))) {
			fprintf(stderr, "%s: cannot read its first instruction\n", argv[i]);
			ret = 2;
			continue;
		}
		printf("%s %s\n", argv[i], memcmp(insn, endbr64, 4) ? "no" : "yes");
	}
	close(fd);
	return ret;
}
