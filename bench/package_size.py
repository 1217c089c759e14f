"""``relaykit package`` against a naive zip of the same app: size and cold start.

The app is examples/quickstart.py. The packaged zip is what ``relaykit package`` builds (Lambda
extras only, boto3 left out, stripped, bytecode compiled for Python 3.11 with unchecked-hash
invalidation). The naive zip is what a hand-made deploy often is: ``pip install --target`` of
relaykit with every extra (``relaykit[all]``: FastAPI, Mangum, Powertools, boto3, anthropic,
uvicorn, h11) plus the app, no bytecode.

Cold start: a fresh clean-venv interpreter (``-I -B``: nothing but the unzipped folder on its path,
no bytecode written, as Lambda's read-only ``/var/task``) imports the handler and answers one
Function URL event (``POST /ask``); the figure is the wall time of that process, median of
``--rounds`` interleaved runs. Goals: size <= 0.5x and cold start <= 0.6x.

    .venv/bin/python bench/package_size.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "framework"))
sys.path.insert(0, str(ROOT / "examples"))

SCRIPT = """import json, sys
sys.path.insert(0, sys.argv[1])
import importlib
handler = importlib.import_module(sys.argv[2]).handler
class Ctx:
    aws_request_id = "r-1"; function_name = "ask"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ask"
    def get_remaining_time_in_millis(self): return 30000
response = handler(json.loads(sys.argv[3]), Ctx())
assert response["statusCode"] == 200, response
"""


def packaged(folder: Path) -> Path:
    import quickstart
    from relaykit.deploy.package import build

    out = folder / "packaged.zip"
    build(quickstart.app, ROOT / "examples" / "quickstart.py", "quickstart", "app", out=out)
    return out


def naive(folder: Path) -> Path:
    from relaykit.deploy import wheels

    target = folder / "naive"
    reqs = wheels.requirements(["all", "lambda", "server"], bundle_boto3=True)
    reqs += [r for r in wheels.requirements(["anthropic"], bundle_boto3=True) if r not in reqs]
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "-q", "--no-compile"),
            *("--target", str(target), "--disable-pip-version-check", *reqs),
        ],
        check=True,
    )
    import shutil

    shutil.copytree(
        ROOT / "framework" / "relaykit",
        target / "relaykit",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copyfile(ROOT / "examples" / "quickstart.py", target / "quickstart.py")
    out = folder / "naive.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(target).as_posix())
    return out


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def cold_start(python: str, folder: Path, module: str, event: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [python, "-I", "-B", "-c", SCRIPT, str(folder), module, event],
        check=True,
        env={"RELAYKIT_LOG_LEVEL": "ERROR", "RELAYKIT_METRICS": "false"},
        cwd=folder,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    event = json.loads((ROOT / "tests" / "events" / "function_url.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/ask"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        zips = {"packaged": packaged(folder), "naive": naive(folder)}
        clean = folder / "clean"
        base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        subprocess.run([str(base), "-m", "venv", "--without-pip", str(clean)], check=True)
        python = str(clean / "bin" / "python")
        roots = {}
        for name, path in zips.items():
            roots[name] = folder / f"{name}-task"
            with zipfile.ZipFile(path) as archive:
                archive.extractall(roots[name])
        modules = {"packaged": "relaykit_handler", "naive": "quickstart"}
        times: dict[str, list[float]] = {"packaged": [], "naive": []}
        text = json.dumps(event)
        for name in times:  # warm the page cache once
            cold_start(python, roots[name], modules[name], text)
        for index in range(args.rounds):
            order = ["packaged", "naive"] if index % 2 == 0 else ["naive", "packaged"]
            for name in order:
                times[name].append(cold_start(python, roots[name], modules[name], text))
        mb = 1024 * 1024
        rows = []
        for name, path in zips.items():
            zipped, unzipped = path.stat().st_size, unzipped_size(path)
            median = statistics.median(times[name])
            rows.append((name, zipped, unzipped, median))
            print(
                f"{name:9} zip {zipped / mb:6.1f} MB  unzipped {unzipped / mb:6.1f} MB  "
                f"cold start {median * 1000:7.0f} ms (median of {args.rounds})"
            )
        size_ratio = rows[0][1] / rows[1][1]
        cold_ratio = rows[0][3] / rows[1][3]
        print(
            f"ratio     zip {size_ratio:.2f}x (goal <= 0.5x)  unzipped "
            f"{rows[0][2] / rows[1][2]:.2f}x  cold start {cold_ratio:.2f}x (goal <= 0.6x)"
        )
        return 0 if size_ratio <= 0.5 and cold_ratio <= 0.6 else 1


if __name__ == "__main__":
    sys.exit(main())
