/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Field offsets from a small C++ library's DWARF, plain and with its debug
 * sections compressed, and what hostile copies of it (patched compression
 * headers, sections flagged compressed with no bytes) must not do: crash,
 * or make devledger allocate what the file declares.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dwarflayout.h"
#include "../bpf/devledger.h"
#include "unit/elfpatch.h"

/* Device::id_ at 8, as in tt-metal; a .bss to flag. */
static const char library_source[] =
	"namespace tt {\n"
	"namespace tt_metal {\n"
	"class Device {\n"
	"public:\n"
	"\tlong pad_;\n"
	"\tint id_;\n"
	"\tint id() const { return id_; }\n"
	"};\n"
	"}\n"
	"}\n"
	"char dwarflayout_bss[4096];\n"
	"int dwarflayout_device_id(const tt::tt_metal::Device *device)\n"
	"{\n"
	"\treturn device->id() + dwarflayout_bss[0];\n"
	"}\n";

#define DEVICE_ID_OFFSET 8
#define MIB		 (1ull << 20)

static char dir[] = "/tmp/dwarflayout-test.XXXXXX";

/* The plain library and its copies compressed by objcopy, each way libdw or devledger reads. */
static const char *const variants[] = { "plain", "zstd", "zlib", "zlib-gnu" };

static const char *variant_path(const char *variant)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/lib-%s.so", dir, variant);
	return path;
}

static int build_libraries(void **state)
{
	char source[PATH_MAX], plain[PATH_MAX];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(source, sizeof(source), "%s/lib.cpp", dir);
	snprintf(plain, sizeof(plain), "%s", variant_path("plain"));
	elfpatch_write_text(source, library_source);
	elfpatch_run("c++ -shared -fPIC -g -O1 -o %s %s", plain, source);
	for (size_t i = 1; i < sizeof(variants) / sizeof(variants[0]); i++)
		elfpatch_run("objcopy --compress-debug-sections=%s %s %s", variants[i], plain,
			     variant_path(variants[i]));
	return 0;
}

static int remove_libraries(void **state)
{
	char command[PATH_MAX + 16];

	(void)state;
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	return system(command);
}

/* A fresh copy of one variant to patch. */
static const char *copy_variant(const char *variant, const char *name)
{
	static char path[PATH_MAX];
	char from[PATH_MAX];

	snprintf(from, sizeof(from), "%s", variant_path(variant));
	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	elfpatch_run("cp %s %s", from, path);
	return path;
}

/* Device::id_'s offset as the library's DWARF tells it. */
static int read_id(const char *path, unsigned int *offset)
{
	const struct dwarf_query query = { "Device", "id_" };

	return dwarf_layout__read(path, &query, 1, offset);
}

static void assert_device_id_read(const char *path)
{
	unsigned int offset;

	assert_int_equal(read_id(path, &offset), 0);
	assert_int_equal(offset, DEVICE_ID_OFFSET);
}

/* Where a section's compression header says how large it inflates. */
static uint64_t declared_size_field(const char *path, const char *section, GElf_Shdr *shdr)
{
	Elf64_Chdr chdr;

	elfpatch_section(path, section, shdr, NULL);
	assert_true(shdr->sh_flags & SHF_COMPRESSED);
	elfpatch_pread(path, shdr->sh_offset, &chdr, sizeof(chdr));
	assert_true(chdr.ch_size > 0);
	return shdr->sh_offset + offsetof(Elf64_Chdr, ch_size);
}

/* The same offsets from every variant: the compressed ones are really read. */
static void test_reads_every_variant(void **state)
{
	GElf_Shdr shdr;

	(void)state;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		assert_device_id_read(variant_path(variants[i]));
	declared_size_field(variant_path("zstd"), ".debug_info", &shdr);
	declared_size_field(variant_path("zlib"), ".debug_info", &shdr);
	elfpatch_section(variant_path("zlib-gnu"), ".zdebug_info", &shdr, NULL);
}

