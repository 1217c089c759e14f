"""Encryption at rest: ``EncryptedStore`` over SQLite and DynamoDB + S3 (moto server, real boto3),
local keys and KMS data keys (moto's KMS), raw reads that must show no plaintext, wrong keys,
tampering, migration from plaintext, the settings, an app run end to end, and run ids."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from durable.conftest import aws_clients
from durable.harness import FakeClock, RecordingContinuation, drive
from relaykit import App, ConfigError
from relaykit.durable import Engine, RetryPolicy, Store, WorkflowContext, open_store
from relaykit.durable.encryption import (
    PREFIX,
    Cipher,
    EncryptedStore,
    KmsKeys,
    LocalKeys,
    cipher_from_setting,
    generate_key,
    key_id,
)
from relaykit.durable.store import StepRecord
from relaykit.errors import StepFailed, StoreError
from relaykit.llm.local import LocalModel
from relaykit.settings import load_settings

SENTINEL = "plain-sentinel-7f3a"
"""In every user-data field; ``-`` never occurs in base64, so no ciphertext contains it."""
NOW = 1_800_000_000.0
LEASE = 30.0
ROOT = Path(__file__).resolve().parents[2]


def local(*keys: bytes) -> Cipher:
    return Cipher(LocalKeys(list(keys) or [os.urandom(32)]))


def sqlite_rows(path: Path) -> str:
    """Every cell of every table of the SQLite file, as text."""
    db = sqlite3.connect(path)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}")
        )
    finally:
        db.close()


def file_bytes(path: Path) -> bytes:
    """The database file and its WAL, as stored on disk."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def fail(text: str) -> None:
    raise ValueError(f"upstream refused {text}")


def echo(text: str) -> str:
    return text


async def secret_workflow(ctx: WorkflowContext, question: str) -> str:
    """A sentinel in a step's name, value and error, an event payload and the result."""
    note = await ctx.step(f"note:{question}", echo, question)
    with contextlib.suppress(StepFailed):
        await ctx.step(f"fails:{question}", fail, question, retry=RetryPolicy(max_attempts=1))
    approval = await ctx.wait_for_event("approve")
    return f"{note}/{approval}"


async def run_secret(store: Store) -> str:
    """Run ``secret_workflow`` to the end on ``store``, replaying after every step."""
    clock = FakeClock()
    engine = Engine(store, RecordingContinuation(), clock=clock, lease_seconds=LEASE)

    async def workflow(question: str, ctx: WorkflowContext) -> str:
        return await secret_workflow(ctx, question)

    run_id = await engine.start("secret", workflow, f"why {SENTINEL}")
    waiting = await drive(engine, run_id, clock, mode="replay")
    assert waiting.outcome.status == "suspended"
    await engine.send_event(run_id, "approve", f"yes {SENTINEL}")
    done = await drive(engine, run_id, clock, mode="replay")
    assert done.outcome.status == "completed", done.outcome
    assert done.outcome.result == f"why {SENTINEL}/yes {SENTINEL}"
    return run_id


def assert_readable(store: Store, run_id: str) -> None:
    """Through the store every sealed field comes back as plaintext."""
    loaded = store.load(run_id)
    assert loaded is not None
    run, steps = loaded
    assert SENTINEL in run.input and run.result is not None and SENTINEL in run.result
    assert any(SENTINEL in step.name for step in steps)
    assert any(step.value and SENTINEL in step.value for step in steps)
    assert any(step.error and SENTINEL in step.error for step in steps)
    assert SENTINEL in (store.get_event(run_id, "approve", 0) or "")
    entries = store.progress(run_id)
    reasons = [json.loads(p.data).get("reason", "") for p in entries if p.kind == "suspended"]
    assert any(SENTINEL in reason for reason in reasons)  # "deadline: step 'fails:...' needs..."
    assert all(PREFIX not in p.data for p in entries)


# Raw reads ---------------------------------------------------------------------------------


