"""One clinician's day as a phone page: the route on a map, then the stops as a list.

The page is what a nurse opens on her phone before leaving the centre: numbered stops with the
arrival time on each marker, the legs between them (straight, or along the roads when a router
draws them), and under the map, stop by stop, the time, the (masked) resident, the address, the
programme and what to bring, the duration, a ``tel:`` link and links that open AMap (GCJ-02) or
Baidu Maps (BD-09) at the address. A leg that passes the centre to hand in blood samples is drawn
through the centre and said in the list. Lunch sits in the list at its time; a committee session
shows the committee's name; stops close together on the map gather into a cluster that names
their numbers (Leaflet.markercluster) and open apart when tapped. Served by the service, the page
links the day before and after and each stop carries its record form (:mod:`maps.record_form`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import folium
from folium.plugins import MarkerCluster

from maps.assets import ASSETS_DIR, cluster_css_links, cluster_js_links
from maps.base import (
    TILE_LAYERS,
    LegGeometry,
    MapPage,
    Tiles,
    amap_url,
    baidu_url,
    day_label,
    esc,
    finish_page,
    geometry_for,
    mask_name,
    new_map,
    on_map,
    route_legs,
    route_path,
    rule_html,
    straight_leg,
)
from maps.record_form import RECORD_CSS, Recording, record_form_html
from scheduler.model import Plan, Problem, Resident, Route, TravelMode, Visit, format_hhmm
from scheduler.programmes import Programme, builtin_programmes

__all__ = ["HAND_IN_COLOUR", "ROUTE_COLOUR", "find_route", "render_clinician_day"]

ROUTE_COLOUR = "#1f5f8b"
HAND_IN_COLOUR = "#c0392b"
"""The legs of a trip back to the centre to hand in samples (the centre's colour)."""

_HAND_IN_TEXT = "↩ 送检 Hand in samples · 先回中心 back to the centre first"

# Stops closer than this on the screen gather into one cluster, labelled with their numbers;
# tapping it zooms in, or at the last zoom spreads them apart. Leaflet.markercluster keeps the
# points it clusters around (a cluster's first stop, a lone stop) at least this far apart, and
# each cluster's icon is drawn at that point (not at the average of its stops), so no two icons
# (at most 104 x 46 px: the widest label, its count below) can overlap: sqrt(104² + 46²) < 116.
_CLUSTER_OPTIONS: dict[str, object] = {
    "maxClusterRadius": 116,
    "showCoverageOnHover": False,
    "spiderfyOnMaxZoom": True,
    "zoomToBoundsOnClick": True,
}
# The label names the stops, runs of numbers shortened ("6,12-14"); more than three runs:
# first…last (the count below says how many).
_CLUSTER_ICON = """function (cluster) {
  var numbers = cluster.getAllChildMarkers()
    .map(function (m) { return m.options.hvNumber; })
    .sort(function (a, b) { return a - b; });
  var runs = [];
  numbers.forEach(function (n) {
    var last = runs[runs.length - 1];
    if (last && n === last[1] + 1) { last[1] = n; } else { runs.push([n, n]); }
  });
  var label = runs.length > 3
    ? numbers[0] + "…" + numbers[numbers.length - 1]
    : runs.map(function (r) {
        return r[0] === r[1] ? String(r[0]) : r[0] + (r[1] > r[0] + 1 ? "-" : ",") + r[1];
      }).join(",");
  var width = Math.min(Math.max(30, 16 + 8 * label.length), 104);
  var group = cluster._group, map = group._map, zoom = map.getZoom();
  if (!group.hvRefreshing) {  // the shift is in pixels of this zoom: redraw after a zoom
    group.hvRefreshing = true;
    map.on("zoomend", function () { group.refreshClusters(); });
  }
  var shift = map.project(cluster._latlng, zoom).subtract(map.project(cluster._cLatLng, zoom));
  return L.divIcon({
    html: "<b>" + label + "</b><span>" + numbers.length + " 站</span>",
    className: "hv-cluster",
    iconSize: L.point(width, 46),
    iconAnchor: L.point(width / 2, 15).add(shift)
  });
}"""

DAY_CSS = """
.hv-days { display: flex; gap: 8px; margin-top: 6px; }
.hv-days a { display: inline-flex; align-items: center; min-height: 44px; padding: 0 12px;
       border-radius: 8px; background: #fff; color: #124a6e; font-weight: 600;
       text-decoration: none; }
.hv-lunch { background: #e9f9ef; border: 1px solid #7ee2a8; border-radius: 8px;
       padding: 8px 12px; margin: 0 0 10px; font-weight: 600; color: #1a5d2e; }
.hv-cluster { display: flex; flex-direction: column; align-items: center; text-align: center; }
.hv-cluster b { display: block; min-width: 30px; height: 30px; line-height: 26px;
       padding: 0 6px; text-align: center; border-radius: 15px; background: #124a6e;
       color: #fff; border: 2px solid #fff; box-shadow: 0 0 4px rgba(0,0,0,.6); font-size: 13px; }
.hv-cluster span { display: inline-block; background: #fff; border-radius: 3px; padding: 0 3px;
       font-size: 11px;
       margin-top: 1px; box-shadow: 0 0 2px rgba(0,0,0,.4); white-space: nowrap; }
.leaflet-touch .leaflet-bar a { width: 44px; height: 44px; line-height: 44px; }
"""
"""The day page's own styles: day links, lunch, clusters, 44 px zoom buttons."""


def find_route(plan: Plan, clinician_id: str, day: dt.date) -> Route | None:
    """The route of ``clinician_id`` on ``day``, or ``None`` when she has none."""
    for route in plan.routes:
        if route.clinician_id == clinician_id and route.day == day:
            return route
    return None


def _marker_html(number: str, time_text: str, extra_class: str = "") -> str:
    return (
        f'<div class="hv-marker {extra_class}"><b>{esc(number)}</b>'
        f"<span>{esc(time_text)}</span></div>"
    )


def _stop_item(
    number: int,
    stop_time: str,
    visit: Visit,
    duration_min: int,
    resident: Resident | None,
    programme: Programme | None,
    *,
    mask_names: bool,
    committee_name: str = "",
    recording: Recording | None = None,
) -> str:
    if resident is not None:
        who = resident.name if not mask_names else mask_name(resident.name)
        address = resident.address or f"{resident.location.lat:.5f}, {resident.location.lon:.5f}"
        phone = resident.phone
    else:
        place = committee_name or str(visit.committee_id)
        who = f"居委会活动 Committee session · {place}"
        address = f"地点 Place: {place} 居委会 (residents' committee)"
        phone = ""
    if programme is not None:
        prog = f"{esc(programme.name_zh)} · {esc(programme.name_en)}"
        bring_parts = [p for p in (programme.bring_zh, programme.bring_en) if p]
        bring = f"<div>携带 Bring: {esc(' / '.join(bring_parts))}</div>" if bring_parts else ""
    else:
        prog, bring = esc(visit.programme), ""
    actions = []
    if phone:
        actions.append(f'<a href="tel:{esc(phone.replace(" ", ""))}">电话 Call</a>')
    nav_name = (
        resident.address
        if resident is not None and resident.address
        else committee_name or "上门地址"
    )
    actions.append(
        f'<a href="{esc(amap_url(visit.location, nav_name))}" target="_blank" '
        f'rel="noopener">高德导航 AMap</a>'
    )
    actions.append(
        f'<a href="{esc(baidu_url(visit.location, nav_name))}" target="_blank" '
        f'rel="noopener">百度导航 Baidu</a>'
    )
    form = (
        record_form_html(visit.visit_id, programme, recording, resident is not None)
        if recording is not None
        else ""
    )
    return (
        f'<li class="hv-stop" data-visit="{esc(visit.visit_id)}" id="stop-{number}">'
        f'<div><span class="hv-num">{number}</span>'
        f'<span class="hv-time">{esc(stop_time)}</span> '
        f'<span class="hv-muted">{duration_min} 分钟 min</span></div>'
        f'<div class="hv-name">{esc(who)}</div>'
        f'<div class="hv-muted">{esc(address)}</div>'
        f"<div>{prog}</div>{bring}{rule_html(visit)}"
        f'<div class="hv-actions">{"".join(actions)}</div>{form}</li>'
    )


def render_clinician_day(
    problem: Problem,
    plan: Plan,
    clinician_id: str,
    day: dt.date,
    residents: Mapping[str, Resident],
    *,
    lang: str = "zh",
    tiles: Tiles = "none",
    leg_geometry: LegGeometry = straight_leg,
    leg_geometry_by_mode: Mapping[TravelMode, LegGeometry] | None = None,
    programmes: Mapping[str, Programme] | None = None,
    mask_names: bool = True,
    assets_url: str = ASSETS_DIR,
    committees: Mapping[str, str] | None = None,
    day_links: tuple[str | None, str | None] = (None, None),
    recording: Recording | None = None,
) -> MapPage:
    """One clinician's route on one day, as a whole HTML page.

    Parameters
    ----------
    problem, plan
        The week and its plan (the plan is drawn, never changed or solved).
    clinician_id, day
        Whose day; a day without a route gives a page saying so.
    residents
        The register, for names, addresses and phone numbers.
    lang
        ``"zh"`` (default) or ``"en"``: the page language; labels are bilingual either way.
    tiles
        The background: ``"none"`` (default) draws the route on a blank background with a
        scale bar and no request leaving the machine; ``"osm"`` OpenStreetMap tiles;
        ``"amap"`` AMap tiles, with every point drawn shifted to GCJ-02 so that it sits on
        AMap's streets. The navigation links are the same whatever the background.
    leg_geometry
        Draws each leg from WGS-84 ends to WGS-84 points (a road router when one is
        configured); straight lines by default.
    leg_geometry_by_mode
        A :data:`~maps.base.LegGeometry` per travel mode (one road router each, e.g.
        ``OsrmTravel.leg_geometries()``): each clinician's legs follow the roads of her mode;
        modes without one use ``leg_geometry``.
    programmes
        Programme names and what to bring (default :func:`builtin_programmes`).
    mask_names
        Show ``王*英`` instead of ``王秀英`` (the default); ``False`` when the full name is needed.
    assets_url
        Where the page finds Leaflet, relative to the page (see :func:`maps.assets.write_assets`).
    committees
        Committee names by id: a committee session shows its committee's name.
    day_links
        The URLs of the day before and the day after (``None``: no link).
    recording
        The record forms of a served page (:class:`maps.record_form.Recording`); ``None``
        (written pages): none.

    Returns
    -------
    str
        The page; it references only ``assets_url`` (and the tiles, if any) and has
        AMap, Baidu and ``tel:`` links.
    """
    programmes = builtin_programmes() if programmes is None else programmes
    clinician = next((c for c in problem.clinicians if c.clinician_id == clinician_id), None)
    if clinician is None:
        raise KeyError(f"clinician {clinician_id} is not in the problem")
    centre = problem.centres[clinician.centre_id]
    visits = {v.visit_id: v for v in problem.visits}
    route = find_route(plan, clinician_id, day)
    stops = sorted(route.stops, key=lambda s: s.sequence) if route else []

    fmap = new_map(
        centre.location,
        [visits[s.visit_id].location for s in stops],
        tiles=tiles,
        assets_url=assets_url,
    )
    depart = format_hhmm(route.depart_min) if route else ""
    hands_in = any(s.via_centre for s in stops)
    folium.Marker(
        on_map(centre.location.lat, centre.location.lon, tiles),
        icon=folium.DivIcon(
            html=_marker_html("站", depart, "hv-centre"),
            icon_size=(60, 44),
            icon_anchor=(30, 15),
            class_name="hv-icon hv-icon-centre",
        ),
        tooltip=f"{centre.name} (中心 centre)" + (" · 送检 hand in samples" if hands_in else ""),
    ).add_to(fmap)
    # The clusters need the map's last zoom (a tile layer would give it; the blank map has none).
    spec = TILE_LAYERS.get(tiles)
    fmap.options["max_zoom"] = spec.max_zoom if spec is not None else 19
    cluster = MarkerCluster(  # type: ignore[no-untyped-call]
        icon_create_function=_CLUSTER_ICON, control=False, options=_CLUSTER_OPTIONS
    )
    # Per instance, like the map's: the package's files, never folium's CDN.
    cluster.default_js = cluster_js_links(assets_url)
    cluster.default_css = cluster_css_links(assets_url)
    cluster.add_to(fmap)
    committee_names = committees or {}
    lunch = clinician.lunch if route else None
    items = []
    for number, stop in enumerate(stops, start=1):
        visit = visits[stop.visit_id]
        folium.Marker(
            on_map(visit.location.lat, visit.location.lon, tiles),
            icon=folium.DivIcon(
                html=_marker_html(str(number), format_hhmm(stop.start_min)),
                icon_size=(60, 44),
                icon_anchor=(30, 15),
                class_name="hv-icon hv-icon-stop",
            ),
            hvNumber=number,  # the cluster's label names the stops it holds
        ).add_to(cluster)
        resident = residents.get(visit.resident_id) if visit.resident_id else None
        if lunch is not None and stop.start_min >= lunch.start_min:
            items.append(_lunch_item(lunch.start_min, lunch.end_min))
            lunch = None
        if stop.via_centre:
            items.append(f'<li class="hv-handin">{esc(_HAND_IN_TEXT)}</li>')
        items.append(
            _stop_item(
                number,
                f"{format_hhmm(stop.start_min)}–{format_hhmm(stop.end_min)}",
                visit,
                stop.end_min - stop.start_min,
                resident,
                programmes.get(visit.programme),
                mask_names=mask_names,
                committee_name=committee_names.get(visit.committee_id or "", ""),
                recording=recording,
            )
        )
    if lunch is not None:  # after the last stop: lunch back at the centre
        items.append(_lunch_item(lunch.start_min, lunch.end_min))
    legs = route_legs(centre.location, [(visits[s.visit_id].location, s.via_centre) for s in stops])
    draw = geometry_for(leg_geometry, leg_geometry_by_mode, clinician.travel_mode)
    for leg in legs:
        # One line per leg, so that the hand-in trip stands out dashed in the centre's colour.
        folium.PolyLine(  # type: ignore[no-untyped-call]
            route_path([leg], draw, tiles),
            color=HAND_IN_COLOUR if leg.hand_in else ROUTE_COLOUR,
            weight=4,
            opacity=0.8,
            dash_array="8 6" if leg.hand_in else None,
            tooltip="送检 hand in samples" if leg.hand_in else None,
            class_name="hv-leg hv-leg-handin" if leg.hand_in else "hv-leg",
        ).add_to(fmap)

    title = f"{clinician.name} · {day_label(day)}"
    if route:
        summary = (
            f"出发 Leave {format_hhmm(route.depart_min)} · 返回 Back "
            f"{format_hhmm(route.return_min)} · {len(stops)} 站 stops · "
            f"路程 {route.travel_km:.1f} km / {route.travel_min} 分钟 min"
        )
        if hands_in:
            summary += " · 含送检 incl. sample hand-in"
        body = f'<h2>今日上门 Visits today</h2><ol class="hv-stops">{"".join(items)}</ol>'
    else:
        summary = "今日无上门 No visits today"
        body = '<p class="hv-muted">今日无上门安排。No home visits planned for this day.</p>'
    header = f"<h1>{esc(title)}</h1><p>{esc(centre.name)} · {esc(summary)}</p>"
    header += _day_nav(*day_links)
    extra_css = DAY_CSS
    if recording is not None:
        extra_css += RECORD_CSS
        body += f'<script src="{esc(recording.script_url)}" defer></script>'
    return finish_page(
        fmap, title=title, header_html=header, body_html=body, lang=lang, extra_css=extra_css
    )


def _lunch_item(start_min: int, end_min: int) -> str:
    times = f"{format_hhmm(start_min)}–{format_hhmm(end_min)}"
    return f'<li class="hv-lunch">{esc(times)} 午休 <span class="hv-muted">Lunch</span></li>'


def _day_nav(previous: str | None, following: str | None) -> str:
    links = []
    if previous:
        links.append(f'<a href="{esc(previous)}" rel="prev">‹ 前一天 Previous</a>')
    if following:
        links.append(f'<a href="{esc(following)}" rel="next">后一天 Next ›</a>')
    if not links:
        return ""
    return f'<nav class="hv-days" aria-label="日期 Days">{"".join(links)}</nav>'
