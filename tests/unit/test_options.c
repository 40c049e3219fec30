/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "options.h"

static struct options opts;
static char error[512];

/* Parse a NULL-terminated list of words after "devledger". */
static int parse(const char *first, ...)
{
	static char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = "devledger";
	va_start(ap, first);
	for (const char *word = first; word; word = va_arg(ap, const char *))
		argv[argc++] = (char *)word;
	va_end(ap);
	argv[argc] = NULL;
	return options__parse(argc, argv, &opts, error, sizeof(error));
}

static void expect_usage_error(int result, const char *needle)
{
	assert_int_equal(result, -EINVAL);
	if (!strstr(error, needle))
		fail_msg("error \"%s\" does not say \"%s\"", error, needle);
	assert_null(strchr(error, '\n'));
}

static void test_command_mode(void **state)
{
	(void)state;
	assert_int_equal(parse("trace", "-o", "out.json", "--fail-on-leak", "--", "./test", "-p",
			       "5", "--", "-a", NULL),
			 0);
	assert_int_equal(opts.mode, MODE_COMMAND);
	assert_string_equal(opts.output, "out.json");
	assert_true(opts.fail_on_leak);
	/* Everything after the first -- belongs to the command, options included. */
	assert_string_equal(opts.command[0], "./test");
	assert_string_equal(opts.command[1], "-p");
	assert_string_equal(opts.command[2], "5");
	assert_string_equal(opts.command[3], "--");
	assert_string_equal(opts.command[4], "-a");
	assert_null(opts.command[5]);
	assert_int_equal(opts.pid_count, 0);
}

static void test_pid_mode(void **state)
{
	(void)state;
	assert_int_equal(parse("trace", "-p", "42", "--pid", "4242", "-l", "/x/libtt_metal.so",
			       "-q", "-v", "--entry-probes", "--perf-uprobes", NULL),
			 0);
	assert_true(opts.entry_probes);
	assert_true(opts.perf_uprobes);
	assert_int_equal(opts.mode, MODE_PIDS);
	assert_int_equal(opts.pid_count, 2);
	assert_int_equal(opts.pids[0], 42);
	assert_int_equal(opts.pids[1], 4242);
	assert_string_equal(opts.library, "/x/libtt_metal.so");
	assert_true(opts.quiet);
	assert_true(opts.verbose);
	assert_null(opts.command);
}

static void test_system_mode(void **state)
{
	(void)state;
	assert_int_equal(parse("trace", "-a", "-d", "1.5", "-i", "5", "--ring-size", "64M", NULL),
			 0);
	assert_int_equal(opts.mode, MODE_SYSTEM);
	assert_true(opts.duration_s == 1.5);
	assert_true(opts.interval_s == 5.0);
	assert_int_equal(opts.ring_bytes, 64 << 20);
	assert_int_equal(parse("trace", "--all", "--ring-size=4096", "--duration=2", NULL), 0);
	assert_int_equal(opts.ring_bytes, 4096);
	assert_true(opts.duration_s == 2.0);
	assert_int_equal(parse("trace", "-a", "--ring-size", "1g", NULL), 0);
	assert_int_equal(opts.ring_bytes, 1 << 30);
	assert_int_equal(parse("trace", "-a", "--max-live", "64K", NULL), 0);
	assert_int_equal(opts.max_live, 65536);
	assert_int_equal(parse("trace", "-a", "--stack-bytes", "16K", "--stack-frames", "3", NULL),
			 0);
	assert_int_equal(opts.stack_bytes, 16384);
	assert_int_equal(opts.stack_frames, 3);
	assert_int_equal(parse("trace", "-a", "--no-stacks", NULL), 0);
	assert_int_equal(opts.stack_bytes, 0);
	assert_int_equal(parse("trace", "-a", NULL), 0);
	assert_int_equal(opts.stack_bytes, OPTIONS_DEFAULT_STACK_BYTES);
	assert_int_equal(opts.stack_frames, OPTIONS_DEFAULT_STACK_FRAMES);
}

