# shellcheck shell=bash
# Shared functions for the test suites, the demo and the benchmarks: a private Postfix on
# loopback, an SMTP sink, OpenDKIM, slapd, smime-milter, sending through swaks, reading what
# the sink received, DKIM verification, many concurrent SMTP sessions that send again on 4xx
# (load), OpenSSL judging many messages, and cleanup of everything started.
# The suites source tests/lib/tap.sh, which sources this file and adds the TAP checks.
#
# Source it:   . "$(dirname "$0")/lib/harness.sh"
#              harness_trap                 # stop everything on exit, even on failure
# Nothing here touches the system Postfix or OpenDKIM, or listens on port 25.

HARNESS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HARNESS_CLEANUP=()
HARNESS_PORTS=" "
HARNESS_LOGS=()
HARNESS_WORK=""
# an address outside every internal network (TEST-NET-1): the private Postfix lets it relay when
# a test poses as it with XCLIENT, so that mail from outside can be exercised
HARNESS_EXTERNAL_ADDR=192.0.2.10
# the programs of this tree (or the ones to test instead)
# shellcheck disable=SC2034 # for the suites
MILTER_BIN=${SMIME_MILTER:-$HARNESS_ROOT/milter/smime-milter}
# shellcheck disable=SC2034 # for the suites
TOOL_BIN=${SMIME_TOOL:-$HARNESS_ROOT/tools/smime-tool}

if [ -z "${PYTHON3:-}" ]; then
    # Debian's interpreter: python3-dkim is installed for it
    if [ -x /usr/bin/python3 ]; then PYTHON3=/usr/bin/python3; else PYTHON3=$(command -v python3 || true); fi
fi

