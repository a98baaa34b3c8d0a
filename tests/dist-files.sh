#!/usr/bin/env bash
# dist-files.sh - the release tarball (the newest smime-milter-*.tar.gz that "make dist" or
# "make distcheck" left in the top directory) holds every file git tracks, so that EXTRA_DIST,
# which lists files one by one, misses none.  Prints the missing files; exit 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2012 # the newest of the names "make dist" writes
tarball=$(ls -t smime-milter-*.tar.gz 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { echo "dist-files: no smime-milter-*.tar.gz (run make dist)" >&2; exit 1; }
git rev-parse --git-dir >/dev/null 2>&1 || { echo "dist-files: not a git checkout" >&2; exit 1; }
top=${tarball%.tar.gz}
missing=$(comm -23 <(git ls-files | grep -vxE '\.gitignore|\.ci/.gitkeep' | sort) \
    <(tar tzf "$tarball" | sed "s|^$top/||" | sort))
if [ -n "$missing" ]; then
    echo "dist-files: tracked but not in $tarball (add them to EXTRA_DIST):"
    while IFS= read -r f; do echo "  $f"; done <<<"$missing"
    exit 1
fi
echo "dist-files: $tarball holds all $(git ls-files | grep -vxcE '\.gitignore') tracked files"
