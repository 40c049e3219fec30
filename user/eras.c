/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tt-metal's eras, from its public source (x86-64, libstdc++). The DWARF of
 * the library being traced overrides every preset; `devledger check` shows
 * which were used.
 */
#include <stdio.h>
#include <string.h>

#include "eras.h"
#include "../bpf/devledger.h"

#define NONE DL_OFFSET_UNKNOWN

/* The functions every era names alike. */
/* clang-format off */
#define COMMON_SYMBOLS                                                                             \
	[SYM_TRACK_ALLOCATE] = { "_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE" }, \
	[SYM_TRACK_DEALLOCATE] = { "_ZN2tt8tt_metal12GraphTracker16track_deallocateEPNS0_"         \
				   "6BufferE" },                                                   \
	[SYM_TRACK_ALLOCATE_CB] = { "_ZN2tt8tt_metal12GraphTracker17track_allocate_cbERK12CoreRa"  \
				    "ngeSetmmbPKNS0_7IDeviceE" },                                  \
	[SYM_TRACK_DEALLOCATE_CB] = { "_ZN2tt8tt_metal12GraphTracker19track_deallocate_cbEPKNS0_"  \
				      "7IDeviceE" },                                               \
	[SYM_ALLOCATE_CIRCULAR_BUFFERS] = { "_ZN2tt8tt_metal6detail11ProgramImpl25allocate_circu"  \
					    "lar_buffersEPKNS0_7IDeviceE" },                       \
	/* D1 is normally an alias of D2; either will do. */                                       \
	[SYM_PROGRAM_DESTRUCTOR] = { "_ZN2tt8tt_metal6detail11ProgramImplD2Ev",                    \
				     "_ZN2tt8tt_metal6detail11ProgramImplD1Ev" },                  \
	[SYM_DEVICE_CLOSE] = { "_ZN2tt8tt_metal6Device5closeEv" },                                 \
	[SYM_BANK_DEALLOCATE_ALL] = { "_ZN2tt8tt_metal11BankManager14deallocate_allEv" },          \
	[SYM_BANK_CLEAR] = { "_ZN2tt8tt_metal11BankManager5clearEv" },                             \
	[SYM_MESH_CLOSE] = { "_ZN2tt8tt_metal11distributed10MeshDevice5closeEv" },                 \
	[SYM_BUFFER_ALLOCATE_IMPL] = { "_ZN2tt8tt_metal6Buffer13allocate_implEv" },                \
	[SYM_BUFFER_DEALLOCATE_IMPL] = { "_ZN2tt8tt_metal6Buffer15deallocate_implEv" },            \
	/* "allocate_dataflow_buffers" has 25 letters, like "allocate_circular_buffers". */ \
	[SYM_ALLOCATE_DATAFLOW_BUFFERS] = { "_ZN2tt8tt_metal6detail11ProgramImpl25allocate_dataf"  \
					    "low_buffersEPKNS0_7IDeviceE" },                       \
	[SYM_MESH_BUFFER_DEALLOCATE] = { "_ZN2tt8tt_metal11distributed10MeshBuffer10deallocateE"   \
					 "v" },                                                    \
	[SYM_MESH_BUFFER_DESTRUCTOR] = { "_ZN2tt8tt_metal11distributed10MeshBufferD2Ev",           \
					 "_ZN2tt8tt_metal11distributed10MeshBufferD1Ev" }

/*
 * Fields outside the Buffer, alike in every era. Only Device::id_ has a
 * preset: MeshDevice's layout changed within eras, and a program's buffers
 * are deep in classes that change often; without DWARF they are not read.
 */
