/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ledger: per process, device and memory type, what is live, what it
 * peaked at, and the fate of every allocation. It eats the plain records of
 * bpf/devledger.h and knows nothing of how they were collected, so it can be
 * tested and benchmarked alone.
 */
#ifndef DEVLEDGER_LEDGER_H
#define DEVLEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/devledger.h"

struct ledger;

/* Why an allocation ended without a tracked free, or why a free matched nothing. */
enum ledger_reason {
	LEDGER_REASON_NONE = 0,
	/* untracked frees */
	LEDGER_REASON_PROGRAM_DESTROYED, /* a program's CBs, at ~ProgramImpl */
	LEDGER_REASON_DEVICE_CLOSED,	 /* live on a device when Device::close returned */
	LEDGER_REASON_CB_DEALLOCATE_ALL, /* CBs at track_deallocate_cb(device) */
	LEDGER_REASON_CB_REALLOCATED,	 /* a program laid out a CB again at the same address */
	LEDGER_REASON_ALLOCATOR_FREE,  /* BankManager::deallocate_buffer with no track_deallocate */
	LEDGER_REASON_ALLOCATOR_CLEAR, /* Allocator::deallocate_buffers/clear,
					  BankManager::deallocate_all */
	LEDGER_REASON_MESH_CLOSED,     /* released inside MeshDevice::close */
	/* unmatched frees */
	LEDGER_REASON_UNKNOWN_ADDRESS, /* never seen allocated (e.g. allocated before attach) */
	LEDGER_REASON_DOUBLE_FREE,     /* seen allocated, but no longer live */
	LEDGER_REASONS,
};

/* "program_destroyed", "device_closed", ...; "none" for LEDGER_REASON_NONE. */
const char *ledger_reason_name(enum ledger_reason reason);
/* "DRAM", "L1", "SYSTEM_MEMORY", "L1_SMALL", "TRACE", "CB"; NULL when out of range. */
const char *ledger_mem_type_name(unsigned int mem_type);
/* "chip", "mesh"; NULL when out of range. */
const char *ledger_device_kind_name(unsigned int kind);

/*
 * Counters of one (process, device, memory type). For every type:
 * allocs == frees + untracked_frees + leaks + live_count.
 * For CB, live_bytes and peak_bytes are the size of the union of the
 * address ranges of live CBs (programs reuse one L1 range).
 */
struct ledger_stats {
	uint64_t live_bytes;
	uint64_t peak_bytes;
	uint64_t live_count;
	uint64_t allocs;
	uint64_t frees;
	uint64_t untracked_frees;
	uint64_t untracked_bytes;
	uint64_t leaks;
	uint64_t leaked_bytes;
};

/*
 * One allocation's end (untracked free or leak), one allocation still live
 * at the end of the session, or one free that matched nothing (size 0 when
 * unknown). alloc_ts_ns is when it was allocated (0 for unmatched frees);
 * event_ts_ns when it ended (or was freed, for unmatched frees).
 */
struct ledger_record {
	int32_t device_id;
	uint8_t device_kind; /* enum dl_device_kind */
	uint8_t mem_type;
	uint8_t reason; /* enum ledger_reason; NONE for leaks and live */
	/* The caller's stack tags (ledger__apply_with_stack): where it was allocated, and what
	 * released it (untracked frees only); 0 unknown. */
	uint32_t stack;
	uint32_t release_stack;
	uint64_t address;
	uint64_t size;
	uint64_t alloc_ts_ns;
	uint64_t event_ts_ns;
};

struct ledger_list {
	struct ledger_record *items;
	size_t count;
	size_t capacity;
};

/*
 * A chip (device_id is Device::id_) or a mesh (its mesh id, or when the
 * library does not tell it, the order in which the process's meshes were
 * first seen, from 0). The two never share an entry.
 */
struct ledger_device {
	int32_t device_id;
	uint8_t kind; /* enum dl_device_kind */
	/* which mem[] entries ever saw activity, bit per enum dl_mem_type */
	uint32_t active_types;
	struct ledger_stats mem[DL_MEM_TYPES];
};

/*
 * What the allocations of one stack tag (one allocating site) came to, in a
 * process: allocs == frees + untracked_frees + leaks + live ones. live_bytes
 * and peak_bytes add sizes up, CBs too (no union).
 */
