#!/bin/sh
# The storyteller image's entry point (see Dockerfile). One image for Lambda and for containers:
# Lambda sets AWS_LAMBDA_RUNTIME_API in every execution environment, nothing else does.
# [docs:entrypoint]
set -eu
cd "$(dirname "$0")"
if [ -n "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    # Lambda: relaykit's runtime serves the FastAPI app itself, streaming included.
    exec python -m relaykit.lambda_runtime main:api
fi
# ECS, Kubernetes, docker run: uvicorn, as before the move.
exec python -m uvicorn main:api --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}"
# [/docs:entrypoint]
