/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
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

#include "elfsyms.h"
#include "unit/elfpatch.h"

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

/*
 * A library to break: a function, and an object in .bss (inside its
 * segment's p_memsz, past its p_filesz: no file bytes behind it).
 */
static const char library_source[] = "char elfsyms_bss_object[65536];\n"
				     "int elfsyms_lib_function(int x)\n"
				     "{\n"
				     "\treturn x * 3 + elfsyms_bss_object[x & 0xff];\n"
				     "}\n";

static char dir[] = "/tmp/elfsyms-test.XXXXXX";
static char library[PATH_MAX];

static int build_library(void **state)
{
	char source[PATH_MAX];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(source, sizeof(source), "%s/lib.c", dir);
	snprintf(library, sizeof(library), "%s/lib.so", dir);
	elfpatch_write_text(source, library_source);
	elfpatch_run("cc -shared -fPIC -g -O1 -o %s %s", library, source);
	return 0;
}

static int remove_library(void **state)
{
	char command[PATH_MAX + 16];

	(void)state;
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	return system(command);
}

/* A fresh copy of the library to patch. */
static const char *copy_library(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	elfpatch_run("cp %s %s", library, path);
	return path;
}

static struct elfsym resolve_one(const char *path, const char *name)
{
	struct elfsym sym;

	assert_int_equal(elfsyms__resolve(path, &name, 1, &sym), 0);
	return sym;
}

/* The function as the pristine library has it: where the patched copies' answers are judged. */
static struct elfsym pristine_function(void)
{
	struct elfsym sym = resolve_one(library, "elfsyms_lib_function");

	assert_true(sym.found);
	assert_true(sym.size > 0);
	assert_true(sym.offset + sym.size <= elfpatch_file_size(library));
	return sym;
}

/* An object in .bss has no bytes in the file: no file offset to give. */
static void test_bss_symbol_not_found(void **state)
{
	struct elfsym sym;
	GElf_Shdr bss;
	GElf_Phdr phdr;
	GElf_Sym esym;
	size_t bss_index = 0;

	(void)state;
	pristine_function();
	/* It is in .bss, in its segment's p_memsz but past its p_filesz. */
	elfpatch_section(library, ".bss", &bss, &bss_index);
	elfpatch_symbol_field(library, "elfsyms_bss_object", 0, &esym);
	assert_int_equal(esym.st_shndx, bss_index);
	elfpatch_load_segment(library, esym.st_value, &phdr);
	assert_true(esym.st_value - phdr.p_vaddr >= phdr.p_filesz);

	sym = resolve_one(library, "elfsyms_bss_object");
	assert_false(sym.found);
	assert_int_equal(sym.offset, 0);
}

/* A size that runs past the segment's file bytes: not found, even though the file goes on. */
static void test_size_past_segment(void **state)
{
	struct elfsym good = pristine_function(), sym;
	const char *path = copy_library("size-past-segment");
	uint64_t field;
	GElf_Phdr phdr;
	GElf_Sym esym;

	(void)state;
	elfpatch_load_segment(path, good.vaddr, &phdr);
	field = elfpatch_symbol_field(path, "elfsyms_lib_function", offsetof(Elf64_Sym, st_size),
				      &esym);
	/* To the segment's last file byte: still good. */
	elfpatch_pwrite_u64(path, field, phdr.p_filesz - (good.vaddr - phdr.p_vaddr));
	sym = resolve_one(path, "elfsyms_lib_function");
	assert_true(sym.found);
	assert_int_equal(sym.offset, good.offset);
	/* One byte more is past it. */
	assert_true(phdr.p_offset + phdr.p_filesz < elfpatch_file_size(path));
	elfpatch_pwrite_u64(path, field, phdr.p_filesz - (good.vaddr - phdr.p_vaddr) + 1);
	assert_false(resolve_one(path, "elfsyms_lib_function").found);
}

