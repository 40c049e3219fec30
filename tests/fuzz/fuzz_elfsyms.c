/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * elfsyms__resolve on any file: the symbols of the seed library (and one no
 * seed has) looked up in it, and what it promises checked: a symbol found
 * lies wholly inside the file, under the name asked for.
 */
#include <string.h>

#include "elfsyms.h"
#include "fuzz.h"

static const char *const names[] = {
	"_ZN2tt8tt_metal12GraphTracker14track_allocateEPKNS0_6BufferE",
	"_ZN2tt8tt_metal6Buffer13allocate_implEv",
	"_ZN2tt8tt_metal6Device5closeEv",
	"_ZN2tt8tt_metal11distributed10MeshDevice5closeEv",
	"_ZN2tt8tt_metal6detail11ProgramImplD2Ev",
	"_ZN2tt8tt_metal6detail11ProgramImplD1Ev",
	"_ZTVN2tt8tt_metal11distributed10MeshDeviceE",
	"seed_bss",
	"seed_sink",
	"_ZN2tt8tt_metal11BankManager5clearEv",
};

#define NAMES (sizeof(names) / sizeof(names[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct elfsym none;
	struct elfsym syms[NAMES];
	int err = elfsyms__resolve(fuzz_file(data, size), names, NAMES, syms);

	FUZZ_CHECK(err <= 0);
	for (size_t i = 0; i < NAMES; i++) {
		const struct elfsym *sym = &syms[i];

		if (!sym->found) {
			FUZZ_CHECK(!memcmp(sym, &none, sizeof(none)));
			continue;
		}
		FUZZ_CHECK(err == 0);
		FUZZ_CHECK(sym->name == names[i]);
		FUZZ_CHECK(sym->table == ELFSYM_SYMTAB || sym->table == ELFSYM_DYNSYM);
		FUZZ_CHECK(sym->offset <= size && sym->size <= size - sym->offset);
	}
	return 0;
}
