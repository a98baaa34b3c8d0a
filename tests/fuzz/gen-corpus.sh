#!/usr/bin/env bash
# gen-corpus.sh - (re)generate the committed seed corpora of the fuzz targets, tests/fuzz/corpus/TARGET/,
# from the test corpus: the interoperability messages (tests/interop/corpus.py), the shipped
# configuration examples, and certificates from a throwaway test PKI (tests/gen-certs.sh).
# Seeds hold messages, configuration text and certificates only: the PKI's private keys stay in a
# temporary directory that is removed at the end, and a check refuses to write any seed that holds
# a private key.
#
# Usage: tests/fuzz/gen-corpus.sh [OUTDIR]     (default: tests/fuzz/corpus)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$here/corpus}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smime-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
PY=${PYTHON3:-python3}

for t in mime mime7bit hp conf address harvest ldap spool mimescan inbound; do
    rm -rf "$out/fuzz_$t"
    mkdir -p "$out/fuzz_$t"
done

"$PY" "$top/tests/interop/corpus.py" "$tmp/msgs" "Alice <alice@example.com>" \
    "Bob <bob@example.org>, carol@example.net" >/dev/null
"$top/tests/gen-certs.sh" "$tmp/pki" >/dev/null 2>&1

# seed FILE TARGET NAME PREFIX-BYTES(printf format): PREFIX then FILE
seed() {
    local file=$1 target=$2 name=$3 prefix=${4:-}
    {
        # shellcheck disable=SC2059 # the prefix is a printf format of escapes on purpose
        [ -n "$prefix" ] && printf "$prefix"
        cat "$file"
    } >"$out/fuzz_$target/$name"
}

