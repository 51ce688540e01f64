#!/usr/bin/env python3
"""Delivery guarantees of `tocsin run` against a real Kafka broker.

1. 100k messages on 4 partitions, 2 workers: every message is seen exactly
   once, with its true source position (checked against the producer's
   manifest of where each numbered message landed).
2. A clean restart (SIGTERM, start again) redelivers nothing.
3. kill -9 in mid-stream, several times, then a restart: every message is seen
   at least once, and the only ones seen again are those at or after the offset
   committed when the process died.

Needs TOCSIN_KAFKA_BOOTSTRAP; KTOOL and TOCSIN point at the binaries.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BOOT = os.environ["TOCSIN_KAFKA_BOOTSTRAP"]
KTOOL = os.environ.get("KTOOL", "build/tools/ktool")
TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
N = int(os.environ.get("DELIVERY_N", "100000"))
PARTS = 4
TMP = tempfile.mkdtemp(prefix="tocsin-delivery-")
failures = []
RUN = f"{os.getpid()}-{int(time.time())}"  # fresh topics and groups on a reused broker


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def ktool(*args, capture=False):
    r = subprocess.run([KTOOL, *args], check=True, capture_output=capture, text=True)
    return r.stdout


def config(topic, group):
    path = os.path.join(TMP, f"{group}.yml")
    with open(path, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: {group}
  workers: 2
  batch_size: 500
  properties:
    # a killed member leaves the group after this, not after the default 45 s
    session.timeout.ms: 6000
    heartbeat.interval.ms: 1000
topics:
  - name: {topic}
    format: rfc3164
    tenant: agency-test
log:
  level: info
""")
    return path


def start(cfg, out):
    err = open(out + ".stderr", "w")
    return subprocess.Popen([TOCSIN, "run", "-c", cfg, "-o", out, "--stats-interval", "0"],
                            stderr=err, stdout=subprocess.DEVNULL)


