/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The command line of `devledger trace`, parsed into plain values. */
#ifndef DEVLEDGER_OPTIONS_H
#define DEVLEDGER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OPTIONS_MAX_PIDS    64
/* User stack copied with each stack sample, unless --stack-bytes says otherwise. */
#define OPTIONS_DEFAULT_STACK_BYTES 8192
/* Frames of each site the report prints, unless --stack-frames says otherwise. */
#define OPTIONS_DEFAULT_STACK_FRAMES 6
#define OPTIONS_MAX_OFFSETS 8

enum trace_mode {
	MODE_NONE = 0,
	MODE_COMMAND, /* -- CMD [ARG...] */
	MODE_PIDS,    /* -p PID... */
	MODE_SYSTEM,  /* -a */
};

enum subcommand {
	SUBCOMMAND_TRACE = 0,
	SUBCOMMAND_CHECK,
	SUBCOMMAND_MARK,
	SUBCOMMAND_DIFF,
	SUBCOMMAND_REPORT,
	SUBCOMMAND_SERVE,
};

/* devledger serve's default --metrics: loopback only, until told otherwise. */
#define OPTIONS_METRICS_DEFAULT "127.0.0.1:9477"
#define OPTIONS_RETAIN_DEFAULT_S 300

struct options {
	enum subcommand subcommand;
	enum trace_mode mode;
	pid_t pids[OPTIONS_MAX_PIDS];
	size_t pid_count;
	char **command; /* NULL-terminated, points into argv */
	const char *library;
	const char *output;
	double duration_s; /* 0: until the end */
	double interval_s; /* 0: no live table */
	size_t ring_bytes; /* 0: default */
	size_t max_live;   /* --max-live: live allocations kept per process; 0: the ledger's default */
	size_t stack_bytes;  /* 0: --no-stacks */
	size_t stack_frames; /* per site in the report */
	bool fail_on_leak;
	bool quiet;
	bool verbose;
	bool entry_probes;
	bool perf_uprobes;   /* one perf-event uprobe per probe */
	bool json;	     /* check --json */
	const char *profile; /* --profile NAME; NULL: from the library's symbols */
	/* --offset NAME=N, repeatable */
	char offset_names[OPTIONS_MAX_OFFSETS][48];
	unsigned int offset_values[OPTIONS_MAX_OFFSETS];
	size_t offset_count;
	bool version;
	const char *timeline; /* trace --timeline FILE: Chrome trace-event JSON */
	pid_t mark_pid;	      /* mark PID [LABEL] */
	const char *mark_label;
	/* diff OLD NEW (each FILE or FILE#LABEL); report SUMMARY (-o is the HTML) */
	const char *inputs[2];
	size_t input_count;
	size_t allow_bytes; /* diff --allow BYTES */
	/* serve */
	char metrics_host[48]; /* numeric IPv4 or IPv6 address, without brackets */
	unsigned int metrics_port;
	double retain_s;	     /* per-pid series kept this long after the process exits */
	const char *per_process_dir; /* each exited process's summary, written here */
};

/*
 * Parse `argv` (argv[0] = "devledger"). Returns 0, or 1 when the help or the
 * version was printed (exit 0), or -EINVAL with a one-line message in
 * `error` (exit 2). Never exits.
 */
int options__parse(int argc, char **argv, struct options *opts, char *error, size_t error_len);

#endif /* DEVLEDGER_OPTIONS_H */
