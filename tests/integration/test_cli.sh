#!/usr/bin/env bash
# CLI behaviour of bin/tocsin on files and stdin: parse output, warnings on
# stderr, dead-letter file, .gz input, over-long lines, config errors.
set -u
T=${TOCSIN:-bin/tocsin}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; n=0
ok() { n=$((n + 1)); echo "  ok   $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "  FAIL $1"; }
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# parse: a bad timestamp is reported on stderr with file:line and the event still flows
printf 'Jun 14 15:16:01 combo sshd[1]: ok one\nJun 99 25:61:00 combo sshd[2]: bad time\nJun 14 15:16:03 combo sshd[3]: ok three\n' > "$tmp/a.log"
$T parse --year-ref 2026-07-01T00:00:00Z "$tmp/a.log" > "$tmp/out.jsonl" 2> "$tmp/err.txt"; rc=$?
expect "parse exits 0 with a bad timestamp" "[ $rc -eq 0 ]"
expect "parse prints every event" "[ \$(wc -l < '$tmp/out.jsonl') -eq 3 ]"
expect "bad timestamp explained on stderr with file:line" "grep -q '$tmp/a.log:2: warning: unparsable timestamp' '$tmp/err.txt'"
expect "good event has RFC 3339 time and fields" "head -1 '$tmp/out.jsonl' | python3 -c 'import json,sys; e=json.load(sys.stdin); assert e[\"@timestamp\"]==\"2026-06-14T15:16:01Z\" and e[\"host\"]==\"combo\" and e[\"program\"]==\"sshd\" and e[\"pid\"]==1 and e[\"message\"]==\"ok one\" and e[\"source\"]=={\"file\":\"$tmp/a.log\",\"line\":1} and \"raw\" in e and e[\"tenant\"]==\"\"'"
expect "bad-time event falls back to ingest time" "sed -n 2p '$tmp/out.jsonl' | grep -q '\"@time_source\":\"ingest\"'"

# a Sigma regex that backtracks catastrophically on a crafted line is cut
# short by the PCRE2 limits, treated as not matching and counted (issue 17)
mkdir -p "$tmp/rerule"
printf '%s\n' 'title: catastrophic' 'id: e5e5e5e5-0000-4000-8000-000000000005' 'logsource:' \
    '    product: linux' 'detection:' '    sel:' "        message|re: '(a+)+\$'" \
    '    condition: sel' 'level: low' > "$tmp/rerule/r.yml"
python3 -c 'print("<13>Jan  1 00:00:00 h sshd[1]: " + "a" * 3000 + "b")' > "$tmp/re.log"
$T replay -r "$tmp/rerule" "$tmp/re.log" > /dev/null 2> "$tmp/re.err"; rc=$?
expect "a regex cut short by the PCRE2 limits is counted in replay's summary" "[ $rc -eq 0 ] && grep -q 'Sigma regex searches cut short by the PCRE2 limits: 1 ' '$tmp/re.err'"

# stdin, --tenant, --format json, dead letters to a file with reasons, raw_base64 for non-UTF-8
printf '{"a":1}\n{"a":\n\n{"b":"caf\xe9"}\n' | $T parse --format json --tenant ag-1 -d "$tmp/dlq.jsonl" - > "$tmp/o2.jsonl" 2> "$tmp/e2.txt"
expect "stdin: one good JSON event with the tenant" "[ \$(wc -l < '$tmp/o2.jsonl') -eq 1 ] && grep -q '\"tenant\":\"ag-1\"' '$tmp/o2.jsonl' && grep -q '\"file\":\"-\"' '$tmp/o2.jsonl'"
expect "two dead letters written" "[ \$(wc -l < '$tmp/dlq.jsonl') -eq 2 ]"
expect "dead letter keeps reason, line and raw" "python3 -c 'import json; d=[json.loads(l) for l in open(\"$tmp/dlq.jsonl\")]; assert d[0][\"reason\"].startswith(\"invalid JSON\") and d[0][\"source\"][\"line\"]==2 and d[0][\"raw\"]==\"{\\\"a\\\":\"; assert \"UTF-8\" in d[1][\"reason\"] and d[1][\"source\"][\"line\"]==4 and \"raw_base64\" in d[1]'"
expect "rejects reported on stderr" "grep -q -- '-:2: rejected: invalid JSON' '$tmp/e2.txt'"

# numbers out of a double's range are written as named strings, not null
printf '{"big":1e999,"small":-1e999,"ok":1.5}\n' | $T parse -q -f json --no-normalise - > "$tmp/inf.jsonl" 2>&1
expect "parse: an out-of-range float prints as \"Infinity\" / \"-Infinity\", not null" "python3 -c 'import json; e=json.load(open(\"$tmp/inf.jsonl\")); assert e[\"big\"]==\"Infinity\" and e[\"small\"]==\"-Infinity\" and e[\"ok\"]==1.5, e'"

# .gz input read transparently; over-long line is a dead letter, the next line still parsed
python3 -c "print('<13>Jan  1 00:00:00 h p: ' + 'x'*5000); print('<13>Jan  1 00:00:01 h p: short')" > "$tmp/long.log"
gzip -k "$tmp/long.log"
$T replay --max-message-bytes 1000 -d "$tmp/dlq2.jsonl" "$tmp/long.log.gz" > "$tmp/r.txt" 2>&1
expect "replay .gz: 2 messages, 1 event, 1 dead letter" "grep -q '2 messages: 1 events (0 with warnings), 1 dead letters' '$tmp/r.txt'"
expect "over-long line dead-lettered with its reason" "grep -q 'longer than the limit of 1000 bytes' '$tmp/dlq2.jsonl'"

# a message within --max-message-bytes whose JSON is too large (6 MiB of control
# bytes, escaped 6x) is a dead letter with its reason; the lines after it still come out
python3 -c "
import sys
sys.stdout.buffer.write(b'<13>Jan  1 00:00:00 h p: first\\n<13>Jan  1 00:00:01 h p: ' + b'\\x01' * (6 << 20) + b'\\n<13>Jan  1 00:00:02 h p: last\\n')" > "$tmp/ctl.log"
$T parse -q --max-message-bytes 8388608 -d "$tmp/ctl.dlq" "$tmp/ctl.log" > "$tmp/ctl.out" 2> "$tmp/ctl.err"; rc=$?
expect "parse: an event whose JSON is over the limit is a dead letter, the run goes on (exit 0)" "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/ctl.out') -eq 2 ] && grep -q '\"message\":\"first\"' '$tmp/ctl.out' && grep -q '\"message\":\"last\"' '$tmp/ctl.out'"
expect "the dead letter names the reason, the line and keeps the raw message" "python3 -c 'import json; d=[json.loads(l) for l in open(\"$tmp/ctl.dlq\")]; assert len(d)==1 and d[0][\"reason\"].startswith(\"event JSON over \") and d[0][\"source\"][\"line\"]==2 and len(d[0][\"raw\"])==25+(6<<20), [x[\"reason\"] for x in d]'"
$T parse --max-message-bytes 8388608 "$tmp/ctl.log" 2> "$tmp/ctl2.err" > /dev/null; rc=$?
expect "parse without -d reports the reject on stderr with file:line" "[ $rc -eq 0 ] && grep -q '$tmp/ctl.log:2: rejected: event JSON over' '$tmp/ctl2.err'"
$T replay --max-message-bytes 8388608 -d "$tmp/ctl2.dlq" -o "$tmp/ctl.events" "$tmp/ctl.log" > "$tmp/ctl.rep" 2>&1; rc=$?
expect "replay -o: the too-large event is a dead letter, the others are written, exit 0" "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/ctl.events') -eq 2 ] && [ \$(wc -l < '$tmp/ctl2.dlq') -eq 1 ] && grep -q 'event JSON over' '$tmp/ctl2.dlq' && grep -q '3 messages: 3 events (0 with warnings), 0 dead letters' '$tmp/ctl.rep' && grep -q 'events-out: 1 event over' '$tmp/ctl.rep'"
# dead letters of any size are written: raw text past 8 MiB is cut and its length kept
# (12 MiB of control bytes: event JSON over the limit; a 13 MiB line over a 12 MiB limit)
python3 -c "
import sys
sys.stdout.buffer.write(b'<13>Jan  1 00:00:00 h p: ' + b'\\x02' * (12 << 20) + b'\\n<13>Jan  1 00:00:02 h p: after\\n' + b'x' * (13 << 20) + b'\\n<13>Jan  1 00:00:03 h p: end\\n')" > "$tmp/huge.log"
$T parse -q --max-message-bytes 16777216 --no-normalise -d "$tmp/huge.dlq" "$tmp/huge.log" > "$tmp/huge.out" 2>&1; rc=$?
$T parse -q --max-message-bytes 12582912 --no-normalise -d "$tmp/huge2.dlq" "$tmp/huge.log" > "$tmp/huge2.out" 2>&1; rc2=$?
expect "a dead letter over 8 MiB keeps 8 MiB of raw, marked, with the original length" "[ $rc -eq 0 ] && grep -q after '$tmp/huge.out' && grep -q end '$tmp/huge.out' && python3 -c 'import json; d=[json.loads(l) for l in open(\"$tmp/huge.dlq\")]; assert len(d)==1 and d[0][\"reason\"].startswith(\"event JSON over\") and d[0][\"raw_truncated\"] is True and d[0][\"raw_bytes\"]==25+(12<<20) and len(d[0][\"raw\"])==8<<20, d[0][\"reason\"]'"
expect "an over-long line's dead letter is cut the same way and the run goes on" "[ $rc2 -eq 0 ] && grep -q end '$tmp/huge2.out' && python3 -c 'import json; d=[json.loads(l) for l in open(\"$tmp/huge2.dlq\")]; assert len(d)==2 and \"longer than the limit\" in d[1][\"reason\"] and d[1][\"raw_bytes\"]==12<<20 and len(d[1][\"raw\"])==8<<20, [x[\"reason\"] for x in d]'"

# dead-letter and events-out files hold raw logs: created 0600 whatever the umask
(umask 022; $T replay -q -d "$tmp/priv.dlq" -o "$tmp/priv.events" "$tmp/long.log" > /dev/null 2>&1)
expect "a new dead-letter file is created 0600" "[ \"\$(stat -c %a '$tmp/priv.dlq')\" = 600 ]"
expect "a new events-out file is created 0600" "[ \"\$(stat -c %a '$tmp/priv.events')\" = 600 ] && [ -s '$tmp/priv.events' ]"
(umask 000; $T parse -q --max-message-bytes 1000 -d "$tmp/priv2.dlq" "$tmp/long.log" > /dev/null 2>&1)
expect "parse's dead-letter file is 0600 even with umask 000" "[ \"\$(stat -c %a '$tmp/priv2.dlq')\" = 600 ] && [ -s '$tmp/priv2.dlq' ]"
touch "$tmp/shared.dlq"; chmod 640 "$tmp/shared.dlq"
$T parse -q --max-message-bytes 1000 -d "$tmp/shared.dlq" "$tmp/long.log" > /dev/null 2>&1
expect "an existing dead-letter file keeps its mode and is appended to" "[ \"\$(stat -c %a '$tmp/shared.dlq')\" = 640 ] && [ -s '$tmp/shared.dlq' ]"

# config errors name file:line:col
printf 'kafka:\n  brokers: "127.0.0.1:9"\n  bathc_size: 10\n' > "$tmp/bad.yml"
$T run -c "$tmp/bad.yml" 2> "$tmp/e3.txt"; rc=$?
expect "run with a bad config exits 2" "[ $rc -eq 2 ]"
expect "config error names file:line:col and suggests" "grep -q '$tmp/bad.yml:3:3: error: unknown key \"bathc_size\"' '$tmp/e3.txt' && grep -q 'batch_size' '$tmp/e3.txt'"
$T parse --format xml "$tmp/a.log" 2> "$tmp/e4.txt"; rc=$?
expect "unknown --format is a usage error" "[ $rc -eq 2 ] && grep -q 'unknown format' '$tmp/e4.txt'"
$T parse /nonexistent/file 2> "$tmp/e5.txt"; rc=$?
expect "missing file: exit 1 and the reason" "[ $rc -eq 1 ] && grep -q '/nonexistent/file: error: cannot open' '$tmp/e5.txt'"

# replay with rules: one JSON detection per match, carrying the rule's author and the source
$T replay -q --tz +07:00 -r etc/rules examples/auth.log examples/sysmon.jsonl > "$tmp/det.jsonl" 2> "$tmp/det.err"; rc=$?
expect "replay --rules exits 0" "[ $rc -eq 0 ]"
expect "replay --rules: the six expected detections" "python3 -c '
import json
d = [json.loads(l) for l in open(\"$tmp/det.jsonl\")]
d = [x for x in d if x[\"kind\"] == \"detection\"]
got = sorted((x[\"rule_title\"], x[\"source\"][\"file\"].split(\"/\")[-1], x[\"source\"][\"line\"]) for x in d)
want = sorted([(\"SSH Password Login As Root\", \"auth.log\", 41), (\"Local User Account Created\", \"auth.log\", 48),
  (\"Office Application Starts Encoded PowerShell\", \"sysmon.jsonl\", 12),
  (\"Shadow Copies Or Backup Catalog Deleted\", \"sysmon.jsonl\", 15), (\"Shadow Copies Or Backup Catalog Deleted\", \"sysmon.jsonl\", 16),
  (\"Windows Recovery Disabled With Bcdedit\", \"sysmon.jsonl\", 17)])
assert got == want, got
assert all(x[\"author\"] == \"Tocsin team\" and x[\"rule_id\"] and x[\"level\"] and x[\"match\"][\"matched\"] for x in d)
'"
expect "replay --rules summary on stderr" "grep -q 'detections: 6, incidents: 2' '$tmp/det.err'"
# issue 10: the root login that followed the brute force from the same
# address joins its incident (critical); the high/critical detections on
# ketoan-pc07 form one detection incident linked by user and host
expect "replay --rules: the brute force and the root login are one critical incident; the Windows chain another" "python3 -c '
import json
inc = sorted((json.loads(l)[\"incident\"] for l in open(\"$tmp/det.jsonl\") if json.loads(l)[\"kind\"] == \"incident\"), key=lambda i: i[\"rule_title\"])
assert len(inc) == 2, inc
o, b = inc
assert o[\"rule_title\"] == \"Office Application Starts Encoded PowerShell\" and o[\"severity\"] == \"critical\" and o[\"type\"] == \"detection\" and o[\"linked\"] == 3, o
assert b[\"rule_title\"] == \"SSH Brute Force From One Address\" and b[\"group\"] == {\"src_ip\": \"203.0.113.45\"} and b[\"count\"] == 13 and b[\"linked\"] == 1 and b[\"severity\"] == \"critical\", b
'"
# replay --db keeps the incident in LMDB; tocsin incidents lists it
$T replay -q --tz +07:00 -r etc/rules --db "$tmp/db" examples/auth.log > /dev/null 2>&1
$T incidents --db "$tmp/db" list --json > "$tmp/inc.jsonl" 2> "$tmp/inc.err"; rc=$?
expect "incidents list shows the stored brute-force incident" "[ $rc -eq 0 ] && python3 -c '
import json
l = [json.loads(x) for x in open(\"$tmp/inc.jsonl\")]
assert len(l) == 1 and l[0][\"count\"] == 13 and \"203.0.113.45\" in l[0][\"group_key\"] and l[0][\"status\"] == \"new\" and l[0][\"level\"] == \"critical\", l
'"
# a rule with a typo is reported with file:line:col
mkdir -p "$tmp/badrules"; printf 'title: t\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n    product: linux\ndetection:\n    sel:\n        message|contians: x\n    condition: sel\n' > "$tmp/badrules/r.yml"
$T rules check "$tmp/badrules" > "$tmp/rc.txt" 2>&1; rc=$?
expect "rules check: unknown modifier with file:line:col and a suggestion, exit 1" "[ $rc -eq 1 ] && grep -q '$tmp/badrules/r.yml:7:[0-9]*: invalid: \[11111111-2222-3333-4444-555555555555\].*contians.*contains' '$tmp/rc.txt' && grep -q 'checked 1 rules: 0 ok, 0 unsupported, 1 invalid' '$tmp/rc.txt'"
# parse --explain: which decoder and profile fired
$T parse -q --explain examples/auth.log > "$tmp/ex.jsonl" 2>/dev/null
expect "parse --explain names the sshd decoder and the linux_syslog profile" "grep 'Accepted password for root' '$tmp/ex.jsonl' | python3 -c 'import json,sys; e=json.load(sys.stdin); assert e[\"explain.decoder\"]==\"sshd\" and e[\"explain.profile\"]==\"linux_syslog\" and e[\"src_ip\"]==\"203.0.113.45\" and e[\"username\"]==\"root\" and e[\"outcome\"]==\"success\" and e[\"logsource\"]=={\"product\":\"linux\",\"service\":\"sshd\"}'"
$T parse -q --no-normalise examples/auth.log > "$tmp/nn.jsonl" 2>/dev/null
expect "parse --no-normalise leaves events as parsed" "! grep -q '\"src_ip\"' '$tmp/nn.jsonl' && [ \$(wc -l < '$tmp/nn.jsonl') -eq 66 ]"

# escalation: the incident change queues reports in the LMDB outbox in the same transaction;
# tocsin report renders the initial report in Vietnamese with the affected system
$T replay -q --tz +07:00 -t so-tttt-demo -r etc/rules --db "$tmp/escdb" --escalate law116-2025 \
    --assets etc/assets.example.yml examples/auth.log > /dev/null 2> "$tmp/esc.err"; rc=$?
expect "replay --escalate queues the incident's reports" "[ $rc -eq 0 ] && grep -q 'incidents: 1, escalations queued: [1-9]' '$tmp/esc.err'"
id=$($T incidents --db "$tmp/escdb" list --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
expect "the incident records the affected system (asset.id of its events)" "$T incidents --db '$tmp/escdb' list --json | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline())[\"details\"]; assert d[\"asset_id\"]==\"portal-01\", d'"
$T report --db "$tmp/escdb" "$id" --stage initial --format text --lang vi --assets etc/assets.example.yml > "$tmp/rep.txt" 2>&1; rc=$?
expect "report --lang vi renders the initial report with the affected system" "[ $rc -eq 0 ] && grep -q 'BÁO CÁO BAN ĐẦU' '$tmp/rep.txt' && grep -q 'Cổng thông tin điện tử' '$tmp/rep.txt' && grep -q 'Cấp độ hệ thống thông tin: 3' '$tmp/rep.txt'"
# tocsin summary over a replayed week (issue 13): the same totals as `incidents list`
# and the replay's counters; JSON keys say what they count
$T replay -q --tz +07:00 -t so-tttt-demo -r etc/rules --db "$tmp/sumdb" examples/auth.log \
    examples/sysmon.jsonl examples/firewall-5424.log > /dev/null 2> "$tmp/sum.err"
rep_inc=$(sed -n 's/.*incidents: \([0-9]*\),.*/\1/p' "$tmp/sum.err")
$T incidents --db "$tmp/sumdb" list --since 2026-03-16T00:00:00+07:00 --until 2026-03-23T00:00:00+07:00 --json > "$tmp/sum.list"
$T summary --db "$tmp/sumdb" --period custom --from 2026-03-16 --to 2026-03-23 --format json --lang en > "$tmp/sum.json" 2> "$tmp/sum.err2"; rc=$?
expect "summary over the replayed week: incidents.total = incidents list = replay's counter" "[ $rc -eq 0 ] && [ -n '$rep_inc' ] && [ \$(wc -l < '$tmp/sum.list') -eq $rep_inc ] && python3 -c 'import json,sys; d=json.load(open(\"$tmp/sum.json\")); l=[json.loads(x) for x in open(\"$tmp/sum.list\")]; assert d[\"incidents\"][\"total\"]==len(l)==$rep_inc, d; assert d[\"events\"][\"in_incidents_total\"]==sum(x[\"count\"] for x in l); assert sum(d[\"incidents\"][\"by_severity\"].values())==len(l); assert d[\"incidents\"][\"by_tenant\"][0][\"key\"]==\"so-tttt-demo\"'"
# the pipeline's per-period counters (stored by replay in its batches' transactions):
# detections by rule = replay's "detections by rule", events = replay's events (the one
# line whose time could not be read counts at its ingest time, outside the week),
# losses = replay's dead letters and "no decoder"
$T replay -q --tz +07:00 -t so-tttt-demo -o "$tmp/sum.ev" examples/auth.log examples/sysmon.jsonl \
    examples/firewall-5424.log > /dev/null 2>&1
$T summary --db "$tmp/sumdb" --period custom --from 2000-01-01 --to 2100-01-01 --format json > "$tmp/sum.all.json" 2>&1
expect "summary's counters over the replayed week equal replay's detections by rule, events and losses" "python3 - '$tmp' <<'PY'
import json, re, sys
tmp = sys.argv[1]
err = open(tmp + '/sum.err').read()
d = json.load(open(tmp + '/sum.json'))
a = json.load(open(tmp + '/sum.all.json'))
m = re.search(r'replay: .*?: (\d+) events .*?, (\d+) dead letters', err)
events, dead = int(m.group(1)), int(m.group(2))
ndet = int(re.search(r'detections: (\d+),', err).group(1))
nodec = int(re.search(r'no decoder: (\d+) event', err).group(1))
rules = {}
for line in err.split('detections by rule', 1)[1].splitlines()[1:]:
    mm = re.match(r'\s+(\d+)\s+\S+\s+\S+ \.\. \S+\s+(.+)$', line)
    if not mm:
        break
    rules[mm.group(2)] = int(mm.group(1))
got = {r['title']: r['detections'] for r in d['detections']['by_rule']}
assert ndet > 0 and d['detections']['total'] == ndet == sum(rules.values()), (ndet, d['detections'])
assert got == rules, (got, rules)
ingest = sum(1 for l in open(tmp + '/sum.ev') if json.loads(l).get('@time_source') == 'ingest')
assert d['events']['total'] == events - ingest, (d['events']['total'], events, ingest)
assert a['events']['total'] == events and a['detections']['total'] == ndet, a['events']
assert sum(r['events'] for r in d['events']['by_source']) == d['events']['total']
assert a['silent_loss']['no_decoder'] == nodec and a['silent_loss']['dead_letter'] == dead, a['silent_loss']
PY"
$T summary --db "$tmp/sumdb" --period custom --from 2026-03-16 --to 2026-03-23 --lang vi > "$tmp/sum.txt" 2>&1; rc=$?
expect "summary --lang vi prints the Vietnamese report" "[ $rc -eq 0 ] && grep -q 'Tổng số sự cố: $rep_inc' '$tmp/sum.txt'"
$T summary --db "$tmp/sumdb" --period custom --from 2026-03-23 > /dev/null 2> "$tmp/sum.err3"; rc=$?
expect "summary --period custom without --to is a usage error" "[ $rc -eq 2 ] && grep -q 'needs --from T --to T' '$tmp/sum.err3'"
# tocsin escalations check (issue 13): warnings at load for what a report will miss,
# with the file:line of the organisation; the lapsed basis of circular20-2017
printf 'paths:\n  data_dir: %s\nescalate:\n  org: %s\n  assets: etc/assets.example.yml\n' "$tmp/ckdb" "$tmp/org.yml" > "$tmp/ck.yml"
printf 'tenants:\n  a:\n    name: A\n    contact: {name: K}\n' > "$tmp/org.yml"
$T escalations check -c "$tmp/ck.yml" > "$tmp/ck.out" 2> "$tmp/ck.err"; rc=$?
expect "escalations check -c warns at load about fields a report will miss" "[ $rc -eq 0 ] && grep -q '$tmp/org.yml:3:5: warning: organisation \"a\" has no address' '$tmp/ck.out' && grep -q 'has no signer' '$tmp/ck.out' && grep -q 'warning(s)' '$tmp/ck.err'"
$T escalations check --regime circular20-2017 > "$tmp/ck2.out" 2>&1; rc=$?
expect "escalations check says circular20-2017's basis lapsed (Law 116 Art. 44.2)" "[ $rc -eq 0 ] && grep -q '86/2015/QH13, hết hiệu lực từ ngày 01/7/2026' '$tmp/ck2.out'"
printf 'tenants:\n  a: {name: A, route: army}\n' > "$tmp/bad.yml"
$T escalations check --org "$tmp/bad.yml" > /dev/null 2> "$tmp/ck3.err"; rc=$?
expect "escalations check refuses a bad route with file:line:col" "[ $rc -eq 2 ] && grep -q '$tmp/bad.yml:2:.*route must be mps' '$tmp/ck3.err'"
# tocsin escalations list prints a stored last_error without URL secrets or control
# characters: a value stored before the redaction fix (written here into the outbox
# record with mdb_dump/mdb_load) carried userinfo, a token and terminal escapes
mdb_dump -s outbox "$tmp/escdb" > "$tmp/outbox.dump" && python3 - "$tmp/outbox.dump" <<'EOF'
import struct, sys
path = sys.argv[1]
lines = open(path).read().split("\n")
i = lines.index("HEADER=END") + 2  # the first record's value
v = bytes.fromhex(lines[i].strip())
p = 4 + 4 + 8 + 3 * 8             # header, state, pad, attempts, revision, 3 times
for _ in range(4):                # id, incident_id, recipient, channel
    p += 4 + struct.unpack_from("<I", v, p)[0] + 1
old = 4 + struct.unpack_from("<I", v, p)[0] + 1
err = (b"https://alice:S3cr3tPass@hooks.example.vn/in?token=T0KEN: HTTP 500: "
       b"\x1b[2J\x1b]0;pwned\x07\r\nfailed  9  forged-line")
v = v[:p] + struct.pack("<I", len(err)) + err + b"\0" + v[p + old:]
lines[i] = " " + v.hex()
open(path, "w").write("\n".join(lines))
EOF
mdb_load -s outbox "$tmp/escdb" < "$tmp/outbox.dump"
$T escalations --db "$tmp/escdb" list > "$tmp/esclist.txt" 2>&1; rc=$?
expect "escalations list: a stored last_error is printed without the URL's userinfo and query" "[ $rc -eq 0 ] && grep -q 'https://\*\*\*@hooks.example.vn/in?\*\*\*' '$tmp/esclist.txt' && ! grep -q 'S3cr3tPass\|T0KEN\|alice' '$tmp/esclist.txt'"
expect "escalations list: control characters of a stored last_error are escaped, not sent to the terminal" "[ \$(wc -l < '$tmp/esclist.txt') -eq 1 ] && ! grep -q \$'\x1b' '$tmp/esclist.txt' && ! grep -q \$'\r' '$tmp/esclist.txt' && grep -qF '\x1b[2J\x1b]0;pwned\x07\r\nfailed  9  forged-line' '$tmp/esclist.txt'"
$T escalations --db "$tmp/escdb" list --json > "$tmp/esclist.json" 2>&1; rc=$?
expect "escalations list --json: last_error without URL secrets" "[ $rc -eq 0 ] && python3 -c 'import json; e=json.load(open(\"$tmp/esclist.json\")); le=e[\"last_error\"]; assert le.startswith(\"https://***@hooks.example.vn/in?***: HTTP 500\") and \"S3cr3t\" not in le and \"\\x1b\" in le, le'"
# an event cannot name its own system: asset.* from the input is renamed input.asset.*
# before enrichment (ketoan-pc07 claiming asset.id portal-01 stays ketoan-pc07)
for i in 1 2 3 4 5 6; do
    printf '{"@timestamp":"2026-11-20T10:00:0%dZ","host":"ketoan-pc07","program":"sshd","asset.id":"portal-01","message":"Failed password for root from 198.51.100.7 port %d ssh2"}\n' $i $i
done > "$tmp/spoof.jsonl"
$T parse -q --assets etc/assets.example.yml "$tmp/spoof.jsonl" > "$tmp/spoof.out" 2>&1; rc=$?
expect "parse: an input asset.id is renamed input.asset.id, asset.id is the host's system" "[ $rc -eq 0 ] && head -1 '$tmp/spoof.out' | python3 -c '
import json,sys
pairs = json.loads(sys.stdin.readline(), object_pairs_hook=list)
ids = [v for k, v in pairs if k == \"asset.id\"]
assert ids == [\"ketoan-pc07\"], pairs
assert dict(pairs)[\"input.asset.id\"] == \"portal-01\", pairs
'"
$T replay -q -r etc/rules --db "$tmp/spoofdb" --assets etc/assets.example.yml "$tmp/spoof.jsonl" > /dev/null 2>&1
expect "the incident of events carrying a forged asset.id names the real system" "$T incidents --db '$tmp/spoofdb' list --json | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline())[\"details\"]; assert d[\"asset_id\"]==\"ketoan-pc07\", d'"
# ... and with no enrichment option at all (no --assets, --geoip, --intel: no
# lookups), the renaming still runs, so the forged id never reaches an incident
$T parse -q "$tmp/spoof.jsonl" > "$tmp/spoof0.out" 2>&1; rc=$?
expect "parse without enrichment options: an input asset.id is still renamed input.asset.id" "[ $rc -eq 0 ] && head -1 '$tmp/spoof0.out' | python3 -c '
import json,sys
e = json.loads(sys.stdin.readline())
assert \"asset.id\" not in e and e[\"input.asset.id\"] == \"portal-01\", e
'"
$T replay -q -r etc/rules --db "$tmp/spoofdb0" "$tmp/spoof.jsonl" > /dev/null 2>&1; rc=$?
expect "replay --db without --assets: an input asset.id does not become the incident's asset_id" "[ $rc -eq 0 ] && $T incidents --db '$tmp/spoofdb0' list --json | python3 -c '
import json,sys
l = [json.loads(x) for x in sys.stdin]
assert len(l) == 1 and l[0][\"count\"] == 6 and \"asset_id\" not in l[0][\"details\"], l
'"
$T replay -q -r etc/rules --escalate law116-2025 examples/auth.log > /dev/null 2> "$tmp/esc2.err"; rc=$?
expect "--escalate without --db is a usage error" "[ $rc -eq 2 ] && grep -q 'needs --db' '$tmp/esc2.err'"

# a failure 19 minutes late (lateness allowance 5 min) from an address with
# no incident: kept as a late event with its rule, source line and raw text
printf '%s\n' "<38>Nov 20 10:00:00 portal-01 sshd[1]: Failed password for root from 198.51.100.7 port 1 ssh2" \
    "<38>Nov 20 10:20:00 portal-01 sshd[2]: Failed password for root from 198.51.100.8 port 2 ssh2" \
    "<38>Nov 20 10:01:00 portal-01 sshd[3]: Failed password for admin from 203.0.113.99 port 3 ssh2" > "$tmp/late.log"
$T replay -q -r etc/rules/correlation/mr_ssh_brute_force.yml --db "$tmp/late.db" "$tmp/late.log" > /dev/null 2>&1
$T incidents --db "$tmp/late.db" late --json > "$tmp/late.jsonl"; rc=$?
expect "a late event no incident covers is stored and listed (incidents late)" "[ $rc -eq 0 ] && [ \$(wc -l < '$tmp/late.jsonl') -eq 1 ] && python3 -c 'import json; e=json.load(open(\"$tmp/late.jsonl\")); assert e[\"offset\"]==3 and e[\"rule_id\"]==\"017dd23e-17b7-46ec-9279-c2482fa92e1f\" and \"203.0.113.99\" in e[\"raw\"] and e[\"event_time\"].endswith(\"10:01:00Z\"), e'"

# an app no decoder reads is said in replay's summary (silent loss counted)
printf '%s\n' "<38>Nov 20 10:00:01 h1 myapp[1]: something odd happened" \
    "<38>Nov 20 10:00:02 h1 sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2" > "$tmp/nodec.log"
$T replay -r etc/rules "$tmp/nodec.log" > /dev/null 2> "$tmp/nodec.err"; rc=$?
expect "replay's summary counts the events no decoder read" "[ $rc -eq 0 ] && grep -q '  no decoder: 1 event with a program' '$tmp/nodec.err'"

echo "cli: $n checks, $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
