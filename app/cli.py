"""The ``plancycle`` command line: a thin adapter over ``stages`` (read paths) and ``flows`` (actions).

Owns: parsing arguments, opening the database, printing, exit codes. Every error a user can cause is one line on
stderr and exit code 2, with nothing changed. Read-only commands (validate, status, show, audit) never import
Prefect: it costs over a second to import and they must answer fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click
import typer

from stages.errors import PlancycleError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="plancycle: run a district Five-Year-Plan preparation cycle (前期研究 → 规划编制 → 审议发布).")

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "cycles" / "changning-14th.yaml"


class State:
    db: str | None = None
    cycle: str | None = None


@app.callback()
def _root(db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL (default: $PLANCYCLE_DATABASE_URL or sqlite:///plancycle.db)"),
          cycle: Optional[str] = typer.Option(None, "--cycle", help="cycle id, when the database holds several runs")):
    State.db = db
    State.cycle = cycle


def _engine():
    from stages.models import create_schema, make_engine

    engine = make_engine(State.db)
    create_schema(engine)
    return engine


def _open_run(session):
    """The run in this database and the spec it was created from."""
    from stages.loader import load_cycle
    from stages.services import find_run

    run = find_run(session, State.cycle)
    return run, load_cycle(run.spec_path)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# -- validate / init / status ------------------------------------------------------------------------------------
@app.command()
def validate(path: Path = typer.Argument(..., help="a cycle definition, e.g. config/cycles/changning-14th.yaml"),
             as_json: bool = typer.Option(False, "--json")):
    """Check a cycle definition; exit non-zero with one line per problem."""
    from stages.loader import load_cycle

    spec = load_cycle(path)
    summary = {"ok": True, "cycle": spec.id, "version": spec.version, "stages": [s.id for s in spec.stages],
               "topics": sum(1 for i in spec.items if i.kind == "topic"),
               "tasks": sum(1 for i in spec.items if i.kind == "task"),
               "milestones": sum(len(i.milestones) for i in spec.items), "gates": len(spec.file.gates),
               "departments": len(spec.departments)}
    if as_json:
        _print_json(summary)
    else:
        typer.echo(f"{path}: ok — {spec.id} v{spec.version}: {summary['topics']} topics, {summary['tasks']} tasks, "
                   f"{summary['milestones']} milestones, {summary['gates']} gates, {summary['departments']} departments")


@app.command()
def init(config: Path = typer.Argument(DEFAULT_CONFIG, help="the cycle definition to run"),
         as_of: Optional[str] = typer.Option(None, "--as-of", help="the run's start (YYYY-MM-DD); default now"),
         as_json: bool = typer.Option(False, "--json")):
    """Create the run for a cycle definition. Running it again changes nothing."""
    from sqlmodel import Session

    from stages.loader import load_cycle
    from stages.services import init_run

    spec = load_cycle(config)
    engine = _engine()
    with Session(engine) as session:
        out = init_run(session, spec, as_of=as_of)
        session.commit()
    if as_json:
        _print_json(out.as_dict())
    else:
        typer.echo(out.message + (f"; {len(out.opened)} milestones open" if out.changed else ""))


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable board"),
           dept: Optional[str] = typer.Option(None, "--dept", help="only items this department leads or owes"),
           stage: Optional[str] = typer.Option(None, "--stage", help="research / drafting / adoption"),
           late: bool = typer.Option(False, "--late", help="only items with an overdue milestone"),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="the day to judge lights on (default today)")):
    """The board: every item's current milestone, due date, owner and traffic light."""
    from sqlmodel import Session

    from stages.board import board

    engine = _engine()
    with Session(engine) as session:
        _run, spec = _open_run(session)
        if dept:
            try:
                spec.department(dept)
            except KeyError:
                raise PlancycleError(f"unknown department {dept!r}") from None
        if stage and stage not in [s.id for s in spec.stages]:
            raise PlancycleError(f"unknown stage {stage!r} (expected {' / '.join(s.id for s in spec.stages)})")
        data = board(session, spec, as_of, dept=dept, stage=stage, late_only=late)
    if as_json:
        _print_json(data)
        return
    from app.render import print_board

    print_board(data)


