#!/usr/bin/env python3
"""Fault injection against a running `tocsin run` (issue 15, part 5): real
processes, a real broker (tests/kafka/broker.sh), real mounts. Each part
compares what the faulted run kept with a reference run of the same input
and checks the message that names the fault:

  disk     paths.data_dir (LMDB) on a small tmpfs that fills mid-run; then the
           events output (-o) on one; then replay's dead-letter file on one.
           The run must say which disk is full, commit nothing past the last
           durable batch, keep its process, and finish the input when space
           is freed (no restart): incidents equal the reference, every event
           line whole and every offset in the events output.
  broker   the broker stopped mid-run and started again on the same ports and
           log dir (broker.sh restart): the run keeps its process, says the
           broker is down, and after the broker is back consumes the rest and
           what was produced meanwhile, exactly once (incidents equal the
           reference run over the whole topic).
  webhook  the escalation webhook accepts connections and never answers: the
           dispatcher times out (the channel's timeout), retries with
           back-off, the entries stay pending in the outbox; when it answers
           again every entry is delivered, each accepted once.
  clock    the process's wall clock jumps (tests/integration/clockshift.c,
           an LD_PRELOAD shim: the wall clock shifted by the seconds in a
           file; monotonic clocks and waits left alone, as when NTP steps the
           clock): forward by 3 h, then back by 6 h. The run warns at each
           jump. Windows are on event time: after the forward jump incidents
           equal the reference; after the step back the events are 3 h ahead
           of the clock, more than ingest.max_future: clamped to it, late,
           counted by source and warned, no incident (docs/testing.md).

  broker-tls  the same over SASL_SSL (SCRAM, the test CA; broker.sh
           start-secure): the TLS and login errors of a broker going away are
           waited for, not taken for a wrong setting; the log says it waits,
           /metrics counts them (tocsin_kafka_broker_errors_total).

  clock-outbox  the escalation outbox across the same kind of jumps: entries
           retrying while the webhook is down; +3 h, then -2 h; each jump
           logged with the escalations rescheduled (back-off and leases keep
           to the monotonic clock); when the webhook is back every entry is
           delivered once, not 2 h later.

  disk-stop  SIGTERM while data_dir stays full: the run exits 1 within the
           bound, saying that nothing after the last committed batch was
           acknowledged; a second run once the space is freed gives the
           reference's incidents (nothing lost).

  stop-hung-broker  SIGTERM while the broker accepts connections and never
           answers (its process stopped): the final commit and leaving the
           group are given up after a few seconds (each said), the run exits
           within the bound; a second run after the broker is back gives the
           reference's incidents. Then a second SIGTERM during such a drain:
           exit 1 at once, saying so; the next run still gives the reference.

  broker-dlq  the same with dead letters in the input: their batches wait
           for the broker; the same process finishes, nothing counted twice
           (a worker whose partitions moved while it waited drops what the
           other counted: docs/testing.md).

Usage: test_faults.py [disk|disk-stop|stop-hung-broker|broker|webhook|clock|clock-outbox|broker-dlq|
                      broker-tls ...] (default: all).
Needs root for the tmpfs mounts (disk) and TOCSIN_KAFKA_BOOTSTRAP for all but
broker, which starts a broker of its own."""
import base64
import datetime as dt
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (Run, Webhook, committed, diff_incidents, escalation_dir,  # noqa: E402
                     free_port, incidents, outbox, produce, run_config, ssh_stream,
                     wait_committed)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOCSIN = os.path.join(ROOT, os.environ.get("TOCSIN", "bin/tocsin"))
KTOOL = os.path.join(ROOT, os.environ.get("KTOOL", "build/tools/ktool"))
BROKER_SH = os.path.join(ROOT, "tests/kafka/broker.sh")
BOOT = os.environ.get("TOCSIN_KAFKA_BOOTSTRAP")
RUN = f"{os.getpid()}-{int(time.time())}"
TMP = tempfile.mkdtemp(prefix="tocsin-faults-")
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def reference(boot, topic, ends, name, extra="", fmt="rfc3164"):
    """Incidents of one uninterrupted run over topic (its own group)."""
    d = os.path.join(TMP, name)
    os.makedirs(d)
    group = f"g-{name}-{RUN}"
    cfg = run_config(os.path.join(d, "tocsin.yml"), boot, group, [topic], f"{d}/db",
                     extra=extra, fmt=fmt)
    r = Run(TOCSIN, cfg, os.path.join(TMP, f"{name}.err"), cwd=ROOT)
    check(wait_committed(KTOOL, boot, group, topic, ends, 180, r.p),
          f"{name}: the reference run did not consume everything")
    check(r.stop() == 0, f"{name}: the reference run did not exit 0")
    return incidents(TOCSIN, f"{d}/db")


# ------------------------------------------------------------------ disk

