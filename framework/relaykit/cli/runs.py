"""``relaykit runs``: list, show, cancel and signal durable runs in the app's store."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, TextIO

from relaykit.app import App
from relaykit.dispatch import parse_json
from relaykit.errors import RequestError, RunNotFound

STATUSES = ("pending", "running", "suspended", "completed", "failed", "cancelled")


def _print(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


async def _run(app: App, action: str, args: Any, out: TextIO) -> None:
    engine = app.engine
    if action == "list":
        page = await engine.list(
            workflow=args.workflow, status=args.status, limit=args.limit, cursor=args.cursor
        )
        rows = [
            {
                "run_id": r.run_id,
                "workflow": r.workflow,
                "status": r.status,
                "updated_at": r.updated_at,
            }
            for r in page.runs
        ]
        if args.json:
            _print({"runs": rows, "cursor": page.cursor}, out)
            return
        for row in rows:
            out.write(f"{row['run_id']}  {row['status']:<10} {row['workflow']}\n")
        if page.cursor:
            out.write(f"(more: --cursor {page.cursor})\n")
    elif action == "show":
        _print((await engine.get(args.run_id)).to_dict(), out)
    elif action == "cancel":
        run = await engine.cancel(args.run_id)
        _print({"run_id": run.run_id, "status": run.status}, out)
    elif action == "send":
        payload = parse_json(args.payload) if args.payload is not None else None
        index = await engine.send_event(args.run_id, args.name, payload)
        _print({"run_id": args.run_id, "event": args.name, "index": index}, out)


def runs(app: App, args: Any, *, out: TextIO = sys.stdout) -> int:
    """Run one ``relaykit runs`` action; exit 2 for a missing run or bad input."""
    try:
        asyncio.run(_run(app, args.action, args, out))
    except (RunNotFound, ValueError) as exc:  # ValueError: a --cursor no page returned
        print(f"relaykit runs: {exc}", file=sys.stderr)
        return 2
    except RequestError as exc:
        print(f"relaykit runs: {exc.message}", file=sys.stderr)
        return 2
    return 0


def add_parser(commands: Any, app_help: str) -> None:
    """The ``runs`` subcommand and its actions."""
    parser = commands.add_parser(
        "runs",
        help="list, show, cancel or signal durable runs",
        description="Work with the durable runs in the app's store (the store setting).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list runs, newest first")
    listing.add_argument("app", help=app_help)
    listing.add_argument("--workflow", help="only runs of this workflow path")
    listing.add_argument("--status", choices=STATUSES, help="only runs in this status")
    listing.add_argument("--limit", type=int, default=20, help="runs per page (default 20)")
    listing.add_argument("--cursor", help="the cursor printed by the previous page")
    listing.add_argument("--json", action="store_true", help="print JSON")
    shown = "a run's status, result, steps and invocations"
    for name, text in (("show", shown), ("cancel", "cancel a run")):
        action = actions.add_parser(name, help=text)
        action.add_argument("app", help=app_help)
        action.add_argument("run_id")
    send = actions.add_parser("send", help="deliver an event to a run")
    send.add_argument("app", help=app_help)
    send.add_argument("run_id")
    send.add_argument("name", help="the event name the workflow waits for")
    send.add_argument("payload", nargs="?", default=None, help="the event's JSON payload")