static void test_stack_options_rejected(void **state)
{
	(void)state;
	expect_usage_error(parse("trace", "-a", "--stack-bytes", "2K", NULL), "from 4K to 64K");
	expect_usage_error(parse("trace", "-a", "--stack-bytes", "128K", NULL), "from 4K to 64K");
	expect_usage_error(parse("trace", "-a", "--stack-bytes", "12344", NULL), "multiple of 4K");
	expect_usage_error(parse("trace", "-a", "--stack-bytes", "", NULL), "from 4K to 64K");
	expect_usage_error(parse("trace", "-a", "--stack-frames", "0", NULL), "from 1 to 128");
	expect_usage_error(parse("trace", "-a", "--stack-frames", "200", NULL), "from 1 to 128");
	expect_usage_error(parse("trace", "-a", "--no-stacks", "--stack-bytes", "4K", NULL),
			   "contradict");
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse("trace", "-a", NULL), 0);
	assert_null(opts.output);
	assert_null(opts.library);
	assert_true(opts.duration_s == 0);
	assert_true(opts.interval_s == 0);
	assert_int_equal(opts.ring_bytes, 0);
	assert_false(opts.fail_on_leak || opts.quiet || opts.verbose || opts.entry_probes ||
		     opts.perf_uprobes);
}

static void test_serve(void **state)
{
	(void)state;
	assert_int_equal(parse("serve", NULL), 0);
	assert_int_equal(opts.subcommand, SUBCOMMAND_SERVE);
	assert_int_equal(opts.mode, MODE_SYSTEM);
	assert_string_equal(opts.metrics_host, "127.0.0.1");
	assert_int_equal(opts.metrics_port, 9477);
	assert_true(opts.retain_s == 300);
	assert_null(opts.per_process_dir);

	assert_int_equal(parse("serve", "--metrics", "0.0.0.0:9100", "--retain", "2.5",
			       "--per-process-dir", "/var/lib/devledger", "-l", "/x/libtt_metal.so",
			       "-d", "10", "--ring-size", "64M", "-q", NULL),
			 0);
	assert_string_equal(opts.metrics_host, "0.0.0.0");
	assert_int_equal(opts.metrics_port, 9100);
	assert_true(opts.retain_s == 2.5);
	assert_string_equal(opts.per_process_dir, "/var/lib/devledger");
	assert_string_equal(opts.library, "/x/libtt_metal.so");
	assert_true(opts.duration_s == 10);
	assert_int_equal(opts.ring_bytes, 64 << 20);
	assert_true(opts.quiet);

	assert_int_equal(parse("serve", "--metrics=[::1]:65535", NULL), 0);
	assert_string_equal(opts.metrics_host, "::1");
	assert_int_equal(opts.metrics_port, 65535);
}

static void test_serve_errors(void **state)
{
	(void)state;
	expect_usage_error(parse("serve", "--metrics", "localhost:9477", NULL), "numeric address");
	expect_usage_error(parse("serve", "--metrics", "127.0.0.1", NULL), "'127.0.0.1'");
	expect_usage_error(parse("serve", "--metrics", "127.0.0.1:0", NULL), "ADDR:PORT");
	expect_usage_error(parse("serve", "--metrics", "127.0.0.1:65536", NULL), "ADDR:PORT");
	expect_usage_error(parse("serve", "--metrics", "::1:9477", NULL), "ADDR:PORT");
	expect_usage_error(parse("serve", "--metrics", "[::1]:", NULL), "ADDR:PORT");
	expect_usage_error(parse("serve", "--retain", "0", NULL), "greater than 0");
	expect_usage_error(parse("serve", "--retain", "5s", NULL), "'5s'");
	expect_usage_error(parse("serve", "--per-process-dir", "", NULL), "takes a folder");
	expect_usage_error(parse("serve", "-p", "1", NULL), "unknown option '-p'");
	expect_usage_error(parse("serve", "extra", NULL), "unexpected argument 'extra'");
	expect_usage_error(parse("serve", "--metrics", NULL), "--metrics needs a value");
	assert_non_null(strstr(error, "devledger serve --help"));
}

