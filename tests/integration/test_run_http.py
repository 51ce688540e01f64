#!/usr/bin/env python3
"""`tocsin run` with an http: section against a real broker (issue 11 parts
2 and 5): the API, /metrics and health served by the engine itself, with
the runtime's hooks.

A topic of two partitions carries an SSH brute force of agency-a (six
failures from one address, partition 0), two failures of agency-b (a
"tenant" header the topic allows, partition 1) and one message whose tenant
header the topic refuses (a dead letter) and one line over
ingest.max_message_bytes (a dead letter refused at a limit). Then, as an operator and an
analyst would use it:
- /readyz answers 200 once the partitions are assigned;
- /metrics parses with prometheus_client's reference parser; consumed and
  parsed counts equal what was produced, by topic and tenant; the dead
  letters are counted, the oversized one also in
  tocsin_events_refused_at_limit_total; detections by rule; lag series per partition; the batch
  latency histograms; partitions assigned;
- /api/v1/incidents with agency-a's viewer token lists the brute-force
  incident (and agency-b's viewer sees none of it);
- /api/v1/rules has hit counts > 0 for the SSH failure rule;
- POST /api/v1/rules/test (analyst) returns a detection with its match
  explanation for a matching event, 422 with file:line:col for a rule that
  does not load, 403 for a viewer;
- POST /api/v1/rules/reload (admin) reloads (200, counted in
  tocsin_reloads_total; hit counts carry over); a viewer gets 403;
- SIGTERM exits 0.
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from prometheus_client.parser import text_string_to_metric_families

BOOT = os.environ["TOCSIN_KAFKA_BOOTSTRAP"]
TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
KTOOL = os.environ.get("KTOOL", "build/tools/ktool")
RUN = f"{os.getpid()}-{int(time.time())}"
TMP = tempfile.mkdtemp(prefix="tocsin-run-http-")
TOPIC = f"runhttp.{RUN}"
FAIL_RULE = "b00d8d9f-a390-444d-b95c-3f976b0b6051"   # SSH Login Failure (sshd_auth_failure)
BRUTE_RULE = "017dd23e-17b7-46ec-9279-c2482fa92e1f"  # SSH Brute Force From One Address
TOKENS = {"viewer-a": "tok-viewer-a-" + RUN, "viewer-b": "tok-viewer-b-" + RUN,
          "analyst": "tok-analyst-" + RUN, "admin": "tok-admin-" + RUN}
failures = []
checks = 0


def check(cond, msg):
    global checks
    checks += 1
    print(("  ok   " if cond else "  FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, token=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    except OSError as e:
        return 0, str(e).encode()
    finally:
        c.close()


def get_json(port, path, token=None):
    st, d = request(port, "GET", path, token)
    try:
        return st, json.loads(d)
    except ValueError:
        return st, None


def metrics(port):
    """{(name, frozenset(labels)): value} of the samples, or None."""
    st, d = request(port, "GET", "/metrics")
    if st != 200:
        return None
    out = {}
    for fam in text_string_to_metric_families(d.decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def sample(m, name, **labels):
    return m.get((name, frozenset(labels.items()))) if m else None


def total(m, name, **labels):
    """Sum of the samples of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in (m or {}).items() if n == name and want <= set(ls))


