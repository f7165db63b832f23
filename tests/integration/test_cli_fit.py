"""sluiced --version, sluicectl version and the bash completion script.

The completion test sources the script `sluicectl completion bash` prints
in a real bash and asks it what it completes, the way bash does on TAB; the
commands it must know are read from sluicectl.c's command table (the
source, not the binary), so a command added to the table without the
script following fails here. Old code fails these tests: there was no
--version, no `version` and no `completion` command.
"""
import re
import shutil
import subprocess

import pytest

import helpers as h

LIBS_RE = re.compile(r"^libbpf \d+\.\d+(\.\d+)?, libxdp [\d.]+, "
                     r"liburing [\d.]+, OpenSSL \d+\.\d+\.\d+", re.M)
CTL_LIBS_RE = re.compile(r"^libbpf \d+\.\d+(\.\d+)?, libxdp [\d.]+, "
                         r"liburing ([\d.]+|not loaded), "
                         r"OpenSSL \d+\.\d+\.\d+", re.M)


def test_sluiced_version():
    r = h.run_sluiced_once(["--version"])
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert re.match(r"^sluiced \d+\.\d+\.\d+ \(git [0-9a-f]{7,}(-dirty)?\)$",
                    first) or "(git unknown)" in first, first
    assert LIBS_RE.search(r.stdout), r.stdout
    # the same version as the header the build used
    want = re.search(r'SLUICE_VERSION "([^"]+)"',
                     (h.REPO / "daemon/lib/version.h").read_text()).group(1)
    assert first.startswith(f"sluiced {want} ")


def test_sluicectl_version_without_daemon(tmp_path):
    r = h.run([h.SLUICECTL, "--socket", tmp_path / "none.sock", "version"],
              check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sluicectl ")
    # sluicectl makes no io_uring call, so it is linked without liburing
    assert CTL_LIBS_RE.search(r.stdout), r.stdout
    assert "sluiced: not reachable" in r.stdout


def table_commands():
    """Command names from the rows of cmds[] in sluicectl.c."""
    src = (h.REPO / "daemon/cmd/sluicectl.c").read_text()
    table = src[src.index("static const struct cmd cmds[] = {"):]
    table = table[:table.index("\n};")]
    names = re.findall(r'^\t\{ "([a-z-]+)", cmd_', table, re.M)
    assert len(names) >= 10, names
    return names


@pytest.fixture(scope="module")
def completion(tmp_path_factory):
    if shutil.which("bash") is None:
        pytest.skip("bash not installed")
    d = tmp_path_factory.mktemp("compl")
    script = d / "sluicectl.bash"
    r = h.run([h.SLUICECTL, "completion", "bash"])
    script.write_text(r.stdout)

    def complete(line):
        """COMPREPLY for the command line `line` (cursor at its end)."""
        prog = (f'source {script}\n'
                f'COMP_LINE={line!r}\n'
                'read -ra COMP_WORDS <<< "$COMP_LINE"\n'
                '[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")\n'
                'COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n'
                '_sluicectl\n'
                'printf "%s\\n" "${COMPREPLY[@]}"\n')
        out = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog],
                             capture_output=True, text=True, timeout=10,
                             cwd=d)
        assert out.returncode == 0, out.stderr
        return sorted(w for w in out.stdout.split("\n") if w)
    complete.script = script
    return complete


def test_completion_every_command(completion):
    got = completion("sluicectl ")
    for name in table_commands():
        assert name in got, f"'{name}' missing from completion: {got}"
    assert "help" in got


@pytest.mark.parametrize("line,want", [
    ("sluicectl st", ["status"]),
    ("sluicectl ba", ["ban", "bans"]),
    ("sluicectl re", ["reload"]),
    ("sluicectl allow ", ["add", "del", "list"]),
    ("sluicectl --json deny l", ["list"]),
    ("sluicectl hash-token ", ["new"]),
    ("sluicectl completion ", ["bash"]),
    ("sluicectl --js", ["--json"]),
    ("sluicectl --socket /x st", ["status"]),
    ("sluicectl --for ", []),           # a value: nothing to offer
    ("sluicectl status ", []),          # takes no argument
    ("sluicectl help ve", ["version"]),
    ("sluicectl import ", ["kong"]),
    ("sluicectl import kong sluicectl.b", ["sluicectl.bash"]),  # a file
])
def test_completion_prefixes(completion, line, want):
    assert completion(line) == want


def test_completion_file_is_what_make_builds(completion):
    """build/sluicectl.bash (what make install and the package install)
    is the generated script, not a copy that could drift."""
    built = h.BUILD / "sluicectl.bash"
    if not built.exists():
        pytest.skip(f"{built} not built (make all)")
    assert built.read_text() == completion.script.read_text()
