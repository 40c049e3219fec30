/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "probes.h"
#include "probesite.h"

/* enum class AllocationStatus : uint8_t { ALLOCATION_REQUESTED, ALLOCATED, DEALLOCATED } */
#define ALLOCATION_STATUS_ALLOCATED 1

/* What an entry keeps for its return, by function: one slot each. */
enum save_slot {
	SLOT_ALLOCATE_IMPL = 1,
	SLOT_CIRCULAR_BUFFERS,
	SLOT_DATAFLOW_BUFFERS,
};

const struct tracker_call_info tracker_calls[TRACKER_CALLS] = {
	[CALL_TRACK_ALLOCATE] = { SYM_BUFFER_ALLOCATE_IMPL, SYM_TRACK_ALLOCATE,
				  "Buffer::allocate_impl", "GraphTracker::track_allocate",
				  "devledger reports allocations at Buffer::allocate_impl's return "
				  "instead",
				  "no allocation is seen" },
	[CALL_TRACK_DEALLOCATE] = { SYM_BUFFER_DEALLOCATE_IMPL, SYM_TRACK_DEALLOCATE,
				    "Buffer::deallocate_impl", "GraphTracker::track_deallocate",
				    "devledger reports tracked frees at Buffer::deallocate_impl's "
				    "entry instead",
				    "tracked frees are not seen: they end as allocator_free" },
	[CALL_TRACK_ALLOCATE_CB] = { SYM_ALLOCATE_CIRCULAR_BUFFERS, SYM_TRACK_ALLOCATE_CB,
				     "ProgramImpl::allocate_circular_buffers",
				     "GraphTracker::track_allocate_cb",
				     "devledger reads each program's CBs from its own objects at "
				     "allocate_circular_buffers' return instead",
				     "circular buffers are not seen" },
};

/* Values of a spec, as the probe table writes them: FIELD names an enum layout_field. */
/* clang-format off */
#define ARG(n)		{ .source = DL_SRC_ARG, .arg = (n) }
#define FIELD(f, bytes)	{ .source = DL_SRC_OBJECT, .size = (bytes), .offset = (f) }
#define CONST(v)	{ .source = DL_SRC_CONST, .offset = (v) }
#define PROGRAM		{ .source = DL_SRC_PROGRAM }
#define SAVED		{ .source = DL_SRC_SAVED }
#define RECORD(kind_)	{ .kind = (kind_) }
/* clang-format on */

/* What a Buffer tells at its allocation and its free, wherever it is read. */
#define BUFFER_VALUES                                                                              \
	.address = FIELD(FIELD_BUFFER_ADDRESS, 8), .size = FIELD(FIELD_BUFFER_SIZE, 8),            \
	.mem_type = FIELD(FIELD_BUFFER_TYPE, 4), .device = FIELD(FIELD_BUFFER_DEVICE, 8),          \
	.hooked = FIELD(FIELD_BUFFER_HOOKED, 1)

/* Only where tt-metal itself would report: the Buffer is allocated. */
#define IF_ALLOCATED                                                                               \
	.only_if = FIELD(FIELD_BUFFER_STATUS, 1), .only_if_equals = ALLOCATION_STATUS_ALLOCATED

/* An entry that keeps `this` and the device argument for its return, once per layout. */
#define KEEP_PROGRAM(slot, needed)                                                                 \
	{                                                                                          \
		.action = DL_ACTION_SAVE_OBJECT, .object_arg = 0, .save_arg = 1,                   \
		.save_slot = (slot), .only_if = FIELD(needed, 1), .only_if_equals = 1              \
	}

/* ... and its return: one record per buffer of the program's vector. */
#define READ_PROGRAM(slot, type, vector_, address_, size_, only_if_)                               \
	{                                                                                          \
		.kind = DL_EV_CB_ALLOC, .object_arg = DL_ARG_SAVED, .save_slot = (slot),           \
		.mem_type = CONST(type), .device = SAVED, .array = {                               \
			.vector = (vector_),                                                       \
			.stride = 16, /* std::shared_ptr: the object pointer, then its count */    \
			.address = FIELD(address_, 4),                                             \
			.size = FIELD(size_, 4),                                                   \
			only_if_                                                                   \
		}                                                                                  \
	}

/* A CB's buffer is the program's to lay out unless it is globally allocated (a tensor's). */
#define LOCAL_CB  .only_if = FIELD(FIELD_CB_GLOBAL, 1), .only_if_equals = 0
#define EVERY_DFB .only_if = { .source = DL_SRC_NONE }

