"""Reading the registers: :func:`read_dataset` reads a folder of CSV files, or an ``.xlsx``
workbook with one sheet per file, into a :class:`~scheduler.model.Dataset`.

Every cell is checked, and *all* problems are collected before a :class:`DatasetError` is
raised: a team leader fixing a spreadsheet wants the whole list at once, each problem with the
file, the row (as the spreadsheet shows it: header = row 1), the column and the value. Headers
may be English or Chinese (:data:`~scheduler.dataset.schema.COLUMN_ALIASES_ZH`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

import yaml

from scheduler import coords
from scheduler.dataset.limits import (
    ReadLimits,
    _CancelledError,
    _Deadline,
    _OutOfTimeError,
    check_dataset_limits,
)
from scheduler.dataset.problems import DatasetError, InputProblem, _file_problem
from scheduler.dataset.schema import (
    OPTIONAL_FILES,
    REQUIRED_COLUMNS,
    REQUIRED_FILES,
    WORKBOOK_SUFFIXES,
)
from scheduler.dataset.sources import Row, Table, _decode, _read_csv, _Source
from scheduler.dataset.values import (
    _ANY_TIME,
    _NO_WORDS,
    _number,
    _parse_disability,
    _parse_place,
    _parse_role,
    _parse_travel_mode,
    _positive_int,
    _words,
    parse_availability,
    parse_bool,
    parse_date,
    parse_time,
    parse_weekdays,
)
from scheduler.messages import Message, MessageError, message_of
from scheduler.model import (
    Centre,
    Clinician,
    Committee,
    Dataset,
    Disability,
    HistoryRecord,
    Location,
    Resident,
    ServiceRequest,
    SickbedEpisode,
    TimeWindow,
    VisitOutcome,
    format_hhmm,
    parse_tests,
)

__all__ = ["read_dataset", "read_requests"]

T = TypeVar("T")


# --- row-by-row checking ---------------------------------------------------------------------


class _RowReader:
    """Reads the cells of one row, recording a problem for each bad cell."""

    def __init__(self, table: Table, row: Row, problems: list[InputProblem]) -> None:
        self.table = table
        self.row = row
        self.problems = problems
        self.ok = not row.refused

    def problem(self, column: str | None, message: Message | str, value: str | None = None) -> None:
        if column in self.row.refused:  # that cell's problem is on the list already
            self.ok = False
            return
        if value is None and column is not None:
            value = self.row.cells.get(column, "")
        header = None if column is None else self.table.header(column)
        self.problems.append(
            InputProblem.of(self.table.file, self.row.number, header, value, message)
        )
        self.ok = False

    def header(self, column: str) -> str:
        """``column`` as this file's header names it (for messages)."""
        return self.table.header(column)

    def text(self, column: str) -> str:
        """The cell, stripped ("" when the column is absent)."""
        return self.row.cells.get(column, "")

    def need(
        self, column: str, parse: Callable[[str], T], what: str | Message = "a value"
    ) -> T | None:
        """A required cell: empty or bad -> problem; column absent (reported once) -> ``None``.

        ``what`` completes "is empty: every row needs ..."; a :class:`Message` is the whole
        message.
        """
        if column not in self.table.columns:
            self.ok = False
            return None
        value = self.text(column)
        if not value:
            self.problem(column, what if isinstance(what, Message) else _empty(what))
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(column, message_of(exc))
            return None

    def opt(self, column: str, parse: Callable[[str], T], default: T) -> T | None:
        """An optional cell: empty or absent -> ``default``; bad -> problem and ``None``."""
        value = self.text(column)
        if not value:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(column, message_of(exc))
            return None

    def identifier(self, column: str, seen: dict[str, int], kind: str) -> str:
        """A row's own id: not empty, not seen on an earlier row."""
        value = self.text(column)
        if column not in self.table.columns:
            self.ok = False
        elif not value:
            self.problem(
                column, Message("register.empty_id", {"kind": kind, "kind_zh": _KIND_ZH[kind]})
            )
        elif value in seen:
            self.problem(
                column,
                Message(
                    "register.duplicate",
                    {"column": self.header(column), "value": value, "row": seen[value]},
                ),
            )
        else:
            seen[value] = self.row.number
        return value

    def reference(
        self, column: str, known: Mapping[str, object] | None, target: str, required: bool = True
    ) -> str:
        """An id naming a row of another file (``known`` is ``None`` when that file is unusable)."""
        value = self.text(column)
        if column not in self.table.columns:
            if required:
                self.ok = False
            return value
        if not value:
            if required:
                self.problem(column, _empty(f"a {self.header(column)}"))
            return value
        if known is not None and value not in known:
            listed, listed_zh = _known_list(known)
            self.problem(
                column,
                Message(
                    "register.unknown_reference",
                    {
                        "column": self.header(column),
                        "value": value,
                        "file": target,
                        "known": listed,
                        "known_zh": listed_zh,
                    },
                ),
            )
        return value

    def location(self, region: coords.Region = coords.CHINA) -> Location | None:
        """``lat``/``lon`` (in ``crs``), converted to WGS-84 and checked to lie in ``region``."""
        crs = self.opt("crs", coords.normalize_crs, "wgs84")
        lat = self.need("lat", _number, "a latitude")
        lon = self.need("lon", _number, "a longitude")
        if lat is None or lon is None or crs is None:
            return None
        lat_text, lon_text = self.text("lat"), self.text("lon")
        if not region.contains(lat, lon) and region.contains(lon, lat):
            self.problem(
                "lat",
                Message(
                    "register.lat_lon_swapped",
                    {
                        "lat": lat_text,
                        "lon": lon_text,
                        "region": region.name,
                        "region_zh": _region_zh(region),
                    },
                ),
            )
            return None
        if not -90.0 <= lat <= 90.0:
            self.problem("lat", Message("register.latitude"))
            return None
        if not -180.0 <= lon <= 180.0:
            self.problem("lon", Message("register.longitude"))
            return None
        wgs_lat, wgs_lon = coords.to_wgs84(lat, lon, crs)
        if not region.contains(wgs_lat, wgs_lon):
            if lat == 0.0 and lon == 0.0:
                self.problem("lat", Message("register.zero_zero"))
                return None
            bounds = (
                f"{region.lat_min:g}-{region.lat_max:g}",
                f"{region.lon_min:g}-{region.lon_max:g}",
            )
            where = {
                "lat": lat_text,
                "lon": lon_text,
                "region": region.name,
                "region_zh": _region_zh(region),
                "bounds": f"lat {bounds[0]}, lon {bounds[1]}",
                "bounds_zh": f"纬度 {bounds[0]}，经度 {bounds[1]}",
            }
            self.problem("lat", Message("register.outside_region", where))
            return None
        return Location(wgs_lat, wgs_lon)