class Tmpfs:
    """A tmpfs of size bytes at path, filled but for free bytes by a ballast
    file that release() deletes."""

    def __init__(self, path, size, free):
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], check=True)
        self.path = path
        v = os.statvfs(path)
        with open(os.path.join(path, "ballast"), "wb") as f:
            f.write(b"\0" * max(0, v.f_bavail * v.f_frsize - free))

    def release(self):
        os.unlink(os.path.join(self.path, "ballast"))

    def umount(self):
        subprocess.run(["umount", "-l", self.path])


def part_disk():
    topic = f"faults.disk.{RUN}"
    ends = produce(KTOOL, BOOT, topic, ssh_stream(2, 400))
    total = sum(ends)
    ref = reference(BOOT, topic, ends, "disk-ref")
    check(len(ref) > 30, f"disk: the reference run made only {len(ref)} incidents")
    mounts = []
    try:
        # 1. LMDB: 300 KiB free, the store needs about 4 MiB for this input
        fs = Tmpfs(os.path.join(TMP, "mnt-db"), 16 << 20, 300 << 10)
        mounts.append(fs)
        group = f"g-disk-db-{RUN}"
        cfg = run_config(os.path.join(TMP, "disk-db.yml"), BOOT, group, [topic],
                         f"{fs.path}/db")
        r = Run(TOCSIN, cfg, os.path.join(TMP, "disk-db.err"), cwd=ROOT)
        said = r.wait_log("LMDB: no space left on the filesystem of " + fs.path, 60)
        check(said, "disk: a full data_dir is not reported as such: " + r.text()[-600:])
        time.sleep(3)
        c = committed(KTOOL, BOOT, group, topic, 2)
        stalled = sum(max(0, o) for o in c.values())
        check(r.p.poll() is None, f"disk: run exited (rc {r.p.poll()}) on a full data_dir")
        check(stalled < total, "disk: everything was committed though LMDB could not write")
        fs.release()
        check(wait_committed(KTOOL, BOOT, group, topic, ends, 180, r.p),
              "disk: the input was not finished after the space was freed")
        pid_alive = r.p.poll() is None
        check(pid_alive, "disk: the run did not resume in its process")
        check(r.stop() == 0, "disk: run did not exit 0 on SIGTERM")
        check("starts again in" in r.text(), "disk: the log does not say the run will resume")
        got = incidents(TOCSIN, f"{fs.path}/db")
        d = diff_incidents(ref, got)
        check(not d, f"disk: data_dir filled mid-run: incidents differ from the reference: {d}")
        print(f"faults disk: data_dir full at {stalled}/{total} committed; space freed, same "
              f"process finished: {len(got)} incidents, " +
              ("identical to the reference" if not d else "DIFFERENT"), flush=True)

        # 2. the events output: 1 MiB free, the events need about 12 MiB
        fs = Tmpfs(os.path.join(TMP, "mnt-ev"), 32 << 20, 1 << 20)
        mounts.append(fs)
        group = f"g-disk-ev-{RUN}"
        dd = os.path.join(TMP, "disk-ev")
        cfg = run_config(os.path.join(TMP, "disk-ev.yml"), BOOT, group, [topic], f"{dd}/db")
        evf = os.path.join(fs.path, "events.jsonl")
        r = Run(TOCSIN, cfg, os.path.join(TMP, "disk-ev.err"), args=["-o", evf], cwd=ROOT)
        said = r.wait_log(f"events output {evf}: No space left on device", 60)
        check(said, "disk: a full events output is not reported as such: " + r.text()[-600:])
        check(r.wait_log("events output: no space left on the filesystem of", 10),
              "disk: the run does not say it waits for space for the events output")
        time.sleep(2)
        check(r.p.poll() is None, f"disk: run exited (rc {r.p.poll()}) on a full events output")
        fs.release()
        check(wait_committed(KTOOL, BOOT, group, topic, ends, 180, r.p),
              "disk: events output: the input was not finished after the space was freed")
        check(r.stop() == 0, "disk: events output: run did not exit 0 on SIGTERM")
        seen, bad, lines = set(), 0, 0
        with open(evf, errors="replace") as f:
            for line in f:
                lines += 1
                try:
                    s = json.loads(line)["source"]
                    seen.add((s["partition"], s["offset"]))
                except (ValueError, KeyError):
                    bad += 1
        want = {(p, o) for p in range(2) for o in range(ends[p])}
        check(bad == 0, f"disk: {bad} broken line(s) in the events output after the full disk")
        check(seen == want, f"disk: events output misses {len(want - seen)} event(s)")
        got = incidents(TOCSIN, f"{dd}/db")
        d = diff_incidents(ref, got)
        check(not d, f"disk: events output full mid-run: incidents differ: {d}")
        print(f"faults disk: events output full mid-run; space freed: {len(seen)}/{total} events "
              f"in it ({lines - len(seen)} written twice: the batches after the last commit), "
              f"{bad} broken lines, incidents " + ("identical" if not d else "DIFFERENT"),
              flush=True)

        # 3. replay's dead-letter file on a full disk: a clear stop, no half line
        fs = Tmpfs(os.path.join(TMP, "mnt-dlq"), 256 << 10, 16 << 10)
        mounts.append(fs)
        bad_in = os.path.join(TMP, "bad.log")
        with open(bad_in, "w") as f:
            for i in range(3000):
                f.write(f"not a syslog line {i} " + "x" * 100 + "\n")
        dlq = os.path.join(fs.path, "dlq.jsonl")
        p = subprocess.run([TOCSIN, "replay", "--format", "rfc5424", "-r", "etc/rules", "-d", dlq,
                            bad_in], capture_output=True, text=True, cwd=ROOT)
        check(p.returncode == 1, f"disk: replay with a full dead-letter disk: exit {p.returncode}")
        check(f"dead-letter file {dlq}: No space left on device" in p.stderr,
              "disk: replay does not name the full dead-letter file: " + p.stderr[-400:])
        with open(dlq, errors="replace") as f:
            kept = f.read()
        half = [l for l in kept.splitlines() if l and not l.endswith("}")]
        check(not half and (not kept or kept.endswith("\n")),
              f"disk: a half dead letter stays in the file ({len(half)})")
        print(f"faults disk: replay's dead-letter file full: exit 1, the file named, "
              f"{kept.count(chr(10))} whole lines kept", flush=True)
    finally:
        for m in mounts:
            m.umount()