/*
 * What each probe reports, from tt-metal's signatures (`this` is argument
 * 0): track_allocate(const Buffer*) has the Buffer in rsi; track_allocate_cb's
 * address, size and device are rdx, rcx and r9.
 */
const struct probe probes[PROBE_COUNT] = {
	{ .symbol = SYM_TRACK_ALLOCATE,
	  .name = "track_allocate",
	  .spec = { .kind = DL_EV_ALLOC,
		    .object_arg = 1,
		    BUFFER_VALUES,
		    .object = FIELD(FIELD_BUFFER_ALLOCATOR, 8) },
	  .when = WHEN_CALLED,
	  .call = CALL_TRACK_ALLOCATE },
	{ .symbol = SYM_TRACK_DEALLOCATE,
	  .name = "track_deallocate",
	  .spec = { .kind = DL_EV_FREE, .object_arg = 1, BUFFER_VALUES },
	  .when = WHEN_CALLED,
	  .call = CALL_TRACK_DEALLOCATE },
	{ .symbol = SYM_TRACK_ALLOCATE_CB,
	  .name = "track_allocate_cb",
	  .spec = { .kind = DL_EV_CB_ALLOC,
		    .address = ARG(2),
		    .size = ARG(3),
		    .mem_type = CONST(DL_MEM_CB),
		    .device = ARG(5),
		    .object = PROGRAM },
	  .when = WHEN_CALLED,
	  .call = CALL_TRACK_ALLOCATE_CB },
	/* "Releases every kind of program-scope L1": CBs and DFBs alike. */
	{ .symbol = SYM_TRACK_DEALLOCATE_CB,
	  .name = "track_deallocate_cb",
	  .spec = { .kind = DL_EV_CB_FREE_ALL, .mem_type = CONST(DL_MEM_CB), .device = ARG(1) } },
	{ .symbol = SYM_ALLOCATE_CIRCULAR_BUFFERS,
	  .name = "allocate_circular_buffers",
	  .spec = { .action = DL_ACTION_ENTER_PROGRAM, .object_arg = 0 },
	  .when = WHEN_CALLED,
	  .call = CALL_TRACK_ALLOCATE_CB },
	{ .symbol = SYM_ALLOCATE_CIRCULAR_BUFFERS,
	  .retprobe = true,
	  .name = "allocate_circular_buffers_return",
	  .spec = { .action = DL_ACTION_LEAVE_PROGRAM },
	  .when = WHEN_CALLED,
	  .call = CALL_TRACK_ALLOCATE_CB },
	/*
	 * Where track_allocate_cb was inlined: the program's own CBs, once it has
	 * laid them out (only when it had to: the flag tt-metal checks first).
	 * Globally allocated CBs are not the program's to lay out: skipped.
	 */
	{ .symbol = SYM_ALLOCATE_CIRCULAR_BUFFERS,
	  .name = "read_circular_buffers",
	  .spec = KEEP_PROGRAM(SLOT_CIRCULAR_BUFFERS, FIELD_PROGRAM_CBS_NEEDED),
	  .when = WHEN_INLINED,
	  .call = CALL_TRACK_ALLOCATE_CB },
	{ .symbol = SYM_ALLOCATE_CIRCULAR_BUFFERS,
	  .retprobe = true,
	  .name = "read_circular_buffers_return",
	  .program = PROGRAM_ARRAY,
	  .spec = READ_PROGRAM(SLOT_CIRCULAR_BUFFERS, DL_MEM_CB, FIELD_PROGRAM_CBS,
			       FIELD_CB_ADDRESS, FIELD_CB_SIZE, LOCAL_CB),
	  .when = WHEN_INLINED,
	  .call = CALL_TRACK_ALLOCATE_CB },
	/* Metal 2.0's dataflow buffers: laid out like CBs, with no tracker hook at all. */
	{ .symbol = SYM_ALLOCATE_DATAFLOW_BUFFERS,
	  .name = "read_dataflow_buffers",
	  .spec = KEEP_PROGRAM(SLOT_DATAFLOW_BUFFERS, FIELD_PROGRAM_DFBS_NEEDED) },
	{ .symbol = SYM_ALLOCATE_DATAFLOW_BUFFERS,
	  .retprobe = true,
	  .name = "read_dataflow_buffers_return",
	  .program = PROGRAM_ARRAY,
	  .spec = READ_PROGRAM(SLOT_DATAFLOW_BUFFERS, DL_MEM_DFB, FIELD_PROGRAM_DFBS,
			       FIELD_DFB_ADDRESS, FIELD_DFB_SIZE, EVERY_DFB) },
	{ .symbol = SYM_PROGRAM_DESTRUCTOR,
	  .name = "program_destroyed",
	  .spec = { .kind = DL_EV_PROGRAM_DESTROYED, .object = ARG(0) } },
	{ .symbol = SYM_DEVICE_CLOSE,
	  .name = "device_close",
	  .spec = { .kind = DL_EV_DEVICE_CLOSE, .device = ARG(0) } },
	{ .symbol = SYM_DEVICE_CLOSE,
	  .retprobe = true,
	  .name = "device_close_return",
	  .spec = RECORD(DL_EV_DEVICE_CLOSED) },
	/*
	 * Every release of one buffer by its allocator, tracked or not: on the
	 * tracked path too (right after track_deallocate), so only where the
	 * untracked ones cannot be found at their calls (mesh_buffer_release below).
	 */
	{ .symbol = SYM_BANK_DEALLOCATE,
	  .name = "bank_deallocate",
	  .spec = { .kind = DL_EV_BANK_FREE,
		    .object_arg = 0,
		    .address = ARG(1),
		    .mem_type = FIELD(FIELD_BANK_TYPE, 4),
		    .object = ARG(0) },
	  .when = WHEN_RELEASES_UNSEEN },
	{ .symbol = SYM_BANK_DEALLOCATE_ALL,
	  .name = "bank_deallocate_all",
	  .spec = { .kind = DL_EV_BANK_FREE_ALL,
		    .object_arg = 0,
		    .mem_type = FIELD(FIELD_BANK_TYPE, 4),
		    .object = ARG(0) } },
	/* ~AllocatorImpl clears each bank: a sub-device manager's removal, outside any close. */
	{ .symbol = SYM_BANK_CLEAR,
	  .name = "bank_clear",
	  .spec = { .kind = DL_EV_BANK_FREE_ALL,
		    .object_arg = 0,
		    .mem_type = FIELD(FIELD_BANK_TYPE, 4),
		    .object = ARG(0) } },
	{ .symbol = SYM_ALLOCATOR_DEALLOCATE_BUFFERS,
	  .name = "allocator_clear",
	  .spec = { .kind = DL_EV_ALLOCATOR_CLEAR, .object = ARG(0) } },
	{ .symbol = SYM_ALLOCATOR_DEALLOCATE_BUFFERS,
	  .retprobe = true,
	  .name = "allocator_clear_return",
	  .spec = RECORD(DL_EV_ALLOCATOR_CLEAR_END) },
	{ .symbol = SYM_ALLOCATOR_CLEAR,
	  .name = "allocator_clear",
	  .spec = { .kind = DL_EV_ALLOCATOR_CLEAR, .object = ARG(0) } },
	{ .symbol = SYM_ALLOCATOR_CLEAR,
	  .retprobe = true,
	  .name = "allocator_clear_return",
	  .spec = RECORD(DL_EV_ALLOCATOR_CLEAR_END) },
	{ .symbol = SYM_MESH_CLOSE,
	  .name = "mesh_close",
	  .spec = { .kind = DL_EV_MESH_CLOSE, .device = ARG(0) } },
	{ .symbol = SYM_MESH_CLOSE,
	  .retprobe = true,
	  .name = "mesh_close_return",
	  .spec = RECORD(DL_EV_MESH_CLOSED) },
	/*
	 * Where track_allocate was inlined into Buffer::allocate_impl: its entry
	 * keeps the Buffer, its return reports it once allocated (allocation_status_
	 * ALLOCATED; a failed allocation leaves it requested). Its fields are
	 * final by then, as at track_allocate.
	 */
	{ .symbol = SYM_BUFFER_ALLOCATE_IMPL,
	  .name = "allocate_impl",
	  .spec = { .action = DL_ACTION_SAVE_OBJECT,
		    .object_arg = 0,
		    .save_slot = SLOT_ALLOCATE_IMPL },
	  .when = WHEN_INLINED,
	  .call = CALL_TRACK_ALLOCATE },
	{ .symbol = SYM_BUFFER_ALLOCATE_IMPL,
	  .retprobe = true,
	  .name = "allocate_impl_return",
	  .spec = { .kind = DL_EV_ALLOC,
		    .object_arg = DL_ARG_SAVED,
		    .save_slot = SLOT_ALLOCATE_IMPL,
		    BUFFER_VALUES,
		    .object = FIELD(FIELD_BUFFER_ALLOCATOR, 8),
		    IF_ALLOCATED },
	  .when = WHEN_INLINED,
	  .call = CALL_TRACK_ALLOCATE },
	/*
	 * Where track_deallocate was inlined into Buffer::deallocate_impl: its
	 * entry, where tt-metal would report (an allocated Buffer; one whose device
	 * closed already was released with it, and the ledger counts it once).
	 */
	{ .symbol = SYM_BUFFER_DEALLOCATE_IMPL,
	  .name = "deallocate_impl",
	  .spec = { .kind = DL_EV_FREE, .object_arg = 0, BUFFER_VALUES, IF_ALLOCATED },
	  .when = WHEN_INLINED,
	  .call = CALL_TRACK_DEALLOCATE },
	/*
	 * A MeshBuffer released by its mesh's allocator, with no report: at the
	 * call to Allocator::deallocate_buffer(Buffer*) (rsi is the Buffer), so the
	 * probe fires only when that release happens, and never for a tracked free
	 * (which reaches the allocator from Buffer::deallocate_impl). In the
	 * destructor too, where a build inlined deallocate into it.
	 */
	{ .symbol = SYM_MESH_BUFFER_DEALLOCATE,
	  .name = "mesh_buffer_release",
	  .spec = { .kind = DL_EV_ALLOCATOR_FREE, .object_arg = 1, BUFFER_VALUES },
	  .at_release_call = true },
	{ .symbol = SYM_MESH_BUFFER_DESTRUCTOR,
	  .name = "mesh_buffer_dtor_release",
	  .spec = { .kind = DL_EV_ALLOCATOR_FREE, .object_arg = 1, BUFFER_VALUES },
	  .at_release_call = true },
};

