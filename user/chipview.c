/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdlib.h>
#include <string.h>

#include "chipview.h"

static const struct ledger_device *device_of(const struct ledger_process *p, uint8_t kind,
					     int32_t id)
{
	for (size_t d = 0; d < p->device_count; d++)
		if (p->devices[d].kind == kind && p->devices[d].device_id == id)
			return &p->devices[d];
	return NULL;
}

static void add_stats(struct ledger_stats *to, const struct ledger_stats *from)
{
	to->live_bytes += from->live_bytes;
	to->live_count += from->live_count;
	to->allocs += from->allocs;
	to->frees += from->frees;
	to->untracked_frees += from->untracked_frees;
	to->untracked_bytes += from->untracked_bytes;
	to->leaks += from->leaks;
	to->leaked_bytes += from->leaked_bytes;
}

static void add_device(struct chip_view *view, const struct ledger_device *device)
{
	if (!device)
		return;
	view->active_types |= device->active_types;
	for (int t = 0; t < DL_MEM_TYPES; t++)
		add_stats(&view->mem[t], &device->mem[t]);
}

static int compare_ids(const void *a, const void *b)
{
	const int32_t *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

size_t chipview__build(const struct ledger_process *p, struct chip_view *views)
{
	int32_t *chips = malloc((p->mesh_chip_count ? p->mesh_chip_count : 1) * sizeof(*chips));
	size_t count = 0;

	if (!chips)
		return 0;
	for (size_t i = 0; i < p->mesh_chip_count; i++)
		chips[i] = p->mesh_chips[i].chip_id;
	qsort(chips, p->mesh_chip_count, sizeof(*chips), compare_ids);
	for (size_t i = 0; i < p->mesh_chip_count; i++) {
		struct chip_view *view = &views[count];

		if (i && chips[i] == chips[i - 1])
			continue;
		memset(view, 0, sizeof(*view));
		view->chip_id = chips[i];
		add_device(view, device_of(p, DL_DEVICE_CHIP, chips[i]));
		for (size_t m = 0; m < p->mesh_chip_count; m++) {
			if (p->mesh_chips[m].chip_id != chips[i])
				continue;
			if (view->mesh_count == CHIPVIEW_MAX_MESHES) {
				view->meshes_dropped = true;
				continue;
			}
			view->meshes[view->mesh_count++] = p->mesh_chips[m].mesh_id;
			add_device(view, device_of(p, DL_DEVICE_MESH, p->mesh_chips[m].mesh_id));
		}
		count++;
	}
	free(chips);
	return count;
}

bool chipview__same(const struct chip_view *a, const struct chip_view *b)
{
	return a->mesh_count == b->mesh_count &&
	       !memcmp(a->meshes, b->meshes, a->mesh_count * sizeof(a->meshes[0])) &&
	       a->active_types == b->active_types && !memcmp(a->mem, b->mem, sizeof(a->mem));
}
