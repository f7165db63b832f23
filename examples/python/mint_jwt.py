#!/usr/bin/env python3
"""Mint an HS256 JWT for the examples: mint_jwt.py SUBJECT [ROLE...]

Standard library only. The key is $EXAMPLE_JWT_SECRET, with the same
example-only default as run.sh; a real deployment gets its tokens from an
identity provider and gives Sluice its public keys (docs/AUTH.md).
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time

DEFAULT_SECRET = "example-only-jwt-secret-change-me-0123456789"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(sub, roles, secret, ttl=3600):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"},
                          separators=(",", ":")).encode())
    body = b64(json.dumps({"sub": sub, "roles": roles,
                           "exp": int(time.time()) + ttl},
                          separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(),
                   hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: mint_jwt.py SUBJECT [ROLE...]")
    print(mint(sys.argv[1], sys.argv[2:],
               os.environ.get("EXAMPLE_JWT_SECRET", DEFAULT_SECRET)))
