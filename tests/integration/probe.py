#!/usr/bin/env python3
"""Enforcement probe: a denied source keeps trying to connect.

Run inside the client netns. Every INTERVAL seconds, a TCP connect from SRC
to HOST:PORT with a short timeout, until STOP_FILE exists or MAX_SECONDS
pass. XDP drops the SYNs of a source it does not allow, so every attempt
must time out; a connection that is established or refused (a RST came
back: the packet reached the stack) is a gap in enforcement. Prints one
JSON object: {"attempts": N, "timeouts": N, "gaps": [first 20 results]}.
"""
import argparse
import json
import os
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--progress", help="file: attempts so far, rewritten")
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=0.1)
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()
    st = {"attempts": 0, "timeouts": 0, "gaps": []}
    deadline = time.monotonic() + a.max_seconds
    while not os.path.exists(a.stop_file) and time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        s.bind((a.src, 0))
        st["attempts"] += 1
        try:
            s.connect((a.host, a.port))
            gap = "connected"
        except socket.timeout:
            gap = None
        except OSError as e:
            gap = f"{type(e).__name__}: {e}"
        finally:
            s.close()
        if gap is None:
            st["timeouts"] += 1
        elif len(st["gaps"]) < 20:
            st["gaps"].append(f"{time.time():.3f} {gap}")
        if a.progress:
            with open(a.progress + ".tmp", "w") as f:
                f.write(str(st["attempts"]))
            os.replace(a.progress + ".tmp", a.progress)
        time.sleep(a.interval)
    print(json.dumps(st))


if __name__ == "__main__":
    main()
