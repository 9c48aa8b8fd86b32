"""The official tables' headers, titles and notes, as the seeds print them (one place).

``shared/seeds/tianjin-2021-elderly-home-care.txt`` holds Tianjin's annex tables; every string
here is copied from it character for character, the layout whitespace of the document's cells
included (``家庭病床出院    人次数``, a line break in ``高血压\\n单患患者  入户随访次数``), so that
a district's reader finds the very form it is judged on. A test reads the seed and compares.
The English beside each header (pages, the XLSX notes sheet) is ours.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ANNEX1_COLUMNS",
    "ANNEX1_PROGRESS",
    "ANNEX1_TITLE",
    "ANNEX1_TOTAL",
    "ANNEX2_COLUMNS",
    "ANNEX2_NOTES",
    "ANNEX2_TITLE",
    "ANNEX3_COLUMNS",
    "ANNEX3_GROUP",
    "ANNEX3_GROUPED",
    "ANNEX3_NOTES",
    "ANNEX3_NUMBERS",
    "ANNEX3_TITLE",
    "COVERAGE_COLUMNS",
    "ENGLISH",
    "OVERDUE_COLUMNS",
]

# --- Annex 1: the year's quotas per district (附件1) -------------------------------------------

ANNEX1_TITLE: Final = "天津市老年健康服务民心工程任务量分配表"
"""The seed's title without its year (``2021年`` + this); the report puts its own year first."""
ANNEX1_COLUMNS: Final = ("行政区", "老年人家医签约", "入户医疗护理服务")
ANNEX1_TOTAL: Final = "合  计"
"""The total row's label, as the seed writes it (two spaces)."""
ANNEX1_PROGRESS: Final = (
    "年度任务",
    "已完成",
    "按进度应完成",
    "差额",
    "年底预计",
)
"""Our sub-columns under each of the seed's two quotas: quota, done to date, expected by now at
an even pace, shortfall, forecast for the year's end (done + planned)."""

# --- Annex 2: signed elders (附件2) -------------------------------------------------------------

ANNEX2_TITLE: Final = "天津市老年人家庭医生签约服务工作统计表"
ANNEX2_COLUMNS: Final = (
    "序号",
    "区/机构",
    "签约老年人数",
    "老年人健康体检人次数",
    "血常规检查人次数",
    "尿常规检查人次数",
    "肝功能检查人次数",
    "肾功能检查人次数",
    "血脂检查人次数",
    "心电图检查人次数",
    "B超检查人次数",
)
ANNEX2_NOTES: Final = (
    "注：1.此表不需要手动填报，各项数据来源于家庭医生签约服务和基本公共卫生服务系统；",
    "2.请各机构将各项任务及时录入系统，并按时上传本机构诊疗数据。",
)

# --- Annex 3: disabled and semi-disabled 60+ (附件3) --------------------------------------------

ANNEX3_TITLE: Final = "天津市60岁及以上失能 半失能人员入户医疗护理统计表"
ANNEX3_GROUP: Final = "高血压、糖尿病入户随访"
"""The header over the three follow-up columns (the seed's first header row)."""
ANNEX3_COLUMNS: Final = (
    "序号",
    "区/机构",
    "服务对象人数",
    "入户健康体检次数",
    "高血压\n单患患者  入户随访次数",
    "糖尿病\n单患患者入户随访次数",
    "高血压、糖尿病双患入户随访次数",
    "家庭病床出院    人次数",
    "特需上门服务入户次数",
    "入户服务总次数",
)
"""Each column's own header: the seed's first row, or its second row under the group."""
ANNEX3_GROUPED: Final = (4, 5, 6)
"""The columns under :data:`ANNEX3_GROUP`."""
ANNEX3_NUMBERS: Final = ("", "1", "2", "3", "4", "5", "6", "7", "8", "9")
"""The seed's numbering row: 项目9 = 3+4+5+6+7+8 (the total is the sum of the visit columns)."""
ANNEX3_NOTES: Final = (
    "注：1.此表不需要手动填报，各项数据来源于家庭医生签约服务系统；",
    "2.请各机构将各项任务及时录入系统，并按时上传本机构诊疗数据；",
    "3.项目9=3+4+5+6+7+8。",
)

# --- the Minhang 789 programme's coverage (ours: Chinese first, English beside) ----------------

COVERAGE_COLUMNS: Final = (
    "单位 unit",
    "80岁以上人数 aged 80+",
    "本季度已随访 visited this quarter",
    "季度随访率 share visited",
    "期内百岁家床老人 centenarians on a sick-bed in the period",
    "在床每月巡诊两次 rounds twice a month on the bed",
    "居委数 committees",
    "14天内送药居委 committees with a delivery in 14 days",
    "逾期居民 residents overdue",
)
OVERDUE_COLUMNS: Final = (
    "团队 team",
    "居民 resident",
    "项目 programme",
    "上次完成 last done",
    "距上次天数 days since",
    "应完成 due by",
)

ENGLISH: Final[dict[str, str]] = {
    "序号": "serial no.",
    "区/机构": "district / institution",
    "行政区": "district",
    "老年人家医签约": "signed elders (60+)",
    "入户医疗护理服务": "home medical and nursing visits",
    "年度任务": "year's quota",
    "已完成": "done to date",
    "按进度应完成": "expected by now (even pace)",
    "差额": "shortfall",
    "年底预计": "forecast for the year's end (done + planned)",
    "签约老年人数": "signed elders",
    "老年人健康体检人次数": "health checks",
    "血常规检查人次数": "blood routine tests",
    "尿常规检查人次数": "urine routine tests",
    "肝功能检查人次数": "liver function tests",
    "肾功能检查人次数": "kidney function tests",
    "血脂检查人次数": "blood lipid tests",
    "心电图检查人次数": "ECGs",
    "B超检查人次数": "B-ultrasounds",
    "服务对象人数": "people served",
    "入户健康体检次数": "home health checks",
    ANNEX3_GROUP: "hypertension / diabetes home follow-ups",
    "高血压\n单患患者  入户随访次数": "hypertension only",
    "糖尿病\n单患患者入户随访次数": "diabetes only",
    "高血压、糖尿病双患入户随访次数": "hypertension and diabetes",
    "家庭病床出院    人次数": "home sick-bed discharges",
    "特需上门服务入户次数": "special home visits",
    "入户服务总次数": "total home visits (= 3+4+5+6+7+8)",
    ANNEX1_TOTAL: "total",
}
"""English for each of the seeds' headers (shown beside them, never instead)."""
