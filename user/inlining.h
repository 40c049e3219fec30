/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is a call still there? A unity build can inline a tracker function into
 * its caller; the caller's code then no longer calls it, directly or through
 * the PLT (a library calls its own exported functions that way).
 */
#ifndef DEVLEDGER_INLINING_H
#define DEVLEDGER_INLINING_H

struct elfsym;

/*
 * 1 when `caller`'s code calls or jumps to `callee` (or its PLT stub, found
 * by `callee_name`), 0 when it does not, -errno when it cannot tell (the file
 * is unreadable, the caller lies outside it).
 */
int inlining__calls(const char *library, const struct elfsym *caller, const struct elfsym *callee,
		    const char *callee_name);

#endif /* DEVLEDGER_INLINING_H */
