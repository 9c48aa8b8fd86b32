"""``POST /plans/{id}/replan``: a team leader's sick call on the approved plan, as a job whose
result is a new draft; ``GET /plan-jobs/{id}/changes``: what changed, for him to tell.

The world's app runs no dispatcher: a queued job is run here by the worker's own function
(:func:`service.worker.run_job`, in this process), as the dispatcher would in a spawned one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.db.session import make_engine
from service.db.tables import AuditRow, JobStatus, PlanJobRow, PlanStopRow, ResidentRow
from service.worker import run_job
from tests.service.api.conftest import World

NURSE = "MH03-T1-N"


def _engine(world: World) -> Any:
    return world.client.app.state.engine  # type: ignore[attr-defined]


def _jobs(world: World) -> int:
    with Session(_engine(world)) as session:
        return int(session.scalar(select(func.count()).select_from(PlanJobRow)) or 0)


def run_queued(world: World, job_id: int) -> dict[str, Any]:
    """Claim the queued job and run its body as a worker process would; its view after."""
    with Session(_engine(world)) as session:
        session.execute(
            update(PlanJobRow)
            .where(PlanJobRow.job_id == job_id, PlanJobRow.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value)
        )
        session.commit()
    run_job(world.settings, job_id, threading.Event())
    view: dict[str, Any] = world.client.get(
        f"/plan-jobs/{job_id}", headers=world.headers("admin")
    ).json()
    return view


def _sick_call(world: World) -> dict[str, object]:
    day = world.nurse1_day.isoformat()
    return {"date": day, "at": "10:00", "absent": [{"clinician_id": NURSE}], "time_limit_s": 2}


def test_only_the_teams_leader_replans_its_events(world: World) -> None:
    """Another team's leader gets 404 for the nurse (as for any id out of sight); a planner or
    a nurse may not re-plan at all (403); nothing is saved."""
    url = f"/plans/{world.plan_id}/replan"
    other = world.client.post(url, json=_sick_call(world), headers=world.headers("lead2"))
    assert other.status_code == 404
    for role in ("planner", "nurse1"):
        response = world.client.post(url, json=_sick_call(world), headers=world.headers(role))
        assert response.status_code == 403
    versions = world.client.get("/plans", headers=world.headers("admin")).json()
    assert [v["plan_id"] for v in versions] == [world.plan_id]
    assert _jobs(world) == 0


def test_a_leader_cannot_add_a_request_for_another_teams_resident(world: World) -> None:
    """An urgent request for team 2's resident from team 1's leader: 404, nothing saved."""
    body = {
        **_sick_call(world),
        "absent": [],
        "requests": [
            {
                "request_id": "X1",
                "resident_id": world.team2_resident,
                "service": "catheter_care",
                "earliest_date": world.nurse1_day.isoformat(),
                "latest_date": world.nurse1_day.isoformat(),
                "window_start": "10:30",
                "window_end": "16:00",
                "duration_min": 30,
            }
        ],
    }
    response = world.client.post(
        f"/plans/{world.plan_id}/replan", json=body, headers=world.headers("lead1")
    )
    assert response.status_code == 404
    assert world.team2_resident in response.json()["detail"]


def test_an_unknown_late_clinician_is_a_404_not_a_crash(world: World) -> None:
    """An admin naming a clinician nobody has: 404 naming the id (as for any id), no trace."""
    body = {
        **_sick_call(world),
        "absent": [],
        "late": [{"clinician_id": "NOBODY", "free_at": "11:00"}],
    }
    response = world.client.post(
        f"/plans/{world.plan_id}/replan", json=body, headers=world.headers("admin")
    )
    assert response.status_code == 404
    assert "NOBODY" in response.json()["detail"]


def test_a_bad_event_is_refused_with_the_field_and_the_reason(world: World) -> None:
    """A day outside the plan's week is a 422 naming ``body.date``; an id with a hidden
    character is refused too."""
    body = {**_sick_call(world), "date": "2027-01-05"}
    response = world.client.post(
        f"/plans/{world.plan_id}/replan", json=body, headers=world.headers("lead1")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.date"
    hidden = {**_sick_call(world), "cancel": ["visit\u202eevil"]}
    response = world.client.post(
        f"/plans/{world.plan_id}/replan", json=hidden, headers=world.headers("lead1")
    )
    assert response.status_code == 422  # a bidi override in an id, as everywhere in the API


def test_an_event_that_cannot_apply_is_refused_before_any_job(world: World) -> None:
    """Cancelling a visit already begun before the change, or naming no change at all: a 422
    at once, in words, and no job is queued (the form shows it where the user typed)."""
    with Session(_engine(world)) as session:
        begun = session.scalars(
            select(PlanStopRow.visit_id)
            .where(
                PlanStopRow.plan_id == world.plan_id,
                PlanStopRow.clinician_id == NURSE,
                PlanStopRow.visit_date == world.nurse1_day,
            )
            .order_by(PlanStopRow.start_min)
        ).first()
    before = _jobs(world)
    url = f"/plans/{world.plan_id}/replan"
    body = {**_sick_call(world), "absent": [], "at": "23:00", "cancel": [begun]}
    response = world.client.post(url, json=body, headers=world.headers("lead1"))
    assert response.status_code == 422
    assert "already done or started" in response.json()["errors"][0]["reason"]
    empty = {"date": world.nurse1_day.isoformat(), "at": "10:00"}
    response = world.client.post(url, json=empty, headers=world.headers("lead1"))
    assert response.status_code == 422
    assert "at least one change" in response.json()["errors"][0]["reason"]
    assert _jobs(world) == before


def test_the_sick_call_is_a_job_whose_draft_the_nurses_do_not_see_yet(world: World) -> None:
    """The team leader's re-plan answers at once with a job (202, its Location); a second one
    for the same week while it waits is refused (409). Run, the job stores a new draft version
    with the figures (no resident named in them); the changes, read apart, carry his residents'
    phones in full and the read is audited; the absent nurse has nothing after 10:00 in the
    draft; nurses still see the approved plan."""
    url = f"/plans/{world.plan_id}/replan"
    response = world.client.post(url, json=_sick_call(world), headers=world.headers("lead1"))
    assert response.status_code == 202, response.text
    queued = response.json()
    assert response.headers["Location"] == f"/plan-jobs/{queued['job_id']}"
    assert (queued["kind"], queued["status"], queued["base_plan_id"]) == (
        "replan",
        "queued",
        world.plan_id,
    )
    again = world.client.post(url, json=_sick_call(world), headers=world.headers("lead1"))
    assert again.status_code == 409 and str(queued["job_id"]) in again.json()["detail"]
    early = world.client.get(
        f"/plan-jobs/{queued['job_id']}/changes", headers=world.headers("lead1")
    )
    assert early.status_code == 409  # nothing to read before the job is done

    started = time.monotonic()
    job = run_queued(world, queued["job_id"])
    took = time.monotonic() - started
    assert job["status"] == "done", job["message"]
    assert "changes" not in job["kpis"]
    assert isinstance(job["kpis"]["replan"]["residents_to_tell"], int)
    plan = world.client.get(f"/plans/{job['plan_id']}", headers=world.headers("lead1")).json()
    assert (plan["status"], plan["version"]) == ("draft", 2)

    read = world.client.get(f"/plan-jobs/{job['job_id']}/changes", headers=world.headers("lead1"))
    assert read.status_code == 200, read.text
    answer = read.json()
    assert answer["base_plan_id"] == world.plan_id
    assert answer["plan"]["plan_id"] == job["plan_id"] and not answer["plan_changed_since"]
    assert answer["summary"]["moved_without_having_to"] == 0
    changes = answer["changes"]
    assert changes and {"from", "to", "change", "phone", "why"} <= set(changes[0])
    engine = make_engine(world.settings.database_url)
    try:
        with Session(engine) as session:
            late = session.scalars(
                select(PlanStopRow).where(
                    PlanStopRow.plan_id == job["plan_id"],
                    PlanStopRow.clinician_id == NURSE,
                    PlanStopRow.visit_date == world.nurse1_day,
                    PlanStopRow.start_min >= 600,
                )
            ).all()
            assert late == []
            phones = {
                r.resident_id: r.phone
                for r in session.scalars(
                    select(ResidentRow).where(
                        ResidentRow.resident_id.in_([c["resident_id"] for c in changes])
                    )
                )
            }
    finally:
        engine.dispose()
    told = [c for c in changes if c["resident_id"] in phones and phones[c["resident_id"]]]
    assert told and all(c["phone"] == phones[c["resident_id"]] for c in told)
    world.client.app.state.audit.flush()  # type: ignore[attr-defined]
    with Session(_engine(world)) as session:
        last = session.scalars(select(AuditRow).order_by(AuditRow.audit_id.desc()).limit(1)).one()
    assert (last.username, last.action) == ("lead1", "read re-plan changes")
    assert set(last.resident_ids.split(";")) == {c["resident_id"] for c in told} | {
        c["resident_id"] for c in changes if c["resident_id"] and c not in told
    }
    mine = world.client.get(
        f"/me/routes/{world.nurse1_day.isoformat()}", headers=world.headers("nurse1")
    )
    assert mine.status_code == 200
    assert mine.json()["plan_id"] == world.plan_id  # still the approved version
    print(f"replan job through the API (worker body in process): {took:.2f} s")


def test_the_changes_are_read_only_by_whom_they_concern(world: World) -> None:
    """Another team's leader and a planner: 404 (as for any job out of sight); a nurse: 403."""
    job_id = _done_replan_job(world)
    url = f"/plan-jobs/{job_id}/changes"
    assert world.client.get(url, headers=world.headers("lead2")).status_code == 404
    assert world.client.get(url, headers=world.headers("planner")).status_code == 404
    assert world.client.get(url, headers=world.headers("nurse1")).status_code == 403


