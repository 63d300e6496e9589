# SPDX-License-Identifier: GPL-2.0-only
#
# hybridmig: out-of-tree device-mapper target plus the hybridmigctl tool.
#
#   make                  module for KVER (default: the running kernel if its
#                         headers are installed, else every installed kernel)
#   make KDIR=/path       module against one kernel build tree
#   make modules-all      module for every kernel with headers installed
#   make deps             install every Debian package the build, tests and demo need
#   make check            everything CI runs: deps, builds, lint, unit and VM tests
#   make demo             the main job: a demo migration in a VM, with a report
#   make soak SEED= N=    N randomized migrations with faults (soak runner)
#   make bench            migration benchmarks, quick profile (bench/run-migrate;
#                         the other benchmarks: bench/run)
#   make install          install the built module(s) (for KVERS, as above),
#                         hybridmigctl, its man page, the udev rule and the
#                         libvirt hook; DESTDIR and PREFIX (/usr/local) apply
#   make install-dkms     the module's sources and dkms.conf into
#                         $(DESTDIR)/usr/src/hybridmig-<version>, for
#                         "dkms install hybridmig/<version>"
#   make uninstall        remove what install and install-dkms installed

SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KSRC := Kbuild $(wildcard dm-hybridmig*.c dm-hybridmig*.h) hybridmig-proto.h

