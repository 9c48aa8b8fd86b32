"""Import and export of registers: update in place by id, all or nothing, lossless round trip."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from scheduler.dataset import COLUMN_ALIASES_ZH, DatasetError, read_dataset
from scheduler.model import Dataset, HistoryRecord, VisitLink
from scheduler.solve import build_problem
from service.cli import app
from service.db.exporter import export_dataset, load_dataset
from service.db.importer import DatabaseWriteError, import_dataset
from service.db.tables import ResidentRow, VisitRecordRow
from tests.service.db.conftest import (
    PAIR_COLUMNS,
    PAIR_WEEK,
    Database,
    paired_register,
    read_tables,
    small_tables,
    write_tables,
)

runner = CliRunner()


def _same_registers(a: Dataset, b: Dataset) -> None:
    assert dict(a.centres) == dict(b.centres)
    assert dict(a.committees) == dict(b.committees)
    assert dict(a.clinicians) == dict(b.clinicians)
    assert dict(a.residents) == dict(b.residents)
    assert sorted(_as_stored(a), key=repr) == sorted(_as_stored(b), key=repr)
    assert sorted(a.requests, key=repr) == sorted(b.requests, key=repr)
    assert dict(a.programme_overrides) == dict(b.programme_overrides)


def _as_stored(data: Dataset) -> list[HistoryRecord]:
    """The history as the database keeps it: a resident's flag the record does not give is the
    register's when it is stored (:func:`service.db.records.fill_flags`)."""
    out = []
    for h in data.history:
        person = data.residents[h.resident_id]
        out.append(
            replace(
                h,
                disability=person.disability if h.disability is None else h.disability,
                hypertension=person.hypertension if h.hypertension is None else h.hypertension,
                diabetes=person.diabetes if h.diabetes is None else h.diabetes,
            )
        )
    return out


def _resident(db: Database, resident_id: str) -> ResidentRow:
    with Session(db.engine) as session:
        row = session.get(ResidentRow, resident_id)
        assert row is not None
        return row


def test_import_stores_what_the_reader_reads(db: Database, small_dataset: Path) -> None:
    """After an import the database holds exactly the dataset that read_dataset gives."""
    summary = import_dataset(db.engine, small_dataset)
    assert summary.tables["residents"].added == 60
    with Session(db.engine) as session:
        stored = load_dataset(session)
    _same_registers(stored, read_dataset(small_dataset))


def test_reimporting_the_same_register_writes_nothing(db: Database, small_dataset: Path) -> None:
    """A second import of an unchanged register leaves the database byte-for-byte as it was."""
    import_dataset(db.engine, small_dataset)
    db.engine.dispose()
    before = db.snapshot()
    summary = import_dataset(db.engine, small_dataset)
    db.engine.dispose()
    assert summary.tables["residents"].unchanged == 60
    assert summary.history_added == 0
    assert db.snapshot() == before


def test_reimport_updates_in_place_and_marks_the_missing_inactive(
    db: Database, small_dataset: Path, tmp_path: Path
) -> None:
    """A moved resident gets the new address; one no longer listed is inactive, history kept."""
    import_dataset(db.engine, small_dataset)
    tables = read_tables(small_dataset)
    residents = tables["residents"]
    moved, gone = residents["resident_id"].iloc[0], residents["resident_id"].iloc[1]
    residents.loc[residents["resident_id"] == moved, ["address", "lat", "lon"]] = [
        "新地址路1号",
        "31.16",
        "121.41",
    ]
    tables["residents"] = residents[residents["resident_id"] != gone]
    for stem in ("history", "requests", "sickbeds"):
        tables[stem] = tables[stem][tables[stem]["resident_id"] != gone]
    summary = import_dataset(db.engine, write_tables(tables, tmp_path / "next"))

    assert summary.tables["residents"].updated == 1
    assert summary.tables["residents"].deactivated == 1
    row = _resident(db, moved)
    assert (row.address, row.lat, row.lon, row.active) == ("新地址路1号", 31.16, 121.41, True)
    assert _resident(db, gone).active is False
    with Session(db.engine) as session:
        kept = session.scalar(
            select(func.count())
            .select_from(VisitRecordRow)
            .where(VisitRecordRow.resident_id == gone)
        )
        assert kept and kept > 0  # the history of an inactive resident stays
        assert gone not in load_dataset(session).residents

    import_dataset(db.engine, small_dataset)  # back in the register
    assert _resident(db, gone).active is True


