"""Paperwork: the documents and records a step calls for, decided from what the step did.

Owns: ``after(session, spec, outcome)`` — turn a move's outcome (``services.Outcome.notices``: what opened, which
stage began, a meeting scheduled or changed, a decision taken) into *drafts* of 公文 and into records for the
coordinator's list; ``supervision`` — the periodic 督办通知 to the units with work overdue past the 督办 rung;
``monthly_report`` — the month's 进展情况 as a 报告 (or an unnumbered 简报, per settings); ``indicator_report`` —
the yearly 《纲要》主要指标监测情况 from the recorded figures (a 报告 or a 简报, per settings); and the two moves on a
document, ``edit_document`` and ``sign_document`` (签发, where the 发文字号 is taken).

Which steps make a document, and of which genre to whom, is the office's practice, not the engine's:

* a stage opening (or a batch of ``batch_min`` milestones opening at once) → one 阶段工作通知 to the settings' 主送 (各有关部门、…),
  the tasks in its 附件 table; a milestone opening alone is a message to the unit that owes it, not a 公文;
* the call for tender → the 遴选公告 (public, unnumbered); all contractors chosen → the 结果公示;
* a review meeting → one 会议通知 to the lead units, and a 函 to the contractors outside government; a changed
  meeting → a 变更通知 naming the one it replaces;
* the 立项确认 decision → its 通知; a milestone with a ``request`` (and the cycle's ``opening_request``) → a 请示;
* reminders (提前提醒, 催办) are messages (``stages.paperwork.messages``); the 督办 rung is batched into a periodic 督办通知
  addressed to the late units, never to the issuer.

Imports ``notices`` and the store; ``services`` imports none of this: the adapters (``flows.common.perform``, the
sweep and report flows, ``init``) call ``after`` in the same transaction as the move.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

from sqlmodel import Session, select

from stages.paperwork import notices as nt
from stages.definition.calendar import WorkCalendar
from stages.ground.clock import as_datetime, now
from stages.ground.errors import NotFound, PlancycleError
from stages.store.models import AuditEvent, Decision, Item, Milestone, Notice, Reminder, Submission
from stages.definition.spec import CycleSpec
from stages.store.runs import find_run

DONE = ("accepted", "waived", "complete")


# -- how documents name things ------------------------------------------------------------------------------------
def item_name(item: Item, spec: CycleSpec | None = None) -> str:
    """An item as the source writes it: 课题4“……”, 《长宁区……规划》, 《纲要》, or a task's title. Never its id."""
    if item.kind == "topic":  # quotes inside quotes become single quotes: 课题1“‘十四五’期间……研究”
        inner = item.title.replace("“", "‘").replace("”", "’")
        return f"课题{item.no}“{inner}”" if item.no else f"“{inner}”"
    if item.kind == "special_plan":
        return item.title if item.title.startswith("《") else f"《{item.title}》"
    if item.kind == "outline":
        return "《纲要》"
    return item.title


# a milestone named for its period and the task's own words: 一季度新增就业岗位, 2027年1月推进情况, 2021年度监测
PERIOD = re.compile(r"^(?:\d{4}年度?)?(?:\d{1,2}月(?:底|末)?|[一二三四]季度|第[一二三四]季度|前三季度|上半年|下半年"
                    r"|全年|年底|年末)?")