async def test_sqlite_file_holds_no_plaintext(tmp_path: Path) -> None:
    """A run with the sentinel in every user field: no cell of the SQLite file and no byte of
    the file or its WAL holds it; through the encrypted store everything reads back."""
    path = tmp_path / "runs.db"
    store = open_store(f"sqlite:///{path}", encryption=f"local:{generate_key()}")
    assert isinstance(store, EncryptedStore) and isinstance(store, Store)
    run_id = await run_secret(store)
    lease = store.acquire(run_id, "x", now=NOW, lease_seconds=LEASE).lease
    assert lease is None  # finished
    assert_readable(store, run_id)
    rows = sqlite_rows(path)
    assert SENTINEL not in rows and rows.count(PREFIX) >= 8
    assert SENTINEL.encode() not in file_bytes(path)
    store.close()


async def test_model_text_in_progress_tokens_is_sealed(tmp_path: Path) -> None:
    """``ctx.llm_step`` streams model text into ``token`` progress entries: sealed whole on
    disk, readable through the store."""
    path = tmp_path / "runs.db"
    store = open_store(f"sqlite:///{path}", encryption=f"local:{generate_key()}")
    model = LocalModel(delay=0, script=[f"the answer is {SENTINEL} indeed"])
    app = App("tokens", model=model, settings={"store": "memory://"}, config_dir=tmp_path)
    clock = FakeClock()
    engine = Engine(
        store,
        RecordingContinuation(),
        clock=clock,
        context_factory=lambda run: app.new_context(None, request_id=run.run_id),
    )

    async def ask(ctx: WorkflowContext) -> str:
        reply = await ctx.llm_step("answer", [{"role": "user", "content": "?"}], flush_tokens=2)
        return str(reply.text)

    run_id = await engine.start("ask", ask)
    assert (await drive(engine, run_id, clock)).outcome.status == "completed"
    tokens = [json.loads(p.data) for p in store.progress(run_id) if p.kind == "token"]
    assert SENTINEL in "".join(t["text"] for t in tokens) and tokens[0]["name"] == "answer"
    raw = sqlite3.connect(path).execute("SELECT data FROM progress WHERE kind='token'").fetchall()
    assert raw and all(json.loads(row[0]).keys() == {"sealed"} for row in raw)
    assert SENTINEL not in sqlite_rows(path) and SENTINEL.encode() not in file_bytes(path)
    store.close()


@pytest.fixture
def kms(moto_endpoint: str) -> Iterator[tuple[Any, str, list[str]]]:
    """A real boto3 KMS client on the moto server, a fresh key's alias, and the KMS operations
    the client calls (counted by a boto3 event hook)."""
    client = kms_client(moto_endpoint)
    key = client.create_key(Description="relaykit test")["KeyMetadata"]["KeyId"]
    alias = f"alias/relaykit-{uuid.uuid4().hex[:8]}"
    client.create_alias(AliasName=alias, TargetKeyId=key)
    yield client, alias, counted(client)


def kms_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def counted(client: Any) -> list[str]:
    calls: list[str] = []
    for operation in ("GenerateDataKey", "Decrypt"):
        client.meta.events.register(
            f"before-call.kms.{operation}", lambda op=operation, **_: calls.append(op)
        )
    return calls


def dynamodb_encrypted(endpoint: str, encryption: str, kms: Any) -> Store:
    """An encrypted DynamoDB store with its S3 bucket; values above 2 kB go to S3."""
    clients = aws_clients(endpoint)
    name = f"e{uuid.uuid4().hex[:10]}"
    clients["s3"].create_bucket(Bucket=name)
    url = f"dynamodb://{name}?bucket={name}&offload_bytes=2000"
    store = open_store(url, encryption=encryption, kms=kms, **clients)
    assert isinstance(store, EncryptedStore)
    store.inner.create_table()  # type: ignore[attr-defined]
    return store


def dynamodb_raw(store: EncryptedStore) -> tuple[str, list[bytes]]:
    """Every item of the table (one scan, all pages) and every object of the bucket."""
    inner: Any = store.inner
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": inner.table}
    while True:
        page = inner.client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    s3, bucket = inner.blobs.client, inner.blobs.bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    objects = [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys]
    return json.dumps(items, default=str), objects


