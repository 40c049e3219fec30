/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* devledger check: explain what devledger would probe in a library, without tracing. */
#ifndef DEVLEDGER_CHECK_H
#define DEVLEDGER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * For every probe: the symbol found (.symtab or .dynsym) and its file
 * offset, or that it is missing; the probe site chosen and why; the layout
 * profile (named, or chosen from the symbols) and the field offsets it gives; warnings (tracker
 * calls that look inlined away). As text or JSON on `out`. Returns 0 when every probed function is
 * resolved, 1 when some are missing, -errno when the library cannot be read (one line on stderr).
 */
struct layout_override;

struct check_opts {
	const char *profile; /* NULL: chosen from the library */
	const struct layout_override *overrides;
	size_t override_count;
	bool json;
	bool entry_probes;
};

int check__run(const char *library, const struct check_opts *opts, FILE *out);

/*
 * Print check's warnings for a library ("devledger: warning: ..."; none when
 * `warnings` is NULL), and say whether Buffer::allocate_impl no longer calls
 * GraphTracker::track_allocate (a unity build inlined it): its return then
 * reports allocations instead.
 */
bool check__inlining(const char *library, FILE *warnings);

#endif /* DEVLEDGER_CHECK_H */
