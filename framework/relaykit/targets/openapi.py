"""OpenAPI for relaykit routes: request and response types as named component schemas.

relaykit validates bodies itself (so every target answers bad input the same way), which means
FastAPI does not see the handler's types. This module gives FastAPI the schemas instead: each
operation names its request and response schema, and the models land in
``components/schemas`` under their own names.

A ``text/event-stream`` response's ``schema`` describes one event, as OpenAPI 3.1 tools read it
(an object of ``event``, ``data``, ``id``); the chunk type is ``x-chunk-schema``. The runs API
routes take a ``Request``, so FastAPI cannot see their parameters either: ``runs_operation_extra``
documents them (path, query and header parameters, every status they answer, their bodies).
"""

from __future__ import annotations

from typing import Any

from relaykit.dispatch import adapter_for
from relaykit.handlers import HandlerSpec

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "error_id": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
            },
            "required": ["type", "message"],
        }
    },
    "required": ["error"],
}


RUN_STARTED: dict[str, Any] = {
    "type": "object",
    "title": "RunStarted",
    "properties": {
        "run_id": {"type": "string"},
        "status": {"type": "string"},
        "status_url": {"type": "string"},
        "stream_url": {"type": "string"},
    },
    "required": ["run_id", "status", "status_url", "stream_url"],
}

STREAM_EVENT: dict[str, Any] = {
    "type": "object",
    "title": "StreamEvent",
    "description": "One Server-Sent Event of a stream handler: a text chunk (the default "
    "`message` event), a JSON chunk (`json`, its `data` is the chunk as JSON text), then `end` "
    "(`data` counts the chunks) or `error` (`data` is an Error body).",
    "properties": {
        "event": {"type": "string", "enum": ["message", "json", "end", "error"]},
        "data": {"type": "string"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}

PROGRESS_EVENT: dict[str, Any] = {
    "type": "object",
    "title": "ProgressEvent",
    "description": "One entry of a run's progress log (`created`, `invocation`, `step`, `token`, "
    "`suspended`, `completed`, `failed`, `cancelled`): `id` is the progress id to resume from "
    "with `Last-Event-ID`, `data` the entry as JSON text. A finished run's stream ends with "
    "`end`.",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Starting again with the same key answers the run it started first.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}


class SchemaRegistry:
    """Collects named schemas; returns a ``$ref`` for named types and inline schemas otherwise."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA}
        self.security_schemes: dict[str, Any] = {}
        """``components/securitySchemes`` when the app has authentication."""

    def _add(self, name: str, schema: dict[str, Any]) -> str:
        candidate, number = name, 2
        while candidate in self.components and self.components[candidate] != schema:
            candidate, number = f"{name}{number}", number + 1
        self.components[candidate] = schema
        return candidate

    def schema_for(self, annotation: Any, mode: str) -> dict[str, Any]:
        schema = dict(
            adapter_for(annotation).json_schema(ref_template=REF_TEMPLATE, mode=mode)  # type: ignore[arg-type]
        )
        for name, definition in schema.pop("$defs", {}).items():
            self._add(name, definition)
        title = schema.get("title")
        if isinstance(annotation, type) and schema.get("type") == "object" and title:
            return {"$ref": REF_TEMPLATE.format(model=self._add(str(title), schema))}
        return schema


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}},
    }


def security_extra(security: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The ``security`` of a protected operation and its 401/403 answers."""
    return {
        "security": security,
        "responses": {
            "401": _error_response("No credentials, or credentials that do not verify"),
            "403": _error_response("The caller lacks a scope this route requires"),
        },
    }


def operation_extra(
    spec: HandlerSpec,
    registry: SchemaRegistry,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """The ``openapi_extra`` of one handler's route; ``security`` is given when the app has
    authentication (``[]`` for a public handler)."""
    extra: dict[str, Any] = {}
    if spec.takes_body:
        extra["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": registry.schema_for(spec.body_type, "validation")}
            },
        }
    output = registry.schema_for(spec.output_type, "serialization")
    if spec.kind == "stream":
        ok = {
            "description": "Server-Sent Events: one event per chunk (text as `data`, JSON chunks "
            "as `event: json`), then `event: end`, or `event: error` if the handler fails.",
            "content": {"text/event-stream": {"schema": STREAM_EVENT, "x-chunk-schema": output}},
        }
    else:
        ok = {
            "description": "The handler's result",
            "content": {"application/json": {"schema": output}},
        }
    status = "200"
    if spec.kind == "workflow":
        status = "202"
        ok = {
            "description": "The run started (or the run with this Idempotency-Key): poll "
            "`status_url` for its status and result (`x-result-schema`), or follow "
            "`stream_url`.",
            "content": {"application/json": {"schema": RUN_STARTED, "x-result-schema": output}},
        }
        extra["parameters"] = [IDEMPOTENCY_KEY]
    extra["responses"] = {
        status: ok,
        "400": _error_response("Malformed body (not JSON, not UTF-8, empty)"),
        "413": _error_response("Body above the configured limit"),
        "422": _error_response("Body does not match the input type; `details` names each field"),
        "500": _error_response("Handler failure; `error_id` finds the traceback in the log"),
    }
    if security:
        protected = security_extra(security)
        extra["security"] = protected["security"]
        extra["responses"].update(protected["responses"])
    elif security is not None:
        extra["security"] = []
    return extra


RUN_STATUSES = ["pending", "running", "suspended", "completed", "failed", "cancelled"]
_RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "description": "The run id that starting the workflow answered",
    "schema": {"type": "string"},
}
_RUN_SUMMARY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string"},
        "workflow": {"type": "string"},
        "status": {"type": "string", "enum": RUN_STATUSES},
        "created_at": {"type": "number"},
        "updated_at": {"type": "number"},
        "owner": {"type": ["string", "null"]},
    },
    "required": ["run_id", "workflow", "status", "created_at", "updated_at"],
}
_RUN_ERROR: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
}
RUN_VIEW: dict[str, Any] = {
    "type": "object",
    "title": "Run",
    "properties": {
        **_RUN_SUMMARY["properties"],
        "result": {"description": "The workflow's result once completed (its result type)"},
        "error": _RUN_ERROR,
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "step_id": {"type": "string"},
                    "name": {"type": "string"},
                    "status": {"type": "string"},
                    "attempts": {"type": "integer"},
                    "duration": {"type": ["number", "null"]},
                    "error": {"type": "object"},
                    "usage": {"type": "object"},
                },
                "required": ["step_id", "name", "status", "attempts"],
            },
        },
        "usage": {"type": "object"},
        "invocations": {"type": "array", "items": {"type": "object"}},
    },
    "required": [*_RUN_SUMMARY["required"], "result", "error", "steps", "usage", "invocations"],
}


