"""Start, reload and stop: XDP attach/detach and pins follow sluiced."""
import json
import signal
import time

import helpers as h


def test_sigterm_detaches_xdp_and_removes_pins(sluiced_factory):
    s = sluiced_factory("lifecycle")
    assert h.srv_link_xdp() == "xdp", "XDP not attached while running"
    pinned = sorted(p.name for p in h.PIN_ROOT.iterdir())
    assert set(h.MAP_NAMES) <= set(pinned), pinned
    # serving before the signal
    assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/pre"))["status"] == 200
    s.shutdown()        # asserts exit 0, no xdp on the veth, pin dir gone
    assert h.srv_link_xdp() == ""
    assert not h.PIN_ROOT.exists()
    # and the port is closed now
    assert h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT)["result"] == "refused"


def test_sigint_also_shuts_down_cleanly(sluiced_factory):
    s = sluiced_factory("lifecycle-int")
    s.stopped = True
    rc = s.stop(signal.SIGINT)
    s.check_sanitizers()
    assert rc == 0, (rc, h.tail(s.err_path))
    assert h.srv_link_xdp() == ""
    assert not h.PIN_ROOT.exists()


def allow4_count():
    # the IPv4 allowlist: its trie (prefixes) and host hash (/32s)
    return (len(h.bpftool_dump("sl_allow4_v1")) +
            len(h.bpftool_dump("sl_hallow4_v1")))


def test_sighup_reload_updates_allowlist(sluiced_factory, workdir):
    s = sluiced_factory("reload")
    assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    al = workdir / "reload-allowlist.txt"
    al.write_text(al.read_text() + f"{h.BLOCKED4}/32\n")
    s.p.send_signal(signal.SIGHUP)
    h.wait_for(lambda: allow4_count() == 2, 10, 0.1,
               "allowlist reload (2 v4 entries)")
    r = h.one(h.http(h.BLOCKED4, h.SRV4, path="/after-reload"))
    assert r["status"] == 200
    assert json.loads(r["body"])["path"] == "/after-reload"
    # the originally allowed client is still in
    assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/x"))["status"] == 200


def test_sighup_with_bad_config_keeps_serving(sluiced_factory, workdir):
    s = sluiced_factory("reload-bad")
    cfg = workdir / "reload-bad.yaml"
    good = cfg.read_text()
    cfg.write_text(good + "bogus_key: 1\n")
    s.p.send_signal(signal.SIGHUP)
    h.wait_for(lambda: "bogus_key" in s.output(), 10, 0.1,
               "the refused reload to be logged")
    time.sleep(0.2)
    assert s.alive(), h.tail(s.err_path)
    r = h.one(h.http(h.ALLOWED4, h.SRV4, path="/still-here"))
    assert r["status"] == 200
    assert h.srv_link_xdp() == "xdp"
    assert allow4_count() == 1
    cfg.write_text(good)
