/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demangle.h"
#include "dwarflayout.h"
#include "inlining.h"
#include "layoutcache.h"
#include "library.h"

#define DEVICE_VTABLE "_ZTVN2tt8tt_metal6DeviceE"
#define MESH_VTABLE   "_ZTVN2tt8tt_metal11distributed10MeshDeviceE"

/* Every name any era gives a probed function, its markers and the vtables: one pass. */
#define MAX_NAMES (ERA_COUNT * (PROBE_SYMBOLS * ERA_MAX_NAMES + 1) + 2)

struct names {
	const char *name[MAX_NAMES];
	struct elfsym sym[MAX_NAMES];
	size_t count;
};

static void add_name(struct names *n, const char *name)
{
	if (!name)
		return;
	for (size_t i = 0; i < n->count; i++)
		if (!strcmp(n->name[i], name))
			return;
	if (n->count < MAX_NAMES)
		n->name[n->count++] = name;
}

static const struct elfsym *found(const struct names *n, const char *name)
{
	for (size_t i = 0; name && i < n->count; i++)
		if (!strcmp(n->name[i], name))
			return n->sym[i].found ? &n->sym[i] : NULL;
	return NULL;
}

static int read_symbols(struct library *lib, struct names *n)
{
	int err;

	for (size_t e = 0; e < ERA_COUNT; e++) {
		add_name(n, eras[e].marker);
		for (int s = 0; s < PROBE_SYMBOLS; s++)
			for (int k = 0; k < ERA_MAX_NAMES; k++)
				add_name(n, eras[e].symbols[s][k]);
	}
	add_name(n, DEVICE_VTABLE);
	add_name(n, MESH_VTABLE);
	err = elfsyms__resolve(lib->path, n->name, n->count, n->sym);
	if (err == -ENOEXEC)
		fprintf(stderr, "devledger: %s: not an ELF file\n", lib->path);
	else if (err)
		fprintf(stderr, "devledger: %s: %s\n", lib->path, strerror(-err));
	return err;
}

void library__free(struct library *library)
{
	free(library);
}

