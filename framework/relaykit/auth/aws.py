"""Callers an AWS front already verified, read from the Lambda event's ``requestContext``.

- A Function URL or HTTP API with ``AWS_IAM`` auth: ``authorizer.iam.userArn`` (SigV4-signed
  callers allowed ``lambda:InvokeFunctionUrl`` / ``execute-api:Invoke``). An assumed-role ARN
  keeps its role and drops the session name, so a role's runs stay its own across sessions.
- An HTTP API JWT authorizer: ``authorizer.jwt.claims`` (``sub``) and ``authorizer.jwt.scopes``;
  the principal's method is ``jwt``, as when relaykit verifies the token itself.
- An API Gateway REST API with IAM auth (``identity.userArn``) or a Cognito authorizer
  (``authorizer.claims``).

Outside Lambda (no event in the request) it finds nobody, and so does a Function URL with
AuthType ``NONE``: the event carries no verified identity, and a client cannot forge one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relaykit.auth.types import AuthRequest, Principal, Unauthenticated


def role_arn(arn: str) -> str:
    """``arn:aws:sts::1:assumed-role/ops/session`` -> ``arn:aws:sts::1:assumed-role/ops``."""
    head, sep, rest = arn.partition(":assumed-role/")
    if not sep:
        return arn
    return f"{head}:assumed-role/{rest.split('/', 1)[0]}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _claims_principal(claims: Mapping[str, Any], scopes: Any) -> Principal | None:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        return None
    words: set[str] = set()
    for value in (scopes, claims.get("scope")):
        if isinstance(value, str):
            words.update(value.split())
        elif isinstance(value, list):
            words.update(str(item) for item in value)
    return Principal(subject, frozenset(words), "jwt", dict(claims))


class AwsAuth:
    """Trust the identity in the Lambda event's ``requestContext`` (see the module docstring)."""

    method = "aws"

    async def authenticate(self, request: AuthRequest) -> Principal | None:
        event = request.lambda_event
        if not isinstance(event, Mapping):
            return None
        context = _mapping(event.get("requestContext"))
        authorizer = _mapping(context.get("authorizer"))
        iam = _mapping(authorizer.get("iam"))
        arn = iam.get("userArn") or _mapping(context.get("identity")).get("userArn")
        if isinstance(arn, str) and arn:
            return Principal(role_arn(arn), frozenset(), self.method, dict(iam))
        jwt = _mapping(authorizer.get("jwt"))
        for claims, scopes in (
            (_mapping(jwt.get("claims")), jwt.get("scopes")),
            (_mapping(authorizer.get("claims")), None),
        ):
            found = _claims_principal(claims, scopes)
            if found is not None:
                return found
        return None

    def challenge(self, error: Unauthenticated | None = None) -> str:
        return 'AWS4-HMAC-SHA256 realm="relaykit"'

    def security_scheme(self) -> tuple[str, dict[str, Any]]:
        return "AwsSigV4", {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
