"""Docs snippets come from tested files in examples/.

A fenced code block in docs/*.md that follows a line ``<!-- snippet: examples/FILE.py#NAME -->``
must equal the lines between ``# [docs:NAME]`` and ``# [/docs:NAME]`` in that file. The settings
table between ``<!-- settings:begin -->`` and ``<!-- settings:end -->`` must equal the one rendered
from ``relaykit.settings.FIELDS``. ``python tests/docs_snippets.py --write`` (``make docs``)
rewrites the docs from the sources; the test suite checks that nothing is stale.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPET = re.compile(
    r"(<!-- snippet: (?P<file>[\w./-]+)#(?P<name>[\w-]+) -->\n```(?P<lang>\w*)\n)"
    r"(?P<body>(?:.*?\n)??)(```)$",
    re.S | re.M,
)
SETTINGS = re.compile(r"(<!-- settings:begin -->\n)(?P<body>.*?)(<!-- settings:end -->)", re.S)


def region(file: str, name: str) -> str:
    """The marked region ``name`` of ``file``, dedented, without the marker lines."""
    lines = (ROOT / file).read_text().splitlines()
    try:
        start = lines.index(f"# [docs:{name}]")
        end = lines.index(f"# [/docs:{name}]", start)
    except ValueError:
        raise LookupError(f"{file} has no region # [docs:{name}] ... # [/docs:{name}]") from None
    return textwrap.dedent("\n".join(lines[start + 1 : end])).strip("\n")


def settings_table() -> str:
    sys.path.insert(0, str(ROOT / "framework"))
    from relaykit.settings import FIELDS

    rows = ["| Key | Environment variable | Default | What it does |", "|---|---|---|---|"]
    for field in FIELDS:
        default = "(derived)" if field.default is None else f"`{field.default}`"
        rows.append(
            f"| `{field.name}` | `RELAYKIT_{field.name.upper()}` | {default} | {field.doc} |"
        )
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """``text`` with every snippet and the settings table refreshed from their sources."""

    def snippet(match: re.Match[str]) -> str:
        return match.group(1) + region(match["file"], match["name"]) + "\n" + match.group(6)

    text = SNIPPET.sub(snippet, text)
    return SETTINGS.sub(lambda m: m.group(1) + settings_table() + m.group(3), text)


def stale_pages() -> list[str]:
    return [
        page.name
        for page in sorted(DOCS.glob("*.md"))
        if render(page.read_text()) != page.read_text()
    ]


if __name__ == "__main__":
    if "--write" in sys.argv:
        for page in sorted(DOCS.glob("*.md")):
            page.write_text(render(page.read_text()))
    stale = stale_pages()
    print("stale: " + ", ".join(stale) if stale else "docs are up to date")
    sys.exit(1 if stale else 0)
