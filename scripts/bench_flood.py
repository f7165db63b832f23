#!/usr/bin/env python3
"""End-to-end flood benchmark (make bench-flood; --smoke for CI).

A legitimate client (wrk) keeps requesting through sluiced while an
attacker floods the gateway; how much of the no-flood request rate the
client keeps is measured for three contenders on the same gateway:
  nofilter   sluiced without XDP; a 2-instruction XDP_PASS program on the
             gateway's veth (without one, a veth hands locally generated TCP
             to its peer's backlog, not to the ring the flood fills)
  nftables   the same, plus a netdev ingress ruleset doing Sluice's job:
             deny set, allow set, per-source packet and SYN meters
  sluice     sluiced with its XDP program native on the veth, denylist,
             allowlist, per-source buckets, SYN cookies (auto)

Topology (three namespaces, one link into the gateway):

   client ns              attacker ns (also the client's router)     gateway ns
  [wrk] c0 ---veth--- r0 (forwarding) a0 ---veth--- g0 [XDP] sluiced -> nginx
        generator: x0 ---veth--- x1 (floodgen_loop) --copies--> a0   (127.0.0.1)
                                                    (or d0 ---veth--- d1)

The client's packets are forwarded by the attacker namespace out of a0, so
they and the flood share g0's 256-slot ring and its NAPI thread, as on a
NIC queue. CPU 0: wrk, the generator's loop (x0/x1 NAPI threads,
SCHED_OTHER), the attacker side's NAPI (a0, SCHED_FIFO); CPU 1: the
gateway: g0's NAPI thread (SCHED_FIFO, like softirq on a NIC), sluiced (one
worker), nginx.

The generator (xdpbench loop, bench/floodgen.bpf.c) keeps frames going
round the x0/x1 veth pair and sends a copy of each, with a random source,
to a0 when its pacing allows (paced rates in bursts, one receiver wake-up
per burst). The no-flood phases run the same loop at full speed into d0,
whose peer has no XDP program and refuses every frame: the generator takes
the same share of CPU 0 from wrk as in the flood phases.

Output: JSON (build/bench/flood-results.json, --out), and unless --smoke or
BENCH_NO_DOC=1, a section between the FLOOD-BENCH markers of
docs/BENCHMARKS.md and plots docs/bench-flood.png (gnuplot).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("BUILD", REPO / "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
SLUICED = Path(os.environ.get("SLUICED", BUILD / "sluiced"))
if not SLUICED.is_absolute():
    SLUICED = REPO / SLUICED
SLUICECTL = BUILD / "sluicectl"
XB = BUILD / "bench" / "xdpbench"

P = os.getpid()
NS_C, NS_A, NS_G = f"slf-c-{P}", f"slf-a-{P}", f"slf-g-{P}"
C0, R0, A0, G0, D0, D1, X0, X1 = (f"f{P}{s}" for s in "cragdexy")
PIN = Path(f"/sys/fs/bpf/sluice-flood-{P}")
GW4, GW6 = "198.18.0.1", "fd00:5c::1"          # gateway (g0)
RT4, RT6 = "198.18.0.2", "fd00:5c::2"          # attacker/router side (a0)
CL4, CL6 = "198.18.1.2", "fd00:5c::1:2"        # legitimate client (c0)
RC4, RC6 = "198.18.1.1", "fd00:5c::1:1"        # router side (r0)
PORT, ORIGIN_PORT = 8080, 9101
CPU_CLIENT, CPU_GW = "0", "1"

# The rules both filters apply (Sluice: allow/deny files + rate_limit;
# nftables: the same sets and meters).
DENY = ["198.18.128.0/17", "fd00:5c::dead:0/112"]
ALLOW_RANGE = ["198.19.0.0/17", "fd00:5c::a:0/112"]
RATE, BURST, SYN, SYN_BURST = 2000, 4000, 50, 50

# name: (family, kind, source base, random source bits, what)
MIXES = {
    "deny4": (4, "syn", "198.18.128.0", 15,
              "SYNs from random denied sources (198.18.128.0/17)"),
    "rate4": (4, "ack", "198.19.0.7", 0,
              "ACKs from one allowed source far over its packet rate"),
    "syn1": (4, "syn", "198.19.0.9", 0,
             "SYN flood from one allowed source"),
    "synspoof4": (4, "syn", "198.19.0.0", 15,
                  "SYN flood from random spoofed sources in an allowed "
                  "range (198.19.0.0/17)"),
    "udp4": (4, "udp", "198.19.128.0", 15,
             "UDP junk to the guarded port, random non-allowed sources"),
    "icmp4": (4, "icmp", "198.19.128.0", 15,
              "ICMP echo junk, random non-allowed sources"),
    "deny6": (6, "syn", "fd00:5c::dead:0", 16,
              "IPv6 SYNs from random denied sources"),
    "synspoof6": (6, "syn", "fd00:5c::a:0", 16,
                  "IPv6 SYN flood from random sources in an allowed range"),
}
CONTENDERS = ["nofilter", "nftables", "sluice"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(cmd, check=True, timeout=60, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {r.returncode}"
                           f"\n{r.stdout}{r.stderr}")
    return r


def ns(n, *cmd):
    return ["ip", "netns", "exec", n, *cmd]


def nsnet(n, *cmd):
    """nsenter --net only: the process keeps the host's /sys (bpffs)."""
    return ["nsenter", f"--net=/run/netns/{n}", *cmd]


