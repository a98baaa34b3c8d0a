#!/bin/bash
# End-to-end test: smime-milter inside a private Postfix on loopback, OpenDKIM as the next milter,
# delivery to an SMTP sink; results checked by OpenSSL, gpgsm and NSS cmsutil (tests/judges.sh)
# and DKIM by python3-dkim.
#
# Usage (as root): tests/e2e-postfix.sh
# Environment: SMIME_MILTER  milter binary (default milter/smime-milter)
#              E2E_KEEP=1    keep the work directory (printed at the end)
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need swaks openssl opendkim opendkim-genkey postconf cmp md5sum
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-e2e E2E_KEEP
register_log "Postfix maillog" "$W/postfix/maillog" 80
register_log "smime-milter log" "$W/milter.log" 80
register_log "OpenDKIM log" "$W/opendkim/opendkim.log" 20

sys_maincf_sum=$(md5sum /etc/postfix/main.cf 2>/dev/null || echo none)

# ---------------------------------------------------------------------------------------------
echo "# setting up in $W"
"$TESTS/gen-certs.sh" "$W/pki" >/dev/null
SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
DKIM_PORT=$(free_port)
SINK=$W/sink

cat >"$W/smime-milter.conf" <<EOF
socket          inet:$MILTER_PORT@127.0.0.1
cert-dir        $W/pki/certs
key-dir         $W/pki/keys
internal-hosts  127.0.0.0/8 ::1
sign            yes
encrypt         yes
on-error        tempfail
EOF

check "judges reject changed content, a bad signature, a wrong signer (judges.sh --self-test)" \
    "$TESTS/judges.sh" --self-test "$W/judges-self-test"
check "smime-milter -n accepts the test configuration" "$MILTER_BIN" -n -c "$W/smime-milter.conf"
sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
opendkim_start "$W/opendkim" "$DKIM_PORT" example.com e2e >/dev/null || setup_failed "OpenDKIM did not start"
milter_start "$W/smime-milter.conf" "$W/milter.log" || setup_failed "smime-milter did not start"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" \
    "inet:127.0.0.1:$MILTER_PORT, inet:127.0.0.1:$DKIM_PORT" || setup_failed "private Postfix did not start"
echo "# postfix 127.0.0.1:$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT, opendkim :$DKIM_PORT"

# ---------------------------------------------------------------------------------------------
# Functions of this suite (send, delivered, wait_delivered, expected_inner, body_of and
# header_value are in tests/lib/harness.sh)

rcpts_of() { sort "${1%.eml}.rcpt" | tr '\n' ' ' | sed 's/ $//'; }

# outside_headers FILE NAME : non-Content headers stay outside, untouched
outside_headers() {
    local f=$1 name=$2 miss=""
    [ "$(header_value "$f" Subject)" = "e2e $name" ] || miss="$miss Subject"
    [ "$(header_value "$f" From)" = "Alice <alice@example.com>" ] || miss="$miss From"
    [ "$(header_value "$f" X-E2E-Id)" = "$name" ] || miss="$miss X-E2E-Id"
    [ -n "$(header_value "$f" To)" ] || miss="$miss To"
    [ -z "$miss" ] || { echo "changed or missing:$miss"; return 1; }
}

# one_delivery ID "RCPTS" : exactly one message with ID, delivered to exactly RCPTS (sorted,
# space separated); DELIVERED: its file when there is exactly one, else empty
one_delivery() {
    local id=$1 want=$2 files n got
    DELIVERED=""
    wait_delivered "$id" 30 || true
    sleep 0.5 # let any duplicate arrive
    files=$(delivered "$id")
    n=$(printf '%s' "$files" | grep -c . || true)
    if [ "$n" -ne 1 ]; then
        echo "$n deliveries; swaks said: $(tail -n 5 "$W/swaks-$id.out")"
        return 1
    fi
    DELIVERED=$files
    got=$(rcpts_of "$DELIVERED")
    [ "$got" = "$want" ] || { echo "envelope recipients: $got"; return 1; }
}

# ---------------------------------------------------------------------------------------------
# Corpus
C=$W/corpus
mkdir -p "$C"
crlf() { "$PYTHON3" -c 'import re,sys; d=sys.stdin.buffer.read(); sys.stdout.buffer.write(re.sub(rb"\r?\n", b"\r\n", d))'; }

hdr() { # ID TO
    printf 'From: Alice <alice@example.com>\nTo: %s\nSubject: e2e %s\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <%s.e2e@example.com>\nX-E2E-Id: %s\nMIME-Version: 1.0\n' \
        "$2" "$1" "$1" "$1"
}

