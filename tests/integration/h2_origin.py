"""A raw HTTP/2 origin (python3-h2) that misbehaves on purpose, for
test_grpc.py: what a gRPC library would never do to us.

  h2_origin.py --listen 127.0.0.1:PORT --log FILE [--cert C --key K
               --alpn P,...]

By path, once the request (headers and body) is in:
  /reset           RST_STREAM (INTERNAL_ERROR) before any response
  /goaway          GOAWAY (last stream 0) before any response, then close
  /reset-after-head  a response head, then RST_STREAM (CANCEL)
  /trailers        200, body "hello", trailers x-a: 1 and grpc-status: 0
  /hang            nothing (the connection stays open)
  /bye             200 "bye", then GOAWAY and close
  /early           as soon as the request head is in (the body still
                   coming): trailers-only grpc-status 8, RST_STREAM
                   NO_ERROR
  /sized[/N]       content-length: N (1234) and, but for HEAD, N bytes
                   ('s'), in DATA frames of at most 16 KiB
  /no-content      204, ending on its HEADERS
  /not-modified    304 with content-length: 1234, ending on its HEADERS
  /split-no-content, /split-not-modified, /split-sized (for HEAD)
                   the same heads, not ending the stream: an empty DATA
                   frame with END_STREAM does
  /idle-headers    a HEADERS frame on a stream the gateway never opened
                   (a protocol error), then nothing
  anything else    200, body: the request body
One JSON line per request in FILE: path, te, body length, trailers, and
the fields that came as HPACK literals never indexed.
"""
import argparse
import json
import socket
import ssl
import threading

import h2.config
import h2.connection
import h2.events
import hpack
import h2.errors


def serve(sock, log, lock):
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    reqs = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    reqs[ev.stream_id] = {
                        "h": dict(ev.headers), "b": b"",
                        "never": sorted(
                            f[0].decode() for f in ev.headers if isinstance(
                                f, hpack.NeverIndexedHeaderTuple))}
                    if dict(ev.headers).get(b":path") == b"/early":
                        early(conn, ev.stream_id, log, lock)
                        reqs.pop(ev.stream_id)
                elif isinstance(ev, h2.events.DataReceived):
                    if ev.stream_id in reqs:
                        reqs[ev.stream_id]["b"] += ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.TrailersReceived):
                    if ev.stream_id in reqs:
                        reqs[ev.stream_id]["t"] = [
                            [k.decode(), v.decode()] for k, v in ev.headers]
                elif isinstance(ev, h2.events.StreamEnded) and \
                        ev.stream_id in reqs:
                    if answer(conn, sock, ev.stream_id,
                              reqs.pop(ev.stream_id), log, lock):
                        return
            sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


def early(conn, sid, log, lock):
    """A gRPC server refusing an upload as it starts: trailers-only
    RESOURCE_EXHAUSTED, then RST_STREAM(NO_ERROR), as grpc servers do."""
    with lock:
        log.write(json.dumps({"path": "/early", "te": "", "len": 0}) + "\n")
        log.flush()
    conn.send_headers(sid, [(":status", "200"),
                            ("content-type", "application/grpc"),
                            ("grpc-status", "8"),
                            ("grpc-message", "too much")], end_stream=True)
    conn.reset_stream(sid, h2.errors.ErrorCodes.NO_ERROR)


def send_within_windows(conn, sock, sid, body):
    """body in DATA frames as the gateway's windows open (END_STREAM with
    the last), reading its WINDOW_UPDATEs meanwhile."""
    while True:
        n = min(len(body), conn.local_flow_control_window(sid),
                conn.max_outbound_frame_size)
        if n or not body:
            conn.send_data(sid, body[:n], end_stream=n == len(body))
            body = body[n:]
            if not body:
                return
            continue
        sock.sendall(conn.data_to_send())
        data = sock.recv(65536)
        if not data:
            raise OSError("the gateway closed the connection")
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.StreamReset) and \
                    ev.stream_id == sid:
                return