class Bench:
    def __init__(self, args):
        self.args = args
        self.procs = []         # Popen objects we started, killed at exit
        self.wd = Path(tempfile.mkdtemp(prefix=f"sluice-flood-{P}-"))
        self.sluiced = None
        self.nginx = None
        self.napi_g = None

    # ---- processes ---------------------------------------------------------

    def spawn(self, name, argv):
        out = open(self.wd / f"{name}.log", "ab")
        p = subprocess.Popen([str(a) for a in argv], stdout=out,
                             stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        p.logname = name
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def logtail(self, name, n=30):
        try:
            return "".join((self.wd / f"{name}.log").read_text(
                errors="replace").splitlines(True)[-n:])
        except OSError:
            return ""

    def cleanup(self):
        for p in list(self.procs):
            try:
                self.stop(p, timeout=5)
            except Exception:           # keep cleaning up
                pass
        for n in (NS_G, NS_A, NS_C):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        if PIN.exists():
            shutil.rmtree(PIN, ignore_errors=True)
        if not self.args.keep:
            shutil.rmtree(self.wd, ignore_errors=True)

    # ---- topology ----------------------------------------------------------

    def mac(self, n, dev):
        r = sh(["ip", "-n", n, "-j", "link", "show", dev])
        return json.loads(r.stdout)[0]["address"]

    def topology(self):
        for n in (NS_C, NS_A, NS_G):
            sh(["ip", "netns", "add", n])
            sh(["ip", "-n", n, "link", "set", "lo", "up"])
        sh(["ip", "link", "add", C0, "netns", NS_C, "type", "veth", "peer",
            "name", R0, "netns", NS_A])
        sh(["ip", "link", "add", A0, "netns", NS_A, "type", "veth", "peer",
            "name", G0, "netns", NS_G])
        sh(["ip", "link", "add", D0, "netns", NS_A, "type", "veth", "peer",
            "name", D1, "netns", NS_A])
        sh(["ip", "link", "add", X0, "netns", NS_A, "type", "veth", "peer",
            "name", X1, "netns", NS_A])
        for n, dev, a4, a6 in ((NS_C, C0, CL4, CL6), (NS_A, R0, RC4, RC6),
                               (NS_A, A0, RT4, RT6), (NS_G, G0, GW4, GW6)):
            sh(["ip", "-n", n, "addr", "add", f"{a4}/24", "dev", dev])
            sh(["ip", "-n", n, "addr", "add", f"{a6}/112", "dev", dev,
                "nodad"])
        for n, dev in ((NS_C, C0), (NS_A, R0), (NS_A, A0), (NS_G, G0),
                       (NS_A, D0), (NS_A, D1), (NS_A, X0), (NS_A, X1)):
            sh(["ip", "-n", n, "link", "set", dev, "up"])
        sh(["ip", "-n", NS_C, "route", "add", "default", "via", RC4])
        sh(["ip", "-n", NS_C, "-6", "route", "add", "default", "via", RC6])
        sh(["ip", "-n", NS_G, "route", "add", "default", "via", RT4])
        sh(["ip", "-n", NS_G, "-6", "route", "add", "default", "via", RT6])
        sh(ns(NS_A, "sysctl", "-qw", "net.ipv4.ip_forward=1",
              "net.ipv6.conf.all.forwarding=1"))
        # static neighbours: no ARP/ND through the filters (with
        # xdp.scope: all Sluice judges ND from link-local sources too)
        self.mac_g, self.mac_a = self.mac(NS_G, G0), self.mac(NS_A, A0)
        self.mac_c, self.mac_r = self.mac(NS_C, C0), self.mac(NS_A, R0)
        for n, dev, addr, m in ((NS_G, G0, RT4, self.mac_a),
                                (NS_G, G0, RT6, self.mac_a),
                                (NS_A, A0, GW4, self.mac_g),
                                (NS_A, A0, GW6, self.mac_g),
                                (NS_A, R0, CL4, self.mac_c),
                                (NS_A, R0, CL6, self.mac_c),
                                (NS_C, C0, RC4, self.mac_r),
                                (NS_C, C0, RC6, self.mac_r)):
            sh(["ip", "-n", n, "neigh", "replace", addr, "lladdr", m,
                "dev", dev, "nud", "permanent"])
        # replies to spoofed sources end at a0: dropped by the sink
        sh(nsnet(NS_A, XB, "sink", A0, "--net4", "198.18.1.0/24",
                 "--net6", "fd00:5c::1:0/112"))
        self.threaded(NS_A, A0, CPU_CLIENT, 5)
        # the generator's frame loop: x0 bounces frames back, x1 runs
        # floodgen_loop (xdpbench loop replaces both programs each run);
        # both NAPI threads on the client's CPU, SCHED_OTHER
        sh(nsnet(NS_A, XB, "attach", X0, "tx"))
        sh(nsnet(NS_A, XB, "attach", X1, "pass"))
        self.threaded(NS_A, X0, CPU_CLIENT, 0)
        self.threaded(NS_A, X1, CPU_CLIENT, 0)
        sh(nsnet(NS_G, XB, "attach", G0, "pass"))
        self.napi_g = self.threaded(NS_G, G0, CPU_GW, 10)

    def wait_up(self):
        """The client gets an answer through the gateway, both families."""
        t = time.time() + 10
        while time.time() < t:
            ok = [sh(ns(NS_C, "curl", "-sf", "-o", "/dev/null", "-g",
                        "--max-time", "1", f"http://{h}:{PORT}/"),
                     check=False).returncode == 0
                  for h in (GW4, f"[{GW6}]")]
            if all(ok):
                return
            time.sleep(0.2)
        raise RuntimeError("the client gets no answer through the gateway "
                           f"(curl http://{GW4}:{PORT}/ and [{GW6}])\n"
                           f"{self.logtail('sluiced')}")

    def threaded(self, n, dev, cpu, prio):
        """Threaded NAPI for dev, its thread on cpu at SCHED_FIFO prio."""
        sh(ns(n, "sh", "-c", f"echo 1 > /sys/class/net/{dev}/threaded"))
        pid = None
        for _ in range(50):
            for line in sh(["ps", "-eo", "pid=,comm="]).stdout.splitlines():
                f = line.split()
                if len(f) == 2 and f[1].startswith(f"napi/{dev}-"):
                    pid = int(f[0])
            if pid:
                break
            time.sleep(0.1)
        if not pid:
            raise RuntimeError(f"no NAPI thread for {dev}")
        sh(["taskset", "-pc", cpu, pid])
        if prio:
            sh(["chrt", "-f", "-p", prio, pid])
        return pid

    # ---- gateway -----------------------------------------------------------

    def start_nginx(self):
        d = self.wd
        (d / "origin").mkdir(exist_ok=True)
        body = "hello from the origin: a small response.\n"
        (d / "origin.conf").write_text(f"""
worker_processes 1;
pid {d}/origin.pid;
error_log {d}/origin-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/origin; proxy_temp_path {d}/origin;
  fastcgi_temp_path {d}/origin; uwsgi_temp_path {d}/origin;
  scgi_temp_path {d}/origin;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{ORIGIN_PORT} backlog=4096;
    default_type text/plain;
    location / {{ return 200 '{body}'; }}
  }}
}}
""")
        self.nginx = self.spawn("origin", ns(
            NS_G, "taskset", "-c", CPU_GW, "nginx", "-c", d / "origin.conf",
            "-e", d / "origin-error.log"))
        self.wait_port(ORIGIN_PORT, "127.0.0.1", self.nginx)

    def wait_port(self, port, host, proc, timeout=20):
        t = time.time() + timeout
        pat = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        while time.time() < t:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.logname} exited "
                                   f"({proc.returncode}):\n"
                                   f"{self.logtail(proc.logname)}")
            r = sh(ns(NS_G, "ss", "-Hltn"), check=False)
            if pat in r.stdout:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{proc.logname}: nothing listens on {pat}")

    def sluiced_config(self, xdp):
        d = self.wd
        (d / "allow.txt").write_text(
            f"{CL4}/32 rate=10000000/s burst=10000000 syn=1000000/s\n"
            f"{CL6}/128 rate=10000000/s burst=10000000 syn=1000000/s\n"
            + "".join(a + "\n" for a in ALLOW_RANGE))
        (d / "deny.txt").write_text("".join(a + "\n" for a in DENY))
        y = ["listeners:", "  - name: v4", f'    address: "{GW4}:{PORT}"',
             "  - name: v6", f'    address: "[{GW6}]:{PORT}"',
             "admin:", f"  socket: {d}/admin.sock",
             f"  address: 127.0.0.1:{ORIGIN_PORT + 1}", "xdp:"]
        if xdp:
            y += ["  enabled: true", f"  interfaces: [{G0}]",
                  "  mode: native", f"  pin_path: {PIN}", "  scope: all",
                  "  allowlist:", "    files: [allow.txt]",
                  "  denylist:", "    files: [deny.txt]",
                  "  rate_limit:", f"    rate: {RATE}/s",
                  f"    burst: {BURST}", f"    syn: {SYN}/s",
                  f"    syn_burst: {SYN_BURST}", "    ipv6_prefix: 128",
                  "  syncookies:", "    enabled: auto",
                  "    syn_rate: 5000/s"]
        else:
            y += ["  enabled: false"]
        y += ["services:", "  - name: origin",
              f'    targets: ["127.0.0.1:{ORIGIN_PORT}"]',
              "routes:", "  - name: all", "    path_prefix: /",
              "    service: origin", "workers: 1", "logging:",
              "  level: warn"]
        p = d / f"sluiced-{'xdp' if xdp else 'plain'}.yaml"
        p.write_text("\n".join(y) + "\n")
        return p

    def start_sluiced(self, xdp):
        cfg = self.sluiced_config(xdp)
        if xdp:
            # sluiced attaches its own program; the NAPI thread goes with
            # the detach and comes back with the attach
            sh(["ip", "-n", NS_G, "link", "set", G0, "xdp", "off"])
        self.sluiced = self.spawn("sluiced", nsnet(
            NS_G, "taskset", "-c", CPU_GW, SLUICED, "-c", cfg))
        self.wait_port(PORT, GW4, self.sluiced)
        self.wait_port(PORT, GW6, self.sluiced)
        if xdp:
            r = sh(["ip", "-n", NS_G, "-j", "link", "show", G0])
            if "xdp" not in json.loads(r.stdout)[0]:
                raise RuntimeError("sluiced started but no XDP program is "
                                   f"attached to {G0}")
            self.napi_g = self.threaded(NS_G, G0, CPU_GW, 10)
        self.wait_up()

    def stop_sluiced(self, xdp):
        rc = self.stop(self.sluiced)
        self.sluiced = None
        if rc != 0:
            raise RuntimeError(f"sluiced exit status {rc}:\n"
                               f"{self.logtail('sluiced')}")
        if xdp:
            sh(nsnet(NS_G, XB, "attach", G0, "pass"))
            self.napi_g = self.threaded(NS_G, G0, CPU_GW, 10)

    def nft_rules(self):
        return f"""
table netdev slflood {{
  set deny4 {{ type ipv4_addr; flags interval; elements = {{ {DENY[0]} }} }}
  set deny6 {{ type ipv6_addr; flags interval; elements = {{ {DENY[1]} }} }}
  set allow4 {{ type ipv4_addr; flags interval;
    elements = {{ {CL4}, {ALLOW_RANGE[0]} }} }}
  set allow6 {{ type ipv6_addr; flags interval;
    elements = {{ {CL6}, {ALLOW_RANGE[1]} }} }}
  set pk4 {{ type ipv4_addr; size 65536; flags dynamic,timeout; timeout 10s; }}
  set pk6 {{ type ipv6_addr; size 65536; flags dynamic,timeout; timeout 10s; }}
  set syn4 {{ type ipv4_addr; size 65536; flags dynamic,timeout; timeout 10s; }}
  set syn6 {{ type ipv6_addr; size 65536; flags dynamic,timeout; timeout 10s; }}
  chain in {{
    type filter hook ingress device "{G0}" priority 0; policy accept;
    ip saddr @deny4 counter name drop_deny drop
    ip6 saddr @deny6 counter name drop_deny drop
    meta protocol ip ip saddr != @allow4 counter name drop_not_allowed drop
    meta protocol ip6 ip6 saddr != @allow6 counter name drop_not_allowed drop
    ip saddr {CL4} accept
    ip6 saddr {CL6} accept
    meta protocol ip add @pk4 {{ ip saddr limit rate over {RATE}/second burst {BURST} packets }} counter name drop_rate drop
    meta protocol ip6 add @pk6 {{ ip6 saddr limit rate over {RATE}/second burst {BURST} packets }} counter name drop_rate drop
    tcp flags & (syn|ack) == syn meta protocol ip add @syn4 {{ ip saddr limit rate over {SYN}/second burst {SYN_BURST} packets }} counter name drop_syn_rate drop
    tcp flags & (syn|ack) == syn meta protocol ip6 add @syn6 {{ ip6 saddr limit rate over {SYN}/second burst {SYN_BURST} packets }} counter name drop_syn_rate drop
  }}
  counter drop_deny {{ }}
  counter drop_not_allowed {{ }}
  counter drop_rate {{ }}
  counter drop_syn_rate {{ }}
}}
"""

    # ---- measurements ------------------------------------------------------

    def drops(self, contender):
        """Drop counters by reason: Sluice's pinned stats map (sluicectl),
        the nftables named counters; nothing for nofilter."""
        if contender == "sluice":
            r = sh([SLUICECTL, "--pin-path", PIN, "--json", "status"])
            c = json.loads(r.stdout)["counters"]
            return {k: int(v["packets"]) for k, v in c.items()}
        if contender == "nftables":
            r = sh(ns(NS_G, "nft", "-j", "list", "counters"))
            out = {}
            for o in json.loads(r.stdout)["nftables"]:
                c = o.get("counter")
                if c and c.get("table") == "slflood":
                    out[c["name"]] = int(c["packets"])
            return out
        return {}

    def ethtool(self, n, dev):
        r = sh(ns(n, "ethtool", "-S", dev))
        out = {}
        for line in r.stdout.splitlines()[1:]:
            k, _, v = line.strip().partition(":")
            try:
                out[k.strip()] = int(v)
            except ValueError:
                pass
        return out

    def snapshot(self, contender):
        cpu = open("/proc/stat").read().splitlines()
        c1 = next(l for l in cpu if l.startswith(f"cpu{CPU_GW} ")).split()
        vals = list(map(int, c1[1:]))
        napi = 0
        try:
            napi = int(open(f"/proc/{self.napi_g}/schedstat").read().split()[0])
        except OSError:
            pass
        g = self.ethtool(NS_G, G0)
        return {"t": time.time(), "cpu_total": sum(vals[:8]),
                "cpu_idle": vals[3] + vals[4], "napi_ns": napi,
                "g0_rx_xdp": g.get("rx_queue_0_xdp_packets", 0),
                "g0_rx_drops": g.get("rx_queue_0_drops", 0)
                + g.get("rx_queue_0_xdp_drops", 0),
                "drops": self.drops(contender)}

    def wrk(self, fam, seconds):
        host = f"[{GW6}]" if fam == 6 else GW4
        r = sh(ns(NS_C, "taskset", "-c", CPU_CLIENT, "wrk", "-t1",
                  f"-c{self.args.conns}", f"-d{seconds}s", "--timeout", "2s",
                  "--latency", f"http://{host}:{PORT}/"),
               timeout=seconds + 30)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
        p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", r.stdout, re.M)
        if not rps:
            raise RuntimeError(f"wrk output not understood:\n{r.stdout}"
                               f"{r.stderr}")
        p99_ms = None
        if p99:
            p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1.0,
                                             "s": 1e3}[p99.group(2)]
        errs = re.search(r"Socket errors: (.*)", r.stdout)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
        return {"rps": float(rps.group(1)), "p99_ms": p99_ms,
                "socket_errors": errs.group(1) if errs else None,
                "non_2xx": int(non2xx.group(1)) if non2xx else 0}

    def phase(self, contender, fam, mix, rate):
        """One phase: the generator running (into g0 for a mix, into the
        refusing d0 for the no-flood phase), wrk measuring after it has
        settled. Returns a dict of the figures."""
        secs = self.args.seconds
        settle = self.args.settle
        if mix is None:
            dev, src, bits, kind = D0, RT4 if fam == 4 else RT6, 0, "syn"
            dst, mac = (GW4 if fam == 4 else GW6), self.mac_g
        else:
            f, kind, src, bits, _ = MIXES[mix]
            dev, dst, mac = A0, (GW4 if f == 4 else GW6), self.mac_g
        gen = self.spawn("gen", nsnet(
            NS_A, "taskset", "-c", CPU_CLIENT, XB, "loop", X0, X1, dev,
            "--src", src, "--src-bits", bits, "--dst", dst, "--dst-mac", mac,
            "--kind", kind, "--rate", rate, "--frames", self.args.frames,
            "--burst", self.args.burst,
            "--seconds", secs + settle + 0.5))
        time.sleep(settle)
        if gen.poll() is not None:
            raise RuntimeError(f"generator exited early:\n"
                               f"{self.logtail('gen')}")
        s0 = self.snapshot(contender)
        w = self.wrk(fam, secs)
        s1 = self.snapshot(contender)
        try:
            gen.wait(timeout=30)
        finally:
            self.stop(gen)
        if gen.returncode != 0:
            raise RuntimeError(f"generator failed ({gen.returncode}):\n"
                               f"{self.logtail('gen')}")
        g = json.loads(self.logtail("gen", 1))
        dt = s1["t"] - s0["t"]
        tot = s1["cpu_total"] - s0["cpu_total"]
        busy = 1 - (s1["cpu_idle"] - s0["cpu_idle"]) / tot if tot else None
        drops = {k: v - s0["drops"].get(k, 0) for k, v in s1["drops"].items()
                 if v - s0["drops"].get(k, 0)}
        return {**w, "gen": g,
                "gen_offered_pps": (g["delivered"] + g["refused"])
                / g["seconds"],
                "gen_delivered_pps": g["delivered"] / g["seconds"],
                "g0_xdp_rx_pps": (s1["g0_rx_xdp"] - s0["g0_rx_xdp"]) / dt,
                "gw_cpu_busy": busy,
                "gw_napi_busy": (s1["napi_ns"] - s0["napi_ns"]) / dt / 1e9,
                "drops": drops}

    # ---- run ---------------------------------------------------------------

    def contender_setup(self, c):
        if c == "sluice":
            self.start_sluiced(True)
        else:
            sh(ns(NS_G, "sysctl", "-qw", "net.ipv4.tcp_syncookies=1"))
            self.start_sluiced(False)
            if c == "nftables":
                sh(ns(NS_G, "nft", "-f", "-"), input=self.nft_rules())

    def contender_teardown(self, c):
        if c == "nftables":
            sh(ns(NS_G, "nft", "delete", "table", "netdev", "slflood"))
        self.stop_sluiced(c == "sluice")

    def run(self):
        a = self.args
        res = {"date": datetime.datetime.now(datetime.timezone.utc)
               .isoformat(timespec="seconds"),
               "kernel": platform.release(), "cpus": os.cpu_count(),
               "smoke": a.smoke, "load_before": open("/proc/loadavg")
               .read().split()[:3],
               "settings": {"seconds": a.seconds, "settle": a.settle,
                            "frames": a.frames, "burst": a.burst, "conns": a.conns,
                            "rates": a.rates, "mixes": a.mixes,
                            "contenders": a.contenders},
               "mixes": {m: MIXES[m][4] for m in a.mixes},
               "contenders": {}}
        self.topology()
        self.start_nginx()
        # contenders interleaved within each mix, each flood phase compared
        # with a no-flood phase of the same contender run just before it:
        # the machine's other load drifts over minutes
        for c in a.contenders:
            res["contenders"][c] = {"baseline": {}, "mixes": {}}
        for m in a.mixes:
            fam = MIXES[m][0]
            for c in a.contenders:
                cr = res["contenders"][c]
                log(f"== {m}: {c}")
                self.contender_setup(c)
                try:
                    b = self.phase(c, fam, None, 0)
                    cr["baseline"][m] = b
                    log(f"{c} no flood v{fam}: {b['rps']:.0f} req/s p99 "
                        f"{b['p99_ms']} ms, gw cpu {b['gw_cpu_busy']:.2f}")
                    cr["mixes"][m] = {}
                    for rate in a.rates:
                        r = self.phase(c, fam, m, rate)
                        cr["mixes"][m][str(rate) if rate else "max"] = r
                        log(f"{c} {m} rate {rate or 'max'}: offered "
                            f"{r['gen_offered_pps'] / 1e6:.2f} Mpps, "
                            f"delivered {r['gen_delivered_pps'] / 1e6:.2f}"
                            f", legit {r['rps']:.0f} req/s "
                            f"({r['rps'] / b['rps']:.2f}) p99 "
                            f"{r['p99_ms']} ms, gw cpu "
                            f"{r['gw_cpu_busy']:.2f}, napi "
                            f"{r['gw_napi_busy']:.2f}, drops {r['drops']}")
                    # and a no-flood phase after: each flood phase is
                    # compared with the mean of the two
                    b2 = self.phase(c, fam, None, 0)
                    b["rps_after"] = b2["rps"]
                    b["p99_ms_after"] = b2["p99_ms"]
                    b["rps_mean"] = (b["rps"] + b2["rps"]) / 2
                    log(f"{c} no flood again: {b2['rps']:.0f} req/s")
                    for r in cr["mixes"][m].values():
                        r["legit_retained_ratio"] = (
                            r["rps"] / b["rps_mean"] if b["rps_mean"]
                            else 0.0)
                finally:
                    self.contender_teardown(c)
        res["load_after"] = open("/proc/loadavg").read().split()[:3]
        # the headline: retained ratio per mix and contender at the
        # generator's maximum rate (the lower rates are under "contenders")
        top = "max" if 0 in a.rates else str(a.rates[0])
        res["legit_retained_ratio"] = {
            m: {c: res["contenders"][c]["mixes"][m][top]
                ["legit_retained_ratio"] for c in a.contenders}
            for m in a.mixes}
        res["legit_retained_ratio_min_over_rates"] = {
            m: {c: min(r["legit_retained_ratio"] for r in
                       res["contenders"][c]["mixes"][m].values())
                for c in a.contenders}
            for m in a.mixes}
        return res


