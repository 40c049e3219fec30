#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench: what a probed call costs under devledger, against a baseline taken in the same run,
# on the stand-in's real GraphTracker::track_allocate/track_deallocate (tt-metal's body shape), for
# the plain build and the CET build. Variants are interleaved round by round; medians are printed.
#   a   no probes
#   b   an empty BPF program at each function's entry (the floor a tracer probing entries pays),
#       in one uprobe_multi link as devledger attaches (b' and the floor below too)
#   b'  an empty BPF program at the site devledger chooses
#   c   devledger trace, call stacks on as by default (its own CPU time per million events and peak
#       RSS from its summary)
#   c0  devledger trace --no-stacks: c/c0 is what the stacks cost (off by default past 2x)
#   d   bpftrace keeping a per-device live/peak ledger in BPF maps (bench/ledger.bt)
# Then the whole path: real stand-in Buffers (a DRAM and an L1 one per round) created and destroyed
# through the allocator, on builds whose BankManager::deallocate_buffer is large (push first) or a
# small tail call (its entry single-stepped), plain and CET, with and without a processor registered
# in GraphTracker:
#   a      no probes
#   floor  an empty BPF program at the two tracker functions' chosen sites (the two traps a buffer
#          cannot do without)
#   c      devledger trace, and the traps it took per buffer, counted by its BPF hit counters (-v)
#   d      bpftrace's ledger (bench/ledger.bt)
# Then the ledger alone: records per second on one core, and bytes per live allocation; the time
# from start to every probe attached on a library with half a million symbols; and `devledger
# check` and the time to attached on a library with 300 MB of .debug_info, the first time and with
# the layout cache.
# CALLS, ROUNDS, BUFFERS, WHOLE_ROUNDS, SYMBOLS and DWARF_MB (environment) size the run.
set -euo pipefail
out=${OUTPUT:-build}
calls=${CALLS:-200000}
rounds=${ROUNDS:-5}
buffers=${BUFFERS:-20000}
whole_rounds=${WHOLE_ROUNDS:-3}
dwarf_mb=${DWARF_MB:-300}
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
		"$out/bench/probecost" --entry --multi "$lib" -- "$driver" loop "$calls" --time > "$work/b"
		"$out/bench/probecost" --chosen --multi "$lib" -- "$driver" loop "$calls" --time > "$work/bp"
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

# The whole path: one round runs every variant of every configuration once, in turn.
whole_configs="large:plain large:cet tail:plain tail:cet"
for ((r = 1; r <= whole_rounds; r++)); do
	for config in $whole_configs; do
		shape=${config%%:*}
		build=${config##*:}
		case $config in
		large:plain) dir=$out/standin ;;
		large:cet) dir=$out/standin-cet ;;
		tail:plain) dir=$out/standin-bank-tail ;;
		tail:cet) dir=$out/standin-bank-tail-cet ;;
		esac
		driver=$dir/standin
		lib=$(realpath "$dir/libtt_metal.so")
		sed "s|LIBRARY|$lib|" bench/ledger.bt > "$work/ledger.bt"
		for processor in no yes; do
			flag=
			[ "$processor" = yes ] && flag=--processor
			key="$shape.$build.$processor"
			wns() { sed -n 's/^ns_per_buffer //p' "$1" | tail -n 1; }
			"$driver" buffers "$buffers" --time $flag > "$work/wa"
			"$out/bench/probecost" --chosen --multi "$lib" -- "$driver" buffers "$buffers" --time $flag > "$work/wf"
			"$out/devledger" trace -q -v -o "$work/wc.json" -- "$driver" buffers "$buffers" --time $flag \
				> "$work/wc" 2> "$work/wc.err"
			"$out/devledger" trace -q --no-stacks -o "$work/wc0.json" -- "$driver" buffers "$buffers" \
				--time $flag > "$work/wc0"
			bpftrace "$work/ledger.bt" -c "$driver buffers $buffers --time $flag" > "$work/wd" 2>/dev/null
			wns "$work/wa" >> "$work/$key.a"
			wns "$work/wc0" >> "$work/$key.c0"
			wns "$work/wf" >> "$work/$key.f"
			wns "$work/wc" >> "$work/$key.c"
			wns "$work/wd" >> "$work/$key.d"
			hits=$(sed -n 's/^devledger: probe hits:.* \([0-9]*\) in all$/\1/p' "$work/wc.err")
			awk -v h="$hits" -v n="$buffers" 'BEGIN { printf "%.3f\n", h / (2 * n) }' >> "$work/$key.traps"
			sed -n 's/.*"lost_events": *\([0-9]*\).*/\1/p' "$work/wc.json" | head -n 1 >> "$work/$key.lost"
			grep -q '"exact": *true' "$work/wc.json" && echo 1 >> "$work/$key.exact" || echo 0 >> "$work/$key.exact"
		done
	done
done

printf '\nWhole path, median ns per buffer created and destroyed over %d rounds of %d (a DRAM and an L1 Buffer each)\n' \
	"$whole_rounds" "$buffers"
