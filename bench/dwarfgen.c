/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * dwarfgen ABBREV_OFFSET MEGABYTES INFO_OUT ABBREV_OUT
 * Compile units of DWARF 4 in the shape g++ gives a C++ unit's headers:
 * namespace tt { namespace tt_metal { ... } } holding thousands of class
 * definitions, each with members and member function declarations and a
 * DW_AT_sibling to skip them by, beside a namespace std of the same. About
 * MEGABYTES MB of .debug_info in units of about 1 MB, none of which defines
 * a class devledger looks for; their abbreviations go at ABBREV_OFFSET of
 * .debug_abbrev (after the library's own). The benchmark puts them before the
 * library's own units, so the walk crosses all of them (tt-metal's classes
 * with a vtable are defined in the unit that emits the vtable: any one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLASSES_PER_UNIT  1500
#define MEMBERS_PER_CLASS 12
#define METHODS_PER_CLASS 6
#define PARAMS_PER_METHOD 2

enum {
	DW_TAG_class_type = 0x02,
	DW_TAG_formal_parameter = 0x05,
	DW_TAG_member = 0x0d,
	DW_TAG_compile_unit = 0x11,
	DW_TAG_base_type = 0x24,
	DW_TAG_subprogram = 0x2e,
	DW_TAG_namespace = 0x39
};
enum {
	DW_AT_sibling = 0x01,
	DW_AT_name = 0x03,
	DW_AT_byte_size = 0x0b,
	DW_AT_language = 0x13,
	DW_AT_data_member_location = 0x38,
	DW_AT_declaration = 0x3c,
	DW_AT_type = 0x49,
	DW_AT_encoding = 0x3e
};
enum {
	DW_FORM_data1 = 0x0b,
	DW_FORM_data2 = 0x05,
	DW_FORM_data4 = 0x06,
	DW_FORM_string = 0x08,
	DW_FORM_ref4 = 0x13,
	DW_FORM_flag_present = 0x19
};
enum {
	ABBREV_UNIT = 1,
	ABBREV_NAMESPACE,
	ABBREV_CLASS,
	ABBREV_MEMBER,
	ABBREV_METHOD,
	ABBREV_PARAM,
	ABBREV_BASE
};

struct buf {
	uint8_t *bytes;
	size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->bytes = realloc(b->bytes, b->cap);
		if (!b->bytes) {
			perror("dwarfgen");
			exit(1);
		}
	}
	memcpy(b->bytes + b->len, data, len);
	b->len += len;
}

static void u8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void u16(struct buf *b, uint16_t v)
{
	put(b, &v, 2); /* little-endian: x86-64 */
}

