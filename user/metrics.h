/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ledger as Prometheus metrics: series per process, device and memory
 * type, kept up to date from the ledger's changes (it observes the ledger,
 * it never finishes it), and rendered in the text exposition format.
 *
 * Labels are bounded: a process's series stay retain_s after it exits, then
 * its counts are added to its command's totals (the same counters without a
 * pid label), so every counter summed over a command never goes back.
 */
#ifndef DEVLEDGER_METRICS_H
#define DEVLEDGER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "../bpf/devledger.h"

struct metrics;
struct ledger_change;

struct metrics_opts {
	double retain_s; /* how long an exited process's series stay */
	/*
	 * The name (comm) of a process first seen, NUL-terminated in comm; called from
	 * inside the ledger's observer. NULL: names come only from what serve tells.
	 */
	void (*name)(void *ctx, uint32_t pid, char comm[DL_COMM_LEN]);
	void *name_ctx;
};

/* NULL with errno on failure. */
struct metrics *metrics__new(const struct metrics_opts *opts);
void metrics__free(struct metrics *m);

/* A ledger_observer_fn: pass it with the metrics as ctx to ledger__observe. */
void metrics__observe(void *metrics, const struct ledger_change *change);

/*
 * Drop the series of processes that exited retain_s or more before now_ns
 * (CLOCK_MONOTONIC, the clock of the records), their counts going on in their
 * command's totals. Returns how many processes were dropped.
 */
size_t metrics__expire(struct metrics *m, uint64_t now_ns);

/* What the session says of itself, for the counters that are not the ledger's. */
struct metrics_session {
	uint64_t events;	  /* records consumed */
	uint64_t lost_events;	  /* records the BPF side could not deliver */
	uint64_t rejected_events; /* records the ledger could not account for */
	uint64_t dropped_allocations;
};

/*
 * The exposition (text format 0.0.4), NUL-terminated, in a buffer the
 * caller frees. 0 or -ENOMEM.
 */
int metrics__render(const struct metrics *m, const struct metrics_session *session, char **text,
		    size_t *len);

/* What every series and total adds up to, for the last line of a report. */
struct metrics_sum {
	uint64_t exits;
	uint64_t leaks, leaked_bytes;
	uint64_t untracked_frees, untracked_bytes;
	uint64_t unmatched_frees;
};

void metrics__sum(const struct metrics *m, struct metrics_sum *sum);

/* Series held (per process and per command), for bounds and tests. */
size_t metrics__series(const struct metrics *m);

#endif /* DEVLEDGER_METRICS_H */
