"""The registers page and the team leader's import (issue 13, item 5).

A team leader uploads his own team's register (a workbook with Chinese headers, or the CSV
files) from a page or the JSON API; a mistake comes back as a table (sheet, row, the header as he
wrote it, the value, what would be right, in Chinese and English); a row of another team is
refused row by row and nothing is written; nothing of another team ever changes. The admin keeps
the full import. The browser test is in test_registers_browser.py.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from scheduler.dataset import COLUMN_ALIASES_ZH, TABLE_ALIASES_ZH
from service.api.app import create_app
from service.api.deps import make_token
from service.db.importer import import_dataset
from service.db.tables import (
    CentreRow,
    ClinicianRow,
    CommitteeRow,
    ResidentRow,
    ServiceRequestRow,
    SickbedEpisodeRow,
    UserRole,
    VisitRecordRow,
)
from service.settings import Settings
from service.users import add_user
from tests.service.api.conftest import PASSWORD, csrf, settings_for, signed_in
from tests.service.db.conftest import BACKENDS, SAMPLE, open_database

USERS = {
    "admin": (UserRole.ADMIN, None, None),
    "lead1": (UserRole.TEAM_LEADER, "MH03-T1", None),
    "lead2": (UserRole.TEAM_LEADER, "MH03-T2", None),
    "planner": (UserRole.PLANNER, None, None),
    "nurse1": (UserRole.CLINICIAN, None, "MH03-T1-N"),
}
STEMS = ("centres", "committees", "clinicians", "residents", "history", "requests", "sickbeds")
ZH_SHEETS = {stem: zh for zh, stem in reversed(list(TABLE_ALIASES_ZH.items()))}
ZH_HEADERS: dict[str, str] = {}
for _zh, _column in COLUMN_ALIASES_ZH.items():
    ZH_HEADERS.setdefault(_column, _zh)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Registers:
    client: TestClient
    engine: Engine
    settings: Settings

    def signed_in(self, name: str) -> TestClient:
        """A browser of ``name``: the sign-in cookie, no redirects followed."""
        return signed_in(self, name)

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(name, self.settings.secret_key, 60)}"}


@pytest.fixture(scope="module", params=BACKENDS)
def registers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registers]:
    """The sample centre imported, a user per role (two team leaders)."""
    with open_database(request.param, tmp_path_factory.mktemp("registers")) as database:
        settings = settings_for(database.url)
        import_dataset(database.engine, SAMPLE, settings)
        with Session(database.engine) as session:
            for name, (role, team, clinician) in USERS.items():
                add_user(session, name, PASSWORD, role, team_id=team, clinician_id=clinician)
            session.commit()
        app = create_app(settings, start_jobs=False)
        with TestClient(app) as client:
            yield Registers(client, database.engine, settings)


def registers_of(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every register (what an import may change), sorted."""
    tables = (
        CentreRow,
        CommitteeRow,
        ClinicianRow,
        ResidentRow,
        ServiceRequestRow,
        VisitRecordRow,
        SickbedEpisodeRow,
    )
    with Session(engine) as session:
        return {
            t.__tablename__: sorted(
                (tuple(r) for r in session.execute(select(t.__table__)).all()), key=repr
            )
            for t in tables
        }


def other_teams(engine: Engine, team: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every team but ``team``: clinicians, residents and their requests, history and
    sick-bed episodes."""
    with Session(engine) as session:
        residents = session.scalars(
            select(ResidentRow.resident_id).where(ResidentRow.team_id != team)
        ).all()
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for table, column in (
            (ClinicianRow, ClinicianRow.team_id),
            (ResidentRow, ResidentRow.team_id),
        ):
            rows[table.__tablename__] = sorted(
                (tuple(r) for r in session.execute(select(table.__table__).where(column != team))),
                key=repr,
            )
        for table in (ServiceRequestRow, VisitRecordRow, SickbedEpisodeRow):
            c = table.__table__.c
            rows[table.__tablename__] = sorted(
                (
                    tuple(r)
                    for r in session.execute(
                        select(table.__table__).where(c.resident_id.in_(residents))
                    )
                ),
                key=repr,
            )
        return rows


def sample_tables() -> dict[str, pd.DataFrame]:
    return {
        stem: pd.read_csv(SAMPLE / f"{stem}.csv", dtype=str, keep_default_na=False)
        for stem in STEMS
    }


def team_register(team: str) -> dict[str, pd.DataFrame]:
    """The sample's register of ``team``: its centre, the committees, its clinicians, its
    residents and their history, requests and sick-bed episodes."""
    tables = sample_tables()
    residents = tables["residents"][tables["residents"].team_id == team]
    ids = set(residents.resident_id)
    out = dict(tables)
    out["clinicians"] = tables["clinicians"][tables["clinicians"].team_id == team]
    out["residents"] = residents
    for stem in ("history", "requests", "sickbeds"):
        out[stem] = tables[stem][tables[stem].resident_id.isin(ids)]
    return {stem: frame.reset_index(drop=True) for stem, frame in out.items()}


def workbook(tables: dict[str, pd.DataFrame], chinese: bool = True) -> bytes:
    """The tables as one .xlsx: with ``chinese``, Chinese sheet names and headers."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for stem, frame in tables.items():
        sheet = book.create_sheet(ZH_SHEETS[stem] if chinese else stem)
        sheet.append([ZH_HEADERS.get(c, c) if chinese else c for c in frame.columns])
        for values in frame.itertuples(index=False):
            sheet.append(list(values))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_files(tables: dict[str, pd.DataFrame]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("files", (f"{stem}.csv", frame.to_csv(index=False).encode(), "text/csv"))
        for stem, frame in tables.items()
    ]


def upload_page(
    client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]], token: str | None = None
) -> Any:
    """Post the registers form as a browser does (the token read from the page)."""
    if token is None:
        token = csrf(client.get("/registers").text)
    return client.post("/registers", data={"csrf_token": token}, files=files)


