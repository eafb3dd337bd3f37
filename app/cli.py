"""The ``plancycle`` command line: a thin adapter over ``stages`` (read paths) and ``flows`` (actions).

Owns: parsing arguments, opening the database, printing, exit codes, and the one error boundary (:func:`main`).
Every error a user can cause — a usage mistake, a bad date, an unknown item, a control character in a note, a
missing or odd file, a database URL that does not work — is one line on stderr (a usage mistake also gets its
usage line) and exit code 2, with nothing changed. Anything else is one ``internal error`` line and exit code
70; ``PLANCYCLE_DEBUG=1`` shows its traceback.

Speed: read-only commands (validate, status, inbox, timeline, show, audit, exports) never import Prefect: it
costs ~1.8 s to import. Actions are validated and checked here first (request model, database, run,
departments, items, files) so a refusal answers fast, then run by ``flows.runner.run_action``: through Prefect
when an API is already running, else in this process — never by starting Prefect's embedded server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from stages.ground.errors import PlancycleError

# pydantic would scan every installed package's entry points for plugins on its first model (~15 ms here)
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="plancycle: run a district Five-Year-Plan preparation cycle (前期研究 → 规划编制 → 审议发布).")

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "cycles" / "changning-14th.yaml"
DEFAULT_DB = "sqlite:///plancycle.db"
MAX_CONFIG_BYTES = 2 * 1024 * 1024  # the Changning cycle is 40 KB
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
# attachments are documents a department hands in, never system files
SYSTEM_DIRS = ("/etc", "/proc", "/sys", "/dev", "/boot", "/run", "/var/run")
DRIVERS = {"MySQLdb", "pymysql", "mysql", "psycopg2", "psycopg", "cx_Oracle", "oracledb", "pyodbc", "pymssql",
           "asyncpg", "aiosqlite", "pg8000", "mariadb"}


class State:
    db: str | None = None
    cycle: str | None = None


@app.callback()
def _root(db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL (default: $PLANCYCLE_DATABASE_URL or sqlite:///plancycle.db)"),
          cycle: Optional[str] = typer.Option(None, "--cycle", help="cycle id, when the database holds several runs")):
    State.db = db
    State.cycle = cycle


def _database_url() -> str:
    """--db, else $PLANCYCLE_DATABASE_URL, else sqlite:///plancycle.db; ``postgresql://`` means psycopg 3 when
    that is the PostgreSQL driver installed (SQLAlchemy would look for psycopg2)."""
    raw = State.db or os.environ.get("PLANCYCLE_DATABASE_URL") or DEFAULT_DB
    if raw.startswith("postgresql://") and not _have("psycopg2") and _have("psycopg"):
        return "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


def _checked_url(create: bool = False, write: bool = False):
    """The database URL, checked before any engine is made: it parses, its driver is installed, and a SQLite
    file exists and is one (only ``init`` creates a file, and never on a read-only path)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = _database_url()
    _no_surrogates(raw, "the database URL")
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise PlancycleError(f"cannot read the database URL {raw!r}; use sqlite:///FILE or "
                             "postgresql://USER@HOST/DATABASE") from None
    backend = url.get_backend_name()
    try:
        url.get_dialect()
    except Exception as exc:  # NoSuchModuleError, or the driver's own ModuleNotFoundError
        raise PlancycleError(f"database driver for {backend} is not installed; use sqlite:/// or postgresql://"
                             + (f" ({exc.name} is missing)" if isinstance(exc, ImportError) and exc.name else "")) \
            from None
    if backend == "sqlite" and url.database not in (None, "", ":memory:") and not str(url.database).startswith("file:"):
        _check_sqlite_file(Path(url.database), create=create, write=write)
    return url


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _check_sqlite_file(path: Path, *, create: bool, write: bool) -> None:
    shown = str(path)
    if not path.exists():
        if not create:
            raise PlancycleError(f"no database at {shown}; create one with `plancycle init`")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise PlancycleError(f"cannot create the database {shown}: no folder {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PlancycleError(f"cannot create the database {shown}: the folder {folder} is read-only")
        return
    if path.is_dir():
        raise PlancycleError(f"{shown} is a folder, not a database")
    if not path.is_file():
        raise PlancycleError(f"{shown} is not a regular file, so not a database")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise PlancycleError(f"cannot read the database {shown}: {exc.strerror or exc}") from None
    if head and head != b"SQLite format 3\x00":
        raise PlancycleError(f"{shown} is not a SQLite database (nothing was changed)")
    if (write or create) and not (os.access(path, os.W_OK) and os.access(path.parent if str(path.parent) else ".",
                                                                          os.W_OK)):
        raise PlancycleError(f"the database {shown} is read-only; nothing was changed")


def _engine(create: bool = False, write: bool = False):
    """An engine on the checked URL. Only ``init`` (create=True) runs DDL; the others check the schema read-only."""
    from stages.store.models import create_schema, make_engine

    from stages.store.models import SCHEMA_VERSION, check_schema, schema_version

    url = _checked_url(create=create, write=write)
    engine = make_engine(url.render_as_string(hide_password=False))
    before = schema_version(engine)
    if create:
        create_schema(engine)
    else:
        if before is not None and before < SCHEMA_VERSION:
            check_schema(engine)  # a database of an older plancycle: its named migrations, once, data kept
        _check_schema(engine)
    if before is not None and before < SCHEMA_VERSION:
        _say(f"plancycle: upgraded the database {url.render_as_string(hide_password=True)} from schema {before} to "
             f"{SCHEMA_VERSION}; its data is kept")
    return engine


def _check_schema(engine) -> None:
    """Refuse, in one line and without writing, a database with no run or from an older plancycle."""
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    insp = inspect(engine)
    tables = set(insp.get_table_names())
    if "cycle_run" not in tables:
        raise PlancycleError("no cycle run in this database; create one with `plancycle init`")
    where = engine.url.render_as_string(hide_password=True)
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in tables:
            raise PlancycleError(f"database {where} was made by an older plancycle: table {table.name} is missing; "
                                 "migrate it or start a new database (nothing was changed)")
        have = {c["name"] for c in insp.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise PlancycleError(f"database {where} was made by an older plancycle: table {table.name} lacks "
                                 f"{', '.join(missing)}; migrate it or start a new database (nothing was changed)")
    from app.fastread import remember_schema

    remember_schema({t.name: [c.name for c in t.columns] for t in SQLModel.metadata.sorted_tables})


def _open_run(session):
    """The run in this database (the one --cycle names) and the spec it was created from."""
    from stages.store.runs import find_run

    run = find_run(session, State.cycle)
    return run, _load_spec(run.spec_path)


from app.fastread import load_spec as _load_spec  # noqa: E402 - the spec cache, shared with the fast read path


def _no_surrogates(value: str, what: str) -> None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise PlancycleError(f"{what} is not valid UTF-8 ({value.encode('utf-8', 'backslashreplace').decode()})")


def _config_file(path: Path) -> Path:
    """A cycle definition to read: a regular, readable file of sane size (not a FIFO, a device or a folder)."""
    shown = str(path).encode("utf-8", "backslashreplace").decode()
    if not path.exists():
        raise PlancycleError(f"{shown}: no such file")
    if path.is_dir():
        raise PlancycleError(f"{shown}: is a folder, not a cycle definition")
    if not path.is_file():
        raise PlancycleError(f"{shown}: not a regular file (a cycle definition is a YAML file)")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise PlancycleError(f"{shown}: {size} bytes; a cycle definition is at most {MAX_CONFIG_BYTES} bytes")
    if not os.access(path, os.R_OK):
        raise PlancycleError(f"{shown}: cannot read it (permission denied)")
    return path


def _as_of(value: Optional[str], flag: str = "--as-of") -> Optional[str]:
    """A date option of a read command, checked here so a bad one is one line (the views take the string)."""
    if value is None:
        return None
    from stages.rules.requests import parse_when

    _request_check(lambda: parse_when(flag.lstrip("-").replace("-", "_"), value))
    return value


def _request_check(fn):
    from pydantic import ValidationError
    from pydantic_core import PydanticCustomError

    from stages.rules.requests import first_error

    try:
        return fn()
    except ValidationError as exc:
        raise PlancycleError(first_error(exc)) from None
    except PydanticCustomError as exc:
        raise PlancycleError(str(exc)) from None


from app.fastread import print_json as _print_json  # noqa: E402


# -- validate / init / status ------------------------------------------------------------------------------------
@app.command()
def validate(path: Path = typer.Argument(..., help="a cycle definition, e.g. config/cycles/changning-14th.yaml"),
             as_json: bool = typer.Option(False, "--json")):
    """Check a cycle definition; exit non-zero with one line per problem."""
    from stages.definition.loader import load_cycle

    from stages.definition.calendar import calendar_for

    spec = load_cycle(_config_file(path))
    reports = sum(1 for i in spec.items if i.kind == "task" and i.milestones and i.milestones[0].period)
    summary = {"ok": True, "cycle": spec.id, "version": spec.version, "schema": spec.file.schema_,
               "stages": [s.id for s in spec.stages],
               "topics": sum(1 for i in spec.items if i.kind == "topic"), "tasks": len(spec.file.tasks),
               "task_items": sum(1 for i in spec.items if i.kind == "task"), "report_items": reports,
               "milestones": sum(len(i.milestones) for i in spec.items), "gates": len(spec.file.gates),
               "indicators": len(spec.file.indicators),
               "optional_milestones": sum(1 for i in spec.items for m in i.milestones if m.optional),
               "departments": len(spec.departments), "warnings": []}
    lo, hi = calendar_for(spec).known_years()
    beyond = sorted({m.due_date.year for i in spec.items for m in i.milestones if m.due_date.year > hi}
                    | ({spec.last_day.year} if spec.last_day.year > hi else set()))
    if beyond:  # valid, but not runnable into those years until their holidays are known
        summary["warnings"].append(
            f"the cycle runs into {'、'.join(map(str, beyond))}, which the working-day calendar does not know yet "
            f"({lo}–{hi}): add each year's holidays and make-up days from the 国务院办公厅 notice to "
            f"{spec.file.calendar or 'a calendar extension (calendar:)'} before the sweep reaches it")
    if as_json:
        _print_json(summary)
    else:
        parts = sum(1 for i in spec.items if i.part_of)
        split = sum(1 for t in spec.file.tasks if t.lead_mode == "each")
        extra = [f"{split} split per lead unit into {parts} items"] if split else []
        extra += [f"+{reports} periodic report items"] if reports else []
        typer.echo(f"{path}: ok — {spec.id} v{spec.version}: {summary['topics']} topics, {summary['tasks']} tasks"
                   + (f" ({'; '.join(extra)})" if extra else "") + f", {summary['milestones']} milestones, "
                   f"{summary['gates']} gates" + (f", {summary['indicators']} indicators" if summary['indicators'] else "")
                   + f", {summary['departments']} departments")
        for w in summary["warnings"]:
            typer.echo(f"warning: {w}")


@app.command()
def init(config: Path = typer.Argument(DEFAULT_CONFIG, help="the cycle definition to run"),
         as_of: Optional[str] = typer.Option(None, "--as-of", help="the run's start (YYYY-MM-DD); default now"),
         as_json: bool = typer.Option(False, "--json"),
         replace: bool = typer.Option(False, "--replace", help="start over: back the database file up, then make it anew"),
         yes: bool = typer.Option(False, "--yes", help="with --replace: do not ask for confirmation")):
    """Create the run for a cycle definition (the only command that creates a database). Again: changes nothing."""
    from sqlmodel import Session

    from stages.ground.clock import now
    from stages.definition.loader import load_cycle
    from stages.rules.requests import parse_when
    from stages.engine import init_run

    when = _request_check(lambda: parse_when("as_of", as_of)) if as_of else now()
    spec = load_cycle(_config_file(config))
    backup = _replace_database(yes) if replace else None
    engine = _engine(create=True)
    with Session(engine) as session:
        out = init_run(session, spec, as_of=when)
        from stages.paperwork.drafting import after

        after(session, spec, out, as_of=when)
        session.commit()
    started = ""
    if out.changed:
        started = (f"; run started {when:%Y-%m-%d %H:%M}" + (" (now: give --as-of YYYY-MM-DD for another day)"
                                                               if not as_of else ""))
    if as_json:
        _print_json({**out.as_dict(), "as_of": when.isoformat() if out.changed else None,
                     "backup": str(backup) if backup else None})
    else:
        if backup:
            typer.echo(f"the previous database is kept as {backup}")
        typer.echo(out.message + started + (f"; {len(out.opened)} milestones open" if out.changed else ""))


def _replace_database(yes: bool):
    """``init --replace``: copy the SQLite file aside (SQLite's online backup, so a consistent copy), then remove
    it. Asks first at a terminal; elsewhere needs ``--yes``. PostgreSQL databases are not dropped from here."""
    import sqlite3

    url = _checked_url(create=True, write=True)
    if url.get_backend_name() != "sqlite":
        raise PlancycleError("--replace works on a SQLite file; for PostgreSQL create a new database and point --db at it")
    path = Path(url.database or "")
    if not url.database or url.database == ":memory:" or not path.exists():
        return None
    if not yes:
        if not sys.stdin.isatty():
            raise PlancycleError("--replace discards the current run: add --yes to confirm (a backup is kept)")
        if not typer.confirm(f"start over in {path}? the current run is kept only in a backup copy", default=False):
            raise PlancycleError("not replaced; nothing changed")
    from stages.ground.clock import now

    backup = path.with_name(f"{path.name}.bak-{now():%Y%m%d-%H%M%S}")
    src = sqlite3.connect(str(path))
    try:
        dst = sqlite3.connect(str(backup))
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()
    return backup


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable board"),
           dept: Optional[str] = typer.Option(None, "--dept", help="only items this department leads or owes"),
           stage: Optional[str] = typer.Option(None, "--stage", help="research / drafting / adoption"),
           late: bool = typer.Option(False, "--late", help="only items with an overdue milestone"),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="the day to judge lights on (default today)")):
    """The board: every item's current milestone, due date, owner and traffic light."""
    from sqlmodel import Session

    from stages.views.board import board

    _as_of(as_of)
    engine = _engine()
    with Session(engine) as session:
        _run, spec = _open_run(session)
        if dept:
            _check_dept(spec, dept)
        if stage and stage not in [s.id for s in spec.stages]:
            raise PlancycleError(f"unknown stage {stage!r} (expected {' / '.join(s.id for s in spec.stages)})")
        data = board(session, spec, as_of, dept=dept, stage=stage, late_only=late)
    if as_json:
        _print_json(data)
        return
    from app.render import print_board

    print_board(data)


