"""Deliverables: a department hands one in (``submit``, with its figures and report parts), the coordinator
accepts or returns it (``review``) or excuses it (``waive``)."""

from __future__ import annotations

from sqlmodel import Session, select

from stages.definition.spec import CycleSpec, MilestoneSpec
from stages.engine.context import (
    Ctx,
    Outcome,
    _audit,
    _ctx,
    _fingerprint,
    _gate,
    _item,
    _label,
    _milestone,
    _replayed,
    _require_coordinator,
    _set_status,
    _waiting_for,
    facts_for,
    ms_spec,
)
from stages.engine.indicators import warning_notice
from stages.engine.propagation import _finish
from stages.ground.errors import PlancycleError, TransitionError
from stages.ground.i18n import Msg
from stages.rules.gates import evaluate
from stages.rules.identity import Actor, Forbidden
from stages.store.files import FileStore
from stages.store.models import Decision, Figure, Item, Milestone, Submission


def _files(session: Session, entries) -> list[dict]:
    """Attachments as ``{name, sha256, size, type}``, every one in the attachment store.

    An entry already stored by the adapter (a dict with its digest: the web's upload, the CLI's ``--file``) is
    checked to be there; a path (a direct call from Python) is copied into the store first.
    """
    store = FileStore.for_url(str(session.get_bind().url))
    out = []
    for e in entries or ():
        if hasattr(e, "model_dump"):
            e = e.model_dump()
        if isinstance(e, dict):
            if not store.has(e.get("sha256", "")):
                raise PlancycleError("engine.attachment_missing", name=e.get("name"), root=str(store.root))
            out.append({"name": str(e.get("name")), "sha256": e["sha256"], "size": int(e.get("size") or 0),
                        "type": str(e.get("type") or "")})
        else:
            out.append(store.put_path(e))
    return out


REPORT_PARTS = ("progress", "problems", "next")  # 进展, 存在问题, 下步安排


def figure_subjects(spec: CycleSpec, it: Item, mspec: MilestoneSpec) -> dict[str, dict]:
    """What a submission of ``mspec`` may carry figures for, by the names a user types: the milestone's own
    targets (by ``of``; a lone target also as ""), the targets of every task its lead unit leads (a periodic
    report carries the year-to-date figures: ``task:of``, or ``of`` alone where one task of the unit has it), and,
    in a yearly report, the cycle's indicators the unit reports (by id and name). Each → {kind, of, unit};
    kind ``ambiguous`` (with ``tasks``) for a name several of the unit's tasks share."""
    out: dict[str, dict] = {}
    for t in mspec.targets:
        out[t.of or ""] = {"kind": "target", "of": t.of or "", "unit": t.unit}
    if len(mspec.targets) == 1:
        out[""] = out[mspec.targets[0].of or ""]
    units = set(it.lead)
    own = set(out)
    tasks_of: dict[str, set[str]] = {}
    for other in spec.items:
        if other.kind == "task" and units & set(other.lead):
            for m in other.milestones:
                for t in m.targets:
                    if t.of:  # by task:name, and by the name alone where only one task of the unit uses it
                        tasks_of.setdefault(t.of, set()).add(other.key)
                        out.setdefault(t.of, {"kind": "target", "of": t.of, "unit": t.unit})
                        out.setdefault(f"{other.key}:{t.of}", {"kind": "target", "of": f"{other.key}:{t.of}",
                                                                "unit": t.unit})
    for name, keys in tasks_of.items():
        if len(keys) > 1 and name not in own:  # 全年目标 of two tasks: which one is meant must be said
            out[name] = {"kind": "ambiguous", "of": name, "unit": "", "tasks": sorted(keys)}
    if mspec.period and mspec.period.isdigit():  # a yearly report: the indicators the unit reports
        for ind in spec.file.indicators:
            if not ind.lead or units & {spec.department(d).short for d in ind.lead}:
                entry = {"kind": "indicator", "of": ind.id, "unit": ind.unit}
                out.setdefault(ind.id, entry)
                out.setdefault(ind.name, entry)
    return out


