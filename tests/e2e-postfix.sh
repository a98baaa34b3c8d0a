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
# shellcheck source=tests/lib/harness.sh
. "$TESTS/lib/harness.sh"
harness_trap

harness_need swaks openssl opendkim opendkim-genkey postconf cmp md5sum
if [ "$(id -u)" -ne 0 ]; then
    echo "e2e: run as root (a private Postfix instance is started)" >&2
    exit 1
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/smime-e2e.XXXXXX")
chmod 0755 "$W"
if [ "${E2E_KEEP:-0}" = 1 ]; then
    harness_on_exit echo "e2e: work directory kept: $W"
else
    harness_on_exit rm -rf "$W"
fi

PASSED=0
FAILED=0
N=0
ok() { N=$((N + 1)); PASSED=$((PASSED + 1)); echo "ok $N - $1"; }
notok() {
    N=$((N + 1))
    FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/#   /'; fi
}
# check DESCRIPTION CMD... : runs CMD, ok when it succeeds; its output is shown on failure
check() {
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$desc"; else notok "$desc" "$out"; fi
}

dump_logs() {
    echo "# ---- Postfix maillog ($W/postfix/maillog)"
    sed 's/^/# /' "$W/postfix/maillog" 2>/dev/null | tail -n 80 || true
    echo "# ---- smime-milter log"
    sed 's/^/# /' "$W/milter.log" 2>/dev/null | tail -n 80 || true
    echo "# ---- OpenDKIM log"
    sed 's/^/# /' "$W/opendkim/opendkim.log" 2>/dev/null | tail -n 20 || true
}

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

# a setup failure is reported like any other failed check, with the logs
setup_failed() {
    notok "setup: $1"
    echo "$PASSED passed, $FAILED failed"
    dump_logs
    exit 1
}
check "judges reject changed content, a bad signature, a wrong signer (judges.sh --self-test)" \
    "$TESTS/judges.sh" --self-test "$W/judges-self-test"
MILTER_BIN=${SMIME_MILTER:-$HARNESS_ROOT/milter/smime-milter}
[ -x "$MILTER_BIN" ] || setup_failed "no smime-milter binary at $MILTER_BIN (build first or set SMIME_MILTER)"
check "smime-milter -n accepts the test configuration" "$MILTER_BIN" -n -c "$W/smime-milter.conf"
sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
opendkim_start "$W/opendkim" "$DKIM_PORT" example.com e2e >/dev/null || setup_failed "OpenDKIM did not start"
milter_start "$W/smime-milter.conf" "$W/milter.log" || setup_failed "smime-milter did not start"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" \
    "inet:127.0.0.1:$MILTER_PORT, inet:127.0.0.1:$DKIM_PORT" || setup_failed "private Postfix did not start"
echo "# postfix 127.0.0.1:$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT, opendkim :$DKIM_PORT"

# ---------------------------------------------------------------------------------------------
# Helpers

# send ID MESSAGE TO [wire] : inject MESSAGE from alice to TO (comma separated); swaks output in
# $W/swaks-ID.out. swaks would append an empty line to a message that ends in CRLF, so the DATA
# is prepared here (dot-stuffed, final dot without its CRLF, which swaks --no-data-fixup always
# appends); with "wire", MESSAGE is already in that form and is sent as it is.
send() {
    local id=$1 data=$2 to=$3 mode=${4:-} rc=0 extra=()
    if [ "$mode" = external ]; then
        extra=(--xclient-addr "$HARNESS_EXTERNAL_ADDR")
        mode=""
    fi
    if [ "$mode" != wire ]; then
        "$PYTHON3" -c 'import re, sys
d = open(sys.argv[1], "rb").read()
if not d.endswith(b"\r\n"):
    d += b"\r\n"
d = re.sub(rb"(?m)^\.", b"..", d)
open(sys.argv[2], "wb").write(d + b".")' "$data" "$W/wire-$id"
        data=$W/wire-$id
    fi
    swaks --server "127.0.0.1:$SMTPD_PORT" --from alice@example.com --to "$to" \
        --data "@$data" --no-data-fixup --timeout 60 ${extra[@]+"${extra[@]}"} >"$W/swaks-$id.out" 2>&1 || rc=$?
    return $rc
}

