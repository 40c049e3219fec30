/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses share. devledger runs as root on whatever a
 * local user hands it, so each parser of outside input is fed anything here,
 * under ASan, UBSan and LSan. A harness prints nothing for an input that
 * passes: a check that fails names itself on stderr and aborts, which
 * libFuzzer reports as a crash and saves the input for.
 */
#ifndef DEVLEDGER_TESTS_FUZZ_H
#define DEVLEDGER_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(condition)                                                                      \
	do {                                                                                       \
		if (!(condition)) {                                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,           \
				#condition);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * The parsers of files take a path. Each input is written to one memfd made
 * once per run and named by /proc/self/fd/N: nothing on disk to clean up,
 * and no file left behind by a run that crashed. The descriptor stays open
 * for the whole run on purpose.
 */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	size_t done = 0;

	if (fd < 0) {
		fd = memfd_create("devledger-fuzz", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	while (done < size) {
		ssize_t wrote = pwrite(fd, data + done, size - done, (off_t)done);

		FUZZ_CHECK(wrote > 0);
		done += (size_t)wrote;
	}
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* DEVLEDGER_TESTS_FUZZ_H */
