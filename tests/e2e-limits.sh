#!/bin/bash
# End-to-end test of the limits (smime-milter.conf(5), "Limits") through a private Postfix on
# loopback: the reply the SMTP client gets (code and enhanced status), the milter's log line under
# the queue id Postfix gave the message, what reaches the sink (nothing in clear that policy
# encrypts) and the metrics by reason.
#   max-recipients 2      the third recipient: 452 4.5.3, the message goes to the first two
#   max-mime-depth 3      four nested multiparts: 554 5.6.0, nothing delivered
#   max-message-size 64k  encrypted: 552 5.3.4, nothing delivered; signed only (on-oversize
#                         pass-sign-only): delivered unchanged, unsigned
#   max-connections 1     a second SMTP session while one is open: 451 4.3.2; once the first
#                         is closed the client's retry is delivered
#   message-deadline 1    Postfix reaches the milter through a relay that, when asked, stops
#                         reading the milter's new body for 3 s; the milter's writes block, and
#                         the first piece after the deadline ends the work: 451 4.3.0, nothing
#                         delivered
#
# Usage (as root): tests/e2e-limits.sh
# Environment: SMIME_MILTER  milter binary (default milter/smime-milter)
#              E2E_KEEP=1    keep the work directory
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
# shellcheck source=lib/metrics.sh
. "$TESTS/lib/metrics.sh"
harness_need swaks openssl postconf curl
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-limits E2E_KEEP
register_log "Postfix maillog" "$W/postfix/maillog" 60
register_log "smime-milter log" "$W/milter.log" 60

"$TESTS/gen-certs.sh" "$W/pki" >/dev/null || setup_failed "test PKI (gen-certs.sh)"
SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
METRICS_PORT=$(free_port)
RELAY_PORT=$(free_port)
METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics

# conf FILE [EXTRA LINE...] : the suite's configuration (SIZE: max-message-size, default 64k)
conf() {
    local f=$1 size=${SIZE:-64k}
    shift
    cat >"$f" <<EOF
socket           inet:$MILTER_PORT@127.0.0.1
cert-dir         $W/pki/certs
key-dir          $W/pki/keys
internal-hosts   127.0.0.0/8 ::1
metrics-listen   127.0.0.1:$METRICS_PORT
sign             yes
<domain partner.example>
    encrypt      yes
</domain>
max-recipients   2
max-mime-depth   3
max-message-size $size
on-oversize      pass-sign-only
EOF
    printf '%s\n' "$@" >>"$f"
}
conf "$W/m.conf"
check "smime-milter -n accepts the configuration" "$MILTER_BIN" -n -c "$W/m.conf"
sink_start "$W/sink" "$SINK_PORT" || setup_failed "SMTP sink started"
milter_start "$W/m.conf" "$W/milter.log" || setup_failed "smime-milter started"

# The relay between Postfix and the milter: passes everything through, except that while the
# file $W/stall exists, the first new-body packet (SMFIR_REPLBODY) of the milter makes it stop
# reading the milter for 3 seconds (the file is removed then).  Its receive buffer is small, so
# the milter's writes block once its own send buffer (4 MB at most) is full.
"$PYTHON3" - "$RELAY_PORT" "$MILTER_PORT" "$W/stall" >"$W/relay.log" 2>&1 <<'PY' &
import os, socket, struct, sys, threading, time
port, milter, stall = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(64)
def pump(src, dst, packets):
    buf = b""
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            if packets:
                buf += d
                while len(buf) >= 5 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                    n = 4 + struct.unpack(">I", buf[:4])[0]
                    if buf[4:5] == b"b" and os.path.exists(stall):
                        os.unlink(stall)
                        print("stalling 3 s", flush=True)
                        time.sleep(3)
                    buf = buf[n:]
            dst.sendall(d)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = ls.accept()
    m = socket.socket()
    m.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    m.connect(("127.0.0.1", milter))
    threading.Thread(target=pump, args=(c, m, False), daemon=True).start()
    threading.Thread(target=pump, args=(m, c, True), daemon=True).start()
