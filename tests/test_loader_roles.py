"""Roles, not ids (issue 12): what the engine's own moves act on is named in the cycle file (``role:``) or derived
from its structure, and checked by validate; and what validate now checks so that init and the views cannot
fail on a file it passed (paths, notice settings, timelines, gates that can never open, milestones nothing opens).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stages import engine as sv
from stages.ground.errors import ConfigError, PlancycleError
from stages.definition.loader import load_cycle

from .conftest import CHANGNING, MINI, ROOT, write_cycle

BASE = MINI.read_text(encoding="utf-8")
JINGAN = ROOT / "config" / "cycles" / "jingan-15th.yaml"


cycle = write_cycle  # the test cycle's text, beside its included files


def refused(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_cycle(cycle(tmp_path, text))
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path)), msg
    return msg


# -- roles ------------------------------------------------------------------------------------------------------------
def test_the_shipped_cycles_name_their_roles():
    for path, contractor, registration, closing in (
            (CHANGNING, "contractor", "registration", ("special-plan-registration", "confirmation")),
            (JINGAN, "bidder", "confirm", ("plan-registration", "settle"))):
        spec = load_cycle(path)
        assert spec.role_milestone("topic", "contractor_choice").id == contractor
        assert spec.role_milestone("special_plan", "registration").id == registration
        assert spec.task_role("special_plan_confirmation") == closing


def test_a_file_without_roles_gets_them_from_its_structure(mini):
    """mini.yaml is written for the schema before roles: the milestone only tendered topics have chooses the
    contractor; the first special-plan milestone after the proposal that the coordinator owns is 立项确认."""
    assert mini.role_milestone("topic", "contractor_choice").id == "contractor"
    assert mini.item("topic-01").milestone("contractor").role == "contractor_choice"
    assert mini.role_milestone("special_plan", "registration").id == "registration"
    assert mini.task_role("special_plan_confirmation") is None  # no task closes the proposals: they stay open


@pytest.mark.parametrize("edit,message", [
    (("      - {id: contractor, name: 确定承接单位, only_for: open_call, due: 2019年6月下旬}",
      "      - {id: contractor, name: 确定承接单位, only_for: open_call, due: 2019年6月下旬, role: registration}"),
     "lifecycles.topic.milestones[0].role: 角色“registration”应设在专项规划生命周期的节点上"),
    (("      - {id: kickoff, name: 开题, due: 7月中旬前}",
      "      - {id: kickoff, name: 开题, due: 7月中旬前, role: contractor_choice}\n"
      "      - {id: kickoff2, name: 开题2, due: 7月下旬, role: contractor_choice}"),
     "角色“contractor_choice”重复设置（首次在 lifecycles.topic.milestones[1]）（应为每个角色只设在一个节点上）"),
    (("      - {id: report, name: 总报告, due: 10月底前, after: [\"topic-01:midterm\"]}",
      "      - {id: report, name: 总报告, due: 10月底前, after: [\"topic-01:midterm\"], role: boss}"),
     "role"),
    (("      - {id: report, name: 总报告, due: 10月底前, after: [\"topic-01:midterm\"]}",
      "      - {id: report, name: 总报告, due: 10月底前, after: [\"topic-01:midterm\"], meeting: {name: 评审会}}"),
     "节点“report”设有会议，但评审会只为课题安排（`plancycle meeting` 汇总尚待开会的课题）"
     "（应为在 lifecycles.topic 的节点上写 meeting:）"),
    (("  - id: two-midterms\n    name: 两项课题完成中期\n    at_least: {n: 2, track: topics, milestone: midterm}\n"
      "    automatic: true", "  - id: two-midterms\n    name: 两项课题完成中期\n"
      "    at_least: {n: 2, track: topics, milestone: midterm}"),
     "节点“seminar”在阶段门“two-midterms”满足时开始，但该阶段门不是自动判定的，节点永远不会开始"
     "（应为在阶段门“two-midterms”上写 automatic: true，或用 after: 代替 opens_when）"),
    (("  - id: wrap-up\n", "  - id: sp-01\n"), "事项键“sp-01”与拟报专项规划的键（sp-NN）形式相同（应为另取一个任务 id，"
     "或在 lifecycles.special_plan 上另设 key_prefix）"),
    (("  - id: wrap-up\n", "  - id: topic-02\n"), "tasks[0]: 事项键“topic-02”重复使用（任务 id 与某课题的键相同？）（应为与课题键不同的任务 id）"),
    (("covers: [topics]", "covers: [\"topics:nothing\"]"), "时间表行涵盖“topics:nothing”，但“topics”没有节点“nothing”（应为contractor, kickoff, midterm, closure）"),
    (("  - {id: research, name: 前期研究, window: 2019年, exit_gate: research-complete}",
      "  - {id: research, name: 前期研究, window: 2019年, start: 2019-01-01, end: 2019-12-31, exit_gate: research-complete}"),
     "stages[0]: 阶段须写 window（期间表述），或同时写 start 和 end（日期）"
     "（应为window: 2019年，或 start: 2024-06-01 加 end: 2024-12-31）"),
    (("version: 1\n", "version: 1\nschema: 9\n"), "schema"),
])
def test_bad_roles_and_shapes_are_one_line(tmp_path, edit, message):
    old, new = edit
    assert old in BASE
    assert message in refused(tmp_path, BASE.replace(old, new))


def test_explicit_stage_dates_cross_years(tmp_path):
    text = BASE.replace("  - {id: research, name: 前期研究, window: 2019年, exit_gate: research-complete}",
                        "  - {id: research, name: 前期研究, start: 2019-03-01, end: 2019-12-31, exit_gate: research-complete}")
    spec = load_cycle(cycle(tmp_path, text))
    assert (str(spec.stages[0].start_date), str(spec.stages[0].end_date)) == ("2019-03-01", "2019-12-31")


def test_key_prefixes_come_from_the_file(tmp_path, session):
    text = BASE.replace("    key_prefix: sp-\n", "    key_prefix: plan-\n").replace(
        "  topic:\n    name: 课题\n", "  topic:\n    name: 课题\n    key_prefix: kt-\n    ref: 附件 {no}\n")
    # the task's own dependency on topic-01 must now name kt-01
    assert "“topic-01:midterm”中的事项“topic-01”不存在（应为任务 id、kt-NN 或 outline）" in \
        refused(tmp_path, text)
    spec = load_cycle(cycle(tmp_path, text.replace('"topic-01:midterm"', '"kt-01:midterm"')))
    assert [i.key for i in spec.items if i.kind == "topic"] == ["kt-01", "kt-02", "kt-03"]
    assert spec.item("kt-02").ref == "附件 2"
    sv.init_run(session, spec, as_of="2019-06-01")
    out = sv.propose(session, spec, dept="区商务委", title="某规划", as_of="2019-08-01")
    assert out.target == "plan-01"


# -- a cycle without special plans -------------------------------------------------------------------------------------
NO_PLANS = (BASE.replace("""  special_plan:
    name: 专项规划
    stage: research
    key_prefix: sp-
    milestones:
      - {id: proposal, name: 立项建议, due: 2019年三季度}
      - {id: registration, name: 立项确认, due: 2019年四季度, owner: coordinator, accept_requires: list-approved}
      - {id: draft, name: 编制, stage: drafting, due: 2020年上半年}
