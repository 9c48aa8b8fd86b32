"""The nurse records her visits on her day page (POST /me/records, with the cookie and the CSRF
token): a visit done with a reading is stored like POST /records stores it, her team leader's
week shows it; another nurse's visit, a bad value and a form without its token are refused, each
with a clear answer, and nothing is stored.

The browser test (chromium, a failed save kept on the phone) is in test_nurse_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.api.routers import workspace
from service.db.tables import (
    AuditRow,
    ClinicianRow,
    PlanStopRow,
    ResidentRow,
    SickbedEpisodeRow,
    UserRole,
    VisitRecordRow,
)
from service.users import add_user
from tests.service.api.conftest import PASSWORD, WEEK, World, csrf, signed_in

JSON = {"Accept": "application/json"}


def stops_of(world: World, clinician_id: str) -> list[PlanStopRow]:
    """The clinician's home visits in the world's plan on days already past (recordable)."""
    with world.client.app.state.sessions() as session:
        return list(
            session.scalars(
                select(PlanStopRow)
                .where(
                    PlanStopRow.plan_id == world.plan_id,
                    PlanStopRow.clinician_id == clinician_id,
                    PlanStopRow.resident_id.is_not(None),
                    PlanStopRow.visit_date <= dt.date.today(),
                )
                .order_by(PlanStopRow.visit_date, PlanStopRow.sequence)
            )
        )


def records_of(world: World, stop: PlanStopRow) -> list[VisitRecordRow]:
    with world.client.app.state.sessions() as session:
        return list(
            session.scalars(
                select(VisitRecordRow).where(
                    VisitRecordRow.resident_id == stop.resident_id,
                    VisitRecordRow.programme == stop.programme,
                    VisitRecordRow.visit_date == stop.visit_date,
                )
            )
        )


@pytest.fixture
def nurse1(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    """nurse1 signed in (cookie), her pages opening on the day of her first stop; the form
    token of her day page."""
    day = stops_of(world, "MH03-T1-N")[0].visit_date
    monkeypatch.setattr(workspace, "today", lambda: day)
    client = signed_in(world, "nurse1")
    page = client.get(f"/me/routes/{day}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    yield client, csrf(page.text)


def form_of(stop: PlanStopRow, token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "plan_id": str(stop.plan_id),
        "visit_id": stop.visit_id,
        "outcome": "completed",
        **fields,
    }


def test_the_day_page_has_a_form_per_home_visit_lunch_and_the_days_around(
    world: World, nurse1: tuple[TestClient, str]
) -> None:
    """Each home visit of her day has its form (outcome first in Chinese, readings, the place);
    lunch is in the list; the day before and after are links; a week with no approved plan
    opens a page that says so and links on (the app still gets its 404 in JSON)."""
    client, _ = nurse1
    stop = stops_of(world, "MH03-T1-N")[0]
    day = stop.visit_date
    page = client.get(f"/me/routes/{day}", headers={"Accept": "text/html"}).text
    on_day = [s for s in stops_of(world, "MH03-T1-N") if s.visit_date == day]
    assert page.count('<form class="hv-record"') == len(on_day)
    assert f'name="visit_id" value="{stop.visit_id}"' in page
    for words in ("已完成 <span", "未在家 <span", "拒绝 <span", "收缩压", "舒张压", "血糖", "入户"):
        assert words in page
    assert '<script src="/static/record.js" defer></script>' in page
    with world.client.app.state.sessions() as session:
        nurse = session.get(ClinicianRow, "MH03-T1-N")
        assert nurse is not None
        lunch = nurse.lunch_start_min
    if lunch is not None:
        assert f"{lunch // 60:02d}:{lunch % 60:02d}–" in page and "午休" in page
    one = dt.timedelta(days=1)
    assert f'href="/me/routes/{day - one}" rel="prev"' in page
    assert f'href="/me/routes/{day + one}" rel="next"' in page
    later = WEEK + dt.timedelta(days=14)
    empty = client.get(f"/me/routes/{later}", headers={"Accept": "text/html"})
    assert empty.status_code == 200
    assert "还没有已审核的计划" in empty.text and "no approved plan" in empty.text
    assert f'href="/me/routes/{later - one}"' in empty.text
    # The app keeps its JSON answer.
    assert client.get(f"/me/routes/{later}", headers=JSON).json()["detail"].startswith("no ")


def test_a_visit_done_with_a_reading_is_stored_and_shown_done_on_the_week(
    world: World, nurse1: tuple[TestClient, str]
) -> None:
    """Saved through the service: the record holds the readings, her id, the plan and the
    visit; the page then shows it recorded; the team leader's week shows the visit done; sent
    again (a retry after a lost answer) it is the same record, not a second one."""
    client, token = nurse1
    stop = stops_of(world, "MH03-T1-N")[0]
    form = form_of(stop, token, systolic_mmhg="135", diastolic_mmhg="85", glucose_mmol_l="6.2")
    answer = client.post("/me/records", data=form, headers=JSON)
    assert answer.status_code == 201, answer.text
    assert answer.json()["saved"] is True
    assert "135/85" in answer.json()["summary"] and "已完成" in answer.json()["summary"]
    [row] = records_of(world, stop)
    assert (row.systolic_mmhg, row.diastolic_mmhg, row.glucose_mmol_l) == (135, 85, 6.2)
    assert (row.outcome, row.source, row.clinician_ids) == ("completed", "recorded", "MH03-T1-N")
    assert (row.plan_id, row.visit_id) == (world.plan_id, stop.visit_id)
    world.client.app.state.audit.flush()  # written in batches
    with world.client.app.state.sessions() as session:
        audited = session.scalars(
            select(AuditRow).where(AuditRow.action == "record visit", AuditRow.username == "nurse1")
        ).all()
    assert [(a.resident_ids, a.detail) for a in audited] == [
        (stop.resident_id, f"plan {world.plan_id} record {row.record_id}")
    ]
    page = client.get(f"/me/routes/{stop.visit_date}", headers={"Accept": "text/html"}).text
    assert "已记录 Recorded: 已完成 Done · 血压 BP 135/85 mmHg" in page
    # no second record form for it: the one form left corrects the record (更正)
    [form_html] = re.findall(
        r'<form class="hv-record"[^>]*>(?:(?!</form>).)*name="visit_id" value="'
        + re.escape(stop.visit_id)
        + '"',
        page,
    )
    assert 'action="/me/records/correct"' in form_html
    again = client.post("/me/records", data=form, headers=JSON)
    assert again.status_code == 200 and again.json()["already"] is True
    assert len(records_of(world, stop)) == 1
    lead = signed_in(world, "lead1")
    week = lead.get(f"/plans/{world.plan_id}/week").text
    lane = week.split(f'data-clinician="MH03-T1-N" data-day="{stop.visit_date}"', 1)[1]
    lane = lane.split('<div class="hv-lane"', 1)[0]
    assert lane.count("hv-rec-completed") == 1
    assert "✓ " in lane and "已完成 Done" in lane


def test_not_at_home_keeps_no_reading_and_shows_missed_on_the_week(
    world: World, nurse1: tuple[TestClient, str]
) -> None:
    """未在家 not at home is stored as not_home, without the readings left in the fields; the
    week marks the visit missed, not done; a form posted without the script comes back to the
    day page."""
    client, token = nurse1
    stop = stops_of(world, "MH03-T1-N")[1]
    form = form_of(stop, token, outcome="not_home", systolic_mmhg="140", diastolic_mmhg="90")
    answer = client.post("/me/records", data=form)  # no script: a plain form post
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/me/routes/{stop.visit_date}"
    [row] = records_of(world, stop)
    assert (row.outcome, row.systolic_mmhg, row.tests) == ("not_home", None, "")
    week = signed_in(world, "lead1").get(f"/plans/{world.plan_id}/week").text
    assert "hv-rec-not_home" in week and "未在家 Not at home" in week


def test_another_nurses_visit_or_a_leader_posting_is_refused(
    world: World, nurse1: tuple[TestClient, str]
) -> None:
    """A stop of nurse2's route is not nurse1's to record (404, the same as a visit that does
    not exist); a team leader records through the API, not this form (403); nothing stored."""
    client, token = nurse1
    theirs = stops_of(world, "MH03-T2-N")[0]
    refused = client.post("/me/records", data=form_of(theirs, token), headers=JSON)
    assert refused.status_code == 404
    assert "您已审核的路线上没有这次上门" in refused.json()["errors"][0]
    invented = form_of(theirs, token) | {"visit_id": "no-such-visit"}
    assert client.post("/me/records", data=invented, headers=JSON).status_code == 404
    lead = signed_in(world, "lead2")
    lead_token = csrf(lead.get("/plan-week").text)
    assert lead.post("/me/records", data=form_of(theirs, lead_token)).status_code == 403
    assert records_of(world, theirs) == []


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"systolic_mmhg": "abc", "diastolic_mmhg": "80"}, "收缩压应为整数，收到 'abc'"),
        (
            {"systolic_mmhg": "300", "diastolic_mmhg": "85"},
            "收缩压 300 mmHg 不合理（应为 60–280） / systolic 300 mmHg is not plausible (60-280)",
        ),
        ({"systolic_mmhg": "80", "diastolic_mmhg": "120"}, "是否填反了？"),
        ({"systolic_mmhg": "135"}, "血压需填两个数"),
        ({"glucose_mmol_l": "110"}, "mg/dL 除以 18 即 mmol/L"),
        ({"outcome": "gone"}, "结果 'gone' 不明"),
        ({"discharge_sickbed": "1"}, "撤床在家庭病床查房时记录"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(
    world: World, nurse1: tuple[TestClient, str], fields: dict[str, str], said: str
) -> None:
    """A value out of range, not a number or half a blood pressure: 422 naming the value and
    what is right, in Chinese and English; the plain form gets the same on a page; no record."""
    client, token = nurse1
    stop = stops_of(world, "MH03-T1-N")[-1]
    answer = client.post("/me/records", data=form_of(stop, token, **fields), headers=JSON)
    assert answer.status_code == 422
    assert answer.json()["saved"] is False
    assert any(said in error for error in answer.json()["errors"]), answer.json()
    page = client.post("/me/records", data=form_of(stop, token, **fields))
    assert page.status_code == 422 and "未保存" in page.text
    assert said.replace("'", "&#39;") in page.text
    assert records_of(world, stop) == []


def test_a_form_without_its_csrf_token_is_refused(
    world: World, nurse1: tuple[TestClient, str]
) -> None:
    """With the cookie but no token, or another session's token: 403, nothing stored."""
    client, _ = nurse1
    stop = stops_of(world, "MH03-T1-N")[-1]
    form = form_of(stop, "")
    del form["csrf_token"]
    assert client.post("/me/records", data=form, headers=JSON).status_code == 403
    foreign = csrf(signed_in(world, "lead1").get("/plan-week").text)  # another session's
    answer = client.post("/me/records", data=form_of(stop, foreign), headers=JSON)
    assert answer.status_code == 403
    assert re.search("表单已失效", answer.text)
    assert records_of(world, stop) == []


