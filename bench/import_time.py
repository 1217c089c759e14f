"""Fresh-process import time: ``import relaykit`` against ``import fastapi`` and bare Python.

Each statement runs as ``python -I -c STMT`` in a new process; the wall time of the whole
process is taken. Every statement runs once as a warm-up (writes ``.pyc``, warms the page
cache), then ``--runs`` rounds interleave all statements, rotating their order each round, and
the median is reported. "Net" is the median minus the median of ``python -c pass``, the cost the
statement adds to interpreter start-up (the method of ../shared/reference/frameworks.md §3).

Also measured: importing relaykit and building the quickstart app's ASGI application
(``examples/quickstart.py``, ``app.asgi()``) against the same app written as a bare FastAPI app
(``_quickstart_bare.py``), and the modules relaykit's import spends the most time in
(``-X importtime``).

    python bench/import_time.py [--runs 15] [--json out.json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from _support import (
    BENCH_DIR,
    REPO_ROOT,
    Column,
    load_line,
    machine_line,
    median,
    table,
    verdict,
)

GOAL_NET_MS = 30.0
EXAMPLES = REPO_ROOT / "examples"
STATEMENTS = {
    "python -c pass": "pass",
    "import fastapi": "import fastapi",
    "import relaykit": "import relaykit",
    "from relaykit import App, Context": "from relaykit import App, Context",
    "relaykit + quickstart app.asgi()": (
        f"import sys; sys.path.insert(0, {str(EXAMPLES)!r}); "
        "import quickstart; quickstart.app.asgi()"
    ),
    "bare FastAPI quickstart app": (
        f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); import _quickstart_bare"
    ),
}
BASE = "python -c pass"


def run_once(statement: str) -> float:
    """Seconds for one fresh ``python -I -c statement`` process, start to exit."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-I", "-c", statement],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    return time.perf_counter() - started


def measure(runs: int) -> dict[str, list[float]]:
    """Warm-up, then ``runs`` interleaved rounds (order rotated each round); ms per run."""
    names = list(STATEMENTS)
    for name in names:
        run_once(STATEMENTS[name])
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(runs):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(run_once(STATEMENTS[name]) * 1000)
    return times


def import_tree(statement: str) -> list[tuple[str, str, float, float]]:
    """``-X importtime`` of ``statement`` as (module, importer, self ms, cumulative ms) rows."""
    done = subprocess.run(
        [sys.executable, "-I", "-X", "importtime", "-c", statement],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    parsed: list[tuple[int, str, float, float]] = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            parsed.append((depth, name.strip(), int(parts[0]) / 1000, int(parts[1]) / 1000))
    rows = []
    for i, (depth, name, own, cumulative) in enumerate(parsed):
        # importtime lists a module after everything it imported: its importer comes next
        importer = next((n for d, n, _, _ in parsed[i + 1 :] if d == depth - 1), "-")
        rows.append((name, importer, own, cumulative))
    return rows


def print_breakdown(statement: str) -> None:
    """relaykit's own modules (self time) and what each pulls in (cumulative), one run."""
    rows = import_tree(statement)
    own = [(o, n) for n, _, o, _ in rows if n.startswith("relaykit")]
    pulled = [
        (c, n, parent)
        for n, parent, _, c in rows
        if parent.startswith("relaykit") and not n.startswith("relaykit")
    ]
    print(f"\n`{statement}`, one `-X importtime` run (inflated by the tracing; for ranking):")
    print(
        "  relaykit modules, self time: "
        + ", ".join(f"{n} {o:.1f} ms" for o, n in sorted(own, reverse=True))
    )
    print("  imported by relaykit modules, cumulative (shared modules count once, first importer):")
    for cumulative, name, parent in sorted(pulled, reverse=True)[:10]:
        print(f"    {cumulative:6.1f} ms  {name:<20} <- {parent}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="interleaved rounds (>= 9)")
    parser.add_argument("--json", type=Path, help="also write every run's time here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when above the goal")
    args = parser.parse_args(argv)
    print(machine_line())
    print(
        f"method: fresh `python -I -c STMT` per run, warm-up first, {args.runs} interleaved "
        "rounds, medians\n",
        flush=True,
    )
    times = measure(args.runs)
    med = {name: median(values) for name, values in times.items()}
    base = med[BASE]
    rows = [
        [name, f"{med[name]:.1f}", f"{min(times[name]):.1f}", f"{med[name] - base:.1f}"]
        for name in STATEMENTS
    ]
    columns = [Column("statement", 34), Column("median ms", 10), Column("min ms", 8)]
    print(table([*columns, Column("net ms", 8)], rows))
    net_relaykit = med["import relaykit"] - base
    net_fastapi = med["import fastapi"] - base
    net_app = med["relaykit + quickstart app.asgi()"] - base
    net_bare_app = med["bare FastAPI quickstart app"] - base
    net_names = med["from relaykit import App, Context"] - base
    ok = max(net_relaykit, net_names) <= GOAL_NET_MS
    print(
        f"\nimport relaykit adds {net_relaykit:.1f} ms to bare Python "
        f"({net_names:.1f} ms for `from relaykit import App, Context`; "
        f"goal <= {GOAL_NET_MS:.0f} ms): {verdict(ok)}\n"
        f"import relaykit / import fastapi (net) = {net_relaykit / net_fastapi:.2f}\n"
        f"quickstart app built: relaykit {net_app:.1f} ms vs bare FastAPI {net_bare_app:.1f} ms "
        f"(net), ratio {net_app / net_bare_app:.2f}, difference {net_app - net_bare_app:+.1f} ms"
    )
    print_breakdown("import relaykit")
    print(f"\n{load_line()} (if high, medians are inflated: compare the min column)")
    if args.json:
        args.json.write_text(json.dumps(times, indent=1))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
