# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# libFuzzer harnesses, one per parser of outside input (tests/fuzz/fuzz_NAME.c), linked with the
# modules they name, compiled again with the fuzzer's instrumentation and ASan + UBSan into their
# own folder. make fuzz runs each for FUZZ_SECONDS on a scratch copy of its corpus
# (tests/fuzz/corpus/NAME) and fails on any crash, leak, undefined behaviour or timeout; the input
# is kept in $(FUZZ_OUT)/artifacts/NAME/. make fuzz-seeds rebuilds the generated seeds.

FUZZ_OUT := $(OUTPUT)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC ?= $(CLANG)
FUZZ_SANITIZERS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE $(WARNINGS) -MMD -MP -Iuser -Itests/fuzz \
	-DDEVLEDGER_VERSION='"$(VERSION)"' $(FUZZ_SANITIZERS)
# A run that takes longer than this on one input has hung: tens of milliseconds is the norm.
FUZZ_TIMEOUT := 10
FUZZ_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %,$(FUZZ_OUT)/fuzz_%,$(FUZZ_NAMES))

fuzz_elfsyms_MODULES := elfsyms
fuzz_dwarflayout_MODULES := dwarflayout
fuzz_probesite_MODULES := probesite
fuzz_inlining_MODULES := inlining elfsyms
fuzz_maps_MODULES := libfind
fuzz_options_MODULES := options
fuzz_ledger_MODULES := $(LEDGER_MODULES) timeline
fuzz_unwind_MODULES := unwind demangle

# Longer inputs than the seeds where length itself matters: record streams of up to 64 records,
# maps lines past the piece fgets reads, command lines of many words.
fuzz_ledger_MAX_LEN := 4096
fuzz_maps_MAX_LEN := 9000
fuzz_options_MAX_LEN := 512
fuzz_unwind_MAX_LEN := 8400

fuzz_module_objs = $(patsubst %,$(FUZZ_OUT)/user/%.o,$(1))

.PHONY: fuzz fuzz-build fuzz-seeds $(patsubst %,fuzz-%,$(FUZZ_NAMES))

$(FUZZ_OUT)/user $(FUZZ_OUT)/obj:
	$(Q)mkdir -p $@

$(FUZZ_OUT)/user/%.o: user/%.c | $(FUZZ_OUT)/user
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/obj/%.o: tests/fuzz/%.c | $(FUZZ_OUT)/obj
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BINS): $(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/fuzz_%.o \
		$$(call fuzz_module_objs,$$(fuzz_$$*_MODULES))
	$(call msg,FUZZER,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SANITIZERS) $^ $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

# Each harness on a scratch copy of its corpus: what a run adds stays out of the tree. The log is
# printed only when the run fails, with the command that replays the saved input.
$(patsubst %,fuzz-%,$(FUZZ_NAMES)): fuzz-%: $(FUZZ_OUT)/fuzz_%
	$(call msg,FUZZ,$* for $(FUZZ_SECONDS) s)
	$(Q)rm -rf $(FUZZ_OUT)/work/$* $(FUZZ_OUT)/artifacts/$*
	$(Q)mkdir -p $(FUZZ_OUT)/work/$*/corpus $(FUZZ_OUT)/artifacts/$*
	$(Q)cp tests/fuzz/corpus/$*/* $(FUZZ_OUT)/work/$*/corpus/
	$(Q)if ! $(FUZZ_ENV) $< -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
		$(if $(fuzz_$*_MAX_LEN),-max_len=$(fuzz_$*_MAX_LEN)) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_OUT)/artifacts/$*/ \
		$(FUZZ_OUT)/work/$*/corpus >$(FUZZ_OUT)/work/$*/log 2>&1; then \
		tail -n 80 $(FUZZ_OUT)/work/$*/log; \
		for input in $(FUZZ_OUT)/artifacts/$*/*; do \
			echo "devledger: fuzz_$* failed; replay: $< $$input" >&2; \
		done; \
		exit 1; \
	fi
	$(Q)printf '  %-8s %s\n' PASS "fuzz_$*: $$(sed -n 's/^stat::number_of_executed_units: *//p' \
		$(FUZZ_OUT)/work/$*/log) inputs in $(FUZZ_SECONDS) s"

fuzz: deps $(patsubst %,fuzz-%,$(FUZZ_NAMES))

# The ELF, DWARF, code and record seeds, from the seed library and the ledger's seed writer.
fuzz-seeds:
	$(Q)CC="$(CC)" tests/fuzz/seeds.sh tests/fuzz/corpus

-include $(wildcard $(FUZZ_OUT)/user/*.d $(FUZZ_OUT)/obj/*.d)
