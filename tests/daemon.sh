#!/usr/bin/env bash
# daemon.sh - the daemon's command line and process contract:
#   -n prints every error as FILE:LINE: message and exits 1, "FILE: OK" and 0 when valid;
#   -n refuses what would fail at run time (keys, sockets, pid-file, tokens, ...);
#   -V/--version prints the versions, -h/--help the usage;
#   with "user", the milter process runs as that user (the supervisor stays root to
#   restart it) and still signs and encrypts a message (driven by miltertest);
#   the unix socket gets socket-mode and socket-group (owner: user), also when the supervisor
#   restarts a killed milter process, which recreates it; an unknown group is a FILE:LINE error;
#   pid-file holds the supervisor, SIGTERM stops both and removes it.
# Prints ok/not ok lines and "N passed, M failed".
set -euo pipefail
TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need miltertest openssl pgrep
harness_built "$MILTER_BIN"
harness_workdir smime-daemon
tmp=$W
top=$HARNESS_ROOT
milter=$MILTER_BIN
pid=
stop_daemon() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}
harness_on_exit stop_daemon

# -n: all errors, FILE:LINE, exit 1
printf 'socket unix:%s/s\nsign maybe\nfrobnicate 1\n<domain a..b>\n</domain>\n' "$tmp" >"$tmp/bad.conf"
rc=0; out=$("$milter" -n -c "$tmp/bad.conf" 2>&1) || rc=$?
want="$tmp/bad.conf:2: sign: \"maybe\" is not yes or no
$tmp/bad.conf:3: unknown keyword \"frobnicate\"
$tmp/bad.conf:4: <domain a..b>: bad pattern
$tmp/bad.conf: 3 errors"
if [ "$rc" = 1 ] && [ "$out" = "$want" ]; then ok "-n reports every error as FILE:LINE and exits 1"
else notok "-n reports every error as FILE:LINE and exits 1" "exit $rc"$'\n'"$out"; fi
rc=0; out=$("$milter" -n -c "$tmp/missing.conf" 2>&1) || rc=$?
if [ "$rc" = 1 ] && [ "$out" = "$tmp/missing.conf: cannot open: No such file or directory
$tmp/missing.conf: 1 error" ]; then ok "-n names a missing file"; else notok "-n names a missing file" "$out"; fi
printf 'socket unix:%s/s\nsocket-group no-such-group-here\nsocket-mode 0999\n' "$tmp" >"$tmp/sock.conf"
printf 'socket unix:%s/s\nsocket-mode 0060\n' "$tmp" >"$tmp/sock2.conf"
rc=0; out=$("$milter" -n -c "$tmp/sock.conf" 2>&1) || rc=$?
rc2=0; out2=$("$milter" -n -c "$tmp/sock2.conf" 2>&1) || rc2=$?
want="$tmp/sock.conf:2: socket-group: no such group \"no-such-group-here\"
$tmp/sock.conf:3: socket-mode: \"0999\" is not an octal mode between 0000 and 0777 (e.g. 0660)
$tmp/sock.conf: 2 errors"
want2="$tmp/sock2.conf:2: socket-mode 0060: the owner must be able to read and write the socket
$tmp/sock2.conf: 1 error"
out="$out"$'\n'"$out2"
if [ "$rc" = 1 ] && [ "$rc2" = 1 ] && [ "$out" = "$want"$'\n'"$want2" ]; then ok "-n: unknown socket-group and bad socket-mode are FILE:LINE errors"
else notok "-n: unknown socket-group and bad socket-mode are FILE:LINE errors" "exit $rc"$'\n'"$out"; fi
# -V / --version: one line naming the versions of smime-milter, OpenSSL and libmilter; exit 0.
# -h / --help: the usage on stdout; exit 0.  An unknown option: the usage on stderr, exit 2.
for opt in -V --version; do
    rc=0; out=$("$milter" "$opt" 2>"$tmp/err") || rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
        [[ $out =~ ^smime-milter\ [0-9]+\.[0-9]+\.[0-9]+\ \(OpenSSL\ 3\.[0-9]+\.[0-9]+[^,]*,\ libmilter\ [0-9]+\.[0-9]+\.[0-9]+\)$ ]]; then
        ok "$opt prints one line with the versions"
    else
        notok "$opt prints one line with the versions" "exit $rc"$'\n'"$out"$'\n'"$(cat "$tmp/err")"
    fi
done
for opt in -h --help; do
    rc=0; out=$("$milter" "$opt" 2>"$tmp/err") || rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && [[ $out == "usage: smime-milter "* ]] &&
        [[ $out == *"smime-milter -h | --help"* ]]; then
        ok "$opt prints the usage on stdout and exits 0"
    else
        notok "$opt prints the usage on stdout and exits 0" "exit $rc"$'\n'"$out"$'\n'"$(cat "$tmp/err")"
    fi
done
rc=0; out=$("$milter" --frobnicate 2>&1 >/dev/null) || rc=$?
if [ "$rc" = 2 ] && [[ $out == *"usage: smime-milter "* ]]; then ok "an unknown option: usage on stderr, exit 2"
else notok "an unknown option: usage on stderr, exit 2" "exit $rc"$'\n'"$out"; fi

# -n refuses what would make the running milter tempfail every message: FILE:LINE, exit 1
"$top/tests/gen-certs.sh" "$tmp/pki" >/dev/null
# n_fails CONF WANT [OPTION...]: -n -c CONF prints exactly WANT (stdout and stderr) and exits 1
n_fails() {
    local conf=$1 want=$2 rc=0 out
    shift 2
    out=$("$milter" -n -c "$conf" "$@" 2>&1) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "$want" ] && return 0
    printf '%s\n' "exit $rc" "$out" "wanted:" "$want"
    return 1
}
alice=alice@example.com
mkdir -p "$tmp/run" "$tmp/k644" "$tmp/kroot" "$tmp/knocert" "$tmp/s"
chmod 700 "$tmp/k644" "$tmp/knocert"
chmod 755 "$tmp/kroot"
cp "$tmp/pki/keys/$alice.pem" "$tmp/k644/" && chmod 644 "$tmp/k644/$alice.pem"
cp "$tmp/pki/keys/$alice.pem" "$tmp/kroot/" && chmod 600 "$tmp/kroot/$alice.pem"
cp "$tmp/pki/private/$alice.key" "$tmp/knocert/$alice.pem" && chmod 600 "$tmp/knocert/$alice.pem"
(umask 077 && echo 'not a key' >"$tmp/s/garbage.pem" && echo right-passphrase >"$tmp/s/pass" &&
    echo wrong-passphrase >"$tmp/s/wrong-pass" &&
    openssl pkey -in "$tmp/pki/private/$alice.key" -aes256 -passout pass:right-passphrase \
        -out "$tmp/s/enc.pem" && cat "$tmp/pki/private/$alice.crt" >>"$tmp/s/enc.pem")
