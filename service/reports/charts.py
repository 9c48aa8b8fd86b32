"""The report's pictures as PNG, drawn with matplotlib (no browser, no CDN, no display).

- quota progress per unit: done, expected at an even pace and forecast against the year's quota;
- the weekly trend of completed visits by programme;
- a map of the residents overdue, counted per cell of about 1 km (a picture, not an address).
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import matplotlib

matplotlib.use("Agg")  # draw to memory; never open a window

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure

from scheduler.programmes import builtin_programmes
from service.reports.compute import OverdueResident, Table

__all__ = ["overdue_cells", "overdue_map", "quota_progress", "weekly_trend"]

_CJK_FONTS: Final = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei")
_COLOURS: Final = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _font() -> list[str]:
    """A font that has the Chinese glyphs, where the machine has one (else DejaVu's boxes)."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in _CJK_FONTS if f in installed] + ["DejaVu Sans"]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    plt.rcParams["font.family"] = _font()
    plt.rcParams["axes.unicode_minus"] = False
    return plt.figure(figsize=(width, height))


def quota_progress(annex1: Table) -> bytes:
    """Per unit, the home visits and the signed elders: done, expected, forecast, quota."""
    *units, _total = annex1.rows
    labels = [str(row[0]) for row in units]
    figure = _figure(max(6.0, 1.1 * len(labels) + 3), 6.2)
    panels = (
        (6, "入户医疗护理服务 home visits"),
        (1, "老年人家医签约 signed elders"),
    )
    for index, (first, title) in enumerate(panels, start=1):
        axes = figure.add_subplot(2, 1, index)
        quota = [int(row[first]) for row in units]  # type: ignore[call-overload]
        done = [int(row[first + 1]) for row in units]  # type: ignore[call-overload]
        expected = [int(row[first + 2]) for row in units]  # type: ignore[call-overload]
        forecast = [int(row[first + 4]) for row in units]  # type: ignore[call-overload]
        x = range(len(labels))
        width = 0.26
        axes.bar([i - width for i in x], done, width, label="已完成 done", color=_COLOURS[0])
        axes.bar(x, expected, width, label="按进度应完成 expected", color=_COLOURS[1])
        axes.bar(
            [i + width for i in x], forecast, width, label="年底预计 forecast", color=_COLOURS[2]
        )
        axes.hlines(
            quota,
            [i - 1.6 * width for i in x],
            [i + 1.6 * width for i in x],
            colors="black",
            linestyles="dashed",
            linewidth=2,
            label="年度任务 quota",
            zorder=3,
        )
        axes.set_xticks(list(x), labels, rotation=20 if len(labels) > 6 else 0, ha="right")
        axes.set_title(title, fontsize=11)
        axes.grid(axis="y", alpha=0.3)
        if index == 1:
            handles, names = axes.get_legend_handles_labels()
    figure.suptitle("任务进度 Quota progress")
    figure.tight_layout(rect=(0, 0, 1, 0.9))
    figure.legend(
        handles, names, fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, 0.95)
    )
    return _png(figure)


def weekly_trend(trend: Mapping[str, Counter[dt.date]]) -> bytes:
    """Completed visits per week, a line per programme (Chinese and English in the legend)."""
    figure = _figure(7.0, 6.0)
    axes = figure.add_subplot(1, 1, 1)
    names = builtin_programmes()
    weeks = sorted({w for counts in trend.values() for w in counts})
    for i, (programme, counts) in enumerate(sorted(trend.items())):
        label = f"{names[programme].name_zh} {programme}" if programme in names else programme
        axes.plot(
            weeks,  # type: ignore[arg-type]
            [counts.get(w, 0) for w in weeks],
            label=label,
            marker="o" if len(weeks) < 20 else None,
            markersize=3,
            color=_COLOURS[i % len(_COLOURS)],
            linestyle="-" if i < len(_COLOURS) else "--",
        )
    axes.set_title("每周完成访视 Completed visits per week, by programme", fontsize=11)
    axes.set_ylabel("访视 visits")
    axes.grid(alpha=0.3)
    if trend:
        axes.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    else:
        axes.text(0.5, 0.5, "无记录 no records", ha="center", transform=axes.transAxes)
    figure.autofmt_xdate()
    return _png(figure)


def overdue_cells(overdue: Iterable[OverdueResident]) -> Counter[tuple[float, float]]:
    """How many of ``overdue`` live in each cell of 0.01 degrees, by the cell's (lon, lat)."""
    return Counter(
        (round(o.lon, 2), round(o.lat, 2))
        for o in overdue
        if o.lat is not None and o.lon is not None
    )


def overdue_map(
    overdue: Sequence[OverdueResident], centres: Sequence[tuple[str, float, float]] = ()
) -> bytes:
    """Residents overdue, counted per cell of about 1 km and team (a dot sized by the count),
    centres as stars.

    The picture goes to planners too, who may see no home's position: a cell of 0.01 degrees
    (about 1.1 x 0.95 km in Shanghai) holds hundreds of households, so a dot at its centre
    shows where the overdue residents are without showing whose home is where.
    """
    figure = _figure(7.0, 6.0)
    axes = figure.add_subplot(1, 1, 1)
    people = {o.resident_id: o for o in overdue}  # a resident counts once, however many visits
    teams = sorted({o.team_id for o in people.values()})
    for i, team in enumerate(teams):
        cells = overdue_cells(o for o in people.values() if o.team_id == team)
        if cells:
            xs, ys = zip(*cells, strict=True)
            axes.scatter(
                xs,
                ys,
                s=[14 * n for n in cells.values()],
                alpha=0.6,
                label=f"{team} ({cells.total()})" if len(teams) <= 12 else None,
                color=_COLOURS[i % len(_COLOURS)],
            )
    for name, lat, lon in centres:
        axes.scatter([lon], [lat], marker="*", s=140, color="black", zorder=3)
        short = name.removesuffix("社区卫生服务中心").removesuffix("卫生服务中心")
        axes.annotate(
            short if len(centres) > 3 else name,  # many centres: the place name is enough
            (lon, lat),
            fontsize=7 if len(centres) > 3 else 8,
            xytext=(4, 3),
            textcoords="offset points",
            alpha=0.85,
        )
    axes.set_title(
        f"逾期居民 Residents overdue ({len(people)}; 逾期访视 {len(overdue)} visits)", fontsize=11
    )
    axes.set_xlabel("经度 longitude")
    axes.set_ylabel("纬度 latitude")
    axes.margins(0.08)  # a centre at the edge keeps its star and its name
    axes.set_aspect(1.17)  # about 1/cos(31°): kilometres look the same both ways in Shanghai
    axes.grid(alpha=0.3)
    if teams and len(teams) <= 12:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="团队 team")
    if not overdue:
        axes.text(0.5, 0.5, "无逾期 none overdue", ha="center", transform=axes.transAxes)
    return _png(figure)
