/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

/*
 * Buffers live in one open-addressing hash table, written here rather than
 * taken from a library because it is the hot path (every record) and because
 * its entries must stay small (a million live allocations should cost at
 * most 64 MB). 32-byte slots, linear probing, at most 3/4 full, growing by
 * half: between 43 and 64 bytes per entry whatever the population. The
 * capacity is no power of two, so a hash maps to a slot by multiplication.
 *
 * A freed key stays in the table as DEAD: a later free of it is then known
 * to be a double free, and a new allocation at the same address reuses its
 * slot. Nothing is ever removed, so the table holds every distinct address
 * ever allocated; allocators reuse addresses, which keeps that bounded.
 */
enum slot_state { SLOT_EMPTY = 0, SLOT_LIVE, SLOT_DEAD };

/* At most this many processes in one ledger: the slot keeps the process index in 24 bits. */
#define MAX_PROCESSES (1u << 24)

struct slot {
	uint64_t address;
	uint64_t size;
	uint64_t alloc_ts_ns;
	int32_t device_id;
	uint32_t process : 24; /* index into ledger.processes: pids are reused, indexes are not */
	uint32_t mem_type : 4;
	uint32_t state : 4;
};

_Static_assert(sizeof(struct slot) == 32, "a slot is 32 bytes");

/* A live circular buffer. A process has tens of them: a plain array will do. */
struct cb {
	uint64_t program; /* ProgramImpl*, 0 when unknown */
	uint64_t address;
	uint64_t size;
	uint64_t alloc_ts_ns;
	int32_t device_id;
};

struct process_state {
	struct ledger_process view;
	size_t device_capacity;
	size_t last_device; /* index of the device used last: records come in runs */
	struct cb *cbs;
	size_t cb_count;
	size_t cb_capacity;
};

struct pid_slot {
	uint32_t pid;
	uint32_t process_plus_one; /* 0: empty */
};

struct ledger {
	uint64_t (*hash)(const struct ledger_key *key);
	struct slot *slots;
	size_t capacity;
	size_t used; /* LIVE + DEAD */

	struct process_state *processes;
	size_t process_count;
	size_t process_capacity;
	struct pid_slot *pids; /* pid -> newest process with that pid */
	size_t pid_capacity;
	size_t last_process;

	struct ledger_process *sorted; /* rebuilt by ledger__finish */
	size_t sorted_count;
	uint64_t events;
};

static const char *const reason_names[LEDGER_REASONS] = {
	[LEDGER_REASON_NONE] = "none",
	[LEDGER_REASON_PROGRAM_DESTROYED] = "program_destroyed",
	[LEDGER_REASON_DEVICE_CLOSED] = "device_closed",
	[LEDGER_REASON_CB_DEALLOCATE_ALL] = "cb_deallocate_all",
	[LEDGER_REASON_CB_REALLOCATED] = "cb_reallocated",
	[LEDGER_REASON_UNKNOWN_ADDRESS] = "unknown_address",
	[LEDGER_REASON_DOUBLE_FREE] = "double_free",
};

static const char *const mem_type_names[DL_MEM_TYPES] = {
	[DL_MEM_DRAM] = "DRAM",
	[DL_MEM_L1] = "L1",
	[DL_MEM_SYSTEM_MEMORY] = "SYSTEM_MEMORY",
	[DL_MEM_L1_SMALL] = "L1_SMALL",
	[DL_MEM_TRACE] = "TRACE",
	[DL_MEM_CB] = "CB",
};

const char *ledger_reason_name(enum ledger_reason reason)
{
	return (unsigned int)reason < LEDGER_REASONS ? reason_names[reason] : NULL;
}

const char *ledger_mem_type_name(unsigned int mem_type)
{
	return mem_type < DL_MEM_TYPES ? mem_type_names[mem_type] : NULL;
}

