"""Auth configuration: settings parsed with errors that name the key, public paths checked,
handler options checked, and nothing heavy imported until a request needs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auth.kit import ALICE_KEY, KEYS
from relaykit import App, ConfigError, RegistrationError
from relaykit.auth import ApiKeyAuth, AwsAuth


@pytest.mark.parametrize(
    ("settings", "key", "reason"),
    [
        ({"auth": "apikey"}, "auth", "unknown method"),
        ({"auth": "api-key", "auth_api_keys": "alice:short"}, "auth_api_keys", "shorter"),
        ({"auth_public_paths": "/runs"}, "auth_public_paths", "never public"),
        ({"auth_public_paths": "docs"}, "auth_public_paths", "does not start with /"),
        ({"auth_jwt_jwks_url": "http://idp.example/k"}, "auth_jwt_jwks_url", "https"),
        ({"auth_jwt_jwks": "[1]"}, "auth_jwt_jwks", "JWKS"),
        ({"auth_admin_scope": "two words"}, "auth_admin_scope", "without spaces"),
        ({"auth_api_key_header": "x api key"}, "auth_api_key_header", "header name"),
        ({"auth": "jwt", "auth_jwt_audience": "a"}, "auth_jwt_issuer", "needs it"),
        (
            {"auth": "api-key", "auth_api_keys": f"a:{ALICE_KEY}", "auth_api_keys_secret": "s"},
            "auth_api_keys",
            "exactly one source",
        ),
    ],
)
def test_bad_auth_settings_name_the_key(
    settings: dict[str, Any], key: str, reason: str, tmp_path: Path
) -> None:
    """Each bad auth setting is a ConfigError naming the key and why; none quotes a key."""
    with pytest.raises(ConfigError) as caught:
        App("t", settings=settings, config_dir=tmp_path)
    assert key in str(caught.value) and reason in str(caught.value), str(caught.value)
    assert "short'" not in str(caught.value)


def test_settings_from_relaykit_toml(tmp_path: Path) -> None:
    """auth, keys as a TOML table with scopes, public paths and admins read from relaykit.toml;
    the keys never show in the settings' repr."""
    (tmp_path / "relaykit.toml").write_text(
        'auth = ["api-key", "aws"]\n'
        'auth_public_paths = ["/healthz", "/docs", "/openapi.json"]\n'
        'auth_admins = ["api-key:ops"]\n'
        "[auth_api_keys]\n"
        f'alice = "{ALICE_KEY}"\n'
        f'ops = {{ key = "{KEYS["ops"]["key"]}", scopes = ["reports"] }}\n'  # type: ignore[index]
    )
    app = App("t", config_dir=tmp_path)
    assert app.auth is not None
    assert [type(a) for a in app.auth.authenticators] == [ApiKeyAuth, AwsAuth]
    assert app.auth.public_paths == {"/healthz", "/docs", "/openapi.json"}
    assert app.auth.admins == ("api-key:ops",)
    assert ALICE_KEY not in repr(app.settings)


def test_a_public_path_must_name_a_route(tmp_path: Path) -> None:
    """A public path that is neither a handler, /healthz nor a docs route fails when the ASGI
    app is built, listing what is accepted."""
    app = App(
        "t",
        settings={"auth_public_paths": "/nope"},
        config_dir=tmp_path,
        auth=ApiKeyAuth(KEYS),
    )

    @app.task("/ask")
    async def ask() -> str:
        return "x"

    with pytest.raises(ConfigError, match=r"auth_public_paths.*'/nope'.*/ask"):
        app.asgi()


def test_handler_access_options_are_checked(tmp_path: Path) -> None:
    """A public handler cannot require scopes; scopes are words; App(auth=) takes objects."""
    app = App("t", config_dir=tmp_path)

    async def fn() -> str:
        return "x"

    with pytest.raises(RegistrationError, match="public handler cannot require scopes"):
        app.add_task("/a", fn, public=True, scopes=["x"])
    with pytest.raises(RegistrationError, match="scopes must be non-empty words"):
        app.add_task("/b", fn, scopes=["two words"])
    with pytest.raises(ConfigError, match="authenticator objects"):
        App("t", config_dir=tmp_path, auth="api-key")  # type: ignore[arg-type]


def modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_auth_costs_nothing_at_import() -> None:
    """`import relaykit` loads none of the auth machinery's dependencies; an app with API-key
    and JWT authentication from settings, handlers registered, loads no PyJWT, cryptography,
    boto3, Powertools or asyncio until it serves."""
    heavy = {"jwt", "cryptography", "boto3", "aws_lambda_powertools", "asyncio", "fastapi"}
    assert not {m.split(".")[0] for m in modules_after("import relaykit")} & heavy
    code = f"""
import relaykit
app = relaykit.App("a", settings={{
    "auth": "api-key,jwt", "auth_api_keys": "alice:{ALICE_KEY}",
    "auth_jwt_issuer": "https://id.example", "auth_jwt_audience": "api"}})
@app.task("/t", scopes=["x"])
async def t(body: dict) -> dict:
    return body
assert app.auth is not None
"""
    assert not {m.split(".")[0] for m in modules_after(code)} & heavy


def test_public_names_are_exported() -> None:
    """The authenticators and Principal are importable from relaykit itself."""
    import relaykit

    assert relaykit.ApiKeyAuth is ApiKeyAuth
    assert relaykit.Principal.__name__ == "Principal"
    assert {"ApiKeyAuth", "JwtAuth", "AwsAuth", "Principal"} <= set(relaykit.__all__)
