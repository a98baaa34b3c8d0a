#!/bin/bash
# Faults under mail: smime-milter (supervisor + milter process, started with a soft limit of
# 1024 open files, as a systemd service gets by default) in a private Postfix on loopback that
# delivers to an SMTP sink, with a second Postfix in front (no milter) that relays into it, as
# an upstream MTA would, and a private slapd for the recipient erin@ldap.example.
#   a. Spool disk full: spool-dir on a 512 kB tmpfs mounted here (unmounted on exit), filled up;
#      messages larger than spool-memory, sent through the front Postfix: 451 4.7.0, deferred
#      there, nothing delivered; once the space is back and the front's queue is flushed
#      (postqueue -f) all of them are delivered, encrypted, exactly once; the tmpfs is empty.
#   b. Under two streams of mail (bob from cert-dir, erin from LDAP), with a reload after each
#      change: bob's certificate and alice's key file replaced by rename, truncated and written
#      again in place, removed and put back; slapd stopped for a few seconds. No crash, only 4xx
#      refusals (sent again by the client), nothing in clear, everything delivered encrypted,
#      signed by alice, exactly once.
#   c. Garbage on the milter socket: random bytes, truncated and oversized milter packets, a
#      connection that says nothing for 20 s, 1,100 idle connections held open, while mail
#      flows; the milter process stays up, serves every message sent during and after without
#      a refusal, answers the metrics scrape, and its open files come back down.
#
# Usage (as root): tests/faults.sh
# Environment: SMIME_MILTER   milter binary (default milter/smime-milter)
#              FAULTS_KEEP=1  keep the work directory (printed at the end)
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need swaks openssl postconf postqueue pgrep slapd slaptest ldapadd base64 curl mount
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-faults FAULTS_KEEP

BOB=bob@partner.example
ERIN=erin@ldap.example
CONF=$W/smime-milter.conf
LOG=$W/milter.log
SPOOL=$W/spool
# shellcheck disable=SC2034 # read by smtp_load and sink_ids
HARNESS_ID_HEADER=X-Fault-Id
SALT=$(openssl rand -hex 6)
T0=$(date +%s)

echo "# setting up in $W"
GEN_CERTS_EXTRA=$ERIN "$TESTS/gen-certs.sh" "$W/pki" >/dev/null || setup_failed "gen-certs.sh"
rm -f "$W/pki/certs/$ERIN.crt" # only the directory has erin's
SMTPD_PORT=$(free_port)
FRONT_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
LDAP_PORT=$(free_port)
METRICS_PORT=$(free_port)
SUFFIX=dc=example,dc=test
mkdir -p "$W/run" "$SPOOL"
mount -t tmpfs -o size=512k,mode=0700 tmpfs "$SPOOL" || setup_failed "a 512 kB tmpfs for spool-dir"
harness_on_exit umount -l "$SPOOL" # detached even if something still holds it

slapd_setup "$W/slapd" "$LDAP_PORT" "$SUFFIX" "cn=admin,$SUFFIX" "$(openssl rand -hex 12)" ||
    setup_failed "a private slapd configuration that slaptest accepts"
{
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: example\n\n' "$SUFFIX"
    printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$SUFFIX"
    printf 'dn: uid=erin,ou=people,%s\nobjectClass: inetOrgPerson\nuid: erin\ncn: erin\nsn: Test\nmail: %s\nuserCertificate;binary:: %s\n\n' \
        "$SUFFIX" "$ERIN" "$(openssl x509 -in "$W/pki/private/$ERIN.crt" -outform DER | base64 -w0)"
} >"$W/entries.ldif"
slapd_start || setup_failed "slapd did not start"
slapd_add "$W/entries.ldif" || setup_failed "ldapadd of erin's entry"

