#!/usr/bin/env python3
"""One poison record must not stop every tenant (issue 17, finding 1).

Before: a Sysmon event with a 600-byte Computer under a group-by rule, or a
'tenant' header of 200+ bytes, made the batch's LMDB transaction fail; `run`
stopped every worker and a restart sought back to the same message.

Here, against a real broker: two agencies' SSH brute forces on one syslog
topic (agency-a by the topic, agency-b by an allowed header), a Sysmon topic
of agency-c. In the middle of the brute force: a syslog line with a 600-byte
host, Sysmon events with a 600-byte Computer, a 300-byte tenant header and a
header naming an agency the topic does not carry. A clean run (same stream
without the poison, its own group and store) gives the reference. Checked:
the poisoned run consumes everything and exits 0; agency-a's and agency-b's
incidents are exactly the clean run's; agency-c's long-Computer incident
exists with a readable, hashed group; the two bad headers are in the
dead-letter topic with their reasons. Then the same through `replay --db`
from files, and --tenant of 200 bytes refused with a clear message."""
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
tmp = tempfile.mkdtemp(prefix="tocsin-poison-")
fails = []
LONG = "h" * 600

RULE = """title: Repeated shadow copy deletion on one host
id: 0b0c5a8e-1111-4c3e-9d1a-6f2a7e9b0001
correlation:
    type: event_count
    rules:
        - 9a1e7c3b-5d2f-4e60-8b4a-1c9f0e2d7a03
    group-by:
        - Computer
    timespan: 10m
    condition:
        gte: 2
level: high
"""


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)


def ssh(t, ip, host="portal-01"):
    return (f"<38>Nov 20 10:{t // 60:02d}:{t % 60:02d} {host} sshd[{1000 + t}]: "
            f"Failed password for root from {ip} port {2000 + t} ssh2")


def sysmon(t, computer, rec):
    return json.dumps({
        "@timestamp": f"2026-11-20T10:{t // 60:02d}:{t % 60:02d}.000Z",
        "host": {"name": computer[:40]}, "agent": {"type": "winlogbeat"},
        "event": {"code": "1", "provider": "Microsoft-Windows-Sysmon", "module": "sysmon"},
        "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1,
                   "provider_name": "Microsoft-Windows-Sysmon", "computer_name": computer,
                   "record_id": rec,
                   "event_data": {"Image": "C:\\Windows\\System32\\vssadmin.exe",
                                  "CommandLine": "vssadmin.exe delete shadows /all /quiet",
                                  "User": "X\\y"}}})


def syslog_chunks(poison):
    """(tenant header or None, lines) in topic order."""
    a1 = [ssh(t, "10.0.0.1") for t in range(0, 20, 4)]
    b1 = [ssh(t, "10.0.0.2") for t in range(1, 21, 4)]
    a2 = [ssh(t, "10.0.0.1") for t in range(60, 90, 5)]
    b2 = [ssh(t, "10.0.0.2") for t in range(61, 91, 5)]
    out = [(None, a1), ("agency-b", b1)]
    if poison:
        out += [("agency-c", [ssh(30, "10.0.0.3", host=LONG)]),
                ("t" * 300, [ssh(31, "10.0.0.1")]),
                ("agency-x", [ssh(32, "10.0.0.2")])]
    out += [(None, a2), ("agency-b", b2)]
    return out


def sysmon_lines(poison):
    lines = [sysmon(t, "pc-a.local", t) for t in (5, 6, 7)]
    if poison:
        lines += [sysmon(t, LONG, 100 + t) for t in (8, 9, 10)]
    return lines + [sysmon(t, "pc-b.local", 200 + t) for t in (11, 12)]


def kcat(topic, lines, tenant=None):
    cmd = ["kcat", "-P", "-b", BOOT, "-t", topic, "-p", "0"]
    if tenant:
        cmd += ["-H", f"tenant={tenant}"]
    subprocess.run(cmd, input="\n".join(lines) + "\n", text=True, check=True)


def committed(group, topic):
    out = subprocess.run([KTOOL, "committed", BOOT, group, topic, "1"],
                         capture_output=True, text=True, check=True).stdout
    return {int(p): int(o) for p, o in (l.split() for l in out.strip().splitlines())}


def incidents(db):
    out = subprocess.run([TOCSIN, "incidents", "--db", db, "list", "--json"],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]


def key(i):
    return (i["id"], i["tenant"], i["rule_id"], i["group_key"], i["count"], i["first_seen"],
            i["last_seen"])


