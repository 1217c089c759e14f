"""``relaykit event SOURCE`` prints realistic sample events; ``relaykit invoke APP --event -``
runs one through ``app.lambda_handler`` in-process; the local Lambda emulator delivers the same
events to relaykit's pure-Python runtime (``python -m relaykit.lambda_runtime``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import boto3
import pytest

from relaykit.cli import main
from relaykit.local.emulator import Emulator, FunctionConfig

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
APP = str(APPS / "sources_app.py")
BIN = Path(sys.executable).parent

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def out_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the handlers of tests/apps/sources_app.py note what they ran."""
    path = tmp_path / "notes.txt"
    monkeypatch.setenv("SOURCES_OUT", str(path))
    return path


def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """``relaykit ARGV`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def sample(*argv: str) -> dict[str, Any]:
    code, out, err = cli("event", *argv)
    assert code == 0, err
    event: dict[str, Any] = json.loads(out)
    return event


def test_pipe_sqs_event_into_invoke_reports_exactly_the_failed_record(out_file: Path) -> None:
    """The documented pipe, as real processes: the failing body's message id comes back."""
    event = subprocess.run(
        [
            str(BIN / "relaykit"),
            "event",
            "sqs",
            "--queue",
            "notes",
            "--body",
            '{"text": "hello"}',
            "--body",
            '{"text": "FAIL please"}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    invoked = subprocess.run(
        [str(BIN / "relaykit"), "invoke", APP, "--event", "-"],
        input=event,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert invoked.returncode == 0, invoked.stderr
    failed = json.loads(event)["Records"][1]["messageId"]
    assert json.loads(invoked.stdout) == {"batchItemFailures": [{"itemIdentifier": failed}]}
    ok = json.loads(event)["Records"][0]["messageId"]
    assert out_file.read_text() == f"sqs hello {ok}\n"


@pytest.mark.parametrize(
    ("argv", "response", "noted"),
    [
        (["s3", "--key", "incoming/a b.pdf"], None, "s3 incoming/a+b.pdf"),
        (["s3", "--via", "sqs", "--queue", "uploads"], {"batchItemFailures": []}, "s3 incoming/"),
        (["s3", "--via", "eventbridge", "--key", "incoming/x.txt"], None, "s3 incoming/x.txt"),
        (
            ["dynamodb", "--item", '{"id": "d-1", "text": "new row"}'],
            {"batchItemFailures": []},
            "dynamodb d-1 new row",
        ),
        (["schedule", "--rule", "nightly"], None, "schedule arn:aws:events:us-east-1:"),
        (
            [
                "eventbridge",
                "--source",
                "com.example.shop",
                "--detail-type",
                "Order Placed",
                "--detail",
                '{"order_id": "o-7"}',
            ],
            {"thanked": "o-7"},
            "eventbridge o-7",
        ),
    ],
)
def test_each_sample_event_reaches_its_handler(
    out_file: Path, argv: list[str], response: Any, noted: str
) -> None:
    """Every source's sample event, piped to ``invoke --event -``, runs the right handler."""
    code, out, err = cli("invoke", APP, "--event", "-", stdin=json.dumps(sample(*argv)))
    assert code == 0, err
    assert json.loads(out) == response
    assert out_file.read_text().startswith(noted)


def test_fifo_sample_carries_group_and_dedup_attributes() -> None:
    event = sample("sqs", "--queue", "jobs.fifo", "--group", "g-7", "--body", "a", "--body", "b")
    attributes = [record["attributes"] for record in event["Records"]]
    assert [a["MessageGroupId"] for a in attributes] == ["g-7", "g-7"]
    assert int(attributes[0]["SequenceNumber"]) < int(attributes[1]["SequenceNumber"])
    assert event["Records"][0]["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:jobs.fifo"


def test_an_event_for_no_handler_fails_with_a_clear_message(out_file: Path) -> None:
    code, out, err = cli("invoke", APP, "--event", "-", stdin=json.dumps(sample("sqs")))
    assert code == 1 and out == ""
    assert "no @app.on_sqs handler for queue arn:aws:sqs:us-east-1:123456789012:orders" in err
    assert "(registered: sqs:notes)" in err


def test_the_emulator_delivers_sample_events_to_the_python_runtime(tmp_path: Path) -> None:
    """boto3's Invoke against the emulator, relaykit's runtime as the worker process: an SQS
    batch answers with its partial failure, a DynamoDB batch and an S3 event run their handlers."""
    out = tmp_path / "notes.txt"
    function = FunctionConfig(
        name="sources",
        command=[sys.executable, "-m", "relaykit.lambda_runtime", "sources_app:app"],
        env={"PYTHONPATH": str(APPS), "SOURCES_OUT": str(out)},
        handler="sources_app:app",
        task_root=str(APPS),
        timeout=20,
    )
    sqs = sample(
        "sqs", "--queue", "notes", "--body", '{"text": "ok"}', "--body", '{"text": "FAIL"}'
    )
    with Emulator([function]).running() as emu:
        lam: Any = boto3.client(
            "lambda",
            endpoint_url=emu.invoke_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

        def invoke(event: dict[str, Any]) -> Any:
            answer = lam.invoke(FunctionName="sources", Payload=json.dumps(event))
            assert "FunctionError" not in answer, answer["Payload"].read()
            return json.loads(answer["Payload"].read())

        failed = sqs["Records"][1]["messageId"]
        assert invoke(sqs) == {"batchItemFailures": [{"itemIdentifier": failed}]}
        assert invoke(sample("dynamodb", "--item", '{"id": "d-2", "text": "row"}')) == {
            "batchItemFailures": []
        }
        assert invoke(sample("s3", "--key", "incoming/report.pdf")) is None
    assert out.read_text().splitlines() == [
        f"sqs ok {sqs['Records'][0]['messageId']}",
        "dynamodb d-2 row",
        "s3 incoming/report.pdf",
    ]
