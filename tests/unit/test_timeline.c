/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The timeline, fed by a real ledger's observer: series as the ledger's
 * counters went, downsampling that keeps every peak and trough, instants
 * coalesced, snapshots, and growth verdicts both ways.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ledger.h"
#include "timeline.h"

#define MS 1000000ULL

struct fixture {
	struct ledger *ledger;
	struct timeline *timeline;
	uint64_t now;
};

static int setup_points(void **state, size_t max_points)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->ledger = ledger__new(NULL);
	f->timeline = timeline__new(max_points);
	f->now = 1000 * MS;
	if (!f->ledger || !f->timeline ||
	    ledger__observe(f->ledger, timeline__observe, f->timeline))
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_points(state, 0);
}

static int setup_small(void **state)
{
	return setup_points(state, 16);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	timeline__free(f->timeline);
	ledger__free(f->ledger);
	free(f);
	return 0;
}

static void send(struct fixture *f, uint32_t kind, int32_t device, uint8_t type, uint64_t address,
		 uint64_t size)
{
	struct dl_event ev = { .kind = kind,
			       .pid = 10,
			       .tid = 10,
			       .ts_ns = f->now,
			       .address = address,
			       .size = size,
			       .device_id = device,
			       .device_kind = DL_DEVICE_CHIP,
			       .mem_type = type };

	assert_int_equal(ledger__apply(f->ledger, &ev, sizeof(ev)), 0);
}

static void alloc(struct fixture *f, int32_t dev, uint64_t addr, uint64_t size)
{
	send(f, DL_EV_ALLOC, dev, DL_MEM_DRAM, addr, size);
}

static void dealloc(struct fixture *f, int32_t dev, uint64_t addr)
{
	send(f, DL_EV_FREE, dev, DL_MEM_DRAM, addr, 0);
}

static void close_device(struct fixture *f, int32_t dev)
{
	send(f, DL_EV_DEVICE_CLOSE, dev, 0, 0, 0);
	send(f, DL_EV_DEVICE_CLOSED, -1, 0, 0, 0);
}

static void exit_process(struct fixture *f)
{
	struct dl_exit_event ev = { .kind = DL_EV_PROCESS_EXIT, .pid = 10, .ts_ns = f->now };

	assert_int_equal(ledger__apply(f->ledger, &ev, sizeof(ev)), 0);
}

static const struct timeline_series *only_series(struct fixture *f, size_t n)
{
	size_t count;
	const struct timeline_series *s = timeline__series(f->timeline, &count);

	assert_true(n < count);
	return &s[n];
}

/* Every change is a point, with the time and the live bytes the ledger had then. */
static void test_points_follow_ledger(void **state)
{
	struct fixture *f = *state;
	const struct timeline_series *s;
	size_t count;

	alloc(f, 0, 0x1000, 4096);
	f->now += MS;
	alloc(f, 0, 0x3000, 1024);
	f->now += MS;
	alloc(f, 1, 0x1000, 64);
	f->now += MS;
	dealloc(f, 0, 0x1000);
	timeline__series(f->timeline, &count);
	assert_int_equal(count, 2);
	s = only_series(f, 0);
	assert_int_equal(s->device_id, 0);
	assert_int_equal(s->point_count, 3);
	assert_int_equal(s->points[0].ts_ns, 1000 * MS);
	assert_int_equal(s->points[0].live_bytes, 4096);
	assert_int_equal(s->points[1].live_bytes, 5120);
	assert_int_equal(s->points[2].ts_ns, 1003 * MS);
	assert_int_equal(s->points[2].live_bytes, 1024);
	assert_int_equal(s->peak_bytes, 5120);
	assert_int_equal(s->live_count, 1);
	assert_int_equal(only_series(f, 1)->device_id, 1);
}

