"""What the local runner serves from files: the portal (``portal/``), the OpenAPI document of the
HTTP functions, and Swagger UI (the npm package swagger-ui-dist, installed into ``.local/`` at the
first start: no CDN at run time)."""

from __future__ import annotations

import mimetypes
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

from . import cfn, ddblocal
from .base import HTML_TYPE, JSON_TYPE, Reply, error, log

PORTAL_DIR = cfn.ROOT / "portal"
SWAGGER_PACKAGE = "swagger-ui-dist@5"
SWAGGER_DIR = ddblocal.LOCAL_DIR / "node_modules" / "swagger-ui-dist"
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": JSON_TYPE,
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".map": JSON_TYPE,
    ".woff2": "font/woff2",
    ".txt": "text/plain",
}


def openapi_document() -> str:
    """The OpenAPI document Powertools builds from the HTTP functions' routers (docs/openapi.json)."""
    from billing.http.openapi import openapi_json

    return openapi_json()


class SwaggerUI:
    """Swagger UI's files and their state: ``ready``, ``not installed``, ``installing`` or why not."""

    def __init__(self) -> None:
        self.state = "ready" if (SWAGGER_DIR / "swagger-ui-bundle.js").is_file() else "not installed"

    def install(self, timeout: float = 120.0) -> None:
        """``npm install`` swagger-ui-dist into ``.local/`` (in a thread: the stack does not wait),
        within ``timeout`` seconds; ``state`` says how it went (``/_local/status``, ``/swagger``)."""
        if shutil.which("npm") is None:
            self.state = "npm is not installed, so swagger-ui-dist could not be fetched"
            return
        self.state = "installing"
        try:
            ddblocal.npm_install(SWAGGER_PACKAGE, timeout=timeout)
        except (OSError, subprocess.SubprocessError, ddblocal.NpmError) as exc:
            self.state = f"not installed: {exc}; the next start tries again"
            log(f"swagger: {self.state}")
            return
        self.state = "ready"

    def page(self) -> Reply:
        if self.state == "ready":
            return Reply(200, SWAGGER_PAGE.encode(), HTML_TYPE)
        return Reply(200, SWAGGER_MISSING.format(state=self.state).encode(), HTML_TYPE)


def serve(path: str, openapi: str, swagger: SwaggerUI) -> Reply | None:
    """The reply to ``GET path`` if it is one of the served files, else None."""
    if path in ("/", "/portal", "/portal/"):
        return file_under(PORTAL_DIR, "index.html")
    if path.startswith("/portal/"):
        return file_under(PORTAL_DIR, path.removeprefix("/portal/"))
    if path == "/openapi.json":
        return Reply(200, openapi.encode())
    if path in ("/swagger", "/swagger/"):
        return swagger.page()
    if path.startswith("/swagger/"):
        return file_under(SWAGGER_DIR, path.removeprefix("/swagger/"))
    return None


def file_under(root: Path, relative: str) -> Reply:
    """The file ``relative`` (URL-encoded) below ``root``; 404 for anything outside it."""
    base = root.resolve()
    target = (base / unquote(relative)).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(base) or not target.is_file():
        return error(404, "NOT_FOUND", f"no file {relative!r}")
    ctype = TYPES.get(target.suffix.lower()) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype in (JSON_TYPE, "image/svg+xml"):
        ctype += "; charset=utf-8"
    return Reply(200, target.read_bytes(), ctype, {"Cache-Control": "no-store"})


SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Progress billing API (local)</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/swagger/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
</script></body></html>
"""

SWAGGER_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Swagger UI unavailable</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 2em auto">
<h1>Swagger UI is not available</h1>
<p>Swagger UI is served from the npm package swagger-ui-dist, installed into <code>.local/</code> at the
first start (there is no CDN at run time). State: <strong>{state}</strong>.</p>
<p>The OpenAPI document itself is at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""
