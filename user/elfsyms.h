/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Function symbols of an ELF file, resolved to file offsets (what a uprobe
 * attaches to) in one pass over .symtab and .dynsym.
 */
#ifndef DEVLEDGER_ELFSYMS_H
#define DEVLEDGER_ELFSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum elfsym_table {
	ELFSYM_NONE = 0,
	ELFSYM_SYMTAB,
	ELFSYM_DYNSYM,
};

struct elfsym {
	bool found;
	const char *name; /* the name it was found under (one of those asked for) */
	enum elfsym_table table;
	uint64_t offset; /* file offset of the function's first byte */
	uint64_t vaddr;	 /* its address in the file's own address space (st_value) */
	uint64_t size;
};

/*
 * Resolve names[i] into syms[i] for every i < count: defined functions
 * (STT_FUNC, STT_GNU_IFUNC) and data objects (STT_OBJECT: vtables), .symtab preferred. Returns 0,
 * -ENOENT, -EACCES, -ENOEXEC (not an ELF file), -ENOMEM.
 *
 * A symbol is found only when every byte of it is in the file: inside its
 * segment's p_filesz and inside the file's size. One in .bss, or whose size
 * or segment runs past the file, is not found: offset + size never exceeds
 * the file.
 */
int elfsyms__resolve(const char *path, const char *const *names, size_t count, struct elfsym *syms);

#endif /* DEVLEDGER_ELFSYMS_H */
