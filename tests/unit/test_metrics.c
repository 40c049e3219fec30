/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics module: a real ledger fed known records, observed by the
 * metrics; the exposition is parsed back line by line and every value
 * checked against what the records make it, before and after a process's
 * series are dropped into its command's totals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "metrics.h"

#define SECOND 1000000000ull

struct fixture {
	struct ledger *ledger;
	struct metrics *metrics;
	char *text;
	int names_asked;
};

static void name_pid(void *ctx, uint32_t pid, char comm[DL_COMM_LEN])
{
	struct fixture *f = ctx;

	f->names_asked++;
	if (pid == 66)
		snprintf(comm, DL_COMM_LEN, "we\"ird\\na\xffme");
	else
		snprintf(comm, DL_COMM_LEN, "worker%u", pid % 2);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct metrics_opts opts = { .retain_s = 10, .name = name_pid };

	if (!f)
		return -1;
	opts.name_ctx = f;
	f->ledger = ledger__new(NULL);
	f->metrics = metrics__new(&opts);
	if (!f->ledger || !f->metrics || ledger__observe(f->ledger, metrics__observe, f->metrics))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ledger__free(f->ledger);
	metrics__free(f->metrics);
	free(f->text);
	free(f);
	return 0;
}

static void send(struct fixture *f, uint32_t kind, uint32_t pid, int32_t device, uint8_t type,
		 uint64_t address, uint64_t size, uint64_t ts)
{
	struct dl_event ev = { .kind = kind,
			       .pid = pid,
			       .tid = pid,
			       .ts_ns = ts,
			       .address = address,
			       .size = size,
			       .device_id = device,
			       .device_kind = DL_DEVICE_CHIP,
			       .mem_type = type };

	assert_int_equal(ledger__apply(f->ledger, &ev, sizeof(ev)), 0);
}

static void process_exit(struct fixture *f, uint32_t pid, uint64_t ts)
{
	struct dl_exit_event ev = { .kind = DL_EV_PROCESS_EXIT, .pid = pid, .ts_ns = ts };

	assert_int_equal(ledger__apply(f->ledger, &ev, sizeof(ev)), 0);
}

static void render(struct fixture *f)
{
	struct metrics_session session = { .events = 42, .lost_events = 3 };
	size_t len;

	free(f->text);
	assert_int_equal(metrics__render(f->metrics, &session, &f->text, &len), 0);
	assert_int_equal(strlen(f->text), len);
}

/* The value of the line that starts with exactly `series` and a space; -1 when there is none. */
static long long value_of(const struct fixture *f, const char *series)
{
	size_t n = strlen(series);

	for (const char *line = f->text; line && *line; line = strchr(line, '\n') + 1) {
		if (!strncmp(line, series, n) && line[n] == ' ')
			return strtoll(line + n + 1, NULL, 10);
		if (!strchr(line, '\n'))
			break;
	}
	return -1;
}

/* Sample lines that start with prefix (a family's name and some of its labels). */
static int samples_of(const struct fixture *f, const char *prefix)
{
	size_t n = strlen(prefix);
	int count = 0;

	for (const char *line = f->text; *line; line = strchr(line, '\n') + 1) {
		if (!strncmp(line, prefix, n))
			count++;
		if (!strchr(line, '\n'))
			break;
	}
	return count;
}

#define P10(name, dev, type) name "{pid=\"10\",comm=\"worker0\",device=\"" dev "\",device_kind=\"chip\",type=\"" type "\""
#define CMD0(name, dev, type) name "{comm=\"worker0\",device=\"" dev "\",device_kind=\"chip\",type=\"" type "\""

