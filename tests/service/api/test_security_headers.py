"""Security headers on every kind of answer: JSON, map page, export, error, static asset."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from tests.service.api.conftest import World

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}

# (who, path, what it is); every one must carry the headers
ANSWERS = [
    ("admin", "/centres", "json"),
    ("admin", "/plans/{plan_id}", "json"),
    ("admin", "/plans/{plan_id}/maps/day/MH03-T1-N/{nurse1_day}", "page"),
    ("lead1", "/plans/{plan_id}/maps/team/MH03-T1", "page"),
    ("admin", "/plans/{plan_id}/maps/compare/{plan_id}", "page"),
    ("nurse1", "/me/routes/{nurse1_day}?format=html", "page"),
    ("admin", "/plans/{plan_id}/export?format=csv", "export"),
    ("admin", "/plans/{plan_id}/export?format=xlsx", "export"),
    ("admin", "/plans/2147483647", "error"),  # 404
    (None, "/centres", "error"),  # 401
    ("nurse1", "/plans", "error"),  # 403
    ("admin", "/plans/0", "error"),  # 422
    (None, "/login", "login"),
    (None, "/assets/leaflet.js", "asset"),
]


@pytest.mark.parametrize(("user", "path", "kind"), ANSWERS, ids=[f"{k} {p}" for _, p, k in ANSWERS])
def test_every_answer_carries_the_security_headers(
    world: World, user: str | None, path: str, kind: str
) -> None:
    """nosniff, no referrer, no framing and a policy on everything; no-store on everything that
    may hold health data (all but Leaflet's files); a map page's policy allows its own inline
    script by hash and no other, every other answer allows no inline script at all."""
    url = path.format(plan_id=world.plan_id, nurse1_day=world.nurse1_day)
    response = world.client.get(url, headers=world.headers(user))
    assert response.status_code < 500, response.text
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, name
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "object-src 'none'" in policy and "base-uri 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    if kind == "asset":
        assert "no-store" not in response.headers.get("cache-control", "")
    else:
        assert response.headers["cache-control"] == "no-store"
    scripts = re.search(r"script-src ([^;]*)", policy)
    assert scripts is not None
    if kind == "page":
        inline = re.findall(r"<script>(.*?)</script>", response.text, flags=re.S)
        assert len(inline) == 1
        digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
        assert scripts[1] == f"'self' 'sha256-{digest}'"
    else:
        assert scripts[1] == "'self'"


def test_an_unexpected_error_carries_the_headers_too(world: World) -> None:
    """A 500 is answered outside the middlewares (Starlette's error handler): it gets the same
    headers, and says nothing of what failed."""
    app = world.client.app

    def boom() -> None:
        raise RuntimeError("resident MH03-R00001 broke something")

    app.add_api_route("/test-only/boom", boom)  # type: ignore[attr-defined]
    try:
        response = TestClient(app, raise_server_exceptions=False).get("/test-only/boom")
    finally:
        app.router.routes.pop()  # type: ignore[attr-defined]
    assert response.status_code == 500 and "R00001" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
