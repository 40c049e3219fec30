/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger serve with the real thing: the BPF programs loaded, stand-in
 * workloads traced system-wide, Debian's Prometheus scraping /metrics, and
 * what Prometheus' HTTP API answers compared with the workloads' own ground
 * truth; promtool checks the exposition. A soak runs processes for a bounded
 * time and asserts devledger's memory and descriptors stay flat while every
 * process's summary is written.
 *
 * Other worktrees' tests may run at once, but uprobes are per file: only
 * processes that map this build's stand-in are seen, and only the pids this
 * test launched are compared.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define TIMEOUT_S 120
#define PROMETHEUS "/usr/bin/prometheus"
#define PROMTOOL   "/usr/bin/promtool"
#define CURL	   "/usr/bin/curl"

struct fixture {
	char *dir;
	struct harness_proc devledger, prometheus;
	bool devledger_running, prometheus_running;
	int metrics_port, prometheus_port;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = harness_tmpdir();
	*state = f;
	return 0;
}

/* Whatever a failed test left running goes, by its pid. */
static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->prometheus_running) {
		kill(f->prometheus.pid, SIGKILL);
		waitpid(f->prometheus.pid, NULL, 0);
	}
	if (f->devledger_running) {
		kill(f->devledger.pid, SIGKILL);
		waitpid(f->devledger.pid, NULL, 0);
	}
	harness_rmdir(f->dir);
	free(f);
	return 0;
}

/* A loopback port no one listens on now (the kernel's choice). */
static int free_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

/* devledger serve on a free loopback port, after the words of `wrapper` (NULL: none). */
static void start_serve_in(struct fixture *f, const char *retain, char *const *wrapper)
{
	char listen[32], folder[512];
	char *serve[] = { (char *)harness_devledger(),
			  "serve",
			  "-l",
			  (char *)harness_standin_lib(),
			  "--metrics",
			  listen,
			  "--retain",
			  (char *)retain,
			  "--per-process-dir",
			  folder,
			  NULL };
	char *argv[32];
	size_t argc = 0;

	for (; wrapper && wrapper[argc]; argc++)
		argv[argc] = wrapper[argc];
	for (size_t i = 0; i < sizeof(serve) / sizeof(serve[0]); i++)
		argv[argc++] = serve[i];
	snprintf(folder, sizeof(folder), "%s/processes", f->dir);
	assert_int_equal(mkdir(folder, 0755), 0);
	f->metrics_port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", f->metrics_port);
	harness_spawn(&f->devledger, argv, false, true, 0);
	f->devledger_running = true;
	harness_expect_err(&f->devledger, "devledger: tracing", 30000);
}

static void start_serve(struct fixture *f, const char *retain)
{
	start_serve_in(f, retain, NULL);
}

/* SIGINT: devledger ends cleanly (exit 0) after writing what is left. */
static void stop_serve(struct fixture *f)
{
	kill(f->devledger.pid, SIGINT);
	assert_int_equal(harness_exit_code(harness_wait(&f->devledger, TIMEOUT_S)), 0);
	f->devledger_running = false;
}

/* A stand-in workload to its end; returns its pid. */
static pid_t run_workload(struct fixture *f, const char *scenario, const char *number,
			  const char *truth_name)
{
	struct harness_proc proc;
	char *argv[6] = { (char *)harness_standin_driver(), (char *)scenario };
	int argc = 2;

	if (number)
		argv[argc++] = (char *)number;
	if (truth_name) {
		argv[argc++] = "--truth";
		argv[argc++] = (char *)harness_path(f->dir, truth_name);
	}
	argv[argc] = NULL;
	assert_int_equal(harness_exit_code(harness_run(&proc, argv, TIMEOUT_S)), 0);
	return proc.pid;
}

/*
 * GET url with curl, with a PromQL query when given; what it prints is in
 * proc->out, or in the file `output` when given. Fails the test if it fails.
 */
