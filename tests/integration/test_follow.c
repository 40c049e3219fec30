/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger follows the libtt_metal.so a process really loads: a copy in a
 * folder it was never told about, loaded with dlopen after start (as Python
 * loads ttnn's extension module), in launch mode and system-wide; children
 * forked after a -p attach; and never a clean verdict for a session that
 * probed a library no traced process used.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "harness.h"

#define TIMEOUT_S 120

static int setup(void **state)
{
	*state = harness_tmpdir();
	/* No fallback to name the library: only what the process maps can. */
	unsetenv("TT_METAL_HOME");
	return 0;
}

static int teardown(void **state)
{
	harness_rmdir(*state);
	return 0;
}

static void copy_file(const char *from, const char *to)
{
	char command[3 * 4096];

	snprintf(command, sizeof(command), "cp '%s' '%s'", from, to);
	if (system(command) != 0)
		fail_msg("%s failed", command);
}

/* The stand-in module and its libtt_metal.so, copied into dir/copy: a path devledger is never told. */
static char *copy_module(const char *dir)
{
	char copy[4096];

	snprintf(copy, sizeof(copy), "%s/copy", dir);
	if (mkdir(copy, 0755))
		fail_msg("mkdir %s: %s", copy, strerror(errno));
	copy_file(harness_variant("STANDIN_DIR", "standin_module.so"), copy);
	copy_file(harness_standin_lib(), copy);
	return strdup(copy);
}

/* The summary's session.libraries entry for path; fails the test when absent. */
static struct json_object *library_entry(struct json_object *summary, const char *path)
{
	struct json_object *libraries = harness_get(summary, "session.libraries");

	for (size_t i = 0; libraries && i < json_object_array_length(libraries); i++) {
		struct json_object *lib = json_object_array_get_idx(libraries, i);

		if (!strcmp(json_object_get_string(harness_get(lib, "path")), path))
			return lib;
	}
	fail_msg("session.libraries has no %s: %s", path,
		 json_object_to_json_string(libraries));
	return NULL;
}

static bool lists_pid(struct json_object *library, long pid)
{
	struct json_object *pids = harness_get(library, "pids");

	for (size_t i = 0; pids && i < json_object_array_length(pids); i++)
		if (json_object_get_int64(json_object_array_get_idx(pids, i)) == pid)
			return true;
	return false;
}

static long truth_pid(const char *truth_path)
{
	struct json_object *truth = harness_load_json(truth_path);
	long pid = (long)harness_get_int(truth, "pid");

	json_object_put(truth);
	return pid;
}

/*
 * Launch mode on a program that has no libtt_metal.so among its dependencies
 * and dlopens a module that needs a copy of it: nothing is probed at the
 * start, the copy is probed when it is mapped, and nothing is missed.
 */
static void test_dlopen_launch(void **state)
{
	const char *dir = *state;
	char *copy = copy_module(dir), module[4200], lib[4200];
	char *summary_path = strdup(harness_path(dir, "summary.json"));
	char *truth_path = strdup(harness_path(dir, "truth.json"));
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-o",
			 summary_path,
			 "--",
			 (char *)harness_variant("STANDIN_DIR", "standin-dlopen"),
			 module,
			 "remaining",
			 "--truth",
			 truth_path,
			 NULL };
	struct harness_proc proc;
	struct json_object *summary, *entry;
	int code;

	snprintf(module, sizeof(module), "%s/standin_module.so", copy);
	snprintf(lib, sizeof(lib), "%s/libtt_metal.so", copy);
	code = harness_exit_code(harness_run(&proc, argv, TIMEOUT_S));
	if (code != 0)
		fail_msg("devledger exited %d: %s", code, proc.err);
	if (!strstr(proc.err, "whichever libtt_metal.so it loads") ||
	    !strstr(proc.err, "libtt_metal.so: probes attached"))
		fail_msg("devledger did not say it followed the library: %s", proc.err);
	summary = harness_load_json(summary_path);
	harness_assert_exact(summary);
	harness_assert_truth(summary, truth_path);
	entry = library_entry(summary, lib);
	assert_true(json_object_get_boolean(harness_get(entry, "probed")));
	assert_true(lists_pid(entry, truth_pid(truth_path)));
	json_object_put(summary);
	free(truth_path);
	free(summary_path);
	free(copy);
}

/* -a with no library named: a process started later that dlopens a copy is traced exactly. */
static void test_dlopen_system_wide(void **state)
{
	const char *dir = *state;
	char *copy = copy_module(dir), module[4200];
	char *summary_path = strdup(harness_path(dir, "summary.json"));
	char *truth_path = strdup(harness_path(dir, "truth.json"));
	char *tracer_argv[] = { (char *)harness_devledger(), "trace", "-a", "-o", summary_path,
				NULL };
	char *driver_argv[] = { (char *)harness_variant("STANDIN_DIR", "standin-dlopen"),
				module,
				"leak",
				"--truth",
				truth_path,
				NULL };
	struct harness_proc tracer, driver;
	struct json_object *summary;

	snprintf(module, sizeof(module), "%s/standin_module.so", copy);
	harness_spawn(&tracer, tracer_argv, false, true, 0);
	harness_expect_err(&tracer, "devledger: tracing", 20000);
	harness_spawn(&driver, driver_argv, false, false, 0);
	assert_int_equal(harness_exit_code(harness_wait(&driver, TIMEOUT_S)), 0);
	kill(tracer.pid, SIGINT);
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 0);

	summary = harness_load_json(summary_path);
	harness_assert_truth(summary, truth_path);
	assert_true(lists_pid(library_entry(summary, harness_path(copy, "libtt_metal.so")),
			      truth_pid(truth_path)));
	json_object_put(summary);
	free(truth_path);
	free(summary_path);
	free(copy);
}

