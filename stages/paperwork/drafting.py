"""Paperwork: the documents and records a step calls for, decided from what the step did.

Owns: ``after(session, spec, outcome)`` — turn a move's outcome (``services.Outcome.notices``: what opened, which
stage began, a meeting scheduled or changed, a decision taken) into *drafts* of 公文 and into records for the
coordinator's list (the contexts each draft is written from: ``stage_notice_context``, ``call_for_tender_context``,
``registration_context``, the meeting notices, the 请示); and the two moves on a document, ``edit_document`` and
``sign_document`` (签发, where the 发文字号 is taken).

Which steps make a document, and of which genre to whom, is the office's practice, not the engine's:

* a stage opening (or a batch of ``batch_min`` milestones opening at once) → one 阶段工作通知 to the settings' 主送 (各有关部门、…),
  the tasks in its 附件 table; a milestone opening alone is a message to the unit that owes it, not a 公文;
* the call for tender → the 遴选公告 (public, unnumbered); all contractors chosen → the 结果公示;
* a review meeting → one 会议通知 to the lead units, and a 函 to the contractors outside government; a changed
  meeting → a 变更通知 naming the one it replaces;
* the 立项确认 decision → its 通知; a milestone with a ``request`` (and the cycle's ``opening_request``) → a 请示;
* reminders (提前提醒, 催办) are messages (``stages.paperwork.messages``); the 督办 rung is batched into a periodic 督办通知
  addressed to the late units, never to the issuer;
* the periodic documents — the 督办通知, the monthly 进展情况, the yearly 主要指标监测情况 — are ``stages.paperwork.reports``
  (importable from here too); how documents name things is ``stages.paperwork.naming``.

Imports ``notices`` and the store; ``services`` imports none of this: the adapters (``flows.common.perform``, the
sweep and report flows, ``init``) call ``after`` in the same transaction as the move.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from stages import engine as sv
from stages.definition.calendar import WorkCalendar, calendar_for
from stages.definition.spec import CycleSpec
from stages.ground.clock import as_datetime
from stages.ground.errors import NotFound, PlancycleError
from stages.ground.i18n import Msg
from stages.paperwork import notices as nt
from stages.paperwork.naming import PERIOD, item_name, work_name, words, _body  # noqa: F401  (kept importable here)
from stages.paperwork.reports import (  # noqa: F401  (the periodic documents, importable from here as before)
    DONE,
    REPORT_PART_ZH,
    indicator_report,
    indicator_report_context,
    monthly_report,
    monthly_report_context,
    report_day_of,
    report_day_setting,
    reporting_rule,
    supervision,
)
from stages.rules.identity import Forbidden
from stages.store.models import Item, Milestone, Notice
from stages.store.runs import find_run


# -- the entry point --------------------------------------------------------------------------------------------------
def after(session: Session, spec: CycleSpec, outcome, *, as_of=None, flow_run_id: str | None = None) -> list[Notice]:
    """Drafts and records for what ``outcome`` did; in the caller's transaction. Returns the drafts made."""
    wanted = list(outcome.notices or [])
    if not wanted or not getattr(outcome, "changed", True):
        return []
    when = as_datetime(as_of)
    run = find_run(session, spec.id)
    cfg = nt.load_config(spec.notices_path)
    cal = _calendar(spec)
    made: list[Notice] = []
    opened = [n["about"] for n in wanted if n["kind"] == "milestone_opened"]
    stage = next((n["about"] for n in reversed(wanted) if n["kind"] == "stage_opened"), None)
    settings = nt.doc_settings(cfg, "stage_notice")
    batch_min = int(settings.get("batch_min", 10))
    for n in wanted:
        if n["kind"] == "cycle_created" and spec.file.opening_request:
            made.append(_request(session, spec, run.id, spec.file.opening_request, when, flow_run_id, cfg,
                                 about="opening", key="request:opening"))
    if stage or len(opened) >= batch_min:
        c = stage_notice_context(session, spec, run.id, opened, stage)
        to = settings["to"]
        made.append(nt.draft(session, run.id, "stage_notice", {**c, "to": to}, recipients=[to], about=stage or "batch",
                             as_of=when, flow_run_id=flow_run_id, cfg=cfg))
    for n in wanted:
        kind = n["kind"]
        if kind == "call_for_tender":
            c = call_for_tender_context(session, spec, run.id, when, cfg, cal)
            made.append(nt.draft(session, run.id, "call_for_tender", c, recipients=["社会"], about=n["about"],
                                 as_of=when, flow_run_id=flow_run_id, cfg=cfg, key="call_for_tender"))
        elif kind == "special_plan_registration" and "confirmed" in n:
            c = registration_context(session, spec, run.id, n["confirmed"], n["rejected"], n.get("reason"))
            made.append(nt.draft(session, run.id, "special_plan_registration", c, recipients=[c["to"]],
                                 about=n["about"], as_of=when, flow_run_id=flow_run_id, cfg=cfg))
        elif kind == "meeting":
            made.extend(_meeting(session, spec, run.id, n, when, flow_run_id, cfg, cal))
        elif kind == "contractor_assigned":
            d = _tender_result(session, spec, run.id, when, flow_run_id, cfg)
            if d is not None:
                made.append(d)
        elif kind == "milestone_accepted" and n.get("request"):
            it = session.exec(select(Item).where(Item.run_id == run.id, Item.key == n["item"])).one()
            mspec = spec.milestone_spec(it.kind, it.key, n["milestone"])
            if mspec.request is not None:
                made.append(_request(session, spec, run.id, mspec.request, when, flow_run_id, cfg, about=n["about"],
                                     key=f"request:{n['about']}", deliverables=mspec.deliverables))
        elif kind not in ("milestone_opened", "stage_opened", "cycle_created", "milestone_accepted",
                          "contractor_assigned", "special_plan_registration", "meeting"):
            session.add(Notice(run_id=run.id, kind=kind, status="record", recipients=list(n.get("to", [])),
                               about=str(n.get("about", "")), created_at=when, flow_run_id=flow_run_id,
                               data={k: v for k, v in n.items() if k not in ("kind", "to", "about")}))
    session.flush()
    outcome.data["drafts"] = [{"id": x.id, "kind": x.kind, "genre": x.data.get("genre"), "title": x.title}
                              for x in made]
    return made


