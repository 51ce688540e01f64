#!/usr/bin/env python3
"""State follows partitions (issue 12 part 3, acceptance; docs/scale.md).

The sshd stream of test_distributed.py (keyed by host over 6 partitions,
40 addresses each failing once against 6 hosts on 6 partitions within a
minute, bursts, noise), produced in three parts. Three `tocsin run`
processes with `correlate: {distributed: true}` in one group, own data
directories:
  part 1 -> all three correlate it; node 2 kills itself with SIGKILL
  right after a correlation batch's Kafka commit, before its LMDB commit
  (TOCSIN_TEST_KILL_AFTER_COMMITS), and is started again: its LMDB is
  behind the group's offsets, so it restores from the changelog;
  part 2 is produced and node 1 is killed with SIGKILL while it flows,
  then started again (within the session timeout: it keeps its partitions, its open
  transaction is aborted by the fence, stage B re-reads from the committed
  offsets with the state that matches them);
  a fourth node joins and node 0 stops (SIGTERM, static membership: its
  partitions move when the session times out), then part 3 is produced:
  internal partitions move to other processes mid-window, and their new
  owners must continue the windows from the changelog.
The incidents must be exactly those of one uninterrupted single-process run
over the whole stream: same ids, rules, groups, counts, first/last seen -
in the store of every node running at the end (incidents everywhere; node 0
left before part 3), and in the union of all four. The logs must show that state was restored from the changelog, and the
escalation entries queued over all nodes must be those of the single
process, each once."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import test_distributed as td

SESSION_MS = 8000


def config(name, group, distributed, node=None):
    path, d = td.config(name, group, distributed, node)
    with open(path) as f:
        text = f.read()
    text = text.replace("session.timeout.ms: 20000", f"session.timeout.ms: {SESSION_MS}")
    # escalation of every incident (a policy of one rule), no channel: the
    # entries stay queued
    pol = os.path.join(d, "policy.yml")
    with open(pol, "w") as f:
        f.write("regime: law116-2025\nrules:\n  - name: all\n    match: {}\n"
                "    escalate: {to: [managing_body], reports: [initial-notice]}\n"
                "channels:\n  managing_body: email:managing-body\n")
    text += f"escalate: {{policy: {pol}}}\n"
    with open(path, "w") as f:
        f.write(text)
    return path, d


def produce_part(parts, k, n=3):
    td.testlib.produce(td.KTOOL, td.BOOT, td.TOPIC,
                       [l[len(l) * k // n:len(l) * (k + 1) // n] for l in parts], create=False)
    return [len(l) * (k + 1) // n for l in parts]


def restored(d, runs):
    """Changelog records restored and partitions restored, over the runs' logs."""
    recs = nparts = 0
    for n in range(runs + 1):
        path = os.path.join(d, f"run{n}.err")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for l in f:
                m = re.search(r"(\d+) restored from \S+ \((\d+) record", l)
                if m:
                    nparts += int(m.group(1))
                    recs += int(m.group(2))
    return nparts, recs


def start_killing(cfg, d, n, after):
    """A node that kills itself with SIGKILL after its after-th correlation
    batch committed to Kafka, before LMDB (TOCSIN_TEST_KILL_AFTER_COMMITS)."""
    return td.start(cfg, d, n, dict(os.environ, TOCSIN_TEST_KILL_AFTER_COMMITS=str(after)))


