"""schemathesis against the container's OpenAPI document: a real ``relaykit serve`` of
``schema_app`` on a loopback port, and every operation of its ``/openapi.json`` fuzzed over HTTP
with schema-valid and schema-violating requests.

The document is built from the app at collection (schemathesis parametrizes at collection, and
its fixture-based loader does not run on pytest 9) and checked equal to the served one; the runs
API operations carry the parameters and answers ``runs_operation_extra`` documents
(``test_the_served_document_declares_the_runs_api``).

Pinned down: no 500 for anything a client sends, every 4xx is a JSON ``{"error": {"type",
"message"}}`` whose message is not empty, every answer conforms to the document (status code,
content type, body schema, each SSE event), schema-valid input is accepted and invalid input
refused. The in-suite run is bounded (``FUZZ_EXAMPLES``, default 150, is split over the
operations); ``make fuzz`` raises it.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import ValidationError
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from hardening.conftest import report
from hardening.schema_app import app as schema_app
from relaykit.dispatch import adapter_for
from relaykit.targets.openapi import runs_operation_extra
from support import Server, start_server, stop_server

HERE = Path(__file__).resolve().parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
PER_OPERATION = max(10, EXAMPLES // 6)
ERROR_TYPES = {"bad_request", "not_found", "validation_error", "payload_too_large"}
HANDLERS = {spec.path: spec for spec in schema_app.handlers}
HANDLER_REFUSALS = {"/classify": "text is blank"}
"""Schema-valid bodies a handler itself refuses (a ``BadRequest`` of its own, by design)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``schema_app`` under ``relaykit serve`` (local model, SQLite) on a free loopback port."""
    tmp = tmp_path_factory.mktemp("schema")
    env = {
        "PYTHONPATH": str(HERE),
        "RELAYKIT_LOCAL_MODEL_DELAY": "0",
        "RELAYKIT_STORE": f"sqlite:///{tmp / 'runs.db'}",
        "RELAYKIT_MAX_BODY_BYTES": "65536",
        "RELAYKIT_LOG_LEVEL": "WARNING",
    }
    server = start_server("schema_app:app", tmp, env)
    yield server
    stop_server(server)


def document_runs_api(document: dict[str, Any]) -> dict[str, Any]:
    """The served document, with each runs API operation documented as
    ``relaykit.targets.openapi.runs_operation_extra`` says (a no-op once the runs routes
    install it themselves; ``test_the_served_document_declares_the_runs_api`` pins that)."""
    patched = copy.deepcopy(document)
    for path, operations in patched["paths"].items():
        if not path.startswith("/runs"):
            continue
        for method, operation in operations.items():
            extra = runs_operation_extra(path, method)
            if "parameters" not in operation and "parameters" in extra:
                operation["parameters"] = extra["parameters"]
            if "requestBody" not in operation and "requestBody" in extra:
                operation["requestBody"] = extra["requestBody"]
            if set(operation["responses"]) == {"200"}:
                operation["responses"] = extra["responses"]
    return patched


APP_DOCUMENT = schema_app.asgi().openapi()
schema = schemathesis.openapi.from_dict(document_runs_api(APP_DOCUMENT))
schema.config.update(request_timeout=10)
schema.config.generation.update(max_examples=PER_OPERATION)


def test_the_fuzzed_document_is_the_served_one(served: Server) -> None:
    """The document schemathesis fuzzes (built from the app at collection) is the one
    ``relaykit serve`` answers at ``/openapi.json``."""
    assert httpx.get(f"{served.url}/openapi.json", timeout=10).json() == APP_DOCUMENT


def check_error_body(response: Any, label: str) -> None:
    """A 4xx is JSON naming what was wrong; nothing answers with a traceback."""
    assert "Traceback" not in response.text, (label, response.text[:500])
    if 400 <= response.status_code < 500:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/json"), (
            label,
            response.status_code,
            response.text[:300],
        )
        error = response.json()["error"]
        assert error["type"] in ERROR_TYPES | {"method_not_allowed"}, (label, error)
        assert isinstance(error["message"], str) and error["message"].strip(), (label, error)


def by_design(case: Any, response: Any, failure: Failure) -> bool:
    """Failures that are relaykit's documented behaviour, not bugs.

    - A body that breaks the document only by a type that pydantic's lax mode converts (``"1"``
      or ``true`` for an integer, ``0`` for a datetime): relaykit validates as FastAPI does.
      Only when *strict* JSON validation of the handler's type refuses it too; a body that even
      strict validation accepts means the document is stricter than the validator (a bug).
    - A handler's own ``BadRequest`` for a schema-valid body (``HANDLER_REFUSALS``).
    - A made-up ``cursor`` on ``GET /runs``: the cursor is opaque, only one a page returned is
      valid (the document cannot say so), and any other is a 400 naming the cursor.
    """
    spec = HANDLERS.get(case.path)
    if isinstance(failure, AcceptedNegativeData) and spec is not None and spec.takes_body:
        try:
            adapter_for(spec.body_type).validate_json(json.dumps(case.body), strict=True)
        except (ValidationError, TypeError, ValueError):
            return True
        return False
    if isinstance(failure, RejectedPositiveData) and "cursor" in (case.query or {}):
        return response.status_code == 400 and "cursor" in response.text
    if isinstance(failure, RejectedPositiveData) and case.path in HANDLER_REFUSALS:
        return response.status_code == 400 and HANDLER_REFUSALS[case.path] in response.text
    return False


CASES: Counter[str] = Counter()
"""Requests sent and answers by status class, over the module (reported at its end)."""


@pytest.fixture(scope="module", autouse=True)
def count_cases() -> Iterator[None]:
    yield
    if CASES:
        report("schemathesis", dict(CASES))


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_names_client_errors(case: Any, served: Server) -> None:
    """Schema-valid and schema-violating requests to every operation: never a 500, every
    answer as documented (status, content type, JSON body and each SSE event), valid input
    accepted, invalid input refused with a JSON error that names the problem."""
    response = case.call(base_url=served.url, timeout=10)
    CASES["cases"] += 1
    CASES[f"{response.status_code // 100}xx"] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        real = [f for f in group.exceptions if not by_design(case, response, f)]
        if real:
            raise FailureGroup(real) from None
    check_error_body(response, f"{case.method} {case.formatted_path}")


# Gaps schemathesis found in the runs API and the error answers, each pinned by its fix's test.


def test_the_served_document_declares_the_runs_api(served: Server) -> None:
    """Each runs API operation declares its path, query and header parameters and every
    status it answers (FastAPI cannot see them: the endpoints take a ``Request``)."""
    paths = httpx.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]
    for path, operations in paths.items():
        if path.startswith("/runs"):
            for method, operation in operations.items():
                extra = runs_operation_extra(path, method)
                assert operation.get("parameters") == extra["parameters"], (method, path)
                assert set(operation["responses"]) == set(extra["responses"]), (method, path)


def test_a_method_not_allowed_names_the_allowed_methods(served: Server) -> None:
    """405 carries ``Allow`` (RFC 9110) and a message naming the methods the path takes."""
    for method, path, allowed in (("DELETE", "/ask", "POST"), ("POST", "/healthz", "GET")):
        response = httpx.request(method, f"{served.url}{path}", timeout=10)
        assert response.status_code == 405
        assert response.headers.get("allow") == allowed, (path, dict(response.headers))
        assert allowed in response.json()["error"]["message"], response.text


def test_a_non_ascii_digit_last_event_id_is_a_named_400(served: Server) -> None:
    """``Last-Event-ID: ²`` (latin-1 0xB2, a digit to ``str.isdigit``) is refused with a 400
    naming the header, like any other non-number."""
    started = httpx.post(f"{served.url}/research", json={"question": "q"}, timeout=10).json()
    response = httpx.get(
        f"{served.url}/runs/{started['run_id']}/stream",
        headers={"last-event-id": b"\xb2"},  # type: ignore[dict-item]
        timeout=10,
    )
    assert response.status_code == 400, response.text
    assert "Last-Event-ID" in response.json()["error"]["message"]


def test_an_event_name_with_a_trailing_newline_is_refused(served: Server) -> None:
    """``POST /runs/{id}/events/go%0A`` is a 400, not an event named ``"go\\n"``."""
    started = httpx.post(f"{served.url}/approval", json={"title": "t"}, timeout=10).json()
    response = httpx.post(f"{served.url}/runs/{started['run_id']}/events/go%0A", timeout=10)
    assert response.status_code == 400, response.text


def test_a_cursor_this_api_never_returned_is_a_named_400(served: Server) -> None:
    """``GET /runs?cursor=garbage`` is a 400 naming the cursor, not a page of runs."""
    response = httpx.get(f"{served.url}/runs", params={"cursor": "garbage"}, timeout=10)
    assert response.status_code == 400, response.text
    assert "cursor" in response.json()["error"]["message"]
