#!/bin/bash
# End-to-end reload under load: smime-milter (supervisor + milter process, pid-file) inside a
# private Postfix on loopback, delivering to an SMTP sink, while a bounded stream of messages to
# bob is injected with swaks and the milter is told to reload:
#   - SIGHUP to the supervisor (the pid in pid-file) and SIGUSR1 (to the supervisor and to the
#     milter process) several times while messages are in flight;
#   - once with a BROKEN configuration: refused (FILE:LINE: ... and "keeping the configuration in
#     force" in the log), mail keeps flowing encrypted;
#   - then a changed configuration (aes-128-cbc instead of aes-256-cbc) that must take effect.
# Every message is accepted (250) or tempfailed (4xx, then sent again, bounded); every accepted
# message reaches the sink exactly once, encrypted (application/pkcs7-mime), and decrypts with
# bob's key (openssl cms) to an entity that contains its own marker and carries alice's valid
# signature; no marker appears in clear in anything delivered.
# Then: SIGKILL of the milter process -> the supervisor starts a new one and mail flows again;
# SIGTERM to the supervisor -> both processes stop, exit status 0, pid-file removed.
#
# Usage (as root): tests/e2e-reload.sh
# Environment: SMIME_MILTER     milter binary (default milter/smime-milter)
#              RELOAD_MESSAGES  messages in the stream (default 40)
#              E2E_KEEP=1       keep the work directory (printed at the end)
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need swaks openssl postconf pgrep
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-reload E2E_KEEP

MESSAGES=${RELOAD_MESSAGES:-40}
BATCH=4          # messages in flight at once
RETRIES=8        # sends of one message before giving up on 4xx replies
SINK=$W/sink
CONF=$W/smime-milter.conf
PIDFILE=$W/run/smime-milter.pid
LOG=$W/milter.log
BOB=bob@partner.example

register_log "smime-milter log" "$LOG" 60
register_log "Postfix maillog" "$W/postfix/maillog" 40

# milter processes this script saw (in $W/children), stopped on exit whatever happens (by pid)
stop_children() {
    local p
    [ -r "$W/children" ] || return 0
    while read -r p; do
        if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
    done < <(sort -u "$W/children")
    return 0
}
harness_on_exit stop_children

# ---------------------------------------------------------------------------------------------
echo "# setting up in $W"
"$TESTS/gen-certs.sh" "$W/pki" >/dev/null || setup_failed "gen-certs.sh"
mkdir -p "$W/run"
SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)

write_conf() { # CIPHER [BROKEN-LINE]
    {
        echo "# smime-milter for the reload test"
        echo "socket          inet:$MILTER_PORT@127.0.0.1"
        echo "pid-file        $PIDFILE"
        echo "cert-dir        $W/pki/certs"
        echo "key-dir         $W/pki/keys"
        echo "internal-hosts  127.0.0.0/8 ::1"
        echo "sign            yes"
        echo "encrypt         yes"
        echo "cipher          $1"
        echo "on-error        tempfail"
        if [ -n "${2:-}" ]; then echo "$2"; fi
    } >"$CONF.new"
    mv "$CONF.new" "$CONF"
}
write_conf aes-256-cbc

out=$("$MILTER_BIN" -n -c "$CONF" 2>&1) || setup_failed "smime-milter -n refuses the configuration: $out"
sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
milter_start "$CONF" "$LOG" || setup_failed "smime-milter did not start"
SUP=$HARNESS_MILTER_PID
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix did not start"
echo "# postfix 127.0.0.1:$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT"

# the milter process: the supervisor's only child
child_pid() {
    local p
    p=$(milter_child "$SUP")
    if [ -n "$p" ]; then echo "$p" >>"$W/children"; fi
    echo "$p"
}

wait_for_file "$PIDFILE" 10 || true
if [ -s "$PIDFILE" ] && [ "$(tr -d ' \n' <"$PIDFILE")" = "$SUP" ]; then
    ok "pid-file holds the supervisor's pid ($SUP)"
else
    notok "pid-file holds the supervisor's pid ($SUP)" "pid-file: $(cat "$PIDFILE" 2>/dev/null || echo missing)"
fi
CHILD=$(child_pid)
if [ -n "$CHILD" ] && [ "$CHILD" != "$SUP" ]; then
    ok "a separate milter process runs under the supervisor ($CHILD)"
else
    notok "a separate milter process runs under the supervisor" "children of $SUP: none"
fi

# ---------------------------------------------------------------------------------------------
# Sending: one message per id, "X-Reload-Id: ID" outside, a unique marker inside.
MARK_SALT=$(openssl rand -hex 6)
marker() { echo "reload-marker-$1-$MARK_SALT"; }

