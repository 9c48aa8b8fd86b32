"""The team leader's home sick-bed page (家庭病床, /sickbeds): his team's open sick-beds with
their rounds, a form to open one (建床) and one to discharge it (撤床, with the reason), every
refusal on the page in Chinese and English (never a 500), CSRF-checked, audited; a planner reads
it under pseudonyms, a nurse not at all.

The browser test (360 and 1280 px) is in test_sickbed_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from scheduler.programmes import builtin_programmes
from service.db.tables import AuditRow, ResidentRow, SickbedEpisodeRow
from service.sickbeds import rounds_due
from tests.service.api.conftest import World, csrf, signed_in


def _open_of_team(world: World, team: str) -> list[str]:
    with world.client.app.state.sessions() as session:
        return list(
            session.scalars(
                select(SickbedEpisodeRow.resident_id)
                .join(ResidentRow, ResidentRow.resident_id == SickbedEpisodeRow.resident_id)
                .where(ResidentRow.team_id == team, SickbedEpisodeRow.discharged.is_(None))
            )
        )


def _bedless(world: World, team: str) -> str:
    """A resident of ``team`` who never had a sick-bed."""
    with world.client.app.state.sessions() as session:
        found = session.scalar(
            select(ResidentRow.resident_id)
            .where(
                ResidentRow.team_id == team,
                ResidentRow.active.is_(True),
                ResidentRow.resident_id.not_in(select(SickbedEpisodeRow.resident_id)),
                func.length(ResidentRow.name) > 1,
            )
            .order_by(ResidentRow.resident_id)
        )
    assert found is not None
    return found


def _episode(world: World, resident_id: str) -> SickbedEpisodeRow | None:
    with world.client.app.state.sessions() as session:
        return session.scalars(
            select(SickbedEpisodeRow)
            .where(SickbedEpisodeRow.resident_id == resident_id)
            .order_by(SickbedEpisodeRow.opened.desc())
        ).first()


def test_the_leader_sees_his_teams_open_sick_beds_with_their_rounds(world: World) -> None:
    """Every open sick-bed of his team is a row (resident id, masked name, opened, rounds due),
    none of another team's; the header links the page; the forms carry the CSRF token; the
    read is audited with the residents' ids."""
    lead = signed_in(world, "lead1")
    page = lead.get("/sickbeds")
    assert page.status_code == 200
    html = page.text
    mine, theirs = _open_of_team(world, "MH03-T1"), _open_of_team(world, "MH03-T2")
    assert mine and theirs, "the sample has open sick-beds in both teams"
    assert html.count("<tr data-episode=") == len(mine)
    assert all(rid in html for rid in mine) and not any(rid in html for rid in theirs)
    assert (
        '<a href="/sickbeds" aria-current="page">家庭病床 <span class="en">Sick-beds</span>' in html
    )
    assert "家庭病床查床" in html and "home sick-bed round" in html
    token = csrf(html)
    assert html.count(f'name="csrf_token" value="{token}"') == len(mine) + 2  # + open, sign out
    world.client.app.state.audit.flush()
    with world.client.app.state.sessions() as session:
        read = session.scalars(
            select(AuditRow.resident_ids).where(
                AuditRow.action == "read sickbed page", AuditRow.username == "lead1"
            )
        ).all()
    assert read and set(mine) <= set(read[-1].split(";"))


