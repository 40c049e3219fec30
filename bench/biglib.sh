#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# biglib.sh OUT N: a libtt_metal.so with the stand-in's functions plus N generated functions with long
# mangled-looking names, the size of symbol table tt-metal's own library has, for timing start-up.
set -euo pipefail
out=$1
count=$2
mkdir -p "$(dirname "$out")"
objects=$(dirname "$0")/../${OUTPUT:-build}/standin
asm=$(mktemp --suffix=.s)
trap 'rm -f "$asm"' EXIT
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
