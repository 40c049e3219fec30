/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger serve: a system-wide session until SIGINT or SIGTERM, its ledger
 * as Prometheus metrics at /metrics over HTTP (libmicrohttpd, loaded then:
 * httpd.h), and each
 * process that exits handed out (to the metrics, to --per-process-dir) and
 * forgotten, so that a service that runs for weeks holds only what runs.
 *
 * Threads: the ledger and the metrics belong to the session's loop, which
 * feeds them; nothing else touches them, so neither needs a lock on its hot
 * path. libmicrohttpd answers on a thread of its own. A scrape asks the loop
 * for a rendering newer than the scrape (under a mutex) and waits on a
 * condition variable; the loop, which wakes at least every 100 ms, renders
 * the exposition when asked, outside the lock, and hands the text over under
 * it. So a scrape sees the ledger as of its own moment, a busy ring buffer
 * never waits for HTTP, and nothing is rendered that no one asked for. If the
 * loop cannot answer in time, the scrape gets the last rendering.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "httpd.h"
#include "ledger.h"
#include "metrics.h"
#include "options.h"
#include "procinfo.h"
#include "serve.h"
#include "session.h"
#include "summary.h"

/* How long a scrape waits for the loop's rendering before it takes the last one. */
#define SCRAPE_WAIT_S 2
/* Exited processes' series are looked at this often for --retain. */
#define EXPIRE_EVERY_NS 1000000000ull

struct serve {
	const struct options *opts;
	struct session *session;
	struct ledger *ledger;
	struct metrics *metrics;
	const struct httpd_api *http; /* libmicrohttpd, loaded when serve starts */
	struct MHD_Daemon *daemon;
	bool exits_pending; /* a process exited since the last release: the loop's own */
	uint64_t next_expire_ns;
	uint64_t summaries_written;
	uint64_t summary_failures;

	/* Shared with libmicrohttpd's thread, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t rendered;
	char *exposition; /* the last rendering, NULL before the first */
	size_t exposition_len;
	uint64_t generation; /* renderings made */
	uint64_t wanted;     /* the rendering a scrape waits for */
	bool stopping;
};

/* ---- HTTP, on libmicrohttpd's thread ---- */

static enum MHD_Result respond(const struct serve *sv, struct MHD_Connection *conn,
			       unsigned int status, const char *type, const char *body, size_t len)
{
	struct MHD_Response *response;
	enum MHD_Result ret;

	response =
		sv->http->create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!response)
		return MHD_NO;
	sv->http->add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = sv->http->queue_response(conn, status, response);
	sv->http->destroy_response(response);
	return ret;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **request)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct serve *sv = cls;
	struct timespec deadline;
	uint64_t target;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)request;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return respond(sv, conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET /metrics\n", 13);
	if (strcmp(url, "/metrics"))
		return respond(sv, conn, MHD_HTTP_NOT_FOUND, text,
			       "devledger serves its metrics at /metrics\n", 41);

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SCRAPE_WAIT_S;
	pthread_mutex_lock(&sv->lock);
	target = sv->generation + 1;
	if (sv->wanted < target)
		sv->wanted = target;
	while (sv->generation < target && !sv->stopping &&
	       pthread_cond_timedwait(&sv->rendered, &sv->lock, &deadline) != ETIMEDOUT)
		;
	if (sv->exposition)
		ret = respond(sv, conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			      sv->exposition, sv->exposition_len);
	else
		ret = respond(sv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, text,
			      "devledger is starting\n", 22);
	pthread_mutex_unlock(&sv->lock);
	return ret;
}

/* Listen where --metrics says; the thread starts with SIGINT and SIGTERM blocked, for the loop. */
static int start_http(struct serve *sv)
{
	const struct options *o = sv->opts;
	struct sockaddr_storage addr = { 0 };
	sigset_t block, old;
	bool v6 = strchr(o->metrics_host, ':') != NULL;
	/* No MHD_USE_ERROR_LOG: devledger says what failed itself, in one line. */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;

	sv->http = httpd__load();
	if (!sv->http)
		return -ENOENT;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)o->metrics_port);
		inet_pton(AF_INET6, o->metrics_host, &a->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&addr;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)o->metrics_port);
		inet_pton(AF_INET, o->metrics_host, &a->sin_addr);
	}
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* A scrape at a time is all Prometheus makes; a few more for people with curl. */
	sv->daemon = sv->http->start_daemon(flags, (uint16_t)o->metrics_port, NULL, NULL, answer, sv,
				      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				      MHD_OPTION_CONNECTION_LIMIT, 16u,
				      MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!sv->daemon) {
		fprintf(stderr,
			"devledger: --metrics %s%s%s:%u: cannot listen there (is the port taken? "
			"choose another with --metrics)\n",
			v6 ? "[" : "", o->metrics_host, v6 ? "]" : "", o->metrics_port);
		return -EADDRINUSE;
	}
	return 0;
}