def _calendar(spec: CycleSpec) -> WorkCalendar:
    return calendar_for(spec)  # the cached calendar


# -- contexts: the cycle's state a document is drafted from --------------------------------------------------------
def stage_notice_context(session: Session, spec: CycleSpec, run_id: int, opened: list[str], stage: str | None) -> dict:
    rows: dict[str, list] = {}
    if opened:
        keys = [tuple(x.split(":", 1)) for x in opened]
        items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id,
                                                                   Item.key.in_({k for k, _ in keys})))}
        for m in session.exec(select(Milestone).where(Milestone.run_id == run_id,
                                                      Milestone.item_key.in_({k for k, _ in keys}))):
            if (m.item_key, m.ms_id) in keys:
                it = items[m.item_key]
                try:
                    deliverables = "、".join(spec.milestone_spec(it.kind, it.key, m.ms_id).deliverables)
                except KeyError:
                    deliverables = ""
                rows.setdefault(m.owner, []).append({"item_title": item_name(it), "name": m.name,
                                                     "what": work_name(it, m.name, spec),
                                                     "due": m.due_date.isoformat(), "due_cn": nt.cn_date(m.due_date),
                                                     "deliverables": deliverables})
    table = []
    for owner, items_ in sorted(rows.items(), key=lambda kv: (min(x["due"] for x in kv[1]), kv[0])):
        for r in sorted(items_, key=lambda x: (x["due"], x["item_title"])):
            table.append({**r, "owner": owner})
    st = spec.stage(stage) if stage else None
    return {**words(spec), "stage_name": st.name if st else None,
            "stage_until": nt.cn_date(st.end_date) if st and st.end_date else None,
            "rows": table, "owners": len(rows)}


