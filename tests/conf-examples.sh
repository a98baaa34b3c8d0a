#!/usr/bin/env bash
# conf-examples.sh - every configuration in conf-examples/ passes
# "smime-milter -n" once its paths point at a private test tree, so the
# examples in the documentation never rot.  Prints ok/not ok per file and
# "N passed, M failed".
set -euo pipefail
TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need openssl
harness_built "$MILTER_BIN"
harness_workdir smime-examples
tmp=$W

mkdir -p "$tmp/certs" "$tmp/keys" "$tmp/run" "$tmp/harvest"
chmod 700 "$tmp/keys"
printf '# generation nodes\n10.1.0.0/16\n10.2.0.10 10.2.0.11  # two more\n' >"$tmp/nodes.txt"
# the examples' CA, and signing identities it issued (-n checks every signing identity)
openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj "/CN=examples CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
for addr in statements@example-bank.com steve@thetucks.com; do
    (umask 077 && openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$addr" \
        -keyout "$tmp/keys/$addr.pem" -out "$tmp/$addr.csr" 2>/dev/null)
    printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s\n' \
        "$addr" >"$tmp/$addr.ext"
    openssl x509 -req -in "$tmp/$addr.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -set_serial "$RANDOM" \
        -days 365 -extfile "$tmp/$addr.ext" 2>/dev/null >>"$tmp/keys/$addr.pem"
done
(umask 077 && echo secret >"$tmp/ldap.secret")

for f in "$HARNESS_ROOT"/conf-examples/*.conf; do
    case $(basename "$f") in opendkim*) continue ;; esac # OpenDKIM's, not ours
    sed -e "s|/etc/smime-milter/certs|$tmp/certs|g" \
        -e "s|/etc/smime-milter/keys|$tmp/keys|g" \
        -e "s|/etc/smime-milter/generation-nodes.txt|$tmp/nodes.txt|g" \
        -e "s|/etc/smime-milter/ca.pem|$tmp/ca.pem|g" \
        -e "s|/etc/smime-milter/ldap.secret|$tmp/ldap.secret|g" \
        -e "s|/var/lib/smime-milter/harvest|$tmp/harvest|g" \
        -e "s|/run/smime-milter|$tmp/run|g" \
        -e "s|/var/spool/postfix/smime-milter|$tmp/run|g" \
        -e "s|^socket-group .*|socket-group root|" \
        -e "s|^user .*|user root|" "$f" >"$tmp/test.conf"
    rc=0
    out=$("$MILTER_BIN" -n -c "$tmp/test.conf" 2>&1) || rc=$?
    is "conf-examples/$(basename "$f") is valid" "exit $rc: $out" "exit 0: $tmp/test.conf: OK"
done
finish
