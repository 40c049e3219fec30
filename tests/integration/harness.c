/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "harness.h"

static const char *env_or_fail(const char *name)
{
	const char *value = getenv(name);

	if (!value || !*value)
		fail_msg("%s is not set: run the integration tests with 'make test'", name);
	return value;
}

const char *harness_devledger(void)
{
	return env_or_fail("DEVLEDGER");
}

const char *harness_standin_driver(void)
{
	return harness_path(env_or_fail("STANDIN_DIR"), "standin");
}

const char *harness_standin_cet_driver(void)
{
	return harness_path(env_or_fail("STANDIN_CET_DIR"), "standin");
}

const char *harness_standin_cet_lib(void)
{
	return harness_path(env_or_fail("STANDIN_CET_DIR"), "libtt_metal.so");
}

const char *harness_standin_era_c_lib(void)
{
	return harness_path(env_or_fail("STANDIN_ERA_C_DIR"), "libtt_metal.so");
}

const char *harness_variant(const char *env, const char *file)
{
	return harness_path(env_or_fail(env), file);
}

const char *harness_standin_inlined_lib(void)
{
	return harness_path(env_or_fail("STANDIN_INLINED_DIR"), "libtt_metal.so");
}

const char *harness_standin_lib(void)
{
	return harness_path(env_or_fail("STANDIN_DIR"), "libtt_metal.so");
}

char *harness_disassemble(const char *library, const char *function)
{
	const char *objdump = getenv("OBJDUMP");
	char select[512], header[512];
	char *argv[] = { (char *)(objdump && *objdump ? objdump : "/usr/bin/objdump"),
			 "-d",
			 "--no-show-raw-insn",
			 select,
			 (char *)library,
			 NULL };
	/* Its output buffers are too large for a test's stack. */
	struct harness_proc *proc = malloc(sizeof(*proc));
	const char *start;
	char *text;
	int code;

	if (!proc)
		fail_msg("out of memory");
	snprintf(select, sizeof(select), "--disassemble=%s", function);
	snprintf(header, sizeof(header), "<%s>:", function);
	harness_spawn(proc, argv, true, true, 0);
	code = harness_exit_code(harness_wait(proc, 60));
	if (code != 0)
		fail_msg("%s %s %s: exit %d: %s", argv[0], select, library, code, proc->err);
	start = strstr(proc->out, header);
	if (!start)
		fail_msg("%s: objdump shows no %s (missing, or its code past what was kept)",
			 library, function);
	text = strdup(start);
	free(proc);
	return text;
}