struct ledger_site {
	uint32_t stack;
	uint64_t allocs;
	uint64_t live_bytes;
	uint64_t peak_bytes;
	uint64_t leaks, leaked_bytes;
	uint64_t untracked_frees, untracked_bytes;
};

/* Who a process is, as devledger found it while the process ran. */
struct ledger_identity {
	bool known;
	int32_t ppid;
	double started_at_s; /* seconds since the epoch */
	char *cmdline;	     /* its argv, each argument NUL-terminated; owned by the ledger */
	size_t cmdline_len;
};

/* A chip of a mesh, learned from a Device::close that the mesh's MeshDevice::close made. */
struct ledger_mesh_chip {
	int32_t mesh_id;
	int32_t chip_id;
};

/* A read-only view of one process; valid until the next call that changes the ledger. */
struct ledger_process {
	uint32_t pid;
	char comm[DL_COMM_LEN]; /* NUL-terminated; may hold any bytes a process put there */
	struct ledger_identity identity;
	bool exited;
	int exit_status; /* wait(2) status, valid when exited */
	uint64_t exit_ts_ns;
	uint64_t events;	 /* records applied for this process */
	uint64_t hooked_ignored; /* hooked (graph-capture) allocations ignored */
	/*
	 * Allocator releases of one buffer (no track_deallocate) whose device
	 * could not be told: their bank was never seen in a tracked free and
	 * several devices had a live buffer at that address.
	 */
	uint64_t unattributed_frees;
	/* Allocations not kept: the process had max_live live already. */
	uint64_t dropped_allocations;
	struct ledger_device *devices; /* sorted by kind (chips first), then device_id */
	size_t device_count;
	struct ledger_list untracked_frees;
	struct ledger_list leaks;
	struct ledger_list unmatched_frees;
	struct ledger_list live; /* filled by ledger__finish() for processes still running */
	/* Each mesh's chips, as far as its closes told them, in the order seen; each pair once. */
	struct ledger_mesh_chip *mesh_chips;
	size_t mesh_chip_count;
	struct ledger_site *sites; /* in the order first seen; none without stack tags */
	size_t site_count;
};

struct ledger_key {
	uint32_t pid;
	int32_t device_id;
	uint8_t device_kind;
	uint8_t mem_type;
	uint64_t address;
};

/* Live allocations kept per process unless told otherwise: about 14 MiB of ledger each. */
#define LEDGER_DEFAULT_MAX_LIVE (1u << 18)

struct ledger_opts {
	/* hash of an allocation's key; NULL for the built-in one (tests pass a colliding one) */
	uint64_t (*hash)(const struct ledger_key *key);
	/*
	 * Live allocations kept per process (0: LEDGER_DEFAULT_MAX_LIVE). Past it a
	 * new allocation is dropped and counted (dropped_allocations): a process
	 * that never frees cannot exhaust devledger.
	 */
	uint64_t max_live;
};

/* NULL and errno set on failure. opts may be NULL. */
struct ledger *ledger__new(const struct ledger_opts *opts);
void ledger__free(struct ledger *ledger);

/*
 * Apply one record (struct dl_event or struct dl_exit_event, told apart by
 * their first field). Returns 0, -EINVAL for a record of unknown kind, type
 * or size, -ERANGE for values that cannot be true (both counted by
 * ledger__rejected), -ENOMEM.
 *
 * Records of one thread (tid) bracket what happens inside a close or an
 * allocator clear: what the allocator releases there ends with the reason
 * of the thread's outermost close (mesh_closed, device_closed), else
 * allocator_clear or allocator_free. A bank manager's release right after
 * the same thread's track_deallocate of that address is the same free,
 * counted once; it also tells which device the bank belongs to.
 */
int ledger__apply(struct ledger *ledger, const void *record, size_t size);

/*
 * The same, with the record's stack tag: an opaque number (0: none) the
 * ledger keeps with what the record allocates (a leak's or an untracked
 * free's `stack`, and its site) and with what it releases untracked
 * (`release_stack`). A release inside a close or an allocator clear is
 * tagged with the thread's outermost one, as its reason is named.
 */
int ledger__apply_with_stack(struct ledger *ledger, const void *record, size_t size,
			     uint32_t stack);

/*
 * Who a process is (from /proc while it runs): its parent, when it started,
 * its argv as NUL-terminated strings (len bytes; at most LEDGER_CMDLINE_MAX
 * kept). -ENOENT for a pid the ledger does not know.
 */