/*
 * -l naming a copy the command never loads: the copy it does load is named as
 * not traced, the session is not exact, and --fail-on-leak says devledger
 * could not answer (1), never "no leaks" (0).
 */
static void test_wrong_library(void **state)
{
	const char *dir = *state;
	char *stripped = strdup(harness_variant("STANDIN_STRIPPED_DIR", "libtt_metal.so"));
	char *loaded = realpath(harness_standin_lib(), NULL);
	char *summary_path = strdup(harness_path(dir, "summary.json"));
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "--fail-on-leak",
			 "-l",
			 stripped,
			 "-o",
			 summary_path,
			 "--",
			 (char *)harness_standin_driver(),
			 "leak",
			 NULL };
	struct harness_proc proc;
	struct json_object *summary, *entry, *warnings;
	bool named = false;

	assert_int_equal(harness_exit_code(harness_run(&proc, argv, TIMEOUT_S)), 1);
	summary = harness_load_json(summary_path);
	assert_false(json_object_get_boolean(harness_get(summary, "session.exact")));
	entry = library_entry(summary, loaded);
	assert_false(json_object_get_boolean(harness_get(entry, "probed")));
	assert_int_equal(json_object_array_length(harness_get(entry, "pids")), 1);
	warnings = harness_get(summary, "session.warnings");
	for (size_t i = 0; i < json_object_array_length(warnings); i++)
		named |= strstr(json_object_get_string(json_object_array_get_idx(warnings, i)),
				"which was not traced: not the library -l names") != NULL;
	if (!named)
		fail_msg("no warning names the library loaded: %s",
			 json_object_to_json_string(warnings));
	if (!strstr(proc.err, "not traced: ") || !strstr(proc.err, "WARNING: "))
		fail_msg("the report does not say what was not traced: %s", proc.err);
	json_object_put(summary);
	free(summary_path);
	free(loaded);
	free(stripped);
}

/* -p: a child the process forks after the attach is traced, as launch mode traces children. */
static void test_fork_after_attach(void **state)
{
	const char *dir = *state;
	char pid[16];
	char *summary_path = strdup(harness_path(dir, "summary.json"));
	char *child_truth = strdup(harness_path(dir, "child-truth.json"));
	char *driver_argv[] = { (char *)harness_standin_driver(), "fork-wait", "--child-truth",
				child_truth, NULL };
	char *tracer_argv[] = { (char *)harness_devledger(), "trace", "-p", pid, "-o", summary_path,
				NULL };
	struct harness_proc driver, tracer;
	struct json_object *summary;

	harness_spawn(&driver, driver_argv, true, false, 0);
	harness_expect_out(&driver, "ready\n", 10000);
	snprintf(pid, sizeof(pid), "%d", (int)driver.pid);
	harness_spawn(&tracer, tracer_argv, false, true, 0);
	harness_expect_err(&tracer, "devledger: tracing", 20000);
	kill(driver.pid, SIGUSR1);
	assert_int_equal(harness_exit_code(harness_wait(&driver, TIMEOUT_S)), 0);
	/* The target and its child gone: devledger ends by itself. */
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 0);

	summary = harness_load_json(summary_path);
	harness_assert_exact(summary);
	harness_assert_truth(summary, child_truth);
	json_object_put(summary);
	free(child_truth);
	free(summary_path);
}

/*
 * -p on a process that has not loaded the library (yet): accepted, and if
 * it never does, the session says so and --fail-on-leak exits 1.
 */
static void test_pid_never_loads(void **state)
{
	const char *dir = *state;
	char pid[16];
	char *summary_path = strdup(harness_path(dir, "summary.json"));
	char *sleeper_argv[] = { "/bin/sleep", "1", NULL };
	char *tracer_argv[] = { (char *)harness_devledger(),
				"trace",
				"-q",
				"--fail-on-leak",
				"-p",
				pid,
				"-o",
				summary_path,
				NULL };
	struct harness_proc sleeper, tracer;
	struct json_object *summary;

	harness_spawn(&sleeper, sleeper_argv, false, false, 0);
	snprintf(pid, sizeof(pid), "%d", (int)sleeper.pid);
	assert_int_equal(harness_exit_code(harness_run(&tracer, tracer_argv, TIMEOUT_S)), 1);
	harness_wait(&sleeper, TIMEOUT_S);
	summary = harness_load_json(summary_path);
	assert_false(json_object_get_boolean(harness_get(summary, "session.exact")));
	assert_non_null(strstr(json_object_get_string(harness_get(summary, "session.warnings.0")),
			       "no traced process loaded libtt_metal.so"));
	assert_int_equal(json_object_array_length(harness_get(summary, "session.libraries")), 0);
	json_object_put(summary);
	free(summary_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dlopen_launch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlopen_system_wide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_library, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_after_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_never_loads, setup, teardown),
	};

	return cmocka_run_group_tests_name("follow", tests, NULL, NULL);
}
