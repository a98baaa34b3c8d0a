# shellcheck shell=bash
# Certificates with chosen dates and extensions, issued at test time by the intermediate CA of a
# test PKI made by tests/gen-certs.sh (never committed).
#
#   . "$TESTS/lib/pki.sh"
#   pki_ca_setup PKI_DIR WORK_DIR          # an "openssl ca" database for PKI_DIR's intermediate
#   pki_issue ADDR OUT START END [EKU] [SAN_ADDR]
#                                          # OUT.key + OUT.crt (+ OUT.pem: key, cert, intermediate)
#   pki_self_signed ADDR OUT               # the same, self-signed: chains to nothing
#   pki_when '+10 days'                    # a date as openssl ca wants it (YYYYMMDDHHMMSSZ)

pki_ca_setup() { # PKI_DIR WORK_DIR
    PKI_CA_PKI=$1
    PKI_CA_DIR=$2/ca-db
    mkdir -p "$PKI_CA_DIR/new"
    : >"$PKI_CA_DIR/index.txt"
    echo 5001 >"$PKI_CA_DIR/serial"
    cat >"$PKI_CA_DIR/ca.cnf" <<EOF
[ ca ]
default_ca = tca
[ tca ]
dir = $PKI_CA_DIR
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
[ pol ]
organizationName = optional
commonName = supplied
emailAddress = optional
EOF
}

pki_when() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

# the private key, certificate and intermediate in one file, as key-dir/<address>.pem
pki_bundle() { # OUT
    (umask 077 && cat "$1.key" "$1.crt" "$PKI_CA_PKI/ca/inter.crt" >"$1.pem")
}

pki_issue() { # ADDR OUT START END [EKU] [SAN_ADDR]
    local out=$2 start=$3 end=$4 eku=${5:-emailProtection} san=${6:-$1}
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out.key" 2>/dev/null)
    openssl req -new -key "$out.key" -subj "/O=smime-milter test/CN=$san" -out "$out.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=$eku" \
        "subjectAltName=email:$san" "authorityKeyIdentifier=keyid" >"$out.ext"
    openssl ca -batch -config "$PKI_CA_DIR/ca.cnf" -cert "$PKI_CA_PKI/ca/inter.crt" \
        -keyfile "$PKI_CA_PKI/ca/inter.key" -in "$out.csr" -out "$out.crt" -notext \
        -startdate "$start" -enddate "$end" -extfile "$out.ext" 2>/dev/null
    pki_bundle "$out"
}

pki_self_signed() { # ADDR OUT
    (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout "$2.key" -out "$2.crt" \
        -subj "/CN=$1 self-signed" -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
        -addext "extendedKeyUsage=emailProtection" -addext "subjectAltName=email:$1" 2>/dev/null)
    (umask 077 && cat "$2.key" "$2.crt" >"$2.pem")
}
