/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * probesite__choose_code on any bytes as a function's code. Input: one byte
 * of the argument registers the probe reads (PROBESITE_* bits), then the
 * code. What it promises is checked: it decides (returns 0), the site is the
 * entry or an instruction inside the code, and its reason is a sentence
 * that ends inside its buffer.
 */
#include <string.h>

#include "fuzz.h"
#include "probesite.h"

/* Any file offset will do; one past 4 GiB catches a truncation to 32 bits. */
#define FUNC_OFFSET 0x123456789ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probesite site;
	unsigned int regs_read;

	if (size < 1)
		return 0;
	regs_read = data[0] & 0x3f;
	memset(&site, 0xa5, sizeof(site));
	FUZZ_CHECK(probesite__choose_code(data + 1, size - 1, FUNC_OFFSET, regs_read, &site) == 0);
	FUZZ_CHECK(site.delta == 0 || site.delta < size - 1);
	FUZZ_CHECK(site.offset == FUNC_OFFSET + site.delta);
	FUZZ_CHECK(memchr(site.why, '\0', sizeof(site.why)) && site.why[0]);
	return 0;
}
