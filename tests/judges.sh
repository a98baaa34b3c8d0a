#!/bin/bash
# Three independent S/MIME verifiers for a delivered message: OpenSSL, GnuPG gpgsm and Mozilla NSS
# (cmsutil, the library Thunderbird uses).
#
# Usage:
#   tests/judges.sh MESSAGE.eml RECIPIENT_ADDR PKI_DIR EXPECTED_INNER [WORKDIR]
#   tests/judges.sh --self-test [WORKDIR]
#
# MESSAGE.eml     delivered RFC 5322 message (CRLF), top level application/pkcs7-mime
# RECIPIENT_ADDR  whose private key decrypts it (PKI_DIR/private/ADDR.{key,crt,p12})
# PKI_DIR         output of tests/gen-certs.sh
# EXPECTED_INNER  exact bytes the signed inner entity must have (CRLF line ends)
# WORKDIR         scratch directory (kept when given, else a temporary one is removed)
#
# Environment:
#   JUDGE_MODE      enveloped-detached (default): enveloped-data around multipart/signed with a
#                   detached application/pkcs7-signature; authenveloped-detached: the same in
#                   AuthEnvelopedData (AES-GCM); enveloped-opaque, authenveloped-opaque: an
#                   application/pkcs7-mime signed-data entity inside; signed-detached: sign-only
#                   multipart/signed at the top; signed-opaque: sign-only signed-data at the top
#   JUDGE_SIGNER    expected signer address (default alice@example.com)
#   JUDGE_DIGEST    sha256 (default), sha384 or sha512: the digest and micalg to expect
#   JUDGE_COMPARE   how the recovered entity is compared with EXPECTED: "exact" (default: cmp),
#                   or options of tests/interop/compare.py, EXPECTED then being the sent message
#                   (e.g. "--decoded" for sign-only 7-bit re-encoding, "--hp cipher")
#   JUDGE_PROBE=1   a failing judge is re-run on a reference message of the same combination made
#                   by the openssl command line (JUDGE_CIPHER, JUDGE_KT rsa-pkcs1|rsa-oaep,
#                   JUDGE_SIG rsa-pkcs1|rsa-pss describe it); failing that too, the verdict is
#                   UNSUPPORTED (the verifier cannot read the combination), not FAIL
#
# Output: "outer: PASS|FAIL reason", then one line per judge "NAME: PASS", "NAME: FAIL reason"
# or "NAME: UNSUPPORTED reason". Exit status 0 when the outer check passes and no judge FAILs.
#
# --self-test builds reference messages with the openssl command line (test-only helper below),
# and checks that the judges accept a good message and reject a changed content, a bad signature,
# a wrong signer, a wrong recipient and a malformed outer body.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

