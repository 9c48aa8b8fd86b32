"""The team leader's same-day changes in the browser's HTTP: the button on his week, the form
(his team only, the CSRF token), the job's progress, the changes to check (phones for him,
masked for an admin, the read audited) and the approval from that page.

The world's app runs no dispatcher: the queued job is run by the worker's own function (see
test_replan_api.run_queued). The browser test (chromium) is test_replan_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from service.api.routers import replan_pages, workspace
from service.db.tables import AuditRow, ClinicianRow, PlanJobRow, PlanStopRow, ResidentRow
from service.replan_job import ReplanIn
from tests.service.api.conftest import WEEK, World, csrf, signed_in
from tests.service.api.test_replan_api import NURSE, run_queued

TUESDAY = WEEK + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def on_the_plans_tuesday(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages open on Tuesday 10:00 of the world's planned week, whatever today is."""
    monkeypatch.setattr(workspace, "today", lambda: TUESDAY)
    monkeypatch.setattr(replan_pages, "now", lambda: dt.datetime.combine(TUESDAY, dt.time(10, 2)))


def _engine(world: World):  # type: ignore[no-untyped-def]
    return world.client.app.state.engine  # type: ignore[attr-defined]


def _sick_call_form(page: str, clinicians: list[str]) -> dict[str, object]:
    """The form as the leader sends it: Tuesday 10:00, the nurse absent from then on."""
    modes = ["from" if c == NURSE else "" for c in clinicians]
    return {
        "csrf_token": csrf(page),
        "date": TUESDAY.isoformat(),
        "at": "10:00",
        "clinician": clinicians,
        "absent_mode": modes,
        "absent_until": [""] * len(clinicians),
        "late_until": [""] * len(clinicians),
        "visit": [""] * 5,
        "visit_action": ["cancel"] * 5,
        "visit_to": [""] * 5,
    }


def _clinicians_of(page: str) -> list[str]:
    return re.findall(r'name="clinician" value="([^"]+)"', page)


def test_the_week_page_offers_same_day_changes_to_the_team_leader_only(world: World) -> None:
    """lead1's week has the button; an admin's view of the same week does not (the form is
    the team leader's); an approved plan offers no approval."""
    lead = signed_in(world, "lead1").get(f"/plans/{world.plan_id}/week").text
    assert f'href="/plans/{world.plan_id}/same-day"' in lead
    assert "当天变更" in lead and "Same-day changes" in lead
    assert "hv-week-approve" not in lead
    admin = signed_in(world, "admin").get(f"/plans/{world.plan_id}/week").text
    assert "/same-day" not in admin


def test_the_form_lists_his_team_only_with_names_masked(world: World) -> None:
    """Clinicians, visits and residents of lead1's team; today and the time now by default;
    no resident's full name; the read is audited. A nurse, a planner and an admin get 403."""
    client = signed_in(world, "lead1")
    answer = client.get(f"/plans/{world.plan_id}/same-day")
    assert answer.status_code == 200
    page = answer.text
    clinicians = _clinicians_of(page)
    assert clinicians and all(c.startswith("MH03-T1-") for c in clinicians)
    assert f'<option value="{TUESDAY.isoformat()}" selected>' in page
    assert 'value="10:00"' in page  # now, 10:02, to the five minutes
    with Session(_engine(world)) as session:
        team2 = session.scalars(select(ResidentRow).where(ResidentRow.team_id == "MH03-T2"))
        mine = session.scalars(select(ResidentRow).where(ResidentRow.team_id == "MH03-T1"))
        assert not any(r.resident_id in page for r in team2)
        names = [r.name for r in mine if len(r.name) > 1]
    assert names and not any(name in page for name in names)
    world.client.app.state.audit.flush()  # type: ignore[attr-defined]
    with Session(_engine(world)) as session:
        last = session.scalars(select(AuditRow).order_by(AuditRow.audit_id.desc()).limit(1)).one()
    assert (last.username, last.action) == ("lead1", "read same-day form")
    for role in ("nurse1", "planner", "admin"):
        refused = signed_in(world, role).get(f"/plans/{world.plan_id}/same-day")
        assert refused.status_code == 403, role


