"""The read views: ``status`` (the board), ``timeline``, ``inbox``, ``show`` (one item's history) and ``audit``.
They never import Prefect. ``status``, ``inbox`` and ``timeline`` on a plain SQLite file are answered before this
module is reached, by the program's fast read path (``app.fastread``), which prints exactly what these print."""

from __future__ import annotations

from typing import Optional

import typer

from app.cli.common import H, PlancycleError, _as_of, _check_dept, _engine, _open_run, _print_json
from app.cli.common import Msg
from app.lines import inbox_lines, pad, status_text

commands = typer.Typer()


@commands.command(help=H("cli.help.cmd_status"))
def status(as_json: bool = typer.Option(False, "--json", help=H("cli.help.status_json")),
           dept: Optional[str] = typer.Option(None, "--dept", help=H("cli.help.status_dept")),
           stage: Optional[str] = typer.Option(None, "--stage", help=H("cli.help.status_stage")),
           late: bool = typer.Option(False, "--late", help=H("cli.help.status_late")),
           as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.status_as_of"))):
    """The board: every item's current milestone, due date, owner and traffic light."""
    from sqlmodel import Session

    from stages.views.board import board

    _as_of(as_of)
    engine = _engine()
    with Session(engine) as session:
        _run, spec = _open_run(session)
        if dept:
            _check_dept(spec, dept)
        if stage and stage not in [s.id for s in spec.stages]:
            raise PlancycleError("cli.unknown_stage", stage=repr(stage), stages=" / ".join(s.id for s in spec.stages))
        data = board(session, spec, as_of, dept=dept, stage=stage, late_only=late)
    if as_json:
        _print_json(data)
        return
    from app.render import print_board

    print_board(data)


@commands.command(help=H("cli.help.cmd_timeline"))
def timeline(as_json: bool = typer.Option(False, "--json"), as_of: Optional[str] = typer.Option(None, "--as-of")):
    """Seed 000's 主要工作节点 table from the config and the live state: planned / done / late per quarter."""
    from sqlmodel import Session

    from stages.views.reads import timeline as build

    _as_of(as_of)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = build(session, spec, as_of)
    if as_json:
        _print_json(data)
        return
    from app.render import print_timeline

    print_timeline(data)


@commands.command(help=H("cli.help.cmd_inbox"))
def inbox(dept: Optional[str] = typer.Argument(None, help=H("cli.help.inbox_arg")),
          dept_option: Optional[str] = typer.Option(None, "--dept", help=H("cli.help.inbox_dept")),
          as_json: bool = typer.Option(False, "--json"), as_of: Optional[str] = typer.Option(None, "--as-of")):
    """What a department owes, by when, and what was returned and why."""
    from sqlmodel import Session

    from stages.views.reads import inbox as build

    if dept is None and dept_option is None:
        raise PlancycleError("cli.inbox_needs_dept")
    if dept is not None and dept_option is not None and dept != dept_option:
        raise PlancycleError("cli.inbox_one_dept", a=repr(dept), b=repr(dept_option))
    dept = dept or dept_option
    _as_of(as_of)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = build(session, spec, dept, as_of)
    if as_json:
        _print_json(data)
        return
    for line in inbox_lines(data):
        typer.echo(line)


@commands.command(help=H("cli.help.cmd_show"))
def show(item: str, as_json: bool = typer.Option(False, "--json")):
    """One item's history: milestones, submissions, decisions, notices, audit."""
    from sqlmodel import Session

    from stages.views.reads import item_history

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = item_history(session, spec, item)
    if as_json:
        _print_json(data)
        return
    it = data["item"]
    typer.echo(str(Msg("cli.show.head", key=it["key"], title=it["title"], kind=_word("cli.kind", it["kind"]),
                       status=_word("cli.item_status", it["status"]), lead="、".join(it["lead"])))
               + (f"  承接单位：{it['contractor']}（{it['contractor_contact']}）" if it["contractor"] else ""))
    for m in data["milestones"]:
        moved = str(Msg("cli.show.was", due=m["original_due"])) if m["original_due"] != m["due"] else ""
        typer.echo(f"  {m['due']}{moved}  {pad(m['name'], 12)} {pad(status_text(m['status']), 10)} {m['owner']}")
    for e in data["audit"]:
        typer.echo(f"  {e['at'][:16]}  {pad(e['actor'], 8)} {pad(_word('cli.event', e['action']), 24)} {e['target']}"
                   + (f" — {e['why']}" if e["why"] else ""))
    for n in data["notices"]:
        typer.echo("  " + str(Msg("cli.show.notice", id=n["id"], number=n["number"] or "", title=n["title"])))


def _word(area: str, name: str) -> str:
    """An item's kind or status, an audit event's name: in the reader's language when the catalogue has it."""
    from stages.ground.catalogue import CATALOGUE

    code = f"{area}.{name}"
    return str(Msg(code)) if code in CATALOGUE else name


@commands.command("audit", help=H("cli.help.cmd_audit"))
def audit_cmd(since: Optional[str] = typer.Option(None, "--since", help=H("cli.help.a_date")),
              limit: Optional[int] = typer.Option(None, "--limit"), as_json: bool = typer.Option(False, "--json")):
    """Every submission, decision, notice and override: who, when, what, why."""
    from sqlmodel import Session

    from stages.views.reads import audit

    _as_of(since, "--since")
    if limit is not None and limit < 1:
        raise PlancycleError("cli.limit_min", n=limit)
    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        rows = audit(session, spec, since, limit)
    if as_json:
        _print_json(rows)
        return
    for e in rows:
        typer.echo(f"{e['at'][:16]}  {pad(e['actor'], 8)} {pad(_word('cli.event', e['action']), 26)} {e['target']}"
                   + (f" — {e['why']}" if e["why"] else ""))
