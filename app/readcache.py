"""What the CLI's two read paths share (``app.cli``, and its fast read path ``app.fastread``): the per-user cache
of loaded cycle specs (:func:`load_spec`) and of the schema's table list (:func:`remember_schema`), and opening a
plain SQLite file read-only with the standard library's sqlite3, checked against that list (:func:`sqlite_file`,
:func:`connect`, :func:`check_schema`). Imports neither SQLAlchemy nor typer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_DB = "sqlite:///plancycle.db"


class NotHere(Exception):
    """Not for the fast path: the normal path answers."""


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
    """Record the tables and columns this code needs (``app.cli.common._check_schema`` computes them from the models),
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


def known_schema() -> dict[str, list[str]] | None:
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


def sqlite_file(db: str | None) -> Path:
    """The file a plain ``sqlite:///FILE`` URL (``db``, else $PLANCYCLE_DATABASE_URL, else the default) names,
    when it is a SQLite file; raises :class:`NotHere` otherwise."""
    raw = db or os.environ.get("PLANCYCLE_DATABASE_URL") or DEFAULT_DB
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


def connect(path: Path):
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


def check_schema(con) -> None:
    tables = known_schema()
    if not tables:
        raise NotHere("no recorded schema for this code (the normal path records it)")
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, columns in tables.items():
        if table not in have:
            raise NotHere(f"table {table} missing")
        cols = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
        if any(c not in cols for c in columns):
            raise NotHere(f"columns of {table} missing")
