#!/bin/bash
# End-to-end test of certificate harvesting through a private Postfix:
# signed mail that arrives from outside (posing as an outside client with
# XCLIENT) has its signer's certificate stored in harvest-dir and passes
# unchanged; a reply to that sender then leaves encrypted, readable by the
# three judges.  Corrupted signatures, a mismatched From:, an attachment
# merely named smime.p7s and an untrusted signer store nothing.
#
# Usage (as root): tests/e2e-harvest.sh
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
# shellcheck source=lib/metrics.sh
. "$TESTS/lib/metrics.sh"
harness_need swaks openssl postconf cmp
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-harvest
register_log "smime-milter log" "$W/milter.log" 40
register_log "maillog" "$W/postfix/maillog" 30
# shellcheck disable=SC2034 # the header delivered looks for (tests/lib/harness.sh)
HARNESS_ID_HEADER=X-Test-Id

# zoe is a correspondent outside; her certificate is not in cert-dir at first.
ZOE=zoe@outside.example
GEN_CERTS_EXTRA="$ZOE" "$TESTS/gen-certs.sh" "$W/pki" >/dev/null
rm -f "$W/pki/certs/$ZOE.crt"
# mallory has a certificate from a CA we do not trust
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mallory" \
    -addext "subjectAltName=email:mallory@outside.example" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
    -keyout "$W/mallory.key" -out "$W/mallory.crt" 2>/dev/null
mkdir -m 0755 "$W/harvest"

SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
METRICS_PORT=$(free_port)
METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics
cat >"$W/smime-milter.conf" <<CONF
socket          inet:$MILTER_PORT@127.0.0.1
cert-dir        $W/pki/certs
key-dir         $W/pki/keys
ca-file         $W/pki/ca/root.crt
harvest-dir     $W/harvest
internal-hosts  127.0.0.0/8 ::1
metrics-listen  127.0.0.1:$METRICS_PORT
sign            yes
encrypt         yes
CONF
out=$("$MILTER_BIN" -n -c "$W/smime-milter.conf" 2>&1) || setup_failed "configuration accepted" "$out"
sink_start "$W/sink" "$SINK_PORT" || setup_failed "sink started"
milter_start "$W/smime-milter.conf" "$W/milter.log" || setup_failed "smime-milter started"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix started"

crlf() { sed 's/$/\r/'; }

# a signed message from zoe: detached multipart/signed made by OpenSSL
make_signed() { # ID FROM SIGNER-KEY SIGNER-CERT [tamper]
    local id=$1 from=$2 key=$3 cert=$4 inner="$W/inner-$1" sig="$W/sig-$1"
    printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHi Alice, my certificate is attached by signing.\r\n' >"$inner"
    openssl cms -sign -binary -md sha256 -signer "$cert" -inkey "$key" -certfile "$W/pki/ca/inter.crt" \
        -in "$inner" -outform DER -out "$sig"
    [ "${5:-}" = tamper ] && printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHi Alice, my certificate is attached by signinG.\r\n' >"$inner"
    {
        printf 'From: %s\r\nTo: alice@example.com\r\nSubject: signed %s\r\nX-Test-Id: %s\r\nMIME-Version: 1.0\r\n' "$from" "$id" "$id"
        printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="zz"\r\n\r\n'
        printf -- '--zz\r\n'
        cat "$inner"
        printf '\r\n--zz\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        openssl base64 -in "$sig" | crlf
        printf -- '--zz--\r\n'
    } >"$W/msg-$id.eml"
}

reply() { # ID : alice writes to zoe
    printf 'From: alice@example.com\r\nTo: %s\r\nSubject: reply %s\r\nX-Test-Id: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThanks Zoe, this one is encrypted.\r\n' "$ZOE" "$1" "$1" >"$W/msg-$1.eml"
}

# 1. before any harvest, alice cannot write to zoe encrypted: refused at RCPT
reply before
if ! send before "$W/msg-before.eml" "$ZOE" && grep -q '550 5.7.1' "$W/swaks-before.out"; then
    ok "before harvesting, mail to $ZOE is refused with 550 5.7.1"
else
    notok "before harvesting, mail to $ZOE is refused with 550 5.7.1" "$(cat "$W/swaks-before.out")"
fi