static void warn(struct library *lib, bool blind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn(struct library *lib, bool blind, const char *fmt, ...)
{
	va_list args;

	lib->blind |= blind;
	if (lib->warning_count == LIBRARY_MAX_WARNINGS)
		return;
	va_start(args, fmt);
	vsnprintf(lib->warnings[lib->warning_count++], sizeof(lib->warnings[0]), fmt, args);
	va_end(args);
}

/* The newest era whose marker the library has, else the oldest. */
static const struct era *era_by_symbols(const struct names *n, char *why, size_t len)
{
	for (size_t e = ERA_COUNT; e-- > 1;) {
		if (found(n, eras[e].marker)) {
			snprintf(why, len, "the library has %s", eras[e].marker_name);
			return &eras[e];
		}
	}
	snprintf(why, len, "no newer era's functions in the library");
	return &eras[0];
}

static void pick_symbols(struct library *lib, const struct names *n)
{
	for (int s = 0; s < PROBE_SYMBOLS; s++) {
		const struct elfsym *sym = NULL;

		for (int k = 0; k < ERA_MAX_NAMES && !sym; k++)
			sym = found(n, lib->era->symbols[s][k]);
		if (sym) {
			lib->syms[s] = *sym;
		} else {
			memset(&lib->syms[s], 0, sizeof(lib->syms[s]));
			lib->syms[s].name = lib->era->symbols[s][0];
		}
	}
}

/* Required functions: those without a sentence saying what their absence costs. */
static size_t missing_required(const struct library *lib, char *list, size_t len)
{
	size_t missing = 0;

	list[0] = '\0';
	for (int s = 0; s < PROBE_SYMBOLS; s++) {
		if (lib->syms[s].found || probe_symbol_missing_means[s])
			continue;
		if (missing++)
			strncat(list, ", ", len - strlen(list) - 1);
		strncat(list, lib->era->symbols[s][0], len - strlen(list) - 1);
	}
	return missing;
}

/* Which tracker calls a unity build inlined into their callers. */
static void find_inlining(struct library *lib)
{
	for (int c = 0; c < TRACKER_CALLS; c++) {
		const struct tracker_call_info *info = &tracker_calls[c];
		const struct elfsym *caller = &lib->syms[info->caller];
		const struct elfsym *callee = &lib->syms[info->callee];
		int calls;

		if (!callee->found) {
			lib->calls[c] = CALL_NO_TRACKER;
			continue;
		}
		if (!caller->found) {
			lib->calls[c] = CALL_UNCHECKED;
			/* Newer Buffers have no allocate_impl at all: nothing to warn about there.
			 */
			if (info->caller == SYM_ALLOCATE_CIRCULAR_BUFFERS)
				warn(lib, false,
				     "%s is not in the symbol table: cannot check that it still "
				     "calls %s",
				     info->caller_name, info->callee_name);
			continue;
		}
		calls = inlining__calls(lib->path, caller, callee, callee->name);
		lib->calls[c] = calls == 0  ? CALL_INLINED
				: calls > 0 ? CALL_PRESENT
					    : CALL_UNCHECKED;
		if (calls == 0)
			lib->inlined |= 1u << c;
		else if (calls < 0)
			warn(lib, false, "%s: cannot read its code (%s): taken to call %s",
			     info->caller_name, strerror(-calls), info->callee_name);
	}
}

/* Fields the probes attached here may read: only those are looked up in the DWARF. */
static bool field_wanted(const struct library *lib, enum layout_field f)
{
	switch (f) {
	case FIELD_MESH_ID:
	case FIELD_MESH_IMPL:
	case FIELD_MESH_IMPL_ID:
		return lib->mesh_vtable != 0;
	case FIELD_PROGRAM_CBS:
	case FIELD_PROGRAM_CBS_NEEDED:
	case FIELD_CB_ADDRESS:
	case FIELD_CB_SIZE:
	case FIELD_CB_GLOBAL:
		return lib->inlined & (1u << CALL_TRACK_ALLOCATE_CB);
	case FIELD_PROGRAM_DFBS:
	case FIELD_PROGRAM_DFBS_NEEDED:
	case FIELD_DFB_ADDRESS:
	case FIELD_DFB_SIZE:
		return lib->syms[SYM_ALLOCATE_DATAFLOW_BUFFERS].found;
	default:
		return true;
	}
}

/*
 * The era's fields from the DWARF, and each era's own marker field: the
 * debug info tells the era better than the symbols. dwarf_marker[e] says
 * whether era e's marker is there.
 */
static int read_dwarf(struct library *lib, bool *era_fits, unsigned int *offsets)
{
	struct dwarf_query queries[LAYOUT_FIELDS + ERA_COUNT];
	int query_field[LAYOUT_FIELDS + ERA_COUNT];
	unsigned int found_at[LAYOUT_FIELDS + ERA_COUNT];
	struct layout_cache_info cache;
	size_t count = 0;
	int err;

	for (int f = 0; f < LAYOUT_FIELDS; f++) {
		const struct era_field *field = &lib->era->fields[f];

		offsets[f] = DL_OFFSET_UNKNOWN;
		if (!field->dwarf_class || !field_wanted(lib, f))
			continue;
		query_field[count] = f;
		queries[count++] = (struct dwarf_query){ field->dwarf_class, field->dwarf_member };
	}
	for (size_t e = 0; e < ERA_COUNT; e++) {
		const struct era_field *marker = &eras[e].fields[eras[e].dwarf_marker];

		query_field[count] = -1 - (int)e;
		queries[count++] =
			(struct dwarf_query){ marker->dwarf_class, marker->dwarf_member };
	}
	err = layout_cache__read(lib->path, queries, count, found_at, &cache);
	/* Read twice (another era's fields): the DWARF read either time is what check says. */
	if (lib->layout_cache.use != LAYOUT_CACHE_STORED)
		lib->layout_cache = cache;
	if (err)
		return err;
	for (size_t i = 0; i < count; i++) {
		if (query_field[i] >= 0)
			offsets[query_field[i]] = found_at[i];
		else
			era_fits[-1 - query_field[i]] = found_at[i] != DL_OFFSET_UNKNOWN;
	}
	return 0;
}

/* The era the DWARF shows, or NULL when it shows none (or the one it has). */
static const struct era *era_by_dwarf(const struct library *lib, const bool *fits)
{
	if (fits[lib->era - eras])
		return NULL;
	for (size_t e = ERA_COUNT; e-- > 0;)
		if (fits[e])
			return &eras[e];
	return NULL;
}

/* The rare build where both the DWARF and the presets are wrong: the user says where. */
static int apply_overrides(struct library *lib, const struct library_opts *opts)
{
	for (size_t i = 0; i < opts->override_count; i++) {
		int field = -1;

		for (int f = 0; f < LAYOUT_FIELDS; f++)
			if (!strcmp(opts->overrides[i].name, lib->era->fields[f].name))
				field = f;
		if (field < 0 ||
		    (field == FIELD_BUFFER_IMPL && !lib->era->fields[field].dwarf_class)) {
			fprintf(stderr, "devledger: --offset %s: the %s layout has no such field\n",
				opts->overrides[i].name, lib->era->name);
			return -EINVAL;
		}
		lib->offset[field] = opts->overrides[i].offset;
		lib->source[field] = SOURCE_OVERRIDE;
	}
	return 0;
}

static int choose_layout(struct library *lib, const struct names *n,
			 const struct library_opts *opts)
{
	bool fits[ERA_COUNT] = { false };
	unsigned int dwarf[LAYOUT_FIELDS];
	const struct era *shown;
	int err;

	err = read_dwarf(lib, fits, dwarf);
	lib->has_dwarf = !err;
	if (err == -EFBIG)
		warn(lib, false,
		     "its debug sections declare more than devledger inflates (64 times their "
		     "size, beyond 512 MiB): read as if it had no DWARF");
	else if (err == -EBADMSG)
		warn(lib, false, "a compressed debug section is damaged: read as if it had no DWARF");
	if (lib->has_dwarf && (shown = era_by_dwarf(lib, fits))) {
		if (opts->era) {
			fprintf(stderr,
				"devledger: --profile %s: %s's debug info has %s, the %s layout: "
				"leave --profile out\n",
				opts->era, lib->path, shown->fields[shown->dwarf_marker].name,
				shown->name);
			return -EINVAL;
		}
		lib->era = shown;
		snprintf(lib->era_why, sizeof(lib->era_why), "the debug info has %s",
			 shown->fields[shown->dwarf_marker].name);
		pick_symbols(lib, n);
		/* Inlining facts stand: the functions are the same, under the era's names. */
		read_dwarf(lib, fits, dwarf);
	} else if (!lib->has_dwarf && opts->era) {
		char why[128];
		const struct era *by_symbols = era_by_symbols(n, why, sizeof(why));

		if (by_symbols != lib->era)
			warn(lib, false,
			     "--profile %s taken on trust: the library has no DWARF and its symbols "
			     "look like %s (%s)",
			     opts->era, by_symbols->name, why);
	}
	for (int f = 0; f < LAYOUT_FIELDS; f++) {
		const struct era_field *field = &lib->era->fields[f];

		lib->offset[f] = field->preset;
		lib->source[f] = field->preset == DL_OFFSET_UNKNOWN ? SOURCE_NONE : SOURCE_PRESET;
		if (lib->has_dwarf && dwarf[f] != DL_OFFSET_UNKNOWN) {
			lib->offset[f] = dwarf[f];
			lib->source[f] = SOURCE_DWARF;
		}
	}
	/* A MeshDevice with a pimpl: its own old member is not the id, whatever a preset says. */
	if (lib->offset[FIELD_MESH_IMPL] != DL_OFFSET_UNKNOWN &&
	    lib->offset[FIELD_MESH_IMPL_ID] != DL_OFFSET_UNKNOWN) {
		lib->offset[FIELD_MESH_ID] = DL_OFFSET_UNKNOWN;
		lib->source[FIELD_MESH_ID] = SOURCE_NONE;
	}
	return apply_overrides(lib, opts);
}

static void mark_fields(struct library *lib, const struct dl_probe_spec *spec)
{
	const struct dl_value *values[] = { &spec->address,    &spec->size,
					    &spec->mem_type,   &spec->device,
					    &spec->object,     &spec->hooked,
					    &spec->only_if,    &spec->array.address,
					    &spec->array.size, &spec->array.only_if };
	bool buffer = false;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (values[i]->source != DL_SRC_OBJECT)
			continue;
		lib->field_used[values[i]->offset] = true;
		buffer |= values[i]->offset >= FIELD_BUFFER_DEVICE &&
			  values[i]->offset <= FIELD_BUFFER_STATUS;
	}
	if (spec->array.stride)
		lib->field_used[spec->array.vector] = true;
	if (buffer && lib->era->fields[FIELD_BUFFER_IMPL].dwarf_class)
		lib->field_used[FIELD_BUFFER_IMPL] = true;
}