PY
relay_pid=$!
harness_on_exit kill "$relay_pid"
register_log "relay log" "$W/relay.log"
wait_for_port "$RELAY_PORT" 10 "$relay_pid" || setup_failed "relay to the milter started"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$RELAY_PORT" ||
    setup_failed "private Postfix started"

# message ID TO [CONTENT-TYPE] < BODY : a message file $W/ID.eml
message() {
    local id=$1 to=$2 ct=${3:-text/plain; charset=us-ascii}
    {
        printf 'From: Alice <alice@example.com>\r\nTo: %s\r\nSubject: limits %s\r\n' "$to" "$id"
        printf 'X-E2E-Id: %s\r\nMIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n' "$id" "$ct"
        cat
    } >"$W/$id.eml"
}

# refused_with ID CODE XCODE TEXT : swaks got "CODE XCODE TEXT" (after the command it names)
refused_with() {
    local out=$W/swaks-$1.out
    grep -qF "<** $2 $3 $4" "$out" && return 0
    echo "no \"$2 $3 $4\" in:"
    tail -n 8 "$out"
    return 1
}

# qid_of ID : the queue id Postfix gave message ID (its 250 reply to the end of DATA)
qid_of() {
    sed -n 's/^<- *250 .*queued as \([0-9A-Z]*\).*/\1/p' "$W/swaks-$1.out" | head -n 1
}

# milter_logged LINE : the milter logged LINE exactly (after "LEVEL: ")
milter_logged() {
    grep -qF ": $1" "$W/milter.log" && return 0
    echo "no line \"$1\" in the milter's log:"
    tail -n 5 "$W/milter.log"
    return 1
}

# rejected_qid TEXT : the queue id of the message Postfix's log says the milter refused with TEXT
rejected_qid() {
    grep -F "milter-reject: END-OF-MESSAGE" "$W/postfix/maillog" | grep -F "$1" |
        sed -n 's/.*: \([0-9A-Z]*\): milter-reject: .*/\1/p' | tail -n 1
}

# none_delivered ID : after a moment, nothing with ID reached the sink
none_delivered() {
    sleep 1
    [ -z "$(delivered "$1")" ] && return 0
    echo "delivered: $(delivered "$1")"
    return 1
}

# ---- max-recipients ----
echo "# max-recipients 2"
message rcpts "bob@partner.example, carol@partner.example, frank@partner.example" <<<"three recipients"
rc=0
send rcpts "$W/rcpts.eml" "bob@partner.example,carol@partner.example,frank@partner.example" || rc=$?
check "rcpts: frank (the third) deferred with 452 4.5.3 (swaks exit $rc)" refused_with rcpts 452 4.5.3 \
    "<frank@partner.example>: too many recipients for one message, send to the rest in another"
qid=$(qid_of rcpts || true)
check "rcpts: queued for the first two ($qid)" test -n "$qid"
check "rcpts: the milter logged the deferral under $qid" milter_logged \
    "$qid: deferred recipient <frank@partner.example>: the message has 2 recipients already (max-recipients)"
if wait_delivered rcpts 30; then
    f=$(first_delivered rcpts)
    check "rcpts: delivered encrypted (application/pkcs7-mime enveloped-data)" \
        grep -q "smime-type=enveloped-data" "$f"
    check "rcpts: the text is not in the delivered message" bash -c "! grep -q 'three recipients' '$f'"
else
    notok "rcpts: delivered to bob and carol" "$(tail -n 8 "$W/swaks-rcpts.out")"
fi

