#!/bin/sh
# make bench: prints native beside sandboxed figures, with ratios, from one run.
# usage: bench/run.sh RUNSC GETPPID_BINARY
set -u
runsc="$1"; getppid="$2"
n_native=2000000
n_sandbox=20000

row() { # label native_ns sandbox_ns
	awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-36s %10.1f %12.1f %9.1fx\n", l, a, b, b / a }'
}

echo "trapped getppid, ns per call (best of 5 runs)"
printf "%-36s %10s %12s %10s\n" "case" "native" "sandbox" "ratio"
native=$("$getppid" $n_native)
for plat in systrap ptrace; do
	s=$("$runsc" do --platform=$plat -- "$getppid" $n_sandbox) || exit 1
	row "$plat, unpinned (default)" "$native" "$s"
	s=$("$runsc" do --platform=$plat --cpu-pairing=off -- "$getppid" $n_sandbox) || exit 1
	row "$plat, unpinned, no CPU pairing" "$native" "$s"
	pn=$(taskset -c 0 "$getppid" $n_native)
	s=$(taskset -c 0 "$runsc" do --platform=$plat -- "$getppid" $n_sandbox) || exit 1
	row "$plat, pinned (taskset -c 0)" "$pn" "$s"
done
