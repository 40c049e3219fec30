/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where the libtt_metal.so to trace is. Every failure prints one line saying what was tried. */
#ifndef DEVLEDGER_LIBFIND_H
#define DEVLEDGER_LIBFIND_H

#include <stddef.h>
#include <sys/types.h>

#define LIBFIND_NAME "libtt_metal.so"

/* --lib PATH: exists, is an ELF file; resolved to an absolute path. Returns 0 or -errno. */
int libfind__check(const char *path, char *out, size_t out_len);

/* The library process `pid` maps, from maps_path (normally /proc/PID/maps; NULL for that). */
int libfind__from_pid(pid_t pid, const char *maps_path, char *out, size_t out_len);

/*
 * For a command about to be launched: the library its dynamic loader would
 * load (asked with `INTERP --list`, the command itself is not run), else
 * $TT_METAL_HOME/build/lib/libtt_metal.so.
 */
int libfind__for_command(const char *command, char *out, size_t out_len);

/* The command as execvp would find it (through PATH). Returns 0 or -errno. */
int libfind__resolve_command(const char *command, char *out, size_t out_len);

/* For -a without --lib: $TT_METAL_HOME/build/lib/libtt_metal.so. */
int libfind__default(char *out, size_t out_len);

/*
 * Ask the program interpreter of the ELF `binary` where it would load the
 * library called `name` from. Returns 0, -ENOENT (not a dependency), -ENOEXEC
 * (not a dynamic ELF).
 */
int libfind__ask_loader(const char *binary, const char *name, char *out, size_t out_len);

#endif /* DEVLEDGER_LIBFIND_H */
