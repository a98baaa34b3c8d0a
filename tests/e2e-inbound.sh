#!/bin/bash
# End-to-end test of the receiving gateway through private Postfix instances: S/MIME mail from
# outside (posing as an outside client with XCLIENT) to our recipients is decrypted, verified and
# reported in Authentication-Results (RFC 7281), and harvested signers are shared through LDAP.
#
#   node B   the gateway under test: decrypt, verify, unwrap-opaque for example.com, with a
#            domain gateway key and a directory of users' own keys; harvest-ldap
#   node C   a second node of the same fleet: signs and encrypts outgoing mail, certificates from
#            LDAP; harvests too (the concurrent-harvest test)
#   node A   a partner's gateway made of our own milter: signs and encrypts to B's domain
#            certificate (domain-cert) and relays to B from 127.0.0.2, which B counts as outside
#
# Checked: messages signed and encrypted by OpenSSL, GnuPG gpgsm and NSS cmsutil to a user's
# certificate and to the domain gateway certificate are delivered decrypted, byte for byte what
# the sender encrypted, with smime=pass (also AES-GCM and RSA-OAEP from OpenSSL, and with the
# gateway key in a SoftHSM2 token); a tampered signature gives smime=fail, a signer from an
# untrusted CA smime=neutral; forged Authentication-Results claiming our authserv-id are removed;
# an opaque signature is unwrapped; a certificate harvested by B is found in LDAP by C for its
# next outgoing message (judged by the three verifiers); concurrent harvests of one address by
# B and C end in one entry; A -> B round trips, plain and with RFC 9788 header protection (the
# hidden Subject restored); undecryptable messages (for someone else, corrupt, an unsupported
# algorithm) follow on-undecryptable (pass, tempfail, reject), logged with the reason, nothing
# lost; no plaintext in any log.
#
# Usage (as root): tests/e2e-inbound.sh
# Environment: SMIME_MILTER  milter binary (default milter/smime-milter)
#              INBOUND_KEEP=1  keep the work directory (printed at the end)
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need_root "private Postfix instances are started"
harness_need swaks openssl postconf cmp gpgsm gpgconf certutil pk12util cmsutil slapd slaptest \
    ldapadd ldapsearch base64 softhsm2-util pkcs11-tool /usr/lib/softhsm/libsofthsm2.so
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
MILTER_BIN=${SMIME_MILTER:-$HARNESS_ROOT/milter/smime-milter}
harness_built "$MILTER_BIN"
harness_workdir smime-inbound INBOUND_KEEP
# shellcheck disable=SC2034 # read by delivered (tests/lib/harness.sh)
HARNESS_ID_HEADER=X-Test-Id
for n in b c a; do register_log "node $n milter log" "$W/milter-$n.log" 25; done
register_log "node b maillog" "$W/pb/maillog" 20
P=$W/pki/private

# ---------------------------------------------------------------------------------------------
# Message helpers (Python standard library; they cut and join bytes, never re-serialise MIME)
cat >"$W/mk.py" <<'PY'
import base64, re, sys

def lines64(der):
    d = base64.b64encode(der)
    return b"".join(d[i:i + 76] + b"\r\n" for i in range(0, len(d), 76))

def fields(head):
    out = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\r\n" + line
        elif line:
            out.append(line)
    return out

def split(data):
    end = data.find(b"\r\n\r\n")
    if end < 0:
        sys.exit("no header/body separator")
    return data[:end], data[end + 4:]

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "signed":  # ENTITY SIG.der OUT : a multipart/signed entity over ENTITY
    ent, sig = open(args[0], "rb").read(), open(args[1], "rb").read()
    b = b"----=_sig_e2e_inbound"
    out = (b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n"
           b" boundary=\"" + b + b"\"\r\n\r\nThis is an S/MIME signed message\r\n\r\n--" + b + b"\r\n" + ent +
           b"\r\n--" + b + b"\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
           b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n" +
           lines64(sig) + b"\r\n--" + b + b"--\r\n")
    open(args[2], "wb").write(out)
elif cmd == "p7":  # DER SMIME-TYPE OUT : an application/pkcs7-mime entity
    der = open(args[0], "rb").read()
    out = (b"Content-Type: application/pkcs7-mime; smime-type=" + args[1].encode() + b"; name=\"smime.p7m\"\r\n"
           b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n" +
           lines64(der))
    open(args[2], "wb").write(out)
elif cmd == "message":  # ENTITY OUT FROM TO SUBJECT ID [HEADER-LINE...] : a whole message
    ent = open(args[0], "rb").read()
    extra = b"".join(h.encode() + b"\r\n" for h in args[6:])
    head = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            "Message-ID: <%s@outside.example>\r\nX-Test-Id: %s\r\n" % (args[2], args[3], args[4], args[5], args[5])).encode()
    open(args[1], "wb").write(head + extra + b"MIME-Version: 1.0\r\n" + ent)
elif cmd == "entity":  # MSG OUT : the delivered entity, its Content-* fields (in order) and body
    head, body = split(open(args[0], "rb").read())
    cf = [f for f in fields(head) if f.lower().startswith(b"content-")]
    open(args[1], "wb").write(b"".join(f + b"\r\n" for f in cf) + b"\r\n" + body)
elif cmd == "headers":  # MSG NAME : every value of NAME, unfolded, one a line
    head, _ = split(open(args[0], "rb").read())
    for f in fields(head):
        k, _, v = f.partition(b":")
        if k.strip().lower() == args[1].lower().encode():
            print(re.sub(r"\s+", " ", v.decode("ascii", "replace")).strip())
