#!/usr/bin/env python3
"""Scale-out on Kafka, first slice (issue 12 parts 1 and 2; docs/scale.md).

An sshd stream keyed by host over several partitions of a real broker, with
distributed brute force: addresses that fail once against each of many hosts
spread over the partitions (no single partition sees five failures from
one address), beside ordinary brute force from one address on one host and
noise below the threshold. Correlated once by one `tocsin run` in the
single-process mode (the reference), then by three `tocsin run` processes
with `correlate: {distributed: true}` in one consumer group, each with its
own data directory; one of them is stopped with SIGTERM mid-stream and
started again. Every node's store (each materialises the incidents topic)
must be exactly the reference incidents (same ids, rules, groups, counts,
first/last seen), while the correlation itself ran on several nodes. The
stores of the single-process mode on the same split (three processes, not
distributed) are checked to miss and split incidents, so the test shows
what the switch changes. `tocsin serve --incidents-from` over an empty
directory serves the same incidents. Last, a second process started with
node 2's correlate.node fences node 2, which must stop with a non-zero exit
and say why rather than run on, fenced."""
import json
import os
import random
import re
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
RUN = f"{os.getpid()}-{int(time.time())}-{random.randrange(1 << 30):x}"
TOPIC = f"sshd.dist.{RUN}"
PARTS = 6        # input partitions (by host)
IPARTS = 6       # internal topic's partitions
HOSTS = 36
NODES = 3
tmp = tempfile.mkdtemp(prefix="tocsin-dist-")
rnd = random.Random(int(os.environ.get("SEED", "20261207")))
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)


def line(t, host, ip, user, port):
    hh, mm, ss = t // 3600, t // 60 % 60, t % 60
    return (t, f"<38>Nov 20 {hh:02d}:{mm:02d}:{ss:02d} {host} sshd[{1000 + port % 9000}]: "
               f"Failed password for {user} from {ip} port {port} ssh2")


def stream():
    """Per partition (host i on partition i % PARTS), lines in time order."""
    ev = []
    t0 = 9 * 3600
    # distributed brute force: 40 addresses, each tries 6 hosts on 6
    # partitions once within a minute (some twice, a few only 4 hosts)
    for a in range(40):
        ip = f"203.0.113.{a + 1}"
        start = t0 + a * 45
        hosts = rnd.sample(range(HOSTS), 6)
        nh = 4 if a % 10 == 9 else 6
        for k, h in enumerate(hosts[:nh]):
            ev.append(line(start + k * 7, f"web-{h:02d}", ip, "root", 4000 + a * 10 + k))
            if a % 4 == 0:  # a second round a little later: a count update
                ev.append(line(start + 50 + k, f"web-{h:02d}", ip, "admin", 5000 + a * 10 + k))
    # one address on one host, in bursts (several episodes)
    for a in range(10):
        ip = f"198.51.100.{a + 1}"
        h = a * 3 % HOSTS
        t = t0 + 30 + a * 60
        for k in range(12):
            t += 5 if k % 6 else 200
            ev.append(line(t, f"web-{h:02d}", ip, f"user{k % 3}", 6000 + a * 20 + k))
    # noise: one or two failures from many addresses
    for i in range(6000):
        ip = f"192.0.2.{i % 250 + 1}" if i < 250 else f"100.64.{i // 250}.{i % 250}"
        ev.append(line(t0 + rnd.randrange(2400), f"web-{rnd.randrange(HOSTS):02d}", ip,
                       "guest", 7000 + i))
    per = [[] for _ in range(PARTS)]
    for t, text in ev:
        h = int(re.search(r" web-(\d+) ", text).group(1))
        per[h % PARTS].append((t, text))
    for p in per:
        p.sort(key=lambda x: x[0])
    return [[text for _, text in p] for p in per]


def produce(parts):
    """parts (lists of lines) to TOPIC's partitions; the end offsets (also
    used by test_status_everywhere.py)."""
    return testlib.produce(KTOOL, BOOT, TOPIC, parts)


