/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "dwarflayout.h"
#include "elfsyms.h"
#include "probes.h"
#include "probesite.h"
#include "../bpf/devledger.h"

/*
 * Era-B tt-metal layouts (x86-64, libstdc++): where the fields the probes
 * read sit in tt::tt_metal::Buffer and Device. The library's DWARF, when it
 * has some, replaces them; `devledger check` shows which were used.
 */
#define ERA_B_BUFFER_DEVICE    16 /* IDevice *device_ */
#define ERA_B_BUFFER_SIZE      24 /* DeviceAddr size_ */
#define ERA_B_BUFFER_TYPE      32 /* BufferType buffer_type_ */
#define ERA_B_BUFFER_ALLOCATOR 64 /* Allocator *allocator_ */
#define ERA_B_BUFFER_STATUS    72 /* AllocationStatus allocation_status_ */
#define ERA_B_BUFFER_HOOKED    73 /* bool hooked_allocation_ */
#define ERA_B_BUFFER_ADDRESS   80 /* DeviceAddr address_ */
#define ERA_B_DEVICE_ID	       8  /* ChipId Device::id_ */

/* enum class AllocationStatus : uint8_t { ALLOCATION_REQUESTED, ALLOCATED, DEALLOCATED } */
#define ALLOCATION_STATUS_ALLOCATED 1

/* Era C (late 2025 on): Buffer holds std::unique_ptr<BufferImpl>; the fields are in BufferImpl. */
#define ERA_C_BUFFER_IMPL 16 /* std::unique_ptr<BufferImpl> in Buffer */
#define ERA_C_IMPL_DEVICE 0
#define ERA_C_IMPL_SIZE	  8
#define ERA_C_IMPL_TYPE	  16
/* Right before allocation_status_, as in era B: the member order did not change. */
#define ERA_C_IMPL_ALLOCATOR 48
#define ERA_C_IMPL_STATUS    56
#define ERA_C_IMPL_HOOKED    57
#define ERA_C_IMPL_ADDRESS   64

/* tt-metal's names (era C where they differ; the era-B name is the alternative). */
const char *const probe_symbols[PROBE_SYMBOLS] = {
	[SYM_TRACK_ALLOCATE] = "_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE",
	[SYM_TRACK_DEALLOCATE] = "_ZN2tt8tt_metal12GraphTracker16track_deallocateEPNS0_6BufferE",
	[SYM_TRACK_ALLOCATE_CB] =
		"_ZN2tt8tt_metal12GraphTracker17track_allocate_cbERK12CoreRangeSetmmbPKNS0_7IDeviceE",
	[SYM_TRACK_DEALLOCATE_CB] =
		"_ZN2tt8tt_metal12GraphTracker19track_deallocate_cbEPKNS0_7IDeviceE",
	[SYM_ALLOCATE_CIRCULAR_BUFFERS] =
		"_ZN2tt8tt_metal6detail11ProgramImpl25allocate_circular_buffersEPKNS0_7IDeviceE",
	[SYM_PROGRAM_DESTRUCTOR] = "_ZN2tt8tt_metal6detail11ProgramImplD2Ev",
	[SYM_DEVICE_CLOSE] = "_ZN2tt8tt_metal6Device5closeEv",
	[SYM_BANK_DEALLOCATE] =
		"_ZN2tt8tt_metal11BankManager17deallocate_bufferEmN4ttsl10StrongTypeIjNS0_"
		"14AllocatorIDTagEEE",
	[SYM_BANK_DEALLOCATE_ALL] = "_ZN2tt8tt_metal11BankManager14deallocate_allEv",
	[SYM_ALLOCATOR_DEALLOCATE_BUFFERS] = "_ZN2tt8tt_metal13AllocatorImpl18deallocate_buffersEv",
	[SYM_ALLOCATOR_CLEAR] = "_ZN2tt8tt_metal13AllocatorImpl5clearEv",
	[SYM_MESH_CLOSE] = "_ZN2tt8tt_metal11distributed10MeshDevice5closeEv",
	[SYM_BUFFER_ALLOCATE_IMPL] = "_ZN2tt8tt_metal6Buffer13allocate_implEv",
};