# a. UTF-8 8-bit text, two recipients; lines that need dot-stuffing and "From " escaping
{
    hdr utf8 "Bob <bob@partner.example>, Carol <carol@partner.example>"
    printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
    printf 'Grüße aus Zürich, €100 — ça marche.\n.a line starting with a dot\n.\nFrom the start of a line\n'
    printf 'trailing spaces   \n\tand a tab\n\nLast line.\n'
} | crlf >"$C/utf8.eml"

# e. multipart/mixed with a text part and a base64 attachment (folded Content-Type)
{
    hdr mixed "Bob <bob@partner.example>"
    printf 'Content-Type: multipart/mixed;\n boundary="==e2e-mixed-boundary=="\n\n'
    printf 'This is a multi-part message in MIME format.\n\n--==e2e-mixed-boundary==\n'
    printf 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n'
    printf 'Please find the statement attached.\n\n--==e2e-mixed-boundary==\n'
    printf 'Content-Type: application/octet-stream; name="statement.bin"\n'
    printf 'Content-Disposition: attachment; filename="statement.bin"\nContent-Transfer-Encoding: base64\n\n'
    "$PYTHON3" -c 'import base64,sys; sys.stdout.write(base64.encodebytes(bytes(range(256))*24).decode())'
    printf '\n--==e2e-mixed-boundary==--\n'
} | crlf >"$C/mixed.eml"

# e. LF-only lines, sent as they are (swaks --no-data-fixup), already dot-stuffed; swaks ends
# the final dot line with CRLF itself
{
    hdr lfonly "Carol <carol@partner.example>"
    printf 'Content-Type: text/plain; charset=us-ascii\n\nThis message has bare LF line ends.\n'
    printf '..stuffed dot line\nEnd.\n.'
} >"$C/lfonly.eml"
# what the MUA meant (dot-unstuffed, no final dot): the source of the expected inner entity
{
    hdr lfonly "Carol <carol@partner.example>"
    printf 'Content-Type: text/plain; charset=us-ascii\n\nThis message has bare LF line ends.\n'
    printf '.stuffed dot line\nEnd.\n'
} >"$C/lfonly.meant"

# c. no certificate for dave
{
    hdr nocert "Dave <dave@nocert.example>"
    printf 'Content-Type: text/plain; charset=us-ascii\n\nDave has no certificate.\n'
} | crlf >"$C/nocert.eml"
{
    hdr partial "Bob <bob@partner.example>, Dave <dave@nocert.example>"
    printf 'Content-Type: text/plain; charset=us-ascii\n\nBob gets this, Dave is refused.\n'
} | crlf >"$C/partial.eml"

# Bcc: carol only in the envelope
{
    hdr bcc "Bob <bob@partner.example>"
    printf 'Content-Type: text/plain; charset=us-ascii\n\nCarol is a blind copy recipient.\n'
} | crlf >"$C/bcc.eml"

# mail from a client outside internal-hosts passes untouched
{
    hdr external "Bob <bob@partner.example>"
    printf 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n'
    printf 'Sent by a client outside the internal networks.\n'
} | crlf >"$C/external.eml"

# d. already S/MIME (an enveloped-data body made by openssl): passes untouched
printf 'already protected\r\n' >"$W/already.txt"
openssl cms -encrypt -aes256 -binary -outform DER -in "$W/already.txt" -out "$W/already.der" \
    "$W/pki/certs/bob@partner.example.crt"
{
    hdr already "Bob <bob@partner.example>"
    printf 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
    printf 'Content-Disposition: attachment; filename="smime.p7m"\nContent-Transfer-Encoding: base64\n\n'
    "$PYTHON3" -c 'import base64,sys; sys.stdout.write(base64.encodebytes(open(sys.argv[1],"rb").read()).decode())' "$W/already.der"
} | crlf >"$C/already.eml"

# ---------------------------------------------------------------------------------------------
# a + b: alice -> bob and carol, UTF-8 8-bit
echo "# a. UTF-8 text to bob and carol"
expected_inner "$C/utf8.eml" "$W/utf8.inner"
if send utf8 "$C/utf8.eml" "bob@partner.example,carol@partner.example"; then
    ok "utf8: accepted by Postfix for bob and carol"
else
    notok "utf8: accepted by Postfix for bob and carol" "$(tail -n 8 "$W/swaks-utf8.out")"
