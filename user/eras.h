/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tt-metal's eras as data: how to recognise each, the names of every probed
 * function in order of preference, and for every field a probe reads its
 * DWARF class and member, its name for people and its preset. A new era is
 * one entry in eras[] (and a stand-in variant to test it).
 */
#ifndef DEVLEDGER_ERAS_H
#define DEVLEDGER_ERAS_H

#include <stdbool.h>

/* The probed functions. */
enum probe_symbol {
	SYM_TRACK_ALLOCATE,
	SYM_TRACK_DEALLOCATE,
	SYM_TRACK_ALLOCATE_CB,
	SYM_TRACK_DEALLOCATE_CB,
	SYM_ALLOCATE_CIRCULAR_BUFFERS,
	SYM_PROGRAM_DESTRUCTOR,
	SYM_DEVICE_CLOSE,
	/* Below GraphTracker: what the allocator releases without a report. */
	SYM_BANK_DEALLOCATE,
	SYM_BANK_DEALLOCATE_ALL,
	SYM_BANK_CLEAR, /* what ~AllocatorImpl calls on each bank (newest tt-metal) */
	SYM_ALLOCATOR_DEALLOCATE_BUFFERS,
	SYM_ALLOCATOR_CLEAR,
	SYM_MESH_CLOSE,
	/* The tracker calls' callers: probed instead where a call was inlined into them. */
	SYM_BUFFER_ALLOCATE_IMPL,
	SYM_BUFFER_DEALLOCATE_IMPL,
	/* Metal 2.0: program-scope L1 laid out with no tracker hook at all. */
	SYM_ALLOCATE_DATAFLOW_BUFFERS,
	/*
	 * One buffer released through its allocator, Allocator(Impl)::
	 * deallocate_buffer(Buffer*), and the functions that may call it without
	 * a report (a MeshBuffer released by its mesh's allocator): probed at
	 * those calls only, never on the tracked path.
	 */
	SYM_ALLOCATOR_DEALLOCATE_BUFFER,
	SYM_MESH_BUFFER_DEALLOCATE,
	SYM_MESH_BUFFER_DESTRUCTOR,
	PROBE_SYMBOLS,
};

/* Names a function may have, in order of preference. */
#define ERA_MAX_NAMES 3

/* The fields the probes read. */
enum layout_field {
	FIELD_BUFFER_IMPL, /* Buffer's pointer to its state (era C's pimpl); unknown: in Buffer */
	FIELD_BUFFER_DEVICE,
	FIELD_BUFFER_SIZE,
	FIELD_BUFFER_TYPE,
	FIELD_BUFFER_HOOKED,
	FIELD_BUFFER_ADDRESS,
	FIELD_BUFFER_ALLOCATOR,
	FIELD_BUFFER_STATUS, /* allocation_status_: read where allocate_impl/deallocate_impl report
			      */
	FIELD_DEVICE_ID,
	FIELD_MESH_ID,	    /* MeshDevice::mesh_id_ (older meshes) */
	FIELD_MESH_IMPL,    /* MeshDevice::pimpl_ (newest meshes) ... */
	FIELD_MESH_IMPL_ID, /* ... and MeshDeviceImpl::mesh_id_ */
	FIELD_PROGRAM_CBS,  /* ProgramImpl::circular_buffers_: std::vector<std::shared_ptr<CB>> */
	FIELD_PROGRAM_CBS_NEEDED,
	FIELD_CB_ADDRESS,
	FIELD_CB_SIZE,
	FIELD_CB_GLOBAL, /* set: globally allocated, not laid out by the program */
	FIELD_PROGRAM_DFBS,
	FIELD_PROGRAM_DFBS_NEEDED,
	FIELD_DFB_ADDRESS,
	FIELD_DFB_SIZE,
	FIELD_BANK_TYPE, /* BankManager's BufferType: its first word */
	LAYOUT_FIELDS,
};

/*
 * One field: where the DWARF says it is (a class in tt::tt_metal or a
 * namespace below it, and a member, a path of members "config_.total_size_"
 * through their types and base classes, or alternatives "pimpl_|impl_"), and
 * where it is without DWARF (DL_OFFSET_UNKNOWN: nowhere).
 */
struct era_field {
	const char *name; /* for people and --offset: "BufferImpl.size_" */
	const char *dwarf_class;
	const char *dwarf_member;
	unsigned int preset;
};

struct era {
	const char *name; /* --profile NAME */
	const char *about;
	/* The library is of this era when it has one of these functions ... */
	const char *marker;
	const char *marker_name; /* ... (readable) */
	/* ... or its DWARF has this field (checked first, when there is DWARF). */
	enum layout_field dwarf_marker;
	const char *symbols[PROBE_SYMBOLS][ERA_MAX_NAMES];
	struct era_field fields[LAYOUT_FIELDS];
};

/* Oldest first: the newest era whose marker a library shows is its era, else the oldest. */
#define ERA_COUNT 2
extern const struct era eras[ERA_COUNT];

/* The era called `name`, or NULL. */
const struct era *eras__find(const char *name);

/* "era-b, era-c": for messages. */
const char *eras__names(void);

/* Is `name` a field some era has ("Buffer.size_", "BufferImpl.size_", ...)? */
bool eras__known_field(const char *name);

#endif /* DEVLEDGER_ERAS_H */
