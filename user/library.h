/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One libtt_metal.so, read once: its era, the probed functions and where
 * each probe sits, the vtables that tell a mesh from a chip, the field
 * offsets the probes read (DWARF, presets, --offset), which tracker calls
 * a unity build inlined, and what each probe reports there. The tracer
 * attaches from it and `devledger check` explains it.
 */
#ifndef DEVLEDGER_LIBRARY_H
#define DEVLEDGER_LIBRARY_H

#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elfsyms.h"
#include "eras.h"
#include "layoutcache.h"
#include "probes.h"
#include "probesite.h"

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

struct library_opts {
	const char *era; /* --profile NAME; NULL: chosen from the library */
	const struct layout_override *overrides;
	size_t override_count;
	bool entry_probes; /* every probe at its function's entry, not its cheapest site */
};

/* What a tracker call looks like in this library. */
enum call_state {
	CALL_PRESENT,	 /* the caller still calls the tracker: its probe fires */
	CALL_INLINED,	 /* gone from the caller: devledger probes the caller instead */
	CALL_UNCHECKED,	 /* the caller is not in the symbol table: taken as present */
	CALL_NO_TRACKER, /* the tracker function itself is missing */
};

#define LIBRARY_MAX_WARNINGS 16

/* Read-only once opened. */
struct library {
	char path[PATH_MAX];
	const struct era *era;
	char era_why[128]; /* how the era was chosen */
	bool has_dwarf;
	/* Where the DWARF's answers came from. */
	struct layout_cache_info layout_cache;
	struct elfsym syms[PROBE_SYMBOLS];   /* under the era's names, in order of preference */
	uint64_t device_vtable, mesh_vtable; /* st_value, 0 when missing */
	unsigned int offset[LAYOUT_FIELDS];  /* DL_OFFSET_UNKNOWN where unknown */
	enum layout_source source[LAYOUT_FIELDS];
	bool field_used[LAYOUT_FIELDS]; /* read by some probe attached here */
	enum call_state calls[TRACKER_CALLS];
	unsigned int inlined; /* bit per enum tracker_call in CALL_INLINED */
	/* Per probe: attached here, where, and what it reports. */
	bool attached[PROBE_COUNT];
	struct probesite sites[PROBE_COUNT];
	/*
	 * Whether every release of a buffer by its allocator without a report is
	 * probed at its call (the probes at_release_call), so that
	 * BankManager::deallocate_buffer, on every tracked free's path, is not;
	 * and why, for check.
	 */
	bool releases_seen;
	char releases_why[200];
	bool release_call[PROBE_COUNT]; /* the function makes the call: sites[] is there */
	struct dl_probe_spec specs[PROBE_COUNT];
	size_t missing_required; /* required functions missing: cannot be traced */
	/*
	 * What devledger cannot see in this library, and why: a session over it
	 * is not exact (blind), and says so.
	 */
	char warnings[LIBRARY_MAX_WARNINGS][320];
	size_t warning_count;
	bool blind;
};

/*
 * Open and read a library. Returns NULL with errno set and one line on
 * stderr: EINVAL for options that do not fit it (an unknown --offset field,
 * a --profile its DWARF or symbols contradict, offsets past one read), ENOENT
 * when required functions are missing (unless allow_missing, as check
 * wants: then missing_required says how many), ENOEXEC when not ELF.
 */
struct library *library__open(const char *path, const struct library_opts *opts,
			      bool allow_missing);
void library__free(struct library *library);

/* Print the library's warnings as "devledger: warning: PATH: ..." lines. */
void library__print_warnings(const struct library *library, FILE *out);

/* Where the offsets came from: "dwarf", "preset", "override", or several joined by '+'. */
void library__layout_sources(const struct library *library, char *buf, size_t len);

/* "dwarf", "preset", "override", "none". */
const char *library__source_name(enum layout_source source);

#endif /* DEVLEDGER_LIBRARY_H */