def test_a_clinician_who_left_drops_preferences_with_a_warning(
    db: Database, small_dataset: Path, tmp_path: Path
) -> None:
    """Removing a clinician residents preferred imports the rest, drops their preference and
    tells the user which residents; the log keeps the counts only."""
    tables = read_tables(small_dataset)
    residents = tables["residents"]
    preferred = residents["preferred_clinician_id"]
    gone = preferred[preferred != ""].value_counts().index[0]
    fans = sorted(residents.loc[preferred == gone, "resident_id"])
    tables["clinicians"] = tables["clinicians"][tables["clinicians"]["clinician_id"] != gone]
    summary = import_dataset(db.engine, write_tables(tables, tmp_path / "next"))
    (warning,) = summary.warnings
    assert f"preferred_clinician_id '{gone}' is not in clinicians.csv" in warning
    assert warning.endswith(", ".join(fans))
    assert summary.lines()[-1] == f"warning 注意: {warning}"
    assert all(_resident(db, r).preferred_clinician_id is None for r in fans)


def test_round_trip_import_export_import_is_identical(
    db: Database, small_dataset: Path, tmp_path: Path
) -> None:
    """import -> export -> import changes nothing, and the export reads as the original."""
    import_dataset(db.engine, small_dataset)
    db.engine.dispose()
    before = db.snapshot()
    export_dataset(db.engine, tmp_path / "out")
    _same_registers(read_dataset(tmp_path / "out"), read_dataset(small_dataset))
    summary = import_dataset(db.engine, tmp_path / "out")
    db.engine.dispose()
    assert all(changes.added == changes.updated == 0 for changes in summary.tables.values())
    assert db.snapshot() == before
    export_dataset(db.engine, tmp_path / "again")
    for path in sorted((tmp_path / "out").iterdir()):
        assert path.read_bytes() == (tmp_path / "again" / path.name).read_bytes(), path.name


def test_round_trip_keeps_converted_coordinates_and_overrides(
    db: Database, dataset_copy: Path, tmp_path: Path
) -> None:
    """GCJ-02 input is stored as WGS-84 and exported bit for bit; programmes.yaml survives."""
    tables = read_tables(dataset_copy)
    tables["residents"]["crs"] = "gcj02"
    write_tables(tables, dataset_copy)
    (dataset_copy / "programmes.yaml").write_text("followup_80:\n  duration_min: 40\n")
    import_dataset(db.engine, dataset_copy)
    export_dataset(db.engine, tmp_path / "out")
    _same_registers(read_dataset(tmp_path / "out"), read_dataset(dataset_copy))
    assert "duration_min: 40" in (tmp_path / "out" / "programmes.yaml").read_text()


def test_chinese_headers_import_the_same_registers(
    db: Database, small_dataset: Path, tmp_path: Path
) -> None:
    """A register with Chinese headers and file names imports like the English one."""
    english_to_zh: dict[str, str] = {}
    for zh, english in COLUMN_ALIASES_ZH.items():
        english_to_zh.setdefault(english, zh)
    names = {
        "centres": "中心",
        "clinicians": "医护人员",
        "residents": "居民",
        "history": "访视记录",
    }
    folder = tmp_path / "中文"
    folder.mkdir()
    for stem, frame in read_tables(small_dataset).items():
        renamed = frame.rename(columns=lambda c: english_to_zh.get(c, c))
        renamed.to_csv(folder / f"{names.get(stem, stem)}.csv", index=False, encoding="utf-8-sig")
    import_dataset(db.engine, folder)
    with Session(db.engine) as session:
        _same_registers(load_dataset(session), read_dataset(small_dataset))


def _kill_on_resident_insert(db: Database) -> None:
    """Make the connection die at the INSERT of residents, half-way through an import."""
    admin = create_engine(db.url.split("?")[0]) if db.backend == "postgresql" else None

    @event.listens_for(db.engine, "before_cursor_execute")
    def lose_connection(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("INSERT INTO resident"):
            return
        dbapi = conn.connection.dbapi_connection
        if admin is None:
            dbapi.close()  # SQLite: the connection is gone under the import
        else:
            with admin.begin() as c:
                c.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": dbapi.info.backend_pid}
                )
            admin.dispose()


