#!/usr/bin/env bash
# bench/mta.sh - messages per second through a real Postfix on loopback (a benchmark, not a
# test).  One private Postfix instance (tests/lib/harness.sh), delivery discarded, driven by
# smtp-source; one smtpd listener per milter list:
#   postfix        Postfix alone, no milter
#   dkim-tcp       OpenDKIM alone (TCP)
#   dkim-unix      OpenDKIM alone (unix socket)
#   repl-unix      bench/replmilter on a unix socket: replaces each body with the same bytes, no
#                  cryptography: the MTA's share of a milter that rewrites the body
#   smime-unix     smime-milter alone, sign + encrypt, unix socket
#   smime-tcp      smime-milter alone, sign + encrypt, TCP loopback
#   smime+dkim-unix  smime-milter then OpenDKIM, both on unix sockets
#   smime+dkim-tcp   smime-milter then OpenDKIM, both on TCP loopback
#   dkim-tcp-p2, smime+dkim-tcp-p2   the same with OpenDKIM given protocol=2 in Postfix (a
#                  per-milter setting): Postfix then sends OpenDKIM no DATA-stage macros
# for 1, 4 and 16 SMTP sessions, 19 KB and 577 KB messages, 1 and 10 recipients (RSA-2048
# signer and recipients, recipient certificates validated against a ca-file).  Every smime run
# is checked against the milter's log: each message must have been signed and encrypted.
# Prints msg/s, ms/msg (wall time / messages) and the ratio to Postfix alone in the same cell.
#
# Usage (as root): bench/mta.sh [--full] [--before REV | --before-bin PATH] [--count N]
#        [--configs "A B ..."]
#   --full        the whole grid (each configuration x 3 x 2 x 2; the -p2 ones 19 KB, 1 rcpt;
#                 tens of minutes); the default is a subset that covers every target
#                 (about 10 minutes with --before, which runs the smime cells twice)
#   --before REV  also run the smime configurations with the milter built from git revision
#                 REV (exported with git archive into a temporary directory and built there),
#                 so that before and after are measured in the same run
#   --before-bin PATH  the same with an already built binary
#   --count N     messages per run at 1 session (default 60; scaled with sessions and size)
#   --configs "A B ..."  only these configurations (and Postfix alone)
#   --perf DIR    record every timed cell system-wide with `perf record -a -g` into
#                 DIR/CELL.data (CPU time per process and function: `perf report --sort comm,dso`)
# Run it under flock so that it does not overlap other heavy jobs on a shared machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/lib/harness.sh
. "$top/tests/lib/harness.sh"
harness_trap

full=0 before_rev="" before_bin="" count1=60 only="" perf_dir=""
while [ $# -gt 0 ]; do
    case $1 in
        --full) full=1 ;;
        --before) before_rev=$2; shift ;;
        --before-bin) before_bin=$2; shift ;;
        --count) count1=$2; shift ;;
        --configs) only=$2; shift ;;
        --perf) perf_dir=$2; shift ;;
        *) echo "usage: $0 [--full] [--before REV | --before-bin PATH] [--count N]" >&2; exit 2 ;;
    esac
    shift
done
harness_need smtp-source postconf opendkim opendkim-genkey openssl || exit 1
if [ "$(id -u)" -ne 0 ]; then echo "mta.sh: run as root (a private Postfix is started)" >&2; exit 1; fi
if [ ! -x "$top/milter/smime-milter" ] || [ ! -x "$top/bench/replmilter" ]; then
    make -C "$top" -s milter/smime-milter bench/replmilter
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/smime-mta-bench.XXXXXX")
chmod 0755 "$W"
harness_on_exit rm -rf "$W"

