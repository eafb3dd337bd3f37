"""Concurrent moves that together complete a gate: its consequences happen exactly once.

Twenty departments' 开题 are accepted at the same moment, by twenty connections; the twentieth acceptance completes
an automatic gate that opens a follow-up task. Whatever the interleaving, the follow-up opens once (one
``milestone.opened`` audit event, one 阶段工作通知), every acceptance is recorded, and the 发文字号 issued are
distinct and gap-free. Run on PostgreSQL (a throwaway cluster, repeated) and on the SQLite default.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from stages import engine as sv
from stages.rules.identity import Actor
from stages.definition.loader import load_cycle
from stages.store.models import AuditEvent, Milestone, Notice, create_schema, make_engine

from .test_postgres import pg_url  # noqa: F401 - the module-scoped throwaway cluster

N = 20
COORD = Actor(user="coord", name="规划科", role="coordinator")


def _cycle(tmp: Path) -> Path:
    fixtures = Path(__file__).resolve().parent / "fixtures"
    deps = "departments:\n  - {id: fgw, short: 区发改委, name: 测试区发展和改革委员会}\n" + "".join(
        f"  - {{id: d{i:02d}, short: 部门{i:02d}, name: 测试区部门{i:02d}}}\n" for i in range(1, N + 1))
    (tmp / "deps.yaml").write_text(deps, encoding="utf-8")
    topics = "".join(f"  - {{no: {i}, title: 课题{i}, focus: 重点, lead: [部门{i:02d}], open_call: false}}\n"
                     for i in range(1, N + 1))
    (tmp / "race.yaml").write_text(f"""id: race
version: 1
title: 测试区规划研究和编制工作
district: 测试区
issuer: 测试区发展和改革委员会
departments: deps.yaml
notices: {fixtures / 'mini-notices.yaml'}
coordinator: 区发改委
approval_bodies: {{leading_group: 领导小组}}
stages:
  - {{id: research, name: 前期研究, window: 2019年, exit_gate: done}}
gates:
  - {{id: all-kicked-off, name: 全部课题开题, all: {{track: topics, milestone: kickoff}}, automatic: true}}
  - {{id: done, name: 完成, milestone: "wrap-up:report"}}
lifecycles:
  topic:
    name: 课题
    stage: research
    milestones:
      - {{id: kickoff, name: 开题, due: 2019年7月中旬前}}
  special_plan:
    name: 专项规划
    stage: research
    milestones:
      - {{id: proposal, name: 立项建议, due: 2019年三季度}}
topics:
{topics}tasks:
  - id: wrap-up
    ref: 一
    stage: research
    title: 汇总开题情况
    lead: [区发改委]
    milestones:
      - {{id: report, name: 开题情况汇总, due: 2019年10月底前, after: [], opens_when: all-kicked-off}}
