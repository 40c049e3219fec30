/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger traces the stand-in runtime for real (BPF programs loaded,
 * uprobes attached) and its summary must equal the ground truth the
 * stand-in wrote about itself. A failure to load or attach is a failure.
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

#define KIB	  1024LL
#define TIMEOUT_S 120

static void assert_every_end_has_stack_into(struct json_object *summary, const char *caller);

/* ... into the stand-in's driver. */
static void assert_every_end_has_stack(struct json_object *summary)
{
	assert_every_end_has_stack_into(summary, "/standin");
}

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
 * devledger trace [extra...] -o DIR/summary.json -- DRIVER ARGS... --truth DIR/truth.json
 * Returns devledger's exit code; proc keeps what it printed on stderr.
 */
static int trace_driver(struct harness_proc *proc, const char *dir, const char *driver,
			const char *const *extra, const char *const *args)
{
	char *argv[64];
	int n = 0;

	argv[n++] = (char *)harness_devledger();
	argv[n++] = "trace";
	for (; extra && *extra; extra++)
		argv[n++] = (char *)*extra;
	argv[n++] = "-o";
	argv[n++] = (char *)harness_path(dir, "summary.json");
	argv[n++] = "--";
	argv[n++] = (char *)driver;
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n++] = "--truth";
	argv[n++] = (char *)harness_path(dir, "truth.json");
	argv[n] = NULL;
	return harness_exit_code(harness_run(proc, argv, TIMEOUT_S));
}

static int trace_command(struct harness_proc *proc, const char *dir, const char *const *extra,
			 const char *const *args)
{
	return trace_driver(proc, dir, harness_standin_driver(), extra, args);
}

/*
 * Trace a scenario on one build of the stand-in (its folder named by the
 * environment variable `env`), expect exit 0, and compare with its truth.
 * Returns the summary; proc keeps what devledger printed.
 */
static struct json_object *trace_build(struct harness_proc *proc, const char *dir, const char *env,
				       const char *const *extra, const char *const *args)
{
	char *driver = strdup(harness_variant(env, "standin"));
	int code = trace_driver(proc, dir, driver, extra, args);
	struct json_object *summary;

	if (code != 0)
		fail_msg("%s %s: devledger exited %d: %s", driver, args[0], code, proc->err);
	free(driver);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	harness_assert_exact(summary);
	harness_assert_truth(summary, harness_path(dir, "truth.json"));
	return summary;
}

/* Trace a scenario in launch mode, expect `code`, and compare with its truth. */
static struct json_object *trace_and_compare(const char *dir, const char *const *args, int code)
{
	struct harness_proc proc;
	int got = trace_command(&proc, dir, NULL, args);
	struct json_object *summary;

	if (got != code)
		fail_msg("devledger exited %d, expected %d; stderr: %s", got, code, proc.err);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	harness_assert_exact(summary);
	harness_assert_truth(summary, harness_path(dir, "truth.json"));
	assert_every_end_has_stack(summary);
	assert_string_equal(json_object_get_string(harness_get(summary, "session.mode")),
			    "command");
	return summary;
}

/*
 * Sum of the sizes of a process's list entries of one device (a chip, or a
 * mesh when `kind` says so), type and reason (NULL: any).
 */
static long long device_list_bytes(struct json_object *proc, const char *list, const char *kind,
				   long long device, const char *type, const char *reason)
{
	struct json_object *items = harness_get(proc, list);
	long long total = 0;

	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		struct json_object *item = json_object_array_get_idx(items, i);

		if (harness_get_int(item, "device_id") != device ||
		    strcmp(json_object_get_string(harness_get(item, "device_kind")), kind) ||
		    strcmp(json_object_get_string(harness_get(item, "type")), type))
			continue;
		if (reason && strcmp(json_object_get_string(harness_get(item, "reason")), reason))
			continue;
		total += harness_get_int(item, "size");
	}
	return total;
}

static long long list_bytes(struct json_object *proc, const char *list, long long device,
			    const char *type, const char *reason)
{
	return device_list_bytes(proc, list, "chip", device, type, reason);
}

/* A device's entry (a chip, or a mesh when `kind` says so) in a process, or NULL. */
static struct json_object *device_of(struct json_object *proc, const char *kind, long long device)
{
	struct json_object *devices = harness_get(proc, "devices");

	for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i);

		if (harness_get_int(dev, "device_id") == device &&
		    !strcmp(json_object_get_string(harness_get(dev, "kind")), kind))
			return dev;
	}
	return NULL;
}

/* One counter of one device and type; fails the test when the summary lacks it. */
static long long device_stat(struct json_object *proc, const char *kind, long long device,
			     const char *type, const char *field)
{
	struct json_object *dev = device_of(proc, kind, device);
	char path[96];

	if (!dev)
		fail_msg("no %s %lld in the summary", kind, device);
	snprintf(path, sizeof(path), "memory.%s.%s", type, field);
	return harness_get_int(dev, path);
}

/*
 * The original report: 36 KiB DRAM on each of 8 chips and 22 KiB of L1 (CBs) on chip 0, none of it
 * leaked. Program a's globally allocated CB (inside a sharded L1 buffer) is no CB at all, and its
 * second layout is none.
 */
static void check_remaining(struct json_object *proc)
{
	for (long long dev = 0; dev < 8; dev++) {
		assert_int_equal(list_bytes(proc, "untracked_frees", dev, "DRAM", "device_closed"),
				 36 * KIB);
		assert_int_equal(device_stat(proc, "chip", dev, "DRAM", "untracked_bytes"),
				 36 * KIB);
	}
	assert_int_equal(list_bytes(proc, "untracked_frees", 0, "CB", "program_destroyed"),
			 22 * KIB);
	assert_int_equal(device_stat(proc, "chip", 0, "CB", "untracked_bytes"), 22 * KIB);
	assert_int_equal(device_stat(proc, "chip", 0, "CB", "allocs"), 5);
	assert_int_equal(json_object_array_length(harness_get(proc, "leaks")), 0);
}

static void test_remaining(void **state)
{
	const char *args[] = { "remaining", NULL };
	struct json_object *summary = trace_and_compare(*state, args, 0);
	struct json_object *truth = harness_load_json(harness_path(*state, "truth.json"));
	struct json_object *proc = harness_find_process(summary, harness_get_int(truth, "pid"));

	check_remaining(proc);
	json_object_put(truth);
	json_object_put(summary);
}

static void test_leak(void **state)
{
	const char *args[] = { "leak", NULL };
	const char *fail_on_leak[] = { "--fail-on-leak", NULL };
	struct json_object *summary = trace_and_compare(*state, args, 0);
	struct json_object *procs = harness_get(summary, "processes");
	struct harness_proc proc;

	assert_true(json_object_array_length(
			    harness_get(json_object_array_get_idx(procs, 0), "leaks")) > 0);
	/* Who it was, though it was gone before devledger read its first record. */
	assert_string_equal(json_object_get_string(harness_get(summary, "processes.0.cmdline.1")),
			    "leak");
	assert_true(harness_get_int(summary, "processes.0.ppid") > 1);
	json_object_put(summary);

	/* The same run with --fail-on-leak: exit 3, summary still written. */
	assert_int_equal(trace_command(&proc, *state, fail_on_leak, args), 3);
	summary = harness_load_json(harness_path(*state, "summary.json"));
	harness_assert_truth(summary, harness_path(*state, "truth.json"));
	json_object_put(summary);
}

static void test_churn(void **state)
{
	const char *args[] = { "churn", "20000", "--seed", "7", NULL };

	json_object_put(trace_and_compare(*state, args, 0));
}

static void test_threads(void **state)
{
	const char *args[] = { "threads", "2", "--ops", "20000", "--seed", "11", NULL };

	json_object_put(trace_and_compare(*state, args, 0));
}

static void test_double_free(void **state)
{
	const char *args[] = { "double-free", NULL };
	struct json_object *summary = trace_and_compare(*state, args, 0);
	struct json_object *unmatched = harness_get(
		json_object_array_get_idx(harness_get(summary, "processes"), 0), "unmatched_frees");
	bool seen_double = false, seen_unknown = false;

	for (size_t i = 0; i < json_object_array_length(unmatched); i++) {
		const char *reason = json_object_get_string(
			harness_get(json_object_array_get_idx(unmatched, i), "reason"));

		seen_double |= !strcmp(reason, "double_free");
		seen_unknown |= !strcmp(reason, "unknown_address");
	}
	assert_true(seen_double);
	assert_true(seen_unknown);
	json_object_put(summary);
}

/* A command killed by SIGKILL: devledger exits 128+9 and its live buffers are leaks. */
static void test_crash(void **state)
{
	const char *args[] = { "crash", NULL };

	json_object_put(trace_and_compare(*state, args, 128 + SIGKILL));
}

/*
 * Whichever instruction the probes sit on (the entry, or the cheapest one of
 * the prologue), on a plain build and a CET build, and however they are
 * attached (uprobe_multi links, or a perf-event uprobe each), the ledger is
 * the same: the truth.
 */
