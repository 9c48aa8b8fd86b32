"""The fast reports (counted by the database) give the figures of the slow and obvious computation
(:mod:`tests.service.reports.reference`), and count people by the flags they had on the visit's
day, not by today's register."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from service.cli import app
from service.db.importer import import_dataset
from service.db.tables import (
    CentreRow,
    ClinicianRow,
    PlanRow,
    PlanStopRow,
    ResidentRow,
    VisitRecordRow,
)
from service.reports.build import ReportKind, make_report
from service.reports.compute import Level, Scope, rounds_due
from tests.service.db.conftest import BACKENDS, Database, open_database
from tests.service.reports.reference import Figures, reference_figures
from tests.service.reports.test_report_tables import (
    CENTRES,
    CLINICIANS,
    COMMITTEES,
    RESIDENT_COLUMNS,
)

SAMPLE = Path(__file__).resolve().parents[3] / "scenarios" / "data" / "minhang-centre"
runner = CliRunner()


def fast_figures(session: Session, scope: Scope) -> tuple[Figures, list[tuple[object, ...]]]:
    """The figures of the report as made (every table), in the reference's layout."""
    units = {c.centre_id for c in session.scalars(select(CentreRow))}
    units |= {c.team_id for c in session.scalars(select(ClinicianRow))}
    units |= {c.district or "未填区 (no district)" for c in session.scalars(select(CentreRow))}
    report = make_report(
        session,
        ReportKind.ALL,
        scope,
        lambda resident_id, _name: resident_id,
        quotas=dict.fromkeys(units, (100, 100)),
        with_charts=False,
    )
    assert report.problems == []
    tables = {t.name: t.rows[:-1] for t in report.tables}  # the total row is checked apart
    figures: Figures = {
        "annex3": {str(r[1]): list(r[2:]) for r in tables["annex3"]},
        "annex2": {str(r[1]): list(r[2:]) for r in tables["annex2"]},
        "annex1": {str(r[0]): [r[2], r[7], r[10]] for r in tables["annex1"]},
        "coverage": {str(r[0]): [r[i] for i in (1, 2, 4, 5, 6, 7, 8)] for r in tables["coverage"]},
    }
    overdue = sorted(
        (o.team_id, o.resident_id, o.programme, o.last_done, o.due_by) for o in report.overdue
    )
    return figures, overdue


