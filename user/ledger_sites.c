/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The ledger's counters per allocating site (stack tag), for the summary's sites[]. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "ledger_state.h"

/* ---- allocating sites, by stack tag ---- */

static size_t site_home(uint32_t stack, size_t capacity)
{
	return (size_t)((stack * 0x9e3779b97f4a7c15ULL) >> 24) & (capacity - 1);
}

static struct ledger_site *site_find(struct process_state *p, uint32_t stack, size_t *home)
{
	size_t mask = p->site_index_capacity - 1;

	if (!stack || !p->site_index_capacity)
		return NULL;
	if (p->last_site < p->view.site_count && p->view.sites[p->last_site].stack == stack)
		return &p->view.sites[p->last_site];
	for (size_t h = site_home(stack, p->site_index_capacity);; h = (h + 1) & mask) {
		uint32_t i = p->site_index[h];

		if (!i) {
			if (home)
				*home = h;
			return NULL;
		}
		if (p->view.sites[i - 1].stack == stack) {
			p->last_site = i - 1;
			return &p->view.sites[i - 1];
		}
	}
}

static int site_index_grow(struct process_state *p)
{
	size_t capacity = p->site_index_capacity ? p->site_index_capacity * 2 : 64;
	uint32_t *index = calloc(capacity, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < p->view.site_count; i++) {
		size_t h = site_home(p->view.sites[i].stack, capacity);

		while (index[h])
			h = (h + 1) & (capacity - 1);
		index[h] = (uint32_t)(i + 1);
	}
	free(p->site_index);
	p->site_index = index;
	p->site_index_capacity = capacity;
	return 0;
}

/* An allocation of this stack tag: counted at its site (made at its first). */
int ledger_site_allocated(struct process_state *p, uint32_t stack, uint64_t size)
{
	struct ledger_site *site;
	size_t home = 0;
	int err;

	if (!stack)
		return 0;
	if ((p->view.site_count + 1) * 2 > p->site_index_capacity && site_index_grow(p))
		return -ENOMEM;
	site = site_find(p, stack, &home);
	if (!site) {
		err = grow_array((void **)&p->view.sites, &p->site_capacity, sizeof(*p->view.sites),
				 p->view.site_count + 1);
		if (err)
			return err;
		p->site_index[home] = (uint32_t)(p->view.site_count + 1);
		p->last_site = p->view.site_count;
		site = &p->view.sites[p->view.site_count++];
		*site = (struct ledger_site){ .stack = stack };
	}
	site->allocs++;
	site->live_bytes += size;
	if (site->live_bytes > site->peak_bytes)
		site->peak_bytes = site->live_bytes;
	return 0;
}

/* An allocation of this stack tag ended: freed (neither), leaked or released untracked. */
void ledger_site_ended(struct process_state *p, uint32_t stack, uint64_t size, bool leak,
		       bool untracked)
{
	struct ledger_site *site = site_find(p, stack, NULL);

	if (!site)
		return;
	site->live_bytes -= size < site->live_bytes ? size : site->live_bytes;
	if (leak) {
		site->leaks++;
		site->leaked_bytes += size;
	} else if (untracked) {
		site->untracked_frees++;
		site->untracked_bytes += size;
	}
}

/*
 * The device a record names. A mesh whose id the library does not tell
 * (device_id -1) is numbered by the order its process's meshes were first
 * seen, by their address.
 */