make_message() { # ID -> $W/msg/ID.wire (DATA as swaks --no-data-fixup sends it)
    local id=$1
    mkdir -p "$W/msg"
    printf 'From: Alice <alice@example.com>\r\nTo: Bob <%s>\r\nSubject: reload test %s\r\nMessage-ID: <%s.reload@example.com>\r\nX-Reload-Id: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nMessage %s of the reload test.\r\n%s\r\n.' \
        "$BOB" "$id" "$id" "$id" "$id" "$(marker "$id")" >"$W/msg/$id.wire"
}

# send_once ID: one SMTP transaction; status in $W/msg/ID.status: "accepted", "tempfail" or "failed"
send_once() {
    local id=$1 out=$W/swaks-$1.out
    send --wire "$id" "$W/msg/$id.wire" "$BOB" || true
    cp "$out" "$W/msg/$id.swaks"
    if grep -qE '^<- +250 .*queued as' "$out"; then
        echo accepted >"$W/msg/$id.status"
    elif grep -qE '^<\*\* +4[0-9][0-9][ -]' "$out"; then
        echo tempfail >"$W/msg/$id.status"
    else
        echo failed >"$W/msg/$id.status"
    fi
}

# send_until_accepted ID: send; on 4xx send again (bounded); counts attempts
send_until_accepted() {
    local id=$1 i
    for ((i = 1; i <= RETRIES; i++)); do
        send_once "$id"
        echo "$i" >"$W/msg/$id.tries"
        case $(cat "$W/msg/$id.status") in
            accepted | failed) return 0 ;;
        esac
        sleep 1
    done
}

# sig SIGNAL PID WHAT; a signal that finds no process is a failed check (made at the end)
SIG_LOST=()
sig() {
    if kill -"$1" "$2" 2>/dev/null; then
        echo "# sent SIG$1 to $3 ($2)"
        SIGNALS=$((SIGNALS + 1))
    else
        SIG_LOST+=("SIG$1 to $3 ($2): no such process")
    fi
}

wait_log() { # SECONDS PATTERN [FROM-LINE] : an extended regex in the milter log after FROM-LINE
    local secs=$1 pat=$2 from=${3:-0} i
    for ((i = 0; i < secs * 10; i++)); do
        tail -n +"$((from + 1))" "$LOG" | grep -qE "$pat" && return 0
        sleep 0.1
    done
    return 1
}
log_lines() { wc -l <"$LOG"; }

# ---------------------------------------------------------------------------------------------
# The stream. Batches of $BATCH concurrent senders; signals go while a batch is in flight.
echo "# injecting $MESSAGES messages, $BATCH at a time, with reloads"
SIGNALS=0
BROKEN_AT=$((MESSAGES / 2))      # batch starting here: broken configuration
CHANGE_AT=$((MESSAGES * 3 / 4))  # batch starting here: aes-128-cbc configuration
CHANGED_FROM=""                  # first id sent after the aes-128-cbc reload was confirmed
broken_ok=0
for ((k = 1; k <= MESSAGES; k += BATCH)); do
    pids=()
    for ((j = k; j < k + BATCH && j <= MESSAGES; j++)); do
        make_message "m$j"
        send_until_accepted "m$j" &
        pids+=($!)
    done
    sleep 0.2 # let the transactions get under way
    b=$(((k - 1) / BATCH))
    CHILD=$(child_pid)
    case $((b % 4)) in
        0) sig HUP "$SUP" supervisor ;;
        1) sig USR1 "$SUP" supervisor ;;
        2) [ -n "$CHILD" ] && sig USR1 "$CHILD" "milter process" ;;
        3) sig HUP "$SUP" supervisor; sleep 0.05; sig HUP "$SUP" supervisor ;;
    esac
    if [ "$k" -le "$BROKEN_AT" ] && [ "$((k + BATCH))" -gt "$BROKEN_AT" ]; then
        from=$(log_lines)
        write_conf aes-256-cbc "digest          sha-512-ish"
        BROKEN_LINE=$(grep -n 'sha-512-ish' "$CONF" | cut -d: -f1)
        sig HUP "$SUP" "supervisor (broken configuration)"
        if wait_log 10 "$CONF:$BROKEN_LINE: .*sha-512-ish" "$from" &&
                wait_log 10 "keeping the configuration in force" "$from"; then
            broken_ok=1
        fi
        BROKEN_LOG=$(tail -n +"$((from + 1))" "$LOG")
    fi
    if [ "$k" -le "$CHANGE_AT" ] && [ "$((k + BATCH))" -gt "$CHANGE_AT" ]; then
        from=$(log_lines)
        write_conf aes-128-cbc
        sig HUP "$SUP" "supervisor (aes-128-cbc configuration)"
        if wait_log 10 "reload: .* loaded" "$from"; then
            CHANGED_FROM=$((k + BATCH))
        fi
    fi
    for p in "${pids[@]}"; do wait "$p" || true; done
