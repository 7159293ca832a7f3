"""Shared test fixtures: paths to ../shared data (present in CI, absent on planners' machines)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data; skips the test when the shared data is not beside the checkout."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not available: {p}")
    return p


@pytest.fixture
def shared() -> Path:
    """Root of ../shared/data."""
    return shared_path()
