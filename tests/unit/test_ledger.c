/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ledger.h"

/* Every test runs twice: with the built-in hash, and with one under which every key collides. */
static uint64_t colliding_hash(const struct ledger_key *key)
{
	(void)key;
	return 42;
}

/* Under the colliding hash every lookup walks the whole table: the long tests run shorter. */
static bool colliding;

static int setup_default(void **state)
{
	colliding = false;
	*state = ledger__new(NULL);
	return *state ? 0 : -1;
}

static int setup_colliding(void **state)
{
	struct ledger_opts opts = { .hash = colliding_hash };

	colliding = true;
	*state = ledger__new(&opts);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	ledger__free(*state);
	return 0;
}

static uint64_t now_ns = 1000;

/* A record from thread `tid` on a device of `device_kind` (a mesh also has its pointer). */
static int send_full(struct ledger *l, uint32_t kind, uint32_t pid, uint32_t tid,
		     uint8_t device_kind, int32_t device, uint64_t device_pointer, uint8_t type,
		     uint64_t address, uint64_t size, uint64_t object, uint8_t flags)
{
	struct dl_event ev = { .kind = kind,
			       .pid = pid,
			       .tid = tid,
			       .ts_ns = now_ns++,
			       .address = address,
			       .size = size,
			       .object = object,
			       .device = device_pointer,
			       .device_id = device,
			       .device_kind = device_kind,
			       .mem_type = type,
			       .flags = flags };

	return ledger__apply(l, &ev, sizeof(ev));
}

static int send_from(struct ledger *l, uint32_t kind, uint32_t pid, uint32_t tid,
		     uint8_t device_kind, int32_t device, uint64_t device_pointer, uint8_t type,
		     uint64_t address, uint64_t size, uint64_t object)
{
	return send_full(l, kind, pid, tid, device_kind, device, device_pointer, type, address,
			 size, object, 0);
}

/* A record from the process's main thread, on a chip. */
static int send(struct ledger *l, uint32_t kind, uint32_t pid, int32_t device, uint8_t type,
		uint64_t address, uint64_t size, uint64_t object, uint8_t flags)
{
	return send_full(l, kind, pid, pid, DL_DEVICE_CHIP, device, 0, type, address, size, object,
			 flags);
}

/* Device::close of a chip on the process's main thread: its entry, then its return. */
static void close_device(struct ledger *l, uint32_t pid, int32_t dev)
{
	assert_int_equal(send(l, DL_EV_DEVICE_CLOSE, pid, dev, 0, 0, 0, 0, 0), 0);
	assert_int_equal(send(l, DL_EV_DEVICE_CLOSED, pid, -1, 0, 0, 0, 0, 0), 0);
}

static void alloc(struct ledger *l, uint32_t pid, int32_t dev, uint8_t type, uint64_t addr,
		  uint64_t size)
{
	assert_int_equal(send(l, DL_EV_ALLOC, pid, dev, type, addr, size, 0, 0), 0);
}

static void dealloc(struct ledger *l, uint32_t pid, int32_t dev, uint8_t type, uint64_t addr)
{
	assert_int_equal(send(l, DL_EV_FREE, pid, dev, type, addr, 0, 0, 0), 0);
}

static void cb(struct ledger *l, uint32_t pid, int32_t dev, uint64_t program, uint64_t addr,
	       uint64_t size)
{
	assert_int_equal(send(l, DL_EV_CB_ALLOC, pid, dev, DL_MEM_CB, addr, size, program, 0), 0);
}

static void process_exit(struct ledger *l, uint32_t pid, int status, const char *comm)
{
	struct dl_exit_event ev = {
		.kind = DL_EV_PROCESS_EXIT, .pid = pid, .ts_ns = now_ns++, .exit_code = status
	};

	strncpy(ev.comm, comm, sizeof(ev.comm) - 1);
	assert_int_equal(ledger__apply(l, &ev, sizeof(ev)), 0);
}

/* The finished view of the n-th process (sorted by pid). */
static const struct ledger_process *proc(struct ledger *l, size_t n)
{
	const struct ledger_process *procs;
	size_t count;

	assert_int_equal(ledger__finish(l), 0);
	procs = ledger__processes(l, &count);
	assert_true(n < count);
	return &procs[n];
}

static size_t process_count(struct ledger *l)
{
	size_t count;

	assert_int_equal(ledger__finish(l), 0);
	ledger__processes(l, &count);
	return count;
}

static const struct ledger_stats *stats_of(const struct ledger_process *p, uint8_t kind,
					   int32_t dev, uint8_t type)
{
	for (size_t i = 0; i < p->device_count; i++)
		if (p->devices[i].device_id == dev && p->devices[i].kind == kind) {
			assert_true(p->devices[i].active_types & (1u << type));
			return &p->devices[i].mem[type];
		}
	fail_msg("no %s %d", ledger_device_kind_name(kind), dev);
	return NULL;
}

static const struct ledger_stats *stats(const struct ledger_process *p, int32_t dev, uint8_t type)
{
	return stats_of(p, DL_DEVICE_CHIP, dev, type);
}

static void assert_stats(const struct ledger_stats *s, uint64_t live_bytes, uint64_t peak,
			 uint64_t live_count, uint64_t allocs, uint64_t frees, uint64_t untracked,
			 uint64_t untracked_bytes, uint64_t leaks, uint64_t leaked_bytes)
{
	assert_int_equal(s->live_bytes, live_bytes);
	assert_int_equal(s->peak_bytes, peak);
	assert_int_equal(s->live_count, live_count);
	assert_int_equal(s->allocs, allocs);
	assert_int_equal(s->frees, frees);
	assert_int_equal(s->untracked_frees, untracked);
	assert_int_equal(s->untracked_bytes, untracked_bytes);
	assert_int_equal(s->leaks, leaks);
	assert_int_equal(s->leaked_bytes, leaked_bytes);
	assert_int_equal(s->allocs, s->frees + s->untracked_frees + s->leaks + s->live_count);
}

static void test_alloc_free_peak(void **state)
{
	struct ledger *l = *state;

	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 4096);
	alloc(l, 10, 0, DL_MEM_DRAM, 0x3000, 1024);
	dealloc(l, 10, 0, DL_MEM_DRAM, 0x1000);
	alloc(l, 10, 0, DL_MEM_L1, 0x1000, 64); /* same address, other type: another buffer */
	assert_stats(stats(proc(l, 0), 0, DL_MEM_DRAM), 1024, 5120, 1, 2, 1, 0, 0, 0, 0);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_L1), 64, 64, 1, 1, 0, 0, 0, 0, 0);
	assert_int_equal(proc(l, 0)->events, 4);
	assert_int_equal(ledger__events(l), 4);
	/* Still running: what is live is listed, sorted by type then address. */
	assert_int_equal(proc(l, 0)->live.count, 2);
	assert_int_equal(proc(l, 0)->live.items[0].mem_type, DL_MEM_DRAM);
	assert_int_equal(proc(l, 0)->live.items[0].address, 0x3000);
	assert_int_equal(proc(l, 0)->live.items[1].mem_type, DL_MEM_L1);
	assert_false(proc(l, 0)->exited);
}

static void test_hooked_ignored(void **state)
{
	struct ledger *l = *state;

	assert_int_equal(send(l, DL_EV_ALLOC, 10, 0, DL_MEM_DRAM, 0, 2048, 0, DL_FLAG_HOOKED), 0);
	assert_int_equal(send(l, DL_EV_FREE, 10, 0, DL_MEM_DRAM, 0, 2048, 0, DL_FLAG_HOOKED), 0);
	assert_int_equal(proc(l, 0)->hooked_ignored, 1);
	assert_int_equal(proc(l, 0)->device_count, 0);
	assert_int_equal(proc(l, 0)->unmatched_frees.count, 0);
}

static void test_unmatched_frees(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc(l, 10, 1, DL_MEM_DRAM, 0x1000, 4096);
	dealloc(l, 10, 1, DL_MEM_DRAM, 0x1000);
	dealloc(l, 10, 1, DL_MEM_DRAM, 0x1000); /* again */
	dealloc(l, 10, 1, DL_MEM_L1, 0x1000);	/* never allocated as L1 */
	dealloc(l, 10, 2, DL_MEM_DRAM, 0x1000); /* never on device 2 */
	p = proc(l, 0);
	assert_int_equal(p->unmatched_frees.count, 3);
	assert_int_equal(p->unmatched_frees.items[0].device_id, 1);
	assert_int_equal(p->unmatched_frees.items[0].mem_type, DL_MEM_DRAM);
	assert_int_equal(p->unmatched_frees.items[0].reason, LEDGER_REASON_DOUBLE_FREE);
	assert_int_equal(p->unmatched_frees.items[1].mem_type, DL_MEM_L1);
	assert_int_equal(p->unmatched_frees.items[1].reason, LEDGER_REASON_UNKNOWN_ADDRESS);
	assert_int_equal(p->unmatched_frees.items[2].device_id, 2);
	assert_int_equal(p->unmatched_frees.items[2].reason, LEDGER_REASON_UNKNOWN_ADDRESS);
	assert_stats(stats(p, 1, DL_MEM_DRAM), 0, 4096, 0, 1, 1, 0, 0, 0, 0);
	/* An unmatched free still marks the device and type as active. */
	assert_stats(stats(p, 2, DL_MEM_DRAM), 0, 0, 0, 0, 0, 0, 0, 0, 0);
	/* A new allocation at a freed address is live again, and its free matches. */
	alloc(l, 10, 1, DL_MEM_DRAM, 0x1000, 512);
	dealloc(l, 10, 1, DL_MEM_DRAM, 0x1000);
	assert_int_equal(proc(l, 0)->unmatched_frees.count, 3);
	assert_stats(stats(proc(l, 0), 1, DL_MEM_DRAM), 0, 4096, 0, 2, 2, 0, 0, 0, 0);
}

