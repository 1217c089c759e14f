"""The bare Lambda baseline of bench/sse_load.py: a streaming function on the raw Runtime API.

No SDK and no web framework: a loop that takes the next invocation (a Function URL payload 2.0
event whose body is ``{"text": PROMPT, "tokens": N}``) and streams the HTTP-integration prelude,
then the same SSE bytes as relaykit (``sse_tokens``), one HTTP chunk per word, a sleep of
``DELAY`` before each word, to ``/response`` in ``streaming`` mode. One invocation at a time, so
the sleep is a plain ``time.sleep``.
"""

import base64
import http.client
import json
import os
import socket
import time
from typing import Any

from sse_tokens import DELAY, SSE_HEADERS, SSE_TYPE, end_event, event, reply_pieces

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.split(":")
BASE = "/2018-06-01/runtime/invocation"
PRELUDE = json.dumps({"statusCode": 200, "headers": {"content-type": SSE_TYPE, **SSE_HEADERS}})


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def respond(request_id: str, event_body: dict[str, Any]) -> None:
    raw = event_body.get("body") or ""
    if event_body.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    spec = json.loads(raw)
    head = (
        f"POST {BASE}/{request_id}/response HTTP/1.1\r\nHost: {API}\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Content-Type: application/vnd.awslambda.http-integration-response\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with socket.create_connection((HOST, int(PORT))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head + chunk(PRELUDE.encode()) + chunk(b"\0" * 8))
        pieces = reply_pieces(spec["text"], int(spec["tokens"]))
        for count, piece in enumerate(pieces, 1):
            time.sleep(DELAY)
            sock.sendall(chunk(event(count, None, piece)))
        sock.sendall(chunk(end_event(len(pieces))) + b"0\r\n\r\n")
        reply = sock.recv(65536)
    if not reply.startswith(b"HTTP/1.1 202"):
        raise RuntimeError(f"the Runtime API refused the response: {reply[:200]!r}")


def main() -> None:
    conn = http.client.HTTPConnection(HOST, int(PORT))
    while True:
        conn.request("GET", f"{BASE}/next")
        response = conn.getresponse()
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        respond(str(request_id), json.loads(response.read()))


if __name__ == "__main__":
    main()
