/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ledger fed any stream of records, as the ring buffer hands them over:
 * the BPF side is devledger's, but what it reads is the traced process's
 * memory, and any value can arrive in any order. Input: one byte of modes,
 * then records back to back, each a struct dl_exit_event when its first
 * field says DL_EV_PROCESS_EXIT, else a struct dl_event; a shorter tail is
 * fed as a short record. Each record is handed over in a buffer of exactly
 * its size, so ASan sees a read past it.
 *
 * A stream may be replayed up to 64 times, each time with one field moved
 * on (the address, pid, tid or device id): a few records then reach what
 * only many do, the table and the pid map growing, more threads with a free
 * pending than are remembered, CBs on more devices than one release tracks.
 *
 * After every ledger__finish the accounting the summary prints must hold,
 * for every process, device and type: allocs == frees + untracked_frees +
 * leaks + live_count, and the lists agree with the counts.
 *
 * A timeline follows the ledger as its observer, with room for 16 points a
 * series so that it downsamples: its points stay in time order and within
 * bound, each series ends at the live bytes the ledger told it last, and
 * a verdict can be had on every series.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "fuzz.h"
#include "ledger.h"
#include "timeline.h"

enum ledger_fuzz_mode {
	FUZZ_COLLIDING_HASH = 1 << 0, /* every key in one chain, as the unit tests do */
	FUZZ_FINISH_EACH = 1 << 1,    /* a snapshot after each record, as -i does */
	FUZZ_PROCESS_EXITED = 1 << 2, /* the first record's process reaped by waitpid at the end */
	/* bits 3-4: the stream played 1, 4, 16 or 64 times; bits 5-6: what each replay moves */
	FUZZ_NAMED_PROCESS = 1 << 7, /* the first record's process added and named from /proc */
};

static const unsigned int replays[] = { 1, 4, 16, 64 };

/* Moved on by one replay: addresses by 16 MiB (past any seed's), the others by one. */
enum moved_field { MOVE_ADDRESS, MOVE_PID, MOVE_TID, MOVE_DEVICE_ID };

static uint64_t colliding_hash(const struct ledger_key *key)
{
	(void)key;
	return 0;
}

static void check_stats(const struct ledger_process *p, const struct ledger_stats *s, bool active)
{
	FUZZ_CHECK(s->allocs == s->frees + s->untracked_frees + s->leaks + s->live_count);
	FUZZ_CHECK(s->live_count || !s->live_bytes);
	FUZZ_CHECK(s->peak_bytes >= s->live_bytes);
	FUZZ_CHECK(!p->exited || !s->live_count);
	FUZZ_CHECK(active || !s->allocs);
}

/* The summary prints every listed allocation by its names: each must have one. */
static void check_list(const struct ledger_list *list, bool reasons)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct ledger_record *r = &list->items[i];

		FUZZ_CHECK(ledger_device_kind_name(r->device_kind));
		FUZZ_CHECK(ledger_mem_type_name(r->mem_type));
		FUZZ_CHECK(ledger_reason_name(r->reason));
		FUZZ_CHECK(reasons == (r->reason != LEDGER_REASON_NONE));
	}
}

static void check_ledger(struct ledger *ledger)
{
	const struct ledger_process *processes;
	size_t count;

	FUZZ_CHECK(ledger__finish(ledger) == 0);
	processes = ledger__processes(ledger, &count);
	for (size_t i = 0; i < count; i++) {
		const struct ledger_process *p = &processes[i];
		uint64_t untracked = 0, leaks = 0, live = 0;

		FUZZ_CHECK(i == 0 || processes[i - 1].pid <= p->pid);
		for (size_t d = 0; d < p->device_count; d++) {
			const struct ledger_device *dev = &p->devices[d];

			FUZZ_CHECK(d == 0 || p->devices[d - 1].kind < dev->kind ||
				   (p->devices[d - 1].kind == dev->kind &&
				    p->devices[d - 1].device_id < dev->device_id));
			for (unsigned int t = 0; t < DL_MEM_TYPES; t++) {
				check_stats(p, &dev->mem[t], dev->active_types & (1u << t));
				untracked += dev->mem[t].untracked_frees;
				leaks += dev->mem[t].leaks;
				live += dev->mem[t].live_count;
			}
		}
		check_list(&p->untracked_frees, true);
		check_list(&p->unmatched_frees, true);
		check_list(&p->leaks, false);
		check_list(&p->live, false);
		FUZZ_CHECK(p->untracked_frees.count == untracked);
		FUZZ_CHECK(p->leaks.count == leaks);
		FUZZ_CHECK(p->live.count == live);
	}
}

