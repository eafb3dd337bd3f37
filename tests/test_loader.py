"""Loading cycle definitions: every shipped config loads; every malformed one fails in one clear line."""

import re

import pytest

from stages.ground.errors import ConfigError
from stages.definition.loader import load_cycle

from .conftest import MINI, ROOT, write_cycle


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """These cases name each problem by its English words (the Chinese is checked in tests/test_catalogue_lower.py)."""
    monkeypatch.setenv("PLANCYCLE_LANG", "en")


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
    ("empty-file", "", "the file is empty"),
    ("only-comments", "# nothing\n# here\n", "the file is empty"),
    ("broken-yaml", BASE.replace("id: mini\n", "id: [mini\n"), "broken YAML"),
    ("top-level-list", "- a\n- b\n", "the top level is a list, not a mapping"),
    ("missing-title", BASE.replace("title: 测试区规划研究和编制工作\n", ""), "missing key 'title'"),
    ("unknown-key", BASE.replace("district: 测试区\n", "district: 测试区\ndistrct: x\n"), "unknown key 'distrct'"),
    ("wrong-type-version", BASE.replace("version: 1\n", "version: one\n"), "version: input should be a valid integer"),
    ("wrong-type-topic-no", BASE.replace("{no: 2,", "{no: two,"), "topics[1].no"),
    ("bad-id-pattern", BASE.replace("id: mini\n", "id: Mini Cycle\n"), "id: string should match pattern"),
    ("unknown-department", BASE.replace("lead: [区教育局]", "lead: [区体育局]"), "unknown department '区体育局'"),
    ("unknown-coop-department", BASE.replace("cooperating: [区商务委]}", "cooperating: [区财政局]}"),
     "topics[0].cooperating[0]: unknown department '区财政局'"),
    ("unknown-coordinator", BASE.replace("coordinator: 区发改委", "coordinator: 区计委"), "coordinator: unknown department"),
    ("duplicate-topic-no", BASE.replace("{no: 3,", "{no: 2,"), "duplicate topic number 2"),
    ("duplicate-stage", BASE.replace("{id: adoption, name: 审议发布", "{id: drafting, name: 审议发布"),
     "duplicate stage id 'drafting'"),
    ("duplicate-milestone", BASE.replace("{id: midterm, name: 中期", "{id: kickoff, name: 中期"),
     "duplicate milestone id 'kickoff'"),
    ("duplicate-yaml-key", BASE.replace("district: 测试区\n", "district: 测试区\ndistrict: 测试区\n"), "broken YAML"),
    ("unknown-gate", BASE.replace("exit_gate: research-complete}", "exit_gate: research-done}"),
     "unknown gate 'research-done'"),
    ("unknown-stage", BASE.replace("    stage: research\n    title: 形成研究总报告", "    stage: planning\n    title: 形成研究总报告"),
     "unknown stage 'planning'"),
    ("unknown-after", BASE.replace('after: ["topic-01:midterm"]', 'after: ["topic-01:interim"]'),
     "item 'topic-01' has no milestone 'interim'"),
    ("unknown-after-item", BASE.replace('after: ["topic-01:midterm"]', 'after: ["topic-99:midterm"]'),
     "unknown item 'topic-99'"),
    ("dependency-cycle", BASE.replace("{id: kickoff, name: 开题, due: 7月中旬前}",
                                      "{id: kickoff, name: 开题, due: 7月中旬前, after: [closure]}"),
     "dependency cycle"),
    ("bad-phrase", BASE.replace("due: 8月底前}", "due: 八月底左右}"), "is not a deadline phrase"),
    ("outside-window", BASE.replace("due: 10月底前, after", "due: 2020年3月底前, after"),
     "deadline 2020-03-31 (2020年3月底前) is outside stage 'research'"),
    ("offset-unknown-ref", BASE.replace("due: 中期 + 10 个工作日", "due: 评审 + 10 个工作日"), "unknown milestone '评审'"),
    ("gate-n-too-big", BASE.replace("at_least: {n: 2,", "at_least: {n: 5,"),
     "needs 5 of topics but only 3 can reach 'midterm'"),
    ("gate-unknown-milestone", BASE.replace("all: {track: topics, milestone: closure}", "all: {track: topics, milestone: closing}"),
     "no item of track 'topics' has a milestone 'closing'"),
    ("gate-unknown-body", BASE.replace("approval: {body: leading_group,", "approval: {body: mayor,"),
     "unknown approval body 'mayor'"),
    ("gate-self-reference", BASE.replace("all_of: [topics-closed,", "all_of: [research-complete,"),
     "refers to itself"),
    ("gate-no-predicate", BASE.replace("    milestone: \"outline:congress\"\n    automatic: true\n", "    automatic: true\n"),
     "needs exactly one of"),
    ("waits-for-itself", BASE.replace("opens_when: two-midterms}", "opens_when: wrap-gate}")
     + "", "unknown gate 'wrap-gate'"),
    ("overlapping-stages", BASE.replace("window: 2020年, exit_gate", "window: 2019年下半年, exit_gate"),
     "starts 2019-07-01 before stage 'research' ends"),
    ("missing-lifecycle", BASE.replace("  special_plan:\n    name: 专项规划", "  special_plans:\n    name: 专项规划"),
     "no lifecycle 'special_plan'"),
    ("funding-not-one", BASE + "funding:\n  - {milestone: kickoff, share: 0.5, name: a}\n", "funding shares add up to 0.5"),
    ("timeline-unknown", BASE.replace("covers: [topics]", "covers: [topicz]"), "timeline row covers unknown item"),
    ("due-before-predecessor", BASE.replace("{id: midterm, name: 中期, due: 8月底前}", "{id: midterm, name: 中期, due: 7月上旬}"),
     "due 2019-07-10 before topic-01:kickoff, which it waits for, is due (2019-07-20)"),
    ("missing-departments-file", BASE.replace("departments: mini-departments.yaml", "departments: nowhere.yaml"),
     "nowhere.yaml: no such file"),
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
    assert str(err.value).startswith(f"{path}:{expected_line}: topics[2].lead[0]: unknown department '区体育局'")


def test_missing_file():
    with pytest.raises(ConfigError, match="no such file"):
        load_cycle("does/not/exist.yaml")


def test_spec_is_frozen(mini):
    with pytest.raises(Exception):
        mini.items[0].title = "x"