/* A 64-bit mix (murmur3's finalizer) of the key's fields. */
static uint64_t default_hash(const struct ledger_key *key)
{
	uint64_t h = key->address ^ ((uint64_t)key->pid << 40) ^
		     ((uint64_t)(uint32_t)key->device_id << 8) ^ key->mem_type;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static int grow(void **array, size_t *capacity, size_t elem, size_t need)
{
	size_t cap = *capacity ? *capacity : 4;
	void *bigger;

	if (need <= *capacity)
		return 0;
	while (cap < need)
		cap *= 2;
	bigger = realloc(*array, cap * elem);
	if (!bigger)
		return -ENOMEM;
	memset((char *)bigger + *capacity * elem, 0, (cap - *capacity) * elem);
	*array = bigger;
	*capacity = cap;
	return 0;
}

static int list_append(struct ledger_list *list, const struct ledger_record *record)
{
	int err = grow((void **)&list->items, &list->capacity, sizeof(*record), list->count + 1);

	if (err)
		return err;
	list->items[list->count++] = *record;
	return 0;
}

struct ledger *ledger__new(const struct ledger_opts *opts)
{
	struct ledger *ledger = calloc(1, sizeof(*ledger));

	if (!ledger) {
		errno = ENOMEM;
		return NULL;
	}
	ledger->hash = opts && opts->hash ? opts->hash : default_hash;
	ledger->capacity = 1024;
	ledger->slots = calloc(ledger->capacity, sizeof(*ledger->slots));
	if (!ledger->slots) {
		free(ledger);
		errno = ENOMEM;
		return NULL;
	}
	return ledger;
}

static void free_process(struct process_state *p)
{
	free(p->view.devices);
	free(p->view.untracked_frees.items);
	free(p->view.leaks.items);
	free(p->view.unmatched_frees.items);
	free(p->view.live.items);
	free(p->cbs);
}

void ledger__free(struct ledger *ledger)
{
	if (!ledger)
		return;
	for (size_t i = 0; i < ledger->process_count; i++)
		free_process(&ledger->processes[i]);
	free(ledger->processes);
	free(ledger->pids);
	free(ledger->slots);
	free(ledger->sorted);
	free(ledger);
}

/* ---- processes ---- */

static size_t pid_home(uint32_t pid, size_t capacity)
{
	return (size_t)((pid * 0x9e3779b97f4a7c15ULL) >> 20) & (capacity - 1);
}

static int pid_map_set(struct ledger *ledger, uint32_t pid, size_t process)
{
	if ((ledger->process_count + 1) * 2 > ledger->pid_capacity) {
		size_t capacity = ledger->pid_capacity ? ledger->pid_capacity * 2 : 64;
		struct pid_slot *old = ledger->pids, *pids = calloc(capacity, sizeof(*pids));

		if (!pids)
			return -ENOMEM;
		for (size_t i = 0; i < ledger->pid_capacity; i++) {
			size_t j;

			if (!old[i].process_plus_one)
				continue;
			for (j = pid_home(old[i].pid, capacity); pids[j].process_plus_one;
			     j = (j + 1) & (capacity - 1))
				;
			pids[j] = old[i];
		}
		free(old);
		ledger->pids = pids;
		ledger->pid_capacity = capacity;
	}
	for (size_t j = pid_home(pid, ledger->pid_capacity);;
	     j = (j + 1) & (ledger->pid_capacity - 1)) {
		if (!ledger->pids[j].process_plus_one || ledger->pids[j].pid == pid) {
			ledger->pids[j].pid = pid;
			ledger->pids[j].process_plus_one = (uint32_t)process + 1;
			return 0;
		}
	}
}

/* The newest process with this pid, or -1. */
static long pid_map_get(const struct ledger *ledger, uint32_t pid)
{
	if (!ledger->pid_capacity)
		return -1;
	for (size_t j = pid_home(pid, ledger->pid_capacity);;
	     j = (j + 1) & (ledger->pid_capacity - 1)) {
		if (!ledger->pids[j].process_plus_one)
			return -1;
		if (ledger->pids[j].pid == pid)
			return (long)ledger->pids[j].process_plus_one - 1;
	}
}

static int new_process(struct ledger *ledger, uint32_t pid, size_t *index)
{
	int err;

	if (ledger->process_count == MAX_PROCESSES)
		return -ENOSPC;
	err = grow((void **)&ledger->processes, &ledger->process_capacity,
		   sizeof(*ledger->processes), ledger->process_count + 1);
	if (err)
		return err;
	err = pid_map_set(ledger, pid, ledger->process_count);
	if (err)
		return err;
	*index = ledger->process_count++;
	ledger->processes[*index].view.pid = pid;
	return 0;
}

/*
 * The process a record of `pid` belongs to. A record for a pid whose process
 * has exited belongs to a new process that got the same pid.
 */
static int process_for(struct ledger *ledger, uint32_t pid, size_t *index)
{
	long found;

	if (ledger->process_count && ledger->processes[ledger->last_process].view.pid == pid &&
	    !ledger->processes[ledger->last_process].view.exited) {
		*index = ledger->last_process;
		return 0;
	}
	found = pid_map_get(ledger, pid);
	if (found >= 0 && !ledger->processes[found].view.exited) {
		*index = (size_t)found;
	} else {
		int err = new_process(ledger, pid, index);

		if (err)
			return err;
	}
	ledger->last_process = *index;
	return 0;
}

int ledger__add_process(struct ledger *ledger, uint32_t pid)
{
	size_t index;

	return process_for(ledger, pid, &index);
}

int ledger__set_comm(struct ledger *ledger, uint32_t pid, const char *comm)
{
	long found = pid_map_get(ledger, pid);

	if (found < 0)
		return -ENOENT;
	snprintf(ledger->processes[found].view.comm, DL_COMM_LEN, "%s", comm);
	return 0;
}

/* ---- devices ---- */

static struct ledger_device *device_for(struct process_state *p, int32_t device_id)
{
	struct ledger_process *v = &p->view;
	size_t lo = 0, hi = v->device_count;

	if (p->last_device < v->device_count && v->devices[p->last_device].device_id == device_id)
		return &v->devices[p->last_device];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v->devices[mid].device_id < device_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == v->device_count || v->devices[lo].device_id != device_id) {
		if (grow((void **)&v->devices, &p->device_capacity, sizeof(*v->devices),
			 v->device_count + 1))
			return NULL;
		memmove(&v->devices[lo + 1], &v->devices[lo],
			(v->device_count - lo) * sizeof(*v->devices));
		memset(&v->devices[lo], 0, sizeof(*v->devices));
		v->devices[lo].device_id = device_id;
		v->device_count++;
	}
	p->last_device = lo;
	return &v->devices[lo];
}

