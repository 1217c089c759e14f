"""A module that fails at import: its init error must reach /runtime/init/error."""

raise ImportError("this module cannot be imported on purpose")


def handler(event, context):  # pragma: no cover - never reached
    return event