#define LEDGER_CMDLINE_MAX 4096
int ledger__set_identity(struct ledger *ledger, uint32_t pid, int32_t ppid, double started_at_s,
			 const char *cmdline, size_t len);

/* Is this a running process the ledger knows whose identity was never set? */
bool ledger__needs_identity(const struct ledger *ledger, uint32_t pid);

/* Set a process's name when the records did not carry it (e.g. read from /proc). */
int ledger__set_comm(struct ledger *ledger, uint32_t pid, const char *comm);

/*
 * Mark a process exited without its exit record (e.g. from waitpid when the
 * record was lost): its live allocations become leaks. No-op if already exited.
 */
int ledger__process_exited(struct ledger *ledger, uint32_t pid, int exit_status, uint64_t ts_ns);

/* Make sure a process appears in the results even with no activity. */
int ledger__add_process(struct ledger *ledger, uint32_t pid);

/*
 * End of session: sorts every list by (device kind, device_id, mem_type, address) and
 * fills each running process's live list. May be called more than once
 * (e.g. for periodic snapshots); the ledger can keep being fed afterwards.
 */
int ledger__finish(struct ledger *ledger);

/*
 * Processes sorted by pid, as of the last ledger__finish(); the array is
 * valid until the next one.
 */
const struct ledger_process *ledger__processes(const struct ledger *ledger, size_t *count);

/*
 * Records the ledger could not account for: of unknown kind, size or memory
 * type, or with values that cannot be true (a range past the end of the
 * address space, live bytes past 64 bits), plus byte totals that would have
 * wrapped (kept at their maximum). Any makes a session inexact.
 */
uint64_t ledger__rejected(const struct ledger *ledger);

/* Bytes the ledger holds (its table and each process's state), for bounds and benchmarks. */
size_t ledger__memory_bytes(const struct ledger *ledger);

/* Allocations dropped past max_live, over every process: any makes a session inexact. */
uint64_t ledger__dropped(const struct ledger *ledger);

/*
 * What changed, told as it happens (for a timeline, metrics, ...), so that
 * no one has to finish the ledger to follow it. Valid during the call only.
 */
enum ledger_change_kind {
	LEDGER_CHANGE_LIVE,	 /* a series' counters changed: stats */
	LEDGER_CHANGE_ENDED,	 /* an allocation ended untracked (record->reason) or leaked (NONE) */
	LEDGER_CHANGE_UNMATCHED, /* a free matched nothing: record */
	LEDGER_CHANGE_CLOSED,	 /* a device or mesh closed (after what it held ended) */
	LEDGER_CHANGE_EXITED,	 /* the process exited (after its leaks ended) */
};

struct ledger_change {
	enum ledger_change_kind kind;
	uint32_t pid;
	int32_t device_id; /* not for EXITED */
	uint8_t device_kind;
	uint8_t mem_type; /* LIVE, ENDED, UNMATCHED */
	uint64_t ts_ns;
	const struct ledger_stats *stats;   /* LIVE: the series' counters after the change */
	const struct ledger_record *record; /* ENDED, UNMATCHED */
};

typedef void (*ledger_observer_fn)(void *ctx, const struct ledger_change *change);

/*
 * Add an observer (a timeline, the metrics, ...), called from inside ledger__apply and
 * ledger__process_exited in the order added; fn NULL removes them all. -ENOSPC past
 * LEDGER_MAX_OBSERVERS.
 */
#define LEDGER_MAX_OBSERVERS 4
int ledger__observe(struct ledger *ledger, ledger_observer_fn fn, void *ctx);

/*
 * Hand out each exited process's final view (lists sorted as by ledger__finish, valid during
 * the call only), then forget the process: its memory is freed, it is no longer among
 * ledger__processes (whose last array this invalidates), and what it dropped or could not
 * count stays in ledger__dropped and ledger__rejected. A service that runs for weeks holds
 * only its running processes. Returns how many were released, or -ENOMEM.
 */
typedef void (*ledger_release_fn)(void *ctx, const struct ledger_process *process);
int ledger__release_exited(struct ledger *ledger, ledger_release_fn fn, void *ctx);

/* Number of records applied in total. */
uint64_t ledger__events(const struct ledger *ledger);

#endif /* DEVLEDGER_LEDGER_H */