static void http_get(const char *url, const char *query, const char *output,
		     struct harness_proc *proc)
{
	char data[1024];
	char *argv[12] = { CURL, "-sS", "--fail", "--max-time", "10" };
	int argc = 5;

	if (output) {
		argv[argc++] = "-o";
		argv[argc++] = (char *)output;
	}
	if (query) {
		snprintf(data, sizeof(data), "query=%s", query);
		argv[argc++] = "-G";
		argv[argc++] = "--data-urlencode";
		argv[argc++] = data;
	}
	argv[argc++] = (char *)url;
	argv[argc] = NULL;
	harness_spawn(proc, argv, true, true, 0);
	if (harness_exit_code(harness_wait(proc, 30)) != 0)
		fail_msg("curl %s failed: %s", url, proc->err);
}

/* Does url answer 2xx? */
static bool http_ok(const char *url)
{
	struct harness_proc proc;
	char *argv[] = { CURL, "-s", "--fail", "-o", "/dev/null", "--max-time", "5", (char *)url,
			 NULL };

	return harness_exit_code(harness_run(&proc, argv, 30)) == 0;
}

/* The instant vector Prometheus answers for a query: [{metric: {...}, value: [t, "v"]}]. */
static struct json_object *prom_query(struct fixture *f, const char *query)
{
	struct harness_proc proc;
	struct json_object *root, *result;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query", f->prometheus_port);
	http_get(url, query, NULL, &proc);
	root = json_tokener_parse(proc.out);
	if (!root || strcmp(json_object_get_string(harness_get(root, "status")), "success"))
		fail_msg("Prometheus answered %s for %s", proc.out, query);
	result = json_object_get(harness_get(root, "data.result"));
	json_object_put(root);
	return result;
}

/* "kind/device/type[/reason]" -> value, as text lines sorted, for comparing two answers. */
struct table {
	char lines[256][96];
	size_t count;
};

static void table_add(struct table *t, const char *kind, long long device, const char *type,
		      const char *extra, unsigned long long value)
{
	/* One line per key: a key seen again (the truth has one entry per buffer) adds up. */
	char key[80];

	snprintf(key, sizeof(key), "%s/%lld/%s/%s", kind, device, type, extra ? extra : "");
	for (size_t i = 0; i < t->count; i++) {
		unsigned long long old;
		size_t n = strlen(key);

		if (!strncmp(t->lines[i], key, n) && t->lines[i][n] == '=') {
			old = strtoull(t->lines[i] + n + 1, NULL, 10);
			snprintf(t->lines[i], sizeof(t->lines[i]), "%s=%llu", key, old + value);
			return;
		}
	}
	assert_true(t->count < 256);
	snprintf(t->lines[t->count++], sizeof(t->lines[0]), "%s=%llu", key, value);
}

