#!/usr/bin/env bash
# bench/run.sh - smime-milter benchmarks (not tests), all in one run on the
# same machine so that the ratios mean something:
#   (a) core sign+encrypt throughput (bench_core), 19 KB and 577 KB messages,
#       RSA-2048 signer, 1 and 10 recipients, with and without key/cert lookup;
#   (b) the same work by the `openssl smime -sign | openssl smime -encrypt`
#       pipeline;
#   (c) `openssl speed rsa2048` private-key operations per second;
#   (d) peak RSS growth of the milter for a 50 MB message (miltertest).
# Usage: bench/run.sh [SECONDS]   (default 3 seconds per measurement)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-3}
if [ ! -x "$top/bench/bench_core" ] || [ ! -x "$top/milter/smime-milter" ]; then
    make -C "$top" -s bench/bench_core milter/smime-milter
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/smime-bench.XXXXXX")
milter_pid=
cleanup() {
    [ -n "$milter_pid" ] && kill "$milter_pid" 2>/dev/null && wait "$milter_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }

# A text body of SIZE bytes with CRLF lines, as bench_core makes it.
make_message() { # SIZE FILE
    {
        printf 'From: alice@example.com\r\nTo: r0@partner.example\r\nSubject: bench\r\n'
        printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
        python3 -c "import sys
w=b'Lorem ipsum dolor sit amet, consectetur adipiscing elit, '
n=int(sys.argv[1]); out=bytearray()
i=0
while len(out) < n:
    out += w[: min(len(w), n - len(out))]
sys.stdout.buffer.write(b'\r\n'.join(out[k:k+70] for k in range(0, len(out), 70)))" "$1"
    } >"$2"
}

echo "== preparing certificates"
"$top/tests/gen-certs.sh" "$work/pki" >/dev/null
for i in $(seq 0 9); do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=r$i@partner.example" \
        -addext "subjectAltName=email:r$i@partner.example" \
        -keyout "$work/r$i.key" -out "$work/r$i.crt" 2>/dev/null
done
signer="$work/pki/keys/alice@example.com.pem"
chain="$work/pki/ca/inter.crt"

# (b) one pipeline run per iteration for SECONDS; prints messages/s
pipeline_rate() { # MESSAGE RECIPIENTS
    local msg=$1 n=$2 certs=() count=0 start end
    for i in $(seq 0 $((n - 1))); do certs+=("$work/r$i.crt"); done
    start=$(now)
    while :; do
        openssl smime -sign -signer "$signer" -inkey "$signer" -certfile "$chain" -in "$msg" |
            openssl smime -encrypt -aes256 "${certs[@]}" >/dev/null
        count=$((count + 1))
        end=$(now)
        awk -v s="$start" -v e="$end" -v t="$secs" 'BEGIN { exit !(e - s < t) }' || break
    done
    awk -v c="$count" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", c / (e - s) }'
}

echo "== openssl speed rsa2048 (${secs}s)"
rsa_sign=$(openssl speed -seconds "$secs" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $6 }')
echo "RSA-2048 private-key operations: $rsa_sign/s per core"

echo
printf '%-8s %-6s %12s %12s %12s %10s %12s\n' size rcpts "core msg/s" "+lookup" "pipeline" "core/pipe" "core/rsa"
for size in 19000 577000; do
    make_message "$size" "$work/msg$size.eml"
    for n in 1 10; do
        core=$("$top/bench/bench_core" "$size" "$n" "$secs")
        lookup=$("$top/bench/bench_core" "$size" "$n" "$secs" lookup)
        pipe=$(pipeline_rate "$work/msg$size.eml" "$n")
        awk -v sz="$size" -v n="$n" -v c="$core" -v l="$lookup" -v p="$pipe" -v r="$rsa_sign" \
            'BEGIN { printf "%-8s %-6s %12.1f %12.1f %12.1f %9.1fx %11.0f%%\n", int(sz/1000) "KB", n, c, l, p, c / p, 100 * c / r }'
    done
done
echo "targets: 19KB core >= 70% of the RSA-2048 sign rate, >= 25x the openssl pipeline"

# (d) peak RSS growth of the milter for a 50 MB message.  body-chunk-size:
# Debian 12's miltertest reads each milter reply into a 1 KiB stack buffer.
echo
echo "== milter memory, 50 MB message (miltertest)"
if ! command -v miltertest >/dev/null; then
    echo "miltertest not installed (apt-get install miltertest)" >&2
    exit 1
fi
cat >"$work/milter.conf" <<CONF
socket          unix:$work/milter.sock
cert-dir        $work/pki/certs
key-dir         $work/pki/keys
internal-hosts  127.0.0.0/8
sign            yes
encrypt         yes
spool-dir       $work
body-chunk-size 1024
CONF
"$top/milter/smime-milter" -f -c "$work/milter.conf" 2>"$work/milter.log" &
milter_pid=$!
for _ in $(seq 50); do [ -S "$work/milter.sock" ] && break; sleep 0.1; done
rss() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$milter_pid/status"; }
MILTER_SOCKET="unix:$work/milter.sock" BODY_MB=1 miltertest -s "$top/bench/rss.lua" >/dev/null
base=$(rss VmHWM)
MILTER_SOCKET="unix:$work/milter.sock" BODY_MB=50 miltertest -s "$top/bench/rss.lua" >/dev/null
peak=$(rss VmHWM)
grep -q 'signed and encrypted' "$work/milter.log" || { cat "$work/milter.log"; exit 1; }
awk -v b="$base" -v p="$peak" 'BEGIN { printf "peak RSS after a 1 MB message: %.1f MB; after 50 MB: %.1f MB; growth %.1f MB (target < 16 MB)\n", b/1024, p/1024, (p-b)/1024 }'
