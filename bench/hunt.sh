#!/usr/bin/env bash
# bench/hunt.sh BOOTSTRAP EVENTS.jsonl RULES...: hunt throughput from Kafka
# (tocsin hunt over the events' hour, every rule given, with 1 and 2 matching
# threads) beside replay of the
# same events from a file, max RSS beside each figure. The events (Sysmon in
# Winlogbeat JSON, one per line, "@timestamp" first) are produced to a new
# topic of 4 partitions with Kafka timestamps = their event times. Called by
# bench/run.sh with the SigmaHQ Windows rules; figures, not assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
boot=$1 events=$2; shift 2
B=build/tools
tmp=$(mktemp -d /tmp/tocsin-bench-hunt.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
topic="bench-hunt.$$"
python3 - "$events" "$tmp/ts.txt" <<'PY'
import datetime, json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        ts = json.loads(line)["@timestamp"].replace("Z", "+00:00")
        ms = int(datetime.datetime.fromisoformat(ts).timestamp() * 1000)
        o.write(f"{ms}\t{line}")
PY
read -r from to n < <(python3 - "$tmp/ts.txt" <<'PY'
import sys, time
ms = [int(l.split("\t", 1)[0]) for l in open(sys.argv[1])]
f = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
print(f(min(ms) // 1000), f(max(ms) // 1000 + 1), len(ms))
PY
)
$B/ktool create "$boot" "$topic" 4 retention.ms=-1  # the events are dated in the past
$B/ktool produce-file "$boot" "$topic" "$tmp/ts.txt" 4 -T 2>/dev/null
printf 'kafka:\n  brokers: "%s"\n  batch_size: 1000\ntopics:\n  - name: %s\n    format: json\n' \
    "$boot" "$topic" > "$tmp/tocsin.yml"
ropts=(); for r in "$@"; do ropts+=(--rules "$r"); done
for t in 1 2; do
    /usr/bin/time -o "$tmp/h$t.time" -f '%e %M' bin/tocsin hunt -q -c "$tmp/tocsin.yml" \
        "${ropts[@]}" --threads $t --from "$from" --to "$to" -o "$tmp/h$t.out" \
        --progress none 2> "$tmp/hunt.err" || { echo "hunt failed:"; tail -3 "$tmp/hunt.err"; exit 1; }
done
/usr/bin/time -o "$tmp/r.time" -f '%e %M' bin/tocsin replay -q -f json "${ropts[@]}" \
    "$events" > "$tmp/replay.out" 2> /dev/null
python3 - "$tmp" "$n" "$*" <<'PY'
import json, sys
d, n, rules = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def t(name):
    e, m = open(f"{d}/{name}.time").read().split()[-2:]
    return float(e), int(m) / 1024
def det(name):
    return sum(1 for l in open(f"{d}/{name}.out") if l.startswith('{"kind":"detection"'))
print(f"hunt from Kafka ({n} events, 4 partitions, rules {rules}):")
for th in (1, 2):
    he, hm = t(f"h{th}")
    print(f"  hunt --threads {th}: {n/he:,.0f} events/s "
          f"({he:.2f} s, max RSS {hm:.0f} MiB, {det(f'h{th}')} detections)")
re_, rm = t("r")
print(f"  replay of the same events from a file: {n/re_:,.0f} events/s "
      f"({re_:.2f} s, max RSS {rm:.0f} MiB, {det('replay')} detections)")
PY
