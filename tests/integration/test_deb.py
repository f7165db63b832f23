"""The Debian package (make deb): build, lintian, install into a clean root.

`make deb` builds the package with dpkg-buildpackage and fails on any
lintian error. The package is then installed with dpkg into a fresh root
directory (`dpkg --root` with --force-script-chrootless: the maintainer
scripts run with DPKG_ROOT and must touch that root's files, never the
host's), and the test checks the files, the conffiles, the sluice user and
log directory postinst makes, that the installed sluiced validates the
installed config, and what remove and purge leave. The host's passwd file
must not change. Skipped with the reason when dpkg-buildpackage or lintian
is missing. The package is rebuilt only when a tracked file is newer than
it (the suite runs twice). Old code: no debian/, no deb target.
"""
import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import helpers as h

DEB_DIR = h.BUILD / "deb"


def tracked_newest():
    files = subprocess.run(["git", "ls-files"], capture_output=True,
                           text=True, cwd=h.REPO, timeout=30).stdout.split()
    return max((h.REPO / f).stat().st_mtime for f in files
               if (h.REPO / f).exists())


@pytest.fixture(scope="module")
def deb():
    for tool in ("dpkg-buildpackage", "lintian", "dh", "useradd"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (scripts/deps.sh installs "
                        "debhelper, dpkg-dev, lintian)")
    if os.geteuid() != 0:
        pytest.skip("installing into a root directory needs root")
    if subprocess.run(["git", "rev-parse"], cwd=h.REPO,
                      capture_output=True).returncode:
        pytest.skip("make deb copies the git-tracked files: no git tree")
    debs = sorted(DEB_DIR.glob("sluice_*_amd64.deb"))
    if not debs or debs[-1].stat().st_mtime < tracked_newest():
        r = h.run(["make", "-s", "deb", f"BUILD={h.BUILD}"], timeout=900,
                  cwd=h.REPO, check=False)
        assert r.returncode == 0, f"make deb:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        debs = sorted(DEB_DIR.glob("sluice_*_amd64.deb"))
    assert debs, "make deb made no package"
    return debs[-1]


def dpkg(root, *args, check=True):
    env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    return h.run(["dpkg", f"--root={root}", "--force-script-chrootless",
                  "--force-depends", "--log=/dev/null", *args],
                 timeout=120, check=check, env=env)


def make_root(root):
    """An empty dpkg database and the account files useradd edits."""
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates",
              "var/lib/dpkg/triggers", "etc", "var/log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text("")
    (root / "var/lib/dpkg/available").write_text("")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\nadm:x:4:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\nadm:*::\n")
    for f in ("shadow", "gshadow"):
        os.chmod(root / "etc" / f, 0o640)
    if Path("/etc/login.defs").exists():
        shutil.copy("/etc/login.defs", root / "etc/login.defs")


def mode(p):
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.timeout(900)     # a first package build is part of the setup
def test_deb_installs_into_a_clean_root(deb, tmp_path):
    root = tmp_path / "root"
    make_root(root)
    host_passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    host_log = Path("/var/log/sluice").exists()

    dpkg(root, "-i", deb)
    files = {
        "usr/sbin/sluiced": 0o755, "usr/bin/sluicectl": 0o755,
        "etc/sluice/sluice.yaml": 0o644, "etc/sluice/allowlist.txt": 0o644,
        "etc/logrotate.d/sluice": 0o644,
        "lib/systemd/system/sluice.service": 0o644,
        "usr/share/bash-completion/completions/sluicectl": 0o644,
        "usr/share/man/man8/sluiced.8.gz": 0o644,
        "usr/share/man/man8/sluicectl.8.gz": 0o644,
        "usr/share/man/man5/sluice.yaml.5.gz": 0o644,
        "usr/share/doc/sluice/copyright": 0o644,
    }
    for f, m in files.items():
        assert (root / f).is_file(), f"{f} not installed"
        assert mode(root / f) == m, f"{f}: mode {oct(mode(root / f))}"
    conf = (root / "var/lib/dpkg/info/sluice.conffiles").read_text().split()
    assert set(conf) == {"/etc/sluice/sluice.yaml", "/etc/sluice/allowlist.txt",
                         "/etc/logrotate.d/sluice"}
    unit = (root / "lib/systemd/system/sluice.service").read_text()
    assert "ExecStart=/usr/sbin/sluiced -c /etc/sluice/sluice.yaml\n" in unit
    assert "ExecReload=/usr/bin/sluicectl " in unit and "/usr/local" not in unit
    assert "USR1" in (root / "etc/logrotate.d/sluice").read_text()

    # postinst: the system user and the log directory, in that root only
    users = {l.split(":")[0]: l.split(":") for l in
             (root / "etc/passwd").read_text().splitlines()}
    assert "sluice" in users, (root / "etc/passwd").read_text()
    uid = int(users["sluice"][2])
    assert 0 < uid < 1000 and users["sluice"][6] == "/usr/sbin/nologin"
    assert "sluice:" in (root / "etc/group").read_text()
    log = root / "var/log/sluice"
    assert log.is_dir() and log.stat().st_uid == uid and mode(log) == 0o750
    assert log.stat().st_gid == 4                       # adm
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == \
        host_passwd, "the package's postinst changed the host's passwd"
    assert Path("/var/log/sluice").exists() == host_log

    # the installed programs work and agree with the installed files
    r = h.run([root / "usr/sbin/sluiced", "--version"])
    assert r.stdout.startswith("sluiced ")
    r = h.run([root / "usr/sbin/sluiced", "-c",
               root / "etc/sluice/sluice.yaml", "--check"], check=False)
    assert r.returncode == 0, r.stderr
    comp = h.run([root / "usr/bin/sluicectl", "completion", "bash"]).stdout
    assert (root / "usr/share/bash-completion/completions/sluicectl"
            ).read_text() == comp

    # a second configure keeps the user (no duplicate), an edited conffile
    # survives a reinstall
    (root / "etc/sluice/sluice.yaml").write_text(
        (root / "etc/sluice/sluice.yaml").read_text() + "# edited\n")
    dpkg(root, "--force-confold", "-i", deb)
    assert (root / "etc/passwd").read_text().count("\nsluice:") == 1
    assert (root / "etc/sluice/sluice.yaml").read_text().endswith("# edited\n")

    # remove keeps conffiles; purge removes them and the logs, not the user
    dpkg(root, "-r", "sluice")
    assert not (root / "usr/sbin/sluiced").exists()
    assert (root / "etc/sluice/sluice.yaml").exists()
    dpkg(root, "-P", "sluice")
    assert not (root / "etc/sluice/sluice.yaml").exists()
    assert not log.exists()
    assert "sluice:" in (root / "etc/passwd").read_text()
