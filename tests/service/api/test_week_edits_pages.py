"""The team leader adjusts his week in the browser (HTTP level): a visit's details, move it and
see the evaluator's verdict, lock, take out, re-plan around the changes as a job, the versions
and their comparison (always old to new), approval with the optimistic lock; and the refusals:
another role, another team, an approved plan, a stale revision, a missing CSRF token.

The module's world is its own (module scope): the tests run in file order on one new draft.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.pins import REMOVED_REASON
from service.api.deps import TOKEN_COOKIE
from service.db.tables import (
    ClinicianRow,
    PlanJobRow,
    PlanPinRow,
    PlanRow,
    PlanStopRow,
    PlanUnscheduledRow,
    ResidentRow,
)
from tests.service.api.conftest import WEEK, World, csrf, signed_in

pytestmark = pytest.mark.usefixtures("on_the_plans_week")


def _token_of(world: World, client: TestClient) -> str:
    """The CSRF token of a client's session (as a page would carry it)."""
    cookie = client.cookies[TOKEN_COOKIE]
    key = world.client.app.state.signing_key
    return hmac.new(key.encode(), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def _session(world: World) -> Session:
    return Session(world.client.app.state.engine)


def _plan(world: World, plan_id: int) -> PlanRow:
    with _session(world) as session:
        row = session.get(PlanRow, plan_id)
        assert row is not None
        session.expunge(row)
        return row


def _visit_url(plan_id: int, visit_id: str) -> str:
    return f"/plans/{plan_id}/visits/{quote(visit_id, safe='')}"


@pytest.fixture(scope="module")
def draft(world: World) -> Iterator[int]:
    """A new draft (v2) made from the approved plan on its week page."""
    lead = signed_in(world, "lead1")
    week = lead.get(f"/plans/{world.plan_id}/week").text
    assert "生成新草稿" in week and "Make a new draft" in week
    made = lead.post(f"/plans/{world.plan_id}/new-draft", data={"csrf_token": csrf(week)})
    assert made.status_code == 303, made.text
    found = re.fullmatch(r"/plans/(\d+)/week", made.headers["location"])
    assert found
    yield int(found.group(1))


def _single_visit(world: World, plan_id: int) -> PlanStopRow:
    """A one-clinician visit of team 1 on nurse1's route (a joint visit moves as a whole)."""
    with _session(world) as session:
        stops = session.scalars(
            select(PlanStopRow).where(
                PlanStopRow.plan_id == plan_id, PlanStopRow.clinician_id == "MH03-T1-N"
            )
        ).all()
        counts: dict[str, int] = {}
        for s in session.scalars(select(PlanStopRow).where(PlanStopRow.plan_id == plan_id)):
            counts[s.visit_id] = counts.get(s.visit_id, 0) + 1
        single = [s for s in stops if counts[s.visit_id] == 1 and s.resident_id]
        assert single
        session.expunge(single[0])
        return single[0]


def test_a_visit_opens_its_details_with_why_it_is_due_and_who_else_could_do_it(
    world: World, draft: int
) -> None:
    """From the week's timeline a visit opens: the resident in full (a team leader's sight),
    the rule with its dates, its windows, and who of the team has room on which day."""
    lead = signed_in(world, "lead1")
    week = lead.get(f"/plans/{draft}/week").text
    links = re.findall(r'href="(/plans/\d+/visits/[^"]+)"', week)
    assert links, "no visit on the timeline opens its details"
    stop = _single_visit(world, draft)
    page = lead.get(_visit_url(draft, stop.visit_id))
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    with _session(world) as session:
        resident = session.get(ResidentRow, stop.resident_id)
        assert resident is not None
        assert resident.name in text  # a team leader reads the full record
        assert resident.address in text
    assert stop.rule_zh and stop.rule_zh in text and stop.rule_en in text
    assert "为何应访" in text and "Why it is due" in text
    assert "可上门时段" in text and re.search(r"\d\d:\d\d–\d\d:\d\d", text)
    assert "谁还能做" in text and "有空" in text and "room" in text
    assert "MH03-T1-N" in text  # where it is now


def test_an_approved_plan_does_not_change(world: World, draft: int) -> None:
    """On the approved version the page offers no move; a posted move is refused in words."""
    lead = signed_in(world, "lead1")
    stop = _single_visit(world, world.plan_id)
    page = lead.get(_visit_url(world.plan_id, stop.visit_id)).text
    assert 'id="hv-move"' not in page and "只有草稿可以修改" in page
    approved = _plan(world, world.plan_id)
    answer = lead.post(
        _visit_url(world.plan_id, stop.visit_id) + "/move",
        data={
            "csrf_token": csrf(page),
            "clinician_id": stop.clinician_id,
            "day": stop.visit_date.isoformat(),
            "revision": str(approved.revision),
            "action": "apply",
        },
    )
    assert answer.status_code == 409
    assert "只有草稿可以修改" in answer.text and "only drafts change" in answer.text


def test_check_shows_the_verdict_and_saves_nothing(world: World, draft: int) -> None:
    """ "Check first": back in place is fine; at 06:00 it breaks the window rule, said in
    Chinese with the evaluator's English beside; the draft is unchanged."""
    lead = signed_in(world, "lead1")
    stop = _single_visit(world, draft)
    url = _visit_url(draft, stop.visit_id)
    page = lead.get(url).text
    before = _plan(world, draft)
    form = {
        "csrf_token": csrf(page),
        "clinician_id": stop.clinician_id,
        "day": stop.visit_date.isoformat(),
        "revision": str(before.revision),
        "action": "check",
    }
    fine = lead.post(url + "/move", data=form)
    assert fine.status_code == 200, fine.text
    assert "不违反任何规则" in fine.text and "Fine: it breaks no rule" in fine.text
    early = lead.post(url + "/move", data=form | {"start": "06:00"})
    assert early.status_code == 200
    verdict = html.unescape(early.text.split('id="hv-verdict"')[1].split("</section>")[0])
    assert "不在可上门时段" in verdict
    assert "06:00" in verdict and "outside" in verdict  # the evaluator's own message
    assert _plan(world, draft).revision == before.revision  # nothing saved
    bad = lead.post(url + "/move", data=form | {"start": "25:99"})
    assert bad.status_code == 422 and "HH:MM" in bad.text
    # A visit dropped on the timeline asks the same by GET: the verdict, nothing saved.
    dropped = lead.get(
        url, params={"to_clinician": stop.clinician_id, "to_day": form["day"], "to_start": "06:00"}
    )
    assert dropped.status_code == 200 and "不在可上门时段" in dropped.text
    assert 'type="time" value="06:00"' in dropped.text
    wrong = lead.get(url, params={"to_clinician": stop.clinician_id, "to_day": "someday"})
    assert wrong.status_code == 422 and "YYYY-MM-DD" in wrong.text
    assert _plan(world, draft).revision == before.revision


def test_a_move_is_saved_to_the_draft_and_pinned(world: World, draft: int) -> None:
    """ "Move" to another day with room: the stop is there in the stored draft, the revision
    moved on, a pin keeps it for the next re-plan, and the verdict is shown."""
    lead = signed_in(world, "lead1")
    stop = _single_visit(world, draft)
    url = _visit_url(draft, stop.visit_id)
    page = html.unescape(lead.get(url).text)
    # A day where the page says she has room (the evaluator's search), other than today's.
    name = _name(world, "MH03-T1-N")
    row = next(r for r in page.split('<th scope="row">')[1:] if r.startswith(name))
    marks = re.findall(r'<td class="(hv-room|hv-noroom)">', row.split("</tr>")[0])
    assert len(marks) == 7
    target_day = next(
        (
            WEEK + dt.timedelta(days=i)
            for i, mark in enumerate(marks)
            if mark == "hv-room" and WEEK + dt.timedelta(days=i) != stop.visit_date
        ),
        None,
    )
    assert target_day is not None, "nurse1 has room on no other day"
    before = _plan(world, draft)
    moved = lead.post(
        url + "/move",
        data={
            "csrf_token": csrf(page),
            "clinician_id": "MH03-T1-N",
            "day": target_day.isoformat(),
            "revision": str(before.revision),
            "action": "apply",
        },
    )
    assert moved.status_code == 200, moved.text
    assert "已移动并固定" in moved.text and "不违反任何规则" in moved.text
    with _session(world) as session:
        now = session.scalars(
            select(PlanStopRow).where(
                PlanStopRow.plan_id == draft, PlanStopRow.visit_id == stop.visit_id
            )
        ).all()
        assert [(s.clinician_id, s.visit_date) for s in now] == [("MH03-T1-N", target_day)]
        pin = session.scalar(
            select(PlanPinRow).where(
                PlanPinRow.plan_id == draft, PlanPinRow.visit_id == stop.visit_id
            )
        )
        assert pin is not None and (pin.kind, pin.visit_date) == ("pin", target_day)
    assert _plan(world, draft).revision > before.revision
    # The week page offers to re-plan around it (one pin).
    assert "Re-plan around my changes</span> (1)" in lead.get(f"/plans/{draft}/week").text


def _name(world: World, clinician_id: str) -> str:
    with _session(world) as session:
        row = session.get(ClinicianRow, clinician_id)
        assert row is not None
        return row.name


def test_a_stale_revision_is_refused_in_words(world: World, draft: int) -> None:
    """A move or an approval sent from a page loaded before the last save: 409 with what
    happened and what to do, in Chinese and English; nothing changes."""
    lead = signed_in(world, "lead1")
    stop = _single_visit(world, draft)
    url = _visit_url(draft, stop.visit_id)
    page = lead.get(url).text
    plan = _plan(world, draft)
    stale = str(plan.revision - 1)
    answer = lead.post(
        url + "/move",
        data={
            "csrf_token": csrf(page),
            "clinician_id": stop.clinician_id,
            "day": stop.visit_date.isoformat(),
            "revision": stale,
            "action": "apply",
        },
    )
    assert answer.status_code == 409
    assert "已被修改" in answer.text and "changed since you loaded" in answer.text
    publish = lead.post(
        f"/plans/{draft}/approve-form", data={"csrf_token": csrf(page), "revision": stale}
    )
    assert publish.status_code == 409
    assert "已被修改" in publish.text and "reload it" in publish.text
    assert _plan(world, draft).status == "draft"


def test_other_roles_teams_and_forms_without_token_are_refused(world: World, draft: int) -> None:
    """A nurse and a planner cannot edit (403); the other team's leader does not see the visit
    (404); a form without its token is 403."""
    stop = _single_visit(world, draft)
    url = _visit_url(draft, stop.visit_id)
    plan = _plan(world, draft)
    form = {
        "clinician_id": "MH03-T1-N",
        "day": stop.visit_date.isoformat(),
        "revision": str(plan.revision),
        "action": "apply",
    }
    for name in ("nurse1", "planner"):
        client = signed_in(world, name)
        assert client.get(url).status_code == 403
        token = _token_of(world, client)  # her session's own token: the role is refused
        assert client.post(url + "/move", data=form | {"csrf_token": token}).status_code == 403
        publish = client.post(
            f"/plans/{draft}/approve-form", data={"csrf_token": token, "revision": form["revision"]}
        )
        assert publish.status_code == 403
    other = signed_in(world, "lead2")
    assert other.get(url).status_code == 404
    token = csrf(other.get("/plan-week").text)
    assert other.post(url + "/move", data=form | {"csrf_token": token}).status_code == 404
    lead = signed_in(world, "lead1")
    assert lead.post(url + "/move", data=form).status_code == 403  # no CSRF token
    assert lead.post(f"/plans/{draft}/approve-form", data={"revision": "1"}).status_code == 403
    assert _plan(world, draft).revision == plan.revision


def test_lock_take_out_and_unpin(world: World, draft: int) -> None:
    """Lock keeps a visit where it is; "take it out" lists it as left out by the team leader;
    unpin frees it again."""
    lead = signed_in(world, "lead1")
    with _session(world) as session:
        stops = session.scalars(
            select(PlanStopRow).where(
                PlanStopRow.plan_id == draft, PlanStopRow.clinician_id == "MH03-T1-N"
            )
        ).all()
        pinned = {p.visit_id for p in session.scalars(select(PlanPinRow))}
        every = session.scalars(select(PlanStopRow.visit_id).where(PlanStopRow.plan_id == draft))
        joint = {v for v in every.all() if v in {s.visit_id for s in stops}}
        joint = {
            v
            for v in joint
            if session.scalar(
                select(func.count()).where(PlanStopRow.plan_id == draft, PlanStopRow.visit_id == v)
            )
            != 1
        }
    free = [s for s in stops if s.visit_id not in pinned | joint]
    locked, removed = free[0], free[-1]
    url = _visit_url(draft, locked.visit_id)
    token = csrf(lead.get(url).text)
    answer = lead.post(url + "/lock", data={"csrf_token": token})
    assert answer.status_code == 200 and "已锁定" in answer.text
    url2 = _visit_url(draft, removed.visit_id)
    revision = _plan(world, draft).revision
    answer = lead.post(url2 + "/remove", data={"csrf_token": token, "revision": str(revision)})
    assert answer.status_code == 200 and "已移出本周" in answer.text
    with _session(world) as session:
        pins = {
            p.visit_id: (p.kind, p.clinician_id, p.visit_date, p.start_min)
            for p in session.scalars(select(PlanPinRow).where(PlanPinRow.plan_id == draft))
        }
        left = session.scalar(
            select(PlanUnscheduledRow).where(
                PlanUnscheduledRow.plan_id == draft,
                PlanUnscheduledRow.visit_id == removed.visit_id,
            )
        )
    assert pins[locked.visit_id] == ("lock", "MH03-T1-N", locked.visit_date, locked.start_min)
    assert pins[removed.visit_id][0] == "remove"
    assert left is not None and left.reason == REMOVED_REASON
    answer = lead.post(url + "/unpin", data={"csrf_token": token})
    assert answer.status_code == 200
    with _session(world) as session:
        assert (
            session.scalar(
                select(PlanPinRow).where(
                    PlanPinRow.plan_id == draft, PlanPinRow.visit_id == locked.visit_id
                )
            )
            is None
        )


def test_versions_compare_from_old_to_new_in_either_order(world: World, draft: int) -> None:
    """The versions are listed; v1 against v2 and v2 against v1 give the same changes, the
    moved visit as moved and the taken-out one as dropped (never "added"); the map does too."""
    lead = signed_in(world, "lead1")
    listing = lead.get(f"/plans/{draft}/versions").text
    assert "v1" in listing and "v2" in listing and "草稿" in listing and "已审核" in listing
    pages = [
        lead.get(f"/plans/{draft}/compare", params={"other": world.plan_id}).text,
        lead.get(f"/plans/{world.plan_id}/compare", params={"other": draft}).text,
    ]
    kinds = [re.findall(r'data-kind="(\w+)" data-visit="([^"]+)"', p) for p in pages]
    assert kinds[0] == kinds[1] and kinds[0]
    found = {k for k, _ in kinds[0]}
    assert {"moved", "dropped"} <= found and "added" not in found, kinds[0]
    assert all("v1 → v2" in html.unescape(p) for p in pages)
    maps = [
        lead.get(f"/plans/{draft}/maps/compare/{world.plan_id}").text,
        lead.get(f"/plans/{world.plan_id}/maps/compare/{draft}").text,
    ]
    for page in maps:
        assert page.index("v1 (approved)") < page.index("v2 (draft)")


def test_replan_around_the_changes_runs_as_a_job(world: World, draft: int) -> None:
    """ "Re-plan around my changes" queues a plan job on the draft (its pins) and opens its
    progress page."""
    lead = signed_in(world, "lead1")
    token = csrf(lead.get(f"/plans/{draft}/week").text)
    answer = lead.post(
        f"/plans/{draft}/replan-around", data={"csrf_token": token, "time_limit_s": "5"}
    )
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/plan-jobs/(\d+)/progress", answer.headers["location"])
    assert found
    job_id = int(found.group(1))
    assert lead.get(answer.headers["location"]).status_code == 200
    with _session(world) as session:
        job = session.get(PlanJobRow, job_id)
        assert job is not None
        assert (job.base_plan_id, job.team_id) == (draft, "MH03-T1")
    # The world runs no jobs: cancel it, so the week is free again.
    cancel = lead.post(f"/plan-jobs/{job_id}/cancel", data={"csrf_token": token})
    assert cancel.status_code == 303


def test_approval_publishes_the_draft_to_the_nurses(world: World, draft: int) -> None:
    """Approve from the week page with its revision: the draft is approved, v1 superseded, and
    the nurse's route of the day comes from the new version."""
    lead = signed_in(world, "lead1")
    week = lead.get(f"/plans/{draft}/week").text
    revision = re.search(r'name="revision" value="(\d+)"', week)
    assert revision
    answer = lead.post(
        f"/plans/{draft}/approve-form",
        data={"csrf_token": csrf(week), "revision": revision.group(1)},
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/plans/{draft}/week"
    assert _plan(world, draft).status == "approved"
    assert _plan(world, world.plan_id).status == "superseded"
    route = world.client.get(
        f"/me/routes/{world.nurse1_day.isoformat()}", headers=world.headers("nurse1")
    )
    assert route.status_code == 200 and route.json()["plan_id"] == draft
