/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-chip picture of a process that used meshes: each chip of a mesh
 * with its own buffers and, on top, the mesh's buffers, which take the same
 * room at the same address on every chip of the mesh. The ledger keeps a
 * mesh's buffers on the mesh; this is the view users compare with per-chip
 * reports ("device 0: 36 KB DRAM + 22 KB L1; devices 1-7: 36 KB DRAM each").
 */
#ifndef DEVLEDGER_CHIPVIEW_H
#define DEVLEDGER_CHIPVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "ledger.h"

#define CHIPVIEW_MAX_MESHES 8

struct chip_view {
	int32_t chip_id;
	/* the meshes it was a chip of (a process may open several, one after another) */
	int32_t meshes[CHIPVIEW_MAX_MESHES];
	size_t mesh_count;
	bool meshes_dropped; /* more than CHIPVIEW_MAX_MESHES: the rest are not added */
	uint32_t active_types; /* bit per enum dl_mem_type */
	/* The chip's counters plus its meshes'; peak_bytes is 0: a sum of peaks is none. */
	struct ledger_stats mem[DL_MEM_TYPES];
};

/*
 * One view per chip the process's meshes are known to have (p->mesh_chips),
 * sorted by chip id, into views[] (room for p->mesh_chip_count). Returns how
 * many.
 */
size_t chipview__build(const struct ledger_process *p, struct chip_view *views);

/* Do two chips show the same figures (the ids aside)? Then a report prints them once. */
bool chipview__same(const struct chip_view *a, const struct chip_view *b);

#endif /* DEVLEDGER_CHIPVIEW_H */