/* A free whose record was lost: the next allocation at that address ends the old one as freed. */
static void test_realloc_of_live_address(void **state)
{
	struct ledger *l = *state;

	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 4096);
	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 1024);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_DRAM), 1024, 4096, 1, 2, 1, 0, 0, 0, 0);
}

static void test_device_closed(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc(l, 10, 0, DL_MEM_DRAM, 1073737728, 24576);
	alloc(l, 10, 0, DL_MEM_DRAM, 1073739776, 12288);
	alloc(l, 10, 0, DL_MEM_L1, 500000, 2048);
	alloc(l, 10, 1, DL_MEM_DRAM, 1073737728, 24576);
	cb(l, 10, 0, 0xA, 101152, 4096);
	cb(l, 10, 1, 0xA, 101152, 4096);
	close_device(l, 10, 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 0, 36864, 0, 2, 0, 2, 36864, 0, 0);
	assert_stats(stats(p, 0, DL_MEM_L1), 0, 2048, 0, 1, 0, 1, 2048, 0, 0);
	assert_stats(stats(p, 0, DL_MEM_CB), 0, 4096, 0, 1, 0, 1, 4096, 0, 0);
	/* Device 1 untouched. */
	assert_stats(stats(p, 1, DL_MEM_DRAM), 24576, 24576, 1, 1, 0, 0, 0, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_CB), 4096, 4096, 1, 1, 0, 0, 0, 0, 0);
	assert_int_equal(p->untracked_frees.count, 4);
	for (size_t i = 0; i < p->untracked_frees.count; i++) {
		assert_int_equal(p->untracked_frees.items[i].reason, LEDGER_REASON_DEVICE_CLOSED);
		assert_int_equal(p->untracked_frees.items[i].device_id, 0);
	}
	/* Sorted by type, then address. */
	assert_int_equal(p->untracked_frees.items[0].address, 1073737728);
	assert_int_equal(p->untracked_frees.items[0].size, 24576);
	assert_int_equal(p->untracked_frees.items[1].address, 1073739776);
	assert_int_equal(p->untracked_frees.items[2].mem_type, DL_MEM_L1);
	assert_int_equal(p->untracked_frees.items[3].mem_type, DL_MEM_CB);
	/* A late report of a free after the close is the same release, counted once. */
	dealloc(l, 10, 0, DL_MEM_DRAM, 1073737728);
	assert_int_equal(proc(l, 0)->unmatched_frees.count, 0);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_DRAM), 0, 36864, 0, 2, 0, 2, 36864, 0, 0);
	/* A second one is a double free. */
	dealloc(l, 10, 0, DL_MEM_DRAM, 1073737728);
	assert_int_equal(proc(l, 0)->unmatched_frees.items[0].reason, LEDGER_REASON_DOUBLE_FREE);
	/* A close whose entry was never seen (attached during it) releases nothing. */
	assert_int_equal(send(l, DL_EV_DEVICE_CLOSED, 10, -1, 0, 0, 0, 0, 0), 0);
	assert_stats(stats(proc(l, 0), 1, DL_MEM_DRAM), 24576, 24576, 1, 1, 0, 0, 0, 0, 0);
}

/* Program A: 101152/4096, 105248/4096, 109344/2048; program B: 101152/8192, 109344/4096. */
static void test_cb_union_and_program_destroyed(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	cb(l, 10, 0, 0xA, 101152, 4096);
	cb(l, 10, 0, 0xA, 105248, 4096);
	cb(l, 10, 0, 0xA, 109344, 2048);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_CB), 10240, 10240, 3, 3, 0, 0, 0, 0, 0);
	cb(l, 10, 0, 0xB, 101152, 8192);
	cb(l, 10, 0, 0xB, 109344, 4096);
	/* Union [101152, 113440): 12 KiB, not the 22 KiB a sum would say. */
	assert_stats(stats(proc(l, 0), 0, DL_MEM_CB), 12288, 12288, 5, 5, 0, 0, 0, 0, 0);
	assert_int_equal(send(l, DL_EV_PROGRAM_DESTROYED, 10, -1, DL_MEM_CB, 0, 0, 0xB, 0), 0);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_CB), 10240, 12288, 3, 5, 0, 2, 12288, 0, 0);
	assert_int_equal(send(l, DL_EV_PROGRAM_DESTROYED, 10, -1, DL_MEM_CB, 0, 0, 0xA, 0), 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_CB), 0, 12288, 0, 5, 0, 5, 22528, 0, 0);
	assert_int_equal(p->untracked_frees.count, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(p->untracked_frees.items[i].reason,
				 LEDGER_REASON_PROGRAM_DESTROYED);
	assert_int_equal(p->untracked_frees.items[0].address, 101152);
	assert_int_equal(p->untracked_frees.items[4].address, 109344);
	/* Destroying an unknown program changes nothing. */
	assert_int_equal(send(l, DL_EV_PROGRAM_DESTROYED, 10, -1, DL_MEM_CB, 0, 0, 0xC, 0), 0);
	assert_int_equal(proc(l, 0)->untracked_frees.count, 5);
}

static void test_cb_union_shapes(void **state)
{
	struct ledger *l = *state;

	cb(l, 10, 0, 1, 1000, 100); /* [1000, 1100) */
	cb(l, 10, 0, 2, 2000, 100); /* disjoint */
	assert_int_equal(stats(proc(l, 0), 0, DL_MEM_CB)->live_bytes, 200);
	cb(l, 10, 0, 3, 1050, 100); /* overlaps the first: [1000, 1150) */
	assert_int_equal(stats(proc(l, 0), 0, DL_MEM_CB)->live_bytes, 250);
	cb(l, 10, 0, 4, 1010, 10); /* nested */
	assert_int_equal(stats(proc(l, 0), 0, DL_MEM_CB)->live_bytes, 250);
	cb(l, 10, 0, 5, 1150, 850); /* touching, fills the gap exactly: [1000, 2100) */
	assert_int_equal(stats(proc(l, 0), 0, DL_MEM_CB)->live_bytes, 1100);
	assert_int_equal(send(l, DL_EV_PROGRAM_DESTROYED, 10, -1, DL_MEM_CB, 0, 0, 5, 0), 0);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_CB), 250, 1100, 4, 5, 0, 1, 850, 0, 0);
}

static void test_program_on_two_devices(void **state)
{
	struct ledger *l = *state;

	cb(l, 10, 0, 0xA, 101152, 4096);
	cb(l, 10, 3, 0xA, 101152, 2048);
	cb(l, 10, 3, 0xB, 101152, 1024);
	assert_int_equal(send(l, DL_EV_PROGRAM_DESTROYED, 10, -1, DL_MEM_CB, 0, 0, 0xA, 0), 0);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_CB), 0, 4096, 0, 1, 0, 1, 4096, 0, 0);
	assert_stats(stats(proc(l, 0), 3, DL_MEM_CB), 1024, 2048, 1, 2, 0, 1, 2048, 0, 0);
}

static void test_cb_deallocate_all_and_reallocated(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	cb(l, 10, 0, 0xA, 101152, 4096);
	cb(l, 10, 0, 0xA, 101152, 2048); /* laid out again: the old one goes */
	cb(l, 10, 0, 0xB, 200000, 1024);
	cb(l, 10, 1, 0xB, 200000, 1024);
	assert_int_equal(send(l, DL_EV_CB_FREE_ALL, 10, 0, DL_MEM_CB, 0, 0, 0, 0), 0);
	p = proc(l, 0);
	/* The union peaked at the first layout, 4096; later 2048 + 1024. */
	assert_stats(stats(p, 0, DL_MEM_CB), 0, 4096, 0, 3, 0, 3, 4096 + 2048 + 1024, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_CB), 1024, 1024, 1, 1, 0, 0, 0, 0, 0);
	assert_int_equal(p->untracked_frees.count, 3);
	assert_int_equal(p->untracked_frees.items[0].reason, LEDGER_REASON_CB_REALLOCATED);
	assert_int_equal(p->untracked_frees.items[0].size, 4096);
	assert_int_equal(p->untracked_frees.items[1].reason, LEDGER_REASON_CB_DEALLOCATE_ALL);
	assert_int_equal(p->untracked_frees.items[1].size, 2048);
	assert_int_equal(p->untracked_frees.items[2].reason, LEDGER_REASON_CB_DEALLOCATE_ALL);
}

