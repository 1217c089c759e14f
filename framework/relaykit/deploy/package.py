"""``relaykit package MODULE:APP``: a lean Lambda zip for the handlers placed on Lambda.

The zip holds the app's own code, relaykit, and the wheels of only the extras those handlers
need (boto3 stays out: the runtime ships it), stripped of tests, caches, type stubs and install
records, compiled to bytecode by an interpreter of the function's Python version with
``unchecked-hash`` invalidation (Lambda's ``/var/task`` is read-only and a zip keeps timestamps
to 2 s, so timestamp-checked ``.pyc`` files could be ignored on every cold start). Two entry points
sit at its root: ``relaykit_handler.handler`` for the managed runtime (buffered) and the
executable ``relaykit-wrapper`` for ``AWS_LAMBDA_EXEC_WRAPPER`` (streaming, Handler
``MODULE:APP``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from relaykit.app import App
from relaykit.deploy import wheels
from relaykit.errors import ConfigError
from relaykit.placement import resolve

MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
HANDLER_MODULE = "relaykit_handler"
WRAPPER = "relaykit-wrapper"
STRIP_DIRS = ("__pycache__", "tests", "test")
STRIP_FILES = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
WRAPPER_TEXT = """#!/bin/sh
# AWS_LAMBDA_EXEC_WRAPPER=/var/task/relaykit-wrapper: run relaykit's streaming runtime instead of
# the managed one; "$@" (the managed runtime's command line) is ignored. Handler: MODULE:APP.
set -eu
cd "${LAMBDA_TASK_ROOT:?}"
export PYTHONPATH="${LAMBDA_TASK_ROOT}:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
python="${LAMBDA_PYTHON:-python3}"
exec "$python" -m relaykit.lambda_runtime "${_HANDLER:?}"
"""


@dataclass
class PackageReport:
    """What ``build`` wrote: the zip, its sizes, and the biggest top-level entries."""

    path: Path
    zipped: int
    unzipped: int
    handler: str
    stream_handler: str
    requirements: list[str]
    contributors: list[tuple[str, int, int]] = field(default_factory=list)
    """(top-level entry, unzipped bytes, zipped bytes), biggest first."""

    def summary(self) -> str:
        mb = 1024 * 1024
        lines = [
            f"{self.path}: {self.zipped / mb:.1f} MB zipped of Lambda's 50 MB, "
            f"{self.unzipped / mb:.1f} MB unzipped of 250 MB",
            f"  managed runtime Handler: {self.handler}   streaming (exec wrapper) Handler: "
            f"{self.stream_handler}",
            "  biggest: "
            + ", ".join(f"{name} {size / mb:.1f} MB" for name, size, _ in self.contributors[:6]),
        ]
        return "\n".join(lines)


def needed_extras(app: App) -> list[str]:
    """The pip extras the handlers placed on Lambda need."""
    placements = [p for p in resolve(app) if p.lambda_target]
    if not placements:
        raise ConfigError("placement", "no handler is placed on Lambda: nothing to package")
    extras = ["lambda"]
    provider = app.settings.model.partition(":")[0]
    if provider in ("anthropic", "bedrock"):
        extras.append(provider)
    verifies_jwt = any(p.app_auth(p.lambda_target or "") == "jwt" for p in placements)
    if verifies_jwt or "jwt" in app.settings.auth:
        extras.append("auth")  # PyJWT and cryptography (platform wheels)
    return extras


def app_files(module_file: Path, module_name: str) -> list[tuple[Path, str]]:
    """(source, path in the zip) of the app's own code: its top-level package, or its file, and
    a ``relaykit.toml`` next to it."""
    top = module_name.partition(".")[0]
    depth = module_name.count(".")
    files: list[tuple[Path, str]] = []
    if depth == 0 and module_file.name != "__init__.py":
        files.append((module_file, module_file.name))
        config_dir = module_file.parent
    else:
        root = module_file.parents[depth if module_file.name != "__init__.py" else depth + 1]
        package = root / top
        files += [
            (path, str(path.relative_to(root)))
            for path in sorted(package.rglob("*"))
            if path.is_file() and not set(path.parts) & {"__pycache__"}
        ]
        config_dir = module_file.parent
    config = config_dir / "relaykit.toml"
    if config.is_file():
        files.append((config, "relaykit.toml"))
    return files


def _strip(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in STRIP_DIRS and path.parent != root:
            shutil.rmtree(path)
        elif path.is_file() and (
            path.suffix == ".pyi" or (path.name in STRIP_FILES and ".dist-info" in str(path))
        ):
            path.unlink()
    shutil.rmtree(root / "bin", ignore_errors=True)


def _copy_relaykit(root: Path) -> None:
    import relaykit

    source = Path(relaykit.__file__).resolve().parent
    shutil.copytree(
        source, root / "relaykit", ignore=shutil.ignore_patterns("__pycache__", "local", "*.pyc")
    )


def compile_tree(root: Path, interpreter: str) -> None:
    """Compile every module for the function's interpreter, with paths as Lambda shows them."""
    command = [interpreter, "-m", "compileall", "-q", "-j", "0", "-s", str(root)]
    command += ["-p", "/var/task", "--invalidation-mode", "unchecked-hash", str(root)]
    subprocess.run(command, capture_output=True, check=False)  # a file that fails keeps its .py


