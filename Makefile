# SPDX-License-Identifier: GPL-2.0
#
#   make                 module (for KVER/KDIR, default: running kernel),
#                        library and the bpfcmpdel command
#   make demo            install what is missing, run the demo in a VM
#   make check           install what is missing, run every test
#   make bench           compare-delete next to plain delete, in a VM
#   make profile         perf profile of a GC pass (sweep, Calico-style), in a VM
#   make fuzz            the ioctl fuzzer's long run (a million requests) in VMs
#   make check-debug     the suite, fuzzer and stress test on debug kernels
#                        built from Debian's sources (once, cached): KASAN,
#                        lockdep, fault injection and kmemleak; KCSAN
#   make soak            DURATION (3600) s of stress and fuzzing on the
#                        6.1 fault-injection kernel, then its invariants
#   make bench-table     docs/benchmarks.md's tables and plots, from the last bench
#   make support-table   docs/support.md's table, from the last full check
#   make style           checkpatch and sparse on the module, shellcheck,
#                        cppcheck, go vet and gofmt
#   make install         the library and the command (PREFIX, DESTDIR)
#   make dkms-install    register, build and install the module with DKMS
#                        (for KVER, default: the running kernel)
#   make dkms-uninstall
#   make deb             Debian packages (debian/) for each of DEB_SUITES
#                        (bookworm trixie), built and linted in clean
#                        chroots; into build/deb/SUITE/

KVER ?= $(shell uname -r)
# The kernel the style checks build against (sparse), in the project's cache.
STYLE_KVER ?= $(KVER)
KDIR ?= /lib/modules/$(KVER)/build
PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC := /usr/src/bpfcmpdel-$(VERSION)
UDEV_RULES := /etc/udev/rules.d/60-bpfcmpdel.rules
CHECKPATCH_DIR := build/checkpatch

all: module lib cli

module:
	$(MAKE) -C module KVER=$(KVER) KDIR=$(KDIR)

lib:
	$(MAKE) -C lib

cli: lib
	$(MAKE) -C cli

install: lib cli
	$(MAKE) -C lib install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	$(MAKE) -C cli install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

demo:
	scripts/demo.sh

check:
	scripts/check.sh

bench:
	scripts/bench.sh

profile:
	scripts/profile.sh

fuzz:
	scripts/fuzz.sh

check-debug:
	scripts/debug-kernels.sh

# An hour (DURATION seconds) of everything at once on the 6.1 faults kernel.
DURATION ?= 3600
soak:
	DEBUG_KERNELS="$${DEBUG_KERNELS:-6.1:faults}" SOAK=$(DURATION) scripts/debug-kernels.sh

bench-table:
	@test -s build/bench-results.md || \
		{ echo "bench-table: run 'make bench' first" >&2; exit 1; }
	scripts/readme-section.sh docs/benchmarks.md bench build/bench-results.md
	cp build/bench-gc-size.svg build/bench-ratio.svg docs/

support-table:
	@test -s build/last-full-matrix || \
		{ echo "support-table: run a full 'make check' first" >&2; exit 1; }
	scripts/support-table.sh --readme docs/support.md $$(cat build/last-full-matrix)

# checkpatch.pl comes from Debian's linux-source tarball, like the test harness.
$(CHECKPATCH_DIR)/checkpatch.pl:
	mkdir -p $(CHECKPATCH_DIR)
	tar -xf /usr/src/linux-source-6.1.tar.xz -C $(CHECKPATCH_DIR) --strip-components=2 \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'

style: $(CHECKPATCH_DIR)/checkpatch.pl
	$(CHECKPATCH_DIR)/checkpatch.pl --no-tree --quiet --strict \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f \
		$(filter-out %.mod.c,$(wildcard module/*.c)) module/*.h module/compat/*.h \
		$(filter-out %.bpf.h,$(wildcard uapi/bpfcmpdel/*.h))
	# BPF C: a kfunc is an extern __ksym declaration, in a header.
	$(CHECKPATCH_DIR)/checkpatch.pl --no-tree --quiet --strict \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,AVOID_EXTERNS -f uapi/bpfcmpdel/*.bpf.h
	scripts/sparse.sh $(STYLE_KVER)
	shellcheck -x scripts/*.sh tests/vm/*.sh .ci/run
	scripts/cppcheck.sh
	bash -c '. scripts/common.sh && go_style'

deb:
	scripts/deb.sh

dkms-install:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -r dkms.conf module uapi $(DKMS_SRC)/
	dkms install -m bpfcmpdel -v $(VERSION) -k $(KVER)
	install -D -m 0644 udev/60-bpfcmpdel.rules $(UDEV_RULES)
	udevadm control --reload 2>/dev/null || true

dkms-uninstall:
	-dkms remove -m bpfcmpdel -v $(VERSION) --all
	rm -rf $(DKMS_SRC) $(UDEV_RULES)

clean:
	-$(MAKE) -C module clean
	$(MAKE) -C lib clean
	$(MAKE) -C cli clean
	rm -rf build

.PHONY: all module lib cli install deb demo check bench profile bench-table fuzz check-debug soak support-table style dkms-install dkms-uninstall clean
