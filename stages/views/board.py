"""The board: where every item and milestone of a run stands on a given day. Read-only.

Owns: ``board(session, spec, as_of)``, the data behind ``plancycle status`` and ``--json``: stages with their
gates, items per track with their current milestone, every milestone's due date, status and traffic light,
and counts. A handful of queries whatever the size of the run; no Prefect, no writes.

The reading and the computing are apart: ``stages.store.rows.run_rows`` reads a run's rows through a Session (any database),
:func:`board_of` computes the board from plain rows. ``stages.store.sqlite_rows`` reads the same rows with the standard
library's sqlite3 for the CLI's fast read path (``app.fastread``), which does not import SQLAlchemy; both paths
share :func:`board_of`, so what they print is the same.
"""

from __future__ import annotations

from stages.ground.clock import as_datetime
from stages.rules.gates import evaluate, facts_from
from stages.definition.spec import KIND_OF_TRACK, TRACK_OF_KIND, CycleSpec
from stages.store.rows import RunRows, run_rows, standing_figures  # noqa: F401  (read here, kept importable)
from stages.rules.status import LABEL_ZH, Status, is_overdue, traffic_light

TRACK_ORDER = ("topics", "special_plans", "outline", "tasks")


def _targets(spec: CycleSpec) -> dict:
    """(item key, milestone id) → the figures the milestone is to reach (schema 2), as the board shows them."""
    out = {}
    for it in spec.items:
        for m in it.milestones:
            if m.targets:
                out[(it.key, m.id)] = [{"value": t.value, "unit": t.unit, "of": t.of, "cumulative": t.cumulative,
                                        "direction": t.direction} for t in m.targets]
    return out


PROGRESS_ZH = {"behind": "欠进度", "on": "达进度", "ahead": "超进度"}
_PROGRESS_RANK = {"behind": 0, "on": 1, "ahead": 2}


def progress_of(target: float, actual: float, direction: str = "up") -> str:
    """欠 / 达 / 超进度: the actual figure short of the target, at it, or beyond it (``down``: less is better)."""
    diff = (actual - target) if direction == "up" else (target - actual)
    if abs(diff) <= 1e-9 * max(1.0, abs(target)):
        return "on"
    return "ahead" if diff > 0 else "behind"


def _actuals(rows: "RunRows", spec: CycleSpec, day) -> dict:
    """The latest figure recorded on or before ``day``: by (subject, of), and, from periodic reports only, by
    (unit, of)."""
    reports = {it.key for it in spec.items if it.milestones and it.milestones[0].period}
    by_subject: dict = {}
    by_unit: dict = {}
    for f in rows.figures:  # the standing ones (run_rows drops a returned or superseded submission's)
        if f.at.date() > day:
            continue
        by_subject[(f.subject, f.of)] = f
        if f.subject.partition(":")[0] in reports:
            by_unit[(f.by, f.of)] = f
    return {"subject": by_subject, "unit": by_unit}


def period_end(period: str):
    """The last day of a report's period: 2019-03 → 2019-03-31, 2019-Q2 → 2019-06-30, 2021 → 2021-12-31, a date
    → itself; None for anything else."""
    import calendar
    import datetime as dt
    import re

    m = re.fullmatch(r"(\d{4})(?:-(\d{2})|-Q([1-4]))?(?:-(\d{2}))?", period or "")
    if not m:
        return None
    y = int(m.group(1))
    if m.group(4):
        return dt.date.fromisoformat(period)
    month = int(m.group(2)) if m.group(2) else (int(m.group(3)) * 3 if m.group(3) else 12)
    return dt.date(y, month, calendar.monthrange(y, month)[1])


