#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# biglib.sh OUT N [DWARF_MB]: a libtt_metal.so with the stand-in's functions plus N generated functions
# with long mangled-looking names, the size of symbol table tt-metal's own library has, for timing
# start-up. With DWARF_MB, about that many MB of generated compile units (bench/dwarfgen.c) go into
# .debug_info before the stand-in's own, so the classes devledger looks for are in the last unit:
# a RelWithDebInfo tt-metal's size.
set -euo pipefail
out=$1
count=$2
dwarf_mb=${3:-0}
mkdir -p "$(dirname "$out")"
objects=$(dirname "$0")/../${OUTPUT:-build}/standin
dwarfgen=$(dirname "$0")/../${OUTPUT:-build}/bench/dwarfgen
asm=$(mktemp --suffix=.s)
work=$(mktemp -d)
trap 'rm -rf "$asm" "$work"' EXIT
awk -v n="$count" 'BEGIN {
	print "\t.section .note.GNU-stack,\"\",@progbits"
	print "\t.text"
	for (i = 0; i < n; i++) {
		name = sprintf("_ZN2tt8tt_metal9generated%07dINS0_6detail13TemplateArgumentEE4callEPKNS0_7IDeviceEm", i)
		printf "\t.globl %s\n\t.type %s, @function\n%s:\n\tret\n\t.size %s, 1\n", name, name, name, name
	}
}' > "$asm"
g++ -c "$asm" -o "$out.o"
g++ -shared "$objects/tt_metal.o" "$objects/truth.o" "$out.o" -o "$out"
rm -f "$out.o"
if [ "$dwarf_mb" -gt 0 ]; then
	objcopy --dump-section .debug_info="$work/info" --dump-section .debug_abbrev="$work/abbrev" "$out"
	"$dwarfgen" "$(stat -c %s "$work/abbrev")" "$dwarf_mb" "$work/gen-info" "$work/gen-abbrev"
	# Units refer to their abbreviations by offset and to their own DIEs relative to themselves:
	# the stand-in's units keep working moved to the end, their abbreviations where they were.
	cat "$work/gen-info" "$work/info" > "$work/new-info"
	cat "$work/abbrev" "$work/gen-abbrev" > "$work/new-abbrev"
	objcopy --update-section .debug_info="$work/new-info" \
		--update-section .debug_abbrev="$work/new-abbrev" "$out"
fi
