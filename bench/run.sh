#!/bin/sh
# make bench: native beside every platform, with ratios, from one run;
# first unpinned (what a user gets), then the whole run pinned to CPU 0.
# usage: bench/run.sh RUNSC MICRO_BINARY
set -u
runsc="$1"; micro="$2"
platforms="systrap ptrace"

# iterations per case: native, sandboxed
iters() {
	case "$1" in
	getppid) echo "1000000 20000" ;;
	clock) echo "5000000 5000000" ;;
	write4k) echo "500000 20000" ;;
	esac
}

measure() { # pin mode iterations [platform]
	pin="$1"; mode="$2"; n="$3"; plat="${4:-}"
	set --
	[ -n "$pin" ] && set -- taskset -c 0
	if [ -n "$plat" ]; then
		"$@" "$runsc" do --platform="$plat" -- "$micro" "$mode" "$n" 2>&1 >/dev/null | tail -n 1
	else
		"$@" "$micro" "$mode" "$n" 2>&1 >/dev/null
	fi
}

table() { # pin label
	pin="$1"
	printf "\n%s: ns per operation (best of 5 runs)\n" "$2"
	printf "%-26s %10s" "case" "native"
	for p in $platforms; do printf " %10s %8s" "$p" "ratio"; done
	printf "\n"
	for mode in getppid clock write4k; do
		set -- $(iters "$mode")
		native=$(measure "$pin" "$mode" "$1")
		case "$mode" in
		getppid) label="trapped getppid" ;;
		clock) label="clock_gettime (vDSO)" ;;
		write4k) label="write 4 KiB to /dev/null" ;;
		esac
		printf "%-26s %10.1f" "$label" "$native"
		for p in $platforms; do
			s=$(measure "$pin" "$mode" "$2" "$p")
			awk -v a="$native" -v b="$s" 'BEGIN { printf " %10.1f %7.1fx", b, b / a }'
		done
		printf "\n"
	done
}

table "" "unpinned"
table pin "pinned (taskset -c 0)"
echo
echo "thread create+join and a pipe/futex round trip between threads arrive with clone (issue 4)."
