/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger check: what devledger would probe in a library, where, reading
 * which fields, and what looks wrong, without loading anything.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../bpf/devledger.h"
#include "check.h"
#include "elfsyms.h"
#include "probes.h"
#include "probesite.h"

/*
 * tt-metal builds its implementation as a unity build: a tracker call can be
 * inlined into its caller and then never hits its probe. Each caller here
 * must still call the probed function.
 */
static const struct {
	const char *caller;
	const char *caller_name;
	enum probe_symbol callee;
	const char *then; /* what devledger does about it */
} expected_calls[] = {
	{ "_ZN2tt8tt_metal6Buffer13allocate_implEv", "Buffer::allocate_impl", SYM_TRACK_ALLOCATE,
	  "devledger reports allocations at Buffer::allocate_impl's return instead" },
	{ "_ZN2tt8tt_metal6Buffer15deallocate_implEv", "Buffer::deallocate_impl",
	  SYM_TRACK_DEALLOCATE, "its probe would never fire" },
};

#define MAX_WARNINGS	 8
#define MAX_CALLER_BYTES (64 * 1024)

struct report {
	char warnings[MAX_WARNINGS][256];
	size_t warning_count;
};

static void warn(struct report *r, const char *message)
{
	if (r->warning_count < MAX_WARNINGS)
		snprintf(r->warnings[r->warning_count++], sizeof(r->warnings[0]), "%s", message);
}

/*
 * The PLT stub through which code of the library calls `name` (the library
 * calls its own exported functions that way), or 0. Found from the
 * JUMP_SLOT relocation's GOT slot and the stub that jumps through it.
 */
static uint64_t plt_stub(Elf *elf, const char *name)
{
	uint64_t got = 0, stub = 0;
	Elf_Scn *scn = NULL;
	csh handle;

	while ((scn = elf_nextscn(elf, scn)) && !got) {
		GElf_Shdr shdr;
		Elf_Data *data, *symbols;
		GElf_Shdr symshdr;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_RELA)
			continue;
		data = elf_getdata(scn, NULL);
		symbols = elf_getdata(elf_getscn(elf, shdr.sh_link), NULL);
		if (!data || !symbols || !gelf_getshdr(elf_getscn(elf, shdr.sh_link), &symshdr))
			continue;
		for (size_t i = 0; shdr.sh_entsize && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Rela rela;
			GElf_Sym sym;
			const char *sym_name;

			if (!gelf_getrela(data, (int)i, &rela) ||
			    GELF_R_TYPE(rela.r_info) != R_X86_64_JUMP_SLOT ||
			    !gelf_getsym(symbols, (int)GELF_R_SYM(rela.r_info), &sym))
				continue;
			sym_name = elf_strptr(elf, symshdr.sh_link, sym.st_name);
			if (sym_name && !strcmp(sym_name, name)) {
				got = rela.r_offset;
				break;
			}
		}
	}
	if (!got || cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
		return 0;
	cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
	scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) && !stub) {
		size_t shstrndx;
		GElf_Shdr shdr;
		const char *section;
		Elf_Data *data;
		cs_insn *insn;
		size_t count;

		if (!gelf_getshdr(scn, &shdr) || elf_getshdrstrndx(elf, &shstrndx))
			continue;
		section = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!section || strncmp(section, ".plt", 4) || !(data = elf_getdata(scn, NULL)))
			continue;
		count = cs_disasm(handle, data->d_buf, data->d_size, shdr.sh_addr, 0, &insn);
		for (size_t i = 0; i < count && !stub; i++) {
			const cs_x86 *x86 = &insn[i].detail->x86;

			if (insn[i].id != X86_INS_JMP || x86->op_count != 1 ||
			    x86->operands[0].type != X86_OP_MEM ||
			    x86->operands[0].mem.base != X86_REG_RIP)
				continue;
			if (insn[i].address + insn[i].size + (uint64_t)x86->operands[0].mem.disp ==
			    got)
				stub = insn[i].address &
				       ~(uint64_t)15; /* PLT entries are 16 bytes */
		}
		if (count)
			cs_free(insn, count);
	}
	cs_close(&handle);
	return stub;
}

