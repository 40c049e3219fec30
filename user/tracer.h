/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side, seen from user space: load the programs, attach the uprobes
 * to libtt_metal.so, and hand every ring-buffer record, unchanged, to a
 * callback. Knows nothing of what the records mean.
 */
#ifndef DEVLEDGER_TRACER_H
#define DEVLEDGER_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../bpf/devledger.h"

struct tracer;
struct dl_bpf_stats;
struct library;

enum tracer_mode {
	/* -p: each target's pid, in the library that pid maps; those processes and their children */
	TRACER_PIDS,
	/* launch: targets[0] is the command's pid (not yet exec'd); it and its descendants */
	TRACER_COMMAND,
	/* -a: every process that maps targets[0].library, now or later */
	TRACER_SYSTEM,
};

struct tracer_target {
	pid_t pid; /* ignored in TRACER_SYSTEM */
	/* libtt_metal.so as this process maps it: what to probe where, and what each reports;
	 * NULL when it maps none yet */
	const struct library *library;
};

/* Returns 0 to go on, or a negative errno to stop polling (returned by tracer__poll). */
typedef int (*tracer_record_fn)(void *ctx, const void *record, size_t size);

struct tracer_opts {
	enum tracer_mode mode;
	const struct tracer_target *targets;
	size_t target_count;
	size_t ring_bytes; /* 0: default; otherwise a power of 2, multiple of the page size */
	bool verbose;	   /* libbpf's debug log, and the probe sites chosen, on stderr */
	bool perf_uprobes; /* one perf-event uprobe per probe, even where uprobe_multi exists */
	tracer_record_fn on_record;
	/*
	 * Stack samples (struct dl_stack_sample): stack_bytes of user stack with each
	 * (0: none taken), in a ring of stack_ring_bytes (0: default). Every record's
	 * sample reaches on_stack before the record reaches on_record.
	 */
	uint32_t stack_bytes;
	size_t stack_ring_bytes;
	tracer_record_fn on_stack;
	void *ctx;
};

/*
 * Open, load and attach everything: the targets' libraries (none is fine:
 * one may be loaded later), the process tracepoints, and the watch for
 * libraries a traced process maps (DL_EV_LIBRARY_MAPPED records). On
 * failure prints one line naming the problem (not root, ...) to stderr,
 * returns NULL and sets errno.
 */
struct tracer *tracer__open(const struct tracer_opts *opts);

/*
 * Probe one more library, in every process that maps it (the BPF side keeps
 * to the traced ones). -ENOSPC past
 * DL_MAX_LIBRARIES libraries or the spec groups' room, else -errno.
 */
int tracer__add_library(struct tracer *tracer, const struct library *lib);

/* Say what to do when a traced process maps this file (enum dl_file_state): a probed
 * file's mappings cost no stop. */
int tracer__set_file(struct tracer *tracer, const struct dl_file *file, enum dl_file_state state);

/* Stop watching for libraries: after this, no process is stopped for one. */
void tracer__unwatch(struct tracer *tracer);

/* Wait up to timeout_ms for records and consume all there are. Returns the number consumed or
 * -errno (-EINTR is not an error). */
int tracer__poll(struct tracer *tracer, int timeout_ms);

/* Consume every record left in the ring. Returns the number consumed or -errno. */
int tracer__drain(struct tracer *tracer);

/* Counters of what the BPF side could not deliver. */
int tracer__stats(const struct tracer *tracer, struct dl_bpf_stats *stats);

/*
 * Uprobe hits per probe (index into probes[], count of them), every trap
 * counted, whether it made a record or not. Returns 0 or -errno.
 */
int tracer__hits(const struct tracer *tracer, uint64_t *hits, size_t count);

/* "devledger: probe hits: track_allocate N, ... M in all" (-v). */
void tracer__print_hits(const struct tracer *tracer, FILE *out);

void tracer__free(struct tracer *tracer);

#endif /* DEVLEDGER_TRACER_H */
