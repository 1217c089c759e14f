"""A small HCL (Terraform) writer: blocks, attributes and expressions, nothing else.

Values map to HCL as: ``str`` to a quoted template (``${...}`` inside stays an interpolation),
``Expr`` to a bare expression (``aws_s3_bucket.runs.arn``, ``jsonencode({...})``), ``bool``/``int``
to literals, ``list`` to a tuple, ``dict`` to an object. ``Block`` is a (nested) block.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Expr:
    """A bare HCL expression, written as is."""

    text: str


@dataclass
class Block:
    """``type "label" ... { body }``; body values that are ``Block`` (or lists of them) nest."""

    type: str
    labels: tuple[str, ...] = ()
    body: dict[str, Any] = field(default_factory=dict)


def expr(value: Any, indent: int = 0) -> str:
    """``value`` as an HCL expression."""
    pad = "  " * (indent + 1)
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = ",\n".join(pad + expr(item, indent + 1) for item in value)
        return "[\n" + items + ",\n" + "  " * indent + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = []
        for key, item in value.items():
            name = key if _IDENT.match(key) else json.dumps(key)
            lines.append(f"{pad}{name} = {expr(item, indent + 1)}")
        return "{\n" + "\n".join(lines) + "\n" + "  " * indent + "}"
    raise TypeError(f"no HCL form for {value!r}")


def render(block: Block, indent: int = 0) -> str:
    """``block`` as HCL text."""
    pad = "  " * indent
    head = " ".join([block.type, *(json.dumps(label) for label in block.labels)])
    lines = [f"{pad}{head} {{"]
    for key, value in block.body.items():
        nested = value if isinstance(value, list) else [value]
        if nested and all(isinstance(item, Block) for item in nested):
            lines += [render(item, indent + 1) for item in nested]
        else:
            lines.append(f"{pad}  {key} = {expr(value, indent + 1)}")
    lines.append(f"{pad}}}")
    return "\n".join(lines)


def jsonencode(value: Any) -> Expr:
    """``jsonencode({...})`` of a Python value (strings may interpolate ``${...}``)."""
    return Expr(f"jsonencode({expr(value, 0)})")
