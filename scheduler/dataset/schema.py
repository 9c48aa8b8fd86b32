"""The dataset format (``shared/FORMAT.md``, ``docs/dataset-format.md``): its files, their
columns, the plan files' columns, and the Chinese names of files, columns and values.

Every reader and writer of the format takes the names from here; :func:`canonical_column` and
:func:`canonical_table` map a header or a file name as a user wrote it to the English one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

__all__ = [
    "COLUMN_ALIASES_ZH",
    "DATASET_SUFFIXES",
    "OPTIONAL_COLUMNS",
    "OPTIONAL_FILES",
    "PLAN_COLUMNS",
    "PLAN_EXTRAS",
    "REQUIRED_COLUMNS",
    "REQUIRED_FILES",
    "ROUTE_COLUMNS",
    "ROUTE_EXTRAS",
    "TABLE_ALIASES_ZH",
    "UNSCHEDULED_COLUMNS",
    "UNSCHEDULED_EXTRAS",
    "VALUE_ALIASES_ZH",
    "WORKBOOK_SUFFIXES",
    "canonical_column",
    "canonical_table",
    "header_columns",
]


# --- the files -------------------------------------------------------------------------------

DATASET_SUFFIXES: Final = (".csv", ".yaml", ".yml", ".xlsx", ".xlsm")
"""The files of a dataset folder (``programmes.yaml`` beside the CSV files) or a workbook."""
WORKBOOK_SUFFIXES: Final = (".xlsx", ".xlsm")
"""A dataset in one workbook, one sheet per file."""

# --- the columns -----------------------------------------------------------------------------

REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "centres": ("centre_id", "name", "lat", "lon"),
    "committees": ("committee_id", "centre_id", "name", "lat", "lon"),
    "clinicians": (
        "clinician_id",
        "name",
        "team_id",
        "centre_id",
        "role",
        "skills",
        "travel_mode",
        "work_days",
        "shift_start",
        "shift_end",
        "lunch_start",
        "lunch_end",
    ),
    "residents": (
        "resident_id",
        "name",
        "birth_date",
        "lat",
        "lon",
        "committee_id",
        "team_id",
        "preferred_clinician_id",
        "disability",
        "hypertension",
        "diabetes",
        "home_sickbed",
        "homebound",
        "availability",
    ),
    "history": ("resident_id", "programme", "date"),
    "sickbeds": ("resident_id", "opened"),
    "requests": (
        "request_id",
        "resident_id",
        "service",
        "earliest_date",
        "latest_date",
        "window_start",
        "window_end",
        "duration_min",
    ),
}
"""The columns each input file must have (``shared/FORMAT.md``)."""

OPTIONAL_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "centres": ("crs", "district"),
    "committees": ("crs",),
    "clinicians": ("phone",),
    "residents": ("crs", "address", "phone", "sex", "conditions", "signed", "signed_since"),
    # the resident's flags on the visit's day (Chinese: 失能等级, 高血压, 糖尿病, as in residents)
    "history": ("outcome", "tests", "place", "disability", "hypertension", "diabetes"),
    "sickbeds": ("discharged", "disability"),  # the disability on the discharge day
    "requests": ("skills",),
}
"""The extra columns read when present; any other column is ignored."""

REQUIRED_FILES: Final = ("centres", "clinicians", "residents")
"""The files every dataset has (by stem)."""
OPTIONAL_FILES: Final = ("committees", "history", "requests", "sickbeds")
"""The files read when present, in this order after the required ones."""

PLAN_COLUMNS: Final[tuple[str, ...]] = (
    "visit_id",
    "resident_id",
    "programme",
    "clinician_id",
    "team_id",
    "date",
    "sequence",
    "arrival",
    "start",
    "end",
    "travel_min",
    "travel_km",
    "committee_id",
    "via_centre",
    "urgency",
)
PLAN_EXTRAS: Final = (
    "clinician_name",
    "role",
    "duration_min",
    "due_by",
    "lat",
    "lon",
    "last_visit",
    "rule",
)

ROUTE_COLUMNS: Final[tuple[str, ...]] = (
    "clinician_id",
    "date",
    "depart",
    "return",
    "visits",
    "travel_min",
    "travel_km",
    "work_min",
    "overtime_min",
)
ROUTE_EXTRAS: Final = ("team_id", "role", "travel_mode", "clinician_name", "centre_id")

UNSCHEDULED_COLUMNS: Final[tuple[str, ...]] = (
    "visit_id",
    "resident_id",
    "programme",
    "due_by",
    "reason",
)
UNSCHEDULED_EXTRAS: Final = (
    "reason_zh",
    "committee_id",
    "urgency",
    "team_id",
    "last_visit",
    "rule",
    "kind",  # unscheduled (due/overdue: an alarm) | optional | not_due_this_week
)
# Chinese header -> English column. Several Chinese headers may name the same column; the first
# listed for a column is the one the project uses in Chinese documents. Matching ignores
# surrounding spaces and full-/half-width differences, e.g. "时长（分钟）" = "时长(分钟)".
COLUMN_ALIASES_ZH: Final[dict[str, str]] = {
    # ids and names
    "中心编号": "centre_id",
    "中心ID": "centre_id",
    "所属中心": "centre_id",
    "居委编号": "committee_id",
    "居委会编号": "committee_id",
    "村居委编号": "committee_id",
    "所属居委": "committee_id",
    "医护编号": "clinician_id",
    "医护人员编号": "clinician_id",
    "人员编号": "clinician_id",
    "工号": "clinician_id",
    "团队编号": "team_id",
    "签约团队": "team_id",
    "家庭医生团队": "team_id",
    "居民编号": "resident_id",
    "居民ID": "resident_id",
    "患者编号": "resident_id",
    "名称": "name",
    "姓名": "name",
    "中心名称": "name",
    "居委名称": "name",
    "居委会名称": "name",
    # places
    "纬度": "lat",
    "经度": "lon",
    "坐标系": "crs",
    "区": "district",
    "所属区": "district",
    "区县": "district",
    "地址": "address",
    "住址": "address",
    "家庭住址": "address",
    "电话": "phone",
    "联系电话": "phone",
    "手机": "phone",
    # clinicians
    "角色": "role",
    "岗位": "role",
    "技能": "skills",
    "专长": "skills",
    "出行方式": "travel_mode",
    "交通方式": "travel_mode",
    "工作日": "work_days",
    "上班时间": "shift_start",
    "下班时间": "shift_end",
    "午休开始": "lunch_start",
    "午休结束": "lunch_end",
    # residents
    "出生日期": "birth_date",
    "性别": "sex",
    "首选医生编号": "preferred_clinician_id",
    "首选医护编号": "preferred_clinician_id",
    "签约医生编号": "preferred_clinician_id",
    "失能等级": "disability",
    "失能情况": "disability",
    "高血压": "hypertension",
    "糖尿病": "diabetes",
    "家庭病床": "home_sickbed",
    "行动不便": "homebound",
    "居家不出": "homebound",
    "可上门时间": "availability",
    "可访视时间": "availability",
    "疾病": "conditions",
    "慢病": "conditions",
    "签约": "signed",
    "是否签约": "signed",
    "签约日期": "signed_since",
    "签约时间": "signed_since",
    # history, sick-bed episodes and requests
    "结果": "outcome",
    "访视结果": "outcome",
    "检查项目": "tests",
    "地点": "place",
    "服务地点": "place",
    "建床日期": "opened",
    "撤床日期": "discharged",
    "项目": "programme",
    "服务项目": "programme",
    "日期": "date",
    "服务日期": "date",
    "申请编号": "request_id",
    "需求编号": "request_id",
    "服务": "service",
    "服务内容": "service",
    "最早日期": "earliest_date",
    "最晚日期": "latest_date",
    "时段开始": "window_start",
    "时段结束": "window_end",
    "时长(分钟)": "duration_min",
    "服务时长(分钟)": "duration_min",
    "时长": "duration_min",
    "所需技能": "skills",
    # plan files (read back by read_plan)
    "访视编号": "visit_id",
    "团队": "team_id",
    "序号": "sequence",
    "顺序": "sequence",
    "到达时间": "arrival",
    "开始时间": "start",
    "结束时间": "end",
    "路程时间(分钟)": "travel_min",
    "路程(公里)": "travel_km",
    "途经中心": "via_centre",
    "紧急程度": "urgency",
    "出发时间": "depart",
    "返回时间": "return",
    "访视数": "visits",
    "工作时长(分钟)": "work_min",
    "加班(分钟)": "overtime_min",
    "截止日期": "due_by",
    "原因": "reason",
    "原因(中文)": "reason_zh",
}
"""Chinese column headers accepted for each English column of ``shared/FORMAT.md``."""

TABLE_ALIASES_ZH: Final[dict[str, str]] = {
    "中心": "centres",
    "社区卫生服务中心": "centres",
    "居委": "committees",
    "居委会": "committees",
    "医护人员": "clinicians",
    "医护": "clinicians",
    "居民": "residents",
    "签约居民": "residents",
    "访视记录": "history",
    "历史": "history",
    "家庭病床记录": "sickbeds",
    "建床撤床": "sickbeds",
    "上门申请": "requests",
    "特需申请": "requests",
}
"""Chinese names accepted for the CSV files (without ``.csv``) and the workbook's sheets."""

