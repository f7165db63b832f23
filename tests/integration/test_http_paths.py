"""Path spellings against route-level auth, through a real Python backend.

The backend is Python's http.server (SimpleHTTPRequestHandler, which
percent-decodes, drops "." and ".." and merges slashes) serving a tree with
admin/users (a secret) and public/index; it logs the request line it
received. The gateway has a protected route /admin/ (a bearer token and
the admin role) and a public catch-all route. For each spelling in the
table: without a credential (and with one lacking the role) nothing
reaches the protected file; with it, the normalised ones do; and the
backend received exactly the normal form, so it served the path that was
authorised. Requests are sent raw (curl and http.client normalise).
"""
import json
import signal
import uuid

import pytest

import auth_util as au
import helpers as h
import raw

PY_PORT = 9003
SECRET = "ADMIN-SECRET-" + uuid.uuid4().hex
ALICE = "alice-" + uuid.uuid4().hex       # roles: admin
BOB = "bob-" + uuid.uuid4().hex           # roles: ops (no admin)

BACKEND_PY = r'''
import functools, http.server, json, sys
port, root, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = open(log, "a", buffering=1)

class H(http.server.SimpleHTTPRequestHandler):
    def _log(self):
        out.write(json.dumps({"line": self.requestline, "path": self.path,
                              "host": self.headers.get("Host"),
                              "consumer": self.headers.get(
                                  "X-Consumer-Name")}) + "\n")

    def do_GET(self):
        self._log()
        super().do_GET()

    def do_OPTIONS(self):
        self._log()
        self.send_response(204)
        self.send_header("Allow", "GET, OPTIONS")
        self.end_headers()

    def log_message(self, *a):
        pass

H.protocol_version = "HTTP/1.1"
srv = http.server.ThreadingHTTPServer(
    (sys.argv[4], port), functools.partial(H, directory=root))
print("python backend ready", flush=True)
srv.serve_forever()
'''

# (request-target, normal form the backend must receive; None: 400)
# Default config: path_params reject, escaped_slashes reject.
SPELLINGS = [
    ("/admin/users", "/admin/users"),
    ("/public/../admin/users", "/admin/users"),
    ("/%61dmin/users", "/admin/users"),
    ("/adm%69n/users", "/admin/users"),
    ("/admin/%75sers", "/admin/users"),
    ("/%61%64%6d%69%6e/%75%73%65%72%73", "/admin/users"),
    ("/x/%2e%2e/admin/users", "/admin/users"),
    ("/x/%2E%2E/admin/users", "/admin/users"),
    ("/x/.%2e/admin/users", "/admin/users"),
    ("/x/%2E./admin/users", "/admin/users"),
    ("/public/%2e%2e/%61dmin//users", "/admin/users"),
    ("//admin/users", "/admin/users"),
    ("///admin///users", "/admin/users"),
    ("/admin//users", "/admin/users"),
    ("/./admin/users", "/admin/users"),
    ("/%2e/admin/users", "/admin/users"),
    ("/./././admin/users", "/admin/users"),
    ("/admin/./users", "/admin/users"),
    ("/admin/x/../users", "/admin/users"),
    ("/public/./../admin/./users", "/admin/users"),
    ("/a/b/c/../../../admin/users", "/admin/users"),
    ("/admin/users?x=/../public", "/admin/users?x=/../public"),
    ("/admin/users/..", "/admin/"),
    ("http://gw.test/public/../admin/users", "/admin/users"),
    ("http://gw.test//admin/users?q=1", "/admin/users?q=1"),
    # refused: cannot be normalised safely
    ("/admin;x/users", None),
    ("/public/..;/admin/users", None),
    ("/admin;jsessionid=1/users", None),
    ("/admin%2fusers", None),
    ("/admin%2Fusers", None),
    ("/%2fadmin/users", None),
    ("/public/%2e%2e%2fadmin/users", None),
    ("/admin%5cusers", None),
    ("/admin\\users", None),
    ("/public\\..\\admin\\users", None),
    ("/..%5cadmin/users", None),
    ("/../admin/users", None),
    ("/public/../../admin/users", None),
    ("/%2e%2e/admin/users", None),
    ("/a%00/../admin/users", None),
    ("/admin/users%00", None),
    ("/admin/users%0d%0a", None),
    ("/admin/users%", None),
    ("/admin/users%zz", None),
    # public: the backend gets the normal form and no secret
    ("/public/index", "/public/index"),
    ("/public/../public/index", "/public/index"),
    ("/admin", "/admin"),
    ("/Admin/users", "/Admin/users"),
    ("/%41dmin/users", "/Admin/users"),
    ("/admin%3busers", "/admin%3Busers"),
    ("/admin%2e/users", "/admin./users"),
    ("/public/%252e%252e/admin/users", "/public/%252e%252e/admin/users"),
    ("/public/..?/admin/users", "/?/admin/users"),
]
PROTECTED = "/admin/"


