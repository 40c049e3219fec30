/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The unwinder (unwind__add_sample) on any stack sample: a traced process
 * decides what its stack holds, and devledger, as root, follows the return
 * addresses and saved registers it finds there. The input is a sample's
 * registers, return slots and stack; its pid is this process's, so the
 * rules come from real modules (the instruction pointer is moved into this
 * harness's own code). What it promises is checked: a well-formed sample is
 * taken, a frame count within the bound, the first frame at the pc, every
 * frame symbolized without fault.
 */
#include <errno.h>
#include <string.h>

#include "../../bpf/devledger.h"
#include "fuzz.h"
#include "unwind.h"

static struct unwind *unwind;
static uint32_t sequence;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t storage[sizeof(struct dl_stack_sample) + 8192] __attribute__((aligned(8)));
	struct dl_stack_sample *s = (struct dl_stack_sample *)storage;
	size_t head = sizeof(*s) - offsetof(struct dl_stack_sample, regs), bytes;
	const struct unwind_frame *frames;
	uint32_t id;
	size_t count;
	int err;

	if (!unwind)
		unwind = unwind__new(NULL);
	FUZZ_CHECK(unwind);
	if (size < head)
		return 0;
	memset(storage, 0, sizeof(*s));
	memcpy(s->regs, data, head);
	bytes = size - head < sizeof(storage) - sizeof(*s) ? size - head
							   : sizeof(storage) - sizeof(*s);
	memcpy(s->stack, data + head, bytes);
	/* A pc in this harness (code with rules), the rest as the input says. */
	s->regs[DL_REG_IP] =
		(uint64_t)(uintptr_t)LLVMFuzzerTestOneInput + (s->regs[DL_REG_IP] & 0xfff);
	s->pid = (uint32_t)getpid();
	s->tid = s->pid;
	s->bytes = (uint32_t)bytes;
	s->sequence = ++sequence ? sequence : ++sequence;
	err = unwind__add_sample(unwind, s, sizeof(*s) + bytes);
	FUZZ_CHECK(!err);
	/* More bytes claimed than given: refused. */
	s->bytes = (uint32_t)bytes + 8;
	FUZZ_CHECK(unwind__add_sample(unwind, s, sizeof(*s) + bytes) == -EINVAL);
	id = unwind__stack_of(unwind, s->sequence);
	FUZZ_CHECK(id);
	FUZZ_CHECK(!unwind__frames(unwind, id, &frames, &count));
	FUZZ_CHECK(count >= 1 && count <= UNWIND_MAX_FRAMES + 1);
	FUZZ_CHECK(frames[0].address == (s->returned_from ? s->returned_from : s->regs[DL_REG_IP]));
	for (size_t i = 0; i < count; i++)
		FUZZ_CHECK(!frames[i].file || frames[i].line > 0);
	return 0;
}
