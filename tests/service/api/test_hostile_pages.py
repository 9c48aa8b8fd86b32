"""Hostile register values on the workspace pages, opened in Debian's chromium by every role.

Team 1's registers are rewritten so that the centre, the committees, its clinicians (names and
phones) and its residents (names, addresses, phones, and some ids) carry script tags, attribute
breaks, quotes, template syntax, line separators, formulas, a right-to-left override and very
long texts. The registers go through the CSV writer and the importer; a week is planned and
approved, a second version drafted, a same-day re-plan run. Then every page a team leader,
an admin, a planner and a nurse open (the week, a visit, versions, comparison, the same-day
form, the re-plan's progress and review, the print sheets, the registers page with its error
table, the nurse's day and record form, the reports page) is opened in chromium:

- no script of a value runs (``window.__pwned`` stays undefined, no dialog opens), no console
  error, no request leaves the machine, no 500;
- the values are shown as the text they are;
- every form posted with the cookie carries its CSRF token, and a post without it is refused
  (403, in Chinese and English);
- the downloads (the team's register, the plan's export, the report tables) hold no formula;
- a team leader reaches only his team's visits, a nurse only her own routes, and the reads of
  residents' data on these pages are audited.

One database is built per module (SQLite), the pages are read in one browser.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Iterator
from html import escape as html_escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.dataset import DatasetError, read_dataset, write_dataset
from scheduler.model import Dataset
from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve
from service.api.app import create_app
from service.api.deps import TOKEN_COOKIE, make_token
from service.api.routers import replan_pages, workspace
from service.db.exporter import load_dataset
from service.db.importer import DatabaseWriteError, import_dataset
from service.db.plans import save_plan, set_status
from service.db.tables import AuditRow, PlanStatus, PlanStopRow, ResidentRow, VisitRecordRow
from service.users import add_user
from tests.hostile import starts_formula, without_refusable
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, QUIET_FLAGS, watch
from tests.service.api.conftest import PASSWORD, USERS, WEEK, World, serve_app, settings_for
from tests.service.api.test_registers_page import team_register, workbook
from tests.service.api.test_replan_api import run_queued
from tests.service.db.conftest import SAMPLE, open_database

TEAM, OTHER_TEAM = "MH03-T1", "MH03-T2"
TEAMS = (TEAM, OTHER_TEAM)
NURSE, OTHER_NURSE = "MH03-T1-N", "MH03-T2-N"

PWN: tuple[str, ...] = (
    "</script><script>window.__pwned=1</script>",
    '"><img src=x onerror=window.__pwned=1>',
    "'-alert(1)-'",
    "行\u2028\u2029断</ScRiPt ><script>window.__pwned=1//",
    "{{7*7}}${7*7}",
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "\u202eexe.王秀英",
    "@SUM(1+1)",
    "`${window.__pwned=1}`",
    "欧阳春花" + "长" * 1900,
)
"""Names, addresses, phones and labels (the override may be refused at import)."""

PWN_IDS: tuple[str, ...] = (
    '"><img src=x onerror=window.__pwned=1>',
    "=R(1)",
    "+R1",
    "R'-alert(1)-'",
    "R{{7*7}}",
    "R</script><script>window.__pwned=1</script>",
)
"""Resident ids (a visit's id holds its resident's; the last holds a slash)."""

DOCTOR = "MH03-T1-D"
CLINICIAN_ID = 'D/"><img src=x onerror=window.__pwned=1>?a=1#x'
"""Team 1's doctor's id in the hostile registers (any text is an id the register accepts)."""

CENTRE = '=HYPERLINK("http://x","y")"><img src=x onerror=window.__pwned=1>'
"""The centre's name: a formula and an attribute break at once (it heads reports and sheets)."""

SHOWN = (CENTRE, PWN[0], PWN[1], PWN[2], "{{7*7}}${7*7}", PWN[5], PWN[6], "`${window.__pwned=1}`")
"""Values every hostile page run must show somewhere, as typed."""


def _pwn(n: int) -> str:
    return PWN[n % len(PWN)]


def hostile_registers(sample: Dataset, keep_refusable: bool) -> Dataset:
    """The sample with team 1's texts (and some of its residents' ids) made hostile; team 2
    left as it is (for the scoping checks)."""
    keep = (lambda text: text) if keep_refusable else without_refusable
    mine = sorted(
        (r for r in sample.residents.values() if r.team_id == TEAM), key=lambda r: r.resident_id
    )
    due = {v.resident_id for v in build_problem(sample, WEEK, centre_ids=["MH03"]).visits}
    new_id = {r.resident_id: r.resident_id for r in sample.residents.values()}
    visited = [r.resident_id for r in mine if r.resident_id in due]
    for old, hostile in zip(visited, PWN_IDS, strict=False):
        new_id[old] = hostile
    residents = {}
    for resident in sample.residents.values():
        if resident.team_id == TEAM:
            n = mine.index(resident)
            preferred = resident.preferred_clinician_id
            resident = dataclasses.replace(
                resident,
                preferred_clinician_id=CLINICIAN_ID if preferred == DOCTOR else preferred,
                resident_id=new_id[resident.resident_id],
                name=keep(_pwn(n)),
                address=keep(_pwn(n + 3)),
                phone=keep(_pwn(n + 5)),
            )
        residents[resident.resident_id] = resident
    clinicians = {
        c.clinician_id: (
            dataclasses.replace(c, name=keep(_pwn(n + 1)), phone=keep(_pwn(n + 6)))
            if c.team_id == TEAM
            else c
        )
        for n, c in enumerate(sample.clinicians.values())
    }
    doctor = clinicians.pop(DOCTOR)
    clinicians[CLINICIAN_ID] = dataclasses.replace(doctor, clinician_id=CLINICIAN_ID)
    committees = {
        k.committee_id: dataclasses.replace(k, name=keep(_pwn(n + 2)))
        for n, k in enumerate(sample.committees.values())
    }
    centres = {c.centre_id: dataclasses.replace(c, name=CENTRE) for c in sample.centres.values()}

    def moved(items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            dataclasses.replace(x, resident_id=new_id[x.resident_id])
            for x in items
            if x.resident_id in new_id
        )

    return dataclasses.replace(
        sample,
        centres=centres,
        committees=committees,
        clinicians=clinicians,
        residents={r.resident_id: r for r in residents.values()},
        history=moved(sample.history),
        requests=moved(sample.requests),
        sickbeds=moved(sample.sickbeds),
    )


