/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "ledger_state.h"

static const char *const reason_names[LEDGER_REASONS] = {
	[LEDGER_REASON_NONE] = "none",
	[LEDGER_REASON_PROGRAM_DESTROYED] = "program_destroyed",
	[LEDGER_REASON_DEVICE_CLOSED] = "device_closed",
	[LEDGER_REASON_CB_DEALLOCATE_ALL] = "cb_deallocate_all",
	[LEDGER_REASON_CB_REALLOCATED] = "cb_reallocated",
	[LEDGER_REASON_ALLOCATOR_FREE] = "allocator_free",
	[LEDGER_REASON_ALLOCATOR_CLEAR] = "allocator_clear",
	[LEDGER_REASON_MESH_CLOSED] = "mesh_closed",
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
	[DL_MEM_DFB] = "DFB",
};

const char *ledger_reason_name(enum ledger_reason reason)
{
	return (unsigned int)reason < LEDGER_REASONS ? reason_names[reason] : NULL;
}

const char *ledger_mem_type_name(unsigned int mem_type)
{
	return mem_type < DL_MEM_TYPES ? mem_type_names[mem_type] : NULL;
}

const char *ledger_device_kind_name(unsigned int kind)
{
	return kind == DL_DEVICE_CHIP ? "chip" : kind == DL_DEVICE_MESH ? "mesh" : NULL;
}

