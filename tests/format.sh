#!/usr/bin/env bash
# format.sh - the tree keeps one style: every tracked C file is as clang-format (.clang-format)
# writes it, and shell scripts indent with spaces as .editorconfig says.  To fix a file:
# clang-format -i FILE.  Prints TAP (tests/lib/tap.sh) and "N passed, M failed".
set -euo pipefail
TESTS=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$TESTS/.." && pwd)
# shellcheck source=lib/tap.sh
. "$TESTS/lib/tap.sh"
harness_need clang-format git
cd "$top"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
    # a release tarball: the files are those of the distribution
    mapfile -t cfiles < <(find lib include milter tools tests bench -name '*.[ch]' -not -path '*/corpus/*' | sort)
    mapfile -t shfiles < <(find . -name '*.sh' -not -path './build-aux/*' | sort)
else
    mapfile -t cfiles < <(git ls-files '*.c' '*.h' | grep -v '/corpus/')
    mapfile -t shfiles < <(git ls-files '*.sh' .ci/run 'debian/*.postinst' 'debian/*.postrm')
fi

bad=()
for f in "${cfiles[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" = 0 ]; then
    ok "clang-format: all ${#cfiles[@]} C files as .clang-format writes them"
else
    notok "clang-format: ${#bad[@]} of ${#cfiles[@]} C files differ (clang-format -i FILE)" "${bad[*]}"
fi

bad=()
for f in "${shfiles[@]}"; do
    ! grep -qP '^\t' "$f" || bad+=("$f")
done
if [ "${#bad[@]}" = 0 ]; then
    ok "shell: all ${#shfiles[@]} scripts indent with spaces (.editorconfig)"
else
    notok "shell: ${#bad[@]} scripts indent with tabs" "${bad[*]}"
fi
finish
