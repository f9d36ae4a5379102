#!/bin/sh
# Interleaved A/B of two runsc builds: how a change moved one case.
#
#   bench/ab.sh RUNSC_A RUNSC_B MODE [ROUNDS] [MICRO_BINARY]
#
# MODE is a bench-micro mode (getppid, forkexec, stat, ...), "shloop" (300
# execs of busybox true from busybox sh, per exec), "dynloop" (200 of the
# dynamic /bin/true from dash, per exec) or "gccbuild" (make -j2
# of run.sh's 8-file project, ms per build). Each round runs native, then
# A, then B, so drift in the machine's load hits all three alike; the
# medians (and min, max) come out at the end, with B/A. On a shared VM a
# single run can be off by 2x: compare medians of 9 or more rounds, and
# look at the steal time printed last (CPU time the host took from this
# machine while the rounds ran). AB_PLATFORM=ptrace runs both on ptrace.
set -u
[ $# -ge 3 ] || { echo "usage: $0 RUNSC_A RUNSC_B MODE [ROUNDS] [MICRO]" >&2; exit 2; }
a="$1"; b="$2"; mode="$3"; rounds="${4:-9}"
here=$(cd "$(dirname "$0")" && pwd)
micro="${5:-$here/../build/bench/bench-micro}"
case "$micro" in /*) ;; *) micro="$PWD/$micro" ;; esac
bb=/bin/busybox

dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-ab.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'rm -rf "$dir"; exit 1' INT TERM HUP PIPE
export BENCH_DIR="$dir/files"
mkdir "$BENCH_DIR" "$BENCH_DIR/many"
# listdir reads a 10 000-entry directory, as in run.sh.
if [ "$mode" = listdir ]; then
	(cd "$BENCH_DIR/many" && i=0 &&
		while [ $i -lt 10000 ]; do : >"f$i"; i=$((i + 1)); done)
fi
echo small >"$BENCH_DIR/small"
dd if=/dev/zero of="$BENCH_DIR/big" bs=1M count=8 status=none

# The micro modes' iteration counts in the sandbox (run.sh's), natively 10x.
iters() {
	case "$1" in
	getppid|getppidsc|write4k) echo 20000 ;;
	mmap) echo 10000 ;;
	getppid4) echo 10000 ;;
	clock) echo 5000000 ;;
	thread) echo 1000 ;;
	futexpp|pipepp) echo 2000 ;;
	fork) echo 200 ;;
	forkexec|spawn) echo 100 ;;
	seqread) echo 256 ;;
	openclose) echo 20000 ;;
	stat|pread4k) echo 30000 ;;
	*) echo 1000 ;;
	esac
}

if [ "$mode" = gccbuild ]; then
	# run.sh's project, made by the same lines.
	BENCH_DIR="$dir" sh -c "$(sed -n '/^proj="\$BENCH_DIR\/proj"/,/Makefile"$/p' "$here/run.sh")" ||
		exit 1
fi

now_ns() { date +%s%N; }

one() { # which: native | a | b ; prints the figure, nothing if it failed
	set --
	case "$which" in
	a) set -- "$a" do ${AB_PLATFORM:+--platform="$AB_PLATFORM"} ;;
	b) set -- "$b" do ${AB_PLATFORM:+--platform="$AB_PLATFORM"} ;;
	esac
	case "$mode" in
	shloop)
		[ $# -gt 0 ] && set -- "$@" --
		t0=$(now_ns)
		"$@" "$bb" sh -c "i=0; while [ \$i -lt 300 ]; do $bb true; i=\$((i+1)); done" \
			</dev/null >/dev/null 2>&1 || return 0
		t1=$(now_ns)
		awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f\n", t / 300 }'
		;;
	dynloop)
		[ $# -gt 0 ] && set -- "$@" --
		t0=$(now_ns)
		"$@" /bin/sh -c "i=0; while [ \$i -lt 200 ]; do /bin/true; i=\$((i+1)); done" \
			</dev/null >/dev/null 2>&1 || return 0
		t1=$(now_ns)
		awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f\n", t / 200 }'
		;;
	gccbuild)
		[ $# -gt 0 ] && set -- "$@" --rw "$dir/proj" --
		t0=$(now_ns)
		"$@" make -s -B -j2 -C "$dir/proj" </dev/null >/dev/null 2>&1 || return 0
		t1=$(now_ns)
		awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f\n", t / 1e6 }'
		;;
	*)
		n=$(iters "$mode")
		[ $# -eq 0 ] && [ "$mode" != seqread ] && n=$((n * 10))
		[ $# -gt 0 ] && set -- "$@" --
		"$@" "$micro" "$mode" "$n" 2>&1 >/dev/null | tail -n 1 |
			grep -E '^[0-9]+(\.[0-9]+)?$'
		;;
	esac
}

steal() { awk '/^cpu / { print $9; exit }' /proc/stat; }
total() { awk '/^cpu / { s = 0; for (i = 2; i <= NF; i++) s += $i; print s; exit }' /proc/stat; }

steal0=$(steal); total0=$(total)
r=0
while [ "$r" -lt "$rounds" ]; do
	for which in native a b; do
		one >>"$dir/$which"
	done
	r=$((r + 1))
done
steal1=$(steal); total1=$(total)

stats() { # file -> "median min max" (or "n/a")
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		printf "%.1f %.1f %.1f\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
unit="ns per operation"
[ "$mode" = shloop ] && unit="ns per exec"
[ "$mode" = gccbuild ] && unit="ms per build"
printf "%s, %s rounds (%s): median, min, max\n" "$mode" "$rounds" "$unit"
for which in native a b; do
	printf "  %-7s %s\n" "$which" "$(stats "$dir/$which")"
done
ma=$(stats "$dir/a" | cut -d' ' -f1)
mb=$(stats "$dir/b" | cut -d' ' -f1)
awk -v a="$ma" -v b="$mb" 'BEGIN { if (a + 0 > 0 && b + 0 > 0)
	printf "  B/A of the medians: %.3f\n", b / a }'
awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) 'BEGIN { if (t > 0)
	printf "  steal while running: %.1f%% of CPU time\n", 100 * s / t }'