/* Era B: deallocate_buffer(DeviceAddr) without an AllocatorID; Allocator before AllocatorImpl. */
const char *const probe_symbol_alternatives[PROBE_SYMBOLS] = {
	[SYM_BANK_DEALLOCATE] = "_ZN2tt8tt_metal11BankManager17deallocate_bufferEm",
	[SYM_ALLOCATOR_DEALLOCATE_BUFFERS] = "_ZN2tt8tt_metal9Allocator18deallocate_buffersEv",
	[SYM_ALLOCATOR_CLEAR] = "_ZN2tt8tt_metal9Allocator5clearEv",
};

/* Values of a spec, as the probe table writes them. */
/* clang-format off */
#define ARG(n)		{ .source = DL_SRC_ARG, .arg = (n) }
#define FIELD(f, bytes)	{ .source = DL_SRC_OBJECT, .size = (bytes), .offset = (f) }
#define AT(at, bytes)	{ .source = DL_SRC_OBJECT, .size = (bytes), .offset = (at) }
#define CONST(v)	{ .source = DL_SRC_CONST, .offset = (v) }
#define PROGRAM		{ .source = DL_SRC_PROGRAM }
#define RECORD(kind_)	{ .kind = (kind_) }
/* clang-format on */

/* What a Buffer tells at its allocation and its free, wherever it is read. */
#define BUFFER_VALUES                                                                              \
	.address = FIELD(FIELD_ADDRESS, 8), .size = FIELD(FIELD_SIZE, 8),                          \
	.mem_type = FIELD(FIELD_TYPE, 4), .device = FIELD(FIELD_DEVICE, 8),                        \
	.hooked = FIELD(FIELD_HOOKED, 1)

/*
 * What each probe reports, from tt-metal's signatures (`this` is argument 0):
 * track_allocate(const Buffer*) has the Buffer in rsi; track_allocate_cb's
 * address, size and device are rdx, rcx and r9; a BankManager's type is its
 * first word.
 */
