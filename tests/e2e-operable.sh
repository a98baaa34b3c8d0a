#!/bin/bash
# Operating smime-milter, through a private Postfix on loopback:
#   metrics   a known mix of mail (signed+encrypted, passed from outside, refused for no
#             certificate, tempfailed for a broken key, a mixed message with one recipient
#             deferred) and every series of the metrics endpoint (curl) asserted exactly; a reload
#             (good, then broken) and a crash of the milter process keep the counters
#   summary   one key=value line per message: action, reason, sender, every recipient with the
#             serial and issuer hash of its certificate or why it was refused
#   signers   a signing certificate 10 days from its end: one warning line, not repeated by a
#             reload the same day, and its gauges (notAfter exact; seconds left within the scrape)
#   logging   log-level notice drops the info lines, keeps notice; nothing of the messages'
#             content and no key material in any log, at log-level debug
#   monitor   mode monitor: the delivered message is byte for byte the one sent (after Postfix's
#             Received: line), the log and the monitor metrics say what would have been done;
#             monitor-header yes adds X-SMIME-Milter-Would and nothing else
# The policy explainer (smime-milter -t) has its own suite, tests/e2e-explain.sh.
#
# Usage (as root): tests/e2e-operable.sh      TAP lines, then "N passed, M failed".
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
# shellcheck source=lib/pki.sh
. "$TESTS/lib/pki.sh"
# shellcheck source=lib/metrics.sh
. "$TESTS/lib/metrics.sh"
harness_need swaks openssl postconf curl
harness_need_root
harness_built "$MILTER_BIN" "$TOOL_BIN"
harness_workdir smime-operable
register_log "smime-milter log" "$W/milter.log" 40
register_log "Postfix maillog" "$W/postfix/maillog" 30

echo "# setting up in $W"
GEN_CERTS_EXTRA="erin@bank.example gw@gateway.example" "$TESTS/gen-certs.sh" "$W/pki" >/dev/null ||
    setup_failed "gen-certs.sh"
P=$W/pki K=$W/keys G=$W/gen
mkdir -p "$K" "$G" "$W/certs"
chmod 0700 "$K"
pki_ca_setup "$P" "$W"
cp "$P/keys/alice@example.com.pem" "$K/"
pki_issue soon@example.com "$G/soon" "$(pki_when '-1 day')" "$(pki_when '+10 days')"
cp "$G/soon.pem" "$K/soon@example.com.pem"
printf -- '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n' \
    >"$K/broken@example.com.pem"
