"""Integration: the real flows, under one session-scoped Prefect test harness (conftest's; it costs ~12 s to enter).

No freezegun here: Prefect's engine must see the real clock. Time in the cycle is passed as ``as_of``.
"""

import datetime as dt

import pytest
from sqlmodel import Session, func, select

from stages.store.models import AuditEvent, Item, Milestone, Notice, Reminder, Submission, create_schema, make_engine

from .conftest import MINI


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """These cases name each problem by its English words (the Chinese is checked in tests/test_catalogue_lower.py)."""
    monkeypatch.setenv("PLANCYCLE_LANG", "en")


pytestmark = pytest.mark.integration


@pytest.fixture
def db(tmp_path, mini):
    from stages.engine import init_run

    url = f"sqlite:///{tmp_path / 'flows.db'}"
    eng = make_engine(url)
    create_schema(eng)
    with Session(eng) as s:
        init_run(s, mini, as_of="2019-06-01")
        s.commit()
    yield url, eng
    eng.dispose()


def status(eng, item, mid):
    with Session(eng) as s:
        return s.exec(select(Milestone.status).where(Milestone.item_key == item, Milestone.ms_id == mid)).one()


def run_ok(flow_fn, *args, **kwargs):
    state = flow_fn(*args, return_state=True, **kwargs)
    assert state.is_completed(), state.message
    return state.result()


def act(flow_fn, req_cls, url, **fields):
    return run_ok(flow_fn, req_cls(db=url, **fields))


def test_a_submission_that_completes_a_gate_opens_the_next_step(harness, db):
    from flows.actions import (ContractorRequest, ReviewRequest, SubmitRequest, assign_contractor,
                               review_deliverable, submit_deliverable)

    url, eng = db
    for t in ("topic-01", "topic-02"):
        act(assign_contractor, ContractorRequest, url, topic=t, contractor="某研究院", contact="李四 13800000000",
            as_of=dt.datetime(2019, 6, 25))
    for t, dept in (("topic-01", "区发改委"), ("topic-02", "区商务委"), ("topic-03", "区教育局")):
        act(submit_deliverable, SubmitRequest, url, item=t, milestone="kickoff", by=dept, as_of=dt.datetime(2019, 7, 15))
        act(review_deliverable, ReviewRequest, url, item=t, milestone="kickoff", decision="accept",
            as_of=dt.datetime(2019, 7, 16))
    act(submit_deliverable, SubmitRequest, url, item="topic-01", milestone="midterm", by="区发改委",
        as_of=dt.datetime(2019, 8, 20))
    act(review_deliverable, ReviewRequest, url, item="topic-01", milestone="midterm", decision="accept",
        as_of=dt.datetime(2019, 8, 21))
    assert status(eng, "wrap-up", "seminar") == "pending"
    act(submit_deliverable, SubmitRequest, url, item="topic-02", milestone="midterm", by="区商务委",
        as_of=dt.datetime(2019, 8, 22))
    out = act(review_deliverable, ReviewRequest, url, item="topic-02", milestone="midterm", decision="accept",
              as_of=dt.datetime(2019, 8, 23))
    assert "wrap-up:seminar" in out["opened"]  # the automatic N-of-M gate opened it in the same run
    assert status(eng, "wrap-up", "seminar") == "open"
    with Session(eng) as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "milestone.opened",
                                              AuditEvent.target == "wrap-up:seminar")).one()
        assert ev.flow_run_id  # the flow run that did it is on record
        # one milestone opening is a message to its unit, not a 公文: no document was drafted by this run
        assert s.exec(select(Notice).where(Notice.status == "draft", Notice.flow_run_id == ev.flow_run_id)).all() == []


def test_the_sweep_twice_on_one_day_reminds_once(harness, db):
    from flows.schedules import sweep_deadlines

    url, eng = db
    from stages.definition.loader import load_cycle
    from stages.engine import find_run
    from stages.store.users import add_user

    with Session(eng) as s:  # the liaisons the 催办 go to
        spec = load_cycle(find_run(s).spec_path)
        for i, dept in enumerate(sorted({m.owner for m in s.exec(select(Milestone))})):
            add_user(s, spec.departments, username=f"u{i}", role="department", password="pw-12345678",
                     dept=dept)
        s.commit()
    a = run_ok(sweep_deadlines, as_of=dt.datetime(2019, 7, 22, 9), db=url)
    b = run_ok(sweep_deadlines, as_of=dt.datetime(2019, 7, 22, 9), db=url)
    assert a["fired"]["urge"] >= 1 and a["messages"] >= 1  # 催办 reach the liaisons as messages
    assert b["fired"] == {"advance": 0, "urge": 0, "escalate": 0} and b["messages"] == 0
    with Session(eng) as s:
        rows = s.exec(select(Reminder.milestone_id, Reminder.rung, func.count()).group_by(Reminder.milestone_id,
                                                                                          Reminder.rung)).all()
        assert rows and all(n == 1 for _m, _r, n in rows)