def goals(res):
    """Sluice >= 0.9 of its no-flood rate in every mix and rate, and >= 3x
    what nftables keeps in the same mix and rate."""
    out = {"sluice_ge_0.9": True, "sluice_ge_3x_nftables": True,
           "misses": []}
    cs = res["contenders"]
    if "sluice" not in cs:
        return out
    for m, rates in cs["sluice"]["mixes"].items():
        for rk, r in rates.items():
            s = r["legit_retained_ratio"]
            if s < 0.9:
                out["sluice_ge_0.9"] = False
                out["misses"].append(f"{m}@{rk}: sluice {s:.2f} < 0.9")
            if "nftables" in cs:
                n = cs["nftables"]["mixes"][m][rk]["legit_retained_ratio"]
                if s < 3 * n:
                    out["sluice_ge_3x_nftables"] = False
                    out["misses"].append(
                        f"{m}@{rk}: sluice {s:.2f} < 3 x nftables {n:.2f}")
    return out


# ---- report ----------------------------------------------------------------

def plot(res, png):
    """One panel per mix: legit retained ratio against the offered flood
    rate, one line per contender."""
    d = Path(tempfile.mkdtemp(prefix="sluice-flood-plot-"))
    try:
        mixes = list(res["mixes"])
        script = [f"set terminal pngcairo size 1200,{300 * ((len(mixes) + 3) // 4)} font ',9'"
                  if "pngcairo" in sh(["gnuplot", "-e", "set terminal"],
                                      check=False).stdout + sh(
                      ["gnuplot", "-e", "set terminal"], check=False).stderr
                  else f"set terminal png size 1200,{300 * ((len(mixes) + 3) // 4)}",
                  f"set output '{png}'",
                  f"set multiplot layout {(len(mixes) + 3) // 4},4 "
                  "title 'legitimate req/s kept under flood (1 = no-flood rate)'",
                  "set yrange [0:1.3]", "set key top right opaque box font ',8'",
                  "set xlabel 'flood offered, Mpps'", "set grid"]
        for m in mixes:
            plots = []
            for c in res["contenders"]:
                rows = sorted((r["gen_offered_pps"] / 1e6,
                               r["legit_retained_ratio"])
                              for r in res["contenders"][c]["mixes"][m]
                              .values())
                f = d / f"{m}-{c}.dat"
                f.write_text("".join(f"{x} {y}\n" for x, y in rows))
                plots.append(f"'{f}' using 1:2 with linespoints title '{c}'")
            script += [f"set title '{m}'", "plot " + ", ".join(plots)]
        script.append("unset multiplot")
        sh(["gnuplot"], input="\n".join(script) + "\n")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def napi_ns(r):
    """CPU time of g0's NAPI thread per frame through g0's XDP hook (flood
    and legitimate packets alike), ns: what a frame costs the gateway's
    receive path, the figure least moved by the machine's other load (the
    thread runs SCHED_FIFO)."""
    if not r.get("g0_xdp_rx_pps"):
        return "-"
    return f"{r['gw_napi_busy'] * 1e9 / r['g0_xdp_rx_pps']:.0f}"