const struct probe probes[PROBE_COUNT] = {
	{ .symbol = SYM_TRACK_ALLOCATE,
	  .program = "track_allocate",
	  .object = OBJECT_BUFFER,
	  .spec = { .kind = DL_EV_ALLOC,
		    .object_arg = 1,
		    BUFFER_VALUES,
		    .object = FIELD(FIELD_ALLOCATOR, 8) },
	  .when = PROBE_TRACKER_CALLED },
	{ .symbol = SYM_TRACK_DEALLOCATE,
	  .program = "track_deallocate",
	  .object = OBJECT_BUFFER,
	  .spec = { .kind = DL_EV_FREE, .object_arg = 1, BUFFER_VALUES } },
	{ .symbol = SYM_TRACK_ALLOCATE_CB,
	  .program = "track_allocate_cb",
	  .spec = { .kind = DL_EV_CB_ALLOC,
		    .address = ARG(2),
		    .size = ARG(3),
		    .mem_type = CONST(DL_MEM_CB),
		    .device = ARG(5),
		    .object = PROGRAM } },
	{ .symbol = SYM_TRACK_DEALLOCATE_CB,
	  .program = "track_deallocate_cb",
	  .spec = { .kind = DL_EV_CB_FREE_ALL, .mem_type = CONST(DL_MEM_CB), .device = ARG(1) } },
	{ .symbol = SYM_ALLOCATE_CIRCULAR_BUFFERS,
	  .program = "allocate_circular_buffers",
	  .spec = { .action = DL_ACTION_ENTER_PROGRAM, .object_arg = 0 } },
	{ .symbol = SYM_ALLOCATE_CIRCULAR_BUFFERS,
	  .retprobe = true,
	  .program = "allocate_circular_buffers_return",
	  .spec = { .action = DL_ACTION_LEAVE_PROGRAM } },
	{ .symbol = SYM_PROGRAM_DESTRUCTOR,
	  .program = "program_destroyed",
	  .spec = { .kind = DL_EV_PROGRAM_DESTROYED, .object = ARG(0) } },
	{ .symbol = SYM_DEVICE_CLOSE,
	  .program = "device_close",
	  .spec = { .kind = DL_EV_DEVICE_CLOSE, .device = ARG(0) } },
	{ .symbol = SYM_DEVICE_CLOSE,
	  .retprobe = true,
	  .program = "device_close_return",
	  .spec = RECORD(DL_EV_DEVICE_CLOSED) },
	{ .symbol = SYM_BANK_DEALLOCATE,
	  .program = "bank_deallocate",
	  .object = OBJECT_BANK,
	  .spec = { .kind = DL_EV_BANK_FREE,
		    .object_arg = 0,
		    .address = ARG(1),
		    .mem_type = AT(0, 4),
		    .object = ARG(0) } },
	{ .symbol = SYM_BANK_DEALLOCATE_ALL,
	  .program = "bank_deallocate_all",
	  .object = OBJECT_BANK,
	  .spec = { .kind = DL_EV_BANK_FREE_ALL,
		    .object_arg = 0,
		    .mem_type = AT(0, 4),
		    .object = ARG(0) } },
	{ .symbol = SYM_ALLOCATOR_DEALLOCATE_BUFFERS,
	  .program = "allocator_clear",
	  .spec = { .kind = DL_EV_ALLOCATOR_CLEAR, .object = ARG(0) } },
	{ .symbol = SYM_ALLOCATOR_DEALLOCATE_BUFFERS,
	  .retprobe = true,
	  .program = "allocator_clear_return",
	  .spec = RECORD(DL_EV_ALLOCATOR_CLEAR_END) },
	{ .symbol = SYM_ALLOCATOR_CLEAR,
	  .program = "allocator_clear",
	  .spec = { .kind = DL_EV_ALLOCATOR_CLEAR, .object = ARG(0) } },
	{ .symbol = SYM_ALLOCATOR_CLEAR,
	  .retprobe = true,
	  .program = "allocator_clear_return",
	  .spec = RECORD(DL_EV_ALLOCATOR_CLEAR_END) },
	{ .symbol = SYM_MESH_CLOSE,
	  .program = "mesh_close",
	  .spec = { .kind = DL_EV_MESH_CLOSE, .device = ARG(0) } },
	{ .symbol = SYM_MESH_CLOSE,
	  .retprobe = true,
	  .program = "mesh_close_return",
	  .spec = RECORD(DL_EV_MESH_CLOSED) },
	/*
	 * Where track_allocate was inlined into Buffer::allocate_impl: its entry
	 * keeps the Buffer, its return reports it once allocated (allocation_status_
	 * ALLOCATED; a failed allocation leaves it requested). Its fields are
	 * final by then, as at track_allocate.
	 */
	{ .symbol = SYM_BUFFER_ALLOCATE_IMPL,
	  .program = "allocate_impl",
	  .spec = { .action = DL_ACTION_SAVE_OBJECT, .object_arg = 0 },
	  .when = PROBE_TRACKER_INLINED },
	{ .symbol = SYM_BUFFER_ALLOCATE_IMPL,
	  .retprobe = true,
	  .program = "allocate_impl_return",
	  .object = OBJECT_BUFFER,
	  .spec = { .kind = DL_EV_ALLOC,
		    .object_arg = DL_ARG_SAVED,
		    BUFFER_VALUES,
		    .object = FIELD(FIELD_ALLOCATOR, 8),
		    .only_if = FIELD(FIELD_STATUS, 1),
		    .only_if_equals = ALLOCATION_STATUS_ALLOCATED },
	  .when = PROBE_TRACKER_INLINED },
};

bool probes__attached(const struct probe *probe, bool tracker_inlined)
{
	return probe->when == PROBE_ALWAYS ||
	       (probe->when == PROBE_TRACKER_INLINED) == tracker_inlined;
}

/* A spec's values, in one order, for the loops below. */
static const struct dl_value *spec_values(const struct dl_probe_spec *spec, size_t i)
{
	const struct dl_value *values[] = { &spec->address, &spec->size,   &spec->mem_type,
					    &spec->device,  &spec->object, &spec->hooked,
					    &spec->only_if };

	return i < sizeof(values) / sizeof(values[0]) ? values[i] : NULL;
}

static const char *const value_names[] = { "address", "size",	"type",	  "device",
					   "object",  "hooked", "only if" };

