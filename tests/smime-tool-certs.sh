#!/bin/bash
# smime-tool certs: list, check, expiring and import against certificates generated here: usable
# ones, an expired one, one not valid yet, a wrong extendedKeyUsage, a file named after an address
# its certificate does not carry, a self-signed (untrusted with --ca-file) one, a revoked one (with
# --crl-file), an older and a newer certificate for the same address, and one in a harvest
# directory; import of PEM, DER and PKCS#7 files and of signed messages made with openssl cms
# (good, tampered, signer not matching From:, untrusted signer).
#
# Usage: tests/smime-tool-certs.sh        (after building)
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$HERE/lib/tap.sh"
TOOL=$TOOL_BIN
harness_need openssl
harness_built "$TOOL"
harness_workdir smime-tool-certs

# the diagnostics of a failed check: the last run of the tool
last_run() { echo "\$ smime-tool ${LASTCMD:-}"; echo "rc=$(cat "$LAST.rc")"; cat "$LAST.out" "$LAST.err"; }
TAP_DIAG=last_run
TAP_DIAG_LINES=30

# run NAME ARGS... : smime-tool ARGS in $W; keeps NAME.out, NAME.err, NAME.rc
run() {
    local name=$1 rc=0
    shift
    LAST=$W/run-$name
    LASTCMD="$*"
    (cd "$W" && "$TOOL" "$@") >"$LAST.out" 2>"$LAST.err" || rc=$?
    echo "$rc" >"$LAST.rc"
}
rc_is() { [ "$(cat "$LAST.rc")" = "$1" ]; }
out_line() { grep -qxF -- "$1" "$LAST.out"; }
out_has() { grep -qF -- "$1" "$LAST.out"; }
err_has() { grep -qF -- "$1" "$LAST.err"; }
out_lines() { [ "$(wc -l <"$LAST.out")" -eq "$1" ]; }
# field ADDR FILE N : field N of the list line for ADDR and FILE (exactly one such line)
field() {
    awk -F '\t' -v a="$1" -v f="$2" -v n="$3" '$1 == a && $6 == f { print $n; c++ }
        END { if (c != 1) exit 1 }' "$LAST.out"
}
# listed ADDR FILE STATUS : the list line for ADDR and FILE says STATUS in field 5
listed() { [ "$(field "$1" "$2" 5)" = "$3" ]; }
iso() { openssl x509 -in "$1" -noout "-$2" -dateopt iso_8601 | sed 's/^[^=]*=//; s/ /T/'; }
day() { openssl x509 -in "$1" -noout "-$2" -dateopt iso_8601 | sed 's/^[^=]*=//; s/ .*//'; }
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256; }

# ---------------------------------------------------------------------------------------------
# Test PKI: gen-certs.sh (root -> intermediate -> alice, bob, carol, kate), and a small openssl ca
# setup on the intermediate for certificates with chosen dates and extensions

GEN_CERTS_EXTRA="kate@partner.example" "$HERE/gen-certs.sh" "$W/pki" >/dev/null
P=$W/pki
CD=certs   # the cert-dir, relative to $W where the tool runs
HD=harvest
mkdir -p "$W/$CD" "$W/$HD" "$W/ca/new" "$W/rootca/new" "$W/gen" "$W/imp"
cp "$P/certs/bob@partner.example.crt" "$P/certs/carol@partner.example.crt" "$W/$CD/"
cp "$P/certs/kate@partner.example.crt" "$W/$HD/"

ca_setup() { # DIR
    : >"$1/index.txt"
    echo 3001 >"$1/serial"
    echo 01 >"$1/crlnumber"
    cat >"$1/ca.cnf" <<EOF
[ ca ]
default_ca = tca
[ tca ]
dir = $1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_crl_days = 7
policy = pol
unique_subject = no
copy_extensions = none
[ pol ]
organizationName = optional
commonName = supplied
emailAddress = optional
EOF
}
ca_setup "$W/ca"
ca_setup "$W/rootca"
ICA=(-config "$W/ca/ca.cnf" -cert "$P/ca/inter.crt" -keyfile "$P/ca/inter.key")
RCA=(-config "$W/rootca/ca.cnf" -cert "$P/ca/root.crt" -keyfile "$P/ca/root.key")

