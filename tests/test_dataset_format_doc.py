"""docs/dataset-format.md stays in step with the reader and writer (scheduler/dataset/).

A column, Chinese header, sheet name or Chinese value added to the code without a word in the
document fails here; so does an example in the document that the reader refuses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import pytest

from scheduler import replan_io
from scheduler.dataset import (
    COLUMN_ALIASES_ZH,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    TABLE_ALIASES_ZH,
    VALUE_ALIASES_ZH,
    read_dataset,
    schema,
)
from scheduler.dataset.schema import PLAN_COLUMNS, ROUTE_COLUMNS, UNSCHEDULED_COLUMNS
from scheduler.evaluation.reasons import LeftOutKind
from scheduler.model import OUTCOME_LABELS_ZH
from scheduler.programmes import builtin_programmes
from scheduler.replan import ChangeKind
from scheduler.replan_io import CHANGES_COLUMNS
from scheduler.solve import build_problem

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "dataset-format.md"
TEXT = DOC.read_text(encoding="utf-8")
CODE_SPANS = set(re.findall(r"`([^`\n]+)`", TEXT))


def _section(title: str) -> str:
    """The text under the heading that starts with ``title`` up to the next heading."""
    start = TEXT.index(title)
    following = re.search(r"\n#{2,4} ", TEXT[start + len(title) :])
    return TEXT[start : start + len(title) + following.start()] if following else TEXT[start:]


def _table_rows(section: str) -> list[list[list[str]]]:
    """The rows of the markdown tables in ``section``: per cell, its code spans."""
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([re.findall(r"`([^`]+)`", cell) for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header row


def _known_columns() -> set[str]:
    extras = (
        schema.PLAN_EXTRAS,
        schema.ROUTE_EXTRAS,
        schema.UNSCHEDULED_EXTRAS,
    )
    columns = {c for table in REQUIRED_COLUMNS.values() for c in table}
    columns |= {c for table in OPTIONAL_COLUMNS.values() for c in table}
    columns |= {*PLAN_COLUMNS, *ROUTE_COLUMNS, *UNSCHEDULED_COLUMNS}
    columns |= {c for table in extras for c in table}
    columns |= {*CHANGES_COLUMNS, *replan_io._CHANGES_EXTRAS}
    return columns


def test_every_column_the_code_reads_or_writes_is_documented() -> None:
    """A team leader finds each column of every file, input and output, in the document."""
    missing = sorted(_known_columns() - CODE_SPANS)
    assert not missing, f"columns not in docs/dataset-format.md: {missing}"


def test_every_file_is_documented_with_its_columns() -> None:
    """Each register has its section, and the section names each of its columns."""
    for stem in REQUIRED_COLUMNS:
        section = _section(f"### `{stem}.csv`")
        spans = set(re.findall(r"`([^`\n]+)`", section))
        absent = set(REQUIRED_COLUMNS[stem]) | set(OPTIONAL_COLUMNS[stem])
        assert not absent - spans, f"{stem}.csv section lacks {sorted(absent - spans)}"


def test_the_chinese_header_table_is_exactly_what_the_reader_accepts() -> None:
    """Every Chinese header is listed under its column, and nothing the reader refuses is."""
    documented: dict[str, list[str]] = {}
    for cells in _table_rows(_section("### Chinese headers")):
        (column,), aliases = cells[0], cells[1]
        documented[column] = aliases
    accepted: dict[str, list[str]] = defaultdict(list)
    for chinese, column in COLUMN_ALIASES_ZH.items():
        accepted[column].append(chinese)
    assert documented == dict(accepted)


def test_the_chinese_file_names_are_exactly_what_the_reader_accepts() -> None:
    """Chinese file and sheet names in the document are those of TABLE_ALIASES_ZH."""
    documented = {
        chinese: stem
        for (stem,), names in (cells[:2] for cells in _table_rows(_section("### Chinese file")))
        for chinese in names
    }
    assert documented == TABLE_ALIASES_ZH


def test_the_chinese_values_are_exactly_what_the_reader_accepts() -> None:
    """Chinese roles, travel modes and disability grades in the document are those read."""
    documented: dict[str, dict[str, str]] = defaultdict(dict)
    for (column,), (value,), names in _table_rows(_section("### Chinese values")):
        for chinese in names:
            documented[column][chinese] = value
    assert dict(documented) == VALUE_ALIASES_ZH


def test_every_outcome_and_its_chinese_label_is_documented() -> None:
    """A history row's outcome may be written as its value or its Chinese label: both listed."""
    section = _section("### `history.csv`")
    for outcome, label in OUTCOME_LABELS_ZH.items():
        assert f"`{outcome.value}` ({label})" in section, outcome


