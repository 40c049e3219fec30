#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The fuzzers' generated seeds, written into CORPUS/NAME/ (make fuzz-seeds): the seed library
# (seedlib.cpp) as built by a C compiler with -shared -g, stripped and with its debug sections
# compressed each way; code bytes for probesite; record streams for the ledger (ledger_seeds.c).
# Built without libc, startup files, build id or RELRO padding, each is a few KB, small enough to
# commit. The maps and options seeds are written by hand and not touched here.
set -euo pipefail

corpus=${1:?usage: seeds.sh CORPUS_DIR}
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Paths in the DWARF stay the same wherever this runs.
seedlib_flags=(-shared -fPIC -g -O1 -fno-ident -fno-exceptions -fno-rtti
	-fno-asynchronous-unwind-tables -nostdlib -fdebug-prefix-map="$here"=.
	-Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none -Wl,--hash-style=gnu)

"$cc" "${seedlib_flags[@]}" -o "$work/seedlib.so" "$here/seedlib.cpp"
# Hidden and not inlined: Buffer::allocate_impl calls the tracker directly, not through the PLT.
"$cc" "${seedlib_flags[@]}" -fvisibility=hidden -fno-inline -o "$work/seedlib-direct.so" \
	"$here/seedlib.cpp"
strip --strip-all -o "$work/seedlib-stripped.so" "$work/seedlib.so"
for compression in zlib zstd zlib-gnu; do
	objcopy --compress-debug-sections="$compression" "$work/seedlib.so" \
		"$work/seedlib-$compression.so"
done

mkdir -p "$corpus"/{elfsyms,dwarflayout,inlining,probesite,ledger}
cp "$work/seedlib.so" "$work/seedlib-stripped.so" "$corpus/elfsyms/"
cp "$work/seedlib.so" "$work/seedlib-zlib.so" "$work/seedlib-zstd.so" "$work/seedlib-zlib-gnu.so" \
	"$corpus/dwarflayout/"
cp "$work/seedlib.so" "$work/seedlib-direct.so" "$work/seedlib-stripped.so" "$corpus/inlining/"

# probesite: a byte of argument registers read (PROBESITE_* bits), then code.
code_seed() {
	local name=$1 regs=$2 hex=$3

	printf "\\x$regs$(sed 's/ /\\x/g; s/^/\\x/' <<<"$hex")" >"$corpus/probesite/$name"
}
code_seed push-entry 01 "55 48 89 e5 89 7d fc 5d c3"
code_seed cet-push 03 "f3 0f 1e fa 55 48 89 e5 48 89 7d f8 5d c3"
code_seed cet-arg-write 02 "f3 0f 1e fa 48 89 fe 55 48 89 e5 5d c3"
code_seed jump-back 01 "f3 0f 1e fa 55 48 85 ff 74 02 eb f8 5d c3"
code_seed call-first 01 "e8 00 00 00 00 55 c3"
code_seed nop5-push 3f "0f 1f 44 00 00 55 41 54 c3"
# The seed library's whole .text, read with rdi and rsi.
objcopy -O binary --only-section=.text "$work/seedlib.so" "$work/text.bin"
{ printf '\x03'; cat "$work/text.bin"; } >"$corpus/probesite/seedlib-text"

"$cc" -std=c11 -Wall -Wextra -Werror -I"$here/../.." -o "$work/ledger_seeds" "$here/ledger_seeds.c"
"$work/ledger_seeds" "$corpus/ledger"
