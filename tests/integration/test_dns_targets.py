"""DNS names as targets (docs/CONFIG.md, "DNS names as targets"), against a
real dnsmasq on a loopback port of the server namespace. The names resolve
to 127.0.0.x addresses (and ::1) of that namespace, where real backends
listen and say who they are. Shown: every address of a name gets traffic;
a changed answer moves traffic without a reload and without a failed
request under bounded load; with dnsmasq gone the last good set keeps
serving and the failures are counted; a name that never resolves answers
503 JSON naming the service; bad names and bad dns: settings are
file:line:col errors, a bad reload keeps the running config; a reload keeps
the resolved addresses; AAAA works."""
import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import helpers as h
import raw

GW = h.GW_PORT + 81
ADMIN = "127.0.0.1:9981"             # in the server netns
BPORT = 9081                          # every backend's port, on its own IP
DNS_PORT = 5381                       # dnsmasq, 127.0.0.1 of the server netns
DNS = f"127.0.0.1:{DNS_PORT}"
LISTEN = [{"address": f"{h.SRV4}:{GW}"}]
NAME = "api.test"
TARGET = f"{NAME}:{BPORT}"


def dnsmasq_argv(hosts):
    return ["ip", "netns", "exec", h.SRV_NS, "dnsmasq", "--no-daemon",
            "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            f"--addn-hosts={hosts}", "--listen-address=127.0.0.1",
            "--bind-interfaces", f"--port={DNS_PORT}", "--local-ttl=1",
            "--local=/test/", "--user=root", "--pid-file="]