/* A size whose end wraps past 2^64 back into the file must not pass for a small one. */
static void test_size_wraps(void **state)
{
	struct elfsym good = pristine_function();
	const char *path = copy_library("size-wraps");
	uint64_t field;
	GElf_Sym esym;

	(void)state;
	field = elfpatch_symbol_field(path, "elfsyms_lib_function", offsetof(Elf64_Sym, st_size),
				      &esym);
	elfpatch_pwrite_u64(path, field, UINT64_MAX - good.offset + 1); /* offset + size == 0 */
	assert_false(resolve_one(path, "elfsyms_lib_function").found);
	elfpatch_pwrite_u64(path, field, UINT64_MAX);
	assert_false(resolve_one(path, "elfsyms_lib_function").found);
}

/* A segment whose p_offset makes the symbol's offset wrap round to 16. */
static void test_segment_offset_wraps(void **state)
{
	struct elfsym good = pristine_function();
	const char *path = copy_library("segment-offset-wraps");
	GElf_Phdr phdr;
	size_t segment = elfpatch_load_segment(path, good.vaddr, &phdr);

	(void)state;
	elfpatch_pwrite_u64(path,
			    elfpatch_phdr_field(path, segment, offsetof(Elf64_Phdr, p_offset)),
			    16 - (good.vaddr - phdr.p_vaddr));
	assert_false(resolve_one(path, "elfsyms_lib_function").found);
}

/* A segment that claims more file bytes than the file has. */
static void test_segment_past_file(void **state)
{
	struct elfsym good = pristine_function();
	const char *path = copy_library("segment-past-file");
	uint64_t file_size = elfpatch_file_size(path);
	GElf_Phdr phdr;
	GElf_Sym esym;
	size_t segment = elfpatch_load_segment(path, good.vaddr, &phdr);

	(void)state;
	elfpatch_pwrite_u64(path,
			    elfpatch_phdr_field(path, segment, offsetof(Elf64_Phdr, p_filesz)),
			    1ull << 40);
	elfpatch_pwrite_u64(path, elfpatch_phdr_field(path, segment, offsetof(Elf64_Phdr, p_memsz)),
			    1ull << 40);
	elfpatch_pwrite_u64(path,
			    elfpatch_symbol_field(path, "elfsyms_lib_function",
						  offsetof(Elf64_Sym, st_size), &esym),
			    file_size - good.offset + 1);
	assert_false(resolve_one(path, "elfsyms_lib_function").found);
}

/*
 * A name cut short by the end of its string table: compared as it is, it
 * would run on into whatever the file holds next (here the rest of the very
 * name), or off the end of the mapping.
 */
static void test_name_not_terminated(void **state)
{
	const char *path = copy_library("name-not-terminated");
	GElf_Shdr symtab;
	GElf_Sym esym;

	(void)state;
	pristine_function();
	elfpatch_section(path, ".symtab", &symtab, NULL);
	elfpatch_symbol_field(path, "elfsyms_lib_function", 0, &esym);
	/* .strtab now ends four bytes into the name. */
	elfpatch_pwrite_u64(
		path, elfpatch_shdr_field(path, symtab.sh_link, offsetof(Elf64_Shdr, sh_size)),
		esym.st_name + 4);
	assert_false(resolve_one(path, "elfsyms_lib_function").found);
}

/*
 * .symtab's sh_link naming a section without bytes (.bss, SHT_NOBITS) as
 * its string table: its data has no buffer to read names from.
 */
static void test_strings_without_bytes(void **state)
{
	const char *path = copy_library("strings-without-bytes");
	GElf_Shdr shdr;
	size_t symtab = 0, bss = 0;

	(void)state;
	elfpatch_section(path, ".symtab", &shdr, &symtab);
	elfpatch_section(path, ".bss", &shdr, &bss);
	elfpatch_pwrite_u32(path, elfpatch_shdr_field(path, symtab, offsetof(Elf64_Shdr, sh_link)),
			    (uint32_t)bss);
	assert_false(resolve_one(path, "elfsyms_lib_function").found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolves_own_function),
		cmocka_unit_test(test_dynsym_only),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_bss_symbol_not_found),
		cmocka_unit_test(test_size_past_segment),
		cmocka_unit_test(test_size_wraps),
		cmocka_unit_test(test_segment_offset_wraps),
		cmocka_unit_test(test_segment_past_file),
		cmocka_unit_test(test_name_not_terminated),
		cmocka_unit_test(test_strings_without_bytes),
	};

	return cmocka_run_group_tests_name("elfsyms", tests, build_library, remove_library);
}
