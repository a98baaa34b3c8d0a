#!/bin/bash
# The policy explainer against the milter, through a private Postfix on loopback: on the policy
# configuration of the miltertest suite's POLICY daemon (<domain> blocks with every missing-cert
# action, a domain-cert, <virtual-mta> blocks chosen by the X-Virtual-MTA header, a <sender>
# role key), every scenario is first explained with smime-milter -t, then sent through Postfix;
# each recipient's RCPT reply (code, enhanced code, text) and the message's action and reason
# (and, for a message refused after DATA, its reply) must be what the explainer said, and its
# exit code must say protected (0), refused or deferred (1) or untouched (3).
#
# Usage (as root): tests/e2e-explain.sh      TAP lines, then "N passed, M failed".
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need swaks openssl postconf
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-explain
register_log "smime-milter log" "$W/milter.log" 40
register_log "Postfix maillog" "$W/postfix/maillog" 30

echo "# setting up in $W"
GEN_CERTS_EXTRA="erin@bank.example gw@gateway.example" "$TESTS/gen-certs.sh" "$W/pki" >/dev/null ||
    setup_failed "gen-certs.sh"
P=$W/pki
mkdir -p "$W/pcerts" "$W/skeys"
chmod 0700 "$W/skeys" "$P/keys"
cp "$P/certs/"*.crt "$W/pcerts/"
mv "$W/pcerts/gw@gateway.example.crt" "$W/gateway.crt"
cp "$P/keys/alice@example.com.pem" "$W/skeys/ops-signing.pem"
chmod 0600 "$W/skeys/ops-signing.pem"

SMTPD_PORT=$(free_port) SINK_PORT=$(free_port) MILTER_PORT=$(free_port)
C=$W/smime-milter.conf
# the POLICY daemon of tests/miltertest.sh, the virtual MTA from the header only (Postfix's
# {daemon_name} is its host name)
cat >"$C" <<EOF
socket              inet:$MILTER_PORT@127.0.0.1
cert-dir            $W/pcerts
key-dir             $P/keys
ca-file             $P/ca/chain.pem
virtual-mta-header  X-Virtual-MTA
sign                no
encrypt             no
<domain bank.example>
    encrypt         yes
    missing-cert    reject
</domain>
<domain reject.example>
    encrypt         yes
    missing-cert    reject
</domain>
<domain tempfail.example>
    encrypt         yes
    missing-cert    tempfail
</domain>
<domain plain.example>
    encrypt         yes
    missing-cert    plain
</domain>
<domain signonly.example>
    encrypt         yes
    missing-cert    sign-only
</domain>
<domain gateway.example>
    encrypt         yes
    domain-cert     $W/gateway.crt
</domain>
<domain monitored.example>
    encrypt         yes
    mode            monitor
</domain>
<virtual-mta sign-only-out>
    sign            yes
    encrypt         no
</virtual-mta>
<virtual-mta secure-out>
    sign            yes
    encrypt         yes
    <domain later.example>
        missing-cert tempfail
    </domain>
</virtual-mta>
<sender ops@example.com>
    sign            yes
    signing-key     $W/skeys/ops-signing.pem
    signer-address-check no
</sender>
EOF

sink_start "$W/sink" "$SINK_PORT" || setup_failed "SMTP sink"
milter_start "$C" "$W/milter.log" || setup_failed "smime-milter"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix"

summaries() { grep -c ' action=' "$W/milter.log" || true; }