@app.command()
def timeline(as_json: bool = typer.Option(False, "--json"), as_of: Optional[str] = typer.Option(None, "--as-of")):
    """Seed 000's 主要工作节点 table from the config and the live state: planned / done / late per quarter."""
    from sqlmodel import Session

    from stages.views import timeline as build

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = build(session, spec, as_of)
    if as_json:
        _print_json(data)
        return
    from app.render import print_timeline

    print_timeline(data)


@app.command()
def inbox(dept: str, as_json: bool = typer.Option(False, "--json"), as_of: Optional[str] = typer.Option(None, "--as-of")):
    """What a department owes, by when, and what was returned and why."""
    from sqlmodel import Session

    from stages.views import inbox as build

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = build(session, spec, dept, as_of)
    if as_json:
        _print_json(data)
        return
    typer.echo(f"{data['name']}（{data['dept']}） as of {data['as_of'][:10]}: {len(data['owes'])} open")
    for o in data["owes"]:
        late = f", {o['workdays_late']} working days late" if o["workdays_late"] else ""
        typer.echo(f"  {o['due']}  {o['item']:<12} {o['name']:<14} {o['status']}{late}")
        if o["returned"]:
            typer.echo(f"      退回 {o['returned']['at'][:10]} by {o['returned']['by']}: {o['returned']['comments']}")


@app.command()
def show(item: str, as_json: bool = typer.Option(False, "--json")):
    """One item's history: milestones, submissions, decisions, notices, audit."""
    from sqlmodel import Session

    from stages.views import item_history

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        data = item_history(session, spec, item)
    if as_json:
        _print_json(data)
        return
    it = data["item"]
    typer.echo(f"{it['key']} {it['title']}  [{it['kind']}, {it['status']}]  牵头：{'、'.join(it['lead'])}"
               + (f"  承接单位：{it['contractor']}（{it['contractor_contact']}）" if it["contractor"] else ""))
    for m in data["milestones"]:
        moved = f" (was {m['original_due']})" if m["original_due"] != m["due"] else ""
        typer.echo(f"  {m['due']}{moved}  {m['name']:<12} {m['status']:<10} {m['owner']}")
    for e in data["audit"]:
        typer.echo(f"  {e['at'][:16]}  {e['actor']:<8} {e['action']:<24} {e['target']}" + (f" — {e['why']}" if e["why"] else ""))
    for n in data["notices"]:
        typer.echo(f"  notice #{n['id']} {n['number'] or ''} {n['title']}")


@app.command("audit")
def audit_cmd(since: Optional[str] = typer.Option(None, "--since", help="YYYY-MM-DD"),
              limit: Optional[int] = typer.Option(None, "--limit"), as_json: bool = typer.Option(False, "--json")):
    """Every submission, decision, notice and override: who, when, what, why."""
    from sqlmodel import Session

    from stages.views import audit

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        rows = audit(session, spec, since, limit)
    if as_json:
        _print_json(rows)
        return
    for e in rows:
        typer.echo(f"{e['at'][:16]}  {e['actor']:<8} {e['action']:<26} {e['target']}" + (f" — {e['why']}" if e["why"] else ""))


export_app = typer.Typer(help="Exports: the 台账 ledger (.xlsx) and the deadlines calendar (.ics).")
app.add_typer(export_app, name="export")


@export_app.command("ledger")
def export_ledger(out: Path = typer.Option(Path("台账.xlsx"), "--out"), dept: Optional[str] = typer.Option(None, "--dept"),
                  as_of: Optional[str] = typer.Option(None, "--as-of")):
    """The 台账 as .xlsx: one row per item and milestone."""
    from sqlmodel import Session

    from app.exports import write_ledger
    from stages.views import ledger_rows

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        if dept:
            _check_dept(spec, dept)
        rows = ledger_rows(session, spec, as_of, dept)
        typer.echo(str(write_ledger(rows, out, spec.file.title + "台账")))


