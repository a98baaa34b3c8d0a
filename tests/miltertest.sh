#!/bin/bash
# Drive the real smime-milter daemon over the milter protocol with miltertest
# (Debian package "miltertest") and the Lua scripts in tests/miltertest/.
#
# Usage: tests/miltertest.sh [NAME...]      NAME: a script, e.g. rewrite or rewrite.lua
#                                           (default: every script)
# Environment:
#   SMIME_MILTER   the daemon to test (default: milter/smime-milter of this tree; nothing is built)
#   MT_VERBOSE     set: run miltertest -v and show every script's output
#   MT_NO_PROXY=1  connect miltertest straight to the daemon (see "relay" below)
#   MT_DAEMON_WRAPPER  command to run the daemon under, e.g. "valgrind -q --error-exitcode=99"
#
# Daemons (each on a unix socket in a temporary directory, stopped on exit):
#   MAIN     test PKI: certificates for alice, bob, carol (none for dave); alice's key, mode 0600
#   BADMODE  the same, but alice's key file is made mode 0644 after the start (must be refused)
#   NOKEY    an empty key directory
#   VMTA, VMTAREJECT, VMTAPASS, POLICY, SIGNED  policy configurations (<virtual-mta>, <domain>, <sender> blocks) for
#            the policy-*.lua scripts; see "policy daemons" below
#   LIMITS, OVERSIZE  small limits for the limits-*.lua scripts; see "limits daemons" below
#
# Relay: Debian 12's miltertest (2.11.0~beta2) reads each milter reply into a
# 1024-byte stack buffer without checking its length (OpenDKIM issue #66, fixed
# upstream by PR #340), so a body replacement sent in one chunk of more than
# 1 KiB -- what libmilter does with smfi_replacebody -- crashes it ("stack
# smashing detected").  A small relay between miltertest and each daemon cuts
# SMFIR_REPLBODY replies into 1000-byte pieces (the MTA appends successive
# pieces, so the message is the same) and writes every reply of the daemon to a
# transcript, which the scripts also use to check SMTP reply texts that this
# miltertest discards before end of message.  The relay also appends the bytes
# of every replaced body to TRANSCRIPT.body, so that scripts can decrypt and
# verify what the daemon produced (miltertest cannot hand a new body back).
#
# Output: "ok N - NAME" / "not ok N - NAME" per script, then "N passed, M failed".
# Exit status: 0 if all passed, 1 if any failed or a needed tool is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/tap.sh
. "$here/lib/tap.sh"
milter=$MILTER_BIN
scripts=$here/miltertest
harness_need miltertest perl openssl timeout
harness_built "$milter"

wrapper=()
if [ -n "${MT_DAEMON_WRAPPER:-}" ]; then
    read -r -a wrapper <<<"$MT_DAEMON_WRAPPER"
fi
mtopts=()
if [ -n "${MT_VERBOSE:-}" ]; then
    mtopts+=(-v)
fi

harness_workdir smime-mt
tmp=$W
pids=()
stop_all() {
    local pid
    for pid in ${pids[@]+"${pids[@]}"}; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in ${pids[@]+"${pids[@]}"}; do
        wait "$pid" 2>/dev/null || true
    done
}
harness_on_exit stop_all

# ---- the relay (see the header) ----
cat >"$tmp/relay.pl" <<'PERL'
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;

# relay.pl LISTEN UPSTREAM TRANSCRIPT: one forked relay per connection.
my ($listen, $upstream, $transcript) = @ARGV;
my $piece = 1000;
my %kids;
$SIG{CHLD} = sub { while ((my $p = waitpid(-1, 1)) > 0) { delete $kids{$p}; } };
$SIG{TERM} = sub { kill 'TERM', keys %kids; unlink $listen; exit 0; };
unlink $listen;
my $srv = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $listen, Listen => 16)
    or die "relay: listen on $listen: $!\n";

sub put {
    my ($fh, $data) = @_;
    while (length $data) {
        my $n = syswrite($fh, $data);
        return 0 unless defined $n && $n > 0;
        substr($data, 0, $n) = '';
    }
    return 1;
}

sub packet { my ($cmd, $data) = @_; return pack('N', 1 + length $data) . $cmd . $data; }

sub note {
    my ($cmd, $data) = @_;
    my $text = $cmd eq 'b' ? length($data) . ' bytes' : $data;
    $text =~ s/\0/|/g;
    $text =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    open(my $fh, '>>', $transcript) or return;
    print $fh "$cmd $text\n";
    close $fh;
    if ($cmd eq 'b' && open(my $bf, '>>', "$transcript.body")) {
        binmode $bf;
        print $bf $data;
        close $bf;
    }
}

