/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a session found: the JSON summary (devledger.summary.v1) for programs,
 * the end-of-session report and the periodic live table for people. Everything
 * here only reads the ledger.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "chipview.h"
#include "jsonout.h"
#include "ledger.h"
#include "summary.h"
#include "timeline.h"
#include "timeline_json.h"
#include "unwind.h"

#define SUMMARY_SCHEMA "devledger.summary.v1"
#define JSON_FLAGS     (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)
#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))

/* How many leaked allocations the report lists one by one per process. */
#define REPORT_LEAKS_LISTED 10

/*
 * Order of the memory types in the JSON and the tables: tt-metal's BufferType
 * order, then program-scope L1 (CB, DFB).
 */
static const unsigned int mem_type_order[] = {
	DL_MEM_DRAM,  DL_MEM_L1, DL_MEM_SYSTEM_MEMORY, DL_MEM_L1_SMALL,
	DL_MEM_TRACE, DL_MEM_CB, DL_MEM_DFB,
};

static const char *mem_type_name(unsigned int mem_type)
{
	const char *name = ledger_mem_type_name(mem_type);

	return name ? name : "UNKNOWN";
}

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/*
 * Length of the well-formed UTF-8 sequence starting at s (len bytes left), or
 * 0 if none does. Follows RFC 3629's table of well-formed sequences, so
 * overlong forms, UTF-16 surrogates, code points above U+10FFFF and truncated
 * sequences are all rejected.
 */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
	unsigned char second_min = 0x80, second_max = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			second_min = 0xa0; /* below: overlong */
		else if (s[0] == 0xed)
			second_max = 0x9f; /* above: surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			second_min = 0x90; /* below: overlong */
		else if (s[0] == 0xf4)
			second_max = 0x8f; /* above: beyond U+10FFFF */
	} else {
		return 0; /* continuation byte, C0/C1 (always overlong) or F5-FF */
	}
	if (len < need || s[1] < second_min || s[1] > second_max)
		return 0;
	for (i = 2; i < need; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return need;
}

/* Room for a comm whose every byte became U+FFFD (3 bytes each). */
#define COMM_UTF8_SIZE (DL_COMM_LEN * 3 + 1)

/*
 * A comm is whatever bytes a process wrote with prctl(PR_SET_NAME), but JSON
 * text must be UTF-8: each byte that does not begin a well-formed sequence
 * becomes U+FFFD. Control bytes stay; json-c escapes them.
 */