def test_the_leader_opens_and_discharges_a_sick_bed(world: World) -> None:
    """建床 for a resident of his team: the episode is open (the resident flagged for rounds),
    the page says so and lists it with no round yet; 撤床 with a date and a reason closes it
    and keeps the reason; both changes are audited."""
    lead = signed_in(world, "lead1")
    token = csrf(lead.get("/sickbeds").text)
    resident = _bedless(world, "MH03-T1")
    today = dt.date.today()
    form = {"csrf_token": token, "resident_id": resident, "date": str(today)}
    opened = lead.post("/sickbeds/open", data=form)
    assert opened.status_code == 303 and opened.headers["location"] == "/sickbeds?done=opened"
    episode = _episode(world, resident)
    assert episode is not None and (episode.opened, episode.discharged) == (today, None)
    page = lead.get("/sickbeds?done=opened").text
    assert "已建床。" in page and resident in page and "尚未查床，本周应查" in page
    form |= {"reason": "病情好转"}
    discharged = lead.post("/sickbeds/discharge", data=form)
    assert discharged.status_code == 303, discharged.text
    episode = _episode(world, resident)
    assert episode is not None
    assert (episode.discharged, episode.discharge_reason) == (today, "病情好转")
    with world.client.app.state.sessions() as session:
        flag = session.get(ResidentRow, resident)
        assert flag is not None and flag.home_sickbed is False
    assert resident not in lead.get("/sickbeds").text.split("bo-resident")[0]
    world.client.app.state.audit.flush()
    with world.client.app.state.sessions() as session:
        actions = session.scalars(
            select(AuditRow.action).where(
                AuditRow.username == "lead1", AuditRow.resident_ids == resident
            )
        ).all()
    assert {"record sickbed open", "record sickbed discharge"} <= set(actions)


@pytest.mark.parametrize(
    ("path", "fields", "zh", "en"),
    [
        ("open", {"date": "2026-13-01"}, "无法识别", "is not a date"),
        ("open", {"date": "1900-01-01"}, "日期须在", "is not a date the service records"),
        ("open", {"date": "2099-01-01"}, "尚未到来", "in the future"),
        ("open", {"resident_id": ""}, "请选择居民", "choose a resident"),
        ("open", {"resident_id": "MH03-R99999"}, "您可查看的居民中没有", "in your sight"),
        ("open", {"resident_id": "<b>x</b>\u202e"}, "不可见字符", "invisible character"),
        ("discharge", {"reason": ""}, "请填写撤床原因", "give the reason"),
        ("discharge", {"reason": "好转"}, "没有在床的家庭病床", "has no sick-bed open"),
    ],
)
def test_a_refusal_comes_back_on_the_page_in_both_languages(
    world: World, path: str, fields: dict[str, str], zh: str, en: str
) -> None:
    """A bad date, no resident, another team's or an unknown resident, an invisible character,
    a discharge without reason or of a resident with no sick-bed: 422, the page again with the
    reason in Chinese and English (escaped), nothing stored."""
    lead = signed_in(world, "lead1")
    token = csrf(lead.get("/sickbeds").text)
    resident = _bedless(world, "MH03-T1")
    form = {"csrf_token": token, "resident_id": resident, "date": str(dt.date.today())}
    form |= fields
    answer = lead.post(f"/sickbeds/{path}", data=form)
    assert answer.status_code == 422, answer.text
    errors = answer.text.split('id="hv-bed-errors"', 1)[1].split("</div>", 1)[0]
    assert zh in errors and en in errors
    assert "<b>x</b>" not in answer.text
    assert _episode(world, resident) is None


def test_another_teams_resident_or_a_second_bed_is_refused(world: World) -> None:
    """A resident of team 2 is not in team 1's leader's sight (named as such, nothing stored);
    a resident whose sick-bed is open gets no second one ("discharge it first")."""
    lead = signed_in(world, "lead1")
    token = csrf(lead.get("/sickbeds").text)
    other = _bedless(world, "MH03-T2")
    form = {"csrf_token": token, "resident_id": other, "date": str(dt.date.today())}
    answer = lead.post("/sickbeds/open", data=form)
    assert answer.status_code == 422 and "您可查看的居民中没有" in answer.text
    assert _episode(world, other) is None
    [bedded, *_] = _open_of_team(world, "MH03-T1")
    again = lead.post("/sickbeds/open", data=form | {"resident_id": bedded})
    assert again.status_code == 422
    assert "请先撤床" in again.text and "discharge it first" in again.text


