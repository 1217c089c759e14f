"""The one error hierarchy of relaykit.

::

    RelaykitError                      base of everything relaykit raises on purpose
    ├── ConfigError                    a setting has a bad value or an unknown key
    ├── RegistrationError              a handler cannot be registered (duplicate path, bad types)
    ├── AppLoadError                   ``MODULE:APP`` could not be imported or found
    ├── MissingExtraError              an optional dependency is not installed (names the pip extra)
    ├── UnknownEventError              a Lambda event of a kind no adapter recognises
    ├── ModelError                     a model provider failed (retryable or not)
    └── RequestError                   the caller sent something wrong; carries an HTTP status
        ├── BadRequest          (400)  malformed JSON, bad base64, wrong content
        ├── NotFound            (404)  no handler at that path
        ├── ValidationFailed    (422)  the body does not match the handler's input type
        └── PayloadTooLarge     (413)  a body or a response above a configured limit

Handlers may raise ``RequestError`` subclasses themselves: the targets answer with the status and
the message. Any other exception from a handler is a server error: the caller gets a 500 with an
error id, and the traceback goes to the log under that id, never into the response.
"""

from __future__ import annotations

from typing import Any


class RelaykitError(Exception):
    """Base class of every error relaykit raises on purpose."""


class ConfigError(RelaykitError):
    """A setting has a bad value, or a configuration file has an unknown key."""

    def __init__(self, key: str, problem: str, accepted: str | None = None) -> None:
        self.key = key
        self.problem = problem
        self.accepted = accepted
        message = f"setting {key!r}: {problem}"
        if accepted:
            message += f" (accepted: {accepted})"
        super().__init__(message)


class RegistrationError(RelaykitError):
    """A handler cannot be registered: the message names the function and what is wrong."""


class AppLoadError(RelaykitError):
    """An ``MODULE:APP`` reference could not be loaded: says what was tried and what was found."""


class MissingExtraError(RelaykitError, ImportError):
    """An optional dependency is missing; the message carries the exact ``pip install`` hint."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{feature} needs the {module!r} package, which is not installed: "
            f"pip install 'relaykit[{extra}]'"
        )


class UnknownEventError(RelaykitError):
    """A Lambda event arrived that no event adapter recognises."""


class ModelError(RelaykitError):
    """A model provider call failed. ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class RequestError(RelaykitError):
    """The caller sent something wrong. Targets answer with ``status`` and ``message``."""

    status: int = 400
    type: str = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        self.message = message
        self.details = details or []
        super().__init__(message)

    def to_body(self) -> dict[str, Any]:
        """The JSON error body every target answers with."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(RequestError):
    """Malformed input: not JSON, bad encoding, wrong content type."""

    status = 400
    type = "bad_request"


class NotFound(RequestError):
    """No handler is registered at the requested path."""

    status = 404
    type = "not_found"


class ValidationFailed(RequestError):
    """The body does not match the handler's declared input type; ``details`` names each field."""

    status = 422
    type = "validation_error"


class PayloadTooLarge(RequestError):
    """A request or response body is above a configured or platform limit."""

    status = 413
    type = "payload_too_large"