def work_name(item: Item, milestone_name: str, spec: CycleSpec | None = None) -> str:
    """A milestone as a line of a task list, so a reader can tell which one it is: 课题4“……”：开题.

    * a task with one milestone that restates its title (形成前期重大课题研究工作方案 / 形成工作方案) is its title alone;
    * a milestone that is a period of the task's own work is the title with the period: 新增就业岗位（一季度）
      (for 一季度新增就业岗位), 区财政局2027年重点工作推进情况（1月）(for 2027年1月推进情况) — the year the title
      already says is not repeated;
    * a milestone that contains the title is its name alone; one that begins where the title ends is glued on
      without doubling the words (《纲要》中期评估 + 中期评估报告 → 《纲要》中期评估报告);
    * a milestone the title already names, in a task of several (进行规划汇编、总结及归档 / 总结及归档), keeps the
      colon: the title alone would not tell it from its siblings;
    * otherwise the title, a colon and the milestone's name: 开展……总结评估：各部门自评估.
    """
    name = item_name(item)
    ms = milestone_name.strip()
    if not ms or ms == name:
        return name
    if item.kind == "task" and _single_step(item, spec) and (ms in name or name.endswith(ms[-2:])):
        return name
    period = PERIOD.match(ms).group(0)
    rest = ms[len(period):]
    if period and (not rest or (len(rest) >= 2 and name.endswith(rest))):
        year = re.match(r"\d{4}年", period)
        if year and year.group(0) in name and period[len(year.group(0)):] not in ("", "度"):
            period = period[len(year.group(0)):]
        return f"{name}（{period}）"
    if name in ms:
        return ms
    glued = nt.glue(name, ms)
    if ms not in name and glued != name + ms:  # glued on only where the milestone adds words of its own
        return glued
    return f"{name}：{ms}"


def _single_step(item: Item, spec: CycleSpec | None) -> bool:
    """The task has one milestone in its cycle file (unknown without the spec: taken as one, as the title says)."""
    if spec is None:
        return True
    try:
        return len(spec.item(item.key).milestones) == 1
    except KeyError:
        return True


def words(spec: CycleSpec) -> dict:
    """The cycle's words every template uses: the work plan cited, the plan (“十四五”规划), the work's name."""
    title = spec.file.plan_document or (spec.file.title if spec.file.title.endswith("方案")
                                        else spec.file.title + "方案")
    title = title.strip("《》")
    period = spec.period
    plan = f"“{period}”规划" if period and not period.endswith("年度") else (f"{period}" if period else "规划")
    quoted = f"“{period}”" if period and not period.endswith("年度") else period
    # the topics' track as the cycle file names it (lifecycles.topic.name: 前期重大课题, 前期课题 …), with the plan
    topics = spec.lifecycles["topic"].name if "topic" in spec.lifecycles else "课题"
    plan_topics = topics if (quoted and quoted in topics) or plan in topics else nt.glue(plan, topics)
    return {"cycle_title": f"《{title}》", "cycle_name": spec.cycle_name, "period": period, "plan": plan,
            "period_q": quoted, "topics_name": topics, "plan_topics": plan_topics,
            "district": spec.file.district, "coordinator": spec.coordinator.short}


def _body(spec: CycleSpec, key: str) -> str:
    """An approval body by its key in the cycle file, or a unit's name as written."""
    return spec.file.approval_bodies.get(key, key)


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
    from stages.engine import calendar_for  # the cached calendar; services does not import this module

    return calendar_for(spec)


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


# -- 督办: periodic, to the late units ----------------------------------------------------------------------------------
def _period_key(day: dt.date, every: str) -> str:
    if every == "week":
        y, w, _ = day.isocalendar()
        return f"{y}-W{w:02d}"
    if every == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()  # "rung": every sweep that fires the rung, batched


