#!/usr/bin/env python3
"""The analysts' web console (docs/console.md), used as a person uses it.

A generated SSH brute force for two tenants (agency-a: 30 source addresses,
one of which then logs in as root - a critical incident with a linked
detection - and one of whose failed logins names the user
`<svg/onload=alert(1)>`; agency-b: 12 addresses) is replayed with the
shipped rules (`tocsin replay --rules etc/rules --tenant T --db D`), then
`tocsin serve` listens on a free 127.0.0.1 port with a tokens file and an
asset inventory (so that reports and deadlines are owed) and headless
Chromium (Debian's chromium + chromium-driver, driven by Selenium) does
what an analyst does:

- the console's own answers: CSP without inline script, nosniff, ETag and
  304, no third-party origin, no innerHTML in the code;
- a wrong token is refused at the sign-in form; analyst-a signs in and sees
  exactly agency-a's open incidents (the ids `tocsin incidents list
  --tenant agency-a` gives), over two cursor pages (Next, Previous);
- filters: a text search finds one address; status "resolved" is empty;
- an incident page: the evidence timeline with the raw lines, the linked
  root login, entities, escalation per recipient with due times, the report
  previewed in English and Vietnamese; the hostile user name shows as text
  and makes no element;
- the order selector (most severe first) over two pages;
- acknowledge with a comment: `tocsin incidents --db D show ID` then says
  acknowledged by analyst-a (the token's name) with the comment in its
  history, the page's history card shows it, and the server's audit line
  carries the comment;
- the language switch (Vietnamese labels), rules "not available" and the
  ingest health panel saying that serve has no ingest series; a viewer of
  agency-b sees that tenant only and gets no action buttons;
- the health panel's charts drawn from /metrics, through a small proxy
  that adds the runtime's series (events, lag, dead letters) as `tocsin
  run` would.

Screenshots are written to /tmp/tocsin-console/ (queue.png, incident.png,
queue-vi.png, health.png, rules.png) and their paths printed.
"""
import hashlib
import http.client
import http.server
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SHOTS = os.environ.get("TOCSIN_CONSOLE_SHOTS", "/tmp/tocsin-console")
TMP = tempfile.mkdtemp(prefix="tocsin-console-")
DB = os.path.join(TMP, "db")
T0 = time.time()
failures = []
checks = 0
procs = []


def check(cond, msg):
    global checks
    checks += 1
    at = f"[{time.time() - T0:4.1f}s] "
    if cond:
        print("  ok   " + at + msg, flush=True)
    else:
        failures.append(msg)
        print("  FAIL " + at + msg, flush=True)


