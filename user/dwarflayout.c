/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The offsets of the fields devledger reads, from the library's own DWARF
 * (tt-metal builds RelWithDebInfo by default). libdw reads compressed debug
 * sections too. Only the tt::tt_metal namespace (and those below it) is
 * walked, and the walk stops once every question is settled: tt-metal's
 * debug info is large.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "dwarflayout.h"

#include "../bpf/devledger.h"

/*
 * The bytes of every section of the library, as libdw reads them (inflated
 * where it or devledger inflated them). libdw 0.188 hands out a name that
 * starts in a string section (or inline in .debug_info) without checking
 * that it ends there: a library whose last string lacks its NUL would have
 * devledger read past the section. A name is used only when it ends inside
 * the section it starts in; one from no section of this file (a dwz file's)
 * is not used either, as nothing here bounds it.
 */
struct section_bytes {
	uintptr_t start;
	size_t size;
};

struct sections {
	struct section_bytes *items;
	size_t count;
};

static int sections_collect(Elf *elf, struct sections *sections)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = elf_getdata(scn, NULL);
		struct section_bytes *items;

		if (!data || !data->d_buf || !data->d_size)
			continue;
		items = realloc(sections->items, (sections->count + 1) * sizeof(*items));
		if (!items)
			return -ENOMEM;
		sections->items = items;
		items[sections->count++] =
			(struct section_bytes){ (uintptr_t)data->d_buf, data->d_size };
	}
	return 0;
}

/* A DIE's name, or NULL: none, or one that does not end inside its section. */
static const char *die_name(const struct sections *sections, Dwarf_Die *die)
{
	const char *name = dwarf_diename(die);
	uintptr_t at = (uintptr_t)name;

	for (size_t i = 0; name && i < sections->count; i++) {
		const struct section_bytes *s = &sections->items[i];

		if (at >= s->start && at - s->start < s->size)
			return memchr(name, '\0', s->size - (at - s->start)) ? name : NULL;
	}
	return NULL;
}

/* A type with its typedefs and qualifiers peeled off. */
static bool peel_type(Dwarf_Die *die, Dwarf_Die *type)
{
	Dwarf_Attribute attr;
	Dwarf_Die cur;

	if (!dwarf_attr_integrate(die, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &cur))
		return false;
	for (int depth = 0; depth < 16; depth++) {
		int tag = dwarf_tag(&cur);

		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type)
			break;
		if (!dwarf_attr_integrate(&cur, DW_AT_type, &attr) ||
		    !dwarf_formref_die(&attr, &cur))
			return false;
	}
	*type = cur;
	return true;
}

static bool member_location(Dwarf_Die *die, unsigned int *offset)
{
	Dwarf_Attribute attr;
	Dwarf_Word value;

	/* A union's members, and a first member, may carry no location: offset 0. */
	if (!dwarf_attr_integrate(die, DW_AT_data_member_location, &attr)) {
		*offset = 0;
		return true;
	}
	if (dwarf_formudata(&attr, &value))
		return false;
	*offset = (unsigned int)value;
	return true;
}

/*
 * Member `name` (`len` bytes) of a class, union or struct, or of one of its
 * base classes: its offset and DIE. Bounded in depth: a base is a class too.
 */
