"""The registers page and the route sheets in Debian's chromium (issue 13, items 5 and 6).

A team leader uploads a workbook with a mistake (Chinese headers): the error table names it;
then the right one: imported. He prints his week: a landscape page with the week as a table,
then every clinician-day starts a page of its own (read back from chromium's PDF). At 1280x800
and 360x740: no console error, no request leaving the machine, tap targets of 44 px, nothing
wider than the screen. Screenshots: tests/maps/artifacts/workspace-upload-*.png and
workspace-print-*.png.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, watch
from tests.service.api.conftest import World, serve_app
from tests.service.api.test_registers_page import team_register, workbook
from tests.service.api.test_workspace_browser import SIZES, chromium, sign_in, small_targets

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
)


def test_a_team_leader_uploads_a_register_with_a_mistake_then_the_right_one(
    world: World, tmp_path: Path
) -> None:
    """The mistake (a birth date that is no day, Chinese headers) comes back in the table with
    the sheet, the row, the header as written and the value; the right workbook imports."""
    tables = team_register("MH03-T1")
    right = tmp_path / "团队档案.xlsx"
    right.write_bytes(workbook(tables))
    tables["residents"].loc[2, "birth_date"] = "1949-13-45"
    wrong = tmp_path / "团队档案-有错.xlsx"
    wrong.write_bytes(workbook(tables))
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(world.client.app) as base, chromium() as browser:
        for width, height in SIZES:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            watch(page, requests, errors)
            sign_in(page, base, "lead1")
            page.click("header a[href='/registers']")
            page.wait_for_load_state("load")
            assert "导入档案" in page.inner_text("h1")
            size = f"{width}x{height}"
            page.screenshot(
                path=str(ARTIFACTS / f"workspace-upload-form-{size}.png"), full_page=True
            )
            page.set_input_files("#files", str(wrong))
            with page.expect_navigation():
                page.click("form.hv-upload button[type=submit]")
            cells = page.locator(".hv-problem-table tbody tr").first.locator("td").all_inner_texts()
            assert cells[:4] == ["团队档案-有错.xlsx, sheet 居民", "4", "出生日期", "1949-13-45"]
            assert "日历上没有这一天" in cells[4] and "no such day in the calendar" in cells[4]
            assert small_targets(page) == [], size
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(
                path=str(ARTIFACTS / f"workspace-upload-error-{size}.png"), full_page=True
            )
            page.set_input_files("#files", str(right))
            with page.expect_navigation():
                page.click("form.hv-upload button[type=submit]")
            assert "已导入" in page.inner_text(".hv-done h2")
            assert page.locator(".hv-problem-table").count() == 0
            assert small_targets(page) == [], size
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(
                path=str(ARTIFACTS / f"workspace-upload-done-{size}.png"), full_page=True
            )
            context.close()
    # The form posts the 422 page on purpose; the browser logs its status as a console error.
    errors = [e for e in errors if "422" not in e]
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(base)] == []


def test_the_printed_week_starts_every_clinician_day_on_a_page_of_its_own(world: World) -> None:
    """/plans/{id}/print printed by chromium: page 1 (landscape) is the week as a table, then
    one portrait page per clinician-day, each starting with that clinician and day; on screen
    it links the XLSX export and fits both sizes."""
    pypdf = pytest.importorskip("pypdf")
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(world.client.app) as base, chromium() as browser:
        for width, height in SIZES:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            watch(page, requests, errors)
            sign_in(page, base, "lead1")
            page.goto(f"{base}/plans/{world.plan_id}/print")
            size = f"{width}x{height}"
            assert page.locator("#hv-print").is_visible()  # the script shows the button
            export = page.locator("a[href$='/export?format=xlsx']")
            assert export.is_visible()
            assert small_targets(page) == [], size
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(ARTIFACTS / f"workspace-print-screen-{size}.png"))
            headings = page.locator(".hv-sheet h2").all_inner_texts()
            context.close()
        assert len(headings) > 1
        # The export link answers with a workbook (the cookie is enough for a GET).
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "lead1")
        page.goto(f"{base}/plans/{world.plan_id}/print")
        with page.expect_download() as download:
            page.click("a[href$='/export?format=xlsx']")
        assert download.value.suggested_filename.endswith(".xlsx")
        page.emulate_media(media="print")
        assert not page.locator("header").is_visible()
        assert not page.locator("#hv-print").is_visible()
        page.screenshot(path=str(ARTIFACTS / "workspace-print-paper-1280x800.png"), full_page=True)
        printed = page.pdf(prefer_css_page_size=True)
        (ARTIFACTS / "workspace-print.pdf").write_bytes(printed)
        pdf = pypdf.PdfReader(io.BytesIO(printed))
        context.close()
    pages = [p.extract_text() for p in pdf.pages]
    boxes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in pdf.pages]
    assert "本周一览" in pages[0]
    assert boxes[0][0] > boxes[0][1]  # the week: A4 landscape
    assert all(w < h for w, h in boxes[1:])  # the sheets: A4 portrait
    # Each clinician-day's sheet begins a page; a page holds one sheet (a long day may run on).
    starts = []
    for heading in headings:
        name, rest = heading.split(" · ", 1)
        day = rest.split(" ", 1)[0]
        begins = [
            i for i, text in enumerate(pages) if _first_line(text).startswith(f"{name} · {day}")
        ]
        assert len(begins) == 1, (heading, [_first_line(t) for t in pages])
        starts.append(begins[0])
    assert starts == sorted(starts) and len(set(starts)) == len(headings)
    assert starts[0] == 1
    assert all(re.search(r"\d{4}-\d{2}-\d{2}", pages[i]) for i in starts)
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(base)] == []


def _first_line(text: str) -> str:
    """A PDF page's first line, runs of spaces as one (the extractor doubles some)."""
    return re.sub(r"\s+", " ", text.strip().splitlines()[0]).strip() if text.strip() else ""
