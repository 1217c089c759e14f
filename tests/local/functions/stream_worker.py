"""A tiny streaming runtime written against the raw Runtime API (sockets, no SDK).

Each event (or, for a Function URL event, its JSON body) says what to stream:
``chunks`` (list of str), ``prelude`` (object, or null for a raw stream with ``content_type``),
``gate`` (a file to wait for before the last chunk), ``error`` (end with error trailers),
``trailer_style`` ("two" header lines or "one" comma-joined line).
"""

import base64
import http.client
import json
import os
import socket
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.split(":")
BASE = "/2018-06-01/runtime/invocation"


def next_invocation(conn):
    conn.request("GET", f"{BASE}/next")
    response = conn.getresponse()
    return response.getheader("Lambda-Runtime-Aws-Request-Id"), json.loads(response.read())


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def stream(request_id, spec):
    prelude = spec.get("prelude")
    content_type = (
        "application/vnd.awslambda.http-integration-response"
        if prelude is not None
        else spec.get("content_type", "application/octet-stream")
    )
    names = ["Lambda-Runtime-Function-Error-Type", "Lambda-Runtime-Function-Error-Body"]
    if spec.get("trailer_style", "two") == "two":
        trailer_lines = "".join(f"Trailer: {n}\r\n" for n in names)
    else:
        trailer_lines = f"Trailer: {', '.join(names)}\r\n"
    head = (
        f"POST {BASE}/{request_id}/response HTTP/1.1\r\n"
        f"Host: {API}\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        f"{trailer_lines}"
        f"Content-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    sock = socket.create_connection((HOST, int(PORT)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(head.encode())
    if prelude is not None:
        sock.sendall(chunk(json.dumps(prelude).encode()))
        sock.sendall(chunk(b"\0" * 8))
    chunks = [c.encode() for c in spec.get("chunks", [])]
    for index, data in enumerate(chunks):
        if spec.get("gate") and index == len(chunks) - 1:
            while not os.path.exists(spec["gate"]):
                time.sleep(0.005)
        sock.sendall(chunk(data))
    if spec.get("error"):
        body = json.dumps({"errorType": "StreamError", "errorMessage": "failed mid-stream"})
        encoded = base64.b64encode(body.encode()).decode()
        sock.sendall(
            b"0\r\n"
            b"Lambda-Runtime-Function-Error-Type: StreamError\r\n"
            + f"Lambda-Runtime-Function-Error-Body: {encoded}\r\n\r\n".encode()
        )
    else:
        sock.sendall(b"0\r\n\r\n")
    reply = sock.recv(65536)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 202"), reply


def main():
    conn = http.client.HTTPConnection(HOST, int(PORT))
    while True:
        request_id, event = next_invocation(conn)
        spec = json.loads(event["body"]) if "requestContext" in event else event
        stream(request_id, spec)


if __name__ == "__main__":
    main()
