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
    remember_schema({t.name: [c.name for c in t.columns] for t in SQLModel.metadata.sorted_tables})


def _open_run(session):
    """The run in this database (the one --cycle names) and the spec it was created from."""
    from stages.store.runs import find_run

    run = find_run(session, State.cycle)
    return run, _load_spec(run.spec_path)


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


def _date(value: Optional[str], flag: str):
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PlancycleError(f"{flag} must be a date YYYY-MM-DD, not {value!r}") from None


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