/*
 * Where each function that may release a buffer through its allocator
 * without a report makes that call (one call each; the probe sits on it).
 * Every such release is seen there only when the library has the functions,
 * their code could be read and each makes the call at most once; otherwise
 * BankManager::deallocate_buffer is probed instead, on every free's path.
 */
static void find_release_calls(struct library *lib, bool entry_only)
{
	const struct elfsym *callee = &lib->syms[SYM_ALLOCATOR_DEALLOCATE_BUFFER];
	char readable[512];

	lib->releases_seen = callee->found && lib->syms[SYM_MESH_BUFFER_DEALLOCATE].found;
	if (entry_only) {
		/* A call is no function's entry: every release is seen at the bank instead. */
		lib->releases_seen = false;
		snprintf(lib->releases_why, sizeof(lib->releases_why),
			 "--entry-probes: no probe sits on a call");
		return;
	}
	if (!lib->releases_seen) {
		snprintf(lib->releases_why, sizeof(lib->releases_why), "no %s in the library",
			 callee->found ? "MeshBuffer::deallocate"
				       : "Allocator::deallocate_buffer(Buffer*)");
		return;
	}
	snprintf(lib->releases_why, sizeof(lib->releases_why),
		 "a release that bypasses track_deallocate is probed at its call to %s, which a "
		 "tracked free never passes",
		 demangle(callee->name, readable, sizeof(readable)));
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		const struct elfsym *sym = &lib->syms[probes[i].symbol];
		uint64_t delta = 0;
		int calls;

		if (!probes[i].at_release_call || !sym->found)
			continue;
		calls = inlining__call_sites(lib->path, sym, callee, callee->name, &delta, 1);
		if (calls < 0 || calls > 1) {
			lib->releases_seen = false;
			snprintf(lib->releases_why, sizeof(lib->releases_why), "%s: %s",
				 probes[i].name,
				 calls < 0 ? "its code could not be read"
					   : "calls the allocator more than once");
			break;
		}
		lib->release_call[i] = calls == 1;
		lib->sites[i].offset = sym->offset + delta;
		lib->sites[i].delta = delta;
		snprintf(lib->sites[i].why, sizeof(lib->sites[i].why),
			 "+%llu (its call to the allocator's release: fires only when it releases)",
			 (unsigned long long)delta);
	}
	if (!lib->releases_seen)
		memset(lib->release_call, 0, sizeof(lib->release_call));
}