def call_for_tender_context(session: Session, spec: CycleSpec, run_id: int, when: dt.datetime, cfg: dict,
                            cal: WorkCalendar) -> dict:
    cft = cfg.get("call_for_tender") or {}
    deadline_day = cal.add_workdays(when.date(), int(cft.get("apply_within_workdays", 7)))
    hh, mm = (int(x) for x in str(cft.get("apply_until", "17:00")).split(":"))
    budget = cft.get("budget") or {}
    topics, first = [], None
    for it in session.exec(select(Item).where(Item.run_id == run_id, Item.kind == "topic").order_by(Item.no)):
        if it.open_call:
            first = first or it
            topics.append({"no": it.no, "title": it.title, "focus": spec.item(it.key).focus or "",
                           "lead": "、".join(it.lead), "budget": budget.get(it.no, budget.get("default", ""))})
    milestones = []
    if first is not None:
        for ms in spec.item(first.key).milestones:
            if ms.meeting is not None:
                milestones.append({"name": ms.name, "meeting": ms.meeting.name,
                                   "materials": ms.meeting.materials or "、".join(ms.deliverables),
                                   "due_cn": nt.cn_date(ms.due_date)})
    final_due = max((m.due_date for m in spec.item(first.key).milestones), default=when.date()) if first else when.date()
    funding = [{"name": f.name, "percent": round(f.share * 100)} for f in spec.file.funding]
    deadline = dt.datetime.combine(deadline_day, dt.time(hh, mm))
    return {**words(spec), "cft": cft, "topics": topics, "milestones": milestones, "funding": funding,
            "deadline_cn": nt.cn_datetime(deadline), "deadline": deadline.isoformat(),
            "final_due_cn": nt.cn_date(final_due),
            "annex_title": f"{spec.file.district}{words(spec)['plan_topics']}清单（公开遴选）"}


def _tender_result(session, spec, run_id, when, flow_run_id, cfg) -> Notice | None:
    """The 结果公示, once every tendered topic has its 承接单位."""
    topics = session.exec(select(Item).where(Item.run_id == run_id, Item.kind == "topic", Item.open_call == True)  # noqa: E712
                          .order_by(Item.no)).all()
    if not topics or any(not t.contractor for t in topics):
        return None
    if session.exec(select(Notice.id).where(Notice.run_id == run_id, Notice.idem_key == "tender_result")).first():
        return None
    days = int((cfg.get("call_for_tender") or {}).get("publicity_workdays", 5))
    c = {**words(spec), "topics": [{"no": t.no, "title": t.title, "contractor": t.contractor, "lead": "、".join(t.lead)}
                                   for t in topics],
         "until_cn": nt.cn_date(_calendar(spec).add_workdays(when.date(), days)), "days": days}
    return nt.draft(session, run_id, "tender_result", c, recipients=["社会"], about="tender_result", as_of=when,
                    flow_run_id=flow_run_id, cfg=cfg, key="tender_result")


def registration_context(session: Session, spec: CycleSpec, run_id: int, confirmed: list[str], rejected: list[str],
                         reason: str | None) -> dict:
    items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id,
                                                               Item.key.in_(confirmed + rejected)))}
    nxt = session.exec(select(Milestone).where(Milestone.run_id == run_id, Milestone.item_key.in_(confirmed or [""]),
                                               Milestone.status.in_(["open", "pending"]))
                       .order_by(Milestone.seq, Milestone.due_date)).first()
    leads = sorted({d for k in confirmed + rejected for d in items[k].lead} - {spec.coordinator.short})
    reg = spec.role_milestone("special_plan", "registration")  # who approved the list: the gate its 立项确认 waits on
    body = "、".join(spec.approvers(reg.accept_requires if reg else None))
    return {**words(spec), "to": "、".join(leads) or "各有关部门", "approved_by": body,
            "confirmed": [{"title": item_name(items[k]), "lead": "、".join(items[k].lead)} for k in confirmed],
            "rejected": [{"title": item_name(items[k]), "lead": "、".join(items[k].lead)} for k in rejected],
            "reason": reason, "next_name": nxt.name if nxt else None,
            "next_due_cn": nt.cn_date(nxt.due_date) if nxt and nxt.due_date else None}


