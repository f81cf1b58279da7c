"""A headless Chromium per test module (starting one costs a few seconds of a scarce CPU)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def driver(browser: Any) -> Iterator[Any]:
    browser.set_window_size(1280, 900)
    yield browser
    browser.get("about:blank")
    browser.delete_all_cookies()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = tmp_path / "screenshots"
    out.mkdir()
    return out