chmod 0600 "$K"/*.pem
cp "$P/certs/"{alice@example.com,bob@partner.example,carol@partner.example}.crt "$W/certs/"

SMTPD_PORT=$(free_port) SINK_PORT=$(free_port) MILTER_PORT=$(free_port) METRICS_PORT=$(free_port)
METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics
METRICS=$METRICS_URL
C=$W/smime-milter.conf
cat >"$C" <<EOF
socket          inet:$MILTER_PORT@127.0.0.1
pid-file        $W/smime-milter.pid
cert-dir        $W/certs
key-dir         $K
ca-file         $P/ca/chain.pem
internal-hosts  127.0.0.0/8 ::1
metrics-listen  127.0.0.1:$METRICS_PORT
log-level       debug
sign            yes
<domain partner.example>
    encrypt     yes
</domain>
<domain nocert.example>
    encrypt     yes
</domain>
EOF
MARKER="plaintext-marker-$RANDOM$RANDOM"

sink_start "$W/sink" "$SINK_PORT" || setup_failed "SMTP sink"
milter_start "$C" "$W/milter.log" || setup_failed "smime-milter"
wait_for_port "$METRICS_PORT" 10 || setup_failed "metrics endpoint listens"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix"

# message ID FROM TO [EXTRA-HEADER] : $W/msg-ID.eml, CRLF, with Date and Message-ID so that
# Postfix adds nothing but its Received: line
message() {
    {
        printf 'From: <%s>\r\nTo: %s\r\nSubject: operable %s\r\nDate: %s\r\n' "$2" "$3" "$1" \
            "$(date -R)"
        printf 'Message-ID: <%s.%s@example.com>\r\nX-E2E-Id: %s\r\n' "$1" "$RANDOM" "$1"
        [ -z "${4:-}" ] || printf '%s\r\n' "$4"
        printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n'
        printf '%s in message %s.\r\nSecond line.\r\n' "$MARKER" "$1"
    } >"$W/msg-$1.eml"
}
body_len() { body_of "$W/msg-$1.eml" | wc -c; }
# mail ID FROM TO [send options] [--header H] : message + send (TO: comma-separated)
mail() {
    local id=$1 from=$2 to=$3 hdr="" opts=()
    shift 3
    while [ $# -gt 0 ]; do
        case $1 in
            --header) hdr=$2; shift 2 ;;
            *) opts+=("$1"); shift ;;
        esac
    done
    message "$id" "$from" "$to" "$hdr"
    send ${opts[@]+"${opts[@]}"} --from "$from" "$id" "$W/msg-$id.eml" "$to" || true
}
none_of() { ! grep "$@"; } # grep ARGS finds nothing
summaries() { grep -c ' action=' "$W/milter.log" || true; }
# wait_summaries N : until the log has N summary lines (the end of a refused message is logged
# when Postfix tells the milter, after the client has gone)
wait_summaries() {
    local i
    for ((i = 0; i < 100; i++)); do [ "$(summaries)" -ge "$1" ] && return 0; sleep 0.1; done
    return 1
}
last_summary() { grep ' action=' "$W/milter.log" | tail -n 1 | sed 's/^[^:]*: [a-z]*: //'; }

# ---------------------------------------------------------------------------------------------
echo "# the mix"
mail se alice@example.com bob@partner.example
mail ext alice@example.com bob@partner.example --external
mail nocert alice@example.com dave@nocert.example
mail broken broken@example.com bob@partner.example
mail mixed alice@example.com bob@partner.example,frank@plain.example
for id in se ext mixed; do wait_delivered "$id" || true; done
wait_summaries 5 || true

check "signed+encrypted to bob: delivered as S/MIME enveloped-data" \
    grep -qi '^Content-Type: application/pkcs7-mime; smime-type=enveloped-data' "$(delivered se | head -n 1)"
check "from outside: delivered untouched" grep -qF "$MARKER in message ext." "$(delivered ext | head -n 1)"
is "no certificate: RCPT refused 550 5.7.1" "$(grep -E '^<\*\* ' "$W/swaks-nocert.out" | head -n 1)" \
    "<** 550 5.7.1 <dave@nocert.example>: no usable S/MIME certificate for this recipient"
is "broken key: tempfailed 451 4.7.0 at the end of DATA" "$(grep -E '^<\*\* ' "$W/swaks-broken.out" | head -n 1)" \
    "<** 451 4.7.0 S/MIME signing key for <broken@example.com> is unusable"
is "mixed: frank deferred 451 4.7.1, bob gets it" "$(grep -E '^<\*\* ' "$W/swaks-mixed.out" | head -n 1)" \
    "<** 451 4.7.1 <frank@plain.example>: no S/MIME certificate, and this message is encrypted for earlier recipients; send it in a separate message"
check "broken key: logged as an error" grep -qE 'error: [0-9A-F]+: tempfail: S/MIME signing key for <broken@example.com> is unusable' "$W/milter.log"

in_bytes=$(($(body_len se) + $(body_len mixed)))
out_bytes=0
for id in se mixed; do
    f=$(delivered "$id" | head -n 1)
    [ -n "$f" ] && out_bytes=$((out_bytes + $(body_of "$f" | wc -c)))
done
SOON_END=$(date -u -d "$(openssl x509 -in "$G/soon.crt" -noout -enddate | sed 's/notAfter=//')" +%s)
ALICE_END=$(date -u -d "$(openssl x509 -in "$P/private/alice@example.com.crt" -noout -enddate | sed 's/notAfter=//')" +%s)
MIX=('smime_milter_messages_total{outcome="signed_encrypted"}=2'
    'smime_milter_messages_total{outcome="passed",reason="external"}=1'
    'smime_milter_messages_total{outcome="reject",reason="recipients"}=1'
    'smime_milter_messages_total{outcome="tempfail",reason="key_error"}=1'
    'smime_milter_recipients_refused_total{reason="no_certificate"}=1'
    'smime_milter_recipients_refused_total{reason="mixed"}=1'
    "smime_milter_body_bytes_in_total=$in_bytes" "smime_milter_body_bytes_out_total=$out_bytes"
    'smime_milter_processing_seconds_count=2' 'smime_milter_processing_seconds_bucket{le="+Inf"}=2'
    'smime_milter_processing_seconds_bucket{le="30"}=2'
    'smime_milter_certificates_indexed=3' 'smime_milter_messages_in_flight=0'
    "smime_milter_signing_certificate_expiry_timestamp_seconds{identity=\"soon@example.com\",key=\"$K/soon@example.com.pem\"}=$SOON_END"
    "smime_milter_signing_certificate_expiry_timestamp_seconds{identity=\"alice@example.com\",key=\"$K/alice@example.com.pem\"}=$ALICE_END")
metrics_are "metrics after the mix: every series exact" "${MIX[@]}"

# the seconds left: notAfter - the time of the scrape
t0=$(date +%s)
left=$(curl -sf "$METRICS" | grep -F "smime_milter_signing_certificate_expiry_seconds{identity=\"soon@example.com\"" | awk '{print $2}')
t1=$(date +%s)
if [ -n "$left" ] && [ "$left" -le $((SOON_END - t0)) ] && [ "$left" -ge $((SOON_END - t1)) ] &&
    [ "$left" -gt $((9 * 86400)) ] && [ "$left" -le $((10 * 86400 + 60)) ]; then
    ok "the signer 10 days from its end: expiry_seconds $left (notAfter - now)"
else
    notok "the signer 10 days from its end: expiry_seconds $left (notAfter - now)" "between $((SOON_END - t1)) and $((SOON_END - t0))"
fi
until_day=$(date -u -d "@$SOON_END" +%Y-%m-%d)
n=$(grep -c "warning: key-dir $K/soon@example.com.pem: signing certificate [0-9A-F]*/[0-9a-f]\{8\} expires on $until_day, in 10 days (warn-expiry 30)" "$W/milter.log" || true)
if [ "$n" = 1 ]; then ok "the signer 10 days from its end: one warning line"
else notok "the signer 10 days from its end: one warning line" "$n lines; the log says:"$'\n'"$(grep -F soon@ "$W/milter.log")"; fi

