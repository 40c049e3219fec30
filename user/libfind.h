/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where the libtt_metal.so to trace is. Every failure prints one line saying what was tried. */
#ifndef DEVLEDGER_LIBFIND_H
#define DEVLEDGER_LIBFIND_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define LIBFIND_NAME "libtt_metal.so"

/* libfind__from_pid reads /proc/PID/maps in pieces of at most this many bytes (fgets's size). */
#define LIBFIND_MAPS_LINE_LEN (PATH_MAX + 256)

/* --lib PATH: exists, is an ELF file; resolved to an absolute path. Returns 0 or -errno. */
int libfind__check(const char *path, char *out, size_t out_len);

/* The library process `pid` maps, from maps_path (normally /proc/PID/maps; NULL for that). */
int libfind__from_pid(pid_t pid, const char *maps_path, char *out, size_t out_len);

enum libfind_maps_line {
	LIBFIND_MAPS_OTHER = 0,	  /* maps anything but the library */
	LIBFIND_MAPS_LIBRARY = 1, /* maps the library */
	LIBFIND_MAPS_DELETED = 2, /* maps the library, deleted or replaced on disk since */
};

/*
 * One piece of /proc/PID/maps as libfind__from_pid reads it (NUL-terminated,
 * normally "address perms offset dev inode pathname\n"): what it maps. For
 * the library, its path is the *path_len bytes at line + *path_start (no
 * newline). No I/O: the text is the process's, and the fuzzer feeds it any.
 */
enum libfind_maps_line libfind__maps_line(const char *line, size_t *path_start, size_t *path_len);

/*
 * For a command about to be launched: the library its dynamic loader would
 * load (asked with `INTERP --list`, the command itself is not run), else
 * $TT_METAL_HOME/build/lib/libtt_metal.so. -ENOENT, unsaid, when neither.
 */
int libfind__for_command(const char *command, char *out, size_t out_len);

/* The command as execvp would find it (through PATH). Returns 0 or -errno. */
int libfind__resolve_command(const char *command, char *out, size_t out_len);

/* $TT_METAL_HOME/build/lib/libtt_metal.so; -ENOENT, unsaid, with what was tried in `tried`. */
int libfind__default(char *out, size_t out_len, char *tried, size_t tried_len);

/* A file as the kernel names it: its superblock's dev_t (MAJOR << 20 | MINOR) and inode. */
struct libfind_file {
	unsigned long long dev;
	unsigned long long ino;
};

/*
 * The path of the library `pid` maps now, that file (NULL: any file called
 * libtt_metal.so...), from /proc/PID/maps. -ENOENT, unsaid, when none.
 */
int libfind__mapped(pid_t pid, const struct libfind_file *file, char *out, size_t out_len);

/*
 * Ask the program interpreter of the ELF `binary` where it would load the
 * library called `name` from. Returns 0, -ENOENT (not a dependency), -ENOEXEC
 * (not a dynamic ELF).
 */
int libfind__ask_loader(const char *binary, const char *name, char *out, size_t out_len);

#endif /* DEVLEDGER_LIBFIND_H */
