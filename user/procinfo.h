/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A process as /proc/PID/stat tells it: its state, parent and start time.
 * The start time tells a process from a later one that reuses its pid.
 */
#ifndef DEVLEDGER_PROCINFO_H
#define DEVLEDGER_PROCINFO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct procinfo {
	char state; /* 'R', 'S', ..., 'Z' (zombie), 'X' (dead) */
	pid_t ppid;
	uint64_t start_ticks; /* since boot, in clock ticks */
};

/* Parse the text of a /proc/PID/stat file. Returns 0 or -EINVAL. */
int procinfo__parse_stat(const char *text, struct procinfo *info);

/* Read /proc/PID/stat. Returns 0, -ESRCH when there is no such process, or -errno. */
int procinfo__read(pid_t pid, struct procinfo *info);

/*
 * Is the process that had `start_ticks` still alive: there, not a zombie,
 * and not another process that got its pid since?
 */
bool procinfo__alive(pid_t pid, uint64_t start_ticks);

/* Its argv as /proc/PID/cmdline has it (NUL-separated); *len bytes read. 0 or -errno. */
int procinfo__cmdline(pid_t pid, char *buf, size_t size, size_t *len);

/* Its name as /proc/PID/comm has it, without the newline, NUL-terminated. 0 or -errno. */
int procinfo__comm(pid_t pid, char *buf, size_t size);

/* When a process with these start ticks started, in seconds since the epoch; 0 if unknown. */
double procinfo__started_at(uint64_t start_ticks);

#endif /* DEVLEDGER_PROCINFO_H */
