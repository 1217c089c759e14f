"""Real parts for the auth tests: signing keys made here, a JWKS served by a local HTTP server,
a relaykit app served by uvicorn on a free loopback port, and moto's server for SSM and Secrets
Manager with real boto3."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support import SENTINEL_KEY, free_port

ISSUER_PATH = ""
AUDIENCE = "relaykit-tests"
ALICE_KEY = f"alice-{SENTINEL_KEY}"
BOB_KEY = "bob-key-0123456789abcdef00"
OPS_KEY = "ops-key-0123456789abcdef000"
KEYS = {
    "alice": ALICE_KEY,
    "bob": BOB_KEY,
    "ops": {"key": OPS_KEY, "scopes": ["relaykit:admin", "reports"]},
}


@dataclass
class SigningKey:
    """A private key with its key id and algorithm, and its public JWK."""

    kid: str
    alg: str
    private: Any

    @property
    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        data: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class JwksServer:
    """An HTTP server on loopback serving ``/jwks.json`` (the public halves of ``keys``) and the
    OpenID discovery document of issuer ``url``; counts the JWKS fetches."""

    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def token(
        self,
        key: SigningKey,
        *,
        kid: str | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 300}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"kid": key.kid if kid is None else kid, **(headers or {})}
        return jwt.encode(body, key.private, algorithm=key.alg, headers=head)


@contextmanager
def jwks_server(keys: list[SigningKey]) -> Iterator[JwksServer]:
    state = JwksServer(list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/jwks.json":
                state.fetches += 1
                body: Any = {"keys": [k.jwk for k in state.keys]}
            elif self.path == "/.well-known/openid-configuration":
                body = {"issuer": state.url, "jwks_uri": f"{state.url}/jwks.json"}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def serve(asgi: Any) -> Iterator[str]:
    """``asgi`` served by uvicorn on a free loopback port (in a thread); yields its URL."""
    port = free_port()
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def moto() -> Iterator[str]:
    """moto's server on loopback (its own free port); yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class LambdaContext:
    """What the managed Python runtime passes as ``context`` (the attributes relaykit reads)."""

    function_name = "relaykit-auth"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:210987654321:function:relaykit-auth"
    memory_limit_in_mb = 512
    aws_request_id = "5b1a9a52-2c43-4f7e-9d0c-7a4e1f0a2b3c"
    log_group_name = "/aws/lambda/relaykit-auth"
    log_stream_name = "2026/11/28/[$LATEST]0123456789abcdef"
    identity = None
    client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