echo 'not a certificate' >"$tmp/s/garbage.crt"
sock="socket unix:$tmp/run/m.sock"
c=$tmp/n.conf

printf '%s\nkey-dir %s\nsign yes\n' "$sock" "$tmp/k644" >"$c"
check "-n: a key in key-dir readable by others" n_fails "$c" "$c:2: key-dir: key file $tmp/k644/$alice.pem: readable by group or others (mode 0644): chmod 600 it
$c: 1 error"
printf '%s\nuser nobody\nkey-dir %s\nsign yes\n' "$sock" "$tmp/kroot" >"$c"
check "-n: a root-owned 0600 key with user nobody" n_fails "$c" "$c:3: key-dir $tmp/kroot/$alice.pem: not readable by user nobody: Permission denied
$c: 1 error"
printf '%s\nkey-dir %s\nsign yes\n' "$sock" "$tmp/knocert" >"$c"
check "-n: a key in key-dir without its certificate" n_fails "$c" "$c:2: key-dir: $tmp/knocert/$alice.pem has no certificate and $tmp/knocert/$alice.crt is missing or unreadable
$c: 1 error"
printf '%s\n<sender a.example>\n    signing-key %s\n</sender>\n' "$sock" "$tmp/s/garbage.pem" >"$c"
check "-n: a signing-key that is no PEM key" n_fails "$c" "$c:3: signing-key: $tmp/s/garbage.pem holds no readable (unencrypted PEM) private key (error:1E08010C:DECODER routines::unsupported)
$c: 1 error"
printf '%s\nkey-passphrase-file %s\n<sender a.example>\n    signing-key %s\n</sender>\n' "$sock" "$tmp/s/wrong-pass" "$tmp/s/enc.pem" >"$c"
check "-n: an encrypted signing-key with the wrong key-passphrase-file" n_fails "$c" "$c:4: signing-key: $tmp/s/enc.pem holds no PEM private key that opens with the passphrase in $tmp/s/wrong-pass (error:11800074:PKCS12 routines::pkcs12 cipherfinal error)
$c: 1 error"
printf '%s\nkey-passphrase-file %s\n<sender a.example>\n    signing-key %s\n</sender>\n' "$sock" "$tmp/s/pass" "$tmp/s/enc.pem" >"$c"
out=$("$milter" -n -c "$c" 2>&1) || true
if [ "$out" = "$c: OK" ]; then ok "-n: an encrypted signing-key opens with key-passphrase-file"
else notok "-n: an encrypted signing-key opens with key-passphrase-file" "$out"; fi
mkdir -p "$tmp/softhsm"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$tmp/softhsm" >"$tmp/softhsm2.conf"
printf '%s\n<sender a.example>\n    signing-key "pkcs11:token=no-such-token;object=k;pin-value=1234"\n</sender>\n' "$sock" >"$c"
SOFTHSM2_CONF=$tmp/softhsm2.conf check "-n: a pkcs11: token that does not exist (no login, no PIN shown)" n_fails "$c" "$c:3: signing-key: pkcs11:token=no-such-token;object=k: no such token: no PKCS#11 module registered with p11-kit has an initialised token matching \"token=no-such-token\"
$c: 1 error"
out=$(OPENSSL_ENGINES=$tmp/no-engines "$milter" -n -c "$c" 2>&1) || true
case $out in
"$c:3: signing-key: pkcs11:token=no-such-token;object=k: the OpenSSL pkcs11 engine is not available (install libengine-pkcs11-openssl)"*"
$c: 1 error") ok "-n: the PKCS#11 engine does not load" ;;
*) notok "-n: the PKCS#11 engine does not load" "$out" ;;
esac
printf 'socket inet:99999@127.0.0.1\n' >"$c"
check "-n: a port out of range" n_fails "$c" "$c:1: socket \"inet:99999@127.0.0.1\": port \"99999\" is not a number between 1 and 65535
$c: 1 error"
printf 'socket inet:8894@::1\n' >"$c"
check "-n: an IPv6 address with inet:" n_fails "$c" "$c:1: socket \"inet:8894@::1\": ::1 is an IPv6 address: use inet6:
$c: 1 error"
printf 'socket inet:8894@bad_host!\n' >"$c"
check "-n: a host that is neither address nor name" n_fails "$c" "$c:1: socket \"inet:8894@bad_host!\": host \"bad_host!\" is not an IPv4 address or a host name
$c: 1 error"
printf 'socket unix:%s/no-dir/m.sock\n' "$tmp" >"$c"
check "-n: a unix socket in a directory that does not exist" n_fails "$c" "$c:1: socket \"unix:$tmp/no-dir/m.sock\": directory $tmp/no-dir does not exist
$c: 1 error"
printf '\nsocket tcp:8894@127.0.0.1\n' >"$c"
check "-n: an unknown socket scheme" n_fails "$c" "$c:2: socket \"tcp:8894@127.0.0.1\": expected inet:PORT@HOST, inet6:PORT@HOST or unix:PATH
$c: 1 error"
printf '%s\n' "$sock" >"$c"
check "-n: -p with a port out of range" n_fails "$c" "-p \"inet:99999@127.0.0.1\": port \"99999\" is not a number between 1 and 65535
$c: 1 error" -p inet:99999@127.0.0.1
check "-n: -p with a unix socket in a directory that does not exist" n_fails "$c" "-p \"unix:$tmp/no-dir/m.sock\": directory $tmp/no-dir does not exist
$c: 1 error" -p "unix:$tmp/no-dir/m.sock"
printf '%s\npid-file %s/no-dir/m.pid\n' "$sock" "$tmp" >"$c"
check "-n: a pid-file in a directory that does not exist" n_fails "$c" "$c:2: pid-file $tmp/no-dir/m.pid: directory $tmp/no-dir does not exist
$c: 1 error"
: >"$c"
check "-n: an empty file: no socket" n_fails "$c" "$c: no socket set (keyword \"socket\" or -p SOCKET)
$c: 1 error"
out=$("$milter" -n -c "$c" -p "unix:$tmp/run/m.sock" 2>&1) || true
if [ "$out" = "$c: OK" ]; then ok "-n: an empty file with -p is valid"; else notok "-n: an empty file with -p is valid" "$out"; fi
printf '%s\ncert-dir %s\nca-file /etc/hosts\n' "$sock" "$tmp/pki/certs" >"$c"
check "-n: a ca-file without certificates, at its line" n_fails "$c" "$c:3: ca-file /etc/hosts: cannot load trusted certificates (error:05800088:x509 certificate routines::no certificate or crl found)
$c: 1 error"
printf '%s\ncert-dir %s\nca-file %s\ncrl-file /etc/hosts\n' "$sock" "$tmp/pki/certs" "$tmp/pki/ca/root.crt" >"$c"
check "-n: a crl-file without CRLs, at its line" n_fails "$c" "$c:4: crl-file /etc/hosts holds no PEM CRL
$c: 1 error"
printf '%s\n<domain a.example>\n    domain-cert %s\n</domain>\n<sender b.example>\n    signing-key %s\n    signing-cert %s\n</sender>\n' \
    "$sock" "$tmp/s/garbage.crt" "$tmp/kroot/$alice.pem" "$tmp/s/garbage.crt" >"$c"
