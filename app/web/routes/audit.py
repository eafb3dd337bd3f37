"""The audit trail (``/audit``), the planning office's and the leaders': who did what, when and why, searchable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from stages.rules.identity import Forbidden

from .. import words
from ..deps import ReadSession, SignedIn
from ..pages import common, page

router = APIRouter()


def audit_data(s, actor, run, q: str, who: str, action: str, limit: int):
    from stages.store.models import AuditEvent

    if not actor.reads_all:
        raise Forbidden("审计记录仅限规划科和领导查看")
    stmt = select(AuditEvent).where(AuditEvent.run_id == run.id)
    if q:
        stmt = stmt.where(AuditEvent.target.contains(q) | AuditEvent.why.contains(q))
    if who:
        stmt = stmt.where(AuditEvent.actor.contains(who) | (AuditEvent.actor_user == who))
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action))
    rows = s.exec(stmt.order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 1000)))).all()
    return {"events": [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "user": e.actor_user,
                        "action": e.action, "target": e.target, "why": e.why} for e in rows]}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, c: SignedIn, s: ReadSession, q: str = "", who: str = "", action: str = "",
               limit: int = 200):
    return page(request, "audit.html", {**common(request, c, s), "labels": words.labels_for(s, c.run, c.spec),
                                        **audit_data(s, c.actor, c.run, q, who, action, limit),
                                        "f": {"q": q, "who": who, "action": action}})


@router.get("/api/audit")
def api_audit(c: SignedIn, s: ReadSession, q: str = "", who: str = "", action: str = "", limit: int = 200):
    return audit_data(s, c.actor, c.run, q, who, action, limit)
