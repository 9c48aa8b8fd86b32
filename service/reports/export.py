"""Writing the tables: CSV, XLSX (with the charts as PNG) and an HTML page that needs no CDN.

Every table is checked (:func:`service.reports.compute.check_table`) before a byte is written,
and every text cell is neutralised against spreadsheet formulas (:mod:`scheduler.cells`, the
one rule for every export).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from openpyxl import Workbook
from openpyxl.drawing.image import Image as XlsxImage
from openpyxl.styles import Alignment, Font

from scheduler.cells import neutralise_cell as neutralise
from service.reports.compute import Table, check_table

__all__ = ["PageForm", "html_page", "table_csv", "tables_xlsx"]


def _cells(table: Table) -> list[list[object]]:
    return [[neutralise(c) for c in row] for row in (*table.header_rows, *table.rows)]


def table_csv(table: Table) -> bytes:
    """The table as CSV (UTF-8 with BOM, for Excel on Chinese Windows): title, headers, rows,
    notes. Refuses a table that does not add up."""
    check_table(table)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(table.title)])
    writer.writerows(_cells(table))
    for note in table.notes:
        writer.writerow([neutralise(note)])
    return buffer.getvalue().encode("utf-8-sig")


def tables_xlsx(tables: Sequence[Table], charts: Mapping[str, bytes] = {}) -> bytes:
    """One sheet per table (the seed's layout, merged header cells), a sheet of the charts as
    PNG, and a notes sheet with the English of each header. Refuses a table that does not add
    up."""
    for table in tables:
        check_table(table)
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for table in tables:
        sheet = book.create_sheet(table.name)
        sheet.append([neutralise(table.title)])
        sheet["A1"].font = Font(bold=True, size=13)
        for row in _cells(table):
            sheet.append(row)
        for r1, c1, r2, c2 in table.merges:
            sheet.merge_cells(
                start_row=r1 + 2, start_column=c1 + 1, end_row=r2 + 2, end_column=c2 + 1
            )
        for row in sheet.iter_rows(min_row=2, max_row=1 + len(table.header_rows)):
            for cell in row:
                cell.alignment = wrap
                cell.font = Font(bold=True)
        for note in table.notes:
            sheet.append([neutralise(note)])
        for index in range(len(table.header_rows[0])):
            sheet.column_dimensions[_letter(index)].width = 16
    if charts:
        sheet = book.create_sheet("图表 charts")
        at = 1
        for name, png in charts.items():
            sheet.cell(row=at, column=1, value=neutralise(name))
            image = XlsxImage(io.BytesIO(png))
            sheet.add_image(image, f"A{at + 1}")
            at += int(image.height / 20) + 3
    notes = book.create_sheet("说明 notes")
    notes.append(["表 table", "中文表头 header", "English"])
    for table in tables:
        for header, english in zip(table.header_rows[-1], table.english, strict=False):
            if header and english:
                notes.append([table.name, neutralise(header), neutralise(english)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_STYLE: Final = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;
margin:0 auto;padding:12px 16px;max-width:1200px;color:#1a1a1a}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid #ccc}
table{border-collapse:collapse;font-size:14px;min-width:100%}
th,td{border:1px solid #bbb;padding:4px 6px;text-align:right;white-space:nowrap}
th{background:#eef2f6;text-align:center;white-space:pre-line;vertical-align:middle}
th small{display:block;font-weight:normal;color:#555;white-space:normal}
td.t{text-align:left}
tr.total td{font-weight:bold;background:#f7f7f0}
p.note{font-size:13px;color:#444;margin:4px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,480px),1fr));gap:12px}
figure{margin:0}figure img{width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:14px;color:#333}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;margin:8px 0 12px}
nav a{white-space:nowrap}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px;
margin:8px 0 16px}
.card{border:1px solid #c9d3dd;border-radius:6px;padding:8px 10px;background:#f6f9fc}
.card b{display:block;font-size:22px;margin:2px 0}.card span,.card small{font-size:13px;color:#333}
.notice{font-size:15px;font-weight:600;color:#5a3300;background:#fff3cd;padding:10px 12px;
border:1px solid #e0a000;border-left:6px solid #c77700;border-radius:4px;margin:8px 0 12px}
.problem{color:#8a4b00;background:#fff6e5;padding:6px 8px;border-left:4px solid #e0a000}
.bar{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center;font-size:14px;
border-bottom:1px solid #ddd;padding:0 0 8px}
form.ask{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-end;margin:10px 0;
padding:8px 10px;background:#f6f9fc;border:1px solid #c9d3dd;border-radius:6px}
form.ask label{display:flex;flex-direction:column;font-size:13px;gap:2px}
form.ask input,form.ask select,form.ask button{font-size:15px;padding:4px 6px}
form.ask select[multiple]{min-width:150px}
"""

_NUMBER: Final = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?%?")
"""A cell shown right-aligned (a count, a share); text is left-aligned."""


@dataclass(frozen=True, slots=True)
class PageForm:
    """What the served page offers around the report: the way back, the question asked again
    (period, level, centres) and the same report as files."""

    home: tuple[str, str]  # (url, label) of the role's home page
    start: str
    end: str
    by: str
    centres: tuple[tuple[str, str], ...]  # (id, name) the user may ask for
    chosen: tuple[str, ...]  # centre ids asked for (none: every centre)
    levels: tuple[str, ...] = ("district", "centre", "team")
    files: tuple[tuple[str, str], ...] = ()  # (url, label) of the downloads


_LEVELS: Final = {"district": "区 district", "centre": "机构 centre", "team": "团队 team"}


def _form_html(form: PageForm) -> str:
    e = html.escape
    parts = [
        f'<div class="bar"><a href="{e(form.home[0])}">&larr; {e(form.home[1])}</a>',
        *(f'<a href="{e(url)}" download>{e(label)}</a>' for url, label in form.files),
        "</div>",
        '<form class="ask" method="get" action="">',
        f'<label>从 from<input type="date" name="from" value="{e(form.start)}" required></label>',
        f'<label>至 to<input type="date" name="to" value="{e(form.end)}" required></label>',
        '<label>按 rows by<select name="by">',
        *(
            f'<option value="{e(level)}"{" selected" if level == form.by else ""}>'
            f"{e(_LEVELS.get(level, level))}</option>"
            for level in form.levels
        ),
        "</select></label>",
    ]
    if len(form.centres) > 1:
        parts += [
            "<label>中心 centres（不选 = 全部 none = all）"
            '<select name="centre_id" multiple size="3">',
            *(
                f'<option value="{e(cid)}"{" selected" if cid in form.chosen else ""}>'
                f"{e(name)} {e(cid)}</option>"
                for cid, name in form.centres
            ),
            "</select></label>",
        ]
    parts.append('<button type="submit">生成报告 Make the report</button></form>')
    return "\n".join(parts)


def _table_html(table: Table) -> str:
    merged: dict[tuple[int, int], tuple[int, int]] = {}
    hidden: set[tuple[int, int]] = set()
    for r1, c1, r2, c2 in table.merges:
        merged[(r1, c1)] = (r2 - r1 + 1, c2 - c1 + 1)
        hidden |= {(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)} - {(r1, c1)}
    lines = [f'<div class="scroll"><table id="{html.escape(table.name)}"><thead>']
    last = len(table.header_rows) - 1
    for r, header in enumerate(table.header_rows):
        cells = []
        for c, text in enumerate(header):
            if (r, c) in hidden:
                continue
            span = merged.get((r, c), (1, 1))
            attrs = (f' rowspan="{span[0]}"' if span[0] > 1 else "") + (
                f' colspan="{span[1]}"' if span[1] > 1 else ""
            )
            english = ""
            leaf = r == last or span[0] > last - r
            if leaf and c < len(table.english) and table.english[c]:
                english = f"<small>{html.escape(table.english[c])}</small>"
            elif text and r < last and span[1] > 1:
                english = f"<small>{html.escape(_group_english(text))}</small>"
            cells.append(f"<th{attrs}>{html.escape(text)}{english}</th>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</thead><tbody>")
    for i, row in enumerate(table.rows):
        css = ' class="total"' if i == len(table.rows) - 1 else ""
        body = "".join(
            f"<td>{html.escape(str(v))}</td>"
            if _NUMBER.fullmatch(str(v))
            else f'<td class="t">{html.escape(str(v))}</td>'
            for v in row
        )
        lines.append(f"<tr{css}>{body}</tr>")
    lines.append("</tbody></table></div>")
    lines += [f'<p class="note">{html.escape(n)}</p>' for n in table.notes]
    return "\n".join(lines)


def _group_english(text: str) -> str:
    from service.reports.headers import ENGLISH

    return ENGLISH.get(text, "")


def html_page(
    title: str,
    tables: Sequence[Table],
    charts: Mapping[str, bytes],
    intro: str = "",
    problems: Sequence[str] = (),
    cards: Sequence[tuple[str, str, str]] = (),
    short_names: Mapping[str, str] = {},
    form: PageForm | None = None,
    notices: Sequence[str] = (),
) -> str:
    """A self-contained page: key figures, the charts (PNG inside the page), then each table.

    Every value is escaped; no script, no request leaves the page. ``notices`` (why the figures
    are empty: no register, no records) come first, above every figure; ``problems`` (tables
    that could not be made, e.g. no quota loaded) are shown where those tables would be;
    ``form`` (the served page) adds the way back, the question to ask again and the files.
    """
    for table in tables:
        check_table(table)
    parts = [
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
    ]
    if form is not None:
        parts.append(_form_html(form))
    parts.append(f"<h1>{html.escape(title)}</h1>")
    parts += [f'<p class="notice" role="alert">{html.escape(n)}</p>' for n in notices]
    if intro:
        parts.append(f'<p class="note">{html.escape(intro)}</p>')
    parts.append(
        "<nav>"
        + "".join(
            f'<a href="#{html.escape(t.name)}">{html.escape(short_names.get(t.name, t.title))}</a>'
            for t in tables
        )
        + "</nav>"
    )
    parts += [f'<p class="problem" role="alert">{html.escape(p)}</p>' for p in problems]
    if cards:
        parts.append('<div class="cards">')
        parts += [
            f'<div class="card"><span>{html.escape(label)}</span><b>{html.escape(value)}</b>'
            f"<small>{html.escape(detail)}</small></div>"
            for label, value, detail in cards
        ]
        parts.append("</div>")
    parts.append('<div class="charts">')
    for caption, png in charts.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    parts.append("</div>")
    for table in tables:
        parts.append(f"<h2>{html.escape(table.title)}</h2>")
        parts.append(_table_html(table))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_file(
    path: Path,
    tables: Sequence[Table],
    charts: Mapping[str, bytes],
    page: Callable[[], str] | None = None,
) -> None:
    """Write ``tables`` to ``path`` by its suffix: ``.csv`` (one table), ``.xlsx``, ``.html``
    (``page()`` when given, else a plain page of the tables)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if len(tables) != 1:
            raise ValueError("a CSV file holds one table; use .xlsx or .html for several")
        data = table_csv(tables[0])
        path.write_bytes(data)
    elif suffix == ".xlsx":
        path.write_bytes(tables_xlsx(tables, charts))
    elif suffix in (".html", ".htm"):
        text = page() if page is not None else html_page(tables[0].title, tables, charts)
        path.write_text(text, encoding="utf-8")
    else:
        raise ValueError(f"'{path.name}': write .csv, .xlsx or .html")
