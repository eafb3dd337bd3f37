"""The review queue (``/review``): what waits on the planning office (or a lead unit, where the cycle lets it),
with bulk acceptance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from stages.ground.errors import PlancycleError
from stages.rules.identity import Forbidden
from stages.store.models import Item, Milestone, Submission

from ..deps import Acting, CheckedForm, ReadSession, SignedIn, aact
from ..pages import adone, common, page
from ..state import PageError

router = APIRouter()


def queue_data(s, actor, run, spec):
    if not actor.can_coordinate and not spec.file.lead_may_review:
        raise Forbidden("只有规划科（协调人）审核报送材料")
    rows = s.exec(select(Milestone, Item).join(Item, Item.id == Milestone.item_id)
                  .where(Milestone.run_id == run.id, Milestone.status == "submitted")
                  .order_by(Milestone.submitted_at, Milestone.id)).all()
    out = []
    for m, it in rows:
        if not actor.can_coordinate and actor.dept not in it.lead:
            continue
        sub = s.exec(select(Submission).where(Submission.milestone_id == m.id)
                     .order_by(Submission.round.desc())).first()
        out.append({"item": it.key, "title": it.title, "kind": it.kind, "milestone": m.ms_id, "name": m.name,
                    "owner": m.owner, "by": sub.submitted_by if sub else m.owner,
                    "due": m.due_date.isoformat(), "round": sub.round if sub else 1,
                    "submitted_at": m.submitted_at.isoformat() if m.submitted_at else None,
                    "note": sub.note if sub else None,
                    "files": [{**{k: v for k, v in f.items() if k != "path"}, "url": f"/files/{sub.id}/{i}"}
                              for i, f in enumerate(sub.files)] if sub else []})
    return {"queue": out}


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, c: SignedIn, s: ReadSession):
    data = queue_data(s, c.actor, c.run, c.spec)
    return page(request, "review.html", {**common(request, c, s), **data})


@router.get("/api/review")
def api_review_queue(c: SignedIn, s: ReadSession):
    return queue_data(s, c.actor, c.run, c.spec)


@router.post("/review/bulk")
async def review_bulk(request: Request, form: CheckedForm, c: Acting):
    picks = form.getlist("pick")
    actor = c.actor
    if not actor.can_coordinate:
        raise Forbidden("只有规划科（协调人）审核报送材料")
    if not picks:
        raise PageError(400, "请先勾选要通过的材料")
    n, refused = 0, []
    for p in picks[:200]:
        key, _, ms = str(p).partition(":")
        try:
            await aact(request, "review_deliverable", "ReviewRequest", item=key, milestone=ms, decision="accept",
                       by=actor.dept, actor=actor)
            n += 1
        except PlancycleError as exc:
            refused.append(f"{key} {ms}：{exc}")
    msg = f"已通过 {n} 项" + (f"；{len(refused)} 项未通过：" + "；".join(refused[:3]) if refused else "")
    return await adone(request, "/review", msg)