#define COMMON_FIELDS                                                                              \
	[FIELD_DEVICE_ID] = { "Device.id_", "Device", "id_", 8 },                                  \
	[FIELD_MESH_ID] = { "MeshDevice.mesh_id_", "MeshDevice", "mesh_id_", NONE },               \
	[FIELD_MESH_IMPL] = { "MeshDevice.pimpl_", "MeshDevice", "pimpl_", NONE },                 \
	[FIELD_MESH_IMPL_ID] = { "MeshDeviceImpl.mesh_id_", "MeshDeviceImpl", "mesh_id_", NONE },  \
	[FIELD_PROGRAM_CBS] = { "ProgramImpl.circular_buffers_", "ProgramImpl",                    \
				"circular_buffers_", NONE },                                       \
	[FIELD_PROGRAM_CBS_NEEDED] = { "ProgramImpl.local_circular_buffer_allocation_needed_",     \
				       "ProgramImpl", "local_circular_buffer_allocation_needed_",  \
				       NONE },                                                     \
	[FIELD_CB_ADDRESS] = { "CircularBuffer.locally_allocated_address_", "CircularBuffer",      \
			       "locally_allocated_address_", NONE },                               \
	[FIELD_CB_SIZE] = { "CircularBuffer.config_.total_size_", "CircularBuffer",                \
			    "config_.total_size_", NONE },                                         \
	/* std::optional<uint32_t>'s flag, as libstdc++ lays it out. */                            \
	[FIELD_CB_GLOBAL] = { "CircularBuffer.config_.globally_allocated_address_",                \
			      "CircularBuffer",                                                    \
			      "config_.globally_allocated_address_._M_payload._M_engaged", NONE }, \
	[FIELD_PROGRAM_DFBS] = { "ProgramImpl.dataflow_buffers_", "ProgramImpl",                   \
				 "dataflow_buffers_", NONE },                                      \
	[FIELD_PROGRAM_DFBS_NEEDED] = { "ProgramImpl.local_dataflow_buffer_allocation_needed_",    \
					"ProgramImpl",                                             \
					"local_dataflow_buffer_allocation_needed_", NONE },        \
	[FIELD_DFB_ADDRESS] = { "DataflowBufferImpl.allocated_address_", "DataflowBufferImpl",     \
				"allocated_address_", NONE },                                      \
	[FIELD_DFB_SIZE] = { "DataflowBufferImpl.total_size_", "DataflowBufferImpl",               \
			     "total_size_", NONE },                                                \
	/* No vptr: the bank's type is its first word. */                                          \
	[FIELD_BANK_TYPE] = { "BankManager.buffer_type_", "BankManager", "buffer_type_", 0 }
/* clang-format on */

