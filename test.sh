#!/usr/bin/env bash
# test.sh - install what the tests need, build, and run every test:
#   Check unit tests of the core library, make distcheck, the miltertest suite
#   driving the daemon over the milter protocol, the end-to-end test through a
#   private Postfix with OpenDKIM, judged by OpenSSL, GnuPG and NSS, and the
#   Debian package built, installed and run behind a chrooted Postfix.
# The shell suites (Makefile.am's SUITES, one at a time) print TAP: a suite's results are its
# "ok" and "not ok" lines ("ok ... # SKIP" counts as neither); a suite that prints no plan
# ("1..N" for its N checks), or exits non-zero without a failed check, counts one failure more.
# The last line is the sum: "N passed, M failed".
# Usage: ./test.sh            (as root on Debian 12)
#        ./test.sh --full     the same with the whole interoperability matrix (tests/interop.sh
#                             --full, which rewrites doc/interop.md) instead of its fast subset
set -euo pipefail
cd "$(dirname "$0")"

suite_args=()
case ${1:-} in
    --full) suite_args=(--full) ;;
    "") ;;
    *) echo "usage: $0 [--full]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
    echo "test.sh: run as root: it installs Debian packages and starts a private Postfix" >&2
    exit 1
fi

tests/deps.sh

echo "== build"
[ -x configure ] || ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure -q
make -j"$(nproc)" >/dev/null

passed=0
failed=0
skipped=0
suites_failed=()

# count_suite NAME LOG RC : add the TAP results in LOG (the suite's output) to the totals
count_suite() {
    local name=$1 log=$2 rc=$3 p f s plan n problem=""
    read -r p f s plan n < <(awk '
        /^not ok( |$)/ { n++; f++; next }
        /^ok( |$)/ { n++; if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) s++; else p++; next }
        /^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; seen = 1 }
        END { print p + 0, f + 0, s + 0, (seen ? plan : -1), n + 0 }' "$log")
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    if [ "$plan" = -1 ]; then
        problem="no plan"
    elif [ "$plan" != "$n" ]; then
        problem="plan 1..$plan, $n checks"
    elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        problem="exit status $rc without a failed check"
    fi
    if [ -n "$problem" ]; then
        failed=$((failed + 1))
        suites_failed+=("$name ($problem)")
    elif [ "$f" != 0 ]; then
        suites_failed+=("$name")
    fi
}

logdir=$(mktemp -d "${TMPDIR:-/tmp}/smime-milter-tests.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

echo "== unit tests (Check)"
rc=0
make -j"$(nproc)" check >"$logdir/unit.log" 2>&1 || rc=$?
for t in tests/check_*.log; do
    [ -f "$t" ] || continue
    sed -n 's/^\([0-9]*%: Checks.*\)/  '"$(basename "$t" .log)"': \1/p' "$t"
    grep -E ':[EF]:' "$t" | sed 's/^/    /' || true
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$t" | tail -n 1)
    n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
    fl=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
    er=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
    passed=$((passed + n - fl - er))
    failed=$((failed + fl + er))
done
if [ "$rc" != 0 ]; then
    suites_failed+=("unit")
    grep -E '^(FAIL|ERROR)' "$logdir/unit.log" || tail -n 30 "$logdir/unit.log"
fi

# the release tarball builds, passes its unit tests and installs (one check in the totals)
echo "== make distcheck"
if make distcheck >"$logdir/distcheck.log" 2>&1 &&
    tests/dist-files.sh >>"$logdir/distcheck.log" 2>&1; then
    echo "ok - make distcheck; the tarball holds every tracked file"
    passed=$((passed + 1))
else
    echo "not ok - make distcheck"
    tail -n 30 "$logdir/distcheck.log" | sed 's/^/#   /'
    failed=$((failed + 1))
    suites_failed+=("distcheck")
fi

suites=$(make -s list-suites)
for suite in $suites; do
    echo "== $suite"
    rc=0
    args=()
    [ "$suite" = tests/interop.sh ] && args=("${suite_args[@]}")
    "$suite" "${args[@]}" 2>&1 | tee "$logdir/suite.log" || rc=${PIPESTATUS[0]}
    count_suite "$suite" "$logdir/suite.log" "$rc"
done

echo
if [ "${#suites_failed[@]}" -gt 0 ]; then
    echo "failed suites: ${suites_failed[*]}"
fi
if [ "$skipped" != 0 ]; then
    echo "$skipped checks skipped (interoperability cells a verifier does not support; not counted as passed)"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "${#suites_failed[@]}" = 0 ]