@dataclasses.dataclass
class Pages:
    """The hostile service and the ids its pages need."""

    world: World
    approved: int
    draft: int
    replan_job: int
    replan_plan: int
    visits: list[str]  # team 1's visits in the draft whose resident id is hostile
    other_visit: str  # a visit of team 2 in the approved plan
    nurse_day: dt.date
    other_nurse_day: dt.date


TUESDAY = WEEK + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def on_the_plans_tuesday(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages open on Tuesday 10:00 of the planned week, whatever today is."""
    monkeypatch.setattr(workspace, "today", lambda: TUESDAY)
    monkeypatch.setattr(replan_pages, "now", lambda: dt.datetime.combine(TUESDAY, dt.time(10, 2)))


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    """Team 1's hostile registers imported, the week of both teams planned and approved, a
    draft of it, and a same-day re-plan of the approved week (done)."""
    workdir: Path = tmp_path_factory.mktemp("hostile-pages")
    sample = read_dataset(SAMPLE)
    with open_database("sqlite", workdir) as database:
        settings = settings_for(database.url)
        write_dataset(hostile_registers(sample, keep_refusable=True), workdir / "all")
        try:
            import_dataset(database.engine, workdir / "all", settings)
        except (DatasetError, DatabaseWriteError):  # the override refused: without it
            write_dataset(hostile_registers(sample, keep_refusable=False), workdir / "kept")
            import_dataset(database.engine, workdir / "kept", settings)
        with Session(database.engine) as session:
            for name, (role, team, clinician) in USERS.items():
                add_user(session, name, PASSWORD, role, team_id=team, clinician_id=clinician)
            problem = build_problem(load_dataset(session, ["MH03"]), WEEK, centre_ids=["MH03"])
            two = dataclasses.replace(
                problem,
                clinicians=tuple(c for c in problem.clinicians if c.team_id in TEAMS),
                visits=tuple(v for v in problem.visits if v.team_id in TEAMS),
            )
            plan, _ = solve(two, SolveParams(time_limit_s=4.0), workers=1)
            approved = save_plan(session, problem, plan, "MH03", base=None, saved_by="admin")
            approved = set_status(session, approved, PlanStatus.APPROVED)
            draft = save_plan(session, problem, plan, "MH03", base=approved, saved_by="lead1")
            session.commit()
            stops = session.scalars(
                select(PlanStopRow).where(PlanStopRow.plan_id == approved.plan_id)
            ).all()
        hostile_ids = set(PWN_IDS)
        visits = sorted({s.visit_id for s in stops if s.resident_id in hostile_ids})
        other = next(s.visit_id for s in stops if s.clinician_id.startswith(OTHER_TEAM))
        nurse_day = min(s.visit_date for s in stops if s.clinician_id == NURSE and s.resident_id)
        other_day = min(s.visit_date for s in stops if s.clinician_id == OTHER_NURSE)
        app = create_app(settings, start_jobs=False)
        with TestClient(app) as client:
            tokens = {name: make_token(name, settings.secret_key, 60) for name in USERS}
            world = World(
                client=client,
                settings=settings,
                plan_id=approved.plan_id,
                tokens=tokens,
                nurse1_day=nurse_day,
                nurse1_resident="",
                team1_resident="",
                team2_resident="",
            )
            sick = {
                "date": nurse_day.isoformat(),
                "at": "10:00",
                "absent": [{"clinician_id": NURSE}],
                "time_limit_s": 2,
            }
            started = client.post(
                f"/plans/{draft.plan_id}/replan", json=sick, headers=world.headers("lead1")
            )
            assert started.status_code == 202, started.text
            job = started.json()["job_id"]
            done = run_queued(world, job)
            assert done["status"] == "done", done
            yield Pages(
                world=world,
                approved=approved.plan_id,
                draft=draft.plan_id,
                replan_job=job,
                replan_plan=done["plan_id"],
                visits=visits,
                other_visit=other,
                nurse_day=nurse_day,
                other_nurse_day=other_day,
            )


def _q(text: str) -> str:
    return quote(text, safe="")


PAGES: dict[str, tuple[str, ...]] = {
    # name: (user, path template); {a} approved, {d} draft, {r} re-plan's draft, {j} its job,
    # {day} the nurse's day, {v0}.. the draft's visits of residents with hostile ids
    "leader-week": ("lead1", "/plans/{a}/week"),
    "leader-draft-week": ("lead1", "/plans/{d}/week"),
    "leader-replan-week": ("lead1", "/plans/{r}/week"),
    "leader-week-filtered": ("lead1", "/plans/{a}/week?clinician=" + NURSE + "&day={day}"),
    "leader-print": ("lead1", "/plans/{a}/print"),
    "leader-print-day": ("lead1", "/plans/{a}/print?clinician=" + NURSE + "&day={day}"),
    "leader-versions": ("lead1", "/plans/{a}/versions"),
    "leader-compare": ("lead1", "/plans/{a}/compare?other={r}"),
    "leader-same-day": ("lead1", "/plans/{d}/same-day"),
    "leader-progress": ("lead1", "/plan-jobs/{j}/progress"),
    "leader-review": ("lead1", "/plan-jobs/{j}/review"),
    "leader-registers": ("lead1", "/registers"),
    "leader-plan-form": ("lead1", "/plan-week"),
    "leader-reports": ("lead1", "/reports/page"),
    "leader-sickbeds": ("lead1", "/sickbeds"),
    "leader-visit-0": ("lead1", "/plans/{d}/visits/{v0}"),
    "leader-visit-1": ("lead1", "/plans/{d}/visits/{v1}"),
    "leader-visit-slash": ("lead1", "/plans/{d}/visits/{vslash}"),
    "leader-visit-approved": ("lead1", "/plans/{a}/visits/{v2}"),
    "admin-home": ("admin", "/admin"),
    "admin-overview": ("admin", "/overview"),
    "admin-week": ("admin", "/plans/{a}/week"),
    "admin-print": ("admin", "/plans/{a}/print"),
    "admin-compare": ("admin", "/plans/{a}/compare?other={r}"),
    "admin-review": ("admin", "/plan-jobs/{j}/review"),
    "admin-registers": ("admin", "/registers"),
    "admin-reports": ("admin", "/reports/page"),
    "admin-sickbeds": ("admin", "/sickbeds"),
    "admin-visit": ("admin", "/plans/{d}/visits/{v0}"),
    "planner-overview": ("planner", "/overview"),
    "planner-reports": ("planner", "/reports/page"),
    "nurse-day": ("nurse1", "/me/routes/{day}"),
}
PHONE_TOO = {
    "leader-week",
    "leader-print-day",
    "leader-same-day",
    "leader-review",
    "leader-compare",
    "leader-sickbeds",
    "leader-registers",
    "leader-visit-0",
    "leader-visit-slash",
    "admin-reports",
    "nurse-day",
}
"""The pages also opened at 360x740: those a leader or a nurse uses on a phone."""


def page_path(p: Pages, name: str) -> tuple[str, str]:
    """The user and the URL path of the page ``name``."""
    user, template = PAGES[name]
    slash = next(v for v in p.visits if "/" in v)
    plain = [v for v in p.visits if "/" not in v]
    path = template.format(
        a=p.approved,
        d=p.draft,
        r=p.replan_plan,
        j=p.replan_job,
        day=p.nurse_day.isoformat(),
        v0=_q(plain[0]),
        v1=_q(plain[1]),
        v2=_q(plain[2]),
        vslash=_q(slash),
    )
    return user, path


TOO_WIDE = """(width) => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 1)
  .filter(e => { for (let a = e.parentElement; a; a = a.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) return false; }
    return true; })
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > width + 1))
  .slice(0, 3).map(e => e.outerHTML.slice(0, 90))"""

CARDS_CUT = """(width) => [...document.querySelectorAll('td[data-label], td[data-label] *')]
  .filter(td => td.offsetParent !== null && td.getBoundingClientRect().right > width + 1).length"""
"""Cells of a table shown as cards on a phone that reach past the screen (inside a scroller
they do not widen the page, but their text is cut off)."""

FORMS_WITHOUT_TOKEN = """() => [...document.querySelectorAll('form')]
  .filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'post')
  .filter(f => { const t = f.querySelector('input[name=csrf_token]'); return !t || !t.value; })
  .map(f => f.getAttribute('action'))"""


@pytest.fixture(scope="module")
def browser(pages: Pages) -> Iterator[tuple[Any, str]]:
    """Chromium, and the hostile service's base URL."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with serve_app(pages.world.client.app) as served, sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            yield launched, served
        finally:
            launched.close()


