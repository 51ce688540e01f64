#!/usr/bin/env python3
"""End-to-end acceptance of escalation (issue 6 "Escalate").

1. The test writes an SSH attack replay (syslog lines: a brute force on
   web-04, a brute force on mail-02, password spraying on kt-pc12, some
   benign lines), an asset inventory (web-04 is a level-4 system, mail-02
   level 3, kt-pc12 level 2) and the routing policy of the law116-2025
   regime's three recipients: the managing body gets a Kafka topic on the
   real broker (TOCSIN_KAFKA_BOOTSTRAP), the same-level response unit and
   the national (Ministry of Public Security) agency each an HTTPS webhook
   endpoint - two Python HTTPS servers with a CA made by the test with the
   openssl CLI, each checking Standard Webhooks signatures (its own secret)
   with hmac and deduplicating by Idempotency-Key.
   `tocsin replay` has no --policy: the test runs a copy of bin/tocsin from
   TMP/bin, so that the configuration "beside the binary" is the test's own
   TMP/etc/escalation (the regime and taxonomy copied from the repo, the
   policy written here).
2. `tocsin replay --db D --escalate law116-2025` fills the outbox.
3. `tocsin escalations send` runs while the national endpoint is down and
   is killed with SIGKILL once the other entries are delivered and the
   national ones were attempted twice; the endpoint comes back failing its
   first two requests with 503; send runs again to completion.
4. `tocsin escalations queue-due --at +169h` queues the weekly updates of
   the serious incident (policy auto_send: periodic), a second pass queues
   nothing, send delivers them.
5. Every (incident, recipient, report) entry of `tocsin escalations list
   --json` reached its recipient's endpoint or topic exactly once after
   dedup, every signature verified, every document valid against
   docs/report-schema.json and naming its recipient; Kafka messages carry
   key = incident id; the counts match the incidents of `tocsin incidents
   list --json`. Every STIX bundle `tocsin report --format stix` makes for
   every incident and stage parses with the OASIS stix2 library
   (allow_custom=False).
The Kafka side is consumed with kcat (-J: key, headers and payload as
JSON); the Python Kafka clients are not installed here. Needs
TOCSIN_KAFKA_BOOTSTRAP (tests/integration/run.sh starts a broker); fails
without it.
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

import jsonschema
import stix2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import HttpsServer, make_certs, webhook_signed  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOCSIN_SRC = os.path.join(ROOT, os.environ.get("TOCSIN", "bin/tocsin"))
TMP = tempfile.mkdtemp(prefix="tocsin-e2e-")
TOCSIN = os.path.join(TMP, "bin", "tocsin")
ASSETS = os.path.join(TMP, "assets.yml")
DB = os.path.join(TMP, "db")
SECRETS = {"csirt": "whsec_" + base64.b64encode(os.urandom(32)).decode(),
           "national": "whsec_" + base64.b64encode(os.urandom(32)).decode()}
# recipient -> (kind, destination)
ROUTES = {"managing_body": ("kafka", None), "response_unit": ("webhook", "csirt"),
          "national": ("webhook", "national")}
SCHEMA = json.load(open(os.path.join(ROOT, "docs", "report-schema.json")))
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def sh(*args, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {r.returncode}: {r.stderr[-2000:]}")
    return r


# ------------------------------------------------------------------ set-up

def write_attack_log():
    """Syslog lines of the attack, in the test's temp dir."""
    lines = []

    def line(t, host, prog, pid, msg, pri=38):
        lines.append(f"<{pri}>Mar 18 {t} {host} {prog}[{pid}]: {msg}")

    line("09:58:00", "web-04", "CRON", 100,
         "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", 86)
    line("09:59:10", "web-04", "sshd", 110,
         "Accepted publickey for deploy from 10.40.0.15 port 52144 ssh2: ED25519 SHA256:q3Lr0m9d")
    line("09:59:40", "mail-02", "sshd", 120,
         "Accepted password for vanthu from 10.40.1.20 port 51000 ssh2")
    # brute force on the level-4 portal: 8 failures in 22 s from one address
    for i in range(8):
        line(f"10:00:{i * 3 + 1:02d}", "web-04", "sshd", 2000 + i,
             f"Failed password for root from 203.0.113.77 port {40001 + i} ssh2")
    # brute force on the level-3 mail server
    for i in range(6):
        line(f"10:05:{i * 4 + 2:02d}", "mail-02", "sshd", 3000 + i,
             f"Failed password for invalid user admin{i} from 198.51.100.23 port {50001 + i} ssh2")
    # password spraying on a level-2 workstation: 12 user names, 20 s apart
    for i, u in enumerate(["an", "binh", "chau", "dung", "ha", "hoa", "lan", "minh", "nam",
                           "phuong", "quang", "son"]):
        s = i * 20
        line(f"10:{10 + s // 60:02d}:{s % 60:02d}", "kt-pc12", "sshd", 4000 + i,
             f"Failed password for {u} from 192.0.2.99 port {60001 + i} ssh2")
    path = f"{TMP}/attack.log"
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def write_config(boot, topic, ca, ports):
    # the asset inventory (docs/assets.md)
    with open(ASSETS, "w") as f:
        f.write("""agency: e2e-demo
version: 1
systems:
  - id: hcm-portal
    name: "Cổng dịch vụ công trực tuyến tỉnh Demo"
    operator: "Trung tâm Công nghệ thông tin và Truyền thông"
    managing_body: "Ủy ban nhân dân tỉnh Demo"
    level: 4
    hostnames: [web-04, web-04.demo.local]
    ip_ranges: [10.40.0.0/24]
  - id: mail-02
    name: "Hệ thống thư điện tử công vụ"
    managing_body: "Ủy ban nhân dân tỉnh Demo"
    level: 3
    hostnames: [mail-02]
    ip_ranges: [10.40.1.10/32]
  - id: kt-pc12
    name: "Máy trạm kế toán số 12"
    managing_body: "Sở Tài chính tỉnh Demo"
    level: 2
    hostnames: [kt-pc12]
    ip_ranges: [10.50.5.12/32]
""")
    # a copy of the binary with its own etc/escalation beside it
    os.makedirs(f"{TMP}/bin")
    shutil.copy2(TOCSIN_SRC, TOCSIN)
    esc = f"{TMP}/etc/escalation"
    os.makedirs(esc)
    for name in ("law116-2025.yml", "taxonomy.yml"):
        shutil.copy(os.path.join(ROOT, "etc", "escalation", name), esc)
    for d in ("profiles", "decoders"):
        os.symlink(os.path.join(ROOT, "etc", d), f"{TMP}/etc/{d}")
    with open(f"{esc}/policy.yml", "w") as f:
        f.write("""regime: law116-2025
rules:
  - name: level3-high-to-managing-body
    match: {regimes: [law116-2025], min_severity: high, min_level: 3}
    escalate: {to: [managing_body], reports: [initial-notice]}
  # law116-2025 names only A05 (and, as ours, the managing body): the
  # province's CSIRT hears of serious incidents by the agency's choice
  - name: serious-to-csirt
    match: {regimes: [law116-2025], min_severity: high, min_level: 4}
    escalate: {to: [response_unit], reports: [initial-notice, update, closing-report]}
channels:
  managing_body: kafka:managing-body
  response_unit: webhook:csirt
  national: webhook:national
auto_send:
  periodic: true
  overdue: [initial-notice, closing-report]
""")
    ch = f"{TMP}/channels.yml"
    with open(ch, "w") as f:
        f.write(f"""dispatch: {{threads: 2, lease: 12s, backoff_base: 300ms, backoff_cap: 1s,
           max_attempts: 1000, poll: 100ms, alerts_file: {TMP}/alerts.jsonl}}
channels:
  "kafka:managing-body": {{type: kafka, brokers: "{boot}", topic: {topic}, timeout: 5s}}
""")
        for ep in ("csirt", "national"):
            f.write(f"""  "webhook:{ep}":
    type: webhook
    url: https://127.0.0.1:{ports[ep]}/intake/{ep}
    secret_env: TOCSIN_E2E_{ep.upper()}
    ca_file: {ca}
    timeout: 2s
    connect_timeout: 1s
""")
    return ch


