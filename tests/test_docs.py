"""Docs stay true: snippets equal their tested example files, and every page is reachable."""

from __future__ import annotations

import re

from docs_snippets import DOCS, ROOT, SNIPPET, render


def test_every_snippet_matches_its_example_region() -> None:
    """Each docs code block marked as a snippet is identical to the marked region of its file."""
    checked = 0
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        checked += len(SNIPPET.findall(text))
        assert render(text) == text, f"{page.name} is stale: run `make docs`"
    assert checked >= 5


def test_every_page_is_linked_from_the_index() -> None:
    """docs/index.md links every page, and every link points to an existing page."""
    index = (DOCS / "index.md").read_text()
    links = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    pages = {page.name for page in DOCS.glob("*.md")} - {"index.md"}
    assert pages <= links, f"pages missing from the index: {sorted(pages - links)}"
    assert all((DOCS / link).exists() for link in links)


def test_readme_opens_with_the_two_commands() -> None:
    """The README's first code block is `make run` and `make test`."""
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert [line for line in first_block.splitlines()[1:] if line] == ["make run", "make test"]
