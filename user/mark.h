/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Snapshots asked for from outside a trace: SIGUSR2 to devledger marks a
 * snapshot; `devledger mark PID LABEL` leaves its label in a file named
 * for devledger's pid and its own, then sends the signal, and waits for the
 * file to be taken. Both sides of that exchange are here.
 */
#ifndef DEVLEDGER_MARK_H
#define DEVLEDGER_MARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where labels wait: root's, as a trace runs as root. */
#define MARK_DIR "/run/devledger"

/*
 * devledger mark: label (may be NULL) for the devledger trace with that pid,
 * then SIGUSR2, then wait up to timeout_ms for it to be taken. Prints one
 * line on failure. Returns 0, -ESRCH (no such process), -ETIMEDOUT (not a
 * devledger trace, or too busy), or -errno.
 */
int mark__send(pid_t devledger, const char *label, int timeout_ms);

/*
 * In the trace: from here on SIGUSR2 asks for a snapshot. When each came
 * (CLOCK_MONOTONIC, the records' clock) and who sent it wait in a queue of
 * MARK_QUEUE; more at once overwrite the oldest.
 */
#define MARK_QUEUE 64
void mark__install(void);

/* Are marks waiting to be taken? */
bool mark__pending(void);

/*
 * Take, in the order they came, the marks that came before before_ns: for
 * each, fn with its label (the one its sender left, else "") and instant.
 * The label's file is removed, so that `devledger mark` knows it was taken.
 */
typedef void (*mark_fn)(void *ctx, const char *label, uint64_t ts_ns);
void mark__take(uint64_t before_ns, mark_fn fn, void *ctx);

#endif /* DEVLEDGER_MARK_H */
