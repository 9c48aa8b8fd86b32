"""The nurse's day on her phone, in Debian's chromium (360x740, and 1280x800): she signs in, lands
on today's route, marks a visit done with a reading (stored in the database, shown done on her
team leader's week); a save that fails (the connection drops: the request is aborted) says so,
keeps what she typed in the form and on the phone, and goes through on retry. Every tap target
at least 44 px, no console error, no request leaving the machine. Screenshots:
tests/maps/artifacts/nurse-*.png.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from service.api.routers import workspace
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, map_settled, stops_on_map, watch
from tests.service.api.conftest import World, serve_app
from tests.service.api.test_nurse_records import records_of, stops_of
from tests.service.api.test_workspace_browser import chromium, sign_in, until
from tests.service.api.test_workspace_browser import small_targets as workspace_small_targets

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
)

# What a finger taps on the day page: links, buttons, number and text fields, and the labels
# that hold the radio buttons and check boxes (the label is the target, not the 22 px box).
TAP_TARGETS = (
    "header a, main a, main button, main input[type=number], main input[type=text], "
    "main label.hv-choice, main summary"
)


def small_targets(page: Any) -> list[str]:
    """The day page's tap targets less than 44 px high."""
    return workspace_small_targets(page, TAP_TARGETS)


def form(page: Any, key: str) -> Any:
    return page.locator(f'form.hv-record[data-key="{key}"]')


