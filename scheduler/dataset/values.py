"""The text of a register's cell <-> its value: weekdays, times, dates, yes/no, availability,
enumerated columns, and the characters no cell may hold.

(Not to be confused with :mod:`scheduler.cells`, the rule that keeps a written cell from running
as a spreadsheet formula.)
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import lru_cache
from typing import Final, TypeVar

import pandas as pd

from scheduler.dataset.schema import VALUE_ALIASES_ZH
from scheduler.messages import Joined, Message, MessageError
from scheduler.model import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    AvailabilityItem,
    Disability,
    Place,
    Role,
    TimeWindow,
    TravelMode,
    format_hhmm,
)

__all__ = [
    "format_availability",
    "format_weekdays",
    "format_words",
    "invisible_character",
    "parse_availability",
    "parse_bool",
    "parse_date",
    "parse_time",
    "parse_weekdays",
]

E = TypeVar("E", bound=StrEnum)


# Characters no register cell holds: C0/C1 control characters (NUL included; tab and line breaks
# are allowed, a multi-line address is real) and the bidirectional overrides that make text show
# in another order than it is stored (ids and names that look like others).
_FORBIDDEN_CHARS: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_SHOWN_CHARS: Final = 60


def invisible_character(text: str) -> Message | None:
    """Why ``text`` cannot be stored as register text, or ``None`` if it can.

    Names the first control character (NUL, C0/C1; tab and line breaks are allowed) or
    bidirectional override in it, with its position (``str()``: Chinese and English).
    """
    found = _FORBIDDEN_CHARS.search(text)
    if found is None:
        return None
    return Message(
        "register.invisible_character",
        {
            "char": f"U+{ord(found[0]):04X}",
            "name": unicodedata.name(found[0], "control character"),
            "at": found.start() + 1,
        },
    )


def _visible(text: str) -> str:
    """``text`` as a problem may show it: control characters spelled out, long text cut."""
    shown = _FORBIDDEN_CHARS.sub(lambda m: f"\\u{ord(m[0]):04x}", text[:_SHOWN_CHARS])
    return shown + ("…" if len(text) > _SHOWN_CHARS else "")


# --- cell parsers ----------------------------------------------------------------------------

_WEEKDAY_NAMES: Final[dict[str, int]] = {}
for _i, _abbr in enumerate(WEEKDAYS):
    _WEEKDAY_NAMES[_abbr.lower()] = _i
for _i, _full in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
):
    _WEEKDAY_NAMES[_full] = _i
for _i, _zh in enumerate("一二三四五六日"):
    for _prefix in ("周", "星期", "礼拜"):
        _WEEKDAY_NAMES[_prefix + _zh] = _i
for _prefix in ("周", "星期", "礼拜"):
    _WEEKDAY_NAMES[_prefix + "天"] = 6

_RANGE_DASH: Final = "-–—~～至到"
_LIST_SEPARATORS: Final = re.compile(r"[;,；，、/\s]+")
_AVAILABILITY_EXAMPLE: Final = "Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00"


def _weekday(token: str) -> int:
    key = token.strip().lower()
    if key not in _WEEKDAY_NAMES:
        raise MessageError("register.weekday", day=token.strip())
    return _WEEKDAY_NAMES[key]


def _weekday_set(text: str) -> tuple[frozenset[int], list[Message]]:
    """Weekdays of ``text`` and the list of its bad parts (empty when all is well)."""
    compact = re.sub(rf"\s*([{_RANGE_DASH}])\s*", r"\1", text.strip())
    days: set[int] = set()
    errors: list[Message] = []
    for part in (p for p in _LIST_SEPARATORS.split(compact) if p):
        ends = re.split(rf"[{_RANGE_DASH}]", part)
        try:
            if len(ends) == 1:
                days.add(_weekday(part))
                continue
            if len(ends) != 2 or not ends[0] or not ends[1]:
                raise MessageError("register.weekday_range", part=part)
            first, last = _weekday(ends[0]), _weekday(ends[1])
        except MessageError as exc:
            errors.append(exc.message)
            continue
        day = first
        days.add(day)
        while day != last:  # a range may wrap over Sunday, e.g. Fri-Mon
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days), errors


def parse_weekdays(text: str) -> frozenset[int]:
    """Weekdays (0 = Monday) from ``Mon;Tue``, ``Mon-Fri``, ``Tue,Thu`` or ``周一至周五``.

    Case-insensitive; full English names and Chinese 周一..周日 are understood, a range may wrap
    over Sunday. Raises ``ValueError`` naming every bad part.
    """
    days, errors = _weekday_set(text)
    if errors:
        raise MessageError("register.weekdays", errors=Joined(tuple(errors)))
    if not days:
        raise MessageError("register.no_weekday")
    return days


_TIME: Final = re.compile(r"(\d{1,2})[:：](\d{2})(?:[:：]00)?")


@lru_cache(maxsize=4096)  # registers repeat the same few values
def parse_time(text: str) -> int:
    """Minutes after midnight of ``HH:MM`` (``8:30`` too; ``24:00`` = 1440); ``ValueError`` else."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise MessageError("register.time_format", text=text.strip())
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours * 60 + minutes > MINUTES_PER_DAY:
        raise MessageError("register.time_of_day", text=text.strip())
    return hours * 60 + minutes