def open_page(browser: tuple[Any, str], pages: Pages, user: str, size: tuple[int, int]) -> Any:
    """A new page of ``user`` (signed in by cookie) at ``size``, watched."""
    chromium, served = browser
    context = chromium.new_context(viewport={"width": size[0], "height": size[1]})
    context.add_cookies([{"name": TOKEN_COOKIE, "value": pages.world.tokens[user], "url": served}])
    page = context.new_page()
    page.hv_requests, page.hv_errors, page.hv_dialogs = [], [], []
    watch(page, page.hv_requests, page.hv_errors)
    page.on("dialog", lambda d: (page.hv_dialogs.append(d.message), d.dismiss()))
    return page


LINKS_FOLLOWED = {"leader-week", "leader-print-day", "leader-visit-0", "leader-review", "nurse-day"}
"""The pages whose links (on this service) are followed: none may lead to an error."""

_FOLLOWED: dict[tuple[str, str], int] = {}


def _broken_links(pages: Pages, user: str, served: str, hrefs: list[str]) -> list[str]:
    """The links among ``hrefs`` that answer 400 or more (each asked once per user; of the
    many visit links, those of hostile ids and a few others; a nurse's day without a plan is a
    404 page of its own, with its links on)."""
    client = _cookie_client(pages, user)
    targets = sorted({h.removeprefix(served).split("#")[0] for h in hrefs if h.startswith(served)})
    visits = [t for t in targets if "/visits/" in t]
    odd = [t for t in visits if "%" in t]
    keep = set(odd[:8] + [t for t in visits if "%" not in t][:4])
    broken = []
    for target in targets:
        if "/visits/" in target and target not in keep:
            continue
        if (user, target) not in _FOLLOWED:
            _FOLLOWED[user, target] = client.get(target).status_code
        code = _FOLLOWED[user, target]
        if code >= 400 and not (code == 404 and target.startswith("/me/routes/")):
            broken.append(f"link {target} answers {code}")
    return broken


