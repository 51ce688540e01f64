#!/usr/bin/env bash
# The analyst's workbench (issue 16): rules test runs replay's pipeline and
# agrees with it, --explain names why a line did not match, logtest shows
# each phase of one line, strict linting, evidence and summaries.
set -u
cd "$(dirname "$0")/../.."
T=$(realpath "${TOCSIN:-bin/tocsin}")
R=$(pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; n=0
ok() { n=$((n + 1)); echo "  ok   $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "  FAIL $1"; }
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# source lines of the detections of a JSON-lines output, sorted
lines_of() { python3 -c '
import json, sys
out = set()
for l in open(sys.argv[1]):
    l = l.strip()
    if not l.startswith("{"): continue
    e = json.loads(l)
    if e.get("kind", "detection") == "detection" and e.get("source") and "matched" not in e:
        out.add("%s:%d" % (e["source"]["file"], e["source"]["line"]))
print(" ".join(sorted(out)))' "$1"; }

# --- part 1: rules test = replay, for each shipped decoder's sample
for pair in auth:sudo_to_root firewall:rdp_blocked mail:smtp_auth_failed web-error:apache_invalid_uri \
            sshd:../../../etc/rules/linux_sshd_root_password_login; do
    log=examples/decoders/${pair%%:*}.log rule=examples/decoders/rules/${pair#*:}.yml
    $T rules test "$rule" --events "$log" -q > "$tmp/t.out" 2> "$tmp/t.err"; rc1=$?
    $T replay -q -r "$rule" "$log" > "$tmp/r.out" 2> "$tmp/r.err"; rc2=$?
    a=$(lines_of "$tmp/t.out"); b=$(lines_of "$tmp/r.out")
    expect "rules test and replay agree on $log with $(basename "$rule") ($a)" \
        "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ -n '$a' ] && [ '$a' = '$b' ]"
done
# the whole shipped set with correlation: the same detections and incidents
$T rules test etc/rules --events examples/auth.log -q > "$tmp/t.out" 2> "$tmp/t.err"
$T replay -q -r etc/rules examples/auth.log > "$tmp/r.out" 2> /dev/null
inc() { grep '"kind":"incident"' "$1" | python3 -c 'import json,sys; print(" ".join(sorted("%s/%s/%d" % (i["rule_title"], i["id"], i["count"]) for i in (json.loads(l)["incident"] for l in sys.stdin))))'; }
expect "rules test runs the correlation rules: the same incident as replay ($(inc "$tmp/t.out"))" \
    "[ -n \"\$(inc '$tmp/t.out')\" ] && [ \"\$(inc '$tmp/t.out')\" = \"\$(inc '$tmp/r.out')\" ] && grep -q ', 1 incident' '$tmp/t.err'"

# run from outside the source tree: etc/ is found beside the binary
(cd "$tmp" && $T rules test "$R/examples/decoders/rules/sudo_to_root.yml" --events "$R/examples/decoders/auth.log" -q > out 2> err); rc=$?
expect "rules test from another directory finds bin/../etc (exit 0, 1 match)" \
    "[ $rc -eq 0 ] && grep -q '3 events, 1 matched' '$tmp/err' && ! grep -q 'cannot open' '$tmp/err'"

# --explain: the failing selection, field and value of a near miss
$T rules test examples/decoders/rules/sudo_to_root.yml --events examples/decoders/auth.log --explain -q > "$tmp/x.out" 2> "$tmp/x.err"; rc=$?
expect "--explain names the failing selection, field and value (stderr)" \
    "[ $rc -eq 0 ] && grep -qF 'examples/decoders/auth.log:2: no match: Sudo Command As Root: selection \"selection\" failed: target_user is \"www-data\", which does not match target_user \"root\"' '$tmp/x.err'"
expect "--explain prints a JSON object per unmatched event with the failed condition" \
    "python3 -c '
import json
l = [json.loads(x) for x in open(\"$tmp/x.out\")]
miss = [x for x in l if x.get(\"matched\") is False]
assert [m[\"source\"][\"line\"] for m in miss] == [2, 3], miss
r = miss[0][\"why\"][\"rules\"][0]
assert miss[0][\"why\"][\"decoder\"] == \"sudo\" and r[\"selection\"] == \"selection\", r
assert r[\"failed\"] == {\"key\": \"target_user\", \"field\": \"target_user\", \"value\": \"www-data\", \"expected\": [\"root\"]}, r
'"
$T rules test examples/decoders/rules/sudo_to_root.yml --why '<85>Mar 17 08:07:10 portal-01 sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=www-data ; COMMAND=/usr/bin/ls' > "$tmp/w.out" 2> "$tmp/w.err"; rc=$?
expect "rules test --why LINE explains that one line" \
    "[ $rc -eq 0 ] && grep -qF -- '--why:1: no match: Sudo Command As Root: selection \"selection\" failed: target_user is \"www-data\"' '$tmp/w.err' && grep -q '1 events, 0 matched' '$tmp/w.err'"
printf '<13>Mar 17 10:00:00 portal-01 systemd[1]: Started x.\n' > "$tmp/nodec.log"
$T rules test examples/decoders/rules/sudo_to_root.yml --events "$tmp/nodec.log" --explain -q > /dev/null 2> "$tmp/nd.err"
expect "--explain says no decoder ran and the logsource does not apply" \
    "grep -qF 'no match: no decoder ran: no decoder applies to program \"systemd\"' '$tmp/nd.err' && grep -qF 'logsource does not apply: the rule is for product=linux service=sudo; the event has product=linux service=syslog' '$tmp/nd.err'"

# logtest: one sshd line through every phase
echo '<86>Mar 17 09:14:02 portal-01 sshd[10702]: Accepted password for root from 203.0.113.45 port 41877 ssh2' |
    (cd "$tmp" && $T logtest) > "$tmp/lt.out" 2>&1; rc=$?
expect "logtest: exit 0, decoder sshd, logsource linux/sshd, fields, the shipped rule matched" \
    "[ $rc -eq 0 ] && grep -q '^\*\*Phase 2: decoding' '$tmp/lt.out' && grep -q '  decoder: sshd (pattern 4 ' '$tmp/lt.out' && grep -q '  logsource: product=linux category=- service=sshd' '$tmp/lt.out' && grep -q '    username: \"root\"' '$tmp/lt.out' && grep -q '  matched: \[high\] SSH Password Login As Root (6b0f6e0e-3c1a-4c7e-9d57-0b7d2f9a1c01' '$tmp/lt.out'"
echo '<86>Mar 17 09:20:40 portal-01 sshd[10790]: Accepted publickey for root from 10.20.0.15 port 50122 ssh2' |
    $T logtest -v -r etc/rules/linux_sshd_root_password_login.yml > "$tmp/lt2.out" 2>&1
expect "logtest -v: no rule matched, and why" \
    "grep -q '  no rule matched' '$tmp/lt2.out' && grep -qF 'SSH Password Login As Root: selection \"selection\" failed: auth_method is \"publickey\", which does not match auth_method \"password\"' '$tmp/lt2.out'"


echo '<86>Mar 17 09:14:02 portal-01 sshd[10702]: Accepted password for root from 203.0.113.45 port 41877 ssh2' |
    $T logtest --assets etc/assets.example.yml > "$tmp/lt3.out" 2>&1
expect "logtest (and rules test) take replay's enrichment options: asset fields shown" \
    "grep -q '    asset.id: \"portal-01\"' '$tmp/lt3.out'"

# --- part 2: strict lint; replay and run refuse invalid rules
L=$tmp/lint; mkdir -p "$L/a" "$L/b" "$L/warn"
rule() { # file id extra-top extra-logsource
    printf 'title: %s\nid: %s\n%slogsource:\n    product: linux\n%s    service: sudo\ndetection:\n    sel:\n        action: sudo\n    condition: sel\nlevel: low\n' \
        "$(basename "$1" .yml)" "$2" "$3" "$4" > "$1"
}
rule "$L/a/misspelt.yml" 5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d01 "" "    servce: sudo
"
$T rules check "$L/a" > "$tmp/l1.out" 2>&1; rc=$?
expect "rules check: a misspelt logsource key is invalid, with file:line:col and did you mean (exit 1)" \
    "[ $rc -eq 1 ] && grep -qF '$L/a/misspelt.yml:5:5: invalid: [5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d01] unknown logsource key \"servce\" (did you mean \"service\"?)' '$tmp/l1.out'"
rule "$L/warn/one.yml" not-a-uuid "tags:
    - attack.initial_access
    - attack.t1548.003
" ""
rule "$L/warn/two.yml" 5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d02 "" ""
rule "$L/warn/three.yml" 5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d02 "statsu: test
" ""
$T rules check "$L/warn" > "$tmp/l2.out" 2>&1; rc=$?
expect "rules check: warnings alone exit 0 and are counted" "[ $rc -eq 0 ] && grep -q 'checked 3 rules: 3 ok, 0 unsupported, 0 invalid; 4 warnings' '$tmp/l2.out'"
$T rules check --strict "$L/warn" > "$tmp/l3.out" 2>&1; rc=$?
expect "rules check --strict: exit 1 on warnings" "[ $rc -eq 1 ]"
expect "lint: an id that is not a UUID, at file:line:col" \
    "grep -qF '$L/warn/one.yml:2:5: warning: [not-a-uuid] id \"not-a-uuid\" is not a UUID' '$tmp/l3.out'"
expect "lint: an ATT&CK tag outside the taxonomy, with did you mean" \
    "grep -qF '$L/warn/one.yml:4:7: warning: [not-a-uuid] ATT&CK tag \"attack.initial_access\" is not in the taxonomy (did you mean \"attack.initial-access\"?)' '$tmp/l3.out'"
expect "lint: the same id in two files names both" \
    "grep -qF '$L/warn/two.yml:2:5: warning: [5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d02] id 5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d02 is not unique: $L/warn/three.yml:2:5 has it too' '$tmp/l3.out'"
expect "lint: an unknown top-level key, with did you mean" \
    "grep -qF '$L/warn/three.yml:3:1: warning: [5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d02] unknown key \"statsu\" (did you mean \"status\"?)' '$tmp/l3.out'"
printf 'title: x\nid: 5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d03\nlogsource:\n    product: linux\ndetction:\n    sel:\n        a: b\n    condition: sel\n' > "$L/a/nodet.yml"
$T rules check "$L/a/nodet.yml" > "$tmp/l4.out" 2>&1; rc=$?
expect "lint: detction: says did you mean detection (exit 1)" \
    "[ $rc -eq 1 ] && grep -qF '$L/a/nodet.yml:1:1: invalid: [5f1d2c3b-8a4e-4b6f-9c0d-1e2f3a4b5d03] rule has no detection (did you mean \"detection\" for \"detction\" at line 5?)' '$tmp/l4.out'"
$T rules check --strict etc/rules examples/decoders/rules > "$tmp/l5.out" 2>&1; rc=$?
expect "the shipped rules pass --strict (exit 0)" "[ $rc -eq 0 ] && grep -q '; 0 warnings' '$tmp/l5.out'"
cp examples/decoders/rules/sudo_to_root.yml "$L/a/"
$T replay -q -r "$L/a" examples/decoders/auth.log > "$tmp/rp.out" 2> "$tmp/rp.err"; rc=$?
expect "replay refuses to start with invalid rules (exit 2, nothing read)" \
    "[ $rc -eq 2 ] && grep -q 'tocsin replay: 2 invalid rules (listed above): fix them, or pass --skip-invalid-rules' '$tmp/rp.err' && [ ! -s '$tmp/rp.out' ]"
$T replay -q --skip-invalid-rules -r "$L/a" examples/decoders/auth.log > "$tmp/rp.out" 2> "$tmp/rp.err"; rc=$?
expect "replay --skip-invalid-rules runs the valid ones" "[ $rc -eq 0 ] && [ \$(grep -c '\"kind\":\"detection\"' '$tmp/rp.out') -eq 1 ]"
printf 'kafka:\n  brokers: "127.0.0.1:1"\n  group_id: t\ntopics:\n  - name: t\npaths:\n  rules: [%s]\n' "$L/a" > "$tmp/run.yml"
timeout 20 $T run -c "$tmp/run.yml" > /dev/null 2> "$tmp/run.err"; rc=$?
expect "run refuses to start with invalid rules (exit 2) and says how to skip them" \
    "[ $rc -eq 2 ] && grep -q 'rules: {skip_invalid: true}' '$tmp/run.err'"


# --- part 3: counters after a load error, Apache warning, resume, help
printf 'decoders:\n  - name: x\n    bogus: 1\n' > "$tmp/baddec.yml"
$T parse --decoders "$tmp/baddec.yml" examples/decoders/auth.log > "$tmp/c.out" 2> "$tmp/c.err"; rc=$?
$T replay -r etc/rules --decoders "$tmp/baddec.yml" examples/decoders/auth.log > "$tmp/c2.out" 2> "$tmp/c2.err"; rc2=$?
expect "after a decoder error: parse and replay exit 2, name file:line:col, print no counters" \
    "[ $rc -eq 2 ] && [ $rc2 -eq 2 ] && grep -qF '$tmp/baddec.yml:3:5: error: unknown key \"bogus\" in a decoder' '$tmp/c.err' && grep -qF '$tmp/baddec.yml:3:5: error' '$tmp/c2.err' && ! grep -q 'messages' '$tmp/c.err' '$tmp/c2.err' '$tmp/c2.out'"
printf '[Tue Mar 17 10:05:00.123456 2026] [core:error] [pid 35708:tid 4328] [client 203.0.113.77:5300] AH00126: Invalid URI in request GET /../x HTTP/1.1\n[Tue Mar 17 10:05:01 2026] [error] [client 203.0.113.78] Directory index forbidden by rule: /var/www/\n' > "$tmp/apache_error.log"
$T parse "$tmp/apache_error.log" > "$tmp/ap.out" 2> "$tmp/ap.err"; rc=$?
expect "Apache error lines: no unparsable-timestamp warning when the decoder sets the time" \
    "[ $rc -eq 0 ] && [ ! -s '$tmp/ap.err' ] && python3 -c 'import json; e=[json.loads(l) for l in open(\"$tmp/ap.out\")]; assert [x[\"@timestamp\"] for x in e]==[\"2026-03-17T10:05:00.123456Z\",\"2026-03-17T10:05:01Z\"] and all(x[\"@time_source\"]==\"event\" for x in e), e'"
$T parse --no-normalise "$tmp/apache_error.log" > /dev/null 2> "$tmp/ap2.err"
expect "... and the warning stays when nothing sets the time (--no-normalise)" \
    "[ \$(grep -c 'warning: unparsable timestamp' '$tmp/ap2.err') -eq 2 ]"
mkdir -p "$tmp/rs/logs" "$tmp/rs/sub"; cp examples/auth.log "$tmp/rs/logs/x.log"
(cd "$tmp/rs/sub" && $T replay -q -r "$R/etc/rules" --db "$tmp/rs/db" ../logs/x.log > /dev/null 2> "$tmp/rs1.err")
(cd "$tmp/rs" && $T replay -r "$R/etc/rules" --db "$tmp/rs/db" logs/x.log > /dev/null 2> "$tmp/rs2.err")
n1=$($T incidents --db "$tmp/rs/db" list 2>/dev/null | grep -c .)
expect "resume is keyed on the real file: logs/x.log after ../logs/x.log resumes, nothing twice" \
    "grep -q '66 messages' '$tmp/rs1.err' && grep -q 'logs/x.log: resuming after line 66' '$tmp/rs2.err' && grep -q ' 0 messages' '$tmp/rs2.err' && grep -q 'detections: 0, incidents: 0' '$tmp/rs2.err'"
ln -s "$tmp/rs/logs/x.log" "$tmp/rs/link.log"
$T replay -r "$R/etc/rules" --db "$tmp/rs/db" "$tmp/rs/link.log" > /dev/null 2> "$tmp/rs3.err"
n2=$($T incidents --db "$tmp/rs/db" list 2>/dev/null | grep -c .)
expect "... so does a symbolic link to it, and the store has the same incidents ($n1)" \
    "grep -q 'resuming after line 66' '$tmp/rs3.err' && [ '$n1' = '$n2' ] && [ '$n1' -ge 1 ]"
cp "$tmp/rs/logs/x.log" "$tmp/rs/new.log" && mv "$tmp/rs/new.log" "$tmp/rs/logs/x.log"
(cd "$tmp/rs" && $T replay -q -r "$R/etc/rules" --db "$tmp/rs/db" logs/x.log > /dev/null 2> "$tmp/rs4.err")
expect "a file rotated into the same path (another inode) is read from its start" \
    "grep -q '66 messages' '$tmp/rs4.err'"
$T parse --help > "$tmp/h1" 2>&1; rc=$?; $T replay --help > "$tmp/h2" 2>&1; rc2=$?
expect "--help per command: parse lists no replay-only option, replay lists them" \
    "[ $rc -eq 0 ] && [ $rc2 -eq 0 ] && ! grep -qE -- '--rules|--db|--events-out|--escalate|--commit-every' '$tmp/h1' && grep -q -- '--explain' '$tmp/h1' && grep -q -- '--rules PATH' '$tmp/h2' && grep -q -- '--skip-invalid-rules' '$tmp/h2' && ! grep -q -- '--explain' '$tmp/h2'"
$T parse -r etc/rules examples/decoders/auth.log > /dev/null 2> "$tmp/h3"; rc=$?
expect "parse refuses a replay option with a clear error" "[ $rc -eq 2 ] && grep -q 'tocsin parse: --rules is an option of replay' '$tmp/h3'"


# --- part 4: evidence as analysts read it; ids by unique prefix
$T replay -q -r etc/rules --db "$tmp/ev" examples/auth.log examples/firewall-5424.log examples/sysmon.jsonl > /dev/null 2>&1
bf=$($T incidents --db "$tmp/ev" list --json | python3 -c 'import json,sys; print([i["id"] for i in map(json.loads, sys.stdin) if i["rule_title"]=="SSH Brute Force From One Address"][0])')
$T incidents --db "$tmp/ev" show "$bf" --json > "$tmp/ev.json"
expect "every evidence row has its text (stored, or read back from the file and said so) and its sub-rule" \
    "python3 -c '
import json
e = json.load(open(\"$tmp/ev.json\"))
r = e[\"evidence_records\"]
assert len(r) == 13 and all(x.get(\"raw\") for x in r), [x.get(\"raw_unavailable\") for x in r]
back = [x for x in r if x.get(\"raw_from_source\")]
assert back and all(x[\"raw\"] == open(\"examples/auth.log\").read().split(\"\\n\")[x[\"offset\"]-1] for x in back), back
assert all(x[\"rule_id\"] == \"b00d8d9f-a390-444d-b95c-3f976b0b6051\" for x in r[:12]) and r[12][\"rule_id\"] == \"6b0f6e0e-3c1a-4c7e-9d57-0b7d2f9a1c01\", [x.get(\"rule_id\") for x in r]
assert len({(x[\"source\"], x[\"offset\"]) for x in r}) == len(r)
'"
(cd "$tmp" && $T incidents --db "$tmp/ev" show "$bf" --json) > "$tmp/ev2.json"
expect "... and when the file cannot be read back, says why" \
    "python3 -c 'import json; r=json.load(open(\"$tmp/ev2.json\"))[\"evidence_records\"]; assert r[0][\"raw_unavailable\"].startswith(\"not kept, and the source file cannot be read here\"), r[0]'"
script -qc "$T incidents --db '$tmp/ev' show ${bf:0:6}" /dev/null > "$tmp/ev.txt"
expect "incidents show takes a unique id prefix; the text report shows each row's text and rule" \
    "grep -q \"incident   $bf\" '$tmp/ev.txt' && grep -q 'examples/auth.log:25  rule b00d8d9f-a390-444d-b95c-3f976b0b6051' '$tmp/ev.txt' && grep -q 'read back from the source file' '$tmp/ev.txt'"
$T report --db "$tmp/ev" "${bf:0:8}" --format json > "$tmp/rep.json" 2> "$tmp/rep.err"; rc=$?
expect "report takes a unique id prefix" "[ $rc -eq 0 ] && grep -q '$bf' '$tmp/rep.json'"
$T incidents --db "$tmp/ev" ack "${bf:0:5}" > "$tmp/ack.out" 2>&1; rc=$?
expect "ack takes a unique id prefix" "[ $rc -eq 0 ] && grep -q '^$bf: acknowledged' '$tmp/ack.out'"
# 20 brute-forcing addresses: 20 incidents more, so two ids share a first digit
python3 -c '
for ip in range(20):
    for k in range(12):
        print("<38>Mar 17 10:%02d:%02d portal-01 sshd[1]: Failed password for root from 198.51.100.%d port %d ssh2" % (ip, k, ip + 1, 40000 + k))' > "$tmp/many.log"
$T replay -q -r etc/rules --db "$tmp/ev" "$tmp/many.log" > /dev/null 2>&1
ids=$($T incidents --db "$tmp/ev" list --json | python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in sys.stdin))')
amb=$(python3 -c '
import sys, itertools
ids = sys.argv[1].split()
best = ""
for a, b in itertools.combinations(ids, 2):
    n = 0
    while n < 32 and a[n] == b[n]: n += 1
    if n >= len(best): best = a[:n]
print(best)' "$ids")
if [ -n "$amb" ]; then
    $T incidents --db "$tmp/ev" show "$amb" > /dev/null 2> "$tmp/amb.err"; rc=$?
    expect "an ambiguous prefix is a clear error listing the candidates (\"$amb\")" \
        "[ $rc -eq 1 ] && grep -q 'incident id prefix \"$amb\" is ambiguous: [0-9]* incidents start with it: ' '$tmp/amb.err' && grep -q 'give more digits' '$tmp/amb.err'"
else
    $T incidents --db "$tmp/ev" show "" > /dev/null 2> "$tmp/amb.err"; rc=$?
    expect "an empty prefix is a clear error" "[ $rc -eq 1 ] && grep -q 'is not an incident id' '$tmp/amb.err'"
fi
$T incidents --db "$tmp/ev" show zz > /dev/null 2> "$tmp/bad.err"; rc=$?
expect "an id that is no incident's is a clear error" "[ $rc -eq 1 ] && grep -q 'no incident \"zz\" in $tmp/ev' '$tmp/bad.err'"


$T replay -q --evidence -r etc/rules examples/auth.log > "$tmp/ev3.out" 2> /dev/null; rc=$?
expect "replay --evidence without --db: each incident with its evidence, text and sub-rule" \
    "[ $rc -eq 0 ] && python3 -c '
import json
inc = [json.loads(l) for l in open(\"$tmp/ev3.out\") if l.startswith(\"{\\\"kind\\\":\\\"incident\")]
assert len(inc) == 1 and inc[0][\"incident\"][\"count\"] == 13, inc
ev = inc[0][\"evidence\"]
assert len(ev) == 13 and all(x.get(\"raw\") and x.get(\"rule_id\") for x in ev), ev
assert [x[\"offset\"] for x in ev] == sorted({x[\"offset\"] for x in ev})
assert any(x.get(\"raw_from_source\") for x in ev) and not ev[-1].get(\"raw_from_source\")
'"
python3 -c '
for k in range(12):
    print("<38>Mar 17 10:00:%02d portal-01 sshd[1]: Failed password for user%d from 198.51.100.9 port %d ssh2" % (k * 3, k, 40000 + k))' > "$tmp/spray.log"
$T replay -q -r etc/rules --db "$tmp/sp" "$tmp/spray.log" > /dev/null 2>&1
sp=$($T incidents --db "$tmp/sp" list --json | python3 -c 'import json,sys; print([i["id"] for i in map(json.loads, sys.stdin) if "Spraying" in i["rule_title"]][0])')
$T incidents --db "$tmp/sp" show "$sp" --json > "$tmp/sp.json"
script -qc "$T incidents --db '$tmp/sp' show $sp" /dev/null > "$tmp/sp.txt"
expect "a value_count incident lists its distinct values (JSON and text)" \
    "python3 -c 'import json; e=json.load(open(\"$tmp/sp.json\")); assert e[\"distinct_field\"]==\"username\" and e[\"distinct\"]==[\"user%d\" % k for k in range(12)], e' && grep -q 'distinct   username (12): user0 user1' '$tmp/sp.txt'"


# --- part 5: progress on a terminal, summaries
python3 -c '
n = 0
for h in range(1, 13):
    for k in range(h):
        n += 1
        print("<13>Mar 17 10:%02d:%02d h%02d systemd[1]: Started job %d." % (n // 60, n % 60, h, n))' > "$tmp/hosts.log"
script -qc "$T replay -r etc/rules '$tmp/hosts.log' examples/auth.log > /dev/null" /dev/null > "$tmp/tty.txt"
expect "replay on a terminal draws a progress bar on stderr (percent, lines, rate, elapsed)" \
    "grep -qaE \$'\\r\\\\[[#.]{30}\\\\] +[0-9]+%  [0-9]+ lines  [0-9]+ lines/s  [0-9.]+ MB/s  elapsed 0:0' '$tmp/tty.txt'"
script -qc "$T replay -q -r etc/rules '$tmp/hosts.log' > /dev/null" /dev/null > "$tmp/ttyq.txt"
$T replay -r etc/rules "$tmp/hosts.log" > /dev/null 2> "$tmp/notty.txt"
expect "no bar with -q, nor when stderr is not a terminal" \
    "! grep -qa 'lines/s' '$tmp/ttyq.txt' && ! grep -qa 'lines/s' '$tmp/notty.txt' && grep -q 'elapsed' '$tmp/notty.txt'"
expect "the summary has elapsed time and rate" "grep -qE '^  elapsed [0-9.]+ s: [0-9]+ messages/s, [0-9.]+ MB/s' '$tmp/notty.txt'"
expect "hosts are the top 10 by count, the rest summed" \
    "grep -qF '  by host:      (top 10 of 12) h12 12, h11 11, h10 10, h09 9, h08 8, h07 7, h06 6, h05 5, h04 4, h03 3, other 3' '$tmp/notty.txt'"
$T replay -r etc/rules examples/auth.log examples/sysmon.jsonl > /dev/null 2> "$tmp/sum.txt"
expect "detections per level and per rule with first and last time" \
    "grep -qE '^    high +4  2026-03-17T02:05:44.390Z \\.\\. 2026-03-17T09:14:02Z$' '$tmp/sum.txt' && grep -qE '^ +1  high     2026-03-17T09:14:02Z \\.\\. 2026-03-17T09:14:02Z  SSH Password Login As Root$' '$tmp/sum.txt' && grep -qE '^ +2  high     2026-03-17T02:05:44.390Z \\.\\. 2026-03-17T02:05:52.731Z  Shadow Copies Or Backup Catalog Deleted$' '$tmp/sum.txt'"

echo "workbench: $n checks, $fails failed"
[ "$fails" -eq 0 ]
