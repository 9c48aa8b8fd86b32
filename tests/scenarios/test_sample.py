"""Tests of the seeded Minhang sample dataset (``scenarios/sample.py``)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from scenarios.sample import REFERENCE_WEEK, SAMPLE_CENTRE_ID, generate
from scheduler.dataset import write_dataset

Tables = dict[str, pd.DataFrame]

BUNDLED = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"
# Minhang district spans about 30.98-31.25 N, 121.30-121.55 E.
LAT_RANGE = (30.98, 31.25)
LON_RANGE = (121.30, 121.55)

REQUIRED = {
    "centres": ["centre_id", "name", "lat", "lon"],
    "committees": ["committee_id", "centre_id", "name", "lat", "lon"],
    "clinicians": [
        "clinician_id", "name", "team_id", "centre_id", "role", "skills", "travel_mode",
        "work_days", "shift_start", "shift_end", "lunch_start", "lunch_end",
    ],
    "residents": [
        "resident_id", "name", "birth_date", "lat", "lon", "committee_id", "team_id",
        "preferred_clinician_id", "disability", "hypertension", "diabetes", "home_sickbed",
        "homebound", "availability",
    ],
    "history": ["resident_id", "programme", "date"],
    "requests": [
        "request_id", "resident_id", "service", "earliest_date", "latest_date", "window_start",
        "window_end", "duration_min",
    ],
}  # fmt: skip
PROGRAMMES = {
    "followup_80", "medicine_delivery", "medicine_home", "medication_guidance",
    "centenarian_round", "sickbed_round", "chronic_followup", "health_check", "rehab_guidance",
    "special_service",
}  # fmt: skip
SERVICE_SKILL = {
    "catheter_care": "catheter",
    "pressure_sore_care": "wound",
    "infusion": "infusion",
    "picc_maintenance": "picc",
    "tcm": "tcm",
}


@pytest.fixture(scope="module")
def centre() -> Tables:
    return generate("centre")


@pytest.fixture(scope="module")
def district() -> Tables:
    return generate("district")


def _ages(residents: pd.DataFrame, on: date) -> pd.Series:
    birth = pd.to_datetime(residents["birth_date"])
    before_birthday = birth.dt.month * 100 + birth.dt.day > on.month * 100 + on.day
    return on.year - birth.dt.year - before_birthday.astype(int)


def test_same_seed_gives_equal_tables(centre: Tables) -> None:
    """Generating twice with the same seed gives identical tables (reproducible demos)."""
    again = generate("centre", seed=2026)
    assert set(again) == set(centre)
    for name, frame in centre.items():
        pd.testing.assert_frame_equal(again[name], frame)


def test_other_seed_gives_other_residents(centre: Tables) -> None:
    """Another seed draws another population, so the seed is really used."""
    other = generate("centre", seed=7)
    assert not other["residents"]["birth_date"].equals(centre["residents"]["birth_date"])


def test_tables_have_the_format_columns(centre: Tables) -> None:
    """Every table carries the columns of FORMAT.md, in order, so every reader accepts it."""
    for name, columns in REQUIRED.items():
        assert list(centre[name].columns[: len(columns)]) == columns, name
    assert {"address", "phone", "sex", "conditions"} <= set(centre["residents"].columns)


def test_centre_scope_is_gumei_with_six_teams(centre: Tables) -> None:
    """The one-centre sample is Gumei with 6 teams, 24 clinicians and about 2,500 residents."""
    assert centre["centres"]["centre_id"].tolist() == [SAMPLE_CENTRE_ID]
    assert centre["centres"]["name"].iloc[0] == "古美社区卫生服务中心"
    clinicians = centre["clinicians"]
    assert clinicians["team_id"].nunique() == 6
    assert len(clinicians) == 24
    assert (clinicians.groupby("team_id")["role"].apply(sorted) == [
        ["assistant", "doctor", "nurse", "rehab"]
    ] * 6).all()  # fmt: skip
    assert 2300 <= len(centre["residents"]) <= 2700


def test_residents_are_70_plus_inside_minhang(district: Tables) -> None:
    """Every resident is aged 70+ in the reference week and lives inside Minhang."""
    residents = district["residents"]
    assert _ages(residents, REFERENCE_WEEK).min() >= 70
    for frame in (residents, district["committees"], district["centres"]):
        assert frame["lat"].between(*LAT_RANGE).all()
        assert frame["lon"].between(*LON_RANGE).all()


def test_references_resolve(district: Tables) -> None:
    """Every committee, team, preferred clinician and history/request resident id exists."""
    residents = district["residents"]
    clinicians = district["clinicians"]
    committees = district["committees"]
    assert set(committees["centre_id"]) <= set(district["centres"]["centre_id"])
    assert set(clinicians["centre_id"]) <= set(district["centres"]["centre_id"])
    assert set(residents["committee_id"]) <= set(committees["committee_id"])
    assert set(residents["team_id"]) <= set(clinicians["team_id"])
    preferred = residents["preferred_clinician_id"]
    assert set(preferred[preferred != ""]) <= set(clinicians["clinician_id"])
    # A preferred clinician belongs to the resident's own team.
    with_preference = residents[preferred != ""]
    assert (
        with_preference["preferred_clinician_id"].str.rsplit("-", n=1).str[0]
        == with_preference["team_id"]
    ).all()
    ids = set(residents["resident_id"])
    assert residents["resident_id"].is_unique
    assert set(district["history"]["resident_id"]) <= ids
    assert set(district["requests"]["resident_id"]) <= ids


def test_each_committee_is_served_mainly_by_one_team(centre: Tables) -> None:
    """About 90% of a committee's residents are signed with the same team."""
    main_share = (
        centre["residents"]
        .groupby("committee_id")["team_id"]
        .agg(lambda teams: teams.value_counts(normalize=True).iloc[0])
    )
    assert main_share.mean() == pytest.approx(0.9, abs=0.05)