def _figures(ctx: Ctx, it: Item, m: Milestone, mspec: MilestoneSpec, figures) -> list[dict]:
    """The figures of a submission, checked: each names something this milestone may report, with a number."""
    if not figures:
        return []
    known = figure_subjects(ctx.spec, it, mspec)
    out = []
    for f in figures:
        of = str(f.get("of") or "").strip()
        entry = known.get(of)
        if entry is None:
            names = "、".join(k for k in known if k)
            names = names[:300] if names else Msg("engine.figure_names_none")
            if of:
                raise PlancycleError("engine.figure_unknown", milestone=_label(m), of=of, names=names)
            raise PlancycleError("engine.figure_unnamed", milestone=_label(m), names=names)
        if entry["kind"] == "ambiguous":
            raise PlancycleError("engine.figure_ambiguous", of=of, tasks=list(entry["tasks"]),
                                 example=f"{entry['tasks'][0]}:{of}")
        try:
            value = float(f["value"])
        except (TypeError, ValueError, KeyError):
            raise PlancycleError("engine.figure_not_a_number", of=of or entry["of"], value=f.get("value")) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise PlancycleError("engine.figure_not_a_number", of=of or entry["of"], value=f.get("value"))
        given = (f.get("unit") or "").strip()
        if given and given != (entry["unit"] or ""):  # 21.4家 against a % target would be compared as if it were %
            raise PlancycleError("engine.figure_unit", of=of or entry["of"], given=given,
                                 unit=entry["unit"] or Msg("engine.unit_none"))
        out.append({"kind": entry["kind"], "of": entry["of"], "value": value, "unit": entry["unit"] or "",
                    "source": f.get("source")})
    return out


