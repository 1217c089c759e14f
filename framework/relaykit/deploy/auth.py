"""What a deployed function or container needs to enforce its placement's ``auth``: the
``RELAYKIT_AUTH*`` environment the app reads, and the IAM statements that let it read the API
keys (Secrets Manager or SSM Parameter Store). Resources use the plan's ``${Partition}``,
``${Region}`` and ``${AccountId}`` placeholders, which each renderer fills.

The keys never go into a template: an ``api-key`` placement names their secret or parameter
(``api_keys_secret`` / ``api_keys_parameter``, else the app's ``auth_api_keys_secret`` /
``auth_api_keys_parameter`` settings), and the deployment passes only that name.
``AWS_IAM`` and the HTTP API JWT authorizer are enforced by AWS; the app is still told (``aws``)
so that it knows the caller, and the runs API shows each caller only its own runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from relaykit.errors import ConfigError
from relaykit.placement import Placement
from relaykit.settings import Settings


@dataclass
class AuthPlan:
    """The environment and IAM statements of one function or of the container service."""

    env: dict[str, str] = field(default_factory=dict)
    statements: list[dict[str, Any]] = field(default_factory=list)


def key_source(
    settings: Settings, where: str, placement: Placement | None = None
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The environment naming the keys' secret or parameter (the placement's, else the
    settings'), and the statement to read it."""
    secret, parameter = settings.auth_api_keys_secret, settings.auth_api_keys_parameter
    if placement is not None and (placement.api_keys_secret or placement.api_keys_parameter):
        secret, parameter = placement.api_keys_secret, placement.api_keys_parameter
    if secret:
        resource = secret
        if not secret.startswith("arn:"):
            # A secret's ARN ends in "-" and six random characters.
            arn = "arn:${Partition}:secretsmanager:${Region}:${AccountId}:secret:"
            resource = f"{arn}{secret}-??????"
        statement = {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": resource,
        }
        return {"RELAYKIT_AUTH_API_KEYS_SECRET": secret}, [statement]
    if parameter:
        resource = parameter
        if not parameter.startswith("arn:"):
            name = parameter.lstrip("/")
            resource = f"arn:${{Partition}}:ssm:${{Region}}:${{AccountId}}:parameter/{name}"
        statement = {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": resource}
        return {"RELAYKIT_AUTH_API_KEYS_PARAMETER": parameter}, [statement]
    reason = (
        "api-key needs the keys in AWS: set api_keys_secret or api_keys_parameter in the "
        "placement (or auth_api_keys_secret / auth_api_keys_parameter in the settings)"
    )
    if settings.auth_api_keys:
        reason += " (keys given in auth_api_keys would be readable by anyone who can read the "
        reason += "template or the package)"
    raise ConfigError(where, reason, "api_keys_secret, api_keys_parameter")


def _plan(
    methods: Sequence[str], placement: Placement | None, settings: Settings, where: str
) -> AuthPlan:
    """The plan for the app ``methods`` the placement asks for, added to the settings' own."""
    plan = AuthPlan()
    if not methods:
        if "api-key" in settings.auth and (
            settings.auth_api_keys_secret or settings.auth_api_keys_parameter
        ):
            plan.statements = key_source(settings, where)[1]
        return plan
    merged = list(dict.fromkeys([*methods, *settings.auth]))
    plan.env["RELAYKIT_AUTH"] = ",".join(merged)
    if "api-key" in merged:
        env, plan.statements = key_source(settings, where, placement)
        plan.env.update(env)
    jwt = placement if "jwt" in methods else None
    if jwt is not None:
        plan.env["RELAYKIT_AUTH_JWT_ISSUER"] = str(jwt.jwt_issuer)
        plan.env["RELAYKIT_AUTH_JWT_AUDIENCE"] = str(jwt.jwt_audience)
        if jwt.jwt_jwks_url:
            plan.env["RELAYKIT_AUTH_JWT_JWKS_URL"] = jwt.jwt_jwks_url
    return plan


def function_auth(placement: Placement, target: str, settings: Settings) -> AuthPlan:
    """The auth plan of the Lambda function of ``placement`` on ``target``."""
    method = placement.app_auth(target)
    where = f'placement."{placement.name}".auth'
    return _plan([method] if method else [], placement, settings, where)


def _auth_key(p: Placement) -> tuple[str | None, ...]:
    """What must be equal for two placements to share one authentication."""
    jwt = (p.jwt_issuer, p.jwt_audience, p.jwt_jwks_url)
    return (p.auth, *jwt, p.api_keys_secret, p.api_keys_parameter)


def container_auth(containers: Sequence[Placement], settings: Settings) -> AuthPlan:
    """The auth plan of the container service serving ``containers`` (one app: one
    authentication). Handlers placed ``NONE`` beside protected ones become public paths, unless
    the app's own settings configure authentication for everything."""
    protected = [p for p in containers if p.app_auth("container")]
    if containers and (protected or settings.auth) and "/healthz" not in settings.auth_public_paths:
        raise ConfigError(
            "auth_public_paths",
            "the load balancer's health check calls /healthz without credentials; keep it public",
            "a list that includes /healthz",
        )
    if not protected:
        return _plan([], None, settings, "placement")
    if len({_auth_key(p) for p in protected}) > 1:
        names = ", ".join(f"{p.name} ({p.auth})" for p in protected)
        raise ConfigError(
            f'placement."{protected[-1].name}".auth',
            f"container handlers share one service and one authentication, but they differ: "
            f"{names}",
            "the same auth (and jwt_ or api_keys_ keys) for every protected container handler",
        )
    first = protected[0]
    method = first.app_auth("container")
    assert method is not None
    where = f'placement."{first.name}".auth'
    plan = _plan([method], first, settings, where)
    if not settings.auth:
        public = [p.name for p in containers if not p.app_auth("container")]
        paths = dict.fromkeys(["/healthz", *settings.auth_public_paths, *public])
        plan.env["RELAYKIT_AUTH_PUBLIC_PATHS"] = ",".join(paths)
    return plan