printf '(c: devledger as by default, call stacks on; c0: --no-stacks, the tracing alone)\n'
printf '%-6s %-6s %-5s %9s %9s %9s %9s %9s %8s %9s %6s %7s %6s %11s %5s %6s\n' bank build proc a floor c c0 d c/floor c0/floor c/d c0/d c/c0 "traps/buf" lost exact
for config in $whole_configs; do
	for processor in no yes; do
		shape=${config%%:*}
		build=${config##*:}
		key="$shape.$build.$processor"
		a=$(median < "$work/$key.a"); f=$(median < "$work/$key.f")
		c=$(median < "$work/$key.c"); d=$(median < "$work/$key.d"); c0=$(median < "$work/$key.c0")
		traps=$(median < "$work/$key.traps")
		lost=$(awk '{ s += $1 } END { print s + 0 }' "$work/$key.lost")
		exact=$(awk '{ s += $1 } END { print (s == NR) ? "yes" : "no" }' "$work/$key.exact")
		awk -v s="$shape" -v b="$build" -v p="$processor" -v a="$a" -v f="$f" -v c="$c" -v c0="$c0" -v d="$d" \
			-v t="$traps" -v l="$lost" -v e="$exact" \
			'BEGIN { printf "%-6s %-6s %-5s %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f %9.2f %6.2f %7.2f %6.2f %11.3f %5d %6s\n", s, b, p, a, f, c, c0, d, c / f, c0 / f, c / d, c0 / d, c / c0, t, l, e }'
	done
done

printf '\nThe ledger alone (one core)\n'
"$out/bench/ledger_bench"

# The time from devledger's start to its "probes attached" line, in ms: the clock is read as soon
# as the line comes (a pipeline's end would wait for the whole session).
attached_ms() {
	local start
	start=$(date +%s%N)
	"$@" 2>&1 | { grep -m 1 -q 'probes attached' && date +%s%N > "$work/attached_at"; cat > /dev/null; }
	echo $((($(cat "$work/attached_at") - start) / 1000000))
}
# The wall time of a command, in ms; its CPU time (user + system, ms) goes to the file $cpu_out.
wall_ms() {
	local start end
	start=$(date +%s%N)
	/usr/bin/time -f '%U %S' -o "$work/time" "$@" > /dev/null 2>&1 || true
	end=$(date +%s%N)
	awk '{ printf "%d\n", ($1 + $2) * 1000 }' "$work/time" >> "$cpu_out"
	echo $(((end - start) / 1000000))
}

# Start-up: a library with 500,000 more function symbols than the stand-in's (tt-metal's size).
symbols=${SYMBOLS:-500000}
OUTPUT=$out bench/biglib.sh "$work/big/libtt_metal.so" "$symbols"
for ((r = 1; r <= 5; r++)); do
	XDG_CACHE_HOME=$work/cache-symbols "$out/devledger" trace -a -l "$work/big/libtt_metal.so" -d 0.1 -q -v 2>&1 |
		sed -n 's/.* probes attached .* in \([0-9.]*\) ms$/\1/p' >> "$work/startup"
	XDG_CACHE_HOME=$work/cache-symbols attached_ms "$out/devledger" trace -a -l "$work/big/libtt_metal.so" -d 0.1 -q -v >> "$work/startup-wall"
done
printf '\nStart-up on a %s MB library with %d more symbols: all probes attached in %s ms (median of 5; %s ms from devledger'"'"'s start)\n' \
	"$(( $(stat -c %s "$work/big/libtt_metal.so") / 1000000 ))" "$symbols" "$(median < "$work/startup")" \
	"$(median < "$work/startup-wall")"

# The same library with DWARF_MB MB of generated compile units before the stand-in's own (the
# classes devledger looks for in the last one): each first-time run with an empty layout cache.
OUTPUT=$out bench/biglib.sh "$work/dwarf/libtt_metal.so" "$symbols" "$dwarf_mb"
dlib=$work/dwarf/libtt_metal.so
for ((r = 1; r <= 5; r++)); do
	rm -rf "$work/cache-dwarf"
	cpu_out=$work/check-first-cpu XDG_CACHE_HOME=$work/cache-dwarf wall_ms "$out/devledger" check -l "$dlib" >> "$work/check-first"
	cpu_out=$work/check-cached-cpu XDG_CACHE_HOME=$work/cache-dwarf wall_ms "$out/devledger" check -l "$dlib" >> "$work/check-cached"
	rm -rf "$work/cache-dwarf"
	XDG_CACHE_HOME=$work/cache-dwarf attached_ms "$out/devledger" trace -a -l "$dlib" -d 0.1 -q -v >> "$work/attach-first"
	XDG_CACHE_HOME=$work/cache-dwarf attached_ms "$out/devledger" trace -a -l "$dlib" -d 0.1 -q -v >> "$work/attach-cached"
done
printf '\nStart-up on a %s MB library with %s MB of .debug_info (median of 5, ms from start):\n' \
	"$(( $(stat -c %s "$dlib") / 1000000 ))" \
	"$(( 16#$(readelf -S -W "$dlib" | sed -n 's/.* \.debug_info *PROGBITS *[0-9a-f]* [0-9a-f]* \([0-9a-f]*\) .*/\1/p') / 1000000 ))"
printf '  devledger check, wall:  %6s first time, %6s with the layout cache\n' \
	"$(median < "$work/check-first")" "$(median < "$work/check-cached")"
printf '  devledger check, CPU:   %6s first time, %6s with the layout cache\n' \
	"$(median < "$work/check-first-cpu")" "$(median < "$work/check-cached-cpu")"
printf '  trace, to attached:     %6s first time, %6s with the layout cache\n' \
	"$(median < "$work/attach-first")" "$(median < "$work/attach-cached")"
