"""The workspace pages through the HTTP interface: each role's landing page, the team leader's
week (his team only, filters, what is left out and why), the CSRF check of cookie-posted forms,
and /docs and /redoc served without a CDN.

The browser tests (chromium) are in test_workspace_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from service.db.tables import ClinicianRow, ResidentRow
from tests.service.api.conftest import PASSWORD, WEEK, World, csrf, signed_in

pytestmark = pytest.mark.usefixtures("on_the_plans_week")


@pytest.mark.parametrize(
    ("user", "lands_on"),
    [
        ("lead1", "/plans/{plan_id}/week"),
        ("nurse1", "/me/routes/{today}"),
        ("planner", "/overview"),
        ("admin", "/admin"),
    ],
)
def test_each_role_lands_on_its_own_page_after_signing_in(
    world: World, user: str, lands_on: str
) -> None:
    """Sign-in then "/" takes each role to its page (a team leader no longer gets a 404)."""
    client = signed_in(world, user)
    target = client.post("/login", data={"username": user, "password": PASSWORD}).headers[
        "location"
    ]
    for _ in range(3):  # "/" -> the role's page (-> the plan of the week)
        answer = client.get(target)
        if answer.status_code != 303:
            break
        target = answer.headers["location"]
    today = (WEEK + dt.timedelta(days=2)).isoformat()
    assert target == lands_on.format(plan_id=world.plan_id, today=today)
    assert answer.status_code == 200


def test_a_page_without_sign_in_goes_to_the_sign_in_form(world: World) -> None:
    """An expired or missing cookie opens the sign-in form, which then comes back."""
    client = TestClient(world.client.app, follow_redirects=False)
    answer = client.get(f"/plans/{world.plan_id}/week")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/plans/{world.plan_id}/week"


def test_the_team_leaders_week_shows_his_team_only_with_reasons_in_both_languages(
    world: World,
) -> None:
    """lead1 sees his team's clinicians' days, the left-out visits with a Chinese and an English
    reason, the KPIs and the link to his team's map; no lane of the other team."""
    client = signed_in(world, "lead1")
    page = client.get(f"/plans/{world.plan_id}/week").text
    lanes = set(re.findall(r'data-clinician="([^"]+)"', page))
    assert lanes and all(c.startswith("MH03-T1-") for c in lanes), lanes
    assert f"/plans/{world.plan_id}/maps/team/MH03-T1" in page
    assert "应访" in page and "visits due" in page
    # The KPIs are his team's: the "left out" card counts the alarms the first list shows (due or
    # overdue), and due less scheduled is the alarms plus the optional / not-yet-due list below.
    figures = dict(re.findall(r'<span class="en">([^<]+)</span></dt><dd>(\d+)</dd>', page))
    alarms = re.search(r'应访未安排 <span class="en">Due, left out</span> \((\d+)\)', page)
    assert alarms, "no list of due visits left out"
    others = re.search(
        r'<span class="en">Optional or not due this week, not placed</span> \((\d+)\)', page
    )
    n_others = int(others.group(1)) if others else 0
    due, scheduled = int(figures["visits due"]), int(figures["scheduled"])
    assert int(figures["left out"]) == int(alarms.group(1)), (figures, alarms.group(1))
    assert due - scheduled == int(alarms.group(1)) + n_others, (figures, alarms.group(1), n_others)
    assert 'class="hv-block hv-visit' in page and 'class="hv-block hv-travel' in page
    reasons = re.findall(r'<td>([^<]*)<br><span class="en">([^<]+)</span></td>', page)
    assert reasons, "no left-out visit with a reason"
    assert all(re.search("[\u4e00-\u9fff]", zh) and en.strip() for zh, en in reasons), reasons


def test_the_week_filters_by_clinician_day_and_programme(world: World) -> None:
    """The GET filters narrow the lanes to one clinician and one day, and the visit blocks to
    one programme."""
    client = signed_in(world, "lead1")
    url = f"/plans/{world.plan_id}/week"
    day = world.nurse1_day.isoformat()
    page = client.get(url, params={"clinician": "MH03-T1-N", "day": day}).text
    assert re.findall(r'data-clinician="([^"]+)" data-day="([^"]+)"', page) == [("MH03-T1-N", day)]
    everything = client.get(url).text
    programmes = set(re.findall(r'data-programme="([^"]+)"', everything))
    assert len(programmes) >= 2, programmes
    chosen = sorted(programmes)[0]
    narrowed = client.get(url, params={"programme": chosen}).text
    assert set(re.findall(r'data-programme="([^"]+)"', narrowed)) == {chosen}


