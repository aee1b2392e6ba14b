"""Browser tests: Playwright driving Debian's Chromium against a live server.

One server per session (uvicorn in a thread, on a free loopback port) over the demo books on
SQLite; the service layer's tests cover PostgreSQL, the browser tests cover the pages and the
keyboard. Screenshots go to test-artifacts/screenshots/ (kept by CI as artifacts).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from jxc.db.session import make_engine
from jxc.services.demo import DEMO_PASSWORD, build_demo
from jxc.web.app import create_app
from tests.conftest import IN_CI

CHROMIUM = os.environ.get("JXC_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

playwright_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'demo.db'}"
    engine = make_engine(url)
    build_demo(engine)
    engine.dispose()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"Chromium is mandatory in CI: {CHROMIUM} is missing (scripts/ensure-chromium.sh)")
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: object, live_url: str) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN",  # type: ignore[attr-defined]
                                  base_url=live_url, reduced_motion="reduce")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def login(page: object, username: str = "admin", password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.wait_for_url(lambda u: "/login" not in u)  # type: ignore[attr-defined]


def shot(page: object, name: str, *, phone: bool = False) -> Path:
    """Save a full-page screenshot as a test artifact (and, with `phone`, a 390 px wide one)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    if phone:
        size = page.viewport_size  # type: ignore[attr-defined]
        page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
        page.wait_for_timeout(400)  # type: ignore[attr-defined]  # charts redraw after a resize
        page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)  # type: ignore[attr-defined]
        page.set_viewport_size(size)  # type: ignore[attr-defined]
        page.wait_for_timeout(200)  # type: ignore[attr-defined]
    return path
