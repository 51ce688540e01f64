#!/usr/bin/env python3
"""Threat hunting over a Kafka time range (issue 14), against the real broker.

A day of sshd events (2026-11-20, one every 2 s per host, Kafka timestamps =
event times, some 40 s late as a forwarder would make them) is in a topic of 3
partitions, with a planted attack: root password logins from 203.0.113.66 at
10:20, 10:50 and 11:30 (in [10:00, 12:00)) and at 09:59:59, 12:00:00 and 15:00
(outside it; the first two within the Kafka-timestamp margin, so the hunt
reads them and must drop them by event time). `run` consumes the topic live in
its own group with the usual rules. Then:
  - a hunt with a new rule over [10:00, 12:00) finds exactly the 3 planted
    detections (their offsets) and none outside the range; its -o output is
    what `replay` prints for the range's lines (detections' source aside);
  - the live group's committed offsets are the same before and after;
  - a hunt with --db killed with SIGKILL half-way and resumed gives the same
    detections and incidents as an uninterrupted one; `hunts list|show` show it;
  - SIGINT stops a hunt cleanly and says how to resume it;
  - --threads 2 gives the detections and incidents of --threads 1; a resumed
    hunt's hunt.json counts the whole range;
  - `hunt --files` over the day's lines (gzipped) is kept and listed as a
    hunt and finds the Kafka hunt's detections;
  - `intel load --hunt 30d` sights the new source's indicators.
"""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BOOT = os.environ["TOCSIN_KAFKA_BOOTSTRAP"]
TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
KTOOL = os.environ.get("KTOOL", "build/tools/ktool")
RUN = f"{os.getpid()}-{int(time.time())}"
TOPIC = f"hunt.{RUN}"
PARTS = 3
DAY = 1795132800  # 2026-11-20T00:00:00Z
FROM, TO = "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z"
tmp = tempfile.mkdtemp(prefix="tocsin-hunt-")
fails = []

RULE = """title: Root Password Login From The Advisory's Address
id: 7d0c1a52-8d0e-4e55-9a51-3f6f2b1f6a14
status: experimental
description: A new rule of a national advisory (a test of hunting).
author: Tocsin team
logsource:
    product: linux
    service: sshd
detection:
    selection:
        outcome: success
        username: root
        src_ip: 203.0.113.66
    condition: selection
level: critical
"""

PLANTED_IN = [10 * 3600 + 20 * 60, 10 * 3600 + 50 * 60, 11 * 3600 + 30 * 60]
PLANTED_OUT = [9 * 3600 + 59 * 60 + 59, 12 * 3600, 15 * 3600]


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(DAY + t))


