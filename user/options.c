/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <arpa/inet.h>
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/devledger.h"
#include "options.h"
#include "unwind.h"

enum {
	OPT_FAIL_ON_LEAK = 0x100,
	OPT_RING_SIZE,
	OPT_MAX_LIVE,
	OPT_ENTRY_PROBES,
	OPT_PERF_UPROBES,
	OPT_JSON,
	OPT_PROFILE,
	OPT_OFFSET,
	OPT_TIMELINE,
	OPT_ALLOW,
	OPT_METRICS,
	OPT_RETAIN,
	OPT_PER_PROCESS_DIR,
	OPT_NO_STACKS,
	OPT_STACK_BYTES,
	OPT_STACK_FRAMES,
};

static const char trace_doc[] =
	"Trace device memory of tt-metal processes: live and peak bytes per device and type, and "
	"the fate of every allocation (freed, freed without a report and why, leaked). A device "
	"is a chip or a mesh (a MeshDevice's own buffers).\n"
	"\n"
	"Why a free had no report: program_destroyed, device_closed, mesh_closed, allocator_free, "
	"allocator_clear, cb_deallocate_all, cb_reallocated (see the README).\n"
	"\n"
	"Each leak and untracked free comes with the call stack that allocated it (and what released "
	"it), unwound without frame pointers and grouped by allocating site in the report.\n"
	"\n"
	"Exactly one of: -- CMD [ARG...] (launch CMD under trace), -p PID (attach), -a "
	"(system-wide).\v"
	"Examples:\n"
	"  devledger trace -- ./build/test/tt_metal/unit_tests_api\n"
	"  devledger trace -o summary.json -- python3 -m pytest tests/ttnn/unit_tests\n"
	"  devledger trace -p 4242 -o summary.json\n"
	"  devledger trace -a -d 60 -i 5\n"
	"\n"
	"The report goes to stderr; -o writes the JSON summary (devledger.summary.v1). The field "
	"offsets read from a library's DWARF are kept by its build-id in "
	"$XDG_CACHE_HOME/devledger (default ~/.cache/devledger).\n"
	"\n"
	"Snapshots: SIGUSR2 to devledger, or 'devledger mark PID [LABEL]', records the live bytes "
	"and buffers of every process, device and type at that instant (the summary's "
	"\"snapshots\"); the intervals between snapshots are the iterations the growth verdict "
	"counts.\n"
	"\n"
	"Exit status, first that applies: 2 for a usage error; 1 when devledger itself failed; the "
	"launched command's when it failed (128+N if killed by signal N); with --fail-on-leak, 3 "
	"when a leak was found, else 1 when the session is not exact (events lost, or something it "
	"could not see: then it cannot say there was no leak); else 0. Needs root (BPF).";

