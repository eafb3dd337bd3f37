"""Scheduled flows: the daily deadline sweep and the monthly progress report.

Both are deployed with a cron schedule in Asia/Shanghai (``prefect.yaml``) and run by ``plancycle serve`` or a
Prefect worker. Both are idempotent and catch up: the sweep's rungs are cumulative, and the report is filed
once per month on or after its report day. Whether today is a sweep day or a report day is the domain's call.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from prefect import flow
from sqlmodel import Session, select

from stages.ground.clock import as_datetime
from stages.ground.errors import PlancycleError
from stages.ground.i18n import Msg
from stages.store.models import AuditEvent
from stages.engine import calendar_for
from stages.paperwork.drafting import monthly_report as record_monthly_report, supervision
from stages.paperwork.drafting import report_day_of
from stages.engine.sweep import parse_month, should_sweep, sweep

from .common import all_runs, current_flow_run_id, emit_events, engine_for, refused


def _skipped(why: Msg) -> dict:
    """Why a scheduled run did nothing: as text (a flow's result is plain data) and as its message code."""
    return {"skipped": str(why), "skipped_code": why.code}


@flow(name="sweep-deadlines")
def sweep_deadlines(as_of: Optional[dt.datetime] = None, db: Optional[str] = None, force: bool = False) -> dict:
    """Classify every open milestone and fire the reminder ladder (daily, 09:00 Asia/Shanghai, working days)."""
    try:
        when = as_datetime(as_of)
        eng = engine_for(db)
        with Session(eng) as session:
            runs, specs = all_runs(session)
            if not runs:
                raise PlancycleError("store.no_run")
            cal = calendar_for(next(iter(specs.values())))
            if not force and not should_sweep(cal, when.date()):
                return {"day": when.date().isoformat(), **_skipped(Msg("flows.not_a_workday"))}
            before = session.exec(select(AuditEvent.id).order_by(AuditEvent.id.desc())).first() or 0
            result = sweep(session, specs, cal, when, flow_run_id=current_flow_run_id())
            # 提前提醒 and 催办 as messages to the units' liaisons (the outbox; `deliver-messages` sends them)
            from stages.paperwork.messages import enqueue_reminders

            result["messages"] = enqueue_reminders(session, when, cal=cal)
            # the periodic 督办通知 (a draft for sign-off) for work past the 督办 rung, in the same transaction
            result["drafts"] = [n.id for n in supervision(session, specs, cal, when,
                                                          flow_run_id=current_flow_run_id())]
            session.commit()
            ran = session.exec(select(AuditEvent).where(AuditEvent.id > before, AuditEvent.action == "sweep.ran")).all()
            spec_of_run = {r.id: r.spec_id for r in runs}
        if current_flow_run_id() is not None:  # called in-process, no Prefect: nothing to emit to
            for spec_id in specs:
                emit_events(spec_id, [a for a in ran if spec_of_run[a.run_id] == spec_id])
        if result.get("messages"):  # after the commit: a channel that is down never holds the sweep's work back
            from flows.delivery import deliver

            result["delivery"] = deliver(db, when)
        return result
    except PlancycleError as exc:
        return refused(exc)


@flow(name="monthly-report")
def monthly_progress_report(month: Optional[str] = None, as_of: Optional[dt.datetime] = None,
                            db: Optional[str] = None, force: bool = False) -> dict:
    """File the month's progress report on its day (``documents.monthly_report.day``, 25 by default; the working
    day before when that is not one): the first run on or after it files it, once a month."""
    try:
        when = as_datetime(as_of)
        eng = engine_for(db)
        out = {}
        with Session(eng) as session:
            runs, specs = all_runs(session)
            if not runs:
                raise PlancycleError("store.no_run")
            for run in runs:
                spec = specs[run.spec_id]
                cal = calendar_for(spec)
                m = month or f"{when.year:04d}-{when.month:02d}"
                y, mo = parse_month(m)
                rday = report_day_of(spec, cal, y, mo)
                if not force and month is None and when.date() < rday:
                    out[run.spec_id] = {"month": m, **_skipped(Msg("flows.report_day_later", day=rday.isoformat()))}
                    continue
                report, new = record_monthly_report(session, spec, cal, m, as_of=when if month is None else None,
                                                    flow_run_id=current_flow_run_id())
                out[run.spec_id] = {"month": report["month"], "new": new, "totals": report["totals"],
                                    "report": report}
            session.commit()
            audit = session.exec(select(AuditEvent).where(AuditEvent.action == "report.monthly",
                                                          AuditEvent.flow_run_id == current_flow_run_id())).all()
        if current_flow_run_id() is not None:
            for spec_id in specs:
                emit_events(spec_id, audit)
        return out
    except PlancycleError as exc:
        return refused(exc)
