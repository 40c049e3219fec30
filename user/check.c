/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger check: what devledger would probe in a library, where, reading
 * which fields, and what looks wrong, without loading anything.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "library.h"

/* Bumped when a key changes meaning or goes; new keys may come without it. */
#define CHECK_SCHEMA "devledger.check.v1"

static const char *table_name(enum elfsym_table table)
{
	return table == ELFSYM_SYMTAB ? ".symtab" : table == ELFSYM_DYNSYM ? ".dynsym" : "-";
}

static const char *state_name(enum call_state state)
{
	return state == CALL_PRESENT	 ? "called"
	       : state == CALL_INLINED	 ? "inlined"
	       : state == CALL_UNCHECKED ? "unchecked"
					 : "no tracker";
}

/* Why a probe found in the library is not attached there; NULL when it is. */
static const char *not_attached_why(const struct library *lib, size_t i)
{
	const struct probe *probe = &probes[i];

	if (lib->attached[i])
		return NULL;
	if (probe->when == WHEN_INLINED && !(lib->inlined & (1u << probe->call)))
		return NULL; /* a fallback this build does not need: nothing to say */
	if (probe->when == WHEN_CALLED && (lib->inlined & (1u << probe->call)))
		return "its call was inlined away: the fallback below reports instead";
	if (probe->when == WHEN_RELEASES_UNSEEN && lib->releases_seen)
		return "off the tracked path: untracked releases are probed at their calls (see hot "
		       "path)";
	if (probe->at_release_call && lib->releases_seen)
		return NULL; /* it makes no such call: nothing to probe */
	if (probe->at_release_call)
		return "every release is seen at BankManager::deallocate_buffer instead (see hot "
		       "path)";
	return "its fields are not known here (see warnings)";
}

/* What each probe reads, for people. */
static void describe(const struct library *lib, size_t i, char *buf, size_t len)
{
	if (lib->specs[i].kind == DL_EV_UNSEEN)
		snprintf(buf, len, "reports only that it ran: what it lays out cannot be read");
	else
		probes__describe(&lib->specs[i], buf, len);
}

/*
 * The probes every buffer passes, created and destroyed: its allocation's
 * report, its free's report, and (only where the untracked releases cannot
 * be found at their calls) the bank's release of it. Returns the traps.
 */
static unsigned int hot_path(const struct library *lib, const char **names, size_t max)
{
	static const char *const hot[] = { "track_allocate",	   "allocate_impl",
					   "allocate_impl_return", "track_deallocate",
					   "deallocate_impl",	   "bank_deallocate" };
	unsigned int traps = 0;

	for (size_t h = 0; h < sizeof(hot) / sizeof(hot[0]); h++)
		for (size_t i = 0; i < PROBE_COUNT; i++)
			if (lib->attached[i] && !strcmp(probes[i].name, hot[h]) && traps < max)
				names[traps++] = hot[h];
	return traps;
}

static void print_hot_path(const struct library *lib, FILE *out)
{
	const char *names[8];
	unsigned int traps = hot_path(lib, names, 8);

	fprintf(out, "\nhot path (traps per buffer created and destroyed: %u):\n ", traps);
	for (unsigned int i = 0; i < traps; i++)
		fprintf(out, " %s", names[i]);
	fprintf(out, "\n  BankManager::deallocate_buffer %s: %s\n",
		lib->releases_seen ? "not probed" : "probed", lib->releases_why);
	if (!lib->releases_seen)
		fprintf(out,
			"  (a tracked free reaches it too, right after track_deallocate: a second trap per free)\n");
}