elif cmd == "part1":  # MSG OUT : the signed first part of a multipart/signed message
    head, body = split(open(args[0], "rb").read())
    ct = [f for f in fields(head) if f.lower().startswith(b"content-type:")]
    m = re.search(rb'boundary="?([^";\r\n]+)"?', ct[0] if ct else b"")
    if not m:
        sys.exit("no boundary")
    dash = b"--" + m.group(1)
    start = body.find(dash + b"\r\n")
    end = body.find(b"\r\n" + dash, start + len(dash) + 2)
    if start < 0 or end < 0:
        sys.exit("no first part")
    open(args[1], "wb").write(body[start + len(dash) + 2:end])
elif cmd == "body":  # MSG : the body
    sys.stdout.buffer.write(split(open(args[0], "rb").read())[1])
else:
    sys.exit("unknown command " + cmd)
PY
mk() { "$PYTHON3" "$W/mk.py" "$@"; }

# inner ID : a text entity with a marker that must never show up in a log
inner() {
    printf 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
    printf 'Dear colleague,\r\n\r\nplaintext-marker-%s: the figures are r\xc3\xa9vis\xc3\xa9s.\r\n.\r\n' "$1"
    printf 'A line that starts with a dot follows the lone dot above.\r\n'
}

# ---------------------------------------------------------------------------------------------
# Test PKI: our users uma (with a key of her own) and vic (only the domain's gateway key), the
# gateway certificate of example.com, correspondents zoe and yves outside, nora elsewhere (a
# recipient that is not us), alice at node C; mallory from a CA nobody trusts.
ZOE=zoe@outside.example YVES=yves@outside.example UMA=uma@example.com VIC=vic@example.com
GW=gateway@example.com NORA=nora@elsewhere.example
GEN_CERTS_EXTRA="$ZOE $YVES $UMA $VIC $GW $NORA" "$TESTS/gen-certs.sh" "$W/pki" >/dev/null ||
    setup_failed "gen-certs.sh failed"
(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Mallory" \
    -addext "subjectAltName=email:mallory@outside.example" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" -addext "extendedKeyUsage=emailProtection" \
    -keyout "$W/mallory.key" -out "$W/mallory.crt" 2>/dev/null) || setup_failed "mallory's certificate"
bundle() { (umask 077 && cat "$P/$1.key" "$P/$1.crt" "$W/pki/ca/inter.crt" >"$2"); }
mkdir -m 0700 "$W/dkeys" "$W/akeys"
mkdir -m 0755 "$W/acerts" "$W/ccerts" "$W/spool"
bundle "$UMA" "$W/dkeys/$UMA.pem"   # uma's own key, in decryption-key-dir
bundle "$GW" "$W/gateway.pem"       # example.com's gateway key
bundle "$ZOE" "$W/akeys/$ZOE.pem"   # zoe signs at node A
for a in $ZOE $YVES $UMA $VIC $GW $NORA; do rm -f "$W/pki/certs/$a.crt"; done # nobody has them on file
# the same gateway key in a SoftHSM2 token too, for a domain whose decryption-key is a pkcs11: URI
mkdir -m 0700 -p "$W/softhsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$W/softhsm/tokens" \
    >"$W/softhsm/softhsm2.conf"
export SOFTHSM2_CONF=$W/softhsm/softhsm2.conf
HSM_PIN=$(openssl rand -hex 8)
(umask 077 && printf '%s\n' "$HSM_PIN" >"$W/hsm.pin")
{ softhsm2-util --init-token --free --label gw --pin "$HSM_PIN" --so-pin "$(openssl rand -hex 8)" &&
    openssl pkey -in "$P/$GW.key" -outform DER -out "$W/gw.key.der" &&
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label gw --login --pin "$HSM_PIN" \
        --write-object "$W/gw.key.der" --type privkey --id 02 --label gateway; } >"$W/softhsm.log" 2>&1 ||
    setup_failed "SoftHSM2 token with the gateway key" "$(tail "$W/softhsm.log")"
rm -f "$W/gw.key.der"
cat "$P/$GW.crt" "$W/pki/ca/inter.crt" >"$W/gw-chain.pem"
HSM_URI="pkcs11:token=gw;object=gateway;type=private;pin-source=file:$W/hsm.pin?x-cert-file=$W/gw-chain.pem"

# ---------------------------------------------------------------------------------------------
# slapd: the fleet's directory, harvested certificates under ou=harvested
SCHEMA=""
for d in /etc/ldap/schema /etc/openldap/schema; do [ -e "$d/inetorgperson.schema" ] && SCHEMA=$d && break; done
[ -n "$SCHEMA" ] || setup_failed "no OpenLDAP schema directory (install slapd)"
SLAPD_MODULES=""
for d in /usr/lib/ldap /usr/lib/x86_64-linux-gnu/ldap; do [ -e "$d/back_mdb.so" ] && SLAPD_MODULES=$d && break; done
LDAP_PORT=$(free_port)
LDAP_URI=ldap://127.0.0.1:$LDAP_PORT
SUFFIX=dc=example,dc=test
ROOTDN=cn=admin,$SUFFIX ROOTPW=$(openssl rand -hex 12)
BINDDN=cn=milter,$SUFFIX BINDPW=$(openssl rand -hex 12)
HARVESTED=ou=harvested,$SUFFIX
mkdir -p "$W/slapd/db"
{
    for s in core cosine inetorgperson; do echo "include $SCHEMA/$s.schema"; done
    echo "pidfile $W/slapd/slapd.pid"
    [ -n "$SLAPD_MODULES" ] && printf 'modulepath %s\nmoduleload back_mdb\n' "$SLAPD_MODULES"
    echo "access to attrs=userPassword by anonymous auth by * none"
    echo "access to dn.subtree=\"$HARVESTED\" by dn.exact=\"$BINDDN\" write by * read"
    echo "access to * by * read"
    printf 'database mdb\nmaxsize 10485760\nsuffix "%s"\nrootdn "%s"\nrootpw %s\ndirectory %s\n' \
        "$SUFFIX" "$ROOTDN" "$ROOTPW" "$W/slapd/db"
} >"$W/slapd/slapd.conf"
chmod 0600 "$W/slapd/slapd.conf"
slaptest -u -f "$W/slapd/slapd.conf" >"$W/slapd/slaptest.log" 2>&1 ||
    setup_failed "slaptest rejects the configuration" "$(cat "$W/slapd/slaptest.log")"
