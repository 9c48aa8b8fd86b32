"""Messages to users as a stable code and its values; the English and the Chinese made from them.

A check that finds something wrong says *what kind* of thing with a code (``programmes.time``)
and the values to show (the programme, the key and the value as the user wrote them); the words
live here, once per code, in both languages. The Chinese is chosen by the code, never by matching
the English wording, so rewording the English cannot lose the Chinese, and
``tests/scheduler/test_messages.py`` fails on any code without both.

Values are shown as the user wrote them, the same in both languages; a word that differs between
the languages (the name of a kind of value) is passed twice, ``what`` and ``what_zh``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["CATALOGUE", "Message", "Wording"]


@dataclass(frozen=True, slots=True)
class Wording:
    """One code's words: ``str.format`` templates over the message's values."""

    en: str
    zh: str


CATALOGUE: Final[dict[str, Wording]] = {
    # --- programmes.yaml (scheduler.programmes.override_problems) ---
    "programmes.at": Wording(
        "programme '{programme}', {key} '{value}': {problem}",
        "服务项目“{programme}”的 {key}“{value}”：{problem}",
    ),
    "programmes.unknown_programme": Wording(
        "unknown programme '{programme}' (known: {known})",
        "没有服务项目“{programme}”（已有：{known}）",
    ),
    "programmes.unknown_key": Wording(
        "programme '{programme}': unknown key '{key}'; use one of {keys}",
        "服务项目“{programme}”：不认识的设置“{key}”：请用其中之一：{keys}",
    ),
    "programmes.yes_no": Wording(
        "not true or false; write true or false",
        "不是 true/false：请填 true 或 false",
    ),
    "programmes.whole_number": Wording(
        "not a whole number of at least {least}; write e.g. {example}",
        "不是不小于 {least} 的整数：请填写如 {example}",
    ),
    "programmes.whole_number_or_none": Wording(
        "not a whole number of at least {least}; write e.g. {example}, or null for no limit",
        "不是不小于 {least} 的整数：请填写如 {example}，不设上限请填 null",
    ),
    "programmes.window_format": Wording(
        "not a window HH:MM-HH:MM; write the start and the end, e.g. {example}",
        "不是 HH:MM-HH:MM 格式的时段：请写开始和结束时间，例如 {example}",
    ),
    "programmes.window_time": Wording(
        "{time} is not a time of day between 00:00 and 24:00; write HH:MM-HH:MM, e.g. {example}",
        "{time} 不是 00:00 到 24:00 之间的时间：请按 HH:MM-HH:MM 填写，例如 {example}",
    ),
    "programmes.window_order": Wording(
        "the window ends at {end}, not after it starts at {start}; write the start first, "
        "e.g. {example}",
        "时段的结束 {end} 不晚于开始 {start}：请先写开始时间，例如 {example}",
    ),
    "programmes.visit_too_long": Wording(
        "a {minutes}-minute visit does not fit in the day window {window}; "
        "widen day_window or shorten duration_min",
        "{minutes} 分钟的服务放不进时段 {window}：请放宽 day_window 或缩短 duration_min",
    ),
    "programmes.choice": Wording(
        "unknown {what} '{given}'; use one of {choices}",
        "不认识的{what_zh}“{given}”：请用其中之一：{choices}",
    ),
    "programmes.list": Wording(
        "not a list; write e.g. {example}",
        "不是列表：请写成如 {example}",
    ),
    "programmes.mapping": Wording(
        "not a mapping of settings; write e.g. {example}",
        "不是键值对形式的设置：请写成如 {example}",
    ),
    "programmes.staffing_roles": Wording(
        "a staffing entry needs at least one role; write e.g. {example}",
        "每个人员配置至少需要一个角色：请写成如 {example}",
    ),
    "programmes.tests": Wording(
        "unknown test(s) {tests}; use some of {known}",
        "不认识的检查项目 {tests}：可用的有 {known}",
    ),
    "programmes.interval_days": Wording(
        "a frequency of kind interval needs interval_days of at least 1, e.g. 14",
        "按间隔（interval）的频次需要不小于 1 的 interval_days，例如 14",
    ),
    "programmes.period": Wording(
        "a frequency of kind per_period needs a period (month, quarter or year) and "
        "per_period of at least 1",
        "按周期（per_period）的频次需要周期 period（month、quarter 或 year）和不小于 1 的 "
        "per_period",
    ),
    "programmes.age_order": Wording(
        "min_age {least} is above max_age {most}; swapped?",
        "min_age {least} 大于 max_age {most}：是不是填反了？",
    ),
}


@dataclass(frozen=True, slots=True)
class Message:
    """What is wrong, as a code of :data:`CATALOGUE` and the values it shows."""

    code: str
    values: Mapping[str, object] = field(default_factory=dict)

    @property
    def en(self) -> str:
        """The message in English (a value that is itself a message, in English)."""
        values = {k: v.en if isinstance(v, Message) else v for k, v in self.values.items()}
        return CATALOGUE[self.code].en.format_map(values)

    @property
    def zh(self) -> str:
        """The message in Chinese (a value that is itself a message, in Chinese)."""
        values = {k: v.zh if isinstance(v, Message) else v for k, v in self.values.items()}
        return CATALOGUE[self.code].zh.format_map(values)

    def __str__(self) -> str:
        """Chinese first, English beside."""
        return f"{self.zh} / {self.en}"