def supervision(session: Session, specs: dict[str, CycleSpec], cal: WorkCalendar, as_of=None,
                flow_run_id: str | None = None) -> list[Notice]:
    """One 督办通知 per run and period (settings: ``every: week | month | rung``) addressed to the units whose
    work has passed the 督办 rung and is still not delivered — or to the 督查 office (``via``) naming them. The
    reminders it covers are linked to it; later ones wait for the next period."""
    from stages.store.models import CycleRun

    when = as_datetime(as_of)
    day = when.date()
    made = []
    for run in session.exec(select(CycleRun).where(CycleRun.status == "active")).all():
        spec = specs.get(run.spec_id)
        if spec is None:
            continue
        cfg = nt.load_config(spec.notices_path)
        ds = nt.doc_settings(cfg, "supervision")
        key = f"supervision:{_period_key(day, ds.get('every', 'month'))}"
        if session.exec(select(Notice.id).where(Notice.run_id == run.id, Notice.idem_key == key)).first():
            continue
        rows = session.exec(select(Reminder, Milestone, Item).join(Milestone, Milestone.id == Reminder.milestone_id)
                            .join(Item, Item.id == Milestone.item_id)
                            .where(Reminder.run_id == run.id, Reminder.rung == "escalate",
                                   Reminder.notice_id.is_(None), Milestone.status.in_(["open", "returned"]),
                                   Milestone.due_version == Reminder.due_version)
                            .order_by(Milestone.owner, Milestone.due_date)).all()
        issuer = spec.coordinator.short
        rows = [r for r in rows if r[1].owner != issuer]  # the office does not 督办 itself
        if not rows:
            continue
        units: dict[str, list] = defaultdict(list)
        for rem, m, it in rows:
            units[m.owner].append({"item_title": item_name(it), "name": m.name, "what": work_name(it, m.name, spec), "due_cn": nt.cn_date(m.due_date),
                                   "workdays_late": cal.workdays_between(m.due_date, day)})
        ranked = sorted(units.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        via = ds.get("via")
        to = via or "、".join(u for u, _ in ranked)
        c = {**words(spec), "to": to, "via": via, "units": [{"unit": u, "rows": r} for u, r in ranked],
             "escalate_after": spec.file.reminders.escalate_after_workdays, "rank": bool(ds.get("rank", True)),
             "reply_workdays": int(ds.get("reply_within_workdays", 3)),
             "reply_due_cn": nt.cn_date(cal.add_workdays(day, int(ds.get("reply_within_workdays", 3))))}
        n = nt.draft(session, run.id, "supervision", c, recipients=[via] if via else [u for u, _ in ranked],
                     about=_period_key(day, ds.get("every", "month")), as_of=when, flow_run_id=flow_run_id,
                     cfg=cfg, key=key)
        for rem, _m, _it in rows:
            rem.notice_id = n.id
            session.add(rem)
        made.append(n)
    session.flush()
    return made


# -- the monthly 进展情况 ------------------------------------------------------------------------------------------------
def report_day_setting(spec: CycleSpec) -> int:
    """The day of the month the office files its progress report: ``documents.monthly_report.day``, else 25."""
    return int(nt.doc_settings(nt.load_config(spec.notices_path), "monthly_report").get("day") or 25)


def report_day_of(spec: CycleSpec, cal: WorkCalendar, year: int, month: int) -> dt.date:
    """That day in a given month, or the working day before it."""
    from stages.engine.sweep import report_day

    return report_day(cal, year, month, report_day_setting(spec))


def monthly_report(session: Session, spec: CycleSpec, cal: WorkCalendar, month: str, as_of=None,
                   flow_run_id: str | None = None) -> tuple[dict, bool]:
    """Compute the month's report and draft it (报告 to 区政府 with 签发人, or a 简报), once per month."""
    from stages.engine.sweep import monthly_report as compute

    report = compute(session, spec, cal, month, as_of, day=report_day_setting(spec))
    run = find_run(session, spec.id)
    key = f"monthly:{report['month']}"
    existing = session.exec(select(Notice).where(Notice.run_id == run.id, Notice.idem_key == key)).first()
    if existing is not None:
        return existing.data.get("report", report), False
    when = as_datetime(as_of or report["report_day"])
    cfg = nt.load_config(spec.notices_path)
    ds = nt.doc_settings(cfg, "monthly_report")
    context = monthly_report_context(session, spec, run.id, report, cal)
    context["to"] = ds.get("to") or ""
    context["report"] = report
    if context["report_rule"] is None and ds.get("rule"):  # the office's own rule where the cycle has no rhythm
        context["report_rule"] = str(ds["rule"]).strip()
    nt.draft(session, run.id, "monthly_report", context, recipients=[context["to"]] if context["to"] else [],
             about=report["month"], as_of=when, flow_run_id=flow_run_id, key=key, cfg=cfg)
    session.add(AuditEvent(run_id=run.id, at=when, recorded_at=now(), actor="system", action="report.monthly",
                           target=report["month"], data={"totals": report["totals"]}, flow_run_id=flow_run_id))
    session.flush()
    return report, True


def reporting_rule(spec: CycleSpec) -> str | None:
    """When the units report, in the words of the cycle's reporting rhythm (``reporting.day``): 每月20日前;
    None for a cycle without one: the report then cites no day, unless the notice settings give the office's own
    rule (``documents.monthly_report.rule: 每月25日前``)."""
    r = spec.file.reporting
    if r is None:
        return None
    if r.every == "month":
        return f"每月{r.day}日前"
    if r.every == "quarter":
        return f"每季度末月{r.day}日前"
    return f"每年{r.due_month}月{r.day}日前"


REPORT_PART_ZH = (("progress", "本期进展"), ("problems", "存在问题"), ("next", "下步安排"))


def _figure(value: float, unit: str | None) -> str:
    return f"{value:g}{unit or ''}"


def _targets_due(session: Session, spec: CycleSpec, items: dict, first: dt.date, cut: dt.date) -> dict | None:
    """The month's quantified targets (schema 2): those due since the last report, with the actual figures and 欠/达/超进度 —
    the board's reading as of the report's cut-off day. None when the cycle has no targets."""
    from stages.views.board import board

    if not any(m.targets for it in spec.items for m in it.milestones):
        return None
    # since the last report: deadlines after the month before's report day (a quarter's targets, due on its last
    # day, are read in the next month's report, with the figures handed in by then); none falls between two
    from stages.engine import calendar_for

    prev = dt.date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    since = report_day_of(spec, calendar_for(spec), prev.year, prev.month)
    data = board(session, spec, dt.datetime.combine(cut, dt.time(18)))
    rows = {"behind": [], "on": [], "ahead": [], "none": []}
    for it in data["items"]:
        for m in it["milestones"]:
            if not m.get("targets") or not since < dt.date.fromisoformat(m["due"]) <= cut:
                continue
            what = work_name(items[it["key"]], m["name"], spec) if it["key"] in items else it["title"]
            figures = "，".join(f"{t['of'] or '目标'}目标{_figure(t['value'], t['unit'])}"
                               + (f"、实际{_figure(t['actual'], t.get('actual_unit') or t['unit'])}" if "actual" in t else "")
                               for t in m["targets"])
            rows[m.get("progress") or "none"].append({"what": what, "owner": m["owner"], "figures": figures})
    total = sum(len(v) for v in rows.values())
    return {"total": total, **{k: v for k, v in rows.items()}} if total else None


def monthly_report_context(session: Session, spec: CycleSpec, run_id: int, report: dict, cal: WorkCalendar) -> dict:
    y, m = (int(x) for x in report["month"].split("-"))
    first = dt.date(y, m, 1)
    nxt_first = dt.date(y + (m == 12), m % 12 + 1, 1)
    cut = dt.date.fromisoformat(report["as_of"])
    items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id))}
    # what departments wrote this month with what they sent: 进展, 问题, 下步
    notes: dict[str, list[str]] = defaultdict(list)
    for sub, ms in session.exec(select(Submission, Milestone).join(Milestone, Milestone.id == Submission.milestone_id)
                                .where(Submission.run_id == run_id)):
        if not first <= sub.submitted_at.date() <= cut:
            continue
        if sub.report:  # a periodic report's three parts, as the unit wrote them
            parts = [f"{label}：{sub.report[k].strip().rstrip('。')}" for k, label in REPORT_PART_ZH
                     if sub.report.get(k) and sub.report[k].strip() not in ("无", "")]
            if parts:
                notes[ms.owner].append(f"{work_name(items[ms.item_key], ms.name, spec)}，" + "；".join(parts))
        elif sub.note and sub.note.strip() not in ("按要求报送",):
            notes[ms.owner].append(f"{work_name(items[ms.item_key], ms.name, spec)}，{sub.note.strip().rstrip('。')}")
    returned: dict[str, int] = defaultdict(int)
    for d, ms in session.exec(select(Decision, Milestone).join(Milestone, Milestone.id == Decision.milestone_id)
                              .where(Decision.run_id == run_id, Decision.kind == "return")):
        if first <= d.at.date() <= cut:
            returned[ms.owner] += 1
    departments = []
    for i, d in enumerate(report["departments"]):
        late = [{"what": work_name(items[it["item"]], it["name"], spec) if it["item"] in items else it["title"],
                 "due_cn": nt.cn_date(dt.date.fromisoformat(it["due"])), "workdays_late": it["workdays_late"]}
                for it in d["items"] if it["late"]]
        done = [work_name(items[it["item"]], it["name"], spec) if it["item"] in items else it["title"]
                for it in d["items"] if it["status"] in DONE]
        # completed by a move, with nothing handed in (承接单位 chosen, 立项确认, a gate): done, not 报送
        settled = sum(1 for it in d["items"] if it["status"] in DONE and not it["arrived"]
                      and first <= dt.date.fromisoformat(it["due"]) < nxt_first)
        departments.append({"dept": d["dept"], "no_cn": nt.cn_no(i + 1), "due": d["due"], "arrived": d["arrived"],
                            "settled": settled,
                            "late": late, "done": done, "returned": returned.get(d["dept"], 0),
                            "notes": notes.get(d["dept"], [])[:5]})
    # what comes next: the work due before the end of the following month, by unit
    nxt_end = dt.date(y + (m >= 11), (m + 1) % 12 + 1, 1)
    upcoming: dict[str, list[str]] = defaultdict(list)
    for ms in session.exec(select(Milestone).where(Milestone.run_id == run_id,
                                                   Milestone.status.in_(["open", "pending", "returned"]),
                                                   Milestone.due_date > cut, Milestone.due_date < nxt_end)
                           .order_by(Milestone.due_date, Milestone.item_key)):
        if ms.item_key in items and items[ms.item_key].status == "active":
            upcoming[ms.owner].append(f"{work_name(items[ms.item_key], ms.name, spec)}（{nt.cn_date(ms.due_date)}前）")
    name = spec.cycle_name
    return {**words(spec), "month_cn": f"{y}年{m}月", "as_of_cn": nt.cn_date(cut), "totals": report["totals"],
            # the title's month: 2027年区政府重点工作推进1月进展情况, the year not said twice
            "title_month": f"{m}月" if name.startswith(f"{y}年") else f"{y}年{m}月",
            "report_rule": reporting_rule(spec), "settled": sum(d["settled"] for d in departments),
            "targets": _targets_due(session, spec, items, first, cut),
            "returned": sum(returned.values()), "departments": departments,
            "upcoming": [{"dept": d, "rows": r[:4], "more": max(len(r) - 4, 0)}
                         for d, r in sorted(upcoming.items(), key=lambda kv: (-len(kv[1]), kv[0]))][:8],
            "upcoming_total": sum(len(r) for r in upcoming.values())}