/* Past the bound the series halves, and every peak and trough stays. */
static void test_downsampling_keeps_extremes(void **state)
{
	struct fixture *f = *state;
	const struct timeline_series *s;
	uint64_t max = 0, min = UINT64_MAX;
	bool peak = false, trough = false;

	for (int i = 0; i < 1000; i++) {
		uint64_t size = 4096 + (uint64_t)(i % 7) * 512;

		/* one spike at 500, one dip to nothing at 700 */
		if (i == 500)
			size = 1 << 20;
		f->now += MS;
		alloc(f, 0, 0x100000, size);
		f->now += MS;
		if (i == 700) {
			dealloc(f, 0, 0x100000);
			f->now += MS;
			alloc(f, 0, 0x200000, 4096);
			f->now += MS;
			dealloc(f, 0, 0x200000);
			continue;
		}
		dealloc(f, 0, 0x100000);
		f->now += MS;
		alloc(f, 0, 0x200000, 4096);
		f->now += MS;
		alloc(f, 0, 0x100000, 100);
		f->now += MS;
		dealloc(f, 0, 0x100000);
		f->now += MS;
		dealloc(f, 0, 0x200000);
	}
	s = only_series(f, 0);
	assert_true(s->point_count <= 16);
	assert_true(s->point_count >= 4);
	for (size_t i = 0; i < s->point_count; i++) {
		if (i)
			assert_true(s->points[i].ts_ns > s->points[i - 1].ts_ns);
		max = s->points[i].live_bytes > max ? s->points[i].live_bytes : max;
		min = s->points[i].live_bytes < min ? s->points[i].live_bytes : min;
		peak |= s->points[i].live_bytes == (1 << 20);
		trough |= s->points[i].live_bytes == 0;
	}
	assert_true(peak);
	assert_true(trough);
	assert_int_equal(max, s->peak_bytes);
	/* the newest point is the value now */
	assert_int_equal(s->points[s->point_count - 1].live_bytes, 0);
	assert_int_equal(s->points[s->point_count - 1].ts_ns, f->now);
}

/* A close ends all it held at one instant: one event per series and reason, with counts. */
static void test_events_coalesced(void **state)
{
	struct fixture *f = *state;
	const struct timeline_event *ev;
	size_t count;

	alloc(f, 0, 0x1000, 4096);
	alloc(f, 0, 0x3000, 1024);
	send(f, DL_EV_ALLOC, 0, DL_MEM_L1, 0x9000, 64);
	f->now += MS;
	dealloc(f, 0, 0x7000); /* matches nothing */
	f->now += MS;
	close_device(f, 0);
	f->now += MS;
	alloc(f, 1, 0x1000, 512);
	f->now += MS;
	exit_process(f);
	ev = timeline__events(f->timeline, &count);
	assert_int_equal(count, 6);
	assert_int_equal(ev[0].kind, TIMELINE_EVENT_UNMATCHED);
	/* the close ends what it held in the table's order: DRAM and L1 either way round */
	for (int i = 1; i <= 2; i++) {
		bool dram = ev[i].mem_type == DL_MEM_DRAM;

		assert_int_equal(ev[i].kind, TIMELINE_EVENT_UNTRACKED);
		assert_int_equal(ev[i].reason, LEDGER_REASON_DEVICE_CLOSED);
		assert_int_equal(ev[i].count, dram ? 2 : 1);
		assert_int_equal(ev[i].bytes, dram ? 5120 : 64);
	}
	assert_int_not_equal(ev[1].mem_type, ev[2].mem_type);
	assert_int_equal(ev[3].kind, TIMELINE_EVENT_CLOSED);
	assert_int_equal(ev[3].ts_ns, 1002 * MS);
	assert_int_equal(ev[4].kind, TIMELINE_EVENT_LEAKED);
	assert_int_equal(ev[4].device_id, 1);
	assert_int_equal(ev[4].bytes, 512);
	assert_int_equal(ev[5].kind, TIMELINE_EVENT_EXITED);
	/* growth of chip 0 ends at its close, of chip 1 at the exit */
	assert_int_equal(only_series(f, 0)->end_ns, 1002 * MS);
	assert_int_equal(only_series(f, 2)->end_ns, 1004 * MS);
	timeline__lost(f->timeline, 5, f->now);
	timeline__lost(f->timeline, 5, f->now);
	timeline__lost(f->timeline, 7, f->now);
	ev = timeline__events(f->timeline, &count);
	assert_int_equal(count, 8);
	assert_int_equal(ev[6].kind, TIMELINE_EVENT_LOST);
	assert_int_equal(ev[6].count, 5);
	assert_int_equal(ev[7].count, 2);
}

static void test_snapshots(void **state)
{
	struct fixture *f = *state;
	const struct timeline_snapshot *snaps;
	const struct timeline_event *ev;
	size_t count, events;

	assert_int_equal(timeline__snapshot(f->timeline, NULL, f->now), 0);
	alloc(f, 0, 0x1000, 4096);
	send(f, DL_EV_ALLOC, 0, DL_MEM_L1, 0x9000, 64);
	f->now += MS;
	assert_int_equal(timeline__snapshot(f->timeline, "after setup", f->now), 0);
	snaps = timeline__snapshots(f->timeline, &count);
	assert_int_equal(count, 2);
	assert_string_equal(snaps[0].label, "mark 1");
	assert_int_equal(snaps[0].entry_count, 0);
	assert_string_equal(snaps[1].label, "after setup");
	assert_int_equal(snaps[1].ts_ns, 1001 * MS);
	assert_int_equal(snaps[1].entry_count, 2);
	assert_int_equal(snaps[1].entries[0].mem_type, DL_MEM_DRAM);
	assert_int_equal(snaps[1].entries[0].live_bytes, 4096);
	assert_int_equal(snaps[1].entries[0].live_count, 1);
	assert_int_equal(snaps[1].entries[1].mem_type, DL_MEM_L1);
	assert_int_equal(snaps[1].entries[1].live_bytes, 64);
	ev = timeline__events(f->timeline, &events);
	assert_int_equal(events, 2);
	assert_int_equal(ev[1].kind, TIMELINE_EVENT_SNAPSHOT);
	assert_int_equal(ev[1].snapshot, 1);
}

