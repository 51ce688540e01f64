#!/usr/bin/env python3
"""Monitoring reports (issue 13 part 4): the summary of a period is sent to
the managing body through the escalation channels once per period.

1. `tocsin replay` fills a store from examples/ (a week of March 2026).
2. `tocsin escalations send --summary week --at T` twice for the same week:
   an HTTPS webhook (local CA, Standard Webhooks signature checked) gets
   exactly one summary, whose totals are those of `tocsin incidents list`;
   a later --at (next week) sends the next week's one.
3. `tocsin run` with escalate.summary: day and the Kafka broker of
   $TOCSIN_KAFKA_BOOTSTRAP: the scheduled report of yesterday is delivered
   once; a restart of run does not send it again (the same outbox id).
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOCSIN = os.path.join(ROOT, os.environ.get("TOCSIN", "bin/tocsin"))
KTOOL = os.path.join(ROOT, os.environ.get("KTOOL", "build/tools/ktool"))
TMP = tempfile.mkdtemp(prefix="tocsin-summary-")
DB = os.path.join(TMP, "db")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import HttpsServer, make_certs, webhook_signed  # noqa: E402

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
failures = []


def check(cond, msg):
    print(("  ok   " if cond else "  FAIL ") + msg)
    if not cond:
        failures.append(msg)


class Hook:
    """An HTTPS webhook that checks the signature and keeps every document."""

    def __init__(self, crt, key):
        self.docs, self.bad, self.lock = [], [], threading.Lock()
        self.https = HttpsServer(crt, key, self.handle)
        self.port = self.https.port
        self.https.start()

    def handle(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        ok = webhook_signed(SECRET, h.headers, body)
        with self.lock:
            (self.docs if ok else self.bad).append(json.loads(body) if ok else
                                                   h.headers.get("webhook-id"))
        return 200 if ok else 401

    def summaries(self):
        with self.lock:
            return [d for d in self.docs if d.get("schema") == "tocsin-summary-delivery/1"]


SHOTS = os.environ.get("TOCSIN_SUMMARY_SHOTS", "/tmp/tocsin-summary")


def browser_check(html):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium fetch a driver
    o = webdriver.ChromeOptions()
    o.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=900,1400", "--no-first-run", "--disable-background-networking"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
                         options=o)
    try:
        d.get("file://" + html)
        svgs = d.find_elements(By.TAG_NAME, "svg")
        bars = d.find_elements(By.CSS_SELECTOR, "svg rect")
        widths = [float(b.get_attribute("width")) for b in bars]
        check(len(svgs) == 5 and len(bars) >= 9 and max(widths) > 300,
              f"Chromium draws 5 charts with their bars ({len(svgs)} svg, {len(bars)} bars)")
        h1 = d.find_element(By.TAG_NAME, "h1").text
        check(h1 == "BÁO CÁO TÌNH HÌNH GIÁM SÁT AN NINH MẠNG", f"the Vietnamese title renders ({h1})")
        box = svgs[0].rect
        check(box["width"] >= 600 and box["height"] > 100, f"the first chart has its size ({box})")
        os.makedirs(SHOTS, exist_ok=True)
        d.save_screenshot(os.path.join(SHOTS, "summary-vi.png"))
        pdf = d.print_page()  # the printed page (black on white charts)
        check(len(base64.b64decode(pdf)) > 10000, "the report prints to PDF")
        with open(os.path.join(SHOTS, "summary-vi.pdf"), "wb") as f:
            f.write(base64.b64decode(pdf))
        print(f"  screenshot: {SHOTS}/summary-vi.png")
    finally:
        d.quit()


def tocsin(*args, **kw):
    return subprocess.run([TOCSIN, *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, TOCSIN_SUM_SECRET=SECRET), **kw)


def main():
    ca, crt, key = make_certs(TMP, "summary test CA")
    hook = Hook(crt, key)
    esc = f"{TMP}/escalation"
    os.makedirs(esc)
    for n in ("law116-2025.yml", "taxonomy.yml"):
        shutil.copy(f"{ROOT}/etc/escalation/{n}", esc)
    with open(f"{esc}/policy.yml", "w") as f:
        f.write("regime: law116-2025\nchannels:\n  managing_body: webhook:mb\n")
    ch = f"{TMP}/channels.yml"
    with open(ch, "w") as f:
        f.write(f"""dispatch: {{threads: 1, lease: 10s, backoff_base: 200ms, backoff_cap: 1s,
           poll: 100ms, due_pass: 1s}}
channels:
  "webhook:mb":
    type: webhook
    url: https://127.0.0.1:{hook.port}/intake/mb
    secret_env: TOCSIN_SUM_SECRET
    ca_file: {ca}
    timeout: 2s
