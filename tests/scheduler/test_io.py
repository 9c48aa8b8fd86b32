"""Reading datasets and writing plans: what a team leader with a spreadsheet relies on.

Every test writes its own small dataset to ``tmp_path``; none depends on the sample data.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from scheduler import coords
from scheduler.dataset import (
    COLUMN_ALIASES_ZH,
    REQUIRED_COLUMNS,
    DatasetError,
    InputProblem,
    ReadLimits,
    read_dataset,
    write_dataset,
)
from scheduler.dataset.plan_files import read_plan, write_plan
from scheduler.dataset.values import parse_availability, parse_bool, parse_time, parse_weekdays
from scheduler.model import (
    AvailabilityItem,
    Centre,
    Clinician,
    DayWindow,
    Disability,
    Location,
    Plan,
    Problem,
    Role,
    Route,
    Staffing,
    Stop,
    TimeWindow,
    TravelMode,
    Unscheduled,
    Urgency,
    Visit,
)

Tables = dict[str, list[dict[str, str]]]


def valid_tables() -> Tables:
    """A small, valid dataset: one centre, two committees, two clinicians, two residents."""
    return {
        "centres": [
            {"centre_id": "C1", "name": "古美社区卫生服务中心", "lat": "31.1500", "lon": "121.4000"}
        ],
        "committees": [
            {
                "committee_id": "K1",
                "centre_id": "C1",
                "name": "古美一村",
                "lat": "31.1540",
                "lon": "121.4000",
            },
            {
                "committee_id": "K2",
                "centre_id": "C1",
                "name": "古美二村",
                "lat": "31.1470",
                "lon": "121.4050",
            },
        ],
        "clinicians": [
            {
                "clinician_id": "D1",
                "name": "张医生",
                "team_id": "T1",
                "centre_id": "C1",
                "role": "doctor",
                "skills": "ecg;TCM",
                "travel_mode": "ebike",
                "work_days": "Mon;Tue;Wed;Thu;Fri",
                "shift_start": "08:00",
                "shift_end": "16:30",
                "lunch_start": "11:30",
                "lunch_end": "12:30",
            },
            {
                "clinician_id": "N1",
                "name": "李护士",
                "team_id": "T1",
                "centre_id": "C1",
                "role": "nurse",
                "skills": "",
                "travel_mode": "walk",
                "work_days": "Mon-Fri",
                "shift_start": "8:00",
                "shift_end": "16:30",
                "lunch_start": "",
                "lunch_end": "",
            },
        ],
        "residents": [
            {
                "resident_id": "R1",
                "name": "王阿姨",
                "birth_date": "1940-05-01",
                "lat": "31.1520",
                "lon": "121.4010",
                "committee_id": "K1",
                "team_id": "T1",
                "preferred_clinician_id": "D1",
                "disability": "semi",
                "hypertension": "true",
                "diabetes": "false",
                "home_sickbed": "0",
                "homebound": "是",
                "availability": "Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00",
            },
            {
                "resident_id": "R2",
                "name": "陈老伯",
                "birth_date": "1925-01-15",
                "lat": "31.1480",
                "lon": "121.4040",
                "committee_id": "K2",
                "team_id": "T1",
                "preferred_clinician_id": "",
                "disability": "",
                "hypertension": "",
                "diabetes": "1",
                "home_sickbed": "否",
                "homebound": "no",
                "availability": "",
            },
        ],
        "history": [{"resident_id": "R1", "programme": "followup_80", "date": "2026-09-10"}],
        "requests": [
            {
                "request_id": "Q1",
                "resident_id": "R2",
                "service": "picc_maintenance",
                "earliest_date": "2026-11-30",
                "latest_date": "2026-12-04",
                "window_start": "09:00",
                "window_end": "11:00",
                "duration_min": "40",
            }
        ],
    }


def write_tables(
    folder: Path, tables: Tables, encoding: str = "utf-8", names: dict[str, str] | None = None
) -> Path:
    """Write ``tables`` as CSV files (header from the first row's keys, renamed by ``names``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, rows in tables.items():
        columns = list(rows[0]) if rows else list(REQUIRED_COLUMNS[stem])
        with (folder / f"{stem}.csv").open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([(names or {}).get(c, c) for c in columns])
            for row in rows:
                writer.writerow([row.get(c, "") for c in columns])
    return folder


def workbook_of(tables: Tables) -> openpyxl.Workbook:
    """``tables`` as a workbook, a sheet per file (header from the first row's keys)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for stem, rows in tables.items():
        sheet = book.create_sheet(stem)
        sheet.append(list(rows[0]))
        for row in rows:
            sheet.append(list(row.values()))
    return book


def problems_of(path: Path) -> tuple[InputProblem, ...]:
    """The problems ``read_dataset`` reports (failing the test if it reports none)."""
    with pytest.raises(DatasetError) as caught:
        read_dataset(path)
    return caught.value.problems


def only_problem(path: Path) -> InputProblem:
    """The single problem ``read_dataset`` reports."""
    problems = problems_of(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


# --- a valid dataset -------------------------------------------------------------------------


def test_valid_dataset_reads_into_the_expected_objects(tmp_path: Path) -> None:
    """Every column of FORMAT.md arrives in the domain objects with its meaning."""
    data = read_dataset(write_tables(tmp_path, valid_tables()))

    assert data.centres["C1"] == Centre("C1", "古美社区卫生服务中心", Location(31.15, 121.40))
    assert data.committees["K2"].name == "古美二村"
    assert data.committees["K2"].location == Location(31.147, 121.405)

    doctor = data.clinicians["D1"]
    assert doctor == Clinician(
        "D1",
        "张医生",
        "T1",
        "C1",
        Role.DOCTOR,
        frozenset({"ecg", "tcm"}),
        TravelMode.EBIKE,
        frozenset(range(5)),
        TimeWindow(480, 990),
        TimeWindow(690, 750),
    )
    nurse = data.clinicians["N1"]
    assert nurse.lunch is None and nurse.skills == frozenset()
    assert nurse.work_days == frozenset(range(5)) and nurse.shift.start_min == 480

    r1, r2 = data.residents["R1"], data.residents["R2"]
    assert r1.name == "王阿姨" and r1.birth_date == dt.date(1940, 5, 1)
    assert r1.preferred_clinician_id == "D1" and r2.preferred_clinician_id is None
    assert r1.disability is Disability.SEMI and r2.disability is Disability.NONE
    assert (r1.hypertension, r1.diabetes, r1.home_sickbed, r1.homebound) == (
        True,
        False,
        False,
        True,
    )
    assert (r2.hypertension, r2.diabetes, r2.home_sickbed, r2.homebound) == (
        False,
        True,
        False,
        False,
    )
    assert r1.availability == (
        AvailabilityItem(frozenset(range(5)), TimeWindow(480, 690)),
        AvailabilityItem(frozenset({1, 3}), TimeWindow(840, 1020)),
    )
    assert r2.availability == ()

    (record,) = data.history
    assert (record.resident_id, record.programme, record.date) == (
        "R1",
        "followup_80",
        dt.date(2026, 9, 10),
    )
    (request,) = data.requests
    assert request.window == TimeWindow(540, 660) and request.duration_min == 40
    assert request.earliest_date == dt.date(2026, 11, 30)
    assert data.programme_overrides == {}


def test_history_may_give_the_residents_flags_of_the_visits_day(tmp_path: Path) -> None:
    """A past visit can say how the resident was that day (失能等级, 高血压, 糖尿病, Chinese values
    too), each cell on its own; an empty cell, or a file without those columns (as before), says
    nothing (None: the register's flags are taken when it is stored); write -> read keeps them."""
    tables = valid_tables()
    base = {"居民编号": "R1", "服务项目": "chronic_followup"}
    tables["history"] = [
        base | {"日期": "2026-03-10", "失能等级": "半失能", "高血压": "是", "糖尿病": "否"},
        base | {"日期": "2026-06-10", "失能等级": "", "高血压": "", "糖尿病": "true"},
    ]
    data = read_dataset(write_tables(tmp_path / "flags", tables))
    march, june = data.history
    assert (march.disability, march.hypertension, march.diabetes) == (Disability.SEMI, True, False)
    assert (june.disability, june.hypertension, june.diabetes) == (None, None, True)
    write_dataset(data, tmp_path / "written")
    with (tmp_path / "written" / "history.csv").open(encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle))
    assert header[-3:] == ["disability", "hypertension", "diabetes"]
    assert read_dataset(tmp_path / "written").history == data.history

    older = valid_tables()  # resident_id, programme, date: as every file before
    (record,) = read_dataset(write_tables(tmp_path / "older", older)).history
    assert (record.disability, record.hypertension, record.diabetes) == (None, None, None)


def test_sickbeds_may_give_the_disability_of_the_discharge_day(tmp_path: Path) -> None:
    """A discharged sick-bed can say the resident's disability that day (失能等级); an open
    one's says nothing yet, nor does a file without the column; write -> read keeps it."""
    tables = valid_tables()
    tables["sickbeds"] = [
        {"居民编号": "R1", "建床日期": "2026-01-05", "撤床日期": "2026-03-01", "失能等级": "失能"},
        {"居民编号": "R1", "建床日期": "2026-04-01", "撤床日期": "", "失能等级": "半失能"},
    ]
    data = read_dataset(write_tables(tmp_path / "flags", tables))
    assert [e.disability for e in data.sickbeds] == [Disability.FULL, None]
    write_dataset(data, tmp_path / "written")
    assert read_dataset(tmp_path / "written").sickbeds == data.sickbeds
    tables["sickbeds"] = [{"resident_id": "R1", "opened": "2026-01-05", "discharged": "2026-03-01"}]
    (episode,) = read_dataset(write_tables(tmp_path / "older", tables)).sickbeds
    assert (episode.discharged, episode.disability) == (dt.date(2026, 3, 1), None)


def test_a_bad_flag_in_history_names_the_row_and_value(tmp_path: Path) -> None:
    """A visit's flag that is not a yes/no or a grade is refused with its file, row and value."""
    tables = valid_tables()
    tables["history"] = [
        {"resident_id": "R1", "programme": "followup_80", "date": "2026-09-10", "高血压": "maybe"}
    ]
    problem = only_problem(write_tables(tmp_path, tables))
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "history.csv",
        2,
        "高血压",
        "maybe",
    )


