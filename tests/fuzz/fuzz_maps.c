/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The /proc/PID/maps parser (libfind__maps_line) on any text, cut into
 * pieces as libfind__from_pid's fgets cuts it: up to a newline, at most
 * LIBFIND_MAPS_LINE_LEN - 1 bytes, NUL bytes and all. A process names its
 * own mappings (memfd names, paths with newlines, any bytes), and devledger
 * attaches to what this finds. What it promises is checked: the path it
 * returns lies in the line, starts with '/', holds no newline, and its last
 * component starts with the library's name.
 */
#include <string.h>

#include "fuzz.h"
#include "libfind.h"

static void check_line(const char *line)
{
	size_t start = (size_t)-1, len = (size_t)-1, end = strlen(line);
	enum libfind_maps_line what = libfind__maps_line(line, &start, &len);
	const char *path, *base;

	FUZZ_CHECK(what == LIBFIND_MAPS_OTHER || what == LIBFIND_MAPS_LIBRARY ||
		   what == LIBFIND_MAPS_DELETED);
	if (what == LIBFIND_MAPS_OTHER)
		return;
	FUZZ_CHECK(start < end && len <= end - start && len > 0);
	path = line + start;
	FUZZ_CHECK(path[0] == '/' && !memchr(path, '\n', len));
	base = (const char *)memrchr(path, '/', len) + 1;
	FUZZ_CHECK(!strncmp(base, LIBFIND_NAME, strlen(LIBFIND_NAME)));
	FUZZ_CHECK(base + strlen(LIBFIND_NAME) <= path + len);
	FUZZ_CHECK((what == LIBFIND_MAPS_DELETED) == !!memmem(path, len, " (deleted)", 10));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t at = 0;

	while (at < size) {
		size_t n = 0;
		char *line;

		while (at + n < size && n < LIBFIND_MAPS_LINE_LEN - 1 &&
		       (n == 0 || data[at + n - 1] != '\n'))
			n++;
		/* Each piece in a buffer of its own size: ASan sees a read past its NUL. */
		line = malloc(n + 1);
		FUZZ_CHECK(line);
		memcpy(line, data + at, n);
		line[n] = '\0';
		check_line(line);
		free(line);
		at += n;
	}
	return 0;
}