INSTALLED_KVERS := $(patsubst /lib/modules/%/build,%,$(wildcard /lib/modules/*/build))
RUNNING_KVER := $(shell uname -r)

ifdef KDIR
KVERS := $(notdir $(abspath $(KDIR)))
else ifdef KVER
KVERS := $(KVER)
else ifneq ($(wildcard /lib/modules/$(RUNNING_KVER)/build),)
KVERS := $(RUNNING_KVER)
else
KVERS := $(INSTALLED_KVERS)
endif

kdir = $(if $(KDIR),$(KDIR),/lib/modules/$(1)/build)
BUILD := $(SRC)/build

.PHONY: all module modules-all userspace deps check unit vmtest checkpatch \
	sparse demo soak bench clean install install-module install-tools \
	install-dkms uninstall

all: module userspace

# Each kernel gets its own build directory (sources symlinked in), so both
# Debian kernels can be built side by side from one tree.
define build_module
	@test -d "$(call kdir,$(1))" || { echo "error: no kernel build tree for $(1) (install its linux-headers, or run make deps)" >&2; exit 1; }
	@mkdir -p "$(BUILD)/$(1)"
	@for f in $(KSRC); do ln -sf "$(SRC)/$$f" "$(BUILD)/$(1)/$$f"; done
	$(MAKE) -C "$(call kdir,$(1))" M="$(BUILD)/$(1)" W=1 $(2) modules

endef

module:
	@test -n "$(KVERS)" || { echo "error: no kernel headers installed; run make deps" >&2; exit 1; }
	$(foreach k,$(KVERS),$(call build_module,$(k),))

modules-all:
	@test -n "$(INSTALLED_KVERS)" || { echo "error: no kernel headers installed; run make deps" >&2; exit 1; }
	$(foreach k,$(INSTALLED_KVERS),$(call build_module,$(k),))

# sparse over the kernel sources, for every installed kernel.
sparse:
	$(foreach k,$(INSTALLED_KVERS),$(call build_module,$(k),C=2))

userspace:
	$(MAKE) -C userspace

deps:
	$(SRC)/scripts/install-deps.sh

unit: userspace
	$(MAKE) -C userspace test
	python3 $(SRC)/tests/tools/test_hm_logwrites.py

checkpatch:
	$(SRC)/scripts/checkpatch.sh

vmtest: modules-all userspace
	$(SRC)/tests/run

check:
	$(SRC)/scripts/check.sh

demo:
	$(SRC)/scripts/demo.sh

# The soak runner: N randomized migrations with faults from SEED (a fresh
# seed unless given), in the VM of every installed kernel (KVER=... for one).
SEED ?= $(shell date +%s)
N ?= 20
soak: modules-all userspace
	HM_SOAK_SEED=$(SEED) HM_SOAK_N=$(N) HM_TEST_TIMEOUT=$$(( $(N) * 240 + 60 )) \
		HM_VM_TIMEOUT=$$(( $(N) * 240 + 600 )) \
		$(SRC)/tests/run --no-build --no-unit $(if $(KVER),--kernel $(KVER)) soak

bench:
	$(SRC)/bench/run-migrate

clean:
	rm -rf "$(BUILD)"
	$(MAKE) -C userspace clean

# Installation. Nothing is built here: run make first (as a user), then
# make install (as root).
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(SRC)/dkms.conf)
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/hybridmig
UDEVRULESDIR ?= /usr/lib/udev/rules.d
LIBVIRT_HOOKDIR ?= /etc/libvirt/hooks/qemu.d
DKMS_SRCDIR ?= /usr/src/hybridmig-$(VERSION)
UDEV_RULE := 12-hybridmig.rules
DKMS_FILES := dkms.conf $(KSRC)
DEPMOD ?= depmod

install: install-module install-tools

install-module:
	@for k in $(KVERS); do \
		test -f "$(BUILD)/$$k/dm-hybridmig.ko" || { echo "error: build/$$k/dm-hybridmig.ko not built: run make (or make KVER=$$k) first" >&2; exit 1; }; \
		install -D -m 0644 "$(BUILD)/$$k/dm-hybridmig.ko" "$(DESTDIR)/lib/modules/$$k/updates/dm-hybridmig.ko" || exit 1; \
		if [ -z "$(DESTDIR)" ]; then $(DEPMOD) -a "$$k"; fi; \
	done

install-tools:
	@test -x userspace/hybridmigctl || { echo "error: userspace/hybridmigctl not built: run make first" >&2; exit 1; }
	install -D -m 0755 userspace/hybridmigctl "$(DESTDIR)$(SBINDIR)/hybridmigctl"
	install -D -m 0644 Documentation/hybridmigctl.8 "$(DESTDIR)$(MANDIR)/man8/hybridmigctl.8"
	install -d "$(DESTDIR)$(UDEVRULESDIR)" "$(DESTDIR)$(LIBVIRT_HOOKDIR)"
	sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/udev/$(UDEV_RULE).in > "$(DESTDIR)$(UDEVRULESDIR)/$(UDEV_RULE)"
	sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/libvirt/hybridmig.in > "$(DESTDIR)$(LIBVIRT_HOOKDIR)/hybridmig"
	chmod 0755 "$(DESTDIR)$(LIBVIRT_HOOKDIR)/hybridmig"
	install -D -m 0644 packaging/libvirt/vm.conf.example "$(DESTDIR)$(DOCDIR)/libvirt-vm.conf.example"

install-dkms:
	install -d "$(DESTDIR)$(DKMS_SRCDIR)"
	install -m 0644 $(DKMS_FILES) "$(DESTDIR)$(DKMS_SRCDIR)/"

uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/hybridmigctl" "$(DESTDIR)$(MANDIR)/man8/hybridmigctl.8" \
		"$(DESTDIR)$(UDEVRULESDIR)/$(UDEV_RULE)" "$(DESTDIR)$(LIBVIRT_HOOKDIR)/hybridmig" \
		"$(DESTDIR)$(DOCDIR)/libvirt-vm.conf.example"
	-rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null
	rm -rf "$(DESTDIR)$(DKMS_SRCDIR)"
	@for m in "$(DESTDIR)"/lib/modules/*/updates/dm-hybridmig.ko; do \
		[ -f "$$m" ] || continue; \
		echo "rm -f $$m"; rm -f "$$m"; \
		k=$${m#"$(DESTDIR)"/lib/modules/}; k=$${k%%/*}; \
		if [ -z "$(DESTDIR)" ]; then $(DEPMOD) -a "$$k"; fi; \
	done