def test_a_sick_bed_round_done_may_end_the_sick_bed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a sick-bed round (the doctor's), 今日撤床 discharges the resident's open home sick-bed
    on the visit's day, with the visit's record (Annex 3 counts the discharge)."""
    rounds = [s for s in stops_of(world, "MH03-T1-D") if s.programme == "sickbed_round"]
    stop = rounds[0]
    with world.client.app.state.sessions() as session:
        add_user(session, "doctor1", PASSWORD, UserRole.CLINICIAN, clinician_id="MH03-T1-D")
        session.commit()
    monkeypatch.setattr(workspace, "today", lambda: stop.visit_date)
    client = signed_in(world, "doctor1")
    page = client.get(f"/me/routes/{stop.visit_date}", headers={"Accept": "text/html"}).text
    on_day = [r for r in rounds if r.visit_date == stop.visit_date]
    assert page.count('name="discharge_sickbed"') == len(on_day)
    form = form_of(stop, csrf(page), discharge_sickbed="1")
    answer = client.post("/me/records", data=form, headers=JSON)
    assert answer.status_code == 201, answer.text
    assert "已撤床 sick-bed discharged" in answer.json()["summary"]
    with world.client.app.state.sessions() as session:
        episode = session.scalars(
            select(SickbedEpisodeRow)
            .where(SickbedEpisodeRow.resident_id == stop.resident_id)
            .order_by(SickbedEpisodeRow.opened.desc())
        ).first()
        resident = session.get(ResidentRow, stop.resident_id)
        assert episode is not None and resident is not None
        assert (episode.discharged, resident.home_sickbed) == (stop.visit_date, False)
    [row] = records_of(world, stop)
    assert row.outcome == "completed"
