"""The CLI's fast read path: ``plancycle status``, ``plancycle inbox DEPT`` and ``plancycle timeline`` on a SQLite
file, answered without importing SQLAlchemy, SQLModel, typer or Prefect.

Why: those three are what people type all day, and importing SQLAlchemy + SQLModel alone costs ~0.6 s here
(typer another ~0.1 s), more than the whole answer may take (issue 9: ≤ 0.4 s). What runs instead: the standard
library's sqlite3 reads the same rows (``stages.store.sqlite_rows``) into the same computation the normal path uses
(``stages.views.board.board_of``, ``stages.views.reads.timeline_of`` / ``inbox_of``), and the same printers print them
(``app.render``, :func:`inbox_lines`, :func:`print_json`): one copy of the view logic, two ways of reading rows.

Taken only when nothing is unusual; anything else is left to the normal path (``app.cli``), which then says
what is wrong in its one line through its error boundary, or answers the same way: an option or form not listed
in :func:`parse` (``--help`` included), a value that is empty or starts with ``-``, a date not written
``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` or outside 2000–2099, a database URL other than a plain
``sqlite:///FILE`` (PostgreSQL always takes the normal path), a file that is not a SQLite database, a schema that
is not the one this code knows (checked against the table and column list the normal path's check last
recorded for this code), no run or several, an unknown department or stage, a value stored otherwise than
SQLAlchemy stores it, any error at all before output begins. ``PLANCYCLE_FAST_READ=0`` turns it off.

This module is also the ``plancycle`` program (:func:`main`, pyproject's console script; ``python -m app.cli``
runs it too): the fast path first, then the typer CLI. What both paths use lives below them, one copy each: the
spec and schema caches and the read-only SQLite access in ``app.readcache``, the JSON and inbox printers in
``app.lines``.
"""

from __future__ import annotations

import os
import re
import sys

from app.lines import inbox_lines, print_json, take_lang
from app.readcache import NotHere, check_schema, connect, load_spec_and_calendar, sqlite_file

VERBS = ("status", "inbox", "timeline")
_WHEN = re.compile(r"(\d{4})-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?\Z")
_FLAGS = {"status": {"--json", "--late"}, "inbox": {"--json"}, "timeline": {"--json"}}
_VALUED = {"status": {"--dept", "--stage", "--as-of"}, "inbox": {"--as-of"}, "timeline": {"--as-of"}}


# -- the fast path ------------------------------------------------------------------------------------------------
def parse(argv: list[str]) -> dict | None:
    """``[--db URL] [--cycle ID] VERB [ARGS]`` for exactly the read verbs and their options; None otherwise."""
    args = list(argv)
    out: dict = {"db": None, "cycle": None, "verb": None, "dept_arg": None, "json": False, "late": False,
                 "dept": None, "stage": None, "as_of": None}
    seen: set[str] = set()

    def take(i: int) -> tuple[str, str | None, int]:
        tok = args[i]
        if "=" in tok and tok.startswith("--"):
            name, value = tok.split("=", 1)
            return name, value, i + 1
        return tok, (args[i + 1] if i + 1 < len(args) else None), i + 2

    i = 0
    while i < len(args) and args[i].startswith("-"):  # the root's options
        name, value, nxt = take(i)
        if name not in ("--db", "--cycle") or name in seen or not _plain_value(value):
            return None
        seen.add(name)
        out[name[2:]] = value
        i = nxt
    if i >= len(args) or args[i] not in VERBS:
        return None
    verb = out["verb"] = args[i]
    i += 1
    seen = set()
    positional = []
    while i < len(args):
        tok = args[i]
        if not tok.startswith("-"):
            if not _plain_value(tok):
                return None
            positional.append(tok)
            i += 1
            continue
        if tok in _FLAGS[verb]:
            if tok in seen:
                return None
            seen.add(tok)
            out[tok[2:]] = True
            i += 1
            continue
        name, value, nxt = take(i)
        if name not in _VALUED[verb] or name in seen or not _plain_value(value):
            return None
        seen.add(name)
        out[name[2:].replace("-", "_")] = value
        i = nxt
    if len(positional) != (1 if verb == "inbox" else 0):
        return None
    if verb == "inbox":
        out["dept_arg"] = positional[0]
    if out["as_of"] is not None:
        m = _WHEN.match(out["as_of"])
        if not m or not 2000 <= int(m.group(1)) <= 2099:  # the request models' range (stages.rules.requests)
            return None
    return out