def write_zip(root: Path, out: Path) -> list[tuple[str, int, int]]:
    """Zip ``root`` reproducibly; return the per-top-level-entry sizes, biggest first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, list[int]] = {}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = name == WRAPPER or path.stat().st_mode & 0o111
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
            top = name.split("/")[0].split(".dist-info")[0].split("-")[0]
            entry = sizes.setdefault(top, [0, 0])
            entry[0] += path.stat().st_size
            entry[1] += archive.getinfo(name).compress_size
    return sorted(((k, v[0], v[1]) for k, v in sizes.items()), key=lambda row: -row[1])


def build(
    app: App,
    module_file: Path,
    module_name: str,
    attr: str,
    *,
    out: Path,
    python: str = "3.11",
    arch: str | None = None,
    bundle_boto3: bool = False,
    interpreter: str | None = None,
    extra_requirements: list[str] | None = None,
    cache: Path | None = None,
) -> PackageReport:
    """Build the zip at ``out``; ``ConfigError`` when it cannot work or exceeds Lambda's limits."""
    table = app.settings.placement
    arch = arch or (table.architecture if table else "x86_64")
    reqs = wheels.requirements(needed_extras(app), bundle_boto3=bundle_boto3)
    reqs += list(extra_requirements or [])
    compiler = wheels.find_interpreter(python, interpreter)
    cache = cache or Path.home() / ".cache" / "relaykit" / "wheels"
    with tempfile.TemporaryDirectory(prefix="relaykit-package-") as scratch:
        root = Path(scratch) / "task"
        wheels.install(reqs, root, python=python, arch=arch, cache=cache / f"py{python}-{arch}")
        if not bundle_boto3:
            for name in wheels.RUNTIME_BOTO:  # pulled in by a dependency: the runtime has it
                shutil.rmtree(root / name, ignore_errors=True)
        _copy_relaykit(root)
        for source, name in app_files(module_file, module_name):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / name)
        (root / f"{HANDLER_MODULE}.py").write_text(
            '"""Written by relaykit package: Handler relaykit_handler.handler."""\n\n'
            f"from {module_name} import {attr} as app\n\nhandler = app.lambda_handler\n"
        )
        (root / WRAPPER).write_text(WRAPPER_TEXT)
        (root / WRAPPER).chmod(0o755)
        _strip(root)
        compile_tree(root, compiler)
        unzipped = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        contributors = write_zip(root, out)
    report = PackageReport(
        path=out,
        zipped=out.stat().st_size,
        unzipped=unzipped,
        handler=f"{HANDLER_MODULE}.handler",
        stream_handler=f"{module_name}:{attr}",
        requirements=reqs,
        contributors=contributors,
    )
    if report.zipped > MAX_ZIPPED or report.unzipped > MAX_UNZIPPED:
        biggest = ", ".join(
            f"{name} ({size / 1048576:.1f} MB unzipped, {packed / 1048576:.1f} MB zipped)"
            for name, size, packed in contributors[:8]
        )
        raise ConfigError(
            "package",
            f"{out} is above Lambda's limits (50 MB zipped, 250 MB unzipped): "
            f"{report.zipped / 1048576:.1f} MB zipped, {report.unzipped / 1048576:.1f} MB "
            f"unzipped; biggest contributors: {biggest}",
            "fewer dependencies, a layer, or a container image (target = 'container' or the "
            "Dockerfile as a Lambda image)",
        )
    return report
