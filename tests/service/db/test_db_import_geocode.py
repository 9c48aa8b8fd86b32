"""Import of residents given by address only: geocoded into a copy, then imported all or nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from scheduler.dataset import DatasetError
from service.cli import app
from service.db.importer import import_dataset
from service.db.tables import GeocodeRow, ResidentRow
from service.settings import Settings, get_settings
from tests.service.db.conftest import Database, dump_rows, read_tables, write_tables

runner = CliRunner()

GUMEI = "上海市闵行区古美路100号"
PINGYANG = "上海市闵行区平阳路1124弄5号"
FULL_WIDTH = "上海市闵行区平阳路１１２４弄５号"  # the same address once normalised


def _blank(folder: Path, addresses: dict[int, str], crs: str | None = None) -> None:
    """Empty lat/lon of the residents at these 0-based positions and set their address."""
    tables = read_tables(folder)
    residents = tables["residents"]
    if crs is not None:
        residents["crs"] = ""
    for index, address in addresses.items():
        residents.loc[index, ["lat", "lon", "address"]] = ["", "", address]
        if crs is not None:
            residents.loc[index, "crs"] = crs
    write_tables({"residents": residents}, folder)


def _resident(db: Database, resident_id: str) -> ResidentRow:
    with Session(db.engine) as session:
        row = session.get(ResidentRow, resident_id)
        assert row is not None
        return row


def _registers(db: Database) -> dict[str, object]:
    return {k: v for k, v in dump_rows(db.engine).items() if k != "geocode_cache"}


def test_addresses_are_geocoded_before_the_import(
    db: Database, dataset_copy: Path, nominatim: Settings, nominatim_queries: list[str]
) -> None:
    """Rows with an address and no lat/lon are placed (WGS-84, crs overridden); cache reused."""
    _blank(dataset_copy, {0: PINGYANG, 1: FULL_WIDTH, 2: GUMEI}, crs="gcj02")
    before = (dataset_copy / "residents.csv").read_bytes()
    summary = import_dataset(db.engine, dataset_copy, nominatim)
    assert (summary.geocoded, summary.geocode_looked_up, summary.geocode_from_cache) == (3, 2, 1)
    assert "geocoded: 3 resident(s) placed by address (2 looked up, 1 from the cache)" in (
        summary.lines()
    )
    placed = _resident(db, "MH03-R00002")
    assert (placed.lat, placed.lon, placed.address) == (31.1523, 121.3954, FULL_WIDTH)
    assert (_resident(db, "MH03-R00003").lat, _resident(db, "MH03-R00003").lon) == (
        31.1490,
        121.3960,
    )
    assert (dataset_copy / "residents.csv").read_bytes() == before  # the original is untouched
    nominatim_queries.clear()
    again = import_dataset(db.engine, dataset_copy, nominatim)
    assert nominatim_queries == []  # every address came from the cache
    assert (again.geocoded, again.geocode_looked_up, again.tables["residents"].updated) == (3, 0, 0)


def test_unplaced_addresses_are_problems_and_nothing_is_imported(
    db: Database, dataset_copy: Path, nominatim: Settings, nominatim_queries: list[str]
) -> None:
    """Unknown and foreign addresses are listed with the reader's other problems; no register."""
    _blank(dataset_copy, {0: "火星路1号", 1: "Paris", 2: GUMEI, 3: ""})
    tables = read_tables(dataset_copy)
    tables["residents"].loc[4, "birth_date"] = "1949-13-40"
    write_tables({"residents": tables["residents"]}, dataset_copy)
    before = _registers(db)
    with pytest.raises(DatasetError) as failure:
        import_dataset(db.engine, dataset_copy, nominatim)
    shown = [p.text_en for p in failure.value.problems]
    fix = "give lat/lon or a fuller address"
    assert shown[:2] == [
        "residents.csv, row 2, column address, value '火星路1号': could not be geocoded "
        f"(nominatim knows no place in China by this address): {fix}",
        "residents.csv, row 3, column address, value 'Paris': could not be geocoded "
        f"(nominatim knows no place in China by this address): {fix}",
    ]
    assert any(s.startswith("residents.csv, row 5, column lat, value '': is empty") for s in shown)
    assert any("row 6, column birth_date" in s for s in shown)
    assert not any("row 4," in s for s in shown)  # the Gumei address was placed
    assert failure.value.problems[0].message_zh == (
        "无法由地址得到坐标（nominatim 在中国找不到这个地址）："
        "请填写纬度/经度（lat/lon），或写更完整的地址"
    )
    assert len(shown) == 5  # row 5: lat and lon both empty, no address (the reader's own)
    assert _registers(db) == before
    with Session(db.engine) as session:  # the answers are kept: fixing a row sends no others
        assert session.query(GeocodeRow).count() == 3
    assert sorted(nominatim_queries) == sorted(["火星路1号", "Paris", GUMEI])


