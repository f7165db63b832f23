#!/usr/bin/env python3
"""Test client for the Sluice integration suite.

Run inside the client network namespace (``ip netns exec NS python3
client.py ...``) so it can bind one of that namespace's source addresses.
Standard library only. Prints one JSON object on stdout and exits 0 whatever
the outcome of the network operation (the test judges the outcome); exit 2
on a usage error.

  client.py http --src ADDR --host ADDR --port N [--method M] [--path P]
            [--body-len N] [--chunked] [--count N] [--timeout S]
            [--header 'Name: value' ...] [--http10]
      -> {"responses": [{"status", "reason", "version", "headers": [[k, v]..],
                         "body", "body_len", "local": [ip, port]}, ...],
          "sent_bytes": N, "sent_fnv1a": "hex16"}
         or {"error": "timeout" | "refused" | "<ExceptionName>", "detail": str,
             "responses": [...so far...]}

  client.py connect --src ADDR --host ADDR --port N [--timeout S]
      -> {"result": "connected" | "timeout" | "refused" | "<errno name>",
          "elapsed": seconds}
"""
import argparse
import errno
import http.client
import json
import socket
import sys
import time

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a(data, h=FNV_OFFSET):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def body_bytes(n):
    """Deterministic, non-repeating-looking payload of n bytes."""
    out = bytearray(n)
    x = 0x12345678
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def cmd_connect(a):
    fam = family_of(a.host)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((a.src, 0))
    s.settimeout(a.timeout)
    t0 = time.monotonic()
    try:
        s.connect((a.host, a.port))
        result = "connected"
    except socket.timeout:
        result = "timeout"
    except ConnectionRefusedError:
        result = "refused"
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e))
    finally:
        s.close()
    return {"result": result, "elapsed": round(time.monotonic() - t0, 3)}


class _Conn(http.client.HTTPConnection):
    def __init__(self, *args, http10=False, **kw):
        super().__init__(*args, **kw)
        if http10:
            self._http_vsn = 10
            self._http_vsn_str = "HTTP/1.0"


def cmd_http(a):
    out = {"responses": []}
    payload = body_bytes(a.body_len) if a.body_len is not None else None
    if payload is not None:
        out["sent_bytes"] = len(payload)
        out["sent_fnv1a"] = "%016x" % fnv1a(payload)
    conn = _Conn(a.host, a.port, timeout=a.timeout,
                 source_address=(a.src, 0), http10=a.http10)
    try:
        for _ in range(a.count):
            headers = {}
            for h in a.header:
                k, _, v = h.partition(":")
                headers[k.strip()] = v.strip()
            body = None
            kw = {}
            if payload is not None:
                if a.chunked:
                    # uneven chunk sizes so chunk boundaries move around
                    sizes = [1, 7, 4096, 1000, 65536]

                    def gen(p=payload):
                        i = k = 0
                        while i < len(p):
                            n = sizes[k % len(sizes)]
                            yield p[i:i + n]
                            i += n
                            k += 1
                    body = gen()
                    headers["Transfer-Encoding"] = "chunked"
                    kw["encode_chunked"] = True
                else:
                    body = payload
                    headers["Content-Length"] = str(len(payload))
            conn.request(a.method, a.path, body=body, headers=headers, **kw)
            resp = conn.getresponse()
            data = resp.read()
            local = list(conn.sock.getsockname()[:2]) if conn.sock else None
            out["responses"].append({
                "status": resp.status,
                "reason": resp.reason,
                "version": resp.version,
                "headers": [[k, v] for k, v in resp.getheaders()],
                "body": data.decode("utf-8", "replace"),
                "body_len": len(data),
                "local": local,
            })
    except socket.timeout as e:
        out["error"], out["detail"] = "timeout", str(e)
    except ConnectionRefusedError as e:
        out["error"], out["detail"] = "refused", str(e)
    except (OSError, http.client.HTTPException) as e:
        out["error"], out["detail"] = type(e).__name__, str(e)
    finally:
        conn.close()
    return out


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("http", "connect"):
        s = sub.add_parser(name)
        s.add_argument("--src", required=True)
        s.add_argument("--host", required=True)
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--timeout", type=float, default=5.0)
    h = sub.choices["http"]
    h.add_argument("--method", default="GET")
    h.add_argument("--path", default="/")
    h.add_argument("--body-len", type=int)
    h.add_argument("--chunked", action="store_true")
    h.add_argument("--count", type=int, default=1)
    h.add_argument("--header", action="append", default=[])
    h.add_argument("--http10", action="store_true")
    a = p.parse_args()
    res = cmd_http(a) if a.cmd == "http" else cmd_connect(a)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
