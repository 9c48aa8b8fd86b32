"""Every role against every endpoint: what each may do, and that the rest is refused.

A role that may never call an endpoint gets 403; an object out of the user's sight (another
nurse's route, another team's resident), whatever id is guessed, gets 404; no token gets 401.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from maps.base import mask_name
from service.db.tables import AuditRow, ResidentRow
from tests.service.api.conftest import World

ROLES = ("anonymous", "admin", "lead1", "lead2", "nurse1", "nurse2", "planner")


def _row(expected: dict[str, int], default: int) -> dict[str, int]:
    return {role: expected.get(role, default) for role in ROLES}


# (method, path, json body, expected status by role; the rest get the default of the row)
CASES: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("GET", "/me", None, _row({"anonymous": 401}, 200)),
    ("GET", "/centres", None, _row({"anonymous": 401}, 200)),
    ("GET", "/centres/MH03", None, _row({"anonymous": 401}, 200)),
    ("GET", "/teams/MH03-T1", None, _row({"anonymous": 401}, 200)),
    (
        "GET",
        "/clinicians/MH03-T1-N",
        None,
        _row({"anonymous": 401, "lead2": 404, "nurse2": 404}, 200),
    ),
    ("GET", "/residents", None, _row({"anonymous": 401}, 200)),
    (
        "GET",
        "/residents/{nurse1_resident}",
        None,
        _row({"anonymous": 401, "lead2": 404, "nurse2": 404, "planner": 404}, 200),
    ),
    (
        "GET",
        "/residents/{team1_resident}",
        None,
        _row({"anonymous": 401, "lead2": 404, "nurse1": 404, "nurse2": 404, "planner": 404}, 200),
    ),
    (
        "GET",
        "/residents/{team2_resident}",
        None,
        _row({"anonymous": 401, "admin": 200, "lead2": 200}, 404),
    ),
    ("GET", "/plans", None, _row({"anonymous": 401, "nurse1": 403, "nurse2": 403}, 200)),
    ("GET", "/plans/{plan_id}", None, _row({"anonymous": 401, "nurse1": 403, "nurse2": 403}, 200)),
    (
        "GET",
        "/plans/{plan_id}/routes/MH03-T1-N/{nurse1_day}",
        None,
        _row({"admin": 200, "lead1": 200, "nurse1": 200, "anonymous": 401}, 404),
    ),
    (
        "GET",
        "/plans/{plan_id}/maps/day/MH03-T1-N/{nurse1_day}",
        None,
        _row({"admin": 200, "lead1": 200, "nurse1": 200, "anonymous": 401, "planner": 403}, 404),
    ),
    (
        "GET",
        "/plans/{plan_id}/maps/team/MH03-T1",
        None,
        _row({"anonymous": 401, "lead2": 404, "nurse1": 403, "nurse2": 403, "planner": 403}, 200),
    ),
    (
        "GET",
        "/plans/{plan_id}/maps/compare/{plan_id}",
        None,
        _row({"anonymous": 401, "nurse1": 403, "nurse2": 403, "planner": 403}, 200),
    ),
    (
        "GET",
        "/me/routes/{nurse1_day}",
        None,
        _row({"anonymous": 401, "nurse1": 200, "nurse2": 200}, 403),
    ),
    (
        "GET",
        "/me/routes/{nurse1_day}?format=html",
        None,
        _row({"anonymous": 401, "nurse1": 200, "nurse2": 200}, 403),
    ),
    (
        "GET",
        "/plans/{plan_id}/export",
        None,
        _row({"anonymous": 401, "admin": 200, "lead1": 200, "lead2": 200}, 403),
    ),
    (
        "GET",
        "/plans/{plan_id}/export?format=xlsx",
        None,
        _row({"anonymous": 401, "admin": 200, "lead1": 200, "lead2": 200}, 403),
    ),
    (
        "GET",
        "/plans/{plan_id}/pins",
        None,
        _row({"anonymous": 401, "admin": 200, "lead1": 200, "lead2": 200}, 403),
    ),
    (
        "GET",
        "/reports/coverage?centre_id=MH03",
        None,
        _row({"anonymous": 401, "nurse1": 403, "nurse2": 403}, 200),
    ),
    ("GET", "/scenarios", None, _row({"anonymous": 401, "admin": 200, "planner": 200}, 403)),
    (
        "GET",
        "/records?resident_id={nurse1_resident}",
        None,
        _row({"anonymous": 401, "admin": 200, "lead1": 200, "nurse1": 200, "planner": 403}, 404),
    ),
    (
        "POST",
        "/plans",
        {"centre_id": "MH03", "week_start": "{own_week}", "time_limit_s": 1},
        _row({"anonymous": 401, "nurse1": 403, "nurse2": 403, "planner": 403}, 202),
    ),
    (
        "POST",
        "/plans/{plan_id}/approve",
        {"revision": 1},
        _row({"anonymous": 401, "nurse1": 403, "nurse2": 403, "planner": 403}, 409),
    ),
    (
        "POST",
        "/imports",
        None,
        # a team leader may import his own team's register (a bad one here: 422)
        _row({"anonymous": 401, "admin": 422, "lead1": 422, "lead2": 422}, 403),
    ),
]


def _cases() -> list[Any]:
    params = []
    for method, path, body, expected in CASES:
        for role in ROLES:
            params.append(
                pytest.param(method, path, body, role, expected[role], id=f"{method} {path} {role}")
            )
    return params


@pytest.mark.parametrize(("method", "path", "body", "role", "status"), _cases())
def test_role_matrix(
    world: World, method: str, path: str, body: dict[str, Any] | None, role: str, status: int
) -> None:
    url = path.format(
        plan_id=world.plan_id,
        nurse1_day=world.nurse1_day,
        nurse1_resident=world.nurse1_resident,
        team1_resident=world.team1_resident,
        team2_resident=world.team2_resident,
    )
    headers = world.headers(None if role == "anonymous" else role)
    if body is not None and body.get("week_start") == "{own_week}":
        # A week of its own per role: two jobs for the same centre and week may not wait at once.
        monday = dt.date(2027, 1, 4) + dt.timedelta(weeks=ROLES.index(role))
        body = {**body, "week_start": monday.isoformat()}
    if path == "/imports":
        response = world.client.post(
            url, files={"files": ("residents.csv", b"resident_id\n", "text/csv")}, headers=headers
        )
    else:
        response = world.client.request(method, url, json=body, headers=headers)
    assert response.status_code == status, response.text
    if status in (403, 404):
        assert "Traceback" not in response.text


def test_a_nurse_guessing_another_nurses_route_or_patient_learns_nothing(world: World) -> None:
    mine = world.client.get(
        f"/plans/{world.plan_id}/routes/MH03-T1-N/{world.nurse1_day}",
        headers=world.headers("nurse1"),
    )
    assert mine.status_code == 200 and mine.json()["stops"]
    for guess in ("MH03-T2-N", "MH03-T1-D", "MH03-T9-N", "x' OR 1=1 --"):
        other = world.client.get(
            f"/plans/{world.plan_id}/routes/{guess}/{world.nurse1_day}",
            headers=world.headers("nurse1"),
        )
        assert other.status_code == 404
        assert other.json() == {"detail": f"no clinician {guess}"}
    for resident in (world.team1_resident, world.team2_resident, "MH03-R99999"):
        response = world.client.get(f"/residents/{resident}", headers=world.headers("nurse1"))
        assert response.status_code == 404
        assert response.json() == {"detail": f"no resident {resident}"}


def test_each_role_sees_residents_only_as_far_as_it_needs(world: World) -> None:
    lead = world.client.get(f"/residents/{world.nurse1_resident}", headers=world.headers("lead1"))
    nurse = world.client.get(f"/residents/{world.nurse1_resident}", headers=world.headers("nurse1"))
    full, masked = lead.json(), nurse.json()
    assert full["birth_date"] and full["name"] and "*" not in full["name"]
    assert masked["birth_date"] is None and "*" in masked["name"]
    assert masked["address"] == full["address"] and masked["phone"] == full["phone"]
    page = world.client.get("/residents?page_size=20", headers=world.headers("planner")).json()
    assert page["total"] > 1000
    for item in page["items"]:
        assert item["resident_id"].startswith("P-")
        assert item["name"] is None and item["address"] is None and item["phone"] is None
        assert item["lat"] is None and item["birth_date"] is None
    nurse_list = world.client.get(
        "/residents?page_size=200", headers=world.headers("nurse1")
    ).json()
    assert 0 < nurse_list["total"] < 400  # only the residents on her routes
    lead_list = world.client.get("/residents?page_size=1", headers=world.headers("lead1")).json()
    assert {i["team_id"] for i in lead_list["items"]} == {"MH03-T1"}


def test_every_read_of_a_resident_is_audited(world: World) -> None:
    world.client.get(f"/residents/{world.nurse1_resident}", headers=world.headers("lead1"))
    world.client.app.state.audit.flush()  # type: ignore[attr-defined]  # written in batches
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        last = session.scalars(select(AuditRow).order_by(AuditRow.audit_id.desc()).limit(1)).one()
    assert (last.username, last.action, last.resident_ids) == (
        "lead1",
        "read resident",
        world.nurse1_resident,
    )


def test_a_forged_or_expired_token_is_refused(world: World) -> None:
    import jwt

    forged = jwt.encode({"sub": "admin"}, "not-the-key", algorithm="HS256")
    expired = jwt.encode(
        {"sub": "admin", "exp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)},
        world.settings.secret_key,
        algorithm="HS256",
    )
    for token in (forged, expired, "garbage"):
        response = world.client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_sign_in_with_the_password_flow(world: World) -> None:
    ok = world.client.post(
        "/auth/token", data={"username": "nurse1", "password": "a-long-test-password"}
    )
    assert ok.status_code == 200
    token = ok.json()["access_token"]
    me = world.client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {
        "username": "nurse1",
        "role": "clinician",
        "centre_id": "MH03",
        "team_id": "MH03-T1",
        "clinician_id": "MH03-T1-N",
    }
    wrong = world.client.post(
        "/auth/token", data={"username": "nurse1", "password": "wrong-password"}
    )
    assert wrong.status_code == 401 and "access_token" not in wrong.text


def _personal(world: World) -> dict[str, list[str]]:
    """What no planner may receive: the residents' ids, names, addresses and coordinates."""
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        rows = session.execute(
            select(
                ResidentRow.resident_id,
                ResidentRow.name,
                ResidentRow.address,
                ResidentRow.lat,
                ResidentRow.lon,
            )
        ).all()
    coordinates = [repr(v) for r in rows for v in (r.lat, r.lon) if v is not None]
    return {
        "ids": [r.resident_id for r in rows],
        "names": [r.name for r in rows if len(r.name) >= 2],
        "addresses": [r.address for r in rows if r.address],
        # Six decimals or more: a resident's home, not a centre's rounded point.
        "coordinates": [c for c in coordinates if len(c.split(".")[-1]) >= 5],
    }