bool probes__wanted(const struct probe *probe, unsigned int inlined)
{
	bool is_inlined = (probe->when == WHEN_CALLED || probe->when == WHEN_INLINED) &&
			  (inlined & (1u << probe->call));

	/* WHEN_RELEASES_UNSEEN: the library tells, once it has looked for the calls. */
	if (probe->when == WHEN_ALWAYS || probe->when == WHEN_RELEASES_UNSEEN)
		return true;
	return (probe->when == WHEN_INLINED) == is_inlined;
}

/* A spec's values, in one order, for the loops below. */
static struct dl_value *spec_values(struct dl_probe_spec *spec, size_t i)
{
	struct dl_value *values[] = { &spec->address,	   &spec->size,		 &spec->mem_type,
				      &spec->device,	   &spec->object,	 &spec->hooked,
				      &spec->only_if,	   &spec->array.address, &spec->array.size,
				      &spec->array.only_if };

	return i < sizeof(values) / sizeof(values[0]) ? values[i] : NULL;
}

static const char *const value_names[] = { "address",	   "size",
					   "type",	   "device",
					   "object",	   "hooked",
					   "only if",	   "element address",
					   "element size", "element only if" };

/* The first of a spec's values that are read from its object, past the array's. */
#define OBJECT_VALUES 7

