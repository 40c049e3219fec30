/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "ledger.h"
#include "metrics.h"

/*
 * The counters of one series, as the ledger counts them (struct ledger_stats),
 * with untracked bytes and unmatched frees by reason, which the ledger tells
 * one record at a time.
 */
struct counters {
	uint64_t allocs, frees, untracked_frees, leaks, leaked_bytes;
	uint64_t untracked_bytes[LEDGER_REASONS];
	uint64_t unmatched[LEDGER_REASONS];
};

/* One process's figures on one device and memory type. */
struct series {
	uint32_t process; /* index into metrics.processes */
	int32_t device_id;
	uint8_t device_kind, mem_type;
	uint64_t live_bytes, peak_bytes;
	struct counters c;
};

/* What the processes of one command whose series were dropped counted, per device and type. */
struct total {
	char comm[DL_COMM_LEN];
	int32_t device_id;
	uint8_t device_kind, mem_type;
	struct counters c;
};

/* A process with series: at most one per pid (an exited one goes when its pid comes back). */
struct process {
	uint32_t pid;
	bool exited;
	bool dropping; /* in metrics__expire */
	uint64_t exit_ns;
	char comm[DL_COMM_LEN];
};

struct metrics {
	struct metrics_opts opts;
	struct series *series;
	size_t series_count, series_capacity;
	/*
	 * Series by (pid, device, type): written here because the observer is on the
	 * ledger's hot path (every allocation and free) and the entries are plain
	 * indexes. series index + 1, 0 empty; a power of two, at most half full,
	 * rebuilt whole when series are dropped (rare: once per exited process).
	 */
	uint32_t *index;
	size_t index_capacity;
	size_t last; /* the series found last: records come in runs */
	struct total *totals;
	size_t total_count, total_capacity;
	struct process *processes;
	size_t process_count, process_capacity;
	uint64_t exits; /* processes seen exiting, ever */
};

struct metrics *metrics__new(const struct metrics_opts *opts)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	m->opts = *opts;
	return m;
}

void metrics__free(struct metrics *m)
{
	if (!m)
		return;
	free(m->series);
	free(m->index);
	free(m->totals);
	free(m->processes);
	free(m);
}

size_t metrics__series(const struct metrics *m)
{
	return m->series_count + m->total_count;
}

static void add_counters(struct metrics_sum *sum, const struct counters *c)
{
	sum->leaks += c->leaks;
	sum->leaked_bytes += c->leaked_bytes;
	sum->untracked_frees += c->untracked_frees;
	for (int r = 0; r < LEDGER_REASONS; r++) {
		sum->untracked_bytes += c->untracked_bytes[r];
		sum->unmatched_frees += c->unmatched[r];
	}
}

void metrics__sum(const struct metrics *m, struct metrics_sum *sum)
{
	*sum = (struct metrics_sum){ .exits = m->exits };
	for (size_t i = 0; i < m->series_count; i++)
		add_counters(sum, &m->series[i].c);
	for (size_t i = 0; i < m->total_count; i++)
		add_counters(sum, &m->totals[i].c);
}

/* ---- the series index ---- */

static size_t index_home(uint32_t pid, int32_t device_id, uint8_t kind, uint8_t type,
			 size_t capacity)
{
	uint64_t h = ((uint64_t)pid << 32 | (uint32_t)device_id) ^ ((uint64_t)kind << 61) ^
		     ((uint64_t)type << 56);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (capacity - 1);
}

static bool series_is(const struct metrics *m, const struct series *s, uint32_t pid,
		      int32_t device_id, uint8_t kind, uint8_t type)
{
	return m->processes[s->process].pid == pid && s->device_id == device_id &&
	       s->device_kind == kind && s->mem_type == type;
}

/* The slot of a key: its series', or the empty one it would take. */
static size_t index_slot(const struct metrics *m, uint32_t pid, int32_t device_id, uint8_t kind,
			 uint8_t type)
{
	size_t mask = m->index_capacity - 1;
	size_t i = index_home(pid, device_id, kind, type, m->index_capacity);

	for (; m->index[i]; i = (i + 1) & mask)
		if (series_is(m, &m->series[m->index[i] - 1], pid, device_id, kind, type))
			break;
	return i;
}