static void test_mode_errors(void **state)
{
	(void)state;
	expect_usage_error(parse("trace", NULL), "exactly one of");
	expect_usage_error(parse("trace", "-a", "-p", "1", NULL), "exactly one of");
	expect_usage_error(parse("trace", "-p", "1", "--", "ls", NULL), "exactly one of");
	expect_usage_error(parse("trace", "-a", "--", NULL), "no command after --");
	expect_usage_error(parse("trace", "ls", NULL), "put the command to launch after --");
	expect_usage_error(parse(NULL), "no command");
	expect_usage_error(parse("record", NULL), "unknown command 'record'");
}

static void test_number_errors(void **state)
{
	(void)state;
	expect_usage_error(parse("trace", "-p", "12x", NULL), "'12x'");
	expect_usage_error(parse("trace", "-p", "", NULL), "-p takes a process id");
	expect_usage_error(parse("trace", "-p", "0", NULL), "-p takes a process id");
	expect_usage_error(parse("trace", "-p", "-5", NULL), "-p takes a process id");
	expect_usage_error(parse("trace", "-p", "99999999999", NULL), "-p takes a process id");
	expect_usage_error(parse("trace", "-a", "-d", "5x", NULL), "'5x'");
	expect_usage_error(parse("trace", "-a", "-d", "0", NULL), "greater than 0");
	expect_usage_error(parse("trace", "-a", "-d", "-1", NULL), "greater than 0");
	expect_usage_error(parse("trace", "-a", "-d", "nan", NULL), "greater than 0");
	expect_usage_error(parse("trace", "-a", "-i", "", NULL), "-i takes");
	expect_usage_error(parse("trace", "-a", "--ring-size", "3000", NULL), "power of two");
	expect_usage_error(parse("trace", "-a", "--max-live", "0", NULL), "from 1 to 1G");
	expect_usage_error(parse("trace", "-a", "--max-live", "2G", NULL), "from 1 to 1G");
	expect_usage_error(parse("trace", "-a", "--max-live", "12x", NULL), "from 1 to 1G");
	expect_usage_error(parse("trace", "-a", "--ring-size", "2048", NULL), "power of two");
	expect_usage_error(parse("trace", "-a", "--ring-size", "4G", NULL), "to 2G");
	expect_usage_error(parse("trace", "-a", "--ring-size", "16X", NULL), "power of two");
	expect_usage_error(parse("trace", "-a", "--ring-size", "-4096", NULL), "power of two");
	expect_usage_error(parse("trace", "-a", "--ring-size", "", NULL), "power of two");
}

static void test_option_errors(void **state)
{
	(void)state;
	expect_usage_error(parse("trace", "--no-such-option", "-a", NULL), "--no-such-option");
	expect_usage_error(parse("trace", "-a", "-o", NULL), "-o");
	/* Every usage error points at the help. */
	assert_non_null(strstr(error, "devledger trace --help"));
}

static void test_help_and_version(void **state)
{
	(void)state;
	/* 1: printed, exit 0 (stdout is the test's own; what they print is checked by hand). */
	assert_int_equal(parse("--version", NULL), 1);
	assert_int_equal(parse("--help", NULL), 1);
	assert_int_equal(parse("trace", "--help", NULL), 1);
}

static void test_check(void **state)
{
	(void)state;
	assert_int_equal(parse("check", "-l", "/x/libtt_metal.so", "--json", NULL), 0);
	assert_int_equal(opts.subcommand, SUBCOMMAND_CHECK);
	assert_string_equal(opts.library, "/x/libtt_metal.so");
	assert_true(opts.json);
	assert_int_equal(parse("check", "-p", "77", NULL), 0);
	assert_int_equal(opts.pid_count, 1);
	assert_int_equal(opts.pids[0], 77);
	assert_false(opts.json);
	assert_int_equal(parse("check", NULL), 0);
	assert_null(opts.library);
	expect_usage_error(parse("check", "-l", "a", "-p", "1", NULL), "not both");
	expect_usage_error(parse("check", "-p", "1", "-p", "2", NULL), "one -p");
	expect_usage_error(parse("check", "extra", NULL), "unexpected argument 'extra'");
	expect_usage_error(parse("check", "-l", NULL), "-l needs a value");
	assert_non_null(strstr(error, "devledger check --help"));
	assert_int_equal(parse("check", "--offset", "Buffer.size_=24", "--offset=Device.id_=0x8",
			       "--profile", "era-c", NULL),
			 0);
	assert_int_equal(opts.offset_count, 2);
	assert_string_equal(opts.offset_names[0], "Buffer.size_");
	assert_int_equal(opts.offset_values[0], 24);
	assert_string_equal(opts.offset_names[1], "Device.id_");
	assert_int_equal(opts.offset_values[1], 8);
	assert_string_equal(opts.profile, "era-c");
	expect_usage_error(parse("check", "--offset", "Buffer.size_", NULL), "FIELD=N");
	expect_usage_error(parse("check", "--offset", "=24", NULL), "FIELD=N");
	expect_usage_error(parse("check", "--offset", "Buffer.size_=-1", NULL), "byte offset");
	expect_usage_error(parse("check", "--offset", "Buffer.size_=99999", NULL), "byte offset");
	assert_int_equal(parse("check", "--help", NULL), 1);
	/* trace is the default subcommand */
	assert_int_equal(parse("trace", "-a", NULL), 0);
	assert_int_equal(opts.subcommand, SUBCOMMAND_TRACE);
}

