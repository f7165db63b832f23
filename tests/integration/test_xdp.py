"""XDP allowlist enforcement on the guarded port, counters and pinned maps."""
import ipaddress
import json

import pytest

import helpers as h


def delta(before, after, reason):
    return (after[reason][0] - before[reason][0],
            after[reason][1] - before[reason][1])


def test_xdp_attached_in_native_mode(gateway):
    mode = h.srv_link_xdp()
    # `ip link` says "xdp" for native (driver) mode, "xdpgeneric" for skb
    assert mode == "xdp", f"want native XDP on {h.VETH_SRV}, got {mode!r}"


@pytest.mark.parametrize("src,dst", [(h.ALLOWED4, h.SRV4),
                                     (h.ALLOWED6, h.SRV6)],
                         ids=["v4", "v6"])
def test_allowed_traffic_counts_pass_allowed(gateway, src, dst):
    before = h.counters()
    r = h.one(h.http(src, dst, path="/counted"))
    assert r["status"] == 200
    after = h.counters()
    pk, by = delta(before, after, "pass_allowed")
    # at least SYN, ACK with request, FIN from the client side
    assert pk >= 3, f"pass_allowed rose by {pk} packets"
    assert by >= pk * 40, f"pass_allowed bytes rose by only {by}"
    assert delta(before, after, "drop_not_allowed") == (0, 0)


@pytest.mark.parametrize("src,dst", [(h.BLOCKED4, h.SRV4),
                                     (h.BLOCKED6, h.SRV6)],
                         ids=["v4", "v6"])
def test_blocked_client_cannot_connect(gateway, src, dst):
    before = h.counters()
    res = h.connect(src, dst, h.GW_PORT, timeout=2)
    assert res["result"] == "timeout", \
        f"{src} -> {dst}:{h.GW_PORT}: want a connect timeout, got {res}"
    after = h.counters()
    pk, by = delta(before, after, "drop_not_allowed")
    assert pk >= 1, "drop_not_allowed did not rise"
    assert by >= pk * 40, by
    assert delta(before, after, "pass_allowed") == (0, 0)


@pytest.mark.parametrize("src,dst", [(h.BLOCKED4, h.SRV4),
                                     (h.BLOCKED6, h.SRV6)],
                         ids=["v4", "v6"])
def test_blocked_client_reaches_unguarded_port(gateway, src, dst):
    """Only the listener ports are guarded: b2's port answers everyone."""
    before = h.counters()
    r = h.one(h.http(src, dst, port=h.B2_PORT, path="/direct"))
    assert r["status"] == 200
    body = json.loads(r["body"])
    assert body["backend"] == "b2"
    host = body["remote_addr"].rsplit(":", 1)[0].strip("[]")
    assert host == src, body["remote_addr"]
    after = h.counters()
    assert delta(before, after, "pass_unguarded")[0] >= 3
    assert delta(before, after, "drop_not_allowed") == (0, 0)


def test_blocked_then_allowed_same_host(gateway):
    """Same client host, two source addresses: one in, one out."""
    assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    assert h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT)["result"] == "connected"


def test_sluicectl_status(gateway):
    st = h.sluicectl_status()
    for reason in h.REASONS:
        pk, by = h.counter(st, reason)
        assert pk >= 0 and by >= 0
    text = h.run([h.SLUICECTL, "--pin-path", h.PIN_ROOT, "status"]).stdout
    for reason in h.REASONS:
        assert reason in text, f"{reason} missing from:\n{text}"
    # one v4 and one v6 entry in the generated allowlist; two listeners on
    # the same port = one guarded port
    assert st["allowlist"] == {"v4": 1, "v6": 1}, st
    assert st["guarded_ports"] == 1, st
    assert "1 IPv4, 1 IPv6" in text, text


def test_sluicectl_without_sluiced_exits_2(env, tmp_path):
    r = h.run([h.SLUICECTL, "--pin-path", tmp_path / "none", "status"],
              check=False)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip(), "no error message"


def test_sluicectl_usage_error_exits_1(env):
    r = h.run([h.SLUICECTL, "no-such-command"], check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)


# the allowlist's /32 and /128 live in the host hashes beside the tries
@pytest.mark.parametrize("map_name,addr,plen", [
    ("sl_hallow4_v1", h.ALLOWED4, 32),
    ("sl_hallow6_v1", h.ALLOWED6, 128)], ids=["v4", "v6"])
def test_bpftool_dump_is_readable(gateway, map_name, addr, plen):
    entries = h.bpftool_dump(map_name)
    assert isinstance(entries, list) and len(entries) == 1, entries
    e = entries[0]
    assert "formatted" in e, f"no BTF-formatted output: {e}"
    key = e["formatted"]["key"]
    assert key["prefixlen"] == plen, key
    assert bytes(key["addr"]) == ipaddress.ip_address(addr).packed, key
    assert "class_id" in e["formatted"]["value"], e["formatted"]


def test_pins_present_while_running(gateway):
    names = sorted(p.name for p in h.PIN_ROOT.iterdir())
    for m in h.MAP_NAMES:
        assert m in names, f"{m} not pinned under {h.PIN_ROOT}: {names}"
