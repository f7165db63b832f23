"""Raw-socket HTTP for the HTTP engine tests.

Sockets are created inside the client network namespace by a thread that
setns()es into it first (a socket keeps the namespace it was created in, so
the test process can use it from any thread afterwards). Everything is
bounded by socket timeouts.

Also a config writer with the knobs these tests need (http section, route
body limits, pools, PROXY protocol listeners) and a small HTTP/1.1 response
reader that follows the framing rules.
"""
import ctypes
import json
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import helpers as h

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sockets_in(ns, n=1, family=socket.AF_INET, src=None):
    """n TCP sockets created in network namespace ns (bound to src)."""
    out, err = [], []

    def run():
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"setns({ns}): {os.strerror(e)}")
            for _ in range(n):
                s = socket.socket(family, socket.SOCK_STREAM)
                if src:
                    s.bind((src, 0))
                out.append(s)
        except Exception as e:          # re-raised in the caller
            err.append(e)
        finally:
            os.close(fd)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if err:
        for s in out:
            s.close()
        raise err[0]
    return out


def uniq(prefix="r"):
    return f"/{prefix}-{uuid.uuid4().hex[:12]}"


class Resp:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.headers, self.body = headers, body

    def header(self, name):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(vals) if vals else None

    def headers_named(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return (f"<Resp {self.status} {self.headers} "
                f"{self.body[:200]!r}{'...' if len(self.body) > 200 else ''}>")


# When set (an ssl.SSLContext, with TLS_NAME the SNI to send), every Conn
# speaks TLS over its socket: how the HTTP engine tests run over TLS too
# (a fixture parametrised with "tls" sets it for its module).
TLS = None
TLS_NAME = "api.test"


class Conn:
    """One client connection from the client namespace."""

    def __init__(self, src=h.ALLOWED4, dst=h.SRV4, port=h.GW_PORT,
                 timeout=5.0, connect=True, tls=None):
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        self.s = sockets_in(h.CLI_NS, 1, fam, src)[0]
        self.s.settimeout(timeout)
        self.buf = b""
        self.dst = (dst, port)
        self.tls = tls if tls is not None else TLS
        if connect:
            self.connect()

    def connect(self):
        self.s.connect(self.dst)
        if self.tls:
            self.s = self.tls.wrap_socket(self.s, server_hostname=TLS_NAME)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)
        return self

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed by the gateway")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("latin-1")

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def read_head(self):
        line = self._line()
        m = re.match(r"^HTTP/1\.([01]) (\d{3}) ?(.*)$", line)
        assert m, f"bad status line {line!r}"
        headers = []
        while True:
            l = self._line()
            if l == "":
                break
            k, _, v = l.partition(":")
            headers.append((k, v.strip()))
        return Resp("1." + m.group(1), int(m.group(2)), m.group(3), headers,
                    b"")

    def response(self, head_method=False):
        """Read one final response (interim 1xx are skipped)."""
        while True:
            r = self.read_head()
            if r.status >= 200 or r.status == 101:
                break
        if head_method or r.status in (101, 204, 304):
            return r
        te = (r.header("transfer-encoding") or "").lower()
        cl = r.header("content-length")
        if te:
            assert te == "chunked", r
            body = b""
            while True:
                size = int(self._line().split(";")[0], 16)
                if size == 0:
                    while self._line() != "":
                        pass
                    break
                body += self._take(size)
                assert self._take(2) == b"\r\n"
            r.body = body
        elif cl is not None:
            r.body = self._take(int(cl))
        else:
            r.body = self.read_until_close()
        return r

    def read_until_close(self, limit=1 << 31):
        data, self.buf = self.buf, b""
        while len(data) < limit:
            try:
                d = self.s.recv(1 << 20)
            except ConnectionResetError:
                break
            if not d:
                break
            data += d
        return data

    def closed(self, timeout=3.0):
        """True when the gateway closes the connection (EOF or reset)
        within timeout with no further bytes."""
        self.s.settimeout(timeout)
        try:
            d = self.buf or self.s.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        except OSError as e:
            if type(e).__module__ == "ssl" or "SSL" in type(e).__name__:
                return True     # an alert, or EOF in the middle of a record
            raise
        return d == b""

    def close(self):
        self.s.close()


def request(method, path, headers=None, body=b"", host="gw.test",
            version="1.1"):
    hs = [("Host", host)] if host is not None else []
    hs += list(headers or [])
    if body and not any(k.lower() in ("content-length", "transfer-encoding")
                        for k, _ in hs):
        hs.append(("Content-Length", str(len(body))))
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
    return head.encode() + (body if isinstance(body, bytes) else body.encode())