static bool find_member(const struct sections *sections, Dwarf_Die *type, const char *name,
			size_t len, int depth, unsigned int *offset, Dwarf_Die *member)
{
	Dwarf_Die child;

	if (depth > 8 || dwarf_child(type, &child) != 0)
		return false;
	do {
		int tag = dwarf_tag(&child);
		const char *n = die_name(sections, &child);
		unsigned int at;

		if (tag == DW_TAG_member && n && strlen(n) == len && !strncmp(n, name, len))
			return member_location(&child, offset) && (*member = child, true);
		if (tag == DW_TAG_inheritance) {
			Dwarf_Die base;
			unsigned int inner;

			if (member_location(&child, &at) && peel_type(&child, &base) &&
			    find_member(sections, &base, name, len, depth + 1, &inner, member)) {
				*offset = at + inner;
				return true;
			}
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* A path "a.b.c" of members from class_die, each looked up in the type of the one before. */
static bool resolve_path(const struct sections *sections, Dwarf_Die *class_die, const char *path,
			 unsigned int *offset)
{
	Dwarf_Die type = *class_die;
	unsigned int total = 0;

	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ".");
		unsigned int at;
		Dwarf_Die member;

		if (!find_member(sections, &type, p, len, 0, &at, &member))
			return false;
		total += at;
		p += len;
		if (*p == '.') {
			p++;
			if (!peel_type(&member, &type))
				return false;
		}
	}
	*offset = total;
	return true;
}

/* The first alternative ("a|b|c") that resolves. */
static bool resolve_member(const struct sections *sections, Dwarf_Die *class_die,
			   const char *member, unsigned int *offset)
{
	char alternative[256];

	for (const char *p = member; *p;) {
		size_t len = strcspn(p, "|");

		if (len < sizeof(alternative)) {
			memcpy(alternative, p, len);
			alternative[len] = '\0';
			if (resolve_path(sections, class_die, alternative, offset))
				return true;
		}
		p += len + (p[len] == '|');
	}
	return false;
}

struct walk {
	const struct dwarf_query *queries;
	size_t count;
	unsigned int *offsets;
	unsigned char *settled;
	size_t left;
	struct sections sections;
};

/* A class's definition (not a declaration): settle every query about it. */
static void settle_class(Dwarf_Die *die, const char *name, struct walk *w)
{
	for (size_t i = 0; i < w->count; i++) {
		if (w->settled[i] || strcmp(name, w->queries[i].class_name))
			continue;
		if (!resolve_member(&w->sections, die, w->queries[i].member, &w->offsets[i]))
			w->offsets[i] = DL_OFFSET_UNKNOWN;
		w->settled[i] = 1;
		w->left--;
	}
}

/* Classes defined in a namespace and in the namespaces below it (tt_metal's detail, ...). */
static void scan_namespace(Dwarf_Die *ns, struct walk *w, int depth)
{
	Dwarf_Die child;

	if (depth > 3 || dwarf_child(ns, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		const char *name = die_name(&w->sections, &child);

		if (tag == DW_TAG_namespace)
			scan_namespace(&child, w, depth + 1);
		else if ((tag == DW_TAG_class_type || tag == DW_TAG_structure_type) && name &&
			 !dwarf_hasattr(&child, DW_AT_declaration))
			settle_class(&child, name, w);
	} while (w->left && dwarf_siblingof(&child, &child) == 0);
}

/* The DIE of namespace `name` directly under `parent`, searching from its first child. */
static bool find_namespace(const struct sections *sections, Dwarf_Die *parent, const char *name,
			   Dwarf_Die *out)
{
	if (dwarf_child(parent, out) != 0)
		return false;
	do {
		const char *ns = die_name(sections, out);

		if (dwarf_tag(out) == DW_TAG_namespace && ns && !strcmp(ns, name))
			return true;
	} while (dwarf_siblingof(out, out) == 0);
	return false;
}

#ifndef ELFCOMPRESS_ZSTD
#define ELFCOMPRESS_ZSTD 2
#endif

/* Section data devledger decompressed itself, freed with the Elf. */
struct inflated {
	void **buffers;
	size_t count;
};

/*
 * A compressed section declares the size it inflates to, and the memory
 * for it is allocated from that: any local user can hand devledger (root) a
 * library declaring gigabytes in a few bytes, and zstd really reaches about
 * 32000:1 (a 128 KiB RLE block is 4 bytes), zlib about 1000:1. Real debug
 * sections inflate 1.4x to 11x (measured on tt-metal's stand-in, libpython
 * and devledger itself, zstd and zlib alike), so one within 64x its
 * compressed size, a margin of about six over the most compressible seen,
 * is taken as it is: all of those together cost at most 64 times the
 * library's size on disk, so a small file cannot claim much. Beyond that
 * ratio, sections share 512 MiB per library: room for the odd section of a
 * real library that compresses very well, and so a bomb gets at most 512 MiB
 * more than 64 times its size. The cap is not on all sections: a
 * RelWithDebInfo tt-metal's whole debug info may well be larger.
 */
#define MAX_INFLATE_RATIO	64
#define MAX_INFLATED_PAST_RATIO (512ull << 20)

/*
 * May a section of compressed bytes inflate to declared ones? 0, or -EFBIG.
 * beyond_ratio is what the library's sections past the ratio already took.
 */
static int check_inflated_size(uint64_t declared, uint64_t compressed, uint64_t *beyond_ratio)
{
	if (compressed <= UINT64_MAX / MAX_INFLATE_RATIO &&
	    declared <= compressed * MAX_INFLATE_RATIO)
		return 0;
	if (declared > MAX_INFLATED_PAST_RATIO ||
	    *beyond_ratio > MAX_INFLATED_PAST_RATIO - declared)
		return -EFBIG;
	*beyond_ratio += declared;
	return 0;
}

/*
 * The compression header of a section flagged SHF_COMPRESSED, and its data,
 * when there is one to read: a SHT_NOBITS section has no bytes (its data
 * has no buffer), and data shorter than the header cannot hold one. The
 * header is copied out: nothing promises it is aligned. Returns its size, or
 * 0 for a section to leave alone.
 */
static size_t compression_header(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, Elf_Data **data,
				 GElf_Chdr *chdr)
{
	bool is_64 = gelf_getclass(elf) == ELFCLASS64;
	size_t size = is_64 ? sizeof(Elf64_Chdr) : sizeof(Elf32_Chdr);

	if (!(shdr->sh_flags & SHF_COMPRESSED) || shdr->sh_type == SHT_NOBITS)
		return 0;
	*data = elf_getdata(scn, NULL);
	if (!*data || !(*data)->d_buf || (*data)->d_size < size)
		return 0;
	if (is_64) {
		Elf64_Chdr header;

		memcpy(&header, (*data)->d_buf, sizeof(header));
		chdr->ch_type = header.ch_type;
		chdr->ch_size = header.ch_size;
	} else {
		Elf32_Chdr header;

		memcpy(&header, (*data)->d_buf, sizeof(header));
		chdr->ch_type = header.ch_type;
		chdr->ch_size = header.ch_size;
	}
	return size;
}

/*
 * The size a GNU-style .zdebug section declares ("ZLIB", a big-endian
 * 64-bit size, the zlib stream; no SHF_COMPRESSED), and its compressed
 * bytes: libdw 0.188 inflates those too. False for any other section.
 */
static bool gnu_compressed_size(Elf *elf, size_t names, Elf_Scn *scn, const GElf_Shdr *shdr,
				uint64_t *declared, uint64_t *compressed)
{
	const char *name = elf_strptr(elf, names, shdr->sh_name);
	const unsigned char *bytes;
	Elf_Data *data;

	if (!name || strncmp(name, ".zdebug", 7) || shdr->sh_type == SHT_NOBITS ||
	    (shdr->sh_flags & SHF_COMPRESSED))
		return false;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || data->d_size < 12 || memcmp(data->d_buf, "ZLIB", 4))
		return false;
	bytes = data->d_buf;
	*declared = 0;
	for (int i = 4; i < 12; i++)
		*declared = *declared << 8 | bytes[i];
	*compressed = data->d_size - 12;
	return true;
}

/*
 * Before anything is inflated, by devledger or by libdw: every compressed
 * section's declared size against the bound above. -EFBIG refuses the whole
 * library (its DWARF is not read), whichever section breaks it.
 */
static int check_compressed_sections(Elf *elf)
{
	uint64_t beyond_ratio = 0;
	Elf_Scn *scn = NULL;
	size_t names;
	bool named = elf_getshdrstrndx(elf, &names) == 0;

	while ((scn = elf_nextscn(elf, scn))) {
		uint64_t declared, compressed;
		size_t header_size;
		Elf_Data *data;
		GElf_Chdr chdr;
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		header_size = compression_header(elf, scn, &shdr, &data, &chdr);
		if (header_size) {
			declared = chdr.ch_size;
			compressed = data->d_size - header_size;
		} else if (!named ||
			   !gnu_compressed_size(elf, names, scn, &shdr, &declared, &compressed)) {
			continue;
		}
		if (check_inflated_size(declared, compressed, &beyond_ratio))
			return -EFBIG;
	}
	return 0;
}

/*
 * Debian 12's libdw (0.188) reads zlib-compressed debug sections but not
 * zstd ones, which newer linkers write (clang's among them). Those are
 * decompressed here, in the process's private copy of the file: the
 * section's data is replaced and its SHF_COMPRESSED flag cleared, so libdw
 * reads them as plain sections. Returns 0, -EFBIG for a library whose
 * sections declare more than check_inflated_size allows (zlib ones
 * included: it is not handed to libdw), or -errno.
 */
static int inflate_zstd_sections(Elf *elf, struct inflated *inflated)
{
	Elf_Scn *scn = NULL;
	int err = check_compressed_sections(elf);

	if (err)
		return err;
	while ((scn = elf_nextscn(elf, scn))) {
		size_t header_size;
		Elf_Data *data;
		GElf_Chdr chdr;
		GElf_Shdr shdr;
		void **buffers;
		size_t got;
		void *out;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		/* The data libdw will ask for: replaced in place, it is what libdw then reads. */
		header_size = compression_header(elf, scn, &shdr, &data, &chdr);
		if (!header_size || chdr.ch_type != ELFCOMPRESS_ZSTD)
			continue; /* zlib: libdw's own */
		buffers = realloc(inflated->buffers, (inflated->count + 1) * sizeof(*buffers));
		out = malloc(chdr.ch_size ? chdr.ch_size : 1);
		if (!buffers || !out) {
			free(out);
			if (buffers)
				inflated->buffers = buffers;
			return -ENOMEM;
		}
		inflated->buffers = buffers;
		inflated->buffers[inflated->count++] = out;
		got = ZSTD_decompress(out, chdr.ch_size, (const char *)data->d_buf + header_size,
				      data->d_size - header_size);
		if (ZSTD_isError(got) || got != chdr.ch_size)
			return -EBADMSG;
		data->d_buf = out;
		data->d_size = got;
		data->d_type = ELF_T_BYTE;
		data->d_align = 1;
		shdr.sh_flags &= ~(GElf_Xword)SHF_COMPRESSED;
		shdr.sh_size = got;
		if (!gelf_update_shdr(scn, &shdr))
			return -EINVAL;
	}
	return 0;
}

int dwarf_layout__read(const char *library, const struct dwarf_query *queries, size_t count,
		       unsigned int *offsets)
{
	struct inflated inflated = { NULL, 0 };
	struct walk w = { queries, count, offsets, NULL, count, { NULL, 0 } };
	Dwarf_Off offset = 0, next;
	size_t header_size;
	Dwarf *dwarf = NULL;
	Elf *elf = NULL;
	int fd, err = -ENODATA; /* no debug info */
	int inflate_err = 0;

	for (size_t i = 0; i < count; i++)
		offsets[i] = DL_OFFSET_UNKNOWN;
	w.settled = calloc(count ? count : 1, 1);
	if (!w.settled)
		return -ENOMEM;
	fd = open(library, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(w.settled);
		return -errno;
	}
	/* A private mapping: zstd sections are decompressed in it, never in the file. */
	if (elf_version(EV_CURRENT) != EV_NONE)
		elf = elf_begin(fd, ELF_C_READ_MMAP_PRIVATE, NULL);
	/* A library refused (-EFBIG) or with a broken zstd section is not handed to libdw. */
	if (elf)
		inflate_err = inflate_zstd_sections(elf, &inflated);
	if (elf && !inflate_err)
		dwarf = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	else if (inflate_err)
		err = inflate_err;
	if (!dwarf)
		goto out;
	/* After dwarf_begin_elf: the zlib sections libdw inflated are in the Elf by now. */
	err = sections_collect(elf, &w.sections);
	if (err)
		goto end;
	while (w.left && dwarf_nextcu(dwarf, offset, &next, &header_size, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, ns, tt_metal;

		if (dwarf_offdie(dwarf, offset + header_size, &cu) &&
		    find_namespace(&w.sections, &cu, "tt", &ns)) {
			/* A CU may open the namespace several times: scan each. */
			do {
				const char *name = die_name(&w.sections, &ns);

				if (dwarf_tag(&ns) == DW_TAG_namespace && name &&
				    !strcmp(name, "tt") &&
				    find_namespace(&w.sections, &ns, "tt_metal", &tt_metal)) {
					/* And tt_metal too may be opened several times in it. */
					do {
						const char *inner =
							die_name(&w.sections, &tt_metal);

						if (dwarf_tag(&tt_metal) == DW_TAG_namespace &&
						    inner && !strcmp(inner, "tt_metal"))
							scan_namespace(&tt_metal, &w, 0);
					} while (w.left &&
						 dwarf_siblingof(&tt_metal, &tt_metal) == 0);
				}
			} while (w.left && dwarf_siblingof(&ns, &ns) == 0);
		}
		offset = next;
	}
end:
	dwarf_end(dwarf);
out:
	elf_end(elf);
	for (size_t i = 0; i < inflated.count; i++)
		free(inflated.buffers[i]);
	free(inflated.buffers);
	free(w.sections.items);
	free(w.settled);
	close(fd);
	return err;
}