char *harness_tmpdir(void)
{
	char templ[] = "/tmp/devledger-test.XXXXXX";

	if (!mkdtemp(templ))
		fail_msg("mkdtemp: %s", strerror(errno));
	return strdup(templ);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void harness_rmdir(char *dir)
{
	if (!dir)
		return;
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

const char *harness_path(const char *dir, const char *name)
{
	static char buffers[8][4096];
	static unsigned int next;
	char *buf = buffers[next++ % 8];

	snprintf(buf, sizeof(buffers[0]), "%s/%s", dir, name);
	return buf;
}

void harness_spawn(struct harness_proc *proc, char *const argv[], bool capture_out,
		   bool capture_err, uid_t uid)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };

	memset(proc, 0, sizeof(*proc));
	proc->out_fd = proc->err_fd = -1;
	if ((capture_out && pipe2(out, O_CLOEXEC)) || (capture_err && pipe2(err, O_CLOEXEC)))
		fail_msg("pipe: %s", strerror(errno));

	proc->pid = fork();
	if (proc->pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (proc->pid == 0) {
		if (capture_out)
			dup2(out[1], STDOUT_FILENO);
		if (capture_err)
			dup2(err[1], STDERR_FILENO);
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(126);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (capture_out) {
		close(out[1]);
		proc->out_fd = out[0];
	}
	if (capture_err) {
		close(err[1]);
		proc->err_fd = err[0];
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Read whatever is ready on the captured pipes, for at most timeout_ms. Returns false at EOF on
 * both. */
static bool pump(struct harness_proc *proc, int timeout_ms)
{
	struct pollfd fds[2] = { { .fd = proc->out_fd, .events = POLLIN },
				 { .fd = proc->err_fd, .events = POLLIN } };
	char *bufs[2] = { proc->out, proc->err };
	size_t *lens[2] = { &proc->out_len, &proc->err_len };
	int *fd_of[2] = { &proc->out_fd, &proc->err_fd };

	if (proc->out_fd < 0 && proc->err_fd < 0)
		return false;
	if (poll(fds, 2, timeout_ms) <= 0)
		return true;
	for (int i = 0; i < 2; i++) {
		char scratch[4096];
		ssize_t n;

		if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fds[i].fd, scratch, sizeof(scratch));
		if (n <= 0) {
			close(fds[i].fd);
			*fd_of[i] = -1;
			continue;
		}
		/* Keep the newest output when it overflows: the end says why something failed. */
		size_t room = sizeof(proc->out) - 1 - *lens[i];
		if ((size_t)n > room) {
			size_t drop = (size_t)n - room;
			if (drop > *lens[i])
				drop = *lens[i];
			memmove(bufs[i], bufs[i] + drop, *lens[i] - drop);
			*lens[i] -= drop;
			room = sizeof(proc->out) - 1 - *lens[i];
		}
		if ((size_t)n > room)
			n = (ssize_t)room;
		memcpy(bufs[i] + *lens[i], scratch, (size_t)n);
		*lens[i] += (size_t)n;
		bufs[i][*lens[i]] = '\0';
	}
	return true;
}

static void expect(struct harness_proc *proc, const char *buf, const char *needle, int timeout_ms,
		   const char *stream)
{
	long long deadline = now_ms() + timeout_ms;

	while (!strstr(buf, needle)) {
		long long left = deadline - now_ms();

		if (left <= 0 || !pump(proc, (int)(left < 100 ? left : 100)))
			break;
	}
	if (!strstr(buf, needle))
		fail_msg("pid %d did not print \"%s\" on %s within %d ms; stdout: %s; stderr: %s",
			 (int)proc->pid, needle, stream, timeout_ms, proc->out, proc->err);
}

void harness_expect_out(struct harness_proc *proc, const char *needle, int timeout_ms)
{
	expect(proc, proc->out, needle, timeout_ms, "stdout");
}

void harness_expect_err(struct harness_proc *proc, const char *needle, int timeout_ms)
{
	expect(proc, proc->err, needle, timeout_ms, "stderr");
}

int harness_wait(struct harness_proc *proc, int timeout_s)
{
	long long deadline = now_ms() + timeout_s * 1000LL;
	int status;

	for (;;) {
		pid_t got = waitpid(proc->pid, &status, WNOHANG);

		if (got == proc->pid)
			break;
		if (got < 0)
			fail_msg("waitpid %d: %s", (int)proc->pid, strerror(errno));
		if (now_ms() > deadline) {
			kill(proc->pid, SIGKILL);
			waitpid(proc->pid, &status, 0);
			fail_msg("pid %d (%s) still running after %d s; stderr: %s", (int)proc->pid,
				 proc->out, timeout_s, proc->err);
		}
		if (!pump(proc, 50))
			usleep(20000);
	}
	/* Whatever it printed before it exited; bounded, in case a descendant holds the pipe. */
	for (long long end = now_ms() + 2000;
	     (proc->out_fd >= 0 || proc->err_fd >= 0) && now_ms() < end;)
		pump(proc, 50);
	if (proc->out_fd >= 0)
		close(proc->out_fd);
	if (proc->err_fd >= 0)
		close(proc->err_fd);
	proc->out_fd = proc->err_fd = -1;
	return status;
}

int harness_run(struct harness_proc *proc, char *const argv[], int timeout_s)
{
	harness_spawn(proc, argv, false, true, 0);
	return harness_wait(proc, timeout_s);
}

int harness_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

struct json_object *harness_load_json(const char *path)
{
	struct json_tokener *tok;
	struct json_object *obj;
	char *text;
	FILE *f = fopen(path, "r");
	long size;

	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	if (!text || fread(text, 1, (size_t)size, f) != (size_t)size)
		fail_msg("%s: cannot read", path);
	fclose(f);

	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)size);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success)
		fail_msg("%s: not valid JSON: %s", path,
			 json_tokener_error_desc(json_tokener_get_error(tok)));
	json_tokener_free(tok);
	free(text);
	return obj;
}

