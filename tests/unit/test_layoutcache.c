/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The layout cache on two small libraries whose Device::id_ sits at
 * different offsets (so their build-ids differ too): an entry is written
 * whole and then answers in place of the DWARF; an entry for another
 * build-id, a cut-short or garbled one, or one others may write is never
 * believed, and is written again from the DWARF.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dwarflayout.h"
#include "layoutcache.h"
#include "../bpf/devledger.h"
#include "unit/elfpatch.h"

/* Device::id_ after `pad` longs: 8 in library a, 16 in library b. */
static const char library_source[] =
	"namespace tt {\n"
	"namespace tt_metal {\n"
	"class Device {\n"
	"public:\n"
	"\tlong pad_[PAD];\n"
	"\tint id_;\n"
	"\tint id() const { return id_; }\n"
	"};\n"
	"}\n"
	"}\n"
	"int layoutcache_device_id(const tt::tt_metal::Device *device)\n"
	"{\n"
	"\treturn device->id();\n"
	"}\n";

static char dir[] = "/tmp/layoutcache-test.XXXXXX";
static char lib_a[PATH_MAX], lib_b[PATH_MAX], lib_none[PATH_MAX], cache_home[256];

static const struct dwarf_query queries[] = { { "Device", "id_" }, { "Device", "pad_" } };
#define QUERIES (sizeof(queries) / sizeof(queries[0]))

static int build_libraries(void **state)
{
	char source[PATH_MAX];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(source, sizeof(source), "%s/lib.cpp", dir);
	snprintf(lib_a, sizeof(lib_a), "%s/lib-a.so", dir);
	snprintf(lib_b, sizeof(lib_b), "%s/lib-b.so", dir);
	snprintf(lib_none, sizeof(lib_none), "%s/lib-none.so", dir);
	snprintf(cache_home, sizeof(cache_home), "%s/cache", dir);
	elfpatch_write_text(source, library_source);
	elfpatch_run("c++ -shared -fPIC -g -O1 -DPAD=1 -Wl,--build-id=sha1 -o %s %s", lib_a,
		     source);
	elfpatch_run("c++ -shared -fPIC -g -O1 -DPAD=2 -Wl,--build-id=sha1 -o %s %s", lib_b,
		     source);
	elfpatch_run("c++ -shared -fPIC -g -O1 -DPAD=1 -Wl,--build-id=none -o %s %s", lib_none,
		     source);
	return 0;
}

static int remove_libraries(void **state)
{
	char command[PATH_MAX + 16];

	(void)state;
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	return system(command);
}

/* Each test starts with an empty cache of its own. */
static int fresh_cache(void **state)
{
	(void)state;
	elfpatch_run("rm -rf %s", cache_home);
	return setenv("XDG_CACHE_HOME", cache_home, 1);
}

/* The size of the library's .debug_info as readelf tells it (0: none). */
static unsigned long long debug_info_size(const char *library)
{
	char command[PATH_MAX + 128], text[64] = "";
	FILE *f;

	snprintf(command, sizeof(command),
		 "readelf -S -W '%s' | awk '$2 == \".debug_info\" { print $6 }'", library);
	f = popen(command, "r");
	assert_non_null(f);
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	pclose(f);
	return strtoull(text, NULL, 16);
}

/* An entry is kept under the build-id and the debug info's size: a stripped copy has its own. */
static void entry_path(const char *library, char *path, size_t len)
{
	char id[129];

	assert_int_equal(layout_cache__build_id(library, id, sizeof(id)), 0);
	assert_true(snprintf(path, len, "%.255s/devledger/%.128s-%llu.layout", cache_home, id,
			     debug_info_size(library)) < (int)len);
}

static void read_through(const char *library, unsigned int *offsets, struct layout_cache_info *info)
{
	assert_int_equal(layout_cache__read(library, queries, QUERIES, offsets, info), 0);
}

static char *slurp(const char *path)
{
	static char text[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* Replace the first `from` in the entry with `to`, keeping the file's owner and mode. */
static void edit_entry(const char *path, const char *from, const char *to)
{
	char text[4096], *at;

	snprintf(text, sizeof(text), "%s", slurp(path));
	at = strstr(text, from);
	assert_non_null(at);
	{
		char edited[4096];

		snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - text), text, to,
			 at + strlen(from));
		elfpatch_write_text(path, edited);
	}
}