sub relay {
    my ($mta) = @_;
    my $milter = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $upstream)
        or die "relay: connect to $upstream: $!\n";
    my $sel = IO::Select->new($mta, $milter);
    my $pending = '';
    for (;;) {
        for my $fh ($sel->can_read) {
            my $n = sysread($fh, my $data, 65536);
            return unless $n;
            if ($fh == $mta) {
                put($milter, $data) or return;
                next;
            }
            $pending .= $data;
            while (length($pending) >= 4) {
                my $len = unpack('N', $pending);
                last if length($pending) < 4 + $len;
                my $cmd = substr($pending, 4, 1);
                my $body = substr($pending, 5, $len - 1);
                substr($pending, 0, 4 + $len) = '';
                note($cmd, $body);
                if ($cmd eq 'b') {
                    for (my $o = 0; $o < length $body; $o += $piece) {
                        put($mta, packet('b', substr($body, $o, $piece))) or return;
                    }
                } else {
                    put($mta, packet($cmd, $body)) or return;
                }
            }
        }
    }
}

for (;;) {
    my $mta = $srv->accept or next;
    my $pid = fork;
    if (!defined $pid) {
        close $mta;
        next;
    }
    if ($pid == 0) {
        $SIG{TERM} = 'DEFAULT';
        close $srv;
        relay($mta);
        exit 0;
    }
    $kids{$pid} = 1;
    close $mta;
}
PERL

daemons=()
start_daemon() { # NAME KEYDIR
    local name=$1 keydir=$2
    start_daemon_conf "$name" <<EOF
cert-dir        $tmp/pki/certs
key-dir         $keydir
internal-hosts  127.0.0.0/8 ::1
sign            yes
encrypt         yes
on-error        tempfail
max-headers     2000
EOF
}

# start_daemon_conf NAME < CONFIG : a daemon with the configuration on stdin (its socket line
# is added here); if it does not start, the suite ends (setup_failed)
start_daemon_conf() {
    local name=$1 dir=$tmp/$1 pid
    mkdir -p "$dir"
    {
        echo "socket          unix:$dir/milter.sock"
        cat
    } >"$dir/smime-milter.conf"
    if ! "$milter" -n -c "$dir/smime-milter.conf" >"$dir/check.log" 2>&1; then
        setup_failed "smime-milter -n accepts the configuration of $name" "$(cat "$dir/check.log")"
    fi
    "${wrapper[@]}" "$milter" -f -c "$dir/smime-milter.conf" >"$dir/daemon.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    echo "$pid" >"$dir/daemon.pid"
    wait_for_file "$dir/milter.sock" 10 "$pid" ||
        setup_failed "smime-milter ($name) listens on $dir/milter.sock" "$(cat "$dir/daemon.log")"
    : >"$dir/transcript"
    if [ "${MT_NO_PROXY:-0}" = 1 ]; then
        export "MT_${name}_SOCKET=unix:$dir/milter.sock" "MT_${name}_TRANSCRIPT="
    else
        perl "$tmp/relay.pl" "$dir/relay.sock" "$dir/milter.sock" "$dir/transcript" \
            2>"$dir/relay.log" &
        pid=$!
        pids+=("$pid")
        wait_for_file "$dir/relay.sock" 10 "$pid" ||
            setup_failed "relay ($name) listens on $dir/relay.sock" "$(cat "$dir/relay.log")"
        export "MT_${name}_SOCKET=unix:$dir/relay.sock" "MT_${name}_TRANSCRIPT=$dir/transcript"
    fi
    export "MT_${name}_LOG=$dir/daemon.log"
    daemons+=("$name")
}

# ---- test PKI and daemons ----
GEN_CERTS_EXTRA="erin@bank.example gw@gateway.example" "$here/gen-certs.sh" "$tmp/pki" >"$tmp/gen-certs.log" 2>&1 ||
    setup_failed "test PKI (gen-certs.sh)" "$(cat "$tmp/gen-certs.log")"
alice=alice@example.com

mkdir -p "$tmp/keys-badmode" "$tmp/keys-none"
chmod 0700 "$tmp/keys-badmode" "$tmp/keys-none"
cp "$tmp/pki/keys/$alice.pem" "$tmp/keys-badmode/"
chmod 0600 "$tmp/keys-badmode/$alice.pem"
export MT_BADMODE_KEYFILE="$tmp/keys-badmode/$alice.pem"

