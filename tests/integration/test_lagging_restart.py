#!/usr/bin/env python3
"""A restart while a partition lags hours of event time behind another (the
30-min soak's loss, `make soak`: kill -9 every 180 s, 2 workers).

Partition 0 carries one failed login a minute for three hours (no incident:
never 5 in a minute); partition 1, consumed by the other worker, an SSH
brute force at 10:00 that is half way when `tocsin run` is killed with
SIGKILL, and an address with 3 of its 5 failures. Partition 1 is then more
than correlate idle_ns (1 h) behind partition 0: the eviction bound of its
keys is its own watermark, not the others' time. After the restart a batch
of partition 0 comes first (its sweep), then the rest of both attacks on
partition 1. Expected, as in one uninterrupted reference run over the same
topic: one incident of 20 failures and one of 5 - before the fix the
restored keys had no source, the first sweep expired them by partition 0's
time, and the attack's second half became an incident of its own (10) while
the 5 failures made none."""
import os
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
TOPIC = f"lagging.{RUN}"
ATTACK, FEW, QUIET = "203.0.113.7", "203.0.113.9", "192.0.2.1"
tmp = tempfile.mkdtemp(prefix="tocsin-lagging-")
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)


def line(t, ip, k):
    hh, mm, ss = t // 3600 % 24, t // 60 % 60, t % 60
    return (f"<38>Nov 20 {hh:02d}:{mm:02d}:{ss:02d} portal-01 sshd[{1000 + k}]: "
            f"Failed password for root from {ip} port {2000 + k} ssh2")


def fails_of(ip, start, first, n, step=4):
    """Failures first..first+n-1 of ip, step s apart from start (s of day)."""
    return [(start + k * step, line(start + k * step, ip, k)) for k in range(first, first + n)]


def merged(*runs):
    return [l for _, l in sorted((x for r in runs for x in r), key=lambda x: x[0])]


def by_group(incs):
    return {v[1]: v for v in incs.values()}


def main():
    t10 = 10 * 3600
    quiet = [line(t10 + 60 * m, QUIET, m) for m in range(181)]  # 10:00 .. 13:00
    p1_first = merged(fails_of(ATTACK, t10, 0, 10), fails_of(FEW, t10 + 2, 0, 3))
    p1_rest = merged(fails_of(ATTACK, t10, 10, 10), fails_of(FEW, t10 + 2, 3, 2))
    ends = testlib.produce(KTOOL, BOOT, TOPIC, [quiet, p1_first])
    d = os.path.join(tmp, "run")
    os.makedirs(d)
    cfg = testlib.run_config(os.path.join(d, "tocsin.yml"), BOOT, f"g-lag-{RUN}", [TOPIC],
                             f"{d}/db")
    r = testlib.Run(TOCSIN, cfg, os.path.join(d, "run0.err"))
    check(testlib.wait_committed(KTOOL, BOOT, f"g-lag-{RUN}", TOPIC, ends, 120, r.p),
          "the first run did not commit the first part")
    r.p.send_signal(signal.SIGKILL)  # the state and offsets are in LMDB
    r.p.wait()
    r.err.close()
    # partition 0 first: the restarted run's first batch and sweep
    testlib.produce(KTOOL, BOOT, TOPIC, [[line(t10 + 3 * 3600 + 60, QUIET, 181)], []],
                    create=False)
    ends[0] += 1
    r = testlib.Run(TOCSIN, cfg, os.path.join(d, "run1.err"))
    check(testlib.wait_committed(KTOOL, BOOT, f"g-lag-{RUN}", TOPIC, ends, 120, r.p),
          "the restarted run did not commit partition 0's new line")
    testlib.produce(KTOOL, BOOT, TOPIC, [[], p1_rest], create=False)
    ends[1] += len(p1_rest)
    check(testlib.wait_committed(KTOOL, BOOT, f"g-lag-{RUN}", TOPIC, ends, 120, r.p),
          "the restarted run did not commit the rest of partition 1")
    check(r.stop() == 0, "the restarted run did not exit 0 on SIGTERM")
    got = testlib.incidents(TOCSIN, f"{d}/db")
    # the reference: one run, no restart, over the same topic
    rd = os.path.join(tmp, "reference")
    os.makedirs(rd)
    rcfg = testlib.run_config(os.path.join(rd, "tocsin.yml"), BOOT, f"g-lag-ref-{RUN}",
                              [TOPIC], f"{rd}/db")
    rr = testlib.Run(TOCSIN, rcfg, os.path.join(rd, "run0.err"))
    check(testlib.wait_committed(KTOOL, BOOT, f"g-lag-ref-{RUN}", TOPIC, ends, 120, rr.p),
          "the reference run did not finish")
    check(rr.stop() == 0, "the reference run did not exit 0 on SIGTERM")
    ref = testlib.incidents(TOCSIN, f"{rd}/db")
    g, rg = by_group(got), by_group(ref)
    print(f"restarted: {sorted(g.values(), key=lambda v: v[1])}")
    print(f"reference: {sorted(rg.values(), key=lambda v: v[1])}")
    a = g.get(f"src_ip={ATTACK}")
    check(len(got) == 2, f"{len(got)} incident(s) after the restart, 2 expected")
    check(a is not None and a[2] == 20 and a[3].endswith("10:00:00Z"),
          f"the attack across the restart: {a} (20 failures from 10:00:00 expected)")
    f = g.get(f"src_ip={FEW}")
    check(f is not None and f[2] == 5, f"3 + 2 failures across the restart: {f} (5 expected)")
    diff = testlib.diff_incidents(ref, got)
    check(not diff, f"incidents differ from the reference run: {diff}")
    print("lagging restart: " + ("PASSED" if not fails else f"FAILED ({len(fails)})"))
    if not fails:
        subprocess.run(["rm", "-rf", tmp])
    else:
        print(f"logs in {tmp}")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
