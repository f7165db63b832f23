"""Workers, graceful drain, connection limits and file-descriptor
exhaustion."""
import os
import signal
import socket
import time
from pathlib import Path

import pytest

import helpers as h
import raw


def threads(pid):
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


@pytest.mark.parametrize("workers", [2, 0], ids=["two", "default-per-cpu"])
def test_workers_threads_and_service(backends, workdir, workers):
    s = raw.start(workdir, f"gw-workers-{workers}", workers=workers)
    try:
        want = workers or os.cpu_count()
        assert threads(s.pid) >= 1 + want, (threads(s.pid), want)
        assert f"{want} worker(s)" in s.output()
        conns = [raw.Conn() for _ in range(20)]
        for rnd in range(3):
            for i, c in enumerate(conns):
                c.send(raw.request("GET", f"/w/{rnd}/{i}"))
            for i, c in enumerate(conns):
                r = c.response()
                assert r.status == 200 and r.json()["path"] == f"/w/{rnd}/{i}"
        for c in conns:
            c.close()
    finally:
        s.shutdown()


def test_graceful_drain_finishes_in_flight(backends, workdir):
    s = raw.start(workdir, "gw-drain", http={"drain_timeout_ms": 5000})
    try:
        idle = raw.Conn()
        idle.send(raw.request("GET", "/drain/idle"))
        assert idle.response().status == 200
        busy = raw.Conn(timeout=10)
        busy.send(raw.request("GET", "/sleep/1500"))
        time.sleep(0.3)
        s.p.send_signal(signal.SIGTERM)
        # the idle keep-alive connection is closed (within a second: it
        # may still send one more request)
        assert idle.closed(timeout=3)
        # no new connections
        time.sleep(0.2)
        late = raw.Conn(connect=False)
        with pytest.raises(ConnectionRefusedError):
            late.s.connect(late.dst)
        late.close()
        # the request in flight completes, with Connection: close
        r = busy.response()
        assert r.status == 200 and r.json()["path"] == "/sleep/1500"
        assert (r.header("connection") or "").lower() == "close"
        busy.close()
        idle.close()
        s.stopped = True
        rc = s.stop(timeout=10)
        s.check_sanitizers()
        assert rc == 0, h.tail(s.err_path)
    finally:
        # a failure before the drain must not leave it running (it holds
        # the listeners and the admin port of the next tests)
        s.stop(signal.SIGKILL, timeout=5)


def test_drain_deadline_closes_the_rest(backends, workdir):
    s = raw.start(workdir, "gw-drain-deadline", http={"drain_timeout_ms": 500})
    try:
        busy = raw.Conn(timeout=10)
        busy.send(raw.request("GET", "/sleep/4000"))
        time.sleep(0.3)
        t0 = time.monotonic()
        s.p.send_signal(signal.SIGTERM)
        rc = s.p.wait(timeout=10)
        elapsed = time.monotonic() - t0
        assert rc == 0
        assert elapsed < 3.5, elapsed           # did not wait for the backend
        assert busy.closed(timeout=3)
        busy.close()
        s.stopped = True
        s.stop()
        s.check_sanitizers()
        assert "drain deadline passed" in s.output()
    finally:
        # a failure before the drain must not leave it running (it holds
        # the listeners and the admin port of the next tests)
        s.stop(signal.SIGKILL, timeout=5)


# ---- resource limits --------------------------------------------------------

def test_max_connections_pauses_accepting(backends, workdir):
    s = raw.start(workdir, "gw-maxconn", http={"max_connections": 4})
    try:
        held = []
        for i in range(4):
            c = raw.Conn()
            c.send(raw.request("GET", f"/held/{i}"))
            assert c.response().status == 200
            held.append(c)
        extra = raw.Conn(timeout=1.5)       # sits in the listen backlog
        extra.send(raw.request("GET", "/extra"))
        with pytest.raises(socket.timeout):
            extra.response()
        held.pop().close()
        extra.s.settimeout(5)
        r = extra.response()
        assert r.status == 200 and r.json()["path"] == "/extra"
        assert "http.max_connections" in s.output()
        extra.close()
        for c in held:
            c.close()
    finally:
        s.shutdown()


