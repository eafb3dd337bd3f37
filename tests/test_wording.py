"""The words of the documents a new user's cycles produce (tests/fixtures/unseen): milestones named so a reader can
tell them apart, the monthly report's reporting day and title from the cycle, counts that agree with their words,
the topics' track named as the cycle file names it, and the punctuation of the lists."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from stages.paperwork import notices as nt
from stages.paperwork import drafting as pw
from stages import engine as sv
from stages.definition.loader import load_cycle
from stages.store.models import Item, Notice, create_schema, make_engine

from .conftest import ROOT

XUHUI = ROOT / "tests" / "fixtures" / "unseen" / "xuhui-15th.yaml"
KEYWORK = ROOT / "config" / "cycles" / "changning-2019-keywork.yaml"
SHIPPED = sorted((ROOT / "config" / "cycles").glob("*.yaml"))


def _spec_of(items: dict[str, int]):
    """A stand-in for a cycle's spec: how many milestones each task has."""
    return SimpleNamespace(item=lambda key: SimpleNamespace(milestones=[None] * items[key]))


# -- 1. a milestone is named so a reader can tell which one it is ---------------------------------------------------
@pytest.mark.parametrize("title,milestone,expected", [
    # 闵行 kw06: the quarter, once — not the task's title four times over
    ("新增就业岗位", "一季度新增就业岗位", "新增就业岗位（一季度）"),
    ("新增就业岗位", "全年新增就业岗位", "新增就业岗位（全年）"),
    # a unit's monthly report: the month, the year the title already says not repeated
    ("区财政局2027年重点工作推进情况", "2027年1月推进情况", "区财政局2027年重点工作推进情况（1月）"),
    ("区统计局《纲要》主要指标年度监测", "2021年度监测", "区统计局《纲要》主要指标年度监测（2021年度）"),
    # 徐汇: the milestone's own words after the task's
    ("开展“十四五”规划实施情况总结评估", "各部门自评估", "开展“十四五”规划实施情况总结评估：各部门自评估"),
    # glued where the milestone begins with the words the title ends with
    ("起草形成《基本思路》", "《基本思路》初稿", "起草形成《基本思路》初稿"),
    # a milestone the title already names, among siblings: still told apart
    ("进行规划汇编、总结及归档", "总结及归档", "进行规划汇编、总结及归档：总结及归档"),
    ("确保区级一般公共预算收入完成年度目标", "一季度完成年度目标的25%", "确保区级一般公共预算收入完成年度目标：一季度完成年度目标的25%"),
])
def test_a_milestone_of_several_is_named_with_its_task(title, milestone, expected):
    spec = _spec_of({"t": 4})
    assert pw.work_name(Item(kind="task", key="t", title=title), milestone, spec) == expected


def test_a_task_named_for_its_one_step_is_its_title_alone():
    spec = _spec_of({"t": 1})
    it = Item(kind="task", key="t", title="形成前期重大课题研究工作方案")
    assert pw.work_name(it, "形成工作方案", spec) == "形成前期重大课题研究工作方案"


@pytest.mark.parametrize("path", SHIPPED + [XUHUI], ids=lambda p: p.stem)
def test_every_milestone_of_a_task_has_a_name_of_its_own(path):
    """In every shipped cycle and 徐汇's: a task's milestones never come out under one name, nor as the bare title."""
    spec = load_cycle(path)
    for it in spec.items:
        if it.kind != "task" or len(it.milestones) < 2:
            continue
        row = Item(kind=it.kind, key=it.key, title=it.title, no=it.no)
        names = [pw.work_name(row, m.name, spec) for m in it.milestones]
        assert len(set(names)) == len(names), (it.key, names)
        assert it.title not in names, (it.key, names)