def test_a_sweep_after_a_five_day_gap_catches_up(harness, db):
    from flows.schedules import sweep_deadlines

    url, eng = db
    run_ok(sweep_deadlines, as_of=dt.datetime(2019, 7, 15, 9), db=url)
    out = run_ok(sweep_deadlines, as_of=dt.datetime(2019, 7, 29, 9), db=url)  # 07-16 … 07-26 missed
    assert out["missed_workdays_caught_up"] == 9
    with Session(eng) as s:
        mid = s.exec(select(Milestone.id).where(Milestone.item_key == "topic-03", Milestone.ms_id == "kickoff")).one()
        rungs = sorted(s.exec(select(Reminder.rung).where(Reminder.milestone_id == mid)).all())
    assert rungs == ["advance", "escalate", "urge"]


def test_the_sweep_skips_non_working_days(harness, db):
    from flows.schedules import sweep_deadlines

    url, _eng = db
    assert run_ok(sweep_deadlines, as_of=dt.datetime(2019, 10, 1, 9), db=url)["skipped"] == "not a working day"
    assert "skipped" not in run_ok(sweep_deadlines, as_of=dt.datetime(2019, 10, 12, 9), db=url)  # 调休 Saturday


def test_a_refused_action_leaves_the_database_unchanged(harness, db):
    from flows.actions import SubmitRequest, submit_deliverable

    url, eng = db

    def snapshot():
        with Session(eng) as s:
            return [[r.model_dump() for r in s.exec(select(m))] for m in (Item, Milestone, Submission, AuditEvent, Notice)]

    before = snapshot()
    state = submit_deliverable(SubmitRequest(db=url, item="topic-01", milestone="kickoff", by="区发改委",
                                             as_of=dt.datetime(2019, 7, 1)), return_state=True)
    assert state.is_failed()
    assert state.message == "cannot submit topic-01 开题: it is not yet open (waiting for contractor)"
    assert snapshot() == before


def test_monthly_report_flow_files_once(harness, db):
    from flows.schedules import monthly_progress_report

    url, eng = db
    early = run_ok(monthly_progress_report, as_of=dt.datetime(2019, 7, 15, 9), db=url)
    assert early["mini"]["skipped"].startswith("report day is 2019-07-25")
    first = run_ok(monthly_progress_report, as_of=dt.datetime(2019, 7, 25, 9), db=url)
    again = run_ok(monthly_progress_report, as_of=dt.datetime(2019, 7, 26, 9), db=url)
    assert first["mini"]["new"] and not again["mini"]["new"]
    with Session(eng) as s:
        assert s.exec(select(func.count()).select_from(Notice).where(Notice.kind == "monthly_report")).one() == 1


def test_every_deployment_in_prefect_yaml_loads_and_registers(harness):
    from prefect.client.orchestration import get_client

    from flows.deployments import declared, runner_deployments

    deps = runner_deployments()
    names = [d["name"] for d in declared()]
    assert [d.name for d in deps] == names
    sweep = next(d for d in deps if d.name == "daily-sweep")
    sched = sweep.schedules[0].schedule
    assert sched.cron == "0 9 * * *" and sched.timezone == "Asia/Shanghai"
    ids = [d.apply() for d in deps]  # registers each on the harness's API, as `prefect deploy` would
    with get_client(sync_client=True) as client:
        stored = {client.read_deployment(i).name for i in ids}
    assert stored == set(names)


def test_the_demo_is_deterministic(harness, tmp_path):
    """Two short demo runs with one seed give the same ledger, cell for cell (the full run is `plancycle demo`)."""
    import datetime as dt

    from openpyxl import load_workbook
    from rich.console import Console

    from flows.demo import run_demo

    quiet = Console(file=open("/dev/null", "w"))
    a = run_demo(tmp_path / "a", 7, console=quiet, until=dt.date(2019, 7, 31))
    b = run_demo(tmp_path / "b", 7, console=quiet, until=dt.date(2019, 7, 31))

    def cells(p):
        return [[c for c in row] for row in load_workbook(p)["台账"].iter_rows(values_only=True)]

    assert cells(a["ledger"]) == cells(b["ledger"])
    assert a["notices_by_kind"] == b["notices_by_kind"]
    assert a["notices"] >= 6 and a["numbered_documents"] == b["numbered_documents"] and a["drafts_unsigned"] == 0
    assert a["reminders"] == b["reminders"]
    docs = sorted(p.name for p in (tmp_path / "a" / "notices").iterdir())
    assert any(n.endswith(".docx") for n in docs) and any(n.endswith(".md") for n in docs)
    assert sorted(p.name for p in (tmp_path / "b" / "notices").iterdir()) == docs
    from tests.test_notices import document_problems

    texts = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "a" / "notices").glob("*.md")}
    assert document_problems(texts) == []  # the demo's signed documents read right
