#!/bin/bash
# LDAP certificate lookups end to end: a private slapd on loopback (its own slapd.conf and mdb
# database in a temporary directory) holds recipient certificates (userCertificate;binary, and a
# PKCS#7 certs-only userSMIMECertificate); smime-milter with ldap-uri (and no file for those
# recipients in cert-dir) sits in a private Postfix delivering to an SMTP sink. Checked: found in
# the directory -> the delivered message decrypts for the recipient (OpenSSL, gpgsm, NSS via
# tests/judges.sh); not there -> 550 5.7.1 at RCPT; a filter-injection address finds nothing;
# a certificate naming another address is refused; the negative cache (ldap-negative-ttl); the
# directory down or hanging -> 451 4.7.1 and nothing in clear; reconnect after a slapd restart;
# simple bind with ldap-password-file, and a wrong password -> 451 4.7.1; with only the root in
# ca-file, the intermediate a PKCS#7 entry carries builds the chain (one without is refused).
#
# Usage (as root): tests/ldap.sh
# Environment: SMIME_MILTER  milter binary (default milter/smime-milter)
#              LDAP_KEEP=1   keep the work directory (printed at the end)
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
# shellcheck source=lib/metrics.sh
. "$TESTS/lib/metrics.sh"
harness_need swaks openssl postconf slapd slaptest ldapadd ldapsearch base64
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-ldap LDAP_KEEP

LDAP_USERS="erin@ldap.example frank@ldap.example grace@ldap.example heidi@ldap.example ivan@ldap.example judy@ldap.example kate@ldap.example"
echo "# setting up in $W"
GEN_CERTS_EXTRA="$LDAP_USERS" "$TESTS/gen-certs.sh" "$W/pki" >/dev/null || setup_failed "gen-certs.sh failed"
for a in $LDAP_USERS; do rm -f "$W/pki/certs/$a.crt"; done # only the directory has them

SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
LDAP_PORT=$(free_port)
METRICS_PORT=$(free_port)
METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics
LDAP_URI=ldap://127.0.0.1:$LDAP_PORT
SUFFIX=dc=example,dc=test
ROOTDN=cn=admin,$SUFFIX
ROOTPW=$(openssl rand -hex 12)
BINDDN=cn=milter,$SUFFIX
BINDPW=$(openssl rand -hex 12)
SINK=$W/sink

# ---------------------------------------------------------------------------------------------
# slapd
slapd_setup "$W/slapd" "$LDAP_PORT" "$SUFFIX" "$ROOTDN" "$ROOTPW" ||
    setup_failed "a private slapd configuration that slaptest accepts" "$(cat "$W/slapd/slaptest.log" 2>/dev/null)"

der_b64() { openssl x509 -in "$1" -outform DER | base64 -w0; }

# person UID ADDR ATTR VALUE-B64 : an inetOrgPerson entry
person() {
    printf 'dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Test\nmail: %s\n%s:: %s\n\n' \
        "$1" "$SUFFIX" "$1" "$1" "$2" "$3" "$4"
}

P=$W/pki/private
openssl crl2pkcs7 -nocrl -certfile "$P/frank@ldap.example.crt" -certfile "$W/pki/ca/inter.crt" \
    -outform DER -out "$W/frank.p7c" || setup_failed "cannot make a certs-only PKCS#7"
{
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: example\n\n' "$SUFFIX"
    printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$SUFFIX"
    printf 'dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: milter\nuserPassword: %s\n\n' \
        "$BINDDN" "$BINDPW"
    person erin erin@ldap.example 'userCertificate;binary' "$(der_b64 "$P/erin@ldap.example.crt")"
    person frank frank@ldap.example userSMIMECertificate "$(base64 -w0 <"$W/frank.p7c")"
    # heidi's entry carries erin's certificate: it does not name heidi
    person heidi heidi@ldap.example 'userCertificate;binary' "$(der_b64 "$P/erin@ldap.example.crt")"
    person ivan ivan@ldap.example 'userCertificate;binary' "$(der_b64 "$P/ivan@ldap.example.crt")"
    person judy judy@ldap.example 'userCertificate;binary' "$(der_b64 "$P/judy@ldap.example.crt")"
    person kate kate@ldap.example 'userCertificate;binary' "$(der_b64 "$P/kate@ldap.example.crt")"
} >"$W/entries.ldif"
person grace grace@ldap.example 'userCertificate;binary' "$(der_b64 "$P/grace@ldap.example.crt")" >"$W/grace.ldif"