# issue ADDR NAME START END EKU : gen/NAME.crt (+ .key) from the intermediate CA, dates YYYYMMDDHHMMSSZ
issue() {
    local addr=$1 start=$3 end=$4 eku=$5 k=$W/gen/$2
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k.key" 2>/dev/null
    openssl req -new -key "$k.key" -subj "/O=smime-milter test/CN=$addr/emailAddress=$addr" \
        -out "$k.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=$eku" \
        "subjectAltName=email:$addr" "authorityKeyIdentifier=keyid" >"$k.ext"
    openssl ca -batch "${ICA[@]}" -in "$k.csr" -out "$k.crt" -notext -startdate "$start" \
        -enddate "$end" -extfile "$k.ext" 2>/dev/null
}
when() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

issue bob@partner.example bob-2020 20200101000000Z "$(when '+60 days')" emailProtection
issue frank@partner.example frank 20200101000000Z 20200201000000Z emailProtection
issue grace@partner.example grace "$(when '+10 days')" "$(when '+100 days')" emailProtection
issue heidi@partner.example heidi "$(when '-1 day')" "$(when '+100 days')" serverAuth
issue judy@partner.example judy "$(when '-1 day')" "$(when '+5 days')" emailProtection
issue oscar@partner.example oscar "$(when '-1 day')" "$(when '+100 days')" emailProtection
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout "$W/gen/ivan.key" \
    -out "$W/gen/ivan.crt" -subj "/CN=Ivan Self/emailAddress=ivan@partner.example" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
    -addext "extendedKeyUsage=emailProtection" -addext "subjectAltName=email:ivan@partner.example" \
    2>/dev/null
# oscar is revoked; the CRL file holds the intermediate's CRL and the root's (every level checked)
openssl ca "${ICA[@]}" -revoke "$W/gen/oscar.crt" 2>/dev/null
openssl ca "${ICA[@]}" -gencrl -out "$W/inter.crl" 2>/dev/null
openssl ca "${RCA[@]}" -gencrl -out "$W/root.crl" 2>/dev/null
cat "$W/inter.crl" "$W/root.crl" >"$W/crls.pem"

cp "$W/gen/bob-2020.crt" "$W/$CD/bob-2020.crt"   # indexed under its subjectAltName only
for u in frank grace heidi judy oscar ivan; do cp "$W/gen/$u.crt" "$W/$CD/$u@partner.example.crt"; done
cp "$P/certs/carol@partner.example.crt" "$W/$CD/eve@partner.example.crt"   # eve's file, carol's cert
CA=$P/ca/chain.pem   # intermediate + root: what a cert-dir's ca-file holds

# ---------------------------------------------------------------------------------------------
echo "# certs list"
run list certs list --cert-dir "$CD" --harvest-dir "$HD" --ca-file "$CA" --crl-file "$W/crls.pem"
check "list: exit 0" rc_is 0
check "list: bob's file, usable" listed bob@partner.example "$CD/bob@partner.example.crt" usable
check "list: bob's older certificate (named by its subjectAltName) also listed, usable" \
    listed bob@partner.example "$CD/bob-2020.crt" usable
check "list: carol usable (her file) and also indexed from eve's file by her subjectAltName" \
    eval "listed carol@partner.example '$CD/carol@partner.example.crt' usable &&
          listed carol@partner.example '$CD/eve@partner.example.crt' usable"
check "list: the harvest directory is indexed (kate)" \
    listed kate@partner.example "$HD/kate@partner.example.crt" usable
check "list: expired (frank)" listed frank@partner.example "$CD/frank@partner.example.crt" \
    "certificate for frank@partner.example has expired"
check "list: not valid yet (grace)" listed grace@partner.example "$CD/grace@partner.example.crt" \
    "certificate for grace@partner.example is not valid yet"
check "list: wrong extendedKeyUsage (heidi)" listed heidi@partner.example \
    "$CD/heidi@partner.example.crt" "certificate for heidi@partner.example does not allow emailProtection"
