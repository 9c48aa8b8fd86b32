"""The record form of each stop on a served day page: what happened, the readings, the place.

The nurse records a visit where it happens, on her phone: the outcome (已完成 done, 未在家 not at
home, 拒绝 refused, 住院 in hospital, 已故 deceased), the blood pressure and glucose, for a health
check the tests done (ticked by default: those the programme includes), at a sick-bed round
whether the sick-bed ends today (撤床), and the place (home or committee). The form posts with
the sign-in cookie and its CSRF token; a small script of the service (``record.js``) sends it in
the background, says whether it was saved, and keeps what was typed on the phone when the
connection fails. Without the script the form still posts.

A page written to disk (``homevisit plan --maps``) has no forms: nothing to post to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from maps.base import esc
from scheduler.model import (
    HEALTH_CHECK_TEST_LABELS_ZH,
    HEALTH_CHECK_TESTS,
    OUTCOME_LABELS_ZH,
    Place,
    VisitOutcome,
)
from scheduler.programmes import Programme

__all__ = [
    "OUTCOME_LABELS_EN",
    "PLACE_LABELS",
    "RECORD_CSS",
    "SICKBED_ROUND",
    "RecordedVisit",
    "Recording",
    "record_form_html",
    "recorded_html",
    "recorded_text",
]

OUTCOME_LABELS_EN: Final = {
    VisitOutcome.COMPLETED: "Done",
    VisitOutcome.NOT_HOME: "Not at home",
    VisitOutcome.REFUSED: "Refused",
    VisitOutcome.HOSPITALISED: "In hospital",
    VisitOutcome.DECEASED: "Deceased",
}

TEST_LABELS_EN: Final = {
    "blood_routine": "Blood routine",
    "urine_routine": "Urine routine",
    "liver": "Liver function",
    "kidney": "Kidney function",
    "lipids": "Blood lipids",
    "ecg": "ECG",
    "b_ultrasound": "B-ultrasound",
}

SICKBED_ROUND: Final = "sickbed_round"
"""The programme whose visit may end the home sick-bed (撤床, counted by Annex 3)."""

PLACE_LABELS: Final = {Place.HOME: ("入户", "Home"), Place.COMMITTEE: ("居委会", "Committee")}


@dataclass(frozen=True, slots=True)
class RecordedVisit:
    """What is stored for a stop: the page shows it instead of the form."""

    outcome: VisitOutcome
    systolic_mmhg: int | None = None
    diastolic_mmhg: int | None = None
    glucose_mmol_l: float | None = None
    tests: frozenset[str] = frozenset()
    place: str = ""
    note: str = ""
    correctable: bool = False  # she may still correct it (更正): her own, on the visit's day
    corrected: bool = False  # it was corrected before (what it said is kept)


@dataclass(frozen=True, slots=True)
class Recording:
    """The record forms of a served day page.

    ``action`` is where the forms post, ``csrf_token`` the session's form token, ``plan_id``
    the approved plan whose stops they record, ``script_url`` the script that sends them in the
    background; ``recorded`` what is already stored, by visit id; ``open`` is false for a day
    still to come (nothing to record yet); ``correct_action`` is where a correction of a stored
    record posts.
    """

    action: str
    csrf_token: str
    plan_id: int
    script_url: str
    recorded: Mapping[str, RecordedVisit] = field(default_factory=dict)
    open: bool = True
    correct_action: str = ""


RECORD_CSS: Final = """
.hv-record-box { margin-top: 10px; }
.hv-record-box summary { display: flex; align-items: center; min-height: 44px; padding: 0 14px;
       border-radius: 8px; background: #1f5f8b; color: #fff; font-weight: 600; cursor: pointer;
       width: fit-content; }
