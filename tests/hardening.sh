#!/usr/bin/env bash
# hardening.sh - the checks against hostile input and careless memory handling, each on a copy of
# the tree built out of tree (tests/build-copy.sh), so the tree's own build stays as it is:
#   1. -Werror builds with gcc and with clang (library, daemon, tool, unit tests, benchmarks);
#   2. an ASan + UBSan build (../configure CFLAGS="-fsanitize=address,undefined ..."): the unit
#      tests, the miltertest suite, a Postfix end-to-end suite (tests/e2e-postfix.sh) and the
#      core-dump checks (tests/core-dumps.sh) against it, with every sanitizer report going to
#      a log directory that must stay empty (halt_on_error: the first report also fails its test);
#   3. the milter under valgrind (memcheck, --leak-check=full, definite leaks are errors) for the
#      miltertest suite: 0 errors, 0 bytes definitely lost;
#   4. tests/fuzz.sh, short: every fuzz target over its regression inputs, then fuzzing a while.
# Usage (as root): tests/hardening.sh
# Environment: HARDENING_ROOT  where the copies are built (default: under $TMPDIR, named after
#                              this tree; kept, so a second run rebuilds only what changed)
#              FUZZ_TIME       seconds of fuzzing per target (default 25)
# Prints TAP (tests/lib/tap.sh) and "N passed, M failed"; exit status 0 when all passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
root=${HARDENING_ROOT:-${TMPDIR:-/tmp}/smime-milter-hardening-$(printf '%s' "$top" | cksum | cut -d' ' -f1)}
mkdir -p "$root"
# shellcheck source=lib/tap.sh
. "$here/lib/tap.sh"
# suite NAME LOG: the "N passed, M failed" line of a suite's log, or "no summary"
suite_line() { grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || echo "no summary line"; }
# the failing lines of a suite's log, for the report
suite_failures() { grep -E -A 8 '^not ok' "$1" | head -n 60 || tail -n 30 "$1"; }

missing=""
for t in gcc clang valgrind miltertest; do command -v "$t" >/dev/null || missing="$missing $t"; done
if [ -n "$missing" ]; then
    notok "hardening tools installed:$missing missing (tests/deps.sh installs them)"
    finish
fi
[ "$(id -u)" = 0 ] || { notok "run as root (a private Postfix is started)"; finish; }

# ---- 1. -Werror with gcc and clang ----------------------------------------------------------
werror() { # NAME CC
    local out
    if out=$(BUILD_COPY_MAKE="'CFLAGS=-g -O2 -Werror' all check TESTS=" \
        "$here/build-copy.sh" "$root" "$1" CC="$2" CFLAGS="-g -O2" 2>&1); then
        ok "$2 -Werror: library, smime-milter, smime-tool, unit tests and benchmarks build without a warning"
    else
        notok "$2 -Werror: library, smime-milter, smime-tool, unit tests and benchmarks build without a warning" "$out"
    fi
}
werror werror-gcc gcc
werror werror-clang clang

# ---- 2. ASan + UBSan --------------------------------------------------------------------------
san_cflags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
asan=""
if out=$("$here/build-copy.sh" "$root" asan CFLAGS="$san_cflags" 2>&1); then
    asan=$out
    ok "ASan/UBSan build (../configure CFLAGS=\"$san_cflags\")"
else
    notok "ASan/UBSan build (../configure CFLAGS=\"$san_cflags\")" "$out"
