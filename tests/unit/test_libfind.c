/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "libfind.h"

static char dir[] = "/tmp/libfind-test.XXXXXX";

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/libfind-test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char command[PATH_MAX + 16];

	(void)state;
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	return system(command);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_maps(void **state)
{
	char out[PATH_MAX];
	const char *maps;

	(void)state;
	maps = write_file("maps",
			  "55d0-55d1 r--p 00000000 08:01 1 /usr/bin/python3.11\n"
			  "7f00-7f01 r--p 00000000 08:01 2 /opt/tt/build/lib/libtt_metal.so\n"
			  "7f02-7f03 r-xp 00001000 08:01 2 /opt/tt/build/lib/libtt_metal.so\n"
			  "7ffd-7ffe rw-p 00000000 00:00 0 [stack]\n");
	assert_int_equal(libfind__from_pid(1, maps, out, sizeof(out)), 0);
	assert_string_equal(out, "/opt/tt/build/lib/libtt_metal.so");

	/* A versioned name counts too. */
	maps = write_file("maps", "7f00-7f01 r--p 00000000 08:01 2 /x/libtt_metal.so.0.1\n");
	assert_int_equal(libfind__from_pid(1, maps, out, sizeof(out)), 0);
	assert_string_equal(out, "/x/libtt_metal.so.0.1");

	/* A library replaced on disk since it was mapped cannot be probed. */
	maps = write_file("maps", "7f00-7f01 r--p 00000000 08:01 2 /x/libtt_metal.so (deleted)\n");
	assert_int_equal(libfind__from_pid(1, maps, out, sizeof(out)), -ENOENT);

	/* Not mapped at all; a similar name is not the library. */
	maps = write_file("maps", "7f00-7f01 r--p 00000000 08:01 2 /x/libtt_metal_extra.so\n"
				  "7f00-7f01 r--p 00000000 08:01 2 /x/libttnn.so\n");
	assert_int_equal(libfind__from_pid(1, maps, out, sizeof(out)), -ENOENT);
	assert_int_equal(libfind__from_pid(1, "/nonexistent/maps", out, sizeof(out)), -ENOENT);
}

/* The line parser on its own: where the path is, exactly; the newline is not part of it. */
static void test_maps_line(void **state)
{
	const char *line = "7f00-7f01 r-xp 00001000 08:01 2 /opt/lib/libtt_metal.so\n";
	size_t start = 0, len = 0;

	(void)state;
	assert_int_equal(libfind__maps_line(line, &start, &len), LIBFIND_MAPS_LIBRARY);
	assert_int_equal(start, 32);
	assert_int_equal(len, strlen("/opt/lib/libtt_metal.so"));
	/* No newline (the last line, or a piece of a longer one): the path runs to the NUL. */
	assert_int_equal(libfind__maps_line("0-1 r--p 0 0:0 0 /libtt_metal.so.1", &start, &len),
			 LIBFIND_MAPS_LIBRARY);
	assert_int_equal(start, 17);
	assert_int_equal(len, strlen("/libtt_metal.so.1"));
	assert_int_equal(
		libfind__maps_line("0-1 r--p 0 0:0 0 /x/libtt_metal.so (deleted)\n", &start, &len),
		LIBFIND_MAPS_DELETED);
	assert_int_equal(len, strlen("/x/libtt_metal.so (deleted)"));
	/* The name must be the path's last component: a folder called so does not count. */
	assert_int_equal(
		libfind__maps_line("0-1 r--p 0 0:0 0 /libtt_metal.so/x.so\n", &start, &len),
		LIBFIND_MAPS_OTHER);
	assert_int_equal(libfind__maps_line("0-1 rw-p 0 0:0 0 [heap]\n", &start, &len),
			 LIBFIND_MAPS_OTHER);
	assert_int_equal(libfind__maps_line("", &start, &len), LIBFIND_MAPS_OTHER);
	/* A " (deleted)" past the newline is another line's. */
	assert_int_equal(
		libfind__maps_line("0-1 r--p 0 0:0 0 /libtt_metal.so\n (deleted)", &start, &len),
		LIBFIND_MAPS_LIBRARY);
}

