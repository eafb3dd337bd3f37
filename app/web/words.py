"""What the console says, in Chinese: the services' one-line outcomes and refusals, read for a 发改委 user.

The services speak one line of plain English (the CLI prints it, the audit log keeps it). The console shows the
same line translated by the patterns below, and with item keys (``topic-07``) and milestone ids (``kickoff``)
replaced by what the source documents call them (课题7《…》, 开题). A line no pattern knows is shown with its
ids replaced, so nothing is ever lost, only less polished.
"""

from __future__ import annotations

import re

from stages.ground.catalogue import CATALOGUE

# (pattern, replacement): first match wins; groups keep the services' values
PATTERNS: list[tuple[str, str]] = [
    (r"^document (\d+) cannot be signed: (.+?) (?:is|are) empty or a placeholder; edit it first$",
     lambda m: "文件暂不能签发：" + "、".join(f"“{z}”" for z in re.findall(r"\((.+?)\)", m[2]))
     + "尚未填写或仍为占位内容，请先补充"),
    (r"^document (\d+) is (\w+); only a draft can be (?:signed|edited)$", r"该文件已签发，不能再修改或签发"),
    (r"^(\S+) is already used by another document$", r"发文字号\1已被使用"),
    (r"^number must look like (\S+), not .*$", r"发文字号格式应为\1"),
    (r"^nothing to change: .*$", "没有需要保存的修改"),
    (r"^(.+?) signed: (.+)$", r"已签发（\1）：\2"),
    # the 纲要's indicators (stages.engine.indicators.record: a yearly actual recorded by the coordinator or a lead unit)
    (r"^(.+?) (\d{4}): (\S+?) recorded by (\S+) — (\S+?)( \(预警\))?(?:; replaces (\S+))?$",
     lambda m: f"已录入：{m[1]} {m[2]} 年 {m[3]}（{m[5]}" + ("，约束性指标预警" if m[6] else "") + "）"
     + (f"；更正原值 {m[7]}" if m[7] else "")),
    (r"^unknown indicator '(.*?)' \(this cycle's(?: indicators)?: .*\)$",
     lambda m: f"未知指标：{m[1]}" if m[1] else "请选择指标"),
    (r"^(.+?): the year (.*) is not a year \(expected e\.g\. (\d+)\)$",
     lambda m: f"“{m[1]}”的年份“{_unquote(m[2])}”不是有效年份，请填写四位数年份（如 {m[3]}）"
     if _unquote(m[2]) else f"请填写“{m[1]}”数值所属的年份（如 {m[3]}）"),
    (r"^(.+?): (\d+) is outside its years (\d+)–(\d+)$", r"“\1”只能录入 \3—\4 年的数值，\2 年不在此范围内"),
    (r"^(?!figure ')(.+?)(?: (\d{4}))?: (.*) is not a number(?: \(expected e\.g\. .*\))?$",
     lambda m: (f"“{m[1]}”{m[2] + ' 年' if m[2] else ''}填写的“{_unquote(m[3])}”不是有效数字，请只填写数字（如 6.5）"
                if _unquote(m[3]) else f"请填写“{m[1]}”{m[2] + ' 年' if m[2] else ''}的数值")),
    (r"^(?!figure ')(.+?)(?: (\d{4}))?: (.*) is not a number: (.*) after it$",
     lambda m: f"“{m[1]}”{m[2] + ' 年' if m[2] else ''}填写的“{_unquote(m[3])}”不是有效数字（数字后多了“{_unquote(m[4])}”）"),
    (r"^(?!figure ')(.+?)(?: (\d{4}))?: (.*): the unit is (.*?), not (.+)$",
     lambda m: f"“{m[1]}”的单位是{'无单位' if m[4] == 'none' else m[4]}，填写的“{_unquote(m[3])}”单位为“{m[5]}”，请换算后只填写数字"),
    (r"^(.+?) cannot record (.+?): it is reported by (.+)$", r"“\2”由\3报送，\1无权录入"),
    # actual figures, a report's parts, optional milestones (submit --figure / --progress …, trigger)
    (r"^(.+?) has no figure '(.*?)' to report; it may report: (.+)$",
     lambda m: f"“{m[1]}”没有可报送的数据项“{m[2]}”；可报送：{_names(m[3])}"),
    (r"^(.+?) needs the figure's name \(NAME=VALUE\); it may report: (.+)$",
     lambda m: f"“{m[1]}”报送的数据须写明数据项名称；可报送：{_names(m[2])}"),
    (r"^figure '(.*?)': (.*) is not a number$",
     lambda m: f"“{_of(m[1])}”填写的“{_unquote(m[2])}”不是有效数字，请只填写数字（如 26.3）"),
    (r"^unknown report part '(.*?)': .*$", r"未知的报告部分“\1”：报告只有本期进展、存在问题、下步安排三部分"),
    (r"^(.+?) triggered: due (\S+)$", r"“\1”已触发，期限 \2"),
    (r"^triggering (.+?) needs a reason.*$", r"触发“\1”须填写理由（为何需要启动）"),
    (r"^the planned deadline of (.+?), (\S+), has passed: give the deadline.*$",
     r"“\1”原定期限 \2 已过，请填写新的期限"),
    (r"^the new deadline (\S+) of (.+?) has already passed$", r"“\2”的新期限 \1 早于今天，请重新填写"),
    (r"^(.+?) cannot trigger (.+?): only the coordinator \((\S+)\) can$", r"只有\3可以触发“\2”，\1无权办理"),
    (r"^(.+?) was already triggered(?: on (\S+) by (\S+))?; it is (.+)$",
     lambda m: (f"“{m[1]}”已于{m[2]}由{m[3]}触发" if m[2] else f"“{m[1]}”已触发") + "，无需再次触发"),
    (r"^cannot trigger (.+?): it is not optional$", r"“\1”不是视情况启动的节点，无需触发"),
    (r"^cannot trigger (.+?): it is (.+)$", lambda m: f"“{m[1]}”已触发或已办理（当前{_state(m[2])}），无需再次触发"),
    (r"^(.+?) submitted by (\S+?)(?:, (\d+) working days late)?$",
     lambda m: f"{m[1]}：{m[2]}已报送" + (f"（逾期{m[3]}个工作日）" if m[3] else "")),
    (r"^(.+?) accepted$", r"\1：已审核通过"),
    (r"^(.+?) returned: (.+)$", r"\1：已退回，意见：\2"),
    (r"^(.+?) waived: (.+)$", r"\1：已免除（\2）"),
    (r"^(\S+) proposed by (\S+): (.+)$", r"\2已报送专项规划立项建议：\3"),
    (r"^(\d+) deadline\(s\) extended: (.+)$", r"已调整 \1 个节点的期限（\2）"),
    (r"^(\d+) 专项规划 confirmed, (\d+) not$", r"立项确认已办理：确认 \1 项，不予确认 \2 项"),
    (r"^(\S+) 承接单位：(.+)$", r"\1 已登记承接单位：\2"),
    (r"^(.+?) approval of (\S+) recorded$", r"已登记\1的审议结果（\2）"),
    (r"^stage (.+)$", r"阶段已推进：\1"),
    (r"^(.+?) (\d{4}-\d\d-\d\d \d\d:\d\d) for (\d+) topic\(s\): (.+)$", r"已安排\1（\2，\3 个课题），通知文号 \4"),
    (r"^already recorded on (\S+ \S+) by (.+?); nothing changed$", r"此前（\1，\2）已办理过同一事项，本次未重复办理"),
    (r"^(.+?) was already recorded with a different request .*$",
     "该事项此前已按不同内容办理过，不能直接修改；如需更正，请联系规划科"),
    (r"^(.+?) cannot submit (.+?): it is owed by (\S+)$", r"\1不能报送“\2”：该节点由\3负责"),
    (r"^(.+?) cannot review (.+?): only the coordinator \((\S+)\) reviews deliverables$",
     r"只有\3（规划科）可以审核“\2”，\1不能审核"),
    (r"^(.+?) cannot (.+?): only the coordinator \((\S+)\) can$", r"只有\3（规划科）可以办理此事项，\1无权办理"),
    (r"^(.+?) 为领导账号，只能查看，不能办理（.*）$", r"\1为领导账号，只能查看，不能办理"),
    (r"^cannot (\w+) (.+?): it is (.+)$", lambda m: f"“{m[2]}”当前{_state(m[3])}，不能{_verb(m[1])}"),
    (r"^cannot leave (.+?): gate (\S+) \((.+?)\) is not met: (.+?); give --override-reason to force it$",
     r"“\1”的阶段门“\3”尚未满足（\4）；如确需推进，请填写强制推进理由"),
    (r"^cannot accept (.+?): gate (\S+) \((.+?)\) is not met: (.+)$", r"“\1”暂不能通过：尚未满足“\3”（\4）"),
    (r"^returning (.+?) needs comments saying what to change$", r"退回“\1”须填写修改意见"),
    (r"^waiving (.+?) needs a reason$", r"免除“\1”须填写理由"),
    (r"^extending deadlines needs a reason$", "调整期限须填写理由"),
    (r"^extend needs exactly one of .*$", "请在顺延天数、顺延工作日、新期限中填写且只填写一项"),
    (r"^cannot move (.+?) from (\S+) to (\S+): an extension must be later$", r"“\1”的新期限\3不晚于原期限\2"),
    (r"^no unfinished milestone matches that selection; nothing changed$", "没有符合条件的未完成节点，未作调整"),
    (r"^name the topics \(--topic\) or a lead department \(--dept\)$", "请选择课题或牵头部门"),
    (r"^(\S+) leads no topic whose (\S+) is still to come$", r"\1牵头的课题中没有尚未完成该会议的课题"),
    (r"^the meeting time (.+?) is not after now \((.+)\)$", r"会议时间\1早于当前时间\2"),
    (r"^unknown item '(.+?)'.*$", r"未知事项：\1"),
    (r"^unknown department '(.+?)'.*$", r"未知部门：\1"),
    (r"^(.+?) has no milestone '(.+?)'.*$", r"\1没有节点“\2”"),
    (r"^no gate waits for an approval of '(.+?)' by (\S+).*$", r"没有等待该审议结果的阶段门：\1"),
    (r"^(.+?) is decided by 立项确认 .*$", r"“\1”须在协调工具“专项规划立项确认”中办理"),
    (r"^立项确认 needs at least one .*$", "请至少选择一项专项规划确认或不予确认；未生成任何文件"),
    (r"^rejecting a proposal needs a reason$", "不予确认立项须填写理由"),
    (r"^(\S+): a contractor needs a name and a contact$", r"登记承接单位须填写单位名称和联系人"),
    (r"^a 专项规划 proposal needs a title$", "请填写专项规划名称"),
    (r"^cannot propose a 专项规划: 立项确认 is complete for this cycle$", "立项确认已完成，不再受理新的专项规划立项建议"),
    (r"^(\S+) (名称|承接单位|承接单位联系人) corrected: (.*) → (.*)$", r"\1的\2已更正：\3 → \4"),
    (r"^a correction needs a reason$", "更正须填写理由"),
    (r"^(\S+) has no (\w+) recorded yet.*$", r"\1尚未登记该项内容，无需更正"),
    (r"^(\d+) of (\d+) (\w+) have (\S+) done$", r"已完成 \1 项，须 \2 项"),
    (r"^no approval by (.+?) on (\S+)$", r"尚待\1审议"),
    (r"^no (\w+) yet$", "尚无事项"),
    (r"^… and (\d+) more$", r"另有 \1 项"),
    (r"^(\w+): is empty / (.+)$", r"\2"),
    (r"^(\w+): .*? / (.+)$", r"\2"),
    (r"^(.+?): (.+?) / (?:file type not allowed|empty file|content does not match the file type|file too large)$",
     r"\1：\2"),
]
_COMPILED = [(re.compile(p), r) for p, r in PATTERNS]
STATE_ZH = {"optional and not triggered": "未触发", "not yet open": "尚未开始", "pending": "尚未开始", "open": "待报送", "submitted": "已报送待审",
            "returned": "已退回待修改", "accepted": "已完成", "waived": "已免除"}
