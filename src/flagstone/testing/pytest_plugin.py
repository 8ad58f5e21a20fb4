"""pytest plugin (entry point ``pytest11``): the ``flag_overrides`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import FlagOverrides

__all__ = ["flag_overrides"]


@pytest.fixture
def flag_overrides() -> Iterator[FlagOverrides]:
    """Force variants for this test: ``flag_overrides.set("flag", "variant", units=None)``.
    Everything set is undone when the test ends."""
    overrides = FlagOverrides()
    try:
        yield overrides
    finally:
        overrides.clear()
