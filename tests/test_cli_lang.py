"""The command line speaks Chinese by default and English with ``--lang en`` (anywhere on the command line) or
``PLANCYCLE_LANG=en``, on both read paths: the fast one (``app.fastread``, sqlite3 without typer) and the normal
one (``PLANCYCLE_FAST_READ=0``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import MINI, ROOT, run_main

PROGRAM = "import sys; sys.argv[0] = 'plancycle'; from app.fastread import main; sys.exit(main())"  # the console script
DAY = "2019-07-20"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("lang") / "p.db"
    url = f"sqlite:///{path}"
    p = plancycle(url, "init", str(MINI), "--as-of", "2019-06-01")
    assert p.returncode == 0, p.stderr
    assert plancycle(url, "status", fast="0").returncode == 0  # records the schema the fast path checks against
    return url


def plancycle(db, *argv, fast="1", lang=None, debug=False):
    env = {k: v for k, v in os.environ.items() if k != "PLANCYCLE_LANG"}
    env.update(PLANCYCLE_DATABASE_URL=db, PLANCYCLE_FAST_READ=fast, PYTHONPATH=str(ROOT), COLUMNS="200",
               PLANCYCLE_DEBUG="1" if debug else "0")  # with 1, the fast path says when it is not taken
    if lang:
        env["PLANCYCLE_LANG"] = lang
    return subprocess.run([sys.executable, "-c", PROGRAM, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


# the three ways to ask: (extra arguments before the command, after it, PLANCYCLE_LANG)
ENGLISH = [pytest.param((["--lang", "en"], [], None), id="--lang-first"),
           pytest.param(([], ["--lang=en"], None), id="--lang-after"),
           pytest.param(([], [], "en"), id="PLANCYCLE_LANG")]
PATHS = [pytest.param("1", id="fast"), pytest.param("0", id="normal")]


def said(db, argv, fast, how=None, code=0):
    before, after, env = how or ([], [], None)
    p = plancycle(db, *before, *argv, *after, fast=fast, lang=env, debug=code == 0)
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr
    if code == 0 and fast == "1" and argv[0] in ("status", "inbox", "timeline"):
        assert "fast read path not taken" not in p.stderr, p.stderr
    return p


@pytest.mark.parametrize("fast", PATHS)
def test_the_board_in_chinese_by_default_and_in_english_on_request(db, fast):
    zh = said(db, ["status", "--as-of", DAY], fast).stdout
    assert f"截至 {DAY}" in zh and "阶段门未满足：尚缺 " in zh
    for header in ("事项", "名称", "当前节点", "期限", "责任单位", "灯号"):
        assert header in zh
    assert "图例：" in zh and "   节点：绿灯 " in zh and "as of" not in zh and "legend" not in zh
    for how in [p.values[0] for p in ENGLISH]:
        en = said(db, ["status", "--as-of", DAY], fast, how).stdout
        assert f"as of {DAY}" in en and "gate open: " in en
        for header in ("item", "title", "current milestone", "due", "owner", "light"):
            assert header in en
        assert "legend: " in en and "   milestones: green " in en and "图例" not in en


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("how", ENGLISH)
def test_an_inbox_and_the_timeline(db, fast, how):
    data = json.loads(said(db, ["inbox", "区教育局", "--as-of", DAY, "--json"], fast).stdout)
    n = len(data["owes"])
    zh = said(db, ["inbox", "区教育局", "--as-of", DAY], fast).stdout.splitlines()
    assert zh[0] == f"{data['name']}（区教育局）截至 {DAY}：待办 {n} 项"
    en = said(db, ["inbox", "区教育局", "--as-of", DAY], fast, how).stdout.splitlines()
    assert en[0] == f"{data['name']}（区教育局） as of {DAY}: {n} open"
    assert any(line.rstrip().endswith("进行中") for line in zh) and any(line.rstrip().endswith(" open") for line in en)
    zh = said(db, ["timeline", "--as-of", DAY], fast).stdout
    assert f"主要工作节点  截至 {DAY}" in zh and "图例：计 = 计划" in zh
    en = said(db, ["timeline", "--as-of", DAY], fast, how).stdout
    assert f"主要工作节点  as of {DAY}" in en and "legend: 计 = 计划" in en


@pytest.mark.parametrize("how", ENGLISH)
def test_show_a_refusal_and_help(db, how):
    zh = said(db, ["show", "topic-01"], "1").stdout.splitlines()
    assert "  [课题，进行中]  牵头：" in zh[0] and any("节点开始" in line for line in zh)
    en = said(db, ["show", "topic-01"], "1", how).stdout.splitlines()
    assert "  [topic, active]  牵头：" in en[0] and any("milestone.opened" in line for line in en)
    for fast in ("1", "0"):
        zh = said(db, ["status", "--stage", "nowhere"], fast, code=2).stderr.splitlines()
        assert zh[-1] == "plancycle：错误：未知阶段 'nowhere'（应为 research / drafting / adoption）"
        en = said(db, ["status", "--stage", "nowhere"], fast, how, code=2).stderr.splitlines()
        assert en[-1] == "plancycle: error: unknown stage 'nowhere' (expected research / drafting / adoption)"
    zh = said(db, ["status", "--help"], "1").stdout
    assert "工作看板：每个事项的当前节点、期限、责任单位和红黄绿灯。" in zh and "只列有逾期节点的事项" in zh
    en = said(db, ["status", "--help"], "1", how).stdout
    assert "The board: every item's current milestone, due date, owner and traffic light." in en
    assert "only items with an overdue milestone" in en and "工作看板" not in en


def test_a_usage_mistake_in_both_languages(db):
    zh = said(db, ["stauts"], "1", code=2).stderr.splitlines()
    assert zh == ["用法：plancycle [OPTIONS] COMMAND [ARGS]...（--help 查看详细说明）",
                  "plancycle：错误：没有命令“stauts”（是否要用 'status'？）"]
    en = said(db, ["stauts"], "1", (["--lang", "en"], [], None), code=2).stderr.splitlines()
    assert en == ["usage: plancycle [OPTIONS] COMMAND [ARGS]... (--help for more)",
                  "plancycle: error: No such command 'stauts'. Did you mean 'status'?"]
    p = plancycle(db, "--lang", "fr", "status")
    assert p.returncode == 2 and p.stderr.splitlines()[-1] == "plancycle：错误：--lang 只能是 zh 或 en，不能是 'fr'"


def test_in_one_process_each_command_line_has_its_own_language(capsys, monkeypatch):
    """``app.cli.main`` called again in the same process (the help texts were rendered when it was imported)."""
    monkeypatch.delenv("PLANCYCLE_LANG", raising=False)
    code, out, err = run_main(["--lang", "en", "--help"], capsys)
    assert code in (0, None) and "plancycle: run a district Five-Year-Plan preparation cycle" in out
    code, out, err = run_main(["--help"], capsys)
    assert code in (0, None) and "plancycle：区五年规划编制工作全流程管理" in out
    code, out, err = run_main(["--lang", "en", "export"], capsys)
    assert code == 2 and err.splitlines()[-1] == "plancycle: error: Missing command."
    code, out, err = run_main(["export"], capsys)
    assert code == 2 and err.splitlines()[-1] == "plancycle：错误：缺少子命令"