def _plain_value(value: str | None) -> bool:
    if value is None or value == "" or value.startswith("-"):
        return False
    return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)  # bytes that were not UTF-8


def answer(opts: dict):
    """The view's data and how to print it, computed through the fast path; raises when it is not for it."""
    from stages.store import sqlite_rows

    path = sqlite_file(opts["db"])
    con = connect(path)
    try:
        check_schema(con)
        runs = sqlite_rows.runs(con)
        if opts["cycle"]:
            runs = [r for r in runs if r.spec_id == opts["cycle"]]
        if len(runs) != 1:
            raise NotHere("no run or several")
        spec, cal = load_spec_and_calendar(runs[0].spec_path)
        rows = sqlite_rows.run_rows(con, spec.id)
        verb = opts["verb"]
        if verb == "status":
            from stages.views.board import board_of

            if opts["dept"]:
                spec.department(opts["dept"])  # unknown: KeyError, and the normal path says so
            if opts["stage"] and opts["stage"] not in [s.id for s in spec.stages]:
                raise NotHere("unknown stage")
            data = board_of(rows, spec, cal, opts["as_of"], dept=opts["dept"], stage=opts["stage"],
                            late_only=opts["late"])
        elif verb == "timeline":
            from stages.views.reads import timeline_of

            data = timeline_of(rows, spec, opts["as_of"])
        else:
            from stages.views.reads import inbox_of

            short = spec.department(opts["dept_arg"]).short
            data = inbox_of(rows, sqlite_rows.returned(con, rows.run.id, short), spec, cal, opts["dept_arg"],
                            opts["as_of"])
    finally:
        con.close()
    return data


def show(verb: str, data, as_json: bool) -> None:
    """Print a view's data as the normal path prints it."""
    if as_json:
        print_json(data)
    elif verb == "status":
        from app.render import print_board

        print_board(data)
    elif verb == "timeline":
        from app.render import print_timeline

        print_timeline(data)
    else:
        sys.stdout.write("".join(line + "\n" for line in inbox_lines(data)))


def run(argv: list[str]) -> bool:
    """Answer ``argv`` through the fast path if it is one of its cases; False (nothing printed) if not. ``argv``
    holds no ``--lang`` any more (:func:`app.lines.take_lang` took it).

    A closed pipe while printing exits 1 (SystemExit), as on the normal path; other errors while printing are
    raised, for the caller's error boundary."""
    if os.environ.get("PLANCYCLE_FAST_READ", "1").strip() in ("0", "false", "no"):
        return False
    opts = parse(argv)
    if opts is None:
        return False
    # as app.cli: pydantic would scan every installed package's entry points for plugins on its first model
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        data = answer(opts)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the normal path answers (and names it)
        if os.environ.get("PLANCYCLE_DEBUG", "").strip() not in ("", "0", "false", "no"):
            sys.stderr.write(f"plancycle: fast read path not taken: {type(exc).__name__}: {exc}\n")
        return False
    try:
        show(opts["verb"], data, opts["json"])
    except BrokenPipeError:  # `plancycle status --json | head`: exit 1, saying nothing, as click does for app.cli
        try:                 # (and rich for a table)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        sys.exit(1)
    return True


def main() -> None:
    """The ``plancycle`` program (pyproject's console script): the fast path for what it answers, without even
    importing typer; everything else — other commands, ``--help``, usage mistakes — is ``app.cli.main``'s, and so
    is any error while printing (through its error boundary, ``app.cli.boundary``). Leaves as ``app.cli.main``
    does: ``os._exit`` once the output is flushed, skipping the interpreter's teardown."""
    args, bad_lang = take_lang(sys.argv[1:])  # the reader's language first: whatever is printed, and --help, use it
    try:
        took = run(args) if bad_lang is None else False
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - printing failed: the one error boundary names it
        from app.cli.boundary import _handle

        _handle(exc, os.environ.get("PLANCYCLE_DEBUG", "").strip() not in ("", "0", "false", "no"))
        raise  # not reached: _handle exits
    if not took:
        from app.cli import main as cli_main

        cli_main()  # reads --lang again from sys.argv (and refuses a value that is not a language)
        return
    code = 0
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        code = 1
    os._exit(code)