static void test_exit_makes_leaks(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 8192);
	alloc(l, 10, 1, DL_MEM_TRACE, 0x0, 4096);
	cb(l, 10, 1, 0xA, 101152, 2048);
	alloc(l, 20, 0, DL_MEM_DRAM, 0x1000, 100); /* another process: untouched */
	process_exit(l, 10, 0, "pytest");
	assert_int_equal(process_count(l), 2);
	p = proc(l, 0);
	assert_int_equal(p->pid, 10);
	assert_true(p->exited);
	assert_int_equal(p->exit_status, 0);
	assert_string_equal(p->comm, "pytest");
	assert_int_equal(p->live.count, 0);
	assert_int_equal(p->leaks.count, 3);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 0, 8192, 0, 1, 0, 0, 0, 1, 8192);
	assert_stats(stats(p, 1, DL_MEM_TRACE), 0, 4096, 0, 1, 0, 0, 0, 1, 4096);
	assert_stats(stats(p, 1, DL_MEM_CB), 0, 2048, 0, 1, 0, 0, 0, 1, 2048);
	assert_true(p->leaks.items[0].alloc_ts_ns < p->leaks.items[0].event_ts_ns);
	p = proc(l, 1);
	assert_int_equal(p->pid, 20);
	assert_false(p->exited);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 100, 100, 1, 1, 0, 0, 0, 0, 0);
	assert_int_equal(p->live.count, 1);
	/* A second exit of the same process changes nothing. */
	assert_int_equal(ledger__process_exited(l, 10, 9, now_ns++), 0);
	assert_int_equal(proc(l, 0)->exit_status, 0);
}

static void test_exit_from_waitpid(void **state)
{
	struct ledger *l = *state;

	assert_int_equal(ledger__add_process(l, 30), 0);
	alloc(l, 30, 0, DL_MEM_L1, 64, 32);
	assert_int_equal(ledger__set_comm(l, 30, "test_bin"), 0);
	assert_int_equal(ledger__process_exited(l, 30, 9 /* SIGKILL */, now_ns++), 0);
	assert_true(proc(l, 0)->exited);
	assert_int_equal(proc(l, 0)->exit_status, 9);
	assert_string_equal(proc(l, 0)->comm, "test_bin");
	assert_int_equal(proc(l, 0)->leaks.count, 1);
	assert_int_equal(ledger__process_exited(l, 31, 0, now_ns++), -ENOENT);
}

static void test_pid_reuse(void **state)
{
	struct ledger *l = *state;

	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 100);
	process_exit(l, 10, 256, "first");
	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 200); /* a new process with the same pid */
	dealloc(l, 10, 0, DL_MEM_DRAM, 0x1000);
	assert_int_equal(process_count(l), 2);
	assert_true(proc(l, 0)->exited);
	assert_int_equal(proc(l, 0)->exit_status, 256);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_DRAM), 0, 100, 0, 1, 0, 0, 0, 1, 100);
	assert_false(proc(l, 1)->exited);
	assert_stats(stats(proc(l, 1), 0, DL_MEM_DRAM), 0, 200, 0, 1, 1, 0, 0, 0, 0);
	/* Its free matched its own allocation: no unmatched free anywhere. */
	assert_int_equal(proc(l, 1)->unmatched_frees.count, 0);
}

static void test_processes_sorted(void **state)
{
	struct ledger *l = *state;

	alloc(l, 300, 0, DL_MEM_DRAM, 1, 1);
	alloc(l, 5, 0, DL_MEM_DRAM, 1, 1);
	alloc(l, 70, 0, DL_MEM_DRAM, 1, 1);
	assert_int_equal(process_count(l), 3);
	assert_int_equal(proc(l, 0)->pid, 5);
	assert_int_equal(proc(l, 1)->pid, 70);
	assert_int_equal(proc(l, 2)->pid, 300);
}

static void test_bad_records(void **state)
{
	struct ledger *l = *state;
	struct dl_event ev = { .kind = DL_EV_ALLOC, .pid = 1, .mem_type = DL_MEM_DRAM };

	assert_int_equal(ledger__apply(l, &ev, sizeof(ev) - 1), -EINVAL);
	ev.kind = 99;
	assert_int_equal(ledger__apply(l, &ev, sizeof(ev)), -EINVAL);
	ev.kind = DL_EV_ALLOC;
	ev.mem_type = DL_MEM_TYPES;
	assert_int_equal(ledger__apply(l, &ev, sizeof(ev)), -EINVAL);
	ev.kind = DL_EV_PROCESS_EXIT;
	assert_int_equal(ledger__apply(l, &ev, sizeof(ev)), -EINVAL); /* wrong size for an exit */
	assert_int_equal(ledger__apply(l, &ev, 4), -EINVAL);
	assert_int_equal(ledger__events(l), 0);
	/* A buffer of program-scope type, or a CB of a buffer's type: not a thing tt-metal does. */
	ev = (struct dl_event){ .kind = DL_EV_ALLOC, .pid = 1, .mem_type = DL_MEM_DFB, .size = 1 };
	assert_int_equal(ledger__apply(l, &ev, sizeof(ev)), -EINVAL);
	ev.kind = DL_EV_CB_ALLOC;
	ev.mem_type = DL_MEM_L1;
	assert_int_equal(ledger__apply(l, &ev, sizeof(ev)), -EINVAL);
	/* Every record above was counted as rejected: none vanished unsaid. */
	assert_int_equal(ledger__rejected(l), 7);
	ledger__free(NULL);
}

/*
 * Values that cannot be true are rejected and counted, never wrapped: a range
 * past the end of the address space, live bytes past 64 bits. Totals that
 * would wrap stay at their maximum, and that is counted too.
 */
static void test_impossible_values(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	assert_int_equal(send(l, DL_EV_ALLOC, 1, 0, DL_MEM_DRAM, UINT64_MAX - 10, 11, 0, 0),
			 -ERANGE);
	assert_int_equal(send(l, DL_EV_CB_ALLOC, 1, 0, DL_MEM_CB, 2, UINT64_MAX, 0, 0), -ERANGE);
	alloc(l, 1, 0, DL_MEM_DRAM, 0, 1ULL << 63);
	assert_int_equal(send(l, DL_EV_ALLOC, 1, 0, DL_MEM_DRAM, 1ULL << 62, 1ULL << 63, 0, 0),
			 -ERANGE);
	assert_int_equal(ledger__rejected(l), 3);
	/* Two leaks of 2^63 on two devices, then two more: the bytes saturate, said so. */
	alloc(l, 1, 1, DL_MEM_DRAM, 0, 1ULL << 63);
	process_exit(l, 1, 0, "big");
	p = proc(l, 0);
	assert_int_equal(p->leaks.count, 2);
	assert_int_equal(stats(p, 0, DL_MEM_DRAM)->leaked_bytes, 1ULL << 63);
	assert_int_equal(ledger__rejected(l), 3);
	alloc(l, 2, 0, DL_MEM_DRAM, 0, 1ULL << 63);
	close_device(l, 2, 0);
	alloc(l, 2, 0, DL_MEM_DRAM, 0, 1ULL << 63);
	close_device(l, 2, 0);
	alloc(l, 2, 0, DL_MEM_DRAM, 0, 1ULL << 63);
	close_device(l, 2, 0);
	p = proc(l, 1);
	assert_int_equal(stats(p, 0, DL_MEM_DRAM)->untracked_frees, 3);
	assert_true(stats(p, 0, DL_MEM_DRAM)->untracked_bytes == UINT64_MAX);
	/* The second and the third release would each have wrapped the total. */
	assert_int_equal(ledger__rejected(l), 5);
}

/* Dataflow buffers keep a union of their own beside the CBs', and go with their program. */
static void test_dfb_beside_cbs(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	cb(l, 10, 0, 0xA, 101152, 4096);
	assert_int_equal(send(l, DL_EV_CB_ALLOC, 10, 0, DL_MEM_DFB, 101152, 8192, 0xB, 0), 0);
	assert_int_equal(send(l, DL_EV_CB_ALLOC, 10, 0, DL_MEM_DFB, 105248, 8192, 0xC, 0), 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_CB), 4096, 4096, 1, 1, 0, 0, 0, 0, 0);
	/* Union [101152, 113440): 12 KiB. */
	assert_stats(stats(p, 0, DL_MEM_DFB), 12288, 12288, 2, 2, 0, 0, 0, 0, 0);
	assert_int_equal(send(l, DL_EV_PROGRAM_DESTROYED, 10, -1, DL_MEM_CB, 0, 0, 0xB, 0), 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_DFB), 8192, 12288, 1, 2, 0, 1, 8192, 0, 0);
	assert_int_equal(p->untracked_frees.items[0].mem_type, DL_MEM_DFB);
	assert_int_equal(p->untracked_frees.items[0].reason, LEDGER_REASON_PROGRAM_DESTROYED);
	/* A device's close ends both kinds; the live list names each by its type. */
	assert_int_equal(ledger__finish(l), 0);
	assert_int_equal(proc(l, 0)->live.count, 2);
	close_device(l, 10, 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_CB), 0, 4096, 0, 1, 0, 1, 4096, 0, 0);
	assert_stats(stats(p, 0, DL_MEM_DFB), 0, 12288, 0, 2, 0, 2, 16384, 0, 0);
	assert_string_equal(ledger_mem_type_name(DL_MEM_DFB), "DFB");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(ledger_reason_name(LEDGER_REASON_PROGRAM_DESTROYED),
			    "program_destroyed");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_DEVICE_CLOSED), "device_closed");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_CB_DEALLOCATE_ALL),
			    "cb_deallocate_all");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_CB_REALLOCATED), "cb_reallocated");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_UNKNOWN_ADDRESS), "unknown_address");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_DOUBLE_FREE), "double_free");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_ALLOCATOR_FREE), "allocator_free");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_ALLOCATOR_CLEAR), "allocator_clear");
	assert_string_equal(ledger_reason_name(LEDGER_REASON_MESH_CLOSED), "mesh_closed");
	assert_null(ledger_reason_name(LEDGER_REASONS));
	assert_string_equal(ledger_device_kind_name(DL_DEVICE_CHIP), "chip");
	assert_string_equal(ledger_device_kind_name(DL_DEVICE_MESH), "mesh");
	assert_null(ledger_device_kind_name(DL_DEVICE_KINDS));
	assert_string_equal(ledger_mem_type_name(DL_MEM_L1_SMALL), "L1_SMALL");
	assert_string_equal(ledger_mem_type_name(DL_MEM_CB), "CB");
	assert_null(ledger_mem_type_name(DL_MEM_TYPES));
}

