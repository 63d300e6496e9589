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
#   make bench            migration benchmarks, quick profile (bench/run-migrate;
#                         the other benchmarks: bench/run)

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
	sparse demo bench clean

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

checkpatch:
	$(SRC)/scripts/checkpatch.sh

vmtest: modules-all userspace
	$(SRC)/tests/run

check:
	$(SRC)/scripts/check.sh

demo:
	$(SRC)/scripts/demo.sh

bench:
	$(SRC)/bench/run-migrate

clean:
	rm -rf "$(BUILD)"
	$(MAKE) -C userspace clean
