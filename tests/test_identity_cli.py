"""The CLI as an adapter of the same authorisation: a lead unit cannot accept its own deliverable, accounts are
managed from the command line, and the audit says who acted for whom."""

from __future__ import annotations

import pytest

import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent


def cli(*args, db, stdin=None, env=None):
    return subprocess.run([sys.executable, "-m", "app.cli", "--db", db, *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=120)


def test_lead_unit_review_refused_and_audit_names_the_actor(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"PLANCYCLE_FILES": str(tmp_path / "files"), "PLANCYCLE_FLOWS": "never"}
    assert cli("init", "--as-of", "2019-06-01", db=db, env=env).returncode == 0
    f = tmp_path / "方案.docx"
    f.write_bytes(b"PK\x03\x04plan")
    p = cli("submit", "topic-07", "plan", "--by", "区虹桥办", "--file", str(f), "--as-of", "2019-06-05", db=db, env=env)
    assert p.returncode == 0, p.stderr
    before = cli("audit", "--json", db=db, env=env).stdout
    p = cli("review", "topic-07", "plan", "--accept", "--by", "区虹桥办", "--as-of", "2019-06-06", db=db, env=env)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr == "plancycle：错误：只有区发改委（规划科）可以审核“topic-07 形成方案”，区虹桥办不能审核\n"
    assert len(p.stderr.strip().splitlines()) == 1
    assert cli("audit", "--json", db=db, env=env).stdout == before  # nothing written
    p = cli("review", "topic-07", "plan", "--accept", "--as-of", "2019-06-06", db=db, env=env)  # the coordinator
    assert p.returncode == 0, p.stderr
    events = {e["action"]: e["actor"] for e in json.loads(cli("audit", "--json", db=db, env=env).stdout)}
    assert events["deliverable.submitted"] == "cli 代 区虹桥办"
    assert events["deliverable.accepted"] == "cli（区发改委）"
    shown = json.loads(cli("show", "topic-07", "--json", db=db, env=env).stdout)
    assert shown["submissions"][0]["files"][0]["name"] == "方案.docx"  # archived by content, the name kept as data


def test_user_commands(tmp_path):
    db = f"sqlite:///{tmp_path / 'u.db'}"
    assert cli("init", "--as-of", "2019-06-01", db=db).returncode == 0
    p = cli("user", "add", "wangke", "--role", "coordinator", "--name", "王科长", "--password-stdin", db=db,
            stdin="a-long-password\n")
    assert p.returncode == 0 and "wangke added" in p.stdout
    p = cli("user", "add", "xx", "--role", "department", "--password-stdin", db=db, stdin="a-long-password\n")
    assert p.returncode == 2 and p.stderr == "plancycle：错误：部门联络员账号须用 --dept 指定所属部门（xx 担任联络员的部门）\n"
    p = cli("user", "add", "y", "--role", "department", "--dept", "区虹桥办", "--password", db=db)
    assert p.returncode == 2 and "Traceback" not in p.stderr  # passwords never as arguments
    csv = tmp_path / "users.csv"
    csv.write_text("username,name,role,dept,password\nhqb,李,department,区虹桥办,abcdefgh1\n"
                   "bad,赵,department,区不存在,abcdefgh2\n", encoding="utf-8")
    p = cli("user", "import", str(csv), db=db)
    assert p.returncode == 2 and "第 3 行：未知部门：区不存在" in p.stderr  # all or nothing
    listed = json.loads(cli("user", "list", "--json", db=db).stdout)
    assert [u["username"] for u in listed] == ["wangke"]
    csv.write_text("username,name,role,dept,password\nhqb,李,department,区虹桥办,abcdefgh1\n", encoding="utf-8")
    assert cli("user", "import", str(csv), db=db).returncode == 0
    assert cli("user", "disable", "hqb", db=db).returncode == 0
    listed = {u["username"]: u for u in json.loads(cli("user", "list", "--json", db=db).stdout)}
    assert listed["hqb"]["disabled"] and listed["hqb"]["dept"] == "区虹桥办"


def test_init_replace_keeps_a_backup_and_asks_first(tmp_path):
    import sqlite3

    db_file = tmp_path / "r.db"
    db = f"sqlite:///{db_file}"
    assert cli("init", "--as-of", "2019-06-01", db=db).returncode == 0
    p = cli("init", "--as-of", "2019-07-01", "--replace", db=db, stdin="")
    assert p.returncode == 2 and "--yes" in p.stderr  # not asked at a terminal: refused, nothing changed
    assert json.loads(cli("audit", "--json", db=db).stdout)[0]["at"].startswith("2019-06-01")
    p = cli("init", "--as-of", "2019-07-01", "--replace", "--yes", "--json", db=db)
    assert p.returncode == 0, p.stderr
    backup = Path(json.loads(p.stdout)["backup"])
    assert json.loads(cli("audit", "--json", db=db).stdout)[0]["at"].startswith("2019-07-01")
    with sqlite3.connect(backup) as old:  # the previous run, whole, in the backup
        assert old.execute("SELECT created_at FROM cycle_run").fetchone()[0].startswith("2019-06-01")
