"""The malformed-file corpus: each bad dataset gets its clear error and the database is unchanged.

Each case starts from a valid 60-resident dataset and breaks it in one way a spreadsheet gets
broken in practice (generated here under ``tmp_path``, including the 50 MB file). ``homevisit
import`` must exit 2 with every expected problem, each naming file, row, column and value, show
no stack trace, and leave the database as it was: the same SQLite file bytes, the same rows in
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmarks.hostile_input import entity_bomb_workbook, wide_header, zip_bomb_workbook
from service.cli import app
from service.db.importer import import_dataset
from tests.service.db.conftest import (
    BACKENDS,
    Database,
    open_database,
    small_tables,
    write_tables,
)

runner = CliRunner()

Mutation = Callable[[Path], Path | None]  # may return another path to import (e.g. an .xlsx)


def edit(stem: str, row: int, column: str, value: str) -> Mutation:
    """Set one cell; ``row`` counts data rows from 0 (the spreadsheet's row ``row + 2``)."""

    def apply(folder: Path) -> None:
        frame = pd.read_csv(folder / f"{stem}.csv", dtype=str, keep_default_na=False)
        frame.loc[row, column] = value
        frame.to_csv(folder / f"{stem}.csv", index=False, lineterminator="\n")

    return apply


def drop_column(stem: str, column: str) -> Mutation:
    def apply(folder: Path) -> None:
        frame = pd.read_csv(folder / f"{stem}.csv", dtype=str, keep_default_na=False)
        frame.drop(columns=[column]).to_csv(folder / f"{stem}.csv", index=False)

    return apply


def reencode(stem: str, encoding: str) -> Mutation:
    def apply(folder: Path) -> None:
        path = folder / f"{stem}.csv"
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))

    return apply


def write_raw(name: str, data: bytes) -> Mutation:
    def apply(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return apply


def remove(name: str) -> Mutation:
    def apply(folder: Path) -> None:
        (folder / name).unlink()

    return apply


def both(*mutations: Mutation) -> Mutation:
    def apply(folder: Path) -> None:
        for mutation in mutations:
            mutation(folder)

    return apply


def duplicate_row(stem: str, row: int) -> Mutation:
    def apply(folder: Path) -> None:
        frame = pd.read_csv(folder / f"{stem}.csv", dtype=str, keep_default_na=False)
        frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
        frame.to_csv(folder / f"{stem}.csv", index=False)

    return apply


def swap_lat_lon(folder: Path) -> None:
    frame = pd.read_csv(folder / "residents.csv", dtype=str, keep_default_na=False)
    frame.loc[0, ["lat", "lon"]] = [frame.loc[0, "lon"], frame.loc[0, "lat"]]
    frame.to_csv(folder / "residents.csv", index=False)


def semicolons(folder: Path) -> None:
    path = folder / "centres.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")


def stray_comma(folder: Path) -> None:
    path = folder / "clinicians.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def header_only(folder: Path) -> None:
    path = folder / "residents.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def two_name_columns(folder: Path) -> None:
    frame = pd.read_csv(folder / "centres.csv", dtype=str, keep_default_na=False)
    frame["中心名称"] = frame["name"]
    frame.to_csv(folder / "centres.csv", index=False)