static const struct argp_option trace_options[] = {
	{ "pid", 'p', "PID", 0,
	  "Attach to a running process (repeatable), and the children it forks from then on", 0 },
	{ "all", 'a', NULL, 0,
	  "System-wide: every process that maps a libtt_metal.so, now or later; ends on Ctrl-C, "
	  "SIGTERM or --duration",
	  0 },
	{ "lib", 'l', "PATH", 0,
	  "Trace only this libtt_metal.so (default: whichever copy each traced process loads, "
	  "at start or with dlopen, from any path; a process is held for a moment when it "
	  "maps a copy not probed yet)",
	  0 },
	{ "output", 'o', "FILE", 0,
	  "Write the JSON summary to FILE ('-': stdout, and a launched command's stdout goes to "
	  "stderr, so that stdout is the summary alone)",
	  0 },
	{ "duration", 'd', "SEC", 0,
	  "Stop tracing after SEC seconds (a launched command is not stopped: devledger writes "
	  "its summary, then waits for the command and exits with its status)",
	  0 },
	{ "interval", 'i', "SEC", 0, "Print the live per-device table every SEC seconds", 0 },
	{ "timeline", OPT_TIMELINE, "FILE", 0,
	  "Write the timeline as Chrome trace-event JSON (open it in ui.perfetto.dev or "
	  "chrome://tracing): live bytes per process, device and type, and closes, untracked "
	  "releases, leaks, snapshots and lost records as instants",
	  0 },
	{ "fail-on-leak", OPT_FAIL_ON_LEAK, NULL, 0,
	  "Exit 3 when any leak was found, 1 when the session could not tell (not exact)", 0 },
	{ "ring-size", OPT_RING_SIZE, "BYTES", 0,
	  "BPF ring buffer size: a power of two from 4K to 2G; K, M, G suffixes (default 16M)", 0 },
	{ "max-live", OPT_MAX_LIVE, "N", 0,
	  "Live allocations kept per process (K/M suffixes; default 256K); more are dropped, "
	  "counted and make the session inexact",
	  0 },
	{ "no-stacks", OPT_NO_STACKS, NULL, 0,
	  "Take no call stacks (default: where each leak and untracked free was allocated, and "
	  "what released it, unwound from a copy of the user stack)",
	  0 },
	{ "stack-bytes", OPT_STACK_BYTES, "BYTES", 0,
	  "User stack copied per stack: 4K to 64K, a multiple of 4K; K suffix (default 8K); "
	  "a deeper stack is cut where the copy ends",
	  0 },
	{ "stack-frames", OPT_STACK_FRAMES, "N", 0,
	  "Frames the report prints per allocating site, 1 to 128 (default 6; the JSON has all)",
	  0 },
	{ "entry-probes", OPT_ENTRY_PROBES, NULL, 0,
	  "Probe every function at its first instruction (default: at the cheapest safe "
	  "instruction of its prologue; -v shows which), and every free at "
	  "BankManager::deallocate_buffer too",
	  0 },
	{ "perf-uprobes", OPT_PERF_UPROBES, NULL, 0,
	  "Attach each probe as its own perf-event uprobe, as before Linux 6.6 (default: all "
	  "of a library's probes in two uprobe_multi links, which detach at once)",
	  0 },
	{ "profile", OPT_PROFILE, "NAME", 0,
	  "The tt-metal era: era-b or era-c (default: from the library's debug info, else its "
	  "symbols; one the debug info contradicts is refused)",
	  0 },
	{ "offset", OPT_OFFSET, "FIELD=N", 0,
	  "Where a field is, when neither DWARF nor the profile is right (repeatable), e.g. "
	  "Buffer.size_=24",
	  0 },
	{ "quiet", 'q', NULL, 0,
	  "No report or warnings on stderr (the 'devledger: tracing' line still comes)", 0 },
	{ "verbose", 'v', NULL, 0,
	  "Print libbpf's debug log, each probe's site and what it reads, the time to attach, "
	  "and at the end how often each probe fired",
	  0 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

struct parse_state {
	struct options *opts;
	char *error;
	size_t error_len;
	bool help;
	bool no_stacks;
	bool stack_bytes_given;
};

static int fail(struct parse_state *ps, const char *format, const char *arg)
{
	if (!*ps->error)
		snprintf(ps->error, ps->error_len, format, arg);
	return EINVAL;
}

/* A positive decimal number of seconds, nothing after it. */
static int parse_seconds(const char *text, double *out)
{
	char *end;
	double value;

	errno = 0;
	value = strtod(text, &end);
	if (!*text || *end || errno || !isfinite(value) || value <= 0 || value > 1e9)
		return -EINVAL;
	*out = value;
	return 0;
}

static int parse_pid(const char *text, pid_t *out)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (!*text || *end || errno || value <= 0 || value > INT_MAX)
		return -EINVAL;
	*out = (pid_t)value;
	return 0;
}

static int parse_size(const char *text, size_t *out)
{
	unsigned long long value, scale = 1;
	char *end;

	errno = 0;
	if (!*text || *text == '-')
		return -EINVAL;
	value = strtoull(text, &end, 10);
	if (end == text || errno)
		return -EINVAL;
	if (*end && !end[1]) {
		switch (*end) {
		case 'K':
		case 'k':
			scale = 1ULL << 10;
			break;
		case 'M':
		case 'm':
			scale = 1ULL << 20;
			break;
		case 'G':
		case 'g':
			scale = 1ULL << 30;
			break;
		default:
			return -EINVAL;
		}
	} else if (*end) {
		return -EINVAL;
	}
	if (value > (1ULL << 40) / scale)
		return -EINVAL;
	*out = (size_t)(value * scale);
	return 0;
}

static const struct argp trace_argp;

/* Does this word name an option that takes a value (-p, --pid, ...)? */
static bool takes_value(const struct argp_option *options, const char *word)
{
	for (const struct argp_option *o = options; o->name; o++) {
		if (!o->arg)
			continue;
		if ((word[0] == '-' && word[1] == o->key && !word[2]) ||
		    (!strncmp(word, "--", 2) && !strcmp(word + 2, o->name)))
			return true;
	}
	return false;
}

/* getopt found an unknown option or a missing value: name the argument. */
static error_t bad_option(struct parse_state *ps, const struct argp_state *state,
			  const struct argp_option *options)
{
	if (state->next <= 0 || state->next > state->argc)
		return fail(ps, "bad arguments%s", "");
	if (state->next == state->argc && takes_value(options, state->argv[state->next - 1]))
		return fail(ps, "%s needs a value", state->argv[state->next - 1]);
	return fail(ps, "unknown option '%s'", state->argv[state->next - 1]);
}

/* --offset FIELD=N: the name is checked against the layout later, the number here. */
static int parse_offset(struct parse_state *ps, const char *arg)
{
	struct options *opts = ps->opts;
	const char *eq = strchr(arg, '=');
	unsigned long value;
	char *end;

	if (opts->offset_count == OPTIONS_MAX_OFFSETS)
		return fail(ps, "too many --offset (at most 8)%s", "");
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(opts->offset_names[0]))
		return fail(ps, "--offset takes FIELD=N (e.g. Buffer.size_=24), not '%s'", arg);
	errno = 0;
	value = strtoul(eq + 1, &end, 0);
	if (!eq[1] || *end || errno || eq[1] == '-' || value > 4096)
		return fail(ps, "--offset takes FIELD=N with N a byte offset up to 4096, not '%s'",
			    arg);
	snprintf(opts->offset_names[opts->offset_count], sizeof(opts->offset_names[0]), "%.*s",
		 (int)(eq - arg), arg);
	opts->offset_values[opts->offset_count++] = (unsigned int)value;
	return 0;
}

