"""Shared fixtures: the shipped and the tiny test cycle, and a fresh in-memory database per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from stages.loader import load_cycle
from stages.models import create_schema, make_engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHANGNING = ROOT / "config" / "cycles" / "changning-14th.yaml"
MINI = FIXTURES / "mini.yaml"


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
    from stages.services import init_run

    init_run(session, mini, as_of="2019-06-01")
    session.commit()
    return session


@pytest.fixture
def changning_run(session, changning):
    from stages.paperwork import after
    from stages.services import init_run

    after(session, changning, init_run(session, changning, as_of="2019-06-01"), as_of="2019-06-01")
    session.commit()
    return session