def _meeting(session, spec, run_id, n, when, flow_run_id, cfg, cal) -> list[Notice]:
    topics = n["topics"]
    items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id, Item.key.in_(topics)))}
    rows = {m.item_key: m for m in session.exec(select(Milestone).where(
        Milestone.run_id == run_id, Milestone.item_key.in_(topics), Milestone.ms_id == n["milestone"]))}
    first = items[topics[0]]
    mspec = spec.milestone_spec(first.kind, first.key, n["milestone"])
    meeting_name = mspec.meeting.name if mspec.meeting else glue_name(mspec.name, "会")
    materials = (mspec.meeting.materials if mspec.meeting and mspec.meeting.materials
                 else "、".join(d for d in mspec.deliverables if d != meeting_name) or "相关材料")
    at = dt.datetime.fromisoformat(n["at"])
    meetings = cfg.get("meetings") or {}
    mat_due = cal.add_workdays(at.date(), -int(meetings.get("materials_days_before", 3)))
    leads = sorted({d for t in topics for d in items[t].lead} - {spec.coordinator.short})  # never to the issuer
    track = spec.lifecycles["topic"].name if "topic" in spec.lifecycles and first.kind == "topic" else ""
    prior = None
    if n.get("replaces"):
        # an unsigned draft of the earlier arrangement was never sent: it is withdrawn, and the new one is a plain
        # notice; a signed one is replaced by a 变更通知 that names it
        for d in session.exec(select(Notice).where(Notice.run_id == run_id, Notice.about == n["about"],
                                                   Notice.kind.in_(["meeting", "meeting_letter"]),
                                                   Notice.status == "draft")):
            d.status = "withdrawn"
            session.add(d)
        prior = session.exec(select(Notice).where(Notice.run_id == run_id, Notice.kind == "meeting",
                                                  Notice.about == n["about"], Notice.status == "issued")
                             .order_by(Notice.id.desc())).first()
    base = {**words(spec), "meeting_name": meeting_name, "track": track, "milestone_name": mspec.name,
            "due_cn": nt.cn_date(max(rows[t].due_date for t in topics)),
            "at_cn": nt.cn_datetime(at), "weekday": nt.cn_weekday(at.date()), "at": at.isoformat(),
            "place": n.get("place") or meetings.get("place") or "", "materials": materials,
            "materials_due_cn": nt.cn_date(mat_due),
            "attendees": n.get("attendees") or meetings.get("attendees") or "",
            "topics": [{"no": items[t].no, "title": item_name(items[t]), "lead": "、".join(items[t].lead),
                        "contractor": items[t].contractor or ""} for t in topics],
            "replaces": ({"number": prior.doc_number, "title": prior.title, "status": prior.status}
                         if prior is not None else None)}
    out = [nt.draft(session, run_id, "meeting", {**base, "to": "、".join(leads)}, recipients=leads, about=n["about"],
                    as_of=when, flow_run_id=flow_run_id, cfg=cfg, replaces=prior.id if prior is not None else None)]
    contractors = sorted({items[t].contractor for t in topics if items[t].contractor})
    if contractors and "meeting_letter" in (cfg.get("documents") or {}):
        out.append(nt.draft(session, run_id, "meeting_letter", {**base, "to": "、".join(contractors)},
                            recipients=contractors, about=n["about"], as_of=when, flow_run_id=flow_run_id, cfg=cfg))
    return out


def glue_name(a: str, b: str) -> str:
    return nt.glue(a, b)


def _request(session, spec, run_id, req, when, flow_run_id, cfg, *, about: str, key: str, deliverables=()) -> Notice:
    attachments = list(req.attachments if req.attachments is not None else deliverables)
    c = {**words(spec), "to": _body(spec, req.to), "title": req.title, "paragraphs": list(req.text),
         "attachments": attachments}
    return nt.draft(session, run_id, "request", c, recipients=[c["to"]], about=about, as_of=when,
                    flow_run_id=flow_run_id, cfg=cfg, key=key)