/*
 * A section flagged SHF_COMPRESSED without bytes to hold a header: .bss
 * (SHT_NOBITS: its data has no buffer), and one shorter than the header.
 * Neither is a debug section: the DWARF is read as if they were not flagged.
 */
static void test_compressed_without_bytes(void **state)
{
	GElf_Shdr shdr;
	size_t index = 0;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const char *variant = i == 0 ? "plain" : "zstd";
		const char *path = copy_variant(variant, "compressed-without-bytes");

		elfpatch_section(path, ".bss", &shdr, &index);
		assert_int_equal(shdr.sh_type, SHT_NOBITS);
		assert_true(shdr.sh_size >= sizeof(Elf64_Chdr));
		elfpatch_pwrite_u64(
			path, elfpatch_shdr_field(path, index, offsetof(Elf64_Shdr, sh_flags)),
			shdr.sh_flags | SHF_COMPRESSED);
		assert_device_id_read(path);

		elfpatch_section(path, ".comment", &shdr, &index);
		elfpatch_pwrite_u64(
			path, elfpatch_shdr_field(path, index, offsetof(Elf64_Shdr, sh_flags)),
			shdr.sh_flags | SHF_COMPRESSED);
		elfpatch_pwrite_u64(path,
				    elfpatch_shdr_field(path, index, offsetof(Elf64_Shdr, sh_size)),
				    sizeof(Elf64_Chdr) - 1);
		assert_device_id_read(path);
	}
}

/* A zstd section that declares 600 MiB: past 64 times its size and past 512 MiB. */
static void test_zstd_bomb(void **state)
{
	const char *path = copy_variant("zstd", "zstd-bomb");
	unsigned int offset;
	GElf_Shdr shdr;

	(void)state;
	elfpatch_pwrite_u64(path, declared_size_field(path, ".debug_info", &shdr), 600 * MIB);
	assert_int_equal(read_id(path, &offset), -EFBIG);
	assert_int_equal(offset, DL_OFFSET_UNKNOWN);
	/* One that could never be allocated at all. */
	elfpatch_pwrite_u64(path, declared_size_field(path, ".debug_info", &shdr), UINT64_MAX);
	assert_int_equal(read_id(path, &offset), -EFBIG);
}

/* Two sections of 300 MiB each: each under 512 MiB, together past it. */
static void test_bomb_across_sections(void **state)
{
	const char *path = copy_variant("zstd", "bomb-across-sections");
	unsigned int offset;
	GElf_Shdr shdr;

	(void)state;
	elfpatch_pwrite_u64(path, declared_size_field(path, ".debug_info", &shdr), 300 * MIB);
	elfpatch_pwrite_u64(path, declared_size_field(path, ".debug_abbrev", &shdr), 300 * MIB);
	assert_int_equal(read_id(path, &offset), -EFBIG);
}

/*
 * Past the ratio but well under 512 MiB is not refused: a real library may
 * have an odd section that compresses very well. This one lies about its
 * size, which the inflation itself finds.
 */
static void test_ratio_alone_not_refused(void **state)
{
	const char *path = copy_variant("zstd", "ratio-alone");
	unsigned int offset;
	GElf_Shdr shdr;
	uint64_t field = declared_size_field(path, ".debug_info", &shdr);

	(void)state;
	elfpatch_pwrite_u64(path, field, 100 * shdr.sh_size);
	assert_int_equal(read_id(path, &offset), -EBADMSG);
	assert_int_equal(offset, DL_OFFSET_UNKNOWN);
}

/* libdw inflates zlib sections itself: their headers are checked before it sees them. */
static void test_zlib_bomb(void **state)
{
	const char *path = copy_variant("zlib", "zlib-bomb");
	unsigned int offset;
	GElf_Shdr shdr;

	(void)state;
	elfpatch_pwrite_u64(path, declared_size_field(path, ".debug_info", &shdr), 600 * MIB);
	assert_int_equal(read_id(path, &offset), -EFBIG);
	assert_int_equal(offset, DL_OFFSET_UNKNOWN);
}

