"""Coordinates for residents given by address only, filled in before a dataset is read.

:func:`scheduler.dataset.read_dataset` needs ``lat``/``lon`` on every resident. A register may
instead give an ``address`` and leave both empty: :func:`prepare` finds those rows (in
``residents.csv`` of a folder, or the residents sheet of an ``.xlsx`` workbook; English or Chinese
headers, read with the format's own mapping, :mod:`scheduler.dataset.schema`), looks the addresses
up through the configured geocoder and its cache, and writes a copy of the dataset
with the coordinates filled in (WGS-84, ``crs`` = ``wgs84`` on those rows). The original files
are never changed. Rows that cannot be placed stay empty in the copy and are reported as
problems of the ``address`` cell, in the reader's format, in place of its "lat is empty".
"""

from __future__ import annotations

import csv
import io
import logging
import math
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.dataset import DatasetError, InputProblem, canonical_table
from scheduler.dataset.schema import WORKBOOK_SUFFIXES, header_columns
from scheduler.dataset.sources import csv_files
from scheduler.messages import Message
from service.db.geocode import AddressResolver, GeocodingOffError, Lookup, make_lookup
from service.settings import Settings

__all__ = ["GeocodeFill", "Pending", "find_pending", "merge_problems", "prepare"]

log = logging.getLogger(__name__)

_COPIED_SUFFIXES = (".csv", ".yaml", ".yml")
_EMPTY_COORDINATE_COLUMNS = ("lat", "lon")
_FIX = Message("geocode.fix_address")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


@dataclass(slots=True)
class Pending:
    """The residents table of a dataset and its rows waiting for coordinates.

    ``rows`` maps a row number (as problems name it) to its address; ``grid`` holds the whole
    table (CSV) and ``book``/``sheet`` the workbook, to write the copy from.
    """

    source: Path
    file: str  # how problems name the table
    header_row: int
    columns: dict[str, int]  # English column -> 0-based index
    rows: dict[int, str]
    grid: list[list[str]] = field(default_factory=list)  # CSV only
    csv_path: Path | None = None
    book: Any = None  # openpyxl workbook (xlsx only)
    sheet: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # English column -> header as written


@dataclass(slots=True)
class GeocodeFill:
    """The outcome of :func:`prepare`: the dataset to read and what geocoding did."""

    path: Path
    placed: dict[int, tuple[float, float]] = field(default_factory=dict)
    problems: dict[int, InputProblem] = field(default_factory=dict)
    looked_up: int = 0
    from_cache: int = 0
    residents_file: str = ""


def _scan(
    rows: Iterable[tuple[int, list[str]]],
) -> tuple[int, dict[str, int], dict[int, str], dict[str, str]]:
    """Header row, columns, the rows with an address but neither lat nor lon, and the headers
    as written (English column -> header)."""
    header_row = 0
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    waiting: dict[int, str] = {}
    for number, cells in rows:
        if not header_row:
            if any(cells):
                header_row = number
                found = header_columns(cells)  # the reader's own mapping: both agree on a file
                columns.update({name: index for name, (index, _) in found.items()})
                headers.update({name: raw for name, (_, raw) in found.items()})
                if "address" not in columns:
                    return header_row, columns, {}, headers
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            return cells[index] if index is not None and index < len(cells) else ""

        address = cell("address")
        if address and not any(cell(c) for c in _EMPTY_COORDINATE_COLUMNS):
            waiting[number] = address
    return header_row, columns, waiting, headers


def _find_csv(folder: Path) -> Pending | None:
    path = csv_files(folder).get("residents")
    if path is None:
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")
        grid = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None  # the reader reports it
    header_row, columns, waiting, headers = _scan((i + 1, row) for i, row in enumerate(grid))
    if not waiting or any(len(row) > len(grid[header_row - 1]) for row in grid):
        return None  # nothing to do, or a row the reader will refuse anyway
    return Pending(
        folder,
        path.name,
        header_row,
        columns,
        waiting,
        grid=grid,
        csv_path=path,
        headers=headers,
    )


def _find_xlsx(path: Path) -> Pending | None:
    import openpyxl

    # A streaming look first: most workbooks carry coordinates, and only one waiting for them is
    # loaded whole (to be written back with the coordinates filled in).
    try:
        stream = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:
        return None
    try:
        found = next(
            (s for s in stream.worksheets if canonical_table(s.title) == "residents"), None
        )
        if found is None:
            return None
        found.reset_dimensions()
        _, _, waiting, _ = _scan(
            (number, [_text(v) for v in values])
            for number, values in enumerate(found.iter_rows(values_only=True), start=1)
        )
    except Exception:
        return None  # the reader reports a damaged sheet
    finally:
        stream.close()
    if not waiting:
        return None
    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception:
        return None
    sheet = next((s for s in book.worksheets if canonical_table(s.title) == "residents"), None)
    if sheet is None:
        return None
    rows = (
        (number, [_text(v) for v in values])
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
    )
    header_row, columns, waiting, headers = _scan(rows)
    if not waiting:
        return None
    file = f"{path.name}, sheet {sheet.title}"
    return Pending(
        path, file, header_row, columns, waiting, book=book, sheet=sheet, headers=headers
    )