# -- the yearly 《纲要》主要指标监测情况 -----------------------------------------------------------------------------------
def _value(x: float | None, unit: str | None = "") -> str:
    """A figure as a document writes it: 6.1%, 31.8微克/立方米; nothing for no value."""
    if x is None:
        return ""
    return f"{round(x, 4):g}{unit or ''}"


def _notes(inds) -> dict | None:
    """The indicators' ``note`` (示例值 …) as the report prints it: what all of them say once (``common``), what
    only some say after their names (``own``: [{names, text}]). None when no indicator has a note."""
    import os

    noted = [(i.name, i.note.strip()) for i in inds if i.note and i.note.strip()]
    if not noted:
        return None
    texts = [t for _, t in noted]
    common = os.path.commonprefix(texts)
    # cut back to where each note ends or goes on with a clause or an aside of its own
    while common and not all(t == common or t[len(common)] in "（(，,；;。" for t in texts):
        common = common[:-1]
    common = common.rstrip("，,；;。 ")
    if len(common) < 4:
        common = ""
    own: dict[str, list[str]] = {}
    for name, t in noted:
        rest = t[len(common):].strip("，,；;。 ") if common else t
        if rest[:1] in "（(" and rest[-1:] in "）)":
            rest = rest[1:-1].strip()
        if rest:
            own.setdefault(rest.rstrip("。"), []).append(name)
    return {"common": common, "all": len(noted) == len(inds), "noted": [n for n, _ in noted] if common else [],
            "own": [{"names": "、".join(names), "text": text} for text, names in own.items()]}


