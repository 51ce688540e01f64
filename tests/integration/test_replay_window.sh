#!/usr/bin/env bash
# replay --from/--to (issue 14 part 2): only the events whose event time is
# in [from, to) go through -o, the tallies and the rules; the others are
# counted in the summary; bad times are usage errors naming the option.
set -u
T=${TOCSIN:-bin/tocsin}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; n=0
ok() { n=$((n + 1)); echo "  ok   $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "  FAIL $1"; }
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

for t in 2026-11-20T09:59:59Z 2026-11-20T10:00:00Z 2026-11-20T11:00:00Z 2026-11-20T11:59:59.999Z \
         2026-11-20T12:00:00Z; do
    echo "<38>1 $t web-03 sshd 4242 - - Accepted password for root from 203.0.113.66 port 50022 ssh2"
done > "$tmp/day.log"
$T replay -q --from 2026-11-20T10:00:00Z --to 2026-11-20T12:00:00Z -o "$tmp/ev.jsonl" \
    "$tmp/day.log" > "$tmp/out.txt" 2>&1; rc=$?
expect "replay --from/--to exits 0" "[ $rc -eq 0 ]"
expect "only [from, to) reaches -o (from kept, to excluded)" "python3 -c 'import json; t=[json.loads(l)[\"@timestamp\"] for l in open(\"$tmp/ev.jsonl\")]; assert t==[\"2026-11-20T10:00:00Z\",\"2026-11-20T11:00:00Z\",\"2026-11-20T11:59:59.999Z\"], t'"
expect "the summary counts the events outside" "grep -q 'outside --from/--to: 2 events' '$tmp/out.txt'"
$T replay -q -r etc/rules/linux_sshd_root_password_login.yml --from 2026-11-20T11:00:00Z \
    "$tmp/day.log" > "$tmp/det.jsonl" 2> "$tmp/det.err"; rc=$?
expect "--from alone: rules see the events from then on" "[ $rc -eq 0 ] && [ \$(grep -c '\"kind\":\"detection\"' '$tmp/det.jsonl') -eq 3 ]"
$T replay --from 2026-11-20 "$tmp/day.log" > /dev/null 2> "$tmp/bad.err"; rc=$?
expect "a bad --from is a usage error naming the option" "[ $rc -eq 2 ] && grep -q 'bad --from \"2026-11-20\"' '$tmp/bad.err'"
$T replay --from 2026-11-20T12:00:00Z --to 2026-11-20T10:00:00Z "$tmp/day.log" > /dev/null 2> "$tmp/bad2.err"; rc=$?
expect "--to before --from is a usage error" "[ $rc -eq 2 ] && grep -q -- '--to must be after --from' '$tmp/bad2.err'"

echo "replay-window: $n checks, $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