async def test_dynamodb_and_s3_hold_no_plaintext_with_one_data_key_per_process(
    moto_endpoint: str, kms: tuple[Any, str, list[str]]
) -> None:
    """A KMS-encrypted DynamoDB store: a whole run (with a value large enough to go to S3)
    costs one GenerateDataKey and no Decrypt; the raw items and S3 objects hold no sentinel.
    A second store (a new process: its own cipher and client) reads it all back with one
    Decrypt, for one data key, however many values it opens."""
    client, alias, calls = kms
    store = dynamodb_encrypted(moto_endpoint, f"kms:{alias}", client)
    run_id = await run_secret(store)
    big = f'"{SENTINEL}{"x" * 5000}"'
    store.create_run("big", "wf", big, now=NOW)
    assert calls == ["GenerateDataKey"]
    items, objects = dynamodb_raw(store)
    assert SENTINEL not in items and items.count(PREFIX) >= 8
    assert objects and all(o.startswith(PREFIX.encode()) for o in objects)
    assert all(SENTINEL.encode() not in o for o in objects)

    reader_client = kms_client(moto_endpoint)
    reader_calls = counted(reader_client)
    inner: Any = store.inner
    reader = EncryptedStore(inner, Cipher(KmsKeys([alias], reader_client)))
    assert reader.blocking
    assert_readable(reader, run_id)
    loaded = reader.load("big")
    assert loaded is not None and loaded[0].input == big
    assert reader_calls == ["Decrypt"]