def test_connection_lost_mid_import_leaves_nothing_half_written(
    db: Database, small_dataset: Path, tmp_path: Path
) -> None:
    """A connection lost after some tables were written rolls the whole import back."""
    import_dataset(db.engine, small_dataset)
    db.engine.dispose()
    before = db.snapshot()
    bigger = write_tables(small_tables(residents=120), tmp_path / "bigger")
    tables = read_tables(bigger)
    tables["centres"].loc[0, "name"] = "改名的中心"  # written before the residents
    write_tables(tables, bigger)
    _kill_on_resident_insert(db)
    with pytest.raises(DatabaseWriteError, match="nothing was written") as failure:
        import_dataset(db.engine, bigger)
    assert "resident" not in str(failure.value).lower()  # no SQL, no parameters, no names
    db.engine.dispose()
    assert db.snapshot() == before


def test_cli_import_and_export(db: Database, small_dataset: Path, tmp_path: Path) -> None:
    """`homevisit import` reports counts; `homevisit export` writes the dataset files."""
    result = runner.invoke(app, ["import", str(small_dataset), "--database-url", db.url])
    assert result.exit_code == 0, result.output
    assert "residents: 60 added" in result.output
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", str(out), "--database-url", db.url])
    assert result.exit_code == 0, result.output
    assert "residents.csv 60" in result.output
    assert len(pd.read_csv(out / "residents.csv")) == 60
    shutil.rmtree(out)
    result = runner.invoke(app, ["export", str(out), "--centre", "XX99", "--database-url", db.url])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out / "residents.csv")) == 0


def test_a_pair_of_requests_is_stored_and_planned_as_from_the_files(
    db: Database, tmp_path: Path
) -> None:
    """A pair imported into the database gives the plan job's problem the same link (and the
    same lateness) as `homevisit plan` builds from the files, with no warning about it."""
    folder = paired_register(tmp_path / "paired")
    summary = import_dataset(db.engine, folder)
    assert not [w for w in summary.warnings if "after_request_id" in w or "前序" in w]
    with Session(db.engine) as session:
        stored = load_dataset(session)
    second = next(q for q in stored.requests if q.request_id == "PAIR-2")
    assert (second.after_request_id, second.min_gap_min, second.max_gap_min) == (
        "PAIR-1",
        30,
        120,
    )
    from_files = build_problem(read_dataset(folder), PAIR_WEEK)
    from_db = build_problem(stored, PAIR_WEEK)
    assert (
        from_db.links
        == from_files.links
        == (VisitLink("request-PAIR-1", "request-PAIR-2", 30, 120),)
    )
    assert from_db.visits == from_files.visits
    lateness = {(v.late_allowed_min, v.late_cost_per_min) for v in from_db.visits
                if v.visit_id.startswith("request-")}  # fmt: skip
    assert lateness == {(30, 2)}


def test_a_pair_round_trips_through_export_byte_for_byte(db: Database, tmp_path: Path) -> None:
    """Export writes the pair's columns as the register had them; importing the export changes
    nothing."""
    folder = paired_register(tmp_path / "paired")
    import_dataset(db.engine, folder)
    db.engine.dispose()
    before = db.snapshot()
    export_dataset(db.engine, tmp_path / "out")
    columns = ["request_id", *PAIR_COLUMNS]
    original = read_tables(folder)["requests"][columns].sort_values("request_id")
    exported = read_tables(tmp_path / "out")["requests"][columns]
    assert exported.to_csv(index=False) == original.to_csv(index=False)
    assert "PAIR-2,PAIR-1,30,120\n" in exported.to_csv(index=False)
    summary = import_dataset(db.engine, tmp_path / "out")
    db.engine.dispose()
    assert summary.tables["requests"].updated == summary.tables["requests"].added == 0
    assert db.snapshot() == before


def test_reimporting_a_request_without_its_pair_unlinks_it(db: Database, tmp_path: Path) -> None:
    """A register that no longer pairs the two requests updates the stored ones: no link."""
    folder = paired_register(tmp_path / "paired")
    import_dataset(db.engine, folder)
    tables = read_tables(folder)
    tables["requests"][PAIR_COLUMNS] = ""
    summary = import_dataset(db.engine, write_tables(tables, folder))
    assert summary.tables["requests"].updated == 1
    with Session(db.engine) as session:
        stored = load_dataset(session)
    second = next(q for q in stored.requests if q.request_id == "PAIR-2")
    assert (second.after_request_id, second.min_gap_min, second.max_gap_min) == (None, 0, 0)
    assert build_problem(stored, PAIR_WEEK).links == ()


