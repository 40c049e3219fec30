/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A stack sample of the test's own thread, taken as the probes take one:
 * the registers at one instruction of capture() and the stack above sp.
 * For the tests of what unwinds and prints stacks.
 */
#ifndef DEVLEDGER_TEST_SELFSTACK_H
#define DEVLEDGER_TEST_SELFSTACK_H

#include <execinfo.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../bpf/devledger.h"

#define SAMPLE_BYTES 16384

/* The last sample taken, with room for its stack; sequence numbers count from 1. */
static _Alignas(8) uint8_t sample_storage[sizeof(struct dl_stack_sample) + SAMPLE_BYTES];
static struct dl_stack_sample *const sample = (struct dl_stack_sample *)sample_storage;
static uint32_t next_sequence = 1;
/* What libgcc's unwinder (backtrace(3)) found at the same point: return addresses, from capture's
 * own. */
static void *sample_backtrace[64];
static int sample_backtrace_count;

/* The top of this thread's stack: the copy must not read past it. */
static uint64_t stack_top(void)
{
	pthread_attr_t attr;
	void *base;
	size_t size;

	pthread_getattr_np(pthread_self(), &attr);
	pthread_attr_getstack(&attr, &base, &size);
	pthread_attr_destroy(&attr);
	return (uint64_t)base + size;
}

/*
 * As the probe does: the registers at one instruction, and `bytes` of the
 * stack above sp, copied byte by byte past ASan (the callers' frames have
 * redzones).
 */
static __attribute__((noinline, no_sanitize_address, unused)) void capture(size_t bytes)
{
	__u64 *regs = sample->regs;
	uint64_t top;

	_Static_assert(DL_REG_IP == 0 && DL_REG_SP == 1 && DL_REG_BP == 2 && DL_REG_BX == 3 &&
			       DL_REG_R12 == 4 && DL_REG_R15 == 7,
		       "the order the asm stores them in");
	__asm__ volatile("leaq 0(%%rip), %%rax\n\t"
			 "movq %%rax, 0(%0)\n\t"
			 "movq %%rsp, 8(%0)\n\t"
			 "movq %%rbp, 16(%0)\n\t"
			 "movq %%rbx, 24(%0)\n\t"
			 "movq %%r12, 32(%0)\n\t"
			 "movq %%r13, 40(%0)\n\t"
			 "movq %%r14, 48(%0)\n\t"
			 "movq %%r15, 56(%0)\n\t"
			 :
			 : "r"(regs)
			 : "rax", "memory");
	top = stack_top();
	if (bytes > top - regs[DL_REG_SP])
		bytes = top - regs[DL_REG_SP];
	for (size_t i = 0; i < bytes; i++)
		sample->stack[i] = ((const volatile uint8_t *)regs[DL_REG_SP])[i];
	sample->bytes = (uint32_t)bytes;
	sample->pid = (uint32_t)getpid();
	sample->tid = (uint32_t)getpid();
	sample->sequence = next_sequence++;
	/* An entry probe's sample, of nothing the kernel knows more about. */
	memset(sample->return_slots, 0, sizeof(sample->return_slots));
	sample->returned_from = 0;
	sample->library = 0;
	sample->library_bias = 0;
	sample->exe_inode = 0;
	sample->exe_start = 0;
	sample_backtrace_count = backtrace(sample_backtrace, 64);
}

#endif /* DEVLEDGER_TEST_SELFSTACK_H */