# ------------------------------------------------------------ stopping

STOP_BOUND = 30  # s: cli/cmd_run.c RUN_STOP_BOUND_S


def stop_timed(r, wait):
    """SIGTERM r's process; (exit code, seconds) - (None, wait) when it is
    still running after wait s (then killed)."""
    t0 = time.time()
    r.p.send_signal(signal.SIGTERM)
    try:
        rc = r.p.wait(wait)
    except subprocess.TimeoutExpired:
        r.p.kill()
        r.p.wait()
        rc = None
    r.err.close()
    return rc, time.time() - t0


def second_run(boot, group, topic, ends, data_dir, name, ref):
    """A run over the same group and data_dir to the end of the topic: its
    incidents against ref ('' when equal)."""
    cfg = run_config(os.path.join(TMP, f"{name}.yml"), boot, group, [topic], data_dir)
    r = Run(TOCSIN, cfg, os.path.join(TMP, f"{name}.err"), cwd=ROOT)
    check(wait_committed(KTOOL, boot, group, topic, ends, 180, r.p),
          f"{name}: the second run did not consume everything")
    check(r.stop() == 0, f"{name}: the second run did not exit 0")
    return diff_incidents(ref, incidents(TOCSIN, data_dir))


def part_disk_stop():
    topic = f"faults.disk-stop.{RUN}"
    ends = produce(KTOOL, BOOT, topic, ssh_stream(2, 400))
    ref = reference(BOOT, topic, ends, "disk-stop-ref")
    fs = Tmpfs(os.path.join(TMP, "mnt-stop"), 16 << 20, 300 << 10)
    try:
        group = f"g-disk-stop-{RUN}"
        cfg = run_config(os.path.join(TMP, "disk-stop.yml"), BOOT, group, [topic],
                         f"{fs.path}/db")
        r = Run(TOCSIN, cfg, os.path.join(TMP, "disk-stop.err"), cwd=ROOT)
        check(r.wait_log("starts again in", 60),
              "disk-stop: the run does not say it waits for space: " + r.text()[-600:])
        rc, secs = stop_timed(r, STOP_BOUND + 20)
        check(rc == 1, f"disk-stop: SIGTERM while data_dir is full: exit {rc} after {secs:.1f} s "
                       f"(want 1 within {STOP_BOUND} s): " + r.text()[-600:])
        said = "nothing after the last committed batch was acknowledged" in r.text()
        check(said, "disk-stop: the run does not say what it leaves: " + r.text()[-600:])
        fs.release()
        d = second_run(BOOT, group, topic, ends, f"{fs.path}/db", "disk-stop-2", ref)
        check(not d, f"disk-stop: incidents after the second run differ from the reference: {d}")
        print(f"faults disk-stop: SIGTERM on a full data_dir: exit {rc} in {secs:.1f} s, said so; "
              f"second run: {len(ref)} incidents, " +
              ("identical to the reference" if not d else "DIFFERENT"), flush=True)
    finally:
        fs.umount()


