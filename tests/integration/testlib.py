"""Helpers the integration tests share: free ports, a local CA and a server
certificate for 127.0.0.1 made with the openssl CLI, an HTTPS server whose
POST requests go to a handler (http.server + ssl, can be stopped and started
again on the same port), and the Standard Webhooks signature check that
Tocsin's webhook channel must pass."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_certs(tmp, cn="Tocsin test CA"):
    """A CA and a server certificate for 127.0.0.1 / localhost under tmp:
    returns (ca.pem, server.pem, server.key)."""
    ca_key, ca_crt = f"{tmp}/ca.key", f"{tmp}/ca.pem"
    key, csr, crt, ext = f"{tmp}/srv.key", f"{tmp}/srv.csr", f"{tmp}/srv.pem", f"{tmp}/ext.cnf"
    q = dict(check=True, capture_output=True, text=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
                    "-out", ca_crt, "-days", "2", "-subj", f"/CN={cn}"], **q)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=127.0.0.1"], **q)
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext], **q)
    return ca_crt, crt, key


def webhook_signed(secret, headers, body):
    """True when one of the webhook-signature values is the v1 HMAC-SHA256 of
    "id.timestamp.body" under secret ("whsec_" + base64)."""
    wid, ts = headers.get("webhook-id"), headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature", "")
    if not (wid and ts and sigs):
        return False
    k = base64.b64decode(secret[len("whsec_"):])
    want = base64.b64encode(hmac.new(k, f"{wid}.{ts}.".encode() + body,
                                     hashlib.sha256).digest()).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], want) for s in sigs.split(" "))


class HttpsServer:
    """POSTs to handle(request_handler) -> HTTP status (the body is the
    handler's to read); start() and stop() as often as wanted, same port."""

    def __init__(self, cert, key, handle, port=None):
        self.cert, self.key, self.handle = cert, key, handle
        self.port = port or free_port()
        self.srv = None

    def start(self):
        handle = self.handle

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                code = handle(self)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None


# ------------------------------------------------- tocsin run on a broker
# Shared by the fault-injection tests (test_faults.py), the soak
# (tests/soak/soak.py), test_exactly_once.py and test_distributed.py.

def ssh_stream(parts, sources=1200, hour=10):
    """SSH brute-force lines, per partition in event-time order: each source
    address on one partition; some attack in bursts that make several
    episodes (the SSH rule's incidents), some stay below the threshold."""
    per = [[] for _ in range(parts)]
    for i in range(sources):
        ip = f"198.51.{i // 250}.{i % 250 + 1}"
        t = 3600 * hour + (i * 7) % 1800
        n = [3, 8, 40, 120][i % 4]
        for k in range(n):
            t += 4 if (k // 20) % 2 == 0 else 90  # bursts, then pauses > 1 min
            hh, mm, ss = t // 3600 % 24, t // 60 % 60, t % 60
            per[i % parts].append((t, f"<38>Nov 20 {hh:02d}:{mm:02d}:{ss:02d} portal-01 "
                                      f"sshd[{1000 + k}]: Failed password for root from {ip} "
                                      f"port {2000 + k} ssh2"))
    for p in per:
        p.sort(key=lambda x: x[0])
    return [[line for _, line in p] for p in per]


def produce(ktool, boot, topic, parts_lines, create=True):
    """Each list of lines to its partition of topic (created with as many
    partitions first); returns the end offset per partition."""
    if create:
        subprocess.run([ktool, "create", boot, topic, str(len(parts_lines))], check=True,
                       capture_output=True)
    for p, lines in enumerate(parts_lines):
        if lines:
            subprocess.run(["kcat", "-P", "-b", boot, "-t", topic, "-p", str(p)],
                           input="\n".join(lines) + "\n", text=True, check=True)
    return [len(l) for l in parts_lines]


def committed(ktool, boot, group, topic, parts):
    """{partition: committed offset} of group (-1: none); {} when the broker
    does not answer."""
    r = subprocess.run([ktool, "committed", boot, group, topic, str(parts)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return {}
    return {int(p): int(o) for p, o in (l.split() for l in r.stdout.strip().splitlines())}


def wait_committed(ktool, boot, group, topic, ends, timeout=180, proc=None):
    """True once group committed every partition up to ends[p]; False on
    timeout or when proc (a Popen) exits first."""
    end = time.time() + timeout
    while time.time() < end:
        c = committed(ktool, boot, group, topic, len(ends))
        if c and all(c.get(p, -1) >= ends[p] for p in range(len(ends))):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.3)
    return False


def incidents(tocsin, db):
    """{id: (rule, group key, count, first seen, last seen)} of a store."""
    out = subprocess.run([tocsin, "incidents", "--db", db, "list", "--json"],
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        i = json.loads(line)
        res[i["id"]] = (i["rule_id"], i["group_key"], i["count"], i["first_seen"], i["last_seen"])
    return res


def diff_incidents(ref, got):
    """'' when equal, else what differs (missing, extra, changed; examples)."""
    missing, extra = set(ref) - set(got), set(got) - set(ref)
    differ = [i for i in set(ref) & set(got) if ref[i] != got[i]]
    out = []
    if missing:
        out.append(f"{len(missing)} missing, e.g. {[ref[i] for i in sorted(missing)[:2]]}")
    if extra:
        out.append(f"{len(extra)} extra, e.g. {[got[i] for i in sorted(extra)[:2]]}")
    if differ:
        out.append(f"{len(differ)} differ, e.g. {[(ref[i], got[i]) for i in differ[:2]]}")
    return "; ".join(out)


def run_config(path, boot, group, topics, data_dir, rules="etc/rules", extra="",
               fmt="rfc3164", props=None, log_level="info"):
    """A `tocsin run` config: topics (names, format fmt, tenant agency-test)
    of the broker at boot, group, LMDB in data_dir; extra YAML appended;
    props: more kafka.properties (name: value, e.g. TLS and SASL)."""
    tl = "".join(f"  - name: {t}\n    format: {fmt}\n    tenant: agency-test\n" for t in topics)
    pl = "".join(f"    {k}: \"{v}\"\n" for k, v in (props or {}).items())
    with open(path, "w") as f:
        f.write(f"""kafka:
  brokers: "{boot}"
  group_id: {group}
  workers: 2
  batch_size: 50
  properties:
    session.timeout.ms: 6000
    heartbeat.interval.ms: 1000
{pl}topics:
{tl}paths:
  data_dir: {data_dir}
  rules: [{rules}]
log:
  level: {log_level}
{extra}""")
    return path


def start_run(tocsin, cfg, d, n, env=None):
    """`tocsin run -c cfg` (no stats lines), the n-th run in directory d: its
    stderr in d/run<n>.err, its detections in d/out<n>.jsonl; env: its
    environment (None: this process's). The Popen."""
    err = open(os.path.join(d, f"run{n}.err"), "w")
    return subprocess.Popen([tocsin, "run", "-c", cfg, "-d", os.path.join(d, f"out{n}.jsonl"),
                             "--stats-interval", "0"], stderr=err, stdout=subprocess.DEVNULL,
                            env=env)


def proc_rss_kib(pid, field="VmRSS"):
    """VmRSS (or RssAnon: heap and stacks, without mapped files such as
    LMDB's) of a process in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_fds(pid):
    """Number of open file descriptors of a process (0 when it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Run:
    """`tocsin run -c cfg` in the background (cwd: the repo), its stderr in
    log; args after the config; env: the process's environment."""

    def __init__(self, tocsin, cfg, log, args=(), env=None, cwd=None, stats=2):
        self.log = log
        self.err = open(log, "w")
        self.p = subprocess.Popen([tocsin, "run", "-c", cfg, "--stats-interval", str(stats),
                                   *args], stderr=self.err, stdout=subprocess.DEVNULL, cwd=cwd,
                                  env=env or os.environ)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, needle, timeout):
        """True once needle is in the log (False: timeout, or it exited without)."""
        end = time.time() + timeout
        while time.time() < end:
            if needle in self.text():
                return True
            if self.p.poll() is not None:
                return needle in self.text()
            time.sleep(0.2)
        return False

    def stop(self):
        """SIGTERM, wait (SIGKILL after 60 s); the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.err.close()
        return rc


class Webhook:
    """An HTTPS Standard Webhooks receiver on 127.0.0.1 (a CA made in tmp:
    .ca for the channel's ca_file): every accepted request's signature
    checked, counted per Idempotency-Key in .accepted. While .hang is set it
    reads a request and never answers (until .release); up()/down() start
    and stop it on the same port (a webhook that flaps)."""

    def __init__(self, secret, tmp):
        self.secret = secret
        self.ca, crt, key = make_certs(tmp, "webhook test CA")
        self.hang = threading.Event()
        self.release = threading.Event()
        self.mu = threading.Lock()
        self.hung, self.accepted, self.bad = 0, {}, 0
        self.srv = HttpsServer(crt, key, self.handle)
        self.srv.start()
        self.is_up = True

    def handle(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        if self.hang.is_set():
            with self.mu:
                self.hung += 1
            self.release.wait(120)  # the client gave up long ago: its answer is lost
            return 503
        ok = webhook_signed(self.secret, h.headers, body)
        with self.mu:
            if not ok:
                self.bad += 1
                return 401
            k = h.headers.get("Idempotency-Key")
            self.accepted[k] = self.accepted.get(k, 0) + 1
        return 200

    def up(self):
        if not self.is_up:
            self.srv.start()
            self.is_up = True

    def down(self):
        if self.is_up:
            self.srv.stop()
            self.is_up = False

    def channels_yml(self, path, url_path="/intake", secret_env="TOCSIN_TEST_SECRET",
                     dispatch="threads: 2, lease: 10s, backoff_base: 500ms, backoff_cap: 2s, "
                              "poll: 100ms, max_attempts: 1000"):
        """A channels file with the one channel "webhook:mb" to this receiver."""
        with open(path, "w") as f:
            f.write(f"""dispatch: {{{dispatch}}}
channels:
  "webhook:mb":
    type: webhook
    url: https://127.0.0.1:{self.srv.port}{url_path}
    secret_env: {secret_env}
    ca_file: {self.ca}
    timeout: 2s
    connect_timeout: 2s
""")
        return path


def escalation_dir(root, tmp):
    """A regimes dir (law116-2025) whose policy escalates every incident to
    the managing body, every recipient through channel "webhook:mb"."""
    esc = os.path.join(tmp, "escalation")
    os.makedirs(esc, exist_ok=True)
    for n in ("law116-2025.yml", "taxonomy.yml"):
        shutil.copy(os.path.join(root, "etc/escalation", n), esc)
    with open(os.path.join(esc, "policy.yml"), "w") as f:
        f.write("regime: law116-2025\nrules:\n  - name: every-incident\n    match: {}\n"
                "    escalate: {to: [managing_body], reports: [initial-notice]}\n"
                "channels: {managing_body: webhook:mb, response_unit: webhook:mb, "
                "national: webhook:mb}\n")
    return esc


def outbox(tocsin, db, cwd=None):
    """The entries of `tocsin escalations list --json` of a store."""
    out = subprocess.run([tocsin, "escalations", "--db", db, "list", "--json"],
                         capture_output=True, text=True, cwd=cwd).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]
