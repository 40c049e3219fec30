/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Field offsets of tt-metal's classes, as the library's DWARF states them.
 * Knows nothing of which fields devledger wants: callers ask by class and
 * member name.
 */
#ifndef DEVLEDGER_DWARFLAYOUT_H
#define DEVLEDGER_DWARFLAYOUT_H

#include <stddef.h>

/*
 * One field: a class defined in namespace tt::tt_metal or one below it (by
 * its own name, e.g. "MeshDevice"), and a member: "size_"; alternatives
 * "pimpl_|impl_" (the first found); or a path "config_.total_size_" that
 * follows each member's type, base classes included.
 */
struct dwarf_query {
	const char *class_name;
	const char *member;
};

/*
 * offsets[i] is queries[i]'s offset from the start of its class, or
 * DL_OFFSET_UNKNOWN where the DWARF lacks it. Returns 0, -ENODATA without
 * debug info, or -errno. -EFBIG: a compressed section declares more than
 * devledger inflates (past 64 times its compressed size, beyond 512 MiB per
 * library), a decompression bomb; -EBADMSG: a zstd section that does not
 * inflate to its declared size. Either way nothing is read: the caller goes
 * on without DWARF, and should warn. The walk over the compile units ends
 * once every query is settled (found, or its class seen defined without it):
 * tt-metal's debug info is large.
 */
int dwarf_layout__read(const char *library, const struct dwarf_query *queries, size_t count,
		       unsigned int *offsets);

#endif /* DEVLEDGER_DWARFLAYOUT_H */
