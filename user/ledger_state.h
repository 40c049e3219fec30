/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ledger's own state, shared by its modules: ledger.c (processes, the
 * allocation tables, records, results), ledger_cbs.c (program-scope L1: the
 * union of a program's CBs and dataflow buffers), ledger_sites.c (counters
 * per allocating stack). Not for use outside the ledger: ledger.h is its
 * interface.
 */
#ifndef DEVLEDGER_LEDGER_STATE_H
#define DEVLEDGER_LEDGER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/*
 * Buffers live in open-addressing hash tables, one per process and device,
 * written here rather than taken from a library because it is the hot path
 * (every record) and because its entries must stay small (a million live
 * allocations should cost at most 80 MB). 40-byte slots (the allocation and
 * its stack tag), linear probing, at most 3/4 full, growing by half: between
 * 53 and 80 bytes per entry whatever the population. The capacity is no power of two, so a hash maps to a slot
 * by multiplication. A device's close and a process's exit walk only their
 * own tables; an exited process's tables are freed.
 *
 * A freed key stays in its table as DEAD: a later free of it is then known
 * to be a double free, and a new allocation at the same address reuses its
 * slot. A rebuild keeps only what is live or released (see slot_kept).
 */
/*
 * DEAD: freed with a report. RELEASED: ended without one (an allocator
 * release, a close): a report of its free that comes later is the same
 * free, counted once.
 */
enum slot_state { SLOT_EMPTY = 0, SLOT_LIVE, SLOT_DEAD, SLOT_RELEASED };

/* At most this many processes in one ledger: the slot keeps the process index in 20 bits. */
#define MAX_PROCESSES (1u << 20)

/*
 * A slot keeps which of its device's allocators it came from in 4 bits:
 * 1 to 15 in the order the device's allocators were first seen, 0 unknown.
 * A device has its own allocator and one per sub-device manager.
 */
#define MAX_ALLOCATORS 15

struct slot {
	uint64_t address;
	uint64_t size;
	uint64_t alloc_ts_ns;
	int32_t device_id;
	uint32_t process : 20; /* index into ledger.processes: pids are reused, indexes are not */
	uint32_t mem_type : 3;
	uint32_t state : 3;
	uint32_t device_kind : 2;
	uint32_t allocator : 4; /* which of the device's allocators: 1.., 0 unknown */
	uint32_t stack;		/* where it was allocated: the caller's tag, 0 none */
	uint32_t pad;
};

_Static_assert(sizeof(struct slot) == 40, "a slot is 40 bytes");

/* A chip or a mesh, as the ledger keys it. */
struct device_key {
	int32_t id;
	uint8_t kind;
};

static inline bool same_device(struct device_key a, struct device_key b)
{
	return a.id == b.id && a.kind == b.kind;
}

/*
 * A live program-scope L1 buffer: a circular buffer, or a Metal 2.0 dataflow
 * buffer (mem_type). A process has tens of them: a plain array will do.
 */
struct cb {
	uint64_t program; /* ProgramImpl*, 0 when unknown */
	uint64_t address;
	uint64_t size;
	uint64_t alloc_ts_ns;
	struct device_key device;
	uint8_t mem_type; /* DL_MEM_CB or DL_MEM_DFB */
	uint32_t stack;
};

/* Is this memory type program-scope L1, laid out per program from one base? */
static inline bool program_scope(unsigned int mem_type)
{
	return mem_type == DL_MEM_CB || mem_type == DL_MEM_DFB;
}

/*
 * Which device an allocator or a bank manager serves, as learned from the
 * records, and which of that device's allocators it is (or belongs to).
 */
struct owner {
	uint64_t object;
	struct device_key device;
	uint8_t allocator; /* 1..MAX_ALLOCATORS; 0 unknown */
};

struct owners {
	struct owner *items;
	size_t count;
	size_t capacity;
};

/* A close or an allocator clear in progress on one thread, from its entry record to its return. */
enum context_kind { CONTEXT_DEVICE_CLOSE, CONTEXT_MESH_CLOSE, CONTEXT_ALLOCATOR_CLEAR };

struct context {
	uint32_t tid;
	uint8_t kind;	   /* enum context_kind */
	bool has_device;   /* an allocator clear may not know its device */
	uint8_t allocator; /* an allocator clear's allocator, 0 unknown */
	struct device_key device;
	uint32_t stack; /* of its entry record */
};

/*
 * A thread's last tracked free: tt-metal's track_deallocate is followed on
 * the same thread by the allocator's release of the same address.
 */
