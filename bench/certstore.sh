#!/usr/bin/env bash
# bench/certstore.sh - the recipient certificate index at scale (a benchmark, not a test):
# a cert-dir of 10,000 and of 100,000 certificates and a harvest-dir of 10,000, generated now
# (bench/gencerts: four RSA keys reused, an ECDSA CA, subjects and subjectAltNames varied;
# half the certificates name a second address), indexed with a ca-file as the milter does.
# Prints, each with its target: start-up indexing time, RSS, lookup time per address (hit,
# first time and again, and miss), and the time of the lookup that rescans after one file
# changed (a new file; a file rewritten in place, found by the periodic rescan).
#
# Usage: bench/certstore.sh [LOOKUPS]   (default 20000 lookups per figure)
# Run it under flock so that it does not overlap other heavy jobs on a shared machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
lookups=${1:-20000}
make -C "$top" -s bench/gencerts bench/bench_certindex

work=$(mktemp -d "${TMPDIR:-/tmp}/smime-certstore.XXXXXX")
trap 'rm -rf "$work"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key" 2>/dev/null
openssl req -new -x509 -key "$work/ca.key" -days 60 -subj "/O=Bench/CN=Bench CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$work/ca.pem" 2>/dev/null

gen() { # DIR COUNT PREFIX
    local t0 t1
    mkdir -p "$1"
    t0=$(date +%s.%N)
    "$top/bench/gencerts" "$1" "$2" "$3" "$work/ca.key" "$work/ca.pem"
    t1=$(date +%s.%N)
    awk -v n="$2" -v a="$t0" -v b="$t1" -v d="$(du -sm "$1" | cut -f1)" \
        'BEGIN { printf "generated %d certificates in %.1f s (%d MB)\n", n, b - a, d }'
}

gen "$work/harvest" 10000 harvested
for n in 10000 100000; do
    echo
    echo "== cert-dir of $n certificates + harvest-dir of 10,000"
    rm -rf "$work/certs"
    gen "$work/certs" "$n" user
    sync
    "$top/bench/bench_certindex" "$work/ca.pem" "$n" user "$lookups" "$work/certs" "$work/harvest"
done
