/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The ledger's program-scope L1: CBs and dataflow buffers, whose live bytes are the union of their
 * ranges. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "ledger_state.h"

/* ---- circular buffers ---- */

static int compare_ranges(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/*
 * Programs lay their CBs (or DFBs) out from one L1 base: what is in use is the
 * union of the ranges, per type.
 */
static int update_cb_union(struct process_state *p, struct device_key device, uint8_t mem_type,
			   uint64_t ts)
{
	struct ledger_stats *stats = ledger_stats_for(p, device, mem_type);
	uint64_t(*ranges)[2], total = 0, end = 0;
	size_t n = 0;

	if (!stats)
		return -ENOMEM;
	ranges = malloc((p->cb_count ? p->cb_count : 1) * sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	for (size_t i = 0; i < p->cb_count; i++) {
		if (!same_device(p->cbs[i].device, device) || p->cbs[i].mem_type != mem_type)
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
	ledger_notify_live(p, device, mem_type, stats, ts);
	return 0;
}

/* One live CB ends: counted, and listed as an untracked free (with reason) or a leak. */
static int end_cb(struct process_state *p, const struct cb *cb, enum ledger_reason reason,
		  bool leak, uint64_t ts)
{
	struct ledger_stats *stats = ledger_stats_for(p, cb->device, cb->mem_type);
	struct ledger_record r = { .device_id = cb->device.id,
				   .device_kind = cb->device.kind,
				   .mem_type = cb->mem_type,
				   .reason = (uint8_t)reason,
				   .stack = cb->stack,
				   .address = cb->address,
				   .size = cb->size,
				   .alloc_ts_ns = cb->alloc_ts_ns,
				   .event_ts_ns = ts };

	if (!stats)
		return -ENOMEM;
	return ledger_count_end(p, stats, &r, leak);
}

/* End the CBs of one device (NULL: any) and one program (any_program: any). */
int ledger_end_cbs(struct process_state *p, const struct device_key *device, bool any_program,
		   uint64_t program, enum ledger_reason reason, bool leak, uint64_t ts)
{
	struct device_key touched_devices[64];
	uint8_t touched_types[64];
	size_t touched = 0, kept = 0;
	bool overflow = false;
	int err = 0;

	for (size_t i = 0; i < p->cb_count; i++) {
		struct cb *cb = &p->cbs[i];
		bool seen = false;

		if ((device && !same_device(cb->device, *device)) ||
		    (!any_program && cb->program != program)) {
			p->cbs[kept++] = *cb;
			continue;
		}
		err = end_cb(p, cb, reason, leak, ts);
		if (err)
			return err;
		for (size_t t = 0; t < touched; t++)
			seen |= same_device(touched_devices[t], cb->device) &&
				touched_types[t] == cb->mem_type;
		if (!seen && touched < 64) {
			touched_types[touched] = cb->mem_type;
			touched_devices[touched++] = cb->device;
		} else if (!seen)
			overflow = true;
	}
	p->cb_count = kept;
	if (overflow) {
		/* More devices than the short list holds: recompute every device's union. */
		for (size_t d = 0; d < p->view.device_count && !err; d++)
			for (uint8_t type = DL_MEM_CB; type <= DL_MEM_DFB && !err; type++)
				if (p->view.devices[d].active_types & (1u << type))
					err = update_cb_union(
						p,
						(struct device_key){
							.id = p->view.devices[d].device_id,
							.kind = p->view.devices[d].kind },
						type, ts);
		return err;
	}
	for (size_t t = 0; t < touched && !err; t++)
		err = update_cb_union(p, touched_devices[t], touched_types[t], ts);
	return err;
}

int ledger_apply_cb_alloc(struct process_state *p, const struct dl_event *ev,
			  struct device_key device)
{
	struct ledger_stats *stats;
	int err;

	if (!program_scope(ev->mem_type))
		return -EINVAL;
	/* The same program laying a CB out again at the same place replaces the old one. */
	for (size_t i = 0; i < p->cb_count; i++) {
		struct cb *cb = &p->cbs[i];

		/* With no program known (0) every CB stands alone: two programs may share an
		 * address. */
		if (ev->object && same_device(cb->device, device) && cb->program == ev->object &&
		    cb->address == ev->address && cb->mem_type == ev->mem_type) {
			err = end_cb(p, cb, LEDGER_REASON_CB_REALLOCATED, false, ev->ts_ns);
			if (err)
				return err;
			p->cbs[i] = p->cbs[--p->cb_count];
			break;
		}
	}
	err = grow_array((void **)&p->cbs, &p->cb_capacity, sizeof(*p->cbs), p->cb_count + 1);
	if (err)
		return err;
	stats = ledger_stats_for(p, device, ev->mem_type);
	if (!stats)
		return -ENOMEM;
	p->cbs[p->cb_count++] = (struct cb){ .program = ev->object,
					     .address = ev->address,
					     .size = ev->size,
					     .alloc_ts_ns = ev->ts_ns,
					     .device = device,
					     .mem_type = ev->mem_type,
					     .stack = p->stack };
	stats->allocs++;
	stats->live_count++;
	err = ledger_site_allocated(p, p->stack, ev->size);
	if (err)
		return err;
	return update_cb_union(p, device, ev->mem_type, ev->ts_ns);
}
