"""Visits recorded through ``homevisit record`` and the API, on a database the project has
never seen, come back in the official tables exactly: every count, every total the sum of its
parts, the districts adding up to the city, the seeds' headers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from scheduler.cells import neutralise_cell as neutralise
from service.api.app import create_app
from service.api.deps import make_token
from service.cli import app
from service.db.tables import AuditRow, UserRole
from service.reports import headers as h
from service.reports.charts import overdue_cells
from service.reports.compute import OverdueResident, SumMismatchError, Table
from service.reports.export import table_csv, tables_xlsx
from service.users import add_user
from tests.service.api.conftest import settings_for
from tests.service.db.conftest import BACKENDS, Database, open_database

runner = CliRunner()
PERIOD = ("--from", "2026-04-01", "--to", "2026-06-30")

CENTRES = """centre_id,name,lat,lon,district
C1,中心一,31.10,121.40,甲区
C2,中心二,31.20,121.50,乙区
C3,中心三,31.21,121.51,乙区
"""
COMMITTEES = """committee_id,centre_id,name,lat,lon
K1,C1,居委一,31.101,121.401
K2,C2,居委二,31.201,121.501
K3,C3,居委三,31.211,121.511
"""
_SHIFT = "Mon;Tue;Wed;Thu;Fri,08:00,17:00,12:00,13:00"
CLINICIANS = (
    "clinician_id,name,team_id,centre_id,role,skills,travel_mode,work_days,shift_start,shift_end,lunch_start,lunch_end\n"
    + "".join(
        f"{t}-D,医生{t},{t},{c},doctor,ecg,ebike,{_SHIFT}\n{t}-N,护士{t},{t},{c},nurse,blood_draw,ebike,{_SHIFT}\n"
        for t, c in (("T1", "C1"), ("T2", "C2"), ("T3", "C3"))
    )
)
# Ages on 2026-06-30: R1 76, R2 81, R3 86, R4 71, R5 63, R6 55, R7 102.
RESIDENT_COLUMNS = (
    "resident_id,name,birth_date,lat,lon,committee_id,team_id,preferred_clinician_id,"
    "disability,hypertension,diabetes,home_sickbed,homebound,availability,signed,signed_since"
)
RESIDENTS = (
    RESIDENT_COLUMNS
    + """
