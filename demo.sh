#!/bin/bash
# smime-milter demonstration, one command on a Debian 12 machine (as root):
#
#   ./demo.sh
#
# Installs what is missing (tests/deps.sh), builds smime-milter if needed, then runs a private
# Postfix on 127.0.0.1 with smime-milter and OpenDKIM as its milters, sends one message from
# alice@example.com to bob@partner.example, and shows what arrives: the S/MIME envelope, who can
# open it, and the verdicts of three independent S/MIME implementations and of a DKIM verifier.
# Nothing on the machine is reconfigured; everything started is stopped and removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"

if [ -t 1 ]; then
    B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
    B="" G="" R="" D="" N=""
fi
title() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$*"; }
indent() { sed 's/^/    /'; }

if [ "$(id -u)" -ne 0 ]; then
    say "demo: please run as root (it installs packages and starts a private Postfix on 127.0.0.1)" >&2
    exit 1
fi

title "1. Packages"
tests/deps.sh

title "2. Build"
bin=milter/smime-milter
needs_build=0
if [ ! -x "$bin" ]; then
    needs_build=1
elif [ -n "$(find configure.ac Makefile.am lib include milter -newer "$bin" \
        \( -name '*.[ch]' -o -name 'Makefile.am' -o -name 'configure.ac' \) -print 2>/dev/null | head -n 1)" ]; then
    needs_build=1
fi
if [ $needs_build -eq 1 ]; then
    blog=${TMPDIR:-/tmp}/smime-milter-build.log
    say "building smime-milter (output in $blog) ..."
    if ! { if [ ! -f Makefile ]; then ./autogen.sh && ./configure; fi && make; } >"$blog" 2>&1; then
        tail -n 30 "$blog"
        say "${R}build failed, see $blog${N}"
        exit 1
    fi
    say "built $bin"
else
    say "$bin is up to date"
fi

# shellcheck source=tests/lib/harness.sh
. "$ROOT/tests/lib/harness.sh"
harness_trap

W=$(mktemp -d "${TMPDIR:-/tmp}/smime-demo.XXXXXX")
chmod 0755 "$W"
harness_on_exit rm -rf "$W"

title "3. A throwaway test PKI"
tests/gen-certs.sh "$W/pki" >/dev/null
say "Root CA -> intermediate CA -> user certificates (RSA-2048, emailProtection):"
for a in alice@example.com bob@partner.example carol@partner.example; do
    printf '    %-24s %s\n' "$a" "$(openssl x509 -in "$W/pki/private/$a.crt" -noout -subject -nameopt oneline | sed 's/^subject=//')"
done
say "smime-milter reads recipient certificates from   cert-dir $W/pki/certs"
say "and alice's signing key (key + cert + chain) from key-dir  $W/pki/keys"

title "4. Private mail relay on 127.0.0.1"
SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
MILTER_PORT=$(free_port)
DKIM_PORT=$(free_port)
cat >"$W/smime-milter.conf" <<EOF
socket          inet:$MILTER_PORT@127.0.0.1
cert-dir        $W/pki/certs
key-dir         $W/pki/keys
internal-hosts  127.0.0.0/8 ::1
sign            yes
encrypt         yes
on-error        tempfail
EOF
sink_start "$W/sink" "$SINK_PORT"
opendkim_start "$W/opendkim" "$DKIM_PORT" example.com demo >/dev/null
milter_start "$W/smime-milter.conf" "$W/milter.log"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" \
    "inet:127.0.0.1:$MILTER_PORT, inet:127.0.0.1:$DKIM_PORT"
say "smime-milter.conf:"
indent <"$W/smime-milter.conf"
say "Postfix (private instance) main.cf, milter part:"
say "    smtpd_milters = inet:127.0.0.1:$MILTER_PORT, inet:127.0.0.1:$DKIM_PORT"
say "    ${D}(smime-milter first, then OpenDKIM signs the rewritten message)${N}"
say "    milter_default_action = tempfail"
say "Postfix listens on 127.0.0.1:$SMTPD_PORT and relays to a capture server on 127.0.0.1:$SINK_PORT"

