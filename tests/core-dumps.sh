#!/usr/bin/env bash
# core-dumps.sh - the running milter leaves no core dump and cannot be read by another process:
#   by default the milter process (running as "user", here nobody) and the supervisor have a core
#   file size limit of 0, soft and hard (/proc/PID/limits), and the milter process is not
#   dumpable.  Linux shows no "Dumpable" line in /proc/PID/status; what it does show is that the
#   /proc/PID files of a process that is not dumpable belong to root whatever its user (proc(5)),
#   and that another process of the same user may not read its memory (/proc/PID/environ as
#   nobody is refused).  With allow-core-dumps yes the limit is the one the milter was started
#   with, the files belong to nobody and nobody may read them.  -n checks the keyword's value.
# Usage (as root): tests/core-dumps.sh     Environment: SMIME_MILTER (default milter/smime-milter)
# Prints ok/not ok lines and "N passed, M failed".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
milter=${SMIME_MILTER:-$top/milter/smime-milter}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smime-core.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
chmod 755 "$tmp"
# shellcheck source=lib/tap.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/tap.sh"
harness_on_exit cleanup
# check DESCRIPTION CONDITION-COMMAND...: tap.sh's check, with $detail as diagnostics on failure
TAP_DIAG='printf "%s\n" "${detail:-}"'
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1 || ! command -v runuser >/dev/null; then
    notok "run as root, with a user nobody and runuser(1)"
    finish
fi

# start ALLOW: the milter with allow-core-dumps ALLOW ("" leaves the keyword out), as nobody;
# sets pid (supervisor) and child (milter process)
start() {
    local allow=$1 i
    {
        echo "socket unix:$tmp/m.sock"
        echo "user nobody"
        echo "sign no"
        echo "encrypt no"
        [ -z "$allow" ] || echo "allow-core-dumps $allow"
    } >"$tmp/m.conf"
    rm -f "$tmp/m.sock"
    # a limit to tell "left as it was" from "set to 0": 4096 KiB, 4194304 bytes in /proc/PID/limits
    (ulimit -S -c 4096 && exec "$milter" -f -c "$tmp/m.conf") >"$tmp/log" 2>&1 &
    pid=$!
    child=
    for i in $(seq 100); do
        child=$(pgrep -P "$pid" | head -n 1 || true)
        [ -S "$tmp/m.sock" ] && [ -n "$child" ] && break
        sleep 0.1
        : "$i"
    done
}
stop() {
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}
core_limit() { awk '/^Max core file size/ { print $5 " " $6 }' "/proc/$1/limits"; }
proc_owner() { stat -c %u "/proc/$1/status"; }
readable_by_nobody() { runuser -u nobody -- cat "/proc/$1/environ" >/dev/null 2>&1; }

# -n: the keyword's values
printf 'socket unix:%s/s\nallow-core-dumps maybe\n' "$tmp" >"$tmp/bad.conf"
rc=0; out=$("$milter" -n -c "$tmp/bad.conf" 2>&1) || rc=$?
detail="exit $rc: $out"
check "-n: allow-core-dumps maybe is a FILE:LINE error" \
    test "$rc" = 1 -a "$(head -n 1 <<<"$out")" = "$tmp/bad.conf:2: allow-core-dumps: \"maybe\" is not yes or no"
printf 'socket unix:%s/s\nallow-core-dumps yes\n' "$tmp" >"$tmp/good.conf"
rc=0; out=$("$milter" -n -c "$tmp/good.conf" 2>&1) || rc=$?
detail="exit $rc: $out"
check "-n accepts allow-core-dumps yes" test "$rc" = 0

nobody=$(id -u nobody)
for allow in "" no; do
    what=${allow:-"(default)"}
    start "$allow"
    if [ -z "$child" ] || [ ! -S "$tmp/m.sock" ]; then
        notok "allow-core-dumps $what: the milter starts" "$(cat "$tmp/log")"
        stop
        continue
    fi
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$child/status")
    detail="uid $uid, core limit $(core_limit "$child")"
    check "allow-core-dumps $what: the milter process runs as nobody with a core size limit of 0, soft and hard" \
        test "$uid" = "$nobody" -a "$(core_limit "$child")" = "0 0"
    detail="/proc/$child owned by $(proc_owner "$child")"
    check "allow-core-dumps $what: the milter process is not dumpable (its /proc files belong to root)" \
        test "$(proc_owner "$child")" = 0
    detail="nobody read /proc/$child/environ"
    check "allow-core-dumps $what: another process of user nobody cannot read its memory" \
        eval '! readable_by_nobody "$child"'
    detail="supervisor core limit $(core_limit "$pid")"
    check "allow-core-dumps $what: the supervisor's core size limit is 0 too" \
        test "$(core_limit "$pid")" = "0 0"
    stop
done

start yes
if [ -n "$child" ] && [ -S "$tmp/m.sock" ]; then
    detail="core limit $(core_limit "$child"), /proc owner $(proc_owner "$child")"
    check "allow-core-dumps yes: the limit the milter was started with, dumpable (files of nobody)" \
        test "$(core_limit "$child" | cut -d' ' -f1)" = 4194304 -a "$(proc_owner "$child")" = "$nobody"
    detail="nobody could not read /proc/$child/environ"
    check "allow-core-dumps yes: the milter process is readable by its own user" readable_by_nobody "$child"
    detail=$(cat "$tmp/log")
    check "allow-core-dumps yes: a warning says a core file may hold keys" \
        grep -q "allow-core-dumps yes: a core file may hold keys" "$tmp/log"
else
    notok "allow-core-dumps yes: the milter starts" "$(cat "$tmp/log")"
fi
stop
finish