""")
    r = tocsin("replay", "-q", "--tz", "+07:00", "-t", "so-tttt-demo", "-r", "etc/rules",
               "--db", DB, "--assets", "etc/assets.example.yml", "examples/auth.log",
               "examples/sysmon.jsonl", "examples/firewall-5424.log")
    check(r.returncode == 0, f"replay fills the store ({r.stderr[-300:]})")
    listed = [json.loads(x) for x in tocsin("incidents", "--db", DB, "list", "--since",
                                            "2026-03-16T00:00:00+07:00", "--until",
                                            "2026-03-23T00:00:00+07:00", "--json").stdout.split("\n") if x]
    opts = ["--regimes", esc, "--assets", "etc/assets.example.yml", "--channels", ch]
    for i in range(2):
        r = tocsin("escalations", "--db", DB, "send", "--summary", "week", "--at",
                   "2026-03-25T12:00:00+07:00", *opts, timeout=60)
        check(r.returncode == 0 and ("queued" if i == 0 else "queued before") in r.stderr,
              f"send --summary week, pass {i + 1}: {r.stderr.strip().splitlines()[-2:]}")
    s = hook.summaries()
    check(len(s) == 1, f"one summary for the week of 16 March, however often send runs ({len(s)})")
    if s:
        d = s[0]
        check(d["report_id"].startswith("summary:week:") and d["recipient"] == "managing_body",
              f"sent to the managing body under a period id ({d['report_id']})")
        tot = d["summary"]["incidents"]["total"]
        check(tot == len(listed) > 0 and d["summary"]["events"]["in_incidents_total"] ==
              sum(x["count"] for x in listed),
              f"its totals are those of incidents list ({tot} = {len(listed)})")
        check(d["summary"]["period"]["from"] == "2026-03-15T17:00:00Z" and
              "BÁO CÁO TÌNH HÌNH GIÁM SÁT AN NINH MẠNG" in d["text_vi"],
              "the period is Monday 16 March +07:00, with the Vietnamese text")
    r = tocsin("escalations", "--db", DB, "send", "--summary", "week", "--at",
               "2026-04-01T12:00:00+07:00", *opts, timeout=60)
    check(len(hook.summaries()) == 2, "the next week's summary is sent in the next week")
    check(not hook.bad, f"every request signed ({hook.bad})")

    # 2b. the HTML report in headless Chromium (Debian's chromium and
    # chromium-driver through Selenium, as test_console.py): the charts are
    # inline SVG, drawn, and the page prints; screenshots kept
    html = f"{TMP}/summary.html"
    r = tocsin("summary", "--db", DB, "--period", "custom", "--from", "2026-03-16", "--to",
               "2026-03-23", "--format", "html", "--lang", "vi", "--regimes", esc, "--assets",
               "etc/assets.example.yml")
    check(r.returncode == 0 and "<svg" in r.stdout, "summary --format html has inline SVG charts")
    with open(html, "w", encoding="utf-8") as f:
        f.write(r.stdout)
    browser_check(html)

    # 3. scheduled in run
    boot = os.environ.get("TOCSIN_KAFKA_BOOTSTRAP")
    if not boot:
        check(False, "TOCSIN_KAFKA_BOOTSTRAP is needed for the run step")
        return
    topic = f"summary.{os.getpid()}-{int(time.time())}"
    subprocess.run([KTOOL, "create", boot, topic, "1"], check=True, capture_output=True)
    cfg = f"{TMP}/run.yml"
    with open(cfg, "w") as f:
        f.write(f"""kafka:
  brokers: "{boot}"
  group_id: g-{topic}
  batch_timeout_ms: 50
topics:
  - name: {topic}
    format: rfc3164
    tenant: so-tttt-demo
paths:
  rules: [{ROOT}/etc/rules]
  data_dir: {TMP}/rundata
escalate:
  regimes_dir: {esc}
  assets: {ROOT}/etc/assets.example.yml
  channels: {ch}
  summary: day
""")
    before = len(hook.summaries())
    for attempt in range(2):
        p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "--stats-interval", "0"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=open(f"{TMP}/run{attempt}.err", "w"),
                             env=dict(os.environ, TOCSIN_SUM_SECRET=SECRET))
        deadline = time.time() + 20
        while time.time() < deadline and len(hook.summaries()) == before:
            time.sleep(0.2)
        time.sleep(2.5)  # any second delivery would come now
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        got = hook.summaries()[before:]
        check(len(got) == 1 and got[0]["report_id"].startswith("summary:day:"),
              f"run #{attempt + 1}: yesterday's summary delivered once in all ({len(got)})")
    shutil.copy(f"{TMP}/run0.err", "/tmp/tocsin-summary-run.err")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("test_summary: " + ("ok" if not failures else f"{len(failures)} failure(s)"))
    sys.exit(1 if failures else 0)
