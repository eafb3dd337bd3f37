"""Schema 2's figures, reports, optional milestones and split tasks, on tests/fixtures/figures.yaml: actual figures
handed in against targets with a 欠/达/超进度 light, a report's three parts, a milestone that waits dormant until
the office triggers it, a task every lead unit owes its own part of, and the 台账's extra columns."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest
from sqlmodel import select

from stages import engine as sv
from stages.views.board import board, progress_of
from stages.ground.errors import ConfigError, PlancycleError
from stages.rules.identity import Forbidden
from stages.definition.loader import load_cycle
from stages.store.models import Figure, Submission

from .conftest import MINI, ROOT, cycle, write_cycle

FIXTURE = ROOT / "tests" / "fixtures" / "figures.yaml"


@pytest.fixture(scope="session")
def spec():
    return cycle(FIXTURE)


@pytest.fixture
def s(session, spec):
    sv.init_run(session, spec, as_of="2026-01-04")
    session.commit()
    return session


def ms(board_data, key, mid):
    it = next(i for i in board_data["items"] if i["key"] == key)
    return it, next(m for m in it["milestones"] if m["id"] == mid)


def test_progress_of_reads_direction():
    assert progress_of(25, 21.4) == "behind" and progress_of(25, 25) == "on" and progress_of(25, 26) == "ahead"
    assert progress_of(3, 2.5, "down") == "ahead" and progress_of(3, 3.4, "down") == "behind"


def test_figures_against_targets_light_the_board(s, spec):
    sv.submit(s, spec, item="revenue", milestone="q1", by="区商务委", as_of="2026-03-28",
              figures=[{"of": "区级一般公共预算收入", "value": 21.4}])
    sv.submit(s, spec, item="energy", milestone="q2", by="区教育局", as_of="2026-03-28",
              figures=[{"of": "", "value": 2.5}])  # the milestone's only target: no name needed
    s.commit()
    b = board(s, spec, "2026-03-29")
    it, m = ms(b, "revenue", "q1")
    t = m["targets"][0]
    assert (t["actual"], t["unit"], t["progress"], t["progress_zh"], t["reported_by"]) == (21.4, "%", "behind", "欠进度", "区商务委")
    assert m["progress"] == "behind" and it["progress_zh"] == "欠进度" and it["domain"] == "经济发展"
    _, e = ms(b, "energy", "q2")
    assert e["progress"] == "ahead"  # 2.5 < 3 where less is better
    assert b["counts"]["by_progress"] == {"behind": 1, "on": 0, "ahead": 1}
    rows = s.exec(select(Figure)).all()
    assert {(f.subject, f.of, f.period, f.value) for f in rows} == {
        ("revenue:q1", "区级一般公共预算收入", "2026-03-31", 21.4), ("energy:q2", "能耗", "2026-06-30", 2.5)}


@pytest.mark.parametrize("figures,says", [
    ([{"of": "不存在", "value": 1}],
     "“revenue 一季度目标”没有可报送的数据项“不存在”；可报送：区级一般公共预算收入、revenue:区级一般公共预算收入"),
    ([{"of": "区级一般公共预算收入", "value": "abc"}], "“区级一般公共预算收入”填写的“abc”不是有效数字，请只填写数字（如 26.3）"),
    ([{"of": "区级一般公共预算收入", "value": float("nan")}], "“区级一般公共预算收入”填写的“nan”不是有效数字，请只填写数字（如 26.3）"),
])
def test_a_bad_figure_is_refused_and_changes_nothing(s, spec, figures, says):
    with pytest.raises(PlancycleError) as refused:
        sv.submit(s, spec, item="revenue", milestone="q1", by="区商务委", as_of="2026-03-28", figures=figures)
    assert str(refused.value) == says
    s.rollback()
    assert s.exec(select(Figure)).all() == [] and s.exec(select(Submission)).all() == []


def test_a_report_carries_its_three_parts_and_the_year_to_date_figure(s, spec):
    key = "report-swj"
    for month in ("m202601", "m202602"):
        sv.submit(s, spec, item=key, milestone=month, by="区商务委", as_of=f"2026-{month[-2:]}-15")
        sv.review(s, spec, item=key, milestone=month, decision="accept", by="区发改委", as_of=f"2026-{month[-2:]}-16")
    sv.submit(s, spec, item=key, milestone="m202603", by="区商务委", as_of="2026-03-18",
              report={"progress": "一季度收入稳步增长", "problems": "个别企业迁出", "next": "加大招商"},
              figures=[{"of": "revenue:区级一般公共预算收入", "value": 26}])
    s.commit()
    sub = s.exec(select(Submission).order_by(Submission.id.desc())).first()
    assert sub.report == {"progress": "一季度收入稳步增长", "problems": "个别企业迁出", "next": "加大招商"}
    f = s.exec(select(Figure)).one()
    assert (f.subject, f.of, f.period) == ("report-swj:m202603", "revenue:区级一般公共预算收入", "2026-03")
    # the report's figure stands for the quarter's target until the target's own figure comes in …
    _, m = ms(board(s, spec, "2026-03-20"), "revenue", "q1")
    assert m["targets"][0]["actual"] == 26 and m["progress"] == "ahead"
    # … never for a later quarter's
    _, q2 = ms(board(s, spec, "2026-03-20"), "revenue", "q2")
    assert "actual" not in q2["targets"][0]
    with pytest.raises(PlancycleError, match="^未知的报告部分“risks”：报告只有本期进展、存在问题、下步安排三部分$"):
        sv.submit(s, spec, item=key, milestone="m202603", by="区商务委", as_of="2026-03-19", report={"risks": "x"})


def test_an_optional_milestone_waits_dormant_until_triggered(s, spec):
    b = board(s, spec, "2026-11-30")  # long past its planned date
    _, adjust = ms(b, "review", "adjust")
    assert (adjust["status"], adjust["light"], adjust["overdue"]) == ("dormant", "dormant", False)
    sv.submit(s, spec, item="review", milestone="midyear", by="区发改委", as_of="2026-07-20")
    sv.review(s, spec, item="review", milestone="midyear", decision="accept", by="区发改委", as_of="2026-07-21")
    s.commit()
    _, summary = ms(board(s, spec, "2026-07-22"), "review", "summary")
    assert summary["status"] == "open"  # what follows an untriggered optional milestone goes on
    with pytest.raises(Forbidden):
        sv.trigger(s, spec, item="review", milestone="adjust", by="区商务委", reason="x", as_of="2026-07-22")
    with pytest.raises(PlancycleError, match="^“review 年度总结”不是视情况启动的节点，无需触发$"):
        sv.trigger(s, spec, item="review", milestone="summary", by="区发改委", reason="x", as_of="2026-07-22")
    out = sv.trigger(s, spec, item="review", milestone="adjust", by="区发改委", reason="年中评估认为需调整",
                     as_of="2026-07-22")
    s.commit()
    assert out.opened == ["review:adjust"]
    _, adjust = ms(board(s, spec, "2026-07-22"), "review", "adjust")
    assert adjust["status"] == "open"
    again = sv.trigger(s, spec, item="review", milestone="adjust", by="区发改委", reason="年中评估认为需调整",
                       as_of="2026-07-22")
    assert again.changed is False


def test_a_late_trigger_needs_the_new_deadline(s, spec):
    with pytest.raises(PlancycleError, match="^“review 目标调整”原定期限 2026-09-30 已过，请填写新的期限$"):
        sv.trigger(s, spec, item="review", milestone="adjust", by="区发改委", reason="x", as_of="2026-10-08")
    out = sv.trigger(s, spec, item="review", milestone="adjust", by="区发改委", reason="x", as_of="2026-10-08",
                     due="2026-11-30")
    assert str(out.message) == "“review 目标调整”已触发，期限 2026-11-30"


def test_each_lead_unit_owes_its_own_part(spec):
    parts = [it for it in spec.items if it.part_of == "streets"]
    assert [(p.key, p.lead) for p in parts] == [("streets.st1", ("甲街道",)), ("streets.jyj", ("区教育局",))]
    assert all(p.milestones[0].owner == "lead" for p in parts)


def test_the_ledger_has_domain_and_figure_columns(s, spec):
    from stages.views.reads import ledger_rows

    sv.submit(s, spec, item="revenue", milestone="q1", by="区商务委", as_of="2026-03-28",
              figures=[{"of": "区级一般公共预算收入", "value": 25}])
    rows = ledger_rows(s, spec, "2026-03-29")
    assert rows.columns[2] == "领域" and rows.columns[-3:] == ["目标", "实际", "进度"]
    row = next(r for r in rows if r[0] == "revenue" and r[6] == "一季度目标")
    assert row[2] == "经济发展" and row[-3:] == ["区级一般公共预算收入25%", "区级一般公共预算收入25%", "达进度"]


def test_yearly_reporting_by_the_indicators_units(tmp_path):
    text = FIXTURE.read_text(encoding="utf-8").replace("""reporting:
  every: month
  day: 20
  start: 2026-01
  end: 2026-06""", """indicators:
  - {id: gdp, name: 地区生产总值增速, kind: 预期性, unit: "%", measure: yearly, target: 5, target_year: 2026, lead: [区商务委]}