VALUE_ALIASES_ZH: Final[dict[str, dict[str, str]]] = {
    "role": {
        "医生": "doctor",
        "家庭医生": "doctor",
        "全科医生": "doctor",
        "护士": "nurse",
        "助理": "assistant",
        "医生助理": "assistant",
        "康复": "rehab",
        "康复师": "rehab",
        "康复治疗师": "rehab",
    },
    "travel_mode": {
        "步行": "walk",
        "电动车": "ebike",
        "电瓶车": "ebike",
        "电动自行车": "ebike",
        "汽车": "car",
        "开车": "car",
    },
    "place": {"入户": "home", "居家": "home", "居委": "committee"},
    "disability": {
        "无": "none",
        "正常": "none",
        "半失能": "semi",
        "失能": "full",
        "全失能": "full",
    },
}
"""Chinese values accepted for the columns ``role``, ``travel_mode``, ``place`` and ``disability``
(outcomes take their own Chinese labels, :data:`scheduler.model.OUTCOME_LABELS_ZH`)."""


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text.replace("\ufeff", "")).strip()


_ALIASES: Final[dict[str, str]] = {_nfkc(k): v for k, v in COLUMN_ALIASES_ZH.items()}
_PRIMARY_ZH: Final[dict[str, str]] = {}  # column -> the Chinese header documents use
for _zh, _column in COLUMN_ALIASES_ZH.items():
    _PRIMARY_ZH.setdefault(_column, _zh)
_TABLE_ALIASES: Final[dict[str, str]] = {_nfkc(k): v for k, v in TABLE_ALIASES_ZH.items()}


def canonical_column(header: str) -> str:
    """The English column a header names: Chinese aliases mapped, spaces and case ignored."""
    name = _nfkc(header)
    if name in _ALIASES:
        return _ALIASES[name]
    return re.sub(r"\s+", "_", name.lower())


def canonical_table(stem: str) -> str:
    """The file stem a file or sheet name stands for (``居民.csv`` -> ``residents``)."""
    name = _nfkc(stem)
    if name.lower().endswith(".csv"):
        name = name[:-4]
    return _TABLE_ALIASES.get(name, name.lower())


def header_columns(header: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The English column each cell of a header row names -> (its first index, the header as
    written). Empty cells name nothing; a later cell naming the same column is not counted."""
    columns: dict[str, tuple[int, str]] = {}
    for index, raw in enumerate(header):
        if raw:
            columns.setdefault(canonical_column(raw), (index, raw))
    return columns