@pytest.mark.parametrize(
    "path", sorted({path for method, path, _, _ in CASES if method == "GET"} | {"/plan-jobs"})
)
def test_a_planner_receives_nothing_personal(world: World, path: str) -> None:
    """Every page, export and JSON answer a planner gets (200 or a refusal) holds no resident
    id (visit ids embed them), name, address or home coordinate."""
    personal = world.extra.get("personal")
    if personal is None:
        personal = world.extra["personal"] = _personal(world)
    assert isinstance(personal, dict)
    url = path.format(
        plan_id=world.plan_id,
        nurse1_day=world.nurse1_day,
        nurse1_resident="P-unknown",
        team1_resident="P-unknown",
        team2_resident="P-unknown",
    )
    body = world.client.get(url, headers=world.headers("planner")).text
    for kind, values in personal.items():
        found = [v for v in values if v in body]
        assert found == [], f"{path} gives a planner residents' {kind}: {found[:3]}"
    assert not re.search(r"R\d{5}", body), f"{path} gives a planner a resident id"


def test_a_planner_sees_visits_under_stable_pseudonyms(world: World) -> None:
    """GET /plans/{id}: a planner's left-out visits carry V-... pseudonyms (the same on every
    read), an admin's the real ids; both reads are written to the audit log."""
    url = f"/plans/{world.plan_id}"
    first = world.client.get(url, headers=world.headers("planner")).json()["unscheduled"]
    again = world.client.get(url, headers=world.headers("planner")).json()["unscheduled"]
    real = world.client.get(url, headers=world.headers("admin")).json()["unscheduled"]
    assert first and first == again
    assert all(v["visit_id"].startswith("V-") and v["resident_id"] is None for v in first)
    assert [v["visit_id"] for v in real] != [v["visit_id"] for v in first]
    assert any(re.search(r"R\d{5}", v["visit_id"]) for v in real)  # what it hides