def test_the_nurse_records_her_day_on_a_phone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign in -> today's route -> a visit done with a reading -> in the database and done on
    the team leader's week; a failed save keeps the input (form and phone) and retries."""
    first, second = stops_of(world, "MH03-T1-N")[:2]
    day = first.visit_date
    mine = [s for s in stops_of(world, "MH03-T1-N") if s.visit_date == day]
    assert second.visit_date == day, "the test wants two home visits on one day"
    monkeypatch.setattr(workspace, "today", lambda: day)
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(world.client.app) as base, chromium() as browser:
        phone = browser.new_context(viewport={"width": 360, "height": 740})
        page = phone.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "nurse1")
        assert page.url == f"{base}/me/routes/{day}"
        page.wait_for_selector(".leaflet-container")
        assert page.locator("form.hv-record").count() == len(mine)
        assert "午休" in page.inner_text("main")
        assert page.locator("a[rel=prev]").count() == 1 and page.locator("a[rel=next]").count() == 1
        assert page.locator(".hv-cluster").count() >= 1  # 21 stops: close ones gather
        assert stops_on_map(page) == page.locator("li.hv-stop").count()  # and none is lost
        assert small_targets(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "nurse-route-360x740.png"), full_page=True)
        page.locator(".hv-lunch").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "nurse-lunch-360x740.png"))

        # Done, with a reading.
        one = form(page, f"{world.plan_id}/{first.visit_id}")
        assert not one.is_visible()  # folded: a day of stops stays short to scroll
        page.locator(f'li[data-visit="{first.visit_id}"] summary').click()
        one.locator("input[name=systolic_mmhg]").fill("128")
        one.locator("input[name=diastolic_mmhg]").fill("82")
        one.locator("input[name=glucose_mmol_l]").fill("5.9")
        one.locator("button[type=submit]").click()
        saved = page.locator(f'li[data-visit="{first.visit_id}"] .hv-recorded')
        saved.wait_for()
        assert "已保存 Saved" in saved.inner_text() and "128/82" in saved.inner_text()
        [row] = records_of(world, first)
        assert (row.outcome, row.systolic_mmhg, row.diastolic_mmhg, row.glucose_mmol_l) == (
            "completed",
            128,
            82,
            5.9,
        )

        # The connection drops: the save fails, says so, keeps what she typed.
        page.route("**/me/records", lambda route: route.abort("internetdisconnected"))
        errors_before = len(errors)
        two = form(page, f"{world.plan_id}/{second.visit_id}")
        page.locator(f'li[data-visit="{second.visit_id}"] summary').click()
        two.locator("input[name=systolic_mmhg]").fill("150")
        two.locator("input[name=diastolic_mmhg]").fill("95")
        two.locator("input[name=glucose_mmol_l]").fill("7.1")
        two.locator("button[type=submit]").click()
        status = two.locator(".hv-save-status.hv-failed")
        status.wait_for()
        assert "未能保存" in status.inner_text() and "Not saved" in status.inner_text()
        assert two.locator("input[name=systolic_mmhg]").input_value() == "150"
        assert two.locator("button.hv-retry").is_visible()
        kept = page.evaluate(f"localStorage.getItem('hv-unsent:{world.plan_id}/{second.visit_id}')")
        assert kept is not None and '"150"' in kept and '"7.1"' in kept
        page.locator(f'li[data-visit="{second.visit_id}"]').screenshot(
            path=str(ARTIFACTS / "nurse-failed-360x740.png")
        )
        assert records_of(world, second) == []
        # The browser reports the aborted request in the console: that one, and nothing else.
        dropped = errors[errors_before:]
        assert all("ERR_INTERNET_DISCONNECTED" in e for e in dropped), dropped
        del errors[errors_before:]

        # Opened again later (still offline for saving): the entry is filled in again.
        page.reload()
        two = form(page, f"{world.plan_id}/{second.visit_id}")
        two.wait_for()  # opened by itself: it holds an unsent entry
        assert two.locator("input[name=systolic_mmhg]").input_value() == "150"
        assert "未发送" in two.locator(".hv-save-status").inner_text()

        # Back online: retry, saved.
        page.unroute("**/me/records")
        two.locator("button.hv-retry").click()
        page.locator(f'li[data-visit="{second.visit_id}"] .hv-recorded').wait_for()
        until(lambda: len(records_of(world, second)) == 1, 10)
        assert records_of(world, second)[0].systolic_mmhg == 150
        assert page.evaluate("Object.keys(localStorage).length") == 0
        page.screenshot(path=str(ARTIFACTS / "nurse-saved-360x740.png"), full_page=True)

        # Two weeks on, no approved plan yet: a page that says so and links on.
        ahead = day + dt.timedelta(days=14)
        page.goto(f"{base}/me/routes/{ahead}")
        assert "还没有已审核的计划" in page.inner_text("main")
        assert small_targets(page) == []
        page.screenshot(path=str(ARTIFACTS / "nurse-no-plan-360x740.png"), full_page=True)
        page.goto(f"{base}/me/routes/{day}")

        # Signed out meanwhile (the cookie is gone): refused, said, and kept for later.
        third = mine[2]
        phone.clear_cookies()
        page.locator(f'li[data-visit="{third.visit_id}"] summary').click()
        three = form(page, f"{world.plan_id}/{third.visit_id}")
        three.locator("input[name=systolic_mmhg]").fill("118")
        three.locator("input[name=diastolic_mmhg]").fill("76")
        three.locator("button[type=submit]").click()
        refused = three.locator(".hv-save-status.hv-failed")
        refused.wait_for()
        assert "重新登录" in refused.inner_text() and "sign in again" in refused.inner_text()
        kept = page.evaluate(f"localStorage.getItem('hv-unsent:{world.plan_id}/{third.visit_id}')")
        assert kept is not None and '"118"' in kept
        assert records_of(world, third) == []
        # The refused post is logged by the browser as a failed resource: that one only.
        assert all("403" in e for e in errors[errors_before:]), errors[errors_before:]
        del errors[errors_before:]
        phone.close()

        # The same day at 1280x800, then the team leader's week: both visits done.
        for width, height in ((1280, 800), (360, 740)):
            desk = browser.new_context(viewport={"width": width, "height": height})
            page = desk.new_page()
            watch(page, requests, errors)
            if width == 1280:
                sign_in(page, base, "nurse1")
                page.wait_for_selector(".leaflet-container")
                assert page.locator(".hv-recorded").count() >= 2
                assert small_targets(page) == []
                page.screenshot(path=str(ARTIFACTS / "nurse-route-1280x800.png"), full_page=True)
                desk.close()
                desk = browser.new_context(viewport={"width": width, "height": height})
                page = desk.new_page()
                watch(page, requests, errors)
            sign_in(page, base, "lead1")
            page.goto(f"{base}/plans/{world.plan_id}/week?clinician=MH03-T1-N&day={day}")
            lane = page.locator(f'.hv-lane[data-clinician="MH03-T1-N"][data-day="{day}"]')
            assert lane.locator(".hv-rec-completed").count() == 2
            assert "✓" in lane.inner_text()
            page.screenshot(
                path=str(ARTIFACTS / f"nurse-lead-week-{width}x{height}.png"), full_page=True
            )
            desk.close()
    leaving = [url for url in requests if not url.startswith(base)]
    assert leaving == []
    assert errors == []