def fifty_megabytes(folder: Path) -> None:
    """A 50 MB residents.csv (e.g. a whole city's register exported by mistake)."""
    path = folder / "residents.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    body = ("\n".join(lines[1:]) + "\n").encode("utf-8")
    with path.open("ab") as handle:
        for _ in range(50 * 1024 * 1024 // len(body) + 1):
            handle.write(body)


def million_columns(folder: Path) -> None:
    """The issue's probe: a header of 10^6 columns (8.9 MB) tied the server up for minutes."""
    wide_header(folder)


def zip_bomb(folder: Path) -> Path:
    return zip_bomb_workbook(folder, folder.parent / "bomb.xlsx")


def entity_bomb(folder: Path) -> Path:
    return entity_bomb_workbook(folder, folder.parent / "laughs.xlsx")


def not_a_workbook(folder: Path) -> Path:
    path = folder.parent / "register.xlsx"
    path.write_text("resident_id,name\nR1,张三\n", encoding="utf-8")
    return path


def everything_wrong_at_once(folder: Path) -> None:
    edit("residents", 0, "birth_date", "1950-13-01")(folder)
    edit("clinicians", 1, "role", "surgeon")(folder)
    edit("history", 2, "date", "yesterday")(folder)


def paired_requests(after: str, min_gap: str, max_gap: str) -> bytes:
    """A requests.csv whose Q2 is done after ``after`` with the gap given (Q1 on its own)."""
    return (
        "request_id,resident_id,service,earliest_date,latest_date,window_start,window_end,"
        "duration_min,after_request_id,min_gap_min,max_gap_min\n"
        "Q1,MH03-R00001,pressure_sore_care,2026-12-01,2026-12-01,09:00,16:00,40,,,\n"
        f"Q2,MH03-R00001,rehab_exercises,2026-12-01,2026-12-01,09:00,16:00,45,{after},"
        f"{min_gap},{max_gap}\n"
    ).encode()


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutation
    expected: tuple[str, ...]  # each must appear in the output


R2 = "residents.csv, row 2"
CASES: tuple[Case, ...] = (
    Case("gbk", reencode("residents", "gbk"), ("residents.csv", "GBK/GB18030", "CSV UTF-8")),
    Case("utf16", reencode("clinicians", "utf-16"), ("clinicians.csv", "UTF-16")),
    Case(
        "binary junk",
        write_raw("history.csv", bytes(range(256)) * 64),
        ("history.csv", "not UTF-8 text"),
    ),
    Case(
        "missing column",
        drop_column("residents", "birth_date"),
        ("residents.csv, column birth_date: column is missing (needed: resident_id",),
    ),
    Case(
        "missing file",
        remove("clinicians.csv"),
        ("clinicians.csv: is missing: a dataset needs centres.csv, clinicians.csv",),
    ),
    Case("empty file", write_raw("residents.csv", b""), ("residents.csv: is empty",)),
    Case("header only", header_only, ("residents.csv: has no data rows",)),
    Case(
        "duplicated resident id",
        duplicate_row("residents", 4),
        ("residents.csv, row 62, column resident_id", "duplicate resident_id", "also on row 6"),
    ),
    Case(
        "duplicated clinician id",
        edit("clinicians", 1, "clinician_id", "MH03-T1-D"),
        ("clinicians.csv, row 3, column clinician_id, value 'MH03-T1-D'", "also on row 2"),
    ),
    Case(
        "unknown team id",
        edit("residents", 0, "team_id", "MH03-T9"),
        (f"{R2}, column team_id, value 'MH03-T9'", "has no clinician", "known: MH03-T1"),
    ),
    Case(
        "unknown committee id",
        edit("residents", 0, "committee_id", "MH03-C99"),
        (f"{R2}, column committee_id, value 'MH03-C99'", "not in committees.csv"),
    ),
    Case(
        "unknown centre id",
        edit("clinicians", 0, "centre_id", "MH99"),
        ("clinicians.csv, row 2, column centre_id, value 'MH99'", "known: MH03"),
    ),
    Case(
        "impossible date",
        edit("residents", 0, "birth_date", "1946-02-30"),
        (f"{R2}, column birth_date, value '1946-02-30'", "no such day in the calendar"),
    ),
    Case(
        "100-year-old born in the future",
        edit("residents", 0, "birth_date", "2126-05-01"),
        (f"{R2}, column birth_date, value '2126-05-01'", "birth date is in the future"),
    ),
    Case(
        "born too long ago",
        edit("residents", 0, "birth_date", "1826-05-01"),
        (f"{R2}, column birth_date, value '1826-05-01'", "more than 125 years ago"),
    ),
    Case(
        "availability Mon-Fir 8-11",
        edit("residents", 0, "availability", "Mon-Fir 8-11"),
        (
            f"{R2}, column availability, value 'Mon-Fir 8-11'",
            "unknown weekday 'Fir'",
            "Mon-Fri 08:00-11:30",
        ),
    ),
    Case(
        "availability without times",
        edit("residents", 1, "availability", "weekday mornings"),
        ("residents.csv, row 3, column availability", "has no time range HH:MM-HH:MM"),
    ),
    Case("lat/lon swapped", swap_lat_lon, (f"{R2}, column lat", "look swapped", "swap the two")),
    Case(
        "coordinates 0,0",
        both(edit("residents", 0, "lat", "0"), edit("residents", 0, "lon", "0")),
        (f"{R2}, column lat", "probably not geocoded"),
    ),
    Case(
        "coordinates in Paris",
        both(edit("residents", 0, "lat", "48.85"), edit("residents", 0, "lon", "2.35")),
        (f"{R2}, column lat, value '48.85'", "outside China"),
    ),
    Case(
        "latitude not a number",
        edit("residents", 0, "lat", "北纬31度"),
        (f"{R2}, column lat, value '北纬31度'", "not a number; use decimal degrees"),
    ),
    Case(
        "unknown coordinate system",
        edit("residents", 0, "crs", "mars"),
        (f"{R2}, column crs, value 'mars'", "use one of wgs84, gcj02, bd09"),
    ),
    Case(
        "unknown role",
        edit("clinicians", 0, "role", "doctr"),
        ("clinicians.csv, row 2, column role, value 'doctr'", "use one of doctor, nurse"),
    ),
    Case(
        "unknown travel mode",
        edit("clinicians", 0, "travel_mode", "bicycle"),
        ("column travel_mode, value 'bicycle'", "use one of walk, ebike, car"),
    ),
    Case(
        "no working day",
        edit("clinicians", 0, "work_days", ""),
        ("clinicians.csv, row 2, column work_days", "can never be planned"),
    ),
    Case(
        "shift ends before it starts",
        edit("clinicians", 0, "shift_end", "07:00"),
        ("clinicians.csv, row 2, column shift_end, value '07:00'", "must end after it starts"),
    ),
    Case(
        "lunch outside the shift",
        both(
            edit("clinicians", 0, "lunch_start", "18:00"),
            edit("clinicians", 0, "lunch_end", "19:00"),
        ),
        ("clinicians.csv, row 2, column lunch_start", "is not inside the shift"),
    ),
    Case(
        "bad yes/no",
        edit("residents", 0, "hypertension", "maybe"),
        (f"{R2}, column hypertension, value 'maybe'", "use true/false, 1/0, yes/no or 是/否"),
    ),
    Case(
        "unknown disability",
        edit("residents", 0, "disability", "partial"),
        (f"{R2}, column disability, value 'partial'", "use one of none, semi, full"),
    ),
    Case("semicolon-separated", semicolons, ("centres.csv, row 1", "separated by semicolons")),
    Case("stray comma", stray_comma, ("clinicians.csv, row 4", "look for a stray comma")),
    Case(
        "two columns for one", two_name_columns, ("centres.csv, row 1, column name", "two columns")
    ),
    Case(
        "history of an unknown resident",
        edit("history", 0, "resident_id", "MH03-R99999"),
        ("history.csv, row 2, column resident_id, value 'MH03-R99999'", "not in residents.csv"),
    ),
    Case(
        "history date not a date",
        edit("history", 0, "date", "上周三"),
        ("history.csv, row 2, column date, value '上周三'", "use YYYY-MM-DD"),
    ),
    Case(
        "request ends before it starts",
        both(
            write_raw(
                "requests.csv",
                b"request_id,resident_id,service,earliest_date,latest_date,window_start,"
                b"window_end,duration_min\nQ1,MH03-R00001,infusion,2026-12-02,2026-12-01,"
                b"08:00,11:00,0\n",
            ),
        ),
        (
            "requests.csv, row 2, column latest_date, value '2026-12-01'",
            "is before earliest_date 2026-12-02",
            "column duration_min, value '0'",
        ),
    ),
    Case(
        "pair after a request not in the file",
        write_raw("requests.csv", paired_requests("Q9", "30", "120")),
        (
            "requests.csv, row 3, column after_request_id, value 'Q9'",
            "not in requests.csv (known: Q1, Q2)",
        ),
    ),
    Case(
        "pair after itself",
        write_raw("requests.csv", paired_requests("Q2", "30", "120")),
        (
            "requests.csv，第 3 行，“after_request_id”列，值“Q2”：申请不能接在自己之后",
            "value 'Q2': a request cannot follow itself: name the request of the same resident",
        ),
    ),
    Case(
        "pair with the most gap below the least",
        write_raw("requests.csv", paired_requests("Q1", "30", "20")),
        (
            "requests.csv，第 3 行，“max_gap_min”列，值“20”：小于min_gap_min 30",
            "requests.csv, row 3, column max_gap_min, value '20': is less than min_gap_min 30",
        ),
    ),
    Case(
        "empty resident id",
        edit("residents", 0, "resident_id", ""),
        (f"{R2}, column resident_id", "every resident needs an id"),
    ),
    Case(
        "programmes.yaml not YAML",
        write_raw("programmes.yaml", b"followup_80:\n  duration_min: [40\n"),
        ("programmes.yaml", "is not valid YAML"),
    ),
    Case(
        "programmes.yaml two problems in one programme",
        write_raw(
            "programmes.yaml",
            b"health_check:\n  day_window: '25:00-10:00'\n  duration_min: -5\n",
        ),
        (
            "programmes.yaml, line 2: programme 'health_check', day_window '25:00-10:00': "
            "25:00 is not a time of day between 00:00 and 24:00",
            "programmes.yaml, line 3: programme 'health_check', duration_min '-5': not a whole "
            "number from 1 to 1440",
            "服务项目“health_check”的 day_window“25:00-10:00”：25:00 不是 00:00 到 24:00 之间",
        ),
    ),
    Case(
        "programmes.yaml unknown programme",
        write_raw("programmes.yaml", b"followup_90:\n  duration_min: 40\n"),
        ("programmes.yaml", "followup_90", "unknown programme"),
    ),
    Case("50 MB file", fifty_megabytes, ("residents.csv: is 5", "MB, more than the 32 MB")),
    Case("not a workbook", not_a_workbook, ("register.xlsx", "cannot be read as .xlsx")),
    Case(
        "a million columns",
        million_columns,
        ("residents.csv, row 1", "has 1,000,000 columns, more than the 500"),
    ),
    Case(
        "zip bomb",
        zip_bomb,
        ("bomb.xlsx", "xl/worksheets/sheet", "unpacks to 30.0 MB from", "times its size"),
    ),
    Case(
        "entity bomb",
        entity_bomb,
        ("laughs.xlsx", "cannot be read", "amplification"),
    ),
    Case(
        "NUL inside a name",
        edit("residents", 0, "name", "王\x00芳"),
        (f"{R2}, column name, value '王\\u0000芳'", "U+0000", "delete it"),
    ),
    Case(
        "right-to-left override in an id",
        edit("clinicians", 1, "clinician_id", "MH03-T1-\u202eD"),
        ("clinicians.csv, row 3, column clinician_id", "U+202E", "RIGHT-TO-LEFT OVERRIDE"),
    ),
    Case(
        "a cell of a million characters",
        edit("residents", 0, "address", "闵" * 1_000_000),
        (f"{R2}, column address", "has 1,000,000 characters, more than the 2,000"),
    ),
    Case(
        "every problem at once",
        everything_wrong_at_once,
        (
            "3 problem(s)",
            f"{R2}, column birth_date, value '1950-13-01'",
            "clinicians.csv, row 3, column role, value 'surgeon'",
            "history.csv, row 4, column date, value 'yesterday'",
        ),
    ),
)


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, object]]:
    """One database per backend holding the valid dataset, and its snapshot."""
    workdir = tmp_path_factory.mktemp(f"corpus-{request.param}")
    with open_database(request.param, workdir) as database:
        import_dataset(database.engine, write_tables(small_tables(), workdir / "valid"))
        database.engine.dispose()
        yield database, database.snapshot()


def test_the_corpus_is_large_enough() -> None:
    """The issue asks for at least 30 malformed files."""
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_dataset_is_refused_clearly_and_changes_nothing(
    case: Case, seeded: tuple[Database, object], dataset_copy: Path
) -> None:
    """Exit code 2, every expected problem named, no stack trace, the database unchanged."""
    database, before = seeded
    target = case.mutate(dataset_copy) or dataset_copy
    result = runner.invoke(app, ["import", str(target), "--database-url", database.url])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for expected in case.expected:
        assert expected in result.output, f"{expected!r} not in:\n{result.output}"
    assert "nothing was imported" in result.output.lower()
    assert database.snapshot() == before
