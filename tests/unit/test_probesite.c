/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "probesite.h"

#define ENDBR64	       0xf3, 0x0f, 0x1e, 0xfa
#define PUSH_R12       0x41, 0x54
#define PUSH_RBP       0x55
#define RET	       0xc3
#define MOV_RSI_TO_RBP 0x48, 0x89, 0xf5 /* mov %rsi,%rbp: reads rsi only */
#define MOV_MEM_TO_RSI 0x48, 0x8b, 0x37 /* mov (%rdi),%rsi: writes rsi */
#define SUB_8_RSP      0x48, 0x83, 0xec, 0x08
#define NOP5	       0x0f, 0x1f, 0x44, 0x00, 0x00

static uint64_t choose(const uint8_t *code, size_t len, unsigned int regs, char *why)
{
	struct probesite site;

	assert_int_equal(probesite__choose_code(code, len, 0x1000, regs, &site), 0);
	assert_int_equal(site.offset, 0x1000 + site.delta);
	strcpy(why, site.why);
	return site.delta;
}

static void test_cet_prologue(void **state)
{
	const uint8_t code[] = { ENDBR64, PUSH_R12, PUSH_RBP, RET };
	char why[160];

	(void)state;
	assert_int_equal(choose(code, sizeof(code), PROBESITE_RSI, why), 4);
	assert_non_null(strstr(why, "push r12"));
	assert_non_null(strstr(why, "endbr64"));
}

static void test_entry_already_cheap(void **state)
{
	const uint8_t push[] = { PUSH_RBP, SUB_8_RSP, RET };
	const uint8_t nop5[] = { NOP5, PUSH_RBP, RET };
	char why[160];

	(void)state;
	assert_int_equal(choose(push, sizeof(push), PROBESITE_RSI, why), 0);
	assert_int_equal(choose(nop5, sizeof(nop5), PROBESITE_RSI, why), 0);
}

/* Moving past instructions is fine while they leave the registers the probe reads alone. */
static void test_argument_registers(void **state)
{
	const uint8_t reads[] = { ENDBR64, MOV_RSI_TO_RBP, PUSH_RBP, RET };
	const uint8_t writes[] = { ENDBR64, MOV_MEM_TO_RSI, PUSH_RBP, RET };
	char why[160];

	(void)state;
	assert_int_equal(choose(reads, sizeof(reads), PROBESITE_RSI, why), 7);
	assert_int_equal(choose(writes, sizeof(writes), PROBESITE_RSI, why), 0);
	assert_non_null(strstr(why, "entry"));
	/* A probe that reads only rdi may pass a write to rsi. */
	assert_int_equal(choose(writes, sizeof(writes), PROBESITE_RDI, why), 7);
}

static void test_stops_at_first_branch(void **state)
{
	const uint8_t code[] = { ENDBR64, 0x74, 0x02 /* je +2 */, PUSH_RBP, RET, PUSH_RBP, RET };
	const uint8_t ret_first[] = { ENDBR64, RET, PUSH_RBP };
	char why[160];

	(void)state;
	assert_int_equal(choose(code, sizeof(code), PROBESITE_RSI, why), 0);
	assert_int_equal(choose(ret_first, sizeof(ret_first), PROBESITE_RSI, why), 0);
}

/* A jump back to the chosen site would run the probe twice in one call: keep the entry. */
static void test_jump_into_prologue(void **state)
{
	const uint8_t code[] = { ENDBR64, PUSH_R12, SUB_8_RSP, 0xeb, 0xf8 /* jmp +4 */, RET };
	char why[160];

	(void)state;
	assert_int_equal(choose(code, sizeof(code), PROBESITE_RSI, why), 0);
	assert_non_null(strstr(why, "+4"));
}