static void print_text(const struct library *lib, FILE *out)
{
	fprintf(out, "library: %s\nprofile: %s (%s)\n\nprobes:\n", lib->path, lib->era->name,
		lib->era_why);
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		enum probe_symbol symbol = probes[i].symbol;
		const struct elfsym *sym = &lib->syms[symbol];
		const char *why = not_attached_why(lib, i);
		char reads[256];

		/* A fallback the build does not need is not worth a line. */
		if (sym->found && !lib->attached[i] && !why)
			continue;
		fprintf(out, "  %-30s %s\n", probes[i].name, sym->name);
		if (!sym->found) {
			fprintf(out, "  %-30s MISSING: not in .symtab or .dynsym%s%s%s\n", "",
				probe_symbol_missing_means[symbol] ? " (optional: " : "",
				probe_symbol_missing_means[symbol]
					? probe_symbol_missing_means[symbol]
					: "",
				probe_symbol_missing_means[symbol] ? ")" : "");
			continue;
		}
		if (why) {
			fprintf(out, "  %-30s not attached: %s\n", "", why);
			continue;
		}
		describe(lib, i, reads, sizeof(reads));
		fprintf(out, "  %-30s %s, file offset 0x%llx, %llu bytes; probe at %s\n", "",
			table_name(sym->table), (unsigned long long)sym->offset,
			(unsigned long long)sym->size, lib->sites[i].why);
		fprintf(out, "  %-30s %s\n", "", reads);
	}
	print_hot_path(lib, out);
	fprintf(out, "\ntracker calls:\n");
	for (int c = 0; c < TRACKER_CALLS; c++)
		fprintf(out, "  %-40s -> %-34s %s%s%s\n", tracker_calls[c].caller_name,
			tracker_calls[c].callee_name, state_name(lib->calls[c]),
			lib->calls[c] == CALL_INLINED ? ": " : "",
			lib->calls[c] == CALL_INLINED ? tracker_calls[c].fallback : "");
	fprintf(out, "\nfields read%s:\n",
		lib->has_dwarf ? "" : " (no DWARF in the library: presets)");
	if (lib->layout_cache.use == LAYOUT_CACHE_HIT)
		fprintf(out, "  (answered by the layout cache of this build: %s)\n",
			lib->layout_cache.path);
	else if (lib->layout_cache.use == LAYOUT_CACHE_STORED)
		fprintf(out, "  (what was read is kept in the layout cache: %s)\n",
			lib->layout_cache.path);
	for (int f = 0; f < LAYOUT_FIELDS; f++) {
		if (!lib->field_used[f])
			continue;
		if (lib->offset[f] == DL_OFFSET_UNKNOWN)
			fprintf(out, "  %-44s not known: %s\n", lib->era->fields[f].name,
				f == FIELD_MESH_ID ? "meshes are numbered in the order first seen"
						   : "not read");
		else
			fprintf(out, "  %-44s offset %-4u %s\n", lib->era->fields[f].name,
				lib->offset[f], library__source_name(lib->source[f]));
	}
	fprintf(out, "\nvtables:\n  %-30s %s\n  %-30s %s\n", "Device",
		lib->device_vtable ? "found" : "missing", "distributed::MeshDevice",
		lib->mesh_vtable ? "found: a MeshDevice* is told from a Device* by its vptr"
				 : "missing: every device is taken for a chip");
	if (lib->warning_count)
		fprintf(out, "\nwarnings:\n");
	for (size_t i = 0; i < lib->warning_count; i++)
		fprintf(out, "  %s\n", lib->warnings[i]);
	if (lib->missing_required)
		fprintf(out,
			"\n%zu required probed function%s missing: devledger cannot trace this "
			"library\n",
			lib->missing_required, lib->missing_required == 1 ? " is" : "s are");
	else
		fprintf(out, "\nevery required probe resolved\n");
}

#define ADD(obj, key, value) json_object_object_add(obj, key, value)