static void stop_http(struct serve *sv)
{
	pthread_mutex_lock(&sv->lock);
	sv->stopping = true;
	pthread_cond_broadcast(&sv->rendered);
	pthread_mutex_unlock(&sv->lock);
	if (sv->daemon)
		sv->http->stop_daemon(sv->daemon);
	sv->daemon = NULL;
}

/* ---- on the session's loop ---- */

static void name_process(void *ctx, uint32_t pid, char comm[DL_COMM_LEN])
{
	(void)ctx;
	procinfo__comm((pid_t)pid, comm, DL_COMM_LEN);
}

static void on_change(void *ctx, const struct ledger_change *change)
{
	struct serve *sv = ctx;

	if (change->kind == LEDGER_CHANGE_EXITED)
		sv->exits_pending = true;
}

/* DIR/PID-START.json: START in ms since the epoch, or when unknown the exit on the monotonic clock. */
static void process_summary_path(const struct serve *sv, const struct ledger_process *p,
				 char *path, size_t size)
{
	if (p->identity.known && p->identity.started_at_s > 0)
		snprintf(path, size, "%s/%" PRIu32 "-%" PRIu64 ".json", sv->opts->per_process_dir,
			 p->pid, (uint64_t)(p->identity.started_at_s * 1000));
	else
		snprintf(path, size, "%s/%" PRIu32 "-exit-%" PRIu64 ".json",
			 sv->opts->per_process_dir, p->pid, p->exit_ts_ns);
}

static void write_process_summary(struct serve *sv, const struct ledger_process *p)
{
	struct summary_session view;
	char path[PATH_MAX];
	int err;

	if (!sv->opts->per_process_dir)
		return;
	process_summary_path(sv, p, path, sizeof(path));
	session__view(sv->session, &view);
	err = summary__write_process_json(sv->ledger, p, &view, path);
	if (!err) {
		sv->summaries_written++;
		return;
	}
	/* Said the first time; counted always, and the exit status says it at the end. */
	if (!sv->summary_failures++)
		fprintf(stderr, "devledger: writing %s: %s (more failures are only counted)\n",
			path, strerror(-err));
}

static void on_release(void *ctx, const struct ledger_process *p)
{
	write_process_summary(ctx, p);
}

static void render(struct serve *sv)
{
	struct summary_session view;
	struct metrics_session numbers;
	char *text;
	size_t len;

	session__view(sv->session, &view);
	numbers = (struct metrics_session){ .events = view.events,
					    .lost_events = view.lost_events,
					    .rejected_events = ledger__rejected(sv->ledger),
					    .dropped_allocations = ledger__dropped(sv->ledger) };
	if (metrics__render(sv->metrics, &numbers, &text, &len))
		return; /* the scrape gets the last rendering */
	pthread_mutex_lock(&sv->lock);
	free(sv->exposition);
	sv->exposition = text;
	sv->exposition_len = len;
	sv->generation++;
	pthread_cond_broadcast(&sv->rendered);
	pthread_mutex_unlock(&sv->lock);
}

static void tick(void *ctx, struct session *s, uint64_t now_ns)
{
	struct serve *sv = ctx;
	bool wanted;

	(void)s;
	if (sv->exits_pending) {
		sv->exits_pending = false;
		ledger__release_exited(sv->ledger, on_release, sv);
	}
	if (now_ns >= sv->next_expire_ns) {
		metrics__expire(sv->metrics, now_ns);
		sv->next_expire_ns = now_ns + EXPIRE_EVERY_NS;
	}
	pthread_mutex_lock(&sv->lock);
	wanted = sv->wanted > sv->generation;
	pthread_mutex_unlock(&sv->lock);
	if (wanted)
		render(sv);
}