check "list: file named after an address its certificate does not carry (eve)" \
    listed eve@partner.example "$CD/eve@partner.example.crt" \
    "certificate for eve@partner.example does not name that address"
check "list: self-signed, untrusted with --ca-file (ivan)" listed ivan@partner.example \
    "$CD/ivan@partner.example.crt" \
    "certificate for ivan@partner.example is not trusted: self-signed certificate"
check "list: revoked with --crl-file (oscar)" listed oscar@partner.example \
    "$CD/oscar@partner.example.crt" "certificate for oscar@partner.example is not trusted: certificate revoked"
check "list: judy (expires in 5 days) is still usable" \
    listed judy@partner.example "$CD/judy@partner.example.crt" usable
check "list: subject, issuer and valid-until columns of bob's line" eval "
    [ \"\$(field bob@partner.example '$CD/bob@partner.example.crt' 2)\" = 'O=smime-milter test, CN=Bob Test, emailAddress=bob@partner.example' ] &&
    [ \"\$(field bob@partner.example '$CD/bob@partner.example.crt' 3)\" = 'O=smime-milter test, CN=smime-milter Test Intermediate CA' ] &&
    [ \"\$(field bob@partner.example '$CD/bob@partner.example.crt' 4)\" = '$(day "$W/$CD/bob@partner.example.crt" enddate)' ]"
check "list: 12 lines, sorted by address" \
    eval "out_lines 12 && cut -f1 '$LAST.out' | sort -c"
run list-nochain certs list --cert-dir "$CD"
check "list without --ca-file: ivan and oscar usable (no chain check), frank still expired" eval "
    listed ivan@partner.example '$CD/ivan@partner.example.crt' usable &&
    listed oscar@partner.example '$CD/oscar@partner.example.crt' usable &&
    listed frank@partner.example '$CD/frank@partner.example.crt' 'certificate for frank@partner.example has expired' &&
    ! grep -qF kate@ '$LAST.out'"
run list-default certs list
check "list: the default cert-dir is the current directory (nothing there: exit 0, says so)" \
    eval "rc_is 0 && out_lines 0 && err_has 'no certificates in .'"
run list-nodir certs list --cert-dir "$W/nonexistent"
check "list: missing directory: exit 3 naming it" \
    eval "rc_is 3 && err_has 'certificate directory $W/nonexistent'"

echo "# certs check"
OPTS=(--cert-dir "$CD" --harvest-dir "$HD" --ca-file "$CA" --crl-file "$W/crls.pem")
run check-bob certs check bob@partner.example "${OPTS[@]}"
B=$W/$CD/bob@partner.example.crt
check "check bob: exit 0, the newer of two usable certificates chosen" eval "rc_is 0 &&
    out_line 'bob@partner.example: usable certificate (the latest notBefore of 2 usable ones)'"
check "check bob: subject, serial, notBefore, notAfter and file of the chosen one" eval "
    out_line '  subject:   O=smime-milter test, CN=Bob Test, emailAddress=bob@partner.example' &&
    out_line '  serial:    $(openssl x509 -in "$B" -noout -serial | sed 's/serial=//')' &&
    out_line '  notBefore: $(iso "$B" startdate)' && out_line '  notAfter:  $(iso "$B" enddate)' &&
    out_line '  file:      $CD/bob@partner.example.crt'"
check "check bob: the older certificate is named as not chosen, with its notBefore" \
    out_line "  not chosen: $CD/bob-2020.crt: usable, but its notBefore 2020-01-01T00:00:00Z is not the latest"
run check-bob-case certs check 'Bob <bob@PARTNER.Example>' "${OPTS[@]}"
check "check: a mailbox with an upper-case domain is looked up like the milter does" \
    eval "rc_is 0 && out_has 'bob@partner.example: usable certificate'"
run check-carol certs check carol@partner.example "${OPTS[@]}"
check "check carol: the same certificate in two files: one chosen, the other 'the same certificate'" \
    eval "rc_is 0 && out_line '  not chosen: $CD/eve@partner.example.crt: the same certificate'"
run check-kate certs check kate@partner.example "${OPTS[@]}"
check "check kate: found in the harvest directory, the only one indexed" eval "rc_is 0 &&
    out_line 'kate@partner.example: usable certificate (the only one indexed)' &&
    out_line '  file:      $HD/kate@partner.example.crt'"
run check-missing certs check dave@nocert.example "${OPTS[@]}"
check "check missing: exit 1, no certificate, the directories named" eval "rc_is 1 &&
    out_line 'dave@nocert.example: no certificate (looked in $CD and $HD)'"
run check-frank certs check frank@partner.example "${OPTS[@]}"
check "check expired: exit 1, the candidate with serial and reason" eval "rc_is 1 &&
    out_line 'frank@partner.example: no usable certificate (1 indexed)' &&
    out_line '  $CD/frank@partner.example.crt (serial $(openssl x509 -in "$W/gen/frank.crt" -noout -serial | sed 's/serial=//')): certificate for frank@partner.example has expired'"
run check-ivan certs check ivan@partner.example "${OPTS[@]}"
check "check untrusted: exit 1 with the chain error" eval "rc_is 1 &&
    out_has 'certificate for ivan@partner.example is not trusted: self-signed certificate'"
run check-ivan-nochain certs check ivan@partner.example --cert-dir "$CD"
check "check untrusted without --ca-file: usable (the milter without ca-file takes it)" rc_is 0
run check-eve certs check eve@partner.example "${OPTS[@]}"
check "check address mismatch: exit 1, 'does not name that address'" eval "rc_is 1 &&
    out_has '$CD/eve@partner.example.crt' && out_has 'certificate for eve@partner.example does not name that address'"
run check-oscar certs check oscar@partner.example "${OPTS[@]}"
check "check revoked: exit 1, 'certificate revoked'" \
    eval "rc_is 1 && out_has 'is not trusted: certificate revoked'"
run check-noarg certs check "${OPTS[@]}"
check "check without ADDRESS: exit 2 with usage" eval "rc_is 2 && err_has 'ADDRESS missing' && err_has 'usage:'"
run check-notaddr certs check not-an-address "${OPTS[@]}"
check "check with something not an address: exit 2" eval "rc_is 2 && err_has 'not an e-mail address'"
run check-badopt certs check bob@partner.example --bogus
check "check with an unknown option: exit 2" eval "rc_is 2 && err_has 'unknown option --bogus'"
run check-crlonly certs check bob@partner.example --crl-file "$W/crls.pem"
check "--crl-file without --ca-file: exit 2" eval "rc_is 2 && err_has '--crl-file needs --ca-file'"
run check-nodir certs check bob@partner.example --cert-dir "$W/nonexistent"
check "check with a missing directory: exit 3 (lookup error)" eval "rc_is 3 && err_has '$W/nonexistent'"
run check-noca certs check bob@partner.example --cert-dir "$CD" --ca-file "$W/no-such-ca.pem"
check "check with an unreadable ca-file: exit 3 naming it" eval "rc_is 3 && err_has 'ca-file $W/no-such-ca.pem'"

echo "# certs expiring"
run exp10 certs expiring 10 "${OPTS[@]}"
check "expiring 10: exit 1, judy only (address, notAfter, file)" eval "rc_is 1 && out_lines 1 &&
    out_line \"judy@partner.example	$(iso "$W/gen/judy.crt" enddate)	$CD/judy@partner.example.crt\""
run exp3 certs expiring 3 "${OPTS[@]}"
check "expiring 3: exit 0, nothing printed" eval "rc_is 0 && out_lines 0"
run exp40 certs expiring 40 "${OPTS[@]}"
check "expiring 40: judy first, then bob (the certificate in use), carol, kate; not the unusable" \
    eval "rc_is 1 && [ \"\$(cut -f1,3 '$LAST.out' | tr '\t\n' ' :')\" = \
        'judy@partner.example $CD/judy@partner.example.crt:bob@partner.example $CD/bob@partner.example.crt:carol@partner.example $CD/carol@partner.example.crt:kate@partner.example $HD/kate@partner.example.crt:' ]"
run exp-bad certs expiring soon "${OPTS[@]}"
check "expiring with a non-number: exit 2" eval "rc_is 2 && err_has 'DAYS must be a number'"
run exp-neg certs expiring -1
check "expiring -1: exit 2" rc_is 2
run exp-nodir certs expiring 10 --cert-dir "$W/nonexistent"
check "expiring with a missing directory: exit 3" rc_is 3

echo "# certs import: certificate files"
cat "$P/private/bob@partner.example.crt" "$P/ca/inter.crt" >"$W/bob-bundle.pem"
run imp-pem certs import "$W/bob-bundle.pem" --cert-dir imp --ca-file "$CA"
check "import PEM bundle: exit 0, bob stored with serial and date, the CA skipped" eval "rc_is 0 &&
    out_line 'bob@partner.example: stored imp/bob@partner.example.crt (serial 2002, valid until $(day "$B" enddate))' &&
    out_line '$W/bob-bundle.pem: skipped: CA certificate O=smime-milter test, CN=smime-milter Test Intermediate CA'"
check "import: the stored file is bob's certificate" \
    eval "[ \"\$(fpr '$W/imp/bob@partner.example.crt')\" = \"\$(fpr '$B')\" ]"
check "import: the stored file holds bob's certificate and the intermediate from the bundle" \
    test "$(grep -c 'BEGIN CERTIFICATE' "$W/imp/bob@partner.example.crt")" = 2
run imp-check certs check bob@partner.example --cert-dir imp --ca-file "$P/ca/root.crt"
check "import: the milter's index then finds it usable, chained through the stored intermediate" \
    eval "rc_is 0 && out_line '  file:      imp/bob@partner.example.crt'"
run imp-leaf-root certs import "$P/private/carol@partner.example.crt" --cert-dir imp --ca-file "$P/ca/root.crt"
check "import a lone certificate whose intermediate is in neither the file nor the ca-file: refused" \
    eval "rc_is 1 && out_line 'carol@partner.example: not imported: certificate for carol@partner.example is not trusted: unable to get local issuer certificate' &&
          [ ! -e '$W/imp/carol@partner.example.crt' ]"
run imp-again certs import "$W/bob-bundle.pem" --cert-dir imp --ca-file "$CA"
check "import the same again: exit 1, kept" eval "rc_is 1 &&
    out_line 'bob@partner.example: not imported: imp/bob@partner.example.crt holds a certificate with the same or a later notBefore'"
run imp-older certs import "$W/gen/bob-2020.crt" --cert-dir imp --ca-file "$CA"
check "import an older certificate: exit 1, the newer one kept" eval "rc_is 1 &&
    out_has 'holds a certificate with the same or a later notBefore' &&
    [ \"\$(fpr '$W/imp/bob@partner.example.crt')\" = \"\$(fpr '$B')\" ]"
openssl x509 -in "$P/private/carol@partner.example.crt" -outform DER -out "$W/carol.der"
run imp-der certs import "$W/carol.der" --cert-dir imp --ca-file "$CA"
check "import DER: carol stored" \
    eval "rc_is 0 && out_has 'carol@partner.example: stored imp/carol@partner.example.crt' &&
          [ \"\$(fpr '$W/imp/carol@partner.example.crt')\" = \"\$(fpr '$P/certs/carol@partner.example.crt')\" ]"
openssl crl2pkcs7 -nocrl -certfile "$W/gen/judy.crt" -certfile "$P/ca/inter.crt" -out "$W/judy.p7b"
run imp-p7 certs import "$W/judy.p7b" --cert-dir imp --ca-file "$CA"
check "import PKCS#7 bundle: judy stored" \
    eval "rc_is 0 && out_has 'judy@partner.example: stored imp/judy@partner.example.crt'"
run imp-eku certs import "$W/gen/heidi.crt" --cert-dir imp --ca-file "$CA"
check "import wrong extendedKeyUsage: exit 1, the reason, no file" eval "rc_is 1 &&
    out_line 'heidi@partner.example: not imported: certificate for heidi@partner.example does not allow emailProtection' &&
    [ ! -e '$W/imp/heidi@partner.example.crt' ]"
run imp-expired certs import "$W/gen/frank.crt" --cert-dir imp
check "import expired: exit 1, 'has expired', no file" eval "rc_is 1 &&
    out_has 'frank@partner.example: not imported: certificate for frank@partner.example has expired' &&
    [ ! -e '$W/imp/frank@partner.example.crt' ]"
run imp-untrusted certs import "$W/gen/ivan.crt" --cert-dir imp --ca-file "$CA"
check "import self-signed with --ca-file: exit 1, not trusted, no file" eval "rc_is 1 &&
    out_has 'ivan@partner.example: not imported: certificate for ivan@partner.example is not trusted' &&
    [ ! -e '$W/imp/ivan@partner.example.crt' ]"
run imp-revoked certs import "$W/gen/oscar.crt" --cert-dir imp --ca-file "$CA" --crl-file "$W/crls.pem"
check "import revoked with --crl-file: exit 1, revoked" \
    eval "rc_is 1 && out_has 'is not trusted: certificate revoked'"
run imp-nochain certs import "$W/gen/ivan.crt" --cert-dir imp
check "import self-signed without --ca-file: stored (no chain check, as the milter without ca-file)" \
    eval "rc_is 0 && [ -s '$W/imp/ivan@partner.example.crt' ]"
printf 'hello\n' >"$W/nothing.txt"
run imp-nothing certs import "$W/nothing.txt" --cert-dir imp
check "import a file with no certificate: exit 3 naming it" \
    eval "rc_is 3 && err_has '$W/nothing.txt holds no certificate'"
run imp-missing certs import "$W/no-such-file" --cert-dir imp
check "import a missing file: exit 3" eval "rc_is 3 && err_has '$W/no-such-file'"
run imp-baddir certs import "$B" --cert-dir "$W/nonexistent"
check "import into a missing directory: exit 3 with the reason" \
    eval "rc_is 3 && err_has 'cannot create a file in $W/nonexistent'"

echo "# certs import: signed messages"
printf '%s\r\n' 'Content-Type: text/plain; charset=us-ascii' '' 'quarterly figures attached' \
    'regards, Alice' >"$W/content.txt"
# sign_eml FROM KEYNAME OUT : a signed message as a mail client sends it (openssl cms -sign)
sign_eml() {
    local key crt extra=()
    case $2 in
    ivan) key=$W/gen/ivan.key crt=$W/gen/ivan.crt ;;
    *) key=$P/private/$2.key crt=$P/private/$2.crt extra=(-certfile "$P/ca/inter.crt") ;;
    esac
    { printf '%s\n' "From: $1" 'To: bob@partner.example' 'Subject: figures' \
        'Date: Mon, 23 Nov 2026 10:00:00 +0000'
      openssl cms -sign -in "$W/content.txt" -signer "$crt" -inkey "$key" "${extra[@]}" -md sha256
    } >"$3"
}
sign_eml 'Alice <alice@example.com>' alice@example.com "$W/signed.eml"
grep -q 'Content-Type: multipart/signed' "$W/signed.eml" || notok "openssl cms wrote a multipart/signed message"
mkdir -p "$W/h1" "$W/h2" "$W/h3" "$W/h4" "$W/h5"
run eml certs import "$W/signed.eml" --cert-dir h1 --ca-file "$CA"
check "import signed .eml: exit 0, signature verified, alice stored, no warning" eval "rc_is 0 &&
    out_line '$W/signed.eml: signature verified, signer alice@example.com' &&
    out_has 'alice@example.com: stored h1/alice@example.com.crt' && ! out_has warning &&
    [ \"\$(fpr '$W/h1/alice@example.com.crt')\" = \"\$(fpr '$P/private/alice@example.com.crt')\" ]"
run eml-check certs check alice@example.com --cert-dir h1 --ca-file "$CA"
check "import signed .eml: the stored certificate is usable for the milter" rc_is 0
run eml-root certs import "$W/signed.eml" --cert-dir h2 --ca-file "$P/ca/root.crt"
check "import signed .eml, ca-file with the root only: stored with the intermediate the message carried" \
    eval "rc_is 0 && ! out_has warning &&
          test \"\$(grep -c 'BEGIN CERTIFICATE' '$W/h2/alice@example.com.crt')\" = 2"
run eml-root-check certs check alice@example.com --cert-dir h2 --ca-file "$P/ca/root.crt"
check "import signed .eml: usable for the milter with the root-only ca-file" rc_is 0
run eml-any certs import "$W/signed.eml" --cert-dir h3 --trust any
check "import signed .eml with --trust any: stored" \
    eval "rc_is 0 && [ -s '$W/h3/alice@example.com.crt' ]"
run eml-notrust certs import "$W/signed.eml" --cert-dir h4
check "import signed .eml without --ca-file or --trust any: exit 2, nothing stored" \
    eval "rc_is 2 && err_has 'trusted only with --ca-file' && [ -z \"\$(ls '$W/h4')\" ]"
run eml-badtrust certs import "$W/signed.eml" --cert-dir h4 --trust some
check "--trust with anything but 'any': exit 2" eval "rc_is 2 && err_has 'takes only'"
sed 's/quarterly figures/QUARTERLY FIGURES/' "$W/signed.eml" >"$W/tampered.eml"
run eml-tampered certs import "$W/tampered.eml" --cert-dir h4 --trust any
check "import tampered .eml: exit 1, signature does not verify, nothing stored" eval "rc_is 1 &&
    out_has '$W/tampered.eml: not imported: signature does not verify' && [ -z \"\$(ls '$W/h4')\" ]"
sign_eml 'Mallory <mallory@evil.example>' alice@example.com "$W/mismatch.eml"
run eml-mismatch certs import "$W/mismatch.eml" --cert-dir h4 --ca-file "$CA"
check "import .eml whose signer does not match From:: exit 1, the reason, nothing stored" eval "rc_is 1 &&
    out_line '$W/mismatch.eml: not imported: signer certificate does not name the From: address mallory@evil.example' &&
    [ -z \"\$(ls '$W/h4')\" ]"
sign_eml 'ivan@partner.example' ivan "$W/ivan.eml"
run eml-untrusted certs import "$W/ivan.eml" --cert-dir h4 --ca-file "$CA"
check "import .eml from an untrusted signer with --ca-file: exit 1, nothing stored" eval "rc_is 1 &&
    out_has '$W/ivan.eml: not imported: signature does not verify' && [ -z \"\$(ls '$W/h4')\" ]"
run eml-any-untrusted certs import "$W/ivan.eml" --cert-dir h5 --trust any --ca-file "$CA"
check "import .eml, --trust any with a ca-file the signer does not chain to: stored, with a warning" \
    eval "rc_is 0 && [ -s '$W/h5/ivan@partner.example.crt' ] &&
          out_line 'ivan@partner.example: warning: not usable for encryption as stored: certificate for ivan@partner.example is not trusted: self-signed certificate'"
printf '%s\n' 'From: alice@example.com' 'To: bob@partner.example' 'Subject: plain' '' 'hello' >"$W/plain.eml"
run eml-plain certs import "$W/plain.eml" --cert-dir h4 --trust any
check "import an unsigned message: exit 1, not S/MIME signed" \
    eval "rc_is 1 && out_has 'not imported: not an S/MIME signed message'"

echo "# help"
run help certs --help
check "certs --help: exit 0, every subcommand and the exit codes" eval "rc_is 0 &&
    out_has 'smime-tool certs list' && out_has 'smime-tool certs check ADDRESS' &&
    out_has 'smime-tool certs expiring DAYS' && out_has 'smime-tool certs import FILE|SIGNED.eml' &&
    out_has 'exit 0 usable, 1 none usable, 2 usage, 3 lookup error'"
run help-main --help
check "smime-tool --help mentions certs" eval "rc_is 0 && out_has 'smime-tool certs list|check|expiring|import'"
run nosub certs
check "certs without a subcommand: exit 2 with usage" eval "rc_is 2 && err_has 'usage:'"
run badsub certs frobnicate
check "certs with an unknown subcommand: exit 2" eval "rc_is 2 && err_has 'unknown command frobnicate'"
finish
