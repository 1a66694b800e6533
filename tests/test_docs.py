"""The README is a short user's guide and every link in it and in docs/ leads somewhere.

Relative links (files, folders, images) must resolve from the page that holds them; a link to a
heading of a page (`page.md#some-heading`) must name a heading that page has, slugged as GitHub
does. Web links are not fetched (the tests run offline)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
README_MAX_LINES = 200
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]

# [text](target) and ![alt](target); the target ends at the first space or closing parenthesis
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def links(page: Path) -> list[str]:
    """Every link target of a markdown page, code blocks left out."""
    return LINK.findall(FENCE.sub("", page.read_text()))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE)}


def test_the_readme_is_a_short_guide_with_a_picture() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    images = [t for t in links(README) if t.endswith((".png", ".svg", ".gif", ".jpg"))]
    assert images, "the README shows no picture of the app"


def test_the_readmes_python_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """A newcomer copies the README's Python: its blocks run in order, in one namespace, from the
    repository's root."""
    if not (REPO / "checkpoints" / "baseline" / "config.json").is_file():
        pytest.skip("the shipped baseline is not here")
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
    assert blocks, "the README shows no Python"
    monkeypatch.chdir(REPO)
    exec(compile("\n".join(blocks), str(README), "exec"), {"__name__": "readme"})


def test_the_slug_of_a_heading_is_githubs() -> None:
    assert slug("Use GPT-2") == "use-gpt-2"
    assert (
        slug("Interpretability in a notebook (`interp/`)")
        == "interpretability-in-a-notebook-interp"
    )
    assert slug("Q1 · time") == "q1--time"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading '{anchor}' in {dest.name}")
    assert not broken, f"{page.relative_to(REPO)}:\n" + "\n".join(broken)
