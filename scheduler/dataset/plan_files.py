"""The plan files: :func:`write_plan` writes a plan as ``plan.csv``, ``routes.csv``,
``unscheduled.csv`` and ``kpis.json``; :func:`read_plan` reads those files back into the same
:class:`~scheduler.model.Plan`. :func:`write_due_list` writes the week's due visits before a
solve. Their columns are the format's (:mod:`scheduler.dataset.schema`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Final, Protocol, TypeVar

import pandas as pd

from scheduler.cells import neutralise_cell
from scheduler.dataset.problems import DatasetError, InputProblem, _file_problem
from scheduler.dataset.read import _invariants, _rows, _value
from scheduler.dataset.schema import (
    PLAN_COLUMNS,
    PLAN_EXTRAS,
    ROUTE_COLUMNS,
    ROUTE_EXTRAS,
    UNSCHEDULED_COLUMNS,
    UNSCHEDULED_EXTRAS,
)
from scheduler.dataset.sources import Table, _read_csv
from scheduler.dataset.values import parse_bool, parse_date
from scheduler.evaluation.reasons import LeftOutKind, left_out_kind
from scheduler.evaluation.text import windows_summary
from scheduler.messages import Message, MessageError
from scheduler.model import (
    Clinician,
    Plan,
    Problem,
    Route,
    Stop,
    Unscheduled,
    Visit,
    format_hhmm,
)
from scheduler.programmes import builtin_programmes

__all__ = ["DUE_COLUMNS", "due_rows", "read_plan", "write_due_list", "write_plan"]


# --- writing a plan --------------------------------------------------------------------------

# The plan files are written as UTF-8 *with* a BOM ("utf-8-sig"): Excel on Chinese Windows opens
# a CSV without BOM as GBK and shows the Chinese reasons as mojibake; with the BOM it shows them
# correctly, and every other reader (pandas, Python's csv with utf-8-sig, LibreOffice) copes.
_PLAN_ENCODING: Final = "utf-8-sig"


def _format_km(km: float) -> str:
    """Kilometres to 3 decimals (metres) when that is exact, else the shortest exact form."""
    text = f"{km:.3f}"
    return text if float(text) == km else repr(km)


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def _json_default(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    return str(value)


def _why_due(visit: Visit | None) -> dict[str, object]:
    """The ``last_visit`` and ``rule`` (Chinese / English) columns of a visit's row."""
    basis = visit.basis if visit is not None else None
    if basis is None:
        return {"last_visit": "", "rule": ""}
    return {
        "last_visit": basis.last_visit.isoformat() if basis.last_visit else "",
        "rule": f"{basis.rule_zh} / {basis.rule_en}",
    }


_FORMATTED_NUMBERS: Final = frozenset({"lat", "lon", "travel_km"})
"""Plan columns written as formatted numbers: numbers, not text, for the formula rule."""


def _write_csv(path: Path, columns: Sequence[str], rows: list[dict[str, object]]) -> None:
    # The plan files open in Excel (UTF-8 with BOM for that): no text cell may start a formula.
    safe = [
        {k: v if k in _FORMATTED_NUMBERS else neutralise_cell(v) for k, v in row.items()}
        for row in rows
    ]
    frame = pd.DataFrame(safe, columns=list(columns))
    frame.to_csv(path, index=False, encoding=_PLAN_ENCODING, lineterminator="\n")


class _ClinicianDay(Protocol):
    """What a row of ``plan.csv`` (a stop) and of ``routes.csv`` (a route) both describe: a
    clinician's day and its travel."""

    @property
    def clinician_id(self) -> str: ...

    @property
    def day(self) -> dt.date: ...

    @property
    def travel_min(self) -> int: ...

    @property
    def travel_km(self) -> float: ...


_Day = TypeVar("_Day", bound=_ClinicianDay)


def _write_clinician_days(
    path: Path,
    columns: Sequence[str],
    items: Iterable[_Day],
    clinicians: Mapping[str, Clinician],
    cells: Callable[[_Day, Clinician | None], dict[str, object]],
) -> None:
    """Write ``plan.csv`` (a row a stop) or ``routes.csv`` (a row a route), ``items`` in their
    order: the clinician's columns and the travel are the same in both; ``cells`` gives the
    item's own."""
    rows: list[dict[str, object]] = []
    for item in items:
        clinician = clinicians.get(item.clinician_id)
        rows.append(
            {
                "clinician_id": item.clinician_id,
                "team_id": clinician.team_id if clinician else "",
                "date": item.day.isoformat(),
                "travel_min": item.travel_min,
                "travel_km": _format_km(item.travel_km),
                "clinician_name": clinician.name if clinician else "",
                "role": clinician.role.value if clinician else "",
                **cells(item, clinician),
            }
        )
    _write_csv(path, columns, rows)


