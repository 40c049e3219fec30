/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Snapshots asked for from outside a trace: SIGUSR2 to devledger marks a
 * snapshot; `devledger mark PID LABEL` leaves its label in a file named
 * for devledger's pid and its own, then sends the signal, and waits for the
 * file to be taken. Both sides of that exchange are here.
 */
#ifndef DEVLEDGER_MARK_H
#define DEVLEDGER_MARK_H

#include <stddef.h>
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
 * In the trace: the label that the process `sender` left for this one, if
 * any, into label (""), and the file removed so the sender knows.
 */
void mark__take_label(pid_t sender, char *label, size_t size);

#endif /* DEVLEDGER_MARK_H */