static void test_probe_sites(void **state)
{
	const char *dir = *state;
	const char *args[] = { "churn", "3000", "--seed", "5", NULL };
	/* Copies: harness paths live in a few rotating buffers. */
	char *drivers[] = { strdup(harness_standin_driver()),
			    strdup(harness_standin_cet_driver()) };
	const char *chosen[] = { "-v", NULL }, *entry[] = { "-v", "--entry-probes", NULL },
		   *perf[] = { "-v", "--perf-uprobes", NULL };
	const char *const *modes[] = { chosen, entry, perf };

	for (int d = 0; d < 2; d++) {
		for (int mode = 0; mode < 3; mode++) {
			struct harness_proc proc;
			struct json_object *summary;
			int code = trace_driver(&proc, dir, drivers[d], modes[mode], args);

			if (code != 0)
				fail_msg("%s: devledger exited %d: %s", drivers[d], code, proc.err);
			summary = harness_load_json(harness_path(dir, "summary.json"));
			harness_assert_exact(summary);
			harness_assert_truth(summary, harness_path(dir, "truth.json"));
			json_object_put(summary);
			/* On the CET build the chosen site is the push after endbr64. */
			if (d == 1 && mode != 1 &&
			    !strstr(proc.err, "track_allocate: probe at +4 (push"))
				fail_msg("CET build: track_allocate not probed past endbr64: %s",
					 proc.err);
			if (mode == 1 && strstr(proc.err, "probe at"))
				fail_msg("--entry-probes still chose sites: %s", proc.err);
			/* This kernel has uprobe_multi: used unless told otherwise. */
			if (!strstr(proc.err, mode == 2 ? "probes attached as perf-event uprobes"
							: "probes attached in uprobe_multi links"))
				fail_msg("not attached as expected: %s", proc.err);
		}
	}
	free(drivers[0]);
	free(drivers[1]);
}

static int run_check(const char *library, bool json, uid_t uid, struct harness_proc *proc,
		     struct json_object **parsed);
static struct json_object *probe_entry(struct json_object *check, const char *program);
static struct json_object *field_entry(struct json_object *check, const char *name);

/*
 * The mesh scenario's figures, its mesh numbered mesh_id (tt-metal's process-wide mesh counter,
 * not the order meshes were seen in): the one mesh entry of the summary, after the chips.
 */
static void check_mesh(struct json_object *proc, long long mesh_id)
{
	struct json_object *devices = harness_get(proc, "devices");
	size_t meshes = 0;

	for (long long chip = 0; chip < 8; chip++)
		assert_int_equal(list_bytes(proc, "untracked_frees", chip, "DRAM", "mesh_closed"),
				 36 * KIB);
	assert_int_equal(list_bytes(proc, "untracked_frees", 0, "CB", "program_destroyed"),
			 22 * KIB);
	assert_int_equal(
		device_list_bytes(proc, "untracked_frees", "mesh", mesh_id, "DRAM", "mesh_closed"),
		32 * KIB);
	assert_int_equal(
		device_list_bytes(proc, "untracked_frees", "mesh", mesh_id, "L1", "allocator_free"),
		8 * KIB);
	assert_int_equal(list_bytes(proc, "untracked_frees", 7, "L1", "allocator_clear"), 6 * KIB);
	assert_int_equal(list_bytes(proc, "untracked_frees", 6, "L1_SMALL", "allocator_clear"),
			 512);
	assert_int_equal(json_object_array_length(harness_get(proc, "leaks")), 0);
	assert_int_equal(json_object_array_length(harness_get(proc, "unmatched_frees")), 0);
	for (size_t i = 0; devices && i < json_object_array_length(devices); i++)
		meshes += !strcmp(json_object_get_string(harness_get(
					  json_object_array_get_idx(devices, i), "kind")),
				  "mesh");
	if (meshes != 1)
		fail_msg("%zu mesh entries in the summary, expected only mesh %lld: %s", meshes,
			 mesh_id, json_object_to_json_string_ext(devices, JSON_C_TO_STRING_PLAIN));
	/* The mesh, an id of its own (0 collides with chip 0), is an entry after the chips. */
	assert_string_equal(json_object_get_string(harness_get(proc, "devices.8.kind")), "mesh");
	assert_int_equal(harness_get_int(proc, "devices.8.device_id"), mesh_id);
	assert_string_equal(json_object_get_string(harness_get(proc, "devices.0.kind")), "chip");
}

/*
 * Per chip: each chip of the truth's one mesh, its own figures plus the
 * mesh's (every counter but the peak), as the summary's "chips" must show.
 */
static void check_chips(struct json_object *proc, const char *truth_path)
{
	static const char *const counters[] = { "live_bytes",	   "live_count",
						"allocs",	   "frees",
						"untracked_frees", "untracked_bytes",
						"leaks",	   "leaked_bytes" };
	struct json_object *truth = harness_load_json(truth_path);
	struct json_object *devices = harness_get(truth, "devices"), *mesh = NULL;
	struct json_object *chips = harness_get(proc, "chips");
	size_t seen = 0;

	for (size_t i = 0; i < json_object_array_length(devices); i++) {
		struct json_object *d = json_object_array_get_idx(devices, i);

		if (!strcmp(json_object_get_string(harness_get(d, "kind")), "mesh"))
			mesh = harness_get(d, "memory");
	}
	assert_non_null(mesh);
	for (size_t i = 0; i < json_object_array_length(devices); i++) {
		struct json_object *d = json_object_array_get_idx(devices, i), *got = NULL;
		long long id = harness_get_int(d, "device_id");

		if (strcmp(json_object_get_string(harness_get(d, "kind")), "chip"))
			continue;
		for (size_t c = 0; chips && c < json_object_array_length(chips); c++)
			if (harness_get_int(json_object_array_get_idx(chips, c), "device_id") == id)
				got = json_object_array_get_idx(chips, c);
		if (!got)
			fail_msg("chip %lld missing from chips: %s", id,
				 json_object_to_json_string(chips));
		seen++;
		json_object_object_foreach(mesh, type, mesh_stats)
		{
			struct json_object *own = NULL, *chip_stats;

			json_object_object_get_ex(harness_get(d, "memory"), type, &own);
			chip_stats = harness_get(harness_get(got, "memory"), type);
			if (!chip_stats)
				fail_msg("chip %lld has no %s", id, type);
			for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
				long long want = harness_get_int(mesh_stats, counters[k]) +
						 (own ? harness_get_int(own, counters[k]) : 0);

				if (harness_get_int(chip_stats, counters[k]) != want)
					fail_msg("chip %lld %s %s: %lld, truth %lld", id, type,
						 counters[k], harness_get_int(chip_stats, counters[k]),
						 want);
			}
		}
	}
	assert_int_equal(seen, json_object_array_length(chips));
	json_object_put(truth);
}

/*
 * The original report, on a mesh of 8 chips: 36 KiB of kernel binaries on
 * each chip and 22 KiB of CBs on chip 0 still allocated after the test, and
 * none of it a leak. The mesh's own buffers land on one device of kind
 * mesh; every release below GraphTracker shows with its reason:
 * allocator_free (a MeshBuffer released through the allocator),
 * allocator_clear (an allocator cleared outside a close), mesh_closed.
 * Era B and era C (BankManager::deallocate_buffer's second argument,
 * AllocatorImpl) alike.
 */
static void test_mesh(void **state)
{
	const char *dir = *state;
	const char *args[] = { "mesh", NULL };
	const char *const envs[] = { "STANDIN_DIR", "STANDIN_ERA_C_DIR", "STANDIN_STRIPPED_DIR",
				     "STANDIN_INLINED_DIR" };

	for (size_t b = 0; b < sizeof(envs) / sizeof(envs[0]); b++) {
		struct harness_proc run;
		struct json_object *summary = trace_build(&run, dir, envs[b], NULL, args);
		struct json_object *proc =
			json_object_array_get_idx(harness_get(summary, "processes"), 0);

		check_mesh(proc, 0);
		check_chips(proc, harness_path(dir, "truth.json"));
		if (!strstr(run.err, "on mesh 0"))
			fail_msg("the report does not name the mesh: %s", run.err);
		/* Chips 1-5 hold the same: printed once, as the original report says it. */
		if (!strstr(run.err, "devices 1-5, each (of mesh 0)"))
			fail_msg("the report has no per-chip picture: %s", run.err);
		json_object_put(summary);
	}
}

/* How often a probe fired, from -v's "probe hits" line; -1 when it did not fire. */
static long long probe_hits(const char *err, const char *probe)
{
	const char *line = strstr(err, "devledger: probe hits:");
	char needle[64];
	const char *at;

	if (!line)
		fail_msg("no probe hits line: %s", err);
	snprintf(needle, sizeof(needle), " %s ", probe);
	at = strstr(line, needle);
	if (!at || (strchr(line, '\n') && at > strchr(line, '\n')))
		return -1;
	return strtoll(at + strlen(needle), NULL, 10);
}

/* Every hit of every probe, from -v's "probe hits" line. */
static long long probe_total(const char *err)
{
	const char *line = strstr(err, "devledger: probe hits:");
	const char *end = line ? strstr(line, " in all\n") : NULL;
	const char *at = end;

	if (!end)
		fail_msg("no probe hits total: %s", err);
	while (at > line && at[-1] >= '0' && at[-1] <= '9')
		at--;
	return strtoll(at, NULL, 10);
}

/*
 * A tracked free takes one trap: the mesh scenario's every fate and reason
 * exact (allocator_free, allocator_clear, mesh_closed) with no probe on
 * BankManager::deallocate_buffer, and the MeshBuffer's release seen at its
 * call to the allocator, once. With --entry-probes (no probe on a call) the
 * bank's release is probed on every free again: the same figures, and the
 * same hits but for the bank's, one per release of one buffer (each tracked
 * free's and the MeshBuffer's) in place of that one call's.
 */