_REPORT_ORDER = ("ahead", "on_track", "met", "behind", "not_met", "no_target", "no_data")  # best first, no figure last


def indicator_report_context(spec: CycleSpec, figures, year: int, as_of=None) -> dict:
    """The 纲要's 主要指标 in ``year`` as the report states them, from the figure rows recorded on or before ``as_of``
    (``stages.engine.indicators.indicator_board``): every indicator with its base, that year's actual (none: 暂无数据,
    never a guess), target and judgement (``stages.engine.indicators.judge`` for that year), the counts, the 约束性
    indicators by name, the 预警 ones with their expected value and lead units, the 预期性 ones behind, those with
    no figure yet, and the indicators' notes. Refuses a cycle without indicators, a year with no monitoring and a
    year not over on ``as_of``."""
    from stages.engine import indicators as ix

    inds = list(spec.file.indicators)
    if not inds:
        raise PlancycleError(f"{spec.id} has no indicators (its cycle file lists none under indicators:)")
    years = ix.board_years(spec)
    if year not in years:
        span = f"{years[0]}–{years[-1]}" if years else "no year"
        raise PlancycleError(f"{year}: no indicator monitoring that year ({spec.cycle_name} monitors {span})")
    when = as_datetime(as_of)
    if when.date() <= dt.date(year, 12, 31):
        raise PlancycleError(f"{year} is not over on {when.date().isoformat()}: its indicator report can be drafted "
                             f"from {year + 1}-01-01")
    board = ix.indicator_board(spec, figures, when)
    by_id = {b["id"]: b for b in board["indicators"]}
    rows, binding, warnings, behind, missing = [], [], [], [], []
    counts = {k: 0 for k in ix.STATUS_ZH}
    statuses: dict[str, str] = {}
    base_years = {i.base_year for i in inds if i.base is not None}
    target_years = {i.target_year for i in inds if i.target is not None}
    one_base = next(iter(base_years)) if len(base_years) == 1 else None
    one_target = next(iter(target_years)) if len(target_years) == 1 else None
    for ind in inds:
        actual = next((a for a in by_id[ind.id]["actuals"] if a["year"] == year), None)
        j = ix.judge(ind, year, actual["value"] if actual else None)
        counts[j["status"]] += 1
        statuses[ind.id] = j["status"]
        leads = "、".join(spec.department(d).short for d in ind.lead) or spec.coordinator.short
        label = j["label"] + (f"（{ix.WARNING_ZH}）" if j["warning"] else "")
        unit = ind.unit or ""
        base = "" if ind.base is None else _value(ind.base) + ("" if one_base else f"（{ind.base_year}年）")
        target = "" if ind.target is None else _value(ind.target) + ("" if one_target else f"（{ind.target_year}年）")
        rows.append({"name": ind.name, "kind": ind.kind, "unit": unit, "base": base or "—",
                     "actual": _value(j["actual"]) if j["actual"] is not None else ix.STATUS_ZH["no_data"],
                     "target": target or "—", "label": label})
        if ind.kind == "约束性":
            binding.append({"name": ind.name, "label": j["label"], "warning": j["warning"]})
        entry = {"name": ind.name, "kind": ind.kind, "lead": leads, "label": j["label"],
                 "actual": _value(j["actual"], unit), "expected": _value(j["expected"], unit),
                 "path": ind.measure == "level" and ind.base is not None,
                 "target": _value(ind.target, unit), "target_year": ind.target_year}
        if j["warning"]:
            warnings.append(entry)
        elif j["status"] in ("behind", "not_met"):
            behind.append(entry)
        elif j["status"] == "no_data":
            missing.append(entry)
    missing_leads = sorted({u for m in missing for u in m["lead"].split("、")})
    warning_leads = list(dict.fromkeys(u for w in warnings for u in w["lead"].split("、")))
    by_status = [{"label": ix.STATUS_ZH[k], "names": "、".join(r["name"] for r, ind in zip(rows, inds)
                                                              if statuses[ind.id] == k)}
                 for k in _REPORT_ORDER if counts[k]]
    return {**words(spec), "year": year, "as_of_cn": nt.cn_date(when.date()), "total": len(inds),
            "reported": len(inds) - counts["no_data"],
            "counts": [{"label": ix.STATUS_ZH[k], "n": counts[k]} for k in _REPORT_ORDER if counts[k]],
            "binding": binding, "indicative": sum(1 for i in inds if i.kind != "约束性"),
            "warnings": warnings, "behind": behind, "missing": missing, "missing_leads": "、".join(missing_leads),
            "warning_leads": "、".join(warning_leads), "by_status": by_status, "rows": rows, "has_yearly": any(i.measure == "yearly" for i in inds), "base_year": one_base, "target_year": one_target, "notes": _notes(inds),
            "annex_title": f"《纲要》主要指标{year}年度监测情况表"}


