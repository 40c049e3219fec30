/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory over time, traced for real: the stand-in's repeated workloads
 * (one leaves 36 KiB per iteration, one comes back to the same level), with
 * snapshots from SIGUSR2 and from `devledger mark`, the growth verdicts both
 * ways, the Chrome trace-event file parsed back and every instant checked
 * against the truth, `devledger diff` on two runs of each, and the HTML
 * report loaded in a real headless Chromium.
 */
#include <errno.h>
#include <libgen.h>
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

#define KIB	   1024LL
#define TIMEOUT_S  120
#define ITERATIONS 20

static int setup(void **state)
{
	*state = harness_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	harness_rmdir(*state);
	return 0;
}

/*
 * devledger trace -o DIR/NAME.json --timeline DIR/NAME-timeline.json --
 * standin ARGS... --truth DIR/NAME-truth.json; exit 0 expected, and the
 * summary equal to the truth. Returns the summary; proc keeps the report.
 */
static struct json_object *trace(struct harness_proc *proc, const char *dir, const char *name,
				 const char *const *args)
{
	char summary[512], timeline[512], truth[512];
	char *argv[32];
	int n = 0, code;
	struct json_object *json;

	snprintf(summary, sizeof(summary), "%s/%s.json", dir, name);
	snprintf(timeline, sizeof(timeline), "%s/%s-timeline.json", dir, name);
	snprintf(truth, sizeof(truth), "%s/%s-truth.json", dir, name);
	argv[n++] = (char *)harness_devledger();
	argv[n++] = "trace";
	argv[n++] = "-o";
	argv[n++] = summary;
	argv[n++] = "--timeline";
	argv[n++] = timeline;
	argv[n++] = "--";
	argv[n++] = (char *)harness_standin_driver();
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n++] = "--truth";
	argv[n++] = truth;
	argv[n] = NULL;
	code = harness_exit_code(harness_run(proc, argv, TIMEOUT_S));
	if (code != 0)
		fail_msg("devledger exited %d: %s", code, proc->err);
	json = harness_load_json(summary);
	harness_assert_exact(json);
	harness_assert_truth(json, truth);
	return json;
}

static const char *str(struct json_object *obj, const char *path)
{
	struct json_object *v = harness_get(obj, path);

	if (!v)
		fail_msg("no %s", path);
	return json_object_get_string(v);
}

/* The entry of a list keyed by device_id, device_kind and type; NULL if none. */
static struct json_object *keyed(struct json_object *list, long long device, const char *kind,
				 const char *type)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (harness_get_int(e, "device_id") == device &&
		    !strcmp(str(e, "device_kind"), kind) && !strcmp(str(e, "type"), type))
			return e;
	}
	return NULL;
}

/* Every snapshot the stand-in asked for, with each series' live bytes and buffers as it had them.
 */
static void assert_snapshots(struct json_object *summary, struct json_object *truth)
{
	struct json_object *got = harness_get(summary, "snapshots");
	struct json_object *want = harness_get(truth, "snapshots");

	assert_int_equal(json_object_array_length(got), json_object_array_length(want));
	for (size_t i = 0; i < json_object_array_length(want); i++) {
		struct json_object *g = json_object_array_get_idx(got, i);
		struct json_object *w = json_object_array_get_idx(want, i);
		struct json_object *wseries = harness_get(w, "series");

		assert_string_equal(str(g, "label"), str(w, "label"));
		for (size_t e = 0; e < json_object_array_length(wseries); e++) {
			struct json_object *we = json_object_array_get_idx(wseries, e);
			struct json_object *ge =
				keyed(harness_get(g, "series"), harness_get_int(we, "device_id"),
				      str(we, "device_kind"), str(we, "type"));

			if (!ge)
				fail_msg("snapshot %zu: no series for device %lld %s", i,
					 harness_get_int(we, "device_id"), str(we, "type"));
			assert_int_equal(harness_get_int(ge, "live_bytes"),
					 harness_get_int(we, "live_bytes"));
			assert_int_equal(harness_get_int(ge, "live_count"),
					 harness_get_int(we, "live_count"));
		}
	}
}

