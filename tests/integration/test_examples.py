"""examples/python: each example run exactly as docs/INTEGRATION.md says.

The `run:` command of the doc starts the example (services and sluiced) in
a network namespace of the test's own, so its fixed loopback ports meet
nothing else; every command of the doc's `try` block then runs there from
the repository, and what it prints must be the `#=>` text beside it (JSON
compared as JSON). The example's sluiced is the suite's (SLUICED), so the
ASan run covers it too. Without the examples (or on old code) the doc and
the files are missing and the tests fail.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess

import pytest

import helpers as h

DOC = h.REPO / "docs/INTEGRATION.md"
NS = f"slt-ex-{os.getpid()}"


def doc_block(marker):
    """The lines of the first ```sh block after <!-- marker -->."""
    text = DOC.read_text()
    i = text.index(f"<!-- {marker} -->")
    m = re.compile(r"```sh\n(.*?)```", re.S).search(text, i)
    return [l for l in m.group(1).splitlines() if l.strip()]


def try_commands():
    """(command, expected output) of the doc's try block."""
    out = []
    for line in doc_block("try"):
        if line.lstrip().startswith("#"):
            continue
        cmd, sep, want = line.partition("#=>")
        assert sep, f"a command without its expected output: {line}"
        out.append((cmd.strip(), want.strip()))
    assert len(out) >= 8
    return out


def in_ns(cmd, timeout=20):
    return subprocess.run(["ip", "netns", "exec", NS, "bash", "-c", cmd],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=h.REPO)


@pytest.fixture
def netns(env):
    h.CLEANUP.netns.append(NS)
    h.run(["ip", "netns", "add", NS])
    h.run(["ip", "-n", NS, "link", "set", "lo", "up"])
    yield NS
    left = h.run(["ip", "netns", "pids", NS], check=False).stdout.split()
    h.run(["ip", "netns", "del", NS], check=False)
    h.CLEANUP.netns.remove(NS)
    assert not left, f"processes left in {NS}: {left}"


def check_unix_upstreams(example):
    """UPSTREAMS=unix: the services are on their sockets (they answer
    there), not on the loopback ports, and sluiced's targets are the
    sockets."""
    apps = f"/run/sluice-example-{example}/apps"
    port = 5001 if example == "flask" else 5101
    for svc in ("orders", "users", "reports"):
        # the gateway answering for orders says nothing of the others:
        # each server starts on its own
        def health(svc=svc):
            r = in_ns(f"curl -s --unix-socket {apps}/{svc}.sock "
                      f"http://localhost/{svc}/health")
            return r.stdout and json.loads(r.stdout)
        got = h.wait_for(health, 30, 0.2, f"{svc} on its socket")
        assert got == {"ok": True, "service": svc}, got
    r = in_ns(f"curl -s -o /dev/null -w '%{{http_code}}' "
              f"http://127.0.0.1:{port}/orders/health")
    assert r.stdout == "000", "a service still listens on TCP"
    r = in_ns("curl -s http://127.0.0.1:9900/metrics")
    assert (f'sluice_upstream_up{{service="orders",target="unix:{apps}/'
            f'orders.sock"}} 1') in r.stdout, r.stdout


@pytest.mark.timeout(120)
@pytest.mark.parametrize("example,server", [("flask", "gunicorn"),
                                            ("fastapi", "uvicorn"),
                                            ("flask-unix", "gunicorn"),
                                            ("fastapi-unix", "uvicorn")])
def test_example(netns, workdir, example, server):
    if shutil.which(server) is None:
        pytest.skip(f"{server} not installed (scripts/deps.sh installs it)")
    mod = "flask" if example.startswith("flask") else "fastapi"
    if subprocess.run(["/usr/bin/python3", "-c", f"import {mod}"],
                      capture_output=True, timeout=30).returncode:
        pytest.skip(f"python3-{mod} not installed (scripts/deps.sh)")
    (run,) = doc_block(f"run: {example}")
    assert run.startswith("SLUICED=build/sluiced "), run
    run = run.replace("SLUICED=build/sluiced", f"SLUICED={h.SLUICED}", 1)
    env = {**h.sanitizer_env(), "PATH": os.environ.get("PATH", "")}
    p = h.Proc(f"example-{example}",
               # env(1) takes the VAR=value words as the shell would
               ["ip", "netns", "exec", netns, "env", *shlex.split(run)],
               workdir, env=env)
    try:
        def up():
            if not p.alive():
                raise AssertionError(f"{run} exited: {p.output()[-3000:]}")
            r = in_ns("curl -s -o /dev/null -w '%{http_code}' "
                      "http://127.0.0.1:8080/orders/health")
            return r.stdout == "200"
        h.wait_for(up, 60, 0.2, f"the {example} example to answer")
        if example.endswith("-unix"):
            check_unix_upstreams(mod)
        # one shell for all of them, in order, each output after a mark
        cmds = try_commands()
        script = "".join(f"printf '\\n@@ {i}\\n'\n{c}\n"
                         for i, (c, _) in enumerate(cmds))
        r = in_ns(script, timeout=60)
        outs = re.split(r"^@@ \d+\n", r.stdout, flags=re.M)[1:]
        assert len(outs) == len(cmds), (r.stdout, r.stderr)
        for (cmd, want), got in zip(cmds, outs):
            got = got.strip()
            if want.startswith("{"):
                assert json.loads(got) == json.loads(want), (cmd, got)
            else:
                assert got == want, (cmd, got, r.stderr)
    finally:
        rc = p.stop(signal.SIGTERM, timeout=20)
    out = p.output()
    assert rc == 0, f"{run}: exit {rc}\n{out[-3000:]}"
    assert "sluiced stopped" in out
    rep = h.sanitizer_report(out)
    assert rep is None, rep
