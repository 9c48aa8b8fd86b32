"""A team leader's week through the API: upload, pins, re-solve, approve, export, records; and
the limits every user meets (page size, time limit, jobs per user, CORS closed)."""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.api.app import create_app
from service.db.tables import AuditRow, JobStatus, PlanJobRow
from tests.service.api.conftest import World
from tests.service.db.conftest import SAMPLE


def _sample_files(residents_csv: bytes | None = None) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = []
    for path in sorted(SAMPLE.glob("*.csv")):
        content = path.read_bytes()
        if path.name == "residents.csv" and residents_csv is not None:
            content = residents_csv
        files.append(("files", (path.name, content, "text/csv")))
    return files


def test_an_upload_with_mistakes_is_refused_whole_with_each_row_named(world: World) -> None:
    text = (SAMPLE / "residents.csv").read_text(encoding="utf-8").splitlines()
    broken_row = text[3].split(",")
    broken_row[2] = "1949-13-45"  # birth_date
    text[3] = ",".join(broken_row)
    before = world.client.get("/residents?page_size=1", headers=world.headers("admin")).json()[
        "total"
    ]
    response = world.client.post(
        "/imports",
        files=_sample_files(("\n".join(text) + "\n").encode()),
        headers=world.headers("admin"),
    )
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert {
        "file": "residents.csv",
        "row": 4,
        "column": "birth_date",
        "value": "1949-13-45",
    }.items() <= problems[0].items()
    after = world.client.get("/residents?page_size=1", headers=world.headers("admin")).json()[
        "total"
    ]
    assert after == before


def test_a_correct_upload_is_imported_and_reported_by_table(world: World) -> None:
    response = world.client.post("/imports", files=_sample_files(), headers=world.headers("admin"))
    assert response.status_code == 200, response.text
    lines = response.json()["lines"]
    assert any(line.startswith("residents: 0 added") and "unchanged" in line for line in lines)


def test_an_upload_without_a_clinician_residents_preferred_warns_and_imports(
    world: World,
) -> None:
    """A register without a clinician who left is imported; the response warns, naming the
    residents whose preference is dropped (a re-upload of the full register restores it)."""
    gone = "MH03-T6-D"
    clinicians = (SAMPLE / "clinicians.csv").read_text(encoding="utf-8").splitlines()
    kept = "\n".join(line for line in clinicians if not line.startswith(f"{gone},")) + "\n"
    files = [
        ("files", (name, kept.encode(), type_))
        if name == "clinicians.csv"
        else (key, (name, content, type_))
        for key, (name, content, type_) in _sample_files()
    ]
    residents = pd.read_csv(SAMPLE / "residents.csv", dtype=str, keep_default_na=False)
    fans = residents.loc[residents["preferred_clinician_id"] == gone, "resident_id"]
    try:
        response = world.client.post("/imports", files=files, headers=world.headers("admin"))
        assert response.status_code == 200, response.text
        (warning,) = response.json()["warnings"]
        assert f"preferred_clinician_id '{gone}'" in warning
        assert f"the preference of {len(fans)} residents is dropped" in warning
        assert warning.endswith(", ".join(fans))
    finally:
        restored = world.client.post(
            "/imports", files=_sample_files(), headers=world.headers("admin")
        )
        assert restored.status_code == 200 and restored.json()["warnings"] == []


