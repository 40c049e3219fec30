/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ledger fuzzer's seeds, written by hand as calls: each a mode byte and
 * a stream of records (fuzz_ledger.c says how it is read), one per shape of
 * tt-metal's behaviour the ledger accounts for, so that mutations start
 * from every fate. Run by seeds.sh: ledger_seeds DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/devledger.h"

#define PID 4242
#define KIB 1024ull

/* The mode byte, as fuzz_ledger.c reads it. */
#define COLLIDING_HASH (1 << 0)
#define PROCESS_EXITED (1 << 2)
#define REPLAY_64      (3 << 3)
#define MOVE_ADDRESS   (0 << 5)
#define MOVE_PID       (1 << 5)
#define MOVE_TID       (2 << 5)
#define MOVE_DEVICE_ID (3 << 5)
#define NAMED_PROCESS  (1 << 7)

static FILE *out;
static unsigned long long now = 1000;
static __u8 next_flags; /* for the next record only */

static void start(const char *dir, const char *name, unsigned char mode)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "wb");
	if (!out || fputc(mode, out) == EOF) {
		perror(path);
		exit(1);
	}
}

static void finish(void)
{
	if (fclose(out)) {
		perror("fclose");
		exit(1);
	}
}

static void record(__u32 kind, __u32 tid, __u8 device_kind, __s32 device_id, __u8 mem_type,
		   __u64 address, __u64 size, __u64 object)
{
	struct dl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.pid = PID;
	ev.ts_ns = now += 1000;
	ev.address = address;
	ev.size = size;
	ev.object = object;
	ev.device = 0x5500 + (__u64)device_id;
	ev.device_id = device_id;
	ev.tid = tid;
	ev.mem_type = mem_type;
	ev.device_kind = device_kind;
	ev.flags = next_flags;
	next_flags = 0;
	fwrite(&ev, sizeof(ev), 1, out);
}

static void chip(__u32 kind, __s32 id, __u8 mem_type, __u64 address, __u64 size, __u64 object)
{
	record(kind, PID, DL_DEVICE_CHIP, id, mem_type, address, size, object);
}

