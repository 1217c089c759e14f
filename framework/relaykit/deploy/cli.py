"""``relaykit package`` and ``relaykit deploy-config``: argument parsing and the two commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from relaykit.errors import AppLoadError


def add_parsers(commands: Any, app_help: str) -> None:
    """Add the two commands to the ``relaykit`` subparsers."""
    package = commands.add_parser(
        "package",
        help="build a lean Lambda zip for the handlers placed on Lambda",
        description="Build a Lambda deployment zip: the app, relaykit and the wheels its Lambda "
        "handlers need (manylinux wheels for --python and the placement's architecture), "
        "compiled to bytecode, boto3 left out; fails above Lambda's size limits.",
    )
    package.add_argument("app", help=app_help)
    package.add_argument("--output", "-o", default=None, help="the zip (default dist/APP.zip)")
    package.add_argument("--python", default="3.11", help="the function's Python (default 3.11)")
    package.add_argument(
        "--arch", choices=["x86_64", "arm64"], default=None, help="default: the placement's"
    )
    package.add_argument(
        "--bundle-boto3", action="store_true", help="ship boto3/botocore in the zip"
    )
    package.add_argument(
        "--interpreter", default=None, help="a Python of --python's version to compile with"
    )
    package.add_argument(
        "--requirement",
        "-r",
        action="append",
        default=[],
        metavar="REQ",
        help="an extra requirement of the app (repeatable)",
    )
    config = commands.add_parser(
        "deploy-config",
        help="write an AWS SAM template or a Terraform module for the app",
        description="Generate infrastructure for the app's placement: Lambda functions, "
        "Function URLs, HTTP API routes, event source mappings, the durable-run table and "
        "bucket, the sweep schedule, IAM, and an ECS/Fargate service for container handlers.",
    )
    config.add_argument("app", help=app_help)
    config.add_argument("--format", choices=["sam", "terraform"], default="sam")
    config.add_argument("--output", "-o", default=None, help="file (sam) or folder (terraform)")
    config.add_argument("--python", default="3.11", help="the functions' Python (default 3.11)")
    config.add_argument(
        "--code",
        default=None,
        help="the zip from relaykit package (default dist/APP.zip); or image:URI for the "
        "repository's Dockerfile image as a Lambda container image",
    )


def _split_ref(ref: str, app: Any) -> tuple[Path, str, str]:
    """(module file, module name, attribute) of the app that ``ref`` loaded."""
    target, sep, attr = ref.strip().rpartition(":")
    if not sep or (len(target) == 1 and target.isalpha()):
        target, attr = ref.strip(), ""
    name = Path(target).stem if target.endswith(".py") or "/" in target else target
    module = sys.modules.get(name)
    if module is None or not getattr(module, "__file__", None):
        raise AppLoadError(f"cannot find the module of {ref!r} to package")
    attr = attr or next(key for key, value in vars(module).items() if value is app)
    return Path(str(module.__file__)), name, attr


def run(args: argparse.Namespace) -> int:
    """Run ``package`` or ``deploy-config``; errors propagate to the CLI's handler."""
    from relaykit.cli.loader import load_app

    app = load_app(args.app)
    module_file, module_name, attr = _split_ref(args.app, app)
    default_zip = Path("dist") / f"{app.name}.zip"
    if args.command == "package":
        from relaykit.deploy.package import build

        report = build(
            app,
            module_file,
            module_name,
            attr,
            out=Path(args.output) if args.output else default_zip,
            python=args.python,
            arch=args.arch,
            bundle_boto3=args.bundle_boto3,
            interpreter=args.interpreter,
            extra_requirements=args.requirement,
        )
        print(report.summary())
        return 0
    from relaykit.deploy.plan import build_plan

    plan = build_plan(
        app,
        f"{module_name}:{attr}",
        python=args.python,
        code=args.code or str(default_zip),
        image_ref=args.app,
    )
    if args.format == "sam":
        from relaykit.deploy.sam import render_sam

        text = render_sam(plan)
        if args.output:
            Path(args.output).write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    from relaykit.deploy.terraform import render_terraform

    folder = Path(args.output or "infra")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf").write_text(render_terraform(plan))
    print(f"wrote {folder / 'main.tf'}")
    return 0