/* Where a probe attaches: its function's cheapest safe instruction, or the entry. */
static void choose_site(struct library *lib, size_t i, bool entry_only)
{
	const struct elfsym *sym = &lib->syms[probes[i].symbol];
	struct probesite *site = &lib->sites[i];

	if (probes[i].at_release_call)
		return; /* found with the call: find_release_calls */
	site->offset = sym->offset;
	site->delta = 0;
	if (probes[i].retprobe)
		snprintf(site->why, sizeof(site->why),
			 "entry (a return probe finds the return address on top of the stack)");
	else if (entry_only)
		snprintf(site->why, sizeof(site->why), "entry (--entry-probes)");
	else if (probesite__choose(lib->path, sym->offset, sym->size, probes__regs_read(&probes[i]),
				   site)) {
		site->offset = sym->offset;
		site->delta = 0;
		snprintf(site->why, sizeof(site->why), "entry (its code could not be read)");
	}
}

/* The readable name of a probed function, for warnings. */
static const char *function_name(const struct probe *probe)
{
	if (probe->when == WHEN_CALLED || probe->when == WHEN_INLINED)
		return tracker_calls[probe->call].caller_name;
	return probe->symbol == SYM_ALLOCATE_DATAFLOW_BUFFERS
		       ? "ProgramImpl::allocate_dataflow_buffers"
		       : probe->name;
}

