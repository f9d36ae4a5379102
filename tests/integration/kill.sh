#!/bin/bash
# No stub process outlives its sandbox, whatever kills it: runsc killed
# with SIGKILL or SIGTERM, the sentry or the gofer killed with SIGKILL, while
# the workload has several processes and threads alive.
# usage: kill.sh RUNSC PLATFORM SLEEPERS (tests/integration/sleepers.c)
set -u
runsc="$1"; platform="$2"; sleepers="$3"
tmp=$(mktemp -d) || exit 99
fail=0
pids_to_clean=()
cleanup() {
	for p in "${pids_to_clean[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# A process still counts while it is neither gone nor a zombie.
alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# Waits (bounded) for a condition; the sandbox's own pace decides.
wait_for() { # tries command...
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		n=$((n - 1))
		read -r -t 0.05 <>"$tmp/never" || true
	done
	return 1
}
mkfifo "$tmp/never"

is_ready() { grep -q '^ready' "$1"; }

# Every descendant process of $1 (stubs, the zygote), from /proc.
descendants() {
	local kids k
	kids=$(pgrep -P "$1")
	for k in $kids; do
		echo "$k"
		descendants "$k"
	done
}

scenario() { # name what-to-kill
	local name=$1 target=$2 log="$tmp/$1.log"
	: >"$log"
	: >"$tmp/$name.out"
	"$runsc" --log="$log" --debug do --platform="$platform" -- "$sleepers" \
		</dev/null >"$tmp/$name.out" 2>&1 &
	local runsc_pid=$!
	pids_to_clean+=("$runsc_pid")
	if ! wait_for 400 is_ready "$tmp/$name.out"; then
		echo "FAIL $name: the workload did not start (log below)"
		cat "$log"
		fail=1
		return
	fi
	local stubs
	stubs=$(sed -n 's/.*stub host pid \([0-9]*\).*/\1/p' "$log" | sort -u)
	local sentry
	# runsc's children are the gofer and the sentry, told apart by name.
	sentry=$(pgrep -P "$runsc_pid" -x runsc-sentry | head -n 1)
	local gofer
	gofer=$(pgrep -P "$runsc_pid" -x runsc-gofer | head -n 1)
	# The stub threads named in the log, and every process under the
	# sentry (the zygote and the stubs' main threads among them).
	stubs="$stubs $(descendants "$sentry")"
	pids_to_clean+=($stubs $sentry $gofer)
	local n_alive=0 want
	want=$(awk '/^ready/ { print $2 }' "$tmp/$name.out")
	for p in $stubs; do alive "$p" && n_alive=$((n_alive + 1)); done
	if ! kill -0 "$runsc_pid" 2>/dev/null || [ -z "$sentry" ] ||
		[ -z "$gofer" ] ||
		[ "$n_alive" -lt "$want" ]; then
		echo "FAIL $name: the sandbox ended by itself before the kill" \
			"($n_alive stub threads alive; log below)"
		cat "$log"
		fail=1
		return
	fi
	case $target in
	runsc-kill) kill -KILL "$runsc_pid" ;;
	runsc-term) kill -TERM "$runsc_pid" ;;
	sentry-kill) kill -KILL "$sentry" ;;
	gofer-kill) kill -KILL "$gofer" ;;
	esac
	wait "$runsc_pid" 2>/dev/null
	any_alive() {
		for p in $stubs $sentry $gofer; do alive "$p" && return 0; done
		return 1
	}
	if wait_for 200 eval '! any_alive'; then
		echo "ok $name: $(echo $stubs | wc -w) stub threads and processes, the sentry and the gofer are gone"
	else
		echo "FAIL $name: still alive:"
		for p in $stubs $sentry $gofer; do
			alive "$p" && echo "  $p $(cat /proc/$p/comm 2>/dev/null)"
		done
		fail=1
	fi
}

scenario runsc-kill runsc-kill
scenario runsc-term runsc-term
scenario sentry-kill sentry-kill
# A dead gofer ends the sandbox: runsc kills the sentry, and with it the
# stubs, rather than run on without a file tree.
scenario gofer-kill gofer-kill
exit $fail