""", "").replace("""    all: {track: special_plans, milestone: draft}""", """    milestone: "outline:first_draft\""""))


def test_special_plans_are_optional(tmp_path, session):
    spec = load_cycle(cycle(tmp_path, NO_PLANS))
    assert not spec.has_special_plans
    sv.init_run(session, spec, as_of="2019-06-01")
    with pytest.raises(PlancycleError, match=r"^mini未设专项规划（周期文件中没有 lifecycles\.special_plan）$"):
        sv.propose(session, spec, dept="区商务委", title="某规划", as_of="2019-08-01")
    with pytest.raises(PlancycleError, match=r"^mini未设专项规划（周期文件中没有 lifecycles\.special_plan）$"):
        sv.register(session, spec, confirm=["sp-01"], as_of="2019-08-01")
    from stages.views.reads import timeline

    assert timeline(session, spec, "2019-08-01")["rows"]


def test_a_gate_over_special_plans_needs_their_lifecycle(tmp_path):
    text = NO_PLANS.replace('    milestone: "outline:first_draft"', "    all: {track: special_plans, milestone: draft}")
    assert ("gates[4].all.track: 该阶段门等待专项规划轨道 special_plans，但本周期没有生命周期 lifecycles.special_plan"
            "（应为lifecycles.special_plan，或改为对其他轨道设阶段门）") in refused(tmp_path, text)


