/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ledger alone, on one core: records per second over a synthetic stream
 * (allocations and frees over 8 devices and 4 types, a working set that
 * stays live), and memory per live allocation with one million live.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ledger.h"

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t heap_bytes(void)
{
	struct mallinfo2 info = mallinfo2();

	return info.uordblks + info.hblkhd;
}

static void apply(struct ledger *ledger, uint32_t kind, int32_t device, uint8_t type,
		  uint64_t address, uint64_t ts)
{
	struct dl_event ev = { .kind = kind,
			       .pid = 4242,
			       .ts_ns = ts,
			       .address = address,
			       .size = 4096,
			       .device_id = device,
			       .mem_type = type };

	if (ledger__apply(ledger, &ev, sizeof(ev))) {
		fprintf(stderr, "ledger_bench: ledger__apply failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint64_t records = argc > 1 ? strtoull(argv[1], NULL, 10) : 50000000ULL;
	const uint64_t working_set = 65536, live_target = 1000000;
	struct ledger *ledger = ledger__new(NULL);
	size_t before;
	double start, elapsed;

	if (!ledger)
		return 1;
	/*
	 * Records in pairs: allocate slot i of a rotating working set and free
	 * the one allocated working_set pairs earlier, so the table keeps a
	 * steady population and every free matches.
	 */
	start = seconds();
	for (uint64_t i = 0; i < records / 2; i++) {
		uint64_t slot = i % working_set;
		int32_t device = (int32_t)(slot % 8);
		uint8_t type = (uint8_t)(slot / 8 % 4);

		if (i >= working_set)
			apply(ledger, DL_EV_FREE, device, type, slot * 4096, i);
		apply(ledger, DL_EV_ALLOC, device, type, slot * 4096, i);
	}
	elapsed = seconds() - start;
	printf("ledger_records_per_s %.0f\n", (double)(records / 2 * 2) / elapsed);
	ledger__free(ledger);

	/* Every one of the million kept: past --max-live's default they would be dropped. */
	ledger = ledger__new(&(struct ledger_opts){ .max_live = live_target });
	before = heap_bytes();
	for (uint64_t i = 0; i < live_target; i++)
		apply(ledger, DL_EV_ALLOC, (int32_t)(i % 8), DL_MEM_DRAM, i * 4096, i);
	printf("ledger_bytes_per_live %.1f\n", (double)(heap_bytes() - before) / live_target);
	if (ledger__dropped(ledger))
		printf("ledger_dropped %llu (the figure above is wrong)\n",
		       (unsigned long long)ledger__dropped(ledger));
	ledger__free(ledger);
	return 0;
}
