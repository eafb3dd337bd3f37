"""``plancycle validate`` (check a cycle file) and ``plancycle init`` (create its run: the only command that
creates a database)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from app.cli.common import (H, Msg, DEFAULT_CONFIG, PlancycleError, _checked_url, _config_file, _engine, _print_json,
                            _request_check)

commands = typer.Typer()


@commands.command(help=H("cli.help.cmd_validate"))
def validate(path: Path = typer.Argument(..., help=H("cli.help.validate_arg")),
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


@commands.command(help=H("cli.help.cmd_init"))
def init(config: Path = typer.Argument(DEFAULT_CONFIG, help=H("cli.help.init_arg")),
         as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.init_as_of")),
         as_json: bool = typer.Option(False, "--json"),
         replace: bool = typer.Option(False, "--replace", help=H("cli.help.init_replace")),
         yes: bool = typer.Option(False, "--yes", help=H("cli.help.init_yes"))):
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
        started = str(Msg("cli.init.started", when=f"{when:%Y-%m-%d %H:%M}")) + (str(Msg("cli.init.now"))
                                                                                 if not as_of else "")
    if as_json:
        _print_json({**out.as_dict(), "as_of": when.isoformat() if out.changed else None,
                     "backup": str(backup) if backup else None})
    else:
        if backup:
            typer.echo(str(Msg("cli.init.backup", backup=str(backup))))
        typer.echo(str(out.message) + started + (str(Msg("cli.init.open", n=len(out.opened))) if out.changed else ""))


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