def covered_markers(page: Any) -> list[str]:
    """Pairs of markers (the centre, a stop, a cluster: their number badge and time or count
    label) whose boxes overlap on the map: a number or a time the nurse could not read."""
    found: list[str] = page.eval_on_selector_all(
        ".leaflet-marker-icon",
        """icons => {
             const boxes = icons.filter(i => i.offsetParent !== null).map(i => {
               const parts = [...i.querySelectorAll('b, span')].map(p => p.getBoundingClientRect());
               return [{left: Math.min(...parts.map(r => r.left)),
                        right: Math.max(...parts.map(r => r.right)),
                        top: Math.min(...parts.map(r => r.top)),
                        bottom: Math.max(...parts.map(r => r.bottom))}, i.innerText];
             });
             const pairs = [];
             boxes.forEach(([a, an], k) => boxes.slice(k + 1).forEach(([b, bn]) => {
               const wide = Math.min(a.right, b.right) - Math.max(a.left, b.left);
               const high = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
               if (wide > 0 && high > 0) pairs.push(an + ' / ' + bn);
             }));
             return pairs;
           }""",
    )
    return found


def test_the_nurses_day_map_covers_no_marker(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the sample nurse's day, at 360x740 and 1280x800, no stop, cluster or the centre hides
    another's number or time: close stops gather into one cluster instead."""
    day = stops_of(world, "MH03-T1-N")[0].visit_date
    monkeypatch.setattr(workspace, "today", lambda: day)
    with serve_app(world.client.app) as base, chromium() as browser:
        for width, height in ((360, 740), (1280, 800)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            sign_in(page, base, "nurse1")
            page.wait_for_selector(".leaflet-marker-icon")
            assert stops_on_map(page) == page.locator("li.hv-stop").count()
            page.locator(".leaflet-container").screenshot(
                path=str(ARTIFACTS / f"nurse-map-{width}x{height}.png")
            )
            assert covered_markers(page) == [], width
            page.click(".leaflet-control-zoom-in")  # a zoom in: clusters split, still clear
            page.wait_for_timeout(100)  # the zoom starts
            map_settled(page)
            assert covered_markers(page) == [], (width, "zoomed in")
            context.close()


def test_the_nurse_corrects_a_wrong_tap_on_her_phone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visit saved as done by mistake: its form turns into 更正 Correct at once (no reload);
    she picks 未在家 not at home with a note and a reason, saves: the stop says corrected, the
    record says not at home, what it said before is kept. A correction that cannot be sent
    (offline) is kept on the phone and goes through on retry. Opened again, the stop shows the
    record as corrected with its correction form filled in; at 1280x800 too. Tap targets at
    least 44 px, nothing leaves the machine, no console error but the dropped request's."""
    from service.db.records import record_versions

    mine = [
        s
        for s in stops_of(world, "MH03-T1-N")
        if s.visit_date == stops_of(world, "MH03-T1-N")[0].visit_date
    ]
    stop = mine[3]
    day = stop.visit_date
    monkeypatch.setattr(workspace, "today", lambda: day)
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    key = f"{world.plan_id}/{stop.visit_id}"
    with serve_app(world.client.app) as base, chromium() as browser:
        phone = browser.new_context(viewport={"width": 360, "height": 740})
        page = phone.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "nurse1")
        item = page.locator(f'li[data-visit="{stop.visit_id}"]')
        item.locator("summary").click()
        form(page, key).locator("button[type=submit]").click()  # done: the wrong tap
        item.locator(".hv-recorded").wait_for()
        assert "已保存 Saved" in item.locator(".hv-recorded").inner_text()
        summary = item.locator("details.hv-correct-box summary")
        assert summary.inner_text().startswith("更正")
        fix = form(page, f"{key}/correct")
        assert not fix.is_visible()
        summary.click()
        assert fix.locator("input[name=discharge_sickbed]").count() == 0
        fix.locator("label.hv-choice", has_text="未在家").click()
        assert not fix.locator("input[name=systolic_mmhg]").is_visible()  # not done: no reading
        fix.locator("input[name=note]").fill("邻居说老人住院了")
        fix.locator("input[name=reason]").fill("点错了")
        assert small_targets(page) == []
        item.screenshot(path=str(ARTIFACTS / "nurse-correct-form-360x740.png"))
        fix.locator("button[type=submit]").click()
        line = item.locator(".hv-recorded")
        until(lambda: "已更正 Corrected" in line.inner_text(), 10)
        assert (
            "未在家 Not at home" in line.inner_text() and item.locator(".hv-recorded").count() == 1
        )
        [row] = records_of(world, stop)
        assert (row.outcome, row.note) == ("not_home", "邻居说老人住院了")
        with world.client.app.state.sessions() as session:
            [old] = record_versions(session, row.record_id)
        assert (old.outcome, old.reason, old.superseded_by) == ("completed", "点错了", "nurse1")
        item.screenshot(path=str(ARTIFACTS / "nurse-corrected-360x740.png"))

        # Offline: the correction is kept on the phone, then sent on retry.
        page.route("**/me/records/correct", lambda route: route.abort("internetdisconnected"))
        errors_before = len(errors)
        summary.click()
        fix.locator("label.hv-choice", has_text="住院").click()
        fix.locator("button[type=submit]").click()
        fix.locator(".hv-save-status.hv-failed").wait_for()
        kept = page.evaluate(f"localStorage.getItem('hv-unsent:{key}/correct')")
        assert kept is not None and '"hospitalised"' in kept
        assert records_of(world, stop)[0].outcome == "not_home"
        assert all("ERR_INTERNET_DISCONNECTED" in e for e in errors[errors_before:])
        del errors[errors_before:]
        page.unroute("**/me/records/correct")
        fix.locator("button.hv-retry").click()
        # the page says so once the answer is in (the database has it a moment before)
        until(lambda: "住院 In hospital" in item.locator(".hv-recorded").inner_text(), 10)
        assert records_of(world, stop)[0].outcome == "hospitalised"
        assert page.evaluate("Object.keys(localStorage).length") == 0

        page.reload()
        item = page.locator(f'li[data-visit="{stop.visit_id}"]')
        assert "（已更正 corrected）" in item.locator(".hv-recorded").inner_text()
        item.locator("details.hv-correct-box summary").click()
        fix = form(page, f"{key}/correct")
        assert fix.locator("input[name=outcome][value=hospitalised]").is_checked()
        assert fix.locator("input[name=note]").input_value() == "邻居说老人住院了"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        item.screenshot(path=str(ARTIFACTS / "nurse-correct-again-360x740.png"))
        phone.close()

        desk = browser.new_context(viewport={"width": 1280, "height": 800})
        page = desk.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "nurse1")
        item = page.locator(f'li[data-visit="{stop.visit_id}"]')
        item.locator("details.hv-correct-box summary").click()
        item.scroll_into_view_if_needed()
        assert small_targets(page) == []
        page.screenshot(path=str(ARTIFACTS / "nurse-correct-1280x800.png"))
        desk.close()
    assert [url for url in requests if not url.startswith(base)] == []
    assert errors == []