slapd -f "$W/slapd/slapd.conf" -h "$LDAP_URI/" -d 0 >"$W/slapd/slapd.log" 2>&1 &
SLAPD_PID=$!
harness_on_exit stop_pid "$SLAPD_PID" slapd
wait_for_port "$LDAP_PORT" 20 "$SLAPD_PID" || setup_failed "slapd did not start" "$(tail "$W/slapd/slapd.log")"
printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: example\n\ndn: %s\nobjectClass: organizationalUnit\nou: harvested\n\ndn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: milter\nuserPassword: %s\n\n' \
    "$SUFFIX" "$HARVESTED" "$BINDDN" "$BINDPW" >"$W/base.ldif"
ldapadd -x -H "$LDAP_URI" -D "$ROOTDN" -w "$ROOTPW" -f "$W/base.ldif" >"$W/ldapadd.log" 2>&1 ||
    setup_failed "ldapadd of the base entries" "$(cat "$W/ldapadd.log")"
(umask 077 && printf '%s\n' "$BINDPW" >"$W/ldap.pw")
# entries ADDR : how many harvested entries the directory holds for ADDR
entries() {
    ldapsearch -x -LLL -H "$LDAP_URI" -b "$HARVESTED" "(mail=$1)" dn 2>/dev/null | grep -c '^dn:' || true
}
# ldap_holds ADDR CERT : the entry of ADDR holds CERT (among the certificates of its PKCS#7)
ldap_holds() {
    ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAP_URI" -b "$HARVESTED" "(mail=$1)" userSMIMECertificate 2>/dev/null |
        sed -n 's/^userSMIMECertificate:: //p' | head -1 | base64 -d >"$W/ldap-value.der" || return 1
    openssl pkcs7 -inform DER -in "$W/ldap-value.der" -print_certs -out "$W/ldap-value.pem" 2>/dev/null || return 1
    "$PYTHON3" - "$W/ldap-value.pem" "$2" <<'PY'
import re, ssl, sys
blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", open(sys.argv[1]).read(), re.S)
want = ssl.PEM_cert_to_DER_cert(open(sys.argv[2]).read())
sys.exit(0 if any(ssl.PEM_cert_to_DER_cert(b) == want for b in blocks) else 1)
PY
}

# ---------------------------------------------------------------------------------------------
# The three nodes
SINK_PORT=$(free_port)
B_SMTPD=$(free_port) B_MILTER=$(free_port)
C_SMTPD=$(free_port) C_MILTER=$(free_port)
A_SMTPD=$(free_port) A_MILTER=$(free_port)
AUTHSERV=mx.example.com
ldap_conf() {
    printf 'ldap-uri %s\nldap-base %s\nldap-bind-dn %s\nldap-password-file %s\nldap-timeout 5\nldap-negative-ttl 1\n' \
        "$LDAP_URI" "$SUFFIX" "$BINDDN" "$W/ldap.pw"
}
cat >"$W/b.conf" <<CONF
# node B: the receiving gateway of example.com
socket          inet:$B_MILTER@127.0.0.1
ca-file         $W/pki/ca/root.crt
internal-hosts  127.0.0.1/32
authserv-id     $AUTHSERV
spool-dir       $W/spool
spool-memory    4k
harvest-ldap    yes
harvest-ldap-base $HARVESTED
$(ldap_conf)
<domain example.com>
    decrypt             yes
    verify              yes
    unwrap-opaque       yes
    decryption-key      $W/gateway.pem
    decryption-key-dir  $W/dkeys
</domain>
<domain tempfail.example>
    decrypt             yes
    decryption-key      $W/gateway.pem
    on-undecryptable    tempfail
</domain>
<domain hsm.example>
    decrypt             yes
    verify              yes
    decryption-key      $HSM_URI
</domain>
<domain reject.example>
    decrypt             yes
    decryption-key      $W/gateway.pem
    on-undecryptable    reject
</domain>
CONF
cat >"$W/c.conf" <<CONF
# node C: another node of the fleet; outgoing mail signed and encrypted, certificates from LDAP
socket          inet:$C_MILTER@127.0.0.1
cert-dir        $W/ccerts
key-dir         $W/pki/keys
ca-file         $W/pki/ca/chain.pem
internal-hosts  127.0.0.1/32
sign            yes
encrypt         yes
harvest-ldap    yes
harvest-ldap-base $HARVESTED
$(ldap_conf)
CONF
cat >"$W/a.conf" <<CONF
# node A: a partner's gateway, encrypting to example.com's gateway certificate
socket          inet:$A_MILTER@127.0.0.1
cert-dir        $W/acerts
key-dir         $W/akeys
ca-file         $W/pki/ca/chain.pem
internal-hosts  127.0.0.0/8
sign            yes
<domain example.com>
    encrypt     yes
    domain-cert $W/pki/private/$GW.crt
</domain>
<virtual-mta hp>
    <domain example.com>
        header-protection yes
        hide-subject      yes
    </domain>
</virtual-mta>
CONF
for n in b c a; do
    if out=$("$MILTER_BIN" -n -c "$W/$n.conf" 2>&1); then ok "smime-milter -n accepts node $n's configuration"
    else notok "smime-milter -n accepts node $n's configuration" "$out"; fi