fi
if [ -n "$asan" ]; then
    san=$root/sanitizer-logs
    rm -rf "$san"
    mkdir -p "$san"
    chmod 1777 "$san" # the milter process writes its reports as the user it became
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$san/asan"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san/ubsan"
    # run_san NAME COMMAND...: a suite against the sanitized build; its own verdict, and no report
    run_san() {
        local name=$1 log=$root/$1.log rc=0 before
        shift
        before=$(find "$san" -type f | wc -l)
        "$@" >"$log" 2>&1 || rc=$?
        if [ "$rc" = 0 ] && [ "$(find "$san" -type f | wc -l)" = "$before" ]; then
            ok "ASan/UBSan: $name ($(suite_line "$log"))"
        else
            notok "ASan/UBSan: $name (exit $rc, $(suite_line "$log"))" \
                "$(suite_failures "$log")"$'\n'"$(cat "$san"/* 2>/dev/null | head -n 60)"
        fi
    }
    # the Check programs' cases, counted as test.sh counts them
    unit() {
        local rc=0 t line c f e p=0 x=0
        make -C "$asan" -j"$(nproc)" check >"$root/unit-make.log" 2>&1 || rc=$?
        for t in "$asan"/tests/check_*.log; do
            line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$t" | tail -n 1 || true)
            if [ -z "$line" ]; then
                echo "not ok - $(basename "$t" .log): no result line"
                x=$((x + 1))
                continue
            fi
            c=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
            f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
            e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
            p=$((p + c - f - e))
            x=$((x + f + e))
            echo "$(basename "$t" .log): $line"
            grep -E ':[EF]:' "$t" || true
        done
        echo "$p passed, $x failed"
        return "$rc"
    }
    run_san "unit tests" unit
    run_san "miltertest suite" env SMIME_MILTER="$asan/milter/smime-milter" "$here/miltertest.sh"
    run_san "Postfix end-to-end suite (e2e-postfix.sh)" env SMIME_MILTER="$asan/milter/smime-milter" \
        "$here/e2e-postfix.sh"
    # ASan sets the core file size limit to 0 itself unless told not to: the milter must do it
    run_san "core dumps off (core-dumps.sh)" env ASAN_OPTIONS="$ASAN_OPTIONS:disable_coredump=0" \
        SMIME_MILTER="$asan/milter/smime-milter" "$here/core-dumps.sh"
    reports=$(find "$san" -type f | wc -l)
    if [ "$reports" = 0 ]; then
        ok "ASan/UBSan: no sanitizer report in any run"
    else
        notok "ASan/UBSan: no sanitizer report in any run ($reports report file(s))" \
            "$(for f in "$san"/*; do echo "== $f"; head -n 30 "$f"; done)"
    fi
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# ---- 3. valgrind ----------------------------------------------------------------------------
plain=$root/src/werror-gcc
if [ -x "$plain/milter/smime-milter" ]; then
    vg=$root/valgrind
    rm -rf "$vg"
    mkdir -p "$vg"
    chmod 1777 "$vg"
    wrapper="valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite"
    wrapper="$wrapper --show-leak-kinds=definite --suppressions=$here/valgrind.supp --log-file=$vg/vg.%p"
    rc=0
    MT_DAEMON_WRAPPER="$wrapper" SMIME_MILTER="$plain/milter/smime-milter" \
        "$here/miltertest.sh" >"$root/valgrind-miltertest.log" 2>&1 || rc=$?
    # every process (supervisors and milter processes) wrote a log ending in its summaries
    logs=$(find "$vg" -name 'vg.*' | wc -l)
    summaries=$(cat "$vg"/vg.* 2>/dev/null | grep -c 'ERROR SUMMARY:' || true)
    errors=$(cat "$vg"/vg.* 2>/dev/null | sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' |
        awk '{ s += $1 } END { print s + 0 }')
    lost=$(cat "$vg"/vg.* 2>/dev/null | sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' | tr -d , |
        awk '{ s += $1 } END { print s + 0 }')
    what="$logs processes, $errors errors, $lost bytes definitely lost"
    if [ "$rc" = 0 ] && [ "$logs" -gt 0 ] && [ "$summaries" = "$logs" ] && [ "$errors" = 0 ] && [ "$lost" = 0 ]; then
        ok "valgrind: the milter for the miltertest suite: $what ($(suite_line "$root/valgrind-miltertest.log"))"
    else
        notok "valgrind: the milter for the miltertest suite: $what (exit $rc)" \
            "$(suite_failures "$root/valgrind-miltertest.log")"$'\n'"$(grep -hv '^==[0-9]*== *$' "$vg"/vg.* | head -n 80)"
    fi
else
    notok "valgrind: the milter for the miltertest suite (no gcc build to run)"
fi

# ---- 4. fuzzing, short ----------------------------------------------------------------------
rc=0
FUZZ_ROOT=$root "$here/fuzz.sh" --time "${FUZZ_TIME:-25}" >"$root/fuzz.log" 2>&1 || rc=$?
grep -E '^# (executions|total)' "$root/fuzz.log" || true
if [ "$rc" = 0 ]; then
    ok "fuzz.sh: every target passes its regression inputs and fuzzes without a crash ($(suite_line "$root/fuzz.log"))"
else
    notok "fuzz.sh: every target passes its regression inputs and fuzzes without a crash ($(suite_line "$root/fuzz.log"))" \
        "$(grep -E -A 12 '^not ok' "$root/fuzz.log" | head -n 60)"
fi
finish
