"""Two plans of the same week on one map, and what moved between them.

Used for what-if scenarios and re-plans: a team leader sees plan A and plan B as two layers of
one map (A dashed and hollow, B solid), a third layer marking every visit that changed (added,
dropped, moved to another clinician or day), and under the map the key figures of both plans
and a table of the changes. One map rather than two side by side because on a phone two maps
would each be too small to read, and one map needs no synchronising script; the layer switches
sit above the map as large buttons instead of Leaflet's small layer control.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import folium

from maps.assets import ASSETS_DIR
from maps.base import (
    LegGeometry,
    MapPage,
    Tiles,
    day_label,
    esc,
    finish_page,
    geometry_for,
    mask_name,
    new_map,
    on_map,
    route_legs,
    route_path,
    script_json,
    straight_leg,
)
from scheduler.model import (
    Centre,
    Clinician,
    Plan,
    Problem,
    Resident,
    TravelMode,
    Visit,
    format_hhmm,
)
from scheduler.programmes import Programme, builtin_programmes

__all__ = [
    "CHANGE_LABELS",
    "PLAN_COLOURS",
    "Assignment",
    "ChangeKind",
    "PlanFigures",
    "VisitChange",
    "plan_changes",
    "plan_figures",
    "render_plan_comparison",
]


class ChangeKind(StrEnum):
    """How a visit differs from plan A to plan B."""

    DROPPED = "dropped"  # scheduled in A, not in B
    MOVED = "moved"  # scheduled in both, by another clinician or on another day
    ADDED = "added"  # scheduled in B, not in A


CHANGE_LABELS: Final[dict[ChangeKind, str]] = {
    ChangeKind.DROPPED: "取消 Dropped",
    ChangeKind.MOVED: "调整 Moved",
    ChangeKind.ADDED: "新增 Added",
}

PLAN_COLOURS: Final = (
    "#1f77b4",
    "#9467bd",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#393b79",
    "#7f7f7f",
)
"""Colours given to clinicians in order of id (cycled): no red, orange or green, which mark
the changes (and red the centre)."""

# A symbol as well as a colour, for colour-blind readers and grey-scale printouts.
_CHANGE_SYMBOLS: Final = {ChangeKind.DROPPED: "−", ChangeKind.MOVED: "⇄", ChangeKind.ADDED: "+"}
_CHANGE_ORDER: Final = {kind: i for i, kind in enumerate(ChangeKind)}


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who does a visit, on which day, from when (one per clinician of a joint visit)."""

    clinician_id: str
    day: dt.date
    start_min: int


@dataclass(frozen=True, slots=True)
class VisitChange:
    """One visit that differs between two plans."""

    visit_id: str
    kind: ChangeKind
    before: tuple[Assignment, ...]  # in plan A; empty when added
    after: tuple[Assignment, ...]  # in plan B; empty when dropped

    @property
    def other_clinician(self) -> bool:
        """Whether a moved visit is done by (at least one) other clinician."""
        return {a.clinician_id for a in self.before} != {a.clinician_id for a in self.after}

    @property
    def other_day(self) -> bool:
        """Whether a moved visit is done on another day."""
        return {a.day for a in self.before} != {a.day for a in self.after}


@dataclass(frozen=True, slots=True)
class PlanFigures:
    """The key figures of a plan that a comparison puts side by side."""

    scheduled: int  # visits (a joint visit once)
    unscheduled: int
    travel_min: int
    travel_km: float
    overtime_min: int
    clinician_days: int  # routes with at least one stop


def _assignments(plan: Plan) -> dict[str, tuple[Assignment, ...]]:
    by_visit: dict[str, list[Assignment]] = {}
    for stop in plan.stops():
        by_visit.setdefault(stop.visit_id, []).append(
            Assignment(stop.clinician_id, stop.day, stop.start_min)
        )
    return {
        visit_id: tuple(sorted(found, key=lambda a: (a.day, a.start_min, a.clinician_id)))
        for visit_id, found in by_visit.items()
    }