static int compare_lines(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Both tables as one string each, sorted; "" when equal, else the first difference. */
static bool tables_equal(struct table *a, struct table *b, char *why, size_t len)
{
	qsort(a->lines, a->count, sizeof(a->lines[0]), compare_lines);
	qsort(b->lines, b->count, sizeof(b->lines[0]), compare_lines);
	for (size_t i = 0; i < a->count || i < b->count; i++) {
		const char *x = i < a->count ? a->lines[i] : "(nothing)";
		const char *y = i < b->count ? b->lines[i] : "(nothing)";

		if (strcmp(x, y)) {
			snprintf(why, len, "Prometheus has %s where the truth has %s", x, y);
			return false;
		}
	}
	return true;
}

/* Prometheus' answer for one family and pid, nonzero values only, as a table. */
static void prom_table(struct fixture *f, const char *family, pid_t pid, const char *extra,
		       struct table *t)
{
	char query[256];
	struct json_object *result;

	snprintf(query, sizeof(query), "%s{pid=\"%d\"} != 0", family, (int)pid);
	result = prom_query(f, query);
	t->count = 0;
	for (size_t i = 0; i < json_object_array_length(result); i++) {
		struct json_object *r = json_object_array_get_idx(result, i);
		struct json_object *m = harness_get(r, "metric");
		const char *value = json_object_get_string(harness_get(r, "value.1"));

		table_add(t, json_object_get_string(harness_get(m, "device_kind")),
			  atoll(json_object_get_string(harness_get(m, "device"))),
			  json_object_get_string(harness_get(m, "type")),
			  extra ? json_object_get_string(harness_get(m, extra)) : NULL,
			  strtoull(value, NULL, 10));
	}
	json_object_put(result);
}

/*
 * The truth's untracked bytes by (device, type, reason), leaked bytes and
 * allocations by (device, type), unmatched frees by (device, type, reason).
 */
static void truth_tables(const char *truth_path, struct table *untracked, struct table *leaked,
			 struct table *allocs, struct table *unmatched)
{
	struct json_object *truth = harness_load_json(truth_path), *list, *devices;

	untracked->count = leaked->count = allocs->count = unmatched->count = 0;
	list = harness_get(truth, "unmatched_frees");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		table_add(unmatched, json_object_get_string(harness_get(e, "device_kind")),
			  harness_get_int(e, "device_id"),
			  json_object_get_string(harness_get(e, "type")),
			  json_object_get_string(harness_get(e, "reason")), 1);
	}
	list = harness_get(truth, "untracked_frees");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		table_add(untracked, json_object_get_string(harness_get(e, "device_kind")),
			  harness_get_int(e, "device_id"),
			  json_object_get_string(harness_get(e, "type")),
			  json_object_get_string(harness_get(e, "reason")),
			  (unsigned long long)harness_get_int(e, "size"));
	}
	list = harness_get(truth, "leaks");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		table_add(leaked, json_object_get_string(harness_get(e, "device_kind")),
			  harness_get_int(e, "device_id"),
			  json_object_get_string(harness_get(e, "type")), NULL,
			  (unsigned long long)harness_get_int(e, "size"));
	}
	devices = harness_get(truth, "devices");
	for (size_t d = 0; d < json_object_array_length(devices); d++) {
		struct json_object *dev = json_object_array_get_idx(devices, d);

		json_object_object_foreach(harness_get(dev, "memory"), type, stats)
		{
			long long n = harness_get_int(stats, "allocs");

			if (n)
				table_add(allocs, json_object_get_string(harness_get(dev, "kind")),
					  harness_get_int(dev, "device_id"), type, NULL,
					  (unsigned long long)n);
		}
	}
	json_object_put(truth);
}

/*
 * Prometheus scrapes every second: ask until its answer for the pid is the
 * truth, or fail after the time a few scrapes take with the last difference.
 */
static void assert_prometheus_has_truth(struct fixture *f, pid_t pid, const char *truth_name)
{
	struct table want_untracked, want_leaked, want_allocs, want_unmatched, got;
	char why[512] = "";
	time_t deadline = time(NULL) + 60;
	bool same = false;

	truth_tables(harness_path(f->dir, truth_name), &want_untracked, &want_leaked,
		     &want_allocs, &want_unmatched);
	while (!same && time(NULL) < deadline) {
		prom_table(f, "devledger_untracked_bytes_total", pid, "reason", &got);
		same = tables_equal(&got, &want_untracked, why, sizeof(why));
		if (same) {
			prom_table(f, "devledger_leaked_bytes_total", pid, NULL, &got);
			same = tables_equal(&got, &want_leaked, why, sizeof(why));
		}
		if (same) {
			prom_table(f, "devledger_allocations_total", pid, NULL, &got);
			same = tables_equal(&got, &want_allocs, why, sizeof(why));
		}
		if (same) {
			prom_table(f, "devledger_unmatched_frees_total", pid, "reason", &got);
			same = tables_equal(&got, &want_unmatched, why, sizeof(why));
		}
		if (!same)
			sleep(1);
	}
	if (!same)
		fail_msg("pid %d (%s): %s", (int)pid, truth_name, why);
}

