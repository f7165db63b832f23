"""sluicectl import kong: Kong declarative configs -> Sluice configs.

A table of Kong files (tests/integration/kong/NAME.yaml, in the shapes of
Kong's documentation) with the expected config (NAME.sluice.yaml) and
report (NAME.report: every item not converted or needing action, as
FILE:LINE). Each converted config must pass `sluiced --check`. A table of
bad inputs checks the errors. No daemon, no root. Old code fails: there
was no import command.
"""
import hashlib
import os
import re
import subprocess

import pytest

import helpers as h

KONG = h.REPO / "tests/integration/kong"

# name, exit status, environment the converted config needs
CASES = [
    ("key-auth", 0, {}),
    ("rate-limiting", 0, {}),
    ("jwt-acl", 0, {"KONG_JWT_SECRET_1": "a-very-long-shared-hmac-secret-of-ops"}),
    ("unsupported", 3, {}),
]


def convert(path):
    return subprocess.run([str(h.SLUICECTL), "import", "kong", str(path)],
                          capture_output=True, text=True, timeout=20,
                          cwd=h.REPO)


@pytest.mark.parametrize("name,rc,env", CASES, ids=[c[0] for c in CASES])
def test_kong_file(name, rc, env, tmp_path):
    r = convert(f"tests/integration/kong/{name}.yaml")
    assert r.returncode == rc, r.stderr
    assert r.stdout == (KONG / f"{name}.sluice.yaml").read_text()
    assert r.stderr == (KONG / f"{name}.report").read_text()
    out = tmp_path / "sluice.yaml"
    out.write_text(r.stdout)
    c = h.run([h.SLUICED, "-c", out, "--check"], check=False,
              env={**os.environ, **env})
    assert c.returncode == 0, c.stderr


def test_keys_are_hashed_never_copied():
    src = (KONG / "jwt-acl.yaml").read_text()
    out = convert(KONG / "jwt-acl.yaml").stdout
    for secret in ("dana-key-0123456789abcdef",
                   "a-very-long-shared-hmac-secret-of-ops"):
        assert secret in src and secret not in out
    assert hashlib.sha256(b"dana-key-0123456789abcdef").hexdigest() in out


def test_every_unsupported_line_is_reported():
    """Each line the file marks as unconvertible is in the report."""
    src = (KONG / "unsupported.yaml").read_text().splitlines()
    rep = convert(KONG / "unsupported.yaml").stderr
    lines = {int(m) for m in re.findall(r"unsupported\.yaml:(\d+): not converted", rep)}
    for want in ("certificates:", "- name: cors", "month:", "policy: redis",
                 "path: /v1", "algorithm: least-connections",
                 "url: https://", "protocols: [https]", "basicauth_credentials",
                 "algorithm: RS256"):
        n = next(i for i, l in enumerate(src, 1) if want in l)
        # the report names the node: the line itself, its mapping's
        # (above) or a block value's (below)
        assert lines & {n - 2, n - 1, n, n + 1}, (want, n, rep)


@pytest.mark.parametrize("text,msg", [
    ("services: []\n", "not a Kong declarative config"),
    ("- a\n- b\n", "not a Kong declarative config"),
    ("_format_version: '3.0'\nservices: [\n", "invalid YAML"),
    ("", "not a Kong declarative config"),
])
def test_bad_input(tmp_path, text, msg):
    f = tmp_path / "kong.yaml"
    f.write_text(text)
    r = convert(f)
    assert r.returncode == 3 and msg in r.stderr, r.stderr
    assert str(f) + ":" in r.stderr
    assert r.stdout == ""


def test_usage_errors(tmp_path):
    assert convert(tmp_path / "missing.yaml").returncode == 1
    r = subprocess.run([str(h.SLUICECTL), "import", "nginx", "x"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "unknown format 'nginx'" in r.stderr
