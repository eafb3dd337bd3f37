"""The planning office's tools (``/manage``): the stage's exit gate and advancing it, deadlines moved (with a
preview), milestones waived, meetings, contractors, approvals, special plans registered, a record corrected."""

from __future__ import annotations

import datetime as dt
import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from stages.ground.errors import PlancycleError
from stages.rules.identity import Forbidden
from stages.store.models import CycleRun

from .. import words
from ..deps import CheckedForm, Coordinating, ReadSession, SignedIn, aact, ctx
from ..helpers import checklist
from ..pages import adone, common, page, said
from ..state import PageError

router = APIRouter()


def manage_data(st, s, actor, run, spec):
    if not actor.can_coordinate:
        raise Forbidden("协调工具仅限规划科（协调人）使用")
    from stages.engine import _approval_subjects, facts_for
    from stages.rules.gates import evaluate, predicates
    from stages.views.board import board

    facts = facts_for(s, run)
    cur = spec.stage(run.current_stage) if run.status == "active" else None
    gate = None
    if cur and cur.exit_gate:
        g = spec.gate(cur.exit_gate)
        gate = {"name": g.name, "id": g.id, "ok": evaluate(spec, g.id, facts).ok, "checks": checklist(spec, g, facts)}
    b = board(s, spec, st.now())
    open_ms = [{"item": it["key"], "title": it["title"], "milestone": m["id"], "name": m["name"], "due": m["due"],
                "owner": m["owner"], "status": m["status"]}
               for it in b["items"] for m in it["milestones"] if m["status"] in ("pending", "open", "submitted", "returned")]
    topics = [it for it in b["items"] if it["kind"] == "topic"]
    proposals = [it for it in b["items"] if it["kind"] == "special_plan" and it["status"] == "active"
                 and any(m["status"] in ("submitted", "open", "pending") for m in it["milestones"][:2])]
    meeting_ms, seen = [], set()
    for it in spec.items:
        for m in it.milestones:
            if it.kind == "topic" and m.id not in seen and any(n.endswith("_meeting") for n in m.notices):
                seen.add(m.id)
                meeting_ms.append({"id": m.id, "name": m.name})
    approvals = []
    for body, subject in sorted(_approval_subjects(spec)):
        waiting = [g.name for g in spec.file.gates
                   if any(p.approval and (p.approval.body, p.approval.subject) == (body, subject)
                          for p in predicates(g))]
        what = waiting[0] if waiting else subject
        approvals.append({"value": f"{body}|{subject}", "label": f"{spec.file.approval_bodies.get(body, body)}：{what}",
                          "done": (body, subject) in facts.approvals})
    return {"stage": cur.name if cur else None, "stage_id": cur.id if cur else None, "gate": gate,
            "open": open_ms, "topics": topics, "proposals": proposals, "meeting_milestones": meeting_ms,
            "approvals": approvals, "labels": words.labels_for(s, run, spec)}


@router.get("/manage", response_class=HTMLResponse)
def manage_page(request: Request, c: SignedIn, s: ReadSession):
    data = manage_data(request.app.state.pc, s, c.actor, c.run, c.spec)
    return page(request, "manage.html", {**common(request, c, s), "m": data, "depts": c.spec.departments})


@router.post("/manage/advance")
async def advance(request: Request, form: CheckedForm, c: Coordinating):
    actor = c.actor
    out = await aact(request, "advance_stage", "AdvanceRequest", from_stage=form.get("from_stage") or None,
                     actor=actor, by=actor.dept, override_reason=form.get("override_reason") or None)
    return await adone(request, "/manage", said(out, "阶段已推进"))


@router.get("/manage/extend", response_class=HTMLResponse)
def extend_preview(request: Request, c: SignedIn, s: ReadSession):
    """The preview is a page of its own (GET, nothing written): back and reload work, and it can be shared."""
    form = request.query_params
    if not c.actor.can_coordinate:
        raise Forbidden("只有规划科（协调人）可以调整期限")
    preview = _extend_preview(s, c.run, c.spec, _extend_fields(form))
    return page(request, "extend_preview.html", {**common(request, c, s), "p": preview,
                                                 "form": [(k, v) for k, v in form.multi_items()
                                                          if k not in ("csrf_token", "confirm")],
                                                 "labels": words.labels_for(s, c.run, c.spec)})


def _preview_page(request: Request, form, fields: dict):
    with Session(request.app.state.pc.read_engine) as s:
        c = ctx(request, s)
        preview = _extend_preview(s, c.run, c.spec, fields)
        return page(request, "extend_preview.html", {**common(request, c, s), "p": preview,
                                                     "form": list(form.multi_items()),
                                                     "labels": words.labels_for(s, c.run, c.spec)})


@router.post("/manage/extend")
async def extend(request: Request, form: CheckedForm, c: Coordinating):
    fields = _extend_fields(form)
    if form.get("confirm") != "yes":  # preview: what would move, nothing written
        return await run_in_threadpool(_preview_page, request, form, fields)
    out = await aact(request, "extend_deadlines", "ExtendRequest", actor=c.actor, by=c.actor.dept, **fields)
    return await adone(request, "/manage", said(out, "期限已调整"))


