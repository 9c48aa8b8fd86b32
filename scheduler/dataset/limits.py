"""How much a dataset may hold (:class:`ReadLimits`), checked before anything parses it
(:func:`check_dataset_limits`), and the time budget of one read."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final

from scheduler.dataset.problems import DatasetError, InputProblem, _file_problem
from scheduler.dataset.schema import DATASET_SUFFIXES, WORKBOOK_SUFFIXES
from scheduler.messages import Message

__all__ = ["ReadLimits", "check_dataset_limits"]


_MB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How much a dataset may hold; anything beyond is refused in seconds, before it is parsed.

    The defaults hold a whole district's registers (its largest file is about 7 MB, its history
    183,000 rows) with room to spare, and refuse what would tie up a server: a header of a million
    columns, a workbook that unpacks to gigabytes, a cell holding a book. The service passes its
    settings (``HOMEVISIT_IMPORT_*``); the core never reads the environment.

    ``max_compression_ratio`` applies to workbook members larger than 1 MB unpacked: a real
    sheet packs 5-20 times, a zip bomb hundreds of times. ``time_limit_s`` is a backstop behind
    the others: it bounds the reading and checking of the rows (the district as one workbook
    takes 170 s on a busy machine; parsing a CSV file is bounded by its size).
    """

    max_file_bytes: int = 32 * _MB
    max_total_bytes: int = 48 * _MB
    max_unpacked_bytes: int = 100 * _MB
    max_compression_ratio: float = 100.0
    max_columns: int = 500
    max_rows: int = 1_000_000
    max_cell_chars: int = 2_000
    time_limit_s: float = 600.0

    def __post_init__(self) -> None:
        for limit in fields(self):
            if not getattr(self, limit.name) > 0:
                raise ValueError(f"the read limit {limit.name} must be positive")


def _mb(size: int) -> str:
    return f"{size / _MB:.1f} MB"


class _OutOfTimeError(Exception):
    """Reading took longer than :attr:`ReadLimits.time_limit_s`."""


class _CancelledError(Exception):
    """The caller asked the read to stop (e.g. the server is shutting down)."""


class _Deadline:
    """The time budget of one read: :meth:`check` raises :class:`_OutOfTimeError` once spent,
    or :class:`_CancelledError` once ``cancelled()`` says so."""

    __slots__ = ("cancelled", "end")

    def __init__(self, limit_s: float, cancelled: Callable[[], bool] | None = None) -> None:
        self.end = time.monotonic() + limit_s
        self.cancelled = cancelled

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise _OutOfTimeError
        if self.cancelled is not None and self.cancelled():
            raise _CancelledError


def _too_many_columns(file: str, row: int | None, count: int, limits: ReadLimits) -> InputProblem:
    message = Message(
        "register.too_many_columns", {"count": f"{count:,}", "limit": f"{limits.max_columns:,}"}
    )
    return InputProblem.of(file, row, None, None, message)


def _too_many_rows(file: str, limits: ReadLimits) -> InputProblem:
    return _file_problem(file, Message("register.too_many_rows", {"limit": f"{limits.max_rows:,}"}))


def _dataset_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in DATASET_SUFFIXES
        )
    return [path] if path.is_file() else []


def check_dataset_limits(path: Path, limits: ReadLimits) -> None:
    """Refuse at once what is too large to read, before anything parses it.

    Checks each file's size and their total, a workbook's unpacked size (each member's declared
    size, its compression ratio, then the bytes it really unpacks to) and the width of each CSV
    file's first row. :func:`read_dataset` calls it first; a caller that opens the files itself
    beforehand (the service's geocoding) calls it before that.

    Raises :class:`DatasetError` naming each file, its size and the limit.
    """
    path = Path(path)
    files = _dataset_files(path)
    problems: list[InputProblem] = []
    for file in files:
        size = file.stat().st_size
        if size > limits.max_file_bytes:
            limit = f"{limits.max_file_bytes / _MB:g}"
            message = Message("register.file_too_big", {"size": _mb(size), "limit": limit})
            problems.append(_file_problem(file.name, message))
    total = sum(file.stat().st_size for file in files)
    if not problems and total > limits.max_total_bytes:
        limit = f"{limits.max_total_bytes / _MB:g}"
        message = Message("register.files_too_big", {"size": _mb(total), "limit": limit})
        problems.append(_file_problem(path.name, message))
    if problems:
        raise DatasetError(problems)
    for file in files:
        if file.suffix.lower() in WORKBOOK_SUFFIXES:
            problems += _check_workbook_archive(file, limits)
        elif file.suffix.lower() == ".csv":
            problems += _check_csv_width(file, limits)
    if problems:
        raise DatasetError(problems)


def _check_csv_width(path: Path, limits: ReadLimits) -> list[InputProblem]:
    """The first row's width: the CSV parser makes every row that wide (a later, wider row is
    refused by the parser at once), so a header of a million columns must stop here."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            width = _first_row_width(handle)
    except OSError:
        return []  # the reader reports an unreadable file
    if width > limits.max_columns:
        return [_too_many_columns(path.name, 1, width, limits)]
    return []


_UNPACK_CHUNK: Final = _MB


def _check_workbook_archive(path: Path, limits: ReadLimits) -> list[InputProblem]:
    """A workbook is a zip archive: refuse one that unpacks to far more than it weighs."""
    budget = limits.max_unpacked_bytes
    limit = f"{budget / _MB:g}"
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            declared = sum(m.file_size for m in members)
            if declared > budget:
                message = Message(
                    "register.unpacks_too_big", {"size": _mb(declared), "limit": limit}
                )
                return [_file_problem(path.name, message)]
            for member in members:
                ratio = member.file_size / max(member.compress_size, 1)
                if member.file_size > _MB and ratio > limits.max_compression_ratio:
                    packed = {
                        "member": member.filename,
                        "size": _mb(member.file_size),
                        "packed": f"{member.compress_size / 1024:.0f}",
                        "ratio": f"{ratio:.0f}",
                        "limit": f"{limits.max_compression_ratio:g}",
                    }
                    return [_file_problem(path.name, Message("register.zip_ratio", packed))]
            unpacked = 0
            for member in members:  # the declared sizes may lie: count what really comes out
                with archive.open(member) as stream:
                    while chunk := stream.read(_UNPACK_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > budget:
                            message = Message("register.unpacks_beyond", {"limit": limit})
                            return [_file_problem(path.name, message)]
    # NotImplementedError: a compression method zipfile does not know.
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        return [_file_problem(path.name, Message("register.not_xlsx", {"error": exc}))]
    return []


def _first_row_width(stream: io.TextIOBase | io.StringIO) -> int:
    """How many cells the first CSV row has (0 if it cannot be told: the parser reports it)."""
    try:
        return len(next(csv.reader(stream), []))
    except csv.Error:
        return 0