cat >"$CONF" <<EOF
# smime-milter for the fault tests
socket            inet:$MILTER_PORT@127.0.0.1
pid-file          $W/run/smime-milter.pid
cert-dir          $W/pki/certs
key-dir           $W/pki/keys
ca-file           $W/pki/ca/chain.pem
internal-hosts    127.0.0.0/8
sign              yes
encrypt           yes
on-error          tempfail
missing-cert      tempfail
ldap-uri          $HARNESS_SLAPD_URI
ldap-base         $SUFFIX
ldap-timeout      2
ldap-cache-ttl    0
ldap-negative-ttl 0
spool-dir         $SPOOL
spool-memory      4k
metrics-listen    127.0.0.1:$METRICS_PORT
EOF
sink_start "$W/sink" "$SINK_PORT" || setup_failed "SMTP sink did not start"
# the soft limit a systemd service gets unless its unit says otherwise
NOFILE_HARD=$(ulimit -Hn)
ulimit -Sn 1024
milter_start "$CONF" "$LOG" || setup_failed "smime-milter did not start"
ulimit -Sn "$NOFILE_HARD"
SUP=$HARNESS_MILTER_PID
postfix_start "$W/front" "$FRONT_PORT" "$SMTPD_PORT" "" || setup_failed "front Postfix did not start"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "inet:127.0.0.1:$MILTER_PORT" ||
    setup_failed "private Postfix did not start"
echo "# front postfix :$FRONT_PORT -> postfix :$SMTPD_PORT -> sink :$SINK_PORT; smime-milter :$MILTER_PORT; slapd :$LDAP_PORT"
CHILD=$(milter_child "$SUP")
[ -n "$CHILD" ] || setup_failed "a milter process runs under the supervisor"

# ---------------------------------------------------------------------------------------------
# Helpers

# all_delivered RESULTS PREFIX RCPT WHAT : the messages of RESULTS (smtp_load's OUT) all
# accepted, refused only with 4xx, each in the sink exactly once, none in clear, and OpenSSL
# decrypts every one for RCPT to its marker with alice's valid signature (several checks)
all_delivered() {
    local results=$1 prefix=$2 rcpt=$3 what=$4 n bad dups missing
    n=$(wc -l <"$results")
    bad=$(awk '$2 != "accepted" || $4 ~ /(^|,)5[0-9][0-9]/' "$results" | head -n 10)
    is "$what: all $n messages accepted, refusals 4xx only" "$bad" ""
    for ((i = 0; i < 600; i++)); do
        [ "$(sink_ids | awk -v p="$prefix-" 'index($1, p) == 1' | wc -l)" -ge "$n" ] && break
        sleep 0.1
    done
    sleep 1 # a duplicate would come now
    sink_ids | awk -v p="$prefix-" 'index($1, p) == 1' >"$W/ids-$prefix"
    dups=$(awk '{ n[$1]++ } END { for (i in n) if (n[i] > 1) print i " x" n[i] }' "$W/ids-$prefix" | head -n 5)
    missing=$(awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen) { print $1 }' "$W/ids-$prefix" "$results" | head -n 5)
    is "$what: every message delivered exactly once" "dup:[$dups] missing:[$missing]" "dup:[] missing:[]"
    check "$what: OpenSSL decrypts all $(wc -l <"$W/ids-$prefix") for $rcpt to their own marker, alice's signature verifies" \
        openssl_judge_many "$W/pki" "$rcpt" alice@example.com "$SALT" "$W/ids-$prefix"
}

# refusals RESULTS : "N 4xx (CODE xN, ...)" from smtp_load's OUT
refusals() {
    awk '$4 != "-" { k = split($4, c, ","); for (i = 1; i <= k; i++) { n++; m[c[i]]++ } }
        END { printf "%d refusals", n; s = " ("; for (k in m) { printf "%s%s x%d", s, k, m[k]; s = ", " } if (n) printf ")"; print "" }' "$1"
}

no_clear() {
    local clear
    clear=$(grep -l "load-marker-" "$W/sink"/msg-*.eml 2>/dev/null | head -n 5 || true)
    is "$1: no marker in clear in anything delivered" "$clear" ""
}

same_process() {
    local now
    now=$(milter_child "$SUP")
    if [ "$now" = "$CHILD" ] && ! grep -q 'died of signal\|exited (' "$LOG"; then
        ok "$1: the milter process ($CHILD) is the one that started, no crash"
    else
        notok "$1: the milter process ($CHILD) is the one that started, no crash" \
            "now: ${now:-none}; $(grep 'died of signal\|exited (' "$LOG" | head -n 3)"
        CHILD=$now
    fi
}

