"""HTTP/2 output coalescing (docs/HTTP2.md, "Output coalescing").

While at least 8 of a client connection's streams wait on their upstreams,
output that is less than a full TLS record is held back for up to
`http.h2_coalesce_us` (200 µs by default), so that the responses that come
together go out together. Each hold counts in `sluice_h2_output_held_total`.

The origin here is the test's own: it answers `/gated/fast/...` at once and
holds every `/gated/slow/...` response until the test lets it go, so the
number of streams waiting at the moment a response comes is known exactly.

`test_a_held_response_goes_out_while_the_others_still_wait` fails when
output is never held (the counter does not move) and when nothing but
other responses release it (the fast response does not come while the
slow ones are held); `test_few_waiting_streams_are_not_held` and
`test_coalescing_off_sends_at_once` fail when output is held regardless.
"""
import signal
import socket
import threading
import uuid

import pytest

import helpers as h
import h2util as u
import raw

PORT = h.GW_PORT + 99
ADMIN = "127.0.0.1:9996"
GATED_PORT = 9087
HELD = "sluice_h2_output_held_total"


def config(workdir, name, coalesce_us=None):
    extra = "" if coalesce_us is None else f"  h2_coalesce_us: {coalesce_us}\n"
    text = f"""\
listeners:
  - name: h2
    address: "{h.SRV4}:{PORT}"
    h2c: true
admin:
  address: {ADMIN}
  socket: {h.admin_socket_path(workdir, name)}
xdp:
  enabled: false
services:
  - name: gated
    targets: ["{h.ALLOWED4}:{GATED_PORT}"]
    connect_timeout_ms: 1000
routes:
  - name: gated
    path_prefix: /gated/
    service: gated
http:
  response_timeout_ms: 30000
{extra}workers: 1
logging:
  level: info
"""
    p = workdir / f"{name}.yaml"
    p.write_text(text)
    return p


class Gated:
    """An HTTP/1.1 keep-alive origin in the client namespace: /gated/fast/
    paths are answered at once, /gated/slow/<marker>/ ones when
    release(marker) is called; every response's body is its path."""

    def __init__(self):
        self.ls = raw.sockets_in(h.CLI_NS, 1, socket.AF_INET)[0]
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((h.ALLOWED4, GATED_PORT))
        self.ls.listen(256)
        self.gates = {}
        self.seen = []
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.ls.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        try:
            for head in raw.request_heads(conn):
                path = head.split(b" ")[1].decode()
                self.seen.append(path)
                if path.startswith("/gated/slow/"):
                    self.gate(path.split("/")[3]).wait(30)
                body = path.encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body)
        except OSError:
            pass
        finally:
            conn.close()

    def waiting(self, marker):
        return sum(1 for p in self.seen
                   if p.startswith("/gated/slow/") and marker in p)

    def gate(self, marker):
        return self.gates.setdefault(marker, threading.Event())

    def release(self, marker):
        self.gate(marker).set()

    def close(self):
        for g in list(self.gates.values()):
            g.set()
        self.ls.shutdown(socket.SHUT_RDWR)    # ends the blocked accept()
        self.ls.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture(scope="module")
def gw(backends, workdir):
    s = h.Sluiced(config(workdir, "gw-h2co"), workdir, tag="gw-h2co")
    s.start()
    s.workdir = workdir
    yield s
    s.shutdown()


@pytest.fixture(scope="module")
def origin():
    g = Gated()
    yield g
    g.close()


def fast_while_slow_wait(origin, n_slow):
    """n_slow streams whose responses the origin holds, then one it answers
    at once: the fast response's status and body, read while the slow ones
    are still held, and the number of holds it cost. Then the slow ones
    are let go and must all come, each with its own body."""
    m = uuid.uuid4().hex[:12]
    held0 = raw.metric(ADMIN, HELD)
    c = u.Client(PORT)
    try:
        slow = {c.request(f"/gated/slow/{m}/{i}"): f"/gated/slow/{m}/{i}"
                for i in range(n_slow)}
        h.wait_for(lambda: origin.waiting(m) == n_slow, 10,
                   what=f"{n_slow} requests at the origin")
        fid = c.request(f"/gated/fast/{m}")
        r = c.response(fid, timeout=10)
        assert isinstance(r, dict) and r["status"] == 200, r
        assert r["body"] == f"/gated/fast/{m}".encode()
        early = [sid for sid in slow if c.responses.get(sid)]
        assert not early, f"slow responses came before their release: {early}"
        holds = raw.metric(ADMIN, HELD) - held0
        origin.release(m)
        for sid, path in slow.items():
            r = c.response(sid, timeout=10)
            assert isinstance(r, dict) and r["status"] == 200, (path, r)
            assert r["body"] == path.encode(), (path, r["body"])
        return holds
    finally:
        c.close()


def test_a_held_response_goes_out_while_the_others_still_wait(gw, origin):
    """Eleven streams wait on the origin when the twelfth's response
    comes: it is held (the counter moves), and then sent by the timeout
    alone, since no other response comes until the test lets them go."""
    assert fast_while_slow_wait(origin, 11) >= 1


def test_few_waiting_streams_are_not_held(gw, origin):
    """Three waiting streams are too few to wait for: the response goes
    out at once, never held."""
    assert fast_while_slow_wait(origin, 3) == 0


def test_coalescing_off_sends_at_once(gw, origin):
    """h2_coalesce_us: 0 (applied by a reload, taken by connections opened
    after it): with eleven streams waiting, output is never held."""
    config(gw.workdir, "gw-h2co", coalesce_us=0)
    gw.p.send_signal(signal.SIGHUP)
    gw.wait_output("configuration applied (generation 2)", 10)
    assert fast_while_slow_wait(origin, 11) == 0
