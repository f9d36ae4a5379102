#!/bin/bash
# No system call of the sentry names a host path once the sandbox runs
# (issue 5): the sentry's own seccomp filter (sentry/confine.c) refuses
# every path-taking call and logs each refusal. Here a workload that walks,
# stats, reads, maps, creates and executes files (bash, ls -R, python3,
# gcc, a program built inside) and reads /proc (ps, df) must run with no refusal in the log, and
# the running sentry must show the filter in /proc/PID/status. (strace -f
# cannot watch the sentry: it is the ptracer of its own stubs.)
# usage: no_host_paths.sh RUNSC PLATFORM
set -u
runsc=$1
platform=$2
case $runsc in /*) ;; *) runsc=$PWD/$runsc ;; esac
for p in bash python3 gcc; do
	command -v "$p" >/dev/null || { echo "SKIP: $p is not installed"; exit 77; }
done
tmp=$(mktemp -d) || exit 99
runsc_pid=
cleanup() {
	[ -n "$runsc_pid" ] && kill -9 "$runsc_pid" 2>/dev/null
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/in" "$tmp/out" || exit 99
fail=0
no() { echo "FAIL: $*"; fail=1; }

# The workload waits on stdin once it has started, so that the sentry can
# be looked at while it runs; then it does the file work.
"$runsc" --log="$tmp/log" --debug do --platform="$platform" -- /bin/bash -c '
	echo started
	read -r go
	set -e
	ls -lR /usr/include/linux >/dev/null
	stat /etc/passwd /usr/bin/env >/dev/null
	cat /proc/meminfo /proc/cpuinfo /proc/stat /proc/uptime /proc/loadavg \
		/proc/self/status /proc/self/maps /proc/mounts >/dev/null
	ps aux >/dev/null
	df / >/dev/null
	python3 -c "import json, mmap; print(json.dumps([1]))" >/dev/null
	cd "$(mktemp -d)" && printf "int main(void){return 7;}\n" >t.c
	gcc -O2 -o t t.c
	set +e
	./t
	echo "built program exited $?"
' <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
runsc_pid=$!
exec 3>"$tmp/in"
exec 4<"$tmp/out"
if ! read -r -t 60 line <&4 || [ "$line" != started ]; then
	no "the workload did not start"
	cat "$tmp/err" "$tmp/log"
	exit 1
fi
sentry=$(pgrep -P "$runsc_pid" -x runsc-sentry | head -n 1)
if grep -q "path filter is off in this sanitizer build" "$tmp/log" "$tmp/err"; then
	echo "SKIP: a sanitizer build of the sentry runs without its path filter"
	echo go >&3
	exec 3>&-
	cat <&4 >/dev/null
	wait "$runsc_pid"
	runsc_pid=
	exit 77
fi
if [ -z "$sentry" ]; then
	no "no sentry process under runsc"
else
	mode=$(awk '/^Seccomp:/ { print $2 }' "/proc/$sentry/status")
	[ "$mode" = 2 ] || no "the sentry runs without a seccomp filter (Seccomp: $mode)"
fi
echo go >&3
exec 3>&-
rest=$(cat <&4)
wait "$runsc_pid"
st=$?
runsc_pid=
[ "$st" = 0 ] || no "the workload exited $st: $(tail -5 "$tmp/err")"
[ "$rest" = "built program exited 7" ] || no "unexpected output: $rest"
if grep -q "refused a host path" "$tmp/log" "$tmp/err"; then
	no "the sentry tried to name host paths:"
	grep -h "refused a host path" "$tmp/log" "$tmp/err" | sort | uniq -c
fi
[ "$fail" = 0 ] && echo "ok [$platform]: the workload ran, the sentry is filtered and named no host path"
exit $fail
