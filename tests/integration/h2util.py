"""An HTTP/2 client for the HTTP/2 tests: python3-h2 (Debian) over a socket
made in the client namespace (raw.sockets_in), plus raw frames for what
the h2 library refuses to send (broken framing, invalid fields).
Everything is bounded by socket timeouts.
"""
import re
import socket
import struct

import h2.config
import h2.connection
import h2.events
import h2.settings

import helpers as h
import raw

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types and error codes (RFC 9113)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, \
    GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, \
    SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, \
    CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, ENHANCE_YOUR_CALM = range(12)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20


def frame(ftype, flags, sid, payload=b""):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags,
                       sid & 0x7fffffff) + payload


def sock(port, dst=h.SRV4, src=h.ALLOWED4, timeout=5):
    s = raw.sockets_in(h.CLI_NS, 1, src=src)[0]
    s.settimeout(timeout)
    s.connect((dst, port))
    return s


class Client:
    """One HTTP/2 connection. The h2 library does the framing for
    well-formed traffic; raw() sends bytes as they are."""

    def __init__(self, port, validate=True, sock_=None, settings=None):
        self.s = sock_ or sock(port)
        cfg = h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8",
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=False)
        self.c = h2.connection.H2Connection(config=cfg)
        self.c.initiate_connection()
        if settings:
            self.c.update_settings(settings)
        self.flush()
        self.events = []
        self.goaway = None
        self.closed = False
        self.resets = {}
        self.responses = {}
        self.settings = None

    def flush(self):
        data = self.c.data_to_send()
        if data:
            self.s.sendall(data)

    def raw(self, data):
        self.s.sendall(data)

    def request(self, path="/", method="GET", headers=(), body=None,
                authority="gw.test", end=True):
        sid = self.c.get_next_available_stream_id()
        hs = [(":method", method), (":path", path), (":scheme", "http"),
              (":authority", authority), *headers]
        self.c.send_headers(sid, hs, end_stream=body is None and end)
        self.flush()
        if body is not None:
            self.send_body(sid, body, end)
        return sid

    def send_body(self, sid, body, end=True):
        """body in DATA frames within the flow-control windows."""
        while True:
            n = min(len(body), self.c.local_flow_control_window(sid),
                    self.c.max_outbound_frame_size)
            if n or not body:
                self.c.send_data(sid, body[:n],
                                 end_stream=end and n == len(body))
                self.flush()
                body = body[n:]
                if not body:
                    return
                continue
            seen = len(self.events)
            self.pump(lambda c: len(c.events) > seen, 5)
            if self.closed or sid in self.resets:
                return

    def pump(self, until, timeout=5):
        """Read until until(self) or the connection closes."""
        self.s.settimeout(timeout)
        while not until(self):
            try:
                data = self.s.recv(65536)
            except (ConnectionResetError, socket.timeout) as e:
                if isinstance(e, socket.timeout):
                    raise AssertionError("timed out waiting for HTTP/2 "
                                         "events: %r" % self.events[-5:])
                data = b""
            if not data:
                self.closed = True
                return
            try:
                evs = self.c.receive_data(data)
            except Exception as e:   # the library's own protocol checks
                self.events.append(e)
                self.closed = True
                return
            for e in evs:
                self.events.append(e)
                self._on(e)
            try:
                self.flush()
            except OSError:
                pass

    def _on(self, e):
        if isinstance(e, h2.events.ResponseReceived):
            r = self.responses.setdefault(e.stream_id, {"body": b""})
            r["headers"] = dict(e.headers)
            r["status"] = int(r["headers"][":status"])
        elif isinstance(e, h2.events.DataReceived):
            r = self.responses.setdefault(e.stream_id, {"body": b""})
            r["body"] += e.data
            self.c.acknowledge_received_data(e.flow_controlled_length,
                                             e.stream_id)
        elif isinstance(e, h2.events.StreamEnded):
            self.responses.setdefault(e.stream_id, {"body": b""})["end"] = 1
        elif isinstance(e, h2.events.StreamReset):
            self.resets[e.stream_id] = e.error_code
        elif isinstance(e, h2.events.ConnectionTerminated):
            self.goaway = e.error_code
        elif isinstance(e, h2.events.RemoteSettingsChanged):
            self.settings = {k: v.new_value
                             for k, v in e.changed_settings.items()}

    def response(self, sid, timeout=5):
        self.pump(lambda c: c.responses.get(sid, {}).get("end") or
                  sid in c.resets or c.goaway is not None, timeout)
        if sid in self.resets:
            return ("reset", self.resets[sid])
        r = self.responses.get(sid)
        if r and r.get("end"):
            return r
        return ("goaway", self.goaway)

    def get(self, path="/", **kw):
        return self.response(self.request(path, **kw))

    def wait_goaway(self, timeout=5):
        self.pump(lambda c: c.goaway is not None, timeout)
        return self.goaway

    def wait_closed(self, timeout=5):
        """Read until EOF; True if the peer closed."""
        self.pump(lambda c: False, timeout)
        return self.closed

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def raw_client(port, settings=b""):
    """A socket that sent the preface and a SETTINGS frame (raw use)."""
    s = sock(port)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
    return s


def read_frames(s, until, timeout=5):
    """Frames (type, flags, sid, payload) read from s until until(frames)
    or EOF; returns (frames, eof)."""
    s.settimeout(timeout)
    buf, frames = b"", []
    while not until(frames):
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            d = b""
        except socket.timeout:
            return frames, False
        if not d:
            return frames, True
        buf += d
        while len(buf) >= 9:
            n = (buf[0] << 16) | (buf[1] << 8) | buf[2]
            if len(buf) < 9 + n:
                break
            frames.append((buf[3], buf[4],
                           struct.unpack(">I", buf[5:9])[0] & 0x7fffffff,
                           buf[9:9 + n]))
            buf = buf[9 + n:]
    return frames, False


def goaway_code(frames):
    for t, _, _, p in frames:
        if t == GOAWAY:
            return struct.unpack(">I", p[4:8])[0]
    return None


def rst_code(frames, sid):
    for t, _, s, p in frames:
        if t == RST_STREAM and s == sid:
            return struct.unpack(">I", p[:4])[0]
    return None


def abuse(admin, reason):
    """sluice_h2_abuse_total{reason} from the gateway's admin listener
    (admin: host:port in the server namespace); 0 before the first."""
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{admin}/metrics"], timeout=10)
    m = re.search(r'^sluice_h2_abuse_total\{reason="%s"\} (\S+)$' % reason,
                  r.stdout, re.M)
    return float(m.group(1)) if m else 0.0
