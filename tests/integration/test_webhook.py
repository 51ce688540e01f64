#!/usr/bin/env python3
"""Delivery of escalations to a real local HTTPS webhook, and to Kafka.

1. A self-signed CA and a server certificate for 127.0.0.1 are made with the
   openssl CLI in a temp dir; a Python HTTPS server (http.server + ssl)
   verifies every request's Standard Webhooks signature with hmac,
   deduplicates by Idempotency-Key per endpoint, answers 503 to the first N
   requests, and can be stopped and started on the same port.
2. The outbox is filled by `tocsin replay --escalate law116-2025` of
   examples/auth.log; every channel the policy names points at the server.
3. `tocsin escalations send` runs while the server is down and is killed
   with SIGKILL; the server comes back (failing its first requests), send
   is started again and must exit 0 with every entry delivered; the server
   must have accepted each entry, and none twice after dedup.
4. With TOCSIN_KAFKA_BOOTSTRAP: the same outbox through a Kafka channel,
   consumed with kcat: key = incident id, headers recipient/report/revision.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import HttpsServer, free_port, make_certs, webhook_signed  # noqa: E402

TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
TMP = tempfile.mkdtemp(prefix="tocsin-webhook-")
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


class Receiver:
    """The receiving side: verification, dedup and failure injection."""

    def __init__(self, cert, key):
        self.cert, self.key = cert, key
        self.lock = threading.Lock()
        self.fail_next = 0
        self.requests = 0
        self.bad = []           # requests that failed verification
        self.accepted = {}      # (path, Idempotency-Key, webhook-id) -> times accepted
        self.seen_keys = set()  # (path, Idempotency-Key): dedup
        self.duplicates = 0
        self.https = HttpsServer(cert, key, self.handle)
        self.port = self.https.port

    def handle(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self.lock:
            self.requests += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503
        wid, ts = h.headers.get("webhook-id"), h.headers.get("webhook-timestamp")
        sigs, key = h.headers.get("webhook-signature", ""), h.headers.get("Idempotency-Key")
        if not (wid and ts and sigs and key):
            self.bad.append(("missing headers", dict(h.headers)))
            return 400
        if not webhook_signed(SECRET, h.headers, body):
            self.bad.append(("signature", wid))
            return 401
        if abs(time.time() - int(ts)) > 300:
            self.bad.append(("timestamp", wid))
            return 400
        doc = json.loads(body)
        if doc.get("report_id") != wid or not wid.startswith(key + ":"):
            self.bad.append(("ids", wid, key, doc.get("report_id")))
            return 400
        with self.lock:
            self.accepted[(h.path, key, wid)] = self.accepted.get((h.path, key, wid), 0) + 1
            if (h.path, key) in self.seen_keys:
                self.duplicates += 1      # dropped by the dedup, still 2xx
            self.seen_keys.add((h.path, key))
        return 200

    def start(self, fail_first=0):
        self.fail_next = fail_first
        self.https.start()

    def stop(self):
        self.https.stop()


def entries(db):
    out = sh(TOCSIN, "escalations", "--db", db, "list", "--json").stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


CHANNEL_NAMES = ["default", "email:managing-body", "webhook:csirt", "webhook:national"]


def webhook_config(port, ca):
    path = f"{TMP}/channels.yml"
    with open(path, "w") as f:
        f.write(f"""dispatch: {{threads: 2, lease: 4s, backoff_base: 300ms, backoff_cap: 1s,
           max_attempts: 1000, poll: 100ms, alerts_file: {TMP}/alerts.jsonl}}
channels:
""")
        for name in CHANNEL_NAMES:
            ep = name.replace(":", "-")
            f.write(f"""  "{name}":
    type: webhook
    url: https://127.0.0.1:{port}/{ep}
    secret_env: TOCSIN_TEST_WHSEC
    ca_file: {ca}
    timeout: 2s
    connect_timeout: 1s
