#!/bin/bash
# package.sh - the Debian package, end to end: build it from a copy of the tree
# (dpkg-buildpackage), lintian without errors, install it, check the installed files, modes,
# user and group, "smime-milter -n" on the shipped configuration, the unit (systemd-analyze
# verify, security exposure <= 4.0); then run the packaged milter through its unit's ExecStart
# line (it drops to user smime-milter) behind a private Postfix whose smtpd is CHROOTED and
# reaches the milter's unix socket inside the chroot: the delivered message is signed and
# encrypted (OpenSSL, gpgsm and NSS judge it), a reload through the unit's ExecReload takes
# effect, and the log lines arrive at syslog with facility mail. Then it purges the package
# and removes the user and group it created, leaving nothing behind.
#
# The milter and a small syslog listener run in a private mount namespace (unshare -m) whose
# /dev is a tmpfs with null, zero, random and urandom and the listener's /dev/log, so the
# machine's /dev/log (if any) is not touched.
#
# Usage (as root): tests/package.sh        Environment: PKG_KEEP=1 keeps the work directory
# Prints ok/not ok lines and "N passed, M failed".
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need_root "installs a package, starts a private Postfix"

# ---------------------------------------------------------------------------------------------
# Tools: the packaging ones are installed here if missing (tests/deps.sh lists them too)
BUILD_PKGS="debhelper dpkg-dev fakeroot lintian adduser"
missing=""
for p in $BUILD_PKGS; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "# installing:$missing"
    # shellcheck disable=SC2086 # a list of packages
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends $missing; } >/dev/null 2>&1; then
        setup_failed "install$missing"
    fi
fi
harness_need dpkg-buildpackage lintian swaks postconf openssl unshare mknod getent

case $(dpkg-query -W -f='${db:Status-Status}' smime-milter 2>/dev/null || true) in
    "" | not-installed) pkg_present=0 ;;
    *) pkg_present=1 ;;
esac
if [ "$pkg_present" = 1 ]; then
    setup_failed "smime-milter is not installed on this machine (this test would replace it)" \
        "$(dpkg-query -W smime-milter 2>&1)"
fi
had_user=0 had_group=0
getent passwd smime-milter >/dev/null && had_user=1
getent group smime-milter >/dev/null && had_group=1

harness_workdir smime-pkg PKG_KEEP
LOG=$W/syslog.txt
: >"$LOG"
register_log "syslog (listener)" "$LOG" 40
register_log "Postfix maillog" "$W/postfix/maillog" 40

# ---------------------------------------------------------------------------------------------
echo "# building the package from a copy of the tree in $W/build"
mkdir -p "$W/build/src"
if git -C "$HARNESS_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$HARNESS_ROOT" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) |
        tar -xf - -C "$W/build/src"
else
    tar -C "$HARNESS_ROOT" --exclude=./debian/smime-milter --exclude='*.o' --exclude='.deps' \
        --exclude='.libs' -cf - . | tar -xf - -C "$W/build/src"
    if [ -f "$W/build/src/Makefile" ]; then make -C "$W/build/src" distclean >/dev/null 2>&1 || true; fi
