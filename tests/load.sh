#!/bin/bash
# Load through a private Postfix on loopback: LOAD_SESSIONS (200) SMTP sessions open at once,
# each sending LOAD_MESSAGES (10) messages from alice to bob, signed and encrypted by
# smime-milter (supervisor + milter process), delivered to an SMTP sink. While the stream
# runs, the supervisor gets a SIGHUP (reload) every second, and half way the milter process
# gets a SIGKILL (the supervisor starts a new one). The client closes a session on any 4xx or
# dropped connection and sends the message again in a new one.
# Checked: all sessions were open at once; every message was accepted, every refusal a 4xx;
# every accepted message is in the sink exactly once (by its X-Load-Id), none in clear, each
# enveloped-data that OpenSSL decrypts for bob to its own marker with alice's valid signature
# (gpgsm and NSS on a sample, tests/judges.sh); reloads all loaded; one restart after the
# SIGKILL; each milter process's RSS late in its life within 20% of its RSS after warm-up.
# Figures (sessions, messages, refusals, RSS, timings) are printed as TAP comments.
# Against an ASan build (SMIME_MILTER) the RSS checks fail by design: ASan's quarantine keeps
# freed memory; the other checks hold there too.
#
# Usage (as root): tests/load.sh
# Environment: SMIME_MILTER   milter binary (default milter/smime-milter)
#              LOAD_SESSIONS  concurrent sessions (default 200)
#              LOAD_MESSAGES  messages per session (default 10)
#              LOAD_KEEP=1    keep the work directory (printed at the end)
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need swaks openssl postconf pgrep
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-load LOAD_KEEP

SESSIONS=${LOAD_SESSIONS:-200}
PER=${LOAD_MESSAGES:-10}
TOTAL=$((SESSIONS * PER))
WARM=$SESSIONS # messages accepted before a process counts as warmed up
BOB=bob@partner.example
CONF=$W/smime-milter.conf
LOG=$W/milter.log
# shellcheck disable=SC2034 # read by smtp_load and sink_ids
HARNESS_ID_HEADER=X-Load-Id
SALT=$(openssl rand -hex 6)
T0=$(date +%s)

echo "# setting up in $W"
"$TESTS/gen-certs.sh" "$W/pki" >/dev/null || setup_failed "gen-certs.sh"
SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
mkdir -p "$W/run" "$W/inner"
cat >"$CONF" <<EOF
# smime-milter for the load test
socket          inet:$MILTER_PORT@127.0.0.1
pid-file        $W/run/smime-milter.pid
cert-dir        $W/pki/certs
key-dir         $W/pki/keys
internal-hosts  127.0.0.0/8
sign            yes
encrypt         yes
on-error        tempfail
EOF
sink_start "$W/sink" "$SINK_PORT" || setup_failed "SMTP sink did not start"
milter_start "$CONF" "$LOG" || setup_failed "smime-milter did not start"
SUP=$HARNESS_MILTER_PID
# room for every session at once: smtpd processes, and the clients of one address
HARNESS_POSTFIX_MAIN_CF="default_process_limit = $((SESSIONS + 50))
smtpd_client_connection_count_limit = 0
in_flow_delay = 0" postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix did not start"
echo "# postfix 127.0.0.1:$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT (supervisor $SUP)"
FIRST=$(milter_child "$SUP")
[ -n "$FIRST" ] || setup_failed "a milter process runs under the supervisor"
FDS0=$(open_files "$FIRST")

# ---------------------------------------------------------------------------------------------
# The stream, and beside it one SIGHUP a second, RSS samples, one SIGKILL half way
echo "# $SESSIONS sessions x $PER messages, SIGHUP every second, SIGKILL of the milter process at $((TOTAL / 2)) accepted"
smtp_load --sessions "$SESSIONS" --messages "$PER" --prefix l --to "$BOB" --size 2000 \
    --pause 1 --deadline 200 --progress "$W/progress" --inner-dir "$W/inner" "$W/results" "$SALT" \
    >"$W/load.out" 2>"$W/load.err" &