def test_geocoding_switched_off_names_the_setting(
    db: Database, dataset_copy: Path, nominatim: Settings, nominatim_queries: list[str]
) -> None:
    """With HOMEVISIT_GEOCODER=none no address is sent; such rows are errors naming the setting."""
    _blank(dataset_copy, {0: GUMEI})
    off = nominatim.model_copy(update={"geocoder": "none"})
    with pytest.raises(DatasetError) as failure:
        import_dataset(db.engine, dataset_copy, off)
    assert [p.text_en for p in failure.value.problems] == [
        f"residents.csv, row 2, column address, value '{GUMEI}': could not be geocoded "
        "(geocoding is switched off by HOMEVISIT_GEOCODER=none): give lat/lon, or set "
        "HOMEVISIT_GEOCODER to nominatim, amap or baidu"
    ]
    assert nominatim_queries == []


def test_xlsx_workbook_without_coordinate_columns(
    db: Database, small_dataset: Path, tmp_path: Path, nominatim: Settings
) -> None:
    """A workbook whose residents sheet (Chinese name) has addresses but no lat/lon columns."""
    tables = read_tables(small_dataset)
    residents = tables["residents"].head(2).drop(columns=["lat", "lon"])
    residents["address"] = [PINGYANG, GUMEI]
    tables["residents"] = residents
    tables["history"] = tables["history"][
        tables["history"]["resident_id"].isin(residents["resident_id"])
    ]
    tables["requests"] = tables["requests"].head(0)
    tables["sickbeds"] = tables["sickbeds"].head(0)
    book = tmp_path / "register.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        for stem, frame in tables.items():
            frame.to_excel(writer, sheet_name="居民" if stem == "residents" else stem, index=False)
    summary = import_dataset(db.engine, book, nominatim)
    assert summary.geocoded == 2
    assert (_resident(db, "MH03-R00002").lat, _resident(db, "MH03-R00002").lon) == (
        31.1490,
        121.3960,
    )


def test_an_address_under_a_chinese_header_is_named_as_written(
    db: Database, small_dataset: Path, tmp_path: Path, nominatim: Settings
) -> None:
    """A 住址 the geocoder cannot place is reported under 住址 (not address), in both languages."""
    tables = read_tables(small_dataset)
    residents = tables["residents"].head(1).drop(columns=["lat", "lon"])
    residents["address"] = ["火星路1号"]
    tables["residents"] = residents.rename(columns={"address": "住址", "name": "姓名"})
    for stem in ("history", "requests", "sickbeds"):  # of residents no longer in the cut
        if stem in tables:
            tables[stem] = tables[stem].head(0)
    book = tmp_path / "档案.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        for stem, frame in tables.items():
            frame.to_excel(writer, sheet_name="居民" if stem == "residents" else stem, index=False)
    with pytest.raises(DatasetError) as failure:
        import_dataset(db.engine, book, nominatim)
    (problem,) = failure.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "档案.xlsx, sheet 居民",
        2,
        "住址",
        "火星路1号",
    )
    assert problem.message_zh.startswith("无法由地址得到坐标（nominatim 在中国找不到这个地址）")


def test_cli_import_reports_geocoding(
    db: Database,
    dataset_copy: Path,
    nominatim: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI prints the geocoding line, and an unplaced address as a problem (exit 2)."""
    for name in ("geocoder_domain", "geocoder_scheme", "geocoder_min_delay_s"):
        monkeypatch.setenv(f"HOMEVISIT_{name.upper()}", str(getattr(nominatim, name)))
    get_settings.cache_clear()
    try:
        _blank(dataset_copy, {0: GUMEI})
        result = runner.invoke(app, ["import", str(dataset_copy), "--database-url", db.url])
        assert result.exit_code == 0, result.output
        assert "geocoded: 1 resident(s) placed by address (1 looked up, 0 from the cache)" in (
            result.output
        )
        _blank(dataset_copy, {1: "火星路1号"})
        result = runner.invoke(app, ["import", str(dataset_copy), "--database-url", db.url])
        assert result.exit_code == 2
        assert "1 problem(s); nothing was imported" in result.output
        assert "row 3, column address, value '火星路1号': could not be geocoded" in result.output
        assert "Traceback" not in result.output
    finally:
        get_settings.cache_clear()