int probes__spec(const struct probe *probe, const struct layout *layout, struct dl_probe_spec *spec)
{
	unsigned int end = 0;

	*spec = probe->spec;
	for (size_t i = 0; spec_values(spec, i); i++) {
		struct dl_value *v = (struct dl_value *)spec_values(spec, i);

		if (v->source != DL_SRC_OBJECT)
			continue;
		if (probe->object == OBJECT_BUFFER) {
			unsigned int field = v->offset;

			/* A field the library does not tell is not read (the Buffer's allocator).
			 */
			if (layout->offset[field] == DL_OFFSET_UNKNOWN) {
				*v = (struct dl_value){ .source = DL_SRC_NONE };
				continue;
			}
			v->offset = layout->offset[field];
		}
		if (v->offset + v->size > end)
			end = v->offset + v->size;
	}
	if (end > DL_OBJECT_MAX) {
		fprintf(stderr,
			"devledger: %s: the fields it reads end at byte %u, past the %u one read "
			"covers: check the --offset values\n",
			probe->program, end, DL_OBJECT_MAX);
		return -ERANGE;
	}
	spec->object_bytes = (__u16)end;
	/* Era C: the Buffer holds a pointer to its state, where the fields are. */
	if (probe->object == OBJECT_BUFFER && layout->profile->impl) {
		spec->hops = 1;
		spec->hop_offset[0] = layout->offset[FIELD_IMPL];
	}
	return 0;
}

static const unsigned int arg_regs[] = { PROBESITE_RDI, PROBESITE_RSI, PROBESITE_RDX,
					 PROBESITE_RCX, PROBESITE_R8,  PROBESITE_R9 };

unsigned int probes__regs_read(const struct probe *probe)
{
	const struct dl_probe_spec *spec = &probe->spec;
	unsigned int regs = 0;
	bool reads_object = probe->object != OBJECT_NONE ||
			    spec->action == DL_ACTION_ENTER_PROGRAM ||
			    spec->action == DL_ACTION_SAVE_OBJECT;

	/* A return probe's object is what its entry kept (DL_ARG_SAVED): no register. */
	if (reads_object && spec->object_arg < sizeof(arg_regs) / sizeof(arg_regs[0]))
		regs |= arg_regs[spec->object_arg];
	for (size_t i = 0; spec_values(spec, i); i++)
		if (spec_values(spec, i)->source == DL_SRC_ARG)
			regs |= arg_regs[spec_values(spec, i)->arg];
	return regs;
}

static const char *const arg_names[] = { "rdi", "rsi", "rdx", "rcx", "r8", "r9" };

void probes__describe(const struct dl_probe_spec *spec, char *buf, size_t len)
{
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
		PUT("%s", spec->object_arg == DL_ARG_SAVED ? "what its entry kept"
							   : arg_names[spec->object_arg]);
		for (unsigned int h = 0; h < spec->hops; h++)
			PUT("+%u)", spec->hop_offset[h]);
		PUT(", %u bytes:", spec->object_bytes);
	}
	if (spec->action == DL_ACTION_ENTER_PROGRAM)
		PUT("sets the thread's program to %s", arg_names[spec->object_arg]);
	else if (spec->action == DL_ACTION_SAVE_OBJECT)
		PUT("keeps %s for its return", arg_names[spec->object_arg]);
	else if (spec->action == DL_ACTION_LEAVE_PROGRAM)
		PUT("ends the thread's program");
	for (size_t i = 0, first = 1; spec_values(spec, i); i++) {
		const struct dl_value *v = spec_values(spec, i);

		if (v->source == DL_SRC_NONE)
			continue;
		PUT("%s%s ", first ? (n ? " " : "reads ") : ", ", value_names[i]);
		first = 0;
		if (v->source == DL_SRC_ARG)
			PUT("%s", arg_names[v->arg]);
		else if (v->source == DL_SRC_OBJECT && v == &spec->only_if)
			PUT("+%u is %llu", v->offset, (unsigned long long)spec->only_if_equals);
		else if (v->source == DL_SRC_OBJECT)
			PUT("+%u", v->offset);
		else if (v->source == DL_SRC_CONST && v == &spec->mem_type &&
			 v->offset == DL_MEM_CB)
			PUT("CB");
		else if (v->source == DL_SRC_CONST)
			PUT("%u", v->offset);
		else
			PUT("the thread's program");
	}
	if (!n)
		PUT("reads nothing: the thread is the record");
