"""``plancycle export ledger`` (the 台账 as .xlsx) and ``plancycle export ics`` (the deadlines as a calendar);
the files are written by ``stages.paperwork.exports``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from app.cli.common import H, _as_of, _check_dept, _engine, _open_run, _output_file

export_app = typer.Typer(help=H("cli.help.export_app"))


@export_app.command("ledger", help=H("cli.help.cmd_export_ledger"))
def export_ledger(out: Path = typer.Option(Path("台账.xlsx"), "--out"), dept: Optional[str] = typer.Option(None, "--dept"),
                  as_of: Optional[str] = typer.Option(None, "--as-of")):
    """The 台账 as .xlsx: one row per item and milestone."""
    from sqlmodel import Session

    from stages.paperwork.exports import write_ledger
    from stages.views.reads import ledger_rows

    _as_of(as_of)
    _output_file(out)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        if dept:
            _check_dept(spec, dept)
        rows = ledger_rows(session, spec, as_of, dept)
        typer.echo(str(write_ledger(rows, out, spec.file.title + "台账")))


@export_app.command("ics", help=H("cli.help.cmd_export_ics"))
def export_ics(out: Path = typer.Option(Path("deadlines.ics"), "--out"), dept: Optional[str] = typer.Option(None, "--dept"),
               as_of: Optional[str] = typer.Option(None, "--as-of")):
    """Every milestone's deadline as an .ics calendar (optionally one department's)."""
    from sqlmodel import Session

    from stages.paperwork.exports import write_calendar
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
