# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# devledger: make (build), make deps, make demo, make test, make sanitize, make fuzz, make bench,
# make install, make clean, make vmlinux, make format. V=1 shows commands.

OUTPUT ?= build
CLANG ?= clang
CC ?= cc
CXX ?= g++
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

# Debian packages devledger needs to build and test (make deps installs them).
DEB_PACKAGES := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libjson-c-dev \
	libcmocka-dev libcapstone-dev libdw-dev libzstd-dev libmicrohttpd-dev pkg-config g++ make \
	chromium prometheus curl python3-dev

WARNINGS := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE $(WARNINGS) -MMD -MP -I$(OUTPUT) -Iuser \
	-DDEVLEDGER_VERSION='"$(VERSION)"'
# -mcpu=v3: atomics that return their old value (each stack sample's sequence number).
# The BPF_KPROBE macros name parameters a program may not use.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(WARNINGS) -Wno-unused-parameter -MMD -MP \
	-I$(dir $(VMLINUX)) -Ibpf
# libstdc++ for its demangler only (__cxa_demangle). libmicrohttpd is not linked: serve loads it
# (user/httpd.c), so that no other command pays for loading it and its TLS stack at start.
LDLIBS := -lbpf -lelf -ldw -lz -lzstd -ljson-c -lcapstone -ldl -lpthread -lstdc++

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_COMMON := $(filter-out $(INTEG_SRCS),$(wildcard tests/integration/*.c))
INTEG_BINS := $(patsubst tests/integration/%.c,$(OUTPUT)/tests/%,$(INTEG_SRCS))

.DELETE_ON_ERROR:
# Keep the BPF object beside its skeleton.
.SECONDARY:
.PHONY: all deps demo test unit integration sanitize bench install clean vmlinux format standin

all: $(OUTPUT)/devledger

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/tests/obj:
	$(Q)mkdir -p $@

# BPF: .bpf.c -> .bpf.o -> .skel.h
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# User space. Only the tracer includes the skeleton.
$(OUTPUT)/user/%.o: user/%.c | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/user/tracer.o: $(OUTPUT)/devledger.skel.h

# The report's page, one C string made from user/htmlreport.html.
$(OUTPUT)/htmlreport_page.h: user/htmlreport.html | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)awk 'BEGIN { print "static const char htmlreport_page[] =" } \
		{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); print "\"" $$0 "\\n\"" } \
		END { print ";" }' $< > $@

$(OUTPUT)/user/htmlreport.o: $(OUTPUT)/htmlreport_page.h

$(OUTPUT)/devledger: $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# Tests: one cmocka binary per module, linked with the modules it names.
# The ledger is three modules (user/ledger_state.h says which is what).
LEDGER_MODULES := ledger ledger_cbs ledger_sites grow
test_ledger_MODULES := $(LEDGER_MODULES)
test_summary_MODULES := summary $(LEDGER_MODULES) chipview timeline timeline_json jsonout unwind demangle
test_metrics_MODULES := metrics $(LEDGER_MODULES)
test_options_MODULES := options
test_probesite_MODULES := probesite
test_probes_MODULES := probes probesite eras
test_elfsyms_MODULES := elfsyms
test_libfind_MODULES := libfind
test_procinfo_MODULES := procinfo
test_demangle_MODULES := demangle
test_inlining_MODULES := inlining elfsyms
test_dwarflayout_MODULES := dwarflayout
test_timeline_MODULES := timeline $(LEDGER_MODULES)
test_unwind_MODULES := unwind demangle
test_layoutcache_MODULES := layoutcache dwarflayout

$(OUTPUT)/tests/obj/%.o: tests/unit/%.c | $(OUTPUT)/tests/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -c $< -o $@

$(OUTPUT)/tests/obj/%.o: tests/integration/%.c | $(OUTPUT)/tests/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -c $< -o $@

module_objs = $(patsubst %,$(OUTPUT)/user/%.o,$(1))
.SECONDEXPANSION:
$(UNIT_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/obj/%.o \
		$$(call module_objs,$$($$*_MODULES)) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lcmocka -o $@

INTEG_COMMON_OBJS := $(patsubst tests/integration/%.c,$(OUTPUT)/tests/obj/%.o,$(INTEG_COMMON))
$(INTEG_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/obj/%.o $(INTEG_COMMON_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $^ -ljson-c -lcmocka -o $@

# The stand-in tt-metal runtime (C++), built as tests/standin/standin.mk says.
-include tests/standin/standin.mk

# libFuzzer harnesses of every parser of outside input: make fuzz (tests/fuzz/fuzz.mk).
include tests/fuzz/fuzz.mk

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "devledger: missing Debian packages: $$missing (run 'make deps' as root)" >&2; exit 1; \
		fi; \
		echo "  DEPS     installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: deps
	$(Q)$(MAKE) --no-print-directory all standin
	$(OUTPUT)/devledger trace -o $(OUTPUT)/demo-summary.json --timeline $(OUTPUT)/demo-timeline.json \
		-- $(STANDIN_DRIVER) remaining
	$(OUTPUT)/devledger report $(OUTPUT)/demo-summary.json -o $(OUTPUT)/demo-report.html
	@echo "summary:  $(OUTPUT)/demo-summary.json"
	@echo "timeline: $(OUTPUT)/demo-timeline.json (open it in ui.perfetto.dev or chrome://tracing)"
	@echo "report:   $(OUTPUT)/demo-report.html"

unit: $(UNIT_BINS)
	$(Q)for t in $(UNIT_BINS); do echo "== $$t"; $$t || exit 1; done

integration: all standin $(INTEG_BINS)
	$(Q)for t in $(INTEG_BINS); do echo "== $$t"; \
		DEVLEDGER=$(OUTPUT)/devledger STANDIN_DIR=$(STANDIN_OUT) \
		STANDIN_CET_DIR=$(STANDIN_CET_OUT) STANDIN_INLINED_DIR=$(STANDIN_INLINED_OUT) \
		STANDIN_ERA_C_DIR=$(STANDIN_ERA_C_OUT) STANDIN_SHIFTED_DIR=$(STANDIN_SHIFTED_OUT) \
		STANDIN_STRIPPED_DIR=$(STANDIN_STRIPPED_OUT) STANDIN_NOPROG_DIR=$(STANDIN_NOPROG_OUT) \
		STANDIN_UNITY_DIR=$(STANDIN_UNITY_OUT) STANDIN_NEWEST_DIR=$(STANDIN_NEWEST_OUT) \
		$$t || exit 1; done

test: deps
	$(Q)$(MAKE) --no-print-directory all standin $(UNIT_BINS) $(INTEG_BINS)
	$(Q)$(MAKE) --no-print-directory unit integration

# make sanitize: devledger and the unit tests built again with clang's ASan and UBSan into their own
# folder (the BPF programs as usual), every unit test run, and the stand-in (built as usual: it is
# the traced program) traced three ways. Any sanitizer report fails it, a leak included.
ASAN_OUT := $(OUTPUT)/asan
SANITIZE_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SANITIZE_SCENARIOS := remaining mesh 'churn 2000'

sanitize: deps
	$(Q)$(MAKE) --no-print-directory $(STANDIN_DRIVER)
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(ASAN_OUT) CC=$(CLANG) CFLAGS="$(SANITIZE_CFLAGS)" \
		all $(patsubst $(OUTPUT)/%,$(ASAN_OUT)/%,$(UNIT_BINS))
	$(Q)$(SANITIZE_ENV) $(MAKE) --no-print-directory OUTPUT=$(ASAN_OUT) CC=$(CLANG) \
		CFLAGS="$(SANITIZE_CFLAGS)" unit
	$(Q)for scenario in $(SANITIZE_SCENARIOS); do \
		name=$$(echo $$scenario | tr ' ' -); log=$(ASAN_OUT)/trace-$$name.log; \
		echo "== $(ASAN_OUT)/devledger trace -- standin $$scenario"; \
		$(SANITIZE_ENV) $(ASAN_OUT)/devledger trace -o $(ASAN_OUT)/trace-$$name.json -- \
			$(STANDIN_DRIVER) $$scenario >$$log 2>&1 || { cat $$log; exit 1; }; \
		if grep -q -E 'Sanitizer|runtime error' $$log; then cat $$log; exit 1; fi; \
	done

# Benchmarks (make bench): an empty-probe loader and the ledger replay, then bench/run.sh.
BENCH_OUT := $(OUTPUT)/bench

$(BENCH_OUT):
	$(Q)mkdir -p $@

$(BENCH_OUT)/empty.bpf.o: bench/empty.bpf.c $(VMLINUX) | $(BENCH_OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(BENCH_OUT)/empty.skel.h: $(BENCH_OUT)/empty.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BENCH_OUT)/probecost: bench/probecost.c $(BENCH_OUT)/empty.skel.h \
		$(call module_objs,elfsyms probesite uprobemulti)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BENCH_OUT) $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(BENCH_OUT)/ledger_bench: bench/ledger_bench.c $(call module_objs,$(LEDGER_MODULES)) | $(BENCH_OUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

$(BENCH_OUT)/dwarfgen: bench/dwarfgen.c | $(BENCH_OUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

bench: deps
	$(Q)command -v bpftrace >/dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >/dev/null
	$(Q)[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
	$(Q)$(MAKE) --no-print-directory all standin $(BENCH_OUT)/probecost $(BENCH_OUT)/ledger_bench \
		$(BENCH_OUT)/dwarfgen $(STANDIN_BANK_TAIL_OUT)/standin $(STANDIN_BANK_TAIL_CET_OUT)/standin
	$(Q)OUTPUT=$(OUTPUT) bench/run.sh

# The service (devledger serve) under systemd: a unit in a folder systemd reads for PREFIX.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system

install: $(OUTPUT)/devledger
	install -D -m 0755 $(OUTPUT)/devledger $(DESTDIR)$(PREFIX)/bin/devledger
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' contrib/devledger.service.in > \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR)/devledger.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/devledger.service

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*.h tests/unit/*.c tests/integration/*.c \
		tests/fuzz/*.c tests/fuzz/*.h

clean:
	rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/tests/obj/*.d)
