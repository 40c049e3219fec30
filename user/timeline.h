/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory over time, fed by the ledger's observer as changes happen: per
 * process, device and memory type the live bytes at every change (a bounded
 * number of points per series that keeps each interval's minimum and
 * maximum), labelled snapshots of every series, the instants that matter
 * (closes, untracked releases, leaks at exit, lost records), and for each
 * series a verdict on whether it keeps growing. Knows nothing of BPF or of
 * output formats.
 */
#ifndef DEVLEDGER_TIMELINE_H
#define DEVLEDGER_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ledger_change;
struct timeline;

/* Points kept per series unless told otherwise: a few KiB each, enough for a picture. */
#define TIMELINE_DEFAULT_POINTS 1024
/* Instants kept (closes, releases, ...); past it they are counted, not kept. */
#define TIMELINE_MAX_EVENTS    100000
#define TIMELINE_MAX_SNAPSHOTS 10000
#define TIMELINE_LABEL_MAX     64

struct timeline_point {
	uint64_t ts_ns; /* the ledger's clock (CLOCK_MONOTONIC) */
	uint64_t live_bytes;
};

/* One (process, device, memory type): what its live bytes were over time. */
struct timeline_series {
	uint32_t pid;
	int32_t device_id;
	uint8_t device_kind;	       /* enum dl_device_kind */
	uint8_t mem_type;	       /* enum dl_mem_type */
	struct timeline_point *points; /* in time order */
	size_t point_count;
	size_t point_capacity; /* grows to the timeline's bound: most series stay small */
	uint64_t changes;      /* every change seen, before downsampling */
	uint64_t live_bytes;   /* now */
	uint64_t live_count;
	uint64_t peak_bytes;
	/* When its device first closed or its process exited (0: neither): growth stops there. */
	uint64_t end_ns;
};

enum timeline_event_kind {
	TIMELINE_EVENT_CLOSED,	  /* a device or mesh closed */
	TIMELINE_EVENT_UNTRACKED, /* allocations ended without a per-buffer free (reason) */
	TIMELINE_EVENT_LEAKED,	  /* allocations still live when their process exited */
	TIMELINE_EVENT_UNMATCHED, /* frees that matched nothing (reason) */
	TIMELINE_EVENT_EXITED,	  /* a process exited */
	TIMELINE_EVENT_SNAPSHOT,  /* a labelled snapshot (snapshot: its index) */
	TIMELINE_EVENT_LOST,	  /* records the tracer could not deliver (count: how many more) */
	TIMELINE_EVENT_KINDS,
};

/*
 * One instant. Allocations that end together (one close, one program
 * destroyed, one exit) are one event with their count and bytes.
 */
struct timeline_event {
	uint8_t kind; /* enum timeline_event_kind */
	uint8_t device_kind;
	uint8_t mem_type;
	uint8_t reason; /* enum ledger_reason */
	uint32_t pid;
	int32_t device_id;
	uint64_t ts_ns;
	uint64_t count;
	uint64_t bytes;
	size_t snapshot;
};

struct timeline_snapshot_entry {
	uint32_t pid;
	int32_t device_id;
	uint8_t device_kind;
	uint8_t mem_type;
	uint64_t live_bytes;
	uint64_t live_count;
};

/* Every series' live bytes and buffers at one instant. */
struct timeline_snapshot {
	char label[TIMELINE_LABEL_MAX];
	uint64_t ts_ns;
	struct timeline_snapshot_entry *entries;
	size_t entry_count;
};

/* What a series' lower envelope (its minimum per interval) did after a warm-up. */
enum timeline_basis {
	TIMELINE_BASIS_TOO_SHORT, /* too few changes or too short a time to tell: never growing */
	TIMELINE_BASIS_TIME,	  /* equal windows of time */
	TIMELINE_BASIS_SNAPSHOTS, /* the intervals between snapshots, each an iteration */
};

struct timeline_growth {
	bool growing; /* the envelope never fell and ended higher */
	enum timeline_basis basis;
	size_t intervals;	   /* intervals the verdict rests on, after the warm-up */
	uint64_t first_min_bytes;  /* the envelope in the first of them */
	uint64_t last_min_bytes;   /* and in the last */
	double slope_bytes_per_s;  /* (last - first) over the time between them; may be < 0 */
	double bytes_per_snapshot; /* per iteration; 0 unless basis is SNAPSHOTS */
	size_t snapshots;	   /* snapshots inside the series' life */
};

/* max_points 0: TIMELINE_DEFAULT_POINTS (at least 16). NULL and errno on failure. */
struct timeline *timeline__new(size_t max_points);
void timeline__free(struct timeline *timeline);

/* The ledger observer (ledger__observe(ledger, timeline__observe, timeline)). */
void timeline__observe(void *timeline, const struct ledger_change *change);

/*
 * Record a snapshot of every series at ts_ns (label NULL or empty: "mark N",
 * N counting from 1). The changes observed so far must be those up to ts_ns.
 * Returns 0, -ENOSPC past TIMELINE_MAX_SNAPSHOTS, -ENOMEM.
 */
int timeline__snapshot(struct timeline *timeline, const char *label, uint64_t ts_ns);

/* The tracer's count of lost records is now total: an event when it rose. */
void timeline__lost(struct timeline *timeline, uint64_t total, uint64_t ts_ns);

/* Sorted by pid, device kind, device_id, memory type; valid until the next change. */
const struct timeline_series *timeline__series(const struct timeline *timeline, size_t *count);
const struct timeline_event *timeline__events(const struct timeline *timeline, size_t *count);
/* Events not kept past TIMELINE_MAX_EVENTS, or for want of memory. */
uint64_t timeline__events_dropped(const struct timeline *timeline);
const struct timeline_snapshot *timeline__snapshots(const struct timeline *timeline, size_t *count);
/* -ENOMEM when a change could not be kept: the series are then inexact. */
int timeline__error(const struct timeline *timeline);

/*
 * The verdict on one series (index into timeline__series), at now_ns (the
 * end, for a series whose device is open and process running).
 */
void timeline__growth(const struct timeline *timeline, size_t series, uint64_t now_ns,
		      struct timeline_growth *growth);

/* "too_short", "time", "snapshots". */
const char *timeline_basis_name(enum timeline_basis basis);

#endif /* DEVLEDGER_TIMELINE_H */
