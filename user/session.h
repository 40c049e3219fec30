/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tracing session (devledger trace), in the phases every way of running
 * one goes through. Each phase returns 0 to go on, or the exit status to end
 * with (after session__free).
 */
#ifndef DEVLEDGER_SESSION_H
#define DEVLEDGER_SESSION_H

#include "library.h"
#include "options.h"

#define EXIT_RUNTIME   1
#define EXIT_USAGE     2
#define EXIT_LEAK      3
#define EXIT_NOT_FOUND 127

struct session;

/* Copies both; NULL with errno on failure. */
struct session *session__new(const struct options *opts, const struct library_opts *library_opts);

/* Find and read the libraries, check the output path, make the ledger. Nothing is traced yet. */
int session__prepare(struct session *s);

/* Start the command (held), attach the probes, let the command run. */
int session__start(struct session *s);

/* Records into the ledger until the command exits, the targets are gone, time is up or a
 * signal says stop. Returns the exit status so far (0: none decided). */
int session__run(struct session *s);

/* Drain, write the summary and the report; returns the session's exit status. */
int session__finish(struct session *s);

void session__free(struct session *s);

/* Every phase in turn, with SIGINT and SIGTERM ending the session with its summary. */
int session__trace(const struct options *opts, const struct library_opts *library_opts);

#endif /* DEVLEDGER_SESSION_H */
