#!/bin/bash
# smime-tool end to end: sign + encrypt .eml files with the core library, inject them into a real
# SMTP server on loopback (aiosmtpd with STARTTLS and AUTH, and one without either) and into an
# HTTPS endpoint shaped like SparkPost's transmissions API; judge what arrived with OpenSSL,
# gpgsm and NSS cmsutil (tests/judges.sh) for To, Cc and Bcc recipients; check refusals, missing
# configuration, missing keys and certificates, and that the password and API key never appear
# in any output.
#
# Usage: tests/smime-tool.sh        (after building; tests/deps.sh installs what it needs)
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed".
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$HERE/lib/tap.sh"
TOOL=$TOOL_BIN
harness_need openssl gpgsm cmsutil cmp py:aiosmtpd
harness_built "$TOOL"
harness_workdir smime-tool-test
# what "send --sign --encrypt" writes: opaque signed-data inside the enveloped-data
export JUDGE_MODE=enveloped-opaque

# the diagnostics of a failed check: the last run of the tool
last_run() { [ -n "${LAST:-}" ] && { echo "rc=$(cat "$LAST.rc")"; cat "$LAST.out" "$LAST.err"; } | head -n 20; }
TAP_DIAG=last_run
TAP_DIAG_LINES=20

# -V / --version: one line, the versions of smime-tool and of the OpenSSL it runs with; exit 0.
# -h / --help: the usage on stdout, nothing on stderr; exit 0.
for opt in -V --version; do
    rc=0; out=$("$TOOL" "$opt" 2>"$W/v.err") || rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$W/v.err" ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
        [[ $out =~ ^smime-tool\ [0-9]+\.[0-9]+\.[0-9]+\ \(OpenSSL\ 3\.[0-9]+\.[0-9]+[^\)]*\)$ ]]; then
        ok "smime-tool $opt prints one version line and exits 0"
    else
        notok "smime-tool $opt prints one version line and exits 0" "rc=$rc"$'\n'"$out"$'\n'"$(cat "$W/v.err")"
    fi
done
for opt in -h --help; do
    rc=0; out=$("$TOOL" "$opt" 2>"$W/h.err") || rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$W/h.err" ] && [[ $out == "usage: smime-tool send FILE.eml "* ]] &&
        [[ $out == *"smime-tool -V | --version"* ]]; then
        ok "smime-tool $opt prints the usage on stdout and exits 0"
    else
        notok "smime-tool $opt prints the usage on stdout and exits 0" "rc=$rc"$'\n'"$out"$'\n'"$(cat "$W/h.err")"
    fi
done

# run NAME [VAR=VALUE...] -- ARGS... : run the tool in $W/cwd with a clean SMTP/API environment;
# keeps NAME.out, NAME.err, NAME.rc and appends everything to all-output.log
run() {
    local name=$1 rc=0 envs=()
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    LAST=$W/run-$name
    (cd "$W/cwd" && env -u SMTP_HOST -u SMTP_PORT -u SMTP_USER -u SMTP_PASSWORD -u SMTP_TLS \
        -u SMTP_CA_FILE -u SPARKPOST_HOST -u SPARKPOST_API_KEY -u SPARKPOST_CA_FILE \
        "${envs[@]}" "$TOOL" "$@") >"$LAST.out" 2>"$LAST.err" || rc=$?
    echo "$rc" >"$LAST.rc"
    cat "$LAST.out" "$LAST.err" >>"$W/all-output.log"
    return 0
}
rc_is() { [ "$(cat "$LAST.rc")" = "$1" ]; }
rc_fail() { local r; r=$(cat "$LAST.rc"); [ "$r" != 0 ] && [ "$r" -lt 128 ]; }
out_has() { grep -qF -- "$1" "$LAST.out"; }
err_has() { grep -qF -- "$1" "$LAST.err"; }
err_line() { grep -qxF -- "$1" "$LAST.err"; }
count() { find "$1" -name '*.eml' | wc -l; }

