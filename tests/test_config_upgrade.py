"""``plancycle config upgrade FILE``: a schema-1 cycle file rewritten in schema 2 by line, comments and layout kept,
the derived roles written out, the same run made from it; refusals change nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from stages.definition import upgrade
from stages.definition.loader import load_cycle

from .conftest import CHANGNING, MINI, ROOT, run_main, skipif, write_cycle


CONFIG = ROOT / "config"




def copy_mini(folder: Path, text: str | None = None, name: str = "mini.yaml") -> Path:
    """mini.yaml (or ``text``) and the files it names, in ``folder``."""
    return write_cycle(folder, text, name)


def copy_shipped(folder: Path, cycle: str) -> Path:
    """A shipped cycle with what it names (../departments.yaml, ../calendar.yaml, ../notices.yaml, ../jingan/)."""
    (folder / "cycles").mkdir()
    for name in ("departments.yaml", "calendar.yaml", "notices.yaml"):
        shutil.copy(CONFIG / name, folder / name)
    shutil.copytree(CONFIG / "jingan", folder / "jingan")
    target = folder / "cycles" / cycle
    shutil.copy(CONFIG / "cycles" / cycle, target)
    return target


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def roles(spec) -> dict:
    out = {}
    for name, lc in spec.lifecycles.items():
        out.update({(name, m.id): m.role for m in lc.milestones if m.role})
    for it in spec.items:
        out.update({(it.key, m.id): m.role for m in it.milestones if m.role})
    return out


def written_roles(spec) -> dict:
    cf = spec.file
    out = {(name, m.id): m.role for name, lc in cf.lifecycles.items() for m in lc.milestones if m.role}
    out.update({(t.id, m.id): m.role for t in cf.tasks for m in t.milestones if m.role})
    return out


def added_and_removed(old: str, new: str) -> tuple[list[str], list[str]]:
    import difflib

    diff = list(difflib.ndiff(old.splitlines(keepends=True), new.splitlines(keepends=True)))
    return [d[2:] for d in diff if d.startswith("+ ")], [d[2:] for d in diff if d.startswith("- ")]


# -- the upgrade -----------------------------------------------------------------------------------------------------
def test_mini_is_upgraded_line_by_line(tmp_path, capsys):
    target = copy_mini(tmp_path)
    old = target.read_text(encoding="utf-8")
    before = load_cycle(target)
    assert before.file.schema_ == 1 and written_roles(before) == {}

    code, out, err = run_main(["config", "upgrade", str(target)], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    name = str(target)
    assert lines[0] == f"{name}:3: added schema: 2"
    assert lines[1].startswith(f"{name}:49: lifecycles.topic.milestones[0] (contractor): role: contractor_choice")
    assert lines[2].startswith(f"{name}:59: lifecycles.special_plan.milestones[1] (registration): role: registration")
    assert lines[3].startswith(f"upgraded {name} to schema 2: 3 change(s)") and lines[3].endswith(f"{name}.bak")
    assert lines[-1].startswith("note: a run is tied to the file's content") and "1 → 2" in lines[-1]
    assert len(lines) == 5

    new = target.read_text(encoding="utf-8")
    added, removed = added_and_removed(old, new)
    assert added == ["schema: 2\n",
                     "      - {id: contractor, name: 确定承接单位, only_for: open_call, due: 2019年6月下旬, role: contractor_choice}\n",
                     "      - {id: registration, name: 立项确认, due: 2019年四季度, owner: coordinator, accept_requires: list-approved, role: registration}\n"]
    assert len(removed) == 2 and all("role" not in r for r in removed)
    assert new.splitlines()[:3] == [old.splitlines()[0], "id: mini", "schema: 2"]  # the comment stays first
    assert (tmp_path / "mini.yaml.bak").read_text(encoding="utf-8") == old

    after = load_cycle(target)
    assert after.file.schema_ == 2
    assert upgrade.compare(before, after) is None
    assert roles(after) == roles(before)
    assert written_roles(after) == {("topic", "contractor"): "contractor_choice", ("special_plan", "registration"): "registration"}
    assert [(m.id, m.due_date) for it in after.items for m in it.milestones] == \
        [(m.id, m.due_date) for it in before.items for m in it.milestones]
    assert files_in(tmp_path) == ["mini-departments.yaml", "mini-notices.yaml", "mini.yaml", "mini.yaml.bak"]  # no temporary file left


def test_a_second_upgrade_changes_nothing(tmp_path, capsys):
    target = copy_mini(tmp_path)
    assert run_main(["config", "upgrade", str(target), "--no-backup"], capsys)[0] == 0
    upgraded = target.read_bytes()
    code, out, err = run_main(["config", "upgrade", str(target)], capsys)
    assert (code, err) == (0, "")
    assert out == f"{target}: already schema 2: nothing to change\n"
    assert target.read_bytes() == upgraded
    assert files_in(tmp_path) == ["mini-departments.yaml", "mini-notices.yaml", "mini.yaml"]


def test_the_shipped_changning_file_gets_its_schema_only(tmp_path, capsys):
    target = copy_shipped(tmp_path, CHANGNING.name)
    old = target.read_text(encoding="utf-8")
    before = load_cycle(target)
    assert before.file.schema_ == 1 and written_roles(before) == roles_by_place(before)  # it names its roles
    code, out, err = run_main(["config", "upgrade", str(target)], capsys)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"{target}:12: added schema: 2"
    assert "1 change(s)" in out and out.splitlines()[-1].startswith("note: ") and "2 → 3" in out
    new = target.read_text(encoding="utf-8")
    assert added_and_removed(old, new) == (["schema: 2\n"], [])
    lines = new.splitlines()
    assert lines[10:12] == ["id: changning-14th", "schema: 2"]
    assert [ln for ln in lines if ln.lstrip().startswith("#")] == [ln for ln in old.splitlines() if ln.lstrip().startswith("#")]
    assert upgrade.compare(before, load_cycle(target)) is None


def roles_by_place(spec) -> dict:
    """The roles as the file places them: on lifecycle milestones and task milestones."""
    out = {}
    for name, lc in spec.lifecycles.items():
        out.update({(name, m.id): m.role for m in lc.milestones if m.role})
    tasks = {t.id for t in spec.file.tasks}
    for it in spec.items:
        if it.key in tasks:
            out.update({(it.key, m.id): m.role for m in it.milestones if m.role})
    return out


def test_an_explicit_schema_1_line_is_turned_into_schema_2(tmp_path, capsys):
    target = copy_shipped(tmp_path, "jingan-15th.yaml")
    old = target.read_text(encoding="utf-8")
    code, out, err = run_main(["config", "upgrade", str(target), "--json"], capsys)
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["changed"] is True and data["from_schema"] == 1 and data["to_schema"] == 2
    assert data["changes"] == [{"line": 5, "path": "schema", "what": "schema: 1 → schema: 2"}]
    assert data["backup"] == f"{target}.bak" and data["note"].startswith("note: ")
    assert added_and_removed(old, target.read_text(encoding="utf-8")) == (["schema: 2\n"], ["schema: 1\n"])


BLOCK = """\
# block style, CRLF line endings and a BOM: each kept as it is
id: block   # the id
version: 3
title: 测试区规划研究和编制工作
district: 测试区
issuer: 测试区发展和改革委员会
departments: mini-departments.yaml
notices: mini-notices.yaml
coordinator: 区发改委
approval_bodies: {leading_group: 领导小组}
stages:
  - {id: research, name: 前期研究, window: 2019年, exit_gate: done}