static int index_rebuild(struct metrics *m, size_t capacity)
{
	uint32_t *index = calloc(capacity, sizeof(*index));

	if (!index)
		return -ENOMEM;
	free(m->index);
	m->index = index;
	m->index_capacity = capacity;
	for (size_t i = 0; i < m->series_count; i++) {
		const struct series *s = &m->series[i];

		m->index[index_slot(m, m->processes[s->process].pid, s->device_id, s->device_kind,
				    s->mem_type)] = (uint32_t)i + 1;
	}
	m->last = 0;
	return 0;
}

/* ---- processes ---- */

static long process_find(const struct metrics *m, uint32_t pid)
{
	for (size_t i = 0; i < m->process_count; i++)
		if (m->processes[i].pid == pid)
			return (long)i;
	return -1;
}

static int fold_into_totals(struct metrics *m, const struct series *s)
{
	const char *comm = m->processes[s->process].comm;
	struct total *t = NULL;
	int err;

	for (size_t i = 0; i < m->total_count && !t; i++)
		if (m->totals[i].device_id == s->device_id &&
		    m->totals[i].device_kind == s->device_kind &&
		    m->totals[i].mem_type == s->mem_type && !strcmp(m->totals[i].comm, comm))
			t = &m->totals[i];
	if (!t) {
		err = grow_array((void **)&m->totals, &m->total_capacity, sizeof(*m->totals),
				 m->total_count + 1);
		if (err)
			return err;
		t = &m->totals[m->total_count++];
		*t = (struct total){ .device_id = s->device_id,
				     .device_kind = s->device_kind,
				     .mem_type = s->mem_type };
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
	}
	t->c.allocs += s->c.allocs;
	t->c.frees += s->c.frees;
	t->c.untracked_frees += s->c.untracked_frees;
	t->c.leaks += s->c.leaks;
	t->c.leaked_bytes += s->c.leaked_bytes;
	for (int r = 0; r < LEDGER_REASONS; r++) {
		t->c.untracked_bytes[r] += s->c.untracked_bytes[r];
		t->c.unmatched[r] += s->c.unmatched[r];
	}
	return 0;
}

/*
 * Drop every process marked dropping, its series folded into its command's
 * totals. A fold that finds no memory keeps the series (tried again later):
 * counts are never lost.
 */
static void drop_marked(struct metrics *m)
{
	size_t *renumber = malloc((m->process_count ? m->process_count : 1) * sizeof(*renumber));
	size_t kept = 0;

	if (!renumber)
		return;
	for (size_t i = 0; i < m->series_count; i++) {
		struct series *s = &m->series[i];

		if (m->processes[s->process].dropping && !fold_into_totals(m, s))
			continue;
		m->processes[s->process].dropping = false; /* a fold failed: it stays */
		m->series[kept++] = *s;
	}
	m->series_count = kept;
	kept = 0;
	for (size_t i = 0; i < m->process_count; i++) {
		renumber[i] = kept;
		if (!m->processes[i].dropping)
			m->processes[kept++] = m->processes[i];
	}
	m->process_count = kept;
	for (size_t i = 0; i < m->series_count; i++)
		m->series[i].process = (uint32_t)renumber[m->series[i].process];
	free(renumber);
	/* The smallest power of two at least twice the series: dropped series give room back. */
	kept = 16;
	while (kept < m->series_count * 2 + 2)
		kept *= 2;
	if (index_rebuild(m, kept))
		m->index_capacity = 0; /* rebuilt on the next series */
}

/* The running process with this pid; one that exited with it before goes to the totals now. */
static long process_for(struct metrics *m, uint32_t pid)
{
	long found = process_find(m, pid);
	struct process *p;

	if (found >= 0 && !m->processes[found].exited)
		return found;
	if (found >= 0) {
		m->processes[found].dropping = true;
		drop_marked(m);
		if (process_find(m, pid) >= 0)
			return -1; /* could not fold: no memory */
	}
	if (grow_array((void **)&m->processes, &m->process_capacity, sizeof(*m->processes),
		       m->process_count + 1))
		return -1;
	p = &m->processes[m->process_count];
	*p = (struct process){ .pid = pid };
	if (m->opts.name)
		m->opts.name(m->opts.name_ctx, pid, p->comm);
	p->comm[DL_COMM_LEN - 1] = '\0';
	return (long)m->process_count++;
}

