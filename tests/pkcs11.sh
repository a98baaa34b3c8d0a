#!/bin/bash
# PKCS#11 signing keys: alice's key lives in a SoftHSM2 token and smime-milter signs with it
# through OpenSSL's pkcs11 engine (libp11), named by an RFC 7512 URI in signing-key, inside a
# private Postfix; delivered mail is checked by OpenSSL, gpgsm and NSS (tests/judges.sh).
#
# Checks: a wrong PIN gives 451 4.7.0 and a log line naming the URI without the PIN; the right
# PIN (pin-source=file:) gives a message signed by alice and encrypted to bob that all three
# verifiers accept, content exact; no PIN ever appears in a log or in this script's output.
#
# Usage (as root): tests/pkcs11.sh
# Environment: SMIME_MILTER  milter binary (default milter/smime-milter)
#              E2E_KEEP=1    keep the work directory (printed at the end)
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"

# distinctive PINs, so that finding them in a log cannot be a coincidence
USER_PIN=7302-smime-user-pin
WRONG_PIN=5518-smime-wrong-pin
SO_PIN=9461-smime-so-pin
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
ENGINE_DIR=$(openssl version -e 2>/dev/null | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')

# softhsm2 (the module) and libengine-pkcs11-openssl (the engine): a missing one is a failure
harness_need softhsm2-util pkcs11-tool swaks openssl postconf "$SOFTHSM_MODULE" "$ENGINE_DIR/pkcs11.so"
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-pkcs11 E2E_KEEP
register_log "Postfix maillog" "$W/postfix/maillog" 40
register_log "smime-milter logs" "$W/milter-*.log" 40
# shellcheck disable=SC2034 # the header delivered looks for (tests/lib/harness.sh)
HARNESS_ID_HEADER=X-Test-Id
# everything this script prints also goes to a file, searched for PINs at the end
exec > >(tee "$W/output.log")

# ---------------------------------------------------------------------------------------------
echo "# setting up in $W"
"$TESTS/gen-certs.sh" "$W/pki" >/dev/null || setup_failed "test PKI (gen-certs.sh)"
ALICE_KEY=$W/pki/private/alice@example.com.key
ALICE_CRT=$W/pki/private/alice@example.com.crt

# SoftHSM2 with a private token store: never the system's
mkdir -p "$W/softhsm/tokens"
chmod 0700 "$W/softhsm"
cat >"$W/softhsm/softhsm2.conf" <<EOF
directories.tokendir = $W/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$W/softhsm/softhsm2.conf
p11() { pkcs11-tool --module "$SOFTHSM_MODULE" --token-label smime "$@"; }
(
    set -e
    softhsm2-util --init-token --free --label smime --pin "$USER_PIN" --so-pin "$SO_PIN"
    openssl pkey -in "$ALICE_KEY" -outform DER -out "$W/alice.key.der"
    openssl x509 -in "$ALICE_CRT" -outform DER -out "$W/alice.crt.der"
    p11 --login --pin "$USER_PIN" --write-object "$W/alice.key.der" --type privkey --id 01 --label alice
    p11 --login --pin "$USER_PIN" --write-object "$W/alice.crt.der" --type cert --id 01 --label alice
) >"$W/softhsm-setup.log" 2>&1 || setup_failed "SoftHSM2 token with alice's key" "$(cat "$W/softhsm-setup.log")"
rm -f "$W/alice.key.der"
objects=$(p11 --list-objects --login --pin "$USER_PIN" 2>&1 || true)
if grep -q "Private Key Object" <<<"$objects" && grep -q "Certificate Object" <<<"$objects" &&
        [ "$(grep -c "label: *alice" <<<"$objects")" -eq 2 ]; then
    ok "SoftHSM2 token 'smime' (private store) holds alice's private key and certificate"
else
    notok "SoftHSM2 token 'smime' (private store) holds alice's private key and certificate" "$objects"
fi
if grep -q "$W/softhsm/tokens" "$SOFTHSM2_CONF" && [ -n "$(ls -A "$W/softhsm/tokens")" ]; then
    ok "the token lives in the test's own directory"
else
    notok "the token lives in the test's own directory" "$(ls -la "$W/softhsm/tokens")"
fi

# PIN files (mode 0600) and the chain (the intermediate CA) to include in signatures
(umask 077; printf '%s\n' "$USER_PIN" >"$W/user.pin"; printf '%s\n' "$WRONG_PIN" >"$W/wrong.pin")
cp "$W/pki/ca/inter.crt" "$W/chain.pem"
mkdir -p "$W/keys"
chmod 0700 "$W/keys" # empty key-dir: alice's identity can only come from the token

SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
SINK=$W/sink
URI_GOOD="pkcs11:token=smime;object=alice;type=private;pin-source=file:$W/user.pin?x-cert-file=$W/chain.pem"
URI_WRONG="pkcs11:token=smime;object=alice;type=private?pin-source=file:$W/wrong.pin&x-cert-file=$W/chain.pem"
URI_INLINE="pkcs11:token=smime;object=alice;type=private?pin-value=$WRONG_PIN&x-cert-file=$W/chain.pem"

write_conf() { # FILE URI
    cat >"$1" <<EOF
socket          inet:$MILTER_PORT@127.0.0.1
cert-dir        $W/pki/certs
key-dir         $W/keys
internal-hosts  127.0.0.0/8 ::1
sign            yes
encrypt         yes
on-error        tempfail

<sender alice@example.com>
    signing-key "$2"
    missing-key tempfail
</sender>
EOF
}
write_conf "$W/good.conf" "$URI_GOOD"
write_conf "$W/wrong.conf" "$URI_WRONG"
write_conf "$W/inline.conf" "$URI_INLINE"

check "smime-milter -n accepts signing-key with a pkcs11: URI" "$MILTER_BIN" -n -c "$W/good.conf"
sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
# smime-milter is the first (and here the only) milter
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix did not start"
echo "# postfix 127.0.0.1:$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT"

# ---------------------------------------------------------------------------------------------
# Helpers

# message ID FILE : a UTF-8 test message with ID in its Subject and X-Test-Id
message() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import sys
i, out = sys.argv[1], sys.argv[2]
h = ("From: Alice <alice@example.com>\nTo: Bob <bob@partner.example>\nSubject: pkcs11 %s\n"
     "Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <%s.pkcs11@example.com>\n"
     "X-Test-Id: %s\nMIME-Version: 1.0\n" % (i, i, i))
b = ("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
     "Signed by a key that never left the token.\nGr\u00fc\u00dfe, \u20ac100.\n"
     ".a line starting with a dot\nLast line.\n")
open(out, "wb").write((h + b).replace("\n", "\r\n").encode())
PY
}