int probes__spec(const struct probe *probe, const unsigned int *offsets, struct dl_probe_spec *spec,
		 enum layout_field *missing)
{
	unsigned int start = UINT32_MAX, end = 0;
	bool reads_buffer = false;
	struct dl_value *v;

	*spec = probe->spec;
	/* Named fields become offsets; the Buffer's allocator may be unknown (not read). */
	for (size_t i = 0; (v = spec_values(spec, i)); i++) {
		unsigned int field = v->offset;

		if (v->source != DL_SRC_OBJECT)
			continue;
		reads_buffer |= field >= FIELD_BUFFER_DEVICE && field <= FIELD_BUFFER_STATUS;
		if (offsets[field] == DL_OFFSET_UNKNOWN && v == &spec->object) {
			*v = (struct dl_value){ .source = DL_SRC_NONE };
			continue;
		}
		if (offsets[field] == DL_OFFSET_UNKNOWN) {
			*missing = (enum layout_field)field;
			return -ENOENT;
		}
		v->offset = offsets[field];
		if (i >= OBJECT_VALUES)
			continue;
		if (v->offset < start)
			start = v->offset;
		if (v->offset + v->size > end)
			end = v->offset + v->size;
	}
	if (spec->array.stride) {
		unsigned int field = spec->array.vector;

		if (offsets[field] == DL_OFFSET_UNKNOWN) {
			*missing = (enum layout_field)field;
			return -ENOENT;
		}
		spec->array.vector = offsets[field];
	}
	/* Era C: the Buffer holds a pointer to its state, where the fields are. */
	if (reads_buffer && offsets[FIELD_BUFFER_IMPL] != DL_OFFSET_UNKNOWN) {
		spec->hops = 1;
		spec->hop_offset[0] = offsets[FIELD_BUFFER_IMPL];
	}
	if (end && end - start > DL_OBJECT_MAX) {
		fprintf(stderr,
			"devledger: %s: the fields it reads span %u bytes, more than the %u one read "
			"covers: check the --offset values\n",
			probe->name, end - start, DL_OBJECT_MAX);
		return -ERANGE;
	}
	if (end) {
		/* One read from the first field read to the end of the last. */
		for (size_t i = 0; i < OBJECT_VALUES && (v = spec_values(spec, i)); i++)
			if (v->source == DL_SRC_OBJECT)
				v->offset -= start;
		spec->object_start = start;
		spec->object_bytes = (__u16)(end - start);
	}
	return 0;
}