def test_the_form_needs_its_token_and_names_a_bad_value(world: World) -> None:
    """Without its CSRF token: 403. A visit postponed without a day: the form again (422) with
    the row and field named and what was chosen kept. Another team's visit: 404. No job."""
    client = signed_in(world, "lead1")
    url = f"/plans/{world.plan_id}/same-day"
    page = client.get(url).text
    form = _sick_call_form(page, _clinicians_of(page))
    assert client.post(url, data={**form, "csrf_token": ""}).status_code == 403
    visit = re.findall(
        r'<select name="visit"><option value="">—</option>\s*<option value="([^"]+)"', page
    )[0]
    bad = {**form, "visit": [visit, "", "", "", ""], "visit_action": ["postpone"] + ["cancel"] * 4}
    answer = client.post(url, data=bad)
    assert answer.status_code == 422
    assert "推迟 postponed" in answer.text and "第 1 行 row 1" in answer.text
    assert f'<option value="{visit}" selected>' in answer.text
    with Session(_engine(world)) as session:
        theirs = session.scalar(
            select(PlanStopRow.visit_id).where(
                PlanStopRow.plan_id == world.plan_id, PlanStopRow.clinician_id == "MH03-T2-N"
            )
        )
        jobs = session.scalars(select(PlanJobRow)).all()
    assert jobs == []
    other = signed_in(world, "lead2")
    other_page = other.get(url).text
    foreign = {
        **_sick_call_form(other_page, _clinicians_of(other_page)),
        "visit": [visit, "", "", "", ""],
    }
    assert other.post(url, data=foreign).status_code == 404  # team 1's visit, for team 2
    assert theirs is not None


def test_the_sick_call_from_the_form_to_the_changes_and_the_approval(world: World) -> None:
    """The form queues the re-plan and opens its progress page, which leads to the changes;
    they list what moved with the phones in full for lead1 (masked for an admin, not shown to
    lead2); approving with the page's revision makes it the plan nurses see, and the changes
    stay one link away from the week."""
    client = signed_in(world, "lead1")
    url = f"/plans/{world.plan_id}/same-day"
    page = client.get(url).text
    answer = client.post(url, data=_sick_call_form(page, _clinicians_of(page)))
    assert answer.status_code == 303, answer.text
    progress_url = answer.headers["location"]
    job_id = int(re.findall(r"/plan-jobs/(\d+)/progress", progress_url)[0])
    progress = client.get(progress_url).text
    assert f'data-done-url="/plan-jobs/{job_id}/review"' in progress
    assert client.get(f"/plan-jobs/{job_id}/review").status_code == 303  # not done: progress

    job = run_queued(world, job_id)
    assert job["status"] == "done", job["message"]
    review = client.get(f"/plan-jobs/{job_id}/review")
    assert review.status_code == 200
    text = review.text
    assert "变更清单" in text and "Changes before you approve" in text
    rows = re.findall(r'<tr class="hv-change-(\w+)">', text)
    assert rows and set(rows) <= {"moved_clinician", "moved_day", "shifted", "unscheduled"}
    phones = re.findall(r'<span class="hv-phone">([^<]+)</span>', text)
    assert phones and not any("*" in p for p in phones)
    with Session(_engine(world)) as session:
        known = {r.phone for r in session.scalars(select(ResidentRow)) if r.phone}
        nurse = session.get(ClinicianRow, NURSE)
    assert set(phones) <= known
    assert nurse is not None and f"<div>{nurse.name} 周二 " in text  # from: her name, the weekday

    admin = signed_in(world, "admin").get(f"/plan-jobs/{job_id}/review").text
    masked = re.findall(r'<span class="hv-phone">([^<]+)</span>', admin)
    assert masked and all("****" in p for p in masked)
    assert signed_in(world, "lead2").get(f"/plan-jobs/{job_id}/review").status_code == 404
    assert signed_in(world, "nurse1").get(f"/plan-jobs/{job_id}/review").status_code == 403

    new_id = job["plan_id"]
    stale = client.post(
        f"/plans/{new_id}/approve-form", data={"csrf_token": csrf(text), "revision": "999"}
    )
    assert stale.status_code == 409 and "reload it" in stale.text
    revision = re.findall(r'name="revision" value="(\d+)"', text)[0]
    nurse_before = world.client.get(
        f"/me/routes/{TUESDAY.isoformat()}", headers=world.headers("nurse1")
    ).json()
    assert nurse_before["plan_id"] == world.plan_id
    approved = client.post(
        f"/plans/{new_id}/approve-form", data={"csrf_token": csrf(text), "revision": revision}
    )
    assert approved.status_code == 303 and approved.headers["location"] == f"/plans/{new_id}/week"
    nurse_after = world.client.get(
        f"/me/routes/{TUESDAY.isoformat()}", headers=world.headers("nurse1")
    ).json()
    assert nurse_after["plan_id"] == new_id
    starts = [s["start"] for s in nurse_after["stops"]]
    assert starts and all(start < "10:00" for start in starts)  # nothing after she left
    week = client.get(f"/plans/{new_id}/week").text
    assert f'href="/plans/{new_id}/changes"' in week
    assert client.get(f"/plans/{new_id}/changes").headers["location"] == (
        f"/plan-jobs/{job_id}/review"
    )


