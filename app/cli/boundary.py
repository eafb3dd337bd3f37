"""The CLI's one error boundary: every error a user can cause is one line on stderr (a usage mistake also gets
its usage line) and exit code 2, with nothing changed; anything else is one ``internal error`` line and exit code
70 (``PLANCYCLE_DEBUG=1`` shows its traceback)."""

from __future__ import annotations

import os
import sys

import typer

from app.cli.common import PlancycleError, _database_url, _say


DEBUG_HINT = "(run with PLANCYCLE_DEBUG=1 for the traceback)"
DRIVERS = {"MySQLdb", "pymysql", "mysql", "psycopg2", "psycopg", "cx_Oracle", "oracledb", "pyodbc", "pymssql",
           "asyncpg", "aiosqlite", "pg8000", "mariadb"}


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
