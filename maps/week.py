"""A team's week on one map: every clinician's routes, one layer per day, and what is left out.

Each clinician has a colour; each working day is a layer (switched in the layer control), so a
team leader can look at Tuesday alone or the whole week. The visits the plan leaves out are
drawn apart (grey, in their own layer) and listed with their reason; the team's key figures sit
beside the map.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

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
    new_map,
    on_map,
    route_legs,
    route_path,
    rule_html,
    straight_leg,
)
from scheduler.evaluate import LeftOutKind, Reason, left_out_kind
from scheduler.model import Plan, Problem, Resident, Route, TravelMode, format_hhmm
from scheduler.programmes import Programme, builtin_programmes

__all__ = ["CLINICIAN_COLOURS", "render_team_week"]

CLINICIAN_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)
"""Colours given to a team's clinicians in order of id (cycled)."""


_KIND_LABELS: dict[LeftOutKind, str] = {
    LeftOutKind.UNSCHEDULED: "未排（应访/逾期） Due or overdue, left out",
    LeftOutKind.OPTIONAL: "可选未排 Optional, not placed",
    LeftOutKind.NOT_DUE_THIS_WEEK: "本周无需 Not due this week",
}


def _kpi_rows(
    routes: list[Route], scheduled: int, left: Mapping[LeftOutKind, int]
) -> list[tuple[str, str]]:
    work = sum(r.work_min for r in routes)
    travel = sum(r.travel_min for r in routes)
    km = sum(r.travel_km for r in routes)
    overtime = sum(r.overtime_min for r in routes)
    total = scheduled + sum(left.values())
    rate = f"{100 * scheduled / total:.0f}%" if total else "–"
    return [
        ("已排上门 Visits scheduled", str(scheduled)),
        *((label, str(left.get(kind, 0))) for kind, label in _KIND_LABELS.items()),
        ("完成率 Scheduled share", rate),
        ("出诊时长 Hours out", f"{work / 60:.1f} h"),
        ("路上时间 Travel", f"{travel / 60:.1f} h · {km:.1f} km"),
        ("路上占比 Travel share", f"{100 * travel / work:.0f}%" if work else "–"),
        ("加班 Overtime", f"{overtime} min"),
    ]


