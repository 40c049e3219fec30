/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* /proc/PID/stat as devledger reads it: state, parent, start time, whatever the name holds. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "procinfo.h"

static void test_parse(void **state)
{
	struct procinfo info;

	(void)state;
	assert_int_equal(procinfo__parse_stat("4242 (standin) S 17 4242 4242 0 -1 4194560 120 0 0 "
					      "0 1 2 0 0 20 0 3 0 98765 1000 10 ...",
					      &info),
			 0);
	assert_int_equal(info.state, 'S');
	assert_int_equal(info.ppid, 17);
	assert_int_equal(info.start_ticks, 98765);
	/* A name with ") Z 1 (" in it must not fool the parser. */
	assert_int_equal(procinfo__parse_stat("7 (a) Z 1 (b) R 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 "
					      "0 555 0 0",
					      &info),
			 0);
	assert_int_equal(info.state, 'R');
	assert_int_equal(info.ppid, 3);
	assert_int_equal(info.start_ticks, 555);
	assert_int_equal(procinfo__parse_stat("7 (a)", &info), -EINVAL);
	assert_int_equal(procinfo__parse_stat("7 (a) S 1 2 3", &info), -EINVAL);
	assert_int_equal(procinfo__parse_stat("no name", &info), -EINVAL);
}

/* A zombie is not alive, nor is a process that is gone; a live one with another start time neither. */
static void test_alive(void **state)
{
	struct procinfo info;
	pid_t child;

	(void)state;
	assert_int_equal(procinfo__read(getpid(), &info), 0);
	assert_true(procinfo__alive(getpid(), info.start_ticks));
	assert_false(procinfo__alive(getpid(), info.start_ticks + 1));
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	/* Until it is reaped it is a zombie. */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(procinfo__read(child, &info), 0);
		if (info.state == 'Z')
			break;
		usleep(5000);
	}
	assert_int_equal(info.state, 'Z');
	assert_false(procinfo__alive(child, info.start_ticks));
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(procinfo__read(child, &info), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_alive),
	};

	return cmocka_run_group_tests_name("procinfo", tests, NULL, NULL);
}
