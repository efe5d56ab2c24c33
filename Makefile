# Build, test, demo, benchmark and install the Xen network hook programs.
PREFIX ?= /usr
DESTDIR ?=
XEN_SCRIPT_DIR ?= /etc/xen/scripts
MANDIR ?= $(PREFIX)/share/man/man8
DOCDIR ?= $(PREFIX)/share/doc/xen-net-hooks
# Where the programs themselves go; XEN_SCRIPT_DIR gets a symlink to each.
LIBEXECDIR ?= $(PREFIX)/libexec/xen-net-hooks
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
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c)) $(BUILD)/libcommon.a
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(BUILD)/xenstored-stub: tests/xenstored/xenstored-stub.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/fwtool: tests/tools/fwtool.c $(BUILD)/libcommon.a
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
bench: deps all $(BUILD)/bench
	@for b in $(BENCHES); do BUILD=$(BUILD) bash tests/bench/$$b.sh || exit 1; done

# The programs go to LIBEXECDIR and XEN_SCRIPT_DIR gets a symlink to each, under the name xend,
# xl and udev call, replacing what is there (LIBEXECDIR=$(XEN_SCRIPT_DIR): the programs
# themselves). The Debian package (make deb) is this layout, with Xen's scripts diverted.
SCRIPT_LINKS := $(if $(filter $(abspath $(LIBEXECDIR)),$(abspath $(XEN_SCRIPT_DIR))),,yes)
install: $(BINS)
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(XEN_SCRIPT_DIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(LIBEXECDIR)/
	$(if $(SCRIPT_LINKS),for p in $(PROGRAMS); do ln -sfn $(LIBEXECDIR)/$$p $(DESTDIR)$(XEN_SCRIPT_DIR)/$$p || exit 1; done)
	install -m 0644 $(PROGRAMS:%=man/%.8) $(DESTDIR)$(MANDIR)/
	install -m 0644 xend-config.sxp.example README.md $(DESTDIR)$(DOCDIR)/

# Removes what install put in place; a script of the same name that is not our symlink (Xen's
# own, put back since) stays.
uninstall:
	$(if $(SCRIPT_LINKS),for p in $(PROGRAMS); do \
		if [ "$$(readlink $(DESTDIR)$(XEN_SCRIPT_DIR)/$$p)" = $(LIBEXECDIR)/$$p ]; then \
			rm -f $(DESTDIR)$(XEN_SCRIPT_DIR)/$$p || exit 1; \
		fi; \
	done)
	rm -f $(PROGRAMS:%=$(DESTDIR)$(LIBEXECDIR)/%) $(PROGRAMS:%=$(DESTDIR)$(MANDIR)/%.8)
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