/* A 64-bit mix (murmur3's finalizer) of the key's fields. */
static uint64_t default_hash(const struct ledger_key *key)
{
	uint64_t h = key->address ^ ((uint64_t)key->pid << 40) ^
		     ((uint64_t)(uint32_t)key->device_id << 8) ^ ((uint64_t)key->device_kind << 4) ^
		     key->mem_type;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static int list_append(struct ledger_list *list, const struct ledger_record *record)
{
	int err = grow_array((void **)&list->items, &list->capacity, sizeof(*record),
			     list->count + 1);

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
	ledger->max_live = opts && opts->max_live ? opts->max_live : LEDGER_DEFAULT_MAX_LIVE;
	return ledger;
}

static void free_tables(struct process_state *p)
{
	for (size_t d = 0; p->tables && d < p->view.device_count; d++) {
		free(p->tables[d].slots);
		p->tables[d] = (struct slot_table){ 0 };
	}
}

static void free_process(struct process_state *p)
{
	free(p->view.identity.cmdline);
	free_tables(p);
	free(p->tables);
	free(p->view.devices);
	free(p->view.untracked_frees.items);
	free(p->view.leaks.items);
	free(p->view.unmatched_frees.items);
	free(p->view.live.items);
	free(p->cbs);
	free(p->allocators.items);
	free(p->banks.items);
	free(p->contexts);
	free(p->meshes);
	free(p->view.mesh_chips);
	free(p->view.sites);
	free(p->site_index);
}

void ledger__free(struct ledger *ledger)
{
	if (!ledger)
		return;
	for (size_t i = 0; i < ledger->process_count; i++)
		free_process(&ledger->processes[i]);
	free(ledger->processes);
	free(ledger->pids);
	free(ledger->sorted);
	free(ledger->free_indexes);
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

/*
 * Forget pid's entry if it names this process (a newer process may have the
 * pid now). Linear probing: the entries after it that would no longer be
 * found move back into the hole.
 */
static void pid_map_remove(struct ledger *ledger, uint32_t pid, size_t process)
{
	size_t mask = ledger->pid_capacity - 1, hole, j;

	if (!ledger->pid_capacity)
		return;
	for (hole = pid_home(pid, ledger->pid_capacity);; hole = (hole + 1) & mask) {
		if (!ledger->pids[hole].process_plus_one)
			return;
		if (ledger->pids[hole].pid == pid)
			break;
	}
	if (ledger->pids[hole].process_plus_one != process + 1)
		return;
	ledger->pids[hole] = (struct pid_slot){ 0 };
	for (j = (hole + 1) & mask; ledger->pids[j].process_plus_one; j = (j + 1) & mask) {
		size_t home = pid_home(ledger->pids[j].pid, ledger->pid_capacity);

		/* Stays when its home lies cyclically in (hole, j]. */
		if (hole < j ? (home > hole && home <= j) : (home > hole || home <= j))
			continue;
		ledger->pids[hole] = ledger->pids[j];
		ledger->pids[j] = (struct pid_slot){ 0 };
		hole = j;
	}
}

static int new_process(struct ledger *ledger, uint32_t pid, size_t *index)
{
	int err;

	if (ledger->free_count) {
		size_t reused = ledger->free_indexes[ledger->free_count - 1];

		err = pid_map_set(ledger, pid, reused);
		if (err)
			return err;
		ledger->free_count--;
		*index = reused;
		memset(&ledger->processes[reused], 0, sizeof(ledger->processes[reused]));
		ledger->processes[reused].view.pid = pid;
		ledger->processes[reused].ledger = ledger;
		return 0;
	}
	if (ledger->process_count == MAX_PROCESSES)
		return -ENOSPC;
	err = grow_array((void **)&ledger->processes, &ledger->process_capacity,
			 sizeof(*ledger->processes), ledger->process_count + 1);
	if (err)
		return err;
	err = pid_map_set(ledger, pid, ledger->process_count);
	if (err)
		return err;
	*index = ledger->process_count++;
	ledger->processes[*index].view.pid = pid;
	ledger->processes[*index].ledger = ledger;
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

bool ledger__needs_identity(const struct ledger *ledger, uint32_t pid)
{
	long found = pid_map_get(ledger, pid);

	return found >= 0 && !ledger->processes[found].view.identity.known &&
	       !ledger->processes[found].view.exited;
}

int ledger__set_identity(struct ledger *ledger, uint32_t pid, int32_t ppid, double started_at_s,
			 const char *cmdline, size_t len)
{
	long found = pid_map_get(ledger, pid);
	struct ledger_identity *id;
	char *copy = NULL;

	if (found < 0)
		return -ENOENT;
	if (len > LEDGER_CMDLINE_MAX)
		len = LEDGER_CMDLINE_MAX;
	/* Whole arguments only, each ending in its NUL. */
	while (len && cmdline[len - 1])
		len--;
	if (len && !(copy = malloc(len)))
		return -ENOMEM;
	if (len)
		memcpy(copy, cmdline, len);
	id = &ledger->processes[found].view.identity;
	free(id->cmdline);
	*id = (struct ledger_identity){ .known = true,
					.ppid = ppid,
					.started_at_s = started_at_s,
					.cmdline = copy,
					.cmdline_len = len };
	return 0;
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

/* Chips first, then meshes; each by id. */
static bool device_before(const struct ledger_device *d, struct device_key key)
{
	return d->kind != key.kind ? d->kind < key.kind : d->device_id < key.id;
}

/* Where a device's entry is, or would go: *found says which. */
static size_t device_index(struct process_state *p, struct device_key key, bool *found)
{
	struct ledger_process *v = &p->view;
	size_t lo = 0, hi = v->device_count;

	if (p->last_device < v->device_count && v->devices[p->last_device].device_id == key.id &&
	    v->devices[p->last_device].kind == key.kind) {
		*found = true;
		return p->last_device;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (device_before(&v->devices[mid], key))
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < v->device_count && v->devices[lo].device_id == key.id &&
		 v->devices[lo].kind == key.kind;
	return lo;
}

static struct ledger_device *device_for(struct process_state *p, struct device_key key)
{
	struct ledger_process *v = &p->view;
	bool found;
	size_t lo = device_index(p, key, &found);

	if (!found) {
		if (grow_array((void **)&v->devices, &p->device_capacity, sizeof(*v->devices),
			       v->device_count + 1) ||
		    grow_array((void **)&p->tables, &p->table_capacity, sizeof(*p->tables),
			       v->device_count + 1))
			return NULL;
		memmove(&v->devices[lo + 1], &v->devices[lo],
			(v->device_count - lo) * sizeof(*v->devices));
		memmove(&p->tables[lo + 1], &p->tables[lo],
			(v->device_count - lo) * sizeof(*p->tables));
		p->tables[lo] = (struct slot_table){ 0 };
		memset(&v->devices[lo], 0, sizeof(*v->devices));
		v->devices[lo].device_id = key.id;
		v->devices[lo].kind = key.kind;
		v->device_count++;
	}
	p->last_device = lo;
	return &v->devices[lo];
}

struct ledger_stats *ledger_stats_for(struct process_state *p, struct device_key device,
				      uint8_t type)
{
	struct ledger_device *dev = device_for(p, device);

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

/* ---- what the observer is told ---- */

static void notify(struct process_state *p, struct ledger_change change)
{
	struct ledger *ledger = p->ledger;

	change.pid = p->view.pid;
	for (size_t i = 0; i < ledger->observer_count; i++)
		ledger->observers[i].fn(ledger->observers[i].ctx, &change);
}

void ledger_notify_live(struct process_state *p, struct device_key device, uint8_t mem_type,
			const struct ledger_stats *stats, uint64_t ts)
{
	notify(p, (struct ledger_change){ .kind = LEDGER_CHANGE_LIVE,
					  .device_id = device.id,
					  .device_kind = device.kind,
					  .mem_type = mem_type,
					  .ts_ns = ts,
					  .stats = stats });
}

static void notify_record(struct process_state *p, enum ledger_change_kind kind,
			  const struct ledger_record *r)
{
	notify(p, (struct ledger_change){ .kind = kind,
					  .device_id = r->device_id,
					  .device_kind = r->device_kind,
					  .mem_type = r->mem_type,
					  .ts_ns = r->event_ts_ns,
					  .record = r });
}

/* ---- the allocation table ---- */

/* The key's slot in a table with room (capacity > 0): its own, or the empty one it would take. */
static struct slot *find_slot(const struct ledger *ledger, struct slot_table *t,
			      const struct ledger_key *key)
{
	/* The hash's top bits scaled to the capacity: no power of two needed. */
	size_t i = (size_t)(((unsigned __int128)ledger->hash(key) * t->capacity) >> 64);

	for (;; i = i + 1 == t->capacity ? 0 : i + 1) {
		struct slot *s = &t->slots[i];

		if (s->state == SLOT_EMPTY)
			return s;
		if (s->address == key->address && s->process == key->pid &&
		    s->device_id == key->device_id && s->device_kind == key->device_kind &&
		    s->mem_type == key->mem_type)
			return s;
	}
}

/*
 * What a rebuilt table keeps: live allocations, and those the allocator
 * released while their Buffer may still report a free. A freed one (its key
 * kept to tell a double free from an unknown address) goes: the table stays
 * the size of what is live, however many addresses a long session used. A
 * double free of a buffer freed before the rebuild then shows as
 * unknown_address. (An exited process's tables are freed whole.)
 */
static bool slot_kept(const struct slot *s)
{
	return s->state == SLOT_LIVE || s->state == SLOT_RELEASED;
}

/* Rebuild a table with what it keeps, growing it by half only when that is still needed. */
static int rebuild_table(struct ledger *ledger, struct slot_table *t)
{
	struct slot *old = t->slots;
	size_t old_capacity = t->capacity, kept = 0;

	for (size_t i = 0; i < old_capacity; i++)
		kept += slot_kept(&old[i]);
	/* Half full at most once rebuilt: the next rebuild is as far away as the last. */
	if (!t->capacity)
		t->capacity = TABLE_MIN_CAPACITY;
	else if ((kept + 1) * 2 > old_capacity)
		t->capacity += t->capacity / 2;
	t->slots = calloc(t->capacity, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		t->capacity = old_capacity;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old_capacity; i++) {
		struct ledger_key key;

		if (!slot_kept(&old[i]))
			continue;
		key = (struct ledger_key){ .pid = old[i].process,
					   .device_id = old[i].device_id,
					   .device_kind = old[i].device_kind,
					   .mem_type = old[i].mem_type,
					   .address = old[i].address };
		*find_slot(ledger, t, &key) = old[i];
	}
	t->used = kept;
	free(old);
	return 0;
}

/* A device's table, or NULL when the device never had an entry. */
static struct slot_table *table_of(struct process_state *p, struct device_key device)
{
	bool found;
	size_t i = device_index(p, device, &found);

	return found ? &p->tables[i] : NULL;
}

/* The slot of a key in its device's table, if the table has one: NULL when empty or absent. */
static struct slot *lookup_slot(const struct ledger *ledger, struct process_state *p,
				struct device_key device, const struct ledger_key *key)
{
	struct slot_table *t = table_of(p, device);

	return t && t->capacity ? find_slot(ledger, t, key) : NULL;
}

/* The key's pid field holds the process index: pids are reused, indexes are not. */
static struct ledger_key key_at(size_t process, struct device_key device, uint8_t mem_type,
				uint64_t address)
{
	return (struct ledger_key){ .pid = (uint32_t)process,
				    .device_id = device.id,
				    .device_kind = device.kind,
				    .mem_type = mem_type,
				    .address = address };
}

static struct device_key slot_device(const struct slot *s)
{
	return (struct device_key){ .id = s->device_id, .kind = (uint8_t)s->device_kind };
}

static struct ledger_record record_of(const struct slot *s, enum ledger_reason reason, uint64_t ts)
{
	return (struct ledger_record){ .device_id = s->device_id,
				       .device_kind = (uint8_t)s->device_kind,
				       .mem_type = s->mem_type,
				       .reason = (uint8_t)reason,
				       .stack = s->stack,
				       .address = s->address,
				       .size = s->size,
				       .alloc_ts_ns = s->alloc_ts_ns,
				       .event_ts_ns = ts };
}

static int device_of(struct process_state *p, const struct dl_event *ev, struct device_key *key)
{
	key->kind = ev->device_kind;
	key->id = ev->device_id;
	if (ev->device_kind != DL_DEVICE_MESH || ev->device_id >= 0)
		return 0;
	for (size_t i = 0; i < p->mesh_count; i++) {
		if (p->meshes[i] == ev->device) {
			key->id = (int32_t)i;
			return 0;
		}
	}
	if (grow_array((void **)&p->meshes, &p->mesh_capacity, sizeof(*p->meshes),
		       p->mesh_count + 1))
		return -ENOMEM;
	p->meshes[p->mesh_count] = ev->device;
	key->id = (int32_t)p->mesh_count++;
	return 0;
}

/* ---- who owns an allocator or a bank manager ---- */

static const struct owner *owner_find(const struct owners *owners, uint64_t object)
{
	for (size_t i = 0; i < owners->count; i++)
		if (owners->items[i].object == object)
			return &owners->items[i];
	return NULL;
}

static int owner_set(struct owners *owners, uint64_t object, struct device_key device,
		     uint8_t allocator)
{
	struct owner *found = (struct owner *)owner_find(owners, object);
	int err;

	if (found) {
		found->device = device;
		found->allocator = allocator;
		return 0;
	}
	err = grow_array((void **)&owners->items, &owners->capacity, sizeof(*owners->items),
			 owners->count + 1);
	if (err)
		return err;
	owners->items[owners->count++] =
		(struct owner){ .object = object, .device = device, .allocator = allocator };
	return 0;
}

/* An allocator of this device, numbered from 1 in the order first seen (0 past MAX_ALLOCATORS). */
static int allocator_set(struct owners *allocators, uint64_t object, struct device_key device,
			 struct owner *out)
{
	const struct owner *found = owner_find(allocators, object);
	unsigned int mine = 1;
	int err;

	if (found && same_device(found->device, device)) {
		*out = *found;
		return 0;
	}
	for (size_t i = 0; i < allocators->count; i++)
		if (same_device(allocators->items[i].device, device) &&
		    allocators->items[i].object != object)
			mine++;
	err = owner_set(allocators, object, device, mine <= MAX_ALLOCATORS ? (uint8_t)mine : 0);
	if (err)
		return err;
	*out = *owner_find(allocators, object);
	return 0;
}

/* A closed device's allocator and banks go with it: their addresses may serve another later. */
static void owners_forget(struct owners *owners, struct device_key device)
{
	size_t kept = 0;

	for (size_t i = 0; i < owners->count; i++)
		if (!same_device(owners->items[i].device, device))
			owners->items[kept++] = owners->items[i];
	owners->count = kept;
}

/* ---- what a thread is inside of ---- */

static int context_push(struct process_state *p, const struct context *context)
{
	int err = grow_array((void **)&p->contexts, &p->context_capacity, sizeof(*p->contexts),
			     p->context_count + 1);

	if (err)
		return err;
	p->contexts[p->context_count++] = *context;
	return 0;
}

/* The thread's innermost context of this kind, or NULL. */
static struct context *context_innermost(struct process_state *p, uint32_t tid, int kind)
{
	for (size_t i = p->context_count; i-- > 0;)
		if (p->contexts[i].tid == tid && p->contexts[i].kind == kind)
			return &p->contexts[i];
	return NULL;
}

/* The thread's innermost close (of a device or a mesh), or NULL. */
static struct context *close_innermost(struct process_state *p, uint32_t tid)
{
	for (size_t i = p->context_count; i-- > 0;)
		if (p->contexts[i].tid == tid && p->contexts[i].kind != CONTEXT_ALLOCATOR_CLEAR)
			return &p->contexts[i];
	return NULL;
}

static void context_remove(struct process_state *p, struct context *context)
{
	size_t i = (size_t)(context - p->contexts);

	memmove(&p->contexts[i], &p->contexts[i + 1],
		(p->context_count - i - 1) * sizeof(*p->contexts));
	p->context_count--;
}

/*
 * Why the allocator released something on this thread: the outermost close
 * in progress says it best (a mesh close closes its chips too), else what
 * the allocator was doing.
 */
static enum ledger_reason release_reason(const struct process_state *p, uint32_t tid,
					 enum ledger_reason otherwise)
{
	for (size_t i = 0; i < p->context_count; i++) {
		if (p->contexts[i].tid != tid)
			continue;
		if (p->contexts[i].kind == CONTEXT_MESH_CLOSE)
			return LEDGER_REASON_MESH_CLOSED;
		if (p->contexts[i].kind == CONTEXT_DEVICE_CLOSE)
			return LEDGER_REASON_DEVICE_CLOSED;
	}
	return otherwise;
}

/* ---- buffers ---- */

static int apply_alloc(struct ledger *ledger, struct process_state *p, size_t process,
		       const struct dl_event *ev, struct device_key device)
{
	struct ledger_key key = key_at(process, device, ev->mem_type, ev->address);
	struct ledger_stats *stats;
	struct slot_table *t;
	struct slot *s;

	if (ev->flags & DL_FLAG_HOOKED) {
		p->view.hooked_ignored++;
		return 0;
	}
	/* The Buffer's allocator serves this device: a later clear of it is this device's. */
	if (ev->object && (ev->object != p->last_allocator.object ||
			   !same_device(device, p->last_allocator.device))) {
		if (allocator_set(&p->allocators, ev->object, device, &p->last_allocator))
			return -ENOMEM;
	}
	stats = ledger_stats_for(p, device, ev->mem_type);
	if (!stats)
		return -ENOMEM;
	/* More live bytes than 64 bits hold cannot be true. */
	if (ev->size > UINT64_MAX - stats->live_bytes)
		return -ERANGE;
	t = table_of(p, device);
	if ((t->used + 1) * 4 > t->capacity * 3 && rebuild_table(ledger, t))
		return -ENOMEM;
	s = find_slot(ledger, t, &key);
	if (s->state == SLOT_LIVE) {
		/*
		 * The runtime never allocates a live address twice: the free's
		 * record was lost (the summary then says exact: false). Count the
		 * old one as freed so that the invariant holds.
		 */
		stats->frees++;
		stats->live_count--;
		stats->live_bytes -= s->size;
		p->live_total--;
		ledger_site_ended(p, s->stack, s->size, false, false);
	} else if (p->live_total >= ledger->max_live) {
		/* Bounded: counted, and the session says it is not exact. */
		p->view.dropped_allocations++;
		return 0;
	} else if (s->state == SLOT_EMPTY) {
		t->used++;
	}
	p->live_total++;
	*s = (struct slot){ .address = ev->address,
			    .size = ev->size,
			    .alloc_ts_ns = ev->ts_ns,
			    .process = (uint32_t)process,
			    .device_id = device.id,
			    .device_kind = device.kind,
			    .mem_type = ev->mem_type,
			    .allocator = ev->object ? p->last_allocator.allocator : 0,
			    .stack = p->stack,
			    .state = SLOT_LIVE };
	stats->allocs++;
	add_live(stats, ev->size);
	ledger_notify_live(p, device, ev->mem_type, stats, ev->ts_ns);
	return ledger_site_allocated(p, p->stack, ev->size);
}

/* Remember a thread's tracked free, for the allocator's release of it that follows. */
static void remember_free(struct process_state *p, const struct dl_event *ev,
			  struct device_key device, uint8_t allocator)
{
	struct pending_free *slot = NULL;

	/* Frees come in runs from one thread: its slot is likely the one used last. */
	if (p->pending[p->pending_last].tid == ev->tid)
		slot = &p->pending[p->pending_last];
	for (size_t i = 0; i < PENDING_FREES && !slot; i++)
		if (p->pending[i].valid && p->pending[i].tid == ev->tid)
			slot = &p->pending[i];
	for (size_t i = 0; i < PENDING_FREES && !slot; i++)
		if (!p->pending[i].valid)
			slot = &p->pending[i];
	if (!slot)
		slot = &p->pending[p->pending_next++ % PENDING_FREES];
	p->pending_last = (size_t)(slot - p->pending);
	*slot = (struct pending_free){ .valid = true,
				       .mem_type = ev->mem_type,
				       .allocator = allocator,
				       .tid = ev->tid,
				       .address = ev->address,
				       .device = device };
}

static int apply_free(struct ledger *ledger, struct process_state *p, size_t process,
		      const struct dl_event *ev, struct device_key device)
{
	struct ledger_key key = key_at(process, device, ev->mem_type, ev->address);
	struct slot none = { .state = SLOT_EMPTY };
	struct ledger_stats *stats;
	struct slot *s;

	if (ev->flags & DL_FLAG_HOOKED)
		return 0;
	stats = ledger_stats_for(p, device, ev->mem_type);
	if (!stats)
		return -ENOMEM;
	/* A device that never had an allocation has no table: the free matches nothing. */
	s = lookup_slot(ledger, p, device, &key);
	if (!s)
		s = &none;
	remember_free(p, ev, device, s->state == SLOT_EMPTY ? 0 : (uint8_t)s->allocator);
	if (s->state == SLOT_RELEASED) {
		/* Released by the allocator already: the same free, counted once. */
		s->state = SLOT_DEAD;
		return 0;
	}
	if (s->state != SLOT_LIVE) {
		struct ledger_record r = { .device_id = device.id,
					   .device_kind = device.kind,
					   .mem_type = ev->mem_type,
					   .reason = s->state == SLOT_DEAD
							     ? LEDGER_REASON_DOUBLE_FREE
							     : LEDGER_REASON_UNKNOWN_ADDRESS,
					   .address = ev->address,
					   .event_ts_ns = ev->ts_ns };

		notify_record(p, LEDGER_CHANGE_UNMATCHED, &r);
		return list_append(&p->view.unmatched_frees, &r);
	}
	s->state = SLOT_DEAD;
	p->live_total--;
	stats->frees++;
	stats->live_count--;
	stats->live_bytes -= s->size;
	ledger_notify_live(p, device, ev->mem_type, stats, ev->ts_ns);
	ledger_site_ended(p, s->stack, s->size, false, false);
	return 0;
}

/*
 * One allocation ends without a tracked free: listed as an untracked free
 * (with its reason) or a leak, and counted. Live bytes are the caller's:
 * a buffer subtracts its size, CBs recompute their union.
 */
/* A byte total that would wrap stays at its maximum, and the overflow is counted. */
static void add_bytes(struct process_state *p, uint64_t *total, uint64_t n)
{
	if (n > UINT64_MAX - *total) {
		*total = UINT64_MAX;
		p->overflows++;
		return;
	}
	*total += n;
}

int ledger_count_end(struct process_state *p, struct ledger_stats *stats,
		     const struct ledger_record *record, bool leak)
{
	struct ledger_record tagged = *record;
	int err;

	if (!leak)
		tagged.release_stack = p->release_stack;
	err = list_append(leak ? &p->view.leaks : &p->view.untracked_frees, &tagged);
	if (err)
		return err;
	notify_record(p, LEDGER_CHANGE_ENDED, &tagged);
	ledger_site_ended(p, record->stack, record->size, leak, !leak);
	stats->live_count--;
	if (leak) {
		stats->leaks++;
		add_bytes(p, &stats->leaked_bytes, record->size);
	} else {
		stats->untracked_frees++;
		add_bytes(p, &stats->untracked_bytes, record->size);
	}
	return 0;
}

/* One live buffer ends without a report. */
static int end_buffer(struct process_state *p, struct slot *s, enum ledger_reason reason, bool leak,
		      uint64_t ts)
{
	struct ledger_stats *stats = ledger_stats_for(p, slot_device(s), s->mem_type);
	struct ledger_record r = record_of(s, reason, ts);
	int err;

	if (!stats)
		return -ENOMEM;
	err = ledger_count_end(p, stats, &r, leak);
	if (err)
		return err;
	s->state = leak ? SLOT_DEAD : SLOT_RELEASED;
	p->live_total--;
	stats->live_bytes -= s->size;
	ledger_notify_live(p, slot_device(s), s->mem_type, stats, ts);
	return 0;
}

/* Are there live buffers of this device (and type, or any when type < 0)? */
static bool has_live_buffers(struct process_state *p, struct device_key device, int type)
{
	struct ledger_device *dev;
	bool found;
	size_t i = device_index(p, device, &found);

	/* A device that never saw activity (a close of an unused mesh) gets no entry. */
	if (!found)
		return false;
	dev = &p->view.devices[i];
	for (int t = 0; t < DL_MEM_CB; t++)
		if ((type < 0 || t == type) && dev->mem[t].live_count)
			return true;
	return false;
}

/*
 * Every live buffer of a process ends with this fate: on one device (NULL:
 * all), of one type (negative: all), from one of the device's allocators
 * (0: any; a buffer whose allocator is unknown goes with any).
 */
static int end_buffers(struct process_state *p, const struct device_key *device, int type,
		       uint8_t allocator, enum ledger_reason reason, bool leak, uint64_t ts)
{
	struct slot_table *only = NULL;

	/* A walk of the device's table (every table of the process): skipped when it holds nothing.
	 */
	if (device && !has_live_buffers(p, *device, type))
		return 0;
	if (device && !(only = table_of(p, *device)))
		return 0;
	for (size_t d = 0; d < p->view.device_count; d++) {
		struct slot_table *t = only ? only : &p->tables[d];

		for (size_t i = 0; i < t->capacity; i++) {
			struct slot *s = &t->slots[i];
			int err;

			if (s->state != SLOT_LIVE || (type >= 0 && s->mem_type != type) ||
			    (allocator && s->allocator && s->allocator != allocator))
				continue;
			err = end_buffer(p, s, reason, leak, ts);
			if (err)
				return err;
		}
		if (only)
			break;
	}
	return 0;
}

/* ---- below GraphTracker: the allocator's own releases ---- */

/*
 * The device of a bank manager's one release with no report before it: the
 * bank's owner when known, else the only device with a live buffer of that
 * type at that address.
 */
static bool bank_free_device(struct ledger *ledger, struct process_state *p, size_t process,
			     const struct dl_event *ev, struct device_key *device)
{
	const struct owner *owner = owner_find(&p->banks, ev->object);
	size_t candidates = 0;

	if (owner) {
		*device = owner->device;
		return true;
	}
	for (size_t d = 0; d < p->view.device_count; d++) {
		struct device_key key = { .id = p->view.devices[d].device_id,
					  .kind = p->view.devices[d].kind };
		struct ledger_key lkey = key_at(process, key, ev->mem_type, ev->address);

		struct slot *s = lookup_slot(ledger, p, key, &lkey);

		if (ev->mem_type < DL_MEM_CB && s && s->state == SLOT_LIVE) {
			*device = key;
			candidates++;
		}
	}
	return candidates == 1;
}

/*
 * The allocator released this device's buffer at ev's address with no report:
 * allocator_free, or the close in progress. Not live: released already (its
 * device's close), allocated before devledger looked, or a hooked allocation.
 */
static int end_released(struct ledger *ledger, struct process_state *p, size_t process,
			const struct dl_event *ev, struct device_key device)
{
	struct ledger_key key = key_at(process, device, ev->mem_type, ev->address);
	struct slot *s = lookup_slot(ledger, p, device, &key);

	if (!s || s->state != SLOT_LIVE)
		return 0;
	return end_buffer(p, s, release_reason(p, ev->tid, LEDGER_REASON_ALLOCATOR_FREE), false,
			  ev->ts_ns);
}

static int apply_bank_free(struct ledger *ledger, struct process_state *p, size_t process,
			   const struct dl_event *ev)
{
	struct device_key device;

	for (size_t i = 0; i < PENDING_FREES; i++) {
		struct pending_free *pf = &p->pending[i];

		/* The allocator's half of a tracked free: counted already; now the bank is known.
		 */
		if (pf->valid && pf->tid == ev->tid && pf->address == ev->address &&
		    pf->mem_type == ev->mem_type) {
			pf->valid = false;
			return owner_set(&p->banks, ev->object, pf->device, pf->allocator);
		}
	}
	if (ev->mem_type >= DL_MEM_CB)
		return 0;
	if (!bank_free_device(ledger, p, process, ev, &device)) {
		p->view.unattributed_frees++;
		return 0;
	}
	return end_released(ledger, p, process, ev, device);
}

/*
 * A buffer its allocator released with no report before it, as its caller
 * passed it (device and all): no bank to place.
 */
static int apply_allocator_free(struct ledger *ledger, struct process_state *p, size_t process,
				const struct dl_event *ev, struct device_key device)
{
	if (ev->mem_type >= DL_MEM_CB)
		return -EINVAL;
	return end_released(ledger, p, process, ev, device);
}

/*
 * BankManager::deallocate_all: the bank's device is its owner, else the
 * device of the allocator being cleared on this thread, else of the close.
 */
static int apply_bank_free_all(struct process_state *p, const struct dl_event *ev)
{
	const struct owner *owner = owner_find(&p->banks, ev->object);
	struct context *context;
	struct device_key device;
	uint8_t allocator = 0;

	if (ev->mem_type >= DL_MEM_CB)
		return 0;
	if (owner) {
		device = owner->device;
		allocator = owner->allocator;
	} else if ((context = context_innermost(p, ev->tid, CONTEXT_ALLOCATOR_CLEAR)) &&
		   context->has_device) {
		device = context->device;
		allocator = context->allocator;
		if (owner_set(&p->banks, ev->object, device, allocator))
			return -ENOMEM;
	} else if ((context = close_innermost(p, ev->tid))) {
		device = context->device;
	} else {
		p->view.unattributed_frees++;
		return 0;
	}
	return end_buffers(p, &device, ev->mem_type, allocator,
			   release_reason(p, ev->tid, LEDGER_REASON_ALLOCATOR_CLEAR), false,
			   ev->ts_ns);
}

/* Allocator::deallocate_buffers / clear: every buffer of the allocator's device. */
static int apply_allocator_clear(struct process_state *p, const struct dl_event *ev)
{
	const struct owner *owner = owner_find(&p->allocators, ev->object);
	struct context *close = close_innermost(p, ev->tid);
	struct context context = { .tid = ev->tid,
				   .kind = CONTEXT_ALLOCATOR_CLEAR,
				   .stack = p->stack };
	int err;

	if (owner) {
		context.device = owner->device;
		context.allocator = owner->allocator;
		context.has_device = true;
	} else if (close) {
		context.device = close->device;
		context.has_device = true;
	}
	err = context_push(p, &context);
	if (err || !context.has_device)
		return err;
	return end_buffers(p, &context.device, -1, context.allocator,
			   release_reason(p, ev->tid, LEDGER_REASON_ALLOCATOR_CLEAR), false,
			   ev->ts_ns);
}

/* A device or a mesh has closed: what is left on it was released with it. */
static int apply_closed(struct process_state *p, const struct dl_event *ev, int kind)
{
	struct context *context = context_innermost(p, ev->tid, kind);
	enum ledger_reason reason;
	struct device_key device;
	int err;

	/* A close that began before devledger attached: nothing is known of it. */
	if (!context)
		return 0;
	device = context->device;
	/* Its own context still counts: the outermost close names the reason. */
	reason = release_reason(p, ev->tid, LEDGER_REASON_DEVICE_CLOSED);
	context_remove(p, context);
	err = end_buffers(p, &device, -1, 0, reason, false, ev->ts_ns);
	if (!err)
		err = ledger_end_cbs(p, &device, true, 0, reason, false, ev->ts_ns);
	notify(p, (struct ledger_change){ .kind = LEDGER_CHANGE_CLOSED,
					  .device_id = device.id,
					  .device_kind = device.kind,
					  .ts_ns = ev->ts_ns });
	owners_forget(&p->allocators, device);
	owners_forget(&p->banks, device);
	p->last_allocator = (struct owner){ 0 };
	return err;
}

/* A chip closed inside its mesh's close, on the same thread: one of the mesh's chips. */
static int note_mesh_chip(struct process_state *p, uint32_t tid, struct device_key chip)
{
	struct context *mesh = context_innermost(p, tid, CONTEXT_MESH_CLOSE);
	struct ledger_mesh_chip pair;
	int err;

	if (!mesh || chip.kind != DL_DEVICE_CHIP)
		return 0;
	pair = (struct ledger_mesh_chip){ .mesh_id = mesh->device.id, .chip_id = chip.id };
	for (size_t i = 0; i < p->view.mesh_chip_count; i++)
		if (p->view.mesh_chips[i].mesh_id == pair.mesh_id &&
		    p->view.mesh_chips[i].chip_id == pair.chip_id)
			return 0;
	err = grow_array((void **)&p->view.mesh_chips, &p->mesh_chip_capacity,
			 sizeof(*p->view.mesh_chips), p->view.mesh_chip_count + 1);
	if (err)
		return err;
	p->view.mesh_chips[p->view.mesh_chip_count++] = pair;
	return 0;
}

/* ---- records ---- */

static int process_exit(struct ledger *ledger, size_t process, int status, uint64_t ts,
			const char *comm)
{
	struct process_state *p = &ledger->processes[process];
	int err;

	if (p->view.exited)
		return 0;
	/* A walk of the whole table only for a process that still holds something. */
	err = p->live_total ? end_buffers(p, NULL, -1, 0, LEDGER_REASON_NONE, true, ts) : 0;
	if (!err)
		err = ledger_end_cbs(p, NULL, true, 0, LEDGER_REASON_NONE, true, ts);
	if (err)
		return err;
	if (comm && *comm)
		snprintf(p->view.comm, DL_COMM_LEN, "%.*s", DL_COMM_LEN - 1, comm);
	/* What it held is in its lists now: its tables are of no more use. */
	free_tables(p);
	p->view.exited = true;
	p->view.exit_status = status;
	p->view.exit_ts_ns = ts;
	p->view.live.count = 0;
	notify(p, (struct ledger_change){ .kind = LEDGER_CHANGE_EXITED, .ts_ns = ts });
	return 0;
}

/*
 * What a release on this thread is tagged with: the outermost close or
 * allocator clear in progress (what the user called), else the record's own.
 */
static uint32_t release_stack(const struct process_state *p, uint32_t tid, uint32_t otherwise)
{
	for (size_t i = 0; i < p->context_count; i++)
		if (p->contexts[i].tid == tid && p->contexts[i].stack)
			return p->contexts[i].stack;
	return otherwise;
}

static int apply_record(struct ledger *ledger, const void *record, size_t size, uint32_t stack)
{
	const struct dl_event *ev = record;
	struct device_key device;
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
		ledger->processes[process].release_stack = 0;
		return process_exit(ledger, process, exit_ev->exit_code, exit_ev->ts_ns, comm);
	}
	if (size != sizeof(*ev) || ev->kind < DL_EV_ALLOC || ev->kind >= DL_EV_KINDS ||
	    ev->device_kind >= DL_DEVICE_KINDS)
		return -EINVAL;
	if ((ev->kind == DL_EV_ALLOC || ev->kind == DL_EV_FREE) && ev->mem_type >= DL_MEM_CB)
		return -EINVAL;
	/* An allocation whose range wraps past the end of the address space cannot be true. */
	if ((ev->kind == DL_EV_ALLOC || ev->kind == DL_EV_CB_ALLOC) &&
	    ev->size > UINT64_MAX - ev->address)
		return -ERANGE;
	err = process_for(ledger, ev->pid, &process);
	if (err)
		return err;
	p = &ledger->processes[process];
	ledger->events++;
	p->view.events++;
	err = device_of(p, ev, &device);
	if (err)
		return err;
	p->stack = stack;
	p->release_stack = release_stack(p, ev->tid, stack);

	switch (ev->kind) {
	case DL_EV_ALLOC:
		return apply_alloc(ledger, p, process, ev, device);
	case DL_EV_FREE:
		return apply_free(ledger, p, process, ev, device);
	case DL_EV_CB_ALLOC:
		return ledger_apply_cb_alloc(p, ev, device);
	case DL_EV_CB_FREE_ALL:
		return ledger_end_cbs(p, &device, true, 0, LEDGER_REASON_CB_DEALLOCATE_ALL, false,
				      ev->ts_ns);
	case DL_EV_PROGRAM_DESTROYED:
		return ledger_end_cbs(p, NULL, false, ev->object, LEDGER_REASON_PROGRAM_DESTROYED,
				      false, ev->ts_ns);
	case DL_EV_DEVICE_CLOSE:
	case DL_EV_MESH_CLOSE: {
		struct context context = { .tid = ev->tid,
					   .kind = ev->kind == DL_EV_MESH_CLOSE
							   ? CONTEXT_MESH_CLOSE
							   : CONTEXT_DEVICE_CLOSE,
					   .has_device = true,
					   .device = device,
					   .stack = p->stack };
		int err = ev->kind == DL_EV_DEVICE_CLOSE ? note_mesh_chip(p, ev->tid, device) : 0;

		return err ? err : context_push(p, &context);
	}
	case DL_EV_DEVICE_CLOSED:
		return apply_closed(p, ev, CONTEXT_DEVICE_CLOSE);
	case DL_EV_MESH_CLOSED:
		return apply_closed(p, ev, CONTEXT_MESH_CLOSE);
	case DL_EV_BANK_FREE:
		return apply_bank_free(ledger, p, process, ev);
	case DL_EV_ALLOCATOR_FREE:
		return apply_allocator_free(ledger, p, process, ev, device);
	case DL_EV_BANK_FREE_ALL:
		return apply_bank_free_all(p, ev);
	case DL_EV_ALLOCATOR_CLEAR:
		return apply_allocator_clear(p, ev);
	case DL_EV_ALLOCATOR_CLEAR_END: {
		struct context *context = context_innermost(p, ev->tid, CONTEXT_ALLOCATOR_CLEAR);

		if (context)
			context_remove(p, context);
		return 0;
	}
	}
	return -EINVAL;
}

int ledger__apply(struct ledger *ledger, const void *record, size_t size)
{
	return ledger__apply_with_stack(ledger, record, size, 0);
}

int ledger__apply_with_stack(struct ledger *ledger, const void *record, size_t size, uint32_t stack)
{
	int err = apply_record(ledger, record, size, stack);

	if (err == -EINVAL || err == -ERANGE)
		ledger->rejected++;
	return err;
}

uint64_t ledger__dropped(const struct ledger *ledger)
{
	uint64_t total = ledger->forgotten_dropped;

	for (size_t i = 0; i < ledger->process_count; i++)
		total += ledger->processes[i].view.dropped_allocations;
	return total;
}

size_t ledger__memory_bytes(const struct ledger *ledger)
{
	size_t bytes = sizeof(*ledger) + ledger->process_capacity * sizeof(*ledger->processes) +
		       ledger->pid_capacity * sizeof(*ledger->pids) +
		       ledger->sorted_count * sizeof(*ledger->sorted) +
		       ledger->free_capacity * sizeof(*ledger->free_indexes);

	for (size_t i = 0; i < ledger->process_count; i++) {
		const struct process_state *p = &ledger->processes[i];
		const struct ledger_list *lists[] = { &p->view.untracked_frees, &p->view.leaks,
						      &p->view.unmatched_frees, &p->view.live };

		for (size_t d = 0; d < p->view.device_count; d++)
			bytes += p->tables[d].capacity * sizeof(*p->tables[d].slots);
		bytes += p->device_capacity * sizeof(*p->view.devices) +
			 p->table_capacity * sizeof(*p->tables) + p->cb_capacity * sizeof(*p->cbs) +
			 p->context_capacity * sizeof(*p->contexts) +
			 p->mesh_capacity * sizeof(*p->meshes) +
			 (p->allocators.capacity + p->banks.capacity) * sizeof(struct owner) +
			 p->site_capacity * sizeof(*p->view.sites) +
			 p->site_index_capacity * sizeof(*p->site_index);
		for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
			bytes += lists[l]->capacity * sizeof(*lists[l]->items);
	}
	return bytes;
}

uint64_t ledger__rejected(const struct ledger *ledger)
{
	uint64_t total = ledger->rejected + ledger->forgotten_overflows;

	for (size_t i = 0; i < ledger->process_count; i++)
		total += ledger->processes[i].overflows;
	return total;
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

	if (x->device_kind != y->device_kind)
		return x->device_kind < y->device_kind ? -1 : 1;
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

/* A process's ended and unmatched lists in the order the results promise. */
static void sort_lists(struct process_state *p)
{
	sort_list(&p->view.untracked_frees);
	sort_list(&p->view.leaks);
	sort_list(&p->view.unmatched_frees);
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
	for (size_t i = 0; i < ledger->process_count; i++) {
		struct process_state *p = &ledger->processes[i];

		if (p->forgotten)
			continue;
		for (size_t d = 0; d < p->view.device_count; d++) {
			for (size_t k = 0; k < p->tables[d].capacity; k++) {
				const struct slot *s = &p->tables[d].slots[k];
				struct ledger_record r;

				if (s->state != SLOT_LIVE)
					continue;
				r = record_of(s, LEDGER_REASON_NONE, 0);
				err = list_append(&p->view.live, &r);
				if (err)
					return err;
			}
		}

		for (size_t c = 0; c < p->cb_count; c++) {
			struct ledger_record r = { .device_id = p->cbs[c].device.id,
						   .device_kind = p->cbs[c].device.kind,
						   .mem_type = p->cbs[c].mem_type,
						   .stack = p->cbs[c].stack,
						   .address = p->cbs[c].address,
						   .size = p->cbs[c].size,
						   .alloc_ts_ns = p->cbs[c].alloc_ts_ns };

			err = list_append(&p->view.live, &r);
			if (err)
				return err;
		}
		sort_lists(p);
		sort_list(&p->view.live);
	}
	sorted = realloc(ledger->sorted,
			 (ledger->process_count ? ledger->process_count : 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	ledger->sorted = sorted;
	ledger->sorted_count = 0;
	for (size_t i = 0; i < ledger->process_count; i++)
		if (!ledger->processes[i].forgotten)
			sorted[ledger->sorted_count++] = ledger->processes[i].view;
	qsort(sorted, ledger->sorted_count, sizeof(*sorted), compare_processes);
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

int ledger__observe(struct ledger *ledger, ledger_observer_fn fn, void *ctx)
{
	if (!fn) {
		ledger->observer_count = 0;
		return 0;
	}
	if (ledger->observer_count == LEDGER_MAX_OBSERVERS)
		return -ENOSPC;
	ledger->observers[ledger->observer_count].fn = fn;
	ledger->observers[ledger->observer_count].ctx = ctx;
	ledger->observer_count++;
	return 0;
}

int ledger__release_exited(struct ledger *ledger, ledger_release_fn fn, void *ctx)
{
	size_t released = 0;
	int err;

	for (size_t i = 0; i < ledger->process_count; i++) {
		struct process_state *p = &ledger->processes[i];

		if (p->forgotten || !p->view.exited)
			continue;
		sort_lists(p);
		p->view.live.count = 0;
		if (fn)
			fn(ctx, &p->view);
		err = grow_array((void **)&ledger->free_indexes, &ledger->free_capacity,
				 sizeof(*ledger->free_indexes), ledger->free_count + 1);
		if (err)
			return err;
		ledger->forgotten_dropped += p->view.dropped_allocations;
		ledger->forgotten_overflows += p->overflows;
		pid_map_remove(ledger, p->view.pid, i);
		if (ledger->last_process == i)
			ledger->last_process = 0;
		free_process(p);
		memset(p, 0, sizeof(*p));
		p->forgotten = true;
		p->view.exited = true; /* never matched by pid again */
		p->ledger = ledger;
		ledger->free_indexes[ledger->free_count++] = i;
		released++;
	}
	/* The views ledger__processes gave point into what was just freed. */
	if (released)
		ledger->sorted_count = 0;
	return (int)(released > INT32_MAX ? INT32_MAX : released);
}