# meta FILE.json EXPR : a value from a saved envelope, e.g. meta 1.json 'sorted(d["rcpt_tos"])'
meta() { "$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# without_bcc MESSAGE OUT : the message as recipients must get it back: CRLF, no Bcc field
without_bcc() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import re, sys
data = re.sub(rb"\r?\n", b"\r\n", open(sys.argv[1], "rb").read())
head, body = data.split(b"\r\n\r\n", 1)
out, skip = [], False
for l in head.split(b"\r\n"):
    if l[:1] in (b" ", b"\t"):
        if not skip:
            out.append(l)
        continue
    skip = l.split(b":", 1)[0].strip().lower() == b"bcc"
    if not skip:
        out.append(l)
open(sys.argv[2], "wb").write(b"".join(k + b"\r\n" for k in out) + b"\r\n" + body)
PY
}

has_header() { # FILE NAME : the header block has a field NAME
    "$PYTHON3" -c 'import sys
h = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[0]
sys.exit(0 if any(l.split(b":", 1)[0].strip().lower() == sys.argv[2].lower().encode()
                  for l in h.split(b"\r\n") if l[:1] not in (b" ", b"\t")) else 1)' "$1" "$2"
}

# ---------------------------------------------------------------------------------------------
# Test PKI (S/MIME), server TLS certificates, messages, the current directory of the original tool

"$HERE/gen-certs.sh" "$W/pki" >/dev/null
mkdir -p "$W/cwd" "$W/emptykeys" "$W/tls" "$W/smtp-tls" "$W/smtp-plain" "$W/api"
cp "$W/pki/keys/alice@example.com.pem" "$W/cwd/"
chmod 600 "$W/cwd/alice@example.com.pem"
cp "$W/pki/certs/"*.crt "$W/cwd/"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=smime-tool test server CA" \
    -keyout "$W/tls/ca.key" -out "$W/tls/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$W/tls/server.key" \
    -out "$W/tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$W/tls/ext"
openssl x509 -req -in "$W/tls/server.csr" -CA "$W/tls/ca.crt" -CAkey "$W/tls/ca.key" \
    -set_serial 7 -days 2 -extfile "$W/tls/ext" -out "$W/tls/server.crt" 2>/dev/null

# To + Cc + Bcc, a UTF-8 8-bit part and a Latin-1 8-bit part, a line with a single dot
printf '%s\n' 'From: Alice <alice@example.com>' 'To: "Partner, Bob" <bob@partner.example>' \
    'Cc: Carol (partner) <carol@partner.example>' 'Bcc: alice@example.com' \
    'Subject: quarterly figures' 'Date: Mon, 23 Nov 2026 10:00:00 +0000' \
    'Message-ID: <tool-1@example.com>' 'MIME-Version: 1.0' \
    'Content-Type: multipart/mixed; boundary="b1"' '' '--b1' \
    'Content-Type: text/plain; charset=utf-8' 'Content-Transfer-Encoding: 8bit' '' \
    'Grüße, Bob — ünïcödé' '.' '--b1' 'Content-Type: text/plain; charset=iso-8859-1' \
    'Content-Transfer-Encoding: 8bit' '' >"$W/cwd/msg1.eml"
printf 'caf\xe9 cr\xe8me\n--b1--\n' >>"$W/cwd/msg1.eml"
# several To addresses (the original tool failed on them) and a Bcc who is not the sender
printf '%s\r\n' 'From: alice@example.com' \
    'To: bob@partner.example, "Carol" <carol@partner.example>' 'Bcc: carol@partner.example' \
    'Subject: two To addresses' 'Content-Type: text/plain; charset=us-ascii' '' 'hello' \
    >"$W/cwd/msg2.eml"
printf '%s\n' 'From: alice@example.com' 'To: bob@partner.example, erin@blocked.example' \
    'Subject: relay' '' 'hello' >"$W/cwd/msg3.eml"