def _without_pair_2(folder: Path, **pair_1: str) -> tuple[pd.DataFrame, int]:
    """The paired register's requests with PAIR-2 left out and PAIR-1's cells set; PAIR-1's row."""
    requests = read_tables(folder)["requests"]
    requests = requests[requests["request_id"] != "PAIR-2"].reset_index(drop=True)
    at = int(requests.index[requests["request_id"] == "PAIR-1"][0])
    for column, value in pair_1.items():
        requests.loc[at, column] = value
    return requests, at + 2


def _another_resident(folder: Path) -> tuple[pd.DataFrame, str]:
    requests, row = _without_pair_2(folder)
    residents = read_tables(folder)["residents"]["resident_id"]
    other = residents[residents != requests.loc[row - 2, "resident_id"]].iloc[0]
    requests.loc[row - 2, "resident_id"] = other
    return requests, f"row {row}, column resident_id, value '{other}'"


def _no_common_day(folder: Path) -> tuple[pd.DataFrame, str]:
    requests, row = _without_pair_2(folder, earliest_date="2026-12-02", latest_date="2026-12-04")
    return requests, f"row {row}, column earliest_date, value '2026-12-02'"


def _followed_by_another(folder: Path) -> tuple[pd.DataFrame, str]:
    requests, row = _without_pair_2(folder)
    third = requests.iloc[[row - 2]].assign(
        request_id="PAIR-3", after_request_id="PAIR-1", min_gap_min="0", max_gap_min="60"
    )
    requests = pd.concat([requests, third], ignore_index=True)
    return requests, f"row {len(requests) + 1}, column after_request_id, value 'PAIR-1'"


def _following_another(folder: Path) -> tuple[pd.DataFrame, str]:
    requests, row = _without_pair_2(folder, after_request_id="PAIR-0", min_gap_min="0",
                                    max_gap_min="60")  # fmt: skip
    zero = requests.iloc[[row - 2]].assign(
        request_id="PAIR-0", after_request_id="", min_gap_min="", max_gap_min=""
    )
    requests = pd.concat([requests, zero], ignore_index=True)
    return requests, f"row {row}, column after_request_id, value 'PAIR-0'"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_another_resident, "a request follows a request of the same resident"),
        (_no_common_day, "on a day of 2026-12-01..2026-12-01: the two are done the same day"),
        (_followed_by_another, "a request is in one pair at most"),
        (_following_another, "a request is in one pair at most"),
    ],
    ids=["another resident", "no common day", "followed by another", "following another"],
)
def test_an_upload_that_breaks_a_stored_pair_is_refused_and_changes_nothing(
    db: Database, tmp_path: Path, change: Any, says: str
) -> None:
    """PAIR-2 (stored, after PAIR-1) is not in the new upload, and the upload's PAIR-1 no
    longer fits it: refused on PAIR-1's row (or the row pairing it anew), naming PAIR-2 and
    the way on, Chinese beside; nothing written. Kept as it is, the stored pair would take
    PAIR-1 out of every plan or link it to another resident's visit."""
    folder = paired_register(tmp_path / "p")
    import_dataset(db.engine, folder)
    db.engine.dispose()
    before = db.snapshot()
    tables = read_tables(folder)
    tables["requests"], where = change(folder)
    with pytest.raises(DatasetError) as refused:
        import_dataset(db.engine, write_tables(tables, tmp_path / "again"))
    db.engine.dispose()
    (problem,) = refused.value.problems
    assert problem.text_en.startswith(f"requests.csv, {where}: the database holds request PAIR-2")
    assert says in problem.text_en
    assert "list PAIR-2 in this file too" in problem.text_en
    assert "数据库中有此前导入的" in problem.text_zh and "PAIR-2" in problem.text_zh
    assert db.snapshot() == before


def test_an_upload_that_still_fits_a_stored_pair_keeps_it(db: Database, tmp_path: Path) -> None:
    """PAIR-2 left out of the new upload, PAIR-1 given a later window on the same day: the
    stored pair still holds, and the week's problem still links the two."""
    folder = paired_register(tmp_path / "p")
    import_dataset(db.engine, folder)
    tables = read_tables(folder)
    tables["requests"], _ = _without_pair_2(folder, window_start="10:00")
    summary = import_dataset(db.engine, write_tables(tables, tmp_path / "again"))
    assert summary.tables["requests"].updated == 1
    with Session(db.engine) as session:
        links = build_problem(load_dataset(session), PAIR_WEEK).links
    assert links == (VisitLink("request-PAIR-1", "request-PAIR-2", 30, 120),)
