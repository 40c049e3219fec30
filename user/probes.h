/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What devledger probes in libtt_metal.so: the functions (by their name in
 * each era of tt-metal), and for each uprobe the BPF program that runs there. Shared by the
 * tracer, which attaches them, and `devledger check`, which explains them.
 */
#ifndef DEVLEDGER_PROBES_H
#define DEVLEDGER_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/devledger.h"

struct elfsym;
struct probesite;

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
	SYM_ALLOCATOR_DEALLOCATE_BUFFERS,
	SYM_ALLOCATOR_CLEAR,
	SYM_MESH_CLOSE,
	/* Probed instead of track_allocate where that call was inlined into it. */
	SYM_BUFFER_ALLOCATE_IMPL,
	PROBE_SYMBOLS,
};

/* Mangled name of each probed function: era C's where the eras differ. */
extern const char *const probe_symbols[PROBE_SYMBOLS];

/* The name an older era gives the same function (NULL: the same in every era). */
extern const char *const probe_symbol_alternatives[PROBE_SYMBOLS];

/*
 * What is lost when an optional function is missing (NULL: required), as a
 * sentence that follows "no NAME:". Without ProgramImpl's functions a CB
 * cannot be tied to its program: it is released when its device closes.
 */
extern const char *const probe_symbol_missing_means[PROBE_SYMBOLS];

/* The name a function was found under, or when missing its era-C name. */
const char *probes__symbol_name(enum probe_symbol symbol, const struct elfsym *sym);

/* The object a probe reads, whose layout decides where its fields are. */
enum probe_object {
	OBJECT_NONE,
	OBJECT_BUFFER, /* a Buffer: field offsets from the layout, behind its pimpl in era C */
	OBJECT_BANK,   /* a BankManager: its BufferType is its first word */
};

/*
 * When a probe is attached: always, or depending on whether the library's
 * Buffer::allocate_impl still calls GraphTracker::track_allocate (a unity
 * build can inline it; then allocate_impl's return reports allocations).
 */
enum probe_when {
	PROBE_ALWAYS,
	PROBE_TRACKER_CALLED,
	PROBE_TRACKER_INLINED,
};

/*
 * One uprobe: the symbol it sits on, a name for people, and what it
 * reports, as the BPF side's spec. For a Buffer the spec's object values
 * name layout fields (enum layout_field) that probes__spec turns into
 * offsets. A return probe stays at the entry: it finds the return address
 * on top of the stack.
 */
struct probe {
	enum probe_symbol symbol;
	bool retprobe;
	const char *program;
	enum probe_object object;
	struct dl_probe_spec spec;
	enum probe_when when;
};

/* Is this probe attached, given whether track_allocate is inlined into Buffer::allocate_impl? */
bool probes__attached(const struct probe *probe, bool tracker_inlined);

#define PROBE_COUNT 19
extern const struct probe probes[PROBE_COUNT];

/*
 * Resolve every probed function of a library into syms[PROBE_SYMBOLS]. On
 * failure prints one line naming the problem (every missing required
 * symbol) and returns -errno; a missing optional one is a warning line.
 */
int probes__resolve(const char *library, struct elfsym *syms);

/* Look every probed function up, missing or not; -errno with one line on stderr if unreadable. */
int probes__lookup(const char *library, struct elfsym *syms);

/*
 * Where a library's vtables are (st_value), 0 when it has none: a MeshDevice
 * is told from a Device by its first word.
 */
struct probe_vtables {
	uint64_t device;
	uint64_t mesh;
};

int probes__vtables(const char *library, struct probe_vtables *vtables);

/* Look one more function up, in the same pass when devledger knows the name ahead. */
int probes__lookup_name(const char *library, const char *name, struct elfsym *sym);

/*
 * Where this probe attaches in the library: its function's cheapest safe
 * instruction, or the entry for a return probe or when entry_only.
 * site->why says which and why. Returns 0 or -errno.
 */
int probes__site(const struct probe *probe, const char *library, const struct elfsym *sym,
		 bool entry_only, struct probesite *site);

