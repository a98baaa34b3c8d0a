#!/bin/bash
# Add EC identities to a test PKI made by tests/gen-certs.sh (same intermediate CA), for the
# interoperability matrix. Generated at test time, never committed.
#
# Usage: tests/interop/extra-certs.sh PKI_DIR
#   erin@ec256.example   recipient, EC P-256 (keyAgreement: ECDH)
#   frank@ec384.example  recipient, EC P-384
#   eve@example.com      signer, ECDSA P-256 (key-dir identity)
set -euo pipefail
pki=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
serial=$((0x3001))

issue() { # ADDR CURVE KEYUSAGE
    local addr=$1 curve=$2 ku=$3 name
    name="$(tr '[:lower:]' '[:upper:]' <<<"${addr:0:1}")${addr:1}"
    name=${name%%@*}
    (umask 077; openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" \
        -out "$pki/private/$addr.key" 2>/dev/null)
    openssl req -new -key "$pki/private/$addr.key" \
        -subj "/O=smime-milter test/CN=$name Test/emailAddress=$addr" -out "$tmp/$addr.csr"
    cat >"$tmp/$addr.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,$ku
extendedKeyUsage=emailProtection
subjectAltName=email:$addr
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
    openssl x509 -req -sha256 -days 30 -in "$tmp/$addr.csr" -CA "$pki/ca/inter.crt" \
        -CAkey "$pki/ca/inter.key" -set_serial "$serial" -extfile "$tmp/$addr.ext" \
        -out "$pki/private/$addr.crt" 2>/dev/null
    serial=$((serial + 1))
    cp "$pki/private/$addr.crt" "$pki/certs/$addr.crt"
    (umask 077; openssl pkcs12 -export -in "$pki/private/$addr.crt" -inkey "$pki/private/$addr.key" \
        -certfile "$pki/ca/inter.crt" -name "$addr" -passout pass:test \
        -certpbe NONE -keypbe PBE-SHA1-3DES -macalg sha1 -out "$pki/private/$addr.p12")
}

issue erin@ec256.example P-256 digitalSignature,keyAgreement
issue frank@ec384.example P-384 digitalSignature,keyAgreement
issue eve@example.com P-256 digitalSignature
(umask 077; cat "$pki/private/eve@example.com.key" "$pki/private/eve@example.com.crt" \
    "$pki/ca/inter.crt" >"$pki/keys/eve@example.com.pem")
chmod 0600 "$pki/keys/eve@example.com.pem" "$pki"/private/*
for a in erin@ec256.example frank@ec384.example eve@example.com; do
    openssl verify -purpose smimesign -CAfile "$pki/ca/root.crt" -untrusted "$pki/ca/inter.crt" \
        "$pki/private/$a.crt" >/dev/null
done
