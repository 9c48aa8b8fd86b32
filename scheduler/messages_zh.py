"""Chinese for the messages about a register (:class:`scheduler.dataset.InputProblem`).

Team leaders read Chinese first. The readers keep building their messages in English, in one place
each; this catalogue gives every kind of message its Chinese, matched on the English wording with
the values (ids, times, headers as the user wrote them) carried over. A message that several
checks join (``; ``-separated weekday or availability errors) is translated part by part.
:func:`translate` answers ``""`` for a message the catalogue does not know, and the problem is then
shown in English only; ``tests/scheduler/test_messages_zh.py`` runs every kind of bad input through
the readers and fails on any message left without Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["translate"]

# Words that stand inside English messages -> Chinese.
_WHAT: Final[dict[str, str]] = {
    "a latitude": "纬度",
    "a longitude": "经度",
    "a role": "角色",
    "a travel mode": "出行方式",
    "a time HH:MM": "时间（HH:MM）",
    "a birth date": "出生日期",
    "a programme": "服务项目",
    "a date": "日期",
    "a service": "服务内容",
    "a duration in minutes": "时长（分钟）",
    "a value": "一个值",
    "the date the sick-bed was opened (建床日期)": "建床日期",
}
_KIND: Final[dict[str, str]] = {
    "centre": "中心",
    "committee": "居委",
    "clinician": "医护人员",
    "resident": "居民",
    "request": "申请",
}
_ENUM: Final[dict[str, str]] = {
    "role": "角色",
    "travel mode": "出行方式",
    "disability": "失能等级",
    "coordinate system": "坐标系",
    "place": "服务地点",
}
_SPAN: Final[dict[str, str]] = {"shift": "班次", "lunch break": "午休", "window": "时段"}
_FIXES: Final[dict[str, str]] = {
    "give lat/lon or a fuller address": "请填写纬度/经度（lat/lon），或写更完整的地址",
    "give lat/lon or retry": "请填写纬度/经度（lat/lon），或稍后重试",
    "give lat/lon or configure it": "请填写纬度/经度（lat/lon），或配置地理编码服务",
    "give lat/lon, or set HOMEVISIT_GEOCODER to nominatim, amap or baidu": (
        "请填写纬度/经度（lat/lon），或把 HOMEVISIT_GEOCODER 设为 nominatim、amap 或 baidu"
    ),
}


_WHY: Final = (
    (re.compile(r"(?P<p>\w+) knows no place in China by this address"), "{p} 在中国找不到这个地址"),
    (
        re.compile(r"the geocoder failed \((?P<p>.*)\); try again later"),
        "地理编码服务出错（{p}），请稍后再试",
    ),
    (
        re.compile(r"geocoding is switched off by (?P<p>HOMEVISIT_GEOCODER=none)"),
        "地理编码已被 {p} 关闭",
    ),
)


def _why(text: str) -> str:
    """Why an address found no place, in Chinese where the wording is known."""
    for pattern, template in _WHY:
        match = pattern.fullmatch(text)
        if match is not None:
            return template.format(p=match["p"])
    return text


def _known(text: str | None) -> str:
    """`` (known: a, b)`` -> ``（已有：a, b）``; `` (it has none)`` -> ``（其中一个也没有）``."""
    if not text:
        return ""
    inner = text.strip()[1:-1]
    if inner == "it has none":
        return "（其中一个也没有）"
    return "（已有：" + inner.removeprefix("known: ") + "）"


def _parts(text: str, separator: str) -> str:
    """Each ``separator``-separated part translated, joined with Chinese punctuation."""
    translated = [translate(part) for part in text.split(separator)]
    if not all(translated):
        return ""
    return "；".join(translated) if separator.startswith(";") else "，".join(translated)


Rule = tuple[str, Callable[[re.Match[str]], str]]

_RULES: Final[list[Rule]] = [
    # --- whole files ---
    (r"does not exist", lambda m: "不存在"),
    (r"is neither a folder nor an \.xlsx workbook", lambda m: "既不是文件夹，也不是 .xlsx 工作簿"),
    (r"cannot be read as \.xlsx: (?P<e>.*)", lambda m: f"无法作为 .xlsx 工作簿读取：{m['e']}"),
    (r"cannot be read: (?P<e>.*)", lambda m: f"无法读取：{m['e']}"),
    (r"is empty: it needs a header row", lambda m: "是空的：第一行应是表头"),
    (
        r"the columns are separated by (?P<s>semicolons|tabs): save it as 'CSV UTF-8' "
        r"\(comma-separated\)",
        lambda m: (
            f"各列用{'分号' if m['s'] == 'semicolons' else '制表符'}分隔："
            "请另存为“CSV UTF-8（逗号分隔）”"
        ),
    ),
    (
        r"two columns mean '(?P<n>.*)' \(columns (?P<a>[A-Z]+) '(?P<x>.*)' and (?P<b>[A-Z]+) "
        r"'(?P<y>.*)'\): delete or rename one",
        lambda m: (
            f"有两列都表示“{m['n']}”（{m['a']} 列“{m['x']}”和 {m['b']} 列“{m['y']}”）："
            "请删除或改名其中一列"
        ),
    ),
    (
        r"not UTF-8 text \(it is UTF-16, Excel's 'Unicode Text'\): save it as 'CSV UTF-8'",
        lambda m: "不是 UTF-8 文本（是 UTF-16，即 Excel 的“Unicode 文本”）：请另存为“CSV UTF-8”",
    ),
    (
        r"not UTF-8 text \(it looks like GBK/GB18030, as Excel saves on Chinese Windows\): "
        r"save it as 'CSV UTF-8'",
        lambda m: (
            "不是 UTF-8 文本（看起来是 GBK/GB18030，中文 Windows 上 Excel 默认的编码）："
            "请另存为“CSV UTF-8”"
        ),
    ),
    (r"not UTF-8 text: save it as 'CSV UTF-8'", lambda m: "不是 UTF-8 文本：请另存为“CSV UTF-8”"),
    (
        r"has (?P<n>\d+) cells but the header has (?P<h>\d+): look for a stray comma or an "
        r"unclosed quote",
        lambda m: (
            f"这一行有 {m['n']} 个单元格，但表头只有 {m['h']} 列：请查找多余的逗号或没有配对的引号"
        ),
    ),
    (r"is not a valid CSV file: (?P<e>.*)", lambda m: f"不是有效的 CSV 文件：{m['e']}"),
    (
        r"has no sheet '(?P<s>.*)' \(its sheets: (?P<l>.*)\)",
        lambda m: f"没有工作表“{m['s']}”（现有工作表：{m['l']}）",
    ),
    (
        r"is missing: a dataset needs centres\.csv, clinicians\.csv and residents\.csv",
        lambda m: (
            "缺失：数据集需要 centres.csv（中心）、clinicians.csv（医护人员）和 "
            "residents.csv（居民）"
        ),
    ),
    (r"column is missing \(needed: (?P<l>.*)\)", lambda m: f"缺少这一列（需要的列：{m['l']}）"),
    (r"has no data rows", lambda m: "没有数据行"),
    (r"is not valid YAML: (?P<e>.*)", lambda m: f"不是有效的 YAML：{m['e']}"),
    (
        r"must map programme ids to their settings, e\.g\.(?P<ex>.*)",
        lambda m: f"应把服务项目编号对应到各自的设置，例如{m['ex']}",
    ),
    (
        r"programme '(?P<p>.*?)' must be a mapping of settings, e\.g\.(?P<ex>.*)",
        lambda m: f"服务项目“{m['p']}”的设置应是键值对，例如{m['ex']}",
    ),
    (
        r"is (?P<s>[\d.]+) MB, more than the (?P<l>[\d.]+) MB an import accepts .*",
        lambda m: (
            f"有 {m['s']} MB，超过导入上限 {m['l']} MB（一个区的档案约 7 MB）："
            "请确认文件无误，或按中心拆分档案（上限为设置 HOMEVISIT_IMPORT_MAX_FILE_MB）"
        ),
    ),
    # --- cells ---
    (
        r"is empty: a clinician with no working day can never be planned: give (?P<c>.+?) "
        r"like (?P<ex>.*)",
        lambda m: f"为空：没有工作日的医护人员永远排不进计划：请填写{m['c']}，如 {m['ex']}",
    ),
    (r"is empty: every (?P<k>\w+) needs an id", lambda m: f"为空：每个{_KIND[m['k']]}都需要编号"),
    (r"is empty: every resident signs with a team", lambda m: "为空：每位居民都签约一个团队"),
    (
        r"is empty: every row needs (?P<w>.+)",
        lambda m: f"为空：每一行都需要{_WHAT.get(m['w'], m['w'].removeprefix('a '))}",
    ),
    (
        r"is empty but (?P<g>.+) is (?P<o>\S+): give both lunch times or neither",
        lambda m: f"为空，但{m['g']}是 {m['o']}：午休开始和结束两个时间要么都填，要么都不填",
    ),
    (
        r"time '(?P<v>.*)' is not HH:MM(?:, e\.g\. 08:30)?",
        lambda m: f"时间“{m['v']}”不是 HH:MM 格式，例如 08:30",
    ),
    (
        r"time '(?P<v>.*)' is not between 00:00 and 24:00",
        lambda m: f"时间“{m['v']}”不在 00:00 到 24:00 之间",
    ),
    (
        r"not a yes/no value; use true/false, 1/0, yes/no or 是/否",
        lambda m: "不是“是/否”：请填 是/否、true/false、1/0 或 yes/no",
    ),
    (
        r"not a date; use YYYY-MM-DD, e\.g\. (?P<ex>.*)",
        lambda m: f"不是日期：请按 YYYY-MM-DD 填写，例如 {m['ex']}",
    ),
    (
        r"no such day in the calendar; use YYYY-MM-DD, e\.g\. (?P<ex>.*)",
        lambda m: f"日历上没有这一天：请按 YYYY-MM-DD 填写，例如 {m['ex']}",
    ),
    (r"unknown weekday '(?P<d>.*)'", lambda m: f"不认识的星期“{m['d']}”"),
    (r"'(?P<p>.*)' is not a range like Mon-Fri", lambda m: f"“{m['p']}”不是 Mon-Fri 这样的范围"),
    (
        r"use Mon\.\.Sun, e\.g\. Mon;Tue;Wed",
        lambda m: "请用 Mon..Sun 或 周一..周日，例如 Mon;Tue;Wed",
    ),
    (r"no weekday given", lambda m: "没有填写星期"),
    (
        r"(?P<errors>.*)\. Write items like '(?P<ex>.*)'",
        lambda m: (errors := _parts(m["errors"], "; ")) and f"{errors}。请按“{m['ex']}”这样填写",
    ),
    (
        r"'(?P<i>[^']*)' has no time range HH:MM-HH:MM",
        lambda m: f"“{m['i']}”没有时间段 HH:MM-HH:MM",
    ),
    (
        r"'(?P<i>[^']*)' has more than one time range \(separate items with ';'\)",
        lambda m: f"“{m['i']}”有不止一个时间段（条目之间用“;”分开）",
    ),
    (
        r"(?P<a>[0-9:：.]+)-(?P<b>[0-9:：.]+) does not end after it starts",
        lambda m: f"{m['a']}-{m['b']} 的结束不晚于开始",
    ),
    (
        r"'(?P<i>[^']*)': (?P<rest>.*)",
        lambda m: (rest := _parts(m["rest"], ", ")) and f"“{m['i']}”：{rest}",
    ),
    (
        r"not a number; use decimal degrees like (?P<ex>.*)",
        lambda m: f"不是数字：请用十进制的度数，如 {m['ex']}",
    ),
    (
        r"not a positive whole number of minutes, e\.g\. (?P<ex>.*)",
        lambda m: f"不是正整数的分钟数，例如 {m['ex']}",
    ),
    (
        r"unknown (?P<w>role|travel mode|disability|coordinate system|place) '(?P<v>.*)'; "
        r"use one of (?P<l>.*)",
        lambda m: (
            f"不认识的{_ENUM[m['w']]}“{m['v']}”：请用其中之一："
            + re.sub(r" \(or (.*)\)$", r"（或 \1）", m["l"])
        ),
    ),
    (r"birth date is in the future", lambda m: "出生日期在将来"),
    (
        r"is before the opening date (?P<d>\S+): swapped\?",
        lambda m: f"早于建床日期 {m['d']}：是不是填反了？",
    ),
    (
        r"'(?P<v>.*)' is not an outcome; expected one of (?P<l>.*)",
        lambda m: f"“{m['v']}”不是访视结果：请用其中之一：{m['l']}",
    ),
    (
        r"unknown test\(s\) (?P<t>.*); known: (?P<l>.*)",
        lambda m: f"不认识的检查项目 {m['t']}：可用的有 {m['l']}",
    ),
    (
        r"birth date is more than (?P<n>\d+) years ago: check the year",
        lambda m: f"出生日期早于 {m['n']} 年前：请检查年份",
    ),
    (
        r"duplicate (?P<c>.+?) '(?P<v>.*)': also on row (?P<r>\d+)",
        lambda m: f"{m['c']}“{m['v']}”重复：第 {m['r']} 行也是它",
    ),
    (
        r"unknown (?P<c>.+?) '(?P<v>.*)': not in (?P<f>.+?)(?P<k> \((?:known: .*|it has none)\))?",
        lambda m: f"{m['c']}“{m['v']}”不存在：{m['f']} 中没有它{_known(m['k'])}",
    ),
    (
        r"team '(?P<t>.*)' has no clinician in (?P<f>.+?)"
        r"(?P<k> \((?:known: .*|it has none)\))?",
        lambda m: f"团队“{m['t']}”在 {m['f']} 中没有任何医护人员{_known(m['k'])}",
    ),
    (
        r"team '(?P<t>.*)' is at centre '(?P<c>.*)' on row (?P<r>\d+): a team belongs to one "
        r"centre",
        lambda m: f"团队“{m['t']}”在第 {m['r']} 行属于中心“{m['c']}”：一个团队只属于一个中心",
    ),
    (
        r"lat and lon look swapped: lat (?P<a>\S+), lon (?P<b>\S+) is outside China but .*",
        lambda m: (
            f"纬度和经度像是填反了：纬度 {m['a']}、经度 {m['b']} 在中国境外，"
            "对调后在境内：请交换这两个单元格"
        ),
    ),
    (r"latitude must be between -90 and 90", lambda m: "纬度必须在 -90 到 90 之间"),
    (r"longitude must be between -180 and 180", lambda m: "经度必须在 -180 到 180 之间"),
    (
        r"coordinates 0, 0: the address was probably not geocoded",
        lambda m: "坐标是 0, 0：地址可能没有转换成坐标",
    ),
    (
        r"lat (?P<a>\S+), lon (?P<b>\S+) is outside China \(lat 3\.8-53\.6, lon 73\.5-135\.1\): "
        r"check the coordinates",
        lambda m: (
            f"纬度 {m['a']}、经度 {m['b']} 在中国境外（纬度 3.8-53.6，经度 73.5-135.1）：请检查坐标"
        ),
    ),
    (
        r"the (?P<w>shift|lunch break|window) (?P<a>\S+)-(?P<b>\S+) must end after it starts",
        lambda m: f"{_SPAN[m['w']]} {m['a']}-{m['b']} 的结束时间必须晚于开始时间",
    ),
    (
        r"lunch (?P<l>\S+) is not inside the shift (?P<s>\S+)",
        lambda m: f"午休 {m['l']} 不在班次 {m['s']} 之内",
    ),
    (
        r"is before (?P<c>.+) (?P<d>\d{4}-\d{2}-\d{2})",
        lambda m: f"早于{m['c']} {m['d']}",
    ),
    (
        r"a (?P<n>\d+)-minute visit does not fit in (?P<w>\S+)",
        lambda m: f"{m['n']} 分钟的服务放不进时段 {m['w']}",
    ),
    (
        r"could not be geocoded \((?P<why>.*)\): (?P<fix>.*)",
        lambda m: f"无法由地址得到坐标（{_why(m['why'])}）：{_FIXES.get(m['fix'], m['fix'])}",
    ),
]
_COMPILED: Final = [(re.compile(pattern, re.DOTALL), render) for pattern, render in _RULES]


# A message written in both languages where it is made: "中文 / English".
_BOTH: Final = re.compile(r"(?P<zh>[^/]*[\u4e00-\u9fff][^/]*?) / (?P<en>[A-Za-z].*)", re.DOTALL)


def translate(message: str) -> str:
    """The Chinese of an English register message, or ``""`` when the catalogue lacks it.

    Weekday errors joined by ``; `` (each, then the hint) are translated part by part; a message
    already written as ``中文 / English`` answers its Chinese part.
    """
    for pattern, render in _COMPILED:
        match = pattern.fullmatch(message)
        if match is not None:
            return render(match)
    both = _BOTH.fullmatch(message)
    if both is not None:
        return both["zh"]
    if "; " in message:
        return _parts(message, "; ")
    return ""
