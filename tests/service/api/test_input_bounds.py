"""No 500 and no nonsense accepted (issue 11, item 7): each probe of the issue, pinned.

Dates outside sane years, ids that only look like numbers, tokens that never expire, references
to another centre's clinician and control characters in registers are refused with a 4xx that
says why; nothing reaches a code path that overflows or stores it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import quote

import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.importer import import_dataset
from service.db.tables import PlanJobRow
from tests.service.api.conftest import World

OTHER_CENTRE = {
    "centres.csv": "centre_id,name,lat,lon\nZZ01,七宝社区卫生服务中心,31.157,121.352\n",
    "clinicians.csv": "clinician_id,name,team_id,centre_id,role,skills,travel_mode,work_days,"
    "shift_start,shift_end,lunch_start,lunch_end\n"
    "ZZ01-T1-N,李护士,ZZ01-T1,ZZ01,nurse,,walk,Mon;Tue;Wed;Thu;Fri,08:00,17:00,12:00,13:00\n",
    "residents.csv": "resident_id,name,birth_date,lat,lon,committee_id,team_id,"
    "preferred_clinician_id,disability,hypertension,diabetes,home_sickbed,homebound,availability\n"
    "ZZ01-R1,赵阿婆,1940-02-03,31.158,121.353,ZZ01-C1,ZZ01-T1,,none,false,false,false,false,\n",
}


@pytest.fixture(scope="module")
def other_clinician(world: World, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A clinician of a second centre (ZZ01), imported beside the sample centre."""
    folder: Path = tmp_path_factory.mktemp("zz01")
    for name, text in OTHER_CENTRE.items():
        (folder / name).write_text(text, encoding="utf-8")
    app = world.client.app
    import_dataset(app.state.engine, folder, world.settings)  # type: ignore[attr-defined]
    return "ZZ01-T1-N"


def _reason(response: object) -> str:
    return str(response.json())  # type: ignore[attr-defined]