# -- 2–6. 徐汇: its own names for the topics, the reporting words, the counts, the lists -------------------------------
@pytest.fixture(scope="module")
def xuhui_docs():
    """徐汇's cycle from its start to the 开题 round: the documents drafted, as markdown, by kind."""
    spec = load_cycle(XUHUI)
    engine = make_engine("sqlite://")
    create_schema(engine)
    coord = "区发展改革委"

    def act(fn, s, **kw):
        out = fn(s, spec, **kw)
        pw.after(s, spec, out, as_of=kw.get("as_of"))
        return out

    with Session(engine) as s:
        pw.after(s, spec, sv.init_run(s, spec, as_of="2024-09-02"), as_of="2024-09-02")
        for topic, who in (("kt-01", "华东师范大学课题组"), ("kt-02", "同济大学课题组"), ("kt-04", "上海财经大学课题组")):
            act(sv.assign_contractor, s, topic=topic, contractor=who, contact="张老师 021-64870001", by=coord,
                as_of="2024-12-10")
        pw.monthly_report(s, spec, sv.calendar_for(spec), "2024-12")
        act(sv.advance, s, by=coord, as_of="2025-01-06", override_reason="评估调研阶段窗口已过")
        act(sv.schedule_meeting, s, milestone="open", at="2025-02-25T14:00", by=coord, as_of="2025-01-07")
        drafts = s.exec(select(Notice).where(Notice.status == "draft")).all()
        docs = {n.kind: nt.render(n.kind, n.data, "md").decode() for n in drafts}
        docs["data"] = {n.kind: dict(n.data) for n in drafts}
    engine.dispose()
    return docs


def test_the_topics_are_named_as_the_cycle_file_names_them(xuhui_docs):
    for kind in ("call_for_tender", "tender_result", "meeting_letter"):
        assert "前期重大课题" not in xuhui_docs[kind], kind
    assert "公开遴选“十五五”规划前期课题研究承担单位的公告" in xuhui_docs["call_for_tender"]
    assert "徐汇区“十五五”规划前期课题清单（公开遴选）" in xuhui_docs["call_for_tender"]
    assert "关于公开遴选“十五五”规划前期课题研究承担单位的公告》" in xuhui_docs["tender_result"]
    assert "感谢贵单位承担“十五五”规划前期课题研究。" in xuhui_docs["meeting_letter"]


def test_a_funding_name_that_says_拨付_is_not_followed_by_another(xuhui_docs):
    assert "经费拨付：开题后拨付40%，结题后拨付60%。" in xuhui_docs["call_for_tender"]
    assert "拨付拨付" not in xuhui_docs["call_for_tender"]


def test_the_letter_lists_the_contractors_topics_without_a_stray_semicolon(xuhui_docs):
    """Topics 3 and 5 are commissioned directly (no contractor in the letter); topic 5 is the round's last."""
    line = next(x for x in xuhui_docs["meeting_letter"].splitlines() if x.startswith("2.会议内容："))
    assert line.endswith("（承接单位：上海财经大学课题组）。") and "；。" not in line and "课题5" not in line


def test_a_cycle_without_a_reporting_rhythm_cites_no_reporting_day(xuhui_docs):
    text = xuhui_docs["monthly_report"]
    assert "根据《徐汇区“十五五”规划前期研究和编制工作方案》的进度安排，现将截至2024年12月25日" in text
    assert "日前报送" not in text


def test_a_milestone_completed_by_a_move_is_done_not_handed_in(xuhui_docs):
    """确定承接单位 is completed by recording the contractor: nothing is submitted, so it is not 已报送."""
    text = xuhui_docs["monthly_report"]
    assert "本月应完成工作节点3项，已报送0项，另有3项已办结（无需报送材料）" in text
    block = next(x for x in text.splitlines() if "确定承接单位" in x and x.startswith("本月应完成1项"))
    assert block.startswith("本月应完成1项，已报送0项，另有1项已办结（无需报送材料）") and "已完成：课题" in block


# -- 2. the reporting day and the title's year come from the cycle ----------------------------------------------------
@pytest.fixture(scope="module")
def keywork_day20(tmp_path_factory):
    """Seed 004's key work, its units reporting by the 20th, its report a 报告 (files rewritten in a temporary folder)."""
    tmp = tmp_path_factory.mktemp("kw20")
    conf = ROOT / "config"
    notices = (conf / "changning-2019" / "notices.yaml").read_text(encoding="utf-8")
    notices = re.sub(r"monthly_report: \{genre: 简报, to: ([^}]*)\}", r"monthly_report: {genre: 报告, to: \1}", notices)
    (tmp / "notices.yaml").write_text(notices, encoding="utf-8")
    text = KEYWORK.read_text(encoding="utf-8")
    text = text.replace("../changning-2019/departments.yaml", str(conf / "changning-2019" / "departments.yaml"))
    text = text.replace("../calendar.yaml", str(conf / "calendar.yaml"))
    text = text.replace("../changning-2019/notices.yaml", str(tmp / "notices.yaml"))
    text = re.sub(r"(reporting:\n  every: month\n  day: )25", r"\g<1>20", text)
    (tmp / "kw.yaml").write_text(text, encoding="utf-8")
    return load_cycle(tmp / "kw.yaml")


