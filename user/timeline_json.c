/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The timeline in the JSON summary (devledger.summary.v1, its "timeline", "growth", "snapshots").
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "jsonout.h"
#include "ledger.h"
#include "timeline.h"
#include "timeline_json.h"

/* A number with a fixed count of decimals, written as printed. */
static struct json_object *fixed(double value, int decimals)
{
	char text[48];

	if (!isfinite(value))
		value = 0;
	snprintf(text, sizeof(text), "%.*f", decimals, value);
	return json_object_new_double_s(strtod(text, NULL), text);
}

/* Seconds since the session's start, to the microsecond; 0 for what came before it. */
static struct json_object *seconds(uint64_t ts_ns, uint64_t start_ns)
{
	return fixed(ts_ns > start_ns ? (double)(ts_ns - start_ns) / 1e9 : 0, 6);
}

/* The key every series, growth entry and snapshot entry starts with, as devices[] names it. */
static struct json_object *keyed(uint32_t pid, int32_t device_id, uint8_t kind, uint8_t type)
{
	struct json_object *obj = json_object_new_object();
	const char *kind_name = ledger_device_kind_name(kind),
		   *type_name = ledger_mem_type_name(type);

	if (!obj)
		return NULL;
	if (jsonout__add(obj, "pid", json_object_new_int64(pid)) ||
	    jsonout__add(obj, "device_id", json_object_new_int64(device_id)) ||
	    jsonout__add(obj, "device_kind",
			 json_object_new_string(kind_name ? kind_name : "unknown")) ||
	    jsonout__add(obj, "type", json_object_new_string(type_name ? type_name : "UNKNOWN"))) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int add_series(struct json_object *timeline, const struct timeline *t, uint64_t start_ns)
{
	struct json_object *list = json_object_new_array();
	const struct timeline_series *series;
	size_t count;

	if (jsonout__add(timeline, "series", list))
		return -ENOMEM;
	series = timeline__series(t, &count);
	for (size_t i = 0; i < count; i++) {
		const struct timeline_series *s = &series[i];
		struct json_object *item = keyed(s->pid, s->device_id, s->device_kind, s->mem_type);
		struct json_object *points;

		if (jsonout__append(list, item) ||
		    jsonout__add(item, "changes", json_object_new_uint64(s->changes)) ||
		    jsonout__add(item, "peak_bytes", json_object_new_uint64(s->peak_bytes)) ||
		    jsonout__add(item, "points", points = json_object_new_array()))
			return -ENOMEM;
		for (size_t p = 0; p < s->point_count; p++) {
			struct json_object *pair = json_object_new_array_ext(2);

			if (jsonout__append(points, pair) ||
			    jsonout__append(pair, seconds(s->points[p].ts_ns, start_ns)) ||
			    jsonout__append(pair, json_object_new_uint64(s->points[p].live_bytes)))
				return -ENOMEM;
		}
	}
	return 0;
}

static int add_growth(struct json_object *root, const struct timeline *t, uint64_t now_ns)
{
	struct json_object *list = json_object_new_array();
	const struct timeline_series *series;
	size_t count;

	if (jsonout__add(root, "growth", list))
		return -ENOMEM;
	series = timeline__series(t, &count);
	for (size_t i = 0; i < count; i++) {
		const struct timeline_series *s = &series[i];
		struct json_object *item = keyed(s->pid, s->device_id, s->device_kind, s->mem_type);
		struct timeline_growth g;

		timeline__growth(t, i, now_ns, &g);
		if (jsonout__append(list, item) ||
		    jsonout__add(item, "growing", json_object_new_boolean(g.growing)) ||
		    jsonout__add(item, "basis",
				 json_object_new_string(timeline_basis_name(g.basis))) ||
		    jsonout__add(item, "slope_bytes_per_s", fixed(g.slope_bytes_per_s, 1)) ||
		    (g.basis == TIMELINE_BASIS_SNAPSHOTS
			     ? jsonout__add(item, "bytes_per_snapshot",
					    fixed(g.bytes_per_snapshot, 1))
			     : json_object_object_add_ex(item, "bytes_per_snapshot", NULL,
							 JSON_C_OBJECT_KEY_IS_CONSTANT)) ||
		    jsonout__add(item, "snapshots", json_object_new_uint64(g.snapshots)) ||
		    jsonout__add(item, "intervals", json_object_new_uint64(g.intervals)) ||
		    jsonout__add(item, "first_min_bytes",
				 json_object_new_uint64(g.first_min_bytes)) ||
		    jsonout__add(item, "last_min_bytes", json_object_new_uint64(g.last_min_bytes)))
			return -ENOMEM;
	}
	return 0;
}

static int add_snapshots(struct json_object *root, const struct timeline *t, uint64_t start_ns)
{
	struct json_object *list = json_object_new_array();
	const struct timeline_snapshot *snaps;
	size_t count;

	if (jsonout__add(root, "snapshots", list))
		return -ENOMEM;
	snaps = timeline__snapshots(t, &count);
	for (size_t i = 0; i < count; i++) {
		struct json_object *item = json_object_new_object(), *entries;

		if (jsonout__append(list, item) ||
		    jsonout__add(item, "label", json_object_new_string(snaps[i].label)) ||
		    jsonout__add(item, "t_s", seconds(snaps[i].ts_ns, start_ns)) ||
		    jsonout__add(item, "series", entries = json_object_new_array()))
			return -ENOMEM;
		for (size_t e = 0; e < snaps[i].entry_count; e++) {
			const struct timeline_snapshot_entry *en = &snaps[i].entries[e];
			struct json_object *obj =
				keyed(en->pid, en->device_id, en->device_kind, en->mem_type);

			if (jsonout__append(entries, obj) ||
			    jsonout__add(obj, "live_bytes",
					 json_object_new_uint64(en->live_bytes)) ||
			    jsonout__add(obj, "live_count", json_object_new_uint64(en->live_count)))
				return -ENOMEM;
		}
	}
	return 0;
}

int timeline_json__add(struct json_object *root, const struct timeline *t, uint64_t start_ns,
		       uint64_t now_ns)
{
	struct json_object *timeline = json_object_new_object();

	if (jsonout__add(root, "timeline", timeline) ||
	    jsonout__add(timeline, "events_dropped",
			 json_object_new_uint64(timeline__events_dropped(t))) ||
	    jsonout__add(timeline, "exact", json_object_new_boolean(timeline__error(t) == 0)))
		return -ENOMEM;
	if (add_series(timeline, t, start_ns) || add_growth(root, t, now_ns) ||
	    add_snapshots(root, t, start_ns))
		return -ENOMEM;
	return 0;
}