#undef PUT
}

/* Resolve every probed symbol of one library; name every missing one. */
const char *const probe_symbol_missing_means[PROBE_SYMBOLS] = {
	[SYM_ALLOCATE_CIRCULAR_BUFFERS] = "CBs cannot be tied to their programs; they are released "
					  "when their device closes (device_closed) instead",
	[SYM_PROGRAM_DESTRUCTOR] = "a program's end is not seen; its CBs are released when their "
				   "device closes (device_closed) instead",
	[SYM_BANK_DEALLOCATE] = "the allocator's releases of single buffers without a report "
				"(allocator_free) are not seen",
	[SYM_BANK_DEALLOCATE_ALL] = "a bank cleared on its own is not seen",
	[SYM_ALLOCATOR_DEALLOCATE_BUFFERS] = "bulk releases are seen only when a device closes",
	[SYM_ALLOCATOR_CLEAR] = "an allocator's clear outside a close is not seen",
	[SYM_MESH_CLOSE] = "a mesh's close is not seen: what a mesh still holds then ends as a "
			   "leak",
	[SYM_BUFFER_ALLOCATE_IMPL] = "where track_allocate is inlined into it, allocations are not "
				     "seen",
};

const char *probes__symbol_name(enum probe_symbol symbol, const struct elfsym *sym)
{
	return sym->found ? sym->name : probe_symbols[symbol];
}

/*
 * Every name devledger looks up in a library: the probed functions, then
 * other functions that tell its era or that a check looks into. They are
 * found in one pass and kept for the last library asked about: a pass over
 * tt-metal's symbol tables costs tens of milliseconds.
 */
#define EXTRA_NAMES 16

static struct {
	char library[PATH_MAX];
	const char *names[PROBE_SYMBOLS + EXTRA_NAMES];
	struct elfsym syms[PROBE_SYMBOLS + EXTRA_NAMES];
	size_t count;
	int err;
	bool valid;
} cache;

#define DEVICE_VTABLE "_ZTVN2tt8tt_metal6DeviceE"
#define MESH_VTABLE   "_ZTVN2tt8tt_metal11distributed10MeshDeviceE"

static const char *const extra_names[] = {
	"_ZN2tt8tt_metal6Buffer15deallocate_implEv",
	DEVICE_VTABLE,
	MESH_VTABLE,
};

static int lookup_all(const char *library)
{
	if (cache.valid && !strcmp(cache.library, library))
		return cache.err;
	cache.count = 0;
	for (size_t i = 0; i < PROBE_SYMBOLS; i++)
		cache.names[cache.count++] = probe_symbols[i];
	for (size_t i = 0; i < PROBE_SYMBOLS; i++)
		if (probe_symbol_alternatives[i])
			cache.names[cache.count++] = probe_symbol_alternatives[i];
	for (size_t i = 0; i < sizeof(extra_names) / sizeof(extra_names[0]); i++)
		cache.names[cache.count++] = extra_names[i];
	snprintf(cache.library, sizeof(cache.library), "%s", library);
	cache.err = elfsyms__resolve(library, cache.names, cache.count, cache.syms);
	cache.valid = true;
	return cache.err;
}

int probes__lookup_name(const char *library, const char *name, struct elfsym *sym)
{
	int err = lookup_all(library);

	if (err)
		return err;
	for (size_t i = 0; i < cache.count; i++) {
		if (!strcmp(cache.names[i], name)) {
			*sym = cache.syms[i];
			return 0;
		}
	}
	/* Not one of the names kept: a pass of its own. */
	return elfsyms__resolve(library, &name, 1, sym);
}

int probes__lookup(const char *library, struct elfsym *syms)
{
	int err = lookup_all(library);

	if (err == -ENOEXEC)
		fprintf(stderr, "devledger: %s: not an ELF file\n", library);
	else if (err)
		fprintf(stderr, "devledger: %s: %s\n", library, strerror(-err));
	if (err)
		return err;
	memcpy(syms, cache.syms, PROBE_SYMBOLS * sizeof(*syms));
	/* A function missing under its newest name may have an older era's. */
	for (size_t i = 0; i < PROBE_SYMBOLS; i++)
		if (!syms[i].found && probe_symbol_alternatives[i])
			probes__lookup_name(library, probe_symbol_alternatives[i], &syms[i]);
	return 0;
}

