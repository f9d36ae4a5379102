#!/bin/bash
# program.sh RUNSC|native PLATFORM PROGRAM
#
# Runs one self-checking static program (threads, forktree, sigaltjmp,
# procrace) in the sandbox, or directly on the host with RUNSC "native".  The program
# checks its own results; it passes when it exits 0 and its last line is
# "PASS <name>" (name = the program's file name).  On failure its stdout
# and stderr are shown.  Exit 0 pass, 1 fail, 77 skipped.
set -u

if [ $# -ne 3 ]; then
	echo "usage: $0 RUNSC|native PLATFORM PROGRAM" >&2
	exit 99
fi
runsc=$1
platform=$2
prog=$3
name=$(basename "$prog")
case $prog in /*) ;; *) prog=$PWD/$prog ;; esac
if [ ! -x "$prog" ]; then
	echo "SKIP $name: program not found: $prog"
	exit 77
fi
pre=()
if [ "$runsc" != native ]; then
	if [ ! -x "$runsc" ] || [ -d "$runsc" ]; then
		echo "SKIP $name: runsc not found or not executable: $runsc"
		exit 77
	fi
	pre=("$runsc" do --platform="$platform" --)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/program-it.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# The subshell keeps bash's notice about a signal-killed timeout quiet.
(
	timeout -k 5 "${PROGRAM_TIMEOUT:-120}" "${pre[@]}" "$prog" \
		</dev/null >"$tmp/out" 2>"$tmp/err"
	exit $?
) 2>/dev/null
rc=$?

last=$(tail -n 1 "$tmp/out")
if [ "$rc" -eq 0 ] && [ "$last" = "PASS $name" ]; then
	echo "ok $name [$platform]: $(grep -c '^ok ' "$tmp/out") checks passed"
	exit 0
fi
echo "FAIL $name [$platform]: exit status $rc, last line '$last'"
echo "---- stdout ----"
head -c 4000 "$tmp/out"
echo "---- stderr ----"
head -c 4000 "$tmp/err"
exit 1