if [ -z "${PYTHON3:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON3=/usr/bin/python3; else PYTHON3=$(command -v python3 || true); fi
fi

JUDGE_MODE=${JUDGE_MODE:-enveloped-detached}
JUDGE_SIGNER=${JUDGE_SIGNER:-alice@example.com}
JUDGE_DIGEST=${JUDGE_DIGEST:-sha256}
P12_PASS="test"
JUDGES="openssl gpgsm cmsutil"

die() { echo "judges: $*" >&2; exit 2; }

need_tools() {
    local t missing=""
    for t in openssl gpgsm gpgconf certutil pk12util cmsutil cmp timeout; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    [ -n "$PYTHON3" ] || missing="$missing python3"
    [ -z "$missing" ] || die "missing tools:$missing (run tests/deps.sh)"
}

# ---------------------------------------------------------------------------------------------
# Python helpers (standard library only; they never re-serialise MIME, they cut bytes).

# outer MESSAGE OUT.der SMIME_TYPE : check the top-level headers and base64 body, write the DER.
PY_OUTER='
import base64, re, sys
msg_path, out_path, want_type = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(msg_path, "rb").read()
def fail(why):
    print(why); sys.exit(1)
end = data.find(b"\r\n\r\n")
if end < 0:
    fail("no CRLF CRLF between header and body")
head, body = data[:end + 2], data[end + 4:]
if re.search(rb"(?<!\r)\n", head) or re.search(rb"\r(?!\n)", head):
    fail("bare LF or CR in the header block")
fields = []
for line in head.split(b"\r\n")[:-1]:
    if line[:1] in (b" ", b"\t") and fields:
        fields[-1] += b" " + line.strip()
    else:
        fields.append(line)
def values(name):
    out = []
    for f in fields:
        k, sep, v = f.partition(b":")
        if sep and k.strip().lower() == name:
            out.append(v.strip().decode("ascii", "replace"))
    return out
ct = values(b"content-type")
if len(ct) != 1:
    fail("%d Content-Type header fields (want exactly 1)" % len(ct))
ctv = ct[0]
if ctv.split(";")[0].strip().lower() != "application/pkcs7-mime":
    fail("Content-Type is not application/pkcs7-mime: " + ctv)
m = re.search(r"smime-type\s*=\s*\"?([A-Za-z0-9-]+)", ctv, re.I)
if not m or m.group(1).lower() != want_type.lower():
    fail("smime-type is not %s: %s" % (want_type, ctv))
cte = values(b"content-transfer-encoding")
if len(cte) != 1 or cte[0].lower() != "base64":
    fail("Content-Transfer-Encoding is not exactly one base64: %r" % cte)
mv = values(b"mime-version")
if len(mv) != 1 or not mv[0].startswith("1.0"):
    fail("MIME-Version is not exactly one 1.0: %r" % mv)
if re.search(rb"(?<!\r)\n", body) or re.search(rb"\r(?!\n)", body):
    fail("bare LF or CR in the base64 body")
lines = body.split(b"\r\n")
for n, line in enumerate(lines, 1):
    if len(line) > 76:
        fail("base64 body line %d has %d columns (max 76)" % (n, len(line)))
    if not re.fullmatch(rb"[A-Za-z0-9+/=]*", line):
        fail("base64 body line %d has characters outside base64: %r" % (n, line[:40]))
try:
    der = base64.b64decode(b"".join(lines), validate=True)
except Exception as e:
    fail("base64 body does not decode: %s" % e)
if len(der) < 16 or der[0] != 0x30:
    fail("decoded body is not a DER/BER SEQUENCE")
open(out_path, "wb").write(der)
'

# split ENTITY CONTENT_OUT SIG_OUT MICALG : cut a multipart/signed entity byte-exactly.
PY_SPLIT='
import base64, re, sys
ent_path, content_path, sig_path, want_micalg = sys.argv[1:5]
data = open(ent_path, "rb").read()
def fail(why):
    print(why); sys.exit(1)
end = data.find(b"\r\n\r\n")
if end < 0:
    fail("decrypted entity: no CRLF CRLF after its header")
head, body = data[:end + 2], data[end + 4:]
fields = []
for line in head.split(b"\r\n")[:-1]:
    if line[:1] in (b" ", b"\t") and fields:
        fields[-1] += b" " + line.strip()
    else:
        fields.append(line)
ct = [f.partition(b":")[2].strip().decode("ascii", "replace") for f in fields
      if f.partition(b":")[0].strip().lower() == b"content-type"]
if len(ct) != 1:
    fail("decrypted entity has %d Content-Type fields" % len(ct))
ctv = ct[0]
if ctv.split(";")[0].strip().lower() != "multipart/signed":
    fail("decrypted entity is not multipart/signed: " + ctv)
def param(name):
    m = re.search(r";\s*" + name + r"\s*=\s*(?:\"([^\"]*)\"|([^;\s]+))", ctv, re.I)
    return None if not m else (m.group(1) if m.group(1) is not None else m.group(2))
if (param("protocol") or "").lower() != "application/pkcs7-signature":
    fail("multipart/signed protocol is not application/pkcs7-signature: " + ctv)
if (param("micalg") or "").lower() != want_micalg:
    fail("multipart/signed micalg is not %s: %s" % (want_micalg, ctv))
b = param("boundary")
if not b:
    fail("multipart/signed has no boundary")
b = b.encode()
dash = b"--" + b
# first delimiter: at the start of the body or after a CRLF (preamble allowed)
if body.startswith(dash + b"\r\n"):
    start = len(dash) + 2
else:
    i = body.find(b"\r\n" + dash + b"\r\n")
    if i < 0:
        fail("first boundary line not found")
    start = i + len(dash) + 4
j = body.find(b"\r\n" + dash, start)
if j < 0:
    fail("second boundary not found")
content = body[start:j]
rest = body[j + 2 + len(dash):]
m = re.match(rb"[ \t]*\r\n", rest)
if not m:
    fail("boundary after the signed part is not followed by CRLF (only one part?)")
rest = rest[m.end():]
k = rest.find(b"\r\n" + dash + b"--")
if k < 0:
    fail("close delimiter not found")
part = rest[:k]
if (b"\r\n" + dash) in part:
    fail("multipart/signed has more than two parts")
pe = part.find(b"\r\n\r\n")
if pe < 0:
    fail("signature part has no header")
phead, pbody = part[:pe + 2], part[pe + 4:]
pf = []
for line in phead.split(b"\r\n")[:-1]:
    if line[:1] in (b" ", b"\t") and pf:
        pf[-1] += b" " + line.strip()
    else:
        pf.append(line)
def pval(name):
    return [f.partition(b":")[2].strip().decode("ascii", "replace") for f in pf
            if f.partition(b":")[0].strip().lower() == name]
pct = pval(b"content-type")
if len(pct) != 1 or pct[0].split(";")[0].strip().lower() != "application/pkcs7-signature":
    fail("second part is not application/pkcs7-signature: %r" % pct)
pcte = pval(b"content-transfer-encoding")
if len(pcte) != 1 or pcte[0].lower() != "base64":
    fail("signature part is not base64: %r" % pcte)
try:
    sig = base64.b64decode(re.sub(rb"\s+", b"", pbody), validate=True)
except Exception as e:
    fail("signature part does not decode: %s" % e)
open(content_path, "wb").write(content)
open(sig_path, "wb").write(sig)
'

# ---------------------------------------------------------------------------------------------
# Modes. A mode defines the outer form, whether the judges decrypt, and whether the signature is
# detached (multipart/signed: content + application/pkcs7-signature) or opaque (signed-data that
# carries the content, inside an application/pkcs7-mime entity when encrypted).
judge_mode_setup() {
    case $JUDGE_MODE in
        enveloped-detached) OUTER_SMIME_TYPE=enveloped-data ENCRYPTED=1 OPAQUE=0 ;;
        authenveloped-detached) OUTER_SMIME_TYPE=authEnveloped-data ENCRYPTED=1 OPAQUE=0 ;;
        enveloped-opaque) OUTER_SMIME_TYPE=enveloped-data ENCRYPTED=1 OPAQUE=1 ;;
        authenveloped-opaque) OUTER_SMIME_TYPE=authEnveloped-data ENCRYPTED=1 OPAQUE=1 ;;
        signed-detached) OUTER_SMIME_TYPE="" ENCRYPTED=0 OPAQUE=0 ;;
        signed-opaque) OUTER_SMIME_TYPE=signed-data ENCRYPTED=0 OPAQUE=1 ;;
        *) die "unknown JUDGE_MODE '$JUDGE_MODE'" ;;
    esac
    case $JUDGE_DIGEST in
        sha256 | sha384 | sha512) MICALG=sha-${JUDGE_DIGEST#sha} ;;
        *) die "unknown JUDGE_DIGEST '$JUDGE_DIGEST'" ;;
    esac
}