@app.command()
def timeline(as_json: bool = typer.Option(False, "--json"), as_of: Optional[str] = typer.Option(None, "--as-of")):
    """Seed 000's 主要工作节点 table from the config and the live state: planned / done / late per quarter."""
    from sqlmodel import Session

    from stages.views.reads import timeline as build

    _as_of(as_of)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = build(session, spec, as_of)
    if as_json:
        _print_json(data)
        return
    from app.render import print_timeline

    print_timeline(data)


@app.command()
def inbox(dept: Optional[str] = typer.Argument(None, help="the department (short name, id or full name)"),
          dept_option: Optional[str] = typer.Option(None, "--dept", help="the same, as an option"),
          as_json: bool = typer.Option(False, "--json"), as_of: Optional[str] = typer.Option(None, "--as-of")):
    """What a department owes, by when, and what was returned and why."""
    from sqlmodel import Session

    from stages.views.reads import inbox as build

    if dept is None and dept_option is None:
        raise PlancycleError("inbox needs the department: plancycle inbox DEPT (or --dept DEPT), DEPT a short name or id")
    if dept is not None and dept_option is not None and dept != dept_option:
        raise PlancycleError(f"inbox takes one department, not {dept!r} and {dept_option!r}")
    dept = dept or dept_option
    _as_of(as_of)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = build(session, spec, dept, as_of)
    if as_json:
        _print_json(data)
        return
    from app.fastread import inbox_lines

    for line in inbox_lines(data):
        typer.echo(line)