# ---------------------------------------------------------------- receivers

class Endpoint:
    """One HTTPS webhook endpoint: verification, dedup, failure injection."""

    def __init__(self, name, cert, key):
        self.name, self.cert, self.key = name, cert, key
        self.path = f"/intake/{name}"
        self.secret = SECRETS[name]
        self.lock = threading.Lock()
        self.fail_next = 0
        self.requests = 0
        self.refused = 0
        self.bad = []           # requests failing verification
        self.docs = {}          # Idempotency-Key -> the document kept (the first)
        self.duplicates = 0     # repeats of a kept document, dropped by the dedup
        self.collisions = []    # another document under a kept key: it would be lost
        self.https = HttpsServer(cert, key, self.handle)
        self.port = self.https.port

    def handle(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self.lock:
            self.requests += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                self.refused += 1
                return 503
        if h.path != self.path:
            self.bad.append(("path", h.path))
            return 404
        wid, ts = h.headers.get("webhook-id"), h.headers.get("webhook-timestamp")
        sigs, key = h.headers.get("webhook-signature", ""), h.headers.get("Idempotency-Key")
        if not (wid and ts and sigs and key):
            self.bad.append(("missing headers", dict(h.headers)))
            return 400
        if not webhook_signed(self.secret, h.headers, body):
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
            kept = self.docs.get(key)
            if kept is None:
                self.docs[key] = doc
            elif kept["report_id"] == wid:
                self.duplicates += 1          # a repeat: dropped, still 2xx
            else:
                self.collisions.append((key, kept["report_id"], wid))
        return 200

    def start(self, fail_first=0):
        self.fail_next = fail_first
        self.https.start()

    def stop(self):
        self.https.stop()


def kafka_messages(boot, topic):
    """Every message of the topic (kcat -J: key, headers, payload)."""
    r = subprocess.run(["kcat", "-C", "-b", boot, "-t", topic, "-e", "-q", "-J"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"kcat consumed {topic}: {r.stderr[-300:]}")
    out = []
    for l in r.stdout.splitlines():
        if not l.strip():
            continue
        m = json.loads(l)
        h = m.get("headers") or []
        m["hdr"] = dict(zip(h[0::2], h[1::2]))
        out.append(m)
    return out


# -------------------------------------------------------------------- steps

def outbox():
    out = sh(TOCSIN, "escalations", "--db", DB, "list", "--json").stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def incidents():
    out = sh(TOCSIN, "incidents", "--db", DB, "list", "--json").stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def idem_key(entry_id):
    return entry_id.rsplit(":", 2)[0]   # "<incident>:<revision>" or "<incident>:due<s>"


def send(env, ch, timeout=60):
    return subprocess.run([TOCSIN, "escalations", "--db", DB, "send", "--channels", ch,
                           "--assets", ASSETS], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def check_deliveries(eps, boot, topic, label):
    """Every outbox entry at its recipient's endpoint/topic, once after dedup."""
    entries = outbox()
    check(all(e["state"] == "delivered" for e in entries),
          f"{label}: every entry delivered: " +
          ", ".join(f"{e['id']}={e['state']}" for e in entries if e["state"] != "delivered"))
    msgs = kafka_messages(boot, topic)
    kafka_by_key = {}
    for m in msgs:
        kafka_by_key.setdefault(m["hdr"].get("idempotency_key"), {}).setdefault(
            m["hdr"].get("entry_id"), []).append(m)
    for ep in eps.values():
        check(not ep.bad, f"{label}: {ep.name}: every request verified: {ep.bad[:3]}")
        check(not ep.collisions, f"{label}: {ep.name}: no two documents under one "
                                 f"Idempotency-Key: {ep.collisions[:3]}")
    for e in entries:
        kind, dest = ROUTES[e["recipient"]]
        key, rep = idem_key(e["id"]), e["id"].rsplit(":", 1)[1]
        if kind == "webhook":
            ep = eps[dest]
            d = ep.docs.get(key)
            if check(d is not None and d["report_id"] == e["id"],
                     f"{label}: {e['id']} reached {ep.path} (kept under {key})"):
                check(d["recipient"]["id"] == e["recipient"] and d["incident"]["id"] ==
                      e["incident_id"] and d["report"]["id"] == rep,
                      f"{label}: {e['id']}: the document names its recipient and report")
                jsonschema.validate(d, SCHEMA)
            for other in eps.values():
                if other is not ep:
                    check(other.docs.get(key, {}).get("report_id") != e["id"],
                          f"{label}: {e['id']} did not reach {other.path}")
        else:
            got = kafka_by_key.get(key, {}).get(e["id"], [])
            if check(len(got) >= 1, f"{label}: {e['id']} on Kafka topic {topic}"):
                m = got[0]   # repeats of the same entry (at-least-once) dropped here
                check(m["key"] == e["incident_id"], f"{label}: Kafka key of {e['id']} is the "
                                                    f"incident id ({m['key']!r})")
                check(m["hdr"].get("recipient") == e["recipient"] and
                      m["hdr"].get("report") == rep and
                      m["hdr"].get("revision") == str(e["revision"]),
                      f"{label}: Kafka headers of {e['id']}: {m['hdr']}")
                d = json.loads(m["payload"])
                check(d["report_id"] == e["id"] and d["recipient"]["id"] == e["recipient"],
                      f"{label}: Kafka value of {e['id']} is its document")
                jsonschema.validate(d, SCHEMA)
    # nothing else arrived: the receivers' distinct documents are the outbox
    want = {(ROUTES[e["recipient"]][1] or "kafka", e["id"]) for e in entries}
    got = {(ep.name, d["report_id"]) for ep in eps.values() for d in ep.docs.values()}
    got |= {("kafka", eid) for ks in kafka_by_key.values() for eid in ks}
    check(got == want, f"{label}: the receivers hold exactly the outbox's entries "
                       f"(extra {sorted(got - want)[:3]}, missing {sorted(want - got)[:3]})")
    n_kafka = sum(1 for e in entries if ROUTES[e["recipient"]][0] == "kafka")
    n_keys = len({(m["hdr"].get("idempotency_key"), m["hdr"].get("entry_id")) for m in msgs})
    check(n_keys == n_kafka, f"{label}: {n_kafka} distinct Kafka message(s) (got {n_keys})")
    return entries, msgs


def check_stix(incs):
    n = 0
    for inc in incs:
        for stage in ("initial", "update", "final"):
            out = sh(TOCSIN, "report", "--db", DB, inc["id"], "--format", "stix", "--stage", stage,
                     "--assets", ASSETS, "--rules", "etc/rules").stdout
            stix2.parse(out, allow_custom=False)  # raises on any violation
            b = json.loads(out)
            objs = {o["type"]: o for o in b["objects"]}
            check(b["type"] == "bundle" and "incident" in objs and "indicator" in objs,
                  f"STIX {inc['id']} {stage}: a bundle with an incident and an indicator")
            refs = objs.get("incident", {}).get("external_references", [])
            check(any(r.get("source_name") == "tocsin" and r.get("external_id") == inc["id"]
                      for r in refs), f"STIX {inc['id']} {stage}: the incident names its id")
            check(objs.get("indicator", {}).get("pattern_type") == "sigma" and
                  inc["rule_id"] in objs["indicator"].get("pattern", ""),
                  f"STIX {inc['id']} {stage}: the indicator carries the Sigma rule")
            n += 1
    return n


def main():
    boot = os.environ.get("TOCSIN_KAFKA_BOOTSTRAP")
    if not boot:
        print("test_escalation_e2e: TOCSIN_KAFKA_BOOTSTRAP is not set (run.sh starts a broker)")
        return 1
    t_start = time.time()
    topic = f"tocsin-e2e-{os.getpid()}-{int(time.time())}"
    ca, crt, key = make_certs(TMP, "Tocsin e2e test CA")
    eps = {n: Endpoint(n, crt, key) for n in ("csirt", "national")}
    ch = write_config(boot, topic, ca, {n: ep.port for n, ep in eps.items()})
    env = dict(os.environ, TOCSIN_E2E_CSIRT=SECRETS["csirt"],
               TOCSIN_E2E_NATIONAL=SECRETS["national"])

    # 2. the replay fills the outbox
    log = write_attack_log()
    sh(TOCSIN, "replay", "--db", DB, "-r", "etc/rules", "--escalate", "law116-2025",
       "--assets", ASSETS, log)
    incs = incidents()
    want = outbox()
    by_inc = {}
    for e in want:
        by_inc.setdefault(e["incident_id"], set()).add(e["recipient"])
    serious = [i for i, r in by_inc.items() if r == set(ROUTES)]
    print(f"  replay: {len(incs)} incident(s), {len(want)} outbox entr(ies): "
          + ", ".join(f"{i[:8]}->{sorted(r)}" for i, r in by_inc.items()), flush=True)
    check(len(incs) == 3, f"3 incidents from the replay (got {len(incs)})")
    check(len(serious) == 1, f"one incident escalated to all three recipients ({serious})")
    check(len(want) == 4, f"4 entries: 3 initial notices of the serious incident + 1 voluntary "
                          f"to the managing body (got {len(want)})")
    check(all(e["state"] == "pending" and e["id"].endswith(":initial-notice") for e in want),
          "all entries are pending initial notices after the replay")
    check({e["incident_id"] for e in want} <= {i["id"] for i in incs},
          "every entry belongs to a listed incident")
    routed = {e["recipient"]: e["channel"] for e in want}
    check(routed == {"managing_body": "kafka:managing-body", "response_unit": "webhook:csirt",
                     "national": "webhook:national"}, f"channels from the policy: {routed}")
    sinc = serious[0] if serious else None

    # 3. send while the national endpoint is down, kill -9 it
    eps["csirt"].start()
    p = subprocess.Popen([TOCSIN, "escalations", "--db", DB, "send", "--channels", ch,
                          "--assets", ASSETS], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 25
    while time.time() < deadline:
        st = outbox()
        if all(e["state"] == "delivered" for e in st if e["recipient"] != "national") and \
                all(e["attempts"] >= 2 for e in st if e["recipient"] == "national"):
            break
        time.sleep(0.2)
    check(p.poll() is None, "send keeps running while the national endpoint is down")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    mid = outbox()
    check(all(e["state"] == "pending" for e in mid if e["recipient"] == "national"),
          "the national entries wait (pending) while their endpoint is down")
    check(all(e["state"] == "delivered" for e in mid if e["recipient"] != "national"),
          "the other entries were delivered meanwhile")
    check(any(f"127.0.0.1:{eps['national'].port}" in e["last_error"]
              for e in mid if e["recipient"] == "national"), "the error names the national URL")

    # the endpoint is back, refusing its first 2 requests with 503
    eps["national"].start(fail_first=2)
    r = send(env, ch)
    check(r.returncode == 0, f"send exits 0 (got {r.returncode}: {r.stderr[-500:]})")
    check(eps["national"].refused == 2, f"the national endpoint refused 2 requests with 503 "
                                        f"({eps['national'].refused})")
    entries, msgs = check_deliveries(eps, boot, topic, "notices")
    print(f"  notices: {len(entries)} delivered; csirt {eps['csirt'].requests} request(s), "
          f"national {eps['national'].requests} (2 refused), {len(msgs)} Kafka message(s); "
          f"repeats dropped: {eps['csirt'].duplicates + eps['national'].duplicates}", flush=True)

    # 4. a week later: the weekly updates, each once
    q = subprocess.run([TOCSIN, "escalations", "--db", DB, "queue-due", "--at", "+169h",
                        "--assets", ASSETS, "--json"], capture_output=True, text=True, cwd=ROOT)
    queued = [json.loads(l) for l in q.stdout.splitlines() if l.strip()]
    check(q.returncode == 0, f"queue-due exits 0 ({q.stderr[-300:]})")
    check(len(queued) == 3 and all(x["incident_id"] == sinc and x["report"] == "update"
                                   and ":due" in x["id"] for x in queued),
          f"the weekly update of the serious incident queued to its 3 recipients: {queued}")
    check({x["recipient"] for x in queued} == set(ROUTES), "one update per recipient")
    again = subprocess.run([TOCSIN, "escalations", "--db", DB, "queue-due", "--at", "+170h",
                            "--assets", ASSETS, "--json"], capture_output=True, text=True,
                           cwd=ROOT)
    check(again.returncode == 0 and again.stdout.strip() == "",
          f"a second pass queues nothing ({again.stdout.strip()[:200]})")
    check(len(outbox()) == len(want) + 3, "the outbox holds the notices and 3 updates")
    r = send(env, ch)
    check(r.returncode == 0, f"send of the updates exits 0 ({r.stderr[-300:]})")
    entries, msgs = check_deliveries(eps, boot, topic, "updates")
    upd = [e for e in entries if e["id"].endswith(":update")]
    check(len(upd) == 3 and len({idem_key(e["id"]) for e in upd}) == 1 and
          idem_key(upd[0]["id"]) != f"{sinc}:{upd[0]['revision']}",
          "the updates share one Idempotency-Key of their due time, not the notices' one")
    for e in upd:
        d = next((d for ep in eps.values() for d in ep.docs.values()
                  if d["report_id"] == e["id"]), None)
        if d is None:
            m = next((m for m in msgs if m["hdr"].get("entry_id") == e["id"]), None)
            d = json.loads(m["payload"]) if m else None
        if not check(d is not None, f"{e['id']}: its document was received"):
            continue
        check(d["report"]["stage"] == "update" and d["impact"]["serious"] and
              d["affected_system"]["security_level"] == 4 and
              d["affected_system"]["id"] == "hcm-portal",
              f"{e['id']}: an update on the serious incident of the level-4 portal")

    # 5. STIX bundles of every incident and stage
    n = check_stix(incs)
    print(f"  {len(entries)} entries delivered in all, {n} STIX bundles valid; "
          f"{time.time() - t_start:.1f}s", flush=True)
    for ep in eps.values():
        ep.stop()
    if failures:
        print(f"test_escalation_e2e: {len(failures)} failure(s)")
        return 1
    print("test_escalation_e2e: ok")
    return 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
