"""Large values by reference: text above a size threshold goes to S3, the item keeps the key."""

from __future__ import annotations

import uuid
from typing import Any

from relaykit.errors import StoreError


class S3Blobs:
    """Put and get UTF-8 text under ``prefix`` in ``bucket`` with an injected boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str = "relaykit/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.puts = 0
        self.gets = 0

    def put(self, run_id: str, kind: str, text: str) -> str:
        """Store ``text``; return its key (the reference kept in the item)."""
        key = f"{self.prefix}{run_id}/{kind}/{uuid.uuid4().hex}.json"
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=text.encode("utf-8"),
                ContentType="application/json",
            )
        except Exception as exc:
            raise StoreError(f"cannot write s3://{self.bucket}/{key}: {exc}") from exc
        self.puts += 1
        return key

    def get(self, key: str) -> str:
        """The text stored under ``key``."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            body: bytes = response["Body"].read()
        except Exception as exc:
            raise StoreError(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc
        self.gets += 1
        return body.decode("utf-8")
