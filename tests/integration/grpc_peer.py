"""A gRPC origin and a gRPC client for test_grpc.py, on grpcio (Debian
python3-grpcio) with generic handlers: messages are raw bytes, no protoc.

  grpc_peer.py server --listen 127.0.0.1:PORT --log FILE [--cert C --key K]
      service test.Echo: Unary (echoes the request; trailing metadata
      x-trailer-text and x-trailer-bin = sha256 of the request), Fail
      (NOT_FOUND with details), Stream (N messages for the request "N"),
      Size (a response of N bytes for the request "N"), Collect (client
      streaming: sha256 of the messages and their count), Echo (both
      ways: each message reversed). One JSON line per
      call in FILE: method, request length and hash, authorization seen.
  grpc_peer.py client --target HOST:PORT [--ca CA --name NAME]
                      [--authority HOST] CALLS_JSON
      runs the calls ({"method", "data_hex" or "random" (a size) and
      "seed" (random.Random(seed).randbytes), "kind": unary|stream, or
      collect|echo with "parts", "size", "seed", or many with "count"
      and "window" (calls in flight at once),
      "metadata": [[k, v]], "timeout"}) in order on one channel and
      prints one JSON list: code, details, response length and hash,
      message count, trailing metadata.
"""
import argparse
import hashlib
import json
import random
import sys
import threading
import time
from concurrent import futures

import grpc


def server(args):
    lock = threading.Lock()
    log = open(args.log, "a")

    def note(method, req, ctx):
        md = dict(ctx.invocation_metadata())
        with lock:
            log.write(json.dumps({
                "method": method, "len": len(req),
                "sha": hashlib.sha256(req).hexdigest(),
                "auth": "authorization" in md,
                "peer": ctx.peer(),
                "te": md.get("te")}) + "\n")
            log.flush()

    def unary(req, ctx):
        note("Unary", req, ctx)
        ctx.set_trailing_metadata((
            ("x-trailer-text", f"len-{len(req)}"),
            ("x-trailer-bin", hashlib.sha256(req).digest())))
        return req

    def fail(req, ctx):
        note("Fail", req, ctx)
        ctx.abort(grpc.StatusCode.NOT_FOUND,
                  "no such item: " + req.decode(errors="replace"))

    def stream(req, ctx):
        note("Stream", req, ctx)
        for i in range(int(req.decode())):
            yield b"part-%d-" % i + b"x" * 1000

    def collect(reqs, ctx):
        parts = list(reqs)
        note("Collect", b"".join(parts), ctx)
        return hashlib.sha256(b"".join(parts)).digest() + \
            b"%d" % len(parts)

    def echo(reqs, ctx):
        n = 0
        for m in reqs:
            n += 1
            yield m[::-1]
        note("Echo", b"%d" % n, ctx)

    def size(req, ctx):
        note("Size", req, ctx)
        return b"z" * int(req.decode())

    handler = grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Size": grpc.unary_unary_rpc_method_handler(size),
        "Collect": grpc.stream_unary_rpc_method_handler(collect),
        "Echo": grpc.stream_stream_rpc_method_handler(echo),
    })
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                      options=[("grpc.max_receive_message_length",
                                64 << 20),
                               ("grpc.max_send_message_length", 64 << 20)])
    srv.add_generic_rpc_handlers((handler,))
    if args.cert:
        creds = grpc.ssl_server_credentials(
            [(open(args.key, "rb").read(), open(args.cert, "rb").read())])
        port = srv.add_secure_port(args.listen, creds)
    else:
        port = srv.add_insecure_port(args.listen)
    if not port:
        sys.exit(f"cannot listen on {args.listen}")
    srv.start()
    print("grpc origin ready", flush=True)
    srv.wait_for_termination()


def client(args):
    opts = [("grpc.max_receive_message_length", 64 << 20),
            ("grpc.enable_retries", 0)]
    if args.authority:
        opts.append(("grpc.default_authority", args.authority))
    if args.ca:
        creds = grpc.ssl_channel_credentials(
            root_certificates=open(args.ca, "rb").read())
        opts.append(("grpc.ssl_target_name_override", args.name))
        ch = grpc.secure_channel(args.target, creds, options=opts)
    else:
        ch = grpc.insecure_channel(args.target, options=opts)
    out = []
    for call in json.loads(args.calls):
        if "random" in call:
            data = random.Random(call["seed"]).randbytes(call["random"])
        else:
            data = bytes.fromhex(call.get("data_hex", ""))
        md = [tuple(m) for m in call.get("metadata", [])]
        timeout = call.get("timeout", 10)
        res = {"code": "OK", "details": None, "n": 0, "len": 0,
               "sha": None, "trailing": []}
        try:
            if call.get("kind") == "many":
                # `count` unary calls, `window` of them in flight at once
                # on the one channel (one HTTP/2 connection)
                f = ch.unary_unary(call["method"])
                codes, pending = {}, []
                t0 = time.monotonic()
                for i in range(call["count"]):
                    pending.append(f.future(b"many-%d" % i, metadata=md,
                                            timeout=timeout))
                    if len(pending) >= call["window"]:
                        p = pending.pop(0)
                        c = p.code().name
                        codes[c] = codes.get(c, 0) + 1
                for p in pending:
                    c = p.code().name
                    codes[c] = codes.get(c, 0) + 1
                res["codes"] = codes
                res["seconds"] = time.monotonic() - t0
                res["n"] = call["count"]
                tm = None
            elif call.get("kind") in ("collect", "echo"):
                rnd = random.Random(call["seed"])
                parts = [rnd.randbytes(call["size"])
                         for _ in range(call["parts"])]
                h = hashlib.sha256()
                if call["kind"] == "collect":
                    f = ch.stream_unary(call["method"])
                    resp, c = f.with_call(iter(parts), metadata=md,
                                          timeout=timeout)
                    h.update(resp)
                    res["n"] = 1
                    res["len"] = len(resp)
                else:
                    f = ch.stream_stream(call["method"])
                    c = f(iter(parts), metadata=md, timeout=timeout)
                    for m in c:
                        res["n"] += 1
                        res["len"] += len(m)
                        h.update(m)
                res["sha"] = h.hexdigest()
                tm = c.trailing_metadata()
            elif call.get("kind") == "stream":
                f = ch.unary_stream(call["method"])
                it = f(data, metadata=md, timeout=timeout)
                h = hashlib.sha256()
                for m in it:
                    res["n"] += 1
                    res["len"] += len(m)
                    h.update(m)
                res["sha"] = h.hexdigest()
                tm = it.trailing_metadata()
            else:
                f = ch.unary_unary(call["method"])
                resp, c = f.with_call(data, metadata=md, timeout=timeout)
                res["n"] = 1
                res["len"] = len(resp)
                res["sha"] = hashlib.sha256(resp).hexdigest()
                tm = c.trailing_metadata()
        except grpc.RpcError as e:
            res["code"] = e.code().name
            res["details"] = e.details()
            tm = e.trailing_metadata() if hasattr(e, "trailing_metadata") \
                else None
        for k, v in tm or ():
            res["trailing"].append(
                [k, v.hex() if isinstance(v, bytes) else v])
        out.append(res)
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--listen", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--cert")
    s.add_argument("--key")
    c = sub.add_parser("client")
    c.add_argument("--target", required=True)
    c.add_argument("--ca")
    c.add_argument("--name", default="api.test")
    c.add_argument("--authority")
    c.add_argument("calls")
    args = ap.parse_args()
    server(args) if args.mode == "server" else client(args)


if __name__ == "__main__":
    main()
