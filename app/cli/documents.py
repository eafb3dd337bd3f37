"""Documents: ``notices`` (the list), ``notice render / edit / sign`` (one document) and ``report monthly /
indicators`` (the reports the cycle files)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from app.cli.acting import _act, _prepare
from stages.ground.catalogue import CATALOGUE
from app.cli.common import (H, Msg, AS_OF, JSON, KEY, PlancycleError, _as_of, _common, _database_url, _engine, _open_run,
                            _print_json, _request_check)

commands = typer.Typer()


@commands.command("notices", help=H("cli.help.cmd_notices_list"))
def notices_list(kind: Optional[str] = typer.Option(None, "--kind"), issued: bool = typer.Option(False, "--issued",
                 help=H("cli.help.notices_list_issued")), as_json: bool = JSON):
    """The notices this cycle has issued or recorded."""
    from sqlmodel import Session, select

    from stages.store.models import Notice

    engine = _engine()
    with Session(engine) as session:
        run, _spec = _open_run(session)
        q = select(Notice).where(Notice.run_id == run.id).order_by(Notice.id)
        if kind:
            q = q.where(Notice.kind == kind)
        if issued:
            q = q.where(Notice.status == "issued")
        rows = session.exec(q).all()
        data = [{"id": n.id, "kind": n.kind, "status": n.status, "number": n.doc_number, "title": n.title,
                 "recipients": n.recipients, "about": n.about, "date": n.created_at.date().isoformat(),
                 "checksum": n.checksum, "corrects": n.corrects_id} for n in rows]
    if as_json:
        _print_json(data)
        return
    for n in data:
        typer.echo(f"{n['id']:>5}  {n['date']}  {n['status']:<6}  {n['number'] or '':<16}  "
                   f"{n['title'] or n['kind'] + ' — ' + n['about']}")


notice_app = typer.Typer(help=H("cli.help.notice_app"))


@notice_app.command("render", help=H("cli.help.cmd_notice_render"))
def notice_render(notice_id: int, fmt: str = typer.Option("docx", "--format", help=H("cli.help.notice_render_format")),
                  out: Path = typer.Option(Path("."), "--out", help=H("cli.help.notice_render_out"))):
    """Render a filed notice again (the same bytes as when it was issued) into DIR."""
    import hashlib

    from sqlmodel import Session

    from stages.paperwork.notices import render_notice

    if fmt not in ("docx", "md", "pdf"):
        raise PlancycleError("cli.format", fmt=repr(fmt))
    engine = _engine()
    with Session(engine) as session:
        _open_run(session)
        n, data = render_notice(session, notice_id, fmt)
        name = f"{n.id:05d}-{n.kind}-{(n.doc_number or 'no-number').replace('〔', '(').replace('〕', ')')}.{fmt}"
        stored = n.checksum
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_bytes(data)
    same = fmt != "docx" or hashlib.sha256(data).hexdigest() == stored
    typer.echo(f"{path}" + ("" if same else str(Msg("cli.render.differs"))))


def _changes(pairs: list[str]) -> dict:
    out = {}
    for p in pairs or []:
        field, sep, value = p.partition("=")
        if not sep or not field.strip():
            raise PlancycleError("cli.set_form", text=repr(p))
        out[field.strip()] = value
    return out


SET = typer.Option(None, "--set", help=H("cli.help.set_set"))


@notice_app.command("edit", help=H("cli.help.cmd_notice_edit"))
def notice_edit(notice_id: int, sets: Optional[list[str]] = SET, by: Optional[str] = typer.Option(None, "--by"),
                as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """Change a draft's free-text parts before it is signed."""
    from stages.rules.requests import EditDocumentRequest

    changes = _changes(sets or [])
    if not changes:
        raise PlancycleError("cli.nothing_to_change")
    req = _request_check(lambda: EditDocumentRequest(notice=notice_id, changes=changes, by=by, **_common(as_of, key)))
    _prepare(req, depts=[req.by])
    _act("edit_document", req, as_json)