def test_a_preferred_clinician_who_left_is_a_warning_not_an_error(tmp_path: Path) -> None:
    """Removing a clinician who has left keeps the import going: each resident who preferred
    them loses the preference, and one warning per clinician names those residents."""
    tables = valid_tables()
    tables["residents"][0]["preferred_clinician_id"] = "D7"
    tables["residents"][1]["preferred_clinician_id"] = "D7"
    data = read_dataset(write_tables(tmp_path, tables))
    assert data.residents["R1"].preferred_clinician_id is None
    assert data.residents["R2"].preferred_clinician_id is None
    assert data.warnings == (
        "residents.csv: 首选医护 D7 不在 clinicians.csv 中，已取消 2 位居民的首选，导入继续 / "
        "preferred_clinician_id 'D7' is not in clinicians.csv (any more): the preference of "
        "2 residents is dropped and the import goes on: R1, R2",
    )


def test_optional_files_may_be_absent(tmp_path: Path) -> None:
    """A first dataset needs only centres, clinicians and residents."""
    tables = valid_tables()
    for stem in ("committees", "history", "requests"):
        del tables[stem]
    data = read_dataset(write_tables(tmp_path, tables))
    assert data.history == () and data.requests == ()
    assert set(data.residents) == {"R1", "R2"}


def test_committees_are_built_from_residents_when_the_file_is_absent(tmp_path: Path) -> None:
    """Without committees.csv each committee sits at the mean of its residents' homes."""
    tables = valid_tables()
    del tables["committees"]
    tables["residents"][1]["committee_id"] = "K1"
    data = read_dataset(write_tables(tmp_path, tables))
    (committee,) = data.committees.values()
    assert (committee.committee_id, committee.centre_id, committee.name) == ("K1", "C1", "K1")
    assert committee.location.lat == pytest.approx((31.152 + 31.148) / 2)
    assert committee.location.lon == pytest.approx((121.401 + 121.404) / 2)