# the summary lines
sum_se=$(grep -F 'rcpt1=<bob@partner.example>' "$W/milter.log" | grep -F 'action=signed_encrypted' | head -n 1)
bob_serial=$(openssl x509 -in "$P/certs/bob@partner.example.crt" -noout -serial | sed 's/serial=//')
bob_issuer=$(openssl x509 -in "$P/certs/bob@partner.example.crt" -noout -issuer_hash)
for want in "action=signed_encrypted mode=enforce from=<alice@example.com>" \
    "scopes=global,domain:partner.example cipher=AES-256-CBC digest=SHA256 signer=<alice@example.com>" \
    "size=$(body_len se) " "rcpt1=<bob@partner.example> rcpt1.serial=$bob_serial rcpt1.issuer=$bob_issuer rcpt1.source=cert-dir rcpt1.scope=domain:partner.example"; do
    check "summary of the signed+encrypted message has: $want" grep -qF -- "$want" <<<"$sum_se"
done
check "summary of the refused message: reject, recipients, dave refused for no certificate" \
    grep -qE 'action=reject reason=recipients reply="550 5.7.1" mode=enforce from=<alice@example.com> .*rcpts=0 refused=1 rcpt1=<dave@nocert.example> rcpt1.refused=no_certificate rcpt1.reply="550 5.7.1"' "$W/milter.log"
check "summary of the mixed message: bob with his certificate, frank deferred (mixed)" \
    grep -qE "action=signed_encrypted .*rcpts=1 refused=1 rcpt1=<bob@partner.example> rcpt1.serial=$bob_serial .* rcpt2=<frank@plain.example> rcpt2.refused=mixed rcpt2.reply=\"451 4.7.1\"" "$W/milter.log"
check "summary of the message from outside: passed, external" \
    grep -qE 'action=passed reason=external mode=enforce from=<alice@example.com>' "$W/milter.log"
check "summary of the broken key: tempfail key_error 451 4.7.0" \
    grep -qE 'action=tempfail reason=key_error reply="451 4.7.0" mode=enforce from=<broken@example.com>' "$W/milter.log"
check "the start line carries no queue id" \
    grep -qE '^smime-milter\[[0-9]+\]: info: smime-milter [0-9.]+ listening on inet:' "$W/milter.log"
check "no daemon line carries NOQUEUE" none_of -E 'NOQUEUE: .*(listening on|metrics on|reload)' "$W/milter.log"
check "debug lines at log-level debug" grep -qE 'debug: (NOQUEUE|[0-9A-F]+): recipient <bob@partner.example>: certificate from cert-dir' "$W/milter.log"

