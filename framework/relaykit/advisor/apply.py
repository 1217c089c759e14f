"""``relaykit advise --apply``: write the recommended placement into ``relaykit.toml``.

The schema is the ``placement`` setting's (``relaykit.placement``): one ``[placement."/path"]``
table per handler with ``target`` (``lambda``: behind an HTTP API, ``lambda-stream``: a Function
URL, ``container``) and ``memory``, ``timeout`` and ``concurrency`` where they apply; the Lambda
architecture goes to ``[placement.defaults]`` when every Lambda recommendation agrees on it. Each
table written carries a comment with the option, its monthly cost and the price date.

The file is edited as text, not re-serialised, so its comments and other tables stay as they
are: a handler's existing ``[placement."/path"]`` table is replaced, others are appended. The
result is checked with ``relaykit.placement.parse_table`` before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relaykit.advisor.advise import Advice

_HEADER = re.compile(r"^\s*\[(?P<name>[^\[\]]+)\]\s*(#.*)?$")
_KEYS = ("target", "memory", "timeout", "concurrency")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table_name(handler: str) -> str:
    return f"placement.{_toml_value(handler)}"


def placements(advices: Sequence[Advice]) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Each handler's placement table, and the Lambda architecture they agree on (if any)."""
    tables: dict[str, dict[str, Any]] = {}
    arches = set()
    for advice in advices:
        best = advice.recommended
        if best is None or not best.placement:
            continue
        raw = dict(best.placement)
        if "architecture" in raw:
            arches.add(raw.pop("architecture"))
        tables[advice.handler] = {key: raw[key] for key in _KEYS if raw.get(key) is not None}
    return tables, (arches.pop() if len(arches) == 1 else None)


def _split(text: str) -> list[tuple[str | None, list[str]]]:
    """The file as (table name or None for the top, its lines) sections."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            sections.append((match["name"].strip().replace("'", '"'), [line]))
        else:
            sections[-1][1].append(line)
    return sections


def render(text: str, advices: Sequence[Advice]) -> str:
    """``text`` (a relaykit.toml) with the recommended placements written in."""
    tables, arch = placements(advices)
    by_handler = {advice.handler: advice for advice in advices}
    new: dict[str, list[str]] = {}
    for handler, values in tables.items():
        best = by_handler[handler].recommended
        assert best is not None
        as_of = by_handler[handler].prices.get("as_of", "?")
        lines = [
            f"[{_table_name(handler)}]",
            f"# relaykit advise: {best.option} ({best.detail}), ${best.total:,.2f}/month at "
            f"prices of {as_of}",
        ]
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        new[_table_name(handler)] = lines
    out: list[str] = []
    seen_defaults = False
    for name, lines in _split(text):
        if name in new:
            continue  # replaced below
        if name == "placement.defaults" and arch is not None:
            seen_defaults = True
            lines = [ln for ln in lines if not ln.strip().startswith("architecture")]
            lines.insert(1, f"architecture = {_toml_value(arch)}")
        out.extend(lines)
    if arch is not None and not seen_defaults:
        out += ["", "[placement.defaults]", f"architecture = {_toml_value(arch)}"]
    for lines in new.values():
        out += ["", *lines]
    return "\n".join(out).strip("\n") + "\n"


def apply(config: Path, advices: Sequence[Advice]) -> str:
    """Write the placements into ``config`` (created when missing); return the new text."""
    import tomllib

    from relaykit.placement import parse_table

    old = config.read_text() if config.exists() else ""
    text = render(old, advices)
    parse_table(tomllib.loads(text).get("placement", {}))  # fail here, not at the next load
    config.write_text(text)
    return text
