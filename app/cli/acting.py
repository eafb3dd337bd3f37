"""How an action runs: its request checked in this process first (attached files, the database, the run, the
departments, items and milestone it names), so a refusal answers fast and nothing is written; then its flow, by
``flows.runner.run_action`` (through Prefect when an API runs, else in this process); then what it did, printed.
"""

from __future__ import annotations

from pathlib import Path

import typer

from app.cli.common import (MAX_ATTACHMENT_BYTES, SYSTEM_DIRS, Msg, PlancycleError, State, _check_dept, _database_url,
                            _engine, _load_spec, _open_run, _print_json)


def _attachment(p: str) -> None:
    """An attached file: a regular, readable document of sane size, not a system file."""
    path = Path(p)
    shown = p.encode("utf-8", "backslashreplace").decode()
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        raise PlancycleError("cli.attach.unresolvable", path=shown) from None
    if any(str(real) == d or str(real).startswith(d + "/") for d in SYSTEM_DIRS):
        raise PlancycleError("cli.attach.system", path=shown)
    if not path.exists():
        raise PlancycleError("cli.attach.none", path=shown)
    if path.is_dir():
        raise PlancycleError("cli.attach.folder", path=shown)
    if not path.is_file():
        raise PlancycleError("cli.attach.not_regular", path=shown)
    size = path.stat().st_size
    if size > MAX_ATTACHMENT_BYTES:
        raise PlancycleError("cli.attach.too_big", path=shown, mb=f"{size / 1048576:.0f}",
                             most=MAX_ATTACHMENT_BYTES // 1048576)
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise PlancycleError("cli.attach.unreadable", path=shown, reason=exc.strerror or str(exc)) from None


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
                        raise PlancycleError("cli.unknown_item", item=repr(k))
            if milestone:
                item_key, ms = milestone
                rows = session.exec(select(Milestone.ms_id, Milestone.name).where(Milestone.run_id == run.id,
                                                                                  Milestone.item_key == item_key)).all()
                if not any(ms in r for r in rows):
                    raise PlancycleError("cli.no_milestone", item=item_key, ms=repr(ms),
                                         have=[f"{a} {b}" for a, b in rows])
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
                raise PlancycleError("cli.unknown_item", item=repr(k))
        if milestone:
            item_key, ms = milestone
            found = con.execute("SELECT ms_id, name FROM milestone WHERE run_id = ? AND item_key = ?",
                                (run_id, item_key)).fetchall()
            if found and not any(ms in r for r in found):
                raise PlancycleError("cli.no_milestone", item=item_key, ms=repr(ms),
                                     have=[f"{a} {b}" for a, b in found])
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
    typer.echo(str(out.get("message") or f"{out['action']} {out['target']}"))
    for key in ("opened", "completed", "gates_ready", "stages"):
        if out.get(key):
            typer.echo("  " + str(Msg(f"cli.report.{key}", names=list(out[key]))))
    for n in (out.get("data") or {}).get("drafts", []):
        typer.echo("  " + str(Msg("cli.report.drafted", genre=n["genre"], id=n["id"], title=n["title"])))
    signed = (out.get("data") or {}).get("notice")
    if signed:
        typer.echo(f"  #{signed['id']} {signed['number'] or '（' + signed['genre'] + '，不编号）'} {signed['title']}")


def parse_figure(text: str) -> dict:
    """``区级一般公共预算收入=26.3%``, ``重点项目落地=1,190家``, ``=26.3`` (a lone target) → {of, value, unit}; the
    service checks the name and that the unit is the target's."""
    from stages.rules.requests import parse_number

    of, sep, rest = text.rpartition("=")
    if not sep:
        raise PlancycleError("cli.figure.form", text=repr(text))
    try:
        value, unit = parse_number(rest)
    except ValueError as exc:
        raise PlancycleError("cli.figure.bad", text=repr(text), detail=str(exc)) from None
    return {"of": of.strip(), "value": value, "unit": unit}
