/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unwinding this test's own stack, as the probes sample it: the registers
 * and a copy of the stack taken inside a chain of functions (at -O2: without
 * frame pointers), unwound with their .eh_frame and symbolized.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "../bpf/devledger.h"
#include "unwind.h"

#include "unit/selfstack.h"

/* A chain of named frames; the barrier after each call keeps it a call, not a jump. */
#define CHAIN(name, next)                                                                          \
	static __attribute__((noinline)) void name(size_t n)                                       \
	{                                                                                          \
		volatile char local[48];                                                           \
		local[0] = (char)n;                                                                \
		next(n + local[0] * 0);                                                            \
		__asm__ volatile("" ::: "memory");                                                 \
	}
CHAIN(chain_inner, capture)
CHAIN(chain_middle, chain_inner)
CHAIN(chain_outer, chain_middle)
CHAIN(other_outer, chain_inner)

struct fixture {
	struct unwind *unwind;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->unwind = unwind__new(NULL);
	*state = f;
	return f->unwind ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unwind__free(f->unwind);
	free(f);
	return 0;
}

static uint32_t add(struct unwind *u)
{
	assert_int_equal(unwind__add_sample(u, sample, sizeof(*sample) + sample->bytes), 0);
	return unwind__stack_of(u, sample->sequence);
}

static size_t find_function(const struct unwind_frame *frames, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (frames[i].function && !strcmp(frames[i].function, name))
			return i;
	return SIZE_MAX;
}

static void test_frames_in_order(void **state)
{
	struct fixture *f = *state;
	const struct unwind_frame *frames;
	size_t count, capture_at;
	uint32_t id;

	chain_outer(SAMPLE_BYTES);
	id = add(f->unwind);
	assert_int_not_equal(id, 0);
	assert_int_equal(unwind__frames(f->unwind, id, &frames, &count), 0);
	capture_at = find_function(frames, count, "capture");
	assert_int_equal(capture_at, 0);
	assert_int_equal(find_function(frames, count, "chain_inner"), 1);
	assert_int_equal(find_function(frames, count, "chain_middle"), 2);
	assert_int_equal(find_function(frames, count, "chain_outer"), 3);
	assert_int_equal(find_function(frames, count, "test_frames_in_order"), 4);
	/* On past cmocka into libc's start: the whole stack. */
	assert_true(find_function(frames, count, "main") < count);
	assert_non_null(strstr(frames[1].module, "test_unwind"));
	assert_non_null(frames[1].file);
	assert_non_null(strstr(frames[1].file, "test_unwind.c"));
	assert_true(frames[1].line > 0);
	assert_int_equal(unwind__stack_pid(f->unwind, id), (uint32_t)getpid());
}

/*
 * Another unwinder as the oracle: libgcc's (backtrace(3)), run in capture() right after the
 * sample, finds the same callers, frame for frame, on to the outermost.
 */
static void test_matches_libgcc(void **state)
{
	struct fixture *f = *state;
	const struct unwind_frame *frames;
	size_t count, first = 0;

	chain_outer(SAMPLE_BYTES);
	assert_int_equal(unwind__frames(f->unwind, add(f->unwind), &frames, &count), 0);
	/*
	 * backtrace's first entries are inside capture (after its own call), or in a sanitizer's
	 * wrapper of it; from capture's caller on, the two lists must be the same.
	 */
	while (first < (size_t)sample_backtrace_count &&
	       (uint64_t)sample_backtrace[first] != frames[1].address)
		first++;
	assert_true(first <= 2 && sample_backtrace_count - (int)first > 5);
	assert_int_equal(count - 1, (size_t)sample_backtrace_count - first);
	for (size_t i = 1; i < count; i++)
		if (frames[i].address != (uint64_t)sample_backtrace[first + i - 1])
			fail_msg("frame %zu: %#llx, libgcc says %p", i,
				 (unsigned long long)frames[i].address,
				 sample_backtrace[first + i - 1]);
}

static void test_same_path_same_stack(void **state)
{
	struct fixture *f = *state;
	struct unwind_stats stats;
	uint32_t ids[2], first, again, other;
	uint32_t first_sequence = next_sequence;

	/* From one call site twice: the same frames. */
	for (int i = 0; i < 2; i++) {
		chain_outer(SAMPLE_BYTES);
		ids[i] = add(f->unwind);
	}
	first = ids[0];
	again = ids[1];
	other_outer(SAMPLE_BYTES);
	other = add(f->unwind);
	assert_int_equal(first, again);
	assert_int_not_equal(first, other);
	/* Each sample's stack by its sequence number, the older ones still. */
	assert_int_equal(unwind__stack_of(f->unwind, first_sequence), first);
	assert_int_equal(unwind__stack_of(f->unwind, 0), 0);
	assert_int_equal(unwind__stack_of(f->unwind, sample->sequence + 1), 0);
	unwind__stats(f->unwind, &stats);
	assert_int_equal(stats.samples, 3);
	assert_int_equal(stats.unique_stacks, 2);
	assert_int_equal(stats.stack_hits, 1);
	/* The second sample's frames all had their rules cached by the first. */
	assert_true(stats.rule_hits >= stats.frames / 3);
	assert_int_equal(stats.truncated, 0);
	assert_int_equal(stats.maps_reads, 1);
}