/* Two bank managers and two allocators of chips 0 and 1; a mesh and its allocator. */
#define BANK0_DRAM  0xB00
#define BANK0_L1    0xB01
#define BANK1_DRAM  0xB10
#define ALLOCATOR_0 0xA00
#define ALLOCATOR_1 0xA10
#define MESH	    0x5E5
#define MESH_ALLOC  0xA50

static void alloc_via(struct ledger *l, uint32_t tid, uint8_t kind, int32_t dev, uint8_t type,
		      uint64_t addr, uint64_t size, uint64_t allocator)
{
	assert_int_equal(send_from(l, DL_EV_ALLOC, 10, tid, kind, dev, kind ? MESH : 0, type, addr,
				   size, allocator),
			 0);
}

/* A bank manager's release of one address, as its probe reports it. */
static void bank_free(struct ledger *l, uint32_t tid, uint64_t bank, uint8_t type, uint64_t addr)
{
	assert_int_equal(send_from(l, DL_EV_BANK_FREE, 10, tid, 0, -1, 0, type, addr, 0, bank), 0);
}

static void tracked_free(struct ledger *l, uint32_t tid, int32_t dev, uint8_t type, uint64_t addr)
{
	assert_int_equal(send_from(l, DL_EV_FREE, 10, tid, 0, dev, 0, type, addr, 0, 0), 0);
}

/* track_deallocate, then the allocator's release on the same thread: one free, and the bank
 * learned. */
static void test_tracked_free_pairs_with_bank(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc_via(l, 7, 0, 0, DL_MEM_DRAM, 0x1000, 4096, ALLOCATOR_0);
	alloc_via(l, 7, 0, 1, DL_MEM_DRAM, 0x1000, 4096, ALLOCATOR_1);
	alloc_via(l, 8, 0, 0, DL_MEM_DRAM, 0x3000, 1024, ALLOCATOR_0);
	tracked_free(l, 7, 0, DL_MEM_DRAM, 0x1000);
	/* Another thread's record in between does not break the pair. */
	alloc_via(l, 8, 0, 1, DL_MEM_DRAM, 0x5000, 512, ALLOCATOR_1);
	bank_free(l, 7, BANK0_DRAM, DL_MEM_DRAM, 0x1000);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 1024, 5120, 1, 2, 1, 0, 0, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_DRAM), 4608, 4608, 2, 2, 0, 0, 0, 0, 0);
	assert_int_equal(p->untracked_frees.count, 0);
	assert_int_equal(p->unmatched_frees.count, 0);

	/*
	 * An unpaired release in the learned bank, on another thread: device 0's
	 * buffer at 0x3000, though nothing tells it from the address alone.
	 */
	alloc_via(l, 8, 0, 1, DL_MEM_DRAM, 0x3000, 2048, ALLOCATOR_1);
	bank_free(l, 9, BANK0_DRAM, DL_MEM_DRAM, 0x3000);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 0, 5120, 0, 2, 1, 1, 1024, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_DRAM), 6656, 6656, 3, 3, 0, 0, 0, 0, 0);
	assert_int_equal(p->untracked_frees.count, 1);
	assert_int_equal(p->untracked_frees.items[0].reason, LEDGER_REASON_ALLOCATOR_FREE);
	assert_int_equal(p->untracked_frees.items[0].address, 0x3000);
	assert_int_equal(p->untracked_frees.items[0].device_id, 0);
	/* Its Buffer reports the free later: the same free, counted once. */
	tracked_free(l, 8, 0, DL_MEM_DRAM, 0x3000);
	p = proc(l, 0);
	assert_int_equal(p->unmatched_frees.count, 0);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 0, 5120, 0, 2, 1, 1, 1024, 0, 0);
}

/* A release in a bank never seen: the only device with that address live, or nobody. */
static void test_bank_free_in_unknown_bank(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x100, 64, ALLOCATOR_0);
	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x200, 64, ALLOCATOR_0);
	alloc_via(l, 7, 0, 1, DL_MEM_L1, 0x200, 32, ALLOCATOR_1);
	bank_free(l, 7, BANK0_L1, DL_MEM_L1, 0x100);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_L1), 64, 128, 1, 2, 0, 1, 64, 0, 0);
	assert_int_equal(p->unattributed_frees, 0);
	/* Two devices hold 0x200: not told, not guessed, and counted. */
	bank_free(l, 7, 0xB99, DL_MEM_L1, 0x200);
	p = proc(l, 0);
	assert_int_equal(p->unattributed_frees, 1);
	assert_stats(stats(p, 0, DL_MEM_L1), 64, 128, 1, 2, 0, 1, 64, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_L1), 32, 32, 1, 1, 0, 0, 0, 0, 0);
	/* An address nothing holds (allocated before devledger looked): nothing to end. */
	bank_free(l, 7, BANK0_L1, DL_MEM_L1, 0x900);
	assert_int_equal(proc(l, 0)->untracked_frees.count, 1);
}

/*
 * The allocator's release of one buffer at a call that reports nothing (a
 * MeshBuffer released by its mesh's allocator): its device comes with it, so
 * the address alone need not tell it; within a mesh's close it is the close's.
 */
static void test_allocator_free_at_its_call(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc_via(l, 7, DL_DEVICE_MESH, 0, DL_MEM_L1, 0x200, 8192, MESH_ALLOC);
	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x200, 64, ALLOCATOR_0);
	alloc_via(l, 7, DL_DEVICE_MESH, 0, DL_MEM_DRAM, 0x400, 4096, MESH_ALLOC);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_FREE, 10, 7, DL_DEVICE_MESH, 0, MESH,
				   DL_MEM_L1, 0x200, 8192, 0),
			 0);
	p = proc(l, 0);
	assert_int_equal(p->untracked_frees.count, 1);
	assert_int_equal(p->untracked_frees.items[0].reason, LEDGER_REASON_ALLOCATOR_FREE);
	assert_int_equal(p->untracked_frees.items[0].address, 0x200);
	assert_int_equal(p->untracked_frees.items[0].size, 8192);
	assert_int_equal(p->untracked_frees.items[0].device_kind, DL_DEVICE_MESH);
	/* The chip's buffer at the same address stays. */
	assert_stats(stats(p, 0, DL_MEM_L1), 64, 64, 1, 1, 0, 0, 0, 0, 0);
	/* Again (its mesh closed already, or allocated before devledger looked): nothing. */
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_FREE, 10, 7, DL_DEVICE_MESH, 0, MESH,
				   DL_MEM_L1, 0x200, 8192, 0),
			 0);
	assert_int_equal(proc(l, 0)->untracked_frees.count, 1);
	/* Inside the mesh's close: the close names it. */
	assert_int_equal(send_from(l, DL_EV_MESH_CLOSE, 10, 7, DL_DEVICE_MESH, 0, MESH, 0, 0, 0, 0),
			 0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_FREE, 10, 7, DL_DEVICE_MESH, 0, MESH,
				   DL_MEM_DRAM, 0x400, 4096, 0),
			 0);
	p = proc(l, 0);
	assert_int_equal(p->untracked_frees.count, 2);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(p->untracked_frees.items[i].reason,
				 p->untracked_frees.items[i].address == 0x400
					 ? LEDGER_REASON_MESH_CLOSED
					 : LEDGER_REASON_ALLOCATOR_FREE);
	/* Program-scope L1 is no allocator's buffer: rejected. */
	assert_int_equal(
		send_from(l, DL_EV_ALLOCATOR_FREE, 10, 7, 0, 0, 0, DL_MEM_CB, 0x200, 64, 0),
		-EINVAL);
}

/*
 * Allocator::deallocate_buffers outside any close: the allocator's device
 * (from its allocations) ends everything with allocator_clear; the banks
 * cleared inside learn their device.
 */
static void test_allocator_clear(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x100, 64, ALLOCATOR_0);
	alloc_via(l, 7, 0, 0, DL_MEM_DRAM, 0x100, 128, ALLOCATOR_0);
	alloc_via(l, 7, 0, 1, DL_MEM_L1, 0x100, 32, ALLOCATOR_1);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR, 10, 7, 0, -1, 0, 0, 0, 0, ALLOCATOR_0),
			 0);
	assert_int_equal(
		send_from(l, DL_EV_BANK_FREE_ALL, 10, 7, 0, -1, 0, DL_MEM_L1, 0, 0, BANK0_L1), 0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR_END, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_L1), 0, 64, 0, 1, 0, 1, 64, 0, 0);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 0, 128, 0, 1, 0, 1, 128, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_L1), 32, 32, 1, 1, 0, 0, 0, 0, 0);
	assert_int_equal(p->untracked_frees.count, 2);
	for (size_t i = 0; i < p->untracked_frees.count; i++)
		assert_int_equal(p->untracked_frees.items[i].reason, LEDGER_REASON_ALLOCATOR_CLEAR);

	/* The bank learned inside the clear: its deallocate_all alone now ends device 0's L1. */
	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x300, 16, ALLOCATOR_0);
	assert_int_equal(
		send_from(l, DL_EV_BANK_FREE_ALL, 10, 9, 0, -1, 0, DL_MEM_L1, 0, 0, BANK0_L1), 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_L1), 0, 64, 0, 2, 0, 2, 80, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_L1), 32, 32, 1, 1, 0, 0, 0, 0, 0);
	/* A bank nobody can place (no clear, no close around it): counted, nothing ended. */
	assert_int_equal(send_from(l, DL_EV_BANK_FREE_ALL, 10, 9, 0, -1, 0, DL_MEM_L1, 0, 0, 0xBAD),
			 0);
	assert_int_equal(proc(l, 0)->unattributed_frees, 1);
	assert_stats(stats(proc(l, 0), 1, DL_MEM_L1), 32, 32, 1, 1, 0, 0, 0, 0, 0);
}

