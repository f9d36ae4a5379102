#!/bin/bash
# busybox.sh RUNSC PLATFORM [EXIT7_BINARY]
#
# End-to-end checks of `runsc do` with Debian's static busybox and a few
# deliberately bad executables.  Prints one line per case:
#     ok NAME
#     FAIL NAME: details
# (followed, for failures, by "#   " context lines), and exits 1 if any case
# failed, 77 if nothing could be run, 0 otherwise.
#
# EXIT7_BINARY is the static tests/integration/exit7 program; it may also be
# given in the EXIT7 environment variable.  Without it that case is skipped.
#
# RUNSC may be the literal word "native": the programs are then run directly
# on the host (no sandbox) to validate the script itself; cases that only
# make sense for runsc (its error messages, --strace) are skipped.
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 RUNSC PLATFORM [EXIT7_BINARY]" >&2
	exit 99
fi
runsc=$1
platform=$2
exit7=${3:-${EXIT7:-}}
bb=${BUSYBOX:-/bin/busybox}
case_timeout=${CASE_TIMEOUT:-30}

native=0
if [ "$runsc" = native ]; then
	native=1
else
	case $runsc in
	*/*) ;;
	*) runsc=$(command -v -- "$runsc" 2>/dev/null || printf '%s' "$runsc") ;;
	esac
	if [ ! -x "$runsc" ] || [ -d "$runsc" ]; then
		echo "SKIP: runsc not found or not executable: $runsc"
		exit 77
	fi
fi
if [ ! -x "$bb" ]; then
	echo "SKIP: busybox not found at $bb (install busybox-static)"
	exit 77
fi
if ! file_out=$(LC_ALL=C od -An -c -N4 "$bb" 2>/dev/null) ||
	[ "$(printf '%s' "$file_out" | tr -d ' ')" != '177ELF' ]; then
	echo "SKIP: $bb is not an ELF binary"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/busybox-it.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

failures=0
passes=0
skips=0

# sb [--strace] PROGRAM ARGS...
# Runs PROGRAM in the sandbox (or natively), stdin inherited from the
# caller.  Sets $rc; stdout/stderr land in $tmp/out and $tmp/err.
sb() {
	local strace=()
	if [ "${1:-}" = --strace ]; then
		strace=(--strace)
		shift
	fi
	if [ "$native" -eq 1 ]; then
		timeout -k 5 "$case_timeout" "$@" >"$tmp/out" 2>"$tmp/err"
	else
		timeout -k 5 "$case_timeout" "$runsc" do --platform="$platform" \
			"${strace[@]}" -- "$@" >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
}

ok() {
	echo "ok $1"
	passes=$((passes + 1))
}

skip() { # NAME REASON
	echo "skip $1: $2"
	skips=$((skips + 1))
}

# fail NAME DETAILS: also dumps the case's stdout and stderr as context.
fail() {
	echo "FAIL $1: $2"
	failures=$((failures + 1))
	local f
	for f in out err; do
		if [ -s "$tmp/$f" ]; then
			echo "#   std$f:"
			{ head -c 4000 "$tmp/$f"; echo; } | sed -e '${/^$/d}' -e 's/^/#     /'
		fi
	done
}

describe_rc() {
	case $1 in
	124) echo "$1 (timed out after ${case_timeout}s)" ;;
	137) echo "$1 (SIGKILL, probably the timeout)" ;;
	*)
		if [ "$1" -gt 128 ]; then
			echo "$1 (killed by signal $(($1 - 128)))"
		else
			echo "$1"
		fi
		;;
	esac
}

# quote_file FILE: the first 200 bytes as a shell-quoted string ($'a\n').
quote_file() {
	local s
	s=$(head -c 200 "$1"; echo x)
	printf '%q' "${s%x}"
}

# expect NAME STATUS EXPECTED_STDOUT: checks the last sb run exactly.
expect() {
	local name=$1 want_rc=$2 want_out=$3
	printf '%s' "$want_out" >"$tmp/want"
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exit status $(describe_rc "$rc"), expected $want_rc"
	elif ! cmp -s "$tmp/want" "$tmp/out"; then
		fail "$name" "stdout differs: expected $(quote_file "$tmp/want"), got $(quote_file "$tmp/out")"
	else
		ok "$name"
	fi
}

# expect_clean_failure NAME [EGREP_PATTERN_FOR_STDERR]: the last run must
# have failed with a status in 1..127 (no crash, no timeout) and explained
# itself on stderr.
expect_clean_failure() {
	local name=$1 pattern=${2:-}
	if [ "$rc" -eq 0 ]; then
		fail "$name" "exit status 0, expected a failure"
	elif [ "$rc" -ge 128 ] || [ "$rc" -eq 124 ]; then
		# >=128: runsc (or the sandbox) died from a signal; 124: timeout.
		fail "$name" "did not fail cleanly: exit status $(describe_rc "$rc")"
	elif [ ! -s "$tmp/err" ]; then
		fail "$name" "exit status $rc but nothing on stderr"
	elif [ -n "$pattern" ] && ! grep -Eqi -- "$pattern" "$tmp/err"; then
		fail "$name" "exit status $rc, but stderr does not match /$pattern/"
	else
		ok "$name"
	fi
}

# ---- busybox applets -------------------------------------------------------

sb "$bb" echo hello </dev/null
expect echo 0 $'hello\n'

sb "$bb" true </dev/null
expect true 0 ''

sb "$bb" false </dev/null
expect false 1 ''

sb "$bb" seq 1 5 </dev/null
expect seq 0 $'1\n2\n3\n4\n5\n'

sb "$bb" printf '%s-%d\n' a 3 </dev/null
expect printf 0 $'a-3\n'

if native_uname=$("$bb" uname -a </dev/null 2>/dev/null); then
	sb "$bb" uname -a </dev/null
	expect uname-a 0 "$native_uname"$'\n'
else
	skip uname-a "busybox uname -a failed natively"
fi

# stdin is a pipe here, as in `printf ... | runsc do -- busybox cat`.
sb "$bb" cat < <(printf 'abc\ndef\n')
expect cat-stdin-pipe 0 $'abc\ndef\n'

# ---- exit status of a plain static program --------------------------------

if [ -n "$exit7" ] && [ -x "$exit7" ]; then
	sb "$exit7" </dev/null
	expect exit7 7 ''
else
	skip exit7 "exit7 binary not given (arg 3 or EXIT7=)"
fi

# ---- programs that must be refused cleanly ---------------------------------

if [ "$native" -eq 1 ]; then
	# Natively execvp(3) would hand these to /bin/sh; nothing to learn.
	skip not-elf "runsc-only"
	skip not-elf-hostname "runsc-only"
	skip truncated-elf "runsc-only"
	skip elf-header-only "runsc-only"
	skip empty-file "runsc-only"
	skip missing-program "runsc-only"
	skip strace-echo "runsc-only"
	skip strace-exec "runsc-only"
else
	# A text file without #!, executable: exec format error.
	printf 'this is not an ELF file\n' >"$tmp/not-elf"
	chmod +x "$tmp/not-elf"
	sb "$tmp/not-elf" </dev/null
	expect_clean_failure not-elf 'exec format'

	# The spec's literal example.  If /etc/hostname is not executable on
	# this host, Linux semantics say EACCES comes first, so accept either.
	if [ -f /etc/hostname ]; then
		sb /etc/hostname </dev/null
		if [ -x /etc/hostname ]; then
			expect_clean_failure not-elf-hostname 'exec format'
		else
			expect_clean_failure not-elf-hostname 'exec format|permission denied'
		fi
	else
		skip not-elf-hostname "/etc/hostname does not exist"
	fi

	# Valid ELF magic, header cut short.
	head -c 20 "$bb" >"$tmp/truncated-elf"
	chmod +x "$tmp/truncated-elf"
	sb "$tmp/truncated-elf" </dev/null
	expect_clean_failure truncated-elf

	# A complete ELF header whose program headers lie beyond EOF.
	head -c 64 "$bb" >"$tmp/elf-header-only"
	chmod +x "$tmp/elf-header-only"
	sb "$tmp/elf-header-only" </dev/null
	expect_clean_failure elf-header-only

	: >"$tmp/empty"
	chmod +x "$tmp/empty"
	sb "$tmp/empty" </dev/null
	expect_clean_failure empty-file

	sb "$tmp/does-not-exist" </dev/null
	expect_clean_failure missing-program

	# ---- --strace ------------------------------------------------------
	sb --strace "$bb" echo hi </dev/null
	if [ "$rc" -ne 0 ]; then
		fail strace-echo "exit status $(describe_rc "$rc"), expected 0"
	elif [ "$(cat "$tmp/out")" != hi ]; then
		fail strace-echo "stdout is not 'hi'"
	elif ! grep -Eq '^write\(1, "hi\\n", 3\) = 3' "$tmp/err"; then
		fail strace-echo 'no stderr line matching ^write\(1, "hi\\n", 3\) = 3'
	else
		ok strace-echo
	fi

	# A successful execve replaces the memory its path came from: the
	# line shows the path as it was before the call.
	sb --strace "$bb" sh -c "exec $bb true" </dev/null
	want="execve(\"${bb:0:32}"
	if [ "$rc" -ne 0 ]; then
		fail strace-exec "exit status $(describe_rc "$rc"), expected 0"
	elif ! grep -F "$want" "$tmp/err" | grep -q ') = 0$'; then
		fail strace-exec "no stderr line $want...) = 0"
	else
		ok strace-exec
	fi
fi

echo "# $passes passed, $failures failed, $skips skipped"
if [ "$failures" -ne 0 ]; then
	exit 1
fi
if [ "$passes" -eq 0 ]; then
	exit 77
fi
exit 0