static void test_timeline_option(void **state)
{
	(void)state;
	assert_int_equal(parse("trace", "--timeline", "t.json", "-a", NULL), 0);
	assert_string_equal(opts.timeline, "t.json");
	expect_usage_error(parse("trace", "--timeline", "", "-a", NULL), "--timeline takes a file");
	expect_usage_error(parse("trace", "-a", "--timeline", NULL), "--timeline needs a value");
}

static void test_mark(void **state)
{
	(void)state;
	assert_int_equal(parse("mark", "4242", "after warm-up", NULL), 0);
	assert_int_equal(opts.subcommand, SUBCOMMAND_MARK);
	assert_int_equal(opts.mark_pid, 4242);
	assert_string_equal(opts.mark_label, "after warm-up");
	assert_int_equal(parse("mark", "17", NULL), 0);
	assert_null(opts.mark_label);
	expect_usage_error(parse("mark", NULL), "mark needs the PID");
	expect_usage_error(parse("mark", "x1", NULL), "not 'x1'");
	expect_usage_error(parse("mark", "1", "a", "b", NULL), "unexpected argument 'b'");
	expect_usage_error(
		parse("mark", "1",
		      "a label far too long to be kept whole in a snapshot of the timeline", NULL),
		"at most 63 bytes");
}

static void test_diff(void **state)
{
	(void)state;
	assert_int_equal(parse("diff", "old.json", "new.json#after", "--allow", "4K", NULL), 0);
	assert_int_equal(opts.subcommand, SUBCOMMAND_DIFF);
	assert_int_equal(opts.input_count, 2);
	assert_string_equal(opts.inputs[0], "old.json");
	assert_string_equal(opts.inputs[1], "new.json#after");
	assert_int_equal(opts.allow_bytes, 4096);
	expect_usage_error(parse("diff", "old.json", NULL), "diff takes two summaries");
	expect_usage_error(parse("diff", "a", "b", "c", NULL), "unexpected argument 'c'");
	expect_usage_error(parse("diff", "a", "b", "--allow", "lots", NULL), "--allow takes");
}

static void test_report(void **state)
{
	(void)state;
	assert_int_equal(parse("report", "s.json", "-o", "r.html", NULL), 0);
	assert_int_equal(opts.subcommand, SUBCOMMAND_REPORT);
	assert_string_equal(opts.inputs[0], "s.json");
	assert_string_equal(opts.output, "r.html");
	expect_usage_error(parse("report", "s.json", NULL), "report needs -o");
	expect_usage_error(parse("report", "-o", "r.html", NULL), "report takes one summary");
	expect_usage_error(parse("report", "s.json", "-x", NULL), "unknown option '-x'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_mode),
		cmocka_unit_test(test_pid_mode),
		cmocka_unit_test(test_system_mode),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_stack_options_rejected),
		cmocka_unit_test(test_serve),
		cmocka_unit_test(test_serve_errors),
		cmocka_unit_test(test_mode_errors),
		cmocka_unit_test(test_number_errors),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_timeline_option),
		cmocka_unit_test(test_mark),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
