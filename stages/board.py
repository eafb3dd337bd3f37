"""The board: where every item and milestone of a run stands on a given day. Read-only.

Owns: ``board(session, spec, as_of)``, the data behind ``plancycle status`` and ``--json``: stages with their
gates, items per track with their current milestone, every milestone's due date, status and traffic light,
and counts. A handful of queries whatever the size of the run; no Prefect, no writes.

The reading and the computing are apart: :func:`run_rows` reads a run's rows through a Session (any database),
:func:`board_of` computes the board from plain rows. ``stages.sqlite_rows`` reads the same rows with the standard
library's sqlite3 for the CLI's fast read path (``app.fastread``), which does not import SQLAlchemy; both paths
share :func:`board_of`, so what they print is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .clock import as_datetime
from .gates import evaluate, facts_from
from .spec import TRACK_OF_KIND, CycleSpec
from .status import LABEL_ZH, Status, is_overdue, traffic_light

TRACK_ORDER = ("topics", "special_plans", "outline", "tasks")


@dataclass
class RunRows:
    """A run's rows as the views read them: ORM objects, or plain records with the same attribute names and
    Python types (``stages.sqlite_rows``).

    ``run``: id, spec_id, title, spec_version, current_stage, status. ``items`` by id: id, key, kind, title,
    stage, lead, cooperating, status, no, open_call, contractor, contractor_contact. ``milestones`` by item id and
    seq: item_id, item_key, ms_id, name, stage, owner, status, due_date, original_due, due_version, submitted_at,
    returns. ``approvals``: (body, subject) pairs. ``stages``: stage_id, status, opened_at, closed_at,
    override_reason.
    """

    run: Any
    items: list
    milestones: list
    approvals: list
    stages: list


def run_rows(session, spec: CycleSpec) -> RunRows:
    """The rows of ``spec``'s run, read through a Session."""
    from sqlmodel import select

    from .models import Decision, Item, Milestone, StageState
    from .services import find_run

    run = find_run(session, spec.id)
    items = session.exec(select(Item).where(Item.run_id == run.id).order_by(Item.id)).all()
    rows = session.exec(select(Milestone).where(Milestone.run_id == run.id)
                        .order_by(Milestone.item_id, Milestone.seq)).all()
    approvals = session.exec(select(Decision.body, Decision.subject)
                             .where(Decision.run_id == run.id, Decision.kind == "approve")).all()
    stages = session.exec(select(StageState).where(StageState.run_id == run.id)).all()
    return RunRows(run, list(items), list(rows), [tuple(a) for a in approvals], list(stages))


def _targets(spec: CycleSpec) -> dict:
    """(item key, milestone id) → the figures the milestone is to reach (schema 2), as the board shows them."""
    out = {}
    for it in spec.items:
        for m in it.milestones:
            if m.targets:
                out[(it.key, m.id)] = [{"value": t.value, "unit": t.unit, "of": t.of, "cumulative": t.cumulative}
                                       for t in m.targets]
    return out


def board(session, spec: CycleSpec, as_of=None, *, dept: str | None = None, stage: str | None = None,
          late_only: bool = False) -> dict:
    from .services import calendar_for

    return board_of(run_rows(session, spec), spec, calendar_for(spec), as_of, dept=dept, stage=stage,
                    late_only=late_only)


