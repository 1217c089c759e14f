# One image, both targets, as a non-root user (docker-entrypoint.sh picks the command):
# - ECS/Fargate or any container host: `relaykit serve` behind uvicorn on $PORT.
# - AWS Lambda (container image): AWS_LAMBDA_RUNTIME_API is set by Lambda, so relaykit's own
#   Lambda runtime (`python -m relaykit.lambda_runtime`, with response streaming) serves the app.
# Build: docker build -t relaykit-app .   Run: docker run -p 8000:8000 relaykit-app
# Serve another app: docker run -e APP_REF=myapp.main:app ...
# Two stages: the build stage installs into a virtual environment, strips tests and compiles it;
# the runtime stage copies only that environment (no build caches, no pip downloads).
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src
RUN python -m venv /opt/venv

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
# The project itself is installed from its own pyproject (versions are bounded there), so the
# pip-pinning rule does not apply to this line.
# hadolint ignore=DL3013
RUN mkdir -p framework/relaykit \
    && touch framework/relaykit/__init__.py \
    && pip install --no-cache-dir '.[server,lambda]' \
    && pip uninstall --yes relaykit \
    && rm -rf framework

# Then the code; tests shipped inside packages go, and everything is compiled to bytecode
# (unchecked-hash: Lambda's file system is read-only, so a stale check could never rewrite it).
COPY framework/ framework/
RUN pip install --no-cache-dir --no-deps . \
    && find /opt/venv/lib -mindepth 4 -type d \( -name tests -o -name test \) -prune \
        -exec rm -rf {} + \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib

FROM python:3.11-slim AS runtime

ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    APP_REF=examples.quickstart:app \
    PORT=8000

WORKDIR /app
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin relaykit

COPY --from=build /opt/venv /opt/venv
COPY examples/ examples/
COPY --chmod=755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN python -m compileall -q --invalidation-mode unchecked-hash examples

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
# ECS runs `relaykit serve` through this entry point; `relaykit deploy-config` overrides it with
# `relaykit worker` for event sources. Lambda runs it too (an ImageConfig Command is appended).
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