/*
 * A probe whose fields this library does not tell. Where the function it
 * sits on lays out memory devledger then cannot read, its entry still
 * reports that it ran (DL_EV_UNSEEN): a session in which it runs is not
 * exact, one in which it never runs loses nothing.
 */
static void cannot_read(struct library *lib, size_t i, enum layout_field missing, bool *warned)
{
	const struct probe *probe = &probes[i];
	bool tracker = probe->when == WHEN_CALLED || probe->when == WHEN_INLINED;
	const char *what = tracker ? tracker_calls[probe->call].lost
				   : probe->at_release_call ? "its untracked releases are not seen"
							    : "dataflow buffers are not seen";

	if (!warned[probe->symbol])
		warn(lib, false,
		     "%s: %s is not known (no DWARF for it): %s where it runs, and such a "
		     "session is not exact",
		     function_name(probe), lib->era->fields[missing].name, what);
	warned[probe->symbol] = true;
	if (probe->retprobe)
		return;
	lib->specs[i] = (struct dl_probe_spec){
		.kind = DL_EV_UNSEEN, .object = { .source = DL_SRC_CONST, .offset = probe->symbol }
	};
	lib->attached[i] = true;
	choose_site(lib, i, true);
}

/* Each probe: attached or not here, its spec, its site; what cannot be seen, said. */
static int plan_probes(struct library *lib, const struct library_opts *opts)
{
	bool warned[PROBE_SYMBOLS] = { false };

	for (size_t i = 0; i < PROBE_COUNT; i++) {
		const struct probe *probe = &probes[i];
		enum layout_field missing = FIELD_BUFFER_IMPL;
		int err;

		if (!lib->syms[probe->symbol].found || !probes__wanted(probe, lib->inlined))
			continue;
		if ((probe->when == WHEN_RELEASES_UNSEEN && lib->releases_seen) ||
		    (probe->at_release_call && !lib->release_call[i]))
			continue;
		err = probes__spec(probe, lib->offset, &lib->specs[i], &missing);
		if (err == -ERANGE)
			return -EINVAL;
		if (err) {
			cannot_read(lib, i, missing, warned);
			continue;
		}
		lib->attached[i] = true;
		mark_fields(lib, &probe->spec);
		choose_site(lib, i, opts->entry_probes);
	}
	/* An entry that keeps what its return reads, without that return, or the other way. */
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		bool paired = false;

		if (!lib->attached[i] || !lib->specs[i].save_slot)
			continue;
		for (size_t j = 0; j < PROBE_COUNT; j++)
			paired |= j != i && lib->attached[j] && lib->specs[j].save_slot &&
				  probes[j].symbol == probes[i].symbol &&
				  probes[j].spec.save_slot == probes[i].spec.save_slot;
		if (!paired) {
			lib->attached[i] = false;
			if (!probes[i].retprobe)
				cannot_read(lib, i, FIELD_BUFFER_IMPL, warned);
		}
	}
	lib->field_used[FIELD_DEVICE_ID] = true;
	if (lib->mesh_vtable) {
		bool pimpl = lib->offset[FIELD_MESH_IMPL] != DL_OFFSET_UNKNOWN &&
			     lib->offset[FIELD_MESH_IMPL_ID] != DL_OFFSET_UNKNOWN;

		lib->field_used[FIELD_MESH_IMPL] = pimpl;
		lib->field_used[FIELD_MESH_IMPL_ID] = pimpl;
		lib->field_used[FIELD_MESH_ID] = !pimpl;
	}
	return 0;
}

