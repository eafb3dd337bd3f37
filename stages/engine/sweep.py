"""The daily deadline sweep and the monthly progress report: set-based SQL, idempotent, catching up.

Owns: ``sweep(session, as_of)`` — classify every open milestone of every run (green / yellow / red) and fire
the reminder ladder — and ``monthly_report(session, spec, month)``. Does not own: scheduling (Prefect
deployments in ``flows/``), messages or documents.

The ladder, per milestone and per version of its deadline (an extension starts it again):

* ``advance`` (提前提醒): once, when the deadline is within ``yellow_within_workdays`` working days;
* ``urge`` (催办): once, on the first sweep after the deadline — the due date's next working day;
* ``escalate`` (督办): once, when ``escalate_after_workdays`` working days overdue.

The rungs are facts; what reaches people is decided elsewhere: 提前提醒 and 催办 become messages to the unit's
liaison (``stages.paperwork.messages``), the 督办 rung is batched into a periodic 督办通知 (``stages.paperwork.drafting``).

Each rung is a row in ``reminder`` under a unique key (milestone, due version, rung), written by one
``INSERT … SELECT … ON CONFLICT DO NOTHING`` per rung over the indexed (run, status, due_date) columns: the
database does the work, however many rows, and running the sweep twice on one day fires nothing the second
time. Conditions are cumulative (``due < today``), so a sweep after missed days fires every rung that became due
meanwhile. The calendar turns the working-day windows into two plain dates before the SQL runs.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import JSON, and_, case, func, literal, select as sa_select
from sqlmodel import Session, select

from stages.definition.calendar import WorkCalendar
from stages.ground.clock import as_datetime, now
from stages.ground.errors import PlancycleError
from stages.store.models import AuditEvent, CycleRun, Item, Milestone, Notice, Reminder, Submission
from stages.definition.spec import CycleSpec
from stages.store.runs import find_run, insert_ignore

OPEN_STATES = ("open", "returned")
COUNT = {"preserve_rowcount": True}  # SQLAlchemy 2 keeps an INSERT's rowcount only when asked (psycopg gave -1)
RUNGS = ("advance", "urge", "escalate")


def yellow_cutoff(cal: WorkCalendar, day: dt.date, n: int) -> dt.date:
    """The latest due date that is within ``n`` working days of ``day``."""
    d = day
    while cal.workdays_ahead(day, d + dt.timedelta(days=1)) <= n:
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


_insert_ignore = insert_ignore


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
    last = _last_sweep_day(session)
    caught_up = cal.workdays_between(last, day) - 1 if last and last < day else 0
    result = {"day": day.isoformat(), "runs": len(runs), "open": sum(lights.values()), "lights": lights,
              "fired": fired,
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
    parts = str(text).split("-")
    try:
        year, mon = (int(x) for x in parts)
        dt.date(year, mon, 1)
    except ValueError:
        raise PlancycleError("engine.month_invalid", month=text) from None
    return year, mon


def report_day(cal: WorkCalendar, year: int, month: int, day: int = 25) -> dt.date:
    """The month's report day (the notice settings' ``documents.monthly_report.day``, 25 by default), or the
    working day before it when it is not a working day."""
    return cal.previous_workday(dt.date(year, month, day), include_self=True)


def monthly_report(session: Session, spec: CycleSpec, cal: WorkCalendar, month: str, as_of=None,
                   day: int = 25) -> dict:
    """Per department and per item: what was due this month, what arrived, what is late (as of the report day,
    the ``day`` of the month or the working day before)."""
    year, mon = parse_month(month)
    first = dt.date(year, mon, 1)
    nxt = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    rday = report_day(cal, year, mon, day)
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
