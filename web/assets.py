"""Static files of the web UI: ``/static/...`` from ``web/static`` and ``/vendor/...`` from the
npm packages in ``web/node_modules`` (installed by ``npm ci`` from the committed lock file; no
CDN).

Files are read once into memory with a gzip copy and an ETag; a reply carries
``Cache-Control`` (browsers keep a file for ten minutes, then revalidate with ``If-None-Match``
and get a 304). Only files under ``web/static`` and the vendor files named in `VENDOR` are
served; a path that leaves its folder is a 404. Never renders a page (`web.pages` does).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.api.problems import Problem

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"
NODE_MODULES = WEB / "node_modules"
#: served name -> file of an npm package (the standalone ES module build: one file, no imports)
VENDOR: dict[str, Path] = {
    "lightweight-charts.mjs":
        NODE_MODULES / "lightweight-charts/dist/lightweight-charts.standalone.production.mjs",
}
MAX_AGE_S = 600
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
          ".json": "application/json", ".svg": "image/svg+xml", ".html": "text/html"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gz: bytes
    etag: str
    content_type: str
    mtime_ns: int


_cache: dict[Path, Asset] = {}


def load(path: Path) -> Asset:
    """The file as served, re-read when it changed on disk (so editing a page needs no
    restart)."""
    mtime = path.stat().st_mtime_ns
    asset = _cache.get(path)
    if asset is None or asset.mtime_ns != mtime:
        body = path.read_bytes()
        ctype = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
        asset = Asset(body=body, gz=gzip.compress(body, 9, mtime=0),
                      etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
                      content_type=ctype, mtime_ns=mtime)
        _cache[path] = asset
    return asset


def respond(request: web.Request, path: Path) -> web.Response:
    if not path.is_file():
        raise Problem(404, "not_found", f"no file {request.path}")
    a = load(path)
    headers = {"Cache-Control": f"public, max-age={MAX_AGE_S}", "ETag": a.etag,
               "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if a.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = a.body
    if "gzip" in request.headers.get("Accept-Encoding", "") and len(a.gz) < len(a.body):
        body, headers["Content-Encoding"] = a.gz, "gzip"
    charset = "utf-8" if a.content_type.startswith(("text/", "application/json")) else None
    return web.Response(body=body, headers=headers, content_type=a.content_type,
                        charset=charset)


async def static(request: web.Request) -> web.Response:
    rel = request.match_info["path"]
    path = (STATIC / rel).resolve()
    if not path.is_relative_to(STATIC):
        raise Problem(404, "not_found", f"no file {request.path}")
    return respond(request, path)


async def vendor(request: web.Request) -> web.Response:
    path = VENDOR.get(request.match_info["name"])
    if path is None:
        raise Problem(404, "not_found", f"no vendor file {request.path}")
    if not path.is_file():
        raise Problem(503, "assets_missing", "the web UI's npm packages are not installed: "
                      "run `make install` (npm ci in web/)")
    return respond(request, path)


async def favicon(request: web.Request) -> web.Response:
    return respond(request, STATIC / "favicon.svg")