/* Does the code of `caller` call (or jump to) one of the targets? */
static bool calls_any(Elf *elf, const struct elfsym *caller, const uint64_t *targets, size_t n)
{
	size_t size, len = caller->size < MAX_CALLER_BYTES ? caller->size : MAX_CALLER_BYTES;
	const uint8_t *file = (const uint8_t *)elf_rawfile(elf, &size);
	bool found = false;
	cs_insn *insn;
	size_t count;
	csh handle;

	if (!file || caller->offset + len > size ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
		return true; /* cannot tell: no warning */
	cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
	count = cs_disasm(handle, file + caller->offset, len, caller->vaddr, 0, &insn);
	for (size_t i = 0; i < count && !found; i++) {
		const cs_x86 *x86 = &insn[i].detail->x86;

		if ((insn[i].id != X86_INS_CALL && insn[i].id != X86_INS_JMP) ||
		    x86->op_count != 1 || x86->operands[0].type != X86_OP_IMM)
			continue;
		for (size_t t = 0; t < n; t++)
			found |= targets[t] && (uint64_t)x86->operands[0].imm == targets[t];
	}
	if (count)
		cs_free(insn, count);
	cs_close(&handle);
	return found;
}

/*
 * Warn about tracker calls that look inlined away; true when the one in
 * Buffer::allocate_impl is (its return then reports allocations).
 */
static bool check_inlining(const char *library, const struct elfsym *syms, struct report *r)
{
	bool allocate_inlined = false;
	struct elfsym found[sizeof(expected_calls) / sizeof(expected_calls[0])];
	size_t n = sizeof(expected_calls) / sizeof(expected_calls[0]);
	char message[256];
	Elf *elf = NULL;
	int fd;

	for (size_t i = 0; i < n; i++)
		if (probes__lookup_name(library, expected_calls[i].caller, &found[i]))
			return false;
	fd = open(library, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE ||
	    !(elf = elf_begin(fd, ELF_C_READ_MMAP, NULL))) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const struct elfsym *callee = &syms[expected_calls[i].callee];
		uint64_t targets[2];

		if (!callee->found)
			continue; /* already reported as missing */
		if (!found[i].found) {
			snprintf(
				message, sizeof(message),
				"%s is not in the symbol table: cannot check that it still calls %s",
				expected_calls[i].caller_name,
				probe_symbols[expected_calls[i].callee]);
			warn(r, message);
			continue;
		}
		targets[0] = callee->vaddr;
		targets[1] = plt_stub(elf, probe_symbols[expected_calls[i].callee]);
		if (!calls_any(elf, &found[i], targets, 2)) {
			snprintf(message, sizeof(message),
				 "%s no longer calls %s: it looks inlined; %s",
				 expected_calls[i].caller_name,
				 probe_symbols[expected_calls[i].callee], expected_calls[i].then);
			warn(r, message);
			allocate_inlined |= expected_calls[i].callee == SYM_TRACK_ALLOCATE;
		}
	}
	elf_end(elf);
	close(fd);
	return allocate_inlined;
}

static const char *table_name(enum elfsym_table table)
{
	return table == ELFSYM_SYMTAB ? ".symtab" : table == ELFSYM_DYNSYM ? ".dynsym" : "-";
}

/* The fields the probes read: Buffer's pimpl only when the profile has one. */
static bool field_used(const struct layout *layout, int field)
{
	return field != FIELD_IMPL || layout->profile->impl;
}

/* What each probe reads under the layout, for people. */
typedef char probe_reads[PROBE_COUNT][256];