static void process_exit(__u32 pid, int status)
{
	struct dl_exit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = DL_EV_PROCESS_EXIT;
	ev.pid = pid;
	ev.ts_ns = now += 1000;
	ev.exit_code = status;
	memcpy(ev.comm, "unit_tests_api", 15);
	fwrite(&ev, sizeof(ev), 1, out);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";

	/* The original report: DRAM released at close, CBs with their programs, a leak. */
	start(dir, "remaining", NAMED_PROCESS);
	for (int d = 0; d < 2; d++) {
		chip(DL_EV_ALLOC, d, DL_MEM_DRAM, 1024 * KIB, 36 * KIB, 0xa110c);
		chip(DL_EV_ALLOC, d, DL_MEM_L1, 64 * KIB, 2 * KIB, 0xa110c);
		chip(DL_EV_FREE, d, DL_MEM_L1, 64 * KIB, 2 * KIB, 0);
	}
	chip(DL_EV_CB_ALLOC, 0, DL_MEM_CB, 100 * KIB, 4 * KIB, 0x9001);
	chip(DL_EV_CB_ALLOC, 0, DL_MEM_CB, 102 * KIB, 4 * KIB, 0x9001);
	chip(DL_EV_CB_ALLOC, 0, DL_MEM_CB, 100 * KIB, 8 * KIB, 0x9002);
	chip(DL_EV_PROGRAM_DESTROYED, 0, 0, 0, 0, 0x9001);
	chip(DL_EV_DEVICE_CLOSE, 0, 0, 0, 0, 0);
	chip(DL_EV_DEVICE_CLOSED, 0, 0, 0, 0, 0);
	chip(DL_EV_ALLOC, 1, DL_MEM_TRACE, 8 * KIB, KIB, 0);
	process_exit(PID, 0);
	finish();

	/* A mesh whose id the library does not tell, closing its chips inside its own close. */
	start(dir, "mesh", 2);
	record(DL_EV_ALLOC, PID, DL_DEVICE_MESH, -1, DL_MEM_DRAM, 64 * KIB, 64 * KIB, 0xa1);
	record(DL_EV_ALLOC, PID, DL_DEVICE_MESH, -1, DL_MEM_L1, 8 * KIB, 4 * KIB, 0xa1);
	chip(DL_EV_ALLOC, 3, DL_MEM_DRAM, 4 * KIB, 2 * KIB, 0xa2);
	record(DL_EV_MESH_CLOSE, PID, DL_DEVICE_MESH, -1, 0, 0, 0, 0);
	record(DL_EV_BANK_FREE, PID, DL_DEVICE_MESH, -1, DL_MEM_L1, 8 * KIB, 0, 0xb1);
	chip(DL_EV_DEVICE_CLOSE, 3, 0, 0, 0, 0);
	chip(DL_EV_DEVICE_CLOSED, 3, 0, 0, 0, 0);
	record(DL_EV_MESH_CLOSED, PID, DL_DEVICE_MESH, -1, 0, 0, 0, 0);
	process_exit(PID, 0);
	finish();

	/* The allocator's own releases: a tracked free's pair, one alone, a clear, a bank's all. */
	start(dir, "allocator", 1);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 16 * KIB, KIB, 0xa1);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 32 * KIB, KIB, 0xa1);
	chip(DL_EV_ALLOC, 0, DL_MEM_L1, 32 * KIB, KIB, 0xa2);
	chip(DL_EV_ALLOC, 0, DL_MEM_L1, 48 * KIB, KIB, 0xa1);
	chip(DL_EV_FREE, 0, DL_MEM_DRAM, 16 * KIB, KIB, 0);
	chip(DL_EV_BANK_FREE, 0, DL_MEM_DRAM, 16 * KIB, 0, 0xb0);
	chip(DL_EV_BANK_FREE, 0, DL_MEM_DRAM, 32 * KIB, 0, 0xb0);
	chip(DL_EV_ALLOCATOR_CLEAR, 0, 0, 0, 0, 0xa2);
	chip(DL_EV_BANK_FREE_ALL, 0, DL_MEM_L1, 0, 0, 0xb1);
	chip(DL_EV_ALLOCATOR_CLEAR_END, 0, 0, 0, 0, 0);
	chip(DL_EV_CB_ALLOC, 0, DL_MEM_DFB, 200 * KIB, 4 * KIB, 0x9003);
	chip(DL_EV_CB_FREE_ALL, 0, 0, 0, 0, 0);
	finish();

	/* What matches nothing or cannot be true, and a pid reused after its process exited. */
	start(dir, "unmatched", 4);
	chip(DL_EV_FREE, 0, DL_MEM_DRAM, 8 * KIB, KIB, 0);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 8 * KIB, KIB, 0);
	chip(DL_EV_FREE, 0, DL_MEM_DRAM, 8 * KIB, KIB, 0);
	chip(DL_EV_FREE, 0, DL_MEM_DRAM, 8 * KIB, KIB, 0);
	next_flags = DL_FLAG_HOOKED;
	chip(DL_EV_ALLOC, 0, DL_MEM_L1, 0, 4 * KIB, 0);
	chip(DL_EV_ALLOC, 0, DL_MEM_L1, ~0ull - 10, 4 * KIB, 0);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 8 * KIB, ~0ull - 16 * KIB, 0);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 64 * KIB, 16 * KIB, 0);
	chip(DL_EV_UNSEEN, 0, 0, 0, 0, 3);
	chip(DL_EV_KINDS, 0, 0, 0, 0, 0);
	process_exit(PID, 9);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 64 * KIB, 16 * KIB, 0);
	finish();

	/* Replayed 64 times: a thousand buffers, under a hash where every key collides. */
	start(dir, "many-buffers", COLLIDING_HASH | REPLAY_64 | MOVE_ADDRESS);
	for (int i = 0; i < 16; i++)
		chip(DL_EV_ALLOC, i % 2, DL_MEM_DRAM, (__u64)i * 64 * KIB, KIB, 0);
	chip(DL_EV_FREE, 0, DL_MEM_DRAM, 0, KIB, 0);
	finish();

	/* Program-scope buffers on 64 devices, all released when the process is reaped. */
	start(dir, "many-devices", PROCESS_EXITED | REPLAY_64 | MOVE_DEVICE_ID);
	chip(DL_EV_CB_ALLOC, 0, DL_MEM_CB, 100 * KIB, 4 * KIB, 0x9001);
	chip(DL_EV_CB_ALLOC, 0, DL_MEM_DFB, 200 * KIB, 4 * KIB, 0x9001);
	chip(DL_EV_ALLOC, 0, DL_MEM_L1, 8 * KIB, KIB, 0);
	finish();

	/* Tracked frees from 64 threads, their bank releases never seen. */
	start(dir, "many-threads", REPLAY_64 | MOVE_TID);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 16 * KIB, KIB, 0xa1);
	chip(DL_EV_FREE, 0, DL_MEM_DRAM, 16 * KIB, KIB, 0);
	chip(DL_EV_BANK_FREE, 0, DL_MEM_DRAM, 32 * KIB, 0, 0xb0);
	finish();

	/* 64 processes. */
	start(dir, "many-pids", REPLAY_64 | MOVE_PID);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 16 * KIB, KIB, 0);
	chip(DL_EV_CB_ALLOC, 0, DL_MEM_CB, 100 * KIB, 4 * KIB, 0);
	finish();

	/* A record cut short at the end of the stream. */
	start(dir, "short", 0);
	chip(DL_EV_ALLOC, 0, DL_MEM_DRAM, 8 * KIB, KIB, 0);
	fwrite("\x02\x00\x00\x00\x92\x10", 6, 1, out);
	finish();
	return 0;
}
