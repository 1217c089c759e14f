"""relaykit: write an LLM task once; run it on AWS Lambda, on event sources, or in a container.

``import relaykit`` loads only the standard library: FastAPI, pydantic, uvicorn, boto3 and
provider SDKs are imported where first used, because Lambda cold start is a product feature.
"""

from relaykit.app import App
from relaykit.context import Context
from relaykit.dispatch import Chunk
from relaykit.errors import (
    AppLoadError,
    BadRequest,
    ConfigError,
    MissingExtraError,
    ModelError,
    NotFound,
    PayloadTooLarge,
    RegistrationError,
    RelaykitError,
    RequestError,
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
    "Message",
    "MissingExtraError",
    "Model",
    "ModelError",
    "NotFound",
    "PayloadTooLarge",
    "RegistrationError",
    "RelaykitError",
    "Reply",
    "RequestError",
    "Settings",
    "ToolCall",
    "UnknownEventError",
    "Usage",
    "ValidationFailed",
    "__version__",
]