def run_case(name, poison, rules):
    syslog_t, agent_t = f"poison.syslog.{name}.{RUN}", f"poison.agent.{name}.{RUN}"
    for t in (syslog_t, agent_t, syslog_t + ".dlq", agent_t + ".dlq"):
        subprocess.run([KTOOL, "create", BOOT, t, "1"], check=True)
    n_syslog = 0
    for tenant, lines in syslog_chunks(poison):
        kcat(syslog_t, lines, tenant)
        n_syslog += len(lines)
    sl = sysmon_lines(poison)
    kcat(agent_t, sl)
    d = os.path.join(tmp, name)
    os.makedirs(d)
    cfg = os.path.join(d, "tocsin.yml")
    group = f"g-poison-{name}-{RUN}"
    with open(cfg, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: {group}
  workers: 2
  batch_size: 4
topics:
  - name: {syslog_t}
    format: rfc3164
    tenant: agency-a
    tenants: [agency-b, agency-c]
  - name: {agent_t}
    format: json
    tenant: agency-c
paths:
  data_dir: {d}/db
  rules: [etc/rules, {rules}]
log:
  level: warning
""")
    err = open(os.path.join(d, "run.err"), "w")
    p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "--stats-interval", "0"], stderr=err,
                         stdout=subprocess.DEVNULL)
    end = time.time() + 90
    done = False
    while time.time() < end and p.poll() is None:
        if (committed(group, syslog_t).get(0, -1) >= n_syslog and
                committed(group, agent_t).get(0, -1) >= len(sl)):
            done = True
            break
        time.sleep(0.3)
    alive = p.poll() is None
    if alive:
        p.send_signal(signal.SIGTERM)
    rc = p.wait(60)
    err.close()
    log = open(os.path.join(d, "run.err")).read()
    check(alive, f"{name}: tocsin run stopped on its own (exit {rc}): {log[-600:]}")
    check(done, f"{name}: not every message was consumed and committed")
    check(rc == 0, f"{name}: tocsin run exited {rc}: {log[-600:]}")
    return incidents(os.path.join(d, "db")), syslog_t


def kafka_part(rules):
    ref, _ = run_case("clean", False, rules)
    got, syslog_t = run_case("poisoned", True, rules)
    ab_ref = sorted(key(i) for i in ref if i["tenant"] in ("agency-a", "agency-b"))
    ab_got = sorted(key(i) for i in got if i["tenant"] in ("agency-a", "agency-b"))
    check(len(ab_ref) == 2, f"clean run: expected the two brute-force incidents, got {ab_ref}")
    check(ab_got == ab_ref, f"agency-a/b incidents differ from the clean run:\n{ab_got}\n{ab_ref}")
    c = [i for i in got if i["tenant"] == "agency-c" and "\u2026#" in i["group_key"]]
    check(len(c) == 1 and c[0]["count"] == 3 and c[0]["group_key"].startswith("Computer=hhhh"),
          f"the long-Computer incident of agency-c is missing or wrong: {c}")
    dump = subprocess.run([KTOOL, "dump", BOOT, syslog_t + ".dlq"], capture_output=True,
                          text=True, check=True).stdout.splitlines()
    reasons = [json.loads(l)["headers"].get("reason", "") for l in dump]
    check(len(reasons) == 2, f"expected 2 dead letters, got {len(reasons)}: {reasons}")
    check(any("tenant longer than 64 bytes" in r for r in reasons), f"no long-tenant reason: {reasons}")
    check(any('"agency-x" is not allowed on topic' in r for r in reasons),
          f"no foreign-tenant reason: {reasons}")
    print(f"poison (kafka): {len(ab_got)} agency-a/b incidents identical to the clean run's, "
          f"the 600-byte Computer incident kept hashed, dead letters: {reasons}", flush=True)


def replay_part(rules):
    f = os.path.join(tmp, "sysmon.jsonl")
    with open(f, "w") as fh:
        fh.write("\n".join(sysmon_lines(True)) + "\n")
    db = os.path.join(tmp, "replay-db")
    r = subprocess.run([TOCSIN, "replay", "--rules", rules, "--rules", "etc/rules", "--tenant",
                        "agency-c", "--db", db, f], capture_output=True, text=True)
    check(r.returncode == 0, f"replay --db exited {r.returncode}: {r.stderr[-500:]}")
    got = incidents(db)
    groups = sorted(i["group_key"][:20] for i in got if i["rule_id"].startswith("0b0c5a8e"))
    check(groups == ["Computer=hhhhhhhhhhh", "Computer=pc-a.local", "Computer=pc-b.local"],
          f"replay: expected the pc-a, pc-b and long-Computer incidents, got {groups}")
    r = subprocess.run([TOCSIN, "replay", "--tenant", "x" * 200, f], capture_output=True,
                       text=True)
    check(r.returncode == 2 and "bad --tenant: tenant longer than 64 bytes" in r.stderr,
          f"--tenant of 200 bytes: exit {r.returncode}, {r.stderr[-300:]}")


def main():
    rules = os.path.join(tmp, "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "repeat_shadow.yml"), "w") as f:
        f.write(RULE)
    replay_part(rules)
    if BOOT:
        kafka_part(rules)
    else:
        print("poison: no TOCSIN_KAFKA_BOOTSTRAP, Kafka part skipped", flush=True)
    print("poison: ok" if not fails else f"poison: {len(fails)} failure(s)", flush=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
