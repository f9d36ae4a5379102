#!/usr/bin/env bash
# Runs a fuzz target (the 9P decoder's, the seccomp filter checker's) for
# SECONDS over its seed corpus. New inputs
# go to a temporary directory (the committed seeds stay as they are); a
# crash leaves its input in ARTIFACTS and fails the run.
# usage: run-fuzz.sh FUZZER SECONDS SEED_DIR ARTIFACT_DIR
set -euo pipefail
fuzzer=$1 seconds=$2 seeds=$3 artifacts=$4
work=$(mktemp -d /tmp/fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
# -jobs is not used: two cores are shared with the rest of the suite.
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
	-max_len=4096 -timeout=10 -rss_limit_mb=1024 \
	-artifact_prefix="$artifacts/" "$work" "$seeds" 2>"$work/log" || {
	tail -50 "$work/log"
	exit 1
}
grep -E 'stat::number_of_executed_units|stat::new_units_added' "$work/log"
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
# A fuzzer that ran nothing tested nothing.
[ "${runs:-0}" -gt 1000 ] || { echo "too few runs: ${runs:-0}"; exit 1; }