""", encoding="utf-8")
    return tmp / "race.yaml"


def _accept_all_at_once(url: str, spec):
    """A fresh run of ``spec`` on ``url`` whose N topics have handed in their 开题, then N threads that accept one
    each at the same moment (a barrier). Returns the engine and the errors the threads raised."""
    eng = make_engine(url)
    create_schema(eng)
    with Session(eng) as s:
        sv.init_run(s, spec, as_of="2019-06-03")
        for i in range(1, N + 1):
            sv.submit(s, spec, item=f"topic-{i:02d}", milestone="kickoff", by=f"部门{i:02d}", as_of="2019-07-01")
        s.commit()
    barrier = threading.Barrier(N)
    errors: list[BaseException] = []

    def accept(i: int) -> None:
        try:
            with Session(eng) as s:
                barrier.wait()
                sv.review(s, spec, item=f"topic-{i:02d}", milestone="kickoff", decision="accept", by=COORD,
                          as_of="2019-07-02")
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(1, N + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return eng, errors


def _race(url: str, spec) -> dict:
    eng, errors = _accept_all_at_once(url, spec)
    # then twenty drafts signed off at once: each takes its own 发文字号, distinct and gap-free
    from stages.paperwork import notices as nt
    from stages.paperwork import drafting as pw

    with Session(eng) as s:
        run = sv.find_run(s, spec.id)
        ids = [nt.draft(s, run.id, "request", {**pw.words(spec), "to": "区政府", "title": f"关于测试事项{i}的请示",
                                                "paragraphs": ["测试。"], "attachments": []},
                        recipients=["区政府"], about=f"t{i}", as_of="2019-07-02").id for i in range(N)]
        s.commit()
    barrier = threading.Barrier(N)

    def sign(nid: int) -> None:
        try:
            with Session(eng) as s:
                barrier.wait()
                pw.sign_document(s, spec, notice=nid, by=COORD, as_of="2019-07-03",
                                 changes={"contact_person": "陈明", "contact_phone": "021-22050000", "signer": "李伟"})
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sign, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(eng) as s:
        opened = Counter(e.target for e in s.exec(select(AuditEvent).where(AuditEvent.action == "milestone.opened")))
        accepted = len(s.exec(select(AuditEvent).where(AuditEvent.action == "deliverable.accepted")).all())
        report = s.exec(select(Milestone).where(Milestone.item_key == "wrap-up")).one()
        numbers = [n.seq for n in s.exec(select(Notice).where(Notice.doc_number.is_not(None)).order_by(Notice.seq))]
    eng.dispose()
    return {"errors": errors, "opened": opened, "accepted": accepted, "report": report.status, "seqs": numbers}


def _check(out: dict) -> None:
    assert out["errors"] == []
    assert out["accepted"] == N
    assert out["report"] == "open"
    assert out["opened"]["wrap-up:report"] == 1  # the gate's consequence, exactly once
    seqs = out["seqs"]
    assert len(seqs) == N and len(seqs) == len(set(seqs)) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # distinct, gap-free


@pytest.mark.parametrize("trial", range(10))
def test_twenty_concurrent_acceptances_open_the_follow_up_once_on_postgresql(pg_url, tmp_path, trial):  # noqa: F811
    from sqlalchemy import text

    eng = make_engine(pg_url)
    with eng.begin() as c:  # a clean database for each trial
        c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()
    _check(_race(pg_url, load_cycle(_cycle(tmp_path))))


def test_concurrent_acceptances_on_sqlite_queue_and_open_once(tmp_path):
    _check(_race(f"sqlite:///{tmp_path / 'race.db'}", load_cycle(_cycle(tmp_path))))


def test_the_first_number_of_a_year_taken_by_twenty_writers_at_once(pg_url):  # noqa: F811
    """No run lock here: twenty transactions allocate directly; each gets its own number, none fails."""
    from stages.paperwork.notices import allocate_number

    eng = make_engine(pg_url)
    create_schema(eng)
    barrier = threading.Barrier(N)
    got, errors = [], []

    def take():
        try:
            with Session(eng) as s:
                barrier.wait()
                got.append(allocate_number(s, "测发改", 2031, {"organ": {"prefix": "测发改"},
                                                             "numbering": {"first": {2031: 5}}})[0])
                s.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eng.dispose()
    assert errors == [] and sorted(got) == list(range(5, 5 + N))


def test_eight_cli_actions_at_once_on_the_default_all_succeed(tmp_path):
    """Eight `plancycle submit` processes started together on one SQLite file: each waits its turn (BEGIN
    IMMEDIATE and the busy timeout), none fails, none prints a traceback, none starts a Prefect server."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    spec = _cycle(tmp_path)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "PLANCYCLE_FILES": str(tmp_path / "files"), "PLANCYCLE_RUN_DIR": str(tmp_path / "run")}
    env.pop("PREFECT_API_URL", None)
    base = [sys.executable, "-m", "app.cli", "--db", db]
    assert subprocess.run(base + ["init", str(spec), "--as-of", "2019-06-03"], cwd=root, env=env,
                          capture_output=True).returncode == 0
    procs = [subprocess.Popen(base + ["submit", f"topic-{i:02d}", "kickoff", "--by", f"部门{i:02d}", "--as-of",
                                      "2019-07-01"], cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(1, 9)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    assert not any("Traceback" in err for _, err in results)
    eng = make_engine(db)
    with Session(eng) as s:
        n = len(s.exec(select(AuditEvent).where(AuditEvent.action == "deliverable.submitted")).all())
    eng.dispose()
    assert n == 8


# -- the run's row lock: a gate that twenty concurrent moves complete advances the stage once ----------------------
def _two_stage_cycle(tmp: Path) -> Path:
    """Twenty topics' 开题 make the automatic gate that closes 前期研究 and completes a tally: the gate's
    consequences are one milestone completed, one stage advanced and the next stage's work opened."""
    _cycle(tmp)  # the departments file
    fixtures = Path(__file__).resolve().parent / "fixtures"
    topics = "".join(f"  - {{no: {i}, title: 课题{i}, focus: 重点, lead: [部门{i:02d}], open_call: false}}\n"
                     for i in range(1, N + 1))
    (tmp / "advance.yaml").write_text(f"""id: advance
version: 1
title: 测试区规划研究和编制工作
district: 测试区
issuer: 测试区发展和改革委员会
departments: deps.yaml
notices: {fixtures / 'mini-notices.yaml'}
coordinator: 区发改委
approval_bodies: {{leading_group: 领导小组}}
stages:
  - {{id: research, name: 前期研究, window: 2019年, exit_gate: all-kicked-off}}
  - {{id: drafting, name: 规划编制, window: 2020年, exit_gate: done}}
gates:
  - {{id: all-kicked-off, name: 全部课题开题, all: {{track: topics, milestone: kickoff}}, automatic: true}}
  - {{id: done, name: 完成, milestone: "compile:draft"}}
lifecycles:
  topic:
    name: 课题
    stage: research
    milestones:
      - {{id: kickoff, name: 开题, due: 2019年7月中旬前}}
  special_plan:
    name: 专项规划
    stage: research
    milestones:
      - {{id: proposal, name: 立项建议, due: 2019年三季度}}
topics:
{topics}tasks:
  - id: tally
    ref: 一
    stage: research
    title: 开题情况统计
    lead: [区发改委]
    milestones:
      - {{id: tally, name: 开题情况统计, due: 2019年10月底前, after: [], completes_when: all-kicked-off}}
  - id: compile
    ref: 二
    stage: drafting
    title: 纲要编制
    lead: [区发改委]
    milestones:
      - {{id: draft, name: 纲要初稿, due: 2020年6月底前, after: []}}
""", encoding="utf-8")
    return tmp / "advance.yaml"


def _advance_race(url: str, spec) -> dict:
    eng, errors = _accept_all_at_once(url, spec)
    from stages.store.models import CycleRun, StageState

    with Session(eng) as s:
        events = Counter((e.action, e.target) for e in s.exec(select(AuditEvent)))
        run = s.exec(select(CycleRun)).one()
        stages = {st.stage_id: st.status for st in s.exec(select(StageState))}
        statuses = {(m.item_key, m.ms_id): m.status for m in s.exec(select(Milestone))}
    eng.dispose()
    return {"errors": errors, "events": events, "stage": run.current_stage, "stages": stages, "statuses": statuses}


def _check_advance(out: dict) -> None:
    ev = out["events"]
    assert out["errors"] == []
    assert sum(n for (a, _t), n in ev.items() if a == "deliverable.accepted") == N  # every acceptance recorded
    # the gate's consequences, each exactly once, whichever of the twenty moves completed it
    assert ev[("milestone.completed", "tally:tally")] == 1
    assert sum(n for (a, _t), n in ev.items() if a == "stage.advanced") == 1
    assert ev[("stage.advanced", "research→drafting")] == 1
    assert ev[("milestone.opened", "compile:draft")] == 1
    assert out["stage"] == "drafting" and out["stages"] == {"research": "closed", "drafting": "open"}
    # completed by its gate, the tally is accepted (the system's ``complete`` move ends in accepted)
    assert out["statuses"][("tally", "tally")] == "accepted" and out["statuses"][("compile", "draft")] == "open"


@pytest.mark.parametrize("trial", range(3))
def test_twenty_concurrent_acceptances_advance_the_stage_once_on_postgresql(pg_url, tmp_path, trial):  # noqa: F811
    """Held by the run's row lock (SELECT … FOR UPDATE in the engine's context): without it each transaction sees
    only its own acceptance among the twenty, and the gate is completed by none of them, or by several."""
    from sqlalchemy import text

    eng = make_engine(pg_url)
    with eng.begin() as c:  # a clean database for each trial
        c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()
    _check_advance(_advance_race(pg_url, load_cycle(_two_stage_cycle(tmp_path))))


def test_concurrent_acceptances_on_sqlite_advance_the_stage_once(tmp_path):
    _check_advance(_advance_race(f"sqlite:///{tmp_path / 'advance.db'}", load_cycle(_two_stage_cycle(tmp_path))))


def test_a_move_locks_its_runs_row_before_it_reads_the_run(mini_run, mini):
    """Where no PostgreSQL is installed the race above is skipped, and SQLite serialises writers anyway: this holds
    the lock itself. A move's first statement after finding its run selects the run's row FOR UPDATE (as
    PostgreSQL would be sent it), before any other row of the run is read."""
    from sqlalchemy import event
    from sqlalchemy.dialects import postgresql

    seen: list[str] = []

    def record(state):
        if state.is_select:
            seen.append(str(state.statement.compile(dialect=postgresql.dialect())))

    event.listen(mini_run, "do_orm_execute", record)
    try:
        sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10")
    finally:
        event.remove(mini_run, "do_orm_execute", record)
    locked = [i for i, q in enumerate(seen) if q.rstrip().endswith("FOR UPDATE")]
    assert locked, seen
    first = locked[0]
    assert "FROM cycle_run" in seen[first] and "WHERE cycle_run.id = " in seen[first], seen[first]
    assert all("FROM cycle_run" in q for q in seen[:first]), seen[:first]  # nothing else read before the lock
