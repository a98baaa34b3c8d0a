#!/usr/bin/env bash
# build-copy.sh - build a copy of the source tree out of tree, leaving the tree itself (and its
# own in-tree build) as it is:
#   ROOT/src          the tracked and untracked (not ignored) files of the tree, copied with
#                     their times, so a second run rebuilds only what changed
#   ROOT/src/NAME     a build directory configured with ../configure ARGS...
#
# Usage: tests/build-copy.sh ROOT NAME [CONFIGURE-ARGUMENT...]
#        prints the build directory on success; the build log is NAME.log beside it.
# Environment: BUILD_COPY_MAKE  make's arguments (default: all): assignments, then targets made one
#                               after the other, e.g. "'CFLAGS=-O2 -Werror' all check TESTS=" (to
#                               make, not configure, whose own tests -Werror would spoil)
# A build whose configure arguments changed is configured again from scratch.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 2 ]; then
    echo "usage: $0 ROOT NAME [CONFIGURE-ARGUMENT...]" >&2
    exit 2
fi
root=$1 name=$2
shift 2
src=$root/src
bld=$src/$name
log=$src/$name.log
mkdir -p "$src"

if ! git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "build-copy.sh: $top is not a git checkout: cannot tell the sources from build products" >&2
    exit 1
fi
# copy the sources (a file that vanished from the tree stays in the copy: harmless)
(cd "$top" && git ls-files -z -co --exclude-standard |
    tar --null -T - -cf -) | tar -xf - -C "$src"
if [ ! -x "$src/configure" ] || [ "$src/configure.ac" -nt "$src/configure" ]; then
    (cd "$src" && ./autogen.sh) >"$src/autogen.log" 2>&1 || {
        echo "build-copy.sh: autogen.sh failed:" >&2
        tail -n 20 "$src/autogen.log" >&2
        exit 1
    }
fi
args=$(printf '%q ' "$@")
if [ ! -f "$bld/Makefile" ] || [ "$(cat "$bld/.configure-args" 2>/dev/null)" != "$args" ]; then
    rm -rf "$bld"
    mkdir -p "$bld"
    (cd "$bld" && ../configure -q "$@") >"$log" 2>&1 || {
        echo "build-copy.sh: $name: ../configure $args failed:" >&2
        tail -n 20 "$log" >&2
        exit 1
    }
    printf '%s' "$args" >"$bld/.configure-args"
fi
# make's arguments: variable assignments for every run, then one run per target, in order
# (one parallel make of "all check" would build the same objects twice at once)
words=(all)
if [ -n "${BUILD_COPY_MAKE:-}" ]; then
    eval "words=(${BUILD_COPY_MAKE})"
fi
vars=() goals=()
for w in "${words[@]}"; do
    if [[ $w == *=* ]]; then vars+=("$w"); else goals+=("$w"); fi
done
[ ${#goals[@]} -gt 0 ] || goals=(all)
: >"$log"
for g in "${goals[@]}"; do
    if ! make -C "$bld" -j"$(nproc)" "${vars[@]}" "$g" >>"$log" 2>&1; then
        echo "build-copy.sh: $name: make $g failed:" >&2
        grep -E 'error|warning' "$log" | head -n 40 >&2 || tail -n 40 "$log" >&2
        exit 1
    fi
done
echo "$bld"
