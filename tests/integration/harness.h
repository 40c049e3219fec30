/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the integration tests share: running devledger and the stand-in
 * runtime as real processes, and comparing devledger's JSON summary with the
 * ground truth the stand-in writes about itself.
 */
#ifndef DEVLEDGER_TEST_HARNESS_H
#define DEVLEDGER_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_object;

/* Paths from the environment the Makefile sets (DEVLEDGER, STANDIN_DIR). */
const char *harness_devledger(void);
const char *harness_standin_driver(void);
const char *harness_standin_lib(void);
/* The same stand-in built with -fcf-protection (STANDIN_CET_DIR): endbr64 first in every function. */
const char *harness_standin_cet_driver(void);
const char *harness_standin_cet_lib(void);
/* Built as era C, a pimpl Buffer (STANDIN_ERA_C_DIR). */
const char *harness_standin_era_c_lib(void);
/*
 * A variant's driver or library by the environment variable naming its folder:
 * STANDIN_SHIFTED_DIR (Buffer fields moved: right only from DWARF), STANDIN_STRIPPED_DIR
 * (no DWARF, no .symtab), STANDIN_UNITY_DIR (tt-metal's default unity build with clang: the
 * tracker inlined into its callers), STANDIN_NEWEST_DIR (the newest ABI, built that way: era C,
 * per-thread GraphTracker processors, MeshDevice a pimpl).
 */
const char *harness_variant(const char *env, const char *file);
/* Built with the tracker call inlined into Buffer::allocate_impl (STANDIN_INLINED_DIR). */
const char *harness_standin_inlined_lib(void);

/*
 * The disassembly of one function of a library (objdump -d, names mangled, $OBJDUMP or
 * /usr/bin/objdump), from its "<function>:" line on; free() it. Fails the test when objdump
 * fails or does not show the function: a test that looks for a call in it then proves nothing.
 */
char *harness_disassemble(const char *library, const char *function);

/* A fresh temporary folder, removed with everything in it by harness_rmdir(). */
char *harness_tmpdir(void);
void harness_rmdir(char *dir);
/* dir/name in a static rotating buffer (valid for a few calls). */
const char *harness_path(const char *dir, const char *name);

struct harness_proc {
	pid_t pid;
	int out_fd; /* read end of its stdout, or -1 */
	int err_fd; /* read end of its stderr, or -1 */
	char out[65536]; /* what was read so far (the newest, when more came) */
	size_t out_len;
	char err[65536];
	size_t err_len;
};

/*
 * Start argv[0] (NULL-terminated argv). Standard output and error are
 * captured through pipes when asked, else inherited. uid != 0 drops to that
 * user (and its group) before exec. Fails the test on error.
 */
void harness_spawn(struct harness_proc *proc, char *const argv[], bool capture_out,
		   bool capture_err, uid_t uid);

/* Read from its stdout (or stderr) until `needle` appears; fails the test after timeout_ms. */
void harness_expect_out(struct harness_proc *proc, const char *needle, int timeout_ms);
void harness_expect_err(struct harness_proc *proc, const char *needle, int timeout_ms);

/* Wait for it (reading what it prints); kills it and fails the test after timeout_s. Returns the wait status. */
int harness_wait(struct harness_proc *proc, int timeout_s);

/* Run to completion and return the wait status; stderr captured into proc->err. */
int harness_run(struct harness_proc *proc, char *const argv[], int timeout_s);

/* Exit code of a wait status, or 128 + signal. */
int harness_exit_code(int status);

/* Parse a JSON file strictly; fails the test when it is missing or not JSON. */
struct json_object *harness_load_json(const char *path);

/* The summary's process entry with this pid; fails the test when absent. */
struct json_object *harness_find_process(struct json_object *summary, long pid);

/*
 * Every fact in the truth file must hold in the summary's entry for that
 * process: exit, hooked allocations, every device (chip or mesh) and type
 * with all nine counters (and no device or type the truth lacks), the
 * untracked frees, leaks and unmatched frees as multisets, and no
 * allocator release left unplaced. Fails the test with the first
 * difference.
 */
void harness_assert_truth(struct json_object *summary, const char *truth_path);

/* The session must have lost nothing. */
void harness_assert_exact(struct json_object *summary);

/* A member by path "a.b.c" (array items by decimal index), or NULL. */
struct json_object *harness_get(struct json_object *obj, const char *path);
long long harness_get_int(struct json_object *obj, const char *path);

#endif /* DEVLEDGER_TEST_HARNESS_H */
