/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory over time, built from the ledger's changes as they happen. Written
 * by hand: the downsampling that keeps each interval's minimum and maximum
 * and the growth verdict are devledger's own, and run on every change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "grow.h"
#include "timeline.h"

struct timeline {
	size_t max_points;
	struct timeline_series *series; /* sorted, see series_order */
	size_t series_count;
	size_t series_capacity;
	size_t last_series; /* changes come in runs of one series */
	struct timeline_event *events;
	size_t event_count;
	size_t event_capacity;
	uint64_t events_dropped;
	struct timeline_snapshot *snapshots;
	size_t snapshot_count;
	size_t snapshot_capacity;
	uint64_t lost_total;
	int error;
};

struct series_key {
	uint32_t pid;
	int32_t device_id;
	uint8_t device_kind;
	uint8_t mem_type;
};

static int series_order(const struct timeline_series *s, const struct series_key *k)
{
	if (s->pid != k->pid)
		return s->pid < k->pid ? -1 : 1;
	if (s->device_kind != k->device_kind)
		return s->device_kind < k->device_kind ? -1 : 1;
	if (s->device_id != k->device_id)
		return s->device_id < k->device_id ? -1 : 1;
	if (s->mem_type != k->mem_type)
		return s->mem_type < k->mem_type ? -1 : 1;
	return 0;
}

struct timeline *timeline__new(size_t max_points)
{
	struct timeline *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->max_points = max_points ? max_points : TIMELINE_DEFAULT_POINTS;
	if (t->max_points < 16)
		t->max_points = 16;
	return t;
}

void timeline__free(struct timeline *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->series_count; i++)
		free(t->series[i].points);
	for (size_t i = 0; i < t->snapshot_count; i++)
		free(t->snapshots[i].entries);
	free(t->series);
	free(t->events);
	free(t->snapshots);
	free(t);
}

/* The series of a key, made (in its sorted place) when new; NULL without memory. */
static struct timeline_series *series_for(struct timeline *t, const struct series_key *k)
{
	size_t lo = 0, hi = t->series_count;
	struct timeline_series *s;

	if (t->last_series < t->series_count && !series_order(&t->series[t->last_series], k))
		return &t->series[t->last_series];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int order = series_order(&t->series[mid], k);