def write_plan(
    out_dir: Path,
    problem: Problem,
    plan: Plan,
    kpis: Mapping[str, object],
    reasons: Mapping[str, tuple[str, str]],
) -> None:
    """Write ``plan.csv``, ``routes.csv``, ``unscheduled.csv`` and ``kpis.json`` to ``out_dir``.

    The FORMAT.md columns come first, extras after. ``reasons[visit_id] = (english, chinese)``
    fills ``reason``/``reason_zh`` of unscheduled visits; without it the plan's own reason is
    used. ``kpis.json`` also records the plan's ``status``, ``objective`` and ``solve_seconds``
    unless ``kpis`` already has them (so :func:`read_plan` can restore them).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    visits = {v.visit_id: v for v in problem.visits}
    clinicians = {c.clinician_id: c for c in problem.clinicians}

    def stop_cells(stop: Stop, clinician: Clinician | None) -> dict[str, object]:
        visit = visits.get(stop.visit_id)
        return {
            "visit_id": stop.visit_id,
            "resident_id": (visit.resident_id or "") if visit else "",
            "programme": visit.programme if visit else "",
            "sequence": stop.sequence,
            "arrival": format_hhmm(stop.arrival_min),
            "start": format_hhmm(stop.start_min),
            "end": format_hhmm(stop.end_min),
            "committee_id": (visit.committee_id or "") if visit else "",
            "via_centre": _format_bool(stop.via_centre),
            "urgency": visit.urgency.name.lower() if visit else "",
            "duration_min": visit.duration_min if visit else "",
            "due_by": visit.due_by.isoformat() if visit else "",
            "lat": f"{visit.location.lat:.6f}" if visit else "",
            "lon": f"{visit.location.lon:.6f}" if visit else "",
            **_why_due(visit),
        }

    def route_cells(route: Route, clinician: Clinician | None) -> dict[str, object]:
        return {
            "depart": format_hhmm(route.depart_min),
            "return": format_hhmm(route.return_min),
            "visits": len(route.stops),
            "work_min": route.work_min,
            "overtime_min": route.overtime_min,
            "travel_mode": clinician.travel_mode.value if clinician else "",
            "centre_id": clinician.centre_id if clinician else "",
        }

    _write_clinician_days(
        out_dir / "plan.csv",
        (*PLAN_COLUMNS, *PLAN_EXTRAS),
        sorted(plan.stops(), key=lambda s: (s.clinician_id, s.day, s.sequence)),
        clinicians,
        stop_cells,
    )
    _write_clinician_days(
        out_dir / "routes.csv",
        (*ROUTE_COLUMNS, *ROUTE_EXTRAS),
        sorted(plan.routes, key=lambda r: (r.clinician_id, r.day)),
        clinicians,
        route_cells,
    )

    left_rows: list[dict[str, object]] = []
    kinds = {
        u.visit_id: left_out_kind(problem, visits[u.visit_id])
        for u in plan.unscheduled
        if u.visit_id in visits
    }
    order = list(LeftOutKind)  # the alarms first, then the optional, then the not yet due
    for left in sorted(
        plan.unscheduled,
        key=lambda u: order.index(kinds.get(u.visit_id, LeftOutKind.UNSCHEDULED)),
    ):
        visit = visits.get(left.visit_id)
        english, chinese = reasons.get(left.visit_id, (left.reason, left.reason_zh))
        kind = kinds.get(left.visit_id)
        left_rows.append(
            {
                "visit_id": left.visit_id,
                "resident_id": (visit.resident_id or "") if visit else "",
                "programme": visit.programme if visit else "",
                "due_by": visit.due_by.isoformat() if visit else "",
                "reason": english,
                "reason_zh": chinese,
                "committee_id": (visit.committee_id or "") if visit else "",
                "urgency": visit.urgency.name.lower() if visit else "",
                "team_id": visit.team_id if visit else "",
                **_why_due(visit),
                "kind": kind.value if kind is not None else "",
            }
        )
    _write_csv(out_dir / "unscheduled.csv", (*UNSCHEDULED_COLUMNS, *UNSCHEDULED_EXTRAS), left_rows)

    document = dict(kpis)
    document.setdefault("solve_seconds", plan.solve_seconds)
    document.setdefault("status", plan.status)
    document.setdefault("objective", plan.objective)
    (out_dir / "kpis.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2, default=_json_default) + "\n",
        encoding="utf-8",
    )


DUE_COLUMNS: Final[tuple[str, ...]] = (
    "visit_id",
    "resident_id",
    "committee_id",
    "team_id",
    "programme",
    "programme_zh",
    "urgency",
    "last_visit",
    "due_by",
    "earliest",
    "windows",
    "rule",
)


def due_rows(problem: Problem) -> list[dict[str, object]]:
    """The week's visits before any solve, most urgent first: one row per visit.

    ``windows`` are the days and times the visit may lie in this week (the rule's days, the
    programme's hours or the request's window, cut to the resident's availability); empty when
    nothing is left.
    """
    names = builtin_programmes()
    rows: list[dict[str, object]] = []
    ordered = sorted(problem.visits, key=lambda v: (-v.urgency, v.due_by, v.team_id, v.visit_id))
    for visit in ordered:
        basis = visit.basis
        programme = names.get(visit.programme)
        rows.append(
            {
                "visit_id": visit.visit_id,
                "resident_id": visit.resident_id or "",
                "committee_id": visit.committee_id or "",
                "team_id": visit.team_id,
                "programme": visit.programme,
                "programme_zh": programme.name_zh if programme else "",
                "urgency": visit.urgency.name.lower(),
                "due_by": visit.due_by.isoformat(),
                "earliest": basis.earliest.isoformat() if basis else "",
                "windows": windows_summary(visit, problem.days, zh=False),
                **_why_due(visit),
            }
        )
    return rows


def write_due_list(path: Path, problem: Problem) -> None:
    """Write :func:`due_rows` as a CSV (UTF-8 with BOM, like the plan files)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _write_csv(Path(path), DUE_COLUMNS, due_rows(problem))


# --- reading a plan back ---------------------------------------------------------------------


def _clock(text: str) -> int:
    """``HH:MM`` of a plan file; hours may pass 24 (a route running past midnight)."""
    match = re.fullmatch(r"(\d{1,3}):(\d{2})", text.strip())
    if not match or int(match[2]) > 59:
        raise MessageError("plan_file.time")
    return int(match[1]) * 60 + int(match[2])


def _int(text: str) -> int:
    if re.fullmatch(r"-?\d+", text.strip()) is None:
        raise MessageError("plan_file.whole_number")
    return int(text)


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise MessageError("plan_file.negative")
    return value


def _km(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MessageError("plan_file.kilometres") from None
    if not math.isfinite(value) or value < 0:
        raise MessageError("plan_file.kilometres")
    return value


def _plan_table(out_dir: Path, stem: str, problems: list[InputProblem]) -> Table | None:
    path = out_dir / f"{stem}.csv"
    if not path.is_file():
        message = Message("plan_file.missing_file", {"folder": out_dir})
        problems.append(InputProblem.of(path.name, None, None, None, message))
        return None
    table = _read_csv(path, problems)
    if table is None:
        return None
    columns = {
        "plan": PLAN_COLUMNS,
        "routes": ROUTE_COLUMNS,
        "unscheduled": UNSCHEDULED_COLUMNS,
    }
    missing = [c for c in columns[stem] if c not in table.columns]
    for column in missing:
        problems.append(
            InputProblem.of(
                table.file,
                None,
                column,
                None,
                Message("plan_file.missing_column", {"column": column}),
            )
        )
    return None if missing else table


def read_plan(out_dir: Path, problem: Problem) -> Plan:
    """Read ``plan.csv``, ``routes.csv`` and ``unscheduled.csv`` (and ``kpis.json``) back.

    Routes come sorted by (clinician, date), stops by sequence. Raises :class:`DatasetError`
    for missing or malformed files, unknown visits or clinicians, and plan rows that disagree
    with ``routes.csv``.
    """
    out_dir = Path(out_dir)
    problems: list[InputProblem] = []
    visits: dict[str, Visit] = {v.visit_id: v for v in problem.visits}
    clinicians = {c.clinician_id: c for c in problem.clinicians}

    stops: dict[tuple[str, dt.date], list[tuple[int, Stop]]] = defaultdict(list)
    plan_table = _plan_table(out_dir, "plan", problems)
    if plan_table is not None:
        for r in _rows(plan_table, problems):
            visit_id = r.reference("visit_id", visits, "the week's visits")
            clinician_id = r.reference("clinician_id", clinicians, "the week's clinicians")
            day = r.need("date", parse_date, "a date")
            sequence = r.need("sequence", _non_negative_int, "a sequence number")
            arrival = r.need("arrival", _clock, "a time")
            start = r.need("start", _clock, "a time")
            end = r.need("end", _clock, "a time")
            travel_min = r.need("travel_min", _non_negative_int, "minutes")
            travel_km = r.need("travel_km", _km, "kilometres")
            via_centre = r.opt("via_centre", parse_bool, False)
            if r.ok:
                with _invariants(r):
                    stop = Stop(
                        visit_id,
                        clinician_id,
                        _value(day),
                        _value(sequence),
                        _value(arrival),
                        _value(start),
                        _value(end),
                        _value(travel_min),
                        _value(travel_km),
                        _value(via_centre),
                    )
                    stops[(clinician_id, stop.day)].append((r.row.number, stop))

    routes: list[Route] = []
    route_table = _plan_table(out_dir, "routes", problems)
    if route_table is not None:
        seen: dict[tuple[str, dt.date], int] = {}
        for r in _rows(route_table, problems):
            clinician_id = r.reference("clinician_id", clinicians, "the week's clinicians")
            day = r.need("date", parse_date, "a date")
            depart = r.need("depart", _clock, "a time")
            back = r.need("return", _clock, "a time")
            count = r.need("visits", _non_negative_int, "a number of visits")
            travel_min = r.need("travel_min", _non_negative_int, "minutes")
            travel_km = r.need("travel_km", _km, "kilometres")
            work_min = r.need("work_min", _non_negative_int, "minutes")
            overtime = r.need("overtime_min", _non_negative_int, "minutes")
            if not r.ok or day is None:
                continue
            key = (clinician_id, day)
            if key in seen:
                twice = {"clinician": clinician_id, "row": seen[key]}
                r.problem("date", Message("plan_file.second_route", twice))
                continue
            seen[key] = r.row.number
            ordered = sorted(stops.pop(key, []), key=lambda item: item[1].sequence)
            sequences = [stop.sequence for _, stop in ordered]
            if len(set(sequences)) != len(sequences):
                again = {"clinician": clinician_id, "day": day}
                r.problem(None, Message("plan_file.repeated_sequence", again))
            if count != len(ordered):
                counts = {"count": count, "rows": len(ordered), "clinician": clinician_id}
                r.problem("visits", Message("plan_file.visit_count", counts | {"day": day}))
            if r.ok:
                with _invariants(r):
                    route = Route(
                        clinician_id,
                        _value(day),
                        _value(depart),
                        _value(back),
                        tuple(stop for _, stop in ordered),
                        _value(travel_min),
                        _value(travel_km),
                        _value(work_min),
                        _value(overtime),
                    )
                    routes.append(route)
        for (clinician_id, day), orphans in sorted(stops.items()):
            problems.append(
                InputProblem.of(
                    "plan.csv",
                    orphans[0][0],
                    "date",
                    day.isoformat(),
                    Message("plan_file.no_route", {"clinician": clinician_id}),
                )
            )

    unscheduled: list[Unscheduled] = []
    if (out_dir / "unscheduled.csv").is_file():
        left_table = _plan_table(out_dir, "unscheduled", problems)
        if left_table is not None:
            for r in _rows(left_table, problems):
                visit_id = r.reference("visit_id", visits, "the week's visits")
                if r.ok:
                    unscheduled.append(Unscheduled(visit_id, r.text("reason"), r.text("reason_zh")))

    meta = _read_kpis(out_dir, problems)
    if problems:
        raise DatasetError(problems)
    routes.sort(key=lambda route: (route.clinician_id, route.day))
    objective = meta.get("objective")
    seconds = meta.get("solve_seconds")
    return Plan(
        routes=tuple(routes),
        unscheduled=tuple(unscheduled),
        solve_seconds=float(seconds) if isinstance(seconds, int | float) else 0.0,
        objective=objective
        if isinstance(objective, int) and not isinstance(objective, bool)
        else None,
        status=str(meta.get("status") or ""),
    )


def _read_kpis(out_dir: Path, problems: list[InputProblem]) -> dict[str, object]:
    path = out_dir / "kpis.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(_file_problem(path.name, Message("plan_file.json", {"error": exc})))
        return {}
    if not isinstance(data, dict):
        problems.append(_file_problem(path.name, Message("plan_file.json_object")))
        return {}
    return data
