"""What the map pages share: an offline folium map, page chrome, masking and links."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import quote

import folium
from branca.element import Element, Figure, MacroElement
from folium.template import Template as FoliumTemplate
from jinja2 import Template

from maps.assets import css_links, js_links
from scheduler.coords import from_wgs84, wgs84_to_gcj02
from scheduler.model import Location, TravelMode, Visit

__all__ = [
    "PAGE_CSS",
    "TILE_LAYERS",
    "WEEKDAYS_ZH",
    "LatLon",
    "Leg",
    "LegGeometry",
    "MapPage",
    "TileLayerSpec",
    "Tiles",
    "amap_url",
    "baidu_url",
    "check_tiles",
    "content_security_policy",
    "day_label",
    "esc",
    "finish_page",
    "geometry_for",
    "mask_name",
    "new_map",
    "on_map",
    "route_legs",
    "route_path",
    "rule_html",
    "script_json",
    "straight_leg",
    "tile_origins",
]

LatLon = tuple[float, float]
"""A ``(lat, lon)`` pair in degrees."""

LegGeometry = Callable[[Location, Location], Sequence[LatLon]]
"""Draws one leg: ``(origin, destination) -> [(lat, lon), ...]``, all in WGS-84.

A road router (OSRM, an AMap or Baidu route service behind the health network's proxy) returns
the streets between two homes; :func:`straight_leg` is the default when none is configured.
"""

Tiles = Literal["none", "osm", "amap"]
"""The background of a map: none (offline, a scale bar on blank), OpenStreetMap or AMap (高德)."""


@dataclass(frozen=True, slots=True)
class TileLayerSpec:
    """A tile background: its URL template, attribution and the datum its streets are drawn in."""

    url: str
    attribution: str
    crs: str  # "wgs84" or "gcj02": what the points must be converted to so they sit on the streets
    origin: str  # where the tiles come from, as a Content-Security-Policy source (img-src)
    subdomains: str = "abc"
    max_zoom: int = 19


TILE_LAYERS: Final[dict[str, TileLayerSpec]] = {
    "osm": TileLayerSpec(
        url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        attribution="&copy; OpenStreetMap contributors",
        crs="wgs84",
        origin="https://tile.openstreetmap.org",
    ),
    # AMap's streets are drawn in GCJ-02: WGS-84 points would sit 300-500 m off in Shanghai.
    "amap": TileLayerSpec(
        url="https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
        "&x={x}&y={y}&z={z}",
        attribution="&copy; 高德地图 AutoNavi",
        crs="gcj02",
        origin="https://*.is.autonavi.com",
        subdomains="1234",
        max_zoom=18,
    ),
}
"""The tile backgrounds by name (``"none"`` has none)."""

WEEKDAYS_ZH: Final = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAYS_EN: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

PAGE_CSS: Final = """
html, body { margin: 0; padding: 0; height: auto; }
body { font-family: "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       font-size: 16px; line-height: 1.45; color: #222; background: #fafafa; }
header.hv { padding: 10px 12px; background: #1f5f8b; color: #fff; }
/* A long name or address without spaces wraps instead of widening a phone's page. */
header.hv { overflow-wrap: anywhere; }
main.hv { overflow-wrap: break-word; }
header.hv h1 { font-size: 1.15rem; margin: 0; }
header.hv p { margin: 2px 0 0; font-size: 0.9rem; }
.hv-map { height: 55vh; min-height: 280px; }
main.hv { padding: 8px 12px 24px; max-width: 960px; }
.hv h2 { font-size: 1.05rem; margin: 14px 0 6px; }
ol.hv-stops, ul.hv-list { list-style: none; margin: 0; padding: 0; }
.hv-stop, .hv-item { background: #fff; border: 1px solid #ddd; border-radius: 8px;
       padding: 10px 12px; margin: 0 0 10px; overflow-wrap: anywhere; }
.hv-stop .hv-time { font-weight: 700; font-size: 1.1rem; }
.hv-num { display: inline-block; min-width: 1.7em; text-align: center; border-radius: 1em;
       background: #1f5f8b; color: #fff; font-weight: 700; margin-right: 6px; }
.hv-muted { color: #666; font-size: 0.9rem; }
.hv-actions { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
.hv-actions a, a.hv-button { display: inline-flex; align-items: center; min-height: 44px;
       padding: 0 14px; border-radius: 8px; background: #e8f1f8; color: #124a6e;
       text-decoration: none; font-weight: 600; }
.hv-marker { display: flex; flex-direction: column; align-items: center; }
.hv-marker b { display: block; width: 26px; height: 26px; line-height: 26px; text-align: center;
       border-radius: 13px; background: #1f5f8b; color: #fff; border: 2px solid #fff;
       box-shadow: 0 0 3px rgba(0,0,0,.5); font-size: 14px; }
.hv-marker span { background: #fff; border-radius: 3px; padding: 0 3px; font-size: 11px;
       margin-top: 1px; box-shadow: 0 0 2px rgba(0,0,0,.4); white-space: nowrap; }
.hv-centre b { background: #c0392b; }
.hv-handin { background: #fdecea; border: 1px dashed #c0392b; border-radius: 8px;
       padding: 8px 12px; margin: 0 0 10px; color: #8e2418; font-weight: 600; }
table.hv-kpi { border-collapse: collapse; width: 100%; background: #fff; }
table.hv-kpi td, table.hv-kpi th { border: 1px solid #ddd; padding: 6px 8px; text-align: left; }
.hv-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
       margin-right: 6px; vertical-align: middle; }
@media (min-width: 900px) {
  .hv-wide { display: grid; grid-template-columns: 2fr 1fr; gap: 0 16px; }
  .hv-wide .hv-map { height: 70vh; }
  /* The map stays in view while a long list beside it scrolls. */
  .hv-wide .hv-side-map { position: sticky; top: 0; align-self: start; }
}
"""


# Direction overrides and isolates: a name holding U+202E shows the rest of its line reversed
# (a spoofing trick); on a page they are shown as U+FFFD instead of obeyed.
_BIDI_CONTROLS: Final = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), "\ufffd"
)


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes included): the rule for every value put in a page's HTML.

    Direction overrides (U+202A-U+202E, U+2066-U+2069) become U+FFFD, so no value can turn
    the text after it around.
    """
    return html.escape(str(text).translate(_BIDI_CONTROLS), quote=True)


# Characters that could end a <script> element, open an HTML comment or entity, or end a JS
# string or template literal, whatever context a JSON value is dropped into; U+2028/2029 end a
# line in older JavaScript parsers.
_SCRIPT_ESCAPES: Final = {ord(c): f"\\u{ord(c):04x}" for c in "<>&'`$\u2028\u2029"}


def script_json(value: object) -> str:
    """``value`` as a JavaScript literal safe anywhere inside a ``<script>`` element.

    The rule for every value put in a page's script: JSON (so quotes and backslashes are
    escaped), with ``< > & ' ` $`` and U+2028/2029 as ``\\uXXXX`` escapes, so that no value
    can close the script (``</script>``), break out of a string or a template literal
    (`` ` `` and ``${``), or start an HTML comment. Chinese stays as it is.
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_SCRIPT_ESCAPES)


def rule_html(visit: Visit) -> str:
    """Why the visit is due (its rule with the dates), Chinese first, escaped; '' if unknown."""
    basis = visit.basis
    if basis is None:
        return ""
    return f'<div class="hv-muted hv-rule">{esc(basis.rule_zh)}<br>{esc(basis.rule_en)}</div>'


def mask_name(name: str) -> str:
    """Mask a resident's name for a page that may be seen over a shoulder.

    Keeps the first and last character: ``王秀英`` -> ``王*英``, ``李娜`` -> ``李*``,
    ``欧阳春花`` -> ``欧**花``; a single character is kept as it is.
    """
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def check_tiles(tiles: str) -> Tiles:
    """``tiles`` if it names a background (none, osm, amap), else a ``ValueError``."""
    if tiles in get_args(Tiles):
        return cast(Tiles, tiles)
    raise ValueError(f"tiles must be one of {', '.join(get_args(Tiles))}, got {tiles!r}")


def on_map(lat: float, lon: float, tiles: Tiles) -> LatLon:
    """Where a WGS-84 point is drawn on a map with ``tiles``: shifted to GCJ-02 on AMap."""
    spec = TILE_LAYERS.get(tiles)
    if spec is not None and spec.crs == "gcj02":
        return wgs84_to_gcj02(lat, lon)
    return lat, lon


def straight_leg(origin: Location, destination: Location) -> list[LatLon]:
    """A leg drawn as the straight line between its ends (the default :data:`LegGeometry`)."""
    return [(origin.lat, origin.lon), (destination.lat, destination.lon)]


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a route; ``hand_in`` when it is part of a trip back to hand in samples."""

    origin: Location
    destination: Location
    hand_in: bool = False


def route_legs(centre: Location, stops: Sequence[tuple[Location, bool]]) -> list[Leg]:
    """The legs of a route from the centre through ``stops`` and back.

    Parameters
    ----------
    centre
        Where the route starts and ends.
    stops
        ``(location, via_centre)`` in visit order; ``via_centre`` (:attr:`Stop.via_centre`)
        makes the leg arriving there pass the centre, where lab samples are handed in.
    """
    legs: list[Leg] = []
    here = centre
    for location, via_centre in stops:
        if via_centre and here != centre:
            legs.append(Leg(here, centre, hand_in=True))
            here = centre
        legs.append(Leg(here, location, hand_in=via_centre))
        here = location
    if stops:
        legs.append(Leg(here, centre))
    return legs


def geometry_for(
    leg_geometry: LegGeometry,
    by_mode: Mapping[TravelMode, LegGeometry] | None,
    mode: TravelMode,
) -> LegGeometry:
    """How to draw the legs of a clinician who travels by ``mode``: the road router of her mode
    when ``by_mode`` has one (a walking route differs from a driving one), else ``leg_geometry``.
    """
    if by_mode and mode in by_mode:
        return by_mode[mode]
    return leg_geometry


def route_path(legs: Iterable[Leg], leg_geometry: LegGeometry, tiles: Tiles) -> list[LatLon]:
    """The points of ``legs`` one after another, as drawn on a map with ``tiles``."""
    path: list[LatLon] = []
    for leg in legs:
        for lat, lon in _leg_points(leg, leg_geometry):
            point = on_map(lat, lon, tiles)
            if not path or path[-1] != point:  # the legs share their ends
                path.append(point)
    return path


def _leg_points(leg: Leg, leg_geometry: LegGeometry) -> list[LatLon]:
    points = [(float(lat), float(lon)) for lat, lon in leg_geometry(leg.origin, leg.destination)]
    # A router that finds no road (a new estate, a footpath) must not make the leg vanish.
    return points if len(points) >= 2 else straight_leg(leg.origin, leg.destination)


def amap_url(location: Location, name: str) -> str:
    """An AMap (高德) link that shows ``location`` as a marker, in GCJ-02 as AMap expects."""
    lat, lon = from_wgs84(location.lat, location.lon, "gcj02")
    return (
        f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}"
        f"&name={quote(name or '目的地')}&coordinate=gaode&callnative=1"
    )


def baidu_url(location: Location, name: str) -> str:
    """A Baidu Maps (百度地图) link showing ``location`` as a marker, in BD-09 as Baidu expects."""
    lat, lon = from_wgs84(location.lat, location.lon, "bd09")
    title = quote(name or "目的地")
    return (
        f"https://api.map.baidu.com/marker?location={lat:.6f},{lon:.6f}"
        f"&title={title}&content={title}&output=html&coord_type=bd09ll"
        "&src=webapp.homevisit.homevisit"
    )


def day_label(day: dt.date) -> str:
    """``周一 Mon 11-30``."""
    return f"{WEEKDAYS_ZH[day.weekday()]} {_WEEKDAYS_EN[day.weekday()]} {day:%m-%d}"


class _MetricScale(MacroElement):
    """A scale bar in metres only: feet mean nothing to a nurse in Shanghai."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )


def new_map(
    centre: Location,
    points: Iterable[Location],
    *,
    tiles: Tiles,
    assets_url: str,
) -> folium.Map:
    """A folium map that loads only the local assets, with a scale bar, fitted to ``points``.

    ``tiles`` is the background; every point drawn on the map must go through :func:`on_map`
    with the same ``tiles``.
    """
    centre_lat, centre_lon = on_map(centre.lat, centre.lon, tiles)
    fmap = folium.Map(
        location=(centre_lat, centre_lon),
        zoom_start=15,
        tiles=None,
        control_scale=False,
        prefer_canvas=False,
        height="100%",
        # Half zoom steps fit a route to a phone screen better; tiles would blur between steps.
        zoom_snap=0.5 if tiles == "none" else 1,
    )
    _MetricScale().add_to(fmap)  # type: ignore[no-untyped-call]
    # Per instance, never folium.Map.add_js_link (which changes the class for every later map).
    fmap.default_js = js_links(assets_url)
    fmap.default_css = css_links(assets_url)
    spec = TILE_LAYERS.get(check_tiles(tiles))
    if spec is not None:
        folium.TileLayer(
            spec.url,
            attr=spec.attribution,
            subdomains=spec.subdomains,
            max_zoom=spec.max_zoom,
            control=False,
        ).add_to(fmap)
    coords = [on_map(p.lat, p.lon, tiles) for p in (centre, *points)]
    if len(coords) > 1:
        lats, lons = [c[0] for c in coords], [c[1] for c in coords]
        fmap.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(36, 36))
    return fmap


class MapPage(str):
    """A whole HTML page, and the hash of its one inline script for a Content-Security-Policy.

    A ``str`` (written to a file or served as it is); ``script_hashes`` are CSP source
    expressions (``'sha256-...'``) of the inline scripts :func:`finish_page` put in it, computed
    from what it meant to write, not found in the page afterwards: a script smuggled into the
    page by a value would match none of them, and a browser given the policy would not run it.
    """

    script_hashes: tuple[str, ...]

    def __new__(cls, page: str, script_hashes: Iterable[str]) -> MapPage:
        made = super().__new__(cls, page)
        made.script_hashes = tuple(script_hashes)
        return made


# Tooltips take plain text: escaped for HTML (Leaflet shows it as HTML) and put in the script as
# a JSON string (folium's own template puts it raw in a JavaScript template literal).
_TOOLTIP_TEMPLATE: Final = FoliumTemplate(
    "{% macro script(this, kwargs) %}"
    "{{ this._parent.get_name() }}.bindTooltip({{ this.hv_html }}, "
    "{{ this.options|tojavascript }});"
    "{% endmacro %}"
)

# folium's Map header sets two Leaflet switches in an inline script; both are Leaflet's defaults
# when unset, so the page drops it and keeps a single inline script to allow.
_GLOBAL_SWITCHES = re.compile(
    r"<script>\s*L_NO_TOUCH = false;\s*L_DISABLE_3D = false;\s*</script>", re.ASCII
)


def _escape_text_elements(element: Element) -> None:
    """Apply the escaping rule to every text folium would put in the page unescaped.

    Every page passes here (:func:`finish_page`), so no caller can forget: tooltip texts and
    layer names (which Leaflet's layer control shows as HTML) are plain text. Popups, which
    take HTML, are refused: nothing on these pages needs one.
    """
    for child in list(element._children.values()):
        node: Any = child  # folium elements carry their fields as plain attributes
        if getattr(node, "hv_escaped", False):
            continue
        if isinstance(child, folium.Popup):
            raise TypeError("map pages use tooltips (plain text), not popups (HTML)")
        if isinstance(child, folium.Tooltip):
            style = f' style="{esc(node.style)}"' if getattr(node, "style", None) else ""
            node.hv_html = script_json(f"<div{style}>{esc(node.text)}</div>")
            node._template = _TOOLTIP_TEMPLATE
        if isinstance(getattr(node, "layer_name", None), str):
            node.layer_name = esc(node.layer_name)
        node.hv_escaped = True
        _escape_text_elements(child)


def content_security_policy(
    script_hashes: Iterable[str] = (), image_origins: Iterable[str] = ()
) -> str:
    """The Content-Security-Policy of a map page (and the service's default, with no hashes).

    Scripts and everything else from the page's own origin only, plus the inline scripts of
    ``script_hashes``; images also from ``image_origins`` (the tile server) and ``data:``;
    styles may be inline (folium's ``<style>`` blocks, a few ``style`` attributes: a style runs
    no code); no plugins, no ``<base>``, forms post to the same origin. ``frame-ancestors``,
    which a ``<meta>`` cannot carry, is the service's to add.
    """
    scripts = " ".join(("'self'", *script_hashes))
    images = " ".join(("'self'", "data:", *image_origins))
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; object-src 'none'; base-uri 'none'; form-action 'self'"
    )


def tile_origins(tiles: str) -> tuple[str, ...]:
    """Where the map's tiles come from (``tiles``: none, osm, amap), as policy sources."""
    spec = TILE_LAYERS.get(tiles)
    return (spec.origin,) if spec else ()


def _map_tile_origins(fmap: folium.Map) -> tuple[str, ...]:
    urls = {getattr(child, "tiles", None) for child in fmap._children.values()}
    return tuple(spec.origin for spec in TILE_LAYERS.values() if spec.url in urls)


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def finish_page(
    fmap: folium.Map,
    *,
    title: str,
    header_html: str,
    body_html: str,
    lang: str,
    above_map_html: str = "",
    extra_css: str = "",
    script: str = "",
) -> MapPage:
    """The whole HTML page: header, the map in a box, then ``body_html`` under (or beside) it.

    ``above_map_html`` goes between the header and the map (e.g. layer switches); ``script``
    runs after folium's own script, when the map and its layers exist. ``header_html``,
    ``body_html`` and ``above_map_html`` must hold only escaped values (:func:`esc`),
    ``script`` only values made by :func:`script_json`; tooltips and layer names are escaped
    here. The page has one inline script, whose hash the returned :class:`MapPage` carries.
    """
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    _escape_text_elements(figure)
    figure.header.add_child(Element(f"<title>{esc(title)}</title>"), name="hv_title")
    figure.header.add_child(Element(f"<style>{PAGE_CSS}{extra_css}</style>"), name="hv_css")
    for child in figure._children.values():  # what Figure.render does before its own template
        child.render()
    head = _GLOBAL_SWITCHES.sub("", figure.header.render())
    if re.search(r"<script(?![^>]*\bsrc=)", head):  # pragma: no cover - folium's template
        raise RuntimeError("folium's page header changed: an inline script is left in it")
    body = figure.html.render()
    # folium puts the map div straight in <body>; wrap it in our layout.
    map_id = fmap.get_name()
    marker = f'<div class="folium-map" id="{map_id}" ></div>'
    if marker not in body:  # pragma: no cover - depends on folium's template
        raise RuntimeError("folium's page layout changed: map div not found")
    layout = (
        f'<header class="hv">{header_html}</header>'
        f'<div class="hv-wide"><div class="hv-side-map">{above_map_html}'
        f'<div class="hv-map">{marker}</div></div>'
        f'<main class="hv">{body_html}</main></div>'
    )
    body = body.replace(marker, layout, 1)
    inline_script = f"\n{figure.script.render()}\n{script}\n"
    html_lang = "zh-CN" if lang == "zh" else "en"
    hashes = [_script_hash(inline_script)]
    # The page carries its own policy too, first in <head>: a page opened from disk (written by
    # `homevisit plan --maps`) is as guarded as a served one.
    policy = esc(content_security_policy(hashes, _map_tile_origins(fmap)))
    page = (
        f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n{head}\n</head>\n'
        f"<body>\n{body}\n</body>\n<script>{inline_script}</script>\n</html>\n"
    )
    return MapPage(page, hashes)
