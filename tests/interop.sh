#!/bin/bash
# Interoperability matrix: every message of a corpus generated now goes through smime-milter in a
# private Postfix (one milter process per configuration, on a unix socket) to an SMTP sink, and
# OpenSSL (openssl cms), GnuPG (gpgsm) and Mozilla NSS (cmsutil) each decrypt and verify what was
# delivered; the recovered entity is compared with the sent one byte for byte (decoded leaf by
# leaf for sign-only mail, whose 8bit/binary parts are re-encoded for 7-bit transport).
#
# Usage (as root): tests/interop.sh [--full]
#   default   a covering subset: every cipher, key transport, recipient key type, signer key
#             type, format, digest and sign-only/encrypt at least once, header protection
#   --full    the whole product cipher x key transport x recipient key x signer x format for
#             sign+encrypt, and signer x format x digest for sign-only; writes doc/interop.md
# Environment: SMIME_MILTER (milter binary), INTEROP_KEEP=1 (keep the work directory),
#              INTEROP_DOC=FILE (where the matrix goes; default doc/interop.md with --full,
#              the work directory otherwise)
#
# A verifier that fails a cell is re-run on a reference message of the same combination made by
# the openssl command line (tests/judges.sh, JUDGE_PROBE=1): if it cannot read that either, the
# cell is "unsupported" (shown, with the verifier's error), otherwise it is "fail".
# Output: "ok/not ok" per configuration and verifier, the matrix, "N passed, M failed".
set -euo pipefail

TESTS=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$TESTS/.." && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"

FULL=0
[ "${1:-}" = --full ] && FULL=1
harness_need swaks openssl postconf
harness_need_root
harness_built "$MILTER_BIN"
harness_workdir smime-interop INTEROP_KEEP
export SMIME_MILTER=$MILTER_BIN
register_log "last milter log lines" "$W/milter-*.log" 20
register_log "Postfix maillog" "$W/postfix/maillog" 20
# shellcheck disable=SC2034 # the header delivered looks for (tests/lib/harness.sh)
HARNESS_ID_HEADER=X-Interop-Id

RESULTS=$W/results.tsv
: >"$RESULTS"

# ---------------------------------------------------------------------------------------------
# The rows: MODE CIPHER RCPT SIGNER FORMAT DIGEST HP CORPUS
#   MODE se (sign+encrypt) | so (sign-only); RCPT rsa-pkcs1 | rsa-oaep | ec-p256 | ec-p384;
#   SIGNER rsa-pkcs1 | rsa-pss | ecdsa-p256; FORMAT detached | opaque; HP - | cipher | cipher-hide
#   | clear; CORPUS all | small (all: every corpus message, small: a few that cover 8-bit text,
#   nested multiparts, no Content-Type)
ALL_MSGS="ascii7 utf8 related altattach rfc822 big5m lfonly nonl empty noct longhdr subj70 subj78 encword"
SMALL_MSGS="utf8 altattach noct"
rows() {
    local c r s f d i=0
    if [ "$FULL" = 1 ]; then
        for c in aes-128-cbc aes-256-cbc aes-128-gcm aes-256-gcm; do
            for r in rsa-pkcs1 rsa-oaep ec-p256 ec-p384; do
                for s in rsa-pkcs1 rsa-pss ecdsa-p256; do
                    for f in detached opaque; do
                        d=$(echo sha256 sha384 sha512 | cut -d' ' -f$((i % 3 + 1)))
                        i=$((i + 1))
                        echo "se $c $r $s $f $d - all"
                    done
                done
            done
        done
        for s in rsa-pkcs1 rsa-pss ecdsa-p256; do
            for f in detached opaque; do
                for d in sha256 sha384 sha512; do echo "so - - $s $f $d - all"; done
            done
        done
        echo "se aes-256-cbc rsa-pkcs1 rsa-pkcs1 detached sha256 cipher-hide all"
        echo "se aes-128-gcm ec-p256 ecdsa-p256 opaque sha384 cipher all"
        echo "so - - rsa-pkcs1 detached sha256 clear all"
        echo "so - - ecdsa-p256 opaque sha256 clear all"
        return
    fi
    cat <<'ROWS'
se aes-256-cbc rsa-pkcs1 rsa-pkcs1 detached sha256 - all
so - - rsa-pkcs1 detached sha256 - all
se aes-128-cbc ec-p256 ecdsa-p256 opaque sha384 - small
se aes-128-gcm rsa-oaep rsa-pss detached sha512 - small
se aes-256-gcm ec-p384 rsa-pkcs1 opaque sha256 - small
se aes-256-cbc rsa-oaep ecdsa-p256 detached sha256 - small
se aes-128-cbc rsa-pkcs1 rsa-pss opaque sha256 - small
so - - ecdsa-p256 opaque sha512 - small
so - - rsa-pss detached sha384 - small
se aes-256-cbc rsa-pkcs1 rsa-pkcs1 detached sha256 cipher-hide small
so - - rsa-pkcs1 opaque sha256 clear small
ROWS
}

