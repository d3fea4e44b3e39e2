"""Browser tests of the web UI: Playwright for Python driving Debian's Chromium against a real
`herbx serve --demo` started on a free port with a temporary data directory.

They skip with the reason where Chromium (``/usr/bin/chromium``, or ``HERBX_CHROMIUM``), the
``playwright`` package or the npm packages (``web/node_modules``, `make install`) are absent,
except under ``CI=true``, where that is a failure (`.ci/run` installs Debian's chromium).
Playwright's own browsers are never downloaded.

Screenshots of every page at both widths go to ``var/screenshots/`` (``HERBX_SCREENSHOTS``
overrides), so a person can look at them after a run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtest.bench.gateway import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("HERBX_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("HERBX_SCREENSHOTS", ROOT / "var" / "screenshots"))
WIDTHS = {"phone": (390, 844), "desktop": (1440, 900)}


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    if not AXE.exists():
        return "web/node_modules is missing (make install runs npm ci in web/)"
    return None


def require_browser() -> None:
    why = _missing()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need Chromium under CI: {why}")
        pytest.skip(why)




class Server:
    def __init__(self, base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.base, self.proc, self.log = base, proc, log

    def get(self, path: str, token: str | None = None) -> Any:
        import json

        req = urllib.request.Request(self.base + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def post(self, path: str, body: dict[str, Any] | None, token: str,
             method: str = "POST") -> Any:
        import json

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
                                         "Authorization": f"Bearer {token}",
                                         "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real market: `herbx serve --demo` with the bots slowed to one step an hour (they quote
    every book and open their auctions once), the clock ticking every 100 ms."""
    require_browser()
    data = tmp_path_factory.mktemp("web-market")
    port = free_port()
    log = data / "serve.log"
    herbx = shutil.which("herbx", path=str(Path(sys.executable).parent)) or "herbx"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [herbx, "serve", "--demo", "--port", str(port), "--data-dir", str(data / "var"),
             "--demo-pace-s", "3600", "--tick-ms", "100", "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    srv = Server(base, proc, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"herbx serve exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if srv.get("/api/v1/demo/people")["people"]:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"herbx serve did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="package")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM),
                               args=["--no-sandbox", "--disable-background-networking"])
        try:
            yield b
        finally:
            b.close()


class Tab:
    """A browser context (one person) with one page; console errors are collected."""

    def __init__(self, browser: Any, server: Server, width: str = "desktop",
                 csp: bool = False) -> None:
        """``csp``: keep the pages' Content-Security-Policy. Off by default because the tests'
        own probes (``wait_for_function``, axe-core) are scripts the policy refuses;
        `test_pages.test_pages_run_under_their_csp` loads every page with it on."""
        w, hgt = WIDTHS[width]
        self.ctx = browser.new_context(viewport={"width": w, "height": hgt}, locale="vi-VN",
                                       timezone_id="Asia/Ho_Chi_Minh", bypass_csp=not csp)
        self.ctx.set_default_timeout(15_000)
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.server = server

    def open(self, path: str) -> Any:
        self.page.goto(self.server.base + path)
        self.ready()
        return self.page

    def ready(self) -> None:
        self.page.wait_for_selector("body[data-ready=true]", state="attached")

    def sign_in(self, token: str) -> None:
        """As a person would on the start page: one click on their demo card."""
        self.open("/")
        pid = token.removeprefix("demo-").upper()
        with self.page.expect_navigation():
            self.page.click(f"button[data-participant='{pid}']")
        self.ready()

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def tabs(browser: Any, server: Server) -> Iterator[Any]:
    opened: list[Tab] = []

    def make(width: str = "desktop", csp: bool = False) -> Tab:
        t = Tab(browser, server, width, csp)
        opened.append(t)
        return t

    yield make
    for t in opened:
        t.close()


def no_sideways_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: none)."""
    return int(page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"))


def axe_serious(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def quiet_price(server: Server, symbol: str = "QUE-BARK-A") -> int:
    """A price inside the spread of the bots' book, so a buy at it meets a sell order placed
    there and nothing else (the bots quote every book once at start-up: wait for that)."""
    deadline = time.monotonic() + 60
    while True:
        book = server.get(f"/api/v1/instruments/{symbol}/book?depth=1")
        if book["bids"] and book["asks"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    tick = next(i for i in server.get("/api/v1/instruments")["instruments"]
                if i["symbol"] == symbol)["tick_vnd"]
    bid = book["bids"][0][0] if book["bids"] else None
    ask = book["asks"][0][0] if book["asks"] else None
    price = ask - tick if ask is not None else (bid or 62_000) + tick
    assert bid is None or price > bid, f"no room inside the spread {bid}..{ask}"
    return int(price)


def sell_a_lot(server: Server, lot_id: str, qty: int, buyer: str = "demo-web-t2") -> dict[str, Any]:
    """Through the API, as the desks would: the demo cooperative registers ``lot_id`` (cinnamon
    bark, grade A), the lab assays it, the operator receives it, the cooperative lists it and
    offers ``qty`` kg inside the spread, and ``buyer`` takes them. The buyer's order answer."""
    import msgspec

    from grading.catalogue import load_catalogue
    from settlement.ticks.history import sample_assay

    harvest = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86400))
    server.post("/api/v1/lots", {
        "lot_id": lot_id, "spec_id": "QUE-BARK", "qty": qty, "harvest_date": harvest,
        "commune": "Xã Mường Hum", "growing_area": {
            "code": "LC-MH-DL-0002", "issuer": "Chi cục TT&BVTV Lào Cai",
            "valid_from": "2024-01-01", "valid_until": None}}, "demo-web-htx")
    results = msgspec.to_builtins(sample_assay(load_catalogue(), "QUE-BARK", "A"))
    server.post(f"/api/v1/lots/{lot_id}/assays", {"sample_id": f"S-{lot_id}",
                                                   "results": results}, "demo-web-lab")
    server.post(f"/api/v1/lots/{lot_id}/receive", {"qty_received": qty}, "demo-web-ops")
    server.post(f"/api/v1/lots/{lot_id}/list", {}, "demo-web-htx")
    price = quiet_price(server)
    server.post("/api/v1/orders", {"symbol": "QUE-BARK-A", "side": "sell", "type": "limit",
                                   "price": price, "qty": qty, "tif": "gtc",
                                   "client_order_id": f"sell-{lot_id}"}, "demo-web-htx")
    fill = server.post("/api/v1/orders", {"symbol": "QUE-BARK-A", "side": "buy",
                                          "type": "limit", "price": price, "qty": qty,
                                          "tif": "ioc", "client_order_id": f"buy-{lot_id}"},
                       buyer)
    assert fill["filled_qty"] == qty, fill
    return dict(fill)


def until(probe: Any, what: str, timeout_s: float = 30.0) -> Any:
    """Ask ``probe()`` again until it gives something truthy (a read model catching up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
