"""SYN cookies from XDP (xdp.syncookies: true) on the suite's veth pair.

Real handshakes through the cookie path: XDP answers the SYN (tx_syncookie),
the client's ACK is checked and passed (pass_syncookie), and the stack takes
it with net.ipv4.tcp_syncookies = 2, which sluiced sets in its namespace.
A forged ACK (a raw TCP segment from the client namespace, no handshake
before it) is dropped and counted (drop_syncookie).

Without the change: no SYN is answered from XDP (tx_syncookie does not
exist, or stays 0) and the forged ACK reaches the stack.
"""
import os
import random
import socket
import struct
import threading

import pytest

import helpers as h

CLONE_NEWNET = 0x40000000
COOKIES = ("  syncookies:", "    enabled: true")


def delta(before, after, reason):
    return after[reason][0] - before[reason][0]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def raw_ack(src, dst, dport, seq, ack):
    """Send one bare TCP ACK src -> dst:dport from the client namespace
    (a raw socket: the kernel writes the IP header)."""
    sport = random.randint(20000, 60000)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10,
                      65535, 0, 0)
    pseudo = (socket.inet_aton(src) + socket.inet_aton(dst) +
              struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(hdr)))
    hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
    err = []

    def run():
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{h.CLI_NS}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                              socket.IPPROTO_TCP)
            try:
                s.bind((src, 0))
                s.sendto(hdr, (dst, 0))
            finally:
                s.close()
        except Exception as e:          # re-raised in the caller
            err.append(e)
        finally:
            os.close(fd)
    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    if err:
        raise err[0]


# An XDP program that passes every frame (libxdp's AF_XDP default
# program, its socket map empty).
PASS_OBJ = "/usr/lib/x86_64-linux-gnu/bpf/xsk_def_xdp_prog.o"


@pytest.fixture
def cookies(sluiced_factory):
    # A veth delivers what its peer sends back with XDP_TX only when it has
    # an XDP program of its own (the peer's flush wakes only such a
    # receiver); a real NIC needs nothing of the sort. Pass-all it is.
    if not os.path.exists(PASS_OBJ):
        pytest.skip(f"{PASS_OBJ} missing (libxdp1, from libxdp-dev)")
    cli = ["ip", "-n", h.CLI_NS, "link", "set", "dev", h.VETH_CLI]
    h.run(cli + ["xdpdrv", "obj", PASS_OBJ, "sec", "xdp"])
    try:
        yield sluiced_factory("cookies", xdp_extra=COOKIES)
    finally:
        h.run(cli + ["xdpdrv", "off"], check=False)


def test_sysctl_set_in_sluiced_namespace(cookies):
    r = h.run(["ip", "netns", "exec", h.SRV_NS, "cat",
               "/proc/sys/net/ipv4/tcp_syncookies"])
    assert r.stdout.strip() == "2"


@pytest.mark.parametrize("src,url", [
    (h.ALLOWED4, f"http://{h.SRV4}:{h.GW_PORT}/sc"),
    (h.ALLOWED6, f"http://[{h.SRV6}]:{h.GW_PORT}/sc")], ids=["v4", "v6"])
def test_handshakes_through_cookies(cookies, src, url):
    before = h.counters()
    for i in range(3):
        code, _, r = h.curl(src, url)
        assert code == 200, f"request {i}: {code} {r.stderr}"
    after = h.counters()
    assert delta(before, after, "tx_syncookie") >= 3, after
    assert delta(before, after, "pass_syncookie") >= 3, after
    assert delta(before, after, "drop_syncookie") == 0, after


def test_forged_ack_dropped(cookies):
    before = h.counters()
    for i in range(5):
        raw_ack(h.ALLOWED4, h.SRV4, h.GW_PORT, random.getrandbits(32),
                random.getrandbits(32) | 0x100)
    h.wait_for(lambda: delta(before, h.counters(), "drop_syncookie") >= 5,
               5, what="5 forged ACKs counted as drop_syncookie")
    after = h.counters()
    assert delta(before, after, "pass_syncookie") == 0
    # a real client still gets through
    code, _, r = h.curl(h.ALLOWED4, f"http://{h.SRV4}:{h.GW_PORT}/after")
    assert code == 200, r.stderr


def test_denied_source_gets_no_synack(cookies):
    """The rules come first: a source outside the allowlist is dropped,
    not answered with a cookie."""
    before = h.counters()
    code, _, _ = h.curl(h.BLOCKED4, f"http://{h.SRV4}:{h.GW_PORT}/",
                        timeout=1)
    assert code == 0
    after = h.counters()
    assert delta(before, after, "tx_syncookie") == 0
    assert delta(before, after, "drop_not_allowed") >= 1