# ---- max-mime-depth ----
echo "# max-mime-depth 3"
{
    for i in 1 2 3; do
        printf -- '--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' $((i - 1)) "$i"
    done
    printf -- '--b3\r\nContent-Type: text/plain\r\n\r\nsecret depth\r\n'
    for i in 3 2 1 0; do printf -- '--b%d--\r\n' "$i"; done
} | message depth bob@partner.example 'multipart/mixed; boundary="b0"'
rc=0
send depth "$W/depth.eml" bob@partner.example || rc=$?
text="message refused by the S/MIME gateway: MIME parts nested deeper than 3 levels (max-mime-depth)"
check "depth: refused with 554 5.6.0 (swaks exit $rc)" refused_with depth 554 5.6.0 "$text"
qid=$(rejected_qid "nested deeper than 3 levels")
check "depth: Postfix logged the milter's reject ($qid)" test -n "$qid"
check "depth: the milter logged it under $qid" milter_logged \
    "$qid: rejected: MIME parts nested deeper than 3 levels (max-mime-depth)"
check "depth: nothing delivered" none_delivered depth

# ---- max-message-size, on-oversize pass-sign-only ----
echo "# max-message-size 64k, on-oversize pass-sign-only"
big() { for _ in $(seq 1 1000); do printf '%s\r\n' "secret size line of about seventy characters, one thousand of them"; done; }
big | message bigenc bob@partner.example
rc=0
send bigenc "$W/bigenc.eml" bob@partner.example || rc=$?
text="message larger than 65536 bytes, the most this S/MIME gateway processes"
check "bigenc: encrypted and too large: refused with 552 5.3.4 (swaks exit $rc)" \
    refused_with bigenc 552 5.3.4 "$text"
qid=$(rejected_qid "$text")
check "bigenc: the milter logged it under $qid" milter_logged \
    "$qid: rejected: message larger than 65536 bytes (max-message-size); its policy encrypts, so on-oversize pass-sign-only refuses it"
check "bigenc: nothing delivered" none_delivered bigenc
big | message bigsign dave@nocert.example
send bigsign "$W/bigsign.eml" dave@nocert.example || true
if wait_delivered bigsign 30; then
    f=$(first_delivered bigsign)
    qid=$(qid_of bigsign || true)
    check "bigsign: signed only and too large: delivered unsigned (text/plain)" \
        grep -q "^Content-Type: text/plain; charset=us-ascii" "$f"
    is "bigsign: the body is unchanged" "$(body_of "$f" | md5sum)" "$(body_of "$W/bigsign.eml" | md5sum)"
    check "bigsign: the milter logged it under $qid" milter_logged \
        "$qid: passed unsigned: message larger than 65536 bytes (max-message-size, on-oversize pass-sign-only)"
else
    notok "bigsign: delivered" "$(tail -n 8 "$W/swaks-bigsign.out")"
fi

metrics_are "metrics: one each of reject mime_depth, reject oversize, passed oversize, a refused recipient" \
    'smime_milter_messages_total{outcome="signed_encrypted"}=1' \
    'smime_milter_messages_total{outcome="reject",reason="mime_depth"}=1' \
    'smime_milter_messages_total{outcome="reject",reason="oversize"}=1' \
    'smime_milter_messages_total{outcome="passed",reason="oversize"}=1' \
    'smime_milter_recipients_refused_total{reason="too_many_recipients"}=1' \
    'smime_milter_processing_seconds_count=1' \
    "smime_milter_body_bytes_in_total=$(metric_value smime_milter_body_bytes_in_total)" \
    "smime_milter_body_bytes_out_total=$(metric_value smime_milter_body_bytes_out_total)"

