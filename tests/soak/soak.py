#!/usr/bin/env python3
"""Soak of `tocsin run` (issue 15, part 6; `make soak`, not in CI nor in
`make test`).

A broker of its own (tests/kafka/broker.sh), an HTTPS webhook for the
escalations that flaps (up SOAK_HOOK_UP s, down SOAK_HOOK_DOWN s), and:

1. the rate: `tocsin run` over a few chunks of the input, the same config,
   timed from its first commit to its last: events/s on this machine now;
2. for SOAK_TIME seconds (default 1800) a producer writes SSH brute-force
   chunks (RFC 5424, event time one simulated hour per chunk, all in the
   past - a time ahead of ingest time would be clamped to it - 4 partitions)
   at half that rate (at most SOAK_MAX_RATE events/s when set: on a machine
   busy with other work the quiet moment's rate cannot be held, and a run
   that falls behind holds librdkafka's prefetch - up to 64 MiB of messages
   per worker - which the RSS check would take for growth), while the run is
   killed with SIGKILL every
   SOAK_KILL_EVERY s (default 180) and started again, and the broker is
   stopped for SOAK_BROKER_DOWN s (default 10) and started again on the same
   ports and data every SOAK_BROKER_EVERY s (default 240);
3. one sample a minute (SOAK_SAMPLE): the run's pid, RSS and open file
   descriptors (/proc), events committed;
4. at the end: the run finishes the input, the webhook stays up until every
   outbox entry is delivered; a reference run (no faults, its own group and
   store) over the same topic; then the checks: incidents identical, each
   outbox entry accepted by the webhook (at least once; duplicates after a
   kill are counted), RSS bounded (anonymous memory - LMDB's mapped pages
   grow with the store and are the kernel's to drop - at most 2 x the first
   process's largest + 32 MiB), no fd growth (within each process, and the
   last sample against the first; samples of a process's first 20 s are
   printed, not judged).

Prints the curve and a summary; exit 1 when a check fails (logs kept)."""
import base64
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from testlib import (Run, Webhook, committed, diff_incidents, escalation_dir,  # noqa: E402
                     incidents, outbox, proc_fds, proc_rss_kib, run_config, wait_committed)

TOCSIN = os.path.join(ROOT, os.environ.get("TOCSIN", "bin/tocsin"))
KTOOL = os.path.join(ROOT, os.environ.get("KTOOL", "build/tools/ktool"))
BROKER_SH = os.path.join(ROOT, "tests/kafka/broker.sh")
SOAK_TIME = int(os.environ.get("SOAK_TIME", "1800"))
KILL_EVERY = int(os.environ.get("SOAK_KILL_EVERY", "180"))
BROKER_EVERY = int(os.environ.get("SOAK_BROKER_EVERY", "240"))
BROKER_DOWN = int(os.environ.get("SOAK_BROKER_DOWN", "10"))
HOOK_UP = int(os.environ.get("SOAK_HOOK_UP", "40"))
HOOK_DOWN = int(os.environ.get("SOAK_HOOK_DOWN", "20"))
SAMPLE = int(os.environ.get("SOAK_SAMPLE", "60"))
MAX_RATE = float(os.environ.get("SOAK_MAX_RATE", "0"))
WARM = 20
PARTS = 4
SOURCES = 200  # per chunk: 200 sources -> about 8,500 lines, 100 incidents
TMP = tempfile.mkdtemp(prefix="tocsin-soak-")
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
LINES_PER_CHUNK = SOURCES * (3 + 8 + 40 + 120) // 4
# Chunk k's events lie in the hours from T0 + k h (up to two hours long).
# Every chunk must lie in the past: a time ahead of ingest time is clamped
# to it (ingest_time_guard), which turns the simulated hours into the real
# clock, different in the reference run. main() sets T0 back far enough
# for the chunks the soak will produce; this first value covers measure()'s
# chunks 1000..1005.
NOW_HOUR = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
T0 = NOW_HOUR - dt.timedelta(hours=1006 + 48)
fails = []


def say(msg):
    print(f"soak: {msg}", flush=True)


def check(cond, msg):
    if not cond:
        fails.append(msg)
        say("FAIL: " + msg)
    return cond


