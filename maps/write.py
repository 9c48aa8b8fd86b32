"""Write map pages to a folder with the offline assets beside them: a plan's, or a comparison."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from maps.assets import write_assets
from maps.base import PAGE_CSS, LegGeometry, Tiles, day_label, esc, straight_leg
from maps.compare import render_plan_comparison
from maps.day import render_clinician_day
from maps.week import render_team_week
from scheduler.evaluate import Reason
from scheduler.model import Dataset, Plan, Problem, Resident, TravelMode

__all__ = ["write_plan_comparison", "write_plan_maps"]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text) or "_"


def write_plan_maps(
    out_dir: Path,
    problem: Problem,
    plan: Plan,
    dataset: Dataset,
    reasons: Mapping[str, Reason],
    *,
    tiles: Tiles = "none",
    leg_geometry: LegGeometry = straight_leg,
    leg_geometry_by_mode: Mapping[TravelMode, LegGeometry] | None = None,
) -> list[Path]:
    """Write the plan's map pages into ``out_dir / "maps"``.

    Writes ``index.html`` (links to everything), ``day-<clinician>-<date>.html`` for every
    route with stops, ``week-<team>.html`` for every team, and ``assets/`` (Leaflet, jQuery):
    the pages open from disk (``file://``) with no request leaving the machine (unless
    ``tiles`` names a tile server). ``tiles``, ``leg_geometry`` and ``leg_geometry_by_mode``
    are as for :func:`maps.day.render_clinician_day`.

    Returns
    -------
    list[Path]
        The pages written, index first.
    """
    maps_dir = Path(out_dir) / "maps"
    maps_dir.mkdir(parents=True, exist_ok=True)
    write_assets(maps_dir)
    names = {c.clinician_id: c.name for c in problem.clinicians}
    written: list[Path] = []
    day_links = []
    for route in sorted(plan.routes, key=lambda r: (r.clinician_id, r.day)):
        if not route.stops:
            continue
        path = maps_dir / f"day-{_safe(route.clinician_id)}-{route.day.isoformat()}.html"
        path.write_text(
            render_clinician_day(
                problem,
                plan,
                route.clinician_id,
                route.day,
                dataset.residents,
                tiles=tiles,
                leg_geometry=leg_geometry,
                leg_geometry_by_mode=leg_geometry_by_mode,
                committees={k: c.name for k, c in dataset.committees.items()},
            ),
            encoding="utf-8",
        )
        written.append(path)
        day_links.append(
            f'<li><a class="hv-button" href="{esc(path.name)}">'
            f"{esc(names.get(route.clinician_id, route.clinician_id))} · "
            f"{esc(day_label(route.day))}"
            f" · {len(route.stops)} 站</a></li>"
        )
    team_links = []
    for team_id in sorted({c.team_id for c in problem.clinicians}):
        path = maps_dir / f"week-{_safe(team_id)}.html"
        path.write_text(
            render_team_week(
                problem,
                plan,
                team_id,
                reasons,
                dataset.residents,
                tiles=tiles,
                leg_geometry=leg_geometry,
                leg_geometry_by_mode=leg_geometry_by_mode,
            ),
            encoding="utf-8",
        )
        written.append(path)
        team_links.append(
            f'<li><a class="hv-button" href="{esc(path.name)}">团队 Team {esc(team_id)}</a></li>'
        )
    index = maps_dir / "index.html"
    index.write_text(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>上门地图 Visit maps {problem.week_start.isoformat()}</title>"
        f"<style>{PAGE_CSS} li {{ margin: 6px 0; }}</style></head><body>"
        f'<header class="hv"><h1>上门地图 Visit maps</h1>'
        f'<p>{problem.week_start.isoformat()} 周 week</p></header><main class="hv">'
        f'<h2>团队周视图 Team weeks</h2><ul class="hv-list">{"".join(team_links)}</ul>'
        f'<h2>每日路线 Daily routes</h2><ul class="hv-list">{"".join(day_links)}</ul>'
        "</main></body></html>",
        encoding="utf-8",
    )
    return [index, *written]


def write_plan_comparison(
    out_dir: Path,
    problem: Problem,
    plan_a: Plan,
    plan_b: Plan,
    label_a: str,
    label_b: str,
    *,
    file_name: str = "compare.html",
    problem_b: Problem | None = None,
    residents: Mapping[str, Resident] | None = None,
    tiles: Tiles = "none",
    leg_geometry: LegGeometry = straight_leg,
    leg_geometry_by_mode: Mapping[TravelMode, LegGeometry] | None = None,
) -> Path:
    """Write the comparison of two plans as ``out_dir / file_name``, with ``assets/`` beside it.

    The page opens from disk (``file://``); see :func:`maps.compare.render_plan_comparison`
    for what it shows and for the parameters.

    Returns
    -------
    Path
        The page written.
    """
    if Path(file_name).name != file_name or not file_name.endswith(".html"):
        raise ValueError(f"file_name must be a plain *.html name, got {file_name!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_assets(out_dir)
    page = out_dir / file_name
    page.write_text(
        render_plan_comparison(
            problem,
            plan_a,
            plan_b,
            label_a,
            label_b,
            problem_b=problem_b,
            residents=residents,
            tiles=tiles,
            leg_geometry=leg_geometry,
            leg_geometry_by_mode=leg_geometry_by_mode,
        ),
        encoding="utf-8",
    )
    return page