title "5. Alice sends a message to Bob"
MSG=$W/sample.eml
printf '%s\r\n' \
    "From: Alice <alice@example.com>" \
    "To: Bob <bob@partner.example>" \
    "Subject: Quarterly statement" \
    "Date: $(LC_ALL=C date -R)" \
    "Message-ID: <demo.$$.$(date +%s)@example.com>" \
    "MIME-Version: 1.0" \
    "Content-Type: text/plain; charset=utf-8" \
    "Content-Transfer-Encoding: 8bit" \
    "" \
    "Hello Bob," \
    "" \
    "the quarterly statement is ready: balance 12 345,67 €." \
    "" \
    "Grüße, Alice" >"$MSG"
indent <"$MSG" | tr -d '\r'
"$PYTHON3" -c 'import re, sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(re.sub(rb"(?m)^\.", b"..", d) + b".")' "$MSG" "$W/sample.wire"
if ! swaks --server "127.0.0.1:$SMTPD_PORT" --from alice@example.com --to bob@partner.example \
        --data "@$W/sample.wire" --no-data-fixup >"$W/swaks.out" 2>&1; then
    cat "$W/swaks.out"
    say "${R}the relay did not accept the message${N}"
    tail -n 20 "$W/postfix/maillog" "$W/milter.log"
    exit 1
fi
say "${D}$(grep -E '^<- +250 .*queued' "$W/swaks.out" | sed 's/^<- *//')${N}"
if ! sink_wait "$W/sink" 1 30; then
    say "${R}nothing was delivered within 30 s${N}"
    tail -n 20 "$W/postfix/maillog" "$W/milter.log"
    exit 1
fi
OUT=$W/sink/msg-000001.eml
say "smime-milter: $(grep -E 'signed and encrypted|passed|error' "$W/milter.log" | tail -n 1 | sed 's/^[^:]*: //')"

title "6. What Bob's mail server receives"
say "Envelope recipients: $(tr '\n' ' ' <"${OUT%.eml}.rcpt")"
say "Header:"
"$PYTHON3" -c 'import sys
d = open(sys.argv[1], "rb").read()
sys.stdout.write(d.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("\r\n", "\n") + "\n")' "$OUT" | indent
say "Body (base64, $("$PYTHON3" -c 'import sys
b = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[1].split(b"\r\n")
print("%d lines, longest %d columns" % (len([l for l in b if l]), max(len(l) for l in b)))' "$OUT")):"
"$PYTHON3" -c 'import sys
b = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[1].split(b"\r\n")
for l in b[:4]: print(l.decode())
print("...")' "$OUT" | indent

title "7. Inside the S/MIME envelope (openssl cms -cmsout -print)"
"$PYTHON3" -c 'import base64, sys
b = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[1]
open(sys.argv[2], "wb").write(base64.b64decode(b"".join(b.split())))' "$OUT" "$W/outer.der"
openssl cms -cmsout -print -inform DER -in "$W/outer.der" >"$W/outer.txt"
# serial number (decimal, as printed) -> address, from the demo PKI
serials=""
for a in alice@example.com bob@partner.example carol@partner.example; do
    s=$(openssl x509 -in "$W/pki/private/$a.crt" -noout -serial | sed 's/^serial=//')
    serials="$serials $((16#$s))=$a"
done
awk -v map="$serials" '
    BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); who[kv[1]] = kv[2] } }
    /contentType:/ && !ct { sub(/^ *contentType: */, ""); print "content type:        " $0; ct = 1 }
    /d.ktri:|d.kari:/ { r++ }
    /issuer:/ && r { sub(/^ *issuer: */, ""); iss = $0 }
    /serialNumber:/ && r { s = $2; printf "recipient %d:         %s (serial %s, issued by %s)\n", r, (s in who ? who[s] : "unknown"), s, iss }
    /keyEncryptionAlgorithm:/ { kea = 1; next }
    kea && /algorithm:/ { sub(/^ *algorithm: */, ""); printf "  key transport:     %s\n", $0; kea = 0 }
    /contentEncryptionAlgorithm:/ { cea = 1; next }
    cea && /algorithm:/ { sub(/^ *algorithm: */, ""); print "content encryption:  " $0; cea = 0 }
' "$W/outer.txt" | indent