int probes__vtables(const char *library, struct probe_vtables *vtables)
{
	struct elfsym device, mesh;
	int err = probes__lookup_name(library, DEVICE_VTABLE, &device);

	if (!err)
		err = probes__lookup_name(library, MESH_VTABLE, &mesh);
	if (err)
		return err;
	vtables->device = device.found ? device.vaddr : 0;
	vtables->mesh = mesh.found ? mesh.vaddr : 0;
	return 0;
}

int probes__resolve(const char *library, struct elfsym *syms)
{
	char missing[2048] = "";
	bool degraded = false;
	int err = probes__lookup(library, syms);

	if (err)
		return err;
	for (int i = 0; i < PROBE_SYMBOLS; i++) {
		if (syms[i].found)
			continue;
		if (probe_symbol_missing_means[i]) {
			degraded = true;
			continue;
		}
		if (*missing)
			strncat(missing, ", ", sizeof(missing) - strlen(missing) - 1);
		strncat(missing, probe_symbols[i], sizeof(missing) - strlen(missing) - 1);
	}
	if (*missing) {
		fprintf(stderr,
			"devledger: %s: missing symbols: %s (is this tt-metal's libtt_metal.so?)\n",
			library, missing);
		return -ENOENT;
	}
	/* Only once the library is known to be usable: an error stays one line. */
	for (int i = 0; degraded && i < PROBE_SYMBOLS; i++)
		if (!syms[i].found && probes__warn_if_missing(i))
			fprintf(stderr, "devledger: warning: %s: no %s: %s\n", library,
				probe_symbols[i], probe_symbol_missing_means[i]);
	return 0;
}

int probes__site(const struct probe *probe, const char *library, const struct elfsym *sym,
		 bool entry_only, struct probesite *site)
{
	site->offset = sym->offset;
	site->delta = 0;
	if (probe->retprobe) {
		snprintf(site->why, sizeof(site->why),
			 "entry (a return probe finds the return address on top of the stack)");
		return 0;
	}
	if (entry_only) {
		snprintf(site->why, sizeof(site->why), "entry (--entry-probes)");
		return 0;
	}
	return probesite__choose(library, sym->offset, sym->size, probes__regs_read(probe), site);
}

/* MeshDevice's layout changed within eras (api_mutex_ came first later): no preset for its id. */
const struct layout_profile profiles[PROFILE_COUNT] = {
	{ "era-b", NULL, NULL, 0, ERA_B_BUFFER_DEVICE, ERA_B_BUFFER_SIZE, ERA_B_BUFFER_TYPE,
	  ERA_B_BUFFER_HOOKED, ERA_B_BUFFER_ADDRESS, ERA_B_BUFFER_ALLOCATOR, ERA_B_DEVICE_ID,
	  DL_OFFSET_UNKNOWN, ERA_B_BUFFER_STATUS },
	{ "era-c", "_ZN2tt8tt_metal13AllocatorImpl18deallocate_buffersEv",
	  "AllocatorImpl::deallocate_buffers", ERA_C_BUFFER_IMPL, ERA_C_IMPL_DEVICE,
	  ERA_C_IMPL_SIZE, ERA_C_IMPL_TYPE, ERA_C_IMPL_HOOKED, ERA_C_IMPL_ADDRESS,
	  ERA_C_IMPL_ALLOCATOR, ERA_B_DEVICE_ID, DL_OFFSET_UNKNOWN, ERA_C_IMPL_STATUS },
};

const struct layout_profile *probes__profile(const char *library, const char *name, char *why,
					     size_t why_len)
{
	if (name) {
		for (size_t i = 0; i < PROFILE_COUNT; i++) {
			if (!strcmp(profiles[i].name, name)) {
				snprintf(why, why_len, "chosen with --profile");
				return &profiles[i];
			}
		}
		return NULL;
	}
	/* The newest era whose own function the library has; else the oldest. */
	for (size_t i = PROFILE_COUNT; i-- > 1;) {
		struct elfsym marker;

		if (!probes__lookup_name(library, profiles[i].marker, &marker) && marker.found) {
			snprintf(why, why_len, "the library has %s", profiles[i].marker_name);
			return &profiles[i];
		}
	}
	snprintf(why, why_len, "no newer era's functions in the library");
	return &profiles[0];
}