def _known_list(known: Mapping[str, object], limit: int = 8) -> tuple[str, str]:
    """`` (known: a, b)`` and ``（已有：a, b）``; `` (it has none)`` and ``（其中一个也没有）``."""
    ids = sorted(known)
    if not ids:
        return " (it has none)", "（其中一个也没有）"
    shown = ", ".join(ids[:limit]) + (", ..." if len(ids) > limit else "")
    return f" (known: {shown})", f"（已有：{shown}）"


# "is empty: every row needs a latitude" in Chinese: what each row needs.
_WHAT_ZH: Final = {
    "a latitude": "纬度",
    "a longitude": "经度",
    "a role": "角色",
    "a travel mode": "出行方式",
    "a time HH:MM": "时间（HH:MM）",
    "a birth date": "出生日期",
    "a programme": "服务项目",
    "a date": "日期",
    "a service": "服务内容",
    "a duration in minutes": "时长（分钟）",
    "a value": "一个值",
    "a time": "时间",
    "a number of visits": "访视数",
    "a sequence number": "顺序号",
    "minutes": "分钟数",
    "kilometres": "公里数",
    "the date the sick-bed was opened (建床日期)": "建床日期",
}
_KIND_ZH: Final = {
    "centre": "中心",
    "committee": "居委",
    "clinician": "医护人员",
    "resident": "居民",
    "request": "申请",
}