def test_extra_columns_are_read_or_ignored(tmp_path: Path) -> None:
    """Address, phone and conditions are kept; a column the planner does not know is ignored."""
    tables = valid_tables()
    tables["residents"][0] |= {
        "address": "古美路1号",
        "phone": "13800000000",
        "sex": "女",
        "conditions": "COPD; stroke",
        "notes": "家属陪同",
    }
    tables["residents"][1] |= {"address": "", "phone": "", "sex": "", "conditions": "", "notes": ""}
    tables["centres"][0]["district"] = "闵行区"
    tables["requests"][0]["skills"] = "PICC"
    data = read_dataset(write_tables(tmp_path, tables))
    r1 = data.residents["R1"]
    assert (r1.address, r1.phone) == ("古美路1号", "13800000000")
    assert r1.conditions == frozenset({"copd", "stroke"})
    assert data.centres["C1"].district == "闵行区"
    assert data.requests[0].skills == frozenset({"picc"})


def test_chinese_headers_work(tmp_path: Path) -> None:
    """A register kept with Chinese column headers reads exactly like the English one."""
    english = read_dataset(write_tables(tmp_path / "en", valid_tables()))
    first_zh: dict[str, str] = {}
    for zh, en in COLUMN_ALIASES_ZH.items():
        first_zh.setdefault(en, zh)
    chinese = read_dataset(write_tables(tmp_path / "zh", valid_tables(), names=first_zh))
    assert chinese == english


def test_every_format_column_has_a_chinese_header() -> None:
    """The Chinese mapping documents every column of FORMAT.md."""
    english = set(COLUMN_ALIASES_ZH.values())
    for columns in REQUIRED_COLUMNS.values():
        assert set(columns) <= english


def test_headers_with_spaces_and_capitals_work(tmp_path: Path) -> None:
    """' Resident_ID ' is still resident_id: spreadsheets collect stray spaces."""
    names = {"resident_id": " Resident_ID ", "name": "Name"}
    data = read_dataset(write_tables(tmp_path, valid_tables(), names=names))
    assert set(data.residents) == {"R1", "R2"}


def test_utf8_bom_works(tmp_path: Path) -> None:
    """Excel's 'CSV UTF-8' puts a BOM before the first header; it must not hide centre_id."""
    data = read_dataset(write_tables(tmp_path, valid_tables(), encoding="utf-8-sig"))
    assert data.centres["C1"].name == "古美社区卫生服务中心"
    assert data.residents["R1"].name == "王阿姨"


def test_xlsx_workbook_works(tmp_path: Path) -> None:
    """A workbook with one sheet per file reads like the CSV folder, Excel-typed cells too."""
    tables = valid_tables()
    expected = read_dataset(write_tables(tmp_path / "csv", tables))
    book = openpyxl.Workbook()
    book.remove(book.active)
    for stem, rows in tables.items():
        sheet = book.create_sheet(stem)
        columns = list(rows[0])
        sheet.append(columns)
        for row in rows:
            sheet.append([row[c] for c in columns])
    # Excel turns typed-in numbers, dates and times into typed cells.
    residents = book["residents"]
    residents["C2"] = dt.datetime(1940, 5, 1)
    residents["D2"] = 31.152
    residents["E2"] = 121.401
    clinicians = book["clinicians"]
    clinicians["I2"] = dt.time(8, 0)
    requests = book["requests"]
    requests["H2"] = 40
    path = tmp_path / "register.xlsx"
    book.save(path)
    assert read_dataset(path) == expected


def test_xlsx_problems_name_the_sheet(tmp_path: Path) -> None:
    """In a workbook a problem names the workbook and sheet instead of a CSV file."""
    book = workbook_of(valid_tables())
    book["clinicians"]["E3"] = "nurze"
    path = tmp_path / "register.xlsx"
    book.save(path)
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "register.xlsx, sheet clinicians",
        3,
        "role",
        "nurze",
    )


def test_gcj02_input_is_converted_to_wgs84(tmp_path: Path) -> None:
    """Coordinates copied from AMap (crs gcj02) and Baidu (bd09) are moved back to WGS-84."""
    tables = valid_tables()
    wgs = (31.1520, 121.4010)
    gcj = coords.wgs84_to_gcj02(*wgs)
    bd = coords.wgs84_to_bd09(31.1480, 121.4040)
    tables["residents"][0] |= {"lat": repr(gcj[0]), "lon": repr(gcj[1]), "crs": "gcj02"}
    tables["residents"][1] |= {"lat": repr(bd[0]), "lon": repr(bd[1]), "crs": "bd09"}
    data = read_dataset(write_tables(tmp_path, tables))
    r1, r2 = data.residents["R1"].location, data.residents["R2"].location
    assert (r1.lat, r1.lon) == pytest.approx(wgs, abs=1e-6)
    assert (r2.lat, r2.lon) == pytest.approx((31.1480, 121.4040), abs=1e-6)


