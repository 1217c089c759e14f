"""relaykit: write an LLM task once; run it on AWS Lambda, on event sources, or in a container.

``import relaykit`` loads only the standard library: FastAPI, pydantic, uvicorn, boto3 and
provider SDKs are imported where first used, because Lambda cold start is a product feature.
"""

from relaykit.app import App, asgi_lambda_handler
from relaykit.context import Context
from relaykit.dispatch import Chunk
from relaykit.errors import (
    AppLoadError,
    BadRequest,
    ConfigError,
    DurableError,
    HistoryTooLong,
    LeaseLost,
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

__version__ = "0.1.0"

__all__ = [
    "App",
    "AppLoadError",
    "BadRequest",
    "Chunk",
    "ConfigError",
    "Context",
    "DurableError",
    "HistoryTooLong",
    "LeaseLost",
    "Message",
    "MissingExtraError",
    "Model",
    "ModelError",
    "NonDeterminismError",
    "NotFound",
    "PayloadTooLarge",
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
    "UnknownEventError",
    "Usage",
    "ValidationFailed",
    "__version__",
    "asgi_lambda_handler",
]