static const unsigned int arg_regs[] = { PROBESITE_RDI, PROBESITE_RSI, PROBESITE_RDX,
					 PROBESITE_RCX, PROBESITE_R8,  PROBESITE_R9 };

unsigned int probes__regs_read(const struct probe *probe)
{
	struct dl_probe_spec spec = probe->spec;
	const struct dl_value *v;
	unsigned int regs = 0;
	bool reads_object =
		spec.object_bytes || spec.only_if.source == DL_SRC_OBJECT ||
		spec.address.source == DL_SRC_OBJECT || spec.mem_type.source == DL_SRC_OBJECT ||
		spec.action == DL_ACTION_ENTER_PROGRAM || spec.action == DL_ACTION_SAVE_OBJECT;

	/* A return probe's object is what its entry kept (DL_ARG_SAVED): no register. */
	if (reads_object && spec.object_arg < sizeof(arg_regs) / sizeof(arg_regs[0]))
		regs |= arg_regs[spec.object_arg];
	if (spec.action == DL_ACTION_SAVE_OBJECT &&
	    spec.save_arg < sizeof(arg_regs) / sizeof(arg_regs[0]))
		regs |= arg_regs[spec.save_arg];
	for (size_t i = 0; (v = spec_values(&spec, i)); i++)
		if (v->source == DL_SRC_ARG)
			regs |= arg_regs[v->arg];
	return regs;
}

static const char *const arg_names[] = { "rdi", "rsi", "rdx", "rcx", "r8", "r9" };

static const char *object_name(unsigned int arg)
{
	return arg == DL_ARG_SAVED ? "what its entry kept" : arg < 6 ? arg_names[arg] : "?";
}