LOADER=$!
harness_on_exit stop_pid "$LOADER" load-client
: >"$W/rss.log" # SECONDS PID RSS_KB ACCEPTED OPEN_FILES
HUPS=0
KILLED_AT=""
KILLED=""
t_start=$(date +%s.%N)
tick=0
while kill -0 "$LOADER" 2>/dev/null; do
    sleep 0.1
    tick=$((tick + 1))
    acc=$(cat "$W/progress" 2>/dev/null || echo 0)
    if [ -z "$KILLED" ] && [ "$acc" -ge $((TOTAL / 2)) ]; then
        child=$(milter_child "$SUP")
        if [ -n "$child" ]; then
            echo "$(date +%s) $child $(rss_kb "$child") $acc $(open_files "$child")" >>"$W/rss.log"
            kill -KILL "$child"
            KILLED=$child
            KILLED_AT=$acc
            echo "# SIGKILL to the milter process $child with $acc messages accepted"
        fi
    fi
    [ $((tick % 10)) = 0 ] || continue
    kill -HUP "$SUP" 2>/dev/null && HUPS=$((HUPS + 1))
    child=$(milter_child "$SUP")
    rss=$(rss_kb "${child:-0}")
    [ "$rss" = 0 ] || echo "$(date +%s) $child $rss $acc $(open_files "$child")" >>"$W/rss.log"
done
wait "$LOADER" || true
harness_forget stop_pid "$LOADER" load-client
t_load=$("$PYTHON3" -c "import time; print('%.1f' % (time.time() - $t_start))")
read -r LOAD_FIGURES <"$W/load.out" || LOAD_FIGURES=""
echo "# client: $LOAD_FIGURES"
echo "# $TOTAL messages in $t_load s: $("$PYTHON3" -c "print('%.0f' % ($TOTAL / max($t_load, 0.1)))") messages/s through Postfix and the milter"
[ -s "$W/load.err" ] && sed 's/^/# client stderr: /' "$W/load.err" | head -n 5
fig() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$LOAD_FIGURES"; }

peak_fds=$(awk -v pid="$FIRST" '$2 == pid && $5 > m { m = $5 } END { print m + 0 }' "$W/rss.log")
echo "# milter process $FIRST: $FDS0 open files before the stream, at most $peak_fds during it"
if [ "$(fig peak)" = "$SESSIONS" ] && [ "$peak_fds" -ge $((FDS0 + SESSIONS)) ]; then
    ok "all $SESSIONS sessions were open at once, each with its connection to the milter"
else
    notok "all $SESSIONS sessions were open at once, each with its connection to the milter" \
        "client's peak: $(fig peak); the milter's open files: $FDS0 before, at most $peak_fds"
fi
bad=$(awk '$2 != "accepted"' "$W/results" | head -n 20)
is "all $TOTAL messages accepted (250) in $t_load s, sent again after a 4xx or a dropped connection" \
    "$(awk '$2 == "accepted"' "$W/results" | wc -l)${bad:+$'\n'$bad}" "$TOTAL"
