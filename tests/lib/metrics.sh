# shellcheck shell=bash
# The milter's metrics endpoint, fetched with curl and checked exactly (for suites on tap.sh).
#
#   . "$TESTS/lib/metrics.sh"
#   METRICS_URL=http://127.0.0.1:$PORT/metrics
#   metrics_are DESC 'smime_milter_messages_total{outcome="signed"}=1' ...
#
# metrics_are DESC SERIES=VALUE... : one check. Every series of the counter families is 0 but
# those given, and every series given (a counter's or a gauge's) has exactly its value; the
# exposition is kept in $HARNESS_WORK/metrics.txt.
METRICS_COUNTERS="smime_milter_messages_total smime_milter_monitor_messages_total
smime_milter_recipients_refused_total smime_milter_monitor_recipients_refused_total
smime_milter_ldap_lookups_total smime_milter_harvests_total smime_milter_reloads_total
smime_milter_restarts_total smime_milter_body_bytes_in_total smime_milter_body_bytes_out_total
smime_milter_processing_seconds_count smime_milter_connections_refused_total"

metrics_are() {
    local desc=$1 out
    shift
    if ! curl -sf "$METRICS_URL" >"$HARNESS_WORK/metrics.txt"; then
        notok "$desc" "curl $METRICS_URL failed"
        return 0
    fi
    out=$("$PYTHON3" - "$HARNESS_WORK/metrics.txt" "$METRICS_COUNTERS" "$@" <<'PY'
import re, sys
text = open(sys.argv[1]).read().splitlines()
counters = sys.argv[2].split()
want = dict(a.rsplit("=", 1) for a in sys.argv[3:])
seen, bad = set(), []
for line in text:
    if line.startswith("#") or not line:
        continue
    series, value = line.rsplit(" ", 1)
    name = re.sub(r"\{.*", "", series)
    if series in want:
        seen.add(series)
        if value != want[series]:
            bad.append("%s is %s, want %s" % (series, value, want[series]))
    elif name in counters and value != "0":
        bad.append("%s is %s, want 0" % (series, value))
for s in want:
    if s not in seen:
        bad.append("%s is not in the exposition" % s)
print("\n".join(bad))
PY
)
    if [ -z "$out" ]; then ok "$desc"; else notok "$desc" "$out"; fi
}

# metric_value SERIES : the value of one series now ("" when it is not there)
metric_value() {
    curl -sf "$METRICS_URL" | awk -v s="$1" '$1 == s { print $2 }'
}
