#!/usr/bin/env python3
"""Bounded HTTP load for the reload-under-load test.

Run inside the client netns. THREADS threads send GET requests to
http://HOST:PORT/ from SRC, alternating a fresh connection and a keep-alive
connection of up to 20 requests, until STOP_FILE exists, MAX_SECONDS pass
or MAX_REQUESTS were sent. Prints one JSON object:
  {"ok": N, "failed": N, "errors": [first 20 errors], "stopped_by": "file" |
   "time" | "count", "first": t, "last": t, "resets_fresh": N,
   "resets_reused": N}
resets_fresh counts connection resets before any answer on a new
connection, resets_reused those on a connection that had been answered.
Every non-200 response and every connection error counts as a failure.
"""
import argparse
import http.client
import json
import os
import socket
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--max-requests", type=int, default=200000)
    a = ap.parse_args()

    lock = threading.Lock()
    st = {"ok": 0, "failed": 0, "errors": [], "stopped_by": None,
          "first": None, "last": None, "resets_fresh": 0,
          "resets_reused": 0}
    deadline = time.monotonic() + a.max_seconds

    def stop():
        if os.path.exists(a.stop_file):
            return "file"
        if time.monotonic() > deadline:
            return "time"
        if st["ok"] + st["failed"] >= a.max_requests:
            return "count"
        return None

    def record(ok, err=None):
        now = time.time()
        with lock:
            if ok:
                st["ok"] += 1
            else:
                st["failed"] += 1
                if len(st["errors"]) < 20:
                    st["errors"].append(err)
            st["first"] = st["first"] or now
            st["last"] = now

    def worker(tid):
        n = 0
        while True:
            why = stop()
            if why:
                with lock:
                    st["stopped_by"] = st["stopped_by"] or why
                return
            keepalive = n % 2 == 1
            n += 1
            conn = http.client.HTTPConnection(a.host, a.port, timeout=10,
                                              source_address=(a.src, 0))
            answered = 0
            try:
                for i in range(20 if keepalive else 1):
                    conn.request("GET", f"/load/{tid}/{n}/{i}")
                    r = conn.getresponse()
                    body = r.read()
                    answered += 1
                    if r.status != 200:
                        record(False, f"status {r.status}: {body[:200]!r}")
                    else:
                        record(True)
                    if stop():
                        break
            except (OSError, http.client.HTTPException) as e:
                if isinstance(e, ConnectionResetError):
                    with lock:
                        st["resets_reused" if answered else
                           "resets_fresh"] += 1
                record(False, f"{type(e).__name__}: {e}")
            finally:
                conn.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(st))


if __name__ == "__main__":
    main()