/* A tail call at the entry says where it goes, as a file offset: 0x1000 + 5 + 0x7fb = 0x1800. */
static void test_tail_call_target(void **state)
{
	const uint8_t code[] = { 0xe9, 0xfb, 0x07, 0x00, 0x00 /* jmp rel32 0x7fb */ };
	char why[160];

	(void)state;
	assert_int_equal(choose(code, sizeof(code), PROBESITE_RSI, why), 0);
	if (!strstr(why, "jmp 0x1800"))
		fail_msg("the jump's target is not its real offset: %s", why);
}

static void test_undecodable(void **state)
{
	const uint8_t code[] = { 0x0f, 0x0b, 0xff, 0xff }; /* ud2, then garbage */
	char why[160];

	(void)state;
	assert_int_equal(choose(code, sizeof(code), PROBESITE_RSI, why), 0);
	assert_int_equal(choose(code, 0, PROBESITE_RSI, why), 0);
}

/* What a caller prints must be a string even when nothing could be read. */
static void assert_entry_explained(const struct probesite *site, uint64_t entry, const char *word)
{
	assert_int_equal(site->offset, entry);
	assert_int_equal(site->delta, 0);
	assert_non_null(memchr(site->why, '\0', sizeof(site->why)));
	assert_non_null(strstr(site->why, "entry"));
	assert_non_null(strstr(site->why, word));
}

/* Filled with what an uninitialised stack could hold. */
static struct probesite garbage_site(void)
{
	struct probesite site;

	memset(&site, 0xa5, sizeof(site));
	return site;
}

/* A file that cannot be read: an error, and still the entry with a reason. */
static void test_unreadable_file(void **state)
{
	struct probesite site = garbage_site();

	(void)state;
	assert_int_equal(
		probesite__choose("/nonexistent/libtt_metal.so", 0x1234, 64, PROBESITE_RSI, &site),
		-ENOENT);
	assert_entry_explained(&site, 0x1234, "No such file");
}

/* An offset no file can have (2^63 is negative as an off_t). */
static void test_offset_out_of_range(void **state)
{
	struct probesite site = garbage_site();

	(void)state;
	assert_int_equal(probesite__choose("/proc/self/exe", 1ull << 63, 64, PROBESITE_RSI, &site),
			 -EINVAL);
	assert_entry_explained(&site, 1ull << 63, "offset");
}

/*
 * A file that holds fewer of the function's bytes than its symbol claims:
 * a jump back into the prologue could be in the bytes it lacks, so the
 * prologue seen is no reason to move past the entry.
 */
static void test_file_shorter_than_function(void **state)
{
	const uint8_t code[] = { ENDBR64, PUSH_R12, PUSH_RBP, RET };
	char path[] = "/tmp/probesite-test.XXXXXX";
	struct probesite site = garbage_site();
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, code, sizeof(code)), (ssize_t)sizeof(code));
	assert_int_equal(close(fd), 0);
	/* All of it there: the push after endbr64. */
	assert_int_equal(probesite__choose(path, 0, sizeof(code), PROBESITE_RSI, &site), 0);
	assert_int_equal(site.delta, 4);
	/* Claimed 4096 bytes, 8 in the file. */
	site = garbage_site();
	assert_int_equal(probesite__choose(path, 0, 4096, PROBESITE_RSI, &site), 0);
	assert_entry_explained(&site, 0, "8 of");
	/* Nothing at all there. */
	site = garbage_site();
	assert_int_equal(probesite__choose(path, 64, 16, PROBESITE_RSI, &site), 0);
	assert_entry_explained(&site, 64, "0 of");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cet_prologue),
		cmocka_unit_test(test_tail_call_target),
		cmocka_unit_test(test_entry_already_cheap),
		cmocka_unit_test(test_argument_registers),
		cmocka_unit_test(test_stops_at_first_branch),
		cmocka_unit_test(test_jump_into_prologue),
		cmocka_unit_test(test_undecodable),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_offset_out_of_range),
		cmocka_unit_test(test_file_shorter_than_function),
	};

	return cmocka_run_group_tests_name("probesite", tests, NULL, NULL);
}
