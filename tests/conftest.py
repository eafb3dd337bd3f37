"""Shared fixtures: the shipped and the tiny test cycle, and a fresh in-memory database per test; a cycle file
written beside the test cycle's included files; the CLI run in this process; the one way a test skips
(:func:`skip`, :func:`skipif`), which ``PLANCYCLE_REQUIRE_ALL=1`` turns into a failure where software is missing."""

from __future__ import annotations

import os
import shutil
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

# Prefect's embedded API (the web console's "prefect" mode) gets 20 s to start by default: too little on a loaded
# machine running the suite on every core.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

# The fast read path keeps parsed specs as pickles in $XDG_CACHE_HOME/plancycle: the tests keep theirs apart from the
# user's (and from another checkout's, whose classes may have moved), one folder for the whole run.
if "PLANCYCLE_TEST_CACHE" not in os.environ:
    import atexit
    import tempfile

    os.environ["PLANCYCLE_TEST_CACHE"] = os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="plancycle-cache-")
    atexit.register(shutil.rmtree, os.environ["PLANCYCLE_TEST_CACHE"], ignore_errors=True)

# -- skips: one way, so that CI can forbid the ones that mean "not installed" ----------------------------------------
# .ci/run sets PLANCYCLE_REQUIRE_ALL=1: there a test that would skip because PostgreSQL, Chromium (and Playwright) or
# LibreOffice / poppler is missing fails instead, naming what is missing, so a CI image without them cannot pass
# quietly. Skips for what no install changes (running as root, a platform without FIFOs) stay skips.
REQUIRE_ALL = os.environ.get("PLANCYCLE_REQUIRE_ALL", "").strip() not in ("", "0")


def skip(reason: str, *, missing: str | None = None):
    """Skip this test (from a test or a fixture), saying why. ``missing`` names the software whose absence is the
    reason: with PLANCYCLE_REQUIRE_ALL set the test fails instead, naming it."""
    if missing and REQUIRE_ALL:
        pytest.fail(f"PLANCYCLE_REQUIRE_ALL is set, and this test needs what is missing here: {missing} ({reason})",
                    pytrace=False)
    pytest.skip(reason)


def skipif(condition: bool, reason: str, *, missing: str | None = None) -> pytest.MarkDecorator:
    """The marker form of :func:`skip`: ``@skipif(condition, reason, missing=...)``."""
    if condition and missing and REQUIRE_ALL:
        return pytest.mark.plancycle_missing(missing=missing, reason=reason)
    return pytest.mark.skipif(condition, reason=reason)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for mark in item.iter_markers("plancycle_missing"):
        skip(mark.kwargs["reason"], missing=mark.kwargs["missing"])


# -- the suite in parallel (pytest-xdist, --dist loadgroup) and its slow part -----------------------------------------
# A module-scoped fixture is made once per worker that runs a test of the module: the tests using an expensive one
# are kept on one worker (xdist_group = the module), and every test on the Prefect harness on one worker (it takes
# ~12 s to start). The module-scoped fixtures that cost nothing worth sharing are not reasons to group.
CHEAP_MODULE_FIXTURES = {"web_files"}
SLOW_MARKERS = ("integration", "browser")  # a Prefect server or Chromium: slow by nature


def pytest_collection_modifyitems(config, items):
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs if info else {}
        if "harness" in defs or item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.xdist_group("prefect"))
        elif any(d[-1].scope == "module" and name not in CHEAP_MODULE_FIXTURES for name, d in defs.items() if d):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))
        if any(item.get_closest_marker(m) for m in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def harness():
    """Prefect's test harness (its own server and database, in a subprocess), once per worker for every test that
    runs real flows; heartbeats off (they cost ~1 s per synchronous run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


_CYCLES: dict[Path, object] = {}


def cycle(path: Path):
    """``load_cycle(path)`` once per session: specs are read, never changed, by the tests."""
    path = Path(path).resolve()
    if path not in _CYCLES:
        _CYCLES[path] = load_cycle(path)
    return _CYCLES[path]


def missing_pdf_tools() -> str | None:
    """What of LibreOffice (soffice) and poppler (pdftoppm, pdftotext) the PDF previews' tests lack, or None."""
    from stages.paperwork import pdf

    lacking = [name for name, found in (("LibreOffice (soffice)", pdf.soffice()),
                                         ("pdftoppm", shutil.which("pdftoppm")),
                                         ("pdftotext", shutil.which("pdftotext"))) if not found]
    return ", ".join(lacking) or None


def write_cycle(folder: Path, text: str | None = None, name: str = "cycle.yaml") -> Path:
    """A cycle file in ``folder`` — ``text``, or mini.yaml itself — with the departments and notice settings the
    test cycles name (mini-departments.yaml, mini-notices.yaml) beside it."""
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
    return cycle(CHANGNING)


@pytest.fixture(scope="session")
def mini():
    return cycle(MINI)


@pytest.fixture(scope="session")
def putuo():
    return cycle(PUTUO)


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
