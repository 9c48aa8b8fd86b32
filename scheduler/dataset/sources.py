"""Where a dataset's tables come from: a folder of CSV files (UTF-8 text decoded, its problems
named) or an ``.xlsx`` workbook with one sheet per file, each made a table of text cells.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scheduler.cells import restore_cell
from scheduler.dataset.limits import (
    ReadLimits,
    _CancelledError,
    _Deadline,
    _first_row_width,
    _OutOfTimeError,
    _too_many_columns,
    _too_many_rows,
)
from scheduler.dataset.problems import InputProblem, _file_problem
from scheduler.dataset.schema import (
    _ALIASES,
    _PRIMARY_ZH,
    WORKBOOK_SUFFIXES,
    _nfkc,
    canonical_column,
    canonical_table,
)
from scheduler.dataset.values import _cell_text, _visible, invisible_character
from scheduler.messages import Message

__all__ = ["Row", "Table", "csv_files", "read_tables"]


# --- raw tables ------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    number: int  # as a spreadsheet shows it
    cells: dict[str, str]
    # Columns whose cell was refused (too long, a control character): reported once, and emptied
    # so that no parser sees the text.
    refused: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Table:
    file: str
    columns: frozenset[str]
    rows: list[Row]
    deadline: _Deadline | None = None
    headers: dict[str, str] = field(default_factory=dict)  # column -> header as written
    chinese: bool = False  # some headers are Chinese: name absent columns in Chinese too

    def header(self, column: str) -> str:
        """How messages name ``column``: as the file's header says it, else in its language."""
        written = self.headers.get(column)
        if written is not None:
            return written
        chinese = _PRIMARY_ZH.get(column) if self.chinese else None
        return f"{chinese} ({column})" if chinese else column


def _table_from_grid(
    file: str,
    grid: Iterable[tuple[int, Sequence[object]]],
    problems: list[InputProblem],
    limits: ReadLimits | None = None,
    deadline: _Deadline | None = None,
) -> Table | None:
    """A table from ``(row number, cells)`` rows: the first non-empty row is the header.

    Cells longer than ``limits.max_cell_chars`` or holding a control character are problems of
    their row and column; more than ``limits.max_rows`` rows or ``max_columns`` columns end the
    reading of the file with one problem.
    """
    limits = limits or ReadLimits()
    rows: list[tuple[int, list[str]]] = []
    for number, cells in grid:
        if len(cells) > limits.max_columns:
            width = max(
                (i + 1 for i, v in enumerate(cells) if v is not None and v != ""), default=0
            )
            if width > limits.max_columns:
                problems.append(_too_many_columns(file, number, width, limits))
                return None
        if number > limits.max_rows + 1:  # blank rows count: a sheet may skip a million
            problems.append(_too_many_rows(file, limits))
            return None
        # A quote our own writers put before a formula-like text is taken away (scheduler.cells).
        texts = [restore_cell(_cell_text(v)).strip() for v in cells[: limits.max_columns]]
        if any(texts):
            rows.append((number, texts))
        if deadline is not None and number % 1024 == 0:
            deadline.check()
    if not rows:
        problems.append(_file_problem(file, Message("register.no_header")))
        return None
    header_number, header = rows[0]
    if len([h for h in header if h]) == 1 and any(sep in header[0] for sep in ";\t"):
        separator, separator_zh = ("semicolons", "分号") if ";" in header[0] else ("tabs", "制表符")
        message = Message(
            "register.separator", {"separator": separator, "separator_zh": separator_zh}
        )
        problems.append(InputProblem.of(file, header_number, None, header[0], message))
        return None
    names: dict[int, str] = {}
    first_index: dict[str, int] = {}  # column -> its first index: one look-up per header cell
    headers: dict[str, str] = {}  # column -> the header as the user wrote it
    for index, raw in enumerate(header):
        if not raw:
            continue
        if _cell_problem(file, header_number, None, raw, limits, problems):
            continue
        name = canonical_column(raw)
        if name in first_index:
            first = first_index[name]
            both = {
                "name": name,
                "first": _column_letter(first),
                "first_header": headers[name],
                "second": _column_letter(index),
                "second_header": raw,
            }
            message = Message("register.two_headers", both)
            problems.append(InputProblem.of(file, header_number, headers[name], raw, message))
            continue
        first_index[name] = index
        names[index] = name
        headers[name] = raw
    table_rows = []
    for number, cells in rows[1:]:
        row = Row(number, {name: cells[i] if i < len(cells) else "" for i, name in names.items()})
        for name, text in row.cells.items():
            if _cell_problem(file, number, headers[name], text, limits, problems):
                row.cells[name] = ""
                row.refused.add(name)
        table_rows.append(row)
    chinese = any(_nfkc(raw) in _ALIASES for raw in headers.values())
    return Table(
        file, frozenset(names.values()), table_rows, deadline, headers=headers, chinese=chinese
    )


