/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Launching a command under trace: the child is forked first and held until
 * the probes are attached, so that none of its calls is missed.
 */
#ifndef DEVLEDGER_LAUNCH_H
#define DEVLEDGER_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct launch {
	pid_t pid;
	int release_fd; /* write end of the pipe the child waits on */
	/* The command's stdout is devledger's stderr: devledger's stdout carries the summary alone. */
	bool stdout_to_stderr;
};

/* Fork the child, blocked before exec. Returns 0 or -errno. */
int launch__start(struct launch *launch, char *const argv[]);

/* Let it exec the command. Returns 0 or -errno. */
int launch__release(struct launch *launch);

/* Kill it and reap it, when tracing could not start. */
void launch__abort(struct launch *launch);

#endif /* DEVLEDGER_LAUNCH_H */