fi
check "utf8: delivered exactly once to bob@partner.example carol@partner.example" one_delivery utf8 "bob@partner.example carol@partner.example"
if [ -n "$DELIVERED" ]; then
    check "utf8: From, To, Subject and X- headers stay outside unchanged" outside_headers "$DELIVERED" utf8
    judge "utf8: OpenSSL, gpgsm and NSS cmsutil decrypt for bob@partner.example, verify alice's signature, content exact" \
        "$DELIVERED" bob@partner.example "$W/utf8.inner"
    judge "utf8: OpenSSL, gpgsm and NSS cmsutil decrypt for carol@partner.example, verify alice's signature, content exact" \
        "$DELIVERED" carol@partner.example "$W/utf8.inner"
    check "utf8: OpenDKIM's signature (made after the rewrite) verifies with python3-dkim" \
        dkim_verify "$DELIVERED" "$W/opendkim"
    cp "$DELIVERED" "$W/delivered-utf8.eml"
fi

# e: multipart/mixed with a base64 attachment
echo "# e. multipart/mixed with a base64 attachment"
expected_inner "$C/mixed.eml" "$W/mixed.inner"
if send mixed "$C/mixed.eml" bob@partner.example; then
    ok "mixed: accepted by Postfix"
else
    notok "mixed: accepted by Postfix" "$(tail -n 8 "$W/swaks-mixed.out")"
fi
check "mixed: delivered exactly once to bob@partner.example" one_delivery mixed "bob@partner.example"
if [ -n "$DELIVERED" ]; then
    check "mixed: From, To, Subject and X- headers stay outside unchanged" outside_headers "$DELIVERED" mixed
    judge "mixed: OpenSSL, gpgsm and NSS cmsutil decrypt for bob@partner.example, verify alice's signature, content exact" \
        "$DELIVERED" bob@partner.example "$W/mixed.inner"
    check "mixed: OpenDKIM's signature (made after the rewrite) verifies with python3-dkim" \
        dkim_verify "$DELIVERED" "$W/opendkim"
fi

# e: LF-only lines
echo "# e. LF-only line ends"
expected_inner "$C/lfonly.meant" "$W/lfonly.inner"
if send --wire lfonly "$C/lfonly.eml" carol@partner.example; then
    ok "lfonly: accepted by Postfix"
else
    notok "lfonly: accepted by Postfix" "$(tail -n 8 "$W/swaks-lfonly.out")"
fi
check "lfonly: delivered exactly once to carol@partner.example" one_delivery lfonly "carol@partner.example"
if [ -n "$DELIVERED" ]; then
    judge "lfonly: OpenSSL, gpgsm and NSS cmsutil decrypt for carol@partner.example, verify alice's signature, content exact" \
        "$DELIVERED" carol@partner.example "$W/lfonly.inner"
    check "lfonly: OpenDKIM's signature (made after the rewrite) verifies with python3-dkim" \
        dkim_verify "$DELIVERED" "$W/opendkim"
fi

# c: recipient without certificate
echo "# c. recipients without a certificate"
rc=0
send nocert "$C/nocert.eml" dave@nocert.example || rc=$?
if grep -qE '^<\*\* +550[ -]5\.7\.1' "$W/swaks-nocert.out" &&
        grep -B1 -E '^<\*\* +550[ -]5\.7\.1' "$W/swaks-nocert.out" | grep -qi 'RCPT TO:<dave@nocert.example>'; then
    ok "nocert: RCPT TO dave refused with 550 5.7.1 (swaks exit $rc)"
else
    notok "nocert: RCPT TO dave refused with 550 5.7.1 (swaks exit $rc)" "$(tail -n 12 "$W/swaks-nocert.out")"
fi
rc=0
send partial "$C/partial.eml" "bob@partner.example,dave@nocert.example" || rc=$?
if grep -B1 -E '^<\*\* +550[ -]5\.7\.1' "$W/swaks-partial.out" | grep -qi 'RCPT TO:<dave@nocert.example>' &&
        grep -qE '^<- +250 .*queued' "$W/swaks-partial.out"; then
    ok "partial: dave refused with 550 5.7.1 at RCPT, message queued for bob (swaks exit $rc)"
else
    notok "partial: dave refused with 550 5.7.1 at RCPT, message queued for bob (swaks exit $rc)" \
        "$(tail -n 14 "$W/swaks-partial.out")"
fi
check "partial: delivered exactly once to bob@partner.example" one_delivery partial "bob@partner.example"
if [ -n "$DELIVERED" ]; then
    expected_inner "$C/partial.eml" "$W/partial.inner"
    judge "partial: OpenSSL, gpgsm and NSS cmsutil decrypt for bob@partner.example, verify alice's signature, content exact" \
        "$DELIVERED" bob@partner.example "$W/partial.inner"