static const char *const names_in_buffer[LAYOUT_FIELDS] = {
	"Buffer.pimpl",
	"Buffer.device_",
	"Buffer.size_",
	"Buffer.buffer_type_",
	"Buffer.hooked_allocation_",
	"Buffer.address_",
	"Buffer.allocator_",
	"Device.id_",
	"MeshDevice.mesh_id_",
	"Buffer.allocation_status_",
};
static const char *const names_in_impl[LAYOUT_FIELDS] = {
	"Buffer.pimpl",
	"BufferImpl.device_",
	"BufferImpl.size_",
	"BufferImpl.buffer_type_",
	"BufferImpl.hooked_allocation_",
	"BufferImpl.address_",
	"BufferImpl.allocator_",
	"Device.id_",
	"MeshDevice.mesh_id_",
	"BufferImpl.allocation_status_",
};

bool probes__known_field(const char *name)
{
	for (int f = 0; f < LAYOUT_FIELDS; f++)
		if (!strcmp(name, names_in_buffer[f]) || !strcmp(name, names_in_impl[f]))
			return true;
	return false;
}

const char *probes__source_name(enum layout_source source)
{
	return source == SOURCE_DWARF	   ? "dwarf"
	       : source == SOURCE_OVERRIDE ? "override"
	       : source == SOURCE_NONE	   ? "none"
					   : "preset";
}

/* The rare build where both the DWARF and the presets are wrong: the user says where. */
static int apply_overrides(struct layout *layout, const struct layout_override *overrides,
			   size_t count)
{
	const char *const *names = layout->profile->impl ? names_in_impl : names_in_buffer;

	for (size_t i = 0; i < count; i++) {
		int field = -1;

		for (int f = 0; f < LAYOUT_FIELDS; f++)
			if (!strcmp(overrides[i].name, names[f]) &&
			    (f != FIELD_IMPL || layout->profile->impl))
				field = f;
		if (field < 0) {
			fprintf(stderr, "devledger: --offset %s: the %s layout has no such field\n",
				overrides[i].name, layout->profile->name);
			return -EINVAL;
		}
		layout->offset[field] = overrides[i].offset;
		layout->source[field] = SOURCE_OVERRIDE;
	}
	return 0;
}

int probes__layout(const char *library, const char *profile_name,
		   const struct layout_override *overrides, size_t override_count,
		   struct layout *layout)
{
	struct probe_vtables vtables;
	struct dwarf_layout dwarf;
	const struct layout_profile *p;
	bool dwarf_era_c, dwarf_era_b;