/* Growth as the truth says each iteration left: growing exactly where it left something. */
static void assert_growth(struct json_object *summary, struct json_object *truth, const char *basis)
{
	struct json_object *per = harness_get(truth, "per_iteration");

	for (size_t i = 0; i < json_object_array_length(per); i++) {
		struct json_object *w = json_object_array_get_idx(per, i);
		long long bytes = harness_get_int(w, "bytes");
		struct json_object *g =
			keyed(harness_get(summary, "growth"), harness_get_int(w, "device_id"),
			      str(w, "device_kind"), str(w, "type"));

		if (!g)
			fail_msg("no growth entry for device %lld",
				 harness_get_int(w, "device_id"));
		assert_int_equal(json_object_get_boolean(harness_get(g, "growing")), bytes > 0);
		assert_string_equal(str(g, "basis"), basis);
		if (!strcmp(basis, "snapshots")) {
			assert_int_equal(harness_get_int(g, "snapshots"), ITERATIONS);
			assert_true(json_object_get_double(harness_get(g, "bytes_per_snapshot")) ==
				    (double)bytes);
		}
		if (bytes)
			assert_true(json_object_get_double(harness_get(g, "slope_bytes_per_s")) >
				    0);
	}
}

/*
 * The trace-event file read back: per process and series the counter's last
 * value and its maximum are the truth's live and peak bytes; the instants
 * add up to the truth's untracked frees (per device, type and reason) and
 * leaks; one instant per snapshot and per close.
 */
static void assert_timeline_file(const char *path, struct json_object *truth,
				 size_t closes_expected)
{
	struct json_object *root = harness_load_json(path);
	struct json_object *events = harness_get(root, "traceEvents");
	struct json_object *devices = harness_get(truth, "devices");
	long long pid = harness_get_int(truth, "pid");
	size_t snapshots = 0, closes = 0;

	assert_non_null(events);
	for (size_t d = 0; d < json_object_array_length(devices); d++) {
		struct json_object *dev = json_object_array_get_idx(devices, d);
		struct json_object *memory = harness_get(dev, "memory");

		json_object_object_foreach(memory, type, stats)
		{
			char track[64];
			long long last = -1, max = 0, untracked = 0, untracked_count = 0,
				  leaked = 0, leaks = 0;
			bool mesh = !strcmp(str(dev, "kind"), "mesh");

			snprintf(track, sizeof(track), "%s %lld %s", mesh ? "mesh" : "device",
				 harness_get_int(dev, "device_id"), type);
			for (size_t i = 0; i < json_object_array_length(events); i++) {
				struct json_object *e = json_object_array_get_idx(events, i);
				const char *ph = str(e, "ph"), *name = str(e, "name");

				if (harness_get_int(e, "pid") != pid)
					continue;
				if (!strcmp(ph, "C") && !strcmp(name, track)) {
					last = harness_get_int(e, "args.live_bytes");
					max = last > max ? last : max;
				}
				if (strcmp(ph, "i") || !harness_get(e, "args.type") ||
				    strcmp(str(e, "args.type"), type) ||
				    harness_get_int(e, "args.device_id") !=
					    harness_get_int(dev, "device_id"))
					continue;
				if (!strncmp(name, "untracked: ", 11)) {
					untracked += harness_get_int(e, "args.bytes");
					untracked_count += harness_get_int(e, "args.count");
					assert_string_equal(name + 11, str(e, "args.reason"));
				} else if (!strcmp(name, "leaked at exit")) {
					leaked += harness_get_int(e, "args.bytes");
					leaks += harness_get_int(e, "args.count");
				}
			}
			if (harness_get_int(stats, "allocs"))
				assert_int_equal(last, harness_get_int(stats, "live_bytes"));
			assert_int_equal(max, harness_get_int(stats, "peak_bytes"));
			assert_int_equal(untracked, harness_get_int(stats, "untracked_bytes"));
			assert_int_equal(untracked_count,
					 harness_get_int(stats, "untracked_frees"));
			assert_int_equal(leaked, harness_get_int(stats, "leaked_bytes"));
			assert_int_equal(leaks, harness_get_int(stats, "leaks"));
		}
	}
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		struct json_object *e = json_object_array_get_idx(events, i);
		const char *name = str(e, "name");

		snapshots += !strncmp(name, "snapshot: ", 10);
		closes += strlen(name) > 7 && !strcmp(name + strlen(name) - 7, " closed") &&
			  harness_get_int(e, "pid") == pid;
	}
	assert_int_equal(snapshots, json_object_array_length(harness_get(truth, "snapshots")));
	assert_int_equal(closes, closes_expected);
	json_object_put(root);
}

