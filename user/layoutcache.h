/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a library's DWARF said about the fields devledger reads, kept by the
 * library's GNU build-id under $XDG_CACHE_HOME/devledger/ (default
 * ~/.cache/devledger/): a RelWithDebInfo libtt_metal.so carries hundreds of
 * MB of debug info, and walking it takes most of a second; the same build
 * read again costs a small file.
 */
#ifndef DEVLEDGER_LAYOUTCACHE_H
#define DEVLEDGER_LAYOUTCACHE_H

#include <limits.h>
#include <stddef.h>

struct dwarf_query;

enum layout_cache_use {
	LAYOUT_CACHE_OFF = 0, /* no build-id, or no place for the cache: the DWARF was read */
	LAYOUT_CACHE_HIT,     /* every answer came from the cache entry */
	LAYOUT_CACHE_STORED,  /* the DWARF was read, and the entry written */
};

struct layout_cache_info {
	enum layout_cache_use use;
	char path[PATH_MAX]; /* the entry's file, "" when off */
};

/*
 * dwarf_layout__read, through the cache: the answers for `library`'s build-id
 * when its entry has every query, else the DWARF's, then kept. An entry is
 * trusted only for the build-id it names, in devledger's own format and
 * owned by the user running devledger; a damaged one is ignored with a
 * warning on stderr and written again. Returns what dwarf_layout__read does.
 */
int layout_cache__read(const char *library, const struct dwarf_query *queries, size_t count,
		       unsigned int *offsets, struct layout_cache_info *info);

/* The library's GNU build-id as lowercase hex into buf; -ENOENT when it has none. */
int layout_cache__build_id(const char *library, char *buf, size_t len);

#endif /* DEVLEDGER_LAYOUTCACHE_H */