slapd_start || setup_failed "slapd did not start" "$(tail -n 20 "$W/slapd/slapd.log")"
slapd_add "$W/entries.ldif" || setup_failed "ldapadd of the test entries failed" "$(tail -n 20 "$W/slapd/ldapadd.log")"

# ---------------------------------------------------------------------------------------------
# smime-milter + Postfix + sink
write_conf() { # FILE [extra lines...]
    local f=$1
    shift
    {
        echo "socket          inet:$MILTER_PORT@127.0.0.1"
        echo "cert-dir        $W/pki/certs"
        echo "key-dir         $W/pki/keys"
        echo "ca-file         ${CA_FILE:-$W/pki/ca/chain.pem}"
        echo "internal-hosts  127.0.0.0/8"
        echo "sign            yes"
        echo "encrypt         yes"
        echo "ldap-uri        $LDAP_URI"
        echo "ldap-base       $SUFFIX"
        echo "ldap-timeout    3"
        echo "ldap-negative-ttl 2"
        echo "metrics-listen  127.0.0.1:$METRICS_PORT"
        printf '%s\n' "$@"
    } >"$f"
}
write_conf "$W/anon.conf"
if out=$("$MILTER_BIN" -n -c "$W/anon.conf" 2>&1); then
    ok "smime-milter -n accepts ldap-uri, ldap-base, ldap-timeout, ldap-negative-ttl"
else
    notok "smime-milter -n accepts ldap-uri, ldap-base, ldap-timeout, ldap-negative-ttl" "$out"
fi
sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
milter_start "$W/anon.conf" "$W/milter.log" || setup_failed "smime-milter did not start"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix did not start"
echo "# postfix 127.0.0.1:$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT; slapd $LDAP_URI"

# ---------------------------------------------------------------------------------------------
# Helpers

# send_to ID TO : a small message from alice to TO (comma separated); swaks output in
# $W/swaks-ID.out, what alice signs in $W/ID.inner
send_to() {
    local id=$1 to=$2
    printf 'From: Alice <alice@example.com>\r\nTo: %s\r\nSubject: ldap %s\r\nMessage-ID: <%s@example.com>\r\nX-E2E-Id: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello, message %s for a recipient whose certificate is in LDAP.\r\n' \
        "$to" "$id" "$id" "$id" "$id" >"$W/msg-$id.eml"
    printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello, message %s for a recipient whose certificate is in LDAP.\r\n' \
        "$id" >"$W/$id.inner"
    send "$id" "$W/msg-$id.eml" "$to"
}

# refused ID ADDR CODE : the RCPT of ADDR was answered with CODE (e.g. "550 5.7.1")
refused() {
    grep -B1 -E "^<\*\* +${3% *}[ -]${3#* }" "$W/swaks-$1.out" | grep -qiF "RCPT TO:<$2>"
}

# found ID ADDR : sent to ADDR alone, accepted, delivered encrypted, and the three judges decrypt
# it with ADDR's key, verify alice's signature and get the exact content back
found() {
    local id=$1 addr=$2 rc=0 f out
    send_to "$id" "$addr" || rc=$?
    if [ "$rc" != 0 ] || ! grep -qE '^<- +250 .*queued' "$W/swaks-$id.out"; then
        echo "not accepted:"
        tail -n 8 "$W/swaks-$id.out"
        return 1
    fi
    if ! wait_delivered "$id" 30; then
        echo "not delivered:"
        tail -n 10 "$W/postfix/maillog"
        return 1
    fi
    f=$(delivered "$id" | head -n 1)
    out=$("$TESTS/judges.sh" "$f" "$addr" "$W/pki" "$W/$id.inner" "$W/judges-$id" 2>&1) &&
        [ "$(grep -cE '^[A-Za-z0-9 ]+: PASS' <<<"$out")" -ge 4 ] && return 0
    echo "$out"
    return 1
}