struct json_object *harness_get(struct json_object *obj, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *part = strtok_r(buf, ".", &save); part && obj;
	     part = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(obj, json_type_array)) {
			char *end;
			long i = strtol(part, &end, 10);

			obj = *end ? NULL : json_object_array_get_idx(obj, (size_t)i);
		} else if (!json_object_object_get_ex(obj, part, &obj)) {
			obj = NULL;
		}
	}
	return obj;
}

long long harness_get_int(struct json_object *obj, const char *path)
{
	struct json_object *value = harness_get(obj, path);

	if (!value || !json_object_is_type(value, json_type_int))
		fail_msg("no integer at %s in %s", path,
			 json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	return json_object_get_int64(value);
}

struct json_object *harness_find_process(struct json_object *summary, long pid)
{
	struct json_object *procs = harness_get(summary, "processes");

	if (!procs || !json_object_is_type(procs, json_type_array))
		fail_msg("summary has no processes array");
	for (size_t i = 0; i < json_object_array_length(procs); i++) {
		struct json_object *proc = json_object_array_get_idx(procs, i);

		if (harness_get_int(proc, "pid") == pid)
			return proc;
	}
	fail_msg("summary has no process %ld: %s", pid,
		 json_object_to_json_string_ext(summary, JSON_C_TO_STRING_PLAIN));
	return NULL;
}

static const char *const stat_fields[] = { "live_bytes",      "peak_bytes", "live_count",
					   "allocs",	      "frees",	    "untracked_frees",
					   "untracked_bytes", "leaks",	    "leaked_bytes" };

/* A device's kind ("chip", "mesh"); fails the test when it has none. */
static const char *device_kind(struct json_object *dev)
{
	struct json_object *kind = harness_get(dev, "kind");

	if (!kind || !json_object_is_type(kind, json_type_string))
		fail_msg("device entry without a kind: %s",
			 json_object_to_json_string_ext(dev, JSON_C_TO_STRING_PLAIN));
	return json_object_get_string(kind);
}

static struct json_object *device_entry(struct json_object *devices, long long device_id,
					const char *kind)
{
	for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i);

		if (harness_get_int(dev, "device_id") == device_id &&
		    !strcmp(device_kind(dev), kind))
			return dev;
	}
	return NULL;
}

/* Every device and type of `want` is in `got` with equal counters, and `got` has no others. */
static void assert_devices(struct json_object *got, struct json_object *want, long pid)
{
	size_t want_types = 0, got_types = 0;

	for (size_t i = 0; i < json_object_array_length(want); i++) {
		struct json_object *wdev = json_object_array_get_idx(want, i);
		long long id = harness_get_int(wdev, "device_id");
		const char *kind = device_kind(wdev);
		struct json_object *gdev = device_entry(got, id, kind),
				   *wmem = harness_get(wdev, "memory");

		if (!gdev)
			fail_msg("pid %ld: %s %lld missing from the summary", pid, kind, id);
		json_object_object_foreach(wmem, type, wstats)
		{
			char path[64];

			snprintf(path, sizeof(path), "memory.%s", type);
			struct json_object *gstats = harness_get(gdev, path);
			if (!gstats)
				fail_msg("pid %ld: %s %lld has no %s in the summary", pid, kind, id,
					 type);
			for (size_t f = 0; f < sizeof(stat_fields) / sizeof(stat_fields[0]); f++) {
				long long w = harness_get_int(wstats, stat_fields[f]);
				long long g = harness_get_int(gstats, stat_fields[f]);

				if (w != g)
					fail_msg("pid %ld %s %lld %s %s: summary %lld, truth %lld",
						 pid, kind, id, type, stat_fields[f], g, w);
			}
			want_types++;
		}
	}
	for (size_t i = 0; got && i < json_object_array_length(got); i++) {
		struct json_object *mem = harness_get(json_object_array_get_idx(got, i), "memory");

		got_types += (size_t)json_object_object_length(mem);
	}
	if (got_types != want_types)
		fail_msg("pid %ld: summary has %zu (device, type) entries, truth %zu: %s", pid,
			 got_types, want_types,
			 json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN));
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The list as sorted strings of the given keys, e.g. "0|CB|101152|4096|program_destroyed". */
static char **canonical(struct json_object *list, const char *const *keys, size_t nkeys,
			size_t *count)
{
	size_t n = list ? json_object_array_length(list) : 0;
	char **rows = calloc(n + 1, sizeof(*rows));

	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(list, i);
		char row[512] = "";

		for (size_t k = 0; k < nkeys; k++) {
			struct json_object *v = harness_get(item, keys[k]);

			if (!v)
				fail_msg("list entry without %s: %s", keys[k],
					 json_object_to_json_string_ext(item,
									JSON_C_TO_STRING_PLAIN));
			strncat(row, json_object_get_string(v), sizeof(row) - strlen(row) - 2);
			strcat(row, "|");
		}
		rows[i] = strdup(row);
	}
	qsort(rows, n, sizeof(*rows), compare_strings);
	*count = n;
	return rows;
}