static void test_hot_path(void **state)
{
	const char *dir = *state;
	const char *args[] = { "mesh", NULL };
	const char *verbose[] = { "-v", NULL }, *entry[] = { "-v", "--entry-probes", NULL };
	const char *const envs[] = { "STANDIN_DIR", "STANDIN_ERA_C_DIR", "STANDIN_CET_DIR" };

	for (size_t b = 0; b < sizeof(envs) / sizeof(envs[0]); b++) {
		long long total[2], frees[2], bank = 0;

		for (int e = 0; e < 2; e++) {
			struct harness_proc run;
			struct json_object *summary =
				trace_build(&run, dir, envs[b], e ? entry : verbose, args);

			check_mesh(json_object_array_get_idx(harness_get(summary, "processes"), 0),
				   0);
			total[e] = probe_total(run.err);
			frees[e] = probe_hits(run.err, "track_deallocate");
			assert_true(frees[e] > 0);
			if (e == 0) {
				assert_int_equal(probe_hits(run.err, "bank_deallocate"), -1);
				assert_int_equal(probe_hits(run.err, "mesh_buffer_release"), 1);
			} else {
				assert_int_equal(probe_hits(run.err, "mesh_buffer_release"), -1);
				/* Every release of one buffer: the tracked frees and the
				 * MeshBuffer's. */
				bank = probe_hits(run.err, "bank_deallocate");
				assert_int_equal(bank, frees[e] + 1);
			}
			json_object_put(summary);
		}
		assert_int_equal(frees[0], frees[1]);
		assert_int_equal(total[0], total[1] - bank + 1);
	}
}

/* Only the sub-device allocator's 3 KiB go with it; the device's own buffer is freed tracked. */
static void check_subdevice(struct json_object *proc)
{
	assert_int_equal(list_bytes(proc, "untracked_frees", 0, "L1", "allocator_clear"), 3 * KIB);
	assert_int_equal(device_stat(proc, "chip", 0, "L1", "frees"), 1);
}

/*
 * A sub-device manager removed: its allocator's buffers are released
 * (allocator_clear), the device's own allocator's are not, whichever era.
 */
static void test_subdevice(void **state)
{
	const char *dir = *state;
	const char *args[] = { "subdevice", NULL };
	const char *const envs[] = { "STANDIN_DIR", "STANDIN_ERA_C_DIR" };

	for (size_t b = 0; b < sizeof(envs) / sizeof(envs[0]); b++) {
		struct harness_proc run;
		struct json_object *summary = trace_build(&run, dir, envs[b], NULL, args);

		check_subdevice(json_object_array_get_idx(harness_get(summary, "processes"), 0));
		json_object_put(summary);
	}
}

/*
 * A build whose Buffer::allocate_impl has the tracker call inlined (a unity
 * build can do that): track_allocate never fires there, so allocate_impl's
 * return reports each allocation, and the ledger is the truth all the same.
 */
static void test_inlined_tracker(void **state)
{
	const char *dir = *state;
	const char *scenarios[][6] = { { "remaining", NULL },
				       { "churn", "3000", "--seed", "8", NULL } };
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		struct harness_proc proc;

		json_object_put(trace_build(&proc, dir, "STANDIN_INLINED_DIR", NULL, scenarios[i]));
		if (!strstr(proc.err, "reports allocations at Buffer::allocate_impl's return"))
			fail_msg("no word of the inlined tracker: %s", proc.err);
	}
}

/* Era C (pimpl Buffer, built with clang++): found from the symbols, traced as exactly. */
static void test_era_c(void **state)
{
	const char *dir = *state;
	const char *scenarios[][6] = { { "remaining", NULL },
				       { "churn", "3000", "--seed", "3", NULL },
				       { "double-free", NULL } };
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		struct harness_proc proc;
		struct json_object *summary =
			trace_build(&proc, dir, "STANDIN_ERA_C_DIR", NULL, scenarios[i]);

		/* Found from its symbols: AllocatorImpl is era C's. */
		assert_string_equal(json_object_get_string(harness_get(summary, "session.profile")),
				    "era-c");
		json_object_put(summary);
	}
}

/*
 * Offsets from the library's DWARF: a build whose Buffer differs from every
 * preset is traced right; a stripped build (no DWARF, no .symtab) falls
 * back on the presets and says so.
 */
static void test_layout_sources(void **state)
{
	const char *dir = *state;
	const char *args[] = { "churn", "3000", "--seed", "9", NULL };
	const char *const envs[] = { "STANDIN_SHIFTED_DIR", "STANDIN_STRIPPED_DIR" };
	const char *const sources[] = { "dwarf", "preset" };
	struct json_object *out;
	struct harness_proc proc;

	for (int i = 0; i < 2; i++) {
		struct json_object *summary = trace_build(&proc, dir, envs[i], NULL, args);

		assert_string_equal(
			json_object_get_string(harness_get(summary, "session.layout_source")),
			sources[i]);
		json_object_put(summary);
	}
	if (!strstr(proc.err, "offsets from presets"))
		fail_msg("the report does not say the offsets are presets: %s", proc.err);

	/* check says where each offset came from, and finds the stripped build's exports. */
	assert_int_equal(run_check(harness_variant("STANDIN_SHIFTED_DIR", "libtt_metal.so"), true,
				   0, &proc, &out),
			 0);
	assert_string_equal(json_object_get_string(harness_get(out, "fields.1.name")),
			    "Buffer.size_");
	assert_int_equal(harness_get_int(out, "fields.1.offset"), 32);
	assert_string_equal(json_object_get_string(harness_get(out, "fields.1.source")), "dwarf");
	json_object_put(out);
	/* The same offsets from compressed debug sections: zlib (libdw's own) and zstd (ours). */
	for (int c = 0; c < 2; c++) {
		const char *file = c ? "libtt_metal-zstd.so" : "libtt_metal-zlib.so";

		assert_int_equal(run_check(harness_variant("STANDIN_SHIFTED_DIR", file), true, 0,
					   &proc, &out),
				 0);
		if (harness_get_int(out, "fields.1.offset") != 32 ||
		    strcmp(json_object_get_string(harness_get(out, "fields.1.source")), "dwarf"))
			fail_msg("%s: Buffer.size_ not read from its DWARF: %s", file, proc.out);
		json_object_put(out);
	}
	assert_int_equal(run_check(harness_variant("STANDIN_STRIPPED_DIR", "libtt_metal.so"), true,
				   0, &proc, &out),
			 0);
	assert_false(json_object_get_boolean(harness_get(out, "dwarf")));
	assert_string_equal(json_object_get_string(harness_get(out, "fields.1.source")), "preset");
	assert_string_equal(json_object_get_string(harness_get(out, "probes.0.table")), ".dynsym");
	/* No DWARF: the mesh id is not known (meshes are numbered), the vtables are exported. */
	assert_string_equal(json_object_get_string(harness_get(out, "fields.7.source")), "none");
	assert_null(harness_get(out, "fields.7.offset"));
	assert_true(json_object_get_boolean(harness_get(out, "vtables.mesh_device")));
	json_object_put(out);

	/* --offset wins over both; traced with it (here the right value), the ledger stays exact.
	 */
	{
		const char *override[] = { "--offset", "Buffer.size_=24", NULL };
		char *driver = strdup(harness_variant("STANDIN_STRIPPED_DIR", "standin"));
		struct json_object *summary;

		assert_int_equal(trace_driver(&proc, dir, driver, override, args), 0);
		summary = harness_load_json(harness_path(dir, "summary.json"));
		assert_string_equal(
			json_object_get_string(harness_get(summary, "session.layout_source")),
			"preset+override");
		harness_assert_truth(summary, harness_path(dir, "truth.json"));
		json_object_put(summary);
		free(driver);
	}
}

/*
 * A library without ProgramImpl's functions (hidden, stripped): devledger warns, traces, and
 * the CBs end when their device closes, as the truth of an observer blind to programs says.
 */
static void test_no_program_symbols(void **state)
{
	const char *dir = *state;
	const char *args[] = { "remaining", NULL };
	char *driver = strdup(harness_variant("STANDIN_NOPROG_DIR", "standin"));
	struct json_object *summary, *out, *proc_entry;
	struct harness_proc proc;

	assert_int_equal(trace_driver(&proc, dir, driver, NULL, args), 0);
	if (!strstr(proc.err, "CBs cannot be tied to their programs"))
		fail_msg("no warning about the missing ProgramImpl functions: %s", proc.err);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	harness_assert_exact(summary);
	harness_assert_truth(summary, harness_path(dir, "truth.json"));
	proc_entry = json_object_array_get_idx(harness_get(summary, "processes"), 0);
	assert_int_equal(list_bytes(proc_entry, "untracked_frees", 0, "CB", "device_closed"),
			 22 * KIB);
	json_object_put(summary);
	free(driver);

	assert_int_equal(run_check(harness_variant("STANDIN_NOPROG_DIR", "libtt_metal.so"), true, 0,
				   &proc, &out),
			 0);
	assert_true(json_object_get_boolean(harness_get(out, "resolved")));
	assert_false(json_object_get_boolean(
		harness_get(probe_entry(out, "allocate_circular_buffers"), "found")));
	assert_false(json_object_get_boolean(
		harness_get(probe_entry(out, "allocate_circular_buffers"), "required")));
	assert_true(json_object_array_length(harness_get(out, "warnings")) >= 2);
	json_object_put(out);
}

/* Two threads calling the probed functions flat out for 10 s, default settings: nothing lost. */
static void test_no_loss(void **state)
{
	const char *args[] = { "hammer", "2", "10", NULL };

	json_object_put(trace_and_compare(*state, args, 0));
}

/* A ring too small to keep up: the loss is counted, the summary says inexact, the report warns. */
static void test_loss_reported(void **state)
{
	const char *dir = *state;
	const char *args[] = { "hammer", "2", "1", NULL };
	const char *tiny[] = { "--ring-size", "4096", NULL };
	struct harness_proc proc;
	struct json_object *summary;

	assert_int_equal(trace_command(&proc, dir, tiny, args), 0);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	assert_true(harness_get_int(summary, "session.lost_events") > 0);
	assert_false(json_object_get_boolean(harness_get(summary, "session.exact")));
	if (!strstr(proc.err, "WARNING") || !strstr(proc.err, "--ring-size"))
		fail_msg("no warning about lost events in the report: %s", proc.err);
	json_object_put(summary);
}