def close_server(ls, thread, held=()):
    """Stop a test server whose thread blocks in ls.accept(), or in a
    receive on one of the held connections (which it never closes itself).

    Never close() a descriptor another thread is blocked on: the blocked
    accept4() keeps the old socket, but the kernel restarts it with the
    descriptor's number after a signal (a SIGCHLD from a subprocess this
    process starts), and by then the number may be another listener's,
    which the stale thread then takes connections from. shutdown() ends
    the call at once (accept: EINVAL, not restarted); the thread is gone
    before the numbers are freed."""
    socks = [ls, *held]
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    thread.join(5)
    assert not thread.is_alive(), "the server's thread did not stop"
    for s in socks:
        s.close()


def fnv1a(data):
    """FNV-1a 64 of data, as the test backend logs a body (body_fnv1a)."""
    x = 0xCBF29CE484222325
    for b in data:
        x = ((x ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{x:016x}"


def request_heads(s):
    """Request heads (the bytes before the blank line) read in turn from
    server-side socket s, until the peer closes; bodies are not read."""
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return
            buf += d
        head, _, buf = buf.partition(b"\r\n\r\n")
        yield head


def metric(admin, name):
    """The value of an unlabelled series in /metrics of the admin listener
    at admin (host:port in the server namespace)."""
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{admin}/metrics"], timeout=10)
    for line in r.stdout.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def backend_entries(backend, marker):
    """Backend log entries whose target contains marker, in arrival order."""
    return [e for e in h.backend_log(backend) if marker in e["target"]]


def write_cfg(workdir, name, *, http=None, routes=None, services=None,
              listeners=None, workers=1, xdp=False, allow=None, top=None,
              access_log=None):
    """A config for these tests. routes: list of dicts (name, path_prefix,
    service, extra keys); services: list of dicts (name, targets, extra);
    listeners: list of dicts (address, extra keys); http: dict; top: other
    top-level keys (trusted_proxies, ...)."""
    workdir = Path(workdir)
    listeners = listeners or [{"address": f"{h.SRV4}:{h.GW_PORT}"},
                              {"address": f"[{h.SRV6}]:{h.GW_PORT}"}]
    services = services or [{"name": "echo",
                             "targets": [f"{h.SRV4}:{h.B1_PORT}"],
                             "connect_timeout_ms": 1000}]
    routes = routes or [{"name": "all", "path_prefix": "/",
                         "service": "echo"}]
    y = ["listeners:"]
    for i, l in enumerate(listeners):
        y.append(f"  - name: l{i}")
        for k, v in l.items():
            y.append(f"    {k}: {_yv(v)}")
    if xdp:
        al = workdir / f"{name}-allowlist.txt"
        al.write_text("".join(a + "\n" for a in (
            allow or [f"{h.ALLOWED4}/32", f"{h.ALLOWED6}/128"])))
        y += ["xdp:", "  enabled: true", f"  interfaces: [{h.VETH_SRV}]",
              "  mode: native", f"  pin_path: {h.PIN_ROOT}",
              "  allowlist:", "    enabled: true", f"    files: [{al.name}]"]
    else:
        y += ["xdp:", "  enabled: false"]
    y.append("services:")
    for s in services:
        y.append(f"  - name: {s['name']}")
        for k, v in s.items():
            if k != "name":
                y.append(f"    {k}: {_yv(v)}")
    y.append("routes:")
    for r in routes:
        y.append(f"  - name: {r['name']}")
        for k, v in r.items():
            if k != "name":
                y.append(f"    {k}: {_yv(v)}")
    if http:
        y.append("http:")
        for k, v in http.items():
            y.append(f"  {k}: {_yv(v)}")
    for k, v in (top or {}).items():
        y.append(f"{k}: {_yv(v)}")
    if workers is not None:
        y.append(f"workers: {workers}")
    y += ["logging:", "  level: info"]
    if access_log:
        y += ["  access_log:", f"    path: {access_log}", "    format: json"]
    p = workdir / f"{name}.yaml"
    p.write_text("\n".join(y) + "\n")
    return p


def _yv(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_yv(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yv(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def start(workdir, name, **kw):
    s = h.Sluiced(write_cfg(workdir, name, **kw), workdir, tag=name)
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    return s


def rss_kib(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def sluiced_pid(s):
    """PID of the sluiced process itself (nsenter execs it: same PID)."""
    return s.pid


def wait_until(pred, timeout, what):
    return h.wait_for(pred, timeout, 0.05, what)


def cpu_seconds(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def now():
    return time.monotonic()
