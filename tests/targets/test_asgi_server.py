"""The container target end to end: a real ``relaykit serve`` process driven over loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx

from support import Server, wait_for_file, wait_for_text


def sse_events(lines: list[str]) -> list[dict[str, str]]:
    """Parse SSE lines into events ({'id', 'event', 'data'})."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if current:
                events.append(current)
            current = {}
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data" and "data" in current:
            current["data"] += "\n" + value
        else:
            current[field] = value
    if current:
        events.append(current)
    return events


def test_task_round_trip_and_request_id(probe_server: Server) -> None:
    """A task answers its JSON result and echoes a caller's x-request-id."""
    response = httpx.post(
        f"{probe_server.url}/order",
        json={"customer": "ada", "items": [{"name": "tea", "quantity": 2}]},
        headers={"x-request-id": "req-123"},
    )
    assert response.status_code == 200
    assert response.json() == {"items": 2}
    assert response.headers["x-request-id"] == "req-123"


def test_openapi_lists_request_models(probe_server: Server) -> None:
    """The OpenAPI document names each handler's input model and defines it in components."""
    document = httpx.get(f"{probe_server.url}/openapi.json").json()
    body = document["paths"]["/order"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Order"}
    schemas = document["components"]["schemas"]
    assert set(schemas["Order"]["properties"]) == {"customer", "items"}
    assert "Item" in schemas and "Probe" in schemas
    assert "text/event-stream" in document["paths"]["/gated"]["post"]["responses"]["200"]["content"]


def test_first_event_arrives_while_handler_still_producing(
    probe_server: Server, tmp_path: Path
) -> None:
    """The first SSE event reaches the client before the handler yields its second chunk.

    The handler yields 'first' and then waits for a gate file that the test creates only after
    it has received 'first'; a buffering server would make it yield 'gate-timeout' instead.
    """
    lines: list[str] = []
    with httpx.stream(
        "POST", f"{probe_server.url}/gated", json={"marks": str(tmp_path)}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        iterator = response.iter_lines()
        for line in iterator:
            lines.append(line)
            if line == "data: first":
                (tmp_path / "gate").write_text("open")
                break
        lines.extend(iterator)
    events = sse_events(lines)
    assert [e.get("data") for e in events[:2]] == ["first", "after-gate"]
    assert [e.get("id") for e in events[:2]] == ["1", "2"]
    assert events[-1]["event"] == "end"
    assert json.loads(events[-1]["data"]) == {"chunks": 2}


def test_disconnect_cancels_stream_handler(probe_server: Server, tmp_path: Path) -> None:
    """Closing the connection mid-stream cancels the stream handler."""
    with httpx.stream(
        "POST", f"{probe_server.url}/endless", json={"marks": str(tmp_path)}, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line == "data: tick":
                break
    assert wait_for_file(tmp_path / "cancelled"), "the stream handler was not cancelled"


def test_disconnect_cancels_task_handler(probe_server: Server, tmp_path: Path) -> None:
    """Closing the connection while a task runs cancels the task handler."""
    body = json.dumps({"marks": str(tmp_path)}).encode()
    host, port = probe_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /hang HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert wait_for_file(tmp_path / "started")
    assert wait_for_file(tmp_path / "cancelled"), "the task handler was not cancelled"
    assert not (tmp_path / "finished").exists()


def test_malformed_json_is_400(probe_server: Server) -> None:
    """A body that is not JSON gets a 400 that says where it broke."""
    response = httpx.post(f"{probe_server.url}/order", content=b'{"customer": ')
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "bad_request"
    assert "not valid JSON" in error["message"] and "column" in error["message"]


def test_invalid_field_is_422_naming_the_field(probe_server: Server) -> None:
    """A body of the wrong shape gets a 422 naming each invalid field, nested ones included."""
    response = httpx.post(
        f"{probe_server.url}/order",
        json={"customer": "ada", "items": [{"name": "tea", "quantity": "lots"}]},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "validation_error"
    assert error["details"] == [
        {
            "field": "body.items.0.quantity",
            "message": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
        }
    ]
    assert "body.items.0.quantity" in error["message"]


def test_body_above_limit_is_413(probe_server: Server) -> None:
    """A body above max_body_bytes (2 KiB for this server) gets a 413 naming the limit."""
    response = httpx.post(f"{probe_server.url}/order", json={"customer": "x" * 4096, "items": []})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "payload_too_large"
    assert "2048" in error["message"]


def test_handler_failure_is_500_with_error_id_and_no_traceback(probe_server: Server) -> None:
    """A failing handler answers 500 with an error id; the traceback is only in the log."""
    response = httpx.post(f"{probe_server.url}/boom", json={"token": "s3cr3t"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert error["error_id"].startswith("err_")
    text = response.text
    assert "Traceback" not in text and "s3cr3t" not in text and "RuntimeError" not in text
    assert wait_for_text(probe_server.log, error["error_id"])
    log_line = next(line for line in probe_server.log().splitlines() if error["error_id"] in line)
    entry = json.loads(log_line)
    assert "Traceback" in entry["exception"] and entry["error_id"] == error["error_id"]


def test_stream_failure_mid_stream_sends_error_event(probe_server: Server) -> None:
    """A stream that fails after its first chunk ends with a safe `event: error`."""
    with httpx.stream("POST", f"{probe_server.url}/boom-later", timeout=30) as response:
        assert response.status_code == 200
        events = sse_events(list(response.iter_lines()))
    assert events[0]["data"] == "partial"
    assert events[-1]["event"] == "error"
    error = json.loads(events[-1]["data"])["error"]
    assert error["type"] == "server_error" and error["error_id"].startswith("err_")
    assert "secret-stream-detail" not in json.dumps(events)


def test_unknown_route_and_wrong_method_are_json_errors(probe_server: Server) -> None:
    """Unknown paths get 404 and GET on a handler gets 405, both as relaykit error bodies."""
    missing = httpx.post(f"{probe_server.url}/nope", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    wrong = httpx.get(f"{probe_server.url}/order")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "method_not_allowed"


def test_healthz(probe_server: Server) -> None:
    """/healthz answers 200 with the app name."""
    assert httpx.get(f"{probe_server.url}/healthz").json() == {"status": "ok", "app": "probe"}
