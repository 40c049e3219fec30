/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * dwarf_layout__read on any file, compressed debug sections included (zstd
 * inflated by devledger, zlib by libdw): questions of every shape the walk
 * answers (a member, alternatives, a path through a member's type, a base
 * class's member, a class no seed has). What it promises is checked: on any
 * failure nothing is read.
 */
#include "dwarflayout.h"
#include "fuzz.h"

#include "../bpf/devledger.h"

static const struct dwarf_query queries[] = {
	{ "Device", "id_" },
	{ "Device", "slot_.handle" },
	{ "Buffer", "pimpl_|impl_" },
	{ "BufferImpl", "size_" },
	{ "BufferImpl", "hooked_allocation_" },
	{ "CircularBuffer", "config_.total_size_" },
	{ "CircularBuffer", "locally_allocated_address_" },
	{ "MeshDevice", "mesh_id_" },
	{ "ProgramImpl", "circular_buffers_" },
	{ "ProgramImpl", "missing_|local_circular_buffer_allocation_needed_" },
	{ "BankManager", "buffer_type_" },
};

#define QUERIES (sizeof(queries) / sizeof(queries[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int offsets[QUERIES];
	int err = dwarf_layout__read(fuzz_file(data, size), queries, QUERIES, offsets);

	FUZZ_CHECK(err <= 0);
	for (size_t i = 0; i < QUERIES && err; i++)
		FUZZ_CHECK(offsets[i] == DL_OFFSET_UNKNOWN);
	return 0;
}
