/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is a call still there: directly, through the PLT, or gone; and a library
 * with a huge .plt costs little to look through.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "elfsyms.h"
#include "inlining.h"
#include "unit/elfpatch.h"

static char dir[] = "/tmp/devledger-inlining-XXXXXX";
static char lib[PATH_MAX];

/* caller() calls callee() through the PLT (callee is not defined here); quiet() calls nothing. */
static const char source[] = "extern void callee(void);\n"
			     "void caller(void) { callee(); }\n"
			     "void quiet(void) { __asm__ volatile(\"\" ::: \"memory\"); }\n"
			     "void twice(int x) { if (x) callee(); callee(); }\n";

static int setup(void **state)
{
	char src[PATH_MAX];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(src, sizeof(src), "%s/lib.c", dir);
	snprintf(lib, sizeof(lib), "%s/lib.so", dir);
	elfpatch_write_text(src, source);
	elfpatch_run("cc -shared -fPIC -O1 -o %s %s", lib, src);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	elfpatch_run("rm -rf %s", dir);
	return 0;
}

static void resolve(const char *path, struct elfsym *caller, struct elfsym *quiet)
{
	const char *names[] = { "caller", "quiet" };
	struct elfsym syms[2];

	assert_int_equal(elfsyms__resolve(path, names, 2, syms), 0);
	assert_true(syms[0].found && syms[1].found);
	*caller = syms[0];
	*quiet = syms[1];
}

/* The callee is not in the library: only its PLT stub tells the call. */
static void test_call_through_plt(void **state)
{
	struct elfsym caller, quiet, callee = { .found = false, .vaddr = 0 };

	(void)state;
	resolve(lib, &caller, &quiet);
	assert_int_equal(inlining__calls(lib, &caller, &callee, "callee"), 1);
	assert_int_equal(inlining__calls(lib, &quiet, &callee, "callee"), 0);
	/* A caller said to lie past the file's end cannot be read: an error, not a crash. */
	caller.offset = UINT64_MAX - 8;
	assert_true(inlining__calls(lib, &caller, &callee, "callee") < 0);
}

/*
 * Where the calls are: each one's place past the caller's entry (a call or a
 * tail jump, e8 or e9 with a 32-bit displacement), all of them counted even
 * past the room given.
 */
static void test_call_sites(void **state)
{
	const char *names[] = { "caller", "quiet", "twice" };
	struct elfsym syms[3], callee = { .found = false, .vaddr = 0 };
	uint64_t deltas[2] = { 0, 0 }, one = 0;

	(void)state;
	assert_int_equal(elfsyms__resolve(lib, names, 3, syms), 0);
	assert_int_equal(inlining__call_sites(lib, &syms[0], &callee, "callee", deltas, 2), 1);
	assert_true(deltas[0] < syms[0].size);
	assert_int_equal(inlining__call_sites(lib, &syms[1], &callee, "callee", deltas, 2), 0);
	assert_int_equal(inlining__call_sites(lib, &syms[2], &callee, "callee", deltas, 2), 2);
	assert_true(deltas[0] < deltas[1] && deltas[1] < syms[2].size);
	for (int i = 0; i < 2; i++) {
		uint8_t opcode;

		elfpatch_pread(lib, syms[2].offset + deltas[i], &opcode, 1);
		assert_true(opcode == 0xe8 || opcode == 0xe9);
	}
	assert_int_equal(inlining__call_sites(lib, &syms[2], &callee, "callee", &one, 1), 2);
	assert_int_equal(one, deltas[0]);
}

/*
 * 4 MiB of PLT to look through, with no stub for the callee in it: decoding
 * it whole with details once cost gigabytes. Now one instruction at a time,
 * and a bounded number of them.
 */
static void test_huge_plt(void **state)
{
	char big[PATH_MAX], fill[PATH_MAX];
	struct elfsym caller, quiet, callee = { .found = false, .vaddr = 0 };
	struct rusage before, after;

	(void)state;
	snprintf(fill, sizeof(fill), "%s/nops", dir);
	snprintf(big, sizeof(big), "%s/big.so", dir);
	elfpatch_run("head -c 4194304 /dev/zero | tr '\\000' '\\220' > %s", fill);
	/* The real .plt renamed away: the search must go through the big one to the end. */
	elfpatch_run("objcopy --rename-section .plt=.xplt --add-section .plt.big=%s "
		     "--set-section-flags .plt.big=alloc,code,readonly %s %s 2>/dev/null",
		     fill, lib, big);
	resolve(big, &caller, &quiet);
	getrusage(RUSAGE_SELF, &before);
	assert_int_equal(inlining__calls(big, &caller, &callee, "callee"), 0);
	getrusage(RUSAGE_SELF, &after);
	/* ru_maxrss is in KiB: less than 64 MiB more than before. */
	if (after.ru_maxrss - before.ru_maxrss > 64 * 1024)
		fail_msg("looking through the PLT took %ld KiB",
			 after.ru_maxrss - before.ru_maxrss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_through_plt),
		cmocka_unit_test(test_call_sites),
		cmocka_unit_test(test_huge_plt),
	};

	return cmocka_run_group_tests_name("inlining", tests, setup, teardown);
}
