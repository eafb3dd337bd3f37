"""``plancycle demo --config FILE`` drives any valid cycle to its end with behaviour derived from the file.

Each run calls the action functions in this process (as `plancycle` does without a Prefect server), the way
tests/test_audit_replay.py runs the full Changning demo; tests/test_flows.py runs a short one through Prefect.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import Session, select

from .conftest import MINI, ROOT

pytestmark = pytest.mark.slow  # each test drives a cycle through months or years of the demo

SHIPPED = sorted((ROOT / "config" / "cycles").glob("*.yaml"))


def run(tmp_path: Path, config: Path, until: dt.date | None = None, seed: int = 2019) -> dict:
    from flows.demo import InProcessDemo as InProcess

    tmp_path.mkdir(parents=True, exist_ok=True)
    d = InProcess(tmp_path, seed, None, Console(file=io.StringIO(), width=120), until, config)
    with pytest.MonkeyPatch.context() as mp:  # no flow run, no Prefect events (they would start its server)
        mp.setattr("flows.schedules.emit_events", lambda *_a, **_k: 0)
        result = d.run()
    out = d.summary({**result, "outputs": {}})
    out["db"] = d.db_url
    return out


@pytest.mark.parametrize("config", [p for p in SHIPPED if p.stem != "jingan-15th"], ids=lambda p: p.stem)
def test_every_shipped_cycle_starts_under_the_demo(tmp_path, config):
    """Its first months (the full Changning run is tests/test_audit_replay.py's, Jing'an's is below)."""
    from stages.definition.loader import load_cycle

    spec = load_cycle(config)
    until = min(m.due_date for it in spec.items for m in it.milestones) + dt.timedelta(days=45)
    s = run(tmp_path, config, until=until)
    assert s["flow_runs"] > 20 and s["drafts_unsigned"] == 0
    assert s["notices_by_kind"]  # documents were drafted and signed off


def test_another_districts_cycle_runs_to_its_end(tmp_path):
    s = run(tmp_path, ROOT / "config" / "cycles" / "jingan-15th.yaml")
    assert s["complete_on"] is not None and s["milestones_unfinished"] == 0 and s["drafts_unsigned"] == 0
    assert s["complete_on"] <= dt.date(2026, 6, 30)
    assert s["items"]["topic"] == 8 and s["items"]["special_plan"] >= 6 and s["special_plans_rejected"] == 3
    # its one may_force gate was forced, saying so; nothing else was
    assert [(f["stage"], f["gate"]) for f in s["gates_forced"]] == [("prep", "prep-done")]
    assert "允许推进" in s["gates_forced"][0]["reason"]
    assert {"call_for_tender", "tender_result", "meeting", "special_plan_registration", "monthly_report",
            "request", "stage_notice"} <= set(s["notices_by_kind"])


def test_a_file_written_for_the_old_schema_runs_to_its_end(tmp_path):
    """tests/fixtures/mini.yaml names no roles (they are derived), and no gate may be forced: none is."""
    s = run(tmp_path, MINI)
    assert s["complete_on"] is not None and s["milestones_unfinished"] == 0
    assert s["gates_forced"] == []


NEVER_SEEN = """\
id: tasks-only
version: 1
title: 测试区年度重点工作推进
district: 测试区
issuer: 测试区发展和改革委员会
departments: deps.yaml
notices: notices.yaml
coordinator: 区发改委
approval_bodies: {office_meeting: 区政府常务会议}
stages:
  - {id: first-half, name: 上半年, start: 2024-01-01, end: 2024-06-30, exit_gate: half-done}
  - {id: second-half, name: 下半年, window: 2024年下半年, exit_gate: year-done}
gates:
  - id: half-done
    name: 上半年工作经区政府常务会议听取
    all_of:
      - all: {track: tasks, milestone: h1}
      - approval: {body: office_meeting, subject: half-year-report}
  - id: year-done
    name: 全年完成
    all: {track: tasks, milestone: h2}
    automatic: true
tasks:
  - id: invest
    ref: 一
    stage: first-half
    title: 重大项目投资
    lead: [区商务委]
    milestones:
      - {id: h1, name: 上半年进展, due: 2024年6月中旬}
      - {id: h2, name: 全年完成, stage: second-half, due: 2024年12月中旬}
  - id: schools
    ref: 二
    stage: first-half
    title: 新建学校
    lead: [区教育局]
    milestones:
      - {id: h1, name: 开工, due: 2024年二季度}
      - {id: h2, name: 竣工, stage: second-half, due: 2024年四季度}
"""


def test_a_cycle_the_project_has_never_seen(tmp_path):
    """No topics, no special plans, no timeline; a stage gate that waits for an approval nobody's milestone asks
    for: the demo records it once the work is in, and the cycle completes."""
    (tmp_path / "deps.yaml").write_text((MINI.parent / "mini-departments.yaml").read_text(encoding="utf-8"),
                                        encoding="utf-8")
    (tmp_path / "notices.yaml").write_text((MINI.parent / "mini-notices.yaml").read_text(encoding="utf-8"),
                                           encoding="utf-8")
    cfg = tmp_path / "tasks-only.yaml"
    cfg.write_text(NEVER_SEEN, encoding="utf-8")
    s = run(tmp_path / "out", cfg)
    assert s["complete_on"] is not None and s["milestones_unfinished"] == 0 and s["gates_forced"] == []
    from stages.store.models import Decision, make_engine

    with Session(make_engine(s["db"], write=False)) as db:
        approvals = db.exec(select(Decision.body, Decision.subject).where(Decision.kind == "approve")).all()
    assert [tuple(a) for a in approvals] == [("office_meeting", "half-year-report")]


# -- every shipped cycle, and two a new user wrote from the docs alone, to their ends -----------------------------------
UNSEEN = ROOT / "tests" / "fixtures" / "unseen"
OTHER_DISTRICTS = ("长宁", "静安", "普陀", "闵行", "徐汇")


def documents_text(db: str) -> str:
    """The Markdown of every issued document of a demo's database, one after another."""
    from stages.store.models import Notice, make_engine
    from stages.paperwork.notices import render_notice

    with Session(make_engine(db, write=False)) as s:
        ids = s.exec(select(Notice.id).where(Notice.status == "issued").order_by(Notice.id)).all()
        return "\n".join(render_notice(s, i, "md")[1].decode("utf-8") for i in ids)


def assert_in_its_own_words(s: dict, config: Path, district: str, period: str, not_period: str | None) -> None:
    """Its district and period are in its documents; another district or period only where the cycle file itself
    writes it (a 十五五 cycle's 开展“十四五”规划实施情况总结评估)."""
    text = documents_text(s["db"])
    own = config.read_text(encoding="utf-8")
    assert district in text and period in text
    for other in [d for d in OTHER_DISTRICTS if d != district] + ([not_period] if not_period else []):
        assert other in own or other not in text, other


@pytest.mark.parametrize("config,district,period,not_period,last", [
    (ROOT / "config" / "cycles" / "changning-2019-keywork.yaml", "长宁", "2019年", "十四五", dt.date(2020, 1, 3)),
    (ROOT / "config" / "cycles" / "putuo-14th-monitoring.yaml", "普陀", "十四五", "十五五", dt.date(2026, 6, 30)),
    (UNSEEN / "xuhui-15th.yaml", "徐汇", "十五五", "十四五", dt.date(2026, 6, 30)),
    (UNSEEN / "minhang-2027-keywork.yaml", "闵行", "2027年", "十四五", dt.date(2028, 1, 5)),
], ids=lambda v: v.stem if isinstance(v, Path) else None)
def test_the_demo_runs_the_cycle_to_its_end_in_its_own_words(tmp_path, config, district, period, not_period, last):
    s = run(tmp_path, config)
    assert s["complete_on"] is not None and s["complete_on"] <= last, s["complete_on"]
    assert s["milestones_unfinished"] == 0 and s["drafts_unsigned"] == 0
    assert s["notices_by_kind"]
    assert_in_its_own_words(s, config, district, period, not_period)
    spec_file = config.read_text(encoding="utf-8")
    if "targets:" in spec_file or "indicators:" in spec_file:
        assert s["figures_reported"] > 0
    if "optional: true" in spec_file:
        assert s["optional_not_triggered"] >= 1
