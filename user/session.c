/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One tracing session, from the command line's options to its exit status:
 * prepare (the libraries, the ledger, the output), start (the command, the
 * probes), run (records into the ledger until the end), finish (drain, write
 * the summary, report, decide the exit status).
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
#include "libset.h"
#include "ledger.h"
#include "libfind.h"
#include "library.h"
#include "mark.h"
#include "options.h"
#include "perfetto.h"
#include "procinfo.h"
#include "session.h"
#include "summary.h"
#include "timeline.h"
#include "tracer.h"
#include "unwind.h"

#define POLL_MS 100
/* One per function that could not be read, per library not traced, and for none followed or none used. */
#define SESSION_MAX_WARNINGS (PROBE_SYMBOLS + LIBSET_MAX_FILES + 2)

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t signal_count;
static volatile sig_atomic_t forward_pending;

struct session {
	struct options opts;
	struct library_opts library_opts;
	/* Across the phases: what the command did, and the exit status so far. */
	bool child_done;
	int child_status;
	int exit_code;
	struct ledger *ledger;
	struct tracer *tracer;
	struct unwind *stacks; /* NULL: --no-stacks */
	size_t probed_count;   /* libraries given to the tracer: the next one's index in the cookies */
	struct launch launch;
	struct tracer_target targets[OPTIONS_MAX_PIDS];
	uint64_t target_start[OPTIONS_MAX_PIDS]; /* -p: each target's start time, against pid reuse
						  */
	size_t target_count;
	/* Every libtt_metal.so seen, each read once, however many processes map it. */
	struct libset libs;
	char forced[PATH_MAX]; /* -l, resolved */
	struct summary_library library_view[LIBSET_MAX_FILES];
	uint64_t start_ns;
	struct timespec started_at;
	uint64_t records;
	uint64_t unfollowed; /* libraries mapped past LIBSET_MAX_FILES */
	uint64_t activity; /* records other than process exits: anything the library did */
	uint32_t last_pid; /* of the last record: identity is looked for once per run of records */
	int apply_error;
	bool timed_out; /* -d ran out */
	const struct session_hooks *hooks; /* what a command adds to the phases (serve) */
	char layout_source[32];
	/* Functions that ran and laid out memory devledger cannot read, by enum probe_symbol. */
	uint64_t unseen[PROBE_SYMBOLS];
	char warning_text[SESSION_MAX_WARNINGS][2 * PATH_MAX + 256];
	const char *warnings[SESSION_MAX_WARNINGS];
	struct timeline *timeline; /* memory over time, snapshots, growth */
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
	mark__install();
}

/* A mark taken: the ledger has seen every record up to it and none after it. */
static void snapshot(void *ctx, const char *label, uint64_t ts_ns)
{
	struct session *s = ctx;

	if (timeline__snapshot(s->timeline, label, ts_ns) == -ENOSPC && !s->opts.quiet)
		fprintf(stderr, "devledger: snapshot not taken: at most %d\n",
			TIMELINE_MAX_SNAPSHOTS);
}

