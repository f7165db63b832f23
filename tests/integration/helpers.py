"""Helpers for the Sluice integration suite: namespaces, processes, clients.

Standard library only. Every subprocess runs under a timeout. Everything
created (namespaces, processes, pin directories) is recorded in CLEANUP so a
SIGTERM to pytest or a crash in a fixture still tears it all down.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD


def _bin(env, default):
    p = Path(os.environ.get(env, default))
    return p if p.is_absolute() else REPO / p


SLUICED = _bin("SLUICED", BUILD / "sluiced")
SLUICECTL = _bin("SLUICECTL", BUILD / "sluicectl")
BACKEND = _bin("BACKEND", BUILD / "tools" / "backend")
CLIENT = Path(__file__).resolve().parent / "client.py"
PY = sys.executable or "/usr/bin/python3"

PID = os.getpid()
SRV_NS = f"slt-srv-{PID}"
CLI_NS = f"slt-cli-{PID}"
VETH_SRV = f"slt{PID}s"          # <= 15 chars for any pid_max
VETH_CLI = f"slt{PID}c"
PIN_ROOT = Path(f"/sys/fs/bpf/sluice-test-{PID}")

SRV4, ALLOWED4, BLOCKED4 = "198.18.0.1", "198.18.0.2", "198.18.0.3"
SRV6, ALLOWED6, BLOCKED6 = "fd00:5c::1", "fd00:5c::2", "fd00:5c::3"
GW_PORT = 8080          # sluiced listener (guarded)
B1_PORT = 9001          # backend behind sluiced
B2_PORT = 9002          # second backend: an unguarded service
DEAD_PORT = 9009        # nothing listens here

SANITIZER_RE = re.compile(
    r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer)")

# SLUICE_ABI_VERSION, read from the header the build used
ABI_VERSION = int(re.search(
    r"#define SLUICE_ABI_VERSION (\d+)",
    (REPO / "include/sluice/abi.h").read_text()).group(1))
MAP_NAMES = ["sl_ports_v2", "sl_allow4_v1", "sl_allow6_v1", "sl_stats_v4",
             "sl_settings_v3", "sl_deny4_v1", "sl_deny6_v1", "sl_ban4_v1",
             "sl_ban6_v1", "sl_classes_v1", "sl_src4_v1", "sl_src6_v1",
             "sl_events_v1", "sl_synflood_v1", "sl_hallow4_v1",
             "sl_hallow6_v1", "sl_hdeny4_v1", "sl_hdeny6_v1"]
REASONS = ["pass_unguarded", "pass_allowed", "pass_not_ip", "pass_malformed",
           "drop_not_allowed", "pass_guarded", "drop_deny", "drop_banned",
           "drop_rate", "drop_syn_rate", "drop_frag_tiny",
           "drop_frag_overlap", "drop_ext_depth", "tx_syncookie",
           "pass_syncookie", "drop_syncookie"]


class Cleanup:
    """Last-resort registry: processes, namespaces and pin dirs we made."""

    def __init__(self):
        self.procs = {}         # pid -> Popen
        self.netns = []
        self.pins = []

    def run(self):
        for pid, p in list(self.procs.items()):
            try:
                if p.poll() is None:
                    os.kill(pid, signal.SIGKILL)
                    p.wait(timeout=5)
            except (OSError, subprocess.SubprocessError):
                pass
            self.procs.pop(pid, None)
        for ns in list(self.netns):
            try:
                subprocess.run(["ip", "netns", "del", ns],
                               capture_output=True, timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass
            self.netns.remove(ns)
        for d in list(self.pins):
            if Path(d).exists():
                shutil.rmtree(d, ignore_errors=True)
            self.pins.remove(d)


CLEANUP = Cleanup()
LIVE = {}       # name -> Proc still running: their logs go into failure reports


def run(cmd, timeout=10, check=True, **kw):
    """subprocess.run with a timeout, captured text output, clear errors."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(
            f"command failed (exit {r.returncode}): {' '.join(map(str, cmd))}"
            f"\nstdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def wait_for(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def access_log_entry(log_path, path, timeout=10):
    """The first JSON access-log line of log_path for request path `path`,
    waited for (the writer thread flushes after the response)."""
    def find():
        try:
            lines = Path(log_path).read_text().splitlines()
        except FileNotFoundError:
            return None
        hits = [json.loads(l) for l in lines if l.strip()]
        hits = [e for e in hits if e.get("path") == path]
        return hits[0] if hits else None
    return wait_for(find, timeout, what=f"access log line for {path}")