/* ---- what the ledger tells ---- */

static struct series *series_for(struct metrics *m, const struct ledger_change *c)
{
	struct series *s;
	long process;
	size_t slot;

	if (m->last < m->series_count &&
	    series_is(m, &m->series[m->last], c->pid, c->device_id, c->device_kind, c->mem_type) &&
	    !m->processes[m->series[m->last].process].exited)
		return &m->series[m->last];
	if (m->index_capacity) {
		slot = index_slot(m, c->pid, c->device_id, c->device_kind, c->mem_type);
		if (m->index[slot] && !m->processes[m->series[m->index[slot] - 1].process].exited) {
			m->last = m->index[slot] - 1;
			return &m->series[m->last];
		}
	}
	/* A new series, of a process seen before or new (an exited one with its pid goes first). */
	process = process_for(m, c->pid);
	if (process < 0)
		return NULL;
	if ((m->series_count + 1) * 2 > m->index_capacity &&
	    index_rebuild(m, m->index_capacity ? m->index_capacity * 2 : 64))
		return NULL;
	slot = index_slot(m, c->pid, c->device_id, c->device_kind, c->mem_type);
	if (grow_array((void **)&m->series, &m->series_capacity, sizeof(*m->series),
		       m->series_count + 1))
		return NULL;
	s = &m->series[m->series_count];
	*s = (struct series){ .process = (uint32_t)process,
			      .device_id = c->device_id,
			      .device_kind = c->device_kind,
			      .mem_type = c->mem_type };
	m->index[slot] = (uint32_t)++m->series_count;
	m->last = m->series_count - 1;
	return s;
}

static void process_exited(struct metrics *m, const struct ledger_change *c)
{
	long process = process_for(m, c->pid);

	if (process < 0)
		return;
	m->processes[process].exited = true;
	m->processes[process].exit_ns = c->ts_ns;
	m->exits++;
}

void metrics__observe(void *metrics, const struct ledger_change *c)
{
	struct metrics *m = metrics;
	struct series *s;

	if (c->kind == LEDGER_CHANGE_EXITED) {
		process_exited(m, c);
		return;
	}
	if (c->kind == LEDGER_CHANGE_CLOSED || c->mem_type >= DL_MEM_TYPES)
		return;
	/* Without memory for a new series the change is not counted: the ledger's own figures
	 * (and the summaries) still are. */
	s = series_for(m, c);
	if (!s)
		return;
	switch (c->kind) {
	case LEDGER_CHANGE_LIVE:
		s->live_bytes = c->stats->live_bytes;
		s->peak_bytes = c->stats->peak_bytes;
		s->c.allocs = c->stats->allocs;
		s->c.frees = c->stats->frees;
		s->c.untracked_frees = c->stats->untracked_frees;
		s->c.leaks = c->stats->leaks;
		s->c.leaked_bytes = c->stats->leaked_bytes;
		break;
	case LEDGER_CHANGE_ENDED:
		if (c->record->reason != LEDGER_REASON_NONE && c->record->reason < LEDGER_REASONS)
			s->c.untracked_bytes[c->record->reason] += c->record->size;
		break;
	case LEDGER_CHANGE_UNMATCHED:
		if (c->record->reason < LEDGER_REASONS)
			s->c.unmatched[c->record->reason]++;
		break;
	default:
		break;
	}
}

size_t metrics__expire(struct metrics *m, uint64_t now_ns)
{
	uint64_t retain_ns = (uint64_t)(m->opts.retain_s * 1e9);
	size_t count = 0;

	for (size_t i = 0; i < m->process_count; i++) {
		struct process *p = &m->processes[i];

		if (p->exited && now_ns >= p->exit_ns && now_ns - p->exit_ns >= retain_ns) {
			p->dropping = true;
			count++;
		}
	}
	if (count)
		drop_marked(m);
	return count;
}