@export_app.command("ics")
def export_ics(out: Path = typer.Option(Path("deadlines.ics"), "--out"), dept: Optional[str] = typer.Option(None, "--dept"),
               as_of: Optional[str] = typer.Option(None, "--as-of")):
    """Every milestone's deadline as an .ics calendar (optionally one department's)."""
    from sqlmodel import Session

    from app.exports import write_calendar
    from stages.board import board
    from stages.clock import as_datetime

    with Session(_engine()) as session:
        _run, spec = _open_run(session)
        if dept:
            _check_dept(spec, dept)
        data = board(session, spec, as_of, dept=dept)
        typer.echo(str(write_calendar(data, out, as_datetime(as_of))))


def _check_dept(spec, dept: str) -> None:
    try:
        spec.department(dept)
    except KeyError:
        raise PlancycleError(f"unknown department {dept!r}") from None


# -- actions: each runs its Prefect flow ------------------------------------------------------------------------------
def _run_flow(flow_fn, *args, **kwargs):
    """Run a flow in this process (embedded API unless PREFECT_API_URL points at a server) and return its result.

    Heartbeats are switched off for these short runs (they cost ~1 s per sync run here); a refused action's
    Failed state becomes the one-line error.
    """
    import logging

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # Prefect's event queue announces at exit that it is still flushing: progress chatter, not a warning.
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        state = flow_fn(*args, return_state=True, **kwargs)
    if state.is_failed() or state.is_crashed():
        raise PlancycleError((state.message or "the flow run failed").splitlines()[0])
    return state.result()


def _common(as_of, key) -> dict:
    return {"as_of": as_of, "key": key, "db": State.db, "cycle": State.cycle}


def _report(out: dict, as_json: bool) -> None:
    if as_json:
        _print_json(out)
        return
    typer.echo(out.get("message") or f"{out['action']} {out['target']}")
    for label, key in (("opened", "opened"), ("completed", "completed"), ("gate ready", "gates_ready"),
                       ("stage", "stages")):
        if out.get(key):
            typer.echo(f"  {label}: " + ", ".join(out[key]))
    for n in (out.get("data") or {}).get("notices_issued", []):
        typer.echo(f"  issued: #{n['id']} {n['number'] or ''} {n['title']}")


AS_OF = typer.Option(None, "--as-of", help="when it happened (YYYY-MM-DD or YYYY-MM-DDTHH:MM); default now")
KEY = typer.Option(None, "--key", help="idempotency key (default: a natural key for the request)")
JSON = typer.Option(False, "--json")


@app.command()
def submit(item: str, milestone: str, by: str = typer.Option(..., "--by", help="submitting department"),
           file: list[Path] = typer.Option([], "--file", "-f", help="attach a file (repeatable)"),
           note: Optional[str] = typer.Option(None, "--note"), as_of: Optional[str] = AS_OF,
           key: Optional[str] = KEY, as_json: bool = JSON):
    """A department submits a milestone's deliverable (again after a return)."""
    from flows.actions import SubmitRequest, submit_deliverable

    req = SubmitRequest(item=item, milestone=milestone, by=by, files=[str(f) for f in file], note=note,
                        **_common(as_of, key))
    _report(_run_flow(submit_deliverable, req), as_json)