# ---- the milter binaries: "after" (this tree) and optionally "before"
bins=("after=$top/milter/smime-milter")
if [ -n "$before_rev" ]; then
    echo "== building the milter at $before_rev"
    mkdir -p "$W/before-src"
    git -C "$top" archive "$before_rev" | tar -x -C "$W/before-src"
    (cd "$W/before-src" && ./autogen.sh >/dev/null 2>&1 && ./configure -q >/dev/null &&
        make -s -j2 milter/smime-milter >/dev/null 2>&1) || { echo "cannot build $before_rev" >&2; exit 1; }
    before_bin=$W/before-src/milter/smime-milter
fi
[ -n "$before_bin" ] && bins=("before=$before_bin" "${bins[@]}")

# ---- certificates: signer alice@example.com, recipients bench@ and 1bench@..10bench@partner.example
# (smtp-source -r N numbers its recipients from 1)
extra="bench@partner.example"
for i in 1 2 3 4 5 6 7 8 9 10; do extra="$extra ${i}bench@partner.example"; done
GEN_CERTS_EXTRA=$extra "$top/tests/gen-certs.sh" "$W/pki" >/dev/null

# ---- messages (LF lines: smtp-source -F appends CRLF to each line)
make_message() { # SIZE FILE
    "$PYTHON3" - "$1" "$2" <<'PY'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head = ("From: Alice <alice@example.com>\nTo: Bench <bench@partner.example>\n"
        "Subject: benchmark %d bytes\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n" % size)
line = "The quick brown fox jumps over the lazy dog, 0123456789 - S/MIME in the MTA.\n"
body = (line * (size // len(line) + 1))[:max(size - len(head), 0)]
open(path, "w").write(head + body)
PY
}
make_message 19000 "$W/msg19.eml"
make_message 577000 "$W/msg577.eml"

# ---- services
SMTPD_PORT=$(free_port)
RELAY_PORT=$(free_port)
DKIM_PORT=$(free_port)
MILTER_PORT=$(free_port)
opendkim_start "$W/dkim" "$DKIM_PORT" example.com bench >/dev/null
# the same OpenDKIM on a unix socket (Postfix runs as user postfix: a socket it may open)
sed -e "s|^Socket .*|Socket                  local:$W/dkim/dkim.sock|" \
    -e "s|^PidFile .*|PidFile                 $W/dkim/opendkim-unix.pid|" \
    -e "s|^UMask .*|UMask                   000|" "$W/dkim/opendkim.conf" >"$W/dkim/opendkim-unix.conf"
opendkim -f -x "$W/dkim/opendkim-unix.conf" >"$W/dkim/opendkim-unix.log" 2>&1 &
dkim_unix_pid=$!
harness_on_exit stop_pid "$dkim_unix_pid" opendkim-unix
wait_for_file "$W/dkim/dkim.sock" 20

postfix_start "$W/pf" "$SMTPD_PORT" "$RELAY_PORT" "" >/dev/null
# one smtpd listener per milter list, so that no smtpd process ever serves a list it was not
# started with (a reload leaves idle smtpd processes of the old list running for a while)
declare -A PORT
PORT[postfix]=$SMTPD_PORT
listener() { # NAME MILTERS
    PORT[$1]=$(free_port)
    echo "127.0.0.1:${PORT[$1]} inet n - n - - smtpd -o smtpd_milters=$2" >>"$W/pf/etc/master.cf"
}
listener dkim-tcp "inet:127.0.0.1:$DKIM_PORT"
listener dkim-unix "unix:$W/dkim/dkim.sock"
listener repl-unix "unix:$W/repl.sock"
listener smime-unix "unix:$W/milter.sock"
listener smime-tcp "inet:127.0.0.1:$MILTER_PORT"
listener smime+dkim-unix "unix:$W/milter.sock,unix:$W/dkim/dkim.sock"
listener smime+dkim-tcp "inet:127.0.0.1:$MILTER_PORT,inet:127.0.0.1:$DKIM_PORT"
# per-milter settings need braces and spaces: through parameters of main.cf
postconf -c "$W/pf/etc" -e "bench_dkim_p2 = { inet:127.0.0.1:$DKIM_PORT, protocol=2 }" \
    "bench_smime_dkim_p2 = inet:127.0.0.1:$MILTER_PORT, \$bench_dkim_p2"
listener dkim-tcp-p2 '$bench_dkim_p2'
listener smime+dkim-tcp-p2 '$bench_smime_dkim_p2'
postconf -c "$W/pf/etc" -e "default_transport = discard:bench"
kill -HUP "$(tr -d ' \n' <"$W/pf/spool/pid/master.pid")"
for p in "${PORT[@]}"; do wait_for_port "$p" 20; done

milter_conf() { # SOCKET FILE
    cat >"$2" <<EOF
socket          $1
socket-mode     0666
cert-dir        $W/pki/certs
key-dir         $W/pki/keys
ca-file         $W/pki/ca/chain.pem
internal-hosts  127.0.0.0/8
spool-dir       $W
sign            yes
encrypt         yes
EOF
}
milter_conf "unix:$W/milter.sock" "$W/milter-unix.conf"
milter_conf "inet:$MILTER_PORT@127.0.0.1" "$W/milter-tcp.conf"

# ---- one measurement
declare -A RATE CPU MCPU
# CPU time of the whole machine (all cores, user + system), in clock ticks
cpu_all() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# CPU time of a process and its children (the milter's supervisor and worker), in clock ticks
cpu_tree() { # PID
    local p t=0 kids
    if [ -z "$1" ] || [ ! -r "/proc/$1/stat" ]; then echo 0; return; fi
    kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
    for p in "$1" $kids; do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)
processed() { grep -c 'signed and encrypted' "$1" 2>/dev/null || true; }

run_cell() { # KEY SESSIONS SIZE RCPTS [MILTER_LOG]
    local key=$1 s=$2 size=$3 r=$4 log=${5:-} n t0 t1 before after port
    port=${PORT[${key%%(*}]:-${PORT[${key%%|*}]}}
    n=$((count1 * (s > 4 ? 4 : s)))
    [ "$size" = 577 ] && n=$((n / 3))
    [ "$n" -lt "$s" ] && n=$s
    # warm-up, not timed: smtpd processes spawned, milter connections and caches made
    timeout 120 smtp-source -s "$s" -m "$s" -r "$r" -F "$W/msg$size.eml" -f alice@example.com \
        -t bench@partner.example "127.0.0.1:$port" >/dev/null 2>&1 || true
    [ -n "$log" ] && before=$(processed "$log")
    local rec=() popts=()
    if [ -n "$perf_dir" ]; then
        read -r -a popts <<<"${BENCH_PERF_OPTS:--g}"
        rec=(perf record -q -a "${popts[@]}" -o "$perf_dir/$(printf '%s' "$key" | tr -c 'A-Za-z0-9+.-' _).data" --)
    fi
    local c0 c1 m0 m1
    c0=$(cpu_all)
    m0=$(cpu_tree "${HARNESS_MILTER_PID:-}")
    t0=$(date +%s.%N)
    if ! timeout 300 "${rec[@]}" smtp-source -s "$s" -m "$n" -r "$r" -F "$W/msg$size.eml" -f alice@example.com \
        -t bench@partner.example "127.0.0.1:$port" >"$W/source.out" 2>&1; then
        echo "smtp-source failed for $key:" >&2
        cat "$W/source.out" "$W/pf/maillog" | tail -20 >&2
        exit 1
    fi
    t1=$(date +%s.%N)
    c1=$(cpu_all)
    m1=$(cpu_tree "${HARNESS_MILTER_PID:-}")
    CPU[$key]=$(awk -v a="$c0" -v b="$c1" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", 1000 * (b - a) / hz / n }')
    MCPU[$key]=$(awk -v a="$m0" -v b="$m1" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", 1000 * (b - a) / hz / n }')
    if [ -n "$log" ]; then
        after=$(processed "$log")
        if [ $((after - before)) -ne "$n" ]; then
            echo "$key: the milter signed and encrypted $((after - before)) of $n messages" >&2
            tail -5 "$log" >&2
            exit 1
        fi
    fi
    RATE[$key]=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / (b - a) }')
    printf '  %-34s %4d msgs %8.1f msg/s  CPU %5.2f ms/msg (milter %4.2f)\n' "$key" "$n" "${RATE[$key]}" \
        "${CPU[$key]}" "${MCPU[$key]}"
}

# ---- the grid
CONFIGS="postfix dkim-tcp dkim-unix repl-unix dkim-tcp-p2 smime-unix smime-tcp smime+dkim-unix smime+dkim-tcp smime+dkim-tcp-p2"
cells() { # CONFIG: "SESSIONS SIZE RCPTS" lines to run for it
    local c=$1 s z r
    [ -n "${PORT[$c]:-}" ] || return 0
    if [ -n "$only" ] && [ "$c" != postfix ] && [[ " $only " != *" $c "* ]]; then return; fi
    case $c in *-p2) echo "1 19 1"; echo "4 19 1"; return ;; esac
    if [ "$full" = 1 ]; then
        for s in 1 4 16; do for z in 19 577; do for r in 1 10; do echo "$s $z $r"; done; done; done
        return
    fi
    echo "1 19 1"
    echo "4 19 1"
    case $c in
        postfix | repl-unix | smime-unix | smime-tcp | smime+dkim-tcp)
            echo "4 577 1"
            echo "4 19 10"
            ;;
    esac
    case $c in postfix | smime+dkim-unix | smime+dkim-tcp) echo "16 19 1" ;; esac
    return 0
}

echo "== Postfix alone and OpenDKIM alone"
while read -r s z r; do run_cell "postfix|$s|$z|$r" "$s" "$z" "$r"; done < <(cells postfix)
for c in dkim-tcp dkim-unix dkim-tcp-p2; do
    while read -r s z r; do run_cell "$c|$s|$z|$r" "$s" "$z" "$r"; done < <(cells $c)
done
if [ -n "$(cells repl-unix)" ]; then
    "$top/bench/replmilter" "unix:$W/repl.sock" >"$W/repl.log" 2>&1 &
    repl_pid=$!
    harness_on_exit stop_pid "$repl_pid" replmilter
    wait_for_file "$W/repl.sock" 20
    HARNESS_MILTER_PID=$repl_pid # its CPU in the milter column
    while read -r s z r; do run_cell "repl-unix|$s|$z|$r" "$s" "$z" "$r"; done < <(cells repl-unix)
    HARNESS_MILTER_PID=""
    stop_pid "$repl_pid" replmilter
fi

for b in "${bins[@]}"; do
    tag=${b%%=*}
    export SMIME_MILTER=${b#*=}
    MILTER_BIN=$SMIME_MILTER
    for tr in unix tcp; do
        echo "== smime-milter ($tag) on $tr"
        milter_start "$W/milter-$tr.conf" "$W/milter-$tag-$tr.log"
        while read -r s z r; do
            run_cell "smime-$tr($tag)|$s|$z|$r" "$s" "$z" "$r" "$W/milter-$tag-$tr.log"
        done < <(cells "smime-$tr")
        for c in "smime+dkim-$tr" "smime+dkim-$tr-p2"; do
            while read -r s z r; do
                run_cell "$c($tag)|$s|$z|$r" "$s" "$z" "$r" "$W/milter-$tag-$tr.log"
            done < <(cells "$c")
        done
        milter_stop
    done
done

# ---- the table
echo
echo "== results: msg/s, ms/msg (wall time / messages) and ratio to Postfix alone"
printf '%-24s %-8s %-6s %-5s %9s %9s %8s %9s %9s\n' configuration sessions size rcpts "msg/s" "ms/msg" "/postfix" \
    "CPU ms" "milter ms"
for c in $CONFIGS; do
    variants=$c
    case $c in smime*) variants=""; for b in "${bins[@]}"; do variants="$variants $c(${b%%=*})"; done ;; esac
    for v in $variants; do
        while read -r s z r; do
            k="$v|$s|$z|$r"
            [ -n "${RATE[$k]:-}" ] || continue
            awk -v c="$v" -v s="$s" -v z="${z}KB" -v r="$r" -v x="${RATE[$k]}" -v p="${RATE[postfix|$s|$z|$r]}" \
                -v cpu="${CPU[$k]}" -v m="${MCPU[$k]}" 'BEGIN {
                printf "%-24s %-8s %-6s %-5s %9.1f %9.2f %7.0f%% %9.2f %9.2f\n", c, s, z, r, x, 1000 / x,
                    100 * x / p, cpu, m }'
        done < <(cells "$c")
    done
