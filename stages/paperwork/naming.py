"""How documents name things: an item as the source writes it, a milestone as a line of a task list, the cycle's
words every template uses (the work plan cited, the plan, the work's name). Read by ``drafting`` and ``reports``.
"""

from __future__ import annotations

import re

from stages.definition.spec import CycleSpec
from stages.paperwork import notices as nt
from stages.store.models import Item


def item_name(item: Item, spec: CycleSpec | None = None) -> str:
    """An item as the source writes it: 课题4“……”, 《长宁区……规划》, 《纲要》, or a task's title. Never its id."""
    if item.kind == "topic":  # quotes inside quotes become single quotes: 课题1“‘十四五’期间……研究”
        inner = item.title.replace("“", "‘").replace("”", "’")
        return f"课题{item.no}“{inner}”" if item.no else f"“{inner}”"
    if item.kind == "special_plan":
        return item.title if item.title.startswith("《") else f"《{item.title}》"
    if item.kind == "outline":
        return "《纲要》"
    return item.title


# a milestone named for its period and the task's own words: 一季度新增就业岗位, 2027年1月推进情况, 2021年度监测
PERIOD = re.compile(r"^(?:\d{4}年度?)?(?:\d{1,2}月(?:底|末)?|[一二三四]季度|第[一二三四]季度|前三季度|上半年|下半年"
                    r"|全年|年底|年末)?")


def work_name(item: Item, milestone_name: str, spec: CycleSpec | None = None) -> str:
    """A milestone as a line of a task list, so a reader can tell which one it is: 课题4“……”：开题.

    * a task with one milestone that restates its title (形成前期重大课题研究工作方案 / 形成工作方案) is its title alone;
    * a milestone that is a period of the task's own work is the title with the period: 新增就业岗位（一季度）
      (for 一季度新增就业岗位), 区财政局2027年重点工作推进情况（1月）(for 2027年1月推进情况) — the year the title
      already says is not repeated;
    * a milestone that contains the title is its name alone; one that begins where the title ends is glued on
      without doubling the words (《纲要》中期评估 + 中期评估报告 → 《纲要》中期评估报告);
    * a milestone the title already names, in a task of several (进行规划汇编、总结及归档 / 总结及归档), keeps the
      colon: the title alone would not tell it from its siblings;
    * otherwise the title, a colon and the milestone's name: 开展……总结评估：各部门自评估.
    """
    name = item_name(item)
    ms = milestone_name.strip()
    if not ms or ms == name:
        return name
    if item.kind == "task" and _single_step(item, spec) and (ms in name or name.endswith(ms[-2:])):
        return name
    period = PERIOD.match(ms).group(0)
    rest = ms[len(period):]
    if period and (not rest or (len(rest) >= 2 and name.endswith(rest))):
        year = re.match(r"\d{4}年", period)
        if year and year.group(0) in name and period[len(year.group(0)):] not in ("", "度"):
            period = period[len(year.group(0)):]
        return f"{name}（{period}）"
    if name in ms:
        return ms
    glued = nt.glue(name, ms)
    if ms not in name and glued != name + ms:  # glued on only where the milestone adds words of its own
        return glued
    return f"{name}：{ms}"


def _single_step(item: Item, spec: CycleSpec | None) -> bool:
    """The task has one milestone in its cycle file (unknown without the spec: taken as one, as the title says)."""
    if spec is None:
        return True
    try:
        return len(spec.item(item.key).milestones) == 1
    except KeyError:
        return True


def words(spec: CycleSpec) -> dict:
    """The cycle's words every template uses: the work plan cited, the plan (“十四五”规划), the work's name."""
    title = spec.file.plan_document or (spec.file.title if spec.file.title.endswith("方案")
                                        else spec.file.title + "方案")
    title = title.strip("《》")
    period = spec.period
    plan = f"“{period}”规划" if period and not period.endswith("年度") else (f"{period}" if period else "规划")
    quoted = f"“{period}”" if period and not period.endswith("年度") else period
    # the topics' track as the cycle file names it (lifecycles.topic.name: 前期重大课题, 前期课题 …), with the plan
    topics = spec.lifecycles["topic"].name if "topic" in spec.lifecycles else "课题"
    plan_topics = topics if (quoted and quoted in topics) or plan in topics else nt.glue(plan, topics)
    return {"cycle_title": f"《{title}》", "cycle_name": spec.cycle_name, "period": period, "plan": plan,
            "period_q": quoted, "topics_name": topics, "plan_topics": plan_topics,
            "district": spec.file.district, "coordinator": spec.coordinator.short}


def _body(spec: CycleSpec, key: str) -> str:
    """An approval body by its key in the cycle file, or a unit's name as written."""
    return spec.file.approval_bodies.get(key, key)

