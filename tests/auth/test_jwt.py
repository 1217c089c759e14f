"""JWT bearer tokens, signed in the test with keys generated in the test, verified against a
JWKS served by a local HTTP server, through the app served by uvicorn."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from auth.apps import build
from auth.kit import ALICE_KEY, AUDIENCE, KEYS, JwksServer, ec_key, jwks_server, rsa_key, serve
from relaykit import App, ConfigError
from relaykit.auth import ApiKeyAuth, AuthRequest, JwtAuth, Unauthenticated

RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")
STRANGER = rsa_key("rsa-1")  # same kid, different key: a forgery


@pytest.fixture(scope="module")
def idp() -> Iterator[JwksServer]:
    with jwks_server([RSA, EC]) as server:
        yield server


@pytest.fixture(scope="module")
def served(idp: JwksServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tokens = JwtAuth(issuer=idp.url, audience=AUDIENCE, jwks_url=f"{idp.url}/jwks.json")
    app = build(tmp_path_factory.mktemp("jwt"), auth=[ApiKeyAuth(KEYS), tokens])
    with serve(app.asgi()) as url:
        yield url


def call(url: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return httpx.post(f"{url}/ask", json={}, headers=headers, timeout=30)


def test_rs256_and_es256_tokens_are_accepted(served: str, idp: JwksServer) -> None:
    """Tokens signed with the RSA and the EC key of the JWKS reach the handler as their `sub`."""
    for key in (RSA, EC):
        response = call(served, idp.token(key, sub=f"user-{key.alg}"))
        assert response.status_code == 200, response.text
        assert response.json()["subject"] == f"user-{key.alg}"


def _none_token(idp: JwksServer) -> str:
    return jwt.encode({"iss": idp.url, "aud": AUDIENCE, "sub": "x", "exp": 2**31}, None, "none")


def _confused_token(idp: JwksServer) -> str:
    """HS256 signed with the RSA public key as the secret (algorithm confusion)."""
    pem = RSA.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = {"iss": idp.url, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}
    header = b'{"alg":"HS256","kid":"rsa-1","typ":"JWT"}'

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing = b64(header) + b"." + b64(json.dumps(body).encode())
    signature = hmac.new(pem, signing, hashlib.sha256).digest()
    return (signing + b"." + b64(signature)).decode()


BAD: dict[str, Any] = {
    "expired": (lambda i: i.token(RSA, exp=int(time.time()) - 3600), "expired"),
    "not yet valid": (lambda i: i.token(RSA, nbf=int(time.time()) + 3600), "not valid yet"),
    "forged": (lambda i: i.token(STRANGER), "signature"),
    "wrong audience": (lambda i: i.token(RSA, aud="another-api"), "audience"),
    "wrong issuer": (lambda i: i.token(RSA, iss="https://evil.example"), "issuer"),
    "no exp": (lambda i: i.token(RSA, exp=None), "exp"),
    "no sub": (lambda i: i.token(RSA, sub=None), "sub"),
    "unknown kid": (lambda i: i.token(STRANGER, kid="rsa-9"), "no key"),
    "alg none": (_none_token, "algorithm"),
    "alg confusion": (_confused_token, "algorithm"),
    "not a jwt": (lambda i: "not-a-jwt-at-all", "not a JWT"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tokens_are_401_with_an_rfc6750_challenge(
    case: str, served: str, idp: JwksServer
) -> None:
    """Expired, not-yet-valid, forged, wrong audience or issuer, missing claims, unknown kid,
    `alg: none`, HS256-with-the-public-key and garbage: 401, `error="invalid_token"` in the
    Bearer challenge, a reason, and the token appears nowhere in the answer."""
    make, reason = BAD[case]
    token = make(idp)
    response = call(served, token)
    assert response.status_code == 401, response.text
    assert reason in response.json()["error"]["message"]
    challenges = response.headers.get_list("www-authenticate")
    assert any('Bearer realm="relaykit", error="invalid_token"' in c for c in challenges)
    assert any(c.startswith("ApiKey") for c in challenges)
    assert token not in response.text and token not in str(response.headers)


def test_no_credentials_or_a_wrong_key_is_401(served: str) -> None:
    """Neither a key nor a token: 401 naming both ways in; a wrong key: 401 `not valid`."""
    missing = call(served)
    assert missing.status_code == 401
    assert "x-api-key" in missing.json()["error"]["message"]
    assert "Bearer" in missing.json()["error"]["message"]
    assert 'Bearer realm="relaykit"' in missing.headers.get_list("www-authenticate")
    wrong = call(served, **{"x-api-key": "wrong-key-0123456789abcdef"})
    assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]["message"]
    assert call(served, **{"x-api-key": ALICE_KEY}).json()["subject"] == "alice"


def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(
    served: str, idp: JwksServer
) -> None:
    """A burst of tokens naming unknown kids costs at most one more JWKS fetch (the refresh
    interval bounds what a caller can make the service do)."""
    call(served, idp.token(RSA))
    before = idp.fetches
    for n in range(5):
        assert call(served, idp.token(STRANGER, kid=f"nope-{n}")).status_code == 401
    assert idp.fetches - before <= 1


async def test_a_rotated_key_is_found_by_refetching_the_jwks() -> None:
    """A token signed by a key added to the JWKS after the first fetch verifies: the unknown
    kid triggers a fetch; a kid still unknown afterwards is refused."""
    old, new = rsa_key("old"), ec_key("new")
    with jwks_server([old]) as idp:
        auth = JwtAuth(
            issuer=idp.url,
            audience=AUDIENCE,
            jwks_url=f"{idp.url}/jwks.json",
            min_refresh_seconds=0,
        )

        def bearer(token: str) -> AuthRequest:
            return AuthRequest({"authorization": f"Bearer {token}"})

        first = await auth.authenticate(bearer(idp.token(old)))
        assert first is not None and idp.fetches == 1
        idp.keys.append(new)
        rotated = await auth.authenticate(bearer(idp.token(new, sub="after")))
        assert rotated is not None and rotated.subject == "after" and idp.fetches == 2
        with pytest.raises(Unauthenticated, match="no key"):
            await auth.authenticate(bearer(idp.token(rsa_key("gone"))))


async def test_keys_found_through_openid_discovery_and_scopes_read() -> None:
    """With only the issuer URL, the JWKS comes from its discovery document; `scope` (space
    separated) and `scp` (a list) become the principal's scopes."""
    with jwks_server([EC]) as idp:
        auth = JwtAuth(issuer=idp.url, audience=[AUDIENCE, "other"])
        token = idp.token(EC, scope="read write", scp=["admin"])
        found = await auth.authenticate(AuthRequest({"authorization": f"Bearer {token}"}))
        assert found is not None
        assert found.scopes == {"read", "write", "admin"} and found.owner == "jwt:user-1"


