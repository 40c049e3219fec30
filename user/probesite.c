/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probesite.h"

/* A whole function is read to find jumps back into its prologue; larger ones keep their entry. */
#define MAX_FUNCTION_BYTES (256 * 1024)
/* The prologue search gives up after this many instructions. */
#define MAX_PROLOGUE_INSNS 32

static unsigned int arg_register_bit(x86_reg reg)
{
	switch (reg) {
	case X86_REG_RDI:
	case X86_REG_EDI:
	case X86_REG_DI:
	case X86_REG_DIL:
		return PROBESITE_RDI;
	case X86_REG_RSI:
	case X86_REG_ESI:
	case X86_REG_SI:
	case X86_REG_SIL:
		return PROBESITE_RSI;
	case X86_REG_RDX:
	case X86_REG_EDX:
	case X86_REG_DX:
	case X86_REG_DH:
	case X86_REG_DL:
		return PROBESITE_RDX;
	case X86_REG_RCX:
	case X86_REG_ECX:
	case X86_REG_CX:
	case X86_REG_CH:
	case X86_REG_CL:
		return PROBESITE_RCX;
	case X86_REG_R8:
	case X86_REG_R8D:
	case X86_REG_R8W:
	case X86_REG_R8B:
		return PROBESITE_R8;
	case X86_REG_R9:
	case X86_REG_R9D:
	case X86_REG_R9W:
	case X86_REG_R9B:
		return PROBESITE_R9;
	default:
		return 0;
	}
}

static void describe(const cs_insn *insn, char *out, size_t len)
{
	snprintf(out, len, "%.15s%s%.31s", insn->mnemonic, insn->op_str[0] ? " " : "",
		 insn->op_str);
}

static bool changes_flow(const cs_insn *insn)
{
	for (uint8_t i = 0; i < insn->detail->groups_count; i++) {
		switch (insn->detail->groups[i]) {
		case CS_GRP_JUMP:
		case CS_GRP_CALL:
		case CS_GRP_RET:
		case CS_GRP_INT:
		case CS_GRP_IRET:
			return true;
		}
	}
	return false;
}

/* Instructions the kernel emulates or optimizes at a probe site: no second trap. */
static bool is_cheap(const cs_insn *insn)
{
	return insn->id == X86_INS_PUSH || insn->id == X86_INS_NOP;
}

static unsigned int written_args(csh handle, const cs_insn *insn)
{
	cs_regs read, written;
	uint8_t nread, nwritten;
	unsigned int bits = 0;

	if (cs_regs_access(handle, insn, read, &nread, written, &nwritten))
		return ~0u; /* unknown: assume the worst */
	for (uint8_t i = 0; i < nwritten; i++)
		bits |= arg_register_bit(written[i]);
	return bits;
}

/* The immediate target of a jump or call, when it has one. */
static bool branch_target(const cs_insn *insn, uint64_t *target)
{
	const cs_x86 *x86 = &insn->detail->x86;

	if (!changes_flow(insn))
		return false;
	for (uint8_t i = 0; i < x86->op_count; i++) {
		if (x86->operands[i].type == X86_OP_IMM) {
			*target = (uint64_t)x86->operands[i].imm;
			return true;
		}
	}
	return false;
}