gates:
  - id: registered
    name: 专项规划全部确认
    all: {track: special_plans, milestone: confirm}
    automatic: true
  - id: done
    name: 完成
    milestone: "wrap-up:close"
lifecycles:
  topic:
    name: 课题
    stage: research
    milestones:
      - name: 确定承接单位   # the name first: the role goes after the id line
        id: 'bid'
        # a comment inside the mapping
        only_for: open_call
        due: 2019年6月下旬
      - id: kickoff
        name: 开题
        due: 7月中旬前
  special_plan:
    name: 专项规划
    stage: research
    milestones:
      - id: proposal
        name: 立项建议
        due: 2019年三季度
      -   id: confirm
          name: 立项确认
          owner: coordinator
          role:           # written, but empty
          due: 2019年四季度
topics:
  - {no: 1, title: 课题一, focus: 重点一, lead: [区发改委]}
tasks:
  - id: wrap-up
    ref: 三、1
    stage: research
    title: 收尾
    lead: [区发改委]
    milestones:
      - {id: close_list,
         name: 专项规划清单确认,
         due: 2019年11月底前,
         completes_when: registered,   # the role goes before the brace
        }
      - {id: close, name: 总结, due: 2019年12月底前}
"""


def test_block_mappings_crlf_and_bom_and_every_role(tmp_path, capsys):
    raw = b"\xef\xbb\xbf" + BLOCK.replace("\n", "\r\n").encode("utf-8")
    target = tmp_path / "block.yaml"
    copy_mini(tmp_path)
    target.write_bytes(raw)
    before = load_cycle(target)
    code, out, err = run_main(["config", "upgrade", str(target)], capsys)
    assert code == 0, err
    assert "role: contractor_choice" in out and "role: registration" in out and "role: special_plan_confirmation" in out
    new = target.read_bytes()
    assert new.startswith(b"\xef\xbb\xbf") and b"\n" not in new.replace(b"\r\n", b"")
    text = new[3:].decode("utf-8").replace("\r\n", "\n")
    assert "id: block   # the id\nschema: 2\nversion: 3\n" in text
    assert "        id: 'bid'\n        role: contractor_choice\n        # a comment inside the mapping\n" in text
    assert "          role: registration           # written, but empty\n" in text
    assert ("         completes_when: registered,   # the role goes before the brace\n"
            "         role: special_plan_confirmation}\n") in text
    after = load_cycle(target)
    assert upgrade.compare(before, after) is None
    assert written_roles(after) == {("topic", "bid"): "contractor_choice", ("special_plan", "confirm"): "registration",
                                    ("wrap-up", "close_list"): "special_plan_confirmation"}
    assert "3 → 4" in out.splitlines()[-1]


def test_dry_run_writes_nothing(tmp_path, capsys):
    target = copy_mini(tmp_path)
    old = target.read_bytes()
    code, out, err = run_main(["config", "upgrade", str(target), "--dry-run"], capsys)
    assert (code, err) == (0, "")
    assert f"{target}:3: added schema: 2" in out and "nothing was written" in out
    assert target.read_bytes() == old
    assert files_in(tmp_path) == ["mini-departments.yaml", "mini-notices.yaml", "mini.yaml"]
    code, out, err = run_main(["config", "upgrade", str(target), "--dry-run", "--json"], capsys)
    data = json.loads(out)
    assert data["changed"] is False and data["dry_run"] is True and len(data["changes"]) == 3
    assert target.read_bytes() == old


# -- refusals: one line, exit 2, the file as it was ---------------------------------------------------------------------
def refused(capsys, argv, fragment):
    code, out, err = run_main(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and "Traceback" not in err, (code, out, err)
    assert lines[0].startswith("plancycle：错误：") and fragment in lines[0], lines[0]


def test_a_file_that_does_not_validate_is_refused(tmp_path, capsys):
    target = copy_mini(tmp_path, MINI.read_text(encoding="utf-8").replace("lead: [区教育局]", "lead: [区不存在局]"))
    old = target.read_bytes()
    refused(capsys, ["config", "upgrade", str(target)], "topics[2].lead[0]: 未知部门“区不存在局”")
    assert target.read_bytes() == old and files_in(tmp_path) == ["mini-departments.yaml", "mini-notices.yaml", "mini.yaml"]


def test_a_missing_file_is_refused(tmp_path, capsys):
    refused(capsys, ["config", "upgrade", str(tmp_path / "nope.yaml")], "nope.yaml: 文件不存在")


def test_a_read_only_file_is_refused(tmp_path, capsys):
    target = copy_mini(tmp_path)
    old = target.read_bytes()
    target.chmod(0o444)
    try:
        refused(capsys, ["config", "upgrade", str(target)], "mini.yaml：无法写入（文件只读）；未作任何修改")
    finally:
        target.chmod(0o644)
    assert target.read_bytes() == old and files_in(tmp_path) == ["mini-departments.yaml", "mini-notices.yaml", "mini.yaml"]


@skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_a_file_in_a_folder_it_cannot_write_is_refused(tmp_path, capsys):
    target = copy_mini(tmp_path)
    tmp_path.chmod(0o555)
    try:
        refused(capsys, ["config", "upgrade", str(target)], "is not writable")
    finally:
        tmp_path.chmod(0o755)


def test_a_symlink_is_refused(tmp_path, capsys):
    target = copy_mini(tmp_path)
    link = tmp_path / "link.yaml"
    link.symlink_to(target.name)
    refused(capsys, ["config", "upgrade", str(link)], f"link.yaml：是符号链接；请升级其指向的文件（{target}）；未作任何修改")
    assert link.is_symlink() and target.read_bytes() == MINI.read_bytes()


def test_another_backup_is_not_overwritten(tmp_path, capsys):
    target = copy_mini(tmp_path)
    (tmp_path / "mini.yaml.bak").write_text("something else\n", encoding="utf-8")
    refused(capsys, ["config", "upgrade", str(target)], "mini.yaml.bak 已存在且内容不同；请将其移走或使用 --no-backup；未作任何修改")
    assert target.read_bytes() == MINI.read_bytes()
    assert run_main(["config", "upgrade", str(target), "--no-backup"], capsys)[0] == 0
    assert (tmp_path / "mini.yaml.bak").read_text(encoding="utf-8") == "something else\n"


def test_a_milestone_it_cannot_edit_safely_is_refused(tmp_path, capsys):
    text = MINI.read_text(encoding="utf-8").replace(
        "      - {id: contractor, name: 确定承接单位, only_for: open_call, due: 2019年6月下旬}\n",
        "      - &bid {id: contractor, name: 确定承接单位, only_for: open_call, due: 2019年6月下旬}\n")
    target = copy_mini(tmp_path, text)
    refused(capsys, ["config", "upgrade", str(target)], "请手工修改（在 lifecycles.topic.milestones[0] 的节点 contractor 写 role: contractor_choice）")
    assert target.read_text(encoding="utf-8") == text


def test_an_upgrade_that_would_change_the_run_is_not_written(tmp_path, capsys, monkeypatch):
    target = copy_mini(tmp_path)
    monkeypatch.setattr(upgrade, "compare", lambda a, b: "items[0].milestones[1].due_date")
    refused(capsys, ["config", "upgrade", str(target)], "mini.yaml：升级后的文本将生成不同的周期（首个差异：items[0].milestones[1].due_date）；未作任何修改")
    assert target.read_bytes() == MINI.read_bytes() and files_in(tmp_path) == ["mini-departments.yaml", "mini-notices.yaml", "mini.yaml"]


def test_a_check_failing_after_the_move_puts_the_old_file_back(tmp_path, capsys, monkeypatch):
    target = copy_mini(tmp_path)
    calls = []

    def compare(a, b):
        calls.append(b.path)
        return None if len(calls) == 1 else "lifecycles.topic"  # the temporary file passes, the moved one not

    monkeypatch.setattr(upgrade, "compare", compare)
    refused(capsys, ["config", "upgrade", str(target)], "mini.yaml：已升级，但将生成不同的周期（首个差异：lifecycles.topic）；已恢复原文件")
    assert target.read_bytes() == MINI.read_bytes()
    assert files_in(tmp_path) == ["mini-departments.yaml", "mini-notices.yaml", "mini.yaml", "mini.yaml.bak"]


# -- what the last line says is what the engine does ---------------------------------------------------------------
def test_a_run_from_the_old_content_needs_the_version_bumped(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLANCYCLE_FLOWS", "never")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    target = copy_mini(tmp_path)
    db = ["--db", f"sqlite:///{tmp_path / 'p.db'}"]
    assert run_main(db + ["init", str(target), "--as-of", "2019-06-01"], capsys)[0] == 0
    code, out, _ = run_main(["config", "upgrade", str(target)], capsys)
    assert code == 0 and "bump its version: 1 → 2" in out.splitlines()[-1]
    move = db + ["contractor", "topic-01", "某研究院", "--contact", "李四 13800000000", "--as-of", "2019-06-25"]
    refused(capsys, move, "mini.yaml 自本周期按版本 1 建立以来已被修改；请提高其版本号（并迁移本周期）或恢复原文件")
    target.write_text(target.read_text(encoding="utf-8").replace("\nversion: 1\n", "\nversion: 2\n"), encoding="utf-8")
    code, out, err = run_main(move, capsys)
    assert code == 0, err
