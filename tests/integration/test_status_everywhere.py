#!/usr/bin/env python3
"""Status changes and retention everywhere (issue 12, docs/scale.md "Status
changes everywhere").

A broker of its own (it is stopped in the last part). The sshd stream of
test_distributed.py, correlated by two `tocsin run` nodes with
`correlate: {distributed: true}` and `retention: {resolved: 20s}`:
  - incident X: acknowledged on node 0 through the API, resolved with a note
    on node 1 through the CLI, then an acknowledge on node 0 (CLI) is
    refused (it is resolved), and it is reopened on node 1 through the CLI
    -> both nodes' stores answer the same status, by, revision and history;
  - incident W: resolved on node 0 (API) and acknowledged on node 1 (CLI)
    at the same moment: both stores agree, each maker was told what
    happened to its change;
  - incident Y: resolved on node 0 (CLI); retention removes it (and W)
    after 20 s from both stores (tombstones from the owner of the partition);
  - `tocsin serve --incidents-from` over an empty directory, and node 1
    started again over an empty data directory, show X with the same
    history and neither Y nor W;
  - the broker stopped: a change on node 0 through the CLI (exit 1) and the
    API (503) is refused and says that nothing changed on any node; the
    store still has the status it had."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROKER_SH = os.path.join(ROOT, "tests/kafka/broker.sh")


def broker(cmd, d):
    r = subprocess.run([BROKER_SH, cmd, d], capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        raise RuntimeError(f"broker.sh {cmd}: {r.stderr[-500:]}")
    return r.stdout.strip()


KDIR = tempfile.mkdtemp(prefix="tocsin-status-kafka-")
os.environ["TOCSIN_KAFKA_BOOTSTRAP"] = broker("start", KDIR)
import test_distributed as td  # noqa: E402  (reads the bootstrap)

check = td.check
TOKEN = "status-everywhere-token-0123456789"


def cli(d, *args, timeout=120):
    t0 = time.time()
    r = subprocess.run([td.TOCSIN, "incidents", "--db", os.path.join(d, "db"), *args],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr, time.time() - t0


def api(port, id_, verb, comment=None):
    body = json.dumps({"comment": comment}).encode() if comment else b""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/incidents/{id_}/{verb}",
                                 data=body, method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "{}")
    except OSError as e:
        return 0, {"error": str(e)}


def show(d, id_):
    """(status, status_by, revision, history) of id_ in d's store, None if absent."""
    r = subprocess.run([td.TOCSIN, "incidents", "--db", os.path.join(d, "db"), "show", id_,
                        "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    i = json.loads(r.stdout)
    return (i["status"], i.get("status_by"), i.get("revision"),
            [(h["from"], h["status"], h["by"], h["at"], h.get("comment", ""))
             for h in i.get("history", [])])


def wait_for(fn, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    return fn()


def main():
    parts = td.produce(td.stream())
    g = f"g-status-{td.RUN}"
    nodes = []
    port = None
    for i in range(2):
        cfg, d = td.config(f"st{i}", g, True, node=f"n{i}")
        with open(cfg, "a") as f:
            f.write("retention:\n  interval: 1s\n  resolved: 20s\n")
            if i == 0:
                import socket
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
                s.close()
                tokens = os.path.join(d, "tokens.yml")
                with open(tokens, "w") as t:
                    t.write("tokens:\n  - {name: analyst-a, sha256: "
                            + hashlib.sha256(TOKEN.encode()).hexdigest()
                            + ", role: analyst, tenants: [\"*\"]}\n")
                os.chmod(tokens, 0o600)
                f.write(f"http:\n  listen: 127.0.0.1:{port}\n  tokens: {tokens}\n")
        nodes.append((cfg, d))
    procs = [td.start(cfg, d, 0) for cfg, d in nodes]
    runs = [0, 0]
    check(td.wait_input(g, parts), "the nodes did not consume the input")
    check(td.wait_internal(g) > 0, "the correlation stage did not consume the internal topic")
    a = wait_for(lambda: (lambda x, y: x if x and x == y else None)(
        td.incidents(nodes[0][1]), td.incidents(nodes[1][1])))
    check(bool(a), "the two nodes' stores did not come to hold the same incidents")
    if not a:
        sys.exit(1)
    ids = sorted(a)
    X, Y = ids[0], ids[1]

    # X: ack on node 0 (API), resolve + note on node 1 (CLI), refused ack
    # on node 0 (CLI), reopen on node 1 (CLI)
    st, body = api(port, X, "ack", "looking at it")
    check(st == 200 and body.get("status") == "acknowledged",
          f"API ack on node 0: {st} {body}")
    rc, out, _ = cli(nodes[1][1], "resolve", X, "--by", "binh", "--comment",
                     "the audit team's scanner")
    check(rc == 0 and "applied by every node" in out, f"CLI resolve on node 1: {rc} {out}")
    rc, out, _ = cli(nodes[0][1], "ack", X, "--by", "an")
    check(rc == 1 and "it is resolved" in out, f"CLI ack of a resolved incident: {rc} {out}")
    st, body = api(port, X, "ack")
    check(st == 409, f"API ack of a resolved incident: {st} {body}")
    rc, out, _ = cli(nodes[1][1], "reopen", X, "--by", "binh", "--comment", "seen again")
    check(rc == 0, f"CLI reopen on node 1: {rc} {out}")
    # Y: resolved on node 0; retention (20 s) removes it from every store
    rc, out, _ = cli(nodes[0][1], "resolve", Y, "--by", "an", "--comment", "noise")
    check(rc == 0, f"CLI resolve of Y on node 0: {rc} {out}")
    x0 = wait_for(lambda: (lambda p, q: p if p and p == q else None)(
        show(nodes[0][1], X), show(nodes[1][1], X)), 30)
    check(bool(x0), f"X differs between the nodes: {show(nodes[0][1], X)} vs "
                    f"{show(nodes[1][1], X)}")
    want = [("new", "acknowledged", "analyst-a", "looking at it"),
            ("acknowledged", "resolved", "binh", "the audit team's scanner"),
            ("resolved", "reopened", "binh", "seen again")]
    got = [(h[0], h[1], h[2], h[4]) for h in (x0 or (None, None, None, []))[3]]
    check(got == want, f"X's history: {got}")
    check(x0 and x0[0] == "reopened" and x0[1] == "binh", f"X's status: {x0}")
    # W: changed on both nodes at the same moment (API resolve on node 0,
    # CLI acknowledge on node 1): the partition orders them; both stores
    # agree, and each maker was told what happened to its change
    W = ids[3]
    res = {}
    th = threading.Thread(target=lambda: res.update(api=api(port, W, "resolve", "closing")))
    th.start()
    res["cli"] = cli(nodes[1][1], "ack", W, "--by", "chi")
    th.join()
    w0 = wait_for(lambda: (lambda p, q: p if p and p == q else None)(
        show(nodes[0][1], W), show(nodes[1][1], W)), 30)
    check(bool(w0), f"W differs between the nodes: {show(nodes[0][1], W)} vs "
                    f"{show(nodes[1][1], W)}")
    hist = [(h[1], h[2]) for h in (w0 or (None, None, None, []))[3]]
    ok_api, ok_cli = res["api"][0] == 200, res["cli"][0] == 0
    check(ok_api and w0 and w0[0] == "resolved", f"W: API resolve {res['api']}, W {w0}")
    check((ok_cli and hist == [("acknowledged", "chi"), ("resolved", "analyst-a")]) or
          (not ok_cli and "it is resolved" in res["cli"][1] and
           hist == [("resolved", "analyst-a")]),
          f"W: CLI ack {res['cli'][:2]} does not match the history {hist}")
    print(f"status: concurrent changes of W: API resolve {res['api'][0]}, CLI ack exit "
          f"{res['cli'][0]}; both nodes' history {hist}", flush=True)
    gone = wait_for(lambda: all(show(nodes[i][1], k) is None for i in (0, 1) for k in (Y, W)),
                    90)
    check(gone, f"retention did not remove the resolved Y and W from every store: "
                f"{[show(nodes[i][1], k) for i in (0, 1) for k in (Y, W)]}")
    print(f"status: X {X} acknowledged (API n0), resolved (CLI n1), refused ack, reopened; "
          f"both nodes: {x0 and x0[:3]}, {len(got)} history entries; Y removed by retention "
          f"from both stores: {bool(gone)}", flush=True)

    # a new reader: serve --incidents-from over an empty directory
    sdir = os.path.join(td.tmp, "serve")
    os.makedirs(sdir, exist_ok=True)
    srv = subprocess.Popen([td.TOCSIN, "serve", "--db", os.path.join(sdir, "db"), "--listen",
                            "127.0.0.1:0", "--tokens", os.path.join(nodes[0][1], "tokens.yml"),
                            "--no-reports", "--incidents-from", nodes[0][0]],
                           stdout=subprocess.PIPE,
                           stderr=open(os.path.join(sdir, "err"), "w"), text=True)
    said = srv.stdout.readline()
    check("listening" in said, f"serve --incidents-from did not start: {said!r}")
    xs = wait_for(lambda: show(sdir, X) == x0 and show(sdir, X), 30)
    check(xs == x0, f"serve --incidents-from: X is {show(sdir, X)}, the nodes {x0}")
    check(show(sdir, Y) is None and show(sdir, W) is None,
          f"serve --incidents-from brought back Y or W: {show(sdir, Y)} {show(sdir, W)}")
    td.stop(srv)
    # node 1 again over an empty data directory
    check(td.stop(procs[1]) == 0, "node 1 did not exit 0")
    shutil.rmtree(os.path.join(nodes[1][1], "db"))
    runs[1] += 1
    procs[1] = td.start(nodes[1][0], nodes[1][1], runs[1])
    x1 = wait_for(lambda: show(nodes[1][1], X) == x0 and show(nodes[1][1], X), 60)
    check(x1 == x0, f"node 1 over an empty directory: X is {show(nodes[1][1], X)}, was {x0}")
    check(show(nodes[1][1], Y) is None and show(nodes[1][1], W) is None,
          "node 1 over an empty directory brought back Y or W")
    n1 = wait_for(lambda: (lambda x: x if len(x) == len(a) - 2 else None)(
        td.incidents(nodes[1][1])), 60)
    check(n1 and set(n1) == set(a) - {Y, W},
          f"node 1 over an empty directory: {len(n1 or {})} incidents, {len(a) - 2} expected")

    # the broker stopped: a change is refused, nothing changes
    Z = ids[2]
    before = show(nodes[0][1], Z)
    broker("stop", KDIR)
    rc, out, secs = cli(nodes[0][1], "resolve", Z, "--by", "an")
    check(rc == 1 and "nothing changed on any node" in out,
          f"CLI resolve with the broker stopped: {rc} {out}")
    st, body = api(port, Z, "resolve")
    check(st == 503 and "not changed on any node" in body.get("error", ""),
          f"API resolve with the broker stopped: {st} {body}")
    after = show(nodes[0][1], Z)
    check(after == before and after and after[0] == "new",
          f"Z changed with the broker stopped: {before} -> {after}")
    print(f"status: with the broker stopped the CLI said in {secs:.1f} s: "
          f"{out.strip()[:160]}", flush=True)
    broker("restart", KDIR)
    for p in procs:
        check(td.stop(p) == 0, "a node did not exit 0 after the broker came back")
    print("status: every node answers the same status, history and removals"
          if not td.fails else f"status: {len(td.fails)} failure(s) (logs in {td.tmp})",
          flush=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        broker("stop", KDIR)
        shutil.rmtree(KDIR, ignore_errors=True)
    sys.exit(1 if td.fails else 0)