.hv-record-box summary .en { color: #dbe9f3; margin-left: 4px; }
.hv-record-box[open] summary { background: #e8f1f8; color: #124a6e; }
.hv-record-box[open] summary .en { color: #124a6e; }
.hv-record { margin-top: 8px; padding-top: 8px; border-top: 1px dashed #ccc; }
.hv-record input { box-sizing: border-box; }
.hv-record fieldset { border: 0; padding: 0; margin: 0 0 8px; min-width: 0; }
.hv-record legend { font-weight: 600; padding: 0; margin-bottom: 4px; }
.hv-choices { display: flex; flex-wrap: wrap; gap: 6px; }
.hv-choice { display: inline-flex; align-items: center; gap: 6px; min-height: 44px;
       padding: 0 10px; border: 1px solid #b8c7d3; border-radius: 8px; background: #f4f8fb; }
.hv-choice input { width: 22px; height: 22px; margin: 0; }
.hv-choice:has(input:checked) { background: #1f5f8b; color: #fff; border-color: #1f5f8b; }
.hv-readings { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr));
       gap: 6px 10px; margin-bottom: 8px; }
.hv-readings label, .hv-note { display: flex; flex-direction: column; font-size: 0.95rem; }
.hv-record input[type=number], .hv-record input[type=text] { font-size: 18px; min-height: 44px;
       padding: 4px 8px; border: 1px solid #8c959f; border-radius: 6px; width: 100%; }
.hv-record:has(input[name=outcome][value=completed]:not(:checked)) .hv-if-done { display: none; }
.hv-record button { min-height: 48px; min-width: 44px; padding: 0 18px; border-radius: 8px;
       border: 1px solid #1f5f8b; background: #1f5f8b; color: #fff; font-size: 17px;
       font-weight: 600; margin-top: 6px; }
.hv-record button.hv-retry { background: #fff; color: #1f5f8b; margin-left: 8px; }
.hv-save-status:empty { display: none; }
.hv-save-status { margin: 8px 0 0; padding: 8px 10px; border-radius: 6px; font-weight: 600;
       white-space: pre-line; }
.hv-save-status.hv-ok { background: #e6f4ea; color: #1a7f37; }
.hv-save-status.hv-failed { background: #fdecea; color: #8e2418; border: 1px solid #c0392b; }
.hv-save-status.hv-pending { background: #fff8e1; color: #7a5c00; }
.hv-recorded { margin-top: 8px; padding: 8px 10px; border-radius: 6px; background: #e6f4ea;
       color: #1a5d2e; font-weight: 600; }
.hv-recorded.hv-missed { background: #fff4e5; color: #8a4b00; }
.hv-not-yet { margin-top: 8px; }
.hv-correct-box summary { background: #fff; color: #1f5f8b; border: 1px solid #1f5f8b; }
.hv-record-box:not(.hv-correct-box) .hv-if-correct { display: none; }
.hv-corrected-mark { font-weight: 400; }
"""


def _outcome_text(outcome: VisitOutcome) -> str:
    return f"{OUTCOME_LABELS_ZH[outcome]} {OUTCOME_LABELS_EN[outcome]}"


def recorded_text(recorded: RecordedVisit) -> str:
    """A stored record in words (Chinese, English beside), plain text."""
    parts = [_outcome_text(recorded.outcome)]
    if recorded.systolic_mmhg is not None and recorded.diastolic_mmhg is not None:
        parts.append(f"血压 BP {recorded.systolic_mmhg}/{recorded.diastolic_mmhg} mmHg")
    if recorded.glucose_mmol_l is not None:
        parts.append(f"血糖 glucose {recorded.glucose_mmol_l:g} mmol/L")
    if recorded.tests:
        done = [HEALTH_CHECK_TEST_LABELS_ZH[t] for t in HEALTH_CHECK_TESTS if t in recorded.tests]
        parts.append("检查 tests: " + "、".join(done))
    return " · ".join(parts)


def recorded_html(recorded: RecordedVisit) -> str:
    """A stored record as the stop shows it (escaped)."""
    kind = "" if recorded.outcome is VisitOutcome.COMPLETED else " hv-missed"
    text = esc(recorded_text(recorded))
    if recorded.note:
        text += f" · 备注 Note: {esc(recorded.note)}"
    mark = (
        ' <span class="hv-corrected-mark">（已更正 corrected）</span>' if recorded.corrected else ""
    )
    return f'<div class="hv-recorded{kind}" role="status">已记录 Recorded: {text}{mark}</div>'


def _choice(name: str, value: str, zh: str, en: str, checked: bool, kind: str = "radio") -> str:
    mark = " checked" if checked else ""
    return (
        f'<label class="hv-choice"><input type="{kind}" name="{esc(name)}" '
        f'value="{esc(value)}"{mark}> {esc(zh)} <span class="en">{esc(en)}</span></label>'
    )


def _number(
    name: str, zh: str, en: str, unit: str, step: str, mode: str, value: object = None
) -> str:
    # No min/max: the service checks the ranges (service.db.records) and says what is right.
    shown = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return (
        f'<label>{esc(zh)} <span class="en">{esc(en)} ({esc(unit)})</span>'
        f'<input type="number" name="{esc(name)}" inputmode="{mode}" step="{step}" '
        f'value="{esc(shown)}" autocomplete="off"></label>'
    )


def record_form_html(
    visit_id: str, programme: Programme | None, recording: Recording, resident_stop: bool
) -> str:
    """The stop's form, its stored record (with the form to correct it while she may), or why
    it has none (all values escaped)."""
    if not resident_stop:
        return ""  # a committee session is no one resident's record
    recorded = recording.recorded.get(visit_id)
    if recorded is not None:
        if not (recorded.correctable and recording.correct_action):
            return recorded_html(recorded)
        return recorded_html(recorded) + _form_html(visit_id, programme, recording, recorded)
    if not recording.open:
        return (
            '<p class="hv-muted hv-not-yet">当天上门后再记录 '
            '<span class="en">Record it on the day, after the visit</span></p>'
        )
    return _form_html(visit_id, programme, recording, None)


def _form_html(
    visit_id: str,
    programme: Programme | None,
    recording: Recording,
    stored: RecordedVisit | None,
) -> str:
    """The record form; with ``stored``, the form that corrects it, filled with what it says."""
    outcome = stored.outcome if stored is not None else VisitOutcome.COMPLETED
    outcomes = "".join(
        _choice("outcome", o.value, OUTCOME_LABELS_ZH[o], OUTCOME_LABELS_EN[o], o is outcome)
        for o in VisitOutcome
    )
    readings = (
        _number(
            "systolic_mmhg", "收缩压", "Systolic", "mmHg", "1", "numeric",
            stored.systolic_mmhg if stored else None,
        )
        + _number(
            "diastolic_mmhg", "舒张压", "Diastolic", "mmHg", "1", "numeric",
            stored.diastolic_mmhg if stored else None,
        )
        + _number(
            "glucose_mmol_l", "血糖", "Glucose", "mmol/L", "0.1", "decimal",
            stored.glucose_mmol_l if stored else None,
        )
    )  # fmt: skip
    tests = ""
    if programme is not None and programme.tests:
        ticked = stored.tests if stored is not None and stored.tests else programme.tests
        boxes = "".join(
            _choice(
                "tests",
                t,
                HEALTH_CHECK_TEST_LABELS_ZH[t],
                TEST_LABELS_EN[t],
                t in ticked,
                kind="checkbox",
            )
            for t in HEALTH_CHECK_TESTS
        )
        tests = (
            '<fieldset class="hv-if-done"><legend>检查项目 <span class="en">Tests done</span>'
            f'</legend><div class="hv-choices">{boxes}</div></fieldset>'
        )
    if stored is None and programme is not None and programme.programme_id == SICKBED_ROUND:
        box = _choice("discharge_sickbed", "1", "今日撤床", "Discharged today", False, "checkbox")
        tests += (
            '<fieldset class="hv-if-done"><legend>家庭病床 <span class="en">Home sick-bed'
            f'</span></legend><div class="hv-choices">{box}</div></fieldset>'
        )
    home = programme.place if programme is not None else Place.HOME
    if stored is not None and stored.place in {p.value for p in Place}:
        home = Place(stored.place)
    places = "".join(
        _choice("place", p.value, zh, en, p is home) for p, (zh, en) in PLACE_LABELS.items()
    )
    note = esc(stored.note) if stored is not None else ""
    # The correction's own fields, shown once the form corrects (the script turns a saved
    # record's form into its correction without reloading the page).
    reason = (
        '<div class="hv-if-correct"><label class="hv-note">更正原因（可不填） '
        '<span class="en">Why (optional)</span>'
        '<input type="text" name="reason" maxlength="200" autocomplete="off"></label>'
        '<p class="hv-muted">原记录会保留备查。 <span class="en">What it said before is kept '
        "on file.</span></p></div>"
    )
    correct = f' data-correct="{esc(recording.correct_action)}"' if recording.correct_action else ""
    if stored is None:
        box_class, summary = "hv-record-box", '记录结果 <span class="en">Record the visit</span>'
        action, key = recording.action, f"{recording.plan_id}/{visit_id}"
        button, button_en = "保存", "Save"
    else:
        box_class = "hv-record-box hv-correct-box"
        summary = '更正 <span class="en">Correct</span>'
        action, key = recording.correct_action, f"{recording.plan_id}/{visit_id}/correct"
        button, button_en = "保存更正", "Save the correction"
    return (
        f'<details class="{box_class}"><summary>{summary}</summary>'
        f'<form class="hv-record" method="post" action="{esc(action)}" '
        f'data-key="{esc(key)}"{correct} novalidate>'
        f'<input type="hidden" name="csrf_token" value="{esc(recording.csrf_token)}">'
        f'<input type="hidden" name="plan_id" value="{recording.plan_id}">'
        f'<input type="hidden" name="visit_id" value="{esc(visit_id)}">'
        '<fieldset><legend>结果 <span class="en">Outcome</span></legend>'
        f'<div class="hv-choices">{outcomes}</div></fieldset>'
        f'<div class="hv-readings hv-if-done">{readings}</div>'
        f"{tests}"
        '<fieldset><legend>地点 <span class="en">Place</span></legend>'
        f'<div class="hv-choices">{places}</div></fieldset>'
        '<label class="hv-note">备注 <span class="en">Note</span>'
        f'<input type="text" name="note" maxlength="500" value="{note}" autocomplete="off">'
        f"</label>{reason}"
        f'<button type="submit">{button} <span class="en">{button_en}</span></button>'
        '<p class="hv-save-status" role="status" aria-live="polite"></p>'
        "</form></details>"
    )
