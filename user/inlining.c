/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "elfsyms.h"
#include "inlining.h"

/* A caller is looked at up to this many bytes: tracker calls sit early in small functions. */
#define MAX_CALLER_BYTES (64 * 1024)
/* PLT entries are 16 bytes; a .plt is scanned up to this many of them. */
#define PLT_ENTRY	16
#define MAX_PLT_ENTRIES (1u << 16)

/* The GOT slot of `name`'s JUMP_SLOT relocation, or 0. */
static uint64_t got_slot(Elf *elf, const char *name)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data, *symbols;
		GElf_Shdr shdr, symshdr;
		Elf_Scn *symscn;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_RELA || !shdr.sh_entsize)
			continue;
		symscn = elf_getscn(elf, shdr.sh_link);
		data = elf_getdata(scn, NULL);
		symbols = symscn ? elf_getdata(symscn, NULL) : NULL;
		if (!data || !symbols || !gelf_getshdr(symscn, &symshdr))
			continue;
		for (size_t i = 0; i < data->d_size / shdr.sh_entsize; i++) {
			GElf_Rela rela;
			GElf_Sym sym;
			const char *sym_name;

			if (!gelf_getrela(data, (int)i, &rela) ||
			    GELF_R_TYPE(rela.r_info) != R_X86_64_JUMP_SLOT ||
			    !gelf_getsym(symbols, (int)GELF_R_SYM(rela.r_info), &sym))
				continue;
			sym_name = elf_strptr(elf, symshdr.sh_link, sym.st_name);
			if (sym_name && !strcmp(sym_name, name))
				return rela.r_offset;
		}
	}
	return 0;
}

/*
 * The PLT stub that jumps through `got`, or 0: one instruction decoded at a
 * time (cs_disasm_iter), so a large .plt costs no memory, and bounded.
 */
static uint64_t plt_stub(Elf *elf, csh handle, uint64_t got)
{
	cs_insn *insn = cs_malloc(handle);
	Elf_Scn *scn = NULL;
	uint64_t stub = 0;
	size_t shstrndx;

	if (!insn || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn)) && !stub) {
		GElf_Shdr shdr;
		const char *section;
		Elf_Data *data;
		const uint8_t *code;
		size_t left;
		uint64_t address;
		size_t decoded = 0;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_PROGBITS)
			continue;
		section = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!section || strncmp(section, ".plt", 4) || !(data = elf_getdata(scn, NULL)) ||
		    !data->d_buf)
			continue;
		code = data->d_buf;
		left = data->d_size;
		address = shdr.sh_addr;
		while (!stub && decoded++ < MAX_PLT_ENTRIES * 4 &&
		       cs_disasm_iter(handle, &code, &left, &address, insn)) {
			const cs_x86 *x86 = &insn->detail->x86;

			if (insn->id != X86_INS_JMP || x86->op_count != 1 ||
			    x86->operands[0].type != X86_OP_MEM ||
			    x86->operands[0].mem.base != X86_REG_RIP)
				continue;
			if (insn->address + insn->size + (uint64_t)x86->operands[0].mem.disp == got)
				stub = insn->address & ~(uint64_t)(PLT_ENTRY - 1);
		}
	}
out:
	if (insn)
		cs_free(insn, 1);
	return stub;
}

/*
 * Where the code of `caller` calls (or jumps to) one of the targets: up to
 * max of them as bytes past its entry; returns how many there are, or -ENOMEM.
 */
static int call_sites(csh handle, const uint8_t *file, const struct elfsym *caller,
		      const uint64_t *targets, size_t n, uint64_t *deltas, size_t max)
{
	size_t left = caller->size < MAX_CALLER_BYTES ? caller->size : MAX_CALLER_BYTES;
	const uint8_t *code = file + caller->offset;
	uint64_t address = caller->vaddr;
	cs_insn *insn = cs_malloc(handle);
	int found = 0;

	if (!insn)
		return -ENOMEM;
	while (cs_disasm_iter(handle, &code, &left, &address, insn)) {
		const cs_x86 *x86 = &insn->detail->x86;
		bool hit = false;

		if ((insn->id != X86_INS_CALL && insn->id != X86_INS_JMP) || x86->op_count != 1 ||
		    x86->operands[0].type != X86_OP_IMM)
			continue;
		for (size_t t = 0; t < n; t++)
			hit |= targets[t] && (uint64_t)x86->operands[0].imm == targets[t];
		if (!hit)
			continue;
		if ((size_t)found < max)
			deltas[found] = insn->address - caller->vaddr;
		found++;
	}
	cs_free(insn, 1);
	return found;
}

int inlining__call_sites(const char *library, const struct elfsym *caller,
			 const struct elfsym *callee, const char *callee_name, uint64_t *deltas,
			 size_t max)
{
	uint64_t targets[2] = { callee->vaddr, 0 };
	const uint8_t *file;
	size_t size;
	Elf *elf = NULL;
	csh handle;
	int fd, ret;

	fd = open(library, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (elf_version(EV_CURRENT) == EV_NONE || !(elf = elf_begin(fd, ELF_C_READ_MMAP, NULL))) {
		close(fd);
		return -ENOEXEC;
	}
	file = (const uint8_t *)elf_rawfile(elf, &size);
	/* Overflow-safe: the caller's bytes must lie inside the file. */
	if (!file || caller->offset > size || caller->size > size - caller->offset) {
		ret = -ERANGE;
		goto out;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
		ret = -ENOMEM;
		goto out;
	}
	cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
	/* A library calls its own exported functions through the PLT: both are the callee. */
	if (callee_name) {
		uint64_t got = got_slot(elf, callee_name);

		targets[1] = got ? plt_stub(elf, handle, got) : 0;
	}
	ret = call_sites(handle, file, caller, targets, 2, deltas, max);
	cs_close(&handle);
out:
	elf_end(elf);
	close(fd);
	return ret;
}

int inlining__calls(const char *library, const struct elfsym *caller, const struct elfsym *callee,
		    const char *callee_name)
{
	int sites = inlining__call_sites(library, caller, callee, callee_name, NULL, 0);

	/* Cannot tell for want of memory: taken as present, as before. */
	if (sites == -ENOMEM)
		return 1;
	return sites > 0 ? 1 : sites;
}