def iso_ms(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(DAY + ms // 1000)) + \
        f".{ms % 1000:03d}Z"


def day_lines(step_ms):
    """(event second of the day, Kafka timestamp ms, line); planted lines
    included, every host's events in time order."""
    out = []
    for ms in range(0, 86400 * 1000, step_ms):
        i = ms // step_ms
        h = i % 5
        late = 40000 if i % 7 == 0 else 0
        out.append((ms / 1000, DAY * 1000 + ms + late,
                    f"<38>1 {iso_ms(ms)} web-{h:02d} sshd {1000 + i % 9000} - - Failed password "
                    f"for alice from 198.51.100.{h + 1} port {40000 + i % 20000} ssh2"))
    for t in PLANTED_IN + PLANTED_OUT:
        out.append((t, (DAY + t) * 1000,
                    f"<38>1 {iso(t)} web-03 sshd 4242 - - Accepted password for root from "
                    f"203.0.113.66 port 50022 ssh2"))
    out.sort(key=lambda x: x[0])
    return out


def produce(lines):
    # retention.ms=-1: the broker's retention (7 days by default) measures
    # Kafka timestamps, and these are the events' own, in the past
    subprocess.run([KTOOL, "create", BOOT, TOPIC, str(PARTS), "retention.ms=-1"], check=True)
    path = os.path.join(tmp, "produce.txt")
    with open(path, "w") as f:
        for _, ms, line in lines:
            f.write(f"{ms}\t{line}\n")
    subprocess.run([KTOOL, "produce-file", BOOT, TOPIC, path, str(PARTS), "-T"], check=True,
                   stderr=subprocess.DEVNULL)
    # what landed where: message i on partition i % PARTS, in order
    return [sum(1 for i in range(len(lines)) if i % PARTS == p) for p in range(PARTS)]


def config(group, data_dir, rules, batch=200):
    path = os.path.join(tmp, f"{group}.yml")
    with open(path, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: {group}
  batch_size: {batch}
topics:
  - name: "^{TOPIC.replace('.', '[.]')}$"
    format: rfc5424
    tenant: agency-h
paths:
  data_dir: {data_dir}
  rules: [{rules}]
log:
  level: warning
""")
    return path


def committed(group):
    out = subprocess.run([KTOOL, "committed", BOOT, group, TOPIC, str(PARTS)],
                         capture_output=True, text=True, check=True).stdout
    return {int(p): int(o) for p, o in (l.split() for l in out.strip().splitlines())}


def wait_done(group, ends, timeout=300):
    end = time.time() + timeout
    while time.time() < end:
        c = committed(group)
        if all(c.get(p, -1) >= ends[p] for p in range(PARTS)):
            return c
        time.sleep(0.3)
    return None


def detections(lines):
    return [j for j in lines if j.get("kind") == "detection"]


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def hunt(args, **kw):
    return subprocess.run([TOCSIN, "hunt"] + args, capture_output=True, text=True, **kw)


SUMMARY = re.compile(r"(\d+) messages read of (\d+) planned in \d+ partition\(s\): (\d+) events "
                     r"in the range, (\d+) outside it, (\d+) of other tenants, (\d+) dead letters")


def accounted(stderr):
    """Every message read is an event in the range, outside it, of another
    tenant or a dead letter, and every planned offset was read (the topic
    has no gaps): nothing is dropped silently."""
    m = SUMMARY.search(stderr)
    if not m:
        return None
    read, planned, inr, out, other, dead = map(int, m.groups())
    return read == planned and inr + out + other + dead == read, m.group(0)


def without_source(d):
    d = dict(d)
    d.pop("source", None)
    d.pop("rule_file", None)
    return json.dumps(d, sort_keys=True)


def main():
    lines = day_lines(200)
    ends = produce(lines)
    rule_dir = os.path.join(tmp, "new-rules")
    os.makedirs(rule_dir)
    with open(os.path.join(rule_dir, "advisory.yml"), "w") as f:
        f.write(RULE)
    # the live run, consuming in its group with the usual rules
    live_group = f"g-live-{RUN}"
    live_cfg = config(live_group, os.path.join(tmp, "live-db"), "etc/rules")
    live_err = open(os.path.join(tmp, "live.err"), "w")
    live = subprocess.Popen([TOCSIN, "run", "-c", live_cfg, "--stats-interval", "0"],
                            stdout=subprocess.DEVNULL, stderr=live_err)
    try:
        before = wait_done(live_group, ends)
        check(before is not None, "the live run did not consume the day")
        hunt_cfg = config(live_group, os.path.join(tmp, "live-db"), "etc/rules")
        # 1. the range, -o FILE
        out = os.path.join(tmp, "hunt.jsonl")
        r = hunt(["-c", hunt_cfg, "--rules", rule_dir, "--from", FROM, "--to", TO, "-o", out,
                  "--progress", "plain"])
        print(r.stderr.strip()[-600:], flush=True)
        check(r.returncode == 0, f"hunt exit {r.returncode}: {r.stderr[-400:]}")
        got = read_jsonl(out) if r.returncode == 0 else []
        check(os.stat(out).st_mode & 0o777 == 0o600, "-o FILE is not created 0600")
        det = detections(got)
        times = sorted(d["@timestamp"] for d in det)
        want = sorted(iso(t) for t in PLANTED_IN)
        check(times == want, f"hunt detections at {times}, want exactly {want}")
        check(all(d["source"]["topic"] == TOPIC for d in det), "detections name another topic")
        idx = {iso(t): i for i, (t, _, l) in enumerate(lines) if "Accepted" in l}
        offs = sorted((d["source"]["partition"], d["source"]["offset"]) for d in det)
        want_offs = sorted((idx[iso(t)] % PARTS, idx[iso(t)] // PARTS) for t in PLANTED_IN)
        check(offs == want_offs, f"detections at {offs}, want {want_offs}")
        check("outside it" in r.stderr and " 0 outside it" not in r.stderr,
              "the events read within the margin but outside the range were not counted")
        acc = accounted(r.stderr)
        check(acc and acc[0], f"messages not accounted for: {acc}")
        # 2. the live group's offsets are untouched
        after = committed(live_group)
        check(after == before, f"the live group's offsets moved: {before} -> {after}")
        # 3. equals a replay of the range's lines
        rng = os.path.join(tmp, "range.log")
        with open(rng, "w") as f:
            for t, _, l in lines:
                if 10 * 3600 <= t < 12 * 3600:
                    f.write(l + "\n")
        rp = subprocess.run([TOCSIN, "replay", "-f", "rfc5424", "-t", "agency-h", "-r",
                             rule_dir, rng], capture_output=True, text=True)
        check(rp.returncode == 0, f"replay exit {rp.returncode}: {rp.stderr[-300:]}")
        rep = [json.loads(l) for l in rp.stdout.splitlines() if l.strip()]
        check(sorted(map(without_source, detections(rep))) == sorted(map(without_source, det)),
              "hunt detections differ from replay's over the range's lines")
        inc_h = sorted(json.dumps(j, sort_keys=True) for j in got if j.get("kind") == "incident")
        inc_r = sorted(json.dumps(j, sort_keys=True) for j in rep if j.get("kind") == "incident")
        check(inc_h == inc_r and len(inc_h) == 1,
              f"hunt incidents differ from replay's: {inc_h} vs {inc_r}")
        # 3a. the same over the archived lines (the whole day, gzipped):
        # `hunt --files` kept as a hunt, listed, the Kafka hunt's detections
        day_gz = os.path.join(tmp, "day.log.gz")
        with gzip.open(day_gz, "wt") as f:
            for _, _, l in lines:
                f.write(l + "\n")
        fdb = os.path.join(tmp, "files-db")
        r = hunt(["--files", day_gz, "-f", "rfc5424", "-t", "agency-h", "--rules", rule_dir,
                  "--from", FROM, "--to", TO, "--db", fdb, "-q"])
        check(r.returncode == 0 and "in 1 file(s)" in r.stderr,
              f"hunt --files exit {r.returncode}: {r.stderr[-400:]}")
        fids = os.listdir(os.path.join(fdb, "hunts")) if r.returncode == 0 else []
        fdet = read_jsonl(os.path.join(fdb, "hunts", fids[0], "detections.jsonl")) if fids else []
        check(sorted(map(without_source, fdet)) == sorted(map(without_source, det)),
              f"hunt --files: {len(fdet)} detections, the Kafka hunt {len(det)} (or they differ)")
        ls = subprocess.run([TOCSIN, "hunts", "--db", fdb, "list"], capture_output=True,
                            text=True)
        check(len(fids) == 1 and fids[0] in ls.stdout and " done " in ls.stdout,
              f"hunts list after hunt --files: {ls.stdout} {ls.stderr}")
        # 3b. retro-hunt: indicators loaded after the events were consumed
        idb = os.path.join(tmp, "intel-db")
        src = f"advisory-{RUN}"
        with open(os.path.join(tmp, "adv.csv"), "w") as f:
            f.write("value,type,confidence\n203.0.113.66,ip,90\n")
        with open(os.path.join(tmp, "other.csv"), "w") as f:
            f.write("value,type,confidence\n198.51.100.1,ip,50\n")  # noise host: another source
        for csv, name in (("adv.csv", src), ("other.csv", "old-feed")):
            subprocess.run([TOCSIN, "intel", "load", "--db", idb, "--source", name,
                            os.path.join(tmp, csv)], check=True, capture_output=True)
        out = os.path.join(tmp, "intel.jsonl")
        r = hunt(["-c", hunt_cfg, "--intel", src, "--intel-db", idb, "--from", FROM, "--to", TO,
                  "-o", out, "--progress", "none"])
        check(r.returncode == 0, f"intel hunt exit {r.returncode}: {r.stderr[-400:]}")
        sight = detections(read_jsonl(out)) if r.returncode == 0 else []
        check(sorted(d["@timestamp"] for d in sight) == want and
              all(d["rule_title"] == f"Indicator sighting: {src}" for d in sight),
              f"intel sightings {[(d['@timestamp'], d['rule_title']) for d in sight]}, want {want}")
        check("3 sighting(s) of indicators of " + src in r.stderr,
              f"the summary does not count the sightings: {r.stderr[-300:]}")
        # intel load --hunt 30d: load a new source, then the retro-hunt of it
        # over the last 30 days of the topics (the day is 2026-11-20: within
        # them when the clock is before 2026-12-20): every planted line,
        # the ones outside [10:00, 12:00) too
        src2 = f"advisory2-{RUN}"
        lh = subprocess.run([TOCSIN, "intel", "load", "--db", idb, "--source", src2,
                             os.path.join(tmp, "adv.csv"), "--hunt", "30d", "-c", hunt_cfg],
                            capture_output=True, text=True)
        sight2 = [json.loads(l) for l in lh.stdout.splitlines() if l.startswith("{")]
        sight2 = detections(sight2)
        want_all = sorted(iso(t) for t in PLANTED_IN + PLANTED_OUT)
        if time.time() < DAY + 30 * 86400 - 3600:
            check(lh.returncode == 0 and
                  sorted(d["@timestamp"] for d in sight2) == want_all and
                  all(d["rule_title"] == f"Indicator sighting: {src2}" for d in sight2) and
                  f"6 sighting(s) of indicators of {src2}" in lh.stderr,
                  f"intel load --hunt 30d: exit {lh.returncode}, sightings "
                  f"{sorted(d['@timestamp'] for d in sight2)}, want {want_all}: "
                  f"{lh.stderr[-300:]}")
        lh = subprocess.run([TOCSIN, "intel", "load", "--db", idb, os.path.join(tmp, "adv.csv"),
                             "--hunt", "30d", "-c", hunt_cfg], capture_output=True, text=True)
        check(lh.returncode == 2 and "--hunt needs --source" in lh.stderr,
              f"intel load --hunt without --source: exit {lh.returncode}, {lh.stderr[-200:]}")
        r = hunt(["-c", hunt_cfg, "--intel", src, "--from", FROM, "--to", TO, "-o", out])
        check(r.returncode == 2 and "--intel needs the threat-intel database" in r.stderr,
              f"--intel without a database: exit {r.returncode}, {r.stderr[-200:]}")
        # 3c. narrowing and what is not there
        r = hunt(["-c", hunt_cfg, "--rules", rule_dir, "--from", FROM, "--to", TO, "-o", out,
                  "--tenant", "agency-x", "--progress", "none"])
        acc = accounted(r.stderr)
        check(r.returncode == 0 and "detections: 0" in r.stderr and
              " 0 events in the range, 0 outside it" in r.stderr and acc and acc[0],
              f"--tenant agency-x: exit {r.returncode}, {r.stderr[-300:]}")
        r = hunt(["-c", hunt_cfg, "--rules", rule_dir, "--from", FROM, "--to", TO, "-o", out,
                  "--topics", "^nothing-like-it$"])
        check(r.returncode == 2 and "no topic of the config matching --topics" in r.stderr,
              f"--topics matching nothing: exit {r.returncode}, {r.stderr[-300:]}")
        r = hunt(["-c", hunt_cfg, "--rules", rule_dir, "--from", FROM, "--to", TO, "-o", out,
                  "--topics", "hunt.("])
        check(r.returncode == 2 and '--topics "hunt.("' in r.stderr,
              f"a bad --topics regex: exit {r.returncode}, {r.stderr[-300:]}")
        r = hunt(["-c", hunt_cfg, "--rules", rule_dir, "--from", "2026-10-01T00:00:00Z",
                  "--to", "2026-10-02T00:00:00Z", "-o", out, "--progress", "none"])
        check(r.returncode == 0 and "hold no record within the range" in r.stderr,
              f"a range before the topic's records: exit {r.returncode}, {r.stderr[-300:]}")
        # 4. --db, killed half-way (a day with every rule: long enough), resumed
        db = os.path.join(tmp, "hunts-db")
        slow_cfg = config(live_group, os.path.join(tmp, "live-db"), "etc/rules", batch=20)
        full = ["-c", slow_cfg, "--rules", rule_dir, "--rules", "etc/rules",
                "--from", "2026-11-20T00:00:00Z", "--to", "2026-11-21T00:00:00Z"]
        ref = hunt(full + ["-o", os.path.join(tmp, "ref.jsonl"), "--progress", "none",
                           "--threads", "1"])
        check(ref.returncode == 0, f"reference hunt exit {ref.returncode}: {ref.stderr[-300:]}")
        ref_all = read_jsonl(os.path.join(tmp, "ref.jsonl"))
        ref_det = sorted(map(json.dumps, detections(ref_all)))
        # 4a. the partitions read in parallel: the same detections and incidents
        t2 = hunt(full + ["-o", os.path.join(tmp, "t2.jsonl"), "--progress", "none",
                          "--threads", "2"])
        check(t2.returncode == 0, f"--threads 2 hunt exit {t2.returncode}: {t2.stderr[-300:]}")
        t2_all = read_jsonl(os.path.join(tmp, "t2.jsonl")) if t2.returncode == 0 else []
        check(sorted(map(json.dumps, detections(t2_all))) == ref_det and ref_det,
              f"--threads 2: {len(detections(t2_all))} detections, --threads 1 {len(ref_det)} "
              f"(or they differ)")
        inc1 = sorted(json.dumps(j, sort_keys=True) for j in ref_all if j.get("kind") == "incident")
        inc2 = sorted(json.dumps(j, sort_keys=True) for j in t2_all if j.get("kind") == "incident")
        check(inc1 == inc2 and inc1, f"--threads 2: {len(inc2)} incidents, --threads 1 "
                                     f"{len(inc1)} (or they differ)")
        ref_acc = SUMMARY.search(ref.stderr)
        print(f"hunt: --threads 1 and 2: {len(ref_det)} detections, {len(inc1)} incidents each",
              flush=True)
        # a resume point every 20000 events: the first progress line (1 s)
        # comes after several, and long before the end of the day (the
        # previous version waited for the 2 s commit, 3 lines, and a faster
        # build finished first)
        p = subprocess.Popen([TOCSIN, "hunt"] + full + ["--db", db, "--progress", "plain",
                             "--progress-interval", "1", "--commit-every", "20000"],
                             stderr=subprocess.PIPE, text=True)
        hid, lines_seen = None, []
        while True:
            l = p.stderr.readline()
            if not l:
                break
            lines_seen.append(l)
            if l.startswith("hunt h-") and "msg/s" in l:
                hid = l.split()[1].rstrip(":")
                break
        killed = p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait()
        check(killed and hid, f"the hunt ended before it could be killed: {lines_seen[-3:]}")
        rec = json.load(open(os.path.join(db, "hunts", hid, "hunt.json")))
        check(rec["status"] == "running", f"killed hunt's status {rec['status']}")
        print(f"hunt: killed {hid} at {lines_seen[-1].strip()}", flush=True)
        r = hunt(["--db", db, "--resume", hid, "--progress", "none"])
        check(r.returncode == 0, f"resume exit {r.returncode}: {r.stderr[-400:]}")
        m = SUMMARY.search(r.stderr)
        check(m and int(m.group(1)) < int(m.group(2)),
              f"the resume did not start from stored offsets: {m and m.group(0)}")
        got_det = sorted(map(json.dumps,
                             read_jsonl(os.path.join(db, "hunts", hid, "detections.jsonl"))))
        check(got_det == ref_det, f"resumed hunt: {len(got_det)} detections, uninterrupted "
                                  f"{len(ref_det)} (or they differ)")
        rec = json.load(open(os.path.join(db, "hunts", hid, "hunt.json")))
        check(rec["status"] == "done", f"resumed hunt's status {rec['status']}")
        # the counts cover the whole hunt, not only what the resume read
        want_pl = int(ref_acc.group(2)) if ref_acc else -1
        check(rec["counts"]["planned"] == want_pl and rec["counts"]["read"] == want_pl,
              f"resumed hunt.json: planned {rec['counts']['planned']}, read "
              f"{rec['counts']['read']}; the whole range is {want_pl}")
        inc_ref = [j["incident"] for j in read_jsonl(os.path.join(tmp, "ref.jsonl"))
                   if j.get("kind") == "incident"]
        check(rec["counts"]["incidents"] == len({i["id"] for i in inc_ref}),
              f"resumed hunt has {rec['counts']['incidents']} incidents, the uninterrupted "
              f"one {len({i['id'] for i in inc_ref})}")
        ls = subprocess.run([TOCSIN, "hunts", "--db", db, "list"], capture_output=True,
                            text=True)
        check(ls.returncode == 0 and hid in ls.stdout and " done " in ls.stdout,
              f"hunts list: {ls.stdout} {ls.stderr}")
        sh = subprocess.run([TOCSIN, "hunts", "--db", db, "show", hid, "--json"],
                            capture_output=True, text=True)
        shown = [json.loads(l) for l in sh.stdout.splitlines() if l.strip()]
        check(sh.returncode == 0 and shown and shown[0]["hunt"]["id"] == hid and
              len([s for s in shown if s.get("kind") == "detection"]) == len(ref_det),
              f"hunts show: {sh.stdout[:300]} {sh.stderr[-300:]}")
        check(after == committed(live_group), "the live group's offsets moved during the hunts")
        # 5. SIGINT: a clean stop that says how to resume
        p = subprocess.Popen([TOCSIN, "hunt"] + full + ["--db", db, "--progress", "plain",
                             "--progress-interval", "1"], stderr=subprocess.PIPE, text=True)
        l = p.stderr.readline()
        while l and "msg/s" not in l:
            l = p.stderr.readline()
        p.send_signal(signal.SIGINT)
        rest = p.stderr.read()
        rc = p.wait(60)
        check(rc == 130 and "resume with: tocsin hunt --db" in rest,
              f"SIGINT: exit {rc}, {rest[-300:]}")
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(60)
    print(f"hunt: {len(lines)} events of a day on {PARTS} partitions: the range's 3 planted "
          f"detections found, live offsets unchanged, intel sightings, kill -9 + resume identical"
          if not fails else f"hunt: {len(fails)} failure(s)", flush=True)
    if not fails:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