def test_kms_key_from_the_environment_in_a_fresh_process(
    moto_endpoint: str, kms: tuple[Any, str, list[str]], tmp_path: Path
) -> None:
    """An app configured only by environment variables (`kms:ALIAS`, boto3 finding KMS through
    `AWS_ENDPOINT_URL_KMS`) runs a workflow in its own process with one GenerateDataKey."""
    _client, alias, _calls = kms
    script = textwrap.dedent(
        """
        import asyncio, json, math
        from relaykit import App
        from relaykit.durable import WorkflowContext

        app = App("kms-env")

        @app.workflow("/w")
        async def w(ctx: WorkflowContext) -> int:
            total = 0
            for i in range(20):
                total += await ctx.step(f"s{i}", lambda i=i: i)
            return total

        async def main() -> None:
            store = app.engine.store
            calls = []
            client = store.cipher.keys.client
            client.meta.events.register(
                "before-call.kms.*", lambda model, **_: calls.append(model.name))
            run_id = await app.engine.start("/w", schedule=False)
            outcome = await app.engine.resume(run_id, remaining=lambda: math.inf)
            print(json.dumps([type(store).__name__, outcome.status, outcome.result, calls]))

        asyncio.run(main())
        """
    )
    env = {
        **os.environ,
        "RELAYKIT_STORE": f"sqlite:///{tmp_path / 'runs.db'}",
        "RELAYKIT_STORE_ENCRYPTION": f"kms:{alias}",
        "AWS_ENDPOINT_URL_KMS": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(ROOT / "framework"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    kind, status, result, calls = json.loads(done.stdout.strip().splitlines()[-1])
    assert (kind, status, result) == ("EncryptedStore", "completed", sum(range(20)))
    assert calls == ["GenerateDataKey"]


# Keys --------------------------------------------------------------------------------------


def sealed_run(store: Store, run_id: str = "r1") -> None:
    store.create_run(run_id, "wf", json.dumps(SENTINEL), now=NOW)
    lease = store.acquire(run_id, "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    for step_id in ("0", "1"):
        step = StepRecord(step_id, f"n{step_id}", "completed", value=f'"{SENTINEL}{step_id}"')
        store.commit_step(lease, step, now=NOW, lease_seconds=LEASE)


def test_wrong_local_key_names_key_ids_and_never_the_key(tmp_path: Path) -> None:
    """A value sealed under key A, read with key B: a StoreError naming both key ids, with
    neither key in it. Listing A after B (rotation) reads old values and seals new ones
    under B."""
    path = tmp_path / "runs.db"
    key_a, key_b = os.urandom(32), os.urandom(32)
    sealed_run(EncryptedStore(open_store(f"sqlite:///{path}"), local(key_a)))
    wrong = EncryptedStore(open_store(f"sqlite:///{path}"), local(key_b))
    with pytest.raises(StoreError) as caught:
        wrong.load("r1")
    message = str(caught.value)
    assert key_id(key_a) in message and key_id(key_b) in message and "run r1: input" in message
    for key in (key_a, key_b):
        for shown in (base64.b64encode(key).decode(), key.hex()):
            assert shown not in message and shown not in repr(wrong)
    rotated = EncryptedStore(open_store(f"sqlite:///{path}"), local(key_b, key_a))
    loaded = rotated.load("r1")
    assert loaded is not None and loaded[0].input == json.dumps(SENTINEL)
    rotated.create_run("r2", "wf", "[]", now=NOW)
    assert EncryptedStore(open_store(f"sqlite:///{path}"), local(key_b)).load("r2") is not None


def test_wrong_kms_key_names_the_configured_key(
    moto_endpoint: str, kms: tuple[Any, str, list[str]], tmp_path: Path
) -> None:
    """Values under one KMS key, read with another: a StoreError naming the configured key and
    KMS's refusal; listing the old key second reads them."""
    client, alias, _calls = kms
    other = client.create_key()["KeyMetadata"]["KeyId"]
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    sealed_run(open_store(url, encryption=f"kms:{alias}", kms=client))
    with pytest.raises(StoreError, match=f"cannot be decrypted.*{other}: AccessDenied"):
        open_store(url, encryption=f"kms:{other}", kms=client).load("r1")
    both = open_store(url, encryption=f"kms:{other},{alias}", kms=client)
    loaded = both.load("r1")
    assert loaded is not None and loaded[0].input == json.dumps(SENTINEL)
    with pytest.raises(StoreError, match="encrypted with a KMS key, but the store is configured"):
        open_store(url, encryption=f"local:{generate_key()}").load("r1")


def test_tampered_or_moved_ciphertext_fails(tmp_path: Path) -> None:
    """Flipping one character of a ciphertext, or moving one to another run, another step or
    another field, fails authentication with a StoreError naming the run and field."""
    path = tmp_path / "runs.db"
    store = EncryptedStore(open_store(f"sqlite:///{path}"), local())
    sealed_run(store, "r1")
    sealed_run(store, "r2")
    db = sqlite3.connect(path, isolation_level=None)

    def value(run_id: str, step_id: str) -> str:
        row = db.execute(
            "SELECT value FROM steps WHERE run_id = ? AND step_id = ?", (run_id, step_id)
        ).fetchone()
        return str(row[0])

    original = value("r1", "0")
    cases = {
        "tampered": original[:-6] + ("A" if original[-6] != "A" else "B") + original[-5:],
        "another run": value("r2", "0"),
        "another step": value("r1", "1"),
        "another field": db.execute("SELECT input FROM runs WHERE run_id='r1'").fetchone()[0],
        "truncated": original[:40],
        "not base64": PREFIX + "!!!",
    }
    for case, text in cases.items():
        db.execute("UPDATE steps SET value = ? WHERE run_id='r1' AND step_id='0'", (text,))
        with pytest.raises(StoreError, match=r"run r1: step/0/value .*altered") as caught:
            store.load("r1")
        assert "moved here" in str(caught.value) or case in ("truncated", "not base64"), case
    db.execute("UPDATE steps SET value = ? WHERE run_id='r1' AND step_id='0'", (original,))
    loaded = store.load("r1")
    assert loaded is not None and loaded[1][0].value == f'"{SENTINEL}0"'


def test_plaintext_from_before_encryption_still_reads(tmp_path: Path) -> None:
    """Runs written without encryption read through an encrypted store (`read`, the default),
    new writes to them are sealed, and `reject` refuses the old plaintext."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    plain = open_store(url)
    sealed_run(plain)
    lease = plain.acquire("r1", "a", now=NOW + LEASE + 1, lease_seconds=LEASE).lease
    assert lease is not None
    plain.append_progress(lease, "token", {"text": SENTINEL}, now=NOW)
    plain.suspend(lease, now=NOW, due_at=NOW, reason=f"step {SENTINEL}")
    key = generate_key()
    store = open_store(url, encryption=f"local:{key}")
    loaded = store.load("r1")
    assert loaded is not None
    assert loaded[0].input == json.dumps(SENTINEL) and loaded[1][1].value == f'"{SENTINEL}1"'
    entries = {p.kind: json.loads(p.data) for p in store.progress("r1")}
    assert entries["token"]["text"] == SENTINEL and SENTINEL in entries["suspended"]["reason"]
    lease = store.acquire("r1", "b", now=NOW + 100, lease_seconds=LEASE).lease
    assert lease is not None
    store.finish(lease, "completed", now=NOW + 101, result=json.dumps(SENTINEL))
    assert SENTINEL in sqlite_rows(tmp_path / "runs.db")  # the old values, untouched
    row = sqlite3.connect(tmp_path / "runs.db").execute("SELECT result FROM runs").fetchone()
    assert row[0].startswith(PREFIX)
    strict = open_store(url, encryption=f"local:{key}", plaintext="reject")
    with pytest.raises(StoreError, match=r"run r1: input is stored unencrypted.*'reject'"):
        strict.load("r1")
    with pytest.raises(StoreError, match="unencrypted"):
        strict.progress("r1")


def test_data_keys_rotate_after_max_uses() -> None:
    """A data key seals at most ``max_uses`` values; values under the earlier ones still open."""
    cipher = Cipher(LocalKeys([os.urandom(32)]), max_uses=3)
    sealed = [cipher.seal(f"v{i}", "r", "input") for i in range(7)]
    assert cipher.data_keys_made == 3
    assert [cipher.open(text, "r", "input") for text in sealed] == [f"v{i}" for i in range(7)]
    fresh = Cipher(cipher.keys)
    assert [fresh.open(text, "r", "input") for text in sealed][-1] == "v6"
    assert fresh.data_keys_opened == 3 and fresh.data_keys_made == 0


# Settings and the app ----------------------------------------------------------------------


def test_settings_accept_the_documented_forms_and_hide_keys(tmp_path: Path) -> None:
    """Each form parses; a bad value is a ConfigError naming the setting and the accepted
    forms, never echoing the value; the key is not in the settings' repr."""
    key = generate_key()
    for value, parsed in [
        ("off", "off"),
        (f"local:{key}", f"local:{key}"),
        ("local:env:RELAYKIT_STORE_KEY, file:/etc/k", "local:env:RELAYKIT_STORE_KEY,file:/etc/k"),
        ("kms:alias/relaykit", "kms:alias/relaykit"),
        ("kms:arn:aws:kms:eu-west-1:123456789012:key/mrk-1,alias/old", None),
    ]:
        settings = load_settings(
            app_name="a", overrides={"store_encryption": value}, environ={}, config_dir=tmp_path
        )
        assert settings.store_encryption == (parsed or value)
        assert key not in repr(settings)
    short = base64.b64encode(os.urandom(31)).decode()
    for bad in (f"local:{short}", f"aes:{key}", "local:", "local:env:1X", "kms:a b", "local:a,"):
        with pytest.raises(ConfigError, match=r"store_encryption.*accepted: off, local:KEY") as e:
            load_settings(
                app_name="a", overrides={"store_encryption": bad}, environ={}, config_dir=tmp_path
            )
        assert short not in str(e.value) and key not in str(e.value)
    with pytest.raises(ConfigError, match="store_encryption_plaintext"):
        load_settings(
            app_name="a",
            overrides={"store_encryption_plaintext": "maybe"},
            environ={},
            config_dir=tmp_path,
        )


def test_keys_from_the_environment_and_files(tmp_path: Path) -> None:
    """`local:env:VAR` and `local:file:PATH` (base64 text or 32 raw bytes) read the key when
    the store opens; a missing variable or file is a ConfigError naming it, not the key."""
    key = os.urandom(32)
    (tmp_path / "key.b64").write_text(base64.b64encode(key).decode() + "\n")
    (tmp_path / "key.bin").write_bytes(key)
    env = {"STORE_KEY": base64.urlsafe_b64encode(key).decode()}
    ids = set()
    for setting in (
        "local:env:STORE_KEY",
        f"local:file:{tmp_path / 'key.b64'}",
        f"local:file:{tmp_path / 'key.bin'}",
    ):
        cipher = cipher_from_setting(setting, environ=env)
        assert cipher is not None
        ids.add(cipher.describe())
    assert ids == {f"local key {key_id(key)}"}
    with pytest.raises(ConfigError, match="environment variable NOPE is not set"):
        cipher_from_setting("local:env:NOPE", environ=env)
    with pytest.raises(ConfigError, match=r"cannot read .*missing"):
        cipher_from_setting(f"local:file:{tmp_path / 'missing'}", environ=env)
    with pytest.raises(ConfigError, match=r"from environment variable BAD.*not 32 bytes"):
        cipher_from_setting("local:env:BAD", environ={"BAD": "c2hvcnQ="})
    assert cipher_from_setting("off") is None


class Ask(BaseModel):
    question: str


def test_app_runs_a_workflow_on_an_encrypted_sqlite_store(tmp_path: Path) -> None:
    """The production path: settings turn encryption on, the runs API starts a run, an event
    resumes it, it completes; the API shows plaintext, the SQLite file holds none."""
    path = tmp_path / "runs.db"
    app = App(
        "enc",
        settings={
            "store": f"sqlite:///{path}",
            "store_encryption": f"local:{generate_key()}",
            "store_encryption_plaintext": "reject",
        },
        config_dir=tmp_path,
    )

    @app.workflow("/secret")
    async def secret(body: Ask, ctx: WorkflowContext) -> str:
        return await secret_workflow(ctx, body.question)

    async def scenario() -> tuple[str, dict[str, Any]]:
        api = app.asgi()
        async with api.router.lifespan_context(api):
            transport = httpx.ASGITransport(app=api)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                started = await client.post("/secret", json={"question": f"why {SENTINEL}"})
                run_id = started.json()["run_id"]
                assert await until(client, run_id, "suspended")
                sent = await client.post(f"/runs/{run_id}/events/approve", json=SENTINEL)
                assert sent.status_code < 300, sent.text
                assert await until(client, run_id, "completed")
                return run_id, (await client.get(f"/runs/{run_id}")).json()

    run_id, view = asyncio.run(scenario())
    assert isinstance(app.engine.store, EncryptedStore)
    assert view["result"] == f"why {SENTINEL}/{SENTINEL}"
    assert any(SENTINEL in step["name"] for step in view["steps"])
    assert SENTINEL in json.dumps([s.get("error") for s in view["steps"]])
    assert SENTINEL not in sqlite_rows(path) and SENTINEL.encode() not in file_bytes(path)
    assert run_id in sqlite_rows(path)


async def until(client: httpx.AsyncClient, run_id: str, status: str) -> bool:
    for _ in range(250):
        if (await client.get(f"/runs/{run_id}")).json()["status"] == status:
            return True
        await asyncio.sleep(0.02)
    return False


def test_importing_the_module_loads_neither_cryptography_nor_boto3() -> None:
    """`relaykit.durable.encryption` imports them where first used, not at import."""
    code = (
        "import sys, relaykit.durable.encryption; "
        "print(sorted(m for m in ('cryptography', 'boto3') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT / "framework")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"


# Run ids -----------------------------------------------------------------------------------


async def test_run_ids_are_random_uuid4s(tmp_path: Path) -> None:
    """Run ids, from the engine and from the runs API with an owner, are UUID4s (122 random
    bits from os.urandom): every random bit position takes both values over 200 ids."""
    from relaykit.targets.runs_api import start_run

    engine = Engine(open_store("memory://"), RecordingContinuation(), clock=FakeClock())

    async def noop(ctx: WorkflowContext) -> None:
        return None

    engine.register("noop", noop)
    ids = [await engine.start("noop", schedule=False) for _ in range(100)]
    ids += [await start_run(engine, "noop", None, None, "api-key:alice") for _ in range(100)]
    parsed = [uuid.UUID(hex=run_id) for run_id in ids]
    assert all(len(run_id) == 32 and u.hex == run_id for run_id, u in zip(ids, parsed, strict=True))
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == len(ids)
    fixed = (0xF << 76) | (0x3 << 62)  # the version and variant bits
    ones = zeros = 0
    for u in parsed:
        ones |= u.int
        zeros |= ~u.int & ((1 << 128) - 1)
    random_bits = ((1 << 128) - 1) & ~fixed
    assert ones & random_bits == random_bits and zeros & random_bits == random_bits
