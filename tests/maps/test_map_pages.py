"""The map pages as HTML: offline, complete and in visit order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

from maps.assets import write_assets
from maps.base import amap_url, mask_name
from maps.day import render_clinician_day
from maps.week import render_team_week
from maps.write import write_plan_maps
from scheduler.coords import wgs84_to_gcj02
from scheduler.evaluate import Reason
from scheduler.model import Dataset, DueBasis, Plan, Problem, TimeWindow, Unscheduled
from tests.maps.conftest import MONDAY, TUESDAY

_URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_ALLOWED_EXTERNAL = ("https://uri.amap.com/", "https://api.map.baidu.com/", "tel:")


def _external_references(page: str) -> list[str]:
    """Every src/href that would leave the machine (anything but AMap, Baidu and tel: links)."""
    return [
        url
        for url in _URL_ATTR.findall(page)
        if re.match(r"^(https?:)?//", url.strip()) and not url.startswith(_ALLOWED_EXTERNAL)
    ]


def _day_page(problem: Problem, plan: Plan, dataset: Dataset) -> str:
    return render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents)


def test_mask_name() -> None:
    """Names keep their first and last character; short names keep the first."""
    assert mask_name("王秀英") == "王*英"
    assert mask_name("李娜") == "李*"
    assert mask_name("欧阳春花") == "欧**花"
    assert mask_name("王") == "王"


def test_amap_link_uses_gcj02() -> None:
    """The navigation link carries GCJ-02 lon,lat, not the WGS-84 point."""
    from scheduler.model import Location

    point = Location(31.15, 121.40)
    lat, lon = wgs84_to_gcj02(point.lat, point.lon)
    url = amap_url(point, "古美路1号")
    assert url.startswith(f"https://uri.amap.com/marker?position={lon:.6f},{lat:.6f}&name=")
    assert f"{point.lon:.6f}" not in url


def test_day_page_has_no_cdn(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """No script, stylesheet or link leaves the machine; Leaflet comes from assets/."""
    page = _day_page(problem, plan, dataset)
    assert _external_references(page) == []
    assert 'src="assets/leaflet.js"' in page
    assert 'href="assets/leaflet.css"' in page
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn", "unpkg"):
        assert cdn not in page


def test_day_page_markers_equal_stops(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """One numbered DivIcon per stop, plus one for the centre, and one list item per stop."""
    page = _day_page(problem, plan, dataset)
    assert page.count("hv-icon hv-icon-stop") == len(plan.routes[0].stops) == 3
    assert page.count("hv-icon hv-icon-centre") == 1
    assert page.count('<li class="hv-stop"') == 3
    assert "L.polyline" in page
    assert "L.control.scale" in page


def test_day_page_lists_stops_in_visit_order(
    problem: Problem, plan: Plan, dataset: Dataset
) -> None:
    """The list follows the route's sequence (V2, V1, V3) and its times increase."""
    page = _day_page(problem, plan, dataset)
    assert re.findall(r'<li class="hv-stop" data-visit="(V\d)"', page) == ["V2", "V1", "V3"]
    times = re.findall(r'<span class="hv-time">(\d\d:\d\d)', page)
    assert times == ["08:10", "08:35", "09:20"]
    assert times == sorted(times)


