"""What keeps one client from tying up or breaking into the service (issue 11).

Request bodies are bounded as they stream (413), uploads that would take minutes to parse are
refused in seconds, and sign-in is throttled per user name and per address (429 with
Retry-After). A light world: an empty database with one admin, no plan to solve.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from benchmarks.hostile_input import wide_header, zip_bomb_workbook
from service.api.app import create_app
from service.api.deps import make_token
from service.db.tables import UserRole
from service.users import add_user
from tests.service.api.conftest import PASSWORD, settings_for
from tests.service.db.conftest import BACKENDS, open_database

SAMPLE = Path(__file__).resolve().parents[3] / "scenarios" / "data" / "minhang-centre"
MB = 1024 * 1024


@dataclass
class Light:
    client: TestClient
    admin: dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def light(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Light]:
    """An empty database with an admin, served with a 2-failure, 1-second sign-in throttle."""
    with open_database(request.param, tmp_path_factory.mktemp("guards")) as database:
        with Session(database.engine) as session:
            add_user(session, "admin", PASSWORD, UserRole.ADMIN)
            session.commit()
        settings = settings_for(database.url)
        app = create_app(settings, start_jobs=False)
        with TestClient(app) as client:
            token = make_token("admin", settings.secret_key, 60)
            yield Light(client, {"Authorization": f"Bearer {token}"})


# --- request bodies ----------------------------------------------------------------------------


def test_a_50_mb_json_body_is_refused_before_it_is_read(light: Light) -> None:
    """The issue's probe: a 50 MB JSON was read in full; now 413 with the limit in words."""
    body = b'{"centre_id": "' + b"x" * (50 * MB) + b'"}'
    response = light.client.post(
        "/plans", content=body, headers={**light.admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 1024 * 1024
    assert "the request body is larger than the 1 MB" in response.json()["detail"]


def test_a_streamed_body_is_stopped_when_it_passes_the_limit(light: Light) -> None:
    """Without a Content-Length (chunked), the bytes are counted as they arrive."""

    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b" " * MB

    response = light.client.post(
        "/records", content=chunks(), headers={**light.admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]


def test_a_50_mb_upload_is_refused_as_a_whole(light: Light) -> None:
    """Uploads have the import's limit (48 MB by default), still below 50 MB."""
    response = light.client.post(
        "/imports",
        files={"files": ("residents.csv", b"a" * (50 * MB), "text/csv")},
        headers=light.admin,
    )
    assert response.status_code == 413
    assert "49 MB" in response.json()["detail"]


# --- uploads that would take minutes to parse ------------------------------------------------


def _upload(light: Light, folder: Path) -> dict[str, object]:
    files = [
        ("files", (p.name, p.read_bytes(), "application/octet-stream"))
        for p in sorted(folder.iterdir())
    ]
    response = light.client.post("/imports", files=files, headers=light.admin)
    assert response.status_code == 422, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_header_of_a_million_columns_is_refused_with_the_file_and_the_limit(
    light: Light, tmp_path: Path
) -> None:
    """The issue's probe (8.9 MB, under the file limit): refused, naming the file and row."""
    folder = Path(shutil.copytree(SAMPLE, tmp_path / "upload"))
    wide_header(folder)
    body = _upload(light, folder)
    assert body["problems"] == [
        {
            "file": "residents.csv",
            "row": 1,
            "column": None,
            "value": None,
            "message": "有 1,000,000 列，超过上限 500 列 / has 1,000,000 columns, more than the "
            "500 a register may have: check that it is the right file "
            "(limit: HOMEVISIT_IMPORT_MAX_COLUMNS)",
        }
    ]


def test_a_zip_bomb_workbook_is_refused(light: Light, tmp_path: Path) -> None:
    """The issue's probe: a small .xlsx holding 30 MB of sheet XML."""
    book = zip_bomb_workbook(SAMPLE, tmp_path / "register.xlsx")
    response = light.client.post(
        "/imports",
        files={"files": ("register.xlsx", book.read_bytes(), "application/octet-stream")},
        headers=light.admin,
    )
    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert problem["file"] == "register.xlsx"
    assert "unpacks to 30.0 MB from" in problem["message"]
    assert "times its size" in problem["message"]