_TRUE: Final = frozenset({"true", "1", "yes", "y", "t", "是", "有", "✓", "√"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f", "否", "无", "×"})


def parse_bool(text: str) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``是/否`` (case-insensitive); ``ValueError`` else."""
    key = text.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise MessageError("register.yes_no")


_DATE: Final = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?")


@lru_cache(maxsize=4096)  # registers repeat the same few values
def parse_date(text: str) -> dt.date:
    """A date ``YYYY-MM-DD`` (also ``YYYY/M/D``, as Excel rewrites it); ``ValueError`` else."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        raise MessageError("register.date", example="1941-03-15")
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise MessageError("register.no_such_day", example="1941-03-15") from None


_TIME_RANGE_AT_END: Final = re.compile(
    rf"(?P<start>[0-9:：.]+)\s*[{_RANGE_DASH}]\s*(?P<end>[0-9:：.]+)$"
)


@lru_cache(maxsize=4096)  # registers repeat the same few values
def parse_availability(text: str) -> tuple[AvailabilityItem, ...]:
    """Availability items from ``Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00``.

    Items are separated by ``;``; each is ``DAYS HH:MM-HH:MM`` where DAYS is a weekday, a range
    or a comma list (an item with no DAYS means every day). Empty text means any time (``()``).
    Raises ``ValueError`` naming every bad part, with an example.
    """
    items: list[AvailabilityItem] = []
    errors: list[Message] = []
    for raw in re.split(r"[;；]", text):
        item = raw.strip()
        if not item:
            continue
        match = _TIME_RANGE_AT_END.search(item)
        if match is None:
            errors.append(Message("register.item_no_range", {"item": item}))
            continue
        days_text = item[: match.start()].strip()
        bad: list[Message] = []
        if _TIME_RANGE_AT_END.search(days_text) or re.search(r"\d[:：]\d", days_text):
            errors.append(Message("register.item_two_ranges", {"item": item}))
            continue
        days: frozenset[int] = frozenset(range(7))
        if days_text:
            days, day_errors = _weekday_set(days_text)
            bad += day_errors
        times: list[int] = []
        for part in (match["start"], match["end"]):
            try:
                times.append(parse_time(part))
            except MessageError as exc:
                said = exc.message
                if said.code == "register.time_format":  # the item's example says enough
                    said = Message("register.time_format_in_item", said.values)
                bad.append(said)
        if len(times) == 2 and times[0] >= times[1]:
            bad.append(
                Message("register.item_order", {"start": match["start"], "end": match["end"]})
            )
        if bad:
            problems = Joined(tuple(bad), ", ", "，")
            errors.append(Message("register.item", {"item": item, "problems": problems}))
            continue
        if days:
            items.append(AvailabilityItem(days, TimeWindow(times[0], times[1])))
    if errors:
        raise MessageError(
            "register.availability", errors=Joined(tuple(errors)), example=_AVAILABILITY_EXAMPLE
        )
    return tuple(items)


def _number(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise MessageError("register.degrees", example="31.2304") from None
    if not math.isfinite(value):
        raise MessageError("register.degrees", example="31.2304")
    return value


def _positive_int(text: str) -> int:
    key = text.strip()
    if re.fullmatch(r"\d+(\.0+)?", key) is None or int(float(key)) <= 0:
        raise MessageError("register.minutes", example="30")
    return int(float(key))


def _gap_minutes(text: str) -> int:
    """Minutes between two starts on one day: a whole number from 0 to 1439."""
    key = text.strip()
    if re.fullmatch(r"\d+(\.0+)?", key) is None or int(float(key)) >= MINUTES_PER_DAY:
        raise MessageError("register.gap_minutes", example="30")
    return int(float(key))


_NO_WORDS: Final[frozenset[str]] = frozenset()
_ANY_TIME: Final[tuple[AvailabilityItem, ...]] = ()


def _words(text: str) -> frozenset[str]:
    """``;``-separated words (``,``, ``；``, ``，`` and ``、`` too), lower-case."""
    return frozenset(w.strip().lower() for w in re.split(r"[;,；，、]", text) if w.strip())


_COLUMN_ZH: Final = {
    "role": "角色",
    "travel_mode": "出行方式",
    "disability": "失能等级",
    "place": "服务地点",
}


def _enum_parser(kind: type[E], column: str) -> Callable[[str], E]:
    """A parser of an enumerated column that lists the allowed values (and Chinese ones)."""
    values = [str(m.value) for m in kind]
    zh = VALUE_ALIASES_ZH.get(column, {})
    zh_examples: dict[str, str] = {}
    for name, value in zh.items():
        zh_examples.setdefault(value, name)

    def parse(text: str) -> E:
        key = text.strip()
        key = zh.get(key, key.lower())
        if key in values:
            return kind(key)
        allowed = allowed_zh = ", ".join(values)
        if zh_examples:
            names = ", ".join(zh_examples[v] for v in values if v in zh_examples)
            allowed, allowed_zh = f"{allowed} (or {names})", f"{allowed}（或 {names}）"
        raise MessageError(
            "register.choice",
            what=column.replace("_", " "),
            what_zh=_COLUMN_ZH.get(column, column),
            given=text.strip(),
            allowed=allowed,
            allowed_zh=allowed_zh,
        )

    return parse


_parse_role = _enum_parser(Role, "role")
_parse_travel_mode = _enum_parser(TravelMode, "travel_mode")
_parse_disability = _enum_parser(Disability, "disability")
_parse_place = _enum_parser(Place, "place")


# --- a spreadsheet's cell as text -----------------------------------------------------------


def _cell_text(value: object) -> str:
    """The text of a pandas or openpyxl cell: numbers without a spurious ``.0``, dates ISO."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.date() in (dt.date(1899, 12, 30), dt.date(1899, 12, 31), dt.date(1900, 1, 1)):
            return f"{value:%H:%M}"  # an Excel time-of-day cell
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, dt.timedelta):
        return format_hhmm(int(value.total_seconds() // 60))
    if value is pd.NA:
        return ""
    return str(value)


# --- the text of a value (what the parsers above read back) ---------------------------------


def format_words(words: Iterable[str]) -> str:
    """``;``-joined and sorted, e.g. ``blood_draw;ecg``; empty for no words."""
    return ";".join(sorted(words))


def format_weekdays(days: Iterable[int]) -> str:
    """``Mon;Tue;Fri`` in weekday order (what ``work_days`` holds)."""
    return ";".join(WEEKDAYS[d] for d in sorted(set(days)))


def _day_runs(days: frozenset[int]) -> str:
    """Weekdays as ranges and a comma list, e.g. ``Mon-Fri`` or ``Tue,Thu`` or ``Mon-Wed,Sat``."""
    ordered = sorted(days)
    parts: list[str] = []
    start = prev = ordered[0]
    for day in [*ordered[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        if prev - start >= 2:
            parts.append(f"{WEEKDAYS[start]}-{WEEKDAYS[prev]}")
        else:
            parts.extend(WEEKDAYS[d] for d in range(start, prev + 1))
        if day is not None:
            start = prev = day
    return ",".join(parts)


def format_availability(items: Iterable[AvailabilityItem]) -> str:
    """``Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00``: what :func:`parse_availability` reads back."""
    return "; ".join(f"{_day_runs(item.weekdays)} {item.window}" for item in items)
