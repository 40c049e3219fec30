/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger trace: attach the probes, feed every record to the ledger, and
 * at the end write what it found. Exit codes are decided here only.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bpf/devledger.h"
#include "check.h"
#include "demangle.h"
#include "eras.h"
#include "launch.h"
#include "ledger.h"
#include "libfind.h"
#include "library.h"
#include "options.h"
#include "procinfo.h"
#include "summary.h"
#include "tracer.h"

#define EXIT_RUNTIME   1
#define EXIT_USAGE     2
#define EXIT_LEAK      3
#define EXIT_NOT_FOUND 127
#define POLL_MS	       100

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t signal_count;
static volatile sig_atomic_t forward_pending;

struct session {
	struct options opts;
	struct ledger *ledger;
	struct tracer *tracer;
	struct launch launch;
	struct tracer_target targets[OPTIONS_MAX_PIDS];
	char libraries[OPTIONS_MAX_PIDS][PATH_MAX];
	uint64_t target_start[OPTIONS_MAX_PIDS]; /* -p: each target's start time, against pid reuse
						  */
	const char *library_list[OPTIONS_MAX_PIDS];
	/* Each library read once, however many processes map it. */
	struct library *opened[OPTIONS_MAX_PIDS];
	size_t opened_count;
	size_t target_count;
	uint64_t start_ns;
	struct timespec started_at;
	uint64_t records;
	uint64_t activity; /* records other than process exits: anything the library did */
	uint32_t last_pid; /* of the last record: identity is looked for once per run of records */
	int apply_error;
	bool timed_out; /* -d ran out */
	char layout_source[32];
	/* Functions that ran and laid out memory devledger cannot read, by enum probe_symbol. */
	uint64_t unseen[PROBE_SYMBOLS];
	char warning_text[PROBE_SYMBOLS + 1][PATH_MAX + 160];
	const char *warnings[PROBE_SYMBOLS + 1];
	size_t warning_count;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * A signal sent with kill() is passed on to a launched command; one from the
 * terminal (Ctrl-C) already reached it, as it is in the same process group.
 */
static void on_signal(int sig, siginfo_t *info, void *ucontext)
{
	(void)ucontext;
	stop_signal = sig;
	signal_count++;
	if (info->si_code == SI_USER || info->si_code == SI_QUEUE)
		forward_pending = sig;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void identify(struct ledger *ledger, uint32_t pid)
{
	char cmdline[LEDGER_CMDLINE_MAX];
	struct procinfo info = { .ppid = -1 };
	size_t len = 0;
	bool known = !procinfo__read((pid_t)pid, &info);

	procinfo__cmdline((pid_t)pid, cmdline, sizeof(cmdline), &len);
	ledger__set_identity(ledger, pid, known ? info.ppid : -1,
			     known ? procinfo__started_at(info.start_ticks) : 0, cmdline, len);
}

static void identify_command(struct session *s)
{
	char cmdline[LEDGER_CMDLINE_MAX];
	struct timespec now;
	size_t len = 0;

	for (char **arg = s->opts.command; *arg; arg++) {
		size_t n = strlen(*arg) + 1;

		if (len + n > sizeof(cmdline))
			break;
		memcpy(cmdline + len, *arg, n);
		len += n;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	ledger__set_identity(s->ledger, (uint32_t)s->launch.pid, (int32_t)getpid(),
			     now.tv_sec + now.tv_nsec / 1e9, cmdline, len);
}

static int on_record(void *ctx, const void *record, size_t size)
{
	struct session *s = ctx;
	const struct dl_event *ev = record;
	int err;

	s->records++;
	if (size == sizeof(*ev) && ev->kind != DL_EV_PROCESS_EXIT)
		s->activity++;
	/* Not the ledger's: a record that says devledger could not see something. */
	if (size == sizeof(*ev) && ev->kind == DL_EV_UNSEEN) {
		if (ev->object < PROBE_SYMBOLS)
			s->unseen[ev->object]++;
		return 0;
	}
	err = ledger__apply(s->ledger, record, size);
	/*
	 * Who a process is, read once while it runs: its records come before its
	 * exit. Records come in runs from one process: asked once per run.
	 */
	if (ev->kind == DL_EV_PROCESS_EXIT)
		s->last_pid = 0; /* its pid may come back, as another process */
	else if (!err && ev->pid != s->last_pid) {
		s->last_pid = ev->pid;
		if (ledger__needs_identity(s->ledger, ev->pid))
			identify(s->ledger, ev->pid);
	}
	/* A record the ledger does not know is counted, not fatal; running out of room is. */
	if (err == -ENOMEM || err == -ENOSPC) {
		s->apply_error = err;
		return err;
	}
	return 0;
}

/* Fail before tracing rather than lose a long session's summary at the end. */
static int check_output(const char *output)
{
	char why[PATH_MAX + 64];
	int err;

	if (!output)
		return 0;
	err = summary__check_path(output, why, sizeof(why));
	if (err)
		fprintf(stderr, "devledger: -o %s: %s\n", output, why);
	return err;
}

static int find_libraries(struct session *s)
{
	const struct options *o = &s->opts;
	size_t count = o->mode == MODE_PIDS ? o->pid_count : 1;
	int err = 0;

	for (size_t i = 0; i < count && !err; i++) {
		char *lib = s->libraries[i];

		if (o->library)
			err = libfind__check(o->library, lib, PATH_MAX);
		else if (o->mode == MODE_PIDS)
			err = libfind__from_pid(o->pids[i], NULL, lib, PATH_MAX);
		else if (o->mode == MODE_COMMAND)
			err = libfind__for_command(o->command[0], lib, PATH_MAX);
		else
			err = libfind__default(lib, PATH_MAX);
		/* -p on a process that is gone: say so even when --lib was given. */
		if (!err && o->mode == MODE_PIDS) {
			struct procinfo info;

			if (procinfo__read(o->pids[i], &info) || info.state == 'Z' ||
			    info.state == 'X') {
				fprintf(stderr, "devledger: no process with PID %d\n",
					(int)o->pids[i]);
				err = -ESRCH;
			} else {
				s->target_start[i] = info.start_ticks;
			}
		}
		s->targets[i].pid = o->mode == MODE_PIDS ? o->pids[i] : 0;
		s->library_list[i] = lib;
	}
	s->target_count = count;
	return err;
}

static const char *mode_name(enum trace_mode mode)
{
	return mode == MODE_COMMAND ? "command" : mode == MODE_PIDS ? "pid" : "system";
}

static void announce(const struct session *s)
{
	const struct options *o = &s->opts;

	if (o->quiet)
		return;
	if (o->mode == MODE_COMMAND)
		fprintf(stderr, "devledger: tracing %s (pid %d) in %s\n", o->command[0],
			(int)s->launch.pid, s->libraries[0]);
	else if (o->mode == MODE_PIDS)
		fprintf(stderr, "devledger: tracing %zu process%s in %s%s; Ctrl-C to end\n",
			o->pid_count, o->pid_count == 1 ? "" : "es", s->libraries[0],
			o->pid_count > 1 ? ", ..." : "");
	else
		fprintf(stderr, "devledger: tracing every process that maps %s; Ctrl-C to end\n",
			s->libraries[0]);
}

/*
 * True while every -p target is gone: the session has nothing left to see.
 * A zombie is gone, and so is a pid a new process took since.
 */
static bool targets_gone(const struct session *s)
{
	for (size_t i = 0; i < s->opts.pid_count; i++)
		if (procinfo__alive(s->opts.pids[i], s->target_start[i]))
			return false;
	return true;
}

static void name_running_processes(struct ledger *ledger)
{
	const struct ledger_process *procs;
	size_t count;

	ledger__finish(ledger);
	procs = ledger__processes(ledger, &count);
	for (size_t i = 0; i < count; i++) {
		char path[64], comm[DL_COMM_LEN + 2] = "";
		FILE *f;

		if (!procs[i].exited && !procs[i].identity.known)
			identify(ledger, procs[i].pid);
		if (procs[i].exited || procs[i].comm[0])
			continue;
		snprintf(path, sizeof(path), "/proc/%u/comm", procs[i].pid);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			ledger__set_comm(ledger, procs[i].pid, comm);
		}
		if (f)
			fclose(f);
	}
}

/* devledger's own cost, for the report: what tracing took from the machine. */
static void own_usage(double *cpu_s, uint64_t *peak_rss_kib)
{
	struct rusage usage;

	if (getrusage(RUSAGE_SELF, &usage))
		return;
	*cpu_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
		 usage.ru_stime.tv_usec / 1e6;
	*peak_rss_kib = (uint64_t)usage.ru_maxrss;
}

static bool any_leak(const struct ledger *ledger)
{
	const struct ledger_process *procs;
	size_t count;

	procs = ledger__processes(ledger, &count);
	for (size_t i = 0; i < count; i++)
		if (procs[i].leaks.count)
			return true;
	return false;
}

/* Trace until the command exits, the targets are gone, time is up or a signal says stop. */
static int trace_loop(struct session *s, int *child_status, bool *child_done)
{
	const struct options *o = &s->opts;
	uint64_t end_ns = o->duration_s ? s->start_ns + (uint64_t)(o->duration_s * 1e9) : 0;
	uint64_t interval_ns = (uint64_t)(o->interval_s * 1e9),
		 next_table = s->start_ns + interval_ns;
	bool forwarded = false;

	for (;;) {
		int n = tracer__poll(s->tracer, POLL_MS);
		uint64_t now = monotonic_ns();

		if (n < 0 && n != -EINTR) {
			if (s->apply_error)
				n = s->apply_error;
			fprintf(stderr, "devledger: reading records: %s\n", strerror(-n));
			return n;
		}
		if (interval_ns && now >= next_table) {
			struct summary_session view = { .mode = mode_name(o->mode),
							.start_ns = s->start_ns,
							.duration_s = (now - s->start_ns) / 1e9,
							.events = s->records };

			name_running_processes(s->ledger);
			ledger__finish(s->ledger);
			summary__print_live(s->ledger, &view, stderr);
			next_table = now + interval_ns;
		}
		if (o->mode == MODE_COMMAND) {
			if (forward_pending && !forwarded) {
				kill(s->launch.pid, forward_pending);
				forwarded = true;
			}
			if (waitpid(s->launch.pid, child_status, WNOHANG) == s->launch.pid) {
				*child_done = true;
				return 0;
			}
			/* The command gets the first signal; a second one stops devledger. */
			if (signal_count >= 2)
				return 0;
		} else if (stop_signal || (o->mode == MODE_PIDS && targets_gone(s))) {
			return 0;
		}
		if (end_ns && now >= end_ns) {
			s->timed_out = true;
			return 0;
		}
	}
}

/*
 * -d ended the session but not the launched command: it goes on untraced,
 * and devledger waits for it, passing on what it is sent, for its status.
 */
static int wait_for_command(struct session *s)
{
	bool forwarded = false;
	int status;

	for (;;) {
		pid_t got = waitpid(s->launch.pid, &status, 0);

		if (got == s->launch.pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (got < 0 && errno != EINTR)
			return EXIT_RUNTIME;
		if (forward_pending && !forwarded) {
			kill(s->launch.pid, forward_pending);
			forwarded = true;
		}
		if (signal_count >= 2)
			return 128 + stop_signal;
	}
}

/* --offset values, as the layout takes them. */
static struct layout_override overrides[OPTIONS_MAX_OFFSETS];

static struct library_opts library_options(const struct options *o)
{
	return (struct library_opts){ .era = o->profile,
				      .overrides = overrides,
				      .override_count = o->offset_count,
				      .entry_probes = o->entry_probes };
}

/*
 * Read every library once: era, layout, inlining, probes. -EINVAL for
 * options that do not fit a library (said in one line), else -errno. Its
 * warnings are said once the probes are attached: a session that cannot
 * start (not root) says only why.
 */
static int open_libraries(struct session *s)
{
	struct library_opts lopts = library_options(&s->opts);

	for (size_t i = 0; i < s->target_count; i++) {
		struct library *lib = NULL;

		for (size_t j = 0; j < s->opened_count && !lib; j++)
			if (!strcmp(s->opened[j]->path, s->libraries[i]))
				lib = s->opened[j];
		if (!lib) {
			lib = library__open(s->libraries[i], &lopts, false);
			if (!lib)
				return -errno;
			s->opened[s->opened_count++] = lib;
		}
		s->targets[i].library = lib;
	}
	library__layout_sources(s->targets[0].library, s->layout_source, sizeof(s->layout_source));
	return 0;
}

/* One more thing the session could not see, for the summary and the report. */
static void add_warning(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_warning(struct session *s, const char *fmt, ...)
{
	va_list args;

	if (s->warning_count == sizeof(s->warnings) / sizeof(s->warnings[0]))
		return;
	va_start(args, fmt);
	vsnprintf(s->warning_text[s->warning_count], sizeof(s->warning_text[0]), fmt, args);
	va_end(args);
	s->warnings[s->warning_count] = s->warning_text[s->warning_count];
	s->warning_count++;
}

/* What the session could not see, for the summary and the report. */
static void collect_warnings(struct session *s)
{
	const struct library *lib = s->targets[0].library;

	/*
	 * Nothing at all from the library: the likeliest cause is another copy of
	 * it than the one probed. Never a clean session.
	 */
	if (!s->activity)
		add_warning(s,
			    "no traced process called into %s: if the command loads another copy "
			    "of libtt_metal.so, name it with -l",
			    s->libraries[0]);
	for (int sym = 0; sym < PROBE_SYMBOLS; sym++) {
		char readable[512];

		if (s->unseen[sym])
			add_warning(s,
				    "%s ran %" PRIu64 " time%s, and what it laid out could not be "
				    "read in this library (see devledger check)",
				    demangle(lib->syms[sym].name, readable, sizeof(readable)),
				    s->unseen[sym], s->unseen[sym] == 1 ? "" : "s");
	}
}

/* devledger check: needs no BPF and no root; 0 when every probe resolves, else 1. */
static int run_check(const struct options *o)
{
	struct library_opts lopts = library_options(o);
	char path[PATH_MAX];
	struct library *lib;
	int err;

	if (o->library)
		err = libfind__check(o->library, path, sizeof(path));
	else if (o->pid_count)
		err = libfind__from_pid(o->pids[0], NULL, path, sizeof(path));
	else
		err = libfind__default(path, sizeof(path));
	if (err)
		return EXIT_RUNTIME;
	lib = library__open(path, &lopts, true);
	/* EINVAL: the --profile or --offset values do not fit this library. */
	if (!lib)
		return errno == EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	err = check__print(lib, o->json, stdout);
	library__free(lib);
	return err ? EXIT_RUNTIME : 0;
}

int main(int argc, char **argv)
{
	struct session s = { .launch = { .pid = -1, .release_fd = -1 } };
	struct tracer_opts topts = { 0 };
	struct ledger_opts lopts = { 0 };
	struct summary_session view = { 0 };
	struct dl_bpf_stats stats = { 0 };
	bool child_done = false;
	int child_status = 0, exit_code = 0, err;
	char error[512];

	err = options__parse(argc, argv, &s.opts, error, sizeof(error));
	if (err == 1)
		return 0;
	if (err) {
		fprintf(stderr, "devledger: %s\n", error);
		return EXIT_USAGE;
	}
	if (s.opts.profile && !eras__find(s.opts.profile)) {
		fprintf(stderr, "devledger: unknown profile '%s'; known: %s\n", s.opts.profile,
			eras__names());
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < s.opts.offset_count; i++) {
		if (!eras__known_field(s.opts.offset_names[i])) {
			fprintf(stderr,
				"devledger: --offset %s: no such field (Buffer.size_, BufferImpl.size_, "
				"Buffer.pimpl, Device.id_, ...; see devledger check)\n",
				s.opts.offset_names[i]);
			return EXIT_USAGE;
		}
		overrides[i] =
			(struct layout_override){ s.opts.offset_names[i], s.opts.offset_values[i] };
	}
	if (s.opts.subcommand == SUBCOMMAND_CHECK)
		return run_check(&s.opts);
	/*
	 * From here on a SIGINT or SIGTERM ends the session with its summary, even
	 * one that comes while the libraries are read or the probes attached.
	 */
	install_signals();
	if (s.opts.mode == MODE_COMMAND) {
		char path[PATH_MAX];

		err = libfind__resolve_command(s.opts.command[0], path, sizeof(path));
		if (err) {
			/* As a shell says it: 127, command not found. */
			fprintf(stderr, "devledger: cannot run %s: %s\n", s.opts.command[0],
				strerror(-err));
			return EXIT_NOT_FOUND;
		}
	}
	if (check_output(s.opts.output) || find_libraries(&s))
		return EXIT_RUNTIME;

	/* A --profile or --offset that does not fit the library is a usage error. */
	err = open_libraries(&s);
	if (err) {
		exit_code = err == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
		goto cleanup;
	}

	lopts.max_live = s.opts.max_live;
	s.ledger = ledger__new(&lopts);
	if (!s.ledger) {
		fprintf(stderr, "devledger: %s\n", strerror(errno));
		exit_code = EXIT_RUNTIME;
		goto cleanup;
	}
	if (s.opts.mode == MODE_COMMAND) {
		err = launch__start(&s.launch, s.opts.command);
		if (err) {
			fprintf(stderr, "devledger: cannot start %s: %s\n", s.opts.command[0],
				strerror(-err));
			exit_code = EXIT_RUNTIME;
			goto cleanup;
		}
		s.targets[0].pid = s.launch.pid;
	}

	/* The clock starts before the probes, so every allocated_at_s is >= 0. */
	s.start_ns = monotonic_ns();
	clock_gettime(CLOCK_REALTIME, &s.started_at);
	topts.mode = s.opts.mode == MODE_COMMAND ? TRACER_COMMAND
		     : s.opts.mode == MODE_PIDS	 ? TRACER_PIDS
						 : TRACER_SYSTEM;
	topts.targets = s.targets;
	topts.target_count = s.target_count;
	topts.ring_bytes = s.opts.ring_bytes;
	topts.verbose = s.opts.verbose;
	topts.perf_uprobes = s.opts.perf_uprobes;
	topts.on_record = on_record;
	topts.ctx = &s;
	s.tracer = tracer__open(&topts);
	if (!s.tracer) {
		launch__abort(&s.launch);
		exit_code = EXIT_RUNTIME;
		goto cleanup;
	}
	for (size_t i = 0; s.opts.mode != MODE_SYSTEM && i < s.target_count; i++) {
		ledger__add_process(s.ledger, (uint32_t)s.targets[i].pid);
		if (s.opts.mode == MODE_PIDS)
			identify(s.ledger, (uint32_t)s.targets[i].pid);
	}
	/* The launched command is known before it runs: a short one is gone before /proc is read.
	 */
	if (s.opts.mode == MODE_COMMAND)
		identify_command(&s);
	for (size_t i = 0; !s.opts.quiet && i < s.opened_count; i++)
		library__print_warnings(s.opened[i], stderr);

	announce(&s);
	if (s.opts.mode == MODE_COMMAND && stop_signal) {
		/* Told to stop while the probes were being attached: the command never starts. */
		launch__abort(&s.launch);
		exit_code = 128 + stop_signal;
	} else if (s.opts.mode == MODE_COMMAND && (err = launch__release(&s.launch))) {
		fprintf(stderr, "devledger: starting %s: %s\n", s.opts.command[0], strerror(-err));
		launch__abort(&s.launch);
		exit_code = EXIT_RUNTIME;
		goto cleanup;
	}

	if (!exit_code && trace_loop(&s, &child_status, &child_done))
		exit_code = EXIT_RUNTIME;
	/* Everything the probes sent before the end, before anything is written. */
	if (tracer__drain(s.tracer) < 0 && s.apply_error)
		exit_code = EXIT_RUNTIME;
	tracer__stats(s.tracer, &stats);
	if (s.opts.verbose)
		tracer__print_hits(s.tracer, stderr);
	if (child_done)
		ledger__process_exited(s.ledger, (uint32_t)s.launch.pid, child_status,
				       monotonic_ns());
	name_running_processes(s.ledger);
	ledger__finish(s.ledger);

	collect_warnings(&s);
	view.mode = mode_name(s.opts.mode);
	view.profile = s.targets[0].library->era->name;
	view.warnings = s.warnings;
	view.warning_count = s.warning_count;
	view.layout_source = s.layout_source;
	view.libraries = s.library_list;
	view.library_count = s.target_count;
	view.started_at = s.started_at;
	view.start_ns = s.start_ns;
	view.duration_s = (monotonic_ns() - s.start_ns) / 1e9;
	view.events = s.records;
	/* A full helper map loses facts too (a process's exit, a CB's program): not exact either.
	 */
	view.lost_events =
		stats.ringbuf_full + stats.read_failed + stats.map_full + stats.elements_dropped;
	own_usage(&view.cpu_s, &view.peak_rss_kib);
	view.usage = own_usage;
	if (s.opts.output) {
		err = summary__write_json(s.ledger, &view, s.opts.output);
		if (err) {
			fprintf(stderr, "devledger: writing summary to %s: %s\n", s.opts.output,
				strerror(-err));
			exit_code = EXIT_RUNTIME;
		}
	}
	/* What the summary cost too: the report's figures match the JSON's. */
	own_usage(&view.cpu_s, &view.peak_rss_kib);
	if (!s.opts.quiet)
		summary__print_report(s.ledger, &view, stderr);

	if (exit_code == 0 && child_done) {
		exit_code = WIFEXITED(child_status) ? WEXITSTATUS(child_status)
						    : 128 + WTERMSIG(child_status);
	} else if (exit_code == 0 && s.opts.mode == MODE_COMMAND && s.timed_out) {
		/* The probes come off first: the command runs on at full speed. */
		tracer__free(s.tracer);
		s.tracer = NULL;
		exit_code = wait_for_command(&s);
	} else if (exit_code == 0 && s.opts.mode == MODE_COMMAND)
		exit_code = 128 +
			    (stop_signal ? stop_signal : SIGTERM); /* stopped by a second signal */
	/*
	 * --fail-on-leak: 3 for a leak; 1 when devledger could not answer (it lost
	 * or could not see something), so that a blind session never passes.
	 */
	if (exit_code == 0 && s.opts.fail_on_leak && any_leak(s.ledger))
		exit_code = EXIT_LEAK;
	else if (exit_code == 0 && s.opts.fail_on_leak &&
		 (view.lost_events || view.warning_count || ledger__rejected(s.ledger) ||
		  ledger__dropped(s.ledger)))
		exit_code = EXIT_RUNTIME;

cleanup:
	tracer__free(s.tracer);
	ledger__free(s.ledger);
	for (size_t i = 0; i < s.opened_count; i++)
		library__free(s.opened[i]);
	return exit_code;
}
