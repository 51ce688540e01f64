#!/usr/bin/env python3
"""Exactly once across crashes (issue 5): an SSH brute-force stream on 4
partitions of a real broker, correlated by `tocsin run` with its state,
incidents and input offsets in LMDB. One uninterrupted run gives the
reference incidents; a second consumer group with its own data directory is
killed with SIGKILL at random points several times and restarted; after the
last restart its incidents must be exactly the reference ones: same ids, same
counts, same first/last seen, same groups — nothing lost, nothing counted
twice; and `tocsin summary` over both stores gives the same per-period
counters (every event counted once, the same detections by rule)."""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

BOOT = os.environ["TOCSIN_KAFKA_BOOTSTRAP"]
TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
KTOOL = os.environ.get("KTOOL", "build/tools/ktool")
RUN = f"{os.getpid()}-{int(time.time())}"
TOPIC = f"bruteforce.{RUN}"
PARTS = 4
tmp = tempfile.mkdtemp(prefix="tocsin-exactly-once-")
rnd = random.Random(int(os.environ.get("SEED", "20261128")))
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)


def config(name):
    """TMP/name/tocsin.yml, its group and directory: testlib's run config
    over TOPIC, warnings only."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    group = f"g-{name}-{RUN}"
    path = testlib.run_config(os.path.join(d, "tocsin.yml"), BOOT, group, [TOPIC], f"{d}/db",
                              log_level="warning")
    return path, group, d


def committed(group):
    return testlib.committed(KTOOL, BOOT, group, TOPIC, PARTS)


def start(cfg, d, n):
    return testlib.start_run(TOCSIN, cfg, d, n)


def wait_done(group, ends, timeout=180):
    return testlib.wait_committed(KTOOL, BOOT, group, TOPIC, ends, timeout)


def incidents(d):
    return testlib.incidents(TOCSIN, os.path.join(d, "db"))


def summary(d):
    """The store's per-period counters (every hour): events, detections by rule."""
    out = subprocess.run([TOCSIN, "summary", "--db", os.path.join(d, "db"), "--period", "custom",
                          "--from", "2000-01-01", "--to", "2100-01-01", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    return (j["events"]["total"], j["detections"]["total"],
            sorted((r["key"], r["detections"]) for r in j["detections"]["by_rule"]),
            j["incidents"]["total"])


def main():
    # per partition, in event-time order: each source address on one
    # partition (as with a key); bursts that make several episodes, some
    # below the threshold
    parts = testlib.produce(KTOOL, BOOT, TOPIC, testlib.ssh_stream(PARTS))
    total = sum(parts)
    # reference: one uninterrupted run
    cfg, group, d = config("ref")
    p = start(cfg, d, 0)
    check(wait_done(group, parts), "reference run did not consume everything")
    p.send_signal(signal.SIGTERM)
    check(p.wait(60) == 0, "reference run did not exit 0")
    ref = incidents(d)
    check(len(ref) > 100, f"reference run produced only {len(ref)} incidents")
    ref_sum = summary(d)
    check(ref_sum[0] == total and ref_sum[3] == len(ref),
          f"reference summary: {ref_sum[0]} events (of {total}), {ref_sum[3]} incidents")
    # the same stream with SIGKILL at random points
    cfg, group, d = config("kill")
    kills = 0
    for n in range(4):
        p = start(cfg, d, n + 1)
        base = sum(max(0, o) for o in committed(group).values())
        target = min(base + rnd.uniform(0.08, 0.2) * total, 0.95 * total)
        t_end = time.time() + 60
        while time.time() < t_end:
            c = committed(group)
            if sum(max(0, o) for o in c.values()) >= target or p.poll() is not None:
                break
            time.sleep(rnd.uniform(0.02, 0.1))
        time.sleep(rnd.uniform(0, 0.05))  # land anywhere, also inside a batch
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        c = committed(group)
        print(f"exactly-once: kill -9 #{kills} at {sum(max(0, o) for o in c.values())}/{total} "
              f"committed", flush=True)
    p = start(cfg, d, 9)
    # up before it is stopped: when the kills left nothing to consume, the
    # SIGTERM below used to land while the process was still being loaded
    # (exit -15, before any handler could exist); its detections file is
    # opened once its config is read, after the handler is installed
    out9 = os.path.join(d, "out9.jsonl")
    for _ in range(300):
        if os.path.exists(out9) or p.poll() is not None:
            break
        time.sleep(0.1)
    check(wait_done(group, parts), "run after the kills did not consume everything")
    p.send_signal(signal.SIGTERM)
    check(p.wait(60) == 0, "last run did not exit 0")
    got = incidents(d)
    missing = set(ref) - set(got)
    extra = set(got) - set(ref)
    differ = [i for i in set(ref) & set(got) if ref[i] != got[i]]
    check(not missing, f"{len(missing)} reference incidents missing after the kills, e.g. "
                       f"{[ref[i] for i in sorted(missing)[:3]]}")
    check(not extra, f"{len(extra)} incidents that the reference run does not have, e.g. "
                     f"{[got[i] for i in sorted(extra)[:3]]}")
    check(not differ, f"{len(differ)} incidents differ, e.g. {[(ref[i], got[i]) for i in differ[:3]]}")
    # the per-period counters ride in the batches' transactions: each event once
    got_sum = summary(d)
    check(got_sum == ref_sum, f"summary after {kills} kill -9: {got_sum[0]} events, "
          f"{got_sum[1]} detections, {got_sum[3]} incidents; the uninterrupted run's: "
          f"{ref_sum[0]}, {ref_sum[1]}, {ref_sum[3]}")
    counts = sum(v[2] for v in got.values())
    print(f"exactly-once: {total} events on {PARTS} partitions, {kills} kill -9 + restart: "
          f"{len(got)} incidents ({counts} contributing events) identical to the uninterrupted "
          f"run's {len(ref)}" if not fails else f"exactly-once: {len(fails)} failure(s)", flush=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