start_daemon MAIN "$tmp/pki/keys"
# -n and the start refuse a key readable by others: it becomes so once the daemon runs
start_daemon BADMODE "$tmp/keys-badmode"
chmod 0644 "$tmp/keys-badmode/$alice.pem"
start_daemon NOKEY "$tmp/keys-none"

# ---- policy daemons (policy-*.lua) ----
# A cert-dir with more recipient domains: erin@bank.example has her own certificate; nobody at nocert.example,
# reject.example, tempfail.example, plain.example, signonly.example or later.example has one.
# A <sender> signing key outside key-dir: a copy of alice's identity, for ops@example.com (a role
# key: signer-address-check no).
mkdir -p "$tmp/pcerts" "$tmp/skeys"
chmod 0700 "$tmp/skeys"
cp "$tmp/pki/certs/"*.crt "$tmp/pcerts/"
rm -f "$tmp/pki/certs/erin@bank.example.crt" # the MAIN daemon's cert-dir stays as it was
# gateway.example is reached through its gateway's certificate only (domain-cert)
mv "$tmp/pki/certs/gw@gateway.example.crt" "$tmp/gateway.crt"
rm -f "$tmp/pcerts/gw@gateway.example.crt"
cp "$tmp/pki/keys/$alice.pem" "$tmp/skeys/ops-signing.pem"
chmod 0600 "$tmp/skeys/ops-signing.pem"
# and for desk@example.com a key file holding the key only, with signing-cert for the rest
cp "$tmp/pki/private/$alice.key" "$tmp/skeys/desk.key"
chmod 0600 "$tmp/skeys/desk.key"
cat "$tmp/pki/private/$alice.crt" "$tmp/pki/ca/inter.crt" >"$tmp/skeys/desk-chain.pem"
export MT_PKI="$tmp/pki"

# VMTA: globally encrypt without signing; two virtual MTAs chosen by X-Virtual-MTA.
start_daemon_conf VMTA <<EOF
cert-dir        $tmp/pcerts
key-dir         $tmp/pki/keys
sign            no
encrypt         yes
<virtual-mta sign-only-out>
    sign        yes
    encrypt     no
</virtual-mta>
<virtual-mta secure-out>
    sign        yes
    encrypt     yes
</virtual-mta>
EOF

# VMTAREJECT: the VMTA daemon's policy, but a virtual MTA no block defines is refused (550).
start_daemon_conf VMTAREJECT <<EOF
cert-dir            $tmp/pcerts
key-dir             $tmp/pki/keys
unknown-virtual-mta reject
sign                no
encrypt             yes
<virtual-mta secure-out>
    sign            yes
</virtual-mta>
EOF

# VMTAPASS: globally nothing, partner.example encrypted; an unknown virtual MTA gets that policy.
start_daemon_conf VMTAPASS <<EOF
cert-dir            $tmp/pcerts
key-dir             $tmp/pki/keys
unknown-virtual-mta pass
sign                no
encrypt             no
<domain partner.example>
    encrypt         yes
</domain>
<virtual-mta secure-out>
    sign            yes
    encrypt         yes
</virtual-mta>
EOF

# POLICY: globally nothing; per-domain missing-cert actions, virtual MTAs from the
# {daemon_name} macro or the header, <sender> blocks.
start_daemon_conf POLICY <<EOF
cert-dir            $tmp/pcerts
key-dir             $tmp/pki/keys
virtual-mta-header  X-Virtual-MTA
virtual-mta-macro   {daemon_name}
sign                no
encrypt             no
<domain bank.example>
    encrypt         yes
    missing-cert    reject
</domain>
<domain reject.example>
    encrypt         yes
    missing-cert    reject
</domain>
<domain tempfail.example>
    encrypt         yes
    missing-cert    tempfail
</domain>
<domain plain.example>
    encrypt         yes
    missing-cert    plain
</domain>
<domain signonly.example>
    encrypt         yes
    missing-cert    sign-only
</domain>
<domain gateway.example>
    encrypt         yes
    domain-cert     $tmp/gateway.crt
</domain>
<virtual-mta sign-only-out>
    sign            yes
    encrypt         no
</virtual-mta>
<virtual-mta secure-out>
    sign            yes
    encrypt         yes
    <domain later.example>
        missing-cert tempfail
    </domain>
</virtual-mta>
<sender ops@example.com>
    sign            yes
    signing-key     $tmp/skeys/ops-signing.pem
    signer-address-check no