def test_without_the_csrf_token_nothing_is_stored(world: World) -> None:
    """A form posted without (or with another session's) token is refused, 403."""
    lead = signed_in(world, "lead1")
    resident = _bedless(world, "MH03-T1")
    form = {"csrf_token": "0" * 64, "resident_id": resident, "date": str(dt.date.today())}
    assert lead.post("/sickbeds/open", data=form).status_code == 403
    assert _episode(world, resident) is None


def test_a_planner_reads_under_pseudonyms_and_a_nurse_not_at_all(world: World) -> None:
    """The planner's page lists the open sick-beds of every team under pseudonyms, with no
    resident id, no name and no form, and his posts are refused (403); a nurse has no page."""
    planner = signed_in(world, "planner")
    page = planner.get("/sickbeds")
    assert page.status_code == 200
    html = page.text
    mine, theirs = _open_of_team(world, "MH03-T1"), _open_of_team(world, "MH03-T2")
    assert html.count("<tr data-episode=") >= len(mine) + len(theirs)
    assert not re.search(r"MH03-R\d", html)
    assert "P-" in html and "/sickbeds/open" not in html and "/sickbeds/discharge" not in html
    token = csrf(html)
    form = {"csrf_token": token, "resident_id": _bedless(world, "MH03-T1"), "date": "2026-12-01"}
    assert planner.post("/sickbeds/open", data=form).status_code == 403
    nurse = signed_in(world, "nurse1")
    assert nurse.get("/sickbeds").status_code == 403
    assert "/sickbeds" not in nurse.get(f"/me/routes/{world.nurse1_day}").text.split("<main")[0]


def test_the_api_discharge_keeps_the_reason(world: World) -> None:
    """POST /records/sickbeds/discharge (the JSON API, same function as the page) stores the
    reason given and answers it."""
    resident = _open_of_team(world, "MH03-T2")[0]
    answer = world.client.post(
        "/records/sickbeds/discharge",
        json={"resident_id": resident, "date": str(dt.date.today()), "reason": "转入医院"},
        headers=world.headers("lead2"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["discharge_reason"] == "转入医院"


def test_rounds_due_follow_the_programmes_rules() -> None:
    """A round every 7 days with 2 days' tolerance: a round 5 days ago -> next in 2 days; 10
    days ago -> overdue by 1 day; none since a bed opened 10 days ago -> overdue, due now; a
    centenarian's two rounds a month count this month's."""
    programmes = builtin_programmes()
    rounds, centenarian = programmes["sickbed_round"], programmes["centenarian_round"]
    today = dt.date(2026, 12, 5)
    ago = lambda days: today - dt.timedelta(days=days)  # noqa: E731
    fine = rounds_due(rounds, ago(30), [ago(12), ago(5)], today)
    assert (fine.last_round, fine.overdue) == (ago(5), False)
    assert fine.zh == "下次 2026-12-07（最迟 2026-12-09）"
    late = rounds_due(rounds, ago(30), [ago(10)], today)
    assert late.overdue and late.en == "overdue by 1 day(s) (due by 2026-12-04)"
    never = rounds_due(rounds, ago(10), [], today)
    assert never.overdue and never.last_round is None
    month = rounds_due(centenarian, ago(60), [ago(40), ago(3)], today)
    assert month.en == "1 of 2 this period; 1 more by 2026-12-31"


def test_an_admin_sees_every_team_and_types_the_resident_id(world: World) -> None:
    """An admin's page lists every team's open sick-beds with their team; his district is too
    long to choose from, so he types the resident's id, and opens a sick-bed for any team."""
    admin = signed_in(world, "admin")
    html = admin.get("/sickbeds").text
    mine, theirs = _open_of_team(world, "MH03-T1"), _open_of_team(world, "MH03-T2")
    assert all(rid in html for rid in mine + theirs)
    assert '<input id="bo-resident" name="resident_id" type="text"' in html
    assert '<option value="MH03-R' not in html
    resident = _bedless(world, "MH03-T2")
    form = {"csrf_token": csrf(html), "resident_id": resident, "date": str(dt.date.today())}
    assert admin.post("/sickbeds/open", data=form).status_code == 303
    episode = _episode(world, resident)
    assert episode is not None and episode.discharged is None
