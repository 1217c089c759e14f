"""``relaykit invoke`` and ``relaykit routes``: run one handler in-process, list handlers."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, TextIO

from relaykit.app import App
from relaykit.dispatch import parse_json
from relaykit.errors import RequestError
from relaykit.handlers import HandlerSpec


def read_payload(spec: HandlerSpec, text: str | None, stdin: TextIO) -> Any:
    """The JSON payload from the argument, from stdin (``-``), or none for body-less handlers."""
    if text == "-" or (text is None and spec.takes_body and not stdin.isatty()):
        text = stdin.read()
    if text is None:
        if spec.takes_body:
            raise RequestError(f"{spec.path} takes a body; pass JSON as an argument or on stdin")
        return None
    return parse_json(text)


async def _run(app: App, spec: HandlerSpec, payload: Any, out: TextIO) -> None:
    if spec.kind == "task":
        result = await app.invoke(spec.path, payload)
        out.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return
    last_kind: str | None = None
    async for chunk in app.invoke_stream(spec.path, payload):
        if chunk.kind == "json":
            out.write(("\n" if last_kind == "text" else "") + chunk.data + "\n")
        else:
            out.write(chunk.data)
        last_kind = chunk.kind
        out.flush()
    if last_kind == "text":
        out.write("\n")


def invoke(app: App, path: str, text: str | None, *, out: TextIO = sys.stdout) -> int:
    """Run the handler at ``path`` and print its result or its chunks as they come."""
    try:
        spec = app.handler(path)
        payload = read_payload(spec, text, sys.stdin)
        asyncio.run(_run(app, spec, payload, out))
    except RequestError as exc:
        print(f"relaykit invoke: {exc.message}", file=sys.stderr)
        for detail in exc.details:
            print(f"  {detail['field']}: {detail['message']}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"relaykit invoke: {path} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def invoke_event(app: App, source: str, *, out: TextIO | None = None) -> int:
    """Run the Lambda event in ``source`` (a file, or ``-`` for stdin) through
    ``app.lambda_handler`` in-process and print the handler's response as JSON (to ``out``,
    default the current ``sys.stdout``)."""
    from relaykit.targets.lambda_handler import LambdaHandler

    out = out if out is not None else sys.stdout

    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as file:
                text = file.read()
        event = parse_json(text)
    except (OSError, RequestError) as exc:
        print(f"relaykit invoke: cannot read the event: {exc}", file=sys.stderr)
        return 2
    handler = LambdaHandler(app)
    try:
        response = handler(event, _LocalContext())
    except Exception as exc:
        print(f"relaykit invoke: the event failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        handler.close()
    out.write(json.dumps(response, indent=2, ensure_ascii=False, default=str) + "\n")
    return 0


class _LocalContext:
    """A Lambda context object for in-process invocations (15 minutes of remaining time)."""

    function_name = "relaykit-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:relaykit-local"
    memory_limit_in_mb = 1024

    def __init__(self) -> None:
        import uuid

        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _type_name(annotation: Any) -> str:
    if annotation is None:
        return "-"
    name = getattr(annotation, "__name__", None)
    return str(name) if name and not getattr(annotation, "__args__", None) else repr(annotation)


def routes(app: App, *, as_json: bool, out: TextIO = sys.stdout) -> int:
    """Print every handler with its kind, path, function, types and placement (where it is
    deployed: target, memory, timeout, auth; see docs/deploy.md)."""
    from relaykit.placement import resolve

    placements = {p.name: p for p in resolve(app)}
    rows = [
        {
            "kind": spec.kind,
            "method": "POST",
            "path": spec.path,
            "handler": f"{spec.fn.__module__}.{spec.fn.__qualname__}",
            "input": _type_name(spec.body_type),
            "output": _type_name(spec.output_type),
            **placements[spec.path].as_row(),
        }
        for spec in app.handlers
    ]
    if as_json:
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not rows:
        out.write(f"app {app.name!r} has no handlers\n")
        return 0
    headers = ["KIND", "METHOD", "PATH", "HANDLER", "INPUT", "OUTPUT", "TARGET", "MEMORY"]
    headers += ["TIMEOUT", "AUTH"]
    table = [headers] + [[str(row[key.lower()]) for key in headers] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    for line in table:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            + "\n"
        )
    return 0