def _json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _runs_operations() -> dict[tuple[str, str], dict[str, Any]]:
    missing = _error_response("No run with that id (or one the caller may not see)")
    bad = _error_response("A malformed parameter or body; `message` names it")
    return {
        ("/runs", "GET"): {
            "parameters": [
                {"name": "workflow", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": RUN_STATUSES},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "description": "The `cursor` of the previous page",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": _json_content(
                    {
                        "type": "object",
                        "title": "RunList",
                        "properties": {
                            "runs": {"type": "array", "items": _RUN_SUMMARY},
                            "cursor": {"type": ["string", "null"]},
                        },
                        "required": ["runs", "cursor"],
                    },
                    "Runs, newest first; pass `cursor` back for the next page",
                ),
                "400": bad,
            },
        },
        ("/runs/{run_id}", "GET"): {
            "parameters": [_RUN_ID],
            "responses": {
                "200": _json_content(RUN_VIEW, "Status, result or error, steps, invocations"),
                "404": missing,
            },
        },
        ("/runs/{run_id}/cancel", "POST"): {
            "parameters": [_RUN_ID],
            "responses": {
                "200": _json_content(
                    {
                        "type": "object",
                        "title": "CancelRequested",
                        "properties": {
                            "run_id": {"type": "string"},
                            "status": {"type": "string", "enum": RUN_STATUSES},
                            "cancel_requested": {"type": "boolean"},
                        },
                        "required": ["run_id", "status", "cancel_requested"],
                    },
                    "Cancelled now, or at the run's next step boundary",
                ),
                "404": missing,
            },
        },
        ("/runs/{run_id}/events/{name}", "POST"): {
            "parameters": [
                _RUN_ID,
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                },
            ],
            "requestBody": {
                "required": False,
                "description": "The event's payload (any JSON value; empty: null)",
                "content": {"application/json": {"schema": {}}},
            },
            "responses": {
                "202": _json_content(
                    {
                        "type": "object",
                        "title": "EventDelivered",
                        "properties": {
                            "run_id": {"type": "string"},
                            "event": {"type": "string"},
                            "index": {"type": "integer", "minimum": 0},
                        },
                        "required": ["run_id", "event", "index"],
                    },
                    "Delivered: the n-th event of that name has index n",
                ),
                "400": bad,
                "404": missing,
                "413": _error_response("Body above the configured limit"),
            },
        },
        ("/runs/{run_id}/stream", "GET"): {
            "parameters": [
                _RUN_ID,
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "description": "Resume after this progress id",
                    "schema": {"type": "string", "pattern": "^[0-9]*$"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The run's progress as Server-Sent Events, until it finishes",
                    "content": {"text/event-stream": {"schema": PROGRESS_EVENT}},
                },
                "400": bad,
                "404": missing,
            },
        },
    }


def runs_operation_extra(
    path: str, method: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``openapi_extra`` of a runs API route (``path`` as registered, without the router's
    prefix): its parameters, answers and bodies, merged with ``extra`` (``security_extra``)."""
    documented = _runs_operations().get((path, method.upper()), {})
    merged: dict[str, Any] = {**documented, **(extra or {})}
    if "responses" in documented and extra and "responses" in extra:
        merged["responses"] = {**documented["responses"], **extra["responses"]}
    return merged
