/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The libtt_metal.so files of one session: each read once, probed or not
 * (and why), and the traced processes seen mapping it. A process may load
 * any copy, at start or with dlopen: the set grows as they are found.
 */
#ifndef DEVLEDGER_LIBSET_H
#define DEVLEDGER_LIBSET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libfind.h"
#include "library.h"

#define LIBSET_MAX_FILES 128

struct libset_file {
	char path[PATH_MAX];
	struct libfind_file file; /* its kernel name; dev 0 when it could not be stat'ed */
	struct library *library;  /* read and to be probed; NULL when not (why says so) */
	bool probed;		  /* set by the caller once its probes are attached */
	char why[PATH_MAX + 128]; /* when not probed: one sentence */
	uint32_t *pids;		  /* traced processes seen mapping it, in the order seen */
	size_t pid_count;
	size_t pid_capacity;
};

struct libset {
	const struct library_opts *opts;
	const char *forced; /* -l: only this file is probed; NULL: any copy */
	struct libset_file files[LIBSET_MAX_FILES];
	size_t count;
};

void libset__init(struct libset *set, const struct library_opts *opts, const char *forced);
void libset__free(struct libset *set);

/* The file at path, read now if new. NULL with errno (ENOSPC: too many files). */
struct libset_file *libset__add(struct libset *set, const char *path);

/* The file with this kernel name, or NULL. */
struct libset_file *libset__find(struct libset *set, const struct libfind_file *file);

/*
 * A traced process mapped a file not known yet: find its path in the
 * process's maps, read it, and decide whether it can be probed (not when -l
 * names another file, or it cannot be read). Always returns an entry
 * (NULL only with errno ENOSPC); its library is NULL when it is not to be
 * probed, with why set.
 */
struct libset_file *libset__mapped(struct libset *set, pid_t pid, const struct libfind_file *file);

/* Note that pid maps this file (once). -ENOMEM. */
int libset__add_pid(struct libset_file *f, uint32_t pid);

/* The first probed library, or NULL: the session's layout for the report. */
const struct library *libset__first_probed(const struct libset *set);

#endif /* DEVLEDGER_LIBSET_H */