def test_a_cookie_posted_form_without_its_csrf_token_is_refused(world: World) -> None:
    """POST /plan-week with the cookie but no token, or another session's token, is 403 and
    queues nothing; the form's own token is accepted (then 409/202 as the API says)."""
    lead = signed_in(world, "lead1")
    other = signed_in(world, "lead2")
    week = WEEK.isoformat()
    form = {"week_start": week, "time_limit_s": "2"}
    refused = lead.post("/plan-week", data=form)
    assert refused.status_code == 403
    assert "CSRF" in refused.text or "security token" in refused.text
    foreign = csrf(other.get("/plan-week").text)
    assert lead.post("/plan-week", data=form | {"csrf_token": foreign}).status_code == 403
    sign_out = lead.post("/logout")
    assert sign_out.status_code == 403  # signing out is a form too
    jobs = world.client.get("/plan-jobs", headers=world.headers("lead1")).json()
    assert jobs == []


def test_api_docs_are_served_from_the_service_itself(world: World) -> None:
    """/docs and /redoc name only local files (the fastapi-offline package's), and those load."""
    for path in ("/docs", "/redoc"):
        page = world.client.get(path).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            assert world.client.get(source).status_code == 200, source
        assert "<script>" not in page  # no inline script: the CSP allows files only


def test_route_sheets_print_the_team_leaders_days_as_the_nurse_sees_them(world: World) -> None:
    """/plans/{id}/print: one sheet per clinician-day of his team with stops, names masked as on
    the nurse's phone, address, phone and what to bring; a filter prints one day."""
    client = signed_in(world, "lead1")
    page = client.get(f"/plans/{world.plan_id}/print").text
    week = client.get(f"/plans/{world.plan_id}/week").text
    lanes_with_stops = re.findall(r'data-clinician="[^"]+" data-day="[^"]+"', week)
    sheets = page.count('<section class="hv-sheet">')
    assert 0 < sheets <= len(lanes_with_stops)
    resident = re.search(r"<td>(\S+\*\S*)</td>", page)
    assert resident, "no masked resident name on the sheets"
    assert "血压计" in page  # what to bring, from the programme
    one = client.get(
        f"/plans/{world.plan_id}/print",
        params={"clinician": "MH03-T1-N", "day": world.nurse1_day.isoformat()},
    ).text
    assert one.count('<section class="hv-sheet">') == 1
    other_team = signed_in(world, "lead2").get(
        f"/plans/{world.plan_id}/print", params={"clinician": "MH03-T1-N"}
    )
    assert other_team.text.count('<section class="hv-sheet">') == 0


def test_register_values_reach_the_pages_as_text_never_as_markup(world: World) -> None:
    """A clinician's name and a resident's address that hold markup show as text on the week
    page and the route sheets (escaped), never as elements or scripts."""
    hostile = '</script><script>alert(1)</script>"><img src=x onerror=alert(1)>'
    sessions = world.client.app.state.sessions
    with sessions() as session:
        clinician = session.get(ClinicianRow, "MH03-T1-N")
        resident = session.get(ResidentRow, world.nurse1_resident)
        assert clinician is not None and resident is not None
        kept = clinician.name, resident.address
        clinician.name, resident.address = hostile, hostile
        session.commit()
    try:
        client = signed_in(world, "lead1")
        day = {"clinician": "MH03-T1-N", "day": world.nurse1_day.isoformat()}
        for path in (f"/plans/{world.plan_id}/week", f"/plans/{world.plan_id}/print"):
            page = client.get(path, params=day).text
            assert hostile not in page and "<img src=x" not in page
            assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    finally:
        with sessions() as session:
            clinician = session.get(ClinicianRow, "MH03-T1-N")
            resident = session.get(ResidentRow, world.nurse1_resident)
            assert clinician is not None and resident is not None
            clinician.name, resident.address = kept
            session.commit()