SHOWN_TEXTS: list[str] = []
"""The text of every page opened (the last test checks that the values were shown)."""


@pytest.mark.parametrize("name", list(PAGES))
def test_no_hostile_value_runs_on_the_page(
    pages: Pages, browser: tuple[Any, str], name: str
) -> None:
    """The page opened in chromium (at 1280x800, and at 360x740 if used on a phone): answered,
    no script of a value runs, no dialog, no console error, nothing fetched from elsewhere,
    every post form carries its token, nothing wider than the screen."""
    user, path = page_path(pages, name)
    served = browser[1]
    sizes = [(1280, 800), (360, 740)] if name in PHONE_TOO else [(1280, 800)]
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in sizes:
        page = open_page(browser, pages, user, (width, height))
        where = f"{width}px"
        response = page.goto(served + path)
        if name == "leader-progress":  # a finished re-plan opens its review
            page.wait_for_url(re.compile(r"/review$"))
        page.wait_for_load_state("load")
        page.wait_for_timeout(100)
        if response is None or response.status != 200:
            problems.append(f"{where}: HTTP {response.status if response else 0}")
        if page.evaluate("typeof window.__pwned") != "undefined":
            problems.append(f"{where}: a value's script ran")
        if page.hv_dialogs:
            problems.append(f"{where}: dialog {page.hv_dialogs}")
        if page.hv_errors:
            problems.append(f"{where}: console {page.hv_errors[:3]}")
        away = [u for u in page.hv_requests if not u.startswith(served)]
        if away:
            problems.append(f"{where}: asked elsewhere {away[:3]}")
        bare = page.evaluate(FORMS_WITHOUT_TOKEN)
        if bare:
            problems.append(f"{where}: post forms without a token {bare}")
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > width:
            problems.append(f"{where}: {wide} px wide: {page.evaluate(TOO_WIDE, width)}")
        cut = page.evaluate(CARDS_CUT, width) if width < 640 else 0
        if cut:
            problems.append(f"{where}: {cut} card cells run past the screen's edge")
        if width == sizes[0][0] and name in LINKS_FOLLOWED:
            hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
            problems += [f"{where}: {bad}" for bad in _broken_links(pages, user, served, hrefs)]
        SHOWN_TEXTS.append(page.inner_text("body"))
        page.screenshot(
            path=str(ARTIFACTS / f"hostile-{name}-{width}x{height}.png"), full_page=True
        )
        page.context.close()
    assert problems == [], f"{user} {path}:\n" + "\n".join(problems)


def test_the_values_were_shown_as_typed(pages: Pages, browser: tuple[Any, str]) -> None:
    """Escaped, not dropped: across the pages opened, each hostile value reads as typed."""
    if len(SHOWN_TEXTS) < len(PAGES):
        pytest.skip("run with the page tests")
    text = "\n".join(SHOWN_TEXTS)
    assert [v for v in SHOWN if v not in text] == []


def test_a_visit_whose_resident_id_holds_a_slash_opens_and_its_forms_work(
    pages: Pages, browser: tuple[Any, str]
) -> None:
    """A resident id may hold a slash (the register allows it): his visit opens from the week's
    link, and its lock and unpin forms reach that visit (not a 404 of a shorter path)."""
    served = browser[1]
    slash = next(v for v in pages.visits if "/" in v)
    page = open_page(browser, pages, "lead1", (1280, 800))
    page.goto(f"{served}/plans/{pages.draft}/week")
    link = page.locator(f"a[href$='/visits/{quote(slash, safe='/')}']").first
    with page.expect_navigation():
        link.click()
    assert page.locator("h2, h1").first.is_visible()
    with page.expect_navigation() as locked:
        page.click("#hv-lock button")
    assert locked.value.status == 200
    assert page.locator("#hv-unpin").count() == 1  # locked: it can be unpinned
    with page.expect_navigation() as unpinned:
        page.click("#hv-unpin button")
    assert unpinned.value.status == 200 and page.locator("#hv-unpin").count() == 0
    assert page.hv_errors == [] and page.evaluate("typeof window.__pwned") == "undefined"
    page.context.close()


# --- every cookie-posted form: refused without its token -------------------------------------