def protected(normal):
    return normal is not None and normal.split("?")[0].startswith(PROTECTED)


@pytest.fixture(scope="module")
def pyback(topo, workdir):
    root = workdir / "pytree"
    (root / "admin").mkdir(parents=True, exist_ok=True)
    (root / "public").mkdir(exist_ok=True)
    (root / "admin" / "users").write_text(SECRET + "\n")
    (root / "public" / "index").write_text("public page\n")
    script = workdir / "pyback.py"
    script.write_text(BACKEND_PY)
    log = workdir / "pyback.log"
    p = h.Proc("pyback", ["ip", "netns", "exec", h.SRV_NS, "/usr/bin/python3",
                          script, PY_PORT, root, log, h.SRV4], workdir)
    p.log_path = log
    p.wait_output("python backend ready", 10)
    yield p
    p.stop()


def entries(pyback):
    return h.backend_log(pyback)


def make_gateway(workdir, name, extra_http=""):
    routes = """\
  - name: admin
    path_prefix: /admin/
    service: echo
    auth: [bearer]
    roles: [admin]
  - name: public
    service: echo
"""
    top = f"""\
consumers:
  - name: alice
    roles: [admin]
    bearer_tokens: ['{au.sha256_ref(ALICE)}']
  - name: bob
    roles: [ops]
    bearer_tokens: ['{au.sha256_ref(BOB)}']
"""
    cfg = au.write_auth_config(workdir, name, routes, top)
    text = cfg.read_text().replace(f"{h.SRV4}:{h.B1_PORT}",
                                   f"{h.SRV4}:{PY_PORT}")
    if extra_http:
        assert "\nhttp:\n" not in text
        text += "http:\n" + extra_http
    cfg.write_text(text)
    return au.Gateway(cfg, workdir, name)


@pytest.fixture(scope="module")
def gw(pyback, workdir):
    g = make_gateway(workdir, "gw-paths")
    g.running = True
    yield g
    if g.running:
        g.stop()


@pytest.fixture(scope="module")
def gw_strip(gw, pyback, workdir):
    """The same gateway with path_params: strip (same listeners: the
    default one is stopped first; these tests come last in the file)."""
    gw.stop()
    gw.running = False
    g = make_gateway(workdir, "gw-paths-strip", "  path_params: strip\n")
    yield g
    g.stop()


def send(target, token=None, method="GET", version="1.1"):
    hs = [("Authorization", f"Bearer {token}")] if token else []
    c = raw.Conn()
    try:
        c.send(raw.request(method, target, hs, version=version))
        return c.response(head_method=method == "HEAD")
    finally:
        c.close()


def received(pyback, before):
    """Log entries the backend wrote since `before` entries."""
    return entries(pyback)[before:]