def problem_rows(page: str, table_class: str = "hv-problem-table") -> list[list[str]]:
    """The error table's (or another table's) cells, tags stripped, one list per row."""
    table = page.split(f'class="hv-table {table_class}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        rows.append(
            [html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c))).strip() for c in cells]
        )
    return rows


# --- the page ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["lead1", "admin"])
def test_the_registers_page_is_linked_from_the_team_leaders_and_the_admins_header(
    registers: Registers, user: str
) -> None:
    """The header links the page; the page has a multipart form with its CSRF token that says
    what the role may import (a team leader: his team's register)."""
    client = registers.signed_in(user)
    page = client.get("/registers")
    assert page.status_code == 200
    assert '<a href="/registers" aria-current="page">导入档案' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert csrf(page.text)
    assert ("本团队 <b>MH03-T1</b>" in page.text) == (user == "lead1")


@pytest.mark.parametrize("user", ["planner", "nurse1"])
def test_roles_that_import_nothing_cannot_open_the_page(registers: Registers, user: str) -> None:
    client = registers.signed_in(user)
    assert client.get("/registers").status_code == 403
    home = client.get("/overview" if user == "planner" else "/me/routes/2026-12-01")
    assert 'href="/registers"' not in home.text


def test_a_workbook_with_mistakes_and_chinese_headers_shows_them_in_a_table(
    registers: Registers,
) -> None:
    """A team leader's workbook, Chinese sheets and headers, with a bad birth date and a bad
    shift end: refused whole (422), each mistake on a row of the table with the sheet, the row,
    the header as written, the value and what is right in Chinese and English."""
    tables = team_register("MH03-T1")
    tables["residents"].loc[2, "birth_date"] = "1949-13-45"  # row 4 of the sheet
    tables["clinicians"].loc[0, "shift_end"] = "25:00"  # row 2
    before = registers_of(registers.engine)
    files = [("files", ("团队档案.xlsx", workbook(tables), XLSX))]
    answer = upload_page(registers.signed_in("lead1"), files)
    assert answer.status_code == 422
    assert "未导入任何数据" in answer.text and "nothing was imported" in answer.text
    rows = problem_rows(answer.text)
    assert len(rows) == 2
    by_column = {row[2]: row for row in rows}
    birth = by_column["出生日期"]
    assert birth[:4] == ["团队档案.xlsx, sheet 居民", "4", "出生日期", "1949-13-45"]
    shift = by_column["下班时间"]
    assert shift[:4] == ["团队档案.xlsx, sheet 医护人员", "2", "下班时间", "25:00"]
    assert birth[4] == (
        "日历上没有这一天：请按 YYYY-MM-DD 填写，例如 1941-03-15 "
        "no such day in the calendar; use YYYY-MM-DD, e.g. 1941-03-15"
    )
    assert "不在 00:00 到 24:00 之间" in shift[4]  # what is wrong, in Chinese then in English
    assert shift[4].endswith("time '25:00' is not between 00:00 and 24:00")
    assert registers_of(registers.engine) == before


