"""The comparison page of ``homevisit scenario run``: the scenarios side by side, as HTML.

``OUT/comparison.html`` holds a table with one row per scenario (labels in Chinese and English,
differences from the baseline), bar charts drawn as inline SVG (visits scheduled and left out,
travel, utilisation, each programme's visits), and per scenario links to its team-week maps in
``OUT/<scenario>/maps/`` and to a page of what moved against the baseline,
``OUT/<scenario>/vs-baseline.html``. Everything is local: the page and the maps open from disk
(``file://``) with no request leaving the machine.

This is an output layer like the command line: it writes the map pages with :mod:`maps`,
imported where they are written so that planning scenarios never loads folium.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scenarios.scenario import ScenarioResult
from scheduler.model import Dataset
from scheduler.programmes import builtin_programmes

__all__ = [
    "ScenarioPages",
    "baseline_index",
    "folder_names",
    "render_comparison_page",
    "write_report",
]

PAGE_NAME = "comparison.html"
VERSUS_BASELINE = "vs-baseline.html"

_SCHEDULED, _UNSCHEDULED = "#2e7d32", "#f0b429"
_TRAVEL, _UTILISATION = "#1565c0", "#6a1b9a"
_CSS = """
body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; margin: 0;
       color: #1b1b1b; background: #fafafa; }