def plan_changes(plan_a: Plan, plan_b: Plan) -> list[VisitChange]:
    """The visits that plan B adds, drops or moves (other clinician or day) against plan A.

    A visit kept with the same clinicians on the same day is not a change, even at another
    time. Dropped come first, then moved, then added, each by day and visit id.
    """
    before, after = _assignments(plan_a), _assignments(plan_b)
    changes = []
    for visit_id in before.keys() | after.keys():
        was, now = before.get(visit_id, ()), after.get(visit_id, ())
        if not now:
            kind = ChangeKind.DROPPED
        elif not was:
            kind = ChangeKind.ADDED
        elif {(a.clinician_id, a.day) for a in was} != {(a.clinician_id, a.day) for a in now}:
            kind = ChangeKind.MOVED
        else:
            continue
        changes.append(VisitChange(visit_id, kind, was, now))
    return sorted(
        changes,
        key=lambda c: (_CHANGE_ORDER[c.kind], (c.before or c.after)[0].day, c.visit_id),
    )


def plan_figures(plan: Plan) -> PlanFigures:
    """Scheduled and unscheduled visits, travel, overtime and clinician-days of ``plan``."""
    routes = [r for r in plan.routes if r.stops]
    return PlanFigures(
        scheduled=len({s.visit_id for s in plan.stops()}),
        unscheduled=len(plan.unscheduled),
        travel_min=sum(r.travel_min for r in routes),
        travel_km=sum(r.travel_km for r in routes),
        overtime_min=sum(r.overtime_min for r in routes),
        clinician_days=len(routes),
    )


_COMPARE_CSS: Final = """
.hv-toggles { display: flex; flex-wrap: wrap; gap: 8px; padding: 8px 12px; background: #fff;
       border-bottom: 1px solid #ddd; }
button.hv-toggle { min-height: 44px; min-width: 64px; padding: 0 12px; border-radius: 22px;
       font: inherit; font-size: 0.95rem; font-weight: 600; border: 2px solid #1f5f8b;
       background: #fff; color: #124a6e; cursor: pointer; }
button.hv-toggle[aria-pressed="true"] { background: #1f5f8b; color: #fff; }
button.hv-toggle[aria-pressed="false"] { text-decoration: line-through; opacity: 0.75; }
.hv-tag { display: inline-block; min-width: 1.6em; padding: 0 6px; border-radius: 4px;
       font-weight: 700; text-align: center; color: #fff; background: #555; }
.hv-tag-a { background: #6b7b8c; } .hv-tag-b { background: #1f5f8b; }
header.hv .hv-tag { border: 1px solid #fff; }
.hv-line { display: inline-block; width: 22px; height: 0; margin-right: 6px;
       vertical-align: middle; border-top: 3px solid currentColor; }
.hv-line-a { border-top-style: dashed; }
.hv-side + .hv-side { margin-top: 4px; }
.hv-tag-dropped { background: #c62828; } .hv-tag-moved { background: #e65100; }
.hv-tag-added { background: #2e7d32; }
.hv-change-icon b { display: block; width: 24px; height: 24px; line-height: 22px;
       text-align: center; border-radius: 12px; color: #fff; font-size: 16px; font-weight: 700;
       border: 2px solid #fff; box-shadow: 0 0 3px rgba(0,0,0,.6); }
.hv-change-dropped b { background: #c62828; } .hv-change-moved b { background: #e65100; }
.hv-change-added b { background: #2e7d32; }
table.hv-changes { border-collapse: collapse; width: 100%; background: #fff; }
/* Fixed widths: a very long name in one cell must not squeeze the other columns to a letter. */
@media (min-width: 641px) {
  table.hv-changes { table-layout: fixed; }
  table.hv-changes th:nth-child(1) { width: 20%; }
  table.hv-changes th:nth-child(2), table.hv-changes th:nth-child(3) { width: 40%; }
}
table.hv-changes th, table.hv-changes td { border: 1px solid #ddd; padding: 6px 8px;
       text-align: left; vertical-align: top; overflow-wrap: anywhere; }
table.hv-kpi td.hv-delta { font-weight: 700; }
button.hv-locate { min-height: 44px; min-width: 44px; margin-top: 6px; padding: 0 12px;
       border: 0; border-radius: 8px; background: #e8f1f8; color: #124a6e; font: inherit;
       font-weight: 600; cursor: pointer; }
label.hv-day-pick { display: inline-flex; align-items: center; gap: 6px; font-weight: 600;
       color: #124a6e; }
select.hv-day { min-height: 44px; font: inherit; font-size: 16px; padding: 0 8px;
       border: 2px solid #1f5f8b; border-radius: 8px; background: #fff; color: #124a6e; }
table.hv-changes tr[hidden] { display: none; }
.hv-summary { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 4px 0 8px; }
/* On a phone each change is a card: its cells stacked, each with its column's name. */
@media (max-width: 640px) {
  table.hv-changes thead { display: none; }
  table.hv-changes, table.hv-changes tbody, table.hv-changes tr,
  table.hv-changes td { display: block; width: auto; }
  table.hv-changes tr { border: 1px solid #ddd; border-radius: 8px; margin: 0 0 10px;
       padding: 4px 0; background: #fff; }
  table.hv-changes td { border: 0; padding: 4px 10px; }
  table.hv-changes td[data-label]::before { content: attr(data-label); display: block;
       color: #666; font-size: 0.85rem; }
}
@media (min-width: 900px) { .hv-wide { grid-template-columns: 1fr 1fr; } }
"""

