"""The ``relaykit`` command line: serve, dev, invoke and routes.

Built on argparse so that the CLI costs no import time of its own; each command imports what it
needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from relaykit.errors import (
    AppLoadError,
    ConfigError,
    MissingExtraError,
    RegistrationError,
    StartupError,
)

APP_HELP = "the app: MODULE:APP (e.g. myapp.main:app), MODULE, or path/to/file.py[:APP]"


def _parser() -> argparse.ArgumentParser:
    from relaykit import __version__

    parser = argparse.ArgumentParser(
        prog="relaykit",
        description="Run relaykit apps: in a container (serve), locally (dev), or one handler "
        "at a time (invoke).",
    )
    parser.add_argument("--version", action="version", version=f"relaykit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve an app with uvicorn (the container entry point)",
        description="Serve an app's HTTP API with uvicorn: the container target.",
    )
    serve.add_argument("app", help=APP_HELP)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; use 0.0.0.0 inside a container)",
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default info)",
    )
    serve.add_argument(
        "--worker",
        action="store_true",
        help="also run 'relaykit worker' in each server process: poll the app's SQS queues and "
        "run its schedules (the worker_in_serve setting does the same)",
    )

    dev = commands.add_parser(
        "dev",
        help="run an app locally with reload and embedded defaults",
        description="Run an app locally: reload on change, SQLite store, the local model when "
        "no provider key is set. Prints the URLs to call.",
    )
    dev.add_argument("app", help=APP_HELP)
    dev.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dev.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port (default 8000); with --lambda the Function URL's port (0: a free one)",
    )
    dev.add_argument("--no-reload", action="store_true", help="do not restart on file changes")
    dev.add_argument(
        "--lambda",
        dest="lambda_",
        action="store_true",
        help="run under the local Lambda emulator (relaykit's runtime as a worker process) "
        "behind a Function URL on 127.0.0.1:PORT; prints the URL and the Invoke API endpoint",
    )
    dev.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with --lambda: the function timeout; the worker is SIGKILLed at it (default 30)",
    )
    dev.add_argument(
        "--stream",
        action="store_true",
        help="with --lambda: Function URL InvokeMode RESPONSE_STREAM (default BUFFERED)",
    )

    invoke = commands.add_parser(
        "invoke",
        help="run one handler in-process and print its result or chunks",
        description="Run one handler in-process. JSON comes from the argument, or from stdin "
        "with '-' (or when stdin is piped). Streams print their chunks as they come.",
    )
    invoke.add_argument("app", help=APP_HELP)
    invoke.add_argument("path", nargs="?", default=None, help="the handler's path, e.g. /ask")
    invoke.add_argument("json", nargs="?", default=None, help="the request body as JSON, or -")
    invoke.add_argument(
        "--event",
        metavar="FILE",
        default=None,
        help="instead of a path: run a Lambda event (a JSON file, or - for stdin) through "
        "app.lambda_handler in-process and print its response; see 'relaykit event'",
    )

    worker = commands.add_parser(
        "worker",
        help="poll an app's SQS queues and run its schedules (the event-source container target)",
        description="Long-poll the SQS queue of every @app.on_sqs handler (and on_s3 with "
        "queue=), delete messages whose handler succeeds, extend visibility while one runs, run "
        "@app.on_schedule handlers; stop gracefully on SIGTERM. Endpoint: AWS_ENDPOINT_URL_SQS.",
    )
    worker.add_argument("app", help=APP_HELP)
    worker.add_argument(
        "--wait-seconds", type=int, default=20, help="long-poll wait, 0-20 (default 20)"
    )
    worker.add_argument(
        "--batch-size", type=int, default=10, help="messages per receive, 1-10 (default 10)"
    )

    from relaykit.cli import samples

    samples.add_parser(commands)

    routes = commands.add_parser(
        "routes",
        help="list an app's handlers",
        description="List an app's handlers: kind, path, function, input and output types.",
    )
    routes.add_argument("app", help=APP_HELP)
    routes.add_argument("--json", action="store_true", help="print JSON instead of a table")

    from relaykit.cli import runs

    runs.add_parser(commands, APP_HELP)
    from relaykit.cli import advise

    advise.add_parser(commands, APP_HELP)
    from relaykit.deploy import cli as deploy

    deploy.add_parsers(commands, APP_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``relaykit`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from relaykit.cli.serve import serve

            serve(
                args.app,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level=args.log_level,
                worker=args.worker,
            )
            return 0
        if args.command == "dev" and args.lambda_:
            from relaykit.cli.dev_lambda import dev_lambda

            return dev_lambda(
                args.app, timeout=args.timeout, stream=args.stream, host=args.host, port=args.port
            )
        if args.command == "dev":
            from relaykit.cli.serve import dev

            dev(args.app, host=args.host, port=args.port, reload=not args.no_reload)
            return 0
        if args.command == "event":
            from relaykit.cli.samples import print_event

            return print_event(args)
        if args.command in ("package", "deploy-config"):
            from relaykit.deploy.cli import run

            return run(args)
        from relaykit.cli.invoke import invoke, routes
        from relaykit.cli.loader import load_app

        app = load_app(args.app)
        if args.command == "worker":
            from relaykit.targets.worker import run_worker

            run_worker(app, wait_seconds=args.wait_seconds, batch_size=args.batch_size)
            return 0
        if args.command == "invoke" and args.event is not None:
            from relaykit.cli.invoke import invoke_event

            return invoke_event(app, args.event)
        if args.command == "invoke":
            if args.path is None:
                print("relaykit invoke: give a handler path or --event FILE", file=sys.stderr)
                return 2
            return invoke(app, args.path, args.json)
        if args.command == "runs":
            from relaykit.cli.runs import runs

            return runs(app, args)
        if args.command == "advise":
            from relaykit.cli.advise import advise_command

            return advise_command(app, args)
        return routes(app, as_json=args.json)
    except (AppLoadError, ConfigError, MissingExtraError, RegistrationError, StartupError) as exc:
        print(f"relaykit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
