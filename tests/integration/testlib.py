"""Helpers the integration tests share: free ports, a local CA and a server
certificate for 127.0.0.1 made with the openssl CLI, an HTTPS server whose
POST requests go to a handler (http.server + ssl, can be stopped and started
again on the same port), and the Standard Webhooks signature check that
Tocsin's webhook channel must pass."""
import base64
import hashlib
import hmac
import http.server
import socket
import ssl
import subprocess
import threading


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
