"""An HTTPS origin for the upstream TLS tests (run as a script in the
server namespace): HTTP/1.1 with keep-alive over Python's ssl, one JSON
line per event in --log:

  {"ev": "handshake", "conn": N, "reused": bool, "version": ..., "sni": ...,
   "peer_cn": CN or null}
  {"ev": "handshake_failed", "error": ...}
  {"ev": "request", "conn": N, "method", "target", "version", "headers":
   [[name, value], ...], "body_sha256", "body_len"}

GET /healthz answers 503 while the file --down exists, else 200; every
other request answers 200 with a JSON body naming the connection and what
was received (/sleep/MS... after MS milliseconds). --client-ca makes a client certificate required.
"""
import argparse
import hashlib
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNT = [0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca")
    ap.add_argument("--log", required=True)
    ap.add_argument("--down")
    ap.add_argument("--tls12", action="store_true",
                    help="at most TLS 1.2")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if a.client_ca:
        ctx.load_verify_locations(a.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    sni = {}

    def on_sni(sock, name, _ctx):
        sni[id(sock)] = name

    ctx.sni_callback = on_sni
    logf = open(a.log, "a", buffering=1)

    def log(**kw):
        with LOCK:
            logf.write(json.dumps(kw) + "\n")

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            try:
                self.request = ctx.wrap_socket(self.request,
                                               server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(ev="handshake_failed", error=str(e))
                self.failed = True
                return
            self.failed = False
            with LOCK:
                COUNT[0] += 1
                self.conn_id = COUNT[0]
            peer = self.request.getpeercert()
            cn = None
            if peer:
                for rdn in peer.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
            log(ev="handshake", conn=self.conn_id,
                reused=self.request.session_reused,
                version=self.request.version(),
                sni=sni.pop(id(self.request), None), peer_cn=cn)
            super().setup()

        def handle(self):
            if not self.failed:
                super().handle()

        def finish(self):
            if not self.failed:
                super().finish()

        def log_message(self, *args):
            pass

        def _serve(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            log(ev="request", conn=self.conn_id, method=self.command,
                target=self.path, version=self.request_version,
                headers=[[k, v] for k, v in self.headers.items()],
                body_sha256=hashlib.sha256(body).hexdigest(),
                body_len=len(body))
            if self.path.startswith("/sleep/"):    # /sleep/MS: answer late
                time.sleep(int(self.path.split("/")[2].split("?")[0]) / 1000)
            if self.path == "/healthz" and a.down and \
                    os.path.exists(a.down):
                out, code = b'{"down":true}', 503
            else:
                out = json.dumps({"conn": self.conn_id, "path": self.path,
                                  "body_sha256":
                                  hashlib.sha256(body).hexdigest()}).encode()
                code = 200
            if self.path.startswith("/big"):
                out = bytes((i * 7) & 0xff for i in range(300000))
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_HEAD = _serve

    host, port = a.listen.rsplit(":", 1)
    ThreadingHTTPServer.address_family = (socket.AF_INET6 if ":" in host
                                          else socket.AF_INET)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((host.strip("[]"), int(port)), H)
    print("origin ready", flush=True)
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