# ---- max-connections ----
echo "# max-connections 1"
conf "$W/m1.conf" "max-connections 1"
milter_restart "$W/m1.conf" "$W/milter.log" || setup_failed "smime-milter restarted with max-connections 1"
# held_and_refused HOLD ID : with one SMTP session held open (HOLD: the label of its check),
# message ID is refused with 451 4.3.2 and the refusal logged; once the session ends, the retry
# is queued and delivered encrypted
held_and_refused() {
    local hold=$1 id=$2 banner rc=0
    exec 3<>"/dev/tcp/127.0.0.1/$SMTPD_PORT"
    read -r -t 10 banner <&3 || banner=""
    check "$hold: the first session is greeted (${banner%$'\r'})" test -n "$banner"
    sleep 1
    message "$id" bob@partner.example <<<"$id session"
    send "$id" "$W/$id.eml" bob@partner.example || rc=$?
    check "$id: refused with 451 4.3.2 while the first is open (swaks exit $rc)" refused_with "$id" \
        451 4.3.2 "too many connections to the S/MIME gateway, try again later"
    check "$id: the milter logged the refused connection" milter_logged \
        "refused the MTA's connection for client localhost: 1 connections are being served (max-connections 1)"
    printf 'QUIT\r\n' >&3
    exec 3<&-
    sleep 1
    rc=0
    send "$id" "$W/$id.eml" bob@partner.example || rc=$?
    check "$id: the retry after the first session ended is queued (swaks exit $rc)" \
        grep -qE '^<- +250 .*queued' "$W/swaks-$id.out"
    if wait_delivered "$id" 30; then
        check "$id: delivered encrypted" grep -q "smime-type=enveloped-data" "$(first_delivered "$id")"
    else
        notok "$id: delivered" "$(tail -n 8 "$W/swaks-$id.out")"
    fi
}
# Postfix connects to the milter when the session starts
held_and_refused hold second

metrics_are "metrics: one connection refused" 'smime_milter_connections_refused_total=1' \
    'smime_milter_messages_total{outcome="signed_encrypted"}=1' \
    'smime_milter_processing_seconds_count=1' \
    "smime_milter_body_bytes_in_total=$(metric_value smime_milter_body_bytes_in_total)" \
    "smime_milter_body_bytes_out_total=$(metric_value smime_milter_body_bytes_out_total)"
# ---- message-deadline ----
echo "# message-deadline 1"
SIZE=20M conf "$W/m2.conf" "message-deadline 1"
milter_restart "$W/m2.conf" "$W/milter.log" || setup_failed "smime-milter restarted with message-deadline 1"
"$PYTHON3" -c 'import os, sys
sys.stdout.buffer.write(b"".join(os.urandom(54).hex().encode() + b"\r\n" for _ in range(55000)))' |
    message slow bob@partner.example
touch "$W/stall"
rc=0
send slow "$W/slow.eml" bob@partner.example || rc=$?
check "slow: the relay stalled the new body" test ! -e "$W/stall"
check "slow: deferred with 451 4.3.0 (swaks exit $rc)" refused_with slow 451 4.3.0 \
    "S/MIME processing took too long, try again later"
qid=$(grep -F "milter-reject: END-OF-MESSAGE" "$W/postfix/maillog" | grep -F "4.3.0" |
    sed -n 's/.*: \([0-9A-Z]*\): milter-reject: .*/\1/p' | tail -n 1)
check "slow: the milter logged it under $qid" milter_logged \
    "$qid: tempfail: processing took longer than 1 seconds (message-deadline), stopped while writing the new body"
check "slow: nothing delivered" none_delivered slow
metrics_are "metrics: one message past its deadline" \
    'smime_milter_messages_total{outcome="tempfail",reason="deadline"}=1' \
    'smime_milter_processing_seconds_count=1'

# ---- max-connections on a unix socket: connect is a no-reply event there ----
echo "# max-connections 1 on a unix socket (no reply awaited at connect: the 4xx comes at MAIL)"
conf "$W/m3.conf" "max-connections 1" "socket-group postfix"
sed -i "s|^socket .*|socket           unix:$W/milter.sock|" "$W/m3.conf"
milter_restart "$W/m3.conf" "$W/milter.log" || setup_failed "smime-milter restarted on a unix socket"
postconf -c "$W/postfix/etc" -e "smtpd_milters = unix:$W/milter.sock" &&
    postfix -c "$W/postfix/etc" reload >/dev/null 2>&1 || setup_failed "Postfix switched to the unix socket"
sleep 1
held_and_refused "unix hold" third

finish