static struct json_object *load_truth(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s-truth.json", dir, name);
	return harness_load_json(path);
}

static const char *file_in(const char *dir, const char *name, const char *suffix)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, 512, "%s/%s%s", dir, name, suffix);
	return p;
}

static void test_accumulate_marked(void **state)
{
	const char *dir = *state;
	const char *args[] = { "accumulate", "20", "--mark", NULL };
	struct harness_proc proc;
	struct json_object *summary = trace(&proc, dir, "acc", args),
			   *truth = load_truth(dir, "acc");
	char line[256];

	assert_snapshots(summary, truth);
	assert_growth(summary, truth, "snapshots");
	/* the answer in one line */
	snprintf(line, sizeof(line),
		 "DRAM on device 0 (PID %lld) grows 36.0 KiB per snapshot over 20 snapshots",
		 harness_get_int(truth, "pid"));
	if (!strstr(proc.err, line))
		fail_msg("no \"%s\" in the report: %s", line, proc.err);
	assert_timeline_file(file_in(dir, "acc", "-timeline.json"), truth, 0);
	json_object_put(summary);
	json_object_put(truth);
}

static void test_steady_marked(void **state)
{
	const char *dir = *state;
	const char *args[] = { "steady", "20", "--mark", NULL };
	struct harness_proc proc;
	struct json_object *summary = trace(&proc, dir, "steady", args);
	struct json_object *truth = load_truth(dir, "steady");

	assert_snapshots(summary, truth);
	assert_growth(summary, truth, "snapshots");
	assert_non_null(strstr(proc.err, "nothing accumulates"));
	assert_null(strstr(proc.err, " grows "));
	assert_timeline_file(file_in(dir, "steady", "-timeline.json"), truth, 2);
	json_object_put(summary);
	json_object_put(truth);
}

/* No snapshots: the verdict from windows of time, both ways. */
static void test_growth_over_time(void **state)
{
	const char *dir = *state;
	const char *acc[] = { "accumulate", "20", NULL }, *steady[] = { "steady", "20", NULL };
	struct harness_proc proc;
	struct json_object *summary = trace(&proc, dir, "acc", acc),
			   *truth = load_truth(dir, "acc");

	assert_growth(summary, truth, "time");
	assert_int_equal(json_object_array_length(harness_get(summary, "snapshots")), 0);
	json_object_put(summary);
	json_object_put(truth);
	summary = trace(&proc, dir, "steady", steady);
	truth = load_truth(dir, "steady");
	assert_growth(summary, truth, "time");
	json_object_put(summary);
	json_object_put(truth);
}

/* devledger diff OLD NEW, its output into DIR/diff.txt; returns its exit code. */
static int diff(const char *dir, const char *old, const char *new, const char *allow)
{
	char command[2048];
	char *argv[] = { "/bin/sh", "-c", command, NULL };
	struct harness_proc proc;

	snprintf(command, sizeof(command), "exec '%s' diff %s%s '%s' '%s' > '%s/diff.txt'",
		 harness_devledger(), allow ? "--allow " : "", allow ? allow : "", old, new, dir);
	return harness_exit_code(harness_run(&proc, argv, TIMEOUT_S));
}