		if (!order) {
			t->last_series = mid;
			return &t->series[mid];
		}
		if (order < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (grow_array((void **)&t->series, &t->series_capacity, sizeof(*t->series),
		       t->series_count + 1))
		return NULL;
	memmove(&t->series[lo + 1], &t->series[lo], (t->series_count - lo) * sizeof(*t->series));
	t->series_count++;
	s = &t->series[lo];
	*s = (struct timeline_series){ .pid = k->pid,
				       .device_id = k->device_id,
				       .device_kind = k->device_kind,
				       .mem_type = k->mem_type };
	t->last_series = lo;
	return s;
}

/*
 * Halve a full series: each run of four points becomes its minimum and its
 * maximum, in time order, so no peak and no trough is ever lost; the newest
 * point stays as it is.
 */
static void compact(struct timeline_series *s)
{
	size_t n = s->point_count - 1, out = 0;
	struct timeline_point newest = s->points[n];

	for (size_t i = 0; i < n; i += 4) {
		size_t end = i + 4 < n ? i + 4 : n, lo = i, hi = i;

		for (size_t j = i + 1; j < end; j++) {
			if (s->points[j].live_bytes < s->points[lo].live_bytes)
				lo = j;
			if (s->points[j].live_bytes > s->points[hi].live_bytes)
				hi = j;
		}
		if (lo == hi) {
			s->points[out++] = s->points[lo];
		} else {
			struct timeline_point a = s->points[lo < hi ? lo : hi];
			struct timeline_point b = s->points[lo < hi ? hi : lo];

			s->points[out++] = a;
			s->points[out++] = b;
		}
	}
	s->points[out++] = newest;
	s->point_count = out;
}

static int add_point(struct timeline *t, struct timeline_series *s, uint64_t ts,
		     uint64_t live_bytes)
{
	struct timeline_point *last = s->point_count ? &s->points[s->point_count - 1] : NULL;

	/* Records of several CPUs interleave: time never goes back within a series. */
	if (last && ts < last->ts_ns)
		ts = last->ts_ns;
	/* Several changes at one instant (a close): the instant's last value stands. */
	if (last && ts == last->ts_ns) {
		last->live_bytes = live_bytes;
		return 0;
	}
	if (s->point_count == t->max_points)
		compact(s);
	if (s->point_count == s->point_capacity) {
		size_t cap = s->point_capacity ? s->point_capacity * 2 : 16;
		struct timeline_point *p;

		if (cap > t->max_points)
			cap = t->max_points;
		p = realloc(s->points, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->points = p;
		s->point_capacity = cap;
	}
	s->points[s->point_count++] = (struct timeline_point){ ts, live_bytes };
	return 0;
}

static void add_event(struct timeline *t, struct timeline_event ev)
{
	struct timeline_event *last = t->event_count ? &t->events[t->event_count - 1] : NULL;

	/* What ends together is one event: a close ends every buffer it held at one instant. */
	if (last && last->kind == ev.kind && ev.kind != TIMELINE_EVENT_SNAPSHOT &&
	    ev.kind != TIMELINE_EVENT_LOST && last->pid == ev.pid &&
	    last->device_id == ev.device_id && last->device_kind == ev.device_kind &&
	    last->mem_type == ev.mem_type && last->reason == ev.reason && last->ts_ns == ev.ts_ns) {
		last->count += ev.count;
		last->bytes += ev.bytes;
		return;
	}
	if (t->event_count == TIMELINE_MAX_EVENTS ||
	    grow_array((void **)&t->events, &t->event_capacity, sizeof(*t->events),
		       t->event_count + 1)) {
		t->events_dropped++;
		return;
	}
	t->events[t->event_count++] = ev;
}

/* A close or an exit ends the growth of every series it concerns. */
static void mark_end(struct timeline *t, const struct ledger_change *c, bool whole_process)
{
	for (size_t i = 0; i < t->series_count; i++) {
		struct timeline_series *s = &t->series[i];

		if (s->pid != c->pid || s->end_ns)
			continue;
		if (whole_process ||
		    (s->device_id == c->device_id && s->device_kind == c->device_kind))
			s->end_ns = c->ts_ns;
	}
}

void timeline__observe(void *ctx, const struct ledger_change *c)
{
	struct timeline *t = ctx;
	struct timeline_event ev = { .pid = c->pid,
				     .device_id = c->device_id,
				     .device_kind = c->device_kind,
				     .mem_type = c->mem_type,
				     .ts_ns = c->ts_ns,
				     .count = 1 };
	struct series_key key = { c->pid, c->device_id, c->device_kind, c->mem_type };
	struct timeline_series *s;

	switch (c->kind) {
	case LEDGER_CHANGE_LIVE:
		s = series_for(t, &key);
		if (!s || add_point(t, s, c->ts_ns, c->stats->live_bytes)) {
			t->error = -ENOMEM;
			return;
		}
		s->changes++;
		s->live_bytes = c->stats->live_bytes;
		s->live_count = c->stats->live_count;
		s->peak_bytes = c->stats->peak_bytes;
		return;
	case LEDGER_CHANGE_ENDED:
		ev.kind = c->record->reason == LEDGER_REASON_NONE ? TIMELINE_EVENT_LEAKED
								  : TIMELINE_EVENT_UNTRACKED;
		ev.reason = c->record->reason;
		ev.bytes = c->record->size;
		/* What a close or an exit releases is its start: the growth stops before it. */
		if (c->record->reason == LEDGER_REASON_NONE ||
		    c->record->reason == LEDGER_REASON_DEVICE_CLOSED ||
		    c->record->reason == LEDGER_REASON_MESH_CLOSED) {
			s = series_for(t, &key);
			if (s && !s->end_ns)
				s->end_ns = c->ts_ns;
		}
		break;
	case LEDGER_CHANGE_UNMATCHED:
		ev.kind = TIMELINE_EVENT_UNMATCHED;
		ev.reason = c->record->reason;
		ev.bytes = c->record->size;
		break;
	case LEDGER_CHANGE_CLOSED:
		ev.kind = TIMELINE_EVENT_CLOSED;
		ev.mem_type = 0;
		mark_end(t, c, false);
		break;
	case LEDGER_CHANGE_EXITED:
		ev.kind = TIMELINE_EVENT_EXITED;
		ev.device_id = -1;
		ev.mem_type = 0;
		mark_end(t, c, true);
		break;
	}
	add_event(t, ev);
}

int timeline__snapshot(struct timeline *t, const char *label, uint64_t ts_ns)
{
	struct timeline_snapshot *snap;

	if (!t)
		return 0; /* a session without a timeline (serve) */
	if (t->snapshot_count == TIMELINE_MAX_SNAPSHOTS)
		return -ENOSPC;
	if (grow_array((void **)&t->snapshots, &t->snapshot_capacity, sizeof(*t->snapshots),
		       t->snapshot_count + 1))
		return -ENOMEM;
	snap = &t->snapshots[t->snapshot_count];
	*snap = (struct timeline_snapshot){ .ts_ns = ts_ns };
	if (label && *label)
		snprintf(snap->label, sizeof(snap->label), "%s", label);
	else
		snprintf(snap->label, sizeof(snap->label), "mark %zu", t->snapshot_count + 1);
	if (t->series_count) {
		snap->entries = calloc(t->series_count, sizeof(*snap->entries));
		if (!snap->entries)
			return -ENOMEM;
	}
	for (size_t i = 0; i < t->series_count; i++) {
		const struct timeline_series *s = &t->series[i];

		snap->entries[i] = (struct timeline_snapshot_entry){ .pid = s->pid,
								     .device_id = s->device_id,
								     .device_kind = s->device_kind,
								     .mem_type = s->mem_type,
								     .live_bytes = s->live_bytes,
								     .live_count = s->live_count };
	}
	snap->entry_count = t->series_count;
	add_event(t, (struct timeline_event){ .kind = TIMELINE_EVENT_SNAPSHOT,
					      .device_id = -1,
					      .ts_ns = ts_ns,
					      .snapshot = t->snapshot_count });
	t->snapshot_count++;
	return 0;
}

void timeline__lost(struct timeline *t, uint64_t total, uint64_t ts_ns)
{
	if (!t || total <= t->lost_total)
		return;
	add_event(t, (struct timeline_event){ .kind = TIMELINE_EVENT_LOST,
					      .device_id = -1,
					      .ts_ns = ts_ns,
					      .count = total - t->lost_total });
	t->lost_total = total;
}

const struct timeline_series *timeline__series(const struct timeline *t, size_t *count)
{
	*count = t->series_count;
	return t->series;
}

const struct timeline_event *timeline__events(const struct timeline *t, size_t *count)
{
	*count = t->event_count;
	return t->events;
}

uint64_t timeline__events_dropped(const struct timeline *t)
{
	return t->events_dropped;
}

const struct timeline_snapshot *timeline__snapshots(const struct timeline *t, size_t *count)
{
	*count = t->snapshot_count;
	return t->snapshots;
}

int timeline__error(const struct timeline *t)
{
	return t->error;
}

const char *timeline_basis_name(enum timeline_basis basis)
{
	switch (basis) {
	case TIMELINE_BASIS_TIME:
		return "time";
	case TIMELINE_BASIS_SNAPSHOTS:
		return "snapshots";
	default:
		return "too_short";
	}
}

/* ---- growth ---- */

/* The lowest live bytes from..until (until excluded): the value standing at from, and every
 * point after it. */
static uint64_t lowest(const struct timeline_series *s, uint64_t from, uint64_t until)
{
	uint64_t low = 0;
	bool any = false;

	for (size_t i = 0; i < s->point_count; i++) {
		const struct timeline_point *p = &s->points[i];

		if (p->ts_ns >= until)
			break;
		if (p->ts_ns <= from) {
			low = p->live_bytes; /* the value standing at from, so far */
			any = true;
		} else if (!any || p->live_bytes < low) {
			low = p->live_bytes;
			any = true;
		}
	}
	return low;
}

/* Equal windows of time after the first fifth: enough to see a trend, few enough to be sure. */
#define GROWTH_WINDOWS 8
/* Fewer changes than this tell nothing about a trend. */
#define GROWTH_MIN_CHANGES 8

/*
 * The envelope keeps rising: it never falls from one interval to the next,
 * and ends higher than it began.
 */
static void verdict(const uint64_t *mins, size_t n, struct timeline_growth *g)
{
	bool fell = false;

	for (size_t i = 1; i < n; i++)
		fell |= mins[i] < mins[i - 1];
	g->intervals = n;
	g->first_min_bytes = mins[0];
	g->last_min_bytes = mins[n - 1];
	g->growing = !fell && mins[n - 1] > mins[0];
}

/*
 * Each interval between two snapshots is an iteration; the first is the
 * warm-up, and three left make a trend. Returns false when there are fewer.
 */
static bool growth_by_snapshots(const struct timeline *t, const struct timeline_series *s,
				uint64_t start, uint64_t end, struct timeline_growth *g)
{
	const struct timeline_snapshot *snaps = t->snapshots;
	uint64_t *mins, first_ts = 0, last_ts = 0;
	size_t *inside, m = 0, n = 0;

	if (!t->snapshot_count)
		return false;
	inside = malloc(t->snapshot_count * sizeof(*inside));
	mins = malloc(t->snapshot_count * sizeof(*mins));
	if (!inside || !mins) {
		free(inside);
		free(mins);
		return false;
	}
	for (size_t i = 0; i < t->snapshot_count; i++)
		if (snaps[i].ts_ns >= start && snaps[i].ts_ns <= end)
			inside[m++] = i;
	g->snapshots = m;
	for (size_t i = 1; i + 1 < m; i++) {
		uint64_t from = snaps[inside[i]].ts_ns;

		if (!n)
			first_ts = from;
		last_ts = from;
		mins[n++] = lowest(s, from, snaps[inside[i + 1]].ts_ns);
	}
	if (n >= 3) {
		double rise;

		verdict(mins, n, g);
		rise = (double)g->last_min_bytes - (double)g->first_min_bytes;
		g->basis = TIMELINE_BASIS_SNAPSHOTS;
		g->bytes_per_snapshot = rise / (double)(n - 1);
		if (last_ts > first_ts)
			g->slope_bytes_per_s = rise / ((double)(last_ts - first_ts) / 1e9);
	}
	free(inside);
	free(mins);
	return n >= 3;
}

void timeline__growth(const struct timeline *t, size_t index, uint64_t now_ns,
		      struct timeline_growth *g)
{
	const struct timeline_series *s = &t->series[index];
	uint64_t mins[GROWTH_WINDOWS], start, warm, width, end = s->end_ns ? s->end_ns : now_ns;

	*g = (struct timeline_growth){ .basis = TIMELINE_BASIS_TOO_SHORT };
	if (!s->point_count)
		return;
	start = s->points[0].ts_ns;
	if (growth_by_snapshots(t, s, start, end, g))
		return;
	if (s->changes < GROWTH_MIN_CHANGES || end <= start)
		return;
	warm = start + (end - start) / 5;
	width = (end - warm) / GROWTH_WINDOWS;
	if (!width)
		return;
	for (size_t w = 0; w < GROWTH_WINDOWS; w++)
		mins[w] = lowest(s, warm + w * width, warm + (w + 1) * width);
	verdict(mins, GROWTH_WINDOWS, g);
	g->basis = TIMELINE_BASIS_TIME;
	g->slope_bytes_per_s = ((double)g->last_min_bytes - (double)g->first_min_bytes) /
			       ((double)(GROWTH_WINDOWS - 1) * (double)width / 1e9);
}