done
start_milter() { # NODE PORT
    "$MILTER_BIN" -f -c "$W/$1.conf" >"$W/milter-$1.log" 2>&1 &
    local pid=$!
    harness_on_exit stop_pid "$pid" "smime-milter $1"
    wait_for_port "$2" 20 "$pid" || setup_failed "node $1's milter did not start" "$(tail "$W/milter-$1.log")"
}
start_milter b "$B_MILTER"
start_milter c "$C_MILTER"
start_milter a "$A_MILTER"
sink_start "$W/sink" "$SINK_PORT" || setup_failed "SMTP sink"
postfix_start "$W/pb" "$B_SMTPD" "$SINK_PORT" "inet:127.0.0.1:$B_MILTER" || setup_failed "node B's Postfix"
postfix_start "$W/pc" "$C_SMTPD" "$SINK_PORT" "inet:127.0.0.1:$C_MILTER" || setup_failed "node C's Postfix"
postfix_start "$W/pa" "$A_SMTPD" "$B_SMTPD" "inet:127.0.0.1:$A_MILTER" || setup_failed "node A's Postfix"
# A hands its mail to B from 127.0.0.2: B's internal-hosts is 127.0.0.1 alone, so A is outside
postconf -c "$W/pa/etc" -e "smtp_bind_address = 127.0.0.2" &&
    kill -HUP "$(tr -d ' \n' <"$W/pa/spool/pid/master.pid")" || setup_failed "node A's smtp_bind_address"
echo "# B :$B_SMTPD (milter :$B_MILTER), C :$C_SMTPD, A :$A_SMTPD -> B; sink :$SINK_PORT; slapd $LDAP_URI"

# ---------------------------------------------------------------------------------------------
# The three writers: OpenSSL, GnuPG gpgsm, NSS cmsutil, each with zoe's and yves's keys and the
# certificates of our side (gpgsm and NSS set up as tests/judges.sh does)
mkdir -m 0700 "$W/gnupg"
echo allow-loopback-pinentry >"$W/gnupg/gpg-agent.conf"
printf 'disable-crl-checks\ndisable-dirmngr\n' >"$W/gnupg/gpgsm.conf"
echo "$(openssl x509 -in "$W/pki/ca/root.crt" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g') S relax" \
    >"$W/gnupg/trustlist.txt"
harness_on_exit env GNUPGHOME="$W/gnupg" gpgconf --kill all
gpg_setup() {
    local a i
    for a in $ZOE $YVES; do
        # gpgsm 2.2 was seen to fail a PKCS#12 import it accepts on the next try (tests/judges.sh)
        for i in 1 2 3; do
            echo test | GNUPGHOME=$W/gnupg timeout 60 gpgsm --batch --pinentry-mode loopback \
                --passphrase-fd 0 --import "$P/$a.p12" || true
            GNUPGHOME=$W/gnupg gpgsm --batch --list-secret-keys "$a" 2>/dev/null | grep -q . && break
            [ "$i" = 3 ] && return 1
        done
    done
    GNUPGHOME=$W/gnupg timeout 60 gpgsm --batch --import "$W/pki/ca/root.crt" "$W/pki/ca/inter.crt" \
        "$P/$UMA.crt" "$P/$GW.crt"
}
gpg_setup >"$W/gnupg.log" 2>&1 || setup_failed "gpgsm key import" "$(tail "$W/gnupg.log")"
NSSDB=sql:$W/nss
mkdir -p "$W/nss"
{ certutil -N -d "$NSSDB" --empty-password &&
    pk12util -i "$P/$ZOE.p12" -d "$NSSDB" -W test -K "" && pk12util -i "$P/$YVES.p12" -d "$NSSDB" -W test -K "" &&
    certutil -A -d "$NSSDB" -n root -t C,C,C -i "$W/pki/ca/root.crt" &&
    certutil -A -d "$NSSDB" -n inter -t ,, -i "$W/pki/ca/inter.crt" &&
    certutil -A -d "$NSSDB" -n uma -t ,, -i "$P/$UMA.crt" &&
    certutil -A -d "$NSSDB" -n gateway -t ,, -i "$P/$GW.crt"; } >"$W/nss.log" 2>&1 ||
    setup_failed "NSS database" "$(tail "$W/nss.log")"

# sign_detached WRITER SIGNER ENTITY OUT.der : a detached signature over ENTITY's bytes
sign_detached() {
    case $1 in
        openssl*) openssl cms -sign -binary -md sha256 -signer "$P/$2.crt" -inkey "$P/$2.key" \
            -certfile "$W/pki/ca/inter.crt" -in "$3" -outform DER -out "$4" ;;
        gpgsm) echo test | GNUPGHOME=$W/gnupg timeout 60 gpgsm --batch --pinentry-mode loopback \
            --passphrase-fd 0 -u "$2" --detach-sign --output "$4" "$3" ;;
        nss) cmsutil -S -d "$NSSDB" -N "$2" -T -G -P -H SHA256 -i "$3" -o "$4" ;;
    esac
}
# encrypt WRITER ADDR ENTITY OUT.der : EnvelopedData of ENTITY for ADDR's certificate
encrypt() {
    case $1 in
        openssl) openssl cms -encrypt -binary -aes256 -in "$3" -outform DER -out "$4" "$P/$2.crt" ;;
        openssl-gcm) openssl cms -encrypt -binary -aes-256-gcm -in "$3" -outform DER -out "$4" \
            "$P/$2.crt" ;;
        openssl-oaep) openssl cms -encrypt -binary -aes-128-cbc -in "$3" -outform DER -out "$4" \
            -recip "$P/$2.crt" -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 \
            -keyopt rsa_mgf1_md:sha256 ;;
        gpgsm) GNUPGHOME=$W/gnupg timeout 60 gpgsm --batch --encrypt -r "$2" --output "$4" "$3" ;;
        nss) cmsutil -E -d "$NSSDB" -r "$2" -i "$3" -o "$4" ;;
    esac
}
# signed_encrypted ID WRITER SIGNER TO-CERT [tamper] : $W/ID.inner, $W/ID.signed, $W/ID.eml
signed_encrypted() {
    local id=$1 w=$2 signer=$3 to=$4 d=$W/$1
    inner "$id" >"$d.inner"
    sign_detached "$w" "$signer" "$d.inner" "$d.sig" || return 1
    [ "${5:-}" = tamper ] && sed -i 's/the figures/the Figures/' "$d.inner"
    mk signed "$d.inner" "$d.sig" "$d.signed" &&
        encrypt "$w" "$to" "$d.signed" "$d.env" &&
        mk p7 "$d.env" "$([ "$w" = openssl-gcm ] && echo authEnveloped-data || echo enveloped-data)" "$d.p7"
}
# ar ID FILE : the Authentication-Results values of our authserv-id in FILE
ar() { mk headers "$2" Authentication-Results | grep "^$AUTHSERV;" || true; }