def test_a_team_leader_imports_his_own_teams_register_and_no_other_team_changes(
    registers: Registers,
) -> None:
    """lead1's workbook with one resident's phone changed and one resident left out: that
    resident updated, the other marked inactive, every row of the other teams as it was."""
    tables = team_register("MH03-T1")
    changed = tables["residents"].loc[0, "resident_id"]
    tables["residents"].loc[0, "phone"] = "13900000000"
    gone = tables["residents"].loc[1, "resident_id"]
    tables["residents"] = tables["residents"].drop(index=1)
    for stem in ("history", "requests", "sickbeds"):
        tables[stem] = tables[stem][tables[stem].resident_id != gone]
    others = other_teams(registers.engine, "MH03-T1")
    files = [("files", ("register.xlsx", workbook(tables), XLSX))]
    answer = upload_page(registers.signed_in("lead1"), files)
    assert answer.status_code == 200, answer.text
    assert "已导入" in answer.text
    summary = {row[0]: row[1:] for row in problem_rows(answer.text, "hv-summary")}
    residents = len(tables["residents"])
    assert summary["居民 residents"] == ["0", "1", str(residents - 1), "1"]
    assert summary["中心 centres"] == ["0", "0", "1", "0"]
    assert summary["医护人员 clinicians"] == ["0", "0", "4", "0"]
    with Session(registers.engine) as session:
        assert session.get(ResidentRow, changed).phone == "13900000000"  # type: ignore[union-attr]
        assert session.get(ResidentRow, gone).active is False  # type: ignore[union-attr]
        assert session.get(CentreRow, "MH03") is not None
    assert other_teams(registers.engine, "MH03-T1") == others


def test_rows_of_another_team_are_refused_one_by_one_and_nothing_is_written(
    registers: Registers,
) -> None:
    """lead1's workbook also holding a clinician and two residents of team 2: each of those
    rows is a problem naming the team (at the team column as written) and what is right;
    nothing at all is written."""
    tables = team_register("MH03-T1")
    team2 = team_register("MH03-T2")
    tables["clinicians"] = pd.concat([tables["clinicians"], team2["clinicians"].iloc[:1]])
    tables["residents"] = pd.concat([tables["residents"], team2["residents"].iloc[:2]])
    count, clinicians = len(tables["residents"]), len(tables["clinicians"])
    before = registers_of(registers.engine)
    files = [("files", ("register.xlsx", workbook(tables), XLSX))]
    answer = upload_page(registers.signed_in("lead1"), files)
    assert answer.status_code == 422
    rows = problem_rows(answer.text)
    assert [row[:4] for row in rows] == [
        ["register.xlsx, sheet 医护人员", str(clinicians + 1), "团队编号", "MH03-T2"],
        ["register.xlsx, sheet 居民", str(count), "团队编号", "MH03-T2"],
        ["register.xlsx, sheet 居民", str(count + 1), "团队编号", "MH03-T2"],
    ]
    assert "本团队“MH03-T1”" in rows[0][4]
    assert "you may import your own team 'MH03-T1' only" in rows[0][4]
    assert registers_of(registers.engine) == before


def test_a_resident_of_another_team_cannot_be_taken_over_by_his_id(registers: Registers) -> None:
    """A row of lead1's team that carries a team-2 resident's id would move that resident:
    refused at its id, nothing written."""
    tables = team_register("MH03-T1")
    stranger = team_register("MH03-T2")["residents"].loc[0, "resident_id"]
    own = tables["residents"].loc[0, "resident_id"]
    tables["residents"].loc[0, "resident_id"] = stranger
    for stem in ("history", "requests", "sickbeds"):
        tables[stem] = tables[stem][tables[stem].resident_id != own]
    before = registers_of(registers.engine)
    answer = upload_page(registers.signed_in("lead1"), csv_files(tables))
    assert answer.status_code == 422
    rows = problem_rows(answer.text)
    assert [row[:4] for row in rows] == [["residents.csv", "2", "resident_id", stranger]]
    assert "signed with another team" in rows[0][4]
    assert registers_of(registers.engine) == before


def test_the_form_without_its_csrf_token_is_refused_and_writes_nothing(
    registers: Registers,
) -> None:
    """A post with the cookie but no (or another session's) token: 403, nothing imported."""
    before = registers_of(registers.engine)
    client = registers.signed_in("lead1")
    files = [("files", ("register.xlsx", workbook(team_register("MH03-T1")), XLSX))]
    assert client.post("/registers", files=files).status_code == 403
    stolen = csrf(registers.signed_in("lead2").get("/registers").text)
    assert upload_page(client, files, token=stolen).status_code == 403
    assert registers_of(registers.engine) == before


def test_a_file_of_another_kind_is_named_on_the_page(registers: Registers) -> None:
    """A .docx: the page again (not JSON), saying what to upload."""
    files = [("files", ("register.docx", b"not a register", "application/octet-stream"))]
    answer = upload_page(registers.signed_in("lead1"), files)
    assert answer.status_code == 422
    assert "upload .csv files named as in docs/dataset-format.md, or one .xlsx" in answer.text
    assert "<form" in answer.text


# --- the JSON API: the same rule ------------------------------------------------------------