static char *read_text(const char *path)
{
	static char text[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		fail_msg("cannot read %s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* Two runs of each workload: diff gates on leaking more, by the truth's figures. */
static void test_diff_runs(void **state)
{
	const char *dir = *state;
	const char *acc5[] = { "accumulate", "5", NULL }, *acc20[] = { "accumulate", "20", NULL };
	const char *steady_a[] = { "steady", "5", NULL }, *steady_b[] = { "steady", "20", NULL };
	struct harness_proc proc;
	char old_snap[600];
	const char *text, *site;

	json_object_put(trace(&proc, dir, "acc5", acc5));
	json_object_put(trace(&proc, dir, "acc20", acc20));
	json_object_put(trace(&proc, dir, "steady5", steady_a));
	json_object_put(trace(&proc, dir, "steady20", steady_b));

	/* 15 more iterations, 36 KiB each: 540 KiB more leaked, the one new count of a site */
	assert_int_equal(
		diff(dir, file_in(dir, "acc5", ".json"), file_in(dir, "acc20", ".json"), NULL), 1);
	assert_non_null(strstr(read_text(file_in(dir, "diff", ".txt")), "540.0 KiB more"));
	/* The site is the leak's allocating stack, from the library's tracker into Buffer::create. */
	text = read_text(file_in(dir, "diff", ".txt"));
	site = strstr(text, "leak sites new or more often in NEW:\n  chip 0 DRAM "
			    "tt::tt_metal::GraphTracker::track_allocate(");
	if (!site || !strstr(site, "tt::tt_metal::Buffer::create(") ||
	    !strstr(site, ": 20 (was 5), 720.0 KiB"))
		fail_msg("the accumulating site is not told by its stack: %s", text);
	assert_int_equal(
		diff(dir, file_in(dir, "acc5", ".json"), file_in(dir, "acc20", ".json"), "540K"),
		0);
	assert_int_equal(
		diff(dir, file_in(dir, "acc5", ".json"), file_in(dir, "acc20", ".json"), "539K"),
		1);
	assert_int_equal(
		diff(dir, file_in(dir, "acc20", ".json"), file_in(dir, "acc5", ".json"), NULL), 0);
	assert_int_equal(diff(dir, file_in(dir, "steady5", ".json"),
			      file_in(dir, "steady20", ".json"), NULL),
			 0);
	assert_int_equal(diff(dir, file_in(dir, "steady20", ".json"),
			      file_in(dir, "steady5", ".json"), NULL),
			 0);
	/* bad input: 2 */
	assert_int_equal(
		diff(dir, file_in(dir, "missing", ".json"), file_in(dir, "acc5", ".json"), NULL),
		2);
	assert_int_equal(
		diff(dir, file_in(dir, "acc5-truth", ".json"), file_in(dir, "acc5", ".json"), NULL),
		2);
	snprintf(old_snap, sizeof(old_snap), "%s#no such mark", file_in(dir, "acc5", ".json"));
	assert_int_equal(diff(dir, old_snap, file_in(dir, "acc5", ".json"), NULL), 2);
}

/* Two snapshots of one run: what stayed between them is what accumulated. */
static void test_diff_snapshots(void **state)
{
	const char *dir = *state;
	const char *acc[] = { "accumulate", "20", "--mark", NULL };
	const char *steady[] = { "steady", "20", "--mark", NULL };
	struct harness_proc proc;
	char old_snap[600], new_snap[600];

	json_object_put(trace(&proc, dir, "acc", acc));
	json_object_put(trace(&proc, dir, "steady", steady));
	snprintf(old_snap, sizeof(old_snap), "%s#mark 2", file_in(dir, "acc", ".json"));
	snprintf(new_snap, sizeof(new_snap), "%s#mark 12", file_in(dir, "acc", ".json"));
	assert_int_equal(diff(dir, old_snap, new_snap, NULL), 1);
	assert_non_null(strstr(read_text(file_in(dir, "diff", ".txt")), "360.0 KiB more"));
	snprintf(old_snap, sizeof(old_snap), "%s#mark 2", file_in(dir, "steady", ".json"));
	snprintf(new_snap, sizeof(new_snap), "%s#mark 12", file_in(dir, "steady", ".json"));
	assert_int_equal(diff(dir, old_snap, new_snap, NULL), 0);
	/* a snapshot against a whole summary: bad input */
	assert_int_equal(diff(dir, old_snap, file_in(dir, "steady", ".json"), NULL), 2);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) == EOF || fclose(f))
		fail_msg("cannot write %s", path);
}

/* Where summaries carry stacks, a leak site is its allocating stack: functions, else module+offset. */
static void test_diff_by_stack(void **state)
{
	const char *dir = *state;
	const char *old =
		"{ \"schema\": \"devledger.summary.v1\", \"processes\": [ { \"devices\": [ "
		"{ \"device_id\": 0, \"kind\": \"chip\", \"memory\": { \"DRAM\": { "
		"\"leaks\": 1, \"leaked_bytes\": 4096 } } } ], \"leaks\": [ "
		"{ \"device_id\": 0, \"device_kind\": \"chip\", \"type\": \"DRAM\", "
		"\"size\": 4096, \"stack\": 7 } ], \"stacks\": [ { \"id\": 7, \"frames\": [ "
		"{ \"module\": \"/lib/libtt_metal.so\", \"function\": \"run_model\", \"offset\": 4 }, "
		"{ \"module\": \"/bin/test\", \"offset\": 16 } ] } ] } ] }";
	const char *new =
		"{ \"schema\": \"devledger.summary.v1\", \"processes\": [ { \"devices\": [ "
		"{ \"device_id\": 0, \"kind\": \"chip\", \"memory\": { \"DRAM\": { "
		"\"leaks\": 1, \"leaked_bytes\": 4096 } } } ], \"leaks\": [ "
		"{ \"device_id\": 0, \"device_kind\": \"chip\", \"type\": \"DRAM\", "
		"\"size\": 4096, \"stack\": 7 } ], \"stacks\": [ { \"id\": 7, \"frames\": [ "
		"{ \"module\": \"/lib/libtt_metal.so\", \"function\": \"load_weights\", \"offset\": 4 }, "
		"{ \"module\": \"/bin/test\", \"offset\": 16 } ] } ] } ] }";
	const char *text;

	write_text(file_in(dir, "old", ".json"), old);
	write_text(file_in(dir, "new", ".json"), new);
	/* as many bytes leaked, from another place */
	assert_int_equal(
		diff(dir, file_in(dir, "old", ".json"), file_in(dir, "new", ".json"), NULL), 0);
	text = read_text(file_in(dir, "diff", ".txt"));
	if (!strstr(text, "new or more often in NEW:\n  chip 0 DRAM load_weights < /bin/test+16: 1 "
			  "(was 0)") ||
	    !strstr(text, "gone in NEW:\n  chip 0 DRAM run_model < /bin/test+16: 1"))
		fail_msg("the sites are not told by their stacks: %s", text);
}

/* The stand-in's pid: the one child of devledger. */
static pid_t child_of(pid_t parent)
{
	char path[64], text[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	f = fopen(path, "r");
	if (!f || !fgets(text, sizeof(text), f))
		fail_msg("cannot read %s", path);
	fclose(f);
	return (pid_t)atoi(text);
}

/* devledger mark PID LABEL: a labelled snapshot in a running trace, with the truth at that point.
 */
static void test_mark_command(void **state)
{
	const char *dir = *state;
	char pid_text[16];
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-o",
			 (char *)file_in(dir, "wait", ".json"),
			 "--",
			 (char *)harness_standin_driver(),
			 "wait",
			 "--truth",
			 (char *)file_in(dir, "wait", "-truth.json"),
			 NULL };
	char *mark[] = { (char *)harness_devledger(), "mark", pid_text, "before free", NULL };
	char *not_devledger[] = { (char *)harness_devledger(), "mark", pid_text, "x", NULL };
	struct harness_proc tracer, marker;
	struct json_object *summary, *snap;
	pid_t standin;

	harness_spawn(&tracer, argv, true, true, 0);
	harness_expect_out(&tracer, "ready\n", 20000);
	standin = child_of(tracer.pid);
	/* a process that is not devledger is never sent the signal */
	snprintf(pid_text, sizeof(pid_text), "%d", (int)standin);
	assert_int_equal(harness_exit_code(harness_run(&marker, not_devledger, 30)), 1);
	assert_non_null(strstr(marker.err, "is not devledger"));
	assert_int_equal(kill(standin, 0), 0);
	snprintf(pid_text, sizeof(pid_text), "%d", (int)tracer.pid);
	assert_int_equal(harness_exit_code(harness_run(&marker, mark, 30)), 0);
	kill(standin, SIGUSR1);
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 0);

	summary = harness_load_json(file_in(dir, "wait", ".json"));
	harness_assert_truth(summary, file_in(dir, "wait", "-truth.json"));
	assert_int_equal(json_object_array_length(harness_get(summary, "snapshots")), 1);
	snap = harness_get(summary, "snapshots.0");
	assert_string_equal(str(snap, "label"), "before free");
	/* before the free: early_a (4 KiB DRAM), early_b and early_kept (2 KiB + 1 KiB of L1) */
	assert_int_equal(harness_get_int(keyed(harness_get(snap, "series"), 0, "chip", "DRAM"),
					 "live_bytes"),
			 4 * KIB);
	assert_int_equal(
		harness_get_int(keyed(harness_get(snap, "series"), 0, "chip", "L1"), "live_bytes"),
		3 * KIB);
	assert_int_equal(
		harness_get_int(keyed(harness_get(snap, "series"), 0, "chip", "L1"), "live_count"),
		2);
	json_object_put(summary);
}