class Dnsmasq:
    """dnsmasq answering from a hosts file we rewrite (SIGHUP rereads it)."""

    def __init__(self, workdir, records):
        self.hosts = Path(workdir) / "dns-hosts"
        self.write(records)
        self.proc = None
        self.start()

    def write(self, records):
        self.hosts.write_text("".join(f"{ip} {name}\n"
                                      for name, ips in records.items()
                                      for ip in ips))

    def start(self):
        self.proc = subprocess.Popen(dnsmasq_argv(self.hosts),
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        h.CLEANUP.procs[self.proc.pid] = self.proc
        h.wait_for(lambda: self.answers(), 10, what="dnsmasq answering")

    def answers(self):
        """Whether something listens on the DNS port (UDP)."""
        r = subprocess.run(["ip", "netns", "exec", h.SRV_NS, "ss", "-Hlun",
                            f"sport = :{DNS_PORT}"], capture_output=True,
                           text=True, timeout=10)
        return bool(r.stdout.strip())

    def change(self, records):
        self.write(records)
        self.proc.send_signal(signal.SIGHUP)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc:
            h.CLEANUP.procs.pop(self.proc.pid, None)
        self.proc = None


@pytest.fixture
def dnsmasq(topo, workdir):
    d = Dnsmasq(workdir, {NAME: ["127.0.0.2", "127.0.0.3"]})
    yield d
    d.kill()


@pytest.fixture
def loop_backends(topo, workdir):
    """dns2..dns4 on 127.0.0.2..4 and dns6 on ::1, all on BPORT."""
    procs = {n: h.start_backend(n, [a], workdir) for n, a in (
        ("dns2", f"127.0.0.2:{BPORT}"), ("dns3", f"127.0.0.3:{BPORT}"),
        ("dns4", f"127.0.0.4:{BPORT}"), ("dns6", f"[::1]:{BPORT}"))}
    yield procs
    for p in procs.values():
        if p.alive():
            p.stop()


def service(targets, **extra):
    s = {"name": "api", "targets": targets, "connect_timeout_ms": 1000}
    s.update(extra)
    return s


def dns_section(**kw):
    d = {"servers": [DNS], "min_ttl_ms": 200, "max_ttl_ms": 1000,
         "timeout_ms": 300}
    d.update(kw)
    return d


def start_gw(workdir, name, services, dns=None, workers=2):
    top = {"admin": {"address": ADMIN,
                     "socket": str(Path(workdir) / f"{name}-admin.sock")},
           "dns": dns if dns is not None else dns_section()}
    routes = [{"name": "all", "path_prefix": "/", "service": "api"}]
    return raw.start(workdir, name, listeners=LISTEN, services=services,
                     routes=routes, top=top, workers=workers)


def get(path="/"):
    c = raw.Conn(port=GW)
    try:
        c.send(raw.request("GET", path))
        return c.response()
    finally:
        c.close()


def who(path="/"):
    r = get(path)
    assert r.status == 200, (r.status, r.body)
    return r.json()["backend"]


def ctl(workdir, name, *args, check=True):
    return h.run([h.SLUICECTL, "--socket",
                  Path(workdir) / f"{name}-admin.sock", *args],
                 timeout=20, check=check)


def upstreams(workdir, name):
    return json.loads(ctl(workdir, name, "--json", "upstreams").stdout)[
        "services"][0]


def addresses(workdir, name):
    return sorted(t["address"] for t in upstreams(workdir, name)["targets"])


def metrics():
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{ADMIN}/metrics"], timeout=10)
    return r.stdout


def series(metric, **labels):
    """Value of the series metric{labels} (None when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics().splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != metric:
            continue
        if ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    return None


def until_addresses(workdir, name, want, timeout=15):
    h.wait_for(lambda: addresses(workdir, name) == sorted(want), timeout,
               what=f"targets {want}")


V4_23 = [f"127.0.0.2:{BPORT}", f"127.0.0.3:{BPORT}"]
V4_34 = [f"127.0.0.3:{BPORT}", f"127.0.0.4:{BPORT}"]


# ---- every address of a name ---------------------------------------------------

def test_every_address_of_a_name_gets_traffic(dnsmasq, loop_backends,
                                              workdir):
    # one worker: the round robin's order is that worker's alone
    s = start_gw(workdir, "dns-all", [service(
        ["127.0.0.4:%d" % BPORT, {"address": TARGET, "weight": 2}])],
        workers=1)
    try:
        until_addresses(workdir, "dns-all", V4_23 + [f"127.0.0.4:{BPORT}"])
        ups = upstreams(workdir, "dns-all")
        by = {t["address"]: t for t in ups["targets"]}
        # each address of the name has the name's weight and says where it
        # came from; the literal target is its own
        assert by[f"127.0.0.2:{BPORT}"]["from_name"] == TARGET, ups
        assert by[f"127.0.0.3:{BPORT}"]["weight"] == 2, ups
        assert by[f"127.0.0.4:{BPORT}"]["from_name"] is None, ups
        assert ups["names"] == [{"name": TARGET, "weight": 2,
                                 "addresses": 2}], ups
        seen = [who(f"/all/{i}") for i in range(25)]
        # smooth weighted round robin: 2:2:1
        assert seen.count("dns2") == 10 and seen.count("dns3") == 10 and \
            seen.count("dns4") == 5, seen
        table = ctl(workdir, "dns-all", "upstreams").stdout.splitlines()
        assert table[0].split()[-1] == "FROM", table
        assert any(l.split()[1] == f"127.0.0.2:{BPORT}" and
                   l.split()[-1] == TARGET for l in table[1:]), table
        assert series("sluice_dns_addresses", service="api",
                      name=TARGET) == 2
        assert series("sluice_dns_resolutions_total", service="api",
                      name=TARGET, result="success") >= 1
    finally:
        s.shutdown()


# ---- the answer changes under load -------------------------------------------

def test_changed_answer_moves_traffic_without_reload_or_error(
        dnsmasq, loop_backends, workdir):
    s = start_gw(workdir, "dns-move", [service(
        [TARGET], retries={"attempts": 3, "budget_percent": 100})])
    stop = Path(workdir) / "dns-move.stop"
    stop.unlink(missing_ok=True)
    try:
        until_addresses(workdir, "dns-move", V4_23)
        before = json.loads(ctl(workdir, "dns-move", "--json",
                                "upstreams").stdout)["generation"]
        load = subprocess.Popen(
            ["ip", "netns", "exec", h.CLI_NS, h.PY,
             Path(__file__).resolve().parent / "loadgen.py", "--src",
             h.ALLOWED4, "--host", h.SRV4, "--port", str(GW), "--threads",
             "4", "--stop-file", str(stop), "--max-seconds", "60",
             "--max-requests", "20000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        h.CLEANUP.procs[load.pid] = load
        try:
            b4 = loop_backends["dns4"]
            b2 = loop_backends["dns2"]
            h.wait_for(lambda: len(h.backend_log(b2)) >= 100, 30,
                       what="load reaching dns2")
            dnsmasq.change({NAME: ["127.0.0.3", "127.0.0.4"]})
            h.wait_for(lambda: len(h.backend_log(b4)) >= 200, 30,
                       what="load reaching the new address")
            n2 = len(h.backend_log(b2))
            n4 = len(h.backend_log(b4))
            h.wait_for(lambda: len(h.backend_log(b4)) >= n4 + 200, 30,
                       what="load going on")
            # the address that left gets nothing new
            assert len(h.backend_log(b2)) == n2
        finally:
            stop.touch()
            out, _ = load.communicate(timeout=90)
            h.CLEANUP.procs.pop(load.pid, None)
        res = json.loads(out)
        assert res["failed"] == 0, res
        assert res["ok"] > 400, res
        assert addresses(workdir, "dns-move") == V4_34
        assert {who(f"/after/{i}") for i in range(10)} == {"dns3", "dns4"}
        after = json.loads(ctl(workdir, "dns-move", "--json",
                               "upstreams").stdout)["generation"]
        assert after == before        # no reload
        assert "reload" not in s.output().split("dns: service api")[-1]
        assert series("sluice_dns_addresses", service="api",
                      name=TARGET) == 2
    finally:
        s.shutdown()


def test_ejection_of_an_address_that_stays_is_kept(dnsmasq, loop_backends,
                                                   workdir):
    """dns2 answers 500 and is ejected for a minute; the answer changes
    (dns2 stays, dns4 comes, dns3 goes): dns2 stays ejected in the new
    set, not reset to healthy, and gets no request."""
    s = start_gw(workdir, "dns-keep", [service(
        [TARGET], outlier={"consecutive_5xx": 1, "base_ejection_ms": 60000,
                           "max_ejected_percent": 50})], workers=1)
    dns2 = f"127.0.0.2:{BPORT}"

    def state(addr):
        for t in upstreams(workdir, "dns-keep")["targets"]:
            if t["address"] == addr:
                return t["state"]
        return None
    try:
        until_addresses(workdir, "dns-keep", V4_23)
        h.run(["ip", "netns", "exec", h.SRV_NS, "curl", "-sS", "--max-time",
               "5", f"http://{dns2}/fail/on"], timeout=10)
        statuses = [get(f"/e/{i}").status for i in range(4)]
        assert statuses.count(500) == 1, statuses
        assert state(dns2) == "ejected"
        n2 = len(h.backend_log(loop_backends["dns2"]))
        dnsmasq.change({NAME: ["127.0.0.2", "127.0.0.4"]})
        until_addresses(workdir, "dns-keep", [dns2, f"127.0.0.4:{BPORT}"])
        assert state(dns2) == "ejected"
        assert {who(f"/k/{i}") for i in range(6)} == {"dns4"}
        assert len(h.backend_log(loop_backends["dns2"])) == n2
    finally:
        h.run(["ip", "netns", "exec", h.SRV_NS, "curl", "-sS", "--max-time",
               "5", f"http://{dns2}/fail/off"], timeout=10, check=False)
        s.shutdown()


def test_many_changes_under_load(dnsmasq, loop_backends, workdir):
    """The answer flips between two sets eight times under load on two
    workers, with slow requests (700 ms) in flight across every swap: no
    failed request, and (under ASan) no use of a replaced set after it
    was freed."""
    s = start_gw(workdir, "dns-churn", [service(
        [TARGET], retries={"attempts": 3, "budget_percent": 100})])
    stop = Path(workdir) / "dns-churn.stop"
    stop.unlink(missing_ok=True)
    try:
        until_addresses(workdir, "dns-churn", V4_23)
        load = subprocess.Popen(
            ["ip", "netns", "exec", h.CLI_NS, h.PY,
             Path(__file__).resolve().parent / "loadgen.py", "--src",
             h.ALLOWED4, "--host", h.SRV4, "--port", str(GW), "--threads",
             "4", "--stop-file", str(stop), "--max-seconds", "90",
             "--max-requests", "40000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        h.CLEANUP.procs[load.pid] = load
        slow = []

        def slow_get(i):
            try:
                slow.append(get(f"/sleep/700?{i}").status)
            except Exception as e:          # noqa: BLE001 - reported below
                slow.append(repr(e))
        threads = []
        try:
            sets = [(["127.0.0.3", "127.0.0.4"], V4_34),
                    (["127.0.0.2", "127.0.0.3"], V4_23)]
            for i in range(8):
                ips, want = sets[i % 2]
                # exchanges in flight on the set about to be replaced
                for k in range(2):
                    t = threading.Thread(target=slow_get, args=(i * 2 + k,))
                    t.start()
                    threads.append(t)
                time.sleep(0.1)
                dnsmasq.change({NAME: ips})
                until_addresses(workdir, "dns-churn", want)
        finally:
            for t in threads:
                t.join(timeout=30)
            stop.touch()
            out, _ = load.communicate(timeout=120)
            h.CLEANUP.procs.pop(load.pid, None)
        res = json.loads(out)
        assert res["failed"] == 0, res
        assert res["ok"] > 0, res
        assert slow == [200] * 16, slow
        assert s.output().count("dns: service api: 2 target(s) published") \
            >= 9
    finally:
        s.shutdown()


def test_health_checks_follow_the_addresses(dnsmasq, loop_backends,
                                            workdir):
    """Active health checks go to every address of the name, and to a new
    one as soon as it is published; a failing address is taken out."""
    s = start_gw(workdir, "dns-hc", [service(
        [TARGET], health={"path": "/healthz", "interval_ms": 100,
                          "timeout_ms": 500, "healthy": 1,
                          "unhealthy": 1})])

    def checks(name):
        return sum(1 for e in h.backend_log(loop_backends[name])
                   if e.get("path") == "/healthz")
    try:
        until_addresses(workdir, "dns-hc", V4_23)
        h.wait_for(lambda: checks("dns2") >= 2 and checks("dns3") >= 2, 10,
                   what="checks of both addresses")
        assert checks("dns4") == 0
        dnsmasq.change({NAME: ["127.0.0.3", "127.0.0.4"]})
        until_addresses(workdir, "dns-hc", V4_34)
        h.wait_for(lambda: checks("dns4") >= 2, 10,
                   what="checks of the new address")
        h.run(["ip", "netns", "exec", h.SRV_NS, "curl", "-sS", "--max-time",
               "5", f"http://127.0.0.4:{BPORT}/fail/on"], timeout=10)

        def state(addr):
            for t in upstreams(workdir, "dns-hc")["targets"]:
                if t["address"] == addr:
                    return t["state"]
            return None
        h.wait_for(lambda: state(f"127.0.0.4:{BPORT}") == "unhealthy", 10,
                   what="the failing address out")
        assert {who(f"/hc/{i}") for i in range(6)} == {"dns3"}
    finally:
        h.run(["ip", "netns", "exec", h.SRV_NS, "curl", "-sS", "--max-time",
               "5", f"http://127.0.0.4:{BPORT}/fail/off"], timeout=10,
              check=False)
        s.shutdown()


# ---- the DNS server goes away ------------------------------------------------------

def test_dns_down_keeps_last_good_set_and_counts_failures(
        dnsmasq, loop_backends, workdir):
    s = start_gw(workdir, "dns-down", [service([TARGET])])
    try:
        until_addresses(workdir, "dns-down", V4_23)
        dnsmasq.kill()

        def failures():
            return sum(series("sluice_dns_resolutions_total", service="api",
                              name=TARGET, result=r) or 0
                       for r in ("refused", "timeout", "error"))
        h.wait_for(lambda: failures() >= 2, 20,
                   what="failed resolutions counted")
        assert "resolution failed" in s.output() and TARGET in s.output()
        assert addresses(workdir, "dns-down") == V4_23
        assert {who(f"/d/{i}") for i in range(10)} == {"dns2", "dns3"}
        assert series("sluice_dns_addresses", service="api",
                      name=TARGET) == 2
        # a reload keeps the addresses: it does not wait for DNS
        ctl(workdir, "dns-down", "reload")
        assert addresses(workdir, "dns-down") == V4_23
        assert {who(f"/r/{i}") for i in range(10)} == {"dns2", "dns3"}
    finally:
        s.shutdown()


# ---- a name that never resolves -------------------------------------------------

def test_unresolved_name_answers_503_naming_the_service(dnsmasq,
                                                        loop_backends,
                                                        workdir):
    s = start_gw(workdir, "dns-none", [service(["nowhere.test:%d" % BPORT])])
    try:
        h.wait_for(lambda: (series("sluice_dns_resolutions_total",
                                   service="api", name=f"nowhere.test:{BPORT}",
                                   result="nxdomain") or 0) >= 1, 15,
                   what="NXDOMAIN counted")
        r = get("/x")
        assert r.status == 503, (r.status, r.body)
        body = r.json()
        assert body.get("service") == "api", body
        assert "DNS" in json.dumps(body), body
        assert upstreams(workdir, "dns-none")["targets"] == []
        lines = ctl(workdir, "dns-none", "upstreams").stdout.splitlines()
        assert any("unresolved" in l and f"nowhere.test:{BPORT}" in l
                   for l in lines), lines
        # the name appears: traffic flows, no reload
        dnsmasq.change({NAME: ["127.0.0.2"], "nowhere.test": ["127.0.0.3"]})
        h.wait_for(lambda: get("/y").status == 200, 15,
                   what="the name resolving")
        assert who("/z") == "dns3"
    finally:
        s.shutdown()


# ---- IPv6 ---------------------------------------------------------------------------

def test_aaaa_record_to_loopback(dnsmasq, loop_backends, workdir):
    dnsmasq.change({"v6.test": ["::1"]})
    s = start_gw(workdir, "dns-v6", [service([f"v6.test:{BPORT}"])])
    try:
        until_addresses(workdir, "dns-v6", [f"[::1]:{BPORT}"])
        assert who("/six") == "dns6"
    finally:
        s.shutdown()


# ---- bad config ----------------------------------------------------------------------

BAD = [
    ("bad hostname", {"targets": ["bad_name.test:9081"]}, None,
     r":\d+:\d+: services\[0\]\.targets\[0\]: "
     r"invalid address in 'bad_name\.test:9081'"),
    ("label too long", {"targets": ["a" * 64 + ".test:9081"]}, None,
     r":\d+:\d+: .*invalid address"),
    ("name without port", {"targets": ["api.test"]}, None,
     r":\d+:\d+: .*missing port"),
    ("name with tls", {"targets": [TARGET], "tls": {"sni": "api.test"}},
     None, r":\d+:\d+: .*tls is not supported yet"),
    ("dns server a name", {}, {"servers": ["ns.test:53"]},
     r":\d+:\d+: .*servers\[0\].*invalid IP address"),
    ("dns server no port", {}, {"servers": ["127.0.0.1"]},
     r":\d+:\d+: .*missing port"),
    ("dns unknown key", {}, {"server": ["127.0.0.1:53"]},
     r":\d+:\d+: .*unknown key"),
    ("ttl order", {}, {"min_ttl_ms": 5000, "max_ttl_ms": 1000},
     r":\d+:\d+: .*max_ttl_ms \(1000\) is below min_ttl_ms \(5000\)"),
    ("ttl bound", {}, {"min_ttl_ms": 1},
     r":\d+:\d+: .*min_ttl_ms"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_config_is_a_located_error(workdir, case):
    name, svc, dns, want = case
    extra = dict(svc)
    targets = extra.pop("targets", [TARGET])
    cfg = raw.write_cfg(workdir, "dns-bad", listeners=LISTEN,
                        services=[service(targets, **extra)],
                        routes=[{"name": "all", "path_prefix": "/",
                                 "service": "api"}],
                        top={"dns": dns if dns is not None else
                             dns_section()})
    r = h.run_sluiced_once(["-c", cfg, "--check"])
    assert r.returncode != 0, (name, r.stdout, r.stderr)
    assert re.search(re.escape(str(cfg)) + want, r.stderr), (name, r.stderr)


def test_check_accepts_names_without_resolving(workdir):
    cfg = raw.write_cfg(workdir, "dns-check", listeners=LISTEN,
                        services=[service(["never.invalid:9081",
                                           "localhost:9081"])],
                        routes=[{"name": "all", "path_prefix": "/",
                                 "service": "api"}],
                        top={"dns": dns_section(servers=["[::1]:5399"])})
    r = h.run_sluiced_once(["-c", cfg, "--check"])
    assert r.returncode == 0, r.stderr


def test_bad_reload_keeps_the_running_config(dnsmasq, loop_backends,
                                            workdir):
    s = start_gw(workdir, "dns-reload", [service([TARGET])])
    try:
        until_addresses(workdir, "dns-reload", V4_23)
        cfg = Path(workdir) / "dns-reload.yaml"
        good = cfg.read_text()
        cfg.write_text(good.replace(TARGET, "bad_name.test:9081"))
        r = ctl(workdir, "dns-reload", "reload", check=False)
        assert r.returncode != 0
        assert re.search(r"dns-reload\.yaml:\d+:\d+: .*invalid address",
                         r.stdout + r.stderr), r.stdout + r.stderr
        assert addresses(workdir, "dns-reload") == V4_23
        assert {who(f"/b/{i}") for i in range(6)} == {"dns2", "dns3"}
        # a good reload that changes the dns: section applies
        cfg.write_text(good.replace("min_ttl_ms: 200", "min_ttl_ms: 300"))
        ctl(workdir, "dns-reload", "reload")
        assert addresses(workdir, "dns-reload") == V4_23
    finally:
        s.shutdown()
