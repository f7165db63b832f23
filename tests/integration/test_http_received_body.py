"""Nothing half-forwarded: request bodies checked as far as they arrived
before anything goes upstream, and Content-Length capped at 2^63 - 1.

A request whose body is invalid within the bytes that came with its head
(one write) is answered 400 (413 over the route limit) and the backend gets
nothing at all: no connection, no head. The origin here records every byte
each upstream connection brings, so that is what the tests check, not only
the status code. Only bytes that arrive after the head went upstream can
still end an exchange in the middle (the upstream connection is aborted).
"""
import socket
import threading

import pytest

import helpers as h
import raw
import tls_util

PORT = h.GW_PORT + 11
ORIGIN_PORT = 9021


def _complete(buf):
    """(head, length) of the first complete request in buf, else None.
    Bodies: Content-Length, or chunked as the gateway re-frames them
    (data chunks, then 0 CRLF CRLF without trailers)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end]
    body = end + 4
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        fields[k.strip().lower()] = v.strip()
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        i = body
        while True:
            eol = buf.find(b"\r\n", i)
            if eol < 0:
                return None
            size = int(buf[i:eol], 16)
            if size == 0:
                return (head, eol + 4) if len(buf) >= eol + 4 else None
            i = eol + 2 + size + 2
            if i > len(buf):
                return None
    n = int(fields.get(b"content-length", b"0"))
    return (head, body + n) if len(buf) >= body + n else None


class Origin:
    """Records, per upstream connection, every byte received and whether
    the gateway closed it. Answers each complete request: 200 with the
    target as body; GET /respcl/N: a head with Content-Length N, no body."""

    def __init__(self):
        self.ls = raw.sockets_in(h.SRV_NS, 1)[0]
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((h.SRV4, ORIGIN_PORT))
        self.ls.listen(64)
        self.conns = []
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            rec = {"data": bytearray(), "eof": False}
            self.conns.append(rec)
            threading.Thread(target=self._serve, args=(s, rec),
                             daemon=True).start()

    def _serve(self, s, rec):
        s.settimeout(30)
        pending = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                rec["data"] += d
                pending += d
                while (m := _complete(pending)) is not None:
                    head, n = m
                    pending = pending[n:]
                    target = head.split(b" ")[1]
                    if target.startswith(b"/respcl/"):
                        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " +
                                  target[8:] + b"\r\n\r\n")
                        continue
                    body = b"ok " + target
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                              b"\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            rec["eof"] = True
            s.close()

    def close(self):
        raw.close_server(self.ls, self.t)


@pytest.fixture(scope="module")
def origin(topo):
    o = Origin()
    yield o
    o.close()


@pytest.fixture(scope="module", params=["tcp", "tls"])
def gw(origin, workdir, request):
    """Over plain TCP and over TLS (the same cases, decrypted first)."""
    with tls_util.over(request.param, workdir, PORT) as listeners:
        s = raw.start(workdir, f"gw-received-body-{request.param}",
                      listeners=(listeners or
                                 [{"address": f"{h.SRV4}:{PORT}"}])[:1],
                      services=[{"name": "rec",
                                 "targets": [f"{h.SRV4}:{ORIGIN_PORT}"],
                                 "max_idle": 0}],
                      routes=[{"name": "small", "path_prefix": "/small/",
                               "service": "rec", "max_body_bytes": 100},
                              {"name": "all", "path_prefix": "/",
                               "service": "rec"}])
        yield s
        s.shutdown()


def conn():
    return raw.Conn(port=PORT)


def settle(origin, n0):
    """The upstream connections made since origin.conns[n0], each with all
    it will ever receive. One good request goes through first: its upstream
    connection is accepted after any a case opened (no connection is
    reused: max_idle 0), and every one is then closed by the gateway."""
    sync = raw.uniq("sync")
    c = conn()
    c.send(raw.request("GET", sync))
    r = c.response()
    c.close()
    assert r.status == 200 and r.body == b"ok " + sync.encode(), (
        r, r.body, "the sync request reached this origin:",
        any(sync.encode() in x["data"] for x in origin.conns[n0:]))
    h.wait_for(lambda: all(x["eof"] for x in origin.conns[n0:]), 10,
               what="the gateway to close its upstream connections")
    got = [bytes(x["data"]) for x in origin.conns[n0:]]
    assert sum(sync.encode() in d for d in got) == 1, got
    return [d for d in got if sync.encode() not in d]


def assert_refused(r, c, status, code):
    assert r.status == status, r
    assert (r.header("content-type") or "").startswith("application/json")
    body = r.json()
    assert body["error"] == code and body["status"] == status, body
    assert (r.header("connection") or "").lower() == "close", r
    assert c.closed(), "connection still open after a refused request"


CHUNKED = ("POST {p} HTTP/1.1\r\nHost: a\r\n"
           "Transfer-Encoding: chunked\r\n\r\n")

# (id, path prefix, chunked body sent in the same write as the head, status)
BAD_BODIES = [
    ("size-negative", "", "-5\r\nhello\r\n0\r\n\r\n", 400),
    ("size-0x", "", "0x5\r\nhello\r\n0\r\n\r\n", 400),
    ("size-2^64", "", "10000000000000000\r\nhello\r\n0\r\n\r\n", 400),
    ("size-64bit-wrap", "", "10000000000000005\r\nhello\r\n0\r\n\r\n", 400),
    ("size-20-f", "", "ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400),
    ("size-16-digits", "", "1000000000000000\r\nhello\r\n0\r\n\r\n", 400),
    ("size-non-hex", "", "g\r\nhello\r\n0\r\n\r\n", 400),
    ("size-hex-then-junk", "", "5z\r\nhello\r\n0\r\n\r\n", 400),
    ("size-empty", "", "\r\nhello\r\n0\r\n\r\n", 400),
    ("size-leading-space", "", " 5\r\nhello\r\n0\r\n\r\n", 400),
    ("size-trailing-space", "", "5 \r\nhello\r\n0\r\n\r\n", 400),
    ("size-tab", "", "5\t\r\nhello\r\n0\r\n\r\n", 400),
    ("size-bare-lf", "", "5\nhello\r\n0\r\n\r\n", 400),
    ("size-bare-cr", "", "5\rhello\r\n0\r\n\r\n", 400),
    ("chunk-overrun", "", "3\r\nhello\r\n0\r\n\r\n", 400),
    ("data-no-crlf", "", "5\r\nhello0\r\n\r\n", 400),
    ("data-bare-lf", "", "5\r\nhello\n0\r\n\r\n", 400),
    ("data-bare-cr", "", "5\r\nhello\r0\r\n\r\n", 400),
    ("ext-bare-cr", "", "5;a\rb\r\nhello\r\n0\r\n\r\n", 400),
    ("ext-bare-cr-in-value", "", "5;a=b\rc\r\nhello\r\n0\r\n\r\n", 400),
    ("ext-bare-cr-quoted", "", "5;a=\"b\rc\"\r\nhello\r\n0\r\n\r\n", 400),
    ("ext-bare-lf", "", "5;a\nhello\r\n0\r\n\r\n", 400),
    ("last-chunk-bare-lf", "", "5\r\nhello\r\n0\n\r\n", 400),
    ("final-bare-lf", "", "5\r\nhello\r\n0\r\n\n", 400),
    ("trailer-bare-lf", "", "5\r\nhello\r\n0\r\nX: a\n\r\n", 400),
    ("trailer-obs-fold", "", "5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n", 400),
    # the error further on, in a later chunk of the same write
    ("later-chunk-size", "", "5\r\nhello\r\n3\r\nabc\r\n-1\r\nx\r\n0\r\n\r\n",
     400),
    ("later-chunk-overrun", "", "5\r\nhello\r\n2\r\nabc\r\n0\r\n\r\n", 400),
    ("later-chunk-after-many", "", "1\r\nd\r\n" * 200 +
     "0x1\r\nx\r\n0\r\n\r\n", 400),
    # over the route's limit within what came: 413, nothing forwarded
    ("over-route-limit", "/small", "40\r\n" + "q" * 64 + "\r\n40\r\n" +
     "q" * 64 + "\r\n0\r\n\r\n", 413),
    ("over-route-limit-unfinished", "/small", "40\r\n" + "q" * 64 +
     "\r\n40\r\n" + "q" * 64, 413),
]


@pytest.mark.parametrize("prefix,body,status", [c[1:] for c in BAD_BODIES],
                         ids=[c[0] for c in BAD_BODIES])
def test_bad_body_in_first_write_reaches_nothing(gw, origin, prefix, body,
                                                 status):
    """The whole request in one write: refused, and the backend received
    nothing (no connection was even made)."""
    p = prefix + raw.uniq("bad")
    n0 = len(origin.conns)
    c = conn()
    c.send((CHUNKED.format(p=p) + body).encode("latin-1"))
    r = c.response()
    assert_refused(r, c, status,
                   "bad_request" if status == 400 else "payload_too_large")
    c.close()
    assert settle(origin, n0) == [], "the backend received part of it"


# Content-Length at and past 2^63 - 1 (the same rule holds for responses)
CL_CASES = [
    ("cl-2^63", "/", "9223372036854775808", 400),
    ("cl-19-nines", "/", "9999999999999999999", 400),
    ("cl-2^64", "/", "18446744073709551616", 400),
    ("cl-2^64+5", "/", "18446744073709551621", 400),
    # the largest accepted: a number, over this route's limit
    ("cl-2^63-1", "/small/", "9223372036854775807", 413),
]


@pytest.mark.parametrize("prefix,value,status", [c[1:] for c in CL_CASES],
                         ids=[c[0] for c in CL_CASES])
def test_content_length_cap(gw, origin, prefix, value, status):
    p = prefix + raw.uniq("cl")[1:]
    n0 = len(origin.conns)
    c = conn()
    c.send(f"POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n"
           "\r\nhello".encode())
    r = c.response()
    assert_refused(r, c, status,
                   "bad_request" if status == 400 else "payload_too_large")
    if status == 400:
        assert r.json()["message"] == "invalid content-length", r
    c.close()
    assert settle(origin, n0) == []


def test_response_content_length_cap(gw, origin):
    """A backend's Content-Length past 2^63 - 1 is a 502, never relayed."""
    c = conn()
    c.send(raw.request("GET", "/respcl/9223372036854775808"))
    r = c.response()
    assert r.status == 502 and r.json()["error"] == "bad_gateway", r
    c.close()