R1,王秀英,1950-01-01,31.102,121.402,K1,T1,,full,true,false,false,true,,true,2020-03-01
R2,李建国,1945-02-01,31.103,121.403,K1,T1,,semi,false,true,false,false,,true,
R3,张桂兰,1940-03-01,31.202,121.502,K2,T2,,full,true,true,false,true,,true,2026-07-15
R4,刘德华,1955-04-01,31.203,121.503,K2,T2,,none,true,false,false,false,,true,2019-01-01
R5,陈美玲,1962-08-01,31.212,121.512,K3,T3,,semi,false,false,false,false,,false,
R6,杨小明,1970-05-01,31.213,121.513,K3,T3,,semi,false,false,false,false,,true,
R7,赵百岁,1924-01-01,31.214,121.514,K3,T3,,full,false,false,false,true,,true,2016-05-01
"""
)


@pytest.fixture(scope="module", params=BACKENDS)
def recorded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, TestClient, dict[str, str]]]:
    """A fresh database: the registers imported, visits recorded by CLI and by API."""
    workdir = tmp_path_factory.mktemp("reports")
    folder = workdir / "dataset"
    folder.mkdir()
    for name, body in (
        ("centres", CENTRES),
        ("committees", COMMITTEES),
        ("clinicians", CLINICIANS),
        ("residents", RESIDENTS),
    ):
        (folder / f"{name}.csv").write_text(body, encoding="utf-8")
    with open_database(request.param, workdir) as database:
        url = ["--database-url", database.url]
        result = runner.invoke(app, ["import", str(folder), *url])
        assert result.exit_code == 0, result.output

        def cli(*args: str) -> None:
            outcome = runner.invoke(app, [*args, *url])
            assert outcome.exit_code == 0, outcome.output

        def record(resident: str, programme: str, day: str, team: str, *extra: str) -> None:
            cli(
                "record", "--resident", resident, "--programme", programme, "--date", day,
                "--clinician", f"{team}-D", *extra,
            )  # fmt: skip

        record("R1", "health_check", "2026-04-10", "T1")  # the programme's six tests
        record("R1", "chronic_followup", "2026-05-10", "T1", "--bp", "150/90")
        record("R1", "chronic_followup", "2026-06-10", "T1", "--outcome", "not_home")
        record("R1", "special_service", "2026-06-01", "T1")
        record("R1", "medicine_delivery", "2026-06-25", "T1")  # at committee K1
        record("R2", "chronic_followup", "2026-05-12", "T1", "--glucose", "7.2")
        record(
            "R2", "health_check", "2026-05-20", "T1", "--tests", "blood_routine;ecg;b_ultrasound"
        )
        record("R2", "followup_80", "2026-06-02", "T1", "--place", "committee")
        record("R3", "chronic_followup", "2026-04-20", "T2", "--bp", "140/85", "--glucose", "8")
        record("R3", "special_service", "2026-03-15", "T2")  # before the quarter
        record("R4", "health_check", "2026-05-06", "T2")
        record("R5", "health_check", "2026-04-15", "T3")
        record("R6", "health_check", "2026-04-16", "T3")  # aged 55: in no table
        record("R7", "centenarian_round", "2026-06-08", "T3")
        record("R7", "centenarian_round", "2026-06-22", "T3")
        cli("sickbed", "open", "--resident", "R5", "--date", "2026-04-01")
        cli("sickbed", "discharge", "--resident", "R5", "--date", "2026-06-15")
        cli("sickbed", "open", "--resident", "R7", "--date", "2026-01-05")
        cli("sickbed", "discharge", "--resident", "R7", "--date", "2026-05-30")
        cli("sickbed", "open", "--resident", "R7", "--date", "2026-06-05")
        quotas = workdir / "quotas.csv"
        quotas.write_text(
            "行政区,老年人家医签约,入户医疗护理服务\n甲区,100,20\n乙区,200,30\n合  计,300,50\n",
            encoding="utf-8",
        )
        cli("report", "quotas", str(quotas), "--year", "2026")

        settings = settings_for(database.url)
        with Session(database.engine) as session:
            add_user(session, "admin", "a-long-test-password", UserRole.ADMIN)
            add_user(session, "lead2", "a-long-test-password", UserRole.TEAM_LEADER, team_id="T2")
            add_user(session, "planner", "a-long-test-password", UserRole.PLANNER)
            session.commit()
        api = create_app(settings, start_jobs=False)
        with TestClient(api) as client:
            tokens = {
                name: make_token(name, settings.secret_key, 60)
                for name in ("admin", "lead2", "planner")
            }
            auth = {"Authorization": f"Bearer {tokens['lead2']}"}
            for body in (
                {"resident_id": "R3", "programme": "chronic_followup", "date": "2026-06-20",
                 "systolic_mmhg": 138, "diastolic_mmhg": 82, "glucose_mmol_l": 7.5,
                 "clinician_ids": ["T2-N"]},
                {"resident_id": "R3", "programme": "health_check", "date": "2026-05-05",
                 "tests": ["blood_routine"], "clinician_ids": ["T2-D", "T2-N"]},
            ):  # fmt: skip
                answer = client.post("/records", json=body, headers=auth)
                assert answer.status_code == 201, answer.text
            yield database, client, tokens


def _report(database: Database, kind: str, tmp_path: Path, *args: str) -> list[list[str]]:
    out = tmp_path / f"{kind}.csv"
    result = runner.invoke(
        app, ["report", kind, *PERIOD, *args, "--out", str(out), "--database-url", database.url]
    )
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))


def _body(rows: list[list[str]], headers: int) -> dict[str, list[int]]:
    """Unit label -> its counts (the title, the header rows and the notes left out)."""
    body = rows[1 + headers :]
    return {r[1]: [int(v) for v in r[2:]] for r in body if len(r) > 2}


def test_annex3_counts_each_recorded_visit(
    recorded: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """Annex 3 by team: home visits of the disabled 60+ only (the committee follow-up, the
    missed one, the 55-year-old and the non-disabled left out), discharges counted, the
    total the sum of columns 3-8, the total row the sum of the teams; headers the seed's."""
    rows = _report(recorded[0], "annex3", tmp_path, "--by", "team")
    assert rows[0] == [h.ANNEX3_TITLE]
    assert tuple(rows[2][4:7]) == h.ANNEX3_COLUMNS[4:7]
    assert tuple(rows[3]) == h.ANNEX3_NUMBERS
    assert rows[1][:4] == list(h.ANNEX3_COLUMNS[:4])
    #          people, check, HT, DM, both, discharges, special, total
    assert _body(rows, 3) == {
        "T1": [2, 2, 1, 1, 0, 0, 1, 5],
        "T2": [1, 1, 0, 0, 2, 0, 0, 3],
        "T3": [2, 1, 0, 0, 0, 2, 0, 3],
        h.ANNEX1_TOTAL: [5, 4, 1, 1, 2, 2, 1, 11],
    }