/*
 * A device with two allocators (its own and a sub-device manager's): a clear
 * of one ends its buffers only, and a bank cleared inside it belongs to it.
 */
static void test_clear_of_one_allocator(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x100, 64, ALLOCATOR_0);
	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x900, 16, 0xA0B); /* the sub-device's */
	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x980, 8, 0xA0B);
	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x200, 32, ALLOCATOR_0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR, 10, 7, 0, -1, 0, 0, 0, 0, 0xA0B), 0);
	assert_int_equal(send_from(l, DL_EV_BANK_FREE_ALL, 10, 7, 0, -1, 0, DL_MEM_L1, 0, 0, 0xB0B),
			 0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR_END, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	p = proc(l, 0);
	assert_stats(stats(p, 0, DL_MEM_L1), 96, 120, 2, 4, 0, 2, 24, 0, 0);
	assert_int_equal(p->untracked_frees.items[0].address, 0x900);
	assert_int_equal(p->untracked_frees.items[1].address, 0x980);

	/* Its bank, cleared again later on its own, still ends only that allocator's buffers. */
	alloc_via(l, 7, 0, 0, DL_MEM_L1, 0x900, 4, 0xA0B);
	assert_int_equal(send_from(l, DL_EV_BANK_FREE_ALL, 10, 9, 0, -1, 0, DL_MEM_L1, 0, 0, 0xB0B),
			 0);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_L1), 96, 120, 2, 5, 0, 3, 28, 0, 0);
	/* The device's own allocator cleared: the rest. */
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR, 10, 7, 0, -1, 0, 0, 0, 0, ALLOCATOR_0),
			 0);
	assert_stats(stats(proc(l, 0), 0, DL_MEM_L1), 0, 120, 0, 5, 0, 5, 124, 0, 0);
}