void probes__describe(const struct dl_probe_spec *spec, char *buf, size_t len)
{
	struct dl_probe_spec copy = *spec;
	const struct dl_value *v;
	size_t n = 0;

#define PUT(...)                                                                                   \
	do {                                                                                       \
		if (n < len)                                                                       \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);                      \
	} while (0)
	buf[0] = '\0';
	if (spec->object_bytes) {
		PUT("reads from ");
		for (unsigned int h = 0; h < spec->hops; h++)
			PUT("*(");
		PUT("%s", object_name(spec->object_arg));
		for (unsigned int h = 0; h < spec->hops; h++)
			PUT("+%u)", spec->hop_offset[h]);
		PUT("+%u, %u bytes:", spec->object_start, spec->object_bytes);
	}
	if (spec->array.stride)
		PUT("%sfor each element of the vector at %s+%u (%u bytes apart):", n ? " " : "",
		    object_name(spec->object_arg), spec->array.vector, spec->array.stride);
	if (spec->action == DL_ACTION_ENTER_PROGRAM)
		PUT("sets the thread's program to %s", arg_names[spec->object_arg]);
	else if (spec->action == DL_ACTION_SAVE_OBJECT && spec->save_arg != spec->object_arg)
		PUT("%skeeps %s and %s for its return", n ? " " : "", arg_names[spec->object_arg],
		    arg_names[spec->save_arg]);
	else if (spec->action == DL_ACTION_SAVE_OBJECT)
		PUT("%skeeps %s for its return", n ? " " : "", arg_names[spec->object_arg]);
	else if (spec->action == DL_ACTION_LEAVE_PROGRAM)
		PUT("ends the thread's program");
	for (size_t i = 0, first = 1; (v = spec_values(&copy, i)); i++) {
		if (v->source == DL_SRC_NONE)
			continue;
		PUT("%s%s ", first ? (n ? " " : "reads ") : ", ", value_names[i]);
		first = 0;
		if (v->source == DL_SRC_ARG)
			PUT("%s", arg_names[v->arg]);
		else if (v->source == DL_SRC_OBJECT && v == &copy.only_if)
			PUT("+%u is %llu", v->offset, (unsigned long long)spec->only_if_equals);
		else if (v->source == DL_SRC_OBJECT && v == &copy.array.only_if)
			PUT("+%u is %llu", v->offset,
			    (unsigned long long)spec->array.only_if_equals);
		else if (v->source == DL_SRC_OBJECT)
			PUT("+%u", v->offset);
		else if (v->source == DL_SRC_CONST && v == &copy.mem_type && v->offset == DL_MEM_CB)
			PUT("CB");
		else if (v->source == DL_SRC_CONST && v == &copy.mem_type &&
			 v->offset == DL_MEM_DFB)
			PUT("DFB");
		else if (v->source == DL_SRC_CONST)
			PUT("%u", v->offset);
		else if (v->source == DL_SRC_SAVED)
			PUT("the argument its entry kept");
		else
			PUT("the thread's program");
	}
	if (!n)
		PUT("reads nothing: the thread is the record");
#undef PUT
}

const char *const probe_symbol_missing_means[PROBE_SYMBOLS] = {
	[SYM_ALLOCATE_CIRCULAR_BUFFERS] = "CBs cannot be tied to their programs; they are released "
					  "when their device closes (device_closed) instead",
	[SYM_PROGRAM_DESTRUCTOR] = "a program's end is not seen; its CBs are released when their "
				   "device closes (device_closed) instead",
	[SYM_BANK_DEALLOCATE] = "the allocator's releases of single buffers without a report "
				"(allocator_free) are not seen",
	[SYM_BANK_DEALLOCATE_ALL] = "a bank cleared on its own is not seen",
	[SYM_BANK_CLEAR] = "a bank cleared by ~AllocatorImpl outside a close is not seen",
	[SYM_ALLOCATOR_DEALLOCATE_BUFFERS] = "bulk releases are seen only when a device closes",
	[SYM_ALLOCATOR_CLEAR] = "an allocator's clear outside a close is not seen",
	[SYM_MESH_CLOSE] = "a mesh's close is not seen: what a mesh still holds then ends as a "
			   "leak",
	[SYM_BUFFER_ALLOCATE_IMPL] = "whether track_allocate is inlined cannot be checked",
	[SYM_BUFFER_DEALLOCATE_IMPL] = "whether track_deallocate is inlined cannot be checked",
	[SYM_ALLOCATE_DATAFLOW_BUFFERS] = "no dataflow buffers (Metal 2.0) in this build",
	[SYM_ALLOCATOR_DEALLOCATE_BUFFER] = "a buffer's release by its allocator cannot be found "
					    "at its callers: BankManager::deallocate_buffer is "
					    "probed instead, a second trap per tracked free",
	[SYM_MESH_BUFFER_DEALLOCATE] = "BankManager::deallocate_buffer is probed instead, a "
				       "second trap per tracked free",
	[SYM_MESH_BUFFER_DESTRUCTOR] = "a MeshBuffer released by its destructor is seen only where "
				       "it calls MeshBuffer::deallocate",
};

bool probes__warn_if_missing(enum probe_symbol symbol)
{
	/* Optional, and worth a word in every build: not the tracker calls' callers (check
	 * says those), nor what older builds simply lack. */
	return probe_symbol_missing_means[symbol] && symbol != SYM_BUFFER_ALLOCATE_IMPL &&
	       symbol != SYM_BANK_CLEAR && symbol != SYM_BUFFER_DEALLOCATE_IMPL &&
	       symbol != SYM_ALLOCATE_DATAFLOW_BUFFERS &&
	       symbol != SYM_ALLOCATOR_DEALLOCATE_BUFFER && symbol != SYM_MESH_BUFFER_DEALLOCATE &&
	       symbol != SYM_MESH_BUFFER_DESTRUCTOR;
}