def _same_quarter(end, due) -> bool:
    return end is not None and end <= due and (end.year, (end.month - 1) // 3) == (due.year, (due.month - 1) // 3)


def _with_actuals(item_key: str, ms_id: str, owner: str, lead, targets: list, actuals: dict, due, day) -> tuple:
    """The milestone's targets with the actual figure each has (its own submission's; else, up to its deadline,
    the latest a report of its unit gave) and the 欠/达/超 light; and the milestone's light (the worst)."""
    out, lights = [], []
    for t in targets:
        t = dict(t)
        of = t["of"] or ""
        f = actuals["subject"].get((f"{item_key}:{ms_id}", of))
        if f is None and day <= due:  # a report's figure: named for this task (t02:全年目标), else by its name,
            # for a period that ends in the quarter the target closes, on or before its deadline
            cands = [actuals["unit"].get((u, name)) for u in dict.fromkeys([owner, *lead])
                     for name in (f"{item_key}:{of}", of)]
            cands = [c for c in cands if c is not None and _same_quarter(period_end(c.period), due)]
            f = max(cands, key=lambda c: c.at) if cands else None
        if f is not None:
            t.update(actual=f.value, actual_unit=f.unit, reported_at=f.at.isoformat(), period=f.period,
                     reported_by=f.by, progress=progress_of(t["value"], f.value, t.get("direction", "up")))
            t["progress_zh"] = PROGRESS_ZH[t["progress"]]
            lights.append(t["progress"])
        out.append(t)
    worst = min(lights, key=_PROGRESS_RANK.get) if lights else None
    return out, worst


def board(session, spec: CycleSpec, as_of=None, *, dept: str | None = None, stage: str | None = None,
          late_only: bool = False) -> dict:
    from stages.engine import calendar_for

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
        if m.status not in ("accepted", "waived", "dormant") and m.due_date >= day and (m.due_date - day).days <= 3 * yellow + 14:
            left = cal.workdays_ahead(day, m.due_date)
        return traffic_light(m.status, m.due_date, day, left, yellow)

    targets = _targets(spec)
    actuals = _actuals(rows, spec, day) if targets and rows.figures else None
    out_items = []
    counts_status: dict[str, int] = {s.value: 0 for s in Status}
    counts_light = {"green": 0, "yellow": 0, "red": 0, "done": 0, "dormant": 0}
    counts_progress = {"behind": 0, "on": 0, "ahead": 0}
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
                if actuals is not None:
                    ms_out[-1]["targets"], progress = _with_actuals(it.key, m.ms_id, m.owner, it.lead,
                                                                   targets[(it.key, m.ms_id)], actuals, m.due_date, day)
                    if progress:
                        ms_out[-1]["progress"] = progress
                        ms_out[-1]["progress_zh"] = PROGRESS_ZH[progress]
        # the first milestone still owed; else one waiting dormant (an optional step not called for yet)
        current = next((x for x in ms_out if x["status"] not in ("accepted", "waived", "dormant")), None) or \
            next((x for x in ms_out if x["status"] == "dormant"), None)
        if dept_short and dept_short not in it.lead and not any(x["owner"] == dept_short for x in ms_out):
            continue
        if stage and not (it.stage == stage or any(x["stage"] == stage for x in ms_out)):
            continue
        if late_only and not any(x["overdue"] for x in ms_out):
            continue
        for x in ms_out:
            counts_status[x["status"]] += 1
            counts_light[x["light"]] += 1
            if x.get("progress"):
                counts_progress[x["progress"]] += 1
        entry = {"key": it.key, "kind": it.kind, "track": TRACK_OF_KIND[it.kind], "title": it.title, "stage": it.stage,
                 "lead": list(it.lead), "cooperating": list(it.cooperating), "status": it.status,
                 "current": current, "light": current["light"] if current else "done", "milestones": ms_out}
        # the item's 欠/达/超进度: its current milestone's, else the last one that has a figure
        measured = [x for x in ms_out if x.get("progress")]
        shown = current if current and current.get("progress") else (measured[-1] if measured else None)
        if shown:
            entry["progress"], entry["progress_zh"] = shown["progress"], shown["progress_zh"]
        if it.kind == "topic":
            entry.update(no=it.no, open_call=it.open_call, contractor=it.contractor,
                         contractor_contact=it.contractor_contact)
        if it.kind in ("task", "topic"):
            try:
                sp = spec.item(it.key)
                entry["ref"] = sp.ref
                if sp.domain:
                    entry["domain"] = sp.domain
                if sp.part_of:
                    entry["part_of"] = sp.part_of
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
        # the cycle's own names for its tracks, where the file gives one (lifecycles.topic.name: 前期重大课题)
        "track_names": {t: spec.lifecycles[KIND_OF_TRACK[t]].name for t in TRACK_ORDER
                        if KIND_OF_TRACK[t] in spec.lifecycles and t != "outline"},
        "stages": out_stages,
        "counts": {"items": len(out_items), "items_by_track": by_track,
                   "milestones": sum(counts_status.values()), "by_status": counts_status, "by_light": counts_light,
                   **({"by_progress": counts_progress} if targets else {})},
        "items": out_items,
    }
