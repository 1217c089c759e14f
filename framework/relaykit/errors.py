"""The one error hierarchy of relaykit.

::

    RelaykitError                      base of everything relaykit raises on purpose
    ├── ConfigError                    a setting has a bad value or an unknown key
    ├── RegistrationError              a handler cannot be registered (duplicate path, bad types)
    ├── AppLoadError                   ``MODULE:APP`` could not be imported or found
    ├── MissingExtraError              an optional dependency is not installed (names the pip extra)
    ├── UnknownEventError              a Lambda event of a kind no adapter recognises
    ├── AuthUnavailable                credentials cannot be checked now (keys or JWKS unreadable)
    ├── StartupError                   a startup hook or the ASGI lifespan failed
    ├── ModelError                     a model provider failed (retryable or not)
    ├── RequestError                   the caller sent something wrong; carries an HTTP status
    │   ├── BadRequest          (400)  malformed JSON, bad base64, wrong content
    │   ├── NotFound            (404)  no handler at that path
    │   ├── ValidationFailed    (422)  the body does not match the handler's input type
    │   ├── Unauthenticated     (401)  no credentials, or credentials that do not verify
    │   ├── Forbidden           (403)  a verified caller without a scope the route requires
    │   ├── PayloadTooLarge     (413)  a body or a response above a configured limit
    │   └── LimitExceeded       (429)  a configured limit: stream time, unfinished runs per caller
    └── DurableError                   the durable-workflow engine or one of its stores
        ├── NonDeterminismError        replayed code asked for a different step than recorded
        ├── LeaseLost                  another executor took the run over; this one must stop
        ├── RunNotFound                no run with that id in the store
        ├── UnknownWorkflow            a run names a workflow this process has not registered
        ├── StepFailed                 a step exhausted its retries (or failed terminally)
        ├── StepTooLong                a step needs more time than any invocation can give
        ├── HistoryTooLong             a run asked for more steps than ``workflow_max_steps``
        ├── RunFailed                  a run ended failed; carries the recorded error
        ├── TerminalError              raised by a step to fail at once, without retries
        ├── EventTimeout               ``wait_for_event`` ran out of time before the event came
        ├── SerializationError         a step value cannot be stored or restored as its type
        └── StoreError                 a store call failed; the step was not committed

``Suspend`` (the engine pausing a run) is deliberately *not* in this tree: it derives from
``BaseException`` (``relaykit.durable.execution``) so that a user's ``except Exception`` cannot
swallow it.

Handlers may raise ``RequestError`` subclasses themselves: the targets answer with the status and
the message. Any other exception from a handler is a server error: the caller gets a 500 with an
error id, and the traceback goes to the log under that id, never into the response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relaykit.model import Usage


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


class StartupError(RelaykitError):
    """The app's startup (its ``on_startup`` hooks or the ASGI lifespan) failed, or its shutdown."""


class ModelError(RelaykitError):
    """A model provider call failed. ``retryable`` says whether trying again can help.

    ``usage`` is what the failed call consumed when the provider reported it before failing
    (a stream cut after ``message_start``): those tokens are billed, so they are recorded.
    ``out_of_time`` says the call sent nothing because too little of the invocation was left:
    a durable step then continues in the next invocation instead of counting a failed attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        usage: Usage | None = None,
        out_of_time: bool = False,
    ) -> None:
        self.retryable = retryable
        self.usage = usage
        self.out_of_time = out_of_time
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


class LimitExceeded(RequestError):
    """A configured limit was reached (streaming time, unfinished runs per caller): the message
    names the limit and the setting that raises it."""

    status = 429
    type = "limit_exceeded"


class Unauthenticated(RequestError):
    """No credentials, or credentials that do not verify: 401 with ``WWW-Authenticate``.

    ``code`` is the RFC 6750 error code (``invalid_token``, ``invalid_request``) when there is one.
    """

    status = 401
    type = "unauthenticated"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.code = code
        super().__init__(message)


class Forbidden(RequestError):
    """A verified caller without a scope the route requires: 403."""

    status = 403
    type = "forbidden"

    def __init__(self, message: str, *, scopes: tuple[str, ...] = ()) -> None:
        self.scopes = scopes
        super().__init__(message)


class AuthUnavailable(RelaykitError):
    """Credentials cannot be checked now: the keys or the JWKS could not be read (503). The
    message is for the log; callers get a generic answer."""


class PayloadTooLarge(RequestError):
    """A request or response body is above a configured or platform limit."""

    status = 413
    type = "payload_too_large"


class DurableError(RelaykitError):
    """Base of the durable-workflow engine's errors."""