# 2. refusals: corrupted signature, mismatched From:, untrusted signer, attachment named smime.p7s
make_signed tampered "$ZOE" "$W/pki/private/$ZOE.key" "$W/pki/private/$ZOE.crt" tamper
make_signed mismatch "bob@partner.example" "$W/pki/private/$ZOE.key" "$W/pki/private/$ZOE.crt"
make_signed untrusted "mallory@outside.example" "$W/mallory.key" "$W/mallory.crt"
{
    printf 'From: %s\r\nTo: alice@example.com\r\nSubject: not signed\r\nX-Test-Id: named\r\nMIME-Version: 1.0\r\n' "$ZOE"
    printf 'Content-Type: multipart/mixed; boundary="mm"\r\n\r\n--mm\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n'
    printf -- '--mm\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    openssl base64 -in "$W/sig-tampered" | crlf
    printf -- '--mm--\r\n'
} >"$W/msg-named.eml"
for id in tampered mismatch untrusted named; do
    from=$(sed -n 's/^From: \(.*\)\r$/\1/p' "$W/msg-$id.eml")
    if send --external --from "$from" "$id" "$W/msg-$id.eml" alice@example.com && f=$(first_delivered "$id") &&
        cmp -s <(body_of "$W/msg-$id.eml") <(body_of "$f"); then
        ok "$id: delivered unchanged"
    else
        notok "$id: delivered unchanged" "$(cat "$W/swaks-$id.out")"
    fi
done
if [ -z "$(ls -A "$W/harvest")" ]; then ok "nothing harvested from the four bad messages"
else notok "nothing harvested from the four bad messages" "$(ls -l "$W/harvest")"; fi
for why in "signature does not verify" "does not name the From: address bob@partner.example" \
    "not an S/MIME signed message"; do
    if grep -q "not harvested: .*$why" "$W/milter.log"; then ok "logged: not harvested: ...$why"
    else notok "logged: not harvested: ...$why"; fi
done

# 3. a good signed message from zoe: passes unchanged, her certificate is stored
make_signed good "$ZOE" "$W/pki/private/$ZOE.key" "$W/pki/private/$ZOE.crt"
if send --external --from "$ZOE" good "$W/msg-good.eml" alice@example.com && f=$(first_delivered good) &&
    cmp -s <(body_of "$W/msg-good.eml") <(body_of "$f"); then
    ok "signed mail from outside is delivered unchanged"
else
    notok "signed mail from outside is delivered unchanged" "$(cat "$W/swaks-good.out")"
fi
if [ -f "$W/harvest/$ZOE.crt" ] &&
    [ "$(openssl x509 -in "$W/harvest/$ZOE.crt" -noout -fingerprint -sha256)" = \
      "$(openssl x509 -in "$W/pki/private/$ZOE.crt" -noout -fingerprint -sha256)" ]; then
    ok "zoe's certificate is stored as harvest-dir/$ZOE.crt"
else
    notok "zoe's certificate is stored as harvest-dir/$ZOE.crt" "$(ls -l "$W/harvest"; grep harvest "$W/milter.log" || true)"
fi
if grep -q "harvested the certificate of <$ZOE>" "$W/milter.log"; then ok "harvest logged"; else notok "harvest logged"; fi
h() { metric_value "smime_milter_harvests_total{result=\"$1\"}"; }
is "metrics: harvests stored 1, known 0, the three bad signatures refused or in error; all five passed" \
    "$(h stored) $(h known) $(($(h refused) + $(h error))) $(metric_value 'smime_milter_messages_total{outcome="passed",reason="external"}')" \
    "1 0 3 5"

# 4. alice replies: accepted now, without a restart, and encrypted for zoe
reply after
expected="$W/expected-after"
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nThanks Zoe, this one is encrypted.\r\n' >"$expected"
if send after "$W/msg-after.eml" "$ZOE" && f=$(first_delivered after); then
    ok "after harvesting, mail to $ZOE is accepted and delivered"
    judge "the reply is encrypted for zoe: OpenSSL, gpgsm and NSS decrypt, verify alice, content exact" \
        "$f" "$ZOE" "$expected"
    if grep -q "Thanks Zoe" "$f"; then notok "the reply's text is not in clear in what was delivered"
    else ok "the reply's text is not in clear in what was delivered"; fi
else
    notok "after harvesting, mail to $ZOE is accepted and delivered" "$(cat "$W/swaks-after.out")"
fi
finish