# delivered ID : the sink files carrying "X-E2E-Id: ID" in their header
delivered() {
    local f
    for f in "$SINK"/msg-*.eml; do
        [ -e "$f" ] || continue
        if "$PYTHON3" -c 'import sys
h = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[0]
sys.exit(0 if (b"\r\nX-E2E-Id: " + sys.argv[2].encode() + b"\r\n") in b"\r\n" + h + b"\r\n" else 1)' \
                "$f" "$1"; then
            echo "$f"
        fi
    done
}

# wait_delivered ID [SECONDS] : wait until a message with ID is in the sink
wait_delivered() {
    local i
    for ((i = 0; i < ${2:-30} * 10; i++)); do
        [ -n "$(delivered "$1")" ] && return 0
        sleep 0.1
    done
    return 1
}

# expected_inner DATAFILE OUT : the injected message's Content-* header lines (as written,
# folded lines included) + CRLF + body, all with CRLF line ends
expected_inner() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
data = re.sub(rb"\r?\n", b"\r\n", data)
head, body = data.split(b"\r\n\r\n", 1)
lines, keep = head.split(b"\r\n"), []
take = False
for l in lines:
    if l[:1] in (b" ", b"\t"):
        if take:
            keep.append(l)
        continue
    take = l.split(b":", 1)[0].strip().lower().startswith(b"content-")
    if take:
        keep.append(l)
open(sys.argv[2], "wb").write(b"".join(k + b"\r\n" for k in keep) + b"\r\n" + body)
PY
}

# body_of FILE OUT : bytes after the first CRLF CRLF (LF LF for LF-only files)
body_of() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"\r\n\r\n")
b = d[i + 4:] if i >= 0 else d[d.find(b"\n\n") + 2:]
open(sys.argv[2], "wb").write(b)
PY
}

# header_value FILE NAME : unfolded values of a header field, one a line
header_value() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import re, sys
h = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
h = re.sub(rb"\n[ \t]+", b" ", h)
for l in h.split(b"\n"):
    k, s, v = l.partition(b":")
    if s and k.strip().lower() == sys.argv[2].lower().encode():
        print(v.strip().decode("utf-8", "replace"))
PY
}

rcpts_of() { sort "${1%.eml}.rcpt" | tr '\n' ' ' | sed 's/ $//'; }

judge() { # FILE RCPT EXPECTED NAME
    local out
    if out=$("$TESTS/judges.sh" "$1" "$2" "$W/pki" "$3" "$W/judges-$4-$2" 2>&1); then
        ok "$4: OpenSSL, gpgsm and NSS cmsutil decrypt for $2, verify alice's signature, content exact"
    else
        notok "$4: OpenSSL, gpgsm and NSS cmsutil decrypt for $2, verify alice's signature, content exact" "$out"
    fi
}

dkim_check() { # FILE NAME
    local out
    if out=$(dkim_verify "$1" "$W/opendkim" 2>&1); then
        ok "$2: OpenDKIM's signature (made after the rewrite) verifies with python3-dkim"
    else
        notok "$2: OpenDKIM's signature (made after the rewrite) verifies with python3-dkim" "$out"
    fi
}

outside_headers_check() { # FILE NAME : non-Content headers stay outside, untouched
    local f=$1 name=$2 miss=""
    [ "$(header_value "$f" Subject)" = "e2e $name" ] || miss="$miss Subject"
    [ "$(header_value "$f" From)" = "Alice <alice@example.com>" ] || miss="$miss From"
    [ "$(header_value "$f" X-E2E-Id)" = "$name" ] || miss="$miss X-E2E-Id"
    [ -n "$(header_value "$f" To)" ] || miss="$miss To"
    if [ -z "$miss" ]; then
        ok "$name: From, To, Subject and X- headers stay outside unchanged"
    else
        notok "$name: From, To, Subject and X- headers stay outside unchanged" "changed or missing:$miss"
    fi
}

