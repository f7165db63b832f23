#!/usr/bin/env python3
"""Mixed traffic for the soak test. Run inside the client netns.

Threads, each its own kind, until STOP_FILE exists or MAX_SECONDS pass:
  keepalive  GET / on keep-alive connections of 50 requests
  fresh      GET / on a new connection each
  limited    GET /lim/ (route limit: 200s and 429s)
  auth       GET /auth/ without a token (401) and with one (200)
  upload     POST / with a 256 KiB body
  flap       GET /flap/ (a service whose backend comes and goes: 200, 502)
Prints one JSON object: {"status": {"200": N, ...}, "errors": N,
"first_errors": [...]}. Connection errors are counted, not fatal: backends
flap and the gateway reloads under this load on purpose.
"""
import argparse
import http.client
import json
import os
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()
    deadline = time.monotonic() + a.max_seconds
    lock = threading.Lock()
    st = {"status": {}, "errors": 0, "first_errors": []}
    body = os.urandom(256 * 1024)

    def done():
        return os.path.exists(a.stop_file) or time.monotonic() > deadline

    def record(status=None, err=None):
        with lock:
            if status is not None:
                k = str(status)
                st["status"][k] = st["status"].get(k, 0) + 1
            else:
                st["errors"] += 1
                if len(st["first_errors"]) < 20:
                    st["first_errors"].append(err)

    def conn():
        return http.client.HTTPConnection(a.host, a.port, timeout=10,
                                          source_address=(a.src, 0))

    def one(c, method, path, data=None, headers=None):
        c.request(method, path, body=data, headers=headers or {})
        r = c.getresponse()
        r.read()
        record(r.status)
        return r

    def loop(kind):
        n = 0
        while not done():
            n += 1
            c = conn()
            try:
                if kind == "keepalive":
                    for i in range(50):
                        r = one(c, "GET", f"/ka/{n}/{i}")
                        if r.will_close or done():
                            break
                elif kind == "fresh":
                    one(c, "GET", f"/fresh/{n}")
                elif kind == "limited":
                    one(c, "GET", f"/lim/{n}")
                elif kind == "auth":
                    hdr = ({"Authorization": "Bearer " + a.token}
                           if n % 2 else {})
                    one(c, "GET", f"/auth/{n}", headers=hdr)
                elif kind == "upload":
                    one(c, "POST", f"/up/{n}", data=body)
                elif kind == "flap":
                    one(c, "GET", f"/flap/{n}")
            except (OSError, http.client.HTTPException) as e:
                record(err=f"{kind}: {type(e).__name__}: {e}")
            finally:
                c.close()
            if kind in ("limited", "flap", "upload"):
                time.sleep(0.02)

    kinds = ["keepalive", "keepalive", "fresh", "limited", "auth", "upload",
             "flap"]
    ts = [threading.Thread(target=loop, args=(k,)) for k in kinds]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(st))


if __name__ == "__main__":
    main()
