/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger serve: the whole system traced until stopped, as Prometheus
 * metrics over HTTP, with each exited process's summary handed out and
 * forgotten.
 */
#ifndef DEVLEDGER_SERVE_H
#define DEVLEDGER_SERVE_H

struct options;
struct library_opts;

/* Runs until SIGINT or SIGTERM (or --duration); returns the exit status. */
int serve__run(const struct options *opts, const struct library_opts *library_opts);

#endif /* DEVLEDGER_SERVE_H */