VERB_ZH = {"submit": "报送", "accept": "通过", "return": "退回", "review": "审核", "waive": "免除", "decide": "办理",
           "record": "登记", "complete": "完成", "trigger": "触发"}
# the audit's event names in Chinese: one copy, in the catalogue (cli.event.*), which the CLI shows too
ACTION_ZH = {code[len("cli.event."):]: zh for code, (zh, _en) in CATALOGUE.items() if code.startswith("cli.event.")}


def _state(text: str) -> str:
    for k, v in STATE_ZH.items():
        if text.startswith(k):
            return v
    return text


def _verb(v: str) -> str:
    return VERB_ZH.get(v, v)


def _unquote(v: str) -> str:
    """A value as the services quote it (Python's repr: 'abc', "it's"): the text the user typed."""
    v = v.strip()
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"" else v


def _of(of: str) -> str:
    """A figure's name as the console shows it: ``t02:全年目标`` → 全年目标 (the task is named by the form)."""
    return of.partition(":")[2] if re.fullmatch(r"[a-z][a-z0-9.-]*:.+", of) else of


figure_name = _of


def _names(text: str) -> str:
    if text.startswith("none"):
        return "无（本节点没有目标，本单位也没有监测指标）"
    return "、".join(dict.fromkeys(_of(n) for n in text.rstrip("…").split("、") if n))