# ---------------------------------------------------------------------------------------------
echo "# a. spool disk full"
dd if=/dev/zero of="$SPOOL/fill" bs=4k 2>/dev/null || true
echo "# spool tmpfs: $(df -k --output=used,avail "$SPOOL" | tail -n 1 | awk '{ print $1 " kB used, " $2 " kB free" }')"
HARNESS_SMTPD_PORT=$FRONT_PORT
smtp_load --sessions 2 --messages 3 --prefix full --to "$BOB" --size 40000 --deadline 60 \
    "$W/results-full" "$SALT" >"$W/load-full.out"
is "6 messages of 40 kB accepted by the front Postfix" "$(awk '$2 == "accepted"' "$W/results-full" | wc -l)" 6
deferred() { # the front's deferrals with 451 4.7.0: queue ids, one a line
    grep -E 'status=deferred .*said: 451 4\.7\.0' "$W/front/maillog" | sed 's/.*: \([0-9A-F]*\): to=.*/\1/' | sort -u
}
for ((i = 0; i < 300; i++)); do
    [ "$(deferred | wc -l)" -ge 6 ] && break
    sleep 0.1
done
is "spool full: the milter answers 451 4.7.0, all 6 deferred in the front Postfix" "$(deferred | wc -l)" 6
if grep -q 'cannot spool the message' "$LOG"; then
    ok "spool full: the milter log says it cannot spool the message"
else
    notok "spool full: the milter log says it cannot spool the message" "$(tail -n 5 "$LOG")"
fi
is "spool full: nothing delivered" "$(sink_ids | grep -c '^full-' || true)" 0
rm -f "$SPOOL/fill"
t0=$(date +%s)
postqueue -c "$W/front/etc" -f
all_delivered "$W/results-full" full "$BOB" "spool space back, front queue flushed"
echo "# delivered $(($(date +%s) - t0)) s after the space came back"
no_clear "spool full"
sleep 1
is "the spool tmpfs is empty again (no spool file left open)" "$(df -k --output=used "$SPOOL" | tail -n 1 | tr -d ' ')" 0
# shellcheck disable=SC2034 # read by smtp_load
HARNESS_SMTPD_PORT=$SMTPD_PORT

# ---------------------------------------------------------------------------------------------
echo "# b. certificate and key files rewritten, removed; the directory stopping; under mail"
CRT=$W/pki/certs/$BOB.crt
KEY=$W/pki/keys/alice@example.com.pem
cp -p "$CRT" "$W/bob.crt.good"
cp -p "$KEY" "$W/alice.pem.good"
: >"$W/gate-b"
smtp_load --sessions 8 --messages 25 --prefix fb --to "$BOB" --pause 0.2 --deadline 150 \
    "$W/results-fb" "$SALT" >"$W/load-fb.out" 2>&1 &
LB=$!
smtp_load --sessions 4 --messages 25 --prefix fe --to "$ERIN" --pause 0.2 --deadline 150 \
    "$W/results-fe" "$SALT" >"$W/load-fe.out" 2>&1 &
LE=$!
harness_on_exit stop_pid "$LB" load-client
harness_on_exit stop_pid "$LE" load-client
hup() { kill -HUP "$SUP"; sleep "${1:-0.3}"; }
# put FILE back from GOOD: written again in place (same inode), a half first
rewrite_in_place() {
    local f=$1 good=$2 half
    half=$(($(stat -c %s "$good") / 2))
    : >"$f"
    hup
    head -c "$half" "$good" >"$f"
    hup
    cat "$good" >"$f"
    hup
}
replace_by_rename() {
    cp -p "$2" "$1.new"
    mv "$1.new" "$1"
    hup
}
remove_and_restore() {
    rm -f "$1"
    hup 0.6
    cp -p "$2" "$1"
    hup
}
CHANGES=0
for round in 1 2; do
    replace_by_rename "$CRT" "$W/bob.crt.good"
    rewrite_in_place "$CRT" "$W/bob.crt.good"
    remove_and_restore "$CRT" "$W/bob.crt.good"
    replace_by_rename "$KEY" "$W/alice.pem.good"
    rewrite_in_place "$KEY" "$W/alice.pem.good"
    remove_and_restore "$KEY" "$W/alice.pem.good"
    CHANGES=$((CHANGES + 6))
    if [ "$round" = 1 ]; then
        echo "# slapd stopped for 4 s"
        slapd_stop
        sleep 4
        slapd_start || notok "slapd started again"
    fi
