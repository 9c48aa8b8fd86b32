"""Seeded, realistic sample dataset for Minhang district (闵行区), Shanghai.

:func:`generate` builds the tables of the dataset contract (``shared/FORMAT.md``) for the 14
community health service centres of Minhang: centres, residents' committees, family-doctor teams,
signed residents aged 70+, their visit history since 1 January and the special on-demand requests
(特需上门) of a fixed reference week. :func:`scheduler.dataset.write_dataset` writes them.

Everything is drawn from :func:`numpy.random.default_rng` seeded with ``(seed, centre number)``,
so the same seed, scope and week give byte-identical files, and the one-centre scope equals the
district's rows for that centre. No function reads the clock. The figures behind the mix (age,
chronic disease, disability, ...) and their sources are in ``scenarios/data/README.md``; they are
approximations, and every coordinate is an approximate WGS-84 position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from scheduler.dataset import REQUIRED_COLUMNS

__all__ = ["REFERENCE_WEEK", "SAMPLE_CENTRE_ID", "generate"]

REFERENCE_WEEK: date = date(2026, 11, 30)
"""The Monday of the week to plan; the history runs up to the Sunday before it."""

SAMPLE_CENTRE_ID: str = "MH03"
"""The Gumei (古美) centre: the one-centre sample of ``scenarios/data/minhang-centre/``."""

TABLES: Final = (
    "centres",
    "committees",
    "clinicians",
    "residents",
    "history",
    "requests",
    "sickbeds",
)

_DISTRICT: Final = "闵行区"
_KM_PER_DEG_LAT: Final = 111.32
# Everything generated stays inside this box (lat_min, lat_max, lon_min, lon_max): Minhang spans
# about 30.98-31.25 N and 121.30-121.55 E.
_BBOX: Final = (30.99, 31.245, 121.305, 121.545)

# --- the centres ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Centre:
    """One community health service centre and the shape of its sample."""

    centre_id: str
    name: str
    lat: float
    lon: float
    compact: bool  # a sub-district (街道): dense blocks of flats, committees close together
    residents: int  # signed residents aged 70+ in the sample (before a +-2 % jitter)
    teams: int
    stems: tuple[str, ...]  # place names the committees are named after
    roads: tuple[str, ...]  # roads for the addresses
    committees: tuple[tuple[str, str], ...] = ()  # explicit (name, road) list, if any


# fmt: off
_CENTRES: Final[tuple[_Centre, ...]] = (
    _Centre(
        "MH01", "莘庄社区卫生服务中心", 31.1120, 121.3720, False, 4600, 8,
        ("莘松", "莘城", "西湖", "绿梅", "水清", "莘东", "康城", "报春", "莘北", "春申", "沁春"),
        ("莘松路", "莘浜路", "莘建路", "沁春路", "莘朱路", "莘东路", "报春路", "水清路", "都市路"),
    ),
    _Centre(
        "MH02", "江川社区卫生服务中心", 31.0170, 121.4050, True, 3900, 8,
        ("江川", "东风", "红旗", "鹤庆", "昆阳", "华坪", "碧江", "汽轮", "电机", "通海"),
        ("江川路", "鹤庆路", "昆阳路", "华坪路", "沧源路", "碧江路", "兰坪路", "永德路"),
    ),
    _Centre(
        "MH03", "古美社区卫生服务中心", 31.1490, 121.3960, True, 2500, 6, (), (),
        (
            ("平阳一村居委", "平阳路"), ("平阳二村居委", "平阳路"), ("平阳三村居委", "平阳路"),
            ("平阳四村居委", "平阳路"), ("平南一村居委", "平南路"), ("平南二村居委", "平南路"),
            ("平南三村居委", "平南路"), ("古美一村居委", "古美路"), ("古美二村居委", "古美路"),
            ("古美三村居委", "古美路"), ("古美四村居委", "古美路"), ("古龙一村居委", "古龙路"),
            ("古龙二村居委", "古龙路"), ("古龙三村居委", "古龙路"), ("平吉一村居委", "平吉路"),
            ("平吉二村居委", "平吉路"), ("东兰新村居委", "东兰路"), ("万源城居委", "万源路"),
        ),
    ),
    _Centre(
        "MH04", "新虹社区卫生服务中心", 31.1870, 121.3200, True, 1000, 4,
        ("新虹", "爱博", "申虹", "纪王", "华翔", "申长"),
        ("申长路", "纪翟路", "申虹路", "北翟路", "华翔路"),
    ),
    _Centre(
        "MH05", "浦锦社区卫生服务中心", 31.0830, 121.4920, True, 1800, 4,
        ("浦锦", "芦恒", "浦航", "浦星", "新江", "丰华", "浦申"),
        ("浦锦路", "浦星公路", "芦恒路", "浦秀路", "浦申路", "浦航路"),
    ),
    _Centre(
        "MH06", "七宝社区卫生服务中心", 31.1570, 121.3500, False, 4300, 8,
        ("七宝", "航华", "华林", "沪星", "号上", "吴宝", "新龙", "皇都", "七韵", "九星"),
        ("七莘路", "漕宝路", "新镇路", "航华路", "吴宝路", "沪星路", "富强街", "青年路"),
    ),
    _Centre(
        "MH07", "颛桥社区卫生服务中心", 31.0630, 121.4050, False, 3000, 7,
        ("颛桥", "银都", "中沟", "北桥", "灯塔", "颛溪", "金都", "瓶北", "永联"),
        ("沪闵路", "颛兴路", "银都路", "北松公路", "都市路", "颛盛路"),
    ),
    _Centre(
        "MH08", "华漕社区卫生服务中心", 31.2180, 121.3150, False, 1700, 4,
        ("华漕", "许浦", "诸翟", "石皮弄", "紫薇", "赵家", "杨家巷", "陈思"),
        ("北青公路", "纪鹤路", "诸新路", "华江路", "许浦路"),
    ),
    _Centre(
        "MH09", "虹桥社区卫生服务中心", 31.1840, 121.3930, False, 3400, 8,
        ("虹桥", "龙柏", "虹梅", "井亭", "金汇", "虹莘", "吴中", "红松", "锦屏"),
        ("虹梅路", "吴中路", "龙溪路", "红松路", "虹井路", "金汇路", "虹许路"),
    ),
    _Centre(
        "MH10", "梅陇社区卫生服务中心", 31.1270, 121.4280, False, 4000, 8,
        ("梅陇", "罗阳", "集心", "华梅", "曹行", "行南", "许泾", "梅莲", "莲花", "陇西"),
        ("莲花南路", "罗阳路", "罗锦路", "春申路", "集心路", "曹行路", "虹梅南路"),
    ),
    _Centre(
        "MH11", "吴泾社区卫生服务中心", 31.0470, 121.4530, False, 2400, 6,
        ("吴泾", "塘湾", "紫竹", "剑川", "龙吴", "友东", "和平", "星火"),
        ("龙吴路", "剑川路", "东川路", "永德路", "虹梅南路", "紫星路"),
    ),
    _Centre(
        "MH12", "马桥社区卫生服务中心", 31.0300, 121.3550, False, 1900, 5,
        ("马桥", "银春", "旗忠", "彭渡", "金星", "同心", "俞塘", "吴会"),
        ("元江路", "银春路", "北松公路", "沪闵路", "俞塘路", "银都路"),
    ),
    _Centre(
        "MH13", "浦江社区卫生服务中心", 31.0720, 121.5150, False, 4600, 8,
        ("浦江", "召楼", "革新", "汇中", "正义", "联星", "永丰", "新风", "鲁汇", "闸航", "江月"),
        ("浦星公路", "沈杜公路", "召楼路", "江月路", "浦航路", "联航路", "陈行公路", "汇中路"),
    ),
    _Centre(
        "MH14", "莘庄工业区社区卫生服务中心", 31.0800, 121.3560, False, 900, 4,
        ("春申", "申富", "光华", "中春", "北松", "光中", "申南"),
        ("北松公路", "春东路", "申富路", "光华路", "中春路", "申南路"),
    ),
)
# fmt: on

_COMPACT_SUFFIXES: Final = ("一村居委", "二村居委", "三村居委", "新村居委", "四村居委")
_TOWN_SUFFIXES: Final = ("新村居委", "村委", "苑居委", "花园居委", "一村居委", "二村居委")
_RESIDENTS_PER_COMMITTEE: Final = 140

# --- the calendar ---------------------------------------------------------------------------

# Public holidays of 2026 (国务院办公厅 notice); weekend make-up working days are ignored.
_HOLIDAY_RANGES: Final = (
    (date(2026, 1, 1), date(2026, 1, 3)),
    (date(2026, 2, 15), date(2026, 2, 23)),
    (date(2026, 4, 4), date(2026, 4, 6)),
    (date(2026, 5, 1), date(2026, 5, 5)),
    (date(2026, 6, 19), date(2026, 6, 21)),
    (date(2026, 9, 25), date(2026, 9, 27)),
    (date(2026, 10, 1), date(2026, 10, 7)),
)

# --- the population mix (sources in scenarios/data/README.md) --------------------------------

# Age groups 70-79, 80-89, 90-99; centenarians are counted separately (_CENTENARIAN_SHARE).
_AGE_GROUP_SHARE: Final = (0.582, 0.330, 0.085)
_AGE_GROUP_DECAY: Final = (0.03, 0.06, 0.20)  # per-year decline of the head count in a group
_CENTENARIAN_SHARE: Final = 0.003
_CENTENARIAN_SICKBED_MIN: Final = 5  # centenarians with a home sick-bed, when there are so many
_FEMALE_SHARE: Final = (0.52, 0.58, 0.65, 0.74)  # 70-79, 80-89, 90-99, 100+
_SEMI_DISABLED: Final = (0.06, 0.13, 0.22, 0.30)
_FULLY_DISABLED: Final = (0.025, 0.07, 0.15, 0.45)
_HYPERTENSION: Final = (0.57, 0.63, 0.64, 0.64)
_DIABETES: Final = (0.26, 0.25, 0.18, 0.15)
_SICKBED_BY_DISABILITY: Final = {"none": 0.001, "semi": 0.04, "full": 0.30}
_CENTENARIAN_SICKBED: Final = 0.6
_HOMEBOUND_SEMI: Final = 0.5
_HOMEBOUND_OTHERS: Final = (0.01, 0.01, 0.06, 0.10)
_REHAB_BY_DISABILITY: Final = {"none": 0.025, "semi": 0.12, "full": 0.08}
_DEMENTIA: Final = (0.02, 0.07, 0.18, 0.25)
_COPD: Final = 0.07
_OTHER_TEAM: Final = 0.10
_PREFERRED: Final = 0.60
_PREFERRED_DOCTOR: Final = 0.65
_AVAILABILITY: Final = (
    ("", 0.70),
    ("Mon-Fri 08:00-11:30", 0.08),
    ("Mon-Fri 08:00-11:30; Mon-Fri 14:00-17:00", 0.06),
    ("Tue,Thu 14:00-16:30", 0.03),
    ("Mon,Wed,Fri 09:00-11:00", 0.03),
    ("Mon-Fri 13:30-16:30", 0.03),
    ("Mon-Fri 09:00-11:00; Mon-Fri 14:30-16:30", 0.03),
    ("Tue,Wed,Thu 08:30-11:30", 0.02),
    ("Mon-Sat 09:00-11:30", 0.02),
)

# --- the history (what was done since 1 January) ---------------------------------------------

_FOLLOWUP_PAST_QUARTER: Final = 0.90
_FOLLOWUP_CURRENT_PACE: Final = 1.03  # share done so far = pace x elapsed share of the quarter
_CHRONIC_PAST_QUARTER: Final = 0.88
_CHRONIC_CURRENT_PACE: Final = 1.00
_HEALTH_CHECK_PACE: Final = 0.93  # share done so far = pace x elapsed share of the year
_GUIDANCE_ATTENDANCE: Final = 0.70
_DELIVERY_WEEKS_AGO: Final = ((1, 0.45), (2, 0.35), (3, 0.20))
_CENTENARIAN_ROUND_DAYS: Final = (5, 18)

# --- the requests of the reference week ------------------------------------------------------

_REQUEST_RATE: Final = 0.01  # requests per resident in the week
_SERVICES: Final = ("catheter_care", "pressure_sore_care", "infusion", "picc_maintenance", "tcm")
_SERVICE_SKILL: Final = {
    "catheter_care": "catheter",
    "pressure_sore_care": "wound",
    "infusion": "infusion",
    "picc_maintenance": "picc",
    "tcm": "tcm",
}
_SERVICE_MINUTES: Final = {
    "catheter_care": 30,
    "pressure_sore_care": 40,
    "infusion": 60,
    "picc_maintenance": 40,
    "tcm": 45,
}
_SERVICE_MIX_FULL: Final = (0.30, 0.35, 0.15, 0.10, 0.10)
_SERVICE_MIX_OTHER: Final = (0.15, 0.10, 0.30, 0.15, 0.30)
_REQUEST_WINDOWS: Final = (
    ("08:30", "11:30"),
    ("14:00", "16:30"),
    ("08:00", "11:00"),
    ("13:30", "16:30"),
    ("09:00", "11:30"),
)

# --- names and numbers -----------------------------------------------------------------------

_SURNAMES: Final = (
    "张王陈李徐朱沈周陆顾吴黄杨金钱孙胡蒋姚曹范唐施冯汪许郁倪龚奚瞿邱袁潘"
    "马赵刘蔡严秦丁杜俞宋叶程吕谢郑卢费毛夏贺"
)
# fmt: off
_OLD_FEMALE_GIVEN: Final = (
    "秀英", "桂英", "玉珍", "凤英", "秀珍", "美华", "佩华", "根娣", "小妹", "菊英", "惠珍",
    "月娥", "雅芳", "兰英", "彩娣", "金娣", "素珍", "宝珍", "丽华", "淑芬", "美娟", "月珍",
    "杏娣", "莲英", "玉兰", "巧珍", "雪英", "惠芳", "文娟", "琴芳", "美英", "爱珍",
)
_OLD_MALE_GIVEN: Final = (
    "建国", "国华", "根宝", "志明", "德明", "金龙", "伟民", "国强", "荣根", "福生", "海林",
    "永康", "家栋", "振华", "文斌", "关林", "秋生", "金福", "阿根", "庆华", "德兴", "龙根",
    "炳坤", "正明", "益民", "长根", "雪根", "金荣", "祖荣", "鸿发", "志刚", "兴宝",
)
_YOUNG_FEMALE_GIVEN: Final = (
    "婷", "静", "敏", "丽", "颖", "洁", "晓燕", "佳", "蕾", "倩", "思怡", "雯", "琳",
    "丹", "晶", "艳", "慧", "玲", "欣怡", "佳怡", "雪", "梦婷", "晓雯", "琼", "怡",
)
_YOUNG_MALE_GIVEN: Final = (
    "杰", "磊", "伟", "强", "浩", "俊", "斌", "晨", "昊", "峰", "超", "鹏", "涛",
    "宇", "军", "明", "亮", "轩", "文", "佳明", "志远", "一鸣", "嘉豪", "子豪", "俊杰",
)
_MOBILE_PREFIXES: Final = (
    "139", "138", "137", "136", "135", "158", "159", "186", "189", "133", "180", "177", "150",
    "151", "152", "187", "188", "181", "153", "131",
)
# fmt: on

# --- the teams -------------------------------------------------------------------------------

_ROLES: Final = (("D", "doctor"), ("A", "assistant"), ("N", "nurse"), ("R", "rehab"))
_FEMALE_BY_ROLE: Final = {"doctor": 0.55, "assistant": 0.70, "nurse": 0.95, "rehab": 0.50}
_TRAVEL_COMPACT: Final = {
    "doctor": (0.20, 0.70, 0.10),  # walk, ebike, car
    "assistant": (0.40, 0.60, 0.0),
    "nurse": (0.30, 0.70, 0.0),
    "rehab": (0.20, 0.80, 0.0),
}
_TRAVEL_TOWN: Final = {
    "doctor": (0.05, 0.65, 0.30),
    "assistant": (0.10, 0.90, 0.0),
    "nurse": (0.05, 0.90, 0.05),
    "rehab": (0.0, 0.90, 0.10),
}
_TRAVEL_MODES: Final = ("walk", "ebike", "car")
_WORK_DAYS: Final = (
    ("Mon;Tue;Wed;Thu;Fri", 0.80),
    ("Mon;Tue;Wed;Thu;Sat", 0.06),
    ("Tue;Wed;Thu;Fri;Sat", 0.06),
    ("Mon;Tue;Wed;Fri", 0.04),
    ("Mon;Tue;Thu;Fri", 0.04),
)
_NURSE_INFUSION: Final = 0.5
_NURSE_PICC: Final = 1 / 3
_DOCTOR_TCM: Final = 1 / 3
_ASSISTANT_BLOOD_DRAW: Final = 0.5

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DayArray = npt.NDArray[np.datetime64]


# --- public API ------------------------------------------------------------------------------


def generate(
    scope: Literal["centre", "district"] = "centre",
    seed: int = 2026,
    reference_week: date = REFERENCE_WEEK,
) -> dict[str, pd.DataFrame]:
    """Return the dataset tables keyed by file stem.

    Parameters
    ----------
    scope
        ``"centre"`` for the Gumei centre alone (:data:`SAMPLE_CENTRE_ID`, about 2,500 residents,
        6 teams), ``"district"`` for all 14 centres of Minhang (about 40,000 residents).
    seed
        Seed of the random draws (a non-negative integer). Each centre draws from its own stream
        ``default_rng((seed, centre number))``, so the centre scope equals the district's rows for
        that centre.
    reference_week
        The Monday of the week to plan. Ages are taken on this day, the history runs from
        1 January of its year up to the Sunday before it, and the requests fall inside it.

    Returns
    -------
    dict[str, pandas.DataFrame]
        ``centres``, ``committees``, ``clinicians``, ``residents``, ``history`` and
        ``requests``, with the columns of ``shared/FORMAT.md`` plus ``phone`` (clinicians) and
        ``address``, ``phone``, ``sex``, ``conditions`` (residents). Flags are the strings
        ``true``/``false``; dates are ISO strings; empty fields are empty strings.

    Raises
    ------
    ValueError
        If ``scope`` is unknown, ``seed`` is negative or ``reference_week`` is not a Monday.
    """
    if scope == "centre":
        centres = [c for c in _CENTRES if c.centre_id == SAMPLE_CENTRE_ID]
    elif scope == "district":
        centres = list(_CENTRES)
    else:
        raise ValueError(f"unknown scope {scope!r}: expected 'centre' or 'district'")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if reference_week.weekday() != 0:
        raise ValueError(f"reference_week must be a Monday, got {reference_week.isoformat()}")

    calendar = _Calendar(reference_week)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    for centre in centres:
        number = int(centre.centre_id[2:])
        rng = np.random.default_rng([seed, number])
        # The data the reports need draws from a stream of its own, so adding it changed none
        # of the draws before it.
        extra = np.random.default_rng([seed, number, _REPORT_STREAM])
        for name, frame in _generate_centre(centre, rng, calendar, extra).items():
            parts[name].append(frame)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}


# --- calendar helpers ------------------------------------------------------------------------


class _Calendar:
    """Working days and periods around a reference week."""

    def __init__(self, reference_week: date) -> None:
        self.week = reference_week
        self.last_day = reference_week - timedelta(days=1)  # the Sunday before the week
        self.year_start = date(reference_week.year, 1, 1)
        holidays = {
            start + timedelta(days=k)
            for start, end in _HOLIDAY_RANGES
            for k in range((end - start).days + 1)
        }
        first = self.year_start - timedelta(days=120)
        days = [first + timedelta(days=k) for k in range((self.last_day - first).days + 1)]
        self.workdays: DayArray = np.array(
            [d for d in days if d.weekday() < 5 and d not in holidays], dtype="datetime64[D]"
        )
        quarter_month = (reference_week.month - 1) // 3 * 3 + 1
        self.quarter_start = date(reference_week.year, quarter_month, 1)
        month_anchor = self.last_day  # the month whose sessions are "this month"
        self.month_start = month_anchor.replace(day=1)
        self.previous_month_start = (self.month_start - timedelta(days=1)).replace(day=1)

    def pick(self, rng: np.random.Generator, lo: DayArray, hi: DayArray) -> DayArray:
        """A uniformly random working day in ``[lo, hi]`` per element; NaT where there is none."""
        wd = self.workdays
        lo_i = np.searchsorted(wd, lo, side="left")
        hi_i = np.searchsorted(wd, hi, side="right") - 1
        count = hi_i - lo_i + 1
        ok = count > 0
        idx = lo_i + np.floor(rng.random(len(lo)) * np.maximum(count, 1)).astype(np.int64)
        out = np.full(len(lo), np.datetime64("NaT"), dtype="datetime64[D]")
        out[ok] = wd[np.clip(idx[ok], 0, len(wd) - 1)]
        return out

    def on_or_before(self, days: DayArray) -> DayArray:
        """The latest working day on or before each day."""
        idx = np.searchsorted(self.workdays, days, side="right") - 1
        return np.asarray(self.workdays[np.clip(idx, 0, len(self.workdays) - 1)])

    def on_or_after(self, days: DayArray) -> DayArray:
        """The earliest working day on or after each day; NaT past the last one."""
        idx = np.searchsorted(self.workdays, days, side="left")
        out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
        ok = idx < len(self.workdays)
        out[ok] = self.workdays[idx[ok]]
        return out


def _day(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _next_quarter(quarter_start: date) -> date:
    """The first day of the quarter after the one starting on ``quarter_start``."""
    month = quarter_start.month + 3
    return date(quarter_start.year + (month > 12), (month - 1) % 12 + 1, 1)


def _birthday(birth: date, age: int) -> date:
    """The day a person born on ``birth`` turns ``age`` (1 March for 29 February)."""
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:
        return date(birth.year + age, 3, 1)


# --- drawing helpers -------------------------------------------------------------------------


def _choice(
    rng: np.random.Generator, options: Sequence[str], p: Sequence[float], n: int
) -> list[str]:
    weights = np.asarray(p, dtype=np.float64)
    idx = rng.choice(len(options), size=n, p=weights / weights.sum())
    return [options[int(i)] for i in idx]


def _flags(values: BoolArray) -> list[str]:
    return ["true" if v else "false" for v in values]


def _phones(rng: np.random.Generator, n: int) -> list[str]:
    prefixes = rng.integers(0, len(_MOBILE_PREFIXES), size=n)
    numbers = rng.integers(0, 100_000_000, size=n)
    return [
        f"{_MOBILE_PREFIXES[int(p)]}{int(x):08d}" for p, x in zip(prefixes, numbers, strict=True)
    ]


def _surnames(rng: np.random.Generator, n: int) -> list[str]:
    weights = 1.0 / (np.arange(len(_SURNAMES)) + 6.0)
    idx = rng.choice(len(_SURNAMES), size=n, p=weights / weights.sum())
    return [_SURNAMES[int(i)] for i in idx]


def _names(
    rng: np.random.Generator,
    female: BoolArray,
    female_given: Sequence[str],
    male_given: Sequence[str],
) -> list[str]:
    surnames = _surnames(rng, len(female))
    f_idx = rng.integers(0, len(female_given), size=len(female))
    m_idx = rng.integers(0, len(male_given), size=len(female))
    return [
        s + (female_given[int(fi)] if f else male_given[int(mi)])
        for s, f, fi, mi in zip(surnames, female, f_idx, m_idx, strict=True)
    ]


def _offset(
    lat: float, lon: float, east_km: FloatArray, north_km: FloatArray
) -> tuple[FloatArray, FloatArray]:
    lats = lat + north_km / _KM_PER_DEG_LAT
    lons = lon + east_km / (_KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lats, lons


def _inside(lat: float, lon: float) -> bool:
    return _BBOX[0] <= lat <= _BBOX[1] and _BBOX[2] <= lon <= _BBOX[3]


# --- one centre ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Committees:
    ids: list[str]
    names: list[str]
    roads: list[str]
    village: list[bool]
    lat: FloatArray
    lon: FloatArray
    team: IntArray  # team number (1-based) serving each committee


def _generate_centre(
    centre: _Centre, rng: np.random.Generator, cal: _Calendar, extra: np.random.Generator
) -> dict[str, pd.DataFrame]:
    n_residents = round(centre.residents * rng.uniform(0.98, 1.02))
    committees = _make_committees(centre, rng, n_residents)
    clinicians = _make_clinicians(centre, rng)
    residents, attrs = _make_residents(centre, rng, cal, committees, n_residents)
    history = _make_history(rng, cal, committees, attrs)
    requests = _make_requests(centre, rng, cal, attrs)
    residents, history, sickbeds = _add_report_data(extra, cal, residents, history, attrs)
    centres = pd.DataFrame(
        {
            "centre_id": [centre.centre_id],
            "name": [centre.name],
            "lat": [centre.lat],
            "lon": [centre.lon],
            "crs": ["wgs84"],
            "district": [_DISTRICT],
        }
    )
    committee_frame = pd.DataFrame(
        {
            "committee_id": committees.ids,
            "centre_id": centre.centre_id,
            "name": committees.names,
            "lat": np.round(committees.lat, 6),
            "lon": np.round(committees.lon, 6),
        }
    )
    return {
        "centres": centres,
        "committees": committee_frame,
        "clinicians": clinicians,
        "residents": residents,
        "history": history,
        "requests": requests,
        "sickbeds": sickbeds,
    }


# --- what the reports need (signing, tests, places, sick-bed episodes, special services) ------

_REPORT_STREAM: Final = 15
_UNSIGNED: Final = 0.03  # residents whose signing with the team has lapsed
_SIGNED_FROM: Final = date(2016, 1, 1)  # family-doctor signing in Shanghai from 2016 ("1+1+1")
_B_ULTRASOUND: Final = 0.25  # health checks that add a B-ultrasound
_NO_URINE: Final = 0.08  # health checks where no urine sample could be had
_DISCHARGED_SICKBED: Final = 0.05  # disabled residents whose sick-bed closed this year
_SPECIAL_SERVICES: Final = 0.15  # homebound residents with on-demand services this year
_COMMITTEE_PROGRAMMES: Final = ("medicine_delivery", "medication_guidance")
_CHECK_TESTS: Final = ("blood_routine", "urine_routine", "liver", "kidney", "lipids", "ecg")


def _add_report_data(
    rng: np.random.Generator,
    cal: _Calendar,
    residents: pd.DataFrame,
    history: pd.DataFrame,
    a: _Attrs,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Residents' signing, the history's outcome, tests and place, sick-bed episodes (opened,
    discharged) and this year's special on-demand services."""
    n = len(a.ids)
    residents = residents.copy()
    residents["signed"] = _flags(rng.random(n) >= _UNSIGNED)
    span = (cal.last_day - _SIGNED_FROM).days
    residents["signed_since"] = [
        (_SIGNED_FROM + timedelta(days=int(d))).isoformat() for d in rng.integers(0, span, size=n)
    ]

    everyone = np.arange(n, dtype=np.int64)
    # Special on-demand services (特需上门) this year for some homebound residents.
    who = everyone[a.homebound & (rng.random(n) < _SPECIAL_SERVICES)]
    first, last = _day(cal.year_start), _day(cal.last_day)
    special_days = [cal.pick(rng, np.full(len(who), first), np.full(len(who), last))]
    again = who[rng.random(len(who)) < 0.4]
    special_days.append(cal.pick(rng, np.full(len(again), first), np.full(len(again), last)))
    specials = pd.DataFrame(
        {
            "resident_id": [a.ids[int(i)] for i in np.concatenate([who, again])],
            "programme": "special_service",
            "date": np.datetime_as_string(np.concatenate(special_days), unit="D"),
        }
    )
    history = pd.concat([history, specials[specials["date"] != "NaT"]], ignore_index=True)
    history = history.drop_duplicates(["resident_id", "programme", "date"])
    history = history.sort_values(["resident_id", "date", "programme"]).reset_index(drop=True)
    history["outcome"] = "completed"
    checks = history["programme"] == "health_check"
    draws = rng.random((len(history), 2))
    history["tests"] = [
        ";".join(
            [t for t in _CHECK_TESTS if not (t == "urine_routine" and u[1] < _NO_URINE)]
            + (["b_ultrasound"] if u[0] < _B_ULTRASOUND else [])
        )
        if check
        else ""
        for check, u in zip(checks, draws, strict=True)
    ]
    history["place"] = np.where(
        history["programme"].isin(_COMMITTEE_PROGRAMMES), "committee", "home"
    )

    # Sick-bed episodes: the open ones of today's sick-bed residents, and some closed this year.
    open_who = everyone[a.sickbed]
    opened = _day(cal.last_day) - rng.integers(20, 700, size=len(open_who)).astype("timedelta64[D]")
    disabled = np.array([d != "none" for d in a.disability])
    closed_who = everyone[disabled & ~a.sickbed & (rng.random(n) < _DISCHARGED_SICKBED)]
    discharged = cal.pick(rng, np.full(len(closed_who), first + 30), np.full(len(closed_who), last))
    closed_opened = discharged - rng.integers(21, 180, size=len(closed_who)).astype(
        "timedelta64[D]"
    )
    keep = ~np.isnat(discharged)
    sickbeds = pd.DataFrame(
        {
            "resident_id": [a.ids[int(i)] for i in np.concatenate([open_who, closed_who[keep]])],
            "opened": np.datetime_as_string(
                np.concatenate([opened, closed_opened[keep]]), unit="D"
            ),
            "discharged": [""] * len(open_who)
            + list(np.datetime_as_string(discharged[keep], unit="D")),
        }
    )
    sickbeds = sickbeds.sort_values(["resident_id", "opened"]).reset_index(drop=True)
    return residents, history, sickbeds


