"""The printed week (issue 13, item 6) through the HTTP interface: the week as a table beside the
route sheets, the sheets' lunch and committee sessions by name, and the XLSX export it links.

Chromium's PDF (a page per clinician-day) is checked in test_registers_browser.py.
"""

from __future__ import annotations

import io
import re

import openpyxl
from sqlalchemy import select

from service.db.tables import CommitteeRow, PlanStopRow
from tests.service.api.conftest import World, signed_in


def test_the_week_table_has_a_cell_per_sheet_with_its_stops_and_hours(world: World) -> None:
    """One row per clinician of his team, one column per day; each day with a sheet shows that
    sheet's number of stops and its depart-back hours, the others are empty."""
    page = signed_in(world, "lead1").get(f"/plans/{world.plan_id}/print").text
    sheets = re.findall(
        r'<section class="hv-sheet">\s*<h2>(.+?) · (\d{4}-\d{2}-\d{2}) .*?</h2>\s*<p>出发 '
        r'<span class="en">Depart</span> (\S+) · 返回 <span class="en">Back</span> (\S+) ·'
        r".*?<tbody>(.*?)</tbody>",
        page,
        flags=re.S,
    )
    assert len(sheets) > 1
    table = page.split('class="hv-table hv-week-table"', 1)[1].split("</table>", 1)[0]
    days = re.findall(r"<br>(\d{2}-\d{2})</th>", table)
    rows = {
        name: re.findall(r"<td>(.*?)</td>", cells, flags=re.S)
        for name, cells in re.findall(
            r'<th scope="row">(.+?)</th>(.*?)</tr>', table.split("<tbody>", 1)[1], flags=re.S
        )
    }
    assert len(rows) == len({name for name, *_ in sheets})
    filled = 0
    for name, day, depart, back, body in sheets:
        cell = rows[name][days.index(day[5:])]
        stops = body.count("<tr>")
        assert f"<b>{stops}</b> 站" in cell and f"{depart}–{back}" in cell, (name, day)
        filled += 1
    assert sum(1 for cells in rows.values() for c in cells if c.strip()) == filled


def test_a_sheet_shows_the_lunch_break_and_names_the_committee_of_a_session(
    world: World,
) -> None:
    """The nurse's lunch is on her sheet; a session held at a committee shows its name, not
    only its id."""
    client = signed_in(world, "lead1")
    sessions = world.client.app.state.sessions
    with sessions() as session:
        stop = session.scalars(
            select(PlanStopRow).where(
                PlanStopRow.plan_id == world.plan_id,
                PlanStopRow.committee_id.is_not(None),
                PlanStopRow.clinician_id.like("MH03-T1-%"),
            )
        ).first()
        assert stop is not None, "no committee session on team 1's routes"
        committee = session.get(CommitteeRow, stop.committee_id)
        assert committee is not None
        clinician, day, name = stop.clinician_id, stop.visit_date, committee.name
    page = client.get(
        f"/plans/{world.plan_id}/print", params={"clinician": clinician, "day": day.isoformat()}
    ).text
    assert '午休 <span class="en">Lunch</span> ' in page
    assert f"{name}<br><small>居委会集中服务" in page


def test_the_print_page_links_the_xlsx_export_of_his_team(world: World) -> None:
    """The link is the API's export; opened with the cookie it gives a workbook of his team's
    stops only."""
    client = signed_in(world, "lead1")
    page = client.get(f"/plans/{world.plan_id}/print").text
    link = f'href="/plans/{world.plan_id}/export?format=xlsx"'
    assert link in page
    answer = client.get(f"/plans/{world.plan_id}/export", params={"format": "xlsx"})
    assert answer.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    column = header.index("医护人员 clinician")
    clinicians = {row[column] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert clinicians and all(str(c).startswith("MH03-T1-") for c in clinicians)