static void print_json(const struct library *lib, FILE *out)
{
	struct json_object *root = json_object_new_object(), *list, *item;

	ADD(root, "schema", json_object_new_string(CHECK_SCHEMA));
	ADD(root, "library", json_object_new_string(lib->path));
	ADD(root, "profile", json_object_new_string(lib->era->name));
	ADD(root, "profile_why", json_object_new_string(lib->era_why));
	ADD(root, "dwarf", json_object_new_boolean(lib->has_dwarf));
	ADD(root, "layout_cache",
	    json_object_new_string(lib->layout_cache.use == LAYOUT_CACHE_HIT	  ? "hit"
				   : lib->layout_cache.use == LAYOUT_CACHE_STORED ? "stored"
										  : "off"));
	ADD(root, "resolved", json_object_new_boolean(lib->missing_required == 0));
	{
		const char *names[8];
		unsigned int traps = hot_path(lib, names, 8);

		item = json_object_new_object();
		list = json_object_new_array();
		for (unsigned int i = 0; i < traps; i++)
			json_object_array_add(list, json_object_new_string(names[i]));
		ADD(item, "traps_per_buffer", json_object_new_int((int)traps));
		ADD(item, "probes", list);
		ADD(item, "bank_deallocate_probed", json_object_new_boolean(!lib->releases_seen));
		ADD(item, "why", json_object_new_string(lib->releases_why));
		ADD(root, "hot_path", item);
	}
	list = json_object_new_array();
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		const struct elfsym *sym = &lib->syms[probes[i].symbol];
		const char *why = not_attached_why(lib, i);
		char reads[256];

		item = json_object_new_object();
		ADD(item, "program", json_object_new_string(probes[i].name));
		ADD(item, "symbol", json_object_new_string(sym->name));
		ADD(item, "return_probe", json_object_new_boolean(probes[i].retprobe));
		ADD(item, "found", json_object_new_boolean(sym->found));
		ADD(item, "attached", json_object_new_boolean(lib->attached[i]));
		ADD(item, "required",
		    json_object_new_boolean(!probe_symbol_missing_means[probes[i].symbol]));
		if (sym->found && why)
			ADD(item, "not_attached_why", json_object_new_string(why));
		if (sym->found) {
			ADD(item, "table", json_object_new_string(table_name(sym->table)));
			ADD(item, "file_offset", json_object_new_uint64(sym->offset));
			ADD(item, "size", json_object_new_uint64(sym->size));
		}
		if (lib->attached[i]) {
			describe(lib, i, reads, sizeof(reads));
			ADD(item, "site_offset", json_object_new_uint64(lib->sites[i].offset));
			ADD(item, "site_delta", json_object_new_uint64(lib->sites[i].delta));
			ADD(item, "site_why", json_object_new_string(lib->sites[i].why));
			ADD(item, "reads", json_object_new_string(reads));
		}
		json_object_array_add(list, item);
	}
	ADD(root, "probes", list);
	list = json_object_new_array();
	for (int c = 0; c < TRACKER_CALLS; c++) {
		item = json_object_new_object();
		ADD(item, "caller", json_object_new_string(tracker_calls[c].caller_name));
		ADD(item, "callee", json_object_new_string(tracker_calls[c].callee_name));
		ADD(item, "state", json_object_new_string(state_name(lib->calls[c])));
		if (lib->calls[c] == CALL_INLINED)
			ADD(item, "fallback", json_object_new_string(tracker_calls[c].fallback));
		json_object_array_add(list, item);
	}
	ADD(root, "tracker_calls", list);
	list = json_object_new_array();
	for (int f = 0; f < LAYOUT_FIELDS; f++) {
		if (!lib->field_used[f])
			continue;
		item = json_object_new_object();
		ADD(item, "name", json_object_new_string(lib->era->fields[f].name));
		ADD(item, "offset",
		    lib->offset[f] == DL_OFFSET_UNKNOWN ? NULL
							: json_object_new_uint64(lib->offset[f]));
		ADD(item, "source", json_object_new_string(library__source_name(lib->source[f])));
		json_object_array_add(list, item);
	}
	ADD(root, "fields", list);
	item = json_object_new_object();
	ADD(item, "device", json_object_new_boolean(lib->device_vtable != 0));
	ADD(item, "mesh_device", json_object_new_boolean(lib->mesh_vtable != 0));
	ADD(root, "vtables", item);
	list = json_object_new_array();
	for (size_t i = 0; i < lib->warning_count; i++)
		json_object_array_add(list, json_object_new_string(lib->warnings[i]));
	ADD(root, "warnings", list);
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

int check__print(const struct library *library, bool json, FILE *out)
{
	if (json)
		print_json(library, out);
	else
		print_text(library, out);
	return library->missing_required ? 1 : 0;
}