fi
rc=0
(cd "$W/build/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1 || rc=$?
DEB=$(find "$W/build" -maxdepth 1 -name 'smime-milter_*.deb' | head -n 1)
if [ "$rc" = 0 ] && [ -n "$DEB" ]; then
    ok "dpkg-buildpackage -us -uc -b builds $(basename "$DEB")"
else
    setup_failed "dpkg-buildpackage -us -uc -b builds the package" "$(tail -n 30 "$W/build.log")"
fi

out=$(lintian --allow-root "$W"/build/smime-milter_*.changes 2>&1 || true)
if ! printf '%s\n' "$out" | grep -q '^E: '; then
    ok "lintian: no errors"
    printf '%s\n' "$out" | grep -E '^[WI]: ' | sed 's/^/# lintian: /' || true
else
    notok "lintian: no errors" "$out"
fi

# ---------------------------------------------------------------------------------------------
# Install. Services are not started by the installation (policy-rc.d): the test starts the
# milter itself, from the unit's ExecStart line.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary: tests/package.sh installs without starting services\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    harness_on_exit rm -f "$policy"
fi
remove_user() {
    if [ "$had_user" = 0 ] && getent passwd smime-milter >/dev/null; then deluser --quiet smime-milter >/dev/null 2>&1 || true; fi
    if [ "$had_group" = 0 ] && getent group smime-milter >/dev/null; then delgroup --quiet smime-milter >/dev/null 2>&1 || true; fi
}
purge_package() {
    dpkg --purge smime-milter >"$W/purge.log" 2>&1 || true
    remove_user
}
harness_on_exit purge_package
check "dpkg -i installs the package" dpkg -i "$DEB"

# files, modes, owners
files_ok() {
    local f bad=""
    for f in /usr/sbin/smime-milter /usr/bin/smime-tool; do [ -x "$f" ] || bad="$bad $f"; done
    for f in /usr/share/man/man8/smime-milter.8.gz /usr/share/man/man5/smime-milter.conf.5.gz \
        /usr/share/man/man1/smime-tool.1.gz /usr/share/doc/smime-milter/examples/smime-milter.conf \
        /usr/share/doc/smime-milter/examples/generation-node.conf /lib/systemd/system/smime-milter.service; do
        [ -f "$f" ] || bad="$bad $f"
    done
    [ -z "$bad" ] || { echo "missing:$bad"; return 1; }
}
check "installed: /usr/sbin/smime-milter, /usr/bin/smime-tool, man pages, examples, unit" files_ok
mode_is() { # PATH "OWNER GROUP MODE"
    local got
    got=$(stat -c '%U %G %a' "$1" 2>&1)
    [ "$got" = "$2" ] || { echo "$1: $got, want $2"; return 1; }
}
check "/etc/smime-milter/keys is smime-milter:smime-milter 0700" mode_is /etc/smime-milter/keys "smime-milter smime-milter 700"
check "/etc/smime-milter/certs is root:root 0755" mode_is /etc/smime-milter/certs "root root 755"
check "/var/lib/smime-milter/harvest is smime-milter:smime-milter 0700" mode_is /var/lib/smime-milter/harvest "smime-milter smime-milter 700"
if [ -d /var/spool/postfix ]; then
    check "/var/spool/postfix/smime-milter (socket folder in Postfix's chroot) is smime-milter:smime-milter 0750" \
        mode_is /var/spool/postfix/smime-milter "smime-milter smime-milter 750"
fi
conffile_ok() {
    dpkg-query -W -f='${Conffiles}\n' smime-milter | grep -q ' /etc/smime-milter/smime-milter.conf ' ||
        { echo "not a conffile"; return 1; }
}
check "/etc/smime-milter/smime-milter.conf is a conffile" conffile_ok
user_ok() {
    local uid shell
    uid=$(id -u smime-milter) || return 1
    shell=$(getent passwd smime-milter | cut -d: -f7)
    [ "$uid" -lt 1000 ] || { echo "uid $uid is not a system uid"; return 1; }
    case $shell in */nologin | */false) ;; *) echo "shell $shell"; return 1 ;; esac
    [ "$(id -gn smime-milter)" = smime-milter ] || { echo "primary group $(id -gn smime-milter)"; return 1; }
    if id postfix >/dev/null 2>&1; then
        id -nG postfix | tr ' ' '\n' | grep -qx smime-milter || { echo "postfix not in group smime-milter"; return 1; }
    fi
}
check "system user and group smime-milter (no login), postfix in group smime-milter" user_ok
C=/etc/smime-milter/smime-milter.conf
shipped_ok() {
    local want
    for want in 'socket unix:/var/spool/postfix/smime-milter/smime-milter.sock' 'socket-group smime-milter' \
        'socket-mode 0660' 'user smime-milter' 'pid-file /run/smime-milter/smime-milter.pid' 'sign no' 'encrypt no'; do
        awk '!/^[ \t]*#/ && NF { $1 = $1; print }' "$C" | grep -qx "$want" || { echo "no \"$want\""; return 1; }
    done
}
check "the shipped configuration: chroot socket, user and socket-group smime-milter, 0660, nothing signed or encrypted" shipped_ok
out=$(/usr/sbin/smime-milter -n -c "$C" 2>&1) || true
if [ "$out" = "$C: OK" ]; then ok "smime-milter -n on the shipped configuration: OK"; else notok "smime-milter -n on the shipped configuration: OK" "$out"; fi

