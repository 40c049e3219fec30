/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* devledger check: explain what devledger would probe in a library, without tracing. */
#ifndef DEVLEDGER_CHECK_H
#define DEVLEDGER_CHECK_H

#include <stdbool.h>
#include <stdio.h>

struct library;

/*
 * For every probe: the function found (.symtab or .dynsym) and its file
 * offset, or that it is missing; whether it is attached in this library and
 * why not; the probe site and why; what it reads. Then the era (named, or
 * how it was chosen), each field the probes read with its offset and where
 * that came from, every tracker call and whether it was inlined (and what
 * devledger does about it), the vtables, and warnings. As text or JSON.
 * Returns 0 when every required function is there, else 1.
 */
int check__print(const struct library *library, bool json, FILE *out);

#endif /* DEVLEDGER_CHECK_H */