static void test_short_copy(void **state)
{
	struct fixture *f = *state;
	const struct unwind_frame *frames;
	struct unwind_stats stats;
	size_t count;

	/* Too little copied to reach the test: the innermost frames only, counted as cut. */
	chain_outer(96);
	assert_int_equal(unwind__frames(f->unwind, add(f->unwind), &frames, &count), 0);
	assert_true(count >= 1 && count < 4);
	assert_string_equal(frames[0].function, "capture");
	unwind__stats(f->unwind, &stats);
	assert_int_equal(stats.truncated, 1);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	const struct unwind_frame *frames;
	size_t count;

	chain_outer(SAMPLE_BYTES);
	assert_int_equal(unwind__add_sample(f->unwind, sample, sizeof(*sample) - 1), -EINVAL);
	/* More bytes claimed than given. */
	assert_int_equal(unwind__add_sample(f->unwind, sample, sizeof(*sample) + 8), -EINVAL);
	sample->sequence = 0;
	assert_int_equal(unwind__add_sample(f->unwind, sample, sizeof(sample_storage)), -EINVAL);
	assert_int_equal(unwind__frames(f->unwind, 1, &frames, &count), -ENOENT);
}

/* A pid whose maps cannot be read (gone): one frame, its pc, no module; read once only. */
static void test_gone_process(void **state)
{
	struct fixture *f = *state;
	const struct unwind_frame *frames;
	struct unwind_stats stats;
	size_t count;

	chain_outer(SAMPLE_BYTES);
	sample->pid = 0x7ffffff0;
	assert_int_equal(unwind__frames(f->unwind, add(f->unwind), &frames, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(frames[0].address, sample->regs[DL_REG_IP]);
	assert_null(frames[0].module);
	assert_null(frames[0].function);
	sample->sequence = next_sequence++;
	add(f->unwind);
	unwind__stats(f->unwind, &stats);
	assert_int_equal(stats.unmapped, 2);
	assert_int_equal(stats.maps_reads, 0);
}

/* This process's mm->start_code: field 26 of /proc/self/stat. */
static uint64_t start_code(void)
{
	char text[4096], *at;
	unsigned long long value = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

	if (f)
		fclose(f);
	text[n] = '\0';
	at = strrchr(text, ')');
	assert_non_null(at);
	/* After "pid (comm)": state is field 3; startcode is field 26. */
	at += 2;
	for (int field = 3; field < 26 && at; field++)
		at = strchr(at, ' ') ? strchr(at, ' ') + 1 : NULL;
	assert_non_null(at);
	sscanf(at, "%llu", &value);
	return value;
}

/*
 * A process gone before its mappings were read, whose executable the
 * session knows by path: placed by the inode and start of code its sample
 * carries, its frames are symbolized all the same.
 */
static void test_gone_process_known_executable(void **state)
{
	struct fixture *f = *state;
	const struct unwind_frame *frames;
	struct stat st;
	size_t count;

	assert_int_equal(unwind__add_file(f->unwind, "/proc/self/exe", -1), 0);
	assert_int_equal(unwind__add_file(f->unwind, "/no/such/file", 0), -ENOENT);
	assert_int_equal(stat("/proc/self/exe", &st), 0);
	chain_outer(SAMPLE_BYTES);
	sample->pid = 0x7ffffff0;
	sample->exe_inode = st.st_ino;
	sample->exe_start = start_code();
	assert_int_equal(unwind__frames(f->unwind, add(f->unwind), &frames, &count), 0);
	assert_int_equal(find_function(frames, count, "capture"), 0);
	assert_int_equal(find_function(frames, count, "chain_inner"), 1);
	assert_int_equal(find_function(frames, count, "chain_middle"), 2);
	assert_int_equal(find_function(frames, count, "chain_outer"), 3);
	assert_non_null(strstr(frames[1].module, "test_unwind"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_frames_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_matches_libgcc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_path_same_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_process_known_executable, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("unwind", tests, NULL, NULL);
}