rcpt_addr() {
    case $1 in
        rsa-pkcs1 | rsa-oaep | -) echo bob@partner.example ;;
        ec-p256) echo erin@ec256.example ;;
        ec-p384) echo frank@ec384.example ;;
    esac
}
signer_addr() { case $1 in ecdsa-p256) echo eve@example.com ;; *) echo alice@example.com ;; esac; }
display() { case $1 in alice@*) echo "Alice <$1>" ;; eve@*) echo "Eve <$1>" ;; bob@*) echo "Bob <$1>" ;;
    erin@*) echo "Erin <$1>" ;; *) echo "Frank <$1>" ;; esac; }

# ---------------------------------------------------------------------------------------------
echo "# setting up in $W ($([ "$FULL" = 1 ] && echo full matrix || echo fast subset))"
"$TESTS/gen-certs.sh" "$W/pki" >/dev/null
"$TESTS/interop/extra-certs.sh" "$W/pki"
SMTPD_PORT=$(free_port)
SINK_PORT=$(free_port)
SOCK=$W/run/milter.sock
mkdir -p "$W/run"
chmod 0755 "$W/run"
SINK=$W/sink
sink_start "$SINK" "$SINK_PORT" || setup_failed "SMTP sink did not start"
postfix_start "$W/postfix" "$SMTPD_PORT" "$SINK_PORT" "unix:$SOCK" ||
    setup_failed "private Postfix did not start"

# send_corpus ID FILE FROM TO : FILE with @ID@ replaced by ID (in $W/sent-ID.eml) through swaks
# (lfonly, with bare LF lines, keeps them)
send_corpus() {
    local id=$1 file=$2 from=$3 to=$4
    "$PYTHON3" -c 'import sys
d = open(sys.argv[1], "rb").read().replace(b"@ID@", sys.argv[3].encode())
open(sys.argv[2], "wb").write(d)' "$file" "$W/sent-$id.eml" "$id"
    send --from "$from" --timeout 120 "$id" "$W/sent-$id.eml" "$to"
}

record() { # ROW MSG JUDGE VERDICT REASON
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5//$'\t'/ }" >>"$RESULTS"
}

