#!/bin/bash
# shell.sh RUNSC PLATFORM
#
# busybox sh scripts that need processes, pipes and signals (issue 4):
# pipelines, subshells and command substitution, background jobs and wait,
# trap, kill -TERM $$ (status 143), exec, loops of fork+exec, reading
# stdin.  Each case runs `busybox sh -c SCRIPT` inside the sandbox and
# checks its exit status and exact stdout.  Prints "ok NAME" or
# "FAIL NAME: why" per case; exits 1 on any failure, 77 if nothing could
# run, 0 otherwise.
#
# RUNSC may be the word "native": the scripts then run directly on the
# host, which is how the expectations themselves are checked.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 RUNSC|native PLATFORM" >&2
	exit 99
fi
runsc=$1
platform=$2
bb=${BUSYBOX:-/bin/busybox}
case_timeout=${CASE_TIMEOUT:-60}

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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shell-it.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

passes=0
failures=0

# run SCRIPT: busybox sh -c SCRIPT, stdin from $tmp/in (empty unless set).
# timeout re-raises a signal that killed its child; the subshell keeps
# bash's "Terminated" notice out of the test output.
run() {
	local pre=()
	if [ "$native" -eq 0 ]; then
		pre=("$runsc" do --platform="$platform" --)
	fi
	(
		timeout -k 5 "$case_timeout" env -i PATH=/bin:/usr/bin \
			"${pre[@]}" "$bb" sh -c "$1" \
			<"$tmp/in" >"$tmp/out" 2>"$tmp/err"
		exit $?
	) 2>/dev/null
	rc=$?
}

# check NAME STATUS EXPECTED_STDOUT SCRIPT [STDIN]
check() {
	local name=$1 want_rc=$2 want_out=$3 script=$4
	printf '%s' "${5:-}" >"$tmp/in"
	run "$script"
	printf '%s' "$want_out" >"$tmp/want"
	if [ "$rc" -ne "$want_rc" ]; then
		echo "FAIL $name: exit status $rc, expected $want_rc"
	elif ! cmp -s "$tmp/want" "$tmp/out"; then
		echo "FAIL $name: stdout differs (--- expected, +++ got)"
		diff -u "$tmp/want" "$tmp/out" | head -n 20 | sed 's/^/#   /'
	else
		echo "ok $name"
		passes=$((passes + 1))
		return
	fi
	failures=$((failures + 1))
	if [ -s "$tmp/err" ]; then
		echo "#   stderr:"
		head -c 2000 "$tmp/err" | sed 's/^/#     /'
	fi
}

B=$bb

# ---- pipelines -------------------------------------------------------------
check pipeline-seq-wc 0 $'1000\n' \
	"$B seq 1 1000 | $B wc -l"
check pipeline-applets 0 $'1000\n' \
	"seq 1 1000 | wc -l"
check pipeline-four-stages 0 $'95\n85\n75\n' \
	"$B seq 1 100 | $B grep 5 | $B sort -r | $B head -n 3"
check pipeline-status-is-last 0 $'0\n1\n' \
	"false | true; echo \$?; true | false; echo \$?"
check pipeline-large 0 $'100000 588895\n' \
	"$B seq 1 100000 | $B cat | $B wc -l -c | $B tr -s ' ' | $B sed 's/^ //'"
check pipeline-reader-exits-early 0 $'y\n' \
	"$B yes | $B head -n 1"
check read-from-pipe 0 $'b a\n' \
	"echo 'a b' | { read x y; echo \"\$y \$x\"; }"
check stdin-passthrough 0 $'<x>\n<y>\n' \
	"while read l; do echo \"<\$l>\"; done" $'x\ny\n'
check here-document 0 $'one\ntwo\n' \
	"$B cat <<EOF
one
two
EOF"

# ---- subshells and substitution --------------------------------------------
check subshell-scope 0 $'in 2\nout 1\n' \
	"x=1; (x=2; echo in \$x); echo out \$x"
check subshell-status 0 $'3\n' \
	"(exit 3); echo \$?"
check command-substitution 0 $'a b\n' \
	"v=\$(echo a; echo b); echo \$v"
check nested-substitution 0 $'x-y-z\n' \
	"echo \$(echo x-\$(echo y-\$(echo z)))"
check subshell-pid-differs 0 $'yes\n' \
	"p=\$\$; c=\$($B sh -c 'echo \$PPID'); [ \"\$c\" != \"\" ] && [ \"\$c\" != 0 ] && echo yes"

# ---- background jobs and wait ------------------------------------------------
check wait-for-statuses 0 $'3 4\n' \
	"(exit 3) & p1=\$!; (exit 4) & p2=\$!; wait \$p1; r1=\$?; wait \$p2; r2=\$?; echo \$r1 \$r2"
check wait-all 0 $'done 0\n' \
	"for i in 1 2 3 4 5; do ($B true) & done; wait; echo done \$?"
check background-output 0 $'bg\nfg\n' \
	"(echo bg) & wait; echo fg"
check kill-background-job 0 $'143\n' \
	"$B sleep 30 & p=\$!; kill \$p; wait \$p; echo \$?"
check killed-by-sigkill 0 $'137\n' \
	"$B sh -c 'kill -KILL \$\$'; echo \$?"

# ---- signals and traps -----------------------------------------------------
check trap-usr1 0 $'got USR1\nafter\n' \
	"trap 'echo got USR1' USR1; kill -USR1 \$\$; echo after"
check trap-exit 0 $'hi\nbye\n' \
	"trap 'echo bye' EXIT; echo hi"
check trap-ignore-int 0 $'survived\n' \
	"trap '' INT; kill -INT \$\$; echo survived"
check trap-term-handler 0 $'caught TERM\n' \
	"trap 'echo caught TERM; exit 0' TERM; kill -TERM \$\$; echo not reached"
check trap-in-child-reset 0 $'143\n' \
	"trap 'echo parent trap' TERM; $B sh -c 'kill -TERM \$\$'; echo \$?"
check kill-term-self 143 '' \
	"kill -TERM \$\$; echo not reached"
check kill-term-self-after-output 143 $'before\n' \
	"echo before; kill -TERM \$\$; echo not reached"

# ---- exec and many processes -------------------------------------------------
check exec-replaces-shell 0 $'replaced\n' \
	"exec $B echo replaced; echo not reached"
check exit-status 7 '' \
	"exit 7"
check fork-exec-loop 0 $'200\n' \
	"i=0; while [ \$i -lt 200 ]; do $B true; i=\$((i+1)); done; echo \$i"
check nested-shells 0 $'3\n' \
	"$B sh -c \"$B sh -c 'exit 3'\"; echo \$?"
check script-file-args 0 $'a|b c||\n' \
	"set -- a 'b c' ''; for x in \"\$@\"; do printf '%s|' \"\$x\"; done; echo"

echo "# $passes passed, $failures failed"
if [ "$failures" -ne 0 ]; then
	exit 1
fi
if [ "$passes" -eq 0 ]; then
	exit 77
fi
exit 0
