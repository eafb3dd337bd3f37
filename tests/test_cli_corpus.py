"""A regression corpus of bad command lines: each gets exit code 2, one error line (a usage mistake also its
usage line), no traceback, and leaves the database byte-identical.

Run in-process through the real entry point (``app.cli.main``) against a copy of one small run (the mini
cycle, initialised once as ``plancycle init tests/fixtures/mini.yaml --as-of 2019-06-01``); a handful also
as real subprocesses at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MINI, ROOT, run_main


BAD_BYTES = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what Python makes of a non-UTF-8 argument


# (id, argv, expected fragment of the one error line). "{db}", "{dir}", "{fifo}", "{big}", "{notdb}" are filled in.
CORPUS = [
    # usage mistakes, whatever the typer / click version
    ("typo-command", ["stauts"], "No such command 'stauts'"),
    ("unknown-option", ["status", "--foo"], "No such option: --foo"),
    ("option-of-another-command", ["show", "topic-01", "--as-of", "x"], "No such option: --as-of"),
    ("missing-argument", ["show"], "Missing argument"),
    ("missing-milestone", ["submit", "topic-01"], "Missing argument"),
    ("missing-required-option", ["submit", "topic-03", "kickoff"], "Missing option '--by'"),
    ("not-an-integer", ["extend", "--reason", "疫情", "--days", "abc"], "Invalid value for '--days'"),
    ("option-without-value", ["status", "--dept"], "requires an argument"),
    ("notice-id-not-a-number", ["notice", "render", "abc"], "Invalid value for"),
    ("group-without-command", ["export"], "Missing command"),
    ("review-neither", ["review", "topic-03", "kickoff"], "exactly one of --accept or --return"),
    ("review-both", ["review", "topic-03", "kickoff", "--accept", "--return"], "exactly one of --accept or --return"),
    # dates
    ("as-of-feb-30", ["status", "--as-of", "2019-02-30"], "日期无法识别：“2019-02-30”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("as-of-yesterday", ["status", "--as-of", "yesterday"], "日期无法识别：“yesterday”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("inbox-month-13", ["inbox", "区发改委", "--as-of", "2019-13-01"], "日期无法识别：“2019-13-01”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("timeline-bad-date", ["timeline", "--as-of", "soon"], "日期无法识别：“soon”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("audit-bad-since", ["audit", "--since", "2019-99-01"], "起始日期无法识别：“2019-99-01”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("submit-feb-30", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--as-of", "2019-02-30"],
     "日期无法识别：“2019-02-30”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("submit-year-1999", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--as-of", "1999-06-01"],
     "日期超出范围：1999-06-01不在2000—2099年之间"),
    ("extend-bad-due-from", ["extend", "--reason", "疫情", "--days", "30", "--due-from", "2020-02-30"],
     "--due-from must be a date"),
    ("meeting-hour-25", ["meeting", "kickoff", "--at", "2019-07-12T25:00", "--dept", "区发改委"],
     "会议时间无法识别：“2019-07-12T25:00”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("sweep-bad-date", ["sweep", "--as-of", "2019-02-30"], "日期无法识别：“2019-02-30”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("report-month-13", ["report", "monthly", "--month", "2019-13"], "--month must be YYYY-MM"),
    ("init-bad-date", ["init", str(MINI), "--as-of", "2019-02-30"], "日期无法识别：“2019-02-30”（应为YYYY-MM-DD或YYYY-MM-DDTHH:MM格式的真实日期）"),
    ("submit-before-the-run", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--as-of", "2018-01-01"],
     "办理时间 2018-01-01 09:00 早于本周期建立之日（2019-06-01），未作任何更改"),
    # unknown items, milestones, departments, stages, bodies
    ("unknown-item", ["submit", "topic-99", "kickoff", "--by", "区发改委"], "unknown item 'topic-99'"),
    ("unknown-milestone", ["submit", "topic-03", "nope", "--by", "区教育局"], "has no milestone 'nope'"),
    ("unknown-department", ["submit", "topic-03", "kickoff", "--by", "区不存在局"], "unknown department '区不存在局'"),
    ("status-unknown-dept", ["status", "--dept", "区不存在局"], "unknown department '区不存在局'"),
    ("status-unknown-stage", ["status", "--stage", "nowhere"], "unknown stage 'nowhere'"),
    ("inbox-unknown-dept", ["inbox", "区不存在局"], "未知部门：区不存在局（请填写部门简称，如区发改委，或部门编号，如fgw）"),
    ("show-unknown-item", ["show", "topic-99"], "未知事项：topic-99（可用 plancycle status 查看）"),
    ("propose-unknown-dept", ["propose", "区不存在局", "某某规划"], "unknown department '区不存在局'"),
    ("contractor-unknown-topic", ["contractor", "topic-99", "某研究院", "--contact", "张三"], "unknown item 'topic-99'"),
    ("meeting-unknown-topic", ["meeting", "kickoff", "--at", "2019-07-12T14:30", "--topic", "topic-99"],
     "unknown item 'topic-99'"),
    ("register-unknown-plan", ["register", "--confirm", "sp-99"], "unknown item 'sp-99'"),
    ("extend-unknown-item", ["extend", "--reason", "疫情", "--days", "3", "--item", "topic-99"],
     "unknown item 'topic-99'"),
    ("waive-unknown-milestone", ["waive", "topic-03", "nope", "--reason", "不招标"], "has no milestone 'nope'"),
    ("approve-unknown-body", ["approve", "nobody", "nothing"], "未知审议机构：nobody（应为leading_group、district_congress之一）"),
    ("advance-from-wrong-stage", ["advance", "--from", "drafting"], "不能结束“drafting”阶段：本周期当前处于“research”阶段"),
    ("export-unknown-dept", ["export", "ledger", "--dept", "区不存在局", "--out", "{dir}/l.xlsx"],
     "unknown department '区不存在局'"),
    ("notice-unknown", ["notice", "render", "999", "--out", "{dir}"], "plancycle: error: 没有文件 999（可用 `plancycle notices` 查看）"),
    ("sign-unknown", ["notice", "sign", "999"], "plancycle: error: 本周期没有文件 999（可用 `plancycle notices` 查看）"),
    ("sign-bad-number", ["notice", "sign", "1", "--number", "长发改2019-1", "--set", "contact_person=陈明",
                         "--set", "contact_phone=021-22050000", "--set", "signer=李伟"],
     "N号（填写的是“长发改2019-1”）"),
    ("sign-placeholder", ["notice", "sign", "1"],
     "plancycle: error: 文件暂不能签发：“联系人”、“联系电话”尚未填写或仍为占位内容，请先补充（文件 1）"),
    ("sign-bad-set", ["notice", "sign", "1", "--set", "nonsense"], "--set takes FIELD=TEXT"),
    ("edit-unknown-field", ["notice", "edit", "1", "--set", "title=x"], "plancycle: error: 不能修改“title”（可修改：place、contact_person、"
     "contact_phone、contact_email、contact_address、signer、extra、attendees）"),
    ("unknown-cycle", ["--cycle", "other", "status"], "数据库中没有规划周期 other，请先用 plancycle init CONFIG 建立"),
    ("review-not-submitted", ["review", "topic-03", "kickoff", "--accept"], "“topic-03 开题”当前待报送，不能通过"),
    # numbers and flags out of range
    ("days-overflow", ["extend", "--reason", "疫情", "--days", "99999999"], "天数须在1至3660之间，不能为99999999"),
    ("days-zero", ["extend", "--reason", "疫情", "--days", "0"], "天数须在1至3660之间，不能为0"),
    ("workdays-negative", ["extend", "--reason", "疫情", "--workdays", "-5"], "工作日天数须在1至3660之间，不能为-5"),
    ("notice-format", ["notice", "render", "1", "--format", "odt"], "--format must be docx, pdf or md"),
    ("audit-limit-zero", ["audit", "--limit", "0"], "--limit must be at least 1"),
    ("extend-empty-reason", ["extend", "--reason", "  ", "--days", "3"], "理由不能为空"),
    # files
    ("attach-missing", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--file", "{dir}/nothere.docx"],
     "no such file to attach"),
    ("attach-folder", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--file", "{dir}"], "it is a folder"),
    ("attach-system-file", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--file", "/etc/shadow"],
     "a system file"),
    ("attach-device", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--file", "/dev/zero"], "a system file"),
    ("attach-fifo", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--file", "{fifo}"], "not a regular file"),
    ("attach-too-big", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--file", "{big}"], "at most 50 MB"),
    ("validate-missing", ["validate", "{dir}/nothere.yaml"], "no such file"),
    ("validate-folder", ["validate", "{dir}"], "is a folder"),
    ("validate-fifo", ["validate", "{fifo}"], "not a regular file"),
    ("validate-device", ["validate", "/dev/zero"], "not a regular file"),
    ("validate-too-big", ["validate", "{big}"], "a cycle definition is at most"),
    ("init-config-folder", ["init", "{dir}"], "is a folder"),
    ("export-out-folder", ["export", "ledger", "--out", "{dir}"], "is a folder; give a file name"),
    # --db
    ("db-mysql", ["--db", "mysql://u:p@localhost/plan", "status"], "database driver for mysql is not installed"),
    ("db-unknown-scheme", ["--db", "nosuchdb://x/y", "status"], "database driver for nosuchdb is not installed"),
    ("db-unparsable", ["--db", "::::", "status"], "cannot read the database URL"),
    ("db-missing-file", ["--db", "sqlite:///{dir}/nothere.db", "status"], "no database at"),
    ("db-missing-file-action", ["--db", "sqlite:///{dir}/nothere.db", "propose", "区商务委", "某某规划"], "no database at"),
    ("db-not-a-database", ["--db", "sqlite:///{notdb}", "status"], "is not a SQLite database"),
    ("db-not-a-database-action", ["--db", "sqlite:///{notdb}", "approve", "leading_group", "special-plan-list"],
     "is not a SQLite database"),
    ("db-folder", ["--db", "sqlite:///{dir}", "status"], "is a folder, not a database"),
    ("db-init-no-folder", ["--db", "sqlite:///{dir}/no/such/x.db", "init", str(MINI)], "no folder"),
    ("db-non-utf8-path", ["--db", f"sqlite:///{{dir}}/{BAD_BYTES}.db", "status"], "is not valid UTF-8"),
    ("db-read-only", ["--db", "sqlite:///file:{db}?mode=ro&uri=true", "propose", "区商务委", "某某规划",
                      "--as-of", "2019-07-01"], "is read-only; nothing was changed"),
    ("db-unreachable-postgres", ["--db", "postgresql://u@127.0.0.1:1/plan", "status"], "cannot connect to the database"),
    # control characters, separators and lengths in free text
    ("note-bel", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--note", "按要求\x07报送"],
     "备注含有控制字符（U+0007）"),
    ("comments-esc", ["review", "topic-03", "kickoff", "--return", "--comments", "需细化\x1b[31m"],
     "审核意见含有控制字符（U+001B）"),
    ("title-bel", ["propose", "区商务委", "长宁区\x07规划"], "标题含有控制字符（U+0007）"),
    ("title-line-separator", ["propose", "区商务委", "长宁区\u2028规划"], "标题不能换行（含换行符 U+2028）"),
    ("title-newline", ["propose", "区商务委", "长宁区\n规划"], "标题不能换行（含换行符 U+000A）"),
    ("contractor-bel", ["contractor", "topic-01", "某研究院\x07", "--contact", "张三"], "承接单位含有控制字符（U+0007）"),
    ("contact-nul", ["contractor", "topic-01", "某研究院", "--contact", "张三\x00"], "联系人及联系方式含有控制字符（U+0000）"),
    ("place-esc", ["meeting", "kickoff", "--at", "2019-07-12T14:30", "--dept", "区发改委", "--place", "会议室\x1b"],
     "会议地点含有控制字符（U+001B）"),
    ("attendees-backspace", ["meeting", "kickoff", "--at", "2019-07-12T14:30", "--dept", "区发改委", "--attendees",
                             "张三\x08"], "参会人员含有控制字符（U+0008）"),
    ("reason-del", ["waive", "topic-03", "kickoff", "--reason", "不招标\x7f"], "理由含有控制字符（U+007F）"),
    ("override-csi", ["advance", "--override-reason", "特殊\x9b情况"], "强制推进理由含有控制字符（U+009B）"),
    ("approve-note-c1", ["approve", "leading_group", "special-plan-list", "--note", "同意\x90"],
     "备注含有控制字符（U+0090）"),
    ("title-too-long", ["propose", "区商务委", "长" * 201], "标题不能超过200字（现为201字）"),
    ("note-too-long", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--note", "x" * 4001],
     "备注不能超过4000字（现为4001字）"),
    ("comments-too-long", ["review", "topic-03", "kickoff", "--return", "--comments", "意" * 4001],
     "审核意见不能超过4000字（现为4001字）"),
    ("title-empty", ["propose", "区商务委", "   "], "标题不能为空"),
    # bytes that are not UTF-8
    ("item-not-utf8", ["submit", f"topic-{BAD_BYTES}", "kickoff", "--by", "区教育局"], "事项含有无法识别的字节"),
    ("show-not-utf8", ["show", f"topic-{BAD_BYTES}"], "not valid UTF-8"),
    ("validate-not-utf8-name", ["validate", f"{{dir}}/{BAD_BYTES}.yaml"], "no such file"),
    ("note-not-utf8", ["submit", "topic-03", "kickoff", "--by", "区教育局", "--note", f"说明{BAD_BYTES}"],
     "备注含有无法识别的字节"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One mini run, initialised once through the entry point; each case works on a byte-copy of it."""
    from app import cli

    folder = tmp_path_factory.mktemp("corpus-template")
    db = folder / "tmp.db"
    cli.main(["--db", f"sqlite:///{db}", "init", str(MINI), "--as-of", "2019-06-01"])
    import sqlite3

    con = sqlite3.connect(db)  # fold the WAL into the file so a byte-copy is the whole database
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db


