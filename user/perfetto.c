/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Chrome's trace-event format (the "JSON Array/Object Format" that Perfetto
 * and chrome://tracing read): "C" counter events, "i" instant events and
 * "M" metadata events naming the processes, in one {"traceEvents": [...]}.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#include "jsonout.h"
#include "ledger.h"
#include "perfetto.h"
#include "summary.h"
#include "timeline.h"

/*
 * devledger's own instants (snapshots, lost records) go on a track of their
 * own, under devledger's pid: a real one, which no traced process has.
 */
#define DEVLEDGER_TRACK_PID ((uint32_t)getpid())

static struct json_object *micros(uint64_t ts_ns, uint64_t start_ns)
{
	char text[32];
	uint64_t ns = ts_ns > start_ns ? ts_ns - start_ns : 0;

	snprintf(text, sizeof(text), "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
	return json_object_new_double_s((double)ns / 1000.0, text);
}

/* An event of phase ph at ts on the process's track, appended to events. */
static struct json_object *event(struct json_object *events, const char *name, const char *ph,
				 uint32_t pid, uint64_t ts_ns, uint64_t start_ns)
{
	struct json_object *ev = json_object_new_object();

	if (!ev)
		return NULL;
	if (json_object_array_add(events, ev)) {
		json_object_put(ev);
		return NULL;
	}
	if (jsonout__add(ev, "name", json_object_new_string(name)) ||
	    jsonout__add(ev, "ph", json_object_new_string(ph)) ||
	    jsonout__add(ev, "pid", json_object_new_int64(pid)) ||
	    jsonout__add(ev, "tid", json_object_new_int64(pid)) ||
	    jsonout__add(ev, "ts", micros(ts_ns, start_ns)))
		return NULL;
	return ev;
}

static const char *device_word(uint8_t kind)
{
	return kind == DL_DEVICE_MESH ? "mesh" : "device";
}

static const char *type_name(uint8_t type)
{
	const char *name = ledger_mem_type_name(type);

	return name ? name : "UNKNOWN";
}

static int add_process_names(struct json_object *events, const struct ledger *ledger)
{
	const struct ledger_process *procs;
	struct json_object *ev, *args;
	size_t count;
	char name[64];

	procs = ledger__processes(ledger, &count);
	for (size_t i = 0; i <= count; i++) {
		uint32_t pid = i < count ? procs[i].pid : DEVLEDGER_TRACK_PID;

		if (i < count)
			snprintf(name, sizeof(name), "%.*s (%" PRIu32 ")", DL_COMM_LEN,
				 procs[i].comm[0] ? procs[i].comm : "?", pid);
		else
			snprintf(name, sizeof(name), "devledger");
		ev = event(events, "process_name", "M", pid, 0, 0);
		args = json_object_new_object();
		if (!ev || jsonout__add(ev, "args", args) ||
		    jsonout__add(args, "name", json_object_new_string(name)))
			return -ENOMEM;
	}
	return 0;
}

/* One counter track per series: "device 0 DRAM", its value live_bytes. */
static int add_counters(struct json_object *events, const struct timeline *t, uint64_t start_ns)
{
	const struct timeline_series *series;
	size_t count;
	char name[64];

	series = timeline__series(t, &count);
	for (size_t i = 0; i < count; i++) {
		const struct timeline_series *s = &series[i];

		snprintf(name, sizeof(name), "%s %" PRId32 " %s", device_word(s->device_kind),
			 s->device_id, type_name(s->mem_type));
		for (size_t p = 0; p < s->point_count; p++) {
			struct json_object *ev =
				event(events, name, "C", s->pid, s->points[p].ts_ns, start_ns);
			struct json_object *args = json_object_new_object();

			if (!ev || jsonout__add(ev, "args", args) ||
			    jsonout__add(args, "live_bytes",
					 json_object_new_uint64(s->points[p].live_bytes)))
				return -ENOMEM;
		}
	}
	return 0;
}

static int add_instant(struct json_object *events, const struct timeline *t,
		       const struct timeline_event *e, uint64_t start_ns)
{
	const struct timeline_snapshot *snaps;
	struct json_object *ev, *args;
	char name[TIMELINE_LABEL_MAX + 64];
	bool own_track = e->kind == TIMELINE_EVENT_SNAPSHOT || e->kind == TIMELINE_EVENT_LOST;
	size_t snap_count;

	switch (e->kind) {
	case TIMELINE_EVENT_CLOSED:
		snprintf(name, sizeof(name), "%s %" PRId32 " closed", device_word(e->device_kind),
			 e->device_id);
		break;
	case TIMELINE_EVENT_UNTRACKED:
		snprintf(name, sizeof(name), "untracked: %s", ledger_reason_name(e->reason));
		break;
	case TIMELINE_EVENT_LEAKED:
		snprintf(name, sizeof(name), "leaked at exit");
		break;
	case TIMELINE_EVENT_UNMATCHED:
		snprintf(name, sizeof(name), "unmatched free: %s", ledger_reason_name(e->reason));
		break;
	case TIMELINE_EVENT_EXITED:
		snprintf(name, sizeof(name), "exited");
		break;
	case TIMELINE_EVENT_SNAPSHOT:
		snaps = timeline__snapshots(t, &snap_count);
		snprintf(name, sizeof(name), "snapshot: %s",
			 e->snapshot < snap_count ? snaps[e->snapshot].label : "?");
		break;
	default:
		snprintf(name, sizeof(name), "lost records");
		break;
	}
	ev = event(events, name, "i", own_track ? DEVLEDGER_TRACK_PID : e->pid, e->ts_ns, start_ns);
	args = json_object_new_object();
	/* "p": on its process's track; "g": across the whole trace */
	if (!ev || jsonout__add(ev, "s", json_object_new_string(own_track ? "g" : "p")) ||
	    jsonout__add(ev, "args", args))
		return -ENOMEM;
	switch (e->kind) {
	case TIMELINE_EVENT_UNTRACKED:
	case TIMELINE_EVENT_LEAKED:
	case TIMELINE_EVENT_UNMATCHED:
		if (jsonout__add(args, "type", json_object_new_string(type_name(e->mem_type))) ||
		    jsonout__add(args, "count", json_object_new_uint64(e->count)) ||
		    jsonout__add(args, "bytes", json_object_new_uint64(e->bytes)) ||
		    (e->kind != TIMELINE_EVENT_LEAKED &&
		     jsonout__add(args, "reason",
				  json_object_new_string(ledger_reason_name(e->reason)))))
			return -ENOMEM;
		/* these name their device too */
		__attribute__((fallthrough));
	case TIMELINE_EVENT_CLOSED:
		if (jsonout__add(args, "device_id", json_object_new_int64(e->device_id)) ||
		    jsonout__add(args, "device_kind",
				 json_object_new_string(ledger_device_kind_name(e->device_kind))))
			return -ENOMEM;
		break;
	case TIMELINE_EVENT_SNAPSHOT:
		if (jsonout__add(args, "snapshot", json_object_new_uint64(e->snapshot)))
			return -ENOMEM;
		break;
	case TIMELINE_EVENT_LOST:
		if (jsonout__add(args, "count", json_object_new_uint64(e->count)))
			return -ENOMEM;
		break;
	default:
		break;
	}
	return 0;
}

int perfetto__write(const char *path, const struct timeline *t, const struct ledger *ledger,
		    uint64_t start_ns)
{
	struct json_object *root = json_object_new_object(), *events = json_object_new_array();
	const struct timeline_event *evs;
	size_t count;
	int err;

	if (!root || !events) {
		json_object_put(root);
		json_object_put(events);
		return -ENOMEM;
	}
	err = jsonout__add(root, "traceEvents", events) ||
			      jsonout__add(root, "displayTimeUnit", json_object_new_string("ms"))
		      ? -ENOMEM
		      : 0;
	if (!err)
		err = add_process_names(events, ledger);
	if (!err)
		err = add_counters(events, t, start_ns);
	evs = timeline__events(t, &count);
	for (size_t i = 0; !err && i < count; i++)
		err = add_instant(events, t, &evs[i], start_ns);
	if (!err) {
		const char *text = json_object_to_json_string_ext(
			root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		err = text ? summary__write_text(path, text) : -ENOMEM;
	}
	json_object_put(root);
	return err;
}