# -- gates, timelines, notice settings -------------------------------------------------------------------------------
def test_an_all_gate_counts_the_items_that_have_the_milestone():
    """Only tendered topics choose a contractor: `all` over that milestone is met when each of them has."""
    from stages.rules.gates import Facts, evaluate
    from stages.rules.status import Status

    spec = load_cycle(JINGAN)
    topics = [i for i in spec.items if i.kind == "topic"]
    tendered = [t.key for t in topics if t.open_call]
    assert 0 < len(tendered) < len(topics)
    facts = Facts(milestones={(k, "bidder"): Status.ACCEPTED for k in tendered},
                  tracks={"topics": [t.key for t in topics]}, approvals=set())
    assert evaluate(spec, "all-bidders-chosen", facts).ok
    facts.milestones[(tendered[0], "bidder")] = Status.OPEN
    res = evaluate(spec, "all-bidders-chosen", facts)
    assert not res.ok and res.missing == (f"{tendered[0]}:bidder not done",)


def test_a_timeline_without_rows_is_an_empty_table(tmp_path, session):
    text = BASE.replace("timeline:\n  - {stage: research, text: 开展课题研究, covers: [topics]}\n", "")
    spec = load_cycle(cycle(tmp_path, text))
    sv.init_run(session, spec, as_of="2019-06-01")
    from stages.views.reads import timeline

    assert timeline(session, spec, "2019-07-01")["rows"] == [] and timeline(session, spec, "2019-07-01")["quarters"] == []


def test_a_timeline_row_over_an_empty_track_is_refused(tmp_path):
    text = NO_PLANS.replace("covers: [topics]", "covers: [special_plans]")
    assert "时间表行涵盖轨道“special_plans”，但本周期该轨道没有事项（应为本周期有的轨道、事项键或 事项:节点）" in refused(tmp_path, text)


@pytest.mark.parametrize("settings,message", [
    ("documents:\n  memo: {genre: 便函}\n", "documents.memo: 未知的公文类型“memo”（应为request, stage_notice,"),
    ("documents:\n  stage_notice: {genre: 通知, to: [甲, 乙]}\n", "documents.stage_notice.to: 应为文本（主送一行）（应为to: 各有关部门）"),
])
def test_validate_refuses_notice_settings_that_init_would_refuse(tmp_path, settings, message):
    notices = tmp_path / "notices.yaml"
    notices.write_text((ROOT / "config" / "notices.yaml").read_text(encoding="utf-8")
                       .split("\ndocuments:")[0] + "\n" + settings + "\ncc: {}\ncall_for_tender: "
                       + (ROOT / "config" / "notices.yaml").read_text(encoding="utf-8").split("\ncall_for_tender:")[1],
                       encoding="utf-8")
    assert message in refused(tmp_path, BASE.replace("notices: mini-notices.yaml\n", "notices: notices.yaml\n"))


def test_the_loader_knows_the_document_kinds_notices_knows():
    from stages.definition import loader
    from stages.paperwork import notices

    assert tuple(notices.DEFAULT_DOCUMENTS) == loader.NOTICE_KINDS


# -- paths ---------------------------------------------------------------------------------------------------------------
def test_init_with_a_relative_path_then_act_from_elsewhere(tmp_path):
    """The run's checksum is of the files' contents: `plancycle init config/…` typed in the checkout, then actions
    from another folder (where that relative path means nothing) work."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PLANCYCLE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
           "PLANCYCLE_SPEC_CACHE": "0", "PLANCYCLE_FLOWS": "never"}

    def cli(*args, cwd):
        return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    rel = os.path.relpath(JINGAN, ROOT)
    p = cli("init", rel, "--as-of", "2024-06-03", cwd=ROOT)
    assert p.returncode == 0, p.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = cli("submit", "research-plan", "issue", "--by", "区发展改革委", "--as-of", "2024-06-12", cwd=elsewhere)
    assert p.returncode == 0, p.stderr
    p = cli("review", "research-plan", "issue", "--accept", "--as-of", "2024-06-12T15:00", cwd=elsewhere)
    assert p.returncode == 0, p.stderr
    p = cli("status", "--json", "--as-of", "2024-06-13", cwd=elsewhere)
    assert p.returncode == 0 and '"jingan-15th"' in p.stdout, p.stderr