_TOGGLE_SCRIPT: Final = """
(function () {
  var map = %(map)s;
  var layers = [%(layers)s];
  var shown = {a: true, b: true, changes: true};
  var day = "all";
  function apply() {
    layers.forEach(function (entry) {
      var on = shown[entry.kind] && (day === "all" || entry.days.indexOf(day) >= 0);
      if (on && !map.hasLayer(entry.layer)) { map.addLayer(entry.layer); }
      if (!on && map.hasLayer(entry.layer)) { map.removeLayer(entry.layer); }
    });
    document.querySelectorAll("tr.hv-change").forEach(function (row) {
      row.hidden = day !== "all" && row.dataset.days.split(" ").indexOf(day) < 0;
    });
  }
  document.querySelectorAll("button.hv-toggle").forEach(function (button) {
    button.addEventListener("click", function () {
      shown[button.dataset.layer] = !shown[button.dataset.layer];
      button.setAttribute("aria-pressed", shown[button.dataset.layer] ? "true" : "false");
      apply();
    });
  });
  // A chosen day is zoomed to: one clinician-day fills the map instead of a corner of it.
  function fitShown() {
    var bounds = null;
    layers.forEach(function (entry) {
      if (!map.hasLayer(entry.layer)) { return; }
      var found = entry.layer.getBounds();
      if (!found.isValid()) { return; }
      bounds = bounds
        ? bounds.extend(found)
        : L.latLngBounds(found.getSouthWest(), found.getNorthEast());
    });
    if (bounds) { map.fitBounds(bounds, {padding: [36, 36], maxZoom: 17}); }
  }
  document.querySelectorAll("select.hv-day").forEach(function (select) {
    select.addEventListener("change", function () { day = select.value; apply(); fitShown(); });
  });
  document.querySelectorAll("button.hv-locate").forEach(function (button) {
    button.addEventListener("click", function () {
      var go = function () {
        map.setView([Number(button.dataset.lat), Number(button.dataset.lon)], 17, {animate: false});
      };
      // A zoom still animating (a slow phone, a tap right after choosing the day) ends by
      // applying its own target, which would undo this one: wait for it to end first.
      if (map._animatingZoom) { map.once("zoomend", go); } else { go(); }
      document.getElementById(%(map_id)s).scrollIntoView({block: "center"});
    });
  });
})();
"""


