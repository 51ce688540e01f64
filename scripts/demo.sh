#!/usr/bin/env bash
# make demo: the pipeline over the bundled sample logs (examples/), first from
# files (tocsin replay), then end to end through a real local Kafka broker
# (tocsin run). Prints what was found. Invented data; see examples/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
TOCSIN=bin/tocsin
work=$(mktemp -d /tmp/tocsin-demo.XXXXXX)
kdir="$work/kafka"
cleanup() { tests/kafka/broker.sh stop "$kdir" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== 1. tocsin replay examples/ with the rule pack in etc/rules (files; auth.log is +07:00) =="
$TOCSIN replay --tenant so-tttt-demo --tz +07:00 --dead-letter "$work/dead-letters.jsonl" \
    --rules etc/rules --db "$work/replay-db" --escalate law116-2025 --assets etc/assets.example.yml \
    examples/auth.log examples/firewall-5424.log examples/sysmon.jsonl \
    > "$work/detections.jsonl" 2> "$work/replay.txt"
cat "$work/replay.txt"
echo
echo "detections (rule level, event time, title, where) and incidents (correlation rules):"
python3 - "$work/detections.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["kind"] == "detection":
        src = d["source"]
        where = f"{src.get('file')}:{src.get('line')}"
        print(f"  detection {d['level']:8s} {d['@timestamp']:26s} {d['rule_title']:46s} {where}")
    else:
        i = d["incident"]
        grp = ",".join(f"{k}={v}" for k, v in i["group"].items())
        print(f"  INCIDENT  {i['severity']:8s} {i['first_seen']} .. {i['last_seen']}  {i['rule_title']}"
              f" [{grp}] {i['count']} events, id {i['id']}")
PY
echo
echo "dead letters (raw kept, with the reason):"
python3 - "$work/dead-letters.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    raw = d.get("raw") or ("base64:" + d.get("raw_base64", ""))
    print(f"  {d['source']['file']}:{d['source']['line']}: {d['reason']}: {raw[:60]}...")
PY
echo
echo "the incident's initial report under Law 116/2025, as queued for escalation (tocsin report, Vietnamese):"
inc=$($TOCSIN incidents --db "$work/replay-db" list --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
$TOCSIN report --db "$work/replay-db" "$inc" --stage initial --format text --lang vi \
    --org etc/escalation/org.example.yml \
    --assets etc/assets.example.yml | sed -n '1,30p' | sed 's/^/  | /'
echo
echo "a normalised event (tocsin parse --explain): the sshd decoder and the linux_syslog profile"
$TOCSIN parse --tz +07:00 -q --explain examples/auth.log | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if "Accepted password" in e.get("message", ""):
        keep = {k: v for k, v in e.items() if k not in ("raw", "source", "tenant", "format")}
        print(json.dumps(keep, indent=2)); break'
echo
echo "== 2. the same logs through Kafka: tocsin run (2 workers, consumer group) =="
if ! command -v java >/dev/null || ! command -v kcat >/dev/null; then
    echo "demo: java or kcat missing; skipping the Kafka part"; exit 0
fi
boot=$(tests/kafka/broker.sh start "$kdir")
grep -v '^\s*$' examples/auth.log examples/firewall-5424.log | sed 's/^[^:]*://' \
    | kcat -P -b "$boot" -t logs.syslog -H tenant=so-tttt-demo
grep -av '^\s*$' examples/sysmon.jsonl | kcat -P -b "$boot" -t logs.agent
cat > "$work/tocsin.yml" <<YML
kafka:
  brokers: "$boot"
  group_id: tocsin-demo
  workers: 2
topics:
  - name: logs.syslog
    format: auto
    tenants: [so-tttt-demo]      # the agencies a "tenant" header may name here
  - name: logs.agent
    format: json
    tenant: so-tttt-demo
ingest:
  timezone: "+07:00"
paths:
  rules: [etc/rules]
  data_dir: $work/db
log:
  level: warning
YML
$TOCSIN run -c "$work/tocsin.yml" -o "$work/events.jsonl" -d "$work/run-detections.jsonl" \
    --stats-interval 0 2>/dev/null &
pid=$!
want=$(grep -avc '^\s*$' examples/auth.log examples/firewall-5424.log examples/sysmon.jsonl \
       | awk -F: '{s+=$2} END {print s - 2}')
for _ in $(seq 1 120); do
    n=$( (wc -l < "$work/events.jsonl") 2>/dev/null || echo 0)
    [ "$n" -ge "$want" ] && break
    sleep 0.5
done
kill -TERM $pid; wait $pid || true
python3 - "$work/events.jsonl" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    c[(e["source"]["topic"], e["format"], e["tenant"])] += 1
for (t, f, ten), n in sorted(c.items()):
    print(f"  {t:12s} {f:8s} tenant={ten:14s} {n} events")
PY
echo "  detections from the Kafka run: $(grep -c '"kind":"detection"' "$work/run-detections.jsonl")"
echo "  incidents kept in LMDB ($work/db), as tocsin incidents lists them:"
$TOCSIN incidents --db "$work/db" list --json | python3 -c "$(cat <<'PY'
import json, sys
for l in sys.stdin:
    i = json.loads(l)
    print(f"    {i['id'][:12]}  {i['status']:4s} {i['severity']:8s} {i['rule_title']} [{i['group_key']}] {i['count']} events")
PY
)"

dl=$(kcat -C -b "$boot" -t logs.agent.dlq -e -q -f '%h\n' 2>/dev/null | cut -c1-160 || true)
echo "  dead letters in logs.agent.dlq:"
printf '%s\n' "$dl" | sed 's/^/    /'
echo
echo "demo: done (the same incident id from files and from Kafka: ids are stable)"