""")
    return path


def replay(db):
    sh(TOCSIN, "replay", "--db", db, "-r", "etc/rules", "--escalate", "law116-2025",
       "--assets", "etc/assets.example.yml", "examples/auth.log")


def test_webhook():
    ca, crt, key = make_certs(TMP)
    recv = Receiver(crt, key)
    db = f"{TMP}/db"
    replay(db)
    shutil.copytree(db, f"{TMP}/db-kafka")
    want = entries(db)
    check(len(want) >= 1, f"the replay queued escalations ({len(want)})")
    check(all(e["state"] == "pending" for e in want), "all entries pending after the replay")
    cfg = webhook_config(recv.port, ca)
    env = dict(os.environ, TOCSIN_TEST_WHSEC=SECRET)
    send = [TOCSIN, "escalations", "--db", db, "send", "--channels", cfg]

    # 1. the endpoint is down: send keeps retrying; kill -9 it mid-way
    p = subprocess.Popen(send, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while time.time() < deadline:
        if any(e["attempts"] >= 2 for e in entries(db)):
            break
        time.sleep(0.2)
    check(p.poll() is None, "send keeps running while the endpoint is down")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    after_kill = entries(db)
    check(all(e["state"] == "pending" for e in after_kill),
          "nothing delivered or dead-lettered while the endpoint was down")
    check(any("127.0.0.1" in e["last_error"] for e in after_kill), "the error names the URL")

    # 2. the endpoint is back, refusing its first 2 requests with 503
    recv.start(fail_first=2)
    t0 = time.time()
    r = subprocess.run(send, env=env, capture_output=True, text=True, timeout=90)
    check(r.returncode == 0, f"send exits 0 (got {r.returncode}: {r.stderr[-500:]})")
    print(f"  recovered in {time.time() - t0:.1f}s; server saw {recv.requests} requests",
          flush=True)
    got = entries(db)
    check(all(e["state"] == "delivered" for e in got),
          "every entry delivered: " + ", ".join(f"{e['id']}={e['state']}" for e in got))
    check(not recv.bad, f"every request verified: {recv.bad[:3]}")
    for e in want:
        ep = "/" + e["channel"].replace(":", "-")
        key = f"{e['incident_id']}:{e['revision']}"
        n = recv.accepted.get((ep, key, e["id"]), 0)
        check(n >= 1, f"{e['id']} reached {ep}")
    keys = {(p_, k) for (p_, k, _w) in recv.accepted}
    check(len(keys) == len({("/" + e["channel"].replace(":", "-"),
                             f"{e['incident_id']}:{e['revision']}") for e in want}),
          "after dedup by Idempotency-Key each escalation counted once per endpoint")
    print(f"  {len(want)} entries, {sum(recv.accepted.values())} accepted deliveries, "
          f"{recv.duplicates} dropped as repeats by the receiver", flush=True)
    # a second send has nothing to do
    before = recv.requests
    r = subprocess.run(send + ["--once"], env=env, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and recv.requests == before, "a second pass sends nothing")

    # 3. a permanent refusal (401: wrong secret) is a dead letter at once + alert
    db2 = f"{TMP}/db-bad"
    replay(db2)
    env_bad = dict(os.environ,
                   TOCSIN_TEST_WHSEC="whsec_" + base64.b64encode(b"x" * 32).decode())
    r = subprocess.run([TOCSIN, "escalations", "--db", db2, "send", "--channels", cfg],
                       env=env_bad, capture_output=True, text=True, timeout=60)
    check(r.returncode == 1, f"send exits 1 after dead letters (got {r.returncode})")
    bad = entries(db2)
    check(all(e["state"] == "failed" and e["attempts"] == 1 for e in bad),
          "a 401 is permanent: failed after one attempt")
    check(os.path.exists(f"{TMP}/alerts.jsonl") and
          len(open(f"{TMP}/alerts.jsonl").read().splitlines()) == len(bad),
          "one alert line per dead letter")
    recv.bad.clear()
    # retry puts it back; with the right secret it is delivered
    for e in bad:
        sh(TOCSIN, "escalations", "--db", db2, "retry", e["id"])
    check(all(e["state"] == "pending" and e["attempts"] == 0 for e in entries(db2)),
          "retry makes a dead letter pending with fresh attempts")
    r = subprocess.run([TOCSIN, "escalations", "--db", db2, "send", "--channels", cfg],
                       env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and all(e["state"] == "delivered" for e in entries(db2)),
          "a retried dead letter is delivered")
    recv.stop()
    return want


def test_kafka(want):
    boot = os.environ.get("TOCSIN_KAFKA_BOOTSTRAP")
    if not boot:
        print("  TOCSIN_KAFKA_BOOTSTRAP not set: Kafka channel not tested", flush=True)
        return
    topic = f"tocsin-escalations-{os.getpid()}-{int(time.time())}"
    cfg = f"{TMP}/kafka.yml"
    with open(cfg, "w") as f:
        f.write("dispatch: {lease: 60s, backoff_base: 500ms, backoff_cap: 2s}\nchannels:\n")
        for name in CHANNEL_NAMES:
            f.write(f'  "{name}": {{type: kafka, brokers: "{boot}", topic: {topic}, '
                    f'timeout: 20s}}\n')
    db = f"{TMP}/db-kafka"
    r = subprocess.run([TOCSIN, "escalations", "--db", db, "send", "--channels", cfg],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"kafka send exits 0 ({r.stderr[-500:]})")
    check(all(e["state"] == "delivered" for e in entries(db)), "every entry delivered to Kafka")
    out = subprocess.run(["kcat", "-C", "-b", boot, "-t", topic, "-e", "-q", "-f",
                          "%k\t%h\t%s\n"], capture_output=True, text=True, timeout=60).stdout
    msgs = [l.split("\t", 2) for l in out.splitlines() if l.strip()]
    check(len(msgs) == len(want), f"{len(want)} message(s) on {topic} (got {len(msgs)})")
    for e in want:
        m = [x for x in msgs if x[0] == e["incident_id"] and f"entry_id={e['id']}" in x[1]]
        if check(len(m) == 1, f"{e['id']}: one message keyed by its incident"):
            hdr = m[0][1]
            rep = e["id"].rsplit(":", 1)[1]
            check(f"recipient={e['recipient']}" in hdr and f"report={rep}" in hdr and
                  f"revision={e['revision']}" in hdr, f"headers of {e['id']}: {hdr}")
            check(json.loads(m[0][2]).get("report_id") == e["id"], "value is the JSON report")


def test_smtp():
    """The SMTP channel against Python's smtpd (stdlib up to 3.11), when present."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import asyncore
            import smtpd
    except ImportError:
        print("  smtpd not available: SMTP channel not tested", flush=True)
        return
    import email
    import email.header
    got = []

    class S(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kw):
            got.append((mailfrom, rcpttos, data))

    port = free_port()
    srv = S(("127.0.0.1", port), None, decode_data=False)
    th = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True)
    th.start()
    db = f"{TMP}/db-smtp"
    replay(db)

    def smtp_config(extra):
        cfg = f"{TMP}/smtp.yml"
        with open(cfg, "w") as f:
            f.write("dispatch: {backoff_base: 100ms, backoff_cap: 200ms}\nchannels:\n")
            for name in CHANNEL_NAMES:
                f.write(f'  "{name}": {{type: smtp, url: "smtp://127.0.0.1:{port}", '
                        f'from: soc@example.vn, to: [attt@example.vn, cb@example.vn], '
                        f'timeout: 5s{extra}}}\n')
        return cfg

    # smtpd offers no STARTTLS: TLS is required, so nothing is
    # sent - no login, no report - and the entries wait with a clear error
    cfg = smtp_config("")
    r = subprocess.run([TOCSIN, "escalations", "--db", db, "send", "--channels", cfg, "--once"],
                       capture_output=True, text=True, timeout=60)
    check(not got, f"smtp without STARTTLS: nothing sent in the clear ({len(got)} message(s))")
    waiting = entries(db)
    check(all(e["state"] == "pending" and "STARTTLS" in e["last_error"] for e in waiting),
          "smtp without STARTTLS: pending, last_error says why: " +
          "; ".join(e["last_error"] for e in waiting[:1]))
    # the opt-out, said at start (after the back-off of the failed attempt)
    time.sleep(0.5)
    cfg = smtp_config(", allow_plaintext: true")
    r = subprocess.run([TOCSIN, "escalations", "--db", db, "send", "--channels", cfg, "--once"],
                       capture_output=True, text=True, timeout=60)
    srv.close()
    n = len(entries(db))
    check(r.returncode == 0 and len(got) == n, f"smtp: {n} message(s) sent ({r.stderr[-300:]})")
    check("allow_plaintext: true" in r.stderr and "warning" in r.stderr,
          f"allow_plaintext is logged at start: {r.stderr[-300:]}")
    for mailfrom, rcpts, data in got:
        m = email.message_from_bytes(data)
        subj = str(email.header.make_header(email.header.decode_header(m["Subject"])))
        check(subj.startswith("[TBSC] "), f"subject {subj!r}")
        check(rcpts == ["attt@example.vn", "cb@example.vn"], f"recipients {rcpts}")
        body = m.get_payload(decode=True).decode()
        doc = json.loads(body[body.index("{"):])
        check(doc["report_id"].startswith(m["Idempotency-Key"] + ":"), "body carries the report")
    print(f"  smtp: {len(got)} message(s), subject {subj if got else None!r}", flush=True)


def main():
    try:
        want = test_webhook()
        test_kafka(want)
        test_smtp()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    if failures:
        print(f"test_webhook: {len(failures)} failure(s)")
        return 1
    print("test_webhook: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