@pytest.mark.parametrize("on", ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"])
def test_a_coverage_report_of_an_absurd_day_is_refused_not_a_server_error(
    world: World, on: str
) -> None:
    """The issue's probe: ?on=9999-12-31 was a 500 (the quarter's end overflowed)."""
    response = world.client.get(
        f"/reports/coverage?centre_id=MH03&on={on}", headers=world.headers("admin")
    )
    assert response.status_code == 422
    assert "2000-01-01 to 2099-12-31" in _reason(response)


@pytest.mark.parametrize("week", ["9999-12-27", "0001-01-01"])
def test_a_plan_of_an_absurd_week_is_refused_and_no_job_is_queued(world: World, week: str) -> None:
    """The issue's probe: week 9999-12-27 was queued (the job then failed with OverflowError),
    0001-01-01 was stored as a plan."""
    engine = world.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        before = session.scalar(select(func.count()).select_from(PlanJobRow))
    response = world.client.post(
        "/plans", json={"centre_id": "MH03", "week_start": week}, headers=world.headers("admin")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.week_start"
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(PlanJobRow)) == before


def test_another_centres_clinician_in_a_plan_is_not_found_even_for_an_admin(
    world: World, other_clinician: str
) -> None:
    """The issue's probe: an admin's day map of another centre's clinician was a 500."""
    day = world.nurse1_day.isoformat()
    for path in (
        f"/plans/{world.plan_id}/maps/day/{other_clinician}/{day}",
        f"/plans/{world.plan_id}/routes/{other_clinician}/{day}",
    ):
        response = world.client.get(path, headers=world.headers("admin"))
        assert response.status_code == 404, path
        assert response.json() == {"detail": f"no clinician {other_clinician}"}


def test_a_record_naming_another_centres_clinician_is_refused(
    world: World, other_clinician: str
) -> None:
    """The issue's probe: a visit record could name a clinician of another centre."""
    response = world.client.post(
        "/records",
        json={
            "resident_id": world.team1_resident,
            "programme": "followup_80",
            "date": "2026-11-20",
            "clinician_ids": [other_clinician],
        },
        headers=world.headers("admin"),
    )
    assert response.status_code == 422
    assert f"clinician '{other_clinician}' works at centre ZZ01" in _reason(response)


@pytest.mark.parametrize("claims", [{"sub": "admin"}, {"sub": "admin", "iat": 0}, {"exp": 4e9}])
def test_a_token_without_expiry_or_subject_is_refused(world: World, claims: dict) -> None:
    """The issue's probe: a validly signed token without ``exp`` never expired."""
    token = jwt.encode(claims, world.settings.secret_key, algorithm="HS256")
    response = world.client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_token_with_expiry_still_works(world: World) -> None:
    """The control: the service's own tokens (sub, iat, exp) are accepted."""
    assert world.client.get("/me", headers=world.headers("admin")).status_code == 200


@pytest.mark.parametrize("plan_id", ["{}.0", "+{}", " {}", "{}e0", "０{}"])
def test_a_plan_id_is_digits_only(world: World, plan_id: str) -> None:
    """The issue's probe: /plans/1.0 was plan 1; text that is not plain digits is refused."""
    response = world.client.get(
        f"/plans/{plan_id.format(world.plan_id)}", headers=world.headers("admin")
    )
    assert response.status_code == 422
    assert "not a whole number" in _reason(response)
    assert (
        world.client.get(f"/plans/{world.plan_id}", headers=world.headers("admin")).status_code
        == 200
    )


def test_numbers_in_a_body_are_whole_numbers(world: World) -> None:
    """A revision of 1.0 or "1" is not a revision (JSON ints are strict)."""
    for revision in (1.0, "1"):
        response = world.client.post(
            f"/plans/{world.plan_id}/approve",
            json={"revision": revision},
            headers=world.headers("admin"),
        )
        assert response.status_code == 422, revision


def test_a_nul_in_an_uploaded_name_is_refused_with_row_and_column(world: World) -> None:
    """The issue's probe: a NUL inside a name was imported on SQLite."""
    sample = Path(__file__).resolve().parents[3] / "scenarios" / "data" / "minhang-centre"
    lines = (sample / "residents.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[1] = cells[1][0] + "\x00" + cells[1][1:]
    lines[1] = ",".join(cells)
    files = [
        ("files", (p.name, p.read_bytes(), "text/csv"))
        for p in sorted(sample.glob("*.csv"))
        if p.name != "residents.csv"
    ] + [("files", ("residents.csv", ("\n".join(lines) + "\n").encode(), "text/csv"))]
    response = world.client.post("/imports", files=files, headers=world.headers("admin"))
    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert (problem["file"], problem["row"], problem["column"]) == ("residents.csv", 2, "name")
    assert "U+0000" in problem["message"]


def test_dates_at_the_bounds_are_accepted(world: World) -> None:
    """The bounds are inclusive and ordinary dates pass (no false refusals)."""
    for on in ("2000-01-01", "2099-12-31", dt.date.today().isoformat()):
        response = world.client.get(
            f"/reports/coverage?centre_id=MH03&on={on}", headers=world.headers("admin")
        )
        assert response.status_code == 200, on


@pytest.mark.parametrize("text", ["血压平稳\x00", "\u202e正常", "ok\x1b[31m"])
def test_text_a_request_stores_holds_no_control_character(world: World, text: str) -> None:
    """Found by the sweep: a visit record's note stored a NUL on SQLite (the registers refuse
    it since this issue; requests follow the same rule)."""
    response = world.client.post(
        "/records",
        json={
            "resident_id": world.team1_resident,
            "programme": "followup_80",
            "date": "2026-11-21",
            "clinician_ids": ["MH03-T1-D"],
            "note": text,
        },
        headers=world.headers("admin"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.note"
    assert "invisible character U+" in response.json()["errors"][0]["reason"]


EXTREMES = (
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "99999999999999999999",
    "-1",
    "1.0",
    "１",
    "\u202eevil",
    "a\x00b",
    "😀",
    "x" * 3000,
)


def test_extreme_values_in_any_path_or_query_parameter_are_no_server_error(world: World) -> None:
    """The sweep, kept: every operation of the schema, each of its path and query parameters
    set in turn to a date extreme, a huge or odd number, a control or bidi character, an emoji
    or a long text (the others valid), as the admin: a clean 4xx or a success, never a 5xx."""
    spec = world.client.get("/openapi.json").json()
    valid = {
        "plan_id": str(world.plan_id),
        "other_plan_id": str(world.plan_id),
        "clinician_id": "MH03-T1-N",
        "date": world.nurse1_day.isoformat(),
        "team_id": "MH03-T1",
        "resident_id": world.team1_resident,
        "centre_id": "MH03",
        "name": "baseline",
    }
    failures = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            parameters = [
                p for p in operation.get("parameters", []) if p["in"] in ("path", "query")
            ]
            for target in parameters:
                for value in EXTREMES:
                    url = path
                    query = {}
                    for p in parameters:
                        text = value if p is target else valid.get(p["name"], "1")
                        if p["in"] == "path":
                            url = url.replace("{" + p["name"] + "}", quote(text, safe=""))
                        elif p is target:
                            query[p["name"]] = text
                    response = world.client.request(
                        method.upper(), url, params=query, headers=world.headers("admin")
                    )
                    if response.status_code >= 500:
                        failures.append(f"{method.upper()} {url} {query}: {response.status_code}")
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("until", "9999-12-31"),
        ("to", "0001-01-01"),
        ("clinician_id", "MH03-T1-N\x00"),
    ],
)
def test_a_same_day_replan_takes_the_same_bounds(world: World, field: str, value: object) -> None:
    """The re-plan arrived with the merge of main: its dates, texts and numbers are held to
    the same rules (422 naming the field), before anything is solved."""
    day = world.nurse1_day.isoformat()
    absent: dict[str, object] = {"clinician_id": "MH03-T1-N"}
    body: dict[str, object] = {"date": day, "at": "10:00", "absent": [absent], "time_limit_s": 2}
    if field == "to":
        body["postpone"] = [{"visit_id": "any", "to": value}]
    else:
        absent[field] = value
    response = world.client.post(
        f"/plans/{world.plan_id}/replan", json=body, headers=world.headers("admin")
    )
    assert response.status_code == 422
    assert field in response.json()["errors"][0]["field"]


@pytest.mark.parametrize("limit", [0.05, 0, 3601, -1])
def test_a_time_limit_outside_the_solvers_bounds_is_refused(world: World, limit: float) -> None:
    """The API takes the bounds of SolveParams (0.1 s to an hour), as the commands do."""
    response = world.client.post(
        "/plans",
        json={"centre_id": "MH03", "week_start": "2026-11-30", "time_limit_s": limit},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.time_limit_s"