def test_programmes_yaml_is_loaded(tmp_path: Path) -> None:
    """Programme overrides in programmes.yaml reach the dataset as a mapping."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "programmes.yaml").write_text("followup_80:\n  duration_min: 40\n", encoding="utf-8")
    assert read_dataset(folder).programme_overrides == {"followup_80": {"duration_min": 40}}


# --- bad input: one problem each, located by file, row, column and value ---------------------

Edit = Callable[[Tables], None]


def _set(stem: str, index: int, **cells: str) -> Edit:
    def edit(tables: Tables) -> None:
        tables[stem][index].update(cells)

    return edit


def _split_team(tables: Tables) -> None:
    tables["centres"].append({"centre_id": "C2", "name": "C2", "lat": "31.1", "lon": "121.3"})
    tables["clinicians"][1]["centre_id"] = "C2"


BAD_INPUT: list[tuple[str, Edit, tuple[str, int, str, str], str]] = [
    # (case, edit, (file, row, column, value), words in the message)
    (
        "empty id",
        _set("clinicians", 1, clinician_id=""),
        ("clinicians.csv", 3, "clinician_id", ""),
        "empty",
    ),
    (
        "duplicate id",
        _set("clinicians", 1, clinician_id="D1"),
        ("clinicians.csv", 3, "clinician_id", "D1"),
        "also on row 2",
    ),
    (
        "clinician at an unknown centre",
        _set("clinicians", 1, centre_id="C9"),
        ("clinicians.csv", 3, "centre_id", "C9"),
        "not in centres",
    ),
    (
        "resident of a team nobody works in",
        _set("residents", 0, team_id="T9"),
        ("residents.csv", 2, "team_id", "T9"),
        "no clinician",
    ),
    (
        "resident of an unknown committee",
        _set("residents", 0, committee_id="K9"),
        ("residents.csv", 2, "committee_id", "K9"),
        "not in committees",
    ),
    (
        "history of an unknown resident",
        _set("history", 0, resident_id="R9"),
        ("history.csv", 2, "resident_id", "R9"),
        "not in residents",
    ),
    (
        "request of an unknown resident",
        _set("requests", 0, resident_id="R9"),
        ("requests.csv", 2, "resident_id", "R9"),
        "not in residents",
    ),
    (
        "committee of an unknown centre",
        _set("committees", 1, centre_id="C2"),
        ("committees.csv", 3, "centre_id", "C2"),
        "not in centres",
    ),
    (
        "unknown role",
        _set("clinicians", 0, role="docter"),
        ("clinicians.csv", 2, "role", "docter"),
        "doctor, nurse, assistant, rehab",
    ),
    (
        "unknown travel mode",
        _set("clinicians", 0, travel_mode="bike"),
        ("clinicians.csv", 2, "travel_mode", "bike"),
        "walk, ebike, car",
    ),
    (
        "unknown disability",
        _set("residents", 0, disability="partial"),
        ("residents.csv", 2, "disability", "partial"),
        "none, semi, full",
    ),
    (
        "unknown crs",
        _set("centres", 0, crs="gcj2"),
        ("centres.csv", 2, "crs", "gcj2"),
        "wgs84, gcj02, bd09",
    ),
    (
        "malformed date",
        _set("residents", 1, birth_date="15/01/1925"),
        ("residents.csv", 3, "birth_date", "15/01/1925"),
        "YYYY-MM-DD",
    ),
    (
        "impossible date",
        _set("history", 0, date="2026-02-30"),
        ("history.csv", 2, "date", "2026-02-30"),
        "YYYY-MM-DD",
    ),
    (
        "malformed time",
        _set("clinicians", 0, shift_start="8h00"),
        ("clinicians.csv", 2, "shift_start", "8h00"),
        "HH:MM",
    ),
    (
        "time after 24:00",
        _set("clinicians", 0, shift_end="24:30"),
        ("clinicians.csv", 2, "shift_end", "24:30"),
        "between 00:00 and 24:00",
    ),
    (
        "shift ending before it starts",
        _set("clinicians", 0, shift_start="16:30", shift_end="08:00"),
        ("clinicians.csv", 2, "shift_end", "08:00"),
        "must end after it starts",
    ),
    (
        "lunch outside the shift",
        _set("clinicians", 0, lunch_start="17:00", lunch_end="18:00"),
        ("clinicians.csv", 2, "lunch_start", "17:00"),
        "not inside the shift",
    ),
    (
        "lunch ending before it starts",
        _set("clinicians", 0, lunch_start="12:30", lunch_end="11:30"),
        ("clinicians.csv", 2, "lunch_end", "11:30"),
        "must end after it starts",
    ),
    (
        "only half a lunch",
        _set("clinicians", 0, lunch_end=""),
        ("clinicians.csv", 2, "lunch_end", ""),
        "both lunch times or neither",
    ),
    (
        "no working day",
        _set("clinicians", 1, work_days=""),
        ("clinicians.csv", 3, "work_days", ""),
        "a clinician with no working day can never be planned",
    ),
    (
        "misspelt working day",
        _set("clinicians", 1, work_days="Mon-Fir"),
        ("clinicians.csv", 3, "work_days", "Mon-Fir"),
        "unknown weekday 'Fir'; use Mon..Sun, e.g. Mon;Tue;Wed",
    ),
    (
        "birth date in the future",
        _set("residents", 0, birth_date="2099-01-01"),
        ("residents.csv", 2, "birth_date", "2099-01-01"),
        "future",
    ),
    (
        "birth date too long ago",
        _set("residents", 0, birth_date="1840-01-01"),
        ("residents.csv", 2, "birth_date", "1840-01-01"),
        "125 years",
    ),
    (
        "non-numeric latitude",
        _set("residents", 0, lat="31,152"),
        ("residents.csv", 2, "lat", "31,152"),
        "not a number",
    ),
    (
        "latitude out of range",
        _set("residents", 0, lat="131.15", lon="200"),
        ("residents.csv", 2, "lat", "131.15"),
        "between -90 and 90",
    ),
    (
        "point outside China",
        _set("centres", 0, lat="48.8566", lon="2.3522"),
        ("centres.csv", 2, "lat", "48.8566"),
        "outside China",
    ),
    (
        "zero coordinates",
        _set("residents", 1, lat="0", lon="0"),
        ("residents.csv", 3, "lat", "0"),
        "not geocoded",
    ),
    (
        "swapped lat and lon",
        _set("residents", 0, lat="121.4010", lon="31.1520"),
        ("residents.csv", 2, "lat", "121.4010"),
        "lat and lon look swapped",
    ),
    (
        "availability typo",
        _set("residents", 0, availability="Mon-Fir 8-11"),
        ("residents.csv", 2, "availability", "Mon-Fir 8-11"),
        "unknown weekday 'Fir'",
    ),
    (
        "bad yes/no",
        _set("residents", 0, homebound="maybe"),
        ("residents.csv", 2, "homebound", "maybe"),
        "是/否",
    ),
    (
        "request ending before it begins",
        _set("requests", 0, earliest_date="2026-12-04", latest_date="2026-11-30"),
        ("requests.csv", 2, "latest_date", "2026-11-30"),
        "before earliest_date",
    ),
    (
        "zero duration",
        _set("requests", 0, duration_min="0"),
        ("requests.csv", 2, "duration_min", "0"),
        "positive whole number",
    ),
    (
        "non-numeric duration",
        _set("requests", 0, duration_min="forty"),
        ("requests.csv", 2, "duration_min", "forty"),
        "positive whole number",
    ),
    (
        "request window ending before it starts",
        _set("requests", 0, window_start="11:00", window_end="09:00"),
        ("requests.csv", 2, "window_end", "09:00"),
        "must end after it starts",
    ),
    (
        "visit longer than its window",
        _set("requests", 0, duration_min="150"),
        ("requests.csv", 2, "duration_min", "150"),
        "does not fit",
    ),
    (
        "team split over two centres",
        _split_team,
        ("clinicians.csv", 3, "centre_id", "C2"),
        "a team belongs to one centre",
    ),
]


@pytest.mark.parametrize(
    ("edit", "where", "words"),
    [pytest.param(edit, where, words, id=case) for case, edit, where, words in BAD_INPUT],
)
def test_bad_input_names_file_row_column_and_value(
    tmp_path: Path, edit: Edit, where: tuple[str, int, str, str], words: str
) -> None:
    """Each kind of mistake yields one problem pointing at the cell and saying what is wrong."""
    tables = valid_tables()
    edit(tables)
    problem = only_problem(write_tables(tmp_path, tables))
    assert (problem.file, problem.row, problem.column, problem.value) == where
    assert words in problem.message, str(problem)


def test_availability_typo_message_names_the_bad_part_and_gives_an_example(
    tmp_path: Path,
) -> None:
    """'Mon-Fir 8-11' says which part is wrong and how to write it."""
    tables = valid_tables()
    tables["residents"][0]["availability"] = "Mon-Fir 8-11"
    message = only_problem(write_tables(tmp_path, tables)).message
    assert "'Fir'" in message and "'8'" in message
    assert "Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00" in message


def test_problem_reads_as_a_sentence() -> None:
    """The text of a problem locates the cell the way a spreadsheet user counts."""
    problem = InputProblem(
        "clinicians.csv", 7, "work_days", "Mon-Fir", "unknown weekday 'Fir'; use Mon..Sun"
    )
    assert str(problem) == (
        "clinicians.csv, row 7, column work_days, value 'Mon-Fir': "
        "unknown weekday 'Fir'; use Mon..Sun"
    )
    assert str(InputProblem("residents.csv", None, None, None, "is missing")) == (
        "residents.csv: is missing"
    )


def test_several_errors_are_reported_at_once(tmp_path: Path) -> None:
    """A user fixes the whole list in one go: every bad cell in every file is reported."""
    tables = valid_tables()
    tables["clinicians"][0]["role"] = "docter"
    tables["clinicians"][1]["shift_end"] = "7:00"
    tables["residents"][0]["birth_date"] = "1940-5-1x"
    tables["residents"][1]["availability"] = "Mon 9-10"
    tables["requests"][0]["duration_min"] = "-5"
    error_cells = {(p.file, p.row, p.column) for p in problems_of(write_tables(tmp_path, tables))}
    assert error_cells == {
        ("clinicians.csv", 2, "role"),
        ("clinicians.csv", 3, "shift_end"),
        ("residents.csv", 2, "birth_date"),
        ("residents.csv", 3, "availability"),
        ("requests.csv", 2, "duration_min"),
    }


def test_error_message_lists_all_problems(tmp_path: Path) -> None:
    """The exception text itself is the readable list, one line per problem."""
    tables = valid_tables()
    tables["clinicians"][0]["role"] = "docter"
    tables["residents"][0]["lat"] = "north"
    with pytest.raises(DatasetError) as caught:
        read_dataset(write_tables(tmp_path, tables))
    text = str(caught.value)
    assert text.startswith("2 problems")
    assert "clinicians.csv, row 2, column role, value 'docter'" in text
    assert "residents.csv, row 2, column lat, value 'north'" in text


def test_a_bad_row_does_not_cascade(tmp_path: Path) -> None:
    """A clinician with a bad time still defines her team: residents of it are not blamed."""
    tables = valid_tables()
    for clinician in tables["clinicians"]:
        clinician["shift_start"] = "8.00"
    problems = problems_of(write_tables(tmp_path, tables))
    assert {p.file for p in problems} == {"clinicians.csv"}


def test_gbk_file_gets_one_clear_problem(tmp_path: Path) -> None:
    """A CSV saved by Excel on Chinese Windows (GBK) is named with the fix, not mojibake."""
    folder = write_tables(tmp_path, valid_tables())
    text = (folder / "residents.csv").read_text(encoding="utf-8")
    (folder / "residents.csv").write_bytes(text.encode("gbk"))
    problem = only_problem(folder)
    assert problem.file == "residents.csv"
    assert "GBK" in problem.message and "CSV UTF-8" in problem.message


def test_missing_required_file(tmp_path: Path) -> None:
    """Without residents.csv the user is told which file is missing."""
    tables = valid_tables()
    del tables["residents"]
    problem = only_problem(write_tables(tmp_path, tables))
    assert (problem.file, problem.row, problem.column) == ("residents.csv", None, None)
    assert "missing" in problem.message


def test_missing_required_column(tmp_path: Path) -> None:
    """A missing column is reported once, by name, not once per row."""
    tables = valid_tables()
    for row in tables["clinicians"]:
        del row["travel_mode"]
    problem = only_problem(write_tables(tmp_path, tables))
    assert (problem.file, problem.row, problem.column) == ("clinicians.csv", None, "travel_mode")
    assert "missing" in problem.message


def test_empty_file(tmp_path: Path) -> None:
    """An empty centres.csv is named, not a pandas traceback."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "centres.csv").write_text("", encoding="utf-8")
    problems = problems_of(folder)
    assert ("centres.csv", None, "is empty: it needs a header row") in {
        (p.file, p.row, p.message) for p in problems
    }