static struct ledger_stats *stats_for(struct process_state *p, int32_t device_id, uint8_t type)
{
	struct ledger_device *dev = device_for(p, device_id);

	if (!dev)
		return NULL;
	dev->active_types |= 1u << type;
	return &dev->mem[type];
}

static void add_live(struct ledger_stats *s, uint64_t size)
{
	s->live_bytes += size;
	s->live_count++;
	if (s->live_bytes > s->peak_bytes)
		s->peak_bytes = s->live_bytes;
}

/* ---- the allocation table ---- */

static struct slot *find_slot(struct ledger *ledger, const struct ledger_key *key)
{
	/* The hash's top bits scaled to the capacity: no power of two needed. */
	size_t i = (size_t)(((unsigned __int128)ledger->hash(key) * ledger->capacity) >> 64);

	for (;; i = i + 1 == ledger->capacity ? 0 : i + 1) {
		struct slot *s = &ledger->slots[i];

		if (s->state == SLOT_EMPTY)
			return s;
		if (s->address == key->address && s->process == key->pid &&
		    s->device_id == key->device_id && s->mem_type == key->mem_type)
			return s;
	}
}

static int grow_table(struct ledger *ledger)
{
	struct slot *old = ledger->slots;
	size_t old_capacity = ledger->capacity;

	ledger->capacity += ledger->capacity / 2;
	ledger->slots = calloc(ledger->capacity, sizeof(*ledger->slots));
	if (!ledger->slots) {
		ledger->slots = old;
		ledger->capacity = old_capacity;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old_capacity; i++) {
		struct ledger_key key;

		if (old[i].state == SLOT_EMPTY)
			continue;
		key = (struct ledger_key){ .pid = old[i].process,
					   .device_id = old[i].device_id,
					   .mem_type = old[i].mem_type,
					   .address = old[i].address };
		*find_slot(ledger, &key) = old[i];
	}
	free(old);
	return 0;
}