static void assert_list(struct json_object *gproc, struct json_object *truth, const char *name,
			const char *const *keys, size_t nkeys, long pid)
{
	size_t ng, nw;
	char **got = canonical(harness_get(gproc, name), keys, nkeys, &ng);
	char **want = canonical(harness_get(truth, name), keys, nkeys, &nw);

	for (size_t i = 0; i < ng || i < nw; i++) {
		const char *g = i < ng ? got[i] : "(nothing)";
		const char *w = i < nw ? want[i] : "(nothing)";

		if (strcmp(g, w))
			fail_msg(
				"pid %ld %s differ at row %zu of %zu/%zu (summary/truth): summary %s, truth %s",
				pid, name, i, ng, nw, g, w);
	}
	for (size_t i = 0; i < ng; i++)
		free(got[i]);
	for (size_t i = 0; i < nw; i++)
		free(want[i]);
	free(got);
	free(want);
}

void harness_assert_truth(struct json_object *summary, const char *truth_path)
{
	static const char *const untracked_keys[] = { "device_id", "device_kind", "type",
						      "address",   "size",	  "reason" };
	static const char *const leak_keys[] = { "device_id", "device_kind", "type", "address",
						 "size" };
	static const char *const unmatched_keys[] = { "device_id", "device_kind", "type", "address",
						      "reason" };
	struct json_object *truth = harness_load_json(truth_path);
	long pid = (long)harness_get_int(truth, "pid");
	struct json_object *proc = harness_find_process(summary, pid);
	const char *gexit =
		json_object_to_json_string_ext(harness_get(proc, "exit"), JSON_C_TO_STRING_PLAIN);
	const char *wexit =
		json_object_to_json_string_ext(harness_get(truth, "exit"), JSON_C_TO_STRING_PLAIN);

	if (strcmp(gexit, wexit))
		fail_msg("pid %ld exit: summary %s, truth %s", pid, gexit, wexit);
	assert_int_equal(harness_get_int(proc, "hooked_allocations"),
			 harness_get_int(truth, "hooked_allocations"));
	assert_devices(harness_get(proc, "devices"), harness_get(truth, "devices"), pid);
	assert_list(proc, truth, "untracked_frees", untracked_keys, 6, pid);
	assert_list(proc, truth, "leaks", leak_keys, 5, pid);
	assert_list(proc, truth, "unmatched_frees", unmatched_keys, 5, pid);
	/* Every allocator release was placed on its device. */
	assert_int_equal(harness_get_int(proc, "unattributed_frees"), 0);
	json_object_put(truth);
}

void harness_assert_exact(struct json_object *summary)
{
	assert_int_equal(harness_get_int(summary, "session.lost_events"), 0);
	assert_true(json_object_get_boolean(harness_get(summary, "session.exact")));
}
