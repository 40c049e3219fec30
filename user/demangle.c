/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdio.h>
#include <stdlib.h>

#include "demangle.h"

/*
 * The C++ runtime's own demangler (libstdc++'s, the Itanium ABI's entry
 * point): the one every tool on Linux uses, and the one that knows every
 * mangling g++ and clang emit.
 */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *length, int *status);

const char *demangle(const char *name, char *buf, size_t len)
{
	int status = -1;
	char *readable;

	if (!name || name[0] != '_' || name[1] != 'Z')
		return name;
	readable = __cxa_demangle(name, NULL, NULL, &status);
	if (!readable || status)
		return name;
	snprintf(buf, len, "%s", readable);
	free(readable);
	return buf;
}