/* Inside Device::close the allocator's clear is the close: device_closed, as at its return. */
static void test_clear_inside_device_close(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc_via(l, 7, 0, 3, DL_MEM_DRAM, 0x100, 64, 0); /* allocator unknown */
	cb(l, 10, 3, 0xA, 101152, 4096);
	assert_int_equal(send_from(l, DL_EV_DEVICE_CLOSE, 10, 7, 0, 3, 0, 0, 0, 0, 0), 0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR, 10, 7, 0, -1, 0, 0, 0, 0, 0xA77), 0);
	/* Released inside the clear, before the close returns. */
	p = proc(l, 0);
	assert_stats(stats(p, 3, DL_MEM_DRAM), 0, 64, 0, 1, 0, 1, 64, 0, 0);
	assert_stats(stats(p, 3, DL_MEM_CB), 4096, 4096, 1, 1, 0, 0, 0, 0, 0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR_END, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	assert_int_equal(send_from(l, DL_EV_DEVICE_CLOSED, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	p = proc(l, 0);
	assert_stats(stats(p, 3, DL_MEM_CB), 0, 4096, 0, 1, 0, 1, 4096, 0, 0);
	assert_int_equal(p->untracked_frees.count, 2);
	for (size_t i = 0; i < p->untracked_frees.count; i++)
		assert_int_equal(p->untracked_frees.items[i].reason, LEDGER_REASON_DEVICE_CLOSED);
}

/*
 * A mesh is its own device, apart from chip 0 although its id is 0 too.
 * MeshDevice::close clears its allocator, then closes its chips inside
 * it: everything released in there is mesh_closed.
 */
static void test_mesh_close(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	alloc_via(l, 7, DL_DEVICE_MESH, 0, DL_MEM_DRAM, 0x1000, 8192, MESH_ALLOC);
	alloc_via(l, 7, DL_DEVICE_CHIP, 0, DL_MEM_DRAM, 0x1000, 4096, ALLOCATOR_0);
	alloc_via(l, 7, DL_DEVICE_CHIP, 1, DL_MEM_DRAM, 0x1000, 4096, ALLOCATOR_1);
	cb(l, 10, 0, 0xA, 101152, 2048);
	p = proc(l, 0);
	assert_int_equal(p->device_count, 3);
	assert_int_equal(p->devices[2].kind, DL_DEVICE_MESH);
	assert_stats(stats_of(p, DL_DEVICE_MESH, 0, DL_MEM_DRAM), 8192, 8192, 1, 1, 0, 0, 0, 0, 0);

	assert_int_equal(send_from(l, DL_EV_MESH_CLOSE, 10, 7, DL_DEVICE_MESH, 0, MESH, 0, 0, 0, 0),
			 0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR, 10, 7, 0, -1, 0, 0, 0, 0, MESH_ALLOC),
			 0);
	assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR_END, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	for (int32_t chip = 0; chip < 2; chip++) {
		assert_int_equal(send_from(l, DL_EV_DEVICE_CLOSE, 10, 7, 0, chip, 0, 0, 0, 0, 0),
				 0);
		assert_int_equal(send_from(l, DL_EV_ALLOCATOR_CLEAR, 10, 7, 0, -1, 0, 0, 0, 0,
					   chip ? ALLOCATOR_1 : ALLOCATOR_0),
				 0);
		assert_int_equal(
			send_from(l, DL_EV_ALLOCATOR_CLEAR_END, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
		assert_int_equal(send_from(l, DL_EV_DEVICE_CLOSED, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	}
	assert_int_equal(send_from(l, DL_EV_MESH_CLOSED, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	p = proc(l, 0);
	assert_stats(stats_of(p, DL_DEVICE_MESH, 0, DL_MEM_DRAM), 0, 8192, 0, 1, 0, 1, 8192, 0, 0);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 0, 4096, 0, 1, 0, 1, 4096, 0, 0);
	assert_stats(stats(p, 1, DL_MEM_DRAM), 0, 4096, 0, 1, 0, 1, 4096, 0, 0);
	assert_stats(stats(p, 0, DL_MEM_CB), 0, 2048, 0, 1, 0, 1, 2048, 0, 0);
	assert_int_equal(p->untracked_frees.count, 4);
	for (size_t i = 0; i < p->untracked_frees.count; i++)
		assert_int_equal(p->untracked_frees.items[i].reason, LEDGER_REASON_MESH_CLOSED);
	/* Sorted chips first: the mesh's entry comes last. */
	assert_int_equal(p->untracked_frees.items[3].device_kind, DL_DEVICE_MESH);
	assert_int_equal(p->untracked_frees.items[3].size, 8192);
	/* The chips closed inside the mesh's close are its chips, each once. */
	assert_int_equal(p->mesh_chip_count, 2);
	assert_int_equal(p->mesh_chips[0].mesh_id, 0);
	assert_int_equal(p->mesh_chips[0].chip_id, 0);
	assert_int_equal(p->mesh_chips[1].chip_id, 1);
	/* A chip closed on its own afterwards is no mesh's. */
	assert_int_equal(send_from(l, DL_EV_DEVICE_CLOSE, 10, 7, 0, 5, 0, 0, 0, 0, 0), 0);
	assert_int_equal(send_from(l, DL_EV_DEVICE_CLOSED, 10, 7, 0, -1, 0, 0, 0, 0, 0), 0);
	assert_int_equal(proc(l, 0)->mesh_chip_count, 2);
}

/* Meshes whose id the library does not tell are numbered by the order first seen. */
static void test_meshes_numbered(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	assert_int_equal(send_from(l, DL_EV_ALLOC, 10, 7, DL_DEVICE_MESH, -1, 0x9000, DL_MEM_L1,
				   0x10, 16, 0),
			 0);
	assert_int_equal(send_from(l, DL_EV_ALLOC, 10, 7, DL_DEVICE_MESH, -1, 0x8000, DL_MEM_L1,
				   0x10, 32, 0),
			 0);
	assert_int_equal(
		send_from(l, DL_EV_FREE, 10, 7, DL_DEVICE_MESH, -1, 0x9000, DL_MEM_L1, 0x10, 0, 0),
		0);
	p = proc(l, 0);
	assert_stats(stats_of(p, DL_DEVICE_MESH, 0, DL_MEM_L1), 0, 16, 0, 1, 1, 0, 0, 0, 0);
	assert_stats(stats_of(p, DL_DEVICE_MESH, 1, DL_MEM_L1), 32, 32, 1, 1, 0, 0, 0, 0, 0);
	/* A record naming a kind that does not exist is refused. */
	assert_int_equal(
		send_from(l, DL_EV_ALLOC, 10, 7, DL_DEVICE_KINDS, 0, 0, DL_MEM_L1, 0x10, 16, 0),
		-EINVAL);
}

/*
 * A long random sequence over 3 processes, 3 devices and 4 types, checked
 * after every step against a plain reference model kept here: live bytes,
 * counts, peaks and the invariant. Enough distinct addresses to grow the
 * table several times.
 */
#define MODEL_ADDRESSES 3000

struct model_cell {
	uint64_t live_bytes, peak, live_count, allocs, frees, unmatched;
	uint64_t size[MODEL_ADDRESSES]; /* 0: not live */
	uint8_t seen[MODEL_ADDRESSES];
};

static uint64_t rng_state = 12345;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_random_against_model(void **state)
{
	struct ledger *l = *state;
	static struct model_cell model[3][3][4];
	uint64_t unmatched = 0;
	int steps = colliding ? 4000 : 30000;

	memset(model, 0, sizeof(model));
	for (uint32_t p = 0; p < 3; p++)
		assert_int_equal(ledger__add_process(l, 100 + p), 0);
	for (int step = 0; step < steps; step++) {
		int p = (int)(rng() % 3), d = (int)(rng() % 3), t = (int)(rng() % 4);
		uint64_t a = rng() % MODEL_ADDRESSES, size = 32 * (1 + rng() % 100);
		struct model_cell *m = &model[p][d][t];
		uint8_t type =
			(uint8_t[]){ DL_MEM_DRAM, DL_MEM_L1, DL_MEM_L1_SMALL, DL_MEM_TRACE }[t];
		const struct ledger_stats *s;

		if (rng() % 2 && !m->size[a]) {
			alloc(l, 100 + p, d, type, a * 4096, size);
			m->size[a] = size;
			m->seen[a] = 1;
			m->allocs++;
			m->live_count++;
			m->live_bytes += size;
			if (m->live_bytes > m->peak)
				m->peak = m->live_bytes;
		} else {
			dealloc(l, 100 + p, d, type, a * 4096);
			if (m->size[a]) {
				m->live_bytes -= m->size[a];
				m->live_count--;
				m->frees++;
				m->size[a] = 0;
			} else {
				unmatched++;
			}
		}
		if (step % 997 == 0 || step == steps - 1) {
			uint64_t got_unmatched = 0;

			for (size_t i = 0; i < 3; i++) {
				const struct ledger_process *pr = proc(l, i);

				got_unmatched += pr->unmatched_frees.count;
				for (int dd = 0; dd < 3; dd++)
					for (int tt = 0; tt < 4; tt++) {
						struct model_cell *mm = &model[i][dd][tt];
						uint8_t ty = (uint8_t[]){ DL_MEM_DRAM, DL_MEM_L1,
									  DL_MEM_L1_SMALL,
									  DL_MEM_TRACE }[tt];

						if (!mm->allocs && !mm->frees)
							continue;
						s = stats(pr, dd, ty);
						assert_stats(s, mm->live_bytes, mm->peak,
							     mm->live_count, mm->allocs, mm->frees,
							     0, 0, 0, 0);
					}
			}
			assert_int_equal(got_unmatched, unmatched);
		}
	}
}

/* 200,000 allocations: the table grows through many sizes and keeps them all. */
static void test_growth(void **state)
{
	struct ledger *l = *state;
	const int count = 200000;

	for (int i = 0; i < count; i++)
		alloc(l, 1, i % 8, DL_MEM_DRAM, (uint64_t)i * 64, 64);
	/* Every other run of 8: half of each device's buffers. */
	for (int i = 0; i < count; i++)
		if ((i / 8) % 2 == 0)
			dealloc(l, 1, i % 8, DL_MEM_DRAM, (uint64_t)i * 64);
	for (int d = 0; d < 8; d++)
		assert_stats(stats(proc(l, 0), d, DL_MEM_DRAM), count / 16 * 64, count / 8 * 64,
			     count / 16, count / 8, count / 16, 0, 0, 0, 0);
	assert_int_equal(proc(l, 0)->live.count, count / 2);
	assert_int_equal(proc(l, 0)->unmatched_frees.count, 0);
}

/*
 * A process that never frees cannot exhaust the ledger: past max_live its
 * allocations are dropped and counted. Its frees of what was kept still count.
 */
static void test_max_live(void **state)
{
	struct ledger_opts opts = { .max_live = 1000 };
	struct ledger *l = ledger__new(&opts);
	const struct ledger_process *p;

	(void)state;
	assert_non_null(l);
	for (uint64_t i = 0; i < 3000; i++)
		alloc(l, 5, 0, DL_MEM_DRAM, i * 4096, 4096);
	p = proc(l, 0);
	assert_int_equal(p->dropped_allocations, 2000);
	assert_int_equal(ledger__dropped(l), 2000);
	assert_stats(stats(p, 0, DL_MEM_DRAM), 1000 * 4096, 1000 * 4096, 1000, 1000, 0, 0, 0, 0, 0);
	/* Room again once one is freed; a live address allocated again is not a new one. */
	dealloc(l, 5, 0, DL_MEM_DRAM, 0);
	alloc(l, 5, 0, DL_MEM_DRAM, 4096, 4096);
	alloc(l, 5, 0, DL_MEM_DRAM, 1ULL << 40, 4096);
	alloc(l, 5, 0, DL_MEM_DRAM, 1ULL << 41, 4096);
	p = proc(l, 0);
	assert_int_equal(p->dropped_allocations, 2001);
	assert_int_equal(stats(p, 0, DL_MEM_DRAM)->live_count, 1000);
	/* Another process has its own bound. */
	alloc(l, 6, 0, DL_MEM_DRAM, 0, 4096);
	assert_int_equal(proc(l, 1)->dropped_allocations, 0);
	ledger__free(l);
}

/*
 * Memory stays the size of what is live: millions of allocations freed at
 * ever new addresses, and processes that come and go, leave the table small.
 */
static void test_memory_bounded(void **state)
{
	struct ledger *l = *state;
	size_t after_warmup = 0;

	for (uint64_t i = 0; i < 400000; i++) {
		alloc(l, 7, 0, DL_MEM_L1, i * 32, 32);
		dealloc(l, 7, 0, DL_MEM_L1, i * 32);
		if (i == 20000)
			after_warmup = ledger__memory_bytes(l);
		/* Colliding keys make each lookup a walk: fewer of them. */
		if (colliding && i == 30000)
			break;
	}
	assert_true(after_warmup > 0);
	assert_true(ledger__memory_bytes(l) <= after_warmup);
	assert_int_equal(proc(l, 0)->unmatched_frees.count, 0);
	/* Processes that leak and exit: their tables go with them. */
	for (uint32_t pid = 100; pid < 400; pid++) {
		for (uint64_t a = 0; a < 20; a++)
			alloc(l, pid, 0, DL_MEM_DRAM, a * 2048, 2048);
		process_exit(l, pid, 0, "worker");
	}
	/* Each keeps its state and its list of leaks for the summary (about 5 KiB here), no more.
	 */
	assert_true(ledger__memory_bytes(l) < after_warmup + 300 * 8192);
	assert_int_equal(ledger__dropped(l), 0);
}

/*
 * Each process and device has a table of its own: a close ends its device's
 * buffers only, and an exit frees its tables (its leaks stay listed).
 */
static void test_tables_per_device(void **state)
{
	struct ledger *l = *state;
	size_t before, held;
	int many = colliding ? 300 : 5000;

	alloc(l, 8, 1, DL_MEM_DRAM, 0, 64);
	before = ledger__memory_bytes(l);
	for (int i = 0; i < many; i++)
		alloc(l, 9, 0, DL_MEM_DRAM, (uint64_t)i * 64, 64);
	held = ledger__memory_bytes(l);
	assert_true(held >= before + (size_t)many * 32);
	/* Another process's close of its device 1 leaves process 9's device 0 alone. */
	close_device(l, 8, 1);
	assert_int_equal(stats(proc(l, 1), 0, DL_MEM_DRAM)->live_count, many);
	assert_int_equal(stats(proc(l, 0), 1, DL_MEM_DRAM)->untracked_frees, 1);
	/* Freed, their keys stay (to tell a double free); at the exit the table goes. */
	for (int i = 0; i < many; i++)
		dealloc(l, 9, 0, DL_MEM_DRAM, (uint64_t)i * 64);
	assert_int_equal(ledger__finish(l),
			 0); /* the live lists that finish fills stay allocated */
	held = ledger__memory_bytes(l);
	process_exit(l, 9, 0, "many");
	assert_int_equal(proc(l, 1)->leaks.count, 0);
	assert_true(ledger__memory_bytes(l) + (size_t)many * 32 <= held);
}


/* What an observer of the ledger rebuilds from the changes alone. */
struct observed {
	uint64_t live[4][DL_MEM_TYPES]; /* by chip id 0..3 */
	uint64_t ended[LEDGER_REASONS];
	uint64_t ended_bytes;
	uint64_t unmatched, closed, exited;
	uint64_t last_ts;
	bool ts_backwards;
};

static void observe(void *ctx, const struct ledger_change *c)
{
	struct observed *o = ctx;

	assert_int_equal(c->pid, 10);
	o->ts_backwards |= c->ts_ns < o->last_ts;
	o->last_ts = c->ts_ns;
	switch (c->kind) {
	case LEDGER_CHANGE_LIVE:
		assert_true(c->device_id >= 0 && c->device_id < 4);
		o->live[c->device_id][c->mem_type] = c->stats->live_bytes;
		break;
	case LEDGER_CHANGE_ENDED:
		o->ended[c->record->reason]++;
		o->ended_bytes += c->record->size;
		break;
	case LEDGER_CHANGE_UNMATCHED:
		o->unmatched++;
		break;
	case LEDGER_CHANGE_CLOSED:
		o->closed++;
		break;
	case LEDGER_CHANGE_EXITED:
		o->exited++;
		break;
	}
}

static void test_observer_sees_every_change(void **state)
{
	struct ledger *l = *state;
	struct observed o = { 0 };
	const struct ledger_process *p;
	uint64_t untracked = 0, leaked = 0;

	ledger__observe(l, observe, &o);
	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 4096);
	alloc(l, 10, 0, DL_MEM_DRAM, 0x3000, 1024);
	alloc(l, 10, 1, DL_MEM_L1, 0x1000, 64);
	dealloc(l, 10, 0, DL_MEM_DRAM, 0x1000);
	dealloc(l, 10, 0, DL_MEM_DRAM, 0x9000); /* matches nothing */
	cb(l, 10, 0, 0xA, 101152, 4096);
	cb(l, 10, 0, 0xA, 105248, 4096);
	cb(l, 10, 1, 0xB, 101152, 2048);
	assert_int_equal(o.live[0][DL_MEM_CB], 8192);
	close_device(l, 10, 0);
	assert_int_equal(o.closed, 1);
	assert_int_equal(o.live[0][DL_MEM_DRAM], 0);
	assert_int_equal(o.live[1][DL_MEM_L1], 64);
	process_exit(l, 10, 0, "t");
	assert_int_equal(o.exited, 1);
	assert_int_equal(o.unmatched, 1);
	assert_false(o.ts_backwards);
	/* The observer's picture is the ledger's own, series by series. */
	p = proc(l, 0);
	for (size_t d = 0; d < p->device_count; d++)
		for (int t = 0; t < DL_MEM_TYPES; t++) {
			const struct ledger_stats *st = &p->devices[d].mem[t];

			assert_int_equal(o.live[p->devices[d].device_id][t], st->live_bytes);
			untracked += st->untracked_bytes;
			leaked += st->leaked_bytes;
		}
	assert_int_equal(o.ended[LEDGER_REASON_DEVICE_CLOSED], 3); /* a DRAM buffer, two CBs */
	assert_int_equal(o.ended[LEDGER_REASON_NONE], 2); /* the L1 buffer and the CB of chip 1 */
	assert_int_equal(o.ended_bytes, untracked + leaked);
	ledger__observe(l, NULL, NULL);
	alloc(l, 11, 0, DL_MEM_DRAM, 0x1000, 4096);
	assert_int_equal(o.live[0][DL_MEM_DRAM], 0);
}

/* Several observers (a timeline and metrics) each see every change, in the order added. */
static void count_change(void *ctx, const struct ledger_change *c)
{
	uint64_t *counts = ctx;

	(void)c;
	counts[0]++;
}

static void test_observers_listed(void **state)
{
	struct ledger *l = *state;
	uint64_t first[1] = { 0 }, second[1] = { 0 };

	assert_int_equal(ledger__observe(l, count_change, first), 0);
	assert_int_equal(ledger__observe(l, count_change, second), 0);
	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 4096);
	dealloc(l, 10, 0, DL_MEM_DRAM, 0x1000);
	assert_int_equal(first[0], 2);
	assert_int_equal(second[0], 2);
	for (int i = 2; i < LEDGER_MAX_OBSERVERS; i++)
		assert_int_equal(ledger__observe(l, count_change, first), 0);
	assert_int_equal(ledger__observe(l, count_change, first), -ENOSPC);
	ledger__observe(l, NULL, NULL);
	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 4096);
	assert_int_equal(second[0], 2);
}

/* What ledger__release_exited handed out, copied during the call. */
struct released {
	uint32_t pids[8];
	uint64_t leaked_bytes[8];
	uint64_t untracked_bytes[8];
	size_t leak_records[8];
	size_t count;
};

static void on_release(void *ctx, const struct ledger_process *p)
{
	struct released *r = ctx;

	assert_true(r->count < 8);
	assert_true(p->exited);
	assert_int_equal(p->live.count, 0);
	r->pids[r->count] = p->pid;
	r->leak_records[r->count] = p->leaks.count;
	for (size_t d = 0; d < p->device_count; d++)
		for (int t = 0; t < DL_MEM_TYPES; t++) {
			r->leaked_bytes[r->count] += p->devices[d].mem[t].leaked_bytes;
			r->untracked_bytes[r->count] += p->devices[d].mem[t].untracked_bytes;
		}
	/* Sorted by address, as ledger__finish sorts them. */
	for (size_t i = 1; i < p->leaks.count; i++)
		assert_true(p->leaks.items[i - 1].address < p->leaks.items[i].address);
	r->count++;
}

/* An exited process is handed out once, whole, then forgotten; a running one stays. */
static void test_release_exited_hands_out_and_forgets(void **state)
{
	struct ledger *l = *state;
	struct released r = { 0 };

	alloc(l, 10, 0, DL_MEM_DRAM, 0x5000, 300);
	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 100);
	alloc(l, 10, 1, DL_MEM_L1, 0x1000, 64);
	close_device(l, 10, 1);
	alloc(l, 11, 0, DL_MEM_DRAM, 0x1000, 4096);
	process_exit(l, 10, 0, "gone");
	assert_int_equal(ledger__release_exited(l, on_release, &r), 1);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.pids[0], 10);
	assert_int_equal(r.leak_records[0], 2);
	assert_int_equal(r.leaked_bytes[0], 400);
	assert_int_equal(r.untracked_bytes[0], 64);
	/* Once only. */
	assert_int_equal(ledger__release_exited(l, on_release, &r), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(process_count(l), 1);
	assert_int_equal(proc(l, 0)->pid, 11);
	assert_int_equal(ledger__set_comm(l, 10, "x"), -ENOENT);

	/* The pid again is a new process, counted from nothing in the entry the old one left. */
	alloc(l, 10, 0, DL_MEM_DRAM, 0x1000, 8);
	dealloc(l, 10, 0, DL_MEM_DRAM, 0x1000);
	dealloc(l, 10, 0, DL_MEM_DRAM, 0x5000); /* the old process's: unknown to this one */
	assert_int_equal(process_count(l), 2);
	assert_int_equal(proc(l, 0)->pid, 10);
	assert_int_equal(proc(l, 0)->devices[0].mem[DL_MEM_DRAM].allocs, 1);
	assert_int_equal(proc(l, 0)->devices[0].mem[DL_MEM_DRAM].frees, 1);
	assert_int_equal(proc(l, 0)->devices[0].mem[DL_MEM_DRAM].leaks, 0);
	assert_int_equal(proc(l, 0)->unmatched_frees.count, 1);
	assert_int_equal(proc(l, 0)->unmatched_frees.items[0].reason,
			 LEDGER_REASON_UNKNOWN_ADDRESS);
	assert_int_equal(proc(l, 1)->devices[0].mem[DL_MEM_DRAM].live_bytes, 4096);
}

/* Processes that come and go, each released: the ledger holds no more after 2000 than after 20. */
static void test_release_exited_keeps_memory_flat(void **state)
{
	struct ledger *l = *state;
	size_t after_warmup = 0;

	alloc(l, 1, 0, DL_MEM_DRAM, 0x1000, 4096); /* one that stays throughout */
	for (uint32_t i = 0; i < 2000; i++) {
		uint32_t pid = 100 + i;

		for (uint64_t a = 0; a < 50; a++)
			alloc(l, pid, (int32_t)(a % 4), DL_MEM_L1, 0x10000 + a * 64, 64);
		for (uint64_t a = 0; a < 40; a++)
			dealloc(l, pid, (int32_t)(a % 4), DL_MEM_L1, 0x10000 + a * 64);
		process_exit(l, pid, 0, "churn");
		assert_int_equal(ledger__release_exited(l, NULL, NULL), 1);
		if (i == 19)
			after_warmup = ledger__memory_bytes(l);
	}
	assert_int_equal(ledger__memory_bytes(l), after_warmup);
	assert_int_equal(process_count(l), 1);
	assert_int_equal(proc(l, 0)->devices[0].mem[DL_MEM_DRAM].live_bytes, 4096);
}

/* Releasing some of many pids (several sharing a home in the pid map) loses none of the rest. */
static void test_release_exited_keeps_other_pids(void **state)
{
	struct ledger *l = *state;

	for (uint32_t pid = 1; pid <= 300; pid++)
		alloc(l, pid, 0, DL_MEM_DRAM, 0x1000, pid);
	for (uint32_t pid = 1; pid <= 300; pid += 3)
		process_exit(l, pid, 0, "x");
	assert_int_equal(ledger__release_exited(l, NULL, NULL), 100);
	for (uint32_t pid = 1; pid <= 300; pid++)
		assert_int_equal(ledger__set_comm(l, pid, "y"), pid % 3 == 1 ? -ENOENT : 0);
	assert_int_equal(process_count(l), 200);
	/* A record of a running pid goes to its own process, not a new one. */
	for (uint32_t pid = 2; pid <= 300; pid += 3)
		dealloc(l, pid, 0, DL_MEM_DRAM, 0x1000);
	assert_int_equal(process_count(l), 200);
	for (size_t i = 0; i < 200; i++) {
		const struct ledger_process *p = proc(l, i);

		assert_int_equal(p->devices[0].mem[DL_MEM_DRAM].live_bytes,
				 p->pid % 3 == 2 ? 0 : p->pid);
		assert_int_equal(p->unmatched_frees.count, 0);
	}
}

/* A record with a stack tag, from the process's main thread on a chip. */
static void send_tagged(struct ledger *l, uint32_t kind, uint32_t pid, int32_t device, uint8_t type,
			uint64_t address, uint64_t size, uint64_t object, uint32_t stack)
{
	struct dl_event ev = { .kind = kind,
			       .pid = pid,
			       .tid = pid,
			       .ts_ns = now_ns++,
			       .address = address,
			       .size = size,
			       .object = object,
			       .device_id = device,
			       .mem_type = type };

	assert_int_equal(ledger__apply_with_stack(l, &ev, sizeof(ev), stack), 0);
}

static const struct ledger_site *site_of(const struct ledger_process *p, uint32_t stack)
{
	for (size_t i = 0; i < p->site_count; i++)
		if (p->sites[i].stack == stack)
			return &p->sites[i];
	return NULL;
}

/*
 * Where each allocation was made, and what released it: a close's entry
 * tags what goes at its return, even through an allocator clear inside it;
 * a program's destructor tags its CBs; a leak has no release stack.
 */
static void test_stack_tags(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;
	const struct ledger_site *site;

	send_tagged(l, DL_EV_ALLOC, 5, 0, DL_MEM_DRAM, 0x1000, 100, 0, 11);
	send_tagged(l, DL_EV_ALLOC, 5, 0, DL_MEM_DRAM, 0x2000, 200, 0, 11);
	send_tagged(l, DL_EV_ALLOC, 5, 0, DL_MEM_L1, 0x3000, 300, 0, 12);
	send_tagged(l, DL_EV_ALLOC, 5, 1, DL_MEM_L1, 0x4000, 400, 0, 13);
	send_tagged(l, DL_EV_CB_ALLOC, 5, 0, DL_MEM_CB, 0x5000, 50, 0xabc, 14);
	/* A tracked free: no release stack asked of it, and the site's live bytes drop. */
	send_tagged(l, DL_EV_FREE, 5, 0, DL_MEM_DRAM, 0x1000, 0, 0, 0);
	send_tagged(l, DL_EV_PROGRAM_DESTROYED, 5, 0, 0, 0, 0, 0xabc, 21);
	send_tagged(l, DL_EV_DEVICE_CLOSE, 5, 0, 0, 0, 0, 0, 22);
	send_tagged(l, DL_EV_ALLOCATOR_CLEAR, 5, 0, 0, 0, 0, 0x77, 23);
	send_tagged(l, DL_EV_ALLOCATOR_CLEAR_END, 5, 0, 0, 0, 0, 0, 0);
	send_tagged(l, DL_EV_DEVICE_CLOSED, 5, 0, 0, 0, 0, 0, 0);
	process_exit(l, 5, 0, "tags");

	p = proc(l, 0);
	assert_int_equal(p->untracked_frees.count, 3);
	/* Sorted by device, type, address: DRAM 0x2000, L1 0x3000, CB 0x5000. */
	assert_int_equal(p->untracked_frees.items[0].address, 0x2000);
	assert_int_equal(p->untracked_frees.items[0].stack, 11);
	assert_int_equal(p->untracked_frees.items[0].release_stack, 22);
	assert_int_equal(p->untracked_frees.items[1].stack, 12);
	assert_int_equal(p->untracked_frees.items[1].release_stack, 22);
	assert_int_equal(p->untracked_frees.items[2].mem_type, DL_MEM_CB);
	assert_int_equal(p->untracked_frees.items[2].stack, 14);
	assert_int_equal(p->untracked_frees.items[2].release_stack, 21);
	assert_int_equal(p->leaks.count, 1);
	assert_int_equal(p->leaks.items[0].stack, 13);
	assert_int_equal(p->leaks.items[0].release_stack, 0);

	assert_int_equal(p->site_count, 4);
	site = site_of(p, 11);
	assert_non_null(site);
	assert_int_equal(site->allocs, 2);
	assert_int_equal(site->peak_bytes, 300);
	assert_int_equal(site->live_bytes, 0);
	assert_int_equal(site->untracked_frees, 1);
	assert_int_equal(site->untracked_bytes, 200);
	assert_int_equal(site->leaks, 0);
	site = site_of(p, 13);
	assert_non_null(site);
	assert_int_equal(site->leaks, 1);
	assert_int_equal(site->leaked_bytes, 400);
	assert_int_equal(site_of(p, 14)->untracked_bytes, 50);
	assert_null(site_of(p, 22));
}

/*
 * An allocator's own release with no tracked free: released by that call (its tag); the same
 * inside a close: by the close.
 */
static void test_allocator_release_stack(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	send_tagged(l, DL_EV_ALLOC, 5, 0, DL_MEM_DRAM, 0x1000, 100, 0, 41);
	send_tagged(l, DL_EV_ALLOC, 5, 0, DL_MEM_DRAM, 0x2000, 200, 0, 42);
	send_tagged(l, DL_EV_BANK_FREE, 5, 0, DL_MEM_DRAM, 0x1000, 0, 0xbad, 51);
	send_tagged(l, DL_EV_DEVICE_CLOSE, 5, 0, 0, 0, 0, 0, 52);
	send_tagged(l, DL_EV_BANK_FREE, 5, 0, DL_MEM_DRAM, 0x2000, 0, 0xbad, 53);
	send_tagged(l, DL_EV_DEVICE_CLOSED, 5, 0, 0, 0, 0, 0, 0);
	p = proc(l, 0);
	assert_int_equal(p->untracked_frees.count, 2);
	assert_int_equal(p->untracked_frees.items[0].reason, LEDGER_REASON_ALLOCATOR_FREE);
	assert_int_equal(p->untracked_frees.items[0].stack, 41);
	assert_int_equal(p->untracked_frees.items[0].release_stack, 51);
	assert_int_equal(p->untracked_frees.items[1].reason, LEDGER_REASON_DEVICE_CLOSED);
	assert_int_equal(p->untracked_frees.items[1].stack, 42);
	assert_int_equal(p->untracked_frees.items[1].release_stack, 52);
}

/* Many sites in one process (the site index grows), and records without tags make none. */
static void test_many_sites(void **state)
{
	struct ledger *l = *state;
	const struct ledger_process *p;

	for (uint32_t i = 0; i < 1000; i++)
		send_tagged(l, DL_EV_ALLOC, 6, 0, DL_MEM_DRAM, 0x1000 + i * 0x100, 10 + i, 0,
			    1 + i % 300);
	alloc(l, 6, 0, DL_MEM_L1, 0x1000, 5);
	p = proc(l, 0);
	assert_int_equal(p->site_count, 300);
	for (uint32_t stack = 1; stack <= 300; stack++) {
		const struct ledger_site *site = site_of(p, stack);
		uint64_t bytes = 0, allocs = 0;

		for (uint32_t i = stack - 1; i < 1000; i += 300) {
			bytes += 10 + i;
			allocs++;
		}
		assert_non_null(site);
		assert_int_equal(site->allocs, allocs);
		assert_int_equal(site->live_bytes, bytes);
		assert_int_equal(site->peak_bytes, bytes);
	}
	assert_int_equal(p->live.count, 1001);
	assert_int_equal(p->live.items[0].stack, 1);
	assert_int_equal(p->live.items[1000].mem_type, DL_MEM_L1);
	assert_int_equal(p->live.items[1000].stack, 0);
}

#define BOTH(test)                                                                                 \
	cmocka_unit_test_setup_teardown(test, setup_default, teardown),                            \
		cmocka_unit_test_setup_teardown(test, setup_colliding, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_alloc_free_peak),
		BOTH(test_hooked_ignored),
		BOTH(test_unmatched_frees),
		BOTH(test_realloc_of_live_address),
		BOTH(test_device_closed),
		BOTH(test_cb_union_and_program_destroyed),
		BOTH(test_cb_union_shapes),
		BOTH(test_program_on_two_devices),
		BOTH(test_cb_deallocate_all_and_reallocated),
		BOTH(test_exit_makes_leaks),
		BOTH(test_exit_from_waitpid),
		BOTH(test_pid_reuse),
		BOTH(test_processes_sorted),
		BOTH(test_bad_records),
		BOTH(test_impossible_values),
		BOTH(test_dfb_beside_cbs),
		BOTH(test_stack_tags),
		BOTH(test_many_sites),
		BOTH(test_allocator_release_stack),
		cmocka_unit_test(test_max_live),
		BOTH(test_memory_bounded),
		BOTH(test_tables_per_device),
		BOTH(test_tracked_free_pairs_with_bank),
		BOTH(test_bank_free_in_unknown_bank),
		BOTH(test_allocator_free_at_its_call),
		BOTH(test_allocator_clear),
		BOTH(test_clear_of_one_allocator),
		BOTH(test_clear_inside_device_close),
		BOTH(test_mesh_close),
		BOTH(test_meshes_numbered),
		cmocka_unit_test(test_names),
		BOTH(test_random_against_model),
		cmocka_unit_test_setup_teardown(test_growth, setup_default, teardown),
		BOTH(test_observer_sees_every_change),
		BOTH(test_observers_listed),
		BOTH(test_release_exited_hands_out_and_forgets),
		BOTH(test_release_exited_keeps_memory_flat),
		BOTH(test_release_exited_keeps_other_pids),
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
