/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "elfsyms.h"

/* A function of this very binary to find, with a body worth comparing. */
__attribute__((noinline)) int elfsyms_test_target(int x)
{
	return x * 7 + (x >> 3) - 11;
}

static void test_resolves_own_function(void **state)
{
	const char *names[] = { "elfsyms_test_target", "no_such_function_anywhere", "main" };
	struct elfsym syms[3];
	unsigned char from_file[16];
	int fd;

	(void)state;
	assert_int_equal(elfsyms__resolve("/proc/self/exe", names, 3, syms), 0);
	assert_true(syms[0].found);
	assert_true(syms[0].size > 0);
	assert_int_equal(syms[0].table, ELFSYM_SYMTAB);
	assert_false(syms[1].found);
	assert_true(syms[2].found);

	/* The bytes at the file offset are the function's code as it runs. */
	fd = open("/proc/self/exe", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, from_file, sizeof(from_file), (off_t)syms[0].offset),
			 (ssize_t)sizeof(from_file));
	close(fd);
	assert_memory_equal(from_file, (const void *)elfsyms_test_target,
			    syms[0].size < sizeof(from_file) ? syms[0].size : sizeof(from_file));
	assert_int_equal(elfsyms_test_target(8), 46);
}

static void test_dynsym_only(void **state)
{
	const char *names[] = { "malloc" };
	struct elfsym sym;
	char libc[4096] = "";
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[4096];

	(void)state;
	while (maps && fgets(line, sizeof(line), maps)) {
		char *path = strchr(line, '/');

		if (path && strstr(path, "/libc.so")) {
			path[strcspn(path, "\n")] = '\0';
			snprintf(libc, sizeof(libc), "%s", path);
			break;
		}
	}
	if (maps)
		fclose(maps);
	assert_true(libc[0]);
	/* Debian's libc is stripped: malloc is found in .dynsym. */
	assert_int_equal(elfsyms__resolve(libc, names, 1, &sym), 0);
	assert_true(sym.found);
	assert_true(sym.size > 0);
}

static void test_not_elf(void **state)
{
	char path[] = "/tmp/elfsyms-test.XXXXXX";
	const char *names[] = { "main" };
	struct elfsym sym;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF file\n", 16), 16);
	close(fd);
	assert_int_equal(elfsyms__resolve(path, names, 1, &sym), -ENOEXEC);
	unlink(path);
	assert_int_equal(elfsyms__resolve("/nonexistent/lib.so", names, 1, &sym), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolves_own_function),
		cmocka_unit_test(test_dynsym_only),
		cmocka_unit_test(test_not_elf),
	};

	return cmocka_run_group_tests_name("elfsyms", tests, NULL, NULL);
}