# ---------------------------------------------------------------------------------------------
# The unit
UNIT=/lib/systemd/system/smime-milter.service
if command -v systemd-analyze >/dev/null 2>&1; then
    man_opt=()
    command -v man >/dev/null 2>&1 || man_opt=(--man=no)
    check "systemd-analyze verify the installed unit" systemd-analyze verify "${man_opt[@]+"${man_opt[@]}"}" "$UNIT"
    out=$(systemd-analyze security --offline=yes "$UNIT" 2>&1 || true)
    score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' | tail -n 1)
    if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 4.0) }'; then
        ok "systemd-analyze security: exposure $score <= 4.0"
    else
        notok "systemd-analyze security: exposure $score <= 4.0" "$(printf '%s\n' "$out" | tail -n 5)"
    fi
else
    echo "# systemd-analyze is not installed: the unit is not verified"
fi
unit_cmd() { # KEY: the unit's command line for KEY (ExecStart, ExecReload, ...)
    sed -n "s/^$1=//p" "$UNIT" | head -n 1
}
START=$(unit_cmd ExecStart)
PRE=$(unit_cmd ExecStartPre)
RELOAD=$(unit_cmd ExecReload)
case "$START " in
    "/usr/sbin/smime-milter "*" -f "*) notok "ExecStart runs /usr/sbin/smime-milter without -f (syslog)" "$START" ;;
    "/usr/sbin/smime-milter "*) ok "ExecStart runs /usr/sbin/smime-milter without -f (syslog)" ;;
    *) notok "ExecStart runs /usr/sbin/smime-milter without -f (syslog)" "$START" ;;
esac
if [ "$(sed -n 's/^Type=//p' "$UNIT")" = forking ] &&
    [ "$(sed -n 's/^PIDFile=//p' "$UNIT")" = /run/smime-milter/smime-milter.pid ]; then
    ok "Type=forking with PIDFile=/run/smime-milter/smime-milter.pid"
else
    notok "Type=forking with PIDFile=/run/smime-milter/smime-milter.pid"
fi

