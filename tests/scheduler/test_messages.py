"""Every message code has its words in Chinese and in English, with the same values shown."""

from __future__ import annotations

import pickle
import re
import string
from pathlib import Path

import pytest

from scheduler.messages import CATALOGUE, Message, MessageError

_CJK = re.compile(r"[\u4e00-\u9fff“”：，；（）。]")  # Chinese words or Chinese punctuation


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_has_chinese_and_english_showing_the_same_values(code: str) -> None:
    """No code without Chinese; both languages show the same values (a word may differ)."""
    wording = CATALOGUE[code]
    assert _CJK.search(wording.zh), f"{code}: no Chinese"
    assert re.search("[A-Za-z]{2}", wording.en), f"{code}: no English"
    en = _fields(wording.en)
    zh = {name.removesuffix("_zh") for name in _fields(wording.zh)}
    assert en == zh, f"{code}: English shows {sorted(en)}, Chinese {sorted(zh)}"


def test_a_message_is_chosen_by_its_code_and_nests() -> None:
    """The words come from the code; a message inside another is shown in the same language."""
    inner = Message("programmes.window_time", {"time": "25:00", "example": "07:30-10:30"})
    outer = Message(
        "programmes.at",
        {
            "programme": "health_check",
            "key": "day_window",
            "value": "25:00-10:00",
            "problem": inner,
        },
    )
    assert outer.en.startswith("programme 'health_check', day_window '25:00-10:00': 25:00 is not")
    assert outer.zh.startswith("服务项目“health_check”的 day_window“25:00-10:00”：25:00 不是")
    assert str(outer) == f"{outer.zh} / {outer.en}"


def test_a_message_error_from_a_worker_process_keeps_its_code() -> None:
    """Raised in a worker (a scenario, a plan job) and pickled back: the code and values stay."""
    error = pickle.loads(pickle.dumps(MessageError("register.time_of_day", text="25:00")))
    assert isinstance(error, ValueError)
    assert error.message.code == "register.time_of_day"
    assert error.message.zh == "时间“25:00”不在 00:00 到 24:00 之间"
    assert str(error) == "time '25:00' is not between 00:00 and 24:00"


def test_every_code_the_source_uses_is_in_the_catalogue() -> None:
    """A code mistyped where a message is made would fail only when a user hits it: caught here."""
    root = Path(__file__).resolve().parents[2]
    used = {
        match[1]
        for folder in ("scheduler", "service", "scenarios")
        for path in (root / folder).rglob("*.py")
        for match in re.finditer(
            r"\"((?:programmes|register|geocode|plan_file)\.[a-z_]+)\"", path.read_text("utf-8")
        )
        if match[1] != "programmes.yaml"  # the file, not a code
    }
    assert len(used) > 50
    assert used <= set(CATALOGUE), sorted(used - set(CATALOGUE))