codes=$(awk '$4 != "-" { n = split($4, c, ","); for (i = 1; i <= n; i++) print c[i] }' "$W/results" |
    sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
echo "# refusals seen by the client: ${codes:-none}; $(fig 4xx) 4xx, $(fig drops) dropped connections, $(fig connections) connections"
five=$(awk '$4 ~ /(^|,)5[0-9][0-9]/' "$W/results" | head -n 10)
is "every refusal was a 4xx (no 5xx)" "$five" ""

# ---------------------------------------------------------------------------------------------
# The sink: exactly once, nothing in clear, OpenSSL on everything
accepted=$(awk '$2 == "accepted"' "$W/results" | wc -l)
t0=$(date +%s)
sink_wait "$W/sink" "$accepted" 120 || true
sleep 2 # a duplicate would come now
echo "# $(sink_count "$W/sink") messages in the sink, $(($(date +%s) - t0)) s after the client ended"
sink_ids >"$W/ids"
dups=$(awk '{ n[$1]++ } END { for (i in n) if (n[i] > 1) print i " x" n[i] }' "$W/ids" | head -n 10)
missing=$(awk 'NR == FNR { seen[$1] = 1; next } $2 == "accepted" && !($1 in seen) { print $1 }' \
    "$W/ids" "$W/results" | head -n 10)
strays=$(awk 'NR == FNR { if ($2 == "accepted") a[$1] = 1; next } !($1 in a) { print $1 }' \
    "$W/results" "$W/ids" | head -n 10)
is "every accepted message delivered exactly once (by X-Load-Id)" \
    "dup:[$dups] missing:[$missing] not accepted:[$strays]" "dup:[] missing:[] not accepted:[]"
clear=$(grep -l "load-marker-" "$W/sink"/msg-*.eml 2>/dev/null | head -n 5 || true)
is "no marker in clear in any delivered message" "$clear" ""
t0=$(date +%s)
check "OpenSSL on all $(wc -l <"$W/ids") delivered: enveloped-data, decrypts for bob to its own marker, alice's signature verifies" \
    openssl_judge_many "$W/pki" "$BOB" alice@example.com "$SALT" "$W/ids"
echo "# OpenSSL judged $(wc -l <"$W/ids") messages in $(($(date +%s) - t0)) s"
# gpgsm and NSS too on a sample: the first delivered, one from around the SIGKILL, the last
n=$(wc -l <"$W/ids")
for k in 1 $((n / 2)) "$n"; do
    read -r id f < <(sed -n "${k}p" "$W/ids")
    [ -n "${id:-}" ] || continue
    judge "OpenSSL, gpgsm and NSS decrypt $id (delivery $k of $n), alice's signature verifies, content exact" \
        "$f" "$BOB" "$W/inner/$id.inner"
done

# ---------------------------------------------------------------------------------------------
# Reloads, the restart, memory
loaded=$(grep -c 'reload: .* loaded' "$LOG" || true)
refused=$(grep -c 'keeping the configuration in force' "$LOG" || true)
echo "# $HUPS SIGHUPs sent, $loaded reloads logged as loaded, $refused refused"
if [ "$HUPS" -ge 10 ] && [ "$refused" -eq 0 ] && [ "$loaded" -ge $((HUPS * 8 / 10)) ]; then
    ok "reloads under load: $loaded of $HUPS SIGHUPs loaded (coalesced ones aside), none refused"
else
    notok "reloads under load: at least 80% of $HUPS SIGHUPs loaded, none refused" "$loaded loaded, $refused refused"
fi
deaths=$(grep -c 'died of signal' "$LOG" || true)
SECOND=$(milter_child "$SUP")
if [ -n "$KILLED" ] && [ "$deaths" -eq 1 ] && grep -q 'died of signal 9' "$LOG" && [ -n "$SECOND" ] &&
        [ "$SECOND" != "$FIRST" ]; then
    ok "SIGKILL half way: one restart (process $FIRST -> $SECOND), no other death"
else
    notok "SIGKILL half way: one restart, no other death" \
        "killed: ${KILLED:-none}; deaths logged: $deaths; now: ${SECOND:-none}; $(grep 'died of signal' "$LOG" | head -n 3)"
fi
sleep 2
echo "$(date +%s) $SECOND $(rss_kb "$SECOND") end" >>"$W/rss.log"
# rss_check PID FROM: its first sample with FROM or more accepted (warm) against its last one
rss_check() {
    awk -v pid="$1" -v from="$2" '$2 == pid && w == "" && ($4 == "end" || $4 >= from) { w = $3; wa = $4 }
        $2 == pid { l = $3; la = $4 }
        END { printf "%s %s %s %s\n", w, wa, l, la }' "$W/rss.log"
}
for p in "$FIRST:$WARM:before the SIGKILL" "$SECOND:$((${KILLED_AT:-0} + WARM)):at the end"; do
    IFS=: read -r pid from when <<<"$p"
    read -r warm warm_at last last_at < <(rss_check "$pid" "$from")
    echo "# milter process $pid: RSS ${warm:-?} kB after warm-up ($warm_at accepted), ${last:-?} kB $when ($last_at)"
    if [ -n "$warm" ] && [ -n "$last" ] && [ "$last" -gt 0 ] && [ $((last * 100)) -le $((warm * 120)) ]; then
        ok "milter process $pid: RSS $when (${last} kB) within 20% of its RSS after warm-up (${warm} kB)"
    else
        notok "milter process $pid: RSS $when within 20% of its RSS after warm-up" "$(cat "$W/rss.log")"
    fi
done

if grep -qE '(panic|fatal):' "$W/postfix/maillog"; then
    notok "no fatal or panic in the Postfix log" "$(grep -E '(panic|fatal):' "$W/postfix/maillog" | head -5)"
else
    ok "no fatal or panic in the Postfix log"
fi
echo "# suite wall time $(($(date +%s) - T0)) s"
finish
