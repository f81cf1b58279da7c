"""Headless Chromium for the console's end-to-end tests: Debian's `chromium` and `chromium-driver`
packages driven by Selenium. Nothing is downloaded: Selenium is pointed at the packaged binaries
(its own driver manager would otherwise fetch a browser).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]
DOCS_IMG = REPO / "docs" / "img"


def available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists() and shutil.which("chromium") is not None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    if not available():
        pytest.skip("chromium and chromium-driver (Debian packages) are not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (the dev extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in CI containers, where the sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait(predicate: Callable[[], Any], timeout: float = 20.0, message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy (ignoring lookup errors meanwhile)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - an element not there yet, or stale
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}" + (f" (last error: {last})" if last else ""))


def screenshot(driver: Any, name: str, tmp_dir: Path) -> Path:
    """Save to the test's tmp dir, and to docs/img/ when UPDATE_DOCS_SCREENSHOTS=1 (docs refresh).

    Not a HALOPS_ variable: tests/conftest.py clears those for every test.
    """
    path = tmp_dir / f"console-{name}.png"
    driver.save_screenshot(str(path))
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / f"console-{name}.png")
    return path


def set_width(driver: Any, width: int, height: int = 900) -> None:
    driver.set_window_size(width, height)


def console_errors(driver: Any) -> list[str]:
    """Severe browser console messages (a CSP violation, a script error)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