printf '%s\n' 'From: alice@example.com' 'To: bob@partner.example' 'Cc: dave@nocert.example' \
    'Subject: no cert' '' 'hello' >"$W/cwd/nocert.eml"
printf '%s\n' 'To: bob@partner.example' 'Subject: no from' '' 'hello' >"$W/cwd/nofrom.eml"
printf '%s\n' 'this is not a header' 'nor this' >"$W/cwd/broken.eml"
expected_inner "$W/cwd/msg1.eml" "$W/msg1.inner"
expected_inner "$W/cwd/msg2.eml" "$W/msg2.inner"
without_bcc "$W/cwd/msg1.eml" "$W/msg1.nobcc"

PW='Tr0ub4dor&3 horse'
STARS=$(printf '%*s' "${#PW}" '' | tr ' ' '*')
API_KEY="sp-key-$(openssl rand -hex 12)"

# start_server NAME SCRIPT ARGS... : start a test server on a free port; sets PORT
start_server() {
    local name=$1 script=$2 pid
    shift 2
    PORT=$(free_port) || return 1
    "$PYTHON3" "$HERE/tool/$script" --port "$PORT" "$@" >"$W/$name.log" 2>&1 &
    pid=$!
    harness_on_exit stop_pid "$pid" "$name"
    wait_for_port "$PORT" 20 "$pid" || { cat "$W/$name.log" >&2; return 1; }
}

SMTPD_PASSWORD=$PW start_server smtp-tls smtpd.py --outdir "$W/smtp-tls" --tls-cert "$W/tls/server.crt" \
    --tls-key "$W/tls/server.key" --user alice --auth-required --deny erin@blocked.example ||
    setup_failed "SMTP test server does not start"
P_TLS=$PORT
start_server smtp-plain smtpd.py --outdir "$W/smtp-plain" ||
    setup_failed "plain SMTP test server does not start"
P_PLAIN=$PORT
APID_KEY=$API_KEY start_server api apid.py --outdir "$W/api" --tls-cert "$W/tls/server.crt" \
    --tls-key "$W/tls/server.key" --reject erin@blocked.example ||
    setup_failed "API test server does not start"
P_API=$PORT

SMTP_OK=(SMTP_HOST=127.0.0.1 "SMTP_PORT=$P_TLS" SMTP_USER=alice "SMTP_PASSWORD=$PW"
    "SMTP_CA_FILE=$W/tls/ca.crt")

# ---------------------------------------------------------------------------------------------
echo "# SMTP with STARTTLS and AUTH"
run tls "${SMTP_OK[@]}" -- send msg1.eml --sign --encrypt --send-smtp --out "$W/sent1.eml"
check "send --sign --encrypt --send-smtp succeeds over STARTTLS + AUTH" rc_is 0
check "banner: STARTTLS, host, port, user, password masked one * per character" \
    grep -qxF "Opened SMTP connection (STARTTLS) to 127.0.0.1, port $P_TLS, user=\"alice\", password=\"$STARS\"" "$LAST.out"
check "prints the Sending line with From: and To:" \
    grep -qxF 'Sending msg1.eml From: Alice <alice@example.com> To: "Partner, Bob" <bob@partner.example>' "$LAST.out"
check "prints the measured OK - in N seconds line" grep -qxE 'OK - in [0-9]+\.[0-9]{3} seconds' "$LAST.out"
D=$W/smtp-tls/1
check "the server received exactly the bytes smime-tool wrote (--out)" cmp -s "$D.eml" "$W/sent1.eml"
check "envelope: from alice, to the To, Cc and Bcc recipients" test \
    "$(meta "$D.json" 'd["mail_from"] + " " + " ".join(sorted(d["rcpt_tos"]))')" = \
    "alice@example.com alice@example.com bob@partner.example carol@partner.example"
check "the session used TLS and authenticated as alice" test \
    "$(meta "$D.json" '"%s %s" % (d["tls"], d["auth"])')" = "True alice"
check "Bcc is not in the delivered headers; To and Cc are" \
    eval "! has_header '$D.eml' Bcc && has_header '$D.eml' To && has_header '$D.eml' Cc"
