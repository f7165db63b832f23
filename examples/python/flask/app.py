"""Three small services behind Sluice, written with Flask (served by gunicorn).

The gateway has already authenticated the caller, checked its roles, its
address and its rate limits; what reaches a service is a request Sluice let
through, with the caller's identity in two headers:

    X-Consumer-Name:  alice            (absent: anonymous)
    X-Consumer-Roles: admin, ops

Sluice removes any X-Consumer-* a client sent, in every spelling, so these
are the gateway's. They are trusted only because the services listen on
loopback, behind the gateway (docs/INTEGRATION.md); a request from any
other peer is refused. Or on a Unix socket whose file permissions let
only the gateway connect: then whoever connected is the gateway.

    gunicorn --chdir examples/python/flask --bind 127.0.0.1:5001 app:orders
    gunicorn --chdir examples/python/flask --umask 007 \
        --bind unix:/run/sluice-example-flask/apps/orders.sock app:orders
"""
import socket

from flask import Flask, abort, jsonify, request

TRUSTED_PEERS = {"127.0.0.1", "::1"}


def from_gateway():
    """A loopback TCP peer, or any peer of a Unix socket (gunicorn passes
    the connection's socket; its peer has no address to check)."""
    sock = request.environ.get("gunicorn.socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        return True
    return request.remote_addr in TRUSTED_PEERS


def identity():
    """(name, roles) as the gateway passed them; 403 from anyone else."""
    if not from_gateway():
        abort(403)
    name = request.headers.get("X-Consumer-Name")
    roles = [r.strip() for r in
             request.headers.get("X-Consumer-Roles", "").split(",")
             if r.strip()]
    return name, roles


def create_app(service):
    app = Flask(service)

    @app.get(f"/{service}/health")
    def health():
        return jsonify(service=service, ok=True)

    @app.get(f"/{service}/whoami")
    def whoami():
        name, roles = identity()
        return jsonify(service=service, consumer=name, roles=roles)

    @app.route(f"/{service}/", methods=["GET", "POST"])
    def index():
        name, roles = identity()
        if request.method == "POST":
            return jsonify(service=service, created_by=name), 201
        return jsonify(service=service, items=[], consumer=name)

    @app.get(f"/{service}/<item>")
    def item(item):
        name, _ = identity()
        return jsonify(service=service, item=item, consumer=name)

    return app


orders = create_app("orders")
users = create_app("users")
reports = create_app("reports")