def _government(spec: CycleSpec) -> str | None:
    """The cycle's government among its approval bodies (the one whose name ends in 政府), the report's default 主送."""
    return next((b for b in spec.file.approval_bodies.values() if b.endswith("政府")), None)


def indicator_report(session: Session, spec: CycleSpec, year: int, as_of=None, flow_run_id: str | None = None,
                     by: str | None = None) -> tuple[Notice, bool]:
    """Draft the yearly 《纲要》主要指标监测情况 for ``year`` (a 报告 with 签发人 to the settings' 主送 — default the
    cycle's government body — or a 简报, per ``documents.indicator_report``), once per year: the same year again
    returns the first draft (or the signed document) and drafts nothing. Values are the figures recorded on or
    before ``as_of`` (default now). Returns (the document, whether it was drafted now)."""
    from stages.engine.indicators import figure_rows

    try:
        year = int(str(year).strip())
    except (TypeError, ValueError):
        raise PlancycleError(f"the year {year!r} is not a year (expected e.g. 2022)") from None
    run = find_run(session, spec.id)
    key = f"indicator_report:{year}"
    when = as_datetime(as_of)
    context = indicator_report_context(spec, figure_rows(session, spec), year, when)  # refusals before the replay
    existing = session.exec(select(Notice).where(Notice.run_id == run.id, Notice.idem_key == key)).first()
    if existing is not None:
        return existing, False
    cfg = nt.load_config(spec.notices_path)
    ds = nt.doc_settings(cfg, "indicator_report")
    to = str(ds.get("to") or "").strip() or (_government(spec) or "")
    if ds["genre"] in nt.UPWARD_GENRES and not to:
        raise PlancycleError("the indicator report needs a 主送: set documents.indicator_report.to in "
                             f"{spec.notices_path}")
    context["to"] = to
    context["next"] = str(ds.get("next") or "").strip()
    n = nt.draft(session, run.id, "indicator_report", context, recipients=[to] if to else [], about=str(year),
                 as_of=when, flow_run_id=flow_run_id, key=key, cfg=cfg)
    session.add(AuditEvent(run_id=run.id, at=when, recorded_at=now(), actor=by or "system",
                           action="report.indicators", target=str(year),
                           data={"notice": n.id, "counts": {c["label"]: c["n"] for c in context["counts"]},
                                 "warnings": [w["name"] for w in context["warnings"]]}, flow_run_id=flow_run_id))
    session.flush()
    return n, True


