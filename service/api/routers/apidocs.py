"""The API's own pages, ``/docs`` (Swagger UI) and ``/redoc``, working offline.

FastAPI's defaults load both from a CDN (a blank page at a health centre without internet) and
start Swagger UI with an inline script. Here the files come from the ``fastapi-offline``
package (Swagger UI's bundle and CSS, ReDoc's standalone build), served under
``/assets/apidocs``, and Swagger UI starts from a static file: no inline script.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from service.api.web import templates

__all__ = ["APIDOCS_ASSETS", "APIDOCS_DIR", "router"]

APIDOCS_ASSETS = "/assets/apidocs"
APIDOCS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str) -> HTMLResponse:
    app = request.app
    return templates.TemplateResponse(
        request, template, {"title": app.title, "openapi_url": app.openapi_url}
    )


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the service's OpenAPI schema."""
    return _page(request, "docs.html")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the service's OpenAPI schema."""
    return _page(request, "redoc.html")
