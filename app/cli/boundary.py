"""The CLI's one error boundary: every error a user can cause is one line on stderr (a usage mistake also gets
its usage line) and exit code 2, with nothing changed; anything else is one ``internal error`` line and exit code
70 (``PLANCYCLE_DEBUG=1`` shows its traceback)."""

from __future__ import annotations

import os
import sys

import typer

import re

from app.cli.common import Msg, PlancycleError, _database_url, _say
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
        return str(Msg("cli.usage.default"))
    if line.lower().startswith("usage:"):
        line = line[len("usage:"):].strip()
    return str(Msg("cli.usage.line", usage=line))


_USAGE = [  # click's usage messages (English whatever the language) → the catalogue's
    (re.compile(r"No such command '(.+)'\.?$"), "cli.usage.no_such_command"),
    (re.compile(r"No such option: (\S+?)\.?$"), "cli.usage.no_such_option"),
    (re.compile(r"Missing argument '(.+)'\.?$"), "cli.usage.missing_argument"),
    (re.compile(r"Missing option '(.+)'\.?$"), "cli.usage.missing_option"),
    (re.compile(r"Option '(.+)' requires an argument\.?$"), "cli.usage.requires_value"),
    (re.compile(r"Got unexpected extra argument \((.+)\)$"), "cli.usage.extra_arg"),
    (re.compile(r"Missing command\.?()$"), "cli.usage.missing_command"),
    (re.compile(r"Got unexpected extra arguments \((.+)\)$"), "cli.usage.extra_args"),
]
_SUGGEST = re.compile(r"\s*Did you mean (.+?)\?$")
_POSSIBLE = re.compile(r"\s*\(Possible options: (.+)\)$")
_INVALID = re.compile(r"Invalid value for '(.+?)': (.+)$", re.S)
_NOT_INT = re.compile(r"'(.*)' is not a valid integer\.?$")


def usage_message(text: str) -> str:
    """A usage mistake's message, in the reader's language (the kinds a user meets; others as click says them)."""
    text = " ".join(text.split())
    hint = ""
    m = _SUGGEST.search(text)
    if m:
        text, hint = text[:m.start()], str(Msg("cli.usage.did_you_mean", names=m.group(1)))
    m = _POSSIBLE.search(text)
    if m:
        text, hint = text[:m.start()], str(Msg("cli.usage.possible", names=m.group(1)))
    for pattern, code in _USAGE:
        m = pattern.match(text)
        if m:
            params = {"args" if code.startswith("cli.usage.extra_arg") else "name": m.group(1)} if m.group(1) else {}
            return str(Msg(code, **params)) + hint
    m = _INVALID.match(text)
    if m:
        detail = m.group(2)
        n = _NOT_INT.match(detail)
        if n:
            detail = str(Msg("cli.usage.not_integer", value=repr(n.group(1))))
        elif detail == Msg("cli.usage.want_integer").render("en"):
            detail = str(Msg("cli.usage.want_integer"))
        return str(Msg("cli.usage.invalid_value", name=m.group(1), detail=detail)) + hint
    return text + hint


def _driver_message() -> str:
    try:
        backend = _database_url().split(":", 1)[0].split("+", 1)[0] or Msg("cli.db.this_url")
    except Exception:
        backend = Msg("cli.db.this_url")
    return str(Msg("cli.db.driver", backend=backend, missing=""))


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
        where = str(Msg("cli.db.the_database"))
    if "NoSuchModuleError" in kinds:
        return _driver_message()
    the = lambda code, **kw: str(Msg(code, where=where, **kw))  # noqa: E731
    if "ArgumentError" in kinds:
        return str(Msg("cli.db.bad_url", url=repr(where)))
    if "readonly database" in low or "read-only" in low or "read only" in low:
        return the("cli.db.read_only")
    if "database is locked" in low or "database is busy" in low:
        return the("cli.db.busy")
    if "file is not a database" in low or "not a database" in low:
        return the("cli.db.not_sqlite")
    if "unable to open database file" in low:
        return the("cli.db.cannot_open")
    if "connection" in low or "could not connect" in low or "password authentication" in low:
        return str(Msg("cli.db.cannot_connect", detail=first))
    return str(Msg("cli.db.other", detail=first))


def _explain(exc: BaseException) -> tuple[str, int] | None:
    """(one line, exit code) for an error a user can cause; None for a fault of ours. The line is the message
    alone: :func:`_handle` frames it (``plancycle: error: …``)."""
    kinds = _kinds(exc)
    module = type(exc).__module__ or ""
    if isinstance(exc, PlancycleError):
        return str(exc), 2
    if "ValidationError" in kinds and module.startswith("pydantic"):
        from stages.rules.requests import first_error

        return str(first_error(exc)), 2
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in DRIVERS:
        return _driver_message(), 2
    if module.startswith(("sqlalchemy", "sqlite3", "psycopg")) or "DBAPIError" in kinds:
        return _database_message(exc), 2
    if isinstance(exc, OverflowError):
        return str(Msg("cli.overflow", detail=str(exc))), 2
    if isinstance(exc, UnicodeError):
        return str(Msg("cli.not_utf8")), 2
    if isinstance(exc, OSError) and exc.filename is not None:
        name = str(exc.filename)
        return str(Msg("cli.os_error", name=name, reason=exc.strerror or str(exc))), 2
    if isinstance(exc, OSError) and exc.errno is not None:
        return str(exc.strerror or exc), 2
    return None


def _handle(exc: BaseException, debug: bool) -> None:
    """Print the one line for ``exc`` (and the usage line for a usage mistake) and exit."""
    kinds = _kinds(exc)
    interrupted = isinstance(exc.__cause__ or exc.__context__, (KeyboardInterrupt, EOFError))
    if (isinstance(exc, typer.Exit) or "Exit" in kinds and "ClickException" not in kinds) and not interrupted:
        sys.exit(getattr(exc, "exit_code", 0) or 0)
    if isinstance(exc, (KeyboardInterrupt, typer.Abort)) or "Abort" in kinds or interrupted:  # typer ≥ 0.29: Exit(130)
        _say(str(Msg("cli.aborted")))
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
        _say(str(Msg("cli.error", msg=Msg("cli.missing_command", path=ctx.command_path))))
        sys.exit(2)
    if "UsageError" in kinds:
        msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _say(_usage_line(getattr(exc, "ctx", None)), str(Msg("cli.error", msg=usage_message(msg))))
        sys.exit(2)
    if "ClickException" in kinds:
        msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _say(str(Msg("cli.error", msg=msg)))
        sys.exit(getattr(exc, "exit_code", 1) or 1)
    explained = _explain(exc)
    if debug:
        import traceback

        traceback.print_exception(exc)
    if explained is not None:
        line, code = explained
        _say(str(Msg("cli.error", msg=line)))
        sys.exit(code)
    msg = (str(exc).strip().splitlines() or [""])[0]
    _say(str(Msg("cli.internal", kind=type(exc).__name__, msg=msg[:300])))
    sys.exit(70)
