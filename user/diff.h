/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger diff OLD NEW: two JSON summaries (or two snapshots, FILE#LABEL)
 * compared per device and memory type, and their leak sites, for a person
 * and for a CI job's exit status.
 */
#ifndef DEVLEDGER_DIFF_H
#define DEVLEDGER_DIFF_H

#include <stdint.h>
#include <stdio.h>

#define DIFF_EXIT_MORE_LEAKS 1
#define DIFF_EXIT_BAD_INPUT  2

/*
 * Print the comparison to out. Returns 0 when NEW leaks at most allow_bytes
 * more than OLD, DIFF_EXIT_MORE_LEAKS when it leaks more, DIFF_EXIT_BAD_INPUT
 * (after one line on stderr) when an input cannot be read.
 */
int diff__run(const char *old_spec, const char *new_spec, uint64_t allow_bytes, FILE *out);

#endif /* DEVLEDGER_DIFF_H */