# -- the moves on a document: edit, sign ------------------------------------------------------------------------------
def _doc(ctx, notice_id: int) -> Notice:
    n = ctx.session.get(Notice, notice_id)
    if n is None or n.run_id != ctx.run.id or n.status not in ("draft", "issued"):
        raise NotFound(f"no document {notice_id} in this cycle (see `plancycle notices`)")
    return n


def edit_document(session: Session, spec: CycleSpec, *, notice: int, changes: dict, by=None, as_of=None,
                  key: str | None = None, flow_run_id: str | None = None):
    """The coordinator changes a draft's free-text parts (place, contact, 签发人, a paragraph); audited."""
    from stages import engine as sv

    ctx = sv._ctx(session, spec, by, as_of, flow_run_id, "notice.edit", str(notice))
    sv._require_coordinator(ctx, "edit a document")
    request = {"notice": notice, "changes": dict(sorted(changes.items()))}
    key = key or f"notice-edit:{notice}:{sv._fingerprint(request)}"
    if sv._replayed(ctx, key, request):
        return ctx.outcome
    n = _doc(ctx, notice)
    changed = nt.edit(session, n, changes)
    sv._audit(ctx, "notice.edited", str(notice), data={"request": request,
                                                        "changed": {k: list(v) for k, v in changed.items()}}, key=key)
    ctx.outcome.message = f"document {notice} edited: {', '.join(changed)}"
    return ctx.outcome


