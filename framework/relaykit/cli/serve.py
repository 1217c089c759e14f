"""``relaykit serve`` and ``relaykit dev``: uvicorn serving an app's ASGI application.

uvicorn needs an import string to run several workers or to reload, so the CLI puts the app
reference in an environment variable and hands uvicorn the factory below.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from relaykit.cli.loader import load_app
from relaykit.errors import MissingExtraError
from relaykit.measure import RUNNER_ENV

APP_ENV = "_RELAYKIT_SERVE_APP"
WORKER_ENV = "_RELAYKIT_SERVE_WORKER"
FACTORY = "relaykit.cli.serve:asgi_from_env"


def asgi_from_env() -> Any:
    """uvicorn factory: build the ASGI app of the app named in ``_RELAYKIT_SERVE_APP``; with
    ``serve --worker`` or the ``worker_in_serve`` setting, a ``relaykit worker`` runs in the same
    process, started and stopped with the app's lifespan."""
    app = load_app(os.environ[APP_ENV])
    if os.environ.get(WORKER_ENV) == "1" or app.settings.worker_in_serve:
        from relaykit.targets.worker import attach

        attach(app)
    return app.asgi()


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("uvicorn", "server", "relaykit serve") from None
    return uvicorn


def serve(
    ref: str, *, host: str, port: int, workers: int, log_level: str, worker: bool = False
) -> None:
    """Run uvicorn on ``ref`` (the container entry point); ``worker`` also runs the app's
    event-source worker in each server process (``relaykit.targets.worker.attach``)."""
    uvicorn = _uvicorn()
    os.environ.setdefault(RUNNER_ENV, "serve")  # measure = auto: log lines
    load_app(ref).asgi()  # fail here, with a clear message, before uvicorn starts
    os.environ[APP_ENV] = ref
    if worker:
        os.environ[WORKER_ENV] = "1"
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )


def dev(ref: str, *, host: str, port: int, reload: bool) -> None:
    """Run uvicorn with reload on change and a readable log, and print the app's URLs."""
    uvicorn = _uvicorn()
    os.environ.setdefault("RELAYKIT_LOG_FORMAT", "text")
    os.environ.setdefault(RUNNER_ENV, "dev")  # measure = auto: the local measurements store
    app = load_app(ref)
    base = f"http://{host}:{port}"
    lines = [
        f"relaykit dev: app {app.name!r} on {base}",
        f"  docs:    {base}/docs",
        f"  health:  {base}/healthz",
    ]
    for spec in app.handlers:
        lines.append(f"  {spec.kind:<7}  POST {base}{spec.path}")
    lines.append(f"  model: {app.settings.model}   store: {app.settings.store}")
    print("\n".join(lines), file=sys.stderr, flush=True)
    os.environ[APP_ENV] = ref
    watch = [os.path.dirname(os.path.abspath(ref))] if ref.endswith(".py") else None
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=watch,
        log_level="info",
    )
