"""relaykit: write an LLM task once; run it on AWS Lambda, on event sources, or in a container.

``import relaykit`` loads only the standard library: FastAPI, pydantic, uvicorn, boto3 and
provider SDKs are imported where first used, because Lambda cold start is a product feature.
"""

from typing import TYPE_CHECKING, Any

from relaykit.app import App, asgi_lambda_handler
from relaykit.auth.types import Authenticator, Forbidden, Principal, Unauthenticated
from relaykit.context import Context
from relaykit.dispatch import Chunk
from relaykit.errors import (
    AppLoadError,
    BadRequest,
    ConfigError,
    DurableError,
    HistoryTooLong,
    LeaseLost,
    LimitExceeded,
    MissingExtraError,
    ModelError,
    NonDeterminismError,
    NotFound,
    PayloadTooLarge,
    RegistrationError,
    RelaykitError,
    RequestError,
    RunNotFound,
    StepFailed,
    StepTooLong,
    TerminalError,
    UnknownEventError,
    ValidationFailed,
)
from relaykit.model import Message, Model, Reply, ToolCall, Usage
from relaykit.settings import Settings

if TYPE_CHECKING:
    from relaykit.auth.api_keys import ApiKeyAuth
    from relaykit.auth.aws import AwsAuth
    from relaykit.auth.tokens import JwtAuth

__version__ = "0.1.0"

__all__ = [
    "ApiKeyAuth",
    "App",
    "AppLoadError",
    "Authenticator",
    "AwsAuth",
    "BadRequest",
    "Chunk",
    "ConfigError",
    "Context",
    "DurableError",
    "Forbidden",
    "HistoryTooLong",
    "JwtAuth",
    "LeaseLost",
    "LimitExceeded",
    "Message",
    "MissingExtraError",
    "Model",
    "ModelError",
    "NonDeterminismError",
    "NotFound",
    "PayloadTooLarge",
    "Principal",
    "RegistrationError",
    "RelaykitError",
    "Reply",
    "RequestError",
    "RunNotFound",
    "Settings",
    "StepFailed",
    "StepTooLong",
    "TerminalError",
    "ToolCall",
    "Unauthenticated",
    "UnknownEventError",
    "Usage",
    "ValidationFailed",
    "__version__",
    "asgi_lambda_handler",
]


def __getattr__(name: str) -> Any:
    # The authenticators load on first use (they bring hashlib, asyncio, PyJWT when used).
    if name in ("ApiKeyAuth", "AwsAuth", "JwtAuth"):
        import relaykit.auth

        return getattr(relaykit.auth, name)
    raise AttributeError(f"module 'relaykit' has no attribute {name!r}")