@app.command()
def show(item: str, as_json: bool = typer.Option(False, "--json")):
    """One item's history: milestones, submissions, decisions, notices, audit."""
    from sqlmodel import Session

    from stages.views.reads import item_history

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = item_history(session, spec, item)
    if as_json:
        _print_json(data)
        return
    it = data["item"]
    typer.echo(f"{it['key']} {it['title']}  [{it['kind']}, {it['status']}]  牵头：{'、'.join(it['lead'])}"
               + (f"  承接单位：{it['contractor']}（{it['contractor_contact']}）" if it["contractor"] else ""))
    for m in data["milestones"]:
        moved = f" (was {m['original_due']})" if m["original_due"] != m["due"] else ""
        typer.echo(f"  {m['due']}{moved}  {m['name']:<12} {m['status']:<10} {m['owner']}")
    for e in data["audit"]:
        typer.echo(f"  {e['at'][:16]}  {e['actor']:<8} {e['action']:<24} {e['target']}" + (f" — {e['why']}" if e["why"] else ""))
    for n in data["notices"]:
        typer.echo(f"  notice #{n['id']} {n['number'] or ''} {n['title']}")


@app.command("audit")
def audit_cmd(since: Optional[str] = typer.Option(None, "--since", help="YYYY-MM-DD"),
              limit: Optional[int] = typer.Option(None, "--limit"), as_json: bool = typer.Option(False, "--json")):
    """Every submission, decision, notice and override: who, when, what, why."""
    from sqlmodel import Session

    from stages.views.reads import audit

    _as_of(since, "--since")
    if limit is not None and limit < 1:
        raise PlancycleError(f"--limit must be at least 1, not {limit}")
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        rows = audit(session, spec, since, limit)
    if as_json:
        _print_json(rows)
        return
    for e in rows:
        typer.echo(f"{e['at'][:16]}  {e['actor']:<8} {e['action']:<26} {e['target']}" + (f" — {e['why']}" if e["why"] else ""))


export_app = typer.Typer(help="Exports: the 台账 ledger (.xlsx) and the deadlines calendar (.ics).")
app.add_typer(export_app, name="export")


@export_app.command("ledger")
def export_ledger(out: Path = typer.Option(Path("台账.xlsx"), "--out"), dept: Optional[str] = typer.Option(None, "--dept"),
                  as_of: Optional[str] = typer.Option(None, "--as-of")):
    """The 台账 as .xlsx: one row per item and milestone."""
    from sqlmodel import Session

    from app.exports import write_ledger
    from stages.views.reads import ledger_rows

    _as_of(as_of)
    _output_file(out)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        if dept:
            _check_dept(spec, dept)
        rows = ledger_rows(session, spec, as_of, dept)
        typer.echo(str(write_ledger(rows, out, spec.file.title + "台账")))


@export_app.command("ics")
def export_ics(out: Path = typer.Option(Path("deadlines.ics"), "--out"), dept: Optional[str] = typer.Option(None, "--dept"),
               as_of: Optional[str] = typer.Option(None, "--as-of")):
    """Every milestone's deadline as an .ics calendar (optionally one department's)."""
    from sqlmodel import Session

    from app.exports import write_calendar
    from stages.views.board import board
    from stages.ground.clock import as_datetime

    _as_of(as_of)
    _output_file(out)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        if dept:
            _check_dept(spec, dept)
        data = board(session, spec, as_of, dept=dept)
        typer.echo(str(write_calendar(data, out, as_datetime(as_of))))


def _check_dept(spec, dept: str) -> None:
    try:
        spec.department(dept)
    except KeyError:
        raise PlancycleError(f"unknown department {dept!r} (use a short name such as {spec.coordinator.short}, "
                             f"or an id such as {spec.coordinator.id})") from None