def _done_replan_job(world: World) -> int:
    with Session(_engine(world)) as session:
        job_id = session.scalar(
            select(PlanJobRow.job_id)
            .where(PlanJobRow.status == JobStatus.DONE.value, PlanJobRow.requested_by == "lead1")
            .order_by(PlanJobRow.job_id.desc())
        )
    assert job_id is not None
    return int(job_id)


def test_an_admin_sees_the_phones_masked(world: World) -> None:
    """Re-planning the draft again (saved over it), an admin reads the changes with masked
    phone numbers: the full numbers are for the team leader who calls."""
    versions = world.client.get("/plans", headers=world.headers("admin")).json()
    draft = next(v for v in versions if v["status"] == "draft")
    response = world.client.post(
        f"/plans/{draft['plan_id']}/replan",
        json={**_sick_call(world), "absent": [{"clinician_id": "MH03-T1-D"}], "cancel": []},
        headers=world.headers("admin"),
    )
    assert response.status_code == 202, response.text
    job = run_queued(world, response.json()["job_id"])
    assert job["status"] == "done", job["message"]
    assert job["plan_id"] == draft["plan_id"]
    read = world.client.get(f"/plan-jobs/{job['job_id']}/changes", headers=world.headers("admin"))
    phones = [c["phone"] for c in read.json()["changes"] if c["phone"]]
    assert phones and all("****" in p for p in phones)
    # The draft re-planned again: the first job's changes say they are no longer the draft's.
    first = world.client.get(
        f"/plan-jobs/{_done_replan_job(world)}/changes", headers=world.headers("lead1")
    )
    assert first.json()["plan_changed_since"] is True


def test_a_draft_changed_after_the_request_fails_the_job_and_saves_nothing(
    world: World,
) -> None:
    """The draft is saved over between the request and the run: the job fails saying so, and
    the draft stays as the other save left it."""
    versions = world.client.get("/plans", headers=world.headers("admin")).json()
    draft = next(v for v in versions if v["status"] == "draft")
    response = world.client.post(
        f"/plans/{draft['plan_id']}/replan",
        json={
            **_sick_call(world),
            "absent": [],
            "late": [{"clinician_id": NURSE, "free_at": "11:00"}],
        },
        headers=world.headers("lead1"),
    )
    assert response.status_code == 202, response.text
    with Session(_engine(world)) as session:
        from service.db.tables import PlanRow

        row = session.get(PlanRow, draft["plan_id"])
        assert row is not None
        row.revision += 1
        session.commit()
        revision = row.revision
    job = run_queued(world, response.json()["job_id"])
    assert job["status"] == "failed"
    assert "changed since the re-plan was asked for" in job["message"]
    after = world.client.get(f"/plans/{draft['plan_id']}", headers=world.headers("admin")).json()
    assert after["revision"] == revision