static void test_series_follow_the_ledger(void **state)
{
	struct fixture *f = *state;

	send(f, DL_EV_ALLOC, 10, 0, DL_MEM_DRAM, 0x1000, 4096, 1);
	send(f, DL_EV_ALLOC, 10, 0, DL_MEM_DRAM, 0x3000, 1024, 2);
	send(f, DL_EV_ALLOC, 10, 1, DL_MEM_L1, 0x1000, 64, 3);
	send(f, DL_EV_FREE, 10, 0, DL_MEM_DRAM, 0x1000, 0, 4);
	send(f, DL_EV_FREE, 10, 0, DL_MEM_DRAM, 0x9000, 0, 5); /* matches nothing */
	render(f);
	assert_int_equal(value_of(f, P10("devledger_live_bytes", "0", "DRAM") "}"), 1024);
	assert_int_equal(value_of(f, P10("devledger_peak_bytes", "0", "DRAM") "}"), 5120);
	assert_int_equal(value_of(f, P10("devledger_live_bytes", "1", "L1") "}"), 64);
	assert_int_equal(value_of(f, P10("devledger_allocations_total", "0", "DRAM") "}"), 2);
	assert_int_equal(value_of(f, P10("devledger_frees_total", "0", "DRAM") ",fate=\"freed\"}"),
			 1);
	assert_int_equal(value_of(f, P10("devledger_unmatched_frees_total", "0", "DRAM")
				  ",reason=\"unknown_address\"}"),
			 1);
	assert_int_equal(value_of(f, "devledger_processes{state=\"running\"}"), 1);
	assert_int_equal(value_of(f, "devledger_events_total"), 42);
	assert_int_equal(value_of(f, "devledger_lost_events_total"), 3);
	assert_non_null(strstr(f->text, "# TYPE devledger_live_bytes gauge\n"));
	assert_non_null(strstr(f->text, "# TYPE devledger_untracked_bytes_total counter\n"));
	assert_non_null(strstr(f->text, "devledger_build_info{version=\"" DEVLEDGER_VERSION "\"} 1\n"));
	/* Asked once, on first sight. */
	assert_int_equal(f->names_asked, 1);

	/* The close of chip 1 ends its L1 buffer untracked; the exit leaks the DRAM one. */
	send(f, DL_EV_DEVICE_CLOSE, 10, 1, 0, 0, 0, 6);
	send(f, DL_EV_DEVICE_CLOSED, 10, -1, 0, 0, 0, 7);
	process_exit(f, 10, 8 * SECOND);
	render(f);
	assert_int_equal(value_of(f, P10("devledger_untracked_bytes_total", "1", "L1")
				  ",reason=\"device_closed\"}"),
			 64);
	assert_int_equal(value_of(f, P10("devledger_frees_total", "1", "L1")
				  ",fate=\"untracked\"}"),
			 1);
	assert_int_equal(value_of(f, P10("devledger_leaked_bytes_total", "0", "DRAM") "}"), 1024);
	assert_int_equal(value_of(f, P10("devledger_frees_total", "0", "DRAM") ",fate=\"leaked\"}"),
			 1);
	assert_int_equal(value_of(f, P10("devledger_live_bytes", "0", "DRAM") "}"), 0);
	/* Only reasons that counted: no device_closed line for DRAM. */
	assert_int_equal(value_of(f, P10("devledger_untracked_bytes_total", "0", "DRAM")
				  ",reason=\"device_closed\"}"),
			 -1);
	assert_int_equal(value_of(f, "devledger_processes{state=\"exited\"}"), 1);
	assert_int_equal(value_of(f, "devledger_process_exits_total"), 1);
}

/* After --retain, a process's series go and its command's totals carry its counts on. */
static void test_retain_then_command_totals(void **state)
{
	struct fixture *f = *state;

	send(f, DL_EV_ALLOC, 10, 0, DL_MEM_DRAM, 0x1000, 100, 1);
	send(f, DL_EV_DEVICE_CLOSE, 10, 0, 0, 0, 0, 2);
	send(f, DL_EV_DEVICE_CLOSED, 10, -1, 0, 0, 0, 3);
	process_exit(f, 10, 1 * SECOND);
	send(f, DL_EV_ALLOC, 12, 0, DL_MEM_DRAM, 0x1000, 200, 4); /* worker0 too, still running */
	assert_int_equal(metrics__expire(f->metrics, 10 * SECOND), 0); /* 9 s: kept */
	render(f);
	assert_int_equal(value_of(f, P10("devledger_untracked_bytes_total", "0", "DRAM")
				  ",reason=\"device_closed\"}"),
			 100);
	assert_int_equal(value_of(f, CMD0("devledger_untracked_bytes_total", "0", "DRAM")
				  ",reason=\"device_closed\"}"),
			 -1);

	assert_int_equal(metrics__expire(f->metrics, 11 * SECOND), 1);
	render(f);
	assert_int_equal(samples_of(f, P10("devledger_live_bytes", "0", "DRAM")), 0);
	assert_int_equal(value_of(f, P10("devledger_untracked_bytes_total", "0", "DRAM")
				  ",reason=\"device_closed\"}"),
			 -1);
	assert_int_equal(value_of(f, CMD0("devledger_untracked_bytes_total", "0", "DRAM")
				  ",reason=\"device_closed\"}"),
			 100);
	assert_int_equal(value_of(f, CMD0("devledger_allocations_total", "0", "DRAM") "}"), 1);
	assert_int_equal(value_of(f, "devledger_processes{state=\"exited\"}"), 0);
	/* The running one is untouched. */
	assert_int_equal(value_of(f,
				  "devledger_live_bytes{pid=\"12\",comm=\"worker0\",device=\"0\","
				  "device_kind=\"chip\",type=\"DRAM\"}"),
			 200);

	/* A second worker0 adds to the same totals when its series go. */
	send(f, DL_EV_ALLOC, 14, 0, DL_MEM_DRAM, 0x1000, 50, 5);
	process_exit(f, 14, 20 * SECOND);
	assert_int_equal(metrics__expire(f->metrics, 30 * SECOND), 1);
	render(f);
	assert_int_equal(value_of(f, CMD0("devledger_allocations_total", "0", "DRAM") "}"), 2);
	assert_int_equal(value_of(f, CMD0("devledger_leaked_bytes_total", "0", "DRAM") "}"), 50);
	assert_int_equal(value_of(f, CMD0("devledger_frees_total", "0", "DRAM")
				  ",fate=\"untracked\"}"),
			 1);
	assert_int_equal(value_of(f, CMD0("devledger_frees_total", "0", "DRAM") ",fate=\"leaked\"}"),
			 1);
}

