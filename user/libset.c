/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "libset.h"

void libset__init(struct libset *set, const struct library_opts *opts, const char *forced)
{
	memset(set, 0, sizeof(*set));
	set->opts = opts;
	set->forced = forced;
}

void libset__free(struct libset *set)
{
	for (size_t i = 0; i < set->count; i++) {
		library__free(set->files[i].library);
		free(set->files[i].pids);
	}
	set->count = 0;
}

static int kernel_name(const char *path, struct libfind_file *file)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	file->dev = ((unsigned long long)major(st.st_dev) << 20) | minor(st.st_dev);
	file->ino = st.st_ino;
	return 0;
}

static struct libset_file *new_file(struct libset *set, const char *path)
{
	struct libset_file *f;

	if (set->count == LIBSET_MAX_FILES) {
		errno = ENOSPC;
		return NULL;
	}
	f = &set->files[set->count++];
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", path);
	kernel_name(path, &f->file);
	return f;
}

struct libset_file *libset__add(struct libset *set, const char *path)
{
	struct libset_file *f;

	for (size_t i = 0; i < set->count; i++)
		if (!strcmp(set->files[i].path, path))
			return &set->files[i];
	f = new_file(set, path);
	if (!f)
		return NULL;
	f->library = library__open(path, set->opts, false);
	if (!f->library) {
		int err = errno;

		set->count--;
		errno = err;
		return NULL;
	}
	return f;
}

struct libset_file *libset__find(struct libset *set, const struct libfind_file *file)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->files[i].file.dev == file->dev && set->files[i].file.ino == file->ino)
			return &set->files[i];
	return NULL;
}

struct libset_file *libset__mapped(struct libset *set, pid_t pid, const struct libfind_file *file)
{
	char path[PATH_MAX], root[PATH_MAX + 32];
	struct libset_file *f;
	struct libfind_file named;

	if (libfind__mapped(pid, file, path, sizeof(path)))
		snprintf(path, sizeof(path), "(a %s of process %d, gone from its maps)",
			 LIBFIND_NAME, (int)pid);
	f = new_file(set, path);
	if (!f)
		return NULL;
	/* The kernel's name is the one the records carry, whatever the path says now. */
	f->file = *file;
	if (set->forced) {
		snprintf(f->why, sizeof(f->why), "not the library -l names (%s)", set->forced);
		return f;
	}
	/* Another mount namespace (a container): the file is reached through the process's root. */
	snprintf(root, sizeof(root), "%s", path);
	if (kernel_name(path, &named) || named.dev != file->dev || named.ino != file->ino)
		snprintf(root, sizeof(root), "/proc/%d/root%s", (int)pid, path);
	f->library = library__open(root, set->opts, false);
	if (!f->library)
		snprintf(f->why, sizeof(f->why), "it could not be read: %s", strerror(errno));
	return f;
}

int libset__add_pid(struct libset_file *f, uint32_t pid)
{
	for (size_t i = 0; i < f->pid_count; i++)
		if (f->pids[i] == pid)
			return 0;
	if (f->pid_count == f->pid_capacity) {
		size_t capacity = f->pid_capacity ? f->pid_capacity * 2 : 4;
		uint32_t *pids = realloc(f->pids, capacity * sizeof(*pids));

		if (!pids)
			return -ENOMEM;
		f->pids = pids;
		f->pid_capacity = capacity;
	}
	f->pids[f->pid_count++] = pid;
	return 0;
}

const struct library *libset__first_probed(const struct libset *set)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->files[i].probed)
			return set->files[i].library;
	return NULL;
}
