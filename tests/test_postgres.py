"""The same engine on PostgreSQL: a throwaway cluster started for this module (skipped, with the reason, where
no PostgreSQL server binaries are installed). What differs from SQLite is exercised: ON CONFLICT inserts and
their row counts, JSON built in SQL, the append-only trigger, sequences of 发文字号."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session, func, select

from stages import engine as sv
from stages.store.models import AuditEvent, DocSequence, Notice, Reminder, create_schema, make_engine
from stages.paperwork import drafting as pw
from stages.engine.sweep import sweep

from .conftest import skip

COORD = "区发改委"


def _pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="module")
def pg_url():
    bindir = _pg_bin()
    if bindir is None:
        skip("no PostgreSQL server binaries (apt-get install postgresql) on this machine",
             missing="PostgreSQL (pg_ctl under /usr/lib/postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip("psycopg is not installed (pip install -e '.[test]')", missing="psycopg (the Python package)")
    root = tempfile.mkdtemp(prefix="plancycle-pg-")
    as_user = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(root, "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(as_user + [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                              "--locale=C.UTF-8"], check=True, capture_output=True)
    subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                              f"-p {port} -k {root} -c listen_addresses=''", "start"], check=True, capture_output=True)
    try:
        url0 = f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}"
        eng = make_engine(url0)
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("CREATE DATABASE plancycle"))
        eng.dispose()
        yield f"postgresql+psycopg://postgres@/plancycle?host={root}&port={port}"
    finally:
        subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow  # a PostgreSQL cluster made and started
def test_the_cycle_runs_on_postgresql(pg_url, changning):
    eng = make_engine(pg_url)
    create_schema(eng)
    with Session(eng) as s:
        sv.init_run(s, changning, as_of="2019-06-01")
        sv.submit(s, changning, item="work-plan", milestone="issued", by=COORD, as_of="2019-06-06")
        sv.review(s, changning, item="work-plan", milestone="issued", decision="accept", by=COORD, as_of="2019-06-10")
        s.commit()
        first = sweep(s, {changning.id: changning}, sv.calendar_for(changning), "2019-06-19")
        made = pw.supervision(s, {changning.id: changning}, sv.calendar_for(changning), "2019-06-19")
        s.commit()
        again = sweep(s, {changning.id: changning}, sv.calendar_for(changning), "2019-06-19")
        s.commit()
        assert first["fired"]["urge"] == 18 and first["fired"]["escalate"] >= 1 and len(made) == 1
        assert again["fired"] == {"advance": 0, "urge": 0, "escalate": 0}
        assert s.exec(select(func.count()).select_from(Reminder)).one() == sum(first["fired"].values())
        assert COORD not in made[0].recipients and made[0].doc_number is None  # a draft until signed
        pw.sign_document(s, changning, notice=made[0].id, by=COORD, as_of="2019-06-19T17:00",
                         changes={"contact_person": "陈明", "contact_phone": "021-22050000"})
        s.commit()
        assert made[0].doc_number == "长发改〔2019〕24号" and s.exec(select(DocSequence.last)).one() == 24
    with eng.connect() as c:
        # the trigger's RAISE EXCEPTION (SQLSTATE P0001, psycopg's RaiseException) reaches SQLAlchemy as a
        # ProgrammingError with its words
        with pytest.raises(ProgrammingError, match=r"^\(psycopg\.errors\.RaiseException\) the audit log is append-only\n"):
            c.execute(text("UPDATE audit_event SET why = 'x'"))
    eng.dispose()