def board_of(rows: RunRows, spec: CycleSpec, cal, as_of=None, *, dept: str | None = None, stage: str | None = None,
             late_only: bool = False) -> dict:
    """The board computed from a run's rows and the spec's working-day calendar ``cal``."""
    when = as_datetime(as_of)
    day = when.date()
    yellow = spec.file.reminders.yellow_within_workdays
    run, items = rows.run, rows.items
    stages = {s.stage_id: s for s in rows.stages}

    dept_short = spec.department(dept).short if dept else None
    by_item: dict[int, list] = {}
    for m in rows.milestones:
        by_item.setdefault(m.item_id, []).append(m)
    facts = facts_from([(i.key, i.kind, i.status) for i in items],
                       [(m.item_key, m.ms_id, m.status) for m in rows.milestones], rows.approvals)

    def light(m) -> str:
        left = None
        if m.status not in ("accepted", "waived") and m.due_date >= day and (m.due_date - day).days <= 3 * yellow + 14:
            left = cal.workdays_between(day, m.due_date)
        return traffic_light(m.status, m.due_date, day, left, yellow)

    targets = _targets(spec)
    out_items = []
    counts_status: dict[str, int] = {s.value: 0 for s in Status}
    counts_light = {"green": 0, "yellow": 0, "red": 0, "done": 0}
    for it in items:
        ms_out = []
        for m in by_item.get(it.id, []):
            lt = light(m)
            late = cal.workdays_between(m.due_date, day) if is_overdue(m.status, m.due_date, day) else 0
            ms_out.append({"id": m.ms_id, "name": m.name, "stage": m.stage, "owner": m.owner, "status": m.status,
                           "status_zh": LABEL_ZH[Status(m.status)], "due": m.due_date.isoformat(),
                           "original_due": m.original_due.isoformat(), "due_version": m.due_version,
                           "light": lt, "overdue": is_overdue(m.status, m.due_date, day), "workdays_late": late,
                           "submitted_at": m.submitted_at.isoformat() if m.submitted_at else None,
                           "returns": m.returns})
            if targets and (it.key, m.ms_id) in targets:
                ms_out[-1]["targets"] = targets[(it.key, m.ms_id)]
        current = next((x for x in ms_out if x["status"] not in ("accepted", "waived")), None)
        if dept_short and dept_short not in it.lead and not any(x["owner"] == dept_short for x in ms_out):
            continue
        if stage and not (it.stage == stage or any(x["stage"] == stage for x in ms_out)):
            continue
        if late_only and not any(x["overdue"] for x in ms_out):
            continue
        for x in ms_out:
            counts_status[x["status"]] += 1
            counts_light[x["light"]] += 1
        entry = {"key": it.key, "kind": it.kind, "track": TRACK_OF_KIND[it.kind], "title": it.title, "stage": it.stage,
                 "lead": list(it.lead), "cooperating": list(it.cooperating), "status": it.status,
                 "current": current, "light": current["light"] if current else "done", "milestones": ms_out}
        if it.kind == "topic":
            entry.update(no=it.no, open_call=it.open_call, contractor=it.contractor,
                         contractor_contact=it.contractor_contact)
        if it.kind in ("task", "topic"):
            try:
                sp = spec.item(it.key)
                entry["ref"] = sp.ref
                if sp.domain:
                    entry["domain"] = sp.domain
            except KeyError:
                pass
        out_items.append(entry)

    out_stages = []
    for st in spec.stages:
        state = stages.get(st.id)
        g = evaluate(spec, st.exit_gate, facts) if st.exit_gate else None
        out_stages.append({"id": st.id, "name": st.name, "window": [st.start_date.isoformat(), st.end_date.isoformat()],
                           "status": state.status if state else "pending",
                           "opened_at": state.opened_at.isoformat() if state and state.opened_at else None,
                           "closed_at": state.closed_at.isoformat() if state and state.closed_at else None,
                           "override_reason": state.override_reason if state else None,
                           "exit_gate": st.exit_gate, "gate_met": g.ok if g else None,
                           "gate_missing": list(g.missing) if g else []})
    by_track = {t: sum(1 for i in out_items if i["track"] == t) for t in TRACK_ORDER}
    return {
        "cycle": {"id": run.spec_id, "title": run.title, "version": run.spec_version, "current_stage": run.current_stage,
                  "status": run.status},
        "as_of": when.isoformat(),
        "filters": {"dept": dept_short, "stage": stage, "late": late_only},
        "stages": out_stages,
        "counts": {"items": len(out_items), "items_by_track": by_track,
                   "milestones": sum(counts_status.values()), "by_status": counts_status, "by_light": counts_light},
        "items": out_items,
    }