done
echo "# $SIGNALS signals sent during the stream"

if [ "$broken_ok" = 1 ]; then
    ok "broken configuration refused on reload: log names $CONF:$BROKEN_LINE and keeps the configuration in force"
else
    notok "broken configuration refused on reload: log names $CONF:$BROKEN_LINE and keeps the configuration in force" \
        "log after the reload request:
${BROKEN_LOG:-}"
fi
if kill -0 "$SUP" 2>/dev/null; then
    ok "the supervisor survived the reloads"
else
    notok "the supervisor survived the reloads"
fi

# ---------------------------------------------------------------------------------------------
# Verdicts on the stream
statuses() { local s; for ((j = 1; j <= MESSAGES; j++)); do s=$(cat "$W/msg/m$j.status" 2>/dev/null || echo none); echo "m$j $s $(cat "$W/msg/m$j.tries" 2>/dev/null || echo 0)"; done; }
not_accepted=$(statuses | awk '$2 != "accepted"')
retried=$(statuses | awk '$3 > 1 { n++ } END { print n + 0 }')
if [ -z "$not_accepted" ]; then
    ok "all $MESSAGES messages accepted (250), $retried after a 4xx and a new attempt"
else
    details=""
    while read -r id _ _; do
        details="$details$id: $(grep -E '^<(\*\*|-) +[0-9]{3}' "$W/msg/$id.swaks" | tail -n 2 | tr '\n' ' ')
"
    done <<<"$not_accepted"
    notok "all $MESSAGES messages accepted (250) (4xx sent again, at most $RETRIES times)" "$details"
fi

# wait for the deliveries of what was accepted
accepted=$(statuses | awk '$2 == "accepted"' | wc -l)
sink_wait "$SINK" "$accepted" 60 || true
sleep 1 # let any duplicate arrive

# index the sink by X-Reload-Id
declare -A FILE_OF=()
declare -A COUNT_OF=()
for f in "$SINK"/msg-*.eml; do
    [ -e "$f" ] || continue
    id=$(sed -n '1,/^\r\{0,1\}$/{s/^X-Reload-Id: \([A-Za-z0-9]*\)\r\{0,1\}$/\1/p}' "$f" | head -n 1)
    [ -n "$id" ] || id=none
    COUNT_OF[$id]=$((${COUNT_OF[$id]:-0} + 1))
    FILE_OF[$id]=$f
done

once_bad=""
for ((j = 1; j <= MESSAGES; j++)); do
    id=m$j
    [ "$(cat "$W/msg/$id.status" 2>/dev/null)" = accepted ] || continue
    [ "${COUNT_OF[$id]:-0}" -eq 1 ] || once_bad="$once_bad $id:${COUNT_OF[$id]:-0}"
done
[ "${COUNT_OF[none]:-0}" -eq 0 ] || once_bad="$once_bad (without X-Reload-Id):${COUNT_OF[none]}"
if [ -z "$once_bad" ]; then
    ok "every accepted message delivered exactly once ($accepted messages, $(sink_count "$SINK") in the sink)"
else
    notok "every accepted message delivered exactly once" "id:deliveries —$once_bad"
fi

# plaintext markers anywhere in what was delivered
if grep -l "reload-marker-" "$SINK"/msg-*.eml >/dev/null 2>&1; then
    notok "no marker in clear in any delivered message" "$(grep -l "reload-marker-" "$SINK"/msg-*.eml | head)"
else
    ok "no marker in clear in any delivered message"
fi

