"""relaykit: write an LLM task once; run it on AWS Lambda, on event sources, or in a container.

``import relaykit`` loads only the standard library: FastAPI, pydantic, uvicorn, boto3 and
provider SDKs are imported where first used, because Lambda cold start is a product feature.
The names below are themselves imported on first use, so ``from relaykit import
asgi_lambda_handler`` loads the lean ASGI path and not the ``App``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.auth.api_keys import ApiKeyAuth
    from relaykit.auth.aws import AwsAuth
    from relaykit.auth.tokens import JwtAuth
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
    from relaykit.targets.lambda_asgi import asgi_lambda_handler

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


# Where each name lives: imported on first access (PEP 562), so that ``from relaykit import
# asgi_lambda_handler`` loads the lean ASGI path only, not the App and what it brings.
_HOMES: dict[str, str] = {
    "App": "relaykit.app",
    "ApiKeyAuth": "relaykit.auth",
    "AwsAuth": "relaykit.auth",
    "JwtAuth": "relaykit.auth",
    "Authenticator": "relaykit.auth.types",
    "Forbidden": "relaykit.auth.types",
    "Principal": "relaykit.auth.types",
    "Unauthenticated": "relaykit.auth.types",
    "Context": "relaykit.context",
    "Chunk": "relaykit.dispatch",
    **dict.fromkeys(
        (
            "AppLoadError",
            "BadRequest",
            "ConfigError",
            "DurableError",
            "HistoryTooLong",
            "LeaseLost",
            "LimitExceeded",
            "MissingExtraError",
            "ModelError",
            "NonDeterminismError",
            "NotFound",
            "PayloadTooLarge",
            "RegistrationError",
            "RelaykitError",
            "RequestError",
            "RunNotFound",
            "StepFailed",
            "StepTooLong",
            "TerminalError",
            "UnknownEventError",
            "ValidationFailed",
        ),
        "relaykit.errors",
    ),
    "Message": "relaykit.model",
    "Model": "relaykit.model",
    "Reply": "relaykit.model",
    "ToolCall": "relaykit.model",
    "Usage": "relaykit.model",
    "Settings": "relaykit.settings",
    "asgi_lambda_handler": "relaykit.targets.lambda_asgi",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'relaykit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
