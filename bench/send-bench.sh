#!/usr/bin/env bash
# bench/send-bench.sh - the sparkpostSMIME article's race, with smime-tool: N sends of a ~19 KB
# and a ~577 KB message, each signed and encrypted (RSA-2048, To + Cc) and injected over SMTP
# with STARTTLS and AUTH into a loopback MTA (tests/tool/smtpd.py, aiosmtpd). Reports, per size,
# the mean and p95 of the send time smime-tool prints ("OK - in N seconds": MAIL FROM to the
# server's 250) and of the whole command (read, sign, encrypt, connect, STARTTLS, AUTH, send).
# A benchmark, not a test: numbers depend on the machine, compare ratios.
#
# Usage: bench/send-bench.sh [N]     (default 20 sends per size; builds smime-tool if needed;
#        SMIME_TOOL=PATH runs another build)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20}
# shellcheck source=../tests/lib/harness.sh
. "$top/tests/lib/harness.sh"
harness_trap
harness_need openssl || exit 1
tool=${SMIME_TOOL:-$top/tools/smime-tool}
[ -x "$tool" ] || make -C "$top" -s tools/smime-tool

work=$(mktemp -d "${TMPDIR:-/tmp}/smime-send-bench.XXXXXX")
harness_on_exit rm -rf "$work"
mkdir -p "$work/keys" "$work/tls" "$work/spool"

"$top/tests/gen-certs.sh" "$work/pki" >/dev/null
cp "$work/pki/keys/alice@example.com.pem" "$work/pki/certs/"*.crt "$work/keys/"
chmod 600 "$work/keys/alice@example.com.pem"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls/server.key" \
    -out "$work/tls/server.crt" 2>/dev/null

# make_message SIZE FILE : a text message of about SIZE bytes
make_message() {
    "$PYTHON3" - "$1" "$2" <<'PY'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head = ("From: Alice <alice@example.com>\r\nTo: Bob <bob@partner.example>\r\n"
        "Cc: carol@partner.example\r\nSubject: benchmark %d bytes\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" % size)
line = "The quick brown fox jumps over the lazy dog, 0123456789 - S/MIME race.\r\n"
body = (line * (size // len(line) + 1))[:max(size - len(head), 0)]
open(path, "w", newline="").write(head + body)
PY
}
make_message 19000 "$work/keys/small.eml"
make_message 577000 "$work/keys/large.eml"

port=$(free_port)
pw=$(openssl rand -hex 12)
SMTPD_PASSWORD=$pw "$PYTHON3" "$top/tests/tool/smtpd.py" --port "$port" --outdir "$work/spool" \
    --tls-cert "$work/tls/server.crt" --tls-key "$work/tls/server.key" --user alice \
    --auth-required >"$work/smtpd.log" 2>&1 &
pid=$!
harness_on_exit stop_pid "$pid" smtpd
wait_for_port "$port" 20 "$pid"

# stats FILE : "mean X ms, p95 Y ms" of the numbers (seconds) in FILE
stats() {
    "$PYTHON3" - "$1" <<'PY'
import math, sys
v = sorted(float(x) for x in open(sys.argv[1]).read().split())
p95 = v[min(len(v) - 1, math.ceil(0.95 * len(v)) - 1)]
print("mean %7.1f ms, p95 %7.1f ms" % (1000 * sum(v) / len(v), 1000 * p95))
PY
}

echo "smime-tool send --sign --encrypt --send-smtp, STARTTLS + AUTH to 127.0.0.1:$port, $n sends per size"
for size in small large; do
    : >"$work/$size.send"
    : >"$work/$size.total"
    for ((i = 0; i < n; i++)); do
        t0=$(date +%s.%N)
        out=$(cd "$work/keys" && SMTP_HOST=127.0.0.1 SMTP_PORT=$port SMTP_USER=alice \
            SMTP_PASSWORD=$pw SMTP_CA_FILE=$work/tls/server.crt \
            "$tool" send "$size.eml" --sign --encrypt --send-smtp)
        t1=$(date +%s.%N)
        sed -n 's/^OK - in \([0-9.]*\) seconds$/\1/p' <<<"$out" >>"$work/$size.send"
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$work/$size.total"
    done
    bytes=$(stat -c %s "$work/keys/$size.eml")
    printf '%-5s %7d bytes  send (MAIL..250): %s   whole command: %s\n' "$size" "$bytes" \
        "$(stats "$work/$size.send")" "$(stats "$work/$size.total")"
done
delivered=$(find "$work/spool" -name '*.eml' | wc -l)
echo "delivered: $delivered of $((2 * n))"
[ "$delivered" -eq $((2 * n)) ]
