#!/bin/bash
# run-probe.sh RUNSC PLATFORM PROBE_BINARY
#
# Runs a syscall probe natively and inside the sandbox, in identical
# conditions (stdin from /dev/null, stdout to a fresh regular file, stderr
# captured separately), and requires the same exit status and a
# byte-identical stdout transcript.
#
# Exit status: 0 agreement, 1 difference (a unified diff and the sandbox's
# stderr are printed), 77 skipped (runsc or the probe is missing), 99 the
# harness itself failed.
set -u

if [ $# -ne 3 ]; then
	echo "usage: $0 RUNSC PLATFORM PROBE_BINARY" >&2
	exit 99
fi
runsc=$1
platform=$2
probe=$3
name=$(basename "$probe")

# Make paths absolute: the runs happen in a scratch directory.
case $runsc in
*/*) ;;
*) runsc=$(command -v -- "$runsc" 2>/dev/null || printf '%s' "$runsc") ;;
esac
case $runsc in /*) ;; */*) runsc=$PWD/$runsc ;; esac
case $probe in /*) ;; *) probe=$PWD/$probe ;; esac

if [ ! -x "$runsc" ] || [ -d "$runsc" ]; then
	echo "SKIP $name: runsc not found or not executable: $runsc"
	exit 77
fi
if [ ! -x "$probe" ]; then
	echo "SKIP $name: probe binary not found or not executable: $probe"
	exit 77
fi

# Upper bound for a single run so a hung sandbox fails with diagnostics
# before the test harness's own timeout kills everything.
run_timeout=${PROBE_TIMEOUT:-40}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-probe.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# Both runs start from the same working directory and a fresh output file
# (opened write-only, not O_APPEND) so fstat/ioctl results agree.
cd "$tmp" || exit 99

timeout -k 5 "$run_timeout" "$probe" </dev/null >"$tmp/native.out" 2>"$tmp/native.err"
native_rc=$?

timeout -k 5 "$run_timeout" "$runsc" do --platform="$platform" -- "$probe" \
	</dev/null >"$tmp/sandbox.out" 2>"$tmp/sandbox.err"
sandbox_rc=$?

show_file() { # TITLE FILE
	echo "---- $1 ----"
	if [ -s "$2" ]; then
		cat "$2"
	else
		echo "(empty)"
	fi
	echo "---- end of $1 ----"
}

status_name() { # RC
	case $1 in
	124) echo "$1 (timed out after ${run_timeout}s)" ;;
	137) echo "$1 (killed: SIGKILL, probably the timeout)" ;;
	*)
		if [ "$1" -gt 128 ] 2>/dev/null; then
			echo "$1 (signal $(($1 - 128)))"
		else
			echo "$1"
		fi
		;;
	esac
}

fail=0
if [ "$native_rc" -ne "$sandbox_rc" ]; then
	echo "FAIL $name [$platform]: exit status differs:" \
		"native $(status_name "$native_rc"), sandbox $(status_name "$sandbox_rc")"
	fail=1
fi
if ! cmp -s "$tmp/native.out" "$tmp/sandbox.out"; then
	echo "FAIL $name [$platform]: stdout transcript differs (--- native, +++ sandbox):"
	diff -u --label native --label sandbox "$tmp/native.out" "$tmp/sandbox.out"
	fail=1
fi

if [ "$fail" -ne 0 ]; then
	show_file "sandbox stderr" "$tmp/sandbox.err"
	if [ -s "$tmp/native.err" ]; then
		show_file "native stderr" "$tmp/native.err"
	fi
	exit 1
fi

# Agreement.  If the probe's own expectations did not hold natively, the
# host kernel disagrees with the probe; the sandbox matched the host, so
# this still passes, but say so.
if [ -s "$tmp/native.err" ]; then
	echo "WARNING $name: probe reported mismatches natively (host kernel differs from the probe's expectations):"
	cat "$tmp/native.err"
fi
echo "ok $name [$platform]: exit status $native_rc, $(wc -l <"$tmp/native.out") transcript lines agree"
exit 0