def config(name, group, distributed, node=None):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tocsin.yml")
    dist = f"""correlate:
  distributed: true
  partitions: {IPARTS}
""" if distributed else ""
    if node:
        dist += f"  node: {node}\n"
    with open(path, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: {group}
  workers: 1
  batch_size: 40
  properties:
    session.timeout.ms: 20000
    heartbeat.interval.ms: 1000
topics:
  - name: {TOPIC}
    format: rfc3164
    tenant: agency-test
paths:
  data_dir: {d}/db
  rules: [etc/rules]
{dist}log:
  level: info
""")
    return path, d


def committed(group, topic, parts):
    # {} e.g. for the offsets of an open transaction (unstable): ask again later
    return testlib.committed(KTOOL, BOOT, group, topic, parts)


def start(cfg, d, n, env=None):
    return testlib.start_run(TOCSIN, cfg, d, n, env)


def wait_input(group, ends, timeout=180):
    return testlib.wait_committed(KTOOL, BOOT, group, TOPIC, ends, timeout)


def internal_ends(topic):
    """Next offset after the last committed record of each partition of the
    internal topic (read_committed: transaction markers are not records)."""
    out = subprocess.run(["kcat", "-C", "-b", BOOT, "-t", topic, "-o", "beginning", "-e", "-q",
                          "-X", "isolation.level=read_committed", "-f", "%p %o\n"],
                         capture_output=True, text=True, timeout=120).stdout
    ends = {}
    rows = out.strip().splitlines()
    for row in rows:
        p, o = map(int, row.split())
        ends[p] = max(ends.get(p, 0), o + 1)
    return ends, len(rows)


def wait_internal(group, timeout=180):
    topic = f"{group}.correlate"
    end = time.time() + timeout
    while time.time() < end:
        ends, nrec = internal_ends(topic)
        c = committed(f"{group}.correlate", topic, IPARTS)
        if ends and all(c.get(p, -1) >= o for p, o in ends.items()):
            return nrec
        time.sleep(0.5)
    return -1


def assigned(d, n, group):
    """The latest partition count each worker of run n logged for group."""
    path = os.path.join(d, f"run{n}.err")
    last = None
    with open(path) as f:
        for l in f:
            m = re.search(r"assigned (\d+) partition\(s\) of group (\S+)", l)
            if m and m.group(2) == group:
                last = int(m.group(1))
    return last or 0


def wait_stable(nodes, group, timeout=90, nodes_parts=False):
    """Every node holds a share of both groups and together all partitions
    (nodes_parts: each node holds some of both)."""
    end = time.time() + timeout
    while time.time() < end:
        a = [assigned(d, n, group) for d, n in nodes]
        b = [assigned(d, n, f"{group}.correlate") for d, n in nodes]
        if (all(a) and all(b)) if nodes_parts else (sum(a) == PARTS and sum(b) == IPARTS and all(b)):
            time.sleep(2)
            if [assigned(d, n, f"{group}.correlate") for d, n in nodes] == b:
                return b
        time.sleep(0.5)
    return None


def incidents(d):
    return testlib.incidents(TOCSIN, os.path.join(d, "db"))


def stop(p):
    p.send_signal(signal.SIGTERM)
    return p.wait(90)


def main():
    parts = produce(stream())
    total = sum(parts)
    # the reference: one single-process run
    g = f"g-ref-{RUN}"
    cfg, d = config("ref", g, False)
    p = start(cfg, d, 0)
    check(wait_input(g, parts), "reference run did not consume everything")
    check(stop(p) == 0, "reference run did not exit 0")
    ref = incidents(d)
    bf = [v for v in ref.values() if v[0] == "017dd23e-17b7-46ec-9279-c2482fa92e1f"]
    spread = [v for v in bf if v[1].startswith("src_ip=203.0.113.")]
    check(len(spread) >= 30, f"reference: only {len(spread)} distributed brute-force incidents")

    # what the single-process mode does on three processes: split counts
    g = f"g-split-{RUN}"
    nodes, procs = [], []
    for i in range(NODES):
        cfg, d = config(f"split{i}", g, False)
        nodes.append((cfg, d))
        procs.append(start(cfg, d, 0))
        time.sleep(0.5)
    check(wait_input(g, parts), "split runs did not consume everything")
    for p in procs:
        check(stop(p) == 0, "a split run did not exit 0")
    split = {}
    for cfg, d in nodes:
        for k, v in incidents(d).items():
            split.setdefault(k, []).append(v)
    found = sum(1 for k in ref if k in split)
    print(f"distributed: single-process mode on {NODES} processes finds {found} of "
          f"{len(ref)} reference incidents", flush=True)

    # the distributed mode: three processes, one restarted mid-stream
    g = f"g-dist-{RUN}"
    nodes, procs = [], []
    for i in range(NODES):
        cfg, d = config(f"dist{i}", g, True, node=f"n{i}")
        nodes.append((cfg, d))
        procs.append(start(cfg, d, 0))
    runs = [0] * NODES
    shares = wait_stable([(d, 0) for _, d in nodes], g)
    check(shares is not None, "the three processes did not share both groups' partitions")
    print(f"distributed: internal partitions per node {shares}", flush=True)
    # restart node 1 when about a third of the input is committed
    target = total // 3
    t_end = time.time() + 120
    while time.time() < t_end:
        c = committed(g, TOPIC, PARTS)
        if sum(max(0, o) for o in c.values()) >= target:
            break
        time.sleep(0.05)
    check(stop(procs[1]) == 0, "SIGTERM: node 1 did not exit 0")
    at = sum(max(0, o) for o in committed(g, TOPIC, PARTS).values())
    runs[1] += 1
    procs[1] = start(nodes[1][0], nodes[1][1], runs[1])
    print(f"distributed: node 1 restarted at {at}/{total} input messages committed",
          flush=True)
    check(wait_input(g, parts), "distributed runs did not consume the input")
    nrec = wait_internal(g)
    check(nrec > 0, "the correlation stage did not consume the internal topic")
    for p in procs:
        check(stop(p) == 0, "a distributed run did not exit 0")
    # incidents everywhere: every store holds every incident (each node
    # materialises the incidents topic); who correlated it: the node named
    # in the run's detections output
    got, per = {}, []
    for i, (cfg, d) in enumerate(nodes):
        mine = incidents(d)
        if i:
            check(mine == got, f"node {i}'s store differs from node 0's: "
                               f"{len(set(mine) ^ set(got))} ids in one only, "
                               f"{sum(1 for k in set(mine) & set(got) if mine[k] != got[k])} differ")
        else:
            got = mine
        owned = set()
        for n in range(runs[i] + 1):
            path = os.path.join(d, f"out{n}.jsonl")
            if os.path.exists(path):
                with open(path) as f:
                    for l in f:
                        if '"kind":"incident"' in l:
                            owned.add(json.loads(l)["incident"]["id"])
        per.append(len(owned))
    check(sum(1 for n in per if n) >= 2, f"incidents not correlated on several nodes: {per}")
    missing = set(ref) - set(got)
    extra = set(got) - set(ref)
    differ = [k for k in set(ref) & set(got) if ref[k] != got[k]]
    check(not missing, f"{len(missing)} reference incidents missing, e.g. "
                       f"{[ref[k] for k in sorted(missing)[:3]]}")
    check(not extra, f"{len(extra)} incidents the reference does not have, e.g. "
                     f"{[got[k] for k in sorted(extra)[:3]]}")
    check(not differ, f"{len(differ)} incidents differ, e.g. "
                      f"{[(ref[k], got[k]) for k in differ[:3]]}")
    # tocsin serve over an empty directory, fed by the incidents topic
    sdir = os.path.join(tmp, "serve")
    os.makedirs(sdir, exist_ok=True)
    tokens = os.path.join(sdir, "tokens.yml")
    with open(tokens, "w") as f:
        f.write("tokens:\n  - {name: v, sha256: " + "ab" * 32 + ", role: viewer, "
                "tenants: [\"*\"]}\n")
    os.chmod(tokens, 0o600)
    srv = subprocess.Popen([TOCSIN, "serve", "--db", os.path.join(sdir, "db"), "--listen",
                            "127.0.0.1:0", "--tokens", tokens, "--no-reports",
                            "--incidents-from", nodes[0][0]],
                           stdout=subprocess.PIPE, stderr=open(os.path.join(sdir, "err"), "w"),
                           text=True)
    said = srv.stdout.readline()
    check("listening" in said, f"serve --incidents-from did not start: {said!r}")
    time.sleep(2)
    check(stop(srv) == 0, "serve did not exit 0")
    served = incidents(sdir)
    check(served == got, f"serve --incidents-from: {len(served)} incidents, "
                         f"{len(set(served) ^ set(got))} ids not in the nodes' stores")
    check(found < len(ref), "the single-process mode on three processes found every "
                            "incident: the stream does not test the re-keying")
    # a second process with node 2's name (another data directory) fences
    # node 2, which stops and says why instead of running on, fenced
    cfg2, d2 = nodes[2]
    p2 = start(cfg2, d2, 1)
    check(wait_stable([(d2, 1)], g, nodes_parts=True) is not None, "node 2 did not rejoin")
    dcfg, dd = config("dup", g, True, node="n2")
    dup = start(dcfg, dd, 0)
    try:
        rc2 = p2.wait(60)
    except subprocess.TimeoutExpired:
        rc2 = None
        p2.kill()
    with open(os.path.join(d2, "run1.err")) as f:
        said = "same correlate.node" in f.read()
    check(rc2 not in (None, 0) and said,
          f"node 2 fenced by a process with its name: exit {rc2}, said why: {said}")
    stop(dup)
    print(f"distributed: {total} lines on {PARTS} partitions, {nrec} re-keyed records on "
          f"{IPARTS}: {len(got)} incidents over {NODES} stores {per} (one node restarted), "
          f"identical to the single-process run's {len(ref)}" if not fails
          else f"distributed: {len(fails)} failure(s) (logs in {tmp})", flush=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