def render_team_week(
    problem: Problem,
    plan: Plan,
    team_id: str,
    reasons: Mapping[str, Reason],
    residents: Mapping[str, Resident] | None = None,
    *,
    lang: str = "zh",
    tiles: Tiles = "none",
    leg_geometry: LegGeometry = straight_leg,
    leg_geometry_by_mode: Mapping[TravelMode, LegGeometry] | None = None,
    programmes: Mapping[str, Programme] | None = None,
    assets_url: str = ASSETS_DIR,
) -> MapPage:
    """A team's week as a whole HTML page.

    Parameters
    ----------
    problem, plan
        The week and its plan (drawn, never solved).
    team_id
        The team: its clinicians' routes and the unscheduled visits signed to it.
    reasons
        Why each unscheduled visit is left out (``Evaluation.reasons`` of
        :func:`scheduler.evaluate.evaluate`); the plan's own reason text is used when missing.
    residents
        The register, for the addresses of unscheduled visits (optional). Names are not shown.
    lang, tiles, leg_geometry, leg_geometry_by_mode, programmes, assets_url
        As for :func:`maps.day.render_clinician_day`.
    """
    programmes = builtin_programmes() if programmes is None else programmes
    residents = residents or {}
    clinicians = sorted(
        (c for c in problem.clinicians if c.team_id == team_id), key=lambda c: c.clinician_id
    )
    if not clinicians:
        raise KeyError(f"team {team_id} has no clinicians in the problem")
    colour = {
        c.clinician_id: CLINICIAN_COLOURS[i % len(CLINICIAN_COLOURS)]
        for i, c in enumerate(clinicians)
    }
    centre = problem.centres[clinicians[0].centre_id]
    visits = {v.visit_id: v for v in problem.visits}
    routes = sorted(
        (r for r in plan.routes if r.clinician_id in colour and r.stops),
        key=lambda r: (r.day, r.clinician_id),
    )
    left = [u for u in plan.unscheduled if visits[u.visit_id].team_id == team_id]
    kinds = {u.visit_id: left_out_kind(problem, visits[u.visit_id]) for u in left}
    points = [visits[s.visit_id].location for r in routes for s in r.stops]
    points += [visits[u.visit_id].location for u in left]
    fmap = new_map(centre.location, points, tiles=tiles, assets_url=assets_url)
    folium.CircleMarker(
        on_map(centre.location.lat, centre.location.lon, tiles),
        radius=9,
        color="#000",
        fill=True,
        fill_color="#c0392b",
        fill_opacity=1.0,
        tooltip=f"{centre.name} (中心 centre)",
    ).add_to(fmap)

    by_day: dict[object, list[Route]] = defaultdict(list)
    for route in routes:
        by_day[route.day].append(route)
    names = {c.clinician_id: c.name for c in clinicians}
    modes = {c.clinician_id: c.travel_mode for c in clinicians}
    for day in problem.days:
        if day not in by_day:
            continue
        layer = folium.FeatureGroup(name=day_label(day), show=True)
        for route in by_day[day]:
            stops = sorted(route.stops, key=lambda s: s.sequence)
            legs = route_legs(
                centre.location, [(visits[s.visit_id].location, s.via_centre) for s in stops]
            )
            mode = modes[route.clinician_id]
            path = route_path(legs, geometry_for(leg_geometry, leg_geometry_by_mode, mode), tiles)
            col = colour[route.clinician_id]
            folium.PolyLine(  # type: ignore[no-untyped-call]
                path, color=col, weight=3, opacity=0.8, tooltip=f"{names[route.clinician_id]}"
            ).add_to(layer)
            for n, stop in enumerate(stops, start=1):
                visit = visits[stop.visit_id]
                prog = programmes.get(visit.programme)
                label = f"{prog.name_zh} {prog.name_en}" if prog else visit.programme
                folium.CircleMarker(
                    on_map(visit.location.lat, visit.location.lon, tiles),
                    radius=6,
                    color=col,
                    fill=True,
                    fill_opacity=0.9,
                    tooltip=(
                        f"{names[route.clinician_id]} #{n} {format_hhmm(stop.start_min)} · {label}"
                    ),
                    class_name="hv-stop-marker",
                ).add_to(layer)
        layer.add_to(fmap)
    if left:
        layer = folium.FeatureGroup(name="未排 Unscheduled", show=True)
        for item in left:
            visit = visits[item.visit_id]
            folium.CircleMarker(
                on_map(visit.location.lat, visit.location.lon, tiles),
                radius=6,
                color="#555",
                dash_array="3",
                fill=True,
                fill_color="#fff",
                fill_opacity=0.9,
                tooltip=f"未排 {visit.visit_id}",
                class_name="hv-left-marker",
            ).add_to(layer)
        layer.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)

    legend = "".join(
        f'<li class="hv-item"><span class="hv-swatch" style="background:{colour[c.clinician_id]}">'
        f"</span>{esc(c.name)} · {esc(c.role.value)} · "
        f"{sum(len(r.stops) for r in routes if r.clinician_id == c.clinician_id)} 次 visits</li>"
        for c in clinicians
    )
    kpis = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>"
        for k, v in _kpi_rows(routes, sum(len(r.stops) for r in routes), Counter(kinds.values()))
    )
    left_items = []
    order = list(LeftOutKind)
    for item in sorted(
        left,
        key=lambda u: (order.index(kinds[u.visit_id]), -visits[u.visit_id].urgency, u.visit_id),
    ):
        visit = visits[item.visit_id]
        prog = programmes.get(visit.programme)
        label = f"{prog.name_zh} · {prog.name_en}" if prog else visit.programme
        reason = reasons.get(item.visit_id) or Reason(item.reason, item.reason_zh)
        text = f"{esc(reason.zh)}<br><span class='hv-muted'>{esc(reason.en)}</span>"
        resident = residents.get(visit.resident_id) if visit.resident_id else None
        where = esc(resident.address) if resident and resident.address else ""
        left_items.append(
            f'<li class="hv-item hv-left" data-visit="{esc(visit.visit_id)}">'
            f"<b>{esc(visit.visit_id)}</b> · {esc(label)} · "
            f"{esc(_KIND_LABELS[kinds[item.visit_id]])}<div class='hv-muted'>{where}</div>"
            f"<div>{text}</div>{rule_html(visit)}</li>"
        )
    left_html = "".join(left_items) or '<li class="hv-item">无 None</li>'
    body = (
        f'<h2>关键指标 Key figures</h2><table class="hv-kpi">{kpis}</table>'
        f'<h2>团队成员 Clinicians</h2><ul class="hv-list">{legend}</ul>'
        f'<h2>未排上门 Unscheduled visits ({len(left)})</h2><ul class="hv-list">{left_html}</ul>'
    )
    title = f"团队 Team {team_id} · {problem.week_start:%Y-%m-%d} 周 week"
    header = f"<h1>{esc(title)}</h1><p>{esc(centre.name)}</p>"
    return finish_page(fmap, title=title, header_html=header, body_html=body, lang=lang)
