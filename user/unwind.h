/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Call stacks from stack samples (struct dl_stack_sample: registers and a
 * copy of the top of the user stack): unwound with the call-frame
 * information (.eh_frame, .debug_frame) of the modules the process maps, as
 * libdw reads it, deduplicated, and symbolized on demand. Works on code
 * built without frame pointers. Knows nothing of the ledger.
 */
#ifndef DEVLEDGER_UNWIND_H
#define DEVLEDGER_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct unwind;

/* Frames kept per stack at most: deeper ones are cut (and counted). */
#define UNWIND_MAX_FRAMES 128

struct unwind_opts {
	/* /proc/PID/maps of a process: "/proc/%u/maps" unless set (tests give a fixture) */
	const char *maps_format;
};

/* One frame, innermost first. Strings are the module's; NULL (and line 0) where unknown. */
struct unwind_frame {
	uint64_t address;     /* the pc, or the return address of a caller's frame */
	const char *module;   /* the file's path */
	const char *function; /* demangled */
	uint64_t offset;      /* of address in function */
	const char *file;     /* from the module's DWARF line table */
	unsigned int line;
};

struct unwind_stats {
	uint64_t samples;	/* stack samples given */
	uint64_t unique_stacks; /* stacks told apart by their frames' addresses */
	uint64_t frames;	/* frames unwound, over every sample */
	uint64_t rule_hits;	/* frames whose unwind rule was cached already */
	uint64_t stack_hits;	/* samples whose stack was known already */
	uint64_t truncated;	/* stacks cut: the copy ended, or no rule for a pc, or too deep */
	uint64_t unmapped;	/* samples whose first pc no mapping of the process held */
	uint64_t maps_reads;	/* /proc/PID/maps read */
	uint64_t unwind_ns;	/* time spent in unwind__add_sample */
};

/* NULL and errno set on failure. opts may be NULL. */
struct unwind *unwind__new(const struct unwind_opts *opts);
void unwind__free(struct unwind *unwind);

/*
 * Unwind one sample (size bytes) now, while its process runs: its mappings
 * are read at its first sample and again when a pc falls outside them.
 * Returns 0, -EINVAL for a malformed sample, -ENOMEM.
 */
int unwind__add_sample(struct unwind *unwind, const void *sample, size_t size);

/* The stack (1..) of the sample with this sequence number, 0 if none was unwound. */
uint32_t unwind__stack_of(const struct unwind *unwind, uint32_t sequence);

/*
 * A file the session knows by path: a traced library (its index in the
 * probes' cookies) or, with library -1, a command's executable. A process
 * gone before its mappings could be read is still placed by them: the
 * library at the bias its samples carry, the executable by its inode and
 * start of code. 0, or -errno (the file cannot be read).
 */
int unwind__add_file(struct unwind *unwind, const char *path, int library);

/* The process is gone: a later sample with its pid is another process's. */
void unwind__process_exited(struct unwind *unwind, uint32_t pid);

/*
 * The stack of a ring record (struct dl_event: its sample's; 0 for none),
 * noting a process's exit (struct dl_exit_event) on the way. unwind may be
 * NULL (no stacks): 0.
 */
uint32_t unwind__record_stack(struct unwind *unwind, const void *record, size_t size);

/*
 * The frames of stack id, symbolized (once), valid until unwind__free.
 * -ENOENT for an id never returned by unwind__stack_of.
 */
int unwind__frames(struct unwind *unwind, uint32_t id, const struct unwind_frame **frames,
		   size_t *count);

/* The pid whose sample made stack id, 0 if none. */
uint32_t unwind__stack_pid(const struct unwind *unwind, uint32_t id);

void unwind__stats(const struct unwind *unwind, struct unwind_stats *stats);

#endif /* DEVLEDGER_UNWIND_H */
