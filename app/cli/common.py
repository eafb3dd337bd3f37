"""What the CLI's commands share: the root options (``--db``, ``--cycle``) in :class:`State`, the database URL and
its checked engine, the run and its spec, the checks of a file, a date, a department and an output path, one line
on stderr (:func:`_say`), and the options every action takes.

A database is checked before any engine is made (the URL parses, its driver is installed, a SQLite file exists and
is one); only ``init`` creates one. A database of an older plancycle is upgraded by its named migrations, or
refused in one line when it cannot be.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from app.lines import print_json as _print_json
from app.readcache import DEFAULT_DB, remember_schema
from app.readcache import load_spec as _load_spec  # the spec cache, shared with the fast read path
from stages.ground.errors import PlancycleError
from stages.ground.i18n import Msg
from stages.ground.paths import DEFAULT_CYCLE as DEFAULT_CONFIG

# pydantic would scan every installed package's entry points for plugins on its first model (~15 ms here)
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

__all__ = ["DEFAULT_CONFIG", "DEFAULT_DB", "H", "Msg", "PlancycleError", "State", "_print_json", "_load_spec"]


def H(code: str) -> str:
    """A ``--help`` text (``cli.help.*``) in the reader's language as the CLI is built; ``app.cli.main`` renders
    them again in the language of the command line it runs (``--lang``), see :func:`app.cli.retranslate`."""
    return str(Msg(code))


MAX_CONFIG_BYTES = 2 * 1024 * 1024  # the Changning cycle is 40 KB
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
# attachments are documents a department hands in, never system files
SYSTEM_DIRS = ("/etc", "/proc", "/sys", "/dev", "/boot", "/run", "/var/run")


class State:
    db: str | None = None
    cycle: str | None = None


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
    _no_surrogates(raw, Msg("cli.what.db_url"))
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise PlancycleError("cli.db.bad_url", url=repr(raw)) from None
    backend = url.get_backend_name()
    try:
        url.get_dialect()
    except Exception as exc:  # NoSuchModuleError, or the driver's own ModuleNotFoundError
        missing = Msg("cli.db.driver_missing", name=exc.name) if isinstance(exc, ImportError) and exc.name else ""
        raise PlancycleError("cli.db.driver", backend=backend, missing=missing) from None
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
            raise PlancycleError("cli.db.none", path=shown)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise PlancycleError("cli.db.no_folder", path=shown, folder=str(folder))
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PlancycleError("cli.db.folder_read_only", path=shown, folder=str(folder))
        return
    if path.is_dir():
        raise PlancycleError("cli.db.is_folder", path=shown)
    if not path.is_file():
        raise PlancycleError("cli.db.not_file", path=shown)
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise PlancycleError("cli.db.cannot_read", path=shown, reason=exc.strerror or str(exc)) from None
    if head and head != b"SQLite format 3\x00":
        raise PlancycleError("cli.db.not_sqlite", where=shown)
    if (write or create) and not (os.access(path, os.W_OK) and os.access(path.parent if str(path.parent) else ".",
                                                                          os.W_OK)):
        raise PlancycleError("cli.db.read_only", where=shown)


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
        _say(str(Msg("cli.db.upgraded", url=url.render_as_string(hide_password=True), before=before,
                     after=SCHEMA_VERSION)))
    return engine


def _check_schema(engine) -> None:
    """Refuse, in one line and without writing, a database with no run or from an older plancycle."""
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    insp = inspect(engine)
    tables = set(insp.get_table_names())
    if "cycle_run" not in tables:
        raise PlancycleError("cli.db.no_run")
    where = engine.url.render_as_string(hide_password=True)
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in tables:
            raise PlancycleError("cli.db.old_table", where=where, table=table.name)
        have = {c["name"] for c in insp.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise PlancycleError("cli.db.old_columns", where=where, table=table.name, columns=missing)
    remember_schema({t.name: [c.name for c in t.columns] for t in SQLModel.metadata.sorted_tables})


def _open_run(session):
    """The run in this database (the one --cycle names) and the spec it was created from."""
    from stages.store.runs import find_run

    run = find_run(session, State.cycle)
    return run, _load_spec(run.spec_path)


def _no_surrogates(value: str, what: str) -> None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise PlancycleError("cli.not_utf8_value", what=what, value=value.encode("utf-8", "backslashreplace").decode())


def _config_file(path: Path) -> Path:
    """A cycle definition to read: a regular, readable file of sane size (not a FIFO, a device or a folder)."""
    shown = str(path).encode("utf-8", "backslashreplace").decode()
    if not path.exists():
        raise PlancycleError("cli.file.none", path=shown)
    if path.is_dir():
        raise PlancycleError("cli.file.folder", path=shown)
    if not path.is_file():
        raise PlancycleError("cli.file.not_regular", path=shown)
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise PlancycleError("cli.file.too_big", path=shown, size=size, most=MAX_CONFIG_BYTES)
    if not os.access(path, os.R_OK):
        raise PlancycleError("cli.file.unreadable", path=shown)
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


def _check_dept(spec, dept: str) -> None:
    try:
        spec.department(dept)
    except KeyError:
        raise PlancycleError("cli.unknown_dept", dept=repr(dept), short=spec.coordinator.short,
                             id=spec.coordinator.id) from None


def _output_file(out: Path) -> None:
    """Where an export goes: not a folder, and in a folder we may write to."""
    _no_surrogates(str(out), "--out")
    if out.is_dir():
        raise PlancycleError("cli.out.folder", out=str(out))
    folder = out.parent if str(out.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise PlancycleError("cli.out.not_folder", out=str(out), folder=str(folder))
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise PlancycleError("cli.out.read_only", out=str(out), folder=str(folder))
    if out.exists() and not out.is_file():
        raise PlancycleError("cli.out.not_file", out=str(out))


def _date(value: Optional[str], flag: str):
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PlancycleError("cli.bad_date", flag=flag, value=repr(value)) from None


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


AS_OF = typer.Option(None, "--as-of", help=H("cli.help.as_of"))
KEY = typer.Option(None, "--key", help=H("cli.help.key"))
JSON = typer.Option(False, "--json")


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
