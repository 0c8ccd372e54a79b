"""Fixtures for tests that run the service as a real process (tests/e2e/harness.py).

    async def test_x(service):                 # a fresh server, database and Twilio per test
        guest = service.phone("+15550200001")
        assert "Welcome" in await guest.ask("hi")

A module that plays one long story on one server makes its own module-scoped fixture with
`running_service(tmp_path_factory.mktemp(...))` and `loop_scope="module"`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.e2e.harness import Service, running_service


@pytest_asyncio.fixture
async def service(tmp_path: Path, backend: str) -> AsyncIterator[Service]:
    async with running_service(tmp_path) as running:
        yield running
