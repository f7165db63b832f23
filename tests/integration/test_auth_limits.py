"""L7 rate limits are exact across worker threads (issue 5).

Two workers share one global limit; a bounded burst from six client
threads, each request on a new connection (so both workers' listeners get
some), must see exactly the limit pass.
"""
import pytest

import auth_util as au


@pytest.mark.timeout(180)
def test_limit_exact_with_two_workers(backends, workdir):
    """A global 25/h limit shared by two workers: exactly 25 of 60 pass."""
    routes = """\
  - name: g
    path_prefix: /
    service: echo
    limits:
      - key: global
        rates: [25/h, 1000/s]
"""
    cfg = au.write_auth_config(workdir, "auth-workers", routes, workers=2)
    g = au.Gateway(cfg, workdir, "gw-auth-workers")
    try:
        res = au.load("/load", threads=6, per_thread=10)
        assert res["errors"] == [], res
        assert res["counts"] == {"200": 25, "429": 35}, res
    finally:
        g.stop()
