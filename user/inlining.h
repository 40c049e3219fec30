/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is a call still there? A unity build can inline a tracker function into
 * its caller; the caller's code then no longer calls it, directly or through
 * the PLT (a library calls its own exported functions that way).
 */
#ifndef DEVLEDGER_INLINING_H
#define DEVLEDGER_INLINING_H

#include <stddef.h>
#include <stdint.h>

struct elfsym;

/*
 * 1 when `caller`'s code calls or jumps to `callee` (or its PLT stub, found
 * by `callee_name`), 0 when it does not, -errno when it cannot tell (the file
 * is unreadable, the caller lies outside it).
 */
int inlining__calls(const char *library, const struct elfsym *caller, const struct elfsym *callee,
		    const char *callee_name);

/*
 * Every place in `caller`'s code that calls or jumps to `callee` (or its PLT
 * stub): up to max of them into deltas[] as bytes past the caller's entry.
 * Returns how many there are (more than max, perhaps), or -errno as above.
 */
int inlining__call_sites(const char *library, const struct elfsym *caller,
			 const struct elfsym *callee, const char *callee_name, uint64_t *deltas,
			 size_t max);

#endif /* DEVLEDGER_INLINING_H */