static void start_prometheus(struct fixture *f)
{
	char config[4096], listen[64], storage[256], ready[96];
	time_t deadline = time(NULL) + 60;
	char *argv[] = { PROMETHEUS,
			 "--config.file",
			 config,
			 "--storage.tsdb.path",
			 storage,
			 "--web.listen-address",
			 listen,
			 "--log.level",
			 "warn",
			 NULL };
	FILE *c;

	snprintf(config, sizeof(config), "%s", harness_path(f->dir, "prometheus.yml"));
	snprintf(storage, sizeof(storage), "%s", harness_path(f->dir, "tsdb"));
	f->prometheus_port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", f->prometheus_port);
	c = fopen(config, "w");
	assert_non_null(c);
	fprintf(c,
		"global:\n"
		"  scrape_interval: 1s\n"
		"  scrape_timeout: 1s\n"
		"scrape_configs:\n"
		"  - job_name: devledger\n"
		"    static_configs:\n"
		"      - targets: ['127.0.0.1:%d']\n",
		f->metrics_port);
	assert_int_equal(fclose(c), 0);
	harness_spawn(&f->prometheus, argv, false, true, 0);
	f->prometheus_running = true;
	/* Ready once its storage is open and it serves queries. */
	snprintf(ready, sizeof(ready), "http://127.0.0.1:%d/-/ready", f->prometheus_port);
	while (!http_ok(ready)) {
		if (time(NULL) > deadline)
			fail_msg("Prometheus not ready after 60 s: %s", f->prometheus.err);
		usleep(200000);
	}
}

/* The file in DIR/processes whose name starts with "PID-"; fails when there is none. */
static const char *process_summary(struct fixture *f, pid_t pid)
{
	static char path[512];
	char prefix[32];
	struct dirent *e;
	DIR *d = opendir(harness_path(f->dir, "processes"));
	bool found = false;

	assert_non_null(d);
	snprintf(prefix, sizeof(prefix), "%d-", (int)pid);
	while (!found && (e = readdir(d))) {
		if (!strncmp(e->d_name, prefix, strlen(prefix))) {
			snprintf(path, sizeof(path), "%s/processes/%s", f->dir, e->d_name);
			found = true;
		}
	}
	closedir(d);
	if (!found)
		fail_msg("no summary of pid %d in %s/processes", (int)pid, f->dir);
	return path;
}

/* What a truth file's untracked frees of one reason add up to, in bytes. */
static unsigned long long truth_bytes(struct fixture *f, const char *truth_name,
				      const char *reason)
{
	struct json_object *truth = harness_load_json(harness_path(f->dir, truth_name));
	struct json_object *list = harness_get(truth, "untracked_frees");
	unsigned long long total = 0;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (!strcmp(json_object_get_string(harness_get(e, "reason")), reason))
			total += (unsigned long long)harness_get_int(e, "size");
	}
	json_object_put(truth);
	return total;
}

/* text with every `from` replaced by `to`, into out. */
static void replace_all(const char *text, const char *from, const char *to, char *out,
			size_t size)
{
	size_t n = 0, from_len = strlen(from);

	while (*text && n + 1 < size) {
		if (!strncmp(text, from, from_len)) {
			n += (size_t)snprintf(out + n, size - n, "%s", to);
			text += from_len;
		} else {
			out[n++] = *text++;
		}
	}
	out[n < size ? n : size - 1] = '\0';
}

/*
 * Every query of the Grafana dashboard is one Prometheus takes (its variables
 * as Grafana would fill them for all hosts), and the fleet's untracked bytes
 * by reason are there.
 */
