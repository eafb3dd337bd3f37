"""Read-only views for the coordinator's console: the 主要工作节点 timeline, a department's inbox, an item's
history, the audit trail and the 台账 ledger rows. Pure reads over a Session; no Prefect, no writes.

Owns: what each view contains. Does not own: how it is printed or exported (``app/``).

The timeline and the inbox are computed from plain rows (:func:`timeline_of`, :func:`inbox_of`, over
``stages.views.board.RunRows``), so the CLI's fast read path (``app.fastread``, rows read with sqlite3) and the Session
path share one computation. This module imports SQLModel only inside the functions that query through it.
"""

from __future__ import annotations

import datetime as dt

from stages.store.rows import RunRows, run_rows
from stages.views.board import board, board_of
from stages.ground.clock import as_datetime
from stages.ground.errors import NotFound
from stages.definition.spec import KIND_OF_TRACK, CycleSpec
from stages.rules.status import DONE, Status, is_overdue


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_end(q: tuple[int, int]) -> dt.date:
    y, n = q
    return (dt.date(y + (n == 4), 1 if n == 4 else 3 * n + 1, 1) - dt.timedelta(days=1))


def _quarters(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    out, q = [], first
    while q <= last:
        out.append(q)
        q = (q[0] + (q[1] == 4), q[1] % 4 + 1)
    return out


def _covered(spec: CycleSpec, rows: list, items: dict, cover: str):
    """(planned start, planned due) pairs and live milestone rows a timeline cover names."""
    key, _, ms = cover.partition(":")
    plan: list[tuple[dt.date, dt.date]] = []
    if key in KIND_OF_TRACK:  # a track, optionally one milestone of it
        kind = KIND_OF_TRACK[key]
        if kind == "special_plan":
            lc = spec.lifecycles.get("special_plan")
            plan = [(m.start_date, m.due_date) for m in (lc.milestones if lc else ()) if not ms or m.id == ms]
        else:
            plan = [(m.start_date, m.due_date) for it in spec.items if it.kind == kind for m in it.milestones
                    if not ms or m.id == ms]
        live = [r for r in rows if items[r.item_key].kind == kind and items[r.item_key].status == "active"
                and (not ms or r.ms_id == ms)]
    else:  # an item, or a task split per lead unit (all its parts)
        parts = [it for it in spec.items if it.key == key or it.part_of == key]
        keys = {it.key for it in parts}
        plan = [(m.start_date, m.due_date) for it in parts for m in it.milestones if not ms or m.id == ms]
        live = [r for r in rows if r.item_key in keys and (not ms or r.ms_id == ms)]
    return plan, live


def timeline(session, spec: CycleSpec, as_of=None) -> dict:
    """Seed 000's 主要工作节点 table rebuilt: stages × quarters, each cell planned / done / late (or empty)."""
    return timeline_of(run_rows(session, spec), spec, as_of)


def timeline_of(run: RunRows, spec: CycleSpec, as_of=None) -> dict:
    """The timeline computed from a run's rows."""
    day = as_datetime(as_of).date()
    items = {i.key: i for i in run.items}
    rows = run.milestones
    built = []
    for row in spec.file.timeline:
        plan, live = [], []
        for cover in row.covers:
            p, lv = _covered(spec, rows, items, cover)
            plan += p
            live += lv
        if not plan:  # covers nothing dated (the loader refuses such a row; a spec made otherwise may have one)
            continue
        first = quarter_of(min(s for s, _ in plan))
        last = quarter_of(max(d for _, d in plan))
        built.append((row, first, last, live))
    quarters = _quarters(min(b[1] for b in built), max(b[2] for b in built)) if built else []  # no rows: no table
    out_rows = []
    for row, first, last, live in built:
        cells = {}
        dormant = bool(live) and all(m.status == "dormant" for m in live)  # only an optional step, not called for
        for q in quarters:
            if not first <= q <= last or dormant:
                cells[f"{q[0]}Q{q[1]}"] = ""
                continue
            relevant = [m for m in live if m.original_due <= quarter_end(q)]
            if quarter_end((q[0] - (q[1] == 1), (q[1] - 2) % 4 + 1)) >= day:  # a quarter still to come: planned
                state = "planned" if not relevant or not all(m.status in DONE for m in live) else "done"
            elif any(m.status not in DONE and is_overdue(m.status, m.due_date, day) for m in relevant):
                state = "late"
            elif relevant and all(m.status in DONE for m in relevant) and (
                    quarter_end(q) <= day or all(m.status in DONE for m in live)):
                state = "done"
            else:
                state = "planned"
            cells[f"{q[0]}Q{q[1]}"] = state
        out_rows.append({"stage": row.stage, "stage_name": spec.stage(row.stage).name, "text": row.text,
                         "span": [f"{first[0]}Q{first[1]}", f"{last[0]}Q{last[1]}"], "cells": cells})
    return {"cycle": spec.id, "as_of": day.isoformat(), "quarters": [f"{y}Q{n}" for y, n in quarters], "rows": out_rows}


def inbox(session, spec: CycleSpec, dept: str, as_of=None) -> dict:
    """What a department owes, by when, and what was returned to it and why."""
    from stages.engine import calendar_for

    d = _department(spec, dept)
    rows = run_rows(session, spec)
    return inbox_of(rows, returned(session, rows.run.id, d.short), spec, calendar_for(spec), dept, as_of)


def _department(spec: CycleSpec, dept: str):
    try:
        return spec.department(dept)
    except KeyError:
        raise NotFound("rules.unknown_department", dept=dept, short=spec.coordinator.short,
                       id=spec.coordinator.id) from None


def returned(session, run_id: int, owner: str) -> list[tuple]:
    """(item key, milestone id, at, by, comments) of every return of a milestone ``owner`` owes, oldest first."""
    from sqlmodel import select

    from stages.store.models import Decision, Milestone

    return [(m.item_key, m.ms_id, dec.at, dec.by, dec.comments)
            for dec, m in session.exec(select(Decision, Milestone).join(Milestone, Milestone.id == Decision.milestone_id)
                                       .where(Decision.run_id == run_id, Decision.kind == "return",
                                              Milestone.owner == owner)
                                       .order_by(Decision.at))]


def inbox_of(run: RunRows, returns_rows: list[tuple], spec: CycleSpec, cal, dept: str, as_of=None) -> dict:
    """The inbox computed from a run's rows and the department's returns (as :func:`returned` reads them)."""
    d = _department(spec, dept)
    data = board_of(run, spec, cal, as_of, dept=d.short)
    returns = {}
    for item_key, ms_id, at, by, comments in returns_rows:
        returns[(item_key, ms_id)] = {"at": at.isoformat(), "by": by, "comments": comments}
    owes = []
    for it in data["items"]:
        for m in it["milestones"]:
            if m["owner"] == d.short and m["status"] in ("pending", "open", "returned", "submitted"):
                owes.append({"item": it["key"], "title": it["title"], "milestone": m["id"], "name": m["name"],
                             "status": m["status"], "due": m["due"], "light": m["light"],
                             "workdays_late": m["workdays_late"], "returned": returns.get((it["key"], m["id"]))
                             if m["status"] == "returned" else None})
    owes.sort(key=lambda x: (x["status"] == "pending", x["due"], x["item"]))
    # tasks it leads together with others, where another lead unit owes the step (lead_mode: first): what stands
    co_lead = []
    for it in data["items"]:
        cur = it["current"]
        if d.short in it["lead"] and cur and cur["owner"] != d.short and cur["status"] != "dormant":
            co_lead.append({"item": it["key"], "title": it["title"], "milestone": cur["id"], "name": cur["name"],
                            "owner": cur["owner"], "status": cur["status"], "due": cur["due"], "light": cur["light"]})
    co_lead.sort(key=lambda x: (x["due"], x["item"]))
    return {"dept": d.short, "name": d.name, "as_of": data["as_of"], "owes": owes, "co_lead": co_lead,
            "returned_ever": [{"item": k, "milestone": m, **v} for (k, m), v in returns.items()]}


def item_history(session, spec: CycleSpec, key: str) -> dict:
    from sqlmodel import select

    from stages.store.models import AuditEvent, Decision, Figure, Item, Milestone, Notice, Submission
    from stages.engine import find_run

    run = find_run(session, spec.id)
    it = session.exec(select(Item).where(Item.run_id == run.id, Item.key == key)).first()
    if it is None:
        raise NotFound("views.unknown_item_see_status", item=key)
    ms = session.exec(select(Milestone).where(Milestone.item_id == it.id).order_by(Milestone.seq)).all()
    ids = [m.id for m in ms]
    by_id = {m.id: m for m in ms}
    subs = session.exec(select(Submission).where(Submission.milestone_id.in_(ids)).order_by(Submission.submitted_at)).all()
    decs = session.exec(select(Decision).where(Decision.milestone_id.in_(ids)).order_by(Decision.at)).all()
    events = session.exec(select(AuditEvent).where(AuditEvent.run_id == run.id,
                                                   (AuditEvent.target == key) | AuditEvent.target.like(f"{key}:%"))
                          .order_by(AuditEvent.id)).all()
    figures: dict[int, list] = {}
    if subs:
        for f in session.exec(select(Figure).where(Figure.submission_id.in_([x.id for x in subs]))
                              .order_by(Figure.id)):
            figures.setdefault(f.submission_id, []).append(f)
    notes = session.exec(select(Notice).where(Notice.run_id == run.id, Notice.status == "issued")).all()
    mine = [n for n in notes if key in str(n.about).split(",") or str(n.about).startswith(key)
            or any(key == t.get("key") for t in n.data.get("topics", []) if isinstance(t, dict))]
    return {
        "item": {"key": it.key, "kind": it.kind, "title": it.title, "lead": it.lead, "cooperating": it.cooperating,
                 "status": it.status, "contractor": it.contractor, "contractor_contact": it.contractor_contact},
        "milestones": [{"id": m.ms_id, "name": m.name, "owner": m.owner, "status": m.status, "due": str(m.due_date),
                        "original_due": str(m.original_due), "due_version": m.due_version} for m in ms],
        "submissions": [{"milestone": by_id[x.milestone_id].ms_id, "round": x.round, "by": x.submitted_by,
                         "at": x.submitted_at.isoformat(), "note": x.note, "files": x.files, "report": x.report,
                         "figures": [{"of": f.of, "value": f.value, "unit": f.unit, "period": f.period}
                                     for f in figures.get(x.id, [])]} for x in subs],
        "decisions": [{"milestone": by_id[x.milestone_id].ms_id, "kind": x.kind, "by": x.by, "at": x.at.isoformat(),
                       "comments": x.comments} for x in decs],
        "notices": [{"id": n.id, "number": n.doc_number, "title": n.title, "date": n.created_at.date().isoformat()}
                    for n in mine],
        "audit": [_event(e) for e in events],
    }


def _event(e) -> dict:
    return {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
            "why": e.why, "flow_run_id": e.flow_run_id}


def audit(session, spec: CycleSpec, since=None, limit: int | None = None) -> list[dict]:
    from sqlmodel import select

    from stages.store.models import AuditEvent
    from stages.engine import find_run

    run = find_run(session, spec.id)
    q = select(AuditEvent).where(AuditEvent.run_id == run.id)
    if since:
        q = q.where(AuditEvent.at >= as_datetime(since))
    q = q.order_by(AuditEvent.at, AuditEvent.id)
    if limit:
        q = q.limit(limit)
    return [_event(e) for e in session.exec(q)]


LEDGER_COLUMNS = ["事项", "类别", "名称", "牵头单位", "配合单位", "节点", "阶段", "责任单位", "计划完成", "调整后完成",
                  "报送日期", "审核结果", "逾期工作日", "状态灯"]
LEDGER_DOMAIN = "领域"  # after 类别, when the cycle's tasks have domains
LEDGER_FIGURES = ["目标", "实际", "进度"]  # after 状态灯, when its milestones have targets


class LedgerRows(list):
    """The 台账's rows, with the columns they fill (``columns``): the base columns, plus 领域 and 目标 / 实际 / 进度
    for a cycle that has them."""

    columns: list[str] = LEDGER_COLUMNS


def _figure_text(value: float, unit: str) -> str:
    return f"{value:g}{unit or ''}"


def ledger_rows(session, spec: CycleSpec, as_of=None, dept: str | None = None) -> LedgerRows:
    """台账: one row per item and milestone, in the board's order."""
    from stages.rules.status import LABEL_ZH, LIGHT_ZH

    kind_zh = {"topic": "课题", "special_plan": "专项规划", "outline": "《纲要》", "task": "工作任务"}
    kind_zh.update({k: lc.name for k, lc in spec.lifecycles.items() if k in ("topic", "special_plan")})
    from stages.engine import calendar_for

    cal = calendar_for(spec)
    data = board(session, spec, as_of, dept=dept)
    domains = any(it.domain for it in spec.items)
    figures = any(m.targets for it in spec.items for m in it.milestones)
    out = LedgerRows()
    out.columns = (LEDGER_COLUMNS[:2] + ([LEDGER_DOMAIN] if domains else []) + LEDGER_COLUMNS[2:]
                   + (LEDGER_FIGURES if figures else []))
    for it in data["items"]:
        for m in it["milestones"]:
            late = m["workdays_late"]
            if m["submitted_at"] and m["submitted_at"][:10] > m["due"]:  # delivered late: how late it was
                late = cal.workdays_between(dt.date.fromisoformat(m["due"]), dt.date.fromisoformat(m["submitted_at"][:10]))
            row = [it["key"], kind_zh[it["kind"]]] + ([it.get("domain") or ""] if domains else []) + [
                it["title"], "、".join(it["lead"]), "、".join(it["cooperating"]),
                m["name"], spec.stage(m["stage"]).name, m["owner"], m["original_due"], m["due"],
                (m["submitted_at"] or "")[:10], LABEL_ZH[Status(m["status"])], late, LIGHT_ZH[m["light"]]]
            if figures:
                ts = m.get("targets") or []
                row += ["；".join((f"{t['of']}" if t.get("of") else "") + _figure_text(t["value"], t["unit"]) for t in ts),
                        "；".join((f"{t['of']}" if t.get("of") else "") + _figure_text(t["actual"], t.get("actual_unit") or t["unit"])
                                 for t in ts if "actual" in t),
                        m.get("progress_zh") or ""]
            out.append(row)
    return out


def check_visible(session, spec: CycleSpec, actor, key: str):
    """The item, if ``actor`` may see it: everyone reading all, or a department that leads, cooperates on or owes
    one of its milestones. Anything else is refused (``Forbidden``), the same whether or not the item exists
    elsewhere, so a URL cannot be used to read another department's work."""
    from sqlmodel import select

    from stages.rules.identity import Forbidden
    from stages.store.models import Item, Milestone
    from stages.engine import find_run

    run = find_run(session, spec.id)
    it = session.exec(select(Item).where(Item.run_id == run.id, Item.key == key)).first()
    if it is None:
        if actor.reads_all:
            raise NotFound("views.unknown_item", item=key)
        raise Forbidden("views.not_yours", dept=actor.dept)
    if actor.reads_all or actor.dept in it.lead or actor.dept in it.cooperating:
        return it
    owes = session.exec(select(Milestone.id).where(Milestone.item_id == it.id, Milestone.owner == actor.dept)).first()
    if owes is None:
        raise Forbidden("views.not_yours", dept=actor.dept)  # the same words whether or not it exists
    return it
