"""Faults from outside the daemon: its XDP program taken off the interface.

The rest of the fault matrix (backends dying, clients leaving, descriptor
exhaustion, SIGTERM and SIGHUP under load) is covered by the suites that
docs/TESTING.md lists.
"""
import raw

import helpers as h


def test_xdp_detached_behind_our_back_is_reattached(sluiced_factory):
    s = sluiced_factory("xdpoff")
    assert h.srv_link_xdp() == "xdp"
    assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    before = raw.metric("127.0.0.1:9900", "sluice_xdp_reattached_total")
    h.run(["ip", "-n", h.SRV_NS, "link", "set", "dev", h.VETH_SRV,
           "xdp", "off"])
    # the control thread notices (it checks every second) and puts the
    # program back in the mode it ran in
    s.wait_output("behind our back; attached again (native mode)", 10)
    assert h.srv_link_xdp() == "xdp"
    assert raw.metric("127.0.0.1:9900",
                      "sluice_xdp_reattached_total") == before + 1
    # enforcing again, with the same maps: the denied source is dropped,
    # the allowed one served
    assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/x"))["status"] == 200
    # shutdown (by the fixture) still detaches it and removes the pins