static void check_timeline(const struct timeline *timeline)
{
	const struct timeline_series *series;
	size_t count;

	FUZZ_CHECK(timeline__error(timeline) == 0);
	series = timeline__series(timeline, &count);
	for (size_t i = 0; i < count; i++) {
		const struct timeline_series *s = &series[i];
		struct timeline_growth growth;

		FUZZ_CHECK(s->point_count >= 1 && s->point_count <= 16);
		FUZZ_CHECK(s->points[s->point_count - 1].live_bytes == s->live_bytes);
		for (size_t p = 1; p < s->point_count; p++)
			FUZZ_CHECK(s->points[p].ts_ns > s->points[p - 1].ts_ns);
		timeline__growth(timeline, i, UINT64_MAX, &growth);
		FUZZ_CHECK(growth.basis != TIMELINE_BASIS_TOO_SHORT || !growth.growing);
		FUZZ_CHECK(!growth.growing || growth.last_min_bytes > growth.first_min_bytes);
	}
}

/* The replay'th copy of one record, in a buffer of its own size. */
static void *replayed(const uint8_t *bytes, size_t n, unsigned int replay, enum moved_field field)
{
	void *record = malloc(n);
	uint32_t kind = 0;

	FUZZ_CHECK(record);
	memcpy(record, bytes, n);
	memcpy(&kind, bytes, n < sizeof(kind) ? n : sizeof(kind));
	if (!replay)
		return record;
	if (field == MOVE_PID && n >= offsetof(struct dl_event, pid) + sizeof(uint32_t)) {
		uint32_t pid;

		memcpy(&pid, (char *)record + offsetof(struct dl_event, pid), sizeof(pid));
		pid += replay;
		memcpy((char *)record + offsetof(struct dl_event, pid), &pid, sizeof(pid));
	} else if (kind != DL_EV_PROCESS_EXIT && n == sizeof(struct dl_event)) {
		struct dl_event *ev = record;

		if (field == MOVE_ADDRESS)
			ev->address += (uint64_t)replay << 24;
		else if (field == MOVE_TID)
			ev->tid += replay;
		else if (field == MOVE_DEVICE_ID)
			ev->device_id = (int32_t)((uint32_t)ev->device_id + replay);
	}
	return record;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger_opts opts = { 0 };
	uint64_t applied = 0, refused = 0;
	struct ledger *ledger;
	struct timeline *timeline;
	uint32_t first_pid = 0;
	unsigned int mode;
	enum moved_field field;

	if (size < 1)
		return 0;
	mode = data[0];
	field = (enum moved_field)((mode >> 5) & 3);
	if (mode & FUZZ_COLLIDING_HASH)
		opts.hash = colliding_hash;
	ledger = ledger__new(&opts);
	timeline = timeline__new(16);
	FUZZ_CHECK(ledger && timeline);
	FUZZ_CHECK(ledger__observe(ledger, timeline__observe, timeline) == 0);
	if (size >= 1 + 8)
		memcpy(&first_pid, data + 1 + offsetof(struct dl_event, pid), sizeof(first_pid));
	if (mode & FUZZ_NAMED_PROCESS)
		FUZZ_CHECK(ledger__add_process(ledger, first_pid) == 0 &&
			   ledger__set_comm(ledger, first_pid, "unit_tests_api") == 0);
	for (unsigned int replay = 0; replay < replays[(mode >> 3) & 3]; replay++) {
		for (size_t at = 1; at < size;) {
			uint32_t kind = 0;
			size_t n;
			void *record;
			int err;

			memcpy(&kind, data + at,
			       size - at < sizeof(kind) ? size - at : sizeof(kind));
			n = kind == DL_EV_PROCESS_EXIT ? sizeof(struct dl_exit_event)
						       : sizeof(struct dl_event);
			if (n > size - at)
				n = size - at;
			record = replayed(data + at, n, replay, field);
			err = ledger__apply(ledger, record, n);
			free(record);
			FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
			applied++;
			refused += err != 0;
			/* Snapshots of the first play only: one walks the whole table. */
			if ((mode & FUZZ_FINISH_EACH) && !replay) {
				check_ledger(ledger);
				FUZZ_CHECK(timeline__snapshot(timeline, NULL, applied) == 0);
			}
			at += n;
		}
	}
	if (mode & FUZZ_PROCESS_EXITED) {
		int err = ledger__process_exited(ledger, first_pid, 0, UINT64_MAX);

		FUZZ_CHECK(err == 0 || err == -ENOENT);
	}
	check_ledger(ledger);
	check_timeline(timeline);
	FUZZ_CHECK(ledger__events(ledger) <= applied);
	FUZZ_CHECK(ledger__rejected(ledger) >= refused);
	ledger__free(ledger);
	timeline__free(timeline);
	return 0;
}