static void assert_dashboard_queries(struct fixture *f)
{
	const char *path = getenv("DEVLEDGER_DASHBOARD") ? getenv("DEVLEDGER_DASHBOARD")
							 : "contrib/grafana/devledger.json";
	struct json_object *dashboard = harness_load_json(path);
	struct json_object *panels = harness_get(dashboard, "panels");
	size_t queries = 0;

	for (size_t p = 0; p < json_object_array_length(panels); p++) {
		struct json_object *targets =
			harness_get(json_object_array_get_idx(panels, p), "targets");

		for (size_t t = 0; t < json_object_array_length(targets); t++) {
			const char *expr = json_object_get_string(
				harness_get(json_object_array_get_idx(targets, t), "expr"));
			char step[512], query[512];
			struct json_object *result;

			replace_all(expr, "$instance", ".*", step, sizeof(step));
			replace_all(step, "$__rate_interval", "1m", query, sizeof(query));
			result = prom_query(f, query); /* fails the test unless "success" */
			if (p == 0 && !json_object_array_length(result))
				fail_msg("the dashboard's first panel shows nothing: %s", query);
			json_object_put(result);
			queries++;
		}
	}
	assert_true(queries >= 10);
	json_object_put(dashboard);
}

/* promtool passes an empty file too: every family of the interface must be there, with samples. */
static void assert_exposition_has_families(const char *path)
{
	static const char *const families[][2] = {
		{ "devledger_live_bytes", "gauge" },
		{ "devledger_peak_bytes", "gauge" },
		{ "devledger_allocations_total", "counter" },
		{ "devledger_frees_total", "counter" },
		{ "devledger_untracked_bytes_total", "counter" },
		{ "devledger_leaked_bytes_total", "counter" },
		{ "devledger_unmatched_frees_total", "counter" },
		{ "devledger_events_total", "counter" },
		{ "devledger_lost_events_total", "counter" },
		{ "devledger_processes", "gauge" },
		{ "devledger_build_info", "gauge" },
	};
	char *text = NULL, line[160];
	size_t len = 0;
	FILE *in = fopen(path, "r");

	assert_non_null(in);
	assert_true(getdelim(&text, &len, '\0', in) > 0);
	fclose(in);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(line, sizeof(line), "\n# TYPE %s %s\n%s", families[i][0], families[i][1],
			 families[i][0]);
		if (!strstr(text, line))
			fail_msg("the exposition has no %s %s with a sample", families[i][1],
				 families[i][0]);
		snprintf(line, sizeof(line), "# HELP %s ", families[i][0]);
		if (!strstr(text, line))
			fail_msg("the exposition has no HELP for %s", families[i][0]);
	}
	free(text);
}

static void test_prometheus_sees_the_truth(void **state)
{
	struct fixture *f = *state;
	static const char *const scenarios[][2] = {
		{ "leak", "leak-truth.json" },	 { "remaining", "remaining-truth.json" },
		{ "mesh", "mesh-truth.json" },	 { "dataflow", "dataflow-truth.json" },
		{ "subdevice", "subdevice-truth.json" }, { "double-free", "double-free-truth.json" },
	};
	const size_t n = sizeof(scenarios) / sizeof(scenarios[0]);
	pid_t pids[sizeof(scenarios) / sizeof(scenarios[0])];
	struct harness_proc check, fetch;
	char url[128], query[512], *promtool[] = { "/bin/sh", "-c", query, NULL };
	struct json_object *result;
	unsigned long long total;

	start_serve(f, "600");
	start_prometheus(f);
	for (size_t i = 0; i < n; i++)
		pids[i] = run_workload(f, scenarios[i][0], NULL, scenarios[i][1]);

	for (size_t i = 0; i < n; i++)
		assert_prometheus_has_truth(f, pids[i], scenarios[i][1]);

	/* Across processes, as a fleet query would: untracked bytes of one reason, summed. */
	snprintf(query, sizeof(query),
		 "sum by (reason) (devledger_untracked_bytes_total{pid=~\"%d|%d\","
		 "reason=\"device_closed\"})",
		 (int)pids[0], (int)pids[1]);
	result = prom_query(f, query);
	assert_int_equal(json_object_array_length(result), 1);
	total = truth_bytes(f, scenarios[0][1], "device_closed") +
		truth_bytes(f, scenarios[1][1], "device_closed");
	assert_true(total > 0);
	assert_int_equal(strtoull(json_object_get_string(harness_get(
					  json_object_array_get_idx(result, 0), "value.1")),
				  NULL, 10),
			 total);
	json_object_put(result);

	assert_dashboard_queries(f);

	/* The exposition as promtool reads it. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", f->metrics_port);
	http_get(url, NULL, harness_path(f->dir, "metrics.txt"), &fetch);
	snprintf(query, sizeof(query), "%s check metrics < %s", PROMTOOL,
		 harness_path(f->dir, "metrics.txt"));
	if (harness_exit_code(harness_run(&check, promtool, 60)) != 0)
		fail_msg("promtool check metrics: %s", check.err);
	assert_exposition_has_families(harness_path(f->dir, "metrics.txt"));

	kill(f->prometheus.pid, SIGTERM);
	harness_wait(&f->prometheus, 60);
	f->prometheus_running = false;
	stop_serve(f);

	/* Each process's summary, written whole when it exited, is its truth. */
	for (size_t i = 0; i < n; i++) {
		struct json_object *summary = harness_load_json(process_summary(f, pids[i]));

		harness_assert_truth(summary, harness_path(f->dir, scenarios[i][1]));
		assert_int_equal(json_object_array_length(harness_get(summary, "processes")), 1);
		json_object_put(summary);
	}
}