static void warn_about_calls(struct library *lib)
{
	for (int c = 0; c < TRACKER_CALLS; c++) {
		const struct tracker_call_info *info = &tracker_calls[c];

		if (lib->calls[c] != CALL_INLINED)
			continue;
		warn(lib, false, "%s no longer calls %s: it looks inlined; %s", info->caller_name,
		     info->callee_name, info->fallback);
	}
	for (int s = 0; s < PROBE_SYMBOLS; s++) {
		char readable[512];

		if (!lib->syms[s].found && probes__warn_if_missing(s))
			warn(lib, false, "no %s: %s",
			     demangle(lib->era->symbols[s][0], readable, sizeof(readable)),
			     probe_symbol_missing_means[s]);
	}
}

struct library *library__open(const char *path, const struct library_opts *opts, bool allow_missing)
{
	struct library *lib = calloc(1, sizeof(*lib));
	struct names *n = calloc(1, sizeof(*n));
	const struct elfsym *vtable;
	char missing[2048];
	int err;

	if (!lib || !n) {
		err = -ENOMEM;
		goto fail;
	}
	snprintf(lib->path, sizeof(lib->path), "%s", path);
	err = read_symbols(lib, n);
	if (err)
		goto fail;
	if (opts->era) {
		lib->era = eras__find(opts->era);
		if (!lib->era) {
			fprintf(stderr, "devledger: unknown profile '%s'; known: %s\n", opts->era,
				eras__names());
			err = -EINVAL;
			goto fail;
		}
		snprintf(lib->era_why, sizeof(lib->era_why), "chosen with --profile");
	} else {
		lib->era = era_by_symbols(n, lib->era_why, sizeof(lib->era_why));
	}
	pick_symbols(lib, n);
	vtable = found(n, DEVICE_VTABLE);
	lib->device_vtable = vtable ? vtable->vaddr : 0;
	vtable = found(n, MESH_VTABLE);
	lib->mesh_vtable = vtable ? vtable->vaddr : 0;
	lib->missing_required = missing_required(lib, missing, sizeof(missing));
	if (lib->missing_required && !allow_missing) {
		fprintf(stderr,
			"devledger: %s: missing symbols: %s (is this tt-metal's libtt_metal.so?)\n",
			lib->path, missing);
		err = -ENOENT;
		goto fail;
	}
	find_inlining(lib);
	find_release_calls(lib, opts->entry_probes);
	err = choose_layout(lib, n, opts);
	if (!err)
		err = plan_probes(lib, opts);
	if (err)
		goto fail;
	warn_about_calls(lib);
	free(n);
	return lib;
fail:
	free(n);
	free(lib);
	errno = -err;
	return NULL;
}

void library__print_warnings(const struct library *library, FILE *out)
{
	for (size_t i = 0; i < library->warning_count; i++)
		fprintf(out, "devledger: warning: %s: %s\n", library->path, library->warnings[i]);
}

const char *library__source_name(enum layout_source source)
{
	return source == SOURCE_DWARF	   ? "dwarf"
	       : source == SOURCE_OVERRIDE ? "override"
	       : source == SOURCE_NONE	   ? "none"
					   : "preset";
}

void library__layout_sources(const struct library *library, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (enum layout_source source = SOURCE_PRESET; source <= SOURCE_OVERRIDE; source++) {
		bool seen = false;

		for (int f = 0; f < LAYOUT_FIELDS; f++)
			seen |= library->field_used[f] && library->offset[f] != DL_OFFSET_UNKNOWN &&
				library->source[f] == source;
		if (seen && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "+" : "",
					      library__source_name(source));
	}
}
