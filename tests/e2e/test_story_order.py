"""No test depends on the tests that ran before it: a chapter of the e2e story run alone first
tells the chapters before it (tests/e2e/test_e2e.py), in a pytest of its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.harness import REPO_ROOT, _environment


@pytest.mark.parametrize(
    "test",
    [
        "test_guest_browses_pages_and_searches",  # needs the homes listed by the first chapter
        "test_host_accepts_and_the_guest_is_told",  # needs Ana's request, four chapters back
    ],
)
def test_a_chapter_of_the_story_passes_alone(test: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
         f"tests/e2e/test_e2e.py::{test}"],
        cwd=REPO_ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-3000:]
