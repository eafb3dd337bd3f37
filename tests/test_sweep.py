"""The daily sweep's ladder and the monthly report, on the domain (no Prefect)."""

import datetime as dt

import pytest
from sqlmodel import func, select

from stages import engine as sv
from stages.ground.errors import PlancycleError
from stages.store.models import Milestone, Notice, Reminder
from stages.engine import calendar_for
from stages.paperwork.drafting import monthly_report as record_monthly_report, supervision
from stages.engine.sweep import escalation_cutoff, monthly_report, report_day, sweep, yellow_cutoff

D = dt.date
COORD = "区发改委"


def rungs(session, item, mid):
    m = session.exec(select(Milestone).where(Milestone.item_key == item, Milestone.ms_id == mid)).one()
    return sorted((r.rung, r.due_version) for r in session.exec(select(Reminder).where(Reminder.milestone_id == m.id)))


def do_sweep(session, spec, day):
    out = sweep(session, {spec.id: spec}, calendar_for(spec), day)
    session.commit()
    return out


def test_cutoffs_follow_the_calendar(mini):
    cal = calendar_for(mini)
    assert yellow_cutoff(cal, D(2019, 9, 24), 5) == D(2019, 10, 7)     # Tue + 5 wd = 09-30 (Sun 09-29 worked) … holiday to 10-07
    assert escalation_cutoff(cal, D(2019, 10, 9), 5) == D(2019, 9, 26)  # (09-26, 10-09]: 27, Sun 29, 30, 10-08, 10-09
    assert report_day(cal, 2019, 5) == D(2019, 5, 24)                   # 05-25 is a Saturday
    assert report_day(cal, 2019, 6) == D(2019, 6, 25)
    assert report_day(cal, 2020, 1) == D(2020, 1, 23)                   # 春节 2020: 01-24..02-02 off


def test_each_rung_fires_once(mini_run, mini):
    s = mini_run
    # topic-03 开题 is due Sat 2019-07-20
    first = do_sweep(s, mini, "2019-07-15")
    assert rungs(s, "topic-03", "kickoff") == [("advance", 1)]
    again = do_sweep(s, mini, "2019-07-15")
    assert again["fired"] == {"advance": 0, "urge": 0, "escalate": 0}
    assert first["fired"]["advance"] >= 1
    do_sweep(s, mini, "2019-07-16")
    do_sweep(s, mini, "2019-07-22")  # the due date's next working day
    assert rungs(s, "topic-03", "kickoff") == [("advance", 1), ("urge", 1)]
    do_sweep(s, mini, "2019-07-26")  # 5 working days late: 22..26
    assert rungs(s, "topic-03", "kickoff") == [("advance", 1), ("escalate", 1), ("urge", 1)]
    # the rungs are facts; no reminder is a 公文: the 督办 rung waits for the periodic 督办通知
    assert s.exec(select(func.count()).select_from(Notice).where(Notice.kind.in_(["reminder", "escalation"]))).one() == 0
    made = supervision(s, {mini.id: mini}, calendar_for(mini), "2019-07-26")
    assert len(made) == 1 and COORD not in made[0].recipients and "区教育局" in made[0].recipients
    rows = [r for u in made[0].data["units"] if u["unit"] == "区教育局" for r in u["rows"]]
    assert any(r["workdays_late"] == 5 and r["what"].startswith("课题3") for r in rows)  # 07-22 … 07-26, the rule's unit


def test_a_sweep_after_a_gap_catches_up(mini_run, mini):
    s = mini_run
    do_sweep(s, mini, "2019-07-01")
    out = do_sweep(s, mini, "2019-07-29")  # four weeks missed
    assert ("urge", 1) in rungs(s, "topic-03", "kickoff") and ("escalate", 1) in rungs(s, "topic-03", "kickoff")
    assert out["missed_workdays_caught_up"] == 19
    assert out["lights"]["red"] >= 1


def test_an_extension_restarts_the_ladder(mini_run, mini):
    s = mini_run
    do_sweep(s, mini, "2019-07-22")
    assert ("urge", 1) in rungs(s, "topic-03", "kickoff")
    sv.extend_deadline(s, mini, by=COORD, reason="课题组调整", as_of="2019-07-22", items=["topic-03"],
                       milestone="kickoff", workdays=5)
    s.commit()
    do_sweep(s, mini, "2019-07-23")
    assert ("advance", 2) in rungs(s, "topic-03", "kickoff")
    assert ("urge", 2) not in rungs(s, "topic-03", "kickoff")


def test_submitted_and_done_are_not_chased(mini_run, mini):
    s = mini_run
    sv.submit(s, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10")
    s.commit()
    do_sweep(s, mini, "2019-07-30")
    assert rungs(s, "topic-03", "kickoff") == []


def test_lights_count_open_milestones(mini_run, mini):
    out = do_sweep(mini_run, mini, "2019-06-25")
    # open now: topic-01/02 contractor (due 06-30, yellow), topic-03 kickoff (07-20, green)
    assert out["lights"] == {"green": 1, "yellow": 2, "red": 0}


def test_monthly_report(mini_run, mini):
    s = mini_run
    sv.submit(s, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10")
    s.commit()
    rep = monthly_report(s, mini, calendar_for(mini), "2019-07")
    assert rep["report_day"] == "2019-07-25"
    by = {d["dept"]: d for d in rep["departments"]}
    assert by["区教育局"]["due"] == 1 and by["区教育局"]["arrived"] == 1 and by["区教育局"]["late"] == 0
    assert by["区发改委"]["late"] == 2  # topic-01 确定承接单位 (due 06-30, open) and 开题 waiting behind it
    late = [i for i in by["区发改委"]["items"] if i["late"]][0]
    assert late["item"] == "topic-01" and late["workdays_late"] == 19  # 07-01 … 07-25
    a, new = record_monthly_report(s, mini, calendar_for(mini), "2019-07")
    b, again = record_monthly_report(s, mini, calendar_for(mini), "2019-07")
    assert new and not again and a == b
    for bad in ("July", "2019-13", "20-19-07", "2019"):
        with pytest.raises(PlancycleError) as refused:
            monthly_report(s, mini, calendar_for(mini), bad)
        assert str(refused.value) == f"月份格式应为 YYYY-MM，不能是“{bad}”"