def _make_committees(centre: _Centre, rng: np.random.Generator, n_residents: int) -> _Committees:
    if centre.committees:
        names = [name for name, _ in centre.committees]
        roads = [road for _, road in centre.committees]
    else:
        count = max(2 * centre.teams, round(n_residents / _RESIDENTS_PER_COMMITTEE))
        suffixes = _COMPACT_SUFFIXES if centre.compact else _TOWN_SUFFIXES
        stems = centre.stems
        if count > len(stems) * len(suffixes):
            raise ValueError(f"{centre.centre_id}: too few committee names for {count}")
        names = [stems[j % len(stems)] + suffixes[j // len(stems)] for j in range(count)]
        roads = [centre.roads[int(i)] for i in rng.integers(0, len(centre.roads), size=count)]
    count = len(names)
    r_min, r_max, spacing = (0.3, 1.5, 0.25) if centre.compact else (0.5, 3.0, 0.4)
    east: list[float] = []
    north: list[float] = []
    for _ in range(count):
        best: tuple[float, float] = (0.0, 0.0)
        for _attempt in range(200):
            radius = math.sqrt(rng.uniform(r_min**2, r_max**2))
            angle = rng.uniform(0.0, 2.0 * math.pi)
            x, y = radius * math.cos(angle), radius * math.sin(angle)
            lat_c, lon_c = _offset(centre.lat, centre.lon, np.array([x]), np.array([y]))
            if not _inside(float(lat_c[0]), float(lon_c[0])):
                continue
            best = (x, y)
            if all(
                math.hypot(x - ex, y - ny) >= spacing for ex, ny in zip(east, north, strict=True)
            ):
                break
        east.append(best[0])
        north.append(best[1])
    east_a, north_a = np.array(east), np.array(north)
    lat, lon = _offset(centre.lat, centre.lon, east_a, north_a)
    # Teams serve contiguous sectors around the centre.
    order = np.argsort(np.arctan2(north_a, east_a), kind="stable")
    team = np.empty(count, dtype=np.int64)
    team[order] = np.arange(count) * centre.teams // count + 1
    return _Committees(
        ids=[f"{centre.centre_id}-C{j + 1:02d}" for j in range(count)],
        names=names,
        roads=roads,
        village=[name.endswith("村委") for name in names],
        lat=lat,
        lon=lon,
        team=team,
    )


def _make_clinicians(centre: _Centre, rng: np.random.Generator) -> pd.DataFrame:
    rows: list[dict[str, str]] = []
    travel = _TRAVEL_COMPACT if centre.compact else _TRAVEL_TOWN
    n = centre.teams * len(_ROLES)
    roles = [role for _ in range(centre.teams) for _, role in _ROLES]
    female = np.array([rng.random() < _FEMALE_BY_ROLE[role] for role in roles])
    names = _names(rng, female, _YOUNG_FEMALE_GIVEN, _YOUNG_MALE_GIVEN)
    phones = _phones(rng, n)
    work_days = _choice(rng, [w for w, _ in _WORK_DAYS], [p for _, p in _WORK_DAYS], n)
    draws = rng.random((n, 6))
    # The centre needs at least one nurse for infusion and PICC and one doctor for TCM.
    nurse_rows = [k for k, role in enumerate(roles) if role == "nurse"]
    doctor_rows = [k for k, role in enumerate(roles) if role == "doctor"]
    forced_infusion = nurse_rows[int(rng.integers(0, len(nurse_rows)))]
    forced_picc = nurse_rows[int(rng.integers(0, len(nurse_rows)))]
    forced_tcm = doctor_rows[int(rng.integers(0, len(doctor_rows)))]
    for k, role in enumerate(roles):
        team_no = k // len(_ROLES) + 1
        letter = _ROLES[k % len(_ROLES)][0]
        team_id = f"{centre.centre_id}-T{team_no}"
        if role == "nurse":
            skills = ["blood_draw", "wound", "catheter"]
            if draws[k, 0] < _NURSE_INFUSION or k == forced_infusion:
                skills.append("infusion")
            if draws[k, 1] < _NURSE_PICC or k == forced_picc:
                skills.append("picc")
        elif role == "doctor":
            skills = ["ecg"]
            if draws[k, 0] < _DOCTOR_TCM or k == forced_tcm:
                skills.append("tcm")
        elif role == "rehab":
            skills = ["rehab", "tuina"]
        else:
            skills = ["blood_draw"] if draws[k, 0] < _ASSISTANT_BLOOD_DRAW else []
        p_walk, p_ebike, _p_car = travel[role]
        u = draws[k, 2]
        mode = _TRAVEL_MODES[0] if u < p_walk else _TRAVEL_MODES[1 if u < p_walk + p_ebike else 2]
        early = draws[k, 3] < 0.2
        shift_end = "16:30" if early or draws[k, 4] < 0.5 else "17:00"
        late_lunch = draws[k, 5] >= 0.75
        rows.append(
            {
                "clinician_id": f"{team_id}-{letter}",
                "name": names[k],
                "team_id": team_id,
                "centre_id": centre.centre_id,
                "role": role,
                "skills": ";".join(skills),
                "travel_mode": mode,
                "work_days": work_days[k],
                "shift_start": "07:30" if early else "08:00",
                "shift_end": shift_end,
                "lunch_start": "12:00" if late_lunch else "11:30",
                "lunch_end": "13:00" if late_lunch else "12:30",
                "phone": phones[k],
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class _Attrs:
    """Per-resident arrays the history and the requests need."""

    ids: list[str]
    committee: IntArray  # index into the committees
    age: IntArray
    age_group: IntArray  # 0: 70-79, 1: 80-89, 2: 90-99, 3: 100+
    disability: list[str]
    hypertension: BoolArray
    diabetes: BoolArray
    sickbed: BoolArray
    homebound: BoolArray
    rehab: BoolArray
    availability: list[str]
    turns_70: DayArray
    turns_80: DayArray
    turns_100: DayArray


def _draw_ages(rng: np.random.Generator, n: int) -> IntArray:
    """Whole ages on the reference day: groups 70-79/80-89/90-99 by share, plus centenarians."""
    n_centenarians = round(n * _CENTENARIAN_SHARE)
    ages: list[int] = []
    weights: list[float] = []
    for group, (share, decay) in enumerate(zip(_AGE_GROUP_SHARE, _AGE_GROUP_DECAY, strict=True)):
        years = np.arange(10)
        w = np.exp(-decay * years)
        w = share * w / w.sum()
        ages.extend(int(70 + 10 * group + y) for y in years)
        weights.extend(float(x) for x in w)
    p = np.array(weights) / sum(weights)
    drawn = rng.choice(np.array(ages, dtype=np.int64), size=n - n_centenarians, p=p)
    old = 100 + rng.geometric(0.6, size=n_centenarians) - 1
    merged = np.concatenate([drawn, np.minimum(old, 108)]).astype(np.int64)
    return np.asarray(rng.permutation(merged), dtype=np.int64)


def _make_residents(
    centre: _Centre,
    rng: np.random.Generator,
    cal: _Calendar,
    committees: _Committees,
    n: int,
) -> tuple[pd.DataFrame, _Attrs]:
    n_comm = len(committees.ids)
    shares = rng.gamma(4.0, 1.0, size=n_comm)
    per_committee = rng.multinomial(n, shares / shares.sum())

    # Distinct lane (弄) numbers, so that two committees on one road never share an address.
    lanes = rng.choice(np.arange(5, 160), size=n_comm, replace=False) * 10 + rng.integers(
        0, 5, size=n_comm
    )
    committee_idx = np.repeat(np.arange(n_comm), per_committee).astype(np.int64)
    lat = np.empty(n)
    lon = np.empty(n)
    addresses: list[str] = []
    start = 0
    for j, count in enumerate(per_committee):
        count = int(count)
        if count == 0:
            continue
        village = committees.village[j]
        per_building = 1.4 if village else 3.5
        n_buildings = max(1, math.ceil(count / per_building))
        building = np.sort(rng.integers(0, n_buildings, size=count))
        sigma_km = 0.30 if village else 0.22
        dist = np.minimum(np.abs(rng.normal(0.0, sigma_km, size=n_buildings)), 1.2)
        angle = rng.uniform(0.0, 2.0 * math.pi, size=n_buildings)
        c_lat, c_lon = float(committees.lat[j]), float(committees.lon[j])
        b_lat, b_lon = _offset(c_lat, c_lon, dist * np.cos(angle), dist * np.sin(angle))
        # A building that would fall outside Minhang goes to the other side of the committee.
        outside = (b_lat < _BBOX[0]) | (b_lat > _BBOX[1]) | (b_lon < _BBOX[2]) | (b_lon > _BBOX[3])
        b_lat = np.where(outside, 2 * c_lat - b_lat, b_lat)
        b_lon = np.where(outside, 2 * c_lon - b_lon, b_lon)
        b_lat = np.clip(b_lat, _BBOX[0], _BBOX[1])
        b_lon = np.clip(b_lon, _BBOX[2], _BBOX[3])
        lat[start : start + count] = np.round(b_lat[building], 6)
        lon[start : start + count] = np.round(b_lon[building], 6)
        stem = committees.names[j].removesuffix("村委")
        lane = int(lanes[j])
        house_no = rng.permutation(np.arange(1, max(n_buildings, 60) + 1))[:n_buildings]
        groups = rng.integers(1, 13, size=n_buildings)
        floors = rng.integers(1, 7, size=count)
        units = rng.integers(1, 5, size=count)
        for k in range(count):
            b = int(building[k])
            if village:
                addresses.append(f"{stem}村{int(groups[b])}组{int(house_no[b])}号")
            else:
                lane_k = lane + 5 * (int(house_no[b]) > 40)  # a second lane for big estates
                addresses.append(
                    f"{committees.roads[j]}{lane_k}弄{int(house_no[b])}号"
                    f"{int(floors[k])}{int(units[k]):02d}室"
                )
        start += count

    ages = _draw_ages(rng, n)
    group = np.minimum((ages - 70) // 10, 3).astype(np.int64)
    female = rng.random(n) < np.take(_FEMALE_SHARE, group)
    names = _names(rng, female, _OLD_FEMALE_GIVEN, _OLD_MALE_GIVEN)

    ref = cal.week
    birth: list[date] = []
    day_draw = rng.random(n)
    for age, u in zip(ages, day_draw, strict=True):
        upper = _years_before(ref, int(age))
        lower = _years_before(ref, int(age) + 1)
        span = (upper - lower).days
        birth.append(upper - timedelta(days=int(u * span)))

    u = rng.random((n, 12))
    p_semi = np.take(_SEMI_DISABLED, group)
    p_full = np.take(_FULLY_DISABLED, group)
    disability = np.where(
        u[:, 0] < p_full, "full", np.where(u[:, 0] < p_full + p_semi, "semi", "none")
    )
    hypertension = u[:, 1] < np.take(_HYPERTENSION, group)
    diabetes = u[:, 2] < np.take(_DIABETES, group)
    p_sickbed = np.array([_SICKBED_BY_DISABILITY[str(d)] for d in disability])
    sickbed = u[:, 3] < p_sickbed
    centenarian = np.flatnonzero(group == 3)
    sickbed[centenarian] = u[centenarian, 3] < _CENTENARIAN_SICKBED
    sickbed[centenarian[:_CENTENARIAN_SICKBED_MIN]] = True
    disability = np.where(sickbed & (disability == "none"), "semi", disability)
    homebound = (
        (disability == "full")
        | ((disability == "semi") & (u[:, 4] < _HOMEBOUND_SEMI))
        | sickbed
        | (u[:, 5] < np.take(_HOMEBOUND_OTHERS, group))
    )
    rehab = u[:, 6] < np.array([_REHAB_BY_DISABILITY[str(d)] for d in disability])
    stroke = np.where(rehab, u[:, 7] < 0.6, u[:, 7] < np.where(disability == "none", 0.03, 0.12))
    copd = u[:, 8] < _COPD
    dementia = (u[:, 9] < np.take(_DEMENTIA, group)) | ((disability == "full") & (u[:, 9] < 0.25))
    conditions = [
        ";".join(
            label
            for label, has in (("rehab", r), ("stroke", s), ("copd", c), ("dementia", d))
            if has
        )
        for r, s, c, d in zip(rehab, stroke, copd, dementia, strict=True)
    ]
    availability = _choice(rng, [a for a, _ in _AVAILABILITY], [p for _, p in _AVAILABILITY], n)

    team_no = committees.team[committee_idx].copy()
    other = u[:, 10] < _OTHER_TEAM
    if centre.teams > 1:
        shift = rng.integers(1, centre.teams, size=n)
        team_no = np.where(other, (team_no - 1 + shift) % centre.teams + 1, team_no)
    team_ids = [f"{centre.centre_id}-T{int(t)}" for t in team_no]
    pref_draw = rng.random(n)
    preferred = [
        "" if p >= _PREFERRED else f"{t}-D" if p < _PREFERRED * _PREFERRED_DOCTOR else f"{t}-N"
        for p, t in zip(pref_draw, team_ids, strict=True)
    ]
    phones = _phones(rng, n)
    ids = [f"{centre.centre_id}-R{k + 1:05d}" for k in range(n)]

    residents = pd.DataFrame(
        {
            "resident_id": ids,
            "name": names,
            "birth_date": [b.isoformat() for b in birth],
            "lat": lat,
            "lon": lon,
            "committee_id": [committees.ids[int(j)] for j in committee_idx],
            "team_id": team_ids,
            "preferred_clinician_id": preferred,
            "disability": [str(d) for d in disability],
            "hypertension": _flags(hypertension),
            "diabetes": _flags(diabetes),
            "home_sickbed": _flags(sickbed),
            "homebound": _flags(homebound),
            "availability": availability,
            "address": addresses,
            "phone": phones,
            "sex": ["F" if f else "M" for f in female],
            "conditions": conditions,
        }
    )
    attrs = _Attrs(
        ids=ids,
        committee=committee_idx,
        age=ages,
        age_group=group,
        disability=[str(d) for d in disability],
        hypertension=hypertension,
        diabetes=diabetes,
        sickbed=sickbed,
        homebound=homebound,
        rehab=rehab,
        availability=availability,
        turns_70=np.array([_day(_birthday(b, 70)) for b in birth], dtype="datetime64[D]"),
        turns_80=np.array([_day(_birthday(b, 80)) for b in birth], dtype="datetime64[D]"),
        turns_100=np.array([_day(_birthday(b, 100)) for b in birth], dtype="datetime64[D]"),
    )
    return residents, attrs


# --- history ---------------------------------------------------------------------------------


def _make_history(
    rng: np.random.Generator,
    cal: _Calendar,
    committees: _Committees,
    a: _Attrs,
) -> pd.DataFrame:
    n = len(a.ids)
    n_comm = len(committees.ids)
    chunks: list[tuple[IntArray, str, DayArray]] = []
    week = _day(cal.week)
    last = _day(cal.last_day)
    everyone = np.arange(n, dtype=np.int64)
    chronic = a.hypertension | a.diabetes
    disabled = np.array([d != "none" for d in a.disability])

    def add(who: IntArray, programme: str, days: DayArray) -> None:
        keep = ~np.isnat(days)
        chunks.append((who[keep], programme, days[keep]))

    # Quarterly programmes: past quarters of the year, then the current one pro rata.
    quarters: list[tuple[date, date]] = []
    q_start = cal.year_start
    while q_start < cal.quarter_start:
        nxt = _next_quarter(q_start)
        quarters.append((q_start, nxt - timedelta(days=1)))
        q_start = nxt
    elapsed_q = (cal.week - cal.quarter_start).days / (
        _next_quarter(cal.quarter_start) - cal.quarter_start
    ).days

    def quarterly(
        who: IntArray, programme: str, p_past: float, pace: float, since: DayArray | None
    ) -> None:
        periods = [(s, e, p_past) for s, e in quarters]
        periods.append((cal.quarter_start, cal.last_day, min(0.95, pace * elapsed_q)))
        for s, e, p in periods:
            lo = np.full(len(who), _day(s))
            if since is not None:
                lo = np.maximum(lo, since[who])
            hi = np.full(len(who), _day(e))
            done = rng.random(len(who)) < p
            add(who[done], programme, cal.pick(rng, lo[done], hi[done]))

    aged_80 = everyone[a.turns_80 <= _day(cal.last_day)]
    quarterly(aged_80, "followup_80", _FOLLOWUP_PAST_QUARTER, _FOLLOWUP_CURRENT_PACE, a.turns_80)
    chronic_disabled = everyone[chronic & disabled]
    quarterly(
        chronic_disabled, "chronic_followup", _CHRONIC_PAST_QUARTER, _CHRONIC_CURRENT_PACE, None
    )

    # Yearly health check of the disabled, spread over the year so far.
    elapsed_y = (cal.week - cal.year_start).days / 365.0
    who = everyone[disabled]
    done = who[rng.random(len(who)) < min(0.95, _HEALTH_CHECK_PACE * elapsed_y)]
    add(
        done,
        "health_check",
        cal.pick(rng, np.full(len(done), _day(cal.year_start)), np.full(len(done), last)),
    )

    # Medicine delivery at the committee: each committee holds a weekly session on a fixed day.
    session_weekday = rng.integers(0, 5, size=n_comm)
    who = everyone[chronic & ~a.homebound]
    weeks_ago = rng.choice(
        np.array([w for w, _ in _DELIVERY_WEEKS_AGO], dtype=np.int64),
        size=len(who),
        p=[p for _, p in _DELIVERY_WEEKS_AGO],
    )
    session = (
        week
        - (7 * weeks_ago).astype("timedelta64[D]")
        + session_weekday[a.committee[who]].astype("timedelta64[D]")
    )
    last_delivery = cal.on_or_before(session)
    add(who, "medicine_delivery", last_delivery)
    gap = rng.choice(np.array([7, 14], dtype=np.int64), size=len(who))
    add(who, "medicine_delivery", cal.on_or_before(last_delivery - gap.astype("timedelta64[D]")))

    # Medicine delivered home to the homebound, every 14 days.
    who = everyone[chronic & a.homebound]
    home = cal.pick(rng, np.full(len(who), week - 20), np.full(len(who), week - 5))
    add(who, "medicine_home", home)
    add(who, "medicine_home", cal.on_or_before(home - np.timedelta64(14, "D")))

    # Medication guidance: one session per committee and month; most residents attend.
    who = everyone[~a.homebound]
    for m_start, m_end in (
        (cal.previous_month_start, cal.month_start - timedelta(days=1)),
        (cal.month_start, cal.last_day),
    ):
        session_day = cal.pick(rng, np.full(n_comm, _day(m_start)), np.full(n_comm, _day(m_end)))
        attend = who[rng.random(len(who)) < _GUIDANCE_ATTENDANCE]
        add(attend, "medication_guidance", session_day[a.committee[attend]])

    # Centenarian rounds: twice this month, around the 5th and the 18th.
    who = everyone[(a.age_group == 3) & a.sickbed]
    for day_of_month in _CENTENARIAN_ROUND_DAYS:
        jitter = rng.integers(-2, 3, size=len(who))
        target = _day(cal.month_start) + np.timedelta64(day_of_month - 1, "D")
        add(who, "centenarian_round", cal.on_or_after(target + jitter.astype("timedelta64[D]")))

    # Home sick-bed rounds, weekly.
    who = everyone[a.sickbed & (a.age_group < 3)]
    rounds = cal.pick(rng, np.full(len(who), week - 9), np.full(len(who), week - 4))
    add(who, "sickbed_round", rounds)
    add(who, "sickbed_round", cal.on_or_before(rounds - np.timedelta64(7, "D")))

    # Rehabilitation guidance, every 14 days.
    who = everyone[a.rehab]
    rehab = cal.pick(rng, np.full(len(who), week - 20), np.full(len(who), week - 5))
    add(who, "rehab_guidance", rehab)
    add(who, "rehab_guidance", cal.on_or_before(rehab - np.timedelta64(14, "D")))

    min_age_day = {"followup_80": a.turns_80, "centenarian_round": a.turns_100}
    idx_parts: list[IntArray] = []
    prog_parts: list[list[str]] = []
    day_parts: list[DayArray] = []
    first = _day(cal.year_start)
    for who_c, programme, days in chunks:
        threshold = min_age_day.get(programme, a.turns_70)[who_c]
        keep = (days >= first) & (days <= last) & (days >= threshold)
        idx_parts.append(who_c[keep])
        prog_parts.append([programme] * int(keep.sum()))
        day_parts.append(days[keep])
    idx = np.concatenate(idx_parts) if idx_parts else np.empty(0, dtype=np.int64)
    history = pd.DataFrame(
        {
            "resident_id": [a.ids[int(i)] for i in idx],
            "programme": [p for part in prog_parts for p in part],
            "date": np.datetime_as_string(np.concatenate(day_parts), unit="D") if day_parts else [],
        }
    )
    history = history.drop_duplicates().sort_values(["resident_id", "date", "programme"])
    return history.reset_index(drop=True)


# --- requests --------------------------------------------------------------------------------


def _make_requests(
    centre: _Centre,
    rng: np.random.Generator,
    cal: _Calendar,
    a: _Attrs,
) -> pd.DataFrame:
    candidates = np.flatnonzero(
        a.homebound & np.array([not av for av in a.availability], dtype=np.bool_)
    )
    count = min(len(candidates), round(len(a.ids) * _REQUEST_RATE))
    chosen = np.sort(rng.choice(candidates, size=count, replace=False))
    rows: list[dict[str, object]] = []
    for i in chosen:
        mix = _SERVICE_MIX_FULL if a.disability[int(i)] == "full" else _SERVICE_MIX_OTHER
        service = _choice(rng, _SERVICES, mix, 1)[0]
        first = int(rng.integers(0, 5))  # Monday..Friday
        last = min(4, first + int(rng.integers(0, 5)))
        window = _REQUEST_WINDOWS[int(rng.integers(0, len(_REQUEST_WINDOWS)))]
        minutes = min(60, _SERVICE_MINUTES[service] + 5 * int(rng.integers(0, 3)))
        rows.append(
            {
                "resident_id": a.ids[int(i)],
                "service": service,
                "earliest_date": (cal.week + timedelta(days=first)).isoformat(),
                "latest_date": (cal.week + timedelta(days=last)).isoformat(),
                "window_start": window[0],
                "window_end": window[1],
                "duration_min": minutes,
                "skills": _SERVICE_SKILL[service],
            }
        )
    columns = [*REQUIRED_COLUMNS["requests"], "skills"]  # the contract; no request in a pair
    frame = pd.DataFrame(rows, columns=columns[1:])
    frame = frame.sort_values(["earliest_date", "resident_id"], kind="stable").reset_index(
        drop=True
    )
    frame.insert(0, "request_id", [f"{centre.centre_id}-Q{k + 1:03d}" for k in range(len(frame))])
    frame["duration_min"] = frame["duration_min"].astype("int64")
    return frame[columns]