def _cookie_client(pages: Pages, user: str) -> TestClient:
    client = TestClient(pages.world.client.app, follow_redirects=False)
    client.cookies.set(TOKEN_COOKIE, pages.world.tokens[user])
    return client


POSTS: dict[str, tuple[str, str]] = {
    # name: (user, path template), as page_path fills it
    "sign-out": ("lead1", "/logout"),
    "plan-week": ("lead1", "/plan-week"),
    "cancel-job": ("lead1", "/plan-jobs/{j}/cancel"),
    "move": ("lead1", "/plans/{d}/visits/{v0}/move"),
    "take-out": ("lead1", "/plans/{d}/visits/{v0}/remove"),
    "lock": ("lead1", "/plans/{d}/visits/{vslash}/lock"),
    "unpin": ("lead1", "/plans/{d}/visits/{v0}/unpin"),
    "new-draft": ("lead1", "/plans/{a}/new-draft"),
    "replan-around": ("lead1", "/plans/{d}/replan-around"),
    "same-day": ("lead1", "/plans/{d}/same-day"),
    "approve": ("lead1", "/plans/{r}/approve-form"),
    "registers": ("lead1", "/registers"),
    "record": ("nurse1", "/me/records"),
    "open sick-bed": ("lead1", "/sickbeds/open"),
    "discharge sick-bed": ("lead1", "/sickbeds/discharge"),
}


@pytest.mark.parametrize("name", list(POSTS))
@pytest.mark.parametrize("token", ["none", "another session's"])
def test_a_form_posted_without_its_token_is_refused(pages: Pages, name: str, token: str) -> None:
    """Each form the pages post with the cookie, sent with its fields but without its CSRF
    token (or with the token of another user's session): 403, said in Chinese and English,
    and nothing done (the plan's revision unchanged)."""
    user, template = POSTS[name]
    PAGES["_post"] = (user, template)
    try:
        path = page_path(pages, "_post")[1]
    finally:
        del PAGES["_post"]
    client = _cookie_client(pages, user)
    other = _cookie_client(pages, "lead2" if user != "lead2" else "lead1")
    stolen = re.search(r'name="csrf_token" value="([0-9a-f]+)"', other.get("/plan-week").text)
    fields: dict[str, Any] = {
        "revision": "1",
        "time_limit_s": "2",
        "week_start": WEEK.isoformat(),
        "clinician_id": NURSE,
        "day": pages.nurse_day.isoformat(),
        "action": "apply",
        "plan_id": str(pages.approved),
        "visit_id": pages.visits[0],
        "outcome": "completed",
        "note": PWN[0],
    }
    if token != "none":
        assert stolen is not None
        fields["csrf_token"] = stolen.group(1)
    files = {"files": ("residents.csv", b"resident_id\n", "text/csv")}
    before = client.get(f"/plans/{pages.draft}", headers=pages.world.headers("lead1")).json()
    answer = client.post(
        path,
        data=fields,
        files=files if name == "registers" else None,
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 403, (path, answer.status_code, answer.text[:300])
    detail = answer.json()["detail"]
    assert "表单已失效" in detail and "security token" in detail
    after = client.get(f"/plans/{pages.draft}", headers=pages.world.headers("lead1")).json()
    assert after["revision"] == before["revision"]


# --- downloads: no formula ---------------------------------------------------------------------


def _formulas_in_xlsx(body: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(body))
    found = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f" or (
                    isinstance(cell.value, str) and starts_formula(cell.value)
                ):
                    found.append(f"{sheet.title}!{cell.coordinate}={cell.value!r:.60}")
    return found


DOWNLOADS: dict[str, tuple[str, str]] = {
    "team register": ("lead1", "/registers/team.xlsx"),
    "plan xlsx": ("lead1", "/plans/{a}/export?format=xlsx"),
    "plan csv": ("lead1", "/plans/{a}/export?format=csv"),
    "report tables": ("admin", "/reports/tables/all?by=centre&format=xlsx"),
    "team report tables": ("lead1", "/reports/tables/all?by=team&format=xlsx"),
}


@pytest.mark.parametrize("name", list(DOWNLOADS))
def test_no_download_holds_a_formula(pages: Pages, name: str) -> None:
    """The files the pages link to (the team's register, the plan's export, the report
    tables), with hostile names in them: no formula cell, no text a spreadsheet would read
    as one."""
    user, template = DOWNLOADS[name]
    path = template.format(a=pages.approved)
    answer = _cookie_client(pages, user).get(path)
    assert answer.status_code == 200, (path, answer.text[:300])
    if "format=csv" in path:
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        found = [c for row in rows for c in row if starts_formula(c)]
    else:
        found = _formulas_in_xlsx(answer.content)
    assert found == []


# --- who sees what -----------------------------------------------------------------------------