/* A pid that comes back while its old series are kept: the old ones go to the totals first. */
static void test_pid_reused_within_retain(void **state)
{
	struct fixture *f = *state;

	send(f, DL_EV_ALLOC, 10, 0, DL_MEM_DRAM, 0x1000, 100, 1);
	process_exit(f, 10, 2);
	send(f, DL_EV_ALLOC, 10, 0, DL_MEM_DRAM, 0x1000, 7, 3);
	render(f);
	/* One series per label set: the new process's. */
	assert_int_equal(samples_of(f, P10("devledger_live_bytes", "0", "DRAM")), 1);
	assert_int_equal(value_of(f, P10("devledger_live_bytes", "0", "DRAM") "}"), 7);
	assert_int_equal(value_of(f, P10("devledger_allocations_total", "0", "DRAM") "}"), 1);
	assert_int_equal(value_of(f, CMD0("devledger_leaked_bytes_total", "0", "DRAM") "}"), 100);
	assert_int_equal(value_of(f, "devledger_processes{state=\"running\"}"), 1);
	assert_int_equal(value_of(f, "devledger_processes{state=\"exited\"}"), 0);
}

/* Many processes and devices (the index grows and is rebuilt): each series keeps its own. */
static void test_many_series(void **state)
{
	struct fixture *f = *state;
	char name[160];

	for (uint32_t pid = 100; pid < 400; pid++)
		for (int32_t dev = 0; dev < 8; dev++)
			send(f, DL_EV_ALLOC, pid, dev, DL_MEM_L1, 0x1000, pid * 8 + dev, pid);
	for (uint32_t pid = 100; pid < 400; pid += 2)
		process_exit(f, pid, SECOND);
	assert_int_equal(metrics__expire(f->metrics, 20 * SECOND), 150);
	for (uint32_t pid = 101; pid < 400; pid += 2)
		send(f, DL_EV_ALLOC, pid, 3, DL_MEM_L1, 0x2000, 1, pid);
	assert_int_equal(metrics__series(f->metrics), 150 * 8 + 8);
	render(f);
	for (uint32_t pid = 101; pid < 400; pid += 2) {
		snprintf(name, sizeof(name),
			 "devledger_live_bytes{pid=\"%u\",comm=\"worker1\",device=\"3\","
			 "device_kind=\"chip\",type=\"L1\"}",
			 pid);
		assert_int_equal(value_of(f, name), pid * 8 + 3 + 1);
	}
	assert_int_equal(value_of(f, CMD0("devledger_leaked_bytes_total", "5", "L1") "}"),
			 150 * 5 + 8 * (100 + 398) / 2 * 150);
}

/* A comm is any bytes: the label value stays one valid, escaped string. */
static void test_comm_escaped(void **state)
{
	struct fixture *f = *state;

	send(f, DL_EV_ALLOC, 66, 0, DL_MEM_DRAM, 0x1000, 1, 1);
	render(f);
	assert_int_equal(value_of(f,
				  "devledger_live_bytes{pid=\"66\",comm=\"we\\\"ird\\\\na?me\","
				  "device=\"0\",device_kind=\"chip\",type=\"DRAM\"}"),
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_series_follow_the_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_then_command_totals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_reused_within_retain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comm_escaped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