static void bytes_to_utf8(const char *bytes, size_t len, char *out /* len * 3 + 1 */)
{
	const unsigned char *s = (const unsigned char *)bytes;
	size_t i = 0, o = 0, n;

	while (i < len) {
		n = utf8_sequence_length(s + i, len - i);
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
}

static void comm_to_utf8(const char *comm, char out[COMM_UTF8_SIZE])
{
	bytes_to_utf8(comm, strnlen(comm, DL_COMM_LEN), out);
}

/* Room for a comm whose every byte became \xNN. */
#define COMM_PRINT_SIZE (DL_COMM_LEN * 4 + 1)

/* For a terminal: anything but printable ASCII (and the backslash itself) as \xNN. */
static const char *comm_printable(const char *comm, char out[COMM_PRINT_SIZE])
{
	size_t len = strnlen(comm, DL_COMM_LEN), o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)comm[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, COMM_PRINT_SIZE - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/*
 * "512 B", "36.0 KiB", "1.5 MiB". Returned by value so several can appear in
 * one printf (the temporary lives until the end of the full expression).
 */
struct size_text {
	char text[24];
};

static struct size_text human_size(uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	struct size_text out;
	double value = (double)bytes / 1024.0;
	size_t unit = 0;

	if (bytes < 1024) {
		snprintf(out.text, sizeof(out.text), "%" PRIu64 " B", bytes);
		return out;
	}
	/* move up before "%.1f" would round to 1024.0 */
	while (value >= 1023.95 && unit + 1 < ARRAY_SIZE(units)) {
		value /= 1024.0;
		unit++;
	}
	snprintf(out.text, sizeof(out.text), "%.1f %s", value, units[unit]);
	return out;
}

void summary__size_text(uint64_t bytes, char out[SUMMARY_SIZE_TEXT])
{
	snprintf(out, SUMMARY_SIZE_TEXT, "%s", human_size(bytes).text);
}

/* Seconds from start_ns to ts_ns, rounded to milliseconds, 0 for what predates the start. */
static uint64_t millis_since(uint64_t ts_ns, uint64_t start_ns)
{
	uint64_t ns = ts_ns > start_ns ? ts_ns - start_ns : 0;

	return ns / 1000000 + (ns % 1000000 >= 500000);
}

static struct size_text seconds_text(uint64_t millis)
{
	struct size_text out;

	snprintf(out.text, sizeof(out.text), "%" PRIu64 ".%03" PRIu64, millis / 1000,
		 millis % 1000);
	return out;
}

static double session_duration(const struct summary_session *session)
{
	double d = session->duration_s;

	return isfinite(d) && d > 0 ? d : 0;
}

/* The session's end on the ledger's clock: what ends the series still open. */
static uint64_t session_end_ns(const struct summary_session *session)
{
	return session->start_ns + (uint64_t)(session_duration(session) * 1e9);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * Building the JSON. A child is attached to its parent as soon as it exists,
 * so putting the root frees everything; json-c can only fail to allocate, so
 * every helper returns 0 or -ENOMEM and callers chain them with ||.
 */

/* keys are string literals or ledger_mem_type_name()'s static names */
static int json_add(struct json_object *obj, const char *key, struct json_object *value)
{
	return jsonout__add(obj, key, value);
}

static int json_append(struct json_object *array, struct json_object *value)
{
	return jsonout__append(array, value);
}

static struct json_object *json_add_new(struct json_object *obj, const char *key,
					struct json_object *child)
{
	return json_add(obj, key, child) ? NULL : child;
}

static struct json_object *json_append_new(struct json_object *array, struct json_object *child)
{
	return json_append(array, child) ? NULL : child;
}

static int json_add_u64(struct json_object *obj, const char *key, uint64_t value)
{
	return json_add(obj, key, json_object_new_uint64(value));
}

static int json_add_i64(struct json_object *obj, const char *key, int64_t value)
{
	return json_add(obj, key, json_object_new_int64(value));
}

static int json_add_string(struct json_object *obj, const char *key, const char *value)
{
	return json_add(obj, key, json_object_new_string(value));
}

/* A number written with exactly three decimals, as the schema promises. */
static int json_add_millis(struct json_object *obj, const char *key, uint64_t millis)
{
	double seconds = (double)millis / 1000.0;

	return json_add(obj, key, json_object_new_double_s(seconds, seconds_text(millis).text));
}

static int json_add_stats(struct json_object *memory, const char *key,
			  const struct ledger_stats *stats, bool with_peak)
{
	const struct {
		const char *key;
		uint64_t value;
	} fields[] = {
		{ "live_bytes", stats->live_bytes },
		{ "peak_bytes", stats->peak_bytes },
		{ "live_count", stats->live_count },
		{ "allocs", stats->allocs },
		{ "frees", stats->frees },
		{ "untracked_frees", stats->untracked_frees },
		{ "untracked_bytes", stats->untracked_bytes },
		{ "leaks", stats->leaks },
		{ "leaked_bytes", stats->leaked_bytes },
	};
	struct json_object *obj = json_add_new(memory, key, json_object_new_object());

	if (!obj)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (!with_peak && !strcmp(fields[i].key, "peak_bytes"))
			continue;
		if (json_add_u64(obj, fields[i].key, fields[i].value))
			return -ENOMEM;
	}
	return 0;
}

/* The memory object of a device or chip view: every type it used, in the report's order. */
static int json_add_memory(struct json_object *parent, uint32_t active_types,
			   const struct ledger_stats *mem, bool with_peak)
{
	struct json_object *memory = json_add_new(parent, "memory", json_object_new_object());

	if (!memory)
		return -ENOMEM;
	for (size_t t = 0; t < ARRAY_SIZE(mem_type_order); t++) {
		unsigned int type = mem_type_order[t];

		if ((active_types & (1u << type)) &&
		    json_add_stats(memory, mem_type_name(type), &mem[type], with_peak))
			return -ENOMEM;
	}
	return 0;
}

/* The chips of the process's meshes, each with its meshes' buffers on it (chipview.h). */
static int json_add_chips(struct json_object *proc, const struct ledger_process *p)
{
	struct chip_view *views = calloc(p->mesh_chip_count ? p->mesh_chip_count : 1,
					 sizeof(*views));
	struct json_object *chips = json_add_new(proc, "chips", json_object_new_array());
	size_t count;
	int err = 0;

	if (!views || !chips) {
		free(views);
		return -ENOMEM;
	}
	count = chipview__build(p, views);
	for (size_t i = 0; i < count && !err; i++) {
		struct json_object *chip = json_append_new(chips, json_object_new_object());
		struct json_object *meshes;

		err = -ENOMEM;
		if (!chip || json_add_i64(chip, "device_id", views[i].chip_id))
			break;
		meshes = json_add_new(chip, "meshes", json_object_new_array());
		for (size_t m = 0; meshes && m < views[i].mesh_count; m++)
			if (json_append(meshes, json_object_new_int64(views[i].meshes[m])))
				meshes = NULL;
		if (meshes)
			err = json_add_memory(chip, views[i].active_types, views[i].mem, false);
	}
	free(views);
	return err;
}

static int json_add_devices(struct json_object *proc, const struct ledger_process *p)
{
	struct json_object *devices, *dev;

	devices = json_add_new(proc, "devices", json_object_new_array());
	if (!devices)
		return -ENOMEM;
	for (size_t d = 0; d < p->device_count; d++) {
		const struct ledger_device *device = &p->devices[d];

		dev = json_append_new(devices, json_object_new_object());
		if (!dev || json_add_i64(dev, "device_id", device->device_id) ||
		    json_add_string(dev, "kind", ledger_device_kind_name(device->kind)) ||
		    json_add_memory(dev, device->active_types, device->mem, true))
			return -ENOMEM;
	}
	return 0;
}

/* What each list's entries carry besides device_id, type and address. */
enum record_fields {
	RECORD_UNTRACKED, /* size, reason */
	RECORD_ALLOCATED, /* size, allocated_at_s (leaks, live) */
	RECORD_UNMATCHED, /* reason */
};

static int json_add_record(struct json_object *array, const struct ledger_record *r,
			   enum record_fields fields, uint64_t start_ns)
{
	struct json_object *item = json_append_new(array, json_object_new_object());

	if (!item || json_add_i64(item, "device_id", r->device_id) ||
	    json_add_string(item, "device_kind", ledger_device_kind_name(r->device_kind)) ||
	    json_add_string(item, "type", mem_type_name(r->mem_type)) ||
	    json_add_u64(item, "address", r->address) ||
	    (r->stack && json_add_u64(item, "stack", r->stack)) ||
	    (r->release_stack && json_add_u64(item, "release_stack", r->release_stack)))
		return -ENOMEM;
	switch (fields) {
	case RECORD_UNTRACKED:
		if (json_add_u64(item, "size", r->size) ||
		    json_add_string(item, "reason", ledger_reason_name(r->reason)))
			return -ENOMEM;
		break;
	case RECORD_ALLOCATED:
		if (json_add_u64(item, "size", r->size) ||
		    json_add_millis(item, "allocated_at_s", millis_since(r->alloc_ts_ns, start_ns)))
			return -ENOMEM;
		break;
	case RECORD_UNMATCHED:
		if (json_add_string(item, "reason", ledger_reason_name(r->reason)))
			return -ENOMEM;
		break;
	}
	return 0;
}

static int json_add_records(struct json_object *proc, const char *key,
			    const struct ledger_list *list, enum record_fields fields,
			    uint64_t start_ns)
{
	struct json_object *array = json_add_new(proc, key, json_object_new_array());

	if (!array)
		return -ENOMEM;
	for (size_t i = 0; i < list->count; i++) {
		if (json_add_record(array, &list->items[i], fields, start_ns))
			return -ENOMEM;
	}
	return 0;
}

static int json_add_exit(struct json_object *proc, const struct ledger_process *p)
{
	struct json_object *status;

	if (!p->exited) {
		/* null: the process was still running when the session ended */
		if (json_object_object_add_ex(proc, "exit", NULL, JSON_C_OBJECT_KEY_IS_CONSTANT))
			return -ENOMEM;
		return 0;
	}
	status = json_add_new(proc, "exit", json_object_new_object());
	if (!status)
		return -ENOMEM;
	if (WIFSIGNALED(p->exit_status))
		return json_add_i64(status, "signal", WTERMSIG(p->exit_status));
	return json_add_i64(status, "code", WEXITSTATUS(p->exit_status));
}

/* An ISO-8601 UTC time, or "" when it cannot be written. */
static void iso_time(time_t t, char out[32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		out[0] = '\0';
}

/* Who the process was: argv (as UTF-8), parent, start; null where devledger could not tell. */
static int json_add_identity(struct json_object *proc, const struct ledger_identity *id)
{
	const unsigned int opts = JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT;
	struct json_object *argv;
	char started[32] = "";

	if (!id->known || !id->cmdline_len) {
		if (json_object_object_add_ex(proc, "cmdline", NULL, opts))
			return -ENOMEM;
	} else {
		argv = json_add_new(proc, "cmdline", json_object_new_array());
		if (!argv)
			return -ENOMEM;
		for (size_t at = 0; at < id->cmdline_len;) {
			size_t n = strnlen(id->cmdline + at, id->cmdline_len - at);
			char *text = malloc(n * 3 + 1);
			int err;

			if (!text)
				return -ENOMEM;
			bytes_to_utf8(id->cmdline + at, n, text);
			err = json_append(argv, json_object_new_string(text));
			free(text);
			if (err)
				return -ENOMEM;
			at += n + 1;
		}
	}
	if (id->known && id->started_at_s > 0)
		iso_time((time_t)id->started_at_s, started);
	if ((id->known && id->ppid >= 0 ? json_add_i64(proc, "ppid", id->ppid)
					: json_object_object_add_ex(proc, "ppid", NULL, opts)) ||
	    (started[0] ? json_add_string(proc, "started_at", started)
			: json_object_object_add_ex(proc, "started_at", NULL, opts)))
		return -ENOMEM;
	return 0;
}


/* ---- call stacks and allocating sites ---- */

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Every stack a process's records name: its sites' and its untracked frees' releases; sorted. */
static uint32_t *process_stacks(const struct ledger_process *p, size_t *count)
{
	size_t n = 0, kept = 0;
	uint32_t *ids = malloc((p->site_count + p->untracked_frees.count + 1) * sizeof(*ids));

	if (!ids)
		return NULL;
	for (size_t i = 0; i < p->site_count; i++)
		ids[n++] = p->sites[i].stack;
	for (size_t i = 0; i < p->untracked_frees.count; i++)
		if (p->untracked_frees.items[i].release_stack)
			ids[n++] = p->untracked_frees.items[i].release_stack;
	qsort(ids, n, sizeof(*ids), compare_u32);
	for (size_t i = 0; i < n; i++)
		if (!kept || ids[kept - 1] != ids[i])
			ids[kept++] = ids[i];
	*count = kept;
	return ids;
}

static int json_add_frame(struct json_object *frames, const struct unwind_frame *f)
{
	struct json_object *frame = json_append_new(frames, json_object_new_object());

	if (!frame || json_add_u64(frame, "address", f->address))
		return -ENOMEM;
	/* Keys absent where unknown. */
	if ((f->module && json_add_string(frame, "module", f->module)) ||
	    (f->function && (json_add_string(frame, "function", f->function) ||
			     json_add_u64(frame, "offset", f->offset))) ||
	    (f->file && (json_add_string(frame, "file", f->file) ||
			 json_add_u64(frame, "line", f->line))))
		return -ENOMEM;
	return 0;
}

static int json_add_stacks(struct json_object *proc, const struct ledger_process *p,
			   struct unwind *unwind)
{
	struct json_object *stacks = json_add_new(proc, "stacks", json_object_new_array());
	size_t count = 0;
	uint32_t *ids;
	int err = 0;

	if (!stacks || !(ids = process_stacks(p, &count)))
		return -ENOMEM;
	for (size_t i = 0; i < count && !err; i++) {
		const struct unwind_frame *frames;
		struct json_object *stack, *array;
		size_t n;

		if (unwind__frames(unwind, ids[i], &frames, &n))
			continue;
		stack = json_append_new(stacks, json_object_new_object());
		if (!stack || json_add_u64(stack, "id", ids[i]) ||
		    !(array = json_add_new(stack, "frames", json_object_new_array()))) {
			err = -ENOMEM;
			break;
		}
		for (size_t f = 0; f < n && !err; f++)
			err = json_add_frame(array, &frames[f]);
	}
	free(ids);
	return err;
}

/* Sites by leaked bytes, then untracked bytes, then allocations: the worst first. */
static int compare_sites(const void *a, const void *b)
{
	const struct ledger_site *x = *(const struct ledger_site *const *)a,
				 *y = *(const struct ledger_site *const *)b;

	if (x->leaked_bytes != y->leaked_bytes)
		return x->leaked_bytes > y->leaked_bytes ? -1 : 1;
	if (x->untracked_bytes != y->untracked_bytes)
		return x->untracked_bytes > y->untracked_bytes ? -1 : 1;
	if (x->allocs != y->allocs)
		return x->allocs > y->allocs ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static const struct ledger_site **sorted_sites(const struct ledger_process *p)
{
	const struct ledger_site **sites = malloc((p->site_count + 1) * sizeof(*sites));

	if (!sites)
		return NULL;
	for (size_t i = 0; i < p->site_count; i++)
		sites[i] = &p->sites[i];
	qsort(sites, p->site_count, sizeof(*sites), compare_sites);
	return sites;
}

static int json_add_sites(struct json_object *proc, const struct ledger_process *p)
{
	struct json_object *array = json_add_new(proc, "sites", json_object_new_array());
	const struct ledger_site **sites;
	int err = 0;

	if (!array || !(sites = sorted_sites(p)))
		return -ENOMEM;
	for (size_t i = 0; i < p->site_count && !err; i++) {
		const struct ledger_site *s = sites[i];
		struct json_object *site = json_append_new(array, json_object_new_object());

		if (!site || json_add_u64(site, "stack", s->stack) ||
		    json_add_u64(site, "allocs", s->allocs) ||
		    json_add_u64(site, "peak_bytes", s->peak_bytes) ||
		    json_add_u64(site, "live_bytes", s->live_bytes) ||
		    json_add_u64(site, "leaks", s->leaks) ||
		    json_add_u64(site, "leaked_bytes", s->leaked_bytes) ||
		    json_add_u64(site, "untracked_frees", s->untracked_frees) ||
		    json_add_u64(site, "untracked_bytes", s->untracked_bytes))
			err = -ENOMEM;
	}
	free(sites);
	return err;
}

/* What the stacks cost and what was lost of them, for the session object. */
static int json_add_stack_session(struct json_object *session, const struct summary_session *s)
{
	struct json_object *stacks;
	struct unwind_stats st;

	if (!s->stacks)
		return json_object_object_add_ex(session, "stacks", NULL,
						 JSON_C_OBJECT_KEY_IS_CONSTANT)
			       ? -ENOMEM
			       : 0;
	unwind__stats(s->stacks, &st);
	stacks = json_add_new(session, "stacks", json_object_new_object());
	if (!stacks || json_add_u64(stacks, "stack_bytes", s->stack_bytes) ||
	    json_add_u64(stacks, "samples", st.samples) ||
	    json_add_u64(stacks, "lost", s->stacks_lost) ||
	    json_add_u64(stacks, "unique", st.unique_stacks) ||
	    json_add_u64(stacks, "known_stacks", st.stack_hits) ||
	    json_add_u64(stacks, "frames", st.frames) ||
	    json_add_u64(stacks, "cached_frames", st.rule_hits) ||
	    json_add_u64(stacks, "truncated", st.truncated) ||
	    json_add_u64(stacks, "unmapped", st.unmapped) ||
	    json_add_u64(stacks, "unwind_ns", st.unwind_ns))
		return -ENOMEM;
	return 0;
}

static int json_add_process(struct json_object *processes, const struct ledger_process *p,
			    uint64_t start_ns, struct unwind *stacks)
{
	/* the schema promises an empty live list for processes that exited */
	static const struct ledger_list none;
	struct json_object *proc;
	char comm[COMM_UTF8_SIZE];

	proc = json_append_new(processes, json_object_new_object());
	if (!proc)
		return -ENOMEM;
	comm_to_utf8(p->comm, comm);
	if (json_add_i64(proc, "pid", p->pid) || json_add_string(proc, "comm", comm) ||
	    json_add_identity(proc, &p->identity) || json_add_exit(proc, p) ||
	    json_add_u64(proc, "events", p->events) ||
	    json_add_u64(proc, "hooked_allocations", p->hooked_ignored) ||
	    json_add_u64(proc, "unattributed_frees", p->unattributed_frees) ||
	    json_add_u64(proc, "dropped_allocations", p->dropped_allocations) ||
	    json_add_devices(proc, p) || json_add_chips(proc, p) ||
	    json_add_records(proc, "untracked_frees", &p->untracked_frees, RECORD_UNTRACKED,
			     start_ns) ||
	    json_add_records(proc, "leaks", &p->leaks, RECORD_ALLOCATED, start_ns) ||
	    json_add_records(proc, "unmatched_frees", &p->unmatched_frees, RECORD_UNMATCHED,
			     start_ns) ||
	    json_add_records(proc, "live", p->exited ? &none : &p->live, RECORD_ALLOCATED,
			     start_ns) ||
	    (stacks && (json_add_stacks(proc, p, stacks) || json_add_sites(proc, p))))
		return -ENOMEM;
	return 0;
}

/* rejected, dropped: what the ledger could not count or keep, for "exact". */
static int json_add_session(struct json_object *root, uint64_t rejected, uint64_t dropped,
			    const struct summary_session *s)
{
	struct json_object *session, *libraries, *warnings;
	char started[32], duration[32], cpu[32];
	struct tm tm;

	if (!gmtime_r(&s->started_at.tv_sec, &tm) ||
	    !strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EOVERFLOW;
	snprintf(duration, sizeof(duration), "%.3f", session_duration(s));
	snprintf(cpu, sizeof(cpu), "%.3f", s->cpu_s);

	session = json_add_new(root, "session", json_object_new_object());
	if (!session || json_add_string(session, "mode", s->mode ? s->mode : "unknown"))
		return -ENOMEM;
	libraries = json_add_new(session, "libraries", json_object_new_array());
	if (!libraries)
		return -ENOMEM;
	for (size_t i = 0; i < s->library_count; i++) {
		const struct summary_library *lib = &s->libraries[i];
		struct json_object *item = json_object_new_object(), *pids;

		if (json_append(libraries, item) || json_add_string(item, "path", lib->path) ||
		    json_add(item, "probed", json_object_new_boolean(lib->probed)) ||
		    (lib->profile ? json_add_string(item, "profile", lib->profile)
				  : json_object_object_add_ex(item, "profile", NULL,
							      JSON_C_OBJECT_KEY_IS_CONSTANT)))
			return -ENOMEM;
		pids = json_add_new(item, "pids", json_object_new_array());
		if (!pids)
			return -ENOMEM;
		for (size_t p = 0; p < lib->pid_count; p++)
			if (json_append(pids, json_object_new_int64(lib->pids[p])))
				return -ENOMEM;
	}
	/* json-c's null is a NULL value */
	if ((s->profile ? json_add_string(session, "profile", s->profile)
			: json_object_object_add_ex(session, "profile", NULL,
						    JSON_C_OBJECT_KEY_IS_CONSTANT)) ||
	    (s->layout_source ? json_add_string(session, "layout_source", s->layout_source)
			      : json_object_object_add_ex(session, "layout_source", NULL,
							  JSON_C_OBJECT_KEY_IS_CONSTANT)))
		return -ENOMEM;
	warnings = json_add_new(session, "warnings", json_object_new_array());
	if (!warnings)
		return -ENOMEM;
	for (size_t i = 0; i < s->warning_count; i++) {
		if (json_append(warnings, json_object_new_string(s->warnings[i])))
			return -ENOMEM;
	}
	if (json_add_string(session, "started_at", started) ||
	    json_add(session, "duration_s",
		     json_object_new_double_s(strtod(duration, NULL), duration)) ||
	    json_add_u64(session, "events", s->events) ||
	    json_add_u64(session, "lost_events", s->lost_events) ||
	    json_add_u64(session, "rejected_events", rejected) ||
	    json_add(session, "exact",
		     json_object_new_boolean(s->lost_events == 0 && s->warning_count == 0 &&
					     rejected == 0 && dropped == 0)) ||
	    json_add(session, "cpu_s", json_object_new_double_s(s->cpu_s, cpu)) ||
	    json_add_u64(session, "peak_rss_kib", s->peak_rss_kib) ||
	    json_add_stack_session(session, s))
		return -ENOMEM;
	return 0;
}

/* Saturating: a total the summary prints never wraps. */
static uint64_t sum(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

static void totals_of(const struct ledger_process *procs, size_t count,
		      struct summary_totals *t)
{
	memset(t, 0, sizeof(*t));
	t->processes = count;
	for (size_t i = 0; i < count; i++) {
		t->unmatched_frees = sum(t->unmatched_frees, procs[i].unmatched_frees.count);
		for (size_t d = 0; d < procs[i].device_count; d++) {
			for (unsigned int m = 0; m < DL_MEM_TYPES; m++) {
				const struct ledger_stats *st = &procs[i].devices[d].mem[m];

				t->leaks = sum(t->leaks, st->leaks);
				t->leaked_bytes = sum(t->leaked_bytes, st->leaked_bytes);
				t->untracked_frees = sum(t->untracked_frees, st->untracked_frees);
				t->untracked_bytes = sum(t->untracked_bytes, st->untracked_bytes);
			}
		}
	}
}

void summary__totals(const struct ledger *ledger, struct summary_totals *t)
{
	const struct ledger_process *procs;
	size_t count;

	procs = ledger__processes(ledger, &count);
	totals_of(procs, count, t);
}

/* The verdict in one place, for scripts: what every process's lists add up to. */
static int json_add_totals(struct json_object *root, const struct ledger_process *procs,
			   size_t count)
{
	struct json_object *totals = json_add_new(root, "totals", json_object_new_object());
	struct summary_totals t;

	if (!totals)
		return -ENOMEM;
	totals_of(procs, count, &t);
	if (json_add_u64(totals, "processes", t.processes) ||
	    json_add_u64(totals, "leaks", t.leaks) ||
	    json_add_u64(totals, "leaked_bytes", t.leaked_bytes) ||
	    json_add_u64(totals, "untracked_frees", t.untracked_frees) ||
	    json_add_u64(totals, "untracked_bytes", t.untracked_bytes) ||
	    json_add_u64(totals, "unmatched_frees", t.unmatched_frees))
		return -ENOMEM;
	return 0;
}

static int summary_build(struct json_object *root, const struct ledger_process *procs,
			 size_t count, uint64_t rejected, uint64_t dropped,
			 const struct summary_session *session)
{
	struct json_object *processes;
	int err;

	if (json_add_string(root, "schema", SUMMARY_SCHEMA) ||
	    json_add_string(root, "devledger_version", DEVLEDGER_VERSION))
		return -ENOMEM;
	err = json_add_session(root, rejected, dropped, session);
	if (!err)
		err = json_add_totals(root, procs, count);
	if (err)
		return err;
	processes = json_add_new(root, "processes", json_object_new_array());
	if (!processes)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		if (json_add_process(processes, &procs[i], session->start_ns, session->stacks))
			return -ENOMEM;
	}
	if (session->timeline)
		return timeline_json__add(root, session->timeline, session->start_ns,
					  session_end_ns(session));
	return 0;
}

static int write_stream(FILE *f, const char *text)
{
	errno = 0;
	if (fputs(text, f) == EOF || fputc('\n', f) == EOF || fflush(f) == EOF)
		return neg_errno();
	return 0;
}

/* The temporary name beside path that the summary is written to first. */
#define TEMP_SUFFIX ".XXXXXX"

int summary__check_path(const char *path, char *why, size_t len)
{
	char copy[PATH_MAX], *tmp;
	const char *dir, *base;
	struct stat st;
	int fd;

	if (!strcmp(path, "-"))
		return 0;
	if (!*path || strlen(path) + sizeof(TEMP_SUFFIX) > PATH_MAX) {
		snprintf(why, len, "not a usable file name");
		return -EINVAL;
	}
	snprintf(copy, sizeof(copy), "%s", path);
	base = basename(copy);
	if (strlen(base) + sizeof(TEMP_SUFFIX) - 1 > NAME_MAX) {
		snprintf(why, len, "the name is too long (at most %zu bytes)",
			 (size_t)NAME_MAX - (sizeof(TEMP_SUFFIX) - 1));
		return -ENAMETOOLONG;
	}
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s",
			 S_ISDIR(st.st_mode) ? "is a folder: name a file in it"
					     : "not a regular file");
		return -EISDIR;
	}
	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "folder %s does not exist", dir);
		return -ENOENT;
	}
	/* The one sure test: make the temporary file the summary will be written to, and drop it.
	 */
	if (asprintf(&tmp, "%s" TEMP_SUFFIX, path) < 0)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		int err = -errno;

		snprintf(why, len, "cannot write in %s: %s", dir, strerror(-err));
		free(tmp);
		return err;
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return 0;
}

/*
 * The summary in a file with no name until it is whole (O_TMPFILE), then
 * linked under a temporary name and renamed into place: killed mid-write,
 * devledger leaves nothing behind. -EOPNOTSUPP where the file system cannot.
 */
static int write_unnamed(const char *path, const char *text, mode_t mode)
{
	char copy[PATH_MAX], fd_path[64], *tmp = NULL;
	FILE *f;
	int fd, err = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EISDIR || errno == EOPNOTSUPP || errno == EINVAL ? -EOPNOTSUPP
										 : -errno;
	/* open's mode is masked by the umask, as for any file the user creates. */
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	err = write_stream(f, text);
	if (!err && fflush(f))
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	/* A fresh name each try: linkat does not replace, and another writer may race us. */
	for (unsigned int attempt = 0; !err; attempt++) {
		struct timespec now;

		if (attempt == 16) {
			err = -EEXIST;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		free(tmp);
		if (asprintf(&tmp, "%s.%06lx", path,
			     (unsigned long)((now.tv_nsec ^ getpid() ^ attempt * 7919) &
					     0xffffff)) < 0) {
			tmp = NULL;
			err = -ENOMEM;
		} else if (!linkat(AT_FDCWD, fd_path, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW)) {
			break;
		} else if (errno != EEXIST) {
			err = -errno;
		}
	}
	if (fclose(f) && !err)
		err = neg_errno();
	if (!err && rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	free(tmp);
	return err;
}

/* Never half a file at path: a reader sees the old summary or the whole new one. */
int summary__write_text(const char *path, const char *text)
{
	char *tmp;
	FILE *f;
	mode_t mask;
	int fd, err;

	if (!strcmp(path, "-"))
		return write_stream(stdout, text);
	mask = umask(0);
	umask(mask);
	err = write_unnamed(path, text, 0666);
	if (err != -EOPNOTSUPP)
		return err;
	/* No O_TMPFILE here: a named temporary file, removed on any failure. */
	if (asprintf(&tmp, "%s" TEMP_SUFFIX, path) < 0)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	/* mkstemp makes the file 0600; the summary gets the mode of any file the user creates */
	if (fchmod(fd, 0666 & ~mask)) {
		err = -errno;
		close(fd);
		goto cleanup;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto cleanup;
	}
	err = write_stream(f, text);
	if (!err && fsync(fileno(f)))
		err = -errno;
	errno = 0;
	if (fclose(f) && !err)
		err = neg_errno();
	if (!err && rename(tmp, path))
		err = -errno;
cleanup:
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

static int write_json(const struct ledger_process *procs, size_t count, uint64_t rejected,
		      uint64_t dropped, const struct summary_session *session, const char *path)
{
	struct json_object *root;
	const char *text;
	int err;

	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	err = summary_build(root, procs, count, rejected, dropped, session);
	/*
	 * devledger's own peak memory includes this summary: measured once the
	 * tree and its text exist, then written in; the text is made again.
	 */
	if (!err && session->usage && json_object_to_json_string_ext(root, JSON_FLAGS)) {
		struct json_object *s = json_object_object_get(root, "session");
		double cpu_s = session->cpu_s;
		uint64_t peak = session->peak_rss_kib;
		char cpu[32];

		session->usage(&cpu_s, &peak);
		snprintf(cpu, sizeof(cpu), "%.3f", cpu_s);
		/* Replaced in place: the keys keep their order. */
		if (json_object_object_add(s, "cpu_s", json_object_new_double_s(cpu_s, cpu)) ||
		    json_object_object_add(s, "peak_rss_kib", json_object_new_uint64(peak)))
			err = -ENOMEM;
	}
	if (!err) {
		text = json_object_to_json_string_ext(root, JSON_FLAGS);
		if (!text)
			err = -ENOMEM;
		else if (strcmp(path, "-") == 0)
			err = write_stream(stdout, text);
		else
			err = summary__write_text(path, text);
	}
	json_object_put(root);
	return err;
}

int summary__write_json(const struct ledger *ledger, const struct summary_session *session,
			const char *path)
{
	const struct ledger_process *procs;
	size_t count;

	if (!ledger || !session || !path || !*path)
		return -EINVAL;
	procs = ledger__processes(ledger, &count);
	return write_json(procs, count, ledger__rejected(ledger), ledger__dropped(ledger),
			  session, path);
}

int summary__write_process_json(const struct ledger *ledger, const struct ledger_process *process,
				const struct summary_session *session, const char *path)
{
	if (!ledger || !process || !session || !path || !*path)
		return -EINVAL;
	return write_json(process, 1, ledger__rejected(ledger), process->dropped_allocations,
			  session, path);
}

/* The report for people. */

/*
 * What each reason means to someone who sees memory "still allocated": said
 * once per reason, under the lines it explains.
 */
static const char *reason_explanation(enum ledger_reason reason)
{
	switch (reason) {
	case LEDGER_REASON_PROGRAM_DESTROYED:
		return "circular buffers released with their program (~ProgramImpl): tt-metal reports no per-CB free";
	case LEDGER_REASON_DEVICE_CLOSED:
		return "released while Device::close ran (its allocators' deallocate_buffers) or still allocated when it returned: tt-metal reports no per-buffer free";
	case LEDGER_REASON_CB_DEALLOCATE_ALL:
		return "circular buffers released by track_deallocate_cb(device), which carries no addresses";
	case LEDGER_REASON_CB_REALLOCATED:
		return "a later program laid out a circular buffer at the same L1 address, replacing this one";
	case LEDGER_REASON_ALLOCATOR_FREE:
		return "released by the allocator (BankManager::deallocate_buffer) with no track_deallocate before it";
	case LEDGER_REASON_ALLOCATOR_CLEAR:
		return "released in bulk by Allocator::deallocate_buffers or clear (e.g. a sub-device manager removed), outside any close";
	case LEDGER_REASON_MESH_CLOSED:
		return "released while MeshDevice::close ran: the mesh's allocator and its chips' closes report no per-buffer free";
	case LEDGER_REASON_UNKNOWN_ADDRESS:
		return "never seen allocated: allocated before devledger attached, or its record was lost";
	case LEDGER_REASON_DOUBLE_FREE:
		return "freed again after it was already freed or released";
	default:
		return "no explanation";
	}
}

static const char *unit_name(unsigned int mem_type, uint64_t n)
{
	if (mem_type == DL_MEM_CB)
		return plural(n, "CB", "CBs");
	if (mem_type == DL_MEM_DFB)
		return plural(n, "DFB", "DFBs");
	return plural(n, "buffer", "buffers");
}

/* "device 3" for a chip, as tt-metal users say it; "mesh 0" for a mesh. */
static const char *device_word(unsigned int kind)
{
	return kind == DL_DEVICE_MESH ? "mesh" : "device";
}

/* A table cell naming a device: "3" for a chip, "mesh 0" for a mesh. */
struct device_label {
	char text[24];
};

static struct device_label device_label(unsigned int kind, int32_t id)
{
	struct device_label label;

	snprintf(label.text, sizeof(label.text), "%s%" PRId32,
		 kind == DL_DEVICE_MESH ? "mesh " : "", id);
	return label;
}

static void report_device_table(FILE *out, const struct ledger_device *device)
{
	fprintf(out, "  %s %" PRId32 "\n", device_word(device->kind), device->device_id);
	fprintf(out, "    %-13s %10s %10s %8s %8s %9s %8s\n", "TYPE", "LIVE", "PEAK", "ALLOCS",
		"FREES", "UNTRACKED", "LEAKED");
	for (size_t t = 0; t < ARRAY_SIZE(mem_type_order); t++) {
		unsigned int type = mem_type_order[t];
		const struct ledger_stats *s = &device->mem[type];

		if (!(device->active_types & (1u << type)))
			continue;
		fprintf(out,
			"    %-13s %10s %10s %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %8" PRIu64 "\n",
			mem_type_name(type), human_size(s->live_bytes).text,
			human_size(s->peak_bytes).text, s->allocs, s->frees, s->untracked_frees,
			s->leaks);
	}
}

/*
 * The per-chip picture of a process that used meshes: each chip with its
 * meshes' buffers on it; consecutive chips with the same figures print once
 * ("devices 1-5, each").
 */
static void report_chips(FILE *out, const struct ledger_process *p)
{
	struct chip_view *views;
	size_t count;

	if (!p->mesh_chip_count)
		return;
	views = calloc(p->mesh_chip_count, sizeof(*views));
	if (!views)
		return;
	count = chipview__build(p, views);
	fprintf(out, "  per chip, with its mesh's buffers on each of its chips (same address, same size "
		     "on every chip):\n");
	for (size_t i = 0, next; i < count; i = next) {
		for (next = i + 1; next < count && chipview__same(&views[i], &views[next]) &&
				   views[next].chip_id == views[next - 1].chip_id + 1;
		     next++)
			;
		if (next - i > 1)
			fprintf(out, "  devices %" PRId32 "-%" PRId32 ", each", views[i].chip_id,
				views[next - 1].chip_id);
		else
			fprintf(out, "  device %" PRId32, views[i].chip_id);
		for (size_t m = 0; m < views[i].mesh_count; m++)
			fprintf(out, "%s%" PRId32, m ? ", " : " (of mesh ", views[i].meshes[m]);
		fprintf(out, "%s\n", views[i].mesh_count ? ")" : "");
		fprintf(out, "    %-13s %10s %8s %8s %14s %12s\n", "TYPE", "LIVE", "ALLOCS", "FREES",
			"UNTRACKED", "LEAKED");
		for (size_t t = 0; t < ARRAY_SIZE(mem_type_order); t++) {
			unsigned int type = mem_type_order[t];
			const struct ledger_stats *s = &views[i].mem[type];

			if (!(views[i].active_types & (1u << type)))
				continue;
			fprintf(out, "    %-13s %10s %8" PRIu64 " %8" PRIu64 " %14s %12s\n",
				mem_type_name(type), human_size(s->live_bytes).text, s->allocs,
				s->frees, human_size(s->untracked_bytes).text,
				human_size(s->leaked_bytes).text);
		}
	}
	free(views);
}

/*
 * One line per (device, type) of the records of one reason: "2 buffers,
 * 36.0 KiB DRAM on device 3". The ledger sorts lists by (device, type,
 * address), so each group is one run. Returns how many records matched.
 */
static size_t report_groups(FILE *out, const struct ledger_list *list, enum ledger_reason reason,
			    const char *prefix)
{
	size_t matched = 0, i = 0;

	while (i < list->count) {
		const struct ledger_record *first = &list->items[i];
		uint64_t count = 0, bytes = 0;

		if (first->reason != reason) {
			i++;
			continue;
		}
		for (; i < list->count; i++) {
			const struct ledger_record *r = &list->items[i];

			if (r->device_id != first->device_id ||
			    r->device_kind != first->device_kind || r->mem_type != first->mem_type)
				break;
			if (r->reason != reason)
				continue;
			count++;
			bytes += r->size;
		}
		matched += count;
		fprintf(out, "    %s%" PRIu64 " %s, %s %s on %s %" PRId32 "\n", prefix, count,
			unit_name(first->mem_type, count), human_size(bytes).text,
			mem_type_name(first->mem_type), device_word(first->device_kind),
			first->device_id);
	}
	return matched;
}

static void report_untracked(FILE *out, const struct ledger_process *p)
{
	char prefix[64];

	if (!p->untracked_frees.count)
		return;
	fprintf(out,
		"  untracked frees: %zu, released without a per-buffer free from tt-metal (not leaks)\n",
		p->untracked_frees.count);
	for (int reason = LEDGER_REASON_NONE + 1; reason < LEDGER_REASONS; reason++) {
		snprintf(prefix, sizeof(prefix), "%s: ", ledger_reason_name(reason));
		if (report_groups(out, &p->untracked_frees, reason, prefix))
			fprintf(out, "      (%s)\n", reason_explanation(reason));
	}
}

static void report_leaks(FILE *out, const struct ledger_process *p, uint64_t start_ns)
{
	const struct ledger_list *leaks = &p->leaks;
	uint64_t bytes = 0;
	size_t listed;

	if (!leaks->count)
		return;
	for (size_t i = 0; i < leaks->count; i++)
		bytes += leaks->items[i].size;
	fprintf(out, "  leaks: %zu, %s, still allocated when the process exited\n", leaks->count,
		human_size(bytes).text);
	report_groups(out, leaks, LEDGER_REASON_NONE, "");
	listed = leaks->count < REPORT_LEAKS_LISTED ? leaks->count : REPORT_LEAKS_LISTED;
	fprintf(out, "    %6s %-13s %18s %10s %12s\n", "DEVICE", "TYPE", "ADDRESS", "SIZE",
		"ALLOCATED AT");
	for (size_t i = 0; i < listed; i++) {
		const struct ledger_record *r = &leaks->items[i];

		fprintf(out, "    %6s %-13s %#18" PRIx64 " %10s %10s s\n",
			device_label(r->device_kind, r->device_id).text, mem_type_name(r->mem_type),
			r->address, human_size(r->size).text,
			seconds_text(millis_since(r->alloc_ts_ns, start_ns)).text);
	}
	if (leaks->count > listed)
		fprintf(out, "    ... %zu more\n", leaks->count - listed);
}

static void report_unmatched(FILE *out, const struct ledger_process *p, bool lossy)
{
	const struct ledger_list *list = &p->unmatched_frees;

	if (!list->count)
		return;
	fprintf(out, "  unmatched frees: %zu, frees of addresses devledger did not see live\n",
		list->count);
	/* With records lost, a free may match an allocation whose record is among them. */
	if (lossy)
		fprintf(out, "    (events were lost in this session: some of these may be frees of "
			     "allocations whose records were lost)\n");
	for (int reason = LEDGER_REASON_NONE; reason < LEDGER_REASONS; reason++) {
		size_t count = 0;

		for (size_t i = 0; i < list->count; i++)
			count += list->items[i].reason == reason;
		if (count)
			fprintf(out, "    %s: %zu (%s)\n", ledger_reason_name(reason), count,
				reason_explanation(reason));
	}
}

static void process_live_totals(const struct ledger_process *p, uint64_t *count, uint64_t *bytes)
{
	*count = 0;
	*bytes = 0;
	for (size_t d = 0; d < p->device_count; d++) {
		for (unsigned int t = 0; t < DL_MEM_TYPES; t++) {
			*count += p->devices[d].mem[t].live_count;
			*bytes += p->devices[d].mem[t].live_bytes;
		}
	}
}

/* "  command: ./test_mesh --gtest_filter=X (parent 4241)": printable, and at most a line's worth.
 */
static void report_command(FILE *out, const struct ledger_identity *id)
{
	size_t shown = id->cmdline_len < 200 ? id->cmdline_len : 200;

	fprintf(out, "  command: ");
	for (size_t i = 0; i + 1 < shown || (i < shown && id->cmdline[i]); i++) {
		unsigned char c = (unsigned char)id->cmdline[i];

		if (!c)
			fputc(' ', out);
		else if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
	fprintf(out, "%s", shown < id->cmdline_len ? " ..." : "");
	if (id->ppid >= 0)
		fprintf(out, " (parent %d)", (int)id->ppid);
	fputc('\n', out);
}


/*
 * Is this frame in a traced library (the allocator plumbing the user did not
 * write)? By path, or by file name where one path is a link to the other.
 */
static bool in_traced_library(const struct unwind_frame *f, const struct summary_session *s)
{
	const char *base = f->module ? strrchr(f->module, '/') : NULL;

	if (!f->module)
		return false;
	for (size_t i = 0; i < s->library_count; i++) {
		const char *lib = strrchr(s->libraries[i].path, '/');

		if (!strcmp(f->module, s->libraries[i].path) ||
		    (base && lib && !strcmp(base, lib)))
			return true;
	}
	return false;
}

/* The first frame outside the traced libraries: where the user's code called in. */
static size_t first_outside(const struct unwind_frame *frames, size_t n,
			    const struct summary_session *s)
{
	for (size_t i = 0; i < n; i++)
		if (!in_traced_library(&frames[i], s))
			return i;
	return n;
}

static void report_frame(FILE *out, const struct unwind_frame *f, size_t index, bool highlight)
{
	const char *module = f->module ? strrchr(f->module, '/') : NULL;

	module = module ? module + 1 : f->module;
	fprintf(out, "    %s#%-2zu %s", highlight ? "=> " : "   ", index,
		f->function ? f->function : "??");
	if (f->function)
		fprintf(out, "+%#" PRIx64, f->offset);
	fprintf(out, " in %s", module ? module : "(no mapping)");
	if (f->file)
		fprintf(out, " at %s:%u", f->file, f->line);
	else if (f->module)
		fprintf(out, " (no line info)");
	else
		fprintf(out, " %#" PRIx64, f->address);
	fputc('\n', out);
}

/* One line for a release stack: what released it, called from where. */
static void report_release(FILE *out, uint32_t id, const struct summary_session *s)
{
	const struct unwind_frame *frames;
	size_t n, caller;

	if (unwind__frames(s->stacks, id, &frames, &n) || !n)
		return;
	caller = first_outside(frames, n, s);
	fprintf(out, "      released by %s", frames[0].function ? frames[0].function : "??");
	if (caller > 0 && caller < n)
		fprintf(out, ", called from %s", frames[caller].function ? frames[caller].function
									 : "??");
	fputc('\n', out);
}

/* How many allocating sites the report shows per process, the worst first. */
#define REPORT_SITES_LISTED 10

/*
 * Leaks and untracked frees by allocating site, largest first: each with its
 * top frames, and the first frame outside the traced library marked "=>",
 * so that the user sees their own code's call.
 */
static void report_sites(FILE *out, const struct ledger_process *p,
			 const struct summary_session *s)
{
	const struct ledger_site **sites;
	size_t shown = 0, with_ends = 0;

	if (!s->stacks || !p->site_count || !(sites = sorted_sites(p)))
		return;
	for (size_t i = 0; i < p->site_count; i++)
		with_ends += sites[i]->leaks || sites[i]->untracked_frees;
	if (with_ends)
		fprintf(out, "  by allocating site (%zu %s):\n", with_ends,
			plural(with_ends, "site", "sites"));
	for (size_t i = 0; i < p->site_count && shown < REPORT_SITES_LISTED; i++) {
		const struct ledger_site *site = sites[i];
		const struct unwind_frame *frames;
		size_t n, mark;

		if (!site->leaks && !site->untracked_frees)
			continue;
		shown++;
		fprintf(out, "   site %" PRIu32 ":", site->stack);
		if (site->leaks)
			fprintf(out, " %" PRIu64 " %s, %s;", site->leaks,
				plural(site->leaks, "leak", "leaks"),
				human_size(site->leaked_bytes).text);
		if (site->untracked_frees)
			fprintf(out, " %" PRIu64 " untracked %s, %s;", site->untracked_frees,
				plural(site->untracked_frees, "free", "frees"),
				human_size(site->untracked_bytes).text);
		fprintf(out, " %" PRIu64 " %s\n", site->allocs,
			plural(site->allocs, "allocation", "allocations"));
		if (unwind__frames(s->stacks, site->stack, &frames, &n))
			continue;
		mark = first_outside(frames, n, s);
		for (size_t f = 0; f < n && f < s->stack_frames; f++)
			report_frame(out, &frames[f], f, f == mark);
		if (mark < n && mark >= s->stack_frames) {
			if (mark > s->stack_frames)
				fprintf(out, "       ... %zu more in the library\n",
					mark - s->stack_frames);
			report_frame(out, &frames[mark], mark, true);
		}
		for (size_t u = 0; u < p->untracked_frees.count; u++) {
			const struct ledger_record *r = &p->untracked_frees.items[u];

			if (r->stack == site->stack && r->release_stack) {
				report_release(out, r->release_stack, s);
				break;
			}
		}
	}
	if (with_ends > shown)
		fprintf(out, "   ... %zu more sites (all in the JSON summary)\n", with_ends - shown);
	free(sites);
}

static void report_process(FILE *out, const struct ledger_process *p,
			   const struct summary_session *session, bool lossy)
{
	uint64_t start_ns = session->start_ns;
	char comm[COMM_PRINT_SIZE];
	uint64_t live_count, live_bytes;

	fprintf(out, "\nPID %" PRIu32 " (%s) ", p->pid, comm_printable(p->comm, comm));
	if (!p->exited)
		fprintf(out, "still running\n");
	else if (WIFSIGNALED(p->exit_status))
		fprintf(out, "killed by signal %d\n", WTERMSIG(p->exit_status));
	else
		fprintf(out, "exited with code %d\n", WEXITSTATUS(p->exit_status));
	if (p->identity.known && p->identity.cmdline_len)
		report_command(out, &p->identity);
	if (p->hooked_ignored)
		fprintf(out, "  %" PRIu64 " hooked %s ignored (graph capture: no device memory)\n",
			p->hooked_ignored, plural(p->hooked_ignored, "allocation", "allocations"));
	if (p->unattributed_frees)
		fprintf(out,
			"  %" PRIu64
			" allocator %s not placed on a device (its bank was never seen in a tracked free and several devices held the address): those buffers stay live below\n",
			p->unattributed_frees,
			plural(p->unattributed_frees, "release was", "releases were"));
	if (p->dropped_allocations)
		fprintf(out,
			"  WARNING: %" PRIu64
			" %s not kept: the process had --max-live allocations "
			"live already; its figures are inexact\n",
			p->dropped_allocations,
			plural(p->dropped_allocations, "allocation was", "allocations were"));
	if (!p->device_count)
		fprintf(out, "  no device memory activity\n");
	for (size_t d = 0; d < p->device_count; d++)
		report_device_table(out, &p->devices[d]);
	report_chips(out, p);
	report_untracked(out, p);
	report_leaks(out, p, start_ns);
	report_sites(out, p, session);
	report_unmatched(out, p, lossy);
	process_live_totals(p, &live_count, &live_bytes);
	if (!p->exited && live_count)
		fprintf(out, "  still live: %" PRIu64 " %s, %s (running: not leaks yet)\n",
			live_count, plural(live_count, "allocation", "allocations"),
			human_size(live_bytes).text);
}

/*
 * Which series keep growing, one line each ("DRAM on device 0 (PID 4242)
 * grows 36.0 KiB per snapshot over 50 snapshots"), or that none does.
 */
static void report_growth(FILE *out, const struct summary_session *session)
{
	const struct timeline_series *series;
	size_t count, judged = 0, growing = 0;

	if (!session->timeline)
		return;
	series = timeline__series(session->timeline, &count);
	for (size_t i = 0; i < count; i++) {
		const struct timeline_series *s = &series[i];
		struct timeline_growth g;

		timeline__growth(session->timeline, i, session_end_ns(session), &g);
		judged += g.basis != TIMELINE_BASIS_TOO_SHORT;
		if (!g.growing)
			continue;
		if (!growing++)
			fprintf(out,
				"\ngrowth (the lowest live bytes keep rising after a warm-up):\n");
		fprintf(out, "  %s on %s %" PRId32 " (PID %" PRIu32 ") grows ",
			mem_type_name(s->mem_type), device_word(s->device_kind), s->device_id,
			s->pid);
		if (g.basis == TIMELINE_BASIS_SNAPSHOTS)
			fprintf(out, "%s per snapshot over %zu snapshots\n",
				human_size((uint64_t)g.bytes_per_snapshot).text, g.snapshots);
		else
			fprintf(out, "%s/s, from %s to %s\n",
				human_size((uint64_t)g.slope_bytes_per_s).text,
				human_size(g.first_min_bytes).text,
				human_size(g.last_min_bytes).text);
	}
	if (judged && !growing)
		fprintf(out,
			"\nnothing accumulates: no series' lowest live bytes keep rising (%zu series judged)\n",
			judged);
}

struct run_totals {
	uint64_t leaked, untracked;
	uint64_t chip_untracked; /* what each chip left untracked, when all left the same */
	bool chips_alike;
	uint32_t reasons; /* bit per enum ledger_reason of its untracked frees */
};

static struct run_totals run_totals(const struct ledger_process *p)
{
	struct run_totals r = { .chips_alike = true };
	bool first_chip = true;

	for (size_t d = 0; d < p->device_count; d++) {
		uint64_t untracked = 0;

		for (unsigned int t = 0; t < DL_MEM_TYPES; t++) {
			r.leaked = sum(r.leaked, p->devices[d].mem[t].leaked_bytes);
			untracked = sum(untracked, p->devices[d].mem[t].untracked_bytes);
		}
		r.untracked = sum(r.untracked, untracked);
		if (p->devices[d].kind != DL_DEVICE_CHIP)
			continue;
		if (first_chip)
			r.chip_untracked = untracked;
		r.chips_alike &= untracked == r.chip_untracked;
		first_chip = false;
	}
	r.chips_alike &= !first_chip;
	for (size_t i = 0; i < p->untracked_frees.count; i++)
		r.reasons |= 1u << p->untracked_frees.items[i].reason;
	return r;
}

/*
 * Runs of one command: the same argv, or where neither's could be read (a
 * run too short for /proc to be read in time), the same name.
 */
static bool same_command(const struct ledger_process *a, const struct ledger_process *b)
{
	const struct ledger_identity *x = &a->identity, *y = &b->identity;
	bool x_known = x->known && x->cmdline_len, y_known = y->known && y->cmdline_len;

	if (!x_known && !y_known)
		return a->comm[0] && !strncmp(a->comm, b->comm, DL_COMM_LEN);
	return x_known && y_known && x->cmdline_len == y->cmdline_len &&
	       !memcmp(x->cmdline, y->cmdline, x->cmdline_len);
}

/*
 * A command line run more than once in one session (a test run again under
 * -a): what each run left, compared. "3 runs of `python t.py`: each left
 * 36.0 KiB per chip untracked (device_closed), nothing accumulates".
 */
static void report_runs(FILE *out, const struct ledger_process *procs, size_t count)
{
	bool *done = calloc(count, sizeof(*done));

	for (size_t i = 0; done && i < count; i++) {
		struct run_totals first, r;
		size_t runs = 1;
		bool same = true, rising = true;
		uint64_t last_leaked;

		if (done[i] || !procs[i].exited)
			continue;
		first = run_totals(&procs[i]);
		last_leaked = first.leaked;
		for (size_t j = i + 1; j < count; j++) {
			if (done[j] || !procs[j].exited || !same_command(&procs[i], &procs[j]))
				continue;
			done[j] = true;
			runs++;
			r = run_totals(&procs[j]);
			same &= r.leaked == first.leaked && r.untracked == first.untracked;
			rising &= r.leaked > last_leaked;
			last_leaked = r.leaked;
		}
		if (runs < 2)
			continue;
		fprintf(out, "\n%zu runs of `", runs);
		if (!procs[i].identity.known || !procs[i].identity.cmdline_len) {
			char comm[COMM_PRINT_SIZE];

			fprintf(out,
				"%s` (by name: their command lines could not be read in time): ",
				comm_printable(procs[i].comm, comm));
		} else {
			for (size_t k = 0; k < procs[i].identity.cmdline_len && k < 200; k++) {
				unsigned char c = (unsigned char)procs[i].identity.cmdline[k];

				if (k + 1 == procs[i].identity.cmdline_len && !c)
					break;
				fputc(!c ? ' ' : c >= 0x20 && c < 0x7f ? c : '?', out);
			}
			fprintf(out, "`: ");
		}
		if (!same) {
			fprintf(out,
				"the runs left different amounts (first: %s leaked, %s untracked)%s\n",
				human_size(first.leaked).text, human_size(first.untracked).text,
				rising ? ", and each leaked more than the one before: it accumulates"
				       : "");
			continue;
		}
		fprintf(out, "each left ");
		if (!first.untracked && !first.leaked)
			fprintf(out, "nothing");
		else if (!first.untracked)
			fprintf(out, "nothing untracked");
		else if (first.chips_alike)
			fprintf(out, "%s per chip untracked",
				human_size(first.chip_untracked).text);
		else
			fprintf(out, "%s untracked", human_size(first.untracked).text);
		for (int reason = LEDGER_REASON_NONE + 1, n = 0; reason < LEDGER_REASONS; reason++)
			if (first.reasons & (1u << reason))
				fprintf(out, "%s%s", n++ ? ", " : " (", ledger_reason_name(reason));
		fprintf(out, "%s", first.reasons ? ")" : "");
		if (first.leaked)
			fprintf(out, " and leaked %s", human_size(first.leaked).text);
		fprintf(out, ", nothing accumulates\n");
	}
	free(done);
}

int summary__print_report(const struct ledger *ledger, const struct summary_session *session,
			  FILE *out)
{
	const struct ledger_process *procs;
	uint64_t leaks = 0, leaked = 0, untracked = 0, live = 0, live_bytes, live_count;
	size_t count, running = 0;

	if (!ledger || !session || !out)
		return -EINVAL;
	procs = ledger__processes(ledger, &count);
	fprintf(out,
		"devledger: %s session, %.3f s, %" PRIu64 " events, %" PRIu64 " lost; devledger "
		"used %.3f s CPU, %" PRIu64 " KiB peak\n",
		session->mode ? session->mode : "unknown", session_duration(session),
		session->events, session->lost_events, session->cpu_s, session->peak_rss_kib);
	for (size_t i = 0; i < session->library_count; i++) {
		const struct summary_library *lib = &session->libraries[i];

		if (!lib->probed) {
			fprintf(out, "not traced: %s\n", lib->path);
			continue;
		}
		fprintf(out, "traced: %s%s%s%s%s%s\n", lib->path, lib->profile ? " (" : "",
			lib->profile ? lib->profile : "", lib->profile ? " layout" : "",
			session->layout_source && strstr(session->layout_source, "preset")
				? ", offsets from presets: no or incomplete DWARF"
				: "",
			lib->profile ? ")" : "");
	}
	for (size_t i = 0; i < session->warning_count; i++)
		fprintf(out, "WARNING: %s: the totals below are inexact.\n", session->warnings[i]);
	if (ledger__rejected(ledger))
		fprintf(out,
			"WARNING: %" PRIu64 " %s could not be accounted for (values that cannot be "
			"true): the totals below are inexact.\n",
			ledger__rejected(ledger),
			plural(ledger__rejected(ledger), "record", "records"));
	if (session->lost_events) {
		fprintf(out, "WARNING: %" PRIu64 " %s lost: the totals below are inexact.\n",
			session->lost_events,
			plural(session->lost_events, "event was", "events were"));
		fprintf(out, "WARNING: run again with a bigger --ring-size to lose none.\n");
	}
	if (session->stacks && session->stacks_lost)
		fprintf(out,
			"note: %" PRIu64 " call %s lost (the stack ring was full): %s no stack; the "
			"totals do not depend on it.\n",
			session->stacks_lost, plural(session->stacks_lost, "stack was", "stacks were"),
			plural(session->stacks_lost, "its record has", "their records have"));
	if (!count)
		fprintf(out, "\nno traced process used device memory\n");

	for (size_t i = 0; i < count; i++) {
		const struct ledger_process *p = &procs[i];

		report_process(out, p, session, session->lost_events || ledger__dropped(ledger));
		for (size_t d = 0; d < p->device_count; d++) {
			for (unsigned int t = 0; t < DL_MEM_TYPES; t++) {
				leaks += p->devices[d].mem[t].leaks;
				untracked += p->devices[d].mem[t].untracked_frees;
				leaked += p->devices[d].mem[t].leaked_bytes;
			}
		}
		process_live_totals(p, &live_count, &live_bytes);
		if (!p->exited && live_count) {
			live += live_count;
			running++;
		}
	}
	report_runs(out, procs, count);
	report_growth(out, session);

	fputc('\n', out);
	if (leaks)
		fprintf(out, "devledger: %" PRIu64 " %s, %" PRIu64 " bytes (%s)", leaks,
			plural(leaks, "leak", "leaks"), leaked, human_size(leaked).text);
	else
		fprintf(out, "devledger: no leaks");
	if (untracked)
		fprintf(out, "; %" PRIu64 " untracked %s (not leaks)", untracked,
			plural(untracked, "free", "frees"));
	if (live)
		fprintf(out, "; %" PRIu64 " %s still live in %zu running %s", live,
			plural(live, "allocation", "allocations"), running,
			plural(running, "process", "processes"));
	if (session->lost_events)
		fprintf(out, " (inexact: %" PRIu64 " lost)", session->lost_events);
	else if (session->warning_count || ledger__rejected(ledger) || ledger__dropped(ledger))
		fprintf(out, " (inexact: see the warnings above)");
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

/*
 * A column in the live table: DRAM and L1 always, every other type only
 * where some process used it, so that the table fits a terminal.
 */
static bool live_column_shown(unsigned int type, uint32_t active_types)
{
	return type == DL_MEM_DRAM || type == DL_MEM_L1 || (active_types & (1u << type));
}

int summary__print_live(const struct ledger *ledger, const struct summary_session *session,
			FILE *out)
{
	const struct ledger_process *procs;
	char comm[COMM_PRINT_SIZE];
	uint32_t active = 0;
	size_t count;

	if (!ledger || !session || !out)
		return -EINVAL;
	procs = ledger__processes(ledger, &count);
	for (size_t i = 0; i < count; i++) {
		for (size_t d = 0; d < procs[i].device_count; d++)
			active |= procs[i].devices[d].active_types;
	}

	fprintf(out, "\ndevledger: %.3f s elapsed, %" PRIu64 " events, %" PRIu64 " lost\n",
		session_duration(session), session->events, session->lost_events);
	/* Per type "live/peak"; then what was leaked, and whether the process still runs. */
	fprintf(out, "%8s %-16s %-9s %6s", "PID", "COMM", "STATE", "DEVICE");
	for (size_t t = 0; t < ARRAY_SIZE(mem_type_order); t++) {
		if (live_column_shown(mem_type_order[t], active))
			fprintf(out, " %19s", mem_type_name(mem_type_order[t]));
	}
	fprintf(out, " %10s\n", "LEAKED");

	for (size_t i = 0; i < count; i++) {
		const struct ledger_process *p = &procs[i];

		char state[16];

		comm_printable(p->comm, comm);
		if (!p->exited)
			snprintf(state, sizeof(state), "running");
		else if (WIFSIGNALED(p->exit_status))
			snprintf(state, sizeof(state), "signal %d", WTERMSIG(p->exit_status));
		else
			snprintf(state, sizeof(state), "exit %d", WEXITSTATUS(p->exit_status));
		if (!p->device_count)
			fprintf(out, "%8" PRIu32 " %-16s %-9s %6s\n", p->pid, comm, state, "-");
		for (size_t d = 0; d < p->device_count; d++) {
			const struct ledger_device *device = &p->devices[d];
			uint64_t leaked = 0;

			fprintf(out, "%8" PRIu32 " %-16s %-9s %6s", p->pid, comm, state,
				device_label(device->kind, device->device_id).text);
			for (size_t t = 0; t < ARRAY_SIZE(mem_type_order); t++) {
				unsigned int type = mem_type_order[t];
				char cell[64];

				leaked = sum(leaked, device->mem[type].leaked_bytes);
				if (!live_column_shown(type, active))
					continue;
				if (device->active_types & (1u << type))
					snprintf(cell, sizeof(cell), "%s/%s",
						 human_size(device->mem[type].live_bytes).text,
						 human_size(device->mem[type].peak_bytes).text);
				else
					snprintf(cell, sizeof(cell), "-");
				fprintf(out, " %19s", cell);
			}
			fprintf(out, " %10s\n", leaked ? human_size(leaked).text : "-");
		}
	}
	fflush(out);
	return ferror(out) ? -EIO : 0;
}
