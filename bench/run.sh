#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench: what a probed call costs under devledger, against a baseline taken in the same run,
# on the stand-in's real GraphTracker::track_allocate/track_deallocate (tt-metal's body shape), for
# the plain build and the CET build. Variants are interleaved round by round; medians are printed.
#   a   no probes
#   b   an empty BPF program at each function's entry (the floor a tracer probing entries pays)
#   b'  an empty BPF program at the site devledger chooses
#   c   devledger trace, call stacks on as by default (its own CPU time per million events and peak
#       RSS from its summary)
#   c0  devledger trace --no-stacks: c/c0 is what the stacks cost (off by default past 2x)
#   d   bpftrace keeping a per-device live/peak ledger in BPF maps (bench/ledger.bt)
# Then the ledger alone: records per second on one core, and bytes per live allocation; and the time
# from start to every probe attached on a library with half a million symbols.
# CALLS and ROUNDS (environment) size the run.
set -euo pipefail
out=${OUTPUT:-build}
calls=${CALLS:-200000}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ulimit -l unlimited 2>/dev/null || true

ns() { sed -n 's/^ns_per_call //p' "$1" | tail -n 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for build in plain cet; do
	dir=$out/standin
	[ "$build" = cet ] && dir=$out/standin-cet
	driver=$dir/standin
	lib=$(realpath "$dir/libtt_metal.so")
	sed "s|LIBRARY|$lib|" bench/ledger.bt > "$work/ledger.bt"
	for ((r = 1; r <= rounds; r++)); do
		"$driver" loop "$calls" --time > "$work/a"
		"$out/bench/probecost" --entry "$lib" -- "$driver" loop "$calls" --time > "$work/b"
		"$out/bench/probecost" --chosen "$lib" -- "$driver" loop "$calls" --time > "$work/bp"
		"$out/devledger" trace -q -o "$work/c.json" -- "$driver" loop "$calls" --time > "$work/c"
		"$out/devledger" trace -q --no-stacks -o "$work/c0.json" -- "$driver" loop "$calls" --time > "$work/c0"
		bpftrace "$work/ledger.bt" -c "$driver loop $calls --time" > "$work/d" 2>/dev/null
		ns "$work/a" >> "$work/$build.a"
		ns "$work/b" >> "$work/$build.b"
		ns "$work/bp" >> "$work/$build.bp"
		ns "$work/c" >> "$work/$build.c"
		ns "$work/c0" >> "$work/$build.c0"
		# The stacks' user-space side, from the summary: unwinding ns per sample, and the share
		# of frames whose unwind rule was cached.
		key() { sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" "$work/c.json" | head -n 1; }
		awk -v ns="$(key unwind_ns)" -v n="$(key samples)" -v f="$(key frames)" -v cf="$(key cached_frames)" \
			-v k="$(key known_stacks)" 'BEGIN { n = n ? n : 1; f = f ? f : 1; printf "%.1f %.4f %.4f\n", ns / n, cf / f, k / n }' \
			>> "$work/$build.unwind"
		ns "$work/d" >> "$work/$build.d"
		events=$(sed -n 's/.*"events": *\([0-9]*\).*/\1/p' "$work/c.json" | head -n 1)
		lost=$(sed -n 's/.*"lost_events": *\([0-9]*\).*/\1/p' "$work/c.json" | head -n 1)
		cpu=$(sed -n 's/.*"cpu_s": *\([0-9.]*\).*/\1/p' "$work/c.json" | head -n 1)
		rss=$(sed -n 's/.*"peak_rss_kib": *\([0-9]*\).*/\1/p' "$work/c.json" | head -n 1)
		awk -v c="$cpu" -v e="$events" 'BEGIN { printf "%.1f\n", c * 1e6 / e * 1000 }' >> "$work/$build.cpu"
		echo "$rss" >> "$work/$build.rss"
		echo "$lost" >> "$work/$build.lost"
	done
done

printf '\nProbed call cost, median ns per call over %d rounds of %d track_allocate/track_deallocate pairs\n' "$rounds" "$calls"
printf '%-6s %8s %8s %8s %8s %8s %8s %7s %7s %7s %7s %6s %14s %10s\n' build a b "b'" c c0 d "c/b'" c/b c/c0 c/d lost "cpu ms/M ev" "peak RSS"
for build in plain cet; do
	a=$(median < "$work/$build.a"); b=$(median < "$work/$build.b"); bp=$(median < "$work/$build.bp")
	c=$(median < "$work/$build.c"); c0=$(median < "$work/$build.c0"); d=$(median < "$work/$build.d")
	cpu=$(median < "$work/$build.cpu"); rss=$(median < "$work/$build.rss")
	lost=$(awk '{ s += $1 } END { print s + 0 }' "$work/$build.lost")
	awk -v n="$build" -v a="$a" -v b="$b" -v bp="$bp" -v c="$c" -v c0="$c0" -v d="$d" -v l="$lost" -v cpu="$cpu" -v rss="$rss" \
		'BEGIN { printf "%-6s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %7.2f %7.2f %7.2f %7.2f %6d %14.1f %7d KiB\n", n, a, b, bp, c, c0, d, c / bp, c / b, c / c0, c / d, l, cpu, rss }'
done

printf '\nCall stacks in c: user-space unwinding per sample (wall clock), samples one core unwinds per second,\n'
printf 'frames whose unwind rule was cached, samples whose stack was known already (medians)\n'
for build in plain cet; do
	ns=$(cut -d' ' -f1 "$work/$build.unwind" | median); hits=$(cut -d' ' -f2 "$work/$build.unwind" | median)
	known=$(cut -d' ' -f3 "$work/$build.unwind" | median)
	awk -v n="$build" -v ns="$ns" -v h="$hits" -v k="$known" \
		'BEGIN { printf "%-6s %8.1f ns/sample %10.0f samples/s %6.1f%% frames cached %6.1f%% stacks known\n", n, ns, 1e9 / ns, h * 100, k * 100 }'
done

printf '\nThe ledger alone (one core)\n'
"$out/bench/ledger_bench"

# Start-up: a library with 500,000 more function symbols than the stand-in's (tt-metal's size).
symbols=${SYMBOLS:-500000}
OUTPUT=$out bench/biglib.sh "$work/big/libtt_metal.so" "$symbols"
for ((r = 1; r <= 5; r++)); do
	"$out/devledger" trace -a -l "$work/big/libtt_metal.so" -d 0.1 -q -v 2>&1 |
		sed -n 's/.* probes attached .* in \([0-9.]*\) ms$/\1/p' >> "$work/startup"
done
printf '\nStart-up on a %s MB library with %d more symbols: all probes attached in %s ms (median of 5)\n' \
	"$(( $(stat -c %s "$work/big/libtt_metal.so") / 1000000 ))" "$symbols" "$(median < "$work/startup")"