def _output_file(out: Path) -> None:
    """Where an export goes: not a folder, and in a folder we may write to."""
    _no_surrogates(str(out), "--out")
    if out.is_dir():
        raise PlancycleError(f"--out {out} is a folder; give a file name")
    folder = out.parent if str(out.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise PlancycleError(f"--out {out}: {folder} is not a folder")
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise PlancycleError(f"--out {out}: cannot write into {folder} (read-only)")
    if out.exists() and not out.is_file():
        raise PlancycleError(f"--out {out} is not a regular file")


# -- actions: each runs its flow (flows.runner: through Prefect when an API runs, else in this process) ------------
def _request(cls, **fields):
    """The action's request model, validated and normalised here: a bad field is one line, before anything else."""
    from pydantic import ValidationError

    from stages.rules.requests import first_error

    try:
        return cls(**fields)
    except ValidationError as exc:
        raise PlancycleError(first_error(exc)) from None


def _common(as_of, key) -> dict:
    return {"as_of": as_of, "key": key, "db": _database_url(), "cycle": State.cycle}


def _attachment(p: str) -> None:
    """An attached file: a regular, readable document of sane size, not a system file."""
    path = Path(p)
    shown = p.encode("utf-8", "backslashreplace").decode()
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        raise PlancycleError(f"cannot attach {shown}: the path cannot be resolved") from None
    if any(str(real) == d or str(real).startswith(d + "/") for d in SYSTEM_DIRS):
        raise PlancycleError(f"cannot attach {shown}: a system file, not a deliverable")
    if not path.exists():
        raise PlancycleError(f"no such file to attach: {shown}")
    if path.is_dir():
        raise PlancycleError(f"cannot attach {shown}: it is a folder (attach the files in it)")
    if not path.is_file():
        raise PlancycleError(f"cannot attach {shown}: not a regular file")
    size = path.stat().st_size
    if size > MAX_ATTACHMENT_BYTES:
        raise PlancycleError(f"cannot attach {shown}: {size / 1048576:.0f} MB; at most "
                             f"{MAX_ATTACHMENT_BYTES // 1048576} MB")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise PlancycleError(f"cannot attach {shown}: {exc.strerror or exc}") from None


def _prepare(req, *, depts=(), items=(), milestone: tuple[str, str] | None = None) -> None:
    """What needs no flow, checked in this process before one runs, so a refusal answers fast and nothing is
    written: attached files, the database (it exists, is one, may be written, has this schema), the run, the
    departments and items named, the milestone."""
    for f in getattr(req, "files", None) or ():  # first: it needs no import at all
        _attachment(f)
    _quick_check(depts, items, milestone)
    from sqlmodel import Session, select

    from stages.store.models import Item, Milestone

    engine = _engine(write=True)
    try:
        with Session(engine) as session:
            run, spec = _open_run(session)
            for d in depts:
                if d and d != "system":
                    _check_dept(spec, d)
            keys = [k for k in items if k]
            if keys:
                known = set(session.exec(select(Item.key).where(Item.run_id == run.id, Item.key.in_(keys))).all())
                for k in keys:
                    if k not in known:
                        raise PlancycleError(f"unknown item {k!r} (see `plancycle status` for the items of this cycle)")
            if milestone:
                item_key, ms = milestone
                rows = session.exec(select(Milestone.ms_id, Milestone.name).where(Milestone.run_id == run.id,
                                                                                  Milestone.item_key == item_key)).all()
                if not any(ms in r for r in rows):
                    raise PlancycleError(f"{item_key} has no milestone {ms!r} (it has: "
                                         + ", ".join(f"{a} {b}" for a, b in rows) + ")")
            _PREPARED[run.spec_path] = spec
    finally:
        engine.dispose()


def _quick_check(depts, items, milestone) -> None:
    """The same checks on a SQLite file through the standard library's sqlite3, read-only, before SQLAlchemy is
    imported (~0.5 s): an unknown department or item is refused in ~0.4 s. Anything unexpected — another
    database, a file that is not one, another schema — is left to the full check that follows."""
    import sqlite3

    raw = _database_url()
    if not raw.startswith("sqlite:///") or "?" in raw or raw in ("sqlite:///", "sqlite:///:memory:"):
        return
    path = Path(raw[len("sqlite:///"):])
    try:
        if not path.is_file():
            return
        con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=1)
    except (OSError, sqlite3.Error, ValueError, UnicodeError):
        return
    try:
        rows = con.execute("SELECT id, spec_id, spec_path FROM cycle_run ORDER BY id").fetchall()
        if State.cycle:
            rows = [r for r in rows if r[1] == State.cycle]
        if len(rows) != 1:
            return
        run_id, _spec_id, spec_path = rows[0]
        spec = _load_spec(spec_path)
        for d in depts:
            if d and d != "system":
                _check_dept(spec, d)
        for k in [k for k in items if k]:
            if con.execute("SELECT 1 FROM item WHERE run_id = ? AND key = ?", (run_id, k)).fetchone() is None:
                raise PlancycleError(f"unknown item {k!r} (see `plancycle status` for the items of this cycle)")
        if milestone:
            item_key, ms = milestone
            found = con.execute("SELECT ms_id, name FROM milestone WHERE run_id = ? AND item_key = ?",
                                (run_id, item_key)).fetchall()
            if found and not any(ms in r for r in found):
                raise PlancycleError(f"{item_key} has no milestone {ms!r} (it has: "
                                     + ", ".join(f"{a} {b}" for a, b in found) + ")")
    except PlancycleError:
        raise
    except Exception:  # noqa: BLE001 - not our schema, locked, …: the full check says what is wrong
        return
    finally:
        con.close()


_PREPARED: dict = {}  # the spec _prepare loaded, handed to the flow's cache when it runs in this process


def _act(name: str, req, as_json: bool) -> None:
    """Run the action ``name`` (a key of flows.actions.ACTIONS) on a checked request and print what it did."""
    from flows.actions import ACTIONS
    from flows.common import remember_spec
    from flows.runner import run_action

    for path, spec in _PREPARED.items():
        remember_spec(path, spec)
    _report(run_action(ACTIONS[name], req), as_json)


def _report(out: dict, as_json: bool) -> None:
    if as_json:
        _print_json(out)
        return
    typer.echo(out.get("message") or f"{out['action']} {out['target']}")
    for label, key in (("opened", "opened"), ("completed", "completed"), ("gate ready", "gates_ready"),
                       ("stage", "stages")):
        if out.get(key):
            typer.echo(f"  {label}: " + ", ".join(out[key]))
    for n in (out.get("data") or {}).get("drafts", []):
        typer.echo(f"  drafted {n['genre']} #{n['id']}: {n['title']} — sign it off with `plancycle notice sign {n['id']}`")
    signed = (out.get("data") or {}).get("notice")
    if signed:
        typer.echo(f"  #{signed['id']} {signed['number'] or '（' + signed['genre'] + '，不编号）'} {signed['title']}")


AS_OF = typer.Option(None, "--as-of", help="when it happened (YYYY-MM-DD or YYYY-MM-DDTHH:MM); default now")
KEY = typer.Option(None, "--key", help="idempotency key (default: a natural key for the request)")
JSON = typer.Option(False, "--json")


def parse_figure(text: str) -> dict:
    """``区级一般公共预算收入=26.3%``, ``重点项目落地=1,190家``, ``=26.3`` (a lone target) → {of, value, unit}; the
    service checks the name and that the unit is the target's."""
    from stages.rules.requests import parse_number

    of, sep, rest = text.rpartition("=")
    if not sep:
        raise PlancycleError(f"--figure {text!r}: expected NAME=NUMBER, e.g. 区级一般公共预算收入=26.3% "
                             "(=26.3 for a milestone's only target)")
    try:
        value, unit = parse_number(rest)
    except ValueError as exc:
        raise PlancycleError(f"--figure {text!r}: {exc}") from None
    return {"of": of.strip(), "value": value, "unit": unit}