judge "smtp To: OpenSSL, gpgsm and NSS cmsutil decrypt for bob@partner.example, verify alice's signature, content exact" \
    "$D.eml" bob@partner.example "$W/msg1.inner"
judge "smtp Cc: OpenSSL, gpgsm and NSS cmsutil decrypt for carol@partner.example, verify alice's signature, content exact" \
    "$D.eml" carol@partner.example "$W/msg1.inner"
judge "smtp Bcc: OpenSSL, gpgsm and NSS cmsutil decrypt for alice@example.com, verify alice's signature, content exact" \
    "$D.eml" alice@example.com "$W/msg1.inner"
run decrypt -- decrypt "$D.eml" --key "$W/pki/private/carol@partner.example.key" \
    --ca-file "$W/pki/ca/root.crt" --out "$W/decrypted1.eml"
check "smime-tool decrypt gives back the original message (minus Bcc) byte for byte" \
    eval "rc_is 0 && cmp -s '$W/decrypted1.eml' '$W/msg1.nobcc'"

run orig "${SMTP_OK[@]}" -- msg2.eml --sign --encrypt --send_smtp
check "original form 'smime-tool FILE --sign --encrypt --send_smtp' from the key directory" rc_is 0
D=$W/smtp-tls/2
check "several To addresses and a Bcc: all are envelope recipients" test \
    "$(meta "$D.json" '" ".join(sorted(d["rcpt_tos"]))')" = "bob@partner.example carol@partner.example"
judge "smtp several-To + Bcc: OpenSSL, gpgsm and NSS cmsutil decrypt for carol@partner.example, verify alice's signature, content exact" \
    "$D.eml" carol@partner.example "$W/msg2.inner"

before=$(count "$W/smtp-tls")
run badpw SMTP_HOST=127.0.0.1 "SMTP_PORT=$P_TLS" SMTP_USER=alice "SMTP_PASSWORD=wrong-$PW" \
    "SMTP_CA_FILE=$W/tls/ca.crt" -- send msg1.eml --sign --encrypt --send-smtp
check "wrong password: exit non-zero with the server's 535 reply and the user" \
    eval "rc_fail && err_has '535 ' && err_has 'AUTH as user \"alice\" refused'"
run noauth SMTP_HOST=127.0.0.1 "SMTP_PORT=$P_TLS" "SMTP_CA_FILE=$W/tls/ca.crt" -- \
    send msg1.eml --sign --encrypt --send-smtp
check "no credentials where AUTH is required: 530 5.7.1 Authorization required" \
    eval "rc_fail && err_has '530 5.7.1 Authorization required'"
run relay "${SMTP_OK[@]}" -- send msg3.eml --sign --send-smtp
check "relaying denied: 550 5.7.1 and the recipient concerned" \
    eval "rc_fail && err_line '550 5.7.1 relaying denied - recipient <erin@blocked.example> refused'"
run untrusted SMTP_HOST=127.0.0.1 "SMTP_PORT=$P_TLS" SMTP_USER=alice "SMTP_PASSWORD=$PW" -- \
    send msg1.eml --sign --encrypt --send-smtp
check "server certificate not trusted without SMTP_CA_FILE: refused" \
    eval "rc_fail && grep -qi certificate '$LAST.err'"
check "nothing was delivered by the refused attempts" test "$(count "$W/smtp-tls")" = "$before"

echo "# SMTP without STARTTLS"
run plain SMTP_HOST=127.0.0.1 "SMTP_PORT=$P_PLAIN" -- send msg1.eml --sign --encrypt --send-smtp
check "plain server, no credentials: sent" rc_is 0
check "banner says plain, empty user and password" \
    grep -qxF "Opened SMTP connection (plain) to 127.0.0.1, port $P_PLAIN, user=\"\", password=\"\"" "$LAST.out"