/* Start `standin wait` and read its ready line. */
static void start_waiter(struct harness_proc *proc, const char *dir, const char *name)
{
	char truth[256], attach[256];
	char *argv[] = { (char *)harness_standin_driver(),
			 "wait",
			 "--truth",
			 truth,
			 "--attach-truth",
			 attach,
			 NULL };

	snprintf(truth, sizeof(truth), "%s/%s-truth.json", dir, name);
	snprintf(attach, sizeof(attach), "%s/%s-attach-truth.json", dir, name);
	harness_spawn(proc, argv, true, false, 0);
	harness_expect_out(proc, "ready\n", 10000);
}

/* -p on a process that already allocated: its earlier buffers' frees are unknown addresses. */
static void test_attach_pid(void **state)
{
	const char *dir = *state;
	struct harness_proc waiter, tracer;
	char pid[16];
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-p",
			 pid,
			 "-o",
			 (char *)harness_path(dir, "summary.json"),
			 NULL };
	struct json_object *summary;

	start_waiter(&waiter, dir, "w");
	snprintf(pid, sizeof(pid), "%d", (int)waiter.pid);
	harness_spawn(&tracer, argv, false, true, 0);
	harness_expect_err(&tracer, "devledger: tracing", 20000);

	kill(waiter.pid, SIGUSR1);
	assert_int_equal(harness_exit_code(harness_wait(&waiter, TIMEOUT_S)), 0);
	/* With every target gone, devledger ends by itself. */
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 0);

	summary = harness_load_json(harness_path(dir, "summary.json"));
	harness_assert_exact(summary);
	harness_assert_truth(summary, harness_path(dir, "w-attach-truth.json"));
	assert_string_equal(json_object_get_string(harness_get(summary, "session.mode")), "pid");
	/* Read from /proc at the attach: the waiter's own argv. */
	assert_string_equal(json_object_get_string(harness_get(summary, "processes.0.cmdline.1")),
			    "wait");
	json_object_put(summary);
}

/*
 * A -p target that died but was not reaped yet is gone: a zombie keeps its
 * pid, and kill(pid, 0) still works on it, but there is nothing left to see.
 */
static void test_attach_pid_zombie(void **state)
{
	const char *dir = *state;
	struct harness_proc waiter, tracer;
	char pid[16];
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-p",
			 pid,
			 "-o",
			 (char *)harness_path(dir, "summary.json"),
			 NULL };

	start_waiter(&waiter, dir, "z");
	snprintf(pid, sizeof(pid), "%d", (int)waiter.pid);
	harness_spawn(&tracer, argv, false, true, 0);
	harness_expect_err(&tracer, "devledger: tracing", 20000);
	/* Killed and left unreaped: this test is its parent, and waits for it only later. */
	kill(waiter.pid, SIGKILL);
	assert_int_equal(harness_exit_code(harness_wait(&tracer, 10)), 0);
	assert_int_equal(harness_exit_code(harness_wait(&waiter, TIMEOUT_S)), 128 + SIGKILL);
	json_object_put(harness_load_json(harness_path(dir, "summary.json")));
}

/*
 * Two million allocations never freed: devledger keeps --max-live of them,
 * counts the rest, says the session is not exact, and its own memory
 * (measured once the summary is built) stays small.
 */
static void test_flood_bounded(void **state)
{
	const char *dir = *state;
	const char *opts[] = { "--max-live", "20000", NULL },
		   *args[] = { "flood", "2000000", NULL };
	struct harness_proc proc;
	struct json_object *summary, *p;

	assert_int_equal(trace_command(&proc, dir, opts, args), 0);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	p = json_object_array_get_idx(harness_get(summary, "processes"), 0);
	/* The Buffer the flood reuses was allocated once for real: 1 + 19999 kept. */
	assert_int_equal(harness_get_int(p, "dropped_allocations"), 2000001 - 20000);
	assert_int_equal(json_object_array_length(harness_get(p, "leaks")), 20000);
	assert_false(json_object_get_boolean(harness_get(summary, "session.exact")));
	assert_int_equal(harness_get_int(summary, "session.lost_events"), 0);
	if (harness_get_int(summary, "session.peak_rss_kib") > 200 * 1024)
		fail_msg("devledger held %lld KiB",
			 harness_get_int(summary, "session.peak_rss_kib"));
	if (!strstr(proc.err, "1980001 allocations were not kept"))
		fail_msg("the report does not say what was dropped: %s", proc.err);
	json_object_put(summary);
}

/*
 * -o - in launch mode: devledger's stdout is the summary alone, whatever the
 * command prints; the command's stdout goes to stderr.
 */
static void test_summary_on_stdout(void **state)
{
	const char *dir = *state;
	char script[4200];
	char *argv[] = { (char *)harness_devledger(), "trace", "-q", "-o", "-", "--", "/bin/sh",
			 "-c", script, NULL };
	struct harness_proc proc;
	struct json_object *summary;
	FILE *f;

	snprintf(script, sizeof(script),
		 "echo from-the-command; '%s' leak --truth '%s'; echo after-the-command",
		 harness_standin_driver(), harness_path(dir, "truth.json"));
	harness_spawn(&proc, argv, true, true, 0);
	assert_int_equal(harness_exit_code(harness_wait(&proc, TIMEOUT_S)), 0);
	if (!strstr(proc.err, "from-the-command") || !strstr(proc.err, "after-the-command"))
		fail_msg("the command's output is not on stderr: %s", proc.err);
	f = fopen(harness_path(dir, "stdout.json"), "w");
	assert_non_null(f);
	fwrite(proc.out, 1, proc.out_len, f);
	fclose(f);
	/* Strictly one JSON document: nothing of the command's around it. */
	summary = harness_load_json(harness_path(dir, "stdout.json"));
	harness_assert_exact(summary);
	harness_assert_truth(summary, harness_path(dir, "truth.json"));
	json_object_put(summary);
}

/*
 * -d in launch mode ends the tracing, not the command: the summary lists it
 * running, and devledger waits for it and exits with its status.
 */
static void test_duration_with_command(void **state)
{
	const char *dir = *state;
	char script[4096 + 64];
	struct harness_proc proc;
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-d",
			 "0.5",
			 "-l",
			 (char *)harness_standin_lib(),
			 "-o",
			 (char *)harness_path(dir, "summary.json"),
			 "--",
			 "/bin/sh",
			 "-c",
			 script,
			 NULL };
	struct json_object *summary, *p;

	(void)state;
	snprintf(script, sizeof(script), "%s leak; sleep 1.5; exit 7", harness_standin_driver());
	assert_int_equal(harness_exit_code(harness_run(&proc, argv, TIMEOUT_S)), 7);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	/* The shell was still running when tracing ended; the driver had exited with its leaks. */
	p = harness_find_process(summary, (long)harness_get_int(summary, "processes.0.pid"));
	assert_true(json_object_is_type(harness_get(p, "exit"), json_type_null));
	assert_int_equal(harness_get_int(summary, "processes.1.exit.code"), 0);
	assert_int_equal(json_object_array_length(harness_get(summary, "processes.1.leaks")), 5);
	json_object_put(summary);
}

/*
 * -l naming a copy of the library the command never loads: nothing is seen,
 * and that is never passed off as clean: exact is false with the reason, and
 * --fail-on-leak exits 1 (devledger could not answer).
 */
/*
 * A stripped build lays dataflow buffers out where devledger cannot read
 * them (no DWARF for the program's vector): the function still says it ran,
 * and the session is not exact, with the reason.
 */
static void test_dataflow_unreadable(void **state)
{
	const char *dir = *state;
	char *stripped = strdup(harness_variant("STANDIN_STRIPPED_DIR", "libtt_metal.so"));
	char *driver = strdup(harness_variant("STANDIN_STRIPPED_DIR", "standin"));
	const char *opts[] = { "-l", stripped, NULL }, *args[] = { "dataflow", NULL };
	struct harness_proc proc;
	struct json_object *summary;

	assert_int_equal(trace_driver(&proc, dir, driver, opts, args), 0);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	assert_false(json_object_get_boolean(harness_get(summary, "session.exact")));
	assert_non_null(strstr(json_object_get_string(harness_get(summary, "session.warnings.0")),
			       "ProgramImpl::allocate_dataflow_buffers(tt::tt_metal::IDevice "
			       "const*) ran"));
	json_object_put(summary);
	free(driver);
	free(stripped);
}

/* -a sees two processes started after it, each on its own, until SIGINT. */
static void test_system_wide(void **state)
{
	const char *dir = *state;
	struct harness_proc a, b, tracer;
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-a",
			 "-l",
			 (char *)harness_standin_lib(),
			 "-o",
			 (char *)harness_path(dir, "summary.json"),
			 NULL };
	struct json_object *summary;

	harness_spawn(&tracer, argv, false, true, 0);
	harness_expect_err(&tracer, "devledger: tracing", 20000);
	start_waiter(&a, dir, "a");
	start_waiter(&b, dir, "b");
	kill(a.pid, SIGUSR1);
	kill(b.pid, SIGUSR1);
	assert_int_equal(harness_exit_code(harness_wait(&a, TIMEOUT_S)), 0);
	assert_int_equal(harness_exit_code(harness_wait(&b, TIMEOUT_S)), 0);
	kill(tracer.pid, SIGINT);
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 0);

	summary = harness_load_json(harness_path(dir, "summary.json"));
	harness_assert_exact(summary);
	assert_string_equal(json_object_get_string(harness_get(summary, "session.mode")), "system");
	harness_assert_truth(summary, harness_path(dir, "a-truth.json"));
	harness_assert_truth(summary, harness_path(dir, "b-truth.json"));
	json_object_put(summary);
}