def test_the_plan_exports_with_chinese_headers_and_only_the_leaders_team(world: World) -> None:
    csv = world.client.get(f"/plans/{world.plan_id}/export", headers=world.headers("lead1"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(csv.content.decode("utf-8-sig")))
    assert list(frame.columns[:3]) == ["日期 date", "医护人员 clinician", "姓名 name"]
    assert set(frame["医护人员 clinician"].str[:7]) == {"MH03-T1"}
    xlsx = world.client.get(
        f"/plans/{world.plan_id}/export?format=xlsx", headers=world.headers("admin")
    )
    sheet = pd.read_excel(io.BytesIO(xlsx.content))
    assert len(sheet) > len(frame) and "居民 resident name" in sheet.columns


def test_limits_are_enforced_with_the_field_and_the_reason(world: World) -> None:
    too_big = world.client.get("/residents?page_size=500", headers=world.headers("admin"))
    assert too_big.status_code == 422
    assert too_big.json()["errors"] == [
        {"field": "query.page_size", "reason": "at most 200 per page"}
    ]
    slow = world.client.post(
        "/plans",
        json={"centre_id": "MH03", "week_start": "2027-03-01", "time_limit_s": 100_000},
        headers=world.headers("lead1"),
    )
    assert slow.status_code == 422 and slow.json()["errors"][0]["field"] == "body.time_limit_s"
    not_monday = world.client.post(
        "/plans",
        json={"centre_id": "MH03", "week_start": "2027-03-02"},
        headers=world.headers("lead1"),
    )
    assert not_monday.status_code == 422 and "Tuesday" in not_monday.json()["errors"][0]["reason"]
    bad_type = world.client.post(
        "/plans", json={"centre_id": "MH03", "week_start": "soon"}, headers=world.headers("lead1")
    )
    assert bad_type.status_code == 422
    assert bad_type.json()["errors"][0]["field"] == "body.week_start"
    assert "soon" not in bad_type.text  # the value sent is never echoed back


def test_jobs_per_user_are_bounded(world: World) -> None:
    codes = [
        world.client.post(
            "/plans",
            json={"centre_id": "MH03", "week_start": f"2027-0{month}-0{day}"},
            headers=world.headers("lead2"),
        ).status_code
        for month, day in ((2, 1), (3, 1), (5, 3), (11 - 2, 6))
    ]
    assert codes[-1] == 429 and codes.count(202) <= 3


def test_cors_is_closed_unless_origins_are_configured(world: World) -> None:
    response = world.client.get(
        "/centres", headers=world.headers("admin") | {"Origin": "https://elsewhere.example"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_a_nurse_records_her_visit_and_it_becomes_history(world: World) -> None:
    route = world.client.get(
        f"/me/routes/{world.nurse1_day}",
        headers=world.headers("nurse1") | {"Accept": "application/json"},
    ).json()
    stop = next(
        s for s in route["stops"] if s["resident_id"] and s["programme"] != "chronic_followup"
    )
    body: dict[str, Any] = {
        "resident_id": stop["resident_id"],
        "programme": stop["programme"],
        "date": str(dt.date.today()),  # the plan's week lies ahead: she went early
        "outcome": "not_home",
        "plan_id": route["plan_id"],
        "visit_id": stop["visit_id"],
    }
    created = world.client.post("/records", json=body, headers=world.headers("nurse1"))
    assert created.status_code == 201, created.text
    assert created.json()["clinician_ids"] == ["MH03-T1-N"]
    again = world.client.post("/records", json=body, headers=world.headers("nurse1"))
    assert again.status_code == 422  # the same resident, programme and day once
    future = world.client.post(
        "/records",
        json=body | {"date": str(world.nurse1_day + dt.timedelta(days=30))},
        headers=world.headers("nurse1"),
    )
    assert future.status_code == 422 and "future" in future.json()["errors"][0]["reason"]
    stranger = world.client.post(
        "/records",
        json=body | {"resident_id": world.team2_resident},
        headers=world.headers("nurse1"),
    )
    assert stranger.status_code == 404
    # audited as the nurse page's save is: who recorded which resident's visit, once stored;
    # a refused record (twice, in the future, out of sight) writes nothing and is not audited
    world.client.app.state.audit.flush()  # type: ignore[attr-defined]  # written in batches
    with world.client.app.state.sessions() as session:  # type: ignore[attr-defined]
        audited = session.scalars(
            select(AuditRow).where(AuditRow.action == "record visit", AuditRow.username == "nurse1")
        ).all()
    record_id = created.json()["record_id"]
    assert [(a.resident_ids, a.detail) for a in audited] == [
        (stop["resident_id"], f"plan {route['plan_id']} record {record_id}")
    ]


@pytest.mark.slow
def test_pin_resolve_approve(tmp_path: Any, world: World) -> None:
    """A team leader pins a visit to another nurse's day, re-plans around it and approves."""
    settings = world.settings.model_copy(update={"jobs_running_max": 1})
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:  # the other tests' queued jobs are not this test's business
        session.execute(
            update(PlanJobRow)
            .where(PlanJobRow.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CANCELLED.value)
        )
        session.commit()
    with TestClient(create_app(settings)) as client:
        lead = world.headers("lead1")
        created = client.post(
            "/plans",
            json={"centre_id": "MH03", "week_start": "2026-11-30", "time_limit_s": 3},
            headers=lead,
        ).json()
        job = _wait(client, lead, created["job_id"])
        assert job["status"] == "done", job["message"]
        plan_id = job["plan_id"]
        target = "MH03-T1-D"
        theirs = client.get(
            f"/plans/{plan_id}/routes/{target}/{world.nurse1_day}", headers=lead
        ).json()["stops"]
        stop = next(  # one of hers a doctor may do, not one they share (a joint visit)
            s
            for s in client.get(
                f"/plans/{plan_id}/routes/MH03-T1-N/{world.nurse1_day}", headers=lead
            ).json()["stops"]
            if s["visit_id"] not in {t["visit_id"] for t in theirs}
            and s["programme"] in ("followup_80", "chronic_followup")
        )
        pin = client.put(
            f"/plans/{plan_id}/pins",
            json={
                "visit_id": stop["visit_id"],
                "kind": "pin",
                "clinician_id": target,
                "date": str(world.nurse1_day),
            },
            headers=lead,
        )
        assert pin.status_code == 200, pin.text
        foreign = client.put(
            f"/plans/{plan_id}/pins",
            json={
                "visit_id": stop["visit_id"],
                "kind": "pin",
                "clinician_id": "MH03-T2-N",
                "date": str(world.nurse1_day),
            },
            headers=lead,
        )
        assert foreign.status_code == 404
        resolved = client.post(
            f"/plans/{plan_id}/resolve", json={"time_limit_s": 3}, headers=lead
        ).json()
        job = _wait(client, lead, resolved["job_id"])
        assert job["status"] == "done", job["message"]
        new_plan = job["plan_id"]
        moved = client.get(
            f"/plans/{new_plan}/routes/{target}/{world.nurse1_day}", headers=lead
        ).json()
        assert stop["visit_id"] in {s["visit_id"] for s in moved["stops"]}
        # Around the draft: the pinned visit moved, no other visit moved without having to.
        moves = job["kpis"]["moves"]
        assert moves["pinned_moved"] == 1
        assert moves["others_moved_without_having_to"] == 0
        assert moves["others_moved"] == moves["others_had_to_move"]
        detail = client.get(f"/plans/{new_plan}", headers=lead).json()
        assert detail["kpis"]["violations"] == 0
        stale = client.post(
            f"/plans/{new_plan}/approve", json={"revision": detail["revision"] + 5}, headers=lead
        )
        assert stale.status_code == 409
        approved = client.post(
            f"/plans/{new_plan}/approve", json={"revision": detail["revision"]}, headers=lead
        )
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        nurse_sees = client.get(
            f"/me/routes/{world.nurse1_day}",
            headers=world.headers("nurse1") | {"Accept": "application/json"},
        ).json()
        assert nurse_sees["plan_id"] == new_plan


def _wait(client: TestClient, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/plan-jobs/{job_id}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def test_the_plan_gives_reasons_in_both_languages_and_why_each_visit_is_due(
    world: World,
) -> None:
    """A team leader reads, for each visit left out, the reason in Chinese and English, its kind
    (an alarm or not) and its rule; each stop of a route carries its rule and last visit too."""
    lead = world.headers("lead1")
    detail = world.client.get(f"/plans/{world.plan_id}", headers=lead).json()
    left = detail["unscheduled"]
    assert left, "the sample week leaves visits out"
    for item in left:
        assert item["reason"] and item["reason_zh"]
        assert item["kind"] in {"unscheduled", "optional", "not_due_this_week"}
        assert (item["kind"] == "unscheduled") == (item["urgency"] != "optional")
        assert item["rule_zh"] and item["rule_en"]
    route = world.client.get(
        f"/plans/{world.plan_id}/routes/MH03-T1-N/{world.nurse1_day}", headers=lead
    ).json()
    assert route["stops"]
    for stop in route["stops"]:
        assert stop["urgency"] in {"overdue", "due", "optional"}
        assert " · " in stop["rule_zh"] and " · " in stop["rule_en"]