static void print_text(const char *library, const struct layout *layout, const struct elfsym *syms,
		       const struct probesite *sites, probe_reads reads, bool inlined,
		       const struct probe_vtables *vtables, const struct report *r, size_t missing,
		       FILE *out)
{
	fprintf(out, "library: %s\nprofile: %s (%s)\n\nprobes:\n", library, layout->profile->name,
		layout->why);
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		enum probe_symbol symbol = probes[i].symbol;
		const struct elfsym *sym = &syms[symbol];

		fprintf(out, "  %-34s %s\n", probes[i].program, probes__symbol_name(symbol, sym));
		if (!sym->found) {
			fprintf(out, "  %-34s MISSING: not in .symtab or .dynsym%s%s%s%s%s\n", "",
				probe_symbol_alternatives[symbol] ? ", nor as " : "",
				probe_symbol_alternatives[symbol]
					? probe_symbol_alternatives[symbol]
					: "",
				probe_symbol_missing_means[symbol] ? " (optional: " : "",
				probe_symbol_missing_means[symbol]
					? probe_symbol_missing_means[symbol]
					: "",
				probe_symbol_missing_means[symbol] ? ")" : "");
			continue;
		}
		fprintf(out, "  %-34s %s, file offset 0x%llx, %llu bytes; probe at %s\n", "",
			table_name(sym->table), (unsigned long long)sym->offset,
			(unsigned long long)sym->size, sites[i].why);
		fprintf(out, "  %-34s %s\n", "", reads[i]);
		if (!probes__attached(&probes[i], inlined))
			fprintf(out, "  %-34s not attached: %s\n", "",
				inlined ? "track_allocate looks inlined into Buffer::allocate_impl"
					: "only where track_allocate is inlined into Buffer::allocate_impl");
	}
	fprintf(out, "\nfields read%s:\n",
		layout->has_dwarf ? "" : " (no DWARF in the library: presets)");
	for (int f = 0; f < LAYOUT_FIELDS; f++) {
		if (!field_used(layout, f))
			continue;
		if (layout->offset[f] == DL_OFFSET_UNKNOWN)
			fprintf(out, "  %-30s not known: %s\n", probes__field_name(layout, f),
				f == FIELD_MESH_ID ? "meshes are numbered in the order first seen"
						   : "not read");
		else
			fprintf(out, "  %-30s offset %-4u %s\n", probes__field_name(layout, f),
				layout->offset[f], probes__source_name(layout->source[f]));
	}
	fprintf(out, "\nvtables:\n  %-30s %s\n  %-30s %s\n", "Device",
		vtables->device ? "found" : "missing", "distributed::MeshDevice",
		vtables->mesh ? "found: a MeshDevice* is told from a Device* by its vptr"
			      : "missing: every device is taken for a chip");
	if (r->warning_count)
		fprintf(out, "\nwarnings:\n");
	for (size_t i = 0; i < r->warning_count; i++)
		fprintf(out, "  %s\n", r->warnings[i]);
	if (missing)
		fprintf(out,
			"\n%zu required probed function%s missing: devledger cannot trace this "
			"library\n",
			missing, missing == 1 ? " is" : "s are");
	else
		fprintf(out, "\nevery required probe resolved\n");
}

