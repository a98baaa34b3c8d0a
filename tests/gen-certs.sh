#!/bin/bash
# Generate a throwaway S/MIME test PKI (root CA -> intermediate CA -> users).
#
# Usage: tests/gen-certs.sh OUTDIR
#
# Layout written under OUTDIR:
#   ca/root.crt ca/inter.crt ca/chain.pem       CA certificates (chain = inter + root)
#   ca/root.key ca/inter.key                    CA keys (test only)
#   certs/<addr>.crt                            recipient certificates (smime-milter cert-dir)
#   keys/<addr>.pem                             signing identities: key + cert + inter (key-dir)
#   private/<addr>.key .crt .p12                every user's key, cert and PKCS#12 (password "test")
#
# Users: alice@example.com (signer), bob@partner.example, carol@partner.example,
# and every address in $GEN_CERTS_EXTRA (space-separated) as further recipients.
# dave@nocert.example deliberately gets nothing.
# Nothing generated here is ever committed: run it at test time.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
command -v openssl >/dev/null || { echo "gen-certs: openssl not found" >&2; exit 1; }

USERS="alice@example.com bob@partner.example carol@partner.example ${GEN_CERTS_EXTRA:-}"
SIGNERS="alice@example.com"
P12_PASS="test"
DAYS=30          # recipients' certificates (smime-tool-certs.sh counts on it)
SIGNER_DAYS=365  # signers' certificates: beyond warn-expiry's 30 days, so that -n stays quiet

umask 022
mkdir -p "$out/ca" "$out/certs" "$out/keys" "$out/private"
chmod 0700 "$out/keys" "$out/private"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() { # FILE
    (umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null)
}

# Root CA (self-signed)
newkey "$out/ca/root.key"
openssl req -new -x509 -sha256 -days $((SIGNER_DAYS + 2)) -key "$out/ca/root.key" \
    -subj "/O=smime-milter test/CN=smime-milter Test Root CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$out/ca/root.crt"

# Intermediate CA
newkey "$out/ca/inter.key"
openssl req -new -key "$out/ca/inter.key" \
    -subj "/O=smime-milter test/CN=smime-milter Test Intermediate CA" -out "$tmp/inter.csr"
cat > "$tmp/inter.ext" <<EXT
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -sha256 -days $((SIGNER_DAYS + 1)) -in "$tmp/inter.csr" \
    -CA "$out/ca/root.crt" -CAkey "$out/ca/root.key" -set_serial 0x1001 \
    -extfile "$tmp/inter.ext" -out "$out/ca/inter.crt" 2>/dev/null
cat "$out/ca/inter.crt" "$out/ca/root.crt" > "$out/ca/chain.pem"

# End-entity S/MIME certificates
serial=$((0x2001))
for addr in $USERS; do
    name=${addr%%@*}
    name="$(tr '[:lower:]' '[:upper:]' <<<"${name:0:1}")${name:1}"
    key="$out/private/$addr.key"
    crt="$out/private/$addr.crt"
    newkey "$key"
    openssl req -new -key "$key" -subj "/O=smime-milter test/CN=$name Test/emailAddress=$addr" \
        -out "$tmp/$addr.csr"
    cat > "$tmp/$addr.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=emailProtection
subjectAltName=email:$addr
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
    days=$DAYS
    case " $SIGNERS " in *" $addr "*) days=$SIGNER_DAYS ;; esac
    openssl x509 -req -sha256 -days "$days" -in "$tmp/$addr.csr" \
        -CA "$out/ca/inter.crt" -CAkey "$out/ca/inter.key" -set_serial "$serial" \
        -extfile "$tmp/$addr.ext" -out "$crt" 2>/dev/null
    serial=$((serial + 1))
    cp "$crt" "$out/certs/$addr.crt"
    # PKCS#12 readable by gpgsm 2.2 and NSS pk12util (legacy algorithms on purpose)
    (umask 077; openssl pkcs12 -export -in "$crt" -inkey "$key" -certfile "$out/ca/inter.crt" \
        -name "$addr" -passout "pass:$P12_PASS" \
        -certpbe NONE -keypbe PBE-SHA1-3DES -macalg sha1 -out "$out/private/$addr.p12")
done

# Signing identities for the milter's key-dir
for addr in $SIGNERS; do
    (umask 077; cat "$out/private/$addr.key" "$out/private/$addr.crt" "$out/ca/inter.crt" \
        > "$out/keys/$addr.pem")
    chmod 0600 "$out/keys/$addr.pem"
done
chmod 0600 "$out"/private/* "$out"/ca/*.key

# Sanity: every user certificate chains to the root
for addr in $USERS; do
    openssl verify -purpose smimesign -CAfile "$out/ca/root.crt" -untrusted "$out/ca/inter.crt" \
        "$out/private/$addr.crt" >/dev/null
done
echo "gen-certs: test PKI in $out ($USERS)"