def find_pending(path: Path) -> Pending | None:
    """The residents waiting for coordinates in the dataset at ``path``, or ``None`` if none.

    Anything unreadable is left to :func:`scheduler.dataset.read_dataset` to report.
    """
    path = Path(path)
    if path.is_dir():
        return _find_csv(path)
    if path.is_file() and path.suffix.lower() in WORKBOOK_SUFFIXES:
        return _find_xlsx(path)
    return None


def _geocode(pending: Pending, engine: Engine, settings: Settings, fill: GeocodeFill) -> None:
    def problem(number: int, reason: Message, fix: Message = _FIX) -> InputProblem:
        return InputProblem.of(
            pending.file,
            number,
            pending.headers.get("address", "address"),  # as the register's header says it
            pending.rows[number],
            Message("geocode.not_placed", {"why": reason, "fix": fix}),
        )

    lookup: Lookup
    try:
        provider, lookup = make_lookup(settings)
    except GeocodingOffError:
        off = Message("geocode.off", {"setting": "HOMEVISIT_GEOCODER=none"})
        for number in pending.rows:
            fill.problems[number] = problem(number, off, Message("geocode.fix_switch_on"))
        return
    except ValueError as exc:
        for number in pending.rows:
            fill.problems[number] = problem(
                number, Message("geocode.setup", {"error": exc}), Message("geocode.fix_configure")
            )
        return
    with Session(engine) as session:
        resolver = AddressResolver(session, provider, lookup, commit_each=True)
        for number, address in pending.rows.items():
            answer = resolver.resolve(address)
            fill.from_cache += answer.cached
            if answer.location is not None:
                fill.placed[number] = answer.location
            elif answer.error:
                failed = Message("geocode.failed", {"error": answer.error})
                fill.problems[number] = problem(number, failed, Message("geocode.fix_retry"))
            else:
                unknown = Message("geocode.no_place", {"provider": provider})
                fill.problems[number] = problem(number, unknown)
        session.commit()
        fill.looked_up = resolver.looked_up


def _write_csv_copy(pending: Pending, fill: GeocodeFill, out: Path) -> None:
    assert pending.csv_path is not None
    for child in pending.source.iterdir():
        if (
            child.is_file()
            and child.suffix.lower() in _COPIED_SUFFIXES
            and child != pending.csv_path
        ):
            shutil.copy2(child, out / child.name)
    grid = [list(row) for row in pending.grid]
    header = grid[pending.header_row - 1]
    columns = dict(pending.columns)
    for name in ("lat", "lon", "crs"):
        if name not in columns:
            columns[name] = len(header)
            header.append(name)
    for number, (lat, lon) in fill.placed.items():
        row = grid[number - 1]
        row.extend([""] * (len(header) - len(row)))
        row[columns["lat"]], row[columns["lon"]], row[columns["crs"]] = (
            repr(lat),
            repr(lon),
            "wgs84",
        )
    with (out / pending.csv_path.name).open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(grid)


def _write_xlsx_copy(pending: Pending, fill: GeocodeFill, out: Path) -> None:
    """The workbook as read (formulas as their values) with the coordinates filled in."""
    sheet = pending.sheet
    columns = dict(pending.columns)
    width = sheet.max_column
    for name in ("lat", "lon", "crs"):
        if name not in columns:
            columns[name] = width
            sheet.cell(row=pending.header_row, column=width + 1, value=name)
            width += 1
    for number, (lat, lon) in fill.placed.items():
        sheet.cell(row=number, column=columns["lat"] + 1, value=lat)
        sheet.cell(row=number, column=columns["lon"] + 1, value=lon)
        sheet.cell(row=number, column=columns["crs"] + 1, value="wgs84")
    pending.book.save(out)


def prepare(pending: Pending, engine: Engine, settings: Settings, workdir: Path) -> GeocodeFill:
    """Geocode the pending rows and write the filled copy of the dataset under ``workdir``.

    Answers go to the geocode cache as they come (committed one by one, so an address is never
    sent twice, even when the import then fails for another reason).
    """
    copy = workdir / pending.source.name
    if pending.csv_path is not None:
        copy.mkdir(parents=True)
    fill = GeocodeFill(copy, residents_file=pending.file)
    _geocode(pending, engine, settings, fill)
    if pending.csv_path is not None:
        _write_csv_copy(pending, fill, copy)
    else:
        _write_xlsx_copy(pending, fill, copy)
    log.info(
        "geocoding for import: %d placed, %d looked up, %d from cache, %d failed",
        len(fill.placed),
        fill.looked_up,
        fill.from_cache,
        len(fill.problems),
    )
    return fill


def merge_problems(fill: GeocodeFill, error: DatasetError | None) -> DatasetError | None:
    """The reader's problems with "lat/lon is empty" of unplaced rows replaced by the reason."""
    if not fill.problems:
        return error
    merged: list[InputProblem] = []
    shown: set[int] = set()
    for p in error.problems if error is not None else ():
        number = p.row
        if (
            p.file == fill.residents_file
            and number in fill.problems
            and p.column in _EMPTY_COORDINATE_COLUMNS
        ):
            if number not in shown:
                merged.append(fill.problems[number])
                shown.add(number)
            continue
        merged.append(p)
    merged += [p for number, p in fill.problems.items() if number not in shown]
    return DatasetError(merged)