</sender>
<sender desk@example.com>
    sign            yes
    signing-key     $tmp/skeys/desk.key
    signing-cert    $tmp/skeys/desk-chain.pem
    signer-address-check no
</sender>
<sender nokey.example>
    sign            yes
    missing-key     unsigned
</sender>
<sender strict.example>
    sign            yes
    missing-key     reject
</sender>
EOF

# SIGNED: globally sign, do not encrypt; plain.example wants encryption but takes plain mail.
start_daemon_conf SIGNED <<EOF
cert-dir        $tmp/pcerts
key-dir         $tmp/pki/keys
sign            yes
encrypt         no
<domain plain.example>
    encrypt         yes
    missing-cert    plain
</domain>
EOF

# ---- limits daemons (limits-*.lua) ----
# LIMITS: signs everything, encrypts for partner.example; every limit small; a message too
# large passes unsigned when it is only signed (on-oversize pass-sign-only).
start_daemon_conf LIMITS <<EOF
cert-dir         $tmp/pcerts
key-dir          $tmp/pki/keys
sign             yes
<domain partner.example>
    encrypt      yes
</domain>
max-recipients   2
max-headers      20
max-header-line  1k
max-mime-depth   3
max-mime-parts   5
max-message-size 64k
on-oversize      pass-sign-only
max-connections  2
EOF
# OVERSIZE: the same size, deferred
start_daemon_conf OVERSIZE <<EOF
cert-dir         $tmp/pcerts
key-dir          $tmp/pki/keys
sign             yes
max-message-size 64k
on-oversize      tempfail
EOF
export MT_DIR="$scripts"

# ---- the scripts ----
list=()
if [ $# -gt 0 ]; then
    for arg in "$@"; do
        list+=("$scripts/${arg%.lua}.lua")
    done
else
    for f in "$scripts"/*.lua; do
        [ "$(basename "$f")" = common.lua ] || list+=("$f")
    done
fi

for script in "${list[@]}"; do
    name=$(basename "$script" .lua)
    out=$tmp/$name.out
    declare -A logstart=()
    for d in "${daemons[@]}"; do
        : >"$tmp/$d/transcript"
        rm -f "$tmp/$d/transcript.body"
        logstart[$d]=$(wc -l <"$tmp/$d/daemon.log")
    done
    rc=0
    if [ ! -f "$script" ]; then
        echo "no such script: $script" >"$out"
        rc=1
    else
        timeout 120 miltertest "${mtopts[@]}" -s "$script" >"$out" 2>&1 || rc=$?
    fi
    dead=()
    for d in "${daemons[@]}"; do
        kill -0 "$(cat "$tmp/$d/daemon.pid")" 2>/dev/null || dead+=("$d")
    done
    if [ "$rc" -eq 0 ] && [ ${#dead[@]} -eq 0 ]; then
        ok "$name"
        if [ -n "${MT_VERBOSE:-}" ]; then
            sed 's/^/#   /' "$out"
        fi
    else
        notok "$name"
        echo "# miltertest exit status $rc${dead[*]:+; daemon(s) no longer running: ${dead[*]}}"
        echo "# miltertest output:"
        sed 's/^/#   /' "$out"
        for d in "${daemons[@]}"; do
            echo "# $d daemon log (this script):"
            tail -n +"$((logstart[$d] + 1))" "$tmp/$d/daemon.log" | sed 's/^/#   /'
            if [ -s "$tmp/$d/transcript" ]; then
                echo "# $d replies (this script):"
                sed 's/^/#   /' "$tmp/$d/transcript"
            fi
        done
    fi
    unset logstart
done

# ---- stop the daemons: each must exit 0 on SIGTERM (with MT_DAEMON_WRAPPER
# set to a checker such as valgrind, its verdict counts too).  libmilter
# notices the stop only when its listener's poll times out: up to ~5 s. ----
bad=()
for d in "${daemons[@]}"; do
    kill -TERM "$(cat "$tmp/$d/daemon.pid")" 2>/dev/null || true
done
for d in "${daemons[@]}"; do
    pid=$(cat "$tmp/$d/daemon.pid")
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    [ "$rc" -eq 0 ] || bad+=("$d (exit status $rc)")
done
if [ ${#bad[@]} -eq 0 ]; then
    ok "daemons stop cleanly"
else
    notok "daemons stop cleanly"
    echo "# ${bad[*]}"
    for d in "${daemons[@]}"; do
        echo "# $d daemon log (whole run):"
        sed 's/^/#   /' "$tmp/$d/daemon.log"
    done
fi
finish
