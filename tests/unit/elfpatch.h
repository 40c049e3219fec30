/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hostile libraries for the parsers' tests. devledger runs as root on any
 * library a local user puts in front of it, so its parsers are tested on a
 * small library the test builds, copied and then patched in place at offsets
 * found with gelf: a few bytes changed, nothing committed. The library is
 * taken to be x86-64 (ELFCLASS64, little-endian), as the machine building it.
 *
 * Include after <cmocka.h>: every helper fails the running test on error.
 */
#ifndef DEVLEDGER_TESTS_ELFPATCH_H
#define DEVLEDGER_TESTS_ELFPATCH_H

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Run a shell command; the test fails unless it exits 0. */
static inline void elfpatch_run(const char *format, ...)
{
	char command[3 * PATH_MAX];
	va_list args;
	int status;

	va_start(args, format);
	vsnprintf(command, sizeof(command), format, args);
	va_end(args);
	status = system(command);
	if (status != 0)
		fail_msg("'%s' exited %d", command, status);
}

static inline void elfpatch_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static inline uint64_t elfpatch_file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static inline void elfpatch_pwrite(const char *path, uint64_t offset, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, (off_t)offset), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static inline void elfpatch_pwrite_u64(const char *path, uint64_t offset, uint64_t value)
{
	elfpatch_pwrite(path, offset, &value, sizeof(value));
}

static inline void elfpatch_pwrite_u32(const char *path, uint64_t offset, uint32_t value)
{
	elfpatch_pwrite(path, offset, &value, sizeof(value));
}

static inline void elfpatch_pread(const char *path, uint64_t offset, void *bytes, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, bytes, len, (off_t)offset), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* An ELF handle on path, read only; elfpatch_close ends it. */
static inline Elf *elfpatch_open(const char *path, int *fd)
{
	Elf *elf;

	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(*fd >= 0);
	elf = elf_begin(*fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(gelf_getclass(elf), ELFCLASS64);
	return elf;
}

static inline void elfpatch_close(Elf *elf, int fd)
{
	elf_end(elf);
	close(fd);
}

/* The section called name: its header, and its index when index is not NULL. */
static inline void elfpatch_section(const char *path, const char *name, GElf_Shdr *shdr,
				    size_t *index)
{
	Elf_Scn *scn = NULL;
	size_t names;
	int fd;
	Elf *elf = elfpatch_open(path, &fd);

	assert_int_equal(elf_getshdrstrndx(elf, &names), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		const char *here;

		assert_non_null(gelf_getshdr(scn, shdr));
		here = elf_strptr(elf, names, shdr->sh_name);
		if (here && !strcmp(here, name)) {
			if (index)
				*index = elf_ndxscn(scn);
			elfpatch_close(elf, fd);
			return;
		}
	}
	elfpatch_close(elf, fd);
	fail_msg("%s: no section %s", path, name);
}

/* Where in the file a field of section index's header is (field: offsetof(Elf64_Shdr, ...)). */
static inline uint64_t elfpatch_shdr_field(const char *path, size_t index, size_t field)
{
	GElf_Ehdr ehdr;
	int fd;
	Elf *elf = elfpatch_open(path, &fd);

	assert_non_null(gelf_getehdr(elf, &ehdr));
	elfpatch_close(elf, fd);
	return ehdr.e_shoff + index * ehdr.e_shentsize + field;
}

/* Where in the file a field of program header index is (field: offsetof(Elf64_Phdr, ...)). */
static inline uint64_t elfpatch_phdr_field(const char *path, size_t index, size_t field)
{
	GElf_Ehdr ehdr;
	int fd;
	Elf *elf = elfpatch_open(path, &fd);

	assert_non_null(gelf_getehdr(elf, &ehdr));
	elfpatch_close(elf, fd);
	return ehdr.e_phoff + index * ehdr.e_phentsize + field;
}

/*
 * The .symtab entry of the symbol called name: a copy, and where in the
 * file a field of it is (field: offsetof(Elf64_Sym, ...)).
 */
static inline uint64_t elfpatch_symbol_field(const char *path, const char *name, size_t field,
					     GElf_Sym *sym)
{
	GElf_Shdr shdr;
	Elf_Scn *scn;
	Elf_Data *data;
	size_t symtab = 0;
	int fd;
	Elf *elf;

	elfpatch_section(path, ".symtab", &shdr, &symtab);
	elf = elfpatch_open(path, &fd);
	scn = elf_getscn(elf, symtab);
	data = elf_getdata(scn, NULL);
	assert_non_null(data);
	for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
		const char *here;

		assert_non_null(gelf_getsym(data, (int)i, sym));
		here = elf_strptr(elf, shdr.sh_link, sym->st_name);
		if (here && !strcmp(here, name) && sym->st_shndx != SHN_UNDEF) {
			elfpatch_close(elf, fd);
			return shdr.sh_offset + i * shdr.sh_entsize + field;
		}
	}
	elfpatch_close(elf, fd);
	fail_msg("%s: no symbol %s", path, name);
	return 0;
}

/* The index of the PT_LOAD segment holding vaddr, and its header. */
static inline size_t elfpatch_load_segment(const char *path, uint64_t vaddr, GElf_Phdr *phdr)
{
	size_t count;
	int fd;
	Elf *elf = elfpatch_open(path, &fd);

	assert_int_equal(elf_getphdrnum(elf, &count), 0);
	for (size_t i = 0; i < count; i++) {
		assert_non_null(gelf_getphdr(elf, (int)i, phdr));
		if (phdr->p_type == PT_LOAD && vaddr >= phdr->p_vaddr &&
		    vaddr - phdr->p_vaddr < phdr->p_memsz) {
			elfpatch_close(elf, fd);
			return i;
		}
	}
	elfpatch_close(elf, fd);
	fail_msg("%s: no segment holds 0x%llx", path, (unsigned long long)vaddr);
	return 0;
}

#endif /* DEVLEDGER_TESTS_ELFPATCH_H */
