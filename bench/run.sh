#!/usr/bin/env bash
# make bench: prints one figure a line. Starts its own Kafka broker on
# 127.0.0.1 (or uses TOCSIN_KAFKA_BOOTSTRAP). Figures, not assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/tools
N=${BENCH_MESSAGES:-1000000}
echo "bench: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# an in-process bench tool's figures, then the resident memory it peaked at
with_rss() {
    local f rc=0
    f=$(mktemp /tmp/tocsin-bench-rss.XXXXXX)
    /usr/bin/time -o "$f" -f '%M' "$@" || rc=$?
    echo "  (max RSS of $(basename "$1"): $(( $(tail -1 "$f") / 1024 )) MiB)"
    rm -f "$f"
    return $rc
}
echo "== parse rate per format (one thread, in memory) =="
with_rss $B/bench_parse 2
echo "== decoders and the extra formats (one thread) =="
with_rss $B/bench_decode 2
echo "== mapping profiles (one thread) =="
with_rss $B/bench_profile 2
echo "== enrichment: assets, GeoIP, 1M threat-intel indicators (one thread) =="
with_rss $B/bench_enrich 2
# the test corpora: TOCSIN_CORPORA, else ../shared, else tests/corpora (README, "Test corpora")
SIGMA=
if [ -n "${TOCSIN_CORPORA:-}" ]; then dirs=("$TOCSIN_CORPORA"); else dirs=(../shared tests/corpora); fi
for d in "${dirs[@]}"; do
    [ -z "$SIGMA" ] && [ -d "$d/sigma/rules" ] && SIGMA=$d/sigma
done
if [ -n "$SIGMA" ]; then
    echo "== Sigma matching (one thread; SigmaHQ corpus at $SIGMA) =="
    with_rss $B/bench_rules 2 "$SIGMA"
else
    echo "== Sigma matching: skipped: needs the SigmaHQ corpus, see README (Test corpora) =="
fi
echo "== LMDB commit cost per batch (durable) =="
with_rss $B/bench_store 2
echo "== correlation engine (one thread; 1M group keys) =="
with_rss $B/bench_corr
echo "== parse rate from files (tocsin replay, whole command incl. reading) =="
tmp=$(mktemp -d /tmp/tocsin-bench.XXXXXX)
kdir="$tmp/kafka"
trap 'tests/kafka/broker.sh stop "$kdir" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import sys, random
d = sys.argv[1]
random.seed(7)
with open(f"{d}/auth.log", "w") as f:
    for i in range(1000000):
        f.write(f"Nov 20 10:{i // 60 % 60:02d}:{i % 60:02d} portal-01 sshd[{1000 + i % 30000}]: "
                f"Failed password for invalid user u{i % 1000} from 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} "
                f"port {1024 + i % 60000} ssh2\n")
with open(f"{d}/bruteforce.log", "w") as f:
    # 1M sshd lines as the SSH brute-force correlation sees them: 20k source
    # addresses, failures a few seconds apart, interleaved
    t = 36000
    for i in range(1000000):
        ip = f"10.{(i % 20000) >> 8 & 255}.{i % 20000 & 255}.{(i % 20000) >> 16 + 1}"
        if i % 20000 == 0:
            t += 3
        f.write(f"Nov 20 {t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d} portal-01 sshd[{1000 + i % 30000}]: "
                f"Failed password for root from {ip} port {1024 + i % 60000} ssh2\n")
with open(f"{d}/fw.log", "w") as f:
    for i in range(500000):
        f.write(f'<134>1 2026-11-20T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}+07:00 fw-01 edgefw {4000 + i % 50} TRAFFIC '
                f'[traffic@32473 src="10.0.{i >> 8 & 255}.{i & 255}" dst="203.0.113.{i % 250}" dport="{i % 1024}" action="deny"] deny tcp\n')