async def test_hs256_with_a_shared_secret() -> None:
    """HS256 tokens verify against the shared secret; one signed with another secret does not;
    a static JWKS works without any server."""
    secret = "s" * 40
    auth = JwtAuth(issuer="https://id.example", audience="api", secret=secret)
    body = {"iss": "https://id.example", "aud": "api", "sub": "svc", "exp": int(time.time()) + 60}
    good = jwt.encode(body, secret, algorithm="HS256")
    found = await auth.authenticate(AuthRequest({"authorization": f"Bearer {good}"}))
    assert found is not None and found.subject == "svc"
    bad = jwt.encode(body, "t" * 40, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="signature"):
        await auth.authenticate(AuthRequest({"authorization": f"Bearer {bad}"}))
    static = JwtAuth(issuer="https://id.example", audience="api", jwks={"keys": [EC.jwk]})
    token = jwt.encode(body, EC.private, algorithm="ES256", headers={"kid": EC.kid})
    assert await static.authenticate(AuthRequest({"authorization": f"Bearer {token}"}))


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"jwks_url": "http://idp.example/jwks.json"}, "auth_jwt_jwks_url", "https"),
        ({"secret": "short"}, "auth_jwt_secret", "32 bytes"),
        ({"secret": "s" * 40, "algorithms": ["RS256"]}, "auth_jwt_algorithms", "shared secret"),
        ({"jwks": {"keys": []}, "algorithms": ["HS256"]}, "auth_jwt_algorithms", "public keys"),
        ({"jwks": '{"nope": 1}'}, "auth_jwt_jwks", "JWKS"),
        ({"audience": []}, "auth_jwt_audience", "one or more"),
    ],
)
def test_bad_jwt_configuration_names_the_field(
    kwargs: dict[str, Any], field: str, reason: str
) -> None:
    """Each unusable JwtAuth configuration is a ConfigError naming the setting and the reason."""
    options: dict[str, Any] = {"issuer": "https://id.example", "audience": "api", **kwargs}
    with pytest.raises(ConfigError) as caught:
        JwtAuth(**options)
    assert caught.value.key == field and reason in str(caught.value)


def test_jwt_from_settings(tmp_path: Path) -> None:
    """auth = jwt with issuer and audience settings builds a JwtAuth; without the audience it
    is an error naming auth_jwt_audience."""
    settings = {"auth": "jwt", "auth_jwt_issuer": "https://id.example"}
    app = App("t", settings={**settings, "auth_jwt_audience": "a,b"}, config_dir=tmp_path)
    assert app.auth is not None
    (tokens,) = app.auth.authenticators
    assert isinstance(tokens, JwtAuth) and tokens.audience == ["a", "b"]
    with pytest.raises(ConfigError, match="auth_jwt_audience"):
        App("t", settings=settings, config_dir=tmp_path)
