"""One escaping rule for everything the map pages render (the browser test is in
tests/service/api/test_hostile_values.py; these pin the rule itself, quickly)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re

import folium
import pytest

from maps.base import MapPage, finish_page, new_map, script_json
from maps.compare import render_plan_comparison
from maps.day import render_clinician_day
from maps.week import render_team_week
from scheduler.evaluate import Reason
from scheduler.model import Dataset, Plan, Problem
from tests.hostile import HOSTILE_TEXTS
from tests.maps.conftest import CENTRE


@pytest.mark.parametrize("value", HOSTILE_TEXTS)
def test_script_json_cannot_leave_its_literal(value: str) -> None:
    """A value in a page's script can close neither the script, nor a string, nor a template
    literal (``</script>``, quotes, backtick, ``${``, U+2028), and still reads back as itself."""
    literal = script_json({"text": value})
    assert not set(literal) & set("<>&'`$\u2028\u2029")
    assert json.loads(literal) == {"text": value}


def _hostile_world(dataset: Dataset, problem: Problem) -> tuple[Dataset, Problem]:
    """The map fixtures with every name, address and label hostile."""
    residents = {
        k: dataclasses.replace(r, name=HOSTILE_TEXTS[i], address=HOSTILE_TEXTS[-1 - i])
        for i, (k, r) in enumerate(sorted(dataset.residents.items()))
    }
    centres = {k: dataclasses.replace(c, name=HOSTILE_TEXTS[0]) for k, c in problem.centres.items()}
    clinicians = tuple(
        dataclasses.replace(c, name=HOSTILE_TEXTS[1 + i]) for i, c in enumerate(problem.clinicians)
    )
    return (
        dataclasses.replace(dataset, residents=residents, centres=centres),
        dataclasses.replace(problem, centres=centres, clinicians=clinicians),
    )


def _pages(
    dataset: Dataset, problem: Problem, plan: Plan, replan: Plan, reasons: dict[str, Reason]
) -> list[MapPage]:
    dataset, problem = _hostile_world(dataset, problem)
    route = plan.routes[0]
    hostile_reasons = {k: Reason(en=HOSTILE_TEXTS[2], zh=HOSTILE_TEXTS[3]) for k in reasons}
    return [
        render_clinician_day(problem, plan, route.clinician_id, route.day, dataset.residents),
        render_clinician_day(
            problem, plan, route.clinician_id, route.day, dataset.residents, mask_names=False
        ),
        render_team_week(problem, plan, "T1", hostile_reasons, dataset.residents),
        render_plan_comparison(
            problem, plan, replan, HOSTILE_TEXTS[1], HOSTILE_TEXTS[2], residents=dataset.residents
        ),
    ]


def test_every_page_has_one_inline_script_and_its_hash(
    dataset: Dataset, problem: Problem, plan: Plan, replan: Plan, reasons: dict[str, Reason]
) -> None:
    """With hostile names everywhere, each page still has exactly the scripts it was built with:
    Leaflet, jQuery (a day page: Leaflet.markercluster) and one inline script whose SHA-256 is the
    page's ``script_hashes`` (what the service allows in its Content-Security-Policy); no value
    adds a tag or a handler."""
    pages = _pages(dataset, problem, plan, replan, reasons)
    assert any("\ufffdexe.王秀英" in page for page in pages)
    for page in pages:
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S | re.I)
        day = "L.markerClusterGroup" in page  # a day page: its stops may gather
        assert [attrs for attrs, _ in scripts if "src=" in attrs] == [
            ' src="assets/leaflet.js"',
            ' src="assets/jquery.min.js"',
            *([' src="assets/leaflet.markercluster.js"'] if day else []),
        ]
        inline = [body for attrs, body in scripts if "src=" not in attrs]
        assert len(inline) == 1
        digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
        assert page.script_hashes == (f"'sha256-{digest}'",)
        # The page carries the policy itself, first in its head (for pages opened from disk).
        head = page.split("<head>", 1)[1].lstrip()
        assert head.startswith('<meta http-equiv="Content-Security-Policy" content="')
        assert f"script-src &#x27;self&#x27; &#x27;sha256-{digest}&#x27;;" in head.split(">")[0]
        assert not re.search(r"<(img|svg|textarea)\b", page, flags=re.I)
        assert "`${alert" not in inline[0] and "</script" not in inline[0].lower()
        # A right-to-left override is shown (as U+FFFD), not obeyed: nothing after it reversed.
        assert "\u202e" not in page


def test_tooltips_and_layer_names_are_text(
    dataset: Dataset, problem: Problem, plan: Plan, replan: Plan, reasons: dict[str, Reason]
) -> None:
    """Tooltips (which folium puts raw in a template literal) carry escaped HTML in a JSON
    string; layer names are escaped; the hostile text is kept, readable, in escaped form."""
    week = _pages(dataset, problem, plan, replan, reasons)[2]
    assert "bindTooltip(`" not in week
    escaped = script_json("<div>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; (中心")
    assert escaped[:-1] in week  # the centre's tooltip, open quote to the name


def test_a_popup_is_refused() -> None:
    """Popups take HTML: the pages use tooltips only, and a popup added later fails loudly
    instead of showing a value unescaped."""
    fmap = new_map(CENTRE, [], tiles="none", assets_url="assets")
    folium.Marker((CENTRE.lat, CENTRE.lon), popup="<b>x</b>").add_to(fmap)
    with pytest.raises(TypeError, match="popups"):
        finish_page(fmap, title="t", header_html="", body_html="", lang="zh")


@pytest.mark.parametrize(
    ("tiles", "origin"),
    [("osm", "https://tile.openstreetmap.org"), ("amap", "https://*.is.autonavi.com")],
)
def test_the_page_policy_lets_its_tiles_in(
    dataset: Dataset, problem: Problem, plan: Plan, tiles: str, origin: str
) -> None:
    """A page with a tile background allows images from that tile server, and no other."""
    route = plan.routes[0]
    page = render_clinician_day(
        problem, plan, route.clinician_id, route.day, dataset.residents, tiles=tiles
    )
    policy = page.split('http-equiv="Content-Security-Policy" content="', 1)[1].split('"', 1)[0]
    assert f"img-src &#x27;self&#x27; data: {origin};" in policy
