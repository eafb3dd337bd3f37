"""Loading cycle definitions: every shipped config loads; every malformed one fails in one clear line."""

import re

import pytest
from pydantic import ValidationError

from stages.ground.errors import ConfigError
from stages.definition.loader import load_cycle
from stages.ground.i18n import using

from .conftest import MINI, ROOT, write_cycle


SHIPPED = sorted((ROOT / "config" / "cycles").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    spec = load_cycle(path)
    assert spec.items and spec.stages


def test_changning_has_the_seed_content(changning):
    topics = [i for i in changning.items if i.kind == "topic"]
    assert len(topics) == 18
    assert [t.no for t in topics] == list(range(1, 19))
    assert {t.no for t in topics if not t.open_call} == {3, 10, 17}
    assert changning.item("topic-10").lead == ("区委组织部", "区人社局")
    assert "程桥街道" in changning.item("topic-08").cooperating
    assert "各街镇" in changning.item("topic-18").cooperating
    assert changning.item("topic-18").cooperating.count("区委政法委") == 1  # 区政法委 is an alias
    windows = {s.id: (str(s.start_date), str(s.end_date)) for s in changning.stages}
    assert windows == {"research": ("2019-01-01", "2019-12-31"), "drafting": ("2020-01-01", "2020-12-31"),
                       "adoption": ("2021-01-01", "2021-06-30")}
    t1 = changning.item("topic-01")
    due = {m.id: str(m.due_date) for m in t1.milestones}
    assert due["plan"] == "2019-06-10"          # 6月上旬
    assert due["contractor"] == "2019-07-04"    # 发布公告 (06-20) + 10 working days
    assert due["kickoff"] == "2019-07-20"       # 7月中旬前
    assert due["midterm"] == "2019-08-31"
    assert due["final_review"] == "2019-09-30"
    assert due["final_results"] == "2019-10-18"  # 09-30 + 10 working days: 国庆 off, Sat 10-12 worked
    assert "contractor" not in {m.id for m in changning.item("topic-03").milestones}
    assert str(changning.item("leading-group").milestone("formed").due_date) == "2019-06-30"  # 2019年二季度
    assert str(changning.item("basic-approach").milestone("first_draft").due_date) == "2019-10-31"
    outline = {m.id: str(m.due_date) for m in changning.item("outline").milestones}
    assert outline["first_draft"] == "2020-06-30" and outline["draft_bill"] == "2021-01-31"
    sp = {m.id: (m.stage, str(m.due_date)) for m in changning.lifecycles["special_plan"].milestones}
    assert sp["proposal"] == ("research", "2019-09-30") and sp["registration"] == ("research", "2019-12-31")
    assert sp["alignment_draft"] == ("drafting", "2020-06-30") and sp["publication"] == ("adoption", "2021-06-10")
    assert sp["revision"][1] < sp["government_approval"][1] < sp["publication"][1]
    assert {d.short for d in changning.departments} >= {"区发改委", "区商务委", "区临空办", "程桥街道", "区虹桥办"}
    assert changning.groups["各街镇"] and "新泾镇" in changning.groups["各街镇"]


def test_timeline_rows_are_the_seed_table(changning):
    rows = changning.file.timeline
    assert [r.stage for r in rows] == ["research"] * 4 + ["drafting"] * 5 + ["adoption"] * 2
    assert rows[0].text.startswith("开展区“十四五”前期重大课题研究")
    assert rows[-1].text.startswith("二季度前，对专项规划进行修改完善")


# -- malformed configs -----------------------------------------------------------------------------------------------
_write = write_cycle  # the test cycle's text, beside its included files


BASE = MINI.read_text(encoding="utf-8")

# (id, old → new edits on mini.yaml, or a whole text, expected one-line message part)
CASES = [
    ("empty-file", "", "cycle.yaml:1: 文件为空（应为YAML 映射）"),
    ("only-comments", "# nothing\n# here\n", "cycle.yaml:1: 文件为空（应为YAML 映射）"),
    ("broken-yaml", BASE.replace("id: mini\n", "id: [mini\n"), "cycle.yaml:3: YAML 格式错误："),
    ("top-level-list", "- a\n- b\n", "文件顶层是列表，不是映射（应为id、version、title、stages、lifecycles 等键）"),
    ("missing-title", BASE.replace("title: 测试区规划研究和编制工作\n", ""), "缺少键“title”"),
    ("unknown-key", BASE.replace("district: 测试区\n", "district: 测试区\ndistrct: x\n"), "distrct: 未知的键“distrct”（应为docs/cycle-schema.md 所列的键之一）"),
    ("wrong-type-version", BASE.replace("version: 1\n", "version: one\n"), "version: 应为整数，无法把文本读作整数（实际为 'one'）"),
    ("wrong-type-topic-no", BASE.replace("{no: 2,", "{no: two,"), "topics[1].no"),
    ("bad-id-pattern", BASE.replace("id: mini\n", "id: Mini Cycle\n"), "id: 文本应符合格式 '^[a-z][a-z0-9-]*$'（实际为 'Mini Cycle'）"),
    ("unknown-department", BASE.replace("lead: [区教育局]", "lead: [区体育局]"), "未知部门“区体育局”（应为departments.yaml 中的单位，如 区发改委、区商务委、区教育局、甲街道、领导小组 …）"),
    ("unknown-coop-department", BASE.replace("cooperating: [区商务委]}", "cooperating: [区财政局]}"),
     "topics[0].cooperating[0]: 未知部门“区财政局”"),
    ("unknown-coordinator", BASE.replace("coordinator: 区发改委", "coordinator: 区计委"), "coordinator: 未知部门“区计委”"),
    ("duplicate-topic-no", BASE.replace("{no: 3,", "{no: 2,"), "topics[2].no: 课题编号“2”重复（首次出现于索引 1）"),
    ("duplicate-stage", BASE.replace("{id: adoption, name: 审议发布", "{id: drafting, name: 审议发布"),
     "stages[2].id: 阶段 id“drafting”重复（首次出现于索引 1）"),
    ("duplicate-milestone", BASE.replace("{id: midterm, name: 中期", "{id: kickoff, name: 中期"),
     "节点 id“kickoff”重复（首次出现于索引 1）"),
    ("duplicate-yaml-key", BASE.replace("district: 测试区\n", "district: 测试区\ndistrict: 测试区\n"), "cycle.yaml:6: YAML 格式错误："),
    ("unknown-gate", BASE.replace("exit_gate: research-complete}", "exit_gate: research-done}"),
     "stages[0].exit_gate: 未知阶段门“research-done”（应为gates 中的 id：topics-closed, two-midterms, "
     "list-approved, research-complete, drafting-complete, adopted, cycle-complete）"),
    ("unknown-stage", BASE.replace("    stage: research\n    title: 形成研究总报告", "    stage: planning\n    title: 形成研究总报告"),
     "tasks[0].stage: 未知阶段“planning”（应为research / drafting / adoption）"),
    ("unknown-after", BASE.replace('after: ["topic-01:midterm"]', 'after: ["topic-01:interim"]'),
     "事项“topic-01”没有节点“interim”（应为closure, contractor, kickoff, midterm）"),
    ("unknown-after-item", BASE.replace('after: ["topic-01:midterm"]', 'after: ["topic-99:midterm"]'),
     "“topic-99:midterm”中的事项“topic-99”不存在（应为任务 id、topic-NN 或 outline）"),
    ("dependency-cycle", BASE.replace("{id: kickoff, name: 开题, due: 7月中旬前}",
                                      "{id: kickoff, name: 开题, due: 7月中旬前, after: [closure]}"),
     "依赖关系成环：topic-01:kickoff → topic-01:closure → topic-01:midterm → topic-01:kickoff"
     "（应为节点只依赖在它之前的节点）"),
    ("bad-phrase", BASE.replace("due: 8月底前}", "due: 八月底左右}"), "lifecycles.topic.milestones[2].due: 无法识别期限表述“八月底左右”（可写作 "),
    ("outside-window", BASE.replace("due: 10月底前, after", "due: 2020年3月底前, after"),
     "期限 2020-03-31（2020年3月底前）不在阶段“research”的期间（2019-01-01 – 2019-12-31）内"),
    ("offset-unknown-ref", BASE.replace("due: 中期 + 10 个工作日", "due: 评审 + 10 个工作日"), "未知节点“评审”（应为以下之一：contractor, kickoff, midterm, closure）"),
    ("gate-n-too-big", BASE.replace("at_least: {n: 2,", "at_least: {n: 5,"),
     "gates[1].at_least.n: 需要 topics 中 5 项，但只有 3 项能到达“midterm”，该阶段门永远不会满足（应为n ≤ 3）"),
    ("gate-unknown-milestone", BASE.replace("all: {track: topics, milestone: closure}", "all: {track: topics, milestone: closing}"),
     "轨道“topics”中没有事项含节点“closing”，该阶段门永远不会满足"),
    ("gate-unknown-body", BASE.replace("approval: {body: leading_group,", "approval: {body: mayor,"),
     "未知审议机构“mayor”（应为leading_group / district_congress）"),
    ("gate-self-reference", BASE.replace("all_of: [topics-closed,", "all_of: [research-complete,"),
     "gates[3]: 阶段门“research-complete”引用了自身"),
    ("gate-no-predicate", BASE.replace("    milestone: \"outline:congress\"\n    automatic: true\n", "    automatic: true\n"),
     "阶段门条件须恰好写 milestone、all、at_least、approval、all_of、any_of 中的一项"),
    ("waits-for-itself", BASE.replace("opens_when: two-midterms}", "opens_when: wrap-gate}")
     + "", "opens_when: 未知阶段门“wrap-gate”"),
    ("overlapping-stages", BASE.replace("window: 2020年, exit_gate", "window: 2019年下半年, exit_gate"),
     "阶段“drafting”于 2019-07-01 开始，早于阶段“research”结束（2019-12-31）（应为各阶段期间依次排列、互不重叠）"),
    ("missing-lifecycle", BASE.replace("  special_plan:\n    name: 专项规划", "  special_plans:\n    name: 专项规划"),
     "该阶段门等待专项规划轨道 special_plans，但本周期没有生命周期 lifecycles.special_plan"),
    ("funding-not-one", BASE + "funding:\n  - {milestone: kickoff, share: 0.5, name: a}\n", "funding: 各期拨付比例之和为 0.5（应为比例之和为 1）"),
    ("timeline-unknown", BASE.replace("covers: [topics]", "covers: [topicz]"), "timeline[0].covers[0]: 时间表行涵盖未知事项“topicz”（应为事项键、事项:节点 或轨道名称）"),
    ("due-before-predecessor", BASE.replace("{id: midterm, name: 中期, due: 8月底前}", "{id: midterm, name: 中期, due: 7月上旬}"),
     "期限 2019-07-10 早于其所等待的 topic-01:kickoff 的期限（2019-07-20）（应为不早于各前序节点的期限）"),
]


@pytest.mark.parametrize("case_id,text,message", CASES, ids=[c[0] for c in CASES])
def test_malformed_config_is_one_clear_line(tmp_path, case_id, text, message):
    assert text != BASE, "the edit did not apply: the case tests nothing"
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    line = str(err.value)
    assert "\n" not in line
    assert message.lower() in line.lower(), line
    assert re.match(r"^\S+\.yaml(:\d+)?: ", line), line  # starts with the file (and line)


def test_error_names_the_line(tmp_path):
    text = BASE.replace("lead: [区教育局]", "lead: [区体育局]")
    path = _write(tmp_path, text)
    expected_line = text.splitlines().index("  - {no: 3, title: 课题三, focus: 重点三, lead: [区体育局], open_call: false}") + 1
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    assert err.value.line == expected_line
    assert err.value.path == "topics[2].lead[0]"
    assert str(err.value).startswith(f"{path}:{expected_line}: topics[2].lead[0]: 未知部门“区体育局”")
    with using("en"):
        assert str(err.value).startswith(f"{path}:{expected_line}: topics[2].lead[0]: unknown department '区体育局'")


def test_a_bad_cycle_file_reads_in_chinese_by_default_and_in_english_on_request(tmp_path, monkeypatch):
    """The same error, rendered when shown: file, line and YAML path in both languages, the sentence and its
    "expected" part in the reader's language (PLANCYCLE_LANG)."""
    text = BASE.replace("due: 10月底前, after", "due: 2020年3月底前, after")
    path = _write(tmp_path, text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "2020年3月底前" in ln)
    monkeypatch.delenv("PLANCYCLE_LANG", raising=False)
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    assert err.value.code == "config.deadline_outside_stage"
    assert str(err.value) == (f"{path}:{line}: tasks[0].milestones[0].due: 期限 2020-03-31（2020年3月底前）不在阶段"
                              "“research”的期间（2019-01-01 – 2019-12-31）内（应为阶段期间内的期限，或为该节点另指定阶段）")
    monkeypatch.setenv("PLANCYCLE_LANG", "en")
    assert str(err.value) == (f"{path}:{line}: tasks[0].milestones[0].due: deadline 2020-03-31 (2020年3月底前) is "
                              "outside stage 'research' (2019-01-01 – 2019-12-31) (expected a deadline inside the stage "
                              "window, or another stage for this milestone)")
    # an unknown key sends the reader to the documented schema, in both languages
    path = _write(tmp_path, BASE.replace("district: 测试区\n", "district: 测试区\ndistrct: x\n"))
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    assert str(err.value) == (f"{path}:6: distrct: unknown key 'distrct' "
                              "(expected one of the keys documented in docs/cycle-schema.md)")
    monkeypatch.setenv("PLANCYCLE_LANG", "zh_CN.UTF-8")
    assert str(err.value) == f"{path}:6: distrct: 未知的键“distrct”（应为docs/cycle-schema.md 所列的键之一）"


def test_a_missing_departments_file_is_reported_at_the_cycle_line(tmp_path):
    text = BASE.replace("departments: mini-departments.yaml", "departments: nowhere.yaml")
    path = _write(tmp_path, text)
    line = text.splitlines().index("departments: nowhere.yaml") + 1
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    where = f"{path}:{line}: departments: {tmp_path / 'nowhere.yaml'}"
    assert str(err.value).startswith(where + "：") and str(err.value).endswith("（应为相对于周期文件所在文件夹的路径）")
    with using("en"):  # the reason is the file reader's sentence (stages.definition.yamlio)
        assert str(err.value) == where + ": no such file (expected a path relative to the cycle file's folder)"


def test_missing_file():
    with pytest.raises(ConfigError, match="^does/not/exist.yaml: 文件不存在$"):
        load_cycle("does/not/exist.yaml")


def test_spec_is_frozen(mini):
    # the spec's models are frozen pydantic models: assigning to a field is pydantic's own refusal
    with pytest.raises(ValidationError, match=r"1 validation error for ItemSpec\ntitle\n  Instance is frozen"):
        mini.items[0].title = "x"