/* SIGTERM to devledger reaches the command; the summary is still written whole. */
static void test_sigterm_forwarded(void **state)
{
	const char *dir = *state;
	struct harness_proc tracer;
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-o",
			 (char *)harness_path(dir, "summary.json"),
			 "--",
			 (char *)harness_standin_driver(),
			 "wait",
			 NULL };
	struct json_object *summary, *proc;

	harness_spawn(&tracer, argv, true, true, 0);
	harness_expect_out(&tracer, "ready\n", 20000);
	kill(tracer.pid, SIGTERM);
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 128 + SIGTERM);

	summary = harness_load_json(harness_path(dir, "summary.json"));
	proc = json_object_array_get_idx(harness_get(summary, "processes"), 0);
	assert_int_equal(harness_get_int(proc, "exit.signal"), SIGTERM);
	/* What it allocated before the ready line died with it. */
	assert_true(json_object_array_length(harness_get(proc, "leaks")) > 0);
	json_object_put(summary);
}

/*
 * Started with SIGINT ignored (as a non-interactive shell starts a background
 * job), devledger still ends on SIGINT, and so does the command it passes it
 * on to.
 */
static void test_sigint_ignored_by_parent(void **state)
{
	const char *dir = *state;
	struct harness_proc tracer;
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-o",
			 (char *)harness_path(dir, "summary.json"),
			 "--",
			 (char *)harness_standin_driver(),
			 "wait",
			 NULL };
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
	struct json_object *summary;

	sigemptyset(&ignore.sa_mask);
	sigaction(SIGINT, &ignore, &old);
	harness_spawn(&tracer, argv, true, true, 0);
	sigaction(SIGINT, &old, NULL);
	harness_expect_out(&tracer, "ready\n", 20000);
	kill(tracer.pid, SIGINT);
	assert_int_equal(harness_exit_code(harness_wait(&tracer, TIMEOUT_S)), 128 + SIGINT);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	assert_int_equal(harness_get_int(summary, "processes.0.exit.signal"), SIGINT);
	json_object_put(summary);
}

/*
 * A SIGTERM at any moment, while the library is read, the BPF programs
 * load, the probes attach or it traces: devledger ends with its summary
 * written whole, every time.
 */
/* Wait until the process catches `sig` (its SigCgt mask in /proc/PID/status). */
static void wait_for_handler(pid_t pid, int sig)
{
	char path[64], line[256];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (int tries = 0; tries < 2000; tries++) {
		FILE *f = fopen(path, "r");
		unsigned long long caught = 0;

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "SigCgt: %llx", &caught) == 1)
				break;
		if (f)
			fclose(f);
		if (caught & (1ULL << (sig - 1)))
			return;
		usleep(1000);
	}
	fail_msg("process %d never caught signal %d", (int)pid, sig);
}

static void test_signal_any_time(void **state)
{
	const char *dir = *state;
	/* Copies: harness paths live in a few rotating buffers. */
	char *lib = strdup(harness_standin_lib()), *out = strdup(harness_path(dir, "summary.json"));
	char *argv[] = {
		(char *)harness_devledger(), "trace", "-a", "-q", "-l", lib, "-o", out, NULL
	};

	for (int round = 0; round < 12; round++) {
		struct harness_proc tracer;

		unlink(out);
		harness_spawn(&tracer, argv, false, true, 0);
		/*
		 * From the moment devledger catches SIGTERM (nothing can before its main
		 * runs, which a loaded machine delays) to well after the attach, 25 ms apart.
		 */
		wait_for_handler(tracer.pid, SIGTERM);
		usleep((useconds_t)round * 25000);
		kill(tracer.pid, SIGTERM);
		if (harness_exit_code(harness_wait(&tracer, TIMEOUT_S)) != 0)
			fail_msg("round %d: devledger did not end cleanly: %s", round, tracer.err);
		json_object_put(harness_load_json(out));
	}
	free(lib);
	free(out);
}

/* One line on stderr naming the problem, and the exit code for its kind. */
static void expect_error(char *const argv[], int code, const char *needle)
{
	struct harness_proc proc;
	int got = harness_exit_code(harness_run(&proc, argv, TIMEOUT_S));

	if (got != code || !strstr(proc.err, needle))
		fail_msg("%s %s: exit %d (expected %d), stderr \"%s\" (expected \"%s\")", argv[1],
			 argv[2] ? argv[2] : "", got, code, proc.err, needle);
	if (strchr(proc.err, '\n') != proc.err + strlen(proc.err) - 1)
		fail_msg("expected one line on stderr, got \"%s\"", proc.err);
}

static pid_t unused_pid(void)
{
	for (pid_t pid = 4000000; pid > 1000; pid -= 7)
		if (kill(pid, 0) && errno == ESRCH)
			return pid;
	fail_msg("no unused pid");
	return -1;
}

static void test_usage_errors(void **state)
{
	char *dl = (char *)harness_devledger();
	char *unknown[] = { dl, "trace", "--no-such-option", "-a", NULL };
	char *bad_number[] = { dl, "trace", "-a", "-d", "5x", NULL };
	char *nothing[] = { dl, "trace", NULL };
	char *two_modes[] = { dl, "trace", "-a", "-p", "1", NULL };
	char *lib = (char *)harness_standin_lib();
	/* Offsets that cannot fit the library: past what a probe reads, or another era's field. */
	char *far_offset[] = { dl, "trace", "-a", "-l", lib, "--offset", "Buffer.size_=200", NULL };
	char *other_era[] = {
		dl, "trace", "-a", "-l", lib, "--offset", "BufferImpl.size_=8", NULL
	};
	char *check_far[] = { dl, "check", "-l", lib, "--offset", "Buffer.size_=200", NULL };
	/* A forced era that the library's DWARF contradicts, both ways. */
	char *forced_c[] = { dl, "trace", "-a", "-l", lib, "--profile", "era-c", NULL };
	char *era_c_lib = strdup(harness_standin_era_c_lib());
	char *forced_b[] = { dl, "check", "-l", era_c_lib, "--profile", "era-b", NULL };

	(void)state;
	expect_error(forced_c, 2, "debug info has Buffer.size_, the era-b layout");
	expect_error(forced_b, 2, "debug info has Buffer.pimpl, the era-c layout");
	free(era_c_lib);
	expect_error(far_offset, 2, "check the --offset values");
	expect_error(other_era, 2, "the era-b layout has no such field");
	expect_error(check_far, 2, "check the --offset values");
	expect_error(unknown, 2, "devledger:");
	expect_error(bad_number, 2, "5x");
	expect_error(nothing, 2, "devledger:");
	expect_error(two_modes, 2, "devledger:");
}

static void test_runtime_errors(void **state)
{
	const char *dir = *state;
	char *dl = (char *)harness_devledger(), pid[16];
	char *not_elf = (char *)harness_path(dir, "not-elf.so");
	char *missing_lib[] = { dl, "trace", "-a", "-l", "/nonexistent/libtt_metal.so", NULL };
	char *text_lib[] = { dl, "trace", "-a", "-l", not_elf, NULL };
	char *no_pid[] = { dl, "trace", "-p", pid, NULL };
	char *libc[] = { dl, "trace", "-a", "-l", "/lib/x86_64-linux-gnu/libc.so.6", NULL };
	char *bad_output[] = { dl,     "trace",
			       "-o",   "/nonexistent/dir/summary.json",
			       "--",   (char *)harness_standin_driver(),
			       "leak", NULL };
	char *no_command[] = { dl, "trace", "--", "/nonexistent/command", NULL };
	FILE *f = fopen(not_elf, "w");

	fputs("not a library\n", f);
	fclose(f);
	snprintf(pid, sizeof(pid), "%d", (int)unused_pid());
	expect_error(missing_lib, 1, "/nonexistent/libtt_metal.so");
	expect_error(text_lib, 1, "not an ELF file");
	expect_error(no_pid, 1, pid);

	if (access(libc[4], R_OK) == 0)
		expect_error(libc, 1,
			     "_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE");
	expect_error(bad_output, 1, "/nonexistent/dir");
	expect_error(no_command, 127, "cannot run /nonexistent/command");
}

/*
 * Without root devledger cannot load BPF: it says so and what to do, in one
 * line, even for a library it has warnings about (the unity build's inlined
 * tracker calls are said only once tracing starts).
 */
static void test_not_root(void **state)
{
	char *unity = strdup(harness_variant("STANDIN_UNITY_DIR", "libtt_metal.so"));
	char *argv[] = { (char *)harness_devledger(), "trace", "-a", "-l", unity, NULL };
	struct harness_proc proc;
	int code;

	(void)state;
	harness_spawn(&proc, argv, false, true, 65534);
	code = harness_exit_code(harness_wait(&proc, TIMEOUT_S));
	if (code != 1 || !strstr(proc.err, "root"))
		fail_msg("as nobody: exit %d, stderr \"%s\"", code, proc.err);
	if (strchr(proc.err, '\n') != proc.err + strlen(proc.err) - 1)
		fail_msg("as nobody: more than the one line: \"%s\"", proc.err);
	free(unity);
}

/* devledger check on a library; returns its exit code, its stdout parsed when it is JSON. */
static int run_check(const char *library, bool json, uid_t uid, struct harness_proc *proc,
		     struct json_object **parsed)
{
	char *argv[] = { (char *)harness_devledger(), "check", "-l", (char *)library,
			 json ? "--json" : NULL,      NULL };
	int code;

