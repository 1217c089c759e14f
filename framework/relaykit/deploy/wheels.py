"""What a Lambda package installs, from which wheels, and which interpreter compiles it.

Wheels are chosen for the *function's* platform, never the build machine's: ``pip install
--platform manylinux2014_<arch> --only-binary=:all: --python-version X.Y --implementation cp``.
Downloaded wheels are kept in a cache folder (default ``~/.cache/relaykit/wheels``); a build whose
wheels are all cached installs with ``--no-index`` and does not touch the network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from relaykit.errors import ConfigError

ARCH_PLATFORMS = {"x86_64": "x86_64", "arm64": "aarch64"}
RUNTIME_BOTO = ("boto3", "botocore", "s3transfer")
"""Shipped by Lambda's Python runtimes; left out unless asked for."""
LOCAL_ONLY = ("h11",)
"""Needed by the local emulator only, never on Lambda."""
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def platforms(python: str, arch: str) -> list[str]:
    """The wheel platform tags a function on ``python`` and ``arch`` can load.

    python3.11 runs on Amazon Linux 2 (glibc 2.26: manylinux2014); python3.12 and later on
    Amazon Linux 2023 (glibc 2.34), which also loads manylinux_2_28 wheels.
    """
    machine = ARCH_PLATFORMS[arch]
    tags = [f"manylinux2014_{machine}"]
    if tuple(int(part) for part in python.split(".")) >= (3, 12):
        tags.append(f"manylinux_2_28_{machine}")
    return tags


def _project_requirements() -> list[str]:
    """relaykit's own requirement strings, from its source pyproject or installed metadata."""
    import relaykit

    pyproject = Path(relaykit.__file__).resolve().parents[2] / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == "relaykit":
            lines = list(project.get("dependencies", []))
            for extra, reqs in project.get("optional-dependencies", {}).items():
                lines += [f'{req}; extra == "{extra}"' for req in reqs]
            return lines
    from importlib.metadata import requires

    return list(requires("relaykit") or [])


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    return match.group(1).lower().replace("_", "-") if match else requirement


def requirements(extras: Sequence[str], *, bundle_boto3: bool) -> list[str]:
    """relaykit's core requirements plus those of ``extras``, minus what Lambda provides."""
    chosen: list[str] = []
    for line in _project_requirements():
        spec, _, marker = line.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", marker)
        if marker.strip() and (extra is None or extra.group(1) not in extras):
            continue
        name = requirement_name(spec)
        if name in LOCAL_ONLY or name == "relaykit" or (name in RUNTIME_BOTO and not bundle_boto3):
            continue
        if spec.strip() not in chosen:
            chosen.append(spec.strip())
    if bundle_boto3 and not any(requirement_name(r) == "boto3" for r in chosen):
        chosen.append("boto3")
    return chosen


def find_interpreter(python: str, given: str | None = None) -> str:
    """An interpreter of exactly ``python`` (X.Y) to compile bytecode with, or ``ConfigError``.

    The running one when it matches, else ``given``, else ``pythonX.Y`` on PATH: a ``.pyc`` holds
    its interpreter's magic number and any other minor version ignores it.
    """
    if given is None and f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        return sys.executable
    candidates = [given] if given else [shutil.which(f"python{python}")]
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == python:
            return candidate
    raise ConfigError(
        "--python",
        f"{python} needs a Python {python} interpreter to compile the bytecode, and "
        f"{given or f'python{python} on PATH'} is not one (this is Python "
        f"{sys.version_info.major}.{sys.version_info.minor}); shipping bytecode of another "
        "version would be ignored by Lambda",
        f"install Python {python}, or pass --interpreter PATH",
    )


def install(reqs: Sequence[str], target: Path, *, python: str, arch: str, cache: Path) -> None:
    """Install ``reqs`` into ``target`` from manylinux wheels for ``python`` on ``arch``."""
    cache.mkdir(parents=True, exist_ok=True)
    select = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    for tag in platforms(python, arch):
        select += ["--platform", tag]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    into = ["install", "--target", str(target), "--no-compile", "--upgrade", *select]
    offline = [*pip, *into, "--no-index", "--find-links", str(cache), *reqs]
    if subprocess.run(offline, capture_output=True, check=False).returncode == 0:
        return
    shutil.rmtree(target, ignore_errors=True)
    download = [*pip, "download", "--dest", str(cache), *select, *reqs]
    result = subprocess.run(download, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigError(
            "requirements",
            f"pip could not download wheels for Python {python} on {arch} "
            f"({', '.join(platforms(python, arch))}): {result.stderr.strip()[-800:]}",
            "packages that publish manylinux wheels (source-only packages cannot be built "
            "for another platform)",
        )
    result = subprocess.run(offline, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigError("requirements", f"pip install failed: {result.stderr.strip()[-800:]}")