D=$W/smtp-plain/1
check "plain session delivered, without TLS" test "$(meta "$D.json" 'd["tls"]')" = False
judge "smtp plain: OpenSSL, gpgsm and NSS cmsutil decrypt for bob@partner.example, verify alice's signature, content exact" \
    "$D.eml" bob@partner.example "$W/msg1.inner"
run plaincreds SMTP_HOST=127.0.0.1 "SMTP_PORT=$P_PLAIN" SMTP_USER=alice "SMTP_PASSWORD=$PW" -- \
    send msg1.eml --sign --encrypt --send-smtp
check "credentials but no STARTTLS offered: refused, nothing sent" \
    eval "rc_fail && err_has 'does not offer STARTTLS' && test \$(count '$W/smtp-plain') = 1"

echo "# configuration, keys and certificates"
run nohost -- send msg1.eml --sign --encrypt --send-smtp
check "SMTP_HOST unset: 'Environment var SMTP_HOST not set - stopping', exit non-zero" \
    eval "rc_fail && err_line 'Environment var SMTP_HOST not set - stopping'"
run nocert "${SMTP_OK[@]}" -- send nocert.eml --sign --encrypt --send-smtp
check "missing recipient certificate: the message names dave@nocert.example.crt" \
    eval "rc_fail && err_line 'Recipient public cert file dave@nocert.example.crt not found in current directory - stopping'"
run nokey -- send msg1.eml --sign --encrypt --key-dir "$W/emptykeys"
check "missing sender key: the message names alice@example.com.pem and the directory" \
    eval "rc_fail && err_line 'Sender private key file alice@example.com.pem not found in directory $W/emptykeys - stopping'"
run nofrom -- send nofrom.eml --sign --encrypt
check "no From: with --sign: clear message, no crash" eval "rc_fail && err_has 'no usable From:'"
run broken -- send broken.eml --sign --encrypt
check "broken header block: clear message naming the file, no crash" \
    eval "rc_fail && err_has 'broken.eml: not an RFC 5322 message'"

# Recipients are chosen through the milter's certificate index: by subjectAltName under any file
# name, validated before use (an expired certificate is not used), chained with --ca-file.
# shellcheck source=lib/pki.sh
. "$HERE/lib/pki.sh"
pki_ca_setup "$W/pki" "$W"
mkdir -p "$W/certs-san" "$W/certs-expired" "$W/certs-self"
cp "$W/pki/certs/bob@partner.example.crt" "$W/certs-san/partner-bob.pem"
pki_issue bob@partner.example "$W/bob-expired" "$(pki_when '-30 days')" "$(pki_when '-1 day')"
cp "$W/bob-expired.crt" "$W/certs-expired/bob@partner.example.crt"
pki_self_signed bob@partner.example "$W/bob-self"
cp "$W/bob-self.crt" "$W/certs-self/bob@partner.example.crt"
printf '%s\n' 'From: alice@example.com' 'To: bob@partner.example' 'Subject: to bob' '' 'hello' \
    >"$W/cwd/tobob.eml"
BOB_KEY=("-recip" "$W/pki/private/bob@partner.example.crt" "-inkey" "$W/pki/private/bob@partner.example.key")
run bysan -- send tobob.eml --encrypt --cert-dir "$W/certs-san"
check "a recipient certificate found by its subjectAltName in partner-bob.pem: bob decrypts it" \
    eval "rc_is 0 && openssl cms -decrypt ${BOB_KEY[*]} -in '$LAST.out' -out /dev/null"
run expiredcert -- send tobob.eml --encrypt --cert-dir "$W/certs-expired"
check "an expired recipient certificate is not used: the message names the address, the directory and why" \
    eval "rc_fail && err_line 'Recipient cert for bob@partner.example in directory $W/certs-expired cannot be used: certificate for bob@partner.example has expired - stopping'"
