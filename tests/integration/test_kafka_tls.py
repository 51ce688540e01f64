#!/usr/bin/env python3
"""Kafka over TLS and SASL/SCRAM for real, and secrets that stay secret
(issue 15, parts 3 and 4). Its own broker (tests/kafka/broker.sh
start-secure: an SSL and a SASL_SSL listener with SCRAM-SHA-512 users, a CA
and keystore made with openssl and keytool) on free ports:

- `run` consumes over SASL_SSL, user from ${env:...}, password from
  ${file:...}: /metrics counts every event produced; the detections file is
  0600 and the data directory 0700;
- the escalation Kafka channel delivers over SASL_SSL with the password from
  ${file:...} (the message is on the topic);
- `hunt` reads a time range over SASL_SSL the same way;
- mTLS (a listener with ssl.client.auth=required): `run` with the client
  certificate and key (the key's password from ${file:...}) consumes every
  event; without them it exits non-zero within 60 s naming
  ssl.certificate.location and ssl.key.location;
- a wrong password (from ${env:...}) and a wrong CA each make `run` exit
  non-zero within 60 s with a message that says what to check; the channel
  with the wrong password keeps the entry pending with such a message;
- no secret (the SCRAM password, the wrong one, the API token) appears in
  stderr, stdout, /metrics, the API or `escalations list`.
"""
import hashlib
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
from testlib import free_port  # noqa: E402

TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
TOOLS = os.path.dirname(os.environ.get("KTOOL", "build/tools/ktool"))
TMP = tempfile.mkdtemp(prefix="tocsin-kafka-tls-")
KDIR = os.path.join(TMP, "broker")
RUN = f"{os.getpid()}-{int(time.time())}"
TOPIC = f"tls.{RUN}"
ESC_TOPIC = f"tls-esc.{RUN}"
BAD_PW = "Wr0ng-" + hashlib.sha256(RUN.encode()).hexdigest()[:20]
TOKEN = "tok-tls-admin-" + RUN
failures = []
checks = 0


def check(cond, msg):
    global checks
    checks += 1
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)


def request(port, path, token=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)
    finally:
        c.close()


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    return pred()


def consumed(text):
    n = 0
    for line in text.splitlines():
        if line.startswith("tocsin_events_consumed_total{"):
            n += float(line.rsplit(" ", 1)[1])
    return n


def run_config(name, brokers, props, port=None, tokens=False):
    """TMP/name/tocsin.yml: run over TOPIC at brokers with props (YAML lines
    of kafka.properties); port: /metrics and the API on it, tokens: with the
    admin token whose sha256 is in ${env:TLS_TEST_TOKEN_SHA}. (dir, path)."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    http_part = ""
    if port:
        tok = ""
        if tokens:
            with open(os.path.join(d, "tokens.yml"), "w") as f:
                f.write("tokens:\n  - {name: admin, sha256: \"${env:TLS_TEST_TOKEN_SHA}\", "
                        "role: admin, tenants: [\"*\"]}\n")
            os.chmod(os.path.join(d, "tokens.yml"), 0o600)
            tok = f"  tokens: {d}/tokens.yml\n"
        http_part = f"http:\n  listen: 127.0.0.1:{port}\n{tok}  rate: 0\n"
    cfg = os.path.join(d, "tocsin.yml")
    with open(cfg, "w") as f:
        f.write(f"""kafka:
  brokers: "{brokers}"
  group_id: g-tls-{name}-{RUN}
  batch_timeout_ms: 50
  properties:
{props}topics:
  - name: {TOPIC}
    format: rfc3164
    tenant: agency-a
paths:
  rules: [{RULES}]
  data_dir: {d}/data
{http_part}""")
    return d, cfg


def config(name, env, password_ref, ca, port=None):
    """A run over SASL_SSL (SCRAM, the user from ${env:TLS_TEST_USER}); port:
    with the API and its token."""
    return run_config(name, env["KAFKA_SASL_SSL"], f"""    security.protocol: SASL_SSL
    sasl.mechanisms: SCRAM-SHA-512
    sasl.username: ${{env:TLS_TEST_USER}}
    sasl.password: "{password_ref}"
    ssl.ca.location: {ca}