# rejected ID ADDR CODE [LOG-PATTERN] : RCPT refused with CODE, nothing delivered, and (when
# given) the milter log has LOG-PATTERN (fixed string)
rejected() {
    local id=$1 addr=$2 code=$3 pat=${4:-}
    send_to "$id" "$addr" || true
    sleep 0.5
    if ! refused "$id" "$addr" "$code"; then
        tail -n 8 "$W/swaks-$id.out"
        return 1
    elif [ -n "$(delivered "$id")" ]; then
        echo "a message with id $id was delivered"
        return 1
    elif [ -n "$pat" ] && ! grep -qF -- "$pat" "$W/milter.log"; then
        echo "milter log lacks: $pat"
        tail -n 5 "$W/milter.log"
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
echo "# a. certificates found in the directory"
check "userCertificate;binary: OpenSSL, gpgsm and NSS decrypt for erin@ldap.example, alice's signature verifies, content exact" \
    found erin erin@ldap.example
check "userSMIMECertificate (PKCS#7 certs-only): OpenSSL, gpgsm and NSS decrypt for frank@ldap.example, alice's signature verifies, content exact" \
    found frank frank@ldap.example
check "cert-dir still first (bob has a file): OpenSSL, gpgsm and NSS decrypt for bob@partner.example, alice's signature verifies, content exact" \
    found bob bob@partner.example

echo "# b. not found or not usable"
check "not in the directory: RCPT refused with 550 5.7.1" \
    rejected nobody nobody@ldap.example "550 5.7.1" "no certificate for nobody@ldap.example in LDAP $LDAP_URI"
check "'*@ldap.example' is escaped in the filter (matches no entry): 550 5.7.1" \
    rejected star '*@ldap.example' "550 5.7.1" "no certificate for *@ldap.example in LDAP $LDAP_URI"
check "directory entry with another address's certificate: 550 5.7.1" \
    rejected heidi heidi@ldap.example "550 5.7.1" "does not name that address"

sleep 0.5 # the ends of the refused messages
metrics_are "metrics: LDAP lookups hit 3 (erin, frank, heidi's wrong certificate), miss 2; refusals by reason" \
    'smime_milter_ldap_lookups_total{result="hit"}=3' 'smime_milter_ldap_lookups_total{result="miss"}=2' \
    'smime_milter_messages_total{outcome="signed_encrypted"}=3' \
    'smime_milter_messages_total{outcome="reject",reason="recipients"}=3' \
    'smime_milter_recipients_refused_total{reason="no_certificate"}=2' \
    'smime_milter_recipients_refused_total{reason="wrong_address"}=1' \
    "smime_milter_body_bytes_in_total=$(($(body_of "$W/msg-erin.eml" | wc -c) + $(body_of "$W/msg-frank.eml" | wc -c) + $(body_of "$W/msg-bob.eml" | wc -c)))" \
    'smime_milter_processing_seconds_count=3' \
    "smime_milter_body_bytes_out_total=$(for i in erin frank bob; do body_of "$(delivered $i | head -n 1)"; done | wc -c)"

echo "# c. negative cache (ldap-negative-ttl 2)"
check "grace not yet in the directory: 550 5.7.1" rejected grace1 grace@ldap.example "550 5.7.1"
if slapd_add "$W/grace.ldif"; then
    t0=$(date +%s.%N)
    check "grace added, asked again within ldap-negative-ttl: still 550 (cached miss)" \
        rejected grace2 grace@ldap.example "550 5.7.1" "no certificate for grace@ldap.example in LDAP $LDAP_URI (cached)"
    # the negative entry was made at the first miss; wait until 2 s have surely passed since then
    sleep "$("$PYTHON3" -c "import sys; print(max(0.0, 2.5 - ($(date +%s.%N) - $t0)))")"
    check "grace found after ldap-negative-ttl: OpenSSL, gpgsm and NSS decrypt for grace@ldap.example, alice's signature verifies, content exact" \
        found grace3 grace@ldap.example
else
    notok "adding grace to the directory" "$(tail -n 5 "$W/slapd/ldapadd.log")"
fi

echo "# d. directory down, directory hanging"
slapd_stop
rc=0
send_to down "erin@ldap.example,ivan@ldap.example" || rc=$?
if refused down ivan@ldap.example "451 4.7.1" && grep -qE '^<- +250 .*queued' "$W/swaks-down.out"; then
    ok "slapd stopped: ivan (not cached) 451 4.7.1 at RCPT; erin (cached) accepted"
else
    notok "slapd stopped: ivan (not cached) 451 4.7.1 at RCPT; erin (cached) accepted" "$(tail -n 12 "$W/swaks-down.out")"
fi
sleep 0.5
is "metrics: ivan refused for an LDAP error, erin answered from the cache" \
    "$(metric_value 'smime_milter_recipients_refused_total{reason="ldap_error"}') $(metric_value 'smime_milter_ldap_lookups_total{result="error"}') $([ "$(metric_value 'smime_milter_ldap_lookups_total{result="cached"}')" -ge 1 ] && echo cached)" \
    "1 1 cached"
if grep -qF "tempfail recipient <ivan@ldap.example>: LDAP $LDAP_URI: " "$W/milter.log"; then
    ok "the milter log names the directory that failed"
else
    notok "the milter log names the directory that failed" "$(tail -n 5 "$W/milter.log")"
fi
if wait_delivered down 30; then
    f=$(delivered down | head -n 1)
    if [ "$(cat "${f%.eml}.rcpt")" = erin@ldap.example ] &&
            grep -qi '^Content-Type: application/pkcs7-mime' "$f" && ! grep -q 'Hello, message down' "$f"; then
        ok "directory down: only erin received it, encrypted (no clear text)"
    else
        notok "directory down: only erin received it, encrypted (no clear text)" "$(head -c 600 "$f")"
    fi
else
    notok "directory down: erin's copy delivered" "$(tail -n 10 "$W/postfix/maillog")"
fi
slapd_start || setup_failed "slapd did not start again" "$(tail -n 20 "$W/slapd/slapd.log")"
kill -STOP "$HARNESS_SLAPD_PID"
t0=$(date +%s)
check "slapd hanging (SIGSTOP): 451 4.7.1 after ldap-timeout" \
    rejected hang ivan@ldap.example "451 4.7.1" "tempfail recipient <ivan@ldap.example>: LDAP $LDAP_URI: "
t1=$(date +%s)
kill -CONT "$HARNESS_SLAPD_PID"
if [ $((t1 - t0)) -le 20 ]; then
    ok "the hanging directory cost $((t1 - t0)) s (ldap-timeout 3)"
else
    notok "the hanging directory cost $((t1 - t0)) s (ldap-timeout 3)"
fi
check "slapd back: found again without restarting the milter: OpenSSL, gpgsm and NSS decrypt for judy@ldap.example, alice's signature verifies, content exact" \
    found judy judy@ldap.example
# the connection judy's lookup left open dies with this slapd; the next lookup opens a new one
slapd_stop
slapd_start || setup_failed "slapd did not start again" "$(tail -n 20 "$W/slapd/slapd.log")"
check "slapd restarted: the closed connection is replaced: OpenSSL, gpgsm and NSS decrypt for kate@ldap.example, alice's signature verifies, content exact" \
    found kate kate@ldap.example

echo "# e. simple bind with ldap-password-file"
milter_stop
(umask 077; printf '%s\n' "$BINDPW" >"$W/bind.pw")
write_conf "$W/bind.conf" "ldap-bind-dn    $BINDDN" "ldap-password-file $W/bind.pw"
chmod 0644 "$W/bind.pw"
if out=$("$MILTER_BIN" -n -c "$W/bind.conf" 2>&1); then
    notok "a password file readable by others is refused" "$out"
elif grep -qF "ldap-password-file $W/bind.pw: readable by group or others" <<<"$out"; then
    ok "a password file readable by others is refused"
else
    notok "a password file readable by others is refused" "$out"
fi
chmod 0600 "$W/bind.pw"
: >"$W/milter.log"
milter_start "$W/bind.conf" "$W/milter.log" || setup_failed "smime-milter (bind) did not start"
check "bound as $BINDDN: OpenSSL, gpgsm and NSS decrypt for ivan@ldap.example, alice's signature verifies, content exact" \
    found ivan ivan@ldap.example
milter_stop
(umask 077; printf 'wrong-%s\n' "$BINDPW" >"$W/bind.pw")
: >"$W/milter.log"
milter_start "$W/bind.conf" "$W/milter.log" || setup_failed "smime-milter (wrong password) did not start"
check "wrong bind password: 451 4.7.1" \
    rejected wrongpw ivan@ldap.example "451 4.7.1" "LDAP $LDAP_URI: bind as $BINDDN: Invalid credentials"
if grep -rqF -- "$BINDPW" "$W/milter.log" "$W"/swaks-*.out; then
    notok "the bind password appears in no log"
else
    ok "the bind password appears in no log"
fi

echo "# f. ca-file with the root only: the intermediate comes with the directory entry"
milter_stop
CA_FILE=$W/pki/ca/root.crt write_conf "$W/root.conf"
: >"$W/milter.log"
milter_start "$W/root.conf" "$W/milter.log" || setup_failed "smime-milter (root only) did not start"
check "frank's PKCS#7 carries the intermediate: OpenSSL, gpgsm and NSS decrypt for frank@ldap.example, alice's signature verifies, content exact" \
    found frankroot frank@ldap.example
check "erin's entry has no intermediate: 550 5.7.1, the log says it is not trusted" \
    rejected erinroot erin@ldap.example "550 5.7.1" "certificate for erin@ldap.example is not trusted"
finish
