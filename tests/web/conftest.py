"""A real web console on 127.0.0.1 over a fresh database, and headless Chromium from Debian's package.

The browser is /usr/bin/chromium (apt's ``chromium``; `.ci/run` installs it), driven by Playwright for Python with
``executable_path``: no browser is ever downloaded. Without it these tests skip and say why.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from ..conftest import skip

CHROMIUM = os.environ.get("PLANCYCLE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "test-pass-2019"
SHOTS = Path(os.environ.get("PLANCYCLE_SCREENSHOTS", "")) if os.environ.get("PLANCYCLE_SCREENSHOTS") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


USERS = (("coord", "coordinator", None, "规划科王科长"), ("hqb", "department", "区虹桥办", "虹桥办李"),
         ("swj", "department", "区商务委", "商务委赵"), ("boss", "leader", None, "分管副区长"))


_TEMPLATES: dict[tuple, Path] = {}  # (as_of, config, users) → a database made once in this process


def make_console_db(path: Path, as_of: str = "2019-06-01", config: Path | None = None, users=USERS) -> str:
    """A fresh database with a run of ``config`` (default Changning's 14th) made on ``as_of``, and ``users``
    (username, role, department, name) whose password is PASSWORD.

    Made once per (as_of, config, users) in a process, then copied to ``path`` (SQLite's backup, page for page):
    each test still gets a database of its own, without the run's creation and four password hashes each time."""
    import sqlite3
    import tempfile

    key = (as_of, str(config), tuple(users))
    if key not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="plancycle-console-db-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _TEMPLATES[key] = _make_console_db(folder / "template.db", as_of, config, users)
    with sqlite3.connect(_TEMPLATES[key]) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{path}"


def _make_console_db(path: Path, as_of: str, config: Path | None, users) -> Path:
    from stages.definition.loader import load_cycle
    from stages.store.models import create_schema, make_engine
    from stages.engine import init_run
    from stages.store.users import add_user

    eng = make_engine(f"sqlite:///{path}")
    create_schema(eng)
    spec = load_cycle(config or Path(__file__).resolve().parents[2] / "config" / "cycles" / "changning-14th.yaml")
    from stages.paperwork.drafting import after

    with Session(eng) as s:
        after(s, spec, init_run(s, spec, as_of=as_of), as_of=as_of)
        for username, role, dept, name in users:
            add_user(s, spec.departments, username=username, role=role, dept=dept, name=name, password=PASSWORD)
        s.commit()
    eng.dispose()
    return path


@pytest.fixture(scope="module")
def web_files(tmp_path_factory):
    return tmp_path_factory.mktemp("web-files")


@pytest.fixture(autouse=True)
def _attachment_store(web_files, monkeypatch):
    """The console's store for every test of the module (the server and the tests see the same folder)."""
    monkeypatch.setenv("PLANCYCLE_FILES", str(web_files))


@pytest.fixture(scope="module")
def console(tmp_path_factory, web_files):
    """(base URL, database URL) of a console serving in a thread of this process, clock fixed at 2019-06-05."""
    import uvicorn

    from app.web.server import create_app

    tmp = tmp_path_factory.mktemp("console")
    os.environ["PLANCYCLE_FILES"] = str(web_files)
    url = make_console_db(tmp / "console.db")
    app = create_app(url, as_of="2019-06-05", flows="direct")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", url
    server.should_exit = True
    t.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)", missing=f"Chromium ({CHROMIUM})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip("playwright (the Python package) is not installed", missing="playwright (the Python package)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def shot(page, name: str) -> None:
    """Screenshots for a person to look at, when PLANCYCLE_SCREENSHOTS names a folder."""
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