def test_day_page_masks_names_and_links(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """Names are masked, each stop has tel: and AMap links, programme names in both languages."""
    page = _day_page(problem, plan, dataset)
    assert "王*英" in page and "王秀英" not in page
    assert "李*" in page and "李娜" not in page
    assert "欧**花" in page and "欧阳春花" not in page
    assert page.count('href="tel:') == 3
    assert page.count('href="https://uri.amap.com/marker?position=') == 3
    assert "古美路1号" in page
    assert "血压计、血糖仪、随访表" in page
    assert page.count('<span class="hv-muted">30 分钟 min') == 2


def test_day_page_unmasked_when_needed(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """``mask_names=False`` shows the whole name."""
    page = render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents, mask_names=False)
    assert "王秀英" in page


def test_day_page_phone_first(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """A viewport meta tag and 44 px tap targets; Chinese labels with English."""
    page = _day_page(problem, plan, dataset)
    assert 'name="viewport"' in page
    assert "min-height: 44px" in page
    assert "高德导航 AMap" in page and "百度导航 Baidu" in page
    assert '<html lang="zh-CN">' in page


def test_day_without_route(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """A day without a route is a page that says so, with no stop markers."""
    page = render_clinician_day(problem, plan, "N1", TUESDAY, dataset.residents)
    assert "No home visits planned" in page
    assert "hv-icon hv-icon-stop" not in page


def test_week_page(
    problem: Problem, plan: Plan, dataset: Dataset, reasons: dict[str, Reason]
) -> None:
    """One layer per day with routes, the unscheduled visit apart with its reason, KPIs, offline."""
    page = render_team_week(problem, plan, "T1", reasons, dataset.residents)
    assert _external_references(page) == []
    assert "L.control.layers" in page
    assert "Mon 11-30" in page  # the layer names are JSON (Chinese escaped)
    assert "Tue 12-01" not in page
    assert page.count("hv-stop-marker") == 3
    assert page.count("hv-left-marker") == 1
    assert 'class="hv-item hv-left" data-visit="V4"' in page
    assert "T1 团队周一至周五已排满" in page
    assert "已排上门 Visits scheduled</th><td>3</td>" in page
    assert "王秀英" not in page


def test_write_plan_maps(
    tmp_path: Path, problem: Problem, plan: Plan, dataset: Dataset, reasons: dict[str, Reason]
) -> None:
    """Index, one page per clinician-day with stops, one per team, and the assets."""
    pages = write_plan_maps(tmp_path, problem, plan, dataset, reasons)
    names = [p.name for p in pages]
    assert names == ["index.html", "day-N1-2026-11-30.html", "week-T1.html"]
    index = (tmp_path / "maps" / "index.html").read_text(encoding="utf-8")
    assert 'href="day-N1-2026-11-30.html"' in index and 'href="week-T1.html"' in index
    for name in ("leaflet.js", "leaflet.css", "jquery.min.js"):
        assert (tmp_path / "maps" / "assets" / name).stat().st_size > 1000
    for page in pages:
        assert _external_references(page.read_text(encoding="utf-8")) == []


def test_write_assets_idempotent(tmp_path: Path) -> None:
    """Writing the assets twice is harmless."""
    write_assets(tmp_path)
    write_assets(tmp_path)
    assert (tmp_path / "assets" / "images" / "layers.png").is_file()


def test_week_page_of_a_stored_plan_gives_the_reason_in_both_languages(
    problem: Problem, plan: Plan, dataset: Dataset
) -> None:
    """Served from the database (no evaluation at hand), the week page shows the stored reason
    in Chinese first and English beside it, escaped, and counts the left-out visit by its kind."""
    stored = dataclasses.replace(
        plan, unscheduled=(Unscheduled("V4", "no nurse <free>", "没有空闲的护士"),)
    )
    page = render_team_week(problem, stored, "T1", {}, dataset.residents)
    assert "没有空闲的护士<br><span class='hv-muted'>no nurse &lt;free&gt;</span>" in page
    assert "未排（应访/逾期） Due or overdue, left out</th><td>1</td>" in page


def test_day_page_says_why_each_visit_is_due(
    problem: Problem, plan: Plan, dataset: Dataset
) -> None:
    """A stop of the day page shows the rule and the last visit behind it, Chinese first."""
    basis = DueBasis(
        rule_en="last visit 2026-08-14 · quarterly · quarter ends 12-31",
        rule_zh="上次服务 2026-08-14 · 每季度一次 · 本季度截止 12-31",
        earliest=MONDAY,
        time_limit=TimeWindow(8 * 60, 17 * 60),
        time_limit_en="80+ quarterly follow-up hours",
        time_limit_zh="80岁以上老人季度随访时段",
        last_visit=dt.date(2026, 8, 14),
    )
    visits = tuple(
        dataclasses.replace(v, basis=basis) if v.visit_id == "V1" else v for v in problem.visits
    )
    page = render_clinician_day(
        dataclasses.replace(problem, visits=visits), plan, "N1", MONDAY, dataset.residents
    )
    assert (
        '<div class="hv-muted hv-rule">上次服务 2026-08-14 · 每季度一次 · 本季度截止 12-31<br>'
        "last visit 2026-08-14 · quarterly · quarter ends 12-31</div>"
    ) in page
    assert page.count("hv-rule") == 1