def wait_for(pred, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    return pred()


def fail_line(sec, addr, host="portal-01", minute="10:00"):
    return (f"<38>Nov 20 {minute}:{sec:02d} {host} sshd[{1000 + sec}]: Failed password for root "
            f"from {addr} port {40000 + sec} ssh2")


def produce(lines, partition, tenant=None):
    args = ["kcat", "-P", "-b", BOOT, "-t", TOPIC, "-p", str(partition)]
    if tenant:
        args += ["-H", f"tenant={tenant}"]
    subprocess.run(args, input="".join(l + "\n" for l in lines), text=True, check=True)


TEST_RULE = """title: Failed root password
id: 5e0b8c1e-0000-4000-8000-00000000test
status: test
logsource:
    product: linux
    service: sshd
detection:
    sel:
        outcome: failure
        username: root
    condition: sel
level: medium
"""


def main():
    rules = os.path.join(TMP, "rules")
    os.makedirs(rules)
    shutil.copy("etc/rules/correlation/mr_ssh_brute_force.yml", rules)
    subprocess.run([KTOOL, "create", BOOT, TOPIC, "2"], check=True, capture_output=True)
    with open(os.path.join(TMP, "tokens.yml"), "w") as f:
        f.write("tokens:\n")
        roles = {"viewer-a": ("viewer", "[agency-a]"), "viewer-b": ("viewer", "[agency-b]"),
                 "analyst": ("analyst", '["*"]'), "admin": ("admin", '["*"]')}
        for name, tok in TOKENS.items():
            role, tenants = roles[name]
            f.write(f"  - {{name: {name}, sha256: {hashlib.sha256(tok.encode()).hexdigest()}, "
                    f"role: {role}, tenants: {tenants}}}\n")
    os.chmod(os.path.join(TMP, "tokens.yml"), 0o600)  # run refuses a world-readable one
    port = free_port()
    cfg = os.path.join(TMP, "tocsin.yml")
    with open(cfg, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: g-run-http-{RUN}
  batch_timeout_ms: 50
topics:
  - name: {TOPIC}
    format: rfc3164
    tenant: agency-a
    tenants: [agency-b]
ingest:
  max_message_bytes: 2000
paths:
  rules: [{rules}]
  data_dir: {TMP}/data
http:
  listen: 127.0.0.1:{port}
  tokens: {TMP}/tokens.yml
  rate: 0
  ready_max_lag: 1000
""")
    errf = os.path.join(TMP, "run.err")
    p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "-d", os.path.join(TMP, "det.jsonl"),
                          "--stats-interval", "0"], stdout=subprocess.DEVNULL,
                         stderr=open(errf, "w"))
    try:
        run_checks(p, port)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "killed"
            check(rc == 0, f"SIGTERM: run exits 0 (got {rc})")
    if failures:
        print(open(errf).read()[-3000:])
    print(f"test_run_http: {checks} checks, {len(failures)} failed" +
          ("" if not failures else ": " + "; ".join(failures)))
    if not failures:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(1 if failures else 0)


def run_checks(p, port):
    up = wait_for(lambda: request(port, "GET", "/healthz")[0] == 200, 30)
    check(up, "the HTTP server inside run answers /healthz")
    ready = wait_for(lambda: request(port, "GET", "/readyz")[0] == 200, 60)
    st, body = request(port, "GET", "/readyz")
    check(ready and body.startswith(b"ready"), f"/readyz 200 once the partitions are assigned "
                                               f"({st} {body[:80]!r})")
    m = metrics(port)
    check(sample(m, "tocsin_consumer_partitions_assigned") == 2,
          "tocsin_consumer_partitions_assigned is 2")

    # the traffic: a brute force of agency-a, two failures of agency-b, one refused tenant
    produce([fail_line(s, "198.51.100.7") for s in (0, 5, 10, 15, 20, 25)], 0)
    produce([fail_line(s, "203.0.113.9", "web-02") for s in (1, 2)], 1, tenant="agency-b")
    produce(["<13>Nov 20 10:00:30 portal-01 app: hello"], 1, tenant="agency-z")
    # a line of a program no decoder reads: parsed, left undecoded
    produce(["<13>Nov 20 10:00:31 web-02 myapp[7]: cache warmed in 12 ms"], 1, tenant="agency-b")
    # hostile input: a line over ingest.max_message_bytes (2000), refused at the limit
    produce(["<13>Nov 20 10:00:32 portal-01 app: " + "x" * 3000], 0)
    produced = 11

    m = wait_for(lambda: (lambda mm: mm if total(mm, "tocsin_events_consumed_total") >= produced
                          else None)(metrics(port)), 60)
    check(m is not None, "/metrics parses with prometheus_client and counts what was consumed")
    if not m:
        return
    c = "tocsin_events_consumed_total"
    check(total(m, c) == produced, f"consumed total equals what was produced ({total(m, c)})")
    check(sample(m, c, topic=TOPIC, tenant="agency-a") == 8 and
          sample(m, c, topic=TOPIC, tenant="agency-b") == 3,
          "consumed by topic and tenant: agency-a 8 (two dead letters), agency-b 3")
    check(sample(m, "tocsin_events_parsed_total", topic=TOPIC, tenant="agency-a") == 6 and
          sample(m, "tocsin_events_parsed_total", topic=TOPIC, tenant="agency-b") == 3 and
          total(m, "tocsin_events_parsed_total") == 9, "parsed by topic and tenant: 6 and 3")
    check(sample(m, "tocsin_events_no_decoder_total", topic=TOPIC, tenant="agency-b") == 1 and
          sample(m, "tocsin_events_no_decoder_total", topic=TOPIC, tenant="agency-a") == 0 and
          sample(m, "tocsin_silent_loss_total", stage="normalise", reason="no_decoder") == 1,
          "no decoder: the myapp line of agency-b, by topic and tenant and as a silent loss "
          f"({sample(m, 'tocsin_events_no_decoder_total', topic=TOPIC, tenant='agency-b')})")
    check(sample(m, "tocsin_events_dead_lettered_total", topic=TOPIC, tenant="agency-a") == 2,
          "the refused tenant header and the oversized line are dead letters of the topic's "
          "tenant")
    check(sample(m, "tocsin_events_refused_at_limit_total") == 1,
          "the oversized line is counted as refused at a limit "
          f"({sample(m, 'tocsin_events_refused_at_limit_total')})")
    check(sample(m, "tocsin_silent_loss_total", stage="normalise", reason="regex_cut_short") == 0,
          "silent-loss counters: decoder regex cut short 0")
    check(sample(m, "tocsin_silent_loss_total", stage="ingest", reason="tenant_refused") == 1,
          "silent-loss counters: tenant refused 1")
    check(sample(m, "tocsin_silent_loss_total", stage="correlation", reason="late") == 0,
          "silent-loss counters: late 0")
    det = wait_for(lambda: (lambda mm: mm if sample(mm, "tocsin_detections_total", rule=FAIL_RULE,
                                                    level="low") == 8 else None)(metrics(port)),
                   30)
    check(det is not None, "tocsin_detections_total{rule=sshd failure,level=low} is 8")
    m = det or m

    def settled():
        """A snapshot after the batches' commits, with fresh lag (cached 1 s)."""
        mm = metrics(port)
        lags = {dict(ls)["partition"]: v for (n, ls), v in (mm or {}).items()
                if n == "tocsin_consumer_lag"}
        if (sample(mm, "tocsin_batch_commit_seconds_count") or 0) >= 1 and \
                set(lags) == {"0", "1"} and sum(lags.values()) == 0:
            return mm
        return None
    s = wait_for(settled, 30)
    check(s is not None, "consumer lag series per partition, 0 once everything is processed")
    m = s or m
    check((sample(m, "tocsin_batch_process_seconds_count") or 0) >= 1 and
          (sample(m, "tocsin_batch_commit_seconds_count") or 0) >= 1 and
          sample(m, "tocsin_batch_commit_seconds_bucket", le="+Inf") ==
          sample(m, "tocsin_batch_commit_seconds_count") and
          sample(m, "tocsin_batch_commit_seconds_sum") > 0,
          "batch process and commit latency histograms")
    check(sample(m, "tocsin_rules_loaded", kind="detection") == 1 and
          sample(m, "tocsin_rules_loaded", kind="correlation") == 1, "rules loaded by kind")
    hosts = wait_for(lambda: sample(metrics(port), "tocsin_hosts") == 2, 10)
    check(hosts, "host health: two sending hosts")
    inc = wait_for(lambda: (lambda mm: mm if (sample(mm, "tocsin_incidents_created_total") or 0)
                            >= 1 else None)(metrics(port)), 30)
    check(inc is not None, "tocsin_incidents_created_total counts the brute force")
    check(sample(m, "tocsin_build_info", version="0.1.0") == 1,
          "the server's own series are there too (tocsin_build_info)")

    # the API over the run's store
    def brute():
        st, d = get_json(port, "/api/v1/incidents", TOKENS["viewer-a"])
        if st == 200 and any(i["rule_id"] == BRUTE_RULE for i in d["incidents"]):
            return d
        return None
    d = wait_for(brute, 30)
    check(d is not None, "/api/v1/incidents with agency-a's viewer token lists the brute force")
    if d:
        i = next(i for i in d["incidents"] if i["rule_id"] == BRUTE_RULE)
        check(i["tenant"] == "agency-a" and i["count"] >= 5,
              f"the incident is agency-a's with its count ({i['tenant']}, {i['count']})")
    st, d = get_json(port, "/api/v1/incidents", TOKENS["viewer-b"])
    check(st == 200 and not any(i["rule_id"] == BRUTE_RULE for i in d["incidents"]),
          "agency-b's viewer does not see it")
    st, _ = get_json(port, "/api/v1/incidents")
    check(st == 401, "no token: 401")

    st, d = get_json(port, "/api/v1/rules", TOKENS["viewer-a"])
    hits = {r["id"]: r.get("hits") for r in (d or {}).get("rules", [])}
    check(st == 200 and hits.get(FAIL_RULE, 0) >= 8,
          f"/api/v1/rules: hit count of the sshd failure rule > 0 ({hits.get(FAIL_RULE)})")
    check(any(r["id"] == BRUTE_RULE and r["kind"] == "correlation" for r in d["rules"]),
          "/api/v1/rules lists the correlation rule")

    # rule test: the run's normalisation (sshd decoder) gives outcome and user
    ev = fail_line(40, "192.0.2.1") + "\n<13>Nov 20 10:00:41 portal-01 cron[1]: nothing\n"
    st, body = request(port, "POST", "/api/v1/rules/test", TOKENS["analyst"],
                       {"rule": TEST_RULE, "events": ev})
    d = json.loads(body) if body else {}
    check(st == 200 and d.get("events") == 2 and d.get("matched") == 1 and
          len(d.get("detections", [])) == 1 and d["detections"][0]["line"] == 1 and
          d["detections"][0]["rule_title"] == "Failed root password" and
          isinstance(d["detections"][0].get("explain"), dict),
          f"POST /api/v1/rules/test returns the detection with its explanation ({st} "
          f"{body[:300]!r})")
    st, body = request(port, "POST", "/api/v1/rules/test", TOKENS["analyst"],
                       {"rule": "title: x\ndetection: [\n", "events": ev})
    check(st == 422 and b"rule:" in body, f"a rule that does not parse: 422 with where ({st} "
                                          f"{body[:200]!r})")
    st, _ = request(port, "POST", "/api/v1/rules/test", TOKENS["viewer-a"],
                    {"rule": TEST_RULE, "events": ev})
    check(st == 403, "rule test as a viewer: 403")

    # reload, as SIGHUP
    st, _ = request(port, "POST", "/api/v1/rules/reload", TOKENS["viewer-a"], {})
    check(st == 403, "reload as a viewer: 403")
    st, body = request(port, "POST", "/api/v1/rules/reload", TOKENS["admin"], {})
    d = json.loads(body) if body else {}
    check(st == 200 and d.get("reloaded") is True and d.get("rules") == "swapped" and
          d.get("by") == "admin", f"POST /api/v1/rules/reload as admin reloads ({st} {body!r})")
    m = metrics(port)
    check(sample(m, "tocsin_reloads_total", result="ok") == 1, "the reload is counted")
    st, d = get_json(port, "/api/v1/rules", TOKENS["viewer-a"])
    hits = {r["id"]: r.get("hits") for r in (d or {}).get("rules", [])}
    check(hits.get(FAIL_RULE, 0) >= 8, "hit counts carry over a reload")
    produce([fail_line(50, "198.51.100.99")], 0)
    m = wait_for(lambda: (lambda mm: mm if sample(mm, "tocsin_detections_total", rule=FAIL_RULE,
                                                  level="low") == 9 else None)(metrics(port)), 30)
    check(m is not None, "the reloaded rules match and count on")

    # a failure 20 minutes behind its partition (5 min allowed): late, by topic and tenant
    produce([fail_line(0, "198.51.100.7", minute="09:40")], 0)
    late = wait_for(lambda: (lambda mm: mm if sample(mm, "tocsin_events_late_total", topic=TOPIC,
                                                     tenant="agency-a") == 1 else None)(
        metrics(port)), 30)
    check(late is not None and
          sample(late, "tocsin_silent_loss_total", stage="correlation", reason="late") == 1 and
          sample(late, "tocsin_events_late_total", topic=TOPIC, tenant="agency-b") is None,
          "a late failure counts in tocsin_events_late_total{topic,tenant=agency-a} and as a "
          "silent loss")


if __name__ == "__main__":
    main()
