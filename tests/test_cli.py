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
    (None, "c.yaml: no such file"),  # the CLI's own check (app/cli.py), not yet in the catalogue
    ("id: [broken\n", "c.yaml:2: YAML 格式错误："),
    ("", "c.yaml:1: 文件为空（应为YAML 映射）"),
    ("id: x\nversion: [1]\n", "version"),
    (MINI.read_text(encoding="utf-8").replace("lead: [区教育局]", "lead: [区不存在局]"), "topics[2].lead[0]: 未知部门“区不存在局”"),
])
def test_validate_bad_input_is_one_line(tmp_path, content, message):
    target = tmp_path / "c.yaml"
    if content is not None:
        target.write_text(content, encoding="utf-8")
        (tmp_path / "mini-departments.yaml").write_text((MINI.parent / "mini-departments.yaml").read_text(encoding="utf-8"),
                                                        encoding="utf-8")
        (tmp_path / "mini-notices.yaml").write_text((MINI.parent / "mini-notices.yaml").read_text(encoding="utf-8"),
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
    code = ("import sys; from app import cli\n"
            "try:\n    cli.main(['status', '--json'])\nexcept SystemExit:\n    pass\n"
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


def test_an_action_runs_in_process_without_prefect_or_a_server(tmp_path):
    db = f"sqlite:///{tmp_path / 'p.db'}"
    run("init", MINI, "--as-of", "2019-06-01", db=db, check=0)
    code = ("import sys; from app import cli\n"
            "cli.main(['contractor', 'topic-01', '某研究院', '--contact', '李四 13800000000', '--as-of', '2019-06-25'])\n"
            "sys.stderr.write('PREFECT=' + str(any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules)))")
    env = dict(os.environ, PLANCYCLE_DATABASE_URL=db, PLANCYCLE_FLOWS="auto", PLANCYCLE_RUN_DIR=str(tmp_path / "run"))
    env.pop("PREFECT_API_URL", None)
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "PREFECT=False" in p.stderr, p.stderr
    assert "opened: topic-01:kickoff" in p.stdout
    again = run("contractor", "topic-01", "某研究院", "--contact", "李四 13800000000", "--as-of", "2019-06-25", db=db, check=0)
    assert again.stdout == "此前（2019-06-25 09:00，cli（区发改委））已办理过同一事项，本次未重复办理\n"  # idempotent by its natural key


def test_an_advertised_api_is_found_and_a_stale_one_ignored(tmp_path, monkeypatch):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from flows import runner

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/api/health" else 404)
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, *a):
            pass

    monkeypatch.setenv("PLANCYCLE_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api"
        db = f"sqlite:///{tmp_path / 'x.db'}"
        assert runner.api_for(db) is None
        path = runner.advertise(db, url)
        assert json.loads(path.read_text())["pid"] == os.getpid() and (path.stat().st_mode & 0o777) == 0o600
        assert runner.api_for(db) == url
        assert runner.api_for(f"sqlite:///{tmp_path}/../{tmp_path.name}/x.db") == url  # the same file
        assert runner.api_for(f"sqlite:///{tmp_path / 'other.db'}") is None
        runner.withdraw(db)
        assert not path.exists() and runner.api_for(db) is None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"url": url, "pid": 2**22 + 12345}))  # a process that is gone
        assert runner.api_for(db) is None and not path.exists()
    finally:
        server.shutdown()


def test_plancycle_flows_chooses_the_path(monkeypatch, tmp_path):
    from flows import runner
    from stages.ground.errors import PlancycleError

    calls = []
    monkeypatch.setattr(runner, "run_through_prefect", lambda fn, *a, api_url=None, **k: calls.append(api_url))
    monkeypatch.setenv("PLANCYCLE_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    def body(x):
        return {"x": x}

    monkeypatch.setenv("PLANCYCLE_FLOWS", "auto")
    assert runner.run_action(body, 1) == {"x": 1} and calls == []
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    runner.run_action(body, 1)
    assert calls == ["http://127.0.0.1:9/api"]
    monkeypatch.setenv("PLANCYCLE_FLOWS", "never")
    assert runner.run_action(body, 2) == {"x": 2} and len(calls) == 1
    monkeypatch.setenv("PLANCYCLE_FLOWS", "always")
    runner.run_action(body, 3)
    assert len(calls) == 2
    monkeypatch.setenv("PLANCYCLE_FLOWS", "sometimes")
    with pytest.raises(PlancycleError, match="^PLANCYCLE_FLOWS 须为 always / auto / never 之一，不能为“sometimes”$"):
        runner.run_action(body, 4)