# ---------------------------------------------------------------------------------------------
# Run it: test certificates, a chrooted private Postfix, the socket inside its chroot
"$TESTS/gen-certs.sh" "$W/pki" >/dev/null
cp "$W"/pki/certs/*.crt /etc/smime-milter/certs/
cp "$W"/pki/keys/*.pem /etc/smime-milter/keys/
chown smime-milter:smime-milter /etc/smime-milter/keys/*.pem
chmod 0600 /etc/smime-milter/keys/*.pem
SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
SINK=$W/sink
QDIR=$W/postfix/spool
SOCKDIR=$QDIR/smime-milter
mkdir -p "$SOCKDIR"
chown smime-milter:smime-milter "$SOCKDIR"
chmod 0750 "$SOCKDIR"
sed -i -e "s|^socket .*|socket          unix:$SOCKDIR/smime-milter.sock|" \
    -e 's|^sign .*|sign            yes|' -e 's|^encrypt .*|encrypt         yes|' "$C"
check "smime-milter -n accepts the configuration pointed at the test certificates" /usr/sbin/smime-milter -n -c "$C"

# syslog listener and milter in a private mount namespace with its own /dev
cat >"$W/syslogd.py" <<'PY'
import os, socket, sys
path, out, pidfile = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
open(pidfile, "w").write("%d\n" % os.getpid())
with open(out, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
PY
cat >"$W/ns.sh" <<'SH'
#!/bin/bash
# runs inside unshare -m: a private /dev with a syslog listener on /dev/log, then the milter
set -eu
W=$1; shift
mount -t tmpfs -o mode=0755,size=1m tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
"${PYTHON3:-python3}" "$W/syslogd.py" /dev/log "$W/syslog.txt" "$W/syslogd.pid" </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
[ -S /dev/log ] || { echo "no /dev/log listener" >&2; exit 1; }
eval "$PRE"
eval "$START"
SH
chmod 0755 "$W/ns.sh"
mkdir -p /run/smime-milter # RuntimeDirectory=, as systemd would make it
chmod 0755 /run/smime-milter
PIDFILE=/run/smime-milter/smime-milter.pid
stop_milter() {
    local p
    p=$(cat "$PIDFILE" 2>/dev/null || true)
    [ -n "$p" ] && stop_pid "$p" smime-milter
    p=$(cat "$W/syslogd.pid" 2>/dev/null || true)
    [ -n "$p" ] && stop_pid "$p" syslog-listener
    rm -rf /run/smime-milter
}
harness_on_exit stop_milter
rc=0
PYTHON3=$PYTHON3 PRE=$PRE START=$START unshare -m --propagation private "$W/ns.sh" "$W" >"$W/start.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || setup_failed "the unit's ExecStartPre and ExecStart run" "$(cat "$W/start.out")"
wait_for_file "$SOCKDIR/smime-milter.sock" 20 ||
    setup_failed "the milter creates its socket in the chroot" "$(cat "$W/start.out")"
MAINPID=$(cat "$PIDFILE" 2>/dev/null || true)
child=$(pgrep -P "$MAINPID" | head -n 1 || true)
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
if [ -n "$MAINPID" ] && [ "$(uid_of "$MAINPID")" = 0 ] && [ -n "$child" ] &&
    [ "$(uid_of "$child")" = "$(id -u smime-milter)" ]; then
    ok "ExecStart: the supervisor (pid-file) runs as root, the milter process as smime-milter"
else
    notok "ExecStart: the supervisor (pid-file) runs as root, the milter process as smime-milter" \
        "supervisor=$MAINPID child=$child $(cat "$W/start.out")"
fi
check "the socket in the chroot is smime-milter:smime-milter 0660" \
    mode_is "$SOCKDIR/smime-milter.sock" "smime-milter smime-milter 660"

sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
# smtpd, cleanup and pickup chrooted as in Debian's master.cf: non_smtpd_milters = $smtpd_milters
HARNESS_POSTFIX_CHROOT=y \
    postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "unix:/smime-milter/smime-milter.sock" ||
    setup_failed "private chrooted Postfix did not start"
if grep -Eq "^127\.0\.0\.1:$SMTPD_PORT +inet +n +- +y " "$W/postfix/etc/master.cf"; then
    ok "the private Postfix runs smtpd chrooted (smtpd_milters = unix:/smime-milter/smime-milter.sock)"
else
    notok "the private Postfix runs smtpd chrooted (smtpd_milters = unix:/smime-milter/smime-milter.sock)"
fi

# deliver ID: a message from alice to bob; the sink's copy becomes $W/ID.eml
deliver() {
    local id=$1 before
    before=$(sink_count "$SINK")
    printf 'From: Alice <alice@example.com>\r\nTo: Bob <bob@partner.example>\r\nSubject: package %s\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s.pkg@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nDelivered by the packaged smime-milter (%s).\r\nSecond line.\r\n' \
        "$id" "$id" "$id" >"$W/$id.sent"
    printf 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nDelivered by the packaged smime-milter (%s).\r\nSecond line.\r\n' \
        "$id" >"$W/$id.inner"
    send "$id" "$W/$id.sent" bob@partner.example || return 1
    sink_wait "$SINK" $((before + 1)) 30 || return 1
    cp "$(find "$SINK" -maxdepth 1 -name 'msg-*.eml' | sort | tail -n 1)" "$W/$id.eml"
}
if deliver first; then
    ok "a message goes through the chrooted smtpd and the socket in its chroot"
    JUDGE_MODE=enveloped-detached judge "first: signed and encrypted; OpenSSL, gpgsm and NSS decrypt for bob, verify alice, content exact" \
        "$W/first.eml" bob@partner.example "$W/first.inner"
else
    notok "a message goes through the chrooted smtpd and the socket in its chroot" "$(tail -n 8 "$W/swaks-first.out")"
    dump_logs
fi

# a local submission (sendmail(1)): pickup and the chrooted cleanup reach the milter through
# non_smtpd_milters, by the same name relative to the chroot
before=$(sink_count "$SINK")
printf 'From: Alice <alice@example.com>\nTo: Bob <bob@partner.example>\nSubject: package local\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nSubmitted with sendmail(1).\n' >"$W/local.sent"
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nSubmitted with sendmail(1).\r\n' >"$W/local.inner"
if grep -Eq '^cleanup +unix +n +- +y ' "$W/postfix/etc/master.cf" &&
    sendmail -C "$W/postfix/etc" -f alice@example.com bob@partner.example <"$W/local.sent" 2>"$W/local.err" &&
    sink_wait "$SINK" $((before + 1)) 30; then
    cp "$(find "$SINK" -maxdepth 1 -name 'msg-*.eml' | sort | tail -n 1)" "$W/local.eml"
    ok "sendmail(1) through the chrooted cleanup: non_smtpd_milters = \$smtpd_milters reaches the socket"
    JUDGE_MODE=enveloped-detached judge "local: signed and encrypted; OpenSSL, gpgsm and NSS decrypt for bob, verify alice, content exact" \
        "$W/local.eml" bob@partner.example "$W/local.inner"
else
    notok "sendmail(1) through the chrooted cleanup: non_smtpd_milters = \$smtpd_milters reaches the socket" \
        "$(cat "$W/local.err")"$'\n'"$(tail -n 10 "$W/postfix/maillog")"
fi

# reload through ExecReload: sign only from now on
sed -i 's|^encrypt .*|encrypt         no|' "$C"
before=$(grep -c 'reload: .* loaded' "$LOG" 2>/dev/null || true)
rc=0
MAINPID=$MAINPID bash -c "$RELOAD" || rc=$?
for _ in $(seq 50); do
    [ "$(grep -c 'reload: .* loaded' "$LOG" 2>/dev/null || true)" -gt "$before" ] && break
    sleep 0.1
done
if [ "$rc" = 0 ] && [ "$(grep -c 'reload: .* loaded' "$LOG" 2>/dev/null || true)" -gt "$before" ]; then
    ok "ExecReload ($RELOAD) reloads the configuration"
else
    notok "ExecReload ($RELOAD) reloads the configuration" "exit $rc; $(tail -n 5 "$LOG" 2>/dev/null)"
fi
if deliver second; then
    ct=$(tr -d '\r' <"$W/second.eml" | sed -n '/^$/q; s/^Content-Type: *//Ip' | head -n 1)
    case $ct in
        multipart/signed*) ok "after the reload the next message is signed only (multipart/signed)" ;;
        *) notok "after the reload the next message is signed only (multipart/signed)" "Content-Type: $ct" ;;
    esac
    JUDGE_MODE=signed-detached judge "second: OpenSSL, gpgsm and NSS verify alice's signature, content exact" \
        "$W/second.eml" bob@partner.example "$W/second.inner"
