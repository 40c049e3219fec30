/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libbpf can attach a uprobe by function name, but it rescans the whole ELF
 * for every probe; tt-metal's library has hundreds of thousands of symbols.
 * Here every wanted name is looked up in a single pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfsyms.h"

struct wanted {
	const char *name;
	size_t index;
};

static int compare_wanted(const void *a, const void *b)
{
	return strcmp(((const struct wanted *)a)->name, ((const struct wanted *)b)->name);
}

/*
 * The file offset of a symbol through the PT_LOAD segment holding it. A
 * library is anybody's input and its headers may claim anything, so the
 * whole symbol must lie in the bytes the file backs: within the segment's
 * p_filesz (an object in .bss has none) and within the file itself, or a
 * probe site or a read of the function lands past them. Every bound is
 * checked without an addition that can wrap.
 */
static int symbol_offset(Elf *elf, uint64_t file_size, uint64_t vaddr, uint64_t size,
			 uint64_t *offset)
{
	size_t count;

	if (elf_getphdrnum(elf, &count))
		return -ENOEXEC;
	for (size_t i = 0; i < count; i++) {
		uint64_t delta;
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_LOAD)
			continue;
		if (vaddr < phdr.p_vaddr || vaddr - phdr.p_vaddr >= phdr.p_memsz)
			continue;
		delta = vaddr - phdr.p_vaddr;
		if (delta >= phdr.p_filesz || size > phdr.p_filesz - delta)
			return -ERANGE;
		if (phdr.p_offset > file_size || delta >= file_size - phdr.p_offset ||
		    size > file_size - phdr.p_offset - delta)
			return -ERANGE;
		*offset = phdr.p_offset + delta;
		return 0;
	}
	return -ENOENT;
}

/* The string table sh_link names: a real one (SHT_NOBITS has no bytes), or NULL. */
static Elf_Data *string_table(Elf *elf, size_t index)
{
	Elf_Scn *scn = elf_getscn(elf, index);
	Elf_Data *strings;
	GElf_Shdr shdr;

	if (!scn || !gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_STRTAB)
		return NULL;
	strings = elf_getdata(scn, NULL);
	return strings && strings->d_buf && strings->d_size ? strings : NULL;
}

/*
 * Walk one symbol table. The symbols and their names are read in place
 * (tt-metal's library has hundreds of thousands): gelf_getsym and
 * elf_strptr per symbol cost more than the comparisons themselves.
 */
static size_t scan_table(Elf *elf, uint64_t file_size, Elf_Scn *scn, const GElf_Shdr *shdr,
			 enum elfsym_table table, const struct wanted *wanted, size_t count,
			 struct elfsym *syms)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	Elf_Data *strings = string_table(elf, shdr->sh_link);
	size_t n = shdr->sh_entsize ? shdr->sh_size / shdr->sh_entsize : 0, found = 0;
	const Elf64_Sym *symbols;
	const char *names;
	bool terminated;

	if (!data || !data->d_buf || !strings || gelf_getclass(elf) != ELFCLASS64 ||
	    shdr->sh_entsize != sizeof(Elf64_Sym) || data->d_size < n * sizeof(Elf64_Sym))
		return 0;
	symbols = data->d_buf;
	names = strings->d_buf;
	/*
	 * strcmp must find each name's NUL inside the table, not past it. A
	 * table that ends in a NUL holds one after every name; only one that
	 * does not (a hostile file) costs a memchr per name.
	 */
	terminated = names[strings->d_size - 1] == '\0';
	for (size_t i = 0; i < n; i++) {
		const Elf64_Sym *esym = &symbols[i];
		int type = ELF64_ST_TYPE(esym->st_info);
		struct wanted key, *hit;
		struct elfsym *sym;

		if (esym->st_shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT) ||
		    esym->st_name == 0 || esym->st_name >= strings->d_size)
			continue;
		if (!terminated &&
		    !memchr(names + esym->st_name, '\0', strings->d_size - esym->st_name))
			continue;
		key.name = names + esym->st_name;
		hit = bsearch(&key, wanted, count, sizeof(*wanted), compare_wanted);
		if (!hit)
			continue;
		sym = &syms[hit->index];
		/*
		 * .symtab is a superset of .dynsym: the first table that has it
		 * wins. One outside the file's bytes is not found.
		 */
		if (sym->found ||
		    symbol_offset(elf, file_size, esym->st_value, esym->st_size, &sym->offset))
			continue;
		sym->found = true;
		sym->name = hit->name;
		sym->table = table;
		sym->size = esym->st_size;
		sym->vaddr = esym->st_value;
		found++;
	}
	return found;
}

int elfsyms__resolve(const char *path, const char *const *names, size_t count, struct elfsym *syms)
{
	struct wanted *wanted = NULL;
	Elf_Scn *scn = NULL;
	Elf *elf = NULL;
	bool have_symtab = false;
	struct stat st;
	int fd, err = 0;

	memset(syms, 0, count * sizeof(*syms));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto cleanup;
	}
	wanted = calloc(count ? count : 1, sizeof(*wanted));
	if (!wanted) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < count; i++)
		wanted[i] = (struct wanted){ .name = names[i], .index = i };
	qsort(wanted, count, sizeof(*wanted), compare_wanted);

	/*
	 * .symtab when there is one: it holds every function, the exported
	 * ones of .dynsym included. A stripped library has only .dynsym.
	 */
	for (int pass = 0; pass < 2 && !have_symtab; pass++) {
		Elf64_Word type = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;

		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr shdr;

			if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != type)
				continue;
			scan_table(elf, (uint64_t)st.st_size, scn, &shdr,
				   pass == 0 ? ELFSYM_SYMTAB : ELFSYM_DYNSYM, wanted, count, syms);
			have_symtab |= pass == 0;
		}
	}
cleanup:
	free(wanted);
	elf_end(elf);
	close(fd);
	return err;
}