/*
 * Where the fields the probes read sit, for one era of tt-metal. With
 * impl != 0, Buffer holds a pointer to its state at that offset and the
 * buffer offsets are in that state (era C's pimpl).
 */
struct layout_profile {
	const char *name;
	const char *marker;	 /* a function only this era has; NULL for the default */
	const char *marker_name; /* the same, readable */
	unsigned int impl;
	unsigned int device, size, type, hooked, address; /* in Buffer, or in its state */
	unsigned int allocator;				  /* in Buffer, or in its state */
	unsigned int device_id;				  /* Device::id_ */
	unsigned int mesh_id; /* MeshDevice::mesh_id_; DL_OFFSET_UNKNOWN without DWARF */
	unsigned int status;  /* allocation_status_, in Buffer or in its state */
};

#define PROFILE_COUNT 2
extern const struct layout_profile profiles[PROFILE_COUNT];

/*
 * The profile called `name`, or when name is NULL the one the library's
 * symbols show. `why` says how it was chosen. NULL for an unknown name.
 */
const struct layout_profile *probes__profile(const char *library, const char *name, char *why,
					     size_t why_len);

/* The fields of a layout, in this order in struct layout. */
enum layout_field {
	FIELD_IMPL,
	FIELD_DEVICE,
	FIELD_SIZE,
	FIELD_TYPE,
	FIELD_HOOKED,
	FIELD_ADDRESS,
	FIELD_ALLOCATOR,
	FIELD_DEVICE_ID,
	FIELD_MESH_ID,
	FIELD_STATUS, /* allocation_status_: read where allocate_impl's return reports */
	LAYOUT_FIELDS,
};

enum layout_source {
	SOURCE_PRESET = 0,
	SOURCE_DWARF,
	SOURCE_OVERRIDE,
	SOURCE_NONE, /* not known: the field is not read (offset DL_OFFSET_UNKNOWN) */
};

/* An offset given on the command line: --offset Buffer.size_=24. */
struct layout_override {
	const char *name;
	unsigned int offset;
};

/*
 * What the probes will read: the profile's presets, replaced by the
 * library's DWARF where it has them, replaced by overrides.
 */
struct layout {
	const struct layout_profile *profile;
	char why[128]; /* how the profile was chosen */
	bool has_dwarf;
	unsigned int offset[LAYOUT_FIELDS]; /* FIELD_IMPL 0: the fields are in Buffer itself */
	enum layout_source source[LAYOUT_FIELDS];
};

/*
 * What the BPF side follows for this probe under this layout. Returns 0,
 * or -ERANGE when a field lies beyond what one read covers.
 */
int probes__spec(const struct probe *probe, const struct layout *layout,
		 struct dl_probe_spec *spec);

/* The argument registers a probe reads (PROBESITE_RDI, ...): its site must leave them alone. */
unsigned int probes__regs_read(const struct probe *probe);

/* What a spec reads, for people: "reads from *(rsi+16), 72 bytes: address +64, size +8, ...". */
void probes__describe(const struct dl_probe_spec *spec, char *buf, size_t len);

/*
 * Fill `layout` for a library (profile by name, or NULL to choose). Returns
 * 0, or -EINVAL for an unknown profile, an override naming no field of the
 * chosen profile, or fields past what a probe reads at once (one line on
 * stderr): all mistakes in the command line.
 */
int probes__layout(const char *library, const char *profile_name,
		   const struct layout_override *overrides, size_t override_count,
		   struct layout *layout);

/* Where a layout's offsets came from: "dwarf", "preset", "override", or several joined by '+'. */
void probes__layout_sources(const struct layout *layout, char *buf, size_t len);

/* Is a missing function worth a warning (optional, and probed in every build)? */
bool probes__warn_if_missing(enum probe_symbol symbol);

/* Is this a field name some profile has ("Buffer.size_", "BufferImpl.size_", ...)? */
bool probes__known_field(const char *name);

/* "dwarf", "preset", "override", "none". */
const char *probes__source_name(enum layout_source source);

/* "Buffer.size_", "BufferImpl.size_", "Device.id_", ... for a field of this layout. */
const char *probes__field_name(const struct layout *layout, enum layout_field field);

#endif /* DEVLEDGER_PROBES_H */
