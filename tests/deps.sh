#!/bin/bash
# Install (idempotently) every Debian package the build, the unit tests and the end-to-end tests
# need. Quick no-op when everything is present. System services (Postfix, OpenDKIM, slapd) are not
# started by the installation: the tests run private instances.
#
# Usage (as root): tests/deps.sh
set -euo pipefail

PACKAGES="build-essential autoconf automake libtool pkg-config libssl-dev libmilter-dev check
postfix swaks miltertest opendkim opendkim-tools python3-dkim libnss3-tools gpgsm gnupg openssl
python3 ca-certificates procps libcurl4-openssl-dev python3-aiosmtpd softhsm2 libengine-pkcs11-openssl opensc
libldap-dev slapd ldap-utils libp11-kit-dev debhelper dpkg-dev fakeroot lintian adduser
libmicrohttpd-dev curl"
PACKAGES="$PACKAGES clang libclang-rt-14-dev valgrind clang-format" # tests/hardening.sh, tests/fuzz.sh, tests/format.sh

missing=""
for p in $PACKAGES; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: run this script as root (e.g. sudo $0) to install them" >&2
    exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Keep the installation from starting the system Postfix/OpenDKIM/slapd.
policy=/usr/sbin/policy-rc.d
own_policy=0
cleanup() {
    if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary: do not start services while installing test dependencies\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    own_policy=1
fi
# Postfix asks how it should be configured: a local-only default, no questions; slapd is told
# not to create a system database (tests/ldap.sh runs its own slapd with its own configuration).
if command -v debconf-set-selections >/dev/null 2>&1; then
    printf '%s\n' \
        "postfix postfix/main_mailer_type select Local only" \
        "postfix postfix/mailname string localhost.localdomain" \
        "slapd slapd/no_configuration boolean true" |
        debconf-set-selections
fi
apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing
echo "deps: done"
