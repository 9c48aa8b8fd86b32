"""What keeps one client from tying up or breaking into the service (issue 11).

Request bodies are bounded as they stream (413), uploads that would take minutes to parse are
refused in seconds, and sign-in is throttled per user name and per address (429 with
Retry-After). A light world: an empty database with one admin, no plan to solve.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from benchmarks.hostile_input import wide_header, zip_bomb_workbook
from service.api.app import create_app
from service.api.deps import make_token
from service.db.tables import SignInFailureRow, UserRole
from service.settings import Settings
from service.users import add_user
from tests.service.api.conftest import PASSWORD, settings_for
from tests.service.db.conftest import BACKENDS, open_database

SAMPLE = Path(__file__).resolve().parents[3] / "scenarios" / "data" / "minhang-centre"
MB = 1024 * 1024


WINDOW_S = 60.0  # the sign-in window of these tests; their clock jumps over it


@dataclass
class Light:
    client: TestClient
    admin: dict[str, str]
    settings: Settings


@pytest.fixture(scope="module", params=BACKENDS)
def light(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Light]:
    """An empty database with an admin, served with a 2-failure, 1-second sign-in throttle."""
    with open_database(request.param, tmp_path_factory.mktemp("guards")) as database:
        with Session(database.engine) as session:
            add_user(session, "admin", PASSWORD, UserRole.ADMIN)
            session.commit()
        settings = settings_for(
            database.url,
            sign_in_failures_max=2,
            sign_in_failures_per_address_max=4,
            sign_in_window_s=WINDOW_S,
        )
        app = create_app(settings, start_jobs=False)
        with TestClient(app) as client:
            token = make_token("admin", settings.secret_key, 60)
            yield Light(client, {"Authorization": f"Bearer {token}"}, settings)


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
            "message": "has 1,000,000 columns, more than the 500 a register may have: check that "
            "it is the right file (limit: HOMEVISIT_IMPORT_MAX_COLUMNS)",
            "message_zh": "有 1,000,000 列，超过上限 500 列：请确认文件无误"
            "（上限为设置 HOMEVISIT_IMPORT_MAX_COLUMNS）",
            "code": "register.too_many_columns",
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


# --- sign-in throttling ----------------------------------------------------------------------


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(light: Light) -> Iterator[Clock]:
    """The app's throttle on a hand-moved clock, with no failure counted yet."""
    state = light.client.app.state  # type: ignore[attr-defined]
    with Session(state.engine) as session:
        session.execute(delete(SignInFailureRow))
        session.commit()
    real = state.sign_in_throttle
    fake = Clock()
    state.sign_in_throttle = dataclasses.replace(real, clock=fake)
    yield fake
    state.sign_in_throttle = real


@pytest.fixture
def fresh_counts(light: Light, clock: Clock) -> Light:
    return light


def _token(client: TestClient, password: str, username: str = "admin") -> object:
    return client.post("/auth/token", data={"username": username, "password": password})


def _login(client: TestClient, password: str, username: str = "admin") -> object:
    return client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )


@pytest.mark.parametrize("route", [_token, _login], ids=["/auth/token", "/login"])
def test_wrong_passwords_then_the_right_one_waits_for_the_window(
    fresh_counts: Light, clock: Clock, route: object
) -> None:
    """The issue's probe: 30 wrong passwords, then the right one accepted at once. Now after
    N wrong ones even the right password is 429 with Retry-After, until the window ends."""
    client = fresh_counts.client
    attempt = route  # type: ignore[assignment]
    assert [attempt(client, "wrong-password").status_code for _ in range(2)] == [401, 401]
    refused = attempt(client, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == WINDOW_S
    clock.now += WINDOW_S - 1
    assert attempt(client, PASSWORD).status_code == 429
    clock.now += 1
    assert attempt(client, PASSWORD).status_code in (200, 303)


def test_the_login_page_says_how_long_to_wait_in_chinese_and_english(fresh_counts: Light) -> None:
    """A team leader on the sign-in page reads why and for how long."""
    for _ in range(2):
        _login(fresh_counts.client, "wrong-password")
    page = _login(fresh_counts.client, PASSWORD)
    assert page.status_code == 429
    assert "登录失败次数过多，请 60 秒后再试" in page.text
    assert "try again in 60 seconds" in page.text
    assert page.headers["Retry-After"] == "60"


def test_both_routes_share_one_count(fresh_counts: Light) -> None:
    """A wrong password on /login and one on /auth/token make two for the same user name."""
    client = fresh_counts.client
    assert _login(client, "wrong-password").status_code == 401
    assert _token(client, "wrong-password").status_code == 401
    assert _token(client, PASSWORD).status_code == 429


def test_a_successful_sign_in_starts_the_count_again(fresh_counts: Light) -> None:
    """One typo, then the right password: the next typo is the first again."""
    client = fresh_counts.client
    for _ in range(3):
        assert _token(client, "wrong-password").status_code == 401
        assert _token(client, PASSWORD).status_code == 200


def test_an_address_guessing_many_names_is_throttled(fresh_counts: Light) -> None:
    """Spreading the guesses over user names does not help: the address has its own count."""
    client = fresh_counts.client
    for name in ("anna", "bo", "chen", "dong"):
        assert _token(client, "wrong-password", username=name).status_code == 401
    refused = _token(client, PASSWORD)
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers


def test_the_count_is_shared_by_every_web_process(fresh_counts: Light, clock: Clock) -> None:
    """`homevisit serve` runs two processes: failures counted by one stop the other."""
    other = create_app(fresh_counts.settings, start_jobs=False)
    other.state.sign_in_throttle = dataclasses.replace(other.state.sign_in_throttle, clock=clock)
    with TestClient(other) as second:
        assert _token(fresh_counts.client, "wrong-password").status_code == 401
        assert _token(second, "wrong-password").status_code == 401
        assert _token(fresh_counts.client, PASSWORD).status_code == 429
        assert _token(second, PASSWORD).status_code == 429


def test_every_problem_of_an_uploaded_programmes_yaml_is_listed(
    light: Light, tmp_path: Path
) -> None:
    """programmes.yaml with two mistakes in one programme: a 422 listing both, each with its
    line, code, English and Chinese, as the user wrote the value."""
    folder = Path(shutil.copytree(SAMPLE, tmp_path / "upload"))
    (folder / "programmes.yaml").write_text(
        "health_check:\n  day_window: '25:00-10:00'\n  duration_min: -5\n", encoding="utf-8"
    )
    body = _upload(light, folder)
    problems = body["problems"]
    assert isinstance(problems, list)
    assert [(p["file"], p["row"], p["code"]) for p in problems] == [
        ("programmes.yaml", 2, "programmes.at"),
        ("programmes.yaml", 3, "programmes.at"),
    ]
    assert problems[0]["message"].startswith(
        "programme 'health_check', day_window '25:00-10:00': 25:00 is not a time of day"
    )
    assert problems[1]["message_zh"].startswith("服务项目“health_check”的 duration_min“-5”：")
