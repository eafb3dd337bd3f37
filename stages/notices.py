"""Notices (公文): what each step of the cycle issues, numbered and filed.

Owns: the notice config (``config/notices.yaml``), the Jinja2 environment (``templates/notices``,
StrictUndefined, every value escaped for the markup), the context each kind is built from, 发文字号 allocation,
issuing (number + render + checksum + filing, in the caller's transaction) and re-rendering a filed notice.
Does not own: the document format (``stages.documents``) or when a step happens (``stages.services``).

A notice stores the context it was rendered from (the cycle's state at that moment), the template's checksum
and the file's SHA-256, so ``render`` reproduces the same bytes; a correction is a new notice pointing at the old
one. The number is allocated in the same transaction as the notice row: if rendering fails, the transaction is
rolled back and the number is neither used nor skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from . import documents
from .clock import as_datetime
from .errors import ConfigError, NotFound, PlancycleError
from .models import DocSequence, Item, Milestone, Notice
from .spec import CycleSpec

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates" / "notices"
CONFIG = ROOT / "config" / "notices.yaml"

CN_NUM = "一二三四五六七八九十"
TEMPLATE_OF = {"call_for_tender": "call_for_tender", "meeting": "meeting", "reminder": "reminder",
               "escalation": "reminder", "stage_notice": "stage_notice",
               "special_plan_registration": "special_plan_registration", "request": "request",
               "monthly_report": "monthly_report"}


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def cn_datetime(when: dt.datetime) -> str:
    return f"{cn_date(when.date())}{when.hour}:{when.minute:02d}"


def cn_no(i: int) -> str:
    return CN_NUM[i - 1] if 1 <= i <= 10 else str(i)


@lru_cache(maxsize=4)
def load_config(path: str = str(CONFIG)) -> dict:
    from .yamlio import load_yaml

    doc = load_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping", file=path, line=1)
    for key in ("organ", "contact", "numbering", "cc", "call_for_tender", "meetings"):
        if key not in data:
            raise ConfigError(f"missing key {key!r}", file=path, line=1)
    for key in ("name", "prefix", "masthead", "office"):
        if not data["organ"].get(key):
            raise ConfigError(f"missing key {key!r}", file=path, line=doc.line("organ"), path="organ")
    return data


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, autoescape=False,
                       finalize=documents.escape, keep_trailing_newline=True, trim_blocks=False)


def template_sha(kind: str) -> str:
    name = TEMPLATE_OF[kind]
    h = hashlib.sha256()
    for f in sorted(TEMPLATES.glob("*.j2")):
        if f.stem in (name, "_tail"):
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def markup(kind: str, context: dict) -> str:
    return _env().get_template(TEMPLATE_OF[kind] + ".j2").render(**context)


def render(kind: str, context: dict, fmt: str = "docx") -> bytes:
    return _render_doc(documents.parse(markup(kind, context)), context, fmt)


def _render_doc(doc: documents.Doc, context: dict, fmt: str) -> bytes:
    if fmt == "md":
        return documents.to_markdown(doc).encode("utf-8")
    if fmt == "docx":
        created = dt.datetime.fromisoformat(context["issued_at"])
        return documents.to_docx(doc, author=context["organ"]["name"], created=created)
    raise PlancycleError(f"unknown format {fmt!r} (expected docx or md)")


# -- numbering -------------------------------------------------------------------------------------------------------
def allocate_number(session: Session, organ: dict, year: int, cfg: dict) -> tuple[int, str]:
    """Next 发文字号 for (organ, year), in the caller's transaction: rolled back with it, never skipped.

    The year's row is created with INSERT … ON CONFLICT DO NOTHING (one row whoever gets there first), then the
    UPDATE takes its row lock: concurrent writers of the first number of a year queue instead of failing on the
    unique constraint, and each gets the next number.
    """
    from .sweep import _insert_ignore

    prefix = organ["prefix"]
    first = int((cfg.get("numbering", {}).get("first") or {}).get(year, 1))
    insert = _insert_ignore(session)
    session.execute(insert(DocSequence).values(organ=prefix, year=year, last=first - 1)
                    .on_conflict_do_nothing(index_elements=["organ", "year"]))
    session.execute(update(DocSequence).where(DocSequence.organ == prefix, DocSequence.year == year)
                    .values(last=DocSequence.last + 1))
    last = session.exec(select(DocSequence.last).where(DocSequence.organ == prefix, DocSequence.year == year)).one()
    return last, f"{prefix}〔{year}〕{last}号"


# -- issuing ---------------------------------------------------------------------------------------------------------
def issue(session: Session, run_id: int, kind: str, context: dict, *, recipients: list[str], about: str, as_of,
          flow_run_id: str | None = None, corrects: int | None = None, key: str | None = None,
          notice: Notice | None = None, cfg: dict | None = None) -> Notice:
    """Number (unless the kind is unnumbered), render, checksum and file a notice. Does not commit."""
    cfg = cfg or load_config()
    when = as_datetime(as_of)
    if key:
        prior = session.exec(select(Notice).where(Notice.run_id == run_id, Notice.idem_key == key)).first()
        if prior is not None:
            return prior
    organ = cfg["organ"]
    context = dict(context)
    context.setdefault("organ", organ)
    context.setdefault("contact", cfg["contact"])
    cc_cfg = cfg.get("cc") or {}
    context.setdefault("cc", cc_cfg.get(kind, cc_cfg.get("default")))
    context["date_cn"] = cn_date(when.date())
    context["issued_at"] = when.isoformat()
    number = seq = None
    if kind not in (cfg.get("numbering", {}).get("unnumbered") or []):
        seq, number = allocate_number(session, organ, when.year, cfg)
    context["doc_number"] = number
    doc = documents.parse(markup(kind, context))
    data = _render_doc(doc, context, "docx")  # raises before anything is filed if the template or data is wrong
    title = doc.title
    row = notice or Notice(run_id=run_id, kind=kind, about=about, created_at=when, flow_run_id=flow_run_id,
                           idem_key=key)
    row.kind = kind
    row.status = "issued"
    row.recipients = list(recipients)
    row.title = title
    row.doc_number = number
    row.organ = organ["prefix"]
    row.year = when.year
    row.seq = seq
    row.data = context
    row.template = TEMPLATE_OF[kind]
    row.template_sha = template_sha(kind)
    row.checksum = hashlib.sha256(data).hexdigest()
    row.issued_at = when
    row.corrects_id = corrects
    session.add(row)
    session.flush()
    return row


def render_notice(session: Session, notice_id: int, fmt: str = "docx") -> tuple[Notice, bytes]:
    n = session.get(Notice, notice_id)
    if n is None:
        raise NotFound(f"no notice {notice_id} (see `plancycle notices`)")
    if n.status != "issued":
        raise PlancycleError(f"notice {notice_id} ({n.kind}) is a record, not an issued document")
    return n, render(n.kind, n.data, fmt)


def correct(session: Session, notice_id: int, *, reason: str, changes: dict, as_of, flow_run_id=None) -> Notice:
    """A correction is a new notice (with its own number) that names the one it corrects; the old one stays."""
    old = session.get(Notice, notice_id)
    if old is None or old.status != "issued":
        raise NotFound(f"no issued notice {notice_id}")
    if not (reason and reason.strip()):
        raise PlancycleError("a correction needs a reason")
    ctx = {k: v for k, v in old.data.items() if k not in ("doc_number", "date_cn", "issued_at")}
    ctx.update(changes)
    new = issue(session, old.run_id, old.kind, ctx, recipients=old.recipients, about=old.about, as_of=as_of,
                flow_run_id=flow_run_id, corrects=old.id)
    new.data = dict(new.data, corrects=old.doc_number or old.id, correction_reason=reason)
    session.add(new)
    session.flush()
    return new


# -- contexts: the cycle's state a notice is rendered from -------------------------------------------------------------
def _base(spec: CycleSpec, to: str) -> dict:
    """``cycle_title`` names the work plan the notices cite: 《长宁区“十四五”规划研究和编制工作方案》."""
    title = spec.file.title if spec.file.title.endswith("方案") else spec.file.title + "方案"
    return {"cycle_title": f"《{title}》", "to": to}


def call_for_tender_context(session: Session, spec: CycleSpec, run_id: int, as_of, cfg: dict, cal) -> dict:
    when = as_datetime(as_of)
    cft = cfg["call_for_tender"]
    deadline_day = cal.add_workdays(when.date(), int(cft["apply_within_workdays"]))
    hh, mm = (int(x) for x in str(cft["apply_until"]).split(":"))
    topics = []
    for it in session.exec(select(Item).where(Item.run_id == run_id, Item.kind == "topic").order_by(Item.no)):
        if it.open_call:
            sp = spec.item(it.key)
            topics.append({"no": it.no, "title": it.title, "focus": sp.focus or "", "lead": "、".join(it.lead)})
    lc = {m.id: m for m in spec.lifecycles["topic"].milestones}
    what = {"kickoff": "课题组形成开题报告，由牵头部门会同区发改委组织召开课题启动会",
            "midterm": "课题组形成课题中期成果，由牵头部门会同区发改委组织召开中期成果汇报会",
            "final_review": "课题组提交课题研究成果报告，由牵头部门会同区发改委组织专家评审"}
    first = spec.item(f"topic-{topics[0]['no']:02d}") if topics else None
    milestones = [{"name": lc[k].name, "due_cn": cn_date(first.milestone(k).due_date) if first else "", "what": w}
                  for k, w in what.items() if k in lc]
    funding = [{"name": f.name, "percent": round(f.share * 100)} for f in spec.file.funding]
    final_due = first.milestone("final_review").due_date if first else when.date()
    return {**_base(spec, "社会各有关单位"), "cft": cft, "topics": topics, "milestones": milestones, "funding": funding,
            "deadline_cn": cn_datetime(dt.datetime.combine(deadline_day, dt.time(hh, mm))),
            "deadline": dt.datetime.combine(deadline_day, dt.time(hh, mm)).isoformat(),
            "final_review_due_cn": cn_date(final_due),
            "annex_title": f"{spec.file.district}“十四五”规划编制前期重大课题清单（公开遴选）"}


def stage_notice_context(session: Session, spec: CycleSpec, run_id: int, opened: list[str], stage: str | None) -> dict:
    rows = {}
    if opened:
        keys = [tuple(x.split(":", 1)) for x in opened]
        items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id,
                                                                   Item.key.in_({k for k, _ in keys})))}
        for m in session.exec(select(Milestone).where(Milestone.run_id == run_id,
                                                      Milestone.item_key.in_({k for k, _ in keys}))):
            if (m.item_key, m.ms_id) in keys:
                it = items[m.item_key]
                try:
                    from .services import ms_spec

                    deliverables = "、".join(ms_spec(spec, it.kind, it.key, m.ms_id).deliverables)
                except KeyError:
                    deliverables = ""
                rows.setdefault(m.owner, []).append({"item_title": _short(it), "name": m.name,
                                                     "due": m.due_date.isoformat(), "due_cn": cn_date(m.due_date),
                                                     "deliverables": deliverables})
    groups = [{"no_cn": cn_no(i + 1), "owner": owner, "rows": sorted(items_, key=lambda x: x["due"])}
              for i, (owner, items_) in enumerate(sorted(rows.items(), key=lambda kv: min(x["due"] for x in kv[1])))]
    st = spec.stage(stage) if stage else None
    to = "各有关部门、各街镇" if st else "、".join(g["owner"] for g in groups) or "各有关部门"
    return {**_base(spec, to), "stage_name": st.name if st else None,
            "stage_window": f"{cn_date(st.start_date)}至{cn_date(st.end_date)}" if st else None, "groups": groups}


def _short(item: Item) -> str:
    if item.kind == "topic":
        return f"课题{item.no}"
    if item.kind == "outline":
        return "《纲要》"
    return item.title


def reminder_context(session: Session, spec: CycleSpec, notice: Notice, escalate_after: int) -> dict:
    from .sweep import notice_entries

    day = notice.created_at.date()
    entries = notice_entries(session, notice.id, day)
    items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == notice.run_id,
                                                               Item.key.in_({e["item"] for e in entries})))}
    out = []
    for e in entries:
        due = dt.date.fromisoformat(e["due"])
        out.append({**e, "item_title": _short(items[e["item"]]) if e["item"] in items else e["item"],
                    "due_cn": cn_date(due), "days_left": max((due - day).days, 0)})
    return {**_base(spec, notice.about), "entries": out, "escalation": notice.kind == "escalation",
            "escalate_after": escalate_after}


def monthly_report_context(spec: CycleSpec, report: dict, to: str = "区政府办公室") -> dict:
    y, m = (int(x) for x in report["month"].split("-"))
    departments = []
    for i, d in enumerate(report["departments"]):
        items = [{**it, "due_cn": cn_date(dt.date.fromisoformat(it["due"])),
                  "title_short": it["title"] if len(it["title"]) <= 20 else it["item"]} for it in d["items"]]
        departments.append({**{k: v for k, v in d.items() if k != "items"}, "no_cn": cn_no(i + 1), "rows": items})
    return {**_base(spec, to), "month_cn": f"{y}年{m}月", "as_of_cn": cn_date(dt.date.fromisoformat(report["as_of"])),
            "totals": report["totals"], "departments": departments}


def registration_context(session: Session, spec: CycleSpec, run_id: int, confirmed: list[str], rejected: list[str],
                         reason: str | None) -> dict:
    items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id,
                                                               Item.key.in_(confirmed + rejected)))}
    align = next((m.due_date for m in spec.lifecycles["special_plan"].milestones if m.id == "alignment_draft"), None)
    leads = sorted({d for k in confirmed + rejected for d in items[k].lead})
    return {**_base(spec, "、".join(leads) or "各有关部门"),
            "leading_group": spec.file.approval_bodies.get("leading_group", "领导小组"),
            "confirmed": [{"title": items[k].title, "lead": "、".join(items[k].lead)} for k in confirmed],
            "rejected": [{"title": items[k].title, "lead": "、".join(items[k].lead)} for k in rejected],
            "reason": reason, "alignment_due_cn": cn_date(align) if align else "规定时间"}


def meeting_context(session: Session, spec: CycleSpec, run_id: int, milestone: str, topics: list[str],
                    at: dt.datetime, place: str, attendees: str | None, cfg: dict, cal) -> dict:
    items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id, Item.key.in_(topics)))}
    rows = {m.item_key: m for m in session.exec(select(Milestone).where(Milestone.run_id == run_id,
                                                                        Milestone.item_key.in_(topics),
                                                                        Milestone.ms_id == milestone))}
    missing = [t for t in topics if t not in rows]
    if missing:
        raise NotFound(f"{missing[0]} has no milestone {milestone!r}")
    names = {"kickoff": ("课题启动会", "开题", "开题报告"), "midterm": ("中期成果汇报会", "中期汇报", "课题中期成果"),
             "final_review": ("结题评审会", "结题评审", "课题研究成果报告")}
    meeting_name, ms_name, materials = names.get(milestone, (rows[topics[0]].name + "会", rows[topics[0]].name, "相关材料"))
    leads = sorted({d for t in topics for d in items[t].lead})
    due = max(rows[t].due_date for t in topics)
    mat_due = cal.add_workdays(at.date(), -int(cfg["meetings"].get("materials_days_before", 3)))
    return {**_base(spec, "、".join(["各课题承担单位"] + leads)), "meeting_name": meeting_name,
            "milestone_name": ms_name, "due_cn": cn_date(due), "at_cn": cn_datetime(at), "at": at.isoformat(),
            "place": place, "materials": materials, "materials_due_cn": cn_date(mat_due),
            "attendees": attendees or "各课题牵头部门、配合部门分管领导和具体负责人，各课题组负责人及主要成员，区发改委",
            "topics": [{"key": t, "title": items[t].title, "lead": "、".join(items[t].lead),
                        "contractor": items[t].contractor} for t in topics]}


def request_context(spec: CycleSpec, title: str, paragraphs: list[str], attachments: list[str],
                    to: str = "区政府") -> dict:
    return {**_base(spec, to), "title": title, "paragraphs": paragraphs, "attachments": attachments}
