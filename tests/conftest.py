"""Shared fixtures: generated media (cached across runs in the user's cache folder)."""

from __future__ import annotations

import pytest

from tikrelay.sandbox.fixtures import MediaFixtures


@pytest.fixture(scope="session")
def media() -> MediaFixtures:
    return MediaFixtures.at()