done

# ---- targets (issue 10), each with its figure and MET / NOT MET
ms() { awk -v x="${RATE[$1]}" 'BEGIN { printf "%.3f", 1000 / x }'; }
have() { local k; for k in "$@"; do [ -n "${RATE[$k]:-}" ] || return 1; done; }
tcp_target() { # LABEL TCP_KEY UNIX_KEY
    have "$2" "$3" || return 0
    awk -v l="$1" -v t="$(ms "$2")" -v u="$(ms "$3")" 'BEGIN {
        printf "%s: TCP %.2f ms/msg vs unix %.2f ms/msg = %+.0f%% (target: TCP at most 15%% slower) %s\n",
            l, t, u, 100 * (t / u - 1), (t / u <= 1.15 ? "MET" : "NOT MET") }'
}
echo
echo "== targets (19 KB, 1 recipient; Postfix alone and OpenDKIM alone from the same run)"
for b in "${bins[@]}"; do
    tag=${b%%=*}
    for s in 1 4; do
        tcp_target "$tag, $s session(s), smime-milter" "smime-tcp($tag)|$s|19|1" "smime-unix($tag)|$s|19|1"
    done
    k="smime-unix($tag)|4|19|1"
    if have "$k" "postfix|4|19|1"; then
        awk -v l="$tag" -v x="${RATE[$k]}" -v p="${RATE[postfix|4|19|1]}" 'BEGIN {
            printf "%s, unix, 4 sessions: %.1f msg/s = %.0f%% of Postfix alone (%.1f msg/s) (target >= 75%%) %s\n",
                l, x, 100 * x / p, p, (x / p >= 0.75 ? "MET" : "NOT MET") }'
    fi
    k="smime-unix($tag)|1|19|1"
    if have "$k" "postfix|1|19|1"; then
        awk -v l="$tag" -v x="$(ms "$k")" -v p="$(ms "postfix|1|19|1")" 'BEGIN {
            printf "%s, unix, 1 session: %.2f ms/msg vs Postfix alone %.2f ms/msg = %.2f ms added (target <= 1.0 ms) %s\n",
                l, x, p, x - p, (x - p <= 1.0 ? "MET" : "NOT MET") }'
    fi
    for s in 1 4; do
        k="smime-unix($tag)|$s|19|1"
        have "$k" "dkim-unix|$s|19|1" || continue
        awk -v l="$tag" -v s="$s" -v x="$(ms "$k")" -v d="$(ms "dkim-unix|$s|19|1")" \
            -v p="$(ms "postfix|$s|19|1")" -v cx="${CPU[$k]}" -v cd="${CPU[dkim-unix|$s|19|1]}" 'BEGIN {
            printf "%s, unix, %d session(s): smime-milter %.2f ms/msg (%.2f added, CPU %.2f ms) vs OpenDKIM alone %.2f ms/msg (%.2f added, CPU %.2f ms) (target: cheaper) %s\n",
                l, s, x, x - p, cx, d, d - p, cd, (x < d ? "MET" : "NOT MET") }'
    done
done
echo "every smime run: each message signed and encrypted per the milter's log (target: all) MET"
