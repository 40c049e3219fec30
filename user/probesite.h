/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where in a function a uprobe costs least. The kernel emulates a push or a
 * nop at a probe site (and turns a 5-byte nop into a call), but single-steps
 * most other instructions out of line, a second trap: on a virtual machine
 * about 30 times the cost. A CET build starts every function with endbr64,
 * which is single-stepped; the push after it is not.
 */
#ifndef DEVLEDGER_PROBESITE_H
#define DEVLEDGER_PROBESITE_H

#include <stddef.h>
#include <stdint.h>

/* Argument registers a probe reads (x86-64 SysV order). */
#define PROBESITE_RDI (1u << 0)
#define PROBESITE_RSI (1u << 1)
#define PROBESITE_RDX (1u << 2)
#define PROBESITE_RCX (1u << 3)
#define PROBESITE_R8  (1u << 4)
#define PROBESITE_R9  (1u << 5)

struct probesite {
	uint64_t offset; /* file offset to attach at */
	uint64_t delta;	 /* bytes past the function's entry */
	char why[160];	 /* what was chosen and why, for people */
};

/*
 * Choose the probe site of the function at file offset func_offset (size
 * bytes) in path: the first emulated instruction (push, nop) that every call
 * executes (before any branch, call or return), before any write to the
 * registers in regs_read, and that no jump in the function lands on or
 * before; else the entry. On decoding trouble, or when the file holds fewer
 * than size bytes there, the entry is chosen and 0 returned.
 *
 * Every return, 0 or not, leaves site filled in: offset is func_offset +
 * delta, and why a NUL-terminated sentence for people. Returns -errno when
 * the code could not be read (-ENOENT, -EACCES, -ENOMEM, ...; -EINVAL for an
 * offset past INT64_MAX, which no file has): site is then the entry
 * (offset == func_offset, delta 0) and why says what failed, so a caller may
 * print it and attach at the entry, or give up.
 */
int probesite__choose(const char *path, uint64_t func_offset, uint64_t size, unsigned int regs_read,
		      struct probesite *site);

/* Decide from the code bytes themselves (func_offset names the entry in the result). */
int probesite__choose_code(const uint8_t *code, size_t len, uint64_t func_offset,
			   unsigned int regs_read, struct probesite *site);

#endif /* DEVLEDGER_PROBESITE_H */