done
echo "# $CHANGES file changes, each followed by a reload; waiting for the streams"
wait "$LB" || true
wait "$LE" || true
harness_forget stop_pid "$LB" load-client
harness_forget stop_pid "$LE" load-client
echo "# bob's stream: $(cat "$W/load-fb.out"); $(refusals "$W/results-fb")"
echo "# erin's stream: $(cat "$W/load-fe.out"); $(refusals "$W/results-fe")"
echo "# reloads: $(grep -c 'reload: .* loaded' "$LOG" || true) loaded, $(grep -c 'keeping the configuration in force' "$LOG" || true) refused"
all_delivered "$W/results-fb" fb "$BOB" "files changing (bob, cert-dir)"
all_delivered "$W/results-fe" fe "$ERIN" "slapd stopping (erin, LDAP)"
if awk '$4 ~ /(^|,)4[0-9][0-9]/' "$W/results-fe" | grep -q .; then
    ok "slapd stopping: erin's messages met 4xx meanwhile (the outage was seen) and arrived later"
else
    notok "slapd stopping: erin's messages met 4xx meanwhile (the outage was seen) and arrived later" \
        "$(refusals "$W/results-fe")"
fi
no_clear "files changing, slapd stopping"
same_process "files changing, slapd stopping"
if ! cmp -s "$CRT" "$W/bob.crt.good" || ! cmp -s "$KEY" "$W/alice.pem.good"; then notok "the files were put back"; fi