/* Before the probes: the metrics observe the ledger, and the port is taken (or we fail now). */
static int prepared(void *ctx, struct session *s)
{
	struct serve *sv = ctx;
	struct metrics_opts mopts = { .retain_s = sv->opts->retain_s, .name = name_process };
	const struct options *o = sv->opts;

	sv->session = s;
	sv->ledger = session__ledger(s);
	if (o->per_process_dir) {
		char probe[PATH_MAX], why[PATH_MAX + 64];

		snprintf(probe, sizeof(probe), "%s/0-0.json", o->per_process_dir);
		if (summary__check_path(probe, why, sizeof(why))) {
			fprintf(stderr, "devledger: --per-process-dir %s: %s\n", o->per_process_dir,
				why);
			return EXIT_RUNTIME;
		}
	}
	sv->metrics = metrics__new(&mopts);
	if (!sv->metrics || ledger__observe(sv->ledger, metrics__observe, sv->metrics) ||
	    ledger__observe(sv->ledger, on_change, sv)) {
		fprintf(stderr, "devledger: %s\n", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	if (start_http(sv))
		return EXIT_RUNTIME;
	render(sv); /* a scrape before the first records gets an answer */
	/* Said even with -q, as the tracing line is: scripts wait for it. */
	fprintf(stderr, "devledger: metrics at http://%s%s%s:%u/metrics\n",
		strchr(o->metrics_host, ':') ? "[" : "", o->metrics_host,
		strchr(o->metrics_host, ':') ? "]" : "", o->metrics_port);
	return 0;
}

/*
 * The last lines: what every process seen added up to (the ledger forgot
 * those it handed out, so its own report could not say it), never "no leaks"
 * for a session that lost or could not see something.
 */
static void report(struct serve *sv, struct session *s)
{
	struct summary_session view;
	struct metrics_sum sum;
	bool exact;

	session__view(s, &view);
	metrics__sum(sv->metrics, &sum);
	exact = !view.lost_events && !view.warning_count && !ledger__rejected(sv->ledger) &&
		!ledger__dropped(sv->ledger);
	fprintf(stderr,
		"devledger: served %.3f s, %" PRIu64 " events, %" PRIu64 " lost; %" PRIu64
		" process%s exited\n",
		view.duration_s, view.events, view.lost_events, sum.exits,
		sum.exits == 1 ? "" : "es");
	for (size_t i = 0; i < view.warning_count; i++)
		fprintf(stderr, "devledger: warning: %s\n", view.warnings[i]);
	fprintf(stderr,
		"devledger: %" PRIu64 " untracked free%s (%" PRIu64 " bytes), %" PRIu64
		" unmatched free%s\n",
		sum.untracked_frees, sum.untracked_frees == 1 ? "" : "s", sum.untracked_bytes,
		sum.unmatched_frees, sum.unmatched_frees == 1 ? "" : "s");
	if (sum.leaks)
		fprintf(stderr, "devledger: %" PRIu64 " leak%s, %" PRIu64 " bytes\n", sum.leaks,
			sum.leaks == 1 ? "" : "s", sum.leaked_bytes);
	else if (exact)
		fprintf(stderr, "devledger: no leaks\n");
	else
		fprintf(stderr, "devledger: no leak seen, but the session was not exact\n");
}

/*
 * The session has drained and finished: the processes that exited are handed
 * out, and those still running get their summary too (with what they hold).
 */
static int finished(void *ctx, struct session *s, int exit_code)
{
	struct serve *sv = ctx;
	const struct ledger_process *procs;
	size_t count;

	stop_http(sv);
	procs = ledger__processes(sv->ledger, &count);
	for (size_t i = 0; i < count; i++)
		if (!procs[i].exited)
			write_process_summary(sv, &procs[i]);
	ledger__release_exited(sv->ledger, on_release, sv);
	if (!sv->opts->quiet)
		report(sv, s);
	if (sv->opts->per_process_dir && !sv->opts->quiet)
		fprintf(stderr, "devledger: %" PRIu64 " process summar%s in %s\n",
			sv->summaries_written, sv->summaries_written == 1 ? "y" : "ies",
			sv->opts->per_process_dir);
	if (sv->summary_failures) {
		fprintf(stderr, "devledger: %" PRIu64 " process summar%s could not be written\n",
			sv->summary_failures, sv->summary_failures == 1 ? "y" : "ies");
		return exit_code ? exit_code : EXIT_RUNTIME;
	}
	return exit_code;
}

int serve__run(const struct options *opts, const struct library_opts *library_opts)
{
	struct serve sv = { .opts = opts };
	struct session_hooks hooks = {
		.prepared = prepared, .tick = tick, .finished = finished, .own_report = true,
		.no_timeline = true,
		.ctx = &sv
	};
	int exit_code;

	pthread_mutex_init(&sv.lock, NULL);
	pthread_cond_init(&sv.rendered, NULL);
	exit_code = session__run_with(opts, library_opts, &hooks);
	stop_http(&sv);
	metrics__free(sv.metrics);
	free(sv.exposition);
	pthread_cond_destroy(&sv.rendered);
	pthread_mutex_destroy(&sv.lock);
	return exit_code;
}
