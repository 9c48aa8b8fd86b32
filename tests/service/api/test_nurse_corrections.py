"""The nurse corrects a visit she recorded (更正, POST /me/records/correct, cookie and CSRF
token): on the visit's day, her own record only; the record then says what is true now, what it
said before is kept (who replaced it, when, why), and the tables count the corrected visit only.

The browser test (a wrong tap put right on the phone, at 360 and 1280 px) is in
test_nurse_browser.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.api.nurse import correction_refusal
from service.api.routers import workspace
from service.db.records import record_versions
from service.db.tables import AuditRow, PlanRow, PlanStatus, VisitRecordRow
from service.reports.compute import Scope, load_report_data, weekly_visits
from tests.service.api.conftest import WEEK, World, csrf, signed_in
from tests.service.api.test_nurse_records import JSON, form_of, nurse1, records_of, stops_of

__all__ = ["nurse1"]  # the fixture, shared with the record tests

PAGE = {"Accept": "text/html"}


def _done_this_week(world: World, programme: str) -> int:
    with world.client.app.state.sessions() as session:
        data = load_report_data(session, Scope(WEEK, WEEK + dt.timedelta(days=6)))
        return weekly_visits(data).get(programme, {}).get(WEEK, 0)


def test_a_wrong_outcome_is_corrected_the_old_one_kept_and_the_tables_count_the_new(
    world: World, nurse1: tuple[TestClient, str]
) -> None:
    """Recorded done by mistake, corrected to 未在家 not at home with a note: the same record
    now says not at home (no reading left), the version it replaced is kept with her user name
    and the reason, the week's tables no longer count the visit, the page shows the record as
    corrected with its form again; the same correction sent again (a retry) changes nothing
    and keeps no second version; the correction is audited."""
    client, token = nurse1
    stop = stops_of(world, "MH03-T1-N")[0]
    before = _done_this_week(world, stop.programme)
    form = form_of(stop, token, systolic_mmhg="135", diastolic_mmhg="85")
    assert client.post("/me/records", data=form, headers=JSON).status_code == 201
    assert _done_this_week(world, stop.programme) == before + 1
    [row] = records_of(world, stop)
    page = client.get(f"/me/routes/{stop.visit_date}", headers=PAGE).text
    assert page.count('action="/me/records/correct"') == 1
    assert 'value="135"' in page  # the correction opens with what is stored

    fix = form_of(stop, token, outcome="not_home", systolic_mmhg="135", diastolic_mmhg="85")
    fix |= {"note": "家属说老人去女儿家", "reason": "点错了"}
    answer = client.post("/me/records/correct", data=fix, headers=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json()["already"] is False
    assert answer.json()["summary"].startswith("未在家 Not at home")
    [now] = records_of(world, stop)
    assert now.record_id == row.record_id
    assert (now.outcome, now.systolic_mmhg, now.note) == ("not_home", None, "家属说老人去女儿家")
    with world.client.app.state.sessions() as session:
        [old] = record_versions(session, row.record_id)
    assert (old.outcome, old.systolic_mmhg, old.diastolic_mmhg) == ("completed", 135, 85)
    assert (old.superseded_by, old.reason) == ("nurse1", "点错了")
    assert _done_this_week(world, stop.programme) == before

    page = client.get(f"/me/routes/{stop.visit_date}", headers=PAGE).text
    assert "已记录 Recorded: 未在家 Not at home · 备注 Note: 家属说老人去女儿家" in page
    assert "（已更正 corrected）" in page

    again = client.post("/me/records/correct", data=fix, headers=JSON)
    assert again.status_code == 200 and again.json()["already"] is True
    with world.client.app.state.sessions() as session:
        assert len(record_versions(session, row.record_id)) == 1
    world.client.app.state.audit.flush()
    with world.client.app.state.sessions() as session:
        audited = session.scalars(
            select(AuditRow.detail).where(
                AuditRow.action == "correct visit record", AuditRow.username == "nurse1"
            )
        ).all()
    assert audited == [f"plan {world.plan_id} record {row.record_id}"]


def test_a_correction_is_checked_like_a_record(
    world: World, nurse1: tuple[TestClient, str]
) -> None:
    """A bad reading in a correction is refused with the reason in Chinese and English and the
    record stays as it was; a correction without its CSRF token is refused (403)."""
    client, token = nurse1
    stop = stops_of(world, "MH03-T1-N")[1]
    assert client.post("/me/records", data=form_of(stop, token), headers=JSON).status_code == 201
    bad = form_of(stop, token, systolic_mmhg="400", diastolic_mmhg="80")
    answer = client.post("/me/records/correct", data=bad, headers=JSON)
    assert answer.status_code == 422
    assert any("收缩压 400 mmHg 不合理" in e for e in answer.json()["errors"])
    stale = form_of(stop, "0" * 64, outcome="refused")
    assert client.post("/me/records/correct", data=stale, headers=JSON).status_code == 403
    [row] = records_of(world, stop)
    assert (row.outcome, row.systolic_mmhg) == ("completed", None)


def test_no_correction_after_the_day_nor_of_a_visit_not_recorded_or_not_hers(
    world: World, nurse1: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next day her record shows without a correction form and a correction posted anyway
    is refused (409), saying why; a visit with no record yet is to be recorded first (404); a
    stop of another nurse's route is not hers (404); nothing changes."""
    client, token = nurse1
    stop = stops_of(world, "MH03-T1-N")[2]
    assert client.post("/me/records", data=form_of(stop, token), headers=JSON).status_code == 201
    monkeypatch.setattr(workspace, "today", lambda: stop.visit_date + dt.timedelta(days=1))
    page = client.get(f"/me/routes/{stop.visit_date}", headers=PAGE).text
    assert 'action="/me/records/correct"' not in page
    late = client.post(
        "/me/records/correct", data=form_of(stop, token, outcome="refused"), headers=JSON
    )
    assert late.status_code == 409
    assert "只能在上门当天" in late.json()["errors"][0]
    assert "on the visit's day" in late.json()["errors"][0]
    [row] = records_of(world, stop)
    assert row.outcome == "completed"
    monkeypatch.setattr(workspace, "today", lambda: stop.visit_date)
    unrecorded = next(s for s in stops_of(world, "MH03-T1-N") if not records_of(world, s))
    missing = client.post("/me/records/correct", data=form_of(unrecorded, token), headers=JSON)
    assert missing.status_code == 404 and "请先记录" in missing.json()["errors"][0]
    theirs = stops_of(world, "MH03-T2-N")[0]
    other = client.post("/me/records/correct", data=form_of(theirs, token), headers=JSON)
    assert other.status_code == 404
    lead = signed_in(world, "lead1")
    lead_token = csrf(lead.get("/plan-week").text)
    assert lead.post("/me/records/correct", data=form_of(stop, lead_token)).status_code == 403


def test_only_her_own_recorded_records_in_an_open_week_may_be_corrected() -> None:
    """The rule itself: a colleague's record, an imported one and any record of a plan marked
    done (the week closed) are refused with the reason; hers on the day is allowed."""
    day = dt.date(2026, 12, 1)
    plan = PlanRow(status=PlanStatus.APPROVED.value)
    mine = VisitRecordRow(source="recorded", clinician_ids="MH03-T1-N", visit_date=day)
    assert correction_refusal(mine, "MH03-T1-N", plan, day) is None
    said = correction_refusal(mine, "MH03-T1-D", plan, day)
    assert said is not None and "只能更正自己记录的上门" in said
    imported = VisitRecordRow(source="import", clinician_ids="MH03-T1-N", visit_date=day)
    assert correction_refusal(imported, "MH03-T1-N", plan, day) is not None
    closed = PlanRow(status=PlanStatus.DONE.value)
    said = correction_refusal(mine, "MH03-T1-N", closed, day)
    assert said is not None and "本周计划已结束" in said and "closed" in said
