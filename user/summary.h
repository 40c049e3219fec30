/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a session found, for people (the report) and for programs (the JSON
 * summary, schema devledger.summary.v1). Reads the ledger; writes nothing else.
 */
#ifndef DEVLEDGER_SUMMARY_H
#define DEVLEDGER_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct ledger;
struct timeline;

/* A file called libtt_metal.so that the session probed, or that a traced process mapped. */
struct summary_library {
	const char *path;
	bool probed;	     /* its probes were attached */
	const char *profile; /* its layout ("era-b", ...); NULL when not probed */
	const uint32_t *pids; /* the traced processes seen mapping it */
	size_t pid_count;
};
struct unwind;

struct summary_session {
	const char *mode;    /* "command", "pid" or "system" */
	const char *profile; /* layout profile the probes used ("era-b", ...); NULL if unknown */
	const char *layout_source; /* "dwarf", "preset" or "dwarf+preset"; NULL if unknown */
	const struct summary_library *libraries;
	size_t library_count;
	struct timespec started_at; /* CLOCK_REALTIME at the session's start */
	uint64_t start_ns;	    /* CLOCK_MONOTONIC at the start: origin of allocated_at_s */
	double duration_s;
	uint64_t events;       /* records consumed */
	uint64_t lost_events;  /* records the BPF side could not deliver */
	/* What the session could not see, one sentence each: any makes it inexact. */
	const char *const *warnings;
	size_t warning_count;
	double cpu_s;	       /* devledger's own CPU time, user + system */
	uint64_t peak_rss_kib; /* devledger's own peak resident memory */
	/* When set, measures the two above again once the JSON summary is built. */
	void (*usage)(double *cpu_s, uint64_t *peak_rss_kib);
	/* Memory over time, when kept: the summary's "timeline", "growth", "snapshots". */
	const struct timeline *timeline;
	/*
	 * Call stacks, NULL when none were taken (--no-stacks): what a record's
	 * stack tag names. Symbolized as the summary asks for them.
	 */
	struct unwind *stacks;
	uint32_t stack_bytes;  /* copied per sample */
	size_t stack_frames;   /* per site in the report */
	uint64_t stacks_lost;  /* samples the BPF side could not deliver or read */
};

/* What every process's figures add up to (saturating), as the summary's "totals" says. */
struct summary_totals {
	uint64_t processes;
	uint64_t leaks, leaked_bytes;
	uint64_t untracked_frees, untracked_bytes;
	uint64_t unmatched_frees;
};

void summary__totals(const struct ledger *ledger, struct summary_totals *totals);

/* "512 B", "36.0 KiB", "1.5 MiB", as the report writes sizes. */
#define SUMMARY_SIZE_TEXT 24
void summary__size_text(uint64_t bytes, char out[SUMMARY_SIZE_TEXT]);

/*
 * Write the JSON summary to path ("-" for stdout). A file is written whole
 * to a temporary name in the same folder and renamed into place; on failure
 * the temporary file is removed and path is left as it was. The ledger
 * must have been finished (ledger__finish). Prints nothing: returns 0 or
 * -errno (-ENOENT for a missing folder, -EINVAL for an empty path).
 */
int summary__write_json(const struct ledger *ledger, const struct summary_session *session,
			const char *path);

/*
 * Write text and a newline to path ("-" for stdout), whole or not at all, as
 * the summary is: for every file devledger writes. 0 or -errno.
 */
int summary__write_text(const char *path, const char *text);

/*
 * One process's summary, as summary__write_json writes it with that process alone (in
 * "processes" and "totals"; "exact" counts its own dropped allocations and what the ledger
 * rejected so far): for a process that exited, written whole when it is handed out.
 */
struct ledger_process;
int summary__write_process_json(const struct ledger *ledger, const struct ledger_process *process,
				const struct summary_session *session, const char *path);

/*
 * Can a summary be written to path later? Checked before a session starts, so
 * that a long session's summary is never lost at its end: 0, or -errno with
 * `why` saying what is wrong (a folder, a missing folder, no write permission,
 * a name too long for the temporary file beside it).
 */
int summary__check_path(const char *path, char *why, size_t len);

/*
 * The end-of-session report for people: per process its exit, a table per
 * device, untracked frees by reason, leaks, unmatched frees, and a last line
 * "devledger: no leaks" or "devledger: N leaks, X bytes (...)". Returns 0,
 * or -EIO if out reported a write error.
 */
int summary__print_report(const struct ledger *ledger, const struct summary_session *session,
			  FILE *out);

/*
 * The live bytes per process, device and memory type, printed every
 * --interval under one header line with session->duration_s as the elapsed
 * time. Needs no ledger__finish. Returns 0, or -EIO on a write error.
 */
int summary__print_live(const struct ledger *ledger, const struct summary_session *session,
			FILE *out);

#endif /* DEVLEDGER_SUMMARY_H */