def test_another_teams_leader_neither_reads_nor_changes_team_1s_visits(pages: Pages) -> None:
    """lead2 gets 404 for a visit of team 1 (to read, to check a move, to lock it), his week
    and print sheets hold none of team 1's residents or clinicians, the re-plan's review of
    team 1 is not his, and the same-day form lists his team only."""
    lead2 = _cookie_client(pages, "lead2")
    form = lead2.get(f"/plans/{pages.draft}/same-day")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert token is not None
    for visit in pages.visits[:2]:
        url = f"/plans/{pages.draft}/visits/{_q(visit)}"
        assert lead2.get(url).status_code == 404
        what_if = {"to_clinician": OTHER_NURSE, "to_day": pages.nurse_day.isoformat()}
        assert lead2.get(url, params=what_if).status_code == 404
        locked = lead2.post(url + "/lock", data={"csrf_token": token.group(1)})
        assert locked.status_code == 404, locked.text[:200]
    own = lead2.get(f"/plans/{pages.draft}/visits/{_q(pages.other_visit)}")
    assert own.status_code == 200  # his own team's visit opens
    hostile_ids = [i for i in PWN_IDS if "R" in i]
    for url in (
        f"/plans/{pages.approved}/week",
        f"/plans/{pages.approved}/print",
        f"/plans/{pages.approved}/print?clinician={NURSE}&day={pages.nurse_day}",
        f"/plans/{pages.draft}/same-day",
    ):
        page = lead2.get(url)
        assert page.status_code == 200, url
        text = page.text
        assert NURSE not in text and html_escape(CLINICIAN_ID) not in text, url
        assert not [i for i in hostile_ids if html_escape(i) in text], url
    assert lead2.get(f"/plan-jobs/{pages.replan_job}/review").status_code == 404
    assert lead2.get(f"/plan-jobs/{pages.replan_job}/progress").status_code == 404


def test_a_nurse_sees_her_own_routes_only(pages: Pages) -> None:
    """nurse2's day shows none of nurse1's residents; the team pages, another nurse's day map
    and the visit pages are not hers."""
    nurse2 = _cookie_client(pages, "nurse2")
    day = nurse2.get(f"/me/routes/{pages.nurse_day}")
    assert day.status_code in (200, 404)
    assert not [i for i in PWN_IDS if html_escape(i) in day.text]
    refused = [
        f"/plans/{pages.approved}/maps/day/{NURSE}/{pages.nurse_day}",
        f"/plans/{pages.approved}/week",
        f"/plans/{pages.approved}/print",
        f"/plans/{pages.approved}/versions",
        f"/plans/{pages.draft}/visits/{_q(pages.visits[0])}",
        f"/plan-jobs/{pages.replan_job}/review",
        f"/plans/{pages.draft}/same-day",
        "/registers",
    ]
    for url in refused:
        answer = nurse2.get(url)
        assert answer.status_code in (403, 404), (url, answer.status_code)
        assert not [i for i in PWN_IDS if html_escape(i) in answer.text], url


def test_a_planner_opens_no_resident_page(pages: Pages) -> None:
    """The planner sees figures, never a resident: the week, print, visit, same-day and
    review pages are refused."""
    planner = _cookie_client(pages, "planner")
    for url in (
        f"/plans/{pages.approved}/week",
        f"/plans/{pages.approved}/print",
        f"/plans/{pages.draft}/visits/{_q(pages.visits[0])}",
        f"/plans/{pages.draft}/same-day",
        f"/plan-jobs/{pages.replan_job}/review",
    ):
        assert planner.get(url).status_code in (403, 404), url


AUDITED = {
    "/plans/{a}/week": ("lead1", "read week page"),
    "/plans/{a}/print": ("lead1", "print route sheets"),
    "/plans/{d}/visits/{v0}": ("lead1", "read visit details"),
    "/plans/{d}/same-day": ("lead1", "read same-day form"),
    "/plan-jobs/{j}/review": ("lead1", "read re-plan changes"),
    "/plans/{a}/compare?other={r}": ("lead1", "read version comparison"),
    "/registers/team.xlsx": ("lead1", "download register"),
    "/plans/{d}/visits/{v1}": ("admin", "read visit details"),
    "/me/routes/{day}": ("nurse1", "read own route"),
}


@pytest.mark.parametrize("template", list(AUDITED))
def test_reading_residents_on_a_page_is_audited(pages: Pages, template: str) -> None:
    """Opening a page that shows residents writes one audit line: who, what, the residents'
    ids (never their names or addresses)."""
    user, action = AUDITED[template]
    PAGES["_audit"] = (user, template)
    try:
        path = page_path(pages, "_audit")[1]
    finally:
        del PAGES["_audit"]
    engine = pages.world.client.app.state.engine  # type: ignore[attr-defined]
    audit_log = pages.world.client.app.state.audit  # type: ignore[attr-defined]
    audit_log.flush()
    with Session(engine) as session:
        last = session.scalar(select(func.max(AuditRow.audit_id))) or 0
    assert _cookie_client(pages, user).get(path).status_code == 200
    audit_log.flush()
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditRow).where(AuditRow.audit_id > last, AuditRow.username == user)
        ).all()
    assert [r.action for r in rows] == [action]
    assert rows[0].resident_ids
    names = [t for t in PWN if not any(t in i for i in PWN_IDS)]  # not an id's text too
    assert not [t for t in names if t in rows[0].resident_ids + rows[0].detail]


