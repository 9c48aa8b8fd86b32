"""The team leader's week timeline as a model: in every lane of the sample centre's planned
week, no two blocks overlap (a click on a block opens that block's visit, never a neighbour's)
and every visit's block shows its own true times."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from service.api.workspace import Block, WeekFilters, week_view
from service.db.tables import PlanRow, UserRole
from service.users import Principal
from tests.service.api.conftest import World


def overlaps(blocks: tuple[Block, ...]) -> list[tuple[str, str]]:
    """Pairs of blocks of one lane whose spans on the timeline overlap."""
    # Overtime is a band under the lane (hv.css), over the spans it marks: not a block here.
    placed = sorted((b for b in blocks if b.kind != "overtime"), key=lambda b: b.left_pct)
    return [
        (f"{a.kind} {a.times}", f"{b.kind} {b.times}")
        for i, a in enumerate(placed)
        for b in placed[i + 1 :]
        if b.left_pct < a.left_pct + a.width_pct - 1e-9
    ]


def test_no_two_blocks_of_a_lane_overlap_on_the_planned_week(world: World) -> None:
    """Touching blocks share an edge, waiting stops at lunch, lunch gives way to travel."""
    engine = create_engine(world.settings.database_url)
    try:
        with Session(engine) as session:
            plan = session.get(PlanRow, world.plan_id)
            assert plan is not None
            for team in ("MH03-T1", "MH03-T2"):
                lead = Principal("lead", UserRole.TEAM_LEADER, "MH03", team, None)
                view = week_view(session, world.settings, lead, plan, WeekFilters())
                assert view.lanes
                for lane in view.lanes:
                    where = (lane.clinician_id, lane.day)
                    assert overlaps(lane.blocks) == [], where
    finally:
        engine.dispose()
