# Build, test, demo, benchmark and install the Xen network hook programs.
PREFIX ?= /usr
DESTDIR ?=
XEN_SCRIPT_DIR ?= /etc/xen/scripts
MANDIR ?= $(PREFIX)/share/man/man8
DOCDIR ?= $(PREFIX)/share/doc/xen-net-hooks
# Where the programs themselves go; XEN_SCRIPT_DIR gets a symlink to each hook, SBINDIR one to
# the operator's tool (xen-net-hooks).
LIBEXECDIR ?= $(PREFIX)/libexec/xen-net-hooks
SBINDIR ?= $(PREFIX)/sbin
# The systemd unit that runs xen-net-hooks resync whenever nftables.service loads its ruleset:
# /lib/systemd/system for PREFIX=/usr, as Debian 12 has it.
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system
BUILD ?= build

CC ?= cc
CFLAGS ?= -O2 -g
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer (use BUILD=build-asan).
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
WARN := -Wall -Wextra -Werror
NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Icommon $(NL_CFLAGS) $(CFLAGS) \
	-DXEN_SCRIPT_DIR_DEFAULT='"$(XEN_SCRIPT_DIR)"' -MMD -MP
# libnl and libxenstore are linked statically: a hook runs for a few milliseconds, and loading
# and relocating the shared libnl-route alone cost a third of that (see make bench).
LIBS := -Wl,-Bstatic -lnl-route-3 -lnl-3 -lxenstore -lxentoolcore -lnftnl -Wl,-Bdynamic -lmnl -lpthread