def brute_force(path, prefix, n_addr, host, extras=False):
    """n_addr source addresses, each failing 6 times within a minute; with
    extras, the 2nd address then logs in as root and the 3rd one's last
    failure names a hostile user."""
    with open(path, "w") as f:
        t = 0
        for a in range(n_addr):
            for k in range(6):
                m, s = divmod(t, 60)
                user = "invalid user <svg/onload=alert(1)>" if extras and a == 2 and k == 5 else "root"
                f.write(f"<38>Nov 20 10:{m:02d}:{s:02d} {host} sshd[{1000 + t}]: Failed password "
                        f"for {user} from {prefix}.{a + 1} port {40000 + t} ssh2\n")
                t += 1
            if extras and a == 1:
                m, s = divmod(t, 60)
                f.write(f"<38>Nov 20 10:{m:02d}:{s:02d} {host} sshd[{1000 + t}]: Accepted password "
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


def http_get(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


# ------------------------------------------------------------ the runtime's series


def runtime_series():
    """What `tocsin run`'s metrics hook appends: events by topic and tenant,
    lag per partition, dead letters (made up, moving with time)."""
    e = time.time() - T0
    ev_a = int(1200 * e + 200 * math.sin(e))
    ev_b = int(400 * e)
    lag = [int(120 + 80 * math.sin(e / 2)), int(40 + 30 * math.cos(e / 3))]
    dead = int(e * 0.8)
    return ("# HELP tocsin_events_consumed_total Events consumed\n"
            "# TYPE tocsin_events_consumed_total counter\n"
            f"tocsin_events_consumed_total{{topic=\"logs.syslog\",tenant=\"agency-a\"}} {ev_a}\n"
            f"tocsin_events_consumed_total{{topic=\"logs.syslog\",tenant=\"agency-b\"}} {ev_b}\n"
            "# HELP tocsin_consumer_lag Messages behind the end of each partition\n"
            "# TYPE tocsin_consumer_lag gauge\n"
            f"tocsin_consumer_lag{{topic=\"logs.syslog\",partition=\"0\"}} {lag[0]}\n"
            f"tocsin_consumer_lag{{topic=\"logs.syslog\",partition=\"1\"}} {lag[1]}\n"
            "# HELP tocsin_events_dead_lettered_total Events sent to the dead-letter topic\n"
            "# TYPE tocsin_events_dead_lettered_total counter\n"
            f"tocsin_events_dead_lettered_total{{topic=\"logs.syslog\",tenant=\"agency-a\","
            f"reason=\"invalid UTF-8\"}} {dead}\n").encode()


RULES_DOC = {"rules": [
    {"id": "017dd23e-17b7-46ec-9279-c2482fa92e1f", "title": "SSH Brute Force From One Address",
     "level": "high", "kind": "correlation", "hits": 42},
    {"id": "6b0f6e0e-3c1a-4c7e-9d57-0b7d2f9a1c01", "title": "SSH Password Login As Root",
     "level": "high", "kind": "detection", "hits": 1},
    {"id": "0d8cc8c6-3a3f-4a0e-9f5b-2b8f1c4d7e10", "title": "New Local User Created",
     "level": "medium", "kind": "detection", "hits": 0},
    {"id": "5e0f1a2b-6c7d-4e8f-9a0b-1c2d3e4f5a6b", "title": "Failed Login Seen",
     "level": "low", "kind": "detection", "hits": 252}]}


def start_proxy(upstream):
    """A pass-through proxy on 127.0.0.1 that adds what the runtime's hooks
    give in `tocsin run`: runtime_series() to /metrics, and GET
    /api/v1/rules (which serve answers 404) with hit counts."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            try:
                c.request(self.command, self.path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                headers = r.getheaders()
            finally:
                c.close()
            path = self.path.split("?")[0]
            if path == "/metrics" and r.status == 200:
                data += runtime_series()
            if path == "/api/v1/rules" and r.status == 404:  # a valid token, no hook
                r.status = 200
                data = json.dumps(RULES_DOC).encode()
            self.send_response(r.status)
            for k, v in headers:
                if k.lower() not in ("content-length", "connection", "transfer-encoding", "date",
                                     "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = forward

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# --------------------------------------------------------------------- browser

def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium fetch a driver
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1440,1000", "--lang=en-US", "--no-first-run",
              "--disable-background-networking", "--disable-component-update",
              "--disable-default-apps", "--disable-sync", "--metrics-recording-only",
              "--no-default-browser-check"):
        o.add_argument(a)
    o.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)


class Page:
    """Waits and finds, in the page's own terms (body data-state/data-view
    is set by the console when a view is rendered)."""

    def __init__(self, d):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        self.d, self.By = d, By
        self.transient = (NoSuchElementException, StaleElementReferenceException)
        # the health panel redraws itself every few seconds: an element
        # read as it is replaced is read again
        self.wait = WebDriverWait(d, 15, poll_frequency=0.1, ignored_exceptions=self.transient)

    def ready(self, view):
        def ok(d):
            b = d.find_element(self.By.TAG_NAME, "body")
            return b.get_attribute("data-state") == "ready" and b.get_attribute("data-view") == view
        self.wait.until(ok)

    def until(self, fn, what="condition"):
        try:
            return self.wait.until(lambda d: fn())
        except Exception as e:  # noqa: BLE001
            raise RuntimeError(f"timed out waiting for {what}") from e

    def read(self, fn):
        """fn() once the page holds still long enough to read it."""
        for _ in range(50):
            try:
                return fn()
            except self.transient:
                time.sleep(0.1)
        return fn()

    def id(self, i):
        return self.d.find_element(self.By.ID, i)

    def all(self, css):
        return self.d.find_elements(self.By.CSS_SELECTOR, css)

    def one(self, css):
        return self.d.find_element(self.By.CSS_SELECTOR, css)

    def has(self, css):
        return len(self.all(css)) > 0

    def sign_in(self, url, token):
        self.d.get(url)
        self.ready("login")
        self.id("token").clear()
        self.id("token").send_keys(token)
        self.id("login-btn").click()

    def queue_ids(self):
        return [r.get_attribute("data-id") for r in self.all("#queue tbody tr")]

    def shot(self, name, full=False):
        path = os.path.join(SHOTS, name)
        if full:
            h = self.d.execute_script("return document.documentElement.scrollHeight")
            self.d.set_window_size(1440, min(max(h + 40, 900), 6000))
            time.sleep(0.2)
        self.d.save_screenshot(path)
        if full:
            self.d.set_window_size(1440, 1000)
        print("  screenshot: " + path, flush=True)
        return path


def main():
    os.makedirs(SHOTS, exist_ok=True)
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            raise RuntimeError(f"{tool} is missing: apt-get install chromium chromium-driver "
                               "(scripts/ensure-deps.sh)")

    # the store: two tenants' brute force, replayed with the shipped rules
    brute_force(os.path.join(TMP, "a.log"), "203.0.113", 30, "portal-01", extras=True)
    brute_force(os.path.join(TMP, "b.log"), "198.51.100", 12, "mail-01")
    for t, f in (("agency-a", "a.log"), ("agency-b", "b.log")):
        subprocess.run([TOCSIN, "replay", "-q", "--rules", "etc/rules", "--tenant", t, "--db", DB,
                        os.path.join(TMP, f)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    a_cli, b_cli = cli_list("--tenant", "agency-a"), cli_list("--tenant", "agency-b")
    crit = [i for i in a_cli if i["severity"] == "critical"]
    check(len(a_cli) == 30 and len(b_cli) == 12 and len(crit) == 1 and
          crit[0]["group_key"] == "src_ip=203.0.113.2",
          f"the replay made 30 + 12 incidents, one critical (root login) ({len(a_cli)} + {len(b_cli)})")
    crit_id = crit[0]["id"] if crit else ""
    hostile_id = next((i["id"] for i in a_cli if i["group_key"] == "src_ip=203.0.113.3"), "")

    with open(os.path.join(TMP, "assets.yml"), "w") as f:
        f.write("systems:\n  - id: portal-01\n    name: \"Cổng thông tin điện tử\"\n    level: 5\n"
                "    hostnames: [portal-01]\n    ip_ranges: [203.0.113.0/24]\n")
    # the shipped regime, with "immediately" made 1 s: the immediate notices
    # are overdue by the time the page shows them
    regimes = os.path.join(TMP, "regimes")
    os.makedirs(regimes)
    law = open("etc/escalation/law116-2025.yml", encoding="utf-8").read()
    # the immediate notice is due at once (Decree 331 Art. 31.2.d): overdue already
    law2 = law
    with open(os.path.join(regimes, "law116-2025.yml"), "w", encoding="utf-8") as f:
        f.write(law2)
    for name in ("taxonomy.yml", "policy.yml"):
        shutil.copy(os.path.join("etc/escalation", name), regimes)
    toks = {n: n[:2] + "-" + os.urandom(16).hex() for n in ("analyst-a", "viewer-b")}
    sha = {n: hashlib.sha256(t.encode()).hexdigest() for n, t in toks.items()}
    with open(os.path.join(TMP, "tokens.yml"), "w") as f:
        f.write("tokens:\n"
                f"  - {{name: analyst-a, sha256: {sha['analyst-a']}, role: analyst, tenants: [agency-a]}}\n"
                f"  - {{name: viewer-b, sha256: {sha['viewer-b']}, role: viewer, tenants: [agency-b]}}\n")
    os.chmod(os.path.join(TMP, "tokens.yml"), 0o600)  # serve refuses a world-readable one
    err_path = os.path.join(TMP, "serve.err")
    p = subprocess.Popen([TOCSIN, "serve", "--db", DB, "--listen", "127.0.0.1:0", "--tokens",
                          os.path.join(TMP, "tokens.yml"), "--assets", os.path.join(TMP, "assets.yml"),
                          "--regimes", regimes, "--regime", "law116-2025",
                          "--metrics-cache", "0", "--rate", "10000"],
                         stdout=subprocess.PIPE, stderr=open(err_path, "w"), text=True)
    procs.append(p)
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", p.stdout.readline())
    if not m:
        raise RuntimeError("serve did not start: " + open(err_path).read())
    port = int(m.group(1))
    base = f"http://127.0.0.1:{port}/"

    # ---------------------------------------------------- what the server answers
    st, h, body = http_get(port, "/")
    csp = h.get("content-security-policy", "")
    check(st == 200 and h.get("content-type", "").startswith("text/html") and b'id="app"' in body,
          f"GET / serves the console ({st})")
    check("script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
          and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp,
          "a strict Content-Security-Policy: " + csp)
    check(h.get("x-content-type-options") == "nosniff", "X-Content-Type-Options: nosniff")
    etag = h.get("etag", "")
    st2, h2, body2 = http_get(port, "/", {"If-None-Match": etag})
    check(re.fullmatch(r'"[0-9a-f]{32}"', etag) and st2 == 304 and body2 == b"",
          f"ETag {etag} and 304 when the browser has it ({st2})")
    scripts = re.findall(rb"<script\b[^>]*>", body)
    check(scripts and all(b" src=\"/assets/" in s for s in scripts) and b"<style" not in body and
          not re.search(rb"\s(style|on[a-z]+)\s*=", body),
          "index.html has no inline script, style or handler")
    code = {}
    for name in ("app.js", "i18n.js", "app.css", "favicon.svg"):
        st, h, code[name] = http_get(port, "/assets/" + name)
        check(st == 200 and h.get("etag") and h.get("content-security-policy") == csp and
              h.get("cache-control") == "no-cache",
              f"/assets/{name}: 200 with ETag, the CSP, no-cache ({st} {h.get('content-type')})")
    check(http_get(port, "/assets/nope.js")[0] == 404, "an unknown asset: 404")
    js = code["app.js"] + code["i18n.js"]
    check(not re.search(rb"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|"
                        rb"new Function|setTimeout\(['\"]", js),
          "the code never parses data as HTML (no innerHTML, document.write, eval)")
    # every recipient and report of the shipped regimes has a label in both
    # languages (national_mod, support-request, ... were shown as raw ids)
    import glob
    import yaml
    i18n = code["i18n.js"].decode()
    vi_at = i18n.index("\n    vi: {")
    missing = []
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for f in sorted(glob.glob(os.path.join(root, "etc", "escalation", "*.yml"))):
        doc = yaml.safe_load(open(f, encoding="utf-8")) or {}
        if not isinstance(doc, dict) or "recipients" not in doc:
            continue
        keys = ["recipient." + r["id"] for r in doc.get("recipients", [])] + \
               ["report." + r["id"] for r in doc.get("reports", [])]
        for k in keys:
            pos = [m.start() for m in re.finditer(re.escape(f"'{k}':"), i18n)]
            if not (any(p < vi_at for p in pos) and any(p > vi_at for p in pos)):
                missing.append(f"{os.path.basename(f)}: {k}")
    check(not missing, f"console labels in en and vi for every regime recipient and report "
          f"(missing: {missing})")
    urls = set(re.findall(rb"https?://[^\s'\"]+", b"".join(code.values()) + body))
    check(urls <= {b"http://www.w3.org/2000/svg"}, f"no third-party origin in the assets ({urls})")

    from selenium.webdriver.support.ui import Select
    d = browser()
    procs.append(d)
    pg = Page(d)
    t_start = time.time()

    # ------------------------------------------------------------------ sign in
    pg.sign_in(base, "not-a-token")
    pg.until(lambda: pg.id("login-error").text.strip(), "the sign-in error")
    check("not valid" in pg.id("login-error").text, "a wrong token is refused at the sign-in form: "
          + pg.id("login-error").text)
    pg.sign_in(base, toks["analyst-a"])
    pg.ready("queue")
    check(d.execute_script("return sessionStorage.getItem('tocsin.token')") == toks["analyst-a"] and
          not d.execute_script("return localStorage.getItem('tocsin.token')"),
          "the token is kept in sessionStorage (not localStorage)")
    who = pg.id("who").text.split("\n")
    check(who[:2] == ["analyst-a", "analyst"], f"the header names the token and its role ({who})")

    # ------------------------------------------------------------------ the queue
    first = pg.queue_ids()
    check(sorted(first) == sorted(i["id"] for i in a_cli) and
          {td.text for td in pg.all("#queue td.tenant")} == {"agency-a"},
          f"the queue shows exactly agency-a's open incidents, as the CLI lists them ({len(first)})")
    pg.shot("queue.png")
    Select(pg.id("f-limit")).select_by_value("25")
    pg.id("f-apply").click()
    pg.until(lambda: len(pg.all("#queue tbody tr")) == 25, "a page of 25")
    pg.ready("queue")
    page1 = pg.queue_ids()
    check(page1 == first[:25], f"25 per page: the first 25 ({len(page1)})")
    pg.id("q-next").click()
    pg.until(lambda: "Page 2" in pg.id("queue-summary").text, "page 2")
    pg.ready("queue")
    page2 = pg.queue_ids()
    check(sorted(page1 + page2) == sorted(i["id"] for i in a_cli) and len(set(page1 + page2)) == 30,
          f"Next pages on with the cursor: both pages are agency-a's incidents of the CLI, once each "
          f"({len(page1)} + {len(page2)})")
    check(pg.id("q-next").get_attribute("disabled") is not None, "the last page has no Next")
    pg.id("q-prev").click()
    pg.until(lambda: "Page 1" in pg.id("queue-summary").text, "page 1 again")
    pg.ready("queue")
    check(pg.queue_ids() == page1, "Previous goes back to the first page")

    # filters
    pg.id("f-text").send_keys("203.0.113.7")
    pg.id("f-apply").click()
    pg.until(lambda: len(pg.all("#queue tbody tr")) == 1, "one row for the text search")
    check([e.text for e in pg.all("#queue td.entity")] == ["src_ip\n203.0.113.7"] or
          "203.0.113.7" in pg.one("#queue td.entity").text,
          "the text filter finds the incident of 203.0.113.7 alone")
    check("text=203.0.113.7" in d.current_url, "the filters are in the address (a link to share)")
    Select(pg.id("f-status")).select_by_value("resolved")
    pg.id("f-apply").click()
    pg.until(lambda: pg.has("#queue-empty"), "the empty queue")
    check(pg.has("#queue-empty"), "status resolved: nothing, and the queue says so")
    pg.id("f-reset").click()
    pg.until(lambda: len(pg.all("#queue tbody tr")) == 30, "the full queue again")

    # the order: most severe first, over two pages of 25 (the API's sort=severity)
    rank = {"critical": 4, "high": 3, "medium": 2, "low": 1, "informational": 0}
    Select(pg.id("f-sort")).select_by_value("severity")
    Select(pg.id("f-limit")).select_by_value("25")
    pg.id("f-apply").click()
    pg.until(lambda: "sort=severity" in d.current_url and len(pg.all("#queue tbody tr")) == 25,
             "the queue by severity")
    pg.ready("queue")
    sevs = [rank[e.get_attribute("data-severity")] for e in pg.all("#queue td .pill.sev")]
    by_sev1 = pg.queue_ids()
    pg.id("q-next").click()
    pg.until(lambda: "Page 2" in pg.id("queue-summary").text, "page 2 by severity")
    pg.ready("queue")
    sevs += [rank[e.get_attribute("data-severity")] for e in pg.all("#queue td .pill.sev")]
    by_sev = by_sev1 + pg.queue_ids()
    check(len(sevs) == 30 and sevs == sorted(sevs, reverse=True) and sevs[0] == 4 and
          sorted(by_sev) == sorted(i["id"] for i in a_cli) and len(set(by_sev)) == 30,
          f"the order selector: most severe first, two pages with every incident once ({sevs})")
    pg.id("f-reset").click()
    pg.until(lambda: len(pg.all("#queue tbody tr")) == 30 and "sort=" not in d.current_url,
             "the full queue again, oldest first")

    # ------------------------------------------------------------- an incident
    pg.one(f'#queue tr[data-id="{crit_id}"] a.inc-link').click()
    pg.ready("incident")
    check(pg.id("inc-id").text == crit_id and
          pg.one(".inc-title-row .pill.sev").get_attribute("data-severity") == "critical",
          "the incident page opens from the queue (the critical one)")
    raws = [e.text for e in pg.all("#evidence pre.raw")]
    check(any("Failed password for root from 203.0.113.2" in r for r in raws) and
          any("Accepted password for root from 203.0.113.2" in r for r in raws),
          f"the evidence timeline shows the raw lines, the root login among them ({len(raws)} lines)")
    check(pg.has("#evidence .tl-linked .chip-linked") and "1" in pg.one("#linked h3").text,
          "the root login is marked as a linked detection")
    check("203.0.113.2" in pg.id("entities").text, "entities: the group value src_ip 203.0.113.2")
    recips = [e.get_attribute("data-recipient") for e in pg.all("#esc-reports [data-recipient]")]
    dues = pg.all("#esc-reports .due time")
    # law116-2025: A05 (Decree 331 Art. 31.2.d) and, as ours, the managing body
    check(recips == ["national", "managing_body"] and len(dues) >= 2,
          f"escalation per recipient with due times ({recips}, {len(dues)} due times)")
    overdue = pg.all("#esc-reports .esc-item.overdue")
    check("within: at_once" in law2 and len(overdue) == 2 and
          all(o.get_attribute("data-report") == "immediate-notice" and "OVERDUE" in o.text for o in overdue)
          and pg.has("#escalations .notice-error"),
          f"the overdue immediate notices stand out, one per recipient ({len(overdue)})")
    pg.until(lambda: pg.id("report-text").get_attribute("data-state") == "ready", "the report")
    check("INCIDENT" in pg.id("report-text").text, "the report preview in English")
    pg.id("report-vi").click()
    pg.until(lambda: "BÁO CÁO" in pg.id("report-text").text, "the Vietnamese report")
    check("BÁO CÁO" in pg.id("report-text").text and
          pg.id("report-text").get_attribute("lang") == "vi", "the report preview in Vietnamese")

    # acknowledge with a comment
    check(pg.has("#btn-ack") and pg.has("#btn-resolve") and not pg.has("#btn-reopen"),
          "an analyst gets Acknowledge and Resolve for a new incident")
    pg.id("comment").send_keys("blocked 203.0.113.2 at the firewall")
    pg.id("btn-ack").click()
    pg.until(lambda: pg.has("#flash"), "the acknowledgement")
    check("analyst-a" in pg.id("flash").text and
          pg.one(".inc-title-row .pill.st").get_attribute("data-status") == "acknowledged" and
          not pg.has("#btn-ack"), "the page shows it acknowledged by analyst-a: " + pg.id("flash").text)
    shown = json.loads(cli("incidents", "--db", DB, "show", crit_id, "--json"))
    check(shown["status"] == "acknowledged" and shown["status_by"] == "analyst-a" and
          shown["history"][-1]["by"] == "analyst-a",
          "`tocsin incidents show` says acknowledged by analyst-a (the token's name)")
    audit = open(err_path).read()
    check(re.search(r"analyst-a acknowledged incident " + crit_id + r" .*comment \"blocked 203\.0\.113\.2",
                    audit), "the server's audit line has the comment")
    check(shown["history"][-1].get("comment") == "blocked 203.0.113.2 at the firewall" and
          shown["history"][-1]["from"] == "new",
          "the comment is kept with the change in the store (`tocsin incidents show`)")
    pg.until(lambda: "blocked 203.0.113.2 at the firewall" in pg.id("history").text,
             "the comment in the history card")
    check(pg.one("#history .hist-comment").text == "blocked 203.0.113.2 at the firewall",
          "the incident page's history shows the comment")
    pg.until(lambda: pg.id("report-text").get_attribute("data-state") == "ready", "the report")
    pg.shot("incident.png", full=True)

    # a hostile user name is text, never markup
    d.get(base + "#/incident/" + hostile_id)
    pg.ready("incident")
    raws = [e.text for e in pg.all("#evidence pre.raw")]
    check(any("invalid user <svg/onload=alert(1)>" in r for r in raws) and
          not pg.all("#evidence svg") and not pg.all("#main svg[onload]"),
          "a raw line with <svg/onload=...> shows as text and makes no element")

    # the language: Vietnamese labels, then back
    pg.id("back").click()
    pg.ready("queue")
    pg.id("lang-vi").click()
    pg.until(lambda: pg.id("nav-incidents").text == "Sự cố", "the Vietnamese labels")
    label = pg.one('label[for="f-status"] span').text
    check(label == "Trạng thái" and d.execute_script("return document.documentElement.lang") == "vi",
          f"the language switch: Vietnamese labels (status filter: {label!r})")
    check(pg.one('#queue tr[data-id="%s"] .pill.st' % crit_id).text == "Đã tiếp nhận",
          "the status in Vietnamese: Đã tiếp nhận")
    pg.shot("queue-vi.png")
    pg.id("lang-en").click()
    pg.until(lambda: pg.id("nav-incidents").text == "Incidents", "English again")

    # rules and health over serve: not available / no ingest series
    pg.id("nav-rules").click()
    pg.ready("rules")
    check(pg.has("#rules-na") and "not available" in pg.id("rules-na").text.lower(),
          "rules without the engine: \"not available\"")
    pg.id("nav-health").click()
    pg.ready("health")
    check(pg.read(lambda: pg.has("#ingest-absent") and len(pg.all(".metric .absent")) == 3),
          "ingest health over serve: the ingest series are said to be absent")
    bars = pg.read(lambda: {r.find_element(pg.By.TAG_NAME, "th").text:
                            r.find_element(pg.By.CSS_SELECTOR, "td.num").text
                            for r in pg.all("#bars-status tr")})
    check(bars.get("New") == "29" and bars.get("Acknowledged") == "1",
          f"the store panel counts the token's tenant's incidents by status ({bars})")

    # a viewer of agency-b: that tenant only, no buttons
    pg.id("logout").click()
    pg.ready("login")
    check(not d.execute_script("return sessionStorage.getItem('tocsin.token')"),
          "signing out forgets the token")
    pg.sign_in(base, toks["viewer-b"])
    pg.ready("queue")
    ids = pg.queue_ids()
    check(sorted(ids) == sorted(i["id"] for i in b_cli) and
          {td.text for td in pg.all("#queue td.tenant")} == {"agency-b"},
          f"viewer-b sees exactly agency-b's incidents ({len(ids)})")
    pg.all("#queue a.inc-link")[0].click()
    pg.ready("incident")
    check(not pg.has("#actions") and not pg.has("#btn-ack") and pg.has(".notice-info"),
          "a viewer gets no action buttons, and is told why")
    d.get(base + "#/incident/" + crit_id)
    pg.ready("incident")
    check(pg.has(".notice-error") and not pg.has("#evidence"),
          "another tenant's incident is not found for viewer-b")

    # ------------------------------------------- health charts with the runtime's series
    proxy = start_proxy(port)
    procs.append(proxy)
    pbase = f"http://127.0.0.1:{proxy.server_address[1]}/"
    pg.sign_in(pbase + "#/health", toks["analyst-a"])
    pg.ready("health")
    def drawn(css):  # a line of at least two points
        return any(" " in (e.get_attribute("points") or "").strip() for e in pg.all(css))
    pg.until(lambda: drawn("#m-events-chart polyline") and drawn("#m-dead-chart polyline"),
             "three samples of /metrics")
    big, lag_ok = pg.read(lambda: (pg.one("#m-events .big").text,
                                   not pg.has("#ingest-absent") and drawn("#m-lag-chart polyline")))
    check(lag_ok and re.search(r"\d", big), f"with the runtime's series the charts are drawn (events {big!r})")
    lag, lag_text = pg.read(lambda: (pg.one("#m-lag .big").text, pg.id("m-lag").text))
    check(re.search(r"\d", lag) and "largest partition" in lag_text, f"consumer lag from the gauge ({lag!r})")
    time.sleep(0.3)
    pg.shot("health.png")

    # rule hit counts, as the engine's rules hook would give them
    pg.id("nav-rules").click()
    pg.ready("rules")
    rows = [tr.text.split("\n")[0] for tr in pg.all("#rules tbody tr")]
    check(rows[:2] == ["Failed Login Seen", "SSH Brute Force From One Address"] and len(rows) == 4,
          f"rules with hit counts, most hits first ({rows})")
    pg.shot("rules.png")
    pg.id("rules-filter").send_keys("root")
    pg.until(lambda: len(pg.all("#rules tbody tr")) == 1, "the rule filter")
    check("SSH Password Login As Root" in pg.one("#rules tbody tr").text and
          pg.one("#rules tbody tr td.num").text == "1", "the rule filter keeps the one rule")
    d.get(pbase + "#/incident/" + crit_id)
    pg.ready("incident")
    check("SSH Password Login As Root" in pg.id("linked").text,
          "with the rules known, the linked detection is named by its rule's title")

    # the browser's console: no CSP violation, no script error
    bad = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE" and not
           re.search(r"/api/v1/(rules|me|incidents/[0-9a-f]+(/escalations|/report\?[^ ]*)?) - Failed to load resource: the server "
                     r"responded with a status of (404|401)", e["message"])]
    check(not bad, f"no error in the browser's console ({bad[:3]})")
    print(f"  browser part: {time.time() - t_start:.1f} s", flush=True)

    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=30) == 0, "serve stops on SIGTERM")


if __name__ == "__main__":
    t0 = time.time()
    try:
        main()
    except Exception as e:  # noqa: BLE001
        failures.append(f"exception: {e!r}")
        print(f"  FAIL exception: {e!r}", flush=True)
    finally:
        for x in procs:
            try:
                if isinstance(x, subprocess.Popen):
                    if x.poll() is None:
                        x.kill()
                        x.wait()
                elif hasattr(x, "quit"):
                    x.quit()
                elif hasattr(x, "shutdown"):
                    x.shutdown()
            except Exception:  # noqa: BLE001
                pass
        err = os.path.join(TMP, "serve.err")
        if failures and os.path.exists(err):
            print("--- serve stderr:\n" + open(err).read()[-3000:])
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"console: {checks - len(failures)}/{checks} passed in {time.time() - t0:.1f} s")
    sys.exit(1 if failures else 0)