def part_stop_hung_broker():
    kdir = tempfile.mkdtemp(prefix="tocsin-faults-kafka-")
    bpid = None
    try:
        boot = broker("start", kdir)
        with open(os.path.join(kdir, "pid")) as f:
            bpid = int(f.read().split()[0])
        topic = f"faults.stop-hung.{RUN}"
        ends = produce(KTOOL, boot, topic, ssh_stream(2, 400))
        ref = reference(boot, topic, ends, "stop-hung-ref")
        group = f"g-stop-hung-{RUN}"
        dd = os.path.join(TMP, "stop-hung", "db")
        cfg = run_config(os.path.join(TMP, "stop-hung.yml"), boot, group, [topic], dd)
        r = Run(TOCSIN, cfg, os.path.join(TMP, "stop-hung.err"), cwd=ROOT)
        check(wait_committed(KTOOL, boot, group, topic, ends, 180, r.p),
              "stop-hung-broker: the run did not consume everything")
        os.kill(bpid, signal.SIGSTOP)  # connections stay open, nothing answers
        try:
            time.sleep(1)
            rc, secs = stop_timed(r, STOP_BOUND + 20)
        finally:
            os.kill(bpid, signal.SIGCONT)
        check(rc is not None and secs < STOP_BOUND + 2,
              f"stop-hung-broker: SIGTERM with the broker not answering: exit {rc} after "
              f"{secs:.1f} s (want an exit within {STOP_BOUND} s): " + r.text()[-800:])
        gave_up = ("final commit not confirmed" in r.text() or
                   "leaving the group did not complete" in r.text() or
                   "not stopped within" in r.text())
        check(gave_up, "stop-hung-broker: the run does not say what it gave up waiting for: " +
              r.text()[-800:])
        d = second_run(boot, group, topic, ends, dd, "stop-hung-2", ref)
        check(not d, f"stop-hung-broker: incidents after the second run differ: {d}")
        # a second SIGTERM while the first one's drain waits: exit 1 at once
        # (the bound's message), the next run still gives the reference
        r = Run(TOCSIN, cfg, os.path.join(TMP, "stop-hung-3.err"), cwd=ROOT)
        check(r.wait_log("assigned", 60), "stop-hung-broker: the third run did not start")
        os.kill(bpid, signal.SIGSTOP)
        try:
            time.sleep(1)
            r.p.send_signal(signal.SIGTERM)
            time.sleep(1)
            rc2, secs2 = stop_timed(r, 10)
        finally:
            os.kill(bpid, signal.SIGCONT)
        check(rc2 == 1 and "not stopped within" in r.text(),
              f"stop-hung-broker: a second SIGTERM: exit {rc2} after {secs2:.1f} s (want 1 at "
              f"once, saying what it leaves): " + r.text()[-600:])
        d2 = second_run(boot, group, topic, ends, dd, "stop-hung-4", ref)
        check(not d2, f"stop-hung-broker: incidents after a run cut short differ: {d2}")
        print(f"faults stop-hung-broker: SIGTERM with the broker not answering: exit {rc} in "
              f"{secs:.1f} s; second run: {len(ref)} incidents, " +
              ("identical to the reference" if not d else "DIFFERENT") +
              f"; a second SIGTERM: exit {rc2} in {secs2:.1f} s, the next run " +
              ("identical" if not d2 else "DIFFERENT"), flush=True)
    finally:
        if bpid:
            try:
                os.kill(bpid, signal.SIGCONT)
            except OSError:
                pass
        try:
            broker("stop", kdir)
        except RuntimeError as e:
            print(f"faults stop-hung-broker: {e}")
        shutil.rmtree(kdir, ignore_errors=True)


# ---------------------------------------------------------------- broker