PROGRAMS := $(sort $(patsubst %/,%,$(dir $(wildcard */*.c))))
PROGRAMS := $(filter-out common tests,$(PROGRAMS))
# The operator's tools, run by a person or systemd rather than by the toolstack: no symlink in
# XEN_SCRIPT_DIR, one in SBINDIR.  The rest are the hooks.
TOOLS := xen-net-hooks
HOOKS := $(filter-out $(TOOLS),$(PROGRAMS))
# Sources of another program's directory that a program links too: xen-net-hooks derives a NAT
# guest's address with vif-nat's own arithmetic.
xen-net-hooks_SHARED := vif-nat/nat-address.c
UNITS := xen-net-hooks-resync.service
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
BINS := $(PROGRAMS:%=$(BUILD)/%)

.PHONY: all check check-xen bench-xen unit demo bench install uninstall deb clean format format-check deps fuzz fuzz-build
all: $(BINS) $(BUILD)/xenstored-stub $(BUILD)/tests/fwtool $(if $(wildcard tests/tools/nlfail.c),$(BUILD)/tests/nlfail.so)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	$(AR) rcs $@ $^

# Each program directory links its own objects with the common library.
define program_rule
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c) $($(1)_SHARED)) $(BUILD)/libcommon.a
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(BUILD)/xenstored-stub: tests/xenstored/xenstored-stub.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/fwtool: tests/tools/fwtool.c $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(LIBS)

# The firewall's floor: the same nf_tables requests from one bare client (tests/bench/nftfloor.c).
$(BUILD)/tests/nftfloor: tests/bench/nftfloor.c $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(LIBS)

# The benchmark's timing driver (tests/bench/bench.c).
$(BUILD)/bench: tests/bench/bench.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -o $@ $<

# The fault-injection shim (LD_PRELOAD) the tests use to fail the Nth netlink change.
$(BUILD)/tests/nlfail.so: tests/tools/nlfail.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 $(WARN) -D_GNU_SOURCE -o $@ $< -ldl

# The programs' own code other than their main files (e.g. vif-nat's address arithmetic), for
# the unit tests: from an archive, the linker takes only the objects a test calls.
PROG_LIB_SRC := $(filter-out $(foreach p,$(PROGRAMS),$(p)/$(p).c),$(wildcard $(PROGRAMS:%=%/*.c)))
$(BUILD)/libprogs.a: $(PROG_LIB_SRC:%.c=$(BUILD)/obj/%.o)
	$(AR) rcs $@ $^

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libprogs.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ $(filter %.c %.a,$^) -lcmocka $(LIBS)

UNIT := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/*.c))

deps:
	@bash tools/install-deps

# libFuzzer targets (tests/fuzz/*.c), built with clang, ASan and UBSan into FUZZ_BUILD against
# the same sources.  `make fuzz` builds and runs each for FUZZ_TIME seconds (tests/fuzz/run.sh).
FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Icommon -I. $(NL_CFLAGS) -O1 -g $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -DXEN_SCRIPT_DIR_DEFAULT='"$(XEN_SCRIPT_DIR)"' -MMD -MP
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/*.c))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libcommon.a: $(COMMON_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/libprogs.a: $(PROG_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/tests/fuzz/%.o $(FUZZ_BUILD)/libprogs.a $(FUZZ_BUILD)/libcommon.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz:
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TIME=$(FUZZ_TIME) bash tests/fuzz/run.sh

unit: $(UNIT)
	@for t in $(UNIT); do $$t || exit 1; done

# The whole suite: unit tests, the stand-in's self test, integration tests (as root),
# and the integration tests again against an ASan/UBSan build.
check: deps format-check
	@$(MAKE) --no-print-directory all $(UNIT)
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all
	@BUILD=$(BUILD) bash tests/run.sh

# The real-Xen lane alone (tests/xen): Xen 4.17 and a Debian dom0 under qemu, the package
# installed over xen-utils-common, the programs run by xl, oxenstored and netback. TESTS names
# some of its tests (test_NAME ...); empty runs all.
TESTS ?=
check-xen: deps
	@bash tests/xen/run.sh $(TESTS)

# The lane's benchmark: xl network-attach + network-detach, ours against Debian's script.
bench-xen: deps
	@XEN_LANE_BENCH=1 bash tests/xen/run.sh

# MODE=bridge|route|nat runs one part of the demo; empty runs all of them.
MODE ?=
demo: deps all
	@BUILD=$(BUILD) MODE=$(MODE) bash tools/demo.sh

# Every benchmark in tests/bench, each printing its own ratios.
BENCHES := vif-bridge firewall $(filter-out vif-bridge firewall,$(basename $(notdir $(wildcard tests/bench/*.sh))))
bench: deps all $(BUILD)/bench $(BUILD)/tests/nftfloor
	@for b in $(BENCHES); do BUILD=$(BUILD) bash tests/bench/$$b.sh || exit 1; done

# The programs go to LIBEXECDIR and XEN_SCRIPT_DIR gets a symlink to each hook, under the name
# xend, xl and udev call, replacing what is there (LIBEXECDIR=$(XEN_SCRIPT_DIR): the programs
# themselves). SBINDIR gets a symlink to each tool, relative when both directories are in the
# same top-level directory (Debian policy 10.5), and SYSTEMDUNITDIR the units, which name the
# tool by its SBINDIR path. The Debian package (make deb) is this layout, with Xen's scripts
# diverted.
SCRIPT_LINKS := $(if $(filter $(abspath $(LIBEXECDIR)),$(abspath $(XEN_SCRIPT_DIR))),,yes)
TOOL_LINKS := $(if $(filter $(abspath $(LIBEXECDIR)),$(abspath $(SBINDIR))),,yes)
top_dir = $(firstword $(subst /, ,$(abspath $(1))))
TOOL_LINK_RELATIVE := $(if $(filter $(call top_dir,$(SBINDIR)),$(call top_dir,$(LIBEXECDIR))),yes)
install: $(BINS)
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(XEN_SCRIPT_DIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(LIBEXECDIR)/
	$(if $(SCRIPT_LINKS),for p in $(HOOKS); do ln -sfn $(LIBEXECDIR)/$$p $(DESTDIR)$(XEN_SCRIPT_DIR)/$$p || exit 1; done)
	$(if $(TOOL_LINKS),for p in $(TOOLS); do \
		ln -sfn$(if $(TOOL_LINK_RELATIVE),r) $(if $(TOOL_LINK_RELATIVE),$(DESTDIR))$(LIBEXECDIR)/$$p $(DESTDIR)$(SBINDIR)/$$p || exit 1; \
	done)
	for u in $(UNITS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/$$u.in >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done
	install -m 0644 $(PROGRAMS:%=man/%.8) $(DESTDIR)$(MANDIR)/
	install -m 0644 xend-config.sxp.example README.md $(DESTDIR)$(DOCDIR)/

# Removes what install put in place; a script of the same name that is not our symlink (Xen's
# own, put back since) stays.
uninstall:
	$(if $(SCRIPT_LINKS),for p in $(HOOKS); do \
		if [ "$$(readlink $(DESTDIR)$(XEN_SCRIPT_DIR)/$$p)" = $(LIBEXECDIR)/$$p ]; then \
			rm -f $(DESTDIR)$(XEN_SCRIPT_DIR)/$$p || exit 1; \
		fi; \
	done)
	$(if $(TOOL_LINKS),rm -f $(TOOLS:%=$(DESTDIR)$(SBINDIR)/%))
	rm -f $(PROGRAMS:%=$(DESTDIR)$(LIBEXECDIR)/%) $(PROGRAMS:%=$(DESTDIR)$(MANDIR)/%.8)
	rm -f $(UNITS:%=$(DESTDIR)$(SYSTEMDUNITDIR)/%)
	rm -f $(DESTDIR)$(DOCDIR)/xend-config.sxp.example $(DESTDIR)$(DOCDIR)/README.md
	for d in $(DESTDIR)$(DOCDIR) $(if $(SCRIPT_LINKS),$(DESTDIR)$(LIBEXECDIR)); do \
		if [ -d $$d ]; then rmdir --ignore-fail-on-non-empty $$d || exit 1; fi; \
	done

# The Debian package, built in DEB_BUILD from an optimised build with Debian's hardening flags
# (never a sanitizer build): packaging/deb/build.sh.
DEB_BUILD ?= $(BUILD)-deb
deb: deps
	@DEB_BUILD=$(DEB_BUILD) MAKE="$(MAKE)" bash packaging/deb/build.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-deb $(FUZZ_BUILD)

-include $(shell find $(BUILD) $(if $(filter fuzz%,$(MAKECMDGOALS)),$(FUZZ_BUILD)) -name '*.d' -type f 2>/dev/null)