run selfnoca -- send tobob.eml --encrypt --cert-dir "$W/certs-self"
check "a self-signed recipient certificate without --ca-file: used (no chain check)" rc_is 0
run selfca -- send tobob.eml --encrypt --cert-dir "$W/certs-self" --ca-file "$W/pki/ca/chain.pem"
check "with --ca-file it must chain: refused, naming the address and the reason" \
    eval "rc_fail && err_has 'Recipient cert for bob@partner.example in directory $W/certs-self cannot be used: certificate for bob@partner.example is not trusted'"
run goodca -- send tobob.eml --encrypt --cert-dir "$W/certs-san" --ca-file "$W/pki/ca/chain.pem"
check "with --ca-file a certificate of the test CA is used" rc_is 0
run nocertdir -- send tobob.eml --encrypt --cert-dir "$W/no-such-dir"
check "an unreadable --cert-dir: a message naming it" \
    eval "rc_fail && err_line 'certificate directory $W/no-such-dir: No such file or directory - stopping'"

echo "# stdout, sign-only, verify and decrypt"
run stdout -- send msg1.eml --sign --encrypt
cp "$LAST.out" "$W/stdout1.eml"
judge "stdout: OpenSSL, gpgsm and NSS cmsutil decrypt for bob@partner.example, verify alice's signature, content exact" \
    "$W/stdout1.eml" bob@partner.example "$W/msg1.inner"
run signonly -- send msg1.eml --sign_detached
cp "$LAST.out" "$W/signed1.eml"
check "--sign_detached: multipart/signed with micalg=sha-256 and a real boundary" \
    eval "rc_is 0 && grep -q 'micalg=sha-256' '$W/signed1.eml' && grep -q 'boundary=\"----=_smime_' '$W/signed1.eml' && ! grep -q 'boundary=\"\\?None' '$W/signed1.eml'"
run verify -- verify "$W/signed1.eml" --ca-file "$W/pki/ca/root.crt"
check "smime-tool verify: good signature by alice, exit 0" \
    eval "rc_is 0 && err_has 'Verification successful: signed by alice@example.com'"
check "openssl cms -verify accepts the sign-only message" \
    openssl cms -verify -in "$W/signed1.eml" -CAfile "$W/pki/ca/root.crt" -out /dev/null
"$PYTHON3" -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); i=d.find(b"Gr"); d[i]^=1; open(sys.argv[2],"wb").write(d)' \
    "$W/signed1.eml" "$W/tampered1.eml"
run tampered -- verify "$W/tampered1.eml" --ca-file "$W/pki/ca/root.crt"
check "smime-tool verify: a changed byte fails with exit 1" eval "rc_is 1 && err_has 'Verification FAILED'"
run verifyenc -- verify "$W/sent1.eml"
check "smime-tool verify on an encrypted message: exit 4, points to decrypt" \
    eval "rc_is 4 && err_has 'decrypt --key'"
run wrongkey -- decrypt "$W/smtp-tls/2.eml" --key "$W/pki/private/alice@example.com.key"
check "smime-tool decrypt with a key it was not encrypted to (msg2 went to bob and carol): exit 3, nothing written" \
    eval "rc_is 3 && test ! -s '$LAST.out'"

# ---------------------------------------------------------------------------------------------
echo "# SparkPost-style API over HTTPS"
API_OK=("SPARKPOST_HOST=https://127.0.0.1:$P_API/" "SPARKPOST_API_KEY=$API_KEY"
    "SPARKPOST_CA_FILE=$W/tls/ca.crt")
run api "${API_OK[@]}" -- send msg1.eml --sign --encrypt --send_api --out "$W/apisent1.eml"
check "send --send-api succeeds" rc_is 0
check "prints Opened connection, Sending and OK - in N seconds" \
    eval "out_has 'Opened connection to https://127.0.0.1:$P_API' && out_has 'Sending msg1.eml From: Alice' && grep -qxE 'OK - in [0-9]+\\.[0-9]{3} seconds' '$LAST.out'"
D=$W/api/1
check "POST /api/v1/transmissions with the key; content.email_rfc822 is exactly the message written" \
    eval "cmp -s '$D.eml' '$W/apisent1.eml' && test \"\$(meta '$D.json' 'd[\"method\"] + \" \" + d[\"path\"]')\" = 'POST /api/v1/transmissions'"
