/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every JSON writer of devledger's shares (the summary, its timeline,
 * the trace-event file): a child attached to its parent as soon as it
 * exists, so that putting the root frees everything. json-c can only fail
 * to allocate: each returns 0 or -ENOMEM, and callers chain them with ||.
 */
#ifndef DEVLEDGER_JSONOUT_H
#define DEVLEDGER_JSONOUT_H

struct json_object;

/* obj[key] = value; key must outlive obj (a string literal or a static name). */
int jsonout__add(struct json_object *obj, const char *key, struct json_object *value);
int jsonout__append(struct json_object *array, struct json_object *value);

#endif /* DEVLEDGER_JSONOUT_H */