class NonDeterminismError(DurableError):
    """Replayed workflow code diverged from the recorded step log; names both steps."""

    def __init__(self, run_id: str, step_id: str, expected: str | None, requested: str) -> None:
        self.run_id = run_id
        self.step_id = step_id
        self.expected = expected
        self.requested = requested
        recorded = f"step {expected!r}" if expected is not None else "no step"
        super().__init__(
            f"run {run_id}: non-deterministic replay at position {step_id}: the log has "
            f"{recorded} there, the code asked for {requested!r}. Workflow code must ask for "
            "the same steps in the same order on every replay; deploy changed workflows under "
            "a new name, or finish old runs first."
        )


class LeaseLost(DurableError):
    """This executor no longer holds the run (another took it over): it must stop at once."""

    def __init__(self, run_id: str, version: int, detail: str = "") -> None:
        self.run_id = run_id
        self.version = version
        super().__init__(
            f"run {run_id}: lease lost (held version {version}"
            + (f"; {detail}" if detail else "")
            + "); another executor owns the run, so this one stops without committing"
        )


class RunNotFound(DurableError):
    """No run with this id exists in the store."""


class UnknownWorkflow(DurableError):
    """A run names a workflow that is not registered with this engine."""


class StepFailed(DurableError):
    """A step failed for good: retries exhausted or a terminal error. Replays re-raise it."""

    def __init__(self, step: str, error_type: str, message: str, attempts: int) -> None:
        self.step = step
        self.error_type = error_type
        self.error_message = message
        self.attempts = attempts
        super().__init__(
            f"step {step!r} failed after {attempts} attempt(s): {error_type}: {message}"
        )


class StepTooLong(DurableError):
    """A step needs more time than a whole invocation offers, so splitting cannot help."""

    def __init__(self, step: str, need: float, budget: float) -> None:
        self.step = step
        self.need = need
        self.budget = budget
        super().__init__(
            f"step {step!r} needs about {need:.1f}s but an invocation offers at most "
            f"{budget:.1f}s, so it can never finish there; split it into smaller steps, "
            "lower its estimate= if that is wrong, or place this workflow on the container "
            "target (placement='container'), which has no invocation deadline"
        )


class HistoryTooLong(DurableError):
    """A run asked for more steps than its history may hold (``workflow_max_steps``)."""

    def __init__(self, run_id: str, limit: int, step: str) -> None:
        self.run_id = run_id
        self.limit = limit
        super().__init__(
            f"run {run_id} already recorded {limit} steps, the most a run may hold "
            f"(setting workflow_max_steps), so step {step!r} cannot be added; every resume "
            "replays the whole history, so batch the work into fewer steps or start child "
            "runs, or raise the limit"
        )


class RunFailed(DurableError):
    """A run ended failed; ``error`` is the recorded error object."""

    def __init__(self, run_id: str, error: dict[str, Any]) -> None:
        self.run_id = run_id
        self.error = error
        super().__init__(
            f"run {run_id} failed: {error.get('type', 'Error')}: {error.get('message', '')}"
        )


class TerminalError(DurableError):
    """Raise from a step body to fail the step at once: its retry policy is not consulted."""


class EventTimeout(DurableError):
    """``ctx.wait_for_event`` timed out before the event was delivered."""


class SerializationError(DurableError):
    """A step value or workflow result cannot be serialised, or restored as its declared type."""


class StoreError(DurableError):
    """A store operation failed (I/O, throttling, misconfiguration); nothing was committed.

    ``transient`` marks a failure that trying again later can cure (throttling, a lost
    connection, a service error): the engine then stops the executor and leaves the run to be
    resumed, instead of failing it."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)