# ---------------------------------------------------------------------------------------------
echo "# reload and restart keep the counters"
pid=$(cat "$W/smime-milter.pid")
kill -HUP "$pid"
for ((i = 0; i < 50; i++)); do grep -q 'reload: .* loaded' "$W/milter.log" && break; sleep 0.1; done
sleep 0.3
metrics_are "after a reload: the same values, reloads{ok} 1" "${MIX[@]}" 'smime_milter_reloads_total{result="ok"}=1'
is "a reload the same day does not repeat the expiry warning" "$(grep -c "soon@example.com.pem: signing certificate .* expires on" "$W/milter.log")" 1
cp "$C" "$W/good.conf"
echo "no-such-keyword yes" >>"$C"
kill -HUP "$pid"
for ((i = 0; i < 50; i++)); do grep -q 'keeping the configuration in force' "$W/milter.log" && break; sleep 0.1; done
sleep 0.3
metrics_are "after a refused reload: the same values, reloads{refused} 1" "${MIX[@]}" \
    'smime_milter_reloads_total{result="ok"}=1' 'smime_milter_reloads_total{result="refused"}=1'
cp "$W/good.conf" "$C"
child=$(ps -o pid= --ppid "$HARNESS_MILTER_PID" | tr -d ' ' | head -n 1)
if [ -n "$child" ]; then
    kill -KILL "$child"
    for ((i = 0; i < 50; i++)); do grep -q 'died of signal 9: restarting' "$W/milter.log" && break; sleep 0.1; done
    wait_for_port "$METRICS_PORT" 10 || true
    for ((i = 0; i < 50; i++)); do
        n=$(ps -o pid= --ppid "$HARNESS_MILTER_PID" | tr -d ' ' | head -n 1)
        [ -n "$n" ] && [ "$n" != "$child" ] && curl -sf "$METRICS" >/dev/null && break
        sleep 0.1
    done
fi
metrics_are "after the milter process crashed: the same values, restarts 1" "${MIX[@]}" \
    'smime_milter_reloads_total{result="ok"}=1' 'smime_milter_reloads_total{result="refused"}=1' \
    'smime_milter_restarts_total=1'

check "the reload and restart lines carry no queue id" grep -qE \
    '^smime-milter\[[0-9]+\]: info: reload: [^ ]+ loaded$' "$W/milter.log"
check "the crash and restart line carries no queue id" grep -qE \
    '^smime-milter\[[0-9]+\]: error: the milter process died of signal 9: restarting$' "$W/milter.log"

# ---------------------------------------------------------------------------------------------
echo "# log-level notice"
sed -i 's/^log-level .*/log-level       notice/' "$C"
before=$(wc -l <"$W/milter.log")
kill -HUP "$pid"
for ((i = 0; i < 50; i++)); do [ "$(grep -c 'reload: .* loaded' "$W/milter.log")" -ge 2 ] && break; sleep 0.1; done
mail n-ext alice@example.com bob@partner.example --external
mail n-nocert alice@example.com dave@nocert.example
wait_delivered n-ext || true
sleep 1
new=$(tail -n +"$((before + 1))" "$W/milter.log")
check "log-level notice: the refusal (notice) is logged" grep -qF 'notice: NOQUEUE: rejected recipient <dave@nocert.example>' <<<"$new"
check "log-level notice: no info nor debug line" none_of -E ": (info|debug): " <<<"$new"

