#!/usr/bin/env python3
"""Round-robin load over several gateways, for the cluster tests.

Run inside the client namespace. Sends COUNT requests (a new connection
each: a 429 closes it), one host after the other, from SRC addresses (one
per host, same order), with an API key header; prints JSON:
  {"statuses": {"HOST": {"200": n, "429": n, ...}, ...},
   "admitted_at": [seconds since start of each 200, ...]}
Bounded: COUNT requests, each with a TIMEOUT.

  cluster_load.py --hosts H1,H2,H3 --srcs S1,S2,S3 --port N --count N
                  --key KEY [--timeout S] [--pause S]
"""
import argparse
import http.client
import json
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--srcs", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--timeout", type=float, default=3)
    ap.add_argument("--pause", type=float, default=0)
    a = ap.parse_args()
    hosts = a.hosts.split(",")
    srcs = a.srcs.split(",")
    st = {h: {} for h in hosts}
    admitted = []
    t0 = time.monotonic()
    for i in range(min(a.count, 100000)):
        h, s = hosts[i % len(hosts)], srcs[i % len(hosts)]
        try:
            c = http.client.HTTPConnection(h, a.port, timeout=a.timeout,
                                           source_address=(s, 0))
            c.request("GET", "/", headers={"X-API-Key": a.key,
                                           "Connection": "close"})
            r = c.getresponse()
            r.read()
            code = str(r.status)
            c.close()
        except (OSError, socket.timeout, http.client.HTTPException) as e:
            code = type(e).__name__
        st[h][code] = st[h].get(code, 0) + 1
        if code == "200":
            admitted.append(round(time.monotonic() - t0, 4))
        if a.pause:
            time.sleep(a.pause)
    print(json.dumps({"statuses": st, "admitted_at": admitted}))


if __name__ == "__main__":
    main()
