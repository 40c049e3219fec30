/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A side of the comparison is a summary's figures added up per device and
 * type over its processes, or one snapshot of it. For a snapshot, what is
 * live at that instant stands for what was leaked: between two snapshots of
 * one process, memory that stayed is what accumulated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "diff.h"
#include "summary.h"

#define SCHEMA "devledger.summary.v1"

struct cell {
	char kind[8]; /* "chip", "mesh" */
	int64_t device_id;
	char type[16];
	uint64_t leaks, leaked_bytes, untracked_bytes, peak_bytes, live_bytes;
};

/* A leak site: where the summary has stacks, the allocating stack; else device, type, size. */
struct site {
	char *key;
	uint64_t count, bytes;
};

struct side {
	const char *name;
	bool snapshot;
	struct cell *cells;
	size_t cell_count;
	struct site *sites;
	size_t site_count;
	uint64_t leaked_bytes;
};

static void side_free(struct side *s)
{
	for (size_t i = 0; i < s->site_count; i++)
		free(s->sites[i].key);
	free(s->cells);
	free(s->sites);
}

static struct cell *cell_for(struct side *s, const char *kind, int64_t id, const char *type)
{
	struct cell *c;

	for (size_t i = 0; i < s->cell_count; i++) {
		c = &s->cells[i];
		if (c->device_id == id && !strcmp(c->kind, kind) && !strcmp(c->type, type))
			return c;
	}
	c = realloc(s->cells, (s->cell_count + 1) * sizeof(*c));
	if (!c)
		return NULL;
	s->cells = c;
	c = &s->cells[s->cell_count++];
	memset(c, 0, sizeof(*c));
	snprintf(c->kind, sizeof(c->kind), "%s", kind);
	snprintf(c->type, sizeof(c->type), "%s", type);
	c->device_id = id;
	return c;
}

static int add_site(struct side *s, const char *key, uint64_t bytes)
{
	struct site *site;

	for (size_t i = 0; i < s->site_count; i++) {
		if (!strcmp(s->sites[i].key, key)) {
			s->sites[i].count++;
			s->sites[i].bytes += bytes;
			return 0;
		}
	}
	site = realloc(s->sites, (s->site_count + 1) * sizeof(*site));
	if (!site)
		return -ENOMEM;
	s->sites = site;
	site = &s->sites[s->site_count];
	site->key = strdup(key);
	if (!site->key)
		return -ENOMEM;
	site->count = 1;
	site->bytes = bytes;
	s->site_count++;
	return 0;
}