/* The key's pid field holds the process index: pids are reused, indexes are not. */
static struct ledger_key key_of(size_t process, const struct dl_event *ev)
{
	return (struct ledger_key){ .pid = (uint32_t)process,
				    .device_id = ev->device_id,
				    .mem_type = ev->mem_type,
				    .address = ev->address };
}

static struct ledger_record record_of(const struct slot *s, enum ledger_reason reason, uint64_t ts)
{
	return (struct ledger_record){ .device_id = s->device_id,
				       .mem_type = s->mem_type,
				       .reason = (uint8_t)reason,
				       .address = s->address,
				       .size = s->size,
				       .alloc_ts_ns = s->alloc_ts_ns,
				       .event_ts_ns = ts };
}

static int apply_alloc(struct ledger *ledger, struct process_state *p, size_t process,
		       const struct dl_event *ev)
{
	struct ledger_key key = key_of(process, ev);
	struct ledger_stats *stats;
	struct slot *s;

	if (ev->flags & DL_FLAG_HOOKED) {
		p->view.hooked_ignored++;
		return 0;
	}
	if ((ledger->used + 1) * 4 > ledger->capacity * 3 && grow_table(ledger))
		return -ENOMEM;
	stats = stats_for(p, ev->device_id, ev->mem_type);
	if (!stats)
		return -ENOMEM;
	s = find_slot(ledger, &key);
	if (s->state == SLOT_LIVE) {
		/*
		 * The runtime never allocates a live address twice: the free's
		 * record was lost (the summary then says exact: false). Count the
		 * old one as freed so that the invariant holds.
		 */
		stats->frees++;
		stats->live_count--;
		stats->live_bytes -= s->size;
	} else if (s->state == SLOT_EMPTY) {
		ledger->used++;
	}
	*s = (struct slot){ .address = ev->address,
			    .size = ev->size,
			    .alloc_ts_ns = ev->ts_ns,
			    .process = (uint32_t)process,
			    .device_id = ev->device_id,
			    .mem_type = ev->mem_type,
			    .state = SLOT_LIVE };
	stats->allocs++;
	add_live(stats, ev->size);
	return 0;
}

static int apply_free(struct ledger *ledger, struct process_state *p, size_t process,
		      const struct dl_event *ev)
{
	struct ledger_key key = key_of(process, ev);
	struct ledger_stats *stats;
	struct slot *s;

	if (ev->flags & DL_FLAG_HOOKED)
		return 0;
	stats = stats_for(p, ev->device_id, ev->mem_type);
	if (!stats)
		return -ENOMEM;
	s = find_slot(ledger, &key);
	if (s->state != SLOT_LIVE) {
		struct ledger_record r = { .device_id = ev->device_id,
					   .mem_type = ev->mem_type,
					   .reason = s->state == SLOT_DEAD
							     ? LEDGER_REASON_DOUBLE_FREE
							     : LEDGER_REASON_UNKNOWN_ADDRESS,
					   .address = ev->address,
					   .event_ts_ns = ev->ts_ns };
		return list_append(&p->view.unmatched_frees, &r);
	}
	s->state = SLOT_DEAD;
	stats->frees++;
	stats->live_count--;
	stats->live_bytes -= s->size;
	return 0;
}

/*
 * One allocation ends without a tracked free: listed as an untracked free
 * (with its reason) or a leak, and counted. Live bytes are the caller's:
 * a buffer subtracts its size, CBs recompute their union.
 */
static int count_end(struct process_state *p, struct ledger_stats *stats,
		     const struct ledger_record *record, bool leak)
{
	int err = list_append(leak ? &p->view.leaks : &p->view.untracked_frees, record);

	if (err)
		return err;
	stats->live_count--;
	if (leak) {
		stats->leaks++;
		stats->leaked_bytes += record->size;
	} else {
		stats->untracked_frees++;
		stats->untracked_bytes += record->size;
	}
	return 0;
}