pin_free() { # FILE... : none of the PINs in any FILE
    local f hits=""
    for f in "$@"; do
        [ -e "$f" ] || continue
        if grep -aqF -e "$USER_PIN" -e "$WRONG_PIN" -e "$SO_PIN" "$f"; then hits="$hits $f"; fi
    done
    if [ -n "$hits" ]; then echo "a PIN appears in:$hits"; return 1; fi
}

# ---------------------------------------------------------------------------------------------
# (b) wrong PIN: tempfail at SMTP, log names the URI without the PIN. A fresh milter process:
# a PKCS#11 login stays valid for the life of the process that made it.
milter_start "$W/wrong.conf" "$W/milter-wrong.log" || setup_failed "smime-milter did not start (wrong PIN)"
message wrongpin "$W/wrongpin.eml"
rc=0
send wrongpin "$W/wrongpin.eml" bob@partner.example || rc=$?
if [ "$rc" -ne 0 ] && grep -qE '<\*\* +451 4\.7\.0 ' "$W/swaks-wrongpin.out"; then
    ok "wrong PIN: the message is refused with 451 4.7.0 (tempfail) at the SMTP level"
else
    notok "wrong PIN: the message is refused with 451 4.7.0 (tempfail) at the SMTP level" \
        "swaks rc=$rc: $(grep -E '^ *(<\*\*|<-)' "$W/swaks-wrongpin.out" | tail -n 4)"
fi
shown_wrong="pkcs11:token=smime;object=alice;type=private?pin-source=file:$W/wrong.pin&x-cert-file=$W/chain.pem"
if grep -F "$shown_wrong" "$W/milter-wrong.log" | grep -q "PIN incorrect"; then
    ok "wrong PIN: the log names the URI and says the PIN is incorrect"
else
    notok "wrong PIN: the log names the URI and says the PIN is incorrect" "$(tail -n 5 "$W/milter-wrong.log")"