/* The path of a mapped file, by its kernel name (dev, inode) or by its name alone. */
static void test_mapped(void **state)
{
	char out[PATH_MAX], real[PATH_MAX];
	const char *path = write_file("libtt_metal.so", "stand-in\n");
	struct libfind_file file, other;
	struct stat st;
	void *map;
	int fd;

	(void)state;
	assert_int_equal(libfind__mapped(getpid(), NULL, out, sizeof(out)), -ENOENT);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(fstat(fd, &st), 0);
	assert_non_null(realpath(path, real));
	file = (struct libfind_file){ ((unsigned long long)major(st.st_dev) << 20) |
					      minor(st.st_dev),
				      st.st_ino };
	other = (struct libfind_file){ file.dev, file.ino + 1 };
	assert_int_equal(libfind__mapped(getpid(), NULL, out, sizeof(out)), 0);
	assert_string_equal(out, real);
	out[0] = '\0';
	assert_int_equal(libfind__mapped(getpid(), &file, out, sizeof(out)), 0);
	assert_string_equal(out, real);
	assert_int_equal(libfind__mapped(getpid(), &other, out, sizeof(out)), -ENOENT);
	munmap(map, 4096);
	close(fd);
	assert_int_equal(libfind__mapped(getpid(), &file, out, sizeof(out)), -ENOENT);
}

static void test_tt_metal_home(void **state)
{
	char out[PATH_MAX], lib[PATH_MAX], tried[PATH_MAX + 64];

	(void)state;
	unsetenv("TT_METAL_HOME");
	assert_int_equal(libfind__default(out, sizeof(out), tried, sizeof(tried)), -ENOENT);
	assert_non_null(strstr(tried, "TT_METAL_HOME not set"));
	setenv("TT_METAL_HOME", dir, 1);
	/* no such file yet */
	assert_int_equal(libfind__default(out, sizeof(out), tried, sizeof(tried)), -ENOENT);
	snprintf(lib, sizeof(lib), "%s/build", dir);
	assert_int_equal(mkdir(lib, 0755), 0);
	snprintf(lib, sizeof(lib), "%s/build/lib", dir);
	assert_int_equal(mkdir(lib, 0755), 0);
	write_file("build/lib/libtt_metal.so", "stand-in\n");
	assert_int_equal(libfind__default(out, sizeof(out), tried, sizeof(tried)), 0);
	snprintf(lib, sizeof(lib), "%s/build/lib/libtt_metal.so", dir);
	assert_string_equal(out, lib);
	/* A script is not asked about its dependencies: the fallback applies. */
	assert_int_equal(libfind__for_command("/bin/sh", out, sizeof(out)), 0);
	assert_string_equal(out, lib);
	unsetenv("TT_METAL_HOME");
}

/* The dynamic loader is asked, the command never runs: /bin/ls's libc, found the same way. */
static void test_ask_loader(void **state)
{
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(libfind__ask_loader("/bin/ls", "libc.so.6", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "/libc.so.6"));
	assert_int_equal(access(out, R_OK), 0);
	assert_int_equal(libfind__ask_loader("/bin/ls", "libtt_metal.so", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(libfind__ask_loader(write_file("script", "#!/bin/sh\nexit 0\n"),
					     "libc.so.6", out, sizeof(out)),
			 -ENOEXEC);
}

static void test_check_lib(void **state)
{
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(libfind__check("/nonexistent/libtt_metal.so", out, sizeof(out)), -ENOENT);
	assert_int_equal(libfind__check(write_file("text.so", "text\n"), out, sizeof(out)),
			 -ENOEXEC);
	assert_int_equal(libfind__check("/bin/ls", out, sizeof(out)), 0);
	assert_true(out[0] == '/');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_maps, setup, teardown),
		cmocka_unit_test(test_maps_line),
		cmocka_unit_test_setup_teardown(test_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tt_metal_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask_loader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lib, setup, teardown),
	};

	return cmocka_run_group_tests_name("libfind", tests, NULL, NULL);
}