@app.command()
def review(item: str, milestone: str,
           accept: bool = typer.Option(False, "--accept"), return_: bool = typer.Option(False, "--return"),
           comments: Optional[str] = typer.Option(None, "--comments", help="required with --return"),
           by: str = typer.Option("区发改委", "--by"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
           as_json: bool = JSON):
    """Accept a submitted deliverable, or return it (退回) with comments."""
    if accept == return_:
        raise PlancycleError("review needs exactly one of --accept or --return")
    from flows.actions import ReviewRequest, review_deliverable

    req = ReviewRequest(item=item, milestone=milestone, decision="accept" if accept else "return", by=by,
                        comments=comments, **_common(as_of, key))
    _report(_run_flow(review_deliverable, req), as_json)


@app.command()
def waive(item: str, milestone: str, reason: str = typer.Option(..., "--reason"),
          by: str = typer.Option("区发改委", "--by"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
          as_json: bool = JSON):
    """Excuse a milestone (免除), with a reason."""
    from flows.actions import WaiveRequest, waive_milestone

    _report(_run_flow(waive_milestone, WaiveRequest(item=item, milestone=milestone, reason=reason, by=by,
                                                    **_common(as_of, key))), as_json)


@app.command()
def approve(body: str = typer.Argument(..., help="leading_group, district_government, district_congress …"),
            subject: str = typer.Argument(..., help="e.g. special-plan-list, basic-approach, outline"),
            note: Optional[str] = typer.Option(None, "--note"), by: str = typer.Option("区发改委", "--by"),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """Record an approval (e.g. 领导小组同意专项规划立项清单)."""
    from flows.actions import ApproveRequest, record_approval

    _report(_run_flow(record_approval, ApproveRequest(body=body, subject=subject, note=note, by=by,
                                                      **_common(as_of, key))), as_json)


@app.command()
def advance(override_reason: Optional[str] = typer.Option(None, "--override-reason",
                                                          help="force a closed gate; the reason is recorded"),
            from_stage: Optional[str] = typer.Option(None, "--from", help="the stage to leave (guards a retry)"),
            by: str = typer.Option("区发改委", "--by"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
            as_json: bool = JSON):
    """Close the current stage and open the next (its gate checked)."""
    from flows.actions import AdvanceRequest, advance_stage

    _report(_run_flow(advance_stage, AdvanceRequest(override_reason=override_reason, from_stage=from_stage, by=by,
                                                    **_common(as_of, key))), as_json)


@app.command()
def extend(reason: str = typer.Option(..., "--reason"),
           item: list[str] = typer.Option([], "--item", help="item key (repeatable); default all"),
           milestone: Optional[str] = typer.Option(None, "--milestone"),
           due_from: Optional[str] = typer.Option(None, "--due-from", help="YYYY-MM-DD"),
           due_to: Optional[str] = typer.Option(None, "--due-to", help="YYYY-MM-DD"),
           days: Optional[int] = typer.Option(None, "--days"), workdays: Optional[int] = typer.Option(None, "--workdays"),
           to: Optional[str] = typer.Option(None, "--to", help="new due date YYYY-MM-DD"),
           by: str = typer.Option("区发改委", "--by"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
           as_json: bool = JSON):
    """Move deadlines later, one or in bulk (e.g. every 2020 H1 deadline by 30 days)."""
    from flows.actions import ExtendRequest, extend_deadlines

    req = ExtendRequest(reason=reason, items=item, milestone=milestone, due_from=_date(due_from, "--due-from"),
                        due_to=_date(due_to, "--due-to"), days=days, workdays=workdays, new_due=_date(to, "--to"),
                        by=by, **_common(as_of, key))
    _report(_run_flow(extend_deadlines, req), as_json)


def _date(value: Optional[str], flag: str):
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PlancycleError(f"{flag} must be a date YYYY-MM-DD, not {value!r}") from None


@app.command()
def propose(dept: str, title: str, note: Optional[str] = typer.Option(None, "--note"),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """A department proposes a 专项规划 (立项建议)."""
    from flows.actions import ProposeRequest, propose_special_plan

    _report(_run_flow(propose_special_plan, ProposeRequest(dept=dept, title=title, note=note, **_common(as_of, key))),
            as_json)


@app.command()
def register(confirm: list[str] = typer.Option([], "--confirm", help="special plan key to confirm (repeatable)"),
             reject: list[str] = typer.Option([], "--reject", help="special plan key not confirmed (repeatable)"),
             reason: Optional[str] = typer.Option(None, "--reason"), by: str = typer.Option("区发改委", "--by"),
             as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """立项确认: confirm the special plans the leading group approved."""
    from flows.actions import RegisterRequest, register_special_plans

    _report(_run_flow(register_special_plans, RegisterRequest(confirm=confirm, reject=reject, reason=reason, by=by,
                                                              **_common(as_of, key))), as_json)


@app.command()
def contractor(topic: str, name: str, contact: str = typer.Option(..., "--contact"),
               by: str = typer.Option("区发改委", "--by"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
               as_json: bool = JSON):
    """Record a topic's 承接单位 and contact."""
    from flows.actions import ContractorRequest, assign_contractor

    _report(_run_flow(assign_contractor, ContractorRequest(topic=topic, contractor=name, contact=contact, by=by,
                                                           **_common(as_of, key))), as_json)


@app.command()
def sweep(as_of: Optional[str] = typer.Option(None, "--as-of", help="the day to sweep (default today)"),
          force: bool = typer.Option(False, "--force", help="sweep even on a non-working day"), as_json: bool = JSON):
    """Run the daily deadline sweep now (the schedule runs it at 09:00 on working days)."""
    from flows.schedules import sweep_deadlines
    from stages.clock import as_datetime

    out = _run_flow(sweep_deadlines, as_of=as_datetime(as_of), db=State.db, force=force)
    if as_json:
        _print_json(out)
    elif out.get("skipped"):
        typer.echo(f"{out['day']}: skipped ({out['skipped']}); --force to sweep anyway")
    else:
        f = out["fired"]
        typer.echo(f"{out['day']}: {out['open']} open milestones — green {out['lights']['green']}, yellow "
                   f"{out['lights']['yellow']}, red {out['lights']['red']}; reminders: advance {f['advance']}, "
                   f"催办 {f['urge']}, escalated {f['escalate']}; {out['notices']} notices"
                   + (f"; caught up {out['missed_workdays_caught_up']} missed working days"
                      if out["missed_workdays_caught_up"] else ""))


@app.command()
def meeting(milestone: str = typer.Argument(..., help="kickoff / midterm / final_review"),
            at: str = typer.Option(..., "--at", help="meeting time YYYY-MM-DDTHH:MM"),
            topic: list[str] = typer.Option([], "--topic", help="topic key (repeatable)"),
            dept: Optional[str] = typer.Option(None, "--dept", help="batch the open topics this department leads"),
            place: Optional[str] = typer.Option(None, "--place"), attendees: Optional[str] = typer.Option(None, "--attendees"),
            by: str = typer.Option("区发改委", "--by"), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
            as_json: bool = JSON):
    """Schedule a 开题 / 中期 / 结题评审 meeting and issue its 通知."""
    from flows.actions import MeetingRequest, schedule_meeting
    from stages.clock import as_datetime

    req = MeetingRequest(milestone=milestone, at=as_datetime(at), topics=topic, dept=dept, place=place,
                         attendees=attendees, by=by, **_common(as_of, key))
    _report(_run_flow(schedule_meeting, req), as_json)


@app.command("notices")
def notices_list(kind: Optional[str] = typer.Option(None, "--kind"), issued: bool = typer.Option(False, "--issued",
                 help="only issued documents"), as_json: bool = JSON):
    """The notices this cycle has issued or recorded."""
    from sqlmodel import Session, select

    from stages.models import Notice

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


notice_app = typer.Typer(help="One notice: render it.")
app.add_typer(notice_app, name="notice")


@notice_app.command("render")
def notice_render(notice_id: int, fmt: str = typer.Option("docx", "--format", help="docx or md"),
                  out: Path = typer.Option(Path("."), "--out", help="directory to write into")):
    """Render a filed notice again (the same bytes as when it was issued) into DIR."""
    import hashlib

    from sqlmodel import Session

    from stages.notices import render_notice

    if fmt not in ("docx", "md"):
        raise PlancycleError(f"--format must be docx or md, not {fmt!r}")
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
    typer.echo(f"{path}" + ("" if same else "  (differs from the filed checksum: the template changed since)"))


report_app = typer.Typer(help="Reports.")
app.add_typer(report_app, name="report")


@report_app.command("monthly")
def report_monthly(month: Optional[str] = typer.Option(None, "--month", help="YYYY-MM (default: this month, on or after its report day)"),
                   as_of: Optional[str] = AS_OF, as_json: bool = JSON):
    """The monthly progress report (by the 25th), per department and per item."""
    import re

    from flows.schedules import monthly_progress_report
    from stages.clock import as_datetime

    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise PlancycleError(f"--month must be YYYY-MM, not {month!r}")
    out = _run_flow(monthly_progress_report, month=month, as_of=as_datetime(as_of) if as_of else None, db=State.db)
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


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="where notices, ledger and calendar go"),
         seed: int = typer.Option(2019, "--seed", help="same seed, same result"),
         db: Optional[str] = typer.Option(None, "--db", help="database URL (default DIR/plancycle-demo.db, made fresh)"),
         until: Optional[str] = typer.Option(None, "--until", help="stop the simulated clock early (YYYY-MM-DD)")):
    """Run the whole 14th-FYP cycle (2019-06 … 2021-06) on a simulated clock through the real flows."""
    from rich.console import Console
    from rich.table import Table

    from app.demo import run_demo

    console = Console()
    from app.demo import END

    stop = _date(until, "--until") if until else END
    s = run_demo(out, seed, db or State.db, console, stop)
    t = Table(title=f"plancycle demo — seed {seed}", show_header=False, title_justify="left")
    t.add_row("cycle complete on", str(s["complete_on"] or "not complete by 2021-06-30"))
    t.add_row("items", ", ".join(f"{k} {v}" for k, v in sorted(s["items"].items()))
              + f" ({s['special_plans_rejected']} special plans not confirmed)")
    t.add_row("notices issued", f"{s['notices']}: " + ", ".join(f"{k} {v}" for k, v in sorted(s["notices_by_kind"].items())))
    t.add_row("reminders", ", ".join(f"{k} {v}" for k, v in sorted(s["reminders"].items())))
    t.add_row("late / returned", f"{s['items_with_late_submissions']} items delivered something late; "
                                 f"{s['milestones_returned']} milestones returned and resubmitted")
    t.add_row("unfinished milestones", str(s["milestones_unfinished"]))
    t.add_row("time", f"simulation {s['sim_seconds']} s ({s['flow_runs']} flow runs, {s['flow_seconds']} s in them), "
                      f"export {s['export_seconds']} s")
    t.add_row("outputs", f"{s['notices_dir']} (.docx + .md), {s['ledger']}, {s['calendar']}")
    console.print(t)


@app.command()
def serve(limit: Optional[int] = typer.Option(None, "--limit", help="at most this many concurrent runs")):
    """Serve every deployment in prefect.yaml with its schedule (daily sweep 09:00, monthly report) until Ctrl-C."""
    import os

    from prefect import serve as prefect_serve

    from flows.deployments import runner_deployments

    if State.db:
        os.environ["PLANCYCLE_DATABASE_URL"] = State.db
    prefect_serve(*runner_deployments(db=State.db), limit=limit)


def main() -> None:
    import os

    from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

    # Before anything imports Prefect: its INFO logs and telemetry (which cannot reach out from here anyway)
    # are noise on a command line. Users who want them set these variables themselves.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    command = typer.main.get_command(app)
    try:
        rv = command.main(standalone_mode=False, prog_name="plancycle")
    except PlancycleError as exc:
        sys.stderr.write(f"plancycle: error: {exc}\n")
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.stderr.write("plancycle: aborted\n")
        sys.exit(130)
    except (ArgumentError, OperationalError) as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        sys.stderr.write(f"plancycle: error: database: {first}\n")
        sys.exit(2)
    except SQLAlchemyError as exc:
        sys.stderr.write(f"plancycle: error: database: {str(exc).splitlines()[0]}\n")
        sys.exit(2)
    if isinstance(rv, int) and rv:
        sys.exit(rv)


if __name__ == "__main__":
    main()