def chunk(k):
    """Chunk k of the input, per partition in event-time order: SOURCES
    addresses (their own per chunk) failing SSH logins in bursts over one
    simulated hour starting at T0 + k hours."""
    per = [[] for _ in range(PARTS)]
    base = T0 + dt.timedelta(hours=k)
    for i in range(SOURCES):
        ip = f"10.{k // 250 % 250}.{k % 250}.{i + 1}"
        t = (i * 7) % 1800
        for j in range([3, 8, 40, 120][i % 4]):
            t += 4 if (j // 20) % 2 == 0 else 90
            ts = (base + dt.timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")
            per[i % PARTS].append((t, f"<38>1 {ts} portal-{i % 8:02d} sshd {1000 + j} - - "
                                      f"Failed password for root from {ip} port {2000 + j} ssh2"))
    for p in per:
        p.sort(key=lambda x: x[0])
    return [[line for _, line in p] for p in per]


class Broker:
    def __init__(self):
        self.dir = os.path.join(TMP, "kafka")
        os.makedirs(self.dir)
        self.up = threading.Event()
        self.boot = self.cmd("start")
        self.up.set()

    def cmd(self, what):
        r = subprocess.run([BROKER_SH, what, self.dir], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"broker.sh {what}: {r.stderr[-400:]}")
        return r.stdout.strip()

    def bounce(self):
        self.up.clear()
        self.cmd("stop")
        time.sleep(BROKER_DOWN)
        self.cmd("restart")
        self.up.set()

    def stop(self):
        subprocess.run([BROKER_SH, "stop", self.dir], capture_output=True)


def end_offsets(boot, topic):
    """[end offset per partition] of topic (kcat -Q, timestamp -1)."""
    args = ["kcat", "-Q", "-b", boot]
    for p in range(PARTS):
        args += ["-t", f"{topic}:{p}:-1"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    ends = [0] * PARTS
    for line in out.splitlines():
        w = line.split()
        ends[int(w[1].strip("[]"))] = int(w[-1])
    return ends


def produce_chunk(broker, topic, k, ends):
    """Chunk k to the topic; waits while the broker is down and sends a
    partition's part again when the broker went down meanwhile (the input
    may then hold lines twice: the reference run reads the same topic)."""
    c = chunk(k)
    for p, lines in enumerate(c):
        while True:
            broker.up.wait()
            r = subprocess.run(["kcat", "-P", "-b", broker.boot, "-t", topic, "-p", str(p),
                                "-X", "message.timeout.ms=20000"],
                               input="\n".join(lines) + "\n", text=True, capture_output=True)
            if r.returncode == 0 and "ERROR" not in r.stderr:
                break
            time.sleep(1)  # the broker went down meanwhile: the whole part again
        ends[p] += len(lines)
    return sum(len(l) for l in c)


def config(broker, name, topic, hook, esc):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    ch = hook.channels_yml(os.path.join(d, "channels.yml"), secret_env="TOCSIN_SOAK_SECRET")
    group = f"g-{name}"
    cfg = run_config(os.path.join(d, "tocsin.yml"), broker.boot, group, [topic], f"{d}/db",
                     fmt="rfc5424",
                     extra=f"escalate:\n  regimes_dir: {esc}\n  channels: {ch}\n" if esc else "")
    return cfg, group, d


def start(cfg, d, n):
    return Run(TOCSIN, cfg, os.path.join(d, f"run{n}.err"), cwd=ROOT, stats=60,
               env=dict(os.environ, TOCSIN_SOAK_SECRET=SECRET))


def measure(broker, hook, esc):
    """events/s of one run over 6 chunks, from its first commit to its last."""
    topic = "soak.measure"
    subprocess.run([KTOOL, "create", broker.boot, topic, str(PARTS)], check=True,
                   capture_output=True)
    ends = [0] * PARTS
    n = sum(produce_chunk(broker, topic, 1000 + k, ends) for k in range(6))
    cfg, group, d = config(broker, "measure", topic, hook, esc)
    r = start(cfg, d, 0)
    first = None
    end = time.time() + 300
    while time.time() < end:
        c = committed(KTOOL, broker.boot, group, topic, PARTS)
        done = sum(max(0, o) for o in c.values())
        if done > 0 and first is None:
            first = (time.time(), done)
        if c and all(c.get(p, -1) >= ends[p] for p in range(PARTS)):
            break
        time.sleep(0.1)
    t1 = time.time()
    r.stop()
    if first is None or t1 - first[0] < 0.5:
        return n / max(t1 - (first or (t1 - 1, 0))[0], 1.0)
    return (n - first[1]) / (t1 - first[0])


def main():
    hook = Webhook(SECRET, TMP)
    esc = escalation_dir(ROOT, TMP)
    broker = Broker()
    say(f"broker on {broker.boot}, webhook on 127.0.0.1:{hook.srv.port}, logs in {TMP}")
    try:
        rate = measure(broker, hook, esc)
        target = rate / 2 if MAX_RATE <= 0 else min(rate / 2, MAX_RATE)
        global T0
        chunks = int(target * SOAK_TIME * 1.2 / LINES_PER_CHUNK) + 1
        T0 = NOW_HOUR - dt.timedelta(hours=chunks + 48)
        say(f"measured {rate:,.0f} events/s; soak at {target:,.0f} events/s for {SOAK_TIME} s, "
            f"kill -9 every {KILL_EVERY} s, broker down {BROKER_DOWN} s every {BROKER_EVERY} s, "
            f"webhook up {HOOK_UP} s / down {HOOK_DOWN} s")
        topic = "soak.events"
        subprocess.run([KTOOL, "create", broker.boot, topic, str(PARTS)], check=True,
                       capture_output=True)
        cfg, group, d = config(broker, "soak", topic, hook, esc)
        ends = [0] * PARTS
        stop = threading.Event()
        produced = [0]

        def producer():
            t_start, k = time.time(), 0
            while not stop.is_set():
                produced[0] += produce_chunk(broker, topic, k, ends)
                k += 1
                ahead = produced[0] / target - (time.time() - t_start)
                if ahead > 0:
                    stop.wait(ahead)

        def flapper():
            while not stop.is_set():
                if stop.wait(HOOK_UP):
                    break
                hook.down()
                stop.wait(HOOK_DOWN)
                hook.up()

        threads = [threading.Thread(target=producer), threading.Thread(target=flapper)]
        for t in threads:
            t.start()
        n = 0
        before = dict(hook.accepted)  # the rate measurement's deliveries
        r = start(cfg, d, n)
        samples, kills, bounces = [], 0, 0
        t_start = time.time()
        born = {r.p.pid: t_start}  # pid -> start: samples of its first WARM s are not judged
        next_kill, next_bounce = t_start + KILL_EVERY, t_start + BROKER_EVERY / 2 + 30
        next_sample = t_start + min(SAMPLE, WARM)
        bouncer = None
        while time.time() - t_start < SOAK_TIME:
            now = time.time()
            if now >= next_sample:
                pid = r.p.pid
                c = committed(KTOOL, broker.boot, group, topic, PARTS) if broker.up.is_set() \
                    else {}
                samples.append((now - t_start, pid, proc_rss_kib(pid, "RssAnon"), proc_fds(pid),
                                sum(max(0, o) for o in c.values()) if c else None,
                                produced[0], proc_rss_kib(pid)))
                s = samples[-1]
                say(f"t={s[0] / 60:5.1f} min pid {s[1]} rss anon {s[2] / 1024:6.1f} MiB (all "
                    f"{s[6] / 1024:6.1f}) fds {s[3]:4d} committed "
                    f"{s[4] if s[4] is not None else '(broker down)'} of {s[5]} produced")
                next_sample += SAMPLE
            if now >= next_kill:
                if r.p.poll() is not None:
                    check(False, f"run exited by itself (rc {r.p.returncode}): "
                                 f"{r.text()[-400:]}")
                r.p.send_signal(signal.SIGKILL)
                r.p.wait()
                r.err.close()
                kills += 1
                n += 1
                r = start(cfg, d, n)
                born[r.p.pid] = time.time()
                next_kill += KILL_EVERY
            if now >= next_bounce and (bouncer is None or not bouncer.is_alive()):
                bouncer = threading.Thread(target=broker.bounce)
                bouncer.start()
                bounces += 1
                next_bounce += BROKER_EVERY
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        if bouncer:
            bouncer.join()
        hook.up()
        duration = time.time() - t_start
        ends = end_offsets(broker.boot, topic)  # lines sent twice included
        total = sum(ends)
        check(r.p.poll() is None, f"the run exited by itself (rc {r.p.poll()})")
        check(wait_committed(KTOOL, broker.boot, group, topic, ends, 900, r.p),
              "the run did not finish the input after the soak")
        # the last sample, before the stop
        pid = r.p.pid
        samples.append((time.time() - t_start, pid, proc_rss_kib(pid, "RssAnon"), proc_fds(pid),
                        total, total, proc_rss_kib(pid)))
        s = samples[-1]
        say(f"t={s[0] / 60:5.1f} min pid {s[1]} rss anon {s[2] / 1024:6.1f} MiB (all "
            f"{s[6] / 1024:6.1f}) fds {s[3]:4d} committed {s[4]} of {s[5]} produced "
            f"(input finished)")
        end = time.time() + 300
        entries = []
        while time.time() < end:
            entries = outbox(TOCSIN, f"{d}/db", ROOT)
            if entries and all(e.get("state") == "delivered" for e in entries):
                break
            time.sleep(2)
        time.sleep(3)
        check(r.stop() == 0, "the run did not exit 0 on SIGTERM")
        got = incidents(TOCSIN, f"{d}/db")
        accepted = {k: v - before.get(k, 0) for k, v in hook.accepted.items()}
        # the reference: one run, no faults and no escalation, over the same topic
        rcfg, rgroup, rd = config(broker, "reference", topic, hook, None)
        rr = start(rcfg, rd, 0)
        t_ref = time.time()
        check(wait_committed(KTOOL, broker.boot, rgroup, topic, ends, 1800, rr.p),
              "the reference run did not finish")
        t_ref = time.time() - t_ref
        rr.stop()
        ref = incidents(TOCSIN, f"{rd}/db")
        diff = diff_incidents(ref, got)
        check(not diff, f"incidents differ from the reference run: {diff}")
        states = {}
        for e in entries:
            states[e.get("state")] = states.get(e.get("state"), 0) + 1
        keys = {f"{e['incident_id']}:{e['revision']}" for e in entries}
        missing = keys - {k for k, v in accepted.items() if v > 0}
        dup = sum(v - 1 for k, v in accepted.items() if k in keys and v > 1)
        check(not missing, f"{len(missing)} escalation(s) never accepted by the webhook")
        check(hook.bad == 0, f"{hook.bad} webhook request(s) with a bad signature")
        # RSS and fds, over the samples taken after a process's first WARM s
        warm = [s for s in samples if s[0] + t_start - born.get(s[1], t_start) >= WARM]
        first_pid = warm[0][1]
        first_max = max(s[2] for s in warm if s[1] == first_pid)
        rss = [s[2] for s in warm if s[2]]
        check(max(rss) <= 2 * first_max + 32 * 1024,
              f"RSS (anonymous) grew: max {max(rss) / 1024:.0f} MiB against "
              f"{first_max / 1024:.0f} MiB in the first process")
        grow = []
        for pid in {s[1] for s in warm}:
            f = [s[3] for s in warm if s[1] == pid and s[3]]
            if len(f) >= 2 and f[-1] > f[0] + 8:
                grow.append((pid, f[0], f[-1]))
        check(not grow, f"fds grew within a process: {grow}")
        fds = [s[3] for s in warm if s[3]]
        check(fds[-1] <= fds[0] + 8, f"fds at the end {fds[-1]} against {fds[0]} at the start")
        say("curve (minute, pid, RSS anon/all MiB, fds): " + ", ".join(
            f"{s[0] / 60:.0f}:{s[1]}:{s[2] / 1024:.0f}/{s[6] / 1024:.0f}:{s[3]}" for s in samples))
        rall = [s[6] for s in samples if s[6]]
        say(f"summary: {duration / 60:.1f} min at {target:,.0f} events/s ({'half' if target >= rate / 2 else 'capped, less than half'} of {rate:,.0f}), "
            f"{total:,} events, {kills} kill -9, {bounces} broker restart(s), webhook flapping "
            f"{HOOK_UP}/{HOOK_DOWN} s; RSS anon start {rss[0] / 1024:.0f} MiB, end "
            f"{rss[-1] / 1024:.0f} MiB, max {max(rss) / 1024:.0f} MiB (with mapped files: max "
            f"{max(rall) / 1024:.0f} MiB, LMDB's pages); fds start {fds[0]}, end "
            f"{fds[-1]}, max {max(fds)}; incidents {len(got):,} "
            f"{'identical to' if not diff else 'DIFFERENT from'} the reference run's "
            f"{len(ref):,} (reference run {t_ref:.0f} s); escalations {len(entries):,} "
            f"{states}, accepted by the webhook {len(keys) - len(missing):,}, "
            f"{dup} duplicate deliveries (at least once)")
    finally:
        stop_all = [hook.down, broker.stop]
        for f in stop_all:
            try:
                f()
            except Exception as e:  # noqa: BLE001
                say(f"cleanup: {e}")
    say("PASSED" if not fails else f"FAILED: {len(fails)} check(s); logs in {TMP}")
    if not fails:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
