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
};

/* Era B: deallocate_buffer(DeviceAddr) without an AllocatorID; Allocator before AllocatorImpl. */
const char *const probe_symbol_alternatives[PROBE_SYMBOLS] = {
	[SYM_BANK_DEALLOCATE] = "_ZN2tt8tt_metal11BankManager17deallocate_bufferEm",
	[SYM_ALLOCATOR_DEALLOCATE_BUFFERS] = "_ZN2tt8tt_metal9Allocator18deallocate_buffersEv",
	[SYM_ALLOCATOR_CLEAR] = "_ZN2tt8tt_metal9Allocator5clearEv",
};

const struct probe probes[PROBE_COUNT] = {
	{ SYM_TRACK_ALLOCATE, false, "track_allocate", PROBESITE_RSI },
	{ SYM_TRACK_DEALLOCATE, false, "track_deallocate", PROBESITE_RSI },
	{ SYM_TRACK_ALLOCATE_CB, false, "track_allocate_cb",
	  PROBESITE_RDX | PROBESITE_RCX | PROBESITE_R9 },
	{ SYM_TRACK_DEALLOCATE_CB, false, "track_deallocate_cb", PROBESITE_RSI },
	{ SYM_ALLOCATE_CIRCULAR_BUFFERS, false, "allocate_circular_buffers", PROBESITE_RDI },
	{ SYM_ALLOCATE_CIRCULAR_BUFFERS, true, "allocate_circular_buffers_return", 0 },
	{ SYM_PROGRAM_DESTRUCTOR, false, "program_destroyed", PROBESITE_RDI },
	{ SYM_DEVICE_CLOSE, false, "device_close", PROBESITE_RDI },
	{ SYM_DEVICE_CLOSE, true, "device_close_return", 0 },
	{ SYM_BANK_DEALLOCATE, false, "bank_deallocate", PROBESITE_RDI | PROBESITE_RSI },
	{ SYM_BANK_DEALLOCATE_ALL, false, "bank_deallocate_all", PROBESITE_RDI },
	{ SYM_ALLOCATOR_DEALLOCATE_BUFFERS, false, "allocator_clear", PROBESITE_RDI },
	{ SYM_ALLOCATOR_DEALLOCATE_BUFFERS, true, "allocator_clear_return", 0 },
	{ SYM_ALLOCATOR_CLEAR, false, "allocator_clear", PROBESITE_RDI },
	{ SYM_ALLOCATOR_CLEAR, true, "allocator_clear_return", 0 },
	{ SYM_MESH_CLOSE, false, "mesh_close", PROBESITE_RDI },
	{ SYM_MESH_CLOSE, true, "mesh_close_return", 0 },
};

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
	"_ZN2tt8tt_metal6Buffer13allocate_implEv",
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
		if (!syms[i].found && probe_symbol_missing_means[i])
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
	return probesite__choose(library, sym->offset, sym->size, probe->regs_read, site);
}

/* MeshDevice's layout changed within eras (api_mutex_ came first later): no preset for its id. */
const struct layout_profile profiles[PROFILE_COUNT] = {
	{ "era-b", NULL, NULL, 0, DL_ERA_B_BUFFER_DEVICE, DL_ERA_B_BUFFER_SIZE,
	  DL_ERA_B_BUFFER_TYPE, DL_ERA_B_BUFFER_HOOKED, DL_ERA_B_BUFFER_ADDRESS,
	  DL_ERA_B_BUFFER_ALLOCATOR, DL_ERA_B_DEVICE_ID, DL_OFFSET_UNKNOWN },
	{ "era-c", "_ZN2tt8tt_metal13AllocatorImpl18deallocate_buffersEv",
	  "AllocatorImpl::deallocate_buffers", DL_ERA_C_BUFFER_IMPL, DL_ERA_C_IMPL_DEVICE,
	  DL_ERA_C_IMPL_SIZE, DL_ERA_C_IMPL_TYPE, DL_ERA_C_IMPL_HOOKED, DL_ERA_C_IMPL_ADDRESS,
	  DL_ERA_C_IMPL_ALLOCATOR, DL_ERA_B_DEVICE_ID, DL_OFFSET_UNKNOWN },
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
	struct dwarf_layout dwarf;
	const struct layout_profile *p;
	bool dwarf_era_c, dwarf_era_b;

	memset(layout, 0, sizeof(*layout));
	p = probes__profile(library, profile_name, layout->why, sizeof(layout->why));
	if (!p)
		return -EINVAL;
	layout->has_dwarf = !dwarf_layout__read(library, &dwarf) && dwarf.has_dwarf;
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
	} else {
		FROM_DWARF(FIELD_DEVICE, dwarf.has_device, dwarf.device);
		FROM_DWARF(FIELD_SIZE, dwarf.has_size, dwarf.size);
		FROM_DWARF(FIELD_TYPE, dwarf.has_type, dwarf.type);
		FROM_DWARF(FIELD_HOOKED, dwarf.has_hooked, dwarf.hooked);
		FROM_DWARF(FIELD_ADDRESS, dwarf.has_address, dwarf.address);
		FROM_DWARF(FIELD_ALLOCATOR, dwarf.has_allocator, dwarf.allocator);
	}
	FROM_DWARF(FIELD_DEVICE_ID, dwarf.has_device_id, dwarf.device_id);
	FROM_DWARF(FIELD_MESH_ID, dwarf.has_mesh_id, dwarf.mesh_id);
#undef FROM_DWARF
	return apply_overrides(layout, overrides, override_count);
}

const char *probes__field_name(const struct layout *layout, enum layout_field field)
{
	return (layout->profile->impl ? names_in_impl : names_in_buffer)[field];
}