static void u32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void str(struct buf *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

static void set_u32(struct buf *b, size_t at, uint32_t v)
{
	memcpy(b->bytes + at, &v, 4);
}

static void abbrev(struct buf *b, int code, int tag, int children, const int *attrs)
{
	u8(b, (uint8_t)code);
	u8(b, (uint8_t)tag);
	u8(b, (uint8_t)children);
	for (; attrs[0]; attrs += 2) {
		u8(b, (uint8_t)attrs[0]);
		u8(b, (uint8_t)attrs[1]);
	}
	u8(b, 0);
	u8(b, 0);
}

/* One namespace of classes; `unit` is where the unit starts (ref4 counts from it). */
static void classes(struct buf *b, size_t unit, const char *prefix, unsigned int number,
		    uint32_t int_type)
{
	char name[96];

	for (unsigned int c = 0; c < CLASSES_PER_UNIT; c++) {
		size_t sibling;

		u8(b, ABBREV_CLASS);
		snprintf(name, sizeof(name), "%sGenerated%05u_%04u", prefix, number, c);
		str(b, name);
		u32(b, MEMBERS_PER_CLASS * 8);
		sibling = b->len;
		u32(b, 0);
		for (unsigned int m = 0; m < MEMBERS_PER_CLASS; m++) {
			u8(b, ABBREV_MEMBER);
			snprintf(name, sizeof(name), "member_%02u_", m);
			str(b, name);
			u32(b, int_type);
			u32(b, m * 8);
		}
		for (unsigned int m = 0; m < METHODS_PER_CLASS; m++) {
			u8(b, ABBREV_METHOD);
			snprintf(name, sizeof(name), "method_%02u", m);
			str(b, name);
			for (unsigned int p = 0; p < PARAMS_PER_METHOD; p++) {
				u8(b, ABBREV_PARAM);
				u32(b, int_type);
			}
			u8(b, 0);
		}
		u8(b, 0);
		set_u32(b, sibling, (uint32_t)(b->len - unit));
	}
}

/* A namespace's DIE; returns where its DW_AT_sibling goes, for namespace_close. */
static size_t namespace_open(struct buf *b, const char *name)
{
	size_t sibling;

	u8(b, ABBREV_NAMESPACE);
	str(b, name);
	sibling = b->len;
	u32(b, 0);
	return sibling;
}

static void namespace_close(struct buf *b, size_t unit, size_t sibling)
{
	u8(b, 0);
	set_u32(b, sibling, (uint32_t)(b->len - unit));
}

int main(int argc, char **argv)
{
	static const int unit_attrs[] = { DW_AT_name, DW_FORM_string, DW_AT_language, DW_FORM_data2,
					  0 };
	static const int ns_attrs[] = { DW_AT_name, DW_FORM_string, DW_AT_sibling, DW_FORM_ref4,
					0 };
	static const int class_attrs[] = { DW_AT_name,
					   DW_FORM_string,
					   DW_AT_byte_size,
					   DW_FORM_data4,
					   DW_AT_sibling,
					   DW_FORM_ref4,
					   0 };
	static const int member_attrs[] = { DW_AT_name,
					    DW_FORM_string,
					    DW_AT_type,
					    DW_FORM_ref4,
					    DW_AT_data_member_location,
					    DW_FORM_data4,
					    0 };
	static const int method_attrs[] = { DW_AT_name, DW_FORM_string, DW_AT_declaration,
					    DW_FORM_flag_present, 0 };
	static const int param_attrs[] = { DW_AT_type, DW_FORM_ref4, 0 };
	static const int base_attrs[] = { DW_AT_name,
					  DW_FORM_string,
					  DW_AT_byte_size,
					  DW_FORM_data1,
					  DW_AT_encoding,
					  DW_FORM_data1,
					  0 };
	struct buf info = { 0 }, abbrevs = { 0 };
	unsigned long abbrev_offset, megabytes;
	FILE *out;

	if (argc != 5) {
		fprintf(stderr, "usage: dwarfgen ABBREV_OFFSET MEGABYTES INFO_OUT ABBREV_OUT\n");
		return 2;
	}
	abbrev_offset = strtoul(argv[1], NULL, 0);
	megabytes = strtoul(argv[2], NULL, 0);
	abbrev(&abbrevs, ABBREV_UNIT, DW_TAG_compile_unit, 1, unit_attrs);
	abbrev(&abbrevs, ABBREV_NAMESPACE, DW_TAG_namespace, 1, ns_attrs);
	abbrev(&abbrevs, ABBREV_CLASS, DW_TAG_class_type, 1, class_attrs);
	abbrev(&abbrevs, ABBREV_MEMBER, DW_TAG_member, 0, member_attrs);
	abbrev(&abbrevs, ABBREV_METHOD, DW_TAG_subprogram, 1, method_attrs);
	abbrev(&abbrevs, ABBREV_PARAM, DW_TAG_formal_parameter, 0, param_attrs);
	abbrev(&abbrevs, ABBREV_BASE, DW_TAG_base_type, 0, base_attrs);
	u8(&abbrevs, 0);

	for (unsigned int number = 0; info.len < megabytes * 1000000; number++) {
		size_t unit = info.len, sibling, tt_sibling;
		uint32_t int_type;
		char name[64];

		u32(&info, 0); /* unit_length, set below */
		u16(&info, 4);
		u32(&info, (uint32_t)abbrev_offset);
		u8(&info, 8);
		u8(&info, ABBREV_UNIT);
		snprintf(name, sizeof(name), "generated/unit_%05u.cpp", number);
		str(&info, name);
		u16(&info, 0x0004); /* DW_LANG_C_plus_plus */
		int_type = (uint32_t)(info.len - unit);
		u8(&info, ABBREV_BASE);
		str(&info, "int");
		u8(&info, 4);
		u8(&info, 5); /* DW_ATE_signed */

		sibling = namespace_open(&info, "std");
		classes(&info, unit, "Std", number, int_type);
		namespace_close(&info, unit, sibling);
		tt_sibling = namespace_open(&info, "tt");
		sibling = namespace_open(&info, "tt_metal");
		classes(&info, unit, "", number, int_type);
		namespace_close(&info, unit, sibling);
		namespace_close(&info, unit, tt_sibling);
		u8(&info, 0); /* the unit's children end */
		set_u32(&info, unit, (uint32_t)(info.len - unit - 4));
	}
	out = fopen(argv[3], "wb");
	if (!out || fwrite(info.bytes, 1, info.len, out) != info.len || fclose(out))
		return perror(argv[3]), 1;
	out = fopen(argv[4], "wb");
	if (!out || fwrite(abbrevs.bytes, 1, abbrevs.len, out) != abbrevs.len || fclose(out))
		return perror(argv[4]), 1;
	free(info.bytes);
	free(abbrevs.bytes);
	return 0;
}