else
    notok "after the reload the next message is delivered" "$(tail -n 8 "$W/swaks-second.out")"
fi

# syslog, facility mail: <PRI> with PRI / 8 == 2 (LOG_MAIL), i.e. 16..23
if grep -Eq '^<(1[6-9]|2[0-3])>.*smime-milter\[[0-9]+\]: .*signed and encrypted' "$LOG" 2>/dev/null &&
    grep -Eq '^<(1[6-9]|2[0-3])>.*smime-milter\[[0-9]+\]: .*listening on unix:' "$LOG"; then
    ok "log lines reach syslog with facility mail (<16>..<23>)"
else
    notok "log lines reach syslog with facility mail (<16>..<23>)" "$(head -n 10 "$LOG" 2>/dev/null)"
fi

# ---------------------------------------------------------------------------------------------
# Stop, purge, nothing left behind
postfix_stop "$W/postfix" || true
harness_forget postfix_stop "$W/postfix"
stop_milter
harness_forget stop_milter
rm -f /etc/smime-milter/certs/*.crt /etc/smime-milter/keys/*.pem
rc=0
dpkg --purge smime-milter >"$W/purge.log" 2>&1 || rc=$?
remove_user
harness_forget purge_package
left=""
for f in /etc/smime-milter /var/lib/smime-milter /var/spool/postfix/smime-milter /run/smime-milter \
    /usr/sbin/smime-milter /usr/bin/smime-tool /lib/systemd/system/smime-milter.service; do
    [ -e "$f" ] && left="$left $f"
done
getent passwd smime-milter >/dev/null && [ "$had_user" = 0 ] && left="$left user:smime-milter"
getent group smime-milter >/dev/null && [ "$had_group" = 0 ] && left="$left group:smime-milter"
if [ "$rc" = 0 ] && [ -z "$left" ]; then
    ok "dpkg --purge and removing the user leave nothing behind"
else
    notok "dpkg --purge and removing the user leave nothing behind" "exit $rc, left:$left"$'\n'"$(cat "$W/purge.log")"
fi
finish