def test_districts_add_up_to_the_city(
    recorded: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """By district the two districts add up to the same city total as the teams; by centre
    the centres are named with their ids."""
    by_district = _body(_report(recorded[0], "annex3", tmp_path, "--by", "district"), 3)
    assert by_district == {
        "甲区": [2, 2, 1, 1, 0, 0, 1, 5],
        "乙区": [3, 2, 0, 0, 2, 2, 0, 6],
        h.ANNEX1_TOTAL: [5, 4, 1, 1, 2, 2, 1, 11],
    }
    by_centre = _body(_report(recorded[0], "annex3", tmp_path, "--by", "centre"), 3)
    assert set(by_centre) == {"中心一 C1", "中心二 C2", "中心三 C3", h.ANNEX1_TOTAL}
    assert by_centre[h.ANNEX1_TOTAL] == by_district[h.ANNEX1_TOTAL]


def test_annex2_counts_signed_elders_and_each_test(
    recorded: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """Annex 2: signed 60+ on the period's end (R3 signed after it, R5 not signed, R6 too
    young), their health checks and each test: the default six, or the ones recorded."""
    rows = _report(recorded[0], "annex2", tmp_path, "--by", "team")
    assert tuple(rows[1]) == h.ANNEX2_COLUMNS
    #                signed, checks, blood, urine, liver, kidney, lipids, ECG, B-ultrasound
    assert _body(rows, 1) == {
        "T1": [2, 2, 2, 1, 1, 1, 1, 2, 1],
        "T2": [1, 1, 1, 1, 1, 1, 1, 1, 0],
        "T3": [1, 0, 0, 0, 0, 0, 0, 0, 0],
        h.ANNEX1_TOTAL: [4, 3, 3, 2, 2, 2, 2, 3, 1],
    }


def test_annex1_progress_against_the_quotas(
    recorded: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """Annex 1 by district: the year to 30 June (181 of 365 days) against the loaded quotas;
    the March special service counts for the year; no plan, so the forecast is what is done."""
    rows = _report(recorded[0], "annex1", tmp_path, "--by", "district")
    assert rows[1][:2] == [h.ANNEX1_COLUMNS[0], h.ANNEX1_COLUMNS[1]]
    assert rows[1][6] == h.ANNEX1_COLUMNS[2]
    assert tuple(rows[2][1:6]) == h.ANNEX1_PROGRESS
    body = {r[0]: [int(v) for v in r[1:]] for r in rows[3:] if len(r) == 11}
    #   signed: quota, done, expected, shortfall, forecast; visits: the same
    assert body == {
        "甲区": [100, 2, 50, 48, 2, 20, 5, 10, 5, 5],
        "乙区": [200, 2, 99, 97, 2, 30, 7, 15, 8, 7],
        h.ANNEX1_TOTAL: [300, 4, 149, 145, 4, 50, 12, 25, 13, 12],
    }


def test_coverage_of_the_789_programme(
    recorded: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """On 30 June: R2's follow-up this quarter; R7 (102) on a sick-bed the quarter through
    but 31 May ~ 4 June had his two rounds in June only, none in April and May: counted, his
    rounds not kept; K1's delivery within 14 days; the overdue list names residents masked, per
    team."""
    out = tmp_path / "coverage.xlsx"
    result = runner.invoke(
        app,
        ["report", "coverage", *PERIOD, "--by", "team", "--out", str(out),
         "--database-url", recorded[0].url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    sheet = book["coverage"]
    rows = [tuple(r) for r in sheet.iter_rows(min_row=3, values_only=True)]
    table = {r[0]: r[1:] for r in rows if r[0] in ("T1", "T2", "T3", h.ANNEX1_TOTAL)}
    assert table["T1"][:6] == (1, 1, "100.0%", 0, 0, 1)
    assert table["T1"][6] == 1  # K1 had the delivery
    assert table["T3"][:5] == (1, 0, "0.0%", 1, 0)
    overdue = [r for r in book["overdue"].iter_rows(min_row=3, values_only=True)]
    named = [r[1] for r in overdue[:-1]]
    assert all("*" in str(n) for n in named)  # masked names
    teams = [r[0] for r in overdue[:-1]]
    assert teams == sorted(teams)
    assert "图表 charts" in book.sheetnames
    assert book["图表 charts"]._images  # the overdue map as PNG


def test_api_gives_the_same_table_and_keeps_a_team_leader_to_his_team(
    recorded: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """The API's CSV equals the CLI's; a team leader gets only his team (and the total is his
    team); another centre is a 404; a planner reads every centre."""
    database, client, tokens = recorded
    query = "from=2026-04-01&to=2026-06-30&by=team&format=csv"

    def get(user: str, path: str) -> tuple[int, bytes]:
        answer = client.get(path, headers={"Authorization": f"Bearer {tokens[user]}"})
        return answer.status_code, answer.content

    code, body = get("planner", f"/reports/tables/annex3?{query}")
    assert code == 200
    cli = tmp_path / "annex3.csv"
    runner.invoke(
        app,
        ["report", "annex3", *PERIOD, "--by", "team", "--out", str(cli),
         "--database-url", database.url],
    )  # fmt: skip
    assert body == cli.read_bytes()
    code, body = get("lead2", f"/reports/tables/annex3?{query}")
    assert code == 200
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert _body(rows, 3) == {
        "T2": [1, 1, 0, 0, 2, 0, 0, 3],
        h.ANNEX1_TOTAL: [1, 1, 0, 0, 2, 0, 0, 3],
    }
    assert get("lead2", f"/reports/tables/annex3?{query}&centre_id=C1")[0] == 404
    code, page = get("planner", "/reports/page?from=2026-04-01&to=2026-06-30&by=district")
    assert code == 200
    text = page.decode()
    assert "data:image/png;base64," in text and "<script" not in text
    assert "王" not in text  # a planner sees pseudonyms, never a name


def test_a_table_that_does_not_add_up_is_never_written() -> None:
    """A total that is not the sum of its parts, or a total row that is not the sum of the
    units, is refused by every writer (CSV, XLSX)."""
    good = ("1", "T1", 1, 1, 0, 0, 0, 0, 0, 1)
    broken_total = Table(
        name="annex3",
        title="t",
        header_rows=(h.ANNEX3_COLUMNS,),
        rows=(("1", "T1", 1, 1, 0, 0, 0, 0, 0, 2), ("", "合  计", 1, 1, 0, 0, 0, 0, 0, 2)),
        sum_columns=tuple(range(2, 10)),
        row_totals={9: (3, 4, 5, 6, 7, 8)},
    )
    broken_units = Table(
        name="annex3",
        title="t",
        header_rows=(h.ANNEX3_COLUMNS,),
        rows=(good, ("", "合  计", 2, 2, 0, 0, 0, 0, 0, 2)),
        sum_columns=tuple(range(2, 10)),
        row_totals={9: (3, 4, 5, 6, 7, 8)},
    )
    for table in (broken_total, broken_units):
        with pytest.raises(SumMismatchError, match="does not add up"):
            table_csv(table)
        with pytest.raises(SumMismatchError):
            tables_xlsx([table])


def test_exports_neutralise_formulas() -> None:
    """A text cell starting with = + - @ gets a leading ' (numbers stay numbers)."""
    assert neutralise('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [neutralise(v) for v in ("+1", "-2", "@SUM(A1)", "T1", -3)] == [
        "'+1", "'-2", "'@SUM(A1)", "T1", -3,
    ]  # fmt: skip
    table = Table(
        name="annex2",
        title="t",
        header_rows=(("序号", "区/机构", "n"),),
        rows=(("1", "=cmd|' /C calc'!A0", 1), ("", "合  计", 1)),
        sum_columns=(2,),
    )
    assert "'=cmd" in table_csv(table).decode("utf-8-sig")


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "maps" / "artifacts"  # with the other pages'


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_report_page_in_a_browser(
    recorded: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    """The HTML report opens with nothing fetched from anywhere (the charts are inside the page),
    no console error, every chart decoded, and on a phone (360 px) only the tables scroll
    sideways, never the page. Screenshots at 360x740 and 1280x800 go to ``artifacts/``."""
    from tests.maps.test_map_browser import QUIET_FLAGS, watch

    sync_api = pytest.importorskip("playwright.sync_api")
    page_file = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["report", "all", *PERIOD, "--by", "district", "--out", str(page_file),
         "--database-url", recorded[0].url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            for width, height in ((360, 740), (1280, 800)):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                watch(page, requests, errors)
                page.goto(page_file.as_uri(), wait_until="load")
                decoded = page.evaluate(
                    "[...document.images].map(i => i.complete && i.naturalWidth > 0)"
                )
                assert decoded == [True, True, True]
                assert page.locator("table").count() == 5
                doc_width = page.evaluate("document.documentElement.scrollWidth")
                assert doc_width <= width, "the report page scrolls sideways"
                page.screenshot(path=str(ARTIFACTS / f"report-{width}x{height}.png"))
                context.close()
        finally:
            browser.close()
    assert errors == []
    assert [r for r in requests if not r.startswith(("file://", "data:"))] == []


def test_api_opens_and_discharges_sickbeds_for_a_leaders_team(
    recorded: tuple[Database, TestClient, dict[str, str]],
) -> None:
    """A team leader opens (建床) and discharges (撤床) a sick-bed of his team's resident; a
    second opening is refused with the reason; another team's resident is a 404."""
    _database, client, tokens = recorded
    auth = {"Authorization": f"Bearer {tokens['lead2']}"}
    opened = client.post(
        "/records/sickbeds/open", json={"resident_id": "R4", "date": "2026-07-01"}, headers=auth
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["discharged"] is None
    again = client.post(
        "/records/sickbeds/open", json={"resident_id": "R4", "date": "2026-07-02"}, headers=auth
    )
    assert again.status_code == 422 and "discharge it first" in again.text
    closed = client.post(
        "/records/sickbeds/discharge",
        json={"resident_id": "R4", "date": "2026-07-20"},
        headers=auth,
    )
    assert closed.status_code == 200 and closed.json()["discharged"] == "2026-07-20"
    other = client.post(
        "/records/sickbeds/open", json={"resident_id": "R1", "date": "2026-07-01"}, headers=auth
    )
    assert other.status_code == 404
    # each change stored is audited (who, which resident, which episode); refused ones are not
    app: Any = client.app
    app.state.audit.flush()  # written in batches
    with app.state.sessions() as session:
        audited = session.scalars(
            select(AuditRow)
            .where(AuditRow.action.like("record sickbed %"))
            .order_by(AuditRow.audit_id)
        ).all()
    episode = f"episode {opened.json()['episode_id']}"
    assert [(a.username, a.action, a.resident_ids, a.detail) for a in audited] == [
        ("lead2", "record sickbed open", "R4", episode),
        ("lead2", "record sickbed discharge", "R4", episode),
    ]


def test_the_overdue_map_shows_cells_not_homes() -> None:
    """The overdue picture reaches planners: two homes 300 m apart are one dot of two in a cell
    of about 1 km, never a point at either home."""

    def resident(rid: str, lat: float, lon: float) -> OverdueResident:
        return OverdueResident(
            "u", "T1", rid, "n", "followup_80", None, dt.date(2026, 12, 1), lat, lon
        )

    cells = overdue_cells([resident("R1", 31.1012, 121.4013), resident("R2", 31.1038, 121.4031)])
    assert cells == {(121.40, 31.10): 2}