benign = [
    (r"C:\\Windows\\System32\\svchost.exe", r"C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", r"C:\\Windows\\System32\\services.exe"),
    (r"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", r"\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=vi", r"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"),
    (r"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", r"\"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE\" /dde", r"C:\\Windows\\explorer.exe"),
    (r"C:\\Windows\\System32\\conhost.exe", r"\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", r"C:\\Windows\\System32\\cmd.exe"),
    (r"C:\\Windows\\System32\\RuntimeBroker.exe", r"C:\\Windows\\System32\\RuntimeBroker.exe -Embedding", r"C:\\Windows\\System32\\svchost.exe"),
    (r"C:\\Program Files\\7-Zip\\7zFM.exe", r"\"C:\\Program Files\\7-Zip\\7zFM.exe\" D:\\baocao\\2026.zip", r"C:\\Windows\\explorer.exe"),
]
suspicious = [(r"C:\\Windows\\System32\\whoami.exe", r"whoami /all", r"C:\\Windows\\System32\\cmd.exe"),
              (r"C:\\Windows\\System32\\vssadmin.exe", r"vssadmin.exe delete shadows /all /quiet", r"C:\\Windows\\System32\\cmd.exe")]
with open(f"{d}/sysmon.jsonl", "w") as f:
    for i in range(300000):
        img, cmd, parent = suspicious[i % 2] if i % 200 == 0 else benign[i % len(benign)]
        f.write('{"@timestamp":"2026-11-20T10:%02d:%02d.%03dZ","host":{"name":"ws-%03d"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"computer_name":"ws-%03d.agency.local","event_data":{"UtcTime":"2026-11-20 10:00:00.000","ProcessGuid":"{5770385f-c22a-43e0-bf4c-06f5698ffbd9}","ProcessId":"%d","Image":"%s","FileVersion":"10.0.19041.1","Description":"Windows process","Product":"Microsoft Windows Operating System","Company":"Microsoft Corporation","CommandLine":"%s","CurrentDirectory":"C:\\\\Windows\\\\system32\\\\","User":"AGENCY\\\\user%d","LogonGuid":"{5770385f-c22a-43e0-0000-0020e7030000}","LogonId":"0x3e7","TerminalSessionId":"1","IntegrityLevel":"Medium","Hashes":"SHA256=2B40C98ED0F7A1D3B091A3E8353132DC33C3E5A3C4C4E23C8AB4E6C9D7F5A1B2","ParentProcessGuid":"{5770385f-c22a-43e0-bf4c-06f5698ffbd8}","ParentProcessId":"%d","ParentImage":"%s"}}}\n'
                % (i // 60 % 60, i % 60, i % 1000, i % 500, i % 500, 1000 + i, img, cmd, i % 300, 900 + i, parent))
PY
for f in auth.log fw.log sysmon.jsonl; do
    size=$(stat -c %s "$tmp/$f"); lines=$(wc -l < "$tmp/$f")
    s=$( { /usr/bin/time -f '%e %M' bin/tocsin replay -q "$tmp/$f" > /dev/null; } 2>&1 | tail -1)
    secs=${s% *}; rss=${s#* }
    python3 -c "l=$lines; s=$secs; b=$size; print(f'replay $f: {l/s:,.0f} events/s, {b/s/1e6:.1f} MB/s ({l} lines in {s:.2f} s, max RSS {$rss/1024:.0f} MiB)')"
done
echo "== Sigma matching against rsigma (an independent engine): the same 300k Sysmon events, every Windows rule =="
# rsigma reads flat events (EventData fields at the top, its sysmon pipeline
# for the logsources); Tocsin the Winlogbeat JSON through its profile (more
# work: nested JSON and the mapping). CPU seconds (user+sys) are compared, as
# well as wall time: rsigma matches on one thread, Tocsin reads on one and
# matches on another. Detections are compared per rule.
if command -v rsigma >/dev/null && [ -n "$SIGMA" ]; then
    python3 - "$tmp" <<'PY2'
import json, sys
d = sys.argv[1]
with open(f"{d}/sysmon.jsonl") as f, open(f"{d}/sysmon-flat.jsonl", "w") as o:
    for line in f:
        e = json.loads(line)
        x = dict(e["winlog"]["event_data"])
        x.update(EventID=e["winlog"]["event_id"], Channel=e["winlog"]["channel"],
                 Computer=e["winlog"]["computer_name"])
        o.write(json.dumps(x, separators=(",", ":")) + "\n")
PY2
    /usr/bin/time -o "$tmp/rs.time" -f '%e %U %S %M' rsigma engine eval -r "$SIGMA/rules/windows" -p sysmon \
        -e @"$tmp/sysmon-flat.jsonl" --no-stats --output-format ndjson > "$tmp/rs.out" 2>/dev/null
    /usr/bin/time -o "$tmp/ts.time" -f '%e %U %S %M' bin/tocsin replay -q --rules "$SIGMA/rules/windows" \
        "$tmp/sysmon.jsonl" > "$tmp/ts.out" 2>/dev/null
    python3 - "$tmp" "$(rsigma --version 2>/dev/null | head -1)" <<'PY2'
import collections, json, sys
d, ver = sys.argv[1], sys.argv[2]
def t(name):
    e, u, s, m = open(f"{d}/{name}.time").read().split()[-4:]
    return float(e), float(u) + float(s), int(m) / 1024
def rules(name, key):
    c = collections.Counter()
    for line in open(f"{d}/{name}.out"):
        j = json.loads(line)
        if key in j and j.get("kind", "detection") == "detection":
            c[j[key]] += 1
    return c
re_, rc, rm = t("rs"); te, tc, tm = t("ts")
a, b = rules("rs", "rule_id"), rules("ts", "rule_id")
print(f"rsigma ({ver}): {300000/re_:,.0f} events/s wall, {300000/rc:,.0f} per CPU second, max RSS {rm:.0f} MiB, {sum(a.values())} detections")
print(f"tocsin replay:  {300000/te:,.0f} events/s wall, {300000/tc:,.0f} per CPU second, max RSS {tm:.0f} MiB, {sum(b.values())} detections")
print(f"tocsin / rsigma: {re_/te:.2f}x wall, {rc/tc:.2f}x per CPU second, memory {tm/rm:.2f}x; detections per rule {'identical' if a == b else 'DIFFER: ' + str(set(a.items()) ^ set(b.items()))}")
PY2
else
    echo "rsigma not installed (cargo install rsigma --version 0.23.0 --locked), or no Sigma corpus: skipped"
fi
echo "== parse + normalise + enrich from files (decoders, profiles, assets, 1M intel indicators) =="
python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
with open(f"{d}/iocs.csv", "w") as f:
    f.write("value,type,confidence\n")
    for i in range(700000):
        f.write(f"198.{18 + (i >> 16) % 2}.{(i >> 8) & 255}.{i & 255},ip,80\n")
    for i in range(200000):
        f.write(f"bad-{i}.example.net,domain,60\n")
    for i in range(100000):
        f.write(f"{i:064x},sha256,90\n")
PY
bin/tocsin intel load --db "$tmp/intel" --source bench "$tmp/iocs.csv" | tail -1
for f in auth.log fw.log sysmon.jsonl; do
    size=$(stat -c %s "$tmp/$f"); lines=$(wc -l < "$tmp/$f")
    /usr/bin/time -o "$tmp/time.txt" -f '%e %M' bin/tocsin replay -q --assets etc/assets.example.yml \
        --intel-db "$tmp/intel" "$tmp/$f" > /dev/null
    s=$(tail -1 "$tmp/time.txt"); secs=${s% *}; rss=${s#* }
    python3 -c "l=$lines; s=$secs; b=$size; print(f'replay+normalise+enrich {\"$f\"}: {l/s:,.0f} events/s, {b/s/1e6:.1f} MB/s ({l} lines, {s:.2f} s, max RSS {$rss/1024:.0f} MiB)')"
done
echo "== SSH brute-force correlation over 1M auth.log lines: decoders + rules + correlation =="
# the shipped SSH brute-force rule alone (the syslog-ng grouping-by
# comparison: one rule), then the whole shipped pack (etc/rules)
for rs in etc/rules/correlation/mr_ssh_brute_force.yml etc/rules; do
    /usr/bin/time -o "$tmp/time.txt" -f '%e %M' bin/tocsin replay -q -r $rs \
        "$tmp/bruteforce.log" > /dev/null 2> "$tmp/bf.err"
    s=$(tail -1 "$tmp/time.txt")
    secs=${s% *}; rss=${s#* }
    python3 -c "print(f'replay bruteforce.log -r $rs in memory: {1000000/$secs:,.0f} lines/s ({$secs:.2f} s, max RSS {$rss/1024:.0f} MiB)')"
    # LMDB, durable: the default commit policy (every 2 s or 2M events), and
    # a commit per 100k events; the whole command, incidents written
    for ce in default 100000; do
        rm -rf "$tmp/db"
        opt=""; [ "$ce" != default ] && opt="--commit-every $ce"
        /usr/bin/time -o "$tmp/time.txt" -f '%e %M' bin/tocsin replay -q -r $rs $opt \
            --db "$tmp/db" "$tmp/bruteforce.log" > /dev/null 2> "$tmp/bf.err"
        s=$(tail -1 "$tmp/time.txt")
        secs=${s% *}; rss=${s#* }
        inc=$(bin/tocsin incidents --db "$tmp/db" list --json | wc -l)
        python3 -c "print(f'replay bruteforce.log -r $rs with LMDB (durable), commit $ce: {1000000/$secs:,.0f} lines/s ({$secs:.2f} s, max RSS {$rss/1024:.0f} MiB, $inc incidents in LMDB)')"
    done
done
echo "== the same 1M brute-force lines: syslog-ng grouping-by vs tocsin (durable LMDB), alternating, best of 3 =="
# syslog-ng 3.38 (Debian's, unpacked by scripts/ensure-deps.sh): file source
# -> syslog-parser -> regexp-parser (source address) -> grouping-by keyed by
# the address, an aggregate when a context holds 5 failures (its context
# state in memory only); timed until its file source has processed every
# line (syslog-ng-ctl). tocsin: replay --db with the shipped brute-force
# rule (state, incidents and offsets durable in LMDB), the whole command.
ngroot=${TOCSIN_FORWARDERS:-${TOCSIN_CACHE:-$HOME/.cache/tocsin}/forwarders/root}
ngmods=$(dirname "$(ls "$ngroot"/usr/lib/syslog-ng/3*/libkafka.so 2>/dev/null | head -1)" 2>/dev/null)
if [ -x "$ngroot/usr/sbin/syslog-ng" ] && [ -d "$ngmods" ]; then
    ng="$tmp/ng"; mkdir -p "$ng"
    cat > "$ng/ng.conf" <<NGCONF
@version: 3.38
options { stats-level(1); threaded(yes); flush-lines(1000); keep-timestamp(yes); };
source s { file("$tmp/bruteforce.log" flags(no-parse) follow-freq(1) log-iw-size(100000) log-fetch-limit(10000)); };
parser p_sys { syslog-parser(); };
parser p_ip { regexp-parser(patterns("Failed password for (invalid user )?(?<user>\\\\S+) from (?<ip>\\\\S+) port") prefix("")); };
parser p_grp { grouping-by(key("\${ip}") scope(global) trigger("\$(context-length)" >= "5") timeout(60)
    aggregate(value("MESSAGE" "ssh brute force from \${ip}@1: \$(context-length) failures") inherit-mode(none))); };
filter f_agg { message("ssh brute force"); };
destination d { file("$ng/out.log"); };
log { source(s); parser(p_sys); parser(p_ip); parser(p_grp); filter(f_agg); destination(d); };
NGCONF
    ng_once() {
        rm -f "$ng/out.log" "$ng/ng.persist"
        local t0 t1 pid p=0
        t0=$(date +%s.%N)
        LD_LIBRARY_PATH="$ngroot/usr/lib/syslog-ng" "$ngroot/usr/sbin/syslog-ng" -F -f "$ng/ng.conf" \
            --module-path "$ngmods" --no-caps --pidfile "$ng/pid" --persist-file "$ng/ng.persist" \
            --control "$ng/ctl" > "$ng/ng.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 3000); do
            p=$(LD_LIBRARY_PATH="$ngroot/usr/lib/syslog-ng" "$ngroot/usr/sbin/syslog-ng-ctl" query get \
                "src.file.*.processed" --control "$ng/ctl" 2>/dev/null | grep -o '=[0-9]*' | tr -d = | head -1)
            [ "${p:-0}" -ge 1000000 ] && break
            sleep 0.05
        done
        t1=$(date +%s.%N)
        awk '/VmHWM/{print $2}' /proc/$pid/status > "$ng/rss" 2>/dev/null
        kill $pid 2>/dev/null; wait $pid 2>/dev/null
        python3 -c "print($t1 - $t0)"
    }
    ts_once() {
        rm -rf "$tmp/db"
        /usr/bin/time -o "$tmp/time.txt" -f '%e %M' bin/tocsin replay -q -r etc/rules/correlation/mr_ssh_brute_force.yml \
            --db "$tmp/db" "$tmp/bruteforce.log" > /dev/null 2>&1
        local s; s=$(tail -1 "$tmp/time.txt"); echo "${s#* }" > "$ng/ts_rss"; echo "${s% *}"
    }
    best_ng=999; best_ts=999
    for r in 1 2 3; do
        a=$(ng_once); b=$(ts_once)
        best_ng=$(python3 -c "print(min($best_ng, $a))"); best_ts=$(python3 -c "print(min($best_ts, $b))")
    done
    ng_rss=$(cat "$ng/rss" 2>/dev/null); ts_rss=$(cat "$ng/ts_rss" 2>/dev/null)
    python3 -c "print(f'syslog-ng grouping-by: {1e6/$best_ng:,.0f} lines/s ({$best_ng:.2f} s, max RSS {${ng_rss:-0}/1024:.0f} MiB); tocsin replay --db: {1e6/$best_ts:,.0f} lines/s ({$best_ts:.2f} s, max RSS {${ts_rss:-0}/1024:.0f} MiB); tocsin / syslog-ng: {$best_ng/$best_ts:.2f}x')"
else
    echo "syslog-ng not unpacked (scripts/ensure-deps.sh does it): skipped"
fi
echo "== Kafka consume rate (real broker on 127.0.0.1, full ingest path, counting sink) =="
if [ -n "${TOCSIN_KAFKA_BOOTSTRAP:-}" ]; then boot=$TOCSIN_KAFKA_BOOTSTRAP
else boot=$(tests/kafka/broker.sh start "$kdir" 2>/dev/null); fi
topic="bench.$$"
$B/ktool create "$boot" "$topic" 4
$B/ktool produce "$boot" "$topic" "$N" -p 4 -s 300 2>/dev/null
for w in 1 2; do $B/bench_kafka "$boot" "$topic" "$N" "$w" rfc3164; done
echo "== agent JSON end to end: Kafka -> parse -> profile -> all Windows Sigma rules (no correlation/LMDB yet) =="
$B/ktool create "$boot" "agent.$$" 4
$B/ktool produce-file "$boot" "agent.$$" "$tmp/sysmon.jsonl" 4 2>/dev/null
if [ -n "$SIGMA" ]; then
    for w in 1 2; do $B/bench_kafka "$boot" "agent.$$" 300000 "$w" json etc/profiles "$SIGMA/rules/windows"; done
else
    for w in 1 2; do $B/bench_kafka "$boot" "agent.$$" 300000 "$w" json etc/profiles; done
fi
echo "== hunt from Kafka (tocsin hunt, own consumer, --threads 1 and 2) vs replay from a file: 300k Sysmon events, every Windows rule =="
bench/hunt.sh "$boot" "$tmp/sysmon.jsonl" ${SIGMA:+"$SIGMA/rules/windows"} etc/rules
echo "== distributed mode (correlate.distributed): the re-key hop's CPU per event, takeover of 1M live keys =="
bench/scale.sh "$boot"
echo "== agent JSON end to end with correlation and LMDB: tocsin run (Kafka -> parse -> profile -> rules -> correlate -> LMDB) =="
# the same 300k Sysmon events three times (900k messages); rules: every
# Windows rule of the corpus (when present) and the shipped pack with its
# correlations; durable LMDB. Rate = messages / (time from partition
# assignment to the stats line that counts them all; stats every 1 s, so
# the figure is a lower bound by up to a second)
$B/ktool produce-file "$boot" "agent.$$" "$tmp/sysmon.jsonl" 4 2>/dev/null
$B/ktool produce-file "$boot" "agent.$$" "$tmp/sysmon.jsonl" 4 2>/dev/null
rdir="$tmp/run-e2e"; mkdir -p "$rdir"
rules="[etc/rules]"; [ -n "$SIGMA" ] && rules="[$SIGMA/rules/windows, etc/rules]"
for w in 1 2; do
    printf 'kafka:\n  brokers: "%s"\n  group_id: bench-e2e-%s-%s\n  workers: %s\ntopics:\n  - name: agent.%s\n    format: json\npaths:\n  rules: %s\n  data_dir: %s\n' \
        "$boot" "$$" "$w" "$w" "$$" "$rules" "$rdir/data.$w" > "$rdir/tocsin.yml"
    bin/tocsin run -c "$rdir/tocsin.yml" -d /dev/null --stats-interval 1 2> "$rdir/run.$w.err" &
    pid=$!
    t0=""; t1=""
    for _ in $(seq 1 2400); do
        [ -z "$t0" ] && grep -q "assigned" "$rdir/run.$w.err" && t0=$(date +%s.%N)
        grep -q "consumed 900000," "$rdir/run.$w.err" && { t1=$(date +%s.%N); break; }
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    # CPU seconds (every thread, rule loading included) and the high-water
    # resident memory, read before the process stops: per-core speed on a
    # machine that is not idle, and the memory beside the rate
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' /proc/$pid/stat 2>/dev/null || echo 0)
    rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status 2>/dev/null || echo 0)
    kill -TERM $pid 2>/dev/null; wait $pid
    inc=$(bin/tocsin incidents --db "$rdir/data.$w" list --json 2>/dev/null | wc -l)
    if [ -n "$t0" ] && [ -n "$t1" ]; then
        python3 -c "print(f'tocsin run, $w worker(s): {900000/($t1-$t0):,.0f} messages/s Kafka -> parse -> profile -> rules -> correlate -> LMDB, {900000/max($cpu, 0.01):,.0f} per CPU second, max RSS {${rss:-0}/1024:.0f} MiB (900000 messages in {$t1-$t0:.2f} s, {$cpu:.2f} CPU s, $inc incidents)')"
    else
        echo "tocsin run, $w worker(s): did not finish (see $rdir/run.$w.err)"; tail -3 "$rdir/run.$w.err"
    fi
done
# two processes (single-process mode: no correlate.distributed) in one
# consumer group, one worker each, own data dirs: the partitions split
# between them. Rate = 900000 / (first "assigned" to the stats lines whose
# sum counts them all); per CPU second over both processes; RSS of each
python3 - "$boot" "$$" "$rules" "$rdir" <<'PY'
import re, subprocess, sys, time
boot, pid, rules, rdir = sys.argv[1:5]
total, procs = 900000, []
for i in (1, 2):
    cfg = f"{rdir}/proc.{i}.yml"
    with open(cfg, "w") as f:
        f.write(f'kafka:\n  brokers: "{boot}"\n  group_id: bench-e2e-{pid}-procs\n  workers: 1\n'
                f'topics:\n  - name: agent.{pid}\n    format: json\n'
                f'paths:\n  rules: {rules}\n  data_dir: {rdir}/data.proc.{i}\n')
    err = open(f"{rdir}/proc.{i}.err", "w")
    procs.append(subprocess.Popen(["bin/tocsin", "run", "-c", cfg, "-d", "/dev/null",
                                   "--stats-interval", "1"], stderr=err, stdout=subprocess.DEVNULL))
def consumed(i):
    n, assigned = 0, False
    with open(f"{rdir}/proc.{i}.err") as f:
        for line in f:
            assigned = assigned or "assigned" in line
            m = re.search(r"run: consumed (\d+),", line)
            if m:
                n = int(m.group(1))
    return n, assigned
t0 = t1 = None
deadline = time.monotonic() + 120
while time.monotonic() < deadline and all(p.poll() is None for p in procs):
    got = [consumed(i) for i in (1, 2)]
    if t0 is None and any(a for _, a in got):
        t0 = time.monotonic()
    if sum(n for n, _ in got) >= total:
        t1 = time.monotonic()
        break
    time.sleep(0.05)
hz = subprocess.run(["getconf", "CLK_TCK"], capture_output=True, text=True).stdout.strip()
cpu, rss = [], []
for p in procs:
    try:
        st = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        cpu.append((int(st[11]) + int(st[12])) / int(hz))
        rss.append(next((int(l.split()[1]) for l in open(f"/proc/{p.pid}/status")
                         if l.startswith("VmHWM")), 0))
    except OSError:
        cpu.append(0.0); rss.append(0)
for p in procs:
    p.terminate()
for p in procs:
    p.wait()
inc = sum(len(subprocess.run(["bin/tocsin", "incidents", "--db", f"{rdir}/data.proc.{i}", "list",
                              "--json"], capture_output=True, text=True).stdout.splitlines())
          for i in (1, 2))
if t0 is not None and t1 is not None:
    el, c = t1 - t0, sum(cpu)
    print(f"tocsin run, 2 processes x 1 worker: {total / el:,.0f} messages/s Kafka -> parse -> profile -> "
          f"rules -> correlate -> LMDB, {total / max(c, 0.01):,.0f} per CPU second, max RSS "
          f"{rss[0] / 1024:.0f} + {rss[1] / 1024:.0f} MiB ({total} messages in {el:.2f} s, "
          f"{cpu[0]:.2f} + {cpu[1]:.2f} CPU s, {inc} incidents)")
else:
    print(f"tocsin run, 2 processes: did not finish (see {rdir}/proc.*.err)")
PY
echo "== tocsin run end to end with the HTTP server on and /metrics scraped every second, vs off =="
# the same setup as above (900k agent messages, the same rules, durable
# LMDB), 2 workers; off and on alternate (BENCH_HTTP_ROUNDS rounds, default
# 3) and the median of each is kept. The rate is taken between the first and
# the last stats line (every 1 s) that count part of the input, timed as
# they arrive: no second of rounding at either end
e2e_rate() { # $1: on|off  $2: round -> prints messages/s (or nothing)
    python3 - "$1" "$2" "$boot" "$$" "$rules" "$rdir" <<'PY'
import os, re, socket, subprocess, sys, threading, time, urllib.request
mode, rnd, boot, pid, rules, rdir = sys.argv[1:7]
total = 900000
cfg = f"{rdir}/http.{mode}.{rnd}.yml"
with open(cfg, "w") as f:
    f.write(f'kafka:\n  brokers: "{boot}"\n  group_id: bench-http-{pid}-{mode}-{rnd}\n  workers: 2\n'
            f'topics:\n  - name: agent.{pid}\n    format: json\n'
            f'paths:\n  rules: {rules}\n  data_dir: {rdir}/data.http.{mode}.{rnd}\n')
    if mode == "on":
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        f.write(f"http:\n  listen: 127.0.0.1:{port}\n  rate: 0\n")
p = subprocess.Popen(["bin/tocsin", "run", "-c", cfg, "-d", "/dev/null", "--stats-interval", "1"],
                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
done = threading.Event()
scrapes = []
def scrape():
    while not done.wait(1.0):
        t = time.monotonic()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            scrapes.append(time.monotonic() - t)
        except OSError:
            pass
if mode == "on":
    threading.Thread(target=scrape, daemon=True).start()
points = []
deadline = time.monotonic() + 600
for line in p.stderr:
    m = re.search(r"run: consumed (\d+),", line)
    if m:
        points.append((time.monotonic(), int(m.group(1))))
        if int(m.group(1)) >= total or time.monotonic() > deadline:
            break
done.set()
rss = 0
try:
    with open(f"/proc/{p.pid}/status") as st:
        rss = next((int(l.split()[1]) for l in st if l.startswith("VmHWM")), 0)
except OSError:
    pass
p.terminate()
p.wait()
subprocess.run(["rm", "-rf", f"{rdir}/data.http.{mode}.{rnd}"])
mid = [(t, n) for t, n in points if 0 < n < total]
if len(mid) >= 2 and mid[-1][0] > mid[0][0]:
    rate = (mid[-1][1] - mid[0][1]) / (mid[-1][0] - mid[0][0])
    extra = f" ({len(scrapes)} scrapes, {1000 * max(scrapes):.0f} ms the longest)" if scrapes else ""
    print(f"{rate:.0f}", file=sys.stdout)
    print(f"  round {rnd}, HTTP {mode}: {rate:,.0f} messages/s, max RSS {rss / 1024:.0f} MiB{extra}", file=sys.stderr)
PY
}
offs=(); ons=()
for round in $(seq 1 "${BENCH_HTTP_ROUNDS:-3}"); do
    r=$(e2e_rate off "$round"); [ -n "$r" ] && offs+=("$r")
    r=$(e2e_rate on "$round"); [ -n "$r" ] && ons+=("$r")
done
if [ ${#offs[@]} -gt 0 ] && [ ${#ons[@]} -gt 0 ]; then
    python3 -c "import statistics as s; off, on = s.median([$(IFS=,; echo "${offs[*]}")]), s.median([$(IFS=,; echo "${ons[*]}")]); print(f'tocsin run, 2 workers, HTTP off: {off:,.0f} messages/s; HTTP on, /metrics scraped every 1 s: {on:,.0f} messages/s; difference {100 * (on - off) / off:+.1f}% (medians of ${#offs[@]} and ${#ons[@]} rounds)')"
else
    echo "tocsin run with/without HTTP: did not finish (see $rdir)"
fi
echo "== HTTP API: tocsin serve over 1M incidents (wrk on 127.0.0.1) =="
bench/api.sh
echo "bench: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
