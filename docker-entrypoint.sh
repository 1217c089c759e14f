#!/bin/sh
# One image, both targets. On AWS Lambda (container image), the platform sets
# AWS_LAMBDA_RUNTIME_API, and relaykit's own Lambda runtime serves the app (with response
# streaming). Anywhere else (ECS/Fargate, Kubernetes, docker run) uvicorn serves it with
# `relaykit serve`. APP_REF names the app (MODULE:APP or path/to/file.py); PORT the port.
# Extra arguments, if any, are appended to the command that runs.
set -eu

: "${APP_REF:?set APP_REF to the app, e.g. myapp.main:app}"

if [ -n "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec python -m relaykit.lambda_runtime "$APP_REF" "$@"
fi
exec relaykit serve "$APP_REF" --host 0.0.0.0 --port "${PORT:-8000}" "$@"