check "-n: a domain-cert and a signing-cert that hold no certificate" n_fails "$c" "$c:3: domain-cert: $tmp/s/garbage.crt holds no PEM or DER certificate (error:0680008E:asn1 encoding routines::not enough data)
$c:7: signing-cert: $tmp/s/garbage.crt holds no PEM or DER certificate (error:0680008E:asn1 encoding routines::not enough data)
$c: 2 errors"
printf '%s\ncipher aes-128-cbc\n<domain a.example>\n    cipher aes-128-cbc\n    sign no\n    cipher aes-256-cbc\n</domain>\ncipher aes-256-cbc\n' "$sock" >"$c"
check "-n: a keyword given twice in one scope" n_fails "$c" "$c:6: cipher given twice in this scope (first at line 4)
$c:8: cipher given twice in this scope (first at line 2)
$c: 2 errors"
printf '%s\n<domain a.example>\n</domain>\n<domain a.example>\n    encrypt no\n</domain>\n' "$sock" >"$c"
check "-n: a block given twice, and no error for its end" n_fails "$c" "$c:4: <domain a.example> appears twice (first at line 2)
$c: 1 error"
printf 'socket unix:%s/run/m.sock\npid-file %s/no-dir/m.pid\n' "$tmp" "$tmp" >"$c"
rc=0; out=$("$milter" -f -c "$c" 2>&1) || rc=$?
case $out in *"$c:2: pid-file $tmp/no-dir/m.pid: directory $tmp/no-dir does not exist"*) named=1 ;; *) named=0 ;; esac
if [ "$rc" = 1 ] && [ "$named" = 1 ] && [ ! -e "$tmp/run/m.sock" ]; then ok "the daemon refuses to start on what -n refuses"
else notok "the daemon refuses to start on what -n refuses" "exit $rc"$'\n'"$out"; fi

# user: the milter process drops privileges and still works
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
finish
