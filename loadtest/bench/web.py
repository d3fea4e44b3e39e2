"""`herbx bench web`: how heavy and how quick the trading floor's first load is.

Starts `herbx serve --demo` on a free port with a temporary data directory, then loads
``/floor`` signed in as the demo trader WEB-T1 in Debian's Chromium (Playwright, a fresh
browser context each time, so every load is a cold one with an empty cache) ``loads`` times.
For each load it reads the browser's resource timing: bytes of JavaScript and CSS decoded
(what the browser parses) and transferred (gzip on the wire, headers included), and the time
from the start of navigation until the page is interactive (the shell has the strings, the
stream is open and the page module has drawn and wired everything: ``window.herbxReadyMs``).
The last line printed is one JSON object with the medians.

Loopback network, no throttling: the time says how long the browser and the server take, not
how long a slow highland connection takes (for that, divide the bytes by the link's speed).

Never imported by the market.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from loadtest.bench.gateway import free_port

CHROMIUM = os.environ.get("HERBX_CHROMIUM", "/usr/bin/chromium")

WEIGHT_JS = """() => {
  const rs = performance.getEntriesByType('resource')
    .filter((r) => /\\.(m?js|css)(\\?|$)/.test(new URL(r.name).pathname));
  return {files: rs.map((r) => new URL(r.name).pathname),
          decoded: rs.reduce((s, r) => s + r.decodedBodySize, 0),
          transferred: rs.reduce((s, r) => s + r.transferSize, 0)};
}"""




def floor_load(browser: Any, base: str, token: str, width: int = 1440) -> dict[str, Any]:
    """One cold load of the floor, signed in with ``token``: bytes and milliseconds."""
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(base + "/static/favicon.svg")  # the origin, to put the session in storage
        who = json.loads(urllib.request.urlopen(urllib.request.Request(
            base + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}), timeout=10).read())
        page.evaluate("(s) => localStorage.setItem('herbx.session', JSON.stringify(s))",
                      {"token": token, **who})
        page.goto(base + "/floor")
        page.wait_for_selector("body[data-ready=true]", state="attached")
        page.wait_for_selector("#ladder[data-seq]", state="attached")
        page.wait_for_function("document.querySelector('#chart canvas') !== null")
        weight: dict[str, Any] = dict(page.evaluate(WEIGHT_JS))
        weight["interactive_ms"] = round(page.evaluate("window.herbxReadyMs"), 1)
        return weight
    finally:
        ctx.close()


def main(loads: int = 5) -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "herbx"), "serve", "--demo", "--port", str(port),
             "--data-dir", f"{tmp}/var", "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(base + "/readyz", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        print("herbx bench web: the server did not start", file=sys.stderr)
                        return 1
                    time.sleep(0.3)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-background-networking"])
                runs = [floor_load(browser, base, "demo-web-t1") for _ in range(loads + 1)][1:]
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    for r in runs:
        print(f"floor: {r['decoded'] / 1024:.1f} KiB JS+CSS decoded, "
              f"{r['transferred'] / 1024:.1f} KiB transferred, interactive in "
              f"{r['interactive_ms']:.0f} ms", flush=True)
    print(json.dumps({
        "bench": "web", "page": "/floor", "loads": loads, "files": runs[0]["files"],
        "js_css_decoded_bytes": int(statistics.median(r["decoded"] for r in runs)),
        "js_css_transferred_bytes": int(statistics.median(r["transferred"] for r in runs)),
        "interactive_ms_median": statistics.median(r["interactive_ms"] for r in runs),
        "interactive_ms_max": max(r["interactive_ms"] for r in runs),
        "note": "loopback, no throttling, cold cache each load, 2 shared cores"}))
    return 0