def _server_sockets(state, port):
    """Server-side TCP sockets of the gateway's port in a state (ss, in
    the server netns): 'syn-recv' lists connections the kernel has not
    handed to accept yet."""
    r = h.run(["ip", "netns", "exec", h.SRV_NS, "ss", "-Htn", "state", state,
               f"( sport = :{port} )"], timeout=5)
    return [l for l in r.stdout.splitlines() if l.strip()]


def test_defer_accept_hands_over_on_first_bytes(backends, workdir):
    """defer_accept (the default): a client that has connected but sent
    nothing stays with the kernel (SYN-RECV on the server side), and the
    connection is handed over with its first bytes; with defer_accept:
    false it is accepted at once. A silent client is still handed over
    about a second later, and then closed by the header timeout."""
    deferred, direct = h.GW_PORT + 6, h.GW_PORT + 7
    s = raw.start(workdir, "gw-defer",
                  listeners=[{"address": f"{h.SRV4}:{deferred}"},
                             {"address": f"{h.SRV4}:{direct}",
                              "defer_accept": False}],
                  http={"header_timeout_ms": 1000})
    try:
        a = raw.Conn(port=deferred, timeout=10)
        b = raw.Conn(port=direct, timeout=10)
        # well before the SYN-ACK retransmission at about 1 s
        time.sleep(0.1)
        assert len(_server_sockets("syn-recv", deferred)) == 1
        assert _server_sockets("established", deferred) == []
        assert _server_sockets("syn-recv", direct) == []
        assert len(_server_sockets("established", direct)) == 1
        a.send(raw.request("GET", "/deferred"))
        r = a.response()
        assert r.status == 200 and r.json()["path"] == "/deferred"
        assert _server_sockets("syn-recv", deferred) == []
        b.send(raw.request("GET", "/direct"))
        assert b.response().status == 200
        a.close()
        b.close()
        # silent: handed over after about a second (a retransmitted
        # SYN-ACK and the client's ACK), then closed after 1 s of silence
        t0 = time.monotonic()
        c = raw.Conn(port=deferred, timeout=10)
        h.wait_for(lambda: len(_server_sockets("syn-recv", deferred)) == 0,
                   8, 0.05, what="the silent connection handed over")
        assert c.closed(timeout=8)
        assert time.monotonic() - t0 >= 1.0
        c.close()
    finally:
        s.shutdown()


class LimitedSluiced(h.Sluiced):
    """sluiced started with a small RLIMIT_NOFILE (prlimit execs it)."""

    def __init__(self, config, workdir, tag, nofile):
        argv = ["prlimit", f"--nofile={nofile}:{nofile}", "nsenter",
                f"--net=/run/netns/{h.SRV_NS}", h.SLUICED, "-c", config]
        h.CLEANUP.pins.append(str(h.PIN_ROOT))
        h.Proc.__init__(self, tag, argv, workdir, env=h.sanitizer_env())
        self.config = config
        self.stopped = False


def test_fd_exhaustion_pauses_and_resumes(backends, workdir):
    cfg = raw.write_cfg(workdir, "gw-nofile", top={"admin": {
        "address": "127.0.0.1:9900",
        "socket": str(workdir / "gw-nofile-admin.sock")}})
    s = LimitedSluiced(cfg, workdir, "gw-nofile", 48).start()
    conns = []
    try:
        for i in range(70):
            c = raw.Conn(timeout=2)
            conns.append(c)
        h.wait_for(lambda: "pausing accepts" in s.output(), 10,
                   what="an EMFILE warning")
        # paused, not spinning: little CPU while the condition lasts
        cpu0 = raw.cpu_seconds(s.pid)
        time.sleep(2)
        assert raw.cpu_seconds(s.pid) - cpu0 < 0.5
        assert s.alive()
        for c in conns:
            c.close()
        conns = []
        # accepting resumed: a new client is served
        h.wait_for(lambda: _one_ok(), 10, 0.2, what="service after EMFILE")
        # and the pause was counted
        assert raw.metric("127.0.0.1:9900", "sluice_accept_pauses_total") >= 1
    finally:
        for c in conns:
            c.close()
        s.shutdown()


def _one_ok():
    try:
        c = raw.Conn(timeout=2)
        c.send(raw.request("GET", "/after-emfile"))
        ok = c.response().status == 200
        c.close()
        return ok
    except (OSError, EOFError):
        return False
