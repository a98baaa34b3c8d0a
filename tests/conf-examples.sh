#!/usr/bin/env bash
# conf-examples.sh - every configuration in conf-examples/ passes
# "smime-milter -n" once its paths point at a private test tree, so the
# examples in the documentation never rot.  Prints ok/not ok per file and
# "N passed, M failed".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
milter=${SMIME_MILTER:-$top/milter/smime-milter}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smime-examples.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/certs" "$tmp/keys" "$tmp/run" "$tmp/harvest"
chmod 700 "$tmp/keys"
printf '# generation nodes\n10.1.0.0/16\n10.2.0.10 10.2.0.11  # two more\n' >"$tmp/nodes.txt"
# the examples' CA, and signing identities it issued (-n checks every signing identity)
openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj "/CN=examples CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
for addr in statements@example-bank.com steve@thetucks.com; do
	(umask 077 && openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$addr" \
		-keyout "$tmp/keys/$addr.pem" -out "$tmp/$addr.csr" 2>/dev/null)
	printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s\n' \
		"$addr" >"$tmp/$addr.ext"
	openssl x509 -req -in "$tmp/$addr.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -set_serial "$RANDOM" \
		-days 365 -extfile "$tmp/$addr.ext" 2>/dev/null >>"$tmp/keys/$addr.pem"
done
(umask 077 && echo secret >"$tmp/ldap.secret")

passed=0 failed=0 n=0
for f in "$top"/conf-examples/*.conf; do
	case $(basename "$f") in opendkim*) continue ;; esac # OpenDKIM's, not ours
	n=$((n + 1))
	sed -e "s|/etc/smime-milter/certs|$tmp/certs|g" \
	    -e "s|/etc/smime-milter/keys|$tmp/keys|g" \
	    -e "s|/etc/smime-milter/generation-nodes.txt|$tmp/nodes.txt|g" \
	    -e "s|/etc/smime-milter/ca.pem|$tmp/ca.pem|g" \
	    -e "s|/etc/smime-milter/ldap.secret|$tmp/ldap.secret|g" \
	    -e "s|/var/lib/smime-milter/harvest|$tmp/harvest|g" \
	    -e "s|/run/smime-milter|$tmp/run|g" \
	    -e "s|/var/spool/postfix/smime-milter|$tmp/run|g" \
	    -e "s|^socket-group .*|socket-group root|" \
	    -e "s|^user .*|user root|" "$f" >"$tmp/test.conf"
	if out=$("$milter" -n -c "$tmp/test.conf" 2>&1) && [ "$out" = "$tmp/test.conf: OK" ]; then
		passed=$((passed + 1))
		echo "ok $n - conf-examples/$(basename "$f") is valid"
	else
		failed=$((failed + 1))
		echo "not ok $n - conf-examples/$(basename "$f") is valid"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
