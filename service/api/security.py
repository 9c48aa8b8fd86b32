"""Security headers on every response, set by one small ASGI middleware.

Every answer of the service may hold health data (JSON, map pages, exports, even an error that
names an id), so every answer gets:

- ``Content-Security-Policy``: scripts only from the service itself, plus, on a map page, the
  hash of the page's one inline script (:class:`maps.base.MapPage`), so a script smuggled into a
  page by a value would not run; no plugins, no ``<base>``, forms post only here, and no other
  site may frame a page (``frame-ancestors 'none'``, with ``X-Frame-Options`` for old browsers).
  Styles allow ``'unsafe-inline'``: the pages carry folium's ``<style>`` blocks and a few
  ``style`` attributes (colour swatches), and a style cannot run code. The API docs (``/docs``,
  ``/redoc``) load Swagger UI from its CDN with an inline script; they hold no health data and
  no value from users, so they get a policy of their own that allows both.
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` (a map page's URL
  names a plan, a clinician and a day: it is not sent to the tile server or a navigation link).
- ``Cache-Control: no-store``, except for ``/assets`` (Leaflet and jQuery: no health data).

The ``secure`` package (PyPI) sets the same headers; it would save these few lines but not the
per-page script hashes, and it is one more dependency to keep: not worth it here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maps.base import MapPage, tile_origins
from maps.base import content_security_policy as map_page_policy

__all__ = [
    "ASSETS_PREFIX",
    "SecurityHeaders",
    "content_security_policy",
    "page_response",
    "security_headers",
]

ASSETS_PREFIX: Final = "/assets/"
_DOCS_PATHS: Final = ("/docs", "/redoc")
_DOCS_CDN: Final = "https://cdn.jsdelivr.net"
_DOCS_POLICY: Final = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_DOCS_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_DOCS_CDN}; img-src 'self' data: "
    "https://fastapi.tiangolo.com; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def content_security_policy(tiles: str, script_hashes: Iterable[str] = ()) -> str:
    """The policy of every response: the map pages' (scripts from here and ``script_hashes``,
    images from here and the tile server of ``tiles``), and no framing by any site."""
    page_policy = map_page_policy(script_hashes, tile_origins(tiles))
    return f"{page_policy}; frame-ancestors 'none'"


def security_headers(path: str, policy: str) -> dict[str, str]:
    """The headers every response to ``path`` gets (``policy``: the default CSP)."""
    headers = {
        "Content-Security-Policy": _DOCS_POLICY if path.startswith(_DOCS_PATHS) else policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not path.startswith(ASSETS_PREFIX):
        headers["Cache-Control"] = "no-store"
    return headers


def page_response(page: MapPage, tiles: str) -> HTMLResponse:
    """A map page, with the policy that lets its own inline script (and nothing else) run."""
    policy = content_security_policy(tiles, page.script_hashes)
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})


class SecurityHeaders:
    """Adds :func:`security_headers` to every HTTP response; a header the route set is kept
    (a map page's policy with its script hash).

    The headers are encoded once per kind of path (assets, docs, the rest): the service's
    hottest read (a nurse's route, from the cache) pays a list copy and a set, not a header
    parse per name.
    """

    def __init__(self, app: ASGIApp, *, policy: str) -> None:
        self.app = app
        self._by_kind = {
            kind: [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in security_headers(path, policy).items()
            ]
            for kind, path in (("assets", ASSETS_PREFIX), ("docs", _DOCS_PATHS[0]), ("", "/"))
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        kind = (
            "assets"
            if path.startswith(ASSETS_PREFIX)
            else "docs"
            if path.startswith(_DOCS_PATHS)
            else ""
        )
        wanted = self._by_kind[kind]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in wanted if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