	harness_spawn(proc, argv, true, true, uid);
	code = harness_exit_code(harness_wait(proc, TIMEOUT_S));
	if (parsed) {
		*parsed = json_tokener_parse(proc->out);
		if (!*parsed)
			fail_msg("check --json printed no JSON: %s", proc->out);
	}
	return code;
}

static struct json_object *probe_entry(struct json_object *check, const char *program)
{
	struct json_object *list = harness_get(check, "probes");

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *probe = json_object_array_get_idx(list, i);

		if (!strcmp(json_object_get_string(harness_get(probe, "program")), program))
			return probe;
	}
	fail_msg("no probe %s in check's output", program);
	return NULL;
}

static struct json_object *field_entry(struct json_object *check, const char *name)
{
	struct json_object *list = harness_get(check, "fields");

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *field = json_object_array_get_idx(list, i);

		if (!strcmp(json_object_get_string(harness_get(field, "name")), name))
			return field;
	}
	fail_msg("no field %s in check's output", name);
	return NULL;
}

/* check explains each build: symbols, sites, fields, and the inlined tracker call. */
static void test_check(void **state)
{
	struct json_object *out;
	struct harness_proc proc;

	(void)state;
	/* The plain build: everything resolved, entry probes on its push, no warning. */
	assert_int_equal(run_check(harness_standin_lib(), true, 0, &proc, &out), 0);
	assert_true(json_object_get_boolean(harness_get(out, "resolved")));
	assert_int_equal(json_object_array_length(harness_get(out, "probes")), 27);
	assert_string_equal(json_object_get_string(harness_get(out, "schema")),
			    "devledger.check.v1");
	/* Every tracker call still there. */
	for (int c = 0; c < 3; c++)
		assert_string_equal(
			json_object_get_string(harness_get(
				json_object_array_get_idx(harness_get(out, "tracker_calls"), c),
				"state")),
			"called");
	/* track_allocate is called: allocate_impl is not probed. */
	assert_true(json_object_get_boolean(
		harness_get(probe_entry(out, "track_allocate"), "attached")));
	assert_false(json_object_get_boolean(
		harness_get(probe_entry(out, "allocate_impl_return"), "attached")));
	/* Era B's names: deallocate_buffer(DeviceAddr), Allocator. */
	assert_string_equal(
		json_object_get_string(harness_get(probe_entry(out, "bank_deallocate"), "symbol")),
		"_ZN2tt8tt_metal11BankManager17deallocate_bufferEm");
	assert_string_equal(
		json_object_get_string(harness_get(probe_entry(out, "allocator_clear"), "symbol")),
		"_ZN2tt8tt_metal9Allocator18deallocate_buffersEv");
	assert_true(json_object_get_boolean(harness_get(out, "vtables.mesh_device")));
	assert_int_equal(harness_get_int(field_entry(out, "Buffer.allocator_"), "offset"), 64);
	assert_string_equal(json_object_get_string(
				    harness_get(field_entry(out, "MeshDevice.mesh_id_"), "source")),
			    "dwarf");
	assert_int_equal(harness_get_int(probe_entry(out, "track_allocate"), "site_delta"), 0);
	assert_int_equal(json_object_array_length(harness_get(out, "warnings")), 0);
	assert_string_equal(json_object_get_string(harness_get(out, "profile")), "era-b");
	assert_int_equal(harness_get_int(field_entry(out, "Buffer.address_"), "offset"), 80);
	json_object_put(out);

	/* The CET build: past endbr64, except the return probes. */
	assert_int_equal(run_check(harness_standin_cet_lib(), true, 0, &proc, &out), 0);
	assert_int_equal(harness_get_int(probe_entry(out, "track_allocate"), "site_delta"), 4);
	assert_int_equal(harness_get_int(probe_entry(out, "device_close_return"), "site_delta"), 0);
	json_object_put(out);

	/* The build with the tracker inlined into Buffer::allocate_impl: warned, also by trace. */
	assert_int_equal(run_check(harness_standin_inlined_lib(), true, 0, &proc, &out), 0);
	assert_int_equal(json_object_array_length(harness_get(out, "warnings")), 1);
	assert_non_null(strstr(json_object_get_string(harness_get(out, "warnings.0")),
			       "Buffer::allocate_impl no longer calls"));
	assert_false(json_object_get_boolean(
		harness_get(probe_entry(out, "track_allocate"), "attached")));
	assert_true(json_object_get_boolean(
		harness_get(probe_entry(out, "allocate_impl_return"), "attached")));
	json_object_put(out);

	/* Era C: the profile comes from its symbols, and places the fields behind the pimpl. */
	assert_int_equal(run_check(harness_standin_era_c_lib(), true, 0, &proc, &out), 0);
	assert_string_equal(json_object_get_string(harness_get(out, "profile")), "era-c");
	assert_int_equal(harness_get_int(field_entry(out, "Buffer.pimpl"), "offset"), 16);
	assert_int_equal(harness_get_int(field_entry(out, "BufferImpl.address_"), "offset"), 64);
	/* Era C's names: deallocate_buffer(DeviceAddr, AllocatorID), AllocatorImpl. */
	assert_string_equal(
		json_object_get_string(harness_get(probe_entry(out, "bank_deallocate"), "symbol")),
		"_ZN2tt8tt_metal11BankManager17deallocate_bufferEmN4ttsl10StrongTypeIjNS0_"
		"14AllocatorIDTagEEE");
	assert_string_equal(
		json_object_get_string(harness_get(probe_entry(out, "allocator_clear"), "symbol")),
		"_ZN2tt8tt_metal13AllocatorImpl18deallocate_buffersEv");
	assert_string_equal(json_object_get_string(harness_get(
				    field_entry(out, "BufferImpl.allocator_"), "source")),
			    "dwarf");
	json_object_put(out);

	/*
	 * The unity build: every tracker call inlined, each named with what devledger does
	 * instead, and the callers probed in the trackers' place.
	 */
	{
		char *unity = strdup(harness_variant("STANDIN_UNITY_DIR", "libtt_metal.so"));
		struct json_object *calls;

		assert_int_equal(run_check(unity, true, 0, &proc, &out), 0);
		calls = harness_get(out, "tracker_calls");
		assert_int_equal(json_object_array_length(calls), 3);
		for (int c = 0; c < 3; c++) {
			struct json_object *call = json_object_array_get_idx(calls, c);

			assert_string_equal(json_object_get_string(harness_get(call, "state")),
					    "inlined");
			assert_non_null(strstr(
				json_object_get_string(harness_get(call, "fallback")), "instead"));
		}
		assert_int_equal(json_object_array_length(harness_get(out, "warnings")), 3);
		assert_non_null(strstr(json_object_get_string(harness_get(out, "warnings.1")),
				       "Buffer::deallocate_impl no longer calls "
				       "GraphTracker::track_deallocate"));
		for (size_t i = 0; i < 3; i++) {
			const char *const attached[] = { "allocate_impl_return", "deallocate_impl",
							 "read_circular_buffers_return" };
			const char *const detached[] = { "track_allocate", "track_deallocate",
							 "track_allocate_cb" };

			assert_true(json_object_get_boolean(
				harness_get(probe_entry(out, attached[i]), "attached")));
			assert_false(json_object_get_boolean(
				harness_get(probe_entry(out, detached[i]), "attached")));
		}
		assert_int_equal(
			harness_get_int(
				field_entry(out, "CircularBuffer.locally_allocated_address_"),
				"offset"),
			312);
		json_object_put(out);
		free(unity);
	}

	/* Not tt-metal: every missing function named, exit 1; no root needed. */
	if (access("/lib/x86_64-linux-gnu/libc.so.6", R_OK) == 0) {
		assert_int_equal(
			run_check("/lib/x86_64-linux-gnu/libc.so.6", false, 65534, &proc, NULL), 1);
		assert_non_null(strstr(proc.out, "5 required probed functions are missing"));
		assert_non_null(strstr(proc.out, "MISSING"));
		/* And the failure in one line on stderr, as every failure is. */
		if (!strstr(proc.err, "lacks 5 functions devledger must probe") ||
		    strchr(proc.err, '\n') != proc.err + strlen(proc.err) - 1)
			fail_msg("check's failure is not one line on stderr: \"%s\"", proc.err);
	}
}

/*
 * Metal 2.0 dataflow buffers, laid out by ProgramImpl::allocate_dataflow_buffers with no tracker
 * hook: on chip 0 two programs' 18 KiB go as the programs are destroyed (one of them laid out
 * twice, once only counted), 10 KiB at most in use (they share one L1 range); on chip 1 the DFBs
 * of a program alive at the close go with it, and a CB program beside them is a union of its own.
 */
static void check_dataflow(struct json_object *proc)
{
	assert_int_equal(list_bytes(proc, "untracked_frees", 0, "DFB", "program_destroyed"),
			 18 * KIB);
	assert_int_equal(device_stat(proc, "chip", 0, "DFB", "allocs"), 4);
	assert_int_equal(device_stat(proc, "chip", 0, "DFB", "peak_bytes"), 10 * KIB);
	assert_int_equal(list_bytes(proc, "untracked_frees", 1, "DFB", "device_closed"), 6 * KIB);
	assert_int_equal(list_bytes(proc, "untracked_frees", 1, "DFB", "program_destroyed"),
			 2 * KIB);
	assert_int_equal(list_bytes(proc, "untracked_frees", 1, "CB", "program_destroyed"),
			 2 * KIB);
	assert_int_equal(device_stat(proc, "chip", 1, "DFB", "peak_bytes"), 6 * KIB);
	assert_int_equal(json_object_array_length(harness_get(proc, "leaks")), 0);
}

