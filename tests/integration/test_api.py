#!/usr/bin/env python3
"""`tocsin serve`: the HTTP API v1, metrics and health over a replayed store.

A generated SSH brute force for two tenants (agency-a, agency-b) is
replayed with the shipped brute-force rule into one store, then
`tocsin serve` listens on a free 127.0.0.1 port (port 0, printed) with a
tokens file (sha256 only) and is checked as a client would use it:
401 without or with a wrong token; a tenant's viewer sees exactly that
tenant's incidents (the ids and records of `tocsin incidents list --tenant
T --json`) and 404 for another tenant's; cursor pages walk every incident
exactly once; an incident with its evidence is `incidents show --json`;
a viewer's ack is 403 and changes nothing; an analyst's ack shows in
`tocsin incidents show` with the token's name as `by`; /metrics parses
with prometheus_client's parser and has the incident series; /healthz 200;
a body over the cap is 413; the rate cap answers 429 (a second server with
a small bucket); HTTPS with a self-signed certificate made here with
openssl; SIGTERM stops the server with exit 0.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from prometheus_client.parser import text_string_to_metric_families

TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
RULE = "etc/rules/correlation/mr_ssh_brute_force.yml"
TMP = tempfile.mkdtemp(prefix="tocsin-api-")
DB = os.path.join(TMP, "db")
failures = []
checks = 0
servers = []


def check(cond, msg):
    global checks
    checks += 1
    if cond:
        print("  ok   " + msg, flush=True)
    else:
        failures.append(msg)
        print("  FAIL " + msg, flush=True)


def brute_force(path, prefix, n_addr, host):
    """n_addr source addresses, each failing 6 times within a minute."""
    with open(path, "w") as f:
        t = 0
        for a in range(n_addr):
            for k in range(6):
                m, s = divmod(t, 60)
                f.write(f"<38>Nov 20 10:{m:02d}:{s:02d} {host} sshd[{1000 + t}]: Failed password "
                        f"for root from {prefix}.{a + 1} port {40000 + t} ssh2\n")
                t += 1
            t += 10


def cli(*args):
    r = subprocess.run([TOCSIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{args}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def cli_list(*args):
    return [json.loads(line) for line in cli("incidents", "--db", DB, "list", "--json",
                                             *args).splitlines() if line.strip()]


def serve(*extra, tls=None):
    args = [TOCSIN, "serve", "--db", DB, "--listen", "127.0.0.1:0", "--tokens",
            os.path.join(TMP, "tokens.yml"), "--metrics-cache", "0", *extra]
    if tls:
        args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(os.path.join(TMP, "serve.err"), "a"),
                         text=True)
    servers.append(p)
    line = p.stdout.readline()
    m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
    if not m:
        raise RuntimeError("serve did not start: " + line + open(os.path.join(TMP, "serve.err")).read())
    return p, int(m.group(1))


class Client:
    def __init__(self, port, token=None, ctx=None):
        self.port, self.token, self.ctx = port, token, ctx

    def req(self, method, path, body=None, headers=None):
        if self.ctx:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=self.ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), data
        finally:
            c.close()

    def get(self, path):
        return self.req("GET", path)

    def json(self, path):
        st, h, d = self.get(path)
        return st, json.loads(d) if d else None


def walk(client, query, limit):
    """Every incident of the listing, page by page; the ids in order."""
    ids, cursor, pages = [], None, 0
    while True:
        q = f"/api/v1/incidents?limit={limit}" + (("&" + query) if query else "")
        if cursor:
            q += "&cursor=" + cursor
        st, d = client.json(q)
        if st != 200:
            raise RuntimeError(f"{q}: {st} {d}")
        ids += [i["id"] for i in d["incidents"]]
        pages += 1
        cursor = d["next"]
        if not cursor or pages > 1000:
            return ids, pages


def main():
    brute_force(os.path.join(TMP, "a.log"), "203.0.113", 23, "portal-01")
    brute_force(os.path.join(TMP, "b.log"), "198.51.100", 17, "mail-01")
    for t, f in (("agency-a", "a.log"), ("agency-b", "b.log")):
        subprocess.run([TOCSIN, "replay", "-q", "-r", RULE, "--tenant", t, "--db", DB,
                        os.path.join(TMP, f)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    every = cli_list()
    a_cli, b_cli = cli_list("--tenant", "agency-a"), cli_list("--tenant", "agency-b")
    check(len(a_cli) == 23 and len(b_cli) == 17 and len(every) == 40,
          f"the replay made 23 + 17 incidents ({len(a_cli)} + {len(b_cli)}, {len(every)})")

    # tokens: sha256 only; one hashed by `tocsin serve --hash-token`
    toks = {"viewer-a": "va-" + os.urandom(16).hex(), "viewer-b": "vb-" + os.urandom(16).hex(),
            "analyst-a": "aa-" + os.urandom(16).hex(), "soc-lead": "sl-" + os.urandom(16).hex()}
    sha = {n: hashlib.sha256(t.encode()).hexdigest() for n, t in toks.items()}
    helper = subprocess.run([TOCSIN, "serve", "--hash-token"], input=toks["viewer-a"] + "\n",
                            capture_output=True, text=True)
    check(helper.returncode == 0 and helper.stdout.strip() == sha["viewer-a"],
          "serve --hash-token prints the sha256 of the token on stdin")
    new = subprocess.run([TOCSIN, "serve", "--new-token"], capture_output=True, text=True)
    m = re.match(r"token:\s+(\S+)\nsha256: ([0-9a-f]{64})\n", new.stdout)
    check(new.returncode == 0 and m and hashlib.sha256(m.group(1).encode()).hexdigest() == m.group(2),
          "serve --new-token prints a random token and its sha256")
    with open(os.path.join(TMP, "tokens.yml"), "w") as f:
        f.write("tokens:\n"
                f"  - {{name: viewer-a, sha256: {sha['viewer-a']}, role: viewer, tenants: [agency-a]}}\n"
                f"  - {{name: viewer-b, sha256: {sha['viewer-b']}, role: viewer, tenants: [agency-b]}}\n"
                f"  - {{name: analyst-a, sha256: {sha['analyst-a']}, role: analyst, tenants: [agency-a]}}\n"
                f"  - {{name: soc-lead, sha256: {sha['soc-lead'].upper()}, role: admin, tenants: [\"*\"]}}\n")
    os.chmod(os.path.join(TMP, "tokens.yml"), 0o600)  # serve refuses a world-readable one

    # a tokens file with a clear-text token is refused, with file:line:col
    bad = os.path.join(TMP, "bad.yml")
    with open(bad, "w") as f:
        f.write("tokens:\n  - {name: x, token: secret, role: viewer, tenants: [a]}\n")
    os.chmod(bad, 0o600)
    r = subprocess.run([TOCSIN, "serve", "--db", DB, "--listen", "127.0.0.1:0", "--tokens", bad],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and re.search(r"bad\.yml:2:\d+: error: unknown key \"token\"", r.stderr),
          "a tokens file with a clear-text token is refused with file:line:col: " + r.stderr.strip())

    proc, port = serve("--rate", "10000")
    anon = Client(port)
    va, vb = Client(port, toks["viewer-a"]), Client(port, toks["viewer-b"])
    aa, lead = Client(port, toks["analyst-a"]), Client(port, toks["soc-lead"])

    st, h, d = anon.get("/api/v1/incidents")
    check(st == 401 and h.get("WWW-Authenticate", "").startswith("Bearer"),
          f"no token: 401 with WWW-Authenticate ({st})")
    st, _, _ = Client(port, "not-a-token").get("/api/v1/incidents")
    check(st == 401, f"an unknown token: 401 ({st})")
    st, _, _ = anon.get("/api/v1/nope")
    check(st == 401, f"an unknown /api/ path without a token is 401, not 404 ({st})")
    st, _, d = anon.get("/healthz")
    check(st == 200 and d == b"ok\n", f"/healthz needs no token: 200 ok ({st})")
    st, _, d = anon.get("/readyz")
    check(st == 200 and d == b"ready\n", f"/readyz: the store is open: 200 ({st})")
    st, d = va.json("/api/v1/me")
    check(st == 200 and d == {"name": "viewer-a", "role": "viewer", "tenants": ["agency-a"]},
          f"/api/v1/me names the token ({d})")

    # a tenant's viewer sees exactly that tenant's incidents, as the CLI lists them
    st, d = va.json("/api/v1/incidents?limit=1000")
    check(st == 200 and d["next"] is None and d["incidents"] == a_cli,
          "viewer-a's list is `incidents list --tenant agency-a --json`, record for record")
    ids, pages = walk(va, "", 5)
    check(ids == [i["id"] for i in a_cli] and pages == 5,
          f"viewer-a's pages of 5 walk agency-a's incidents once, in order ({len(ids)} in {pages} pages)")
    st, d = vb.json("/api/v1/incidents")
    check(st == 200 and sorted(i["id"] for i in d["incidents"]) == sorted(i["id"] for i in b_cli),
          "viewer-b sees exactly agency-b's incidents")
    bid = b_cli[0]["id"]
    st, d404 = va.json("/api/v1/incidents/" + bid)
    st2, dnone = va.json("/api/v1/incidents/" + "0" * 32)
    check(st == 404 and st2 == 404 and d404 == dnone,
          "another tenant's incident is 404, answered exactly as one that does not exist")
    for sub in ("escalations", "report"):
        st, _, _ = va.get(f"/api/v1/incidents/{bid}/{sub}")
        check(st == 404, f"another tenant's incident's {sub}: 404 ({st})")
    st, d = va.json("/api/v1/incidents?tenant=agency-b")
    check(st == 403, f"viewer-a asking for tenant agency-b: 403 ({st})")

    # pagination over everything (the admin sees every tenant)
    ids, pages = walk(lead, "", 7)
    check(sorted(ids) == sorted(i["id"] for i in every) and len(ids) == len(set(ids)) == 40,
          f"pages of 7 walk all 40 incidents exactly once ({len(ids)}, {len(set(ids))} distinct, {pages} pages)")
    ids, _ = walk(lead, "status=new&severity=high", 3)
    check(len(ids) == 40 and len(set(ids)) == 40, "filtered pages (status, severity) walk them once too")
    st, d = lead.json("/api/v1/incidents?text=203.0.113.7&limit=1000")
    check(st == 200 and [i["group_key"] for i in d["incidents"]] == ["src_ip=203.0.113.7"],
          "text= finds the incident by its group value")
    st, d = lead.json("/api/v1/incidents?since=2026-11-20T10:05:00Z&until=2026-11-20T10:08:00Z&limit=1000")
    want = [i["id"] for i in every if "2026-11-20T10:05:00Z" <= i["last_seen"] < "2026-11-20T10:08:00Z"]
    check(st == 200 and [i["id"] for i in d["incidents"]] == want and want,
          f"since/until bound last_seen ({len(want)} incidents)")
    st, d = lead.json("/api/v1/incidents?rule=017dd23e-17b7-46ec-9279-c2482fa92e1f&tenant=agency-b")
    check(st == 200 and len(d["incidents"]) == 17, "rule= and tenant= filter")
    for q in ("limit=0", "limit=1001", "status=bogus", "cursor=xyz", "since=yesterday", "colour=red"):
        st, _ = lead.json("/api/v1/incidents?" + q)
        check(st == 400, f"bad query {q}: 400 ({st})")

    # one incident with its evidence is `incidents show --json`
    aid = a_cli[3]["id"]
    st, d = va.json("/api/v1/incidents/" + aid)
    show = json.loads(cli("incidents", "--db", DB, "show", aid, "--json"))
    check(st == 200 and d == show and len(d["evidence_records"]) == 6 and
          any("Failed password" in e.get("raw", "") for e in d["evidence_records"]),
          "GET /api/v1/incidents/ID is `incidents show --json` (evidence with raw text)")

    # status changes: roles, tenants, `by`
    st, _, _ = va.req("POST", f"/api/v1/incidents/{aid}/ack")
    check(st == 403, f"a viewer's ack: 403 ({st})")
    check(json.loads(cli("incidents", "--db", DB, "show", aid, "--json"))["status"] == "new",
          "the viewer's ack changed nothing")
    st, _, _ = aa.req("POST", f"/api/v1/incidents/{bid}/ack")
    check(st == 404, f"an analyst's ack of another tenant's incident: 404 ({st})")
    st, h, d = aa.req("POST", f"/api/v1/incidents/{aid}/ack", body=json.dumps({"comment": "on it"}),
                      headers={"Content-Type": "application/json"})
    check(st == 200 and json.loads(d)["status"] == "acknowledged", f"an analyst's ack: 200 ({st} {d[:200]})")
    shown = json.loads(cli("incidents", "--db", DB, "show", aid, "--json"))
    check(shown["status"] == "acknowledged" and shown["status_by"] == "analyst-a" and
          shown["history"][-1]["by"] == "analyst-a",
          "the ack shows in `tocsin incidents show` with the token's name as by")
    st, _, d = aa.req("POST", f"/api/v1/incidents/{aid}/ack")
    check(st == 409 and b"it is acknowledged" in d, f"ack twice: 409 with the reason ({st})")
    st, _, _ = aa.req("POST", f"/api/v1/incidents/{aid}/resolve", body="not json")
    check(st == 400, f"a body that is not JSON: 400 ({st})")
    st, _, _ = aa.req("POST", f"/api/v1/incidents/{aid}/resolve")
    st2, _, _ = aa.req("POST", f"/api/v1/incidents/{aid}/reopen")
    check(st == 200 and st2 == 200, f"resolve then reopen ({st}, {st2})")
    hist = json.loads(cli("incidents", "--db", DB, "show", aid, "--json"))["history"]
    check([x["status"] for x in hist] == ["acknowledged", "resolved", "reopened"] and
          {x["by"] for x in hist} == {"analyst-a"}, "the history records each change by the token")
    check(hist[0].get("comment") == "on it" and hist[0]["from"] == "new" and
          "comment" not in hist[1] and hist[2]["from"] == "resolved",
          f"the ack's comment is kept with its change, from new ({hist})")
    st, d = va.json(f"/api/v1/incidents/{aid}")
    check(st == 200 and d["history"][0].get("comment") == "on it",
          "the incident JSON of the API carries the comment")
    st, _, _ = aa.req("POST", f"/api/v1/incidents/{aid}/resolve",
                      body=json.dumps({"comment": "a" * 4097}),
                      headers={"Content-Type": "application/json"})
    check(st == 400, f"a comment over 4096 bytes: 400 ({st})")
    st, _, _ = va.req("DELETE", f"/api/v1/incidents/{aid}")
    check(st == 405, f"an unsupported method: 405 ({st})")

    # escalations and reports
    st, d = va.json(f"/api/v1/incidents/{aid}/escalations")
    check(st == 200 and d["incident_id"] == aid and isinstance(d["escalations"], list),
          f"escalations of an incident: 200 ({st})")
    st, h, d = va.get(f"/api/v1/incidents/{aid}/report?stage=initial&format=json")
    rep = json.loads(d) if st == 200 else {}
    check(st == 200 and h.get("Content-Type") == "application/json" and rep,
          f"report as JSON ({st})")
    st, h, d = va.get(f"/api/v1/incidents/{aid}/report?format=stix")
    check(st == 200 and json.loads(d)["type"] == "bundle", f"report as a STIX bundle ({st})")
    st, h, d = va.get(f"/api/v1/incidents/{aid}/report?format=text&lang=en")
    check(st == 200 and h.get("Content-Type", "").startswith("text/plain") and b"REPORT" in d,
          f"report as English text ({st})")
    st, _, _ = va.get(f"/api/v1/incidents/{aid}/report?format=pdf")
    check(st == 400, f"report in an unknown format: 400 ({st})")
    # the monitoring summary (issue 13): the figures of `tocsin summary`, scoped
    # to the token's tenant
    span = "period=custom&from=2000-01-01&to=2100-01-01"
    st, h, d = va.get(f"/api/v1/summary?{span}&format=json&lang=en")
    sa = json.loads(d) if st == 200 else {}
    want = json.loads(cli("summary", "--db", DB, "--period", "custom", "--from", "2000-01-01",
                          "--to", "2100-01-01", "--tenant", "agency-a", "--format", "json"))
    check(st == 200 and h.get("Content-Type") == "application/json" and sa == want and
          sa["incidents"]["total"] == len(a_cli) == 23 and sa["events"]["total"] == 23 * 6 and
          [t["key"] for t in sa["events"]["by_tenant"]] == ["agency-a"],
          f"GET /api/v1/summary as viewer-a: agency-a's figures, equal to tocsin summary --tenant "
          f"agency-a ({st}, {sa.get('incidents', {}).get('total')} incidents, "
          f"{sa.get('events', {}).get('total')} events)")
    st, _, _ = va.get(f"/api/v1/summary?{span}&tenant=agency-b")
    check(st == 403, f"summary of another tenant: 403 ({st})")
    st, d = lead.json(f"/api/v1/summary?{span}")
    check(st == 200 and d["incidents"]["total"] == 40 and d["events"]["total"] == 40 * 6 and
          d["detections"]["total"] is not None,
          f"summary for a token of every tenant: all 40 incidents and 240 events ({st})")
    st, h, d = va.get(f"/api/v1/summary?{span}&format=html&lang=vi")
    check(st == 200 and h.get("Content-Type", "").startswith("text/html") and b"<svg" in d and
          "Tổng số sự cố: 23".encode() in d, f"summary as HTML with its charts ({st})")
    st, _, _ = va.get("/api/v1/summary?period=year")
    check(st == 400, f"summary of an unknown period: 400 ({st})")
    st, _, _ = va.get("/api/v1/summary?period=custom&from=2026-01-01")
    check(st == 400, f"summary custom without to: 400 ({st})")
    st, _, _ = anon.get("/api/v1/summary")
    check(st == 401, f"summary without a token: 401 ({st})")
    st, _, _ = va.get("/api/v1/rules")
    check(st == 404, f"rules without the engine's hook: 404 ({st})")
    # serve --rules: the rules listed by title (the console names the
    # sub-rules of the evidence with them), no hit counts
    _, rport = serve("--rules", "etc/rules", "--no-reports")
    st, _, d = Client(rport, toks["viewer-a"]).get("/api/v1/rules")
    doc = json.loads(d) if st == 200 else {}
    titles = {r.get("title") for r in doc.get("rules", [])}
    check(st == 200 and "SSH Password Login As Root" in titles and doc.get("detection_rules", 0) > 0
          and "hits" not in doc and all("hits" not in r for r in doc.get("rules", [])),
          f"serve --rules lists the rules by title without hits ({st}, {len(titles)} titles)")
    st, _, _ = Client(rport, toks["soc-lead"]).req("POST", "/api/v1/rules/reload")
    check(st == 404, f"serve --rules does not reload rules: 404 ({st})")
    st, _, _ = aa.req("POST", "/api/v1/rules/reload")
    check(st == 403, f"rules reload needs admin: 403 ({st})")

    # the request body cap
    # (the server answers as soon as it reads Content-Length, before the
    # body: a raw socket, since http.client would keep writing the body)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sk:
        sk.sendall((f"POST /api/v1/incidents/{aid}/ack HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: Bearer {toks['analyst-a']}\r\n"
                    f"Content-Length: {2 << 20}\r\n\r\n").encode() + b"x" * 1000)
        head = sk.recv(4096)
    check(head.startswith(b"HTTP/1.1 413"), f"a body over 1 MiB: 413 ({head[:20]})")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", f"/api/v1/incidents/{aid}/ack", body=(b"x" * 65536 for _ in range(32)),
              headers={"Authorization": "Bearer " + toks["analyst-a"]}, encode_chunked=True)
    st = c.getresponse().status
    c.close()
    check(st == 413, f"a chunked body (no Content-Length) over 1 MiB: 413 ({st})")

    # /metrics: Prometheus text the reference parser reads
    st, h, d = anon.get("/metrics")
    fams = {}
    try:
        for fam in text_string_to_metric_families(d.decode()):
            fams[fam.name] = fam
        parsed = True
    except Exception as e:  # noqa: BLE001
        parsed = False
        print(e)
    check(st == 200 and parsed and h.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          "/metrics needs no token and parses with prometheus_client")
    inc = fams.get("tocsin_incidents")
    per = {}
    for s in inc.samples if inc else []:
        per[(s.labels["tenant"], s.labels["status"])] = per.get((s.labels["tenant"], s.labels["status"]), 0) + s.value
    check(per.get(("agency-a", "new")) == 22 and per.get(("agency-a", "reopened")) == 1 and
          per.get(("agency-b", "new")) == 17,
          f"tocsin_incidents by tenant and status ({per})")
    build = fams.get("tocsin_build_info")
    check(build and build.samples[0].labels.get("version") and build.samples[0].value == 1,
          "tocsin_build_info{version} 1")
    for name in ("tocsin_outbox_entries", "tocsin_store_map_used_bytes", "tocsin_http_requests",
                 "tocsin_http_request_duration_seconds"):
        check(name in fams, f"/metrics has {name}")

    # rate cap: a second server with a bucket of 3 and 1 request/s
    p2, port2 = serve("--rate", "1", "--burst", "3")
    c2 = Client(port2, toks["viewer-a"])
    codes = [c2.get("/api/v1/me") for _ in range(6)]
    st429 = [c for c in codes if c[0] == 429]
    check([c[0] for c in codes[:3]] == [200] * 3 and st429 and st429[0][1].get("Retry-After"),
          f"the rate cap answers 429 with Retry-After past the burst ({[c[0] for c in codes]})")
    other = Client(port2, toks["viewer-b"]).get("/api/v1/me")[0]
    check(other == 200, f"the cap is per token: another token still gets 200 ({other})")
    anon_codes = [Client(port2).get("/healthz")[0] for _ in range(5)]
    check(429 in anon_codes, f"requests without a token are capped per address ({anon_codes})")

    # HTTPS with a self-signed certificate
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p3, port3 = serve(tls=(cert, key))
    ctx = ssl.create_default_context(cafile=cert)
    st, _, d = Client(port3, ctx=ctx).get("/healthz")
    check(st == 200 and d == b"ok\n", f"HTTPS: /healthz over TLS verified against the cert ({st})")
    st, d = Client(port3, toks["viewer-a"], ctx=ctx).json("/api/v1/incidents?limit=2")
    check(st == 200 and len(d["incidents"]) == 2, "HTTPS: the API with a token")
    try:
        Client(port3).get("/healthz")
        plain = "answered"
    except Exception:  # noqa: BLE001
        plain = "refused"
    check(plain == "refused", "plain HTTP to the HTTPS port gets no answer")

    # SIGTERM stops each server with exit 0
    for p in (proc, p2, p3):
        p.send_signal(signal.SIGTERM)
    rcs = [p.wait(timeout=30) for p in (proc, p2, p3)]
    check(rcs == [0, 0, 0], f"SIGTERM stops serve with exit 0 ({rcs})")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        failures.append(f"exception: {e!r}")
        print(f"  FAIL exception: {e!r}", flush=True)
    finally:
        for p in servers:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = os.path.join(TMP, "serve.err")
        if failures and os.path.exists(err):
            print("--- serve stderr:\n" + open(err).read()[-3000:])
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"api: {checks - len(failures)}/{checks} passed")
    sys.exit(1 if failures else 0)
