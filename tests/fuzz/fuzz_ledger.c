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
 * After every ledger__finish the accounting the summary prints must hold,
 * for every process, device and type: allocs == frees + untracked_frees +
 * leaks + live_count, and the lists agree with the counts.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "ledger.h"

enum ledger_fuzz_mode {
	FUZZ_COLLIDING_HASH = 1 << 0, /* every key in one chain, as the unit tests do */
	FUZZ_FINISH_EACH = 1 << 1,    /* a snapshot after each record, as -i does */
	FUZZ_PROCESS_EXITED = 1 << 2, /* the first record's process reaped by waitpid at the end */
};

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
		FUZZ_CHECK(p->untracked_frees.count == untracked);
		FUZZ_CHECK(p->leaks.count == leaks);
		FUZZ_CHECK(p->live.count == live);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger_opts opts = { 0 };
	struct ledger *ledger;
	uint32_t first_pid = 0;
	unsigned int mode;
	size_t at = 1;

	if (size < 1)
		return 0;
	mode = data[0];
	if (mode & FUZZ_COLLIDING_HASH)
		opts.hash = colliding_hash;
	ledger = ledger__new(&opts);
	FUZZ_CHECK(ledger);
	while (at < size) {
		uint32_t kind = 0;
		size_t n;
		void *record;
		int err;

		memcpy(&kind, data + at, size - at < sizeof(kind) ? size - at : sizeof(kind));
		n = kind == DL_EV_PROCESS_EXIT ? sizeof(struct dl_exit_event)
					       : sizeof(struct dl_event);
		if (n > size - at)
			n = size - at;
		if (at == 1 && n >= 8)
			memcpy(&first_pid, data + at + 4, sizeof(first_pid));
		record = malloc(n);
		FUZZ_CHECK(record);
		memcpy(record, data + at, n);
		err = ledger__apply(ledger, record, n);
		free(record);
		FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
		if (mode & FUZZ_FINISH_EACH)
			check_ledger(ledger);
		at += n;
	}
	if (mode & FUZZ_PROCESS_EXITED) {
		int err = ledger__process_exited(ledger, first_pid, 0, UINT64_MAX);

		FUZZ_CHECK(err == 0 || err == -ENOENT);
	}
	check_ledger(ledger);
	ledger__free(ledger);
	return 0;
}