static void check_mesh_0(struct json_object *proc)
{
	check_mesh(proc, 0);
}

/* One mesh opened and closed first: the traced one is mesh 1, though the first to allocate. */
static void check_mesh_1(struct json_object *proc)
{
	check_mesh(proc, 1);
}


/* ---- call stacks ---- */

/* The process's stack with this id, or NULL. */
static struct json_object *stack_by_id(struct json_object *proc, long long id)
{
	struct json_object *stacks = harness_get(proc, "stacks");

	for (size_t i = 0; stacks && i < json_object_array_length(stacks); i++) {
		struct json_object *stack = json_object_array_get_idx(stacks, i);

		if (harness_get_int(stack, "id") == id)
			return stack;
	}
	return NULL;
}

/* The index of the first frame whose function has `name` in it, or -1. */
static int frame_with(struct json_object *stack, const char *name)
{
	struct json_object *frames = harness_get(stack, "frames");

	for (size_t i = 0; frames && i < json_object_array_length(frames); i++) {
		struct json_object *function =
			harness_get(json_object_array_get_idx(frames, i), "function");

		if (function && strstr(json_object_get_string(function), name))
			return (int)i;
	}
	return -1;
}

static const char *frame_string(struct json_object *stack, int frame, const char *key)
{
	char path[64];
	struct json_object *v;

	snprintf(path, sizeof(path), "frames.%d.%s", frame, key);
	v = harness_get(stack, path);
	return v ? json_object_get_string(v) : NULL;
}

/* The summary's entry of list `name` at the truth entry's device, type and address. */
static struct json_object *same_entry(struct json_object *proc, const char *name,
				      struct json_object *want)
{
	struct json_object *list = harness_get(proc, name);

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *got = json_object_array_get_idx(list, i);

		if (harness_get_int(got, "device_id") == harness_get_int(want, "device_id") &&
		    harness_get_int(got, "address") == harness_get_int(want, "address") &&
		    !strcmp(json_object_get_string(harness_get(got, "type")),
			    json_object_get_string(harness_get(want, "type"))) &&
		    !strcmp(json_object_get_string(harness_get(got, "device_kind")),
			    json_object_get_string(harness_get(want, "device_kind"))))
			return got;
	}
	fail_msg("%s: no entry for %s", name, json_object_to_json_string(want));
	return NULL;
}

/*
 * A stack as a leak or an untracked free names it: innermost frames in
 * libtt_metal.so, then (past the library's own frames) the function that
 * allocated it, named, with its file and line.
 */
static void assert_allocating_stack(struct json_object *proc, struct json_object *got,
				    const char *function)
{
	struct json_object *stack = stack_by_id(proc, harness_get_int(got, "stack"));
	const char *module, *file;
	char line[32];
	int at;

	if (!harness_get(got, "stack") || !stack)
		fail_msg("no stack for %s", json_object_to_json_string(got));
	module = frame_string(stack, 0, "module");
	if (!module || strcmp(strrchr(module, '/'), "/libtt_metal.so"))
		fail_msg("innermost frame not in libtt_metal.so: %s", json_object_to_json_string(stack));
	at = frame_with(stack, function);
	if (at < 0)
		fail_msg("%s not in the stack of %s: %s", function, json_object_to_json_string(got),
			 json_object_to_json_string(stack));
	/*
	 * A buffer: the library's tensor layer and Buffer::create lie between, five frames at
	 * least; a CB: the program's layout of its CBs.
	 */
	if (!strcmp(json_object_get_string(harness_get(got, "type")), "CB")
		    ? frame_with(stack, "allocate_circular_buffers(") < 0 ||
			      frame_with(stack, "allocate_circular_buffers(") >= at
		    : at < 5 || frame_with(stack, "tensor_ops::create_device_tensor") != at - 1)
		fail_msg("%s at frame %d, not right above the library's frames: %s", function, at,
			 json_object_to_json_string(stack));
	file = frame_string(stack, at, "file");
	snprintf(line, sizeof(line), "frames.%d.line", at);
	if (!file || !strstr(file, "driver.cpp") || harness_get_int(stack, line) <= 0)
		fail_msg("no file and line for %s: %s", function, json_object_to_json_string(stack));
}

/*
 * In any scenario: every leak and untracked free of every process has a stack that starts in
 * libtt_metal.so and reaches the caller's own code (a frame in a module whose file name, from
 * its slash on, starts with `caller`), however soon the process exited.
 */
static void assert_every_end_has_stack_into(struct json_object *summary, const char *caller)
{
	static const char *const lists[] = { "leaks", "untracked_frees" };
	struct json_object *procs = harness_get(summary, "processes");

	for (size_t p = 0; p < json_object_array_length(procs); p++) {
		struct json_object *proc = json_object_array_get_idx(procs, p);

		for (int l = 0; l < 2; l++) {
			struct json_object *list = harness_get(proc, lists[l]);

			for (size_t i = 0; i < json_object_array_length(list); i++) {
				struct json_object *entry = json_object_array_get_idx(list, i);
				struct json_object *stack =
					stack_by_id(proc, harness_get_int(entry, "stack"));
				struct json_object *frames = stack ? harness_get(stack, "frames") : NULL;
				const char *module = stack ? frame_string(stack, 0, "module") : NULL;
				bool driver = false;

				for (size_t f = 0; frames && f < json_object_array_length(frames); f++) {
					const char *m = frame_string(stack, (int)f, "module");

					driver |= m && !strncmp(strrchr(m, '/'), caller,
								strlen(caller));
				}
				if (!module || strcmp(strrchr(module, '/'), "/libtt_metal.so") ||
				    !driver)
					fail_msg("%s entry without a stack into %s: %s; stack %s",
						 lists[l], caller, json_object_to_json_string(entry),
						 stack ? json_object_to_json_string(stack) : "none");
			}
		}
	}
}

/*
 * Called from Python, as ttnn is: the native frames of a leak's stack run from libtt_metal.so
 * through the extension's function into the interpreter (_PyEval_EvalFrameDefault) and on to
 * its main, with the default --stack-bytes.
 */
static void test_python_caller(void **state)
{
	const char *dir = *state;
	char *lib = strdup(harness_standin_lib()), *folder = strdup(lib);
	char *argv[] = { (char *)harness_devledger(),
			 "trace",
			 "-q",
			 "-l",
			 lib,
			 "-o",
			 (char *)harness_path(dir, "summary.json"),
			 "--",
			 "/usr/bin/python3",
			 "-c",
			 /*
			  * It lives on a little after the leak: its extension module is placed by its
			  * mappings, read at its first stack (the fallback for a process gone by then
			  * knows only the library and the command).
			  */
			 "import standin_ttnn, time\ndef model_forward():\n"
			 "    standin_ttnn.leak_tensor()\nmodel_forward()\ntime.sleep(0.5)\n",
			 NULL };
	struct json_object *summary, *proc, *stack;
	struct harness_proc run;
	int code;

	*strrchr(folder, '/') = '\0';
	setenv("PYTHONPATH", folder, 1);
	code = harness_exit_code(harness_run(&run, argv, TIMEOUT_S));
	unsetenv("PYTHONPATH");
	if (code)
		fail_msg("devledger exited %d: %s", code, run.err);
	summary = harness_load_json(harness_path(dir, "summary.json"));
	proc = json_object_array_get_idx(harness_get(summary, "processes"), 0);
	assert_int_equal(json_object_array_length(harness_get(proc, "leaks")), 1);
	assert_every_end_has_stack_into(summary, "/python3");
	stack = stack_by_id(proc, harness_get_int(proc, "leaks.0.stack"));
	if (frame_with(stack, "leak_tensor(") < 0 ||
	    frame_with(stack, "_PyEval_EvalFrameDefault") <= frame_with(stack, "leak_tensor(") ||
	    frame_with(stack, "Py_BytesMain") < 0)
		fail_msg("the stack does not reach the interpreter: %s",
			 json_object_to_json_string(stack));
	assert_int_equal(harness_get_int(summary, "session.stacks.truncated"), 0);
	json_object_put(summary);
	free(folder);
	free(lib);
}

/*
 * Every leak and untracked free of the stacks scenario: allocated where the
 * truth says, and (untracked) released by the close or destructor its
 * reason names, called from the driver's function that did so.
 */
static void check_stacks(struct json_object *summary, const char *truth_path)
{
	struct json_object *truth = harness_load_json(truth_path);
	struct json_object *proc = harness_find_process(summary, harness_get_int(truth, "pid"));
	const char *lists[] = { "leaks", "untracked_frees" };
	struct json_object *sites = harness_get(proc, "sites");
	int checked = 0, worker_site = 0;

	for (int l = 0; l < 2; l++) {
		struct json_object *want = harness_get(truth, lists[l]);

		for (size_t i = 0; i < json_object_array_length(want); i++) {
			struct json_object *w = json_object_array_get_idx(want, i);
			struct json_object *g = same_entry(proc, lists[l], w);
			struct json_object *by = harness_get(w, "allocated_by"), *release;
			const char *reason;
			char function[64];
			bool released;

			if (!by)
				fail_msg("truth entry without allocated_by: %s",
					 json_object_to_json_string(w));
			snprintf(function, sizeof(function), "%s(", json_object_get_string(by));
			assert_allocating_stack(proc, g, function);
			checked++;
			if (l == 0) {
				assert_null(harness_get(g, "release_stack"));
				continue;
			}
			release = stack_by_id(proc, harness_get_int(g, "release_stack"));
			reason = json_object_get_string(harness_get(w, "reason"));
			/* Innermost the library's close or destructor, then the driver's caller. */
			if (!strcmp(reason, "device_closed"))
				released = release && frame_with(release, "Device::close()") == 0 &&
					   frame_with(release, "shutdown_devices(") > 0;
			else
				released = release && frame_with(release, "~ProgramImpl") == 0 &&
					   frame_with(release, "finish_program(") > 0;
			if (!released)
				fail_msg("release stack of %s (%s): %s", json_object_to_json_string(g),
					 reason,
					 release ? json_object_to_json_string(release) : "none");
		}
	}
	/* 4 leaks (one from main, three from workers), a buffer left at close, 2 CBs. */
	assert_int_equal(checked, 7);
	/* The three workers' allocations are one site: the same frames on three threads. */
	for (size_t i = 0; i < json_object_array_length(sites); i++)
		worker_site += harness_get_int(json_object_array_get_idx(sites, i), "leaks") == 3;
	assert_int_equal(worker_site, 1);
	json_object_put(truth);
}