/* Marks and lost records, followed between polls. */
static void follow_timeline(struct session *s)
{
	struct dl_bpf_stats stats = { 0 };

	if (mark__pending()) {
		/* What the probes sent before the mark is in the ring: all of it first. */
		tracer__drain(s->tracer);
		mark__take(UINT64_MAX, snapshot, s);
	}
	if (!tracer__stats(s->tracer, &stats))
		timeline__lost(s->timeline,
			       stats.ringbuf_full + stats.read_failed + stats.map_full +
				       stats.elements_dropped,
			       monotonic_ns());
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

/* Fail before tracing rather than lose a long session's summary at the end. */
static int check_output(const char *option, const char *output)
{
	char why[PATH_MAX + 64];
	int err;

	if (!output)
		return 0;
	err = summary__check_path(output, why, sizeof(why));
	if (err)
		fprintf(stderr, "devledger: %s %s: %s\n", option, output, why);
	return err;
}

static const char *mode_name(enum trace_mode mode)
{
	return mode == MODE_COMMAND ? "command" : mode == MODE_PIDS ? "pid" : "system";
}

static void announce(const struct session *s)
{
	const struct options *o = &s->opts;
	const struct library *first = libset__first_probed(&s->libs);
	char where[PATH_MAX + 64], end[64] = "Ctrl-C to end";

	if (o->duration_s)
		snprintf(end, sizeof(end), "ends in %g s, or on Ctrl-C", o->duration_s);
	/* Said even with -q: scripts wait for this line to know the probes are on. */
	if (first)
		snprintf(where, sizeof(where), "%s%s", first->path,
			 s->libs.count > 1 ? ", ..." : "");
	else
		snprintf(where, sizeof(where), "whichever %s it loads", LIBFIND_NAME);
	if (o->mode == MODE_COMMAND)
		fprintf(stderr, "devledger: tracing %s (pid %d) in %s\n", o->command[0],
			(int)s->launch.pid, where);
	else if (o->mode == MODE_PIDS)
		fprintf(stderr, "devledger: tracing %zu process%s in %s; %s\n", s->target_count,
			s->target_count == 1 ? "" : "es", where, end);
	else
		fprintf(stderr, "devledger: tracing every process that maps %s; %s\n",
			first ? where : LIBFIND_NAME, end);
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
		follow_timeline(s);
		if (s->hooks && s->hooks->tick)
			s->hooks->tick(s->hooks->ctx, s, now);
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

/*
 * The libraries probed from the start: -l's, else the one each -p process
 * maps, the launched command's dynamic dependency (else $TT_METAL_HOME's),
 * or for -a $TT_METAL_HOME's. None is fine: whichever copy a traced process
 * maps later is probed then (library_mapped). Each is read once: era,
 * layout, inlining, probes. -EINVAL for options that do not fit a library
 * (said in one line), else -errno. Its warnings are said once the probes
 * are attached: a session that cannot start (not root) says only why.
 */
static int open_libraries(struct session *s)
{
	const struct options *o = &s->opts;
	size_t count = o->mode == MODE_PIDS ? o->pid_count : 1;
	char tried[PATH_MAX + 64];
	int err;

	if (o->library && (err = libfind__check(o->library, s->forced, sizeof(s->forced))))
		return err;
	libset__init(&s->libs, &s->library_opts, o->library ? s->forced : NULL);
	for (size_t i = 0; i < count; i++) {
		char path[PATH_MAX];
		struct libset_file *f;
		bool found;

		s->targets[i].pid = o->mode == MODE_PIDS ? o->pids[i] : 0;
		/* -p on a process that is gone: say so even when -l was given. */
		if (o->mode == MODE_PIDS) {
			struct procinfo info;

			if (procinfo__read(o->pids[i], &info) || info.state == 'Z' ||
			    info.state == 'X') {
				fprintf(stderr, "devledger: no process with PID %d\n",
					(int)o->pids[i]);
				return -ESRCH;
			}
			s->target_start[i] = info.start_ticks;
		}
		if (o->library)
			found = snprintf(path, sizeof(path), "%s", s->forced) > 0;
		else if (o->mode == MODE_PIDS)
			found = !libfind__mapped(o->pids[i], NULL, path, sizeof(path));
		else if (o->mode == MODE_COMMAND)
			found = !libfind__for_command(o->command[0], path, sizeof(path));
		else
			found = !libfind__default(path, sizeof(path), tried, sizeof(tried));
		if (!found)
			continue;
		f = libset__add(&s->libs, path);
		if (!f)
			return -errno;
		s->targets[i].library = f->library;
		if (o->mode == MODE_PIDS && libset__add_pid(f, (uint32_t)o->pids[i]))
			return -ENOMEM;
	}
	s->target_count = count;
	if (s->libs.count)
		library__layout_sources(s->libs.files[0].library, s->layout_source,
					sizeof(s->layout_source));
	return 0;
}

/* The files probed from the start: their later mappings cost no stop. */
static void mark_probed(struct session *s)
{
	for (size_t i = 0; i < s->libs.count; i++) {
		struct libset_file *f = &s->libs.files[i];
		struct dl_file file = { f->file.dev, f->file.ino };

		f->probed = f->library != NULL;
		if (f->probed && tracer__set_file(s->tracer, &file, DL_FILE_PROBED))
			fprintf(stderr, "devledger: %s: %s\n", f->path, strerror(errno));
		if (f->probed && s->stacks)
			unwind__add_file(s->stacks, f->library->path, (int)s->probed_count);
		s->probed_count += f->probed;
	}
}

/* A libtt_metal.so devledger did not know: probed now, or said why not. */
static void probe_new_file(struct session *s, struct libset_file *f, uint32_t pid)
{
	struct dl_file file = { f->file.dev, f->file.ino };
	int err = 0;

	if (f->library && (err = tracer__add_library(s->tracer, f->library)))
		snprintf(f->why, sizeof(f->why), "its probes could not be attached: %s",
			 strerror(-err));
	f->probed = f->library && !err;
	tracer__set_file(s->tracer, &file, f->probed ? DL_FILE_PROBED : DL_FILE_IGNORED);
	/* A hint for the stacks of a process gone before its mappings were read. */
	if (f->probed && s->stacks)
		unwind__add_file(s->stacks, f->library->path, (int)s->probed_count);
	s->probed_count += f->probed;
	if (f->probed) {
		if (!s->opts.quiet) {
			fprintf(stderr, "devledger: process %u loaded %s: probes attached\n", pid,
				f->path);
			library__print_warnings(f->library, stderr);
		}
		if (!s->layout_source[0])
			library__layout_sources(f->library, s->layout_source,
						sizeof(s->layout_source));
		return;
	}
	/* -a -l: one file was chosen for the whole machine; other copies are not what was asked. */
	if (!s->opts.quiet && !(s->opts.mode == MODE_SYSTEM && s->opts.library))
		fprintf(stderr, "devledger: warning: process %u loaded %s, which was not traced: %s\n",
			pid, f->path, f->why);
}

/*
 * A traced process mapped a libtt_metal.so executable. One devledger did
 * not know stopped the process there: it goes on once its probes are on.
 */
static void library_mapped(struct session *s, const struct dl_map_event *ev)
{
	struct libfind_file file = { ev->file.dev, ev->file.ino };
	struct libset_file *f = libset__find(&s->libs, &file);

	if (!f && (f = libset__mapped(&s->libs, (pid_t)ev->pid, &file)))
		probe_new_file(s, f, ev->pid);
	if (f)
		libset__add_pid(f, ev->pid);
	else
		s->unfollowed++;
	if (ev->stopped)
		kill((pid_t)ev->pid, SIGCONT);
}

/* What the session could not see, for the summary and the report. */
static void collect_warnings(struct session *s)
{
	const struct library *lib = libset__first_probed(&s->libs);

	s->warning_count = 0; /* said again from the counts: the view can be asked for often */
	for (size_t i = 0; i < s->libs.count; i++) {
		const struct libset_file *f = &s->libs.files[i];

		/* -a -l: one file was chosen for the whole machine; other copies were not asked. */
		if (f->probed || (s->opts.mode == MODE_SYSTEM && s->opts.library))
			continue;
		add_warning(s, "process %u loaded %s, which was not traced: %s",
			    f->pid_count ? f->pids[0] : 0, f->path, f->why);
	}
	if (s->unfollowed)
		add_warning(s, "%" PRIu64 " more %s could not be followed: devledger keeps %d",
			    s->unfollowed, LIBFIND_NAME, LIBSET_MAX_FILES);
	/* Nothing at all from the library: never a clean session. */
	if (!s->activity && !lib)
		add_warning(s, "no traced process loaded %s%s", LIBFIND_NAME,
			    s->opts.library ? " (the one -l names)" : "");
	else if (!s->activity)
		add_warning(s, "no traced process called into %s%s", lib->path,
			    s->libs.count > 1 ? " or any other library probed" : "");
	for (int sym = 0; sym < PROBE_SYMBOLS; sym++) {
		char readable[512];

		if (s->unseen[sym])
			add_warning(s,
				    "%s ran %" PRIu64 " time%s, and what it laid out could not be "
				    "read in this library (see devledger check)",
				    lib ? demangle(lib->syms[sym].name, readable, sizeof(readable))
					: "a probed function",
				    s->unseen[sym], s->unseen[sym] == 1 ? "" : "s");
	}
}

static int on_record(void *ctx, const void *record, size_t size)
{
	struct session *s = ctx;
	const struct dl_event *ev = record;
	int err;

	s->records++;
	/* A snapshot asked for before this record is taken before it. */
	if (mark__pending() && size >= sizeof(struct dl_exit_event))
		mark__take(ev->ts_ns, snapshot, s);
	if (size == sizeof(*ev) && ev->kind != DL_EV_PROCESS_EXIT)
		s->activity++;
	/* Not the ledger's: a library mapped, or something devledger could not see. */
	if (size == sizeof(struct dl_map_event) && ev->kind == DL_EV_LIBRARY_MAPPED) {
		library_mapped(s, record);
		return 0;
	}
	if (size == sizeof(*ev) && ev->kind == DL_EV_UNSEEN) {
		if (ev->object < PROBE_SYMBOLS)
			s->unseen[ev->object]++;
		return 0;
	}
	err = ledger__apply_with_stack(s->ledger, record, size,
				       unwind__record_stack(s->stacks, record, size));
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

/* A stack sample, unwound at once: its process may not outlive the next poll. */
static int on_stack(void *ctx, const void *sample, size_t size)
{
	struct session *s = ctx;
	int err = unwind__add_sample(s->stacks, sample, size);

	return err == -ENOMEM ? err : 0;
}

struct session *session__new(const struct options *opts, const struct library_opts *library_opts)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->opts = *opts;
	s->library_opts = *library_opts;
	s->launch = (struct launch){ .pid = -1, .release_fd = -1 };
	return s;
}

int session__prepare(struct session *s)
{
	struct ledger_opts lopts = { .max_live = s->opts.max_live };
	int err;

	if (s->opts.mode == MODE_COMMAND) {
		char path[PATH_MAX];

		err = libfind__resolve_command(s->opts.command[0], path, sizeof(path));
		if (err) {
			/* As a shell says it: 127, command not found. */
			fprintf(stderr, "devledger: cannot run %s: %s\n", s->opts.command[0],
				strerror(-err));
			return EXIT_NOT_FOUND;
		}
	}
	if (check_output("-o", s->opts.output) || check_output("--timeline", s->opts.timeline))
		return EXIT_RUNTIME;
	/* A --profile or --offset that does not fit the library is a usage error. */
	err = open_libraries(s);
	if (err)
		return err == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	s->ledger = ledger__new(&lopts);
	if (!(s->hooks && s->hooks->no_timeline))
		s->timeline = timeline__new(0);
	if (!s->ledger || (!s->timeline && !(s->hooks && s->hooks->no_timeline)) ||
	    (s->timeline && ledger__observe(s->ledger, timeline__observe, s->timeline))) {
		fprintf(stderr, "devledger: %s\n", strerror(errno ? errno : ENOMEM));
		return EXIT_RUNTIME;
	}
	if (s->opts.stack_bytes && !(s->stacks = unwind__new(NULL))) {
		fprintf(stderr, "devledger: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	/* The launched command's executable, for the stacks of a process gone before /proc was read. */
	if (s->stacks && s->opts.mode == MODE_COMMAND) {
		char path[PATH_MAX];

		if (!libfind__resolve_command(s->opts.command[0], path, sizeof(path)))
			unwind__add_file(s->stacks, path, -1);
	}
	return 0;
}

int session__start(struct session *s)
{
	struct tracer_opts topts = { 0 };
	int err;

	if (s->opts.mode == MODE_COMMAND) {
		/* -o -: the summary is all of devledger's stdout, never mixed with the command's. */
		s->launch.stdout_to_stderr = s->opts.output && !strcmp(s->opts.output, "-");
		err = launch__start(&s->launch, s->opts.command);
		if (err) {
			fprintf(stderr, "devledger: cannot start %s: %s\n", s->opts.command[0],
				strerror(-err));
			return EXIT_RUNTIME;
		}
		s->targets[0].pid = s->launch.pid;
	}

	/* The clock starts before the probes, so every allocated_at_s is >= 0. */
	s->start_ns = monotonic_ns();
	clock_gettime(CLOCK_REALTIME, &s->started_at);
	topts.mode = s->opts.mode == MODE_COMMAND ? TRACER_COMMAND
		     : s->opts.mode == MODE_PIDS  ? TRACER_PIDS
						  : TRACER_SYSTEM;
	topts.targets = s->targets;
	topts.target_count = s->target_count;
	topts.ring_bytes = s->opts.ring_bytes;
	topts.verbose = s->opts.verbose;
	topts.perf_uprobes = s->opts.perf_uprobes;
	topts.on_record = on_record;
	topts.stack_bytes = (uint32_t)s->opts.stack_bytes;
	topts.on_stack = s->stacks ? on_stack : NULL;
	topts.ctx = s;
	s->tracer = tracer__open(&topts);
	if (!s->tracer) {
		launch__abort(&s->launch);
		return EXIT_RUNTIME;
	}
	mark_probed(s);
	for (size_t i = 0; s->opts.mode != MODE_SYSTEM && i < s->target_count; i++) {
		ledger__add_process(s->ledger, (uint32_t)s->targets[i].pid);
		if (s->opts.mode == MODE_PIDS)
			identify(s->ledger, (uint32_t)s->targets[i].pid);
	}
	/* The launched command is known before it runs: a short one is gone before /proc is read.
	 */
	if (s->opts.mode == MODE_COMMAND)
		identify_command(s);
	for (size_t i = 0; !s->opts.quiet && i < s->libs.count; i++)
		if (s->libs.files[i].library)
			library__print_warnings(s->libs.files[i].library, stderr);

	announce(s);
	if (s->opts.mode == MODE_COMMAND && stop_signal) {
		/* Told to stop while the probes were being attached: the command never starts. */
		launch__abort(&s->launch);
		s->exit_code = 128 + stop_signal;
	} else if (s->opts.mode == MODE_COMMAND && (err = launch__release(&s->launch))) {
		fprintf(stderr, "devledger: starting %s: %s\n", s->opts.command[0], strerror(-err));
		launch__abort(&s->launch);
		return EXIT_RUNTIME;
	}
	return 0;
}

int session__run(struct session *s)
{
	if (!s->exit_code && trace_loop(s, &s->child_status, &s->child_done))
		s->exit_code = EXIT_RUNTIME;
	return s->exit_code;
}

struct ledger *session__ledger(struct session *s)
{
	return s->ledger;
}

void session__view(struct session *s, struct summary_session *view)
{
	const struct library *first = libset__first_probed(&s->libs);
	struct dl_bpf_stats stats = { 0 };

	if (s->tracer) /* none before session__start */
		tracer__stats(s->tracer, &stats);
	*view = (struct summary_session){ 0 };
	collect_warnings(s);
	for (size_t i = 0; i < s->libs.count; i++) {
		const struct libset_file *f = &s->libs.files[i];

		s->library_view[i] = (struct summary_library){
			.path = f->path,
			.probed = f->probed,
			.profile = f->probed ? f->library->era->name : NULL,
			.pids = f->pids,
			.pid_count = f->pid_count,
		};
	}
	view->mode = mode_name(s->opts.mode);
	view->profile = first ? first->era->name : NULL;
	view->warnings = s->warnings;
	view->warning_count = s->warning_count;
	view->layout_source = s->layout_source[0] ? s->layout_source : NULL;
	view->libraries = s->library_view;
	view->library_count = s->libs.count;
	view->started_at = s->started_at;
	view->start_ns = s->start_ns;
	view->duration_s = (monotonic_ns() - s->start_ns) / 1e9;
	view->events = s->records;
	/* A full helper map loses facts too (a process's exit, a CB's program): not exact either.
	 */
	view->lost_events =
		stats.ringbuf_full + stats.read_failed + stats.map_full + stats.elements_dropped;
	own_usage(&view->cpu_s, &view->peak_rss_kib);
	view->usage = own_usage;
	view->timeline = s->timeline;
	view->stacks = s->stacks;
	view->stack_bytes = (uint32_t)s->opts.stack_bytes;
	view->stack_frames = s->opts.stack_frames;
	view->stacks_lost = stats.stacks_lost + stats.stack_reads_failed;
}

int session__finish(struct session *s)
{
	struct dl_bpf_stats stats = { 0 };
	struct summary_session view = { 0 };
	int exit_code = s->exit_code, err;

	/*
	 * Everything the probes sent before the end, before anything is written;
	 * the watch comes off first, so that every process it stopped is resumed.
	 */
	tracer__unwatch(s->tracer);
	if (tracer__drain(s->tracer) < 0 && s->apply_error)
		exit_code = EXIT_RUNTIME;
	if (s->opts.verbose)
		tracer__print_hits(s->tracer, stderr);
	tracer__stats(s->tracer, &stats);
	mark__take(UINT64_MAX, snapshot, s);
	timeline__lost(s->timeline,
		       stats.ringbuf_full + stats.read_failed + stats.map_full +
			       stats.elements_dropped,
		       monotonic_ns());
	if (s->child_done)
		ledger__process_exited(s->ledger, (uint32_t)s->launch.pid, s->child_status,
				       monotonic_ns());
	name_running_processes(s->ledger);
	ledger__finish(s->ledger);

	session__view(s, &view);
	if (s->opts.output) {
		err = summary__write_json(s->ledger, &view, s->opts.output);
		if (err) {
			fprintf(stderr, "devledger: writing summary to %s: %s\n", s->opts.output,
				strerror(-err));
			exit_code = EXIT_RUNTIME;
		}
	}
	if (s->opts.timeline) {
		err = perfetto__write(s->opts.timeline, s->timeline, s->ledger, s->start_ns);
		if (err) {
			fprintf(stderr, "devledger: writing the timeline to %s: %s\n",
				s->opts.timeline, strerror(-err));
			exit_code = EXIT_RUNTIME;
		}
	}
	/* What the summary cost too: the report's figures match the JSON's. */
	own_usage(&view.cpu_s, &view.peak_rss_kib);
	if (!s->opts.quiet && !(s->hooks && s->hooks->own_report))
		summary__print_report(s->ledger, &view, stderr);

	if (exit_code == 0 && s->child_done) {
		exit_code = WIFEXITED(s->child_status) ? WEXITSTATUS(s->child_status)
						       : 128 + WTERMSIG(s->child_status);
	} else if (exit_code == 0 && s->opts.mode == MODE_COMMAND && s->timed_out) {
		/* The probes come off first: the command runs on at full speed. */
		tracer__free(s->tracer);
		s->tracer = NULL;
		exit_code = wait_for_command(s);
	} else if (exit_code == 0 && s->opts.mode == MODE_COMMAND) {
		/* stopped by a second signal */
		exit_code = 128 + (stop_signal ? stop_signal : SIGTERM);
	}
	/*
	 * --fail-on-leak: 3 for a leak; 1 when devledger could not answer (it lost
	 * or could not see something), so that a blind session never passes.
	 */
	if (exit_code == 0 && s->opts.fail_on_leak && any_leak(s->ledger))
		exit_code = EXIT_LEAK;
	else if (exit_code == 0 && s->opts.fail_on_leak &&
		 (view.lost_events || view.warning_count || ledger__rejected(s->ledger) ||
		  ledger__dropped(s->ledger)))
		exit_code = EXIT_RUNTIME;
	return exit_code;
}

void session__free(struct session *s)
{
	if (!s)
		return;
	tracer__free(s->tracer);
	ledger__free(s->ledger);
	unwind__free(s->stacks);
	timeline__free(s->timeline);
	libset__free(&s->libs);
	free(s);
}

int session__trace(const struct options *opts, const struct library_opts *library_opts)
{
	return session__run_with(opts, library_opts, NULL);
}

int session__run_with(const struct options *opts, const struct library_opts *library_opts,
		      const struct session_hooks *hooks)
{
	struct session *s;
	int exit_code;

	/*
	 * From here on a SIGINT or SIGTERM ends the session with its summary, even
	 * one that comes while the libraries are read or the probes attached.
	 */
	install_signals();
	s = session__new(opts, library_opts);
	if (!s) {
		fprintf(stderr, "devledger: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	s->hooks = hooks;
	exit_code = session__prepare(s);
	if (!exit_code && hooks && hooks->prepared)
		exit_code = hooks->prepared(hooks->ctx, s);
	if (!exit_code)
		exit_code = session__start(s);
	if (!exit_code) {
		session__run(s);
		exit_code = session__finish(s);
		if (hooks && hooks->finished)
			exit_code = hooks->finished(hooks->ctx, s, exit_code);
	}
	session__free(s);
	return exit_code;
}