const struct era eras[ERA_COUNT] = {
	{
		.name = "era-b",
		.about = "2025: Buffer holds its fields; class Allocator",
		.dwarf_marker = FIELD_BUFFER_SIZE,
		.symbols = {
			COMMON_SYMBOLS,
			[SYM_BANK_DEALLOCATE] = { "_ZN2tt8tt_metal11BankManager17deallocate_bufferEm" },
			[SYM_ALLOCATOR_DEALLOCATE_BUFFERS] = {
				"_ZN2tt8tt_metal9Allocator18deallocate_buffersEv" },
			[SYM_ALLOCATOR_CLEAR] = { "_ZN2tt8tt_metal9Allocator5clearEv" },
			[SYM_ALLOCATOR_DEALLOCATE_BUFFER] = {
				"_ZN2tt8tt_metal9Allocator17deallocate_bufferEPNS0_6BufferE" },
		},
		.fields = {
			COMMON_FIELDS,
			[FIELD_BUFFER_IMPL] = { "Buffer.pimpl", NULL, NULL, NONE },
			[FIELD_BUFFER_DEVICE] = { "Buffer.device_", "Buffer", "device_", 16 },
			[FIELD_BUFFER_SIZE] = { "Buffer.size_", "Buffer", "size_", 24 },
			[FIELD_BUFFER_TYPE] = { "Buffer.buffer_type_", "Buffer", "buffer_type_", 32 },
			[FIELD_BUFFER_HOOKED] = { "Buffer.hooked_allocation_", "Buffer",
						  "hooked_allocation_", 73 },
			[FIELD_BUFFER_ADDRESS] = { "Buffer.address_", "Buffer", "address_", 80 },
			[FIELD_BUFFER_ALLOCATOR] = { "Buffer.allocator_", "Buffer", "allocator_", 64 },
			[FIELD_BUFFER_STATUS] = { "Buffer.allocation_status_", "Buffer",
						  "allocation_status_", 72 },
		},
	},
	{
		.name = "era-c",
		.about = "late 2025 on: Buffer is a pimpl over BufferImpl; AllocatorImpl",
		.marker = "_ZN2tt8tt_metal13AllocatorImpl18deallocate_buffersEv",
		.marker_name = "AllocatorImpl::deallocate_buffers",
		.dwarf_marker = FIELD_BUFFER_IMPL,
		.symbols = {
			COMMON_SYMBOLS,
			/* The AllocatorID argument came later within the era. */
			[SYM_BANK_DEALLOCATE] = {
				"_ZN2tt8tt_metal11BankManager17deallocate_bufferEmN4ttsl10StrongTypeIjNS0_"
				"14AllocatorIDTagEEE",
				"_ZN2tt8tt_metal11BankManager17deallocate_bufferEm" },
			/*
			 * The public Allocator is a view whose deallocate_buffers jumps to
			 * AllocatorImpl's: probing both would count one release twice.
			 */
			[SYM_ALLOCATOR_DEALLOCATE_BUFFERS] = {
				"_ZN2tt8tt_metal13AllocatorImpl18deallocate_buffersEv" },
			[SYM_ALLOCATOR_CLEAR] = { "_ZN2tt8tt_metal13AllocatorImpl5clearEv" },
			[SYM_ALLOCATOR_DEALLOCATE_BUFFER] = {
				"_ZN2tt8tt_metal13AllocatorImpl17deallocate_bufferEPNS0_6BufferE" },
		},
		.fields = {
			COMMON_FIELDS,
			[FIELD_BUFFER_IMPL] = { "Buffer.pimpl", "Buffer", "pimpl_|impl_|p_impl_", 16 },
			[FIELD_BUFFER_DEVICE] = { "BufferImpl.device_", "BufferImpl", "device_", 0 },
			[FIELD_BUFFER_SIZE] = { "BufferImpl.size_", "BufferImpl", "size_", 8 },
			[FIELD_BUFFER_TYPE] = { "BufferImpl.buffer_type_", "BufferImpl", "buffer_type_",
						16 },
			[FIELD_BUFFER_HOOKED] = { "BufferImpl.hooked_allocation_", "BufferImpl",
						  "hooked_allocation_", 57 },
			[FIELD_BUFFER_ADDRESS] = { "BufferImpl.address_", "BufferImpl", "address_", 64 },
			/* Right before allocation_status_, as in era B: the member order held. */
			[FIELD_BUFFER_ALLOCATOR] = { "BufferImpl.allocator_", "BufferImpl", "allocator_",
						     48 },
			[FIELD_BUFFER_STATUS] = { "BufferImpl.allocation_status_", "BufferImpl",
						  "allocation_status_", 56 },
		},
	},
};

const struct era *eras__find(const char *name)
{
	for (size_t i = 0; i < ERA_COUNT; i++)
		if (!strcmp(eras[i].name, name))
			return &eras[i];
	return NULL;
}

const char *eras__names(void)
{
	static char names[ERA_COUNT * 16];

	if (!names[0])
		for (size_t i = 0; i < ERA_COUNT; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 i ? ", " : "", eras[i].name);
	return names;
}

bool eras__known_field(const char *name)
{
	for (size_t e = 0; e < ERA_COUNT; e++)
		for (int f = 0; f < LAYOUT_FIELDS; f++)
			if (!strcmp(eras[e].fields[f].name, name))
				return true;
	return false;
}