check "recipients from To, Cc and Bcc" test \
    "$(meta "$D.json" '" ".join(sorted(d["recipients"]))')" = \
    "alice@example.com bob@partner.example carol@partner.example"
judge "api To: OpenSSL, gpgsm and NSS cmsutil decrypt for bob@partner.example, verify alice's signature, content exact" \
    "$D.eml" bob@partner.example "$W/msg1.inner"
judge "api Bcc: OpenSSL, gpgsm and NSS cmsutil decrypt for alice@example.com, verify alice's signature, content exact" \
    "$D.eml" alice@example.com "$W/msg1.inner"
run apibadkey "SPARKPOST_HOST=127.0.0.1:$P_API" SPARKPOST_API_KEY=not-the-key \
    "SPARKPOST_CA_FILE=$W/tls/ca.crt" -- send msg1.eml --sign --encrypt --send-api
check "wrong API key: the API's 401 error printed verbatim, exit non-zero" \
    eval "rc_fail && err_line 'error code 401 : {\"errors\": [{\"message\": \"Unauthorized.\"}]}'"
run apireject "${API_OK[@]}" -- send msg3.eml --sign --send-api
check "recipient refused by the API: the 422 error printed verbatim, exit non-zero" \
    eval "rc_fail && err_has 'error code 422 : {\"errors\": [{\"message\": \"Invalid recipient\"' && err_has '\"code\": \"1902\"'"
run apinokey "SPARKPOST_HOST=127.0.0.1:$P_API" -- send msg1.eml --sign --encrypt --send-api
check "SPARKPOST_API_KEY unset: clear message, exit non-zero" \
    eval "rc_fail && err_line 'Environment var SPARKPOST_API_KEY not set - stopping'"
run apihttp "SPARKPOST_HOST=http://127.0.0.1:$P_API" "SPARKPOST_API_KEY=$API_KEY" -- \
    send msg1.eml --sign --encrypt --send-api
check "plain http:// API endpoint refused (the key never goes out in clear)" rc_fail
check "without --track: open_tracking and click_tracking false, transactional" test \
    "$(meta "$W/api/1.json" 'd["options"]')" = \
    "{'open_tracking': False, 'click_tracking': False, 'transactional': True}"
run apitrack "${API_OK[@]}" -- send msg2.eml --encrypt --send_api --track
check "--track --send-api (encrypted, not signed): accepted, open_tracking and click_tracking true" \
    eval "rc_is 0 && test \"\$(meta '$W/api/2.json' 'd[\"options\"]')\" = \"{'open_tracking': True, 'click_tracking': True, 'transactional': True}\""
run apitracksign "${API_OK[@]}" -- send msg1.eml --sign --encrypt --send_api --track
check "--track with --sign: the original tool's message, exit 1, nothing sent" \
    eval "rc_is 1 && err_line 'Invalid combination of arguments - cannot track signed messages'"
run apitrackdet "${API_OK[@]}" -- send msg1.eml --sign_detached --send-api --track
check "--track with --sign_detached: refused the same way" \
    eval "rc_is 1 && err_line 'Invalid combination of arguments - cannot track signed messages'"
run tracknoapi -- send msg1.eml --encrypt --track
check "--track without --send-api: usage error (exit 2)" \
    eval "rc_is 2 && err_has '--track is for --send-api'"
run signboth -- msg1.eml --sign --sign_detached
check "--sign with --sign_detached: usage error (exit 2), as the original tool" \
    eval "rc_is 2 && err_has '--sign and --sign-detached exclude each other'"
check "only the good API requests arrived" test "$(count "$W/api")" = 2

# ---------------------------------------------------------------------------------------------
check "the SMTP password never appears in any output" eval "! grep -qF '$PW' '$W/all-output.log'"
check "the API key never appears in any output" eval "! grep -qF '$API_KEY' '$W/all-output.log'"
finish
