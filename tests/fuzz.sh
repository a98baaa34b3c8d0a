#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, in a copy of the tree
# built out of tree, see tests/build-copy.sh) and run each of them: first over its committed
# regression inputs (tests/fuzz/regress/TARGET/, inputs that once crashed it), then fuzzing for a
# bounded time from its seed corpus (tests/fuzz/corpus/TARGET/) and what earlier runs found.
#
# Usage: tests/fuzz.sh [--time SECONDS | --long SECONDS] [TARGET...]
#          --time SECONDS   fuzzing time per target (default 25: the CI run)
#          --long SECONDS   the same, for long runs (prints the totals the same way)
#        TARGET: fuzz_mime fuzz_mime7bit fuzz_hp fuzz_conf fuzz_address fuzz_harvest fuzz_ldap
#                fuzz_spool fuzz_mimescan fuzz_inbound (default: all)
# Environment: FUZZ_ROOT  where the build, the growing corpora and crash artifacts live
#                         (default: a directory under $TMPDIR named after this tree)
#              FUZZ_JOBS  targets fuzzed at the same time (default: 1)
# Output: "ok N - ..." / "not ok N - ..." per regression set and per fuzzing run, with executions
# and crashes, the totals, then "N passed, M failed".  A crash, a leak, a timeout or a broken
# invariant (the targets abort with the reason) fails the run; the input is kept and named.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
secs=25
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --time | --long)
        [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || { echo "usage: $0 [--time|--long SECONDS] [TARGET...]" >&2; exit 2; }
        secs=$2
        shift 2
        ;;
    -h | --help)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*) echo "usage: $0 [--time|--long SECONDS] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_mime fuzz_mime7bit fuzz_hp fuzz_conf fuzz_address fuzz_harvest
    fuzz_ldap fuzz_spool fuzz_mimescan fuzz_inbound)

# shellcheck source=lib/tap.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/tap.sh"

if ! command -v clang >/dev/null; then
    notok "clang is installed (tests/deps.sh installs clang and libclang-rt-14-dev)"
    finish
    exit 1
fi
root=${FUZZ_ROOT:-${TMPDIR:-/tmp}/smime-milter-fuzz-$(printf '%s' "$top" | cksum | cut -d' ' -f1)}
mkdir -p "$root"
echo "# building the fuzz targets in $root"
if ! bld=$("$here/build-copy.sh" "$root" fuzz --enable-fuzzing CC=clang 2>"$root/build.err"); then
    notok "the fuzz targets build (configure --enable-fuzzing CC=clang)" "$(cat "$root/build.err")"
    finish
    exit 1
fi
ok "the fuzz targets build (configure --enable-fuzzing CC=clang)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
total_execs=0 total_crashes=0
summary=()

run_target() { # TARGET -> result lines in $root/result-TARGET
    local t=$1 bin=$bld/tests/fuzz/$1 work=$root/corpus/$1 art=$root/artifacts/$1 log=$root/$1.log
    local regress=("$here/fuzz/regress/$t"/*) rc=0 execs crash
    mkdir -p "$work" "$art"
    : >"$root/result-$t"
    if [ ! -x "$bin" ]; then
        echo "F no binary $bin" >>"$root/result-$t"
        return
    fi
    if [ -e "${regress[0]}" ]; then
        if "$bin" -runs=1 "${regress[@]}" >"$root/$t.regress.log" 2>&1; then
            echo "P ${#regress[@]}" >>"$root/result-$t"
        else
            echo "R $(grep -m1 -E 'ERROR|invariant|runtime error' "$root/$t.regress.log" || tail -n 1 "$root/$t.regress.log")" \
                >>"$root/result-$t"
        fi
    fi
    # -timeout: one input taking 10 s is a finding; -rss_limit_mb: so is one needing 2 GB
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/" "$work" "$here/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    crash=$(find "$art" -type f -newer "$root/result-$t" | head -n 1)
    echo "X ${execs:-0} $rc ${crash:-}" >>"$root/result-$t"
}

# run FUZZ_JOBS targets at a time
jobs=${FUZZ_JOBS:-1}
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
    for ((j = i; j < i + jobs && j < ${#targets[@]}; j++)); do
        run_target "${targets[$j]}" &
    done
    wait
done

for t in "${targets[@]}"; do
    while read -r kind a b c; do
        case $kind in
        F) notok "$t: $a $b" ;;
        P) ok "$t: its $a regression input(s) pass" ;;
        R) notok "$t: a regression input fails again" "$a $b $c"$'\n'"$(tail -n 30 "$root/$t.regress.log")" ;;
        X)
            total_execs=$((total_execs + a))
            if [ "$b" = 0 ] && [ -z "$c" ]; then
                ok "$t: $a executions in ${secs}s, 0 crashes"
            else
                total_crashes=$((total_crashes + 1))
                notok "$t: crash after $a executions (exit $b), input kept in ${c:-the log}" \
                    "$(awk '/invariant broken|ERROR: |runtime error/ { on = 1 } on && n++ < 30' "$root/$t.log")"
            fi
            summary+=("$t=$a")
            ;;
        esac
    done <"$root/result-$t"
done
echo "# executions: ${summary[*]}"
echo "# total: $total_execs executions, $total_crashes crashing target(s), ${secs}s per target"
finish
