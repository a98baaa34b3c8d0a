#!/bin/bash
# Signing identities are validated before they sign, through a private Postfix on loopback:
# signers whose certificate is expired, not yet valid, without emailProtection, naming another
# address, not chaining to ca-file, and a key that does not match its certificate each get the
# missing-key action (451 4.7.0 by default, 550 5.7.0 with "reject", sent unsigned but still
# encrypted with "unsigned") and the exact reason in the log; a valid signer and a role key
# (signer-address-check no) in the same run sign, judged by OpenSSL, gpgsm and NSS.
# smime-milter -n names every failing identity; smime-tool refuses the same signers (rc 1).
#
# Usage (as root): tests/e2e-signer.sh      Prints ok/not ok lines and "N passed, M failed".
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
# shellcheck source=lib/pki.sh
. "$TESTS/lib/pki.sh"
harness_need swaks openssl postconf
harness_need_root
harness_built "$MILTER_BIN" "$TOOL_BIN"
harness_workdir smime-signer
register_log "smime-milter log" "$W/milter.log" 30
register_log "Postfix maillog" "$W/postfix/maillog" 30

# ---------------------------------------------------------------------------------------------
echo "# setting up in $W"
"$TESTS/gen-certs.sh" "$W/pki" >/dev/null || setup_failed "gen-certs.sh"
P=$W/pki K=$W/keys G=$W/gen
mkdir -p "$K" "$G"
chmod 0700 "$K"
pki_ca_setup "$P" "$W"
cp "$P/keys/alice@example.com.pem" "$K/"
pki_issue expired@example.com "$G/expired" 20200101000000Z 20200131000000Z
pki_issue unsigned@example.com "$G/unsigned" 20200101000000Z 20200131000000Z
pki_issue future@example.com "$G/future" 20300101000000Z 20310101000000Z
pki_issue webonly@example.com "$G/webonly" "$(pki_when '-1 day')" "$(pki_when '+100 days')" serverAuth
pki_self_signed stranger@example.com "$G/stranger"
for a in expired unsigned future webonly stranger; do cp "$G/$a.pem" "$K/$a@example.com.pem"; done
cp "$P/keys/alice@example.com.pem" "$K/other@example.com.pem"          # names alice, not other
(umask 077 && cat "$P/private/bob@partner.example.key" "$P/private/alice@example.com.crt" \
    >"$K/mismatch@example.com.pem")                                    # bob's key, alice's cert