@notice_app.command("sign", help=H("cli.help.cmd_notice_sign"))
def notice_sign(notice_id: int, number: Optional[str] = typer.Option(None, "--number",
                help=H("cli.help.notice_sign_number")),
                sets: Optional[list[str]] = SET, by: Optional[str] = typer.Option(None, "--by"),
                as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """签发: sign a draft off; a numbered genre takes its 发文字号 now."""
    from stages.rules.requests import SignDocumentRequest

    req = _request_check(lambda: SignDocumentRequest(notice=notice_id, number=number, changes=_changes(sets or []),
                                                     by=by, **_common(as_of, key)))
    _prepare(req, depts=[req.by])
    _act("sign_document", req, as_json)


report_app = typer.Typer(help=H("cli.help.report_app"))


@report_app.command("monthly", help=H("cli.help.cmd_report_monthly"))
def report_monthly(month: Optional[str] = typer.Option(None, "--month", help=H("cli.help.report_monthly_month")),
                   as_of: Optional[str] = AS_OF, as_json: bool = JSON):
    """The monthly progress report (by the 25th), per department and per item."""
    import re

    from stages.ground.clock import as_datetime

    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise PlancycleError("cli.month", month=repr(month))
    _as_of(as_of)
    _engine(write=True).dispose()
    from flows.runner import run_action
    from flows.schedules import monthly_progress_report

    out = run_action(monthly_progress_report, month=month, as_of=as_datetime(as_of) if as_of else None,
                     db=_database_url())
    if as_json:
        _print_json(out)
        return
    for cycle_id, r in out.items():
        if r.get("skipped"):
            typer.echo(f"{cycle_id} {r['month']}: not yet ({r['skipped']})")
            continue
        rep = r["report"]
        t = rep["totals"]
        typer.echo(f"{cycle_id} {rep['month']} (as of {rep['as_of']}): due {t['due']}, arrived {t['arrived']}, late {t['late']}")
        for d in rep["departments"]:
            typer.echo(f"  {d['dept']}: due {d['due']}, arrived {d['arrived']}, late {d['late']}")


@report_app.command("indicators", help=H("cli.help.cmd_report_indicators"))
def report_indicators(year: int = typer.Option(..., "--year", help=H("cli.help.report_indicators_year")),
                      as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.report_indicators_as_of")),
                      as_json: bool = JSON):
    """The yearly 《纲要》主要指标监测情况: a draft 报告 (or 简报, per the notice settings), once per year."""
    from sqlmodel import Session

    from stages.ground.clock import as_datetime
    from stages.paperwork.drafting import indicator_report

    _as_of(as_of)
    with Session(_engine(write=True)) as session:
        _run, spec = _open_run(session)
        n, made = indicator_report(session, spec, year, as_of=as_datetime(as_of) if as_of else None)
        session.commit()
        data = {"id": n.id, "kind": n.kind, "genre": n.data.get("genre"), "status": n.status, "number": n.doc_number,
                "title": n.title, "year": year, "drafted": made,
                "counts": {c["label"]: c["n"] for c in n.data.get("counts", [])},
                "warnings": [w["name"] for w in n.data.get("warnings", [])]}
    if as_json:
        _print_json(data)
        return
    if made:
        typer.echo(str(Msg("cli.report.drafted", genre=data["genre"], id=n.id, title=data["title"])))
    else:
        number = Msg("cli.report.number", number=data["number"]) if data["number"] else ""
        status = data["status"]
        status = Msg(f"paperwork.status.{status}") if f"paperwork.status.{status}" in CATALOGUE else status
        typer.echo(str(Msg("cli.report.already_drafted", genre=data["genre"], id=n.id, status=status,
                           number=number, title=data["title"])))
    typer.echo("  " + "，".join(f"{k}{v}项" for k, v in data["counts"].items())
               + (f"；预警：{'、'.join(data['warnings'])}" if data["warnings"] else ""))