@app.command()
def submit(item: str, milestone: str, by: str = typer.Option(..., "--by", help="submitting department"),
           file: list[Path] = typer.Option([], "--file", "-f", help="attach a file (repeatable)"),
           note: Optional[str] = typer.Option(None, "--note"),
           figure: list[str] = typer.Option([], "--figure", help="an actual figure NAME=NUMBER[unit] against a target "
                                                                 "or an indicator (repeatable)"),
           progress: Optional[str] = typer.Option(None, "--progress", help="a report's 进展"),
           problems: Optional[str] = typer.Option(None, "--problems", help="a report's 存在问题"),
           next_steps: Optional[str] = typer.Option(None, "--next", help="a report's 下步安排"),
           as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """A department submits a milestone's deliverable (again after a return), with figures and a report's parts."""
    from stages.rules.requests import SubmitRequest

    report = {k: v for k, v in (("progress", progress), ("problems", problems), ("next", next_steps)) if v}
    req = _request(SubmitRequest, item=item, milestone=milestone, by=by, files=[str(f) for f in file], note=note,
                   figures=[parse_figure(f) for f in figure], report=report or None, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("submit_deliverable", req, as_json)


@app.command()
def review(item: str, milestone: str,
           accept: bool = typer.Option(False, "--accept"), return_: bool = typer.Option(False, "--return"),
           comments: Optional[str] = typer.Option(None, "--comments", help="required with --return"),
           by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
           as_json: bool = JSON):
    """Accept a submitted deliverable, or return it (退回) with comments."""
    if accept == return_:
        raise PlancycleError("review needs exactly one of --accept or --return")
    from stages.rules.requests import ReviewRequest

    req = _request(ReviewRequest, item=item, milestone=milestone, decision="accept" if accept else "return", by=by,
                   comments=comments, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("review_deliverable", req, as_json)


@app.command()
def waive(item: str, milestone: str, reason: str = typer.Option(..., "--reason"),
          by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
          as_json: bool = JSON):
    """Excuse a milestone (免除), with a reason."""
    from stages.rules.requests import WaiveRequest

    req = _request(WaiveRequest, item=item, milestone=milestone, reason=reason, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("waive_milestone", req, as_json)


@app.command()
def trigger(item: str, milestone: str, reason: str = typer.Option(..., "--reason", help="what calls for it"),
            due: Optional[str] = typer.Option(None, "--due", help="its deadline, when the planned one has passed"),
            by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """An optional milestone is needed after all (修改调整 when the 中期评估 calls for it)."""
    from stages.rules.requests import TriggerRequest

    req = _request(TriggerRequest, item=item, milestone=milestone, reason=reason, due=due, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("trigger_milestone", req, as_json)


@app.command()
def approve(body: str = typer.Argument(..., help="an approval body: a key of the cycle file's approval_bodies"),
            subject: str = typer.Argument(..., help="what it approved: the subject a gate's approval names"),
            note: Optional[str] = typer.Option(None, "--note"), by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """Record an approval (e.g. 领导小组同意专项规划立项清单)."""
    from stages.rules.requests import ApproveRequest

    req = _request(ApproveRequest, body=body, subject=subject, note=note, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by])
    _act("record_approval", req, as_json)


@app.command()
def advance(override_reason: Optional[str] = typer.Option(None, "--override-reason",
                                                          help="force a closed gate; the reason is recorded"),
            from_stage: Optional[str] = typer.Option(None, "--from", help="the stage to leave (guards a retry)"),
            by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
            as_json: bool = JSON):
    """Close the current stage and open the next (its gate checked)."""
    from stages.rules.requests import AdvanceRequest

    req = _request(AdvanceRequest, override_reason=override_reason, from_stage=from_stage, by=by,
                   **_common(as_of, key))
    _prepare(req, depts=[req.by])
    _act("advance_stage", req, as_json)


@app.command()
def extend(reason: str = typer.Option(..., "--reason"),
           item: list[str] = typer.Option([], "--item", help="item key (repeatable); default all"),
           milestone: Optional[str] = typer.Option(None, "--milestone"),
           due_from: Optional[str] = typer.Option(None, "--due-from", help="YYYY-MM-DD"),
           due_to: Optional[str] = typer.Option(None, "--due-to", help="YYYY-MM-DD"),
           days: Optional[int] = typer.Option(None, "--days"), workdays: Optional[int] = typer.Option(None, "--workdays"),
           to: Optional[str] = typer.Option(None, "--to", help="new due date YYYY-MM-DD"),
           by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
           as_json: bool = JSON):
    """Move deadlines later, one or in bulk (e.g. every 2020 H1 deadline by 30 days)."""
    from stages.rules.requests import ExtendRequest

    req = _request(ExtendRequest, reason=reason, items=item, milestone=milestone, due_from=_date(due_from, "--due-from"),
                   due_to=_date(due_to, "--due-to"), days=days, workdays=workdays, new_due=_date(to, "--to"),
                   by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=req.items)
    _act("extend_deadlines", req, as_json)


def _date(value: Optional[str], flag: str):
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PlancycleError(f"{flag} must be a date YYYY-MM-DD, not {value!r}") from None


@app.command()
def propose(dept: str, title: str, note: Optional[str] = typer.Option(None, "--note"),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """A department proposes a 专项规划 (立项建议)."""
    from stages.rules.requests import ProposeRequest

    req = _request(ProposeRequest, dept=dept, title=title, note=note, **_common(as_of, key))
    _prepare(req, depts=[req.dept])
    _act("propose_special_plan", req, as_json)


@app.command()
def register(confirm: list[str] = typer.Option([], "--confirm", help="special plan key to confirm (repeatable)"),
             reject: list[str] = typer.Option([], "--reject", help="special plan key not confirmed (repeatable)"),
             reason: Optional[str] = typer.Option(None, "--reason"), by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"),
             as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """立项确认: confirm the special plans the leading group approved."""
    from stages.rules.requests import RegisterRequest

    req = _request(RegisterRequest, confirm=confirm, reject=reject, reason=reason, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[*req.confirm, *req.reject])
    _act("register_special_plans", req, as_json)


@app.command()
def contractor(topic: str, name: str, contact: str = typer.Option(..., "--contact"),
               by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
               as_json: bool = JSON):
    """Record a topic's 承接单位 and contact."""
    from stages.rules.requests import ContractorRequest

    req = _request(ContractorRequest, topic=topic, contractor=name, contact=contact, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.topic])
    _act("assign_contractor", req, as_json)


@app.command()
def correct(item: str, field: str = typer.Option(..., "--field", help="title | contractor | contractor_contact"),
            value: str = typer.Option(..., "--value", help="the corrected text"),
            reason: str = typer.Option(..., "--reason", help="why (recorded in the audit log)"),
            by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """Correct a recorded text — a proposal's title, a topic's 承接单位 or its contact — with a reason (audited)."""
    from stages.rules.requests import CorrectRequest

    req = _request(CorrectRequest, item=item, field=field, value=value, reason=reason, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item])
    _act("correct_record", req, as_json)


@app.command()
def sweep(as_of: Optional[str] = typer.Option(None, "--as-of", help="the day to sweep (default today)"),
          force: bool = typer.Option(False, "--force", help="sweep even on a non-working day"), as_json: bool = JSON):
    """Run the daily deadline sweep now (the schedule runs it at 09:00 on working days)."""
    from stages.ground.clock import as_datetime

    _as_of(as_of)
    _engine(write=True).dispose()
    from flows.runner import run_action
    from flows.schedules import sweep_deadlines

    out = run_action(sweep_deadlines, as_of=as_datetime(as_of), db=_database_url(), force=force)
    if as_json:
        _print_json(out)
    elif out.get("skipped"):
        typer.echo(f"{out['day']}: skipped ({out['skipped']}); --force to sweep anyway")
    else:
        f = out["fired"]
        typer.echo(f"{out['day']}: {out['open']} open milestones — green {out['lights']['green']}, yellow "
                   f"{out['lights']['yellow']}, red {out['lights']['red']}; reminders: advance {f['advance']}, "
                   f"催办 {f['urge']}, 督办 {f['escalate']}; {out.get('messages', 0)} messages queued, "
                   f"{len(out.get('drafts') or [])} 督办通知 drafted"
                   + (f"; caught up {out['missed_workdays_caught_up']} missed working days"
                      if out["missed_workdays_caught_up"] else ""))


@app.command()
def meeting(milestone: str = typer.Argument(..., help="a topic milestone with a meeting: in the cycle file"),
            at: str = typer.Option(..., "--at", help="meeting time YYYY-MM-DDTHH:MM"),
            topic: list[str] = typer.Option([], "--topic", help="topic key (repeatable)"),
            dept: Optional[str] = typer.Option(None, "--dept", help="batch the open topics this department leads"),
            place: Optional[str] = typer.Option(None, "--place"), attendees: Optional[str] = typer.Option(None, "--attendees"),
            by: Optional[str] = typer.Option(None, "--by", help="the department acting (default: the cycle's coordinator)"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
            as_json: bool = JSON):
    """Schedule a 开题 / 中期 / 结题评审 meeting and issue its 通知."""
    from stages.rules.requests import MeetingRequest

    req = _request(MeetingRequest, milestone=milestone, at=at, topics=topic, dept=dept, place=place,
                   attendees=attendees, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by, req.dept], items=req.topics)
    _act("schedule_meeting", req, as_json)


@app.command("notices")
def notices_list(kind: Optional[str] = typer.Option(None, "--kind"), issued: bool = typer.Option(False, "--issued",
                 help="only issued documents"), as_json: bool = JSON):
    """The notices this cycle has issued or recorded."""
    from sqlmodel import Session, select

    from stages.store.models import Notice

    engine = _engine()
    with Session(engine) as session:
        run, _spec = _open_run(session)
        q = select(Notice).where(Notice.run_id == run.id).order_by(Notice.id)
        if kind:
            q = q.where(Notice.kind == kind)
        if issued:
            q = q.where(Notice.status == "issued")
        rows = session.exec(q).all()
        data = [{"id": n.id, "kind": n.kind, "status": n.status, "number": n.doc_number, "title": n.title,
                 "recipients": n.recipients, "about": n.about, "date": n.created_at.date().isoformat(),
                 "checksum": n.checksum, "corrects": n.corrects_id} for n in rows]
    if as_json:
        _print_json(data)
        return
    for n in data:
        typer.echo(f"{n['id']:>5}  {n['date']}  {n['status']:<6}  {n['number'] or '':<16}  "
                   f"{n['title'] or n['kind'] + ' — ' + n['about']}")


notice_app = typer.Typer(help="One document: render, edit or sign it off (签发).")
app.add_typer(notice_app, name="notice")


@notice_app.command("render")
def notice_render(notice_id: int, fmt: str = typer.Option("docx", "--format", help="docx, pdf or md"),
                  out: Path = typer.Option(Path("."), "--out", help="directory to write into")):
    """Render a filed notice again (the same bytes as when it was issued) into DIR."""
    import hashlib

    from sqlmodel import Session

    from stages.paperwork.notices import render_notice

    if fmt not in ("docx", "md", "pdf"):
        raise PlancycleError(f"--format must be docx, pdf or md, not {fmt!r}")
    engine = _engine()
    with Session(engine) as session:
        _open_run(session)
        n, data = render_notice(session, notice_id, fmt)
        name = f"{n.id:05d}-{n.kind}-{(n.doc_number or 'no-number').replace('〔', '(').replace('〕', ')')}.{fmt}"
        stored = n.checksum
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_bytes(data)
    same = fmt != "docx" or hashlib.sha256(data).hexdigest() == stored
    typer.echo(f"{path}" + ("" if same else "  (differs from the filed checksum: the template changed since)"))


def _changes(pairs: list[str]) -> dict:
    out = {}
    for p in pairs or []:
        field, sep, value = p.partition("=")
        if not sep or not field.strip():
            raise PlancycleError(f"--set takes FIELD=TEXT (e.g. contact_person=陈明), not {p!r}")
        out[field.strip()] = value
    return out


SET = typer.Option(None, "--set", help="FIELD=TEXT: place, contact_person, contact_phone, contact_email, "
                                       "contact_address, signer, attendees, extra (repeatable)")


@notice_app.command("edit")
def notice_edit(notice_id: int, sets: Optional[list[str]] = SET, by: Optional[str] = typer.Option(None, "--by"),
                as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """Change a draft's free-text parts before it is signed."""
    from stages.rules.requests import EditDocumentRequest

    changes = _changes(sets or [])
    if not changes:
        raise PlancycleError("nothing to change: give --set FIELD=TEXT")
    req = _request_check(lambda: EditDocumentRequest(notice=notice_id, changes=changes, by=by, **_common(as_of, key)))
    _prepare(req, depts=[req.by])
    _act("edit_document", req, as_json)


@notice_app.command("sign")
def notice_sign(notice_id: int, number: Optional[str] = typer.Option(None, "--number",
                help="the 发文字号 the office's OA gave (default: the register's next number)"),
                sets: Optional[list[str]] = SET, by: Optional[str] = typer.Option(None, "--by"),
                as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """签发: sign a draft off; a numbered genre takes its 发文字号 now."""
    from stages.rules.requests import SignDocumentRequest

    req = _request_check(lambda: SignDocumentRequest(notice=notice_id, number=number, changes=_changes(sets or []),
                                                     by=by, **_common(as_of, key)))
    _prepare(req, depts=[req.by])
    _act("sign_document", req, as_json)


report_app = typer.Typer(help="Reports.")
app.add_typer(report_app, name="report")


@report_app.command("monthly")
def report_monthly(month: Optional[str] = typer.Option(None, "--month", help="YYYY-MM (default: this month, on or after its report day)"),
                   as_of: Optional[str] = AS_OF, as_json: bool = JSON):
    """The monthly progress report (by the 25th), per department and per item."""
    import re

    from stages.ground.clock import as_datetime

    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise PlancycleError(f"--month must be YYYY-MM, not {month!r}")
    _as_of(as_of)
    _engine(write=True).dispose()
    from flows.runner import run_action
    from flows.schedules import monthly_progress_report

    out = run_action(monthly_progress_report, month=month, as_of=as_datetime(as_of) if as_of else None,
                     db=_database_url())
    if as_json:
        _print_json(out)
        return
    for cycle_id, r in out.items():
        if r.get("skipped"):
            typer.echo(f"{cycle_id} {r['month']}: not yet ({r['skipped']})")
            continue
        rep = r["report"]
        t = rep["totals"]
        typer.echo(f"{cycle_id} {rep['month']} (as of {rep['as_of']}): due {t['due']}, arrived {t['arrived']}, late {t['late']}")
        for d in rep["departments"]:
            typer.echo(f"  {d['dept']}: due {d['due']}, arrived {d['arrived']}, late {d['late']}")


@report_app.command("indicators")
def report_indicators(year: int = typer.Option(..., "--year", help="the year reported on, e.g. 2022"),
                      as_of: Optional[str] = typer.Option(None, "--as-of", help="figures recorded up to this day, and "
                                                          "the draft's date (YYYY-MM-DD[THH:MM]); default now"),
                      as_json: bool = JSON):
    """The yearly 《纲要》主要指标监测情况: a draft 报告 (or 简报, per the notice settings), once per year."""
    from sqlmodel import Session

    from stages.ground.clock import as_datetime
    from stages.paperwork.drafting import indicator_report

    _as_of(as_of)
    with Session(_engine(write=True)) as session:
        _run, spec = _open_run(session)
        n, made = indicator_report(session, spec, year, as_of=as_datetime(as_of) if as_of else None)
        session.commit()
        data = {"id": n.id, "kind": n.kind, "genre": n.data.get("genre"), "status": n.status, "number": n.doc_number,
                "title": n.title, "year": year, "drafted": made,
                "counts": {c["label"]: c["n"] for c in n.data.get("counts", [])},
                "warnings": [w["name"] for w in n.data.get("warnings", [])]}
    if as_json:
        _print_json(data)
        return
    if made:
        typer.echo(f"drafted {data['genre']} #{n.id}: {data['title']} — sign it off with `plancycle notice sign {n.id}`")
    else:
        typer.echo(f"already drafted: {data['genre']} #{n.id} ({data['status']}{', ' + data['number'] if data['number'] else ''}): "
                   f"{data['title']}")
    typer.echo("  " + "，".join(f"{k}{v}项" for k, v in data["counts"].items())
               + (f"；预警：{'、'.join(data['warnings'])}" if data["warnings"] else ""))


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="where notices, ledger and calendar go"),
         seed: int = typer.Option(2019, "--seed", help="same seed, same result"),
         db: Optional[str] = typer.Option(None, "--db", help="database URL (default DIR/plancycle-demo.db, made fresh)"),
         until: Optional[str] = typer.Option(None, "--until", help="stop the simulated clock early (YYYY-MM-DD)"),
         web: bool = typer.Option(False, "--web", help="when the simulation ends, serve the console over its database"),
         port: int = typer.Option(8000, "--port", help="with --web"),
         config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="the cycle to simulate (any valid cycle file)")):
    """Run a whole cycle (default: Changning's 14th FYP, 2019-06 … 2021-06) on a simulated clock through the real flows."""
    from rich.console import Console
    from rich.table import Table

    from app.demo import run_demo

    console = Console()
    from stages.definition.loader import load_cycle

    load_cycle(config)  # a file that does not validate is one line and exit 2, before anything is made
    stop = _date(until, "--until") if until else None
    s = run_demo(out, seed, db or State.db, console, stop, config)
    t = Table(title=f"plancycle demo — {s['title']} ({s['cycle']}), seed {seed}", show_header=False,
              title_justify="left")
    t.add_row("cycle complete on", str(s["complete_on"] or f"not complete by {s['last_day']}"))
    t.add_row("items", ", ".join(f"{k} {v}" for k, v in sorted(s["items"].items()))
              + (f" ({s['special_plans_rejected']} special plans not confirmed)" if "special_plan" in s["items"] else ""))
    if s.get("optional_not_triggered") or s.get("figures_reported"):
        t.add_row("figures / optional", f"{s.get('figures_reported', 0)} actual figures reported; "
                                        f"{s.get('optional_not_triggered', 0)} optional milestones never triggered")
    t.add_row("notices issued", f"{s['notices']}: " + ", ".join(f"{k} {v}" for k, v in sorted(s["notices_by_kind"].items())))
    t.add_row("reminders", ", ".join(f"{k} {v}" for k, v in sorted(s["reminders"].items())))
    t.add_row("late / returned", f"{s['items_with_late_submissions']} items delivered something late; "
                                 f"{s['milestones_returned']} milestones returned and resubmitted")
    t.add_row("unfinished milestones", str(s["milestones_unfinished"]))
    for f in s["gates_forced"]:
        t.add_row("gate forced", f"{f['day']}: {f['gate']} (the cycle file allows it: may_force) — {f['reason']}")
    t.add_row("time", f"simulation {s['sim_seconds']} s ({s['flow_runs']} flow runs, {s['flow_seconds']} s in them), "
                      f"export {s['export_seconds']} s")
    t.add_row("outputs", f"{s['notices_dir']} (.docx + .md), {s['ledger']}, {s['calendar']}")
    u = s["users"]
    t.add_row("web console", f"users: {u['coordinator']} (规划科), {u['leader']} (领导), {u['admin']}, and one liaison per "
                             f"department named by its id (e.g. {s['example_user']}; {u['departments']} in all); "
                             f"demo password: {u['password']}")
    console.print(t)
    if web:
        from app.web.server import serve

        db_url = db or State.db or f"sqlite:///{(out / 'plancycle-demo.db').resolve()}"
        day = str(s["complete_on"] or s["last_day"])
        console.print(f"serving the console over {db_url} as of {day}: http://127.0.0.1:{port}/  (Ctrl-C to stop)")
        serve(db_url, "127.0.0.1", port, day)


@app.command()
def serve(limit: Optional[int] = typer.Option(None, "--limit", help="at most this many concurrent runs")):
    """Serve every deployment in prefect.yaml with its schedule (daily sweep 09:00, monthly report) until Ctrl-C."""
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import runner_deployments
    from flows.runner import advertise, withdraw

    if State.db:
        os.environ["PLANCYCLE_DATABASE_URL"] = State.db
    db = _database_url()
    api = PREFECT_API_URL.value()
    started = False
    if not api:
        # the embedded API, started here rather than inside serve() so that its address can be advertised: CLI
        # actions on this database then run their flows on it instead of starting a server of their own
        try:
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()
            api, started = SubprocessASGIServer().api_url, True
        except Exception:  # an internal API of Prefect's that moved: serve as before, without advertising
            api = None
    if not started:
        prefect_serve(*runner_deployments(db=State.db), limit=limit)
        return
    with temporary_settings(updates={PREFECT_API_URL: api}):
        advertise(db, api)
        try:
            prefect_serve(*runner_deployments(db=State.db), limit=limit)
        finally:
            withdraw(db)


# -- the error boundary ---------------------------------------------------------------------------------------------
DEBUG_HINT = "(run with PLANCYCLE_DEBUG=1 for the traceback)"


def _clean(text: str) -> str:
    """One printable line: line breaks folded, bytes that are not UTF-8 shown as escapes."""
    line = " ".join(str(text).replace("\r", "\n").split("\n")).strip()
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


def _say(*lines: str) -> None:
    data = "".join(_clean(line) + "\n" for line in lines)
    try:
        sys.stderr.write(data)
        sys.stderr.flush()
    except UnicodeEncodeError:  # a stderr that cannot take Chinese (LANG=C without UTF-8 mode)
        sys.stderr.buffer.write(data.encode("utf-8", "backslashreplace"))
        sys.stderr.flush()


def _kinds(exc: BaseException) -> set[str]:
    """The class names in an exception's ancestry: click's and typer's own copy of click (typer ≥ 0.29 vendors
    it as typer._click) raise different classes with the same names."""
    return {c.__name__ for c in type(exc).__mro__}


def _usage_line(ctx) -> str:
    try:
        text = ctx.get_usage() if ctx is not None else ""
    except Exception:
        text = ""
    line = " ".join(text.split())
    if not line:
        return "usage: plancycle [--db URL] COMMAND [ARGS]... (plancycle --help for the commands)"
    if line.lower().startswith("usage:"):
        line = "usage:" + line[len("usage:"):]
    return f"{line} (--help for more)"


def _driver_message() -> str:
    try:
        backend = _database_url().split(":", 1)[0].split("+", 1)[0] or "this URL"
    except Exception:
        backend = "this URL"
    return f"database driver for {backend} is not installed; use sqlite:/// or postgresql://"


def _database_message(exc: BaseException) -> str:
    """One line for an error from SQLAlchemy or the database driver."""
    kinds = _kinds(exc)
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    low = text.lower()
    try:
        where = _database_url()
    except Exception:
        where = "the database"
    if "NoSuchModuleError" in kinds:
        return _driver_message()
    if "ArgumentError" in kinds:
        return f"cannot read the database URL {where!r}; use sqlite:///FILE or postgresql://USER@HOST/DATABASE"
    if "readonly database" in low or "read-only" in low or "read only" in low:
        return f"the database {where} is read-only; nothing was changed"
    if "database is locked" in low or "database is busy" in low:
        return f"the database {where} is busy (another plancycle is writing to it); nothing was changed, try again"
    if "file is not a database" in low or "not a database" in low:
        return f"{where} is not a SQLite database (nothing was changed)"
    if "unable to open database file" in low:
        return f"cannot open the database {where} (check the path and its folder's permissions)"
    if "connection" in low or "could not connect" in low or "password authentication" in low:
        return f"cannot connect to the database: {first}"
    return f"database: {first}"


def _explain(exc: BaseException) -> tuple[str, int] | None:
    """(one line, exit code) for an error a user can cause; None for a fault of ours."""
    kinds = _kinds(exc)
    module = type(exc).__module__ or ""
    if isinstance(exc, PlancycleError):
        return f"error: {exc}", 2
    if "ValidationError" in kinds and module.startswith("pydantic"):
        from stages.rules.requests import first_error

        return f"error: {first_error(exc)}", 2
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in DRIVERS:
        return f"error: {_driver_message()}", 2
    if module.startswith(("sqlalchemy", "sqlite3", "psycopg")) or "DBAPIError" in kinds:
        return f"error: {_database_message(exc)}", 2
    if isinstance(exc, OverflowError):
        return f"error: a number or a date is out of range ({exc})", 2
    if isinstance(exc, UnicodeError):
        return "error: an argument, a file name or a file's content is not valid UTF-8 text", 2
    if isinstance(exc, OSError) and exc.filename is not None:
        name = str(exc.filename)
        return f"error: {name}: {exc.strerror or exc}", 2
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"error: {exc.strerror or exc}", 2
    return None


def _handle(exc: BaseException, debug: bool) -> None:
    """Print the one line for ``exc`` (and the usage line for a usage mistake) and exit."""
    kinds = _kinds(exc)
    interrupted = isinstance(exc.__cause__ or exc.__context__, (KeyboardInterrupt, EOFError))
    if (isinstance(exc, typer.Exit) or "Exit" in kinds and "ClickException" not in kinds) and not interrupted:
        sys.exit(getattr(exc, "exit_code", 0) or 0)
    if isinstance(exc, (KeyboardInterrupt, typer.Abort)) or "Abort" in kinds or interrupted:  # typer ≥ 0.29: Exit(130)
        _say("plancycle: aborted")
        sys.exit(130)
    if isinstance(exc, BrokenPipeError):  # `plancycle status | head`: the reader left; nothing to say
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        sys.exit(141)
    if "NoArgsIsHelpError" in kinds:  # `plancycle` or `plancycle export` alone: the help is the answer
        ctx = getattr(exc, "ctx", None)
        text = exc.format_message() if hasattr(exc, "format_message") else ""
        if text.strip():  # (typer's rich help has already printed itself while the error was made)
            sys.stdout.write(text.rstrip("\n") + "\n")
        if ctx is None or ctx.parent is None:
            sys.exit(0)
        _say(f"plancycle: error: missing command: {ctx.command_path} COMMAND")
        sys.exit(2)
    if "UsageError" in kinds:
        msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _say(_usage_line(getattr(exc, "ctx", None)), f"plancycle: error: {msg}")
        sys.exit(2)
    if "ClickException" in kinds:
        msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _say(f"plancycle: error: {msg}")
        sys.exit(getattr(exc, "exit_code", 1) or 1)
    explained = _explain(exc)
    if debug:
        import traceback

        traceback.print_exception(exc)
    if explained is not None:
        line, code = explained
        _say(f"plancycle: {line}")
        sys.exit(code)
    msg = (str(exc).strip().splitlines() or [""])[0]
    _say(f"plancycle: internal error: {type(exc).__name__}: {msg[:300]} {DEBUG_HINT}")
    sys.exit(70)


from app import cli_web  # noqa: E402 - the console's commands: user add/list/disable/passwd/import, web

cli_web.register(app, engine=lambda: _engine(write=True), state=State)
__import__("app.cli_messages").cli_messages.register(app, engine=_engine, url=_database_url, state=State)  # plancycle messages
__import__("app.cli_config").cli_config.register(app, engine=_engine, url=_database_url, state=State)  # plancycle config …
__import__("app.cli_indicators").cli_indicators.register(app, engine=_engine, url=_database_url, state=State)  # indicators


def main(argv: list[str] | None = None) -> None:
    """The entry point: run one command; every error ends here as one line (see the module's docstring).

    Called as the ``plancycle`` program (no ``argv``), it leaves with ``os._exit`` once its output is flushed,
    unless Prefect was loaded (its event queue flushes at exit): tearing down the interpreter — SQLAlchemy,
    pydantic and a thousand modules — costs ~0.2 s here and does nothing a finished command needs.
    """
    try:
        _main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            _say(str(exc.code))
    if argv is None and "prefect" not in sys.modules:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            code = code or 1
        os._exit(code)
    if code:
        sys.exit(code)


def _main(argv: list[str] | None) -> None:
    # Before anything imports Prefect: its INFO logs and telemetry (which cannot reach out from here anyway)
    # are noise on a command line. Users who want them set these variables themselves.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    debug = os.environ.get("PLANCYCLE_DEBUG", "").strip() not in ("", "0", "false", "no")
    args = sys.argv[1:] if argv is None else list(argv)
    State.db = State.cycle = None
    _PREPARED.clear()
    try:
        from app.fastread import run as fast_read

        if fast_read(args):  # status / inbox / timeline on a SQLite file, without SQLAlchemy (app.fastread)
            return
        command = typer.main.get_command(app)
        rv = command.main(args=args, standalone_mode=False, prog_name="plancycle")
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the boundary: every error becomes one line
        _handle(exc, debug)
        raise  # not reached: _handle exits
    if rv == 130:  # typer ≥ 0.29 turns Ctrl-C into Exit(130), which click returns when not standalone
        _say("plancycle: aborted")
    if isinstance(rv, int) and rv:
        sys.exit(rv)


if __name__ == "__main__":
    main()
