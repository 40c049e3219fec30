/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tracing session (devledger trace), in the phases every way of running
 * one goes through. Each phase returns 0 to go on, or the exit status to end
 * with (after session__free).
 */
#ifndef DEVLEDGER_SESSION_H
#define DEVLEDGER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

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

/* What a command adds to the phases (devledger serve: the metrics, per-process summaries). */
struct session_hooks {
	/* After prepare, before the probes: 0 to go on, else the exit status. */
	int (*prepared)(void *ctx, struct session *s);
	/* On the run loop's thread after each poll of the records; now_ns is CLOCK_MONOTONIC. */
	void (*tick)(void *ctx, struct session *s, uint64_t now_ns);
	/* After finish, with its exit status: the exit status to end with. */
	int (*finished)(void *ctx, struct session *s, int exit_code);
	/* The command reports at the end itself: the ledger no longer holds all it saw. */
	bool own_report;
	/* No memory over time: a service that runs for weeks would grow it with every process. */
	bool no_timeline;
	void *ctx;
};

/* session__trace with hooks (NULL: none). */
int session__run_with(const struct options *opts, const struct library_opts *library_opts,
		      const struct session_hooks *hooks);

/* The session's ledger, from session__prepare on. */
struct ledger *session__ledger(struct session *s);

/*
 * The summary's view of the session so far: how it ran, what it lost and what it could not
 * see. Strings point into the session.
 */
struct summary_session;
void session__view(struct session *s, struct summary_session *view);

#endif /* DEVLEDGER_SESSION_H */