/*
 * One iteration: a working buffer allocated and freed, and `leak` bytes
 * kept; a snapshot after it when asked.
 */
static void iterate(struct fixture *f, int n, uint64_t leak, bool snapshots)
{
	for (int i = 0; i < n; i++) {
		f->now += 10 * MS;
		alloc(f, 0, 0x100000, 64 * 1024);
		f->now += 10 * MS;
		if (leak)
			alloc(f, 0, 0x200000 + (uint64_t)i * leak, leak);
		f->now += 10 * MS;
		dealloc(f, 0, 0x100000);
		f->now += 10 * MS;
		if (snapshots)
			assert_int_equal(timeline__snapshot(f->timeline, NULL, f->now), 0);
	}
}

static void test_growth_per_snapshot(void **state)
{
	struct fixture *f = *state;
	struct timeline_growth g;

	iterate(f, 50, 36 * 1024, true);
	timeline__growth(f->timeline, 0, f->now, &g);
	assert_true(g.growing);
	assert_int_equal(g.basis, TIMELINE_BASIS_SNAPSHOTS);
	assert_int_equal(g.snapshots, 50);
	assert_int_equal(g.intervals, 48);
	assert_true(fabs(g.bytes_per_snapshot - 36 * 1024) < 1e-6);
	/* 36 KiB per 40 ms iteration */
	assert_true(fabs(g.slope_bytes_per_s - 36 * 1024 / 0.040) < 1);
}

static void test_steady_never_growing(void **state)
{
	struct fixture *f = *state;
	struct timeline_growth g;

	alloc(f, 0, 0x900000, 8192); /* held throughout */
	iterate(f, 50, 0, true);
	timeline__growth(f->timeline, 0, f->now, &g);
	assert_false(g.growing);
	assert_int_equal(g.basis, TIMELINE_BASIS_SNAPSHOTS);
	assert_int_equal(g.first_min_bytes, 8192);
	assert_int_equal(g.last_min_bytes, 8192);
	assert_true(g.bytes_per_snapshot == 0);
}

/* With no snapshots, windows of time: both ways, and the close's drop is past the end. */
static void test_growth_over_time(void **state)
{
	struct fixture *f = *state;
	struct timeline_growth g;

	iterate(f, 40, 1024, false);
	send(f, DL_EV_ALLOC, 0, DL_MEM_L1, 0x9000, 64);
	for (int i = 0; i < 40; i++) {
		f->now += 40 * MS;
		send(f, DL_EV_ALLOC, 0, DL_MEM_L1, 0x10000, 4096);
		f->now += 10 * MS;
		send(f, DL_EV_FREE, 0, DL_MEM_L1, 0x10000, 0);
	}
	f->now += MS;
	close_device(f, 0);
	f->now += 10000 * MS;
	timeline__growth(f->timeline, 0, f->now, &g);
	assert_int_equal(g.basis, TIMELINE_BASIS_TIME);
	assert_true(g.growing);
	assert_true(g.slope_bytes_per_s > 0);
	timeline__growth(f->timeline, 1, f->now, &g);
	assert_int_equal(g.basis, TIMELINE_BASIS_TIME);
	assert_false(g.growing);
	assert_int_equal(g.first_min_bytes, 64);
}

static void test_too_short(void **state)
{
	struct fixture *f = *state;
	struct timeline_growth g;

	alloc(f, 0, 0x1000, 4096);
	f->now += MS;
	alloc(f, 0, 0x2000, 4096);
	timeline__growth(f->timeline, 0, f->now, &g);
	assert_int_equal(g.basis, TIMELINE_BASIS_TOO_SHORT);
	assert_false(g.growing);
	assert_string_equal(timeline_basis_name(g.basis), "too_short");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_points_follow_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downsampling_keeps_extremes, setup_small,
						teardown),
		cmocka_unit_test_setup_teardown(test_events_coalesced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_per_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_never_growing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_over_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_short, setup, teardown),
	};

	return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}