fi

# Bcc recipients are envelope recipients: encrypted for them too
echo "# Bcc recipient"
expected_inner "$C/bcc.eml" "$W/bcc.inner"
if send bcc "$C/bcc.eml" "bob@partner.example,carol@partner.example"; then
    ok "bcc: accepted by Postfix"
else
    notok "bcc: accepted by Postfix" "$(tail -n 8 "$W/swaks-bcc.out")"
fi
check "bcc: delivered exactly once to bob@partner.example carol@partner.example" one_delivery bcc "bob@partner.example carol@partner.example"
if [ -n "$DELIVERED" ]; then
    judge "bcc: OpenSSL, gpgsm and NSS cmsutil decrypt for carol@partner.example, verify alice's signature, content exact" \
        "$DELIVERED" carol@partner.example "$W/bcc.inner"
fi

# mail from outside internal-hosts passes untouched
echo "# client outside internal-hosts (XCLIENT ADDR=$HARNESS_EXTERNAL_ADDR)"
if send --external external "$C/external.eml" bob@partner.example; then
    ok "external: accepted by Postfix"
else
    notok "external: accepted by Postfix" "$(tail -n 8 "$W/swaks-external.out")"
fi
check "external: delivered exactly once to bob@partner.example" one_delivery external "bob@partner.example"
if [ -n "$DELIVERED" ]; then
    body_of "$C/external.eml" "$W/external.body.sent"
    body_of "$DELIVERED" "$W/external.body.got"
    check "external: body passes byte for byte unchanged" cmp "$W/external.body.sent" "$W/external.body.got"
    if [ "$(header_value "$DELIVERED" Content-Type)" = "text/plain; charset=us-ascii" ]; then
        ok "external: Content-Type unchanged"
    else
        notok "external: Content-Type unchanged" "$(header_value "$DELIVERED" Content-Type)"
    fi
fi

# d: already S/MIME passes unchanged
echo "# d. already S/MIME"
if send already "$C/already.eml" bob@partner.example; then
    ok "already: accepted by Postfix"
else
    notok "already: accepted by Postfix" "$(tail -n 8 "$W/swaks-already.out")"
fi
check "already: delivered exactly once to bob@partner.example" one_delivery already "bob@partner.example"
if [ -n "$DELIVERED" ]; then
    body_of "$C/already.eml" "$W/already.body.sent"
    body_of "$DELIVERED" "$W/already.body.got"
    check "already: body passes byte for byte unchanged" cmp "$W/already.body.sent" "$W/already.body.got"
    ct=$(header_value "$DELIVERED" Content-Type)
    if [ "$ct" = 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"' ] &&
            [ "$(header_value "$DELIVERED" Content-Type | wc -l)" -eq 1 ]; then
        ok "already: Content-Type unchanged"
    else
        notok "already: Content-Type unchanged" "$(header_value "$DELIVERED" Content-Type)"
    fi
fi

# after all sends: nothing at all was delivered to dave, nothing left in the queue
if grep -l 'dave@nocert.example' "$SINK"/msg-*.rcpt >/dev/null 2>&1; then
    notok "nothing was delivered to dave" "$(grep -l 'dave@nocert.example' "$SINK"/msg-*.rcpt)"
else
    ok "nothing was delivered to dave"
fi
check "no nocert message reached the sink" test -z "$(delivered nocert)"
queued=$(find "$W/postfix/spool/incoming" "$W/postfix/spool/active" "$W/postfix/spool/deferred" \
    "$W/postfix/spool/hold" -type f 2>/dev/null | wc -l)
check "Postfix queue is empty (nothing deferred or held)" test "$queued" -eq 0

# the components stop cleanly
if out=$(postfix_stop "$W/postfix" 2>&1); then
    ok "private Postfix stopped, no process left behind"
    harness_forget postfix_stop "$W/postfix"
else
    notok "private Postfix stopped, no process left behind" "$out"
fi
check "system Postfix configuration untouched" test "$(md5sum /etc/postfix/main.cf 2>/dev/null || echo none)" = "$sys_maincf_sum"
if grep -qE '(panic|fatal):' "$W/postfix/maillog"; then
    notok "no fatal or panic in the Postfix log" "$(grep -E '(panic|fatal):' "$W/postfix/maillog" | head -5)"
else
    ok "no fatal or panic in the Postfix log"
fi

finish