reporting:
  every: year
  reporters: indicator_leads
  due_month: 12
  day: 20
  start: 2026-01
  end: 2026-12""")
    with pytest.raises(ConfigError, match="reporting: 2027-12-20 到期的报送不在任何阶段期间内"):  # the 2026 report is due in December 2027
        load_cycle(write_cycle(tmp_path, text))
    y = load_cycle(write_cycle(tmp_path, text.replace("end: 2026-12-31}", "end: 2027-12-31}")))
    r = y.item("report-swj")
    assert [(m.id, m.period, str(m.due_date)) for m in r.milestones] == [("y2026", "2026", "2027-12-20")]


@pytest.mark.parametrize("old,new,key", [
    ("    lead: [区发改委]\n    milestones:", "    lead: [区发改委]\n    lead_mode: each\n    milestones:", "lead_mode"),
    ("due: 10月底前, after", "due: 10月底前, optional: true, after", "optional"),
    ("\ntimeline:", "\nindicators:\n  - {id: gdp, name: 增速, kind: 预期性}\ntimeline:", "indicators"),
])
def test_schema_1_refuses_what_schema_2_added(tmp_path, old, new, key):
    """mini.yaml is schema 1 (no ``schema:``): each addition of schema 2 is refused there, naming the key."""
    text = MINI.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(ConfigError, match=f"{key}: 需要 schema: 2（应为在文件开头写 schema: 2）"):
        load_cycle(write_cycle(tmp_path, text.replace(old, new, 1)))


def test_a_split_task_is_named_by_its_parts(tmp_path):
    text = FIXTURE.read_text(encoding="utf-8").replace(
        "      - {id: midyear, name: 年中评估, due: 2026-07-31}",
        "      - {id: midyear, name: 年中评估, due: 2026-07-31, after: [\"streets:plan\"]}")
    with pytest.raises(ConfigError, match=re.escape("任务“streets”按牵头单位分项（lead_mode: each），“streets:plan”不是单一节点"
                                                      "（应为某一单位的分项（streets.st1")):
        load_cycle(write_cycle(tmp_path, text))


def test_an_optional_milestone_cannot_also_open_by_a_gate(tmp_path):
    text = FIXTURE.read_text(encoding="utf-8").replace(
        "condition: 年中评估认为确有必要时}", "condition: 年中评估认为确有必要时, role: special_plan_confirmation}")
    with pytest.raises(ConfigError, match="可选节点“adjust”又写了 role：可选节点只在 `plancycle trigger` 触发时才发生"):
        load_cycle(write_cycle(tmp_path, text))


def test_late_december_looks_into_a_year_the_calendar_does_not_know(tmp_path):
    """chinesecalendar ends with 2026 and 2027's 国务院办公厅 notice is not out: the board and the sweep still look
    ahead into January (Monday to Friday counting as working days there), while counting lateness in 2027 is
    refused until the year is added."""
    from stages.ground.errors import CalendarError
    from stages.engine.sweep import yellow_cutoff

    from stages.definition.calendar import calendar_for

    cal = calendar_for(load_cycle(FIXTURE))
    assert cal.workdays_ahead(dt.date(2026, 12, 28), dt.date(2027, 1, 5)) == 5  # 29, 30, 31, 4, 5 (元旦 is fixed)
    assert yellow_cutoff(cal, dt.date(2026, 12, 28), 5) == dt.date(2027, 1, 5)
    with pytest.raises(CalendarError, match=r"^2027-01-06 超出已知的工作日历（2004—2026年）；请按国务院办公厅通知将 2027 年的节假日和调休上班日补入"):
        cal.workdays_between(dt.date(2027, 1, 5), dt.date(2027, 1, 8))


@pytest.mark.slow
def test_the_demo_drives_the_figures_cycle_to_its_end(tmp_path):
    from .test_demo_any_cycle import run

    s = run(tmp_path, FIXTURE)
    assert s["complete_on"] <= dt.date(2026, 12, 31) and s["milestones_unfinished"] == 0
    assert s["optional_not_triggered"] == 1  # 目标调整: never called for
    assert s["figures_reported"] >= 5 and s["items"]["task"] == 5 + 4  # streets split in two; 4 units report monthly


def test_a_timeline_row_may_cover_a_split_task(s, spec):
    from stages.views.reads import timeline

    rows = timeline(s, spec, "2026-03-01")["rows"]
    row = rows[0]
    assert row["text"].startswith("各街镇和区教育局")
    assert row["span"] == ["2026Q2", "2026Q2"] and row["cells"]["2026Q2"] == "planned"  # both parts due 04-30


def test_a_late_step_does_not_mark_quarters_still_to_come_late(s, spec):
    from stages.views.reads import timeline

    row = next(r for r in timeline(s, spec, "2026-08-15")["rows"] if r["text"] == "年中评估和年度总结")
    assert row["cells"]["2026Q3"] == "late"  # 年中评估 was due 07-31
    assert row["cells"]["2026Q4"] == "planned"  # the quarter has not begun: nothing in it can be late yet


def test_a_co_lead_sees_the_task_another_lead_reports(tmp_path, session):
    """lead_mode first: the first lead unit owes the steps; the others see them in their inbox (co_lead)."""
    from stages.views.reads import inbox

    text = FIXTURE.read_text(encoding="utf-8").replace("    lead: [区商务委]\n", "    lead: [区商务委, 区教育局]\n", 1)
    spec = load_cycle(write_cycle(tmp_path, text))
    sv.init_run(session, spec, as_of="2026-01-05")
    box = inbox(session, spec, "区教育局", "2026-02-01")
    assert [(c["item"], c["milestone"], c["owner"]) for c in box["co_lead"]] == [("revenue", "q1", "区商务委")]
    assert all(o["item"] != "revenue" for o in box["owes"])


def test_special_plans_listed_in_the_file_join_those_proposed(tmp_path, session):
    text = MINI.read_text(encoding="utf-8").replace("id: mini\n", "id: mini\nschema: 2\n", 1).replace(
        "\ntimeline:", "\nspecial_plans:\n  - {title: 测试区教育发展规划, lead: [区教育局], ref: 附件2 一、1}\n"
                      "  - {title: 测试区商务发展规划, lead: [区商务委], cooperating: [各街镇]}\ntimeline:", 1)
    spec = load_cycle(write_cycle(tmp_path, text))
    sv.init_run(session, spec, as_of="2019-06-03")
    out = sv.propose(session, spec, dept="区商务委", title="测试区会展业发展规划", as_of="2019-08-01")
    assert out.target == "sp-03"
    b = board(session, spec, "2019-08-02")
    plans = [(i["key"], i["title"], i["lead"], i["milestones"][0]["status"]) for i in b["items"]
             if i["kind"] == "special_plan"]
    assert plans == [("sp-01", "测试区教育发展规划", ["区教育局"], "submitted"),
                     ("sp-02", "测试区商务发展规划", ["区商务委"], "submitted"),
                     ("sp-03", "测试区会展业发展规划", ["区商务委"], "submitted")]
    assert next(i for i in b["items"] if i["key"] == "sp-02")["cooperating"] == ["各街镇"]
    with pytest.raises(ConfigError, match="special_plans: 需要 schema: 2（应为在文件开头写 schema: 2）"):
        load_cycle(write_cycle(tmp_path, text.replace("schema: 2\n", "")))


@pytest.mark.parametrize("text,value,unit", [("26.3", 26.3, None), ("26.3%", 26.3, "%"), ("1,190", 1190, None),
                                             ("７６家", 76, "家"), ("-0.8", -0.8, None)])
def test_a_number_as_an_office_types_it(text, value, unit):
    from stages.rules.requests import parse_number

    assert parse_number(text) == (value, unit)


@pytest.mark.parametrize("text", ["1e3", ".5.5", "七十六", "1,19", "12abc3"])
def test_what_is_not_a_number_is_refused(text):
    from stages.rules.requests import parse_number

    with pytest.raises(ValueError):
        parse_number(text)


def test_a_figure_in_another_unit_is_refused(s, spec):
    with pytest.raises(PlancycleError, match="^“区级一般公共预算收入”的单位是%，填写的单位为“家”，请换算后只填写数字$"):
        sv.submit(s, spec, item="revenue", milestone="q1", by="区商务委", as_of="2026-03-28",
                  figures=[{"of": "区级一般公共预算收入", "value": 21.4, "unit": "家"}])


def test_a_returned_submission_s_figures_stop_counting(s, spec):
    sv.submit(s, spec, item="revenue", milestone="q1", by="区商务委", as_of="2026-03-28",
              figures=[{"of": "区级一般公共预算收入", "value": 21.4}])
    sv.review(s, spec, item="revenue", milestone="q1", decision="return", by="区发改委", comments="数据口径有误",
              as_of="2026-03-29")
    _, m = ms(board(s, spec, "2026-03-30"), "revenue", "q1")
    assert "actual" not in m["targets"][0] and "progress" not in m
    sv.submit(s, spec, item="revenue", milestone="q1", by="区商务委", as_of="2026-03-30",
              figures=[{"of": "区级一般公共预算收入", "value": 25}])
    _, m = ms(board(s, spec, "2026-03-31"), "revenue", "q1")
    assert m["targets"][0]["actual"] == 25 and m["progress"] == "on"


def test_trigger_says_when_it_was_triggered_and_keeps_deadlines_inside_the_cycle(s, spec):
    with pytest.raises(PlancycleError, match="^“review 目标调整”的新期限 2027-03-31 晚于本周期最后一天（2026-12-31），请重新填写$"):
        sv.trigger(s, spec, item="review", milestone="adjust", by="区发改委", reason="x", as_of="2026-07-22",
                   due="2027-03-31")
    sv.trigger(s, spec, item="review", milestone="adjust", by="区发改委", reason="年中评估认为需调整", as_of="2026-07-22")
    with pytest.raises(PlancycleError, match="^“review 目标调整”已于2026-07-22由区发改委触发，当前尚未开始，无需再次触发$"):
        sv.trigger(s, spec, item="review", milestone="adjust", by="区发改委", reason="another", as_of="2026-07-23")


def test_the_office_s_report_day_is_a_setting(tmp_path):
    """documents.monthly_report.day (default 25): seed 004's units report by the 25th, so an office may file on
    the 28th; the flow, the demo and the report's cut-off all take it."""
    from stages.paperwork.drafting import report_day_of

    shutil.copy(FIXTURE.parent / "mini-departments.yaml", tmp_path)
    notices = (FIXTURE.parent / "mini-notices.yaml").read_text(encoding="utf-8")
    (tmp_path / "mini-notices.yaml").write_text(notices.replace("  monthly_report: {genre: 报告, to: 区政府}",
                                                                "  monthly_report: {genre: 报告, to: 区政府, day: 28}"),
                                                encoding="utf-8")
    assert "day: 28" in (tmp_path / "mini-notices.yaml").read_text(encoding="utf-8")
    (tmp_path / "f.yaml").write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    spec = load_cycle(tmp_path / "f.yaml")
    from stages.definition.calendar import calendar_for

    cal = calendar_for(spec)
    assert report_day_of(spec, cal, 2026, 4) == dt.date(2026, 4, 28)
    assert report_day_of(spec, cal, 2026, 2) == dt.date(2026, 2, 28)  # a Saturday, but a make-up working day (调休)
    assert report_day_of(spec, cal, 2026, 6) == dt.date(2026, 6, 26)  # 06-28 is a Sunday: the Friday before
    assert report_day_of(load_cycle(FIXTURE), cal, 2026, 4) == dt.date(2026, 4, 24)  # 25, a Saturday: the Friday
    (tmp_path / "mini-notices.yaml").write_text(notices.replace("  monthly_report: {genre: 报告, to: 区政府}",
                                                                "  monthly_report: {genre: 报告, day: 31}"),
                                                encoding="utf-8")
    with pytest.raises(ConfigError, match="documents.monthly_report.day: 应为每月 1 日至 28 日中的一天（应为day: 25）"):
        load_cycle(tmp_path / "f.yaml")