run_row() {
    local row=$1 mode=$2 cipher=$3 rk=$4 sk=$5 fmt=$6 dig=$7 hp=$8 corpus=$9
    local rcpt signer conf jm cmp msgs m id f out j v why
    rcpt=$(rcpt_addr "$rk")
    signer=$(signer_addr "$sk")
    conf=$W/row$row.conf
    {
        echo "socket unix:$SOCK"
        echo "cert-dir $W/pki/certs"
        echo "key-dir $W/pki/keys"
        echo "internal-hosts 127.0.0.0/8 ::1"
        echo "on-error tempfail"
        echo "sign yes"
        echo "digest $dig"
        echo "sign-format $fmt"
        [ "$sk" = rsa-pss ] && echo "signature rsa-pss"
        if [ "$mode" = se ]; then
            echo "encrypt yes"
            echo "cipher $cipher"
            [ "$rk" = rsa-oaep ] && echo "key-transport rsa-oaep"
        else
            echo "encrypt no"
        fi
        case $hp in
            cipher | clear) echo "header-protection yes" ;;
            cipher-hide) echo "header-protection yes"; echo "hide-subject yes" ;;
        esac
    } >"$conf"
    case $mode-$cipher-$fmt in
        so-*-detached) jm=signed-detached ;;
        so-*-opaque) jm=signed-opaque ;;
        se-*gcm-detached) jm=authenveloped-detached ;;
        se-*gcm-opaque) jm=authenveloped-opaque ;;
        se-*-detached) jm=enveloped-detached ;;
        *) jm=enveloped-opaque ;;
    esac
    cmp="--exact"
    [ "$mode" = so ] && cmp="--decoded"
    case $hp in
        cipher) cmp="$cmp --hp cipher" ;;
        cipher-hide) cmp="$cmp --hp cipher --hide-subject" ;;
        clear) cmp="$cmp --hp clear" ;;
    esac
    msgs=$ALL_MSGS
    [ "$corpus" = small ] && msgs=$SMALL_MSGS
    if [ "$FULL" = 0 ] && [ "$row" != 1 ]; then msgs=${msgs/big5m /}; fi
    if [ ! -d "$W/corpus-$signer-$rcpt" ]; then
        "$PYTHON3" "$TESTS/interop/corpus.py" "$W/corpus-$signer-$rcpt" "$(display "$signer")" \
            "$(display "$rcpt")"
    fi
    if ! out=$("$MILTER_BIN" -n -c "$conf" 2>&1); then
        for m in $msgs; do for j in openssl gpgsm cmsutil; do
            record "$row" "$m" "$j" FAIL "configuration refused: ${out//$'\n'/ }"
        done; done
        return
    fi
    rm -f "$SOCK"
    if ! milter_start "$conf" "$W/milter-$row.log" 2>"$W/milter-start-$row.err"; then
        for m in $msgs; do for j in openssl gpgsm cmsutil; do
            record "$row" "$m" "$j" FAIL "milter did not start: $(tail -n 3 "$W/milter-$row.log" | tr '\n' ' ')"
        done; done
        return
    fi
    chmod 0666 "$SOCK" # smtpd runs as the postfix user
    for m in $msgs; do
        id=r$row-$m
        send_corpus "$id" "$W/corpus-$signer-$rcpt/$m.eml" "$signer" "$rcpt" || true
        if ! f=$(first_delivered "$id" 60); then
            why="not delivered: $(grep -E '^<\*\* ' "$W/swaks-$id.out" | tail -n 2 | tr '\n' ' ')"
            for j in openssl gpgsm cmsutil; do record "$row" "$m" "$j" FAIL "$why"; done
            continue
        fi
        out=$(JUDGE_MODE=$jm JUDGE_SIGNER=$signer JUDGE_DIGEST=$dig JUDGE_COMPARE=$cmp \
            JUDGE_PROBE=1 JUDGE_CIPHER=$cipher JUDGE_KT=${rk/ec-*/rsa-pkcs1} JUDGE_SIG=${sk/ecdsa-*/rsa-pkcs1} \
            "$TESTS/judges.sh" "$f" "$rcpt" "$W/pki" "$W/sent-$id.eml" "$W/judge-$id" 2>&1) || true
        for j in openssl gpgsm cmsutil; do
            v=$(grep -E "^$j: " <<<"$out" | head -n 1 || true)
            if [ -z "$v" ]; then
                record "$row" "$m" "$j" FAIL "no verdict: $(grep -E '^outer: ' <<<"$out" | head -n 1)$(tail -n 2 <<<"$out" | tr '\n' ' ')"
                continue
            fi
            v=${v#"$j: "}
            record "$row" "$m" "$j" "${v%% *}" "$([ "${v%% *}" = PASS ] || echo "${v#* }")"
        done
        [ "${INTEROP_KEEP:-0}" = 1 ] || rm -rf "$W/judge-$id" "$f" "$W/wire-$id"
    done
    milter_stop
    harness_forget milter_stop
}

echo "# rows: mode cipher recipient signer format digest header-protection corpus"
row=0
while read -r mode cipher rk sk fmt dig hp corpus; do
    row=$((row + 1))
    echo "$row $mode $cipher $rk $sk $fmt $dig $hp $corpus" >>"$W/rows.txt"
    run_row "$row" "$mode" "$cipher" "$rk" "$sk" "$fmt" "$dig" "$hp" "$corpus"
    for j in openssl gpgsm cmsutil; do
        desc="row $row ($mode $cipher $rk $sk $fmt $dig hp=$hp): $j"
        nf=$(awk -F'\t' -v r="$row" -v j="$j" '$1 == r && $3 == j && $4 == "FAIL"' "$RESULTS" | wc -l)
        nu=$(awk -F'\t' -v r="$row" -v j="$j" '$1 == r && $3 == j && $4 == "UNSUPPORTED"' "$RESULTS" | wc -l)
        np=$(awk -F'\t' -v r="$row" -v j="$j" '$1 == r && $3 == j && $4 == "PASS"' "$RESULTS" | wc -l)
        if [ "$nf" -gt 0 ]; then
            notok "$desc: $nf of $((nf + nu + np)) messages fail" \
                "$(awk -F'\t' -v r="$row" -v j="$j" '$1 == r && $3 == j && $4 == "FAIL" { print $2 ": " substr($5, 1, 400) }' "$RESULTS" | head -n 5)"
        elif [ "$np" -eq 0 ]; then
            # a verifier that cannot read the combination at all: shown, not counted as passed
            skip "$desc: unsupported by $j" \
                "$(awk -F'\t' -v r="$row" -v j="$j" '$1 == r && $3 == j { print substr($5, 1, 200); exit }' "$RESULTS")"
        else
            ok "$desc: $np messages pass${nu:+}$([ "$nu" -gt 0 ] && echo ", $nu unsupported")"
        fi
    done
done < <(rows)

DOC=${INTEROP_DOC:-}
if [ -z "$DOC" ]; then
    if [ "$FULL" = 1 ]; then DOC=$TOP/doc/interop.md; else DOC=$W/interop.md; fi
fi
"$PYTHON3" "$TESTS/interop/report.py" "$W/rows.txt" "$RESULTS" "$FULL" >"$DOC.tmp"
mv "$DOC.tmp" "$DOC"
echo "# matrix written to $DOC"
sed -n '/^| /p' "$DOC" | sed 's/^/# /'
finish