def main():
    check = td.check
    parts = td.stream()
    subprocess.run([td.KTOOL, "create", td.BOOT, td.TOPIC, str(td.PARTS)], check=True)
    total = sum(len(l) for l in parts)

    # the reference: one process over the whole stream
    g = f"g-ref-{td.RUN}"
    cfg, d = config("ref", g, False)
    ends = produce_part(parts, 0)
    p = td.start(cfg, d, 0)
    ends = produce_part(parts, 1)
    ends = produce_part(parts, 2)
    check(td.wait_input(g, ends), "reference run did not consume everything")
    check(td.stop(p) == 0, "reference run did not exit 0")
    ref = td.incidents(d)
    ref_dir = d
    check(len(ref) >= 40, f"reference: only {len(ref)} incidents")

    # the same stream again on a fresh topic, in three parts
    td.TOPIC = f"{td.TOPIC}.b"
    subprocess.run([td.KTOOL, "create", td.BOOT, td.TOPIC, str(td.PARTS)], check=True)
    g = f"g-hand-{td.RUN}"
    nodes, procs, runs = [], [], []
    for i in range(4):
        nodes.append(config(f"hand{i}", g, True, node=f"n{i}"))
        runs.append(0)
    # node 3 serves /metrics
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    tokens = os.path.join(nodes[3][1], "tokens.yml")
    with open(tokens, "w") as f:
        f.write("tokens:\n  - {name: v, sha256: " + "ab" * 32 + ", role: viewer, "
                "tenants: [\"*\"]}\n")
    os.chmod(tokens, 0o600)
    with open(nodes[3][0], "a") as f:
        f.write(f"http:\n  listen: 127.0.0.1:{port}\n  tokens: {tokens}\n")
    for i in range(3):
        # node 2 dies between a Kafka commit and its LMDB commit in part 1
        procs.append(start_killing(nodes[i][0], nodes[i][1], 0, 12) if i == 2
                     else td.start(nodes[i][0], nodes[i][1], 0))
    procs.append(None)
    shares = td.wait_stable([(nodes[i][1], 0) for i in range(3)], g)
    check(shares is not None, "the three processes did not share both groups' partitions")
    print(f"handover: internal partitions per node {shares}", flush=True)

    ends = produce_part(parts, 0)
    try:
        rc2 = procs[2].wait(60)
    except subprocess.TimeoutExpired:
        rc2 = None
    check(rc2 == -signal.SIGKILL, f"node 2 did not kill itself between the commits ({rc2})")
    runs[2] += 1
    procs[2] = td.start(nodes[2][0], nodes[2][1], runs[2])
    check(td.wait_input(g, ends), "part 1 not consumed")
    check(td.wait_internal(g) > 0, "part 1 not correlated")

    # part 2 flows; SIGKILL node 1 when about a quarter of it is committed
    # (its batches in flight: an open transaction, LMDB ahead of or behind
    # Kafka), restart it within the session timeout
    before = sum(ends)
    ends = produce_part(parts, 1)
    target = before + (sum(ends) - before) // 4
    t_end = time.time() + 60
    while time.time() < t_end:
        if sum(max(0, o) for o in td.committed(g, td.TOPIC, td.PARTS).values()) >= target:
            break
        time.sleep(0.02)
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait(30)
    at = sum(max(0, o) for o in td.committed(g, td.TOPIC, td.PARTS).values())
    print(f"handover: node 1 killed at {at - before}/{sum(ends) - before} of part 2 committed",
          flush=True)
    time.sleep(1)
    runs[1] += 1
    procs[1] = td.start(nodes[1][0], nodes[1][1], runs[1])
    check(td.wait_input(g, ends), "part 2 not consumed after the SIGKILL and restart")
    check(td.wait_internal(g) > 0, "part 2 not correlated")
    print("handover: node 1 killed with SIGKILL and restarted", flush=True)

    # a fourth node joins, node 0 leaves: partitions move
    procs[3] = td.start(nodes[3][0], nodes[3][1], 0)
    time.sleep(3)
    check(td.stop(procs[0]) == 0, "node 0 did not exit 0 on SIGTERM")
    procs[0] = None
    # node 0's partitions move once its session times out
    live = [(nodes[i][1], runs[i]) for i in (1, 2, 3)]
    time.sleep(SESSION_MS / 1000 + 2)
    shares = td.wait_stable(live, g)
    check(shares is not None, "nodes 1-3 did not take over all partitions")
    print(f"handover: after node 0 left and node 3 joined, internal partitions {shares}",
          flush=True)
    ends = produce_part(parts, 2)
    check(td.wait_input(g, ends), "part 3 not consumed")
    nrec = td.wait_internal(g)
    check(nrec > 0, "part 3 not correlated")
    time.sleep(3)  # the materialisers catch up
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            met = r.read().decode()
    except OSError as e:
        met = str(e)
    val = {m.group(1): int(m.group(2))
           for m in re.finditer(r"^(tocsin_(?:state|incident|rekey)_\w+) (\d+)$", met, re.M)}
    check(val.get("tocsin_state_restores_total", 0) > 0 and
          val.get("tocsin_incident_changes_materialised_total", 0) > 0 and
          val.get("tocsin_rekey_records_consumed_total", 0) > 0,
          f"node 3's /metrics: {val or met[:300]}")
    for i in (1, 2, 3):
        check(td.stop(procs[i]) == 0, f"node {i} did not exit 0")

    a, b = restored(nodes[2][1], 1)
    check(a > 0, "node 2, restarted after dying between the Kafka and the LMDB commit, did not "
                 "restore its partitions from the changelog")
    # escalations: queued once, by the node that produced the change - the
    # (incident, recipient, report) of every entry over all nodes, each
    # once, as in the single-process run
    def queued(d):
        out = subprocess.run([td.TOCSIN, "escalations", "--db", os.path.join(d, "db"), "list",
                              "--json"], capture_output=True, text=True, check=True).stdout
        res = []
        for l in out.splitlines():
            e = json.loads(l)
            parts = e["id"].split(":")
            res.append((e["incident_id"], e["recipient"], parts[-1]))
        return res
    # (an incident retracted later - it never formed in time order - may
    # have been escalated while it stood, in one process too; which ones
    # depends on batch boundaries: only the incidents that stand count)
    ref_q = sorted(q for q in queued(ref_dir) if q[0] in ref)
    all_q = sorted(q for i in range(4) for q in queued(nodes[i][1]) if q[0] in ref)
    check(ref_q and all_q == ref_q,
          f"escalations: {len(all_q)} entries over the nodes, {len(ref_q)} in the single-process "
          f"run; twice: {sorted(set(q for q in all_q if all_q.count(q) > 1))[:3]}, missing: "
          f"{sorted(set(ref_q) - set(all_q))[:3]}")
    nres, nrecs = 0, 0
    for i in range(4):
        a, b = restored(nodes[i][1], runs[i])
        nres += a
        nrecs += b
    check(nres > 0 and nrecs > 0,
          f"no partition was restored from the changelog ({nres} partitions, {nrecs} records): "
          f"the test did not move state")

    def compare(got, what):
        missing = set(ref) - set(got)
        extra = set(got) - set(ref)
        differ = [k for k in set(ref) & set(got) if ref[k] != got[k]]
        check(not missing and not extra and not differ,
              f"{what}: {len(missing)} missing, {len(extra)} extra, {len(differ)} differ of "
              f"{len(ref)}; e.g. missing {[ref[k] for k in sorted(missing)[:2]]}, extra "
              f"{[got[k] for k in sorted(extra)[:2]]}, differ "
              f"{[(ref[k], got[k]) for k in differ[:2]]}")

    union = {}
    for i in range(4):
        got = td.incidents(nodes[i][1])
        if i:  # node 0 left before part 3: its store stops there
            compare(got, f"node {i}'s store")
        for k, v in got.items():
            if k not in union or (v[2], v[4]) > (union[k][2], union[k][4]):
                union[k] = v
    compare(union, "the union of the stores")
    print(f"handover: {total} lines in 3 parts, {nres} partition restore(s) from the "
          f"changelog ({nrecs} records); every running node's store and the union equal the "
          f"single-process run's {len(ref)} incidents; {len(all_q)} escalations queued once "
          f"over the nodes, as in one process" if not td.fails
          else f"handover: {len(td.fails)} failure(s) (logs in {td.tmp})", flush=True)
    sys.exit(1 if td.fails else 0)


if __name__ == "__main__":
    main()
