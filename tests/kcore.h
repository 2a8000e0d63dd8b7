/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the running kernel from inside the test VM: symbol addresses
 * from /proc/kallsyms, memory from /proc/kcore.
 */
#ifndef _BPFCMPDEL_TESTS_KCORE_H
#define _BPFCMPDEL_TESTS_KCORE_H

#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Address of @name, of one of the kallsyms @types ("Tt" for text), in
 * @module ("" for the kernel itself); 0 if there is none.
 */
static inline uint64_t kallsyms_addr(const char *name, const char *types,
				     const char *module)
{
	char line[512], sym[256], mod[64], type;
	unsigned long long addr;
	FILE *f = fopen("/proc/kallsyms", "r");
	int n;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		mod[0] = '\0';
		n = sscanf(line, "%llx %c %255s [%63[^]]]", &addr, &type, sym, mod);
		if (n < 3 || !strchr(types, type) || strcmp(sym, name) ||
		    strcmp(mod, module))
			continue;
		fclose(f);
		return addr;
	}
	fclose(f);
	return 0;
}

/* Reads @len bytes of kernel memory at @addr through /proc/kcore. */
static inline int kcore_read(uint64_t addr, void *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, i, ret = -1;

	fd = open("/proc/kcore", O_RDONLY);
	if (fd < 0)
		return -1;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		goto out;
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) != sizeof(ph))
			goto out;
		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr ||
		    addr + len > ph.p_vaddr + ph.p_memsz)
			continue;
		if (pread(fd, buf, len, ph.p_offset + addr - ph.p_vaddr) == (ssize_t)len)
			ret = 0;
		break;
	}
out:
	close(fd);
	return ret;
}

/*
 * lockdown=confidentiality closes /proc/kcore and bpf_probe_read_kernel()
 * to everyone: tests that read the kernel that way cannot run there (the
 * module itself is unaffected).  Needs securityfs mounted.
 */
static inline int lockdown_confidential(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/security/lockdown", O_RDONLY);

	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return strstr(buf, "[confidentiality]") != NULL;
}

#define LOCKDOWN_CONFIDENTIAL_WHY \
	"lockdown=confidentiality closes /proc/kcore and bpf_probe_read_kernel()"

#endif /* _BPFCMPDEL_TESTS_KCORE_H */