# ---------------------------------------------------------------------------------------------
echo "# nothing of the content, no key material, in any log"
keylines=$W/keylines
cat "$K"/*.pem "$P"/private/*.key "$G"/*.key | grep -v -- '-----' | awk 'length($0) >= 16' >"$keylines"
logs=("$W/milter.log" "$W/postfix/maillog" "$W/sink/sink.log")
check "the body's marker is in no log" none_of -F -- "$MARKER" "${logs[@]}"
check "no line of any private key is in a log" none_of -F -f "$keylines" "${logs[@]}"
check "no PEM block is in a log" none_of -E -- "-----BEGIN|PRIVATE KEY" "${logs[@]}"

# ---------------------------------------------------------------------------------------------
echo "# smime-tool certs expiring -c: our own signing certificates too"
soon_until=$(date -u -d "@$SOON_END" +%Y-%m-%dT%H:%M:%SZ)
rc=0; out=$("$TOOL_BIN" certs expiring 20 -c "$W/good.conf" 2>&1) || rc=$?
is "certs expiring 20 -c: the signer 10 days from its end, exit 1" "$rc:$out" \
    "1:soon@example.com	$soon_until	$K/soon@example.com.pem (signing)"
rc=0; out=$("$TOOL_BIN" certs expiring 5 -c "$W/good.conf" 2>&1) || rc=$?
is "certs expiring 5 -c: nothing, exit 0" "$rc:$out" "0:"

# ---------------------------------------------------------------------------------------------
echo "# mode monitor"
milter_stop
harness_forget milter_stop
cp "$W/milter.log" "$W/milter-enforce.log"
sed -e 's/^log-level .*/log-level       debug/' -e 's/^sign .*/sign            yes\nmode            monitor/' "$W/good.conf" >"$C"
milter_start "$C" "$W/milter.log" || setup_failed "smime-milter in mode monitor"
wait_for_port "$METRICS_PORT" 10 || true
mail m-se alice@example.com bob@partner.example
mail m-nocert alice@example.com dave@nocert.example
mail m-mixed alice@example.com bob@partner.example,frank@plain.example
for id in m-se m-nocert m-mixed; do wait_delivered "$id" || true; done
wait_summaries 3 || true
for id in m-se m-nocert m-mixed; do
    f=$(delivered "$id" | head -n 1)
    "$PYTHON3" - "$f" "$W/msg-$id.eml" >"$W/$id.cmp" 2>&1 <<'PY' || true
import re, sys
got, sent = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
# Postfix's own trace header: one Received: field (folded) at the top
m = re.match(rb"Received:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", got)
rest = got[m.end():] if m else got
print("identical" if rest == sent else "differs: %r" % rest[:300])
PY
    is "monitor: $id delivered byte for byte as sent (after Received:)" "$(cat "$W/$id.cmp")" identical
done
is "monitor: every RCPT accepted" "$(cat "$W"/swaks-m-*.out | grep -c '^<\*\*' || true)" 0
check "monitor: the log says dave would have been rejected" \
    grep -qF 'NOQUEUE: monitor: not applied: rejected recipient <dave@nocert.example>: no certificate for dave@nocert.example (550 5.7.1)' "$W/milter.log"
check "monitor: the log says frank would have been deferred" \
    grep -qF 'monitor: not applied: deferred recipient <frank@plain.example>: no certificate for frank@plain.example, message is encrypted (451 4.7.1)' "$W/milter.log"
check "monitor: the summary says what would have been done" \
    grep -qE 'action=passed reason=monitor mode=monitor would=signed_encrypted from=<alice@example.com> .*rcpt1=<bob@partner.example> rcpt1.serial=' "$W/milter.log"
metrics_are "monitor: the metrics say what would have been done, and that all passed" \
    'smime_milter_messages_total{outcome="passed",reason="monitor"}=3' \
    'smime_milter_monitor_messages_total{outcome="signed_encrypted"}=2' \
    'smime_milter_monitor_messages_total{outcome="reject",reason="recipients"}=1' \
    'smime_milter_monitor_recipients_refused_total{reason="no_certificate"}=1' \
    'smime_milter_monitor_recipients_refused_total{reason="mixed"}=1'
echo "monitor-header yes" >>"$C"
kill -HUP "$(cat "$W/smime-milter.pid")"
for ((i = 0; i < 50; i++)); do grep -q 'reload: .* loaded' "$W/milter.log" && break; sleep 0.1; done
mail h-both alice@example.com bob@partner.example,dave@nocert.example
mail h-nocert alice@example.com dave@nocert.example
for id in h-both h-nocert; do wait_delivered "$id" || true; done
for c in "h-both:sign+encrypt; missing=1" "h-nocert:reject; reason=recipients; missing=1"; do
    id=${c%%:*}
    f=$(delivered "$id" | head -n 1)
    is "monitor-header yes: $id has X-SMIME-Milter-Would: ${c#*:}" "$(header_value "$f" X-SMIME-Milter-Would)" "${c#*:}"
    "$PYTHON3" - "$f" "$W/msg-$id.eml" >"$W/$id.cmp" 2>&1 <<'PY' || true
import re, sys
got, sent = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
m = re.match(rb"Received:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", got)
rest = got[m.end():] if m else got
rest = re.sub(rb"(?m)^X-SMIME-Milter-Would:[^\r\n]*\r\n", b"", rest, count=1)
print("identical" if rest == sent else "differs: %r" % rest[:300])
PY
    is "monitor-header yes: $id otherwise byte for byte as sent" "$(cat "$W/$id.cmp")" identical
done

finish
