"""A unit's inbox (``/inbox``): what it owes, what is late, what waits on a condition; and its 立项建议
(``/propose``), sent from there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from stages.store.models import Item, Milestone

from ..deps import Acting, CheckedForm, ReadSession, SignedIn, aact
from ..helpers import ms_spec
from ..pages import adone, common, page, said

router = APIRouter()


def inbox_data(st, s, actor, run, spec, dept):
    from stages.views.reads import inbox

    if actor.role == "department" or not dept:
        dept = actor.dept
    data = inbox(s, spec, dept, st.now())
    rows = s.exec(select(Milestone, Item).join(Item, Item.id == Milestone.item_id)
                  .where(Milestone.run_id == run.id, Milestone.owner == data["dept"], Milestone.status == "dormant")
                  .order_by(Milestone.due_date, Milestone.id)).all()
    data["dormant"] = [{"item": it.key, "title": it.title, "milestone": m.ms_id, "name": m.name,
                        "due": m.due_date.isoformat(), "light": "dormant",
                        "condition": ms_spec(spec, it.kind, it.key, m.ms_id, "condition")} for m, it in rows]
    return data


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, c: SignedIn, s: ReadSession, dept: str = ""):
    data = inbox_data(request.app.state.pc, s, c.actor, c.run, c.spec, dept)
    return page(request, "inbox.html", {**common(request, c, s), "ib": data, "depts": c.spec.departments})


@router.get("/api/inbox")
def api_inbox(request: Request, c: SignedIn, s: ReadSession, dept: str = ""):
    return inbox_data(request.app.state.pc, s, c.actor, c.run, c.spec, dept)


@router.post("/propose")
async def propose(request: Request, form: CheckedForm, c: Acting):
    actor = c.actor
    dept = actor.dept if actor.role == "department" else (form.get("dept") or actor.dept)
    out = await aact(request, "propose_special_plan", "ProposeRequest", dept=dept, title=form.get("title") or "",
                     note=form.get("note") or None, actor=actor)
    return await adone(request, "/inbox", said(out, "立项建议已报送"))