class _Layers:
    """The map's layers by what they show (a, b, changes) and the days they belong to.

    One folium layer per (kind, days) so that the page script can show one day at a time: a
    week of a whole centre is unreadable at once.
    """

    def __init__(self, fmap: folium.Map) -> None:
        self._fmap = fmap
        self._groups: dict[tuple[str, tuple[dt.date, ...]], folium.FeatureGroup] = {}

    def get(self, kind: str, days: tuple[dt.date, ...]) -> folium.FeatureGroup:
        key = (kind, tuple(sorted(set(days))))
        if key not in self._groups:
            group = folium.FeatureGroup(name=f"{kind} {' '.join(map(str, key[1]))}", show=True)
            group.add_to(self._fmap)
            self._groups[key] = group
        return self._groups[key]

    def script_entries(self) -> str:
        return ", ".join(
            f"{{layer: {group.get_name()}, kind: {script_json(kind)}, "
            f"days: {script_json([d.isoformat() for d in days])}}}"
            for (kind, days), group in self._groups.items()
        )


def _assignment_text(assignment: Assignment, names: Mapping[str, str]) -> str:
    who = names.get(assignment.clinician_id, assignment.clinician_id)
    return f"{who} · {day_label(assignment.day)} · {format_hhmm(assignment.start_min)}"


def _side(
    key: str,
    assignments: tuple[Assignment, ...],
    names: Mapping[str, str],
    visit_id: str,
    plan: Plan,
    in_problem: bool,
) -> str:
    """Where one plan has the visit: who, which day, from when; or why it is not there."""
    tag = f'<span class="hv-tag hv-tag-{key}">{key.upper()}</span> '
    if assignments:
        where = "<br>".join(esc(_assignment_text(a, names)) for a in assignments)
    elif not in_problem:
        where = '<span class="hv-muted">不在此方案 Not in this plan</span>'
    else:
        left = next((u for u in plan.unscheduled if u.visit_id == visit_id), None)
        # Chinese first, English beside; either may be missing in an older stored plan.
        reason = " / ".join(r for r in (left.reason_zh, left.reason) if r) if left else ""
        where = "<b>未排 Unscheduled</b>" + (
            f' <span class="hv-muted">{esc(reason)}</span>' if reason else ""
        )
    return f'<div class="hv-side">{tag}{where}</div>'


def _visit_cell(
    visit: Visit,
    residents: Mapping[str, Resident],
    programmes: Mapping[str, Programme],
    mask_names: bool,
) -> str:
    programme = programmes.get(visit.programme)
    label = f"{programme.name_zh} · {programme.name_en}" if programme else visit.programme
    resident = residents.get(visit.resident_id) if visit.resident_id else None
    if resident is not None:
        who = resident.name if not mask_names else mask_name(resident.name)
        where = f"{who} · {resident.address}" if resident.address else who
    elif visit.committee_id:
        where = f"居委会活动 Committee session · {visit.committee_id}"
    else:
        where = ""
    return (
        f"<b>{esc(label)}</b>"
        + (f"<div>{esc(where)}</div>" if where else "")
        + f'<div class="hv-muted">{esc(visit.visit_id)}</div>'
    )


def _delta(a: float, b: float, unit_format: str) -> str:
    diff = b - a
    if abs(diff) < 0.05:
        return "±0"
    return ("+" if diff > 0 else "−") + format(abs(diff), unit_format)


def _figures_table(a: PlanFigures, b: PlanFigures, label_a: str, label_b: str) -> str:
    rows = [
        ("已排上门 Visits scheduled", a.scheduled, b.scheduled, "d"),
        ("未排 Unscheduled", a.unscheduled, b.unscheduled, "d"),
        ("路上时间 Travel (h)", a.travel_min / 60, b.travel_min / 60, ".1f"),
        ("路程 Distance (km)", a.travel_km, b.travel_km, ".1f"),
        ("加班 Overtime (min)", a.overtime_min, b.overtime_min, "d"),
        ("出诊人日 Clinician-days out", a.clinician_days, b.clinician_days, "d"),
    ]
    head = (
        "<tr><th>指标 Figure</th>"
        f'<th><span class="hv-tag hv-tag-a">A</span><div class="hv-muted">{esc(label_a)}</div></th>'
        f'<th><span class="hv-tag hv-tag-b">B</span><div class="hv-muted">{esc(label_b)}</div></th>'
        "<th>差 B−A</th></tr>"
    )
    body = "".join(
        f"<tr><th>{esc(name)}</th><td>{format(va, fmt)}</td><td>{format(vb, fmt)}</td>"
        f'<td class="hv-delta">{_delta(va, vb, fmt)}</td></tr>'
        for name, va, vb, fmt in rows
    )
    return f'<table class="hv-kpi hv-figures">{head}{body}</table>'