@pytest.fixture
def place(tmp_path, template, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLANCYCLE_FLOWS", "never")  # in-process, whatever PREFECT_API_URL this machine has
    monkeypatch.setenv("PLANCYCLE_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("PLANCYCLE_DEBUG", raising=False)
    db = tmp_path / "tmp.db"
    shutil.copyfile(template, db)
    monkeypatch.setenv("PLANCYCLE_DATABASE_URL", f"sqlite:///{db}")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    big = tmp_path / "big.docx"
    with big.open("wb") as fh:  # sparse: 60 MB long, no disk used
        fh.truncate(60 * 1024 * 1024)
    notdb = tmp_path / "notes.txt"
    notdb.write_text("这不是数据库\n", encoding="utf-8")
    return {"db": str(db), "dir": str(tmp_path), "fifo": str(fifo), "big": str(big), "notdb": str(notdb)}


def listing(folder: str) -> list[str]:
    """The folder's files, less SQLite's -wal / -shm companions (opening a WAL database makes them, empty)."""
    return sorted(n for n in os.listdir(folder) if not n.endswith(("-wal", "-shm")))


def digest(path: str) -> str:
    h = hashlib.sha256()
    for p in (Path(path), Path(path + "-wal")):
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()




def check_refusal(code, out, err, fragment):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err and "Traceback" not in out
    assert code == 2, err
    assert out == ""
    errors = [ln for ln in lines if ln.startswith("plancycle: error: ")]
    assert len(errors) == 1, lines
    assert lines[-1] == errors[0]
    assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("usage: plancycle")), lines
    assert fragment in errors[0], errors[0]


@pytest.mark.parametrize("argv,fragment", [pytest.param(a, f, id=i) for i, a, f in CORPUS])
def test_a_bad_call_is_one_line_and_changes_nothing(argv, fragment, place, capsys):
    argv = [a.format(**place) if "{" in a else a for a in argv]
    before = digest(place["db"])
    files = listing(place["dir"])
    code, out, err = run_main(argv, capsys)
    check_refusal(code, out, err, fragment)
    assert digest(place["db"]) == before
    assert listing(place["dir"]) == files  # no database, export or notice file was created


def test_a_paperwork_refusal_reads_chinese_by_default_and_english_on_request(place, capsys, monkeypatch):
    """签发 refused for a placeholder left: the one line in Chinese, and in English with PLANCYCLE_LANG=en."""
    code, out, err = run_main(["notice", "sign", "1"], capsys)
    check_refusal(code, out, err, "")
    assert err == "plancycle: error: 文件暂不能签发：“联系人”、“联系电话”尚未填写或仍为占位内容，请先补充（文件 1）\n"
    monkeypatch.setenv("PLANCYCLE_LANG", "en")
    code, out, err = run_main(["notice", "sign", "1"], capsys)
    check_refusal(code, out, err, "")
    assert err == ("plancycle: error: document 1 cannot be signed: contact_person (联系人), contact_phone (联系电话) "
                   "are empty or a placeholder; edit it first\n")


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 40 and len({c[0] for c in CORPUS}) == len(CORPUS)


def test_a_read_command_in_an_empty_folder_creates_no_database(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLANCYCLE_DATABASE_URL", raising=False)
    for argv in (["status"], ["inbox", "区发改委"], ["timeline"], ["show", "topic-01"], ["audit"], ["notices"],
                 ["export", "ledger"], ["submit", "topic-01", "kickoff", "--by", "区发改委"]):
        code, out, err = run_main(argv, capsys)
        check_refusal(code, out, err, "no database at plancycle.db; create one with `plancycle init`")
    assert list(tmp_path.iterdir()) == []


def test_init_says_which_date_it_used(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["--db", f"sqlite:///{tmp_path / 'a.db'}", "init", str(MINI)], capsys)
    assert code in (0, None) and err == ""
    assert "run started " in out and "give --as-of YYYY-MM-DD for another day" in out
    code, out, err = run_main(["--db", f"sqlite:///{tmp_path / 'b.db'}", "init", str(MINI), "--as-of", "2019-06-01"],
                              capsys)
    assert "run started 2019-06-01 09:00" in out and "give --as-of" not in out


def test_an_unexpected_error_is_one_internal_line_and_a_traceback_only_when_asked(place, monkeypatch, capsys):
    import stages.views.board

    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(stages.views.board, "board_of", boom)  # what both read paths compute the board with
    code, out, err = run_main(["status"], capsys)
    assert code == 70 and "Traceback" not in err
    assert err.splitlines() == ["plancycle: internal error: RuntimeError: boom (run with PLANCYCLE_DEBUG=1 for the "
                                "traceback)"]
    monkeypatch.setenv("PLANCYCLE_DEBUG", "1")
    code, out, err = run_main(["status"], capsys)
    assert code == 70 and "Traceback" in err and err.splitlines()[-1].startswith("plancycle: internal error:")


def test_ctrl_c_is_aborted(place, monkeypatch, capsys):
    import stages.views.board

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(stages.views.board, "board_of", interrupted)
    code, out, err = run_main(["status"], capsys)
    assert code == 130 and err.strip().splitlines()[-1] == "plancycle: aborted" and "Traceback" not in err


def test_help_is_not_an_error(capsys):
    code, out, err = run_main(["--help"], capsys)
    assert code in (0, None) and "status" in out and err == ""
    code, out, err = run_main([], capsys)
    assert code in (0, None) and "Traceback" not in err


SUBPROCESS = ["typo-command", "unknown-option", "option-of-another-command", "days-overflow", "db-mysql",
              "as-of-feb-30", "title-bel", "item-not-utf8"]


@pytest.mark.parametrize("case", SUBPROCESS)
def test_the_same_through_a_real_process(case, place):
    argv, fragment = next((a, f) for i, a, f in CORPUS if i == case)
    argv = [a.format(**place) if "{" in a else a for a in argv]
    before = digest(place["db"])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "app.cli", *argv], cwd=place["dir"], env=env, capture_output=True,
                          timeout=120)
    err = proc.stderr.decode("utf-8", "backslashreplace")
    check_refusal(proc.returncode, proc.stdout.decode(), err, fragment)
    assert digest(place["db"]) == before
