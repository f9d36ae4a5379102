#!/bin/sh
# A fault inside the sentry (forced with the test-only hook) must print a
# backtrace to the log, take the whole sandbox down with runsc reporting it,
# and leave no stub process alive.
# usage: crash.sh RUNSC PLATFORM STATIC_PROGRAM
set -u
runsc="$1"; platform="$2"; prog="$3"
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
fail=0
no() { echo "FAIL: $*"; fail=1; }

"$runsc" --log="$log" --debug do --platform="$platform" \
	--TESTONLY-crash-on-syscall=exit_group -- "$prog" >/dev/null 2>&1
status=$?
[ "$status" -eq 139 ] || no "runsc exit status $status, want 139 (128+SIGSEGV)"
grep -q "fatal signal 11 (SEGV)" "$log" || no "no fatal-signal line in the log"
grep -q "backtrace:" "$log" || no "no backtrace in the log"
grep -q "syscall_dispatch" "$log" || no "backtrace does not name syscall_dispatch"
grep -q "the sentry died of signal 11" "$log" || no "runsc did not report the sentry's death"
stub=$(sed -n 's/.*stub host pid \([0-9]*\).*/\1/p' "$log" | head -n 1)
if [ -z "$stub" ]; then
	no "no stub pid in the debug log"
elif kill -0 "$stub" 2>/dev/null; then
	no "stub process $stub survived the sentry"
fi
if [ "$fail" -ne 0 ]; then
	echo "---- log ----"; cat "$log"
	exit 1
fi
echo "ok: sentry crash reported with a backtrace; stub $stub is gone"
