"""What the map pages share: an offline folium map, page chrome, masking and links."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote

import folium
from branca.element import Element, Figure

from maps.assets import css_links, js_links
from scheduler.coords import from_wgs84
from scheduler.model import Location

__all__ = [
    "PAGE_CSS",
    "WEEKDAYS_ZH",
    "amap_url",
    "day_label",
    "esc",
    "finish_page",
    "mask_name",
    "new_map",
]

WEEKDAYS_ZH: Final = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAYS_EN: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

PAGE_CSS: Final = """
html, body { margin: 0; padding: 0; height: auto; }
body { font-family: "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       font-size: 16px; line-height: 1.45; color: #222; background: #fafafa; }
header.hv { padding: 10px 12px; background: #1f5f8b; color: #fff; }
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
table.hv-kpi { border-collapse: collapse; width: 100%; background: #fff; }
table.hv-kpi td, table.hv-kpi th { border: 1px solid #ddd; padding: 6px 8px; text-align: left; }
.hv-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
       margin-right: 6px; vertical-align: middle; }
@media (min-width: 900px) {
  .hv-wide { display: grid; grid-template-columns: 2fr 1fr; gap: 0 16px; }
  .hv-wide .hv-map { height: 70vh; }
}
"""


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes included)."""
    return html.escape(str(text), quote=True)


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


def amap_url(location: Location, name: str) -> str:
    """An AMap (高德) link that shows ``location`` as a marker, in GCJ-02 as AMap expects."""
    lat, lon = from_wgs84(location.lat, location.lon, "gcj02")
    return (
        f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}"
        f"&name={quote(name or '目的地')}&coordinate=gaode&callnative=1"
    )


def day_label(day: dt.date) -> str:
    """``周一 Mon 11-30``."""
    return f"{WEEKDAYS_ZH[day.weekday()]} {_WEEKDAYS_EN[day.weekday()]} {day:%m-%d}"


def new_map(
    centre: Location,
    points: Iterable[Location],
    *,
    tiles: str | None,
    tiles_attr: str,
    assets_url: str,
) -> folium.Map:
    """A folium map that loads only the local assets, with a scale bar, fitted to ``points``."""
    fmap = folium.Map(
        location=(centre.lat, centre.lon),
        zoom_start=15,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        height="100%",
    )
    # Per instance, never folium.Map.add_js_link (which changes the class for every later map).
    fmap.default_js = js_links(assets_url)
    fmap.default_css = css_links(assets_url)
    if tiles:
        folium.TileLayer(tiles, attr=tiles_attr or "tiles").add_to(fmap)
    coords = [(p.lat, p.lon) for p in (centre, *points)]
    if len(coords) > 1:
        lats, lons = [c[0] for c in coords], [c[1] for c in coords]
        fmap.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(24, 24))
    return fmap


def finish_page(
    fmap: folium.Map, *, title: str, header_html: str, body_html: str, lang: str
) -> str:
    """The whole HTML page: header, the map in a box, then ``body_html`` under (or beside) it."""
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    figure.header.add_child(Element(f"<title>{esc(title)}</title>"), name="hv_title")
    figure.header.add_child(Element(f"<style>{PAGE_CSS}</style>"), name="hv_css")
    rendered = figure.render()
    # folium puts the map div straight in <body>; wrap it in our layout.
    map_id = fmap.get_name()
    marker = f'<div class="folium-map" id="{map_id}" ></div>'
    if marker not in rendered:  # pragma: no cover - depends on folium's template
        raise RuntimeError("folium's page layout changed: map div not found")
    layout = (
        f'<header class="hv">{header_html}</header>'
        f'<div class="hv-wide"><div class="hv-map">{marker}</div>'
        f'<main class="hv">{body_html}</main></div>'
    )
    rendered = rendered.replace(marker, layout, 1)
    html_lang = "zh-CN" if lang == "zh" else "en"
    return rendered.replace("<html>", f'<html lang="{html_lang}">', 1)
