#!/usr/bin/env python3
"""replay --db is crash-safe and resumable.

A 300,000-line sshd brute-force stream (3,000 source addresses) is replayed
with the shipped SSH brute-force rule into a fresh store (the reference,
one commit per batch).
The same command (one commit per 20,000 events) is then run into a second store and killed with SIGKILL at
random moments three times, and run once more to the end: it must resume
after the last committed line of the file and leave exactly the incidents
of the reference (ids, counts, first/last seen, evidence counts), the
same evidence references for a sample of them, and the same per-period
counters in `tocsin summary` (events, detections by rule, incidents). A third run over a store
that already holds the whole file adds nothing.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
RULE = "etc/rules/correlation/mr_ssh_brute_force.yml"
TMP = tempfile.mkdtemp(prefix="tocsin-resume-")
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)


def replay(db, wait=True, every="20000"):
    args = [TOCSIN, "replay", "-q", "-r", RULE, "--db", db, "--commit-every", every,
            f"{TMP}/auth.log"]
    if wait:
        return subprocess.run(args, capture_output=True, text=True)
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def incidents(db):
    out = subprocess.run([TOCSIN, "incidents", "--db", db, "list", "--json"], check=True,
                         capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        d = json.loads(line)
        res[d["id"]] = (d["count"], d["first_seen"], d["last_seen"], d["evidence"],
                        d["group_key"])
    return res


def evidence(db, iid):
    out = subprocess.run([TOCSIN, "incidents", "--db", db, "show", iid, "--json"], check=True,
                         capture_output=True, text=True).stdout
    ev = json.loads(out)["evidence_records"]
    return [(e["seq"], e["source"], e["offset"], e["event_time"], e.get("raw")) for e in ev]


def summary(db):
    """The per-period counters and incident totals of the store (every hour)."""
    out = subprocess.run([TOCSIN, "summary", "--db", db, "--period", "custom", "--from",
                          "2000-01-01", "--to", "2100-01-01", "--format", "json"], check=True,
                         capture_output=True, text=True).stdout
    d = json.loads(out)
    return (d["events"]["total"], d["detections"]["total"],
            [(r["key"], r["detections"]) for r in d["detections"]["by_rule"]],
            d["incidents"]["total"], d["silent_loss"]["dead_letter"])


def main():
    rnd = random.Random(int(os.environ.get("SEED", "7")))
    with open(f"{TMP}/auth.log", "w") as f:
        t = 36000
        for i in range(300000):
            a = i % 3000
            if a == 0:
                t += 2
            f.write(f"Nov 20 {t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d} portal-01 "
                    f"sshd[{1000 + i % 30000}]: Failed password for root from 10.1.{a >> 8}.{a & 255}"
                    f" port {1024 + i % 60000} ssh2\n")
    ref_db, db = f"{TMP}/ref", f"{TMP}/db"
    r = replay(ref_db, every="0")  # a commit per batch
    check(r.returncode == 0, f"reference replay exit {r.returncode}: {r.stderr[-300:]}")
    ref = incidents(ref_db)
    check(len(ref) == 3000, f"reference: {len(ref)} incidents, expected 3000")
    ref_sum = summary(ref_db)
    ndet = int(r.stderr.split("detections: ")[1].split(",")[0]) if "detections: " in r.stderr else -1
    check(ref_sum[0] == 300000 and ref_sum[1] == ndet and ref_sum[3] == 3000,
          f"reference summary {ref_sum[:2]} {ref_sum[3]}: expected 300000 events, the replay's "
          f"{ndet} detections, 3000 incidents")
    t0 = time.time()
    r = replay(f"{TMP}/coalesced")  # a commit per 20,000 events: the same incidents
    full = time.time() - t0
    check(r.returncode == 0 and incidents(f"{TMP}/coalesced") == ref,
          "commits per 20,000 events gave other incidents than commits per batch")
    kills = 0
    for _ in range(3):
        p = replay(db, wait=False)
        time.sleep(rnd.uniform(0.1, 0.45) * full)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    r = replay(db)
    check(r.returncode == 0, f"final replay exit {r.returncode}: {r.stderr[-300:]}")
    check(kills == 0 or "resuming after line" in r.stderr,
          "the run after kill -9 did not resume: " + r.stderr[-300:])
    check(kills > 0, "no run was killed (the replay was faster than the kill)")
    got = incidents(db)
    check(got == ref, f"after {kills} kill -9: {len(got)} incidents, "
          f"{sum(1 for k in ref if got.get(k) != ref[k])} differ from the reference")
    # the per-period counters are written in the batches' transactions: nothing
    # of the killed runs' uncommitted batches, nothing counted twice
    got_sum = summary(db)
    check(got_sum == ref_sum, f"summary after {kills} kill -9 + resume: {got_sum[:2]}, "
          f"{got_sum[3]} incidents; uninterrupted: {ref_sum[:2]}, {ref_sum[3]}")
    for iid in rnd.sample(sorted(ref), 20):
        check(evidence(db, iid) == evidence(ref_db, iid), f"evidence of {iid} differs")
    r = replay(db)
    check(r.returncode == 0 and incidents(db) == ref, "a replay of a file already in the store "
          "changed the incidents")
    check(summary(db) == ref_sum, "a replay of a file already in the store changed the counters")
    print(f"replay resume: 300000 lines, {kills} kill -9 + restart: {len(got)} incidents "
          f"identical to the uninterrupted run ({full:.2f} s per full replay)")


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
if failures:
    print(f"test_replay_resume: {len(failures)} failure(s)")
    sys.exit(1)
print("test_replay_resume: ok")
