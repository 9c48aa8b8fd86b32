"""A report with nothing to count says so, in Chinese and English, with what to import: on the
page (above every figure), in the files (the first note of each table) and in the coverage JSON;
never a bare 0 % or a page of zeros. The notice goes once there is a record."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from service.api.app import create_app
from service.api.deps import make_token
from service.cli import app as cli_app
from service.db.tables import CentreRow, UserRole
from service.reports.compute import NO_RESIDENTS, no_records_notice
from service.users import add_user
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, QUIET_FLAGS, watch
from tests.service.api.conftest import PASSWORD, serve_app, settings_for
from tests.service.db.conftest import BACKENDS, open_database
from tests.service.reports.test_report_tables import (
    CENTRES,
    CLINICIANS,
    COMMITTEES,
    RESIDENTS,
)

runner = CliRunner()
QUARTER = "from=2026-04-01&to=2026-06-30"


@pytest.fixture(scope="module", params=BACKENDS)
def empty(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A new service: a centre set up by the admin, users, and no register imported yet."""
    with open_database(request.param, tmp_path_factory.mktemp("empty")) as database:
        settings = settings_for(database.url)
        with Session(database.engine) as session:
            session.add(CentreRow(centre_id="C1", name="中心一", lat=31.1, lon=121.4))
            add_user(session, "admin", PASSWORD, UserRole.ADMIN)
            add_user(session, "planner", PASSWORD, UserRole.PLANNER)
            session.commit()
        with TestClient(create_app(settings, start_jobs=False)) as client:
            yield (
                client,
                {
                    name: f"Bearer {make_token(name, settings.secret_key, 60)}"
                    for name in ("admin", "planner")
                },
            )


def _csv_notes(body: bytes) -> list[str]:
    return [row[0] for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) if len(row) == 1]


def test_an_empty_register_is_said_not_shown_as_zeros(
    empty: tuple[TestClient, dict[str, str]],
) -> None:
    """No resident yet: the page opens with the notice (import the register first), the CSV
    of Annex 3 carries it as its first note, the coverage JSON as ``notice``."""
    client, auth = empty
    page = client.get(f"/reports/page?{QUARTER}", headers={"Authorization": auth["planner"]})
    assert page.status_code == 200
    text = page.text
    notice = html.escape(NO_RESIDENTS)
    assert f'<p class="notice" role="alert">{notice}</p>' in text
    assert text.index(notice) < text.index('<div class="cards">')  # above every figure
    assert "<img" not in text  # no chart of nobody ("none overdue" would be no news)
    assert "本期没有记录" in NO_RESIDENTS and "import the register" in NO_RESIDENTS.lower()
    answer = client.get(
        f"/reports/tables/annex3?{QUARTER}&format=csv", headers={"Authorization": auth["admin"]}
    )
    assert answer.status_code == 200
    assert _csv_notes(answer.content)[1] == NO_RESIDENTS  # after the title
    coverage = client.get(
        "/reports/coverage?centre_id=C1&on=2026-06-30", headers={"Authorization": auth["admin"]}
    )
    assert coverage.status_code == 200
    assert coverage.json()["teams"] == [] and coverage.json()["notice"] == NO_RESIDENTS


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_period_without_records_is_said_until_a_visit_is_recorded(
    backend: str, tmp_path: Path
) -> None:
    """The register imported, no visit recorded: the page, the XLSX's tables and the coverage
    JSON say there is no record from the first to the last day (so the 0.0 % of the 80+ is
    no data); once one visit of the quarter is recorded the notice is gone, the figures stay."""
    folder = tmp_path / "dataset"
    folder.mkdir()
    for name, body in (
        ("centres", CENTRES),
        ("committees", COMMITTEES),
        ("clinicians", CLINICIANS),
        ("residents", RESIDENTS),
    ):
        (folder / f"{name}.csv").write_text(body, encoding="utf-8")
    with open_database(backend, tmp_path) as database:
        url = ["--database-url", database.url]
        result = runner.invoke(cli_app, ["import", str(folder), *url])
        assert result.exit_code == 0, result.output
        settings = settings_for(database.url)
        with Session(database.engine) as session:
            add_user(session, "admin", PASSWORD, UserRole.ADMIN)
            session.commit()
        auth = {"Authorization": f"Bearer {make_token('admin', settings.secret_key, 60)}"}
        notice = no_records_notice(dt.date(2026, 4, 1), dt.date(2026, 6, 30))
        with TestClient(create_app(settings, start_jobs=False)) as client:

            def said() -> tuple[bool, bool, str | None]:
                page = client.get(f"/reports/page?{QUARTER}&by=team", headers=auth).text
                table = client.get(f"/reports/tables/annex2?{QUARTER}&format=csv", headers=auth)
                coverage = client.get("/reports/coverage?centre_id=C1&on=2026-06-30", headers=auth)
                return (
                    html.escape(notice) in page,
                    notice in _csv_notes(table.content),
                    coverage.json()["notice"],
                )

            assert said() == (True, True, notice)  # the quarter of 30 June: the same days
            assert "0.0%" in client.get(f"/reports/page?{QUARTER}&by=team", headers=auth).text
            result = runner.invoke(
                cli_app,
                ["record", "--resident", "R1", "--programme", "health_check", "--date",
                 "2026-05-10", "--clinician", "T1-D", *url],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            assert said() == (False, False, None)


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
)
def test_the_empty_report_page_shows_the_notice_on_a_phone_and_a_desk(
    empty: tuple[TestClient, dict[str, str]],
) -> None:
    """In chromium, signed in as the planner: the notice is visible at the top of the page at
    360x740 and 1280x800, the page does not scroll sideways, nothing is fetched off the
    machine, no script error."""
    sync_api = pytest.importorskip("playwright.sync_api")
    client, _auth = empty
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(client.app) as served, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            for width, height in ((360, 740), (1280, 800)):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                watch(page, requests, errors)
                page.goto(f"{served}/login?next=/reports/page?{QUARTER.replace('&', '%26')}")
                page.fill("#u", "planner")
                page.fill("#p", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("p.notice")
                notice = page.locator("p.notice")
                assert notice.is_visible() and notice.inner_text() == NO_RESIDENTS
                box = notice.bounding_box()
                assert box is not None and box["y"] + box["height"] <= height  # first screen
                doc_width = page.evaluate("document.documentElement.scrollWidth")
                assert doc_width <= width, "the report page scrolls sideways"
                page.screenshot(path=str(ARTIFACTS / f"report-empty-{width}x{height}.png"))
                context.close()
        finally:
            browser.close()
    assert errors == [], errors
    off_machine = [u for u in requests if not u.startswith((served, "data:"))]
    assert off_machine == [], off_machine
