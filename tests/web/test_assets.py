"""Static serving of the web UI (no browser): gzip, ETag and revalidation, cache headers, the
vendor file from npm, and no path out of the static folder."""

from __future__ import annotations

from tests.gateway.conftest import settings, start


async def test_static_and_vendor_files(tmp_path) -> None:
    m = await start(settings(tmp_path), seed=False)
    try:
        c = m.client
        r = await c.get("/static/js/core.js", headers={"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Content-Type"].startswith("text/javascript")
        assert "max-age=" in r.headers["Cache-Control"] and r.headers["ETag"]
        assert "export function t(" in await r.text()  # decoded by the client
        again = await c.get("/static/js/core.js", headers={"If-None-Match": r.headers["ETag"]})
        assert again.status == 304
        r = await c.get("/vendor/lightweight-charts.mjs")
        assert r.status == 200 and "createChart" in await r.text()
        for bad in ("/static/../pages.py", "/static/%2e%2e/pages.py", "/vendor/axe.min.js",
                    "/static/nope.js"):
            r = await c.get(bad)
            assert r.status == 404, bad
            assert r.headers["Content-Type"] == "application/problem+json"
        r = await c.get("/favicon.ico")
        assert r.status == 200 and r.headers["Content-Type"] == "image/svg+xml"
        r = await c.get("/floor")
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert '<script type="module" src="/static/js/floor.js">' in await r.text()
    finally:
        await m.client.close()


async def test_session_endpoints(tmp_path) -> None:
    m = await start(settings(tmp_path), seed=False)
    try:
        c = m.client
        r = await c.get("/api/v1/me", headers=m.h("operator"))
        assert r.status == 200 and (await r.json())["role"] == "operator"
        assert (await c.get("/api/v1/me")).status == 401
        r = await c.get("/api/v1/demo/people")  # not a demo: nobody's token is public
        assert r.status == 200 and (await r.json()) == {"people": []}
        r = await c.get("/api/v1/trace/NOPE-1/card")
        assert r.status == 404 and (await r.json())["code"] == "unknown_lot"
    finally:
        await m.client.close()