# ---------------------------------------------------------------------------------------------
echo "# c. garbage on the milter socket, a silent connection, 1,100 idle connections"
IDLE=1100 # more than the 1,024 open files a service gets by default
fds() { open_files "$CHILD"; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$CHILD/status"; }
FDS0=$(fds)
echo "# milter process $CHILD: $FDS0 open files, $(threads) threads, RSS $(rss_kb "$CHILD") kB, limit $(awk '/^Max open files/ { print $4 "/" $5 }' "/proc/$CHILD/limits")"
limits=$(awk '/^Max open files/ { print $4 " " $5 }' "/proc/$CHILD/limits")
is "started with a soft limit of 1024 open files, the milter process raised it to the hard one" \
    "$limits" "$NOFILE_HARD $NOFILE_HARD"
"$PYTHON3" - "$MILTER_PORT" "$W/garbage" "$IDLE" <<'PY' &
# Holds IDLE idle connections and one silent one; writes DIR.ready when they are open and
# closes them when DIR.release exists (at most 60 s); meanwhile sends garbage on other
# connections and reports in DIR.out how each garbage connection ended.
import os, resource, socket, struct, sys, time
port, base = int(sys.argv[1]), sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
idle = [conn() for _ in range(int(sys.argv[3]))]
silent = conn()
open(base + ".ready", "w").write("%d\n" % len(idle))
def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data
optneg = pkt(b"O", struct.pack(">III", 6, 0x1ff, 0x1fffff))
cases = [("random bytes %d" % i, os.urandom(4096)) for i in range(20)]
cases += [
    ("length 0", b"\0\0\0\0"),
    ("one byte", b"\x01"),
    ("length 2^31-1", b"\x7f\xff\xff\xffO"),
    ("length 4 GB-1", b"\xff\xff\xff\xffO"),
    ("header cut short", b"\0\0"),
    ("packet cut short", struct.pack(">I", 200) + b"O" + b"\0" * 20),
    ("optneg, then a command cut short", optneg + struct.pack(">I", 100) + b"C" + b"x" * 10),
    ("optneg, then an unknown command", optneg + pkt(b"Z", b"junk")),
    ("optneg, then a body before any message", optneg + pkt(b"B", b"x" * 1000)),
    ("optneg, then a header with no NUL", optneg + pkt(b"L", b"Subject")),
    ("optneg, then macros with no NUL", optneg + pkt(b"D", b"Cj")),
    ("optneg, then 64 kB of body", optneg + pkt(b"B", b"y" * 65535)),
    ("optneg with short data", pkt(b"O", b"\0\0")),
    ("connect with a bad family", optneg + pkt(b"C", b"host\0Zjunk")),
    ("abort, quit", optneg + pkt(b"A") + pkt(b"Q")),
]
with open(base + ".out", "w") as out:
    for name, data in cases:
        s = conn()
        try:
            s.sendall(data)
            s.settimeout(3)
            got = b""
            while True:
                b = s.recv(65536)
                if not b:
                    how = "closed by the milter"
                    break
                got += b
        except socket.timeout:
            how = "still open after 3 s"
        except OSError as e:
            how = "reset (%s)" % e.__class__.__name__
        s.close()
        out.write("%s: %s, %d bytes answered\n" % (name, how, len(got)))
        time.sleep(0.2)
end = time.time() + 60
while not os.path.exists(base + ".release") and time.time() < end:
    time.sleep(0.2)
# the silent connection: still open, nothing was said to it?
silent.settimeout(0.1)
try:
    state = "closed by the milter" if silent.recv(1) == b"" else "answered"
except socket.timeout:
    state = "open"
open(base + ".silent", "w").write(state + "\n")
for s in idle + [silent]:
    s.close()
PY
HOLDER=$!
harness_on_exit stop_pid "$HOLDER" holder
wait_for_file "$W/garbage.ready" 30 "$HOLDER" || notok "$IDLE idle connections opened" "$(cat "$W/garbage.out" 2>/dev/null)"
t_hold=$(date +%s)
for ((i = 0; i < 100; i++)); do
    [ "$(fds)" -ge $((FDS0 + IDLE)) ] && break
    sleep 0.1
done
FDS1=$(fds)
echo "# with the idle connections: $FDS1 open files, $(threads) threads, RSS $(rss_kb "$CHILD") kB"
if [ "$FDS1" -ge $((FDS0 + IDLE + 1)) ]; then
    ok "the milter process accepted the $IDLE idle connections and the silent one ($FDS1 open files)"
else
    notok "the milter process accepted the $IDLE idle connections and the silent one" "$FDS0 -> $FDS1 open files"
fi
smtp_load --sessions 20 --messages 8 --prefix during --to "$BOB" --pause 1.2 --deadline 60 --tries 1 \
    "$W/results-during" "$SALT" >"$W/load-during.out" 2>&1
echo "# mail during: $(cat "$W/load-during.out")"
if curl -sf -m 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$W/metrics.txt" && grep -q '^smime_milter_messages_total' "$W/metrics.txt"; then
    ok "the metrics endpoint answers while $((IDLE + 1)) connections are open"
else
    notok "the metrics endpoint answers while $((IDLE + 1)) connections are open"
fi
# the silent connection stays at least 20 s, while mail flows
while [ $(($(date +%s) - t_hold)) -lt 20 ]; do sleep 0.5; done
: >"$W/garbage.release"
wait "$HOLDER" || true
harness_forget stop_pid "$HOLDER" holder
sed 's/^/# garbage: /' "$W/garbage.out"
is "the silent connection held for 20 s was left open, nothing said to it" "$(cat "$W/garbage.silent" 2>/dev/null)" open
is "mail during the garbage and the idle connections: all accepted at the first try" \
    "$(refusals "$W/results-during")" "0 refusals"
all_delivered "$W/results-during" during "$BOB" "mail during the garbage and the idle connections"
smtp_load --sessions 4 --messages 5 --prefix after --to "$BOB" --deadline 60 \
    "$W/results-after" "$SALT" >"$W/load-after.out" 2>&1
all_delivered "$W/results-after" after "$BOB" "mail after the garbage"
no_clear "garbage"
same_process "garbage, idle connections"
for ((i = 0; i < 100; i++)); do
    [ "$(fds)" -le $((FDS0 + 5)) ] && break
    sleep 0.1
done
FDS2=$(fds)
echo "# after: $FDS2 open files, $(threads) threads, RSS $(rss_kb "$CHILD") kB"
if [ "$FDS2" -le $((FDS0 + 5)) ]; then
    ok "the milter's open files came back down ($FDS0 before, $FDS1 with the idle connections, $FDS2 after)"
else
    notok "the milter's open files came back down" "$FDS0 before, $FDS1 with the idle connections, $FDS2 after"
fi

for d in postfix front; do
    if grep -qE '(panic|fatal):' "$W/$d/maillog"; then
        notok "no fatal or panic in the $d Postfix log" "$(grep -E '(panic|fatal):' "$W/$d/maillog" | head -5)"
    else
        ok "no fatal or panic in the $d Postfix log"
    fi
done
echo "# suite wall time $(($(date +%s) - T0)) s"
finish