(umask 077 && cp "$P/keys/alice@example.com.pem" "$W/role.pem")        # a role key: alice's
chmod 0600 "$K"/*.pem "$W/role.pem"

SMTPD_PORT=$(free_port) SINK_PORT=$(free_port) MILTER_PORT=$(free_port)
SINK=$W/sink
cat >"$W/smime-milter.conf" <<EOF
socket          inet:$MILTER_PORT@127.0.0.1
cert-dir        $P/certs
key-dir         $K
ca-file         $P/ca/chain.pem
internal-hosts  127.0.0.0/8 ::1
sign            yes
encrypt         yes
<sender unsigned@example.com>
    missing-key unsigned
</sender>
<sender webonly@example.com>
    missing-key reject
</sender>
<sender role@example.com>
    signing-key          $W/role.pem
    signer-address-check no
</sender>
EOF

# ---------------------------------------------------------------------------------------------
echo "# smime-milter -n"
C=$W/smime-milter.conf
KL=$(grep -n '^key-dir' "$C" | cut -d: -f1)
rc=0; out=$("$MILTER_BIN" -n -c "$C" 2>&1) || rc=$?
want="$C:$KL: key-dir: no certificate matching the private key in $K/mismatch@example.com.pem or $K/mismatch@example.com.crt
$C:$KL: key-dir $K/expired@example.com.pem: signing certificate expired on 2020-01-31
$C:$KL: key-dir $K/future@example.com.pem: signing certificate not valid before 2030-01-01
$C:$KL: key-dir $K/other@example.com.pem: signing certificate does not name <other@example.com>
$C:$KL: key-dir $K/stranger@example.com.pem: signing certificate is not trusted: self-signed certificate
$C:$KL: key-dir $K/unsigned@example.com.pem: signing certificate expired on 2020-01-31
$C:$KL: key-dir $K/webonly@example.com.pem: signing certificate does not allow emailProtection
$C: 7 errors"
if [ "$rc" = 1 ] && [ "$out" = "$want" ]; then
    ok "-n names every signing identity that would fail, with the reason, and exits 1"
else
    notok "-n names every signing identity that would fail, with the reason, and exits 1" \
        "exit $rc"$'\n'"$out"
fi
# the valid identities alone: OK; a signer 10 days from expiry is a warning (warn-expiry 30)
mkdir -p "$W/good-keys" && chmod 700 "$W/good-keys"
cp -p "$K/alice@example.com.pem" "$W/good-keys/"
pki_issue soon@example.com "$G/soon" "$(pki_when '-1 day')" "$(pki_when '+10 days')"
cp "$G/soon.pem" "$W/good-keys/soon@example.com.pem" && chmod 600 "$W/good-keys/soon@example.com.pem"
sed -e "s|^key-dir .*|key-dir $W/good-keys|" "$C" >"$W/good.conf"
until=$(date -u -d "$(openssl x509 -in "$G/soon.crt" -noout -enddate | sed 's/notAfter=//')" +%Y-%m-%d)
rc=0; out=$("$MILTER_BIN" -n -c "$W/good.conf" 2>&1) || rc=$?
want="$W/good.conf:$KL: key-dir $W/good-keys/soon@example.com.pem: warning: signing certificate expires on $until (within 30 days)
$W/good.conf: OK"
if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then
    ok "-n: valid signers pass; one 10 days from expiry is a warning (warn-expiry 30), exit 0"
else
    notok "-n: valid signers pass; one 10 days from expiry is a warning (warn-expiry 30), exit 0" \
        "exit $rc"$'\n'"$out"
fi
printf 'warn-expiry 9\n' >>"$W/good.conf"
rc=0; out=$("$MILTER_BIN" -n -c "$W/good.conf" 2>&1) || rc=$?
if [ "$rc" = 0 ] && [ "$out" = "$W/good.conf: OK" ]; then ok "-n: warn-expiry 9: no warning"
else notok "-n: warn-expiry 9: no warning" "exit $rc"$'\n'"$out"; fi

# ---------------------------------------------------------------------------------------------
# the daemon starts all the same: one sender's broken key must not stop everyone's mail
sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
milter_start "$C" "$W/milter.log" || setup_failed "smime-milter did not start"
sleep 0.5
if grep -qF "$C:$KL: key-dir: no certificate matching the private key in $K/mismatch@example.com.pem" "$W/milter.log" &&
    grep -qF "$C:$KL: key-dir $K/expired@example.com.pem: signing certificate expired on 2020-01-31" "$W/milter.log"; then
    ok "the milter starts with unusable signing identities and logs each one"
else
    notok "the milter starts with unusable signing identities and logs each one" "$(head -n 20 "$W/milter.log")"
fi
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix did not start"
echo "# postfix 127.0.0.1:$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT"

# message FROM ID : a small message from FROM to bob, in $W/msg-ID.eml (CRLF), inner in .inner
message() {
    printf 'From: %s\r\nTo: Bob <bob@partner.example>\r\nSubject: signer %s\r\nX-E2E-Id: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nFrom %s, signed or not.\r\n' \
        "$1" "$2" "$2" "$1" >"$W/msg-$2.eml"
    printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nFrom %s, signed or not.\r\n' "$1" >"$W/msg-$2.inner"
}
# send_from FROM ID : the message FROM ID to bob; swaks output in $W/swaks-ID.out
send_from() {
    message "$1" "$2"
    send --from "$1" "$2" "$W/msg-$2.eml" bob@partner.example || true
}

# refused FROM ID CODE REASON : DATA refused with CODE, nothing delivered, the log gives REASON
refused() {
    local from=$1 id=$2 code=$3 reason=$4 line
    send_from "$from" "$id"
    line="no S/MIME signing key for <$from>: $reason"
    grep -q "^<\*\* *$code" "$W/swaks-$id.out" && [ -z "$(delivered "$id")" ] &&
        grep -qF -- "$line" "$W/milter.log" && return 0
    grep '^<\*\*' "$W/swaks-$id.out" | tail -n 2
    grep -F "<$from>" "$W/milter.log" | tail -n 3
    return 1
}

echo "# signers that may not sign"
for r in "expired|451 4.7.0|$K/expired@example.com.pem: signing certificate expired on 2020-01-31" \
    "future|451 4.7.0|$K/future@example.com.pem: signing certificate not valid before 2030-01-01" \
    "webonly|550 5.7.0|$K/webonly@example.com.pem: signing certificate does not allow emailProtection" \
    "other|451 4.7.0|$K/other@example.com.pem: signing certificate does not name <other@example.com>" \
    "stranger|451 4.7.0|$K/stranger@example.com.pem: signing certificate is not trusted: self-signed certificate" \
    "mismatch|451 4.7.0|no certificate matching the private key in $K/mismatch@example.com.pem or $K/mismatch@example.com.crt"; do
    id=${r%%|*} code=${r#*|} code=${code%%|*} reason=${r#*|*|}
    check "$id: $code, nothing delivered, logged: $reason" refused "$id@example.com" "$id" "$code" "$reason"
done

echo "# missing-key unsigned: sent encrypted, without a signature"
send_from unsigned@example.com unsigned
if wait_delivered unsigned; then
    f=$(delivered unsigned | head -n 1)
    if openssl cms -decrypt -recip "$P/private/bob@partner.example.crt" \
        -inkey "$P/private/bob@partner.example.key" -in "$f" -out "$W/unsigned.dec" 2>"$W/unsigned.err" &&
        cmp -s "$W/unsigned.dec" "$W/msg-unsigned.inner" &&
        grep -qF "no signing key for <unsigned@example.com>, sending unsigned: $K/unsigned@example.com.pem: signing certificate expired on 2020-01-31" "$W/milter.log"; then
        ok "unsigned: delivered encrypted to bob, the content unsigned and exact; the reason logged"
    else
        notok "unsigned: delivered encrypted to bob, the content unsigned and exact; the reason logged" \
            "$(cat "$W/unsigned.err")"$'\n'"$(grep -F unsigned@ "$W/milter.log" | tail -n 3)"
    fi
else
    notok "unsigned: delivered encrypted to bob, the content unsigned and exact; the reason logged" \
        "$(tail -n 5 "$W/swaks-unsigned.out")"
fi

echo "# valid signers in the same run"
for s in alice@example.com:alice role@example.com:role; do
    from=${s%%:*} id=${s#*:}
    send_from "$from" "$id"
    if ! wait_delivered "$id"; then
        notok "$id: delivered" "$(tail -n 5 "$W/swaks-$id.out")"
        continue
    fi
    JUDGE_SIGNER=alice@example.com judge \
        "$id ($from): OpenSSL, gpgsm and NSS decrypt for bob, verify alice's certificate, content exact" \
        "$(delivered "$id" | head -n 1)" bob@partner.example "$W/msg-$id.inner"
done

# ---------------------------------------------------------------------------------------------
echo "# smime-tool refuses the same signers (exit 1, the reason)"
tool_refuses() { # FROM REASON : smime-tool send exits 1 with exactly REASON on stderr
    local rc=0 out
    message "$1" "tool-$1"
    out=$(cd "$W" && "$TOOL_BIN" send "msg-tool-$1.eml" --sign --encrypt --key-dir "$K" \
        --cert-dir "$P/certs" --ca-file "$P/ca/chain.pem" 2>&1 >/dev/null) || rc=$?
    [ "$rc" = 1 ] && [ "$out" = "$2" ] && return 0
    echo "exit $rc: $out"
    return 1
}
for a in expired future webonly other stranger; do
    case $a in
        expired) why="signing certificate expired on 2020-01-31" ;;
        future) why="signing certificate not valid before 2030-01-01" ;;
        webonly) why="signing certificate does not allow emailProtection" ;;
        other) why="signing certificate does not name <other@example.com>" ;;
        stranger) why="signing certificate is not trusted: self-signed certificate" ;;
    esac
    why="Sender key for $a@example.com cannot be used: $K/$a@example.com.pem: $why - stopping"
    check "smime-tool, $a@example.com: exit 1: $why" tool_refuses "$a@example.com" "$why"
done
why="Sender key for mismatch@example.com cannot be used: no certificate matching the private key in $K/mismatch@example.com.pem or $K/mismatch@example.com.crt - stopping"
check "smime-tool, mismatch@example.com: exit 1: $why" tool_refuses mismatch@example.com "$why"
rc=0
message alice@example.com tool-alice
(cd "$W" && "$TOOL_BIN" send msg-tool-alice.eml --sign-detached --encrypt --key-dir "$K" \
    --cert-dir "$P/certs" --ca-file "$P/ca/chain.pem" >"$W/tool-alice.eml" 2>"$W/tool-alice.err") || rc=$?
if [ "$rc" = 0 ] && out=$(openssl cms -decrypt -recip "$P/private/bob@partner.example.crt" \
    -inkey "$P/private/bob@partner.example.key" -in "$W/tool-alice.eml" 2>&1 |
    openssl cms -verify -CAfile "$P/ca/root.crt" -out "$W/tool-alice.dec" 2>&1) &&
    cmp -s "$W/tool-alice.dec" "$W/msg-tool-alice.inner"; then
    ok "smime-tool, alice (valid, chains to --ca-file): signed and encrypted, OpenSSL verifies"
else
    notok "smime-tool, alice (valid, chains to --ca-file): signed and encrypted, OpenSSL verifies" \
        "exit $rc: $(cat "$W/tool-alice.err") ${out:-}"
fi

finish