static void test_stored_then_hit(void **state)
{
	struct layout_cache_info info;
	unsigned int offsets[QUERIES];
	char path[PATH_MAX];
	struct stat st;

	(void)state;
	read_through(lib_a, offsets, &info);
	assert_int_equal(info.use, LAYOUT_CACHE_STORED);
	assert_int_equal(offsets[0], 8);
	assert_int_equal(offsets[1], 0);
	entry_path(lib_a, path, sizeof(path));
	assert_string_equal(info.path, path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(strstr(slurp(path), "field Device id_ 8\n"));
	assert_non_null(strstr(slurp(path), "\nend\n"));

	/* The entry, not the DWARF, answers now: an offset changed in it is what comes back. */
	edit_entry(path, "field Device id_ 8", "field Device id_ 40");
	read_through(lib_a, offsets, &info);
	assert_int_equal(info.use, LAYOUT_CACHE_HIT);
	assert_int_equal(offsets[0], 40);
	assert_int_equal(offsets[1], 0);
}

/* A question the entry has no answer for reads the DWARF, and the entry keeps both. */
static void test_new_question_extends_entry(void **state)
{
	const struct dwarf_query more[] = { { "Device", "id_" }, { "Device", "missing_" } };
	struct layout_cache_info info;
	unsigned int offsets[2];
	char path[PATH_MAX];

	(void)state;
	assert_int_equal(layout_cache__read(lib_a, queries, 1, offsets, &info), 0);
	assert_int_equal(layout_cache__read(lib_a, more, 2, offsets, &info), 0);
	assert_int_equal(info.use, LAYOUT_CACHE_STORED);
	assert_int_equal(offsets[0], 8);
	assert_int_equal(offsets[1], DL_OFFSET_UNKNOWN);
	entry_path(lib_a, path, sizeof(path));
	assert_non_null(strstr(slurp(path), "field Device missing_ -\n"));
	assert_int_equal(layout_cache__read(lib_a, more, 2, offsets, &info), 0);
	assert_int_equal(info.use, LAYOUT_CACHE_HIT);
	assert_int_equal(offsets[1], DL_OFFSET_UNKNOWN);
}

/* Library a's entry put where library b's belongs: b's own DWARF answers, and b's entry is made. */
static void test_other_build_id_ignored(void **state)
{
	struct layout_cache_info info;
	unsigned int offsets[QUERIES];
	char path_a[PATH_MAX], path_b[PATH_MAX];

	(void)state;
	read_through(lib_a, offsets, &info);
	entry_path(lib_a, path_a, sizeof(path_a));
	entry_path(lib_b, path_b, sizeof(path_b));
	assert_string_not_equal(path_a, path_b);
	elfpatch_run("cp -p %s %s", path_a, path_b);
	read_through(lib_b, offsets, &info);
	assert_int_equal(info.use, LAYOUT_CACHE_STORED);
	assert_int_equal(offsets[0], 16);
	assert_non_null(strstr(slurp(path_b), "field Device id_ 16\n"));
	read_through(lib_b, offsets, &info);
	assert_int_equal(info.use, LAYOUT_CACHE_HIT);
	assert_int_equal(offsets[0], 16);
}

/* An entry in each damaged shape: not believed, and whole again afterwards. */
static void test_damaged_entries_ignored(void **state)
{
	static const char *const damaged[] = {
		"",						    /* empty */
		"devledger-layout-cache 1 " DEVLEDGER_VERSION "\n", /* cut short */
		"garbage\n",
		"devledger-layout-cache 1 " DEVLEDGER_VERSION
		"\nbuild-id %s\ndebug-info %s\nstatus 0\n"
		"field Device id_ 40\n", /* no end */
		"devledger-layout-cache 1 " DEVLEDGER_VERSION
		"\nbuild-id %s\ndebug-info %s\nstatus 0\n"
		"field Device id_ 4x0\nend\n",
		"devledger-layout-cache 1 " DEVLEDGER_VERSION
		"\nbuild-id %s\ndebug-info %s\nstatus 0\n"
		"field Device id_ 99999999999\nend\n",
		"devledger-layout-cache 1 " DEVLEDGER_VERSION
		"\nbuild-id %s\ndebug-info %s\nstatus 7\nend\n",
		"devledger-layout-cache 1 " DEVLEDGER_VERSION
		"\nbuild-id %s\ndebug-info %s\nstatus 0\n"
		"field Device id_ 40\nend\nfield Device pad_ 0\n", /* past its end */
	};
	struct layout_cache_info info;
	unsigned int offsets[QUERIES];
	char path[PATH_MAX], id[256], text[1024], bytes[32];

	(void)state;
	assert_int_equal(layout_cache__build_id(lib_a, id, sizeof(id)), 0);
	entry_path(lib_a, path, sizeof(path));
	read_through(lib_a, offsets, &info);
	assert_int_equal(sscanf(strstr(slurp(path), "debug-info "), "debug-info %31s", bytes), 1);
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		read_through(lib_a, offsets, &info); /* makes the folder */
		snprintf(text, sizeof(text), damaged[i], id, bytes);
		elfpatch_write_text(path, text);
		assert_int_equal(chmod(path, 0600), 0);
		read_through(lib_a, offsets, &info);
		assert_int_equal(info.use, LAYOUT_CACHE_STORED);
		assert_int_equal(offsets[0], 8);
		assert_non_null(strstr(slurp(path), "field Device id_ 8\n"));
	}
}