harness_log() { echo "harness: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Cleanup stack: harness_on_exit CMD ARGS... registers a command; harness_cleanup runs them in
# reverse order. harness_trap installs it for EXIT, INT and TERM (tests/lib/tap.sh does that
# for the suites).
harness_on_exit() {
    local q
    printf -v q '%q ' "$@"
    HARNESS_CLEANUP+=("$q")
}

harness_cleanup() {
    local i
    for ((i = ${#HARNESS_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${HARNESS_CLEANUP[$i]}" || true
    done
    HARNESS_CLEANUP=()
}

harness_trap() {
    trap 'harness_cleanup' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Remove a harness_on_exit entry once its resource is gone (exact string match)
harness_forget() {
    local q i
    printf -v q '%q ' "$@"
    for i in "${!HARNESS_CLEANUP[@]}"; do
        if [ "${HARNESS_CLEANUP[$i]}" = "$q" ]; then unset 'HARNESS_CLEANUP[i]'; fi
    done
    HARNESS_CLEANUP=("${HARNESS_CLEANUP[@]}")
}

# harness_workdir NAME [KEEP_VARIABLE]: a scratch directory ${TMPDIR:-/tmp}/NAME.XXXXXX, mode
# 0755 (the postfix user traverses it), in HARNESS_WORK and W; removed on exit unless the
# variable named KEEP_VARIABLE is 1 (then its name is printed on stderr at the end)
harness_workdir() {
    HARNESS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    chmod 0755 "$HARNESS_WORK"
    # shellcheck disable=SC2034 # for the suites
    W=$HARNESS_WORK
    if [ -n "${2:-}" ] && [ "${!2:-0}" = 1 ]; then
        harness_on_exit harness_log "work directory kept: $HARNESS_WORK"
    else
        harness_on_exit rm -rf "$HARNESS_WORK"
    fi
}

# harness_missing ITEM... : prints " ITEM" for each one missing: a command (NAME), a readable file
# (a PATH with a slash) or a Python module (py:MODULE); python3 itself is always needed
harness_missing() {
    local t
    [ -n "$PYTHON3" ] || printf ' python3'
    for t in "$@"; do
        case $t in
            py:*)
                [ -n "$PYTHON3" ] && "$PYTHON3" -c "import ${t#py:}" 2>/dev/null || printf ' %s' "$t" ;;
            */*) [ -r "$t" ] || printf ' %s' "$t" ;;
            *) command -v "$t" >/dev/null 2>&1 || printf ' %s' "$t" ;;
        esac
    done
}

# harness_have ITEM... : true when none is missing (see harness_missing), else a log line
harness_have() {
    local missing
    missing=$(harness_missing "$@")
    if [ -n "$missing" ]; then
        harness_log "missing:$missing (run tests/deps.sh as root)"
        return 1
    fi
}

# harness_need ITEM... : harness_have; in a suite (tests/lib/tap.sh) a missing item is instead
# a failed check that ends the suite
harness_need() { harness_have "$@"; }

# ---------------------------------------------------------------------------------------------
# Logs shown when something fails: register_log LABEL FILE [LINES] (FILE may be a glob pattern,
# expanded when shown; LINES: the last 40 by default); dump_logs shows each as "# " lines, in
# the order registered. The services below register their own logs; a FILE registered before
# (or matched by a pattern registered before) keeps its label and number of lines.
register_log() {
    local e rest
    for e in ${HARNESS_LOGS[@]+"${HARNESS_LOGS[@]}"}; do
        rest=${e#*|}
        # shellcheck disable=SC2053 # the registered FILE is a pattern
        [[ $2 != ${rest%|*} ]] || return 0
    done
    HARNESS_LOGS+=("$1|$2|${3:-40}")
}

dump_logs() {
    local e label rest pattern lines f
    for e in ${HARNESS_LOGS[@]+"${HARNESS_LOGS[@]}"}; do
        label=${e%%|*}
        rest=${e#*|}
        pattern=${rest%|*}
        lines=${rest##*|}
        while IFS= read -r f; do
            [ -f "$f" ] || continue
            echo "# ---- $label ($f)"
            tail -n "$lines" "$f" | sed 's/^/# /'
        done < <(compgen -G "$pattern" || true)
    done
}

# ---------------------------------------------------------------------------------------------
# Ports and waiting

# free_port: an unused TCP port on 127.0.0.1 (never 25), distinct from ports handed out before
free_port() {
    local p i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        p=$("$PYTHON3" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
        if [ "$p" != 25 ] && [[ $HARNESS_PORTS != *" $p "* ]]; then
            HARNESS_PORTS="$HARNESS_PORTS$p "
            echo "$p"
            return 0
        fi
        : "$i"
    done
    harness_log "free_port: no free port"
    return 1
}

# port_listening PORT: true when something LISTENs on 127.0.0.1:PORT (or the wildcard address);
# reads /proc so that the service is not disturbed by a probe connection
port_listening() {
    "$PYTHON3" - "$1" <<'PY'
import sys
port = int(sys.argv[1])
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(f).read().splitlines()[1:]
    except OSError:
        continue
    for r in rows:
        c = r.split()
        addr, p = c[1].rsplit(":", 1)
        if c[3] == "0A" and int(p, 16) == port and addr in ("0100007F", "00000000", "0" * 32,
                "0000000000000000FFFF00000100007F"):
            sys.exit(0)
sys.exit(1)
PY
}

# wait_for_port PORT [SECONDS] [PID]: wait until PORT listens; fail early if PID dies
wait_for_port() {
    local port=$1 secs=${2:-20} pid=${3:-} i
    for ((i = 0; i < secs * 10; i++)); do
        port_listening "$port" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            harness_log "process $pid exited before listening on port $port"
            return 1
        fi
        sleep 0.1
    done
    harness_log "nothing listens on 127.0.0.1:$port after ${secs}s"
    return 1
}

# wait_for_file FILE [SECONDS] [PID]: wait until FILE exists; fail early if PID dies
wait_for_file() {
    local f=$1 secs=${2:-20} pid=${3:-} i
    for ((i = 0; i < secs * 10; i++)); do
        [ -e "$f" ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            harness_log "process $pid exited before creating $f"
            return 1
        fi
        sleep 0.1
    done
    harness_log "no file $f after ${secs}s"
    return 1
}

# stop_pid PID [NAME]: SIGTERM, wait up to 10 s, then SIGKILL
stop_pid() {
    local pid=$1 name=${2:-process} i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    harness_log "$name ($pid) ignored SIGTERM, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# SMTP sink: one file per delivered message, DIR/msg-NNNNNN.eml (exact DATA bytes, CRLF,
# dot-unstuffed), with DIR/msg-NNNNNN.from (envelope sender) and DIR/msg-NNNNNN.rcpt (envelope
# recipients, one a line) written BEFORE the .eml appears. The .eml is renamed into place when
# complete, so its presence means the message is whole.
HARNESS_SINK_PY='
import os, re, socketserver, sys, threading
outdir, port = sys.argv[1], int(sys.argv[2])
lock = threading.Lock()
counter = [0]
def addr(arg):
    m = re.search(rb"<([^>]*)>", arg)
    return (m.group(1) if m else arg.split(b" ")[0]).decode("utf-8", "replace")
class H(socketserver.StreamRequestHandler):
    def out(self, s):
        self.wfile.write(s.encode() + b"\r\n"); self.wfile.flush()
    def handle(self):
        self.out("220 sink.localdomain ESMTP test sink")
        mail, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n")
            verb = cmd[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-sink.localdomain\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                                 b"250-ENHANCEDSTATUSCODES\r\n250 SIZE 104857600\r\n"); self.wfile.flush()
            elif verb == b"HELO":
                self.out("250 sink.localdomain")
            elif verb == b"MAIL":
                mail, rcpts = addr(cmd[10:]), []
                self.out("250 2.1.0 ok")
            elif verb == b"RCPT":
                if mail is None:
                    self.out("503 5.5.1 need MAIL"); continue
                rcpts.append(addr(cmd[8:]))
                self.out("250 2.1.5 ok")
            elif verb == b"DATA":
                if not rcpts:
                    self.out("503 5.5.1 need RCPT"); continue
                self.out("354 go ahead")
                chunks = []
                while True:
                    l = self.rfile.readline()
                    if not l:
                        return
                    if l == b".\r\n" or l == b".\n":
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    chunks.append(l)
                with lock:
                    counter[0] += 1
                    n = counter[0]
                base = os.path.join(outdir, "msg-%06d" % n)
                with open(base + ".from", "w") as f:
                    f.write(mail + "\n")
                with open(base + ".rcpt", "w") as f:
                    f.write("".join(r + "\n" for r in rcpts))
                with open(base + ".tmp", "wb") as f:
                    f.write(b"".join(chunks))
                os.rename(base + ".tmp", base + ".eml")
                self.out("250 2.0.0 ok msg-%06d" % n)
                mail, rcpts = None, []
            elif verb == b"RSET":
                mail, rcpts = None, []
                self.out("250 2.0.0 ok")
            elif verb == b"NOOP":
                self.out("250 2.0.0 ok")
            elif verb == b"QUIT":
                self.out("221 2.0.0 bye"); return
            else:
                self.out("502 5.5.2 not implemented")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("127.0.0.1", port), H).serve_forever()
'
HARNESS_SINK_PID=""
HARNESS_SINK_DIR=""

# sink_start DIR PORT (HARNESS_SINK_DIR: DIR, where delivered and wait_delivered look)
sink_start() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    HARNESS_SINK_DIR=$dir
    "$PYTHON3" -c "$HARNESS_SINK_PY" "$dir" "$port" >"$dir/sink.log" 2>&1 &
    HARNESS_SINK_PID=$!
    harness_on_exit sink_stop
    register_log "SMTP sink" "$dir/sink.log" 20
    wait_for_port "$port" 10 "$HARNESS_SINK_PID" || { cat "$dir/sink.log" >&2; return 1; }
}

sink_stop() {
    stop_pid "$HARNESS_SINK_PID" sink
    HARNESS_SINK_PID=""
}

# sink_count DIR: number of complete messages
sink_count() {
    local f n=0
    for f in "$1"/msg-*.eml; do [ -e "$f" ] && n=$((n + 1)); done
    echo "$n"
}

# sink_wait DIR COUNT [SECONDS]: wait until at least COUNT messages are in DIR
sink_wait() {
    local dir=$1 want=$2 secs=${3:-30} i
    for ((i = 0; i < secs * 10; i++)); do
        [ "$(sink_count "$dir")" -ge "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# OpenDKIM with a private configuration and a key generated now.
HARNESS_OPENDKIM_PID=""

# opendkim_start DIR PORT DOMAIN SELECTOR
opendkim_start() {
    local dir=$1 port=$2 domain=$3 selector=$4
    harness_have opendkim opendkim-genkey || return 1
    mkdir -p "$dir/keys"
    chmod 0700 "$dir/keys"
    opendkim-genkey -b 2048 -D "$dir/keys" -d "$domain" -s "$selector" || return 1
    chmod 0600 "$dir/keys/$selector.private"
    printf 'DOMAIN=%s\nSELECTOR=%s\n' "$domain" "$selector" >"$dir/dkim.env"
    cat >"$dir/opendkim.conf" <<EOF
# private OpenDKIM for tests: signs after smime-milter has rewritten the message
Syslog                  no
Mode                    s
Domain                  $domain
Selector                $selector
KeyFile                 $dir/keys/$selector.private
Socket                  inet:$port@127.0.0.1
PidFile                 $dir/opendkim.pid
InternalHosts           127.0.0.1
Canonicalization        relaxed/simple
SignatureAlgorithm      rsa-sha256
SignHeaders             From,Sender,Reply-To,To,Cc,Subject,Date,Message-ID,In-Reply-To,References,MIME-Version,Content-Type,Content-Transfer-Encoding,Content-Disposition,Content-ID,Content-Description
OversignHeaders         From,Subject,MIME-Version,Content-Type,Content-Transfer-Encoding,Content-Disposition
AutoRestart             no
UMask                   077
# test keys live under a temporary directory in /tmp (world-writable, sticky)
RequireSafeKeys         false
EOF
    opendkim -n -x "$dir/opendkim.conf" || { harness_log "opendkim rejects its configuration"; return 1; }
    opendkim -f -x "$dir/opendkim.conf" >"$dir/opendkim.log" 2>&1 &
    HARNESS_OPENDKIM_PID=$!
    harness_on_exit opendkim_stop
    register_log "OpenDKIM log" "$dir/opendkim.log" 20
    wait_for_port "$port" 20 "$HARNESS_OPENDKIM_PID" || { cat "$dir/opendkim.log" >&2; return 1; }
}

opendkim_stop() {
    stop_pid "$HARNESS_OPENDKIM_PID" opendkim
    HARNESS_OPENDKIM_PID=""
}

# dkim_verify MESSAGE DIR: verify every DKIM-Signature with python3-dkim against the key that
# opendkim_start generated in DIR (no DNS). Prints "PASS" or "FAIL reason"; returns 0 on PASS.
dkim_verify() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import re, sys
try:
    import dkim
except ImportError:
    print("FAIL python3-dkim is not installed"); sys.exit(1)
msg_path, d = sys.argv[1], sys.argv[2]
env = dict(l.split("=", 1) for l in open(d + "/dkim.env").read().split())
txt = open("%s/keys/%s.txt" % (d, env["SELECTOR"])).read()
record = "".join(re.findall(r"\"([^\"]*)\"", txt)).encode()
want = ("%s._domainkey.%s." % (env["SELECTOR"], env["DOMAIN"])).lower()
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return record if name.lower().rstrip(".") + "." == want else None
data = open(msg_path, "rb").read()
n = len(re.findall(rb"(?im)^DKIM-Signature:", data.split(b"\r\n\r\n", 1)[0]))
if n == 0:
    print("FAIL no DKIM-Signature header"); sys.exit(1)
head = data.split(b"\r\n\r\n", 1)[0]
sigs = re.findall(rb"(?im)^DKIM-Signature:((?:[^\r]|\r\n[ \t])*)", head)
for sig in sigs:
    tags = dict((k.strip().lower(), v) for k, _, v in (t.partition(b"=") for t in
                re.sub(rb"\s+", b"", sig).split(b";")) if k.strip())
    if b"l" in tags:
        print("FAIL DKIM-Signature uses l="); sys.exit(1)
    signed = [h.lower() for h in tags.get(b"h", b"").split(b":")]
    for h in (b"content-type", b"content-transfer-encoding", b"mime-version"):
        if signed.count(h) < 2:
            print("FAIL DKIM-Signature does not sign and oversign %s (h=%s)" % (h.decode(), tags.get(b"h", b"").decode()))
            sys.exit(1)
try:
    ok = dkim.verify(data, dnsfunc=dnsfunc)
except Exception as e:
    print("FAIL %s: %s" % (type(e).__name__, e)); sys.exit(1)
if not ok:
    print("FAIL signature does not verify"); sys.exit(1)
print("PASS")
PY
}

# ---------------------------------------------------------------------------------------------
# smime-milter
HARNESS_MILTER_PID=""

# milter_start CONF LOG: run $MILTER_BIN (SMIME_MILTER, default milter/smime-milter) -f -c CONF
# in the background; HARNESS_MILTER_PID is its pid (the supervisor)
milter_start() {
    local conf=$1 log=$2 bin=$MILTER_BIN sock port
    if [ ! -x "$bin" ]; then
        harness_log "no milter binary at $bin (build it first, or set SMIME_MILTER)"
        return 1
    fi
    sock=$(awk '$1 == "socket" { print $2 }' "$conf")
    "$bin" -f -c "$conf" >"$log" 2>&1 &
    HARNESS_MILTER_PID=$!
    harness_on_exit milter_stop
    register_log "smime-milter log" "$log"
    case $sock in
        inet:*@*)
            port=${sock#inet:}
            port=${port%@*}
            wait_for_port "$port" 20 "$HARNESS_MILTER_PID" || { cat "$log" >&2; return 1; }
            ;;
        unix:* | local:*)
            wait_for_file "${sock#*:}" 20 || { cat "$log" >&2; return 1; }
            ;;
        *)
            harness_log "milter_start: cannot tell the socket from $conf ($sock)"
            return 1
            ;;
    esac
}

milter_stop() {
    stop_pid "$HARNESS_MILTER_PID" smime-milter
    HARNESS_MILTER_PID=""
}

# milter_restart CONF LOG: stop the running smime-milter, start it again with CONF and LOG
milter_restart() {
    milter_stop
    harness_forget milter_stop
    milter_start "$1" "$2"
}

# ---------------------------------------------------------------------------------------------
# Private Postfix: its own config, queue and data directories under DIR, smtpd on
# 127.0.0.1:SMTPD_PORT only, everything relayed to [127.0.0.1]:RELAY_PORT, log in DIR/maillog.
# The master daemon is started directly with "master -c DIR/etc -w" (as root, so no
# alternate_config_directories entry in the system main.cf is needed).

# postfix_start DIR SMTPD_PORT RELAY_PORT MILTERS (HARNESS_SMTPD_PORT: SMTPD_PORT, where send sends)
# Environment: HARNESS_POSTFIX_CHROOT=y runs smtpd, cleanup and pickup chrooted in the queue
#              directory DIR/spool, as Debian's Postfix does (names of unix milter sockets are
#              then relative to it, for smtpd_milters and non_smtpd_milters alike);
#              HARNESS_POSTFIX_NON_SMTPD_MILTERS, when set, replaces MILTERS for non_smtpd_milters;
#              HARNESS_POSTFIX_MAIN_CF: more main.cf lines (NAME = VALUE, one a line), each
#              written in place of the default it names (e.g. default_process_limit = 250).
#              Local submissions: sendmail -C DIR/etc (pickup hands them to cleanup).
postfix_start() {
    local dir=$1 smtpd_port=$2 relay_port=$3 milters=$4 daemon_dir conf spool d p
    local chroot=${HARNESS_POSTFIX_CHROOT:-n} non_smtpd=${HARNESS_POSTFIX_NON_SMTPD_MILTERS:-$4}
    harness_have postconf || return 1
    if [ "$(id -u)" -ne 0 ]; then harness_log "postfix_start must run as root"; return 1; fi
    id postfix >/dev/null 2>&1 || { harness_log "no postfix user (install postfix)"; return 1; }
    getent group postdrop >/dev/null || { harness_log "no postdrop group (install postfix)"; return 1; }
    daemon_dir=$(postconf -h daemon_directory)
    [ -x "$daemon_dir/master" ] || { harness_log "no $daemon_dir/master"; return 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    conf=$dir/etc
    spool=$dir/spool
    # the postfix user must traverse DIR and its parents
    chmod 0755 "$dir"
    p=$(dirname "$dir")
    while [ "$p" != / ]; do
        if [ "$(( $(stat -c '%a' "$p" | sed 's/^.*\(.\)$/\1/') & 1 ))" -eq 0 ]; then
            harness_log "postfix_start: $p is not traversable by the postfix user"
            return 1
        fi
        p=$(dirname "$p")
    done
    mkdir -p "$conf" "$dir/data" "$spool"
    chmod 0755 "$conf" "$spool"
    chown postfix "$dir/data"
    chmod 0700 "$dir/data"
    for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        mkdir -p "$spool/$d"
        chown postfix "$spool/$d"
        chmod 0700 "$spool/$d"
    done
    mkdir -p "$spool/maildrop" "$spool/public" "$spool/pid"
    chown postfix:postdrop "$spool/maildrop" "$spool/public"
    chmod 0730 "$spool/maildrop"
    chmod 0710 "$spool/public"
    chmod 0755 "$spool/pid"
    if [ "$chroot" = y ]; then
        # what a chrooted smtpd reads from /etc (Debian's postfix copies the same files)
        mkdir -p "$spool/etc"
        for d in services resolv.conf hosts localtime nsswitch.conf host.conf; do
            if [ -e "/etc/$d" ]; then cp -L "/etc/$d" "$spool/etc/$d"; fi
        done
    fi
    : >"$dir/maillog"
    cat >"$conf/main.cf" <<EOF
# private Postfix instance for smime-milter tests (loopback only)
compatibility_level = 3.6
queue_directory = $spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.smime-test.localdomain
mydomain = smime-test.localdomain
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
relay_domains =
relayhost = [127.0.0.1]:$relay_port
smtp_dns_support_level = disabled
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, check_client_access inline:{$HARNESS_EXTERNAL_ADDR=OK}, reject
# tests may pose as an outside client with XCLIENT ADDR=$HARNESS_EXTERNAL_ADDR
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_milters = $milters
non_smtpd_milters = $non_smtpd
milter_default_action = tempfail
# S/MIME grows mail: base64 of a 5 MB attachment, signed opaque (base64 again) and
# encrypted, is past Postfix's 10 MB default; size the limit for what leaves
message_size_limit = 104857600
milter_protocol = 6
smtpd_tls_security_level = none
smtp_tls_security_level = none
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
biff = no
append_dot_mydomain = no
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
delay_warning_time = 0
EOF
    if [ -n "${HARNESS_POSTFIX_MAIN_CF:-}" ]; then
        # one definition per name: the lines given replace the defaults above
        "$PYTHON3" - "$conf/main.cf" "$HARNESS_POSTFIX_MAIN_CF" <<'PY' || return 1
import re, sys
path = sys.argv[1]
extra = [l.strip() for l in sys.argv[2].splitlines() if l.strip()]
names = {re.split(r"\s*=", l, 1)[0] for l in extra}
keep = [l for l in open(path).read().splitlines() if re.split(r"\s*=", l, 1)[0] not in names]
open(path, "w").write("\n".join(keep + extra) + "\n")
PY
    fi
    cat >"$conf/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$smtpd_port inet n - $chroot - - smtpd
cleanup   unix  n       -       $chroot       -       0       cleanup
pickup    unix  n       -       $chroot       60      1       pickup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    harness_on_exit postfix_stop "$dir"
    register_log "Postfix maillog" "$dir/maillog"
    HARNESS_SMTPD_PORT=$smtpd_port
    if ! "$daemon_dir/master" -c "$conf" -w >"$dir/master.out" 2>&1; then
        harness_log "Postfix master did not start:"
        cat "$dir/master.out" "$dir/maillog" >&2
        return 1
    fi
    wait_for_port "$smtpd_port" 20 || { cat "$dir/maillog" >&2; return 1; }
}

# postfix_pids DIR: processes of the instance in DIR (the master's session, or MAIL_CONFIG=DIR/etc)
postfix_pids() {
    local dir conf master=""
    dir=$(cd "$1" && pwd)
    conf=$dir/etc
    [ -r "$dir/spool/pid/master.pid" ] && master=$(tr -d ' \n' <"$dir/spool/pid/master.pid")
    "$PYTHON3" - "$conf" "${master:-0}" <<'PY'
import os, sys
conf, master = sys.argv[1].encode(), int(sys.argv[2])
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    try:
        stat = open("/proc/%s/stat" % p, "rb").read()
        sid = int(stat.rsplit(b")", 1)[1].split()[3])
        if master and (int(p) == master or sid == master):
            print(p); continue
        if b"MAIL_CONFIG=" + conf in open("/proc/%s/environ" % p, "rb").read().split(b"\0"):
            print(p)
    except (OSError, ValueError, IndexError):
        pass
PY
}

# postfix_stop DIR: stop the instance; fails if any of its processes is left behind
postfix_stop() {
    local dir=$1 master="" i left
    [ -d "$dir" ] || return 0
    [ -r "$dir/spool/pid/master.pid" ] && master=$(tr -d ' \n' <"$dir/spool/pid/master.pid")
    if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
        kill -TERM "$master" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$master" 2>/dev/null || break
            sleep 0.1
        done
    fi
    for ((i = 0; i < 50; i++)); do
        left=$(postfix_pids "$dir")
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    harness_log "Postfix processes left behind, killing: $(echo "$left" | tr '\n' ' ')"
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $left 2>/dev/null || true
    return 1
}

# ---------------------------------------------------------------------------------------------
# Private slapd: its own slapd.conf and mdb database under DIR, listening on 127.0.0.1:PORT only.
HARNESS_SLAPD_PID=""
HARNESS_SLAPD_DIR=""
HARNESS_SLAPD_URI=""

# slapd_setup DIR PORT SUFFIX ROOTDN ROOTPW: write DIR/slapd.conf (schemas core, cosine,
# inetorgperson; userPassword for authentication only, the rest readable by all) and check it
# with slaptest; HARNESS_SLAPD_URI is ldap://127.0.0.1:PORT
slapd_setup() {
    local dir=$1 port=$2 suffix=$3 rootdn=$4 rootpw=$5 d modules="" schema="" s
    harness_have slapd slaptest ldapadd || return 1
    # slapd's modules and schemas (Debian's locations; others tried for a self-built OpenLDAP)
    for d in /usr/lib/ldap /usr/lib/x86_64-linux-gnu/ldap /usr/local/libexec/openldap; do
        if [ -e "$d/back_mdb.so" ] || [ -e "$d/back_mdb.la" ]; then modules=$d; break; fi
    done
    for d in /etc/ldap/schema /etc/openldap/schema /usr/local/etc/openldap/schema; do
        if [ -e "$d/inetorgperson.schema" ]; then schema=$d; break; fi
    done
    if [ -z "$schema" ]; then
        harness_log "no OpenLDAP schema directory with inetorgperson.schema (install slapd)"
        return 1
    fi
    mkdir -p "$dir/db"
    HARNESS_SLAPD_DIR=$dir
    HARNESS_SLAPD_URI=ldap://127.0.0.1:$port
    HARNESS_SLAPD_ROOTDN=$rootdn
    HARNESS_SLAPD_ROOTPW=$rootpw
    {
        echo "# private slapd for the tests (loopback only)"
        for s in core cosine inetorgperson; do echo "include $schema/$s.schema"; done
        echo "pidfile $dir/slapd.pid"
        echo "argsfile $dir/slapd.args"
        if [ -n "$modules" ]; then
            echo "modulepath $modules"
            echo "moduleload back_mdb"
        fi
        echo "access to attrs=userPassword by anonymous auth by * none"
        echo "access to * by * read"
        echo "database mdb"
        echo "maxsize 10485760"
        echo "suffix \"$suffix\""
        echo "rootdn \"$rootdn\""
        echo "rootpw $rootpw"
        echo "directory $dir/db"
    } >"$dir/slapd.conf"
    chmod 0600 "$dir/slapd.conf"
    register_log "slapd log" "$dir/slapd.log" 20
    register_log "ldapadd" "$dir/ldapadd.log" 20
    if ! slaptest -u -f "$dir/slapd.conf" >"$dir/slaptest.log" 2>&1; then
        harness_log "slaptest rejects the slapd configuration:"
        cat "$dir/slaptest.log" >&2
        return 1
    fi
}

# slapd_start: start slapd (again) with the configuration slapd_setup wrote; HARNESS_SLAPD_PID
slapd_start() {
    local port=${HARNESS_SLAPD_URI##*:}
    slapd -f "$HARNESS_SLAPD_DIR/slapd.conf" -h "$HARNESS_SLAPD_URI/" -d 0 \
        >>"$HARNESS_SLAPD_DIR/slapd.log" 2>&1 &
    HARNESS_SLAPD_PID=$!
    harness_forget slapd_stop
    harness_on_exit slapd_stop
    wait_for_port "$port" 20 "$HARNESS_SLAPD_PID"
}

slapd_stop() {
    stop_pid "$HARNESS_SLAPD_PID" slapd
    HARNESS_SLAPD_PID=""
}

# slapd_add LDIF: add the entries of LDIF as the root DN (output in DIR/ldapadd.log)
slapd_add() {
    ldapadd -x -H "$HARNESS_SLAPD_URI" -D "$HARNESS_SLAPD_ROOTDN" -w "$HARNESS_SLAPD_ROOTPW" -f "$1" \
        >>"$HARNESS_SLAPD_DIR/ldapadd.log" 2>&1
}

# ---------------------------------------------------------------------------------------------
# Sending through swaks, and what the sink received

# send [--from ADDR] [--wire] [--external] [--timeout SECONDS] ID FILE TO
# Inject message FILE into the private Postfix (127.0.0.1:HARNESS_SMTPD_PORT) with swaks, from
# ADDR (default alice@example.com) to TO (comma separated); swaks' transcript goes to
# $HARNESS_WORK/swaks-ID.out; returns swaks' exit status. swaks --no-data-fixup sends the DATA as
# it is and appends CRLF, so the DATA is prepared in $HARNESS_WORK/wire-ID: the message ends with
# a line end (CRLF; LF when it has no CRLF at all), a line starting with a dot gets another one,
# and the final dot follows without a line end. With --wire, FILE is already in that form (e.g.
# bare LF lines, dot-stuffed by hand). --external: the client poses with XCLIENT as
# HARNESS_EXTERNAL_ADDR, outside every internal network. Default timeout: 60 s.
send() {
    local from=alice@example.com wire=0 timeout=60 extra=() id data to
    while [ $# -gt 3 ]; do
        case $1 in
            --from) from=$2; shift 2 ;;
            --wire) wire=1; shift ;;
            --external) extra=(--xclient-addr "$HARNESS_EXTERNAL_ADDR"); shift ;;
            --timeout) timeout=$2; shift 2 ;;
            *) harness_log "send: unknown option $1"; return 2 ;;
        esac
    done
    id=$1 data=$2 to=$3
    if [ "$wire" = 0 ]; then
        "$PYTHON3" -c 'import re, sys
d = open(sys.argv[1], "rb").read()
nl = b"\r\n" if b"\r\n" in d else b"\n"
if not d.endswith(nl):
    d += nl
d = re.sub(rb"(?m)^\.", b"..", d)
open(sys.argv[2], "wb").write(d + b".")' "$data" "$HARNESS_WORK/wire-$id" || return 1
        data=$HARNESS_WORK/wire-$id
    fi
    swaks --server "127.0.0.1:$HARNESS_SMTPD_PORT" --from "$from" --to "$to" \
        --data "@$data" --no-data-fixup --timeout "$timeout" ${extra[@]+"${extra[@]}"} \
        >"$HARNESS_WORK/swaks-$id.out" 2>&1
}

# delivered ID : the messages in the sink (HARNESS_SINK_DIR) whose header has the field
# "$HARNESS_ID_HEADER: ID" (default X-E2E-Id), one file a line, in the order of delivery
HARNESS_ID_HEADER=${HARNESS_ID_HEADER:-X-E2E-Id}
delivered() {
    "$PYTHON3" - "$HARNESS_SINK_DIR" "$HARNESS_ID_HEADER" "$1" <<'PY'
import glob, os, re, sys
d, name, want = sys.argv[1], sys.argv[2].lower().encode(), sys.argv[3].encode()
for f in sorted(glob.glob(os.path.join(d, "msg-*.eml"))):
    head = b""
    with open(f, "rb") as fh:
        while b"\r\n\r\n" not in head and b"\n\n" not in head:
            chunk = fh.read(65536)
            if not chunk:
                break
            head += chunk
    head = re.split(rb"\r?\n\r?\n", head, maxsplit=1)[0]
    head = re.sub(rb"\r?\n[ \t]+", b" ", head)
    for line in re.split(rb"\r?\n", head):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name and v.strip() == want:
            print(f)
            break
PY
}

# wait_delivered ID [SECONDS] : wait (default 30 s) until a message with ID is in the sink
wait_delivered() {
    local i
    for ((i = 0; i < ${2:-30} * 10; i++)); do
        [ -n "$(delivered "$1")" ] && return 0
        sleep 0.1
    done
    return 1
}

# first_delivered ID [SECONDS] : wait_delivered, then the first of the files delivered
first_delivered() { wait_delivered "$@" && delivered "$1" | head -n 1; }

# expected_inner DATAFILE OUT : the message's Content-* header lines (as written, folded lines
# included) + CRLF + body, all with CRLF line ends: what the milter signs and encrypts
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

# body_of FILE [OUT] : the bytes after the first CRLF CRLF (LF LF for LF-only files), to OUT or
# stdout
body_of() {
    "$PYTHON3" - "$@" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"\r\n\r\n")
b = d[i + 4:] if i >= 0 else d[d.find(b"\n\n") + 2:]
if len(sys.argv) > 2:
    open(sys.argv[2], "wb").write(b)
else:
    sys.stdout.buffer.write(b)
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

# ---------------------------------------------------------------------------------------------
# Load: many concurrent SMTP sessions that send again what gets a 4xx, the sink indexed by a
# header, OpenSSL judging many messages, the milter process and its RSS.

# smtp_load [--sessions N] [--messages M] [--prefix P] [--to ADDR] [--size BYTES]
#           [--deadline SECONDS] [--tries N] [--pause SECONDS] [--inner-dir DIR] [--gate FILE]
#           [--progress FILE] OUT SALT
# N sessions (default 20) at once to 127.0.0.1:HARNESS_SMTPD_PORT, each sending M messages
# (default 10) from alice@example.com to ADDR (default bob@partner.example); message K of
# session S has the id P-S-K (header "$HARNESS_ID_HEADER: ID") and, inside, the marker
# load-marker-ID-SALT, padded with lines to about BYTES. All sessions say EHLO before the first
# one sends; between two messages a session waits 0 to 2 x --pause seconds. A 4xx reply at any stage, or a dropped connection, closes the session, waits
# (0.3 to 1.5 s) and sends the message again in a new session, at most N tries (default 60)
# and until DEADLINE (default 240 s after the start); a 5xx ends that message. When --gate is
# given, every session waits for FILE to exist before each message (a test holds the stream).
# --inner-dir writes DIR/ID.inner, what alice signs (tests/judges.sh EXPECTED). --progress FILE
# holds the number of messages accepted so far (written every 0.5 s).
# OUT: one line per message, "ID accepted|refused|gaveup TRIES CODES" (CODES: the refusals'
# reply codes, comma separated, "-" for none; "drop" for a dropped connection). Prints on
# stdout "sessions=N peak=N connections=N accepted=N refused=N gaveup=N 4xx=N 5xx=N drops=N
# seconds=S".
HARNESS_LOAD_PY='
import argparse, os, random, smtplib, socket, sys, threading, time
ap = argparse.ArgumentParser()
for o, d in (("--sessions", 20), ("--messages", 10), ("--size", 0), ("--deadline", 240),
             ("--tries", 60), ("--pause", 0)):
    ap.add_argument(o, type=float, default=d)
for o, d in (("--prefix", "m"), ("--to", "bob@partner.example"), ("--inner-dir", ""),
             ("--gate", ""), ("--progress", ""), ("--port", ""), ("--header", "X-E2E-Id")):
    ap.add_argument(o, default=d)
ap.add_argument("out"); ap.add_argument("salt")
a = ap.parse_args()
start = time.time()
end = start + a.deadline
lock = threading.Lock()
st = {"open": 0, "peak": 0, "conns": 0, "acc": 0, "4xx": 0, "5xx": 0, "drops": 0}
results = {}
ready = threading.Barrier(int(a.sessions), timeout=60)
def bump(k, n=1):
    with lock:
        st[k] += n
        if k == "open":
            st["peak"] = max(st["peak"], st["open"])
def message(mid):
    inner = ("Content-Type: text/plain; charset=us-ascii\r\n\r\n"
             "Message %s of the load test.\r\nload-marker-%s-%s\r\n" % (mid, mid, a.salt))
    line = "All work and no play makes a dull message, line %06d of the padding.\r\n"
    n = 0
    while len(inner) < a.size:
        inner += line % n; n += 1
    if a.inner_dir:
        open(os.path.join(a.inner_dir, mid + ".inner"), "w", newline="").write(inner)
    return ("From: Alice <alice@example.com>\r\nTo: <%s>\r\nSubject: load %s\r\n"
            "Message-ID: <%s.load@example.com>\r\n%s: %s\r\nMIME-Version: 1.0\r\n%s"
            % (a.to, mid, mid, a.header, mid, inner))
class Refused(Exception):
    def __init__(self, code): self.code = code
def connect():
    s = smtplib.SMTP(timeout=120)
    bump("conns")
    code, msg = s.connect("127.0.0.1", int(a.port))
    bump("open")
    if code != 220:
        raise Refused(code)
    code, msg = s.ehlo("load.example.com")
    if code != 250:
        raise Refused(code)
    return s
def close(s):
    if s is None:
        return
    bump("open", -1)
    try:
        s.close()
    except Exception:
        pass
def transaction(s, data):
    code, msg = s.mail("alice@example.com")
    if code != 250: raise Refused(code)
    code, msg = s.rcpt(a.to)
    if code not in (250, 251): raise Refused(code)
    try:
        code, msg = s.data(data.encode())
    except smtplib.SMTPDataError as e:
        raise Refused(e.smtp_code)
    if code != 250: raise Refused(code)
def session(sn):
    s, first = None, True
    try:
        s = connect()
    except Exception:
        s = None
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    for k in range(1, int(a.messages) + 1):
        if k > 1 and a.pause:
            time.sleep(random.uniform(0, 2 * a.pause))
        mid = "%s-%d-%d" % (a.prefix, sn, k)
        data = message(mid)
        tries, codes, status = 0, [], "gaveup"
        while tries < a.tries and time.time() < end:
            while a.gate and not os.path.exists(a.gate) and time.time() < end:
                time.sleep(0.1)
            tries += 1
            try:
                if s is None:
                    s = connect()
                transaction(s, data)
                status = "accepted"; bump("acc"); break
            except Refused as e:
                codes.append(str(e.code))
                if 500 <= e.code < 600:
                    bump("5xx"); status = "refused"
                    try: s.rset()
                    except Exception: close(s); s = None
                    break
                bump("4xx")
            except (OSError, smtplib.SMTPException):
                codes.append("drop"); bump("drops")
            close(s); s = None
            time.sleep(random.uniform(0.3, 1.5))
        results[mid] = "%s %s %d %s" % (mid, status, tries, ",".join(codes) or "-")
    if s is not None:
        try: s.quit()
        except Exception: pass
        close(s)
def progress():
    while not done.is_set():
        with open(a.progress + ".tmp", "w") as f:
            f.write("%d\n" % st["acc"])
        os.rename(a.progress + ".tmp", a.progress)
        done.wait(0.5)
done = threading.Event()
if a.progress:
    threading.Thread(target=progress, daemon=True).start()
threads = [threading.Thread(target=session, args=(i,)) for i in range(1, int(a.sessions) + 1)]
for t in threads: t.start()
for t in threads: t.join()
done.set()
if a.progress:
    open(a.progress, "w").write("%d\n" % st["acc"])
with open(a.out, "w") as f:
    for mid in sorted(results): f.write(results[mid] + "\n")
c = lambda w: sum(1 for r in results.values() if r.split()[1] == w)
print("sessions=%d peak=%d connections=%d accepted=%d refused=%d gaveup=%d 4xx=%d 5xx=%d drops=%d seconds=%.1f"
      % (a.sessions, st["peak"], st["conns"], c("accepted"), c("refused"), c("gaveup"), st["4xx"],
         st["5xx"], st["drops"], time.time() - start))
'
smtp_load() {
    "$PYTHON3" -c "$HARNESS_LOAD_PY" --port "$HARNESS_SMTPD_PORT" --header "$HARNESS_ID_HEADER" "$@"
}

# sink_ids : every message in the sink (HARNESS_SINK_DIR) as "ID FILE", ID the value of its
# "$HARNESS_ID_HEADER" field ("-" when it has none), in the order of delivery
sink_ids() {
    "$PYTHON3" - "$HARNESS_SINK_DIR" "$HARNESS_ID_HEADER" <<'PY'
import glob, os, re, sys
d, name = sys.argv[1], sys.argv[2].lower().encode()
for f in sorted(glob.glob(os.path.join(d, "msg-*.eml"))):
    head = re.split(rb"\r?\n\r?\n", open(f, "rb").read(65536), maxsplit=1)[0]
    head = re.sub(rb"\r?\n[ \t]+", b" ", head)
    mid = "-"
    for line in re.split(rb"\r?\n", head):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name:
            mid = v.strip().decode("ascii", "replace")
            break
    print(mid, f)
PY
}

# openssl_judge_many PKI RCPT SIGNER SALT LIST : LIST holds "ID FILE" lines; for each, the
# message is application/pkcs7-mime enveloped-data, decrypts with RCPT's key (openssl cms) to
# an entity holding load-marker-ID-SALT, whose signature verifies against PKI's root, made with
# SIGNER's certificate (PKI/private/SIGNER.crt).
# Two at a time. Prints one line per failure; returns 0 when there is none.
openssl_judge_many() {
    "$PYTHON3" - "$@" <<'PY'
import concurrent.futures, re, subprocess, sys
pki, rcpt, signer, salt, listing = sys.argv[1:6]
jobs = [l.split() for l in open(listing).read().splitlines() if l.strip()]
if not jobs:
    print("no message to judge"); sys.exit(1)
def pem_body(b):
    return b"".join(re.findall(rb"-----BEGIN CERTIFICATE-----(.*?)-----END", b, re.S)[:1]).split()
want_signer = pem_body(open("%s/private/%s.crt" % (pki, signer), "rb").read())
def run(cmd, data):
    return subprocess.run(cmd, input=data, capture_output=True)
def judge(mid, f):
    d = open(f, "rb").read()
    head = re.sub(rb"\r?\n[ \t]+", b" ", re.split(rb"\r?\n\r?\n", d, maxsplit=1)[0])
    if not re.search(rb"(?im)^Content-Type: *application/pkcs7-mime; *smime-type=enveloped-data", head):
        return "%s: not application/pkcs7-mime; smime-type=enveloped-data (%s)" % (mid, f)
    p = run(["openssl", "cms", "-decrypt", "-recip", "%s/private/%s.crt" % (pki, rcpt),
             "-inkey", "%s/private/%s.key" % (pki, rcpt)], d)
    if p.returncode != 0:
        return "%s: openssl cms -decrypt failed: %s" % (mid, p.stderr.decode()[:200])
    marker = ("load-marker-%s-%s" % (mid, salt)).encode()
    if marker not in p.stdout:
        return "%s: the decrypted entity lacks its marker" % mid
    v = run(["openssl", "cms", "-verify", "-CAfile", "%s/ca/root.crt" % pki, "-purpose", "any",
             "-signer", "/dev/stdout", "-out", "/dev/null"], p.stdout)
    if v.returncode != 0:
        return "%s: the signature does not verify: %s" % (mid, v.stderr.decode()[:200])
    if pem_body(v.stdout) != want_signer:
        return "%s: signed by another than %s" % (mid, signer)
    return None
with concurrent.futures.ThreadPoolExecutor(2) as ex:
    bad = [r for r in ex.map(lambda j: judge(*j), jobs) if r]
print("\n".join(bad[:50]) + ("\n... %d failures" % len(bad) if len(bad) > 50 else ""), end="")
sys.exit(1 if bad else 0)
PY
}

# milter_child SUPERVISOR : the pid of the milter process (the supervisor's child), or nothing
milter_child() { pgrep -P "$1" 2>/dev/null | head -n 1 || true; }

# rss_kb PID : the resident set size of PID in kB (0 when it is gone)
rss_kb() { awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# open_files PID : how many files PID has open (0 when it is gone)
open_files() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