/* Under -a, one command run twice: the report compares the runs by itself. */
static void test_runs_compared(void **state)
{
	const char *dir = *state;
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-a",
			 "-l",
			 (char *)harness_standin_lib(),
			 "-o",
			 (char *)file_in(dir, "all", ".json"),
			 NULL };
	/* long enough for devledger to read who it is while it runs */
	char *run[] = { (char *)harness_standin_driver(), "remaining", "--linger", "300", NULL };
	struct harness_proc tracer, standin;
	char line[512];

	harness_spawn(&tracer, argv, false, true, 0);
	harness_expect_err(&tracer, "devledger: tracing", 20000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(harness_exit_code(harness_run(&standin, run, TIMEOUT_S)), 0);
	kill(tracer.pid, SIGINT);
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 0);
	/* remaining leaves 36 KiB of DRAM per chip at close, and 22 KiB of CBs on chip 0 */
	snprintf(
		line, sizeof(line),
		"3 runs of `%s remaining --linger 300`: each left %s untracked (program_destroyed, "
		"device_closed), nothing accumulates",
		harness_standin_driver(), "310.0 KiB");
	if (!strstr(tracer.err, line))
		fail_msg("no \"%s\" in the report: %s", line, tracer.err);
}

/* The folder devledger was built in: where the test leaves what a person can look at. */
static const char *build_dir(void)
{
	static char dir[512];

	snprintf(dir, sizeof(dir), "%s", harness_devledger());
	return dirname(dir);
}

