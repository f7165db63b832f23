"""Config validation: bad files are refused with FILE:LINE:COL, --check."""
import re

import pytest

import helpers as h

GOOD = """\
listeners:
  - name: public
    address: 127.0.0.1:18080
admin:
  address: 127.0.0.1:19900
xdp:
  enabled: true
  interfaces: [lo]
  mode: generic
  pin_path: /sys/fs/bpf/sluice-check-unused
  allowlist:
    enabled: true
    files: [allowlist.txt]
services:
  - name: echo
    targets: [127.0.0.1:9001, "[::1]:9002"]
routes:
  - name: api
    path_prefix: /api/
    service: echo
    methods: [GET, POST]
workers: 1
logging:
  level: info
"""

GOOD_ALLOW = "# test\n127.0.0.0/8\n::1\n"


def with_line(text, lineno, new):
    """Replace 1-based line `lineno` of text by `new`."""
    lines = text.splitlines()
    lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


# (id, yaml text, expected line or None (any), expected col or None, words
#  that must appear in the message)
BAD = [
    ("yaml-syntax", with_line(GOOD, 16, "    targets: [127.0.0.1:9001, {"),
     None, None, []),
    ("unknown-key", with_line(GOOD, 3, "    adress: 127.0.0.1:18080"),
     3, 5, ["adress"]),
    ("unknown-top-level-key", GOOD + "bogus: 1\n", 25, 1, ["bogus"]),
    ("route-to-unknown-service", with_line(GOOD, 20, "    service: nope"),
     20, None, ["nope"]),
    ("bad-listener-address", with_line(GOOD, 3, "    address: 127.0.0.1:99999"),
     3, None, []),
    ("bad-xdp-mode", with_line(GOOD, 9, "  mode: turbo"), 9, None, ["turbo"]),
]


def write(tmp_path, yaml_text, allow=GOOD_ALLOW):
    (tmp_path / "allowlist.txt").write_text(allow)
    p = tmp_path / "sluice.yaml"
    p.write_text(yaml_text)
    return p


def check_errors(r, path, line, col, words):
    err = r.stderr
    assert err.splitlines()[0].startswith("sluiced: invalid configuration"), err
    pat = re.compile(rf"^{re.escape(str(path))}:(\d+):(\d+): (.+)$", re.M)
    found = pat.findall(err)
    assert found, f"no '{path}:LINE:COL: message' line in:\n{err}"
    if line is not None:
        hits = [f for f in found if int(f[0]) == line and
                (col is None or int(f[1]) == col)]
        assert hits, f"want an error at line {line} col {col}, got:\n{err}"
        for w in words:
            assert any(w in f[2] for f in hits), f"{w!r} not in {hits}"


@pytest.mark.parametrize("yaml_text,line,col,words",
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
@pytest.mark.parametrize("check", [True, False], ids=["check", "start"])
def test_bad_config_refused(env, tmp_path, yaml_text, line, col, words, check):
    p = write(tmp_path, yaml_text)
    r = h.run_sluiced_once(["-c", p] + (["--check"] if check else []))
    assert r.returncode == 1, (r.returncode, r.stderr)
    check_errors(r, p, line, col, words)


@pytest.mark.parametrize("check", [True, False], ids=["check", "start"])
def test_bad_allowlist_line_refused(env, tmp_path, check):
    p = write(tmp_path, GOOD,
              allow="# comment\n127.0.0.0/8\n198.18.0.300\n::1\n")
    r = h.run_sluiced_once(["-c", p] + (["--check"] if check else []))
    assert r.returncode == 1, (r.returncode, r.stderr)
    m = re.search(r"allowlist\.txt:(\d+): (.*)$", r.stderr, re.M)
    assert m, r.stderr
    assert m.group(1) == "3", r.stderr
    assert "198.18.0.300" in m.group(2), r.stderr


def test_missing_allowlist_file_refused(env, tmp_path):
    p = write(tmp_path, GOOD.replace("[allowlist.txt]", "[missing.txt]"))
    r = h.run_sluiced_once(["-c", p, "--check"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "missing.txt" in r.stderr, r.stderr


def test_missing_config_file_refused(env, tmp_path):
    p = tmp_path / "nope.yaml"
    r = h.run_sluiced_once(["-c", p, "--check"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert str(p) in r.stderr, r.stderr


def test_good_config_check_ok(env, tmp_path):
    p = write(tmp_path, GOOD)
    r = h.run_sluiced_once(["-c", p, "--check"])
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert "invalid" not in r.stderr


def test_shipped_config_check_ok(env):
    p = h.REPO / "config" / "sluice.yaml"
    r = h.run_sluiced_once(["-c", p, "--check"])
    assert r.returncode == 0, (r.returncode, r.stderr)