# each delivered message: enveloped-data, decrypts for bob to its own marker, alice's signature
judge_one() { # ID FILE -> 0 when fine; reason on stdout otherwise
    local id=$1 f=$2 inner=$W/judge/$1.inner
    mkdir -p "$W/judge"
    if ! sed -n '1,/^\r\{0,1\}$/p' "$f" | grep -qiE '^Content-Type: *application/pkcs7-mime; *smime-type=enveloped-data'; then
        echo "$id: Content-Type is not application/pkcs7-mime; smime-type=enveloped-data"
        return 1
    fi
    if ! openssl cms -decrypt -in "$f" -recip "$W/pki/private/$BOB.crt" -inkey "$W/pki/private/$BOB.key" \
            -out "$inner" 2>"$W/judge/$id.err"; then
        echo "$id: openssl cms -decrypt failed: $(head -n 2 "$W/judge/$id.err")"
        return 1
    fi
    if ! grep -qF "$(marker "$id")" "$inner"; then
        echo "$id: the decrypted entity lacks its marker"
        return 1
    fi
    if ! openssl cms -verify -in "$inner" -CAfile "$W/pki/ca/root.crt" -out "$W/judge/$id.content" \
            2>"$W/judge/$id.err" || ! grep -qF "$(marker "$id")" "$W/judge/$id.content"; then
        echo "$id: alice's signature does not verify: $(head -n 2 "$W/judge/$id.err")"
        return 1
    fi
}
judge_bad=""
judged=0
for ((j = 1; j <= MESSAGES; j++)); do
    id=m$j
    f=${FILE_OF[$id]:-}
    [ -n "$f" ] || continue
    judged=$((judged + 1))
    if ! why=$(judge_one "$id" "$f"); then judge_bad="$judge_bad$why
"; fi
done
if [ -z "$judge_bad" ] && [ "$judged" -eq "$accepted" ] && [ "$judged" -gt 0 ]; then
    ok "all $judged delivered messages: application/pkcs7-mime, decrypt for bob (openssl cms) to their own marker, alice's signature verifies"
else
    notok "all delivered messages: application/pkcs7-mime, decrypt for bob to their own marker, alice's signature verifies" \
        "judged $judged of $accepted accepted
$judge_bad"
fi

# the aes-128-cbc configuration took effect for messages sent after its reload
cipher_of() { # FILE -> the content-encryption algorithm's name
    local der=$W/judge/cipher.der
    "$PYTHON3" -c 'import base64, sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(base64.b64decode(d.split(b"\r\n\r\n", 1)[1]))' "$1" "$der" &&
        openssl cms -cmsout -print -inform DER -in "$der" |
        sed -n '/contentEncryptionAlgorithm:/{n;s/^ *algorithm: *\([^ ]*\).*/\1/p;q}'
}
if [ -z "$CHANGED_FROM" ]; then
    notok "the changed configuration (aes-128-cbc) was loaded on SIGHUP" "no \"reload: ... loaded\" in the log"
else
    wrong=""
    checked=0
    for ((j = CHANGED_FROM; j <= MESSAGES; j++)); do
        f=${FILE_OF[m$j]:-}
        [ -n "$f" ] || continue
        checked=$((checked + 1))
        c=$(cipher_of "$f" || true)
        [ "$c" = aes-128-cbc ] || wrong="$wrong m$j:${c:-?}"
    done
    early=$(cipher_of "${FILE_OF[m1]:-/dev/null}" 2>/dev/null || true)
    if [ -z "$wrong" ] && [ "$checked" -gt 0 ] && [ "$early" = aes-256-cbc ]; then
        ok "before the change aes-256-cbc; the $checked messages sent after the aes-128-cbc reload use aes-128-cbc"
    else
        notok "before the change aes-256-cbc; messages sent after the aes-128-cbc reload use aes-128-cbc" \
            "first message: ${early:-?}; checked $checked after the reload; wrong:$wrong"
    fi
fi

# ---------------------------------------------------------------------------------------------
# A crashed milter process is restarted by the supervisor; mail flows again.
echo "# SIGKILL to the milter process"
OLD=$(child_pid)
from=$(log_lines)
if [ -z "$OLD" ]; then
    notok "SIGKILL to the milter process: a new one is started" "no milter process found"
else
    kill -KILL "$OLD"
    # a message sent at once meets no milter: Postfix tempfails it (milter_default_action), and
    # it is sent again until accepted
    make_message after-kill
    send_until_accepted after-kill &
    sender=$!
    NEW=""
    for ((i = 0; i < 100; i++)); do
        NEW=$(child_pid)
        [ -n "$NEW" ] && [ "$NEW" != "$OLD" ] && port_listening "$MILTER_PORT" && break
        NEW=""
        sleep 0.1
    done
    if [ -n "$NEW" ] && kill -0 "$SUP" 2>/dev/null && wait_log 5 "signal 9" "$from"; then
        ok "SIGKILL to the milter process ($OLD): the supervisor logs it and starts a new one ($NEW)"
    else
        notok "SIGKILL to the milter process ($OLD): the supervisor logs it and starts a new one" \
            "new child: ${NEW:-none}; log: $(tail -n +"$((from + 1))" "$LOG")"
    fi
    wait "$sender" || true
    if [ "$(cat "$W/msg/after-kill.status")" = accepted ] && sink_wait "$SINK" $((accepted + 1)) 30; then
        f=""
        for g in "$SINK"/msg-*.eml; do
            grep -q '^X-Reload-Id: after-kill' "$g" && f=$g
        done
        if [ -n "$f" ] && why=$(judge_one after-kill "$f"); then
            ok "a message sent during the restart is accepted and delivered encrypted ($(cat "$W/msg/after-kill.tries") attempt(s))"
        else
            notok "a message sent during the restart is accepted and delivered encrypted" "${why:-not found in the sink}"
        fi
    else
        notok "a message sent during the restart is accepted and delivered encrypted" \
            "$(cat "$W/msg/after-kill.status"): $(grep -E '^<(\*\*|-) +[0-9]{3}' "$W/msg/after-kill.swaks" | tail -n 2)"
    fi
