/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Field offsets of tt-metal's Buffer, BufferImpl, Device and MeshDevice, as
 * the library's DWARF states them.
 */
#ifndef DEVLEDGER_DWARFLAYOUT_H
#define DEVLEDGER_DWARFLAYOUT_H

#include <stdbool.h>

/* Each offset is valid only when its has_ flag is set. */
struct dwarf_layout {
	bool has_dwarf;
	unsigned int impl; /* Buffer's pointer to its BufferImpl (era C) */
	bool has_impl;
	unsigned int device, size, type, hooked, address, allocator; /* in Buffer (era B) */
	bool has_device, has_size, has_type, has_hooked, has_address, has_allocator;
	unsigned int impl_device, impl_size, impl_type, impl_hooked, impl_address,
		impl_allocator; /* in BufferImpl */
	bool has_impl_device, has_impl_size, has_impl_type, has_impl_hooked, has_impl_address,
		has_impl_allocator;
	unsigned int device_id; /* Device::id_ */
	bool has_device_id;
	unsigned int mesh_id; /* distributed::MeshDevice::mesh_id_ */
	bool has_mesh_id;
	unsigned int status, impl_status; /* allocation_status_ in Buffer, in BufferImpl */
	bool has_status, has_impl_status;
};

/*
 * Returns 0 (what was found is flagged), -ENODATA without debug info, -errno.
 * -EFBIG: a compressed section declares more than devledger inflates (past
 * 64 times its compressed size, beyond 512 MiB per library), a decompression
 * bomb; -EBADMSG: a zstd section that does not inflate to its declared size.
 * Either way nothing is read (has_dwarf is false): the caller goes on
 * without DWARF, and should warn.
 * The walk ends as soon as one era's Buffer fields, Device::id_ and (when
 * want_mesh) MeshDevice::mesh_id_ are all found: a full walk of tt-metal's
 * debug info takes about a second.
 */
int dwarf_layout__read(const char *library, bool want_mesh, struct dwarf_layout *layout);

#endif /* DEVLEDGER_DWARFLAYOUT_H */