int probesite__choose_code(const uint8_t *code, size_t len, uint64_t func_offset,
			   unsigned int regs_read, struct probesite *site)
{
	const uint8_t *cursor = code;
	uint64_t address = func_offset, chosen = 0;
	char entry_text[48] = "", chosen_text[48] = "";
	size_t left = len;
	bool searching = true, found = false;
	unsigned int count = 0;
	cs_insn *insn;
	csh handle;

	site->offset = func_offset;
	site->delta = 0;
	snprintf(site->why, sizeof(site->why), "entry (code could not be decoded)");
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
		return 0;
	cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
	insn = cs_malloc(handle);

	/* Addresses are file offsets, as check shows the function's: jump targets read as real. */
	while (insn && cs_disasm_iter(handle, &cursor, &left, &address, insn)) {
		uint64_t target;

		if (count == 0)
			describe(insn, entry_text, sizeof(entry_text));
		if (searching && count++ < MAX_PROLOGUE_INSNS) {
			if (is_cheap(insn)) {
				chosen = insn->address - func_offset;
				describe(insn, chosen_text, sizeof(chosen_text));
				found = true;
				searching = false;
			} else if (changes_flow(insn) || (written_args(handle, insn) & regs_read)) {
				searching = false;
			}
		} else {
			searching = false;
		}
		/* A jump back to or before the site would run the probe twice in one call. */
		if (found && branch_target(insn, &target) && target > func_offset &&
		    target - func_offset <= chosen) {
			found = false;
			snprintf(site->why, sizeof(site->why),
				 "entry (%s; a jump in the function lands at +%llu)", entry_text,
				 (unsigned long long)(target - func_offset));
			cs_free(insn, 1);
			cs_close(&handle);
			return 0;
		}
	}
	if (found && chosen == 0)
		snprintf(site->why, sizeof(site->why), "entry (%s: emulated, no single-step)",
			 entry_text);
	else if (found)
		snprintf(site->why, sizeof(site->why),
			 "+%llu (%s: emulated; the entry's %s is single-stepped)",
			 (unsigned long long)chosen, chosen_text, entry_text);
	else
		snprintf(site->why, sizeof(site->why),
			 "entry (%s; no emulated instruction before the first branch or argument "
			 "write)",
			 entry_text);
	if (found) {
		site->offset = func_offset + chosen;
		site->delta = chosen;
	}
	if (insn)
		cs_free(insn, 1);
	cs_close(&handle);
	return 0;
}

/*
 * The entry, and why: where every path of probesite__choose leaves the site
 * unless the code says otherwise, so that a caller never prints or attaches
 * at anything uninitialised.
 */
static void choose_entry(struct probesite *site, uint64_t func_offset, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static void choose_entry(struct probesite *site, uint64_t func_offset, const char *format, ...)
{
	va_list args;

	site->offset = func_offset;
	site->delta = 0;
	va_start(args, format);
	vsnprintf(site->why, sizeof(site->why), format, args);
	va_end(args);
}

int probesite__choose(const char *path, uint64_t func_offset, uint64_t size, unsigned int regs_read,
		      struct probesite *site)
{
	size_t len = size && size < MAX_FUNCTION_BYTES ? (size_t)size : 0;
	uint8_t *code;
	ssize_t got;
	int fd, err;

	if (!len) {
		choose_entry(site, func_offset, "entry (function size unknown or too large)");
		return 0;
	}
	/* pread takes an off_t: a larger offset would turn negative. */
	if (func_offset > (uint64_t)INT64_MAX) {
		choose_entry(site, func_offset, "entry (file offset 0x%llx is past any file)",
			     (unsigned long long)func_offset);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		choose_entry(site, func_offset, "entry (the code could not be read: %s)",
			     strerror(-err));
		return err;
	}
	code = malloc(len);
	if (!code) {
		close(fd);
		choose_entry(site, func_offset, "entry (no memory to read the code)");
		return -ENOMEM;
	}
	got = pread(fd, code, len, (off_t)func_offset);
	err = got < 0 ? -errno : 0;
	close(fd);
	/*
	 * A file holding less than the symbol's size (changed since it was
	 * resolved, or lying): a jump back into the prologue may be in the
	 * bytes it lacks, so what is there cannot vouch for a later site.
	 */
	if (err)
		choose_entry(site, func_offset, "entry (the code could not be read: %s)",
			     strerror(-err));
	else if ((size_t)got < len)
		choose_entry(site, func_offset,
			     "entry (the file holds %zu of the function's %zu bytes)", (size_t)got,
			     len);
	else
		err = probesite__choose_code(code, len, func_offset, regs_read, site);
	free(code);
	return err;
}
