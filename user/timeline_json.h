/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The timeline's part of the JSON summary: "timeline" (every series' points),
 * "growth" (one verdict per series) and "snapshots".
 */
#ifndef DEVLEDGER_TIMELINE_JSON_H
#define DEVLEDGER_TIMELINE_JSON_H

#include <stdint.h>

struct json_object;
struct timeline;

/*
 * Add the three keys to root. Times are seconds since start_ns (the
 * session's start); now_ns ends the series still open. 0 or -ENOMEM.
 */
int timeline_json__add(struct json_object *root, const struct timeline *timeline, uint64_t start_ns,
		       uint64_t now_ns);

#endif /* DEVLEDGER_TIMELINE_JSON_H */