# one_delivery ID "RCPTS" : exactly one message with ID, delivered to exactly RCPTS (sorted,
# space separated); sets DELIVERED to its file
one_delivery() {
    local id=$1 want=$2 files n got
    wait_delivered "$id" 30 || true
    sleep 0.5 # let any duplicate arrive
    files=$(delivered "$id")
    n=$(printf '%s' "$files" | grep -c . || true)
    DELIVERED=$(printf '%s\n' "$files" | head -n 1)
    if [ "$n" -ne 1 ]; then
        notok "$id: delivered exactly once to $want" "$n deliveries; swaks said: $(tail -n 5 "$W/swaks-$id.out")"
        return 1
    fi
    got=$(rcpts_of "$DELIVERED")
    if [ "$got" = "$want" ]; then
        ok "$id: delivered exactly once to $want"
    else
        notok "$id: delivered exactly once to $want" "envelope recipients: $got"
    fi
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
if one_delivery utf8 "bob@partner.example carol@partner.example"; then
    outside_headers_check "$DELIVERED" utf8
    judge "$DELIVERED" bob@partner.example "$W/utf8.inner" utf8
    judge "$DELIVERED" carol@partner.example "$W/utf8.inner" utf8
    dkim_check "$DELIVERED" utf8
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
if one_delivery mixed "bob@partner.example"; then
    outside_headers_check "$DELIVERED" mixed
    judge "$DELIVERED" bob@partner.example "$W/mixed.inner" mixed
    dkim_check "$DELIVERED" mixed
fi

# e: LF-only lines
echo "# e. LF-only line ends"
expected_inner "$C/lfonly.meant" "$W/lfonly.inner"
if send lfonly "$C/lfonly.eml" carol@partner.example wire; then
    ok "lfonly: accepted by Postfix"
else
    notok "lfonly: accepted by Postfix" "$(tail -n 8 "$W/swaks-lfonly.out")"
fi
if one_delivery lfonly "carol@partner.example"; then
    judge "$DELIVERED" carol@partner.example "$W/lfonly.inner" lfonly
    dkim_check "$DELIVERED" lfonly
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
if one_delivery partial "bob@partner.example"; then
    expected_inner "$C/partial.eml" "$W/partial.inner"
    judge "$DELIVERED" bob@partner.example "$W/partial.inner" partial
fi

# Bcc recipients are envelope recipients: encrypted for them too
echo "# Bcc recipient"
expected_inner "$C/bcc.eml" "$W/bcc.inner"
if send bcc "$C/bcc.eml" "bob@partner.example,carol@partner.example"; then
    ok "bcc: accepted by Postfix"
else
    notok "bcc: accepted by Postfix" "$(tail -n 8 "$W/swaks-bcc.out")"
fi
if one_delivery bcc "bob@partner.example carol@partner.example"; then
    judge "$DELIVERED" carol@partner.example "$W/bcc.inner" bcc
fi

# mail from outside internal-hosts passes untouched
echo "# client outside internal-hosts (XCLIENT ADDR=$HARNESS_EXTERNAL_ADDR)"
if send external "$C/external.eml" bob@partner.example external; then
    ok "external: accepted by Postfix"
else
    notok "external: accepted by Postfix" "$(tail -n 8 "$W/swaks-external.out")"
fi
if one_delivery external "bob@partner.example"; then
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
if one_delivery already "bob@partner.example"; then
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

echo "$PASSED passed, $FAILED failed"
if [ "$FAILED" -gt 0 ]; then
    dump_logs
    exit 1
fi
exit 0