# ---------------------------------------------------------------------------------------------
# 1. Before anything is harvested, node C has no certificate for zoe: 550 5.7.1 at RCPT
alice_to() { # ID TO : a message from alice (node C's user); $W/ID.expected is what C signs
    printf 'From: alice@example.com\r\nTo: %s\r\nSubject: from node C %s\r\nX-Test-Id: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello, plaintext-marker-%s from node C.\r\n' \
        "$2" "$1" "$1" "$1" >"$W/$1.eml"
    printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello, plaintext-marker-%s from node C.\r\n' "$1" \
        >"$W/$1.expected"
}
alice_to c-before "$ZOE"
if ! HARNESS_SMTPD_PORT="$C_SMTPD" send --from alice@example.com c-before "$W/c-before.eml" "$ZOE" && grep -q '550 5.7.1' "$W/swaks-c-before.out"; then
    ok "node C: before any harvest, mail to $ZOE is refused with 550 5.7.1"
else
    notok "node C: before any harvest, mail to $ZOE is refused with 550 5.7.1" "$(tail -n 5 "$W/swaks-c-before.out")"
fi

# 2. Signed and encrypted by each writer, to uma's own certificate and to the gateway certificate
# (and OpenSSL with AES-256-GCM, AuthEnvelopedData, and with RSA-OAEP, which the other two lack)
for wt in openssl:user openssl:gateway gpgsm:user gpgsm:gateway nss:user nss:gateway \
    openssl-gcm:user openssl-oaep:gateway; do
    w=${wt%:*} t=${wt#*:}
    {
        id=$w-$t
        if [ "$t" = user ]; then rcpt=$UMA to=$UMA key="$W/dkeys/$UMA.pem"; else rcpt=$VIC to=$GW key="$W/gateway.pem"; fi
        if ! signed_encrypted "$id" "$w" "$ZOE" "$to" >"$W/$id.make.log" 2>&1; then
            notok "$w: signs and encrypts for $t" "$(tail -n 5 "$W/$id.make.log")"
            continue
        fi
        mk message "$W/$id.p7" "$W/$id.eml" "Zoe <$ZOE>" "$rcpt" "from $w to the $t certificate" "$id"
        if ! HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external "$id" "$W/$id.eml" "$rcpt" || ! f=$(first_delivered "$id"); then
            notok "$w -> $t: accepted and delivered" "$(tail -n 5 "$W/swaks-$id.out")"
            continue
        fi
        mk entity "$f" "$W/$id.got"
        if cmp -s "$W/$id.got" "$W/$id.signed"; then
            ok "$w -> $t certificate: delivered decrypted, byte for byte what $w encrypted"
        else
            notok "$w -> $t certificate: delivered decrypted, byte for byte what $w encrypted" \
                "$(cmp "$W/$id.got" "$W/$id.signed" 2>&1; head -c 300 "$W/$id.got")"
        fi
        v=$(ar "$id" "$f")
        if [ "$(printf '%s\n' "$v" | grep -c .)" = 1 ] &&
            [[ $v == "$AUTHSERV; smime=pass body.smime-identifier=$ZOE body.smime-serial="*" body.smime-issuer=\""*"CN=smime-milter Test Intermediate CA"*"\" body.smime-part=TEXT" ]]; then
            ok "$w -> $t: Authentication-Results: $AUTHSERV; smime=pass with identifier, serial, issuer and part"
        else
            notok "$w -> $t: Authentication-Results: $AUTHSERV; smime=pass with identifier, serial, issuer and part" "$v"
        fi
        kind=enveloped-data
        [ "$w" = openssl-gcm ] && kind=authEnveloped-data
        if grep -q "from outside: decrypted $kind with $key; smime=pass signer=<$ZOE>" "$W/milter-b.log"; then
            ok "$w -> $t: node B logs $kind and the key that decrypted it ($(basename "$key"))"
        else
            notok "$w -> $t: node B logs $kind and the key that decrypted it ($(basename "$key"))" "$(grep 'from outside' "$W/milter-b.log" | tail -n 3)"
        fi
    }
done

# 2b. The gateway key in a PKCS#11 token (SoftHSM2): the same message decrypts there
if signed_encrypted hsm openssl "$ZOE" "$GW" >"$W/hsm.make.log" 2>&1; then
    mk message "$W/hsm.p7" "$W/hsm.eml" "Zoe <$ZOE>" someone@hsm.example "to the token's key" hsm
    if HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external hsm "$W/hsm.eml" someone@hsm.example && f=$(first_delivered hsm) &&
        mk entity "$f" "$W/hsm.got" && cmp -s "$W/hsm.got" "$W/hsm.signed" &&
        [[ $(ar hsm "$f") == "$AUTHSERV; smime=pass "* ]] &&
        grep -q "decrypted enveloped-data with pkcs11:token=gw;object=gateway;type=private" "$W/milter-b.log"; then
        ok "decryption-key in a PKCS#11 token (SoftHSM2): decrypted there, byte for byte, smime=pass"
    else
        notok "decryption-key in a PKCS#11 token (SoftHSM2): decrypted there, byte for byte, smime=pass" \
            "$(tail -n 3 "$W/swaks-hsm.out"; grep -h 'hsm\|pkcs11' "$W/milter-b.log" | tail -n 3)"
    fi
else
    notok "a message for the token's key" "$(tail -n 3 "$W/hsm.make.log")"
fi

# 3. zoe's verified certificate was harvested into the directory: one entry, her certificate
if [ "$(entries "$ZOE")" = 1 ] && ldap_holds "$ZOE" "$P/$ZOE.crt"; then
    ok "node B harvested zoe's certificate into LDAP: one entry under $HARVESTED, her certificate"
else
    notok "node B harvested zoe's certificate into LDAP: one entry under $HARVESTED, her certificate" \
        "entries: $(entries "$ZOE"); $(grep -i 'harvest' "$W/milter-b.log" | tail -n 3)"
fi

# 4. node C now finds it in LDAP: its next message to zoe leaves encrypted for her
alice_to c-after "$ZOE"
if HARNESS_SMTPD_PORT="$C_SMTPD" send --from alice@example.com c-after "$W/c-after.eml" "$ZOE" && f=$(first_delivered c-after); then
    ok "node C: after node B's harvest, mail to $ZOE is accepted"
    if out=$("$TESTS/judges.sh" "$f" "$ZOE" "$W/pki" "$W/c-after.expected" "$W/judges-c" 2>&1); then
        ok "node C's message to zoe: OpenSSL, gpgsm and NSS decrypt it as zoe, verify alice, content exact"
    else
        notok "node C's message to zoe: OpenSSL, gpgsm and NSS decrypt it as zoe, verify alice, content exact" "$out"
    fi
else
    notok "node C: after node B's harvest, mail to $ZOE is accepted" "$(tail -n 5 "$W/swaks-c-after.out")"
fi

# 5. A tampered signature: decrypted, smime=fail; a signer from an untrusted CA: smime=neutral
signed_encrypted tampered openssl "$ZOE" "$UMA" tamper >"$W/tampered.make.log" 2>&1
mk message "$W/tampered.p7" "$W/tampered.eml" "Zoe <$ZOE>" "$UMA" "tampered" tampered
if HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external tampered "$W/tampered.eml" "$UMA" && f=$(first_delivered tampered); then
    mk entity "$f" "$W/tampered.got"
    v=$(ar tampered "$f")
    if cmp -s "$W/tampered.got" "$W/tampered.signed" && [[ $v == "$AUTHSERV; smime=fail reason=\"signature does not verify"* ]] &&
        [[ $v == *"body.smime-identifier=$ZOE"* ]]; then
        ok "tampered signature: delivered decrypted with smime=fail (reason: signature does not verify)"
    else
        notok "tampered signature: delivered decrypted with smime=fail (reason: signature does not verify)" "$v"
    fi
else
    notok "tampered signature: delivered" "$(tail -n 5 "$W/swaks-tampered.out")"
fi
inner untrusted >"$W/untrusted.inner"
openssl cms -sign -binary -md sha256 -signer "$W/mallory.crt" -inkey "$W/mallory.key" \
    -in "$W/untrusted.inner" -outform DER -out "$W/untrusted.sig"
mk signed "$W/untrusted.inner" "$W/untrusted.sig" "$W/untrusted.signed"
encrypt openssl "$UMA" "$W/untrusted.signed" "$W/untrusted.env"
mk p7 "$W/untrusted.env" enveloped-data "$W/untrusted.p7"
mk message "$W/untrusted.p7" "$W/untrusted.eml" mallory@outside.example "$UMA" "untrusted" untrusted
if HARNESS_SMTPD_PORT="$B_SMTPD" send --from mallory@outside.example --external untrusted "$W/untrusted.eml" "$UMA" && f=$(first_delivered untrusted); then
    v=$(ar untrusted "$f")
    if [[ $v == "$AUTHSERV; smime=neutral reason=\"signer certificate does not chain to a trusted CA"* ]] &&
        [ "$(entries mallory@outside.example)" = 0 ]; then
        ok "signer not chaining to ca-file: smime=neutral (RFC 7281: the signer is not authenticated), not harvested"
    else
        notok "signer not chaining to ca-file: smime=neutral (RFC 7281: the signer is not authenticated), not harvested" "$v"
    fi
else
    notok "untrusted signer: delivered" "$(tail -n 5 "$W/swaks-untrusted.out")"
fi

# 6. Forged Authentication-Results claiming our authserv-id are removed; others' stay
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nplaintext-marker-forged: not signed at all.\r\n' >"$W/forged.ent"
mk message "$W/forged.ent" "$W/forged.eml" "Zoe <$ZOE>" "$UMA" "forged" forged \
    "Authentication-Results: $AUTHSERV; smime=pass body.smime-identifier=ceo@example.com" \
    "Authentication-Results: other.example; smime=pass body.smime-identifier=ceo@example.com"
if HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external forged "$W/forged.eml" "$UMA" && f=$(first_delivered forged); then
    if [ -z "$(ar forged "$f")" ] && mk headers "$f" Authentication-Results | grep -q '^other.example; smime=pass' &&
        grep -q "removed 1 Authentication-Results field from outside claiming our authserv-id $AUTHSERV" "$W/milter-b.log"; then
        ok "a forged Authentication-Results claiming $AUTHSERV is removed (logged); other.example's stays"
    else
        notok "a forged Authentication-Results claiming $AUTHSERV is removed (logged); other.example's stays" \
            "$(mk headers "$f" Authentication-Results)"
    fi
else
    notok "forged results: delivered" "$(tail -n 5 "$W/swaks-forged.out")"
fi
inner forged2 >"$W/forged2.inner"
sign_detached openssl "$ZOE" "$W/forged2.inner" "$W/forged2.sig"
mk signed "$W/forged2.inner" "$W/forged2.sig" "$W/forged2.signed"
mk message "$W/forged2.signed" "$W/forged2.eml" "Zoe <$ZOE>" "$UMA" "forged and signed" forged2 \
    "Authentication-Results: $AUTHSERV; dkim=pass header.d=outside.example; smime=pass body.smime-identifier=ceo@example.com"
if HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external forged2 "$W/forged2.eml" "$UMA" && f=$(first_delivered forged2); then
    v=$(ar forged2 "$f")
    if [ "$(printf '%s\n' "$v" | grep -c .)" = 1 ] && [[ $v == "$AUTHSERV; smime=pass body.smime-identifier=$ZOE "* ]] &&
        cmp -s <(mk body "$f") <(mk body "$W/forged2.eml"); then
        ok "signed, not encrypted, with a forged result: ours replaces it (smime=pass for zoe), body unchanged"
    else
        notok "signed, not encrypted, with a forged result: ours replaces it (smime=pass for zoe), body unchanged" "$v"
    fi
else
    notok "forged and signed: delivered" "$(tail -n 5 "$W/swaks-forged2.out")"
fi

# 7. An opaque signature is unwrapped (unwrap-opaque yes): the content, byte for byte, and pass
inner opaque >"$W/opaque.inner"
openssl cms -sign -binary -nodetach -md sha256 -signer "$P/$ZOE.crt" -inkey "$P/$ZOE.key" \
    -certfile "$W/pki/ca/inter.crt" -in "$W/opaque.inner" -outform DER -out "$W/opaque.der"
mk p7 "$W/opaque.der" signed-data "$W/opaque.p7"
mk message "$W/opaque.p7" "$W/opaque.eml" "Zoe <$ZOE>" "$UMA" "opaque" opaque
if HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external opaque "$W/opaque.eml" "$UMA" && f=$(first_delivered opaque); then
    mk entity "$f" "$W/opaque.got"
    v=$(ar opaque "$f")
    if cmp -s "$W/opaque.got" "$W/opaque.inner" && [[ $v == "$AUTHSERV; smime=pass body.smime-identifier=$ZOE "* ]]; then
        ok "opaque signed-data: unwrapped, the content byte for byte, smime=pass"
    else
        notok "opaque signed-data: unwrapped, the content byte for byte, smime=pass" "$v $(head -c 200 "$W/opaque.got")"
    fi
else
    notok "opaque: delivered" "$(tail -n 5 "$W/swaks-opaque.out")"
fi

# 8. Undecryptable: for someone else (pass: delivered as it came), corrupt (tempfail: the sender
#    keeps it), an algorithm the gateway does not support (reject: the sender is told)
signed_encrypted others openssl "$ZOE" "$NORA" >"$W/others.make.log" 2>&1
mk message "$W/others.p7" "$W/others.eml" "Zoe <$ZOE>" "$UMA" "for nora" others
if HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external others "$W/others.eml" "$UMA" && f=$(first_delivered others) &&
    cmp -s <(mk body "$f") <(mk body "$W/others.eml") &&
    grep -q "not decrypted: not encrypted for a key we hold: encrypted for 1 recipient, none a key we hold (serial .*) (on-undecryptable pass)" "$W/milter-b.log"; then
    ok "encrypted for someone else: on-undecryptable pass delivers it as it came, logged with the reason"
else
    notok "encrypted for someone else: on-undecryptable pass delivers it as it came, logged with the reason" \
        "$(grep 'not decrypted' "$W/milter-b.log" | tail -n 2)"
fi
signed_encrypted corrupt openssl "$ZOE" "$GW" >"$W/corrupt.make.log" 2>&1
head -c 300 "$W/corrupt.env" >"$W/corrupt.cut"
mk p7 "$W/corrupt.cut" enveloped-data "$W/corrupt.p7"
mk message "$W/corrupt.p7" "$W/corrupt.eml" "Zoe <$ZOE>" "someone@tempfail.example" "corrupt" corrupt
if ! HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external corrupt "$W/corrupt.eml" someone@tempfail.example &&
    grep -q '451 4.7.5' "$W/swaks-corrupt.out" && ! wait_delivered corrupt 3 &&
    grep -q "not decrypted: corrupt: .* (on-undecryptable tempfail)" "$W/milter-b.log"; then
    ok "corrupt CMS: on-undecryptable tempfail answers 451 4.7.5 (the sender keeps it), logged with the reason"
else
    notok "corrupt CMS: on-undecryptable tempfail answers 451 4.7.5 (the sender keeps it), logged with the reason" \
        "$(tail -n 3 "$W/swaks-corrupt.out"; grep 'not decrypted' "$W/milter-b.log" | tail -n 2)"
fi
inner rc2 >"$W/rc2.inner"
openssl cms -encrypt -provider legacy -provider default -rc2 -binary -in "$W/rc2.inner" \
    -outform DER -out "$W/rc2.env" "$P/$GW.crt" 2>"$W/rc2.err"
mk p7 "$W/rc2.env" enveloped-data "$W/rc2.p7"
mk message "$W/rc2.p7" "$W/rc2.eml" "Zoe <$ZOE>" "someone@reject.example" "rc2" rc2
if ! HARNESS_SMTPD_PORT="$B_SMTPD" send --from "$ZOE" --external rc2 "$W/rc2.eml" someone@reject.example &&
    grep -q '550 5.7.6' "$W/swaks-rc2.out" && ! wait_delivered rc2 3 &&
    grep -q "not decrypted: unsupported algorithm: .* (on-undecryptable reject)" "$W/milter-b.log"; then
    ok "RC2 (an algorithm the gateway does not support): on-undecryptable reject answers 550 5.7.6, logged"
else
    notok "RC2 (an algorithm the gateway does not support): on-undecryptable reject answers 550 5.7.6, logged" \
        "$(cat "$W/rc2.err"; tail -n 3 "$W/swaks-rc2.out"; grep 'not decrypted' "$W/milter-b.log" | tail -n 2)"
fi

# 9. Round trips between two of our gateways: A signs and encrypts to B's domain certificate
rt_message() { # ID [HEADER...] : zoe writes to uma through node A
    local id=$1
    shift
    printf 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nRound trip, plaintext-marker-%s: caf\xc3\xa9.\r\n.\r\nend\r\n' "$id" \
        >"$W/$id.inner"
    mk message "$W/$id.inner" "$W/$id.eml" "Zoe <$ZOE>" "$UMA" "quarterly figures $id" "$id" "$@"
}
rt_message rt-plain
if HARNESS_SMTPD_PORT="$A_SMTPD" send --from "$ZOE" rt-plain "$W/rt-plain.eml" "$UMA" && f=$(first_delivered rt-plain) &&
    mk part1 "$f" "$W/rt-plain.got" && cmp -s "$W/rt-plain.got" "$W/rt-plain.inner" &&
    [[ $(ar rt-plain "$f") == "$AUTHSERV; smime=pass body.smime-identifier=$ZOE "* ]] &&
    grep -q "signed and encrypted: from=<$ZOE>" "$W/milter-a.log" &&
    grep -q "decrypted enveloped-data with $W/gateway.pem" "$W/milter-b.log"; then
    ok "round trip A -> B: A encrypts to B's domain certificate, B decrypts; the signed content byte for byte, smime=pass"
else
    notok "round trip A -> B: A encrypts to B's domain certificate, B decrypts; the signed content byte for byte, smime=pass" \
        "$(tail -n 3 "$W/swaks-rt-plain.out"; grep -h 'rt-plain\|from outside' "$W/milter-a.log" "$W/milter-b.log" | tail -n 4)"
fi
rt_message rt-hp "X-Virtual-MTA: hp"
if HARNESS_SMTPD_PORT="$A_SMTPD" send --from "$ZOE" rt-hp "$W/rt-hp.eml" "$UMA" && f=$(first_delivered rt-hp) &&
    [ "$(mk headers "$f" Subject)" = "quarterly figures rt-hp" ] &&
    mk part1 "$f" "$W/rt-hp.got" && cmp -s <(mk body "$W/rt-hp.got") <(mk body "$W/rt-hp.inner") &&
    grep -q 'Content-Type: text/plain; charset=utf-8; hp="cipher"' "$W/rt-hp.got" &&
    grep -q "protected header fields: .*Subject.* (the outer Subject was \[...\]: restored)" "$W/milter-b.log"; then
    ok "round trip with RFC 9788 header protection: the hidden Subject restored from the protected one, body exact"
else
    notok "round trip with RFC 9788 header protection: the hidden Subject restored from the protected one, body exact" \
        "subject: $(mk headers "$f" Subject 2>&1); $(grep -h 'protected' "$W/milter-b.log" | tail -n 2)"
fi

# 10. Concurrent harvests of one address by two nodes end in one entry
inner yves >"$W/yves.inner"
sign_detached openssl "$YVES" "$W/yves.inner" "$W/yves.sig"
mk signed "$W/yves.inner" "$W/yves.sig" "$W/yves.signed"
pids=()
for i in 1 2 3 4; do
    if [ $((i % 2)) = 1 ]; then port=$B_SMTPD; else port=$C_SMTPD; fi
    mk message "$W/yves.signed" "$W/yves-$i.eml" "Yves <$YVES>" "$UMA" "yves $i" "yves-$i"
    HARNESS_SMTPD_PORT="$port" send --from "$YVES" --external "yves-$i" "$W/yves-$i.eml" "$UMA" &
    pids+=($!)
done
sent=0
for p in "${pids[@]}"; do wait "$p" && sent=$((sent + 1)); done
for i in 1 2 3 4; do wait_delivered "yves-$i" || true; done
harvests=$(grep -h "certificate of <$YVES>" "$W/milter-b.log" "$W/milter-c.log" | grep -c 'LDAP' || true)
if [ "$sent" = 4 ] && [ "$(entries "$YVES")" = 1 ] && ldap_holds "$YVES" "$P/$YVES.crt" && [ "$harvests" = 4 ] &&
    ! grep -q "cannot store the certificate of <$YVES>" "$W/milter-b.log" "$W/milter-c.log"; then
    ok "four messages from yves to nodes B and C at once: one LDAP entry with his certificate, no error"
else
    notok "four messages from yves to nodes B and C at once: one LDAP entry with his certificate, no error" \
        "sent $sent, entries $(entries "$YVES"), harvest lines $harvests; $(grep -h "$YVES" "$W/milter-b.log" "$W/milter-c.log" | tail -n 6)"
fi

# 11. No plaintext in any log, and nothing left in the spool directory
if grep -l 'plaintext-marker' "$W"/milter-*.log "$W"/p?/maillog >/dev/null 2>&1; then
    notok "no decrypted content in the logs" "$(grep -h 'plaintext-marker' "$W"/milter-*.log | head -n 3)"
else
    ok "no decrypted content in the logs of the three nodes and their Postfix"
fi
if [ -z "$(ls -A "$W/spool")" ]; then ok "node B's spool directory holds no file (overflow files are unlinked)"
else notok "node B's spool directory holds no file (overflow files are unlinked)" "$(ls -l "$W/spool")"; fi
finish