# --- the two forms that take typed text: the register upload, the nurse's record ---------------


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_the_upload_error_table_shows_hostile_values_as_text(
    pages: Pages, browser: tuple[Any, str], tmp_path: Path
) -> None:
    """A copy of the workbook as a computer names it ("(1)", "（副本）"), whose wrong cells hold
    scripts and formulas: read, and the error table names the file, row, column and value as
    typed; a file named like a tag is refused, its name shown as text; nothing runs, nothing is
    imported."""
    tables = team_register(TEAM)
    residents = tables["residents"]
    residents.loc[0, "name"] = PWN[0]
    residents.loc[0, "birth_date"] = PWN[1]
    residents.loc[1, "lat"] = PWN[6]  # (openpyxl would write PWN[5] as a formula)
    residents.loc[2, "committee_id"] = "</script><script>window.__pwned=1</script>"
    copy = tmp_path / "团队档案 (1)（副本）.xlsx"
    copy.write_bytes(workbook(tables))
    tagged = tmp_path / '"><img src=x onerror=window.__pwned=1>.xlsx'
    tagged.write_bytes(workbook(tables))
    served = browser[1]
    engine = pages.world.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        before = sorted(session.scalars(select(ResidentRow.resident_id)))
    for width, height in ((1280, 800), (360, 740)):
        page = open_page(browser, pages, "lead1", (width, height))
        page.goto(f"{served}/registers")
        page.set_input_files("#files", str(copy))
        with page.expect_navigation() as sent:
            page.click("form.hv-upload button[type=submit]")
        assert sent.value.status == 422
        table = page.inner_text(".hv-problem-table")
        assert copy.name in table and PWN[1] in table and PWN[6] in table
        assert "</script><script>window.__pwned=1</script>" in table
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(
            path=str(ARTIFACTS / f"hostile-upload-errors-{width}x{height}.png"), full_page=True
        )
        page.set_input_files("#files", str(tagged))
        with page.expect_navigation() as sent:
            page.click("form.hv-upload button[type=submit]")
        assert sent.value.status == 422
        said = page.inner_text("main")
        assert "onerror=window.__pwned=1>.xlsx" in said and "不能导入" in said
        assert page.evaluate("typeof window.__pwned") == "undefined" and page.hv_dialogs == []
        assert [e for e in page.hv_errors if "422" not in e] == []
        page.context.close()
    with Session(engine) as session:
        assert sorted(session.scalars(select(ResidentRow.resident_id))) == before


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_the_nurse_records_a_hostile_note_and_a_hostile_reading(
    pages: Pages, browser: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On her day page (360 px), a reading typed as a tag is refused with the reasons shown as
    text; a note holding a script is saved as typed and shown as text; nothing runs."""
    monkeypatch.setattr(workspace, "today", lambda: pages.nurse_day)
    served = browser[1]
    page = open_page(browser, pages, "nurse1", (360, 740))
    page.goto(f"{served}/me/routes/{pages.nurse_day}")
    stops = page.locator("li.hv-stop")
    recordable = stops.evaluate_all("li => li.map(x => !!x.querySelector('form.hv-record'))")
    stop = stops.nth(recordable.index(True))  # by place: once saved, it holds no form
    stop.locator("summary").click()
    record = stop.locator("form.hv-record")
    systolic = record.locator("input[name=systolic_mmhg]")
    systolic.evaluate("field => { field.type = 'text'; }")  # as a hand-made post could send it
    systolic.fill('"><img src=x onerror=window.__pwned=1>')
    record.locator("input[name=note]").fill(PWN[0])
    record.locator("button[type=submit]").click()
    refused = record.locator(".hv-save-status.hv-failed")
    refused.wait_for()
    assert "未保存" in refused.inner_text() and "Not saved" in refused.inner_text()
    record.locator("input[name=systolic_mmhg]").fill("130")
    record.locator("input[name=diastolic_mmhg]").fill("80")
    record.locator("button[type=submit]").click()
    stop.locator(".hv-recorded").wait_for()
    assert "已保存 Saved" in stop.inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined" and page.hv_dialogs == []
    assert [e for e in page.hv_errors if "422" not in e] == []
    page.screenshot(path=str(ARTIFACTS / "hostile-nurse-record-360x740.png"), full_page=True)
    page.context.close()
    engine = pages.world.client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        notes = set(session.scalars(select(VisitRecordRow.note)))
    assert PWN[0] in notes


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_the_changes_to_approve_fit_a_phone_with_long_values(
    pages: Pages, browser: tuple[Any, str]
) -> None:
    """At 360 px the re-plan's changes are one card per visit within the screen, each long
    value wrapped inside its card (none cut off at the card's edge)."""
    page = open_page(browser, pages, "lead1", (360, 740))
    page.goto(f"{browser[1]}/plan-jobs/{pages.replan_job}/review")
    cards = page.locator("#hv-changes tbody tr")
    assert cards.count() > 0
    outside = cards.evaluate_all(
        "rows => rows.filter(r => r.getBoundingClientRect().right > 360).length"
    )
    clipped = page.eval_on_selector_all(
        "#hv-changes td > div",
        "cells => cells.filter(c => c.scrollWidth > c.clientWidth + 1).length",
    )
    page.locator("#hv-changes").screenshot(path=str(ARTIFACTS / "hostile-review-cards-360.png"))
    page.context.close()
    assert (outside, clipped) == (0, 0)


# --- hostile query strings and form fields: refused or ignored, never a 500 --------------------

RAW = "</script><script>window.__pwned=1</script>"
ODD = [RAW, "'\"><svg onload=alert(1)>", "2026-13-45", "-1", "9" * 30, "\u202e", "a\u2028b", "%00"]


def _odd_requests(p: Pages) -> list[tuple[str, str, str, dict[str, str]]]:
    """(user, method, path, form or query) with odd values in every field the pages read."""
    a, d, v = p.approved, p.draft, _q(p.visits[0])
    asks: list[tuple[str, str, str, dict[str, str]]] = []
    for odd in ODD:
        asks += [
            ("lead1", "GET", f"/plans/{a}/week", {"clinician": odd, "day": odd, "programme": odd}),
            ("lead1", "GET", f"/plans/{a}/print", {"clinician": odd, "day": odd}),
            ("lead1", "GET", f"/plans/{a}/compare", {"other": odd}),
            ("lead1", "GET", f"/plans/{d}/visits/{v}", {"to_clinician": odd, "to_day": odd}),
            ("lead1", "GET", f"/plans/{d}/visits/{v}", {"to_clinician": NURSE, "to_day": odd}),
            (
                "lead1",
                "GET",
                f"/plans/{d}/visits/{v}",
                {"to_clinician": NURSE, "to_day": p.nurse_day.isoformat(), "to_start": odd},
            ),
            ("lead1", "GET", f"/plans/{d}/visits/{_q(odd)}", {}),
            ("lead1", "GET", "/reports/page", {"from": odd, "to": odd, "by": odd}),
            ("admin", "GET", "/reports/page", {"centre_id": odd}),
            ("nurse1", "GET", f"/me/routes/{_q(odd)}", {}),
            ("lead1", "POST", f"/plans/{d}/visits/{v}/move", {"clinician_id": odd, "day": odd}),
            (
                "lead1",
                "POST",
                f"/plans/{d}/visits/{v}/move",
                {"clinician_id": NURSE, "day": p.nurse_day.isoformat(), "start": odd},
            ),
            ("lead1", "POST", f"/plans/{d}/visits/{v}/remove", {"revision": odd}),
            ("lead1", "POST", "/plan-week", {"week_start": odd, "time_limit_s": odd}),
            ("lead1", "POST", f"/plans/{d}/replan-around", {"time_limit_s": odd}),
            (
                "lead1",
                "POST",
                f"/plans/{d}/same-day",
                {"date": odd, "at": odd, "clinician": NURSE, "absent_mode": odd},
            ),
            (
                "lead1",
                "POST",
                f"/plans/{d}/same-day",
                {
                    "date": p.nurse_day.isoformat(),
                    "at": "10:00",
                    "clinician": NURSE,
                    "absent_mode": "",
                    "absent_until": odd,
                    "late_until": odd,
                    "visit": odd,
                    "visit_action": odd,
                    "visit_to": odd,
                },
            ),
            ("lead1", "POST", f"/plans/{p.replan_plan}/approve-form", {"revision": odd}),
            (
                "nurse1",
                "POST",
                "/me/records",
                {"plan_id": str(a), "visit_id": odd, "outcome": odd, "note": odd},
            ),
        ]
    return asks


def test_odd_values_in_queries_and_forms_are_refused_never_a_500(pages: Pages) -> None:
    """Every field the new pages read, sent with a tag, a quote, a date that is no day, a huge
    number, an override, a line separator: an answer below 500, and a tag sent is never sent
    back unescaped in a page (a JSON refusal may name it: the browser shows it as text)."""
    failures = []
    tokens = {}
    for user in ("lead1", "admin", "nurse1"):
        page = _cookie_client(pages, user).get("/registers" if user != "nurse1" else "/")
        found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        tokens[user] = found.group(1) if found else ""
    if not tokens["nurse1"]:
        got = _cookie_client(pages, "nurse1").get(f"/me/routes/{pages.nurse_day}")
        found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', got.text)
        tokens["nurse1"] = found.group(1) if found else ""
    for user, method, path, values in _odd_requests(pages):
        client = _cookie_client(pages, user)
        if method == "GET":
            answer = client.get(path, params=values)
        else:
            answer = client.post(path, data={**values, "csrf_token": tokens[user]})
        page = answer.headers.get("content-type", "").startswith("text/html")
        if answer.status_code >= 500 or (page and RAW in answer.text):
            failures.append(f"{method} {path} {values}: {answer.status_code} {answer.text[:200]}")
    assert failures == [], "\n".join(failures[:10])


def test_the_json_api_reaches_ids_that_hold_a_slash(pages: Pages) -> None:
    """The API takes any id the register accepts, as the pages do: a resident and a clinician
    whose ids hold a slash are read, and a pin of such a visit is looked up as that visit (its
    answer names the visit, not a 404 of a shorter path)."""
    world = pages.world
    lead = world.headers("lead1")
    resident = next(i for i in PWN_IDS if "/" in i)
    read = world.client.get(f"/residents/{_q(resident)}", headers=lead)
    assert read.status_code == 200 and read.json()["resident_id"] == resident
    clinician = world.client.get(f"/clinicians/{_q(CLINICIAN_ID)}", headers=lead)
    assert clinician.status_code == 200 and clinician.json()["clinician_id"] == CLINICIAN_ID
    visit = next(v for v in pages.visits if "/" in v)
    unpinned = world.client.delete(f"/plans/{pages.draft}/pins/{_q(visit)}", headers=lead)
    assert unpinned.status_code == 404
    assert unpinned.json() == {"detail": f"no pin of visit {visit}"}