static const char *get_string(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_u64(struct json_object *obj, const char *key, uint64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_uint64(v);
	return true;
}

static bool get_i64(struct json_object *obj, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static struct json_object *get_array(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

/* The frames of the process's stack with this id (its "stacks" list), or NULL. */
static struct json_object *stack_frames(struct json_object *proc, int64_t id)
{
	struct json_object *stacks = get_array(proc, "stacks");

	for (size_t i = 0; stacks && i < json_object_array_length(stacks); i++) {
		struct json_object *stack = json_object_array_get_idx(stacks, i);
		int64_t sid;

		if (get_i64(stack, "id", &sid) && sid == id)
			return get_array(stack, "frames");
	}
	return NULL;
}

/*
 * The leak's site: where the summary has stacks, its allocating stack's
 * functions (module and offset where a frame has none: addresses differ
 * from run to run); else where and how big it was.
 */
static void site_key(struct json_object *proc, struct json_object *leak, const char *kind,
		     int64_t id, const char *type, uint64_t size, char *key, size_t len)
{
	struct json_object *frames = NULL;
	int64_t stack;
	size_t at;

	at = (size_t)snprintf(key, len, "%s %" PRId64 " %s ", kind, id, type);
	if (get_i64(leak, "stack", &stack))
		frames = stack_frames(proc, stack);
	if (frames && json_object_array_length(frames)) {
		for (size_t i = 0; i < json_object_array_length(frames) && at < len; i++) {
			struct json_object *f = json_object_array_get_idx(frames, i);
			const char *function = get_string(f, "function"), *module = get_string(f, "module");
			int64_t offset = 0, address = 0;

			get_i64(f, "offset", &offset);
			get_i64(f, "address", &address);
			if (function)
				at += (size_t)snprintf(key + at, len - at, "%s%s", i ? " < " : "", function);
			else if (module)
				at += (size_t)snprintf(key + at, len - at, "%s%s+%" PRId64, i ? " < " : "",
						       module, offset);
			else /* in no known module: only its address tells it */
				at += (size_t)snprintf(key + at, len - at, "%s0x%" PRIx64, i ? " < " : "",
						       (uint64_t)address);
		}
		return;
	}
	snprintf(key + at, len - at, "%" PRIu64 " bytes each", size);
}

static int bad(const char *spec, const char *what)
{
	fprintf(stderr, "devledger: diff: %s: %s\n", spec, what);
	return -EINVAL;
}

/* Every process's devices and leaks, added up. */
static int read_summary(struct side *s, struct json_object *root, const char *spec)
{
	struct json_object *procs = get_array(root, "processes");

	if (!procs)
		return bad(spec, "no \"processes\" list: not a devledger summary");
	for (size_t p = 0; p < json_object_array_length(procs); p++) {
		struct json_object *proc = json_object_array_get_idx(procs, p);
		struct json_object *devices = get_array(proc, "devices"),
				   *leaks = get_array(proc, "leaks");

		for (size_t d = 0; devices && d < json_object_array_length(devices); d++) {
			struct json_object *dev = json_object_array_get_idx(devices, d), *memory;
			const char *kind = get_string(dev, "kind");
			int64_t id;

			if (!kind || !get_i64(dev, "device_id", &id) ||
			    !json_object_object_get_ex(dev, "memory", &memory))
				return bad(spec, "a device without kind, device_id or memory");
			json_object_object_foreach(memory, type, stats)
			{
				struct cell *c = cell_for(s, kind, id, type);
				uint64_t v;

				if (!c)
					return -ENOMEM;
				if (get_u64(stats, "leaks", &v))
					c->leaks += v;
				if (get_u64(stats, "leaked_bytes", &v))
					c->leaked_bytes += v;
				if (get_u64(stats, "untracked_bytes", &v))
					c->untracked_bytes += v;
				if (get_u64(stats, "peak_bytes", &v))
					c->peak_bytes += v;
				if (get_u64(stats, "live_bytes", &v))
					c->live_bytes += v;
				if (get_u64(stats, "leaked_bytes", &v))
					s->leaked_bytes += v;
			}
		}
		for (size_t i = 0; leaks && i < json_object_array_length(leaks); i++) {
			struct json_object *leak = json_object_array_get_idx(leaks, i);
			const char *kind = get_string(leak, "device_kind"),
				   *type = get_string(leak, "type");
			uint64_t size = 0;
			int64_t id;
			char key[1024];

			if (!kind || !type || !get_i64(leak, "device_id", &id) ||
			    !get_u64(leak, "size", &size))
				return bad(spec,
					   "a leak without device_kind, device_id, type or size");
			site_key(proc, leak, kind, id, type, size, key, sizeof(key));
			if (add_site(s, key, size))
				return -ENOMEM;
		}
	}
	return 0;
}

/* One snapshot: what was live then stands for what was left. */
static int read_snapshot(struct side *s, struct json_object *root, const char *spec,
			 const char *label)
{
	struct json_object *snaps = get_array(root, "snapshots"), *snap = NULL, *series;

	for (size_t i = 0; snaps && i < json_object_array_length(snaps) && !snap; i++) {
		const char *l = get_string(json_object_array_get_idx(snaps, i), "label");

		if (l && !strcmp(l, label))
			snap = json_object_array_get_idx(snaps, i);
	}
	if (!snap)
		return bad(spec, "no snapshot with that label (see the summary's \"snapshots\")");
	series = get_array(snap, "series");
	for (size_t i = 0; series && i < json_object_array_length(series); i++) {
		struct json_object *e = json_object_array_get_idx(series, i);
		const char *kind = get_string(e, "device_kind"), *type = get_string(e, "type");
		uint64_t live = 0, count = 0;
		struct cell *c;
		int64_t id;

		if (!kind || !type || !get_i64(e, "device_id", &id) ||
		    !get_u64(e, "live_bytes", &live) || !get_u64(e, "live_count", &count))
			return bad(spec, "a snapshot entry without device, type or live bytes");
		c = cell_for(s, kind, id, type);
		if (!c)
			return -ENOMEM;
		c->live_bytes += live;
		c->leaked_bytes += live;
		c->leaks += count;
		s->leaked_bytes += live;
	}
	return 0;
}

static int side_read(struct side *s, const char *spec)
{
	const char *hash = strrchr(spec, '#');
	char path[4096];
	struct json_object *root;
	const char *schema;
	int err;

	memset(s, 0, sizeof(*s));
	s->name = spec;
	snprintf(path, sizeof(path), "%.*s", hash ? (int)(hash - spec) : (int)strlen(spec), spec);
	root = json_object_from_file(path);
	if (!root) {
		FILE *f = fopen(path, "r");

		if (f)
			fclose(f);
		return bad(spec, f ? "not JSON" : "cannot read it");
	}
	schema = get_string(root, "schema");
	if (!schema || strcmp(schema, SCHEMA)) {
		json_object_put(root);
		return bad(spec, "not a devledger summary (schema " SCHEMA ")");
	}
	s->snapshot = hash != NULL;
	err = hash ? read_snapshot(s, root, spec, hash + 1) : read_summary(s, root, spec);
	json_object_put(root);
	return err;
}

static const struct cell *find_cell(const struct side *s, const struct cell *like)
{
	for (size_t i = 0; i < s->cell_count; i++) {
		const struct cell *c = &s->cells[i];

		if (c->device_id == like->device_id && !strcmp(c->kind, like->kind) &&
		    !strcmp(c->type, like->type))
			return c;
	}
	return NULL;
}

/* "36.0 KiB -> 72.0 KiB (+36.0 KiB)", or just "36.0 KiB" when the same. */
static void change(FILE *out, const char *what, uint64_t a, uint64_t b)
{
	char ta[SUMMARY_SIZE_TEXT], tb[SUMMARY_SIZE_TEXT], td[SUMMARY_SIZE_TEXT];

	summary__size_text(a, ta);
	summary__size_text(b, tb);
	summary__size_text(a > b ? a - b : b - a, td);
	if (a == b)
		fprintf(out, "%s %s", what, ta);
	else
		fprintf(out, "%s %s -> %s (%c%s)", what, ta, tb, b > a ? '+' : '-', td);
}

static void print_cells(FILE *out, const struct side *old, const struct side *new)
{
	static const struct cell none;

	fprintf(out, "per device and type (OLD -> NEW):\n");
	for (int pass = 0; pass < 2; pass++) {
		const struct side *s = pass ? old : new;

		for (size_t i = 0; i < s->cell_count; i++) {
			const struct cell *c = &s->cells[i];
			const struct cell *o = pass ? c : find_cell(old, c);
			const struct cell *n = pass ? find_cell(new, c) : c;

			/* the second pass: what only OLD had */
			if (pass && n)
				continue;
			o = o ? o : &none;
			n = n ? n : &none;
			fprintf(out, "  %s %" PRId64 " %s:",
				!strcmp(c->kind, "mesh") ? "mesh" : "device", c->device_id,
				c->type);
			fprintf(out, " %s %" PRIu64 " -> %" PRIu64 ",",
				old->snapshot ? "live buffers" : "leaks", o->leaks, n->leaks);
			change(out, old->snapshot ? " live" : " leaked", o->leaked_bytes,
			       n->leaked_bytes);
			if (!old->snapshot) {
				change(out, ", untracked", o->untracked_bytes, n->untracked_bytes);
				change(out, ", peak", o->peak_bytes, n->peak_bytes);
				change(out, ", live", o->live_bytes, n->live_bytes);
			}
			fputc('\n', out);
		}
	}
}

static const struct site *find_site(const struct side *s, const char *key)
{
	for (size_t i = 0; i < s->site_count; i++)
		if (!strcmp(s->sites[i].key, key))
			return &s->sites[i];
	return NULL;
}

/* Leak sites only one side has, or that leak more often in NEW. */
static void print_sites(FILE *out, const struct side *old, const struct side *new)
{
	size_t shown = 0;

	for (size_t i = 0; i < new->site_count; i++) {
		const struct site *n = &new->sites[i], *o = find_site(old, n->key);
		char bytes[SUMMARY_SIZE_TEXT];

		if (o && o->count >= n->count)
			continue;
		if (!shown++)
			fprintf(out, "leak sites new or more often in NEW:\n");
		summary__size_text(n->bytes, bytes);
		fprintf(out, "  %s: %" PRIu64 " (was %" PRIu64 "), %s\n", n->key, n->count,
			o ? o->count : 0, bytes);
	}
	shown = 0;
	for (size_t i = 0; i < old->site_count; i++) {
		const struct site *o = &old->sites[i];

		if (find_site(new, o->key))
			continue;
		if (!shown++)
			fprintf(out, "leak sites gone in NEW:\n");
		fprintf(out, "  %s: %" PRIu64 "\n", o->key, o->count);
	}
}

int diff__run(const char *old_spec, const char *new_spec, uint64_t allow_bytes, FILE *out)
{
	struct side old, new;
	char more[SUMMARY_SIZE_TEXT], allowed[SUMMARY_SIZE_TEXT];
	int err, code;

	err = side_read(&old, old_spec);
	if (!err)
		err = side_read(&new, new_spec);
	else
		memset(&new, 0, sizeof(new));
	if (!err && old.snapshot != new.snapshot)
		err = bad(new_spec, "compare two summaries or two snapshots, not one of each");
	if (err) {
		if (err == -ENOMEM)
			fprintf(stderr, "devledger: diff: %s\n", strerror(ENOMEM));
		side_free(&old);
		side_free(&new);
		return DIFF_EXIT_BAD_INPUT;
	}
	fprintf(out, "devledger diff: OLD %s, NEW %s\n", old_spec, new_spec);
	print_cells(out, &old, &new);
	print_sites(out, &old, &new);
	code = new.leaked_bytes > old.leaked_bytes &&new.leaked_bytes - old.leaked_bytes >
			       allow_bytes
		       ? DIFF_EXIT_MORE_LEAKS
		       : 0;
	summary__size_text(new.leaked_bytes > old.leaked_bytes
				   ? new.leaked_bytes - old.leaked_bytes
				   : old.leaked_bytes - new.leaked_bytes,
			   more);
	summary__size_text(allow_bytes, allowed);
	if (code)
		fprintf(out, "devledger diff: NEW %s %s more than OLD (allowed %s)\n",
			old.snapshot ? "holds" : "leaks", more, allowed);
	else if (new.leaked_bytes > old.leaked_bytes)
		fprintf(out, "devledger diff: NEW %s %s more than OLD, within the %s allowed\n",
			old.snapshot ? "holds" : "leaks", more, allowed);
	else
		fprintf(out, "devledger diff: NEW %s no more than OLD\n",
			old.snapshot ? "holds" : "leaks");
	side_free(&old);
	side_free(&new);
	return code;
}
