# shellcheck shell=bash
# TAP for the shell suites: every suite sources this file (which sources harness.sh, the
# services), makes its checks with the functions below and ends with "finish".
#
#   TESTS=$(cd "$(dirname "$0")" && pwd)
#   # shellcheck source=lib/tap.sh
#   . "$TESTS/lib/tap.sh"
#   harness_need swaks openssl          # a missing tool is a failed check: the suite stops
#   harness_workdir smime-example       # W: a scratch directory, removed on exit
#   check "the milter accepts its configuration" "$MILTER_BIN" -n -c "$W/m.conf"
#   finish
#
# Output (the Test Anything Protocol, plan at the end):
#   ok 1 - DESCRIPTION
#   not ok 2 - DESCRIPTION
#   #   diagnostics, two spaces in
#   ok 3 - DESCRIPTION # SKIP why        (skip: counted neither passed nor failed)
#   1..3
#   1 passed, 1 failed                    (always the last line of the output)
#
# A suite that stops before "finish" (set -e, a signal, an exit of its own) still ends with a
# failed check naming where it stopped, the plan and the count line; exit status 1.
#
# Checks:
#   ok DESC                  a passed check
#   notok DESC [DIAG]        a failed check; DIAG (may hold several lines) as diagnostics
#   skip DESC WHY            a check that could not be made (not a pass): "ok N - DESC # SKIP WHY"
#   check DESC CMD...        runs CMD in this shell (its variables stay set); ok when it exits 0,
#                            else not ok with CMD's output (stdout and stderr) as diagnostics
#                            and, when TAP_DIAG names a command, that command's output
#   is DESC GOT WANT         ok when GOT and WANT are the same string, else both shown
#   check_passed             true when the last check passed (check and is return 0 either way,
#                            so that a failed check does not stop a suite under set -e)
#   judge DESC FILE RCPT EXPECTED [WORKDIR]
#                            tests/judges.sh (OpenSSL, gpgsm, NSS) on a delivered FILE for RCPT
#                            against the EXPECTED inner entity; JUDGE_* in the environment pass
#                            through (JUDGE_MODE=... judge ...); PKI: $HARNESS_PKI or $W/pki
#   setup_failed DESC [DIAG] not ok "setup: DESC", the registered logs, and the end of the suite
#   finish                   the registered logs if anything failed, the plan, the count line,
#                            exit 0 when nothing failed, 1 otherwise
# Dependencies:
#   harness_need TOOL...     commands (a NAME), readable files (a PATH with a slash) and Python
#                            modules (py:MODULE); any missing: setup_failed
#   harness_built BIN...     executables of this tree (MILTER_BIN, TOOL_BIN); else setup_failed
#   harness_need_root [WHY]  not root: setup_failed
# Variables: TAP_DIAG (a command run for the diagnostics of a failed check), TAP_DIAG_LINES
# (at most that many diagnostic lines per failed check; 0, the default, for all).

# shellcheck source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

TAP_N=0
TAP_PASSED=0
TAP_FAILED=0
TAP_SKIPPED=0
TAP_DONE=0
TAP_DIAG=""
TAP_DIAG_LINES=${TAP_DIAG_LINES:-0}
TAP_LAST_ERR=""
TAP_LAST=""
TAP_OUT=$(mktemp "${TMPDIR:-/tmp}/tap-check.XXXXXX")

# tap_diag TEXT : TEXT's lines as TAP diagnostics ("#   line"), at most TAP_DIAG_LINES of them
tap_diag() {
    [ -n "$1" ] || return 0
    if [ "$TAP_DIAG_LINES" -gt 0 ]; then
        printf '%s\n' "$1" | head -n "$TAP_DIAG_LINES" | sed 's/^/#   /'
    else
        printf '%s\n' "$1" | sed 's/^/#   /'
    fi
}

ok() {
    TAP_N=$((TAP_N + 1))
    TAP_PASSED=$((TAP_PASSED + 1))
    TAP_LAST=ok
    echo "ok $TAP_N - $1"
}

notok() {
    TAP_N=$((TAP_N + 1))
    TAP_FAILED=$((TAP_FAILED + 1))
    TAP_LAST=notok
    echo "not ok $TAP_N - $1"
    tap_diag "${2:-}"
}

skip() {
    TAP_N=$((TAP_N + 1))
    TAP_SKIPPED=$((TAP_SKIPPED + 1))
    TAP_LAST=skip
    echo "ok $TAP_N - $1 # SKIP $2"
}

check_passed() { [ "$TAP_LAST" = ok ]; }

check() {
    local desc=$1 rc=0 diag
    shift
    "$@" >"$TAP_OUT" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
        ok "$desc"
        return 0
    fi
    diag=$(cat "$TAP_OUT")
    if [ -n "$TAP_DIAG" ]; then
        diag="$diag${diag:+$'\n'}$($TAP_DIAG 2>&1)"
    fi
    notok "$desc" "$diag"
    return 0
}

is() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        notok "$1" "got:"$'\n'"$2"$'\n'"want:"$'\n'"$3"
    fi
}

judge() {
    local desc=$1 file=$2 rcpt=$3 expected=$4 work=${5:-$HARNESS_WORK/j$((TAP_N + 1))}
    # a short scratch path by default: gpg-agent's socket path must stay under 108 bytes
    check "$desc" "$HARNESS_ROOT/tests/judges.sh" "$file" "$rcpt" "${HARNESS_PKI:-$HARNESS_WORK/pki}" \
        "$expected" "$work"
}

# the plan and the count line; no exit
tap_end() {
    TAP_DONE=1
    if [ "$TAP_N" = 0 ]; then notok "the suite made at least one check"; fi
    if [ "$TAP_FAILED" != 0 ]; then dump_logs; fi
    if [ "$TAP_SKIPPED" != 0 ]; then echo "# $TAP_SKIPPED skipped (not counted as passed)"; fi
    echo "1..$TAP_N"
    echo "$TAP_PASSED passed, $TAP_FAILED failed"
}

finish() {
    tap_end
    if [ "$TAP_FAILED" = 0 ]; then exit 0; fi
    exit 1
}

setup_failed() {
    notok "setup: $1" "${2:-}"
    finish
}

# ---------------------------------------------------------------------------------------------
# Dependencies: a missing tool is a failed check, never a skip

harness_need() {
    local missing
    missing=$(harness_missing "$@")
    [ -z "$missing" ] || setup_failed "tools present (run tests/deps.sh as root)" "missing:$missing"
}

harness_built() {
    local b missing=""
    for b in "$@"; do [ -x "$b" ] || missing="$missing $b"; done
    [ -z "$missing" ] || setup_failed "built (make; or set SMIME_MILTER, SMIME_TOOL)" "missing:$missing"
}

# shellcheck disable=SC2120 # WHY is optional
harness_need_root() {
    [ "$(id -u)" -eq 0 ] || setup_failed "run as root (${1:-a private Postfix instance is started})"
}

# ---------------------------------------------------------------------------------------------
# The end of the suite, whichever way it comes: unfinished means failed

tap_exit() {
    local rc=$?
    if [ "$TAP_DONE" != 1 ]; then
        notok "the suite ran to its end" "it stopped with exit status $rc${TAP_LAST_ERR:+; the last command that failed: $TAP_LAST_ERR}"
        tap_end
        [ "$rc" != 0 ] || rc=1
    fi
    harness_cleanup
    rm -f "$TAP_OUT"
    exit "$rc"
}

trap tap_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'TAP_LAST_ERR="line $LINENO: $BASH_COMMAND"' ERR