static int print_json(const char *library, const struct layout *layout, const struct elfsym *syms,
		      const struct probesite *sites, probe_reads reads, bool inlined,
		      const struct probe_vtables *vtables, const struct report *r, size_t missing,
		      FILE *out)
{
	struct json_object *root = json_object_new_object(), *list, *item;

	json_object_object_add(root, "library", json_object_new_string(library));
	json_object_object_add(root, "profile", json_object_new_string(layout->profile->name));
	json_object_object_add(root, "profile_why", json_object_new_string(layout->why));
	json_object_object_add(root, "dwarf", json_object_new_boolean(layout->has_dwarf));
	json_object_object_add(root, "resolved", json_object_new_boolean(missing == 0));
	list = json_object_new_array();
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		const struct elfsym *sym = &syms[probes[i].symbol];

		item = json_object_new_object();
		json_object_object_add(item, "program", json_object_new_string(probes[i].program));
		json_object_object_add(
			item, "symbol",
			json_object_new_string(probes__symbol_name(probes[i].symbol, sym)));
		json_object_object_add(item, "return_probe",
				       json_object_new_boolean(probes[i].retprobe));
		json_object_object_add(item, "found", json_object_new_boolean(sym->found));
		json_object_object_add(
			item, "attached",
			json_object_new_boolean(sym->found &&
						probes__attached(&probes[i], inlined)));
		json_object_object_add(
			item, "required",
			json_object_new_boolean(!probe_symbol_missing_means[probes[i].symbol]));
		if (sym->found) {
			json_object_object_add(item, "table",
					       json_object_new_string(table_name(sym->table)));
			json_object_object_add(item, "file_offset",
					       json_object_new_uint64(sym->offset));
			json_object_object_add(item, "size", json_object_new_uint64(sym->size));
			json_object_object_add(item, "site_offset",
					       json_object_new_uint64(sites[i].offset));
			json_object_object_add(item, "site_delta",
					       json_object_new_uint64(sites[i].delta));
			json_object_object_add(item, "site_why",
					       json_object_new_string(sites[i].why));
			json_object_object_add(item, "reads", json_object_new_string(reads[i]));
		}
		json_object_array_add(list, item);
	}
	json_object_object_add(root, "probes", list);
	list = json_object_new_array();
	for (int f = 0; f < LAYOUT_FIELDS; f++) {
		if (!field_used(layout, f))
			continue;
		item = json_object_new_object();
		json_object_object_add(item, "name",
				       json_object_new_string(probes__field_name(layout, f)));
		if (layout->offset[f] == DL_OFFSET_UNKNOWN)
			json_object_object_add(item, "offset", NULL);
		else
			json_object_object_add(item, "offset",
					       json_object_new_uint64(layout->offset[f]));
		json_object_object_add(
			item, "source",
			json_object_new_string(probes__source_name(layout->source[f])));
		json_object_array_add(list, item);
	}
	json_object_object_add(root, "fields", list);
	item = json_object_new_object();
	json_object_object_add(item, "device", json_object_new_boolean(vtables->device != 0));
	json_object_object_add(item, "mesh_device", json_object_new_boolean(vtables->mesh != 0));
	json_object_object_add(root, "vtables", item);
	list = json_object_new_array();
	for (size_t i = 0; i < r->warning_count; i++)
		json_object_array_add(list, json_object_new_string(r->warnings[i]));
	json_object_object_add(root, "warnings", list);
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

int check__run(const char *library, const struct check_opts *opts, FILE *out)
{
	struct layout layout;
	struct probesite sites[PROBE_COUNT];
	struct elfsym syms[PROBE_SYMBOLS];
	struct report report = { .warning_count = 0 };
	struct probe_vtables vtables = { 0 };
	static probe_reads reads;
	bool inlined;
	size_t missing = 0;
	int err;

	err = probes__lookup(library, syms);
	if (err)
		return err;
	/* Only the required ones: without an optional one devledger traces, with less to say. */
	for (size_t i = 0; i < PROBE_SYMBOLS; i++) {
		missing += !syms[i].found && !probe_symbol_missing_means[i];
		if (!syms[i].found && probes__warn_if_missing(i)) {
			char message[256];

			snprintf(message, sizeof(message), "%s is missing: %s", probe_symbols[i],
				 probe_symbol_missing_means[i]);
			warn(&report, message);
		}
	}
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		if (syms[probes[i].symbol].found)
			probes__site(&probes[i], library, &syms[probes[i].symbol],
				     opts->entry_probes, &sites[i]);
	}
	inlined = check_inlining(library, syms, &report);
	if (probes__layout(library, opts->profile, opts->overrides, opts->override_count, &layout))
		return -EINVAL;
	probes__vtables(library, &vtables);
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		struct dl_probe_spec spec;

		if (probes__spec(&probes[i], &layout, &spec))
			return -EINVAL;
		probes__describe(&spec, reads[i], sizeof(reads[i]));
	}
	if (opts->json)
		print_json(library, &layout, syms, sites, reads, inlined, &vtables, &report,
			   missing, out);
	else
		print_text(library, &layout, syms, sites, reads, inlined, &vtables, &report,
			   missing, out);
	return missing ? 1 : 0;
}

bool check__inlining(const char *library, FILE *warnings)
{
	struct elfsym syms[PROBE_SYMBOLS];
	struct report report = { .warning_count = 0 };
	bool inlined;

	/* Quietly: an unreadable library is reported once, by whoever traces it. */
	for (size_t i = 0; i < PROBE_SYMBOLS; i++)
		if (probes__lookup_name(library, probe_symbols[i], &syms[i]))
			return false;
	inlined = check_inlining(library, syms, &report);
	for (size_t i = 0; warnings && i < report.warning_count; i++)
		fprintf(warnings, "devledger: warning: %s\n", report.warnings[i]);
	return inlined;
}