def markdown(res, g, png_rel):
    cs = res["contenders"]
    L = ["<!-- FLOOD-BENCH:BEGIN (written by scripts/bench_flood.py; do not "
         "edit) -->",
         f"### The last run ({res['date']})", "",
         f"Kernel {res['kernel']}, {res['cpus']} CPUs. Load average "
         f"before/after: {' '.join(res['load_before'])} / "
         f"{' '.join(res['load_after'])} (other work shared the two cores "
         "during this run: see *What this shows* below). Phases of "
         f"{res['settings']['seconds']} s of wrk (1 thread, "
         f"{res['settings']['conns']} keep-alive connections), "
         f"{res['settings']['frames']} frames circulating in the "
         "generator's loop, paced rates sent in bursts of "
         f"{res['settings']['burst']}; one round.", "",
         "Each mix: per contender, a no-flood phase (the generator running "
         "into the refusing veth), the flood phases, a no-flood phase; "
         "*kept* is req/s under flood / the mean of the no-flood req/s "
         "before and after them (rate `none`: those two phases). "
         "*offered* is the generator's frames/s out of its veth, "
         "*delivered* those g0's ring took (the rest the full ring "
         "refused). *gateway CPU*: CPU 1 busy; *NAPI*: g0's NAPI thread's "
         "share of it; *NAPI ns/frame*: that thread's CPU time per frame "
         "through g0's XDP hook (flood and legitimate alike).", "",
          "| mix | rate | contender | offered Mpps | delivered Mpps | "
          "req/s | kept | p99 ms | gateway CPU | NAPI | NAPI ns/frame | "
          "drops (by reason) |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in res["mixes"]:
        for c, cr in cs.items():
            b = cr["baseline"][m]
            L.append(f"| {m} | none | {c} | - | - | {b['rps']:.0f} / "
                     f"{b['rps_after']:.0f} | 1 | {b['p99_ms']} | "
                     f"{100 * b['gw_cpu_busy']:.0f}% | "
                     f"{100 * b['gw_napi_busy']:.0f}% | "
                     f"{napi_ns(b)} | - |")
            for rk, r in cr["mixes"][m].items():
                dr = ", ".join(f"{k} {v}" for k, v in sorted(
                    r["drops"].items()) if k.startswith(("drop", "tx_")))
                L.append(f"| {m} | {rk} | {c} | "
                         f"{r['gen_offered_pps'] / 1e6:.2f} | "
                         f"{r['gen_delivered_pps'] / 1e6:.2f} | "
                         f"{r['rps']:.0f} | "
                         f"**{r['legit_retained_ratio']:.2f}** | "
                         f"{r['p99_ms']} | "
                         f"{100 * r['gw_cpu_busy']:.0f}% | "
                         f"{100 * r['gw_napi_busy']:.0f}% | "
                         f"{napi_ns(r)} | {dr or '-'} |")
    L += ["", "Mixes: " + "; ".join(f"`{k}` {v}" for k, v in
                                    res["mixes"].items()) + ".", "",
          f"![legitimate req/s kept per mix]({png_rel})", "",
          "Goals (every mix and rate of this run): Sluice keeps >= 90% of "
          f"its no-flood rate: **{'met' if g['sluice_ge_0.9'] else 'missed'}**;"
          " Sluice keeps >= 3x what nftables keeps: "
          f"**{'met' if g['sluice_ge_3x_nftables'] else 'missed'}**."]
    if g["misses"]:
        L += ["", "Misses: " + "; ".join(g["misses"]) + "."]
    L += ["", "<!-- FLOOD-BENCH:END -->"]
    return "\n".join(L)


def report(res, g):
    """docs/bench-flood.png and the FLOOD-BENCH section of BENCHMARKS.md."""
    png = REPO / "docs" / "bench-flood.png"
    plot(res, png)
    doc = REPO / "docs" / "BENCHMARKS.md"
    section = markdown(res, g, "bench-flood.png")
    text = doc.read_text()
    pat = re.compile(r"<!-- FLOOD-BENCH:BEGIN.*?<!-- FLOOD-BENCH:END -->",
                     re.S)
    if pat.search(text):
        text = pat.sub(lambda m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text)
    log(f"wrote {doc} and {png}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true",
                    help="CI: one mix, ~1 s phases, checks only that every "
                    "part runs and the figures are produced")
    ap.add_argument("--out", default=str(BUILD / "bench" /
                                         "flood-results.json"))
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (logs, configs)")
    ap.add_argument("--report", metavar="JSON",
                    help="only write the docs section and plots from the "
                    "results of an earlier run")
    a = ap.parse_args()
    if a.report:
        res = json.loads(Path(a.report).read_text())
        report(res, res["goals"])
        return
    env = os.environ.get
    if a.smoke:
        a.seconds, a.settle, a.rates = 1, 0.5, [0]
        a.mixes = env("BENCH_FLOOD_MIXES", "deny4").split(",")
    else:
        a.seconds = int(env("BENCH_FLOOD_SECONDS", "3"))
        a.settle = float(env("BENCH_FLOOD_SETTLE", "1"))
        a.rates = [int(float(x)) for x in env(
            "BENCH_FLOOD_RATES", "0,300000,100000").split(",")]
        a.mixes = env("BENCH_FLOOD_MIXES", ",".join(MIXES)).split(",")
    a.frames = int(env("BENCH_FLOOD_FRAMES", "128"))
    a.burst = int(env("BENCH_FLOOD_BURST", "32"))
    a.conns = int(env("BENCH_FLOOD_CONNS", "16"))
    a.contenders = env("BENCH_FLOOD_CONTENDERS",
                       ",".join(CONTENDERS)).split(",")
    for m in a.mixes:
        if m not in MIXES:
            sys.exit(f"bench-flood: unknown mix {m!r} (one of "
                     f"{', '.join(MIXES)})")
    for c in a.contenders:
        if c not in CONTENDERS:
            sys.exit(f"bench-flood: unknown contender {c!r}")
    if os.geteuid() != 0:
        sys.exit("bench-flood: needs root (namespaces, XDP)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench-flood: needs 2 CPUs")
    for t in ("wrk", "nft", "ethtool", "nginx", "nsenter", "taskset",
              "chrt", "gnuplot"):
        if not shutil.which(t):
            sys.exit(f"bench-flood: '{t}' not found (bash scripts/deps.sh)")
    for f in (SLUICED, SLUICECTL, XB):
        if not f.exists():
            sys.exit(f"bench-flood: {f} missing (make)")
    b = Bench(a)

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        res = b.run()
    finally:
        b.cleanup()
    g = goals(res)
    res["goals"] = g
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    log(f"wrote {out}")
    if not a.smoke and env("BENCH_NO_DOC", "0") != "1":
        report(res, g)
    for m, v in res["legit_retained_ratio"].items():
        log(f"  {m}: " + ", ".join(f"{c} {x:.2f}" for c, x in v.items()))
    log(f"  goals: {g}")


if __name__ == "__main__":
    main()
