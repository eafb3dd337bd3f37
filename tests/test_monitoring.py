"""Seed 003 as config: 普陀区's 《纲要》分工方案 as a schema-2 monitoring cycle (config/cycles/putuo-14th-monitoring.yaml)
— the 分工, every indicator's lead unit reporting yearly, the 年度计划 linkage, the 中期评估 reported to the 区人大常委会,
an optional 修改调整 that waits dormant until the office triggers it, the 总结评估 and the 专项规划/区域规划
evaluations — validated, run, swept and documented with the engine's services; no Prefect."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from stages.paperwork import notices as nt
from stages.paperwork import drafting as pw
from stages import engine as sv
from stages.views.board import board
from stages.ground.errors import PlancycleError, TransitionError
from stages.store.models import Milestone, Notice, Reminder

from .conftest import PUTUO, ROOT

COORD = "区发改委"
REVISE = ("outline-revision", "revise")


@pytest.fixture
def run(putuo_run):  # seed 003's run, made on 2021-03-01 (conftest)
    return putuo_run


def ms(session, item, mid) -> Milestone:
    return session.exec(select(Milestone).where(Milestone.item_key == item, Milestone.ms_id == mid)).one()


def board_ms(data, item, mid) -> dict:
    it = next(i for i in data["items"] if i["key"] == item)
    return next(m for m in it["milestones"] if m["id"] == mid)


def test_the_file_is_seed_003(putuo):
    cf = putuo.file
    assert cf.schema_ == 2 and putuo.period == "十四五" and cf.district == "普陀区"
    assert (putuo.first_day, putuo.last_day) == (dt.date(2021, 3, 1), dt.date(2026, 6, 30))
    assert putuo.coordinator.short == COORD
    assert putuo.item("division").milestone("issue").due_date == dt.date(2021, 3, 19)  # 分工方案 issued
    assert putuo.item("midterm-evaluation").lead == (COORD,)  # 由区发改委牵头
    assert "区人大常委会" in putuo.item("midterm-evaluation").milestone("to_congress").name
    revise = putuo.item("outline-revision").milestone("revise")
    assert revise.optional and revise.name == "修改调整" and revise.condition == "根据监测分析及评估结果确有必要时"
    assert set(putuo.approvers(revise.accept_requires)) == {"区政府常务会", "区人大常委会"}
    # every indicator's lead unit reports yearly, early the next year, on that year's figures
    leads = {putuo.department(d).short for i in cf.indicators for d in i.lead}
    reports = [i for i in putuo.items if i.key.startswith("monitor-")]
    assert {r.lead[0] for r in reports} == leads and len(reports) == len(leads)
    r = putuo.item("monitor-tjj")
    assert [(m.id, m.period, str(m.due_date)) for m in r.milestones] == [
        (f"y{y}", str(y), f"{y + 1}-01-31") for y in range(2021, 2026)]
    # 专项规划/区域规划: each lead unit evaluates its own, at mid-term and at the end
    parts = [i for i in putuo.items if i.part_of == "sector-plans"]
    assert len(parts) == 8 and {m.id for m in parts[0].milestones} == {"mid_review", "final_review"}
    # the seed gives no values: every indicator says its values are illustrative
    assert 8 <= len(cf.indicators) <= 12
    assert all(i.note and i.note.startswith("示例值：本文件的指标数值为演示用") for i in cf.indicators)
    assert {i.kind for i in cf.indicators if i.id in ("pm25", "energy-intensity")} == {"约束性"}
    for path in (PUTUO, ROOT / "config" / "putuo" / "departments.yaml", ROOT / "config" / "putuo" / "notices.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "长宁" not in text and "静安" not in text


def test_the_optional_revision_waits_dormant_and_is_never_late(run, putuo):
    assert ms(run, *REVISE).status == "dormant"
    # what it waits for is done and its stage is open: still dormant (the office has not called for it)
    o = sv.waive(run, putuo, item="midterm-evaluation", milestone="to_congress", reason="（测试）已向区人大常委会报告",
                 as_of="2023-11-30")
    sv.advance(run, putuo, override_reason="（测试）", as_of="2023-12-01")
    o = sv.advance(run, putuo, override_reason="（测试）", as_of="2024-01-02")
    run.commit()
    assert "outline-revision:revise" not in o.opened and ms(run, *REVISE).status == "dormant"
    # past its planned deadline: not overdue, no light, no reminder
    data = board(run, putuo, "2024-07-15")
    b = board_ms(data, *REVISE)
    assert (b["status"], b["light"], b["overdue"], b["workdays_late"]) == ("dormant", "dormant", False, 0)
    from stages.engine import calendar_for
    from stages.engine.sweep import sweep

    sweep(run, {putuo.id: putuo}, calendar_for(putuo), "2024-07-15T09:00")
    run.commit()
    revise_id = ms(run, *REVISE).id
    assert run.exec(select(Reminder).where(Reminder.milestone_id == revise_id)).all() == []
    # triggered after its planned deadline: it needs the deadline it now has, then it opens at once
    with pytest.raises(PlancycleError, match="^“outline-revision 修改调整”原定期限 2024-06-30 已过，请填写新的期限$"):
        sv.trigger(run, putuo, item="outline-revision", milestone="revise", reason="中期评估建议调整部分指标",
                   as_of="2024-07-16")
    o = sv.trigger(run, putuo, item="outline-revision", milestone="revise", reason="中期评估建议调整部分指标",
                   due="2024-12-31", as_of="2024-07-16")
    run.commit()
    assert o.opened == ["outline-revision:revise"]
    m = ms(run, *REVISE)
    assert (m.status, m.due_date) == ("open", dt.date(2024, 12, 31))
    # 区政府常务会 agrees, then the 区人大常委会 deliberates: only then is it accepted
    sv.submit(run, putuo, item="outline-revision", milestone="revise", by=COORD, as_of="2024-09-02")
    with pytest.raises(TransitionError, match="revision-approved"):
        sv.review(run, putuo, item="outline-revision", milestone="revise", decision="accept", as_of="2024-09-03")
    sv.approve(run, putuo, body="executive_meeting", subject="outline-revision", as_of="2024-09-10")
    sv.approve(run, putuo, body="congress_standing", subject="outline-revision", as_of="2024-10-20")
    sv.review(run, putuo, item="outline-revision", milestone="revise", decision="accept", as_of="2024-10-21")
    run.commit()
    assert ms(run, *REVISE).status == "accepted"


def test_triggered_early_it_opens_when_what_it_waits_for_is_done(run, putuo):
    o = sv.trigger(run, putuo, item="outline-revision", milestone="revise", reason="年度监测显示约束性指标滞后",
                   as_of="2022-03-01")
    run.commit()
    assert o.opened == [] and ms(run, *REVISE).status == "pending"  # the 中期评估 has not been reported yet
    assert board_ms(board(run, putuo, "2022-03-02"), *REVISE)["light"] == "green"
    sv.waive(run, putuo, item="midterm-evaluation", milestone="to_congress", reason="（测试）", as_of="2023-11-30")
    sv.advance(run, putuo, override_reason="（测试）", as_of="2023-12-01")
    o = sv.advance(run, putuo, override_reason="（测试）", as_of="2024-01-02")
    run.commit()
    assert "outline-revision:revise" in o.opened and ms(run, *REVISE).status == "open"


def test_a_year_of_monitoring_with_documents_in_putuos_words(run, putuo):
    from stages.engine import calendar_for
    from stages.engine.sweep import sweep

    cal = calendar_for(putuo)
    data = board(run, putuo, "2021-03-10")
    rep = next(i for i in data["items"] if i["key"] == "monitor-sthjj")
    assert rep["current"]["id"] == "y2021" and rep["current"]["status"] == "open"
    o = sv.submit(run, putuo, item="division", milestone="issue", by=COORD, as_of="2021-03-19T16:00",
                  note="区委办公室、区政府办公室印发")
    pw.after(run, putuo, o, as_of="2021-03-19T16:00")
    o = sv.review(run, putuo, item="division", milestone="issue", decision="accept", as_of="2021-03-22")
    pw.after(run, putuo, o, as_of="2021-03-22")
    assert {"division:indicator_split", "division:task_split", "division:projects"} <= set(o.opened)
    o = sv.submit(run, putuo, item="monitor-sthjj", milestone="y2021", by="区生态环境局", as_of="2022-01-25T10:00",
                  figures=[{"of": "pm25", "value": 31.8}], report={"progress": "PM2.5年均浓度下降"})
    pw.after(run, putuo, o, as_of="2022-01-25T10:00")
    o = sv.review(run, putuo, item="monitor-sthjj", milestone="y2021", decision="accept", as_of="2022-01-26")
    pw.after(run, putuo, o, as_of="2022-01-26")
    # the report on 2022 is due in January 2023, in the 中期评估 stage: it opens with that stage
    assert o.opened == [] and ms(run, "monitor-sthjj", "y2022").status == "pending"
    sweep(run, {putuo.id: putuo}, cal, "2022-02-08T09:00")
    report, new = pw.monthly_report(run, putuo, cal, "2022-01")
    run.commit()
    by_dept = {d["dept"]: d for d in report["departments"]}
    assert by_dept["区生态环境局"]["arrived"] == 1 and by_dept["区统计局"]["arrived"] == 0
    for n in run.exec(select(Notice).where(Notice.status == "draft")).all():
        pw.sign_document(run, putuo, notice=n.id, as_of="2022-02-09T17:00", by=COORD,
                         changes={g: "（演示）" + g for g in nt.missing(n.data, n.kind)})
    run.commit()
    issued = run.exec(select(Notice).where(Notice.status == "issued")).all()
    assert {"stage_notice", "monthly_report"} <= {n.kind for n in issued}
    assert any(n.doc_number and n.doc_number.startswith("普发改〔2022〕") for n in issued)
    for n in issued:
        text = nt.render_notice(run, n.id, "md")[1].decode("utf-8")
        assert "长宁" not in text and "静安" not in text
        # signed (署名) by the organ putuo's notice settings name, not by the 长宁 default's
        assert "上海市普陀区发展和改革委员会" in text
