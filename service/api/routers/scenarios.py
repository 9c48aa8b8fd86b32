"""What-if scenarios: the bundled definitions, and runs of them as jobs (planners, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response, status

from scenarios.scenario import ScenarioError, bundled_scenarios, load_scenario
from service.api.access import not_found
from service.api.deps import DbSession, ServiceSettings, require_roles
from service.api.models import JobView, RunRequest, ScenarioView
from service.api.routers.jobs import queue_job
from service.db.tables import UserRole
from service.users import Principal

router = APIRouter(prefix="/scenarios", tags=["scenarios"])

Planners = Annotated[Principal, require_roles(UserRole.ADMIN, UserRole.PLANNER)]


def _scenarios() -> dict[str, ScenarioView]:
    found = {}
    for path in bundled_scenarios():
        try:
            scenario = load_scenario(path)
        except ScenarioError:
            continue  # a broken file is reported by `homevisit scenario run`, not here
        found[path.stem] = ScenarioView(
            name=path.stem,
            question=scenario.question,
            base=scenario.base,
            week=scenario.week,
            changes=[type(c).__name__ for c in scenario.changes],
        )
    return found


@router.get("", response_model=list[ScenarioView])
def list_scenarios(user: Planners) -> list[ScenarioView]:
    """The bundled scenarios."""
    return list(_scenarios().values())


@router.get("/{name}", response_model=ScenarioView, responses={404: {"description": "Not found"}})
def get_scenario(name: str, user: Planners) -> ScenarioView:
    """One scenario."""
    found = _scenarios().get(name)
    if found is None:
        raise not_found("scenario", name)
    return found


@router.post(
    "/{name}/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses={404: {"description": "Not found"}, 409: {"description": "Already running"}},
)
def run_scenario(
    request: Request,
    response: Response,
    name: str,
    body: RunRequest,
    user: Planners,
    session: DbSession,
    settings: ServiceSettings,
) -> JobView:
    """Plan the scenario's week as a job; its figures are the job's KPIs when done."""
    found = _scenarios().get(name)
    if found is None:
        raise not_found("scenario", name)
    view = queue_job(
        request,
        session,
        settings,
        user,
        centre_id=f"scenario:{name}"[:64],
        week_start=found.week,
        team_id=None,
        options={"kind": "scenario", "scenario": name, "time_limit_s": body.time_limit_s},
    )
    response.headers["Location"] = f"/plan-jobs/{view.job_id}"
    return view