def test_the_json_import_lets_a_team_leader_import_his_team_only(registers: Registers) -> None:
    """POST /imports: lead2's own CSV files import; lead2 sending team 1's register is refused
    row by row (his role no longer gets 403), and team 1 is untouched."""
    own = registers.client.post(
        "/imports", files=csv_files(team_register("MH03-T2")), headers=registers.bearer("lead2")
    )
    assert own.status_code == 200, own.text
    assert any(line.startswith("residents: 0 added") for line in own.json()["lines"])
    team1 = other_teams(registers.engine, "MH03-T2")
    tables = team_register("MH03-T1")
    refused = registers.client.post(
        "/imports", files=csv_files(tables), headers=registers.bearer("lead2")
    )
    assert refused.status_code == 422
    problems = refused.json()["problems"]
    clinician_rows = [p for p in problems if p["file"] == "clinicians.csv"]
    assert len(clinician_rows) == len(tables["clinicians"])
    assert clinician_rows[0] == {
        "file": "clinicians.csv",
        "row": 2,
        "column": "team_id",
        "value": "MH03-T1",
        "message": "this row is of team 'MH03-T1': you may import your own team 'MH03-T2' "
        "only; take the row out (another team's register is its leader's or an admin's)",
        "message_zh": "这一行属于团队“MH03-T1”：您只能导入本团队“MH03-T2”的档案，请删去这一行"
        "（其他团队的档案由其团队长或管理员导入）",
        "code": "team.other_team",
    }
    assert other_teams(registers.engine, "MH03-T2") == team1


def test_a_team_leader_cannot_change_the_programme_rules(registers: Registers) -> None:
    """programmes.yaml holds for every team: a team leader's upload carrying it is refused."""
    files = csv_files(team_register("MH03-T1"))
    rules = b"followup_80:\n  duration_min: 40\n"
    files.append(("files", ("programmes.yaml", rules, "application/yaml")))
    answer = registers.client.post("/imports", files=files, headers=registers.bearer("lead1"))
    assert answer.status_code == 422, answer.text
    assert [p["file"] for p in answer.json()["problems"]] == ["programmes.yaml"]


# --- the team's register to download, edit and upload again -----------------------------------


def test_the_downloaded_team_register_uploads_again_unchanged(registers: Registers) -> None:
    """lead2 downloads his team's register (one workbook, Chinese sheets and headers, his team
    only) and uploads it as it is: every row unchanged, nothing added or marked inactive."""
    client = registers.signed_in("lead2")
    assert 'href="/registers/team.xlsx"' in client.get("/registers").text
    download = client.get("/registers/team.xlsx")
    assert download.status_code == 200
    assert download.headers["content-disposition"].endswith('filename="register-MH03-T2.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(download.content), read_only=True)
    assert book.sheetnames[:4] == ["中心", "居委", "医护人员", "居民"]
    residents = list(book["居民"].iter_rows(values_only=True))
    team_column = residents[0].index("团队编号")
    assert {row[team_column] for row in residents[1:]} == {"MH03-T2"}
    before = registers_of(registers.engine)
    files = [("files", ("register-MH03-T2.xlsx", download.content, XLSX))]
    answer = upload_page(client, files)
    assert answer.status_code == 200, answer.text
    summary = {row[0]: row[1:] for row in problem_rows(answer.text, "hv-summary")}
    count = len(residents) - 1
    assert summary["居民 residents"] == ["0", "0", str(count), "0"]
    assert summary["医护人员 clinicians"] == ["0", "0", "4", "0"]
    assert summary["服务记录 history"][0] == "0"
    assert registers_of(registers.engine) == before


def test_only_a_team_leader_downloads_a_team_register(registers: Registers) -> None:
    """An admin has no team (404, saying how he exports); a planner may not (403)."""
    assert registers.signed_in("admin").get("/registers/team.xlsx").status_code == 404
    assert registers.signed_in("planner").get("/registers/team.xlsx").status_code == 403


def test_a_visit_the_team_leader_adds_to_his_history_gets_his_residents_flags(
    registers: Registers,
) -> None:
    """A history row new to the database, imported by a team leader, is stored with the
    resident's flags (as an admin's import stores it), for the reports."""
    tables = team_register("MH03-T1")
    resident = tables["residents"].loc[3, "resident_id"]
    new = {c: "" for c in tables["history"].columns}
    new.update(resident_id=resident, programme="followup_80", date="2026-11-20")
    new["outcome"] = "completed"
    tables["history"] = pd.concat([tables["history"], pd.DataFrame([new])], ignore_index=True)
    answer = upload_page(registers.signed_in("lead1"), csv_files(tables))
    assert answer.status_code == 200, answer.text
    with Session(registers.engine) as session:
        record = session.scalars(
            select(VisitRecordRow).where(
                VisitRecordRow.resident_id == resident,
                VisitRecordRow.visit_date == dt.date(2026, 11, 20),
            )
        ).one()
        assert record.disability is not None