def _empty(what: str) -> Message:
    """ "is empty: every row needs ``what``" (a latitude, a 中心编号...), in both languages."""
    what_zh = _WHAT_ZH.get(what, what.removeprefix("a "))
    return Message("register.empty", {"what": what, "what_zh": what_zh})


def _region_zh(region: coords.Region) -> str:
    return "中国" if region is coords.CHINA else region.name


def _value(value: T | None) -> T:
    """A value parsed on a row whose ``ok`` is still true (so it is not ``None``)."""
    assert value is not None
    return value


# --- the files -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reading:
    """The state of one :func:`read_dataset`: problems so far and the ids of each file."""

    problems: list[InputProblem] = field(default_factory=list)
    centres: dict[str, Centre] = field(default_factory=dict)
    committees: dict[str, Committee] = field(default_factory=dict)
    clinicians: dict[str, Clinician] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    centre_ids: dict[str, int] | None = None
    committee_ids: dict[str, int] | None = None
    clinician_ids: dict[str, int] | None = None
    team_ids: dict[str, str] | None = None  # team -> centre
    resident_ids: dict[str, int] | None = None
    files: dict[str, str] = field(default_factory=dict)  # stem -> how problems name the file
    region: coords.Region = coords.CHINA  # where the points may lie
    # A preferred clinician no longer listed -> the residents whose preference is dropped.
    dropped_preferences: dict[str, list[str]] = field(default_factory=dict)

    def file(self, stem: str) -> str:
        return self.files.get(stem, f"{stem}.csv")


def _rows(table: Table, problems: list[InputProblem]) -> Iterable[_RowReader]:
    for row in table.rows:
        if table.deadline is not None and row.number % 1024 == 0:
            table.deadline.check()
        yield _RowReader(table, row, problems)


@contextmanager
def _invariants(reader: _RowReader) -> Iterator[None]:
    """Around a domain constructor: an invariant it still rejects becomes a row problem."""
    try:
        yield
    except ValueError as exc:
        reader.problem(None, message_of(exc), value=None)