def check_spelling(pyback, target, normal, token, may_pass):
    before = len(entries(pyback))
    r = send(target, token)
    got = received(pyback, before)
    where = f"{target!r} (token {'yes' if token else 'no'}): {r}"
    body = r.body.decode("latin-1")
    if normal is None:
        assert r.status == 400, where
        assert r.header("content-type").startswith("application/json")
        assert json.loads(r.body)["error"] == "bad_request", where
        assert got == [], f"refused request reached the backend: {where}"
        return
    if protected(normal) and not may_pass:
        assert r.status in (401, 403), where
        assert got == [], f"unauthorised request reached the backend: {where}"
        return
    assert len(got) == 1, f"{where}: backend saw {got}"
    # the backend received exactly the normal form, in origin-form
    assert got[0]["path"] == normal, f"{where}: backend saw {got}"
    assert got[0]["line"] == f"GET {normal} HTTP/1.1", got
    assert got[0]["host"] == "gw.test", got
    if protected(normal):
        assert got[0]["consumer"] == "alice", got
    if normal.split("?")[0] == "/admin/users":
        assert r.status == 200 and SECRET in body, where
    if not protected(normal):
        assert SECRET not in body, f"public route served the secret: {where}"


@pytest.mark.parametrize("target,normal", SPELLINGS,
                         ids=[s[0] for s in SPELLINGS])
def test_spelling_without_credential(gw, pyback, target, normal):
    check_spelling(pyback, target, normal, None, False)


@pytest.mark.parametrize("target,normal", SPELLINGS,
                         ids=[s[0] for s in SPELLINGS])
def test_spelling_without_role(gw, pyback, target, normal):
    check_spelling(pyback, target, normal, BOB, False)


@pytest.mark.parametrize("target,normal", SPELLINGS,
                         ids=[s[0] for s in SPELLINGS])
def test_spelling_with_credential(gw, pyback, target, normal):
    check_spelling(pyback, target, normal, ALICE, True)


def test_table_is_large_enough():
    assert len(SPELLINGS) >= 40
    assert sum(1 for _, n in SPELLINGS if n == "/admin/users") >= 20


def test_absolute_form_sent_in_origin_form_http10(gw, pyback):
    """An HTTP/1.0 absolute-form request without Host: the backend gets
    origin-form and a Host field from the authority."""
    before = len(entries(pyback))
    c = raw.Conn()
    try:
        c.send("GET http://gw.test/public/x/../index?a=1 HTTP/1.0\r\n\r\n")
        r = c.response()
    finally:
        c.close()
    got = received(pyback, before)
    assert r.status == 200 and b"public page" in r.body, r
    assert len(got) == 1, got
    assert got[0]["line"] == "GET /public/index?a=1 HTTP/1.0", got
    assert got[0]["host"] == "gw.test", got


def test_absolute_form_empty_path(gw, pyback):
    before = len(entries(pyback))
    r = send("http://gw.test?a=1")
    got = received(pyback, before)
    assert r.status == 200, r
    assert [e["line"] for e in got] == ["GET /?a=1 HTTP/1.1"], got


def test_absolute_form_protected_needs_credential(gw, pyback):
    before = len(entries(pyback))
    r = send("http://gw.test/public/%2e%2e/admin/users")
    assert r.status == 401, r
    assert received(pyback, before) == []


def test_options_asterisk(gw, pyback):
    """asterisk-form is not a path and is left alone. Every route prefix
    starts with '/', so it matches none (as before the normal form):
    404 from the gateway, nothing at the backend."""
    before = len(entries(pyback))
    r = send("*", method="OPTIONS")
    assert r.status == 404, r
    assert json.loads(r.body)["error"] == "no_route", r
    assert received(pyback, before) == []


# path_params: strip -- ";..." removed from each segment before the
# dot-segments are resolved (as Tomcat and Spring read them), and the
# backend gets the path without them: the one that was authorised
STRIP = [
    ("/admin;x/users", "/admin/users"),
    ("/admin;jsessionid=1/users;a=b", "/admin/users"),
    ("/public/..;/admin/users", "/admin/users"),
    ("/public/..;x=1/admin/users", "/admin/users"),
    ("/.;/admin/users", "/admin/users"),
    ("/public;x/index", "/public/index"),
    ("/..;/admin/users", None),
    ("/admin%3bx/users", "/admin%3Bx/users"),
]


@pytest.mark.parametrize("target,normal", STRIP, ids=[s[0] for s in STRIP])
def test_strip_params(gw_strip, pyback, target, normal):
    check_spelling(pyback, target, normal, None, False)
    check_spelling(pyback, target, normal, ALICE, True)