header, main { max-width: 1200px; margin: 0 auto; padding: 12px 16px; }
h1 { font-size: 1.5rem; margin: 8px 0; } h2 { font-size: 1.15rem; margin-top: 28px; }
table { border-collapse: collapse; background: #fff; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
th.scenario { min-width: 13em; }
.q { color: #555; font-size: 0.85rem; font-weight: normal; }
.delta { color: #666; font-size: 0.8rem; }
.bad { color: #b00020; font-weight: bold; }
.links { font-weight: normal; font-size: 0.85rem; margin-top: 4px; }
.links a { display: inline-block; margin: 1px 6px 1px 0; white-space: nowrap; }
.scroll { overflow-x: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { background: #fff; border: 1px solid #ddd; padding: 8px; }
svg text { font-size: 12px; fill: #1b1b1b; }
"""


@dataclass(frozen=True, slots=True)
class ScenarioPages:
    """The pages a scenario's row links to, as paths relative to the comparison page.

    Attributes
    ----------
    maps_index
        The scenario's map index (``<scenario>/maps/index.html``), if maps were written.
    team_weeks
        ``(team_id, href)`` of each team-week map.
    versus_baseline
        The page of what moved against the baseline (``None`` for the baseline itself).
    """

    maps_index: str | None = None
    team_weeks: tuple[tuple[str, str], ...] = ()
    versus_baseline: str | None = None


def folder_names(results: Sequence[ScenarioResult]) -> list[str]:
    """A folder name per scenario: its name made file-safe, numbered when two are alike."""
    names: list[str] = []
    for result in results:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.scenario.name).strip("._") or "scenario"
        name, number = base, 2
        while name in names:
            name, number = f"{base}-{number}", number + 1
        names.append(name)
    return names


def baseline_index(results: Sequence[ScenarioResult]) -> int:
    """The scenario the others are compared with: the one named ``baseline``, else the first."""
    names = [r.scenario.name for r in results]
    return names.index("baseline") if "baseline" in names else 0


# --- charts: plain SVG bars ---------------------------------------------------------------------

_LABEL_W, _BAR_W, _VALUE_W, _ROW_H = 150, 360, 90, 22


def _bar_chart(
    title: str,
    labels: Sequence[str],
    segments: Sequence[Sequence[float]],
    colours: Sequence[str],
    legend: Sequence[str],
    value_text: Callable[[Sequence[float]], str],
    full_scale: float | None = None,
) -> str:
    """Horizontal bars, one per label, each stacked from ``segments`` in ``colours``."""
    totals = [sum(parts) for parts in segments]
    scale = full_scale or max(totals, default=0.0) or 1.0
    legend_h = _ROW_H if len(legend) > 1 else 0
    height = 26 + legend_h + _ROW_H * len(labels)
    width = _LABEL_W + _BAR_W + _VALUE_W
    esc = html.escape
    out = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
        f'<text x="0" y="16" style="font-weight:bold">{esc(title)}</text>',
    ]
    x = _LABEL_W
    for name, colour in zip(legend if legend_h else (), colours, strict=False):
        out.append(f'<rect x="{x}" y="28" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="38">{esc(name)}</text>')
        x += 16 + 8 * len(name) + 12
    for row, (label, parts) in enumerate(zip(labels, segments, strict=True)):
        y = 26 + legend_h + row * _ROW_H
        out.append(f'<text x="0" y="{y + 15}">{esc(label)}</text>')
        x_bar = float(_LABEL_W)
        for value, colour in zip(parts, colours, strict=False):
            w = _BAR_W * max(value, 0.0) / scale
            out.append(
                f'<rect x="{x_bar:.1f}" y="{y + 3}" width="{w:.1f}" height="{_ROW_H - 6}" '
                f'fill="{colour}"><title>{esc(label)}: {value:g}</title></rect>'
            )
            x_bar += w
        out.append(
            f'<text x="{_LABEL_W + _BAR_W + 6}" y="{y + 15}">{esc(value_text(parts))}</text>'
        )
    out.append("</svg>")
    return '<div class="chart">' + "".join(out) + "</div>"


def _share_bar(done: int, due: int) -> str:
    """A small bar of ``done`` out of ``due`` for a table cell."""
    width = 60
    filled = width * done / due if due else 0.0
    return (
        f'<svg width="{width}" height="8" aria-hidden="true">'
        f'<rect width="{width}" height="8" fill="{_UNSCHEDULED}"/>'
        f'<rect width="{filled:.1f}" height="8" fill="{_SCHEDULED}"/></svg>'
    )


# --- the page -------------------------------------------------------------------------------------


def _num(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _delta(value: object, base: object, *, more_is_better: bool | None) -> str:
    """``(+3)`` after a figure that differs from the baseline's, marked when it is worse."""
    if not isinstance(value, int | float) or not isinstance(base, int | float) or value == base:
        return ""
    diff = value - base
    worse = more_is_better is not None and ((diff < 0) if more_is_better else (diff > 0))
    text = f"{round(diff, 3):+g}"  # shares differ in the third decimal, hours in the first
    style = "delta bad" if worse else "delta"
    return f' <span class="{style}">({text})</span>'


# (key of ScenarioResult.row(), label, whether more is better; None: neither, e.g. staffing, or
# utilisation, which falls when staff is added on purpose)
_COLUMNS: tuple[tuple[str, str, bool | None], ...] = (
    ("clinicians", "医护人数 clinicians", None),
    ("clinician_days", "工作人日 clinician-days", None),
    ("visits_due", "应访 due", None),
    ("scheduled", "已排 scheduled", True),
    ("unscheduled", "未排（应访/逾期） unscheduled, due or overdue", False),
    ("travel_h", "路途小时 travel h", False),
    ("travel_min_per_visit", "每次路途分钟 travel min/visit", False),
    ("overtime_min", "加班分钟 overtime min", False),
    ("continuity", "同一医护率 continuity", True),
    ("utilisation", "利用率 utilisation", None),
)


def _links(pages: ScenarioPages) -> str:
    esc = html.escape
    links = []
    if pages.maps_index:
        links.append(f'<a href="{esc(pages.maps_index)}">地图 Maps</a>')
    links += [f'<a href="{esc(href)}">{esc(team)}</a>' for team, href in pages.team_weeks]
    if pages.versus_baseline:
        links.append(f'<a href="{esc(pages.versus_baseline)}">对比基线 vs baseline</a>')
    return f'<div class="links">{" ".join(links)}</div>' if links else ""


def render_comparison_page(
    results: Sequence[ScenarioResult], pages: Sequence[ScenarioPages] | None = None
) -> str:
    """The comparison page of ``results`` (one :class:`ScenarioPages` each, or no links)."""
    if not results:
        raise ValueError("no scenarios to compare")
    pages = list(pages) if pages is not None else [ScenarioPages() for _ in results]
    esc = html.escape
    rows = [r.row() for r in results]
    base = rows[baseline_index(results)]
    base_name = results[baseline_index(results)].scenario.name
    names = [r.scenario.name for r in results]
    week = results[0].scenario.week.isoformat()

    head = "".join(f"<th>{esc(label)}</th>" for _, label, _ in _COLUMNS)
    body = []
    for result, row, links in zip(results, rows, pages, strict=True):
        cells = []
        for key, _, more_is_better in _COLUMNS:
            delta = (
                "" if row is base else _delta(row[key], base[key], more_is_better=more_is_better)
            )
            cells.append(f'<td class="num">{esc(_num(row[key]))}{delta}</td>')
        check = "通过 passed" if row["feasible"] else '<span class="bad">未通过 FAILED</span>'
        body.append(
            f'<tr data-scenario="{esc(result.scenario.name)}">'
            f'<th class="scenario">{esc(result.scenario.name)}'
            f'<div class="q">{esc(result.scenario.question)}</div>{_links(links)}</th>'
            + "".join(cells)
            + f"<td>{check}</td></tr>"
        )
    table = (
        '<div class="scroll"><table id="scenarios"><thead><tr><th>情景 scenario · 地图 maps</th>'
        f"{head}<th>校验 check</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )

    def as_float(value: object) -> float:
        return float(value) if isinstance(value, int | float) else 0.0

    charts = [
        _bar_chart(
            "访视 Visits",
            names,
            [(as_float(r["scheduled"]), as_float(r["unscheduled"])) for r in rows],
            (_SCHEDULED, _UNSCHEDULED),
            ("已排 scheduled", "未排（应访/逾期） unscheduled, due or overdue"),
            lambda p: f"{p[0]:g} / {p[0] + p[1]:g}",
        ),
        _bar_chart(
            "路途小时 Travel hours",
            names,
            [(as_float(r["travel_h"]),) for r in rows],
            (_TRAVEL,),
            (),
            lambda p: f"{p[0]:g} h",
        ),
        _bar_chart(
            "利用率 Utilisation",
            names,
            [(100 * as_float(r["utilisation"]),) for r in rows],
            (_UTILISATION,),
            (),
            lambda p: f"{p[0]:.0f} %",
            full_scale=100.0,
        ),
    ]
    programme_table = _programme_table(results)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>情景比较 What-if scenarios {esc(week)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>情景比较 What-if scenarios</h1><p>{esc(week)} 周 week · "
        f"{len(results)} 个情景 scenarios · 与 {esc(base_name)}"
        " 比较 compared with the baseline (worse in red)</p></header><main>"
        f"<h2>一览 Side by side</h2>{table}"
        f'<h2>图表 Charts</h2><div class="charts">{"".join(charts)}</div>'
        f"<h2>按服务项目 By programme (已排/应访 scheduled/due)</h2>{programme_table}"
        "</main></body></html>"
    )


def _programme_table(results: Sequence[ScenarioResult]) -> str:
    esc = html.escape
    names = builtin_programmes()
    counts: list[Mapping[str, Mapping[str, int]]] = []
    for result in results:
        by_programme = result.evaluation.kpis.get("by_programme")
        counts.append(by_programme if isinstance(by_programme, dict) else {})
    programmes = sorted({p for c in counts for p in c})
    head = "".join(f"<th>{esc(r.scenario.name)}</th>" for r in results)
    rows = []
    for programme in programmes:
        label = f"{names[programme].name_zh} {programme}" if programme in names else programme
        cells = []
        for c in counts:
            entry = c.get(programme, {})
            done, due = int(entry.get("scheduled", 0)), int(entry.get("due", 0))
            cells.append(f'<td class="num">{done}/{due} {_share_bar(done, due)}</td>')
        rows.append(f"<tr><th>{esc(label)}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table id="programmes"><thead><tr><th>项目 programme</th>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# --- writing --------------------------------------------------------------------------------------


def write_report(
    results: Sequence[ScenarioResult],
    datasets: Sequence[Dataset],
    out: Path,
    *,
    maps: bool = True,
) -> Path:
    """Write ``out/comparison.html`` and, with ``maps``, each scenario's map pages.

    Parameters
    ----------
    results
        The planned scenarios, in the order of the table.
    datasets
        Each scenario's changed dataset (:meth:`Scenario.apply`): the residents the maps show.
    out
        The output folder; each scenario's pages go into ``out/<scenario>/``.
    maps
        Write the team-week and clinician-day maps and the pages against the baseline.

    Returns
    -------
    Path
        The comparison page.
    """
    out.mkdir(parents=True, exist_ok=True)
    pages = [ScenarioPages() for _ in results]
    if maps:
        pages = _write_maps(results, datasets, out)
    path = out / PAGE_NAME
    path.write_text(render_comparison_page(results, pages), encoding="utf-8")
    return path


def _write_maps(
    results: Sequence[ScenarioResult], datasets: Sequence[Dataset], out: Path
) -> list[ScenarioPages]:
    from maps.compare import render_plan_comparison
    from maps.write import write_plan_maps

    folders = folder_names(results)
    base = baseline_index(results)
    baseline, baseline_data = results[base], datasets[base]
    pages = []
    for number, (result, dataset, folder) in enumerate(
        zip(results, datasets, folders, strict=True)
    ):
        written = write_plan_maps(
            out / folder, result.problem, result.plan, dataset, result.evaluation.reasons
        )
        index = written[0]
        team_weeks = tuple(  # week-<team>.html: the team's id made file-safe, good as a label
            (page.stem.removeprefix("week-"), f"{folder}/maps/{page.name}")
            for page in sorted(written[1:])
            if page.name.startswith("week-")
        )
        versus = None
        if number != base:
            page = render_plan_comparison(
                baseline.problem,
                baseline.plan,
                result.plan,
                f"{baseline.scenario.name} 基线 baseline",
                f"{result.scenario.name} 情景 scenario",
                problem_b=result.problem,
                residents={**baseline_data.residents, **dataset.residents},
                assets_url="maps/assets",  # written beside the maps of this scenario
            )
            (out / folder / VERSUS_BASELINE).write_text(page, encoding="utf-8")
            versus = f"{folder}/{VERSUS_BASELINE}"
        pages.append(
            ScenarioPages(f"{folder}/maps/{index.name}", team_weeks, versus_baseline=versus)
        )
    return pages