def test_a_returned_yearly_report_s_indicator_values_stop_counting(session, putuo):
    """The same rule for indicators: a 约束性 value in a report handed back (退回) raises no 预警 any more, on the
    indicator board and in what the documents read."""
    from stages.engine.indicators import figure_rows, indicator_board

    spec = putuo
    ind = next(i for i in spec.file.indicators if i.kind == "约束性" and i.lead)
    unit = spec.department(ind.lead[0])
    item = next(it for it in spec.items if it.milestones and it.milestones[0].period and it.lead == (unit.short,))
    ms_ = item.milestones[0]
    sv.init_run(session, spec, as_of="2021-03-22")
    off = ind.target * (3 if ind.direction == "down" else 0.1)  # far off its path
    due = ms_.due_date
    sv.submit(session, spec, item=item.key, milestone=ms_.id, by=unit.short, as_of=f"{due}",
              figures=[{"of": ind.id, "value": off}])
    assert indicator_board(spec, figure_rows(session, spec), f"{due}")["warnings"]
    sv.review(session, spec, item=item.key, milestone=ms_.id, decision="return", by=spec.coordinator.short,
              comments="数据口径有误", as_of=f"{due}")
    assert not any(w["indicator"] == ind.id for w in
                   indicator_board(spec, figure_rows(session, spec), f"{due}")["warnings"])


def test_a_number_too_large_to_hold_is_refused():
    from stages.rules.requests import parse_number

    with pytest.raises(ValueError, match="too large"):
        parse_number("1" * 400)
