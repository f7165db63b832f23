"""sluicectl hash-token and sluiced --check on the auth keys."""
import hashlib
import json

import auth_util as au
import helpers as h


def hash_token(stdin, *args):
    return h.run([h.SLUICECTL, *args, "hash-token"], input=stdin, check=False)


def test_hash_token_matches_sha256():
    tok = "a-token-of-some-length-0123"
    r = hash_token(tok + "\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "sha256:" + hashlib.sha256(tok.encode()).hexdigest()
    # CRLF and no newline at all give the same
    assert hash_token(tok + "\r\n").stdout == r.stdout
    assert hash_token(tok).stdout == r.stdout
    j = json.loads(hash_token(tok, "--json").stdout)
    assert j == {"hash": r.stdout.strip()}


def test_hash_token_new():
    r = h.run([h.SLUICECTL, "--json", "hash-token", "new"])
    j = json.loads(r.stdout)
    assert len(j["token"]) == 43, j
    assert j["hash"] == "sha256:" + hashlib.sha256(j["token"].encode()).hexdigest()
    assert json.loads(h.run([h.SLUICECTL, "--json", "hash-token", "new"]
                            ).stdout)["token"] != j["token"]


def test_hash_token_rejects_bad_input():
    for stdin, msg in (("", "no token on stdin"),
                       ("short\n", "too short"),
                       ("with a space inside it\n", "has a space")):
        r = hash_token(stdin)
        assert r.returncode == 1 and msg in r.stderr, (stdin, r.stderr)
    r = h.run([h.SLUICECTL, "hash-token", "old"], check=False)
    assert r.returncode == 1 and "usage" in r.stderr


def test_check_reports_auth_errors(workdir):
    routes = """\
  - name: r
    path_prefix: /
    service: echo
    auth: [bearer, jwt]
"""
    top = """\
consumers:
  - name: alice
    bearer_tokens: [my-plain-secret]
  - name: bob
    api_keys: ['file:does-not-exist.key']
"""
    cfg = au.write_auth_config(workdir, "auth-bad", routes, top)
    r = h.run_sluiced_once(["-c", cfg, "--check"])
    assert r.returncode == 1, r
    err = r.stderr
    assert "invalid configuration" in err
    lines = [l for l in err.splitlines() if l.startswith(str(cfg))]
    assert any("routes[0].auth: 'jwt' needs a top-level 'jwt' section" in l
               for l in lines), err
    assert any("consumers[0].bearer_tokens[0]: secret must be written as "
               "'sha256:<hex>'" in l for l in lines), err
    # parse errors carry line:col
    assert all(l.count(":") >= 3 for l in lines), lines


def test_check_reports_unresolvable_secret(workdir):
    routes = """\
  - name: r
    path_prefix: /
    service: echo
    auth: [key]
"""
    top = """\
consumers:
  - name: bob
    api_keys: ['file:does-not-exist.key', 'env:SLUICE_IT_UNSET_VAR']
"""
    cfg = au.write_auth_config(workdir, "auth-bad2", routes, top)
    r = h.run_sluiced_once(["-c", cfg, "--check"])
    assert r.returncode == 1, r
    assert "consumers[bob].api_keys[0]: " in r.stderr, r.stderr
    assert "does-not-exist.key: No such file or directory" in r.stderr
    assert "environment variable 'SLUICE_IT_UNSET_VAR' is not set" in r.stderr