def test_every_read_of_residents_data_is_audited(world: World) -> None:
    """A planner's plan, the team and comparison maps and an export each write who read which
    residents to the audit log."""
    reads = [
        ("planner", f"/plans/{world.plan_id}", "read plan"),
        ("lead1", f"/plans/{world.plan_id}/maps/team/MH03-T1", "read team map"),
        ("admin", f"/plans/{world.plan_id}/maps/compare/{world.plan_id}", "read comparison map"),
        ("lead1", f"/plans/{world.plan_id}/export?format=xlsx", "export plan"),
    ]
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    from sqlalchemy.orm import Session

    for user, url, action in reads:
        assert world.client.get(url, headers=world.headers(user)).status_code == 200
        world.client.app.state.audit.flush()  # type: ignore[attr-defined]
        with Session(engine) as session:
            last = session.scalars(
                select(AuditRow).order_by(AuditRow.audit_id.desc()).limit(1)
            ).one()
        assert (last.username, last.action) == (user, action)
        assert re.search(r"R\d{5}", last.resident_ids), f"{action} names no resident"


def test_staff_pages_and_exports_show_only_what_the_role_needs(world: World) -> None:
    """The nurse's own map page masks her residents' names; a team leader's team map and
    export hold his team only (no other team's residents or clinicians)."""
    day = world.nurse1_day
    full = world.client.get(
        f"/plans/{world.plan_id}/routes/MH03-T1-N/{day}", headers=world.headers("admin")
    ).json()
    names = [s["resident_name"] for s in full["stops"] if s["resident_name"]]
    page = world.client.get(f"/me/routes/{day}?format=html", headers=world.headers("nurse1"))
    assert page.status_code == 200 and names
    for name in names:
        assert name not in page.text and mask_name(name) in page.text
    others = personal_of_team(world, "MH03-T2")
    team_map = world.client.get(
        f"/plans/{world.plan_id}/maps/team/MH03-T1", headers=world.headers("lead1")
    ).text
    export = world.client.get(
        f"/plans/{world.plan_id}/export?format=csv", headers=world.headers("lead1")
    ).text
    for body in (team_map, export):
        assert not [r for r in others if r in body]
        assert "MH03-T2-" not in body
    assert world.nurse1_resident in export