def read_events(path):
    """(partition, offset, seq) per complete line; a torn last line is ignored."""
    res = []
    if not os.path.exists(path):
        return res
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            check(i == len(lines) - 1, f"{path}: corrupt line {i + 1} that is not the last")
            continue
        raw = ev["raw"]
        seq = int(raw.split("seq=")[1].split()[0])
        res.append((ev["source"]["partition"], ev["source"]["offset"], seq))
        check(ev["source"]["topic"] and ev["tenant"] == "agency-test", f"bad envelope: {ev}")
    return res


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_lines(path, n, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if count_lines(path) >= n:
            return True
        time.sleep(0.2)
    return False


def wait_assigned(proc, errpath, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        with open(errpath) as f:
            if f.read().count("assigned") >= 2 or proc.poll() is not None:
                return
        time.sleep(0.2)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


def manifest(path):
    m = {}
    with open(path) as f:
        for line in f:
            s, p, o = map(int, line.split())
            m[s] = (p, o)
    return m


def committed(group, topic):
    out = ktool("committed", BOOT, group, topic, str(PARTS), capture=True)
    return {int(p): int(o) for p, o in (l.split() for l in out.strip().splitlines())}


def produce(topic, start_seq=0):
    ktool("create", BOOT, topic, str(PARTS))
    man = os.path.join(TMP, topic + ".manifest")
    ktool("produce", BOOT, topic, str(N), "-p", str(PARTS), "-f", str(start_seq), "-m", man)
    return manifest(man)


def part1_exactly_once_and_clean_restart():
    topic, group = f"delivery.once.{RUN}", f"g-once-{RUN}"
    man = produce(topic)
    cfg = config(topic, group)
    out = os.path.join(TMP, "once.jsonl")
    t0 = time.time()
    p = start(cfg, out)
    check(wait_lines(out, N, 180), f"not all {N} events arrived")
    rc = stop(p)
    took = time.time() - t0
    check(rc == 0, f"SIGTERM exit code {rc}")
    evs = read_events(out)
    seen = {}
    for part, off, seq in evs:
        seen.setdefault((part, off), []).append(seq)
    check(len(evs) == N, f"{len(evs)} events for {N} messages")
    check(len(seen) == N, f"{len(seen)} distinct positions for {N} messages")
    bad = [s for s, pos in man.items() if seen.get(pos) != [s]]
    check(not bad, f"{len(bad)} messages not seen exactly once at their position, e.g. {bad[:5]}")
    com = committed(group, topic)
    check(all(com[pp] == N // PARTS for pp in range(PARTS)), f"committed offsets {com}")
    print(f"delivery: {N} messages on {PARTS} partitions, 2 workers: each seen once at its "
          f"position ({took:.1f} s incl. start-up)", flush=True)
    # clean restart: nothing is redelivered
    out2 = os.path.join(TMP, "once-restart.jsonl")
    p = start(cfg, out2)
    wait_assigned(p, out2 + ".stderr")
    time.sleep(3)
    rc = stop(p)
    check(rc == 0, f"restart SIGTERM exit code {rc}")
    n2 = count_lines(out2)
    check(n2 == 0, f"clean restart redelivered {n2} events")
    print(f"delivery: clean restart redelivered {n2} events", flush=True)


def part2_kill9():
    topic, group = f"delivery.kill.{RUN}", f"g-kill-{RUN}"
    man = produce(topic)
    cfg = config(topic, group)
    all_seen = {}
    kills = 0
    for i, frac in enumerate((0.2, 0.45, 0.7)):
        out = os.path.join(TMP, f"kill-{i}.jsonl")
        before = committed(group, topic)
        p = start(cfg, out)
        target = int(N * frac) - sum(max(0, o) for o in before.values())
        wait_lines(out, max(1, target), 120)
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        com = committed(group, topic)
        evs = read_events(out)
        per = {}
        for part, off, seq in evs:
            check(man[seq] == (part, off), f"seq {seq} reported at {(part, off)}")
            check((part, off) not in per, f"run {i}: {(part, off)} twice in one run")
            per[(part, off)] = seq
        # what this run saw again must be uncommitted at the time of the previous death
        again = [pos for pos in per if pos in all_seen]
        check(all(pos[1] >= max(0, before.get(pos[0], -1)) for pos in again),
              f"run {i} redelivered committed messages: "
              f"{[pos for pos in again if pos[1] < before.get(pos[0], -1)][:5]}")
        # everything committed at death was seen by someone
        for pp, o in com.items():
            for off in range(max(0, o)):
                if (pp, off) not in per and (pp, off) not in all_seen:
                    check(False, f"committed offset {off} of partition {pp} never seen")
                    break
        for pos, seq in per.items():
            all_seen.setdefault(pos, []).append(seq)
        print(f"delivery: kill -9 #{kills} after {len(evs)} events; committed {com}; "
              f"{len(again)} seen again, all uncommitted", flush=True)
    before = committed(group, topic)
    out = os.path.join(TMP, "kill-final.jsonl")
    p = start(cfg, out)
    remaining = N - sum(max(0, o) for o in before.values())
    wait_lines(out, remaining, 180)
    time.sleep(1)
    rc = stop(p)
    check(rc == 0, f"final SIGTERM exit code {rc}")
    evs = read_events(out)
    final = {(pp, o) for pp, o, _ in evs}
    expect = {(pp, o) for pp in range(PARTS) for o in range(max(0, before[pp]), N // PARTS)}
    check(final == expect,
          f"after the last restart: {len(final - expect)} committed ones again, "
          f"{len(expect - final)} uncommitted ones missing")
    for pos in final:
        all_seen.setdefault(pos, []).append(0)
    missing = [s for s, pos in man.items() if pos not in all_seen]
    check(not missing, f"{len(missing)} messages lost, e.g. {missing[:5]}")
    dups = sum(len(v) - 1 for v in all_seen.values())
    print(f"delivery: after {kills} kill -9 and a restart: {N - len(missing)}/{N} seen, "
          f"none lost; {dups} redeliveries, all of uncommitted offsets", flush=True)


def main():
    part1_exactly_once_and_clean_restart()
    part2_kill9()
    if failures:
        print(f"delivery: {len(failures)} failure(s)")
        sys.exit(1)
    print("delivery: ok")


if __name__ == "__main__":
    main()