/* devledger's resident memory in KiB and its open descriptors, from /proc. */
static void usage_of(pid_t pid, long *rss_kib, long *fds)
{
	char path[64], line[256];
	struct dirent *e;
	FILE *status;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	status = fopen(path, "r");
	assert_non_null(status);
	*rss_kib = -1;
	while (fgets(line, sizeof(line), status))
		if (!strncmp(line, "VmRSS:", 6))
			*rss_kib = atol(line + 6);
	fclose(status);
	assert_true(*rss_kib > 0);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	*fds = 0;
	while ((e = readdir(d)))
		*fds += e->d_name[0] != '.';
	closedir(d);
}

/*
 * Processes that leak thousands of allocations each, one after another for a
 * bounded time: without forgetting them devledger would keep every leak (tens
 * of bytes each, megabytes in all). Memory and descriptors must stay flat
 * after a warm-up, and every process's summary must be written with its leaks.
 */
#define SOAK_SECONDS	 15
#define SOAK_WARMUP	 20
#define SOAK_FLOOD	 "4000"
#define SOAK_MARGIN_KIB	 2048
#define SOAK_MAX_PROCESS 2000

static void test_soak_memory_flat(void **state)
{
	struct fixture *f = *state;
	static pid_t pids[SOAK_MAX_PROCESS];
	long rss_warm = 0, fds_warm = 0, rss, fds, rss_max = 0;
	size_t count = 0;
	time_t end;
	char url[128];

	start_serve(f, "1");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", f->metrics_port);
	end = time(NULL) + SOAK_SECONDS;
	while (count < SOAK_MAX_PROCESS && (count < SOAK_WARMUP * 2 || time(NULL) < end)) {
		pids[count++] = run_workload(f, "flood", SOAK_FLOOD, NULL);
		if (count % 10 == 0) {
			struct harness_proc scrape;

			/* The HTTP side runs through the soak too. */
			http_get(url, NULL, "/dev/null", &scrape);
			usleep(200000); /* the loop hands out what exited */
			usage_of(f->devledger.pid, &rss, &fds);
			if (count == SOAK_WARMUP) {
				rss_warm = rss;
				fds_warm = fds;
			} else if (count > SOAK_WARMUP) {
				rss_max = rss > rss_max ? rss : rss_max;
				assert_int_equal(fds, fds_warm);
			}
		}
	}
	print_message("soak: %zu processes of %s leaks each; devledger RSS %ld KiB after %d, at "
		      "most %ld KiB after; %ld descriptors\n",
		      count, SOAK_FLOOD, rss_warm, SOAK_WARMUP, rss_max, fds_warm);
	if (rss_max > rss_warm + SOAK_MARGIN_KIB)
		fail_msg("devledger's memory grew from %ld KiB to %ld KiB over %zu processes",
			 rss_warm, rss_max, count);
	stop_serve(f);

	for (size_t i = 0; i < count; i++) {
		struct json_object *summary = harness_load_json(process_summary(f, pids[i]));

		/* flood N: N reports of one buffer at new addresses, and the buffer itself. */
		assert_int_equal(harness_get_int(summary, "totals.leaks"), atoi(SOAK_FLOOD) + 1);
		assert_int_equal(harness_get_int(summary, "processes.0.pid"), pids[i]);
		json_object_put(summary);
	}
}