fi

# A reload requested while the supervisor waits to restart a crashed milter process must not
# kill the new process (it is started with the reload pending).
echo "# SIGKILL to the milter process, then SIGHUP during the restart delay"
OLD=$(child_pid)
from=$(log_lines)
if [ -z "$OLD" ]; then
    notok "SIGHUP during the restart delay: the new milter process survives" "no milter process found"
else
    kill -KILL "$OLD"
    sleep 0.3
    sig HUP "$SUP" "supervisor (restart pending)"
    sleep 3 # the restart delay (1 s), and time for a second crash and restart if there is one
    for ((i = 0; i < 50; i++)); do
        NEW=$(child_pid)
        [ -n "$NEW" ] && port_listening "$MILTER_PORT" && break
        sleep 0.1
    done
    after=$(tail -n +"$((from + 1))" "$LOG")
    restarts=$(grep -c 'restarting' <<<"$after" || true)
    if [ "$restarts" -eq 1 ] && ! grep -q 'signal 10\|signal 1[^0-9]' <<<"$after" && [ -n "$NEW" ]; then
        ok "SIGHUP during the restart delay: the new milter process survives (one restart, $NEW)"
    else
        notok "SIGHUP during the restart delay: the new milter process survives" \
            "$restarts restarts after one SIGKILL; log:
$after"
    fi
    make_message after-hup
    send_until_accepted after-hup
    if [ "$(cat "$W/msg/after-hup.status")" = accepted ] && sink_wait "$SINK" $((accepted + 2)) 30; then
        f=""
        for g in "$SINK"/msg-*.eml; do
            grep -q '^X-Reload-Id: after-hup' "$g" && f=$g
        done
        if [ -n "$f" ] && why=$(judge_one after-hup "$f"); then
            ok "then a message is accepted and delivered encrypted ($(cat "$W/msg/after-hup.tries") attempt(s))"
        else
            notok "then a message is accepted and delivered encrypted" "${why:-not found in the sink}"
        fi
    else
        notok "then a message is accepted and delivered encrypted" \
            "$(cat "$W/msg/after-hup.status"): $(grep -E '^<(\*\*|-) +[0-9]{3}' "$W/msg/after-hup.swaks" | tail -n 2)"
    fi
fi

# ---------------------------------------------------------------------------------------------
# SIGTERM to the supervisor: both processes stop, exit 0, pid-file removed.
echo "# SIGTERM to the supervisor"
CHILD=$(child_pid)
kill -TERM "$SUP"
rc=0
for ((i = 0; i < 200; i++)); do
    kill -0 "$SUP" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$SUP" 2>/dev/null; then
    notok "SIGTERM: the supervisor stops within 20 s"
else
    wait "$SUP" || rc=$?
    harness_forget milter_stop
    problems=""
    [ "$rc" -eq 0 ] || problems="$problems exit status $rc;"
    if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then problems="$problems milter process $CHILD still runs;"; fi
    [ ! -e "$PIDFILE" ] || problems="$problems pid-file $PIDFILE left behind;"
    if port_listening "$MILTER_PORT"; then problems="$problems port $MILTER_PORT still listening;"; fi
    if [ -z "$problems" ]; then
        ok "SIGTERM to the supervisor: both processes stop, exit status 0, pid-file removed"
    else
        notok "SIGTERM to the supervisor: both processes stop, exit status 0, pid-file removed" "$problems"
    fi
fi

if grep -qE '(panic|fatal):' "$W/postfix/maillog"; then
    notok "no fatal or panic in the Postfix log" "$(grep -E '(panic|fatal):' "$W/postfix/maillog" | head -5)"
else
    ok "no fatal or panic in the Postfix log"
fi
for lost in ${SIG_LOST[@]+"${SIG_LOST[@]}"}; do notok "$lost"; done
finish