def submit(session: Session, spec: CycleSpec, *, item: str, milestone: str, by: Actor | str, as_of=None, files=(),
           note: str | None = None, key: str | None = None, flow_run_id: str | None = None,
           figures: list[dict] | None = None, report: dict | None = None) -> Outcome:
    """A department hands in a milestone's deliverable (first time, or again after a return).

    ``figures``: actual figures, ``[{of, value, unit?, source?}]``, against the milestone's targets, the targets
    of the tasks its unit leads, or the indicators it reports (schema 2); ``report``: a report's parts,
    ``{progress, problems, next}`` (进展, 存在问题, 下步安排)."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "submit", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    it = _item(ctx, item)
    mspec = ms_spec(spec, it.kind, item, m.ms_id)
    attached = _files(session, files)
    checked = _figures(ctx, it, m, mspec, figures)
    parts = None
    if report:
        unknown = [k for k in report if k not in REPORT_PARTS]
        if unknown:
            raise PlancycleError("engine.report_part_unknown", part=unknown[0])
        parts = {k: str(report[k]).strip() for k in REPORT_PARTS if report.get(k) and str(report[k]).strip()} or None
    request = {"item": item, "milestone": m.ms_id, "files": [f["sha256"] for f in attached], "note": note, "by": ctx.by}
    if checked:
        request["figures"] = [{k: f[k] for k in ("of", "value", "unit", "source")} for f in checked]
    if parts:
        request["report"] = parts
    fp = _fingerprint(request)
    key = key or f"submit:{item}:{m.ms_id}:round{m.returns + 1}:{fp}"
    ctx.outcome.target = f"{item}:{m.ms_id}"
    if not ctx.actor.can_coordinate and not (ctx.by == m.owner or (m.owner in it.lead and ctx.by in it.lead)):
        raise Forbidden("engine.not_owner", by=ctx.by, milestone=_label(m), owner=m.owner)
    _no_generic_move(ctx, it, m, "submit")
    if _replayed(ctx, key, request):
        return ctx.outcome
    waiting = _waiting_for(ctx, m, it) if m.status == "pending" else None
    _set_status(ctx, m, "submit", waiting)
    sub = Submission(run_id=ctx.run.id, milestone_id=m.id, round=m.returns + 1, submitted_by=ctx.by,
                     submitted_at=ctx.as_of, note=note, files=attached, fingerprint=fp, report=parts)
    session.add(sub)
    if checked:
        session.flush()
        period = mspec.period or m.due_date.isoformat()
        for f in checked:
            session.add(Figure(run_id=ctx.run.id, subject=f"indicator:{f['of']}" if f["kind"] == "indicator"
                               else f"{item}:{m.ms_id}", of=f["of"], period=period, value=f["value"], unit=f["unit"],
                               source=f.get("source"), submission_id=sub.id, by=ctx.by, at=ctx.as_of))
            if f["kind"] == "indicator" and period.isdigit():  # a yearly report's value: a 约束性 one off track → 预警
                warn = warning_notice(spec, spec.indicator(f["of"]), int(period), f["value"])
                if warn:
                    ctx.outcome.notices.append(warn)
    late = ctx.cal.workdays_between(m.due_date, ctx.as_of.date()) if ctx.as_of.date() > m.due_date else 0
    _audit(ctx, "deliverable.submitted", ctx.outcome.target, why=note,
           data={"request": request, "round": sub.round, "files": attached, "workdays_late": late}, key=key)
    ctx.outcome.data = {"round": sub.round, "workdays_late": late, "status": m.status}
    ctx.outcome.message = (Msg("engine.submitted_late", milestone=_label(m), by=ctx.by, days=late) if late
                           else Msg("engine.submitted", milestone=_label(m), by=ctx.by))
    return _finish(ctx)


def _registration_id(spec: CycleSpec) -> str | None:
    """The special-plan milestone that ``register`` (立项确认) completes: the one with ``role: registration``."""
    m = spec.role_milestone("special_plan", "registration")
    return m.id if m is not None else None


def _no_generic_move(ctx: Ctx, it: Item, m: Milestone, what: str) -> None:
    """立项确认 is a decision with its own move (``register``: the 立项确认通知, the rejections and their reasons);
    it is never submitted or accepted like a deliverable."""
    if it.kind == "special_plan" and m.ms_id == _registration_id(ctx.spec):
        raise TransitionError("engine.decided_by_registration", milestone=_label(m), what=Msg(f"engine.verb.{what}"))


def review(session: Session, spec: CycleSpec, *, item: str, milestone: str, decision: str, by: Actor | str | None = None, as_of=None,
           comments: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Accept a submitted deliverable, or return it (退回) with comments for resubmission."""
    if decision not in ("accept", "return"):
        raise PlancycleError("engine.decision_unknown", decision=decision)
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "review", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    it = _item(ctx, item)
    ctx.outcome.target = f"{item}:{m.ms_id}"
    rounds = len(session.exec(select(Submission.id).where(Submission.milestone_id == m.id)).all())
    request = {"item": item, "milestone": m.ms_id, "decision": decision, "comments": comments, "by": ctx.by}
    key = key or f"review:{item}:{m.ms_id}:round{rounds}:{decision}"
    if not ctx.actor.can_coordinate:
        if not (spec.file.lead_may_review and ctx.by in it.lead):
            raise Forbidden("engine.review_coordinator_only", by=ctx.by, milestone=_label(m),
                            coordinator=spec.coordinator.short)
    _no_generic_move(ctx, it, m, "review")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if decision == "return" and not (comments and comments.strip()):
        raise PlancycleError("engine.return_needs_comments", milestone=_label(m))
    if decision == "accept":
        mspec = ms_spec(spec, it.kind, m.item_key, m.ms_id)
        if m.status == "submitted" and mspec.accept_requires:
            res = evaluate(spec, mspec.accept_requires, facts_for(session, ctx.run))
            if not res.ok:
                raise TransitionError("engine.accept_gate_not_met", milestone=_label(m),
                                      gate=_gate(spec, mspec.accept_requires), why=res.why())
    _set_status(ctx, m, decision)
    if decision == "return":
        m.returns += 1
    session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind=decision, by=ctx.by, at=ctx.as_of, comments=comments))
    _audit(ctx, "deliverable.accepted" if decision == "accept" else "deliverable.returned", ctx.outcome.target,
           why=comments, data={"request": request, "round": rounds}, key=key)
    if decision == "return":
        ctx.outcome.notices.append({"kind": "returned", "to": [m.owner], "about": ctx.outcome.target,
                                    "comments": comments})
    ctx.outcome.message = (Msg("engine.accepted", milestone=_label(m)) if decision == "accept"
                           else Msg("engine.returned", milestone=_label(m), comments=comments))
    return _finish(ctx)


def waive(session: Session, spec: CycleSpec, *, item: str, milestone: str, by: Actor | str | None = None, reason: str, as_of=None,
          key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Excuse a milestone (免除) with a reason; it counts as done for every gate."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "waive", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    ctx.outcome.target = f"{item}:{m.ms_id}"
    request = {"item": item, "milestone": m.ms_id, "reason": reason}
    key = key or f"waive:{item}:{m.ms_id}"
    _require_coordinator(ctx, "engine.coordinator_only.waive", milestone=_label(m))
    if _replayed(ctx, key, request):
        return ctx.outcome
    if not (reason and reason.strip()):
        raise PlancycleError("engine.waive_needs_reason", milestone=_label(m))
    _set_status(ctx, m, "waive")
    session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="waive", by=ctx.by, at=ctx.as_of, comments=reason))
    _audit(ctx, "milestone.waived", ctx.outcome.target, why=reason, data={"request": request}, key=key)
    ctx.outcome.message = Msg("engine.waived", milestone=_label(m), reason=reason)
    return _finish(ctx)