/*
 * The systemd unit's capabilities are enough: devledger serve started with
 * only those (setpriv, as systemd would bound them, no new privileges)
 * attaches and sees a workload exactly.
 */
static void test_unit_capabilities_suffice(void **state)
{
	struct fixture *f = *state;
	const char *unit = getenv("DEVLEDGER_UNIT") ? getenv("DEVLEDGER_UNIT")
						   : "contrib/devledger.service.in";
	char line[512], bounding[512] = "-all";
	char *wrapper[] = { "/usr/bin/setpriv", "--bounding-set", bounding, "--no-new-privs", NULL };
	struct json_object *summary;
	FILE *in = fopen(unit, "r");
	pid_t pid;

	if (!in)
		fail_msg("%s: %s (run from the source tree, or set DEVLEDGER_UNIT)", unit,
			 strerror(errno));
	while (fgets(line, sizeof(line), in)) {
		if (strncmp(line, "CapabilityBoundingSet=", 22))
			continue;
		/* CAP_BPF CAP_PERFMON ... -> -all,+bpf,+perfmon,... */
		for (char *cap = strtok(line + 22, " \n"); cap; cap = strtok(NULL, " \n")) {
			size_t n = strlen(bounding);

			assert_true(!strncmp(cap, "CAP_", 4));
			snprintf(bounding + n, sizeof(bounding) - n, ",+%s", cap + 4);
			for (char *c = bounding + n; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
		}
	}
	fclose(in);
	assert_non_null(strstr(bounding, "+bpf"));

	start_serve_in(f, "600", wrapper);
	pid = run_workload(f, "remaining", NULL, "truth.json");
	stop_serve(f);
	summary = harness_load_json(process_summary(f, pid));
	harness_assert_exact(summary);
	harness_assert_truth(summary, harness_path(f->dir, "truth.json"));
	json_object_put(summary);
}

/* Bad serve options and a taken port: one line, the right exit status, nothing traced. */
static void test_serve_errors(void **state)
{
	struct fixture *f = *state;
	struct harness_proc proc;
	char listen[32];
	char *taken[] = { (char *)harness_devledger(), "serve", "-l", (char *)harness_standin_lib(),
			  "--metrics", listen, NULL };
	char *bad[] = { (char *)harness_devledger(), "serve", "--metrics", "localhost:1", NULL };
	char *nodir[] = { (char *)harness_devledger(), "serve", "-l", (char *)harness_standin_lib(),
			  "--per-process-dir", "/nonexistent/devledger", NULL };

	assert_int_equal(harness_exit_code(harness_run(&proc, bad, 30)), 2);
	assert_non_null(strstr(proc.err, "--metrics takes ADDR:PORT"));
	assert_int_equal(harness_exit_code(harness_run(&proc, nodir, 30)), 1);
	assert_non_null(strstr(proc.err, "--per-process-dir /nonexistent/devledger: folder"));

	start_serve(f, "10");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", f->metrics_port);
	assert_int_equal(harness_exit_code(harness_run(&proc, taken, 60)), 1);
	assert_non_null(strstr(proc.err, "cannot listen there"));
	assert_null(strstr(proc.err, "devledger: tracing"));
	stop_serve(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prometheus_sees_the_truth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_soak_memory_flat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unit_capabilities_suffice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
