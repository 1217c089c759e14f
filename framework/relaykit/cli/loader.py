"""Loading an ``App`` from ``MODULE:APP``, ``MODULE`` or ``path/to/file.py[:APP]``, for the CLI's
commands: the functions live in ``relaykit.targets.loading``, where the Lambda runtime finds them
without importing the CLI."""

from relaykit.targets.loading import load_app, load_lambda_handler, load_lambda_target

__all__ = ["load_app", "load_lambda_handler", "load_lambda_target"]
