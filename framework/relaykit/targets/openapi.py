"""OpenAPI for relaykit routes: request and response types as named component schemas.

relaykit validates bodies itself (so every target answers bad input the same way), which means
FastAPI does not see the handler's types. This module gives FastAPI the schemas instead: each
operation names its request and response schema, and the models land in
``components/schemas`` under their own names.
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


class SchemaRegistry:
    """Collects named schemas; returns a ``$ref`` for named types and inline schemas otherwise."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA}

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


def operation_extra(spec: HandlerSpec, registry: SchemaRegistry) -> dict[str, Any]:
    """The ``openapi_extra`` of one handler's route."""
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
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "x-chunk-schema": output}
            },
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
    extra["responses"] = {
        status: ok,
        "400": _error_response("Malformed body (not JSON, not UTF-8, empty)"),
        "413": _error_response("Body above the configured limit"),
        "422": _error_response("Body does not match the input type; `details` names each field"),
        "500": _error_response("Handler failure; `error_id` finds the traceback in the log"),
    }
    return extra
