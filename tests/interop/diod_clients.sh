#!/usr/bin/env bash
# diod's own clients (diodls, diodcat, from Debian's diod package) read a
# tree served by our gofer (`runsc gofer` on a unix socket, hidden test
# flag): every directory listing and every file's bytes must equal the
# host's. diodls/diodcat take the socket path with -s and attach to the
# aname given with -a (our gofer serves one tree and ignores the aname).
set -euo pipefail
runsc=$1
DIODLS=/usr/sbin/diodls
DIODCAT=/usr/sbin/diodcat
if [ ! -x "$DIODLS" ] || [ ! -x "$DIODCAT" ]; then
	echo "skipped: diod's clients not installed (make deps)"
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	echo "skipped: the gofer needs root (mount namespace)"
	exit 77
fi

work=$(mktemp -d /tmp/gofer-interop-XXXXXX)
gofer_pid=
tcp_pid=
cleanup() {
	for p in $gofer_pid $tcp_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

tree=$work/tree
mkdir -p "$tree/a/b/c" "$tree/with space" "$tree/empty"
echo hello > "$tree/top.txt"
head -c 300000 /dev/urandom > "$tree/a/random.bin" # several messages
seq 1 5000 > "$tree/a/b/seq.txt"
: > "$tree/a/b/c/empty-file"
echo x > "$tree/with space/file name"
for i in $(seq 1 300); do echo "$i" > "$tree/a/many-entries-$i"; done
ln -s top.txt "$tree/link"
ln -s /etc/passwd "$tree/abs-link"
chmod 0750 "$tree/a/b"

coproc GOFER { exec "$runsc" gofer --root "$tree" --read-only-root \
	--listen-unix "$work/sock" 2>"$work/gofer.log"; }
gofer_pid=$GOFER_PID
# The gofer prints this line once it listens: no waiting by the clock.
read -r line <&"${GOFER[0]}" || fail "gofer did not start: $(cat "$work/gofer.log")"
[ "$line" = "listening on $work/sock" ] || fail "unexpected: $line"

ls9() { "$DIODLS" -s "$work/sock" -a / "$@"; }
cat9() { "$DIODCAT" -s "$work/sock" -a / "$@"; }

dirs=0
while IFS= read -r -d '' d; do
	rel=${d#"$tree"}
	rel=${rel#/}
	if [ -z "$rel" ]; then
		ls9 | sort > "$work/got"
	else
		ls9 "$rel" | sort > "$work/got"
	fi
	(cd "$d" && ls -A | sort) > "$work/want"
	diff -u "$work/want" "$work/got" || fail "listing of /$rel differs"
	dirs=$((dirs + 1))
done < <(find "$tree" -type d -print0)

files=0
while IFS= read -r -d '' f; do
	rel=${f#"$tree"/}
	cat9 "$rel" | cmp - "$f" || fail "content of $rel differs"
	files=$((files + 1))
done < <(find "$tree" -type f -print0)

# A small msize makes diodcat read in many pieces.
"$DIODCAT" -m 8192 -s "$work/sock" -a / a/random.bin | cmp - "$tree/a/random.bin" ||
	fail "random.bin with msize 8192"

# -l: sizes and permission bits as the host has them.
ls9 -l a/b | awk '{print substr($1, 1, 10), $5, $NF}' | sort > "$work/got"
for n in c seq.txt; do
	stat -c '%A %s %n' "$tree/a/b/$n" | sed "s|$tree/a/b/||"
done | sort > "$work/want"
diff -u "$work/want" "$work/got" || fail "diodls -l differs"

# Symlinks are never followed for a client, whatever they point to.
if cat9 link > /dev/null 2>&1; then fail "diodcat followed a symlink"; fi
if cat9 abs-link > /dev/null 2>&1; then fail "diodcat followed a symlink out"; fi
if ls9 .. > /dev/null 2>&1; then fail "diodls listed .."; fi

kill -0 "$gofer_pid" || fail "gofer died"

# The same over loopback TCP (port 0: the gofer picks one and says which).
mkfifo "$work/tcp.out"
"$runsc" gofer --root "$tree" --read-only-root --listen-tcp 0 \
	>"$work/tcp.out" 2>"$work/gofer-tcp.log" &
tcp_pid=$!
exec 4<"$work/tcp.out"
read -r line <&4 || fail "tcp gofer: $(cat "$work/gofer-tcp.log")"
addr=${line#listening on }
case $addr in 127.0.0.1:[0-9]*) ;; *) fail "unexpected: $line" ;; esac
"$DIODCAT" -s "$addr" -a / a/random.bin | cmp - "$tree/a/random.bin" ||
	fail "diodcat over TCP"
"$DIODLS" -s "$addr" -a / a/b | sort > "$work/got"
printf 'c\nseq.txt\n' | diff - "$work/got" || fail "diodls over TCP"
echo "ok: $dirs directories and $files files read by diodls/diodcat match the host"