/* An entry others may write is not believed either. */
static void test_writable_by_others_ignored(void **state)
{
	struct layout_cache_info info;
	unsigned int offsets[QUERIES];
	char path[PATH_MAX];

	(void)state;
	read_through(lib_a, offsets, &info);
	entry_path(lib_a, path, sizeof(path));
	edit_entry(path, "field Device id_ 8", "field Device id_ 40");
	assert_int_equal(chmod(path, 0666), 0);
	read_through(lib_a, offsets, &info);
	assert_int_equal(info.use, LAYOUT_CACHE_STORED);
	assert_int_equal(offsets[0], 8);
}

/* No build-id: nothing to key an entry by, so the DWARF is read every time. */
static void test_no_build_id(void **state)
{
	struct layout_cache_info info;
	unsigned int offsets[QUERIES];
	char id[256];

	(void)state;
	assert_int_equal(layout_cache__build_id(lib_none, id, sizeof(id)), -ENOENT);
	read_through(lib_none, offsets, &info);
	assert_int_equal(info.use, LAYOUT_CACHE_OFF);
	assert_string_equal(info.path, "");
	assert_int_equal(offsets[0], 8);
}

/*
 * A copy of library a stripped of its DWARF keeps a's build-id: a's entry does
 * not answer for it. Its lack of DWARF is kept, and answered from the entry.
 */
static void test_no_dwarf_cached(void **state)
{
	struct layout_cache_info info;
	unsigned int offsets[QUERIES];
	char stripped[PATH_MAX];

	(void)state;
	snprintf(stripped, sizeof(stripped), "%s/lib-stripped.so", dir);
	elfpatch_run("strip --strip-debug -o %s %s", stripped, lib_a);
	read_through(lib_a, offsets, &info);
	assert_int_equal(layout_cache__read(stripped, queries, QUERIES, offsets, &info), -ENODATA);
	assert_int_equal(info.use, LAYOUT_CACHE_STORED);
	assert_int_equal(layout_cache__read(stripped, queries, QUERIES, offsets, &info), -ENODATA);
	assert_int_equal(info.use, LAYOUT_CACHE_HIT);
	assert_int_equal(offsets[0], DL_OFFSET_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_stored_then_hit, fresh_cache),
		cmocka_unit_test_setup(test_new_question_extends_entry, fresh_cache),
		cmocka_unit_test_setup(test_other_build_id_ignored, fresh_cache),
		cmocka_unit_test_setup(test_damaged_entries_ignored, fresh_cache),
		cmocka_unit_test_setup(test_writable_by_others_ignored, fresh_cache),
		cmocka_unit_test_setup(test_no_build_id, fresh_cache),
		cmocka_unit_test_setup(test_no_dwarf_cached, fresh_cache),
	};

	return cmocka_run_group_tests(tests, build_libraries, remove_libraries);
}