def _day_picker(plan_a: Plan, plan_b: Plan) -> str:
    """A day selector when the plans span more than one day (a native picker on phones)."""
    days = sorted({r.day for p in (plan_a, plan_b) for r in p.routes if r.stops})
    if len(days) < 2:
        return ""
    options = "".join(f'<option value="{d.isoformat()}">{esc(day_label(d))}</option>' for d in days)
    return (
        '<label class="hv-day-pick">日 Day <select class="hv-day">'
        f'<option value="all">全周 Whole week</option>{options}</select></label>'
    )


def _main_centre(
    problem: Problem, plans: Sequence[Plan], clinicians: Sequence[Clinician]
) -> Centre:
    centre_of = {c.clinician_id: c.centre_id for c in clinicians}
    counts = Counter(
        centre_of[r.clinician_id]
        for plan in plans
        for r in plan.routes
        if r.clinician_id in centre_of
    )
    centre_id = counts.most_common(1)[0][0] if counts else sorted(problem.centres)[0]
    return problem.centres[centre_id]


def render_plan_comparison(
    problem: Problem,
    plan_a: Plan,
    plan_b: Plan,
    label_a: str,
    label_b: str,
    *,
    problem_b: Problem | None = None,
    residents: Mapping[str, Resident] | None = None,
    lang: str = "zh",
    tiles: Tiles = "none",
    leg_geometry: LegGeometry = straight_leg,
    leg_geometry_by_mode: Mapping[TravelMode, LegGeometry] | None = None,
    programmes: Mapping[str, Programme] | None = None,
    mask_names: bool = True,
    assets_url: str = ASSETS_DIR,
) -> MapPage:
    """Two plans of the same area as one HTML page: both on one map, and what moved.

    Parameters
    ----------
    problem
        The week plan A answers (and plan B too, unless ``problem_b`` is given).
    plan_a, plan_b
        The two plans, e.g. the approved plan and a re-plan, or a baseline and a scenario.
        Drawn, never changed or solved.
    label_a, label_b
        What each plan is, shown with the letters A and B, e.g. ``"原方案 Approved"`` and
        ``"重排 Re-plan"``.
    problem_b
        The week plan B answers when it differs from ``problem`` (a scenario that adds
        clinicians or visits); clinicians and visits are looked up in both.
    residents
        The register, for masked names and addresses in the table of changes (optional).
    lang, tiles, leg_geometry, leg_geometry_by_mode, programmes, mask_names, assets_url
        As for :func:`maps.day.render_clinician_day`.

    Returns
    -------
    str
        The page: a map with three layers (A, B, changes) switched by buttons above it, the key
        figures of both plans and a table of the visits added, dropped or moved.
    """
    programmes = builtin_programmes() if programmes is None else programmes
    residents = residents or {}
    second = problem_b or problem
    clinicians = {c.clinician_id: c for c in (*problem.clinicians, *second.clinicians)}
    visits = {v.visit_id: v for v in (*problem.visits, *second.visits)}
    names = {cid: c.name for cid, c in clinicians.items()}
    colour = {cid: PLAN_COLOURS[i % len(PLAN_COLOURS)] for i, cid in enumerate(sorted(clinicians))}
    centres = {**problem.centres, **second.centres}
    changes = plan_changes(plan_a, plan_b)

    main_centre = _main_centre(problem, (plan_a, plan_b), list(clinicians.values()))
    points = [visits[s.visit_id].location for plan in (plan_a, plan_b) for s in plan.stops()]
    points += [visits[c.visit_id].location for c in changes]
    fmap = new_map(main_centre.location, points, tiles=tiles, assets_url=assets_url)
    used_centres = {
        clinicians[r.clinician_id].centre_id for p in (plan_a, plan_b) for r in p.routes if r.stops
    } or {main_centre.centre_id}
    for centre_id in sorted(used_centres):
        centre = centres[centre_id]
        folium.Marker(
            on_map(centre.location.lat, centre.location.lon, tiles),
            icon=folium.DivIcon(
                html='<div class="hv-marker hv-centre"><b>站</b></div>',
                icon_size=(30, 30),
                icon_anchor=(15, 15),
                class_name="hv-icon hv-icon-centre",
            ),
            tooltip=f"{centre.name} (中心 centre)",
        ).add_to(fmap)

    layers = _Layers(fmap)
    for key, plan in (("a", plan_a), ("b", plan_b)):
        is_a = key == "a"
        for route in sorted(plan.routes, key=lambda r: (r.day, r.clinician_id)):
            if not route.stops:
                continue
            layer = layers.get(key, (route.day,))
            clinician = clinicians[route.clinician_id]
            col = colour[route.clinician_id]
            stops = sorted(route.stops, key=lambda s: s.sequence)
            legs = route_legs(
                centres[clinician.centre_id].location,
                [(visits[s.visit_id].location, s.via_centre) for s in stops],
            )
            who = f"{key.upper()} · {clinician.name} · {day_label(route.day)}"
            # A is drawn thin, dashed and hollow under B so that both stay readable.
            folium.PolyLine(  # type: ignore[no-untyped-call]
                route_path(
                    legs,
                    geometry_for(leg_geometry, leg_geometry_by_mode, clinician.travel_mode),
                    tiles,
                ),
                color=col,
                weight=3 if is_a else 4,
                opacity=0.6 if is_a else 0.85,
                dash_array="6 6" if is_a else None,
                tooltip=who,
                class_name=f"hv-route-{key}",
            ).add_to(layer)
            for number, stop in enumerate(stops, start=1):
                visit = visits[stop.visit_id]
                prog = programmes.get(visit.programme)
                what = f"{prog.name_zh} {prog.name_en}" if prog else visit.programme
                folium.CircleMarker(
                    on_map(visit.location.lat, visit.location.lon, tiles),
                    radius=7 if is_a else 5,
                    color=col,
                    weight=2,
                    fill=True,
                    fill_color="#fff" if is_a else col,
                    fill_opacity=0.9,
                    tooltip=f"{who} · #{number} {format_hhmm(stop.start_min)} · {what}",
                    class_name=f"hv-stop-{key}",
                ).add_to(layer)

    rows = []
    for change in changes:
        visit = visits[change.visit_id]
        in_second = any(v.visit_id == change.visit_id for v in second.visits)
        lat, lon = on_map(visit.location.lat, visit.location.lon, tiles)
        label = CHANGE_LABELS[change.kind]
        days = tuple(a.day for a in (*change.before, *change.after))
        detail = []
        if change.kind is ChangeKind.MOVED:
            if change.other_clinician:
                detail.append("换人 other clinician")
            if change.other_day:
                detail.append("换日 other day")
        folium.Marker(
            (lat, lon),
            icon=folium.DivIcon(
                html=f"<b>{_CHANGE_SYMBOLS[change.kind]}</b>",
                icon_size=(28, 28),
                # Up and to the right of the home, so the stop circles stay visible under it.
                icon_anchor=(-2, 30),
                class_name=f"hv-icon hv-change-icon hv-change-{change.kind.value}",
            ),
            tooltip=f"{label} · {visit.visit_id}" + (f" · {', '.join(detail)}" if detail else ""),
        ).add_to(layers.get("changes", days))
        kind_cell = (
            f'<span class="hv-tag hv-tag-{change.kind.value}">{_CHANGE_SYMBOLS[change.kind]}</span>'
            f" {esc(label)}" + "".join(f'<div class="hv-muted">{esc(d)}</div>' for d in detail)
        )
        rows.append(
            f'<tr class="hv-change hv-change-row-{change.kind.value}" '
            f'data-visit="{esc(change.visit_id)}" '
            f'data-days="{" ".join(sorted({d.isoformat() for d in days}))}">'
            f'<td data-label="变动 Change">{kind_cell}</td>'
            f'<td data-label="上门 Visit">'
            f"{_visit_cell(visit, residents, programmes, mask_names)}"
            f'<button type="button" class="hv-locate" data-lat="{lat:.6f}" data-lon="{lon:.6f}">'
            "在地图上看 Show on map</button></td>"
            '<td data-label="方案 Plans A → B">'
            f"{_side('a', change.before, names, change.visit_id, plan_a, True)}"
            f"{_side('b', change.after, names, change.visit_id, plan_b, in_second)}</td>"
            "</tr>"
        )

    counts = Counter(c.kind for c in changes)
    summary = "".join(
        f'<span><span class="hv-tag hv-tag-{kind.value}">{_CHANGE_SYMBOLS[kind]}</span> '
        f"{esc(CHANGE_LABELS[kind])} <b>{counts.get(kind, 0)}</b></span>"
        for kind in ChangeKind
    )
    if rows:
        table = (
            '<table class="hv-changes"><thead><tr><th>变动 Change</th><th>上门 Visit</th>'
            "<th>方案 Plans A → B</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    else:
        table = '<p class="hv-muted">两个方案安排相同。Both plans schedule the same visits.</p>'
    shown_ids = sorted({r.clinician_id for p in (plan_a, plan_b) for r in p.routes if r.stops})
    legend = "".join(
        f'<li class="hv-item"><span class="hv-swatch" style="background:{colour[cid]}"></span>'
        f"{esc(names[cid])} · {esc(clinicians[cid].role.value)}</li>"
        for cid in shown_ids
    )
    body = (
        f"<h2>关键指标 Key figures</h2>"
        f"{_figures_table(plan_figures(plan_a), plan_figures(plan_b), label_a, label_b)}"
        f"<h2>变动 Changes ({len(changes)})</h2>"
        f'<div class="hv-summary">{summary}</div>{table}'
        f'<h2>图例 Legend</h2><ul class="hv-list">'
        f'<li class="hv-item"><span class="hv-tag hv-tag-a">A</span> {esc(label_a)}: '
        "虚线空心 dashed line, hollow circles</li>"
        f'<li class="hv-item"><span class="hv-tag hv-tag-b">B</span> {esc(label_b)}: '
        "实线实心 solid line, filled circles</li>"
        f"{legend}</ul>"
    )
    toggles = (
        '<div class="hv-toggles" role="group" aria-label="图层 Layers">'
        # Only the letters: the labels can be long and are spelt out in the header and legend.
        '<button type="button" class="hv-toggle" data-layer="a" aria-pressed="true" '
        f'title="A · {esc(label_a)}"><span class="hv-line hv-line-a"></span>A</button>'
        '<button type="button" class="hv-toggle" data-layer="b" aria-pressed="true" '
        f'title="B · {esc(label_b)}"><span class="hv-line"></span>B</button>'
        '<button type="button" class="hv-toggle" data-layer="changes" aria-pressed="true">'
        f"变动 Changes</button>{_day_picker(plan_a, plan_b)}</div>"
    )
    script = _TOGGLE_SCRIPT % {
        "map": fmap.get_name(),
        "layers": layers.script_entries(),
        "map_id": script_json(fmap.get_name()),
    }
    title = f"方案对比 Plan comparison · {problem.week_start:%Y-%m-%d} 周 week"
    header = (
        f"<h1>{esc(title)}</h1><p>{esc(main_centre.name)} · "
        f'<span class="hv-tag hv-tag-a">A</span> {esc(label_a)} ↔ '
        f'<span class="hv-tag hv-tag-b">B</span> {esc(label_b)}</p>'
    )
    return finish_page(
        fmap,
        title=title,
        header_html=header,
        body_html=body,
        lang=lang,
        above_map_html=toggles,
        extra_css=_COMPARE_CSS,
        script=script,
    )