# opaque ENTITY SIG_OUT : the DER of an application/pkcs7-mime signed-data entity (decrypted)
PY_OPAQUE='
import base64, re, sys
data = open(sys.argv[1], "rb").read()
def fail(why):
    print(why); sys.exit(1)
end = data.find(b"\r\n\r\n")
if end < 0:
    fail("decrypted entity: no CRLF CRLF after its header")
head = re.sub(rb"\r\n[ \t]+", b" ", data[:end])
ct = re.search(rb"(?im)^content-type:(.*)$", head)
if not ct or not re.match(rb"\s*application/pkcs7-mime\s*;", ct.group(1), re.I) or \
        not re.search(rb"smime-type\s*=\s*\"?signed-data", ct.group(1), re.I):
    fail("decrypted entity is not application/pkcs7-mime signed-data: %r" % (ct.group(1) if ct else None))
if not re.search(rb"(?im)^content-transfer-encoding:\s*base64\s*$", head):
    fail("decrypted signed-data entity is not base64")
body = data[end + 4:]
for n, line in enumerate(body.split(b"\r\n"), 1):
    if len(line) > 76:
        fail("signed-data line %d has %d columns" % (n, len(line)))
try:
    der = base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
except Exception as e:
    fail("signed-data does not decode: %s" % e)
open(sys.argv[2], "wb").write(der)
'

# unwrap DECRYPTED DIR : writes DIR/sig.der (and DIR/content when detached); REASON on failure
unwrap() {
    local out
    if [ "$OPAQUE" = 1 ]; then
        if [ "$ENCRYPTED" = 0 ]; then
            cp "$DER" "$2/sig.der"
        elif ! out=$("$PYTHON3" -c "$PY_OPAQUE" "$1" "$2/sig.der" 2>&1); then
            REASON="unwrap: ${out//$'\n'/ }"
            return 1
        fi
    elif ! out=$("$PYTHON3" -c "$PY_SPLIT" "$1" "$2/content" "$2/sig.der" "$MICALG" 2>&1); then
        REASON="split: ${out//$'\n'/ }"
        return 1
    fi
}

fpr_sha1() { # CERTFILE -> uppercase hex without colons
    openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'
}

oneline() { tr '\n' ' ' <"$1" | cut -c1-300; }