def tail(path, n=40):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no file)"
    return "\n".join(lines[-n:])


def sanitizer_report(text):
    m = SANITIZER_RE.search(text)
    if not m:
        return None
    start = max(0, m.start() - 200)
    return text[start:start + 4000]


def sanitizer_env():
    env = dict(os.environ)
    # halt on the first UBSan report; leaks make the exit status non-zero
    env.setdefault("ASAN_OPTIONS",
                   "detect_leaks=1:abort_on_error=0:exitcode=66:"
                   "print_summary=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


# ---- topology ---------------------------------------------------------------

def setup_topology():
    CLEANUP.netns += [SRV_NS, CLI_NS]
    run(["ip", "netns", "add", SRV_NS])
    run(["ip", "netns", "add", CLI_NS])
    run(["ip", "link", "add", VETH_SRV, "netns", SRV_NS, "type", "veth",
         "peer", "name", VETH_CLI, "netns", CLI_NS])
    s = ["ip", "-n", SRV_NS]
    c = ["ip", "-n", CLI_NS]
    run(s + ["link", "set", "lo", "up"])
    run(c + ["link", "set", "lo", "up"])
    # No TCP metrics kept per peer address: a connection's start (ssthresh,
    # RTT, and through them how far its buffers grow) must not depend on
    # the connections earlier tests made between the same addresses.
    # At most 4096 connections in TIME_WAIT: the soak and the load tests
    # close tens of thousands of connections from one client address in a
    # minute, and each one in TIME_WAIT holds its port against bind(src, 0)
    # for 60 s; past 28,000 (the ephemeral range), the next test's client
    # gets EADDRINUSE. Old duplicate segments, what TIME_WAIT guards
    # against, do not occur on a veth pair.
    for ns in (SRV_NS, CLI_NS):
        run(["nsenter", f"--net=/run/netns/{ns}", "sysctl", "-qw",
             "net.ipv4.tcp_no_metrics_save=1",
             "net.ipv4.tcp_max_tw_buckets=4096"])
    run(s + ["addr", "add", f"{SRV4}/24", "dev", VETH_SRV])
    run(s + ["addr", "add", f"{SRV6}/64", "dev", VETH_SRV, "nodad"])
    for a in (ALLOWED4, BLOCKED4):
        run(c + ["addr", "add", f"{a}/24", "dev", VETH_CLI])
    for a in (ALLOWED6, BLOCKED6):
        run(c + ["addr", "add", f"{a}/64", "dev", VETH_CLI, "nodad"])
    run(s + ["link", "set", VETH_SRV, "up"])
    run(c + ["link", "set", VETH_CLI, "up"])
    # both ends up (carrier) and no address still tentative
    for ns, dev in ((SRV_NS, VETH_SRV), (CLI_NS, VETH_CLI)):
        def ready(ns=ns, dev=dev):
            link = run(["ip", "-n", ns, "link", "show", dev]).stdout
            addrs = run(["ip", "-n", ns, "addr", "show", dev]).stdout
            return "LOWER_UP" in link and "tentative" not in addrs
        wait_for(ready, 10, 0.05, f"{dev} up in {ns}")


def teardown_topology():
    errors = []
    for ns in (SRV_NS, CLI_NS):
        r = run(["ip", "netns", "del", ns], check=False)
        if r.returncode != 0:
            errors.append(f"ip netns del {ns}: {r.stderr.strip()}")
        if ns in CLEANUP.netns:
            CLEANUP.netns.remove(ns)
    left = run(["ip", "netns", "list"]).stdout
    for ns in (SRV_NS, CLI_NS):
        if re.search(rf"^{re.escape(ns)}\b", left, re.M):
            errors.append(f"netns {ns} still listed")
    links = run(["ip", "-o", "link", "show"]).stdout
    for l in (VETH_SRV, VETH_CLI):
        if re.search(rf"\b{l}\b", links):
            errors.append(f"link {l} left in the root namespace")
    return errors


def srv_link_xdp():
    """The 'xdp...' attachment words on the server veth, or '' if none."""
    out = run(["ip", "-n", SRV_NS, "link", "show", VETH_SRV]).stdout
    m = re.search(r"\b(xdp\w*)\b", out)
    return m.group(1) if m else ""


# ---- processes --------------------------------------------------------------

class Proc:
    """A long-running process with stdout/stderr in files."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.out_path = Path(workdir) / f"{name}.out"
        self.err_path = Path(workdir) / f"{name}.err"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.p = subprocess.Popen([str(a) for a in argv], stdout=self._out,
                                  stderr=self._err, stdin=subprocess.DEVNULL,
                                  env=env, cwd=str(REPO))
        self.pid = self.p.pid
        CLEANUP.procs[self.pid] = self.p
        LIVE[self.name] = self

    def output(self):
        return (self.out_path.read_text(errors="replace") +
                self.err_path.read_text(errors="replace"))

    def alive(self):
        return self.p.poll() is None

    def wait_output(self, needle, timeout):
        def ready():
            if needle in self.output():
                return True
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited with {self.p.returncode} before "
                    f"printing {needle!r}:\n{tail(self.err_path)}\n"
                    f"{tail(self.out_path)}")
            return False
        wait_for(ready, timeout, what=f"{self.name}: {needle!r}")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal by PID and wait; returns the exit status (None: killed)."""
        rc = self.p.poll()
        if rc is None:
            self.p.send_signal(sig)
            try:
                rc = self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
                rc = None
        CLEANUP.procs.pop(self.pid, None)
        if LIVE.get(self.name) is self:
            del LIVE[self.name]
        self._out.close()
        self._err.close()
        return rc


def start_backend(name, listens, workdir):
    argv = ["ip", "netns", "exec", SRV_NS, BACKEND, "--name", name,
            "--log", Path(workdir) / f"{name}.log"]
    for l in listens:
        argv += ["--listen", l]
    p = Proc(name, argv, workdir)
    p.log_path = Path(workdir) / f"{name}.log"
    p.wait_output("backend ready", 10)
    return p


def backend_log(proc):
    """Every entry the backend has logged so far, in order. The log of a
    session-long backend grows to many megabytes, so it is parsed once:
    each call reads only the complete lines appended since the last one
    (the file is append-only; a new or shorter file starts over)."""
    cache = getattr(proc, "_log_cache", None)
    try:
        with open(proc.log_path, "rb") as f:
            st = os.fstat(f.fileno())
            if (cache is None or cache["ino"] != st.st_ino
                    or st.st_size < cache["off"]):
                cache = {"ino": st.st_ino, "off": 0, "entries": []}
                proc._log_cache = cache
            f.seek(cache["off"])
            data = f.read()
    except OSError:
        return []
    end = data.rfind(b"\n") + 1        # a line still being written waits
    for line in data[:end].splitlines():
        if line.strip():
            cache["entries"].append(json.loads(line))
    cache["off"] += end
    return list(cache["entries"])


def admin_socket_path(workdir, name):
    """The admin socket write_config() gives config NAME."""
    return Path(workdir) / f"{name}-admin.sock"


def write_config(workdir, name, *, listeners=None, routes=None,
                 targets=None, allow=None, xdp=True, mode="native",
                 extra="", xdp_extra=()):
    """Write NAME.yaml (and NAME-allowlist.txt) into workdir; return path.
    xdp_extra: more lines under xdp: ("  drop_sample: 1")."""
    workdir = Path(workdir)
    listeners = listeners or [f"{SRV4}:{GW_PORT}", f"[{SRV6}]:{GW_PORT}"]
    targets = targets or [f"{SRV4}:{B1_PORT}"]
    routes = routes if routes is not None else [("all", "/")]
    allow = allow if allow is not None else [f"{ALLOWED4}/32",
                                             f"{ALLOWED6}/128"]
    al = workdir / f"{name}-allowlist.txt"
    al.write_text("# generated by the integration suite\n" +
                  "".join(a + "\n" for a in allow))
    y = ["listeners:"]
    for i, l in enumerate(listeners):
        y += [f"  - name: l{i}", f'    address: "{l}"']
    # a private admin socket: several suites may run at once on this host
    y += ["admin:", "  address: 127.0.0.1:9900",
          f"  socket: {admin_socket_path(workdir, name)}",
          "xdp:", f"  enabled: {'true' if xdp else 'false'}",
          f"  interfaces: [{VETH_SRV}]", f"  mode: {mode}",
          f"  pin_path: {PIN_ROOT}", *xdp_extra,
          "  allowlist:", "    enabled: true", f"    files: [{al.name}]",
          "services:", "  - name: echo",
          "    targets: [" + ", ".join(f'"{t}"' for t in targets) + "]",
          "    connect_timeout_ms: 1000",
          "routes:"]
    for rname, prefix in routes:
        y += [f"  - name: {rname}", f"    path_prefix: {prefix}",
              "    service: echo"]
    y += ["workers: 1", "logging:", "  level: info"]
    p = workdir / f"{name}.yaml"
    p.write_text("\n".join(y) + "\n" + extra)
    return p


class Sluiced(Proc):
    """sluiced in the server netns.

    Started with nsenter --net (not `ip netns exec`): `ip netns exec` gives
    the process a private mount namespace with a fresh /sys, where bpffs is
    not mounted, so its pins would be invisible to sluicectl and bpftool and
    would vanish with it. nsenter --net switches only the network namespace.
    """

    def __init__(self, config, workdir, tag="sluiced", args=(), env=None):
        argv = ["nsenter", f"--net=/run/netns/{SRV_NS}", SLUICED, "-c",
                config, *args]
        CLEANUP.pins.append(str(PIN_ROOT))
        super().__init__(tag, argv, workdir,
                         env={**sanitizer_env(), **(env or {})})
        self.config = config
        self.stopped = False

    def start(self, timeout=20):
        self.wait_output("sluiced ready", timeout)
        return self

    def check_sanitizers(self):
        rep = sanitizer_report(self.output())
        assert rep is None, f"sanitizer report from {self.name}:\n{rep}"

    def shutdown(self):
        """SIGTERM; assert exit 0, XDP detached, pins gone, no reports."""
        self.stopped = True
        was_alive = self.alive()
        rc = self.stop(signal.SIGTERM, timeout=15)
        self.check_sanitizers()
        assert was_alive, (f"{self.name} had already exited with {rc}:\n"
                           f"{tail(self.err_path)}")
        assert rc == 0, (f"{self.name} exit status on SIGTERM: {rc} "
                         f"(want 0)\n{tail(self.err_path)}")
        assert srv_link_xdp() == "", \
            f"XDP still attached to {VETH_SRV} after sluiced exited"
        assert not PIN_ROOT.exists(), \
            f"pins left after sluiced exited: {list(PIN_ROOT.iterdir())}"


def run_sluiced_once(args, timeout=30):
    """Run sluiced to completion (e.g. --check); assert no sanitizer report."""
    r = run([SLUICED, *args], timeout=timeout, check=False,
            env=sanitizer_env())
    rep = sanitizer_report(r.stdout + r.stderr)
    assert rep is None, f"sanitizer report from sluiced {args}:\n{rep}"
    return r


# ---- clients ----------------------------------------------------------------

def client(*args, timeout=30):
    """Run client.py inside the client netns; return its JSON result."""
    r = run(["ip", "netns", "exec", CLI_NS, PY, CLIENT, *args],
            timeout=timeout)
    return json.loads(r.stdout)


def http(src, host, port=GW_PORT, path="/", timeout=5, **kw):
    args = ["http", "--src", src, "--host", host, "--port", str(port),
            "--path", path, "--timeout", str(timeout)]
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        elif isinstance(v, (list, tuple)):
            for x in v:
                args += [flag, str(x)]
        elif v is not None and v is not False:
            args += [flag, str(v)]
    return client(*args, timeout=timeout * 4 + 10)


def one(res):
    """The single response of an http() result (fails clearly otherwise)."""
    assert "error" not in res, f"request failed: {res}"
    assert len(res["responses"]) == 1, res
    return res["responses"][0]


def header(resp, name):
    for k, v in resp["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def connect(src, host, port, timeout=2):
    return client("connect", "--src", src, "--host", host, "--port",
                  str(port), "--timeout", str(timeout), timeout=timeout + 15)


def curl(src, url, *extra, timeout=5):
    """curl from the client netns bound to src; (status, body)."""
    r = run(["ip", "netns", "exec", CLI_NS, "curl", "-sS", "--interface", src,
             "--max-time", str(timeout), "-g", "-o", "-",
             "-w", "\n%{http_code}", *extra, url],
            timeout=timeout + 10, check=False)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body, r


# ---- sluicectl / bpftool ----------------------------------------------------

def sluicectl_status():
    r = run([SLUICECTL, "--pin-path", PIN_ROOT, "--json", "status"])
    return json.loads(r.stdout)


def counter(status, reason):
    """(packets, bytes) of one reason from `sluicectl --json status`:
    {"counters": {"pass_allowed": {"packets": N, "bytes": N}, ...},
     "allowlist": {"v4": N, "v6": N}, "guarded_ports": N, ...}"""
    c = status.get("counters", {}).get(reason)
    assert c is not None, f"no counter {reason!r} in sluicectl output {status}"
    return int(c["packets"]), int(c["bytes"])


def counters():
    st = sluicectl_status()
    return {r: counter(st, r) for r in REASONS}


def bpftool_dump(map_name):
    r = run(["bpftool", "-j", "map", "dump", "pinned", PIN_ROOT / map_name])
    return json.loads(r.stdout)