@pytest.fixture(scope="module", params=BACKENDS)
def sample(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The sample centre (2,514 residents, a year of history, sick-beds) in a new database, with
    two versions of a plan of the week after the history (the latest counts for Annex 1)."""
    with open_database(request.param, tmp_path_factory.mktemp("sample")) as database:
        import_dataset(database.engine, SAMPLE)
        with Session(database.engine) as session, session.begin():
            _store_plans(session)
        yield database


def _store_plans(session: Session) -> None:
    """A draft (version 1) and an approved (version 2) plan of 2026-11-30 for MH03: version 2
    has Annex 3 visits of residents disabled or not, one visit with two clinicians (two stops),
    and a follow-up of a resident with neither hypertension nor diabetes."""
    people = list(session.scalars(select(ResidentRow).order_by(ResidentRow.resident_id)))
    disabled = [r for r in people if r.disability in ("semi", "full")]
    hypertensive = [r for r in disabled if r.hypertension]
    neither = [r for r in disabled if not (r.hypertension or r.diabetes)]
    able = [r for r in people if r.disability == "none"]
    now = dt.datetime(2026, 11, 29, 18, tzinfo=dt.UTC)
    week = dt.date(2026, 11, 30)
    stops = {
        1: [(disabled[0], "health_check", 0)],
        2: [
            (disabled[1], "health_check", 0),
            (disabled[1], "health_check", 0),  # the same visit: a second clinician
            (hypertensive[0], "chronic_followup", 1),
            (neither[0], "chronic_followup", 1) if neither else (able[0], "health_check", 1),
            (able[1], "health_check", 2),
            (disabled[2], "special_service", 3),
            (disabled[3], "followup_80", 3),  # not an Annex 3 visit
        ],
    }
    for version, status in ((1, "draft"), (2, "approved")):
        plan = PlanRow(
            centre_id="MH03", week_start=week, version=version, status=status,
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(plan)
        session.flush()
        for sequence, (resident, programme, day) in enumerate(stops[version]):
            session.add(
                PlanStopRow(
                    plan_id=plan.plan_id,
                    visit_id=f"{programme}-{resident.resident_id}",
                    resident_id=resident.resident_id,
                    programme=programme,
                    clinician_id=f"C{sequence}",
                    visit_date=week + dt.timedelta(days=day),
                    sequence=sequence,
                    arrival_min=480,
                    start_min=480,
                    end_min=500,
                    travel_min=5,
                    travel_km=1.0,
                )
            )


SCOPES = [
    Scope(dt.date(2026, 1, 1), dt.date(2026, 11, 29), Level.TEAM),
    Scope(dt.date(2026, 1, 1), dt.date(2026, 11, 29), Level.DISTRICT),
    Scope(dt.date(2026, 7, 1), dt.date(2026, 9, 30), Level.CENTRE),
    Scope(dt.date(2026, 10, 14), dt.date(2026, 11, 18), Level.TEAM),  # ends on a Wednesday
    Scope(dt.date(2026, 3, 1), dt.date(2026, 4, 12), Level.TEAM, ("MH03",)),
]


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: f"{s.by.value}-{s.start}-{s.end}")
def test_the_fast_report_gives_the_obvious_figures(sample: Database, scope: Scope) -> None:
    """Every count of every table, per unit, and the overdue list, as the slow computation
    (rows read into Python, the planner's whole due list) gives them."""
    with Session(sample.engine) as session:
        fast, fast_overdue = fast_figures(session, scope)
        slow, slow_overdue = reference_figures(session, scope)
    assert fast == slow
    assert fast_overdue == slow_overdue
    assert sum(row[7] for row in fast["annex3"].values()) > 0  # the sample has home visits
    if scope.end == dt.date(2026, 11, 29) and not scope.team_id:  # the stored plan counts
        done, forecast = (sum(int(r[i]) for r in fast["annex1"].values()) for i in (1, 2))  # type: ignore[call-overload]
        assert forecast == done + 3  # disabled[1]'s check once, the follow-up, the service
    # overdue on the report's day: none visited since the week began
    week_start = scope.end - dt.timedelta(days=scope.end.weekday())
    assert all(o[3] is None or o[3] < week_start for o in fast_overdue)  # type: ignore[operator]


def test_a_team_leaders_scope_gives_the_obvious_figures(sample: Database) -> None:
    """A team leader's report (his team only) as the slow computation gives it."""
    with Session(sample.engine) as session:
        team = session.scalars(select(ClinicianRow.team_id).order_by(ClinicianRow.team_id)).first()
        assert team is not None
        scope = Scope(dt.date(2026, 1, 1), dt.date(2026, 11, 29), Level.TEAM, ("MH03",), team)
        fast, fast_overdue = fast_figures(session, scope)
        slow, slow_overdue = reference_figures(session, scope)
    assert list(fast["annex3"]) == [team]
    assert (fast, fast_overdue) == (slow, slow_overdue)


def _residents(r1_flags: str, r2_disability: str) -> str:
    """The registers' residents: R1's disability and hypertension, R2's disability as given."""
    return (
        RESIDENT_COLUMNS
        + f"""
R1,王秀英,1950-01-01,31.102,121.402,K1,T1,,{r1_flags},false,false,true,,true,2020-03-01
R2,李建国,1945-02-01,31.103,121.403,K1,T1,,{r2_disability},false,true,false,false,,true,
"""
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_annex3_counts_people_as_they_were_on_the_visits_day(backend: str, tmp_path: Path) -> None:
    """R1, disabled and hypertensive when his follow-up of May is recorded, is no longer either
    in the register of June, nor is R2, semi-disabled when his sick-bed was discharged in May:
    the second-quarter report still counts the May follow-up (as hypertension only) and the
    discharge, both served; a follow-up recorded after the change is not counted."""
    folder = tmp_path / "dataset"
    folder.mkdir()
    for name, body in (("centres", CENTRES), ("committees", COMMITTEES)):
        (folder / f"{name}.csv").write_text(body, encoding="utf-8")
    (folder / "clinicians.csv").write_text(CLINICIANS, encoding="utf-8")
    (folder / "residents.csv").write_text(_residents("full,true", "semi"), encoding="utf-8")
    with open_database(backend, tmp_path) as database:
        url = ["--database-url", database.url]

        def cli(*args: str) -> None:
            outcome = runner.invoke(app, [*args, *url])
            assert outcome.exit_code == 0, outcome.output

        cli("import", str(folder))
        cli(
            "record", "--resident", "R1", "--programme", "chronic_followup", "--date",
            "2026-05-10", "--clinician", "T1-D", "--bp", "150/90",
        )  # fmt: skip
        cli("sickbed", "open", "--resident", "R2", "--date", "2026-05-01")
        cli("sickbed", "discharge", "--resident", "R2", "--date", "2026-05-20")
        (folder / "residents.csv").write_text(_residents("none,false", "none"), encoding="utf-8")
        cli("import", str(folder))  # the register of June: neither is disabled any more
        cli(
            "record", "--resident", "R1", "--programme", "chronic_followup", "--date",
            "2026-06-10", "--clinician", "T1-D", "--glucose", "7.1",
        )  # fmt: skip
        out = tmp_path / "annex3.csv"
        cli(
            "report", "annex3", "--from", "2026-04-01", "--to", "2026-06-30", "--by", "team",
            "--out", str(out),
        )  # fmt: skip
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        with Session(database.engine) as session:
            scope = Scope(dt.date(2026, 4, 1), dt.date(2026, 6, 30), Level.TEAM)
            slow, _ = reference_figures(session, scope)
    body = {r[1]: [int(v) for v in r[2:]] for r in rows[4:] if len(r) > 2}
    #                people, check, HT, DM, both, discharges, special, total
    assert body["T1"] == [2, 0, 1, 0, 0, 1, 0, 2]
    assert slow["annex3"]["T1"] == body["T1"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_centenarian_coverage_counts_the_days_on_the_bed(backend: str, tmp_path: Path) -> None:
    """Over the first half of 2026: R1 (106) was on a sick-bed until his discharge on 10 March
    and is not on one now, R2 turned 100 on 20 April on a bed open since January. Both count
    (today's register would drop R1). R1 had his rounds in January and February but his March
    round came after the discharge: 10 days on the bed in March still owe one, so he did not get
    his rounds. R2 owes nothing before his birthday (his March round at 99 is not one), one in
    his 11 days of April and two in May and June, and had them all."""
    folder = tmp_path / "dataset"
    folder.mkdir()
    for name, body in (("centres", CENTRES), ("committees", COMMITTEES)):
        (folder / f"{name}.csv").write_text(body, encoding="utf-8")
    (folder / "clinicians.csv").write_text(CLINICIANS, encoding="utf-8")
    (folder / "residents.csv").write_text(
        RESIDENT_COLUMNS
        + "\nR1,王百岁,1920-01-01,31.102,121.402,K1,T1,,full,false,false,false,true,,true,\n"
        + "R2,李百岁,1926-04-20,31.202,121.502,K2,T2,,full,false,false,false,true,,true,\n",
        encoding="utf-8",
    )
    with open_database(backend, tmp_path) as database:
        url = ["--database-url", database.url]

        def cli(*args: str) -> None:
            outcome = runner.invoke(app, [*args, *url])
            assert outcome.exit_code == 0, outcome.output

        cli("import", str(folder))
        cli("sickbed", "open", "--resident", "R1", "--date", "2025-12-01")
        cli("sickbed", "discharge", "--resident", "R1", "--date", "2026-03-10")
        cli("sickbed", "open", "--resident", "R2", "--date", "2026-01-10")
        rounds = {
            "R1": ("01-05", "01-19", "02-02", "02-16", "03-20"),
            "R2": ("03-02", "04-25", "05-06", "05-20", "06-03", "06-17"),
        }
        for resident, days in rounds.items():
            for day in days:
                cli(
                    "record", "--resident", resident, "--programme", "centenarian_round",
                    "--date", f"2026-{day}", "--clinician", f"T{resident[1]}-D",
                )  # fmt: skip
        with Session(database.engine) as session:
            scope = Scope(dt.date(2026, 1, 1), dt.date(2026, 6, 30), Level.TEAM)
            fast, _ = fast_figures(session, scope)
            slow, _ = reference_figures(session, scope)
    #           on a sick-bed as centenarians, their rounds kept
    assert {team: row[2:4] for team, row in fast["coverage"].items()} == {
        "T1": [1, 0],
        "T2": [1, 1],
    }
    assert fast["coverage"] == slow["coverage"]


def test_rounds_due_are_two_a_month_pro_rata() -> None:
    """Twice a month on the bed all month, once from a quarter of it, none for less."""
    assert [rounds_due(days, 30) for days in (30, 23, 22, 8, 7, 0)] == [2, 2, 1, 1, 0, 0]
    assert rounds_due(7, 28) == 1  # exactly half a round rounds up


@pytest.mark.parametrize("backend", BACKENDS)
def test_history_with_the_flags_of_the_day_imports_past_visits_as_they_were(
    backend: str, tmp_path: Path
) -> None:
    """R1 is neither disabled nor hypertensive in today's register, R2 not disabled. A
    history.csv without the flag columns (every file before them) stores R1's May follow-up
    with today's flags, as it always did, a sickbeds.csv without ``disability`` R2's May
    discharge with today's, and Annex 3 counts neither; the same lines giving 失能等级 全失能 and
    高血压 是, and 半失能 for the discharge, store those, Annex 3 counts a hypertension follow-up
    and a discharge, and the export writes them back."""
    bodies = {
        "older": "resident_id,programme,date\nR1,chronic_followup,2026-05-10\n",
        "flags": (
            "居民编号,服务项目,日期,失能等级,高血压,糖尿病\n"
            "R1,chronic_followup,2026-05-10,全失能,是,\n"
        ),
    }
    sickbeds = {
        "older": "resident_id,opened,discharged\nR2,2026-05-01,2026-05-20\n",
        "flags": "居民编号,建床日期,撤床日期,失能等级\nR2,2026-05-01,2026-05-20,半失能\n",
    }
    found = {}
    for name, history in bodies.items():
        folder = tmp_path / name / "dataset"
        folder.mkdir(parents=True)
        for stem, body in (("centres", CENTRES), ("committees", COMMITTEES)):
            (folder / f"{stem}.csv").write_text(body, encoding="utf-8")
        (folder / "clinicians.csv").write_text(CLINICIANS, encoding="utf-8")
        (folder / "residents.csv").write_text(_residents("none,false", "none"), encoding="utf-8")
        (folder / "history.csv").write_text(history, encoding="utf-8")
        (folder / "sickbeds.csv").write_text(sickbeds[name], encoding="utf-8")
        with open_database(backend, tmp_path / name) as database:
            url = ["--database-url", database.url]
            for args in (["import", str(folder)], ["export", str(tmp_path / name / "out")]):
                outcome = runner.invoke(app, [*args, *url])
                assert outcome.exit_code == 0, outcome.output
            with Session(database.engine) as session:
                stored = session.execute(
                    select(
                        VisitRecordRow.disability,
                        VisitRecordRow.hypertension,
                        VisitRecordRow.diabetes,
                    )
                ).one()
                scope = Scope(dt.date(2026, 4, 1), dt.date(2026, 6, 30), Level.TEAM)
                fast, _ = fast_figures(session, scope)
        out = tmp_path / name / "out"
        exported = [
            (out / f"{stem}.csv").read_text(encoding="utf-8-sig").splitlines()[1]
            for stem in ("history", "sickbeds")
        ]
        found[name] = (tuple(stored), fast["annex3"]["T1"], *exported)
    #                             people, check, HT, DM, both, discharges, special, total
    assert found["older"] == (
        ("none", False, False),
        [0, 0, 0, 0, 0, 0, 0, 0],
        "R1,chronic_followup,2026-05-10,completed,,home,none,false,false",
        "R2,2026-05-01,2026-05-20,none",
    )
    assert found["flags"] == (
        ("full", True, False),  # diabetes empty in the file: the register's
        [2, 0, 1, 0, 0, 1, 0, 2],
        "R1,chronic_followup,2026-05-10,completed,,home,full,true,false",
        "R2,2026-05-01,2026-05-20,semi",
    )