/* GNU-style .zdebug sections too: "ZLIB", then the size, big-endian, then the stream. */
static void test_zlib_gnu_bomb(void **state)
{
	const char *path = copy_variant("zlib-gnu", "zlib-gnu-bomb");
	const uint8_t size[8] = { 0, 0, 0, 0, 0x25, 0x80, 0, 0 }; /* 600 MiB */
	unsigned int offset;
	char magic[4];
	GElf_Shdr shdr;

	(void)state;
	elfpatch_section(path, ".zdebug_info", &shdr, NULL);
	elfpatch_pread(path, shdr.sh_offset, magic, sizeof(magic));
	assert_memory_equal(magic, "ZLIB", 4);
	elfpatch_pwrite(path, shdr.sh_offset + 4, size, sizeof(size));
	assert_int_equal(read_id(path, &offset), -EFBIG);
	assert_int_equal(offset, DL_OFFSET_UNKNOWN);
}

/* Where the string `name` starts in a string section, or -1: a whole string, not a tail. */
static long string_at(const char *strings, size_t size, const char *name)
{
	size_t len = strlen(name);

	for (size_t at = 0; at + len < size; at += strlen(strings + at) + 1)
		if (!memcmp(strings + at, name, len + 1))
			return (long)at;
	return -1;
}

/*
 * A name that does not end where its section does. libdw 0.188 hands out a
 * name from .debug_str without checking that it ends inside the section,
 * and the fuzzer found devledger reading past the end of a zstd section it
 * had inflated (a heap overflow under ASan); a zlib section (inflated by
 * libelf) or a plain one (mapped) is read past the same way. Here .debug_str
 * ends right after the last of the names read on the way to Device.id_,
 * without its NUL: that name must not be used (and make sanitize checks
 * that nothing is read past the section). Whichever name it is, Device.id_
 * is found only if it was pad_, skipped as nameless.
 */
static void test_unterminated_name(void **state)
{
	const char *const names[] = { "tt_metal", "Device", "pad_" };
	const char *const compressions[] = { "none", "zstd", "zlib" };
	char plain[PATH_MAX], path[PATH_MAX], *strings;
	const char *last = NULL;
	unsigned int offset;
	size_t index = 0;
	long cut = -1;
	GElf_Shdr shdr;

	(void)state;
	snprintf(plain, sizeof(plain), "%s", copy_variant("plain", "unterminated"));
	elfpatch_section(plain, ".debug_str", &shdr, &index);
	strings = malloc(shdr.sh_size);
	assert_non_null(strings);
	elfpatch_pread(plain, shdr.sh_offset, strings, shdr.sh_size);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		long at = string_at(strings, shdr.sh_size, names[i]);

		assert_true(at >= 0);
		if (at + (long)strlen(names[i]) > cut) {
			cut = at + (long)strlen(names[i]);
			last = names[i];
		}
	}
	free(strings);
	elfpatch_pwrite_u64(plain, elfpatch_shdr_field(plain, index, offsetof(Elf64_Shdr, sh_size)),
			    (uint64_t)cut);
	for (size_t i = 0; i < sizeof(compressions) / sizeof(compressions[0]); i++) {
		snprintf(path, sizeof(path), "%s/unterminated-%s.so", dir, compressions[i]);
		elfpatch_run("objcopy --compress-debug-sections=%s %s %s", compressions[i], plain,
			     path);
		offset = 0;
		assert_int_equal(read_id(path, &offset), 0);
		assert_int_equal(offset,
				 strcmp(last, "pad_") ? DL_OFFSET_UNKNOWN : DEVICE_ID_OFFSET);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_every_variant),
		cmocka_unit_test(test_compressed_without_bytes),
		cmocka_unit_test(test_zstd_bomb),
		cmocka_unit_test(test_bomb_across_sections),
		cmocka_unit_test(test_ratio_alone_not_refused),
		cmocka_unit_test(test_zlib_bomb),
		cmocka_unit_test(test_zlib_gnu_bomb),
		cmocka_unit_test(test_unterminated_name),
	};

	return cmocka_run_group_tests_name("dwarflayout", tests, build_libraries, remove_libraries);
}