def personal_of_team(world: World, team_id: str) -> list[str]:
    """The resident ids of ``team_id``."""
    from sqlalchemy.orm import Session

    with Session(world.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return list(
            session.scalars(select(ResidentRow.resident_id).where(ResidentRow.team_id == team_id))
        )


def test_a_team_leader_reads_his_teams_figures_of_a_plan_and_an_admin_the_centres(
    world: World,
) -> None:
    def figures(user: str) -> tuple[dict[str, Any], int]:
        answer = world.client.get(f"/plans/{world.plan_id}", headers=world.headers(user))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return body["kpis"], sum(r["stops"] for r in body["routes"])

    centre, centre_stops = figures("admin")
    lead1, stops1 = figures("lead1")
    lead2, stops2 = figures("lead2")
    assert 0 < lead1["visits_scheduled"] <= stops1 < centre_stops
    assert 0 < lead2["visits_scheduled"] <= stops2 < centre_stops
    # The plan routes two teams: their visits placed add up to the centre's; the centre's week
    # has the other teams' visits too.
    assert lead1["visits_scheduled"] + lead2["visits_scheduled"] == centre["visits_scheduled"]
    assert lead1["visits_due"] + lead2["visits_due"] < centre["visits_due"]
    assert lead1["violations"] == lead2["violations"] == 0  # his team's rules, checked
