/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The offsets of the fields devledger reads, from the library's own DWARF
 * (tt-metal builds RelWithDebInfo by default). libdw reads compressed debug
 * sections too. Only the tt::tt_metal namespace is walked, and the walk
 * stops once every class was found: tt-metal's debug info is large.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "dwarflayout.h"

struct wanted_member {
	const char *class_name;
	const char *const *members; /* names to try, in order */
	unsigned int *offset;
	bool *found;
};

static bool member_offset(Dwarf_Die *class_die, const char *const *names, unsigned int *offset)
{
	for (const char *const *name = names; *name; name++) {
		Dwarf_Die child;

		if (dwarf_child(class_die, &child) != 0)
			return false;
		do {
			Dwarf_Attribute attr;
			Dwarf_Word value;
			const char *member = dwarf_diename(&child);

			if (dwarf_tag(&child) != DW_TAG_member || !member || strcmp(member, *name))
				continue;
			if (!dwarf_attr_integrate(&child, DW_AT_data_member_location, &attr) ||
			    dwarf_formudata(&attr, &value))
				continue;
			*offset = (unsigned int)value;
			return true;
		} while (dwarf_siblingof(&child, &child) == 0);
	}
	return false;
}

/* A class's definition (not a declaration) directly in this namespace DIE. */
static void scan_namespace(Dwarf_Die *ns, struct wanted_member *wanted, size_t count, size_t *left)
{
	Dwarf_Die child;

	if (dwarf_child(ns, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		const char *name = dwarf_diename(&child);

		if ((tag != DW_TAG_class_type && tag != DW_TAG_structure_type) || !name ||
		    dwarf_hasattr(&child, DW_AT_declaration))
			continue;
		for (size_t i = 0; i < count; i++) {
			if (*wanted[i].found || strcmp(name, wanted[i].class_name))
				continue;
			if (member_offset(&child, wanted[i].members, wanted[i].offset)) {
				*wanted[i].found = true;
				(*left)--;
			}
		}
	} while (*left && dwarf_siblingof(&child, &child) == 0);
}

/* The DIE of namespace `name` directly under `parent`, searching from its first child. */
static bool find_namespace(Dwarf_Die *parent, const char *name, Dwarf_Die *out)
{
	if (dwarf_child(parent, out) != 0)
		return false;
	do {
		const char *ns = dwarf_diename(out);

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

/* Has the walk found what one era needs? */
static bool complete(const struct dwarf_layout *l, bool want_mesh)
{
	bool era_b = l->has_device && l->has_size && l->has_type && l->has_hooked &&
		     l->has_address && l->has_allocator && l->has_status;
	bool era_c = l->has_impl && l->has_impl_device && l->has_impl_size && l->has_impl_type &&
		     l->has_impl_hooked && l->has_impl_address && l->has_impl_allocator &&
		     l->has_impl_status;

	return (era_b || era_c) && l->has_device_id && (l->has_mesh_id || !want_mesh);
}

int dwarf_layout__read(const char *library, bool want_mesh, struct dwarf_layout *layout)
{
	static const char *const device_names[] = { "device_", NULL };
	static const char *const size_names[] = { "size_", NULL };
	static const char *const type_names[] = { "buffer_type_", NULL };
	static const char *const hooked_names[] = { "hooked_allocation_", NULL };
	static const char *const address_names[] = { "address_", NULL };
	static const char *const id_names[] = { "id_", NULL };
	static const char *const allocator_names[] = { "allocator_", NULL };
	static const char *const mesh_id_names[] = { "mesh_id_", NULL };
	static const char *const status_names[] = { "allocation_status_", NULL };
	static const char *const impl_names[] = { "pimpl_", "impl_", "p_impl_", NULL };
	/* Era B keeps them in Buffer; era C in BufferImpl: both are looked for. */
	struct wanted_member wanted[] = {
		{ "Buffer", impl_names, &layout->impl, &layout->has_impl },
		{ "BufferImpl", device_names, &layout->impl_device, &layout->has_impl_device },
		{ "BufferImpl", size_names, &layout->impl_size, &layout->has_impl_size },
		{ "BufferImpl", type_names, &layout->impl_type, &layout->has_impl_type },
		{ "BufferImpl", hooked_names, &layout->impl_hooked, &layout->has_impl_hooked },
		{ "BufferImpl", address_names, &layout->impl_address, &layout->has_impl_address },
		{ "BufferImpl", allocator_names, &layout->impl_allocator,
		  &layout->has_impl_allocator },
		{ "BufferImpl", status_names, &layout->impl_status, &layout->has_impl_status },
		{ "Buffer", device_names, &layout->device, &layout->has_device },
		{ "Buffer", size_names, &layout->size, &layout->has_size },
		{ "Buffer", type_names, &layout->type, &layout->has_type },
		{ "Buffer", hooked_names, &layout->hooked, &layout->has_hooked },
		{ "Buffer", address_names, &layout->address, &layout->has_address },
		{ "Buffer", allocator_names, &layout->allocator, &layout->has_allocator },
		{ "Buffer", status_names, &layout->status, &layout->has_status },
		{ "Device", id_names, &layout->device_id, &layout->has_device_id },
		/* In tt::tt_metal::distributed, scanned as well. */
		{ "MeshDevice", mesh_id_names, &layout->mesh_id, &layout->has_mesh_id },
	};
	size_t count = sizeof(wanted) / sizeof(wanted[0]), left = count;
	struct inflated inflated = { NULL, 0 };
	Dwarf_Off offset = 0, next;
	size_t header_size;
	Dwarf *dwarf = NULL;
	Elf *elf = NULL;
	int fd, err = -ENODATA; /* no debug info */
	int inflate_err = 0;

	memset(layout, 0, sizeof(*layout));
	fd = open(library, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
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
	err = 0;
	layout->has_dwarf = true;
	while (left && dwarf_nextcu(dwarf, offset, &next, &header_size, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, tt, tt_metal;

		if (dwarf_offdie(dwarf, offset + header_size, &cu) &&
		    find_namespace(&cu, "tt", &tt)) {
			/* A CU may open the namespace several times: scan each. */
			Dwarf_Die ns = tt;

			do {
				const char *name = dwarf_diename(&ns);

				Dwarf_Die distributed;

				if (dwarf_tag(&ns) != DW_TAG_namespace || !name ||
				    strcmp(name, "tt") ||
				    !find_namespace(&ns, "tt_metal", &tt_metal))
					continue;
				scan_namespace(&tt_metal, wanted, count, &left);
				if (left && find_namespace(&tt_metal, "distributed", &distributed))
					scan_namespace(&distributed, wanted, count, &left);
			} while (left && dwarf_siblingof(&ns, &ns) == 0);
		}
		offset = next;
		if (complete(layout, want_mesh))
			break;
	}
	dwarf_end(dwarf);
out:
	elf_end(elf);
	for (size_t i = 0; i < inflated.count; i++)
		free(inflated.buffers[i]);
	free(inflated.buffers);
	close(fd);
	return err;
}