def test_flags_are_true_false_strings(district: Tables) -> None:
    """Boolean columns hold exactly the strings true/false, as the CSV shows them."""
    residents = district["residents"]
    for column in ("hypertension", "diabetes", "home_sickbed", "homebound"):
        assert set(residents[column]) <= {"true", "false"}, column
    assert set(residents["disability"]) == {"none", "semi", "full"}


def test_bundled_dataset_is_current(centre: Tables, tmp_path: Path) -> None:
    """The bundled scenarios/data/minhang-centre/ is byte-identical to generate('centre')."""
    write_dataset(centre, tmp_path)
    bundled = sorted(p.name for p in BUNDLED.glob("*.csv"))
    assert bundled == sorted(f"{name}.csv" for name in centre)
    for name in bundled:
        assert (BUNDLED / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_centre_scope_equals_district_rows(centre: Tables, district: Tables) -> None:
    """The one-centre sample is exactly the district's rows for that centre."""
    ours = {
        "centres": district["centres"]["centre_id"] == SAMPLE_CENTRE_ID,
        "committees": district["committees"]["centre_id"] == SAMPLE_CENTRE_ID,
        "clinicians": district["clinicians"]["centre_id"] == SAMPLE_CENTRE_ID,
        "residents": district["residents"]["resident_id"].str.startswith(SAMPLE_CENTRE_ID),
        "history": district["history"]["resident_id"].str.startswith(SAMPLE_CENTRE_ID),
        "requests": district["requests"]["request_id"].str.startswith(SAMPLE_CENTRE_ID),
        "sickbeds": district["sickbeds"]["resident_id"].str.startswith(SAMPLE_CENTRE_ID),
    }
    for name, mask in ours.items():
        pd.testing.assert_frame_equal(district[name][mask].reset_index(drop=True), centre[name])


def test_district_has_14_centres_and_about_40000_residents(district: Tables) -> None:
    """The district scope covers Minhang's 14 centres and about 40,000 residents."""
    assert len(district["centres"]) == 14
    assert set(district["centres"]["district"]) == {"闵行区"}
    assert 36_000 <= len(district["residents"]) <= 44_000
    teams = district["clinicians"].groupby("centre_id")["team_id"].nunique()
    assert teams.between(4, 8).all()


def test_history_lies_in_the_year_before_the_week(district: Tables) -> None:
    """Completed visits use known programmes and fall between 1 January and the Sunday before."""
    history = district["history"]
    assert set(history["programme"]) == PROGRAMMES
    assert history["date"].min() >= "2026-01-01"
    assert history["date"].max() <= (REFERENCE_WEEK - timedelta(days=1)).isoformat()
    assert not history.duplicated().any()


def test_history_matches_programme_rules(centre: Tables) -> None:
    """The history follows the programmes' eligibility, so the planner sees a realistic backlog."""
    residents = centre["residents"].set_index("resident_id")
    history = centre["history"]
    age = _ages(residents, REFERENCE_WEEK)
    q4_followups = history[(history["programme"] == "followup_80") & (history["date"] >= "2026-10")]
    share = q4_followups["resident_id"].nunique() / int((age >= 80).sum())
    assert 0.6 <= share <= 0.75
    rounds = history[history["programme"] == "centenarian_round"]["resident_id"]
    assert (age[rounds] >= 100).all()
    assert (residents.loc[rounds, "home_sickbed"] == "true").all()
    home = history[history["programme"] == "medicine_home"]["resident_id"]
    assert (residents.loc[home, "homebound"] == "true").all()
    at_committee = history[history["programme"] == "medicine_delivery"]["resident_id"]
    assert (residents.loc[at_committee, "homebound"] == "false").all()


def test_centenarians_with_sick_beds_exist(centre: Tables) -> None:
    """At least 5 centenarians in the sample have a home sick-bed, so centenarian rounds occur."""
    residents = centre["residents"]
    centenarians = residents[_ages(residents, REFERENCE_WEEK) >= 100]
    assert (centenarians["home_sickbed"] == "true").sum() >= 5


def test_requests_lie_inside_the_week(centre: Tables) -> None:
    """Special-service requests are for homebound residents, inside the week, with their skill."""
    requests = centre["requests"]
    assert 15 <= len(requests) <= 40
    week_end = (REFERENCE_WEEK + timedelta(days=6)).isoformat()
    assert (requests["earliest_date"] >= REFERENCE_WEEK.isoformat()).all()
    assert (requests["earliest_date"] <= requests["latest_date"]).all()
    assert (requests["latest_date"] <= week_end).all()
    assert (requests["window_start"] < requests["window_end"]).all()
    assert requests["duration_min"].between(30, 60).all()
    assert (requests["skills"] == requests["service"].map(SERVICE_SKILL)).all()
    residents = centre["residents"].set_index("resident_id")
    assert (residents.loc[requests["resident_id"], "homebound"] == "true").all()


def test_every_requested_skill_is_in_the_centre(district: Tables) -> None:
    """Each centre has a clinician for every special service (infusion, PICC, TCM, ...)."""
    for centre_id, clinicians in district["clinicians"].groupby("centre_id"):
        skills = set(";".join(clinicians["skills"]).split(";"))
        assert set(SERVICE_SKILL.values()) <= skills, centre_id


def test_reference_week_must_be_a_monday() -> None:
    """A reference week that is not a Monday is refused rather than silently shifted."""
    with pytest.raises(ValueError, match="Monday"):
        generate("centre", reference_week=date(2026, 12, 1))


def test_sample_carries_what_the_reports_need(centre: Tables) -> None:
    """Signing, a health check's tests, the visit's place and sick-bed episodes are in the sample,
    so the official tables of the sample are not empty (FORMAT.md "Data the reports need")."""
    residents = centre["residents"]
    assert set(residents["signed"]) == {"true", "false"}
    assert (residents["signed"] == "false").mean() < 0.06
    assert (residents["signed_since"] <= (REFERENCE_WEEK - timedelta(days=1)).isoformat()).all()
    history = centre["history"]
    assert set(history["outcome"]) == {"completed"}
    checks = history[history["programme"] == "health_check"]
    assert checks["tests"].str.contains("blood_routine").all()
    assert checks["tests"].str.contains("b_ultrasound").any()
    assert (history.loc[history["programme"] != "health_check", "tests"] == "").all()
    at_committee = history["programme"].isin(["medicine_delivery", "medication_guidance"])
    assert (history.loc[at_committee, "place"] == "committee").all()
    assert (history.loc[~at_committee, "place"] == "home").all()
    sickbeds = centre["sickbeds"]
    open_ids = set(sickbeds.loc[sickbeds["discharged"] == "", "resident_id"])
    assert open_ids == set(residents.loc[residents["home_sickbed"] == "true", "resident_id"])
    closed = sickbeds[sickbeds["discharged"] != ""]
    assert len(closed) > 0
    assert (closed["opened"] < closed["discharged"]).all()
    assert (closed["discharged"] >= "2026-01-01").all()
