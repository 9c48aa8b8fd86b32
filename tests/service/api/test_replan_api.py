"""``POST /plans/{id}/replan``: a team leader's sick call on the approved plan, as a new draft."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.session import make_engine
from service.db.tables import PlanStopRow, ResidentRow
from tests.service.api.conftest import World

NURSE = "MH03-T1-N"


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


def test_the_sick_call_makes_a_new_draft_the_nurses_do_not_see_yet(world: World) -> None:
    """The team leader's re-plan answers in seconds with a new draft version and the changes
    (his residents' phones in full); the approved plan stays what nurses see; the absent nurse
    has nothing after 10:00 in the draft."""
    started = time.monotonic()
    response = world.client.post(
        f"/plans/{world.plan_id}/replan", json=_sick_call(world), headers=world.headers("lead1")
    )
    took = time.monotonic() - started
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["plan"]["status"] == "draft" and answer["plan"]["version"] == 2
    assert answer["base_plan_id"] == world.plan_id
    assert answer["summary"]["moved_without_having_to"] == 0
    changes = answer["changes"]
    assert changes and {"from", "to", "change", "phone"} <= set(changes[0])
    engine = make_engine(world.settings.database_url)
    try:
        with Session(engine) as session:
            new_id = answer["plan"]["plan_id"]
            late = session.scalars(
                select(PlanStopRow).where(
                    PlanStopRow.plan_id == new_id,
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
    mine = world.client.get(
        f"/me/routes/{world.nurse1_day.isoformat()}", headers=world.headers("nurse1")
    )
    assert mine.status_code == 200
    assert mine.json()["plan_id"] == world.plan_id  # still the approved version
    print(f"replan through the API: {took:.2f} s")


def test_an_admin_sees_the_phones_masked(world: World) -> None:
    """Re-planning the draft again (saved over it), an admin reads the changes with masked
    phone numbers: the full numbers are for the team leader who calls."""
    versions = world.client.get("/plans", headers=world.headers("admin")).json()
    draft = next(v for v in versions if v["status"] == "draft")
    response = world.client.post(
        f"/plans/{draft['plan_id']}/replan",
        json={**_sick_call(world), "absent": [], "cancel": []},
        headers=world.headers("admin"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["plan"]["plan_id"] == draft["plan_id"]
    phones = [c["phone"] for c in response.json()["changes"] if c["phone"]]
    assert all("****" in p for p in phones)