def test_header_only_required_file(tmp_path: Path) -> None:
    """A residents.csv with a header but no residents is reported."""
    tables = valid_tables()
    tables["residents"] = []
    tables["history"] = []
    tables["requests"] = []
    problem = only_problem(write_tables(tmp_path, tables))
    assert (problem.file, problem.message) == ("residents.csv", "has no data rows")


def test_blank_lines_keep_row_numbers(tmp_path: Path) -> None:
    """Blank lines are skipped but the row numbers still match what the spreadsheet shows."""
    folder = write_tables(tmp_path, valid_tables())
    lines = (folder / "clinicians.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",nurse,", ",nurze,")
    lines.insert(2, ",,,,,,,,,,,")
    (folder / "clinicians.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problem = only_problem(folder)
    assert (problem.row, problem.column, problem.value) == (4, "role", "nurze")


def test_ragged_csv_row(tmp_path: Path) -> None:
    """A row with more cells than the header (a stray comma) is located, not a parser crash."""
    folder = write_tables(tmp_path, valid_tables())
    path = folder / "history.csv"
    path.write_text(path.read_text(encoding="utf-8") + "R2,followup_80,2026-10-01,extra\n")
    problem = only_problem(folder)
    assert (problem.file, problem.row) == ("history.csv", 3)
    assert "stray comma" in problem.message


def test_semicolon_separated_file(tmp_path: Path) -> None:
    """A CSV saved with ';' separators (European Excel) gets the fix, not 20 missing columns."""
    folder = write_tables(tmp_path, valid_tables())
    path = folder / "centres.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    problem = only_problem(folder)
    assert (problem.file, problem.row) == ("centres.csv", 1)
    assert "semicolons" in problem.message


def test_dataset_path_that_does_not_exist(tmp_path: Path) -> None:
    """A wrong path is one clear problem."""
    problem = only_problem(tmp_path / "nowhere")
    assert "does not exist" in problem.message


def test_programmes_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    """A programmes.yaml that is a list, or has a non-mapping entry, is explained."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "programmes.yaml").write_text("- followup_80\n", encoding="utf-8")
    problem = only_problem(folder)
    assert problem.file == "programmes.yaml" and "must map programme ids" in problem.message

    (folder / "programmes.yaml").write_text("followup_80: 40\n", encoding="utf-8")
    problem = only_problem(folder)
    assert (problem.file, problem.value) == ("programmes.yaml", "followup_80")
    assert "mapping" in problem.message


def test_programmes_yaml_syntax_error(tmp_path: Path) -> None:
    """Broken YAML names the line."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "programmes.yaml").write_text("followup_80:\n  duration_min: [40\n", encoding="utf-8")
    problem = only_problem(folder)
    assert problem.file == "programmes.yaml" and problem.row is not None
    assert "YAML" in problem.message


def test_programmes_yaml_unknown_programme(tmp_path: Path) -> None:
    """An override of a programme that does not exist is reported at reading time."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "programmes.yaml").write_text("followup_08:\n  duration_min: 40\n", encoding="utf-8")
    problem = only_problem(folder)
    assert (problem.file, problem.value) == ("programmes.yaml", "followup_08")


def test_chinese_enum_values(tmp_path: Path) -> None:
    """Roles, travel modes and disability grades may be written in Chinese."""
    tables = valid_tables()
    tables["clinicians"][1] |= {"role": "护士", "travel_mode": "步行"}
    tables["residents"][0]["disability"] = "半失能"
    data = read_dataset(write_tables(tmp_path, tables))
    assert data.clinicians["N1"].role is Role.NURSE
    assert data.clinicians["N1"].travel_mode is TravelMode.WALK
    assert data.residents["R1"].disability is Disability.SEMI


# --- the cell parsers ------------------------------------------------------------------------


def test_parse_time() -> None:
    """08:30 and 8:30 are the same time; 24:00 ends a day; anything else is refused."""
    assert parse_time("08:30") == 510
    assert parse_time(" 8:30 ") == 510
    assert parse_time("24:00") == 1440
    assert parse_time("00:00") == 0
    for bad in ("8", "8:5", "08:60", "24:01", "noon", ""):
        with pytest.raises(ValueError, match="time"):
            parse_time(bad)


def test_parse_weekdays() -> None:
    """Lists, ranges and comma lists all work, in English or Chinese."""
    assert parse_weekdays("Mon;Tue") == {0, 1}
    assert parse_weekdays("Mon-Fri") == set(range(5))
    assert parse_weekdays("Tue,Thu") == {1, 3}
    assert parse_weekdays("sat - sun") == {5, 6}
    assert parse_weekdays("Fri-Mon") == {4, 5, 6, 0}
    assert parse_weekdays("周一至周五") == set(range(5))
    with pytest.raises(ValueError, match=r"unknown weekday 'Fir'; use Mon\.\.Sun, e\.g\."):
        parse_weekdays("Mon-Fir")
    with pytest.raises(ValueError, match="no weekday"):
        parse_weekdays(" ; ")


def test_parse_bool() -> None:
    """The yes/no words of FORMAT.md, in either case."""
    for text in ("true", "TRUE", "1", "是", "yes", "Yes"):
        assert parse_bool(text) is True
    for text in ("false", "False", "0", "否", "no", "NO"):
        assert parse_bool(text) is False
    with pytest.raises(ValueError, match="true/false"):
        parse_bool("maybe")


def test_parse_availability() -> None:
    """Items separated by ';', each DAYS HH:MM-HH:MM; empty means any time."""
    assert parse_availability("") == ()
    assert parse_availability("Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00") == (
        AvailabilityItem(frozenset(range(5)), TimeWindow(480, 690)),
        AvailabilityItem(frozenset({1, 3}), TimeWindow(840, 1020)),
    )
    assert parse_availability("Sat 9:00 - 10:00;") == (
        AvailabilityItem(frozenset({5}), TimeWindow(540, 600)),
    )
    with pytest.raises(ValueError, match="more than one time range"):
        parse_availability("Mon 08:00-09:00, Tue 10:00-11:00")
    with pytest.raises(ValueError, match="no time range"):
        parse_availability("Mon-Fri")
    with pytest.raises(ValueError, match="does not end after it starts"):
        parse_availability("Mon 11:00-09:00")


# --- writing and reading a plan --------------------------------------------------------------

WEEK = dt.date(2026, 11, 30)


def small_problem() -> Problem:
    """Three visits: a home visit, a joint health check and a committee session."""
    centre = Centre("C1", "古美社区卫生服务中心", Location(31.15, 121.40))
    doctor = Clinician(
        "D1",
        "张医生",
        "T1",
        "C1",
        Role.DOCTOR,
        frozenset({"ecg"}),
        TravelMode.EBIKE,
        frozenset(range(5)),
        TimeWindow(480, 990),
        TimeWindow(690, 750),
    )
    nurse = Clinician(
        "N1",
        "李护士",
        "T1",
        "C1",
        Role.NURSE,
        frozenset({"blood_draw"}),
        TravelMode.WALK,
        frozenset(range(5)),
        TimeWindow(480, 990),
    )
    window = (DayWindow(WEEK, 480, 990),)
    doctor_or_nurse = Staffing(frozenset({Role.DOCTOR, Role.NURSE}))
    visits = (
        Visit(
            "followup_80-R1",
            "followup_80",
            "T1",
            "C1",
            Location(31.152, 121.401),
            30,
            (doctor_or_nurse,),
            window,
            Urgency.DUE,
            dt.date(2026, 12, 31),
            resident_id="R1",
        ),
        Visit(
            "health_check-R2",
            "health_check",
            "T1",
            "C1",
            Location(31.148, 121.404),
            45,
            (Staffing(frozenset({Role.DOCTOR})), Staffing(frozenset({Role.NURSE}))),
            window,
            Urgency.OVERDUE,
            dt.date(2026, 12, 6),
            resident_id="R2",
        ),
        Visit(
            "medication_guidance-K1-1201",
            "medication_guidance",
            "T1",
            "C1",
            Location(31.154, 121.40),
            60,
            (doctor_or_nurse,),
            window,
            Urgency.OPTIONAL,
            dt.date(2026, 12, 31),
            committee_id="K1",
            residents_served=8,
        ),
    )
    return Problem(WEEK, {"C1": centre}, (doctor, nurse), visits)


def small_plan() -> Plan:
    """A plan of the small problem: a joint visit, a home visit and one left out."""
    day = WEEK
    d1 = (
        Stop("health_check-R2", "D1", day, 1, 488, 490, 535, 8, 1.234),
        Stop("followup_80-R1", "D1", day, 2, 541, 541, 571, 6, 0.5678901, via_centre=True),
    )
    n1 = (Stop("health_check-R2", "N1", day, 1, 482, 490, 535, 12, 1.0),)
    return Plan(
        routes=(
            Route("D1", day, 480, 580, d1, 23, 2.9, 100, 0),
            Route("N1", day, 470, 1000, n1, 24, 2.0, 530, 10),
            Route("N1", day + dt.timedelta(days=1), 480, 480, (), 0, 0.0, 0, 0),
        ),
        unscheduled=(
            Unscheduled("medication_guidance-K1-1201", "no clinician free", "没有空闲的医护人员"),
        ),
        solve_seconds=1.5,
        objective=1234,
        status="OPTIMAL",
    )


REASONS = {"medication_guidance-K1-1201": ("no clinician free", "没有空闲的医护人员")}


def test_write_plan_then_read_plan_gives_the_same_plan(tmp_path: Path) -> None:
    """`homevisit check` reads back exactly the plan that was written."""
    plan = small_plan()
    write_plan(tmp_path, small_problem(), plan, {"visits_due": 3}, REASONS)
    assert read_plan(tmp_path, small_problem()) == plan


def test_plan_files_have_the_format_columns(tmp_path: Path) -> None:
    """plan.csv, routes.csv and unscheduled.csv start with the FORMAT.md columns, in order."""
    write_plan(tmp_path, small_problem(), small_plan(), {}, REASONS)

    def header(name: str) -> list[str]:
        with (tmp_path / name).open(encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle))

    assert header("plan.csv")[:15] == [
        "visit_id",
        "resident_id",
        "programme",
        "clinician_id",
        "team_id",
        "date",
        "sequence",
        "arrival",
        "start",
        "end",
        "travel_min",
        "travel_km",
        "committee_id",
        "via_centre",
        "urgency",
    ]
    assert header("routes.csv")[:12] == [
        "clinician_id",
        "date",
        "depart",
        "return",
        "visits",
        "travel_min",
        "travel_km",
        "work_min",
        "overtime_min",
        "team_id",
        "role",
        "travel_mode",
    ]
    assert header("unscheduled.csv")[:9] == [
        "visit_id",
        "resident_id",
        "programme",
        "due_by",
        "reason",
        "reason_zh",
        "committee_id",
        "urgency",
        "team_id",
    ]


def test_plan_rows_are_what_a_team_leader_reads(tmp_path: Path) -> None:
    """One row per clinician and stop, sorted, with HH:MM times and readable values."""
    write_plan(tmp_path, small_problem(), small_plan(), {}, REASONS)
    with (tmp_path / "plan.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["clinician_id"], r["sequence"], r["visit_id"]) for r in rows] == [
        ("D1", "1", "health_check-R2"),
        ("D1", "2", "followup_80-R1"),
        ("N1", "1", "health_check-R2"),
    ]
    first = rows[0]
    assert (first["arrival"], first["start"], first["end"]) == ("08:08", "08:10", "08:55")
    assert (first["team_id"], first["date"], first["urgency"]) == ("T1", "2026-11-30", "overdue")
    assert (first["travel_km"], first["via_centre"], first["committee_id"]) == (
        "1.234",
        "false",
        "",
    )
    assert rows[1]["via_centre"] == "true"
    with (tmp_path / "unscheduled.csv").open(encoding="utf-8-sig", newline="") as handle:
        (left,) = list(csv.DictReader(handle))
    assert (left["resident_id"], left["committee_id"], left["reason_zh"]) == (
        "",
        "K1",
        "没有空闲的医护人员",
    )
    assert left["due_by"] == "2026-12-31"


def test_plan_files_open_in_excel_with_chinese(tmp_path: Path) -> None:
    """CSV files carry a UTF-8 BOM (Excel on Windows), kpis.json keeps Chinese unescaped."""
    write_plan(tmp_path, small_problem(), small_plan(), {"note": "周计划"}, REASONS)
    for name in ("plan.csv", "routes.csv", "unscheduled.csv"):
        assert (tmp_path / name).read_bytes().startswith(b"\xef\xbb\xbf")
    text = (tmp_path / "kpis.json").read_text(encoding="utf-8")
    assert "周计划" in text
    kpis = json.loads(text)
    assert kpis["note"] == "周计划" and kpis["status"] == "OPTIMAL"
    assert math.isclose(kpis["solve_seconds"], 1.5)


def test_read_plan_reports_malformed_files(tmp_path: Path) -> None:
    """A hand-edited plan with a bad time and an unknown visit is explained, not a traceback."""
    write_plan(tmp_path, small_problem(), small_plan(), {}, REASONS)
    path = tmp_path / "plan.csv"
    text = path.read_text(encoding="utf-8-sig")
    text = text.replace("08:10", "8h10", 1).replace("followup_80-R1", "followup_80-R7")
    path.write_text(text, encoding="utf-8-sig")
    with pytest.raises(DatasetError) as caught:
        read_plan(tmp_path, small_problem())
    cells = {(p.file, p.row, p.column, p.value) for p in caught.value.problems}
    assert ("plan.csv", 2, "start", "8h10") in cells
    assert ("plan.csv", 3, "visit_id", "followup_80-R7") in cells


def test_read_plan_without_the_files(tmp_path: Path) -> None:
    """Checking an empty folder says which plan files are missing."""
    with pytest.raises(DatasetError) as caught:
        read_plan(tmp_path, small_problem())
    assert {p.file for p in caught.value.problems} == {"plan.csv", "routes.csv"}


# --- limits: what would tie up a server is refused in seconds (issue 11) ---------------------


def _limited(path: Path, limits: ReadLimits) -> tuple[InputProblem, ...]:
    with pytest.raises(DatasetError) as caught:
        read_dataset(path, limits)
    return caught.value.problems


def test_too_many_rows_is_one_problem_naming_the_file_and_the_limit(tmp_path: Path) -> None:
    """A register longer than the row limit is refused whole, not checked row by row."""
    tables = valid_tables()
    tables["history"] = [
        {"resident_id": "R1", "programme": "followup_80", "date": "2026-09-01"}
    ] * 20
    (problem,) = _limited(write_tables(tmp_path, tables), ReadLimits(max_rows=10))
    assert problem.file == "history.csv"
    assert "more than the 10 rows" in problem.message


def test_too_many_rows_in_a_workbook_stops_the_sheet(tmp_path: Path) -> None:
    """A sheet whose rows jump far down (blank rows between) counts them against the limit."""
    book = workbook_of(valid_tables())
    book["history"]["A5000"] = "R1"
    path = tmp_path / "register.xlsx"
    book.save(path)
    (problem,) = _limited(path, ReadLimits(max_rows=1000))
    assert problem.file == "register.xlsx, sheet history"
    assert "more than the 1,000 rows" in problem.message


def test_a_long_cell_is_refused_with_its_size_and_the_limit(tmp_path: Path) -> None:
    """The cell is named by row and column, its size and the limit given, its value cut short."""
    tables = valid_tables()
    tables["residents"][1]["name"] = "古美路" * 100
    (problem,) = _limited(write_tables(tmp_path, tables), ReadLimits(max_cell_chars=200))
    assert (problem.file, problem.row, problem.column) == ("residents.csv", 3, "name")
    assert "has 300 characters, more than the 200" in problem.message
    assert problem.value is not None and len(problem.value) < 80


def test_control_characters_are_refused_where_they_are(tmp_path: Path) -> None:
    """NUL, other control characters and bidi overrides: one problem each, nothing else said."""
    tables = valid_tables()
    tables["residents"][0]["name"] = "王\x00芳"
    tables["residents"][1]["name"] = "陈\u202e老伯"
    tables["clinicians"][0]["skills"] = "ecg\x07"
    problems = problems_of(write_tables(tmp_path, tables))
    found = {(p.file, p.row, p.column): p for p in problems}
    assert set(found) == {
        ("residents.csv", 2, "name"),
        ("residents.csv", 3, "name"),
        ("clinicians.csv", 2, "skills"),
    }, "\n".join(map(str, problems))
    assert "U+0000" in found[("residents.csv", 2, "name")].message
    assert found[("residents.csv", 2, "name")].value == "王\\u0000芳"
    assert "U+202E" in found[("residents.csv", 3, "name")].message


def test_line_breaks_and_tabs_in_a_cell_are_kept(tmp_path: Path) -> None:
    """A two-line address (Alt+Enter in Excel) is real data, not a control character."""
    tables = valid_tables()
    for row in tables["residents"]:
        row["address"] = "古美路1号\n3单元\t502室"
    data = read_dataset(write_tables(tmp_path, tables))
    assert {r.address for r in data.residents.values()} == {"古美路1号\n3单元\t502室"}


def test_reading_stops_at_the_time_limit(tmp_path: Path) -> None:
    """A read over its time budget stops with a problem saying so (checked every 1,024 rows)."""
    tables = valid_tables()
    tables["history"] = [
        {"resident_id": "R1", "programme": "followup_80", "date": "2026-09-01"}
    ] * 3000
    problems = _limited(write_tables(tmp_path, tables), ReadLimits(time_limit_s=1e-9))
    assert "reading took more than 1e-09 s and was stopped" in problems[-1].message


def test_reading_stops_when_cancelled(tmp_path: Path) -> None:
    """A server shutting down stops a long read (the ``cancelled`` callback)."""
    tables = valid_tables()
    tables["history"] = [
        {"resident_id": "R1", "programme": "followup_80", "date": "2026-09-01"}
    ] * 3000
    with pytest.raises(DatasetError) as caught:
        read_dataset(write_tables(tmp_path, tables), cancelled=lambda: True)
    assert "cancelled" in caught.value.problems[-1].message


def test_a_workbook_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    """The declared sizes of a zip may lie: what a member really unpacks to is counted too."""
    import zipfile

    path = tmp_path / "register.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b" " * 3_000_000 + b"</a>")
    data = bytearray(path.read_bytes())
    # Shrink the declared size (central directory and local header) to 100 bytes.
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.find(signature)
        data[at + offset : at + offset + 4] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    (problem,) = _limited(path, ReadLimits())
    assert problem.file == "register.xlsx"
    assert "cannot be read as .xlsx" in problem.message


def test_the_unpacked_size_of_a_workbook_is_bounded(tmp_path: Path) -> None:
    """A workbook unpacking to more than the limit is refused before openpyxl opens it."""
    import zipfile

    path = tmp_path / "register.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bytes(range(256)) * 8192)  # 2 MB
    (problem,) = _limited(path, ReadLimits(max_unpacked_bytes=1024 * 1024))
    assert "unpacks to 2.0 MB, more than the 1 MB a workbook may unpack to" in problem.message


def test_a_header_of_many_columns_is_refused_without_reading_further(tmp_path: Path) -> None:
    """The width of the first row is checked before the file is parsed."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "centres.csv").write_text(",".join(f"c{i}" for i in range(600)) + "\n")
    (problem,) = _limited(folder, ReadLimits())
    assert (problem.file, problem.row) == ("centres.csv", 1)
    assert "has 600 columns, more than the 500" in problem.message