fi
# a second message at once: the same wrong PIN is not tried again (tokens lock after a few)
message wrongpin2 "$W/wrongpin2.eml"
rc=0
send wrongpin2 "$W/wrongpin2.eml" bob@partner.example || rc=$?
if [ "$rc" -ne 0 ] && grep -qE '<\*\* +451 4\.7\.0 ' "$W/swaks-wrongpin2.out" &&
    grep -F "$shown_wrong" "$W/milter-wrong.log" | grep -q "not tried again for" &&
    [ "$(grep -c "PIN incorrect" "$W/milter-wrong.log")" -eq 2 ]; then
    # two lines mention "PIN incorrect": the failed login, and the back-off quoting it
    ok "wrong PIN again: 451 4.7.0 without another login attempt (back-off protects the token)"
else
    notok "wrong PIN again: 451 4.7.0 without another login attempt (back-off protects the token)" \
        "$(tail -n 5 "$W/milter-wrong.log")"
fi
sleep 1
check "wrong PIN: nothing was delivered" test -z "$(delivered wrongpin)$(delivered wrongpin2)"

# the same with the PIN inside the URI (pin-value): the log line leaves it out
milter_restart "$W/inline.conf" "$W/milter-inline.log" || setup_failed "smime-milter did not start (pin-value)"
message inline "$W/inline.eml"
rc=0
send inline "$W/inline.eml" bob@partner.example || rc=$?
shown_inline="pkcs11:token=smime;object=alice;type=private?x-cert-file=$W/chain.pem"
if [ "$rc" -ne 0 ] && grep -qE '<\*\* +451 4\.7\.0 ' "$W/swaks-inline.out" &&
        grep -F "$shown_inline" "$W/milter-inline.log" | grep -q "PIN incorrect"; then
    ok "wrong pin-value: 451 4.7.0, and the log names the URI with pin-value left out"
else
    notok "wrong pin-value: 451 4.7.0, and the log names the URI with pin-value left out" \
        "swaks rc=$rc: $(grep -E '^ *<\*\*' "$W/swaks-inline.out" | tail -n 2); log: $(tail -n 3 "$W/milter-inline.log")"
fi

# ---------------------------------------------------------------------------------------------
# (a) the right PIN from a file: signed in the token, encrypted to bob, judged by three verifiers
milter_restart "$W/good.conf" "$W/milter-good.log" || setup_failed "smime-milter did not start (right PIN)"
for i in 1 2; do
    message "good$i" "$W/good$i.eml"
    expected_inner "$W/good$i.eml" "$W/good$i.inner"
    rc=0
    send "good$i" "$W/good$i.eml" bob@partner.example || rc=$?
    wait_delivered "good$i" 30 || true
    f=$(delivered "good$i")
    if [ "$rc" -eq 0 ] && [ "$(printf '%s' "$f" | grep -c .)" -eq 1 ]; then
        ok "right PIN (message $i): accepted by Postfix and delivered once"
    else
        notok "right PIN (message $i): accepted by Postfix and delivered once" \
            "swaks rc=$rc: $(grep -E '^ *<\*\*' "$W/swaks-good$i.out" | tail -n 2); $(tail -n 3 "$W/milter-good.log")"
        continue
    fi
    judge "right PIN (message $i): OpenSSL, gpgsm and NSS decrypt for bob, verify alice's token signature, content exact" \
        "$f" bob@partner.example "$W/good$i.inner" "$W/judges-good$i"
done
# the signature was made by the token's key: the signer certificate is alice's and the
# signature verifies with her public key only (the private key file is not in the milter's reach)
if [ -n "$(delivered good1)" ] && [ -s "$W/judges-good1/openssl/signer.pem" ] &&
        [ "$(openssl x509 -in "$W/judges-good1/openssl/signer.pem" -noout -fingerprint -sha256)" = \
        "$(openssl x509 -in "$ALICE_CRT" -noout -fingerprint -sha256)" ]; then
    ok "the signer certificate is alice's (from the token)"
else
    notok "the signer certificate is alice's (from the token)" "$(ls "$W/judges-good1/openssl" 2>&1)"
fi

# ---------------------------------------------------------------------------------------------
# (c) no PIN anywhere
check "no PIN in the milter logs, the Postfix log or the SMTP transcripts" \
    pin_free "$W"/milter-*.log "$W/postfix/maillog" "$W"/swaks-*.out "$SINK/sink.log"
sleep 0.2 # let tee catch up
check "no PIN in this test's output" pin_free "$W/output.log"

if out=$(postfix_stop "$W/postfix" 2>&1); then
    ok "private Postfix stopped, no process left behind"
    harness_forget postfix_stop "$W/postfix"
else
    notok "private Postfix stopped, no process left behind" "$out"
fi
finish