# -- the moves on a document: edit, sign ------------------------------------------------------------------------------
def _require_coordinator(ctx, code: str) -> None:
    """Only the coordinator edits and signs documents off (``code`` says which was refused)."""
    if not ctx.actor.can_coordinate:
        raise Forbidden(code, who=ctx.actor.label, coordinator=ctx.spec.coordinator.short)


def _doc(ctx, notice_id: int) -> Notice:
    n = ctx.session.get(Notice, notice_id)
    if n is None or n.run_id != ctx.run.id or n.status not in ("draft", "issued"):
        raise NotFound("paperwork.no_document_in_cycle", id=notice_id)
    return n


def edit_document(session: Session, spec: CycleSpec, *, notice: int, changes: dict, by=None, as_of=None,
                  key: str | None = None, flow_run_id: str | None = None):
    """The coordinator changes a draft's free-text parts (place, contact, 签发人, a paragraph); audited."""
    ctx = sv._ctx(session, spec, by, as_of, flow_run_id, "notice.edit", str(notice))
    _require_coordinator(ctx, "paperwork.coordinator_only.edit")
    request = {"notice": notice, "changes": dict(sorted(changes.items()))}
    key = key or f"notice-edit:{notice}:{sv._fingerprint(request)}"
    if sv._replayed(ctx, key, request):
        return ctx.outcome
    n = _doc(ctx, notice)
    changed = nt.edit(session, n, changes)
    sv._audit(ctx, "notice.edited", str(notice), data={"request": request,
                                                        "changed": {k: list(v) for k, v in changed.items()}}, key=key)
    ctx.outcome.message = Msg("paperwork.edited", id=notice, fields=[Msg(f"paperwork.field.{f}") for f in changed])
    return ctx.outcome


def sign_document(session: Session, spec: CycleSpec, *, notice: int, number: str | None = None,
                  changes: dict | None = None, by=None, as_of=None, key: str | None = None,
                  flow_run_id: str | None = None):
    """签发: the coordinator (or the settings' ``signing.users``) signs a draft off; the 发文字号 is taken now."""
    ctx = sv._ctx(session, spec, by, as_of, flow_run_id, "notice.sign", str(notice))
    _require_coordinator(ctx, "paperwork.coordinator_only.sign")
    request = {"notice": notice, "number": number, "changes": dict(sorted((changes or {}).items()))}
    key = key or f"notice-sign:{notice}"
    if sv._replayed(ctx, key, request):
        return ctx.outcome
    n = _doc(ctx, notice)
    cfg = nt.load_config(spec.notices_path)
    allowed = ((cfg.get("signing") or {}).get("users") or [])
    if allowed and ctx.actor.user not in allowed and ctx.actor.role != "system":
        raise Forbidden("paperwork.signers_only", who=ctx.actor.label, signers=list(allowed))
    if changes:
        changed = nt.edit(session, n, changes)
        sv._audit(ctx, "notice.edited", str(notice), data={"changed": {k: list(v) for k, v in changed.items()}})
    nt.sign(session, n, as_of=ctx.as_of, signed_by=ctx.actor.label, number=number, cfg=cfg)
    sv._audit(ctx, "notice.signed", str(notice), data={"request": request, "number": n.doc_number,
                                                        "genre": n.data.get("genre"), "title": n.title}, key=key)
    ctx.outcome.message = Msg("paperwork.signed", genre=n.data.get("genre"), title=n.title,
                              number=n.doc_number or Msg("paperwork.no_number", genre=n.data.get("genre", "")))
    ctx.outcome.data["notice"] = {"id": n.id, "number": n.doc_number, "title": n.title, "genre": n.data.get("genre")}
    return ctx.outcome


def drafts(session: Session, run_id: int) -> list[Notice]:
    return session.exec(select(Notice).where(Notice.run_id == run_id, Notice.status == "draft")
                        .order_by(Notice.id)).all()


def check_signable(notice: Notice) -> list[str]:
    return nt.missing(notice.data, notice.kind) if notice.status == "draft" else []


__all__ = ["after", "supervision", "monthly_report", "indicator_report", "edit_document", "sign_document", "drafts", "item_name",
           "words", "PlancycleError"]