compare_expected() { # DIR
    local out
    if [ -n "${JUDGE_COMPARE+x}" ] && [ "$JUDGE_COMPARE" != exact ]; then
        # shellcheck disable=SC2086 # JUDGE_COMPARE holds options
        if ! out=$("$PYTHON3" "$HERE/interop/compare.py" "$EXPECTED" "$1/content" $JUDGE_COMPARE 2>&1); then
            REASON="content: ${out//$'\n'/ }"
            return 1
        fi
        return 0
    fi
    if ! cmp -s "$1/content" "$EXPECTED"; then
        REASON="signed content differs from expected inner entity ($(cmp "$1/content" "$EXPECTED" 2>&1 | head -1))"
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# Judge 1: OpenSSL
judge_openssl() {
    local d=$WORK/openssl v=()
    mkdir -p "$d"
    if [ "$ENCRYPTED" = 1 ]; then
        if ! openssl cms -decrypt -binary -inform DER -in "$DER" -recip "$PRIV/$RCPT.crt" \
                -inkey "$PRIV/$RCPT.key" -out "$d/decrypted" 2>"$d/decrypt.err"; then
            REASON="decrypt: $(oneline "$d/decrypt.err")"
            return 1
        fi
    else
        cp "$MSG" "$d/decrypted"
    fi
    unwrap "$d/decrypted" "$d" || return 1
    # Only the root is trusted: the signature must carry the intermediate itself.
    if [ "$OPAQUE" = 1 ]; then v=(-out "$d/content"); else v=(-content "$d/content" -out /dev/null); fi
    if ! openssl cms -verify -binary -inform DER -in "$d/sig.der" "${v[@]}" \
            -CAfile "$PKI/ca/root.crt" -purpose smimesign -signer "$d/signer.pem" \
            2>"$d/verify.err"; then
        REASON="verify: $(oneline "$d/verify.err")"
        return 1
    fi
    if [ "$(fpr_sha1 "$d/signer.pem")" != "$SIGNER_FPR" ]; then
        REASON="signer is not $JUDGE_SIGNER: $(openssl x509 -in "$d/signer.pem" -noout -subject)"
        return 1
    fi
    if ! openssl cms -cmsout -print -inform DER -in "$d/sig.der" >"$d/sig.txt" 2>&1 ||
            ! grep -q "algorithm: $JUDGE_DIGEST" "$d/sig.txt"; then
        REASON="signature does not use $JUDGE_DIGEST as micalg=$MICALG says"
        return 1
    fi
    compare_expected "$d"
}

# Judge 2: GnuPG gpgsm
# gpgsm_home DIR : a fresh GnuPG home in DIR (its agent stopped, its keybox emptied)
gpgsm_home() {
    GNUPGHOME=$1 gpgconf --kill all >/dev/null 2>&1 || true
    rm -rf "$1"
    mkdir -p "$1"
    chmod 700 "$1"
    echo allow-loopback-pinentry >"$1/gpg-agent.conf"
    printf 'disable-crl-checks\ndisable-dirmngr\n' >"$1/gpgsm.conf"
    echo "$(fpr_sha1 "$PKI/ca/root.crt") S relax" >"$1/trustlist.txt"
}

judge_gpgsm() {
    local d=$WORK/gpgsm rc=0
    mkdir -p "$d"
    gpgsm_home "$d/gnupg"
    GNUPGHOME=$d/gnupg gpgsm_run "$d" || rc=$?
    GNUPGHOME=$d/gnupg gpgconf --kill all >/dev/null 2>&1 || true
    return $rc
}

gpgsm_run() {
    local d=$1
    # Importing the test key is set-up, not judgement. gpgsm 2.2 was seen on a loaded machine
    # to fail a PKCS#12 import it accepts on a later try ("error parsing or decrypting the
    # PKCS#12 file"). Up to three tries; before a second or third, a fresh GnuPG home (new
    # agent, empty keybox) and the same key and certificate exported again (a new salt).
    local try p12=$PRIV/$RCPT.p12
    : >"$d/import.log"
    for try in 1 2 3; do
        if [ "$try" -gt 1 ]; then
            gpgsm_home "$GNUPGHOME"
            p12=$d/retry$try.p12
            (umask 077; openssl pkcs12 -export -in "$PRIV/$RCPT.crt" -inkey "$PRIV/$RCPT.key" \
                -passout "pass:$P12_PASS" -certpbe NONE -keypbe PBE-SHA1-3DES -macalg sha1 \
                -out "$p12") >>"$d/import.log" 2>&1
            sleep 1
        fi
        gpgconf --launch gpg-agent >/dev/null 2>&1 || true
        echo "== try $try" >>"$d/import.log"
        if echo "$P12_PASS" | timeout 60 gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 \
                --import "$p12" >>"$d/import.log" 2>&1 &&
            gpgsm --batch --list-secret-keys >"$d/secret.list" 2>/dev/null &&
            [ -s "$d/secret.list" ]; then
            break
        fi
        if [ "$try" = 3 ]; then
            REASON="import p12 (3 tries): $(grep -v -e 'dirmngr' -e 'issuer certificate' "$d/import.log" | tail -n 4 | tr '\n' ' ')"
            return 1
        fi
    done
    if ! timeout 60 gpgsm --batch --import "$PKI/ca/root.crt" >>"$d/import.log" 2>&1; then
        REASON="import root: $(oneline "$d/import.log")"
        return 1
    fi
    if [ "$ENCRYPTED" = 1 ]; then
        # gpgsm 2.2 exits 2 when a RecipientInfo before ours names a certificate it does not
        # have, although it decrypts: judge by the status lines, as GnuPG front ends do.
        echo "$P12_PASS" | timeout 60 gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 \
            --status-fd 3 --decrypt "$DER" 3>"$d/decrypt.status" >"$d/decrypt.out" 2>"$d/decrypt.err" || true
        if ! grep -q '^\[GNUPG:\] DECRYPTION_OKAY' "$d/decrypt.status" ||
                grep -qE '^\[GNUPG:\] (DECRYPTION_FAILED|ERROR)' "$d/decrypt.status"; then
            REASON="decrypt: $(oneline "$d/decrypt.err") $(oneline "$d/decrypt.status")"
            return 1
        fi
        mv "$d/decrypt.out" "$d/decrypted"
    else
        cp "$MSG" "$d/decrypted"
    fi
    unwrap "$d/decrypted" "$d" || return 1
    if [ "$OPAQUE" = 1 ]; then
        rm -f "$d/content"
        timeout 60 gpgsm --batch --status-fd 3 --output "$d/content" --verify "$d/sig.der" \
            3>"$d/verify.status" >"$d/verify.out" 2>"$d/verify.err" || true
    else
        timeout 60 gpgsm --batch --status-fd 3 --verify "$d/sig.der" "$d/content" \
            3>"$d/verify.status" >"$d/verify.out" 2>"$d/verify.err" || true
    fi
    if ! grep -q '^\[GNUPG:\] GOODSIG ' "$d/verify.status" ||
            grep -qE '^\[GNUPG:\] (BADSIG|ERRSIG|EXPSIG|REVKEYSIG) ' "$d/verify.status"; then
        REASON="verify: $(oneline "$d/verify.err") $(oneline "$d/verify.status")"
        return 1
    fi
    if ! grep -qE '^\[GNUPG:\] TRUST_(FULLY|ULTIMATE)' "$d/verify.status"; then
        REASON="signer not trusted: $(oneline "$d/verify.status")"
        return 1
    fi
    if ! grep -q "^\[GNUPG:\] VALIDSIG $SIGNER_FPR " "$d/verify.status"; then
        REASON="signer is not $JUDGE_SIGNER: $(oneline "$d/verify.status")"
        return 1
    fi
    compare_expected "$d"
}

# Judge 3: Mozilla NSS cmsutil
judge_cmsutil() {
    local d=$WORK/cmsutil db signer_cn status c=()
    mkdir -p "$d/db"
    db=sql:$d/db
    if ! { certutil -N -d "$db" --empty-password &&
            pk12util -i "$PRIV/$RCPT.p12" -d "$db" -W "$P12_PASS" -K "" &&
            certutil -A -d "$db" -n "test root" -t C,C,C -i "$PKI/ca/root.crt"; } \
            >"$d/setup.log" 2>&1; then
        REASON="nss db setup: $(oneline "$d/setup.log")"
        return 1
    fi
    if [ "$ENCRYPTED" = 1 ]; then
        if ! cmsutil -D -d "$db" -i "$DER" -o "$d/decrypted" >"$d/decrypt.err" 2>&1; then
            REASON="decrypt: $(oneline "$d/decrypt.err")"
            return 1
        fi
        if [ ! -s "$d/decrypted" ]; then
            REASON="decrypt: empty output $(oneline "$d/decrypt.err")"
            return 1
        fi
    else
        cp "$MSG" "$d/decrypted"
    fi
    unwrap "$d/decrypted" "$d" || return 1
    if [ "$OPAQUE" = 1 ]; then
        # the content, then (separately: with -o the -h lines would go into it) the status
        if ! cmsutil -D -d "$db" -i "$d/sig.der" -o "$d/content" >"$d/content.err" 2>&1; then
            REASON="verify: $(oneline "$d/content.err")"
            return 1
        fi
    else
        c=(-c "$d/content")
    fi
    # cmsutil exits 0 even on a bad signature: read signer0.status. -k keeps the signer's cert.
    if ! cmsutil -D -d "$db" -k "${c[@]}" -i "$d/sig.der" -h 2 -n \
            >"$d/verify.out" 2>"$d/verify.err"; then
        REASON="verify: $(oneline "$d/verify.err")"
        return 1
    fi
    status=$(grep -o 'signer0\.status=[A-Za-z]*' "$d/verify.out" | head -1 || true)
    if [ "$status" != "signer0.status=GoodSignature" ] || grep -q 'signer1\.' "$d/verify.out"; then
        REASON="verify: ${status:-no signer status} $(oneline "$d/verify.out")"
        return 1
    fi
    signer_cn=$(openssl x509 -in "$PRIV/$JUDGE_SIGNER.crt" -noout -subject -nameopt multiline |
        sed -n 's/^ *commonName *= *//p')
    if ! grep -qF "signer0.id=\"$signer_cn\"" "$d/verify.out"; then
        REASON="signer is not $JUDGE_SIGNER ($signer_cn): $(oneline "$d/verify.out")"
        return 1
    fi
    if ! certutil -L -d "$db" -n "$JUDGE_SIGNER" -a >"$d/signer.pem" 2>"$d/signer.err" ||
            [ "$(fpr_sha1 "$d/signer.pem")" != "$SIGNER_FPR" ]; then
        REASON="signer certificate in the signature is not $JUDGE_SIGNER's"
        return 1
    fi
    compare_expected "$d"
}

# ---------------------------------------------------------------------------------------------
# Unsupported-by-verifier detection (JUDGE_PROBE=1). When a judge fails, the same combination
# (mode, cipher, key transport, recipient, signer, signature scheme, digest) is produced by the
# openssl command line -- an independent implementation -- as a small reference message, and the
# judge runs on that. A verifier that cannot read OpenSSL's reference either does not support
# the combination: the verdict is UNSUPPORTED with both reasons; otherwise the failure stands.
# Combination: JUDGE_CIPHER (aes-256-cbc ...), JUDGE_KT (rsa-pkcs1|rsa-oaep), JUDGE_SIG
# (rsa-pkcs1|rsa-pss).
PY_REF_WRAP='
import base64, sys
content, sig, out, micalg = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
b = b"----=_smime_probe_5f3a"
s = base64.encodebytes(open(sig, "rb").read()).replace(b"\n", b"\r\n")
e = (b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=" +
     micalg.encode() + b";\r\n boundary=\"" + b + b"\"\r\n\r\n--" + b + b"\r\n" +
     open(content, "rb").read() + b"\r\n--" + b + b"\r\n"
     b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\n" + s + b"\r\n--" + b + b"--\r\n")
open(out, "wb").write(e)
'
PY_REF_MSG='
import base64, sys
der, out, ctype = sys.argv[1], sys.argv[2], sys.argv[3]
d = base64.b64encode(open(der, "rb").read())
lines = [d[i:i + 76] for i in range(0, len(d), 76)]
h = (b"From: Alice <alice@example.com>\r\nSubject: probe\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: " + ctype.encode() + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
open(out, "wb").write(h + b"\r\n".join(lines) + b"\r\n")
'

# make_probe DIR : DIR/probe.eml and DIR/probe.inner for the current combination
make_probe() {
    local p=$1 inner sopt=() eopt=() signed
    inner=$p/probe.inner
    mkdir -p "$p"
    printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nprobe\r\n' >"$inner"
    if [ "${JUDGE_SIG:-rsa-pkcs1}" = rsa-pss ]; then
        sopt=(-keyopt rsa_padding_mode:pss -keyopt rsa_pss_saltlen:-1)
    fi
    if [ "$OPAQUE" = 1 ]; then
        openssl cms -sign -binary -nodetach -md "$JUDGE_DIGEST" \
            -signer "$PRIV/$JUDGE_SIGNER.crt" -inkey "$PRIV/$JUDGE_SIGNER.key" "${sopt[@]}" \
            -certfile "$PKI/ca/inter.crt" -in "$inner" -outform DER -out "$p/sig.der" || return 1
        "$PYTHON3" -c '
import base64, sys
d = base64.encodebytes(open(sys.argv[1], "rb").read()).replace(b"\n", b"\r\n")
open(sys.argv[2], "wb").write(b"Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + d)' "$p/sig.der" "$p/signed.mime"
    else
        openssl cms -sign -binary -md "$JUDGE_DIGEST" \
            -signer "$PRIV/$JUDGE_SIGNER.crt" -inkey "$PRIV/$JUDGE_SIGNER.key" "${sopt[@]}" \
            -certfile "$PKI/ca/inter.crt" -in "$inner" -outform DER -out "$p/sig.der" || return 1
        "$PYTHON3" -c "$PY_REF_WRAP" "$inner" "$p/sig.der" "$p/signed.mime" "$MICALG"
    fi
    signed=$p/signed.mime
    if [ "$ENCRYPTED" = 0 ]; then
        if [ "$OPAQUE" = 1 ]; then
            "$PYTHON3" -c "$PY_REF_MSG" "$p/sig.der" "$p/probe.eml" \
                'application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"'
        else
            { printf 'From: Alice <alice@example.com>\r\nSubject: probe\r\nMIME-Version: 1.0\r\n'
              cat "$signed"; } >"$p/probe.eml"
        fi
        return 0
    fi
    if [ "${JUDGE_KT:-rsa-pkcs1}" = rsa-oaep ]; then
        eopt=(-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256)
    elif openssl x509 -in "$PRIV/$RCPT.crt" -noout -text | grep -q 'id-ecPublicKey'; then
        eopt=(-keyopt ecdh_kdf_md:sha256)
    fi
    openssl cms -encrypt -binary -stream "-${JUDGE_CIPHER:-aes-256-cbc}" -outform DER -in "$signed" \
        -out "$p/env.der" -recip "$PRIV/$RCPT.crt" "${eopt[@]}" || return 1
    "$PYTHON3" -c "$PY_REF_MSG" "$p/env.der" "$p/probe.eml" \
        "application/pkcs7-mime; smime-type=$OUTER_SMIME_TYPE; name=\"smime.p7m\""
}

# probe JUDGE : 0 when JUDGE fails on OpenSSL's reference too (unsupported); PROBE_REASON set
probe() {
    local j=$1 p=$WORK/probe saved_msg=$MSG saved_der=$DER saved_exp=$EXPECTED saved_work=$WORK
    local saved_cmp=${JUDGE_COMPARE-exact} rc=1
    if [ ! -f "$p/probe.eml" ] && ! make_probe "$p" >"$p.log" 2>&1; then
        PROBE_REASON="cannot build the OpenSSL reference: $(oneline "$p.log")"
        return 1
    fi
    MSG=$p/probe.eml EXPECTED=$p/probe.inner WORK=$p/$j DER=$p/$j.der JUDGE_COMPARE=exact
    mkdir -p "$WORK"
    REASON=""
    if [ -n "$OUTER_SMIME_TYPE" ]; then
        "$PYTHON3" -c "$PY_OUTER" "$MSG" "$DER" "$OUTER_SMIME_TYPE" >/dev/null 2>&1 || true
    fi
    if "judge_$j"; then
        PROBE_REASON="reads OpenSSL's reference"
    else
        PROBE_REASON=$REASON
        rc=0
    fi
    MSG=$saved_msg DER=$saved_der EXPECTED=$saved_exp WORK=$saved_work JUDGE_COMPARE=$saved_cmp
    return $rc
}

# ---------------------------------------------------------------------------------------------
# judge_message MESSAGE RCPT PKI EXPECTED WORKDIR : prints the verdict lines, returns 0 if none
# failed (UNSUPPORTED verdicts, possible with JUDGE_PROBE=1, do not count as failures)
judge_message() {
    local j fails=0 out why
    MSG=$1 RCPT=$2 PKI=$3 EXPECTED=$4 WORK=$5
    PRIV=$PKI/private
    judge_mode_setup
    for f in "$MSG" "$EXPECTED" "$PRIV/$RCPT.key" "$PRIV/$RCPT.crt" "$PRIV/$RCPT.p12" \
            "$PKI/ca/root.crt" "$PRIV/$JUDGE_SIGNER.crt"; do
        [ -r "$f" ] || die "cannot read $f"
    done
    mkdir -p "$WORK"
    SIGNER_FPR=$(fpr_sha1 "$PRIV/$JUDGE_SIGNER.crt")
    DER=$WORK/outer.der
    if [ -z "$OUTER_SMIME_TYPE" ]; then
        out=$("$PYTHON3" -c "$PY_SIGNED_OUTER" "$MSG" 2>&1) || out="FAIL:$out"
    else
        out=$("$PYTHON3" -c "$PY_OUTER" "$MSG" "$DER" "$OUTER_SMIME_TYPE" 2>&1) || out="FAIL:$out"
    fi
    if [ "${out:0:5}" != FAIL: ]; then
        echo "outer: PASS"
    else
        echo "outer: FAIL ${out:5}" | tr '\n' ' '
        echo
        for j in $JUDGES; do echo "$j: FAIL outer message unusable"; done
        return 1
    fi
    for j in $JUDGES; do
        REASON=""
        if "judge_$j"; then
            echo "$j: PASS"
        else
            why=${REASON:-unknown error}
            if [ "${JUDGE_PROBE:-0}" = 1 ] && probe "$j"; then
                echo "$j: UNSUPPORTED $why | OpenSSL reference: $PROBE_REASON"
            else
                [ "${JUDGE_PROBE:-0}" = 1 ] && why="$why | OpenSSL reference: $PROBE_REASON"
                echo "$j: FAIL $why"
                fails=$((fails + 1))
            fi
        fi
    done
    [ "$fails" -eq 0 ]
}

# signed-outer MESSAGE : a sign-only multipart/signed message: one Content-Type, MIME-Version,
# CRLF only
PY_SIGNED_OUTER='
import re, sys
data = open(sys.argv[1], "rb").read()
def fail(why):
    print(why); sys.exit(1)
end = data.find(b"\r\n\r\n")
if end < 0:
    fail("no CRLF CRLF between header and body")
if re.search(rb"(?<!\r)\n", data) or re.search(rb"\r(?!\n)", data):
    fail("bare LF or CR in the message")
head = re.sub(rb"\r\n[ \t]+", b" ", data[:end])
cts = re.findall(rb"(?im)^content-type:(.*)$", head)
if len(cts) != 1 or not re.match(rb"\s*multipart/signed\s*;", cts[0], re.I):
    fail("Content-Type is not exactly one multipart/signed: %r" % cts)
if len(re.findall(rb"(?im)^mime-version:\s*1\.0", head)) != 1:
    fail("MIME-Version is not exactly one 1.0")
'
# ---------------------------------------------------------------------------------------------
# Test-only reference message builder (openssl command line), for --self-test.
# make_reference INNER PKI SIGNER OUT TAMPER RCPT... ; TAMPER=1 changes one byte of the signed
# part after signing (bad signature).
PY_WRAP='
import base64, sys
inner, sig, tamper, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
content = bytearray(open(inner, "rb").read())
if tamper == "1":
    content[-3] ^= 0x01
b = b"----=_smime_ref_5f3a"
s = base64.encodebytes(open(sig, "rb").read()).replace(b"\n", b"\r\n")
e = (b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n"
     b" boundary=\"" + b + b"\"\r\n\r\nThis is an S/MIME signed message\r\n\r\n--" + b + b"\r\n"
     + bytes(content) + b"\r\n--" + b + b"\r\n"
     b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
     b"Content-Transfer-Encoding: base64\r\n"
     b"Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n" + s + b"\r\n--" + b + b"--\r\n")
open(out, "wb").write(e)
'
PY_OUTMSG='
import base64, sys
der, out, width = sys.argv[1], sys.argv[2], int(sys.argv[3])
rcpts = sys.argv[4:]
d = base64.b64encode(open(der, "rb").read())
lines = [d[i:i + width] for i in range(0, len(d), width)]
h = (b"From: Alice <alice@example.com>\r\nTo: " + b", ".join(r.encode() for r in rcpts) + b"\r\n"
     b"Subject: reference message\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
     b"Message-ID: <ref@example.com>\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n"
     b"Content-Disposition: attachment; filename=\"smime.p7m\"\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\n")
open(out, "wb").write(h + b"\r\n".join(lines) + b"\r\n")
'
make_reference() {
    local inner=$1 pki=$2 signer=$3 out=$4 tamper=$5 width=$6 tmp r
    shift 6
    tmp=$(mktemp -d)
    openssl cms -sign -binary -md sha256 -nosmimecap -signer "$pki/private/$signer.crt" \
        -inkey "$pki/private/$signer.key" -certfile "$pki/ca/inter.crt" \
        -in "$inner" -outform DER -out "$tmp/sig.der"
    "$PYTHON3" -c "$PY_WRAP" "$inner" "$tmp/sig.der" "$tamper" "$tmp/signed.mime"
    local certs=()
    for r in "$@"; do certs+=("$pki/certs/$r.crt"); done
    # -stream: BER with indefinite lengths, as streaming producers write it
    openssl cms -encrypt -aes256 -binary -stream -outform DER -in "$tmp/signed.mime" \
        -out "$tmp/env.der" "${certs[@]}"
    "$PYTHON3" -c "$PY_OUTMSG" "$tmp/env.der" "$out" "$width" "$@"
    rm -rf "$tmp"
}

# verdict WANT(pass|fail) MESSAGE RCPT PKI EXPECTED : judge_message passes, or fails with no
# judge passing; its verdicts shown otherwise
verdict() {
    local want=$1 out rc=0
    shift
    out=$(judge_message "$@" "$SELF_TEST_WORK/run$((TAP_N + 1))") || rc=$?
    if [ "$want" = pass ] && [ $rc -eq 0 ]; then return 0; fi
    if [ "$want" = fail ] && [ $rc -ne 0 ] && ! grep -qE '^(openssl|gpgsm|cmsutil): PASS' <<<"$out"; then
        return 0
    fi
    printf '%s\n' "$out"
    return 1
}

self_test() {
    local w=$1 pki inner
    SELF_TEST_WORK=$w
    pki=$w/pki
    "$HERE/gen-certs.sh" "$pki" >/dev/null
    inner=$w/inner.txt
    printf 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello Bob and Carol,\r\n\r\nt\xc3\xa9st line\r\n.\r\nlast line\r\n' >"$inner"
    make_reference "$inner" "$pki" alice@example.com "$w/good.eml" 0 76 \
        bob@partner.example carol@partner.example
    make_reference "$inner" "$pki" alice@example.com "$w/tampered.eml" 1 76 bob@partner.example
    make_reference "$inner" "$pki" bob@partner.example "$w/wrongsigner.eml" 0 76 carol@partner.example
    make_reference "$inner" "$pki" alice@example.com "$w/wide.eml" 0 80 bob@partner.example
    # the content actually carried by tampered.eml, so that only the signature is wrong
    "$PYTHON3" -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-3]^=1; open(sys.argv[2],"wb").write(b)' \
        "$inner" "$w/inner-tampered.txt"
    "$PYTHON3" -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[60]^=1; open(sys.argv[2],"wb").write(b)' \
        "$inner" "$w/inner-flipped.txt"

    check "good message, recipient bob" verdict pass "$w/good.eml" bob@partner.example "$pki" "$inner"
    check "good message, recipient carol" verdict pass "$w/good.eml" carol@partner.example "$pki" "$inner"
    check "one byte of expected content flipped" verdict fail "$w/good.eml" bob@partner.example "$pki" "$w/inner-flipped.txt"
    check "signed content tampered after signing (bad signature)" verdict fail "$w/tampered.eml" bob@partner.example "$pki" "$w/inner-tampered.txt"
    check "signed by bob instead of alice" verdict fail "$w/wrongsigner.eml" carol@partner.example "$pki" "$inner"
    check "not encrypted to carol" verdict fail "$w/tampered.eml" carol@partner.example "$pki" "$w/inner-tampered.txt"
    check "base64 lines of 80 columns" verdict fail "$w/wide.eml" bob@partner.example "$pki" "$inner"
}

# ---------------------------------------------------------------------------------------------
CLEAN_WORK=""
cleanup() {
    local g
    [ -n "$CLEAN_WORK" ] && [ -d "$CLEAN_WORK" ] || return 0
    # stop any gpg-agent a judge started, then remove the scratch directory
    while IFS= read -r g; do
        GNUPGHOME=$g gpgconf --kill all >/dev/null 2>&1 || true
    done < <(find "$CLEAN_WORK" -maxdepth 4 -type d -name gnupg 2>/dev/null)
    [ "${KEEP_WORK:-1}" -eq 1 ] || rm -rf "$CLEAN_WORK"
}
trap cleanup EXIT

main() {
    local work rc=0
    KEEP_WORK=1
    if [ "${1:-}" = "--self-test" ]; then
        # a suite of its own: TAP (tests/lib/tap.sh), the cleanup on its exit
        # shellcheck source=lib/tap.sh
        . "$HERE/lib/tap.sh"
        harness_on_exit cleanup
        harness_need openssl gpgsm gpgconf certutil pk12util cmsutil cmp timeout
        work=${2:-}
        if [ -z "$work" ]; then work=$(mktemp -d); KEEP_WORK=0; fi
        CLEAN_WORK=$work
        self_test "$work"
        finish
    fi
    need_tools
    if [ $# -lt 4 ] || [ $# -gt 5 ]; then
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
    fi
    work=${5:-}
    if [ -z "$work" ]; then work=$(mktemp -d); KEEP_WORK=0; fi
    CLEAN_WORK=$work
    judge_message "$1" "$2" "$3" "$4" "$work" || rc=$?
    return $rc
}

main "$@"
