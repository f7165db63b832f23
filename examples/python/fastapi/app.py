"""Three small services behind Sluice, written with FastAPI (served by uvicorn).

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

    uvicorn --app-dir examples/python/fastapi --host 127.0.0.1 --port 5101 \
        --no-proxy-headers app:orders
    uvicorn --app-dir examples/python/fastapi --no-proxy-headers \
        --uds /run/sluice-example-fastapi/apps/orders.sock app:orders

--no-proxy-headers: uvicorn would otherwise replace the peer's address
with the last X-Forwarded-For element (from 127.0.0.1 it trusts it), and
the check below must see the TCP peer. The client's address is in
X-Forwarded-For, which the gateway sets.
"""
from typing import List, Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Request

TRUSTED_PEERS = {"127.0.0.1", "::1"}


def from_gateway(request: Request) -> bool:
    """A loopback TCP peer, or any peer of a Unix socket: uvicorn --uds
    gives neither the server's nor the client's end an address (over TCP
    both always have one)."""
    if request.client is None:
        return request.scope.get("server") is None
    return request.client.host in TRUSTED_PEERS


class Identity:
    def __init__(self, name: Optional[str], roles: List[str]):
        self.name, self.roles = name, roles


def identity(request: Request,
             x_consumer_name: Optional[str] = Header(None),
             x_consumer_roles: str = Header("")) -> Identity:
    """The caller as the gateway passed it; 403 from anyone else."""
    if not from_gateway(request):
        raise HTTPException(status_code=403, detail="not from the gateway")
    roles = [r.strip() for r in x_consumer_roles.split(",") if r.strip()]
    return Identity(x_consumer_name, roles)


def create_app(service: str) -> FastAPI:
    app = FastAPI(title=service, docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.get(f"/{service}/health")
    def health():
        return {"service": service, "ok": True}

    @app.get(f"/{service}/whoami")
    def whoami(who: Identity = Depends(identity)):
        return {"service": service, "consumer": who.name, "roles": who.roles}

    @app.get(f"/{service}/")
    def index(who: Identity = Depends(identity)):
        return {"service": service, "items": [], "consumer": who.name}

    @app.post(f"/{service}/", status_code=201)
    def create(who: Identity = Depends(identity)):
        return {"service": service, "created_by": who.name}

    @app.get(f"/{service}/{{item}}")
    def item(item: str, who: Identity = Depends(identity)):
        return {"service": service, "item": item, "consumer": who.name}

    return app


orders = create_app("orders")
users = create_app("users")
reports = create_app("reports")