def test_bad_bytes_arriving_later_abort_upstream(gw, origin):
    """Bytes that come after the head went upstream can only end the
    exchange mid-stream: the client gets 400, the upstream connection is
    closed after the valid chunk, never given the last chunk."""
    p = raw.uniq("later")
    n0 = len(origin.conns)
    c = conn()
    c.send(CHUNKED.format(p=p) + "5\r\nhello\r\n")
    rec = h.wait_for(
        lambda: next((x for x in origin.conns[n0:]
                      if p.encode() in x["data"] and
                      x["data"].endswith(b"\r\n\r\n5\r\nhello\r\n")), None),
        10, what="the head and first chunk at the backend")
    c.send("-1\r\n\r\n")
    r = c.response()
    assert_refused(r, c, 400, "bad_request")
    c.close()
    h.wait_for(lambda: rec["eof"], 10, what="the upstream connection closed")
    assert bytes(rec["data"]).endswith(b"\r\n\r\n5\r\nhello\r\n"), rec
    assert settle(origin, n0) == [bytes(rec["data"])]


def test_valid_body_then_pipelined_requests(gw, origin):
    """Checking the bytes that came stops at the body's end: what follows
    is the next request, answered (or refused) in its turn."""
    a, b, d = raw.uniq("pa"), raw.uniq("pb"), raw.uniq("pd")
    n0 = len(origin.conns)
    c = conn()
    c.send(CHUNKED.format(p=a) + "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" +
           raw.request("POST", b, body=b"12345").decode() +
           CHUNKED.format(p=d) + "5\r\nhello\r\n-1\r\n\r\n")
    r1, r2, r3 = c.response(), c.response(), c.response()
    assert r1.status == 200 and r1.body == b"ok " + a.encode(), r1
    assert r2.status == 200 and r2.body == b"ok " + b.encode(), r2
    assert_refused(r3, c, 400, "bad_request")
    c.close()
    got = settle(origin, n0)
    joined = b"".join(got)
    assert a.encode() in joined and b.encode() in joined
    assert d.encode() not in joined, got
    one = [x for x in got if a.encode() in x]
    assert len(one) == 1 and one[0].endswith(b"5\r\nhello\r\n0\r\n\r\n"), got


def test_valid_body_then_bad_pipelined_head(gw, origin):
    a, d = raw.uniq("pv"), raw.uniq("pbad")
    n0 = len(origin.conns)
    c = conn()
    c.send(CHUNKED.format(p=a) + "3\r\nabc\r\n0\r\n\r\n" +
           f"GET {d} HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n")
    r1 = c.response()
    assert r1.status == 200 and r1.body == b"ok " + a.encode(), r1
    assert_refused(c.response(), c, 400, "bad_request")
    c.close()
    got = settle(origin, n0)
    assert len(got) == 1 and a.encode() in got[0], got
    assert d.encode() not in got[0]