/* ---- the exposition ---- */

/*
 * A label value as the text format takes it: backslash, double quote and
 * newline escaped. A comm is any 15 bytes a process chose; bytes that are not
 * printable ASCII become '?' so that every value is valid UTF-8.
 */
static void put_value(FILE *out, const char *value)
{
	for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
		if (*c == '\\' || *c == '"')
			fprintf(out, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", out);
		else
			fputc(*c >= 0x20 && *c < 0x7f ? *c : '?', out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{pid="..",comm="..",device="..",device_kind="..",type=".."[,extra="value"]} */
static void labels(FILE *out, const char *name, const uint32_t *pid, const char *comm,
		   int32_t device_id, uint8_t kind, uint8_t type, const char *extra,
		   const char *value)
{
	fprintf(out, "%s{", name);
	if (pid)
		fprintf(out, "pid=\"%" PRIu32 "\",", *pid);
	fputs("comm=\"", out);
	put_value(out, comm);
	fprintf(out, "\",device=\"%" PRId32 "\",device_kind=\"%s\",type=\"%s\"", device_id,
		ledger_device_kind_name(kind) ? ledger_device_kind_name(kind) : "unknown",
		ledger_mem_type_name(type) ? ledger_mem_type_name(type) : "unknown");
	if (extra)
		fprintf(out, ",%s=\"%s\"", extra, value);
	fputs("} ", out);
}

/* Which figure of a series' counters a family shows; arg is its reason or fate. */
typedef uint64_t (*counter_fn)(const struct counters *c, int arg);

static uint64_t count_allocs(const struct counters *c, int arg)
{
	(void)arg;
	return c->allocs;
}

enum fate { FATE_FREED, FATE_UNTRACKED, FATE_LEAKED, FATES };
static const char *const fate_names[FATES] = { "freed", "untracked", "leaked" };

static uint64_t count_fate(const struct counters *c, int fate)
{
	return fate == FATE_FREED	? c->frees
	       : fate == FATE_UNTRACKED ? c->untracked_frees
					: c->leaks;
}

static uint64_t count_untracked_bytes(const struct counters *c, int reason)
{
	return c->untracked_bytes[reason];
}

static uint64_t count_leaked_bytes(const struct counters *c, int arg)
{
	(void)arg;
	return c->leaked_bytes;
}

static uint64_t count_unmatched(const struct counters *c, int reason)
{
	return c->unmatched[reason];
}

/*
 * One counter family over every series, then every command's totals. With
 * a label (fate, reason) one line per value from first to last; by reason,
 * only the reasons that counted anything.
 */
static void counter_family(FILE *out, const struct metrics *m, const char *name, const char *help,
			   counter_fn count, const char *label, int first, int last,
			   const char *const *values, bool only_nonzero)
{
	family(out, name, "counter", help);
	for (int arg = first; arg <= last; arg++) {
		for (size_t i = 0; i < m->series_count; i++) {
			const struct series *s = &m->series[i];
			const struct process *p = &m->processes[s->process];
			uint64_t v = count(&s->c, arg);

			if (only_nonzero && !v)
				continue;
			labels(out, name, &p->pid, p->comm, s->device_id, s->device_kind,
			       s->mem_type, label, label ? values[arg] : NULL);
			fprintf(out, "%" PRIu64 "\n", v);
		}
		for (size_t i = 0; i < m->total_count; i++) {
			const struct total *t = &m->totals[i];
			uint64_t v = count(&t->c, arg);

			if (only_nonzero && !v)
				continue;
			labels(out, name, NULL, t->comm, t->device_id, t->device_kind, t->mem_type,
			       label, label ? values[arg] : NULL);
			fprintf(out, "%" PRIu64 "\n", v);
		}
	}
}

static void gauge_family(FILE *out, const struct metrics *m, const char *name, const char *help,
			 bool peak)
{
	family(out, name, "gauge", help);
	for (size_t i = 0; i < m->series_count; i++) {
		const struct series *s = &m->series[i];
		const struct process *p = &m->processes[s->process];

		labels(out, name, &p->pid, p->comm, s->device_id, s->device_kind, s->mem_type, NULL,
		       NULL);
		fprintf(out, "%" PRIu64 "\n", peak ? s->peak_bytes : s->live_bytes);
	}
}

static void scalar(FILE *out, const char *name, const char *type, const char *help, uint64_t value)
{
	family(out, name, type, help);
	fprintf(out, "%s %" PRIu64 "\n", name, value);
}

int metrics__render(const struct metrics *m, const struct metrics_session *session, char **text,
		    size_t *len)
{
	const char *reasons[LEDGER_REASONS];
	size_t running = 0;
	FILE *out;

	for (int r = 0; r < LEDGER_REASONS; r++)
		reasons[r] = ledger_reason_name((enum ledger_reason)r);
	for (size_t i = 0; i < m->process_count; i++)
		running += !m->processes[i].exited;
	*text = NULL;
	out = open_memstream(text, len);
	if (!out)
		return -ENOMEM;
	family(out, "devledger_build_info", "gauge", "devledger's version, as a label; always 1.");
	fprintf(out, "devledger_build_info{version=\"%s\"} 1\n", DEVLEDGER_VERSION);
	scalar(out, "devledger_events_total", "counter", "Records devledger consumed.",
	       session->events);
	scalar(out, "devledger_lost_events_total", "counter",
	       "Records the probes could not deliver (ring buffer full, unreadable memory, full "
	       "maps): any makes the figures inexact.",
	       session->lost_events);
	scalar(out, "devledger_rejected_events_total", "counter",
	       "Records the ledger could not account for: any makes the figures inexact.",
	       session->rejected_events);
	scalar(out, "devledger_dropped_allocations_total", "counter",
	       "Allocations not kept because their process had --max-live live already.",
	       session->dropped_allocations);
	family(out, "devledger_processes", "gauge",
	       "Processes with series: running, and exited within --retain.");
	fprintf(out, "devledger_processes{state=\"running\"} %zu\n", running);
	fprintf(out, "devledger_processes{state=\"exited\"} %zu\n", m->process_count - running);
	scalar(out, "devledger_process_exits_total", "counter", "Traced processes seen exiting.",
	       m->exits);
	gauge_family(out, m, "devledger_live_bytes",
		     "Bytes live per process, device and memory type (CB, DFB: the union of the "
		     "live ranges).",
		     false);
	gauge_family(out, m, "devledger_peak_bytes",
		     "The most bytes ever live at once per process, device and memory type.", true);
	counter_family(out, m, "devledger_allocations_total",
		       "Allocations (without a pid label: of the command's processes whose series "
		       "were dropped).",
		       count_allocs, NULL, 0, 0, NULL, false);
	counter_family(out, m, "devledger_frees_total",
		       "How allocations ended: freed with a report, freed without one (untracked), "
		       "or held when their process exited (leaked).",
		       count_fate, "fate", 0, FATES - 1, fate_names, false);
	counter_family(out, m, "devledger_untracked_bytes_total",
		       "Bytes freed without a report, by why (program_destroyed, device_closed, "
		       "mesh_closed, allocator_free, allocator_clear, cb_deallocate_all, "
		       "cb_reallocated).",
		       count_untracked_bytes, "reason", LEDGER_REASON_PROGRAM_DESTROYED,
		       LEDGER_REASON_MESH_CLOSED, reasons, true); /* the untracked reasons */
	counter_family(out, m, "devledger_leaked_bytes_total",
		       "Bytes still allocated when their process exited.", count_leaked_bytes, NULL,
		       0, 0, NULL, false);
	counter_family(out, m, "devledger_unmatched_frees_total",
		       "Frees that matched no live allocation, by why (unknown_address, "
		       "double_free).",
		       count_unmatched, "reason", LEDGER_REASON_UNKNOWN_ADDRESS,
		       LEDGER_REASON_DOUBLE_FREE, reasons, true);
	if (fclose(out)) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}
