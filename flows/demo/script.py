"""``plancycle demo``: a whole planning cycle on a simulated clock, from its first day to its last.

Any valid cycle file (``--config``; Changning's 14th FYP, 2019-06 … 2021-06, by default): a fresh database, and
every action (submissions, reviews, contractors, proposals, approvals, meetings, extensions, stage advances) and
every working day's sweep run through their real Prefect flows, with ``as_of`` set to the simulated moment.

What the simulated people do is derived from the file, never from ids known in advance:

* every open milestone is handed in by the unit that owes it — most on time, some late (and chased by the sweep),
  a few returned once and handed in again; in the last stage, and in a one-stage cycle's last month, everyone is
  punctual (the 区政府's own deadlines; the year's close). A milestone with targets is handed in with its actual
  figures (most reached, some short, some beyond), a periodic report with its three parts (进展, 问题, 下步)
  and the year-to-date figures of its unit's targets, a yearly report with its unit's indicator values;
* an optional milestone is never triggered: it stays dormant, and the summary counts it;
* a submitted deliverable is reviewed within 1–3 working days; the approvals its ``accept_requires`` gate waits for
  are recorded first, and so are the approvals any gate that would open or complete work, or close a stage,
  still lacks once everything else in it is met;
* a topic milestone with ``role: contractor_choice`` gets its 承接单位 recorded; a milestone with ``meeting:`` gets
  one review meeting per round for every topic still to hold it;
* where the cycle has special plans, departments propose them inside the window of the lifecycle's first
  milestone (titles made from the department's name, the district and the period), and the coordinator decides
  them (``role: registration``: confirms most, rejects a few with a reason) halfway to that milestone's deadline;
* a stage is left when its exit gate is met (at once when the gate is automatic, the next working day otherwise);
  a stage without an exit gate, the working day after all its milestones are settled.
  A gate marked ``may_force: true`` is forced instead: the last milestone it names slips past the stage's end
  and the coordinator forces the gate three working days after it, with the reason recorded and printed. A gate
  without the flag is never forced: the demo waits for it;
* once, early in the second stage, the coordinator extends the next five months' deadlines by 30 days (in a
  cycle spanning February 2020: the epidemic's extension of every 2020 H1 deadline).

The run ends when the cycle is complete and no milestone is unfinished (or at ``--until``). Same seed, same result.

The demo drives the flows (``flows.actions``, ``flows.schedules``) as a user would: it decides what the simulated
people do, never what the rules are. This module holds the script's givens (what people write, history it replays)
and the titles and particulars it makes up; ``decisions`` what the people decide each day, ``moves`` each move as
one flow run, ``driver`` the simulated clock and what the run leaves behind (exports, a summary).
"""

from __future__ import annotations

import datetime as dt
import random

END = None  # the default end: the cycle's last day (kept for callers that pass ``until=END``)
GRACE_DAYS = 120  # days past the cycle's last day the demo goes on for work still unfinished
LATE_SLIP_DAYS = 14  # how far past its stage's end the milestone a forced gate waits for slips
FORCE_AFTER_WORKDAYS = 3  # a may_force gate is forced this many working days after its stage's end
MAX_PROPOSALS = 20

RETURN_COMMENTS = ["研究框架需进一步聚焦，请补充数据支撑", "目标指标测算依据不足，请补充", "与市级相关规划衔接不够，请修改完善",
                   "成果格式不符合要求，请按模板修改", "重点任务表述需细化，明确时间表和路线图"]
NOTES = ["按要求报送", "按要求报送", "按要求报送", "已征求相关部门意见并修改完善",
         "部分数据待统计年报发布后更新，下步将补充完善", "已召开专题会研究，下步按节点推进",
         "与市级主管部门对接中，个别内容待进一步衔接"]
INSTITUTES = ["上海社会科学院", "复旦大学", "上海交通大学", "同济大学", "华东师范大学", "上海财经大学",
              "上海市发展改革研究院", "中国（上海）自由贸易试验区研究院"]
# events of history the demo replays when a cycle spans them: (day, due from, due to, days, reason)
HISTORY = [(dt.date(2020, 2, 10), dt.date(2020, 1, 1), dt.date(2020, 6, 30), 30, "新冠肺炎疫情影响，2020年上半年各节点顺延30天")]
# what a unit's periodic report says (进展 / 存在问题 / 下步安排)
PROGRESS = ["各项工作按计划推进，阶段性目标基本完成", "重点项目有序推进，主要指标符合序时进度",
            "已召开专题推进会，明确责任分工和时间节点", "年度目标分解到季度，逐项落实"]
PROBLEMS = ["无", "个别项目受外部因素影响进度偏慢", "部分数据需待统计部门发布后核实", "跨部门协调事项仍需推进"]
NEXT_STEPS = ["按计划推进，确保完成下阶段目标", "加强跟踪调度，及时协调解决问题", "对进度滞后事项开展专项督办",
              "做好数据核实和成果总结"]
_SUFFIXES = ("委员会", "管理局", "办公室", "中心", "分局", "局", "委", "办")


def demo_fill(spec) -> dict:
    """What the demo's planning office fills in before signing (the notice settings leave them as placeholders for
    a real office to fill): fictitious, for the simulation only."""
    from stages.paperwork.notices import load_config

    coord = spec.coordinator
    place = str((load_config(spec.notices_path).get("meetings") or {}).get("place") or "")
    if not place or "请填写" in place or "XXX" in place:  # the settings' room, where the office has filled it in
        place = f"{coord.short}第一会议室"
    return {"contact_person": "陈明（规划科）", "contact_phone": "021-00000000", "contact_email": f"ghk@{coord.id}.example.cn",
            "contact_address": f"{spec.file.district}某路100号（演示地址）", "signer": "李伟", "place": place}


def plan_field(spec, dept) -> str:
    """A department's field, for a proposed plan's title: its full name less the district and the unit's kind
    (上海市某区商务委员会 → 商务)."""
    name = dept.name
    district = spec.file.district
    if district and district in name:
        name = name[name.index(district) + len(district):]
    else:
        name = dept.short[1:] if dept.short.startswith("区") else dept.short
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def proposals_for(spec, rng: random.Random) -> list[tuple[str, str]]:
    """(department, title) of the special plans the demo's departments propose: one per department (not the
    coordinator, not a street or a body), at most MAX_PROPOSALS, in the seeded order."""
    period = spec.period
    quoted = f"“{period}”" if period and not period.endswith("年度") else period
    units = [d for d in spec.departments if d.kind == "department" and d.short != spec.coordinator.short
             and not any(w in plan_field(spec, d) for w in ("政府", "研究室", "组织", "政法", "办公"))
             and not plan_field(spec, d).startswith("委")]
    rng.shuffle(units)
    out = []
    for d in units[:MAX_PROPOSALS]:
        out.append((d.short, f"{spec.file.district}{plan_field(spec, d)}发展{quoted}规划"))
    return out