def _cell_problem(
    file: str,
    row: int,
    column: str | None,
    text: str,
    limits: ReadLimits,
    problems: list[InputProblem],
) -> bool:
    """Record a problem if the cell is longer than the limit or holds a control character."""
    if len(text) > limits.max_cell_chars:
        size = {"count": f"{len(text):,}", "limit": f"{limits.max_cell_chars:,}"}
        message = Message("register.cell_too_long", size)
        problems.append(InputProblem.of(file, row, column, _visible(text), message))
        return True
    reason = invisible_character(text)
    if reason is None:
        return False
    problems.append(InputProblem.of(file, row, column, _visible(text), reason))
    return True


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _decode(data: bytes, file: str, problems: list[InputProblem]) -> str | None:
    """UTF-8 text (BOM or not), or ``None`` with a problem saying what the file looks like."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row: int | None = data[: exc.start].count(b"\n") + 1
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            message = Message("register.utf16")
            row = None
        else:
            try:
                data.decode("gb18030")
                message = Message("register.gbk")
            except UnicodeDecodeError:
                message = Message("register.not_utf8")
        problems.append(InputProblem.of(file, row, None, None, message))
        return None


def _read_csv_text(
    text: str,
    file: str,
    problems: list[InputProblem],
    limits: ReadLimits | None = None,
    deadline: _Deadline | None = None,
) -> Table | None:
    limits = limits or ReadLimits()
    width = _first_row_width(io.StringIO(text, newline=""))
    if width > limits.max_columns:
        problems.append(_too_many_columns(file, 1, width, limits))
        return None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            nrows=limits.max_rows + 2,  # one more than may come: enough to tell it is too long
        )
    except pd.errors.EmptyDataError:
        problems.append(_file_problem(file, Message("register.no_header")))
        return None
    except (pd.errors.ParserError, ValueError) as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            message = Message("register.row_width", {"cells": found[3], "columns": found[1]})
            problems.append(InputProblem.of(file, int(found[2]), None, None, message))
        else:
            problems.append(_file_problem(file, Message("register.bad_csv", {"error": exc})))
        return None
    if len(frame) > limits.max_rows + 1:
        problems.append(_too_many_rows(file, limits))
        return None
    cells: list[list[object]] = frame.fillna("").to_numpy(dtype=object).tolist()
    grid = [(index + 1, values) for index, values in enumerate(cells)]
    return _table_from_grid(file, grid, problems, limits, deadline)


def _read_csv(
    path: Path,
    problems: list[InputProblem],
    limits: ReadLimits | None = None,
    deadline: _Deadline | None = None,
) -> Table | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(_file_problem(path.name, Message("register.unreadable", {"error": exc})))
        return None
    text = _decode(data, path.name, problems)
    return None if text is None else _read_csv_text(text, path.name, problems, limits, deadline)


def csv_files(folder: Path) -> dict[str, Path]:
    """The CSV files of a dataset folder by the table each stands for (``居民.csv`` ->
    ``residents``); of two files naming one table, the first by name counts."""
    files: dict[str, Path] = {}
    for child in sorted(folder.iterdir()):
        if child.is_file() and child.suffix.lower() == ".csv":
            files.setdefault(canonical_table(child.stem), child)
    return files


class _Source:
    """Where the tables come from: a folder of CSV files or a workbook (read as a stream)."""

    def __init__(
        self, path: Path, problems: list[InputProblem], limits: ReadLimits, deadline: _Deadline
    ) -> None:
        self.path = path
        self.problems = problems
        self.limits = limits
        self.deadline = deadline
        self.is_workbook = path.suffix.lower() in WORKBOOK_SUFFIXES
        self._files: dict[str, Path] = {}
        self._sheets: dict[str, Any] = {}
        self._book: Any = None
        if self.is_workbook:
            self._open_workbook()
        else:
            self._files = csv_files(path)

    def _open_workbook(self) -> None:
        import openpyxl  # only needed for workbooks

        try:
            # Read-only: rows stream from the archive one at a time, so memory stays flat and
            # the limits can stop a sheet part-way.
            self._book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            self.problems.append(
                _file_problem(self.path.name, Message("register.not_xlsx", {"error": exc}))
            )
            return
        for sheet in self._book.worksheets:
            self._sheets.setdefault(canonical_table(sheet.title), sheet)

    def close(self) -> None:
        if self._book is not None:
            self._book.close()

    def name(self, stem: str) -> str:
        """How problems name a table."""
        if self.is_workbook:
            sheet = self._sheets.get(stem)
            return f"{self.path.name}, sheet {sheet.title if sheet is not None else stem}"
        path = self._files.get(stem)
        return path.name if path is not None else f"{stem}.csv"

    def has(self, stem: str) -> bool:
        return stem in (self._sheets if self.is_workbook else self._files)

    def missing_message(self, stem: str) -> Message:
        if self.is_workbook:
            sheets = ", ".join(str(s.title) for s in self._sheets.values()) or "none"
            return Message("register.no_sheet", {"sheet": stem, "sheets": sheets})
        return Message("register.required_file")

    def table(self, stem: str) -> Table | None:
        if self.is_workbook:
            sheet = self._sheets[stem]
            sheet.reset_dimensions()  # rows as stored, not padded to a (possibly false) width
            try:
                return _table_from_grid(
                    self.name(stem),
                    enumerate(sheet.iter_rows(values_only=True), start=1),
                    self.problems,
                    self.limits,
                    self.deadline,
                )
            except (_OutOfTimeError, _CancelledError):
                raise
            except Exception as exc:  # a damaged sheet: openpyxl raises many kinds
                self.problems.append(
                    _file_problem(self.name(stem), Message("register.unreadable", {"error": exc}))
                )
                return None
        return _read_csv(self._files[stem], self.problems, self.limits, self.deadline)


def read_tables(
    path: Path,
    stems: Iterable[str],
    limits: ReadLimits,
    cancelled: Callable[[], bool] | None = None,
) -> dict[str, Table]:
    """The tables ``stems`` of the dataset at ``path`` (a folder or a workbook) as text: each
    row with its number and the headers as written, for a caller that checks what the reader
    does not (a team leader's upload).

    A table that is absent or cannot be read is left out, and reading stops (with the tables
    read so far) once ``limits.time_limit_s`` is spent or ``cancelled()`` says so: what is wrong
    is :func:`~scheduler.dataset.read_dataset`'s to report.
    """
    ignored: list[InputProblem] = []  # the reader reports these itself
    source = _Source(path, ignored, limits, _Deadline(limits.time_limit_s, cancelled))
    tables: dict[str, Table] = {}
    try:
        for stem in stems:
            if not source.has(stem):
                continue
            try:
                table = source.table(stem)
            except (_OutOfTimeError, _CancelledError):
                break
            if table is not None:
                tables[stem] = table
    finally:
        source.close()
    return tables
