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

Also here, shared with ``app.cli`` so both paths use one copy: the per-user cache of loaded cycle specs
(:func:`load_spec`) and of the schema's table list (:func:`remember_schema`), and the JSON printer.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

VERBS = ("status", "inbox", "timeline")
DEFAULT_DB = "sqlite:///plancycle.db"  # as app.cli.DEFAULT_DB
_WHEN = re.compile(r"(\d{4})-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?\Z")
_FLAGS = {"status": {"--json", "--late"}, "inbox": {"--json"}, "timeline": {"--json"}}
_VALUED = {"status": {"--dept", "--stage", "--as-of"}, "inbox": {"--as-of"}, "timeline": {"--as-of"}}


# -- shared with app.cli ------------------------------------------------------------------------------------------
def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns: a Chinese character takes two."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 0)


def inbox_lines(data: dict) -> list[str]:
    """``plancycle inbox`` as text, one string a line."""
    out = [f"{data['name']}（{data['dept']}） as of {data['as_of'][:10]}: {len(data['owes'])} open"]
    for o in data["owes"]:
        late = f", {o['workdays_late']} working days late" if o["workdays_late"] else ""
        out.append(f"  {o['due']}  {pad(o['item'], 14)} {pad(o['name'], 24)} {o['status']}{late}")
        if o["returned"]:
            out.append(f"      退回 {o['returned']['at'][:10]} by {o['returned']['by']}: {o['returned']['comments']}")
    if data.get("co_lead"):
        out.append(f"共同牵头（由其他牵头单位报送）: {len(data['co_lead'])}")
        for c in data["co_lead"]:
            out.append(f"  {c['due']}  {pad(c['item'], 14)} {pad(c['name'], 24)} {c['status']}, 报送单位 {c['owner']}")
    return out


def load_spec(path: str):
    """The run's spec, from a per-user cache when no file it may depend on changed since it was last read.

    Reading and checking the Changning cycle costs 0.2–0.8 s here, the cached copy 3 ms: most of a status.
    The stamp covers every file in the cycle file's folder and the folder above (departments, calendar and
    notice settings live there), the departments and calendar files the spec names, the loader's own code and
    the chinesecalendar package; anything unexpected and the spec is read from its files as before.
    ``PLANCYCLE_SPEC_CACHE=0`` turns the cache off.
    """
    return load_spec_and_calendar(path)[0]


def load_spec_and_calendar(path: str):
    """(spec, its working-day calendar), cached together (building the calendar reads its YAML file: ~50 ms)."""
    import hashlib
    import pickle

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ.get("PLANCYCLE_SPEC_CACHE", "1").strip() in ("0", "false", "no"):
        return _read_spec(path)
    folder = cache_dir()
    src = Path(path).resolve()
    entry = folder / f"spec-{hashlib.sha256(str(src).encode('utf-8', 'surrogateescape')).hexdigest()[:16]}.pickle" \
        if folder else None
    stamp = _spec_stamp(src)
    if entry is not None and stamp is not None:
        try:
            with entry.open("rb") as fh:
                saved_stamp, spec, cal = pickle.load(fh)
            if saved_stamp == stamp + _named_files_stamp(src, spec):
                return spec, cal
        except Exception:  # no entry yet, or one from other code: read the files
            pass
    spec, cal = _read_spec(path)
    if entry is not None and stamp is not None:
        _write(entry, pickle.dumps((stamp + _named_files_stamp(src, spec), spec, cal),
                                   protocol=pickle.HIGHEST_PROTOCOL))
    return spec, cal


def _read_spec(path: str):
    from stages.definition.calendar import calendar_for
    from stages.definition.loader import load_cycle

    spec = load_cycle(path)
    return spec, calendar_for(spec)