def _read_centres(table: Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    for r in _rows(table, state.problems):
        centre_id = r.identifier("centre_id", seen, "centre")
        location = r.location(state.region)
        if r.ok:
            with _invariants(r):
                centre = Centre(
                    centre_id, r.text("name") or centre_id, _value(location), r.text("district")
                )
                state.centres[centre_id] = centre
    state.centre_ids = seen


def _read_committees(table: Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    for r in _rows(table, state.problems):
        committee_id = r.identifier("committee_id", seen, "committee")
        centre_id = r.reference("centre_id", state.centre_ids, state.file("centres"))
        location = r.location(state.region)
        if r.ok:
            with _invariants(r):
                committee = Committee(
                    committee_id, centre_id, r.text("name") or committee_id, _value(location)
                )
                state.committees[committee_id] = committee
    state.committee_ids = seen


def _read_clinicians(table: Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    teams: dict[str, tuple[str, int]] = {}  # team -> (known centre, first row)
    any_team: dict[str, str] = {}  # every team named, even at an unknown centre
    for r in _rows(table, state.problems):
        clinician_id = r.identifier("clinician_id", seen, "clinician")
        team_id = r.reference("team_id", None, "")
        centre_id = r.reference("centre_id", state.centre_ids, state.file("centres"))
        if team_id:
            any_team.setdefault(team_id, centre_id)
        centre_known = state.centre_ids is None or centre_id in state.centre_ids
        if team_id and centre_id and centre_known:
            if team_id not in teams:
                teams[team_id] = (centre_id, r.row.number)
            elif teams[team_id][0] != centre_id:
                other, row = teams[team_id]
                r.problem(
                    "centre_id",
                    Message(
                        "register.team_in_two_centres",
                        {"team": team_id, "centre": other, "row": row},
                    ),
                )
        role = r.need("role", _parse_role, "a role")
        skills = r.opt("skills", _words, _NO_WORDS)
        mode = r.need("travel_mode", _parse_travel_mode, "a travel mode")
        work_days = r.need(
            "work_days",
            parse_weekdays,
            Message("register.no_work_days", {"column": r.header("work_days")}),
        )
        shift = _shift(r)
        lunch = _lunch(r, shift)
        if r.ok:
            with _invariants(r):
                clinician = Clinician(
                    clinician_id,
                    r.text("name") or clinician_id,
                    team_id,
                    centre_id,
                    _value(role),
                    _value(skills),
                    _value(mode),
                    _value(work_days),
                    _value(shift),
                    lunch,
                    r.text("phone"),
                )
                state.clinicians[clinician_id] = clinician
    state.clinician_ids = seen
    state.team_ids = any_team | {team: centre for team, (centre, _) in teams.items()}


def _window(r: _RowReader, start_col: str, end_col: str, what: str) -> TimeWindow | None:
    start = r.need(start_col, parse_time, "a time HH:MM")
    end = r.need(end_col, parse_time, "a time HH:MM")
    if start is None or end is None:
        return None
    if start >= end:
        span = {"start": format_hhmm(start), "end": format_hhmm(end)}
        r.problem(
            end_col,
            Message("register.span_order", span | {"what": what, "what_zh": _SPAN_ZH[what]}),
        )
        return None
    return TimeWindow(start, end)


_SPAN_ZH: Final = {"shift": "班次", "lunch break": "午休", "window": "时段"}


def _shift(r: _RowReader) -> TimeWindow | None:
    return _window(r, "shift_start", "shift_end", "shift")


def _lunch(r: _RowReader, shift: TimeWindow | None) -> TimeWindow | None:
    start_text, end_text = r.text("lunch_start"), r.text("lunch_end")
    if not start_text and not end_text:
        return None  # no lunch break
    if not start_text or not end_text:
        empty, given, other = (
            ("lunch_start", "lunch_end", end_text)
            if not start_text
            else ("lunch_end", "lunch_start", start_text)
        )
        r.problem(empty, Message("register.half_lunch", {"other": r.header(given), "given": other}))
        return None
    lunch = _window(r, "lunch_start", "lunch_end", "lunch break")
    if lunch is not None and shift is not None and lunch.intersect(shift) != lunch:
        r.problem(
            "lunch_start",
            Message("register.lunch_outside_shift", {"lunch": lunch, "shift": shift}),
        )
        return None
    return lunch


_MAX_AGE_YEARS: Final = 125


def _birth_date(text: str) -> dt.date:
    day = parse_date(text)
    today = dt.date.today()
    if day > today:
        raise MessageError("register.birth_in_future")
    if day.year < today.year - _MAX_AGE_YEARS:
        raise MessageError("register.birth_too_early", years=_MAX_AGE_YEARS)
    return day


def _read_residents(table: Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    for r in _rows(table, state.problems):
        resident_id = r.identifier("resident_id", seen, "resident")
        birth = r.need("birth_date", _birth_date, "a birth date")
        location = r.location(state.region)
        committee_id = r.reference("committee_id", state.committee_ids, state.file("committees"))
        team_id = r.text("team_id")
        if "team_id" not in table.columns:
            r.ok = False
        elif not team_id:
            r.problem("team_id", Message("register.empty_team"))
        elif state.team_ids is not None and team_id not in state.team_ids:
            listed, listed_zh = _known_list(state.team_ids)
            where = {"team": team_id, "file": state.file("clinicians")}
            r.problem(
                "team_id",
                Message(
                    "register.team_without_clinician",
                    where | {"known": listed, "known_zh": listed_zh},
                ),
            )
        preferred: str | None = r.text("preferred_clinician_id")
        if preferred and state.clinician_ids is not None and preferred not in state.clinician_ids:
            # A clinician who has left: the preference goes, the resident stays (a warning).
            state.dropped_preferences.setdefault(preferred, []).append(resident_id)
            preferred = None
        disability = r.opt("disability", _parse_disability, Disability.NONE)
        flags = {
            name: r.opt(name, parse_bool, False)
            for name in ("hypertension", "diabetes", "home_sickbed", "homebound")
        }
        availability = r.opt("availability", parse_availability, _ANY_TIME)
        signed = r.opt("signed", parse_bool, True)
        signed_since = r.opt("signed_since", parse_date, None)
        if r.ok:
            with _invariants(r):
                resident = Resident(
                    resident_id=resident_id,
                    name=r.text("name"),
                    birth_date=_value(birth),
                    location=_value(location),
                    committee_id=committee_id,
                    team_id=team_id,
                    preferred_clinician_id=preferred or None,
                    disability=_value(disability),
                    hypertension=_value(flags["hypertension"]),
                    diabetes=_value(flags["diabetes"]),
                    home_sickbed=_value(flags["home_sickbed"]),
                    homebound=_value(flags["homebound"]),
                    availability=_value(availability),
                    conditions=_words(r.text("conditions")),
                    address=r.text("address"),
                    phone=r.text("phone"),
                    sex=r.text("sex"),
                    signed=_value(signed),
                    signed_since=signed_since,
                )
                state.residents[resident_id] = resident
    state.resident_ids = seen


def _read_history(table: Table, state: _Reading) -> tuple[HistoryRecord, ...]:
    records: list[HistoryRecord] = []
    for r in _rows(table, state.problems):
        resident_id = r.reference("resident_id", state.resident_ids, state.file("residents"))
        programme = r.need("programme", str.strip, "a programme")
        day = r.need("date", parse_date, "a date")
        outcome = r.opt("outcome", VisitOutcome.parse, VisitOutcome.COMPLETED)
        tests = r.opt("tests", parse_tests, frozenset[str]())
        place = r.opt("place", _parse_place, None)
        # the resident as he was on the visit's day; empty: not known (the register's then)
        disability = r.opt("disability", _parse_disability, None)
        hypertension = r.opt("hypertension", parse_bool, None)
        diabetes = r.opt("diabetes", parse_bool, None)
        if r.ok:
            with _invariants(r):
                records.append(
                    HistoryRecord(
                        resident_id,
                        _value(programme),
                        _value(day),
                        outcome=_value(outcome),
                        tests=_value(tests),
                        place=place,
                        disability=disability,
                        hypertension=hypertension,
                        diabetes=diabetes,
                    )
                )
    return tuple(records)


def _read_sickbeds(table: Table, state: _Reading) -> tuple[SickbedEpisode, ...]:
    episodes: list[SickbedEpisode] = []
    for r in _rows(table, state.problems):
        resident_id = r.reference("resident_id", state.resident_ids, state.file("residents"))
        opened = r.need("opened", parse_date, "the date the sick-bed was opened (建床日期)")
        discharged = r.opt("discharged", parse_date, None)
        # the resident's on the discharge day; of an open sick-bed it says nothing yet
        disability = r.opt("disability", _parse_disability, None)
        if r.ok and discharged is not None and opened is not None and discharged < opened:
            r.problem(
                "discharged", Message("register.discharged_before_opened", {"opened": opened})
            )
        if r.ok:
            with _invariants(r):
                episodes.append(
                    SickbedEpisode(
                        resident_id,
                        _value(opened),
                        discharged,
                        disability if discharged is not None else None,
                    )
                )
    return tuple(episodes)


def _read_requests(table: Table, state: _Reading) -> tuple[ServiceRequest, ...]:
    seen: dict[str, int] = {}
    requests: list[ServiceRequest] = []
    for r in _rows(table, state.problems):
        request_id = r.identifier("request_id", seen, "request")
        resident_id = r.reference("resident_id", state.resident_ids, state.file("residents"))
        service = r.need("service", str.strip, "a service")
        earliest = r.need("earliest_date", parse_date, "a date")
        latest = r.need("latest_date", parse_date, "a date")
        if earliest is not None and latest is not None and latest < earliest:
            r.problem(
                "latest_date",
                Message(
                    "register.before",
                    {"other": r.header("earliest_date"), "date": earliest.isoformat()},
                ),
            )
        window = _window(r, "window_start", "window_end", "window")
        duration = r.need("duration_min", _positive_int, "a duration in minutes")
        if window is not None and duration is not None and duration > window.length_min:
            r.problem(
                "duration_min",
                Message("register.visit_too_long", {"minutes": duration, "window": window}),
            )
        skills = r.opt("skills", _words, _NO_WORDS)
        if r.ok:
            with _invariants(r):
                request = ServiceRequest(
                    request_id,
                    resident_id,
                    _value(service),
                    _value(earliest),
                    _value(latest),
                    _value(window),
                    _value(duration),
                    _value(skills),
                )
                requests.append(request)
    return tuple(requests)


def _committees_from_residents(state: _Reading) -> dict[str, Committee]:
    """Committees when ``committees.csv`` is absent: at the mean of their residents' homes."""
    members: dict[str, list[Resident]] = defaultdict(list)
    for resident in state.residents.values():
        members[resident.committee_id].append(resident)
    team_centre = state.team_ids or {}
    committees: dict[str, Committee] = {}
    for committee_id, residents in members.items():
        centres = Counter(
            team_centre[r.team_id] for r in residents if r.team_id in team_centre
        ).most_common()
        if not centres:
            continue
        best = max(count for _, count in centres)
        centre_id = min(centre for centre, count in centres if count == best)
        location = Location(
            sum(r.location.lat for r in residents) / len(residents),
            sum(r.location.lon for r in residents) / len(residents),
        )
        committees[committee_id] = Committee(committee_id, centre_id, committee_id, location)
    return committees


def _read_programmes(path: Path, problems: list[InputProblem]) -> dict[str, Mapping[str, object]]:
    file = path.name
    try:
        text = _decode(path.read_bytes(), file, problems)
    except OSError as exc:
        problems.append(_file_problem(file, Message("register.unreadable", {"error": exc})))
        return {}
    if text is None:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        message = Message("register.yaml", {"reason": reason})
        problems.append(InputProblem.of(file, line, None, None, message))
        return {}
    if data is None:
        return {}
    example = "\nfollowup_80:\n  duration_min: 40"
    if not isinstance(data, dict):
        message = Message("register.programmes_mapping", {"example": example})
        problems.append(_file_problem(file, message))
        return {}
    lines = _yaml_lines(text)
    overrides: dict[str, Mapping[str, object]] = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            message = Message("register.programme_mapping", {"programme": key, "example": example})
            problems.append(InputProblem.of(file, lines.get((str(key),)), None, str(key), message))
            continue
        overrides[str(key)] = {str(k): v for k, v in value.items()}
    _check_overrides(file, overrides, problems, lines)
    return overrides


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line of each key of ``programmes.yaml`` (1-based), by its path: ``(programme,)``,
    ``(programme, key)``, ``(programme, key, sub_key)``."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if not isinstance(node, yaml.MappingNode) or len(path) >= 3:
            return
        for key, value in node.value:
            here = (*path, str(key.value))
            lines[here] = key.start_mark.line + 1
            walk(value, here)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines


def _check_overrides(
    file: str,
    overrides: Mapping[str, Mapping[str, object]],
    problems: list[InputProblem],
    lines: Mapping[tuple[str, ...], int],
) -> None:
    """Every problem of every programme's settings now, with the file's name and the line."""
    # The rules live in scheduler.programmes, imported late to keep scheduler.dataset light.
    from scheduler import programmes

    _, found = programmes.override_problems(programmes.builtin_programmes(), overrides)
    for problem in found:
        path = (problem.programme, *(problem.key or "").split(": "))
        while path and path not in lines:
            path = path[:-1]
        value = problem.programme if problem.key is None else None
        problems.append(InputProblem.of(file, lines.get(path), None, value, problem.message))


def _with_defaults(
    history: tuple[HistoryRecord, ...], overrides: Mapping[str, Mapping[str, object]]
) -> tuple[HistoryRecord, ...]:
    """Each record with the place and tests it omits filled in from its programme's rules."""
    from scheduler import programmes

    rules = programmes.apply_overrides(programmes.builtin_programmes(), overrides)
    filled = []
    for record in history:
        place, tests = programmes.recorded_place_and_tests(
            rules.get(record.programme), record.place, record.tests, record.outcome
        )
        filled.append(dataclasses.replace(record, place=place, tests=tests))
    return tuple(filled)


def read_dataset(
    path: Path,
    limits: ReadLimits | None = None,
    *,
    cancelled: Callable[[], bool] | None = None,
    region: coords.Region = coords.CHINA,
) -> Dataset:
    """Read a dataset: a folder of CSV files, or an ``.xlsx`` workbook with one sheet per file.

    ``limits`` bound what the files may hold (default :class:`ReadLimits`): a file beyond them
    is refused in seconds, before or while it is parsed. ``cancelled`` is asked every thousand
    rows or so; when it answers true the read stops (a server shutting down). Every point must
    lie in ``region`` (China by default; the ``HOMEVISIT_REGION`` setting of the commands).
    Raises :class:`DatasetError` listing every problem found. A workbook carries no
    ``programmes.yaml``; use a folder for programme overrides.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    state = _Reading(region=region)
    problems = state.problems
    if not path.exists():
        raise DatasetError([_file_problem(str(path), Message("register.does_not_exist"))])
    if not path.is_dir() and path.suffix.lower() not in WORKBOOK_SUFFIXES:
        raise DatasetError([_file_problem(path.name, Message("register.not_a_dataset"))])
    check_dataset_limits(path, limits)
    deadline = _Deadline(limits.time_limit_s, cancelled)
    source = _Source(path, problems, limits, deadline)
    try:
        if problems:  # an unreadable workbook
            raise DatasetError(problems)
        return _read_sources(path, source, state)
    except _OutOfTimeError:
        problems.append(
            _file_problem(
                path.name, Message("register.too_slow", {"seconds": f"{limits.time_limit_s:g}"})
            )
        )
        raise DatasetError(problems) from None
    except _CancelledError:
        problems.append(_file_problem(path.name, Message("register.cancelled")))
        raise DatasetError(problems) from None
    finally:
        source.close()


def _read_sources(path: Path, source: _Source, state: _Reading) -> Dataset:
    problems = state.problems
    tables: dict[str, Table] = {}
    for stem in (*REQUIRED_FILES, *OPTIONAL_FILES):
        if not source.has(stem):
            if stem in REQUIRED_FILES:
                problems.append(_file_problem(source.name(stem), source.missing_message(stem)))
            continue
        table = source.table(stem)
        if table is None:
            continue  # the problem is recorded
        for column in REQUIRED_COLUMNS[stem]:
            if column not in table.columns:
                needed = ", ".join(table.header(c) for c in REQUIRED_COLUMNS[stem])
                message = Message("register.missing_column", {"needed": needed})
                problems.append(
                    InputProblem.of(table.file, None, table.header(column), None, message)
                )
        if not table.rows and stem in REQUIRED_FILES:
            problems.append(_file_problem(table.file, Message("register.no_rows")))
        tables[stem] = table
        state.files[stem] = table.file

    # Files are read in the order of their references, so each can check ids of the earlier.
    if "centres" in tables:
        _read_centres(tables["centres"], state)
    if "committees" in tables and tables["committees"].rows:
        _read_committees(tables["committees"], state)  # an empty one counts as absent
    if "clinicians" in tables:
        _read_clinicians(tables["clinicians"], state)
    if "residents" in tables:
        _read_residents(tables["residents"], state)
    history = _read_history(tables["history"], state) if "history" in tables else ()
    requests = _read_requests(tables["requests"], state) if "requests" in tables else ()
    sickbeds = _read_sickbeds(tables["sickbeds"], state) if "sickbeds" in tables else ()
    overrides: dict[str, Mapping[str, object]] = {}
    yaml_path = path / "programmes.yaml" if path.is_dir() else None
    if yaml_path is not None and yaml_path.is_file():
        overrides = _read_programmes(yaml_path, problems)
    if problems:
        raise DatasetError(problems)
    committees = (
        state.committees if state.committee_ids is not None else _committees_from_residents(state)
    )
    history = _with_defaults(history, overrides)
    return Dataset(
        centres=state.centres,
        committees=committees,
        clinicians=state.clinicians,
        residents=state.residents,
        history=history,
        requests=requests,
        programme_overrides=overrides,
        sickbeds=sickbeds,
        warnings=_preference_warnings(state),
    )


def _preference_warnings(state: _Reading) -> tuple[str, ...]:
    """One warning per preferred clinician no longer listed, naming the residents."""
    residents, clinicians = state.file("residents"), state.file("clinicians")
    warnings = []
    for clinician_id, resident_ids in sorted(state.dropped_preferences.items()):
        count = len(resident_ids)
        ids = ", ".join(resident_ids)
        warnings.append(
            f"{residents}: 首选医护 {clinician_id} 不在 {clinicians} 中，已取消 {count} 位居民的"
            f"首选，导入继续 / preferred_clinician_id '{clinician_id}' is not in {clinicians} "
            f"(any more): the preference of {count} resident{'s' if count > 1 else ''} is "
            f"dropped and the import goes on: {ids}"
        )
    return tuple(warnings)


def read_requests(path: Path, dataset: Dataset) -> tuple[ServiceRequest, ...]:
    """Read a file of new on-demand requests (``requests.csv`` columns) for ``dataset``.

    Raises :class:`DatasetError` for a missing or malformed file, a missing column, a resident
    the dataset does not know, or a request id the dataset already has.
    """
    path = Path(path)
    state = _Reading(
        residents=dict(dataset.residents),
        resident_ids={rid: 0 for rid in dataset.residents},
    )
    state.files["residents"] = "the dataset's residents"
    table = _read_csv(path, state.problems) if path.is_file() else None
    if not path.is_file():
        state.problems.append(_file_problem(str(path), Message("register.does_not_exist")))
    if table is not None:
        missing = [c for c in REQUIRED_COLUMNS["requests"] if c not in table.columns]
        for column in missing:
            needed = ", ".join(REQUIRED_COLUMNS["requests"])
            message = Message("register.missing_column", {"needed": needed})
            state.problems.append(InputProblem.of(table.file, None, column, None, message))
        if not missing:
            requests = _read_requests(table, state)
            known = {r.request_id for r in dataset.requests}
            for row in table.rows:
                value = row.cells.get("request_id", "")
                if value in known:
                    message = Message("register.request_id_taken")
                    state.problems.append(
                        InputProblem.of(table.file, row.number, "request_id", value, message)
                    )
            if not state.problems:
                return requests
    raise DatasetError(state.problems)