def test_the_monthly_report_cites_the_cycles_reporting_day_and_says_the_year_once(keywork_day20):
    spec = keywork_day20
    assert spec.file.reporting.day == 20 and pw.reporting_rule(spec) == "每月20日前"
    engine = make_engine("sqlite://")
    create_schema(engine)
    with Session(engine) as s:
        pw.after(s, spec, sv.init_run(s, spec, as_of="2019-02-01"), as_of="2019-02-01")
        pw.monthly_report(s, spec, sv.calendar_for(spec), "2019-02")
        n = s.exec(select(Notice).where(Notice.kind == "monthly_report")).one()
        text = nt.render(n.kind, n.data, "md").decode()
    engine.dispose()
    assert n.data["genre"] == "报告"
    assert n.title == "关于2019年区政府重点工作目标推进2月进展情况的报告"  # not …推进2019年2月…
    assert "和每月20日前报送进展情况的要求" in text and "25日前" not in text


def test_without_a_rhythm_the_office_may_give_its_rule_in_the_notice_settings(tmp_path):
    """Seed 000 states no monthly reporting day: Changning's report cites none unless its settings give one."""
    conf = ROOT / "config"
    text = (conf / "notices.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(\n  monthly_report: \{genre: 报告, to: [^}]*)\}", r"\1, rule: 每月25日前}", text, count=1)
    assert "rule: 每月25日前" in text
    (tmp_path / "notices.yaml").write_text(text, encoding="utf-8")
    cycle = (conf / "cycles" / "changning-14th.yaml").read_text(encoding="utf-8")
    for name in ("departments.yaml", "calendar.yaml"):
        cycle = cycle.replace(f"../{name}", str(conf / name))
    cycle = re.sub(r"^notices:.*$", f"notices: {tmp_path / 'notices.yaml'}", cycle, flags=re.M)
    (tmp_path / "cn.yaml").write_text(cycle, encoding="utf-8")
    spec = load_cycle(tmp_path / "cn.yaml")
    assert pw.reporting_rule(spec) is None
    engine = make_engine("sqlite://")
    create_schema(engine)
    with Session(engine) as s:
        pw.after(s, spec, sv.init_run(s, spec, as_of="2019-06-01"), as_of="2019-06-01")
        pw.monthly_report(s, spec, sv.calendar_for(spec), "2019-06")
        n = s.exec(select(Notice).where(Notice.kind == "monthly_report")).one()
        text = nt.render(n.kind, n.data, "md").decode()
    engine.dispose()
    assert "根据《长宁区“十四五”规划研究和编制工作方案》和每月25日前报送进展情况的要求" in text


def test_the_reporting_rule_follows_the_rhythm():
    def spec(**r):
        return SimpleNamespace(file=SimpleNamespace(reporting=SimpleNamespace(**r) if r else None))
    assert pw.reporting_rule(spec()) is None
    assert pw.reporting_rule(spec(every="month", day=20, due_month=1)) == "每月20日前"
    assert pw.reporting_rule(spec(every="quarter", day=15, due_month=1)) == "每季度末月15日前"
    assert pw.reporting_rule(spec(every="year", day=31, due_month=3)) == "每年3月31日前"


def test_a_document_drafted_before_these_words_still_renders_with_its_own(xuhui_docs):
    """A stored context of an earlier version lacks the new keys: it renders with the words it was drafted with."""
    old = {k: v for k, v in xuhui_docs["data"]["monthly_report"].items()
           if k not in ("title_month", "report_rule", "settled")}
    old["departments"] = [{k: v for k, v in d.items() if k != "settled"} for d in old["departments"]]
    text = nt.render("monthly_report", old, "md").decode()
    assert "和每月25日前报送进展情况的要求" in text and "办结" not in text
    for kind in ("call_for_tender", "tender_result", "meeting_letter"):
        old = {k: v for k, v in xuhui_docs["data"][kind].items() if k not in ("plan_topics", "topics_name")}
        assert "“十五五”规划前期重大课题研究" in nt.render(kind, old, "md").decode(), kind


def test_the_board_heads_the_topics_with_the_cycles_own_name():
    from app.render import track_names

    assert track_names(load_cycle(XUHUI))["topics"] == "前期课题"
    assert track_names(load_cycle(ROOT / "config" / "cycles" / "changning-14th.yaml"))["topics"] == "前期重大课题"