static error_t parse_trace_option(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *opts = ps->opts;
	size_t ring;

	switch (key) {
	case 'p':
		if (opts->pid_count == OPTIONS_MAX_PIDS)
			return fail(ps, "too many -p (at most 64)%s", "");
		if (parse_pid(arg, &opts->pids[opts->pid_count]))
			return fail(ps, "-p takes a process id, not '%s'", arg);
		opts->pid_count++;
		/* The same process named twice is one target. */
		for (size_t i = 0; i + 1 < opts->pid_count; i++)
			if (opts->pids[i] == opts->pids[opts->pid_count - 1]) {
				opts->pid_count--;
				break;
			}
		break;
	case 'a':
		if (opts->mode == MODE_SYSTEM)
			break;
		opts->mode = MODE_SYSTEM;
		break;
	case 'l':
		opts->library = arg;
		break;
	case 'o':
		if (!*arg)
			return fail(ps, "-o takes a file name%s", "");
		opts->output = arg;
		break;
	case 'd':
		if (parse_seconds(arg, &opts->duration_s))
			return fail(ps, "-d takes a number of seconds greater than 0, not '%s'",
				    arg);
		break;
	case OPT_TIMELINE:
		if (!*arg)
			return fail(ps, "--timeline takes a file name%s", "");
		opts->timeline = arg;
		break;
	case 'i':
		if (parse_seconds(arg, &opts->interval_s))
			return fail(ps, "-i takes a number of seconds greater than 0, not '%s'",
				    arg);
		break;
	case OPT_FAIL_ON_LEAK:
		opts->fail_on_leak = true;
		break;
	case OPT_RING_SIZE:
		/* The kernel takes a BPF ring buffer of less than 4 GiB: 2G is the largest power.
		 */
		if (parse_size(arg, &ring) || ring < 4096 || ring > (1ULL << 31) ||
		    (ring & (ring - 1)))
			return fail(ps,
				    "--ring-size takes a power of two from 4K to 2G (the kernel's "
				    "largest), e.g. 64M, not '%s'",
				    arg);
		opts->ring_bytes = ring;
		break;
	case OPT_MAX_LIVE:
		if (parse_size(arg, &opts->max_live) || !opts->max_live ||
		    opts->max_live > (1ULL << 30))
			return fail(ps, "--max-live takes a number from 1 to 1G, not '%s'", arg);
		break;
	case OPT_NO_STACKS:
		opts->stack_bytes = 0;
		ps->no_stacks = true;
		break;
	case OPT_STACK_BYTES:
		if (parse_size(arg, &opts->stack_bytes) || opts->stack_bytes < DL_STACK_MIN_BYTES ||
		    opts->stack_bytes > DL_STACK_MAX_BYTES || opts->stack_bytes % DL_STACK_CHUNK)
			return fail(
				ps,
				"--stack-bytes takes a multiple of 4K from 4K to 64K, e.g. 16K, "
				"not '%s'",
				arg);
		ps->stack_bytes_given = true;
		break;
	case OPT_STACK_FRAMES:
		if (parse_size(arg, &opts->stack_frames) || !opts->stack_frames ||
		    opts->stack_frames > UNWIND_MAX_FRAMES)
			return fail(ps, "--stack-frames takes a number from 1 to 128, not '%s'",
				    arg);
		break;
	case OPT_ENTRY_PROBES:
		opts->entry_probes = true;
		break;
	case OPT_PERF_UPROBES:
		opts->perf_uprobes = true;
		break;
	case OPT_PROFILE:
		opts->profile = arg;
		break;
	case OPT_OFFSET:
		return parse_offset(ps, arg);
	case 'q':
		opts->quiet = true;
		break;
	case 'v':
		opts->verbose = true;
		break;
	case 'h':
		argp_help(&trace_argp, stdout, ARGP_HELP_STD_HELP, "devledger trace");
		ps->help = true;
		break;
	case ARGP_KEY_ARG:
		return fail(ps, "unexpected argument '%s': put the command to launch after --",
			    arg);
	case ARGP_KEY_ERROR:
		return bad_option(ps, state, trace_options);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp trace_argp = {
	.options = trace_options,
	.parser = parse_trace_option,
	.args_doc = "-- CMD [ARG...]\n-p PID [-p PID...]\n-a",
	.doc = trace_doc,
};

static const char check_doc[] =
	"Show what devledger would probe in a libtt_metal.so, without tracing: each probed "
	"function's symbol and file offset (or that it is missing), the instruction the probe "
	"would sit on and why, the probes on the hot path (the traps a buffer created and destroyed "
	"costs, and why BankManager::deallocate_buffer is or is not among them), the field offsets "
	"read and their source (the DWARF, or the layout cache kept by the library's build-id), "
	"whether MeshDevice's vtable is there to tell meshes from chips, and warnings such as "
	"tracker calls inlined away. Exit "
	"0 when every required probe resolves, 1 otherwise.\v"
	"Examples:\n"
	"  devledger check -l $TT_METAL_HOME/build/lib/libtt_metal.so\n"
	"  devledger check -p 4242 --json";

static const struct argp_option check_options[] = {
	{ "lib", 'l', "PATH", 0,
	  "The libtt_metal.so to check (default: $TT_METAL_HOME/build/lib/libtt_metal.so)", 0 },
	{ "pid", 'p', "PID", 0, "Check the libtt_metal.so this process maps", 0 },
	{ "json", OPT_JSON, NULL, 0, "Print JSON", 0 },
	{ "profile", OPT_PROFILE, "NAME", 0, "Take the library to be of this era (era-b, era-c)",
	  0 },
	{ "offset", OPT_OFFSET, "FIELD=N", 0, "Where a field is (repeatable), e.g. Buffer.size_=24",
	  0 },
	{ "entry-probes", OPT_ENTRY_PROBES, NULL, 0, "Show entry probes, as trace --entry-probes",
	  0 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

static const struct argp check_argp;

static error_t parse_check_option(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *opts = ps->opts;

	switch (key) {
	case 'l':
		opts->library = arg;
		break;
	case 'p':
		if (opts->pid_count)
			return fail(ps, "check takes one -p%s", "");
		if (parse_pid(arg, &opts->pids[0]))
			return fail(ps, "-p takes a process id, not '%s'", arg);
		opts->pid_count = 1;
		break;
	case OPT_JSON:
		opts->json = true;
		break;
	case OPT_PROFILE:
		opts->profile = arg;
		break;
	case OPT_OFFSET:
		return parse_offset(ps, arg);
	case OPT_ENTRY_PROBES:
		opts->entry_probes = true;
		break;
	case 'h':
		argp_help(&check_argp, stdout, ARGP_HELP_STD_HELP, "devledger check");
		ps->help = true;
		break;
	case ARGP_KEY_ARG:
		return fail(ps, "unexpected argument '%s'", arg);
	case ARGP_KEY_END:
		if (opts->library && opts->pid_count)
			return fail(ps, "give -l or -p, not both%s", "");
		break;
	case ARGP_KEY_ERROR:
		return bad_option(ps, state, check_options);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp check_argp = {
	.options = check_options,
	.parser = parse_check_option,
	.args_doc = "[-l PATH | -p PID] [--json]",
	.doc = check_doc,
};

/* Every command but trace: its own parser, its help, the same error suffix. */
static int parse_simple(const struct argp *argp, enum subcommand subcommand, const char *name,
			int argc, char **argv, struct parse_state *ps)
{
	int err = argp_parse(argp, argc - 1, argv + 1,
			     ARGP_NO_EXIT | ARGP_NO_ERRS | ARGP_NO_HELP | ARGP_IN_ORDER, NULL, ps);

	if (ps->help)
		return 1;
	if (err) {
		if (!*ps->error)
			snprintf(ps->error, ps->error_len, "bad arguments");
		snprintf(ps->error + strlen(ps->error), ps->error_len - strlen(ps->error),
			 " (see 'devledger %s --help')", name);
		return -EINVAL;
	}
	ps->opts->subcommand = subcommand;
	return 0;
}

static const struct argp mark_argp, diff_argp, report_argp;

static const struct argp_option report_options[] = {
	{ "output", 'o', "FILE", 0, "Write the HTML page to FILE", 0 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

static const struct argp_option help_only[] = {
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

static error_t parse_mark_option(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *opts = ps->opts;

	switch (key) {
	case 'h':
		argp_help(&mark_argp, stdout, ARGP_HELP_STD_HELP, "devledger mark");
		ps->help = true;
		break;
	case ARGP_KEY_ARG:
		if (!opts->mark_pid) {
			if (parse_pid(arg, &opts->mark_pid))
				return fail(ps, "mark takes the PID of a devledger trace, not '%s'",
					    arg);
		} else if (!opts->mark_label) {
			if (strlen(arg) >= 64)
				return fail(ps, "a mark's label is at most 63 bytes: '%s'", arg);
			opts->mark_label = arg;
		} else {
			return fail(ps, "unexpected argument '%s'", arg);
		}
		break;
	case ARGP_KEY_END:
		if (!opts->mark_pid)
			return fail(ps, "mark needs the PID of a devledger trace%s", "");
		break;
	case ARGP_KEY_ERROR:
		return bad_option(ps, state, help_only);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp mark_argp = {
	.options = help_only,
	.parser = parse_mark_option,
	.args_doc = "PID [LABEL]",
	.doc = "Record a labelled snapshot in the devledger trace whose own PID this is (devledger's, "
	       "not the traced process's): the live bytes and "
	       "buffers of every process, device and type at this instant (as SIGUSR2 does, with a "
	       "label). Waits until the trace took the label. Exit 0, 1 when it could not.\v"
	       "Examples:\n"
	       "  devledger mark $(pidof devledger) after-warmup\n"
	       "  for i in 1 2 3; do ./run_test; devledger mark $(pidof devledger) run-$i; done",
};

static const struct argp_option diff_options[] = {
	{ "allow", OPT_ALLOW, "BYTES", 0,
	  "Exit 0 while NEW leaks at most BYTES more than OLD (K, M, G suffixes; default 0)", 0 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

static error_t parse_inputs(struct parse_state *ps, char *arg, size_t most, const char *what)
{
	struct options *opts = ps->opts;

	if (opts->input_count == most)
		return fail(ps, "unexpected argument '%s'", arg);
	if (!*arg)
		return fail(ps, "%s takes file names, not empty arguments", what);
	opts->inputs[opts->input_count++] = arg;
	return 0;
}

static error_t parse_diff_option(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *opts = ps->opts;

	switch (key) {
	case OPT_ALLOW:
		if (parse_size(arg, &opts->allow_bytes))
			return fail(ps,
				    "--allow takes a number of bytes (K, M, G suffixes), not '%s'",
				    arg);
		break;
	case 'h':
		argp_help(&diff_argp, stdout, ARGP_HELP_STD_HELP, "devledger diff");
		ps->help = true;
		break;
	case ARGP_KEY_ARG:
		return parse_inputs(ps, arg, 2, "diff");
	case ARGP_KEY_END:
		if (opts->input_count != 2)
			return fail(ps, "diff takes two summaries: OLD.json NEW.json%s", "");
		break;
	case ARGP_KEY_ERROR:
		return bad_option(ps, state, diff_options);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp diff_argp = {
	.options = diff_options,
	.parser = parse_diff_option,
	.args_doc = "OLD.json[#LABEL] NEW.json[#LABEL]",
	.doc = "Compare two JSON summaries (devledger.summary.v1), or two snapshots (FILE#LABEL): "
	       "per device and type the change in leaks, untracked bytes, peak and live bytes, and "
	       "the leak sites that are new or gone (by allocating stack where the summaries have "
	       "stacks, else by device, type and size).\v"
	       "Exit status: 1 when NEW leaks (for two snapshots: holds) more bytes than OLD, beyond "
	       "--allow; 0 otherwise; 2 for bad input: a CI job can gate on it.\n"
	       "Examples:\n"
	       "  devledger diff main.json branch.json\n"
	       "  devledger diff --allow 4K run.json#warm run.json#done",
};

static error_t parse_report_option(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *opts = ps->opts;

	switch (key) {
	case 'o':
		if (!*arg)
			return fail(ps, "-o takes a file name%s", "");
		opts->output = arg;
		break;
	case 'h':
		argp_help(&report_argp, stdout, ARGP_HELP_STD_HELP, "devledger report");
		ps->help = true;
		break;
	case ARGP_KEY_ARG:
		return parse_inputs(ps, arg, 1, "report");
	case ARGP_KEY_END:
		if (opts->input_count != 1)
			return fail(ps, "report takes one summary: SUMMARY.json%s", "");
		if (!opts->output)
			return fail(ps, "report needs -o FILE.html%s", "");
		break;
	case ARGP_KEY_ERROR:
		return bad_option(ps, state, report_options);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp report_argp = {
	.options = report_options,
	.parser = parse_report_option,
	.args_doc = "SUMMARY.json -o FILE.html",
	.doc = "Turn a JSON summary into one self-contained HTML page (no network, no outside "
	       "script or font): live bytes over time per device and type, the per-device table, "
	       "untracked frees by reason, leaks by site, growth, snapshots and the runs compared.\v"
	       "Example:\n"
	       "  devledger report summary.json -o report.html",
};

static const char serve_doc[] =
	"Trace every process that maps a libtt_metal.so, as trace -a does, until SIGINT or SIGTERM, and "
	"serve what the ledger holds at /metrics over HTTP, in Prometheus' text format: live and "
	"peak bytes per process, device and type; allocations, frees by fate, untracked bytes by "
	"reason, leaked bytes, unmatched frees; events seen and lost. An exited process's series "
	"stay --retain seconds, then its counts go on in per-command totals (no pid label) and the "
	"ledger forgets it: memory stays bounded however long it runs.\v"
	"Examples:\n"
	"  devledger serve\n"
	"  devledger serve --metrics 0.0.0.0:9477 --retain 600\n"
	"  devledger serve --per-process-dir /var/lib/devledger\n"
	"  curl -s http://127.0.0.1:9477/metrics\n"
	"\n"
	"--metrics takes a numeric address: 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT. Exit status: "
	"0 when stopped by a signal, 2 for a usage error, 1 when devledger failed (the port "
	"taken, the probes not attached). Needs root (BPF).";

static const struct argp_option serve_options[] = {
	{ "metrics", OPT_METRICS, "ADDR:PORT", 0,
	  "Where to serve /metrics (default " OPTIONS_METRICS_DEFAULT ": this host only)", 0 },
	{ "retain", OPT_RETAIN, "SEC", 0,
	  "Keep an exited process's series this long (default 300), then only its command's "
	  "totals",
	  0 },
	{ "per-process-dir", OPT_PER_PROCESS_DIR, "DIR", 0,
	  "Write each process's JSON summary (devledger.summary.v1, that process alone) to "
	  "DIR/PID-START.json when it exits, and those still running when devledger stops",
	  0 },
	{ "lib", 'l', "PATH", 0,
	  "Trace only this libtt_metal.so (default: whichever copy each process loads)", 0 },
	{ "output", 'o', "FILE", 0, "At the end, the JSON summary of the processes still known",
	  0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds (default: only on a signal)", 0 },
	{ "ring-size", OPT_RING_SIZE, "BYTES", 0, "BPF ring buffer size, as for trace", 0 },
	{ "max-live", OPT_MAX_LIVE, "N", 0, "Live allocations kept per process, as for trace", 0 },
	{ "entry-probes", OPT_ENTRY_PROBES, NULL, 0, "As for trace", 0 },
	{ "perf-uprobes", OPT_PERF_UPROBES, NULL, 0, "As for trace", 0 },
	{ "profile", OPT_PROFILE, "NAME", 0, "The tt-metal era, as for trace", 0 },
	{ "offset", OPT_OFFSET, "FIELD=N", 0, "Where a field is, as for trace", 0 },
	{ "quiet", 'q', NULL, 0,
	  "No report on stderr at the end (the metrics and tracing lines still come)", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf's debug log, as for trace", 0 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

/* ADDR:PORT with a numeric address ([...] around IPv6) and a port from 1 to 65535. */
static int parse_listen(const char *arg, struct options *opts)
{
	const char *colon = strrchr(arg, ':'), *host = arg;
	size_t host_len;
	unsigned char addr[16];
	char *end;
	long port;

	if (!colon || colon == arg)
		return -EINVAL;
	host_len = (size_t)(colon - arg);
	if (arg[0] == '[') {
		if (host_len < 3 || arg[host_len - 1] != ']')
			return -EINVAL;
		host++;
		host_len -= 2;
	}
	if (host_len >= sizeof(opts->metrics_host))
		return -EINVAL;
	memcpy(opts->metrics_host, host, host_len);
	opts->metrics_host[host_len] = '\0';
	if (inet_pton(arg[0] == '[' ? AF_INET6 : AF_INET, opts->metrics_host, addr) != 1)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535)
		return -EINVAL;
	opts->metrics_port = (unsigned int)port;
	return 0;
}

static const struct argp serve_argp;

static error_t parse_serve_option(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *opts = ps->opts;

	switch (key) {
	case OPT_METRICS:
		if (parse_listen(arg, opts))
			return fail(ps,
				    "--metrics takes ADDR:PORT with a numeric address, e.g. "
				    "127.0.0.1:9477 or [::1]:9477, not '%s'",
				    arg);
		return 0;
	case OPT_RETAIN:
		if (parse_seconds(arg, &opts->retain_s))
			return fail(ps,
				    "--retain takes a number of seconds greater than 0, not '%s'",
				    arg);
		return 0;
	case OPT_PER_PROCESS_DIR:
		if (!*arg)
			return fail(ps, "--per-process-dir takes a folder%s", "");
		opts->per_process_dir = arg;
		return 0;
	case 'h':
		argp_help(&serve_argp, stdout, ARGP_HELP_STD_HELP, "devledger serve");
		ps->help = true;
		return 0;
	case ARGP_KEY_ARG:
		return fail(ps, "unexpected argument '%s'", arg);
	case ARGP_KEY_ERROR:
		return bad_option(ps, state, serve_options);
	default:
		/* What serve shares with trace is parsed as trace parses it. */
		return parse_trace_option(key, arg, state);
	}
}

static const struct argp serve_argp = {
	.options = serve_options,
	.parser = parse_serve_option,
	.args_doc = "[--metrics ADDR:PORT] [--retain SEC] [--per-process-dir DIR]",
	.doc = serve_doc,
};

static int parse_serve(int argc, char **argv, struct parse_state *ps)
{
	struct options *opts = ps->opts;
	int err;

	parse_listen(OPTIONS_METRICS_DEFAULT, opts);
	opts->retain_s = OPTIONS_RETAIN_DEFAULT_S;
	err = parse_simple(&serve_argp, SUBCOMMAND_SERVE, "serve", argc, argv, ps);
	if (!err)
		opts->mode = MODE_SYSTEM;
	return err;
}

static const char top_usage[] =
	"Usage: devledger COMMAND [OPTIONS]\n"
	"Trace tt-metal device memory (DRAM, L1, L1_SMALL, TRACE, circular buffers) from outside the\n"
	"process, and tell leaks from memory the runtime freed without reporting it.\n"
	"\n"
	"Commands:\n"
	"  trace      trace a command, running processes (-p) or the whole system (-a)\n"
	"  check      show what would be probed in a libtt_metal.so, and what looks wrong\n"
	"  mark       record a labelled snapshot in a running trace\n"
	"  diff       compare two summaries or snapshots; exit 1 when the new one leaks more\n"
	"  report     turn a summary into one self-contained HTML page\n"
	"  serve      trace the whole system until stopped; Prometheus metrics at /metrics\n"
	"\n"
	"Options:\n"
	"  -h, --help     this help; 'devledger COMMAND --help' for each command's\n"
	"  -V, --version  print the version\n"
	"\n"
	"Examples:\n"
	"  sudo devledger trace -o summary.json -- ./build/test/tt_metal/unit_tests_api\n"
	"  devledger check -l $TT_METAL_HOME/build/lib/libtt_metal.so\n"
	"  devledger diff main.json branch.json && devledger report branch.json -o report.html\n"
	"  sudo devledger serve --metrics 127.0.0.1:9477\n";

int options__parse(int argc, char **argv, struct options *opts, char *error, size_t error_len)
{
	struct parse_state ps = { .opts = opts, .error = error, .error_len = error_len };
	int trace_argc = argc, err;

	memset(opts, 0, sizeof(*opts));
	*error = '\0';
	if (argc < 2) {
		snprintf(error, error_len, "no command given; try 'devledger trace --help'");
		return -EINVAL;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(top_usage, stdout);
		return 1;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("devledger %s\n", DEVLEDGER_VERSION);
		return 1;
	}
	if (!strcmp(argv[1], "check"))
		return parse_simple(&check_argp, SUBCOMMAND_CHECK, "check", argc, argv, &ps);
	if (!strcmp(argv[1], "mark"))
		return parse_simple(&mark_argp, SUBCOMMAND_MARK, "mark", argc, argv, &ps);
	if (!strcmp(argv[1], "diff"))
		return parse_simple(&diff_argp, SUBCOMMAND_DIFF, "diff", argc, argv, &ps);
	if (!strcmp(argv[1], "report"))
		return parse_simple(&report_argp, SUBCOMMAND_REPORT, "report", argc, argv, &ps);
	if (!strcmp(argv[1], "serve"))
		return parse_serve(argc, argv, &ps);
	if (strcmp(argv[1], "trace")) {
		snprintf(error, error_len, "unknown command '%s'; try 'devledger --help'", argv[1]);
		return -EINVAL;
	}

	/* Everything after the first -- is the command, whatever it looks like. */
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			trace_argc = i;
			opts->command = &argv[i + 1];
			break;
		}
	}
	/* argv[1] ("trace") stands in for the program name while the options are parsed. */
	err = argp_parse(&trace_argp, trace_argc - 1, argv + 1,
			 ARGP_NO_EXIT | ARGP_NO_ERRS | ARGP_NO_HELP | ARGP_IN_ORDER, NULL, &ps);
	if (ps.help)
		return 1;
	if (err) {
		if (!*error)
			snprintf(error, error_len, "bad arguments");
		goto usage;
	}
	if (opts->command && !*opts->command) {
		snprintf(error, error_len, "no command after --");
		goto usage;
	}
	if ((opts->command != NULL) + (opts->pid_count > 0) + (opts->mode == MODE_SYSTEM) != 1) {
		snprintf(error, error_len, "give exactly one of -- CMD, -p PID or -a");
		goto usage;
	}
	if (ps.no_stacks && ps.stack_bytes_given) {
		snprintf(error, error_len, "--no-stacks and --stack-bytes contradict each other");
		goto usage;
	}
	if (!ps.no_stacks && !ps.stack_bytes_given)
		opts->stack_bytes = OPTIONS_DEFAULT_STACK_BYTES;
	if (!opts->stack_frames)
		opts->stack_frames = OPTIONS_DEFAULT_STACK_FRAMES;
	if (opts->command)
		opts->mode = MODE_COMMAND;
	else if (opts->pid_count)
		opts->mode = MODE_PIDS;
	return 0;

usage:
	strncat(error, " (see 'devledger trace --help')", error_len - strlen(error) - 1);
	return -EINVAL;
}