def broker(cmd, d):
    r = subprocess.run([BROKER_SH, cmd, d], capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        raise RuntimeError(f"broker.sh {cmd}: {r.stderr[-500:]}")
    return r.stdout.strip()


def metric(port, name):
    """The sum of a /metrics family's samples on 127.0.0.1:port (None: no answer)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
    except OSError:
        return None
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if l.startswith(name + " ") or l.startswith(name + "{"))


def part_broker(dead_letters=False, tls=False):
    kdir = tempfile.mkdtemp(prefix="tocsin-faults-kafka-")
    try:
        boot = broker("start-secure" if tls else "start", kdir)
        tag = "broker-dlq" if dead_letters else "broker-tls" if tls else "broker"
        # tls: run reads over SASL_SSL (SCRAM, the password from ${file:...},
        # the test CA); the test produces and reads offsets over PLAINTEXT
        run_boot, props, port, extra = boot, None, None, ""
        if tls:
            env = dict(l.split("=", 1) for l in open(os.path.join(kdir, "ssl.env")).read().split())
            run_boot = env["KAFKA_SASL_SSL"]
            props = {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
                     "sasl.username": env["KAFKA_USER"],
                     "sasl.password": "${file:%s}" % env["KAFKA_PASSWORD_FILE"],
                     "ssl.ca.location": env["KAFKA_CA"]}
            port = free_port()
            extra = f"http:\n  listen: 127.0.0.1:{port}\n  rate: 0\n"
        topic = f"faults.{tag}.{RUN}"
        parts = ssh_stream(4, 600)
        # broker-dlq: a dead letter now and then (over ingest.max_message_bytes:
        # RFC 3164 takes any line); they go to the broker too
        bad = set()
        for p, lines in enumerate(parts):
            for i in range(len(lines) // 500 if dead_letters else 0, 0, -1):
                lines.insert(i * 500, f"too long {p}.{i} " + "x" * 400)
                bad.add(f"too long {p}.{i} " + "x" * 400)
        first = [l[:len(l) // 2] for l in parts]
        rest = [l[len(l) // 2:] for l in parts]
        ends = produce(KTOOL, boot, topic, first)
        group = f"g-{tag}-{RUN}"
        d = os.path.join(TMP, f"{tag}-run")
        cfg = run_config(os.path.join(TMP, f"{tag}.yml"), run_boot, group, [topic], f"{d}/db",
                         extra=("ingest:\n  max_message_bytes: 300\n" if dead_letters else "") +
                         extra, props=props)
        r = Run(TOCSIN, cfg, os.path.join(TMP, f"{tag}-run.err"), cwd=ROOT)
        half = sum(ends) // 3
        end = time.time() + 60
        while time.time() < end and r.p.poll() is None:
            if sum(max(0, o) for o in committed(KTOOL, boot, group, topic, 4).values()) >= half:
                break
            time.sleep(0.05)
        broker("stop", kdir)
        down_at = time.time()
        time.sleep(12)  # past session.timeout.ms: the group is gone when it comes back
        if not dead_letters:
            check(r.p.poll() is None, f"{tag}: run exited (rc {r.p.poll()}) while the broker "
                                      f"was down: {r.text()[-600:]}")
        said = any(w in r.text() for w in ("_ALL_BROKERS_DOWN", "_TRANSPORT"))
        check(said, "broker: the run's log does not say the broker is down")
        if tls:
            check("broker away: waiting for it" in r.text(),
                  f"{tag}: the run's log does not say it waits for the broker")
            check("Kafka TLS failed" not in r.text() and
                  "Kafka authentication failed" not in r.text(),
                  f"{tag}: a broker that is down is taken for a TLS or login setting: "
                  f"{r.text()[-600:]}")
            down = metric(port, "tocsin_kafka_broker_errors_total")
            check(down is not None and down > 0,
                  f"{tag}: /metrics does not count the broker errors while it is down "
                  f"(tocsin_kafka_broker_errors_total {down})")
        broker("restart", kdir)
        up_at = time.time()
        ends = [a + b for a, b in zip(ends, produce(KTOOL, boot, topic, rest, create=False))]
        restarted = 0
        if dead_letters:
            # a batch's dead letters are awaited while the broker is away; a
            # worker whose partitions moved meanwhile drops what the other
            # worker counted (rt_corr fence): the same process goes on
            time.sleep(35)
            check(r.p.poll() is None, f"broker-dlq: the run stopped: {r.text()[-600:]}")
        check(wait_committed(KTOOL, boot, group, topic, ends, 180, r.p),
              f"broker: the run did not consume everything after the broker came back "
              f"({committed(KTOOL, boot, group, topic, 4)} of {ends}): {r.text()[-600:]}")
        took = time.time() - up_at
        check(r.stop() == 0, "broker: run did not exit 0 on SIGTERM")
        out = subprocess.run(["kcat", "-C", "-b", boot, "-t", f"{topic}.dlq", "-e", "-q"],
                             capture_output=True, text=True, timeout=60).stdout
        dl = bad & set(out.splitlines())  # a dead letter's value is the raw message
        check(dl == bad, f"broker: {len(bad - dl)} of {len(bad)} dead letters missing from "
                         f"{topic}.dlq")
        got = incidents(TOCSIN, f"{d}/db")
        ref = reference(boot, topic, ends, f"{tag}-ref",
                        extra="ingest:\n  max_message_bytes: 300\n" if dead_letters else "")
        diff = diff_incidents(ref, got)
        check(len(ref) > 50, f"broker: the reference run made only {len(ref)} incidents")
        check(not diff, f"broker: stopped and started mid-run: incidents differ: {diff}")
        print(f"faults {tag}: stopped at >= {half}/{sum(ends)} committed for {up_at - down_at:.0f} s, "
              f"back on the same port; the same process finished {took:.0f} s later: "
              f"{len(got)} incidents, " + ("identical to the reference" if not diff else "DIFFERENT") +
              (f"; {len(dl)}/{len(bad)} dead letters in {topic}.dlq, {restarted} restart(s)"
               if dead_letters else ""), flush=True)
    finally:
        subprocess.run([BROKER_SH, "stop", kdir], capture_output=True)
        shutil.rmtree(kdir, ignore_errors=True)


# --------------------------------------------------------------- webhook

class Escalating:
    """ssh_stream(1, 24) on its own topic (faults.<tag>) and a Webhook (.hook,
    channel "webhook:mb", the dispatcher settings given); start() runs
    tocsin over it, every incident escalated to the webhook. .group, .topic,
    .ends, .db (the store), .run (a Run, after start)."""

    def __init__(self, tag, dispatch):
        self.tag = tag
        self.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        self.hook = Webhook(self.secret, TMP)
        esc = escalation_dir(ROOT, TMP)
        ch = self.hook.channels_yml(os.path.join(TMP, f"channels-{tag}.yml"),
                                    secret_env="TOCSIN_FAULTS_SECRET", dispatch=dispatch)
        self.topic = f"faults.{tag}.{RUN}"
        self.ends = produce(KTOOL, BOOT, self.topic, ssh_stream(1, 24))
        self.group = f"g-{tag}-{RUN}"
        self.db = os.path.join(TMP, f"{tag}-run", "db")
        self.cfg = run_config(os.path.join(TMP, f"{tag}.yml"), BOOT, self.group, [self.topic],
                              self.db,
                              extra=f"escalate:\n  regimes_dir: {esc}\n  channels: {ch}\n")
        self.run = None

    def start(self, env=None):
        """The run (env: its environment but the webhook's secret; None: this
        process's)."""
        self.run = Run(TOCSIN, self.cfg, os.path.join(TMP, f"{self.tag}-run.err"), cwd=ROOT,
                       env=dict(env or os.environ, TOCSIN_FAULTS_SECRET=self.secret))
        return self.run

    def consumed(self, timeout=120):
        return wait_committed(KTOOL, BOOT, self.group, self.topic, self.ends, timeout, self.run.p)

    def delivered(self, timeout):
        """Waits until the outbox has entries, every one delivered: (the
        entries last listed, True when so within timeout)."""
        end = time.time() + timeout
        entries = []
        while time.time() < end:
            entries = outbox(TOCSIN, self.db, ROOT)
            if entries and all(e.get("state") == "delivered" for e in entries):
                return entries, True
            time.sleep(0.5)
        return entries, False

    def accepted_once(self, entries):
        """Checks that the webhook accepted each entry's key once: (outbox
        states counted, keys accepted more than once)."""
        states = {}
        for e in entries:
            states[e.get("state")] = states.get(e.get("state"), 0) + 1
        keys = {f"{e['incident_id']}:{e['revision']}" for e in entries}
        twice = {k: n for k, n in self.hook.accepted.items() if n != 1}
        check(set(self.hook.accepted) == keys, f"{self.tag}: accepted {len(self.hook.accepted)} "
                                               f"keys, the outbox has {len(keys)}")
        check(not twice, f"{self.tag}: accepted more than once: {list(twice.items())[:3]}")
        return states, twice


def part_webhook():
    x = Escalating("webhook", dispatch="threads: 2, lease: 10s, backoff_base: 500ms, "
                                       "backoff_cap: 2s, poll: 100ms, max_attempts: 100")
    hook, d = x.hook, os.path.dirname(x.db)
    hook.hang.set()
    r = x.start()
    try:
        check(x.consumed(), "webhook: the run did not consume its input: " + r.text()[-600:])
        end = time.time() + 60
        while time.time() < end and hook.hung < 4:
            time.sleep(0.2)
        time.sleep(2.5)  # the last hung requests time out
        check(hook.hung >= 4, f"webhook: the dispatcher did not retry the hanging webhook "
                              f"({hook.hung} attempts)")
        check(not hook.accepted, "webhook: something was accepted while it hung")
        said = r.wait_log("escalation to managing_body via webhook:mb: https://127.0.0.1:"
                          f"{hook.srv.port}/intake: Timeout was reached", 5)
        check(said, "webhook: the run's log does not say the webhook timed out: " +
              r.text()[-800:])
        check(r.p.poll() is None, "webhook: run exited while the webhook hung")
        hung = hook.hung
        hook.hang.clear()
        hook.release.set()
        # every entry delivered: the outbox has none pending
        entries, _ = x.delivered(90)
        time.sleep(2)  # a second delivery of any entry would come now
    finally:
        rc = r.stop()
        hook.release.set()
        hook.srv.stop()
    check(rc == 0, "webhook: run did not exit 0 on SIGTERM")
    incs = incidents(TOCSIN, f"{d}/db")
    check(len(incs) > 5 and len(entries) >= len(incs),
          f"webhook: {len(entries)} outbox entries for {len(incs)} incidents")
    states, _ = x.accepted_once(entries)
    check(states == {"delivered": len(entries)}, f"webhook: outbox states {states}")
    check(hook.bad == 0, f"webhook: {hook.bad} request(s) with a bad signature")
    check("escalation to managing_body via webhook:mb: delivered again" in r.text(),
          "webhook: the log does not say the webhook delivers again")
    retried = sum(1 for e in entries if e.get("attempts", 0) > 1)
    print(f"faults webhook: {len(incs)} incidents, {len(entries)} escalations; the webhook hung "
          f"{hung} attempts (2 s timeout each, retried with back-off); answering again: every "
          f"entry delivered, accepted once each ({retried} after more than one attempt)",
          flush=True)


# ----------------------------------------------------------------- clock

def clock_stream(now, n=30):
    """n brute forces of 8 failed logins 5 s apart (RFC 5424, UTC, real
    time), the first 40 min ago, one every 70 s: in event-time order."""
    out = []
    start = now - dt.timedelta(minutes=40)
    for i in range(n):
        t0 = start + dt.timedelta(seconds=70 * i)
        for k in range(8):
            ts = (t0 + dt.timedelta(seconds=5 * k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.append(f"<38>1 {ts} portal-01 sshd {1000 + k} - - Failed password for root "
                       f"from 203.0.113.{i + 1} port {40000 + k} ssh2")
    return out


def clockshift(tag, name):
    """The environment of a process whose wall clock is shifted by the
    seconds in the file TMP/name (0 to start; tests/integration/clockshift.c,
    built once into TMP): (env, that file); None when the shim does not
    build (a failure of part tag)."""
    shim = os.path.join(TMP, "clockshift.so")
    if not os.path.exists(shim):
        cc = subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-o", shim,
                             os.path.join(ROOT, "tests/integration/clockshift.c"), "-ldl"],
                            capture_output=True, text=True)
        if not check(cc.returncode == 0, f"{tag}: cannot build clockshift.so: "
                                         f"{cc.stderr[-400:]}"):
            return None
    tf = os.path.join(TMP, name)
    with open(tf, "w") as f:
        f.write("0\n")
    return dict(os.environ, LD_PRELOAD=shim, CLOCKSHIFT_FILE=tf), tf


def part_clock():
    shifted = clockshift("clock", "clockshift")
    if not shifted:
        return
    env, tf = shifted
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lines = clock_stream(now)
    thirds = [lines[:80], lines[80:160], lines[160:]]
    topic = f"faults.clock.{RUN}"
    subprocess.run([KTOOL, "create", BOOT, topic, "1"], check=True, capture_output=True)
    group = f"g-clock-{RUN}"
    d = os.path.join(TMP, "clock-run")
    cfg = run_config(os.path.join(TMP, "clock.yml"), BOOT, group, [topic], f"{d}/db",
                     fmt="rfc5424")
    r = Run(TOCSIN, cfg, os.path.join(TMP, "clock-run.err"), cwd=ROOT, env=env)
    done, took = 0, []
    try:
        for third, jump in zip(thirds, (None, "10800", "-10800")):
            if jump:
                with open(tf, "w") as f:
                    f.write(jump + "\n")
                time.sleep(1.5)  # the upkeep thread looks every 200 ms
            t0 = time.time()
            produce(KTOOL, BOOT, topic, [third], create=False)
            done += len(third)
            check(wait_committed(KTOOL, BOOT, group, topic, [done], 150, r.p),
                  f"clock: the run did not consume the input after the clock jumped {jump}")
            took.append(time.time() - t0)
    finally:
        rc = r.stop()
    check(rc == 0, "clock: run did not exit 0 on SIGTERM")
    log = r.text()
    check("the system clock jumped forward by 10800 s" in log,
          "clock: the forward jump is not logged: " + log[-600:])
    check("the system clock jumped back by 21600 s" in log,
          "clock: the backward jump is not logged: " + log[-600:])
    got = incidents(TOCSIN, f"{d}/db")
    ref = reference(BOOT, topic, [done], "clock-ref", fmt="rfc5424")
    check(len(ref) == 30, f"clock: the reference run made {len(ref)} incidents, not 30")
    # before the jump and after the forward jump: windows on event time, the
    # same incidents
    last = {k: v for k, v in ref.items() if int(v[1].rsplit(".", 1)[1]) > 20}
    first = {k: v for k, v in ref.items() if k not in last}
    diff = diff_incidents(first, {k: v for k, v in got.items() if k in first or
                                  int(v[1].rsplit(".", 1)[1]) <= 20})
    check(not diff, f"clock: before and after the forward jump: incidents differ: {diff}")
    # after the step back: the clock is 3 h behind the events, more than
    # max_future: each is clamped to the clock, behind the watermark -> late,
    # counted by source, no incident; said, not silent
    check(not any(k in got for k in last), "clock: an incident of the last third formed "
                                           "though its events were clamped")
    check("clamped times 80" in log and "late by source: " + topic + "/agency-test 80" in log,
          "clock: the clamped and late events after the step back are not counted: " +
          log[-800:])
    print(f"faults clock: {len(ref)} reference incidents; wall clock +3 h: the {len(first)} "
          f"incidents of the first two thirds identical; back 6 h (3 h behind the events): "
          f"80 events clamped to the clock and left out as late, counted by source and "
          f"warned; the {len(last)} incidents of the last third not formed; each third "
          f"consumed in {', '.join(f'{t:.0f}' for t in took)} s", flush=True)

def part_clock_outbox():
    """The outbox's retries across wall-clock steps (clockshift.c): while the
    webhook is down the entries retry with back-off (2 s .. 20 s); the clock
    jumps forward 3 h, then back 2 h; then the webhook comes back. Each jump
    is logged with the escalations rescheduled; every entry is delivered
    once, soon after the webhook is back (its retry times were not left 2 h
    ahead: before, they waited for the clock to catch up)."""
    shifted = clockshift("clock-outbox", "clockshift-outbox")
    if not shifted:
        return
    env, tf = shifted
    x = Escalating("clock-outbox", dispatch="threads: 2, lease: 10s, backoff_base: 2s, "
                                            "backoff_cap: 20s, poll: 100ms, max_attempts: 1000")
    hook, d = x.hook, os.path.dirname(x.db)
    hook.down()
    r = x.start(env)
    entries, delivered_in = [], None
    try:
        check(x.consumed(), "clock-outbox: the run did not consume its input: " +
              r.text()[-600:])
        end = time.time() + 60
        while time.time() < end:  # every entry tried at least twice: retrying
            entries = outbox(TOCSIN, f"{d}/db", ROOT)
            if entries and all(e.get("attempts", 0) >= 2 for e in entries):
                break
            time.sleep(0.5)
        check(entries and all(e.get("attempts", 0) >= 2 for e in entries),
              f"clock-outbox: the entries are not retrying: {entries[:2]}")
        with open(tf, "w") as f:
            f.write("10800\n")
        check(r.wait_log("escalation outbox: the system clock jumped forward by 10800 s: ", 20),
              "clock-outbox: the outbox does not say it follows the forward jump: " +
              r.text()[-600:])
        time.sleep(3)
        with open(tf, "w") as f:
            f.write("3600\n")  # still ahead: the webhook's certificate stays valid
        check(r.wait_log("escalation outbox: the system clock jumped back by 7200 s: ", 20),
              "clock-outbox: the outbox does not say it follows the step back: " +
              r.text()[-600:])
        hook.up()
        t0 = time.time()
        entries, done = x.delivered(120)
        if done:
            delivered_in = time.time() - t0
        time.sleep(2)  # a second delivery of any entry would come now
    finally:
        rc = r.stop()
        hook.srv.stop()
    check(rc == 0, "clock-outbox: run did not exit 0 on SIGTERM")
    log = r.text()
    states, twice = x.accepted_once(entries)
    check(delivered_in is not None,
          f"clock-outbox: not every escalation delivered within 120 s of the webhook coming "
          f"back after the clock stepped back 2 h: {states}")
    moved = [l for l in log.splitlines() if "rescheduled with it" in l]
    print(f"faults clock-outbox: {len(entries)} escalations retrying while the webhook was "
          f"down; wall clock +3 h then -2 h: {'; '.join(l.split('outbox: ', 1)[-1][:90] for l in moved)}; "
          f"webhook back: {states} "
          + (f"within {delivered_in:.0f} s" if delivered_in is not None else "NOT within 120 s")
          + f", each accepted once: {not twice}", flush=True)


# ------------------------------------------------------------------ main

PARTS = {"disk": part_disk, "broker": part_broker, "webhook": part_webhook,
         "clock": part_clock, "broker-dlq": lambda: part_broker(dead_letters=True),
         "broker-tls": lambda: part_broker(tls=True), "clock-outbox": part_clock_outbox,
         "disk-stop": part_disk_stop, "stop-hung-broker": part_stop_hung_broker}
DEFAULT = ["disk", "broker", "webhook", "clock", "clock-outbox", "broker-dlq", "broker-tls",
           "disk-stop", "stop-hung-broker"]


def main():
    want = sys.argv[1:] or DEFAULT
    for name in want:
        if name not in PARTS:
            print(f"test_faults.py: no part {name} (parts: {' '.join(PARTS)})")
            sys.exit(2)
        if not name.startswith("broker") and name != "stop-hung-broker" and not BOOT:
            check(False, f"{name}: needs TOCSIN_KAFKA_BOOTSTRAP")
            continue
        PARTS[name]()
    print(f"faults {' '.join(want)}: " + ("ok" if not fails else f"{len(fails)} failure(s)"))
    if not fails and not os.environ.get("KEEP"):
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print(f"faults: logs kept in {TMP}")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