for m in "$tmp"/msgs/*.eml; do
    n=$(basename "$m" .eml)
    # small seeds: libFuzzer grows inputs from them (the 5 MB message is left out)
    [ "$(stat -c %s "$m")" -le 65536 ] || continue
    seed "$m" mime "$n"
    # the MIME structure limits: small ones (depth 2, parts 4, 2 fields, 1024 bytes), and the
    # largest of the target (depth 4, parts 8, 4 fields, 2048 bytes)
    seed "$m" mimescan "$n-small" '\055\003'
    seed "$m" mimescan "$n-large" '\377\005'
    # 7-bit re-encoding: the whole entity (mode 0), and a leaf of each kind (mode 1) over the body
    seed "$m" mime7bit "$n-entity" '\000\001'
    "$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); i = d.find(b"\n\n"); sys.stdout.buffer.write(d[i + 2:] if i >= 0 else d)' \
        "$m" >"$tmp/body"
    seed "$tmp/body" mime7bit "$n-leaf" '\001\002\007'
    # header protection: signed (flags 2), encrypted (1), encrypted with the Subject hidden (5)
    seed "$m" hp "$n-signed" '\002'
    seed "$m" hp "$n-encrypted" '\005'
    # harvesting: alice signs the body; extra header lines: the message's own
    "$PY" -c 'import sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
i = d.find(b"\r\n\r\n")
head, body = (d[:i + 2], d[i + 4:]) if i >= 0 else (d, b"")
extra = b"".join(l + b"\r\n" for l in head.split(b"\r\n") if l and not l.lower().startswith((b"from:", b"content-type:")) and not l[:1].isspace())
sys.stdout.buffer.write(b"\x02Alice <alice@example.com>\0" + extra + b"\0" + body)' "$m" >"$out/fuzz_harvest/$n-signed"
done
# the MIME structure limits: nested multiparts, and a digest of many parts
"$PY" -c 'import sys
b = b"Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n"
for i in range(1, 6):
    b += b"--b%d\r\nContent-Type: multipart/alternative; boundary=\"b%d\"\r\n\r\n" % (i - 1, i)
b += b"--b5\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
for i in range(5, -1, -1):
    b += b"--b%d--\r\n" % i
sys.stdout.buffer.write(b"\xff\x01" + b)' >"$out/fuzz_mimescan/nested-multipart"
"$PY" -c 'import sys
p = b"Content-Type: multipart/digest; boundary=p\r\n\r\npreamble\r\n"
for i in range(10):
    p += b"--p\r\nX-A: 1\r\nX-B: 2\r\n\r\nSubject: %d\r\n\r\nbody\r\n" % i
sys.stdout.buffer.write(b"\x2d\x07" + p + b"--p--\r\nepilogue\r\n")' >"$out/fuzz_mimescan/many-parts"
# a multipart of three leaves (mode 2): selector, 16-bit length, body
"$PY" -c 'import struct, sys
parts = [(1 + 6 * 2, "Caf\u00e9 cr\u00e8me\r\n".encode()), (2 + 6 * 3, bytes(range(256))), (0, b"plain\r\n")]
sys.stdout.buffer.write(b"\x02\x05" + b"".join(bytes([s]) + struct.pack(">H", len(b)) + b for s, b in parts))' \
    >"$out/fuzz_mime7bit/multipart-three-leaves"

# harvesting: messages signed by a stranger's throwaway key (raw, mode 0 and 1), with openssl
P=$tmp/pki
openssl cms -sign -signer "$P/certs/alice@example.com.crt" -inkey "$P/private/alice@example.com.key" \
    -in "$tmp/msgs/ascii7.eml" -out "$tmp/signed-detached.eml" 2>/dev/null ||
    openssl smime -sign -signer "$P/certs/alice@example.com.crt" -inkey "$P/private/alice@example.com.key" \
        -in "$tmp/msgs/ascii7.eml" -out "$tmp/signed-detached.eml"
openssl cms -sign -nodetach -signer "$P/certs/alice@example.com.crt" \
    -inkey "$P/private/alice@example.com.key" -in "$tmp/msgs/utf8.eml" -out "$tmp/signed-opaque.eml"
for s in signed-detached signed-opaque; do
    { printf 'From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n'; sed 's/$/\r/' "$tmp/$s.eml"; } >"$tmp/$s.crlf"
    seed "$tmp/$s.crlf" harvest "$s-ca" '\000'
    seed "$tmp/$s.crlf" harvest "$s-any" '\001'
done
printf '\013alice@example.com\0Authentication-Results: mx.fuzz.example; dkim=pass header.d=example.com\r\n\0Content-Type: text/plain\r\n\r\nhi\r\n' \
    >"$out/fuzz_harvest/dkim-opaque"
printf '\003alice@example.com\0\0Content-Type: text/plain\r\n\r\nchanged\r\n\0\001\000X' \
    >"$out/fuzz_harvest/mutated-content"

# addresses: the From/To/Cc values of the corpus, and the shapes the parser knows
grep -ahiE '^(from|to|cc):' "$tmp"/msgs/*.eml | sed 's/^[^:]*://' | tr -d '\r' | sort -u |
    while IFS= read -r v; do
        printf '\100%s' "$v" >"$out/fuzz_address/$(printf '%s' "$v" | cksum | cut -d' ' -f1)"
    done
i=0
for v in '"Doe, John" <john.doe@Example.COM>' 'a@b (comment (nested)) , c@d' '<@route:x@y.example>' \
    'group: m@x.example, n@y.example;' '=?utf-8?q?J=C3=B6rg?= <joerg@example.de>' 'bare@example.com'; do
    i=$((i + 1))
    printf '\377%s' "$v" >"$out/fuzz_address/shape-$i"
done

# LDAP values: DER certificates, a PKCS#7 certs-only bundle; escapes and filters
openssl x509 -in "$P/certs/bob@partner.example.crt" -outform DER -out "$out/fuzz_ldap/.der"
{ printf '\000'; cat "$out/fuzz_ldap/.der"; } >"$out/fuzz_ldap/usercertificate-der"
rm -f "$out/fuzz_ldap/.der"
openssl crl2pkcs7 -nocrl -certfile "$P/certs/bob@partner.example.crt" -certfile "$P/ca/inter.crt" \
    -outform DER -out "$tmp/p7.der"
seed "$tmp/p7.der" ldap usersmimecertificate-p7 '\001'
printf '\002\100bob*(x)\\y@example.org' >"$out/fuzz_ldap/escape"
printf '\003(&(objectClass=inetOrgPerson)(|(mail=%%s)(mailAlternateAddress=%%s)))\0bob)(uid=*@example.org' \
    >"$out/fuzz_ldap/filter"

# configurations: the shipped examples and a full one, paths made relative to the fixture
for f in "$top"/conf-examples/*.conf; do
    sed -E -e 's#(cert-dir|harvest-dir|spool-dir)[[:space:]]+/[^[:space:]]*#\1 certs#' \
        -e 's#(key-dir)[[:space:]]+/[^[:space:]]*#\1 keys#' \
        -e 's#(ca-file)[[:space:]]+/[^[:space:]]*#\1 ca.pem#' \
        -e 's#(signing-key|signing-cert|domain-cert|key-passphrase-file|ldap-password-file)[[:space:]]+/[^[:space:]]*#\1 secret#' \
        -e 's#(pid-file)[[:space:]]+/[^[:space:]]*#\1 pid#' -e 's#unix:/#unix:#' "$f" >"$out/fuzz_conf/$(basename "$f")"
done
cat >"$out/fuzz_conf/everything.conf" <<'EOF'
socket          inet:8894@127.0.0.1
cert-dir        certs
key-dir         keys
ca-file         ca.pem
internal-hosts  127.0.0.0/8 ::1 file:hosts
on-error        tempfail
spool-memory    64k
body-chunk-size 4096
warn-expiry     30
allow-core-dumps no
virtual-mta-header X-Virtual-MTA
virtual-mta-macro  daemon_name
harvest-dir     certs
harvest-require-dkim yes
authserv-id     mx.example.com
ldap-uri        ldap://127.0.0.1:389
ldap-base       dc=example,dc=com
ldap-filter     (mail=%s)
sign            yes
encrypt         yes
<domain *.example.org>
    missing-cert   sign-only
    cipher         aes-128-gcm
    key-transport  rsa-oaep
</domain>
<virtual-mta secure-out>
    header-protection yes
    hide-subject   yes
    <domain example.net>
        missing-cert reject
    </domain>
</virtual-mta>
<sender alice@example.com>
    signing-key    keys/alice@example.com.pem
    digest         sha384
    signature      rsa-pss
    sign-format    opaque
    missing-key    tempfail
</sender>
EOF

# spool: memory bound, then write / read / rewind operations
printf '\000\020w\000\040abcdefghijklmnopqrstuvwxyz012345r\000\010zr\001\000' >"$out/fuzz_spool/small-in-memory"
printf '\000\000W\004\000r\200\000r\200\000zr\000\001r\377\377' >"$out/fuzz_spool/spilled"
printf '\001\000w\002\000%0512d W\000\100 z r\001\000 r\000\000 r\004\000' 0 >"$out/fuzz_spool/across-the-bound"

# inbound: a mode byte, then a CMS structure (mode 0) or changes to a message made by the target
# (1 AES-CBC DER, 2 AES-CBC BER, 3 AES-GCM BER; + 4: spools spill after 16 bytes)
printf '\001' >"$out/fuzz_inbound/cbc-der"
printf '\002\000\100\001' >"$out/fuzz_inbound/cbc-ber-changed"
printf '\007' >"$out/fuzz_inbound/gcm-ber-spilled"
for c in aes-256-cbc aes-128-gcm; do
    {
        printf '\000'
        printf 'Content-Type: text/plain\r\n\r\nseed\r\n' |
            openssl cms -encrypt -binary -stream -outform DER -"$c" \
                "$tmp/pki/certs/bob@partner.example.crt" "$tmp/pki/certs/carol@partner.example.crt"
    } >"$out/fuzz_inbound/openssl-$c"
done
printf 'Content-Type: text/plain\r\n\r\nsigned\r\n' >"$tmp/signed.txt"
{
    printf '\004'
    openssl cms -sign -binary -nodetach -outform DER -in "$tmp/signed.txt" \
        -signer "$tmp/pki/private/alice@example.com.crt" -inkey "$tmp/pki/private/alice@example.com.key"
} >"$out/fuzz_inbound/openssl-signed"

# no seed may hold a private key
if grep -rlE 'PRIVATE KEY' "$out" >/dev/null; then
    echo "gen-corpus.sh: a seed holds a private key: $(grep -rlE 'PRIVATE KEY' "$out")" >&2
    exit 1
fi
for t in "$out"/fuzz_*; do
    echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