/* Headless Chromium on a file, its stdout into out (NULL: none); returns its stderr. */
static char *chromium(const char *dir, const char *page, const char *action, const char *out)
{
	static char err[65536];
	char command[4096];
	char *argv[] = { "/bin/sh", "-c", command, NULL };
	struct harness_proc proc;
	int code;

	snprintf(command, sizeof(command),
		 "exec chromium --headless --disable-gpu --no-sandbox --no-first-run "
		 "--user-data-dir='%s/chromium' --enable-logging=stderr --v=0 --hide-scrollbars "
		 "--window-size=1200,2600 %s 'file://%s' > '%s'",
		 dir, action, page, out ? out : "/dev/null");
	harness_spawn(&proc, argv, false, true, 0);
	code = harness_exit_code(harness_wait(&proc, 90));
	if (code != 0)
		fail_msg("chromium exited %d: %s", code, proc.err);
	snprintf(err, sizeof(err), "%.*s", (int)proc.err_len, proc.err);
	return err;
}

/* what" data-bytes="N", as the page writes a size of N bytes */
static void assert_shows(const char *dom, const char *what, long long value)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "%s\" data-bytes=\"%lld\"", what, value);
	if (!strstr(dom, needle))
		fail_msg("the page does not show %s", needle);
}

/* The report of the original report's workload, in a real browser. */
static void test_report_in_chromium(void **state)
{
	const char *dir = *state;
	const char *args[] = { "remaining", NULL };
	char page[600], shot[600], kept[600], dom_path[600];
	char *report[] = { (char *)harness_devledger(),
			   "report",
			   (char *)file_in(dir, "rem", ".json"),
			   "-o",
			   page,
			   NULL };
	struct harness_proc proc;
	struct json_object *summary = trace(&proc, dir, "rem", args),
			   *truth = load_truth(dir, "rem");
	struct json_object *devices = harness_get(truth, "devices");
	const char *err;
	char *dom;
	struct stat st;
	long long pid = harness_get_int(truth, "pid");

	snprintf(page, sizeof(page), "%s/report.html", dir);
	assert_int_equal(harness_exit_code(harness_run(&proc, report, TIMEOUT_S)), 0);
	/* one file: nothing loaded from anywhere, and the page forbids it */
	dom = read_text(page);
	assert_null(strstr(dom, " src="));
	assert_null(strstr(dom, "<link"));
	assert_null(strstr(dom, "url("));
	assert_non_null(strstr(dom, "default-src 'none'"));

	snprintf(dom_path, sizeof(dom_path), "%s/dom.html", dir);
	err = chromium(dir, page, "--dump-dom", dom_path);
	if (strstr(err, ":CONSOLE"))
		fail_msg("the page logged to the console: %s", err);
	dom = read_text(dom_path);
	assert_non_null(strstr(dom, "data-rendered=\"yes\""));
	assert_shows(dom, "total-untracked-bytes",
		     harness_get_int(summary, "totals.untracked_bytes"));
	assert_shows(dom, "total-leaked-bytes", harness_get_int(summary, "totals.leaked_bytes"));
	assert_non_null(strstr(dom, "no leaks"));
	/* every device and type's peak and untracked bytes, as the truth has them */
	for (size_t d = 0; d < json_object_array_length(devices); d++) {
		struct json_object *dev = json_object_array_get_idx(devices, d);
		struct json_object *memory = harness_get(dev, "memory");

		json_object_object_foreach(memory, type, stats)
		{
			char row[128], cells[4096], *at, *end;

			snprintf(row, sizeof(row), "data-device=\"device %lld\" data-type=\"%s\"",
				 harness_get_int(dev, "device_id"), type);
			at = strstr(dom, row);
			end = at ? strstr(at, "</tr>") : NULL;
			if (!end)
				fail_msg("no row for %s", row);
			snprintf(cells, sizeof(cells), "%.*s", (int)(end - at), at);
			/* live, peak, untracked bytes and leaked, each in its cell */
			assert_shows(cells, "bytes", harness_get_int(stats, "live_bytes"));
			assert_shows(cells, "bytes", harness_get_int(stats, "peak_bytes"));
			assert_shows(cells, "bytes", harness_get_int(stats, "untracked_bytes"));
		}
		/* one chart per device */
		{
			char chart[128];

			snprintf(chart, sizeof(chart),
				 "data-pid=\"%lld\" data-device=\"device %lld\"", pid,
				 harness_get_int(dev, "device_id"));
			assert_non_null(strstr(dom, chart));
		}
	}
	assert_non_null(strstr(dom, "program_destroyed"));
	assert_non_null(strstr(dom, "device_closed"));

	/* A picture for a person, kept with the build. */
	snprintf(shot, sizeof(shot), "--screenshot='%s/report.png'", dir);
	err = chromium(dir, page, shot, NULL);
	if (strstr(err, ":CONSOLE"))
		fail_msg("the page logged to the console: %s", err);
	snprintf(shot, sizeof(shot), "%s/report.png", dir);
	assert_int_equal(stat(shot, &st), 0);
	assert_true(st.st_size > 10000);
	snprintf(kept, sizeof(kept), "%s/report-screenshot.png", build_dir());
	{
		char command[2048];
		char *cp[] = { "/bin/sh", "-c", command, NULL };

		snprintf(command, sizeof(command), "cp '%s' '%s' && cp '%s' '%s/report-test.html'",
			 shot, kept, page, build_dir());
		assert_int_equal(harness_exit_code(harness_run(&proc, cp, 30)), 0);
	}
	json_object_put(summary);
	json_object_put(truth);
}

static void test_report_bad_input(void **state)
{
	const char *dir = *state;
	char *missing[] = { (char *)harness_devledger(),	   "report",
			    (char *)file_in(dir, "none", ".json"), "-o",
			    (char *)file_in(dir, "r", ".html"),	   NULL };
	char *no_output[] = { (char *)harness_devledger(), "report", "x.json", NULL };
	struct harness_proc proc;
	struct stat st;

	assert_int_equal(harness_exit_code(harness_run(&proc, missing, 30)), 2);
	assert_non_null(strstr(proc.err, "cannot read it"));
	assert_int_equal(harness_exit_code(harness_run(&proc, no_output, 30)), 2);
	assert_non_null(strstr(proc.err, "report needs -o"));
	assert_int_not_equal(stat(file_in(dir, "r", ".html"), &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accumulate_marked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_marked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_over_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff_by_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_compared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_in_chromium, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_bad_input, setup, teardown),
	};

	return cmocka_run_group_tests_name("over_time", tests, NULL, NULL);
}
