#!/usr/bin/env bash
# daemon.sh - the daemon's command line and process contract:
#   -n prints every error as FILE:LINE: message and exits 1, "FILE: OK" and 0 when valid;
#   -V prints the version;
#   with "user", the milter process runs as that user (the supervisor stays root to
#   restart it) and still signs and encrypts a message (driven by miltertest);
#   the unix socket gets socket-mode and socket-group (owner: user), also when the supervisor
#   restarts a killed milter process, which recreates it; an unknown group is a FILE:LINE error;
#   pid-file holds the supervisor, SIGTERM stops both and removes it.
# Prints ok/not ok lines and "N passed, M failed".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
milter=${SMIME_MILTER:-$top/milter/smime-milter}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smime-daemon.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"
passed=0 failed=0 n=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
	if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/#   /'; fi
}
for t in miltertest openssl; do command -v "$t" >/dev/null || { notok "$t installed"; echo "$passed passed, $failed failed"; exit 1; }; done

# -n: all errors, FILE:LINE, exit 1
printf 'socket unix:%s/s\nsign maybe\nfrobnicate 1\n<domain a..b>\n</domain>\n' "$tmp" >"$tmp/bad.conf"
rc=0; out=$("$milter" -n -c "$tmp/bad.conf" 2>&1) || rc=$?
want="$tmp/bad.conf:2: sign: \"maybe\" is not yes or no
$tmp/bad.conf:3: unknown keyword \"frobnicate\"
$tmp/bad.conf:4: <domain a..b>: bad pattern
$tmp/bad.conf:5: </domain> without an open <domain>
$tmp/bad.conf: 4 errors"
if [ "$rc" = 1 ] && [ "$out" = "$want" ]; then ok "-n reports every error as FILE:LINE and exits 1"
else notok "-n reports every error as FILE:LINE and exits 1" "exit $rc"$'\n'"$out"; fi
rc=0; out=$("$milter" -n -c "$tmp/missing.conf" 2>&1) || rc=$?
if [ "$rc" = 1 ] && [ "$out" = "$tmp/missing.conf: cannot open: No such file or directory
$tmp/missing.conf: 1 error" ]; then ok "-n names a missing file"; else notok "-n names a missing file" "$out"; fi
printf 'socket unix:%s/s\nsocket-group no-such-group-here\nsocket-mode 0999\nsocket-mode 0060\n' "$tmp" >"$tmp/sock.conf"
rc=0; out=$("$milter" -n -c "$tmp/sock.conf" 2>&1) || rc=$?
want="$tmp/sock.conf:2: socket-group: no such group \"no-such-group-here\"
$tmp/sock.conf:3: socket-mode: \"0999\" is not an octal mode between 0000 and 0777 (e.g. 0660)
$tmp/sock.conf:4: socket-mode 0060: the owner must be able to read and write the socket
$tmp/sock.conf: 3 errors"
if [ "$rc" = 1 ] && [ "$out" = "$want" ]; then ok "-n: unknown socket-group and bad socket-mode are FILE:LINE errors"
else notok "-n: unknown socket-group and bad socket-mode are FILE:LINE errors" "exit $rc"$'\n'"$out"; fi
out=$("$milter" -V)
case $out in "smime-milter "[0-9]*" (OpenSSL "*) ok "-V prints the version" ;; *) notok "-V prints the version" "$out" ;; esac

# user: the milter process drops privileges and still works
"$top/tests/gen-certs.sh" "$tmp/pki" >/dev/null
chown -R nobody "$tmp/pki/keys" "$tmp/pki/certs"
cat >"$tmp/m.conf" <<CONF
socket          unix:$tmp/m.sock
user            nobody
socket-mode     0660
socket-group    mail
pid-file        $tmp/m.pid
cert-dir        $tmp/pki/certs
key-dir         $tmp/pki/keys
sign            yes
encrypt         yes
body-chunk-size 1024
CONF
out=$("$milter" -n -c "$tmp/m.conf" 2>&1)
if [ "$out" = "$tmp/m.conf: OK" ]; then ok "-n prints FILE: OK for a valid file"; else notok "-n prints FILE: OK for a valid file" "$out"; fi
"$milter" -f -c "$tmp/m.conf" 2>"$tmp/log" &
pid=$!
for _ in $(seq 50); do [ -S "$tmp/m.sock" ] && break; sleep 0.1; done
child=$(pgrep -P "$pid" | head -n 1 || true)
if [ "$(cat "$tmp/m.pid" 2>/dev/null)" = "$pid" ]; then ok "pid-file holds the supervisor"; else notok "pid-file holds the supervisor"; fi
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
if [ -n "$child" ] && [ "$(uid_of "$child")" = "$(id -u nobody)" ] && [ "$(uid_of "$pid")" = 0 ]; then
	ok "the milter process runs as nobody, the supervisor as root"
else
	notok "the milter process runs as nobody, the supervisor as root" "child=$child"
fi
if MILTER_SOCKET="unix:$tmp/m.sock" BODY_MB=1 miltertest -s "$top/bench/rss.lua" >"$tmp/mt.out" 2>&1 &&
	grep -q 'BENCH1: signed and encrypted' "$tmp/log"; then
	ok "as nobody, a message is signed and encrypted"
else
	notok "as nobody, a message is signed and encrypted" "$(cat "$tmp/mt.out" "$tmp/log")"
fi
# the socket: owner nobody, group mail, mode 0660; again after the milter process is killed
sock_is() { [ "$(stat -c '%F %U %G %a' "$tmp/m.sock" 2>/dev/null)" = "socket nobody mail 660" ]; }
if sock_is; then ok "the socket is nobody:mail, mode 0660 (socket-group, socket-mode)"
else notok "the socket is nobody:mail, mode 0660 (socket-group, socket-mode)" "$(stat -c '%F %U %G %a' "$tmp/m.sock" 2>&1)"; fi
# spoil the old socket's mode and group: only a recreated, re-permissioned socket passes
chgrp root "$tmp/m.sock"; chmod 0600 "$tmp/m.sock"
kill -KILL "$child" 2>/dev/null || true
child2=
for _ in $(seq 50); do
	child2=$(pgrep -P "$pid" | head -n 1 || true)
	if [ -n "$child2" ] && [ "$child2" != "$child" ] && sock_is; then break; fi
	sleep 0.1
done
if [ -n "$child2" ] && [ "$child2" != "$child" ] && sock_is &&
	MILTER_SOCKET="unix:$tmp/m.sock" BODY_MB=1 miltertest -s "$top/bench/rss.lua" >"$tmp/mt2.out" 2>&1; then
	ok "after SIGKILL the restarted milter process recreates the socket nobody:mail 0660 and serves"
	child=$child2
else
	notok "after SIGKILL the restarted milter process recreates the socket nobody:mail 0660 and serves" \
		"child=$child2 $(stat -c '%F %U %G %a' "$tmp/m.sock" 2>&1)"$'\n'"$(tail -n 5 "$tmp/log")"
fi
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
if [ "$rc" = 0 ] && [ ! -e "$tmp/m.pid" ] && ! kill -0 "$child" 2>/dev/null; then
	ok "SIGTERM: both processes stop, exit 0, pid-file removed"
else
	notok "SIGTERM: both processes stop, exit 0, pid-file removed" "exit $rc"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
