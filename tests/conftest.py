"""Shared fixtures: the shipped and the tiny test cycle, and a fresh in-memory database per test; a cycle file
written beside the test cycle's included files; the CLI run in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from stages.definition.loader import load_cycle
from stages.store.models import create_schema, make_engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHANGNING = ROOT / "config" / "cycles" / "changning-14th.yaml"
MINI = FIXTURES / "mini.yaml"
PUTUO = ROOT / "config" / "cycles" / "putuo-14th-monitoring.yaml"


def write_cycle(folder: Path, text: str | None = None, name: str = "cycle.yaml") -> Path:
    """A cycle file in ``folder`` — ``text``, or mini.yaml itself — with the departments and notice settings the
    test cycles name (mini-departments.yaml, mini-notices.yaml) beside it."""
    import shutil

    for include in ("mini-departments.yaml", "mini-notices.yaml"):
        shutil.copy(FIXTURES / include, folder / include)
    target = folder / name
    target.write_bytes(MINI.read_bytes() if text is None else text.encode("utf-8"))
    return target


def run_main(argv, capsys) -> tuple[int, str, str]:
    """``plancycle ARGV`` in this process: (exit code, stdout, stderr)."""
    from app import cli

    try:
        cli.main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _attachment_store(tmp_path_factory, monkeypatch):
    """Every test's attachments go to a store of its own, never into the working directory."""
    monkeypatch.setenv("PLANCYCLE_FILES", str(tmp_path_factory.mktemp("files")))


@pytest.fixture(scope="session")
def changning():
    return load_cycle(CHANGNING)


@pytest.fixture(scope="session")
def mini():
    return load_cycle(MINI)


@pytest.fixture(scope="session")
def putuo():
    return load_cycle(PUTUO)


@pytest.fixture
def putuo_run(session, putuo):
    """seed 003's monitoring cycle, its run created (and its paperwork drafted) on 2021-03-01."""
    from stages.paperwork.drafting import after
    from stages.engine import init_run

    after(session, putuo, init_run(session, putuo, as_of="2021-03-01"), as_of="2021-03-01")
    session.commit()
    return session


@pytest.fixture
def engine():
    eng = make_engine("sqlite://")
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as s:
        yield s


@pytest.fixture
def mini_run(session, mini):
    from stages.engine import init_run

    init_run(session, mini, as_of="2019-06-01")
    session.commit()
    return session


@pytest.fixture
def changning_run(session, changning):
    from stages.paperwork.drafting import after
    from stages.engine import init_run

    after(session, changning, init_run(session, changning, as_of="2019-06-01"), as_of="2019-06-01")
    session.commit()
    return session
