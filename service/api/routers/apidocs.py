"""The API's own pages, ``/docs`` (Swagger UI) and ``/redoc``, working offline.

FastAPI's defaults load both from a CDN (a blank page at a health centre without internet) and
start Swagger UI with an inline script. Here the files come from the ``fastapi-offline``
package (Swagger UI's bundle and CSS, ReDoc's standalone build), served under
``/assets/apidocs``, and Swagger UI starts from a static file: no inline script.

ReDoc's build hard-codes one address off the machine, its sidebar logo on cdn.redoc.ly (hidden
when it does not load): ``/apidocs/redoc.js`` serves the build with that address made an empty
``data:`` image, which fails at once the same way, so the browser asks nothing of the CDN.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from service.api.web import templates

__all__ = ["APIDOCS_ASSETS", "APIDOCS_DIR", "router"]

APIDOCS_ASSETS = "/assets/apidocs"
APIDOCS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"

REDOC_SCRIPT = "/apidocs/redoc.js"
_REDOC_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'

router = APIRouter(include_in_schema=False)


@cache
def _redoc_script() -> bytes:
    build = (APIDOCS_DIR / "redoc.standalone.js").read_bytes()
    # A new ReDoc build may drop or move the logo: then there is nothing to take out.
    return build.replace(_REDOC_LOGO, b'src:"data:,"')


def _page(request: Request, template: str) -> HTMLResponse:
    app = request.app
    return templates.TemplateResponse(
        request,
        template,
        {"title": app.title, "openapi_url": app.openapi_url, "redoc_script": REDOC_SCRIPT},
    )


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the service's OpenAPI schema."""
    return _page(request, "docs.html")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the service's OpenAPI schema."""
    return _page(request, "redoc.html")


@router.get(REDOC_SCRIPT)
def redoc_script() -> Response:
    """ReDoc's standalone build, asking nothing of a CDN (see the module's docstring)."""
    return Response(
        _redoc_script(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