def test_every_kind_of_change_of_a_replan_is_documented() -> None:
    """The values of changes.csv's `change` column are all explained."""
    section = _section("### `changes.csv`")
    missing = sorted(kind.value for kind in ChangeKind if f"`{kind.value}`" not in section)
    assert not missing, f"changes not in docs/dataset-format.md: {missing}"


def test_every_kind_of_left_out_visit_is_documented() -> None:
    """The values of unscheduled.csv's `kind` column are all explained in its section."""
    section = _section("### `unscheduled.csv`")
    missing = sorted(kind.value for kind in LeftOutKind if f"`{kind.value}`" not in section)
    assert not missing, f"kinds not in docs/dataset-format.md: {missing}"


def test_every_programme_and_service_id_is_documented() -> None:
    """The ids a history row or a request may carry are all listed."""
    programmes = builtin_programmes()
    services = {s for p in programmes.values() for s in p.services}
    missing = sorted((set(programmes) | services) - CODE_SPANS)
    assert not missing, f"ids not in docs/dataset-format.md: {missing}"


def _csv_example(title: str) -> str:
    """The first ```csv block of the section ``title``."""
    found = re.search(r"```csv\n(.*?)```", _section(title), re.DOTALL)
    assert found, f"no CSV example under {title}"
    return found[1]


@pytest.fixture
def example_dataset(tmp_path: Path) -> Path:
    """The document's examples, one file each, as a dataset folder."""
    stems = ("centres", "committees", "clinicians", "residents", "history", "sickbeds", "requests")
    for stem in stems:
        (tmp_path / f"{stem}.csv").write_text(_csv_example(f"### `{stem}.csv`"), encoding="utf-8")
    return tmp_path


def test_the_examples_together_are_a_dataset_the_reader_accepts(example_dataset: Path) -> None:
    """What a reader copies from the document works as it is."""
    dataset = read_dataset(example_dataset)
    assert set(dataset.residents) == {"MH03-R00001", "MH03-R00002"}
    assert len(dataset.requests) == 1 and len(dataset.history) == 2
    assert len(dataset.sickbeds) == 2


def test_the_chinese_example_reads_as_the_english_one(example_dataset: Path) -> None:
    """The clinicians with Chinese headers and values are the same clinicians."""
    english = read_dataset(example_dataset)
    (example_dataset / "clinicians.csv").unlink()
    chinese = _csv_example("### Chinese values")
    (example_dataset / "医护人员.csv").write_text(chinese, encoding="utf-8")
    assert read_dataset(example_dataset).clinicians == english.clinicians


def test_the_pair_example_reads_as_a_link_of_its_week(example_dataset: Path) -> None:
    """The dressing-then-exercises example of requests.csv becomes one link, 30-120 min."""
    blocks = re.findall(r"```csv\n(.*?)```", _section("### `requests.csv`"), re.DOTALL)
    (example_dataset / "requests.csv").write_text(blocks[1], encoding="utf-8")
    dataset = read_dataset(example_dataset)
    second = next(q for q in dataset.requests if q.after_request_id is not None)
    assert (second.after_request_id, second.min_gap_min, second.max_gap_min) == (
        "MH03-Q002", 30, 120
    )  # fmt: skip
    problem = build_problem(dataset, dt.date(2026, 11, 30))
    assert [(k.first_id, k.second_id) for k in problem.links] == [
        ("request-MH03-Q002", "request-MH03-Q003")
    ]
