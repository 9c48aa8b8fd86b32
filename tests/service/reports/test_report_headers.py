"""The official tables' headers are the seed's own strings, in the seed's order.

The seed (``shared/seeds/tianjin-2021-elderly-home-care.txt``, copied beside this test so a
clone has it) lays each table cell out as a line starting with a tab, a cell's further lines
without one, and a blank line between table rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.reports import headers as h
from service.reports.quotas import TIANJIN_2021, read_quota_file

SEED_COPY = Path(__file__).with_name("seeds") / "tianjin-2021-elderly-home-care.txt"
SHARED_SEED = Path(__file__).resolve().parents[4] / "shared" / "seeds" / SEED_COPY.name


def _rows(text: str, start: str, stop: str) -> list[list[str]]:
    """The table rows between the lines ``start`` and ``stop``, each a list of cell texts."""
    lines = text[text.index(start) : text.index(stop, text.index(start))].splitlines()[1:]
    rows: list[list[str]] = []
    cells: list[str] = []
    for line in lines:
        if line == "":
            if cells:
                rows.append(cells)
            cells = []
        elif line.startswith("\t"):
            cells.append(line[1:])
        elif cells:
            cells[-1] += "\n" + line
    if cells:
        rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED_COPY.read_text(encoding="utf-8")


def test_the_copy_is_the_shared_seed() -> None:
    """The copy the tests read is the seed the project was given (when shared/ is beside it)."""
    if not SHARED_SEED.exists():
        pytest.skip(f"{SHARED_SEED} is not beside this clone: only the copy is checked")
    assert SEED_COPY.read_bytes() == SHARED_SEED.read_bytes()


def test_annex2_headers_are_the_seeds(seed: str) -> None:
    """Annex 2's title and its eleven headers, in order, character for character."""
    assert h.ANNEX2_TITLE in seed
    [header] = _rows(seed, h.ANNEX2_TITLE, " 注：1.此表不需要手动填报")
    assert tuple(header) == h.ANNEX2_COLUMNS
    for note in h.ANNEX2_NOTES:
        assert note in seed


def test_annex3_headers_are_the_seeds(seed: str) -> None:
    """Annex 3: the grouped first row, the second row under the group, the numbering row."""
    assert h.ANNEX3_TITLE in seed
    first, second, numbers, *_blank = _rows(
        seed, h.ANNEX3_TITLE, "注：1.此表不需要手动填报，各项数据来源于家庭医生签约服务系统"
    )
    lo, hi = h.ANNEX3_GROUPED[0], h.ANNEX3_GROUPED[-1]
    expected_first = [c for i, c in enumerate(h.ANNEX3_COLUMNS) if i not in h.ANNEX3_GROUPED]
    expected_first.insert(lo, h.ANNEX3_GROUP)
    assert first == expected_first
    assert second[lo : hi + 1] == list(h.ANNEX3_COLUMNS[lo : hi + 1])
    assert [c for i, c in enumerate(second) if i not in h.ANNEX3_GROUPED] == [""] * 7
    assert tuple(numbers) == h.ANNEX3_NUMBERS
    for note in h.ANNEX3_NOTES:
        assert note in seed


def test_annex1_headers_and_quotas_are_the_seeds(seed: str) -> None:
    """Annex 1's headers and total label; the shipped quota file holds the seed's 16 districts,
    and its total row (checked by the reader) is the seed's 1,000,000 / 150,000."""
    assert "2021年" + h.ANNEX1_TITLE in seed
    rows = _rows(seed, "2021年" + h.ANNEX1_TITLE, " 附件2")
    assert tuple(rows[0]) == h.ANNEX1_COLUMNS
    assert rows[-1][0] == h.ANNEX1_TOTAL
    from_seed = {r[0]: (int(r[1].strip()), int(r[2].strip())) for r in rows[1:-1]}
    assert read_quota_file(TIANJIN_2021) == from_seed
    assert len(from_seed) == 16
    assert (int(rows[-1][1]), int(rows[-1][2])) == (1_000_000, 150_000)
