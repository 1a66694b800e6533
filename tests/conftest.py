"""Shared fixtures. Shapes annotated with jaxtyping are checked at runtime throughout the tests."""

from __future__ import annotations

import os
from pathlib import Path

from jaxtyping import install_import_hook

# before anything imports `model`: every annotated signature in model/ is checked on each call
with install_import_hook("model", "beartype.beartype"):
    import model.build  # noqa: F401

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTENTION_LAB_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real corpora (../shared/data); tests that need them skip on a fresh clone without it."""
    if not (SHARED_DATA / "tinyshakespeare.txt").is_file():
        pytest.skip(f"real corpora not found in {SHARED_DATA} (set ATTENTION_LAB_DATA)")
    return SHARED_DATA
