"""The daily deadline sweep and the monthly progress report: set-based SQL, idempotent, catching up.

Owns: ``sweep(session, as_of)`` — classify every open milestone of every run (green / yellow / red) and fire
the reminder ladder — and ``monthly_report(session, spec, month)``. Does not own: scheduling (Prefect
deployments in ``flows/``) or rendering notices.

The ladder, per milestone and per version of its deadline (an extension starts it again):

* ``advance`` (提前提醒): once, when the deadline is within ``yellow_within_workdays`` working days;
* ``urge`` (催办): once, on the first sweep after the deadline — the due date's next working day;
* ``escalate`` (报区发改委督办): once, when ``escalate_after_workdays`` working days overdue.

Each rung is a row in ``reminder`` under a unique key (milestone, due version, rung), written by one
``INSERT … SELECT … ON CONFLICT DO NOTHING`` per rung over the indexed (run, status, due_date) columns: the
database does the work, however many rows, and running the sweep twice on one day fires nothing the second
time. Conditions are cumulative (``due < today``), so a sweep after missed days fires every rung that became due
meanwhile. The calendar turns the working-day windows into two plain dates before the SQL runs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import JSON, and_, case, func, literal, select as sa_select
from sqlmodel import Session, select

from .calendar import WorkCalendar
from .clock import as_datetime, now
from .models import AuditEvent, CycleRun, Item, Milestone, Notice, Reminder, Submission
from .spec import CycleSpec

OPEN_STATES = ("open", "returned")
COUNT = {"preserve_rowcount": True}  # SQLAlchemy 2 keeps an INSERT's rowcount only when asked (psycopg gave -1)
RUNGS = ("advance", "urge", "escalate")


def yellow_cutoff(cal: WorkCalendar, day: dt.date, n: int) -> dt.date:
    """The latest due date that is within ``n`` working days of ``day``."""
    d = day
    while cal.workdays_between(day, d + dt.timedelta(days=1)) <= n:
        d += dt.timedelta(days=1)
    return d


def escalation_cutoff(cal: WorkCalendar, day: dt.date, m: int) -> dt.date:
    """The latest due date that is at least ``m`` working days overdue on ``day``."""
    d = day
    while cal.workdays_between(d, day) < m:
        d -= dt.timedelta(days=1)
    return d


def should_sweep(cal: WorkCalendar, day: dt.date) -> bool:
    """The schedule fires every day at 09:00; the sweep works on working days only (调休 Saturdays included),
    which a Mon–Fri cron could not express."""
    return cal.is_workday(day)


def _insert_ignore(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def sweep(session: Session, specs: dict[str, CycleSpec], cal: WorkCalendar, as_of=None, *,
          flow_run_id: str | None = None) -> dict:
    """Classify and remind across every active run in the database. Returns counts; does not commit."""
    when = as_datetime(as_of)
    day = when.date()
    runs = session.exec(select(CycleRun.id, CycleRun.spec_id).where(CycleRun.status == "active")).all()
    by_rules: dict[tuple[int, int], list[int]] = defaultdict(list)
    for run_id, spec_id in runs:
        rules = specs[spec_id].file.reminders if spec_id in specs else None
        n, m = (rules.yellow_within_workdays, rules.escalate_after_workdays) if rules else (5, 5)
        by_rules[(n, m)].append(run_id)

    lights: dict[str, int] = {"green": 0, "yellow": 0, "red": 0}
    fired = {r: 0 for r in RUNGS}
    insert = _insert_ignore(session)
    M = Milestone.__table__
    R = CycleRun.__table__
    for (n, m), run_ids in by_rules.items():
        ycut = yellow_cutoff(cal, day, n)
        ecut = escalation_cutoff(cal, day, m)
        # one rule set (the usual case): a subquery, not a list of thousands of run ids
        in_runs = (M.c.run_id.in_(sa_select(R.c.id).where(R.c.status == "active")) if len(by_rules) == 1
                   else M.c.run_id.in_(run_ids))
        open_ = and_(in_runs, M.c.status.in_(OPEN_STATES))
        light = case((M.c.due_date < day, "red"), (M.c.due_date <= ycut, "yellow"), else_="green")
        for lt, count in session.execute(sa_select(light, func.count()).where(open_).group_by(light)):
            lights[lt] += count
        # Each rung visits only the rows that have not had it: ``ladder IN (…)`` is equality on the index
        # (status, ladder, due_date), so a daily sweep reads what crossed a threshold, not every overdue row.
        windows = {
            "advance": (1, (0,), and_(M.c.due_date >= day, M.c.due_date <= ycut)),
            "urge": (2, (0, 1), M.c.due_date < day),
            "escalate": (3, (0, 1, 2), M.c.due_date <= ecut),
        }
        for rung, (level, below, cond) in windows.items():
            todo = and_(open_, M.c.ladder.in_(below), cond)
            src = sa_select(M.c.run_id, M.c.id, M.c.due_version, literal(rung), M.c.owner, M.c.due_date,
                            literal(day)).where(todo)
            stmt = insert(Reminder.__table__).from_select(
                ["run_id", "milestone_id", "due_version", "rung", "owner", "due_date", "sweep_day"], src
            ).on_conflict_do_nothing(index_elements=["milestone_id", "due_version", "rung"])
            fired[rung] += session.execute(stmt, execution_options=COUNT).rowcount or 0
        for rung, (level, below, cond) in reversed(list(windows.items())):  # highest rung first
            session.execute(M.update().where(open_, M.c.ladder.in_(below), cond).values(ladder=level))
    token = f"sweep:{when.isoformat()}:{uuid.uuid4().hex[:8]}:"
    notices = _reminder_notices(session, specs, runs, when, flow_run_id, token)
    last = _last_sweep_day(session)
    caught_up = cal.workdays_between(last, day) - 1 if last and last < day else 0
    result = {"day": day.isoformat(), "runs": len(runs), "open": sum(lights.values()), "lights": lights,
              "fired": fired, "notices": notices, "notice_token": token,
              "missed_workdays_caught_up": max(caught_up, 0)}
    A = AuditEvent.__table__
    session.execute(A.insert().from_select(
        ["run_id", "at", "recorded_at", "actor", "action", "target", "data", "flow_run_id"],
        sa_select(R.c.id, literal(when), literal(now()), literal("system"), literal("sweep.ran"),
                  literal(day.isoformat()), literal(result, type_=JSON),
                  literal(flow_run_id)).where(R.c.status == "active")))
    session.flush()
    return result


def _last_sweep_day(session: Session) -> dt.date | None:
    row = session.exec(select(func.max(AuditEvent.target)).where(AuditEvent.action == "sweep.ran")).first()
    return dt.date.fromisoformat(row) if row else None


def _json_array(session: Session, expr):
    if session.get_bind().dialect.name == "postgresql":
        return func.json_build_array(expr)
    return func.json_array(expr)


def _reminder_notices(session: Session, specs: dict[str, CycleSpec], runs, when: dt.datetime,
                      flow_run_id: str | None, token: str) -> int:
    """One 催办通知 per (run, department) for the rungs just fired; escalations, one per run, to the coordinator.

    Set-based like the rest: notices are created by INSERT … SELECT DISTINCT over the reminders that have no
    notice yet, and the reminders are then linked to them by one UPDATE. A notice's entries are read back by
    joining its reminders (``notice_entries``), not copied into it.
    """
    N, Rm = Notice.__table__, Reminder.__table__
    data = literal({"sweep_day": when.date().isoformat()}, type_=JSON)
    pending = Rm.c.notice_id.is_(None)
    made = 0
    # to the owners
    # DISTINCT over the plain key columns only: PostgreSQL has no equality for json, so the JSON is built outside
    owners = sa_select(Rm.c.run_id, Rm.c.owner).where(pending, Rm.c.rung != "escalate").distinct().subquery()
    made += session.execute(N.insert().from_select(
        ["run_id", "kind", "status", "recipients", "about", "data", "created_at", "flow_run_id", "idem_key"],
        sa_select(owners.c.run_id, literal("reminder"), literal("due"), _json_array(session, owners.c.owner),
                  owners.c.owner, data, literal(when), literal(flow_run_id), literal(token) + owners.c.owner)
    ), execution_options=COUNT).rowcount or 0
    session.execute(Rm.update().where(pending, Rm.c.rung != "escalate").values(
        notice_id=sa_select(N.c.id).where(N.c.run_id == Rm.c.run_id, N.c.idem_key == literal(token) + Rm.c.owner)
        .scalar_subquery()))
    # escalations, to each run's coordinator
    by_coord: dict[str, list[int]] = defaultdict(list)
    for run_id, spec_id in runs:
        spec = specs.get(spec_id)
        by_coord[spec.coordinator.short if spec else "区发改委"].append(run_id)
    for coord, run_ids in by_coord.items():
        scope = Rm.c.run_id.in_(run_ids) if len(by_coord) > 1 else literal(True)
        key = literal(token + "escalation")
        esc_runs = sa_select(Rm.c.run_id).where(pending, Rm.c.rung == "escalate", scope).distinct().subquery()
        made += session.execute(N.insert().from_select(
            ["run_id", "kind", "status", "recipients", "about", "data", "created_at", "flow_run_id", "idem_key"],
            sa_select(esc_runs.c.run_id, literal("escalation"), literal("due"), _json_array(session, literal(coord)),
                      literal(coord), data, literal(when), literal(flow_run_id), key)),
            execution_options=COUNT).rowcount or 0
        session.execute(Rm.update().where(pending, Rm.c.rung == "escalate", scope).values(
            notice_id=sa_select(N.c.id).where(N.c.run_id == Rm.c.run_id, N.c.idem_key == key).scalar_subquery()))
    session.flush()
    return made


def notice_entries(session: Session, notice_id: int, as_of: dt.date | None = None) -> list[dict]:
    """What a reminder or escalation notice lists: its milestones, due dates and days late."""
    rows = session.exec(select(Reminder, Milestone).join(Milestone, Milestone.id == Reminder.milestone_id)
                        .where(Reminder.notice_id == notice_id).order_by(Milestone.due_date, Milestone.item_key)).all()
    out = []
    for rem, ms in rows:
        day = as_of or rem.sweep_day
        out.append({"item": ms.item_key, "milestone": ms.ms_id, "name": ms.name, "owner": ms.owner,
                    "due": rem.due_date.isoformat(), "rung": rem.rung, "days_late": max((day - rem.due_date).days, 0)})
    return out


# -- the monthly progress report (seed 004: 每月25日前报送) ------------------------------------------------------------
def parse_month(text: str) -> tuple[int, int]:
    """``2019-07`` → (2019, 7); anything else is a one-line error."""
    from .errors import PlancycleError

    parts = str(text).split("-")
    try:
        year, mon = (int(x) for x in parts)
        dt.date(year, mon, 1)
    except ValueError:
        raise PlancycleError(f"month must be YYYY-MM, not {text!r}") from None
    return year, mon


def report_day(cal: WorkCalendar, year: int, month: int) -> dt.date:
    """The 25th, or the working day before it when the 25th is not a working day."""
    return cal.previous_workday(dt.date(year, month, 25), include_self=True)


def monthly_report(session: Session, spec: CycleSpec, cal: WorkCalendar, month: str, as_of=None) -> dict:
    """Per department and per item: what was due this month, what arrived, what is late (as of the report day)."""
    from .services import find_run

    year, mon = parse_month(month)
    first = dt.date(year, mon, 1)
    nxt = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    rday = report_day(cal, year, mon)
    cut = as_datetime(as_of).date() if as_of else rday
    run = find_run(session, spec.id)
    rows = session.exec(select(Milestone, Item.title).join(Item, Item.id == Milestone.item_id)
                        .where(Milestone.run_id == run.id, Milestone.due_date < nxt)
                        .order_by(Milestone.owner, Milestone.due_date, Milestone.item_key)).all()
    arrived = {mid: at for mid, at in session.exec(select(Submission.milestone_id, func.min(Submission.submitted_at))
                                                   .where(Submission.run_id == run.id)
                                                   .group_by(Submission.milestone_id))}
    depts: dict[str, dict] = {}
    for m, title in rows:
        due_this_month = first <= m.due_date < nxt
        late = m.status in ("pending", "open", "returned") and m.due_date < cut
        if not (due_this_month or late):
            continue
        d = depts.setdefault(m.owner, {"dept": m.owner, "due": 0, "arrived": 0, "late": 0, "items": []})
        got = arrived.get(m.id)
        entry = {"item": m.item_key, "title": title, "milestone": m.ms_id, "name": m.name,
                 "due": m.due_date.isoformat(), "status": m.status,
                 "arrived": got.date().isoformat() if got and got.date() <= cut else None,
                 "late": late, "workdays_late": cal.workdays_between(m.due_date, cut) if late else 0}
        d["items"].append(entry)
        d["due"] += due_this_month
        d["arrived"] += bool(entry["arrived"]) and due_this_month
        d["late"] += late
    out = sorted(depts.values(), key=lambda d: (-d["late"], d["dept"]))
    return {"cycle": spec.id, "month": f"{year:04d}-{mon:02d}", "report_day": rday.isoformat(), "as_of": cut.isoformat(),
            "totals": {k: sum(d[k] for d in out) for k in ("due", "arrived", "late")}, "departments": out}


def record_monthly_report(session: Session, spec: CycleSpec, cal: WorkCalendar, month: str, as_of=None,
                          flow_run_id: str | None = None) -> tuple[dict, bool]:
    """Compute the report and issue it as a numbered 报告, once per month (idempotent by ``monthly:YYYY-MM``)."""
    from . import notices as nt
    from .services import find_run, notices_config_path

    report = monthly_report(session, spec, cal, month, as_of)
    run = find_run(session, spec.id)
    key = f"monthly:{report['month']}"
    existing = session.exec(select(Notice).where(Notice.run_id == run.id, Notice.idem_key == key)).first()
    if existing is not None:
        return existing.data.get("report", report), False
    when = as_datetime(as_of or report["report_day"])
    cfg = nt.load_config(notices_config_path(spec))
    context = nt.monthly_report_context(spec, report)
    context["report"] = report
    nt.issue(session, run.id, "monthly_report", context, recipients=["区政府办公室", "区发展规划工作领导小组"],
             about=report["month"], as_of=when, flow_run_id=flow_run_id, key=key, cfg=cfg)
    session.add(AuditEvent(run_id=run.id, at=when, recorded_at=now(), actor="system", action="report.monthly",
                           target=report["month"], data={"totals": report["totals"]}, flow_run_id=flow_run_id))
    session.flush()
    return report, True


def issue_due_notices(session: Session, specs: dict[str, CycleSpec], limit: int | None = None) -> list[int]:
    """Render and number the reminder and escalation notices a sweep created (status ``due``)."""
    from . import notices as nt
    from .services import notices_config_path

    runs = {r.id: r.spec_id for r in session.exec(select(CycleRun))}
    q = select(Notice).where(Notice.status == "due", Notice.kind.in_(["reminder", "escalation"])).order_by(Notice.id)
    if limit:
        q = q.limit(limit)
    done = []
    for n in session.exec(q).all():
        spec = specs.get(runs[n.run_id])
        if spec is None:
            continue
        cfg = nt.load_config(notices_config_path(spec))
        c = nt.reminder_context(session, spec, n, spec.file.reminders.escalate_after_workdays)
        nt.issue(session, n.run_id, n.kind, c, recipients=n.recipients, about=n.about, as_of=n.created_at,
                 flow_run_id=n.flow_run_id, notice=n, cfg=cfg)
        done.append(n.id)
    return done