def test_the_form_reads_as_the_apis_events() -> None:
    """Each row of the form becomes the event the API takes: absent from the time, for the
    whole day through a later day, running late; a visit postponed, one cancelled; an urgent
    request with its skills (days left blank: the day of the change); blank rows are skipped
    and ids carry no personal data."""
    form = FormData(
        [
            ("date", "2026-12-01"),
            ("at", "10:00"),
            *[("clinician", c) for c in ("A", "B", "C")],
            *[("absent_mode", m) for m in ("from", "day", "")],
            *[("absent_until", u) for u in ("", "2026-12-03", "")],
            *[("late_until", t) for t in ("", "", "11:30")],
            *[("visit", v) for v in ("V1", "", "V2")],
            *[("visit_action", a) for a in ("postpone", "cancel", "cancel")],
            *[("visit_to", d) for d in ("2026-12-04", "", "")],
            ("req_resident_0", "R9"),
            ("req_service_0", "catheter_care"),
            ("req_start_0", "10:30"),
            ("req_end_0", "16:00"),
            ("req_duration_0", "30"),
            ("req_skills_0", "catheter"),
            ("req_resident_1", ""),
        ]
    )
    body = replan_pages.body_of(form, 7)
    assert body["absent"] == [
        {"clinician_id": "A", "whole_day": False, "until": None},
        {"clinician_id": "B", "whole_day": True, "until": "2026-12-03"},
    ]
    assert body["late"] == [{"clinician_id": "C", "free_at": "11:30"}]
    assert body["postpone"] == [{"visit_id": "V1", "to": "2026-12-04"}]
    assert body["cancel"] == ["V2"]
    (request,) = body["requests"]
    assert request["request_id"] == "sd-7-20261201100200-1"  # the plan and the moment only
    assert (request["earliest_date"], request["latest_date"]) == ("2026-12-01", "2026-12-01")
    assert (request["duration_min"], request["skills"]) == (30, ["catheter"])
    ReplanIn.model_validate(body)  # what the API takes


def test_an_impossible_request_window_comes_back_in_words(world: World) -> None:
    """An urgent request whose window ends before it starts: the form again (422) saying so,
    with the resident still chosen; no job."""
    client = signed_in(world, "lead1")
    week = client.get("/week").headers["location"]  # the newest plan of the week
    url = week.removesuffix("/week") + "/same-day"
    page = client.get(url).text
    resident = re.findall(
        r'<select name="req_resident_0"><option value="">—</option>\s*<option value="([^"]+)"',
        page,
    )[0]
    form = {
        **_sick_call_form(page, _clinicians_of(page)),
        "absent_mode": [""] * len(_clinicians_of(page)),
        "req_resident_0": resident,
        "req_service_0": "catheter_care",
        "req_start_0": "16:00",
        "req_end_0": "10:00",
        "req_duration_0": "30",
    }
    with Session(_engine(world)) as session:
        before = len(session.scalars(select(PlanJobRow)).all())
    answer = client.post(url, data=form)
    assert answer.status_code == 422
    assert "hv-replan-error" in answer.text
    assert "16:00–10:00 ends before it starts" in answer.text and "结束不晚于开始" in answer.text
    assert f'<option value="{resident}" selected>' in answer.text
    with Session(_engine(world)) as session:
        assert len(session.scalars(select(PlanJobRow)).all()) == before