""", port, tokens=True)


def metrics_when_consumed(port, n, timeout=90):
    """/metrics of the run on port once it counts n events consumed (None:
    not within timeout)."""
    return wait_for(lambda: (lambda s: s[1] if s[0] == 200 and consumed(s[1]) >= n
                             else None)(request(port, "/metrics")), timeout)


def stop_within(p, timeout=60):
    """Waits up to timeout for p to exit by itself, then stop(p)."""
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    return stop(p)


def start_run(d, cfg, extra_env):
    out, err = os.path.join(d, "run.out"), os.path.join(d, "run.err")
    e = dict(os.environ, **extra_env)
    p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "-d", os.path.join(d, "det.jsonl"),
                          "--stats-interval", "1"], stdout=open(out, "w"),
                         stderr=open(err, "w"), env=e)
    return p, out, err


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            return "killed"
    return p.returncode


RULES = os.path.join(TMP, "rules")


def main():
    os.makedirs(RULES)
    shutil.copy("etc/rules/correlation/mr_ssh_brute_force.yml", RULES)
    r = subprocess.run(["tests/kafka/broker.sh", "start-secure", KDIR], capture_output=True,
                       text=True)
    if r.returncode != 0:
        print(r.stderr)
        check(False, "the secure broker starts")
        return
    env = dict(l.split("=", 1) for l in open(os.path.join(KDIR, "ssl.env")).read().split())
    secret = open(env["KAFKA_PASSWORD_FILE"]).read().strip()
    plain = env["KAFKA_PLAINTEXT"]
    lines = [f"<38>Nov 20 10:00:{s:02d} portal-01 sshd[{1000 + s}]: Failed password for root "
             f"from 198.51.100.7 port {40000 + s} ssh2" for s in range(12)]
    subprocess.run(["kcat", "-P", "-b", plain, "-t", TOPIC], input="\n".join(lines) + "\n",
                   text=True, check=True)
    renv = {"TLS_TEST_USER": env["KAFKA_USER"],
            "TLS_TEST_TOKEN_SHA": hashlib.sha256(TOKEN.encode()).hexdigest(),
            "TLS_TEST_BAD_PW": BAD_PW}
    seen = []  # every output, grepped for the secrets at the end

    # 1. run over SASL_SSL, password from ${file:...}
    port = free_port()
    d, cfg = config("good", env, "${file:%s}" % env["KAFKA_PASSWORD_FILE"], env["KAFKA_CA"],
                    port)
    p, out, err = start_run(d, cfg, renv)
    try:
        text = metrics_when_consumed(port, len(lines))
        check(text is not None and consumed(text) == len(lines),
              f"run consumes over SASL_SSL with the password from ${{file:...}}: "
              f"{len(lines)} events counted in /metrics")
        seen.append(("good /metrics", text or ""))
        for path in ("/api/v1/me", "/api/v1/incidents", "/api/v1/rules", "/readyz"):
            st, body = request(port, path, TOKEN)
            seen.append(("good " + path, body))
        check(request(port, "/api/v1/me", TOKEN)[0] == 200,
              "the API takes the token whose sha256 came from ${env:...}")
    finally:
        rc = stop(p)
    check(rc == 0, f"run exits 0 on SIGTERM (got {rc})")
    det = os.path.join(d, "det.jsonl")
    check(os.path.exists(det) and os.stat(det).st_mode & 0o777 == 0o600,
          "the detections file is created 0600")
    check(os.stat(os.path.join(d, "data")).st_mode & 0o777 == 0o700,
          "the data directory is created 0700")
    seen += [("good stdout", open(out).read()), ("good stderr", open(err).read())]

    # 2. a wrong password (from ${env:...}): a clear error, not a hang
    port2 = free_port()
    d, cfg = config("badpw", env, "${env:TLS_TEST_BAD_PW}", env["KAFKA_CA"], port2)
    p, out, err = start_run(d, cfg, renv)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 60:
        st, body = request(port2, "/metrics")
        if st:
            seen.append(("badpw /metrics", body))
            seen.append(("badpw /api/v1/me", request(port2, "/api/v1/me", TOKEN)[1]))
        time.sleep(0.2)
    rc = stop(p)
    e = open(err).read()
    check(rc not in (0, "killed") and time.time() - t0 < 60,
          f"a wrong password: run exits non-zero within 60 s (rc {rc}, "
          f"{time.time() - t0:.1f} s)")
    check("Kafka authentication failed" in e and "sasl.password" in e,
          "a wrong password: the message says authentication failed and to check "
          "sasl.username/sasl.password")
    seen += [("badpw stdout", open(out).read()), ("badpw stderr", e)]

    # 3. a wrong CA: a clear error, not a hang
    d, cfg = config("badca", env, "${file:%s}" % env["KAFKA_PASSWORD_FILE"],
                    env["KAFKA_OTHER_CA"])
    p, out, err = start_run(d, cfg, renv)
    t0 = time.time()
    rc = stop_within(p)
    e = open(err).read()
    check(rc not in (0, "killed") and time.time() - t0 < 60,
          f"a wrong CA: run exits non-zero within 60 s (rc {rc}, {time.time() - t0:.1f} s)")
    check("Kafka TLS failed" in e and "ssl.ca.location" in e and "certificate verify failed" in e,
          "a wrong CA: the message says the certificate did not verify and to check "
          "ssl.ca.location")
    seen += [("badca stdout", open(out).read()), ("badca stderr", e)]

    # 3a. mTLS: a listener with ssl.client.auth=required. With the client
    # certificate and its key (the key's password from ${file:...}) run
    # consumes; without them it stops with a message naming what to set
    for name, with_cert in (("mtls", True), ("mtls-nocert", False)):
        port3 = free_port()
        cert = (f"""    ssl.certificate.location: {env['KAFKA_CLIENT_CERT']}
    ssl.key.location: {env['KAFKA_CLIENT_KEY']}
    ssl.key.password: "${{file:{env['KAFKA_CLIENT_KEY_PASSWORD_FILE']}}}"