def answer(conn, sock, sid, req, log, lock):
    """True: close the connection."""
    path = req["h"].get(b":path", b"").decode()
    with lock:
        log.write(json.dumps({"path": path,
                              "never_indexed": req["never"],
                              "te": req["h"].get(b"te", b"").decode(),
                              "len": len(req["b"]),
                              "trailers": req.get("t")}) + "\n")
        log.flush()
    head = [(":status", "200"), ("content-type", "application/grpc")]
    if path == "/reset":
        conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
    elif path == "/goaway":
        conn.close_connection(last_stream_id=0)
        sock.sendall(conn.data_to_send())
        return True
    elif path == "/hang":
        pass
    elif path == "/bye":
        conn.send_headers(sid, head)
        conn.send_data(sid, b"bye", end_stream=True)
        conn.close_connection(last_stream_id=sid)
        sock.sendall(conn.data_to_send())
        return True
    elif path == "/reset-after-head":
        conn.send_headers(sid, head)
        sock.sendall(conn.data_to_send())
        conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    elif path == "/big-head":
        # 40 fields of 1 KiB: a 41 KiB header list, past the gateway's
        # default http.max_header_bytes (32 KiB)
        conn.send_headers(sid, head + [(f"x-big-{i}", "v" * 1024)
                                       for i in range(40)],
                          end_stream=True)
    elif path == "/many-trailers":
        conn.send_headers(sid, head)
        conn.send_data(sid, b"hi")
        conn.send_headers(sid, [(f"x-t-{i}", "1") for i in range(70)] +
                          [("grpc-status", "0")], end_stream=True)
    elif path == "/sized" or path.startswith("/sized/"):
        method = req["h"].get(b":method", b"").decode()
        n = int(path[7:]) if path.startswith("/sized/") else 1234
        sized = [(":status", "200"), ("content-type", "text/plain"),
                 ("content-length", str(n))]
        if method == "HEAD":
            conn.send_headers(sid, sized, end_stream=True)
        else:
            conn.send_headers(sid, sized)
            send_within_windows(conn, sock, sid, b"s" * n)
    elif path == "/no-content":
        conn.send_headers(sid, [(":status", "204")], end_stream=True)
    elif path == "/not-modified":
        conn.send_headers(sid, [(":status", "304"), ("etag", '"v1"'),
                                ("content-length", "1234")],
                          end_stream=True)
    elif path.startswith("/split-"):
        heads = {"/split-no-content": [(":status", "204")],
                 "/split-not-modified": [(":status", "304"),
                                         ("etag", '"v1"'),
                                         ("content-length", "1234")],
                 "/split-sized": [(":status", "200"),
                                  ("content-type", "text/plain"),
                                  ("content-length", "1234")]}
        conn.send_headers(sid, heads[path])
        conn.send_data(sid, b"", end_stream=True)
    elif path == "/idle-headers":
        sock.sendall(conn.data_to_send())
        # HEADERS, END_HEADERS, ":status: 200" (HPACK index 8) on the
        # next client stream id, never opened
        sock.sendall(bytes([0, 0, 1, 1, 4]) +
                     (sid + 2).to_bytes(4, "big") + b"\x88")
    elif path == "/trailers":
        conn.send_headers(sid, head)
        conn.send_data(sid, b"hello")
        conn.send_headers(sid, [("x-a", "1"), ("grpc-status", "0")],
                          end_stream=True)
    else:
        conn.send_headers(sid, head)
        conn.send_data(sid, req["b"], end_stream=True)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--alpn", default="h2")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(args.alpn.split(","))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(64)
    log = open(args.log, "a")
    lock = threading.Lock()
    print("h2 origin ready", flush=True)
    while True:
        s, _ = ls.accept()
        if ctx:
            try:
                s = ctx.wrap_socket(s, server_side=True)
            except (OSError, ssl.SSLError):
                s.close()
                continue
        threading.Thread(target=serve, args=(s, log, lock),
                         daemon=True).start()


if __name__ == "__main__":
    main()
