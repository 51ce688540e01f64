#!/usr/bin/env bash
# `tocsin incidents` over a store filled by build/tools/store_fill: list
# (JSON lines when piped, a table on a terminal), filters, show with
# evidence, the status lifecycle with exit codes, and errors.
set -u
T=${TOCSIN:-bin/tocsin}
FILL=${STORE_FILL:-build/tools/store_fill}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; n=0
ok() { n=$((n + 1)); echo "  ok   $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "  FAIL $1"; }
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
db="$tmp/db"
$FILL "$db" || { echo "  FAIL store_fill"; exit 1; }

$T incidents --db "$db" list > "$tmp/all.jsonl"; rc=$?
expect "list exits 0" "[ $rc -eq 0 ]"
expect "list prints one JSON line per incident when piped" "[ \$(wc -l < '$tmp/all.jsonl') -eq 6 ]"
expect "list is ordered by last seen" "python3 -c 'import json; ids=[json.loads(l)[\"id\"] for l in open(\"$tmp/all.jsonl\")]; assert ids==[\"inc-%d\"%i for i in range(6)], ids'"
expect "a record carries rule, tenant, times, tags, distinct values, details" "head -1 '$tmp/all.jsonl' | python3 -c 'import json,sys; e=json.load(sys.stdin); assert e[\"rule_title\"]==\"SSH brute force\" and e[\"tenant\"]==\"agency-a\" and e[\"last_seen\"]==\"2024-04-01T10:00:00Z\" and e[\"first_seen\"]==\"2024-04-01T09:59:30Z\" and e[\"tags\"][1]==\"attack.t1110.001\" and e[\"distinct\"]==[\"root\",\"admin\",\"oracle\"] and e[\"details\"][\"threshold\"]==5 and e[\"status\"]==\"new\" and e[\"evidence\"]==3 and e[\"revision\"]==1'"
expect "--tenant filters" "[ \$($T incidents --db '$db' list --tenant agency-b | wc -l) -eq 3 ]"
expect "--status filters" "[ \$($T incidents --db '$db' list --status resolved | grep -c '\"id\":\"inc-5\"') -eq 1 ] && [ \$($T incidents --db '$db' list --status resolved | wc -l) -eq 1 ]"
expect "--status open is everything but resolved" "[ \$($T incidents --db '$db' list --status open | wc -l) -eq 5 ]"
expect "--since takes RFC 3339 (inclusive)" "[ \$($T incidents --db '$db' list --since 2024-04-01T10:03:00Z | wc -l) -eq 3 ]"
expect "--since takes an age" "[ \$($T incidents --db '$db' list --since 1d | wc -l) -eq 0 ] && [ \$($T incidents --db '$db' list --since 10000d | wc -l) -eq 6 ]"
expect "--sort newest lists the most recently seen first" "[ \"\$($T incidents --db '$db' list --sort newest | python3 -c 'import json,sys; print(\",\".join(json.loads(l)[\"id\"] for l in sys.stdin))')\" = inc-5,inc-4,inc-3,inc-2,inc-1,inc-0 ]"
expect "--sort with another word is a usage error" "$T incidents --db '$db' list --sort worst 2>/dev/null; [ \$? -eq 2 ]"
expect "--limit bounds the output" "[ \$($T incidents --db '$db' list --limit 2 | wc -l) -eq 2 ]"
expect "filters combine" "[ \$($T incidents --db '$db' list --tenant agency-a --since 2024-04-01T10:01:00Z --status new | wc -l) -eq 2 ]"
if command -v script > /dev/null; then
    script -qc "$T incidents --db '$db' list" /dev/null > "$tmp/table.txt"
    expect "a terminal gets a table with a header and a count" "grep -q '^ID' '$tmp/table.txt' && grep -q 'LAST SEEN' '$tmp/table.txt' && grep -q '^6 incidents' '$tmp/table.txt' && grep -q 'inc-3 .*agency-b .*2024-04-01 10:03:00' '$tmp/table.txt'"
fi

$T incidents --db "$db" show inc-2 > "$tmp/show.json"; rc=$?
expect "show exits 0 with one JSON document" "[ $rc -eq 0 ] && python3 -c 'import json; json.load(open(\"$tmp/show.json\"))'"
expect "show has the evidence with sources and bounded raw text" "python3 -c 'import json; d=json.load(open(\"$tmp/show.json\")); ev=d[\"evidence_records\"]; assert len(ev)==3 and ev[0][\"source\"]==\"logs.syslog\" and ev[0][\"partition\"]==1 and ev[0][\"offset\"]==200 and \"Failed password\" in ev[0][\"raw\"] and ev[2].get(\"raw_omitted\") and \"raw\" not in ev[2]'"
if command -v script > /dev/null; then
    script -qc "$T incidents --db '$db' show inc-2" /dev/null > "$tmp/show.txt"
    expect "show on a terminal is a readable report" "grep -q '^incident   inc-2' '$tmp/show.txt' && grep -q '^rule       SSH brute force' '$tmp/show.txt' && grep -q 'logs.syslog\[1\]@200' '$tmp/show.txt'"
fi
# attacker text (ESC sequences, CR) in group values, distinct values and raw
# evidence is shown escaped on a terminal, never as raw control bytes; JSON
# output stays JSON-escaped
if command -v script > /dev/null; then
    mkdir -p "$tmp/escrules"
    sed 's/^        - src_ip$/        - username/' etc/rules/correlation/mr_ssh_brute_force.yml > "$tmp/escrules/by_user.yml"
    cp etc/rules/correlation/mr_ssh_password_spraying.yml "$tmp/escrules/"
    for i in 0 1 2 3 4 5 6 7 8 9; do
        printf '<38>Nov 20 10:00:0%d portal-01 sshd[%d]: Failed password for \033[31mu%d\rFORGED from 198.51.100.7 port %d ssh2\n' $i $i $i $i
    done > "$tmp/esc.log"
    for i in 0 1 2 3 4; do
        printf '<38>Nov 20 10:01:0%d portal-01 sshd[%d]: Failed password for \033[31mroot\rFORGED from 198.51.100.8 port %d ssh2\n' $i $i $i
    done >> "$tmp/esc.log"
    printf '%s\n' '<38>Nov 20 10:30:00 portal-01 sshd[7]: Failed password for bob from 198.51.100.9 port 7 ssh2' >> "$tmp/esc.log"
    printf '<38>Nov 20 10:05:00 portal-01 sshd[8]: Failed password for \033[31mlate\rFORGED from 198.51.100.10 port 8 ssh2\n' >> "$tmp/esc.log"
    $T replay -q -r "$tmp/escrules" --db "$tmp/escdb" "$tmp/esc.log" > /dev/null 2>&1
    script -qc "$T incidents --db '$tmp/escdb' list" /dev/null > "$tmp/esclist.txt"
    spray=$($T incidents --db "$tmp/escdb" list --json | python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l)
    if d["rule_title"].startswith("SSH Password Spraying"): print(d["id"])')
    script -qc "$T incidents --db '$tmp/escdb' show $spray" /dev/null > "$tmp/escshow.txt"
    script -qc "$T incidents --db '$tmp/escdb' late" /dev/null > "$tmp/esclate.txt"
    noraw="import re,sys; d=open(sys.argv[1],'rb').read(); assert d and b'\x1b' not in d and not re.search(rb'\r(?!\n)', d), d"
    expect "list on a terminal escapes ESC and CR of a group value" "python3 -c \"\$noraw\" '$tmp/esclist.txt' && grep -qF 'username=\x1b[31mroot\rFORGED' '$tmp/esclist.txt'"
    expect "show on a terminal escapes ESC and CR of raw evidence" "python3 -c \"\$noraw\" '$tmp/escshow.txt' && grep -qF 'for \x1b[31mu9\rFORGED from' '$tmp/escshow.txt'"
    expect "late on a terminal escapes ESC and CR of the raw text" "python3 -c \"\$noraw\" '$tmp/esclate.txt' && grep -qF 'for \x1b[31mlate\rFORGED from' '$tmp/esclate.txt'"
    expect "show --json keeps JSON escapes of the same text" "$T incidents --db '$tmp/escdb' show $spray --json | python3 -c 'import json,sys; raw=sys.stdin.buffer.read(); assert b\"\\x1b\" not in raw and b\"\\r\" not in raw; d=json.loads(raw); assert \"\\x1b[31mu9\\rFORGED\" in d[\"evidence_records\"][-1][\"raw\"], d'"
fi
$T incidents --db "$db" show nope > /dev/null 2> "$tmp/e.txt"; rc=$?
expect "show of an unknown id exits 1 and says so" "[ $rc -eq 1 ] && grep -q 'no incident \"nope\"' '$tmp/e.txt'"

$T incidents --db "$db" ack inc-1 --by lan > "$tmp/o.txt"; rc=$?
expect "ack exits 0 and reports the revision" "[ $rc -eq 0 ] && grep -q 'inc-1: acknowledged by lan (revision 2)' '$tmp/o.txt'"
$T incidents --db "$db" ack inc-1 --by lan > /dev/null 2> "$tmp/e.txt"; rc=$?
expect "ack twice exits 1 and explains" "[ $rc -eq 1 ] && grep -q 'it is acknowledged' '$tmp/e.txt'"
$T incidents --db "$db" reopen inc-1 > /dev/null 2>&1; rc=$?
expect "reopen of an open incident exits 1" "[ $rc -eq 1 ]"
expect "resolve then reopen work" "$T incidents --db '$db' resolve inc-1 --by binh --comment 'false positive: the scanner' > /dev/null && $T incidents --db '$db' reopen inc-1 --by chi > /dev/null"
expect "the history says who and when" "$T incidents --db '$db' show inc-1 | python3 -c 'import json,sys; d=json.load(sys.stdin); h=d[\"history\"]; assert [x[\"status\"] for x in h]==[\"acknowledged\",\"resolved\",\"reopened\"] and [x[\"by\"] for x in h]==[\"lan\",\"binh\",\"chi\"] and d[\"status\"]==\"reopened\" and d[\"revision\"]==4'"
expect "the history keeps from and the comment (JSON)" "$T incidents --db '$db' show inc-1 --json | python3 -c 'import json,sys; h=json.load(sys.stdin)[\"history\"]; assert [x[\"from\"] for x in h]==[\"new\",\"acknowledged\",\"resolved\"] and h[1][\"comment\"]==\"false positive: the scanner\" and \"comment\" not in h[0] and \"comment\" not in h[2], h'"
script -qc "$T incidents --db '$db' show inc-1" /dev/null > "$tmp/show.txt"
expect "show on a terminal prints each change with its comment" "grep -q 'acknowledged -> resolved by binh: false positive: the scanner' '$tmp/show.txt' && grep -q 'new -> acknowledged by lan' '$tmp/show.txt'"
expect "the status index follows the change" "[ \$($T incidents --db '$db' list --status reopened | wc -l) -eq 1 ]"
long=$(printf 'x%.0s' $(seq 4097))
$T incidents --db "$db" ack inc-1 --comment "$long" > /dev/null 2> "$tmp/e.txt"; rc=$?
expect "a comment over 4096 bytes is a usage error (nothing changes)" "[ $rc -eq 2 ] && grep -q 'longer than 4096' '$tmp/e.txt' && [ \$($T incidents --db '$db' list --status reopened | wc -l) -eq 1 ]"
$T incidents --db "$db" resolve nope > /dev/null 2>&1; rc=$?
expect "resolve of an unknown id exits 1" "[ $rc -eq 1 ]"

$T incidents --db "$tmp/missing" list > /dev/null 2> "$tmp/e.txt"; rc=$?
expect "a missing store exits 1 and names the directory" "[ $rc -eq 1 ] && grep -q '$tmp/missing' '$tmp/e.txt' && [ ! -e '$tmp/missing' ]"
$T incidents list > /dev/null 2>&1; rc=$?
expect "no --db is a usage error" "[ $rc -eq 2 ]"
$T incidents --db "$db" frob > /dev/null 2>&1; rc=$?
expect "an unknown subcommand is a usage error" "[ $rc -eq 2 ]"
$T incidents --db "$db" list --status closed > /dev/null 2>&1; rc=$?
expect "an unknown status is a usage error" "[ $rc -eq 2 ]"
$T incidents --db "$db" list --since yesterday > /dev/null 2>&1; rc=$?
expect "an unparsable time is a usage error" "[ $rc -eq 2 ]"
expect "tocsin --help lists the command" "$T --help | grep -q 'incidents --db DIR'"

echo "incidents CLI: $((n - fails))/$n passed"
[ $fails -eq 0 ]