""" if with_cert else "")
        d, cfg = run_config(name, env["KAFKA_MTLS"], f"""    security.protocol: SSL
    ssl.ca.location: {env['KAFKA_CA']}
{cert}""", port3)
        p, out, err = start_run(d, cfg, renv)
        t0 = time.time()
        if with_cert:
            text = metrics_when_consumed(port3, len(lines))
            seen.append(("mtls /metrics", text or ""))
            rc = stop(p)
            check(text is not None and consumed(text) == len(lines) and rc == 0,
                  f"mTLS: run with ssl.certificate.location/ssl.key.location (key password "
                  f"from ${{file:...}}) consumes the {len(lines)} events (rc {rc}): "
                  f"{open(err).read()[-300:]}")
        else:
            rc = stop_within(p)
            e = open(err).read()
            check(rc not in (0, "killed") and time.time() - t0 < 60,
                  f"mTLS without a client certificate: run exits non-zero within 60 s (rc {rc}, "
                  f"{time.time() - t0:.1f} s)")
            check("Kafka TLS failed" in e and "ssl.certificate.location" in e and
                  "ssl.key.location" in e and "bad certificate" in e,
                  "mTLS without a client certificate: the message names the refused certificate "
                  "and ssl.certificate.location / ssl.key.location: " + e[-400:])
        seen += [(name + " stdout", open(out).read()), (name + " stderr", open(err).read())]
    key_pw = open(env["KAFKA_CLIENT_KEY_PASSWORD_FILE"]).read().strip()

    # 3b. hunt over SASL_SSL (its own consumer, the same properties)
    now = time.time()
    hl = [time.strftime("<38>%b %e %H:%M:%S", time.gmtime(now - 60 + s)) +
          f" web-09 sshd[{2000 + s}]: Failed password for root from 203.0.113.{s} "
          f"port {41000 + s} ssh2" for s in range(5)]
    subprocess.run(["kcat", "-P", "-b", plain, "-t", TOPIC], input="\n".join(hl) + "\n",
                   text=True, check=True)
    d, cfg = config("hunt", env, "${file:%s}" % env["KAFKA_PASSWORD_FILE"], env["KAFKA_CA"])
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    hout = os.path.join(d, "hunt.jsonl")
    r = subprocess.run([TOCSIN, "hunt", "-c", cfg, "--rules", RULES, "--from", iso(now - 600),
                        "--to", iso(now + 600), "-o", hout], capture_output=True, text=True,
                       env=dict(os.environ, **renv), timeout=180)
    got = open(hout).read() if os.path.exists(hout) else ""
    check(r.returncode == 0 and "17 messages read of 17 planned" in r.stderr and
          "5 events in the range" in r.stderr,
          f"hunt over SASL_SSL with the password from ${{file:...}} reads all 17 messages and "
          f"the 5 events of the range (rc {r.returncode}: {r.stderr.strip()[-160:]})")
    seen += [("hunt stdout", r.stdout), ("hunt stderr", r.stderr), ("hunt -o", got)]

    # 4. the escalation Kafka channel over SASL_SSL
    db = os.path.join(TMP, "esc")
    ch = os.path.join(TMP, "channels.yml")
    with open(ch, "w") as f:
        for name, pw in (("good", "${file:%s}" % env["KAFKA_PASSWORD_FILE"]),
                         ("bad", "${env:TLS_TEST_BAD_PW}")):
            f.write(("channels:\n" if name == "good" else "") +
                    f"""  "kafka:{name}":
    type: kafka
    brokers: "{env['KAFKA_SASL_SSL']}"
    topic: {ESC_TOPIC}
    timeout: 5s
    properties:
      security.protocol: SASL_SSL
      sasl.mechanisms: SCRAM-SHA-512
      sasl.username: ${{env:TLS_TEST_USER}}
      sasl.password: "{pw}"
      ssl.ca.location: {env['KAFKA_CA']}