def sign_document(session: Session, spec: CycleSpec, *, notice: int, number: str | None = None,
                  changes: dict | None = None, by=None, as_of=None, key: str | None = None,
                  flow_run_id: str | None = None):
    """签发: the coordinator (or the settings' ``signing.users``) signs a draft off; the 发文字号 is taken now."""
    from stages import engine as sv

    ctx = sv._ctx(session, spec, by, as_of, flow_run_id, "notice.sign", str(notice))
    sv._require_coordinator(ctx, "sign a document off")
    request = {"notice": notice, "number": number, "changes": dict(sorted((changes or {}).items()))}
    key = key or f"notice-sign:{notice}"
    if sv._replayed(ctx, key, request):
        return ctx.outcome
    n = _doc(ctx, notice)
    cfg = nt.load_config(spec.notices_path)
    allowed = ((cfg.get("signing") or {}).get("users") or [])
    if allowed and ctx.actor.user not in allowed and ctx.actor.role != "system":
        raise sv.Forbidden(f"{ctx.actor.label} cannot sign documents off: 签发 is for {', '.join(allowed)}")
    if changes:
        changed = nt.edit(session, n, changes)
        sv._audit(ctx, "notice.edited", str(notice), data={"changed": {k: list(v) for k, v in changed.items()}})
    nt.sign(session, n, as_of=ctx.as_of, signed_by=ctx.actor.label, number=number, cfg=cfg)
    sv._audit(ctx, "notice.signed", str(notice), data={"request": request, "number": n.doc_number,
                                                        "genre": n.data.get("genre"), "title": n.title}, key=key)
    ctx.outcome.message = f"{n.data.get('genre')} signed: {n.doc_number or '(no number: ' + n.data.get('genre', '') + ')'} {n.title}"
    ctx.outcome.data["notice"] = {"id": n.id, "number": n.doc_number, "title": n.title, "genre": n.data.get("genre")}
    return ctx.outcome


def drafts(session: Session, run_id: int) -> list[Notice]:
    return session.exec(select(Notice).where(Notice.run_id == run_id, Notice.status == "draft")
                        .order_by(Notice.id)).all()


def check_signable(notice: Notice) -> list[str]:
    return nt.missing(notice.data, notice.kind) if notice.status == "draft" else []


__all__ = ["after", "supervision", "monthly_report", "indicator_report", "edit_document", "sign_document", "drafts", "item_name",
           "words", "PlancycleError"]