	memset(layout, 0, sizeof(*layout));
	p = probes__profile(library, profile_name, layout->why, sizeof(layout->why));
	if (!p)
		return -EINVAL;
	/* A library without MeshDevice's vtable has no MeshDevice to look for. */
	if (probes__vtables(library, &vtables))
		vtables.mesh = 0;
	layout->has_dwarf =
		!dwarf_layout__read(library, vtables.mesh != 0, &dwarf) && dwarf.has_dwarf;
	/* The debug info can tell the era on its own: a pimpl Buffer, or the fields in Buffer. */
	dwarf_era_c = layout->has_dwarf && dwarf.has_impl && dwarf.has_impl_size;
	dwarf_era_b = layout->has_dwarf && dwarf.has_size && !dwarf.has_impl;
	if (!profile_name && dwarf_era_c && !p->impl) {
		p = &profiles[1];
		snprintf(layout->why, sizeof(layout->why), "the debug info has a pimpl Buffer");
	} else if (!profile_name && dwarf_era_b && p->impl) {
		p = &profiles[0];
		snprintf(layout->why, sizeof(layout->why),
			 "the debug info has the fields in Buffer");
	}
	layout->profile = p;
	layout->offset[FIELD_IMPL] = p->impl;
	layout->offset[FIELD_DEVICE] = p->device;
	layout->offset[FIELD_SIZE] = p->size;
	layout->offset[FIELD_TYPE] = p->type;
	layout->offset[FIELD_HOOKED] = p->hooked;
	layout->offset[FIELD_ADDRESS] = p->address;
	layout->offset[FIELD_ALLOCATOR] = p->allocator;
	layout->offset[FIELD_DEVICE_ID] = p->device_id;
	layout->offset[FIELD_MESH_ID] = p->mesh_id;
	layout->offset[FIELD_STATUS] = p->status;
	for (int f = 0; f < LAYOUT_FIELDS; f++)
		if (layout->offset[f] == DL_OFFSET_UNKNOWN)
			layout->source[f] = SOURCE_NONE;
	if (!layout->has_dwarf)
		return apply_overrides(layout, overrides, override_count);

#define FROM_DWARF(field, has, value)                                                              \
	do {                                                                                       \
		if (has) {                                                                         \
			layout->offset[field] = (value);                                           \
			layout->source[field] = SOURCE_DWARF;                                      \
		}                                                                                  \
	} while (0)
	if (p->impl) {
		FROM_DWARF(FIELD_IMPL, dwarf.has_impl, dwarf.impl);
		FROM_DWARF(FIELD_DEVICE, dwarf.has_impl_device, dwarf.impl_device);
		FROM_DWARF(FIELD_SIZE, dwarf.has_impl_size, dwarf.impl_size);
		FROM_DWARF(FIELD_TYPE, dwarf.has_impl_type, dwarf.impl_type);
		FROM_DWARF(FIELD_HOOKED, dwarf.has_impl_hooked, dwarf.impl_hooked);
		FROM_DWARF(FIELD_ADDRESS, dwarf.has_impl_address, dwarf.impl_address);
		FROM_DWARF(FIELD_ALLOCATOR, dwarf.has_impl_allocator, dwarf.impl_allocator);
		FROM_DWARF(FIELD_STATUS, dwarf.has_impl_status, dwarf.impl_status);
	} else {
		FROM_DWARF(FIELD_DEVICE, dwarf.has_device, dwarf.device);
		FROM_DWARF(FIELD_SIZE, dwarf.has_size, dwarf.size);
		FROM_DWARF(FIELD_TYPE, dwarf.has_type, dwarf.type);
		FROM_DWARF(FIELD_HOOKED, dwarf.has_hooked, dwarf.hooked);
		FROM_DWARF(FIELD_ADDRESS, dwarf.has_address, dwarf.address);
		FROM_DWARF(FIELD_ALLOCATOR, dwarf.has_allocator, dwarf.allocator);
		FROM_DWARF(FIELD_STATUS, dwarf.has_status, dwarf.status);
	}
	FROM_DWARF(FIELD_DEVICE_ID, dwarf.has_device_id, dwarf.device_id);
	FROM_DWARF(FIELD_MESH_ID, dwarf.has_mesh_id, dwarf.mesh_id);
#undef FROM_DWARF
	if (apply_overrides(layout, overrides, override_count))
		return -EINVAL;
	/* A field past what one read covers (a wrong --offset) is said now, before any tracing. */
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		struct dl_probe_spec spec;

		if (probes__spec(&probes[i], layout, &spec))
			return -EINVAL;
	}
	return 0;
}

void probes__layout_sources(const struct layout *layout, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (enum layout_source source = SOURCE_PRESET; source <= SOURCE_OVERRIDE; source++) {
		bool seen = false;

		for (int f = 0; f < LAYOUT_FIELDS; f++)
			seen |= (f != FIELD_IMPL || layout->profile->impl) &&
				layout->offset[f] != DL_OFFSET_UNKNOWN &&
				layout->source[f] == source;
		if (seen && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "+" : "",
					      probes__source_name(source));
	}
}

bool probes__warn_if_missing(enum probe_symbol symbol)
{
	if (!probe_symbol_missing_means[symbol])
		return false;
	/* A function probed only in some builds is worth a word only there (check says it). */
	for (size_t i = 0; i < PROBE_COUNT; i++)
		if (probes[i].symbol == symbol && probes[i].when != PROBE_TRACKER_INLINED)
			return true;
	return false;
}

const char *probes__field_name(const struct layout *layout, enum layout_field field)
{
	return (layout->profile->impl ? names_in_impl : names_in_buffer)[field];
}
