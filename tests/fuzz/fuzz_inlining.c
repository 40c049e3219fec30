/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * inlining__calls on any file. The caller and callee are found in the file
 * as devledger finds them (elfsyms__resolve), and the caller is also taken
 * from the input's last 16 bytes (file offset, size; little-endian), since
 * inlining__calls must refuse one outside the file whatever the symbols
 * say. What it promises is checked: 1, 0, or -errno, and an error for a
 * caller outside the file (-ERANGE, or -ENOEXEC first for a file libelf
 * cannot read).
 */
#include <errno.h>
#include <string.h>

#include "elfsyms.h"
#include "fuzz.h"
#include "inlining.h"

/* The tracker call devledger checks first: Buffer::allocate_impl -> track_allocate. */
static const char *const names[] = {
	"_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE",
	"_ZN2tt8tt_metal6Buffer13allocate_implEv",
};

static uint64_t read_u64(const uint8_t *bytes)
{
	uint64_t value;

	memcpy(&value, bytes, sizeof(value));
	return value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct elfsym syms[2], caller;
	int ret;

	if (!elfsyms__resolve(path, names, 2, syms) && syms[0].found && syms[1].found) {
		ret = inlining__calls(path, &syms[1], &syms[0], names[0]);
		FUZZ_CHECK(ret == 0 || ret == 1 || (ret < 0 && ret != -ERANGE));
	}
	if (size < 16)
		return 0;
	caller = (struct elfsym){ .found = true,
				  .name = names[1],
				  .table = ELFSYM_SYMTAB,
				  .offset = read_u64(data + size - 16),
				  .vaddr = read_u64(data + size - 16),
				  .size = read_u64(data + size - 8) };
	ret = inlining__calls(path, &caller, &syms[0], names[0]);
	FUZZ_CHECK(ret == 0 || ret == 1 || ret < 0);
	if (caller.offset > size || caller.size > size - caller.offset)
		FUZZ_CHECK(ret < 0);
	return 0;
}