def translate(message: str, labels: dict[str, str] | None = None) -> str:
    """One line in Chinese for a 发改委 user: known patterns translated, ids replaced by names."""
    text = " ".join(str(message).split())
    for rx, rep in _COMPILED:
        m = rx.match(text)
        if m:
            text = rep(m) if callable(rep) else m.expand(rep)
            break
    return humanize(text, labels or {})


# item keys: topic-07, report-jrb, t05.hqb (a lead_mode: each part), t02, midterm — replaced only when the run has
# an item of that key, so an English word stays what it is unless a cycle names an item by it
_KEY = re.compile(r"\b([a-z][a-z0-9]*(?:[-.][a-z0-9]+)*)(?::([a-z_][a-z0-9_]*))?(?: not done)?\b")


def humanize(text: str, labels: dict[str, str]) -> str:
    """Replace ``item`` and ``item:milestone`` ids by their names (``labels`` maps both), and 'X not done'."""
    def sub(m: re.Match) -> str:
        key, ms = m[1], m[2]
        if key not in labels:
            return m[0]
        name = labels[key] + (f"·{labels.get(key + ':' + ms, ms)}" if ms else "")
        return name + ("未完成" if m[0].endswith(" not done") else "")

    return _KEY.sub(sub, text)


def labels_for(session, run, spec) -> dict[str, str]:
    """``{item key: short name, "key:ms": milestone name}`` for the run: 课题7, 专项规划3《…》, 工作任务 titles."""
    from sqlmodel import select

    from stages.store.models import Item, Milestone

    out: dict[str, str] = {}
    for it in session.exec(select(Item).where(Item.run_id == run.id)):
        title = it.title if len(it.title) <= 16 else it.title[:15] + "…"
        if it.kind == "topic" and it.no:
            out[it.key] = f"课题{it.no}"
        elif it.kind == "special_plan":
            out[it.key] = f"《{title}》"
        else:
            out[it.key] = title
    for key, ms, name in session.exec(select(Milestone.item_key, Milestone.ms_id, Milestone.name)
                                      .where(Milestone.run_id == run.id)):
        out[f"{key}:{ms}"] = name
    return out
