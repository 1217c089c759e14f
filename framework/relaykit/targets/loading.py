"""Loading an ``App`` from ``MODULE:APP``, ``MODULE`` or ``path/to/file.py[:APP]``, and what
the Lambda runtime serves from such a reference (the CLI's commands load apps through here too,
``relaykit.cli.loader``; this module is outside ``relaykit.cli`` so that the runtime does not
import the CLI and its ``argparse``).

Every failure raises ``AppLoadError`` saying what was tried and what was found, so that a typo
in a deploy command reads as a typo, not as a traceback.

``relaykit.app`` is not imported here: a module holds an ``App`` only if it imported it, so a
plain ASGI application served by the Lambda runtime never loads the app layer.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeGuard

from relaykit.errors import AppLoadError

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.targets.lambda_asgi import AsgiLambdaHandler
    from relaykit.targets.lambda_handler import LambdaHandler


def _is_app(value: Any) -> TypeGuard[App]:
    app_module = sys.modules.get("relaykit.app")
    return app_module is not None and isinstance(value, app_module.App)


def _split(ref: str) -> tuple[str, str | None]:
    target, sep, attr = ref.rpartition(":")
    if not sep or (len(target) == 1 and target.isalpha()):  # no colon, or a Windows drive letter
        return ref, None
    if not attr:
        raise AppLoadError(f"{ref!r} ends with ':'; write MODULE:APP, e.g. myapp.main:app")
    return target, attr


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise AppLoadError(f"no file at {str(path)!r} (from the current folder {Path.cwd()})")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return _import_module(path.stem, shown=str(path))


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _import_module(name: str, *, shown: str) -> ModuleType:
    cwd = str(Path.cwd())
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise AppLoadError(
                f"could not import {shown!r}: no module named {exc.name!r} "
                f"(looked in the current folder {cwd} and on sys.path; "
                "run from the project folder or set PYTHONPATH)"
            ) from None
        raise AppLoadError(
            f"importing {shown!r} failed: it imports {exc.name!r}, which is not installed"
            f"{_where(exc)}"
        ) from None
    except Exception as exc:
        raise AppLoadError(
            f"importing {shown!r} raised {type(exc).__name__}: {exc}{_where(exc)}"
        ) from None


def _apps_in(module: ModuleType) -> dict[str, App]:
    if "relaykit.app" not in sys.modules:
        return {}
    return {name: value for name, value in vars(module).items() if _is_app(value)}


def load_app(ref: str) -> App:
    """The ``App`` that ``ref`` names; see the module docstring for the accepted forms."""
    target, attr = _split(ref.strip())
    if target.endswith(".py") or "/" in target:
        module = _import_file(Path(target))
    else:
        module = _import_module(target, shown=target)
    apps = _apps_in(module)
    if attr is None:
        if len(apps) == 1:
            return next(iter(apps.values()))
        found = ", ".join(sorted(apps)) or "no App objects"
        raise AppLoadError(
            f"{target!r} has {found}; name the one to serve as {target}:NAME"
            if apps
            else f"module {module.__name__!r} ({module.__file__}) defines no relaykit App; "
            "build one with app = App('name')"
        )
    value = getattr(module, attr, None)
    if _is_app(value):
        return value
    found = ", ".join(sorted(apps)) or "none"
    if value is None:
        raise AppLoadError(
            f"module {module.__name__!r} has no attribute {attr!r}; relaykit apps in it: {found}"
        )
    raise AppLoadError(
        f"{ref!r} is a {type(value).__name__}, not a relaykit App; relaykit apps in it: {found}"
    )


def load_lambda_target(ref: str) -> App:
    """What ``python -m relaykit.lambda_runtime REF`` serves, as a relaykit ``App``: the app
    itself, or any ASGI application (a FastAPI app, say) served together with the relaykit app of
    its module when there is exactly one (so its event sources and workflows keep working), or
    with a new app of the module's name."""
    target = _load_target(ref)
    if not isinstance(target, tuple):
        return target
    value, module, apps = target
    if apps:
        app = next(iter(apps.values()))
    else:
        from relaykit.app import App

        app = App(_name_of(module), config_dir=_folder_of(module))
    app.serve_asgi(value)
    return app


def load_lambda_handler(ref: str) -> LambdaHandler | AsgiLambdaHandler:
    """The handler ``python -m relaykit.lambda_runtime REF`` runs: ``app.lambda_handler`` of the
    app ``load_lambda_target`` gives, except for an ASGI application whose module has no
    relaykit app, which is served on the lean path (``relaykit.targets.lambda_asgi``)."""
    target = _load_target(ref)
    if not isinstance(target, tuple):
        return target.lambda_handler
    value, module, apps = target
    if apps:
        app = next(iter(apps.values()))
        app.serve_asgi(value)
        return app.lambda_handler
    from relaykit.targets.lambda_asgi import AsgiLambdaHandler

    return AsgiLambdaHandler(value, name=_name_of(module), config_dir=_folder_of(module))


def _name_of(module: ModuleType) -> str:
    return module.__name__.rpartition(".")[2] or "asgi"


def _folder_of(module: ModuleType) -> Path | None:
    return Path(module.__file__).parent if module.__file__ else None


def _load_target(ref: str) -> App | tuple[Any, ModuleType, dict[str, App]]:
    """The ``App`` that ``ref`` names, or the ASGI application it names with its module and the
    relaykit apps in that module (at most one)."""
    target, attr = _split(ref.strip())
    module = (
        _import_file(Path(target))
        if target.endswith(".py") or "/" in target
        else (_import_module(target, shown=target))
    )
    apps = _apps_in(module)
    value = getattr(module, attr, None) if attr else None
    if attr is None or _is_app(value):
        return load_app(ref)
    if value is None:
        found = ", ".join(sorted(apps)) or "none"
        raise AppLoadError(
            f"module {module.__name__!r} has no attribute {attr!r}; relaykit apps in it: {found}"
        )
    if not callable(value):
        raise AppLoadError(
            f"{ref!r} is a {type(value).__name__}, neither a relaykit App nor an ASGI application"
        )
    if len(apps) > 1:
        raise AppLoadError(
            f"{ref!r} is an ASGI application and its module has several relaykit apps "
            f"({', '.join(sorted(apps))}); keep one per module so events have one destination"
        )
    return value, module, apps