/*
 * Stacks on builds without frame pointers, with g++ (plain) and clang (era C, unity, newest):
 * unwound from call-frame information alone.
 */
static void test_stacks(void **state)
{
	static const char *const builds[] = { "STANDIN_DIR", "STANDIN_ERA_C_DIR",
					      "STANDIN_UNITY_DIR", "STANDIN_NEWEST_DIR" };
	const char *args[] = { "stacks", NULL };

	for (size_t b = 0; b < sizeof(builds) / sizeof(builds[0]); b++) {
		struct harness_proc proc;
		struct json_object *summary = trace_build(&proc, *state, builds[b], NULL, args);

		check_stacks(summary, harness_path(*state, "truth.json"));
		assert_int_equal(harness_get_int(summary, "session.stacks.lost"), 0);
		/* The report groups them by site and marks the driver's frame. */
		if (!strstr(proc.err, "by allocating site (4 sites)") ||
		    !strstr(proc.err, "=> #") || !strstr(proc.err, "worker_allocate("))
			fail_msg("%s: report: %s", builds[b], proc.err);
		json_object_put(summary);
	}
}

/* --no-stacks: none taken, none in the summary, and the ledger's figures the same. */
static void test_no_stacks(void **state)
{
	const char *opts[] = { "--no-stacks", NULL }, *args[] = { "stacks", NULL };
	struct harness_proc proc;
	struct json_object *summary = trace_build(&proc, *state, "STANDIN_DIR", opts, args);
	struct json_object *p = json_object_array_get_idx(harness_get(summary, "processes"), 0);

	assert_null(harness_get(summary, "session.stacks"));
	assert_null(harness_get(p, "stacks"));
	assert_null(harness_get(p, "sites"));
	assert_null(harness_get(p, "leaks.0.stack"));
	if (strstr(proc.err, "by allocating site"))
		fail_msg("report has sites with --no-stacks: %s", proc.err);
	json_object_put(summary);
}

/*
 * A scenario traced on one build of the stand-in and compared with its truth, then `check`
 * (NULL: the truth alone). A case without arguments checks the build's inlined tracker instead.
 */
struct build_case {
	const char *name;
	const char *env; /* the variable naming the build's folder */
	void (*check)(struct json_object *proc);
	const char *args[8];
};

/* A case being run: the case, and a temporary folder of its own. */
struct build_run {
	const struct build_case *c;
	char *dir;
};

static int build_case_setup(void **state)
{
	struct build_run *run = malloc(sizeof(*run));

	if (!run)
		return -1;
	run->c = *state;
	run->dir = harness_tmpdir();
	*state = run;
	return 0;
}

static int build_case_teardown(void **state)
{
	struct build_run *run = *state;

	harness_rmdir(run->dir);
	free(run);
	return 0;
}

static void test_build_case(void **state)
{
	struct build_run *run = *state;
	const struct build_case *c = run->c;
	struct harness_proc proc;
	struct json_object *summary = trace_build(&proc, run->dir, c->env, NULL, c->args);

	assert_int_equal(json_object_array_length(harness_get(summary, "processes")), 1);
	assert_every_end_has_stack(summary);
	if (c->check)
		c->check(json_object_array_get_idx(harness_get(summary, "processes"), 0));
	json_object_put(summary);
}

/*
 * The unity builds really are what they model: Buffer::allocate_impl, Buffer::deallocate_impl and
 * ProgramImpl::allocate_circular_buffers call none of the tracker functions (directly, through
 * the PLT or as a tail jump), which are still exported for the callers outside the unit.
 */
static void test_tracker_inlined(void **state)
{
	static const char *const trackers[] = {
		"_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE",
		"_ZN2tt8tt_metal12GraphTracker16track_deallocateEPNS0_6BufferE",
		"_ZN2tt8tt_metal12GraphTracker17track_allocate_cbERK12CoreRangeSetmmbPKNS0_7IDeviceE",
	};
	static const char *const callers[] = {
		"_ZN2tt8tt_metal6Buffer13allocate_implEv",
		"_ZN2tt8tt_metal6Buffer15deallocate_implEv",
		"_ZN2tt8tt_metal6detail11ProgramImpl25allocate_circular_buffersEPKNS0_7IDeviceE",
	};
	const struct build_case *c = ((struct build_run *)*state)->c;
	char *library = strdup(harness_variant(c->env, "libtt_metal.so"));

	for (size_t i = 0; i < sizeof(trackers) / sizeof(trackers[0]); i++)
		free(harness_disassemble(library, trackers[i]));
	for (size_t i = 0; i < sizeof(callers) / sizeof(callers[0]); i++) {
		char *code = harness_disassemble(library, callers[i]);

		/* Past the caller's own "<name>:" line; mangled names carry their lengths, so
		 * track_allocate never matches inside track_allocate_cb. */
		for (size_t t = 0; t < sizeof(trackers) / sizeof(trackers[0]); t++)
			if (strstr(strchr(code, '\n') ? strchr(code, '\n') : code, trackers[t]))
				fail_msg("%s: %s still calls %s", library, callers[i], trackers[t]);
		free(code);
	}
	free(library);
}

/*
 * tt-metal's default build (unity, clang) of era B and of the newest ABI (era C, per-thread
 * processors with one registered by every thread that opens a device, pimpl MeshDevice), and the
 * dataflow buffers of every build: each scenario compared exactly with its truth.
 */
static const struct build_case build_cases[] = {
	{ "unity: tracker inlined into its callers", "STANDIN_UNITY_DIR", NULL, { NULL } },
	{ "unity: remaining", "STANDIN_UNITY_DIR", check_remaining, { "remaining" } },
	{ "unity: mesh", "STANDIN_UNITY_DIR", check_mesh_0, { "mesh" } },
	{ "unity: subdevice", "STANDIN_UNITY_DIR", check_subdevice, { "subdevice" } },
	{ "unity: churn", "STANDIN_UNITY_DIR", NULL, { "churn", "3000", "--seed", "13" } },
	{ "unity: threads",
	  "STANDIN_UNITY_DIR",
	  NULL,
	  { "threads", "2", "--ops", "5000", "--seed", "17" } },
	{ "unity: leak", "STANDIN_UNITY_DIR", NULL, { "leak" } },
	{ "unity: dataflow", "STANDIN_UNITY_DIR", check_dataflow, { "dataflow" } },
	{ "newest: tracker inlined into its callers", "STANDIN_NEWEST_DIR", NULL, { NULL } },
	{ "newest: remaining", "STANDIN_NEWEST_DIR", check_remaining, { "remaining" } },
	{ "newest: mesh --skip-meshes 1",
	  "STANDIN_NEWEST_DIR",
	  check_mesh_1,
	  { "mesh", "--skip-meshes", "1" } },
	{ "newest: subdevice", "STANDIN_NEWEST_DIR", check_subdevice, { "subdevice" } },
	{ "newest: churn", "STANDIN_NEWEST_DIR", NULL, { "churn", "3000", "--seed", "13" } },
	{ "newest: threads",
	  "STANDIN_NEWEST_DIR",
	  NULL,
	  { "threads", "2", "--ops", "5000", "--seed", "17" } },
	{ "newest: leak", "STANDIN_NEWEST_DIR", NULL, { "leak" } },
	{ "newest: dataflow", "STANDIN_NEWEST_DIR", check_dataflow, { "dataflow" } },
	{ "plain: dataflow", "STANDIN_DIR", check_dataflow, { "dataflow" } },
};

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_remaining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_churn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_sites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hot_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subdevice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inlined_tracker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_era_c, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_program_symbols, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loss_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_pid_zombie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_on_stdout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duration_with_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataflow_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_wide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_forwarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigint_ignored_by_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_any_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_stacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_python_caller, setup, teardown),
	};

	struct CMUnitTest build_tests[sizeof(build_cases) / sizeof(build_cases[0])];
	int failed;

	for (size_t i = 0; i < sizeof(build_cases) / sizeof(build_cases[0]); i++) {
		const struct build_case *c = &build_cases[i];

		build_tests[i] = (struct CMUnitTest){
			.name = c->name,
			.test_func = c->args[0] ? test_build_case : test_tracker_inlined,
			.setup_func = build_case_setup,
			.teardown_func = build_case_teardown,
			.initial_state = (void *)c,
		};
	}
	/* TEST_FILTER=test_stacks runs only the tests whose names match (cmocka's * wildcards). */
	if (getenv("TEST_FILTER") && *getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	failed = cmocka_run_group_tests_name("trace (BPF, stand-in runtime)", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("trace: unity and newest builds, dataflow buffers",
					      build_tests, NULL, NULL);
	return failed;
}
