"""The CLI's fast read path (app.fastread): status / inbox / timeline read with sqlite3 print exactly what the
normal path (SQLAlchemy) prints, for the same database and --as-of; anything unusual falls back to it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlmodel import Session, select

from app import fastread
from app.cli import main
from stages import engine as sv
from stages.store.models import Milestone, create_schema, make_engine

from .conftest import CHANGNING, ROOT


COORD = "区发改委"


@pytest.fixture(scope="module")
def moved_db(tmp_path_factory, changning):
    """The Changning run after a few months of moves of every kind: contractors, submissions, a return and a
    resubmission, proposals, an approval, 立项确认 with a rejection, a forced stage gate, a bulk extension."""
    path = tmp_path_factory.mktemp("fastread") / "p.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    spec = changning
    with Session(engine) as s:
        sv.init_run(s, spec, as_of="2019-06-01")
        s.commit()

        def open_owned():
            return s.exec(select(Milestone).where(Milestone.status == "open", Milestone.owner != COORD)
                          .order_by(Milestone.due_date, Milestone.id)).all()

        topics = [m.item_key for m in s.exec(select(Milestone).where(Milestone.ms_id == "contractor",
                                                                      Milestone.status == "open"))]
        for n, t in enumerate(topics[:6]):
            sv.assign_contractor(s, spec, topic=t, contractor=f"上海社会科学院课题组{n}", contact="课题负责人 13000000000",
                                 by=COORD, as_of="2019-06-20")
        s.commit()
        mine = [(m.item_key, m.ms_id, m.owner) for m in open_owned()][:6]
        for k, (item, ms, owner) in enumerate(mine):
            sv.submit(s, spec, item=item, milestone=ms, by=owner, as_of="2019-07-02", note="按要求报送")
            sv.review(s, spec, item=item, milestone=ms, decision="return" if k % 3 == 0 else "accept", by=COORD,
                      as_of="2019-07-04T15:00", comments="研究框架需细化" if k % 3 == 0 else None)
        s.commit()
        item, ms, owner = mine[3]
        sv.submit(s, spec, item=item, milestone=ms, by=owner, as_of="2019-07-10", note="修改稿")
        for dept, title in (("区商务委", "长宁区商务发展“十四五”规划"), ("区教育局", "长宁区教育改革和发展“十四五”规划"),
                            ("区虹桥办", "长宁区城市更新“十四五”规划")):
            sv.propose(s, spec, dept=dept, title=title, as_of="2019-08-15")
        s.commit()
        sv.approve(s, spec, body="leading_group", subject="special-plan-list", by=COORD, as_of="2019-11-12")
        sv.register(s, spec, confirm=["sp-01", "sp-02"], reject=["sp-03"], by=COORD, as_of="2019-11-19",
                    reason="纳入相关专项规划统筹编制")
        sv.advance(s, spec, by=COORD, as_of="2020-01-06", override_reason="按全市进度要求先行启动规划编制阶段",
                   from_stage="research")
        sv.extend_deadline(s, spec, by=COORD, reason="疫情影响，顺延30天", as_of="2020-02-10",
                           due_from=dt.date(2020, 1, 1), due_to=dt.date(2020, 6, 30), days=30)
        s.commit()
    from app.cli.common import _check_schema

    _check_schema(engine)  # records the tables this code needs, as any normal-path command does
    engine.dispose()
    return f"sqlite:///{path}"


def normal(capsys, monkeypatch, db, *argv):
    monkeypatch.setenv("PLANCYCLE_DATABASE_URL", db)
    monkeypatch.setenv("PLANCYCLE_FAST_READ", "0")
    code = _exit_code(lambda: main(list(argv)))
    out = capsys.readouterr()
    monkeypatch.delenv("PLANCYCLE_FAST_READ")
    return code, out.out, out.err


def fast(capsys, monkeypatch, db, *argv):
    monkeypatch.setenv("PLANCYCLE_DATABASE_URL", db)
    took = fastread.run(list(argv))
    out = capsys.readouterr()
    return took, out.out, out.err


def _exit_code(fn) -> int:
    try:
        fn()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


READS = [
    ("status",), ("status", "--json"), ("status", "--late"), ("status", "--json", "--dept", "区虹桥办"),
    ("status", "--stage", "drafting", "--json"), ("status", "--dept=hqb", "--late", "--json"),
    ("timeline",), ("timeline", "--json"),
    ("inbox", "区虹桥办"), ("inbox", "--json", "区商务委"), ("inbox", "区教育局"), ("inbox", "jyj", "--json"),
]
DAYS = ["2019-07-05", "2019-11-25", "2020-03-02T10:30", "2021-07-01"]


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("argv", READS, ids=" ".join)
def test_fast_path_prints_what_the_normal_path_prints(moved_db, capsys, monkeypatch, argv, day):
    code, want, err = normal(capsys, monkeypatch, moved_db, *argv, "--as-of", day)
    assert code == 0, err
    took, got, _ = fast(capsys, monkeypatch, moved_db, *argv, "--as-of", day)
    assert took, "the fast path was not taken"
    assert got == want


def test_the_returns_are_in_the_inbox(moved_db, capsys, monkeypatch):
    """The database really has what the comparison is about: returned work with its comments, a rejected plan."""
    _code, out, _ = normal(capsys, monkeypatch, moved_db, "status", "--json", "--as-of", "2019-07-05")
    assert '"status": "returned"' in out and '"open_call": true' in out
    _code, out, _ = normal(capsys, monkeypatch, moved_db, "status", "--json", "--as-of", "2020-03-02")
    assert '"override_reason": "按全市进度要求先行启动规划编制阶段"' in out and '"due_version": 2' in out


@pytest.mark.parametrize("argv", [
    ("status", "--dept", "区不存在局"), ("status", "--stage", "nowhere"), ("inbox", "区不存在局"),
    ("status", "--as-of", "2019-02-30"), ("status", "--as-of", "yesterday"), ("timeline", "--as-of", "1999-12-31"),
    ("timeline", "--as-of", "2100-01-01"), ("status", "--as-of", ""), ("status", "--help"), ("inbox",),
    ("inbox", "a", "b"), ("status", "--json", "--json", "--as-of", "2019-07-05"), ("status", "--foo"), ("--cycle", "other", "status"),
    ("status", "--as-of", "20190701"),
])
def test_anything_unusual_is_the_normal_paths_to_answer(moved_db, capsys, monkeypatch, argv):
    """Usage mistakes, bad dates and unknown names: the fast path prints nothing and the normal path (with its
    one-line errors through the error boundary) answers, the same with the fast path on or off."""
    took, out, err = fast(capsys, monkeypatch, moved_db, *argv)
    assert not took and out == "" and err == ""
    code_off = normal(capsys, monkeypatch, moved_db, *argv)
    monkeypatch.setenv("PLANCYCLE_DATABASE_URL", moved_db)
    code_on = _exit_code(lambda: main(list(argv)))
    out = capsys.readouterr()
    assert (code_on, out.out, out.err) == code_off


def test_the_edge_years_of_the_request_models(moved_db, capsys, monkeypatch):
    for day in ("2000-01-01", "2099-12-31"):
        code, want, err = normal(capsys, monkeypatch, moved_db, "timeline", "--json", "--as-of", day)
        took, got, _ = fast(capsys, monkeypatch, moved_db, "timeline", "--json", "--as-of", day)
        assert code == 0 and took and got == want


@pytest.mark.parametrize("kind", ["missing", "not sqlite", "empty", "postgres"])
def test_other_databases_take_the_normal_path(tmp_path, capsys, monkeypatch, kind):
    path = tmp_path / "x.db"
    if kind == "not sqlite":
        path.write_text("hello", encoding="utf-8")
    elif kind == "empty":
        path.write_bytes(b"")
    db = "postgresql://nobody@127.0.0.1:1/none" if kind == "postgres" else f"sqlite:///{path}"
    took, out, err = fast(capsys, monkeypatch, db, "status")
    assert not took and out == err == ""


def test_an_older_schema_is_left_to_the_normal_path(moved_db, tmp_path, capsys, monkeypatch):
    """A database lacking a table this code knows: the normal path refuses it in one line; so must the fast one."""
    import shutil
    import sqlite3

    copy = tmp_path / "old.db"
    shutil.copy(moved_db[len("sqlite:///"):], copy)
    con = sqlite3.connect(copy)
    con.execute("DROP TABLE message")
    con.commit()
    con.close()
    took, out, err = fast(capsys, monkeypatch, f"sqlite:///{copy}", "status")
    assert not took
    code, out, err = normal(capsys, monkeypatch, f"sqlite:///{copy}", "status")
    assert code == 2 and "由旧版 plancycle 建立：缺少表 message；请迁移或新建数据库（未作任何修改）" in err


def test_a_read_imports_no_sqlalchemy_typer_or_prefect(moved_db):
    """As the program runs it: one process, the fast path, and none of the heavy imports."""
    code = ("import sys; from app.fastread import run; "
            "ok = run(sys.argv[1:]); "
            "print(ok, sorted(m for m in ('sqlalchemy', 'sqlmodel', 'typer', 'prefect', 'fastapi') if m in sys.modules),"
            " file=sys.stderr)")
    env = dict(os.environ, PLANCYCLE_DATABASE_URL=moved_db, PYTHONPATH=str(ROOT))
    for argv in (["status", "--as-of", "2019-11-25"], ["inbox", "区虹桥办"], ["timeline", "--json"]):
        p = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0 and p.stderr.strip() == "True []", p.stderr
        assert p.stdout


def test_the_program_prints_the_same_both_ways(moved_db):
    """The real command line, fast path on and off (a subprocess each: rich sizes its tables the same way)."""
    env = dict(os.environ, PLANCYCLE_DATABASE_URL=moved_db, COLUMNS="120")
    outs = []
    for flag in ("1", "0"):
        p = subprocess.run([sys.executable, "-m", "app.cli", "status", "--as-of", "2019-11-25"], cwd=ROOT,
                           env=dict(env, PLANCYCLE_FAST_READ=flag), capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    assert outs[0] == outs[1] and "前期研究" in outs[0].decode()


PROGRAM = "import sys; sys.argv[0] = 'plancycle'; from app.fastread import main; sys.exit(main())"  # the console script


def program(db, *argv, stdout=subprocess.PIPE, fast="1"):
    env = dict(os.environ, PLANCYCLE_DATABASE_URL=db, PLANCYCLE_FAST_READ=fast, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", PROGRAM, *argv], cwd=ROOT, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=120)


@pytest.mark.parametrize("argv,code,says", [
    (("--help",), 0, "Usage: plancycle"), (("status", "--help"), 0, "Usage: plancycle status"),
    (("stauts",), 2, "plancycle：错误：没有命令“stauts”"), (("status", "--as-of", "2019-02-30"), 2, "plancycle：错误：日期无法识别：“2019-02-30”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    (("inbox", "区不存在局"), 2, "plancycle：错误：未知部门：区不存在局（请填写部门简称，如区发改委，或部门编号，如fgw）"), (("status", "--foo"), 2, "plancycle：错误：没有选项 --foo"),
])
def test_the_console_script_leaves_everything_else_to_the_cli(moved_db, argv, code, says):
    """pyproject's `plancycle` is app.fastread:main: help and usage mistakes still reach typer and the CLI's error
    boundary (one line, exit 2), the same as through app.cli."""
    p = program(moved_db, *argv)
    assert p.returncode == code
    text = (p.stdout + p.stderr).decode()
    assert says in text and "Traceback" not in text
    if code:
        assert len(p.stderr.decode().strip().splitlines()) <= 2


@pytest.mark.parametrize("argv", [("inbox", "区商务委", "--as-of", "2019-08-02"), ("status", "--json"),
                                  ("status", "--as-of", "2019-11-25"), ("timeline",)])
def test_a_closed_pipe_ends_the_same_both_ways(moved_db, argv):
    codes = []
    for fast in ("1", "0"):
        r, w = os.pipe()
        os.close(r)
        try:
            p = program(moved_db, *argv, stdout=w, fast=fast)
        finally:
            os.close(w)
        assert b"Traceback" not in p.stderr
        codes.append((p.returncode, p.stderr))
    assert codes[0] == codes[1]
