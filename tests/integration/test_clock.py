#!/usr/bin/env python3
"""One forged future-dated line must not blind correlation (issue 10).

Before: a line from a host whose clock is 3 days ahead, first on a
partition, pushed the partition's watermark 3 days forward; the real brute
force that followed was 'late', went to `incidents late`, no incident and
nothing in the log. An attacker can send that line on purpose.

Here: the brute force (8 failures within a minute, 10 minutes ago) alone
gives the reference incident; the same with a forged line dated 3 days
ahead first (once from another host, once claiming the attacked host) must
give exactly the same incident, with `replay --db` and with `run` on a real
broker; the forged line is kept with "@time_source":"clamped" and its
claimed time, and counted.

Zones: the same brute force as RFC 3164 lines (no zone, no year) from a host
whose clock keeps +07:00, read with the zone given by IANA name
(Asia/Ho_Chi_Minh), and from a host that logs in UTC under a +07:00 default
with that host's zone configured (replay --host-tz 'fw-*=UTC'; run's
ingest.hosts), must give the same incident as the RFC 5424 (UTC) input.
Before: IANA names were refused and there was no per-host zone: the UTC
host's events moved 7 h back, became late, and no incident formed."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BOOT = os.environ.get("TOCSIN_KAFKA_BOOTSTRAP")
TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
KTOOL = os.environ.get("KTOOL", "build/tools/ktool")
RUN = f"{os.getpid()}-{int(time.time())}"
tmp = tempfile.mkdtemp(prefix="tocsin-clock-")
fails = []
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)


def line(t, host, ip, k):
    ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"<38>1 {ts} {host} sshd {1000 + k} - - Failed password for root from {ip} "
            f"port {40000 + k} ssh2")


def attack():
    start = NOW - dt.timedelta(minutes=10)
    return [line(start + dt.timedelta(seconds=5 * k), "portal-01", "203.0.113.50", k)
            for k in range(8)]


def attack3164(offset_h, host):
    """RFC 3164 lines whose wall clock keeps UTC+offset_h."""
    start = NOW - dt.timedelta(minutes=10) + dt.timedelta(hours=offset_h)
    out = []
    for k in range(8):
        t = start + dt.timedelta(seconds=5 * k)
        out.append(f"<38>{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S')} {host} "
                   f"sshd[{1000 + k}]: Failed password for root from 203.0.113.50 port "
                   f"{40000 + k} ssh2")
    return out


def forged(host):
    return line(NOW + dt.timedelta(days=3), host, "198.51.100.99", 99)


def key(i):
    return (i["rule_id"], i["group_key"], i["count"], i["first_seen"], i["last_seen"])


def incidents(db):
    out = subprocess.run([TOCSIN, "incidents", "--db", db, "list", "--json"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(key(json.loads(l)) for l in out.splitlines()
                  if "203.0.113.50" in json.loads(l)["group_key"])


def replay(name, lines, opts=()):
    f = os.path.join(tmp, f"{name}.log")
    with open(f, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    db = os.path.join(tmp, f"{name}-db")
    r = subprocess.run([TOCSIN, "replay", "--rules", "etc/rules", "--db", db, *opts, f],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"replay {name}: exit {r.returncode} {r.stderr[-300:]}")
    return incidents(db), r.stderr


def run(name, lines, fmt="rfc5424", ingest=""):
    topic = f"clock.{name}.{RUN}"
    subprocess.run([KTOOL, "create", BOOT, topic, "1"], check=True)
    subprocess.run(["kcat", "-P", "-b", BOOT, "-t", topic, "-p", "0"],
                   input="\n".join(lines) + "\n", text=True, check=True)
    d = os.path.join(tmp, f"run-{name}")
    os.makedirs(d)
    cfg = os.path.join(d, "tocsin.yml")
    with open(cfg, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: g-clock-{name}-{RUN}
topics:
  - name: {topic}
    format: {fmt}
paths:
  rules: [etc/rules]
  data_dir: {d}/db
{ingest}""")
    errf = os.path.join(d, "run.err")
    with open(errf, "w") as err:
        p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "-o", os.path.join(d, "events.jsonl"),
                              "--stats-interval", "0"], stderr=err, stdout=subprocess.DEVNULL)
        end = time.time() + 60
        while time.time() < end:
            out = subprocess.run([KTOOL, "committed", BOOT, f"g-clock-{name}-{RUN}", topic, "1"],
                                 capture_output=True, text=True).stdout.split()
            if out[-1:] == [str(len(lines))]:
                break
            time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        check(p.wait(60) == 0, f"run {name}: exit code")
    with open(os.path.join(d, "events.jsonl")) as f:
        evs = [json.loads(l) for l in f if l.strip()]
    return incidents(os.path.join(d, "db")), evs, open(errf).read()


def main():
    ref, _ = replay("clean", attack())
    check(len(ref) == 1 and ref[0][2] == 8, f"clean replay: expected one incident of 8, got {ref}")
    for host in ("evil-01", "portal-01"):
        got, err = replay(f"forged-{host}", [forged(host)] + attack())
        check(got == ref, f"replay with a forged line from {host} first: {got} != {ref}")
        check("1 clamped event times" in err or "clamped event times: 1" in err,
              f"replay did not count the clamped line: {err[-400:]}")
    got, _ = replay("iana", attack3164(7, "portal-01"), ["--tz", "Asia/Ho_Chi_Minh"])
    check(got == ref, f"replay, zone by IANA name: {got} != {ref}")
    got, _ = replay("utc-host", attack3164(0, "fw-utc"), ["--tz", "+07:00", "--host-tz",
                                                           "fw-*=UTC"])
    check(got == ref, f"replay, a UTC host under +07:00 with its zone configured: {got} != {ref}")
    if not BOOT:
        print("clock: no broker, run part skipped")
    else:
        rref, _, _ = run("clean", attack())
        check(rref == ref, f"run clean: {rref} != replay's {ref}")
        got, evs, log = run("forged", [forged("portal-01")] + attack())
        check(got == ref, f"run with a forged line first: {got} != {ref}")
        f = [e for e in evs if e.get("@time_source") == "clamped"]
        check(len(f) == 1 and f[0].get("time_claimed", "").startswith(
              (NOW + dt.timedelta(days=3)).strftime("%Y-%m-%d")),
              f"the forged event is not kept clamped with its claimed time: {f}")
        check("clamped to ingest time" in log and "clamped times 1" in log,
              f"run did not report the clamped line: {log[-500:]}")
        got, _, _ = run("zones", attack3164(0, "fw-utc") + attack3164(7, "portal-01"),
                        fmt="rfc3164", ingest='ingest:\n  timezone: Asia/Ho_Chi_Minh\n'
                                              '  hosts: {"fw-*": UTC}\n')
        want = [(r[0], r[1], 16, r[3], r[4]) for r in ref]
        check(got == want, f"run, IANA default zone + a UTC host's zone: {got} != {want}")
    print("clock: forged future lines change no incident (replay" +
          (", run)" if BOOT else ")") if not fails else f"clock: {len(fails)} failure(s)")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
