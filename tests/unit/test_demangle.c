/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* C++ names for people, and anything else left as it is. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "demangle.h"

static void test_demangle(void **state)
{
	char buf[256], tiny[12];

	(void)state;
	assert_string_equal(demangle("_ZN2tt8tt_metal6Buffer13allocate_implEv", buf, sizeof(buf)),
			    "tt::tt_metal::Buffer::allocate_impl()");
	assert_string_equal(demangle("_ZN2tt8tt_metal11BankManager17deallocate_bufferEm", buf,
				     sizeof(buf)),
			    "tt::tt_metal::BankManager::deallocate_buffer(unsigned long)");
	/* Not C++, or not a valid mangling: the name itself. */
	assert_string_equal(demangle("malloc", buf, sizeof(buf)), "malloc");
	assert_string_equal(demangle("_Zgarbage", buf, sizeof(buf)), "_Zgarbage");
	assert_null(demangle(NULL, buf, sizeof(buf)));
	/* Cut to the room given, never past it. */
	assert_string_equal(demangle("_ZN2tt8tt_metal6Buffer13allocate_implEv", tiny, sizeof(tiny)),
			    "tt::tt_meta");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demangle),
	};

	return cmocka_run_group_tests_name("demangle", tests, NULL, NULL);
}