@router.post("/items/{key}/correct")
async def correct(request: Request, form: CheckedForm, c: Coordinating, key: str):
    out = await aact(request, "correct_record", "CorrectRequest", item=key, field=form.get("field") or "",
                     value=form.get("value") or "", reason=form.get("reason") or "", actor=c.actor,
                     by=c.actor.dept)
    return await adone(request, f"/items/{urllib.parse.quote(key)}", said(out, "已更正"))


@router.post("/manage/waive")
async def waive(request: Request, form: CheckedForm, c: Coordinating):
    key, _, ms = str(form.get("target") or "").partition(":")
    out = await aact(request, "waive_milestone", "WaiveRequest", item=key, milestone=ms,
                     reason=form.get("reason") or "", actor=c.actor, by=c.actor.dept)
    return await adone(request, "/manage", said(out, "已免除"))


@router.post("/manage/meeting")
async def meeting(request: Request, form: CheckedForm, c: Coordinating):
    at = _datetime_field(form.get("at"), "会议时间")
    out = await aact(request, "schedule_meeting", "MeetingRequest", milestone=form.get("milestone") or "", at=at,
                     topics=form.getlist("topic"), dept=form.get("dept") or None, place=form.get("place") or None,
                     attendees=form.get("attendees") or None, actor=c.actor, by=c.actor.dept)
    return await adone(request, "/manage", said(out, "会议通知已生成"))


@router.post("/manage/contractor")
async def contractor(request: Request, form: CheckedForm, c: Coordinating):
    out = await aact(request, "assign_contractor", "ContractorRequest", topic=form.get("topic") or "",
                     contractor=form.get("contractor") or "", contact=form.get("contact") or "", actor=c.actor,
                     by=c.actor.dept)
    return await adone(request, "/manage", said(out, "承接单位已登记"))


@router.post("/manage/approve")
async def approve(request: Request, form: CheckedForm, c: Coordinating):
    body, _, subject = str(form.get("approval") or "").partition("|")
    out = await aact(request, "record_approval", "ApproveRequest", body=body, subject=subject,
                     note=form.get("note") or None, actor=c.actor, by=c.actor.dept)
    return await adone(request, "/manage", said(out, "审批已登记"))


@router.post("/manage/register")
async def register(request: Request, form: CheckedForm, c: Coordinating):
    confirm = [k for k, v in form.multi_items() if k.startswith("sp:") and v == "confirm"]
    reject = [k for k, v in form.multi_items() if k.startswith("sp:") and v == "reject"]
    out = await aact(request, "register_special_plans", "RegisterRequest", confirm=[k[3:] for k in confirm],
                     reject=[k[3:] for k in reject], reason=form.get("reason") or None, actor=c.actor,
                     by=c.actor.dept)
    return await adone(request, "/manage", said(out, "立项确认已办理"))


def _datetime_field(value, label: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value or "").strip())
    except ValueError:
        raise PageError(400, f"{label}格式不正确（应为 YYYY-MM-DDTHH:MM）") from None


def _extend_fields(form) -> dict:
    def date(name, label):
        v = (form.get(name) or "").strip()
        if not v:
            return None
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            raise PageError(400, f"{label}格式不正确（应为 YYYY-MM-DD）") from None

    def num(name, label):
        v = (form.get(name) or "").strip()
        if not v:
            return None
        try:
            return int(v)
        except ValueError:
            raise PageError(400, f"{label}应为整数") from None

    items = [x for x in form.getlist("item") if x]
    return {"reason": form.get("reason") or "", "items": items, "milestone": form.get("milestone") or None,
            "due_from": date("due_from", "起始日期"), "due_to": date("due_to", "截止日期"), "days": num("days", "顺延天数"),
            "workdays": num("workdays", "顺延工作日"), "new_due": date("new_due", "新期限")}


def _extend_preview(s: Session, run: CycleRun, spec, f: dict) -> dict:
    """What an extension would move: the service's own selection (``extension_plan``), without writing."""
    from stages.engine import calendar_for, extension_plan

    if sum(x is not None for x in (f["days"], f["workdays"], f["new_due"])) != 1:
        raise PageError(400, "请在“顺延天数”“顺延工作日”“新期限”中填写且只填写一项")
    if not (f["reason"] or "").strip():
        raise PageError(400, "调整期限须填写理由")
    try:
        plan = extension_plan(s, run.id, calendar_for(spec), items=f["items"], milestone=f["milestone"],
                              due_from=f["due_from"], due_to=f["due_to"], days=f["days"], workdays=f["workdays"],
                              new_due=f["new_due"])
    except (OverflowError, PlancycleError) as exc:
        raise PageError(400, f"无法计算新期限：{exc}") from None
    rows = [{"item": m.item_key, "name": m.name, "owner": m.owner, "from": m.due_date.isoformat(),
             "to": to.isoformat(), "ok": to > m.due_date} for m, to in plan]
    if f["due_from"] and f["due_to"] and f["due_from"] > f["due_to"]:
        raise PageError(400, "期限范围的起始日期晚于截止日期")
    return {"rows": rows, "reason": f["reason"], "ok": all(r["ok"] for r in rows)}