# scenario ID EXIT FROM RCPTS [--vmta NAME] [--client external] : explain, then send, then compare
scenario() {
    local id=$1 want_rc=$2 from=$3 rcpts=$4 vmta="" client="" rc=0 n i
    shift 4
    while [ $# -gt 0 ]; do
        case $1 in
            --vmta) vmta=$2; shift 2 ;;
            --client) client=$2; shift 2 ;;
            *) return 2 ;;
        esac
    done
    local args=(-c "$C" -t "$from")
    IFS=, read -r -a list <<<"$rcpts"
    args+=("${list[@]}")
    [ -z "$vmta" ] || args+=(--vmta "$vmta")
    [ -z "$client" ] || args+=(--client "$client")
    "$MILTER_BIN" "${args[@]}" >"$W/explain-$id.out" 2>"$W/explain-$id.err" || rc=$?
    is "$id: the explainer exits $want_rc" "$rc" "$want_rc"
    # the message as the explainer assumed it
    {
        printf 'From: <%s>\r\nTo: %s\r\nSubject: explain %s\r\nX-E2E-Id: %s\r\n' "$from" "$rcpts" "$id" "$id"
        [ -z "$vmta" ] || printf 'X-Virtual-MTA: %s\r\n' "$vmta"
        printf 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nexplained %s\r\n' "$id"
    } >"$W/msg-$id.eml"
    n=$(summaries)
    local opts=(--from "$from")
    [ "$client" != external ] || opts+=(--external)
    send "${opts[@]}" "$id" "$W/msg-$id.eml" "$rcpts" || true
    for ((i = 0; i < 100; i++)); do [ "$(summaries)" -gt "$n" ] && break; sleep 0.1; done
    # RCPT replies: what the explainer printed, what swaks was told
    local got="" want=""
    for r in "${list[@]}"; do
        want+=$(grep -F "rcpt <$r>: " "$W/explain-$id.out" | sed "s/^rcpt <[^>]*>: //; s/ accepted.*//")$'\n'
    done
    got=$("$PYTHON3" - "$W/swaks-$id.out" <<'PY'
import re, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
out, in_rcpt = [], False
for l in lines:
    if re.match(r" -> RCPT TO:", l):
        in_rcpt = True
        continue
    if in_rcpt and re.match(r"<(-|~|\*\*) +\d{3}", l):
        text = re.sub(r"^<(-|~|\*\*) +", "", l)
        out.append(text[:3] if text.startswith("250") else text)
        in_rcpt = False
print("\n".join(out))
PY
)
    is "$id: each RCPT reply is the one explained" "$got" "${want%$'\n'}"
    # the action (and reason, and a refusal's reply after DATA)
    local ex summ
    ex=$(grep '^action=' "$W/explain-$id.out" | sed 's/ reply=.*//')
    summ=$(grep ' action=' "$W/milter.log" | tail -n 1 | sed 's/.* action=/action=/; s/ mode=.*//; s/ reply="[^"]*"//')
    is "$id: what the milter did is what was explained ($ex)" "$summ" "$ex"
    if grep -q '^action=.* reply=' "$W/explain-$id.out" && ! grep -q 'reason=recipients' "$W/explain-$id.out"; then
        local reply
        reply=$(grep '^action=' "$W/explain-$id.out" | sed 's/.* reply="//; s/"$//')
        is "$id: the reply after DATA is the one explained" \
            "$(grep -E '^<\*\* ' "$W/swaks-$id.out" | tail -n 1 | sed 's/^<\*\* *//')" "$reply"
    fi
}

scenario encrypt 0 alice@example.com erin@bank.example
scenario reject 1 alice@example.com dave@reject.example
scenario tempfail 1 alice@example.com dave@tempfail.example
scenario plain 3 alice@example.com dave@plain.example
scenario signonly 0 alice@example.com dave@signonly.example
scenario gateway 0 alice@example.com anyone@gateway.example
scenario mixed 1 alice@example.com erin@bank.example,dave@plain.example
scenario secure 0 alice@example.com bob@partner.example --vmta secure-out
scenario signout 0 alice@example.com bob@partner.example --vmta sign-only-out
scenario role 0 ops@example.com bob@partner.example --vmta sign-only-out
scenario later 1 alice@example.com dave@later.example --vmta secure-out
scenario unknown 1 alice@example.com bob@partner.example --vmta nosuch-out
scenario monitored 3 alice@example.com dave@monitored.example
scenario outside 3 alice@example.com erin@bank.example --client external

# what the explainer says beyond the replies
check "per recipient: each setting with the scope it came from" \
    grep -qE '^  encrypt +yes +from domain:bank.example$' "$W/explain-encrypt.out"
check "per recipient: a setting of a <domain> inside a <virtual-mta>" \
    grep -qE '^  missing-cert +tempfail +from virtual-mta:secure-out/domain:later.example$' "$W/explain-later.out"
erin_serial=$(openssl x509 -in "$W/pcerts/erin@bank.example.crt" -noout -serial | sed 's/serial=//')
check "per recipient: the certificate that would be used" \
    grep -qE "^    serial $erin_serial, issuer hash [0-9a-f]{8}, until " "$W/explain-encrypt.out"
check "per recipient: why there is none" \
    grep -qF '  certificate        none (no_certificate): no certificate for dave@reject.example' "$W/explain-reject.out"
check "the message's combined settings and its signing identity" \
    grep -qE "^signing identity   <ops@example.com>: $W/skeys/ops-signing.pem$" "$W/explain-role.out"
check "mode monitor: what would have been done" \
    grep -qF 'mode monitor       would: reject recipients' "$W/explain-monitored.out"
rc=0
"$MILTER_BIN" -c "$C" -t alice@example.com >/dev/null 2>&1 || rc=$?
is "-t without a recipient: usage, exit 2" "$rc" 2
finish