struct pending_free {
	bool valid;
	uint8_t mem_type;
	uint8_t allocator; /* of the buffer freed */
	uint32_t tid;
	uint64_t address;
	struct device_key device;
};

/* Threads a process frees from at once; an older entry is overwritten only after its pair came. */
#define PENDING_FREES 32

struct process_state {
	struct ledger_process view;
	struct ledger *ledger; /* for its observer */
	size_t device_capacity;
	size_t last_device; /* index of the device used last: records come in runs */
	struct cb *cbs;
	size_t cb_count;
	size_t cb_capacity;
	struct owners allocators;
	struct owners banks;
	struct owner last_allocator; /* the allocator seen last: allocations come in runs */
	struct context *contexts;    /* in the order entered: a thread's outermost comes first */
	size_t context_count;
	size_t context_capacity;
	struct pending_free pending[PENDING_FREES];
	size_t pending_next;
	size_t pending_last; /* the slot written last */
	size_t mesh_chip_capacity;
	uint64_t *meshes;    /* MeshDevice pointers, numbered in the order first seen */
	size_t mesh_count;
	size_t mesh_capacity;
	uint64_t overflows;	   /* byte totals that would have wrapped */
	uint64_t live_total;	   /* its LIVE slots */
	struct slot_table *tables; /* one per view.devices[] entry, in the same order */
	size_t table_capacity;
	bool forgotten; /* handed out by ledger__release_exited: an empty entry to reuse */
	/* The record being applied: its stack tag, and the tag what it releases gets. */
	uint32_t stack;
	uint32_t release_stack;
	size_t site_capacity;
	uint32_t *site_index; /* open addressing over view.sites: index + 1, 0 empty */
	size_t site_index_capacity;
	size_t last_site;
};

/* One process's buffers on one device. */
struct slot_table {
	struct slot *slots;
	size_t capacity; /* 0 until the first allocation */
	size_t used;	 /* slots not EMPTY */
};

/* A table starts this small: most devices of most processes hold a handful of buffers. */
#define TABLE_MIN_CAPACITY 64

struct pid_slot {
	uint32_t pid;
	uint32_t process_plus_one; /* 0: empty */
};

struct ledger {
	uint64_t (*hash)(const struct ledger_key *key);

	struct process_state *processes;
	size_t process_count;
	size_t process_capacity;
	struct pid_slot *pids; /* pid -> newest process with that pid */
	size_t pid_capacity;
	size_t last_process;

	struct ledger_process *sorted; /* rebuilt by ledger__finish */
	size_t sorted_count;
	uint64_t events;
	uint64_t rejected; /* records that could not be accounted for */
	uint64_t max_live;
	/* Indexes of forgotten processes, taken again before the array grows. */
	size_t *free_indexes;
	size_t free_count;
	size_t free_capacity;
	/* What forgotten processes add to the ledger's totals. */
	uint64_t forgotten_dropped;
	uint64_t forgotten_overflows;
	/* A short list: the timeline and a metrics endpoint may follow one ledger at once. */
	struct {
		ledger_observer_fn fn;
		void *ctx;
	} observers[LEDGER_MAX_OBSERVERS];
	size_t observer_count;
};

/* A device's counters of one type, its entry made when new; NULL: -ENOMEM. */
struct ledger_stats *ledger_stats_for(struct process_state *p, struct device_key device,
				      uint8_t type);
/* Tell the observers a series' counters changed. */
void ledger_notify_live(struct process_state *p, struct device_key device, uint8_t mem_type,
			const struct ledger_stats *stats, uint64_t ts);
/* One allocation ends without a tracked free: listed and counted (live bytes are the caller's). */
int ledger_count_end(struct process_state *p, struct ledger_stats *stats,
		     const struct ledger_record *record, bool leak);

/* ledger_cbs.c: CBs and dataflow buffers, per program, as the union of their ranges. */
int ledger_apply_cb_alloc(struct process_state *p, const struct dl_event *ev,
			  struct device_key device);
/* End the CBs of one device (NULL: any) and one program (any_program: any). */
int ledger_end_cbs(struct process_state *p, const struct device_key *device, bool any_program,
		   uint64_t program, enum ledger_reason reason, bool leak, uint64_t ts);

/* ledger_sites.c: an allocation from the site of this stack tag (0: none), and its end. */
int ledger_site_allocated(struct process_state *p, uint32_t stack, uint64_t size);
void ledger_site_ended(struct process_state *p, uint32_t stack, uint64_t size, bool leak,
		       bool untracked);

#endif /* DEVLEDGER_LEDGER_STATE_H */
