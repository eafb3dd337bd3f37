"""The command line as a user meets it: exit codes, one-line errors, JSON shapes."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import CHANGNING, MINI, ROOT


def run(*args, db=None, check=None):
    env = dict(os.environ)
    if db:
        env["PLANCYCLE_DATABASE_URL"] = db
    proc = subprocess.run([sys.executable, "-m", "app.cli", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def test_validate_the_shipped_config():
    p = run("validate", CHANGNING, check=0)
    assert "ok" in p.stdout and "18 topics" in p.stdout


@pytest.mark.parametrize("content,message", [
    (None, "no such file"),
    ("id: [broken\n", "broken YAML"),
    ("", "the file is empty"),
    ("id: x\nversion: [1]\n", "version"),
    (MINI.read_text(encoding="utf-8").replace("lead: [区教育局]", "lead: [区不存在局]"), "unknown department '区不存在局'"),
])
def test_validate_bad_input_is_one_line(tmp_path, content, message):
    target = tmp_path / "c.yaml"
    if content is not None:
        target.write_text(content, encoding="utf-8")
        (tmp_path / "mini-departments.yaml").write_text((MINI.parent / "mini-departments.yaml").read_text(encoding="utf-8"),
                                                        encoding="utf-8")
    p = run("validate", target)
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr
    assert message in lines[0]


def test_init_then_status_json(tmp_path):
    db = f"sqlite:///{tmp_path / 'p.db'}"
    first = run("init", CHANGNING, "--as-of", "2019-06-01", "--json", db=db, check=0)
    assert json.loads(first.stdout)["changed"] is True
    second = run("init", CHANGNING, "--json", db=db, check=0)
    assert json.loads(second.stdout)["changed"] is False
    data = json.loads(run("status", "--json", "--as-of", "2019-06-05", db=db, check=0).stdout)
    topics = [i for i in data["items"] if i["track"] == "topics"]
    assert len(topics) == 18
    assert {t["no"]: t["lead"] for t in topics}[10] == ["区委组织部", "区人社局"]
    tasks = {i["key"]: i for i in data["items"] if i["track"] == "tasks"}
    assert {"leading-group", "work-plan", "call-for-tender", "topic-research", "special-plan-registration",
            "leaders-survey-2019", "basic-approach", "public-consultation", "proposal-material",
            "leaders-survey-2020", "compilation", "topic-exchange"} <= set(tasks)
    assert tasks["basic-approach"]["ref"] == "三、（一）4"
    for item in data["items"]:
        for m in item["milestones"]:
            assert m["due"] and m["status"] in ("pending", "open")
    assert data["counts"]["items_by_track"]["topics"] == 18
    assert data["counts"]["milestones"] == sum(len(i["milestones"]) for i in data["items"])
    # filters
    late = json.loads(run("status", "--json", "--late", "--as-of", "2019-06-12", db=db, check=0).stdout)
    assert late["items"] and all(any(m["overdue"] for m in i["milestones"]) for i in late["items"])
    dept = json.loads(run("status", "--json", "--dept", "区虹桥办", db=db, check=0).stdout)
    assert [i["key"] for i in dept["items"]] == ["topic-07"]


def test_status_without_a_run_is_one_line(tmp_path):
    p = run("status", db=f"sqlite:///{tmp_path / 'empty.db'}")
    assert p.returncode == 2 and "plancycle init" in p.stderr and "Traceback" not in p.stderr


def test_read_only_commands_do_not_import_prefect(tmp_path):
    db = f"sqlite:///{tmp_path / 'p.db'}"
    run("init", CHANGNING, db=db, check=0)
    code = ("import sys; sys.argv=['plancycle','status','--json']; from app import cli\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('PREFECT=' + str(any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules)))")
    env = dict(os.environ, PLANCYCLE_DATABASE_URL=db)
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "PREFECT=False" in p.stderr


def test_an_older_database_is_refused_in_one_line(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    run("init", CHANGNING, db=f"sqlite:///{db}", check=0)
    con = sqlite3.connect(db)
    con.execute("DROP INDEX ix_milestone_ladder")
    con.execute("ALTER TABLE milestone DROP COLUMN ladder")
    con.commit()
    con.close()
    p = run("status", db=f"sqlite:///{db}")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "made by an older plancycle: table milestone lacks ladder" in p.stderr