""")
    for eid, chan in (("e-good", "kafka:good"), ("e-bad", "kafka:bad")):
        subprocess.run([os.path.join(TOOLS, "outbox_put"), db, eid, chan], check=True)
    t0 = time.time()
    r = subprocess.run([TOCSIN, "escalations", "--db", db, "send", "--channels", ch, "--once"],
                       capture_output=True, text=True, env=dict(os.environ, **renv), timeout=120)
    seen += [("send stdout", r.stdout), ("send stderr", r.stderr)]
    check(time.time() - t0 < 60, f"send --once returns in {time.time() - t0:.1f} s")
    ls = subprocess.run([TOCSIN, "escalations", "--db", db, "list", "--json"],
                        capture_output=True, text=True)
    seen.append(("escalations list", ls.stdout + ls.stderr))
    entries = {}
    for line in ls.stdout.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        for x in j if isinstance(j, list) else [j]:
            if isinstance(x, dict) and "id" in x:
                entries[x["id"]] = x
    good, bad = entries.get("e-good", {}), entries.get("e-bad", {})
    check(good.get("state") == "delivered",
          f"the Kafka channel delivers over SASL_SSL with the password from ${{file:...}} "
          f"({good.get('state')})")
    msgs = subprocess.run(["kcat", "-C", "-b", plain, "-t", ESC_TOPIC, "-e", "-q", "-f",
                           "%k %s\\n"], capture_output=True, text=True, timeout=60).stdout
    check('"report_id":"e-good"' in msgs, "the report is on the channel's topic")
    check(bad.get("state") == "pending" and "authentication failed" in
          bad.get("last_error", "") and "sasl.password" in bad.get("last_error", ""),
          f"the channel with a wrong password keeps the entry pending and says what to check "
          f"({bad.get('state')}: {bad.get('last_error', '')[:160]})")

    # 5. no secret anywhere
    for where, text in seen:
        for name, s in (("the SCRAM password", secret), ("the wrong password", BAD_PW),
                        ("the API token", TOKEN), ("the client key's password", key_pw)):
            if s in text:
                check(False, f"{name} appears in {where}")
    check(len(seen) >= 12, f"no secret in any of {len(seen)} outputs (stderr, stdout, "
                           f"/metrics, the API, escalations list)")


if __name__ == "__main__":
    try:
        main()
    finally:
        subprocess.run(["tests/kafka/broker.sh", "stop", KDIR], capture_output=True)
    print(f"test_kafka_tls: {checks} checks, {len(failures)} failed" +
          ("" if not failures else ": " + "; ".join(failures)))
    if not failures:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(1 if failures else 0)