title "8. Independent verdicts"
say "Bob opens the message with three S/MIME implementations, each checking alice's signature"
say "and that the content is exactly what alice sent:"
"$PYTHON3" -c 'import re, sys
d = re.sub(rb"\r?\n", b"\r\n", open(sys.argv[1], "rb").read())
h, b = d.split(b"\r\n\r\n", 1)
keep, take = [], False
for l in h.split(b"\r\n"):
    if l[:1] in (b" ", b"\t"):
        if take: keep.append(l)
        continue
    take = l.lower().startswith(b"content-")
    if take: keep.append(l)
open(sys.argv[2], "wb").write(b"".join(k + b"\r\n" for k in keep) + b"\r\n" + b)' "$MSG" "$W/expected.inner"
verdicts_ok=1
if ! "$ROOT/tests/judges.sh" "$OUT" bob@partner.example "$W/pki" "$W/expected.inner" "$W/judges" >"$W/judges.out" 2>&1; then
    verdicts_ok=0
fi
while IFS= read -r line; do
    case $line in
        openssl:*) name="OpenSSL (openssl cms)      " ;;
        gpgsm:*) name="GnuPG (gpgsm)              " ;;
        cmsutil:*) name="Mozilla NSS (cmsutil)      " ;;
        outer:*) name="MIME structure of envelope " ;;
        *) say "    $line"; continue ;;
    esac
    verdict=${line#*: }
    case $verdict in
        PASS) printf '    %s %sPASS%s\n' "$name" "$G" "$N" ;;
        *) printf '    %s %s%s%s\n' "$name" "$R" "$verdict" "$N" ;;
    esac
done <"$W/judges.out"
if dkim=$(dkim_verify "$OUT" "$W/opendkim" 2>&1); then
    printf '    %s %sPASS%s\n' "DKIM (python3-dkim)        " "$G" "$N"
else
    printf '    %s %s%s%s\n' "DKIM (python3-dkim)        " "$R" "$dkim" "$N"
    verdicts_ok=0
fi
if [ -s "$W/judges/openssl/decrypted" ]; then
    say ""
    say "What Bob's mail client shows after decrypting (MIME structure):"
    "$PYTHON3" -c 'import re, sys
d = open(sys.argv[1], "rb").read().decode("utf-8", "replace").replace("\r\n", "\n")
run = 0
for l in d.split("\n") + [""]:
    if re.fullmatch(r"[A-Za-z0-9+/=]{40,}", l):
        run += 1
        continue
    if run:
        print("[%d lines of base64]" % run)
        run = 0
    print(l)' "$W/judges/openssl/decrypted" | indent
fi

title "9. A recipient without a certificate"
say "Alice writes to dave@nocert.example, for whom there is no certificate: the relay refuses"
say "the recipient during the SMTP dialogue, so nothing leaves unencrypted and Alice's mail"
say "server reports the failure to her:"
printf '%s\r\n' "From: Alice <alice@example.com>" "To: Dave <dave@nocert.example>" \
    "Subject: no certificate" "MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" "" \
    "Dave has no certificate." >"$W/dave.wire"
printf '.' >>"$W/dave.wire"
swaks --server "127.0.0.1:$SMTPD_PORT" --from alice@example.com --to dave@nocert.example \
    --data "@$W/dave.wire" --no-data-fixup >"$W/swaks-dave.out" 2>&1 || true
grep -E '^ -> RCPT|^<\*\* ' "$W/swaks-dave.out" | sed 's/^ -> /    client: /; s/^<\*\* /    relay:  /'
if grep -qE '^<\*\* +550 5\.7\.1' "$W/swaks-dave.out"; then
    say "    ${G}refused with 550 5.7.1 as configured${N}"
else
    say "    ${R}expected a 550 5.7.1 refusal${N}"
    verdicts_ok=0
fi

title "10. Cleaning up"
harness_cleanup
say "stopped Postfix, smime-milter, OpenDKIM and the capture server; removed $W"
if [ $verdicts_ok -eq 1 ]; then
    say "${G}${B}All verdicts PASS.${N}"
else
    say "${R}${B}Some verdicts failed.${N}"
    exit 1
fi