/* Every live buffer of a process (on one device, or all when all_devices) ends with this fate. */
static int end_buffers(struct ledger *ledger, struct process_state *p, size_t process,
		       bool all_devices, int32_t device_id, enum ledger_reason reason, bool leak,
		       uint64_t ts)
{
	for (size_t i = 0; i < ledger->capacity; i++) {
		struct slot *s = &ledger->slots[i];
		struct ledger_stats *stats;
		struct ledger_record r;
		int err;

		if (s->state != SLOT_LIVE || s->process != process ||
		    (!all_devices && s->device_id != device_id))
			continue;
		stats = stats_for(p, s->device_id, s->mem_type);
		if (!stats)
			return -ENOMEM;
		r = record_of(s, reason, ts);
		err = count_end(p, stats, &r, leak);
		if (err)
			return err;
		s->state = SLOT_DEAD;
		stats->live_bytes -= s->size;
	}
	return 0;
}

/* ---- circular buffers ---- */

static int compare_ranges(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Programs lay their CBs out from one L1 base: what is in use is the union of the ranges. */
static int update_cb_union(struct process_state *p, int32_t device_id)
{
	struct ledger_stats *stats = stats_for(p, device_id, DL_MEM_CB);
	uint64_t(*ranges)[2], total = 0, end = 0;
	size_t n = 0;

	if (!stats)
		return -ENOMEM;
	ranges = malloc((p->cb_count ? p->cb_count : 1) * sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	for (size_t i = 0; i < p->cb_count; i++) {
		if (p->cbs[i].device_id != device_id)
			continue;
		ranges[n][0] = p->cbs[i].address;
		ranges[n][1] = p->cbs[i].address + p->cbs[i].size;
		n++;
	}
	qsort(ranges, n, sizeof(*ranges), compare_ranges);
	for (size_t i = 0; i < n; i++) {
		uint64_t start = ranges[i][0] > end ? ranges[i][0] : end;

		if (ranges[i][1] > start)
			total += ranges[i][1] - start;
		if (ranges[i][1] > end)
			end = ranges[i][1];
	}
	free(ranges);
	stats->live_bytes = total;
	if (total > stats->peak_bytes)
		stats->peak_bytes = total;
	return 0;
}

/* One live CB ends: counted, and listed as an untracked free (with reason) or a leak. */
static int end_cb(struct process_state *p, const struct cb *cb, enum ledger_reason reason,
		  bool leak, uint64_t ts)
{
	struct ledger_stats *stats = stats_for(p, cb->device_id, DL_MEM_CB);
	struct ledger_record r = { .device_id = cb->device_id,
				   .mem_type = DL_MEM_CB,
				   .reason = (uint8_t)reason,
				   .address = cb->address,
				   .size = cb->size,
				   .alloc_ts_ns = cb->alloc_ts_ns,
				   .event_ts_ns = ts };

	if (!stats)
		return -ENOMEM;
	return count_end(p, stats, &r, leak);
}

/* End the CBs matching (device, program) filters; -1 device / ~0 program mean any. */
static int end_cbs(struct process_state *p, bool any_device, int32_t device_id, bool any_program,
		   uint64_t program, enum ledger_reason reason, bool leak, uint64_t ts)
{
	uint32_t touched_devices[64];
	size_t touched = 0, kept = 0;
	bool overflow = false;
	int err = 0;

	for (size_t i = 0; i < p->cb_count; i++) {
		struct cb *cb = &p->cbs[i];
		bool seen = false;

		if ((!any_device && cb->device_id != device_id) ||
		    (!any_program && cb->program != program)) {
			p->cbs[kept++] = *cb;
			continue;
		}
		err = end_cb(p, cb, reason, leak, ts);
		if (err)
			return err;
		for (size_t t = 0; t < touched; t++)
			seen |= touched_devices[t] == (uint32_t)cb->device_id;
		if (!seen && touched < 64)
			touched_devices[touched++] = (uint32_t)cb->device_id;
		else if (!seen)
			overflow = true;
	}
	p->cb_count = kept;
	if (overflow) {
		/* More devices than the short list holds: recompute every device's union. */
		for (size_t d = 0; d < p->view.device_count && !err; d++)
			if (p->view.devices[d].active_types & (1u << DL_MEM_CB))
				err = update_cb_union(p, p->view.devices[d].device_id);
		return err;
	}
	for (size_t t = 0; t < touched && !err; t++)
		err = update_cb_union(p, (int32_t)touched_devices[t]);
	return err;
}

static int apply_cb_alloc(struct process_state *p, const struct dl_event *ev)
{
	struct ledger_stats *stats;
	int err;

	/* The same program laying a CB out again at the same place replaces the old one. */
	for (size_t i = 0; i < p->cb_count; i++) {
		struct cb *cb = &p->cbs[i];

		/* With no program known (0) every CB stands alone: two programs may share an
		 * address. */
		if (ev->object && cb->device_id == ev->device_id && cb->program == ev->object &&
		    cb->address == ev->address) {
			err = end_cb(p, cb, LEDGER_REASON_CB_REALLOCATED, false, ev->ts_ns);
			if (err)
				return err;
			p->cbs[i] = p->cbs[--p->cb_count];
			break;
		}
	}
	err = grow((void **)&p->cbs, &p->cb_capacity, sizeof(*p->cbs), p->cb_count + 1);
	if (err)
		return err;
	stats = stats_for(p, ev->device_id, DL_MEM_CB);
	if (!stats)
		return -ENOMEM;
	p->cbs[p->cb_count++] = (struct cb){ .program = ev->object,
					     .address = ev->address,
					     .size = ev->size,
					     .alloc_ts_ns = ev->ts_ns,
					     .device_id = ev->device_id };
	stats->allocs++;
	stats->live_count++;
	return update_cb_union(p, ev->device_id);
}

/* ---- records ---- */

static int process_exit(struct ledger *ledger, size_t process, int status, uint64_t ts,
			const char *comm)
{
	struct process_state *p = &ledger->processes[process];
	int err;

	if (p->view.exited)
		return 0;
	err = end_buffers(ledger, p, process, true, 0, LEDGER_REASON_NONE, true, ts);
	if (!err)
		err = end_cbs(p, true, 0, true, 0, LEDGER_REASON_NONE, true, ts);
	if (err)
		return err;
	if (comm && *comm)
		snprintf(p->view.comm, DL_COMM_LEN, "%.*s", DL_COMM_LEN - 1, comm);
	p->view.exited = true;
	p->view.exit_status = status;
	p->view.exit_ts_ns = ts;
	p->view.live.count = 0;
	return 0;
}

int ledger__apply(struct ledger *ledger, const void *record, size_t size)
{
	const struct dl_event *ev = record;
	struct process_state *p;
	size_t process;
	int err;

	if (size < sizeof(uint32_t) * 2)
		return -EINVAL;
	if (ev->kind == DL_EV_PROCESS_EXIT) {
		const struct dl_exit_event *exit_ev = record;
		char comm[DL_COMM_LEN];

		if (size != sizeof(*exit_ev))
			return -EINVAL;
		err = process_for(ledger, exit_ev->pid, &process);
		if (err)
			return err;
		ledger->events++;
		ledger->processes[process].view.events++;
		memcpy(comm, exit_ev->comm, DL_COMM_LEN);
		comm[DL_COMM_LEN - 1] = '\0';
		return process_exit(ledger, process, exit_ev->exit_code, exit_ev->ts_ns, comm);
	}
	if (size != sizeof(*ev) || ev->kind < DL_EV_ALLOC || ev->kind > DL_EV_DEVICE_CLOSED)
		return -EINVAL;
	if ((ev->kind == DL_EV_ALLOC || ev->kind == DL_EV_FREE) && ev->mem_type >= DL_MEM_CB)
		return -EINVAL;
	err = process_for(ledger, ev->pid, &process);
	if (err)
		return err;
	p = &ledger->processes[process];
	ledger->events++;
	p->view.events++;

	switch (ev->kind) {
	case DL_EV_ALLOC:
		return apply_alloc(ledger, p, process, ev);
	case DL_EV_FREE:
		return apply_free(ledger, p, process, ev);
	case DL_EV_CB_ALLOC:
		return apply_cb_alloc(p, ev);
	case DL_EV_CB_FREE_ALL:
		return end_cbs(p, false, ev->device_id, true, 0, LEDGER_REASON_CB_DEALLOCATE_ALL,
			       false, ev->ts_ns);
	case DL_EV_PROGRAM_DESTROYED:
		return end_cbs(p, true, 0, false, ev->object, LEDGER_REASON_PROGRAM_DESTROYED,
			       false, ev->ts_ns);
	case DL_EV_DEVICE_CLOSED:
		err = end_buffers(ledger, p, process, false, ev->device_id,
				  LEDGER_REASON_DEVICE_CLOSED, false, ev->ts_ns);
		if (!err)
			err = end_cbs(p, false, ev->device_id, true, 0, LEDGER_REASON_DEVICE_CLOSED,
				      false, ev->ts_ns);
		return err;
	}
	return -EINVAL;
}

int ledger__process_exited(struct ledger *ledger, uint32_t pid, int exit_status, uint64_t ts_ns)
{
	long found = pid_map_get(ledger, pid);

	if (found < 0)
		return -ENOENT;
	return process_exit(ledger, (size_t)found, exit_status, ts_ns, NULL);
}

/* ---- results ---- */

static int compare_records(const void *a, const void *b)
{
	const struct ledger_record *x = a, *y = b;

	if (x->device_id != y->device_id)
		return x->device_id < y->device_id ? -1 : 1;
	if (x->mem_type != y->mem_type)
		return x->mem_type < y->mem_type ? -1 : 1;
	if (x->address != y->address)
		return x->address < y->address ? -1 : 1;
	if (x->event_ts_ns != y->event_ts_ns)
		return x->event_ts_ns < y->event_ts_ns ? -1 : 1;
	return 0;
}

static void sort_list(struct ledger_list *list)
{
	if (list->count > 1)
		qsort(list->items, list->count, sizeof(*list->items), compare_records);
}

static int compare_processes(const void *a, const void *b)
{
	const struct ledger_process *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	/* The same pid twice: the one that exited first came first. */
	if (x->exited != y->exited)
		return x->exited ? -1 : 1;
	return x->exit_ts_ns < y->exit_ts_ns ? -1 : x->exit_ts_ns > y->exit_ts_ns;
}

int ledger__finish(struct ledger *ledger)
{
	struct ledger_process *sorted;
	int err;

	for (size_t i = 0; i < ledger->process_count; i++)
		ledger->processes[i].view.live.count = 0;
	for (size_t i = 0; i < ledger->capacity; i++) {
		const struct slot *s = &ledger->slots[i];
		struct ledger_record r;

		if (s->state != SLOT_LIVE)
			continue;
		r = record_of(s, LEDGER_REASON_NONE, 0);
		err = list_append(&ledger->processes[s->process].view.live, &r);
		if (err)
			return err;
	}
	for (size_t i = 0; i < ledger->process_count; i++) {
		struct process_state *p = &ledger->processes[i];

		for (size_t c = 0; c < p->cb_count; c++) {
			struct ledger_record r = { .device_id = p->cbs[c].device_id,
						   .mem_type = DL_MEM_CB,
						   .address = p->cbs[c].address,
						   .size = p->cbs[c].size,
						   .alloc_ts_ns = p->cbs[c].alloc_ts_ns };

			err = list_append(&p->view.live, &r);
			if (err)
				return err;
		}
		sort_list(&p->view.untracked_frees);
		sort_list(&p->view.leaks);
		sort_list(&p->view.unmatched_frees);
		sort_list(&p->view.live);
	}
	sorted = realloc(ledger->sorted,
			 (ledger->process_count ? ledger->process_count : 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < ledger->process_count; i++)
		sorted[i] = ledger->processes[i].view;
	qsort(sorted, ledger->process_count, sizeof(*sorted), compare_processes);
	ledger->sorted = sorted;
	ledger->sorted_count = ledger->process_count;
	return 0;
}

const struct ledger_process *ledger__processes(const struct ledger *ledger, size_t *count)
{
	*count = ledger->sorted_count;
	return ledger->sorted;
}

uint64_t ledger__events(const struct ledger *ledger)
{
	return ledger->events;
}
