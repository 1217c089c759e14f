"""An SQS event source mapping for tests: polls a queue (moto server, real boto3) and invokes a
function on the local Lambda emulator with the batch, as Lambda's poller does.

Like the service with ``ReportBatchItemFailures``: a message is deleted when the invocation
succeeded and did not list it in ``batchItemFailures``; otherwise it stays and comes back after
its visibility timeout. Runs in a thread until ``stop``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any


class SqsEventSourceMapping:
    """Deliver ``queue_url``'s messages to ``function`` in batches of up to ``batch_size``."""

    def __init__(
        self, sqs: Any, lambda_client: Any, queue_url: str, function: str, batch_size: int = 1
    ) -> None:
        self.sqs = sqs
        self.lambda_client = lambda_client
        self.queue_url = queue_url
        self.function = function
        self.batch_size = batch_size
        self.arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.invocations = 0
        self.delivered: list[str] = []
        self.failed_invocations = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="esm", daemon=True)

    def __enter__(self) -> SqsEventSourceMapping:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["Body"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(time.time() * 1000)),
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": "us-east-1",
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size, WaitTimeSeconds=1
            )
            messages = got.get("Messages") or []
            if not messages:
                continue
            event = {"Records": [self._record(m) for m in messages]}
            answer = self.lambda_client.invoke(
                FunctionName=self.function, Payload=json.dumps(event).encode()
            )
            self.invocations += 1
            payload = answer["Payload"].read()
            if "FunctionError" in answer:
                self.failed_invocations += 1
                continue  # every message comes back after its visibility timeout
            failed = {f["itemIdentifier"] for f in json.loads(payload).get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] in failed:
                    continue
                self.delivered.append(message["Body"])
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
