/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The timeline as a Chrome trace-event JSON file (--timeline FILE), which
 * ui.perfetto.dev and chrome://tracing open: a counter track of live bytes
 * per process, device and memory type, and instant events for closes,
 * untracked releases (with their reason), leaks at exit, unmatched frees,
 * exits, snapshots and lost records.
 */
#ifndef DEVLEDGER_PERFETTO_H
#define DEVLEDGER_PERFETTO_H

#include <stdint.h>

struct ledger;
struct timeline;

/*
 * Write the file whole (temporary name, then rename). Times are
 * microseconds since start_ns. The ledger (finished) names the processes.
 * 0 or -errno.
 */
int perfetto__write(const char *path, const struct timeline *timeline, const struct ledger *ledger,
		    uint64_t start_ns);

#endif /* DEVLEDGER_PERFETTO_H */