def cache_dir() -> Path | None:
    """~/.cache/plancycle, only if it is ours and nobody else can write to it (a pickle is code)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "plancycle"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = base.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return None
        return base
    except Exception:
        return None


def _write(entry: Path, data: bytes) -> None:
    try:
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, entry)
    except Exception:  # a cache that cannot be written is no cache
        pass


def _stat(p: Path) -> tuple:
    try:
        st = p.stat()
        return (str(p), st.st_mtime_ns, st.st_size)
    except OSError:
        return (str(p), None, None)


def _code_stamp() -> tuple:
    return tuple(_stat(p) for p in sorted((Path(__file__).resolve().parent.parent / "stages").glob("**/*.py")))


def _models_stamp() -> tuple:
    return _stat(Path(__file__).resolve().parent.parent / "stages" / "store" / "models.py")


def _spec_stamp(src: Path) -> tuple | None:
    try:
        files = [p for d in (src.parent, src.parent.parent) for p in sorted(d.iterdir()) if p.is_file()]
        return tuple(_stat(p) for p in [src, *files]) + _code_stamp() + _chinesecalendar_stamp()
    except OSError:
        return None


def _chinesecalendar_stamp() -> tuple:
    import importlib.util

    found = importlib.util.find_spec("chinese_calendar")
    if found is None or not found.origin:
        return ()
    return tuple(_stat(p) for p in sorted(Path(found.origin).parent.glob("*.py")))


def _named_files_stamp(src: Path, spec) -> tuple:
    named = [getattr(spec.file, "departments", None), getattr(spec.file, "calendar", None)]
    return tuple(_stat((src.parent / n).resolve()) for n in named if isinstance(n, str))


def remember_schema(tables: dict[str, list[str]]) -> None:
    """Record the tables and columns this code needs (``app.cli._check_schema`` computes them from the models),
    stamped with ``stages/models.py`` (where every table is defined), so the fast path can check a database the
    same way without importing SQLModel."""
    folder = cache_dir()
    if folder is None:
        return
    entry = folder / "schema.json"
    data = {"code": list(_models_stamp()), "tables": tables}
    try:
        if json.loads(entry.read_text(encoding="utf-8")) == data:
            return
    except Exception:
        pass
    _write(entry, json.dumps(data, ensure_ascii=False).encode("utf-8"))


def _known_schema() -> dict[str, list[str]] | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    except Exception:
        return None
    if data.get("code") != list(_models_stamp()):
        return None
    return data.get("tables")


# -- the fast path ------------------------------------------------------------------------------------------------
class NotHere(Exception):
    """Not for the fast path: the normal path answers."""


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


def _sqlite_file(opts: dict) -> Path:
    raw = opts["db"] or os.environ.get("PLANCYCLE_DATABASE_URL") or DEFAULT_DB
    if not raw.startswith("sqlite:///") or any(ch in raw for ch in "?#%"):
        raise NotHere("not a plain sqlite:/// URL")
    name = raw[len("sqlite:///"):]
    if name in ("", ":memory:") or name.startswith("file:"):
        raise NotHere("no file")
    path = Path(name)
    if not path.is_file():
        raise NotHere("no such file")
    with path.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise NotHere("not a SQLite file")
    return path


def _connect(path: Path):
    import sqlite3
    import urllib.parse

    con = sqlite3.connect(f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro", uri=True, timeout=10,
                          isolation_level=None)
    try:
        con.execute("BEGIN")  # one snapshot for every read, as the normal path's one Session
    except Exception:
        con.close()
        raise
    return con


def _check_schema(con) -> None:
    tables = _known_schema()
    if not tables:
        raise NotHere("no recorded schema for this code (the normal path records it)")
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, columns in tables.items():
        if table not in have:
            raise NotHere(f"table {table} missing")
        cols = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
        if any(c not in cols for c in columns):
            raise NotHere(f"columns of {table} missing")


def answer(opts: dict):
    """The view's data and how to print it, computed through the fast path; raises when it is not for it."""
    from stages.store import sqlite_rows

    path = _sqlite_file(opts)
    con = _connect(path)
    try:
        _check_schema(con)
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


_HANDED_OVER: list[tuple] = []  # what main() found not for the fast path, so app.cli.main does not try it again


def run(argv: list[str]) -> bool:
    """Answer ``argv`` through the fast path if it is one of its cases; False (nothing printed) if not.

    A closed pipe while printing exits 1 (SystemExit), as on the normal path; other errors while printing are
    raised, for the caller's error boundary."""
    if os.environ.get("PLANCYCLE_FAST_READ", "1").strip() in ("0", "false", "no") or tuple(argv) in _HANDED_OVER:
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
    is any error while printing (through its error boundary). Leaves as ``app.cli.main`` does: ``os._exit`` once
    the output is flushed, skipping the interpreter's teardown."""
    args = sys.argv[1:]
    try:
        took = run(args)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - printing failed: the one error boundary names it
        from app.cli import _handle

        _handle(exc, os.environ.get("PLANCYCLE_DEBUG", "").strip() not in ("", "0", "false", "no"))
        raise  # not reached: _handle exits
    if not took:
        from app.cli import main as cli_main

        _HANDED_OVER.append(tuple(args))
        cli_main()
        return
    code = 0
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        code = 1
    os._exit(code)
